/* anomaly_stats.h: the small-sample statistics the detectors rest on. */
#ifndef ANOMALY_STATS_H
#define ANOMALY_STATS_H

#include <stddef.h>

/* anom_quantile returns the q-quantile (0..1, linear interpolation between
 * order statistics) of v[0, n), which it sorts in place; NaN when n == 0. */
double anom_quantile(double *v, size_t n, double q);

/* anom_median_mad sorts v[0, n) in place and returns its median, with the
 * median absolute deviation in *mad (uses scratch[0, n)); NaN when n == 0. */
double anom_median_mad(double *v, size_t n, double *scratch, double *mad);

/* anom_poisson_cdf returns P(X <= k) for X ~ Poisson(lambda), continued to
 * real k >= 0 as the regularised upper incomplete gamma Q(k + 1, lambda). */
double anom_poisson_cdf(double k, double lambda);

/* anom_binom_sf returns P(X >= k) for X ~ Binomial(n, p). */
double anom_binom_sf(unsigned k, unsigned n, double p);

/* anom_wilson_upper returns the upper end of the Wilson score interval of
 * k successes in n trials at normal quantile z; 1 when n == 0. */
double anom_wilson_upper(double k, double n, double z);

/* anom_theil_sen returns the median of the pairwise slopes of (x, y)[0, n)
 * and in *mk_z the Mann-Kendall z of the rise (positive: rising); NaN and
 * 0 when n < 2. Uses no more than n <= 64 points. */
double anom_theil_sen(const double *x, const double *y, size_t n, double *mk_z);

#endif
