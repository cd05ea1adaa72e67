"""Issue 15: whatever read the earlier Python agent's API keeps working.

Every response shape of the earlier agent's README
(../shared/reference/earlier-agent-README.md, "API Endpoints") and every
field its code served is listed in EARLIER below, with where it came from,
the JSON type the earlier agent gave it, and the meaning it had. Each is
checked present, with that type, in our responses -- the real collectd with
our built qiflow_agents, qiflow_github (against the fake GitHub) and
qiflow_heartbeat (against the fake central backend), and the real exporter
over HTTP -- and its meaning is checked against a second reading (the fake
GitHub's own count, the agent files, another field that must agree).

The two deliberate differences are in the table too: python_version is null
(no Python runs here; the README's "Missing metrics are returned as empty
values rather than errors"), and with no repository, or before the first
full issue listing, the project numbers are null rather than 0."""

import time

import pytest

import fake_backend
import fake_github
import qfstack
from qfstack import github_conf, heartbeat_plugin_conf, validate, wait_until

WAIT = 25
SWARM = "earlier-clients-swarm"
KEY = "earlier-key"
NUM = (int, float)
NULL = type(None)

# (response, dotted path, the earlier agent's type, where it came from).
# "heartbeat" is the body POSTed to the backend; "item" paths are checked
# on every element of the list before them.
EARLIER = [
    ("/health", "status", str, "README: Health Check"),
    ("/health", "timestamp", str, "README: Health Check"),
    ("/health", "swarm_id", str, "README: Health Check"),
    ("/status", "success", bool, "README: Current Status"),
    ("/status", "data.swarm_id", str, "README: Current Status"),
    ("/status", "data.timestamp", str, "README: Current Status"),
    ("/status", "data.system.hostname", str, "README: Current Status"),
    ("/status", "data.system.platform", str, "README: Current Status"),
    ("/status", "data.system.python_version", NULL,
     "README: Current Status (a string there; null here, documented)"),
    ("/status", "data.resources.cpu_percent", NUM, "README: Current Status"),
    ("/status", "data.resources.memory_percent", NUM,
     "README: Current Status"),
    ("/status", "data.resources.disk_percent", NUM, "README: Current Status"),
    ("/status", "data.agents.active_agents", int, "README: Current Status"),
    ("/status", "data.agents.total_agents", int, "README: Current Status"),
    ("/status", "data.agents.agents_status", list, "code: api_server status"),
    ("/project/completion", "success", bool, "README: Project Completion"),
    ("/project/completion", "data.completion_percentage", int,
     "README: Project Completion"),
    ("/project/completion", "data.total_issues", int,
     "README: Project Completion"),
    ("/project/completion", "data.completed_issues", int,
     "README: Project Completion"),
    ("/project/completion", "data.in_progress_issues", int,
     "README: Project Completion"),
    ("/project/completion", "data.blocked_issues", int,
     "README: Project Completion"),
    ("/project/completion", "data.issues_requiring_human_intervention", list,
     "README: Project Completion"),
    ("/project/completion", "data.issues_requiring_human_intervention.id",
     int, "README: Project Completion"),
    ("/project/completion", "data.issues_requiring_human_intervention.title",
     str, "README: Project Completion"),
    ("/project/completion",
     "data.issues_requiring_human_intervention.priority", str,
     "README: Project Completion"),
    ("/project/completion", "data.estimated_completion_date", str,
     "README: Project Completion"),
    ("/project/completion", "data.velocity_trend", NUM,
     "README: Project Completion (6.2: a number)"),
    ("/project/issues?page=1&limit=20&status=open&flagged=true", "success",
     bool, "README: Project Issues"),
    ("/project/issues?page=1&limit=20&status=open&flagged=true",
     "data.issues", list, "README: Project Issues"),
    ("/project/issues?page=1&limit=20&status=open&flagged=true", "data.page",
     int, "README: Project Issues"),
    ("/project/issues?page=1&limit=20&status=open&flagged=true",
     "data.limit", int, "README: Project Issues"),
    ("/project/issues?page=1&limit=20&status=open&flagged=true",
     "data.total", int, "README: Project Issues"),
    ("/metrics", "success", bool, "README: All Metrics"),
    ("/metrics", "data.swarm_id", str, "README: All Metrics"),
    ("/metrics", "data.timestamp", str, "README: All Metrics"),
    ("/metrics", "data.system", dict, "README: All Metrics"),
    ("/metrics", "data.system.python_version", NULL,
     "README: Metrics Collected, System (null here, documented)"),
    ("/metrics", "data.system.uptime_seconds", int,
     "README: Metrics Collected, System"),
    ("/metrics", "data.agents", dict, "README: All Metrics"),
    ("/metrics", "data.agents.agents_status", list,
     "README: Metrics Collected, Individual agent status; code"),
    ("/metrics", "data.agents.agents_status.name", str, "code"),
    ("/metrics", "data.agents.agents_status.status", str, "code"),
    ("/metrics", "data.github", dict, "README: All Metrics"),
    ("/metrics", "data.github.enabled", bool, "code: github collector"),
    ("/metrics", "data.github.open_issues", int,
     "README: Metrics Collected, GitHub; code"),
    ("/metrics", "data.github.open_prs", int,
     "README: Metrics Collected, GitHub; code"),
    ("/metrics", "data.github.recent_commits", int,
     "README: Metrics Collected, GitHub; code"),
    ("/metrics", "data.resources", dict, "README: All Metrics"),
    ("/metrics", "data.resources.memory_used_gb", NUM,
     "README: Metrics Collected, Resource (GB)"),
    ("/metrics", "data.resources.disk_used_gb", NUM,
     "README: Metrics Collected, Resource (GB)"),
    ("/metrics", "data.project", dict, "README: All Metrics"),
    ("/metrics", "data.project.completion_percentage", int,
     "README: Metrics Collected, Project"),
    ("/metrics", "data.project.issues_requiring_human_intervention", list,
     "README: Metrics Collected, Project; code"),
    ("/metrics", "data.project.estimated_completion_date", str,
     "README: Metrics Collected, Project"),
    ("/metrics", "data.project.velocity_trend", NUM,
     "README: Metrics Collected, Project; code"),
    ("/agent/status", "success", bool, "README: Agent Status"),
    ("/agent/status", "data.running", bool, "README: Agent Status"),
    ("/agent/status", "data.swarm_id", str, "README: Agent Status"),
    ("/agent/status", "data.monitor_url", str, "README: Agent Status"),
    ("/agent/status", "data.interval", NUM, "README: Agent Status"),
    ("/agent/status", "data.github_repo", str, "README: Agent Status"),
    ("heartbeat", "swarm_id", str, "code: heartbeat payload"),
    ("heartbeat", "timestamp", str, "code: heartbeat payload"),
    ("heartbeat", "system.hostname", str, "code: heartbeat payload"),
    ("heartbeat", "system.python_version", NULL,
     "code: heartbeat payload (null here, documented)"),
    ("heartbeat", "resources.cpu_percent", NUM, "code: heartbeat payload"),
    ("heartbeat", "agents.active_agents", int, "code: heartbeat payload"),
    ("heartbeat", "agents.total_agents", int, "code: heartbeat payload"),
    ("heartbeat", "agents.agents_status", list, "code: heartbeat payload"),
    ("heartbeat", "github.enabled", bool, "code: heartbeat payload"),
    ("heartbeat", "github.open_issues", int, "code: heartbeat payload"),
    ("heartbeat", "github.open_prs", int, "code: heartbeat payload"),
    ("heartbeat", "project.completion_percentage", int,
     "code: heartbeat payload"),
    ("heartbeat", "project.issues_requiring_human_intervention", list,
     "code: heartbeat payload"),
    ("heartbeat", "project.velocity_trend", NUM, "code: heartbeat payload"),
]
SCHEMAS = {"/health": "health", "/status": "status",
           "/project/completion": "project-completion", "/metrics": "metrics",
           "/agent/status": "agent-status", "heartbeat": "heartbeat-body"}


def values(doc, path):
    """The values at a dotted path; a list on the way fans out to its
    items (every item must have the rest of the path)."""
    found = [doc]
    for key in path.split("."):
        nxt = []
        for v in found:
            if isinstance(v, list):
                v = [item[key] for item in v]
                nxt.extend(v)
            else:
                assert isinstance(v, dict) and key in v, \
                    f"{path}: no {key!r} in {v!r}"
                nxt.append(v[key])
        found = nxt
    return found


def of_type(value, kind):
    """isinstance, with bool never counting as a number."""
    if isinstance(value, bool) and kind in (NUM, int):
        return False
    return isinstance(value, kind)


def seed(gh):
    """A small repository: work done this week, one issue in progress, one
    blocked, one needing a human, two open pull requests, commits."""
    now = time.time()
    for n in range(1, 5):
        gh.add_issue(n, f"Done {n}", state="closed",
                     created_at=now - 9 * 86400,
                     closed_at=now - n * 86400)
    gh.add_issue(5, "In progress", labels=["in progress"])
    gh.add_issue(6, "Blocked", labels=["blocked"])
    gh.add_issue(7, "Decide the pricing", labels=["needs-human"])
    gh.add_issue(8, "Ready", labels=["ready"])
    gh.add_pr(9, "Fix one", body="Closes #5", branch="fix-one")
    gh.add_pr(10, "Fix two", branch="fix-two")
    gh.add_commits(6, start=now - 600, spacing=3600)


def heartbeat_conf(backend, root):
    """qiflow_heartbeat every second to backend, logging to root/hb-log."""
    return heartbeat_plugin_conf(root, backend.url, SWARM, KEY,
                                 log_dir="hb-log", Timeout=5, RequestLimit=0)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """collectd with all three plugins against the fakes, and the
    exporter; two agents registered."""
    root = tmp_path_factory.mktemp("earlier")
    gh = fake_github.FakeGitHub(owner="owner", repo="repo").start()
    seed(gh)
    backend = fake_backend.FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
    stack = qfstack.Stack(root, extra_plugin_conf=github_conf(
        gh, root / "state") + heartbeat_conf(backend, root))
    try:
        proc = stack.agent_process()
        stack.write_agent("Agent-1", pid=proc.pid, current_task="Fix one",
                          issue_number=5)
        stack.write_agent("Agent-2", status="idle")
        stack.start()
        stack.gh, stack.backend = gh, backend
        wait_until(lambda: ready(stack), WAIT, 0.2,
                   "GitHub synced, agents counted, a heartbeat delivered")
        yield stack
    finally:
        stack.stop()
        gh.stop()
        backend.stop()
        print(stack.evidence())


def ready(stack):
    """Everything the table reads is known once: a synced project, both
    agents, resources and a heartbeat carrying them."""
    doc = stack.get("/metrics").json()["data"]
    if doc["github"].get("last_sync") is None or \
            doc["agents"]["total_agents"] != 2 or \
            doc["resources"]["cpu_percent"] is None:
        return False
    bodies = stack.backend.delivered()
    return bool(bodies) and bodies[-1]["project"].get("total_issues") and \
        bodies[-1]["agents"].get("total_agents") == 2 and \
        "cpu_percent" in bodies[-1]["resources"]


def responses(stack):
    """Each response the table names, parsed (and validated)."""
    got = {}
    for name in sorted({row[0] for row in EARLIER}):
        if name == "heartbeat":
            doc = stack.backend.delivered()[-1]
        else:
            resp = stack.get(name)
            assert resp.status == 200, resp
            doc = resp.json()
        if name.split("?")[0] in SCHEMAS:
            validate(doc, SCHEMAS[name.split("?")[0]])
        got[name] = doc
    return got


def test_every_earlier_field_is_served_with_its_type(full):
    got = responses(full)
    missing = []
    for name, path, kind, where in EARLIER:
        try:
            found = values(got[name], path)
        except AssertionError as exc:
            missing.append(f"{name} {path} ({where}): {exc}")
            continue
        for v in found:
            if not of_type(v, kind):
                missing.append(f"{name} {path} ({where}): {v!r} is not "
                               f"{kind}")
    assert not missing, "\n".join(missing)


def test_meanings_agree_with_their_sources(full):
    got = responses(full)
    status, metrics = got["/status"]["data"], got["/metrics"]["data"]
    body = got["heartbeat"]
    completion = got["/project/completion"]["data"]
    # agents_status: one entry per agent, its name and status.
    for agents in (status["agents"], metrics["agents"], body["agents"]):
        listed = [(a["name"], a["status"]) for a in agents["agent_list"]]
        assert [(a["name"], a["status"]) for a in agents["agents_status"]] \
            == listed
        assert len(agents["agents_status"]) == agents["total_agents"] == 2
    assert sorted(a["status"] for a in metrics["agents"]["agents_status"]) \
        == ["active", "idle"]
    # open_prs is open_pull_requests, GitHub's own count of open PRs.
    for gh in (metrics["github"], status["github"], body["github"]):
        assert gh["enabled"] is True
        assert gh["open_prs"] == gh["open_pull_requests"] == 2
        assert gh["open_issues"] == 4  # 5..8; pull requests excluded
    # velocity_trend: issues closed per day, one number everywhere.
    per_day = completion["velocity"]["per_day"]
    assert per_day > 0
    for trend in (completion["velocity_trend"],
                  metrics["project"]["velocity_trend"],
                  status["project"]["velocity_trend"],
                  body["project"]["velocity_trend"]):
        assert trend == pytest.approx(per_day, abs=0.005)
    assert body["project"]["velocity_direction"] == \
        completion["velocity"]["trend"]
    # The flagged list of /metrics is /project/completion's.
    # (#7 carries needs-human; #6 is blocked for a day, the default limit.)
    flagged = completion["issues_requiring_human_intervention"]
    assert {i["id"] for i in flagged} == {6, 7}
    for project in (metrics["project"], status["project"]):
        assert project["issues_requiring_human_intervention"] == flagged
        assert project["flagged_issues"] == len(flagged)
    # The heartbeat read may predate the sync cycle that fetched #6's
    # events (and so its flag): wait, bounded, for a heartbeat built on
    # the same project.json as the responses above.
    def flagged_in_heartbeat():
        last = full.backend.delivered()[-1]["project"]
        ids = {i["id"] for i in last["issues_requiring_human_intervention"]}
        return ids if ids == {6, 7} else None
    assert wait_until(flagged_in_heartbeat, WAIT,
                      message="the heartbeat lists #6 and #7")
    # python_version: no Python here; the key is kept, null.
    for system in (status["system"], metrics["system"], body["system"]):
        assert system["python_version"] is None
    # /agent/status: the heartbeat loop runs, the exporter too.
    agent = got["/agent/status"]["data"]
    assert agent["running"] is True and agent["exporter_running"] is True
    assert agent["monitor_url"] == full.backend.url
    assert agent["github_repo"] == "owner/repo"
    assert agent["swarm_id"] == body["swarm_id"] == SWARM


def test_heartbeat_body_stays_near_one_kilobyte(full):
    import gzip
    import json
    body = full.backend.delivered()[-1]
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(gzip.compress(raw)) < 1024, len(gzip.compress(raw))


def test_running_follows_the_heartbeat_loop(tmp_path):
    """running is false before qiflow_heartbeat runs and once collectd
    stopped it; exporter_running stays true while the exporter answers."""
    backend = fake_backend.FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
    stack = qfstack.Stack(tmp_path, extra_plugin_conf=heartbeat_conf(
        backend, tmp_path))
    try:
        stack.start()

        def running():
            return stack.get("/agent/status", "agent-status").json()["data"]
        wait_until(lambda: running()["running"] is True, WAIT, 0.1,
                   "running true while the heartbeat loop runs")
        prom = stack.get("/metrics?format=prometheus").text
        assert "\nqiflow_heartbeat_running 1\n" in prom
        stack.collectd.stop()
        data = wait_until(lambda: (lambda d: d if d["running"] is False
                                   else None)(running()), WAIT, 0.1,
                          "running false once collectd stopped")
        assert data["exporter_running"] is True
        assert data["heartbeat"]["running"] is False
        prom = stack.get("/metrics?format=prometheus").text
        assert "\nqiflow_heartbeat_running 0\n" in prom
    finally:
        stack.stop()
        backend.stop()


def test_no_repository_and_never_synced(tmp_path):
    """No repository: github {"enabled": false}, project {} (the README's
    empty values), in the responses and the heartbeat. A repository that
    never finished a listing: enabled, named, its numbers null (not the
    zeros project.json holds until then), the heartbeat's project {}."""
    backend = fake_backend.FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
    stack = qfstack.Stack(tmp_path / "none", extra_plugin_conf=heartbeat_conf(
        backend, tmp_path / "none"))
    try:
        stack.start()
        for path, name in (("/status", "status"), ("/metrics", "metrics")):
            data = stack.get(path, name, 200).json()["data"]
            assert data["github"] == {"enabled": False}
            assert data["project"] == {}
            assert data["system"]["python_version"] is None
        body = backend.wait_for(lambda f: f.delivered(), WAIT)[-1]
        validate(body, "heartbeat-body")
        assert body["github"] == {"enabled": False} and body["project"] == {}
    finally:
        stack.stop()
    # A GitHub that answers every listing with 500: never synced.
    gh = fake_github.FakeGitHub(owner="owner", repo="repo").start()
    seed(gh)
    gh.fault(r"/repos/owner/repo/issues$", "status", status=500, times=None)
    root = tmp_path / "never"
    stack = qfstack.Stack(root, extra_plugin_conf=github_conf(
        gh, root / "state") + heartbeat_conf(backend, root))
    try:
        stack.start()
        data = wait_until(
            lambda: (lambda d: d if d["github"].get("enabled") else None)(
                stack.get("/metrics", "metrics").json()["data"]),
            WAIT, 0.2, "project.json written before any listing finished")
        assert (root / "state" / "project.json").exists()
        gh_section, project = data["github"], data["project"]
        assert gh_section["repository"] == "owner/repo"
        assert gh_section["last_sync"] is None
        assert gh_section["open_issues"] is None
        assert gh_section["open_prs"] is None
        assert project["completion_percentage"] is None
        assert project["total_issues"] is None
        assert project["velocity_trend"] is None
        doc = stack.get("/project/completion", "project-completion").json()
        assert doc["completion"] is None and doc["data"]["total_issues"] \
            is None
        n = len(backend.delivered())
        body = backend.wait_for(lambda f: f.delivered()[n:], WAIT)[-1]
        validate(body, "heartbeat-body")
        assert body["github"]["enabled"] is True
        assert "open_issues" not in body["github"]
        assert body["project"] == {}
    finally:
        stack.stop()
        gh.stop()
        backend.stop()
