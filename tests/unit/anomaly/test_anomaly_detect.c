/* Unit tests for anomaly_detect.c and anomaly_history.c: each detector's
 * learned threshold and verdict at its edges (no history, one task,
 * constant values), the transitions reported once, and a restart in the
 * middle of a window (history rendered, parsed back, same verdicts, no
 * second announcement). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "anomaly.h"
#include "qf_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600L /* 2026-01-01T00:00:00Z */
#define H 3600L
#define D 86400L

static anom_state_t st;

typedef struct seen_s {
  int started[ANOM_KIND_COUNT], ended[ANOM_KIND_COUNT];
} seen_t;

static void count(const anom_t *a, bool started, void *ctx) {
  seen_t *s = ctx;
  if (started)
    s->started[a->kind]++;
  else
    s->ended[a->kind]++;
}

static void fresh(void) {
  anom_config_t c;
  anom_config_defaults(&c);
  anom_init(&st, &c);
}

/* one_agent observes agent "a" working on issue since start (0: idle). */
static void one_agent(time_t now, long issue, time_t start) {
  anom_agent_obs_t o = {
      .name = "a", .active = start != 0, .issue = issue, .task_start = start};
  anom_observe_agents(&st, now, &o, 1);
}

/* finish_tasks lets agent "a" finish n tasks of len seconds each, from t;
 * returns the time after the last. */
static time_t finish_tasks(time_t t, int n, double len, long first_issue) {
  for (int i = 0; i < n; i++) {
    one_agent(t, first_issue + i, t);
    t += (time_t)len;
    one_agent(t, 0, 0);
  }
  return t;
}

static bool has(anom_kind_t k) {
  for (int i = 0; i < st.active_n; i++)
    if (st.active[i].kind == k)
      return true;
  return false;
}

static void test_config_defaults_valid_and_checked(void **state) {
  (void)state;
  anom_config_t c;
  char err[256];
  anom_config_defaults(&c);
  assert_int_equal(anom_config_check(&c, err, sizeof(err)), 0);
  c.vel_alpha = 1.5;
  assert_int_equal(anom_config_check(&c, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "VelocityAlpha"));
  assert_string_equal(anom_kind_name(ANOM_STALLED_SWARM), "stalled_swarm");
  assert_int_equal(anom_kind_parse("running_out"), ANOM_RUNNING_OUT);
  assert_int_equal(anom_kind_parse("nope"), -1);
}

static void test_stuck_no_history_uses_unlearned_threshold(void **state) {
  (void)state;
  seen_t s = {0};
  fresh();
  one_agent(T0, 7, T0);
  one_agent(T0 + 5 * H, 7, T0);
  anom_evaluate(&st, T0 + 5 * H, count, &s);
  assert_false(has(ANOM_STUCK_AGENT));
  one_agent(T0 + 7 * H, 7, T0);
  anom_evaluate(&st, T0 + 7 * H, count, &s);
  assert_true(has(ANOM_STUCK_AGENT));
  assert_int_equal(s.started[ANOM_STUCK_AGENT], 1);
  assert_int_equal(st.active[0].issue, 7);
  assert_non_null(strstr(st.active[0].reason, "issue #7"));
  /* once per transition: the next evaluation reports nothing new */
  anom_evaluate(&st, T0 + 7 * H + 60, count, &s);
  assert_int_equal(s.started[ANOM_STUCK_AGENT], 1);
  one_agent(T0 + 8 * H, 0, 0); /* the task ended */
  anom_evaluate(&st, T0 + 8 * H, count, &s);
  assert_false(has(ANOM_STUCK_AGENT));
  assert_int_equal(s.ended[ANOM_STUCK_AGENT], 1);
}

/* A name as long as an agent file allows (127 characters, here 3 bytes
 * each in UTF-8) keeps its one slot across reads: a name cut on the way in
 * never matched itself again, so every read made a new slot and a fresh
 * task (found by review). Its stuck reason is valid UTF-8. */
static void test_long_agent_name_keeps_one_slot(void **state) {
  (void)state;
  char name[127 * 3 + 1] = "";
  for (int i = 0; i < 127; i++)
    strcat(name, "\xe2\x82\xac"); /* U+20AC, 3 bytes */
  fresh();
  anom_agent_obs_t o = {
      .name = name, .active = true, .issue = 7, .task_start = T0};
  for (int i = 0; i < 5; i++) {
    anom_observe_agents(&st, T0 + i * H, &o, 1);
    assert_int_equal(st.agent_n, 1);
  }
  assert_string_equal(st.agents[0].name, name);
  anom_observe_agents(&st, T0 + 7 * H, &o, 1);
  anom_evaluate(&st, T0 + 7 * H, NULL, NULL);
  assert_true(has(ANOM_STUCK_AGENT));
  assert_string_equal(st.active[0].subject, name);
  /* The reason names the agent cut short, never inside a character. */
  assert_int_equal(qf_json_utf8_repair(st.active[0].reason), 0);
}

static void test_stuck_one_task_is_not_enough_to_learn(void **state) {
  (void)state;
  fresh();
  time_t t = finish_tasks(T0, 1, 600, 1);
  one_agent(t, 50, t);
  anom_evaluate(&st, t + 2 * H, NULL, NULL);
  assert_false(has(ANOM_STUCK_AGENT)); /* 2 h is 12x that one task */
  assert_int_equal(st.dur_n, 1);
}

static void test_stuck_constant_durations_keep_a_spread(void **state) {
  (void)state;
  fresh();
  time_t t = finish_tasks(T0, 20, 1800, 1);
  /* MAD 0: the minimum spread 0.25 gives 1800 * e^(3.5 * 0.25) = 4318 s */
  one_agent(t, 99, t);
  one_agent(t + 4000, 99, t);
  anom_evaluate(&st, t + 4000, NULL, NULL);
  assert_false(has(ANOM_STUCK_AGENT));
  one_agent(t + 4400, 99, t);
  anom_evaluate(&st, t + 4400, NULL, NULL);
  assert_true(has(ANOM_STUCK_AGENT));
  assert_float_equal(st.active[0].baseline, 1800, 1e-6);
  assert_float_equal(st.active[0].observed, 4400, 1e-6);
}

static void test_looping_needs_an_unlikely_run(void **state) {
  (void)state;
  fresh();
  time_t t = finish_tasks(T0, 100, 600, 1);
  /* issue 500 started 3 times: 2 restarts, p = 3/104, p^2 > 3e-4 */
  for (int i = 0; i < 3; i++, t += 600)
    one_agent(t, 500, t);
  anom_evaluate(&st, t, NULL, NULL);
  assert_false(has(ANOM_LOOPING_AGENT));
  one_agent(t, 500, t); /* 3 restarts: p = 4/105, p^3 < 3e-4 */
  anom_evaluate(&st, t, NULL, NULL);
  assert_true(has(ANOM_LOOPING_AGENT));
  one_agent(t + 600, 501, t + 600); /* moved on */
  anom_evaluate(&st, t + 600, NULL, NULL);
  assert_false(has(ANOM_LOOPING_AGENT));
}

static void test_stall_floor_then_progress_clears(void **state) {
  (void)state;
  seen_t s = {0};
  fresh();
  anom_agent_obs_t two[] = {{"a", true, 1, T0}, {"b", true, 2, T0}};
  anom_observe_agents(&st, T0, two, 2);
  anom_observe_progress(&st, T0);
  for (time_t t = T0 + 600; t <= T0 + 50 * 60; t += 600)
    anom_observe_agents(&st, t, two, 2);
  anom_evaluate(&st, T0 + 50 * 60, count, &s);
  assert_false(has(ANOM_STALLED_SWARM)); /* 1.67 of the 2 agent-hours */
  anom_observe_agents(&st, T0 + H, two, 2);
  anom_evaluate(&st, T0 + H, count, &s);
  assert_true(has(ANOM_STALLED_SWARM));
  anom_observe_progress(&st, T0 + H + 60);
  anom_evaluate(&st, T0 + H + 60, count, &s);
  assert_false(has(ANOM_STALLED_SWARM));
  assert_int_equal(s.started[ANOM_STALLED_SWARM], 1);
  assert_int_equal(s.ended[ANOM_STALLED_SWARM], 1);
}

static void test_stall_idle_swarm_is_not_stalled(void **state) {
  (void)state;
  fresh();
  anom_agent_obs_t idle = {"a", false, 0, 0};
  anom_observe_progress(&st, T0);
  for (time_t t = T0; t <= T0 + D; t += 600)
    anom_observe_agents(&st, t, &idle, 1);
  anom_evaluate(&st, T0 + D, NULL, NULL);
  assert_false(has(ANOM_STALLED_SWARM));
  assert_float_equal(st.quiet_agent_s, 0, 1e-9);
}

/* closed_days feeds n days of per_day closes from day0. */
static void closed_days(long day0, int n, unsigned per_day) {
  for (long d = day0; d < day0 + n; d++) {
    anom_observe_closed(&st, T0 + d * D + 12 * H, per_day);
    anom_evaluate(&st, T0 + d * D + 23 * H, NULL, NULL);
  }
}

static void test_velocity_edges_and_drop(void **state) {
  (void)state;
  fresh();
  anom_evaluate(&st, T0, NULL, NULL); /* no history: nothing to test */
  anom_evaluate(&st, T0 + 3 * D, NULL, NULL);
  assert_false(has(ANOM_VELOCITY_DROP));
  fresh();
  closed_days(0, 28, 10); /* constant: no dispersion, phi 1 */
  assert_false(has(ANOM_VELOCITY_DROP));
  closed_days(28, 1, 7); /* P(X <= 7 | 10) = 0.22: not a drop */
  anom_evaluate(&st, T0 + 29 * D + 60, NULL, NULL);
  assert_false(has(ANOM_VELOCITY_DROP));
  /* P(X <= 1 | 10) = 5e-4 is not below 0.001 / 3; P(X <= 0 | 10) is */
  closed_days(29, 1, 0);
  anom_evaluate(&st, T0 + 30 * D + 60, NULL, NULL);
  assert_true(has(ANOM_VELOCITY_DROP));
  closed_days(30, 3, 10);
  anom_evaluate(&st, T0 + 33 * D + 60, NULL, NULL);
  assert_false(has(ANOM_VELOCITY_DROP));
}

static void test_ci_spike_against_baseline(void **state) {
  (void)state;
  fresh();
  for (int i = 0; i < 100; i++) /* 5 % over two days */
    anom_observe_ci(&st, T0 + i * 1800, i % 20 == 0);
  time_t now = T0 + 100 * 1800;
  anom_observe_ci(&st, now - 600, true);
  anom_observe_ci(&st, now - 500, false);
  anom_evaluate(&st, now, NULL, NULL);
  assert_false(has(ANOM_CI_SPIKE));
  for (int i = 0; i < 6; i++)
    anom_observe_ci(&st, now - 400 + i, true);
  anom_evaluate(&st, now, NULL, NULL);
  assert_true(has(ANOM_CI_SPIKE));
}

static void test_running_out_line_and_flat(void **state) {
  (void)state;
  fresh();
  for (time_t t = T0; t <= T0 + 4 * H; t += 60) {
    double rise = t > T0 + H ? 0.05 * (double)(t - T0 - H) / H : 0;
    assert_int_equal(anom_observe_resource(&st, "disk:/", t, 0.5 + rise), 0);
    assert_int_equal(anom_observe_resource(&st, "memory", t, 0.4), 0);
    anom_evaluate(&st, t, NULL, NULL);
  }
  /* 5 points an hour from 65 %: 98 % in about 6.6 h, within 24 h */
  assert_int_equal(st.active_n, 1);
  assert_string_equal(st.active[0].subject, "disk:/");
  assert_true(st.active[0].observed > 5 * H && st.active[0].observed < 8 * H);
  assert_int_equal(anom_observe_resource(&st, "x", T0, 1.5), -EINVAL);
}

static void test_restart_mid_window_keeps_history(void **state) {
  (void)state;
  seen_t s = {0};
  char *text = NULL, err[256];
  size_t len;
  fresh();
  time_t t = finish_tasks(T0, 20, 1800, 1);
  closed_days(0, 10, 4);
  one_agent(t, 99, t);
  anom_evaluate(&st, t + 2 * H, count, &s);
  assert_true(has(ANOM_STUCK_AGENT));
  assert_int_equal(anom_history_render(&st, t + 2 * H, &text, &len), 0);
  anom_state_t before = st;
  fresh();
  assert_int_equal(anom_history_parse(&st, text, err, sizeof(err)), 0);
  free(text);
  assert_int_equal(st.dur_n, before.dur_n);
  assert_int_equal(st.day_n, before.day_n);
  assert_int_equal(st.active_n, 1);
  one_agent(t + 2 * H + 60, 99, t);
  anom_evaluate(&st, t + 2 * H + 60, count, &s);
  assert_true(has(ANOM_STUCK_AGENT));
  assert_int_equal(s.started[ANOM_STUCK_AGENT], 1); /* not announced again */
  assert_int_equal(st.active[0].since, before.active[0].since);
  assert_int_equal(anom_snapshot_render(&st, t, &text, &len), 0);
  assert_non_null(
      strstr(text, "\"stuck_agent\":{\"enabled\":true,\"active\":1}"));
  free(text);
}

static void test_history_refuses_bad_documents(void **state) {
  (void)state;
  char err[256] = "";
  fresh();
  assert_int_equal(anom_history_parse(&st, "{", err, sizeof(err)), -EINVAL);
  assert_int_equal(
      anom_history_parse(&st, "{\"schema_version\":2}", err, sizeof(err)),
      -EINVAL);
  assert_non_null(strstr(err, "schema_version"));
  assert_int_equal(st.dur_n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults_valid_and_checked),
      cmocka_unit_test(test_stuck_no_history_uses_unlearned_threshold),
      cmocka_unit_test(test_long_agent_name_keeps_one_slot),
      cmocka_unit_test(test_stuck_one_task_is_not_enough_to_learn),
      cmocka_unit_test(test_stuck_constant_durations_keep_a_spread),
      cmocka_unit_test(test_looping_needs_an_unlikely_run),
      cmocka_unit_test(test_stall_floor_then_progress_clears),
      cmocka_unit_test(test_stall_idle_swarm_is_not_stalled),
      cmocka_unit_test(test_velocity_edges_and_drop),
      cmocka_unit_test(test_ci_spike_against_baseline),
      cmocka_unit_test(test_running_out_line_and_flat),
      cmocka_unit_test(test_restart_mid_window_keeps_history),
      cmocka_unit_test(test_history_refuses_bad_documents),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
