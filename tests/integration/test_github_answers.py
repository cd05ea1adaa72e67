"""qiflow_github against the answers real GitHub gives that our fake did not:
a renamed repository's 301, the three permission 403s (missing scope, SAML
enforcement, IP allow-list) told apart from rate limits (403 with
remaining 0, the secondary-limit message, 429 with and without
retry-after), 404, 422 with its errors[], 401 and 5xx, a workflow run with
status null, a page over the 16 MiB body limit, never-synced versus empty,
and the field variations real issues carry. Each test shows what the plugin
does (project.json, the requests the fake received) and what it logs.
The real collectd runs the built plugin every second.
"""

import re
import time

import pytest

import ghkit
import qfstack
from fake_github import FakeGitHub
from ghkit import gh  # noqa: F401 (the fake GitHub fixture)

DAY = 86400
DOCS = "https://docs.github.com/rest"
REPO = "/repos/acme/widgets"


@pytest.fixture
def start(tmp_path, gh):
    """start(fake=gh, **plugin_conf) -> a started ghkit.Run."""
    made = []

    def make(fake=None, **conf):
        run = ghkit.Run(tmp_path / f"run{len(made)}", fake or gh, **conf)
        made.append(run)
        return run.start()

    yield make
    for run in made:
        run.stop()
        print(run.evidence())


def small_repo(gh):
    """Three issues (one blocked with its label event, one closed, one in
    progress), a pull request for the third with a failed run, commits."""
    now = time.time()
    gh.add_issue(1, labels=["blocked"], created_at=now - 5 * DAY,
                 updated_at=now - 4 * DAY)
    gh.add_label_event(1, "blocked", now - 4 * DAY)
    gh.add_issue(2, state="closed", created_at=now - 5 * DAY,
                 updated_at=now - DAY, closed_at=now - DAY)
    gh.add_issue(3, labels=["in progress"], created_at=now - 3 * DAY)
    gh.add_pr(4, body="Fixes #3", branch="feature/issue-3",
              created_at=now - 2 * DAY)
    gh.add_run("feature/issue-3", "failure", pr=4, created_at=now - 3600)
    gh.add_commits(2)


def synced(doc, cycles=0):
    return doc["sync_state"] == "ok" and doc["github"]["cycles"] >= cycles


def cycles_later(run, n):
    start = run.project(validate=False)["github"]["cycles"]
    return run.wait(lambda d: d["github"]["cycles"] >= start + n,
                    timeout=n * 3 + 20, message=f"{n} more cycles")


# ------------------------------------------------------------------ 301


def test_moved_repository_is_followed_and_told_once(gh, start):
    small_repo(gh)
    gh.move_from("old-owner/widgets")
    run = start(repository="old-owner/widgets")
    doc = run.wait(lambda d: synced(d, 4), message="synced through 301s")
    assert doc["last_error"] is None
    assert doc["completion"]["total_issues"] == 3
    assert doc["github"]["open_pull_requests"] == 1
    assert gh.count(r"^/repos/old-owner/widgets/", 301) >= 4
    followed = [r for r in gh.requests_since(0)
                if r["path"].startswith("/repositories/4242/")]
    assert followed and all(r["auth"] == "Bearer t0ken-for-tests"
                            for r in followed)  # same origin: token kept
    cycles_later(run, 3)
    told = ("GitHub moved old-owner/widgets to acme/widgets (HTTP 301 to "
            f"{gh.url}/repositories/4242/")
    assert run.log_count(told) == 1, run.collectd.log()[-3000:]
    assert 'set Repository "acme/widgets"' in run.collectd.log()


def test_redirect_to_another_origin_is_not_followed(gh, start):
    other = FakeGitHub(idle_timeout=120).start()
    try:
        small_repo(gh)
        gh.move_from("acme/widgets", base=other.url)
        run = start()
        doc = run.wait(lambda d: d["last_error"] is not None,
                       message="the refused redirect")
        # The first failing URL (the listing) is named, not a later one.
        assert doc["last_error"].startswith(f"{gh.url}{REPO}/issues"), \
            doc["last_error"]
        assert f"HTTP 301 to {other.url}/repositories/4242/issues" in \
            doc["last_error"]
        assert "not followed (the token is only sent to APIURL)" in \
            doc["last_error"]
        assert doc["sync_state"] == "never" and doc["last_sync"] is None
        cycles_later(run, 3)
        assert other.requests_since(0) == []  # never contacted
    finally:
        other.stop()


# ------------------------------------------------------------------ 403

PERMISSION = [
    ("ci_runs", REPO + "/actions/runs",
     "Resource not accessible by personal access token"),
    ("pull_request_detail", REPO + r"/pulls/\d+",
     "Resource protected by organization SAML enforcement. You must grant "
     "your Personal Access token access to this organization."),
    ("issue_events", REPO + r"/issues/\d+/events",
     "Although you appear to have the correct authorization credentials, "
     "the `acme` organization has an IP allow list enabled, and your IP "
     "address is not permitted to access this resource."),
]
PARTS = {"ci_runs": REPO + "/actions/runs",
         "pull_request_detail": REPO + r"/pulls/\d+",
         "issue_events": REPO + r"/issues/\d+/events"}


@pytest.mark.parametrize("part,path,message", PERMISSION,
                         ids=[p[0] for p in PERMISSION])
def test_permission_403_costs_only_its_part(gh, start, part, path, message):
    small_repo(gh)
    gh.serve(path, {"message": message, "documentation_url": DOCS},
             status=403)
    run = start()
    doc = run.wait(lambda d: synced(d, 3) and d["github"]["unavailable"],
                   message=f"{part} unavailable, the rest synced")
    assert doc["last_error"] is None
    [gone] = doc["github"]["unavailable"]
    assert gone["part"] == part and message in gone["reason"]
    assert "HTTP 403" in gone["reason"]
    assert (qfstack.parse_time(gone["retry_at"])
            - qfstack.parse_time(gone["since"])) == 3600
    # The rest of the cycle went on: the other parts were asked and used.
    for other, other_path in PARTS.items():
        if other != part:
            assert gh.count(other_path + "$", 200) >= 1, other
    assert doc["completion"]["total_issues"] == 3
    assert doc["completion"]["blocked_issues"] == 1
    cycles_later(run, 4)
    assert gh.count(path + "$", 403) == 1  # re-asked hourly, not per cycle
    assert run.log_count("(a permission error, not a rate limit): "
                         f"{part} unavailable") == 1
    assert "waiting until" not in run.collectd.log()


def test_permission_403_on_the_issue_list_is_an_error(gh, start):
    small_repo(gh)
    gh.serve(REPO + "/issues", {
        "message": "Resource not accessible by personal access token",
        "documentation_url": DOCS}, status=403)
    run = start()
    doc = run.wait(lambda d: d["last_error"] is not None)
    assert "HTTP 403: Resource not accessible by personal access token " \
           "(a permission error, not a rate limit" in doc["last_error"]
    assert doc["sync_state"] == "never"
    before = gh.count(REPO + "/issues$")
    cycles_later(run, 8)
    assert gh.count(REPO + "/issues$") - before <= 4  # backing off


RATE_LIMITS = [
    ("403-remaining-0", REPO + "/issues", 403,
     "API rate limit exceeded for user ID 1.", {"x-ratelimit-remaining": "0",
                                                "x-ratelimit-reset": 600}, 600),
    ("403-secondary-on-runs", REPO + "/actions/runs", 403,
     "You have exceeded a secondary rate limit. Please wait a few minutes "
     "before you try again.", {}, 60),
    ("429-retry-after", REPO + "/issues", 429,
     "You have exceeded a secondary rate limit.", {"Retry-After": "30"}, 30),
    ("429-without-retry-after", REPO + "/issues", 429,
     "You have exceeded a secondary rate limit.", {}, 60),
]


@pytest.mark.parametrize("path,status,message,headers,wait",
                         [r[1:] for r in RATE_LIMITS],
                         ids=[r[0] for r in RATE_LIMITS])
def test_rate_limits_wait(gh, start, path, status, message, headers, wait):
    small_repo(gh)
    headers = {k: (str(int(time.time()) + v) if k == "x-ratelimit-reset"
                   else v) for k, v in headers.items()}
    gh.serve(path, {"message": message, "documentation_url": DOCS},
             status=status, headers=headers)
    run = start()
    doc = run.wait(lambda d: d["last_error"] is not None
                   and "waiting until" in d["last_error"])
    assert f"HTTP {status}: {message}; waiting until" in doc["last_error"]
    until = qfstack.parse_time(doc["last_error"].rsplit(" ", 1)[1])
    assert abs(until - (time.time() + wait)) < 6, doc["last_error"]
    assert doc["github"]["unavailable"] == []  # not taken for a permission
    sent = len(gh.requests_since(0))
    cycles_later(run, 4)
    assert len(gh.requests_since(0)) == sent  # nothing sent while waiting


# ------------------------------------------------------- 404 422 401 5xx

ERRORS = [
    (404, {"message": "Not Found", "documentation_url": DOCS},
     "unexpected HTTP 404: Not Found"),
    (422, {"message": "Validation Failed", "errors": [
        {"resource": "Issue", "field": "since", "code": "invalid"}],
        "documentation_url": DOCS},
     "unexpected HTTP 422: Validation Failed [Issue since invalid]"),
    (401, {"message": "Bad credentials", "documentation_url": DOCS},
     "unexpected HTTP 401: Bad credentials"),
    (500, {"message": "Server Error"}, "HTTP 500"),
    (503, {"message": "Service Unavailable"}, "HTTP 503"),
]


@pytest.mark.parametrize("status,body,logged", ERRORS,
                         ids=[str(e[0]) for e in ERRORS])
def test_error_answers_are_logged_and_backed_off(gh, start, status, body,
                                                 logged):
    small_repo(gh)
    gh.serve(REPO + "/issues", body, status=status)
    run = start()
    doc = run.wait(lambda d: d["last_error"] is not None)
    assert doc["last_error"].startswith(f"{gh.url}{REPO}/issues")
    assert logged in doc["last_error"]
    assert doc["sync_state"] == "never"
    before = gh.count(REPO + "/issues$")
    cycles_later(run, 8)
    # Without back-off: 8 requests; waits of 0, 1, 3, 7 intervals: <= 4.
    assert gh.count(REPO + "/issues$") - before <= 4
    assert run.log_count(logged) == 1


# ------------------------------------------------------------ bodies


def test_run_with_null_status_counts_as_pending(gh, start):
    small_repo(gh)
    gh.add_run("feature/issue-3", None, pr=4, status=None,
               created_at=time.time() - 60)
    run = start()
    doc = run.wait(lambda d: synced(d, 3))
    assert doc["last_error"] is None
    cycles_later(run, 2)
    # Accepted, so its ETag is kept: later cycles answer 304.
    assert gh.count(REPO + "/actions/runs$", 200) == 1
    assert gh.count(REPO + "/actions/runs$", 304) >= 2


def test_oversized_page_falls_back_to_smaller_pages(gh, start):
    gh.populate(130, seed=3)
    gh.serve(r"/(repos/acme/widgets|repositories/4242)/issues",
             raw=b"[" + b" " * (17 << 20) + b"]", query={"per_page": "100"})
    run = start(timeout=10)
    doc = run.wait(lambda d: synced(d, 2), timeout=90)
    assert doc["completion"]["total_issues"] == 130
    assert doc["last_error"] is None
    assert "answer over the 16 MiB limit; asking 25 items per page for this " \
           "stretch" in run.collectd.log()
    small = [r for r in gh.requests_since(0) if "per_page=25" in r["query"]]
    assert small and all(r["status"] in (200, 304) for r in small)


def test_never_synced_is_told_apart_from_empty(gh, start):
    gh.serve(".*", {"message": "Server Error"}, status=500)
    run = start()
    doc = run.wait(lambda d: d["last_error"] is not None)
    assert doc["sync_state"] == "never" and doc["last_sync"] is None
    assert doc["completion"]["total_issues"] == 0
    gh.clear_canned()
    doc = run.wait(lambda d: d["sync_state"] == "ok", timeout=40)
    assert doc["last_sync"] is not None and doc["last_error"] is None
    assert doc["completion"]["total_issues"] == 0  # now truly empty
    gh.serve(".*", {"message": "Server Error"}, status=502)
    doc = run.wait(lambda d: d["sync_state"] == "failing")
    assert "HTTP 502" in doc["last_error"] and doc["last_sync"] is not None


GHOST = {"login": "ghost", "id": 10137, "node_id": "MDQ6VXNlcjEwMTM3",
         "type": "User", "site_admin": False,
         "html_url": "https://github.com/ghost"}
APP = {"id": 1, "slug": "octoapp", "node_id": "MDExOkludGVncmF0aW9uMQ==",
       "name": "Octocat App", "owner": GHOST, "description": None,
       "external_url": "https://example.com", "html_url":
       "https://github.com/apps/octoapp", "created_at": "2017-07-08T16:18:44Z",
       "updated_at": "2017-07-08T16:18:44Z", "permissions": {"issues":
                                                            "write"},
       "events": ["issues"]}
UNICODE = "Ünïcödé ✓ 漢字 🚀 "  # 1-, 2-, 3- and 4-byte UTF-8


def test_field_variations_parse(gh, start):
    now = time.time()
    for n in range(1, 10):
        gh.add_issue(n, created_at=now - 9 * DAY + n, updated_at=now - DAY + n)
    it = gh.items
    it[1].update(milestone=None, assignee=None, assignees=[], body=None,
                 closed_at=None, labels=[])
    it[2]["labels"] = ["blocked", "bug"]  # labels as plain strings
    gh.add_label_event(2, "blocked", now - 2 * DAY)
    ev = gh.events[2][0]
    ev.update(actor=GHOST, performed_via_github_app=APP)
    it[3].update(state="closed", state_reason="not_planned",
                 closed_at=it[3]["updated_at"],
                 labels=[{"id": 1, "name": "wontfix", "color": "ffffff",
                          "default": True, "description": None}])
    it[4].update(state="closed", state_reason="duplicate",
                 closed_at=it[4]["updated_at"])
    it[5].update(state_reason="reopened")
    it[6].update(state="closed", state_reason="completed",
                 closed_at=it[6]["updated_at"], user=GHOST, assignee=GHOST,
                 assignees=[GHOST], performed_via_github_app=APP)
    it[7].update(title="Très long " + UNICODE, body=UNICODE * 40000)
    it[9].update(performed_via_github_app=None, type=None,
                 sub_issues_summary={"total": 0, "completed": 0,
                                     "percent_completed": 0},
                 milestone={"number": 1, "title": "v1", "state": "open",
                            "due_on": None, "description": None})
    gh.add_pr(8, title="Draft " + UNICODE, created_at=now - DAY,
              updated_at=now - DAY, state="closed")
    it[8].update(draft=True)
    it[8]["pull_request"]["merged_at"] = it[8]["closed_at"]
    assert len((UNICODE * 40000).encode()) > 1 << 20
    run = start(timeout=10)
    doc = run.wait(lambda d: synced(d, 3), timeout=60)
    assert doc["last_error"] is None
    by = {i["id"]: i for i in doc["issues"]}
    assert sorted(by) == [1, 2, 3, 4, 5, 6, 7, 9]  # the PR is no issue
    assert by[1]["labels"] == [] and by[1]["assignees"] == []
    assert by[1]["closed_at"] is None and by[1]["state_reason"] is None
    assert by[2]["labels"] == ["blocked", "bug"]
    assert by[2]["status"] == "blocked"
    assert {n: by[n]["state_reason"] for n in (3, 4, 5, 6)} == {
        3: "not_planned", 4: "duplicate", 5: "reopened", 6: "completed"}
    assert by[6]["assignees"] == ["ghost"]
    assert by[7]["title"] == "Très long " + UNICODE
    assert doc["completion"]["total_issues"] == 8
    assert doc["completion"]["completed_issues"] == 3
    assert doc["completion"]["blocked_issues"] == 1
    assert doc["github"]["open_pull_requests"] == 0
    assert gh.count(REPO + r"/issues/2/events$", 200) >= 1
    assert not re.search(r"unexpected|not a|missing", run.collectd.log())
