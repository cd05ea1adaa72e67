/* Unit tests for github_parse: Link headers, URL parameters, every
 * response parser (good, garbled, truncated, wrongly typed) and the text
 * rules tying pull requests to issues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "github_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL "https://api.github.com/repos/acme/widgets/issues?page=2"

/* ---------------------------------------------------------------- Link */

/* A Link header as GitHub sends it (order: prev, next, last, first). */
#define HDR                                                                    \
  "<https://api.github.com/repositories/4242/issues?state=all&per_page="       \
  "100&page=1>; rel=\"prev\", <https://api.github.com/repositories/4242/"      \
  "issues?state=all&per_page=100&page=3>; rel=\"next\", "                      \
  "<https://api.github.com/repositories/4242/issues?state=all&per_page="       \
  "100&page=50>; rel=\"last\", <https://api.github.com/repositories/4242"      \
  "/issues?state=all&per_page=100&page=1>; rel=\"first\""

static void test_link_header(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *header, *rel;
    int status;
    const char *want;
  } cases[] = {
      {HDR, "next", 0,
       "https://api.github.com/repositories/4242/issues?state=all&per_page="
       "100&page=3"},
      {HDR, "last", 0,
       "https://api.github.com/repositories/4242/issues?state=all&per_page="
       "100&page=50"},
      {HDR, "prev", 0,
       "https://api.github.com/repositories/4242/issues?state=all&per_page="
       "100&page=1"},
      {"<https://x/a?labels=bug,ui&page=2>; rel=\"next\"", "next", 0,
       "https://x/a?labels=bug,ui&page=2"},
      {"<https://x/a?p=2>;rel=next", "next", 0, "https://x/a?p=2"},
      {"<https://x/a?p=9>; rel=\"next last\"", "last", 0, "https://x/a?p=9"},
      {" <https://x/a> ; title=\"t; x\" ; rel=\"next\" ", "next", 0,
       "https://x/a"},
      {"<https://x/a>; rel=\"nextish\"", "next", -ENOENT, NULL},
      {"<https://x/a>; rel=\"prev\"", "next", -ENOENT, NULL},
      {"", "next", -ENOENT, NULL},
      {NULL, "next", -ENOENT, NULL},
      {"https://x/a; rel=\"next\"", "next", -EINVAL, NULL},
      {"<https://x/a; rel=\"next\"", "next", -EINVAL, NULL},
      {"<https://x/a>; rel=\"next", "next", -EINVAL, NULL},
      {"<>; rel=\"next\"", "next", -EINVAL, NULL},
      {"<https://x/a> junk", "next", -EINVAL, NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[256] = "";
    int status = gh_link_find(cases[i].header, cases[i].rel, out, sizeof(out));
    if (status != cases[i].status)
      fail_msg("case %zu: status %d, want %d", i, status, cases[i].status);
    if (cases[i].want != NULL)
      assert_string_equal(out, cases[i].want);
  }
  char small[8];
  assert_int_equal(gh_link_find(HDR, "next", small, sizeof(small)),
                   -ENAMETOOLONG);
}

static void test_url_param(void **state) {
  (void)state; /* unused */
  const char *u = "https://x/repositories/1/issues?state=all&per_page=100"
                  "&page=51&xpage=3";
  assert_int_equal(gh_url_param(u, "page"), 51);
  assert_int_equal(gh_url_param(u, "per_page"), 100);
  assert_int_equal(gh_url_param(u, "state"), -1);
  assert_int_equal(gh_url_param(u, "nope"), -1);
  assert_int_equal(gh_url_param("https://x/a", "page"), -1);
  assert_int_equal(gh_url_param("https://x/a?page=", "page"), -1);
  assert_int_equal(gh_url_param("https://x/a?page=3#f", "page"), 3);
  char out[128];
  gh_url_display("https://user:pw@h.example:8/a?b=1", out, sizeof(out));
  assert_string_equal(out, "https://h.example:8/a?b=1");
}

/* ---------------------------------------------------------------- issues */

static const char good_page[] =
    "[{\"number\": 12, \"title\": \"Add login\", \"state\": \"open\","
    " \"state_reason\": null, \"html_url\": \"https://github.com/a/b/issues/"
    "12\", \"labels\": [{\"name\": \"Blocked\", \"color\": \"f00\"}, "
    "\"wip\"], \"assignees\": [{\"login\": \"octocat\"}],"
    " \"created_at\": \"2026-11-01T10:00:00Z\","
    " \"updated_at\": \"2026-11-02T10:00:00Z\", \"closed_at\": null,"
    " \"body\": \"Fixes #3\", \"extra\": {\"ignored\": [1, 2]}},"
    " {\"number\": 13, \"title\": \"Issue #12 done\", \"state\": \"closed\","
    " \"state_reason\": \"completed\", \"html_url\": \"https://github.com/a/"
    "b/pull/13\", \"labels\": [], \"assignees\": [],"
    " \"created_at\": \"2026-11-01T10:00:00Z\","
    " \"updated_at\": \"2026-11-03T10:00:00.123Z\","
    " \"closed_at\": \"2026-11-03T10:00:00Z\", \"draft\": false,"
    " \"body\": \"Also closes #7 and fixes: #8\","
    " \"pull_request\": {\"url\": \"x\", \"merged_at\": null}}]";

static void test_issues_good(void **state) {
  (void)state; /* unused */
  gh_page_t page;
  char err[256] = "";
  assert_int_equal(gh_parse_issues(URL, good_page, &page, err, sizeof(err)), 0);
  assert_int_equal(page.n, 2);
  gh_item_t *a = page.items[0], *b = page.items[1];
  assert_int_equal(a->number, 12);
  assert_false(a->is_pr);
  assert_true(a->open);
  assert_null(a->state_reason);
  assert_string_equal(a->title, "Add login");
  assert_int_equal(a->labels.n, 2);
  assert_string_equal(a->labels.v[0], "Blocked");
  assert_string_equal(a->labels.v[1], "wip");
  assert_int_equal(a->assignees.n, 1);
  assert_string_equal(a->assignees.v[0], "octocat");
  assert_int_equal(a->created_at, 1793527200);
  assert_int_equal(a->updated_at, 1793613600);
  assert_int_equal(a->closed_at, 0);
  assert_null(a->pr); /* issues' bodies do not link */
  assert_true(b->is_pr);
  assert_false(b->open);
  assert_string_equal(b->state_reason, "completed");
  assert_int_equal(b->closed_at, 1793700000);
  assert_int_equal(gh_item_pr(b)->nlinks, 3);
  assert_int_equal(gh_item_pr(b)->links[0], 12);
  assert_int_equal(gh_item_pr(b)->links[1], 7);
  assert_int_equal(gh_item_pr(b)->links[2], 8);
  gh_page_free(&page);
  assert_int_equal(gh_parse_issues(URL, "[]", &page, err, sizeof(err)), 0);
  assert_int_equal(page.n, 0);
  gh_page_free(&page);
}

/* fill copies tmpl into out with its "%s" (if any) replaced by arg. */
static void fill(char *out, size_t outlen, const char *tmpl, const char *arg) {
  const char *at = strstr(tmpl, "%s");
  if (at == NULL)
    snprintf(out, outlen, "%s", tmpl);
  else
    snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, arg, at + 2);
}

/* One item with one field spoiled, and a word the error must carry. */
static void test_issues_rejected(void **state) {
  (void)state; /* unused */
  static const char base[] =
      "\"title\": \"t\", \"state\": \"open\", \"html_url\": \"u\", "
      "\"created_at\": \"2026-11-01T10:00:00Z\", "
      "\"updated_at\": \"2026-11-01T10:00:00Z\"";
  static const struct {
    const char *body, *word;
  } cases[] = {
      {"", "empty body"},
      {"{not json", "invalid JSON"},
      {"[{\"number\": 1, \"title\": \"t\"", "invalid JSON"}, /* truncated */
      {"[{\"number\": 1, \"title\": \"t\", \"state\": \"op", "invalid JSON"},
      {"{\"message\": \"Not Found\"}", "not a JSON array"},
      {"[1]", "item 0: not an object"},
      {"[{\"number\": \"1\", %s}]", "\"number\""},
      {"[{\"number\": 0, %s}]", "\"number\""},
      {"[{\"number\": 1.5, %s}]", "\"number\""},
      {"[{%s}]", "\"number\" missing"},
      {"[{\"number\": 1, %s, \"labels\": {}}]", "\"labels\" is not an array"},
      {"[{\"number\": 1, %s, \"labels\": [{\"color\": \"x\"}]}]",
       "\"labels\"[0]"},
      {"[{\"number\": 1, %s, \"assignees\": [7]}]", "\"assignees\"[0]"},
      {"[{\"number\": 1, %s, \"closed_at\": \"yesterday\"}]",
       "\"closed_at\" is not an ISO 8601 time"},
      {"[{\"number\": 1, %s, \"state_reason\": 3}]", "\"state_reason\""},
      {"[{\"number\": 1, %s, \"pull_request\": true}]", "\"pull_request\""},
      {"[{\"number\": 1, %s, \"pull_request\": {}, \"body\": 5}]", "\"body\""},
      {"[{\"number\": 1, \"title\": 5, \"state\": \"open\"}]", "\"title\""},
      {"[{\"number\": 1, \"title\": \"t\", \"state\": \"merged\"}]",
       "\"state\""},
      {"[{\"number\": 2, %s}, {\"number\": 3, \"title\": null}]", "item 1"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[1024], err[512] = "";
    fill(body, sizeof(body), cases[i].body, base);
    gh_page_t page;
    int status = gh_parse_issues(URL, body, &page, err, sizeof(err));
    if (status != -EBADMSG || strstr(err, URL) == NULL ||
        strstr(err, cases[i].word) == NULL)
      fail_msg("case %zu (%s): status %d, err \"%s\"", i, body, status, err);
    assert_null(page.items);
  }
}

/* ---------------------------------------------------------------- events */

static void test_label_events(void **state) {
  (void)state; /* unused */
  static const char body[] =
      "[{\"id\": 1, \"event\": \"labeled\", \"created_at\": "
      "\"2026-11-01T00:00:00Z\", \"label\": {\"name\": \"blocked\"}},"
      " {\"id\": 2, \"event\": \"commented\", \"created_at\": null},"
      " {\"id\": 3, \"event\": \"unlabeled\", \"created_at\": "
      "\"2026-11-02T00:00:00Z\", \"label\": {\"name\": \"blocked\"}},"
      " {\"id\": 4, \"event\": \"labeled\", \"created_at\": "
      "\"2026-11-03T00:00:00Z\", \"label\": {\"name\": \"Blocked\"}},"
      " {\"id\": 5, \"event\": \"labeled\", \"created_at\": "
      "\"2026-11-04T00:00:00Z\", \"label\": {\"name\": \"needs-human\"}},"
      " {\"id\": 6, \"event\": \"labeled\", \"created_at\": "
      "\"2026-11-05T00:00:00Z\", \"label\": {\"name\": \"bug\"}}]";
  gh_events_t ev = {NULL, 0};
  char err[256];
  assert_int_equal(gh_parse_label_events(URL, body, &ev, err, sizeof(err)), 0);
  assert_int_equal(ev.n, 5);
  assert_false(ev.v[1].added);
  gh_strv_t words = {NULL, 0}, labels = {NULL, 0};
  gh_strv_push(&words, "blocked");
  gh_strv_push(&words, "human");
  /* The latest add of each current blocking label; the earliest of those. */
  gh_strv_push(&labels, "blocked");
  gh_strv_push(&labels, "bug");
  assert_int_equal(gh_blocked_since(&ev, &labels, &words), 1793664000);
  gh_strv_push(&labels, "needs-human");
  assert_int_equal(gh_blocked_since(&ev, &labels, &words), 1793664000);
  gh_strv_free(&labels);
  gh_strv_push(&labels, "needs-human");
  assert_int_equal(gh_blocked_since(&ev, &labels, &words), 1793750400);
  gh_strv_free(&labels);
  gh_strv_push(&labels, "blocked-upstream"); /* no labeled event for it */
  assert_int_equal(gh_blocked_since(&ev, &labels, &words), 0);
  gh_strv_free(&labels);
  gh_strv_free(&words);
  gh_events_free(&ev);

  static const char *const bad[] = {
      "{\"event\": \"labeled\"}",
      "[{\"event\": 3}]",
      "[{\"id\": 1}]",
      "[{\"event\": \"labeled\", \"created_at\": \"2026-11-01T00:00:00Z\"}]",
      "[{\"event\": \"labeled\", \"created_at\": 5, \"label\": {\"name\": "
      "\"x\"}}]",
      "[{\"event\": \"labeled\", \"created_at\": \"2026-11-01T00:00:00Z\", "
      "\"label\": {\"name\": 1}}]",
      "[{\"event\": \"labeled\", \"created_at\": \"2026-11-01T0",
      "\xff\xfe"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    int status = gh_parse_label_events(URL, bad[i], &ev, err, sizeof(err));
    if (status != -EBADMSG || strstr(err, URL) == NULL)
      fail_msg("case %zu: status %d err %s", i, status, err);
    gh_events_free(&ev);
  }
}

/* ---------------------------------------------------------------- pulls */

static void test_pull_detail(void **state) {
  (void)state; /* unused */
  gh_pull_t pull;
  char err[256];
  static const char good[] =
      "{\"number\": 130, \"state\": \"open\", \"title\": \"x\", \"head\": "
      "{\"ref\": \"feature/issue-127\", \"sha\": \"abc\"}, \"mergeable\": "
      "false, \"mergeable_state\": \"dirty\"}";
  assert_int_equal(gh_parse_pull(URL, good, &pull, err, sizeof(err)), 0);
  assert_int_equal(pull.number, 130);
  assert_true(pull.open);
  assert_string_equal(pull.branch, "feature/issue-127");
  assert_string_equal(pull.head_sha, "abc");
  assert_string_equal(pull.mergeable_state, "dirty");
  gh_pull_free(&pull);
  static const char unknown[] =
      "{\"number\": 1, \"state\": \"closed\", \"head\": {\"ref\": \"b\", "
      "\"sha\": \"s\"}, \"mergeable_state\": null}";
  assert_int_equal(gh_parse_pull(URL, unknown, &pull, err, sizeof(err)), 0);
  assert_null(pull.mergeable_state);
  assert_false(pull.open);
  gh_pull_free(&pull);
  static const char *const bad[] = {
      "[]",
      "{\"number\": 1, \"state\": \"open\"}",
      "{\"number\": 1, \"state\": \"open\", \"head\": \"x\"}",
      "{\"number\": 1, \"state\": \"open\", \"head\": {\"ref\": 1, \"sha\": "
      "\"s\"}}",
      "{\"number\": 1, \"state\": \"open\", \"head\": {\"ref\": \"r\", "
      "\"sha\": \"s\"}, \"mergeable_state\": false}",
      "{\"number\": 1, \"state\": \"open\", \"head\": {\"ref\": \"r\"",
      "{\"number\": -1, \"state\": \"open\"}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    int status = gh_parse_pull(URL, bad[i], &pull, err, sizeof(err));
    if (status != -EBADMSG || strstr(err, URL) == NULL)
      fail_msg("case %zu: status %d err %s", i, status, err);
  }
}

/* ---------------------------------------------------------------- runs */

static void test_runs(void **state) {
  (void)state; /* unused */
  static const char good[] =
      "{\"total_count\": 5, \"workflow_runs\": ["
      "{\"id\": 5, \"workflow_id\": 9, \"head_branch\": \"feature/issue-1\","
      " \"status\": \"completed\", \"conclusion\": \"failure\","
      " \"created_at\": \"2026-11-05T00:00:00Z\", \"pull_requests\": "
      "[{\"number\": 2}]},"
      "{\"id\": 4, \"head_branch\": null, \"status\": \"completed\","
      " \"conclusion\": \"success\", \"created_at\": \"2026-11-04T00:00:00Z\"},"
      "{\"id\": 3, \"status\": \"in_progress\", \"conclusion\": null,"
      " \"created_at\": \"2026-11-03T00:00:00Z\"},"
      "{\"id\": 2, \"status\": \"completed\", \"conclusion\": \"cancelled\","
      " \"created_at\": \"2026-11-02T00:00:00Z\"},"
      "{\"id\": 1, \"status\": \"completed\", \"conclusion\": \"timed_out\","
      " \"created_at\": \"2026-11-01T00:00:00Z\"}]}";
  gh_run_t *runs = NULL;
  size_t n = 0;
  char err[256];
  assert_int_equal(gh_parse_runs(URL, good, &runs, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 5);
  static const int verdicts[] = {GH_VERDICT_FAILURE, GH_VERDICT_SUCCESS,
                                 GH_VERDICT_PENDING, GH_VERDICT_OTHER,
                                 GH_VERDICT_FAILURE};
  for (size_t i = 0; i < n; i++)
    assert_int_equal(runs[i].verdict, verdicts[i]);
  assert_string_equal(runs[0].branch, "feature/issue-1");
  assert_int_equal(runs[0].workflow_id, 9);
  assert_int_equal(runs[0].nprs, 1);
  assert_int_equal(runs[0].prs[0], 2);
  assert_null(runs[1].branch);
  for (size_t i = 0; i < n; i++)
    gh_run_free(&runs[i]);
  free(runs);
  /* status null (the schema allows it): a run not started, pending. */
  assert_int_equal(gh_parse_runs(URL,
                                 "{\"workflow_runs\": [{\"id\": 7, "
                                 "\"status\": null, \"conclusion\": null, "
                                 "\"created_at\": \"2026-11-01T00:00:00Z\"}]}",
                                 &runs, &n, err, sizeof(err)),
                   0);
  assert_int_equal(n, 1);
  assert_int_equal(runs[0].verdict, GH_VERDICT_PENDING);
  gh_run_free(&runs[0]);
  free(runs);
  static const char *const bad[] = {
      "[]",
      "{\"workflow_runs\": {}}",
      "{\"workflow_runs\": [3]}",
      "{\"workflow_runs\": [{\"id\": \"1\", \"status\": \"completed\", "
      "\"created_at\": \"2026-11-01T00:00:00Z\"}]}",
      "{\"workflow_runs\": [{\"id\": 1, \"created_at\": "
      "\"2026-11-01T00:00:00Z\"}]}",
      "{\"workflow_runs\": [{\"id\": 1, \"status\": \"completed\", "
      "\"created_at\": \"2026-11-01T00:00:00Z\", \"pull_requests\": [{}]}]}",
      "{\"workflow_runs\": [{\"id\": 1, \"status\": \"completed\", "
      "\"created_at\": \"2026-11-01T00:00:00Z\", \"head_branch\": 4}]}",
      "{\"workflow_runs\": [{\"id\": 1, \"sta"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    int status = gh_parse_runs(URL, bad[i], &runs, &n, err, sizeof(err));
    if (status != -EBADMSG || strstr(err, URL) == NULL || runs != NULL)
      fail_msg("case %zu: status %d err %s", i, status, err);
  }
}

/* ---------------------------------------------------------------- commits */

static void test_commits(void **state) {
  (void)state; /* unused */
  size_t n = 99;
  char err[256];
  assert_int_equal(gh_parse_commits(URL,
                                    "[{\"sha\": \"a\"}, {\"sha\": \"b\""
                                    ", \"commit\": {}}]",
                                    &n, err, sizeof(err)),
                   0);
  assert_int_equal(n, 2);
  assert_int_equal(gh_parse_commits(URL, "[]", &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  static const char *const bad[] = {"{}", "[{\"sha\": 1}]", "[{}]", "[{\"sh",
                                    "null"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    int status = gh_parse_commits(URL, bad[i], &n, err, sizeof(err));
    if (status != -EBADMSG || strstr(err, URL) == NULL)
      fail_msg("case %zu: status %d err %s", i, status, err);
  }
}

/* ---------------------------------------------------------------- links */

static void test_text_links(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *title, *body;
    size_t n;
    long long want[4];
  } cases[] = {
      {"Issue #12: login", NULL, 1, {12}},
      {"issue#12", NULL, 1, {12}},
      {"Tissue #12", NULL, 0, {0}},
      {"Issues #12", NULL, 0, {0}},
      {"Implement it", "Fixes #3", 1, {3}},
      {"x", "closes: #4\nresolved #5, Close #6", 3, {4, 5, 6}},
      {"x", "FIXED #7 and fix #7", 1, {7}},
      {"x", "suffixes #9, prefix#10, fixes #11abc, fixes #", 0, {0}},
      {"x", "closes #1234567890", 0, {0}},
      {"Issue #2", "resolves #2, resolves #3", 2, {2, 3}},
      {"x", "see #5", 0, {0}},
      {NULL, NULL, 0, {0}},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    long long out[GH_LINKS_MAX];
    size_t n = gh_text_links(cases[i].title, cases[i].body, out, GH_LINKS_MAX);
    if (n != cases[i].n)
      fail_msg("case %zu: %zu links, want %zu", i, n, cases[i].n);
    for (size_t j = 0; j < n; j++)
      assert_int_equal(out[j], cases[i].want[j]);
  }
  long long two[2];
  assert_int_equal(gh_text_links("x", "fixes #1 fixes #2 fixes #3", two, 2), 2);
  static const struct {
    const char *branch;
    long long want;
  } br[] = {{"feature/issue-12", 12},        {"feature/issue-12-login", 12},
            {"Feature/Issue-7", 7},          {"feature/issue-", 0},
            {"feature/issue-x", 0},          {"bugfix/issue-3", 0},
            {"feature/issue-1234567890", 0}, {NULL, 0}};
  for (size_t i = 0; i < sizeof(br) / sizeof(br[0]); i++)
    assert_int_equal(gh_branch_issue(br[i].branch), br[i].want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_header),
      cmocka_unit_test(test_url_param),
      cmocka_unit_test(test_issues_good),
      cmocka_unit_test(test_issues_rejected),
      cmocka_unit_test(test_label_events),
      cmocka_unit_test(test_pull_detail),
      cmocka_unit_test(test_runs),
      cmocka_unit_test(test_commits),
      cmocka_unit_test(test_text_links),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
