/* anomaly_stats.c: order statistics, count tests and a robust line fit,
 * written for the few hundred values the detectors keep. */
#include "anomaly_stats.h"

#include <math.h>
#include <stdlib.h>

#define AS_MAX_POINTS 64
#define AS_EPS 1e-14
#define AS_TINY 1e-300
#define AS_MAX_ITER 1000

/* ast_cmp orders doubles ascending for qsort. */
static int ast_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double anom_quantile(double *v, size_t n, double q) {
  if (n == 0)
    return NAN;
  qsort(v, n, sizeof(*v), ast_cmp);
  if (q <= 0)
    return v[0];
  if (q >= 1)
    return v[n - 1];
  double pos = q * (double)(n - 1);
  size_t lo = (size_t)pos;
  double frac = pos - (double)lo;
  if (lo + 1 >= n)
    return v[n - 1];
  return v[lo] + frac * (v[lo + 1] - v[lo]);
}

double anom_median_mad(double *v, size_t n, double *scratch, double *mad) {
  *mad = NAN;
  if (n == 0)
    return NAN;
  double med = anom_quantile(v, n, 0.5);
  for (size_t i = 0; i < n; i++)
    scratch[i] = fabs(v[i] - med);
  *mad = anom_quantile(scratch, n, 0.5);
  return med;
}

/* ast_gamma_p_series returns the regularised lower gamma P(a, x) by its
 * power series; converges fast for x < a + 1. */
static double ast_gamma_p_series(double a, double x) {
  double term = 1.0 / a, sum = term;
  for (int i = 1; i < AS_MAX_ITER; i++) {
    term *= x / (a + i);
    sum += term;
    if (fabs(term) < fabs(sum) * AS_EPS)
      break;
  }
  return sum * exp(-x + a * log(x) - lgamma(a));
}

/* ast_gamma_q_fraction returns the regularised upper gamma Q(a, x) by its
 * continued fraction (modified Lentz); converges fast for x >= a + 1. */
static double ast_gamma_q_fraction(double a, double x) {
  double b = x + 1.0 - a, c = 1.0 / AS_TINY, d = 1.0 / b, h = d;
  for (int i = 1; i < AS_MAX_ITER; i++) {
    double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (fabs(d) < AS_TINY)
      d = AS_TINY;
    c = b + an / c;
    if (fabs(c) < AS_TINY)
      c = AS_TINY;
    d = 1.0 / d;
    double delta = d * c;
    h *= delta;
    if (fabs(delta - 1.0) < AS_EPS)
      break;
  }
  return exp(-x + a * log(x) - lgamma(a)) * h;
}

double anom_poisson_cdf(double k, double lambda) {
  if (k < 0)
    return 0.0;
  if (lambda <= 0)
    return 1.0;
  double a = k + 1.0;
  if (lambda < a + 1.0)
    return 1.0 - ast_gamma_p_series(a, lambda);
  return ast_gamma_q_fraction(a, lambda);
}

double anom_binom_sf(unsigned k, unsigned n, double p) {
  if (k == 0)
    return 1.0;
  if (k > n || p <= 0)
    return 0.0;
  if (p >= 1)
    return 1.0;
  double sum = 0, lp = log(p), lq = log1p(-p), ln = lgamma(n + 1.0);
  for (unsigned i = k; i <= n; i++)
    sum +=
        exp(ln - lgamma(i + 1.0) - lgamma(n - i + 1.0) + i * lp + (n - i) * lq);
  return sum > 1.0 ? 1.0 : sum;
}

double anom_wilson_upper(double k, double n, double z) {
  if (n <= 0)
    return 1.0;
  double p = k / n, z2 = z * z;
  double centre = p + z2 / (2 * n);
  double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  double up = (centre + half) / (1 + z2 / n);
  return up > 1.0 ? 1.0 : up;
}

double anom_theil_sen(const double *x, const double *y, size_t n,
                      double *mk_z) {
  double slopes[AS_MAX_POINTS * (AS_MAX_POINTS - 1) / 2];
  size_t m = 0;
  long s = 0;
  *mk_z = 0;
  if (n > AS_MAX_POINTS)
    n = AS_MAX_POINTS;
  if (n < 2)
    return NAN;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double dy = y[j] - y[i], dx = x[j] - x[i];
      s += (dy > 0) - (dy < 0);
      if (dx > 0)
        slopes[m++] = dy / dx;
    }
  double dn = (double)n;
  double var = dn * (dn - 1) * (2.0 * dn + 5) / 18.0;
  if (s != 0)
    *mk_z = ((double)s - (s > 0 ? 1.0 : -1.0)) / sqrt(var);
  return m ? anom_quantile(slopes, m, 0.5) : NAN;
}
