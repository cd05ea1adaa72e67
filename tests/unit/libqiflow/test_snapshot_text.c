/* Unit tests for qf_snapshot_refresh_text and qf_snapshot_fail: a snapshot
 * read as text by a caller that parses it itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int setup_dir(void **state) {
  char *dir = strdup("/tmp/qf-unit-XXXXXX");
  assert_non_null(mkdtemp(dir));
  *state = dir;
  return 0;
}

static int teardown_dir(void **state) {
  char path[512];
  snprintf(path, sizeof(path), "%s/x.json", (char *)*state);
  unlink(path);
  int rc = rmdir(*state);
  free(*state);
  return rc;
}

static void put(const char *dir, const char *text) {
  char err[256];
  assert_int_equal(
      qf_snapshot_write(dir, "x.json", text, strlen(text), err, sizeof(err)),
      0);
}

static void test_text_reader(void **state) {
  const char *dir = *state;
  qf_snapshot_t s;
  char *text = (char *)state; /* must be reset to NULL */
  size_t len = 0;
  assert_int_equal(qf_snapshot_init(&s, dir, "x.json"), 0);
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 0);
  assert_null(text); /* missing: no data yet */

  put(dir, "{\"a\":1}");
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 1);
  assert_string_equal(text, "{\"a\":1}");
  assert_int_equal(len, 7);
  assert_null(s.doc); /* the caller parses */
  free(text);
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 0);
  assert_null(text);

  /* The caller finds it unusable: not read again until it changes. */
  put(dir, "{\"a\":");
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 1);
  free(text);
  qf_snapshot_fail(&s, "parse error: premature EOF");
  assert_non_null(strstr(s.error, "x.json: parse error: premature EOF"));
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), -EINVAL);
  assert_null(text);

  /* A new version clears the error. */
  put(dir, "{\"a\":2}");
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 1);
  assert_string_equal(text, "{\"a\":2}");
  assert_string_equal(s.error, "");
  free(text);

  char path[512];
  snprintf(path, sizeof(path), "%s/x.json", dir);
  unlink(path);
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 1);
  assert_null(text); /* gone */
  assert_int_equal(qf_snapshot_refresh_text(&s, &text, &len), 0);
  qf_snapshot_destroy(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_text_reader, setup_dir,
                                      teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
