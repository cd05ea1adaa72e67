/* Unit tests for heartbeat_config.c and heartbeat_seq.c: names, URLs and
 * their path hint, the API key and its file's permissions, rate advice,
 * the <Backend> and <Webhook> blocks (keys, defaults, every mistake named),
 * and ids that only grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch_dir.h"

#include "heartbeat_config.h"
#include "heartbeat_seq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_names(void **state) {
  (void)state;
  assert_true(hb_name_valid("central"));
  assert_true(hb_name_valid("backend-2.eu_west"));
  assert_false(hb_name_valid(""));
  assert_false(hb_name_valid("a/b"));
  assert_false(hb_name_valid("has space"));
  char longname[HB_NAME_MAX + 2];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_false(hb_name_valid(longname));
}

static void test_urls(void **state) {
  (void)state;
  char err[128];
  assert_int_equal(hb_url_check("https://backend.example/api/v1/swarms/"
                                "heartbeat",
                                err, sizeof(err)),
                   0);
  assert_int_equal(hb_url_check("http://127.0.0.1:8080/x", err, sizeof(err)),
                   0);
  assert_int_equal(hb_url_check("ftp://x/", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_url_check("https:///path", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_url_check("https://h/a b", err, sizeof(err)), -EINVAL);
  char origin[128];
  hb_url_origin("https://hooks.slack.com/services/T0/B0/SECRET", origin,
                sizeof(origin));
  assert_string_equal(origin, "https://hooks.slack.com/...");
  hb_url_origin("https://u:pw@discord.com/api/webhooks/1/TOKEN?wait=true",
                origin, sizeof(origin));
  assert_string_equal(origin, "https://discord.com/...");
  hb_url_origin("http://127.0.0.1:9000/", origin, sizeof(origin));
  assert_string_equal(origin, "http://127.0.0.1:9000");
  char hint[512];
  assert_true(hb_url_path_hint("https://b.example/api/v1/heartbeat", hint,
                               sizeof(hint)));
  assert_non_null(strstr(hint, HB_PATH_WORKING));
  assert_true(hb_url_path_hint("https://b.example/api/v1/heartbeat?x=1", hint,
                               sizeof(hint)));
  assert_false(hb_url_path_hint("https://b.example/api/v1/swarms/heartbeat",
                                hint, sizeof(hint)));
  assert_false(
      hb_url_path_hint("https://hooks.example/abc", hint, sizeof(hint)));
}

static void test_key_check(void **state) {
  (void)state;
  char err[128];
  assert_int_equal(hb_key_check("sk_live_abc-123", err, sizeof(err)), 0);
  assert_int_equal(hb_key_check("", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_key_check("two words", err, sizeof(err)), -EINVAL);
  assert_int_equal(hb_key_check("line\r\nInjected: x", err, sizeof(err)),
                   -EINVAL);
  assert_null(strstr(err, "Injected")); /* the key is never quoted */
}

static void write_key(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file(void **state) {
  const char *dir = *state;
  char path[512], err[512];
  snprintf(path, sizeof(path), "%s/api-key", dir);
  char *key = NULL;
  write_key(path, "  CANARY-KEY-123\n", 0600);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), 0);
  assert_string_equal(key, "CANARY-KEY-123");
  free(key);
  /* Group-readable is the operator's choice (a collectd group). */
  write_key(path, "CANARY-KEY-123\n", 0640);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), 0);
  free(key);
  /* World-readable: refused, the message says how to fix it. */
  write_key(path, "CANARY-KEY-123\n", 0644);
  key = NULL;
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), -EPERM);
  assert_null(key);
  assert_non_null(strstr(err, "chmod"));
  assert_null(strstr(err, "CANARY"));
  /* Empty or two-line keys are refused without quoting them. */
  write_key(path, "\n", 0600);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), -EINVAL);
  write_key(path, "CANARY-1\nCANARY-2\n", 0600);
  assert_int_equal(hb_key_file_read(path, &key, err, sizeof(err)), -EINVAL);
  assert_null(strstr(err, "CANARY"));
  assert_int_equal(hb_key_file_read("/nonexistent/key", &key, err, sizeof(err)),
                   -ENOENT);
}

static void test_rate_advice(void **state) {
  (void)state;
  char out[512];
  assert_false(hb_rate_advice(60, 50, 900, out, sizeof(out))); /* 15 */
  assert_true(hb_rate_advice(10, 50, 900, out, sizeof(out)));  /* 90 */
  assert_non_null(strstr(out, "RequestLimit"));
  assert_false(hb_rate_advice(1, 0, 900, out, sizeof(out))); /* no limit */
}

static void test_seq_grows_and_persists(void **state) {
  const char *dir = *state;
  char err[256];
  long long a, b, c;
  assert_int_equal(hb_seq_next(dir, 0, 1000, &a, err, sizeof(err)), 0);
  assert_int_equal(a, 1000 * 1000 + 1); /* a fresh start: from now in ms */
  assert_int_equal(hb_seq_next(dir, 0, 5, &b, err, sizeof(err)), 0);
  assert_int_equal(b, a + 1); /* the clock does not matter once stored */
  /* A spool holding a newer id raises the floor. */
  assert_int_equal(hb_seq_next(dir, a + 100, 5, &c, err, sizeof(err)), 0);
  assert_int_equal(c, a + 101);
  /* A lost or broken file never repeats ids (clock has moved on). */
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, HB_SEQ_FILE);
  FILE *f = fopen(path, "w");
  fputs("garbage", f);
  fclose(f);
  assert_int_equal(hb_seq_next(dir, 0, 2000, &c, err, sizeof(err)), 0);
  assert_int_equal(c, 2000 * 1000 + 1);
}

static void test_seq_two_processes(void **state) {
  const char *dir = *state;
  char err[256];
  /* The daemon and a one-shot check share StateDir: the lock keeps every
   * id distinct. */
  pid_t pid = fork();
  assert_true(pid >= 0);
  long long id;
  if (pid == 0) {
    for (int i = 0; i < 200; i++)
      if (hb_seq_next(dir, 0, 1, &id, err, sizeof(err)) != 0)
        _exit(1);
    _exit(0);
  }
  for (int i = 0; i < 200; i++)
    assert_int_equal(hb_seq_next(dir, 0, 1, &id, err, sizeof(err)), 0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(hb_seq_next(dir, 0, 1, &id, err, sizeof(err)), 0);
  assert_int_equal(id, 1000 + 401); /* 400 before, each exactly once */
}

/* --- <Backend> and <Webhook> blocks, as the glue hands them over --- */

typedef struct logbook_s {
  char lines[8][1024];
  int n, errors;
} logbook_t;

static void book(void *ud, int severity, const char *msg) {
  logbook_t *l = ud;
  if (severity == HB_LOG_ERR)
    l->errors++;
  if (l->n < 8)
    snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s", msg);
}

static bool booked(const logbook_t *l, const char *needle) {
  for (int i = 0; i < l->n; i++)
    if (strstr(l->lines[i], needle) != NULL)
      return true;
  return false;
}

/* A block of up to 16 one-value keys. */
typedef struct block_s {
  hb_cfg_value_t name;
  hb_cfg_value_t values[16];
  hb_cfg_item_t items[16];
  hb_cfg_item_t item;
} block_t;

static hb_cfg_value_t str(const char *s) {
  return (hb_cfg_value_t){.type = HB_CFG_STRING, .string = s};
}
static hb_cfg_value_t num(double n) {
  return (hb_cfg_value_t){.type = HB_CFG_NUMBER, .number = n};
}
static hb_cfg_value_t boolean(bool b) {
  return (hb_cfg_value_t){.type = HB_CFG_BOOLEAN, .boolean = b};
}

static void block_init(block_t *b, const char *kind, const char *name) {
  memset(b, 0, sizeof(*b));
  b->name = str(name);
  b->item = (hb_cfg_item_t){
      .key = kind, .values = &b->name, .n_values = 1, .children = b->items};
}

static void block_add(block_t *b, const char *key, hb_cfg_value_t v) {
  size_t i = b->item.n_children++;
  b->values[i] = v;
  b->items[i] =
      (hb_cfg_item_t){.key = key, .values = &b->values[i], .n_values = 1};
}

static void test_config_backend(void **state) {
  (void)state;
  unsetenv(HB_KEY_ENV);
  hb_targets_t t = {0};
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  block_t b;
  block_init(&b, "Backend", "central");
  block_add(&b, "url", str("https://user:pw@example.org/api/v1/heartbeat"));
  block_add(&b, "APIKey", str("k-123"));
  block_add(&b, "Timeout", num(2.5));
  block_add(&b, "Retries", num(7));
  block_add(&b, "Compress", str("yes")); /* collectd's old string form */
  block_add(&b, "Replay", str("Latest"));
  block_add(&b, "SpoolMaxBytes", num(2048));
  block_add(&b, "CACert", str("/etc/ca.pem"));
  assert_int_equal(hb_config_backend(&t, &b.item, &log), 0);
  assert_int_equal(t.n_backends, 1);
  const hb_backend_t *be = t.backends[0];
  assert_string_equal(be->name, "central");
  assert_string_equal(be->api_key, "k-123");
  assert_string_equal(be->ca_cert, "/etc/ca.pem");
  assert_null(strstr(be->url_public, "pw"));
  assert_true(be->timeout == 2.5 && be->compress && be->replay_latest);
  assert_int_equal(be->policy.retries, 7);
  assert_int_equal(be->spool_max, 2048);
  /* The defaults of what was not said. */
  assert_int_equal(be->policy.limit, HB_DEFAULT_REQUEST_LIMIT);
  assert_true(be->policy.window == HB_DEFAULT_REQUEST_WINDOW);
  assert_true(be->policy.retry_delay == HB_DEFAULT_RETRY_DELAY);
  assert_true(be->policy.reject_delay == HB_DEFAULT_REJECTED_DELAY);
  assert_true(be->policy.keep_forever);
  assert_true(booked(&lb, "answers with 404")); /* the path hint */
  assert_int_equal(lb.errors, 0);
  /* No key anywhere: allowed, with a warning; the environment's is used. */
  block_init(&b, "Backend", "open");
  block_add(&b, "URL", str("http://127.0.0.1:9/x"));
  assert_int_equal(hb_config_backend(&t, &b.item, &log), 0);
  assert_null(t.backends[1]->api_key);
  assert_true(booked(&lb, "without Authorization"));
  setenv(HB_KEY_ENV, "from-env", 1);
  block_init(&b, "Backend", "env");
  block_add(&b, "URL", str("http://127.0.0.1:9/x"));
  assert_int_equal(hb_config_backend(&t, &b.item, &log), 0);
  assert_string_equal(t.backends[2]->api_key, "from-env");
  unsetenv(HB_KEY_ENV);
  assert_int_equal(t.n_backends, 3);
  hb_targets_free(&t);
  assert_null(t.backends);
}

/* expect_refused parses b as kind and wants it refused, logged with
 * needle, and nothing added. */
static void expect_refused(hb_targets_t *t, const block_t *b,
                           const char *needle) {
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  size_t nb = t->n_backends, nw = t->n_webhooks;
  int status = strcmp(b->item.key, "Webhook") == 0
                   ? hb_config_webhook(t, &b->item, &log)
                   : hb_config_backend(t, &b->item, &log);
  assert_int_equal(status, -1);
  assert_true(lb.errors >= 1);
  if (!booked(&lb, needle))
    fail_msg("no \"%s\" in \"%s\"", needle, lb.n > 0 ? lb.lines[0] : "");
  assert_int_equal(t->n_backends, nb);
  assert_int_equal(t->n_webhooks, nw);
}

static void test_config_mistakes(void **state) {
  (void)state;
  hb_targets_t t = {0};
  block_t b;
  block_init(&b, "Backend", "a");
  block_add(&b, "URL", str("http://h/x"));
  block_add(&b, "Retrys", num(3));
  expect_refused(&t, &b, "unknown option \"Retrys\" in <Backend \"a\">");
  block_init(&b, "Backend", "a");
  block_add(&b, "Retries", num(3.5));
  expect_refused(&t, &b,
                 "Retries must be a whole number from 1 to 100, got 3.5");
  block_init(&b, "Backend", "a");
  block_add(&b, "SpoolMaxBytes", num(100));
  expect_refused(&t, &b, "SpoolMaxBytes must be a whole number from 1024");
  block_init(&b, "Backend", "a");
  block_add(&b, "RetryDelay", num(-0.5));
  expect_refused(&t, &b, "RetryDelay must be a number >= 0, got -0.5");
  block_init(&b, "Backend", "a");
  block_add(&b, "Timeout", str("10"));
  expect_refused(&t, &b, "Timeout needs exactly one number");
  block_init(&b, "Backend", "a");
  block_add(&b, "URL", num(1));
  expect_refused(&t, &b, "URL needs exactly one string");
  block_init(&b, "Backend", "a");
  block_add(&b, "Compress", str("maybe"));
  expect_refused(&t, &b, "Compress needs true or false");
  block_init(&b, "Backend", "a");
  block_add(&b, "Replay", str("some"));
  expect_refused(&t, &b, "Replay must be \"all\"");
  block_init(&b, "Backend", "a");
  expect_refused(&t, &b, "<Backend \"a\">: URL is required");
  block_init(&b, "Backend", "a");
  block_add(&b, "URL", str("ftp://h/x"));
  expect_refused(&t, &b, "URL must start with http://");
  block_init(&b, "Backend", "a");
  block_add(&b, "URL", str("http://h/x"));
  block_add(&b, "APIKey", str("k"));
  block_add(&b, "APIKeyFile", str("/nonexistent"));
  expect_refused(&t, &b, "APIKey and APIKeyFile are exclusive");
  block_init(&b, "Backend", "a b");
  expect_refused(&t, &b, "<Backend> needs one name of 1 to 63 characters");
  block_init(&b, "Webhook", "w");
  block_add(&b, "URL", str("http://h/x"));
  block_add(&b, "Formt", str("slack"));
  expect_refused(&t, &b, "unknown option \"Formt\" in <Webhook \"w\">");
  block_init(&b, "Webhook", "w");
  block_add(&b, "URL", str("http://h/x"));
  block_add(&b, "Format", str("xml"));
  expect_refused(&t, &b, "Format must be json, discord or slack");
  block_init(&b, "Webhook", "w");
  block_add(&b, "MinSeverity", str("okay"));
  expect_refused(&t, &b, "MinSeverity must be failure or warning");
  block_init(&b, "Webhook", "w");
  expect_refused(&t, &b, "<Webhook \"w\">: URL is required");
  assert_int_equal(t.n_backends + t.n_webhooks, 0);
}

static void test_config_webhook(void **state) {
  (void)state;
  hb_targets_t t = {0};
  logbook_t lb = {.n = 0};
  hb_logger_t log = {.fn = book, .ud = &lb};
  block_t b;
  block_init(&b, "Webhook", "chat");
  block_add(&b, "URL", str("https://hooks.example/services/SECRET"));
  block_add(&b, "Format", str("Slack"));
  block_add(&b, "MinSeverity", str("warning"));
  block_add(&b, "Retries", num(2));
  assert_int_equal(hb_config_webhook(&t, &b.item, &log), 0);
  const hb_webhook_t *w = t.webhooks[0];
  assert_int_equal(w->format, HB_FORMAT_SLACK);
  assert_int_equal(w->min_severity, HB_SEV_WARNING);
  assert_int_equal(w->policy.retries, 2);
  assert_true(w->timeout == HB_DEFAULT_TIMEOUT);
  assert_false(w->policy.keep_forever);
  assert_string_equal(w->url_public, "https://hooks.example/...");
  /* Names are shared by backends and webhooks. */
  block_init(&b, "Backend", "chat");
  block_add(&b, "URL", str("http://h/x"));
  block_add(&b, "Compress", boolean(true));
  expect_refused(&t, &b, "the name is already used by another Backend");
  block_init(&b, "Webhook", "chat");
  block_add(&b, "URL", str("http://h/x"));
  expect_refused(&t, &b, "the name is already used");
  assert_int_equal(lb.errors, 0);
  hb_targets_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_key_check),
      cmocka_unit_test_setup_teardown(test_key_file, setup_dir, teardown_dir),
      cmocka_unit_test(test_rate_advice),
      cmocka_unit_test(test_config_backend),
      cmocka_unit_test(test_config_mistakes),
      cmocka_unit_test(test_config_webhook),
      cmocka_unit_test_setup_teardown(test_seq_grows_and_persists, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_seq_two_processes, setup_dir,
                                      teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
