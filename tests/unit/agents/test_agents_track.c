/* Unit tests for agents_track.c and agents_warned.c: notifications once
 * per transition, warnings once per bad file version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents_track.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW ((time_t)1795000000)
#define MAX_AGENTS 4
#define MAX_EVENTS 4

/* One agent as a read sees it: name, file, derived status. A NULL name
 * ends the list. */
typedef struct spec_s {
  const char *name;
  const char *file;
  agents_status_t status;
} spec_t;

/* build makes a finished result holding the agents of specs (statuses set
 * directly: derivation is tested elsewhere) and the invalid files. */
static void build(agents_result_t *r, const spec_t *specs,
                  const char *const *invalid) {
  memset(r, 0, sizeof(*r));
  for (const spec_t *s = specs; s != NULL && s->name != NULL; s++) {
    agents_agent_t a = {.name = strdup(s->name),
                        .reported_status = strdup("active")};
    assert_int_equal(agents_sanitise(s->name, a.instance, sizeof(a.instance)),
                     0);
    assert_int_equal(agents_result_add_agent(r, &a, s->file, NULL), 0);
  }
  for (const char *const *f = invalid; f != NULL && *f != NULL; f++)
    assert_int_equal(agents_result_add_invalid(r, *f, "bad", NULL, false), 0);
  assert_int_equal(agents_result_finish(r, NOW, 300, NULL), 0);
  for (size_t i = 0; i < r->n_agents; i++)
    for (const spec_t *s = specs; s->name != NULL; s++)
      if (strcmp(s->name, r->agents[i].name) == 0)
        r->agents[i].status = s->status;
}

/* What a test expects an event to be, written as a short string:
 * "FAILURE name from->to", "FAILURE name new->to", "OKAY name from->to"
 * or "OKAY name from->removed". */
typedef struct seen_s {
  char events[MAX_EVENTS][96];
  size_t n;
} seen_t;

static void record(const agents_event_t *ev, void *ud) {
  seen_t *seen = ud;
  assert_true(seen->n < MAX_EVENTS);
  const char *to = ev->agent == NULL ? "removed" : agents_status_name(ev->to);
  snprintf(seen->events[seen->n++], sizeof(seen->events[0]), "%s %s %s->%s",
           ev->kind == AGENTS_EVENT_FAILURE ? "FAILURE" : "OKAY", ev->name,
           ev->known ? agents_status_name(ev->from) : "new", to);
  if (ev->agent != NULL)
    assert_string_equal(ev->agent->name, ev->name);
}

/* One read of a scenario and the events it must raise, in name order. */
typedef struct step_s {
  spec_t agents[MAX_AGENTS + 1];
  const char *invalid[MAX_AGENTS + 1];
  const char *want[MAX_EVENTS + 1];
} step_t;

/* run_steps feeds the reads to a tracker (optionally seeded) and checks
 * each read's events. */
static void run_steps(const char *label, const step_t *steps, size_t n,
                      const char *seed) {
  agents_track_t t = {0};
  if (seed != NULL)
    assert_int_equal(agents_track_seed(&t, seed), 0);
  for (size_t i = 0; i < n; i++) {
    agents_result_t r;
    seen_t seen = {0};
    build(&r, steps[i].agents, steps[i].invalid);
    assert_int_equal(agents_track_update(&t, &r, record, &seen), 0);
    size_t want_n = 0;
    while (steps[i].want[want_n] != NULL)
      want_n++;
    for (size_t k = 0; k < seen.n || k < want_n; k++) {
      const char *got = k < seen.n ? seen.events[k] : "(none)";
      const char *want = k < want_n ? steps[i].want[k] : "(none)";
      if (strcmp(got, want) != 0)
        print_error("%s, read %zu, event %zu: got \"%s\", want \"%s\"\n", label,
                    i, k, got, want);
      assert_string_equal(got, want);
    }
    agents_result_free(&r);
  }
  agents_track_free(&t);
}

#define RUN(steps, seed)                                                       \
  run_steps(#steps, (steps), sizeof(steps) / sizeof((steps)[0]), (seed))

static void test_track_transitions(void **state) {
  (void)state; /* unused */
  static const step_t steps[] = {
      {.agents = {{"a", "a.json", AGENTS_ACTIVE}}},
      {.agents = {{"a", "a.json", AGENTS_FAILED}},
       .want = {"FAILURE a active->failed"}},
      {.agents = {{"a", "a.json", AGENTS_FAILED}}}, /* still failed: quiet */
      {.agents = {{"a", "a.json", AGENTS_DEAD}},
       .want = {"FAILURE a failed->dead"}},
      {.agents = {{"a", "a.json", AGENTS_DEAD}}},
      {.agents = {{"a", "a.json", AGENTS_IDLE}}, .want = {"OKAY a dead->idle"}},
      {.agents = {{"a", "a.json", AGENTS_STALE}}}, /* stale: no alert */
      {.agents = {{"a", "a.json", AGENTS_ACTIVE}}},
      {.agents = {{"a", "a.json", AGENTS_FAILED}},
       .want = {"FAILURE a active->failed"}},
      {.agents = {{"a", "a.json", AGENTS_STALE}},
       .want = {"OKAY a failed->stale"}},
  };
  RUN(steps, NULL);
}

static void test_track_first_sighting_and_removal(void **state) {
  (void)state; /* unused */
  static const step_t steps[] = {
      {.agents = {{"a", "a.json", AGENTS_DEAD},
                  {"b", "b.json", AGENTS_ACTIVE},
                  {"c", "c.json", AGENTS_FAILED}},
       .want = {"FAILURE a new->dead", "FAILURE c new->failed"}},
      /* a's and b's files are gone: a's alert clears, b just goes. */
      {.agents = {{"c", "c.json", AGENTS_FAILED}},
       .want = {"OKAY a dead->removed"}},
      /* a comes back still dead: a new FAILURE. */
      {.agents = {{"a", "a2.json", AGENTS_DEAD},
                  {"c", "c.json", AGENTS_FAILED}},
       .want = {"FAILURE a new->dead"}},
      /* Everything gone from a readable AgentDir. */
      {.agents = {{NULL, NULL, 0}},
       .want = {"OKAY a dead->removed", "OKAY c failed->removed"}},
      {.agents = {{NULL, NULL, 0}}},
  };
  RUN(steps, NULL);
}

static void test_track_invalid_file_holds(void **state) {
  (void)state; /* unused */
  static const step_t steps[] = {
      {.agents = {{"a", "a.json", AGENTS_FAILED}},
       .want = {"FAILURE a new->failed"}},
      /* a's file turned bad: no evidence of recovery, nothing raised. */
      {.agents = {{NULL, NULL, 0}}, .invalid = {"a.json"}},
      {.agents = {{NULL, NULL, 0}}, .invalid = {"a.json"}},
      /* Fixed, still failed: no repeat. */
      {.agents = {{"a", "a.json", AGENTS_FAILED}}},
      {.agents = {{NULL, NULL, 0}}, .invalid = {"a.json"}},
      {.agents = {{"a", "a.json", AGENTS_ACTIVE}},
       .want = {"OKAY a failed->active"}},
  };
  RUN(steps, NULL);
}

static void test_track_rename_keeps_state(void **state) {
  (void)state; /* unused */
  static const step_t steps[] = {
      {.agents = {{"a", "a.json", AGENTS_DEAD}},
       .want = {"FAILURE a new->dead"}},
      /* Same agent, new file name: the same agent, no transition. */
      {.agents = {{"a", "agent-a.json", AGENTS_DEAD}}},
      {.agents = {{"a", "agent-a.json", AGENTS_ACTIVE}},
       .want = {"OKAY a dead->active"}},
  };
  RUN(steps, NULL);
}

static const char seed_json[] =
    "{\"schema_version\": 1, \"agents\": ["
    "{\"name\": \"b\", \"status\": \"dead\", \"file\": \"b.json\"},"
    "{\"name\": \"a\", \"status\": \"failed\", \"file\": \"a.json\"},"
    "{\"name\": \"a\", \"status\": \"active\", \"file\": \"x.json\"},"
    "{\"name\": \"c\", \"status\": \"bogus\", \"file\": \"c.json\"},"
    "{\"status\": \"dead\", \"file\": \"d.json\"},"
    "{\"name\": \"e\", \"status\": \"active\", \"file\": \"e.json\"}]}";

static void test_track_seed_from_snapshot(void **state) {
  (void)state; /* unused */
  static const step_t steps[] = {
      /* a and b were already reported before the restart; c was not
       * readable in the snapshot, so it counts as new. */
      {.agents = {{"a", "a.json", AGENTS_FAILED},
                  {"b", "b.json", AGENTS_ACTIVE},
                  {"c", "c.json", AGENTS_DEAD},
                  {"e", "e.json", AGENTS_ACTIVE}},
       .want = {"OKAY b dead->active", "FAILURE c new->dead"}},
      {.agents = {{"a", "a.json", AGENTS_IDLE}},
       .want = {"OKAY a failed->idle", "OKAY c dead->removed"}},
  };
  RUN(steps, seed_json);
}

static void test_track_seed_rejects(void **state) {
  (void)state; /* unused */
  static const char *const bad[] = {"", "{", "[]", "{\"agents\": {}}",
                                    "{\"schema_version\": 1}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    agents_track_t t = {0};
    assert_int_equal(agents_track_seed(&t, bad[i]), -EINVAL);
    assert_int_equal(t.n, 0);
    agents_track_free(&t);
  }
  agents_track_t t = {0};
  assert_int_equal(agents_track_seed(&t, "{\"agents\": []}"), 0);
  assert_int_equal(t.n, 0);
  assert_int_equal(agents_track_seed(&t, seed_json), 0);
  assert_int_equal(t.n, 3); /* a (first wins), b, e */
  assert_string_equal(t.entries[0].name, "a");
  assert_string_equal(t.entries[1].name, "b");
  assert_string_equal(t.entries[2].name, "e");
  agents_track_free(&t);
}

/* --- warnings once per file version --- */

typedef struct warn_step_s {
  const char *file; /* one invalid file per read, NULL: none */
  ino_t ino;        /* its key, varied to simulate changes */
  long mtime_ns;
  const char *error;
  bool quiet;
  bool want_warning;
} warn_step_t;

static void count_warning(const agents_invalid_t *inv, void *ud) {
  (void)inv; /* only counted */
  (*(int *)ud)++;
}

static void test_warned_once_per_version(void **state) {
  (void)state; /* unused */
  static const warn_step_t steps[] = {
      {"bad.json", 1, 0, "parse error", false, true},
      {"bad.json", 1, 0, "parse error", false, false}, /* unchanged */
      {"bad.json", 1, 0, "parse error", false, false},
      {"bad.json", 1, 5, "parse error", false, true},     /* rewritten */
      {"bad.json", 2, 5, "parse error", false, true},     /* replaced */
      {"bad.json", 2, 5, "missing name", false, true},    /* new reason */
      {NULL, 0, 0, NULL, false, false},                   /* fixed */
      {"bad.json", 2, 5, "missing name", false, true},    /* broke again */
      {"many.json", 0, 0, "over the limit", true, false}, /* quiet */
      {"many.json", 0, 0, "over the limit", true, false},
  };
  agents_warned_t w = {0};
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    agents_result_t r = {0};
    agents_filekey_t key = {.ino = steps[i].ino, .size = 10};
    key.mtime.tv_nsec = steps[i].mtime_ns;
    if (steps[i].file != NULL)
      assert_int_equal(agents_result_add_invalid(&r, steps[i].file,
                                                 steps[i].error, &key,
                                                 steps[i].quiet),
                       0);
    assert_int_equal(agents_result_finish(&r, NOW, 300, NULL), 0);
    int warnings = 0;
    assert_int_equal(agents_warned_update(&w, &r, count_warning, &warnings), 0);
    if (warnings != (steps[i].want_warning ? 1 : 0))
      print_error("step %zu: %d warnings\n", i, warnings);
    assert_int_equal(warnings, steps[i].want_warning ? 1 : 0);
    agents_result_free(&r);
  }
  agents_warned_free(&w);
  assert_int_equal(w.n, 0);
}

static void test_warned_many_files(void **state) {
  (void)state; /* unused */
  agents_warned_t w = {0};
  for (int round = 0; round < 3; round++) {
    agents_result_t r = {0};
    for (int i = 0; i < 50; i++) {
      char file[32];
      snprintf(file, sizeof(file), "f%02d.json", i);
      agents_filekey_t key = {.ino = (ino_t)(i + (round == 2 && i == 7))};
      assert_int_equal(agents_result_add_invalid(&r, file, "bad", &key, false),
                       0);
    }
    assert_int_equal(agents_result_finish(&r, NOW, 300, NULL), 0);
    int warnings = 0;
    assert_int_equal(agents_warned_update(&w, &r, count_warning, &warnings), 0);
    /* All 50 at first, none while unchanged, then only the changed one. */
    assert_int_equal(warnings, round == 0 ? 50 : round == 1 ? 0 : 1);
    agents_result_free(&r);
  }
  agents_warned_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_track_transitions),
      cmocka_unit_test(test_track_first_sighting_and_removal),
      cmocka_unit_test(test_track_invalid_file_holds),
      cmocka_unit_test(test_track_rename_keeps_state),
      cmocka_unit_test(test_track_seed_from_snapshot),
      cmocka_unit_test(test_track_seed_rejects),
      cmocka_unit_test(test_warned_once_per_version),
      cmocka_unit_test(test_warned_many_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
