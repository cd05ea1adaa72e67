/* Unit tests for heartbeat_deliver.c: what each answer means and when the
 * next request may start, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_deliver.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const hb_policy_t backend_policy = {.retries = 3,
                                           .retry_delay = 5,
                                           .probe_delay = 60,
                                           .reject_delay = 300,
                                           .max_pause = HB_MAX_PAUSE,
                                           .limit = 50,
                                           .window = 900,
                                           .keep_forever = true};

static void test_classify(void **state) {
  (void)state;
  static const struct {
    long status;
    const char *text;
    hb_class_t want;
  } cases[] = {
      {200, "", HB_CLASS_OK},
      {201, "", HB_CLASS_OK},
      {0, "Connection refused", HB_CLASS_RETRY},
      {408, "", HB_CLASS_RETRY},
      {500, "Failed to process heartbeat", HB_CLASS_RETRY},
      {503, "", HB_CLASS_RETRY},
      {429, "Too many requests", HB_CLASS_RATE_LIMITED},
      {400, "Missing required field: swarm_id", HB_CLASS_BAD_REQUEST},
      {401, "Missing authorization header", HB_CLASS_AUTH},
      {403, "Invalid API key", HB_CLASS_AUTH},
      {404, "Swarm not found. Please register the swarm first.",
       HB_CLASS_UNREGISTERED},
      {404, "Not found", HB_CLASS_WRONG_PATH},
      {404, NULL, HB_CLASS_WRONG_PATH},
      {405, "", HB_CLASS_REFUSED},
      {302, "", HB_CLASS_REFUSED},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(hb_classify(cases[i].status, cases[i].text),
                     cases[i].want);
}

static void test_error_text(void **state) {
  (void)state;
  char out[64];
  const char *json = "{\"success\":false,\"error\":\"Invalid API key\"}";
  hb_error_text(json, strlen(json), out, sizeof(out));
  assert_string_equal(out, "Invalid API key");
  const char *msg = "{\"message\":\"line1\\nline2\"}";
  hb_error_text(msg, strlen(msg), out, sizeof(out));
  assert_string_equal(out, "line1 line2");
  const char *text = "Too many requests from this IP, please try again "
                     "later.\r\n";
  hb_error_text(text, strlen(text), out, 20);
  assert_string_equal(out, "Too many requests f");
  hb_error_text(NULL, 0, out, sizeof(out));
  assert_string_equal(out, "");
}

static void test_redact(void **state) {
  (void)state;
  char s[128] = "key abc123 and abc123 again";
  hb_redact_secret(s, sizeof(s), "abc123");
  assert_string_equal(s, "key [redacted] and [redacted] again");
  char tight[16] = "xx SECRET9 yy";
  hb_redact_secret(tight, sizeof(tight), "SECRET9");
  assert_null(strstr(tight, "SECRET9"));
  hb_redact_secret(tight, sizeof(tight), "");
  hb_redact_secret(NULL, 0, "x");
}

static void test_policy_header(void **state) {
  (void)state;
  int limit;
  double window;
  assert_int_equal(hb_parse_policy("100;w=900", &limit, &window), 0);
  assert_int_equal(limit, 100);
  assert_true(window == 900);
  assert_int_equal(hb_parse_policy("10;w=20, 1000;w=3600", &limit, &window), 0);
  assert_int_equal(limit, 10);
  assert_true(window == 20);
  assert_int_equal(hb_parse_policy("\"default\";q=5;w=60", &limit, &window), 0);
  assert_int_equal(limit, 5);
  assert_int_equal(hb_parse_policy("100", &limit, &window), -EINVAL);
  assert_int_equal(hb_parse_policy("", &limit, &window), -EINVAL);
  assert_int_equal(hb_parse_policy("0;w=10", &limit, &window), -EINVAL);
  assert_int_equal(hb_parse_policy(NULL, &limit, &window), -EINVAL);
}

static void test_success_and_transient_retries(void **state) {
  (void)state;
  hb_deliver_t d;
  assert_int_equal(hb_deliver_init(&d, &backend_policy), 0);
  double t = 1000;
  assert_true(hb_deliver_ready_at(&d, t) == t);
  hb_deliver_started(&d, t);
  assert_int_equal(hb_deliver_answer(&d, t, HB_CLASS_OK, -1, NULL), HB_DONE);
  assert_true(hb_deliver_ready_at(&d, t) == t);
  /* Two transient failures: RetryDelay apart. */
  for (int i = 1; i <= 2; i++) {
    hb_deliver_started(&d, t);
    assert_int_equal(hb_deliver_answer(&d, t, HB_CLASS_RETRY, -1, NULL),
                     HB_KEEP);
    assert_int_equal(d.mode, HB_MODE_RETRYING);
    assert_true(hb_deliver_ready_at(&d, t) == t + 5);
    t += 5;
  }
  /* Retry-After wins over RetryDelay. */
  hb_deliver_t d2;
  hb_deliver_init(&d2, &backend_policy);
  hb_deliver_answer(&d2, t, HB_CLASS_RETRY, 17, NULL);
  assert_true(hb_deliver_ready_at(&d2, t) == t + 17);
  hb_deliver_free(&d2);
  /* The third failure spends Retries: down, probed once per interval,
   * and the heartbeat is kept. */
  hb_deliver_started(&d, t);
  assert_int_equal(hb_deliver_answer(&d, t, HB_CLASS_RETRY, -1, NULL), HB_KEEP);
  assert_int_equal(d.mode, HB_MODE_DOWN);
  assert_true(hb_deliver_ready_at(&d, t) == t + 60);
  t += 60;
  hb_deliver_answer(&d, t, HB_CLASS_RETRY, -1, NULL);
  assert_true(hb_deliver_ready_at(&d, t) == t + 60);
  /* Recovery resets everything. */
  assert_int_equal(hb_deliver_answer(&d, t, HB_CLASS_OK, -1, NULL), HB_DONE);
  assert_int_equal(d.mode, HB_MODE_OK);
  assert_int_equal(d.attempts, 0);
  assert_true(hb_deliver_ready_at(&d, t) == t);
  hb_deliver_free(&d);
}

static void test_refused_waits_slowly_and_keeps(void **state) {
  (void)state;
  static const hb_class_t refused[] = {HB_CLASS_BAD_REQUEST, HB_CLASS_AUTH,
                                       HB_CLASS_UNREGISTERED,
                                       HB_CLASS_WRONG_PATH, HB_CLASS_REFUSED};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    hb_deliver_t d;
    hb_deliver_init(&d, &backend_policy);
    assert_int_equal(hb_deliver_answer(&d, 10, refused[i], -1, NULL), HB_KEEP);
    assert_int_equal(d.mode, HB_MODE_REFUSED);
    /* Not retried at once: only after the slow RejectedRetryDelay, but an
     * unregistered swarm is looked at again once per Interval. */
    double want = refused[i] == HB_CLASS_UNREGISTERED ? 70 : 310;
    assert_true(hb_deliver_ready_at(&d, 10) == want);
    hb_deliver_free(&d);
  }
}

static void test_429_pauses_and_learns(void **state) {
  (void)state;
  hb_policy_t p = backend_policy;
  p.limit = 30; /* looser than the backend's */
  p.window = 20;
  hb_deliver_t d;
  hb_deliver_init(&d, &p);
  double t = 100;
  for (int i = 0; i < 10; i++, t += 0.1) {
    assert_true(hb_deliver_ready_at(&d, t) == t);
    hb_deliver_started(&d, t);
    hb_deliver_answer(&d, t, HB_CLASS_OK, -1, NULL);
  }
  hb_deliver_started(&d, t);
  assert_int_equal(
      hb_deliver_answer(&d, t, HB_CLASS_RATE_LIMITED, 19, "10;w=20"),
      HB_KEEP); /* kept, never dropped */
  assert_int_equal(d.mode, HB_MODE_PAUSED);
  assert_int_equal(d.attempts, 0); /* a 429 is no failed attempt */
  assert_int_equal(d.learned_limit, 10);
  assert_true(hb_deliver_ready_at(&d, t) >= t + 19);
  /* After the pause: at most 10 requests in any 20 s (plus slack). */
  t += 19;
  double starts[40];
  int n = 0;
  for (int i = 0; i < 40; i++) {
    t = hb_deliver_ready_at(&d, t);
    starts[n++] = t;
    hb_deliver_started(&d, t);
    hb_deliver_answer(&d, t, HB_CLASS_OK, -1, NULL);
  }
  for (int i = 10; i < n; i++)
    assert_true(starts[i] - starts[i - 10] >= 20.0);
  hb_deliver_free(&d);
  /* Retry-After is capped at 15 minutes; none given: a minute. */
  hb_deliver_init(&d, &backend_policy);
  hb_deliver_answer(&d, 0, HB_CLASS_RATE_LIMITED, 100000, NULL);
  assert_true(hb_deliver_ready_at(&d, 0) == HB_MAX_PAUSE);
  hb_deliver_answer(&d, 0, HB_CLASS_RATE_LIMITED, -1, NULL);
  assert_true(hb_deliver_ready_at(&d, 0) == 60);
  hb_deliver_free(&d);
}

static void test_sliding_window(void **state) {
  (void)state;
  hb_policy_t p = backend_policy;
  p.limit = 3;
  p.window = 10;
  hb_deliver_t d;
  hb_deliver_init(&d, &p);
  hb_deliver_started(&d, 0);
  hb_deliver_started(&d, 1);
  hb_deliver_started(&d, 2);
  assert_true(hb_deliver_ready_at(&d, 3) == 10); /* 3 in (0, 10) */
  hb_deliver_started(&d, 10);
  assert_true(hb_deliver_ready_at(&d, 10) == 11);
  assert_int_equal(hb_deliver_window_count(&d, 10.5, 10), 3);
  hb_deliver_free(&d);
  /* Limit 0: no rate limit. */
  p.limit = 0;
  hb_deliver_init(&d, &p);
  for (int i = 0; i < 100; i++)
    hb_deliver_started(&d, 1);
  assert_true(hb_deliver_ready_at(&d, 1) == 1);
  hb_deliver_free(&d);
}

static void test_webhooks_drop(void **state) {
  (void)state;
  hb_policy_t p = backend_policy;
  p.keep_forever = false;
  hb_deliver_t d;
  hb_deliver_init(&d, &p);
  assert_int_equal(hb_deliver_answer(&d, 0, HB_CLASS_RETRY, -1, NULL), HB_KEEP);
  assert_int_equal(hb_deliver_answer(&d, 5, HB_CLASS_RETRY, -1, NULL), HB_KEEP);
  assert_int_equal(hb_deliver_answer(&d, 10, HB_CLASS_RETRY, -1, NULL),
                   HB_DROP);
  assert_int_equal(d.attempts, 0);
  assert_int_equal(hb_deliver_answer(&d, 20, HB_CLASS_AUTH, -1, NULL), HB_DROP);
  assert_int_equal(hb_deliver_answer(&d, 20, HB_CLASS_RATE_LIMITED, 3, NULL),
                   HB_KEEP);
  assert_int_equal(hb_deliver_answer(&d, 30, HB_CLASS_CANCELED, -1, NULL),
                   HB_KEEP);
  assert_string_equal(hb_mode_name(HB_MODE_PAUSED), "paused");
  hb_deliver_free(&d);
}

/* Only refusals about the record itself set it aside; everything that
 * concerns every record alike keeps holding. */
static void test_record_class(void **state) {
  (void)state;
  const char *fph = "Failed to process heartbeat";
  const char *snf = "Swarm not found. Please register the swarm first.";
  struct {
    hb_class_t c;
    long status;
    const char *text, *rec_swarm, *rec_status;
    bool last;
    hb_class_t want;
  } cases[] = {
      {HB_CLASS_BAD_REQUEST, 400, "Missing required field: swarm_id", "s1",
       "online", false, HB_CLASS_UNDELIVERABLE},
      {HB_CLASS_UNREGISTERED, 404, snf, "old", "online", false,
       HB_CLASS_UNDELIVERABLE},
      {HB_CLASS_UNREGISTERED, 404, snf, "s1", "online", false,
       HB_CLASS_UNREGISTERED}, /* ours: register it, nothing lost */
      {HB_CLASS_UNREGISTERED, 404, snf, "", "online", false,
       HB_CLASS_UNREGISTERED}, /* its id unreadable: taken as ours */
      {HB_CLASS_WRONG_PATH, 404, "Not found", "old", "online", false,
       HB_CLASS_WRONG_PATH},
      {HB_CLASS_AUTH, 403, "Invalid API key", "old", "online", false,
       HB_CLASS_AUTH},
      {HB_CLASS_AUTH, 401, "Missing authorization header", "s1", "online", true,
       HB_CLASS_AUTH},
      {HB_CLASS_RETRY, 500, fph, "s1", "weird", true, HB_CLASS_UNDELIVERABLE},
      {HB_CLASS_RETRY, 500, fph, "s1", NULL, true, HB_CLASS_UNDELIVERABLE},
      {HB_CLASS_RETRY, 500, fph, "s1", "weird", false,
       HB_CLASS_RETRY}, /* not yet: retries first */
      {HB_CLASS_RETRY, 500, fph, "s1", "degraded", true,
       HB_CLASS_RETRY}, /* a database outage, not the record */
      {HB_CLASS_RETRY, 503, fph, "s1", "weird", true, HB_CLASS_RETRY},
      {HB_CLASS_RETRY, 500, "Internal server error", "s1", "weird", true,
       HB_CLASS_RETRY},
      {HB_CLASS_RATE_LIMITED, 429, "Too many requests", "old", "x", true,
       HB_CLASS_RATE_LIMITED},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(hb_record_class(cases[i].c, cases[i].status, cases[i].text,
                                     cases[i].rec_swarm, cases[i].rec_status,
                                     "s1", cases[i].last),
                     cases[i].want);
}

/* An undeliverable record: set aside by a backend, dropped by a webhook;
 * either way the next record may go at once. */
static void test_undeliverable_does_not_hold(void **state) {
  (void)state;
  hb_deliver_t d;
  hb_deliver_init(&d, &backend_policy);
  assert_int_equal(hb_deliver_answer(&d, 0, HB_CLASS_RETRY, -1, NULL), HB_KEEP);
  assert_int_equal(hb_deliver_answer(&d, 5, HB_CLASS_UNDELIVERABLE, -1, NULL),
                   HB_SET_ASIDE);
  assert_int_equal(d.attempts, 0);
  assert_int_equal(d.mode, HB_MODE_OK);
  assert_true(hb_deliver_ready_at(&d, 5) <= 5.0);
  hb_deliver_free(&d);
  hb_policy_t p = backend_policy;
  p.keep_forever = false;
  hb_deliver_init(&d, &p);
  assert_int_equal(hb_deliver_answer(&d, 0, HB_CLASS_UNDELIVERABLE, -1, NULL),
                   HB_DROP);
  hb_deliver_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_record_class),
      cmocka_unit_test(test_undeliverable_does_not_hold),
      cmocka_unit_test(test_error_text),
      cmocka_unit_test(test_redact),
      cmocka_unit_test(test_policy_header),
      cmocka_unit_test(test_success_and_transient_retries),
      cmocka_unit_test(test_refused_waits_slowly_and_keeps),
      cmocka_unit_test(test_429_pauses_and_learns),
      cmocka_unit_test(test_sliding_window),
      cmocka_unit_test(test_webhooks_drop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
