/* Unit tests for qf_config.c: whole numbers refuse fractions, ranges quote
 * the value as written, unknown keys list the valid ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>

static void test_int(void **state) {
  (void)state;
  char err[256] = "";
  long long v = -1;
  assert_int_equal(qf_cfg_int("Retries", 3, 1, 100, &v, err, sizeof(err)), 0);
  assert_int_equal(v, 3);
  assert_int_equal(qf_cfg_int("Retries", 100, 1, 100, &v, err, sizeof(err)), 0);
  assert_int_equal(v, 100);
  struct {
    double in;
    const char *msg;
  } bad[] = {
      {3.5, "Retries must be a whole number from 1 to 100, got 3.5"},
      {0, "Retries must be a whole number from 1 to 100, got 0"},
      {101, "Retries must be a whole number from 1 to 100, got 101"},
      {-2, "Retries must be a whole number from 1 to 100, got -2"},
      {2.7, "Retries must be a whole number from 1 to 100, got 2.7"},
      {1e20, "Retries must be a whole number from 1 to 100, got 1e+20"},
      {NAN, "Retries must be a whole number from 1 to 100, got nan"},
      {100.000001,
       "Retries must be a whole number from 1 to 100, got 100.000001"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = 42;
    assert_int_equal(
        qf_cfg_int("Retries", bad[i].in, 1, 100, &v, err, sizeof(err)),
        -ERANGE);
    assert_string_equal(err, bad[i].msg);
    assert_int_equal(v, 42); /* untouched */
  }
  /* 0.5 is not rounded to a value the user never wrote. */
  assert_int_equal(
      qf_cfg_int("StaleAfter", 0.5, 1, INT_MAX, &v, err, sizeof(err)), -ERANGE);
  assert_string_equal(
      err, "StaleAfter must be a whole number from 1 to 2147483647, got 0.5");
  assert_int_equal(
      qf_cfg_int("StaleAfter", 2147483648.0, 1, INT_MAX, &v, err, sizeof(err)),
      -ERANGE);
  assert_int_equal(qf_cfg_int("K", -0.0, 0, 5, &v, err, sizeof(err)), 0);
  assert_int_equal(v, 0);
}

static void test_number(void **state) {
  (void)state;
  char err[256] = "";
  assert_int_equal(
      qf_cfg_number("Interval", 0.5, 0, true, INFINITY, err, sizeof(err)), 0);
  assert_int_equal(
      qf_cfg_number("Interval", 0, 0, true, INFINITY, err, sizeof(err)),
      -ERANGE);
  assert_string_equal(err, "Interval must be a number > 0, got 0");
  assert_int_equal(
      qf_cfg_number("RetryDelay", 0, 0, false, INFINITY, err, sizeof(err)), 0);
  assert_int_equal(
      qf_cfg_number("RetryDelay", -0.25, 0, false, INFINITY, err, sizeof(err)),
      -ERANGE);
  assert_string_equal(err, "RetryDelay must be a number >= 0, got -0.25");
  assert_int_equal(
      qf_cfg_number("Timeout", 0.05, 0.1, false, 300, err, sizeof(err)),
      -ERANGE);
  assert_string_equal(err,
                      "Timeout must be a number from 0.1 to 300, got 0.05");
  assert_int_equal(
      qf_cfg_number("Timeout", 0.1, 0.1, false, 300, err, sizeof(err)), 0);
  assert_int_equal(qf_cfg_number("Rate", 1, 0, true, 1, err, sizeof(err)), 0);
  assert_int_equal(qf_cfg_number("Rate", 1.5, 0, true, 1, err, sizeof(err)),
                   -ERANGE);
  assert_string_equal(err, "Rate must be a number > 0 and <= 1, got 1.5");
  assert_int_equal(
      qf_cfg_number("Interval", INFINITY, 0, true, INFINITY, err, sizeof(err)),
      -ERANGE);
}

static void test_unknown(void **state) {
  (void)state;
  static const char *const known[] = {"AgentDir", "StateDir", "StaleAfter",
                                      NULL};
  char err[256];
  qf_cfg_unknown("<Plugin qiflow_agents>", "Bogus", known, err, sizeof(err));
  assert_string_equal(err, "unknown option \"Bogus\" in <Plugin "
                           "qiflow_agents>; valid options: AgentDir, "
                           "StateDir, StaleAfter");
  /* Cut short, never overrun. */
  char small[40];
  qf_cfg_unknown("<Plugin qiflow_agents>", "Bogus", known, small,
                 sizeof(small));
  assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int),
      cmocka_unit_test(test_number),
      cmocka_unit_test(test_unknown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
