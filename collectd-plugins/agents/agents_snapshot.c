/* agents_snapshot.c: the agents.json snapshot (schema/README.md). */
#include "agents.h"

#include "qf_json.h"
#include "qf_snapshot.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>

/* arn_time writes key: t as ISO 8601 UTC, or null when has is false. */
static void arn_time(qf_jw_t *w, const char *key, bool has, time_t t) {
  char buf[QF_TIME_ISO_LEN];
  if (has && qf_time_format(t, buf, sizeof(buf)) == 0)
    qf_jw_kstr(w, key, buf);
  else
    qf_jw_knull(w, key);
}

/* arn_agent writes one agent object: every field, nulls for the optional
 * ones its file left out. */
static void arn_agent(qf_jw_t *w, const agents_agent_t *a) {
  qf_jw_obj_open(w); /* BEGIN agent */
  qf_jw_kstr(w, "name", a->name);
  qf_jw_kstr(w, "status", agents_status_name(a->status));
  qf_jw_kstr(w, "reported_status", a->reported_status);
  qf_jw_kstr(w, "current_task", a->current_task);
  if (a->has_issue)
    qf_jw_kint(w, "issue_number", a->issue_number);
  else
    qf_jw_knull(w, "issue_number");
  arn_time(w, "task_started_at", a->has_started, a->task_started_at);
  arn_time(w, "last_activity", a->has_activity, a->last_activity);
  if (a->has_pid)
    qf_jw_kint(w, "pid", a->pid);
  else
    qf_jw_knull(w, "pid");
  qf_jw_kstr(w, "liveness", agents_liveness_name(a->liveness));
  if (a->has_time_on_task) /* minutes, to a tenth */
    qf_jw_kdouble(w, "time_on_task_minutes",
                  round((double)a->time_on_task_seconds / 6.0) / 10.0);
  else
    qf_jw_knull(w, "time_on_task_minutes");
  qf_jw_kstr(w, "file", a->file);
  qf_jw_obj_close(w); /* END agent */
}

/* arn_counts writes the counts object: each status, total and invalid. */
static void arn_counts(qf_jw_t *w, const agents_result_t *r) {
  qf_jw_key(w, "counts");
  qf_jw_obj_open(w); /* BEGIN counts */
  for (int s = 0; s < AGENTS_STATUS_COUNT; s++)
    qf_jw_kint(w, agents_status_name((agents_status_t)s), r->counts[s]);
  qf_jw_kint(w, "total", (long long)r->n_agents);
  qf_jw_kint(w, "invalid", (long long)r->n_invalid);
  qf_jw_obj_close(w); /* END counts */
}

/* arn_document writes the whole snapshot into w. */
static void arn_document(qf_jw_t *w, const agents_result_t *r,
                         const agents_snapshot_info_t *info) {
  qf_jw_obj_open(w); /* BEGIN snapshot */
  qf_jw_kint(w, "schema_version", QF_SNAPSHOT_SCHEMA_VERSION);
  arn_time(w, "updated_at", true, info->now);
  qf_jw_kstr(w, "agent_dir", info->agent_dir);
  qf_jw_kstr(w, "collectd_version", info->collectd_version);
  qf_jw_kint(w, "stale_after_seconds", info->stale_after);
  arn_counts(w, r);
  qf_jw_key(w, "agents");
  qf_jw_arr_open(w); /* BEGIN agents */
  for (size_t i = 0; i < r->n_agents; i++)
    arn_agent(w, &r->agents[i]);
  qf_jw_arr_close(w); /* END agents */
  qf_jw_key(w, "invalid_files");
  qf_jw_arr_open(w); /* BEGIN invalid_files */
  for (size_t i = 0; i < r->n_invalid; i++) {
    qf_jw_obj_open(w);
    qf_jw_kstr(w, "file", r->invalid[i].file);
    qf_jw_kstr(w, "error", r->invalid[i].error);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w); /* END invalid_files */
  qf_jw_obj_close(w); /* END snapshot */
}

int agents_snapshot(const agents_result_t *r,
                    const agents_snapshot_info_t *info, char **out,
                    size_t *len) {
  qf_jw_t w;
  int status = qf_jw_init(&w);
  if (status != 0)
    return status;
  arn_document(&w, r, info);
  status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}
