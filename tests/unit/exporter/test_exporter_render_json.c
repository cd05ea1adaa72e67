/* Unit tests for render_json.c: fixed collectd values and snapshot documents
 * in, exact JSON fields out (rendered, then parsed back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "render_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795000000.0 /* 2026-11-18T11:06:40Z */
#define GIB (1024.0 * 1024.0 * 1024.0)

static const char agents_json[] =
    "{\"schema_version\": 1, \"updated_at\": \"2026-11-18T11:06:30Z\","
    " \"collectd_version\": \"5.12.0\","
    " \"counts\": {\"active\": 1, \"idle\": 0, \"blocked\": 0, \"failed\": 0,"
    "  \"dead\": 1, \"stale\": 0, \"total\": 2, \"invalid\": 1},"
    " \"agents\": [{\"name\": \"Agent-1\", \"status\": \"active\","
    "  \"pid\": 42, \"time_on_task_minutes\": 41.0},"
    "  {\"name\": \"Agent-2\", \"status\": \"dead\", \"pid\": null}],"
    " \"invalid_files\": [{\"file\": \"broken.json\", \"error\": \"x\"}]}";

static const char heartbeat_json[] =
    "{\"schema_version\": 1, \"updated_at\": \"2026-11-18T11:06:00Z\","
    " \"running\": true, \"swarm_id\": \"s-1\", \"interval\": 60,"
    " \"backends\": [{\"name\": \"central\","
    "  \"url\": \"https://backend.example/api/v1/swarms/heartbeat\","
    "  \"spool_depth\": 0}], \"webhooks\": []}";

static const char project_json[] =
    "{\"schema_version\": 1, \"updated_at\": \"2026-11-18T11:00:00Z\","
    " \"repository\": \"owner/repo\", \"last_sync\": \"2026-11-18T11:00:00Z\","
    " \"last_error\": null, \"github\": {\"open_issues\": 23,"
    " \"open_pull_requests\": 4}, \"completion\": {\"completion_percentage\":"
    " 66, \"total_issues\": 68}, \"velocity\": {\"per_day\": 1.29},"
    " \"estimated_completion_date\": \"2026-12-15\", \"issues\": []}";

typedef struct fixture_s {
  qfx_resources_t res;
  yajl_val agents, heartbeat, project;
  qfx_model_t m;
} fixture_t;

static yajl_val parse_ok(const char *text) {
  char err[256] = "";
  yajl_val v = qf_json_parse(text, err, sizeof(err));
  if (v == NULL)
    fail_msg("does not parse: %s\n%s", err, text);
  return v;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  qfx_resources_init(&f->res);
  snprintf(f->res.host, sizeof(f->res.host), "node-7");
  f->res.usage.cpu_percent = 12.3456;
  f->res.usage.memory_percent = 40.0;
  f->res.usage.memory_used_bytes = 3.0 * GIB;
  f->res.usage.memory_total_bytes = 8.0 * GIB;
  f->res.usage.disk_percent = 61.5;
  f->res.usage.disk_used_bytes = 60.0 * GIB;
  f->res.usage.disk_total_bytes = 100.0 * GIB;
  f->res.load[0] = 0.5;
  f->res.load[1] = 0.25;
  f->res.load[2] = 0.125;
  f->res.uptime_seconds = 3600.4;
  f->res.agents[QFX_AG_ACTIVE] = 1;
  f->res.agents[QFX_AG_TOTAL] = 2;
  f->agents = parse_ok(agents_json);
  f->heartbeat = parse_ok(heartbeat_json);
  f->project = parse_ok(project_json);
  f->m = (qfx_model_t){.now = NOW,
                       .swarm_id = "swarm-1",
                       .version = "0.1.0",
                       .hostname = "node-7",
                       .platform = "linux",
                       .socket_path = "/run/collectd.sock",
                       .api_port = 8080,
                       .refresh_ms = 1000,
                       .connected = true,
                       .error = "",
                       .last_ok = NOW - 0.25,
                       .stale = false,
                       .res = &f->res,
                       .agents = f->agents,
                       .project = NULL,
                       .heartbeat = NULL};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  yajl_tree_free(f->agents);
  yajl_tree_free(f->heartbeat);
  yajl_tree_free(f->project);
  free(f);
  return 0;
}

typedef int (*renderer_t)(const qfx_model_t *m, qf_jw_t *w);

static int r_status(const qfx_model_t *m, qf_jw_t *w) {
  qfx_render_status(m, w);
  return 200;
}
static int r_agent(const qfx_model_t *m, qf_jw_t *w) {
  qfx_render_agent_status(m, w);
  return 200;
}
static int r_metrics(const qfx_model_t *m, qf_jw_t *w) {
  qfx_render_metrics(m, w);
  return 200;
}

/* render renders with fn and parses the text back; *code gets the status. */
static yajl_val render(renderer_t fn, const qfx_model_t *m, int *code) {
  qf_jw_t w;
  assert_int_equal(qf_jw_init(&w), 0);
  int c = fn(m, &w);
  if (code != NULL)
    *code = c;
  char *text = NULL;
  assert_int_equal(qf_jw_finish(&w, &text, NULL), 0);
  qf_jw_free(&w);
  yajl_val doc = parse_ok(text);
  free(text);
  return doc;
}

/* path walks "a/b/c" through objects. */
static yajl_val path(yajl_val v, const char *p) {
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", p);
  for (char *save = NULL, *k = strtok_r(buf, "/", &save); k != NULL;
       k = strtok_r(NULL, "/", &save))
    v = qf_json_get(v, k);
  if (v == NULL)
    fail_msg("no %s", p);
  return v;
}

static double num(yajl_val v, const char *p) {
  yajl_val n = path(v, p);
  if (!YAJL_IS_NUMBER(n))
    fail_msg("%s is not a number", p);
  return YAJL_GET_DOUBLE(n);
}

static const char *str(yajl_val v, const char *p) {
  yajl_val s = path(v, p);
  if (!YAJL_IS_STRING(s))
    fail_msg("%s is not a string", p);
  return s->u.string;
}

static bool is_null(yajl_val v, const char *p) {
  return YAJL_IS_NULL(path(v, p));
}

static size_t len_of(yajl_val v, const char *p) {
  yajl_val a = path(v, p);
  if (YAJL_IS_ARRAY(a))
    return a->u.array.len;
  if (YAJL_IS_OBJECT(a))
    return a->u.object.len;
  fail_msg("%s is neither array nor object", p);
  return 0;
}

static void test_status(void **state) {
  fixture_t *f = *state;
  yajl_val d = render(r_status, &f->m, NULL);
  assert_true(YAJL_IS_TRUE(path(d, "success")));
  assert_string_equal(str(d, "status"), "online");
  assert_float_equal(num(d, "cpu"), 12.35, 1e-9);
  assert_float_equal(num(d, "memory"), 40.0, 1e-9);
  assert_float_equal(num(d, "disk"), 61.5, 1e-9);
  assert_float_equal(num(d, "agents/active"), 1, 0);
  assert_float_equal(num(d, "agents/total"), 2, 0);
  assert_string_equal(str(d, "data/swarm_id"), "swarm-1");
  assert_string_equal(str(d, "data/timestamp"), "2026-11-18T11:06:40Z");
  assert_true(YAJL_IS_FALSE(path(d, "data/stale")));
  assert_float_equal(num(d, "data/data_age_seconds"), 0.25, 1e-9);
  assert_string_equal(str(d, "data/system/hostname"), "node-7");
  assert_string_equal(str(d, "data/system/platform"), "linux");
  assert_float_equal(num(d, "data/system/uptime_seconds"), 3600, 0);
  assert_true(YAJL_IS_INTEGER(path(d, "data/system/uptime_seconds")));
  assert_string_equal(str(d, "data/system/collectd_version"), "5.12.0");
  assert_string_equal(str(d, "data/system/agent_version"), "0.1.0");
  assert_float_equal(num(d, "data/resources/cpu_percent"), 12.35, 1e-9);
  assert_float_equal(num(d, "data/resources/memory_used_gb"), 3.0, 1e-9);
  assert_float_equal(num(d, "data/resources/memory_total_gb"), 8.0, 1e-9);
  assert_float_equal(num(d, "data/resources/disk_used_gb"), 60.0, 1e-9);
  assert_float_equal(num(d, "data/resources/disk_total_gb"), 100.0, 1e-9);
  assert_float_equal(num(d, "data/resources/load_1"), 0.5, 1e-9);
  assert_float_equal(num(d, "data/resources/load_15"), 0.13, 1e-9);
  assert_float_equal(num(d, "data/agents/active_agents"), 1, 0);
  assert_float_equal(num(d, "data/agents/total_agents"), 2, 0);
  /* collectd lacks count-dead here: agents.json's count fills in. */
  assert_float_equal(num(d, "data/agents/by_status/dead"), 1, 0);
  assert_float_equal(num(d, "data/agents/by_status/idle"), 0, 0);
  assert_int_equal(len_of(d, "data/agents/by_status"), 6);
  assert_int_equal(len_of(d, "data/agents/invalid_files"), 1);
  assert_string_equal(str(d, "data/agents/updated_at"), "2026-11-18T11:06:30Z");
  assert_int_equal(len_of(d, "data/agents/agent_list"), 2);
  yajl_val first = path(d, "data/agents/agent_list")->u.array.values[0];
  assert_string_equal(str(first, "name"), "Agent-1");
  assert_float_equal(num(first, "time_on_task_minutes"), 41.0, 0);
  yajl_tree_free(d);
}

static void test_status_missing_everything(void **state) {
  fixture_t *f = *state;
  qfx_resources_t empty;
  qfx_resources_init(&empty);
  qfx_model_t m = f->m;
  m.res = &empty;
  m.agents = NULL;
  m.swarm_id = NULL;
  m.last_ok = 0;
  m.connected = false;
  m.stale = true;
  yajl_val d = render(r_status, &m, NULL);
  /* The one status rule: nothing current is offline; the poller's flat
   * numbers are never null (0: never read), attention says why. */
  assert_string_equal(str(d, "status"), "offline");
  static const char *const flat[] = {"cpu", "memory", "disk", "agents/active",
                                     "agents/total"};
  for (size_t i = 0; i < 5; i++) {
    yajl_val v = path(d, flat[i]);
    assert_true(YAJL_IS_NUMBER(v) && YAJL_GET_DOUBLE(v) == 0.0);
  }
  assert_true(YAJL_IS_TRUE(path(d, "attention/needed")));
  assert_string_equal(path(d, "attention/reasons")->u.array.values[0]->u.string,
                      "collectd not read yet");
  assert_true(is_null(d, "data/swarm_id"));
  assert_true(YAJL_IS_TRUE(path(d, "data/stale")));
  assert_true(is_null(d, "data/data_age_seconds"));
  assert_true(is_null(d, "data/system/uptime_seconds"));
  assert_true(is_null(d, "data/system/collectd_version"));
  static const char *const res[] = {
      "cpu_percent",  "memory_percent", "memory_used_gb", "memory_total_gb",
      "disk_percent", "disk_used_gb",   "disk_total_gb",  "load_1",
      "load_5",       "load_15"};
  assert_int_equal(len_of(d, "data/resources"), 10);
  for (size_t i = 0; i < 10; i++) {
    char p[64];
    snprintf(p, sizeof(p), "data/resources/%s", res[i]);
    assert_true(is_null(d, p));
  }
  assert_true(is_null(d, "data/agents/by_status/active"));
  assert_int_equal(len_of(d, "data/agents/agent_list"), 0);
  assert_int_equal(len_of(d, "data/agents/invalid_files"), 0);
  assert_true(is_null(d, "data/agents/updated_at"));
  yajl_tree_free(d);
}

static void test_health(void **state) {
  fixture_t *f = *state;
  int code = 0;
  yajl_val d = render(qfx_render_health, &f->m, &code);
  assert_int_equal(code, 200);
  assert_string_equal(str(d, "status"), "healthy");
  assert_null(qf_json_get(d, "reason"));
  assert_string_equal(str(d, "version"), "0.1.0");
  assert_true(YAJL_IS_TRUE(path(d, "collectd/connected")));
  assert_string_equal(str(d, "collectd/socket"), "/run/collectd.sock");
  assert_string_equal(str(d, "collectd/last_refresh"), "2026-11-18T11:06:39Z");
  assert_float_equal(num(d, "collectd/age_seconds"), 0.25, 1e-9);
  yajl_tree_free(d);

  qfx_model_t m = f->m;
  m.connected = false;
  m.error = "connect unix:/run/collectd.sock: No such file or directory";
  m.last_ok = NOW - 12.5;
  d = render(qfx_render_health, &m, &code);
  assert_int_equal(code, 503);
  assert_string_equal(str(d, "status"), "unhealthy");
  assert_string_equal(str(d, "reason"),
                      "collectd unreachable: connect unix:/run/collectd.sock:"
                      " No such file or directory");
  assert_true(YAJL_IS_FALSE(path(d, "collectd/connected")));
  assert_float_equal(num(d, "collectd/age_seconds"), 12.5, 1e-9);
  yajl_tree_free(d);

  m.last_ok = 0; /* never read: no last_refresh, no age */
  m.error = "";
  d = render(qfx_render_health, &m, &code);
  assert_true(is_null(d, "collectd/last_refresh"));
  assert_true(is_null(d, "collectd/age_seconds"));
  assert_string_equal(str(d, "reason"), "collectd unreachable: not read yet");
  yajl_tree_free(d);

  /* A state dir it cannot read: unhealthy though collectd answers; with
   * both failing, collectd is named. */
  m = f->m;
  m.state_error = "--state-dir /nowhere: No such file or directory";
  d = render(qfx_render_health, &m, &code);
  assert_int_equal(code, 503);
  assert_string_equal(str(d, "status"), "unhealthy");
  assert_string_equal(str(d, "reason"), "state dir unusable: --state-dir "
                                        "/nowhere: No such file or directory");
  assert_true(YAJL_IS_TRUE(path(d, "collectd/connected")));
  yajl_tree_free(d);
  m.connected = false;
  m.error = "x";
  d = render(qfx_render_health, &m, &code);
  assert_int_equal(code, 503);
  assert_string_equal(str(d, "reason"), "collectd unreachable: x");
  yajl_tree_free(d);
}

static void test_agent_status(void **state) {
  fixture_t *f = *state;
  yajl_val d = render(r_agent, &f->m, NULL);
  /* running: the heartbeat loop (none here); the exporter on its own. */
  assert_true(YAJL_IS_FALSE(path(d, "data/running")));
  assert_true(YAJL_IS_TRUE(path(d, "data/exporter_running")));
  assert_float_equal(num(d, "data/api_port"), 8080, 0);
  assert_true(is_null(d, "data/interval"));
  assert_true(is_null(d, "data/monitor_url"));
  assert_true(is_null(d, "data/github_repo"));
  assert_int_equal(len_of(d, "data/heartbeat"), 0);
  assert_int_equal(len_of(d, "data/github"), 0);
  assert_string_equal(str(d, "data/collectd/last_refresh"),
                      "2026-11-18T11:06:39Z");
  yajl_tree_free(d);

  qfx_model_t m = f->m;
  m.heartbeat = f->heartbeat;
  m.project = f->project;
  d = render(r_agent, &m, NULL);
  assert_true(YAJL_IS_TRUE(path(d, "data/running")));
  assert_float_equal(num(d, "data/interval"), 60, 0);
  assert_string_equal(str(d, "data/monitor_url"),
                      "https://backend.example/api/v1/swarms/heartbeat");
  assert_string_equal(str(d, "data/github_repo"), "owner/repo");
  assert_null(qf_json_get(path(d, "data/heartbeat"), "schema_version"));
  assert_string_equal(str(d, "data/heartbeat/swarm_id"), "s-1");
  assert_int_equal(len_of(d, "data/heartbeat/backends"), 1);
  assert_string_equal(str(d, "data/github/repository"), "owner/repo");
  assert_true(is_null(d, "data/github/last_error"));
  /* An older qiflow_github's file: the state is unknown, nothing listed. */
  assert_true(is_null(d, "data/github/sync_state"));
  assert_int_equal(len_of(d, "data/github/unavailable"), 0);
  assert_int_equal(len_of(d, "data/github"), 5);
  yajl_tree_free(d);
}

static yajl_val hb_doc(const char *updated_at, bool running) {
  char text[256];
  snprintf(text, sizeof(text),
           "{\"updated_at\": \"%s\", \"running\": %s, \"interval\": 60}",
           updated_at, running ? "true" : "false");
  return parse_ok(text);
}

static void test_heartbeat_running(void **state) {
  (void)state;
  /* NOW is 2026-11-18T11:06:40Z; fresh for 3 x 60 s + 30 s. */
  static const struct {
    const char *at;
    bool running, want;
  } cases[] = {
      {"2026-11-18T11:06:40Z", true, true},
      {"2026-11-18T11:03:10Z", true, true},   /* 210 s: the limit */
      {"2026-11-18T11:03:09Z", true, false},  /* 211 s: a killed daemon */
      {"2026-11-18T11:06:40Z", false, false}, /* a stopped one */
      {"not a time", true, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    yajl_val hb = hb_doc(cases[i].at, cases[i].running);
    assert_int_equal(qfx_heartbeat_running(hb, NOW), cases[i].want);
    yajl_tree_free(hb);
  }
  assert_false(qfx_heartbeat_running(NULL, NOW));
  yajl_val odd = parse_ok("{\"updated_at\": \"2026-11-18T11:06:40Z\","
                          " \"running\": true, \"interval\": 0}");
  assert_false(qfx_heartbeat_running(odd, NOW));
  yajl_tree_free(odd);
}

static void test_metrics(void **state) {
  fixture_t *f = *state;
  yajl_val d = render(r_metrics, &f->m, NULL);
  /* No repository tracked: the earlier agent's {"enabled": false}. */
  assert_int_equal(len_of(d, "data/github"), 1);
  assert_true(YAJL_IS_FALSE(path(d, "data/github/enabled")));
  assert_int_equal(len_of(d, "data/project"), 0);
  assert_true(is_null(d, "data/system/python_version"));
  assert_int_equal(len_of(d, "data/agents/agents_status"), 2);
  assert_string_equal(str(d, "data/system/hostname"), "node-7");
  assert_float_equal(num(d, "data/resources/disk_percent"), 61.5, 1e-9);
  yajl_tree_free(d);
  qfx_model_t m = f->m;
  m.project = f->project;
  d = render(r_metrics, &m, NULL);
  assert_string_equal(str(d, "data/github/repository"), "owner/repo");
  assert_float_equal(num(d, "data/github/open_issues"), 23, 0);
  assert_true(YAJL_IS_TRUE(path(d, "data/github/enabled")));
  assert_float_equal(num(d, "data/github/open_prs"), 4, 0);
  assert_float_equal(num(d, "data/github/open_pull_requests"), 4, 0);
  assert_float_equal(num(d, "data/project/completion_percentage"), 66, 0);
  assert_string_equal(str(d, "data/project/estimated_completion_date"),
                      "2026-12-15");
  assert_float_equal(num(d, "data/project/velocity_trend"), 1.29, 1e-9);
  /* The flagged list, as the model hands it over. */
  assert_int_equal(
      len_of(d, "data/project/issues_requiring_human_intervention"), 0);
  static const char list[] = "[{\"id\": 7, \"priority\": \"critical\"}]";
  m.flagged_list = list;
  m.flagged_list_len = strlen(list);
  m.flagged_issues = 1;
  yajl_tree_free(d);
  d = render(r_metrics, &m, NULL);
  yajl_val fl = path(d, "data/project/issues_requiring_human_intervention");
  assert_int_equal(fl->u.array.len, 1);
  assert_float_equal(num(d, "data/project/flagged_issues"), 1, 0);
  yajl_tree_free(d);
}

static void test_never_synced(void **state) {
  /* Before the first full listing: the repository is named, the issue
   * figures are null (project.json's zeros are not the repository's). */
  fixture_t *f = *state;
  yajl_val never = parse_ok(
      "{\"repository\": \"owner/repo\", \"last_sync\": null,"
      " \"sync_state\": \"never\","
      " \"github\": {\"open_issues\": 0, \"open_pull_requests\": 0,"
      " \"recent_commits_days\": 7}, \"completion\": {"
      "\"completion_percentage\": 0, \"total_issues\": 0},"
      " \"velocity\": {\"daily\": [0], \"per_day\": 0, \"trend\": \"stable\","
      " \"slope\": 0}}");
  qfx_model_t m = f->m;
  m.project = never;
  m.flagged_issues = 0;
  yajl_val d = render(r_metrics, &m, NULL);
  assert_true(YAJL_IS_TRUE(path(d, "data/github/enabled")));
  assert_string_equal(str(d, "data/github/repository"), "owner/repo");
  assert_true(is_null(d, "data/github/open_issues"));
  assert_true(is_null(d, "data/github/open_prs"));
  assert_float_equal(num(d, "data/github/recent_commits_days"), 7, 0);
  assert_true(is_null(d, "data/project/completion_percentage"));
  assert_true(is_null(d, "data/project/total_issues"));
  assert_true(is_null(d, "data/project/flagged_issues"));
  assert_true(is_null(d, "data/project/velocity_trend"));
  assert_int_equal(len_of(d, "data/project/velocity"), 0);
  assert_string_equal(str(d, "data/github/sync_state"), "never");
  yajl_tree_free(d);
  d = render(r_agent, &m, NULL);
  assert_string_equal(str(d, "data/github/sync_state"), "never");
  yajl_tree_free(d);
  yajl_tree_free(never);
}

/* check_unavailable asserts github (of /status, /metrics or /agent/status)
 * says failing and lists ci_runs alone: the broken entries are left out. */
static void check_unavailable(yajl_val github) {
  assert_string_equal(str(github, "sync_state"), "failing");
  assert_int_equal(len_of(github, "unavailable"), 1);
  yajl_val u = path(github, "unavailable")->u.array.values[0];
  assert_int_equal(len_of(u, ""), 4);
  assert_string_equal(str(u, "part"), "ci_runs");
  assert_string_equal(str(u, "reason"),
                      "HTTP 403: Resource not accessible by personal access "
                      "token");
  assert_string_equal(str(u, "since"), "2026-11-18T10:00:00Z");
  assert_string_equal(str(u, "retry_at"), "2026-11-18T11:00:00Z");
}

static void test_sync_state_and_unavailable(void **state) {
  /* project.json's sync_state and github.unavailable reach the github
   * sections of /status, /metrics and /agent/status; an unknown state is
   * null, entries lacking a field are left out. */
  fixture_t *f = *state;
  yajl_val doc = parse_ok(
      "{\"repository\": \"owner/repo\", \"last_sync\": "
      "\"2026-11-18T11:00:00Z\", \"sync_state\": \"failing\","
      " \"last_error\": \"HTTP 500\", \"github\": {\"unavailable\": ["
      "  {\"part\": \"ci_runs\", \"reason\": \"HTTP 403: Resource not "
      "accessible by personal access token\", \"since\": "
      "\"2026-11-18T10:00:00Z\", \"retry_at\": \"2026-11-18T11:00:00Z\","
      "   \"extra\": 1},"
      "  {\"part\": \"issue_events\", \"since\": \"2026-11-18T10:00:00Z\","
      "   \"retry_at\": \"2026-11-18T11:00:00Z\"}, 7]}}");
  qfx_model_t m = f->m;
  m.project = doc;
  yajl_val d = render(r_status, &m, NULL);
  check_unavailable(path(d, "data/github"));
  yajl_tree_free(d);
  d = render(r_metrics, &m, NULL);
  check_unavailable(path(d, "data/github"));
  yajl_tree_free(d);
  d = render(r_agent, &m, NULL);
  check_unavailable(path(d, "data/github"));
  yajl_tree_free(d);
  yajl_tree_free(doc);

  doc = parse_ok("{\"repository\": \"owner/repo\", \"sync_state\": "
                 "\"later\", \"github\": {\"unavailable\": {}}}");
  m.project = doc;
  d = render(r_status, &m, NULL);
  assert_true(is_null(d, "data/github/sync_state"));
  assert_int_equal(len_of(d, "data/github/unavailable"), 0);
  yajl_tree_free(d);
  yajl_tree_free(doc);
}

static void test_error_and_round(void **state) {
  (void)state; /* unused */
  qf_jw_t w;
  char *text = NULL;
  assert_int_equal(qf_jw_init(&w), 0);
  qfx_render_error(&w, "not found: /x\"y");
  assert_int_equal(qf_jw_finish(&w, &text, NULL), 0);
  assert_string_equal(text,
                      "{\"success\":false,\"error\":\"not found: /x\\\"y\"}");
  free(text);
  qf_jw_free(&w);
  assert_float_equal(qfx_round(12.345678, 2), 12.35, 1e-12);
  assert_float_equal(qfx_round(-0.004, 2), 0.0, 1e-12);
  assert_true(isnan(qfx_round(NAN, 2)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_missing_everything, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_health, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_synced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_state_and_unavailable, setup,
                                      teardown),
      cmocka_unit_test(test_heartbeat_running),
      cmocka_unit_test(test_error_and_round),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
