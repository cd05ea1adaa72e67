/* heartbeat_body.c: the heartbeat document. One JSON object both known
 * consumers accept: the central backend's fields (swarm_id, status,
 * health_status, active_agents, project_completion) and the earlier agent's
 * document (timestamp, system, resources, agents, github, project). */
#include "heartbeat_body.h"

#include "heartbeat_attention.h"

#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define HBB_GIB (1024.0 * 1024.0 * 1024.0)

void hb_text_cut(const char *s, size_t max, char *out, size_t outlen) {
  size_t n = strlen(s);
  if (n <= max && n < outlen) {
    memcpy(out, s, n + 1);
    return;
  }
  size_t keep = max > 3 ? max - 3 : 0;
  if (keep + 4 > outlen)
    keep = outlen > 4 ? outlen - 4 : 0;
  /* Back up over continuation bytes so no sequence is split. */
  while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
    keep--;
  memcpy(out, s, keep);
  memcpy(out + keep, "...", 4);
}

/* hbb_round keeps two decimals so the body stays small; NAN stays NAN. */
static double hbb_round(double v) { return round(v * 100.0) / 100.0; }

double hb_body_agent_count(const hb_body_in_t *in, int i) {
  if (!isnan(in->fig->agents[i]))
    return in->fig->agents[i];
  long long v;
  yajl_val counts = qf_json_get(in->agents, "counts");
  if (qf_json_get_int(counts, hb_agent_status_names[i], &v) == 0 && v >= 0)
    return (double)v;
  return NAN;
}

qf_status_t hb_body_status(const hb_body_in_t *in) {
  const qf_res_t *u = &in->fig->usage;
  bool current = !in->offline && hb_figures_complete(in->fig);
  return qf_status_decide(current, u->cpu_percent, u->memory_percent);
}

/* hbb_knum writes key: v (two decimals) unless v is unknown. */
static void hbb_knum(qf_jw_t *w, const char *key, double v) {
  if (!isnan(v))
    qf_jw_kdouble(w, key, hbb_round(v));
}

/* hbb_kcount writes key: v as an integer unless v is unknown. */
static void hbb_kcount(qf_jw_t *w, const char *key, double v) {
  if (!isnan(v))
    qf_jw_kint(w, key, llround(v));
}

/* hbb_kflat writes key: v (two decimals), 0 when v is unknown: a flat
 * figure for the central backend, which stores numbers only. */
static void hbb_kflat(qf_jw_t *w, const char *key, double v) {
  qf_jw_kdouble(w, key, isnan(v) ? 0.0 : hbb_round(v));
}

/* hbb_kstr_max writes key: s (cut to max <= HB_BODY_MAX_TEXT bytes) when s
 * is a string. */
static void hbb_kstr_max(qf_jw_t *w, const char *key, const char *s,
                         size_t max) {
  if (s == NULL)
    return;
  char cut[HB_BODY_MAX_TEXT + 4];
  hb_text_cut(s, max, cut, sizeof(cut));
  qf_jw_kstr(w, key, cut);
}

/* hbb_kstr writes key: s (cut to HB_BODY_MAX_TEXT) when s is a string. */
static void hbb_kstr(qf_jw_t *w, const char *key, const char *s) {
  hbb_kstr_max(w, key, s, HB_BODY_MAX_TEXT);
}

/* hbb_kcopy copies obj[key] when it is a number or a string. */
static void hbb_kcopy(qf_jw_t *w, yajl_val obj, const char *key) {
  yajl_val v = qf_json_get(obj, key);
  if (YAJL_IS_NUMBER(v))
    qf_jw_kdouble(w, key, hbb_round(YAJL_GET_DOUBLE(v)));
  else if (YAJL_IS_STRING(v))
    hbb_kstr(w, key, v->u.string);
}

/* hbb_project_doc is project.json without its issues, or NULL before it
 * exists. */
static yajl_val hbb_project_doc(const hb_body_in_t *in) {
  return in->project != NULL ? in->project->doc : NULL;
}

/* hbb_synced tells whether project.json holds a finished issue listing:
 * before it, its issue figures are zeros that are not the repository's. */
static bool hbb_synced(yajl_val project) {
  return qf_json_get_str(project, "last_sync") != NULL;
}

/* hbb_backend_fields writes what the central backend stores. */
static void hbb_backend_fields(qf_jw_t *w, const hb_body_in_t *in) {
  const hb_figures_t *f = in->fig;
  qf_jw_kint(w, "heartbeat_id", in->heartbeat_id);
  qf_jw_kstr(w, "swarm_id", in->swarm_id);
  qf_jw_kstr(w, "status", qf_status_name(hb_body_status(in)));
  /* The same numbers the exporter's flat /status gives the backend's
   * poller (backend_status.c): a figure not read is 0 (the backend answers
   * 400 to a null and keeps old values without health_status), the status
   * is then offline and attention says why; resources tells the truth. */
  qf_jw_key(w, "health_status"); /* BEGIN health_status */
  qf_jw_obj_open(w);
  hbb_kflat(w, "cpu_percent", f->usage.cpu_percent);
  hbb_kflat(w, "memory_percent", f->usage.memory_percent);
  hbb_kflat(w, "disk_percent", f->usage.disk_percent);
  qf_jw_obj_close(w); /* END health_status */
  /* As /status's agents.active: 0 when no agent count is known. */
  double active = hb_body_agent_count(in, HB_AG_ACTIVE);
  qf_jw_kint(w, "active_agents", isnan(active) ? 0 : llround(active));
  yajl_val doc = hbb_project_doc(in);
  yajl_val completion = hbb_synced(doc) ? qf_json_get(doc, "completion") : NULL;
  yajl_val pct = qf_json_get(completion, "completion_percentage");
  if (YAJL_IS_NUMBER(pct))
    qf_jw_kdouble(w, "project_completion", hbb_round(YAJL_GET_DOUBLE(pct)));
}

static void hbb_system(qf_jw_t *w, const hb_body_in_t *in) {
  qf_jw_key(w, "system"); /* BEGIN system */
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "hostname", in->hostname);
  qf_jw_kstr(w, "platform", in->platform);
  hbb_kcount(w, "uptime_seconds", in->fig->uptime_seconds);
  if (in->collectd_version != NULL)
    qf_jw_kstr(w, "collectd_version", in->collectd_version);
  qf_jw_kstr(w, "agent_version", in->agent_version);
  /* The earlier Python agent's field, kept for its readers: no Python runs
   * here, so it is null (the one null of the body) rather than invented. */
  qf_jw_knull(w, "python_version");
  qf_jw_obj_close(w); /* END system */
}

static void hbb_resources(qf_jw_t *w, const hb_figures_t *f) {
  qf_jw_key(w, "resources"); /* BEGIN resources */
  qf_jw_obj_open(w);
  hbb_knum(w, "cpu_percent", f->usage.cpu_percent);
  hbb_knum(w, "memory_percent", f->usage.memory_percent);
  hbb_knum(w, "memory_used_gb", f->usage.memory_used_bytes / HBB_GIB);
  hbb_knum(w, "memory_total_gb", f->usage.memory_total_bytes / HBB_GIB);
  hbb_knum(w, "disk_percent", f->usage.disk_percent);
  hbb_knum(w, "disk_used_gb", f->usage.disk_used_bytes / HBB_GIB);
  hbb_knum(w, "disk_total_gb", f->usage.disk_total_bytes / HBB_GIB);
  hbb_knum(w, "load_1", f->load[0]);
  hbb_knum(w, "load_5", f->load[1]);
  hbb_knum(w, "load_15", f->load[2]);
  qf_jw_obj_close(w); /* END resources */
}

/* hbb_agent_entries writes key: up to HB_BODY_MAX_AGENTS agents of list,
 * name and status, and with full their task and issue too: agent_list is
 * trimmed to what an operator scans, agents_status is the earlier agent's
 * per-agent list of the same agents. */
static void hbb_agent_entries(qf_jw_t *w, const char *key, yajl_val list,
                              bool full) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; i < list->u.array.len && i < HB_BODY_MAX_AGENTS; i++) {
    yajl_val a = list->u.array.values[i];
    if (!YAJL_IS_OBJECT(a))
      continue;
    qf_jw_obj_open(w);
    hbb_kstr(w, "name", qf_json_get_str(a, "name"));
    hbb_kstr(w, "status", qf_json_get_str(a, "status"));
    long long issue;
    if (full) {
      hbb_kstr(w, "current_task", qf_json_get_str(a, "current_task"));
      if (qf_json_get_int(a, "issue_number", &issue) == 0)
        qf_jw_kint(w, "issue_number", issue);
    }
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
}

static void hbb_agents(qf_jw_t *w, const hb_body_in_t *in) {
  qf_jw_key(w, "agents"); /* BEGIN agents */
  qf_jw_obj_open(w);
  hbb_kcount(w, "active_agents", hb_body_agent_count(in, HB_AG_ACTIVE));
  hbb_kcount(w, "total_agents", hb_body_agent_count(in, HB_AG_TOTAL));
  bool any = false;
  for (int i = 0; i < HB_AG_TOTAL && !any; i++)
    any = !isnan(hb_body_agent_count(in, i));
  if (any) {
    qf_jw_key(w, "by_status"); /* BEGIN by_status */
    qf_jw_obj_open(w);
    for (int i = 0; i < HB_AG_TOTAL; i++)
      hbb_kcount(w, hb_agent_status_names[i], hb_body_agent_count(in, i));
    qf_jw_obj_close(w); /* END by_status */
  }
  yajl_val list = qf_json_get(in->agents, "agents");
  if (YAJL_IS_ARRAY(list)) {
    hbb_agent_entries(w, "agent_list", list, true);
    hbb_agent_entries(w, "agents_status", list, false);
    if (list->u.array.len > HB_BODY_MAX_AGENTS)
      qf_jw_kint(w, "agents_not_listed",
                 (long long)(list->u.array.len - HB_BODY_MAX_AGENTS));
  }
  qf_jw_obj_close(w); /* END agents */
}

/* hbb_github writes the repository's figures; project is project.json
 * without its issues, or NULL: then {"enabled": false}, no repository is
 * tracked. open_prs repeats open_pull_requests under the earlier agent's
 * name; issue counts only once a listing finished. */
static void hbb_github(qf_jw_t *w, yajl_val project) {
  static const char *const keys[] = {"recent_commits", "recent_commits_days"};
  qf_jw_key(w, "github"); /* BEGIN github */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "enabled", project != NULL);
  if (project != NULL) {
    hbb_kstr(w, "repository", qf_json_get_str(project, "repository"));
    yajl_val gh = qf_json_get(project, "github");
    if (hbb_synced(project)) {
      hbb_kcopy(w, gh, "open_issues");
      hbb_kcopy(w, gh, "open_pull_requests");
      yajl_val prs = qf_json_get(gh, "open_pull_requests");
      if (YAJL_IS_NUMBER(prs))
        qf_jw_kdouble(w, "open_prs", hbb_round(YAJL_GET_DOUBLE(prs)));
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
      hbb_kcopy(w, gh, keys[i]);
    hbb_kcopy(w, project, "last_sync");
  }
  qf_jw_obj_close(w); /* END github */
}

/* hbb_flagged writes the issues needing a human that p kept (the first
 * HB_BODY_MAX_FLAGGED, in project.json order) and how many there are in
 * all. */
static void hbb_flagged(qf_jw_t *w, const hb_project_t *p) {
  qf_jw_key(w, "issues_requiring_human_intervention"); /* BEGIN flagged */
  qf_jw_arr_open(w);
  for (size_t i = 0; i < p->n_kept && i < HB_BODY_MAX_FLAGGED; i++) {
    yajl_val is = p->flagged[i];
    qf_jw_obj_open(w);
    long long id;
    if (qf_json_get_int(is, "id", &id) == 0)
      qf_jw_kint(w, "id", id);
    hbb_kstr_max(w, "title", qf_json_get_str(is, "title"),
                 HB_BODY_MAX_FLAGGED_TITLE);
    hbb_kstr(w, "priority", qf_json_get_str(is, "priority"));
    hbb_kstr(w, "reason", qf_json_get_str(is, "reason"));
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w); /* END flagged */
  qf_jw_kint(w, "flagged_issues", p->n_flagged);
}

/* hbb_project writes the project's progress and flagged issues, or an
 * empty object before project.json exists or has a finished listing (its
 * zeros are not the repository's figures yet). velocity_trend is issues
 * closed per day, the earlier agent's number; velocity_direction the
 * trend's word. */
static void hbb_project(qf_jw_t *w, const hb_project_t *p) {
  static const char *const keys[] = {
      "completion_percentage", "total_issues", "completed_issues",
      "in_progress_issues",    "ready_issues", "blocked_issues"};
  qf_jw_key(w, "project"); /* BEGIN project */
  qf_jw_obj_open(w);
  yajl_val project = p != NULL ? p->doc : NULL;
  if (project != NULL && hbb_synced(project)) {
    yajl_val c = qf_json_get(project, "completion");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
      hbb_kcopy(w, c, keys[i]);
    hbb_kcopy(w, project, "estimated_completion_date");
    yajl_val v = qf_json_get(project, "velocity");
    yajl_val per_day = qf_json_get(v, "per_day");
    if (YAJL_IS_NUMBER(per_day)) {
      double rounded = hbb_round(YAJL_GET_DOUBLE(per_day));
      qf_jw_kdouble(w, "velocity_per_day", rounded);
      qf_jw_kdouble(w, "velocity_trend", rounded);
    }
    hbb_kstr(w, "velocity_direction", qf_json_get_str(v, "trend"));
    hbb_flagged(w, p);
  }
  qf_jw_obj_close(w); /* END project */
}

/* hbb_anomalies writes how many anomalies qiflow_anomaly holds active and
 * the first HB_BODY_MAX_ANOMALIES of them (reason cut to HB_BODY_MAX_TEXT);
 * nothing without anomalies.json. */
static void hbb_anomalies(qf_jw_t *w, yajl_val doc) {
  yajl_val list = qf_json_get(doc, "anomalies");
  if (!YAJL_IS_ARRAY(list))
    return;
  qf_jw_key(w, "anomalies"); /* BEGIN anomalies */
  qf_jw_obj_open(w);
  qf_jw_kint(w, "count", (long long)list->u.array.len);
  qf_jw_key(w, "active");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < list->u.array.len && i < HB_BODY_MAX_ANOMALIES; i++) {
    yajl_val a = list->u.array.values[i];
    long long issue;
    qf_jw_obj_open(w);
    hbb_kstr(w, "kind", qf_json_get_str(a, "kind"));
    hbb_kstr(w, "subject", qf_json_get_str(a, "subject"));
    if (qf_json_get_int(a, "issue", &issue) == 0)
      qf_jw_kint(w, "issue", issue);
    hbb_kstr(w, "since", qf_json_get_str(a, "since"));
    hbb_kstr(w, "reason", qf_json_get_str(a, "reason"));
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END anomalies */
}

int hb_body_build(const hb_body_in_t *in, char **out, size_t *len) {
  qf_jw_t w;
  int status = qf_jw_init(&w);
  if (status != 0)
    return status;
  char ts[QF_TIME_ISO_LEN];
  if (qf_time_format(in->now, ts, sizeof(ts)) != 0) {
    qf_jw_free(&w);
    return -EINVAL;
  }
  qf_jw_obj_open(&w); /* BEGIN heartbeat */
  hbb_backend_fields(&w, in);
  hb_attention_write(&w, in);
  qf_jw_kstr(&w, "timestamp", ts);
  hbb_system(&w, in);
  hbb_resources(&w, in->fig);
  hbb_agents(&w, in);
  hbb_github(&w, hbb_project_doc(in));
  hbb_project(&w, in->project);
  hbb_anomalies(&w, in->anomalies);
  qf_jw_obj_close(&w); /* END heartbeat */
  status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}
