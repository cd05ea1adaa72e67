/* Unit tests for heartbeat_project.c: what the heartbeat keeps of
 * project.json — the document without its issue list, the first flagged
 * issues in file order, the count of all flagged ones — and that a broken
 * file leaves the last good data in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_project.h"
#include "qf_buf.h"
#include "qf_json.h"
#include "qf_snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* load parses text into *p, expecting success. */
static void load(hb_project_t *p, const char *text) {
  char err[256];
  int status = hb_project_load(p, text, strlen(text), err, sizeof(err));
  if (status != 0)
    fail_msg("hb_project_load: %d %s", status, err);
  assert_non_null(p->doc);
}

/* kept_id is the id of the i-th kept flagged issue. */
static long long kept_id(const hb_project_t *p, size_t i) {
  long long id = -1;
  assert_true(i < p->n_kept);
  assert_int_equal(qf_json_get_int(p->flagged[i], "id", &id), 0);
  return id;
}

/* issues_doc builds a project.json with n issues, every third flagged. */
static void issues_doc(qf_buf_t *b, int n) {
  qf_buf_puts(b, "{\"schema_version\":1,\"repository\":\"owner/repo\","
                 "\"issues\":[");
  for (int i = 0; i < n; i++)
    qf_buf_printf(b,
                  "%s{\"id\":%d,\"title\":\"t%d\",\"flagged\":%s,"
                  "\"labels\":[\"bug\"],\"pull_requests\":[]}",
                  i ? "," : "", 1000 + i, i, i % 3 == 0 ? "true" : "false");
  qf_buf_puts(b, "],\"completion\":{\"completion_percentage\":50}}");
}

static void test_keeps_the_first_flagged_and_counts_all(void **state) {
  (void)state;
  qf_buf_t b = QF_BUF_INIT;
  issues_doc(&b, 90); /* 30 flagged */
  hb_project_t p = {0};
  load(&p, b.data);
  assert_int_equal(p.n_flagged, 30);
  assert_int_equal(p.n_kept, HB_PROJECT_MAX_FLAGGED);
  for (size_t i = 0; i < p.n_kept; i++)
    assert_int_equal(kept_id(&p, i), 1000 + 3 * (long long)i); /* in order */
  /* The rest of the document is kept, its issue list emptied. */
  yajl_val issues = qf_json_get(p.doc, "issues");
  assert_true(YAJL_IS_ARRAY(issues));
  assert_int_equal(issues->u.array.len, 0);
  assert_string_equal(qf_json_get_str(p.doc, "repository"), "owner/repo");
  long long pct;
  assert_int_equal(qf_json_get_int(qf_json_get(p.doc, "completion"),
                                   "completion_percentage", &pct),
                   0);
  assert_int_equal(pct, 50);
  hb_project_free(&p);
  assert_null(p.doc);
  assert_int_equal(p.n_kept, 0);
  assert_int_equal(p.n_flagged, 0);
  qf_buf_free(&b);
}

static void test_few_flagged_all_kept(void **state) {
  (void)state;
  qf_buf_t b = QF_BUF_INIT;
  issues_doc(&b, 7); /* ids 1000, 1003, 1006 flagged */
  hb_project_t p = {0};
  load(&p, b.data);
  assert_int_equal(p.n_flagged, 3);
  assert_int_equal(p.n_kept, 3);
  assert_int_equal(kept_id(&p, 2), 1006);
  hb_project_free(&p);
  qf_buf_free(&b);
}

static void test_non_object_elements_are_skipped(void **state) {
  (void)state;
  hb_project_t p = {0};
  load(&p, "{\"issues\":[1,\"flagged\",null,true,2.5,[{\"flagged\":true}],"
           "{},{\"id\":7,\"flagged\":true},[],{\"id\":8,\"flagged\":true}]}");
  assert_int_equal(p.n_flagged, 2);
  assert_int_equal(p.n_kept, 2);
  assert_int_equal(kept_id(&p, 0), 7);
  assert_int_equal(kept_id(&p, 1), 8);
  hb_project_free(&p);
}

static void test_issues_absent_or_no_array(void **state) {
  (void)state;
  static const char *const docs[] = {
      "{\"repository\":\"owner/repo\"}",
      "{\"repository\":\"owner/repo\",\"issues\":{\"flagged\":true}}",
      "{\"repository\":\"owner/repo\",\"issues\":5}",
      "{\"repository\":\"owner/repo\",\"issues\":null}",
      "{\"repository\":\"owner/repo\",\"issues\":\"[{\\\"flagged\\\":true}]\"}",
      /* only a top-level member counts */
      "{\"repository\":\"owner/repo\",\"github\":{\"issues\":"
      "[{\"flagged\":true}]},\"issue\":[{\"flagged\":true}]}",
      /* the first member of that name, as a tree reader sees it */
      "{\"repository\":\"owner/repo\",\"issues\":5,"
      "\"issues\":[{\"flagged\":true}]}",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    hb_project_t p = {0};
    load(&p, docs[i]);
    assert_string_equal(qf_json_get_str(p.doc, "repository"), "owner/repo");
    assert_int_equal(p.n_flagged, 0);
    assert_int_equal(p.n_kept, 0);
    hb_project_free(&p);
  }
}

static void test_flagged_must_be_true(void **state) {
  (void)state;
  hb_project_t p = {0};
  load(&p, "{\"issues\":[{\"id\":1,\"flagged\":1},{\"id\":2,\"flagged\":"
           "\"true\"},{\"id\":3,\"flagged\":null},{\"id\":4,\"flagged\":"
           "[true]},{\"id\":5,\"flagged\":{}},{\"id\":6,\"flagged\":false},"
           "{\"id\":7},{\"id\":8,\"flagged\":true},"
           /* the first member of a name counts, as for qf_json_get */
           "{\"id\":9,\"flagged\":false,\"flagged\":true},"
           "{\"id\":10,\"flagged\":true,\"flagged\":false}]}");
  assert_int_equal(p.n_flagged, 2);
  assert_int_equal(kept_id(&p, 0), 8);
  assert_int_equal(kept_id(&p, 1), 10);
  hb_project_free(&p);
}

static void test_broken_keeps_the_previous_data(void **state) {
  (void)state;
  static const char *const broken[] = {
      "",
      "{",
      "[1,2]",
      "\"a string\"",
      "{\"issues\":[]} trailing",
      "{\"issues\":[{\"flagged\":true,\"id\":1},{\"flagged\":true,\"id\":2},",
      "{\"issues\":[{\"flagged\":true,\"id\":1}],\"completion\":}",
      "{\"issues\":[] /* a comment */}",
  };
  hb_project_t p = {0};
  load(&p, "{\"repository\":\"owner/good\",\"issues\":[{\"id\":5,"
           "\"flagged\":true}]}");
  yajl_val doc = p.doc;
  yajl_val first = p.flagged[0];
  for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
    char err[256] = "";
    int status =
        hb_project_load(&p, broken[i], strlen(broken[i]), err, sizeof(err));
    assert_int_equal(status, -EINVAL);
    assert_true(err[0] != '\0');
    assert_ptr_equal(p.doc, doc); /* untouched, not reloaded */
    assert_ptr_equal(p.flagged[0], first);
    assert_int_equal(p.n_kept, 1);
    assert_int_equal(p.n_flagged, 1);
  }
  assert_string_equal(qf_json_get_str(p.doc, "repository"), "owner/good");
  /* Broken before any good file: still no data. */
  hb_project_t none = {0};
  assert_int_equal(hb_project_load(&none, "{", 1, NULL, 0), -EINVAL);
  assert_null(none.doc);
  assert_int_equal(none.n_kept, 0);
  hb_project_free(&p);
}

static void test_reload_replaces(void **state) {
  (void)state;
  hb_project_t p = {0};
  load(&p, "{\"repository\":\"owner/a\",\"issues\":[{\"id\":1,\"flagged\":"
           "true},{\"id\":2,\"flagged\":true}]}");
  load(&p, "{\"repository\":\"owner/b\",\"issues\":[{\"id\":3,\"flagged\":"
           "true}]}");
  assert_string_equal(qf_json_get_str(p.doc, "repository"), "owner/b");
  assert_int_equal(p.n_flagged, 1);
  assert_int_equal(p.n_kept, 1);
  assert_int_equal(kept_id(&p, 0), 3);
  load(&p, "{\"repository\":\"owner/c\"}");
  assert_int_equal(p.n_flagged, 0);
  assert_int_equal(p.n_kept, 0);
  hb_project_free(&p);
}

static void test_length_bounds_the_text(void **state) {
  (void)state;
  /* The snapshot reader hands text and length; nothing past len is read. */
  const char text[] = "{\"issues\":[{\"id\":1,\"flagged\":true}]}GARBAGE";
  hb_project_t p = {0};
  char err[256];
  assert_int_equal(hb_project_load(&p, text, strlen(text) - strlen("GARBAGE"),
                                   err, sizeof(err)),
                   0);
  assert_int_equal(p.n_flagged, 1);
  hb_project_free(&p);
}

/* head_doc builds a project.json as qiflow_github writes it: the head
 * (completion.flagged_issues = flagged) before n issues, every third
 * flagged, each with a body of pad bytes. */
static void head_doc(qf_buf_t *b, int n, long long flagged, size_t pad) {
  qf_buf_printf(b,
                "{\"schema_version\":1,\"repository\":\"owner/repo\","
                "\"completion\":{\"completion_percentage\":50,"
                "\"flagged_issues\":%lld},\"issues\":[",
                flagged);
  for (int i = 0; i < n; i++) {
    qf_buf_printf(b, "%s{\"id\":%d,\"flagged\":%s,\"body\":\"", i ? "," : "",
                  1000 + i, i % 3 == 0 ? "true" : "false");
    for (size_t k = 0; k < pad; k++)
      qf_buf_puts(b, "x");
    qf_buf_puts(b, "\"}");
  }
  qf_buf_puts(b, "]}");
}

/* With the head's count, the text is read only until the listed issues
 * are found: damage after them is never reached, and the count is the
 * head's. */
static void test_head_count_stops_early(void **state) {
  (void)state;
  qf_buf_t b = QF_BUF_INIT;
  head_doc(&b, 30, 250, 10);
  b.data[b.len - 40] = '\0'; /* cut inside the last issues */
  hb_project_t p = {0};
  load(&p, b.data);
  assert_int_equal(p.n_flagged, 250);
  assert_int_equal(p.n_kept, HB_PROJECT_MAX_FLAGGED);
  for (size_t i = 0; i < p.n_kept; i++)
    assert_int_equal(kept_id(&p, i), 1000 + 3 * (long long)i);
  yajl_val issues = qf_json_get(p.doc, "issues");
  assert_true(YAJL_IS_ARRAY(issues));
  assert_int_equal(issues->u.array.len, 0);
  long long pct;
  assert_int_equal(qf_json_get_int(qf_json_get(p.doc, "completion"),
                                   "completion_percentage", &pct),
                   0);
  assert_int_equal(pct, 50);
  hb_project_free(&p);
  /* No flagged issue: nothing after the head is read. */
  qf_buf_reset(&b);
  qf_buf_puts(&b, "{\"completion\":{\"flagged_issues\":0},\"issues\":[{");
  load(&p, b.data);
  assert_int_equal(p.n_flagged, 0);
  assert_int_equal(p.n_kept, 0);
  hb_project_free(&p);
  /* Fewer flagged than the head says: the whole list is read, and a
   * broken end is still refused. */
  qf_buf_reset(&b);
  head_doc(&b, 4, 5, 1); /* 2 flagged in the list */
  load(&p, b.data);
  assert_int_equal(p.n_kept, 2);
  assert_int_equal(p.n_flagged, 5);
  b.data[b.len - 1] = '\0';
  char err[256];
  assert_int_equal(hb_project_load(&p, b.data, b.len - 1, err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(p.n_kept, 2);
  hb_project_free(&p);
  qf_buf_free(&b);
}

/* write_file replaces path's contents (a new inode, as a rename would). */
static void write_file(const char *path, const char *text, size_t len) {
  char tmp[300];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(rename(tmp, path), 0);
}

/* hb_project_refresh reads the file only when it changed, across read
 * chunks (issues larger than one chunk, flagged ones far in), keeps the
 * last good data when it breaks and empties p when it vanishes. */
static void test_refresh_from_the_file(void **state) {
  (void)state;
  char dir[] = "/tmp/qf_hbp_XXXXXX";
  assert_non_null(mkdtemp(dir));
  qf_snapshot_t s;
  assert_int_equal(qf_snapshot_init(&s, dir, "project.json"), 0);
  hb_project_t p = {0};
  assert_int_equal(hb_project_refresh(&p, &s), 0); /* no file yet */
  qf_buf_t b = QF_BUF_INIT;
  issues_doc(&b, 4000); /* no head count: read to the end, ~300 KB */
  write_file(s.path, b.data, b.len);
  assert_int_equal(hb_project_refresh(&p, &s), 1);
  assert_int_equal(p.n_flagged, 1334);
  assert_int_equal(p.n_kept, HB_PROJECT_MAX_FLAGGED);
  assert_int_equal(hb_project_refresh(&p, &s), 0); /* unchanged */
  qf_buf_reset(&b);
  head_doc(&b, 9, 3, 100000); /* each issue larger than a read chunk */
  write_file(s.path, b.data, b.len);
  assert_int_equal(hb_project_refresh(&p, &s), 1);
  assert_int_equal(p.n_flagged, 3);
  assert_int_equal(kept_id(&p, 2), 1006);
  write_file(s.path, "{\"issues\":[", 11);
  assert_int_equal(hb_project_refresh(&p, &s), -EINVAL);
  assert_non_null(strstr(s.error, "project.json"));
  assert_int_equal(hb_project_refresh(&p, &s), -EINVAL); /* said again */
  assert_int_equal(kept_id(&p, 2), 1006); /* the last good data */
  assert_int_equal(unlink(s.path), 0);
  assert_int_equal(hb_project_refresh(&p, &s), 1);
  assert_null(p.doc);
  assert_int_equal(p.n_kept, 0);
  assert_int_equal(hb_project_refresh(&p, &s), 0);
  qf_snapshot_destroy(&s);
  assert_int_equal(rmdir(dir), 0);
  qf_buf_free(&b);
}

static void test_free_is_safe(void **state) {
  (void)state;
  hb_project_free(NULL);
  hb_project_t p = {0};
  hb_project_free(&p);
  hb_project_free(&p);
  assert_null(p.doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keeps_the_first_flagged_and_counts_all),
      cmocka_unit_test(test_few_flagged_all_kept),
      cmocka_unit_test(test_non_object_elements_are_skipped),
      cmocka_unit_test(test_issues_absent_or_no_array),
      cmocka_unit_test(test_flagged_must_be_true),
      cmocka_unit_test(test_broken_keeps_the_previous_data),
      cmocka_unit_test(test_reload_replaces),
      cmocka_unit_test(test_length_bounds_the_text),
      cmocka_unit_test(test_head_count_stops_early),
      cmocka_unit_test(test_refresh_from_the_file),
      cmocka_unit_test(test_free_is_safe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
