/* qf_status.c: the one status rule (see qf_status.h). */
#include "qf_status.h"

#include <math.h>
#include <stdio.h>

/* qfs_busy: v is a number above the bound (NAN compares false). */
static bool qfs_busy(double v) {
  return !isnan(v) && v > QF_STATUS_BUSY_PERCENT;
}

qf_status_t qf_status_decide(bool current, double cpu_percent,
                             double memory_percent) {
  if (!current)
    return QF_STATUS_OFFLINE;
  if (qfs_busy(cpu_percent) || qfs_busy(memory_percent))
    return QF_STATUS_DEGRADED;
  return QF_STATUS_ONLINE;
}

const char *qf_status_name(qf_status_t s) {
  switch (s) {
  case QF_STATUS_ONLINE:
    return "online";
  case QF_STATUS_DEGRADED:
    return "degraded";
  case QF_STATUS_OFFLINE:
    break;
  }
  return "offline";
}

void qf_attention_add(qf_attention_t *a, const char *reason) {
  if (a->n < QF_ATTENTION_MAX)
    snprintf(a->text[a->n++], QF_ATTENTION_TEXT, "%s", reason);
}

/* qfs_count appends "<n> <one|many> <what>" when n rounds to 1 or more. */
static void qfs_count(qf_attention_t *a, double n, const char *one,
                      const char *many, const char *what) {
  if (!isfinite(n) || n < 0.5 || a->n >= QF_ATTENTION_MAX)
    return;
  long long k = llround(n);
  snprintf(a->text[a->n++], QF_ATTENTION_TEXT, "%lld %s %s", k,
           k == 1 ? one : many, what);
}

void qf_attention_counts(qf_attention_t *a, const qf_attention_counts_t *c) {
  qfs_count(a, c->agents_failed, "agent", "agents", "failed");
  qfs_count(a, c->agents_dead, "agent", "agents", "dead");
  qfs_count(a, c->agents_stale, "agent", "agents", "stale");
  qfs_count(a, c->flagged, "issue", "issues", "flagged for a human");
  qfs_count(a, c->backlog, "heartbeat", "heartbeats", "waiting in the spool");
  qfs_count(a, c->set_aside, "heartbeat", "heartbeats",
            "set aside (refused by a backend)");
  if (c->budget_exhausted)
    qf_attention_add(a, "request budget cannot carry every heartbeat");
}

void qf_attention_write(qf_jw_t *w, const qf_attention_t *a) {
  qf_jw_key(w, "attention"); /* BEGIN attention */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "needed", a->n > 0);
  qf_jw_key(w, "reasons");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < a->n; i++)
    qf_jw_str(w, a->text[i]);
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END attention */
}
