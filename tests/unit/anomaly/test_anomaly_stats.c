/* Unit tests for anomaly_stats.c: quantiles, median/MAD, the Poisson and
 * binomial tails, the Wilson bound and the Theil-Sen fit, against values
 * worked out by hand or from their definitions, and at their edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "anomaly_stats.h"

#include <math.h>

static void test_quantile_edges(void **state) {
  (void)state;
  double none[1];
  assert_true(isnan(anom_quantile(none, 0, 0.5)));
  double one[] = {7};
  assert_float_equal(anom_quantile(one, 1, 0.99), 7, 1e-12);
  double v[] = {4, 1, 3, 2, 5};
  assert_float_equal(anom_quantile(v, 5, 0.5), 3, 1e-12);
  assert_float_equal(anom_quantile(v, 5, 0.25), 2, 1e-12);
  assert_float_equal(anom_quantile(v, 5, 0.9), 4.6, 1e-12);
  assert_float_equal(anom_quantile(v, 5, 0), 1, 1e-12);
  assert_float_equal(anom_quantile(v, 5, 1), 5, 1e-12);
}

static void test_median_mad_constant_and_outlier(void **state) {
  (void)state;
  double c[] = {5, 5, 5, 5}, s[4], mad;
  assert_float_equal(anom_median_mad(c, 4, s, &mad), 5, 1e-12);
  assert_float_equal(mad, 0, 1e-12);
  double v[] = {1, 2, 3, 4, 1000}, s2[5];
  assert_float_equal(anom_median_mad(v, 5, s2, &mad), 3, 1e-12);
  assert_float_equal(mad, 1, 1e-12); /* |dev| = 2 1 0 1 997 */
}

static void test_poisson_cdf(void **state) {
  (void)state;
  /* P(X <= 0) = e^-l; P(X <= 2 | 10) = e^-10 (1 + 10 + 50) */
  assert_float_equal(anom_poisson_cdf(0, 3), exp(-3), 1e-12);
  assert_float_equal(anom_poisson_cdf(2, 10), exp(-10) * 61, 1e-12);
  assert_float_equal(anom_poisson_cdf(3, 1), exp(-1) * (1 + 1 + 0.5 + 1.0 / 6),
                     1e-12);
  assert_float_equal(anom_poisson_cdf(40, 10), 1, 1e-9);
  assert_float_equal(anom_poisson_cdf(5, 0), 1, 1e-12);
  assert_float_equal(anom_poisson_cdf(-1, 4), 0, 1e-12);
  /* continuous in k between the integers */
  double a = anom_poisson_cdf(2, 10), b = anom_poisson_cdf(2.5, 10),
         c = anom_poisson_cdf(3, 10);
  assert_true(a < b && b < c);
}

static void test_binomial_tail(void **state) {
  (void)state;
  /* P(X >= 1 | 3, 0.5) = 7/8; P(X >= 3 | 3, 0.5) = 1/8 */
  assert_float_equal(anom_binom_sf(1, 3, 0.5), 0.875, 1e-12);
  assert_float_equal(anom_binom_sf(3, 3, 0.5), 0.125, 1e-12);
  assert_float_equal(anom_binom_sf(0, 5, 0.1), 1, 1e-12);
  assert_float_equal(anom_binom_sf(6, 5, 0.1), 0, 1e-12);
  assert_float_equal(anom_binom_sf(2, 5, 0), 0, 1e-12);
  /* P(X >= 2 | 10, 0.1) = 1 - 0.9^10 - 10 * 0.1 * 0.9^9 */
  assert_float_equal(anom_binom_sf(2, 10, 0.1), 1 - pow(0.9, 10) - pow(0.9, 9),
                     1e-12);
}

static void test_wilson_upper(void **state) {
  (void)state;
  assert_float_equal(anom_wilson_upper(0, 0, 1.645), 1, 1e-12);
  double u = anom_wilson_upper(10, 100, 1.645);
  assert_true(u > 0.10 && u < 0.17); /* 0.1604 */
  /* no failures in many runs still leaves a small positive bound */
  double z = anom_wilson_upper(0, 100, 1.645);
  assert_true(z > 0.0 && z < 0.03);
}

static void test_theil_sen_line_step_and_noise(void **state) {
  (void)state;
  double x[20], y[20], z;
  for (int i = 0; i < 20; i++) {
    x[i] = i;
    y[i] = 2 + 0.5 * i;
  }
  y[7] = 100; /* one wild sample moves no median */
  assert_float_equal(anom_theil_sen(x, y, 20, &z), 0.5, 1e-12);
  assert_true(z > 5);
  for (int i = 0; i < 20; i++)
    y[i] = 3;
  assert_float_equal(anom_theil_sen(x, y, 20, &z), 0, 1e-12);
  assert_float_equal(z, 0, 1e-12);
  assert_true(isnan(anom_theil_sen(x, y, 1, &z)));
  for (int i = 0; i < 20; i++)
    y[i] = 10 - i;
  anom_theil_sen(x, y, 20, &z);
  assert_true(z < -5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quantile_edges),
      cmocka_unit_test(test_median_mad_constant_and_outlier),
      cmocka_unit_test(test_poisson_cdf),
      cmocka_unit_test(test_binomial_tail),
      cmocka_unit_test(test_wilson_upper),
      cmocka_unit_test(test_theil_sen_line_step_and_noise),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
