/* Unit tests for heartbeat_metrics.c: the latest-value table and the
 * figures a heartbeat reports from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

static void test_key(void **state) {
  (void)state;
  char k[HB_METRIC_KEY_MAX];
  assert_int_equal(
      hb_metrics_key(k, sizeof(k), "cpu", "", "percent", "idle", "value", 1),
      0);
  assert_string_equal(k, "cpu/percent-idle");
  assert_int_equal(hb_metrics_key(k, sizeof(k), "df", "root", "df_complex",
                                  "used", "value", 1),
                   0);
  assert_string_equal(k, "df-root/df_complex-used");
  assert_int_equal(
      hb_metrics_key(k, sizeof(k), "load", NULL, "load", NULL, "midterm", 3),
      0);
  assert_string_equal(k, "load/load.midterm");
  char tiny[8];
  assert_int_equal(hb_metrics_key(tiny, sizeof(tiny), "memory", "", "percent",
                                  "used", "value", 1),
                   -ENAMETOOLONG);
}

static void test_wanted(void **state) {
  (void)state;
  assert_true(hb_metrics_wanted("cpu"));
  assert_true(hb_metrics_wanted("qiflow_agents"));
  assert_false(hb_metrics_wanted("qiflow_heartbeat"));
  assert_false(hb_metrics_wanted("interface"));
}

static void test_set_get_latest_and_age(void **state) {
  (void)state;
  hb_metrics_t m;
  assert_int_equal(hb_metrics_init(&m, 4), 0);
  double v = 0;
  assert_int_equal(hb_metrics_get(&m, "a/b", 100, 0, &v), -ENOENT);
  assert_int_equal(hb_metrics_set(&m, "a/b", 1.0, 90), 0);
  assert_int_equal(hb_metrics_set(&m, "a/b", 2.0, 95), 0);
  assert_int_equal(hb_metrics_get(&m, "a/b", 100, 0, &v), 0);
  assert_true(v == 2.0);
  /* Older than max_age: as good as missing. */
  assert_int_equal(hb_metrics_get(&m, "a/b", 100, 3, &v), -ENOENT);
  assert_int_equal(hb_metrics_get(&m, "a/b", 100, 10, &v), 0);
  /* The bound: new keys beyond max are refused, known ones still update. */
  for (int i = 0; i < 3; i++) {
    char k[16];
    snprintf(k, sizeof(k), "k/%d", i);
    assert_int_equal(hb_metrics_set(&m, k, i, 1), 0);
  }
  assert_int_equal(hb_metrics_set(&m, "k/new", 1, 1), -ENOSPC);
  assert_int_equal(hb_metrics_set(&m, "a/b", 3.0, 99), 0);
  /* NaN is no value. */
  assert_int_equal(hb_metrics_set(&m, "k/0", NAN, 99), 0);
  assert_int_equal(hb_metrics_get(&m, "k/0", 100, 0, &v), -ENOENT);
  hb_metrics_free(&m);
}

/* put sets one fresh value. */
static void put(hb_metrics_t *m, const char *key, double v) {
  assert_int_equal(hb_metrics_set(m, key, v, 1000.0), 0);
}

static void test_figures(void **state) {
  (void)state;
  hb_metrics_t m;
  assert_int_equal(hb_metrics_init(&m, 64), 0);
  hb_figures_t f;
  hb_figures_extract(&m, 1000.0, 30.0, &f);
  assert_true(isnan(f.usage.cpu_percent) && isnan(f.usage.memory_percent) &&
              isnan(f.usage.disk_percent) && isnan(f.load[0]) &&
              isnan(f.agents[HB_AG_ACTIVE]));
  put(&m, "cpu/percent-idle", 87.5);
  put(&m, "cpu/percent-user", 10.0);
  put(&m, "memory/memory-used", 2.0e9);
  put(&m, "memory/memory-free", 6.0e9);
  put(&m, "memory/memory-available", 7.0e9); /* overlaps: not in total */
  put(&m, "df-root/df_complex-used", 30.0);
  put(&m, "df-root/df_complex-free", 60.0);
  put(&m, "df-root/df_complex-reserved", 10.0);
  put(&m, "load/load.shortterm", 0.5);
  put(&m, "load/load.longterm", 0.25);
  put(&m, "uptime/uptime", 3600);
  put(&m, "qiflow_agents/count-active", 2);
  put(&m, "qiflow_agents/count-total", 3);
  hb_figures_extract(&m, 1000.0, 30.0, &f);
  assert_float_equal(f.usage.cpu_percent, 12.5, 1e-9);
  assert_float_equal(f.usage.memory_total_bytes, 8.0e9, 1);
  assert_float_equal(f.usage.memory_percent, 25.0, 1e-9); /* derived */
  assert_float_equal(f.usage.disk_total_bytes, 100.0, 1e-9);
  assert_float_equal(f.usage.disk_percent, 30.0, 1e-9);
  assert_float_equal(f.load[0], 0.5, 1e-9);
  assert_true(isnan(f.load[1]));
  assert_float_equal(f.uptime_seconds, 3600, 1e-9);
  assert_float_equal(f.agents[HB_AG_ACTIVE], 2, 1e-9);
  assert_true(isnan(f.agents[HB_AG_FAILED]));
  /* collectd's own percentages win over the derived ones. */
  put(&m, "memory/percent-used", 40.0);
  put(&m, "df-root/percent_bytes-used", 33.3);
  hb_figures_extract(&m, 1000.0, 30.0, &f);
  assert_float_equal(f.usage.memory_percent, 40.0, 1e-9);
  assert_float_equal(f.usage.disk_percent, 33.3, 1e-9);
  /* No idle value: the busy states add up. */
  hb_metrics_t busy;
  assert_int_equal(hb_metrics_init(&busy, 8), 0);
  put(&busy, "cpu/percent-user", 10.0);
  put(&busy, "cpu/percent-system", 5.0);
  hb_figures_extract(&busy, 1000.0, 30.0, &f);
  assert_float_equal(f.usage.cpu_percent, 15.0, 1e-9);
  hb_metrics_free(&busy);
  hb_figures_extract(&m, 1000.0, 30.0, &f);
  /* Everything stale: nothing reported. */
  hb_figures_extract(&m, 1100.0, 30.0, &f);
  assert_true(isnan(f.usage.cpu_percent) && isnan(f.usage.memory_total_bytes));
  hb_metrics_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_wanted),
      cmocka_unit_test(test_set_get_latest_and_age),
      cmocka_unit_test(test_figures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
