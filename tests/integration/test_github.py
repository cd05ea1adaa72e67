"""qiflow_github against a fake GitHub: the real collectd loads the built
plugin, which syncs from tests/integration/fake_github.py on 127.0.0.1.

Covers: figures and flags for hand-built fixtures (every status bucket, every
trigger, velocity/ETA, zero issues), project.json against its schema,
collectd values, notifications once per flag transition, restart without
re-download, the cost of an unchanged cycle for 100 and 5,000 issues
(counted by the fake), every kind of GitHub failure (last figures kept, error
recorded, no crash), reconciliation after a deletion, and config errors.

The plugin runs every second (<LoadPlugin> Interval 1) while collectd's
global interval is 10 s, which also shows the per-plugin interval works.
"""

import datetime
import math
import os
import re
import time

import pytest

import ghkit
import qfstack
from ghkit import gh  # noqa: F401 (the fake GitHub fixture)

DAY = 86400
HOUR = 3600


class Setup(ghkit.Run):
    """A fake GitHub plus collectd with qiflow_github, under tmp_path."""

    def wait_synced(self, timeout=60, not_modified=3):
        """Until the first listing and every detail request are done: a
        cycle of 3 requests, all 304."""
        return self.wait(lambda d: d["github"]["sync_complete"]
                         and d["github"]["requests"] == 3
                         and d["github"]["not_modified"] == not_modified
                         and d["last_error"] is None,
                         timeout, "a steady cycle (3 requests, all 304)")

    def cycles(self):
        return self.project(validate=False)["github"]["cycles"]

    def wait_cycles(self, n, timeout=30):
        start = self.cycles()
        return self.wait(lambda d: d["github"]["cycles"] >= start + n,
                         timeout, f"{n} more cycles")

    def issue(self, doc, number):
        for item in doc["issues"]:
            if item["id"] == number:
                return item
        raise AssertionError(f"issue {number} not in project.json")

    def notifications(self, number=None):
        found = [n for n in self.collectd.notifications()
                 if n.get("plugin") == "qiflow_github"]
        if number is not None:
            found = [n for n in found
                     if n.get("type_instance") == f"issue-{number}"]
        return found


@pytest.fixture
def setup_factory(tmp_path, gh):
    made = []

    def make(start=True, **conf):
        s = Setup(tmp_path, gh, **conf)
        made.append(s)
        return s.start() if start else s

    yield make
    for s in made:
        s.stop()
        print(s.evidence())


# ------------------------------------------------------------ fixtures

def build_fixture(gh, now):
    """Every status bucket, every flag trigger, and a known velocity."""
    gh.add_issue(1, "Ready issue", created_at=now - 20 * DAY)
    gh.add_issue(2, "Being built", labels=["In Progress"],
                 assignees=["agent-1"])
    gh.add_issue(3, "Also being built", labels=["bug", "WIP"])
    # Blocked 30 h by its label event; its last update is older still, so
    # the duration must come from the event.
    gh.add_issue(4, "Blocked a long time", labels=["blocked"],
                 updated_at=now - 40 * HOUR)
    gh.add_label_event(4, "bug", now - 50 * HOUR)
    gh.add_label_event(4, "blocked", now - 30 * HOUR)
    # Blocked 2 h: under FlagBlockedAfterHours (24), although its last
    # update is 40 h old.
    gh.add_issue(5, "Blocked briefly", labels=["blocked"],
                 updated_at=now - 40 * HOUR)
    gh.add_label_event(5, "blocked", now - 60 * HOUR)
    gh.add_label_event(5, "blocked", now - 50 * HOUR, added=False)
    gh.add_label_event(5, "blocked", now - 2 * HOUR)
    gh.add_issue(6, "Needs a person", labels=["needs-human"])
    gh.add_label_event(6, "needs-human", now - HOUR)
    gh.add_issue(7, "Conflicted")
    gh.add_issue(8, "CI keeps failing")
    gh.add_issue(9, "CI flaky")
    for n, age in ((10, 0.5), (11, 1.5), (12, 1.6), (13, 5.5)):
        gh.add_issue(n, f"Done {n}", state="closed",
                     closed_at=now - age * DAY, updated_at=now - age * DAY)
    gh.add_issue(14, "Not planned", state="closed", state_reason="not_planned",
                 closed_at=now - DAY, updated_at=now - DAY)
    gh.add_issue(15, "Done long ago", state="closed",
                 closed_at=now - 10 * DAY, updated_at=now - 10 * DAY)
    gh.add_pr(20, "Resolve the conflict", branch="feature/issue-7",
              mergeable_state="dirty")
    gh.add_pr(21, "Issue #8: fix the parser", branch="parser",
              mergeable_state="clean")
    gh.add_pr(22, "Stabilise", body="Some text.\n\nFixes #9", branch="flaky",
              mergeable_state="clean")
    gh.add_pr(23, "Old work", body="closes #1", state="closed")
    for i in range(3):
        gh.add_run("parser", "failure", created_at=now - 900 + i, pr=21)
    gh.add_run("flaky", "failure", created_at=now - 800, pr=22)
    for i in range(4):
        gh.add_run("flaky", "success", created_at=now - 700 + i)
    gh.add_commits(5, start=now - 60, spacing=HOUR)
    gh.add_commits(3, start=now - 30 * DAY)  # outside the window


def expected_velocity(now):
    daily = [0] * 7
    for age in (0.5, 1.5, 1.6, 5.5):
        daily[6 - int(age * DAY) // DAY] += 1
    return daily


def test_figures_flags_values_and_notifications(setup_factory, gh):
    now = time.time()
    build_fixture(gh, now)
    s = setup_factory()
    doc = s.wait_synced()
    comp = doc["completion"]
    assert comp == {"completion_percentage": 40, "total_issues": 15,
                    "completed_issues": 6, "in_progress_issues": 2,
                    "ready_issues": 4, "blocked_issues": 3,
                    "flagged_issues": 5}
    github = doc["github"]
    assert github["open_issues"] == 9
    assert github["open_pull_requests"] == 3
    assert github["recent_commits"] == 5
    assert github["recent_commits_days"] == 7
    assert github["rate_limit_limit"] == 5000
    assert 0 < github["rate_limit_remaining"] < 5000
    assert doc["repository"] == "acme/widgets"
    assert doc["sync_age_seconds"] <= 2

    # Velocity: 4 completed in the window (not_planned skipped), ETA from
    # 9 open at 4/7 a day.
    vel = doc["velocity"]
    assert vel["daily"] == expected_velocity(now)
    assert vel["per_day"] == round(4 / 7, 2)
    xs = range(7)
    slope = sum((x - 3) * y for x, y in zip(xs, vel["daily"])) / 28
    assert vel["slope"] == pytest.approx(round(slope, 3))
    assert vel["trend"] == ("increasing" if slope > 0.1 else
                            "decreasing" if slope < -0.1 else "stable")
    updated = datetime.datetime.fromisoformat(
        doc["updated_at"].replace("Z", "+00:00")).timestamp()
    eta = updated + math.ceil(9 / (4 / 7) * DAY)
    assert doc["estimated_completion_date"] == datetime.datetime.fromtimestamp(
        eta, datetime.timezone.utc).strftime("%Y-%m-%d")

    # Sorted by number, descending; pull requests excluded.
    assert [i["id"] for i in doc["issues"]] == list(range(15, 0, -1))
    status = {i["id"]: i["status"] for i in doc["issues"]}
    assert status == {1: "ready", 2: "in_progress", 3: "in_progress",
                      4: "blocked", 5: "blocked", 6: "blocked", 7: "ready",
                      8: "ready", 9: "ready", 10: "done", 11: "done",
                      12: "done", 13: "done", 14: "done", 15: "done"}
    flags = {i["id"]: (i["priority"], i["trigger"]) for i in doc["issues"]
             if i["flagged"]}
    assert flags == {4: ("review", "blocked_too_long"),
                     6: ("review", "human_label"),
                     7: ("critical", "merge_conflict"),
                     8: ("critical", "ci_failures"),
                     9: ("review", "ci_failure_rate")}
    i4 = s.issue(doc, 4)
    assert i4["blocked_duration_hours"] == pytest.approx(30, abs=0.2)
    assert i4["reason"].startswith("blocked for 30.")
    assert s.issue(doc, 5)["flagged"] is False
    assert s.issue(doc, 7)["reason"] == "merge conflict on pull request #20"
    assert s.issue(doc, 7)["pull_requests"] == [20]
    assert s.issue(doc, 8)["reason"] == \
        "3 consecutive failed CI runs on pull request #21"
    assert s.issue(doc, 9)["reason"] == \
        "CI failure rate 20% (1 of 5 runs) on pull request #22 is over 10%"
    assert s.issue(doc, 1)["pull_requests"] == []  # its PR is closed
    assert s.issue(doc, 2)["assignees"] == ["agent-1"]
    assert s.issue(doc, 2)["labels"] == ["In Progress"]
    assert s.issue(doc, 14)["state_reason"] == "not_planned"

    # The same figures as collectd values.
    c = s.collectd
    assert c.getval("qiflow_github/count-total_issues") == {"value": 15}
    assert c.getval("qiflow_github/percent-completion") == {"value": 40}
    assert c.getval("qiflow_github/count-flagged_issues") == {"value": 5}
    assert c.getval("qiflow_github/count-flagged_critical_issues") == \
        {"value": 2}
    assert c.getval("qiflow_github/count-open_pull_requests") == {"value": 3}
    assert c.getval("qiflow_github/count-recent_commits") == {"value": 5}
    assert c.getval("qiflow_github/requests-cycle") == {"value": 3}
    assert c.getval("qiflow_github/requests-rate_limit_limit") == \
        {"value": 5000}
    assert c.getval("qiflow_github/gauge-velocity")["value"] == \
        pytest.approx(4 / 7)
    assert c.getval("qiflow_github/duration-sync_age")["seconds"] <= 2
    idents = c.listval()
    for name in ("total_requests-requests", "total_requests-not_modified",
                 "derive-errors", "timestamp-estimated_completion"):
        assert f"qiflow-test/qiflow_github/{name}" in idents

    # Every request carried the API's headers and the token as a bearer.
    for req in gh.requests_since(0):
        assert req["accept"] == "application/vnd.github+json"
        assert req["version"] == "2022-11-28"
        assert req["auth"] == "Bearer t0ken-for-tests"
        assert req["user_agent"].startswith("qiflow-collectd/")

    # One notification per flagged issue, not one per interval.
    s.wait_cycles(3)
    sev = {int(n["type_instance"].split("-")[1]): n["severity"]
           for n in s.notifications()}
    assert sev == {4: "WARNING", 6: "WARNING", 7: "FAILURE", 8: "FAILURE",
                   9: "WARNING"}
    assert len(s.notifications()) == 5
    msg = s.notifications(7)[0]["message"]
    assert msg == ("issue #7 needs a human (critical, merge_conflict): "
                   "merge conflict on pull request #20")


def test_zero_issues(setup_factory, gh):
    gh.empty_repo = True  # commits answer 409 "Git Repository is empty"
    gh.actions_enabled = False  # actions/runs answers 404
    s = setup_factory()
    # Each cycle: issues 304, commits 409, runs 404.
    doc = s.wait_synced(not_modified=1)
    assert doc["completion"]["completion_percentage"] == 0
    assert doc["completion"]["total_issues"] == 0
    assert doc["issues"] == []
    assert doc["velocity"] == {"daily": [0] * 7, "per_day": 0,
                               "trend": "stable", "slope": 0}
    assert doc["estimated_completion_date"] is None
    assert doc["github"]["recent_commits"] == 0
    assert s.collectd.getval("qiflow_github/percent-completion") == \
        {"value": 0}
    assert "qiflow-test/qiflow_github/timestamp-estimated_completion" not in \
        s.collectd.listval()


def test_changes_flow_in_and_notify_once_per_transition(setup_factory, gh):
    now = time.time()
    gh.add_issue(1, "Plain")
    gh.add_issue(2, "Will conflict")
    gh.add_pr(3, "Issue #2", branch="b", mergeable_state="clean")
    s = setup_factory()
    s.wait_synced()
    assert s.notifications() == []

    # A merge conflict appears on the PR (its updated_at moves).
    gh.update(3, mergeable_state="dirty")
    doc = s.wait(lambda d: s.issue(d, 2)["flagged"], 20, "conflict flagged")
    assert s.issue(doc, 2)["trigger"] == "merge_conflict"
    s.wait_synced()
    s.wait_cycles(3)
    assert [n["severity"] for n in s.notifications(2)] == ["FAILURE"]

    # Resolved: one OKAY, and only one.
    gh.update(3, mergeable_state="clean")
    s.wait(lambda d: not s.issue(d, 2)["flagged"], 20, "flag cleared")
    s.wait_cycles(3)
    notes = s.notifications(2)
    assert [n["severity"] for n in notes] == ["FAILURE", "OKAY"]
    assert notes[1]["message"] == \
        "issue #2 is no longer flagged (was merge_conflict)"

    # A new label, a new title and a closed issue arrive through `since`.
    gh.update(1, labels=["needs-human"], title="Plain, renamed")
    gh.add_label_event(1, "needs-human", now)
    doc = s.wait(lambda d: s.issue(d, 1)["trigger"] == "human_label", 20,
                 "human label flagged")
    assert s.issue(doc, 1)["title"] == "Plain, renamed"
    gh.update(1, state="closed")
    doc = s.wait(lambda d: s.issue(d, 1)["status"] == "done", 20, "closed")
    assert s.issue(doc, 1)["flagged"] is False
    s.wait_cycles(2)
    assert [n["severity"] for n in s.notifications(1)] == ["WARNING", "OKAY"]
    assert doc["completion"]["completed_issues"] == 1


def test_restart_does_not_download_again(setup_factory, gh):
    gh.populate(300, prs=20)
    gh.add_commits(10)
    s = setup_factory()
    doc = s.wait_synced()
    assert doc["completion"]["total_issues"] == 300
    s.stop()
    assert (s.state_dir / "github-mirror.json").exists()
    mode = (s.state_dir / "github-mirror.json").stat().st_mode & 0o777
    assert mode == 0o600
    mark = len(gh.requests_since(0))
    s.project_path.unlink()  # so only the new process's document counts
    s.start()
    seen = {}

    def three_cycles(doc):
        gh_ = doc["github"]
        seen[gh_["cycles"]] = (gh_["requests"], gh_["not_modified"])
        return gh_["requests_total"] >= 9

    doc = s.wait(three_cycles, 20, "three cycles")
    # What the fake saw since the restart: only 304s, as many as the
    # plugin says it sent, and no page downloaded again.
    after = gh.requests_since(mark)
    assert after, "no request after the restart"
    assert {r["status"] for r in after} == {304}, after
    # (the next cycle may have begun since the document was read)
    assert 0 <= len(after) - doc["github"]["requests_total"] <= 3
    allowed = {"/repos/acme/widgets/actions/runs",
               "/repos/acme/widgets/commits", "/repos/acme/widgets/issues",
               "/repositories/4242/issues"}
    assert {r["path"] for r in after} <= allowed
    # Every cycle the plugin reported: 3 requests, all 304 (the runs request
    # or, every 12th cycle, the reconciliation probe).
    assert seen and set(seen.values()) == {(3, 3)}, seen
    assert doc["completion"]["total_issues"] == 300


@pytest.mark.parametrize("issues", [100, 5000])
def test_unchanged_cycle_costs_three_304s(setup_factory, gh, issues):
    gh.populate(issues, prs=issues // 50)
    gh.add_commits(40)
    for i in range(10):
        gh.add_run(f"feature/issue-{i}", "success")
    s = setup_factory()
    doc = s.wait_synced(timeout=150)
    assert doc["completion"]["total_issues"] == issues
    assert doc["github"]["open_pull_requests"] == issues // 50
    first_sync = gh.count(r"/issues$", 200)
    assert first_sync >= math.ceil((issues + issues // 50) / 100)
    # Several unchanged cycles, each measured from the fake's own log;
    # GH_RECON_EVERY (12) cycles include one reconciliation probe in place
    # of the runs request, still a conditional request answered 304.
    mark = len(gh.requests_since(0))
    c0 = s.cycles()

    def six_cycles():
        # The plugin's cycles as the fake saw them: bursts a second apart.
        groups = gh.bursts_since(mark)
        return groups if len(groups) >= 6 else None

    groups = qfstack.wait_until(six_cycles, 30, 0.1,
                                "six cycles in the fake's log")
    doc = s.project()
    assert doc["github"]["cycles"] - c0 >= len(groups)
    for reqs in groups[1:]:  # the first may have begun before the mark
        assert len(reqs) <= 3, reqs
        assert {r["status"] for r in reqs} == {304}, reqs
        assert all(r["inm"] and r["inm"].startswith('W/"') for r in reqs)
        assert "/repos/acme/widgets/issues" in {r["path"] for r in reqs}
    assert doc["github"]["requests"] == 3
    assert doc["github"]["not_modified"] == 3
    # No issue page was downloaded again.
    assert gh.count(r"/issues$", 200) == first_sync


def test_github_failures_keep_the_last_figures(setup_factory, gh):
    gh.populate(120, prs=5)
    gh.add_commits(3)
    s = setup_factory(timeout=1)
    good = s.wait_synced()
    since = r"^/repos/acme/widgets/issues$"
    cases = [
        (dict(kind="status", status=500), r"HTTP 500"),
        (dict(kind="status", status=502), r"HTTP 502"),
        (dict(kind="slow", seconds=2.5), r"[Tt]imed? ?out"),
        (dict(kind="garbage"), r"invalid JSON"),
        (dict(kind="truncated"), r"invalid JSON"),
        (dict(kind="wrong_types"), r"item 0"),
        (dict(kind="empty"), r"empty body"),
        (dict(kind="cut"), r"issues"),
        (dict(kind="oversized"), r"over the \d+ byte limit"),
        (dict(kind="status", status=404), r"unexpected HTTP 404"),
    ]
    for fault, pattern in cases:
        # The next answer to the `since` request is bad (304s included).
        gh.fault(since, times=None, **fault)
        doc = s.wait(lambda d, p=pattern: d["last_error"] is not None
                     and re.search(p, d["last_error"]), 20,
                     f"error for {fault}")
        assert "/repos/acme/widgets/issues" in doc["last_error"], doc
        assert doc["completion"] == good["completion"]
        assert [i["id"] for i in doc["issues"]] == \
            [i["id"] for i in good["issues"]]
        assert doc["last_sync"] is not None  # kept, and aging
        gh.clear_faults()
        doc = s.wait(lambda d: d["last_error"] is None, 30,
                     f"recovery after {fault}")
        assert doc["completion"] == good["completion"]
    assert s.collectd.running
    assert "qiflow-test/qiflow_github/percent-completion" in \
        s.collectd.listval()
    assert s.collectd.getval("qiflow_github/derive-errors")["value"] >= 0


def test_rate_limits_are_honoured(setup_factory, gh):
    gh.populate(50)
    s = setup_factory()
    s.wait_synced()
    since = r"^/repos/acme/widgets/issues$"
    # Secondary limit: 429 with retry-after 3 -> nothing sent for ~3 s.
    gh.fault(since, kind="status", status=429, retry_after=3)
    doc = s.wait(lambda d: d["last_error"] and "429" in d["last_error"], 10,
                 "the 429")
    assert "waiting until" in doc["last_error"]
    mark = len(gh.requests_since(0))
    time.sleep(1.5)  # inside the 3 s the server asked for
    assert gh.requests_since(mark) == []
    s.wait(lambda d: d["last_error"] is None, 15, "resumed after retry-after")
    # Quota exhausted: 403 with remaining 0 waits for the reset time.
    gh.fault(since, kind="status", status=403,
             headers={"x-ratelimit-remaining": "0",
                      "x-ratelimit-reset": str(int(time.time()) + 4)})
    doc = s.wait(lambda d: d["last_error"] and "403" in d["last_error"], 10,
                 "the 403")
    assert doc["github"]["rate_limit_remaining"] == 0
    mark = len(gh.requests_since(0))
    time.sleep(1.5)
    assert gh.requests_since(mark) == []
    doc = s.wait(lambda d: d["last_error"] is None, 20, "resumed after reset")
    assert doc["github"]["rate_limit_remaining"] > 0


def test_anonymous_mode_and_quota_reserve(setup_factory, gh, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    now = time.time()
    gh.add_issue(1, "Conflicted", created_at=now - HOUR)
    gh.add_pr(2, "Issue #1", branch="x", mergeable_state="dirty")
    # 12 requests left of 60 (304s are charged without a token), reset soon.
    gh.set_rate(limit=60, used=48, reset_in=12)
    s = setup_factory(token=None)
    doc = s.wait(lambda d: d["github"]["sync_complete"], 20, "first sync")
    notices = s.collectd.log_lines("no token")
    assert len(notices) == 1 and "[notice]" in notices[0], notices
    assert all(r["auth"] is None for r in gh.requests_since(0))
    assert doc["completion"]["total_issues"] == 1
    # Within the reserve (10 here): the counts are kept, the optional
    # pull request detail waits; once spent, nothing is sent until reset.
    doc = s.wait(lambda d: d["last_error"] and "quota exhausted"
                 in d["last_error"], 20, "quota exhausted")
    assert gh.count(r"/pulls/") == 0
    assert s.issue(doc, 1)["flagged"] is False
    mark = len(gh.requests_since(0))
    time.sleep(1.5)
    assert gh.requests_since(mark) == []
    # After the reset the detail is read and the conflict flagged.
    doc = s.wait(lambda d: s.issue(d, 1)["trigger"] == "merge_conflict", 30,
                 "conflict flagged after the reset")
    assert gh.count(r"/pulls/2$", 200) == 1
    assert len(s.collectd.log_lines("no token")) == 1


def test_deleted_issue_leaves_after_reconciliation(setup_factory, gh):
    gh.populate(150)
    s = setup_factory()
    s.wait_synced()
    gh.delete(77)
    # The probe runs every 12th cycle; the re-list follows.
    doc = s.wait(lambda d: d["completion"]["total_issues"] == 149, 45,
                 "the deletion noticed")
    assert 77 not in [i["id"] for i in doc["issues"]]
    assert "listing them all again" in s.collectd.log()


def test_pages_follow_the_link_header_verbatim(setup_factory, gh):
    gh.populate(230)
    s = setup_factory()
    s.wait_synced()
    pages = [r for r in gh.requests_since(0)
             if r["path"].endswith("/issues") and r["status"] == 200]
    later = [r for r in pages if r["path"].startswith("/repositories/4242/")]
    assert len(later) >= 2  # pages 2 and 3 in the /repositories/{id} form
    assert all("page=" in r["query"] and "per_page=100" in r["query"]
               for r in later)
    first = pages[0]
    assert first["path"] == "/repos/acme/widgets/issues"
    assert "state=all" in first["query"] and "per_page=100" in first["query"]


@pytest.mark.parametrize("extra, word", [
    ('  Bogus "x"', 'unknown option "Bogus" in <Plugin qiflow_github>; '
     'valid options: Repository, APIURL, Token, TokenFile, StateDir, '),
    ('  FlagTestFailureRate 1.5',
     "FlagTestFailureRate must be a number from 0 to 1, got 1.5"),
    ('  FlagFailuresThreshold 0',
     "FlagFailuresThreshold must be a whole number from 1 to 1000, got 0"),
    ('  FlagFailuresThreshold 2.7',
     "FlagFailuresThreshold must be a whole number from 1 to 1000, got 2.7"),
    ('  RecentCommitsDays 0',
     "RecentCommitsDays must be a whole number from 1 to 365, got 0"),
    ('  RecentCommitsDays 7.5',
     "RecentCommitsDays must be a whole number from 1 to 365, got 7.5"),
    ('  InProgressLabels ""', "InProgressLabels takes non-empty strings"),
    ('  Timeout 0', "Timeout must be a number from 0.1 to 300, got 0"),
    ('  BlockedLabels "blocked" 3', "BlockedLabels takes non-empty strings"),
])
def test_config_errors_name_the_key(tmp_path, gh, extra, word):
    s = Setup(tmp_path, gh, extra=extra)
    with pytest.raises(RuntimeError):
        s.start()
    assert word in s.collectd.log() + (s.collectd.workdir /
                                       "collectd.stdout").read_text()


def test_config_errors_repository_and_token_file(tmp_path, gh):
    bad = Setup(tmp_path / "a", gh)
    bad.collectd.plugin_conf = bad.collectd.plugin_conf.replace(
        f'"{gh.repository}"', '"not a repository"')
    with pytest.raises(RuntimeError):
        bad.start()
    assert 'Repository "not a repository" is not' in bad.collectd.log()
    token = tmp_path / "token"
    token.write_text("secret-from-file\n")
    os.chmod(token, 0o644)
    world = Setup(tmp_path / "b", gh, token=None,
                  extra=f'  TokenFile "{token}"')
    with pytest.raises(RuntimeError):
        world.start()
    assert "gives every user access" in world.collectd.log()
    assert f"chmod o-rwx {token}" in world.collectd.log()
    os.chmod(token, 0o600)
    gh.add_issue(1)
    ok = Setup(tmp_path / "c", gh, token=None,
               extra=f'  TokenFile "{token}"').start()
    try:
        ok.wait_synced()
        assert {r["auth"] for r in gh.requests_since(0)} == \
            {"Bearer secret-from-file"}
        assert ok.collectd.log_lines("token from TokenFile")
    finally:
        ok.stop()
