/* anomaly_history.c: the detectors' history as JSON (for StateDir, so
 * what was learned survives a restart), written and read back. Schema:
 * schema/anomaly-history.schema.json. */
#include "anomaly.h"
#include "anomaly_snapshot.h"

#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ah_ring writes a ring's values oldest first. */
static void ah_ring(qf_jw_t *w, const char *key, const double *ring, int cap,
                    int n, int next) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (int i = 0; i < n; i++)
    qf_jw_double(w, ring[(next - n + i + cap) % cap]);
  qf_jw_arr_close(w);
}

/* ah_doubles writes key and the n numbers of v as an array. */
static void ah_doubles(qf_jw_t *w, const char *key, const double *v, int n) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (int i = 0; i < n; i++)
    qf_jw_double(w, v[i]);
  qf_jw_arr_close(w);
}

/* ah_uints writes key and the n counts of v as an array. */
static void ah_uints(qf_jw_t *w, const char *key, const unsigned *v, int n) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (int i = 0; i < n; i++)
    qf_jw_int(w, v[i]);
  qf_jw_arr_close(w);
}

/* ah_agents writes the per-agent task state. */
static void ah_agents(qf_jw_t *w, const anom_state_t *s) {
  qf_jw_key(w, "agents");
  qf_jw_arr_open(w);
  for (int i = 0; i < s->agent_n; i++) {
    const anom_agent_t *a = &s->agents[i];
    qf_jw_obj_open(w);
    qf_jw_kstr(w, "name", a->name);
    qf_jw_kint(w, "issue", a->issue);
    qf_jw_ktime(w, "task_started_at", a->task_start);
    qf_jw_kint(w, "same_issue_starts", a->same_issue_starts);
    qf_jw_ktime(w, "last_seen", a->last_seen);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
}

/* ah_counts writes the day and hour count windows. */
static void ah_counts(qf_jw_t *w, const anom_state_t *s) {
  qf_jw_key(w, "closed_per_day");
  qf_jw_obj_open(w);
  qf_jw_kint(w, "first_day", s->day_n ? s->day_first : 0);
  ah_doubles(w, "counts", s->closed, s->day_n);
  qf_jw_kint(w, "tested_day", s->vel_tested_day);
  qf_jw_kbool(w, "alarm", s->vel_alarm);
  qf_jw_kdouble(w, "observed", s->vel_obs);
  qf_jw_kdouble(w, "expected", s->vel_exp);
  qf_jw_kdouble(w, "p", s->vel_p);
  qf_jw_kint(w, "window_days", s->vel_window);
  qf_jw_obj_close(w);
  qf_jw_key(w, "ci_per_hour");
  qf_jw_obj_open(w);
  qf_jw_kint(w, "first_hour", s->ci_n ? s->ci_first_hour : 0);
  ah_uints(w, "runs", s->ci_runs, s->ci_n);
  ah_uints(w, "failures", s->ci_fails, s->ci_n);
  qf_jw_kbool(w, "alarm", s->ci_alarm);
  qf_jw_obj_close(w);
}

/* ah_sample writes one [time, used] sample. */
static void ah_sample(qf_jw_t *w, double t, double u) {
  qf_jw_arr_open(w);
  qf_jw_double(w, t);
  qf_jw_double(w, u);
  qf_jw_arr_close(w);
}

/* ah_resources writes each resource's fit samples. */
static void ah_resources(qf_jw_t *w, const anom_state_t *s) {
  qf_jw_key(w, "resources");
  qf_jw_arr_open(w);
  for (int i = 0; i < s->res_n; i++) {
    const anom_res_t *r = &s->res[i];
    qf_jw_obj_open(w);
    qf_jw_kstr(w, "name", r->name);
    qf_jw_key(w, "samples");
    qf_jw_arr_open(w);
    /* the bucket being filled is written as one more sample, in place of
     * the oldest when the samples are full */
    int j0 = r->n == ANOM_RES_SAMPLES && r->acc_n > 0 ? 1 : 0;
    for (int j = j0; j < r->n; j++)
      ah_sample(w, r->t[j], r->u[j]);
    if (r->acc_n > 0)
      ah_sample(w, r->acc_t / r->acc_n, r->acc_u / r->acc_n);
    qf_jw_arr_close(w);
    qf_jw_kint(w, "first_hour", r->hour_n ? r->hour_first : 0);
    ah_doubles(w, "hourly_sums", r->hour_sum, r->hour_n);
    ah_uints(w, "hourly_counts", r->hour_cnt, r->hour_n);
    qf_jw_kbool(w, "alarm", r->alarm);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
}

int anom_history_render(const anom_state_t *s, time_t now, char **out,
                        size_t *len) {
  qf_jw_t w;
  int rc = qf_jw_init(&w);
  if (rc != 0)
    return rc;
  qf_jw_obj_open(&w);
  qf_jw_kint(&w, "schema_version", ANOM_HISTORY_VERSION);
  qf_jw_ktime(&w, "updated_at", now);
  qf_jw_key(&w, "tasks");
  qf_jw_obj_open(&w);
  ah_ring(&w, "durations_seconds", s->durations, ANOM_DURATIONS_MAX, s->dur_n,
          s->dur_next);
  qf_jw_kint(&w, "starts", s->starts);
  qf_jw_kint(&w, "restarts", s->restarts);
  qf_jw_obj_close(&w);
  ah_agents(&w, s);
  qf_jw_ktime(&w, "agents_at", s->agents_at);
  qf_jw_key(&w, "quiet");
  qf_jw_obj_open(&w);
  ah_ring(&w, "gaps_agent_seconds", s->gaps, ANOM_GAPS_MAX, s->gap_n,
          s->gap_next);
  qf_jw_ktime(&w, "last_progress", s->last_progress);
  qf_jw_kbool(&w, "progress_seen", s->progress_seen);
  qf_jw_ktime(&w, "clock", s->quiet_clock);
  qf_jw_kdouble(&w, "agent_seconds", s->quiet_agent_s);
  qf_jw_kint(&w, "active_agents", s->active_agents);
  qf_jw_obj_close(&w);
  ah_counts(&w, s);
  ah_resources(&w, s);
  qf_jw_key(&w, "feed");
  qf_jw_obj_open(&w);
  qf_jw_ktime(&w, "closed_until", s->feed_closed_until);
  qf_jw_kint(&w, "recent_commits", s->feed_commits);
  qf_jw_kint(&w, "open_pull_requests", s->feed_prs);
  qf_jw_ktime(&w, "ci_until", s->feed_ci_until);
  qf_jw_ktime(&w, "pull_request_update", s->feed_pr_update);
  qf_jw_obj_close(&w);
  return anom_jw_finish_active(&w, "active", s, out, len);
}

/* --- reading --- */

/* A reader with the first error's path. */
typedef struct ah_rd_s {
  char *err;
  size_t errlen;
  int rc;
} ah_rd_t;

/* ah_bad records the first error ("where: what"). */
static void ah_bad(ah_rd_t *r, const char *where, const char *what) {
  if (r->rc == 0 && r->err != NULL && r->errlen > 0)
    snprintf(r->err, r->errlen, "%s: %s", where, what);
  r->rc = -EINVAL;
}

/* ah_obj returns obj[key] when it is an object, else records an error. */
static yajl_val ah_obj(ah_rd_t *r, yajl_val obj, const char *key) {
  yajl_val v = qf_json_get(obj, key);
  if (!YAJL_IS_OBJECT(v)) {
    ah_bad(r, key, "missing or not an object");
    return NULL;
  }
  return v;
}

/* ah_arr returns obj[key] when it is an array of at most max elements. */
static yajl_val ah_arr(ah_rd_t *r, yajl_val obj, const char *key, size_t max) {
  yajl_val v = qf_json_get(obj, key);
  if (!YAJL_IS_ARRAY(v)) {
    ah_bad(r, key, "missing or not an array");
    return NULL;
  }
  if (v->u.array.len > max) {
    ah_bad(r, key, "more elements than the history keeps");
    return NULL;
  }
  return v;
}

/* ah_num reads a number >= min (NaN allowed when nullable). */
static double ah_num(ah_rd_t *r, yajl_val obj, const char *key, double min,
                     bool nullable) {
  double d;
  int rc = qf_json_get_double(obj, key, &d);
  if (rc == -ENOENT && nullable && qf_json_get(obj, key) != NULL)
    return NAN;
  if (rc != 0 || !(d >= min)) {
    ah_bad(r, key, "missing, not a number or out of range");
    return 0;
  }
  return d;
}

/* ah_int reads an integer >= min. */
static long long ah_int(ah_rd_t *r, yajl_val obj, const char *key,
                        long long min) {
  long long v;
  if (qf_json_get_int(obj, key, &v) != 0 || v < min) {
    ah_bad(r, key, "missing, not an integer or out of range");
    return 0;
  }
  return v;
}

/* ah_time reads a timestamp or null (0). */
static time_t ah_time(ah_rd_t *r, yajl_val obj, const char *key) {
  yajl_val v = qf_json_get(obj, key);
  time_t t = 0;
  if (YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_STRING(v) || qf_time_parse(YAJL_GET_STRING(v), &t) != 0)
    ah_bad(r, key, "missing or not an ISO 8601 UTC time");
  return t;
}

/* ah_bool reads a boolean. */
static bool ah_bool(ah_rd_t *r, yajl_val obj, const char *key) {
  bool b = false;
  if (qf_json_get_bool(obj, key, &b) != 0)
    ah_bad(r, key, "missing or not a boolean");
  return b;
}

/* ah_elem_num reads array element i as a number >= 0. */
static double ah_elem_num(ah_rd_t *r, yajl_val arr, size_t i,
                          const char *where) {
  yajl_val v = arr->u.array.values[i];
  if (!YAJL_IS_NUMBER(v) || !(YAJL_GET_DOUBLE(v) >= 0)) {
    ah_bad(r, where, "holds an element that is no number >= 0");
    return 0;
  }
  return YAJL_GET_DOUBLE(v);
}

/* ah_read_nums copies array a's numbers (each >= 0) into dst and returns
 * how many (0 when a is NULL); the caller bounded a's length. */
static int ah_read_nums(ah_rd_t *r, yajl_val a, const char *where,
                        double *dst) {
  size_t i = 0;
  for (; a != NULL && i < a->u.array.len; i++)
    dst[i] = ah_elem_num(r, a, i, where);
  return (int)i;
}

/* ah_read_ring fills a ring (oldest first) from an array. */
static void ah_read_ring(ah_rd_t *r, yajl_val obj, const char *key,
                         double *ring, int cap, int *n, int *next) {
  *n = ah_read_nums(r, ah_arr(r, obj, key, (size_t)cap), key, ring);
  *next = *n % cap;
}

/* ah_read_string copies obj[key] (a non-empty string that fits). */
static void ah_read_string(ah_rd_t *r, yajl_val obj, const char *key, char *dst,
                           size_t len) {
  const char *v = qf_json_get_str(obj, key);
  if (v == NULL || v[0] == '\0' || strlen(v) >= len)
    ah_bad(r, key, "missing, empty or too long");
  else
    snprintf(dst, len, "%s", v);
}

/* ah_read_agents restores the per-agent task state. */
static void ah_read_agents(ah_rd_t *r, anom_state_t *s, yajl_val doc) {
  yajl_val a = ah_arr(r, doc, "agents", ANOM_MAX_AGENTS);
  for (size_t i = 0; a != NULL && i < a->u.array.len && r->rc == 0; i++) {
    yajl_val o = a->u.array.values[i];
    anom_agent_t *g = &s->agents[s->agent_n++];
    ah_read_string(r, o, "name", g->name, sizeof(g->name));
    g->issue = (long)ah_int(r, o, "issue", 0);
    g->task_start = ah_time(r, o, "task_started_at");
    g->same_issue_starts = (int)ah_int(r, o, "same_issue_starts", 0);
    g->last_seen = ah_time(r, o, "last_seen");
  }
}

/* ah_read_counts restores the day and hour windows. */
static void ah_read_counts(ah_rd_t *r, anom_state_t *s, yajl_val doc) {
  yajl_val d = ah_obj(r, doc, "closed_per_day");
  yajl_val c = ah_obj(r, doc, "ci_per_hour");
  if (d == NULL || c == NULL)
    return;
  yajl_val counts = ah_arr(r, d, "counts", ANOM_DAYS_MAX);
  s->day_first = (long)ah_int(r, d, "first_day", 0);
  s->day_n = ah_read_nums(r, counts, "counts", s->closed);
  s->vel_tested_day = (long)ah_int(r, d, "tested_day", -1);
  s->vel_alarm = ah_bool(r, d, "alarm");
  s->vel_obs = ah_num(r, d, "observed", 0, false);
  s->vel_exp = ah_num(r, d, "expected", 0, false);
  s->vel_p = ah_num(r, d, "p", 0, false);
  s->vel_window = (int)ah_int(r, d, "window_days", 0);
  yajl_val runs = ah_arr(r, c, "runs", ANOM_CI_HOURS_MAX);
  yajl_val fails = ah_arr(r, c, "failures", ANOM_CI_HOURS_MAX);
  s->ci_first_hour = (long)ah_int(r, c, "first_hour", 0);
  if (runs == NULL || fails == NULL)
    return;
  if (runs->u.array.len != fails->u.array.len) {
    ah_bad(r, "ci_per_hour", "runs and failures differ in length");
    return;
  }
  for (size_t i = 0; i < runs->u.array.len; i++) {
    s->ci_runs[i] = (unsigned)ah_elem_num(r, runs, i, "runs");
    s->ci_fails[i] = (unsigned)ah_elem_num(r, fails, i, "failures");
    if (s->ci_fails[i] > s->ci_runs[i])
      ah_bad(r, "ci_per_hour", "more failures than runs in an hour");
  }
  s->ci_n = (int)runs->u.array.len;
  s->ci_alarm = ah_bool(r, c, "alarm");
}

/* ah_read_resources restores each resource's samples. */
static void ah_read_resources(ah_rd_t *r, anom_state_t *s, yajl_val doc) {
  yajl_val a = ah_arr(r, doc, "resources", ANOM_MAX_RESOURCES);
  for (size_t i = 0; a != NULL && i < a->u.array.len && r->rc == 0; i++) {
    yajl_val o = a->u.array.values[i];
    anom_res_t *x = &s->res[s->res_n++];
    ah_read_string(r, o, "name", x->name, sizeof(x->name));
    x->acc_bucket = -1;
    x->alarm = ah_bool(r, o, "alarm");
    yajl_val sm = ah_arr(r, o, "samples", ANOM_RES_SAMPLES);
    for (size_t j = 0; sm != NULL && j < sm->u.array.len; j++) {
      yajl_val p = sm->u.array.values[j];
      if (!YAJL_IS_ARRAY(p) || p->u.array.len != 2) {
        ah_bad(r, "samples", "holds an element that is no [time, used]");
        return;
      }
      x->t[x->n] = ah_elem_num(r, p, 0, "samples");
      x->u[x->n++] = ah_elem_num(r, p, 1, "samples");
    }
    yajl_val hs = ah_arr(r, o, "hourly_sums", ANOM_RES_HOURS);
    yajl_val hc = ah_arr(r, o, "hourly_counts", ANOM_RES_HOURS);
    x->hour_first = (long)ah_int(r, o, "first_hour", 0);
    if (hs == NULL || hc == NULL || hs->u.array.len != hc->u.array.len) {
      ah_bad(r, "hourly_sums", "missing, or not as long as hourly_counts");
      return;
    }
    for (size_t j = 0; j < hs->u.array.len; j++) {
      x->hour_sum[j] = ah_elem_num(r, hs, j, "hourly_sums");
      x->hour_cnt[j] = (unsigned)ah_elem_num(r, hc, j, "hourly_counts");
    }
    x->hour_n = (int)hs->u.array.len;
  }
}

/* ah_read_feed restores the feed's cursors; a history written before they
 * existed has none (then everything project.json holds is new). */
static void ah_read_feed(ah_rd_t *r, anom_state_t *s, yajl_val doc) {
  yajl_val f = qf_json_get(doc, "feed");
  if (f == NULL)
    return;
  if (!YAJL_IS_OBJECT(f)) {
    ah_bad(r, "feed", "not an object");
    return;
  }
  s->feed_closed_until = ah_time(r, f, "closed_until");
  s->feed_commits = ah_int(r, f, "recent_commits", -1);
  s->feed_prs = ah_int(r, f, "open_pull_requests", -1);
  /* absent from histories written before project.json listed CI runs */
  if (qf_json_get(f, "ci_until") != NULL)
    s->feed_ci_until = ah_time(r, f, "ci_until");
  if (qf_json_get(f, "pull_request_update") != NULL)
    s->feed_pr_update = ah_time(r, f, "pull_request_update");
}

/* ah_read_active restores the active list (so a restart does not announce
 * the same anomalies again). */
static void ah_read_active(ah_rd_t *r, anom_state_t *s, yajl_val doc) {
  yajl_val a = ah_arr(r, doc, "active", ANOM_ACTIVE_MAX);
  for (size_t i = 0; a != NULL && i < a->u.array.len && r->rc == 0; i++) {
    yajl_val o = a->u.array.values[i];
    anom_t *x = &s->active[s->active_n++];
    const char *kind = qf_json_get_str(o, "kind");
    int k = kind != NULL ? anom_kind_parse(kind) : -1;
    if (k < 0)
      ah_bad(r, "kind", "missing or no detector's name");
    x->kind = (anom_kind_t)(k < 0 ? 0 : k);
    ah_read_string(r, o, "subject", x->subject, sizeof(x->subject));
    yajl_val iss = qf_json_get(o, "issue");
    x->issue = YAJL_IS_NULL(iss) ? 0 : (long)ah_int(r, o, "issue", 1);
    x->since = ah_time(r, o, "since");
    x->observed = ah_num(r, o, "observed", -INFINITY, true);
    x->baseline = ah_num(r, o, "baseline", -INFINITY, true);
    const char *why = qf_json_get_str(o, "reason");
    snprintf(x->reason, sizeof(x->reason), "%s", why ? why : "");
  }
}

int anom_history_parse(anom_state_t *s, const char *text, char *err,
                       size_t errlen) {
  ah_rd_t r = {.err = err, .errlen = errlen, .rc = 0};
  anom_config_t cfg = s->cfg;
  anom_init(s, &cfg);
  yajl_val doc = qf_json_parse(text, err, errlen);
  if (doc == NULL)
    return -EINVAL;
  if (ah_int(&r, doc, "schema_version", 0) != ANOM_HISTORY_VERSION)
    ah_bad(&r, "schema_version", "not 1");
  yajl_val tasks = ah_obj(&r, doc, "tasks");
  yajl_val quiet = ah_obj(&r, doc, "quiet");
  if (tasks != NULL && quiet != NULL) {
    ah_read_ring(&r, tasks, "durations_seconds", s->durations,
                 ANOM_DURATIONS_MAX, &s->dur_n, &s->dur_next);
    s->starts = (long)ah_int(&r, tasks, "starts", 0);
    s->restarts = (long)ah_int(&r, tasks, "restarts", 0);
    ah_read_ring(&r, quiet, "gaps_agent_seconds", s->gaps, ANOM_GAPS_MAX,
                 &s->gap_n, &s->gap_next);
    s->last_progress = ah_time(&r, quiet, "last_progress");
    s->progress_seen = ah_bool(&r, quiet, "progress_seen");
    s->quiet_clock = ah_time(&r, quiet, "clock");
    s->quiet_agent_s = ah_num(&r, quiet, "agent_seconds", 0, false);
    s->active_agents = (int)ah_int(&r, quiet, "active_agents", 0);
  }
  s->agents_at = ah_time(&r, doc, "agents_at");
  ah_read_agents(&r, s, doc);
  ah_read_counts(&r, s, doc);
  ah_read_resources(&r, s, doc);
  ah_read_feed(&r, s, doc);
  ah_read_active(&r, s, doc);
  yajl_tree_free(doc);
  if (r.rc != 0)
    anom_init(s, &cfg);
  return r.rc;
}
