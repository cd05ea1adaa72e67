"""tools/demo.py, what `contrib/dev.sh run` starts: every part at work on
loopback. Runs the real program for a bounded time and checks, over HTTP,
that a first-time user sees the whole product: host resources and the
example agents in /status, non-null project figures from the fake GitHub
in /project/completion and /project/issues, heartbeats delivered to the
stand-in backend in /agent/status, and /metrics in JSON and Prometheus
text. Every body is validated against its schema."""

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import qfstack
from qfstack import validate, wait_until

DEMO = qfstack.SOURCE_DIR / "tools" / "demo.py"
PLUGINS = ("qiflow_agents", "qiflow_github", "qiflow_heartbeat")
SWARM_ID = "qiflow-demo-swarm"
# What tools/demo.py seeds: 17 issues (9 closed), 3 pull requests, four
# issues flagged (ci_failures, merge_conflict, blocked_too_long,
# human_label); three agents from contrib/agents/.
ISSUES, DONE, FLAGGED = 17, 9, 4
WAIT = 30


def built():
    need = [qfstack.BUILD_DIR / "plugins" / f"{p}.so" for p in PLUGINS]
    need.append(qfstack.BUILD_DIR / "bin" / "qiflow-exporter")
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        pytest.skip(f"not built: {', '.join(missing)}")


class DemoRun:
    """tools/demo.py as a child process; its output collected by a
    thread so the pipe never fills."""

    def __init__(self, tmp_path, *args):
        self.port = qfstack.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = tmp_path / "demo"
        env = dict(os.environ, GITHUB_TOKEN="must-not-be-used",
                   QIFLOW_API_KEY="must-not-be-used")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(DEMO), "--build-dir",
             str(qfstack.BUILD_DIR), "--listen", f"127.0.0.1:{self.port}",
             "--workdir", str(self.workdir), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self):
        return "\n".join(self.lines)

    def wait_running(self):
        wait_until(lambda: self.proc.poll() is not None or
                   any("running" in l for l in self.lines), WAIT,
                   message="the demo's banner")
        assert self.proc.poll() is None, self.output

    def get(self, path, schema_name, **kwargs):
        resp = qfstack.http("GET", self.url + path, **kwargs)
        assert resp.status == 200, f"GET {path}: {resp!r}"
        if schema_name:
            validate(resp.json(), schema_name)
        return resp

    def finish(self, timeout):
        """Wait for the exit; returns the exit code."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"the demo did not stop within {timeout} s"
                                 f"\n{self.output}") from None
        self.reader.join(timeout=5)
        return rc

    def evidence(self):
        tails = []
        for path in (self.workdir / "collectd" / "collectd.log",
                     self.workdir / "exporter.log"):
            if path.exists():
                tails.append(f"--- {path} ---\n"
                             + "\n".join(path.read_text(errors="replace")
                                         .splitlines()[-40:]))
        return f"--- demo output ---\n{self.output}\n" + "\n".join(tails)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def pids_in_banner(output):
    """The collectd and exporter pids the banner names."""
    return [int(p) for p in re.findall(r"^  (?:collectd|exporter) +pid "
                                       r"(\d+)", output, re.M)]


def test_demo_shows_every_part_then_stops_on_ctrl_c(tmp_path):
    built()
    demo = DemoRun(tmp_path, "--interval", "1", "--duration", "120")
    try:
        demo.wait_running()
        out = demo.output
        # Labelled as what it is: stand-ins on loopback, no token.
        assert "FAKE GitHub" in out and "STAND-IN central backend" in out
        assert "no token" in out
        for path in ("/status", "/agent/status", "/project/completion",
                     "/project/issues", "/metrics"):
            assert f"{demo.url}{path}" in out, out
        pids = pids_in_banner(out)
        assert len(pids) == 2, out

        status = wait_until(
            lambda: (lambda d: d if d["status"] != "offline"
                     and d["agents"]["total"] == 3 else None)(
                demo.get("/status", "status").json()),
            WAIT, message="/status with figures read (not offline) and the "
            "three agents")
        assert status["memory"] is not None and status["disk"] is not None
        by_status = status["data"]["agents"]["by_status"]
        assert (by_status["active"], by_status["idle"],
                by_status["blocked"], by_status["dead"],
                by_status["stale"]) == (1, 1, 1, 0, 0), by_status

        completion = wait_until(
            lambda: (lambda d: d if d["data"]["total_issues"] else None)(
                demo.get("/project/completion",
                         "project-completion").json()),
            WAIT, message="project figures from the fake GitHub")["data"]
        assert completion["repository"] == "qiflow-demo/swarm-app"
        assert (completion["total_issues"], completion["completed_issues"],
                completion["flagged_issues"]) == (ISSUES, DONE, FLAGGED)
        assert completion["completion_percentage"] == \
            round(DONE / ISSUES * 100)
        assert completion["velocity"]["per_day"] > 0
        assert completion["estimated_completion_date"] is not None
        assert {i["trigger"] for i in
                completion["issues_requiring_human_intervention"]} == \
            {"ci_failures", "merge_conflict", "blocked_too_long",
             "human_label"}

        issues = demo.get("/project/issues", "project-issues").json()["data"]
        assert issues["total"] == ISSUES
        flagged = demo.get("/project/issues?flagged=true",
                           "project-issues").json()["data"]
        assert flagged["total"] == FLAGGED
        assert all(i["flagged"] for i in flagged["issues"])

        agent = wait_until(
            lambda: (lambda d: d if (d["heartbeat"].get("backends") or
                                     [{}])[0].get("sent") else None)(
                demo.get("/agent/status", "agent-status").json()["data"]),
            WAIT, message="a heartbeat delivered to the stand-in backend")
        backend = agent["heartbeat"]["backends"][0]
        assert backend["last_status"] == 200 and backend["last_success"]
        assert backend["url"].startswith("http://127.0.0.1:")
        assert agent["swarm_id"] == agent["heartbeat"]["swarm_id"] == SWARM_ID
        assert agent["github"]["repository"] == "qiflow-demo/swarm-app"
        assert agent["github"]["last_error"] is None

        metrics = demo.get("/metrics", "metrics").json()
        assert metrics["data"]["swarm_id"] == SWARM_ID
        prom = demo.get("/metrics", None,
                        headers={"Accept": "text/plain"}).text
        for name in ("qiflow_cpu_usage_ratio", "qiflow_agents_registered",
                     "qiflow_project_completion_ratio",
                     "qiflow_heartbeat_sent_total"):
            assert re.search(rf"^{name}(\{{[^}}]*\}})? ", prom, re.M), name

        # qiflow_anomaly runs too: its snapshot is there and valid.
        anomalies = wait_until(
            lambda: (lambda f: json.loads(f.read_text()) if f.exists()
                     else None)(demo.workdir / "state" / "anomalies.json"),
            WAIT, message="StateDir/anomalies.json from qiflow_anomaly")
        validate(anomalies, "anomalies-snapshot")

        # The user's GITHUB_TOKEN (set above) did not reach collectd: the
        # fake GitHub is asked anonymously.
        log = (demo.workdir / "collectd" / "collectd.log").read_text()
        assert "asking GitHub anonymously" in log
        assert "authenticating with the token" not in log

        demo.proc.send_signal(signal.SIGINT)
        assert demo.finish(30) == 0, demo.output
        assert demo.lines[-1] == "qiflow demo: stopped"
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} left"
    except AssertionError:
        print(demo.evidence())
        raise
    finally:
        demo.kill()


def test_duration_ends_the_demo_by_itself(tmp_path):
    built()
    demo = DemoRun(tmp_path, "--duration", "2")
    try:
        started = time.monotonic()
        assert demo.finish(60) == 0, demo.output
        assert "running for 2 s or until Ctrl-C" in demo.output
        assert time.monotonic() - started >= 2
        for pid in pids_in_banner(demo.output):
            assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} left"
        # A second run empties the work directory the first one made.
        (demo.workdir / "state" / "leftover").write_text("x")
        again = DemoRun(tmp_path, "--duration", "1")
        try:
            assert again.finish(60) == 0, again.output
        finally:
            again.kill()
        assert not (demo.workdir / "state" / "leftover").exists()
    finally:
        demo.kill()


@pytest.mark.parametrize("args,message", [
    (["--listen", "0.0.0.0:8080"], "--listen must be 127.0.0.1:PORT"),
    (["--interval", "0"], "--interval must be from 1 to 3600"),
    (["--duration", "-1"], "--duration must be a positive number"),
])
def test_bad_options_are_refused(args, message):
    res = subprocess.run(["/usr/bin/python3", str(DEMO), *args],
                         capture_output=True, text=True, timeout=30,
                         check=False)
    assert res.returncode == 2 and message in res.stderr, res.stderr


def test_a_foreign_workdir_is_not_emptied(tmp_path):
    built()
    workdir = tmp_path / "mine"
    workdir.mkdir()
    (workdir / "keep").write_text("precious")
    res = subprocess.run(["/usr/bin/python3", str(DEMO), "--build-dir",
                          str(qfstack.BUILD_DIR), "--workdir", str(workdir),
                          "--listen", f"127.0.0.1:{qfstack.free_port()}",
                          "--duration", "1"],
                         capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 1
    assert "was not made by this demo" in res.stderr
    assert (workdir / "keep").read_text() == "precious"
