/* Unit tests for github_figures: status buckets, completion, velocity and
 * ETA arithmetic, trend, every flag trigger, pull request links; and the
 * mirror rules they rest on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "github_figures.h"
#include "github_parse.h"
#include "github_snapshot.h"

#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1795773600LL /* 2026-11-27T10:00:00Z */
#define HOUR 3600LL
#define DAY 86400LL

/* The test fixture: a mirror and the default rules. */
typedef struct fx_s {
  gh_mirror_t m;
  gh_strv_t in_progress, blocked;
  gh_rules_t rules;
} fx_t;

static int fx_setup(void **state) {
  fx_t *fx = calloc(1, sizeof(*fx));
  gh_mirror_init(&fx->m);
  gh_strv_push(&fx->in_progress, "in progress");
  gh_strv_push(&fx->in_progress, "in-progress");
  gh_strv_push(&fx->in_progress, "wip");
  gh_strv_push(&fx->blocked, "blocked");
  gh_strv_push(&fx->blocked, "human");
  fx->rules = (gh_rules_t){.in_progress = &fx->in_progress,
                           .blocked = &fx->blocked,
                           .blocked_hours = 24,
                           .failures = 3,
                           .failure_rate = 0.10};
  *state = fx;
  return 0;
}

static int fx_teardown(void **state) {
  fx_t *fx = *state;
  gh_mirror_free(&fx->m);
  gh_strv_free(&fx->in_progress);
  gh_strv_free(&fx->blocked);
  free(fx);
  return 0;
}

/* issue adds an issue; labels is a NULL-terminated list. */
static gh_item_t *issue(fx_t *fx, long long n, bool open, long long closed_at,
                        const char *reason, const char *const *labels) {
  gh_item_t *it = gh_item_new(n);
  char title[32], url[64];
  snprintf(title, sizeof(title), "Issue %lld", n);
  snprintf(url, sizeof(url), "https://github.com/a/b/issues/%lld", n);
  it->title = strdup(title);
  it->html_url = strdup(url);
  it->open = open;
  it->created_at = NOW - 30 * DAY;
  it->updated_at = closed_at ? closed_at : NOW - 10 * DAY;
  it->closed_at = closed_at;
  it->state_reason = reason ? strdup(reason) : NULL;
  for (size_t i = 0; labels != NULL && labels[i] != NULL; i++)
    gh_strv_push(&it->labels, labels[i]);
  assert_int_equal(gh_mirror_insert(&fx->m, it), 0);
  return it;
}

/* pr adds an open pull request on branch with a mergeable state. */
static gh_item_t *pr(fx_t *fx, long long n, const char *title,
                     const char *branch, const char *mergeable) {
  gh_item_t *it = gh_item_new(n);
  it->is_pr = true;
  it->open = true;
  it->title = strdup(title);
  it->html_url = strdup("https://github.com/a/b/pull/x");
  it->created_at = it->updated_at = NOW - DAY;
  gh_pr_t d = {.branch = branch ? strdup(branch) : NULL,
               .mergeable_state = mergeable ? strdup(mergeable) : NULL};
  d.nlinks = (unsigned char)gh_text_links(title, NULL, d.links, GH_LINKS_MAX);
  assert_int_equal(gh_item_set_pr(it, &d), 0);
  assert_true(it->pr != NULL || (!branch && !mergeable && d.nlinks == 0));
  assert_int_equal(gh_mirror_insert(&fx->m, it), 0);
  return it;
}

/* run adds a workflow run of pull request prn (newest last added). */
static void run(fx_t *fx, long long id, long long prn, long long wf,
                int verdict) {
  gh_run_t r = {.id = id,
                .workflow_id = wf,
                .created_at = NOW - 1000 + id,
                .verdict = verdict,
                .prs = {prn},
                .nprs = 1};
  bool changed;
  assert_int_equal(gh_mirror_merge_runs(&fx->m, &r, 1, &changed), 0);
}

/* fig returns the figure of issue n. */
static const gh_issue_fig_t *fig(const gh_figures_t *f, long long n) {
  for (size_t i = 0; i < f->nissues; i++)
    if (f->issues[i].item->number == n)
      return &f->issues[i];
  fail_msg("issue %lld missing", n);
  return NULL;
}

static const char *const L_BLOCKED[] = {"Blocked", NULL};
static const char *const L_WIP[] = {"bug", "WIP", NULL};
static const char *const L_BOTH[] = {"in-progress", "blocked-upstream", NULL};
static const char *const L_HUMAN[] = {"needs-human", NULL};
static const char *const L_INPROG[] = {"In Progress", NULL};

static void test_buckets(void **state) {
  fx_t *fx = *state;
  issue(fx, 1, true, 0, NULL, NULL);
  issue(fx, 2, true, 0, NULL, L_WIP);
  issue(fx, 3, true, 0, NULL, L_BOTH);
  issue(fx, 4, true, 0, NULL, L_INPROG);
  issue(fx, 5, false, NOW - DAY, "completed", L_BLOCKED);
  issue(fx, 6, true, 0, NULL, L_BLOCKED);
  pr(fx, 7, "unrelated", "topic", "clean");
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_int_equal(f.total, 6);
  assert_int_equal(f.done, 1);
  assert_int_equal(f.ready, 1);
  assert_int_equal(f.in_progress, 2);
  assert_int_equal(f.blocked, 2);
  assert_int_equal(f.open_issues, 5);
  assert_int_equal(f.open_prs, 1);
  assert_int_equal(f.completion_percentage, 17); /* 1/6 = 16.7 */
  assert_int_equal(fig(&f, 1)->status, GH_STATUS_READY);
  assert_int_equal(fig(&f, 2)->status, GH_STATUS_IN_PROGRESS);
  assert_int_equal(fig(&f, 3)->status, GH_STATUS_BLOCKED);
  assert_int_equal(fig(&f, 5)->status, GH_STATUS_DONE);
  /* Sorted by number, descending; the pull request is not an issue. */
  assert_int_equal(f.nissues, 6);
  assert_int_equal(f.issues[0].item->number, 6);
  assert_int_equal(f.issues[5].item->number, 1);
  gh_figures_free(&f);
}

static void test_zero_issues(void **state) {
  fx_t *fx = *state;
  pr(fx, 1, "only a pull request", NULL, NULL);
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_int_equal(f.total, 0);
  assert_int_equal(f.completion_percentage, 0);
  assert_true(f.per_day == 0);
  assert_int_equal(f.eta, 0);
  assert_string_equal(f.trend, "stable");
  assert_int_equal(f.nissues, 0);
  gh_figures_free(&f);
}

static void test_completion_rounding(void **state) {
  fx_t *fx = *state;
  static const struct {
    int done, total, want;
  } cases[] = {{2, 3, 67},  {1, 8, 13},  {0, 5, 0},
               {5, 5, 100}, {1, 200, 1}, {1, 201, 0}};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    gh_mirror_free(&fx->m);
    for (int i = 1; i <= cases[c].total; i++)
      issue(fx, i, i > cases[c].done, i <= cases[c].done ? NOW - 60 * DAY : 0,
            NULL, NULL);
    gh_figures_t f;
    assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
    if (f.completion_percentage != cases[c].want)
      fail_msg("case %zu: %d%%, want %d%%", c, f.completion_percentage,
               cases[c].want);
    gh_figures_free(&f);
  }
}

static void test_velocity_and_eta(void **state) {
  fx_t *fx = *state;
  /* Closed 0.5, 1.5, ... 6.5 days ago: one per daily bucket; one more
   * today; closed too long ago, not planned, or a duplicate: not counted. */
  for (int d = 0; d < 7; d++)
    issue(fx, 10 + d, false, NOW - d * DAY - DAY / 2, "completed", NULL);
  issue(fx, 20, false, NOW - HOUR, NULL, NULL);
  issue(fx, 21, false, NOW - 7 * DAY - 1, "completed", NULL);
  issue(fx, 22, false, NOW - HOUR, "not_planned", NULL);
  issue(fx, 23, false, NOW - HOUR, "duplicate", NULL);
  issue(fx, 24, false, NOW + 120, "completed", NULL); /* clock skew */
  for (int i = 0; i < 9; i++)
    issue(fx, 30 + i, true, 0, NULL, NULL);
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  static const int daily[7] = {1, 1, 1, 1, 1, 1, 3};
  for (int i = 0; i < 7; i++)
    assert_int_equal(f.daily[i], daily[i]);
  assert_true(fabs(f.per_day - 9.0 / 7) < 1e-9);
  /* slope = sum((x - 3) y) / 28 = 3 * 2 / 28 */
  assert_true(fabs(f.slope - 6.0 / 28) < 1e-9);
  assert_string_equal(f.trend, "increasing");
  /* 9 open / (9/7 per day) = 7 days (give the float its last second). */
  assert_in_range(f.eta, NOW + 7 * DAY, NOW + 7 * DAY + 1);
  gh_figures_free(&f);
}

static void test_trend_thresholds(void **state) {
  (void)state; /* unused */
  assert_string_equal(gh_trend(0), "stable");
  assert_string_equal(gh_trend(GH_TREND_THRESHOLD), "stable");
  assert_string_equal(gh_trend(-GH_TREND_THRESHOLD), "stable");
  assert_string_equal(gh_trend(0.11), "increasing");
  assert_string_equal(gh_trend(-0.11), "decreasing");
}

static void test_decreasing_and_no_velocity(void **state) {
  fx_t *fx = *state;
  /* Three closed six days ago, none since: decreasing. */
  for (int i = 0; i < 3; i++)
    issue(fx, 1 + i, false, NOW - 6 * DAY - HOUR, NULL, NULL);
  issue(fx, 9, true, 0, NULL, NULL);
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_int_equal(f.daily[0], 3);
  assert_true(fabs(f.slope + 9.0 / 28) < 1e-9);
  assert_string_equal(f.trend, "decreasing");
  /* 1 open / (3/7) = 2.33 days: rounded up to the second. */
  assert_in_range(f.eta, NOW + 7 * DAY / 3, NOW + 7 * DAY / 3 + 1);
  gh_figures_free(&f);
  gh_mirror_free(&fx->m);
  issue(fx, 1, false, NOW - 30 * DAY, NULL, NULL);
  issue(fx, 2, true, 0, NULL, NULL);
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_true(f.per_day == 0);
  assert_int_equal(f.eta, 0); /* absent without velocity */
  gh_figures_free(&f);
}

static void test_flag_blocked_too_long(void **state) {
  fx_t *fx = *state;
  issue(fx, 1, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 25 * HOUR;
  issue(fx, 2, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 23 * HOUR;
  issue(fx, 3, false, NOW - HOUR, NULL, L_BLOCKED)->blocked_since =
      NOW - 99 * HOUR;
  gh_item_t *pending = issue(fx, 4, true, 0, NULL, L_BLOCKED);
  pending->blocked_since = NOW - 99 * HOUR; /* an estimate so far */
  pending->events_stale = true;
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  const gh_issue_fig_t *a = fig(&f, 1);
  assert_int_equal(a->trigger, GH_TRIG_BLOCKED_TOO_LONG);
  assert_false(gh_trigger_critical(a->trigger));
  assert_true(fabs(a->blocked_hours - 25) < 1e-9);
  assert_string_equal(a->reason, "blocked for 25.0 hours (over 24)");
  assert_int_equal(fig(&f, 2)->trigger, GH_TRIG_NONE);
  assert_int_equal(fig(&f, 3)->trigger, GH_TRIG_NONE); /* closed */
  assert_int_equal(fig(&f, 4)->trigger, GH_TRIG_NONE); /* events pending */
  assert_int_equal(f.flagged, 1);
  assert_int_equal(f.flagged_critical, 0);
  gh_figures_free(&f);
}

static void test_flag_human_label(void **state) {
  fx_t *fx = *state;
  /* "needs-human" is also a blocking word: blocked, and flagged for the
   * label even before the blocked time runs out. */
  issue(fx, 1, true, 0, NULL, L_HUMAN)->blocked_since = NOW - HOUR;
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_int_equal(fig(&f, 1)->status, GH_STATUS_BLOCKED);
  assert_int_equal(fig(&f, 1)->trigger, GH_TRIG_HUMAN_LABEL);
  assert_string_equal(gh_trigger_name(GH_TRIG_HUMAN_LABEL), "human_label");
  gh_figures_free(&f);
}

static void test_flag_merge_conflict(void **state) {
  fx_t *fx = *state;
  issue(fx, 10, true, 0, NULL, NULL);
  issue(fx, 11, true, 0, NULL, NULL);
  issue(fx, 12, true, 0, NULL, NULL);
  pr(fx, 20, "Implement the thing", "feature/issue-10", "dirty");
  pr(fx, 21, "Issue #11 fix", "topic", "clean");
  pr(fx, 22, "Issue #12 fix", "topic", "unknown");
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  const gh_issue_fig_t *a = fig(&f, 10);
  assert_int_equal(a->trigger, GH_TRIG_MERGE_CONFLICT);
  assert_true(gh_trigger_critical(a->trigger));
  assert_string_equal(a->reason, "merge conflict on pull request #20");
  assert_int_equal(a->nprs, 1);
  assert_int_equal(a->prs[0], 20);
  assert_int_equal(fig(&f, 11)->trigger, GH_TRIG_NONE);
  assert_int_equal(fig(&f, 11)->prs[0], 21);
  assert_int_equal(fig(&f, 12)->trigger, GH_TRIG_NONE);
  assert_int_equal(f.flagged_critical, 1);
  gh_figures_free(&f);
}

static void test_flag_ci(void **state) {
  fx_t *fx = *state;
  issue(fx, 1, true, 0, NULL, NULL);
  issue(fx, 2, true, 0, NULL, NULL);
  issue(fx, 3, true, 0, NULL, NULL);
  issue(fx, 4, true, 0, NULL, NULL);
  pr(fx, 11, "Issue #1", NULL, "clean");
  pr(fx, 12, "Issue #2", NULL, "clean");
  pr(fx, 13, "Issue #3", NULL, "clean");
  pr(fx, 14, "Issue #4", NULL, "dirty");
  /* PR 11: success, then 3 failures (newest): critical streak. */
  run(fx, 1, 11, 1, GH_VERDICT_SUCCESS);
  run(fx, 2, 11, 1, GH_VERDICT_FAILURE);
  run(fx, 3, 11, 1, GH_VERDICT_PENDING);
  run(fx, 4, 11, 1, GH_VERDICT_FAILURE);
  run(fx, 5, 11, 1, GH_VERDICT_FAILURE);
  /* PR 12: three failures, then a success and a cancelled run (newest):
   * no streak, but 3 of 4 finished runs failed, 75% > 10%: review. */
  run(fx, 6, 12, 1, GH_VERDICT_FAILURE);
  run(fx, 7, 12, 1, GH_VERDICT_FAILURE);
  run(fx, 8, 12, 1, GH_VERDICT_FAILURE);
  run(fx, 9, 12, 1, GH_VERDICT_SUCCESS);
  run(fx, 10, 12, 1, GH_VERDICT_OTHER);
  /* PR 13: all green: nothing. */
  run(fx, 11, 13, 1, GH_VERDICT_SUCCESS);
  run(fx, 12, 13, 1, GH_VERDICT_SUCCESS);
  /* PR 14: conflict and 3 failures of workflow 2 while workflow 1 passes
   * (per workflow streak); both critical, ci_failures reported first. */
  run(fx, 13, 14, 2, GH_VERDICT_FAILURE);
  run(fx, 14, 14, 1, GH_VERDICT_SUCCESS);
  run(fx, 15, 14, 2, GH_VERDICT_FAILURE);
  run(fx, 16, 14, 2, GH_VERDICT_FAILURE);
  run(fx, 17, 14, 1, GH_VERDICT_SUCCESS);
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  const gh_issue_fig_t *a = fig(&f, 1), *b = fig(&f, 2), *d = fig(&f, 4);
  assert_int_equal(a->trigger, GH_TRIG_CI_FAILURES);
  assert_string_equal(a->reason,
                      "3 consecutive failed CI runs on pull request #11");
  assert_true(a->triggers & (1u << GH_TRIG_CI_FAILURE_RATE));
  assert_int_equal(b->trigger, GH_TRIG_CI_FAILURE_RATE);
  assert_string_equal(b->reason, "CI failure rate 75% (3 of 4 runs) on pull "
                                 "request #12 is over 10%");
  assert_int_equal(fig(&f, 3)->trigger, GH_TRIG_NONE);
  assert_int_equal(d->trigger, GH_TRIG_CI_FAILURES);
  assert_true(d->triggers & (1u << GH_TRIG_MERGE_CONFLICT));
  gh_ci_t ci = gh_pr_ci(&fx->m, gh_mirror_find(&fx->m, 14));
  assert_int_equal(ci.streak, 3);
  assert_int_equal(ci.failed, 3);
  assert_int_equal(ci.finished, 5);
  gh_figures_free(&f);
  /* A rate exactly at the threshold does not flag. */
  fx->rules.failure_rate = 0.75;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_int_equal(fig(&f, 2)->trigger, GH_TRIG_NONE);
  gh_figures_free(&f);
}

static void test_pr_links(void **state) {
  fx_t *fx = *state;
  issue(fx, 5, true, 0, NULL, NULL);
  issue(fx, 6, false, NOW - DAY, NULL, NULL);
  gh_item_t *p = pr(fx, 7, "Refactor", "feature/issue-5-parser", NULL);
  assert_true(gh_pr_links_issue(p, 5));
  assert_false(gh_pr_links_issue(p, 6));
  gh_pr_t *d = gh_item_pr_mut(p);
  d->links[d->nlinks++] = 6; /* "closes #6" in its body */
  assert_true(gh_pr_links_issue(p, 6));
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  assert_int_equal(fig(&f, 5)->nprs, 1);
  assert_int_equal(fig(&f, 6)->nprs, 0); /* closed issues get none */
  gh_figures_free(&f);
  /* Runs belong to a pull request by number or by head branch. */
  gh_run_t r = {.id = 1,
                .created_at = NOW,
                .verdict = GH_VERDICT_FAILURE,
                .branch = strdup("feature/issue-5-parser")};
  bool changed;
  assert_int_equal(gh_mirror_merge_runs(&fx->m, &r, 1, &changed), 0);
  assert_int_equal(gh_pr_ci(&fx->m, p).failed, 1);
}

/* Mirror rules the figures rely on. */
static void test_mirror_apply(void **state) {
  fx_t *fx = *state;
  bool changed;
  gh_item_t *a = gh_item_new(1);
  a->title = strdup("t");
  a->open = true;
  a->updated_at = 100;
  gh_strv_push(&a->labels, "blocked");
  assert_int_equal(gh_mirror_apply(&fx->m, a, &fx->blocked, &changed), 0);
  assert_true(changed);
  gh_item_t *m1 = gh_mirror_find(&fx->m, 1);
  assert_int_equal(m1->blocked_since, 100); /* provisional: last update */
  assert_true(m1->events_stale);
  m1->blocked_since = 50; /* learnt from events */
  m1->blocked_exact = true;
  m1->events_stale = false;
  m1->notified = GH_TRIG_BLOCKED_TOO_LONG; /* stored by its name */
  assert_int_equal(gh_trigger_by_name("blocked_too_long"),
                   GH_TRIG_BLOCKED_TOO_LONG);
  assert_int_equal(gh_trigger_by_name(""), GH_TRIG_NONE);
  assert_int_equal(gh_trigger_by_name("from_a_later_version"), GH_TRIG_NONE);
  /* An older copy is ignored. */
  gh_item_t *old = gh_item_new(1);
  old->title = strdup("older");
  old->updated_at = 90;
  assert_int_equal(gh_mirror_apply(&fx->m, old, &fx->blocked, &changed), 0);
  assert_false(changed);
  assert_string_equal(gh_mirror_find(&fx->m, 1)->title, "t");
  /* A newer copy with the same blocking labels keeps the learnt time. */
  gh_item_t *b = gh_item_new(1);
  b->title = strdup("t2");
  b->open = true;
  b->updated_at = 200;
  gh_strv_push(&b->labels, "blocked");
  gh_strv_push(&b->labels, "bug");
  assert_int_equal(gh_mirror_apply(&fx->m, b, &fx->blocked, &changed), 0);
  assert_true(changed);
  m1 = gh_mirror_find(&fx->m, 1);
  assert_int_equal(m1->blocked_since, 50);
  assert_int_equal(m1->notified, GH_TRIG_BLOCKED_TOO_LONG);
  assert_false(m1->events_stale);
  /* Another blocking label: learn again. */
  gh_item_t *c = gh_item_new(1);
  c->title = strdup("t2");
  c->open = true;
  c->updated_at = 300;
  gh_strv_push(&c->labels, "blocked");
  gh_strv_push(&c->labels, "human");
  assert_int_equal(gh_mirror_apply(&fx->m, c, &fx->blocked, &changed), 0);
  m1 = gh_mirror_find(&fx->m, 1);
  assert_int_equal(m1->blocked_since, 300);
  assert_true(m1->events_stale);
  /* A changed pull request needs its detail again; details survive. */
  gh_item_t *p = gh_item_new(2);
  p->title = strdup("p");
  p->is_pr = p->open = true;
  p->updated_at = 10;
  assert_int_equal(gh_mirror_apply(&fx->m, p, &fx->blocked, &changed), 0);
  gh_item_t *m2 = gh_mirror_find(&fx->m, 2);
  assert_true(m2->detail_stale);
  m2->detail_stale = false;
  gh_item_pr_mut(m2)->mergeable_state = strdup("dirty");
  p = gh_item_new(2);
  p->title = strdup("p");
  p->is_pr = p->open = true;
  p->updated_at = 20;
  assert_int_equal(gh_mirror_apply(&fx->m, p, &fx->blocked, &changed), 0);
  m2 = gh_mirror_find(&fx->m, 2);
  assert_true(m2->detail_stale);
  assert_string_equal(gh_item_pr(m2)->mergeable_state, "dirty");
  /* Read back under other words: "human" alone no longer blocks. */
  gh_strv_t only_blocked = {NULL, 0};
  gh_strv_push(&only_blocked, "blocked");
  m1 = gh_mirror_find(&fx->m, 1);
  gh_strv_free(&m1->labels);
  gh_strv_push(&m1->labels, "human");
  gh_mirror_settle_all(&fx->m, &only_blocked);
  assert_int_equal(m1->blocked_since, 0);
  assert_false(m1->events_stale);
  gh_mirror_settle_all(&fx->m, &fx->blocked); /* and back */
  assert_int_equal(m1->blocked_since, 300);
  assert_true(m1->events_stale);
  gh_strv_free(&only_blocked);
  /* Listing bookkeeping. */
  gh_mirror_clear_seen(&fx->m);
  m2->seen = true;
  assert_int_equal(gh_mirror_drop_unseen(&fx->m), 1);
  assert_null(gh_mirror_find(&fx->m, 1));
  assert_non_null(gh_mirror_find(&fx->m, 2));
}

static void test_mirror_runs_and_etags(void **state) {
  fx_t *fx = *state;
  bool changed;
  for (long long i = 1; i <= GH_RUNS_KEEP + 20; i++) {
    gh_run_t r = {.id = i, .created_at = i, .verdict = GH_VERDICT_PENDING};
    assert_int_equal(gh_mirror_merge_runs(&fx->m, &r, 1, &changed), 0);
  }
  assert_int_equal(fx->m.nruns, GH_RUNS_KEEP);
  assert_int_equal(fx->m.runs[0].id, GH_RUNS_KEEP + 20); /* newest first */
  gh_run_t same = {.id = GH_RUNS_KEEP + 20,
                   .created_at = GH_RUNS_KEEP + 20,
                   .verdict = GH_VERDICT_PENDING};
  assert_int_equal(gh_mirror_merge_runs(&fx->m, &same, 1, &changed), 0);
  assert_false(changed);
  same.verdict = GH_VERDICT_SUCCESS; /* the run completed */
  assert_int_equal(gh_mirror_merge_runs(&fx->m, &same, 1, &changed), 0);
  assert_true(changed);
  assert_int_equal(fx->m.runs[0].verdict, GH_VERDICT_SUCCESS);

  char url[64];
  for (int i = 0; i < GH_ETAGS_MAX + 5; i++) {
    fx->m.cycle = i;
    snprintf(url, sizeof(url), "https://x/%d", i);
    assert_int_equal(gh_etag_set(&fx->m, url, "W/\"e\""), 0);
  }
  assert_int_equal(fx->m.netags, GH_ETAGS_MAX);
  assert_null(gh_etag_get(&fx->m, "https://x/0")); /* least recent evicted */
  assert_string_equal(gh_etag_get(&fx->m, "https://x/9"), "W/\"e\"");
  gh_etag_drop(&fx->m, "https://x/9");
  assert_null(gh_etag_get(&fx->m, "https://x/9"));
  assert_int_equal(gh_etag_set(&fx->m, "https://x/10", ""), 0);
  assert_null(gh_etag_get(&fx->m, "https://x/10"));
}

/* The rendered project.json carries the figures and parses back. */
static void test_render(void **state) {
  fx_t *fx = *state;
  issue(fx, 1, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 30 * HOUR;
  issue(fx, 2, false, NOW - HOUR, "completed", NULL);
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  gh_health_t h = {.last_sync = NOW - 12,
                   .rl_remaining = 4990,
                   .rl_limit = 5000,
                   .rl_reset = NOW + 100,
                   .requests = 3,
                   .not_modified = 3,
                   .recent_commits = 31,
                   .recent_commits_days = 7,
                   .sync_complete = true};
  char *json = NULL;
  size_t len = 0;
  assert_int_equal(gh_snapshot_project("a/b", &f, &h, NOW, &json, &len), 0);
  yajl_val doc = qf_json_parse(json, NULL, 0);
  assert_non_null(doc);
  long long v;
  assert_int_equal(qf_json_get_int(doc, "sync_age_seconds", &v), 0);
  assert_int_equal(v, 12);
  yajl_val comp = qf_json_get(doc, "completion");
  assert_int_equal(qf_json_get_int(comp, "completion_percentage", &v), 0);
  assert_int_equal(v, 50);
  assert_string_equal(qf_json_get_str(doc, "estimated_completion_date"),
                      "2026-12-04"); /* 1 open at 1/7 a day */
  yajl_val issues = qf_json_get(doc, "issues");
  assert_int_equal(issues->u.array.len, 2);
  yajl_val first = issues->u.array.values[0];
  assert_int_equal(qf_json_get_int(first, "id", &v), 0);
  assert_int_equal(v, 2); /* by number, descending */
  yajl_val second = issues->u.array.values[1];
  assert_string_equal(qf_json_get_str(second, "priority"), "review");
  assert_string_equal(qf_json_get_str(second, "trigger"), "blocked_too_long");
  double hours;
  assert_int_equal(qf_json_get_double(second, "blocked_duration_hours", &hours),
                   0);
  assert_true(fabs(hours - 30) < 1e-9);
  assert_null(qf_json_get_str(first, "priority"));
  assert_null(qf_json_get_str(doc, "last_error"));
  yajl_tree_free(doc);
  free(json);
  gh_figures_free(&f);
}

/* ci_at reads ci_runs[i] of doc: its time and whether it failed. */
static void ci_at(yajl_val doc, size_t i, long long at, bool failed) {
  yajl_val runs = qf_json_get(doc, "ci_runs");
  assert_true(YAJL_IS_ARRAY(runs) && i < runs->u.array.len);
  yajl_val r = runs->u.array.values[i];
  char want[32];
  assert_int_equal(qf_time_format((time_t)at, want, sizeof(want)), 0);
  assert_string_equal(qf_json_get_str(r, "at"), want);
  assert_true(YAJL_IS_TRUE(qf_json_get(r, "failed")) == failed);
}

/* render_head_doc renders the head of project.json with h and parses it
 * (the "issues" key is closed with an empty array). */
static yajl_val render_head_doc(fx_t *fx, const gh_health_t *h) {
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &f), 0);
  char *json = NULL;
  size_t len = 0;
  assert_int_equal(gh_snapshot_project("a/b", &f, h, NOW, &json, &len), 0);
  yajl_val doc = qf_json_parse(json, NULL, 0);
  assert_non_null(doc);
  free(json);
  gh_figures_free(&f);
  return doc;
}

/* The head's ci_runs: passed and failed runs only, newest first, none
 * from a run still pending on (unless pending for hours), at most
 * GH_CI_RUNS_RENDER; activity: the newest pull request update. Without a
 * mirror neither is written. */
static void test_render_ci_runs_activity(void **state) {
  fx_t *fx = *state;
  gh_health_t h = {.recent_commits = -1, .recent_commits_days = 7};
  yajl_val doc = render_head_doc(fx, &h);
  assert_null(qf_json_get(doc, "ci_runs"));
  assert_null(qf_json_get(doc, "activity"));
  yajl_tree_free(doc);

  h.mirror = &fx->m;
  doc = render_head_doc(fx, &h);
  assert_int_equal(qf_json_get(doc, "ci_runs")->u.array.len, 0);
  assert_true(YAJL_IS_NULL(
      qf_json_get(qf_json_get(doc, "activity"), "last_pull_request_update")));
  yajl_tree_free(doc);

  run(fx, 1, 10, 1, GH_VERDICT_SUCCESS);
  run(fx, 2, 10, 1, GH_VERDICT_FAILURE);
  run(fx, 3, 10, 1, GH_VERDICT_OTHER);
  run(fx, 4, 10, 1, GH_VERDICT_SUCCESS);
  run(fx, 5, 10, 1, GH_VERDICT_PENDING);
  run(fx, 6, 10, 1, GH_VERDICT_FAILURE);
  gh_run_t old = {.id = 7,
                  .workflow_id = 1,
                  .created_at = NOW - 7 * HOUR,
                  .verdict = GH_VERDICT_PENDING};
  bool changed;
  assert_int_equal(gh_mirror_merge_runs(&fx->m, &old, 1, &changed), 0);
  issue(fx, 1, true, 0, NULL, NULL)->updated_at = NOW - 5;
  gh_item_t *pr = gh_item_new(10);
  pr->is_pr = true;
  pr->open = true;
  pr->updated_at = NOW - 50;
  assert_int_equal(gh_mirror_insert(&fx->m, pr), 0);
  doc = render_head_doc(fx, &h);
  assert_int_equal(qf_json_get(doc, "ci_runs")->u.array.len, 3); /* 5 holds */
  ci_at(doc, 0, NOW - 1000 + 4, false);
  ci_at(doc, 1, NOW - 1000 + 2, true);
  ci_at(doc, 2, NOW - 1000 + 1, false);
  char want[32];
  qf_time_format((time_t)(NOW - 50), want, sizeof(want));
  assert_string_equal(
      qf_json_get_str(qf_json_get(doc, "activity"), "last_pull_request_update"),
      want);
  yajl_tree_free(doc);

  run(fx, 5, 10, 1, GH_VERDICT_SUCCESS); /* it ends: 5 and 6 follow */
  doc = render_head_doc(fx, &h);
  assert_int_equal(qf_json_get(doc, "ci_runs")->u.array.len, 5);
  ci_at(doc, 0, NOW - 1000 + 6, true);
  ci_at(doc, 1, NOW - 1000 + 5, false);
  yajl_tree_free(doc);

  for (long long id = 100; id < 100 + GH_CI_RUNS_RENDER + 50; id++)
    run(fx, id, 10, 1, GH_VERDICT_FAILURE);
  doc = render_head_doc(fx, &h);
  assert_int_equal(qf_json_get(doc, "ci_runs")->u.array.len, GH_CI_RUNS_RENDER);
  ci_at(doc, 0, NOW - 1000 + 100 + GH_CI_RUNS_RENDER + 49, true);
  yajl_tree_free(doc);
}

/* render_full renders project.json into a new buffer. */
static char *render_full(fx_t *fx, const gh_health_t *h, long long now) {
  gh_figures_t f;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, now, &f), 0);
  char *json = NULL;
  size_t len = 0;
  assert_int_equal(gh_snapshot_project("a/b", &f, h, now, &json, &len), 0);
  gh_figures_free(&f);
  return json;
}

/* The figures write_at keeps between calls, as the plugin does. */
static gh_figures_t kept_figures;

/* write_at brings the kept figures up to date and runs gh_project_write
 * at now; returns the file's text. */
static char *write_at(fx_t *fx, const char *dir, const gh_health_t *h,
                      long long now, gh_written_t *last, bool *spliced) {
  char err[256], path[512];
  bool full = false;
  assert_int_equal(
      gh_figures_update(&fx->m, &fx->rules, now, &kept_figures, &full), 0);
  int status = gh_project_write(dir, "a/b", &kept_figures, h, now, last,
                                spliced, err, sizeof(err));
  assert_int_equal(status, 0);
  snprintf(path, sizeof(path), "%s/" GH_PROJECT_FILE, dir);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char *text = calloc(1, 1 << 20);
  size_t n = fread(text, 1, (1 << 20) - 1, fp);
  fclose(fp);
  text[n] = '\0';
  return text;
}

/* project.json written in place: the issues are rendered again only when
 * what they show changed; otherwise the new head is joined to the issues
 * already in the file, and the result is byte for byte the full render. */
static void test_project_write_splice(void **state) {
  fx_t *fx = *state;
  char dir[] = "/tmp/qf-gh-render-XXXXXX";
  assert_non_null(mkdtemp(dir));
  issue(fx, 1, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 30 * HOUR;
  issue(fx, 2, false, NOW - HOUR, "completed", NULL);
  for (long long n = 3; n < 300; n++)
    issue(fx, n, n % 3 != 0, n % 3 ? 0 : NOW - n * 60, NULL,
          n % 5 ? NULL : L_WIP);
  gh_health_t h = {.last_sync = NOW - 12,
                   .rl_remaining = 4990,
                   .rl_limit = 5000,
                   .requests = 3,
                   .not_modified = 3,
                   .recent_commits = 31,
                   .recent_commits_days = 7,
                   .sync_complete = true,
                   .cycles = 1};
  gh_written_t last = {0};
  bool spliced = true;
  char *text = write_at(fx, dir, &h, NOW, &last, &spliced);
  char *full = render_full(fx, &h, NOW);
  assert_false(spliced); /* nothing written before */
  assert_string_equal(text, full);
  assert_true(last.valid);
  /* the head ends with the "issues" key; yajl writes its colon next */
  assert_memory_equal(text + last.tail_off - 8, "\"issues\":[{", 11);
  free(text);
  free(full);

  /* An unchanged cycle 60 s later: new counters, same issues (30.0 h
   * blocked is still 30.0 at a tenth of an hour). */
  h.cycles = 2;
  h.requests_total = 99;
  text = write_at(fx, dir, &h, NOW + 60, &last, &spliced);
  full = render_full(fx, &h, NOW + 60);
  assert_true(spliced);
  assert_string_equal(text, full);
  free(text);
  free(full);

  /* Six minutes on, the blocked duration shows 30.1: that issue alone is
   * rendered again (its text grows by the reason's tenth too), the rest is
   * copied. */
  h.cycles = 3;
  text = write_at(fx, dir, &h, NOW + 360, &last, &spliced);
  full = render_full(fx, &h, NOW + 360);
  assert_true(spliced);
  assert_string_equal(text, full);
  assert_non_null(strstr(text, "\"blocked_duration_hours\":30.1"));
  free(text);
  free(full);
  /* Then a flag appears on a later issue (a human label, past a day of
   * blocking): its length changes, everything after it moves. */
  issue(fx, 290, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 23 * HOUR;
  text = write_at(fx, dir, &h, NOW + 365, &last, &spliced);
  assert_false(spliced); /* a new issue: the mirror changed */
  free(text);
  text = write_at(fx, dir, &h, NOW + 3600 + 400, &last, &spliced);
  full = render_full(fx, &h, NOW + 3600 + 400);
  assert_true(spliced);
  assert_string_equal(text, full);
  assert_non_null(strstr(text, "blocked for 24.1 hours"));
  free(text);
  free(full);

  /* A changed title is a changed mirror (the sync touches it). */
  gh_item_t *it = gh_mirror_find(&fx->m, 7);
  free(it->title);
  it->title = strdup("Renamed");
  gh_mirror_touch(&fx->m);
  text = write_at(fx, dir, &h, NOW + 3600 + 410, &last, &spliced);
  assert_false(spliced);
  assert_non_null(strstr(text, "\"Renamed\""));
  free(text);

  /* The file replaced by someone else: never spliced from. */
  char path[512];
  snprintf(path, sizeof(path), "%s/" GH_PROJECT_FILE, dir);
  FILE *fp = fopen(path, "wb");
  fputs("{\"not\":\"ours\"}", fp);
  fclose(fp);
  text = write_at(fx, dir, &h, NOW + 3600 + 420, &last, &spliced);
  full = render_full(fx, &h, NOW + 3600 + 420);
  assert_false(spliced);
  assert_string_equal(text, full);
  free(text);
  free(full);
  /* ... and the next unchanged cycle splices from our file again. */
  text = write_at(fx, dir, &h, NOW + 3600 + 430, &last, &spliced);
  full = render_full(fx, &h, NOW + 3600 + 430);
  assert_true(spliced);
  assert_string_equal(text, full);
  free(text);
  free(full);
  gh_figures_free(&kept_figures);
  gh_written_free(&last);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* The issues hash follows what the array shows, and nothing else. */
static void test_issues_hash(void **state) {
  fx_t *fx = *state;
  issue(fx, 1, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 30 * HOUR;
  issue(fx, 2, true, 0, NULL, L_WIP);
  gh_figures_t a, b;
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &a), 0);
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW + 100, &b), 0);
  uint64_t ha = gh_figures_issues_hash(&a);
  assert_true(ha == gh_figures_issues_hash(&b));
  gh_figures_free(&b);
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW + 400, &b), 0);
  assert_true(gh_figures_issues_hash(&a) != gh_figures_issues_hash(&b));
  gh_figures_free(&b);
  gh_strv_push(&gh_mirror_find(&fx->m, 2)->labels, "docs");
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &b), 0);
  assert_true(ha != gh_figures_issues_hash(&b));
  gh_figures_free(&a);
  gh_figures_free(&b);
}

/* same_figures checks that two computations agree on everything shown. */
static void same_figures(const gh_figures_t *a, const gh_figures_t *b) {
  assert_int_equal(a->nissues, b->nissues);
  assert_int_equal(a->flagged, b->flagged);
  assert_int_equal(a->flagged_critical, b->flagged_critical);
  assert_memory_equal(a->daily, b->daily, sizeof(a->daily));
  assert_true(a->per_day == b->per_day && a->slope == b->slope);
  assert_int_equal(a->eta, b->eta);
  assert_int_equal(a->last_pr_update, b->last_pr_update);
  for (size_t i = 0; i < a->nissues; i++) {
    assert_int_equal(a->issues[i].trigger, b->issues[i].trigger);
    assert_int_equal(a->issues[i].triggers, b->issues[i].triggers);
    assert_string_equal(a->issues[i].reason, b->issues[i].reason);
    assert_true(a->issues[i].blocked_hours == b->issues[i].blocked_hours);
  }
  assert_true(gh_figures_issues_hash(a) == gh_figures_issues_hash(b));
}

/* gh_figures_update recomputes only what time moves while the mirror is
 * unchanged, with the same result as a full computation; a change of the
 * mirror (or a clock gone back) recomputes everything. */
static void test_update_incremental(void **state) {
  fx_t *fx = *state;
  issue(fx, 1, true, 0, NULL, L_BLOCKED)->blocked_since = NOW - 23 * HOUR;
  issue(fx, 2, false, NOW - 7 * DAY + 100, "completed", NULL);
  issue(fx, 3, false, NOW - HOUR, NULL, NULL);
  issue(fx, 4, true, 0, NULL, L_HUMAN);
  pr(fx, 5, "Fixes #4", "topic", "dirty");
  gh_figures_t kept = {0}, fresh;
  bool full = false;
  assert_int_equal(gh_figures_update(&fx->m, &fx->rules, NOW, &kept, &full), 0);
  assert_true(full);
  assert_int_equal(kept.daily[0], 1); /* issue 2, about to leave the window */
  assert_int_equal(fig(&kept, 1)->trigger, GH_TRIG_NONE);
  uint64_t before = gh_figures_issues_hash(&kept);
  /* Two hours on: issue 1 is blocked too long, issue 2 left the window. */
  long long later = NOW + 2 * HOUR;
  assert_int_equal(gh_figures_update(&fx->m, &fx->rules, later, &kept, &full),
                   0);
  assert_false(full);
  assert_int_equal(fig(&kept, 1)->trigger, GH_TRIG_BLOCKED_TOO_LONG);
  assert_string_equal(fig(&kept, 1)->reason,
                      "blocked for 25.0 hours (over 24)");
  assert_int_equal(kept.daily[0], 0);
  assert_true(gh_figures_issues_hash(&kept) != before);
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, later, &fresh), 0);
  same_figures(&kept, &fresh);
  gh_figures_free(&fresh);
  /* A change of the mirror is seen. */
  issue(fx, 6, true, 0, NULL, NULL);
  assert_int_equal(gh_figures_update(&fx->m, &fx->rules, later, &kept, &full),
                   0);
  assert_true(full);
  assert_int_equal(kept.nissues, 5);
  /* A clock gone back recomputes too. */
  assert_int_equal(gh_figures_update(&fx->m, &fx->rules, NOW, &kept, &full), 0);
  assert_true(full);
  assert_int_equal(gh_figures_compute(&fx->m, &fx->rules, NOW, &fresh), 0);
  same_figures(&kept, &fresh);
  gh_figures_free(&fresh);
  gh_figures_free(&kept);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_buckets, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_zero_issues, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_completion_rounding, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_velocity_and_eta, fx_setup,
                                      fx_teardown),
      cmocka_unit_test(test_trend_thresholds),
      cmocka_unit_test_setup_teardown(test_decreasing_and_no_velocity, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_flag_blocked_too_long, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_flag_human_label, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_flag_merge_conflict, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_flag_ci, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_pr_links, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_mirror_apply, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_mirror_runs_and_etags, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_render, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_render_ci_runs_activity, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_project_write_splice, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_issues_hash, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_update_incremental, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
