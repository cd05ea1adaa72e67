/* Unit tests for heartbeat_config.c and heartbeat_seq.c: names, URLs and
 * their path hint, the API key and its file's permissions, rate advice,
 * and ids that only grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch_dir.h"

#include "heartbeat_config.h"
#include "heartbeat_seq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_names(void **state) {
  (void)state;
  assert_true(hb_name_valid("central"));
  assert_true(hb_name_valid("backend-2.eu_west"));
  assert_false(hb_name_valid(""));
  assert_false(hb_name_valid("a/b"));
  assert_false(hb_name_valid("has space"));
  char longname[HB_NAME_MAX + 2];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_false(hb_name_valid(longname));
}

static void test_urls(void **state) {
  (void)state;
  char err[128];
  assert_int_equal(hb_url_check("https://backend.example/api/v1/swarms/"
                                "heartbeat",
                                err, sizeof(err)),
                   0);
  assert_int_equal(hb_url_check("http://127.0.0.1:8080/x", err, sizeof(err)),
                   0);
  assert_int_equal(hb_url_check("ftp://x/", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_url_check("https:///path", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_url_check("https://h/a b", err, sizeof(err)), -EINVAL);
  char origin[128];
  hb_url_origin("https://hooks.slack.com/services/T0/B0/SECRET", origin,
                sizeof(origin));
  assert_string_equal(origin, "https://hooks.slack.com/...");
  hb_url_origin("https://u:pw@discord.com/api/webhooks/1/TOKEN?wait=true",
                origin, sizeof(origin));
  assert_string_equal(origin, "https://discord.com/...");
  hb_url_origin("http://127.0.0.1:9000/", origin, sizeof(origin));
  assert_string_equal(origin, "http://127.0.0.1:9000");
  char hint[512];
  assert_true(hb_url_path_hint("https://b.example/api/v1/heartbeat", hint,
                               sizeof(hint)));
  assert_non_null(strstr(hint, HB_PATH_WORKING));
  assert_true(hb_url_path_hint("https://b.example/api/v1/heartbeat?x=1", hint,
                               sizeof(hint)));
  assert_false(hb_url_path_hint("https://b.example/api/v1/swarms/heartbeat",
                                hint, sizeof(hint)));
  assert_false(
      hb_url_path_hint("https://hooks.example/abc", hint, sizeof(hint)));
}

static void test_key_check(void **state) {
  (void)state;
  char err[128];
  assert_int_equal(hb_key_check("sk_live_abc-123", err, sizeof(err)), 0);
  assert_int_equal(hb_key_check("", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_key_check("two words", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_key_check("line\r\nInjected: x", err, sizeof(err)),
                   -EINVAL);
  assert_null(strstr(err, "Injected")); /* the key is never quoted */
}

static void write_key(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file(void **state) {
  const char *dir = *state;
  char path[512], err[512];
  snprintf(path, sizeof(path), "%s/api-key", dir);
  char *key = NULL;
  write_key(path, "  CANARY-KEY-123\n", 0600);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), 0);
  assert_string_equal(key, "CANARY-KEY-123");
  free(key);
  /* Group-readable is the operator's choice (a collectd group). */
  write_key(path, "CANARY-KEY-123\n", 0640);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), 0);
  free(key);
  /* World-readable: refused, the message says how to fix it. */
  write_key(path, "CANARY-KEY-123\n", 0644);
  key = NULL;
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), -EPERM);
  assert_null(key);
  assert_non_null(strstr(err, "chmod"));
  assert_null(strstr(err, "CANARY"));
  /* Empty or two-line keys are refused without quoting them. */
  write_key(path, "\n", 0600);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), -EINVAL);
  write_key(path, "CANARY-1\nCANARY-2\n", 0600);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), -EINVAL);
  assert_null(strstr(err, "CANARY"));
  assert_int_equal(hb_key_file_read("/nonexistent/key", &key, err, sizeof(err)),
                   -ENOENT);
}

static void test_rate_advice(void **state) {
  (void)state;
  char out[512];
  assert_false(hb_rate_advice(60, 50, 900, out, sizeof(out))); /* 15 */
  assert_true(hb_rate_advice(10, 50, 900, out, sizeof(out)));  /* 90 */
  assert_non_null(strstr(out, "RequestLimit"));
  assert_false(hb_rate_advice(1, 0, 900, out, sizeof(out))); /* no limit */
}

static void test_seq_grows_and_persists(void **state) {
  const char *dir = *state;
  char err[256];
  long long a, b, c;
  assert_int_equal(hb_seq_next(dir, 0, 1000, &a, err, sizeof(err)), 0);
  assert_int_equal(a, 1000 * 1000 + 1); /* a fresh start: from now in ms */
  assert_int_equal(hb_seq_next(dir, 0, 5, &b, err, sizeof(err)), 0);
  assert_int_equal(b, a + 1); /* the clock does not matter once stored */
  /* A spool holding a newer id raises the floor. */
  assert_int_equal(hb_seq_next(dir, a + 100, 5, &c, err, sizeof(err)), 0);
  assert_int_equal(c, a + 101);
  /* A lost or broken file never repeats ids (clock has moved on). */
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, HB_SEQ_FILE);
  FILE *f = fopen(path, "w");
  fputs("garbage", f);
  fclose(f);
  assert_int_equal(hb_seq_next(dir, 0, 2000, &c, err, sizeof(err)), 0);
  assert_int_equal(c, 2000 * 1000 + 1);
}

static void test_seq_two_processes(void **state) {
  const char *dir = *state;
  char err[256];
  /* The daemon and a one-shot check share StateDir: the lock keeps every
   * id distinct. */
  pid_t pid = fork();
  assert_true(pid >= 0);
  long long id;
  if (pid == 0) {
    for (int i = 0; i < 200; i++)
      if (hb_seq_next(dir, 0, 1, &id, err, sizeof(err)) != 0)
        _exit(1);
    _exit(0);
  }
  for (int i = 0; i < 200; i++)
    assert_int_equal(hb_seq_next(dir, 0, 1, &id, err, sizeof(err)), 0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(hb_seq_next(dir, 0, 1, &id, err, sizeof(err)), 0);
  assert_int_equal(id, 1000 + 401); /* 400 before, each exactly once */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_key_check),
      cmocka_unit_test_setup_teardown(test_key_file, setup_dir, teardown_dir),
      cmocka_unit_test(test_rate_advice),
      cmocka_unit_test_setup_teardown(test_seq_grows_and_persists, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_seq_two_processes, setup_dir,
                                      teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
