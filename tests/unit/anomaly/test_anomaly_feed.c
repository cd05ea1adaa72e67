/* Unit tests for anomaly_feed.c, the qiflow_anomaly plugin's pure parts:
 * agents.json and project.json fed to the detectors (the closed-issue
 * cursor counting each issue once, across a history save and load),
 * memory and df values turned into used fractions, and the words of a
 * notification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "anomaly_feed.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static anom_state_t st;

/* fresh resets st with the defaults. */
static void fresh(void) {
  anom_config_t c;
  anom_config_defaults(&c);
  anom_init(&st, &c);
}

static time_t at(const char *iso) {
  time_t t = 0;
  assert_int_equal(qf_time_parse(iso, &t), 0);
  return t;
}

static void test_agents_fed(void **state) {
  (void)state;
  fresh();
  char err[128];
  yajl_val doc =
      qf_json_parse("{\"agents\":["
                    "{\"name\":\"a\",\"status\":\"active\",\"issue_number\":7,"
                    "\"task_started_at\":\"2026-11-27T10:00:00Z\"},"
                    "{\"name\":\"b\",\"status\":\"idle\",\"issue_number\":null,"
                    "\"task_started_at\":null},"
                    "{\"status\":\"active\"}]}",
                    err, sizeof(err));
  assert_non_null(doc);
  time_t now = at("2026-11-27T10:30:00Z");
  assert_int_equal(anom_feed_agents(&st, now, doc, err, sizeof(err)), 2);
  assert_int_equal(st.active_agents, 1);
  assert_int_equal(st.agent_n, 2);
  assert_string_equal(st.agents[0].name, "a");
  assert_int_equal(st.agents[0].issue, 7);
  assert_int_equal(st.agents[0].task_start, at("2026-11-27T10:00:00Z"));
  yajl_tree_free(doc);

  doc = qf_json_parse("{\"issues\":[]}", err, sizeof(err));
  assert_int_equal(anom_feed_agents(&st, now, doc, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "not an agents snapshot"));
  yajl_tree_free(doc);
}

/* More agents than the detectors track: the first ANOM_MAX_AGENTS are fed
 * and the feed says so (the plugin logs it once), instead of a silent cut. */
static void test_agents_over_the_cap_are_said(void **state) {
  (void)state;
  fresh();
  size_t n = ANOM_MAX_AGENTS + 3, cap = n * 64 + 32, len = 0;
  char *text = malloc(cap);
  assert_non_null(text);
  len += (size_t)snprintf(text + len, cap - len, "{\"agents\":[");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(text + len, cap - len,
                            "%s{\"name\":\"a%05zu\",\"status\":\"idle\"}",
                            i ? "," : "", i);
  snprintf(text + len, cap - len, "]}");
  char err[256] = "";
  yajl_val doc = qf_json_parse(text, err, sizeof(err));
  assert_non_null(doc);
  assert_int_equal(
      anom_feed_agents(&st, at("2026-11-27T10:30:00Z"), doc, err, sizeof(err)),
      ANOM_MAX_AGENTS);
  assert_non_null(strstr(err, "lists 1027 agents"));
  assert_int_equal(st.agent_n, ANOM_MAX_AGENTS);
  yajl_tree_free(doc);
  free(text);
}

/* project writes a project.json with the given closed_at values (NULL for
 * an open issue) and github counts. */
static char *project(const char *const *closed, size_t n, int commits,
                     int prs) {
  char *text = malloc(8192);
  size_t len = (size_t)snprintf(
      text, 8192,
      "{\"schema_version\":1,\"updated_at\":\"2026-11-27T12:00:00Z\","
      "\"last_sync\":\"2026-11-27T12:00:00Z\",\"github\":"
      "{\"recent_commits\":%d,\"open_pull_requests\":%d},\"issues\":[",
      commits, prs);
  for (size_t i = 0; i < n; i++) {
    char q[40];
    snprintf(q, sizeof(q), closed[i] ? "\"%s\"" : "null",
             closed[i] ? closed[i] : "");
    len += (size_t)snprintf(text + len, 8192 - len,
                            "%s{\"id\":%zu,\"closed_at\":%s}", i ? "," : "",
                            i + 1, q);
  }
  snprintf(text + len, 8192 - len, "]}");
  return text;
}

static int feed(const char *text) {
  char err[128];
  return anom_feed_project(&st, text, strlen(text), err, sizeof(err));
}

static void test_project_closed_counted_once(void **state) {
  (void)state;
  fresh();
  const char *c1[] = {"2026-11-26T09:00:00Z", NULL, "2026-11-26T09:00:00Z",
                      "2026-11-27T08:00:00Z"};
  char *t1 = project(c1, 4, 5, 2);
  assert_int_equal(feed(t1), 3);
  assert_int_equal(st.feed_closed_until, at("2026-11-27T08:00:00Z"));
  assert_int_equal(st.day_n, 2);
  assert_float_equal(st.closed[0], 2, 0);
  assert_float_equal(st.closed[1], 1, 0);
  assert_int_equal(st.last_progress, at("2026-11-27T08:00:00Z"));
  /* the same document again, and an older closed_at arriving late: none */
  assert_int_equal(feed(t1), 0);
  const char *c2[] = {"2026-11-25T09:00:00Z", "2026-11-27T11:00:00Z"};
  char *t2 = project(c2, 2, 5, 2);
  assert_int_equal(feed(t2), 1);
  assert_float_equal(st.closed[1], 2, 0);

  /* a history saved and loaded keeps the cursor: nothing counted twice */
  char *hist = NULL, err[128];
  size_t hlen = 0;
  assert_int_equal(
      anom_history_render(&st, at("2026-11-27T12:00:00Z"), &hist, &hlen), 0);
  fresh();
  assert_int_equal(anom_history_parse(&st, hist, err, sizeof(err)), 0);
  assert_int_equal(st.feed_closed_until, at("2026-11-27T11:00:00Z"));
  assert_int_equal(st.feed_commits, 5);
  assert_int_equal(feed(t2), 0);
  assert_float_equal(st.closed[1], 2, 0);
  free(hist);
  free(t1);
  free(t2);
}

static void test_project_counts_as_progress(void **state) {
  (void)state;
  fresh();
  const char *none[] = {NULL};
  char *t = project(none, 1, 5, 2);
  assert_int_equal(feed(t), 0);
  assert_int_equal(st.last_progress == 0 || !st.progress_seen, 1);
  free(t);
  t = project(none, 1, 4, 2); /* fewer commits: the window rolled */
  feed(t);
  assert_false(st.progress_seen);
  free(t);
  t = project(none, 1, 6, 2); /* a commit */
  feed(t);
  assert_true(st.progress_seen);
  assert_int_equal(st.last_progress, at("2026-11-27T12:00:00Z"));
  free(t);
  fresh();
  t = project(none, 1, 5, 2);
  feed(t);
  free(t);
  t = project(none, 1, 5, 1); /* a pull request merged or closed */
  feed(t);
  assert_true(st.progress_seen);
  free(t);
}

/* head writes a project.json whose head carries extra (ci_runs, activity)
 * and no issue. */
static char *head(const char *extra) {
  char *text = malloc(4096);
  snprintf(text, 4096,
           "{\"schema_version\":1,\"updated_at\":\"2026-11-27T12:00:00Z\","
           "\"last_sync\":\"2026-11-27T12:00:00Z\",\"github\":"
           "{\"recent_commits\":5,\"open_pull_requests\":2},%s,"
           "\"issues\":[]}",
           extra);
  return text;
}

/* ci_sum adds up the hourly run and failure counts. */
static void ci_sum(unsigned *runs, unsigned *fails) {
  *runs = *fails = 0;
  for (int i = 0; i < st.ci_n; i++) {
    *runs += st.ci_runs[i];
    *fails += st.ci_fails[i];
  }
}

/* ci_runs are counted once each, across documents and a history save and
 * load; entries without a time or verdict are skipped. */
static void test_project_ci_runs_counted_once(void **state) {
  (void)state;
  fresh();
  char *t1 = head("\"ci_runs\":["
                  "{\"at\":\"2026-11-27T11:00:00Z\",\"failed\":true},"
                  "{\"at\":\"2026-11-27T10:00:00Z\",\"failed\":false},"
                  "{\"at\":null,\"failed\":true},"
                  "{\"at\":\"2026-11-27T09:00:00Z\"},"
                  "{\"at\":\"2026-11-26T09:00:00Z\",\"failed\":true}]");
  unsigned runs, fails;
  assert_int_equal(feed(t1), 0); /* closed issues counted: none */
  ci_sum(&runs, &fails);
  assert_int_equal(runs, 3);
  assert_int_equal(fails, 2);
  assert_int_equal(st.feed_ci_until, at("2026-11-27T11:00:00Z"));
  feed(t1); /* the same runs again: nothing new */
  ci_sum(&runs, &fails);
  assert_int_equal(runs, 3);
  char *t2 = head("\"ci_runs\":["
                  "{\"at\":\"2026-11-27T11:30:00Z\",\"failed\":false},"
                  "{\"at\":\"2026-11-27T11:00:00Z\",\"failed\":true},"
                  "{\"at\":\"2026-11-27T10:00:00Z\",\"failed\":false}]");
  feed(t2);
  ci_sum(&runs, &fails);
  assert_int_equal(runs, 4);
  assert_int_equal(fails, 2);
  assert_int_equal(st.feed_ci_until, at("2026-11-27T11:30:00Z"));

  char *hist = NULL, err[128];
  size_t hlen = 0;
  assert_int_equal(
      anom_history_render(&st, at("2026-11-27T12:00:00Z"), &hist, &hlen), 0);
  fresh();
  assert_int_equal(anom_history_parse(&st, hist, err, sizeof(err)), 0);
  assert_int_equal(st.feed_ci_until, at("2026-11-27T11:30:00Z"));
  feed(t2);
  ci_sum(&runs, &fails);
  assert_int_equal(runs, 4);
  free(hist);
  free(t1);
  free(t2);
}

/* activity.last_pull_request_update is progress at its time, once. */
static void test_project_activity_progress(void **state) {
  (void)state;
  fresh();
  anom_agent_obs_t a = {.name = "a",
                        .active = true,
                        .issue = 7,
                        .task_start = at("2026-11-27T08:00:00Z")};
  anom_observe_agents(&st, at("2026-11-27T09:00:00Z"), &a, 1);
  anom_observe_progress(&st, at("2026-11-27T09:00:00Z"));
  for (time_t t = at("2026-11-27T09:30:00Z"); t <= at("2026-11-27T12:00:00Z");
       t += 1800)
    anom_observe_agents(&st, t, &a, 1);
  char *t = head("\"activity\":{\"last_pull_request_update\":"
                 "\"2026-11-27T11:00:00Z\"}");
  int gaps = st.gap_n;
  feed(t);
  assert_int_equal(st.last_progress, at("2026-11-27T11:00:00Z"));
  assert_int_equal(st.gap_n, gaps + 1); /* 09:00 to 11:00, one agent */
  assert_float_equal(st.gaps[gaps], 7200, 1e-6);
  assert_int_equal(st.feed_pr_update, at("2026-11-27T11:00:00Z"));
  feed(t); /* the same update again: no progress, no gap */
  assert_int_equal(st.gap_n, gaps + 1);
  assert_int_equal(st.last_progress, at("2026-11-27T11:00:00Z"));
  free(t);
  t = head("\"activity\":{\"last_pull_request_update\":null}");
  feed(t);
  assert_int_equal(st.last_progress, at("2026-11-27T11:00:00Z"));
  free(t);

  char *hist = NULL, err[128];
  size_t hlen = 0;
  assert_int_equal(
      anom_history_render(&st, at("2026-11-27T12:00:00Z"), &hist, &hlen), 0);
  fresh();
  assert_int_equal(anom_history_parse(&st, hist, err, sizeof(err)), 0);
  assert_int_equal(st.feed_pr_update, at("2026-11-27T11:00:00Z"));
  free(hist);
}

static void test_project_refused(void **state) {
  (void)state;
  fresh();
  char err[128];
  const char *bad[] = {"{\"issues\":{}}", "[1]", "{\"issues\":[", "{}"};
  for (size_t i = 0; i < 4; i++) {
    err[0] = '\0';
    assert_int_equal(
        anom_feed_project(&st, bad[i], strlen(bad[i]), err, sizeof(err)),
        -EINVAL);
    assert_true(err[0] != '\0');
  }
  assert_int_equal(st.day_n, 0);
  assert_int_equal(st.feed_commits, -1);
}

/* from_file feeds text from a temporary file read window bytes at a
 * time, as the plugin reads project.json. */
static int from_file(const char *text, size_t window) {
  size_t len = strlen(text);
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fflush(f), 0);
  qf_src_t src = {.fd = fileno(f), .len = len, .window = window};
  char err[128] = "";
  int rc = anom_feed_project_src(&st, &src, err, sizeof(err));
  fclose(f);
  return rc;
}

/* Issues are scanned, not parsed, yet count as a parse would count them:
 * a title that reads "closed_at", a key in another spelling, blanks,
 * nested objects, escapes, a null or a time that does not parse, an
 * element that is no issue; from the text or from a file read in windows
 * of any size. */
static void test_project_scanned_as_parsed(void **state) {
  (void)state;
  static const char *doc =
      "{\"last_sync\":\"2026-11-27T12:00:00Z\",\"issues\":["
      "{\"id\":1,\"title\":\"closed_at\",\"closed_at\":null},"
      "{\"id\":2,\"title\":\"\\\"closed_at\\\":\\\"2026-11-27T01:00:00Z\","
      "\"closed_at\":null},"
      "{\"id\":3, \"closed_at\" :\n \"2026-11-27T02:00:00Z\"},"
      "{\"id\":4,\"pr\":{\"closed_at\":\"2026-11-27T03:00:00Z\"},"
      "\"closed_at\":null},"
      "{\"id\":5,\"title\":\"caf\\u00e9\",\"closed_at\":"
      "\"2026-11-27T04:00:00Z\"},"
      "{\"id\":6,\"closed_at\":\"yesterday\"},"
      "{\"id\":7,\"closed_at\":7},"
      "[\"closed_at\",\"2026-11-27T05:00:00Z\"],"
      "{\"id\":8,\"closed_at\":\"2026-11-27T06:00:00Z\","
      "\"closed_at\":\"2026-11-27T07:00:00Z\"}"
      "]}";
  fresh();
  assert_int_equal(feed(doc), 3); /* issues 3, 5 and 8 (its first) */
  time_t until = st.feed_closed_until;
  assert_int_equal(until, at("2026-11-27T06:00:00Z"));
  for (size_t w = 1; w <= 64; w *= 4) {
    fresh();
    assert_int_equal(from_file(doc, w), 3);
    assert_int_equal(st.feed_closed_until, until);
  }
  /* and the parse of the whole text, which a text that does not scan
   * gets (here: the key written with an escape), counts the same */
  char *escaped = strdup(doc);
  assert_non_null(escaped);
  char *k = strstr(escaped, "\"issues\"");
  assert_non_null(k);
  size_t n = strlen(escaped);
  char *alt = malloc(n + 6);
  assert_non_null(alt);
  snprintf(alt, n + 6, "%.*s\"issu\\u0065s\"%s", (int)(k - escaped), escaped,
           k + 8);
  fresh();
  assert_int_equal(feed(alt), 3);
  assert_int_equal(st.feed_closed_until, until);
  free(alt);
  free(escaped);
}

/* A project.json that shrinks while read is refused and says so. */
static void test_project_file_shrinks(void **state) {
  (void)state;
  fresh();
  static const char *doc = "{\"issues\":[{\"closed_at\":null}]}";
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(fwrite(doc, 1, 10, f), 10);
  assert_int_equal(fflush(f), 0);
  qf_src_t src = {.fd = fileno(f), .len = strlen(doc), .window = 4};
  char err[128] = "";
  assert_int_equal(anom_feed_project_src(&st, &src, err, sizeof(err)), -EIO);
  assert_non_null(strstr(err, "changed while read"));
  fclose(f);
}

static void test_values_to_fractions(void **state) {
  (void)state;
  anom_feed_values_t f = {0};
  double u;
  assert_int_equal(anom_feed_value(&f, "cpu", "", "percent", "user", 5), 0);
  assert_int_equal(anom_feed_value(&f, "memory", "", "memory", "used", 3), 1);
  assert_int_equal(anom_feed_fraction(&f.res[0], &u), -ENOENT);
  assert_int_equal(anom_feed_value(&f, "memory", "", "memory", "free", 5), 1);
  assert_int_equal(anom_feed_value(&f, "memory", "", "memory", "cached", 2), 1);
  assert_int_equal(anom_feed_value(&f, "memory", "", "memory", "used", 4), 1);
  assert_int_equal(anom_feed_fraction(&f.res[0], &u), 0);
  assert_float_equal(u, 4.0 / 11.0, 1e-12);
  assert_int_equal(anom_feed_value(&f, "memory", "", "memory", "free", NAN), 0);
  /* a percentage, when collectd sends one, wins */
  assert_int_equal(anom_feed_value(&f, "memory", "", "percent", "free", 60), 0);
  assert_int_equal(anom_feed_value(&f, "memory", "", "percent", "used", 25), 1);
  assert_int_equal(anom_feed_fraction(&f.res[0], &u), 0);
  assert_float_equal(u, 0.25, 1e-12);
  /* df: one resource per mount, used over used + free + reserved */
  assert_int_equal(anom_feed_value(&f, "df", "root", "df_complex", "used", 30),
                   1);
  assert_int_equal(anom_feed_value(&f, "df", "root", "df_complex", "free", 60),
                   1);
  assert_int_equal(
      anom_feed_value(&f, "df", "root", "df_complex", "reserved", 10), 1);
  assert_string_equal(f.res[1].name, "disk:root");
  assert_int_equal(anom_feed_fraction(&f.res[1], &u), 0);
  assert_float_equal(u, 0.3, 1e-12);
  assert_int_equal(anom_feed_value(&f, "df", "", "df_complex", "used", 1), 0);
  for (int i = 2; i < ANOM_MAX_RESOURCES; i++) {
    char mount[16];
    snprintf(mount, sizeof(mount), "m%d", i);
    assert_int_equal(
        anom_feed_value(&f, "df", mount, "percent_bytes", "used", 50), 1);
  }
  assert_int_equal(
      anom_feed_value(&f, "df", "one-more", "percent_bytes", "used", 50),
      -ENOSPC);
}

static void test_message(void **state) {
  (void)state;
  anom_t a = {.kind = ANOM_STUCK_AGENT,
              .issue = 7,
              .since = 1795000000,
              .observed = 10,
              .baseline = 2};
  snprintf(a.subject, sizeof(a.subject), "alpha");
  snprintf(a.reason, sizeof(a.reason), "alpha has worked for 3h.");
  char msg[256];
  anom_feed_message(&a, true, msg, sizeof(msg));
  assert_string_equal(msg, "stuck_agent alpha (issue #7): alpha has worked "
                           "for 3h.");
  anom_feed_message(&a, false, msg, sizeof(msg));
  assert_string_equal(msg, "ended: stuck_agent alpha (issue #7) (since "
                           "2026-11-18T11:06:40Z): alpha has worked for 3h.");
  a.kind = ANOM_STALLED_SWARM;
  a.issue = 0;
  snprintf(a.subject, sizeof(a.subject), "swarm");
  anom_feed_message(&a, true, msg, sizeof(msg));
  assert_string_equal(msg, "stalled_swarm swarm: alpha has worked for 3h.");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agents_fed),
      cmocka_unit_test(test_agents_over_the_cap_are_said),
      cmocka_unit_test(test_project_closed_counted_once),
      cmocka_unit_test(test_project_counts_as_progress),
      cmocka_unit_test(test_project_ci_runs_counted_once),
      cmocka_unit_test(test_project_activity_progress),
      cmocka_unit_test(test_project_refused),
      cmocka_unit_test(test_project_scanned_as_parsed),
      cmocka_unit_test(test_project_file_shrinks),
      cmocka_unit_test(test_values_to_fractions),
      cmocka_unit_test(test_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
