/* Unit tests for qf_snapshot_refresh_text, qf_snapshot_refresh_fd and
 * qf_snapshot_fail: a snapshot read as text, or through a descriptor, by a
 * caller that parses it itself. */
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
#include <sys/stat.h>
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

/* fd_text reads what fd holds (len bytes) into a new string. */
static char *fd_text(int fd, size_t len) {
  char *t = calloc(1, len + 1);
  assert_non_null(t);
  assert_int_equal(pread(fd, t, len, 0), (ssize_t)len);
  return t;
}

static void test_fd_reader(void **state) {
  const char *dir = *state;
  qf_snapshot_t s;
  int fd = 99;
  size_t len = 0;
  assert_int_equal(qf_snapshot_init(&s, dir, "x.json"), 0);
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), 0);
  assert_int_equal(fd, -1); /* missing: no data yet */

  put(dir, "{\"a\":1}");
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), 1);
  assert_true(fd >= 0);
  assert_int_equal(len, 7);
  char *t = fd_text(fd, len);
  assert_string_equal(t, "{\"a\":1}");
  free(t);
  close(fd);
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), 0);
  assert_int_equal(fd, -1);

  /* Unusable: not opened again until it changes. */
  put(dir, "{\"a\":");
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), 1);
  close(fd);
  qf_snapshot_fail(&s, "parse error");
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), -EINVAL);
  assert_int_equal(fd, -1);

  /* What is no regular file is refused and says why (as qf_file_read). */
  char path[512];
  snprintf(path, sizeof(path), "%s/x.json", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), -EINVAL);
  assert_int_equal(fd, -1);
  assert_non_null(strstr(s.error, "x.json: not a regular file"));
  assert_int_equal(rmdir(path), 0);
  assert_int_equal(qf_snapshot_refresh_fd(&s, &fd, &len), 1);
  assert_int_equal(fd, -1); /* gone */
  qf_snapshot_destroy(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_text_reader, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_fd_reader, setup_dir, teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
