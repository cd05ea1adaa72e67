/* qf_status.h: the one status rule both doors to the central backend apply
 * (our heartbeat and the backend's poller of /status), so the status it
 * stores never depends on which door spoke last. The rule is the poller's
 * own reading of our flat fields; why a swarm needs attention travels in
 * fields of its own, never in this status. */
#ifndef QF_STATUS_H
#define QF_STATUS_H

#include "qf_json.h"

#include <stdbool.h>
#include <stddef.h>

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

/* Why a swarm needs an operator besides its status (the "attention"
 * object of the heartbeat body and of /status): short sentences, at most
 * QF_ATTENTION_MAX (every reason below fits). */
#define QF_ATTENTION_MAX 8
#define QF_ATTENTION_TEXT 160

typedef struct qf_attention_s {
  char text[QF_ATTENTION_MAX][QF_ATTENTION_TEXT];
  size_t n;
} qf_attention_t;

/* The counts both doors turn into reasons; NAN or below 0.5: nothing to
 * say. */
typedef struct qf_attention_counts_s {
  double agents_failed, agents_dead, agents_stale;
  double flagged;        /* issues flagged for a human */
  double backlog;        /* heartbeats waiting in a spool */
  double set_aside;      /* heartbeats a backend refused for good */
  bool budget_exhausted; /* the request budget cannot carry them all */
} qf_attention_counts_t;

/* qf_attention_add appends reason (cut to QF_ATTENTION_TEXT) if room is
 * left. */
void qf_attention_add(qf_attention_t *a, const char *reason);

/* qf_attention_counts appends, in this order, "<n> agent(s) failed|dead|
 * stale", "<n> issue(s) flagged for a human", "<n> heartbeat(s) waiting in
 * the spool", "<n> heartbeat(s) set aside (refused by a backend)" and
 * "request budget cannot carry every heartbeat". */
void qf_attention_counts(qf_attention_t *a, const qf_attention_counts_t *c);

/* qf_attention_write writes "attention": {"needed": bool, "reasons":
 * [...]}. */
void qf_attention_write(qf_jw_t *w, const qf_attention_t *a);

#endif
