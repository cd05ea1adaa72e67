/* Unit tests for agents_parse.c: agent files, names, quoting, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* parse_ok parses text that must be valid. */
static void parse_ok(const char *text, agents_agent_t *a) {
  char err[AGENTS_ERROR_MAX] = "";
  int status = agents_parse(text, a, err, sizeof(err));
  if (status != 0)
    print_error("valid input refused: %s\n  input: %.200s\n", err, text);
  assert_int_equal(status, 0);
}

static time_t iso(const char *s) {
  time_t t = 0;
  assert_int_equal(qf_time_parse(s, &t), 0);
  return t;
}

static void test_parse_full(void **state) {
  (void)state; /* unused */
  agents_agent_t a;
  parse_ok("{\"name\": \"Agent-1\", \"status\": \"active\", "
           "\"current_task\": \"Implement OAuth\", \"issue_number\": 126, "
           "\"task_started_at\": \"2026-11-27T10:00:00Z\", "
           "\"last_activity\": \"2026-11-27T11:40:00+01:00\", "
           "\"pid\": 4242}",
           &a);
  assert_string_equal(a.name, "Agent-1");
  assert_string_equal(a.reported_status, "active");
  assert_int_equal(a.reported, AGENTS_ACTIVE);
  assert_string_equal(a.current_task, "Implement OAuth");
  assert_true(a.has_issue);
  assert_int_equal(a.issue_number, 126);
  assert_true(a.has_started);
  assert_int_equal(a.task_started_at, iso("2026-11-27T10:00:00Z"));
  assert_true(a.has_activity);
  assert_int_equal(a.last_activity, iso("2026-11-27T10:40:00Z"));
  assert_true(a.has_pid);
  assert_int_equal(a.pid, 4242);
  assert_string_equal(a.instance, "Agent-1");
  assert_null(a.file);
  agents_agent_free(&a);
}

static void test_parse_minimal_and_nulls(void **state) {
  (void)state; /* unused */
  static const char *const inputs[] = {
      "{\"name\": \"A\", \"status\": \"idle\"}",
      "{\"name\": \"A\", \"status\": \"idle\", \"current_task\": null, "
      "\"issue_number\": null, \"task_started_at\": null, "
      "\"last_activity\": null, \"pid\": null}",
  };
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    agents_agent_t a;
    parse_ok(inputs[i], &a);
    assert_string_equal(a.name, "A");
    assert_int_equal(a.reported, AGENTS_IDLE);
    assert_null(a.current_task);
    assert_false(a.has_issue || a.has_started || a.has_activity || a.has_pid);
    agents_agent_free(&a);
  }
}

static void test_parse_statuses(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *status;
    agents_status_t want;
  } cases[] = {{"active", AGENTS_ACTIVE},
               {"working", AGENTS_ACTIVE},
               {"idle", AGENTS_IDLE},
               {"blocked", AGENTS_BLOCKED},
               {"failed", AGENTS_FAILED}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char text[128];
    snprintf(text, sizeof(text), "{\"name\": \"a\", \"status\": \"%s\"}",
             cases[i].status);
    agents_agent_t a;
    parse_ok(text, &a);
    assert_int_equal(a.reported, cases[i].want);
    assert_string_equal(a.reported_status, cases[i].status);
    agents_agent_free(&a);
  }
}

static void test_parse_extra_fields_ignored(void **state) {
  (void)state; /* unused */
  agents_agent_t a;
  parse_ok("{\"model\": \"x\", \"name\": \"A\", \"tags\": [1, {\"k\": []}], "
           "\"status\": \"blocked\", \"nested\": {\"pid\": \"no\"}, "
           "\"cost\": 1.5e3, \"ok\": true}",
           &a);
  assert_string_equal(a.name, "A");
  assert_int_equal(a.reported, AGENTS_BLOCKED);
  assert_false(a.has_pid);
  agents_agent_free(&a);
}

/* Every way a file can be wrong, with the exact message a user reads. */
static const struct {
  const char *text;
  const char *error; /* exact, or a prefix when it ends in '*' */
} bad_cases[] = {
    {"", "parse error*"},
    {"{\"name\": ", "parse error*"},
    {"{\"name\": \"a\", \"status\": \"idle\"} x", "parse error*"},
    {"{\"name\": \"a\" \"status\": \"idle\"}", "parse error*"},
    {"[]", "not a JSON object"},
    {"\"agent\"", "not a JSON object"},
    {"{}", "missing name"},
    {"{\"name\": null, \"status\": \"idle\"}", "missing name"},
    {"{\"name\": 5, \"status\": \"idle\"}", "name: not a string"},
    {"{\"name\": [\"a\"], \"status\": \"idle\"}", "name: not a string"},
    {"{\"name\": \"\", \"status\": \"idle\"}", "name: empty"},
    {"{\"name\": \"a\"}", "missing status"},
    {"{\"name\": \"a\", \"status\": null}", "missing status"},
    {"{\"name\": \"a\", \"status\": 1}", "status: not a string"},
    {"{\"name\": \"a\", \"status\": \"x\"}",
     "unknown status \"x\" (expected active, working, idle, blocked or "
     "failed)"},
    {"{\"name\": \"a\", \"status\": \"dead\"}", "unknown status \"dead\"*"},
    {"{\"name\": \"a\", \"status\": \"stale\"}", "unknown status \"stale\"*"},
    {"{\"name\": \"a\", \"status\": \"Active\"}", "unknown status \"Active\"*"},
    {"{\"name\": \"a\", \"status\": \"\"}", "unknown status \"\"*"},
    {"{\"name\": \"a\", \"status\": \"a\\nb\\u0001\"}",
     "unknown status \"a?b?\"*"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"current_task\": 5}",
     "current_task: not a string"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"issue_number\": \"126\"}",
     "issue_number: not an integer"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"issue_number\": 1.5}",
     "issue_number: not an integer"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"issue_number\": 0}",
     "issue_number: 0 is out of range (1..9223372036854775807)"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"issue_number\": -3}",
     "issue_number: -3 is out of range*"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"task_started_at\": \"now\"}",
     "task_started_at: not an ISO 8601 time"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"task_started_at\": 1700}",
     "task_started_at: not an ISO 8601 time"},
    {"{\"name\": \"a\", \"status\": \"idle\", "
     "\"last_activity\": \"2026-13-01T00:00:00Z\"}",
     "last_activity: not an ISO 8601 time"},
    {"{\"name\": \"a\", \"status\": \"idle\", "
     "\"last_activity\": \"2026-11-27T10:00:00Zjunk\"}",
     "last_activity: not an ISO 8601 time"},
    {"{\"name\": \"a\", \"status\": \"idle\", "
     "\"last_activity\": \"1969-07-20T20:17:40Z\"}",
     "last_activity: outside the years 1970 to 9999"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"pid\": \"42\"}",
     "pid: not an integer"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"pid\": 4.2}",
     "pid: not an integer"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"pid\": 0}",
     "pid: 0 is out of range (1..2147483647)"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"pid\": -1}",
     "pid: -1 is out of range (1..2147483647)"},
    {"{\"name\": \"a\", \"status\": \"idle\", \"pid\": 2147483648}",
     "pid: 2147483648 is out of range (1..2147483647)"},
};

/* error_matches compares with an exact message or a "prefix*". */
static int error_matches(const char *got, const char *want) {
  size_t n = strlen(want);
  if (n > 0 && want[n - 1] == '*')
    return strncmp(got, want, n - 1) == 0;
  return strcmp(got, want) == 0;
}

static void test_parse_invalid_table(void **state) {
  (void)state; /* unused */
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    agents_agent_t a;
    char err[AGENTS_ERROR_MAX] = "";
    int status = agents_parse(bad_cases[i].text, &a, err, sizeof(err));
    if (status != -EINVAL || !error_matches(err, bad_cases[i].error))
      print_error("case %zu: input %s\n  got %d \"%s\"\n  want \"%s\"\n", i,
                  bad_cases[i].text, status, err, bad_cases[i].error);
    assert_int_equal(status, -EINVAL);
    assert_true(error_matches(err, bad_cases[i].error));
    /* A failed parse leaves nothing to free. */
    assert_null(a.name);
    assert_null(a.reported_status);
    assert_null(a.current_task);
    assert_null(strchr(err, '\n'));
  }
}

/* name_of builds {"name": <n copies of unit>, "status": "idle"}. */
static char *name_of(const char *unit, size_t n) {
  size_t ul = strlen(unit);
  char *text = malloc(n * ul + 64);
  assert_non_null(text);
  char *p = text + sprintf(text, "{\"status\": \"idle\", \"name\": \"");
  for (size_t i = 0; i < n; i++, p += ul)
    memcpy(p, unit, ul);
  strcpy(p, "\"}");
  return text;
}

static void test_parse_name_length(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *unit; /* one character */
    size_t count;
    int want;
  } cases[] = {
      {"a", 127, 0},
      {"a", 128, -EINVAL},
      {"\\u00e9", 127, 0},
      {"\\u00e9", 128, -EINVAL},
      {"\\ud83d\\ude00", 127, 0},
      {"\\ud83d\\ude00", 128, -EINVAL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *text = name_of(cases[i].unit, cases[i].count);
    agents_agent_t a;
    char err[AGENTS_ERROR_MAX] = "";
    int status = agents_parse(text, &a, err, sizeof(err));
    if (status != cases[i].want)
      print_error("case %zu: %zu x %s: %d %s\n", i, cases[i].count,
                  cases[i].unit, status, err);
    assert_int_equal(status, cases[i].want);
    if (status == 0)
      assert_int_equal(strlen(a.instance), cases[i].count);
    else
      assert_string_equal(err, "name: longer than 127 characters");
    agents_agent_free(&a);
    free(text);
  }
}

static void test_parse_long_task(void **state) {
  (void)state; /* unused */
  size_t n = 60000;
  char *text = malloc(n + 128);
  assert_non_null(text);
  int off = sprintf(text, "{\"name\": \"a\", \"status\": \"active\", "
                          "\"current_task\": \"");
  memset(text + off, 'x', n);
  strcpy(text + off + n, "\"}");
  agents_agent_t a;
  parse_ok(text, &a);
  assert_int_equal(strlen(a.current_task), n);
  agents_agent_free(&a);
  free(text);
}

static void test_unknown_status_quoted_and_cut(void **state) {
  (void)state; /* unused */
  /* 30 x "é" is 60 bytes: the quote must stop at a character boundary
   * within 40 bytes and say it was cut. */
  char *text = malloc(512);
  assert_non_null(text);
  char *p = text + sprintf(text, "{\"name\": \"a\", \"status\": \"");
  for (int i = 0; i < 30; i++)
    p += sprintf(p, "\xc3\xa9");
  strcpy(p, "\"}");
  agents_agent_t a;
  char err[AGENTS_ERROR_MAX];
  assert_int_equal(agents_parse(text, &a, err, sizeof(err)), -EINVAL);
  char want[256] = "unknown status \"";
  for (int i = 0; i < 20; i++)
    strcat(want, "\xc3\xa9");
  strcat(want, "...\"*");
  assert_true(error_matches(err, want));
  char copy[AGENTS_ERROR_MAX];
  strcpy(copy, err);
  assert_int_equal(qf_json_utf8_repair(copy), 0);
  free(text);
}

static void test_quote(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *in;
    size_t outlen;
    const char *want;
  } cases[] = {
      {"plain", 64, "plain"},
      {"tab\there\x7f", 64, "tab?here?"},
      {"0123456789012345678901234567890123456789", 64,
       "0123456789012345678901234567890123456789"},
      {"01234567890123456789012345678901234567890", 64,
       "0123456789012345678901234567890123456789..."},
      {"abcdefgh", 8, "abcd..."},
      {"abc\xc3\xa9"
       "defg",
       8, "abc..."}, /* no split of the é */
      {"", 64, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[64];
    agents_quote(cases[i].in, out, cases[i].outlen);
    assert_string_equal(out, cases[i].want);
  }
}

static void test_sanitise(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *in;
    const char *want;
  } cases[] = {
      {"Agent-1", "Agent-1"},
      {"x.y_z-0", "x.y_z-0"},
      {"a b/c", "a_b_c"},
      {"\xc3\xa9t\xc3\xa9", "_t_"},       /* été */
      {"\xe6\x97\xa5\xe6\x9c\xac", "__"}, /* two CJK characters */
      {"\xf0\x9f\x98\x80!", "__"},        /* emoji, '!' */
      {"a\tb\nc\"d\\e", "a_b_c_d_e"},
      {"host/plugin-inst", "host_plugin-inst"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[AGENTS_NAME_MAX + 1];
    assert_int_equal(agents_sanitise(cases[i].in, out, sizeof(out)), 0);
    assert_string_equal(out, cases[i].want);
  }
  char small[4];
  assert_int_equal(agents_sanitise("abc", small, sizeof(small)), 0);
  assert_int_equal(agents_sanitise("abcd", small, sizeof(small)), -ENOSPC);
  assert_string_equal(small, "");
}

static void test_status_names(void **state) {
  (void)state; /* unused */
  static const char *const names[] = {"active", "idle", "blocked",
                                      "failed", "dead", "stale"};
  for (int i = 0; i < AGENTS_STATUS_COUNT; i++) {
    agents_status_t s;
    assert_string_equal(agents_status_name((agents_status_t)i), names[i]);
    assert_int_equal(agents_status_parse(names[i], &s), 0);
    assert_int_equal(s, i);
  }
  agents_status_t s;
  assert_int_equal(agents_status_parse("working", &s), -EINVAL);
  assert_int_equal(agents_status_parse(NULL, &s), -EINVAL);
  assert_string_equal(agents_liveness_name(AGENTS_LIVENESS_ALIVE), "alive");
  assert_string_equal(agents_liveness_name(AGENTS_LIVENESS_DEAD), "dead");
  assert_string_equal(agents_liveness_name(AGENTS_LIVENESS_UNKNOWN), "unknown");
}

/* qf_json_utf8_repair (libqiflow) is what keeps outside text publishable;
 * the agents plugin depends on its exact behaviour. */
static void test_utf8_repair(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *in;
    const char *want;
    size_t replaced;
  } cases[] = {
      {"plain.json", "plain.json", 0},
      {"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80",
       "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 0},
      {"a\xff"
       "b",
       "a?b", 1},
      {"\xc0\xaf", "??", 2},           /* overlong '/' */
      {"\xe0\x80\xaf", "???", 3},      /* overlong */
      {"\xed\xa0\x80", "???", 3},      /* surrogate */
      {"\xf4\x90\x80\x80", "????", 4}, /* past U+10FFFF */
      {"x\xc3", "x?", 1},              /* cut at the end */
      {"\xe6\x97"
       "a",
       "??a", 2},       /* cut in the middle */
      {"\x80", "?", 1}, /* lone continuation */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[32];
    strcpy(buf, cases[i].in);
    assert_int_equal(qf_json_utf8_repair(buf), cases[i].replaced);
    assert_string_equal(buf, cases[i].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_full),
      cmocka_unit_test(test_parse_minimal_and_nulls),
      cmocka_unit_test(test_parse_statuses),
      cmocka_unit_test(test_parse_extra_fields_ignored),
      cmocka_unit_test(test_parse_invalid_table),
      cmocka_unit_test(test_parse_name_length),
      cmocka_unit_test(test_parse_long_task),
      cmocka_unit_test(test_unknown_status_quoted_and_cut),
      cmocka_unit_test(test_quote),
      cmocka_unit_test(test_sanitise),
      cmocka_unit_test(test_status_names),
      cmocka_unit_test(test_utf8_repair),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
