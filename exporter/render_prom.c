/* render_prom.c: the /metrics exposition: every number the JSON bodies
 * carry, named per Prometheus practice (qiflow_ prefix, base units,
 * _total only for real counters, _info for metadata, labels for status,
 * agent, trigger and backend; no issue titles). Values collectd hands out
 * through GETVAL are gauges. */
#include "prom_text.h"
#include "qf_json.h"
#include "qf_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* rpm_json_num is obj[key] as a number, NAN when absent or not a number. */
static double rpm_json_num(yajl_val obj, const char *key) {
  double v;
  return qf_json_get_double(obj, key, &v) == 0 ? v : NAN;
}

/* rpm_json_time is obj[key] as epoch seconds, NAN when it is no time. */
static double rpm_json_time(yajl_val obj, const char *key) {
  const char *s = qf_json_get_str(obj, key);
  time_t t;
  return s != NULL && qf_time_parse(s, &t) == 0 ? (double)t : NAN;
}

/* rpm_gauge writes a one-sample gauge family. */
static void rpm_gauge(qfx_prom_t *p, const char *name, const char *unit,
                      const char *help, double v) {
  qfx_prom_family(p, name, "gauge", unit, help);
  qfx_prom_sample(p, NULL, v);
}

static void rpm_info(const qfx_model_t *m, qfx_prom_t *p) {
  const char *labels[] = {"version",
                          m->version,
                          "swarm_id",
                          m->swarm_id ? m->swarm_id : "",
                          "hostname",
                          m->hostname,
                          "repository",
                          m->project ? qf_json_get_str(m->project, "repository")
                                     : NULL,
                          "collectd_version",
                          qf_json_get_str(m->agents, "collectd_version"),
                          NULL};
  qfx_prom_family(p, "qiflow_exporter", "info", NULL,
                  "The exporter's version, the swarm id, the collectd host, "
                  "the repository and collectd's version.");
  qfx_prom_sample(p, labels, 1);
}

static void rpm_collectd(const qfx_model_t *m, qfx_prom_t *p) {
  rpm_gauge(p, "qiflow_collectd_up", NULL,
            "1 when the last read of collectd's unixsock succeeded.",
            m->connected ? 1 : 0);
  rpm_gauge(p, "qiflow_collectd_data_age_seconds", "seconds",
            "Seconds since the last successful read of collectd.",
            m->last_ok > 0 ? fmax(0.0, m->now - m->last_ok) : NAN);
  rpm_gauge(p, "qiflow_collectd_last_read_timestamp_seconds", "seconds",
            "When collectd was last read successfully (Unix time).",
            m->last_ok > 0 ? m->last_ok : NAN);
}

static void rpm_resources(const qfx_model_t *m, qfx_prom_t *p) {
  const qfx_resources_t *r = m->res;
  static const char *const load_names[3] = {"qiflow_load1", "qiflow_load5",
                                            "qiflow_load15"};
  static const char *const load_help[3] = {
      "Load average over 1 minute (collectd load/load shortterm).",
      "Load average over 5 minutes (collectd load/load midterm).",
      "Load average over 15 minutes (collectd load/load longterm)."};
  rpm_gauge(p, "qiflow_cpu_usage_ratio", NULL,
            "CPU busy, 0-1: 1 - cpu/percent-idle / 100.",
            r->usage.cpu_percent / 100.0);
  rpm_gauge(p, "qiflow_memory_usage_ratio", NULL,
            "Memory used, 0-1 (collectd memory/percent-used).",
            r->usage.memory_percent / 100.0);
  rpm_gauge(p, "qiflow_memory_used_bytes", "bytes",
            "Memory used (collectd memory/memory-used).",
            r->usage.memory_used_bytes);
  rpm_gauge(p, "qiflow_memory_total_bytes", "bytes",
            "Memory in total: the sum of collectd's memory/memory-<state>.",
            r->usage.memory_total_bytes);
  rpm_gauge(p, "qiflow_disk_usage_ratio", NULL,
            "Root file system used, 0-1 (collectd df-root/"
            "percent_bytes-used).",
            r->usage.disk_percent / 100.0);
  rpm_gauge(p, "qiflow_disk_used_bytes", "bytes",
            "Root file system used (collectd df-root/df_complex-used).",
            r->usage.disk_used_bytes);
  rpm_gauge(p, "qiflow_disk_total_bytes", "bytes",
            "Root file system size: used + free + reserved.",
            r->usage.disk_total_bytes);
  for (int i = 0; i < 3; i++)
    rpm_gauge(p, load_names[i], NULL, load_help[i], r->load[i]);
  rpm_gauge(p, "qiflow_host_uptime_seconds", "seconds",
            "Host uptime (collectd uptime/uptime).", r->uptime_seconds);
}

static void rpm_agents(const qfx_model_t *m, qfx_prom_t *p) {
  qfx_prom_family(p, "qiflow_agents", "gauge", NULL,
                  "Agents by derived status (qiflow_agents/count-<status>).");
  for (int i = 0; i < QFX_AG_STATUSES; i++) {
    const char *labels[] = {"status", qfx_agent_keys[i], NULL};
    qfx_prom_sample(p, labels, qfx_agent_count(m, i));
  }
  rpm_gauge(p, "qiflow_agents_registered", NULL,
            "Valid agent files in the registry (qiflow_agents/count-total).",
            qfx_agent_count(m, QFX_AG_TOTAL));
  rpm_gauge(p, "qiflow_agents_invalid_files", NULL,
            "Agent files skipped as invalid (qiflow_agents/count-invalid).",
            qfx_agent_count(m, QFX_AG_INVALID));
  yajl_val list = qf_json_get(m->agents, "agents");
  qfx_prom_family(p, "qiflow_agent_time_on_task_seconds", "gauge", "seconds",
                  "Seconds since the agent started its current task.");
  for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
    yajl_val a = list->u.array.values[i];
    const char *labels[] = {"agent", qf_json_get_str(a, "name"), NULL};
    if (labels[1] != NULL)
      qfx_prom_sample(p, labels,
                      rpm_json_num(a, "time_on_task_minutes") * 60.0);
  }
}

/* rpm_sync_state writes qiflow_github_sync_state{state} (1 for the
 * current one of never/ok/failing, 0 for the others); nothing when
 * project.json does not say (an older qiflow_github). */
static void rpm_sync_state(const qfx_model_t *m, qfx_prom_t *p) {
  static const char *const states[] = {"never", "ok", "failing"};
  const char *now = qfx_project_sync_state(m->project);
  if (now == NULL)
    return;
  qfx_prom_family(p, "qiflow_github_sync_state", "gauge", NULL,
                  "1 for qiflow_github's sync state: never (no full listing "
                  "yet, the figures are not the repository's), ok, failing.");
  for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
    const char *labels[] = {"state", states[i], NULL};
    qfx_prom_sample(p, labels, strcmp(now, states[i]) == 0 ? 1 : 0);
  }
}

/* rpm_part_listed tells whether project.json lists part as unavailable. */
static bool rpm_part_listed(yajl_val project, const char *part) {
  size_t n = qfx_project_unavailable_count(project);
  for (size_t i = 0; i < n; i++) {
    const char *listed =
        qf_json_get_str(qfx_project_unavailable(project, i), "part");
    if (listed != NULL && strcmp(listed, part) == 0)
      return true;
  }
  return false;
}

/* rpm_parts writes qiflow_github_part_available{part}: 0 for each optional
 * part GitHub refused with a permission 403 (github.unavailable), 1 for
 * the others; nothing when project.json has no such list (an older
 * qiflow_github). */
static void rpm_parts(const qfx_model_t *m, qfx_prom_t *p) {
  if (!YAJL_IS_ARRAY(
          qf_json_get(qf_json_get(m->project, "github"), "unavailable")))
    return;
  qfx_prom_family(p, "qiflow_github_part_available", "gauge", NULL,
                  "0 while GitHub refuses an optional part of the sync with a "
                  "permission 403 (its figures are missing), else 1.");
  for (size_t i = 0; i < QFX_GH_PARTS; i++) {
    const char *labels[] = {"part", qfx_gh_parts[i], NULL};
    qfx_prom_sample(p, labels,
                    rpm_part_listed(m->project, qfx_gh_parts[i]) ? 0 : 1);
  }
}

/* rpm_github writes the repository's figures; the issue counts only once
 * the first full listing finished (qfx_project_synced), as in the JSON. */
static void rpm_github(const qfx_model_t *m, qfx_prom_t *p) {
  yajl_val gh = qf_json_get(m->project, "github");
  yajl_val listing = qfx_project_synced(m->project) ? gh : NULL;
  if (m->project == NULL)
    return;
  rpm_gauge(p, "qiflow_github_open_issues", NULL,
            "Open issues of the repository (pull requests excluded).",
            rpm_json_num(listing, "open_issues"));
  rpm_gauge(p, "qiflow_github_open_pull_requests", NULL,
            "Open pull requests of the repository.",
            rpm_json_num(listing, "open_pull_requests"));
  rpm_gauge(p, "qiflow_github_recent_commits", NULL,
            "Commits on the default branch in the last RecentCommitsDays "
            "days.",
            rpm_json_num(gh, "recent_commits"));
  rpm_gauge(p, "qiflow_github_rate_limit_remaining", NULL,
            "GitHub API requests left in the current rate-limit window.",
            rpm_json_num(gh, "rate_limit_remaining"));
  rpm_gauge(p, "qiflow_github_rate_limit", NULL,
            "GitHub API requests allowed per rate-limit window.",
            rpm_json_num(gh, "rate_limit_limit"));
  double sync = rpm_json_time(m->project, "last_sync");
  rpm_gauge(p, "qiflow_github_last_sync_timestamp_seconds", "seconds",
            "When qiflow_github last synced successfully (Unix time).", sync);
  rpm_gauge(p, "qiflow_github_sync_age_seconds", "seconds",
            "Seconds since qiflow_github last synced successfully.",
            fmax(0.0, m->now - sync));
  rpm_gauge(p, "qiflow_github_sync_failing", NULL,
            "1 when qiflow_github's last sync attempt failed.",
            qf_json_get_str(m->project, "last_error") != NULL ? 1 : 0);
  rpm_sync_state(m, p);
  rpm_parts(m, p);
}

/* rpm_project writes the project's figures, none before the first full
 * listing (its zeros are not the repository's, see qfx_project_synced). */
static void rpm_project(const qfx_model_t *m, qfx_prom_t *p) {
  static const char *const statuses[][2] = {
      {"ready", "ready_issues"},
      {"in_progress", "in_progress_issues"},
      {"blocked", "blocked_issues"},
      {"done", "completed_issues"}};
  yajl_val comp = qf_json_get(m->project, "completion");
  if (!qfx_project_synced(m->project))
    return;
  rpm_gauge(p, "qiflow_project_completion_ratio", NULL,
            "Closed issues over all issues, 0-1.",
            rpm_json_num(comp, "completion_percentage") / 100.0);
  qfx_prom_family(p, "qiflow_project_issues", "gauge", NULL,
                  "Issues by workflow status (pull requests excluded).");
  for (size_t i = 0; i < 4; i++) {
    const char *labels[] = {"status", statuses[i][0], NULL};
    qfx_prom_sample(p, labels, rpm_json_num(comp, statuses[i][1]));
  }
  qfx_prom_family(p, "qiflow_project_flagged_issues", "gauge", NULL,
                  "Issues requiring human intervention, by trigger.");
  for (int t = 0; m->flagged_by_trigger != NULL && t < QFX_TRIGGERS; t++) {
    const char *labels[] = {"trigger", qfx_trigger_names[t], "priority",
                            qfx_trigger_priorities[t], NULL};
    qfx_prom_sample(p, labels, (double)m->flagged_by_trigger[t]);
  }
  rpm_gauge(p, "qiflow_project_velocity_issues_per_day", NULL,
            "Issues closed per day over the last 7 days.",
            rpm_json_num(qf_json_get(m->project, "velocity"), "per_day"));
  const char *date = qf_json_get_str(m->project, "estimated_completion_date");
  char stamp[32];
  time_t t;
  double eta = NAN;
  if (date != NULL && strlen(date) == 10) {
    snprintf(stamp, sizeof(stamp), "%sT00:00:00Z", date);
    if (qf_time_parse(stamp, &t) == 0)
      eta = (double)t;
  }
  rpm_gauge(p, "qiflow_project_estimated_completion_timestamp_seconds",
            "seconds", "Estimated completion date (Unix time, midnight UTC).",
            eta);
}

/* rpm_per_target writes a sample per heartbeat backend (or webhook) of its
 * key; scale converts the unit, time reads timestamps. */
static void rpm_per_target(qfx_prom_t *p, yajl_val list, const char *label,
                           const char *key, double scale, bool time) {
  for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
    yajl_val b = list->u.array.values[i];
    const char *labels[] = {label, qf_json_get_str(b, "name"), NULL};
    if (labels[1] != NULL)
      qfx_prom_sample(p, labels,
                      time ? rpm_json_time(b, key)
                           : rpm_json_num(b, key) * scale);
  }
}

static void rpm_heartbeat(const qfx_model_t *m, qfx_prom_t *p) {
  static const struct {
    const char *name, *type, *unit, *key, *help;
    double scale;
    bool time;
  } per[] = {
      {"qiflow_heartbeat_last_success_timestamp_seconds", "gauge", "seconds",
       "last_success", "Last heartbeat the backend accepted (Unix time).", 1,
       true},
      {"qiflow_heartbeat_last_attempt_timestamp_seconds", "gauge", "seconds",
       "last_attempt", "Last delivery attempt (Unix time).", 1, true},
      {"qiflow_heartbeat_last_http_status", "gauge", NULL, "last_status",
       "HTTP status of the last delivery attempt.", 1, false},
      {"qiflow_heartbeat_spool_depth", "gauge", NULL, "spool_depth",
       "Heartbeats waiting in the spool for delivery.", 1, false},
      {"qiflow_heartbeat_last_latency_seconds", "gauge", "seconds",
       "last_latency_ms", "Duration of the last delivery request.", 1e-3,
       false},
      {"qiflow_heartbeat_sent", "counter", NULL, "sent",
       "Heartbeats delivered since collectd started.", 1, false},
      {"qiflow_heartbeat_failed", "counter", NULL, "failed",
       "Delivery attempts that failed since collectd started.", 1, false},
      {"qiflow_heartbeat_retried", "counter", NULL, "retried",
       "Delivery attempts that were retries.", 1, false},
      {"qiflow_heartbeat_dropped", "counter", NULL, "dropped",
       "Heartbeats dropped without delivery.", 1, false},
  };
  if (m->heartbeat == NULL)
    return;
  /* The same reading as /agent/status data.running: heartbeat.json says
   * running and is fresh. */
  rpm_gauge(p, "qiflow_heartbeat_running", NULL,
            "1 while qiflow_heartbeat's loop runs (heartbeat.json says so and "
            "is fresh).",
            qfx_heartbeat_running(m->heartbeat, m->now) ? 1.0 : 0.0);
  rpm_gauge(p, "qiflow_heartbeat_interval_seconds", "seconds",
            "Seconds between heartbeats.",
            rpm_json_num(m->heartbeat, "interval"));
  yajl_val backends = qf_json_get(m->heartbeat, "backends");
  for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
    qfx_prom_family(p, per[i].name, per[i].type, per[i].unit, per[i].help);
    rpm_per_target(p, backends, "backend", per[i].key, per[i].scale,
                   per[i].time);
  }
  yajl_val hooks = qf_json_get(m->heartbeat, "webhooks");
  qfx_prom_family(p, "qiflow_webhook_sent", "counter", NULL,
                  "Notifications delivered to the webhook.");
  rpm_per_target(p, hooks, "webhook", "sent", 1, false);
  qfx_prom_family(p, "qiflow_webhook_failed", "counter", NULL,
                  "Notification deliveries to the webhook that failed.");
  rpm_per_target(p, hooks, "webhook", "failed", 1, false);
}

/* rpm_anomalies writes the active anomalies per kind (every kind of
 * anomalies.json's detectors, zeros too) and each one's start; nothing
 * without anomalies.json. */
static void rpm_anomalies(const qfx_model_t *m, qfx_prom_t *p) {
  yajl_val det = qf_json_get(m->anomalies, "detectors");
  qfx_prom_family(p, "qiflow_anomalies_active", "gauge", NULL,
                  "Anomalies qiflow_anomaly holds active, by kind "
                  "(docs/anomaly.md).");
  for (size_t i = 0; YAJL_IS_OBJECT(det) && i < det->u.object.len; i++) {
    const char *labels[] = {"kind", det->u.object.keys[i], NULL};
    qfx_prom_sample(p, labels, rpm_json_num(det->u.object.values[i], "active"));
  }
  yajl_val list = qf_json_get(m->anomalies, "anomalies");
  qfx_prom_family(p, "qiflow_anomaly_since_timestamp_seconds", "gauge",
                  "seconds", "When each active anomaly started (Unix time).");
  for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
    yajl_val a = list->u.array.values[i];
    const char *since = qf_json_get_str(a, "since");
    char issue[24] = "";
    long long n;
    time_t t;
    if (qf_json_get_int(a, "issue", &n) == 0)
      snprintf(issue, sizeof(issue), "%lld", n);
    const char *labels[] = {"kind",    qf_json_get_str(a, "kind"),
                            "subject", qf_json_get_str(a, "subject"),
                            "issue",   issue,
                            NULL};
    if (labels[1] != NULL && labels[3] != NULL && since != NULL &&
        qf_time_parse(since, &t) == 0)
      qfx_prom_sample(p, labels, (double)t);
  }
}

int qfx_render_prom(const qfx_model_t *m, bool om, char **out, size_t *len) {
  qfx_prom_t p;
  qfx_prom_init(&p, om);
  rpm_info(m, &p);
  rpm_collectd(m, &p);
  rpm_resources(m, &p);
  rpm_agents(m, &p);
  rpm_github(m, &p);
  rpm_project(m, &p);
  rpm_heartbeat(m, &p);
  rpm_anomalies(m, &p);
  return qfx_prom_finish(&p, out, len);
}
