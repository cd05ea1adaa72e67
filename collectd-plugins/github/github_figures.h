/* github_figures.h: the project figures and flags computed from the
 * mirror, by the rules in docs/ARCHITECTURE.md ("Project figures"). Pure logic.
 */
#ifndef GITHUB_FIGURES_H
#define GITHUB_FIGURES_H

#include "github_mirror.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_VELOCITY_DAYS 7
/* |slope| (issues/day per day) above which the trend is not "stable". */
#define GH_TREND_THRESHOLD 0.1

typedef enum {
  GH_STATUS_READY = 0,
  GH_STATUS_IN_PROGRESS,
  GH_STATUS_BLOCKED,
  GH_STATUS_DONE,
} gh_status_t;

/* Flag triggers, in the precedence used to pick the reported one. */
typedef enum {
  GH_TRIG_NONE = 0,
  GH_TRIG_CI_FAILURES,      /* critical */
  GH_TRIG_MERGE_CONFLICT,   /* critical */
  GH_TRIG_BLOCKED_TOO_LONG, /* review */
  GH_TRIG_CI_FAILURE_RATE,  /* review */
  GH_TRIG_HUMAN_LABEL,      /* review */
  GH_TRIG_COUNT
} gh_trigger_t;

/* The rules: label words and flag thresholds. */
typedef struct gh_rules_s {
  const gh_strv_t *in_progress; /* label words, case-insensitive substring */
  const gh_strv_t *blocked;
  double blocked_hours; /* flag blocked issues after this many hours */
  int failures;         /* consecutive failed runs that flag (critical) */
  double failure_rate;  /* failed / completed runs above this flags */
} gh_rules_t;

/* CI facts about one pull request. */
typedef struct gh_ci_s {
  int streak;   /* longest run of newest consecutive failures, per workflow */
  int failed;   /* failed runs remembered */
  int finished; /* failed + successful runs remembered */
} gh_ci_t;

/* Longest reason text of a flag (the longest, a CI failure rate with
 * 20-digit numbers, needs about 110 bytes). */
#define GH_REASON_LEN 160

/* What only an open issue needs: the pull requests tied to it and the
 * reason of its flag. Closed issues carry none (about 90 % of a mature
 * repository), so the figures of 100,000 issues stay small. */
typedef struct gh_issue_open_s {
  long long prs[GH_LINKS_MAX];
  char *reason; /* GH_REASON_LEN bytes once the issue was flagged, or NULL:
                   most open issues never are */
  /* Where project.json last written holds this issue (bytes at..at+len,
   * see gh_project_write) and gh_figures_shown_hash as written there. */
  size_t at, len;
  uint64_t shown;
} gh_issue_open_t;

typedef struct gh_issue_fig_s {
  const gh_item_t *item;
  const char *reason;    /* the flag's reason, "" when unflagged */
  const long long *prs;  /* open pull requests tied to the issue, nprs */
  gh_issue_open_t *open; /* NULL for a closed issue */
  double blocked_hours;  /* < 0 when not blocked */
  gh_status_t status;
  gh_trigger_t trigger;   /* the reported one, GH_TRIG_NONE when unflagged */
  unsigned char triggers; /* bit (1 << trigger) for every trigger that holds */
  unsigned char pr_triggers; /* the part of triggers its pull requests raise */
  unsigned char nprs;
} gh_issue_fig_t;

typedef struct gh_figures_s {
  size_t total, done, in_progress, ready, blocked;
  size_t open_issues, open_prs, flagged, flagged_critical;
  int completion_percentage;
  int daily[GH_VELOCITY_DAYS]; /* oldest first; the last ends now */
  double per_day, slope;
  const char *trend;
  long long eta;             /* estimated completion time, 0 when absent */
  gh_issue_fig_t *issues;    /* every issue, by number descending */
  const gh_mirror_t *mirror; /* computed from: the items (and their URLs) */
  size_t nissues;
  long long last_pr_update; /* newest updated_at of a pull request, 0: none */

  /* What gh_figures_update keeps between calls. */
  gh_issue_open_t *opens; /* one per open issue */
  long long *closed;      /* closing times velocity may still count, newest
                             first */
  size_t nclosed;
  uint64_t
      static_hash; /* what the issues array shows that time does not move */
  unsigned long long gen; /* the mirror generation computed from */
  long long computed_at;  /* now of the full computation, 0: none yet */
} gh_figures_t;

/* gh_figures_compute fills f from the mirror at time now; the caller
 * frees f with gh_figures_free. 0 or -ENOMEM. */
int gh_figures_compute(const gh_mirror_t *m, const gh_rules_t *rules,
                       long long now, gh_figures_t *f);

/* gh_figures_update brings f (zeroed, or kept from an earlier call with the
 * same mirror and rules) up to date at time now. When the mirror's
 * generation is the one f was computed from, only what moves with time is
 * recomputed: blocked hours and the flags and reasons they decide, the
 * velocity window and the estimate; else everything. *full tells which.
 * 0 or -ENOMEM (f is then freed and zeroed). */
int gh_figures_update(const gh_mirror_t *m, const gh_rules_t *rules,
                      long long now, gh_figures_t *f, bool *full);
void gh_figures_free(gh_figures_t *f);

/* gh_figures_shown_hash digests what time moves in an issue's element of
 * the "issues" array: its flag, reason and blocked hours as rendered. */
uint64_t gh_figures_shown_hash(const gh_issue_fig_t *fig);

/* gh_figures_issues_hash digests everything the "issues" array is rendered
 * from: equal hashes, same array. */
uint64_t gh_figures_issues_hash(const gh_figures_t *f);

/* gh_issue_status buckets one issue by state and label words. */
gh_status_t gh_issue_status(const gh_item_t *it, const gh_rules_t *rules);

/* gh_pr_links_issue tells whether pull request pr is tied to issue
 * number: by its branch feature/issue-N, or by its title/body links. */
bool gh_pr_links_issue(const gh_item_t *pr, long long number);

/* gh_pr_ci summarises the remembered workflow runs of a pull request
 * (matched by the run's pull request numbers or its head branch). */
gh_ci_t gh_pr_ci(const gh_mirror_t *m, const gh_item_t *pr);

/* gh_closed_counts_for_velocity tells whether an issue closed with that
 * state reason counts as done work (not "not_planned" or "duplicate"). */
bool gh_closed_counts_for_velocity(const char *state_reason);

/* gh_trend names the trend of a least-squares slope. */
const char *gh_trend(double slope);

/* Names of triggers/statuses as written in project.json. */
const char *gh_trigger_name(gh_trigger_t t);
/* gh_trigger_by_name is the trigger so named; GH_TRIG_NONE for "", NULL or
 * a name this version does not know. */
gh_trigger_t gh_trigger_by_name(const char *name);
bool gh_trigger_critical(gh_trigger_t t);
const char *gh_status_name(gh_status_t s);

#endif
