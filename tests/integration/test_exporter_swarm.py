"""One swarm id (issue 12; DESIGN.md "One swarm id"), with the real
collectd, qiflow_heartbeat and qiflow-exporter on loopback and the fake
backend:

- SwarmID "x" in qiflow_heartbeat (as qiflow-migrate writes it) and no
  --swarm-id: /health, /status, /agent/status (its own id and its heartbeat
  section's), the Prometheus info metric and the heartbeat the backend got
  all carry "x", and no other id was generated;
- no SwarmID anywhere: the id generated once in StateDir/swarm_id serves
  the plugin and the exporter;
- --swarm-id disagreeing with qiflow_heartbeat's id (configured or
  generated): the exporter exits 2 at start naming both ids and the place
  to fix; a disagreeing heartbeat.json that appears later is logged once;
- without --swarm-id the exporter follows heartbeat.json's id when it
  changes.
"""

import json
import re
import subprocess
import time

import pytest

import qfstack
from fake_backend import FakeBackend
from qfstack import heartbeat_plugin_conf, validate, wait_until

KEY = "swarm-test-key"
WAIT = 20.0


@pytest.fixture
def backend():
    fake = FakeBackend(api_keys=[KEY], swarms=["x"]).start()
    yield fake
    fake.stop()


def _stack(root, backend, swarm, exporter_args=()):
    """The stack with qiflow_heartbeat sending to backend as swarm (no
    SwarmID line when swarm is None)."""
    conf = heartbeat_plugin_conf(root, backend.url, swarm, KEY, Timeout=2,
                                 Retries=1)
    return qfstack.Stack(root, extra_plugin_conf=conf,
                         exporter_args=exporter_args)


def _heartbeat_snapshot(stack):
    return wait_until(lambda: qfstack.read_json(
        stack.state_dir / "heartbeat.json"), WAIT, 0.1, "heartbeat.json")


def _ids(stack):
    """Every place the exporter shows a swarm id."""
    agent = stack.get("/agent/status", "agent-status", 200).json()["data"]
    prom = stack.get("/metrics?format=prometheus", status=200).text
    info = re.search(r'^qiflow_exporter_info\{[^}]*swarm_id="([^"]*)"', prom,
                     re.M)
    return {"health": stack.get("/health", "health").json()["swarm_id"],
            "status": stack.get("/status", "status", 200).json()["data"][
                "swarm_id"],
            "metrics": stack.get("/metrics", "metrics", 200).json()["data"][
                "swarm_id"],
            "agent_status": agent["swarm_id"],
            "agent_status.heartbeat": agent["heartbeat"].get("swarm_id"),
            "qiflow_exporter_info": info.group(1) if info else None}


def _exporter_refused(stack, args):
    """Run the exporter with args against stack's state dir: it must exit
    2 at once. Returns stderr."""
    argv = [str(stack.exporter.binary), "--listen",
            f"127.0.0.1:{qfstack.free_port()}", "--socket",
            str(stack.collectd.socket), "--state-dir",
            str(stack.state_dir)] + args
    res = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                         check=False)
    assert res.returncode == 2, f"exit {res.returncode}: {res.stderr}"
    return res.stderr


def test_configured_swarm_id_reaches_every_part(tmp_path, backend):
    stack = _stack(tmp_path, backend, "x")
    try:
        stack.start(exporter=False)
        snap = validate(_heartbeat_snapshot(stack), "heartbeat-snapshot")
        assert snap["swarm_id"] == "x"
        assert snap["swarm_id_source"] == "configured"
        stack.exporter.start()
        wait_until(lambda: set(_ids(stack).values()) == {"x"}, WAIT, 0.2,
                   "every id x")
        assert backend.wait_for(lambda b: b.delivered(), WAIT)
        assert {b["swarm_id"] for b in backend.delivered()} == {"x"}
        # Nothing generated an id of its own.
        assert not (stack.state_dir / "swarm_id").exists()
        assert "swarm id \"x\", from qiflow_heartbeat's SwarmID" in \
            stack.exporter.log()
    finally:
        stack.stop()


def test_generated_swarm_id_is_shared(tmp_path, backend):
    stack = _stack(tmp_path, backend, None)
    try:
        stack.start(exporter=False)
        snap = _heartbeat_snapshot(stack)
        assert snap["swarm_id_source"] == "generated"
        generated = (stack.state_dir / "swarm_id").read_text().strip()
        assert snap["swarm_id"] == generated
        stack.exporter.start()
        wait_until(lambda: set(_ids(stack).values()) == {generated}, WAIT,
                   0.2, f"every id {generated}")
    finally:
        stack.stop()


@pytest.mark.parametrize("configured", [True, False],
                         ids=["SwarmID", "generated"])
def test_disagreeing_swarm_ids_stop_the_start(tmp_path, backend,
                                              configured):
    stack = _stack(tmp_path, backend, "x" if configured else None)
    try:
        stack.start(exporter=False)
        plugin_id = _heartbeat_snapshot(stack)["swarm_id"]
        err = _exporter_refused(stack, ["--swarm-id", "y"])
        assert '--swarm-id "y"' in err and f'"{plugin_id}"' in err, err
        assert "<Plugin qiflow_heartbeat>" in err, err
        if configured:
            assert 'SwarmID "x"' in err, err
        else:
            assert "no SwarmID" in err and "swarm_id" in err, err
        # The same id twice is no disagreement.
        stack.exporter.extra_args = ["--swarm-id", plugin_id]
        stack.exporter.start()
        assert set(_ids(stack).values()) == {plugin_id}
    finally:
        stack.stop()


def _write_heartbeat(state_dir, swarm_id, source="configured"):
    doc = {"schema_version": 1,
           "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "running": True, "swarm_id": swarm_id,
           "swarm_id_source": source, "interval": 60, "backends": [],
           "webhooks": []}
    validate(doc, "heartbeat-snapshot")
    tmp = state_dir / "heartbeat.json.tmp"
    tmp.write_text(json.dumps(doc))
    tmp.rename(state_dir / "heartbeat.json")


def test_a_later_disagreement_is_logged_once(tmp_path):
    state = tmp_path / "state"
    exporter = qfstack.Exporter(tmp_path / "none.sock", state,
                                extra_args=["--swarm-id", "y"],
                                log_path=tmp_path / "exporter.log")
    exporter.start()
    try:
        _write_heartbeat(state, "x")
        wait_until(lambda: "SwarmID \"x\"" in exporter.log(), WAIT, 0.1,
                   "the disagreement logged")
        time.sleep(1.0)  # five more refreshes
        assert exporter.get("/health").json()["swarm_id"] == "y"
        lines = [l for l in exporter.log().splitlines()
                 if 'SwarmID "x"' in l]
        assert len(lines) == 1 and "error" in lines[0] and \
            '--swarm-id "y"' in lines[0], lines
    finally:
        exporter.stop()


def test_the_exporter_follows_heartbeat_json(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    _write_heartbeat(state, "first")
    exporter = qfstack.Exporter(tmp_path / "none.sock", state,
                                log_path=tmp_path / "exporter.log")
    exporter.start()
    try:
        assert exporter.get("/health").json()["swarm_id"] == "first"
        _write_heartbeat(state, "second")
        wait_until(lambda: exporter.get("/health").json()["swarm_id"] ==
                   "second", WAIT, 0.1, "the new id served")
        assert 'swarm id now "second" (was "first")' in exporter.log()
        assert not (state / "swarm_id").exists()
    finally:
        exporter.stop()
