/* anomaly_replay.c: the replay benchmark of the anomaly detectors (issue
 * 17). Seeded synthetic swarms live ten weeks of simulated time in 10-minute
 * steps: agents pick up tasks with log-normal durations, more on weekday
 * days than at night or at weekends, sometimes restart an issue, close most
 * issues they finish, push commits in bursts, run CI that sometimes fails,
 * and use memory and disk with noise, a daily cycle and log rotation. The
 * same swarms are replayed once as they are (false alarms) and once per
 * detector with one anomaly injected at a known time (recall, time to
 * detect). The detectors' real code (qiflow_anomaly_core) sees only the
 * observations a plugin would see, never the injection; every 3.5 days the
 * history goes through its JSON and back, as a restart would.
 *
 * Usage: anomaly_replay [--seeds N] [--first S] [--assert]
 * --assert exits 1 unless recall >= 95 % within two evaluation intervals
 * for every detector and false alarms <= 1 per swarm-week (all detectors). */
#include "anomaly.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP 600L
#define HOUR 3600L
#define DAY 86400L
#define WEEK (7 * DAY)
#define WEEKS 10
#define LEARN_WEEKS 2  /* false alarms counted after this */
#define T0 1767225600L /* 2026-01-01T00:00:00Z, a Thursday */
#define MAX_AG 12
#define RESTART_EVERY (3 * DAY + 12 * HOUR)

/* --- a small seeded generator (splitmix64) --- */
typedef struct rng_s {
  unsigned long long s;
} rng_t;

static double rnd(rng_t *r) {
  unsigned long long z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static double rnorm(rng_t *r) {
  double u = rnd(r), v = rnd(r);
  return sqrt(-2 * log(u > 1e-300 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static double runif(rng_t *r, double a, double b) {
  return a + (b - a) * rnd(r);
}

/* --- the swarm --- */
typedef struct swarm_s {
  int n;
  double task_median, task_sigma, p_retry, p_close, commit_rate; /* /s */
  double ci_per_event, ci_fail, mem_base, mem_agent, disk_base, disk_growth;
} swarm_t;

typedef struct agent_s {
  char name[24];
  bool working;
  long issue;
  long start, end;
  int retries_left; /* looping injection: restarts still to come */
} agent_t;

enum { INJ_NONE = -1 };

typedef struct run_s {
  rng_t rng;
  swarm_t sw;
  agent_t ag[MAX_AG];
  long next_issue;
  int inject;    /* anom kind or INJ_NONE */
  long inj_at;   /* injection time */
  int inj_agent; /* agent the injection targets */
  long onset;    /* ground-truth onset, 0 until known */
  long detected; /* first matching start transition */
  int false_alarms[ANOM_KIND_COUNT];
  int learn_alarms;
  bool ci_failing;   /* last CI run failed */
  bool loop_started; /* looping injection began */
  double leak_rate;  /* running out: fraction per second */
  double leak_level;
  bool leak_disk;
  double disk;
  double quiet_truth; /* agent-seconds since the last progress */
  long now;
  anom_state_t st;
} run_t;

static void swarm_make(swarm_t *w, rng_t *r) {
  w->n = 3 + (int)(rnd(r) * 8);
  w->task_median = runif(r, 30, 120) * 60;
  w->task_sigma = runif(r, 0.35, 0.6);
  w->p_retry = runif(r, 0.01, 0.04);
  w->p_close = runif(r, 0.7, 0.9);
  w->commit_rate = runif(r, 1.5, 3.0) / HOUR;
  w->ci_per_event = 0.6;
  w->ci_fail = runif(r, 0.05, 0.2);
  w->mem_base = runif(r, 0.3, 0.5);
  w->mem_agent = runif(r, 0.01, 0.025);
  w->disk_base = runif(r, 0.4, 0.7);
  w->disk_growth = runif(r, 0.001, 0.004) / DAY;
}

/* intensity returns the chance per step that an idle agent starts work. */
static double intensity(long t) {
  long day = t / DAY, hour = t % DAY / HOUR;
  bool weekend = ((day + 3) % 7) >= 5;
  bool daytime = hour >= 8 && hour < 22;
  if (weekend)
    return daytime ? 0.12 : 0.02;
  return daytime ? 0.5 : 0.04;
}

static double task_len(run_t *x) {
  return x->sw.task_median * exp(x->sw.task_sigma * rnorm(&x->rng));
}

static bool stalled(const run_t *x, long t) {
  return x->inject == ANOM_STALLED_SWARM && t >= x->inj_at;
}

/* progress feeds one progress event at t (with a CI run now and then). */
static void progress(run_t *x, long t, unsigned closed) {
  if (stalled(x, t))
    return;
  x->quiet_truth = 0;
  if (closed)
    anom_observe_closed(&x->st, t, closed);
  else
    anom_observe_progress(&x->st, t);
  if (rnd(&x->rng) < x->sw.ci_per_event) {
    double pf = x->sw.ci_fail;
    if (x->inject == ANOM_CI_SPIKE && t >= x->inj_at)
      pf = 0.6;
    else if (x->ci_failing)
      pf = pf * 2 < 0.4 ? pf * 2 : 0.4; /* failures cluster a little */
    x->ci_failing = rnd(&x->rng) < pf;
    anom_observe_ci(&x->st, t + 300, x->ci_failing);
  }
}

static void agent_start(run_t *x, agent_t *a, long t, long issue) {
  a->working = true;
  a->issue = issue;
  a->start = t;
  a->end = t + (long)task_len(x);
  if (x->inject == ANOM_STUCK_AGENT && x->onset == 0 &&
      a == &x->ag[x->inj_agent] && t >= x->inj_at) {
    double q999 = x->sw.task_median * exp(3.09 * x->sw.task_sigma);
    x->onset = t + (long)(1.5 * q999);
    a->end = t + 4 * DAY;
  }
}

/* agent_finish ends a task at t: close, retry or loop. */
static void agent_finish(run_t *x, agent_t *a, long t) {
  if (x->inject == ANOM_LOOPING_AGENT && a == &x->ag[x->inj_agent] &&
      t >= x->inj_at) {
    if (!x->loop_started) {
      x->loop_started = true;
      a->retries_left = 6;
    }
    if (a->retries_left > 0) {
      a->retries_left--;
      if (6 - a->retries_left == 3) /* the third restart in a row */
        x->onset = t;
      agent_start(x, a, t, a->issue);
      return;
    }
  }
  if (rnd(&x->rng) < x->sw.p_retry) {
    agent_start(x, a, t, a->issue);
    return;
  }
  a->working = false;
  double pc = x->sw.p_close;
  if (x->inject == ANOM_VELOCITY_DROP && t >= x->inj_at)
    pc *= 0.25;
  if (rnd(&x->rng) < pc)
    progress(x, t, 1);
}

/* step_agents advances every agent through [t, t + STEP). */
static void step_agents(run_t *x, long t) {
  for (int i = 0; i < x->sw.n; i++) {
    agent_t *a = &x->ag[i];
    if (a->working && a->end < t + STEP)
      agent_finish(x, a, a->end);
    if (!a->working && rnd(&x->rng) < intensity(t))
      agent_start(x, a, t + (long)(rnd(&x->rng) * STEP), x->next_issue++);
  }
}

/* step_progress emits commit bursts of working agents in [t, t + STEP). */
static void step_progress(run_t *x, long t) {
  int active = 0;
  for (int i = 0; i < x->sw.n; i++)
    active += x->ag[i].working;
  double exp_events = active * x->sw.commit_rate * STEP;
  double u = rnd(&x->rng), acc = exp(-exp_events), p = acc;
  int k = 0;
  while (u > acc && k < 50) { /* Poisson bursts, 1-3 events each */
    k++;
    p *= exp_events / k;
    acc += p;
  }
  for (int i = 0; i < k; i++) {
    long at = t + (long)(rnd(&x->rng) * (STEP - 120));
    int burst = 1 + (int)(rnd(&x->rng) * 3);
    for (int b = 0; b < burst; b++)
      progress(x, at + b * 40, 0);
  }
  x->quiet_truth += active * STEP;
  if (stalled(x, t) && x->onset == 0 &&
      x->quiet_truth >= 12 / x->sw.commit_rate)
    x->onset = t + STEP;
}

/* step_resources feeds memory and disk every 2 minutes of (t - STEP, t]. */
static void step_resources(run_t *x, long t) {
  int active = 0;
  for (int i = 0; i < x->sw.n; i++)
    active += x->ag[i].working;
  for (long at = t - STEP + 120; at <= t; at += 120) {
    double hour = (double)(at % DAY) / HOUR;
    double mem = x->sw.mem_base + active * x->sw.mem_agent +
                 0.03 * sin(2 * M_PI * (hour - 9) / 24) + 0.01 * rnorm(&x->rng);
    x->disk += x->sw.disk_growth * 120;
    if (at % DAY == 3 * HOUR) /* log rotation */
      x->disk -= x->sw.disk_growth * DAY * 0.9;
    double disk = x->disk + 0.0005 * rnorm(&x->rng);
    if (x->inject == ANOM_RUNNING_OUT && at >= x->inj_at) {
      if (x->leak_rate == 0) {
        double h = runif(&x->rng, 4, 12) * HOUR;
        x->leak_disk = rnd(&x->rng) < 0.5;
        x->leak_level = x->leak_disk ? disk : mem;
        x->leak_rate = (1 - x->leak_level) / h;
        x->onset = x->inj_at;
      }
      double add = x->leak_rate * (double)(at - x->inj_at);
      if (x->leak_disk)
        disk += add;
      else
        mem += add;
    }
    mem = mem < 0 ? 0 : mem > 1 ? 1 : mem;
    disk = disk < 0 ? 0 : disk > 1 ? 1 : disk;
    anom_observe_resource(&x->st, "memory", at, mem);
    anom_observe_resource(&x->st, "disk:/", at, disk);
  }
}

static void observe_agents(run_t *x, long t) {
  anom_agent_obs_t o[MAX_AG];
  for (int i = 0; i < x->sw.n; i++) {
    agent_t *a = &x->ag[i];
    o[i].name = a->name;
    o[i].active = a->working && a->start <= t;
    o[i].issue = o[i].active ? a->issue : 0;
    o[i].task_start = o[i].active ? a->start : 0;
  }
  anom_observe_agents(&x->st, t, o, (size_t)x->sw.n);
}

static void on_transition(const anom_t *a, bool started, void *ctx) {
  run_t *x = ctx;
  if (!started)
    return;
  if (x->inject == INJ_NONE) {
    if (x->now - T0 >= LEARN_WEEKS * WEEK)
      x->false_alarms[a->kind]++;
    if (getenv("ANOMALY_REPLAY_VERBOSE") != NULL)
      fprintf(stderr, "false alarm day %ld: %s %s: %s\n", (x->now - T0) / DAY,
              anom_kind_name(a->kind), a->subject, a->reason);
    else
      x->learn_alarms++;
    return;
  }
  if ((int)a->kind != x->inject || x->detected || x->now < x->inj_at)
    return;
  if ((a->kind == ANOM_STUCK_AGENT || a->kind == ANOM_LOOPING_AGENT) &&
      strcmp(a->subject, x->ag[x->inj_agent].name) != 0)
    return;
  x->detected = x->now;
}

/* restart sends the history through its JSON and back. */
static void restart(run_t *x) {
  char *text = NULL, err[256];
  size_t len;
  if (anom_history_render(&x->st, x->now, &text, &len) != 0 ||
      anom_history_parse(&x->st, text, err, sizeof(err)) != 0) {
    fprintf(stderr, "history round trip failed: %s\n", err);
    exit(2);
  }
  free(text);
}

/* inject_time picks the injection time for kind in weeks 3..9. */
static long inject_time(rng_t *r, int kind) {
  long day = 21 + (long)(rnd(r) * 42);
  if (kind == ANOM_VELOCITY_DROP)
    return T0 + day * DAY;
  if (kind == ANOM_CI_SPIKE || kind == ANOM_STALLED_SWARM) {
    while (((T0 / DAY + day) + 3) % 7 >= 5)
      day++; /* a weekday, while the swarm works */
    return T0 + day * DAY + 10 * HOUR + (long)(rnd(r) * 6) * HOUR;
  }
  return T0 + day * DAY + (long)(rnd(r) * DAY / STEP) * STEP;
}

/* replay runs one swarm (seed) with one injection (or none). */
static void replay(run_t *x, unsigned long long seed, int inject) {
  anom_config_t cfg;
  memset(x, 0, sizeof(*x));
  x->rng.s = seed * 0x2545F4914F6CDD1Dull + 1;
  swarm_make(&x->sw, &x->rng);
  rng_t ir = {seed ^ 0xA5A5A5A5ull};
  x->inject = inject;
  x->inj_at = inject == INJ_NONE ? 0 : inject_time(&ir, inject);
  x->inj_agent = (int)(rnd(&ir) * x->sw.n);
  if (inject == ANOM_VELOCITY_DROP || inject == ANOM_CI_SPIKE)
    x->onset = x->inj_at; /* the change itself is the onset */
  x->disk = x->sw.disk_base;
  x->next_issue = 1;
  for (int i = 0; i < x->sw.n; i++)
    snprintf(x->ag[i].name, sizeof(x->ag[i].name), "agent-%d", i + 1);
  anom_config_defaults(&cfg);
  anom_init(&x->st, &cfg);
  long end = inject == INJ_NONE ? T0 + WEEKS * WEEK : x->inj_at + 4 * DAY;
  for (long t = T0; t < end; t += STEP) {
    step_agents(x, t);
    step_progress(x, t);
    x->now = t + STEP;
    observe_agents(x, x->now);
    step_resources(x, x->now);
    anom_evaluate(&x->st, x->now, on_transition, x);
    if ((x->now - T0) % RESTART_EVERY == 0)
      restart(x);
  }
}

/* The evaluation interval each detector is judged by (docs/anomaly.md). */
static long interval_of(int kind) {
  switch (kind) {
  case ANOM_VELOCITY_DROP:
    return DAY;
  case ANOM_CI_SPIKE:
    return HOUR;
  case ANOM_RUNNING_OUT:
    return 2 * HOUR; /* the fit window */
  default:
    return STEP;
  }
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int seeds = 20, first = 1;
  bool check = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
      seeds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
      first = atoi(argv[++i]);
    else if (strcmp(argv[i], "--assert") == 0)
      check = true;
    else {
      fprintf(stderr, "usage: %s [--seeds N] [--first S] [--assert]\n",
              argv[0]);
      return 2;
    }
  }
  if (seeds < 1 || seeds > 10000) {
    fprintf(stderr, "--seeds must lie in 1..10000\n");
    return 2;
  }
  static run_t x;
  int fa[ANOM_KIND_COUNT] = {0}, learn = 0;
  for (int s = first; s < first + seeds; s++) {
    replay(&x, (unsigned long long)s, INJ_NONE);
    for (int k = 0; k < ANOM_KIND_COUNT; k++)
      fa[k] += x.false_alarms[k];
    learn += x.learn_alarms;
  }
  double swarm_weeks = (double)seeds * (WEEKS - LEARN_WEEKS);
  printf("%d swarms (seeds %d..%d), %d simulated weeks each, %g scored "
         "swarm-weeks of normal history\n\n",
         seeds, first, first + seeds - 1, WEEKS, swarm_weeks);
  printf("| detector | recall (<= 2 intervals) | interval | time to detect "
         "median / max | false alarms per swarm-week |\n");
  printf("|---|---|---|---|---|\n");
  bool ok = true;
  int fa_total = 0;
  long *ttd = calloc((size_t)seeds, sizeof(long));
  if (ttd == NULL)
    return 2;
  for (int k = 0; k < ANOM_KIND_COUNT; k++) {
    int hit = 0, n = 0, missed_onset = 0;
    for (int s = first; s < first + seeds; s++) {
      replay(&x, (unsigned long long)s, k);
      if (x.onset == 0) {
        missed_onset++;
        continue;
      }
      long limit = x.onset + 2 * interval_of(k);
      if (x.detected && x.detected <= limit) {
        long d = x.detected - x.onset;
        ttd[hit++] = d < 0 ? 0 : d;
      } else if (getenv("ANOMALY_REPLAY_VERBOSE") != NULL) {
        fprintf(stderr,
                "missed %s seed %d: onset day %.2f, detected %s%.0f "
                "min after\n",
                anom_kind_name((anom_kind_t)k), s, (double)(x.onset - T0) / DAY,
                x.detected ? "" : "never ",
                x.detected ? (double)(x.detected - x.onset) / 60 : 0.0);
      }
      n++;
    }
    qsort(ttd, (size_t)hit, sizeof(long), cmp_long);
    double recall = n ? 100.0 * hit / n : 0;
    fa_total += fa[k];
    printf("| %s | %.1f %% (%d/%d)%s | %ld min | %s%.0f / %.0f min | %.3f |\n",
           anom_kind_name((anom_kind_t)k), recall, hit, n,
           missed_onset ? " (some injections never took)" : "",
           interval_of(k) / 60, hit ? "" : "- ", hit ? ttd[hit / 2] / 60.0 : 0,
           hit ? ttd[hit - 1] / 60.0 : 0, fa[k] / swarm_weeks);
    if (recall < 95.0 || n == 0)
      ok = false;
  }
  free(ttd);
  printf("\nall detectors: %.3f false alarms per swarm-week (target <= 1); "
         "%d more in the %d learning weeks of %d swarms\n",
         fa_total / swarm_weeks, learn, LEARN_WEEKS, seeds);
  if (fa_total / swarm_weeks > 1.0)
    ok = false;
  printf("targets %s\n", ok ? "met" : "NOT met");
  return check && !ok ? 1 : 0;
}
