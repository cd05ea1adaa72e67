"""Fault tests (issue 7) with the real collectd, plugins and exporter.

- StateDir out of space or read-only under qiflow_agents: the failure is
  logged clearly (and not every interval), the previous agents.json stays
  whole (atomic replace, no temporary file left behind), collectd keeps
  reading, the exporter keeps serving the last snapshot, and the next read
  after the fault ends writes the current one. The small filesystem is a
  tmpfs of a few pages (mount needs root, as CI runs).
- the central backend flapping (up, refusing connections, 500, 503 with
  Retry-After) for QF_FLAP_SECONDS (40) while qiflow_heartbeat sends every
  second: once stable, every heartbeat made was delivered exactly once and
  in order, each body valid.
- collectd SIGKILLed and restarted, three times, while client threads keep
  requesting every endpoint: each answer is a documented one (200 with a
  valid body; 503 from /health only, while collectd is away), the exporter
  is fresh again within one refresh of collectd answering, and its memory
  does not grow.

Every loop is bounded in count and time; servers listen on 127.0.0.1.
"""

import errno
import json
import math
import os
import random
import subprocess
import threading
import time

import pytest

import qfstack
from fake_backend import FakeBackend
from qfstack import heartbeat_plugin_conf, validate, wait_until

WAIT = 15.0
REFRESH_S = 0.2  # qfstack.Exporter's default --refresh 200


# ---------------------------------------------------------------- StateDir

@pytest.fixture
def small_fs():
    """mount(path, kib) puts a tmpfs of that size on path; unmounted at
    teardown. Skips where mounting is not allowed (not root)."""
    mounts = []

    def mount(path, kib):
        path.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o",
                              f"size={kib}k,mode=0755", "qiflow-fault",
                              str(path)], capture_output=True, text=True,
                             check=False)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
        mounts.append(path)
        return path

    yield mount
    for path in reversed(mounts):
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(directory):
    """Write filler into directory until the filesystem is full; returns
    the filler's path. Bounded: a few MiB at most."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with open(filler, "wb", buffering=0) as out:
        for _ in range(1024):
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return filler
    raise AssertionError(f"{directory} never filled up")


def _remount(path, mode):
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


FAULTS = {
    # name: (start the fault, end it, what the log must say)
    "full": (lambda state: _fill(state),
             lambda state, token: token.unlink(),
             "No space left on device"),
    "read-only": (lambda state: _remount(state, "ro"),
                  lambda state, token: _remount(state, "rw"),
                  "Read-only file system"),
}


def _agent_names(doc):
    return [a["name"] for a in doc["agents"]]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_state_dir_fault_keeps_snapshot_and_recovers(stack_factory, small_fs,
                                                     fault):
    start_fault, end_fault, why = FAULTS[fault]
    stack = stack_factory(start=False)
    state = small_fs(stack.state_dir, 64)
    stack.start()
    stack.write_agent("Agent-1")
    wait_until(lambda: (doc := stack.snapshot()) and
               _agent_names(doc) == ["Agent-1"], WAIT, 0.1,
               "agents.json with Agent-1")
    before = (state / "agents.json").read_bytes()

    ident = f"{stack.collectd.hostname}/qiflow_agents/count-total"
    t_fault = stack.collectd.listval()[ident]
    token = start_fault(state)
    stack.write_agent("Agent-2")
    failed = f"writing {state}/agents.json failed: "
    line = wait_until(lambda: stack.collectd.log_lines(failed), WAIT, 0.1,
                      "the failed write logged")[0]
    assert why in line, line
    # collectd keeps reading: the values already count the new agent.
    wait_until(lambda: stack.collectd.getval(
        "qiflow_agents/count-total")["value"] == 2, WAIT, 0.1,
        "count-total 2 while the snapshot cannot be written")
    # Three more reads that cannot write: the old snapshot is untouched.
    t0 = stack.collectd.listval()[ident]
    wait_until(lambda: stack.collectd.listval()[ident] >=
               t0 + 3 * stack.interval, WAIT, 0.1, "three more reads")
    assert (state / "agents.json").read_bytes() == before
    validate(qfstack.read_json(state / "agents.json"), "agents-snapshot")
    assert sorted(p.name for p in state.iterdir()
                  if p.name.startswith("agents.json")) == ["agents.json"]
    # Not one error per interval: collectd's complaint back-off doubles the
    # gap after each report (1, 2, 4 … intervals), so N failed reads give
    # at most 1 + log2(N + 1) lines, never N.
    failed_reads = (stack.collectd.listval()[ident] - t_fault) / \
        stack.interval
    lines = stack.collectd.log_lines(failed)
    assert len(lines) <= 1 + math.log2(failed_reads + 1), (failed_reads, lines)
    assert len(lines) < failed_reads, (failed_reads, lines)
    status = stack.get("/status", "status", 200).json()
    assert [a["name"] for a in status["data"]["agents"]["agent_list"]] == \
        ["Agent-1"]
    assert stack.collectd.running

    t_end = time.monotonic()
    end_fault(state, token)
    wait_until(lambda: _agent_names(stack.snapshot()) ==
               ["Agent-1", "Agent-2"], WAIT, 0.1, "agents.json current again")
    assert time.monotonic() - t_end <= 2 * stack.interval + 1.0
    wait_until(lambda: stack.collectd.log_lines(
        f"writing {state}/agents.json works again"), WAIT, 0.1,
        "the recovery logged")
    validate(stack.snapshot(), "agents-snapshot")
    wait_until(lambda: [a["name"] for a in stack.get(
        "/status", "status", 200).json()["data"]["agents"]["agent_list"]]
        == ["Agent-1", "Agent-2"], WAIT, 0.1, "the exporter serving it")


# ---------------------------------------------------------------- collectd


class Load:
    """Client threads requesting every endpoint in turn until stopped (or
    max_requests each); every answer is recorded and judged."""

    def __init__(self, url, threads=4, max_requests=5000):
        self.url = url
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.records = []  # (start, end, path, status or error text)
        self.problems = []
        self.threads = [threading.Thread(target=self._run, args=(i,
                                                                 max_requests),
                                         daemon=True)
                        for i in range(threads)]

    def _run(self, index, max_requests):
        for n in range(max_requests):
            if self.stop_event.is_set():
                return
            endpoints = qfstack.ENDPOINTS
            path, schema_name = endpoints[(index + n) % len(endpoints)]
            start = time.monotonic()
            try:
                resp = qfstack.http("GET", self.url + path, timeout=5)
                outcome = resp.status
                self._judge(path, schema_name, resp)
            except (OSError, AssertionError) as exc:
                outcome = f"{type(exc).__name__}: {exc}"
                with self.lock:
                    self.problems.append(f"GET {path}: {outcome}")
            with self.lock:
                self.records.append((start, time.monotonic(), path, outcome))

    def _judge(self, path, schema_name, resp):
        # Documented answers only: 200, and 503 from /health.
        allowed = (200, 503) if path == "/health" else (200,)
        assert resp.status in allowed, f"status {resp.status}: {resp!r}"
        body = resp.json()
        validate(body, "health" if path == "/health" else schema_name)
        if resp.status == 503:
            assert body["status"] == "unhealthy" and \
                body["collectd"]["connected"] is False, body

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in self.threads)


def _health(stack):
    return qfstack.http("GET", stack.exporter.url + "/health", timeout=5)


def test_collectd_killed_under_load(stack):
    stack.write_agent("Agent-1")
    wait_until(lambda: _health(stack).status == 200 and
               stack.get("/status").json()["data"]["resources"][
                   "cpu_percent"] is not None, WAIT, 0.1, "a fresh exporter")
    recoveries, downs = [], []
    with Load(stack.exporter.url) as load:
        time.sleep(2.0)  # warm up: every response rendered and cached
        rss_before = qfstack.rss_kib(stack.exporter.proc.pid)
        for _ in range(3):
            stack.collectd.kill()
            t_down = time.monotonic()
            wait_until(lambda: _health(stack).status == 503, WAIT, 0.02,
                       "/health 503 after SIGKILL")
            downs.append(time.monotonic() - t_down)
            time.sleep(1.0)  # the load meets the stale exporter
            stack.collectd.start()  # returns once its socket answers
            t_up = time.monotonic()
            wait_until(lambda: _health(stack).status == 200 and
                       stack.get("/status").json()["data"]["stale"] is False,
                       WAIT, 0.02, "fresh again after the restart")
            recoveries.append(time.monotonic() - t_up)
            time.sleep(1.0)
        rss_after = qfstack.rss_kib(stack.exporter.proc.pid)
    assert not load.problems, "\n".join(load.problems[:20])
    served = len(load.records)
    assert served >= 200, f"only {served} requests served"
    unhealthy = sum(1 for r in load.records if r[3] == 503)
    assert unhealthy > 0, "the load never saw collectd away"
    print(f"{served} requests, {unhealthy} documented 503s, down seen after "
          f"{[round(d, 2) for d in downs]} s, fresh again after "
          f"{[round(r, 2) for r in recoveries]} s, RSS {rss_before} -> "
          f"{rss_after} KiB")
    # Within one refresh of collectd answering (plus scheduling slack: the
    # exporter's refresh thread and these requests share two cores).
    assert max(recoveries) <= REFRESH_S + 1.0, recoveries
    assert stack.exporter.running
    if not qfstack.qfsanitize.ACTIVE:  # ASan's quarantine grows by design
        assert rss_after - rss_before < 4096, (rss_before, rss_after)


# ---------------------------------------------------------------- backend

FLAP_SECONDS = float(os.environ.get("QF_FLAP_SECONDS", "40"))


def _heartbeat_conf(root, url):
    """qiflow_heartbeat every second to one backend, quick retries, no
    pacing (the fake's rate limit is out of the way too)."""
    return heartbeat_plugin_conf(root, url, "swarm-flap", "flap-key",
                                 Timeout=2, Retries=3, RetryDelay=0.3,
                                 RequestLimit=0)


def _logged_ids(root):
    ids = []
    for path in sorted((root / "log").glob("heartbeat_*.json")):
        ids += [json.loads(line)["heartbeat_id"]
                for line in path.read_text().splitlines()]
    return ids


def _flap(fake, seconds, rng):
    """Alternate the backend between up, refusing connections, answering
    500, and 503 with Retry-After, each for 0.5-2 s, for `seconds`.
    Returns the phases run, in order."""
    phases = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        phase = rng.choice(("up", "refused", "500", "503"))
        if phase == "refused":
            fake.refuse()
        elif phase == "500":
            fake.force(500, count=None)
        elif phase == "503":
            fake.force(503, count=None, headers={"Retry-After": "1"})
        time.sleep(rng.uniform(0.5, 2.0))
        fake.clear_forced()
        fake.resume()
        phases.append(phase)
    return phases


def test_backend_flapping_loses_nothing_and_keeps_order(tmp_path):
    fake = FakeBackend(api_keys=["flap-key"], swarms=["swarm-flap"],
                       limit=100000, lifetime=FLAP_SECONDS + 300).start()
    collectd = qfstack.Collectd(tmp_path / "collectd",
                                _heartbeat_conf(tmp_path, fake.url))
    try:
        collectd.start()
        wait_until(fake.delivered_ids, WAIT, 0.1, "a first delivery")
        phases = _flap(fake, FLAP_SECONDS, random.Random(7))
        # Stable again: the spool drains in order.
        state = tmp_path / "state" / "heartbeat.json"
        wait_until(lambda: (doc := qfstack.read_json(state)) and
                   doc["backends"][0]["spool_depth"] == 0 and
                   doc["backends"][0]["last_error"] is None, 60, 0.2,
                   "the spool drained after the flapping")
        assert collectd.stop() == 0
    finally:
        collectd.stop()
        fake.stop()
    delivered, logged = fake.delivered_ids(), _logged_ids(tmp_path)
    statuses = fake.statuses()
    print(f"{len(phases)} phases {phases}; {len(logged)} heartbeats, "
          f"{len(statuses)} requests: {statuses.count(500)} x 500, "
          f"{statuses.count(503)} x 503")
    assert {"refused", "500", "503"} <= set(phases), phases
    assert statuses.count(500) > 0 and statuses.count(503) > 0
    assert len(logged) >= FLAP_SECONDS / 2
    assert len(delivered) == len(set(delivered)), f"duplicates: {delivered}"
    assert delivered == sorted(delivered), f"out of order: {delivered}"
    # Everything made was delivered, but for what the stop may have left
    # in the spool (the next start sends it first).
    assert delivered == logged[:len(delivered)], (delivered, logged)
    assert len(logged) - len(delivered) <= 2, (delivered, logged)
    for body in fake.delivered():
        validate(body, "heartbeat-body")
