/* Unit tests for heartbeat_webhook.c: notifications in the json, Discord
 * and Slack shapes, severity filtering, text repair, and the bounded
 * queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_webhook.h"
#include "qf_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hb_note_t sample(void) {
  hb_note_t n = {.severity = HB_SEV_FAILURE, .time = 1795773600.7};
  strcpy(n.host, "host1");
  strcpy(n.plugin, "qiflow_agents");
  strcpy(n.plugin_instance, "Agent-1");
  strcpy(n.type, "count");
  strcpy(n.message, "agent Agent-1 is dead (pid 4242 gone)");
  return n;
}

static yajl_val render(hb_format_t f, const hb_note_t *n) {
  char *text;
  size_t len;
  assert_int_equal(hb_webhook_render(f, n, "swarm-1", &text, &len), 0);
  yajl_val doc = qf_json_parse(text, NULL, 0);
  assert_non_null(doc);
  free(text);
  return doc;
}

static void test_json_format(void **state) {
  (void)state;
  hb_note_t n = sample();
  yajl_val d = render(HB_FORMAT_JSON, &n);
  assert_string_equal(qf_json_get_str(d, "swarm_id"), "swarm-1");
  assert_string_equal(qf_json_get_str(d, "severity"), "FAILURE");
  assert_string_equal(qf_json_get_str(d, "time"), "2026-11-27T10:00:00Z");
  assert_string_equal(qf_json_get_str(d, "plugin_instance"), "Agent-1");
  assert_string_equal(qf_json_get_str(d, "type_instance"), "");
  assert_string_equal(qf_json_get_str(d, "message"), n.message);
  yajl_tree_free(d);
}

static void test_discord_format(void **state) {
  (void)state;
  hb_note_t n = sample();
  yajl_val d = render(HB_FORMAT_DISCORD, &n);
  const char *content = qf_json_get_str(d, "content");
  assert_non_null(strstr(content, "FAILURE"));
  assert_non_null(strstr(content, n.message));
  yajl_val embeds = qf_json_get(d, "embeds");
  assert_true(YAJL_IS_ARRAY(embeds) && embeds->u.array.len == 1);
  yajl_val e = embeds->u.array.values[0];
  long long color;
  assert_int_equal(qf_json_get_int(e, "color", &color), 0);
  assert_int_equal(color, 15158332);
  assert_string_equal(qf_json_get_str(e, "timestamp"), "2026-11-27T10:00:00Z");
  yajl_val fields = qf_json_get(e, "fields");
  for (size_t i = 0; i < fields->u.array.len; i++) /* none may be empty */
    assert_true(strlen(qf_json_get_str(fields->u.array.values[i], "value")) >
                0);
  yajl_val swarm = fields->u.array.values[0];
  assert_string_equal(qf_json_get_str(swarm, "name"), "Swarm");
  assert_string_equal(qf_json_get_str(swarm, "value"), "swarm-1");
  assert_true(YAJL_IS_TRUE(qf_json_get(swarm, "inline")));
  yajl_tree_free(d);
}

static void test_slack_format(void **state) {
  (void)state;
  hb_note_t n = sample();
  n.severity = HB_SEV_WARNING;
  yajl_val d = render(HB_FORMAT_SLACK, &n);
  assert_non_null(strstr(qf_json_get_str(d, "text"), "WARNING"));
  yajl_val a = qf_json_get(d, "attachments")->u.array.values[0];
  assert_string_equal(qf_json_get_str(a, "color"), "warning");
  assert_string_equal(qf_json_get_str(a, "text"), n.message);
  long long ts;
  assert_int_equal(qf_json_get_int(a, "ts", &ts), 0);
  assert_int_equal(ts, 1795773600);
  yajl_val fields = qf_json_get(a, "fields");
  assert_true(YAJL_IS_ARRAY(fields) && fields->u.array.len == 3);
  static const char *const titles[] = {"Swarm", "Host", "Source"};
  for (size_t i = 0; i < 3; i++) {
    yajl_val f = fields->u.array.values[i];
    assert_string_equal(qf_json_get_str(f, "title"), titles[i]);
    assert_non_null(qf_json_get_str(f, "value"));
    assert_true(YAJL_IS_TRUE(qf_json_get(f, "short")));
  }
  yajl_tree_free(d);
}

static void test_parse_names(void **state) {
  (void)state;
  hb_format_t f;
  assert_int_equal(hb_format_parse("Discord", &f), 0);
  assert_int_equal(f, HB_FORMAT_DISCORD);
  assert_int_equal(hb_format_parse("slack", &f), 0);
  assert_int_equal(hb_format_parse("teams", &f), -EINVAL);
  int sev;
  assert_int_equal(hb_severity_parse("FAILURE", &sev), 0);
  assert_int_equal(sev, HB_SEV_FAILURE);
  assert_int_equal(hb_severity_parse("warning", &sev), 0);
  assert_int_equal(hb_severity_parse("okay", &sev), -EINVAL);
}

static void test_severity_filter(void **state) {
  (void)state;
  static const struct {
    int sev, min;
    bool passes;
  } cases[] = {
      {HB_SEV_FAILURE, HB_SEV_FAILURE, true},
      {HB_SEV_WARNING, HB_SEV_FAILURE, false},
      {HB_SEV_OKAY, HB_SEV_FAILURE, false},
      {HB_SEV_FAILURE, HB_SEV_WARNING, true},
      {HB_SEV_WARNING, HB_SEV_WARNING, true},
      {HB_SEV_OKAY, HB_SEV_WARNING, false},
      {0, HB_SEV_WARNING, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(hb_severity_passes(cases[i].sev, cases[i].min),
                     cases[i].passes);
}

static void test_repair_bad_text(void **state) {
  (void)state;
  hb_note_t n = sample();
  strcpy(n.message, "bad \xff byte\nand a newline");
  hb_note_repair(&n);
  assert_string_equal(n.message, "bad ? byte and a newline");
  yajl_val d = render(HB_FORMAT_JSON, &n);
  yajl_tree_free(d);
}

static void test_queue_bounded_drops_oldest(void **state) {
  (void)state;
  hb_webhook_t *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  hb_note_t n = sample();
  for (int i = 0; i < HB_WEBHOOK_QUEUE; i++) {
    n.time = i;
    assert_false(hb_webhook_push(w, &n));
  }
  hb_note_t head;
  unsigned long long seq;
  assert_true(hb_webhook_peek(w, &head, &seq));
  assert_true(head.time == 0);
  /* Full: the oldest goes, counted; popping the stale seq is harmless. */
  n.time = 1000;
  assert_true(hb_webhook_push(w, &n));
  assert_int_equal(w->st.dropped, 1);
  hb_webhook_pop(w, seq);
  assert_true(hb_webhook_peek(w, &head, &seq));
  assert_true(head.time == 1);
  hb_webhook_pop(w, seq);
  assert_true(hb_webhook_peek(w, &head, &seq));
  assert_true(head.time == 2);
  assert_int_equal(w->qcount, HB_WEBHOOK_QUEUE - 1);
  hb_webhook_free(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_format),
      cmocka_unit_test(test_discord_format),
      cmocka_unit_test(test_slack_format),
      cmocka_unit_test(test_parse_names),
      cmocka_unit_test(test_severity_filter),
      cmocka_unit_test(test_repair_bad_text),
      cmocka_unit_test(test_queue_bounded_drops_oldest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
