/* Unit tests for prom_text.c and render_prom.c: escaping, number syntax, the
 * family layout of both formats, and the negotiation of /metrics' format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "prom_text.h"
#include "qf_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* expose runs fn on a fresh exposition and returns its text. */
static char *expose(bool om, void (*fn)(qfx_prom_t *p)) {
  qfx_prom_t p;
  qfx_prom_init(&p, om);
  fn(&p);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(qfx_prom_finish(&p, &text, &len), 0);
  assert_int_equal(strlen(text), len);
  return text;
}

static void families(qfx_prom_t *p) {
  const char *one[] = {"status", "active", NULL};
  const char *two[] = {"agent", "A \"b\"\\\nc", "x", "", NULL};
  qfx_prom_family(p, "qiflow_agents", "gauge", NULL, "Agents \\ by\nstatus.");
  qfx_prom_sample(p, one, 2);
  qfx_prom_sample(p, two, 0.5);
  qfx_prom_family(p, "qiflow_unknown", "gauge", NULL, "Never written.");
  qfx_prom_sample(p, NULL, NAN);
  qfx_prom_family(p, "qiflow_sent", "counter", NULL, "Sent \"x\".");
  qfx_prom_sample(p, NULL, 10);
  qfx_prom_family(p, "qiflow_x", "info", NULL, "Meta.");
  qfx_prom_sample(p, one, 1);
  qfx_prom_family(p, "qiflow_age_seconds", "gauge", "seconds", "Age.");
  qfx_prom_sample(p, NULL, 1.25);
}

static void test_text_004(void **state) {
  (void)state; /* unused */
  char *text = expose(false, families);
  assert_string_equal(
      text, "# HELP qiflow_agents Agents \\\\ by\\nstatus.\n"
            "# TYPE qiflow_agents gauge\n"
            "qiflow_agents{status=\"active\"} 2\n"
            "qiflow_agents{agent=\"A \\\"b\\\"\\\\\\nc\",x=\"\"} 0.5\n"
            "# HELP qiflow_sent_total Sent \"x\".\n"
            "# TYPE qiflow_sent_total counter\n"
            "qiflow_sent_total 10\n"
            "# HELP qiflow_x_info Meta.\n"
            "# TYPE qiflow_x_info gauge\n"
            "qiflow_x_info{status=\"active\"} 1\n"
            "# HELP qiflow_age_seconds Age.\n"
            "# TYPE qiflow_age_seconds gauge\n"
            "qiflow_age_seconds 1.25\n");
  free(text);
}

static void test_openmetrics(void **state) {
  (void)state; /* unused */
  char *text = expose(true, families);
  assert_string_equal(
      text, "# TYPE qiflow_agents gauge\n"
            "# HELP qiflow_agents Agents \\\\ by\\nstatus.\n"
            "qiflow_agents{status=\"active\"} 2\n"
            "qiflow_agents{agent=\"A \\\"b\\\"\\\\\\nc\",x=\"\"} 0.5\n"
            "# TYPE qiflow_sent counter\n"
            "# HELP qiflow_sent Sent \\\"x\\\".\n"
            "qiflow_sent_total 10\n"
            "# TYPE qiflow_x info\n"
            "# HELP qiflow_x Meta.\n"
            "qiflow_x_info{status=\"active\"} 1\n"
            "# TYPE qiflow_age_seconds gauge\n"
            "# UNIT qiflow_age_seconds seconds\n"
            "# HELP qiflow_age_seconds Age.\n"
            "qiflow_age_seconds 1.25\n"
            "# EOF\n");
  free(text);
}

static void nothing(qfx_prom_t *p) { (void)p; /* an empty exposition */ }

static void test_empty(void **state) {
  (void)state; /* unused */
  char *text = expose(false, nothing);
  assert_string_equal(text, "");
  free(text);
  text = expose(true, nothing);
  assert_string_equal(text, "# EOF\n");
  free(text);
}

static void test_numbers(void **state) {
  (void)state; /* unused */
  static const struct {
    double v;
    const char *text;
  } cases[] = {
      {0, "0"},
      {-3, "-3"},
      {1795817263, "1795817263"},
      {0.1, "0.1"},
      {1.0 / 3, "0.333333333333333"},
      {1e20, "1e+20"},
      {-2.5e-7, "-2.5e-07"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    qf_buf_t b = QF_BUF_INIT;
    assert_int_equal(qfx_prom_number(&b, cases[i].v), 0);
    assert_string_equal(b.data, cases[i].text);
    qf_buf_free(&b);
  }
  qf_buf_t b = QF_BUF_INIT;
  qfx_prom_number(&b, NAN);
  qfx_prom_number(&b, INFINITY);
  qfx_prom_number(&b, -INFINITY);
  assert_string_equal(b.data, "NaN+Inf-Inf");
  qf_buf_free(&b);
}

static void test_negotiation(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *accept, *format;
    int want;
  } cases[] = {
      {NULL, NULL, QFX_FMT_JSON},
      {"*/*", NULL, QFX_FMT_JSON},
      {"application/json", NULL, QFX_FMT_JSON},
      {"text/html,application/xhtml+xml,*/*;q=0.8", NULL, QFX_FMT_JSON},
      {"text/plain", NULL, QFX_FMT_PROM},
      {"text/plain;version=0.0.4;q=0.9,*/*;q=0.1", NULL, QFX_FMT_PROM},
      /* Prometheus 2.x's scrape Accept header. */
      {"application/openmetrics-text;version=1.0.0,application/"
       "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
       "q=0.5,*/*;q=0.1",
       NULL, QFX_FMT_OM},
      {"application/openmetrics-text; version=1.0.0", NULL, QFX_FMT_OM},
      {"text/plain;q=0.4, application/openmetrics-text;q=0.5", NULL,
       QFX_FMT_OM},
      {"application/openmetrics-text;q=0, text/plain", NULL, QFX_FMT_PROM},
      {"*/*, text/plain", NULL, QFX_FMT_PROM}, /* specific beats wildcard */
      {"text/*", NULL, QFX_FMT_PROM},
      {"image/png", NULL, QFX_FMT_JSON},
      {"TEXT/PLAIN", NULL, QFX_FMT_PROM},
      {"", NULL, QFX_FMT_JSON},
      {"text/plain", "json", QFX_FMT_JSON},
      {"application/json", "prometheus", QFX_FMT_PROM},
      {NULL, "openmetrics", QFX_FMT_OM},
      {NULL, "Prometheus", -1},
      {NULL, "", -1},
      {NULL, "text", -1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int got = qfx_metrics_format(cases[i].accept, cases[i].format);
    if (got != cases[i].want)
      fail_msg("Accept \"%s\" format \"%s\": got %d, want %d",
               cases[i].accept ? cases[i].accept : "(none)",
               cases[i].format ? cases[i].format : "(none)", got,
               cases[i].want);
  }
}

/* render_model renders the exposition of a small fixed model. */
static char *render_model(bool om, const char *project_json) {
  qfx_resources_t res;
  qfx_resources_init(&res);
  res.usage.cpu_percent = 25;
  res.usage.memory_used_bytes = 1024;
  res.agents[QFX_AG_ACTIVE] = 1;
  res.agents[QFX_AG_TOTAL] = 1;
  char err[128];
  yajl_val project =
      project_json ? qf_json_parse(project_json, err, 128) : NULL;
  long long by_trigger[QFX_TRIGGERS] = {0, 1, 0, 0, 0};
  qfx_model_t m = {.now = 1000,
                   .swarm_id = NULL,
                   .version = "0.1.0",
                   .hostname = "h",
                   .platform = "linux",
                   .socket_path = "/s",
                   .api_port = 1,
                   .refresh_ms = 1000,
                   .connected = false,
                   .error = "x",
                   .last_ok = 0,
                   .stale = true,
                   .res = &res,
                   .agents = NULL,
                   .project = project,
                   .heartbeat = NULL,
                   .flagged_issues = project ? 1 : -1,
                   .flagged_by_trigger = project ? by_trigger : NULL};
  char *text = NULL;
  size_t len;
  assert_int_equal(qfx_render_prom(&m, om, &text, &len), 0);
  if (project != NULL)
    yajl_tree_free(project);
  return text;
}

static void test_render(void **state) {
  (void)state; /* unused */
  char *text = render_model(false, NULL);
  assert_non_null(strstr(text, "\nqiflow_cpu_usage_ratio 0.25\n"));
  assert_non_null(strstr(text, "\nqiflow_memory_used_bytes 1024\n"));
  assert_non_null(strstr(text, "\nqiflow_collectd_up 0\n"));
  assert_non_null(strstr(text, "\nqiflow_agents{status=\"active\"} 1\n"));
  assert_non_null(strstr(text, "qiflow_exporter_info{version=\"0.1.0\","
                               "swarm_id=\"\",hostname=\"h\""));
  /* Unknown values leave no family behind, and no NaN sample. */
  assert_null(strstr(text, "qiflow_disk_used_bytes"));
  assert_null(strstr(text, "qiflow_collectd_data_age_seconds"));
  assert_null(strstr(text, "NaN"));
  assert_null(strstr(text, "qiflow_github_"));
  assert_null(strstr(text, "qiflow_heartbeat_"));
  free(text);
  /* Before the first full listing: no project or issue-count samples. */
  text = render_model(false, "{\"repository\": \"o/r\", \"last_sync\": null,"
                             " \"github\": {\"open_issues\": 0,"
                             " \"rate_limit_limit\": 60}, \"completion\":"
                             " {\"completion_percentage\": 0}}");
  assert_non_null(strstr(text, "\nqiflow_github_rate_limit 60\n"));
  assert_null(strstr(text, "qiflow_github_open_issues"));
  assert_null(strstr(text, "qiflow_project_"));
  free(text);
  text = render_model(true, "{\"repository\": \"o/r\", \"last_sync\":"
                            " \"1970-01-01T00:10:00Z\", \"completion\": "
                            "{\"completion_percentage\": 50, "
                            "\"ready_issues\": 3}, \"estimated_completion_"
                            "date\": \"1970-01-02\"}");
  assert_non_null(strstr(text, "repository=\"o/r\""));
  assert_non_null(strstr(text, "\nqiflow_project_completion_ratio 0.5\n"));
  assert_non_null(strstr(text, "\nqiflow_project_issues{status=\"ready\"} "
                               "3\n"));
  assert_non_null(
      strstr(text, "\nqiflow_project_flagged_issues{trigger=\"ci_failures\","
                   "priority=\"critical\"} 1\n"));
  assert_non_null(strstr(
      text, "\nqiflow_project_estimated_completion_timestamp_seconds 86400\n"));
  assert_true(strncmp(text, "# TYPE qiflow_exporter info\n", 28) == 0);
  size_t n = strlen(text);
  assert_true(n > 6 && strcmp(text + n - 6, "# EOF\n") == 0);
  free(text);
}

static void test_render_sync(void **state) {
  (void)state; /* unused */
  /* Never synced, actions/runs refused: the state set says never, ci_runs
   * is unavailable and the other parts available. */
  char *text = render_model(
      false, "{\"repository\": \"o/r\", \"last_sync\": null, \"sync_state\":"
             " \"never\", \"github\": {\"unavailable\": [{\"part\": "
             "\"ci_runs\", \"reason\": \"HTTP 403\", \"since\": "
             "\"1970-01-01T00:10:00Z\", \"retry_at\": "
             "\"1970-01-01T01:10:00Z\"}]}}");
  assert_non_null(strstr(text,
                         "# TYPE qiflow_github_sync_state gauge\n"
                         "qiflow_github_sync_state{state=\"never\"} 1\n"
                         "qiflow_github_sync_state{state=\"ok\"} 0\n"
                         "qiflow_github_sync_state{state=\"failing\"} 0\n"));
  assert_non_null(strstr(
      text, "# TYPE qiflow_github_part_available gauge\n"
            "qiflow_github_part_available{part=\"ci_runs\"} 0\n"
            "qiflow_github_part_available{part=\"pull_request_detail\"} 1\n"
            "qiflow_github_part_available{part=\"issue_events\"} 1\n"));
  free(text);
  /* Synced, nothing refused; an entry lacking its reason is no entry. */
  text = render_model(
      true, "{\"repository\": \"o/r\", \"last_sync\": "
            "\"1970-01-01T00:10:00Z\", \"sync_state\": \"ok\", \"github\": "
            "{\"unavailable\": [{\"part\": \"issue_events\"}]}}");
  assert_non_null(strstr(text, "\nqiflow_github_sync_state{state=\"ok\"} 1\n"));
  assert_non_null(strstr(
      text, "\nqiflow_github_part_available{part=\"ci_runs\"} 1\n"
            "qiflow_github_part_available{part=\"pull_request_detail\"} 1\n"
            "qiflow_github_part_available{part=\"issue_events\"} 1\n"));
  free(text);
  /* An older qiflow_github's file says neither: no such families. */
  text = render_model(false, "{\"repository\": \"o/r\", \"last_sync\": null,"
                             " \"sync_state\": \"later\", \"github\": {}}");
  assert_null(strstr(text, "qiflow_github_sync_state"));
  assert_null(strstr(text, "qiflow_github_part_available"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_004),    cmocka_unit_test(test_openmetrics),
      cmocka_unit_test(test_empty),       cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_negotiation), cmocka_unit_test(test_render),
      cmocka_unit_test(test_render_sync),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
