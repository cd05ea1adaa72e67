"""qiflow_anomaly with the real collectd, qiflow_agents, qiflow_heartbeat
(to the fake central backend) and the real exporter, on a short
configuration (seconds-scale floors): a stuck agent and a stalled swarm each
raise one FAILURE notification, show in anomalies.json, /status,
/project/completion, the Prometheus scrape and the heartbeat, survive a
collectd restart without a second notification, and clear (OKAY) when the
agent finishes and an issue closes. Plus the configuration errors."""

import json
import re
import subprocess
import time

import pytest

import qfstack
from fake_backend import FakeBackend
from fake_github import FakeGitHub
from qfstack import anomaly_conf, github_conf, heartbeat_plugin_conf

SWARM = "swarm-anomaly-1"
KEY = "test-key-anomaly"

# Seconds-scale thresholds: stuck after 4 s on a task (nothing learned
# yet), stalled after 3 s (and 3 agent-seconds) without progress. The
# other detectors need days of history and stay off here.
ANOMALY_OPTIONS = """  StuckUnlearned 4
  StuckFloor 1
  StallFloor 3
  StallFloorAgent 3
  LoopingAgent false
  VelocityDrop false
  CIFailureSpike false
  RunningOut false"""


def heartbeat_conf(root, url):
    """qiflow_heartbeat every second to url, quick retries, no pacing."""
    return heartbeat_plugin_conf(root, url, SWARM, KEY, Timeout=2, Retries=3,
                                 RetryDelay=0.3, RequestLimit=0)


def project_doc(closed_at=None):
    """A project.json as qiflow_github writes it: issue 7 open, issue 8
    closed at closed_at (open while None)."""
    def issue(n, closed):
        return {"id": n, "title": f"Issue {n}",
                "state": "closed" if closed else "open",
                "state_reason": "completed" if closed else None,
                "status": "done" if closed else "in_progress",
                "labels": [], "assignees": [],
                "github_url": f"https://github.com/o/r/issues/{n}",
                "created_at": "2026-11-01T09:00:00Z", "updated_at": None,
                "closed_at": closed, "flagged": False, "priority": None,
                "trigger": None, "reason": None,
                "blocked_duration_hours": None, "triggers": [],
                "pull_requests": []}
    now = qfstack.iso_time()
    done = 1 if closed_at else 0
    return {"schema_version": 1, "updated_at": now, "repository": "o/r",
            "last_sync": now,
            "github": {"open_issues": 2 - done, "open_pull_requests": 0,
                       "recent_commits": 0, "recent_commits_days": 7},
            "completion": {"completion_percentage": 50.0 if done else 0,
                           "total_issues": 2, "completed_issues": done,
                           "in_progress_issues": 2 - done,
                           "ready_issues": 0, "blocked_issues": 0,
                           "flagged_issues": 0},
            "velocity": {"daily": [0] * 7, "per_day": 0.0,
                         "trend": "stable", "slope": 0.0},
            "estimated_completion_date": None,
            "issues": [issue(8, closed_at), issue(7, None)]}


def write_snapshot(path, doc):
    """Atomic write (temp + rename), as qf_snapshot_write does."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)


def failures(stack, kind, severity="FAILURE"):
    return [n for n in stack.collectd.notifications()
            if n.get("plugin") == "qiflow_anomaly"
            and n.get("plugin_instance") == kind
            and n.get("severity") == severity]


def prom_active(stack, lint=False):
    """qiflow_anomalies_active by kind from the Prometheus scrape (checked
    by promtool when lint)."""
    text = stack.get("/metrics?format=prometheus", status=200).text
    if lint:
        res = subprocess.run(["promtool", "check", "metrics"], input=text,
                             capture_output=True, text=True, timeout=60,
                             check=False)
        assert res.returncode == 0, res.stdout + res.stderr
        assert re.search(r'^qiflow_anomaly_since_timestamp_seconds\{kind='
                         r'"stuck_agent",subject="alpha",issue="7"\} \d+',
                         text, re.M), text
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^qiflow_anomalies_active\{kind="([a-z_]+)"\} (\S+)$', text, re.M)}


def kinds(doc_list):
    return sorted({a["kind"] for a in doc_list})


@pytest.fixture
def backend():
    fake = FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
    yield fake
    fake.stop()


def test_stuck_agent_and_stalled_swarm_raise_show_survive_and_clear(
        tmp_path, backend):
    state = tmp_path / "state"
    state.mkdir()
    write_snapshot(state / "project.json", project_doc())
    extra = anomaly_conf(state, ANOMALY_OPTIONS) + \
        heartbeat_conf(tmp_path, backend.url)
    stack = qfstack.Stack(tmp_path, process_check=False,
                          extra_plugin_conf=extra)
    stack.write_agent("alpha", status="active", current_task="Issue 7",
                      issue_number=7, task_started_at=qfstack.iso_time())
    with stack:
        try:
            run_scenario(stack, backend, state)
        except Exception:
            print(stack.evidence())
            raise


def run_scenario(stack, backend, state):
    # 1. Both raise exactly one FAILURE notification with the reason.
    qfstack.wait_until(lambda: failures(stack, "stuck_agent")
                       and failures(stack, "stalled_swarm"), 25, 0.2,
                       "stuck_agent and stalled_swarm FAILUREs")
    stuck = failures(stack, "stuck_agent")[0]
    assert stuck["type_instance"] == "alpha"
    assert stuck["message"].startswith("stuck_agent alpha (issue #7): alpha "
                                       "has worked on issue #7 for")
    stall = failures(stack, "stalled_swarm")[0]
    assert "No commit, pull request or closed issue for" in stall["message"]

    # 2. anomalies.json and the history are schema-valid.
    snap = qfstack.read_json(state / "anomalies.json")
    qfstack.validate(snap, "anomalies-snapshot")
    qfstack.validate(qfstack.read_json(state / "anomaly-history.json"),
                     "anomaly-history")
    assert kinds(snap["anomalies"]) == ["stalled_swarm", "stuck_agent"]

    # 3. /status lists them; /project/completion and /metrics list issue 7
    # among the issues needing a human, with the detector's reason.
    def status_lists():
        body = stack.get("/status", "status", status=200).json()
        return kinds(body["data"]["anomalies"]) == ["stalled_swarm",
                                                    "stuck_agent"] and body
    body = qfstack.wait_until(status_lists, 10, 0.2, "anomalies in /status")
    entry = next(a for a in body["data"]["anomalies"]
                 if a["kind"] == "stuck_agent")
    assert entry["subject"] == "alpha" and entry["issue"] == 7
    assert entry["observed"] > entry["baseline"] if entry["baseline"] \
        else entry["observed"] >= 4

    def completion_lists():
        comp = stack.get("/project/completion", "project-completion",
                         status=200).json()
        return [i for i in comp["data"]["issues_requiring_human_intervention"]
                if i["trigger"] == "stuck_agent"]
    human = qfstack.wait_until(completion_lists, 10, 0.2,
                               "issue 7 needing a human")
    assert human[0]["id"] == 7 and human[0]["priority"] == "review"
    assert human[0]["reason"].startswith("alpha has worked on issue #7")
    assert human[0]["github_url"] == "https://github.com/o/r/issues/7"
    metrics = stack.get("/metrics", "metrics", status=200).json()
    assert 7 in [i["id"] for i in metrics["data"]["project"]
                 ["issues_requiring_human_intervention"]]

    # 4. The Prometheus scrape counts them per kind.
    active = prom_active(stack, lint=True)
    assert active["stuck_agent"] == 1 and active["stalled_swarm"] == 1
    assert active["running_out"] == 0

    # 5. The heartbeat carries the count and the first ones.
    def hb_with(count):
        def pred(fake):
            got = [b for b in fake.delivered()
                   if b.get("anomalies", {}).get("count") == count]
            return got and got[-1]
        return pred
    hb = backend.wait_for(hb_with(2), 15)
    assert hb, "a heartbeat with 2 anomalies"
    qfstack.validate(hb, "heartbeat-body")
    assert kinds(hb["anomalies"]["active"]) == ["stalled_swarm",
                                                "stuck_agent"]

    # 6. A collectd restart keeps them active without notifying again.
    stack.collectd.stop()
    stack.collectd.start()
    stack.wait_reads(3)
    snap = qfstack.read_json(state / "anomalies.json")
    assert kinds(snap["anomalies"]) == ["stalled_swarm", "stuck_agent"]
    assert len(failures(stack, "stuck_agent")) == 1
    assert len(failures(stack, "stalled_swarm")) == 1
    assert "history of" in stack.collectd.log()

    # 7. The agent finishes and an issue closes: both end with one OKAY.
    stack.write_agent("alpha", status="idle")
    write_snapshot(state / "project.json",
                   project_doc(closed_at=qfstack.iso_time()))
    qfstack.wait_until(lambda: failures(stack, "stuck_agent", "OKAY")
                       and failures(stack, "stalled_swarm", "OKAY"), 15,
                       0.2, "stuck_agent and stalled_swarm OKAYs")
    ended = failures(stack, "stuck_agent", "OKAY")[0]
    assert ended["message"].startswith("ended: stuck_agent alpha (issue #7)")
    qfstack.wait_until(
        lambda: stack.get("/status", "status").json()["data"]["anomalies"]
        == [], 10, 0.2, "no anomalies in /status")
    assert prom_active(stack)["stuck_agent"] == 0
    comp = stack.get("/project/completion", "project-completion").json()
    assert comp["data"]["issues_requiring_human_intervention"] == []
    assert backend.wait_for(hb_with(0), 15), "a heartbeat with 0 anomalies"
    stack.wait_reads(3)
    assert len(failures(stack, "stuck_agent")) == 1
    assert len(failures(stack, "stalled_swarm")) == 1


# CI only: a baseline of the day before, a window of the last 2 hours.
CI_OPTIONS = """  StuckAgent false
  LoopingAgent false
  StalledSwarm false
  VelocityDrop false
  RunningOut false
  CIBaseline 86400"""


def test_ci_failure_spike_from_github_runs_raises_shows_and_clears(tmp_path):
    """Workflow runs served by the fake GitHub reach the detector through
    qiflow_github's project.json ci_runs: 25 passing runs over the day
    before, then 5 failures now raise one FAILURE and show in /status; 40
    passing runs now bring the rate back and it ends with one OKAY."""
    gh = FakeGitHub(idle_timeout=120).start()
    now = time.time()
    for i in range(25):
        gh.add_run("main", "success", created_at=now - 5 * 3600 - i * 1800)
    for i in range(5):
        gh.add_run("feature/issue-7", "failure", created_at=now - 60 + i)
    state = tmp_path / "state"
    state.mkdir()
    extra = anomaly_conf(state, CI_OPTIONS) + \
        github_conf(gh, state, interval=1, timeout=5)
    stack = qfstack.Stack(tmp_path, process_check=False,
                          extra_plugin_conf=extra)
    try:
        with stack:
            try:
                ci_scenario(stack, gh, state)
            except Exception:
                print(stack.evidence())
                raise
    finally:
        gh.stop()


def ci_scenario(stack, gh, state):
    qfstack.wait_until(lambda: failures(stack, "ci_failure_spike"), 20, 0.2,
                       "a ci_failure_spike FAILURE")
    spike = failures(stack, "ci_failure_spike")[0]
    assert spike["message"].startswith("ci_failure_spike ci: 5 of 5 workflow "
                                       "runs failed"), spike["message"]
    project = qfstack.read_json(state / "project.json")
    qfstack.validate(project, "project-snapshot")
    assert len(project["ci_runs"]) == 30
    assert [r["failed"] for r in project["ci_runs"][:6]] == [True] * 5 + \
        [False]
    qfstack.validate(qfstack.read_json(state / "anomaly-history.json"),
                     "anomaly-history")

    def status_lists():
        body = stack.get("/status", "status", status=200).json()
        return [a for a in body["data"]["anomalies"]
                if a["kind"] == "ci_failure_spike"]
    entry = qfstack.wait_until(status_lists, 10, 0.2,
                               "ci_failure_spike in /status")[0]
    assert entry["subject"] == "ci" and entry["observed"] == 1.0
    assert entry["baseline"] == 0.0

    now = time.time()
    for i in range(40):
        gh.add_run("main", "success", created_at=now - 30 + i * 0.5)
    qfstack.wait_until(lambda: failures(stack, "ci_failure_spike", "OKAY"),
                       20, 0.2, "the ci_failure_spike OKAY")
    qfstack.wait_until(
        lambda: stack.get("/status", "status").json()["data"]["anomalies"]
        == [], 10, 0.2, "no anomalies in /status")
    history = qfstack.read_json(state / "anomaly-history.json")
    assert history["feed"]["ci_until"] is not None
    assert sum(history["ci_per_hour"]["runs"]) == 70
    stack.wait_reads(3)
    assert len(failures(stack, "ci_failure_spike")) == 1


@pytest.mark.parametrize("options,message", [
    ("  StuckFloorr 5", 'unknown option "StuckFloorr"'),
    ("  StallQuantile 1.5", "StallQuantile must lie in (0, 1)"),
    ("  StuckMinTasks 2.5", "StuckMinTasks"),
    ("  StuckAgent maybe", "StuckAgent"),
])
def test_configuration_errors_are_refused(tmp_path, options, message):
    """A bad <Plugin qiflow_anomaly> key or value stops collectd's start of
    the plugin with a message naming the key."""
    conf = anomaly_conf(tmp_path / "state", options)
    collectd = qfstack.Collectd(tmp_path / "collectd", conf)
    try:
        collectd.start()
    except RuntimeError:
        pass
    try:
        qfstack.wait_until(lambda: message in collectd.log(), 10, 0.1,
                           f"the message {message!r}")
        assert "qiflow_anomaly plugin:" in collectd.log()
    finally:
        collectd.stop()
