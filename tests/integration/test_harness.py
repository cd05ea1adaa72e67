"""The harness itself against the real collectd: its generated config loads
what schema/README.md says the exporter reads, the unixsock client speaks
the protocol, failures carry their evidence, notifications are parsed."""

import http.server
import signal
import threading
import time
from pathlib import Path

import pytest

import qfstack

# Identifiers schema/README.md promises from collectd's own plugins.
CONTRACT_IDENTIFIERS = [
    "cpu/percent-idle", "cpu/percent-user", "memory/percent-used",
    "memory/memory-used", "memory/memory-free", "df-root/percent_bytes-used",
    "df-root/df_complex-used", "df-root/df_complex-free",
    "df-root/df_complex-reserved", "load/load", "uptime/uptime",
]


@pytest.fixture
def collectd(tmp_path):
    daemon = qfstack.Collectd(tmp_path / "collectd")
    yield daemon
    daemon.stop()


def test_base_config_provides_the_contract_identifiers(collectd):
    collectd.start()
    wanted = {f"{collectd.hostname}/{i}" for i in CONTRACT_IDENTIFIERS}
    qfstack.wait_until(lambda: wanted <= set(collectd.listval()), 10, 0.1,
                       "every contract identifier in LISTVAL")
    load = collectd.getval("load/load")
    assert set(load) == {"shortterm", "midterm", "longterm"}
    assert 0 <= collectd.getval("df-root/percent_bytes-used")["value"] <= 100
    log = collectd.log()
    assert "Initialization complete" in log
    assert "[error]" not in log and "[warning]" not in log, log


def test_getval_of_unknown_value_raises(collectd):
    collectd.start()
    with pytest.raises(qfstack.CollectdError, match="No such value"):
        collectd.getval("cpu/percent-nonexistent")


def test_second_plugin_dir_loads_our_plugins(tmp_path):
    so = qfstack.BUILD_DIR / "plugins" / "qiflow_agents.so"
    if not so.exists():
        pytest.skip(f"{so} not built")
    conf = qfstack.agents_plugin_conf(tmp_path / "agents", tmp_path / "st")
    daemon = qfstack.Collectd(tmp_path / "c", conf)
    try:
        daemon.start()
        assert 'plugin "qiflow_agents" successfully loaded' in daemon.log()
    finally:
        daemon.stop()


def test_start_failure_explains_itself(tmp_path):
    daemon = qfstack.Collectd(tmp_path / "c",
                              "LoadPlugin no_such_plugin_qf\n")
    with pytest.raises(RuntimeError) as info:
        daemon.start(timeout=10)
    text = str(info.value)
    assert "no_such_plugin_qf" in text and "collectd.log" in text
    assert not daemon.running


def test_stop_restart_and_kill(collectd):
    collectd.start()
    assert collectd.stop() == 0, "SIGTERM must be a clean exit"
    with pytest.raises(OSError):
        collectd.listval()
    collectd.start()
    assert collectd.kill() == -signal.SIGKILL
    assert collectd.socket.exists(), "SIGKILL leaves the socket behind"
    collectd.start()  # ... and a restart copes with it
    assert collectd.listval()


def test_notifications_are_parsed_from_the_log(collectd):
    collectd.start()
    stamp = int(time.time())
    collectd.command(
        f"PUTNOTIF severity=failure time={stamp} host={collectd.hostname} "
        "plugin=qiflow_test plugin_instance=Agent-1 type=gauge "
        'message="agent \\"Agent-1\\" is dead: process 7 is gone, really"')
    notes = qfstack.wait_until(collectd.notifications, 5, 0.1,
                               "the notification in collectd.log")
    assert notes == [{"severity": "FAILURE", "host": collectd.hostname,
                      "plugin": "qiflow_test", "plugin_instance": "Agent-1",
                      "type": "gauge",
                      "message": 'agent "Agent-1" is dead: process 7 is '
                                 'gone, really'}]


def test_dropped_capabilities_make_file_modes_real(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0)
    out = tmp_path / "out"
    proc = qfstack._spawn(list(qfstack.DROP_DAC_CAPS) + ["cat", str(secret)],
                          out)
    assert proc.wait(timeout=10) != 0
    assert "Permission denied" in out.read_text()


def test_wait_until_reports_the_last_error():
    def failing():
        raise ValueError("still broken")
    with pytest.raises(qfstack.WaitTimeout, match="still broken"):
        qfstack.wait_until(failing, 0.3, 0.1, "never")
    assert qfstack.wait_until(lambda: 42, 1) == 42


def test_http_returns_4xx_5xx_and_raises_only_when_unreachable():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            code = int(self.path.strip("/"))
            self.send_response(code)
            self.send_header("X-Twice", "a")
            self.send_header("X-Twice", "b")
            self.end_headers()
            self.wfile.write(b'{"code": %d}' % code)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        for code in (200, 404, 503):
            resp = qfstack.http("GET", f"{url}/{code}")
            assert resp.status == code and resp.json() == {"code": code}
            assert resp.headers["x-twice"] == "a, b"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(OSError):
        qfstack.http("GET", f"http://127.0.0.1:{qfstack.free_port()}/")


class _FakeGitHubAddress:  # what github_conf reads of a FakeGitHub
    repository = "owner/repo"
    url = "http://127.0.0.1:4242"


def test_plugin_conf_builders_write_the_blocks_the_tests_wrote():
    """qfstack.conf's builders give, line for line, the blocks the test
    files wrote out themselves before they shared them (test_heartbeat's
    two backends, test_exporter_swarm's missing SwarmID, ghkit's and
    test_earlier_clients' qiflow_github, test_anomaly's qiflow_anomaly)."""
    root = Path("/r")
    url = "http://127.0.0.1:5151/api/heartbeat"
    assert qfstack.heartbeat_conf(root, [
        qfstack.backend_block("central", url, "k", Timeout=2, RetryDelay=0.3),
        qfstack.backend_block("zipped", url, None, Compress=True,
                              APIKeyFile="/k")],
        "s-1", interval=4, extra="  LogRetentionDays 14") == f"""
LoadPlugin qiflow_heartbeat
<Plugin qiflow_heartbeat>
  SwarmID "s-1"
  Interval 4
  StateDir "/r/state"
  LogDir "/r/log"
  LogRetentionDays 14
  <Backend "central">
    URL "{url}"
    APIKey "k"
    Timeout 2
    RetryDelay 0.3
  </Backend>
  <Backend "zipped">
    URL "{url}"
    Compress true
    APIKeyFile "/k"
  </Backend>
</Plugin>
"""
    assert qfstack.heartbeat_plugin_conf(root, url, None, "k", log_dir="hb",
                                         Retries=1) == f"""
LoadPlugin qiflow_heartbeat
<Plugin qiflow_heartbeat>
  Interval 1
  StateDir "/r/state"
  LogDir "/r/hb"
  <Backend "central">
    URL "{url}"
    APIKey "k"
    Retries 1
  </Backend>
</Plugin>
"""
    gh = _FakeGitHubAddress()
    assert qfstack.github_conf(gh, "/s") == """
LoadPlugin qiflow_github
<Plugin qiflow_github>
  Repository "owner/repo"
  APIURL "http://127.0.0.1:4242"
  StateDir "/s"
</Plugin>
"""
    assert qfstack.github_conf(gh, "/s", token="t", interval=1, timeout=2,
                               extra='  CACert "/ca"') == """
<LoadPlugin qiflow_github>
  Interval 1
</LoadPlugin>
<Plugin qiflow_github>
  Repository "owner/repo"
  APIURL "http://127.0.0.1:4242"
  StateDir "/s"
  Timeout 2
  Token "t"
  CACert "/ca"
</Plugin>
"""
    assert qfstack.anomaly_conf("/s", "  StuckFloor 1") == """
LoadPlugin qiflow_anomaly
<Plugin qiflow_anomaly>
  StateDir "/s"
  StuckFloor 1
</Plugin>
"""
    assert qfstack.agents_plugin_conf("/a", "/s", 30, False) == """
LoadPlugin qiflow_agents
<Plugin qiflow_agents>
  AgentDir "/a"
  StateDir "/s"
  StaleAfter 30
  ProcessCheck false
</Plugin>
"""


def test_collectd_binary_is_read_when_started(tmp_path, monkeypatch):
    """qfstack.paths.COLLECTD_BIN is looked up at start (test_arm64 points
    it at another collectd for one test)."""
    missing = tmp_path / "no-such-collectd"
    monkeypatch.setattr(qfstack.paths, "COLLECTD_BIN", str(missing))
    with pytest.raises(FileNotFoundError, match="no-such-collectd"):
        qfstack.Collectd(tmp_path / "c").start(timeout=5)
