"""Errors that name the fix (issue 12, "Operator paths that break"), with
the real exporter (and the real collectd where it matters):

- the port is in use: exit 1, the message names a still-running earlier
  agent (the Python agent listened on the same port);
- a port below 1024 without CAP_NET_BIND_SERVICE: exit 1, the message
  names the capability and the unit's AmbientCapabilities=;
- collectd's socket refuses this user: /health's reason names unixsock's
  SocketGroup and SocketPerms;
- a --state-dir that does not exist: the exporter starts (collectd may
  create it later) but /health is 503 naming the flag, it does not create
  the directory, and it is healthy once the directory is there.
"""

import os
import shutil
import socket
import subprocess

import pytest

import qfstack
from qfstack import validate, wait_until

EXPORTER = qfstack.BUILD_DIR / "bin" / "qiflow-exporter"
WAIT = 15.0


def run_exporter(listen, tmp_path, wrapper=()):
    """The exporter on listen; it must exit 1 at once. Returns stderr."""
    if not EXPORTER.exists():
        pytest.skip(f"{EXPORTER} not built")
    argv = list(wrapper) + [str(EXPORTER), "--listen", listen, "--socket",
                            str(tmp_path / "none.sock"), "--state-dir",
                            str(tmp_path)]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=15,
                         check=False)
    assert res.returncode == 1, f"exit {res.returncode}: {res.stderr}"
    return res.stderr


def test_port_in_use_names_an_earlier_agent(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        err = run_exporter(f"127.0.0.1:{port}", tmp_path)
    assert "Address already in use" in err, err
    assert "earlier Python QiFlow agent" in err and "--listen" in err, err


def _unprivileged_port_start():
    try:
        return int(open("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                   .read())
    except (OSError, ValueError):
        return 1024


def test_low_port_names_the_capability(tmp_path):
    port = 1023
    if _unprivileged_port_start() <= port:
        pytest.skip("this kernel lets anyone bind low ports "
                    "(net.ipv4.ip_unprivileged_port_start)")
    wrapper = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv missing (util-linux)")
        wrapper = ("setpriv", "--inh-caps=-net_bind_service",
                   "--bounding-set=-net_bind_service", "--")
    err = run_exporter(f"127.0.0.1:{port}", tmp_path, wrapper)
    assert "Permission denied" in err, err
    assert "CAP_NET_BIND_SERVICE" in err and "AmbientCapabilities=" in err, \
        err


def test_socket_permission_denied_names_socket_group(tmp_path):
    wrapper = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv missing (util-linux)")
        wrapper = qfstack.DROP_DAC_CAPS
    path = tmp_path / "collectd.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen(4)
        path.chmod(0)  # as a unixsock with SocketPerms "0660" and no group
        exporter = qfstack.Exporter(path, tmp_path / "state",
                                    log_path=tmp_path / "exporter.log")
        plain_argv = exporter.argv
        exporter.argv = lambda: list(wrapper) + plain_argv()
        with exporter:
            health = wait_until(lambda: (lambda r: r.json() if "reason" in
                                         r.json() else None)(
                exporter.get("/health")), WAIT, 0.1, "a reason")
    validate(health, "health")
    assert health["status"] == "unhealthy"
    reason = health["reason"]
    assert "Permission denied" in reason, reason
    assert "SocketGroup" in reason and "SocketPerms" in reason, reason


def test_missing_state_dir_is_unhealthy_naming_the_flag(tmp_path):
    stack = qfstack.Stack(tmp_path)
    missing = tmp_path / "missing-state"
    plain_argv = stack.exporter.argv
    stack.exporter.argv = lambda: [str(missing) if a == str(stack.state_dir)
                                   else a for a in plain_argv()]
    with stack:
        resp = wait_until(lambda: (lambda r: r if r.status == 503 and
                                   r.json()["collectd"]["connected"] else
                                   None)(stack.get("/health")),
                          WAIT, 0.1, "collectd connected, state dir not")
        health = validate(resp.json(), "health")
        assert health["reason"].startswith(
            f"state dir unusable: --state-dir {missing}: No such file or "
            f"directory"), health
        assert "StateDir" in health["reason"], health
        assert not missing.exists()  # not created behind the operator
        assert "--state-dir" in stack.exporter.log()
        missing.mkdir()
        wait_until(lambda: stack.get("/health").status == 200, WAIT, 0.1,
                   "healthy once the directory exists")
        assert f"--state-dir {missing} usable again" in stack.exporter.log()
