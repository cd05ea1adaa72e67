"""What qiflow_github says about its sync reaches the exporter's doors (issue
14): a part GitHub refuses with a permission 403 (a fine-grained token
without Actions read access on actions/runs) is listed as unavailable, with
GitHub's reason, in /project/completion, /agent/status, /status and the
Prometheus scrape (qiflow_github_part_available, checked by promtool); a
repository never synced says sync_state "never" there, and once it syncs
empty it says "ok" with zeros. The real collectd runs the built plugin every
second against the fake GitHub; the real exporter reads its project.json.
"""

import re
import subprocess
import time

import pytest

import ghkit
import qfstack
from ghkit import gh  # noqa: F401 (the fake GitHub fixture)

DAY = 86400
RUNS = "/repos/acme/widgets/actions/runs"
FINE_GRAINED = "Resource not accessible by personal access token"


@pytest.fixture
def stack(tmp_path, gh):
    """stack() -> (run, exporter): collectd with qiflow_github and the
    exporter on its socket and StateDir, started once the fake GitHub is
    set up, stopped afterwards."""
    started = []

    def start():
        run = ghkit.Run(tmp_path / "run", gh)
        started.append(run)
        run.start()
        exporter = qfstack.Exporter(run.collectd.socket, run.state_dir,
                                    refresh_ms=200)
        started.append(exporter)
        return run, exporter.start()

    yield start
    for part in reversed(started):
        part.stop()
        log = part.log() if isinstance(part, qfstack.Exporter) \
            else part.collectd.log()
        print(f"--- {type(part).__name__} ---\n{log[-3000:]}")


def two_issues_and_a_pull_request(gh):
    now = time.time()
    gh.add_issue(1, labels=["in progress"], created_at=now - 3 * DAY)
    gh.add_issue(2, state="closed", created_at=now - 3 * DAY,
                 updated_at=now - DAY, closed_at=now - DAY)
    gh.add_pr(3, body="Fixes #1", branch="feature/issue-1",
              created_at=now - 2 * DAY)
    gh.add_run("feature/issue-1", "failure", pr=3, created_at=now - 3600)
    gh.add_commits(2)


def served(exporter, path, schema, predicate, timeout=15):
    """GET path until predicate(body) holds; that body, validated."""
    def check():
        resp = exporter.get(path)
        if resp.status != 200:
            return None
        body = resp.json()
        return body if predicate(body) else None
    try:
        body = qfstack.wait_until(check, timeout, 0.1, f"{path} as expected")
    except qfstack.WaitTimeout as exc:
        raise AssertionError(
            f"{exc}\nlast body: {exporter.get(path).text[:2000]}") from None
    return qfstack.validate(body, schema)


def scrape(exporter):
    """The Prometheus text of /metrics, checked by promtool."""
    resp = exporter.get("/metrics?format=prometheus")
    assert resp.status == 200, resp
    text = resp.text
    res = subprocess.run(["promtool", "check", "metrics"], input=text,
                         capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return text


def samples(text, family, label):
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        rf'^{family}\{{{label}="([a-z_]+)"\}} (\S+)$', text, re.M)}


def test_fine_grained_403_on_runs_is_served_as_unavailable(gh, stack):
    two_issues_and_a_pull_request(gh)
    gh.serve(RUNS, {"message": FINE_GRAINED,
                    "documentation_url": "https://docs.github.com/rest"},
             status=403)
    run, exporter = stack()
    doc = run.wait(lambda d: d["sync_state"] == "ok"
                   and d["github"]["unavailable"],
                   message="ci_runs unavailable, the rest synced")
    [gone] = doc["github"]["unavailable"]
    assert gone["part"] == "ci_runs" and FINE_GRAINED in gone["reason"]

    body = served(exporter, "/project/completion", "project-completion",
                  lambda b: b["data"]["unavailable"])
    data = body["data"]
    assert data["unavailable"] == [gone]  # reason, since, retry_at as written
    assert data["sync_state"] == "ok"
    assert data["total_issues"] == 2 and body["issues"]["total"] == 2

    agent = served(exporter, "/agent/status", "agent-status",
                   lambda b: b["data"]["github"].get("unavailable"))
    assert agent["data"]["github"]["unavailable"] == [gone]
    assert agent["data"]["github"]["sync_state"] == "ok"
    assert agent["data"]["github"]["last_error"] is None

    status = served(exporter, "/status", "status",
                    lambda b: b["data"]["github"].get("unavailable"))
    assert status["data"]["github"]["unavailable"] == [gone]

    text = scrape(exporter)
    assert samples(text, "qiflow_github_part_available", "part") == {
        "ci_runs": 0, "pull_request_detail": 1, "issue_events": 1}, text
    assert samples(text, "qiflow_github_sync_state", "state") == {
        "never": 0, "ok": 1, "failing": 0}, text


def test_never_synced_is_served_as_never_then_empty_as_ok(gh, stack):
    gh.serve(".*", {"message": "Server Error"}, status=500)
    run, exporter = stack()
    run.wait(lambda d: d["last_error"] is not None,
             message="a failing first cycle")

    body = served(exporter, "/project/completion", "project-completion",
                  lambda b: b["data"]["sync_state"] == "never")
    data = body["data"]
    assert data["repository"] == "acme/widgets"
    assert data["total_issues"] is None and body["completion"] is None
    assert body["issues"] == {"open": None, "closed": None, "total": None}
    assert data["last_sync"] is None and data["unavailable"] == []
    agent = served(exporter, "/agent/status", "agent-status",
                   lambda b: b["data"]["github"].get("sync_state") == "never")
    assert "HTTP 500" in agent["data"]["github"]["last_error"]
    status = served(exporter, "/status", "status",
                    lambda b: b["data"]["github"].get("sync_state")
                    == "never")
    assert status["data"]["github"]["open_issues"] is None
    text = scrape(exporter)
    assert samples(text, "qiflow_github_sync_state", "state") == {
        "never": 1, "ok": 0, "failing": 0}, text
    assert "qiflow_github_open_issues" not in text

    gh.clear_canned()  # an empty repository answers
    body = served(exporter, "/project/completion", "project-completion",
                  lambda b: b["data"]["sync_state"] == "ok", timeout=40)
    assert body["data"]["total_issues"] == 0
    assert body["issues"] == {"open": 0, "closed": 0, "total": 0}
    assert body["data"]["last_sync"] is not None
    agent = served(exporter, "/agent/status", "agent-status",
                   lambda b: b["data"]["github"].get("sync_state") == "ok")
    assert agent["data"]["github"]["last_error"] is None
    text = scrape(exporter)
    assert samples(text, "qiflow_github_sync_state", "state")["ok"] == 1
    assert re.search(r"^qiflow_github_open_issues 0$", text, re.M), text
