"""Issue 13, one truth for the central backend: with the real collectd
(qiflow_heartbeat) and exporter, and the fake backend with its poller on
(reading the exporter's /status as the real one does), the stored status
never flips between the two doors; collectd stopped is offline within one
poll; a restart leaves the current state stored within one interval; a
registration is noticed within one interval."""

import time

import pytest

import qfstack
from test_heartbeat import (SWARM, KEY, backend_block, fast, heartbeat_conf,
                            start)
from fake_backend import FakeBackend

POLL = 1.0      # the poller's interval (30 s in the real backend)
INTERVAL = 1    # the heartbeat's Interval
ROUNDS = 6      # poll and heartbeat rounds watched per state


@pytest.fixture
def fake():
    backend = FakeBackend(api_keys=[KEY], swarms=[], poll_interval=POLL,
                          offline_after=5).start()
    yield backend
    backend.stop()


def conf(root, fake, **options):
    return heartbeat_conf(root, [backend_block(
        "central", fake.url, **fast(**options))], interval=INTERVAL)


def busy(health):
    """The rule's reading of stored figures: cpu or memory above 90."""
    return any(isinstance(health.get(k), (int, float)) and health[k] > 90
               for k in ("cpu_percent", "memory_percent"))


def doors_agree(fake, since, until):
    """The writes of both doors between since and until. Asserts both
    spoke, neither said offline while running, and every write's status is
    the one rule applied to the figures it stored: so whichever door spoke
    last, the same figures give the same status (on this busy 2-core
    machine the figures themselves may cross 90 between rounds)."""
    writes = [(t, s, d, h) for t, swarm, s, d, h in fake.history(SWARM)
              if since <= t <= until and d in ("heartbeat", "poller")]
    assert {d for _, _, d, _ in writes} == {"heartbeat", "poller"}, writes
    for t, s, d, h in writes:
        assert s == ("degraded" if busy(h) else "online"), (t, s, d, h)
    return writes[-1][1]


def watch(fake, seconds):
    since = time.monotonic()
    time.sleep(seconds)
    return doors_agree(fake, since, time.monotonic())


def test_running_states_never_flip(tmp_path, fake):
    collectd = start(tmp_path, conf(tmp_path, fake))
    exporter = qfstack.Exporter(collectd.socket, tmp_path / "state").start()
    try:
        fake.register(SWARM, exporter.url)
        # Just started: both doors store offline until the figures are
        # read, then the rule; never the other way round.
        qfstack.wait_until(lambda: fake.rows().get(SWARM, {}).get(
            "status") in ("online", "degraded"), 20,
            message="a running state stored")
        seq = [s for _, _, s, d, _ in fake.history(SWARM)]
        first_up = next(i for i, s in enumerate(seq) if s != "offline")
        time.sleep(2 * POLL)
        # Healthy and running: the rule from both doors.
        healthy = watch(fake, ROUNDS * POLL)
        assert healthy in ("online", "degraded"), healthy
        row = fake.rows()[SWARM]
        for k in ("cpu_percent", "memory_percent", "disk_percent"):
            assert isinstance(row["health_status"][k], (int, float)), row
        # collectd gone (SIGSTOP would freeze it; stop it): the exporter's
        # figures go stale and the poller stores offline within one poll
        # of /status saying so, and it stays offline.
        collectd.stop()
        went = time.monotonic()
        qfstack.wait_until(
            lambda: exporter.get("/status").json()["status"] == "offline",
            30, message="/status offline with collectd gone")
        said = time.monotonic()
        stored = qfstack.wait_until(
            lambda: next((t for t, _, s, d, _ in fake.history(SWARM)
                          if d == "poller" and s == "offline" and t >= said),
                         None),
            POLL + 6, message="the poller stored offline within one poll")
        time.sleep(3 * POLL)
        tail = [h for h in fake.history(SWARM) if h[0] >= stored]
        assert len([h for h in tail if h[3] == "poller"]) >= 2, tail
        assert tail and {h[2] for h in tail} == {"offline"}, tail
        assert went < said
        assert "offline" not in seq[first_up:first_up + 1], seq
    finally:
        exporter.stop()
        collectd.stop()


def test_restart_leaves_the_current_state(tmp_path, fake):
    fake.register(SWARM)
    c = conf(tmp_path, fake)
    collectd = start(tmp_path, c)
    exporter = qfstack.Exporter(collectd.socket, tmp_path / "state").start()
    try:
        fake.register(SWARM, exporter.url)
        qfstack.wait_until(lambda: fake.rows().get(SWARM, {}).get("status")
                           in ("online", "degraded"), 20,
                           message="a current state stored")
        collectd.stop()  # its stopping heartbeat says offline
        qfstack.wait_until(
            lambda: fake.rows()[SWARM]["status"] == "offline", 10,
            message="offline stored after the stop")
        collectd = start(tmp_path, c)
        back = time.monotonic()
        # Within one interval of the first figures, both doors store the
        # current (running) state, and it stays.
        qfstack.wait_until(
            lambda: fake.rows()[SWARM]["status"] in ("online", "degraded"),
            INTERVAL + 10, message="the current state after the restart")
        assert time.monotonic() - back < INTERVAL + 10
        state = watch(fake, ROUNDS * POLL)
        assert state in ("online", "degraded")
    finally:
        exporter.stop()
        collectd.stop()


def test_registration_noticed_within_an_interval(tmp_path, fake):
    # Not registered: the heartbeats are refused (404 "Swarm not found")
    # and wait; once registered, the next one goes within an interval.
    collectd = start(tmp_path, conf(tmp_path, fake, RejectedRetryDelay=300))
    try:
        qfstack.wait_until(
            lambda: any(r.status == 404 for r in fake.requests()), 20,
            message="a refused heartbeat")
        fake.register(SWARM)
        registered = time.monotonic()
        qfstack.wait_until(lambda: fake.delivered(), INTERVAL + 5,
                           message="delivered after registration")
        first = next(r for r in fake.requests() if r.status == 200)
        assert first.time - registered <= INTERVAL + 0.5
        assert fake.rows()[SWARM]["door"] == "heartbeat"
    finally:
        collectd.stop()
