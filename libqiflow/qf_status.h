/* qf_status.h: the one status rule both doors to the central backend apply
 * (our heartbeat and the backend's poller of /status), so the status it
 * stores never depends on which door spoke last. The rule is the poller's
 * own reading of our flat fields; why a swarm needs attention travels in
 * fields of its own, never in this status. */
#ifndef QF_STATUS_H
#define QF_STATUS_H

#include <stdbool.h>

/* Above this cpu or memory percentage the backend's poller stores
 * "degraded" whatever we say; so do we. */
#define QF_STATUS_BUSY_PERCENT 90.0

typedef enum qf_status_e {
  QF_STATUS_ONLINE,
  QF_STATUS_DEGRADED,
  QF_STATUS_OFFLINE,
} qf_status_t;

/* qf_status_decide: offline when our figures are not current (collectd gone
 * or stalled, or the part is shutting down); else degraded when cpu or
 * memory is above QF_STATUS_BUSY_PERCENT; else online. A NAN figure is not
 * above the bound (the poller compares null the same way). */
qf_status_t qf_status_decide(bool current, double cpu_percent,
                             double memory_percent);

/* qf_status_name is "online", "degraded" or "offline". */
const char *qf_status_name(qf_status_t s);

#endif
