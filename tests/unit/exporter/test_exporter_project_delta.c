/* Unit tests for project_span.c, project_delta.c and project_index.c: a
 * new version of project.json indexed against the last one gives, byte
 * for byte, what a fresh build of it gives (the same blocks, pages, counts
 * and completion body), whatever changed: issues edited, added at either
 * end or in the middle, removed, flagged; elements that are no issues;
 * broken text; and whether the text is in memory or read from the file a
 * window at a time, however small the window. And it indexes again only
 * the blocks around a change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "project.h"
#include "project_index.h"
#include "qf_buf.h"
#include "qf_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const qfx_headers_t headers = {"*", "max-age=1"};

#define N_ISSUES 3000

/* issue writes issue k of the generated project: closed when k % 3 == 0,
 * flagged when k % 7 == 0 (critical, a merge conflict, when k % 10 == 0
 * too; else blocked too long for hours hours). */
static void issue(qf_buf_t *b, int k, double hours) {
  bool flagged = k % 7 == 0, critical = flagged && k % 10 == 0;
  assert_int_equal(
      qf_buf_printf(
          b,
          "{\"id\": %d, \"title\": \"Issue number %d\", \"state\": \"%s\", "
          "\"status\": \"%s\", \"flagged\": %s, \"priority\": %s, "
          "\"trigger\": %s, \"blocked_duration_hours\": %.1f, "
          "\"labels\": [\"area/%d\"], \"assignees\": [], "
          "\"github_url\": \"https://github.com/o/r/issues/%d\"}",
          k, k, k % 3 ? "open" : "closed",
          k % 3 ? (flagged ? "blocked" : "ready") : "done",
          flagged ? "true" : "false",
          !flagged   ? "null"
          : critical ? "\"critical\""
                     : "\"review\"",
          !flagged   ? "null"
          : critical ? "\"merge_conflict\""
                     : "\"blocked_too_long\"",
          hours, k % 5, k),
      0);
}

/* project writes a project of issues hi..lo (descending), hours of being
 * blocked each, its head saying `when`. The caller frees it. */
static char *project(int hi, int lo, double hours, const char *when) {
  qf_buf_t b = QF_BUF_INIT;
  assert_int_equal(qf_buf_printf(&b,
                                 "{\"repository\": \"o/r\", \"last_sync\": "
                                 "\"%s\", \"completion\": {\"total_issues\": "
                                 "%d, \"completed_issues\": 0}, "
                                 "\"issues\": [",
                                 when, hi - lo + 1),
                   0);
  for (int k = hi; k >= lo; k--) {
    if (k != hi)
      assert_int_equal(qf_buf_puts(&b, ", "), 0);
    issue(&b, k, hours);
  }
  assert_int_equal(qf_buf_puts(&b, "]}"), 0);
  return qf_buf_steal(&b, NULL);
}

/* edit returns text with text[at, at + cut) replaced by put. */
static char *edit(const char *text, size_t at, size_t cut, const char *put) {
  qf_buf_t b = QF_BUF_INIT;
  assert_int_equal(qf_buf_append(&b, text, at), 0);
  assert_int_equal(qf_buf_puts(&b, put), 0);
  assert_int_equal(qf_buf_puts(&b, text + at + cut), 0);
  return qf_buf_steal(&b, NULL);
}

/* issue_at is where issue k's object starts in text, and *len its
 * length. */
static size_t issue_at(const char *text, int k, size_t *len) {
  char key[40];
  snprintf(key, sizeof(key), "{\"id\": %d,", k);
  const char *at = strstr(text, key);
  assert_non_null(at);
  *len = (size_t)(strchr(at, '}') - at) + 1; /* no nested object */
  return (size_t)(at - text);
}

/* reissue returns text with issue k rewritten as blocked for hours. */
static char *reissue(const char *text, int k, double hours) {
  size_t len;
  size_t at = issue_at(text, k, &len);
  qf_buf_t one = QF_BUF_INIT;
  issue(&one, k, hours);
  char *out = edit(text, at, len, one.data);
  qf_buf_free(&one);
  return out;
}

static qfx_project_t *build_ok(const char *json) {
  qfx_project_t *p = NULL;
  char err[200] = "";
  if (qfx_project_build(json, strlen(json), &headers, &p, err, sizeof(err)))
    fail_msg("not built: %s", err);
  return p;
}

static qfx_project_t *update_ok(qfx_project_t *prev, const char *json) {
  qfx_project_t *p = NULL;
  char err[200] = "";
  if (qfx_project_update(prev, json, strlen(json), &headers, &p, err,
                         sizeof(err)))
    fail_msg("not updated: %s", err);
  return p;
}

/* file_of is an unlinked temporary file holding text[0, len). */
static FILE *file_of(const char *text, size_t len) {
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fflush(f), 0);
  return f;
}

/* update_file is qfx_project_update from a file read window bytes at a
 * time: rc, *out and err as it gives them. */
static int update_file(qfx_project_t *prev, const char *json, size_t window,
                       qfx_project_t **out, char *err, size_t errlen) {
  FILE *f = file_of(json, strlen(json));
  qf_src_t src = {.fd = fileno(f), .len = strlen(json), .window = window};
  int rc = qfx_project_update_src(prev, &src, &headers, out, err, errlen);
  fclose(f);
  return rc;
}

/* same_index checks that a and b hold the same issue index. */
static void same_index(const qfx_project_t *a, const qfx_project_t *b) {
  assert_int_equal(a->nissues, b->nissues);
  assert_int_equal(a->nblocks, b->nblocks);
  assert_int_equal(a->nreused, b->nreused);
  assert_int_equal(a->raw_bytes, b->raw_bytes);
  for (size_t k = 0; k < a->nblocks; k++)
    assert_true(a->blocks[k].hash == b->blocks[k].hash &&
                a->blocks[k].first == b->blocks[k].first);
  assert_memory_equal(a->classes, b->classes, a->nissues);
  assert_string_equal(a->completion.body, b->completion.body);
}

/* same_pages checks every page (100 a page) of filter (s, f). */
static void same_pages(const qfx_project_t *a, const qfx_project_t *b, int s,
                       int f) {
  size_t n = qfx_project_count(a, s, f);
  assert_int_equal(n, qfx_project_count(b, s, f));
  for (long pg = 1; pg == 1 || (size_t)(pg - 1) * 100 < n; pg++) {
    qfx_issues_query_t q = {pg, 100, s, f};
    char *x = NULL, *y = NULL;
    size_t xl, yl;
    assert_int_equal(qfx_project_page(a, &q, &x, &xl), 0);
    assert_int_equal(qfx_project_page(b, &q, &y, &yl), 0);
    assert_string_equal(x, y);
    free(x);
    free(y);
  }
}

/* same checks that p, an update, is what a fresh build of json is: the
 * same blocks, counts, pages and completion. */
static void same(const qfx_project_t *p, const char *json) {
  qfx_project_t *fresh = build_ok(json);
  assert_int_equal(p->nissues, fresh->nissues);
  assert_int_equal(p->nblocks, fresh->nblocks);
  for (size_t k = 0; k <= p->nblocks; k++) {
    assert_int_equal(p->blocks[k].first, fresh->blocks[k].first);
    assert_int_equal(p->blocks[k].hum[0], fresh->blocks[k].hum[0]);
    assert_int_equal(p->blocks[k].hum[1], fresh->blocks[k].hum[1]);
    if (k < p->nblocks)
      assert_true(p->blocks[k].hash == fresh->blocks[k].hash);
  }
  assert_memory_equal(p->classes, fresh->classes, p->nissues);
  assert_memory_equal(p->flagged_by_trigger, fresh->flagged_by_trigger,
                      sizeof(p->flagged_by_trigger));
  assert_int_equal(p->nflagged, fresh->nflagged);
  assert_string_equal(p->completion.body, fresh->completion.body);
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++)
      same_pages(p, fresh, s, f);
  qfx_project_release(fresh);
}

/* step updates *prev to json, checks it against a fresh build and that
 * at most `changed` blocks were indexed again, and frees json. */
static void step(qfx_project_t **prev, char *json, size_t changed) {
  static const size_t windows[] = {1, 7, 500, 0};
  static size_t turn;
  qfx_project_t *p = update_ok(*prev, json), *f = NULL;
  char err[200] = "";
  size_t w = windows[turn++ % 4];
  if (update_file(*prev, json, w, &f, err, sizeof(err)) != 0)
    fail_msg("not updated from the file (window %zu): %s", w, err);
  same_index(p, f);
  qfx_project_release(f);
  same(p, json);
  if (p->nblocks - p->nreused > changed)
    fail_msg("%zu of %zu blocks indexed again, expected at most %zu",
             p->nblocks - p->nreused, p->nblocks, changed);
  qfx_project_release(*prev);
  *prev = p;
  free(json);
}

/* Edits, additions and removals anywhere in the list re-index only the
 * blocks around them (a changed issue can move its block's end, so two
 * or three blocks), across a chain of versions each built from the
 * last. */
static void test_delta_follows_the_change(void **state) {
  (void)state; /* no fixture */
  char *base = project(N_ISSUES, 1, 1.0, "2026-12-01T00:00:00Z");
  qfx_project_t *p = build_ok(base);
  assert_true(p->nblocks > 10);
  char *text = strdup(base);
  /* three blocked durations move */
  char *next = reissue(text, 2996, 1.1);
  free(text);
  text = reissue(next, 1498, 1.1);
  free(next);
  next = reissue(text, 7, 1.1);
  free(text);
  step(&p, strdup(next), 9);
  /* a new issue at the top (GitHub lists newest first) */
  size_t len;
  size_t at = issue_at(next, N_ISSUES, &len);
  qf_buf_t one = QF_BUF_INIT;
  issue(&one, N_ISSUES + 1, 2.0);
  assert_int_equal(qf_buf_puts(&one, ", "), 0);
  text = edit(next, at, 0, one.data);
  qf_buf_free(&one);
  free(next);
  step(&p, strdup(text), 3);
  /* one removed from the middle, with its separator */
  at = issue_at(text, 1500, &len);
  next = edit(text, at, len + 2, "");
  free(text);
  step(&p, strdup(next), 3);
  /* one flagged (the human list and trigger counts change) */
  text = next;
  char *fl = strstr(strstr(text, "{\"id\": 1003,"), "\"flagged\": false");
  memcpy(fl, "\"flagged\": true ", 16);
  step(&p, strdup(text), 3);
  /* the head only: everything shared */
  next = edit(text, strlen("{\"repository\": \"o/r\", \"last_sync\": \""),
              strlen("2026-12-01T00:00:00Z"), "2026-12-02T00:00:00Z");
  free(text);
  qfx_project_t *q = update_ok(p, next);
  assert_non_null(q->issues_of);
  assert_int_equal(q->nreused, q->nblocks);
  same(q, next);
  qfx_project_release(q);
  /* every issue changed: nothing taken over */
  free(next);
  next = project(N_ISSUES, 1, 5.0, "2026-12-02T00:00:00Z");
  step(&p, strdup(next), SIZE_MAX);
  assert_int_equal(p->nreused, 0);
  free(next);
  free(base);
  qfx_project_release(p);
}

/* Elements that are no issues are left out as a fresh build leaves them
 * out, and do not stop the blocks around them from being taken over. */
static void test_delta_non_issues(void **state) {
  (void)state; /* no fixture */
  char *base = project(600, 1, 1.0, "2026-12-01T00:00:00Z");
  size_t len;
  size_t at = issue_at(base, 300, &len);
  char *with = edit(base, at, 0, "\"not an issue\", [1, {\"a\": 2}], null, ");
  qfx_project_t *first = build_ok(base), *p = update_ok(first, with);
  qfx_project_release(first);
  same(p, with);
  assert_true(p->nreused > 0);
  char *more = reissue(with, 100, 2.0);
  step(&p, more, 3);
  qfx_project_release(p);
  free(with);
  free(base);
}

/* A new version that does not parse fails as a fresh build of it fails
 * (the previous project is the caller's to keep), wherever the fault is:
 * in an issue, a comment the full parser refuses, an element that is no
 * issue, between elements, or outside the list. */
static void test_delta_broken(void **state) {
  (void)state; /* no fixture */
  char *base = project(600, 1, 1.0, "2026-12-01T00:00:00Z");
  qfx_project_t *p = build_ok(base);
  size_t len;
  size_t at = issue_at(base, 300, &len);
  static const struct {
    size_t skip; /* from the start of issue 300 */
    const char *put;
  } cases[] = {
      {1, "\"id\" 300, "},    /* no ':' inside an issue */
      {1, "/* c */ "},        /* a comment inside an issue */
      {0, "\"\xff\", "},      /* a string that is no UTF-8, no issue */
      {0, "tru, "},           /* no JSON value at all */
      {0, ", "},              /* an empty element */
      {0, "{\"id\": 1}} , "}, /* a brace too many */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *bad = edit(base, at + cases[i].skip, 0, cases[i].put);
    qfx_project_t *u = NULL, *b = NULL;
    char err[200] = "", berr[200] = "";
    int rc =
        qfx_project_update(p, bad, strlen(bad), &headers, &u, err, sizeof(err));
    int brc =
        qfx_project_build(bad, strlen(bad), &headers, &b, berr, sizeof(berr));
    if (rc != -EINVAL || brc != -EINVAL || u != NULL || b != NULL ||
        strcmp(err, berr) != 0)
      fail_msg("case %zu: update %d \"%s\", build %d \"%s\"", i, rc, err, brc,
               berr);
    rc = update_file(p, bad, 3, &u, err, sizeof(err));
    if (rc != -EINVAL || u != NULL || strcmp(err, berr) != 0)
      fail_msg("case %zu from the file: %d \"%s\"", i, rc, err);
    free(bad);
  }
  qfx_project_release(p);
  free(base);
}

/* scan_all scans text in memory, then from a file with windows of 1 to
 * 9 bytes and the default: the same rc, blocks and rest each time. The
 * last scan is left in *sc. */
static int scan_all(const char *text, qfx_scan_t *sc) {
  size_t len = strlen(text);
  qf_src_t mem = {.text = text, .fd = -1, .len = len};
  int rc = qfx_scan(&mem, sc);
  FILE *f = file_of(text, len);
  for (size_t w = 1; w <= 10; w++) {
    qfx_scan_t o;
    qf_src_t src = {.fd = fileno(f), .len = len, .window = w % 10};
    int orc = qfx_scan(&src, &o);
    if (orc != rc || o.n != sc->n || (rc == 0 && o.rest.len != sc->rest.len))
      fail_msg("window %zu: rc %d (%d in memory), %zu blocks (%zu)", w, orc, rc,
               o.n, sc->n);
    if (rc == 0 && memcmp(o.rest.data, sc->rest.data, o.rest.len) != 0)
      fail_msg("window %zu: rest \"%s\" for \"%s\"", w, o.rest.data,
               sc->rest.data);
    for (size_t k = 0; k < o.n; k++)
      assert_true(memcmp(&o.v[k], &sc->v[k], sizeof(o.v[k])) == 0);
    qfx_scan_free(&o);
  }
  fclose(f);
  return rc;
}

/* qfx_scan finds the top-level list only (nested "issues" keys, strings
 * holding brackets, braces, commas and escaped quotes are skipped), gives
 * the rest of the text with [] in its place, and counts its objects; a
 * repeated, escaped or missing key, a list that is no array or does not
 * scan, or a text that is no object, does not scan. */
static void test_scan(void **state) {
  (void)state; /* table-driven */
  static const struct {
    const char *text, *rest; /* rest NULL: does not scan */
    uint32_t issues;
  } cases[] = {
      {"{\"issues\":[1,2]}", "{\"issues\":[]}", 0},
      {" { \"a\" : {\"issues\": [9]}, \"s\": \"}\\\"{[\" ,\n"
       "\"issues\" : [ {\"x\": \"]\"} ] , \"b\": true } ",
       " { \"a\" : {\"issues\": [9]}, \"s\": \"}\\\"{[\" ,\n"
       "\"issues\" : [] , \"b\": true } ",
       1},
      {"{\"issues\": [ ]}", "{\"issues\": []}", 0},
      {"{\"issues\":[ {\"a\": \"]},\\\"\"} , [2,3] ,\"x\\\\\", {} ]}",
       "{\"issues\":[]}", 2},
      {"{\"n\": -1.5e3, \"issues\": null}", NULL, 0},
      {"{\"issues\": [], \"issues\": []}", NULL, 0},
      {"{\"issu\\u0065s\": []}", NULL, 0},
      {"{\"other\": []}", NULL, 0},
      {"[\"issues\"]", NULL, 0},
      {"{\"issues\": [1, 2}", NULL, 0},
      {"{\"issues\" [1]}", NULL, 0},
      {"{\"issues\": [", NULL, 0},
      {"{\"issues\": [1", NULL, 0},
      {"{\"issues\": [1,]}", NULL, 0},
      {"{\"issues\": [,1]}", NULL, 0},
      {"{\"issues\": [1 2]}", NULL, 0},
      {"{\"issues\": [\"a]}", NULL, 0},
      {"{\"issues\": [}", NULL, 0},
      {"{\"issues\": [tru]}", NULL, 0},
      {"{\"issues\": []", NULL, 0},
      {"", NULL, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    qfx_scan_t sc;
    int rc = scan_all(cases[i].text, &sc);
    uint32_t n = 0;
    for (size_t k = 0; k < sc.n; k++)
      n += sc.v[k].n;
    if (cases[i].rest == NULL ? rc != -EAGAIN
                              : rc != 0 || n != cases[i].issues ||
                                    strcmp(sc.rest.data, cases[i].rest) != 0)
      fail_msg("case %zu: rc %d, %u issues, rest \"%s\"", i, rc, n,
               sc.rest.data != NULL ? sc.rest.data : "");
    qfx_scan_free(&sc);
  }
  /* a real list: the blocks cover every issue, cut as the index cuts */
  char *text = project(900, 1, 1.0, "2026-12-01T00:00:00Z");
  qfx_scan_t sc;
  assert_int_equal(scan_all(text, &sc), 0);
  qfx_project_t *p = build_ok(text);
  assert_int_equal(sc.n, p->nblocks);
  for (size_t k = 0; k < sc.n; k++)
    assert_true(sc.v[k].hash == p->blocks[k].hash &&
                sc.v[k].n == p->blocks[k + 1].first - p->blocks[k].first);
  qfx_project_release(p);
  qfx_scan_free(&sc);
  free(text);
}

/* A file that shrinks while it is read is an error that says so (the
 * caller keeps the last project), not a short project. */
static void test_file_shrinks(void **state) {
  (void)state; /* no fixture */
  char *text = project(300, 1, 1.0, "2026-12-01T00:00:00Z");
  size_t len = strlen(text);
  FILE *f = file_of(text, len / 2);
  qf_src_t src = {.fd = fileno(f), .len = len, .window = 64};
  qfx_project_t *p = NULL;
  char err[200] = "";
  int rc = qfx_project_update_src(NULL, &src, &headers, &p, err, sizeof(err));
  assert_int_equal(rc, -EIO);
  assert_null(p);
  assert_non_null(strstr(err, "changed while read"));
  fclose(f);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_delta_follows_the_change),
      cmocka_unit_test(test_delta_non_issues),
      cmocka_unit_test(test_delta_broken),
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_file_shrinks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
