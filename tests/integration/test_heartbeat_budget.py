"""Issue 13, the request budget: RequestLimit per RequestWindow holds across
restarts (the window's request times are kept in StateDir), and a budget
that cannot carry the live heartbeats is said once, shown in heartbeat.json,
/agent/status, /status, the body's attention and a dispatched value, while
the newest heartbeat keeps moving. Real collectd and exporter, the fake
backend counting requests."""

import time

import pytest

import qfstack
from test_heartbeat import (SWARM, KEY, backend_block, backend_state,
                            heartbeat_conf, log_ids, start)
from fake_backend import FakeBackend

BUDGET_LINE = "cannot carry every heartbeat"


@pytest.fixture
def fake():
    backend = FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
    yield backend
    backend.stop()


def most_in_any_window(times, window):
    """The most requests that arrived within any `window` seconds, less
    0.1 s for the arrival's jitter against the plugin's clock."""
    best = 0
    for i, t in enumerate(times):
        best = max(best, sum(1 for u in times[i:] if u - t < window - 0.1))
    return best


def test_budget_holds_across_three_restarts(tmp_path, fake):
    # Interval 10 needs 6 requests per 60 s: the budget carries the live
    # heartbeats, but each run sends its first heartbeat at once and its
    # stopping one on the way out, so four short runs would send about 8
    # requests in one window if a restart forgot the budget.
    limit, window = 6, 60
    conf = heartbeat_conf(tmp_path, [backend_block(
        "central", fake.url, Timeout=2, Retries=1, RetryDelay=0.3,
        RequestLimit=limit, RequestWindow=window)], interval=10)
    began = time.monotonic()
    logs = []
    for run in range(4):
        seen = len(log_ids(tmp_path))
        collectd = start(tmp_path, conf)
        try:
            qfstack.wait_until(lambda: len(log_ids(tmp_path)) > seen, 20,
                               message=f"run {run}: its first heartbeat")
            time.sleep(1.5)
        finally:
            collectd.stop()
            logs.append(collectd.log())
    assert time.monotonic() - began < window - 5, "the runs outlasted the "\
        "window: the test proves nothing"
    times = [r.time for r in fake.requests()]
    assert len(times) >= limit - 1, times  # the budget was used, not idle
    assert most_in_any_window(times, window) <= limit, times
    # Later runs said what they counted from before the restart.
    assert any("counted against RequestLimit 6 (from before the restart)"
               in log for log in logs[1:]), logs[1]
    budget = tmp_path / "state" / "heartbeat_spool" / "central.budget"
    lines = budget.read_text().splitlines()
    assert lines[0] == "QFBUDGET1" and 1 <= len(lines) - 1 <= limit, lines


def test_short_budget_is_said_and_the_newest_moves(tmp_path, fake):
    # Interval 1 against 3 requests per 6 s: the budget cannot carry the
    # live heartbeats. One request per 2 s at most, always the newest.
    limit, window = 3, 6
    conf = heartbeat_conf(tmp_path, [backend_block(
        "central", fake.url, Timeout=2, Retries=1, RetryDelay=0.3,
        RequestLimit=limit, RequestWindow=window)], interval=1)
    collectd = start(tmp_path, conf)
    exporter = qfstack.Exporter(collectd.socket, tmp_path / "state").start()
    try:
        qfstack.wait_until(lambda: len(fake.delivered()) >= 5, 30,
                           message="five heartbeats delivered")
        state = backend_state(tmp_path)
        assert state["budget_exhausted"] is True, state
        assert state["superseded"] > 0, state
        agent = exporter.get("/agent/status").json()
        backends = agent["data"]["heartbeat"]["backends"]
        assert backends[0]["budget_exhausted"] is True, backends
        reason = "request budget cannot carry every heartbeat"
        status = exporter.get("/status").json()
        assert reason in status["attention"]["reasons"], status["attention"]
        bodies = fake.delivered()
        assert reason in bodies[-1]["attention"]["reasons"], bodies[-1]
        assert collectd.getval(
            "qiflow_heartbeat-central/gauge-budget_exhausted") == {
                "value": 1.0}
        # The newest moves: each delivered heartbeat was the newest in the
        # log when it went (ids only grow, and none lags more than the
        # spacing of 2 s plus one interval behind the log).
        ids = fake.delivered_ids()
        assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
        newest_logged = log_ids(tmp_path)[-1]
        assert newest_logged - ids[-1] <= 4, (ids, newest_logged)
        times = [r.time for r in fake.requests()]
        assert most_in_any_window(times, window) <= limit, times
        log = collectd.log()
        assert log.count(BUDGET_LINE) == 1, log  # once per episode
        assert "a heartbeat every 1 s needs 6 requests per 6 s" in log
    finally:
        exporter.stop()
        collectd.stop()
