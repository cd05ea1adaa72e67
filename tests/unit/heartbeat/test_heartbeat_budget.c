/* Unit tests for heartbeat_budget.c and the budget steps of
 * heartbeat_target.c: the request budget survives a restart (with the
 * RateLimit-Policy the backend announced), a backlog leaves live
 * heartbeats their share, and a short budget is said once per episode
 * while the newest heartbeat keeps moving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_budget.h"
#include "heartbeat_target.h"
#include "logbook.h"
#include "scratch_dir.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static hb_policy_t policy(int limit, double window, double interval) {
  return (hb_policy_t){.retries = 3,
                       .retry_delay = 5,
                       .probe_delay = interval,
                       .reject_delay = 300,
                       .max_pause = HB_MAX_PAUSE,
                       .limit = limit,
                       .window = window,
                       .keep_forever = true,
                       .live_interval = interval};
}

static void test_live_need(void **state) {
  (void)state;
  hb_policy_t p = policy(50, 900, 60); /* the defaults */
  assert_int_equal(hb_budget_live_need(&p), 15);
  assert_true(hb_budget_carries_live(&p));
  p = policy(50, 900, 10); /* the Interval 10 */
  assert_int_equal(hb_budget_live_need(&p), 90);
  assert_false(hb_budget_carries_live(&p));
  p = policy(50, 900, 18); /* exactly fits */
  assert_int_equal(hb_budget_live_need(&p), 50);
  assert_true(hb_budget_carries_live(&p));
  p = policy(0, 900, 1); /* no limit */
  assert_true(hb_budget_carries_live(&p));
  assert_int_equal(hb_budget_live_need(&p), 0);
}

static void test_limit_and_spacing(void **state) {
  (void)state;
  hb_policy_t p = policy(5, 100, 50);
  hb_deliver_t d;
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  for (int t = 0; t < 3; t++)
    hb_deliver_started(&d, t);
  assert_true(hb_deliver_ready_at(&d, 3) == 3.0);
  hb_deliver_started(&d, 3);
  hb_deliver_started(&d, 4);
  assert_true(hb_deliver_ready_at(&d, 5) == 100.0); /* limit 5 used */
  assert_true(hb_budget_short(&d, 99));             /* 5 in (-1, 99]: used up */
  assert_false(hb_budget_short(&d, 100.5));         /* the first left */
  d.spacing = 20;
  assert_true(hb_deliver_ready_at(&d, 150) == 150.0);
  hb_deliver_started(&d, 150);
  assert_true(hb_deliver_ready_at(&d, 151) == 170.0);
  hb_deliver_free(&d);
}

static void test_short_budget(void **state) {
  (void)state;
  hb_policy_t p = policy(50, 900, 10);
  hb_deliver_t d;
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  assert_true(hb_budget_short(&d, 0)); /* never carries Interval 10 */
  hb_deliver_free(&d);
  p = policy(2, 100, 60);
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  hb_deliver_started(&d, 0);
  assert_false(hb_budget_short(&d, 1));
  hb_deliver_started(&d, 1);
  assert_true(hb_budget_short(&d, 2));      /* used up */
  assert_false(hb_budget_short(&d, 100.5)); /* the first left the window */
  hb_deliver_free(&d);
}

static void test_render_load_round_trip(void **state) {
  (void)state;
  hb_policy_t p = policy(5, 100, 60);
  hb_deliver_t d, e;
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  hb_deliver_started(&d, 900); /* outside the window at 1050: left out */
  hb_deliver_started(&d, 1000);
  hb_deliver_started(&d, 1010);
  hb_deliver_started(&d, 1020);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(hb_budget_render(&d, 1050, 5000, &text, &len), 0);
  assert_string_equal(text, HB_BUDGET_MAGIC "\n4950.000\n4960.000\n"
                                            "4970.000\n");
  assert_int_equal(len, strlen(text));
  /* Another run: its monotonic clock starts anywhere; 10 s later. */
  assert_int_equal(hb_deliver_init(&e, &p), 0);
  size_t loaded = 0;
  assert_int_equal(hb_budget_load(&e, text, 200, 5010, &loaded), 0);
  assert_int_equal(loaded, 3);
  assert_int_equal(hb_deliver_window_count(&e, 200, 100), 3);
  assert_true(hb_deliver_ready_at(&e, 200) == 200.0); /* 3 of 5 */
  hb_deliver_started(&e, 200);
  hb_deliver_started(&e, 201);
  /* The oldest (wall 4950, age 60 at 5010: mono 140) frees the room. */
  assert_true(fabs(hb_deliver_ready_at(&e, 202) - 240.0) < 1e-6);
  free(text);
  hb_deliver_free(&d);
  hb_deliver_free(&e);
}

static void test_load_edges(void **state) {
  (void)state;
  hb_policy_t p = policy(5, 100, 60);
  hb_deliver_t d;
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  size_t loaded = 9;
  assert_int_equal(hb_budget_load(&d, "junk\n1.0\n", 10, 10, &loaded), -EINVAL);
  assert_int_equal(loaded, 0);
  assert_int_equal(d.win.n, 0); /* untouched */
  assert_int_equal(hb_budget_load(&d, NULL, 10, 10, &loaded), -EINVAL);
  /* Too old is skipped, the future (clock went back) counts as now, a
   * torn last line ends the list. */
  assert_int_equal(hb_budget_load(&d,
                                  HB_BUDGET_MAGIC "\n800.0\n950.5\n"
                                                  "2000.0\n99",
                                  50, 1000, &loaded),
                   0);
  assert_int_equal(loaded, 2);
  assert_int_equal(hb_deliver_window_count(&d, 50, 100), 2);
  assert_true(fabs(d.win.t[1] - 50.0) < 1e-9);
  assert_true(fabs(d.win.t[0] - 0.5) < 1e-9);
  hb_deliver_free(&d);
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  assert_int_equal(hb_budget_load(&d, HB_BUDGET_MAGIC "\n", 5, 5, &loaded), 0);
  assert_int_equal(loaded, 0);
  /* Torn at its first time: a budget file with no time, not junk; the
   * learned policy before it holds. */
  assert_int_equal(
      hb_budget_load(&d, HB_BUDGET_MAGIC "\n" HB_BUDGET_LEARNED " 7 30.000\n99",
                     5, 5, &loaded),
      0);
  assert_int_equal(loaded, 0);
  assert_int_equal(d.learned_limit, 7);
  hb_deliver_free(&d);
  /* A broken learned line is not such a file, and leaves d as it was. */
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  assert_int_equal(
      hb_budget_load(&d, HB_BUDGET_MAGIC "\n" HB_BUDGET_LEARNED " 7\n950.0\n",
                     50, 1000, &loaded),
      -EINVAL);
  assert_int_equal(loaded, 0);
  assert_int_equal(d.learned_limit, 0);
  assert_int_equal(d.win.n, 0);
  hb_deliver_free(&d);
}

static hb_backend_t *new_backend(hb_policy_t p) {
  hb_backend_t *b = calloc(1, sizeof(*b));
  assert_non_null(b);
  b->name = strdup("central");
  b->url = strdup("http://127.0.0.1:9/api/v1/swarms/heartbeat");
  b->spool_max = 1 << 20;
  b->policy = p;
  return b;
}

static void test_budget_survives_restart(void **state) {
  const char *dir = *state;
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  char err[256];
  hb_backend_t *b = new_backend(policy(4, 100, 60));
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  double now = mono_now();
  for (int i = 0; i < 3; i++)
    hb_backend_request_started(b, now - 2 + i, &log);
  hb_backend_stop(b);
  /* The next run counts them: one request left in the window. */
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  now = mono_now();
  assert_int_equal(hb_deliver_window_count(&b->dl, now, 100), 3);
  assert_int_equal(count_lines(&lb, "3 requests of the last 100 s counted"), 1);
  hb_backend_request_started(b, now, &log);
  assert_true(hb_deliver_ready_at(&b->dl, now) > now + 90);
  hb_backend_stop(b);
  /* A broken file is said and counts from zero. */
  char path[512];
  snprintf(path, sizeof(path), "%s/central" HB_BUDGET_SUFFIX, dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("garbage\n", f);
  fclose(f);
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  assert_int_equal(hb_deliver_window_count(&b->dl, mono_now(), 100), 0);
  assert_int_equal(count_lines(&lb, "not a request budget file"), 1);
  hb_backend_free(b);
}

static void test_short_budget_episode(void **state) {
  const char *dir = *state;
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  char err[256];
  hb_backend_t *b = new_backend(policy(2, 100, 60));
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  double t = mono_now();
  hb_backend_request_started(b, t, &log);
  hb_backend_request_started(b, t + 1, &log);
  const char *body = "{\"swarm_id\":\"s\",\"status\":\"online\"}";
  /* The window is used up: three live heartbeats wait, in order (Replay
   * "all" keeps them), and the episode is said once. */
  for (int i = 1; i <= 3; i++)
    assert_int_equal(
        hb_backend_enqueue(b, i, body, strlen(body), t + 2 + i, &log), 0);
  assert_true(b->budget_exhausted);
  assert_int_equal(hb_spool_depth(&b->spool), 3);
  assert_int_equal(b->st.superseded, 0);
  assert_int_equal(count_lines(&lb, "cannot carry every heartbeat"), 1);
  assert_int_equal(count_lines(&lb, "requests of the last 100 s are used"), 1);
  assert_true(hb_backend_ready_at(b, t + 6) >= t + 100);
  /* The window moved on: the next live heartbeat ends the episode. */
  assert_int_equal(hb_backend_enqueue(b, 4, body, strlen(body), t + 102, &log),
                   0);
  assert_false(b->budget_exhausted);
  assert_int_equal(count_lines(&lb, "carries every heartbeat again"), 1);
  assert_int_equal(count_lines(&lb, "0 older heartbeats were superseded"), 1);
  assert_int_equal(hb_spool_depth(&b->spool), 4);
  hb_backend_free(b);
}

static void test_interval_too_short_keeps_newest_moving(void **state) {
  const char *dir = *state;
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  char err[256];
  hb_backend_t *b = new_backend(policy(5, 100, 10)); /* needs 10 */
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  const char *body = "{\"swarm_id\":\"s\",\"status\":\"online\"}";
  double t = mono_now();
  for (int i = 1; i <= 4; i++) {
    assert_int_equal(
        hb_backend_enqueue(b, i, body, strlen(body), t + 10 * i, &log), 0);
    assert_int_equal(hb_spool_depth(&b->spool), 1); /* only the newest */
  }
  assert_true(b->budget_exhausted);
  assert_int_equal(b->st.superseded, 3);
  assert_int_equal(count_lines(&lb, "a heartbeat every 10 s needs 10 "
                                    "requests per 100 s"),
                   1);
  /* One request per 100 / 5 = 20 s at most. */
  hb_backend_request_started(b, t + 40, &log);
  assert_true(fabs(hb_backend_ready_at(b, t + 41) - (t + 60)) < 1e-6);
  hb_backend_free(b);
}

/* A RateLimit-Policy learned from a 429 is saved with the times, and the
 * times it still covers (older than the configured window) come back. */
static void test_learned_policy_round_trip(void **state) {
  (void)state;
  hb_policy_t p = policy(5, 100, 60);
  hb_deliver_t d, e;
  assert_int_equal(hb_deliver_init(&d, &p), 0);
  hb_deliver_started(&d, 700); /* age 350: inside the learned 400 s */
  hb_deliver_started(&d, 1000);
  hb_deliver_answer(&d, 1000, HB_CLASS_RATE_LIMITED, -1, "3;w=400");
  assert_int_equal(d.learned_limit, 3);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(hb_budget_render(&d, 1050, 5000, &text, &len), 0);
  assert_string_equal(text, HB_BUDGET_MAGIC "\n" HB_BUDGET_LEARNED
                                            " 3 400.000\n4650.000\n"
                                            "4950.000\n");
  assert_int_equal(hb_deliver_init(&e, &p), 0);
  size_t loaded = 0;
  assert_int_equal(hb_budget_load(&e, text, 200, 5010, &loaded), 0);
  assert_int_equal(loaded, 2); /* the configured 100 s alone kept 1 */
  assert_int_equal(e.learned_limit, 3);
  assert_true(e.learned_window == 400.0);
  assert_true(hb_deliver_span(&e) > 400.0);
  /* Two of the learned 3 are used: one more, then wait for the oldest. */
  assert_true(hb_deliver_ready_at(&e, 200) == 200.0);
  hb_deliver_started(&e, 200);
  assert_true(hb_deliver_ready_at(&e, 201) > 200 + 40);
  free(text);
  hb_deliver_free(&e);
  /* A broken learned line: not a budget file, nothing taken. */
  assert_int_equal(hb_deliver_init(&e, &p), 0);
  assert_int_equal(hb_budget_load(&e,
                                  HB_BUDGET_MAGIC "\n" HB_BUDGET_LEARNED
                                                  " x 400\n4950.000\n",
                                  200, 5010, &loaded),
                   -EINVAL);
  assert_int_equal(hb_budget_load(&e,
                                  HB_BUDGET_MAGIC "\n" HB_BUDGET_LEARNED
                                                  " 0 400\n4950.000\n",
                                  200, 5010, &loaded),
                   -EINVAL);
  assert_int_equal(e.learned_limit, 0);
  assert_int_equal(hb_deliver_window_count(&e, 200, 1000), 0);
  hb_deliver_free(&e);
  hb_deliver_free(&d);
}

/* A restart keeps the backend's announced policy (the file is the
 * backend's own .budget). */
static void test_learned_policy_survives_restart(void **state) {
  const char *dir = *state;
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  char err[256];
  hb_backend_t *b = new_backend(policy(50, 100, 60));
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  double now = mono_now();
  hb_deliver_answer(&b->dl, now, HB_CLASS_RATE_LIMITED, 30, "2;w=600");
  hb_backend_request_started(b, now, &log);
  hb_backend_stop(b);
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  assert_int_equal(b->dl.learned_limit, 2);
  assert_true(b->dl.learned_window == 600.0);
  assert_int_equal(count_lines(&lb, "RateLimit-Policy it announced before "
                                    "the restart (2 requests per 600 s)"),
                   1);
  now = mono_now();
  hb_backend_request_started(b, now, &log); /* the learned 2 are used */
  assert_true(hb_deliver_ready_at(&b->dl, now) > now + 500);
  hb_backend_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_live_need),
      cmocka_unit_test(test_limit_and_spacing),
      cmocka_unit_test(test_short_budget),
      cmocka_unit_test(test_render_load_round_trip),
      cmocka_unit_test(test_load_edges),
      cmocka_unit_test(test_learned_policy_round_trip),
      cmocka_unit_test_setup_teardown(test_learned_policy_survives_restart,
                                      setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_budget_survives_restart, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_short_budget_episode, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(
          test_interval_too_short_keeps_newest_moving, setup_dir, teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
