"""qiflow_heartbeat with the real collectd against a fake central backend
(tests/integration/fake_backend.py, which answers as the real one does):
heartbeats every interval with schema-valid bodies, the daily log, outages
and restarts without loss or reordering, which answers are retried and
which are not, a hung backend, the spool bound, and the one-shot check."""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import qfstack
from fake_backend import FakeBackend

SWARM = "swarm-test-1"
KEY = "test-key-1"


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    # collectd inherits the test's environment; QIFLOW_API_KEY would count
    # as the key of every backend without one.
    monkeypatch.delenv("QIFLOW_API_KEY", raising=False)


@pytest.fixture
def fakes():
    """make(**FakeBackend kwargs) -> a started fake; all stopped at the end."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("api_keys", [KEY])
        kwargs.setdefault("swarms", [SWARM])
        fake = FakeBackend(**kwargs).start()
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.stop()


def backend_block(name, url, key=KEY, **options):
    """One <Backend> block with this file's key unless given (qfstack's
    backend_block); options become "Key value" lines."""
    return qfstack.backend_block(name, url, key, **options)


def heartbeat_conf(root, blocks, interval=1, swarm=SWARM, extra="",
                   state_dir=None):
    """LoadPlugin + <Plugin qiflow_heartbeat> as this file's swarm unless
    given (qfstack's heartbeat_conf), StateDir (default root/state) and
    LogDir root/log."""
    return qfstack.heartbeat_conf(root, blocks, swarm, interval=interval,
                                  extra=extra, state_dir=state_dir)


# Delivery settings that keep the tests quick: no pacing unless a test
# wants it, short retry delays.
FAST = {"Timeout": 2, "Retries": 3, "RetryDelay": 0.3, "RequestLimit": 0,
        "RejectedRetryDelay": 30}


def fast(**override):
    opts = dict(FAST)
    opts.update(override)
    return opts


def log_bodies(root):
    """Every heartbeat in LogDir, in file order (files sorted by date)."""
    bodies = []
    for path in sorted((root / "log").glob("heartbeat_*.json")):
        for line in path.read_text().splitlines():
            bodies.append(json.loads(line))
    return bodies


def log_ids(root):
    return [b["heartbeat_id"] for b in log_bodies(root)]


def snapshot(root):
    return qfstack.read_json(root / "state" / "heartbeat.json")


def backend_state(root, name="central"):
    snap = snapshot(root)
    if snap is None:
        return None
    return next((b for b in snap["backends"] if b["name"] == name), None)


def start(root, conf):
    return qfstack.Collectd(root / "collectd", conf, interval=1.0).start()


def start_central(root, fake, **options):
    """collectd with one backend "central" on fake, FAST but for options."""
    return start(root, heartbeat_conf(root, [backend_block(
        "central", fake.url, **fast(**options))]))


def wait_drained(root, timeout, message, name="central"):
    """Wait until the backend's spool is empty."""
    qfstack.wait_until(
        lambda: (backend_state(root, name) or {}).get("spool_depth") == 0,
        timeout, message=message)


def spooled_ids(root, name="central"):
    """Ids still pending in a backend's spool file (above its .done id)."""
    spool = root / "state" / "heartbeat_spool" / f"{name}.spool"
    done_path = spool.with_suffix(".done")
    done = int(done_path.read_text()) if done_path.exists() else 0
    ids = []
    data = spool.read_bytes() if spool.exists() else b""
    while data:
        header, _, rest = data.partition(b"\n")
        _, hid, length, _ = header.split()
        if int(hid) > done:
            ids.append(int(hid))
        data = rest[int(length) + 1:]
    return ids


def assert_exactly_once_in_order(delivered, logged, spooled=()):
    """Every logged heartbeat arrived once, in the order it was made; those
    still spooled (a stop can abandon a request in flight) come last and
    go out at the next start. The one request a stop abandons may already
    have reached the backend: delivered, and still spooled."""
    assert len(delivered) == len(set(delivered)), \
        f"duplicates delivered: {delivered}"
    assert delivered == sorted(delivered), f"out of order: {delivered}"
    both = [i for i in spooled if i in delivered]
    assert both == delivered[len(delivered) - len(both):] and len(both) <= 1, \
        f"delivered {delivered}, yet still spooled {list(spooled)}"
    rest = [i for i in spooled if i not in delivered]
    assert delivered + rest == logged, \
        f"delivered {delivered}\n  spooled {list(spooled)}\n   logged {logged}"
    assert len(spooled) <= 2, f"left behind: {spooled}"


# ---------------------------------------------------------------- basics


def test_heartbeat_every_interval_valid_bodies_and_headers(tmp_path, fakes):
    plain, gz = fakes(), fakes()
    conf = heartbeat_conf(tmp_path, [
        backend_block("central", plain.url, **fast()),
        backend_block("zipped", gz.url, Compress=True, **fast())])
    collectd = start(tmp_path, conf)
    try:
        plain.wait_for(lambda f: len(f.delivered()) >= 4, 20)
        gz.wait_for(lambda f: len(f.delivered()) >= 4, 20)
        recs = plain.requests()
        stamps = [r.time for r in recs]
        values = collectd.listval()
    finally:
        assert collectd.stop() == 0
    bodies = plain.delivered()
    assert len(bodies) >= 4, plain.statuses()
    for body in bodies:
        qfstack.validate(body, "heartbeat-body")
        assert body["swarm_id"] == SWARM
        assert body["status"] in ("online", "degraded", "offline")
    # Every interval, not in bursts: about a second apart.
    gaps = [b - a for a, b in zip(stamps, stamps[1:4])]
    assert all(0.5 < g < 2.0 for g in gaps), gaps
    # Once collectd's values arrived the health numbers are there, typed.
    with_health = [b for b in bodies if "health_status" in b]
    assert with_health, bodies[-1]
    for value in with_health[-1]["health_status"].values():
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
    # The stop says so: its heartbeat is the last one logged (and the last
    # delivered, unless the stop caught a request in flight).
    logged = log_bodies(tmp_path)
    assert logged[-1]["status"] == "offline"
    # The ones before it follow the one rule (qf_status_decide) on their
    # own figures: degraded above 90 % cpu or memory, else online.
    for b in logged[-3:-1]:
        h = b["health_status"]
        assert b["status"] == qfstack.backend_status(
            h["cpu_percent"], h["memory_percent"]), b
    ids = [b["heartbeat_id"] for b in bodies]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    # What the backend checks: JSON, bearer key, our User-Agent.
    headers = recs[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["user-agent"].startswith("qiflow-heartbeat/")
    zipped = gz.requests()[0]
    assert zipped.headers.get("content-encoding") == "gzip"
    assert zipped.raw[:2] == b"\x1f\x8b" and zipped.status == 200
    # Both backends got the same heartbeats, each with its own state.
    assert [b["heartbeat_id"] for b in gz.delivered()] == ids
    assert_exactly_once_in_order(ids, log_ids(tmp_path),
                                 spooled_ids(tmp_path))
    snap = qfstack.validate(snapshot(tmp_path), "heartbeat-snapshot")
    assert snap["running"] is False and snap["interval"] == 1
    assert {b["name"] for b in snap["backends"]} == {"central", "zipped"}
    central = backend_state(tmp_path)
    assert central["sent"] == len(ids) and central["spool_depth"] == 0
    assert central["last_status"] == 200 and central["last_error"] is None
    assert central["url"] == plain.url
    # Our own values go through collectd like any others.
    host = "qiflow-test"
    for ident in ("derive-sent", "derive-failed", "derive-retried",
                  "derive-dropped", "queue_length-spool",
                  "latency-delivery"):
        assert f"{host}/qiflow_heartbeat-central/{ident}" in values, ident


def project_doc(total, flagged_ids, updated="2026-11-27T10:00:00Z"):
    """A project.json as qiflow_github writes it: issues total..1, those
    in flagged_ids flagged (critical when the id is even)."""
    issues = []
    for n in range(total, 0, -1):
        flag = n in flagged_ids
        issues.append({
            "id": n, "title": f"Issue {n}", "state": "open",
            "state_reason": None, "status": "blocked" if flag else "ready",
            "labels": ["human"] if flag else [], "assignees": [],
            "github_url": f"https://github.com/o/r/issues/{n}",
            "created_at": "2026-11-01T09:00:00Z", "updated_at": None,
            "closed_at": None, "flagged": flag,
            "priority": ("critical" if n % 2 == 0 else "review")
            if flag else None,
            "trigger": "human_label" if flag else None,
            "reason": f"needs a human on #{n}" if flag else None,
            "blocked_duration_hours": None,
            "triggers": ["human_label"] if flag else [],
            "pull_requests": []})
    return {"schema_version": 1, "updated_at": updated, "repository": "o/r",
            "last_sync": updated,
            "github": {"open_issues": total, "open_pull_requests": 2,
                       "recent_commits": 5, "recent_commits_days": 7},
            "completion": {"completion_percentage": 0, "total_issues": total,
                           "completed_issues": 0, "in_progress_issues": 0,
                           "ready_issues": total - len(flagged_ids),
                           "blocked_issues": len(flagged_ids),
                           "flagged_issues": len(flagged_ids)},
            "velocity": {"daily": [0] * 7, "per_day": 0.0,
                         "trend": "stable", "slope": 0.0},
            "estimated_completion_date": None, "issues": issues}


def write_snapshot(path, text):
    """Atomic write (temp + rename), as the plugins' qf_snapshot_write."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def test_project_json_flagged_issues_follow_the_file(tmp_path, fakes):
    """The heartbeat's project section comes from StateDir/project.json as
    qiflow_github leaves it: the figures, the first 20 flagged issues in
    file order and how many are flagged in all; a broken file keeps the
    last good figures (warned once), a new one replaces them, a removed
    one empties the section."""
    fake = fakes()
    state = tmp_path / "state"
    state.mkdir()
    path = state / "project.json"
    flagged = set(range(3, 120, 4))  # 30 flagged issues of 120
    write_snapshot(path, json.dumps(project_doc(120, flagged)))
    collectd = start_central(tmp_path, fake)

    def latest(pred, message):
        fake.wait_for(lambda f: f.delivered() and pred(f.delivered()[-1]),
                      20)
        body = fake.delivered()[-1]
        assert pred(body), message
        return qfstack.validate(body, "heartbeat-body")

    try:
        body = latest(lambda b: b["project"].get("flagged_issues") == 30,
                      "30 flagged issues counted")
        project = body["project"]
        listed = [i["id"] for i in
                  project["issues_requiring_human_intervention"]]
        assert listed == sorted(flagged, reverse=True)[:3]
        assert project["total_issues"] == 120
        assert project["blocked_issues"] == 30
        assert body["github"]["repository"] == "o/r"
        assert body["github"]["open_pull_requests"] == 2
        first = project["issues_requiring_human_intervention"][0]
        assert first == {"id": 119, "title": "Issue 119",
                         "priority": "review",
                         "reason": "needs a human on #119"}
        # Broken: the last good figures stay, and it is said once.
        write_snapshot(path, '{"schema_version": 1, "issues": [{"id": 1},')
        seen = len(fake.delivered())
        fake.wait_for(lambda f: len(f.delivered()) >= seen + 3, 20)
        for b in fake.delivered()[seen:]:
            assert b["project"]["flagged_issues"] == 30
        # A new file replaces the figures.
        write_snapshot(path, json.dumps(project_doc(10, {2, 4, 9})))
        body = latest(lambda b: b["project"].get("flagged_issues") == 3,
                      "the new project.json read")
        assert [i["id"] for i in
                body["project"]["issues_requiring_human_intervention"]] \
            == [9, 4, 2]
        # Removed: no project figures any more.
        path.unlink()
        latest(lambda b: "flagged_issues" not in b["project"],
               "the project section emptied")
    finally:
        assert collectd.stop() == 0
    log = collectd.log_path.read_text()
    assert log.count("project.json") == 1, log


def test_log_one_line_per_heartbeat_named_by_local_date(tmp_path, fakes):
    fake = fakes()
    logdir = tmp_path / "log"
    logdir.mkdir()
    today = time.strftime("%Y%m%d")
    yesterday = time.strftime("%Y%m%d", time.localtime(time.time() - 86400))
    for name in ("heartbeat_20200101.json", f"heartbeat_{yesterday}.json",
                 "heartbeat_notes.json"):
        (logdir / name).write_text("{}\n")
    conf = heartbeat_conf(tmp_path, [backend_block("central", fake.url,
                                                   **fast())],
                          extra="  LogRetentionDays 14")
    collectd = start(tmp_path, conf)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 3, 20)
    finally:
        collectd.stop()
    # Pruned by date at start: the 2020 file went, yesterday's and a file
    # not named like ours stayed.
    names = sorted(p.name for p in logdir.iterdir())
    assert names == sorted([f"heartbeat_{today}.json",
                            f"heartbeat_{yesterday}.json",
                            "heartbeat_notes.json"]), names
    lines = (logdir / f"heartbeat_{today}.json").read_text().splitlines()
    bodies = [json.loads(line) for line in lines]
    for body in bodies:
        qfstack.validate(body, "heartbeat-body")
    # Every logged heartbeat was delivered, except those a stop abandoned
    # in flight (still spooled, they go out at the next start): under load
    # the stopping heartbeat is often one of them.
    assert_exactly_once_in_order(fake.delivered_ids(),
                                 [b["heartbeat_id"] for b in bodies],
                                 spooled_ids(tmp_path))
    assert "removed 1 heartbeat log file older than 14 days" \
        in collectd.log()


def _as_nobody(*argv):
    """Run argv as user nobody (no groups); its exit status."""
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                           "--clear-groups", *argv],
                          capture_output=True, timeout=10).returncode


def test_fresh_state_dir_readable_whoever_loads_first(tmp_path, fakes):
    """qiflow_heartbeat loaded first (before qiflow_agents) into a state dir
    that does not exist yet, under a umask of 077: the state dir gets its
    documented 0755, only the spool is private, and another user can read
    the snapshots but not the spool."""
    fake = fakes()
    base = Path(tempfile.mkdtemp(prefix="qf-statedir-"))
    os.chmod(base, 0o755)
    state = base / "new" / "state"
    conf = heartbeat_conf(tmp_path, [backend_block("central", fake.url,
                                                   **fast())],
                          state_dir=state) + f"""
LoadPlugin qiflow_agents
<Plugin qiflow_agents>
  AgentDir "{tmp_path / 'agents'}"
  StateDir "{state}"
</Plugin>
"""
    old = os.umask(0o077)
    try:
        collectd = start(tmp_path, conf)
    finally:
        os.umask(old)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 1, 20)
        qfstack.wait_until(lambda: (state / "agents.json").exists() and
                           (state / "heartbeat.json").exists(), 20,
                           message="both snapshots written")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in
                 (base / "new", state, state / "heartbeat_spool",
                  state / "heartbeat.json", state / "agents.json")}
        assert modes == {"new": 0o755, "state": 0o755,
                         "heartbeat_spool": 0o700, "heartbeat.json": 0o644,
                         "agents.json": 0o644}, modes
        for name in ("heartbeat.json", "agents.json"):
            assert _as_nobody("cat", str(state / name)) == 0, name
        assert _as_nobody("ls", str(state / "heartbeat_spool")) != 0
    finally:
        assert collectd.stop() == 0
        shutil.rmtree(base)


# ---------------------------------------------------------------- outages


def test_outage_then_recovery_every_heartbeat_once_in_order(tmp_path, fakes):
    fake = fakes()
    collectd = start_central(tmp_path, fake)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 2, 20)
        fake.refuse()
        qfstack.wait_until(
            lambda: (backend_state(tmp_path) or {}).get("spool_depth", 0)
            >= 5, 20, message="five heartbeats spooled during the outage")
        assert "unreachable" in collectd.log()
        fake.resume()
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["spool_depth"] == 0 and
            backend_state(tmp_path)["sent"] >= 8, 30,
            message="the backlog delivered")
    finally:
        assert collectd.stop() == 0
    delivered = fake.delivered_ids()
    assert_exactly_once_in_order(delivered, log_ids(tmp_path),
                                 spooled_ids(tmp_path))
    assert "delivering again after" in collectd.log()
    state = backend_state(tmp_path)
    assert state["failed"] >= 3 and state["retried"] >= 2


def test_restart_mid_outage_loses_nothing(tmp_path, fakes):
    fake = fakes()
    conf = heartbeat_conf(tmp_path, [backend_block("central", fake.url,
                                                   **fast())])
    collectd = start(tmp_path, conf)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 2, 20)
        fake.refuse()
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["spool_depth"] >= 3, 20,
            message="heartbeats spooled before the restart")
    finally:
        assert collectd.stop() == 0
    spooled = backend_state(tmp_path)["spool_depth"]
    collectd = start(tmp_path, conf)
    try:
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["spool_depth"] >= spooled + 2, 20,
            message="more heartbeats spooled after the restart")
        assert f"{spooled} heartbeats from before the restart are spooled" \
            in collectd.log()
        fake.resume()
        wait_drained(tmp_path, 30, "the backlog of both runs delivered")
    finally:
        assert collectd.stop() == 0
    delivered = fake.delivered_ids()
    assert_exactly_once_in_order(delivered, log_ids(tmp_path),
                                 spooled_ids(tmp_path))
    # The first run's stopping heartbeat went out too, in its place.
    statuses = [b["status"] for b in log_bodies(tmp_path)]
    assert statuses.count("offline") == 2 and statuses[-1] == "offline"
    assert "offline" in [b["status"] for b in fake.delivered()]


def test_kill_mid_outage_then_restart_loses_nothing(tmp_path, fakes):
    fake = fakes()
    conf = heartbeat_conf(tmp_path, [backend_block("central", fake.url,
                                                   **fast())])
    collectd = start(tmp_path, conf)
    fake.refuse()
    qfstack.wait_until(
        lambda: (backend_state(tmp_path) or {}).get("spool_depth", 0) >= 3,
        20, message="heartbeats spooled")
    collectd.kill()  # no shutdown callbacks: only what is on disk counts
    fake.resume()
    collectd = start(tmp_path, conf)
    try:
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["sent"] >= 5 and
            backend_state(tmp_path)["spool_depth"] == 0, 30,
            message="the spool of the killed run delivered")
    finally:
        collectd.stop()
    assert_exactly_once_in_order(fake.delivered_ids(), log_ids(tmp_path),
                                 spooled_ids(tmp_path))


# ---------------------------------------------------------------- answers


def test_refusals_are_not_retried_and_explained(tmp_path, fakes):
    fake = fakes()
    unknown = fakes(swarms=())  # does not know our swarm
    wrong_path = fake.base_url() + "/api/v1/heartbeat"  # the documented one
    conf = heartbeat_conf(tmp_path, [
        backend_block("nokey", fake.url, key=None, **fast()),
        backend_block("unregistered", unknown.url, **fast()),
        backend_block("wrongpath", wrong_path, **fast())])
    collectd = start(tmp_path, conf)
    try:
        qfstack.wait_until(
            lambda: all((backend_state(tmp_path, n) or {}).get("spool_depth",
                                                               0) >= 4
                        for n in ("nokey", "unregistered", "wrongpath")),
            20, message="four heartbeats waiting on each backend")
        log = collectd.log()
    finally:
        collectd.stop()
    # One attempt each: a refusal waits RejectedRetryDelay (30 s here)...
    assert fake.statuses() == [401]
    assert [r.status for r in fake.requests(path="/api/v1/heartbeat")] == \
        [404]
    # The unregistered swarm: 404s once per Interval, never faster.
    assert set(unknown.statuses()) == {404}
    times = [r.time for r in unknown.requests()]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), times
    # Each says what it means, with the backend's own words.
    assert 'no APIKey, APIKeyFile or QIFLOW_API_KEY' in log
    assert 'backend nokey refused the API key (401 "Missing authorization ' \
        'header")' in log
    assert f'backend unregistered does not know swarm "{SWARM}" (404 ' \
        '"Swarm not found. Please register the swarm first.")' in log
    assert "register it with this swarm_id" in log
    assert 'backend wrongpath answered 404 "Not found"' in log
    assert "serves heartbeats at POST /api/v1/swarms/heartbeat (its " \
        "documentation's /api/v1/heartbeat answers 404); set URL to " \
        "https://HOST/api/v1/swarms/heartbeat" in log
    # The config check warned about that URL before the first request.
    assert "which the QiFlow backend documents but answers with 404" in log
    for name in ("nokey", "wrongpath"):
        state = backend_state(tmp_path, name)
        assert state["sent"] == 0 and state["failed"] == 1
        assert state["retried"] == 0 and state["last_error"]
    # An unregistered swarm is looked at again once per Interval (1 s here),
    # not after RejectedRetryDelay, and its refusal is logged once.
    state = backend_state(tmp_path, "unregistered")
    assert state["sent"] == 0 and state["failed"] >= 1
    assert log.count(f'does not know swarm "{SWARM}"') == 1


def test_registering_later_loses_nothing(tmp_path, fakes):
    fake = fakes(swarms=())
    collectd = start_central(tmp_path, fake, RejectedRetryDelay=3)
    try:
        qfstack.wait_until(lambda: fake.statuses()[:1] == [404], 15,
                           message="the first 404")
        fake.register(SWARM)
        registered = time.monotonic()
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["sent"] >= 4 and
            backend_state(tmp_path)["spool_depth"] == 0, 20,
            message="the spooled heartbeats delivered after registration")
    finally:
        collectd.stop()
    statuses = fake.statuses()
    # Looked at again once per Interval (1 s), not RejectedRetryDelay (3 s):
    # registration noticed within about one interval, no storm meanwhile.
    first_ok = next(r.time for r in fake.requests() if r.status == 200)
    assert first_ok - registered < 1.0 + 0.5, first_ok - registered
    assert 1 <= statuses.count(404) <= 2, statuses
    assert_exactly_once_in_order(fake.delivered_ids(), log_ids(tmp_path),
                                 spooled_ids(tmp_path))


def rejected_lines(root, name="central"):
    """The JSON lines of spool/rejected/<name>.jsonl (set-aside records)."""
    path = root / "state" / "heartbeat_spool" / "rejected" / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_changed_swarm_id_sets_old_records_aside(tmp_path, fakes):
    """Heartbeats spooled under an old SwarmID the backend does not know are
    set aside after the change (kept on disk with the backend's answer,
    counted, logged once each with their own id) and never hold back the
    new swarm's heartbeats. While the old id is current, its refusal is
    retried once per Interval (so a registration would be noticed)."""
    fake = fakes()  # knows SWARM only
    old = "swarm-old-0"
    conf = heartbeat_conf(tmp_path, [backend_block("central", fake.url,
                                                   **fast())], swarm=old)
    collectd = start(tmp_path, conf)
    try:
        qfstack.wait_until(lambda: fake.statuses()[:1] == [404], 15,
                           message="the old swarm refused")
        t0 = time.monotonic()
        # Its own swarm unknown: held, asked again once per Interval (1 s).
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["spool_depth"] >= 3, 15,
            message="the old swarm's heartbeats held in the spool")
        refusals = fake.statuses()
        assert set(refusals) == {404}
        assert len(refusals) <= time.monotonic() - t0 + 2, refusals
    finally:
        assert collectd.stop() == 0
    held = spooled_ids(tmp_path)
    assert len(held) >= 3
    collectd = start(tmp_path, heartbeat_conf(
        tmp_path, [backend_block("central", fake.url, **fast())]))
    try:
        qfstack.wait_until(
            lambda: len(fake.delivered()) >= 3 and
            backend_state(tmp_path)["spool_depth"] == 0, 20,
            message="the new swarm's heartbeats delivered past the old ones")
        log = collectd.log()
        state = backend_state(tmp_path)
    finally:
        assert collectd.stop() == 0
    aside = rejected_lines(tmp_path)
    assert [r["heartbeat_id"] for r in aside] == held
    for r in aside:
        assert r["http_status"] == 404
        assert r["answer"] == \
            "Swarm not found. Please register the swarm first."
        assert r["body"]["swarm_id"] == old
        assert r["body"]["heartbeat_id"] == r["heartbeat_id"]
        qfstack.validate(r["body"], "heartbeat-body")
        # Logged once, naming the record's id and swarm, not the new one.
        line = (f'backend central refused heartbeat {r["heartbeat_id"]} of '
                f'swarm "{old}" (404 "Swarm not found. Please register the '
                f'swarm first.")')
        assert log.count(line) == 1, log
    assert state["set_aside"] == len(held)
    assert state["spool_depth"] == 0
    # The first run asked only with the oldest (once per Interval); after
    # the change each old record was tried once, and the new ones went
    # straight after.
    reqs = fake.requests()
    old_ids = [r.body["heartbeat_id"] for r in reqs
               if r.body and r.body.get("swarm_id") == old]
    first_run = len(old_ids) - len(held)
    assert first_run >= 1 and old_ids == [held[0]] * first_run + held, \
        old_ids
    delivered = fake.delivered()
    assert all(b["swarm_id"] == SWARM for b in delivered)
    assert fake.delivered_ids() == sorted(fake.delivered_ids())
    assert all(i > max(held) for i in fake.delivered_ids())
    mode = (tmp_path / "state" / "heartbeat_spool" / "rejected" /
            "central.jsonl").stat().st_mode & 0o777
    assert mode == 0o600


def test_400_sets_one_record_aside_the_rest_go(tmp_path, fakes):
    fake = fakes()
    collectd = start_central(tmp_path, fake)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 1, 20)
        fake.force(400, count=1, body={
            "success": False, "error": "health_status must contain numeric "
            "cpu_percent, memory_percent and disk_percent"})
        fake.wait_for(lambda f: 400 in f.statuses() and
                      f.statuses()[-1] == 200, 20)
        log = collectd.log()
        state = backend_state(tmp_path)
    finally:
        collectd.stop()
    recs = fake.requests()
    i = fake.statuses().index(400)
    refused = recs[i].body["heartbeat_id"]
    # Not tried again (RejectedRetryDelay is 30 s): the next one went.
    assert recs[i + 1].body["heartbeat_id"] > refused
    assert recs[i + 1].time - recs[i].time < 5
    assert refused not in fake.delivered_ids()
    assert [r["heartbeat_id"] for r in rejected_lines(tmp_path)] == [refused]
    assert rejected_lines(tmp_path)[0]["http_status"] == 400
    assert state["set_aside"] == 1
    assert f"refused heartbeat {refused} of swarm \"{SWARM}\" (400 " \
        "\"health_status must contain numeric" in log
    assert "the backend refuses this body itself; set aside in " in log


def test_500_and_429_are_retried_without_loss(tmp_path, fakes):
    fake = fakes()
    collectd = start_central(tmp_path, fake)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 1, 20)
        fake.force(500, count=2)
        fake.wait_for(lambda f: f.statuses().count(500) == 2 and
                      f.statuses()[-1] == 200, 20)
        fake.force(429, count=1, headers={"Retry-After": "2",
                                          "RateLimit-Policy": "100;w=900"},
                   body="Too many requests from this IP, please try again "
                   "later.")
        fake.wait_for(lambda f: 429 in f.statuses() and
                      f.statuses()[-1] == 200, 20)
        wait_drained(tmp_path, 20, "what waited out the 429 delivered")
        log = collectd.log()
    finally:
        collectd.stop()
    recs = fake.requests()
    # The heartbeat answered 500 twice is the one delivered next, the third
    # attempt RetryDelay later.
    i = next(k for k, r in enumerate(recs) if r.status == 500)
    assert [r.status for r in recs[i:i + 3]] == [500, 500, 200]
    assert len({r.body["heartbeat_id"] for r in recs[i:i + 3]}) == 1
    assert recs[i + 2].time - recs[i + 1].time >= 0.25
    # 429: the same heartbeat again, no sooner than Retry-After.
    j = next(k for k, r in enumerate(recs) if r.status == 429)
    assert recs[j + 1].body["heartbeat_id"] == recs[j].body["heartbeat_id"]
    assert recs[j + 1].time - recs[j].time >= 1.9
    assert 'answered 500 "Internal server error"; attempt 1 of 3' in log
    assert "rate limited; delivery pauses 2 s" in log
    assert_exactly_once_in_order(fake.delivered_ids(), log_ids(tmp_path),
                                 spooled_ids(tmp_path))


def test_hung_backend_does_not_delay_collectd(tmp_path, fakes):
    fake = fakes()
    collectd = start_central(tmp_path, fake, Timeout=2)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 1, 20)
        fake.hang(60)
        ident = "qiflow-test/memory/percent-used"
        stamps = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            stamps.append(collectd.listval().get(ident, 0))
            time.sleep(0.5)
        # Other plugins' values keep arriving every second at the unixsock.
        assert len(set(stamps)) >= 4, stamps
        assert "Timeout was reached" in collectd.log() or \
            "timed out" in collectd.log().lower()
        # A stop with a request in flight is prompt (the request is
        # abandoned; the heartbeats stay spooled).
        began = time.monotonic()
        assert collectd.stop() == 0
        assert time.monotonic() - began < 4
    finally:
        fake.hang(0)
        collectd.stop()
    assert backend_state(tmp_path)["spool_depth"] >= 2


def test_spool_bound_drops_oldest_counted(tmp_path, fakes):
    fake = fakes()
    collectd = start_central(tmp_path, fake, SpoolMaxBytes=4096)
    fake.refuse()
    try:
        qfstack.wait_until(
            lambda: (backend_state(tmp_path) or {}).get("dropped", 0) >= 3,
            30, message="three heartbeats dropped at the bound")
        fake.resume()
        wait_drained(tmp_path, 20, "the rest delivered")
    finally:
        collectd.stop()
    logged = log_ids(tmp_path)
    delivered = fake.delivered_ids()
    dropped = [int(line.split("dropped undelivered heartbeat ")[1].split(",")[0])
               for line in collectd.log_lines("dropped undelivered heartbeat")]
    state = backend_state(tmp_path)
    assert len(dropped) == state["dropped"] >= 3
    # The oldest went first, each counted and logged; the rest in order.
    assert dropped == logged[:len(dropped)], (dropped, logged)
    assert_exactly_once_in_order(delivered,
                                 [i for i in logged if i not in dropped],
                                 spooled_ids(tmp_path))
    # The counter reached collectd too (csv keeps the raw derive value).
    csv = sorted((tmp_path / "collectd" / "csv").glob(
        "*/qiflow_heartbeat-central/derive-dropped-*"))
    assert csv, "no derive-dropped value written"
    last = csv[-1].read_text().strip().splitlines()[-1]
    assert float(last.split(",")[1]) >= 3


# ---------------------------------------------------------------- config


def run_config(tmp_path, conf):
    """collectd -f with conf until it exits (config errors end it)."""
    collectd = qfstack.Collectd(tmp_path / "collectd", conf)
    res = subprocess.run([qfstack.COLLECTD_BIN, "-f", "-C",
                          str(collectd.conf_path)], capture_output=True,
                         text=True, timeout=30, check=False)
    return res.returncode, collectd.log() + res.stdout + res.stderr


@pytest.mark.parametrize("blocks,extra,message", [
    (['  <Backend "a">\n    URL "http://127.0.0.1:1/x"\n    Retrys 3\n'
      '  </Backend>'], "", 'unknown option "Retrys" in <Backend "a">; valid '
     'options: URL, APIKey, APIKeyFile, Timeout, Retries, RetryDelay, '),
    (['  <Backend "a">\n    URL "http://127.0.0.1:1/x"\n    Retries 3.5\n'
      '  </Backend>'], "",
     "Retries must be a whole number from 1 to 100, got 3.5"),
    (['  <Backend "a">\n    URL "http://127.0.0.1:1/x"\n'
      '    RequestLimit 10.5\n  </Backend>'], "",
     "RequestLimit must be a whole number from 0 to 100000, got 10.5"),
    (['  <Backend "a">\n    URL "http://127.0.0.1:1/x"\n'
      '    SpoolMaxBytes 100\n  </Backend>'], "",
     "SpoolMaxBytes must be a whole number from 1024 to 1073741824, got 100"),
    (['  <Backend "a">\n    URL "http://127.0.0.1:1/x"\n'
      '    RetryDelay -0.5\n  </Backend>'], "",
     "RetryDelay must be a number >= 0, got -0.5"),
    (['  <Webhook "w">\n    URL "http://127.0.0.1:1/"\n    Retries 2.5\n'
      '  </Webhook>'], "",
     "Retries must be a whole number from 1 to 100, got 2.5"),
    (['  <Webhook "w">\n    URL "http://127.0.0.1:1/"\n    Formt "json"\n'
      '  </Webhook>'], "", 'unknown option "Formt" in <Webhook "w">; valid '
     "options: URL, Timeout, Retries, RetryDelay, Format, MinSeverity"),
    ([], "  LogRetentionDays 1.5",
     "LogRetentionDays must be a whole number from 0 to 36500, got 1.5"),
    ([], "  Interval 0", "Interval must be a number > 0, got 0"),
    (['  <Backend "a">\n    Timeout 3\n  </Backend>'], "",
     '<Backend "a">: URL is required'),
    (['  <Webhook "w">\n    Format "slack"\n  </Webhook>'], "",
     '<Webhook "w">: URL is required'),
    (['  <Webhook "w">\n    URL "http://127.0.0.1:1/"\n    Format "teams"\n'
      '  </Webhook>'], "", "Format must be json, discord or slack"),
    ([], "  Intervall 60", 'unknown option "Intervall" in <Plugin '
     'qiflow_heartbeat>; valid options: SwarmID, Interval, StateDir, LogDir, '
     'LogRetentionDays, OneShot, Backend, Webhook'),
    (['  <Backend "a">\n    URL "ftp://x/"\n  </Backend>'], "",
     "URL must start with http:// or https://"),
])
def test_config_errors_name_the_key(tmp_path, blocks, extra, message):
    rc, out = run_config(tmp_path, heartbeat_conf(tmp_path, blocks,
                                                  extra=extra))
    assert rc != 0
    assert message in out, out


def test_world_readable_key_file_is_refused(tmp_path):
    key = tmp_path / "api-key"
    key.write_text("CANARY-WORLD-READABLE\n")
    key.chmod(0o644)
    block = f'  <Backend "a">\n    URL "http://127.0.0.1:1/x"\n' \
        f'    APIKeyFile "{key}"\n  </Backend>'
    rc, out = run_config(tmp_path, heartbeat_conf(tmp_path, [block]))
    assert rc != 0
    assert "gives every user access" in out and "chmod o-rwx" in out
    assert "CANARY" not in out


# ---------------------------------------------------------------- one shot

ONCE = qfstack.SOURCE_DIR / "contrib" / "qiflow-heartbeat-once"


def run_once(tmp_path, url, key=KEY):
    conf = tmp_path / "qiflow.conf"
    conf.write_text('Hostname "once-host"\n' + heartbeat_conf(
        tmp_path, [backend_block("central", url, key=key,
                                 **fast(Retries=2))]))
    return subprocess.run([str(ONCE), "-c", str(conf), "-P",
                           str(qfstack.BUILD_DIR / "plugins"), "-t", "60"],
                          capture_output=True, text=True, timeout=90,
                          check=False)


def test_one_shot_check(tmp_path, fakes):
    fake = fakes()
    res = run_once(tmp_path, fake.url)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "one-shot: heartbeat" in res.stdout and "delivered" in res.stdout
    (body,) = fake.delivered()
    qfstack.validate(body, "heartbeat-body")
    assert "health_status" in body  # it waited for collectd's values
    assert body["system"]["hostname"] == "once-host"
    assert log_ids(tmp_path) == [body["heartbeat_id"]]
    # It never touches the daemon's spool or heartbeat.json.
    assert not (tmp_path / "state" / "heartbeat_spool").exists()
    assert snapshot(tmp_path) is None
    # Failures: a wrong key, a dead backend. The log line is still written.
    res = run_once(tmp_path, fake.url, key="wrong-key")
    assert res.returncode == 1
    assert "refused the API key (403" in res.stdout
    fake.refuse()
    res = run_once(tmp_path, fake.url)
    assert res.returncode == 1
    assert "unreachable" in res.stdout and "FAILED" in res.stderr
    ids = log_ids(tmp_path)
    assert len(ids) == 3 and ids == sorted(set(ids))


def test_fake_backend_answers_like_the_real_one(fakes):
    """The fake's rules, checked directly (reference/central-backend.md)."""
    fake = fakes(limit=9, window=60)
    auth = {"Authorization": f"Bearer {KEY}",
            "Content-Type": "application/json"}
    ok = {"swarm_id": SWARM, "status": "online",
          "health_status": {"cpu_percent": 1, "memory_percent": 2,
                            "disk_percent": 3}}

    def post(body, headers=auth, path="/api/v1/swarms/heartbeat"):
        data = body if isinstance(body, bytes) else json.dumps(body)
        return qfstack.http("POST", fake.base_url() + path, headers=headers,
                            body=data)

    cases = [
        (post(ok), 200, "Heartbeat received"),
        (post(ok, path="/api/v1/heartbeat"), 404, "Not found"),
        (post(ok, headers={"Content-Type": "application/json"}), 401,
         "Missing authorization header"),
        (post(ok, headers={"Authorization": "Bearer nope",
                           "Content-Type": "application/json"}), 403,
         "Invalid API key"),
        (post({"status": "online"}), 400, "Missing required field"),
        (post(dict(ok, health_status={"cpu_percent": "1",
                                      "memory_percent": 2,
                                      "disk_percent": 3})), 400,
         "health_status"),
        (post(dict(ok, swarm_id="other")), 404, "Please register the swarm"),
        (post(dict(ok, status="busy")), 500, "Failed to process heartbeat"),
    ]
    for resp, status, text in cases:
        assert resp.status == status, (resp, status)
        assert text in resp.json().get("error", resp.json().get("message"))
    import gzip  # pylint: disable=import-outside-toplevel
    resp = post(gzip.compress(json.dumps(ok).encode()),
                headers=dict(auth, **{"Content-Encoding": "gzip"}))
    assert resp.status == 200
    # Request 10 of the window: 429 with the policy and a Retry-After.
    resp = post(ok)
    assert resp.status == 429
    assert resp.headers["ratelimit-policy"] == "9;w=60"
    assert 0 < int(resp.headers["retry-after"]) <= 60
