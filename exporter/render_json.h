/* render_json.h: the JSON bodies of the REST API, from one model of what the
 * exporter knows at a refresh. Pure: no I/O, no clock, no globals. */
#ifndef QFX_RENDER_JSON_H
#define QFX_RENDER_JSON_H

#include "qf_json.h"
#include "collectd_values.h"

#include <stdbool.h>

typedef struct qfx_model_s {
  double now;              /* wall clock, epoch seconds */
  const char *swarm_id;    /* NULL: not known yet (rendered null) */
  const char *version;     /* the exporter's version */
  const char *hostname;    /* system.hostname */
  const char *platform;    /* system.platform, e.g. "linux" */
  const char *socket_path; /* collectd's unixsock */
  int api_port;
  long refresh_ms;
  bool connected;             /* the last read of collectd succeeded */
  const char *error;          /* why it failed, when !connected */
  const char *state_error;    /* why --state-dir is unusable, NULL: usable */
  double last_ok;             /* epoch of the last good read, 0: never */
  bool stale;                 /* see qfx_stale */
  const qfx_resources_t *res; /* the last good reading */
  yajl_val agents;            /* agents.json, or NULL */
  yajl_val project;         /* project.json (its issue list pruned), or NULL */
  long long flagged_issues; /* flagged issues in project.json, -1: unknown */
  /* issues_requiring_human_intervention as a JSON array text (critical
   * first), or NULL without project.json */
  const char *flagged_list;
  size_t flagged_list_len;
  const long long *flagged_by_trigger; /* QFX_TRIGGERS counts, or NULL */
  yajl_val heartbeat;                  /* heartbeat.json, or NULL */
  yajl_val anomalies; /* anomalies.json (qiflow_anomaly), or NULL */
} qfx_model_t;

/* Each renderer writes one complete document into w (check w->status via
 * qf_jw_finish). qfx_render_health returns the HTTP status to answer. */
int qfx_render_health(const qfx_model_t *m, qf_jw_t *w);
void qfx_render_status(const qfx_model_t *m, qf_jw_t *w);
void qfx_render_agent_status(const qfx_model_t *m, qf_jw_t *w);
void qfx_render_metrics(const qfx_model_t *m, qf_jw_t *w);
/* qfx_render_error writes {"success": false, "error": msg}. */
void qfx_render_error(qf_jw_t *w, const char *msg);

/* Flag triggers of project.json and the priority each carries. */
#define QFX_TRIGGERS 5
extern const char *const qfx_trigger_names[QFX_TRIGGERS];
extern const char *const qfx_trigger_priorities[QFX_TRIGGERS];

/* qfx_knum writes v under key when it is a number, else null. */
void qfx_knum(qf_jw_t *w, const char *key, yajl_val v);
/* qfx_render_velocity writes "velocity": {daily, per_day, trend, slope}
 * from project.json's velocity object, {} without one. */
void qfx_render_velocity(qf_jw_t *w, yajl_val velocity);

/* qfx_project_synced tells whether project.json (NULL: none) holds a
 * finished issue listing (last_sync is set): before it, its issue figures
 * are zeros that are not the repository's, and the responses serve null. */
bool qfx_project_synced(yajl_val project);

/* The optional parts of qiflow_github's sync a permission 403 can make
 * unavailable (project.json github.unavailable[].part). */
#define QFX_GH_PARTS 3
extern const char *const qfx_gh_parts[QFX_GH_PARTS];
/* qfx_project_sync_state is project.json's sync_state ("never", "ok",
 * "failing"); NULL without project.json or from an older qiflow_github
 * that did not write it (unknown). */
const char *qfx_project_sync_state(yajl_val project);
/* qfx_project_unavailable_count is the length of project.json's
 * github.unavailable (the parts GitHub refused with a permission 403), 0
 * without one; qfx_project_unavailable is its entry i when it is whole
 * ({part, reason, since, retry_at}, all strings), else NULL. */
size_t qfx_project_unavailable_count(yajl_val project);
yajl_val qfx_project_unavailable(yajl_val project, size_t i);
/* qfx_render_sync writes "sync_state" (or null, see
 * qfx_project_sync_state) and "unavailable": the whole entries of
 * project.json's github.unavailable, [] without any. */
void qfx_render_sync(qf_jw_t *w, yajl_val project);

/* heartbeat.json counts as fresh for this many of its intervals plus the
 * slack (qiflow_heartbeat rewrites it after every heartbeat and every
 * delivery attempt; the slack covers a delivery's timeouts). */
#define QFX_HB_FRESH_INTERVALS 3
#define QFX_HB_FRESH_SLACK 30.0
/* qfx_heartbeat_running tells whether qiflow_heartbeat's loop runs:
 * heartbeat.json (NULL: none) says running and is fresh as of now. A
 * stopped collectd writes running false; a killed one goes stale. */
bool qfx_heartbeat_running(yajl_val heartbeat, double now);

/* qfx_round rounds v to the given number of decimals (NAN stays NAN). */
double qfx_round(double v, int decimals);
/* qfx_agent_count is the count of agents in slot (QFX_AG_*): agents.json's
 * counts (consistent with its agent list), else collectd's value, else
 * NAN. */
double qfx_agent_count(const qfx_model_t *m, int slot);

#define QFX_GIB (1024.0 * 1024.0 * 1024.0)

#endif
