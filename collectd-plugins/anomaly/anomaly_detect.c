/* anomaly_detect.c: what the detectors learn from observations, and the
 * evaluation that compares the present with it (see anomaly.h). */
#include "anomaly.h"
#include "anomaly_stats.h"
#include "qf_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define AD_DAY 86400L
#define AD_HOUR 3600L
#define AD_MAD_SIGMA 1.4826    /* MAD to standard deviation, normal data */
#define AD_QUIET_STEP_MAX 3600 /* one observation gap counts at most this */
#define AD_AGENT_FORGET (7 * AD_DAY) /* drop agents unseen this long */
#define AD_STARTS_MAX 4096           /* halve the restart counts beyond this */
#define AD_CI_RELEASE 0.05 /* a CI spike ends when p rises above this */
#define AD_RO_RELEASE 1.5  /* running out ends past 1.5 x the horizon */
#define AD_VEL_WINDOWS 3   /* velocity tests the last 1..3 days */

static const char *const ad_names[ANOM_KIND_COUNT] = {
    "stuck_agent",   "looping_agent",    "stalled_swarm",
    "velocity_drop", "ci_failure_spike", "running_out"};

const char *anom_kind_name(anom_kind_t k) {
  return (unsigned)k < ANOM_KIND_COUNT ? ad_names[k] : NULL;
}

int anom_kind_parse(const char *name) {
  for (int k = 0; k < ANOM_KIND_COUNT; k++)
    if (strcmp(name, ad_names[k]) == 0)
      return k;
  return -1;
}

void anom_config_defaults(anom_config_t *c) {
  memset(c, 0, sizeof(*c));
  for (int k = 0; k < ANOM_KIND_COUNT; k++)
    c->enabled[k] = true;
  c->stuck_k = 3.5;
  c->stuck_min_spread = 0.25;
  c->stuck_floor = 1800;
  c->stuck_unlearned = 6 * 3600;
  c->stuck_min_tasks = 10;
  c->loop_alpha = 3e-4;
  c->loop_min = 2;
  c->stall_quantile = 0.99;
  c->stall_factor = 2.0;
  c->stall_floor = 1800;
  c->stall_floor_agent = 2 * 3600;
  c->stall_min_gaps = 30;
  c->vel_alpha = 0.001;
  c->vel_min_expected = 2.0;
  c->vel_min_days = 14;
  c->vel_baseline_days = 28;
  c->vel_weekly = true;
  c->vel_day_offset = 0;
  c->ci_alpha = 1e-3;
  c->ci_window = 2 * 3600;
  c->ci_baseline = 7 * 86400;
  c->ci_min_rate = 0.02;
  c->ci_min_failures = 3;
  c->ci_min_baseline_runs = 20;
  c->ro_window = 2 * 3600;
  c->ro_horizon = 24 * 3600;
  c->ro_full = 0.98;
  c->ro_min_z = 3.0;
  c->ro_persist = 3600;
  c->ro_min_samples = 8;
}

/* ad_fail writes one "setting: what is wrong" message; returns -EINVAL. */
static int ad_fail(char *err, size_t errlen, const char *what) {
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", what);
  return -EINVAL;
}

int anom_config_check(const anom_config_t *c, char *err, size_t errlen) {
  if (!(c->stuck_k > 0) || !(c->stuck_min_spread >= 0) ||
      !(c->stuck_floor > 0) || !(c->stuck_unlearned > 0) ||
      c->stuck_min_tasks < 1)
    return ad_fail(err, errlen,
                   "StuckSpreads, StuckFloor and StuckUnlearned must be > 0, "
                   "StuckMinTasks >= 1");
  if (!(c->loop_alpha > 0 && c->loop_alpha < 1) || c->loop_min < 1)
    return ad_fail(err, errlen,
                   "LoopAlpha must lie in (0, 1), LoopMinRestarts >= 1");
  if (!(c->stall_quantile > 0 && c->stall_quantile < 1) ||
      !(c->stall_factor >= 1) || !(c->stall_floor >= 0) ||
      !(c->stall_floor_agent >= 0) || c->stall_min_gaps < 1)
    return ad_fail(err, errlen,
                   "StallQuantile must lie in (0, 1), StallFactor >= 1, "
                   "floors >= 0, StallMinGaps >= 1");
  if (!(c->vel_alpha > 0 && c->vel_alpha < 1) || !(c->vel_min_expected >= 0) ||
      c->vel_min_days < 2 || c->vel_baseline_days < 2 ||
      c->vel_baseline_days + AD_VEL_WINDOWS > ANOM_DAYS_MAX ||
      c->vel_min_days > c->vel_baseline_days || c->vel_day_offset <= -AD_DAY ||
      c->vel_day_offset >= AD_DAY)
    return ad_fail(err, errlen,
                   "VelocityAlpha must lie in (0, 1), 2 <= VelocityMinDays <= "
                   "VelocityBaselineDays <= 53, |VelocityDayOffset| < 86400");
  if (!(c->ci_alpha > 0 && c->ci_alpha < 1) || !(c->ci_window >= AD_HOUR) ||
      !(c->ci_baseline >= AD_HOUR) ||
      (c->ci_window + c->ci_baseline) / AD_HOUR > ANOM_CI_HOURS_MAX - 1 ||
      !(c->ci_min_rate >= 0 && c->ci_min_rate < 1) || c->ci_min_failures < 1 ||
      c->ci_min_baseline_runs < 1)
    return ad_fail(err, errlen,
                   "CIAlpha must lie in (0, 1), CIWindow and CIBaseline at "
                   "least 3600 s and together under 14 days");
  if (!(c->ro_window >= 60) || !(c->ro_horizon > 0) ||
      !(c->ro_full > 0 && c->ro_full <= 1) || !(c->ro_min_z >= 0) ||
      !(c->ro_persist >= 0) || c->ro_min_samples < 3 ||
      c->ro_min_samples > ANOM_RES_SAMPLES / 2)
    return ad_fail(err, errlen,
                   "RunOutWindow >= 60 s, RunOutHorizon > 0, 0 < RunOutFull "
                   "<= 1, 3 <= RunOutMinSamples <= 32");
  return 0;
}

void anom_init(anom_state_t *s, const anom_config_t *c) {
  memset(s, 0, sizeof(*s));
  s->cfg = *c;
  s->vel_tested_day = -1;
  s->feed_commits = -1;
  s->feed_prs = -1;
}

/* --- observations --- */

/* ad_ring_push appends v to a ring of capacity cap. */
static void ad_ring_push(double *ring, int cap, int *n, int *next, double v) {
  ring[*next] = v;
  *next = (*next + 1) % cap;
  if (*n < cap)
    (*n)++;
}

/* ad_quiet_advance adds the agent-seconds from the quiet clock to now. */
static void ad_quiet_advance(anom_state_t *s, time_t now) {
  if (s->quiet_clock == 0) {
    s->quiet_clock = now;
    if (s->last_progress == 0)
      s->last_progress = now;
    return;
  }
  if (now <= s->quiet_clock)
    return;
  double dt = (double)(now - s->quiet_clock);
  if (dt > AD_QUIET_STEP_MAX)
    dt = AD_QUIET_STEP_MAX;
  s->quiet_agent_s += s->active_agents * dt;
  s->quiet_clock = now;
}

/* ad_agent_find returns name's slot, making one (replacing the longest
 * unseen when full) when add is true; NULL otherwise. */
static anom_agent_t *ad_agent_find(anom_state_t *s, const char *name,
                                   bool add) {
  for (int i = 0; i < s->agent_n; i++)
    if (strcmp(s->agents[i].name, name) == 0)
      return &s->agents[i];
  if (!add)
    return NULL;
  anom_agent_t *a;
  if (s->agent_n < ANOM_MAX_AGENTS) {
    a = &s->agents[s->agent_n++];
  } else {
    a = &s->agents[0];
    for (int i = 1; i < s->agent_n; i++)
      if (s->agents[i].last_seen < a->last_seen)
        a = &s->agents[i];
  }
  memset(a, 0, sizeof(*a));
  snprintf(a->name, sizeof(a->name), "%s", name);
  return a;
}

/* ad_task_finished learns one finished task's duration. */
static void ad_task_finished(anom_state_t *s, double seconds) {
  if (seconds > 0)
    ad_ring_push(s->durations, ANOM_DURATIONS_MAX, &s->dur_n, &s->dur_next,
                 seconds);
}

/* ad_task_started counts a start, and a restart when the issue repeats. */
static void ad_task_started(anom_state_t *s, anom_agent_t *a, long issue) {
  s->starts++;
  if (issue != 0 && issue == a->issue) {
    s->restarts++;
    a->same_issue_starts++;
  } else {
    a->same_issue_starts = 1;
  }
  if (s->starts > AD_STARTS_MAX) {
    s->starts /= 2;
    s->restarts /= 2;
  }
}

/* ad_agent_update applies one agent's observation at now. */
static void ad_agent_update(anom_state_t *s, anom_agent_t *a,
                            const anom_agent_obs_t *o, time_t now) {
  time_t start = o->active ? o->task_start : 0;
  if (start != 0 && start != a->task_start) {
    /* a finished task is one followed by another issue, not a restart */
    if (a->task_start != 0 && o->issue != a->issue)
      ad_task_finished(s, (double)(start - a->task_start));
    ad_task_started(s, a, o->issue);
    a->issue = o->issue;
    a->task_start = start;
  } else if (start == 0 && a->task_start != 0) {
    ad_task_finished(s, (double)(now - a->task_start));
    a->task_start = 0;
  }
  a->last_seen = now;
}

void anom_observe_agents(anom_state_t *s, time_t now,
                         const anom_agent_obs_t *agents, size_t n) {
  int active = 0;
  ad_quiet_advance(s, now);
  for (size_t i = 0; i < n; i++) {
    if (agents[i].name == NULL || agents[i].name[0] == '\0')
      continue;
    anom_agent_t *a = ad_agent_find(s, agents[i].name, true);
    ad_agent_update(s, a, &agents[i], now);
    active += agents[i].active;
  }
  /* agents gone from the snapshot: their task ended when they left */
  for (int i = 0; i < s->agent_n; i++) {
    anom_agent_t *a = &s->agents[i];
    if (a->last_seen != now && a->task_start != 0)
      a->task_start = 0;
    if (now - a->last_seen > AD_AGENT_FORGET) {
      s->agents[i--] = s->agents[--s->agent_n];
    }
  }
  s->active_agents = active;
  s->agents_at = now;
}

void anom_observe_progress(anom_state_t *s, time_t t) {
  if (s->quiet_clock == 0)
    ad_quiet_advance(s, t);
  double quiet = s->quiet_agent_s;
  if (t < s->quiet_clock) /* reported late: the quiet after t was not */
    quiet -= s->active_agents * (double)(s->quiet_clock - t);
  else
    ad_quiet_advance(s, t);
  if (t < s->last_progress)
    return; /* older than what ended the current stretch */
  if (s->progress_seen && quiet > 0)
    ad_ring_push(s->gaps, ANOM_GAPS_MAX, &s->gap_n, &s->gap_next, quiet);
  s->progress_seen = true;
  s->last_progress = t;
  s->quiet_agent_s =
      t < s->quiet_clock ? s->active_agents * (double)(s->quiet_clock - t) : 0;
}

/* ad_day_of returns the day index of t in the configured day. */
static long ad_day_of(const anom_state_t *s, time_t t) {
  long long x = (long long)t + s->cfg.vel_day_offset;
  return (long)(x >= 0 ? x / AD_DAY : (x - AD_DAY + 1) / AD_DAY);
}

/* ad_slot returns the index of unit u in a contiguous window of counts
 * (first, n, capacity cap) after extending it with zeros up to u and
 * dropping the oldest beyond cap; -1 when u is older than the window. */
static int ad_slot(long *first, int *n, int cap, long u, double *a, unsigned *b,
                   unsigned *c) {
  if (*n == 0) {
    *first = u;
    *n = 1;
    if (a)
      a[0] = 0;
    if (b)
      b[0] = 0;
    if (c)
      c[0] = 0;
    return 0;
  }
  if (u < *first)
    return -1;
  long last = *first + *n - 1;
  if (u - last >= cap) { /* a gap longer than the window: start afresh */
    *n = 0;
    return ad_slot(first, n, cap, u, a, b, c);
  }
  while (last < u) {
    if (*n == cap) {
      if (a)
        memmove(a, a + 1, (size_t)(cap - 1) * sizeof(*a));
      if (b)
        memmove(b, b + 1, (size_t)(cap - 1) * sizeof(*b));
      if (c)
        memmove(c, c + 1, (size_t)(cap - 1) * sizeof(*c));
      (*first)++;
      (*n)--;
    }
    last++;
    if (a)
      a[*n] = 0;
    if (b)
      b[*n] = 0;
    if (c)
      c[*n] = 0;
    (*n)++;
  }
  return (int)(u - *first);
}

void anom_observe_closed(anom_state_t *s, time_t t, unsigned n) {
  int i = ad_slot(&s->day_first, &s->day_n, ANOM_DAYS_MAX, ad_day_of(s, t),
                  s->closed, NULL, NULL);
  if (i >= 0)
    s->closed[i] += n;
  if (n > 0)
    anom_observe_progress(s, t);
}

void anom_observe_ci(anom_state_t *s, time_t t, bool failed) {
  int i = ad_slot(&s->ci_first_hour, &s->ci_n, ANOM_CI_HOURS_MAX,
                  (long)(t / AD_HOUR), NULL, s->ci_runs, s->ci_fails);
  if (i < 0)
    return;
  s->ci_runs[i]++;
  s->ci_fails[i] += failed;
}

/* ad_res_flush moves the bucket being filled into the samples. */
static void ad_res_flush(anom_res_t *r) {
  if (r->acc_n == 0)
    return;
  if (r->n == ANOM_RES_SAMPLES) {
    memmove(r->t, r->t + 1, (ANOM_RES_SAMPLES - 1) * sizeof(r->t[0]));
    memmove(r->u, r->u + 1, (ANOM_RES_SAMPLES - 1) * sizeof(r->u[0]));
    r->n--;
  }
  r->t[r->n] = r->acc_t / r->acc_n;
  r->u[r->n] = r->acc_u / r->acc_n;
  r->n++;
  r->acc_t = r->acc_u = 0;
  r->acc_n = 0;
}

int anom_observe_resource(anom_state_t *s, const char *name, time_t t,
                          double used) {
  if (name == NULL || name[0] == '\0' || !(used >= 0 && used <= 1))
    return -EINVAL;
  anom_res_t *r = NULL;
  for (int i = 0; i < s->res_n && r == NULL; i++)
    if (strcmp(s->res[i].name, name) == 0)
      r = &s->res[i];
  if (r == NULL) {
    if (s->res_n == ANOM_MAX_RESOURCES)
      return -ENOSPC;
    r = &s->res[s->res_n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->acc_bucket = -1;
  }
  /* half the samples cover one window: ANOM_RES_SAMPLES / 2 buckets */
  double width = s->cfg.ro_window / (ANOM_RES_SAMPLES / 2.0);
  long bucket = (long)((double)t / width);
  if (bucket != r->acc_bucket) {
    ad_res_flush(r);
    r->acc_bucket = bucket;
  }
  r->acc_t += (double)t;
  r->acc_u += used;
  r->acc_n++;
  int h = ad_slot(&r->hour_first, &r->hour_n, ANOM_RES_HOURS,
                  (long)(t / AD_HOUR), r->hour_sum, r->hour_cnt, NULL);
  if (h >= 0) {
    r->hour_sum[h] += used;
    r->hour_cnt[h]++;
  }
  return 0;
}

/* ad_res_usual returns the median of the hourly means at t's hour of day
 * over the 7 days before t's day; NaN with fewer than 3 such days. */
static double ad_res_usual(const anom_res_t *r, double t) {
  double v[7];
  size_t n = 0;
  long hour = (long)(t / AD_HOUR);
  for (long d = 1; d <= 7; d++) {
    long i = hour - d * 24 - r->hour_first;
    if (i >= 0 && i < r->hour_n && r->hour_cnt[i] > 0)
      v[n++] = r->hour_sum[i] / r->hour_cnt[i];
  }
  return n >= 3 ? anom_quantile(v, n, 0.5) : NAN;
}

/* --- evaluation --- */

/* ad_dur writes seconds as "2d3h", "5h12m", "48m" or "40s". */
static const char *ad_dur(char *buf, size_t len, double sec) {
  long s = (long)(sec + 0.5);
  if (s >= AD_DAY)
    snprintf(buf, len, "%ldd%ldh", s / AD_DAY, s % AD_DAY / AD_HOUR);
  else if (s >= AD_HOUR)
    snprintf(buf, len, "%ldh%02ldm", s / AD_HOUR, s % AD_HOUR / 60);
  else if (s >= 60)
    snprintf(buf, len, "%ldm", s / 60);
  else
    snprintf(buf, len, "%lds", s);
  return buf;
}

/* A list being built by one evaluation. */
typedef struct ad_list_s {
  anom_t *a;
  int n;
} ad_list_t;

/* ad_add appends an anomaly (dropped beyond ANOM_ACTIVE_MAX); returns it
 * for the reason, or NULL when the list is full. */
static anom_t *ad_add(ad_list_t *l, anom_kind_t kind, const char *subject,
                      long issue, time_t since, double observed,
                      double baseline) {
  if (l->n == ANOM_ACTIVE_MAX)
    return NULL;
  anom_t *a = &l->a[l->n++];
  memset(a, 0, sizeof(*a));
  a->kind = kind;
  snprintf(a->subject, sizeof(a->subject), "%s", subject);
  a->issue = issue;
  a->since = since;
  a->observed = observed;
  a->baseline = baseline;
  return a;
}

/* ad_stuck_threshold returns the time on task above which an agent is
 * stuck, and the usual duration (median, NaN before stuck_min_tasks) and
 * how many tasks it rests on. */
static double ad_stuck_threshold(const anom_state_t *s, double *median) {
  double logs[ANOM_DURATIONS_MAX], scratch[ANOM_DURATIONS_MAX], mad;
  const anom_config_t *c = &s->cfg;
  *median = NAN;
  if (s->dur_n < c->stuck_min_tasks)
    return c->stuck_unlearned;
  for (int i = 0; i < s->dur_n; i++)
    logs[i] = log(s->durations[i] > 1 ? s->durations[i] : 1);
  double med = anom_median_mad(logs, (size_t)s->dur_n, scratch, &mad);
  double spread = AD_MAD_SIGMA * mad;
  if (spread < c->stuck_min_spread)
    spread = c->stuck_min_spread;
  *median = exp(med);
  double thr = exp(med + c->stuck_k * spread);
  return thr > c->stuck_floor ? thr : c->stuck_floor;
}

/* ad_issue_text writes " on issue #N" or "" when there is no issue. */
static const char *ad_issue_text(char *buf, size_t len, long issue) {
  if (issue > 0)
    snprintf(buf, len, " on issue #%ld", issue);
  else
    buf[0] = '\0';
  return buf;
}

/* ad_detect_agents flags stuck and looping agents seen last. */
static void ad_detect_agents(const anom_state_t *s, time_t now, ad_list_t *l) {
  const anom_config_t *c = &s->cfg;
  double median, thr = ad_stuck_threshold(s, &median);
  double p = ((double)s->restarts + 1.0) / ((double)s->starts + 2.0);
  char d1[32], d2[32], d3[32], on[40];
  for (int i = 0; i < s->agent_n; i++) {
    const anom_agent_t *a = &s->agents[i];
    if (a->last_seen != s->agents_at || a->task_start == 0)
      continue;
    double on_task = (double)(now - a->task_start);
    anom_t *x;
    ad_issue_text(on, sizeof(on), a->issue);
    if (c->enabled[ANOM_STUCK_AGENT] && on_task > thr &&
        (x = ad_add(l, ANOM_STUCK_AGENT, a->name, a->issue,
                    a->task_start + (time_t)thr, on_task, median)) != NULL) {
      if (isnan(median))
        snprintf(x->reason, sizeof(x->reason),
                 "%.96s has worked%s for %s, past the %s allowed until %d "
                 "tasks have finished to learn from.",
                 a->name, on, ad_dur(d1, sizeof(d1), on_task),
                 ad_dur(d2, sizeof(d2), thr), c->stuck_min_tasks);
      else
        snprintf(x->reason, sizeof(x->reason),
                 "%.96s has worked%s for %s; this swarm's tasks take %s "
                 "(median of %d finished) and rarely more than %s.",
                 a->name, on, ad_dur(d1, sizeof(d1), on_task),
                 ad_dur(d2, sizeof(d2), median), s->dur_n,
                 ad_dur(d3, sizeof(d3), thr));
    }
    int restarts = a->same_issue_starts - 1;
    if (c->enabled[ANOM_LOOPING_AGENT] && a->issue > 0 &&
        restarts >= c->loop_min && pow(p, restarts) < c->loop_alpha &&
        (x = ad_add(l, ANOM_LOOPING_AGENT, a->name, a->issue, a->task_start,
                    restarts, p)) != NULL)
      snprintf(x->reason, sizeof(x->reason),
               "%.96s restarted issue #%ld %d times in a row; this swarm "
               "restarts %.1f%% of its tasks, so that many in a row is "
               "rarer than 1 in %.0f.",
               a->name, a->issue, restarts, 100 * p, 1 / c->loop_alpha);
  }
}

/* ad_detect_stall flags a swarm whose agents work without progress. */
static void ad_detect_stall(const anom_state_t *s, time_t now, ad_list_t *l) {
  const anom_config_t *c = &s->cfg;
  if (!c->enabled[ANOM_STALLED_SWARM] || s->active_agents == 0 ||
      s->last_progress == 0 ||
      (double)(now - s->last_progress) < c->stall_floor)
    return;
  double q = NAN, thr = c->stall_floor_agent;
  if (s->gap_n >= c->stall_min_gaps) {
    double v[ANOM_GAPS_MAX];
    memcpy(v, s->gaps, (size_t)s->gap_n * sizeof(v[0]));
    q = anom_quantile(v, (size_t)s->gap_n, c->stall_quantile);
    if (c->stall_factor * q > thr)
      thr = c->stall_factor * q;
  }
  if (s->quiet_agent_s < thr)
    return;
  char d1[32];
  anom_t *x = ad_add(l, ANOM_STALLED_SWARM, "swarm", 0, now,
                     s->quiet_agent_s / 3600, q / 3600);
  if (x == NULL)
    return;
  /* one sentence, two endings: before and after the stretches are learned */
  int n = snprintf(x->reason, sizeof(x->reason),
                   "No commit, pull request or closed issue for %s while %d "
                   "agent%s worked (%.1f agent-hours",
                   ad_dur(d1, sizeof(d1), (double)(now - s->last_progress)),
                   s->active_agents, s->active_agents == 1 ? "" : "s",
                   s->quiet_agent_s / 3600);
  if (n < 0 || (size_t)n >= sizeof(x->reason))
    return;
  char *end = x->reason + n;
  size_t left = sizeof(x->reason) - (size_t)n;
  if (isnan(q))
    snprintf(end, left,
             ", past the %.1f floor; too few quiet stretches seen to learn "
             "from yet).",
             thr / 3600);
  else
    snprintf(end, left,
             "); this swarm's longest usual quiet stretch is %.1f "
             "agent-hours (%.0fth percentile of %d).",
             q / 3600, 100 * c->stall_quantile, s->gap_n);
}

/* ad_weekend tells whether day index d (days since 1970-01-01, a
 * Thursday) is a Saturday or a Sunday. */
static bool ad_weekend(long d) {
  long w = ((d % 7) + 7 + 3) % 7; /* 0 = Monday */
  return w >= 5;
}

/* ad_vel_test tests the w days ending at day d against the baseline days
 * before them; returns the p-value (2 when it cannot be tested). */
static double ad_vel_test(const anom_state_t *s, long d, int w, double *obs,
                          double *expd) {
  const anom_config_t *c = &s->cfg;
  long b_end = d - w, b_start = d - w - c->vel_baseline_days + 1;
  if (b_start < s->day_first)
    b_start = s->day_first;
  if (b_end - b_start + 1 < c->vel_min_days || d > s->day_first + s->day_n - 1)
    return 2;
  double sum[2] = {0, 0}, cnt[2] = {0, 0}, mean[2];
  for (long x = b_start; x <= b_end; x++) {
    int k = c->vel_weekly && ad_weekend(x);
    sum[k] += s->closed[x - s->day_first];
    cnt[k]++;
  }
  double all = (sum[0] + sum[1]) / (cnt[0] + cnt[1]);
  for (int k = 0; k < 2; k++)
    mean[k] = cnt[k] >= 2 ? sum[k] / cnt[k] : all;
  double ss = 0;
  for (long x = b_start; x <= b_end; x++) {
    double r =
        s->closed[x - s->day_first] - mean[c->vel_weekly && ad_weekend(x)];
    ss += r * r;
  }
  double phi = all > 0 ? ss / (cnt[0] + cnt[1] - 2) / all : 1;
  phi = phi < 1 ? 1 : phi > 10 ? 10 : phi;
  *obs = *expd = 0;
  for (long x = d - w + 1; x <= d; x++) {
    *obs += s->closed[x - s->day_first];
    *expd += mean[c->vel_weekly && ad_weekend(x)];
  }
  if (*expd < c->vel_min_expected * w)
    return 2;
  return anom_poisson_cdf(*obs / phi, *expd / phi);
}

/* ad_vel_update runs the velocity test on every day finished since the
 * last one tested; the verdict holds until the next day ends. */
static void ad_vel_update(anom_state_t *s, time_t now) {
  long today = ad_day_of(s, now);
  ad_slot(&s->day_first, &s->day_n, ANOM_DAYS_MAX, today, s->closed, NULL,
          NULL);
  long d =
      s->vel_tested_day < s->day_first ? s->day_first : s->vel_tested_day + 1;
  for (; d < today; d++) {
    double best = 2;
    s->vel_alarm = false;
    for (int w = 1; w <= AD_VEL_WINDOWS; w++) {
      double o = 0, e = 0, p = ad_vel_test(s, d, w, &o, &e);
      if (p < best) {
        best = p;
        s->vel_obs = o;
        s->vel_exp = e;
        s->vel_window = w;
      }
    }
    s->vel_p = best;
    s->vel_alarm = best < s->cfg.vel_alpha / AD_VEL_WINDOWS;
    s->vel_tested_day = d;
  }
}

/* ad_detect_velocity reports the verdict of the last day tested. */
static void ad_detect_velocity(anom_state_t *s, time_t now, ad_list_t *l) {
  ad_vel_update(s, now);
  if (!s->cfg.enabled[ANOM_VELOCITY_DROP] || !s->vel_alarm)
    return;
  time_t since = (time_t)((s->vel_tested_day - s->vel_window + 1) * AD_DAY -
                          s->cfg.vel_day_offset);
  anom_t *x =
      ad_add(l, ANOM_VELOCITY_DROP, "swarm", 0, since, s->vel_obs, s->vel_exp);
  if (x != NULL)
    snprintf(x->reason, sizeof(x->reason),
             "%.0f issues closed in the last %d day%s where this swarm's "
             "trailing %d days lead to expect %.1f; that few happens by "
             "chance with p = %.1g.",
             s->vel_obs, s->vel_window, s->vel_window == 1 ? "" : "s",
             s->cfg.vel_baseline_days, s->vel_exp, s->vel_p);
}

/* ad_ci_sums adds the runs and failures of the wh hours up to hour (the
 * window) and of the bh hours before it (the baseline). */
static void ad_ci_sums(const anom_state_t *s, long hour, long wh, long bh,
                       double sums[4]) {
  memset(sums, 0, 4 * sizeof(sums[0]));
  for (int i = 0; i < s->ci_n; i++) {
    long h = s->ci_first_hour + i;
    if (h > hour)
      continue;
    /* the window: the last wh hours; the baseline: the bh before them */
    int k = h > hour - wh ? 0 : h > hour - wh - bh ? 2 : -1;
    if (k >= 0) {
      sums[k] += s->ci_runs[i];
      sums[k + 1] += s->ci_fails[i];
    }
  }
}

/* ad_detect_ci tests the failure rate of the last ci_window and of its
 * second half (a sharp spike shows there first) against the baseline;
 * each test at half the significance level. */
static void ad_detect_ci(anom_state_t *s, time_t now, ad_list_t *l) {
  const anom_config_t *c = &s->cfg;
  long hour = (long)(now / AD_HOUR);
  long wh = (long)ceil(c->ci_window / AD_HOUR);
  long bh = (long)ceil(c->ci_baseline / AD_HOUR);
  bool was = s->ci_alarm;
  double best = 2, b[4] = {0, 0, 0, 0};
  long best_w = wh;
  s->ci_alarm = false;
  const long windows[2] = {wh, wh > 1 ? wh / 2 : 0};
  for (int i = 0; i < 2 && windows[i] > 0 && c->enabled[ANOM_CI_SPIKE]; i++) {
    long w = windows[i];
    double x[4];
    ad_ci_sums(s, hour, w, bh, x);
    if (x[2] < c->ci_min_baseline_runs || x[1] < c->ci_min_failures)
      continue;
    double p0 = anom_wilson_upper(x[3], x[2], 1.645);
    if (p0 < c->ci_min_rate)
      p0 = c->ci_min_rate;
    double p = anom_binom_sf((unsigned)x[1], (unsigned)x[0], p0);
    if (p < best) {
      best = p;
      best_w = w;
      memcpy(b, x, sizeof(b));
    }
  }
  s->ci_alarm = best < c->ci_alpha / 2 || (was && best < AD_CI_RELEASE);
  if (!s->ci_alarm)
    return;
  anom_t *x = ad_add(l, ANOM_CI_SPIKE, "ci", 0, now, b[1] / b[0], b[3] / b[2]);
  char d1[32], d2[32];
  if (x != NULL)
    snprintf(x->reason, sizeof(x->reason),
             "%.0f of %.0f workflow runs failed in the last %s (%.0f%%); "
             "over the %s before, %.1f%% failed, and %.0f or more failures "
             "happen by chance with p = %.1g.",
             b[1], b[0], ad_dur(d1, sizeof(d1), (double)best_w * AD_HOUR),
             100 * b[1] / b[0], ad_dur(d2, sizeof(d2), c->ci_baseline),
             100 * b[3] / b[2], b[1], best);
}

/* ad_res_fit fits the resource's window: Theil-Sen slope (fraction per
 * second) of the whole window and the smaller of its two halves' slopes
 * (a leak rises through the window; a one-off step or a morning ramp
 * leaves one half flat), Mann-Kendall z and the level the line gives at
 * now; false when too few samples span the window. */
static bool ad_res_fit(const anom_state_t *s, const anom_res_t *r, time_t now,
                       double *slope, double *half, double *z, double *level) {
  double t[ANOM_RES_SAMPLES + 1], u[ANOM_RES_SAMPLES + 1], hz;
  int n = 0;
  for (int i = 0; i < r->n; i++)
    if (r->t[i] >= (double)now - s->cfg.ro_window) {
      t[n] = r->t[i] - (double)now;
      u[n++] = r->u[i];
    }
  if (r->acc_n > 0) {
    t[n] = r->acc_t / r->acc_n - (double)now;
    u[n++] = r->acc_u / r->acc_n;
  }
  if (n == 0 || n < s->cfg.ro_min_samples ||
      t[n - 1] - t[0] < 0.75 * s->cfg.ro_window)
    return false;
  /* the departure from the usual pattern, when it is known for all */
  double d[ANOM_RES_SAMPLES + 1];
  bool usual = true;
  for (int i = 0; i < n && usual; i++) {
    double x = ad_res_usual(r, t[i] + (double)now);
    usual = !isnan(x);
    d[i] = u[i] - x;
  }
  const double *y = usual ? d : u;
  *slope = anom_theil_sen(t, y, (size_t)n, z);
  double a = anom_theil_sen(t, y, (size_t)n / 2, &hz);
  double b = anom_theil_sen(t + n / 2, y + n / 2, (size_t)(n - n / 2), &hz);
  *half = a < b ? a : b;
  double off[ANOM_RES_SAMPLES + 1];
  for (int i = 0; i < n; i++)
    off[i] = u[i] - *slope * t[i];
  *level = anom_quantile(off, (size_t)n, 0.5);
  return true;
}

/* ad_detect_resources flags each resource whose fit reaches full soon. */
static void ad_detect_resources(anom_state_t *s, time_t now, ad_list_t *l) {
  const anom_config_t *c = &s->cfg;
  for (int i = 0; i < s->res_n; i++) {
    anom_res_t *r = &s->res[i];
    double slope, half, z, level, eta = INFINITY, eta_half = INFINITY;
    bool was = r->alarm;
    r->alarm = false;
    if (!c->enabled[ANOM_RUNNING_OUT] ||
        !ad_res_fit(s, r, now, &slope, &half, &z, &level))
      continue;
    if (level >= c->ro_full)
      eta = eta_half = 0;
    else if (slope > 0 && half > 0) {
      eta = (c->ro_full - level) / slope;
      eta_half = (c->ro_full - level) / half;
    }
    bool rising = eta_half <= c->ro_horizon && z >= c->ro_min_z;
    if (!rising)
      r->rising_since = 0;
    else if (r->rising_since == 0)
      r->rising_since = now;
    r->alarm = (rising && (double)(now - r->rising_since) >= c->ro_persist) ||
               (was && eta <= AD_RO_RELEASE * c->ro_horizon && z > 0);
    if (!r->alarm)
      continue;
    anom_t *x =
        ad_add(l, ANOM_RUNNING_OUT, r->name, 0, now, eta, c->ro_horizon);
    char d1[32], d2[32], d3[32];
    if (x != NULL)
      snprintf(x->reason, sizeof(x->reason),
               "%.96s is %.0f%% used and rising %.2f points an hour over the "
               "last %s (Mann-Kendall z %.1f): %.0f%% in about %s, within "
               "the %s horizon.",
               r->name, 100 * level, 100 * slope * AD_HOUR,
               ad_dur(d1, sizeof(d1), c->ro_window), z, 100 * c->ro_full,
               ad_dur(d2, sizeof(d2), eta),
               ad_dur(d3, sizeof(d3), c->ro_horizon));
  }
}

/* ad_same tells whether two anomalies are one (kind and subject). */
static bool ad_same(const anom_t *a, const anom_t *b) {
  return a->kind == b->kind && strcmp(a->subject, b->subject) == 0;
}

/* ad_find returns the index of an anomaly like a in list, or -1. */
static int ad_find(const anom_t *list, int n, const anom_t *a) {
  for (int i = 0; i < n; i++)
    if (ad_same(&list[i], a))
      return i;
  return -1;
}

int anom_evaluate(anom_state_t *s, time_t now, anom_transition_fn cb,
                  void *ctx) {
  anom_t next[ANOM_ACTIVE_MAX];
  ad_list_t l = {.a = next, .n = 0};
  ad_quiet_advance(s, now);
  ad_detect_agents(s, now, &l);
  ad_detect_stall(s, now, &l);
  ad_detect_velocity(s, now, &l);
  ad_detect_ci(s, now, &l);
  ad_detect_resources(s, now, &l);
  /* A name cut in a reason may end inside a UTF-8 sequence. */
  for (int i = 0; i < l.n; i++)
    qf_json_utf8_repair(next[i].reason);
  for (int i = 0; i < s->active_n; i++)
    if (ad_find(next, l.n, &s->active[i]) < 0 && cb != NULL)
      cb(&s->active[i], false, ctx);
  for (int i = 0; i < l.n; i++) {
    int j = ad_find(s->active, s->active_n, &next[i]);
    if (j >= 0)
      next[i].since = s->active[j].since;
    else if (cb != NULL)
      cb(&next[i], true, ctx);
  }
  memcpy(s->active, next, (size_t)l.n * sizeof(next[0]));
  s->active_n = l.n;
  s->evaluated_at = now;
  return l.n;
}
