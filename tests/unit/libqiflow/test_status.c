/* Unit tests for qf_status_decide: the one status rule both doors to the
 * central backend apply, checked against the backend poller's reading
 * (offline when stale; degraded when cpu or memory > 90; else online). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_status.h"

#include <math.h>
#include <string.h>

static void test_current_and_calm_is_online(void **state) {
  (void)state;
  assert_int_equal(qf_status_decide(true, 7.1, 42.7), QF_STATUS_ONLINE);
  assert_int_equal(qf_status_decide(true, 90.0, 90.0), QF_STATUS_ONLINE);
  assert_int_equal(qf_status_decide(true, 0.0, 0.0), QF_STATUS_ONLINE);
}

static void test_busy_cpu_or_memory_is_degraded(void **state) {
  (void)state;
  assert_int_equal(qf_status_decide(true, 90.01, 10), QF_STATUS_DEGRADED);
  assert_int_equal(qf_status_decide(true, 99.9, 10), QF_STATUS_DEGRADED);
  assert_int_equal(qf_status_decide(true, 10, 95), QF_STATUS_DEGRADED);
  assert_int_equal(qf_status_decide(true, 100, 100), QF_STATUS_DEGRADED);
}

static void test_stale_is_offline_whatever_the_figures(void **state) {
  (void)state;
  assert_int_equal(qf_status_decide(false, 7, 42), QF_STATUS_OFFLINE);
  assert_int_equal(qf_status_decide(false, 99, 99), QF_STATUS_OFFLINE);
  assert_int_equal(qf_status_decide(false, NAN, NAN), QF_STATUS_OFFLINE);
}

static void test_unknown_figures_are_not_busy(void **state) {
  (void)state;
  assert_int_equal(qf_status_decide(true, NAN, NAN), QF_STATUS_ONLINE);
  assert_int_equal(qf_status_decide(true, NAN, 95), QF_STATUS_DEGRADED);
  assert_int_equal(qf_status_decide(true, 95, NAN), QF_STATUS_DEGRADED);
}

static void test_names_are_the_backend_values(void **state) {
  (void)state;
  assert_string_equal(qf_status_name(QF_STATUS_ONLINE), "online");
  assert_string_equal(qf_status_name(QF_STATUS_DEGRADED), "degraded");
  assert_string_equal(qf_status_name(QF_STATUS_OFFLINE), "offline");
  assert_string_equal(qf_status_name((qf_status_t)42), "offline");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_current_and_calm_is_online),
      cmocka_unit_test(test_busy_cpu_or_memory_is_degraded),
      cmocka_unit_test(test_stale_is_offline_whatever_the_figures),
      cmocka_unit_test(test_unknown_figures_are_not_busy),
      cmocka_unit_test(test_names_are_the_backend_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
