/* Unit tests for agents_result.c: liveness, derivation precedence, time on
 * task, duplicates, sorting and counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOW ((time_t)1795000000)

/* The liveness seam: pids below 1000 are alive, 1000..1999 are gone,
 * 2000 and above cannot be checked. */
static int fake_alive(long long pid) {
  if (pid < 1000)
    return 1;
  return pid < 2000 ? 0 : -EIO;
}

#define ALIVE_PID 42
#define GONE_PID 1042
#define UNCLEAR_PID 2042
#define NO_PID 0
#define NO_TIME (-1)

/* One derivation case: what the file says, and what must come out. */
static const struct {
  const char *label;
  long long pid;      /* NO_PID: field absent */
  long long idle_for; /* seconds since last_activity; NO_TIME: absent */
  agents_status_t reported;
  agents_status_t want;
  agents_liveness_t liveness;
  bool process_check;
} derive_cases[] = {
    {"dead beats failed and stale", GONE_PID, 9999, AGENTS_FAILED, AGENTS_DEAD,
     AGENTS_LIVENESS_DEAD, true},
    {"dead beats active", GONE_PID, 0, AGENTS_ACTIVE, AGENTS_DEAD,
     AGENTS_LIVENESS_DEAD, true},
    {"failed beats stale", ALIVE_PID, 9999, AGENTS_FAILED, AGENTS_FAILED,
     AGENTS_LIVENESS_ALIVE, true},
    {"failed without pid", NO_PID, NO_TIME, AGENTS_FAILED, AGENTS_FAILED,
     AGENTS_LIVENESS_UNKNOWN, true},
    {"stale beats active", ALIVE_PID, 301, AGENTS_ACTIVE, AGENTS_STALE,
     AGENTS_LIVENESS_ALIVE, true},
    {"stale beats blocked", NO_PID, 301, AGENTS_BLOCKED, AGENTS_STALE,
     AGENTS_LIVENESS_UNKNOWN, true},
    {"exactly StaleAfter is not stale", ALIVE_PID, 300, AGENTS_IDLE,
     AGENTS_IDLE, AGENTS_LIVENESS_ALIVE, true},
    {"no last_activity is never stale", ALIVE_PID, NO_TIME, AGENTS_ACTIVE,
     AGENTS_ACTIVE, AGENTS_LIVENESS_ALIVE, true},
    {"activity in the future is fresh", NO_PID, -600, AGENTS_ACTIVE,
     AGENTS_ACTIVE, AGENTS_LIVENESS_UNKNOWN, true},
    {"reported blocked", ALIVE_PID, 10, AGENTS_BLOCKED, AGENTS_BLOCKED,
     AGENTS_LIVENESS_ALIVE, true},
    {"ProcessCheck off: gone pid is not dead", GONE_PID, 10, AGENTS_ACTIVE,
     AGENTS_ACTIVE, AGENTS_LIVENESS_UNKNOWN, false},
    {"ProcessCheck off: failed stays failed", GONE_PID, 10, AGENTS_FAILED,
     AGENTS_FAILED, AGENTS_LIVENESS_UNKNOWN, false},
    {"unclear kill() is not dead", UNCLEAR_PID, 10, AGENTS_IDLE, AGENTS_IDLE,
     AGENTS_LIVENESS_UNKNOWN, true},
};

static void test_derive_precedence(void **state) {
  (void)state; /* unused */
  for (size_t i = 0; i < sizeof(derive_cases) / sizeof(derive_cases[0]); i++) {
    agents_agent_t a = {.reported = derive_cases[i].reported};
    a.has_pid = derive_cases[i].pid != NO_PID;
    a.pid = derive_cases[i].pid;
    a.has_activity = derive_cases[i].idle_for != NO_TIME;
    a.last_activity = NOW - derive_cases[i].idle_for;
    agents_derive(&a, NOW, 300,
                  derive_cases[i].process_check ? fake_alive : NULL);
    if (a.status != derive_cases[i].want ||
        a.liveness != derive_cases[i].liveness)
      print_error("case %zu (%s): got %s/%s\n", i, derive_cases[i].label,
                  agents_status_name(a.status),
                  agents_liveness_name(a.liveness));
    assert_int_equal(a.status, derive_cases[i].want);
    assert_int_equal(a.liveness, derive_cases[i].liveness);
  }
}

static void test_time_on_task(void **state) {
  (void)state; /* unused */
  static const struct {
    bool has_started;
    long long started_ago;
    long long want;
  } cases[] = {
      {true, 41LL * 60, 41LL * 60},
      {true, 0, 0},
      {true, -300, 0}, /* future */
      {true, 3LL * 86400 + 7, 3LL * 86400 + 7},
      {false, 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    agents_agent_t a = {.reported = AGENTS_ACTIVE};
    a.has_started = cases[i].has_started;
    a.task_started_at = NOW - cases[i].started_ago;
    agents_derive(&a, NOW, 300, fake_alive);
    assert_int_equal(a.has_time_on_task, cases[i].has_started);
    assert_int_equal(a.time_on_task_seconds, cases[i].want);
  }
}

/* add parses text as file's agent into r, or records it invalid. */
static void add(agents_result_t *r, const char *file, const char *text) {
  agents_agent_t a;
  char err[AGENTS_ERROR_MAX];
  agents_filekey_t key = {.ino = (ino_t)strlen(file), .size = 1};
  if (agents_parse(text, &a, err, sizeof(err)) != 0) {
    assert_int_equal(agents_result_add_invalid(r, file, err, &key, false), 0);
    return;
  }
  assert_int_equal(agents_result_add_agent(r, &a, file, &key), 0);
  assert_null(a.name); /* ownership moved */
}

static void test_result_duplicates_sort_counts(void **state) {
  (void)state; /* unused */
  agents_result_t r = {0};
  /* Added in file-name order, as the plugin's scan does. */
  add(&r, "a.json", "{\"name\": \"zed\", \"status\": \"idle\"}");
  add(&r, "b.json", "{\"name\": \"Agent 1\", \"status\": \"working\"}");
  add(&r, "c.json", "{\"name\": \"zed\", \"status\": \"failed\"}");
  add(&r, "d.json", "{\"name\": \"Agent_1\", \"status\": \"idle\"}");
  add(&r, "e.json",
      "{\"name\": \"dead one\", \"status\": \"active\", "
      "\"pid\": 1042}");
  add(&r, "0-broken.json", "{");
  add(&r, "f.json",
      "{\"name\": \"Blocked\", \"status\": \"blocked\", "
      "\"last_activity\": \"2020-01-01T00:00:00Z\"}");
  add(&r, "g.json",
      "{\"name\": \"Failing\", \"status\": \"failed\", "
      "\"pid\": 7}");
  assert_int_equal(agents_result_finish(&r, NOW, 300, fake_alive), 0);

  static const char *const names[] = {"Agent 1", "Blocked", "Failing",
                                      "dead one", "zed"};
  static const char *const files[] = {"b.json", "f.json", "g.json", "e.json",
                                      "a.json"};
  assert_int_equal(r.n_agents, 5);
  for (size_t i = 0; i < r.n_agents; i++) {
    assert_string_equal(r.agents[i].name, names[i]);
    assert_string_equal(r.agents[i].file, files[i]);
  }
  assert_string_equal(r.agents[0].instance, "Agent_1");
  assert_int_equal(r.agents[4].reported, AGENTS_IDLE); /* first file won */

  assert_int_equal(r.n_invalid, 3);
  assert_string_equal(r.invalid[0].file, "0-broken.json");
  assert_string_equal(r.invalid[1].file, "c.json");
  assert_string_equal(r.invalid[1].error,
                      "duplicate name \"zed\": a.json already has it");
  assert_string_equal(r.invalid[2].file, "d.json");
  assert_string_equal(r.invalid[2].error,
                      "name \"Agent_1\" gives the same collectd instance "
                      "\"Agent_1\" as \"Agent 1\" in b.json");
  assert_int_equal(r.invalid[2].key.ino, strlen("d.json"));

  unsigned want[AGENTS_STATUS_COUNT] = {[AGENTS_ACTIVE] = 1,
                                        [AGENTS_IDLE] = 1,
                                        [AGENTS_FAILED] = 1,
                                        [AGENTS_DEAD] = 1,
                                        [AGENTS_STALE] = 1};
  for (int s = 0; s < AGENTS_STATUS_COUNT; s++)
    assert_int_equal(r.counts[s], want[s]);

  assert_non_null(agents_find_invalid(&r, "c.json"));
  assert_null(agents_find_invalid(&r, "a.json"));
  assert_null(agents_find_invalid(&r, "zzz.json"));
  agents_result_free(&r);
  assert_null(r.agents);
}

static void test_result_empty(void **state) {
  (void)state; /* unused */
  agents_result_t r = {0};
  assert_int_equal(agents_result_finish(&r, NOW, 300, fake_alive), 0);
  for (int s = 0; s < AGENTS_STATUS_COUNT; s++)
    assert_int_equal(r.counts[s], 0);
  assert_null(agents_find_invalid(&r, "x.json"));
  agents_result_free(&r);
}

static void test_result_repairs_and_flattens(void **state) {
  (void)state; /* unused */
  agents_result_t r = {0};
  assert_int_equal(agents_result_add_invalid(&r, "bad\xff.json",
                                             "line one\nline\rtwo", NULL, true),
                   0);
  assert_string_equal(r.invalid[0].file, "bad?.json");
  assert_string_equal(r.invalid[0].error, "line one line two");
  assert_true(r.invalid[0].quiet);
  agents_result_free(&r);
}

/* The real check against real processes: this one, a reaped child, a
 * zombie child, and nonsense pids. */
static void test_pid_alive_real(void **state) {
  (void)state; /* unused */
  assert_int_equal(agents_pid_alive((long long)getpid()), 1);
  assert_int_equal(agents_pid_alive(0), -EINVAL);
  assert_int_equal(agents_pid_alive(-5), -EINVAL);
  assert_int_equal(agents_pid_alive(1LL << 40), -EINVAL);

  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0)
    _exit(0);
  /* Until reaped, the child is a zombie: kill() succeeds, yet it is gone. */
  for (int i = 0; i < 200 && agents_pid_alive(child) != 0; i++)
    usleep(10000);
  assert_int_equal(agents_pid_alive(child), 0);
  assert_int_equal(waitpid(child, NULL, 0), child);
  assert_int_equal(agents_pid_alive(child), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_derive_precedence),
      cmocka_unit_test(test_time_on_task),
      cmocka_unit_test(test_result_duplicates_sort_counts),
      cmocka_unit_test(test_result_empty),
      cmocka_unit_test(test_result_repairs_and_flattens),
      cmocka_unit_test(test_pid_alive_real),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
