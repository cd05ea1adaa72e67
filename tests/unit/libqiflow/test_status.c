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
#include <stdlib.h>
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

static void test_attention_words_the_counts(void **state) {
  (void)state;
  qf_attention_t a = {.n = 0};
  qf_attention_counts_t c = {.agents_failed = NAN,
                             .agents_dead = 1,
                             .agents_stale = 2.4,
                             .flagged = 3,
                             .backlog = 1,
                             .set_aside = 5,
                             .budget_exhausted = true};
  qf_attention_counts(&a, &c);
  assert_int_equal(a.n, 6);
  assert_string_equal(a.text[0], "1 agent dead");
  assert_string_equal(a.text[1], "2 agents stale");
  assert_string_equal(a.text[2], "3 issues flagged for a human");
  assert_string_equal(a.text[3], "1 heartbeat waiting in the spool");
  assert_string_equal(a.text[4],
                      "5 heartbeats set aside (refused by a backend)");
  assert_string_equal(a.text[5], "request budget cannot carry every heartbeat");
}

static void test_attention_nothing_to_say(void **state) {
  (void)state;
  qf_attention_t a = {.n = 0};
  qf_attention_counts_t c = {.agents_failed = 0.4,
                             .agents_dead = NAN,
                             .agents_stale = -1,
                             .flagged = INFINITY};
  qf_attention_counts(&a, &c);
  assert_int_equal(a.n, 0);
  qf_jw_t w;
  assert_int_equal(qf_jw_init(&w), 0);
  qf_jw_obj_open(&w);
  qf_attention_write(&w, &a);
  qf_jw_obj_close(&w);
  char *out;
  size_t len;
  assert_int_equal(qf_jw_finish(&w, &out, &len), 0);
  assert_string_equal(out, "{\"attention\":{\"needed\":false,"
                           "\"reasons\":[]}}");
  free(out);
  qf_jw_free(&w);
}

static void test_attention_is_bounded(void **state) {
  (void)state;
  qf_attention_t a = {.n = 0};
  char long_reason[QF_ATTENTION_TEXT * 2];
  memset(long_reason, 'x', sizeof(long_reason) - 1);
  long_reason[sizeof(long_reason) - 1] = '\0';
  qf_attention_add(&a, long_reason);
  assert_int_equal(strlen(a.text[0]), QF_ATTENTION_TEXT - 1);
  for (int i = 0; i < QF_ATTENTION_MAX + 3; i++)
    qf_attention_add(&a, "more");
  qf_attention_counts_t c = {.agents_dead = 4, .budget_exhausted = true};
  qf_attention_counts(&a, &c);
  assert_int_equal(a.n, QF_ATTENTION_MAX);
  assert_string_equal(a.text[QF_ATTENTION_MAX - 1], "more");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_current_and_calm_is_online),
      cmocka_unit_test(test_busy_cpu_or_memory_is_degraded),
      cmocka_unit_test(test_stale_is_offline_whatever_the_figures),
      cmocka_unit_test(test_unknown_figures_are_not_busy),
      cmocka_unit_test(test_names_are_the_backend_values),
      cmocka_unit_test(test_attention_words_the_counts),
      cmocka_unit_test(test_attention_nothing_to_say),
      cmocka_unit_test(test_attention_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
