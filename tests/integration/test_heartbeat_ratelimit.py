"""Issue 8: qiflow_heartbeat under the central backend's rate limit (100
requests per 15 minutes per client IP, shrunk here to 5 per 10 s so a test
runs in a minute). After an outage the backlog is replayed in order,
exactly once, without tripping the limit more than once."""

import pytest

import qfstack
from test_heartbeat import (SWARM, KEY, backend_block, backend_state,
                            heartbeat_conf, log_ids, spooled_ids,
                            assert_exactly_once_in_order, start)
from fake_backend import FakeBackend

LIMIT, WINDOW = 5, 10


@pytest.fixture
def fake():
    backend = FakeBackend(api_keys=[KEY], swarms=[SWARM], limit=LIMIT,
                          window=WINDOW).start()
    yield backend
    backend.stop()


def outage_then_recovery(tmp_path, fake, conf, intervals):
    """Two delivered, an outage of `intervals` heartbeats, recovery until the
    spool is empty; returns the collectd log."""
    collectd = start(tmp_path, conf)
    try:
        fake.wait_for(lambda f: len(f.delivered()) >= 2, 30)
        fake.refuse()
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["spool_depth"] >= intervals, 60,
            message=f"{intervals} heartbeats spooled during the outage")
        fake.resume()
        qfstack.wait_until(
            lambda: backend_state(tmp_path)["spool_depth"] == 0, 90,
            interval=0.5, message="the backlog replayed")
        return collectd.log()
    finally:
        collectd.stop()


def test_backlog_replay_learns_the_limit_from_one_429(tmp_path, fake):
    # Pacing configured looser than the backend's real limit: the replay
    # bursts, the backend answers one 429 naming its policy, and from then
    # on the plugin paces below it.
    conf = heartbeat_conf(tmp_path, [backend_block(
        "central", fake.url, Timeout=2, Retries=3, RetryDelay=0.3,
        RequestLimit=30, RequestWindow=WINDOW)], interval=4)
    log = outage_then_recovery(tmp_path, fake, conf, intervals=6)
    statuses = fake.statuses()
    assert statuses.count(429) == 1, statuses
    assert set(statuses) == {200, 429}, statuses
    assert "pacing to the backend's RateLimit-Policy from now on" in log
    # The heartbeat answered 429 went again later, nothing was dropped.
    recs = fake.requests()
    i = statuses.index(429)
    assert recs[i + 1].body["heartbeat_id"] == recs[i].body["heartbeat_id"]
    assert recs[i + 1].time - recs[i].time >= 1
    assert backend_state(tmp_path)["dropped"] == 0
    assert_exactly_once_in_order(fake.delivered_ids(), log_ids(tmp_path),
                                 spooled_ids(tmp_path))


def test_configured_pacing_never_trips_the_limit(tmp_path, fake):
    # RequestLimit below the backend's: live heartbeats and the replayed
    # backlog together stay under it, so not a single 429.
    conf = heartbeat_conf(tmp_path, [backend_block(
        "central", fake.url, Timeout=2, Retries=3, RetryDelay=0.3,
        RequestLimit=LIMIT - 1, RequestWindow=WINDOW)], interval=5)
    outage_then_recovery(tmp_path, fake, conf, intervals=4)
    assert 429 not in fake.statuses(), fake.statuses()
    # Paced: never more than LIMIT - 1 requests within any WINDOW seconds.
    times = [r.time for r in fake.requests()]
    for k in range(LIMIT - 1, len(times)):
        assert times[k] - times[k - (LIMIT - 1)] >= WINDOW - 0.5, times
    assert_exactly_once_in_order(fake.delivered_ids(), log_ids(tmp_path),
                                 spooled_ids(tmp_path))
