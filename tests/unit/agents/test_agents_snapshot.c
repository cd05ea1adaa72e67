/* Unit tests for agents_snapshot.c: agents.json per schema/README.md, read
 * back with the JSON parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents.h"
#include "qf_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW ((time_t)1795000000) /* 2026-11-18T11:06:40Z */

static int fake_alive(long long pid) { return pid < 1000 ? 1 : 0; }

/* add parses text as file's agent into r, or records it invalid. */
static void add(agents_result_t *r, const char *file, const char *text) {
  agents_agent_t a;
  char err[AGENTS_ERROR_MAX];
  if (agents_parse(text, &a, err, sizeof(err)) != 0) {
    assert_int_equal(agents_result_add_invalid(r, file, err, NULL, false), 0);
    return;
  }
  assert_int_equal(agents_result_add_agent(r, &a, file, NULL), 0);
}

/* render_parse renders r and parses the text back; caller frees both. */
static yajl_val render_parse(const agents_result_t *r, char **text) {
  agents_snapshot_info_t info = {.now = NOW,
                                 .agent_dir = "/var/lib/qiflow/agents",
                                 .collectd_version = "5.12.0",
                                 .stale_after = 300};
  size_t len = 0;
  assert_int_equal(agents_snapshot(r, &info, text, &len), 0);
  assert_int_equal(strlen(*text), len);
  char err[256] = "";
  yajl_val doc = qf_json_parse(*text, err, sizeof(err));
  if (doc == NULL)
    print_error("rendered JSON does not parse: %s\n%s\n", err, *text);
  assert_non_null(doc);
  return doc;
}

static yajl_val at(yajl_val arr, size_t i) {
  assert_true(YAJL_IS_ARRAY(arr));
  assert_true(i < arr->u.array.len);
  return arr->u.array.values[i];
}

/* is_null tells whether obj has key and it is null (absent is a bug). */
static bool is_null(yajl_val obj, const char *key) {
  yajl_val v = qf_json_get(obj, key);
  return YAJL_IS_NULL(v);
}

static long long int_of(yajl_val obj, const char *key) {
  long long v = -1;
  assert_int_equal(qf_json_get_int(obj, key, &v), 0);
  return v;
}

static void test_render_document(void **state) {
  (void)state; /* unused */
  agents_result_t r = {0};
  add(&r, "agent-1.json",
      "{\"name\": \"Agent-1\", \"status\": \"working\", "
      "\"current_task\": \"Implement OAuth\", \"issue_number\": 126, "
      "\"task_started_at\": \"2026-11-18T10:25:34Z\", "
      "\"last_activity\": \"2026-11-18T12:05:00+01:00\", \"pid\": 42}");
  add(&r, "agent-2.json",
      "{\"name\": \"Agent-2\", \"status\": \"idle\", "
      "\"pid\": 4242}");
  add(&r, "broken.json", "{\"name\": ");
  assert_int_equal(agents_result_finish(&r, NOW, 300, fake_alive), 0);
  char *text = NULL;
  yajl_val doc = render_parse(&r, &text);

  assert_int_equal(int_of(doc, "schema_version"), 1);
  assert_string_equal(qf_json_get_str(doc, "updated_at"),
                      "2026-11-18T11:06:40Z");
  assert_string_equal(qf_json_get_str(doc, "agent_dir"),
                      "/var/lib/qiflow/agents");
  assert_string_equal(qf_json_get_str(doc, "collectd_version"), "5.12.0");
  assert_int_equal(int_of(doc, "stale_after_seconds"), 300);

  yajl_val counts = qf_json_get(doc, "counts");
  static const struct {
    const char *key;
    long long want;
  } want_counts[] = {{"active", 1}, {"idle", 0},   {"blocked", 0},
                     {"failed", 0}, {"dead", 1},   {"stale", 0},
                     {"total", 2},  {"invalid", 1}};
  assert_int_equal(counts->u.object.len, 8);
  for (size_t i = 0; i < sizeof(want_counts) / sizeof(want_counts[0]); i++)
    assert_int_equal(int_of(counts, want_counts[i].key), want_counts[i].want);

  yajl_val agents = qf_json_get(doc, "agents");
  assert_int_equal(agents->u.array.len, 2);
  yajl_val a1 = at(agents, 0);
  assert_int_equal(a1->u.object.len, 11);
  assert_string_equal(qf_json_get_str(a1, "name"), "Agent-1");
  assert_string_equal(qf_json_get_str(a1, "status"), "active");
  assert_string_equal(qf_json_get_str(a1, "reported_status"), "working");
  assert_string_equal(qf_json_get_str(a1, "current_task"), "Implement OAuth");
  assert_int_equal(int_of(a1, "issue_number"), 126);
  assert_string_equal(qf_json_get_str(a1, "task_started_at"),
                      "2026-11-18T10:25:34Z");
  assert_string_equal(qf_json_get_str(a1, "last_activity"),
                      "2026-11-18T11:05:00Z"); /* normalised to UTC */
  assert_int_equal(int_of(a1, "pid"), 42);
  assert_string_equal(qf_json_get_str(a1, "liveness"), "alive");
  double minutes = 0;
  assert_int_equal(qf_json_get_double(a1, "time_on_task_minutes", &minutes), 0);
  assert_float_equal(minutes, 41.1, 1e-9); /* 2466 s, to a tenth */
  assert_string_equal(qf_json_get_str(a1, "file"), "agent-1.json");

  yajl_val a2 = at(agents, 1);
  assert_int_equal(a2->u.object.len, 11);
  assert_string_equal(qf_json_get_str(a2, "status"), "dead");
  assert_string_equal(qf_json_get_str(a2, "reported_status"), "idle");
  assert_string_equal(qf_json_get_str(a2, "liveness"), "dead");
  static const char *const nulls[] = {"current_task", "issue_number",
                                      "task_started_at", "last_activity",
                                      "time_on_task_minutes"};
  for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
    assert_true(is_null(a2, nulls[i]));

  yajl_val inv = at(qf_json_get(doc, "invalid_files"), 0);
  assert_int_equal(inv->u.object.len, 2);
  assert_string_equal(qf_json_get_str(inv, "file"), "broken.json");
  assert_string_equal(qf_json_get_str(inv, "error"),
                      "parse error: premature EOF");
  assert_int_equal(doc->u.object.len, 8);
  yajl_tree_free(doc);
  free(text);
  agents_result_free(&r);
}

static void test_render_empty(void **state) {
  (void)state; /* unused */
  agents_result_t r = {0};
  assert_int_equal(agents_result_finish(&r, NOW, 300, fake_alive), 0);
  char *text = NULL;
  yajl_val doc = render_parse(&r, &text);
  assert_int_equal(int_of(qf_json_get(doc, "counts"), "total"), 0);
  assert_int_equal(qf_json_get(doc, "agents")->u.array.len, 0);
  assert_int_equal(qf_json_get(doc, "invalid_files")->u.array.len, 0);
  yajl_tree_free(doc);
  free(text);
}

/* Hard strings survive file -> parse -> render -> parse unchanged. */
static void test_render_round_trip_strings(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *json; /* as the swarm writes it inside quotes */
    const char *want; /* the decoded C string */
  } cases[] = {
      {"Agent \\\"quoted\\\" \\\\ back", "Agent \"quoted\" \\ back"},
      {"tab\\there\\nnewline\\u0001ctl\\u001f",
       "tab\there\nnewline\001ctl\037"},
      {"\\u00e9t\\u00e9 \xe6\x97\xa5\xe6\x9c\xac \\ud83d\\ude00",
       "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
      {"</script> & 'single' / slash", "</script> & 'single' / slash"},
      {"\\u2028line\\u2029sep", "\xe2\x80\xa8line\xe2\x80\xa9sep"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char text[512], file[32];
    snprintf(text, sizeof(text),
             "{\"name\": \"%s\", \"status\": \"idle\", "
             "\"current_task\": \"task: %s\"}",
             cases[i].json, cases[i].json);
    snprintf(file, sizeof(file), "f%zu.json", i);
    agents_result_t r = {0};
    add(&r, file, text);
    assert_int_equal(r.n_agents, 1);
    assert_int_equal(agents_result_finish(&r, NOW, 300, fake_alive), 0);
    char *out = NULL;
    yajl_val doc = render_parse(&r, &out);
    yajl_val a = at(qf_json_get(doc, "agents"), 0);
    char task[256];
    snprintf(task, sizeof(task), "task: %s", cases[i].want);
    assert_string_equal(qf_json_get_str(a, "name"), cases[i].want);
    assert_string_equal(qf_json_get_str(a, "current_task"), task);
    /* Control characters never appear raw in the document. */
    for (const char *p = out; *p; p++)
      assert_true((unsigned char)*p >= 0x20);
    yajl_tree_free(doc);
    free(out);
    agents_result_free(&r);
  }
}

static void test_render_long_task_and_bad_file_name(void **state) {
  (void)state; /* unused */
  size_t n = 60000;
  char *text = malloc(n + 128);
  assert_non_null(text);
  int off = sprintf(text, "{\"name\": \"a\", \"status\": \"active\", "
                          "\"current_task\": \"");
  for (size_t i = 0; i < n; i++)
    text[off + i] = (char)('a' + i % 26);
  strcpy(text + off + n, "\"}");
  agents_result_t r = {0};
  add(&r, "long.json", text);
  assert_int_equal(agents_result_add_invalid(&r, "\xff\xfe.json",
                                             "parse error: bad \xc3", NULL,
                                             false),
                   0);
  assert_int_equal(agents_result_finish(&r, NOW, 300, fake_alive), 0);
  char *out = NULL;
  yajl_val doc = render_parse(&r, &out);
  const char *task =
      qf_json_get_str(at(qf_json_get(doc, "agents"), 0), "current_task");
  assert_non_null(task);
  assert_int_equal(strlen(task), n);
  assert_int_equal(memcmp(task, text + off, n), 0);
  yajl_val inv = at(qf_json_get(doc, "invalid_files"), 0);
  assert_string_equal(qf_json_get_str(inv, "file"), "??.json");
  assert_string_equal(qf_json_get_str(inv, "error"), "parse error: bad ?");
  yajl_tree_free(doc);
  free(out);
  free(text);
  agents_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_document),
      cmocka_unit_test(test_render_empty),
      cmocka_unit_test(test_render_round_trip_strings),
      cmocka_unit_test(test_render_long_task_and_bad_file_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
