/* collectd_values.h: what the exporter takes from collectd, and the pure logic
 * that turns collectd's identifiers and gauges into resource figures. No I/O.
 */
#ifndef QFX_COLLECTD_VALUES_H
#define QFX_COLLECTD_VALUES_H

#include "qf_resources.h"

#include <collectd/types.h>
#include <stdbool.h>
#include <stddef.h>

/* Agent statuses in the order of the contract; then total and invalid. */
enum {
  QFX_AG_ACTIVE,
  QFX_AG_IDLE,
  QFX_AG_BLOCKED,
  QFX_AG_FAILED,
  QFX_AG_DEAD,
  QFX_AG_STALE,
  QFX_AG_TOTAL,
  QFX_AG_INVALID,
  QFX_AG_N
};
#define QFX_AG_STATUSES 6 /* active .. stale */
extern const char *const qfx_agent_keys[QFX_AG_N];

/* One reading of collectd; every number is NAN when collectd lacks it.
 * Sizes stay in bytes here; rendering converts them. */
typedef struct qfx_resources_s {
  char host[LCC_NAME_LEN]; /* the collectd host read, "" if none */
  qf_res_t usage;          /* cpu, memory and disk, by libqiflow's rules */
  double load[3];          /* 1, 5, 15 minutes */
  double uptime_seconds;
  double agents[QFX_AG_N];
} qfx_resources_t;

/* The gauges as collectd hands them: the host's (derived by libqiflow's
 * shared rules, as the heartbeat does) plus load, uptime and agents. */
typedef struct qfx_raw_s {
  qf_res_input_t host;
  double load[3];
  double uptime;
  double agents[QFX_AG_N];
} qfx_raw_t;

/* qfx_raw_init sets every field of r to NAN. */
void qfx_raw_init(qfx_raw_t *r);

/* qfx_values_wanted tells whether the exporter reads this identifier. */
bool qfx_values_wanted(const lcc_identifier_t *id);

/* qfx_values_pick_host chooses whose values to serve: preferred when
 * non-empty and present, else the host with qiflow_agents values, else the
 * first host (in name order) with cpu values. NULL when none fits; the
 * result points into ids. */
const char *qfx_values_pick_host(const lcc_identifier_t *ids, size_t n,
                                 const char *preferred);

/* qfx_values_apply adds one GETVAL answer (n values with their names) for
 * id to r. Unknown identifiers and non-finite values are ignored. */
void qfx_values_apply(qfx_raw_t *r, const lcc_identifier_t *id, size_t n,
                      const double *values, char *const *names);

/* qfx_values_derive computes the resource figures from r. */
void qfx_values_derive(const qfx_raw_t *r, qfx_resources_t *out);

/* qfx_resources_init sets every number of r to NAN and the host to "". */
void qfx_resources_init(qfx_resources_t *r);

/* qfx_stale tells whether data last read at last_ok (monotonic seconds,
 * <= 0 when never) is stale at now: collectd unreachable, or older than
 * three refresh periods. */
bool qfx_stale(double now, double last_ok, long refresh_ms, bool connected);

#endif
