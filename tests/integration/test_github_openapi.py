"""qiflow_github against GitHub's own description of its API: the example
bodies of the OpenAPI document (npm @octokit/openapi, pinned in ghkit,
fetched by contrib/dev.sh) are served unchanged, with api.github.com's
headers, through the fake GitHub into the real collectd; the figures must
equal a count made here from the same examples, and every request the
plugin makes must be a documented path with documented query parameters.

The description's issue-list example holds one pull request (#1347); the
plugin asks for an issue's events only for an open blocked issue, so a
second listing page adds one such issue built by the fake (number 1; every
issue example of the description is #1347 too).
"""

import time
import urllib.parse

import pytest

import ghkit
from fake_github import FakeGitHub

REPO_ID = 1296269  # the example repository's id in the description
ISSUES = "/repos/{owner}/{repo}/issues"
COMMITS = "/repos/{owner}/{repo}/commits"
RUNS = "/repos/{owner}/{repo}/actions/runs"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"
EVENTS = "/repos/{owner}/{repo}/issues/{issue_number}/events"
BLOCKED_WORDS = ("blocked", "human")  # the plugin's default BlockedLabels


def serve_examples(gh, blocked_issue):
    """Canned answers: the description's examples for every endpoint the
    plugin calls; returns the listed items and the commit page served."""
    base = f"/repos/{gh.owner}/{gh.repo}"
    hdr = ghkit.GITHUB_HEADERS
    listing = ghkit.example(ISSUES)
    commits = ghkit.example(COMMITS)
    runs = ghkit.example(RUNS)
    pull = ghkit.example(PULL)
    events = ghkit.example(EVENTS)
    page2 = [blocked_issue]
    nxt = (f"{{base}}/repositories/{REPO_ID}/issues?state=all&sort=created"
           f"&direction=asc&per_page=100&page=2")
    gh.serve(base + "/issues", listing, headers=hdr, query={"sort": "created"},
             link=f'<{nxt}>; rel="next", <{nxt}>; rel="last"')
    gh.serve(f"/repositories/{REPO_ID}/issues", page2, headers=hdr,
             query={"page": "2"},
             link=(f'<{{base}}/repositories/{REPO_ID}/issues?state=all'
                   f'&sort=created&direction=asc&per_page=100&page=1>; '
                   f'rel="prev", <{{base}}/repositories/{REPO_ID}/issues?'
                   f'state=all&sort=created&direction=asc&per_page=100'
                   f'&page=1>; rel="first"'))
    gh.serve(base + "/issues", [], headers=hdr, query={"sort": "updated"})
    gh.serve(base + "/commits", commits, headers=hdr)
    gh.serve(base + "/actions/runs", runs, headers=hdr)
    gh.serve(base + r"/pulls/\d+", pull, headers=hdr)
    gh.serve(base + r"/issues/\d+/events", events, headers=hdr)
    return listing + page2, commits, runs


def hand_count(items, commits):
    """The figures, counted from the served bodies by hand."""
    def blocked(it):
        return any(w in (lb if isinstance(lb, str) else lb["name"]).lower()
                   for lb in it["labels"] for w in BLOCKED_WORDS)
    issues = [it for it in items if "pull_request" not in it]
    prs = [it for it in items if "pull_request" in it]
    return {
        "open_issues": sum(it["state"] == "open" for it in issues),
        "open_pull_requests": sum(it["state"] == "open" for it in prs),
        "total_issues": len(issues),
        "completed_issues": sum(it["state"] == "closed" for it in issues),
        "blocked_issues": sum(it["state"] == "open" and blocked(it)
                              for it in issues),
        "recent_commits": len(commits),
        "issue_numbers": sorted((it["number"] for it in issues),
                                reverse=True),
    }


@pytest.fixture(scope="module")
def examples_run(tmp_path_factory):
    """One collectd run over the examples, long enough (1 s cycles) for a
    reconciliation probe (every 12th cycle): (run, fake, items, commits)."""
    ghkit.description()
    gh = FakeGitHub(owner="octocat", repo="Hello-World", repo_id=REPO_ID,
                    idle_timeout=300).start()
    now = time.time()
    issue = gh.add_issue(1, title="Blocked on a decision",
                         labels=["blocked"], created_at=now - 3 * 86400,
                         updated_at=now - 2 * 86400)
    items, commits, _ = serve_examples(gh, issue)
    run = ghkit.Run(tmp_path_factory.mktemp("openapi"), gh).start()
    try:
        run.wait(lambda d: d["github"]["cycles"] >= 14
                 and d["github"]["sync_complete"], timeout=60,
                 message="14 cycles over the examples")
        yield run, gh, items, commits
    finally:
        run.stop()
        gh.stop()
        print(f"--- collectd.log ---\n{run.collectd.log()[-4000:]}")


def test_examples_parse_and_give_the_hand_count(examples_run):
    run, gh, items, commits = examples_run
    doc = run.project()
    want = hand_count(items, commits)
    assert doc["last_error"] is None, doc["last_error"]
    assert doc["github"]["open_issues"] == want["open_issues"]
    assert doc["github"]["open_pull_requests"] == want["open_pull_requests"]
    assert doc["github"]["recent_commits"] == want["recent_commits"]
    for key in ("total_issues", "completed_issues", "blocked_issues"):
        assert doc["completion"][key] == want[key], key
    assert [i["id"] for i in doc["issues"]] == want["issue_numbers"]
    # The example pull request's detail and the blocked issue's events were
    # asked for and parsed (a parse failure would be in last_error).
    pull_num = [it["number"] for it in items if "pull_request" in it][0]
    assert gh.count(rf"/pulls/{pull_num}$", 200) >= 1
    assert gh.count(r"/issues/1/events$", 200) >= 1
    assert gh.count(r"/actions/runs$", 200) >= 1
    assert "unexpected" not in run.collectd.log()


def test_every_request_is_documented(examples_run):
    _, gh, _, _ = examples_run
    seen = set()
    for req in gh.requests_since(0):
        why = ghkit.undocumented(req["method"], req["path"], req["query"])
        assert why is None, why
        seen.add(req["path"].split("/", 4)[-1] if req["path"].startswith(
            "/repos/") else req["path"])
    # Every kind of request the plugin makes ran (listing, since, pages,
    # commits, runs, pull detail, issue events, reconciliation probe).
    queries = [dict(urllib.parse.parse_qsl(r["query"]))
               for r in gh.requests_since(0)]
    assert any(q.get("sort") == "created" for q in queries)
    assert any(q.get("sort") == "updated" and "since" in q for q in queries)
    assert gh.count(f"^/repositories/{REPO_ID}/issues$") >= 2  # page 2, recon
    for path in ("commits", "actions/runs", "pulls/1347", "issues/1/events"):
        assert gh.count(f"/{path}$") >= 1, path


@pytest.mark.parametrize("method,path,query", [
    ("GET", "/repos/o/r/issues", "state=all&per_page=500"),
    ("GET", "/repos/o/r/issues", "state=everything"),
    ("GET", "/repos/o/r/issues", "bogus=1"),
    ("GET", "/repos/o/r/actions/runs", "per_page=fifty"),
    ("GET", "/repos/o/r/issue", ""),
    ("DELETE", "/repos/o/r/commits", ""),
])
def test_the_checker_refuses_undocumented_requests(method, path, query):
    assert ghkit.undocumented(method, path, query) is not None
    assert ghkit.undocumented("GET", "/repos/o/r/issues",
                              "state=all&per_page=100&since="
                              "2024-01-01T00:00:00Z") is None
