/* qf_resources.h: the host figures (cpu, memory, disk) that the exporter
 * and the heartbeat both report, derived by one set of rules from the
 * gauges of collectd's cpu, memory and df plugins. No I/O. */
#ifndef QF_RESOURCES_H
#define QF_RESOURCES_H

#include <stdbool.h>

/* The gauges as collectd hands them; NAN when missing. Sums start NAN and
 * become a number with the first state added (qf_res_add). */
typedef struct qf_res_input_s {
  double cpu_idle;         /* cpu/percent-idle */
  double cpu_busy;         /* sum of the other cpu/percent-<state> */
  double mem_percent_used; /* memory/percent-used */
  double mem_used;         /* memory/memory-used, bytes */
  double mem_total;        /* sum of memory/memory-<state> that count */
  double df_percent_used;  /* df-root/percent_bytes-used */
  double df_used, df_free, df_reserved; /* df-root/df_complex-<state> */
} qf_res_input_t;

/* What is reported; NAN when it cannot be known. */
typedef struct qf_res_s {
  double cpu_percent; /* 0..100 */
  double memory_percent;
  double memory_used_bytes;
  double memory_total_bytes;
  double disk_percent;
  double disk_used_bytes;
  double disk_total_bytes;
} qf_res_t;

/* qf_res_input_init marks every gauge missing. */
void qf_res_input_init(qf_res_input_t *in);

/* qf_res_add adds v to a sum that is NAN while nothing was added. */
void qf_res_add(double *sum, double v);

/* qf_res_memory_state_counts tells whether a memory-<state> gauge is part
 * of the total: "available" overlaps the other states, so it is not. */
bool qf_res_memory_state_counts(const char *state);

/* qf_res_derive applies the rules: cpu = 100 - idle (else the busy sum);
 * memory and disk percent as collectd reports them, else used/total; disk
 * total = used + free + reserved. Percentages are clamped to 0..100. */
void qf_res_derive(const qf_res_input_t *in, qf_res_t *out);

#endif
