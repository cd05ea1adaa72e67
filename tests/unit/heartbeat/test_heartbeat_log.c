/* Unit tests for heartbeat_log.c: daily file names by local date, rollover
 * at midnight, pruning by date. The clock is a parameter and TZ is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch_dir.h"

#include "heartbeat_log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 2026-11-27T23:59:59Z */
#define T_LAST_SECOND 1795823999

/* The log's dates are local: the tests fix TZ and set it back after each. */
static int setup_utc_dir(void **state) {
  setenv("TZ", "UTC", 1);
  tzset();
  return setup_dir(state);
}

static int teardown_utc_dir(void **state) {
  setenv("TZ", "UTC", 1);
  tzset();
  return teardown_dir(state);
}

static char *read_file(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  FILE *f = fopen(p, "r");
  if (f == NULL)
    return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void test_names_and_local_date(void **state) {
  (void)state;
  char name[HB_LOG_NAME_LEN];
  assert_int_equal(hb_log_name(T_LAST_SECOND, name, sizeof(name)), 0);
  assert_string_equal(name, "heartbeat_20261127.json");
  assert_int_equal(hb_log_name(T_LAST_SECOND + 1, name, sizeof(name)), 0);
  assert_string_equal(name, "heartbeat_20261128.json");
  /* The host's local day, not UTC's: at 23:59:59Z it is already the 28th
   * in Tokyo, still the 27th in New York at 04:59:59Z next day. */
  setenv("TZ", "Asia/Tokyo", 1);
  tzset();
  assert_int_equal(hb_log_name(T_LAST_SECOND, name, sizeof(name)), 0);
  assert_string_equal(name, "heartbeat_20261128.json");
  setenv("TZ", "America/New_York", 1);
  tzset();
  assert_int_equal(hb_log_name(T_LAST_SECOND + 5 * 3600, name, sizeof(name)),
                   0);
  assert_string_equal(name, "heartbeat_20261127.json");
  setenv("TZ", "UTC", 1);
  tzset();
}

static void test_parse_name(void **state) {
  (void)state;
  int y, m, d;
  assert_int_equal(hb_log_parse_name("heartbeat_20261127.json", &y, &m, &d), 0);
  assert_int_equal(y * 10000 + m * 100 + d, 20261127);
  const char *bad[] = {"heartbeat_2026112.json",     "heartbeat_20261327.json",
                       "heartbeat_20261100.json",    "heartbeat_2026112x.json",
                       "heartbeat_20261127.json.gz", "other_20261127.json",
                       "heartbeat_20260231.json"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(hb_log_parse_name(bad[i], &y, &m, &d), -EINVAL);
}

static void test_days(void **state) {
  (void)state;
  assert_int_equal(hb_days_from_civil(1970, 1, 1), 0);
  assert_int_equal(hb_days_from_civil(2000, 3, 1), 11017);
  assert_int_equal(hb_days_from_civil(2026, 11, 27), 1795737600 / 86400);
  assert_int_equal(hb_log_day(T_LAST_SECOND) + 1,
                   hb_log_day(T_LAST_SECOND + 1));
}

static void test_append_and_rollover(void **state) {
  const char *dir = *state;
  char err[256];
  assert_int_equal(
      hb_log_append(dir, T_LAST_SECOND - 60, "{\"a\":1}", 7, err, sizeof(err)),
      0);
  assert_int_equal(
      hb_log_append(dir, T_LAST_SECOND, "{\"a\":2}", 7, err, sizeof(err)), 0);
  assert_int_equal(
      hb_log_append(dir, T_LAST_SECOND + 1, "{\"a\":3}", 7, err, sizeof(err)),
      0);
  assert_string_equal(read_file(dir, "heartbeat_20261127.json"),
                      "{\"a\":1}\n{\"a\":2}\n");
  assert_string_equal(read_file(dir, "heartbeat_20261128.json"), "{\"a\":3}\n");
  /* A missing LogDir is created. */
  char sub[512];
  snprintf(sub, sizeof(sub), "%s/deeper/logs", dir);
  assert_int_equal(hb_log_append(sub, T_LAST_SECOND, "{}", 2, err, sizeof(err)),
                   0);
}

static void touch(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fclose(f);
}

static bool exists(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

static void test_prune_by_date(void **state) {
  const char *dir = *state;
  const char *names[] = {"heartbeat_20261127.json", "heartbeat_20261113.json",
                         "heartbeat_20261112.json", "heartbeat_20251127.json",
                         "heartbeat_notes.json",    "other.txt"};
  for (size_t i = 0; i < 6; i++)
    touch(dir, names[i]);
  int removed = -1;
  char err[256];
  /* Retention 0 keeps everything. */
  assert_int_equal(
      hb_log_prune(dir, T_LAST_SECOND, 0, &removed, err, sizeof(err)), 0);
  assert_int_equal(removed, 0);
  /* Today the 27th, 14 days: the 13th stays, the 12th and older go. */
  assert_int_equal(
      hb_log_prune(dir, T_LAST_SECOND, 14, &removed, err, sizeof(err)), 0);
  assert_int_equal(removed, 2);
  assert_true(exists(dir, "heartbeat_20261127.json"));
  assert_true(exists(dir, "heartbeat_20261113.json"));
  assert_false(exists(dir, "heartbeat_20261112.json"));
  assert_false(exists(dir, "heartbeat_20251127.json"));
  assert_true(exists(dir, "heartbeat_notes.json"));
  assert_true(exists(dir, "other.txt"));
  /* One second later it is the 28th: the 13th goes too. */
  assert_int_equal(
      hb_log_prune(dir, T_LAST_SECOND + 1, 14, &removed, err, sizeof(err)), 0);
  assert_int_equal(removed, 1);
  assert_false(exists(dir, "heartbeat_20261113.json"));
  /* A missing LogDir is nothing to prune. */
  assert_int_equal(hb_log_prune("/nonexistent/hb", T_LAST_SECOND, 1, &removed,
                                err, sizeof(err)),
                   0);
}

int main(void) {
  setenv("TZ", "UTC", 1);
  tzset();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_local_date),
      cmocka_unit_test(test_parse_name),
      cmocka_unit_test(test_days),
      cmocka_unit_test_setup_teardown(test_append_and_rollover, setup_utc_dir,
                                      teardown_utc_dir),
      cmocka_unit_test_setup_teardown(test_prune_by_date, setup_utc_dir,
                                      teardown_utc_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
