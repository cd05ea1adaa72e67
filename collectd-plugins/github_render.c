/* github_render.c: the project.json snapshot. */
#include "github_render.h"

#include "qf_json.h"
#include "qf_snapshot.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>

/* ghr_round rounds v to the given number of decimals. */
static double ghr_round(double v, int decimals) {
  double scale = pow(10, decimals);
  return round(v * scale) / scale;
}

/* ghr_kint_known writes v, or null when v < 0 (unknown). */
static void ghr_kint_known(qf_jw_t *w, const char *key, long long v) {
  if (v < 0)
    qf_jw_knull(w, key);
  else
    qf_jw_kint(w, key, v);
}

/* ghr_strv writes a string array. */
static void ghr_strv(qf_jw_t *w, const char *key, const gh_strv_t *sv) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; i < sv->n; i++)
    qf_jw_str(w, sv->v[i]);
  qf_jw_arr_close(w);
}

/* ghr_github writes the "github" section. */
static void ghr_github(qf_jw_t *w, const gh_figures_t *f,
                       const gh_health_t *h) {
  qf_jw_key(w, "github");
  qf_jw_obj_open(w); /* BEGIN github */
  qf_jw_kint(w, "open_issues", (long long)f->open_issues);
  qf_jw_kint(w, "open_pull_requests", (long long)f->open_prs);
  ghr_kint_known(w, "recent_commits", h->recent_commits);
  qf_jw_kint(w, "recent_commits_days", h->recent_commits_days);
  ghr_kint_known(w, "rate_limit_remaining", h->rl_remaining);
  ghr_kint_known(w, "rate_limit_limit", h->rl_limit);
  if (h->rl_reset > 0)
    qf_jw_ktime(w, "rate_limit_reset", h->rl_reset);
  else
    qf_jw_knull(w, "rate_limit_reset");
  qf_jw_kint(w, "requests", h->requests);
  qf_jw_kint(w, "not_modified", h->not_modified);
  qf_jw_kint(w, "requests_total", (long long)h->requests_total);
  qf_jw_kint(w, "not_modified_total", (long long)h->not_modified_total);
  qf_jw_kint(w, "errors_total", (long long)h->errors_total);
  qf_jw_kint(w, "cycles", h->cycles);
  qf_jw_kbool(w, "sync_complete", h->sync_complete);
  qf_jw_key(w, "unavailable");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < h->nunavailable; i++) {
    const gh_unavailable_t *u = &h->unavailable[i];
    qf_jw_obj_open(w);
    qf_jw_kstr(w, "part", u->part);
    qf_jw_kstr(w, "reason", u->reason);
    qf_jw_ktime(w, "since", u->since);
    qf_jw_ktime(w, "retry_at", u->retry_at);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END github */
}

/* ghr_completion writes the "completion" section. */
static void ghr_completion(qf_jw_t *w, const gh_figures_t *f) {
  qf_jw_key(w, "completion");
  qf_jw_obj_open(w); /* BEGIN completion */
  qf_jw_kint(w, "completion_percentage", f->completion_percentage);
  qf_jw_kint(w, "total_issues", (long long)f->total);
  qf_jw_kint(w, "completed_issues", (long long)f->done);
  qf_jw_kint(w, "in_progress_issues", (long long)f->in_progress);
  qf_jw_kint(w, "ready_issues", (long long)f->ready);
  qf_jw_kint(w, "blocked_issues", (long long)f->blocked);
  qf_jw_kint(w, "flagged_issues", (long long)f->flagged);
  qf_jw_obj_close(w); /* END completion */
}

/* ghr_velocity writes the "velocity" section and the estimate. */
static void ghr_velocity(qf_jw_t *w, const gh_figures_t *f) {
  qf_jw_key(w, "velocity");
  qf_jw_obj_open(w); /* BEGIN velocity */
  qf_jw_key(w, "daily");
  qf_jw_arr_open(w);
  for (int i = 0; i < GH_VELOCITY_DAYS; i++)
    qf_jw_int(w, f->daily[i]);
  qf_jw_arr_close(w);
  qf_jw_kdouble(w, "per_day", ghr_round(f->per_day, 2));
  qf_jw_kstr(w, "trend", f->trend);
  qf_jw_kdouble(w, "slope", ghr_round(f->slope, 3));
  qf_jw_obj_close(w); /* END velocity */
  char date[16];
  if (f->eta > 0 && qf_time_format_date((time_t)f->eta, date,
                                        sizeof(date)) == 0)
    qf_jw_kstr(w, "estimated_completion_date", date);
  else
    qf_jw_knull(w, "estimated_completion_date");
}

/* ghr_flag writes the flag fields of one issue. */
static void ghr_flag(qf_jw_t *w, const gh_issue_fig_t *fig) {
  bool flagged = fig->trigger != GH_TRIG_NONE;
  qf_jw_kbool(w, "flagged", flagged);
  if (!flagged) {
    qf_jw_knull(w, "priority");
    qf_jw_knull(w, "trigger");
    qf_jw_knull(w, "reason");
    qf_jw_knull(w, "blocked_duration_hours");
  } else {
    qf_jw_kstr(w, "priority",
               gh_trigger_critical(fig->trigger) ? "critical" : "review");
    qf_jw_kstr(w, "trigger", gh_trigger_name(fig->trigger));
    qf_jw_kstr(w, "reason", fig->reason);
    if (fig->blocked_hours >= 0)
      qf_jw_kdouble(w, "blocked_duration_hours",
                    ghr_round(fig->blocked_hours, 1));
    else
      qf_jw_knull(w, "blocked_duration_hours");
  }
  qf_jw_key(w, "triggers");
  qf_jw_arr_open(w);
  for (int t = GH_TRIG_CI_FAILURES; t < GH_TRIG_COUNT; t++)
    if (fig->triggers & (1u << t))
      qf_jw_str(w, gh_trigger_name((gh_trigger_t)t));
  qf_jw_arr_close(w);
}

/* ghr_issue writes one element of "issues". */
static void ghr_issue(qf_jw_t *w, const gh_issue_fig_t *fig) {
  const gh_item_t *it = fig->item;
  qf_jw_obj_open(w); /* BEGIN issue */
  qf_jw_kint(w, "id", it->number);
  qf_jw_kstr(w, "title", it->title);
  qf_jw_kstr(w, "state", it->open ? "open" : "closed");
  qf_jw_kstr(w, "state_reason", it->state_reason);
  qf_jw_kstr(w, "status", gh_status_name(fig->status));
  ghr_strv(w, "labels", &it->labels);
  ghr_strv(w, "assignees", &it->assignees);
  qf_jw_kstr(w, "github_url", it->html_url);
  qf_jw_ktime(w, "created_at", it->created_at);
  qf_jw_ktime(w, "updated_at", it->updated_at);
  qf_jw_ktime(w, "closed_at", it->closed_at);
  ghr_flag(w, fig);
  qf_jw_key(w, "pull_requests");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < fig->nprs; i++)
    qf_jw_int(w, fig->prs[i]);
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END issue */
}

int gh_render_project(const char *repository, const gh_figures_t *f,
                      const gh_health_t *h, long long now, char **out,
                      size_t *len) {
  qf_jw_t w;
  if (qf_jw_init(&w) != 0)
    return -ENOMEM;
  qf_jw_obj_open(&w); /* BEGIN project */
  qf_jw_kint(&w, "schema_version", QF_SNAPSHOT_SCHEMA_VERSION);
  qf_jw_ktime(&w, "updated_at", now);
  qf_jw_kstr(&w, "repository", repository);
  qf_jw_ktime(&w, "last_sync", h->last_sync);
  qf_jw_kstr(&w, "sync_state", h->sync_state ? h->sync_state : "never");
  qf_jw_kstr(&w, "last_error", h->last_error);
  qf_jw_ktime(&w, "last_error_at", h->last_error ? h->last_error_at : 0);
  if (h->last_sync > 0)
    qf_jw_kint(&w, "sync_age_seconds",
               now > h->last_sync ? now - h->last_sync : 0);
  else
    qf_jw_knull(&w, "sync_age_seconds");
  ghr_github(&w, f, h);
  ghr_completion(&w, f);
  ghr_velocity(&w, f);
  qf_jw_key(&w, "issues");
  qf_jw_arr_open(&w);
  for (size_t i = 0; i < f->nissues; i++)
    ghr_issue(&w, &f->issues[i]);
  qf_jw_arr_close(&w);
  qf_jw_obj_close(&w); /* END project */
  int status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}
