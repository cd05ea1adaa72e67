/* render_json.c: the JSON bodies of the REST API (shapes in schema/README.md,
 * "REST API"). Missing numbers are null and missing sections {} or [],
 * never an error. */
#include "render_json.h"
#include "backend_status.h"
#include "qf_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const qfx_trigger_names[QFX_TRIGGERS] = {
    "blocked_too_long", "ci_failures", "ci_failure_rate", "merge_conflict",
    "human_label"};
const char *const qfx_trigger_priorities[QFX_TRIGGERS] = {
    "review", "critical", "review", "critical", "review"};

double qfx_round(double v, int decimals) {
  if (!isfinite(v))
    return v;
  double f = pow(10.0, decimals);
  return round(v * f) / f;
}

/* qfx_agent_count prefers agents.json's counts: they come from the same
 * document as agent_list, so one response never lists an agent that its
 * counts lack (collectd's values are read on another schedule and may lag
 * the snapshot by a refresh). collectd's count-<status> values serve when
 * there is no snapshot. */
double qfx_agent_count(const qfx_model_t *m, int slot) {
  long long n;
  yajl_val counts = qf_json_get(m->agents, "counts");
  if (qf_json_get_int(counts, qfx_agent_keys[slot], &n) == 0 && n >= 0)
    return (double)n;
  return m->res != NULL ? m->res->agents[slot] : NAN;
}

/* rj_kcount writes a count as an integer, or null when unknown. */
static void rj_kcount(qf_jw_t *w, const char *key, double v) {
  if (isfinite(v))
    qf_jw_kint(w, key, (long long)llround(v));
  else
    qf_jw_knull(w, key);
}

void qfx_knum(qf_jw_t *w, const char *key, yajl_val v) {
  qf_jw_key(w, key);
  qf_jw_value(w, YAJL_IS_NUMBER(v) ? v : NULL);
}

/* rj_knum copies obj[key] when it is a number, else null. */
static void rj_knum(qf_jw_t *w, yajl_val obj, const char *key) {
  qfx_knum(w, key, qf_json_get(obj, key));
}

/* rj_kstr copies obj[key] when it is a string, else null. */
static void rj_kstr(qf_jw_t *w, yajl_val obj, const char *key) {
  qf_jw_kstr(w, key, qf_json_get_str(obj, key));
}

/* rj_klist writes v under key when it is an array, else []. */
static void rj_klist(qf_jw_t *w, const char *key, yajl_val v) {
  qf_jw_key(w, key);
  if (YAJL_IS_ARRAY(v)) {
    qf_jw_value(w, v);
  } else {
    qf_jw_arr_open(w);
    qf_jw_arr_close(w);
  }
}

/* rj_age is the seconds since the last good read, NAN when never. */
static double rj_age(const qfx_model_t *m) {
  if (m->last_ok <= 0.0)
    return NAN;
  double age = m->now - m->last_ok;
  return qfx_round(age < 0.0 ? 0.0 : age, 3);
}

static void rj_system(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_key(w, "system"); /* BEGIN system */
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "hostname", m->hostname);
  qf_jw_kstr(w, "platform", m->platform);
  rj_kcount(w, "uptime_seconds", m->res->uptime_seconds);
  qf_jw_kstr(w, "collectd_version",
             qf_json_get_str(m->agents, "collectd_version"));
  qf_jw_kstr(w, "agent_version", m->version);
  /* The earlier Python agent's field: no Python runs here, so its value
   * stays null rather than a made-up version. */
  qf_jw_knull(w, "python_version");
  qf_jw_obj_close(w); /* END system */
}

static void rj_resources(const qfx_model_t *m, qf_jw_t *w) {
  const qfx_resources_t *r = m->res;
  qf_jw_key(w, "resources"); /* BEGIN resources */
  qf_jw_obj_open(w);
  qf_jw_kdouble(w, "cpu_percent", qfx_round(r->usage.cpu_percent, 2));
  qf_jw_kdouble(w, "memory_percent", qfx_round(r->usage.memory_percent, 2));
  /* _gb fields are GiB (2^30 bytes), the unit `free -g` shows. */
  qf_jw_kdouble(w, "memory_used_gb",
                qfx_round(r->usage.memory_used_bytes / QFX_GIB, 2));
  qf_jw_kdouble(w, "memory_total_gb",
                qfx_round(r->usage.memory_total_bytes / QFX_GIB, 2));
  qf_jw_kdouble(w, "disk_percent", qfx_round(r->usage.disk_percent, 2));
  qf_jw_kdouble(w, "disk_used_gb",
                qfx_round(r->usage.disk_used_bytes / QFX_GIB, 2));
  qf_jw_kdouble(w, "disk_total_gb",
                qfx_round(r->usage.disk_total_bytes / QFX_GIB, 2));
  qf_jw_kdouble(w, "load_1", qfx_round(r->load[0], 2));
  qf_jw_kdouble(w, "load_5", qfx_round(r->load[1], 2));
  qf_jw_kdouble(w, "load_15", qfx_round(r->load[2], 2));
  qf_jw_obj_close(w); /* END resources */
}

/* rj_agents_status writes the earlier agent's per-agent list: one
 * {name, status} per agent of agents.json, [] without it. */
static void rj_agents_status(qf_jw_t *w, yajl_val list) {
  qf_jw_key(w, "agents_status"); /* BEGIN agents_status */
  qf_jw_arr_open(w);
  for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
    yajl_val a = list->u.array.values[i];
    if (!YAJL_IS_OBJECT(a))
      continue;
    qf_jw_obj_open(w);
    rj_kstr(w, a, "name");
    rj_kstr(w, a, "status");
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w); /* END agents_status */
}

static void rj_agents(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_key(w, "agents"); /* BEGIN agents */
  qf_jw_obj_open(w);
  rj_kcount(w, "active_agents", qfx_agent_count(m, QFX_AG_ACTIVE));
  rj_kcount(w, "total_agents", qfx_agent_count(m, QFX_AG_TOTAL));
  qf_jw_key(w, "by_status");
  qf_jw_obj_open(w);
  for (int i = 0; i < QFX_AG_STATUSES; i++)
    rj_kcount(w, qfx_agent_keys[i], qfx_agent_count(m, i));
  qf_jw_obj_close(w);
  rj_klist(w, "invalid_files", qf_json_get(m->agents, "invalid_files"));
  qf_jw_kstr(w, "updated_at", qf_json_get_str(m->agents, "updated_at"));
  rj_klist(w, "agent_list", qf_json_get(m->agents, "agents"));
  rj_agents_status(w, qf_json_get(m->agents, "agents"));
  qf_jw_obj_close(w); /* END agents */
}

/* rj_copy_members writes every member of obj except skip (NULL: none). */
static void rj_copy_members(qf_jw_t *w, yajl_val obj, const char *skip) {
  for (size_t i = 0; YAJL_IS_OBJECT(obj) && i < obj->u.object.len; i++) {
    if (skip != NULL && strcmp(obj->u.object.keys[i], skip) == 0)
      continue;
    qf_jw_key(w, obj->u.object.keys[i]);
    qf_jw_value(w, obj->u.object.values[i]);
  }
}

void qfx_render_velocity(qf_jw_t *w, yajl_val v) {
  qf_jw_key(w, "velocity"); /* BEGIN velocity */
  qf_jw_obj_open(w);
  if (YAJL_IS_OBJECT(v)) {
    yajl_val daily = qf_json_get(v, "daily");
    qf_jw_key(w, "daily");
    qf_jw_arr_open(w);
    for (size_t i = 0; YAJL_IS_ARRAY(daily) && i < daily->u.array.len; i++)
      if (YAJL_IS_NUMBER(daily->u.array.values[i]))
        qf_jw_value(w, daily->u.array.values[i]);
    qf_jw_arr_close(w);
    rj_knum(w, v, "per_day");
    rj_kstr(w, v, "trend");
    rj_knum(w, v, "slope");
  }
  qf_jw_obj_close(w); /* END velocity */
}

/* rj_sync_age writes the seconds since project.json's last_sync as of
 * this refresh (the snapshot's own figure is as old as the snapshot). */
static void rj_sync_age(const qfx_model_t *m, qf_jw_t *w) {
  const char *text = qf_json_get_str(m->project, "last_sync");
  time_t t;
  if (text == NULL || qf_time_parse(text, &t) != 0) {
    qf_jw_knull(w, "sync_age_seconds");
    return;
  }
  double age = m->now - (double)t;
  qf_jw_kint(w, "sync_age_seconds", age > 0.0 ? (long long)age : 0);
}

bool qfx_project_synced(yajl_val project) {
  return qf_json_get_str(project, "last_sync") != NULL;
}

const char *const qfx_gh_parts[QFX_GH_PARTS] = {
    "ci_runs", "pull_request_detail", "issue_events"};

const char *qfx_project_sync_state(yajl_val project) {
  static const char *const states[] = {"never", "ok", "failing"};
  const char *s = qf_json_get_str(project, "sync_state");
  for (size_t i = 0; s != NULL && i < sizeof(states) / sizeof(states[0]); i++)
    if (strcmp(s, states[i]) == 0)
      return states[i];
  return NULL;
}

/* rj_unavailable_list is project.json's github.unavailable, NULL when it
 * is no list. */
static yajl_val rj_unavailable_list(yajl_val project) {
  yajl_val list = qf_json_get(qf_json_get(project, "github"), "unavailable");
  return YAJL_IS_ARRAY(list) ? list : NULL;
}

size_t qfx_project_unavailable_count(yajl_val project) {
  yajl_val list = rj_unavailable_list(project);
  return list != NULL ? list->u.array.len : 0;
}

yajl_val qfx_project_unavailable(yajl_val project, size_t i) {
  static const char *const keys[] = {"part", "reason", "since", "retry_at"};
  yajl_val list = rj_unavailable_list(project);
  if (list == NULL || i >= list->u.array.len)
    return NULL;
  yajl_val u = list->u.array.values[i];
  for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
    if (qf_json_get_str(u, keys[k]) == NULL)
      return NULL;
  return u;
}

void qfx_render_sync(qf_jw_t *w, yajl_val project) {
  static const char *const keys[] = {"part", "reason", "since", "retry_at"};
  size_t n = qfx_project_unavailable_count(project);
  qf_jw_kstr(w, "sync_state", qfx_project_sync_state(project));
  qf_jw_key(w, "unavailable");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < n; i++) {
    yajl_val u = qfx_project_unavailable(project, i);
    if (u == NULL)
      continue;
    qf_jw_obj_open(w);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
      rj_kstr(w, u, keys[k]);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
}

/* rj_github writes the GitHub figures of project.json, {"enabled": false}
 * without it (no repository is tracked). Before the first full listing
 * the issue counts are null: project.json's zeros are not the
 * repository's yet. open_prs repeats open_pull_requests under the
 * earlier agent's name. */
static void rj_github(const qfx_model_t *m, qf_jw_t *w) {
  static const char *const listed[] = {"open_issues", "open_pull_requests"};
  static const char *const counts[] = {"recent_commits", "recent_commits_days",
                                       "rate_limit_remaining",
                                       "rate_limit_limit"};
  yajl_val gh = qf_json_get(m->project, "github");
  yajl_val listing = qfx_project_synced(m->project) ? gh : NULL;
  qf_jw_key(w, "github"); /* BEGIN github */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "enabled", m->project != NULL);
  if (m->project != NULL) {
    rj_kstr(w, m->project, "repository");
    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
      rj_knum(w, listing, listed[i]);
    qfx_knum(w, "open_prs", qf_json_get(listing, "open_pull_requests"));
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
      rj_knum(w, gh, counts[i]);
    rj_kstr(w, m->project, "last_sync");
    rj_kstr(w, m->project, "last_error");
    rj_sync_age(m, w);
    qfx_render_sync(w, m->project);
  }
  qf_jw_obj_close(w); /* END github */
}

/* rj_flagged writes the issues needing a human (critical first), as
 * /project/completion lists them; [] without them. */
static void rj_flagged(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_key(w, "issues_requiring_human_intervention");
  if (m->flagged_list != NULL) {
    qf_jw_raw(w, m->flagged_list, m->flagged_list_len);
  } else {
    qf_jw_arr_open(w);
    qf_jw_arr_close(w);
  }
}

/* rj_project writes the project figures of project.json, {} without it;
 * before the first full listing its numbers are null (see rj_github). */
static void rj_project(const qfx_model_t *m, qf_jw_t *w) {
  static const char *const counts[] = {
      "completion_percentage", "total_issues", "completed_issues",
      "in_progress_issues",    "ready_issues", "blocked_issues"};
  bool synced = qfx_project_synced(m->project);
  yajl_val comp = synced ? qf_json_get(m->project, "completion") : NULL;
  yajl_val velocity = synced ? qf_json_get(m->project, "velocity") : NULL;
  qf_jw_key(w, "project"); /* BEGIN project */
  qf_jw_obj_open(w);
  if (m->project != NULL) {
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
      rj_knum(w, comp, counts[i]);
    if (synced && m->flagged_issues >= 0)
      qf_jw_kint(w, "flagged_issues", m->flagged_issues);
    else
      qf_jw_knull(w, "flagged_issues");
    rj_flagged(m, w);
    rj_kstr(w, m->project, "estimated_completion_date");
    /* velocity_trend: issues closed per day, the earlier agent's number
     * (the trend's direction is velocity.trend). */
    qfx_knum(w, "velocity_trend", qf_json_get(velocity, "per_day"));
    qfx_render_velocity(w, velocity);
    rj_kstr(w, m->project, "updated_at");
  }
  qf_jw_obj_close(w); /* END project */
}

/* rj_heartbeat writes heartbeat.json without schema_version, {} without
 * it. */
static void rj_heartbeat(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_key(w, "heartbeat"); /* BEGIN heartbeat */
  qf_jw_obj_open(w);
  rj_copy_members(w, m->heartbeat, "schema_version");
  qf_jw_obj_close(w); /* END heartbeat */
}

/* rj_head writes swarm_id, timestamp, stale and data_age_seconds. */
static void rj_head(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_kstr(w, "swarm_id", m->swarm_id);
  qf_jw_ktime(w, "timestamp", (long long)m->now);
  qf_jw_kbool(w, "stale", m->stale);
  qf_jw_kdouble(w, "data_age_seconds", rj_age(m));
}

/* rj_data writes the "data" object /status and /metrics share. */
/* rj_anomalies writes the active anomalies of anomalies.json, [] without
 * it (objects of schema/anomalies-snapshot.schema.json's anomaly). */
static void rj_anomalies(const qfx_model_t *m, qf_jw_t *w) {
  yajl_val list = qf_json_get(m->anomalies, "anomalies");
  qf_jw_key(w, "anomalies");
  qf_jw_arr_open(w);
  for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++)
    if (YAJL_IS_OBJECT(list->u.array.values[i]))
      qf_jw_value(w, list->u.array.values[i]);
  qf_jw_arr_close(w);
}

static void rj_data(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_key(w, "data"); /* BEGIN data */
  qf_jw_obj_open(w);
  rj_head(m, w);
  rj_system(m, w);
  rj_resources(m, w);
  rj_agents(m, w);
  rj_github(m, w);
  rj_project(m, w);
  rj_heartbeat(m, w);
  rj_anomalies(m, w);
  qf_jw_obj_close(w); /* END data */
}

/* Healthy: collectd answers and the snapshots' directory is readable.
 * The reason names collectd first when both fail. */
int qfx_render_health(const qfx_model_t *m, qf_jw_t *w) {
  bool healthy = m->connected && m->state_error == NULL;
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "status", healthy ? "healthy" : "unhealthy");
  if (!healthy) {
    char reason[480];
    if (!m->connected)
      snprintf(reason, sizeof(reason), "collectd unreachable: %s",
               m->error != NULL && m->error[0] ? m->error : "not read yet");
    else
      snprintf(reason, sizeof(reason), "state dir unusable: %s",
               m->state_error);
    qf_jw_kstr(w, "reason", reason);
  }
  qf_jw_ktime(w, "timestamp", (long long)m->now);
  qf_jw_kstr(w, "swarm_id", m->swarm_id);
  qf_jw_kstr(w, "version", m->version);
  qf_jw_key(w, "collectd"); /* BEGIN collectd */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "connected", m->connected);
  qf_jw_kstr(w, "socket", m->socket_path);
  qf_jw_ktime(w, "last_refresh", (long long)m->last_ok);
  qf_jw_kdouble(w, "age_seconds", rj_age(m));
  qf_jw_obj_close(w); /* END collectd */
  qf_jw_obj_close(w);
  return healthy ? 200 : 503;
}

void qfx_render_status(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "success", true);
  /* Flat fields for the central backend's poller, beside the envelope:
   * one status rule for both doors (backend_status.h). */
  qfx_render_backend_flat(m, w);
  qfx_render_attention(m, w);
  rj_data(m, w);
  qf_jw_obj_close(w);
}

/* rj_monitor_url is the first heartbeat backend's URL, or NULL. */
static const char *rj_monitor_url(const qfx_model_t *m) {
  yajl_val backends = qf_json_get(m->heartbeat, "backends");
  if (!YAJL_IS_ARRAY(backends) || backends->u.array.len == 0)
    return NULL;
  return qf_json_get_str(backends->u.array.values[0], "url");
}

/* rj_agent_sections writes the collectd, heartbeat and github objects
 * (github with the sync state and the unavailable parts, as /status). */
static void rj_agent_sections(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_key(w, "collectd"); /* BEGIN collectd */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "connected", m->connected);
  qf_jw_kstr(w, "socket", m->socket_path);
  qf_jw_ktime(w, "last_refresh", (long long)m->last_ok);
  qf_jw_obj_close(w); /* END collectd */
  rj_heartbeat(m, w);
  qf_jw_key(w, "github"); /* BEGIN github */
  qf_jw_obj_open(w);
  if (m->project != NULL) {
    rj_kstr(w, m->project, "repository");
    rj_kstr(w, m->project, "last_sync");
    rj_kstr(w, m->project, "last_error");
    qfx_render_sync(w, m->project);
  }
  qf_jw_obj_close(w); /* END github */
}

bool qfx_heartbeat_running(yajl_val heartbeat, double now) {
  const char *text = qf_json_get_str(heartbeat, "updated_at");
  double interval;
  time_t t;
  if (!YAJL_IS_TRUE(qf_json_get(heartbeat, "running")) || text == NULL ||
      qf_time_parse(text, &t) != 0 ||
      qf_json_get_double(heartbeat, "interval", &interval) != 0 ||
      !(interval > 0.0))
    return false;
  return now - (double)t <=
         QFX_HB_FRESH_INTERVALS * interval + QFX_HB_FRESH_SLACK;
}

void qfx_render_agent_status(const qfx_model_t *m, qf_jw_t *w) {
  long long interval;
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "success", true);
  qf_jw_key(w, "data"); /* BEGIN data */
  qf_jw_obj_open(w);
  /* running: the earlier agent's meaning, the heartbeat loop runs. */
  qf_jw_kbool(w, "running", qfx_heartbeat_running(m->heartbeat, m->now));
  qf_jw_kbool(w, "exporter_running", true);
  qf_jw_kstr(w, "swarm_id", m->swarm_id);
  qf_jw_kstr(w, "version", m->version);
  qf_jw_kint(w, "api_port", m->api_port);
  if (qf_json_get_int(m->heartbeat, "interval", &interval) == 0)
    qf_jw_kint(w, "interval", interval);
  else
    qf_jw_knull(w, "interval");
  qf_jw_kstr(w, "monitor_url", rj_monitor_url(m));
  qf_jw_kstr(w, "github_repo", qf_json_get_str(m->project, "repository"));
  rj_agent_sections(m, w);
  qf_jw_obj_close(w); /* END data */
  qf_jw_obj_close(w);
}

void qfx_render_metrics(const qfx_model_t *m, qf_jw_t *w) {
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "success", true);
  rj_data(m, w);
  qf_jw_obj_close(w);
}

void qfx_render_error(qf_jw_t *w, const char *msg) {
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "success", false);
  qf_jw_kstr(w, "error", msg);
  qf_jw_obj_close(w);
}
