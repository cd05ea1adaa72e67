/* Unit tests for project.c and project_query.c: the query rules of
 * /project/issues, the per-filter indexes, pages and the completion body,
 * from a fixed project.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "project.h"
#include "qf_buf.h"
#include "qf_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const qfx_headers_t headers = {"*", "max-age=1"};

/* A project of six issues (number descending) and one non-issue entry. */
static const char project_json[] =
    "{\"schema_version\": 1, \"updated_at\": \"2026-11-27T10:00:00Z\","
    " \"repository\": \"owner/repo\", \"last_sync\": \"2026-11-27T09:59:00Z\","
    " \"completion\": {\"completion_percentage\": 33, \"total_issues\": 6,"
    "  \"completed_issues\": 2, \"in_progress_issues\": 1,"
    "  \"ready_issues\": 1, \"blocked_issues\": 2},"
    " \"velocity\": {\"daily\": [0, 1, 0, 0, 1, 0, 0], \"per_day\": 0.29,"
    "  \"trend\": \"stable\", \"slope\": -0.01, \"extra\": 1},"
    " \"estimated_completion_date\": \"2026-12-15\","
    " \"issues\": ["
    "  {\"id\": 6, \"title\": \"Six\", \"state\": \"open\", \"status\":"
    "   \"blocked\", \"flagged\": true, \"priority\": \"review\", \"trigger\":"
    "   \"blocked_too_long\", \"reason\": \"blocked 30 h\","
    "   \"blocked_duration_hours\": 30.5, \"labels\": [\"blocked\", 7],"
    "   \"assignees\": [\"octocat\"], \"github_url\": \"https://x/6\","
    "   \"created_at\": \"2026-11-01T00:00:00Z\", \"updated_at\": null,"
    "   \"closed_at\": null, \"pull_requests\": [9]},"
    "  {\"id\": 5, \"title\": \"Five\", \"state\": \"open\", \"status\":"
    "   \"blocked\", \"flagged\": true, \"priority\": \"critical\","
    "   \"trigger\": \"merge_conflict\", \"reason\": \"conflict\"},"
    "  {\"id\": 4, \"title\": \"Four\", \"state\": \"open\", \"status\":"
    "   \"in_progress\", \"flagged\": false},"
    "  \"not an issue\","
    "  {\"id\": 3, \"title\": \"Three\", \"state\": \"open\", \"status\":"
    "   \"ready\", \"flagged\": \"yes\"},"
    "  {\"id\": 2, \"title\": \"Two\", \"state\": \"closed\", \"status\":"
    "   \"done\", \"flagged\": true, \"priority\": \"review\", \"trigger\":"
    "   \"human_label\"},"
    "  {\"id\": 1, \"title\": \"One\", \"state\": \"closed\", \"status\":"
    "   \"done\"}]}";

static yajl_val parse_ok(const char *text) {
  char err[256] = "";
  yajl_val v = qf_json_parse(text, err, sizeof(err));
  if (v == NULL)
    fail_msg("does not parse: %s\n%s", err, text);
  return v;
}

/* build_ok indexes json (NULL: no project.json) or fails the test. */
static qfx_project_t *build_ok(const char *json) {
  qfx_project_t *p = NULL;
  char err[200] = "";
  int rc = qfx_project_build(json, json ? strlen(json) : 0, &headers, &p, err,
                             sizeof(err));
  if (rc != 0 || p == NULL)
    fail_msg("not indexed (%d): %s", rc, err);
  return p;
}

static int setup(void **state) {
  *state = build_ok(project_json);
  return 0;
}

static int teardown(void **state) {
  qfx_project_release(*state);
  return 0;
}

/* page renders q on p and parses it back; the caller frees the tree. */
static yajl_val page(const qfx_project_t *p, long pg, long limit, int status,
                     int flagged) {
  qfx_issues_query_t q = {pg, limit, status, flagged};
  char *body = NULL;
  size_t len = 0;
  assert_int_equal(qfx_project_page(p, &q, &body, &len), 0);
  assert_int_equal(strlen(body), len);
  yajl_val doc = parse_ok(body);
  free(body);
  return doc;
}

/* ids lists the ids of a page's issues as "6,5,4". */
static void ids(yajl_val doc, char *out, size_t outlen) {
  yajl_val list = qf_json_get(qf_json_get(doc, "data"), "issues");
  out[0] = '\0';
  for (size_t i = 0; i < list->u.array.len; i++) {
    long long id = 0;
    qf_json_get_int(list->u.array.values[i], "id", &id);
    size_t n = strlen(out);
    snprintf(out + n, outlen - n, "%s%lld", i ? "," : "", id);
  }
}

static long long data_int(yajl_val doc, const char *key) {
  long long v = -1;
  assert_int_equal(qf_json_get_int(qf_json_get(doc, "data"), key, &v), 0);
  return v;
}

static void test_filters(void **state) {
  const qfx_project_t *p = *state;
  static const struct {
    int status, flagged;
    const char *ids;
  } cases[] = {
      {QFX_IS_ALL, QFX_IF_ANY, "6,5,4,3,2,1"},
      {QFX_IS_OPEN, QFX_IF_ANY, "6,5,4,3"},
      {QFX_IS_CLOSED, QFX_IF_ANY, "2,1"},
      {QFX_IS_READY, QFX_IF_ANY, "3"},
      {QFX_IS_IN_PROGRESS, QFX_IF_ANY, "4"},
      {QFX_IS_BLOCKED, QFX_IF_ANY, "6,5"},
      {QFX_IS_DONE, QFX_IF_ANY, "2,1"},
      {QFX_IS_ALL, QFX_IF_TRUE, "6,5,2"},
      {QFX_IS_ALL, QFX_IF_FALSE, "4,3,1"}, /* "yes" is not true */
      {QFX_IS_OPEN, QFX_IF_TRUE, "6,5"},
      {QFX_IS_CLOSED, QFX_IF_FALSE, "1"},
      {QFX_IS_READY, QFX_IF_TRUE, ""},
  };
  assert_int_equal(p->nissues, 6);
  assert_int_equal(p->nflagged, 3);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    yajl_val doc = page(p, 1, 100, cases[i].status, cases[i].flagged);
    char got[64];
    ids(doc, got, sizeof(got));
    if (strcmp(got, cases[i].ids) != 0)
      fail_msg("filter %s/%d: got [%s], want [%s]",
               qfx_issue_status_names[cases[i].status], cases[i].flagged, got,
               cases[i].ids);
    assert_int_equal(
        data_int(doc, "total"),
        (long long)qfx_project_count(p, cases[i].status, cases[i].flagged));
    yajl_tree_free(doc);
  }
}

static void test_pages(void **state) {
  const qfx_project_t *p = *state;
  static const struct {
    long page, limit;
    const char *ids;
    bool more;
  } cases[] = {
      {1, 2, "6,5", true},          {2, 2, "4,3", true},
      {3, 2, "2,1", false},         {4, 2, "", false},
      {1, 6, "6,5,4,3,2,1", false}, {2, 5, "1", false},
      {1000000, 100, "", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    yajl_val doc =
        page(p, cases[i].page, cases[i].limit, QFX_IS_ALL, QFX_IF_ANY);
    char got[64];
    ids(doc, got, sizeof(got));
    assert_string_equal(got, cases[i].ids);
    yajl_val data = qf_json_get(doc, "data");
    assert_int_equal(data_int(doc, "page"), cases[i].page);
    assert_int_equal(data_int(doc, "limit"), cases[i].limit);
    assert_int_equal(data_int(doc, "total"), 6);
    assert_true(YAJL_IS_TRUE(qf_json_get(data, "has_more")) == cases[i].more);
    assert_string_equal(qf_json_get_str(data, "status"), "all");
    assert_true(YAJL_IS_NULL(qf_json_get(data, "flagged")));
    yajl_tree_free(doc);
  }
}

static void test_issue_item(void **state) {
  const qfx_project_t *p = *state;
  yajl_val doc = page(p, 1, 2, QFX_IS_BLOCKED, QFX_IF_TRUE);
  yajl_val data = qf_json_get(doc, "data");
  assert_true(YAJL_IS_TRUE(qf_json_get(data, "flagged")));
  assert_string_equal(qf_json_get_str(data, "status"), "blocked");
  yajl_val six = qf_json_get(data, "issues")->u.array.values[0];
  static const char *const keys[] = {
      "id",         "title",      "state",
      "status",     "flagged",    "priority",
      "trigger",    "reason",     "blocked_duration_hours",
      "labels",     "assignees",  "github_url",
      "created_at", "updated_at", "closed_at"};
  assert_int_equal(six->u.object.len, 15); /* nothing else (pull_requests) */
  for (size_t i = 0; i < 15; i++)
    assert_string_equal(six->u.object.keys[i], keys[i]);
  yajl_val labels = qf_json_get(six, "labels");
  assert_int_equal(labels->u.array.len, 1); /* the number 7 is dropped */
  assert_string_equal(qf_json_get_str(six, "trigger"), "blocked_too_long");
  double hours = 0;
  assert_int_equal(qf_json_get_double(six, "blocked_duration_hours", &hours),
                   0);
  assert_true(hours == 30.5);
  yajl_val five = qf_json_get(data, "issues")->u.array.values[1];
  assert_true(YAJL_IS_NULL(qf_json_get(five, "created_at")));
  assert_int_equal(qf_json_get(five, "assignees")->u.array.len, 0);
  yajl_tree_free(doc);
}

static void test_completion_and_prune(void **state) {
  qfx_project_t *p = *state;
  /* The tree kept for /status and /metrics no longer holds the issues. */
  assert_null(qf_json_get(p->doc, "issues"));
  assert_string_equal(qf_json_get_str(p->doc, "repository"), "owner/repo");
  assert_non_null(p->completion.full);
  assert_int_equal(p->completion.status, 200);
  assert_int_equal(strlen(p->completion.etag), 18);
}

/* completion_body builds a project from json (NULL: none) and parses its
 * /project/completion body back. */
static yajl_val completion_body(const char *json) {
  qfx_project_t *p = build_ok(json);
  assert_non_null(p->completion.body);
  assert_int_equal(strlen(p->completion.body), p->completion.len);
  yajl_val doc = parse_ok(p->completion.body);
  qfx_project_release(p);
  return doc;
}

static void test_completion_body(void **state) {
  (void)state; /* unused */
  yajl_val d = completion_body(project_json);
  long long v = -1;
  assert_int_equal(qf_json_get_int(d, "completion", &v), 0);
  assert_int_equal(v, 33);
  yajl_val flat = qf_json_get(d, "issues");
  assert_int_equal(qf_json_get_int(flat, "open", &v), 0);
  assert_int_equal(v, 4);
  assert_int_equal(qf_json_get_int(flat, "closed", &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(qf_json_get_int(flat, "total", &v), 0);
  assert_int_equal(v, 6);
  yajl_val data = qf_json_get(d, "data");
  assert_int_equal(qf_json_get_int(data, "flagged_issues", &v), 0);
  assert_int_equal(v, 3);
  yajl_val human = qf_json_get(data, "issues_requiring_human_intervention");
  assert_int_equal(human->u.array.len, 3);
  long long order[3];
  for (size_t i = 0; i < 3; i++)
    qf_json_get_int(human->u.array.values[i], "id", &order[i]);
  assert_true(order[0] == 5 && order[1] == 6 && order[2] == 2);
  assert_int_equal(human->u.array.values[0]->u.object.len, 7);
  double trend = 0;
  assert_int_equal(qf_json_get_double(data, "velocity_trend", &trend), 0);
  assert_true(trend == 0.29);
  yajl_val vel = qf_json_get(data, "velocity");
  assert_int_equal(vel->u.object.len, 4); /* "extra" is not copied */
  assert_string_equal(qf_json_get_str(data, "last_updated"),
                      "2026-11-27T10:00:00Z");
  assert_string_equal(qf_json_get_str(data, "estimated_completion_date"),
                      "2026-12-15");
  yajl_tree_free(d);

  d = completion_body(NULL); /* before project.json exists */
  assert_true(YAJL_IS_NULL(qf_json_get(d, "completion")));
  assert_true(YAJL_IS_NULL(qf_json_get(qf_json_get(d, "issues"), "total")));
  data = qf_json_get(d, "data");
  assert_true(YAJL_IS_NULL(qf_json_get(data, "flagged_issues")));
  assert_int_equal(
      qf_json_get(data, "issues_requiring_human_intervention")->u.array.len, 0);
  assert_int_equal(qf_json_get(data, "velocity")->u.object.len, 0);
  yajl_tree_free(d);
}

/* data_len is the length of the list or object at data[key]. */
static size_t data_len(yajl_val d, const char *key) {
  yajl_val v = qf_json_get(qf_json_get(d, "data"), key);
  if (YAJL_IS_ARRAY(v))
    return v->u.array.len;
  fail_msg("data.%s is not a list", key);
  return 0;
}

static void test_completion_sync_state(void **state) {
  (void)state; /* unused */
  /* Never synced, actions/runs refused: the numbers are null, and the
   * body says why (never) and what is missing (ci_runs). */
  yajl_val d = completion_body(
      "{\"repository\": \"owner/repo\", \"last_sync\": null,"
      " \"sync_state\": \"never\", \"github\": {\"unavailable\": ["
      "  {\"part\": \"ci_runs\", \"reason\": \"HTTP 403: Resource not "
      "accessible by personal access token\", \"since\": "
      "\"2026-11-27T09:00:00Z\", \"retry_at\": \"2026-11-27T10:00:00Z\"}]},"
      " \"completion\": {\"completion_percentage\": 0, \"total_issues\": 0,"
      "  \"completed_issues\": 0}, \"issues\": []}");
  yajl_val data = qf_json_get(d, "data");
  assert_true(YAJL_IS_NULL(qf_json_get(data, "total_issues")));
  assert_true(YAJL_IS_NULL(qf_json_get(qf_json_get(d, "issues"), "total")));
  assert_string_equal(qf_json_get_str(data, "sync_state"), "never");
  assert_int_equal(data_len(d, "unavailable"), 1);
  yajl_val u = qf_json_get(data, "unavailable")->u.array.values[0];
  assert_int_equal(u->u.object.len, 4);
  assert_string_equal(qf_json_get_str(u, "part"), "ci_runs");
  assert_string_equal(qf_json_get_str(u, "retry_at"), "2026-11-27T10:00:00Z");
  yajl_tree_free(d);

  /* Synced and empty: zeros are the repository's, the state says ok. */
  d = completion_body(
      "{\"repository\": \"owner/repo\", \"last_sync\": "
      "\"2026-11-27T09:59:00Z\", \"sync_state\": \"ok\", \"github\": "
      "{\"unavailable\": []}, \"completion\": {\"completion_percentage\": 0,"
      " \"total_issues\": 0, \"completed_issues\": 0}, \"issues\": []}");
  long long v = -1;
  data = qf_json_get(d, "data");
  assert_int_equal(qf_json_get_int(data, "total_issues", &v), 0);
  assert_int_equal(v, 0);
  assert_string_equal(qf_json_get_str(data, "sync_state"), "ok");
  assert_int_equal(data_len(d, "unavailable"), 0);
  yajl_tree_free(d);

  /* Without project.json, and from an older qiflow_github: unknown. */
  const char *unknown[] = {NULL, project_json};
  for (size_t i = 0; i < 2; i++) {
    d = completion_body(unknown[i]);
    assert_true(
        YAJL_IS_NULL(qf_json_get(qf_json_get(d, "data"), "sync_state")));
    assert_int_equal(data_len(d, "unavailable"), 0);
    yajl_tree_free(d);
  }
}

static void test_empty_project_pages(void **state) {
  (void)state; /* unused */
  qfx_project_t *p = build_ok(NULL);
  yajl_val doc = page(p, 1, 20, QFX_IS_OPEN, QFX_IF_ANY);
  assert_int_equal(data_int(doc, "total"), 0);
  yajl_tree_free(doc);
  qfx_project_release(p);
  /* A document whose issues are not a list has no issues, no crash. */
  p = build_ok("{\"issues\": {\"id\": 1}}");
  assert_int_equal(p->nissues, 0);
  assert_null(qf_json_get(p->doc, "issues"));
  qfx_project_release(p);
}

/* A file that is not a JSON object is refused with the parser's reason
 * and nothing is built. */
static void test_broken_text(void **state) {
  (void)state; /* table-driven */
  static const char *const bad[] = {
      "",
      "[1, 2]",
      "42",
      "{\"issues\": [{\"id\": 1},",
      "{\"a\": 1} x",
      "{\"issues\": [{\"id\": 1}, {\"title\": \"\xff\"}]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    qfx_project_t *p = (qfx_project_t *)&headers; /* must become NULL */
    char err[200] = "";
    int rc = qfx_project_build(bad[i], strlen(bad[i]), &headers, &p, err,
                               sizeof(err));
    if (rc != -EINVAL || p != NULL || err[0] == '\0')
      fail_msg("case %zu: rc %d, err \"%s\"", i, rc, err);
  }
}

/* many_json writes a project of n issues numbered n..1: issue k is closed
 * when k % 3 == 0, flagged (critical when k % 10 == 0) when k % 7 == 0. */
static char *many_json(int n) {
  qf_buf_t b = QF_BUF_INIT;
  assert_int_equal(qf_buf_puts(&b, "{\"repository\": \"o/r\", "
                                   "\"issues\": ["),
                   0);
  for (int k = n; k >= 1; k--)
    assert_int_equal(
        qf_buf_printf(&b,
                      "%s{\"id\": %d, \"title\": \"Issue number %d\", "
                      "\"state\": \"%s\", \"status\": \"%s\", "
                      "\"flagged\": %s, \"priority\": %s, "
                      "\"labels\": [\"l%d\"]}",
                      k == n ? "" : ", ", k, k, k % 3 ? "open" : "closed",
                      k % 3 ? "ready" : "done", k % 7 ? "false" : "true",
                      k % 7 ? "null" : (k % 10 ? "\"review\"" : "\"critical\""),
                      k),
        0);
  assert_int_equal(qf_buf_puts(&b, "]}"), 0);
  return qf_buf_steal(&b, NULL);
}

/* Hundreds of issues span many compressed blocks: every page of every
 * filter holds exactly the issues it should, whole, in order, across the
 * blocks' boundaries. */
static void test_many_blocks(void **state) {
  (void)state; /* no fixture */
  const int n = 1000;
  char *json = many_json(n);
  qfx_project_t *p = build_ok(json);
  free(json);
  assert_int_equal(p->nissues, n);
  assert_true(p->nblocks >= (size_t)n / QFX_BLOCK_MAX &&
              p->nblocks <= (size_t)n / QFX_BLOCK_MIN);
  assert_int_equal(p->blocks[0].zoff, 0);
  assert_int_equal(p->blocks[0].first, 0);
  assert_int_equal(p->blocks[p->nblocks].first, n);
  for (size_t b = 0; b < p->nblocks; b++) {
    assert_true(p->blocks[b].zoff < p->blocks[b + 1].zoff);
    uint32_t size = p->blocks[b + 1].first - p->blocks[b].first;
    assert_true(size <= QFX_BLOCK_MAX);
    assert_true(size >= QFX_BLOCK_MIN || b + 1 == p->nblocks);
  }
  /* the blocks do compress */
  assert_true((size_t)p->blocks[p->nblocks].zoff * 3 < p->raw_bytes);
  static const struct {
    int status, flagged;
    long limit;
  } cases[] = {{QFX_IS_ALL, QFX_IF_ANY, 100},
               {QFX_IS_OPEN, QFX_IF_ANY, 37},
               {QFX_IS_CLOSED, QFX_IF_FALSE, 100},
               {QFX_IS_ALL, QFX_IF_TRUE, 7},
               {QFX_IS_DONE, QFX_IF_TRUE, 1}};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    int want = n + 1; /* the next id the filter should give */
    long seen = 0;
    for (long pg = 1;; pg++) {
      yajl_val doc =
          page(p, pg, cases[c].limit, cases[c].status, cases[c].flagged);
      yajl_val list = qf_json_get(qf_json_get(doc, "data"), "issues");
      for (size_t i = 0; i < list->u.array.len; i++, seen++) {
        yajl_val it = list->u.array.values[i];
        do
          want--;
        while (want > 0 &&
               !((cases[c].status == QFX_IS_ALL ||
                  (cases[c].status == QFX_IS_OPEN) == (want % 3 != 0)) &&
                 (cases[c].flagged == QFX_IF_ANY ||
                  (cases[c].flagged == QFX_IF_TRUE) == (want % 7 == 0))));
        long long id = 0;
        char title[40];
        snprintf(title, sizeof(title), "Issue number %d", want);
        assert_int_equal(qf_json_get_int(it, "id", &id), 0);
        assert_int_equal(id, want);
        assert_string_equal(qf_json_get_str(it, "title"), title);
      }
      bool more =
          YAJL_IS_TRUE(qf_json_get(qf_json_get(doc, "data"), "has_more"));
      yajl_tree_free(doc);
      if (!more)
        break;
    }
    assert_int_equal(
        seen, (long)qfx_project_count(p, cases[c].status, cases[c].flagged));
  }
  /* The completion lists every flagged issue, critical ones first. */
  yajl_val d = parse_ok(p->completion.body);
  yajl_val human = qf_json_get(qf_json_get(d, "data"),
                               "issues_requiring_human_intervention");
  assert_int_equal(human->u.array.len, n / 7);
  long long first = 0, last = 0;
  qf_json_get_int(human->u.array.values[0], "id", &first);
  qf_json_get_int(human->u.array.values[n / 7 - 1], "id", &last);
  assert_int_equal(first, 980); /* the highest multiple of 70 */
  assert_int_equal(last, 7);
  yajl_tree_free(d);
  qfx_project_release(p);
}

/* raw_page renders q on p as text (the caller frees it). */
static char *raw_page(const qfx_project_t *p, long pg, long limit, int status,
                      int flagged) {
  qfx_issues_query_t q = {pg, limit, status, flagged};
  char *body = NULL;
  size_t len = 0;
  assert_int_equal(qfx_project_page(p, &q, &body, &len), 0);
  return body;
}

/* replace1 returns text with the first "from" replaced by "to". */
static char *replace1(const char *text, const char *from, const char *to) {
  const char *at = strstr(text, from);
  assert_non_null(at);
  qf_buf_t b = QF_BUF_INIT;
  assert_int_equal(qf_buf_append(&b, text, (size_t)(at - text)), 0);
  assert_int_equal(qf_buf_puts(&b, to), 0);
  assert_int_equal(qf_buf_puts(&b, at + strlen(from)), 0);
  return qf_buf_steal(&b, NULL);
}

/* update_ok makes the next version of prev from json, or fails. */
static qfx_project_t *update_ok(qfx_project_t *prev, const char *json) {
  qfx_project_t *p = NULL;
  char err[200] = "";
  int rc = qfx_project_update(prev, json, strlen(json), &headers, &p, err,
                              sizeof(err));
  if (rc != 0 || p == NULL)
    fail_msg("not updated (%d): %s", rc, err);
  return p;
}

/* A version of project.json changed only outside its issue list shares
 * the issues (no second index) and answers byte for byte what a fresh
 * build does, with the new head; a changed list is indexed again. */
static void test_update_shares_issues(void **state) {
  (void)state; /* no fixture */
  qfx_project_t *a = build_ok(project_json);
  char *head = replace1(project_json,
                        "\"estimated_completion_date\": "
                        "\"2026-12-15\"",
                        "\"estimated_completion_date\": \"2027-01-31\"");
  qfx_project_t *b = update_ok(a, head), *fresh = build_ok(head);
  assert_ptr_equal(b->issues_of, a);
  assert_ptr_equal(b->z, a->z);
  assert_int_equal(b->nreused, b->nblocks);
  assert_string_equal(b->completion.body, fresh->completion.body);
  assert_non_null(strstr(b->completion.body, "2027-01-31"));
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++) {
      char *x = raw_page(b, 1, 3, s, f), *y = raw_page(fresh, 1, 3, s, f);
      assert_string_equal(x, y);
      free(x);
      free(y);
    }
  /* The next head-only change shares with the owner, not a chain. */
  qfx_project_release(a);
  qfx_project_t *c = update_ok(b, project_json);
  assert_ptr_equal(c->issues_of, b->issues_of);
  qfx_project_release(b);
  char *x = raw_page(c, 1, 20, QFX_IS_ALL, QFX_IF_ANY);
  assert_non_null(strstr(x, "\"title\":\"Six\""));
  free(x);
  char *issues = replace1(project_json, "\"Six\"", "\"Sixth\"");
  qfx_project_t *d = update_ok(c, issues);
  assert_null(d->issues_of);
  x = raw_page(d, 1, 1, QFX_IS_ALL, QFX_IF_ANY);
  assert_non_null(strstr(x, "\"title\":\"Sixth\""));
  free(x);
  qfx_project_release(c);
  qfx_project_release(d);
  qfx_project_release(fresh);
  free(head);
  free(issues);
}

static void test_query_good(void **state) {
  (void)state; /* unused */
  qfx_issues_query_t q;
  char err[200] = "";
  assert_int_equal(qfx_issues_query_parse(NULL, 0, &q, err, sizeof(err)), 0);
  assert_true(q.page == 1 && q.limit == 20 && q.status == QFX_IS_ALL &&
              q.flagged == QFX_IF_ANY);
  qfx_kv_t kv[] = {{"flagged", "false"},
                   {"status", "in_progress"},
                   {"limit", "100"},
                   {"page", "1000000"}};
  assert_int_equal(qfx_issues_query_parse(kv, 4, &q, err, sizeof(err)), 0);
  assert_true(q.page == 1000000 && q.limit == 100 &&
              q.status == QFX_IS_IN_PROGRESS && q.flagged == QFX_IF_FALSE);
  for (int s = 0; s < QFX_IS_N; s++) {
    qfx_kv_t one = {"status", qfx_issue_status_names[s]};
    assert_int_equal(qfx_issues_query_parse(&one, 1, &q, err, sizeof(err)), 0);
    assert_int_equal(q.status, s);
  }
  /* Empty parameters ("?&limit=5&&") are skipped, wherever they are. */
  qfx_kv_t gaps[] = {{"", NULL}, {"limit", "5"}, {NULL, NULL}, {"", NULL}};
  assert_int_equal(qfx_issues_query_parse(gaps, 4, &q, err, sizeof(err)), 0);
  assert_true(q.limit == 5 && q.page == 1);
  assert_int_equal(qfx_issues_query_parse(gaps, 1, &q, err, sizeof(err)), 0);
  assert_int_equal(q.limit, 20);
  assert_true(qfx_query_empty(&gaps[0]));
  assert_false(qfx_query_empty(&(qfx_kv_t){"", ""}));  /* "?=" */
  assert_false(qfx_query_empty(&(qfx_kv_t){"", "5"})); /* "?=5" */
  assert_false(qfx_query_empty(&(qfx_kv_t){"x", NULL}));
}

static void test_query_bad(void **state) {
  (void)state; /* unused */
  static const struct {
    qfx_kv_t kv[2];
    size_t n;
    const char *names;
  } bad[] = {
      {{{"page", "0"}}, 1, "page:"},
      {{{"page", "-1"}}, 1, "page:"},
      {{{"page", "+1"}}, 1, "page:"},
      {{{"page", "1.5"}}, 1, "page:"},
      {{{"page", " 1"}}, 1, "page:"},
      {{{"page", "1000001"}}, 1, "page:"},
      {{{"page", "99999999999999999999999999"}}, 1, "page:"},
      {{{"page", ""}}, 1, "page:"},
      {{{"page", NULL}}, 1, "page: missing value"},
      {{{"limit", "0"}}, 1, "limit:"},
      {{{"limit", "101"}}, 1, "limit:"},
      {{{"limit", "ten"}}, 1, "limit:"},
      {{{"limit", "0x10"}}, 1, "limit:"},
      {{{"status", "OPEN"}}, 1, "status:"},
      {{{"status", "in-progress"}}, 1, "status:"},
      {{{"status", ""}}, 1, "status:"},
      {{{"flagged", "1"}}, 1, "flagged:"},
      {{{"flagged", "True"}}, 1, "flagged:"},
      {{{"flagged", NULL}}, 1, "flagged: missing value"},
      {{{"page", "1"}, {"page", "1"}}, 2, "page: given more than once"},
      {{{"status", "open"}, {"status", "all"}}, 2, "status: given more"},
      {{{"sort", "asc"}}, 1, "sort: unknown parameter"},
      {{{"Page", "1"}}, 1, "Page: unknown parameter"},
      {{{"", "1"}}, 1, "query: a parameter without a name"},
      {{{"", ""}}, 1, "query: a parameter without a name"},
      {{{"", NULL}, {"=", "1"}}, 2, "=: unknown parameter"},
      {{{"limit", "5"}, {"x", NULL}}, 2, "x: unknown parameter"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    qfx_issues_query_t q;
    char err[200] = "";
    int rc = qfx_issues_query_parse(bad[i].kv, bad[i].n, &q, err, sizeof(err));
    if (rc != -EINVAL || strstr(err, bad[i].names) != err)
      fail_msg("case %zu: rc %d, error \"%s\" does not start with \"%s\"", i,
               rc, err, bad[i].names);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_issue_item, setup, teardown),
      cmocka_unit_test_setup_teardown(test_completion_and_prune, setup,
                                      teardown),
      cmocka_unit_test(test_completion_body),
      cmocka_unit_test(test_completion_sync_state),
      cmocka_unit_test(test_empty_project_pages),
      cmocka_unit_test(test_broken_text),
      cmocka_unit_test(test_many_blocks),
      cmocka_unit_test(test_update_shares_issues),
      cmocka_unit_test(test_query_good),
      cmocka_unit_test(test_query_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
