/* qf_resources.c: one set of rules for the host figures. */
#include "qf_resources.h"

#include <math.h>
#include <string.h>

void qf_res_input_init(qf_res_input_t *in) {
  in->cpu_idle = in->cpu_busy = NAN;
  in->mem_percent_used = in->mem_used = in->mem_total = NAN;
  in->df_percent_used = in->df_used = in->df_free = in->df_reserved = NAN;
}

void qf_res_add(double *sum, double v) { *sum = isnan(*sum) ? v : *sum + v; }

bool qf_res_memory_state_counts(const char *state) {
  return strcmp(state, "available") != 0;
}

/* qfr_clamp keeps rounding noise inside 0..100; NAN stays NAN. */
static double qfr_clamp(double v) {
  if (isnan(v))
    return v;
  return v < 0.0 ? 0.0 : v > 100.0 ? 100.0 : v;
}

/* qfr_ratio is part/whole in percent, NAN when unknown or whole is 0. */
static double qfr_ratio(double part, double whole) {
  if (isnan(part) || isnan(whole) || whole <= 0.0)
    return NAN;
  return part / whole * 100.0;
}

/* qfr_prefer returns reported when known, else fallback. */
static double qfr_prefer(double reported, double fallback) {
  return !isnan(reported) ? reported : fallback;
}

void qf_res_derive(const qf_res_input_t *in, qf_res_t *out) {
  double busy = !isnan(in->cpu_idle) ? 100.0 - in->cpu_idle : in->cpu_busy;
  out->cpu_percent = qfr_clamp(busy);
  out->memory_used_bytes = in->mem_used;
  out->memory_total_bytes = in->mem_total;
  out->memory_percent = qfr_clamp(
      qfr_prefer(in->mem_percent_used, qfr_ratio(in->mem_used, in->mem_total)));
  double disk_total = NAN;
  if (!isnan(in->df_used) && !isnan(in->df_free))
    disk_total = in->df_used + in->df_free +
                 (isnan(in->df_reserved) ? 0.0 : in->df_reserved);
  out->disk_used_bytes = in->df_used;
  out->disk_total_bytes = disk_total;
  out->disk_percent = qfr_clamp(
      qfr_prefer(in->df_percent_used, qfr_ratio(in->df_used, disk_total)));
}
