/* github_figures.c: project figures and flags from the mirror. */
#include "github_figures.h"
#include "github_parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GHF_DAY 86400LL
#define GHF_ETA_MAX_DAYS 36500.0 /* beyond a century the estimate is noise */

const char *gh_trigger_name(gh_trigger_t t) {
  switch (t) {
  case GH_TRIG_CI_FAILURES:
    return "ci_failures";
  case GH_TRIG_MERGE_CONFLICT:
    return "merge_conflict";
  case GH_TRIG_BLOCKED_TOO_LONG:
    return "blocked_too_long";
  case GH_TRIG_CI_FAILURE_RATE:
    return "ci_failure_rate";
  case GH_TRIG_HUMAN_LABEL:
    return "human_label";
  default:
    return NULL;
  }
}

gh_trigger_t gh_trigger_by_name(const char *name) {
  for (int t = GH_TRIG_NONE + 1; name != NULL && t < GH_TRIG_COUNT; t++)
    if (strcmp(name, gh_trigger_name((gh_trigger_t)t)) == 0)
      return (gh_trigger_t)t;
  return GH_TRIG_NONE;
}

bool gh_trigger_critical(gh_trigger_t t) {
  return t == GH_TRIG_CI_FAILURES || t == GH_TRIG_MERGE_CONFLICT;
}

const char *gh_status_name(gh_status_t s) {
  static const char *const names[] = {"ready", "in_progress", "blocked",
                                      "done"};
  return (unsigned)s < 4 ? names[s] : "ready";
}

gh_status_t gh_issue_status(const gh_item_t *it, const gh_rules_t *rules) {
  if (!it->open)
    return GH_STATUS_DONE;
  bool in_progress = false;
  for (size_t i = 0; i < it->labels.n; i++) {
    /* Blocked wins over in progress: it is the one needing attention. */
    if (gh_label_matches(it->labels.v[i], rules->blocked))
      return GH_STATUS_BLOCKED;
    in_progress =
        in_progress || gh_label_matches(it->labels.v[i], rules->in_progress);
  }
  return in_progress ? GH_STATUS_IN_PROGRESS : GH_STATUS_READY;
}

bool gh_pr_links_issue(const gh_item_t *pr, long long number) {
  const gh_pr_t *d = gh_item_pr(pr);
  if (gh_branch_issue(d->branch) == number)
    return true;
  for (size_t i = 0; i < d->nlinks; i++)
    if (d->links[i] == number)
      return true;
  return false;
}

/* ghfg_run_of tells whether run r belongs to pull request pr. */
static bool ghfg_run_of(const gh_run_t *r, const gh_item_t *pr) {
  for (size_t i = 0; i < r->nprs; i++)
    if (r->prs[i] == pr->number)
      return true;
  const char *branch = gh_item_pr(pr)->branch;
  return r->branch != NULL && branch != NULL && strcmp(r->branch, branch) == 0;
}

#define GHF_WORKFLOWS_MAX 32

/* Per-workflow streak bookkeeping for gh_pr_ci. */
typedef struct ghfg_wf_s {
  long long id;
  int streak;
  bool closed; /* a success ended the streak */
} ghfg_wf_t;

/* ghfg_wf_slot returns the slot of workflow id, adding it when there is
 * room; NULL when the table is full. */
static ghfg_wf_t *ghfg_wf_slot(ghfg_wf_t *wf, size_t *n, long long id) {
  for (size_t i = 0; i < *n; i++)
    if (wf[i].id == id)
      return &wf[i];
  if (*n == GHF_WORKFLOWS_MAX)
    return NULL;
  wf[*n] = (ghfg_wf_t){.id = id};
  return &wf[(*n)++];
}

gh_ci_t gh_pr_ci(const gh_mirror_t *m, const gh_item_t *pr) {
  gh_ci_t ci = {0, 0, 0};
  ghfg_wf_t wf[GHF_WORKFLOWS_MAX];
  size_t nwf = 0;
  /* Runs are newest first: a workflow's streak is its failures up to its
   * newest success; pending and neutral runs neither count nor break it. */
  for (size_t i = 0; i < m->nruns; i++) {
    const gh_run_t *r = &m->runs[i];
    if (!ghfg_run_of(r, pr) ||
        (r->verdict != GH_VERDICT_FAILURE && r->verdict != GH_VERDICT_SUCCESS))
      continue;
    ci.finished++;
    ghfg_wf_t *w = ghfg_wf_slot(wf, &nwf, r->workflow_id);
    if (r->verdict == GH_VERDICT_SUCCESS) {
      if (w != NULL)
        w->closed = true;
      continue;
    }
    ci.failed++;
    if (w != NULL && !w->closed && ++w->streak > ci.streak)
      ci.streak = w->streak;
  }
  return ci;
}

const char *gh_trend(double slope) {
  if (slope > GH_TREND_THRESHOLD)
    return "increasing";
  if (slope < -GH_TREND_THRESHOLD)
    return "decreasing";
  return "stable";
}

bool gh_closed_counts_for_velocity(const char *r) {
  return r == NULL ||
         (strcmp(r, "not_planned") != 0 && strcmp(r, "duplicate") != 0);
}

/* ghfg_velocity fills daily counts, per_day, slope and trend from the
 * closing times f->closed of completed issues. */
static void ghfg_velocity(long long now, gh_figures_t *f) {
  memset(f->daily, 0, sizeof(f->daily));
  int sum = 0;
  for (size_t i = 0; i < f->nclosed; i++) {
    long long age = now - f->closed[i];
    if (age < 0)
      age = 0; /* closed "in the future": clock skew, count it as now */
    if (age >= GH_VELOCITY_DAYS * GHF_DAY)
      continue;
    f->daily[GH_VELOCITY_DAYS - 1 - age / GHF_DAY]++;
    sum++;
  }
  /* Least squares over x = 0..6: slope = sum((x - 3) * y) / sum((x - 3)^2). */
  double num = 0, den = 0, mid = (GH_VELOCITY_DAYS - 1) / 2.0;
  for (int x = 0; x < GH_VELOCITY_DAYS; x++) {
    num += (x - mid) * f->daily[x];
    den += (x - mid) * (x - mid);
  }
  f->per_day = (double)sum / GH_VELOCITY_DAYS;
  f->slope = num / den;
  f->trend = gh_trend(f->slope);
}

/* ghfg_velocity_counts tells whether issue it, at time now, may count for
 * velocity now or later (time only moves forward). */
static bool ghfg_velocity_counts(const gh_item_t *it, long long now) {
  return !it->is_pr && !it->open && it->closed_at > 0 &&
         now - it->closed_at < GH_VELOCITY_DAYS * GHF_DAY &&
         gh_closed_counts_for_velocity(it->state_reason);
}

/* ghfg_eta estimates when the open issues are done at the current pace. */
static long long ghfg_eta(const gh_figures_t *f, long long now) {
  if (f->per_day <= 0)
    return 0;
  double days = (double)(f->total - f->done) / f->per_day;
  if (days > GHF_ETA_MAX_DAYS)
    return 0;
  return now + (long long)ceil(days * (double)GHF_DAY);
}

/* ghfg_find_issue finds the figure of issue number (issues sorted by
 * number descending), or NULL. */
static gh_issue_fig_t *ghfg_find_issue(gh_figures_t *f, long long number) {
  size_t lo = 0, hi = f->nissues;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const gh_item_t *it = f->issues[mid].item;
    if (it == NULL)
      return NULL; /* not reached: the first nissues entries are filled */
    long long n = it->number;
    if (n == number)
      return &f->issues[mid];
    if (n > number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* ghfg_tie_pr records an open pull request with every open issue it names,
 * with the triggers it raises there. */
static void ghfg_tie_pr(const gh_mirror_t *m, const gh_rules_t *rules,
                        const gh_item_t *pr, gh_figures_t *f) {
  long long cand[GH_LINKS_MAX + 1];
  size_t nc = 0;
  const gh_pr_t *d = gh_item_pr(pr);
  long long b = gh_branch_issue(d->branch);
  if (b > 0)
    cand[nc++] = b;
  for (size_t i = 0; i < d->nlinks; i++)
    if (d->links[i] != b)
      cand[nc++] = d->links[i];
  bool have_ci = false;
  gh_ci_t ci = {0, 0, 0};
  for (size_t i = 0; i < nc; i++) {
    gh_issue_fig_t *fig = ghfg_find_issue(f, cand[i]);
    if (fig == NULL || fig->open == NULL || fig->nprs == GH_LINKS_MAX)
      continue;
    fig->open->prs[fig->nprs++] = pr->number;
    if (!have_ci) {
      ci = gh_pr_ci(m, pr);
      have_ci = true;
    }
    if (rules->failures > 0 && ci.streak >= rules->failures)
      fig->pr_triggers |= 1u << GH_TRIG_CI_FAILURES;
    if (ci.finished > 0 &&
        (double)ci.failed / ci.finished > rules->failure_rate)
      fig->pr_triggers |= 1u << GH_TRIG_CI_FAILURE_RATE;
    if (d->mergeable_state != NULL && strcmp(d->mergeable_state, "dirty") == 0)
      fig->pr_triggers |= 1u << GH_TRIG_MERGE_CONFLICT;
  }
}

/* ghfg_human tells whether an issue carries a "human" label. */
static bool ghfg_human(const gh_item_t *it) {
  for (size_t i = 0; i < it->labels.n; i++)
    if (strcasestr(it->labels.v[i], "human") != NULL)
      return true;
  return false;
}

/* ghfg_pr_reason describes the pull request behind a CI or conflict
 * trigger of fig into reason. */
static void ghfg_pr_reason(const gh_mirror_t *m, const gh_rules_t *rules,
                           const gh_issue_fig_t *fig, char *reason) {
  for (size_t i = 0; i < fig->nprs; i++) {
    const gh_item_t *pr = gh_mirror_find(m, fig->prs[i]);
    if (pr == NULL)
      continue;
    gh_ci_t ci = gh_pr_ci(m, pr);
    const char *ms = gh_item_pr(pr)->mergeable_state;
    if (fig->trigger == GH_TRIG_MERGE_CONFLICT && ms &&
        strcmp(ms, "dirty") == 0) {
      snprintf(reason, GH_REASON_LEN, "merge conflict on pull request #%lld",
               pr->number);
      return;
    }
    if (fig->trigger == GH_TRIG_CI_FAILURES && rules->failures > 0 &&
        ci.streak >= rules->failures) {
      snprintf(reason, GH_REASON_LEN,
               "%d consecutive failed CI runs on pull request #%lld", ci.streak,
               pr->number);
      return;
    }
    if (fig->trigger == GH_TRIG_CI_FAILURE_RATE && ci.finished > 0 &&
        (double)ci.failed / ci.finished > rules->failure_rate) {
      snprintf(reason, GH_REASON_LEN,
               "CI failure rate %.0f%% (%d of %d runs) on pull request #%lld "
               "is over %.0f%%",
               100.0 * ci.failed / ci.finished, ci.failed, ci.finished,
               pr->number, 100.0 * rules->failure_rate);
      return;
    }
  }
}

/* ghfg_keep_reason points fig's reason at a copy of reason kept in its
 * open record (allocated the first time the issue is flagged). */
static int ghfg_keep_reason(gh_issue_fig_t *fig, const char *reason) {
  gh_issue_open_t *o = fig->open;
  if (o->reason == NULL && (o->reason = malloc(GH_REASON_LEN)) == NULL) {
    fig->reason = "";
    return -ENOMEM;
  }
  snprintf(o->reason, GH_REASON_LEN, "%s", reason);
  fig->reason = o->reason;
  return 0;
}

/* ghfg_flag picks the reported trigger of an open issue and its reason.
 * 0 or -ENOMEM. */
static int ghfg_flag(const gh_mirror_t *m, const gh_rules_t *rules,
                     gh_issue_fig_t *fig) {
  char reason[GH_REASON_LEN] = "";
  fig->triggers = fig->pr_triggers;
  /* While its label events are still to be read, the blocked time is only
   * an estimate (the last update): wait for them rather than flag wrongly. */
  if (fig->status == GH_STATUS_BLOCKED && !fig->item->events_stale &&
      fig->blocked_hours > rules->blocked_hours)
    fig->triggers |= 1u << GH_TRIG_BLOCKED_TOO_LONG;
  if (ghfg_human(fig->item))
    fig->triggers |= 1u << GH_TRIG_HUMAN_LABEL;
  fig->trigger = GH_TRIG_NONE;
  for (int t = GH_TRIG_CI_FAILURES; t < GH_TRIG_COUNT; t++) {
    if (fig->triggers & (1u << t)) {
      fig->trigger = (gh_trigger_t)t;
      break;
    }
  }
  if (fig->trigger == GH_TRIG_BLOCKED_TOO_LONG)
    snprintf(reason, GH_REASON_LEN, "blocked for %.1f hours (over %g)",
             fig->blocked_hours, rules->blocked_hours);
  else if (fig->trigger == GH_TRIG_HUMAN_LABEL)
    snprintf(reason, GH_REASON_LEN, "labelled for human intervention");
  else if (fig->trigger != GH_TRIG_NONE)
    ghfg_pr_reason(m, rules, fig, reason);
  fig->reason = "";
  return fig->trigger != GH_TRIG_NONE ? ghfg_keep_reason(fig, reason) : 0;
}

/* ghfg_blocked_hours is how long an issue has been blocked at now, or -1. */
static double ghfg_blocked_hours(const gh_issue_fig_t *fig, long long now) {
  long long since = fig->item->blocked_since;
  if (fig->status != GH_STATUS_BLOCKED || since <= 0)
    return -1;
  return now > since ? (double)(now - since) / 3600.0 : 0;
}

/* ghfg_bucket fills one issue's figure and the status counts; open
 * issues take the next slot of f->opens. */
static void ghfg_bucket(const gh_rules_t *rules, const gh_item_t *it,
                        gh_issue_fig_t *fig, gh_figures_t *f, size_t *nopen) {
  fig->item = it;
  fig->status = gh_issue_status(it, rules);
  fig->reason = "";
  fig->blocked_hours = -1;
  if (it->open) {
    fig->open = &f->opens[(*nopen)++];
    fig->prs = fig->open->prs;
  }
  f->total++;
  switch (fig->status) {
  case GH_STATUS_DONE:
    f->done++;
    break;
  case GH_STATUS_BLOCKED:
    f->blocked++;
    break;
  case GH_STATUS_IN_PROGRESS:
    f->in_progress++;
    break;
  default:
    f->ready++;
  }
}

/* ghfg_refresh recomputes what moves with time: blocked hours, flags and
 * their reasons, the velocity window and the estimate. 0 or -ENOMEM. */
static int ghfg_refresh(const gh_mirror_t *m, const gh_rules_t *rules,
                        long long now, gh_figures_t *f) {
  int status = 0;
  f->flagged = f->flagged_critical = 0;
  for (size_t i = 0; i < f->nissues; i++) {
    gh_issue_fig_t *fig = &f->issues[i];
    if (fig->open == NULL)
      continue; /* closed: done, never flagged */
    fig->blocked_hours = ghfg_blocked_hours(fig, now);
    if (ghfg_flag(m, rules, fig) != 0)
      status = -ENOMEM;
    if (fig->trigger != GH_TRIG_NONE) {
      f->flagged++;
      f->flagged_critical += gh_trigger_critical(fig->trigger);
    }
  }
  ghfg_velocity(now, f);
  f->eta = ghfg_eta(f, now);
  return status;
}

/* ghfg_fnv mixes len bytes of p into the FNV-1a hash *h. */
static void ghfg_fnv(uint64_t *h, const void *p, size_t len) {
  const unsigned char *b = p;
  for (size_t i = 0; i < len; i++) {
    *h ^= b[i];
    *h *= 1099511628211ULL;
  }
}

/* ghfg_fnv_str mixes a string (NULL distinct from "") and its end. */
static void ghfg_fnv_str(uint64_t *h, const char *s) {
  static const unsigned char none = 0xff, end = 0;
  if (s == NULL)
    ghfg_fnv(h, &none, 1);
  else
    ghfg_fnv(h, s, strlen(s) + 1);
  ghfg_fnv(h, &end, 1);
}

/* ghfg_fnv_ll mixes an integer. */
static void ghfg_fnv_ll(uint64_t *h, long long v) {
  ghfg_fnv(h, &v, sizeof(v));
}

/* ghfg_fnv_strv mixes a string array and its end. */
static void ghfg_fnv_strv(uint64_t *h, const gh_strv_t *sv) {
  for (size_t j = 0; j < sv->n; j++)
    ghfg_fnv_str(h, sv->v[j]);
  ghfg_fnv_ll(h, -1);
}

/* ghfg_static_hash digests what the issues array shows that only a change
 * of the mirror moves: items, statuses, tied pull requests. */
static uint64_t ghfg_static_hash(const gh_figures_t *f) {
  uint64_t h = 14695981039346656037ULL;
  ghfg_fnv_ll(&h, (long long)f->nissues);
  for (size_t i = 0; i < f->nissues; i++) {
    const gh_issue_fig_t *fig = &f->issues[i];
    const gh_item_t *it = fig->item;
    if (it == NULL)
      break; /* not reached: the first nissues entries are filled */
    ghfg_fnv_ll(&h, it->number);
    ghfg_fnv_str(&h, it->title);
    ghfg_fnv_ll(&h, it->open);
    ghfg_fnv_str(&h, it->state_reason);
    ghfg_fnv_ll(&h, fig->status);
    ghfg_fnv_strv(&h, &it->labels);
    ghfg_fnv_strv(&h, &it->assignees);
    char url[GH_URL_BUF];
    ghfg_fnv_str(&h, gh_item_url(f->mirror, it, url, sizeof(url)));
    ghfg_fnv_ll(&h, it->created_at);
    ghfg_fnv_ll(&h, it->updated_at);
    ghfg_fnv_ll(&h, it->closed_at);
    for (size_t j = 0; j < fig->nprs; j++)
      ghfg_fnv_ll(&h, fig->prs[j]);
    ghfg_fnv_ll(&h, -1);
  }
  return h;
}

uint64_t gh_figures_shown_hash(const gh_issue_fig_t *fig) {
  uint64_t h = 14695981039346656037ULL;
  ghfg_fnv_ll(&h, fig->trigger);
  ghfg_fnv_ll(&h, (long long)fig->triggers);
  if (fig->trigger != GH_TRIG_NONE) {
    ghfg_fnv_str(&h, fig->reason);
    /* as rendered: tenths of an hour */
    ghfg_fnv_ll(&h, fig->blocked_hours >= 0 ? llround(fig->blocked_hours * 10)
                                            : -1);
  }
  return h;
}

uint64_t gh_figures_issues_hash(const gh_figures_t *f) {
  uint64_t h = f->static_hash;
  for (size_t i = 0; i < f->nissues; i++) {
    const gh_issue_fig_t *fig = &f->issues[i];
    if (fig->open == NULL)
      continue; /* closed issues have no flag */
    ghfg_fnv_ll(&h, fig->item->number);
    ghfg_fnv_ll(&h, (long long)gh_figures_shown_hash(fig));
  }
  return h;
}

/* ghfg_cold_velocity tells whether a cold item's closing counts for the
 * velocity window at now (as ghfg_velocity_counts for a whole one). */
static bool ghfg_cold_velocity(const gh_cold_t *c, long long now) {
  return !(c->flags & GH_COLD_PR) && (c->flags & GH_COLD_VELOCITY) &&
         c->closed_at > 0 &&
         now - (long long)c->closed_at < GH_VELOCITY_DAYS * GHF_DAY;
}

/* ghfg_count_cold counts the cold items: closed issues (done) and pull
 * requests (their last update). */
static void ghfg_count_cold(const gh_mirror_t *m, long long now,
                            gh_figures_t *f) {
  for (size_t i = 0; i < m->ncold; i++) {
    const gh_cold_t *c = &m->cold[i];
    if (c->flags & GH_COLD_PR) {
      if ((long long)c->updated_at > f->last_pr_update)
        f->last_pr_update = c->updated_at;
      continue;
    }
    f->total++;
    f->done++;
    if (ghfg_cold_velocity(c, now))
      f->closed[f->nclosed++] = c->closed_at;
  }
}

/* ghfg_alloc counts the mirror's issues and sizes f's arrays for them. */
static int ghfg_alloc(const gh_mirror_t *m, long long now, gh_figures_t *f) {
  size_t issues = 0, open = 0, closed = 0;
  for (size_t i = 0; i < m->n; i++) {
    const gh_item_t *it = m->items[i];
    issues += !it->is_pr;
    open += !it->is_pr && it->open;
    closed += ghfg_velocity_counts(it, now);
  }
  for (size_t i = 0; i < m->ncold; i++)
    closed += ghfg_cold_velocity(&m->cold[i], now);
  f->issues = calloc(issues + 1, sizeof(*f->issues));
  f->opens = calloc(open + 1, sizeof(*f->opens));
  f->closed = calloc(closed + 1, sizeof(*f->closed));
  return f->issues && f->opens && f->closed ? 0 : -ENOMEM;
}

/* ghfg_full computes every figure of a zeroed f from the mirror. */
static int ghfg_full(const gh_mirror_t *m, const gh_rules_t *rules,
                     long long now, gh_figures_t *f) {
  if (ghfg_alloc(m, now, f) != 0) {
    gh_figures_free(f);
    return -ENOMEM;
  }
  size_t nopen = 0;
  for (size_t i = m->n; i-- > 0;) {
    const gh_item_t *it = m->items[i];
    if (it->is_pr) {
      f->open_prs += it->open;
      if (it->updated_at > f->last_pr_update)
        f->last_pr_update = it->updated_at;
    } else {
      ghfg_bucket(rules, it, &f->issues[f->nissues++], f, &nopen);
      if (ghfg_velocity_counts(it, now))
        f->closed[f->nclosed++] = it->closed_at;
    }
  }
  ghfg_count_cold(m, now, f);
  f->open_issues = f->total - f->done;
  for (size_t i = 0; i < m->n; i++)
    if (m->items[i]->is_pr && m->items[i]->open)
      ghfg_tie_pr(m, rules, m->items[i], f);
  f->completion_percentage =
      f->total ? (int)lround(100.0 * (double)f->done / (double)f->total) : 0;
  f->static_hash = ghfg_static_hash(f);
  f->gen = m->gen;
  f->computed_at = now;
  if (ghfg_refresh(m, rules, now, f) != 0) {
    gh_figures_free(f);
    return -ENOMEM;
  }
  return 0;
}

int gh_figures_compute(const gh_mirror_t *m, const gh_rules_t *rules,
                       long long now, gh_figures_t *f) {
  memset(f, 0, sizeof(*f));
  f->mirror = m;
  return ghfg_full(m, rules, now, f);
}

int gh_figures_update(const gh_mirror_t *m, const gh_rules_t *rules,
                      long long now, gh_figures_t *f, bool *full) {
  *full = f->computed_at == 0 || f->gen != m->gen || now < f->computed_at;
  if (!*full) {
    f->mirror = m;
    if (ghfg_refresh(m, rules, now, f) == 0)
      return 0;
    gh_figures_free(f);
    return -ENOMEM;
  }
  gh_figures_free(f);
  f->mirror = m;
  return ghfg_full(m, rules, now, f);
}

void gh_figures_free(gh_figures_t *f) {
  for (size_t i = 0; f->issues != NULL && i < f->nissues; i++)
    if (f->issues[i].open != NULL)
      free(f->issues[i].open->reason);
  free(f->issues);
  free(f->opens);
  free(f->closed);
  memset(f, 0, sizeof(*f));
}
