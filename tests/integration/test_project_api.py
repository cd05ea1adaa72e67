"""The exporter's project endpoints (/project/completion, /project/issues)
and the github/project/heartbeat sections of /status, /metrics and
/agent/status, from hand-written project.json and heartbeat.json fixtures in
the state directory, served by the real qiflow-exporter next to the real
collectd. Every body is validated against its schema."""

import json
import os
import time

import pytest

import qfstack
from qfstack import validate, wait_until

WAIT = 10
STATUSES = ("ready", "in_progress", "blocked", "done")
TRIGGERS = {  # trigger: priority, as schema/README.md fixes them
    "blocked_too_long": "review", "ci_failures": "critical",
    "ci_failure_rate": "review", "merge_conflict": "critical",
    "human_label": "review"}


def make_issue(number, status, trigger=None, title=None):
    """One project.json issue as qiflow_github writes it."""
    done = status == "done"
    flagged = trigger is not None
    return {
        "id": number,
        "title": title or f"Issue {number}",
        "state": "closed" if done else "open",
        "state_reason": "completed" if done else None,
        "status": status,
        "labels": {"blocked": ["blocked"], "in_progress": ["wip"]}.get(
            status, []),
        "assignees": ["octocat"] if number % 2 else [],
        "github_url": f"https://github.com/owner/repo/issues/{number}",
        "created_at": "2026-11-01T09:00:00Z",
        "updated_at": "2026-11-26T09:00:00Z",
        "closed_at": "2026-11-26T09:00:00Z" if done else None,
        "flagged": flagged,
        "priority": TRIGGERS[trigger] if flagged else None,
        "trigger": trigger,
        "reason": f"{trigger} on #{number}" if flagged else None,
        "blocked_duration_hours": 30.5 if trigger == "blocked_too_long"
        else None,
        "triggers": [trigger] if flagged else [],
        "pull_requests": [],
    }


def make_project(issues, repository="owner/repo", per_day=1.29):
    """A project.json whose figures follow DESIGN.md's rules."""
    counts = {s: sum(1 for i in issues if i["status"] == s)
              for s in STATUSES}
    total = len(issues)
    return {
        "schema_version": 1,
        "updated_at": qfstack.iso_time(),
        "repository": repository,
        "last_sync": qfstack.iso_time(-60),
        "last_error": None,
        "last_error_at": None,
        "sync_age_seconds": 60,
        "github": {"open_issues": total - counts["done"],
                   "open_pull_requests": 4, "recent_commits": 31,
                   "recent_commits_days": 7, "rate_limit_remaining": 4990,
                   "rate_limit_limit": 5000, "rate_limit_reset": None,
                   "requests": 3, "not_modified": 3, "requests_total": 9,
                   "not_modified_total": 6, "errors_total": 0, "cycles": 3,
                   "sync_complete": True},
        "completion": {
            "completion_percentage":
                round(counts["done"] / total * 100) if total else 0,
            "total_issues": total,
            "completed_issues": counts["done"],
            "in_progress_issues": counts["in_progress"],
            "ready_issues": counts["ready"],
            "blocked_issues": counts["blocked"],
            "flagged_issues": sum(1 for i in issues if i["flagged"])},
        "velocity": {"daily": [1, 0, 2, 3, 1, 0, 2], "per_day": per_day,
                     "trend": "increasing", "slope": 0.25},
        "estimated_completion_date": "2026-12-15",
        "issues": sorted(issues, key=lambda i: -i["id"]),
    }


# 30 issues: statuses cycle, five flagged (one per trigger).
FLAGS = {29: "merge_conflict", 26: "blocked_too_long", 17: "human_label",
         12: "ci_failures", 5: "ci_failure_rate"}
ISSUES = [make_issue(n, STATUSES[n % 4], FLAGS.get(n)) for n in range(1, 31)]


def write_json(path, doc):
    """Atomic write (temp + rename), as the plugins' qf_snapshot_write."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One collectd + exporter for the module; tests swap the snapshots."""
    stack = qfstack.Stack(tmp_path_factory.mktemp("project"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        print(stack.evidence())


_STAMPS = [time.time()]


def _stamp():
    """A fresh updated_at per publication, so waiting for it cannot match
    the document served before (two in one second would)."""
    _STAMPS[0] = max(_STAMPS[0] + 1, time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_STAMPS[0]))


def publish(stack, doc):
    """Write project.json and wait until /project/completion serves it."""
    doc["updated_at"] = _stamp()
    validate(doc, "project-snapshot")  # the fixture is what the plugin writes
    write_json(stack.state_dir / "project.json", doc)
    stamp = doc["updated_at"]
    wait_until(lambda: stack.get("/project/completion").json()["data"]
               ["last_updated"] == stamp, WAIT, 0.05, "project.json served")


def issues(stack, query="", status=200):
    resp = stack.get("/project/issues" + (f"?{query}" if query else ""))
    assert resp.status == status, resp
    validate(resp.json(), "project-issues" if status == 200 else "error")
    return resp.json()


def expected_ids(status=None, flagged=None):
    chosen = []
    for issue in sorted(ISSUES, key=lambda i: -i["id"]):
        if status in ("open", "closed") and issue["state"] != status:
            continue
        if status in STATUSES and issue["status"] != status:
            continue
        if flagged is not None and issue["flagged"] != flagged:
            continue
        chosen.append(issue["id"])
    return chosen


@pytest.fixture
def published(stack):
    doc = make_project(ISSUES)
    publish(stack, doc)
    return doc


# ------------------------------------------------------------ before data

def test_before_project_json_everything_is_empty(stack_factory):
    stack = stack_factory()
    doc = stack.get("/project/completion", "project-completion", 200).json()
    assert doc["completion"] is None
    assert doc["issues"] == {"open": None, "closed": None, "total": None}
    assert doc["data"]["issues_requiring_human_intervention"] == []
    assert doc["data"]["velocity"] == {}
    page = issues(stack)["data"]
    assert (page["issues"], page["total"], page["has_more"]) == ([], 0, False)
    for path, name in (("/status", "status"), ("/metrics", "metrics")):
        data = stack.get(path, name, 200).json()["data"]
        assert data["github"] == {"enabled": False} and data["project"] == {}
        assert data["heartbeat"] == {}


# ------------------------------------------------------------ completion

def test_completion_figures_and_both_readings_agree(stack, published):
    doc = stack.get("/project/completion", "project-completion", 200).json()
    data = doc["data"]
    comp = published["completion"]
    for key in ("completion_percentage", "total_issues", "completed_issues",
                "in_progress_issues", "ready_issues", "blocked_issues"):
        assert data[key] == comp[key], key
    assert data["repository"] == "owner/repo"
    assert data["flagged_issues"] == len(FLAGS)
    assert data["estimated_completion_date"] == "2026-12-15"
    assert data["velocity_trend"] == 1.29
    assert data["velocity"] == published["velocity"]
    assert data["last_updated"] == published["updated_at"]
    assert data["last_sync"] == published["last_sync"]
    # The central backend's poller reads the flat fields of the same body.
    assert doc["completion"] == data["completion_percentage"]
    assert doc["issues"] == {
        "open": data["total_issues"] - data["completed_issues"],
        "closed": data["completed_issues"], "total": data["total_issues"]}


def test_flagged_issues_critical_first_with_their_reasons(stack, published):
    data = stack.get("/project/completion", "project-completion",
                     200).json()["data"]
    human = data["issues_requiring_human_intervention"]
    critical = sorted((n for n, t in FLAGS.items()
                       if TRIGGERS[t] == "critical"), reverse=True)
    review = sorted((n for n, t in FLAGS.items()
                     if TRIGGERS[t] == "review"), reverse=True)
    assert [i["id"] for i in human] == critical + review
    for item in human:
        source = next(i for i in published["issues"] if i["id"] == item["id"])
        for key in ("title", "priority", "reason", "trigger",
                    "blocked_duration_hours", "github_url"):
            assert item[key] == source[key], (item["id"], key)


def test_zero_issues_project(stack):
    doc = make_project([], per_day=0.0)
    doc["estimated_completion_date"] = None
    publish(stack, doc)
    body = stack.get("/project/completion", "project-completion", 200).json()
    assert body["completion"] == 0
    assert body["issues"] == {"open": 0, "closed": 0, "total": 0}
    assert body["data"]["issues_requiring_human_intervention"] == []
    assert body["data"]["estimated_completion_date"] is None
    assert issues(stack, "status=open")["data"]["total"] == 0


# ------------------------------------------------------------ issues

@pytest.mark.parametrize("status", [None, "open", "closed", "all", "ready",
                                    "in_progress", "blocked", "done"])
@pytest.mark.parametrize("flagged", [None, True, False])
def test_filters(stack, published, status, flagged):
    query = ["limit=100"]
    if status:
        query.append(f"status={status}")
    if flagged is not None:
        query.append(f"flagged={'true' if flagged else 'false'}")
    data = issues(stack, "&".join(query))["data"]
    want = expected_ids(None if status == "all" else status, flagged)
    assert [i["id"] for i in data["issues"]] == want
    assert data["total"] == len(want) and data["has_more"] is False
    assert data["status"] == (status or "all")
    assert data["flagged"] == flagged


def test_items_carry_the_documented_fields(stack, published):
    data = issues(stack, "status=blocked&flagged=true&limit=1")["data"]
    item = data["issues"][0]
    source = next(i for i in published["issues"] if i["id"] == item["id"])
    for key in ("id", "title", "state", "status", "flagged", "priority",
                "trigger", "reason", "blocked_duration_hours", "labels",
                "assignees", "github_url", "created_at", "updated_at",
                "closed_at"):
        assert item[key] == source[key], key
    assert "pull_requests" not in item and "triggers" not in item


def test_pagination_walks_every_issue_once(stack, published):
    seen, page = [], 1
    while True:
        data = issues(stack, f"page={page}&limit=7")["data"]
        assert data["page"] == page and data["limit"] == 7
        assert data["total"] == len(ISSUES)
        seen += [i["id"] for i in data["issues"]]
        if not data["has_more"]:
            break
        assert len(data["issues"]) == 7
        page += 1
        assert page <= 10, "has_more never turned false"
    assert seen == sorted((i["id"] for i in ISSUES), reverse=True)
    assert page == 5  # 7+7+7+7+2
    beyond = issues(stack, "page=6&limit=7")["data"]
    assert beyond["issues"] == [] and beyond["has_more"] is False
    assert issues(stack)["data"]["limit"] == 20  # the default


BAD = [  # query, the parameter the error must name first
    ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"),
    ("page=1.5", "page"), ("page=", "page"), ("page", "page"),
    ("page=99999999999999999999999", "page"), ("page=1000001", "page"),
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=1e2", "limit"),
    ("limit=%2B5", "limit"), ("limit=5%00", "limit"),
    ("status=opened", "status"), ("status=OPEN", "status"),
    ("status=in-progress", "status"), ("status=", "status"),
    ("flagged=yes", "flagged"), ("flagged=1", "flagged"),
    ("flagged=TRUE", "flagged"), ("flagged", "flagged"),
    ("page=1&page=2", "page"), ("limit=5&status=open&limit=5", "limit"),
    ("flagged=true&flagged=true", "flagged"), ("sort=asc", "sort"),
    ("Page=1", "Page"), ("=1", "query"), ("=", "query"),
    ("&&=1&&", "query"),
]


@pytest.mark.parametrize("query,param", BAD, ids=[b[0] for b in BAD])
def test_bad_parameters_are_400_naming_the_parameter(stack, query, param):
    error = issues(stack, query, status=400)["error"]
    assert error.startswith(f"{param}:"), error


EMPTY = [  # a query with empty parameters, the same without them
    ("?", ""), ("?&", ""), ("?&&", ""), ("?limit=5&", "?limit=5"),
    ("?&limit=5", "?limit=5"), ("?limit=5&&status=open", "?limit=5&status=open"),
    ("?&&&limit=3&&&page=2&&&", "?limit=3&page=2"),
    ("?" + "&" * 40 + "limit=2", "?limit=2"),  # not counted as parameters
]


@pytest.mark.parametrize("query,same", EMPTY, ids=[e[0] for e in EMPTY])
def test_empty_parameters_are_ignored(stack, published, query, same):
    with_gaps = stack.get("/project/issues" + query)
    without = stack.get("/project/issues" + same)
    assert with_gaps.status == without.status == 200, with_gaps
    assert with_gaps.json() == without.json()
    validate(with_gaps.json(), "project-issues")


def test_empty_parameters_are_ignored_on_metrics(stack):
    resp = stack.get("/metrics?&&format=prometheus&")
    assert resp.status == 200, resp
    assert resp.headers["content-type"].startswith("text/plain")


def test_too_many_parameters_is_400(stack):
    query = "&".join(f"p{i}=1" for i in range(40))
    assert issues(stack, query, status=400)["error"].startswith("query:")


def test_head_and_conditional_get(stack, published):
    resp = qfstack.http("HEAD", stack.exporter.url +
                        "/project/issues?status=open")
    assert resp.status == 200 and resp.body == b""
    first = stack.get("/project/issues?status=open&limit=3",
                      "project-issues", 200)
    etag = first.headers["etag"]
    again = stack.get("/project/issues?status=open&limit=3",
                      headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    comp = stack.get("/project/completion", "project-completion", 200)
    assert stack.get("/project/completion", headers={
        "If-None-Match": comp.headers["etag"]}).status == 304


# ------------------------------------------------------------ changes

def test_change_broken_and_removed_project_json(stack, published):
    changed = make_project(ISSUES[:10])
    publish(stack, changed)
    assert issues(stack)["data"]["total"] == 10
    etag = stack.get("/project/completion").headers["etag"]
    # A broken file keeps the last good project, logged once.
    path = stack.state_dir / "project.json"
    tmp = path.with_name(".broken.tmp")
    tmp.write_text('{"schema_version": 1, "issues": [')
    os.replace(tmp, path)
    deadline = time.monotonic() + 2
    wait_until(lambda: "project.json unusable" in stack.exporter.log(), WAIT,
               0.05, "the broken project.json logged")
    while time.monotonic() < deadline:  # several refreshes go by
        assert issues(stack)["data"]["total"] == 10
        time.sleep(0.2)
    assert stack.exporter.log().count("project.json unusable") == 1
    assert stack.get("/project/completion").headers["etag"] == etag
    # Gone: back to "no data yet".
    path.unlink()
    wait_until(lambda: stack.get("/project/completion").json()["completion"]
               is None, WAIT, 0.05, "empty project after removal")
    validate(stack.get("/project/completion").json(), "project-completion")
    assert issues(stack)["data"]["total"] == 0


# ------------------------------------------------------------ sections

HEARTBEAT = {
    "schema_version": 1, "updated_at": "2026-11-27T10:41:00Z",
    "running": True, "swarm_id": "swarm-1", "interval": 60,
    "backends": [{"name": "central",
                  "url": "https://backend.example/api/v1/swarms/heartbeat",
                  "last_success": "2026-11-27T10:41:00Z",
                  "last_attempt": "2026-11-27T10:41:00Z", "last_error": None,
                  "last_status": 200, "spool_depth": 0, "sent": 10,
                  "failed": 0, "retried": 1, "dropped": 0,
                  "last_latency_ms": 42.0}],
    "webhooks": []}


def test_status_metrics_and_agent_status_sections(stack, published):
    write_json(stack.state_dir / "heartbeat.json", HEARTBEAT)
    wait_until(lambda: stack.get("/status").json()["data"]["heartbeat"],
               WAIT, 0.05, "heartbeat section")
    for path, name in (("/status", "status"), ("/metrics", "metrics")):
        data = stack.get(path, name, 200).json()["data"]
        github, project = data["github"], data["project"]
        assert github["repository"] == "owner/repo"
        for key in ("open_issues", "open_pull_requests", "recent_commits",
                    "recent_commits_days", "rate_limit_remaining",
                    "rate_limit_limit"):
            assert github[key] == published["github"][key], key
        assert github["last_sync"] == published["last_sync"]
        assert 55 <= github["sync_age_seconds"] <= 60 + WAIT
        for key, value in published["completion"].items():
            assert project[key] == value, key
        assert project["velocity"] == published["velocity"]
        assert project["updated_at"] == published["updated_at"]
        heartbeat = dict(HEARTBEAT)
        del heartbeat["schema_version"]
        assert data["heartbeat"] == heartbeat
    agent = stack.get("/agent/status", "agent-status", 200).json()["data"]
    assert agent["github_repo"] == "owner/repo"
    # make_project writes no sync_state or unavailable (as an older
    # qiflow_github): unknown state, nothing listed.
    assert agent["github"] == {"repository": "owner/repo",
                               "last_sync": published["last_sync"],
                               "last_error": None, "sync_state": None,
                               "unavailable": []}
    assert agent["interval"] == 60
    assert agent["monitor_url"] == HEARTBEAT["backends"][0]["url"]
    (stack.state_dir / "heartbeat.json").unlink()
    wait_until(lambda: stack.get("/status").json()["data"]["heartbeat"] == {},
               WAIT, 0.05, "heartbeat section gone with its file")


# ------------------------------------------------------------ scale

def test_five_thousand_issues(stack):
    # Only open issues carry flags (qiflow_github clears them on close).
    many = [make_issue(n, STATUSES[n % 4],
                       "blocked_too_long" if n % 97 == 0 and n % 4 != 3
                       else None,
                       title=f"Issue {n} \u00e9\u4e2d \"quoted\" \\ back")
            for n in range(1, 5001)]
    doc = make_project(many)
    publish(stack, doc)
    data = issues(stack, "status=open&limit=100&page=2")["data"]
    open_ids = [i["id"] for i in doc["issues"] if i["state"] == "open"]
    assert data["total"] == len(open_ids)
    assert [i["id"] for i in data["issues"]] == open_ids[100:200]
    assert data["issues"][0]["title"] == \
        f"Issue {open_ids[100]} \u00e9\u4e2d \"quoted\" \\ back"
    flagged_ids = [i["id"] for i in doc["issues"] if i["flagged"]]
    assert len(flagged_ids) > 30
    flagged = issues(stack, "flagged=true&limit=100")["data"]
    assert [i["id"] for i in flagged["issues"]] == flagged_ids
    comp = stack.get("/project/completion", "project-completion", 200).json()
    assert comp["issues"]["total"] == 5000
    assert [i["id"] for i in
            comp["data"]["issues_requiring_human_intervention"]] == \
        flagged_ids
