/* anomaly.h: detectors that learn a swarm's own normal from its history and
 * flag what departs from it (issue 17). Plain C11, no collectd symbol: the
 * plugin qiflow_anomaly, the unit tests and the replay benchmark all drive
 * this same code with observations and a clock they choose.
 *
 * Use: anom_init with a configuration (anom_config_defaults, then tune),
 * feed observations in time order (anom_observe_*), call anom_evaluate at
 * each interval; it reports every transition (started / ended) once and
 * leaves the active list in anom_active. anom_history_save / _load (see
 * anomaly_history.c) carry the learned history across restarts. */
#ifndef ANOMALY_H
#define ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef enum {
  ANOM_STUCK_AGENT,   /* time on the current task far beyond the usual */
  ANOM_LOOPING_AGENT, /* the same issue restarted again and again */
  ANOM_STALLED_SWARM, /* agents active, the repository quiet too long */
  ANOM_VELOCITY_DROP, /* issues closed per day far below the baseline */
  ANOM_CI_SPIKE,      /* workflow failure rate far above the baseline */
  ANOM_RUNNING_OUT,   /* disk or memory projected full within the horizon */
  ANOM_KIND_COUNT
} anom_kind_t;

/* anom_kind_name returns the kind's name as documents and metrics spell
 * it ("stuck_agent", ...), or NULL for an unknown kind. */
const char *anom_kind_name(anom_kind_t k);
/* anom_kind_parse maps a name back; -1 when it names no kind. */
int anom_kind_parse(const char *name);

/* Bounds: history and state never grow beyond these. */
/* An agent name is up to 127 characters (AGENTS_NAME_MAX), each up to 4
 * bytes of UTF-8: a name that did not fit would never match itself again. */
#define ANOM_NAME_MAX 512      /* agent or resource name, NUL included */
#define ANOM_REASON_MAX 256    /* one sentence */
#define ANOM_MAX_AGENTS 1024   /* agents tracked at once */
#define ANOM_MAX_RESOURCES 8   /* disks and memory tracked at once */
#define ANOM_DURATIONS_MAX 256 /* recent finished task durations */
#define ANOM_GAPS_MAX 512      /* recent quiet stretches */
#define ANOM_DAYS_MAX 56       /* days of closed-issue counts */
#define ANOM_CI_HOURS_MAX 336  /* hours of workflow run counts (14 days) */
#define ANOM_RES_SAMPLES 64    /* resource samples kept per fit window */
#define ANOM_RES_HOURS 192     /* hourly means kept per resource (8 days) */
#define ANOM_ACTIVE_MAX 64     /* active anomalies listed at once */

typedef struct anom_config_s {
  bool enabled[ANOM_KIND_COUNT];
  /* Stuck: flag time on task above exp(median + k * spread) of the log
   * durations of finished tasks (spread = 1.4826 * MAD, at least
   * stuck_min_spread), never below stuck_floor; until stuck_min_tasks
   * tasks finished, the threshold is stuck_unlearned. */
  double stuck_k;
  double stuck_min_spread;
  double stuck_floor;     /* seconds */
  double stuck_unlearned; /* seconds */
  int stuck_min_tasks;    /* finished tasks before the median counts */
  /* Looping: flag an agent that restarted the same issue n times when the
   * swarm's learned restart rate p makes that unlikely: p^n < loop_alpha
   * (p estimated as (restarts + 1) / (starts + 2)), and n >= loop_min. */
  double loop_alpha;
  int loop_min;
  /* Stalled: quiet is counted in agent-seconds (active agents times time
   * since the last progress); flag above stall_factor times the
   * stall_quantile of learned quiet stretches, never below
   * stall_floor_agent (agent-seconds), and only after stall_floor (wall
   * seconds) without progress; only the floors apply before
   * stall_min_gaps stretches were seen. */
  double stall_quantile;
  double stall_factor;
  double stall_floor;
  double stall_floor_agent;
  int stall_min_gaps;
  /* Velocity: at each day's end, a one-sided Poisson test of the closed
   * count of the last 1, 2 and 3 days against the trailing mean of the same
   * kind of day (weekday / weekend when vel_weekly), corrected for
   * overdispersion; flag when the smallest p < vel_alpha / 3 and the
   * expected count is at least vel_min_expected. */
  double vel_alpha;
  double vel_min_expected;
  int vel_min_days;      /* days of history before testing */
  int vel_baseline_days; /* trailing days the baseline averages */
  bool vel_weekly;
  long vel_day_offset; /* seconds added to UTC before cutting days */
  /* CI: one-sided binomial test of the failures among the runs of the last
   * ci_window seconds against the baseline rate of the ci_baseline seconds
   * before it (Wilson upper bound of the baseline, at least ci_min_rate);
   * flag when p < ci_alpha with at least ci_min_failures failures. */
  double ci_alpha;
  double ci_window;
  double ci_baseline;
  double ci_min_rate;
  int ci_min_failures;
  int ci_min_baseline_runs;
  /* Running out: Theil-Sen slope of the used fraction over the last
   * ro_window seconds; flag when the line reaches ro_full within
   * ro_horizon seconds, the rise is consistent (Mann-Kendall z >=
   * ro_min_z, both halves of the window rising) and at least
   * ro_min_samples samples span 3/4 of the window. Once 3 days of hourly
   * means are known, the fit is of the departure from the median of the
   * same hour on the days before (the usual daily pattern). The projection
   * must hold for ro_persist seconds: a leak keeps rising, a busy hour
   * levels off. */
  double ro_window;
  double ro_horizon;
  double ro_full;
  double ro_min_z;
  double ro_persist; /* seconds the projection must hold before a flag */
  int ro_min_samples;
} anom_config_t;

/* anom_config_defaults fills c with the documented defaults (docs/anomaly.md).
 */
void anom_config_defaults(anom_config_t *c);
/* anom_config_check returns 0, or -EINVAL with the setting to fix in err. */
int anom_config_check(const anom_config_t *c, char *err, size_t errlen);

/* One agent as a snapshot shows it. */
typedef struct anom_agent_obs_s {
  const char *name;
  bool active;       /* working on something right now */
  long issue;        /* issue number of the current task, 0 when none */
  time_t task_start; /* when the current task started, 0 when none */
} anom_agent_obs_t;

/* One active anomaly. */
typedef struct anom_s {
  anom_kind_t kind;
  char subject[ANOM_NAME_MAX]; /* agent, resource, or "swarm" */
  long issue;                  /* the agent's issue, 0 when none */
  time_t since;
  double observed; /* in the unit the reason names */
  double baseline;
  char reason[ANOM_REASON_MAX];
} anom_t;

typedef struct anom_agent_s {
  char name[ANOM_NAME_MAX];
  long issue;
  time_t task_start;
  int same_issue_starts; /* starts of `issue` in a row */
  time_t last_seen;
} anom_agent_t;

typedef struct anom_res_s {
  char name[ANOM_NAME_MAX];
  int n;                      /* samples held, oldest first */
  double t[ANOM_RES_SAMPLES]; /* bucket mean time, seconds */
  double u[ANOM_RES_SAMPLES]; /* bucket mean used fraction 0..1 */
  double acc_t, acc_u;        /* the bucket being filled */
  int acc_n;
  long acc_bucket;
  /* hourly means of the last 8 days: the usual daily pattern, which the
   * fit subtracts (a morning ramp is no leak) */
  long hour_first;
  int hour_n;
  double hour_sum[ANOM_RES_HOURS];
  unsigned hour_cnt[ANOM_RES_HOURS];
  time_t rising_since; /* the fit has projected full since, 0: not */
  bool alarm;          /* flagged at the last evaluation */
} anom_res_t;

/* The detectors' whole state: the learned history (saved across restarts)
 * and what the last evaluation found. Fixed size, no allocation. */
typedef struct anom_state_s {
  anom_config_t cfg;
  /* stuck / looping */
  double durations[ANOM_DURATIONS_MAX]; /* seconds, ring */
  int dur_n, dur_next;
  long starts, restarts; /* task starts seen, restarts of the same issue */
  anom_agent_t agents[ANOM_MAX_AGENTS];
  int agent_n;
  int active_agents; /* at the last agent observation */
  time_t agents_at;  /* time of the last agent observation */
  /* stalled */
  double gaps[ANOM_GAPS_MAX]; /* agent-seconds, ring */
  int gap_n, gap_next;
  time_t last_progress; /* last progress, or when watching began */
  time_t quiet_clock;   /* time up to which quiet was accumulated */
  double quiet_agent_s; /* agent-seconds since last_progress */
  /* velocity */
  long day_first; /* day index of closed[0]; days are contiguous */
  double closed[ANOM_DAYS_MAX];
  long vel_tested_day; /* last day the test ran on */
  double vel_obs, vel_exp, vel_p;
  int day_n;
  int vel_window;
  /* ci: hourly buckets, contiguous */
  long ci_first_hour;
  unsigned ci_runs[ANOM_CI_HOURS_MAX];
  unsigned ci_fails[ANOM_CI_HOURS_MAX];
  int ci_n;
  /* running out */
  int res_n;
  anom_res_t res[ANOM_MAX_RESOURCES];
  /* the feed's cursors into project.json (anomaly_feed.c), saved with the
   * history so a restart counts no closed issue twice */
  time_t feed_closed_until; /* largest closed_at counted, 0: none yet */
  long long feed_commits;   /* github.recent_commits last seen, -1: none */
  long long feed_prs;       /* github.open_pull_requests last seen, -1 */
  time_t feed_ci_until;     /* newest ci_runs[].at counted, 0: none yet */
  time_t feed_pr_update;    /* activity.last_pull_request_update seen, 0 */
  /* results */
  anom_t active[ANOM_ACTIVE_MAX];
  time_t evaluated_at;
  int active_n;
  /* flags, kept together so the struct needs no padding between them */
  bool progress_seen; /* stalled: last_progress is a real event */
  bool vel_alarm;     /* velocity: flagged at the last test */
  bool ci_alarm;      /* ci: flagged at the last evaluation */
} anom_state_t;

/* anom_init resets s to an empty history with configuration c (copied). */
void anom_init(anom_state_t *s, const anom_config_t *c);

/* anom_observe_agents feeds every agent of one snapshot taken at now:
 * task starts, finishes (durations learned), restarts of the same issue,
 * and the active count the stall detector weighs quiet with. */
void anom_observe_agents(anom_state_t *s, time_t now,
                         const anom_agent_obs_t *agents, size_t n);
/* anom_observe_progress records repository progress at t (a commit, a pull
 * request opened or updated, an issue closed). */
void anom_observe_progress(anom_state_t *s, time_t t);
/* anom_observe_closed counts n issues closed at t (also progress). */
void anom_observe_closed(anom_state_t *s, time_t t, unsigned n);
/* anom_observe_ci counts one workflow run finished at t. */
void anom_observe_ci(anom_state_t *s, time_t t, bool failed);
/* anom_observe_resource records the used fraction (0..1) of a disk or of
 * memory at t; -ENOSPC when ANOM_MAX_RESOURCES names are tracked already,
 * -EINVAL for a fraction outside 0..1 or an empty name. */
int anom_observe_resource(anom_state_t *s, const char *name, time_t t,
                          double used);

/* A transition: started true when the anomaly began, false when it ended
 * (a copy of the anomaly as it was last active). */
typedef void (*anom_transition_fn)(const anom_t *a, bool started, void *ctx);

/* anom_evaluate runs every enabled detector at now, replaces the active
 * list, and calls cb (may be NULL) once per anomaly that started or ended
 * since the previous evaluation. Returns the number of active anomalies. */
int anom_evaluate(anom_state_t *s, time_t now, anom_transition_fn cb,
                  void *ctx);

/* --- anomaly_history.c: persistence (libqiflow's JSON reader/writer) --- */

#define ANOM_HISTORY_VERSION 1

/* anom_history_render writes s's history and active list as the JSON of
 * schema/anomaly-history.schema.json into a new buffer the caller frees. */
int anom_history_render(const anom_state_t *s, time_t now, char **out,
                        size_t *len);
/* anom_history_parse restores the history of text into s (whose cfg is
 * kept); 0, or -EINVAL with the reason in err (s is then left as
 * anom_init made it). */
int anom_history_parse(anom_state_t *s, const char *text, char *err,
                       size_t errlen);
/* anom_snapshot_render writes the active list as the JSON of
 * schema/anomalies-snapshot.schema.json; the caller frees *out. */
int anom_snapshot_render(const anom_state_t *s, time_t now, char **out,
                         size_t *len);

#endif
