/* heartbeat_body.h: the heartbeat document (docs/ARCHITECTURE.md "The heartbeat
 * body") from collectd's figures and the agents.json / project.json snapshots.
 */
#ifndef HEARTBEAT_BODY_H
#define HEARTBEAT_BODY_H

#include "heartbeat_metrics.h"
#include "heartbeat_project.h"
#include "qf_status.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#define HB_BODY_MAX_AGENTS 20   /* agents listed in one heartbeat */
#define HB_BODY_MAX_TEXT 120    /* bytes of a task or title, cut at UTF-8 */
#define HB_BODY_MAX_ANOMALIES 3 /* active anomalies listed in one heartbeat */
/* Flagged issues listed in one heartbeat: those hb_project_t keeps. */
#define HB_BODY_MAX_FLAGGED HB_PROJECT_MAX_FLAGGED
/* Bytes of a flagged issue's title, cut at UTF-8: with HB_BODY_MAX_FLAGGED
 * they keep a large repository's body within 1 KB gzip'ed. */
#define HB_BODY_MAX_FLAGGED_TITLE 60

typedef struct hb_body_in_s {
  long long heartbeat_id;
  const char *swarm_id;
  time_t now;
  const char *hostname, *platform, *collectd_version, *agent_version;
  const hb_figures_t *fig;
  yajl_val agents; /* agents.json, or NULL before it exists */
  /* what is kept of project.json; NULL (or no doc) before it exists */
  const hb_project_t *project;
  yajl_val anomalies; /* anomalies.json (qiflow_anomaly), or NULL */
  bool offline;       /* the last heartbeat of a stopping daemon */
  /* Delivery health for "attention" (zeros: nothing to say). */
  unsigned long long backlog;   /* heartbeats still waiting in a spool */
  unsigned long long set_aside; /* heartbeats a backend refused for good */
  bool budget_exhausted;        /* RequestLimit cannot carry live heartbeats */
} hb_body_in_t;

/* hb_body_status is the one rule (qf_status_decide) the exporter's /status
 * applies too: offline when stopping or cpu, memory or disk is not
 * current; else degraded when cpu or memory is above 90 %; else online.
 * Agents, flags and delivery trouble go in "attention", not here. */
qf_status_t hb_body_status(const hb_body_in_t *in);

/* hb_body_agent_count is collectd's count-<status> value for slot i
 * (HB_AG_*), else agents.json's counts.<status>, else NAN. */
double hb_body_agent_count(const hb_body_in_t *in, int i);

/* hb_body_build renders the heartbeat into a new buffer the caller frees.
 * What is unknown is left out (or an empty object), never invented.
 * 0 or a negative errno. */
int hb_body_build(const hb_body_in_t *in, char **out, size_t *len);

/* hb_text_cut copies at most max bytes of s into out (outlen > max),
 * never splitting a UTF-8 sequence; a cut ends in "...". */
void hb_text_cut(const char *s, size_t max, char *out, size_t outlen);

#endif
