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

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
      cmocka_unit_test(test_free_is_safe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
