/* Unit tests for heartbeat_body.c: the heartbeat document — what is known
 * is typed right, what is missing is left out, never invented. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_body.h"
#include "heartbeat_project.h"
#include "qf_buf.h"
#include "qf_gzip.h"
#include "qf_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char agents_json[] =
    "{\"schema_version\":1,\"updated_at\":\"2026-11-27T10:41:00Z\","
    "\"counts\":{\"active\":1,\"idle\":1,\"blocked\":1,\"failed\":0,"
    "\"dead\":0,\"stale\":0,\"total\":3,\"invalid\":0},"
    "\"agents\":["
    "{\"name\":\"Agent-1\",\"status\":\"active\",\"current_task\":"
    "\"Implement OAuth\",\"issue_number\":126,\"pid\":4242},"
    "{\"name\":\"Agent-2\",\"status\":\"idle\",\"current_task\":null,"
    "\"issue_number\":null},"
    "{\"name\":\"Agent-3\",\"status\":\"blocked\",\"current_task\":"
    "\"Fix flaky CI job\",\"issue_number\":131}]}";

static const char project_json[] =
    "{\"schema_version\":1,\"repository\":\"owner/repo\","
    "\"last_sync\":\"2026-11-27T10:40:00Z\",\"github\":{\"open_issues\":23,"
    "\"open_pull_requests\":4,\"recent_commits\":31,\"recent_commits_days\":7,"
    "\"rate_limit_remaining\":4990},"
    "\"completion\":{\"completion_percentage\":66,\"total_issues\":68,"
    "\"completed_issues\":45,\"in_progress_issues\":8,\"ready_issues\":12,"
    "\"blocked_issues\":3},"
    "\"velocity\":{\"daily\":[1,0,2],\"per_day\":1.2857,\"trend\":"
    "\"increasing\"},\"estimated_completion_date\":\"2026-12-15\","
    "\"issues\":["
    "{\"id\":130,\"title\":\"Not flagged\",\"flagged\":false},"
    "{\"id\":129,\"title\":\"Merge conflict in auth\",\"flagged\":true,"
    "\"priority\":\"critical\",\"reason\":\"merge conflict on pull request "
    "#130\"},"
    "{\"id\":127,\"title\":\"Needs a human\",\"flagged\":true,"
    "\"priority\":\"review\",\"reason\":\"human label\"}]}";

/* The body test_full_swarm expects, byte for byte: what the heartbeat sent
 * when it still held project.json as one tree, with the earlier agent's
 * fields (python_version, agents_status, enabled, open_prs, a numeric
 * velocity_trend) beside ours. */
static const char full_swarm_body[] =
    "{\"heartbeat_id\":42,\"swarm_id\":\"swarm-1\",\"status\":\"online\","
    "\"health_status\":{\"cpu_percent\":12.35,\"memory_percent\":40,"
    "\"disk_percent\":55.5},\"active_agents\":1,\"project_completion\":66,"
    "\"attention\":{\"needed\":true,"
    "\"reasons\":[\"2 issues flagged for a human\"]},"
    "\"timestamp\":\"2026-11-27T10:00:00Z\","
    "\"system\":{\"hostname\":\"host1\",\"platform\":\"linux\","
    "\"uptime_seconds\":3600,\"collectd_version\":\"5.12.0\","
    "\"agent_version\":\"0.1.0\",\"python_version\":null},"
    "\"resources\":{\"cpu_percent\":12.35,"
    "\"memory_percent\":40,\"memory_used_gb\":2,\"memory_total_gb\":8,"
    "\"disk_percent\":55.5,\"disk_used_gb\":50,\"disk_total_gb\":100,"
    "\"load_1\":0.5,\"load_5\":0.4,\"load_15\":0.3},"
    "\"agents\":{\"active_agents\":1,\"total_agents\":3,"
    "\"by_status\":{\"active\":1,\"idle\":1,\"blocked\":1,\"failed\":0,"
    "\"dead\":0,\"stale\":0},\"agent_list\":[{\"name\":\"Agent-1\","
    "\"status\":\"active\",\"current_task\":\"Implement OAuth\","
    "\"issue_number\":126},{\"name\":\"Agent-2\",\"status\":\"idle\"},"
    "{\"name\":\"Agent-3\",\"status\":\"blocked\","
    "\"current_task\":\"Fix flaky CI job\",\"issue_number\":131}],"
    "\"agents_status\":[{\"name\":\"Agent-1\",\"status\":\"active\"},"
    "{\"name\":\"Agent-2\",\"status\":\"idle\"},"
    "{\"name\":\"Agent-3\",\"status\":\"blocked\"}]},"
    "\"github\":{\"enabled\":true,\"repository\":\"owner/repo\","
    "\"open_issues\":23,\"open_pull_requests\":4,\"open_prs\":4,"
    "\"recent_commits\":31,"
    "\"recent_commits_days\":7,\"last_sync\":\"2026-11-27T10:40:00Z\"},"
    "\"project\":{\"completion_percentage\":66,\"total_issues\":68,"
    "\"completed_issues\":45,\"in_progress_issues\":8,\"ready_issues\":12,"
    "\"blocked_issues\":3,\"estimated_completion_date\":\"2026-12-15\","
    "\"velocity_per_day\":1.29,\"velocity_trend\":1.29,"
    "\"velocity_direction\":\"increasing\","
    "\"issues_requiring_human_intervention\":[{\"id\":129,"
    "\"title\":\"Merge conflict in auth\",\"priority\":\"critical\","
    "\"reason\":\"merge conflict on pull request #130\"},{\"id\":127,"
    "\"title\":\"Needs a human\",\"priority\":\"review\","
    "\"reason\":\"human label\"}],\"flagged_issues\":2}}";

/* load_project reads a project.json text the way the plugin does. */
static void load_project(hb_project_t *p, const char *text) {
  char err[256];
  int status = hb_project_load(p, text, strlen(text), err, sizeof(err));
  if (status != 0)
    fail_msg("hb_project_load: %d %s", status, err);
}

/* nan_figures returns figures with nothing known. */
static hb_figures_t nan_figures(void) {
  hb_figures_t f;
  qf_res_t *u = &f.usage;
  u->cpu_percent = u->memory_percent = u->memory_used_bytes = NAN;
  u->memory_total_bytes = u->disk_percent = u->disk_used_bytes = NAN;
  u->disk_total_bytes = f.uptime_seconds = NAN;
  for (int i = 0; i < 3; i++)
    f.load[i] = NAN;
  for (int i = 0; i < HB_AG_N; i++)
    f.agents[i] = NAN;
  return f;
}

static hb_figures_t full_figures(void) {
  hb_figures_t f = nan_figures();
  f.usage.cpu_percent = 12.3456;
  f.usage.memory_percent = 40.0;
  f.usage.memory_used_bytes = 2.0 * 1024 * 1024 * 1024;
  f.usage.memory_total_bytes = 8.0 * 1024 * 1024 * 1024;
  f.usage.disk_percent = 55.5;
  f.usage.disk_used_bytes = 50.0 * 1024 * 1024 * 1024;
  f.usage.disk_total_bytes = 100.0 * 1024 * 1024 * 1024;
  f.load[0] = 0.5;
  f.load[1] = 0.4;
  f.load[2] = 0.3;
  f.uptime_seconds = 3600.4;
  return f;
}

static hb_body_in_t base_in(const hb_figures_t *f) {
  return (hb_body_in_t){.heartbeat_id = 42,
                        .swarm_id = "swarm-1",
                        .now = 1795773600, /* 2026-11-27T10:00:00Z */
                        .hostname = "host1",
                        .platform = "linux",
                        .collectd_version = "5.12.0",
                        .agent_version = "0.1.0",
                        .fig = f};
}

/* build renders and parses a body; the caller frees both. */
static yajl_val build(const hb_body_in_t *in, char **text, size_t *len) {
  assert_int_equal(hb_body_build(in, text, len), 0);
  assert_int_equal(strlen(*text), *len);
  yajl_val doc = qf_json_parse(*text, NULL, 0);
  assert_non_null(doc);
  return doc;
}

static yajl_val path(yajl_val doc, const char *a, const char *b) {
  yajl_val v = qf_json_get(doc, a);
  return b == NULL ? v : qf_json_get(v, b);
}

static void test_nothing_known_is_left_out(void **state) {
  (void)state;
  hb_figures_t f = nan_figures();
  hb_body_in_t in = base_in(&f);
  char *text;
  size_t len;
  yajl_val doc = build(&in, &text, &len);
  long long id;
  assert_int_equal(qf_json_get_int(doc, "heartbeat_id", &id), 0);
  assert_int_equal(id, 42);
  assert_string_equal(qf_json_get_str(doc, "swarm_id"), "swarm-1");
  /* No current figures: offline, as the exporter's /status says. */
  assert_string_equal(qf_json_get_str(doc, "status"), "offline");
  assert_string_equal(qf_json_get_str(doc, "timestamp"),
                      "2026-11-27T10:00:00Z");
  /* The backend's flat figures are what /status gives its poller: 0 when
   * not read (never null), with status offline. */
  yajl_val hs = qf_json_get(doc, "health_status");
  assert_true(YAJL_IS_OBJECT(hs) && hs->u.object.len == 3);
  for (size_t i = 0; i < hs->u.object.len; i++)
    assert_true(YAJL_IS_NUMBER(hs->u.object.values[i]) &&
                YAJL_GET_DOUBLE(hs->u.object.values[i]) == 0.0);
  long long active;
  assert_int_equal(qf_json_get_int(doc, "active_agents", &active), 0);
  assert_int_equal(active, 0);
  /* Elsewhere unknown is absent, not null, not zero. */
  assert_null(qf_json_get(doc, "project_completion"));
  assert_null(path(doc, "resources", "cpu_percent"));
  assert_null(path(doc, "agents", "active_agents"));
  assert_null(path(doc, "system", "uptime_seconds"));
  assert_string_equal(qf_json_get_str(qf_json_get(doc, "system"), "hostname"),
                      "host1");
  /* The one null: the earlier agent's python_version (no Python here). */
  yajl_val py = path(doc, "system", "python_version");
  assert_true(py != NULL && YAJL_IS_NULL(py));
  const char *sections[] = {"resources", "agents", "project"};
  for (size_t i = 0; i < 3; i++) {
    yajl_val s = qf_json_get(doc, sections[i]);
    assert_true(YAJL_IS_OBJECT(s));
    assert_int_equal(s->u.object.len, 0);
  }
  /* No repository tracked: the earlier agent's {"enabled": false}. */
  assert_non_null(strstr(text, "\"github\":{\"enabled\":false}"));
  yajl_tree_free(doc);
  free(text);
}

static void test_full_swarm(void **state) {
  (void)state;
  hb_figures_t f = full_figures();
  f.agents[HB_AG_ACTIVE] = 1;
  f.agents[HB_AG_TOTAL] = 3;
  yajl_val agents = qf_json_parse(agents_json, NULL, 0);
  hb_project_t project = {0};
  load_project(&project, project_json);
  hb_body_in_t in = base_in(&f);
  in.agents = agents;
  in.project = &project;
  char *text;
  size_t len;
  yajl_val doc = build(&in, &text, &len);
  assert_string_equal(text, full_swarm_body);
  assert_string_equal(qf_json_get_str(doc, "status"), "online");
  yajl_val hs = qf_json_get(doc, "health_status");
  const char *pct[] = {"cpu_percent", "memory_percent", "disk_percent"};
  for (size_t i = 0; i < 3; i++)
    assert_true(YAJL_IS_NUMBER(qf_json_get(hs, pct[i])));
  double cpu;
  assert_int_equal(qf_json_get_double(hs, "cpu_percent", &cpu), 0);
  assert_float_equal(cpu, 12.35, 1e-9); /* two decimals */
  assert_true(YAJL_IS_INTEGER(qf_json_get(doc, "active_agents")));
  assert_true(YAJL_IS_NUMBER(qf_json_get(doc, "project_completion")));
  double gb;
  assert_int_equal(
      qf_json_get_double(qf_json_get(doc, "resources"), "memory_total_gb", &gb),
      0);
  assert_float_equal(gb, 8.0, 1e-9);
  long long up;
  assert_int_equal(
      qf_json_get_int(qf_json_get(doc, "system"), "uptime_seconds", &up), 0);
  assert_int_equal(up, 3600);
  /* agents: counts and a trimmed list */
  yajl_val list = path(doc, "agents", "agent_list");
  assert_true(YAJL_IS_ARRAY(list));
  assert_int_equal(list->u.array.len, 3);
  assert_null(qf_json_get(list->u.array.values[0], "pid"));
  assert_null(qf_json_get(list->u.array.values[1], "current_task"));
  long long n;
  assert_int_equal(
      qf_json_get_int(path(doc, "agents", "by_status"), "blocked", &n),
      0); /* from agents.json */
  assert_int_equal(n, 1);
  /* project: flagged issues only */
  yajl_val flagged =
      path(doc, "project", "issues_requiring_human_intervention");
  assert_int_equal(flagged->u.array.len, 2);
  assert_int_equal(
      qf_json_get_int(qf_json_get(doc, "project"), "flagged_issues", &n), 0);
  assert_int_equal(n, 2);
  assert_null(qf_json_get(doc, "issues"));
  assert_string_equal(qf_json_get_str(qf_json_get(doc, "github"), "repository"),
                      "owner/repo");
  /* Near 1 KB for a typical swarm: 1,723 bytes, 764 gzip'ed (1,519 and
   * 724 before the earlier agent's fields came back). */
  assert_true(len < 1800);
  /* One meaning per field: velocity_trend is a number, issues per day. */
  double trend;
  assert_int_equal(
      qf_json_get_double(qf_json_get(doc, "project"), "velocity_trend", &trend),
      0);
  assert_float_equal(trend, 1.29, 1e-9);
  /* agents_status: name and status of each listed agent, in order. */
  yajl_val st = path(doc, "agents", "agents_status");
  assert_int_equal(st->u.array.len, 3);
  assert_string_equal(qf_json_get_str(st->u.array.values[2], "status"),
                      "blocked");
  yajl_tree_free(doc);
  free(text);
  yajl_tree_free(agents);
  hb_project_free(&project);
}

/* The one rule (qf_status_decide): agents never change the status, they
 * go in "attention"; busy cpu or memory is degraded; no current figures or
 * a stop is offline. */
static void test_status_rules(void **state) {
  (void)state;
  hb_figures_t f = full_figures();
  hb_body_in_t in = base_in(&f);
  assert_int_equal(hb_body_status(&in), QF_STATUS_ONLINE);
  f.agents[HB_AG_DEAD] = 1;
  assert_int_equal(hb_body_status(&in), QF_STATUS_ONLINE);
  f.usage.cpu_percent = 99.9;
  assert_int_equal(hb_body_status(&in), QF_STATUS_DEGRADED);
  f.usage.cpu_percent = 90.0; /* the poller's bound is "above 90" */
  assert_int_equal(hb_body_status(&in), QF_STATUS_ONLINE);
  f.usage.memory_percent = 90.5;
  assert_int_equal(hb_body_status(&in), QF_STATUS_DEGRADED);
  f.usage.disk_percent = NAN;
  assert_int_equal(hb_body_status(&in), QF_STATUS_OFFLINE);
  f.usage.disk_percent = 10;
  in.offline = true;
  assert_int_equal(hb_body_status(&in), QF_STATUS_OFFLINE);
  assert_string_equal(qf_status_name(QF_STATUS_OFFLINE), "offline");
}

/* "attention" names dead agents, flags, backlog, set-aside records and the
 * budget, none of which touch the status. */
static void test_attention(void **state) {
  (void)state;
  hb_figures_t f = full_figures();
  hb_body_in_t in = base_in(&f);
  char *text;
  size_t len;
  yajl_val doc = build(&in, &text, &len);
  assert_true(YAJL_IS_FALSE(path(doc, "attention", "needed")));
  assert_int_equal(path(doc, "attention", "reasons")->u.array.len, 0);
  yajl_tree_free(doc);
  free(text);
  f.agents[HB_AG_DEAD] = 2;
  in.backlog = 1;
  in.set_aside = 3;
  in.budget_exhausted = true;
  doc = build(&in, &text, &len);
  assert_string_equal(qf_json_get_str(doc, "status"), "online");
  assert_true(YAJL_IS_TRUE(path(doc, "attention", "needed")));
  yajl_val r = path(doc, "attention", "reasons");
  assert_int_equal(r->u.array.len, 4);
  assert_string_equal(r->u.array.values[0]->u.string, "2 agents dead");
  assert_string_equal(r->u.array.values[1]->u.string,
                      "1 heartbeat waiting in the spool");
  assert_string_equal(r->u.array.values[2]->u.string,
                      "3 heartbeats set aside (refused by a backend)");
  assert_string_equal(r->u.array.values[3]->u.string,
                      "request budget cannot carry every heartbeat");
  yajl_tree_free(doc);
  free(text);
}

static void test_partial_health_is_zero_where_unread(void **state) {
  (void)state;
  hb_figures_t f = full_figures();
  f.usage.cpu_percent = NAN; /* the cpu plugin needs two reads */
  hb_body_in_t in = base_in(&f);
  char *text;
  size_t len;
  yajl_val doc = build(&in, &text, &len);
  /* The backend answers 400 to a null: the figure not read is 0, as in
   * /status, and the others are the readings. */
  assert_true(YAJL_IS_DOUBLE(path(doc, "health_status", "cpu_percent")) ||
              YAJL_IS_INTEGER(path(doc, "health_status", "cpu_percent")));
  assert_true(YAJL_GET_DOUBLE(path(doc, "health_status", "cpu_percent")) ==
              0.0);
  assert_true(YAJL_GET_DOUBLE(path(doc, "health_status", "memory_percent")) >
              0.0);
  assert_string_equal(qf_json_get_str(doc, "status"), "offline");
  yajl_val res = qf_json_get(doc, "resources");
  assert_null(qf_json_get(res, "cpu_percent"));
  assert_non_null(qf_json_get(res, "memory_percent"));
  yajl_tree_free(doc);
  free(text);
}

static void test_lists_are_bounded(void **state) {
  (void)state;
  qf_buf_t b = QF_BUF_INIT;
  qf_buf_puts(&b, "{\"agents\":[");
  for (int i = 0; i < HB_BODY_MAX_AGENTS + 5; i++)
    qf_buf_printf(&b, "%s{\"name\":\"a%d\",\"status\":\"idle\"}", i ? "," : "",
                  i);
  qf_buf_puts(&b, "]}");
  yajl_val agents = qf_json_parse(b.data, NULL, 0);
  hb_figures_t f = full_figures();
  hb_body_in_t in = base_in(&f);
  in.agents = agents;
  char *text;
  size_t len;
  yajl_val doc = build(&in, &text, &len);
  assert_int_equal(path(doc, "agents", "agent_list")->u.array.len,
                   HB_BODY_MAX_AGENTS);
  long long more;
  assert_int_equal(
      qf_json_get_int(qf_json_get(doc, "agents"), "agents_not_listed", &more),
      0);
  assert_int_equal(more, 5);
  yajl_tree_free(doc);
  free(text);
  yajl_tree_free(agents);
  qf_buf_free(&b);
}

/* flagged_doc is a project.json whose issue list is n issues, every other
 * one flagged. */
static void flagged_doc(qf_buf_t *b, int n) {
  qf_buf_puts(b, "{\"repository\":\"owner/repo\","
                 "\"last_sync\":\"2026-11-27T10:40:00Z\",\"issues\":[");
  for (int i = 0; i < n; i++)
    qf_buf_printf(b,
                  "%s{\"id\":%d,\"title\":\"t%d\",\"flagged\":%s,"
                  "\"priority\":\"review\",\"reason\":\"r\"}",
                  i ? "," : "", i, i, i % 2 ? "true" : "false");
  qf_buf_puts(b, "]}");
}

/* body_for builds the body of a full swarm with the project.json text
 * loaded into *project; the caller frees the tree, *text and *project. */
static yajl_val body_for(const char *json, hb_project_t *project, char **text) {
  load_project(project, json);
  hb_figures_t f = full_figures();
  hb_body_in_t in = base_in(&f);
  in.project = project;
  size_t len;
  return build(&in, text, &len);
}

static void test_flagged_bounded_and_counted(void **state) {
  (void)state;
  qf_buf_t b = QF_BUF_INIT;
  flagged_doc(&b, 2 * (HB_BODY_MAX_FLAGGED + 5));
  hb_project_t project = {0};
  char *text;
  yajl_val doc = body_for(b.data, &project, &text);
  yajl_val list = path(doc, "project", "issues_requiring_human_intervention");
  assert_int_equal(list->u.array.len, HB_BODY_MAX_FLAGGED);
  for (size_t i = 0; i < list->u.array.len; i++) {
    long long id;
    assert_int_equal(qf_json_get_int(list->u.array.values[i], "id", &id), 0);
    assert_int_equal(id, 2 * (long long)i + 1); /* project.json order */
  }
  long long n;
  assert_int_equal(
      qf_json_get_int(qf_json_get(doc, "project"), "flagged_issues", &n), 0);
  assert_int_equal(n, HB_BODY_MAX_FLAGGED + 5);
  yajl_tree_free(doc);
  free(text);
  hb_project_free(&project);
  qf_buf_free(&b);
}

/* big_project_doc is a large repository's project.json: n issues, every
 * eighth flagged, each title a different run of words as long as the body
 * allows (HB_BODY_MAX_TEXT and more), the reasons qiflow_github writes. */
static void big_project_doc(qf_buf_t *b, int n) {
  static const char *const words[] = {
      "crash",    "when",    "parsing", "config",  "race",       "in",
      "worker",   "pool",    "flaky",   "timeout", "handling",   "docs",
      "update",   "release", "notes",   "migrate", "storage",    "backend",
      "refactor", "login",   "memory",  "leak",    "under",      "load",
      "support",  "unicode", "paths",   "windows", "regression", "after"};
  unsigned seed = 12345;
  qf_buf_puts(b, "{\"schema_version\":1,\"repository\":\"owner/repo\","
                 "\"last_sync\":\"2026-11-27T10:40:00Z\",\"github\":{"
                 "\"open_issues\":7415,\"open_pull_requests\":1510,"
                 "\"recent_commits\":1234,\"recent_commits_days\":7},"
                 "\"completion\":{\"completion_percentage\":90,"
                 "\"total_issues\":75000,\"completed_issues\":67585,"
                 "\"in_progress_issues\":593,\"ready_issues\":6526,"
                 "\"blocked_issues\":296},\"velocity\":{\"per_day\":41.2857,"
                 "\"trend\":\"decreasing\"},"
                 "\"estimated_completion_date\":\"2027-03-02\",\"issues\":[");
  for (int i = 0; i < n; i++) {
    char title[200] = "";
    size_t len = 0;
    while (len < HB_BODY_MAX_TEXT + 20) {
      seed = seed * 1103515245u + 12345u;
      const char *w = words[(seed >> 16) % (sizeof(words) / sizeof(*words))];
      len += (size_t)snprintf(title + len, sizeof(title) - len, "%s%s",
                              len ? " " : "", w);
    }
    char reason[100];
    int kind = i / 8 % 4;
    if (kind == 0)
      snprintf(reason, sizeof(reason), "blocked for %d.5 hours (over 72)",
               100 + i);
    else if (kind == 1)
      snprintf(reason, sizeof(reason), "merge conflict on pull request #%d",
               100 + i);
    else if (kind == 2)
      snprintf(reason, sizeof(reason),
               "3 consecutive failed CI runs on pull request #%d", 100 + i);
    else
      snprintf(reason, sizeof(reason), "labelled for human intervention");
    bool flagged = i % 8 == 0;
    qf_buf_printf(b,
                  "%s{\"id\":%d,\"title\":\"%s\",\"flagged\":%s,"
                  "\"priority\":%s,\"reason\":\"%s\"}",
                  i ? "," : "", 100000 - i, title, flagged ? "true" : "false",
                  flagged ? (i % 16 ? "\"review\"" : "\"critical\"") : "null",
                  flagged ? reason : "");
  }
  qf_buf_puts(b, "]}");
}

/* A large repository's heartbeat stays within 1 KB gzip'ed (issue 18):
 * its flagged issues are many, with long titles, yet the body lists only
 * the first few and says how many there are. */
static void test_large_project_within_1k_gzip(void **state) {
  (void)state;
  qf_buf_t b = QF_BUF_INIT;
  big_project_doc(&b, 5000);
  hb_project_t project = {0};
  load_project(&project, b.data);
  hb_figures_t f = full_figures();
  f.agents[HB_AG_ACTIVE] = 1;
  f.agents[HB_AG_TOTAL] = 3;
  yajl_val agents = qf_json_parse(agents_json, NULL, 0);
  hb_body_in_t in = base_in(&f);
  in.heartbeat_id = 1795773600123LL; /* a large id, as after years */
  in.agents = agents;
  in.project = &project;
  char *text;
  size_t len;
  yajl_val doc = build(&in, &text, &len);
  long long n;
  assert_int_equal(
      qf_json_get_int(qf_json_get(doc, "project"), "flagged_issues", &n), 0);
  assert_int_equal(n, 625);
  yajl_val list = path(doc, "project", "issues_requiring_human_intervention");
  assert_int_equal(list->u.array.len, HB_BODY_MAX_FLAGGED);
  char *gz;
  size_t gzlen;
  assert_int_equal(qf_gzip(text, len, &gz, &gzlen), 0);
  printf("large project: body %zu bytes, %zu gzip'ed\n", len, gzlen);
  assert_true(gzlen <= 1024);
  free(gz);
  yajl_tree_free(doc);
  free(text);
  yajl_tree_free(agents);
  hb_project_free(&project);
  qf_buf_free(&b);
}

static void test_project_without_issue_list(void **state) {
  (void)state;
  static const char *const docs[] = {
      "{\"repository\":\"owner/repo\",\"last_sync\":\"2026-11-27T10:40:00Z\"}",
      "{\"repository\":\"owner/repo\",\"last_sync\":\"2026-11-27T10:40:00Z\","
      "\"issues\":{\"flagged\":true}}",
      "{\"repository\":\"owner/repo\",\"last_sync\":\"2026-11-27T10:40:00Z\","
      "\"issues\":[1,\"x\",null,"
      "{\"flagged\":1},{\"flagged\":\"true\"},{\"flagged\":null}]}",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    hb_project_t project = {0};
    char *text;
    yajl_val doc = body_for(docs[i], &project, &text);
    assert_non_null(strstr(text, "\"project\":{\"issues_requiring_human_"
                                 "intervention\":[],\"flagged_issues\":0}"));
    assert_string_equal(
        qf_json_get_str(qf_json_get(doc, "github"), "repository"),
        "owner/repo");
    yajl_tree_free(doc);
    free(text);
    hb_project_free(&project);
  }
}

static void test_no_project_data_yet(void **state) {
  (void)state;
  /* NULL and a project with no document (before or after the file) are
   * the same: empty github and project objects. */
  hb_project_t empty = {0};
  const hb_project_t *cases[] = {NULL, &empty};
  for (size_t i = 0; i < 2; i++) {
    hb_figures_t f = full_figures();
    hb_body_in_t in = base_in(&f);
    in.project = cases[i];
    char *text;
    size_t len;
    yajl_val doc = build(&in, &text, &len);
    assert_non_null(
        strstr(text, "\"github\":{\"enabled\":false},\"project\":{}}"));
    assert_null(qf_json_get(doc, "project_completion"));
    yajl_tree_free(doc);
    free(text);
  }
}

static void test_never_synced(void **state) {
  (void)state;
  /* project.json before its first full listing: zeros that are not the
   * repository's. The repository is named, the figures left out. */
  static const char never[] =
      "{\"repository\":\"owner/repo\",\"last_sync\":null,"
      "\"github\":{\"open_issues\":0,\"open_pull_requests\":0,"
      "\"recent_commits_days\":7},\"completion\":{"
      "\"completion_percentage\":0,\"total_issues\":0},"
      "\"velocity\":{\"per_day\":0,\"trend\":\"stable\"},\"issues\":[]}";
  hb_project_t project = {0};
  char *text;
  yajl_val doc = body_for(never, &project, &text);
  assert_non_null(strstr(text, "\"github\":{\"enabled\":true,"
                               "\"repository\":\"owner/repo\","
                               "\"recent_commits_days\":7},\"project\":{}}"));
  assert_null(qf_json_get(doc, "project_completion"));
  yajl_tree_free(doc);
  free(text);
  hb_project_free(&project);
}

static void test_text_cut(void **state) {
  (void)state;
  char out[32];
  hb_text_cut("short", 10, out, sizeof(out));
  assert_string_equal(out, "short");
  hb_text_cut("abcdefghijklmnop", 10, out, sizeof(out));
  assert_string_equal(out, "abcdefg...");
  /* "é" is two bytes: the cut backs off rather than split it. */
  hb_text_cut("abcdef\xc3\xa9xyz", 10, out, sizeof(out));
  assert_string_equal(out, "abcdef...");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_known_is_left_out),
      cmocka_unit_test(test_full_swarm),
      cmocka_unit_test(test_status_rules),
      cmocka_unit_test(test_attention),
      cmocka_unit_test(test_partial_health_is_zero_where_unread),
      cmocka_unit_test(test_lists_are_bounded),
      cmocka_unit_test(test_flagged_bounded_and_counted),
      cmocka_unit_test(test_large_project_within_1k_gzip),
      cmocka_unit_test(test_project_without_issue_list),
      cmocka_unit_test(test_no_project_data_yet),
      cmocka_unit_test(test_never_synced),
      cmocka_unit_test(test_text_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
