"""qiflow-exporter stops within a second or two on SIGTERM and SIGINT, for
every combination of the flags that shape libmicrohttpd's workers (issue
12, "Operator paths that break"): one worker or several, --max-connections
below, equal to or above the worker count (libmicrohttpd splits the limit
among the workers, so some got a share of 0 and never woke for the stop),
TLS off and on, with no connection open and with the limit filled by idle
connections and a keep-alive one that was served.

Under systemd a stop that hangs costs TimeoutStopSec and ends in SIGKILL;
here the exporter must exit 0 within STOP_LIMIT seconds of the signal.
"""

import http.client
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

import qfstack
from tlskit import self_signed

STOP_LIMIT = 2.0  # seconds from the signal to the exit
# (threads, max_connections): equal, above, and below the worker count.
SHAPES = [(1, 1), (1, 8), (4, 2), (4, 3), (4, 4), (4, 16)]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl missing (apt-get install openssl)")
    return self_signed(tmp_path_factory.mktemp("tls"), "server")


def _served_keepalive(exporter):
    """A connection that got one answer and stays open (keep-alive)."""
    if exporter.ssl_context is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", exporter.port,
                                           timeout=5,
                                           context=exporter.ssl_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", exporter.port,
                                          timeout=5)
    conn.request("GET", "/health")
    res = conn.getresponse()
    res.read()
    assert res.status in (200, 503), res.status
    return conn


def _open_connections(exporter, count):
    """count connections: one served keep-alive, the rest idle sockets
    that never send (in TLS, stuck before the handshake)."""
    held = [_served_keepalive(exporter)]
    for _ in range(count - 1):
        held.append(socket.create_connection(("127.0.0.1", exporter.port),
                                             timeout=5))
    time.sleep(0.3)  # accepted by the workers
    return held


def _stop_time(exporter, sig):
    """Send sig and return (seconds until the exit, exit status)."""
    t0 = time.monotonic()
    exporter.proc.send_signal(sig)
    try:
        rc = exporter.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return float("inf"), None
    return time.monotonic() - t0, rc


@pytest.mark.parametrize("shape,tls,filled", list(itertools.product(
    SHAPES, [False, True], [False, True])), ids=lambda v: str(v))
def test_stops_promptly(tmp_path, request, shape, tls, filled):
    threads, max_connections = shape
    args = ["--threads", str(threads), "--max-connections",
            str(max_connections), "--max-connections-per-ip", "0"]
    ca_file = None
    if tls:
        cert, key = request.getfixturevalue("tls_files")
        args += ["--tls-cert", str(cert), "--tls-key", str(key)]
        ca_file = cert
    exporter = qfstack.Exporter(tmp_path / "none.sock", tmp_path / "state",
                                extra_args=args, ca_file=ca_file,
                                log_path=tmp_path / "exporter.log")
    exporter.start()
    held = []
    try:
        if filled:
            held = _open_connections(exporter, max_connections)
        seconds, rc = _stop_time(exporter, signal.SIGTERM)
    finally:
        for conn in held:
            conn.close()
        exporter.stop()
    print(f"threads {threads}, --max-connections {max_connections}, "
          f"TLS {tls}, filled {filled}: stopped in {seconds:.3f} s")
    assert rc == 0 and seconds <= STOP_LIMIT, \
        f"exit {rc} after {seconds:.2f} s\n{exporter.log()}"


def test_sigint_stops_a_pool_with_a_small_limit(tmp_path):
    exporter = qfstack.Exporter(tmp_path / "none.sock", tmp_path / "state",
                                extra_args=["--threads", "8",
                                            "--max-connections", "2"],
                                log_path=tmp_path / "exporter.log")
    exporter.start()
    try:
        seconds, rc = _stop_time(exporter, signal.SIGINT)
    finally:
        exporter.stop()
    assert rc == 0 and seconds <= STOP_LIMIT, (rc, seconds)
    # A worker per connection is all the limit can use: said, not hidden.
    assert "running 2" in exporter.log(), exporter.log()


def _workers(exporter):
    """The worker count of the start line ("..., N HTTP worker[s], ...")."""
    text = exporter.log()
    m = re.search(r"\), (\d+) HTTP workers?, collectd socket ", text)
    assert m, text
    return int(m.group(1))


def _threads(pid):
    status = open(f"/proc/{pid}/status", encoding="ascii").read()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))


def test_default_workers_follow_the_cpu_affinity(tmp_path):
    """Without --threads: one worker per CPU the exporter may run on
    (taskset, systemd's CPUAffinity=, a cpuset), not per CPU of the host;
    the start line says how many."""
    cpus = sorted(os.sched_getaffinity(0))
    counts = {}
    for name, allowed in (("all", cpus), ("one", cpus[:1])):
        exporter = qfstack.Exporter(tmp_path / "none.sock",
                                    tmp_path / "state",
                                    log_path=tmp_path / f"{name}.log")
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, allowed)  # inherited by the exporter
        try:
            exporter.start()
        finally:
            os.sched_setaffinity(0, before)
        try:
            qfstack.wait_until(lambda e=exporter: "worker" in e.log(), 5,
                               0.05, "the start line")
            counts[name] = (_workers(exporter), _threads(exporter.proc.pid))
        finally:
            exporter.stop()
    print(f"CPUs {cpus}: workers and threads {counts}")
    assert counts["one"][0] == 1, counts
    assert counts["all"][0] == min(len(cpus), 16), counts
    # A worker is a thread (one worker is libmicrohttpd's polling thread);
    # the process's other threads are the same in both runs.
    assert counts["all"][1] - counts["one"][1] == \
        counts["all"][0] - 1, counts
