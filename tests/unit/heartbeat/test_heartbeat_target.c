/* Unit tests for heartbeat_target.c: the one request path of a backend
 * (hb_backend_exchange: an explicit timeout, the answer classified, the
 * counters and the budget), and hb_backend_settle applying an answer to
 * the spooled heartbeat, a failing set-aside said once per episode. A scripted
 * HTTP server on 127.0.0.1 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat_target.h"
#include "qf_http.h"
#include "logbook.h"
#include "scratch_dir.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- a server that answers each connection with the next scripted
 * answer, or reads the request and never answers (silent) --- */

typedef struct answer_s {
  const char *status; /* "200 OK"; NULL ends the script */
  const char *body;
} answer_t;

typedef struct server_s {
  int fd, port;
  const answer_t *answers;
  bool silent;
  pthread_t thread;
} server_t;

/* server_read reads a request: its headers and Content-Length bytes. */
static void server_read(int c) {
  char buf[8192];
  size_t n = 0;
  for (int rounds = 0; rounds < 100 && n < sizeof(buf) - 1; rounds++) {
    struct pollfd p = {.fd = c, .events = POLLIN};
    if (poll(&p, 1, 2000) <= 0)
      return;
    ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
    if (r <= 0)
      return;
    n += (size_t)r;
    buf[n] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
    if (end != NULL && n >= (size_t)(end + 4 - buf) + want)
      return;
  }
}

static void *server_main(void *arg) {
  server_t *s = arg;
  for (size_t i = 0; s->answers[i].status != NULL; i++) {
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      break;
    server_read(c);
    if (s->silent) { /* wait for the client to give up */
      struct pollfd p = {.fd = c, .events = POLLIN};
      poll(&p, 1, 5000);
      close(c);
      continue;
    }
    char resp[1024];
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       s->answers[i].status, strlen(s->answers[i].body),
                       s->answers[i].body);
    assert_true(write(c, resp, (size_t)len) == len);
    close(c);
  }
  return NULL;
}

static void server_start(server_t *s, const answer_t *answers, bool silent) {
  s->answers = answers;
  s->silent = silent;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(s->fd, 8), 0);
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(server_t *s) {
  pthread_join(s->thread, NULL);
  close(s->fd);
}

/* --- backends --- */

/* new_backend is a started backend posting to port, spooled in dir. */
static hb_backend_t *new_backend(const char *dir, int port, logbook_t *lb) {
  hb_backend_t *b = calloc(1, sizeof(*b));
  assert_non_null(b);
  b->name = strdup("central");
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/swarms/heartbeat",
           port);
  b->url = strdup(url);
  b->api_key = strdup("SECRET-KEY-1");
  b->timeout = 10;
  b->spool_max = 1 << 20;
  b->policy = (hb_policy_t){.retries = 3,
                            .retry_delay = 5,
                            .probe_delay = 60,
                            .reject_delay = 300,
                            .max_pause = HB_MAX_PAUSE,
                            .limit = 50,
                            .window = 900,
                            .keep_forever = true,
                            .live_interval = 60};
  char err[256];
  hb_logger_t log = {.fn = book, .ud = lb};
  assert_int_equal(hb_backend_start(b, dir, &log, err, sizeof(err)), 0);
  return b;
}

typedef struct fixture_s {
  qf_http_client_t http;
  hb_env_t env;
  logbook_t lb;
} fixture_t;

static void fixture_init(fixture_t *f) {
  memset(f, 0, sizeof(*f));
  assert_int_equal(qf_http_global_init(), 0);
  assert_int_equal(qf_http_client_init(&f->http, "unit"), 0);
  f->env = (hb_env_t){.swarm_id = "swarm-1",
                      .http = &f->http,
                      .log = {.fn = book, .ud = &f->lb}};
}

static const char body[] = "{\"swarm_id\":\"swarm-1\",\"status\":\"online\"}";

/* The timeout is the caller's, b->timeout stays as configured; a request
 * without an answer is a failure counted once, against the budget too. */
static void test_exchange_explicit_timeout(void **state) {
  fixture_t f;
  fixture_init(&f);
  server_t s;
  static const answer_t one[] = {{"200 OK", "{}"}, {NULL, NULL}};
  server_start(&s, one, true);
  hb_backend_t *b = new_backend(*state, s.port, &f.lb);
  double now = mono_now();
  hb_answer_t a;
  hb_backend_exchange(b, &f.env, body, strlen(body), 0.3, now, &a);
  assert_int_not_equal(a.rc, 0);
  assert_int_equal(a.c, HB_CLASS_RETRY);
  assert_int_equal(a.status, 0);
  assert_true(mono_now() - now < 3.0); /* not the 10 s of b->timeout */
  assert_true(b->timeout == 10.0);
  assert_int_equal(b->st.failed, 1);
  assert_int_equal(b->st.sent, 0);
  assert_true(b->st.last_attempt > 0);
  assert_int_equal(hb_deliver_window_count(&b->dl, now + 1, 900), 1);
  struct stat st;
  assert_int_equal(stat(b->budget_path, &st), 0); /* saved */
  server_stop(&s);
  hb_backend_free(b);
  qf_http_client_destroy(&f.http);
}

/* Answers are classified by heartbeat_deliver.c's rules and counted; the
 * key never shows in the text. */
static void test_exchange_classifies_and_counts(void **state) {
  fixture_t f;
  fixture_init(&f);
  server_t s;
  static const answer_t script[] = {
      {"401 Unauthorized", "{\"error\":\"bad key SECRET-KEY-1\"}"},
      {"404 Not Found", "{\"error\":\"Swarm not found\"}"},
      {"200 OK", "{\"ok\":true}"},
      {NULL, NULL}};
  server_start(&s, script, false);
  hb_backend_t *b = new_backend(*state, s.port, &f.lb);
  hb_answer_t a;
  double now = mono_now();
  hb_backend_exchange(b, &f.env, body, strlen(body), 5, now, &a);
  assert_int_equal(a.c, HB_CLASS_AUTH);
  assert_int_equal(a.status, 401);
  assert_null(strstr(a.text, "SECRET-KEY-1"));
  assert_non_null(strstr(a.text, "bad key"));
  hb_backend_exchange(b, &f.env, body, strlen(body), 5, now + 1, &a);
  assert_int_equal(a.c, HB_CLASS_UNREGISTERED);
  assert_int_equal(b->st.failed, 2);
  assert_int_equal(b->st.last_status, 404);
  snprintf(b->st.last_error, sizeof(b->st.last_error), "earlier");
  hb_backend_exchange(b, &f.env, body, strlen(body), 5, now + 2, &a);
  assert_int_equal(a.c, HB_CLASS_OK);
  assert_int_equal(b->st.sent, 1);
  assert_int_equal(b->st.failed, 2);
  assert_string_equal(b->st.last_error, "");
  assert_true(b->st.last_success > 0 && !isnan(b->st.last_latency_ms));
  assert_int_equal(hb_deliver_window_count(&b->dl, now + 3, 900), 3);
  server_stop(&s);
  hb_backend_free(b);
  qf_http_client_destroy(&f.http);
}

/* hb_backend_settle removes a delivered heartbeat and keeps a refused one
 * (logged once per cause). */
static void test_settle(void **state) {
  fixture_t f;
  fixture_init(&f);
  hb_backend_t *b = new_backend(*state, 9, &f.lb);
  double now = mono_now();
  assert_int_equal(
      hb_backend_enqueue(b, 7, body, strlen(body), now, &f.env.log), 0);
  hb_answer_t refused = {.rc = 0,
                         .status = 401,
                         .c = HB_CLASS_AUTH,
                         .retry_after = -1,
                         .text = "Invalid API key"};
  for (int i = 0; i < 3; i++)
    assert_int_equal(hb_backend_settle(b, &f.env, now + i, 7, body, &refused),
                     HB_CLASS_AUTH);
  assert_int_equal(count_lines(&f.lb, "refused the API key"), 1);
  assert_int_equal(hb_spool_depth(&b->spool), 1);
  hb_answer_t ok = {
      .rc = 0, .status = 200, .c = HB_CLASS_OK, .retry_after = -1};
  assert_int_equal(hb_backend_settle(b, &f.env, now + 5, 7, body, &ok),
                   HB_CLASS_OK);
  assert_int_equal(hb_spool_depth(&b->spool), 0);
  assert_int_equal(count_lines(&f.lb, "delivering again"), 1);
  hb_backend_free(b);
  qf_http_client_destroy(&f.http);
}

/* A refused heartbeat that cannot be set aside (here: its file's path is
 * a directory) is said once per episode, and the recovery once. */
static void test_set_aside_failure_said_once(void **state) {
  fixture_t f;
  fixture_init(&f);
  hb_backend_t *b = new_backend(*state, 9, &f.lb);
  double now = mono_now();
  for (long long id = 1; id <= 2; id++)
    assert_int_equal(
        hb_backend_enqueue(b, id, body, strlen(body), now, &f.env.log), 0);
  assert_int_equal(mkdir(b->spool.rejected_dir, 0700), 0);
  assert_int_equal(mkdir(b->spool.rejected_path, 0700), 0);
  hb_answer_t bad = {.rc = 0,
                     .status = 400,
                     .c = HB_CLASS_BAD_REQUEST,
                     .retry_after = -1,
                     .text = "Invalid body"};
  for (int i = 0; i < 4; i++)
    assert_int_equal(hb_backend_settle(b, &f.env, now + i, 1, body, &bad),
                     HB_CLASS_UNDELIVERABLE);
  assert_int_equal(count_lines(&f.lb, "cannot be set aside"), 1);
  assert_int_equal(hb_spool_depth(&b->spool), 2);
  assert_int_equal(b->st.set_aside, 0);
  assert_true(b->dl.not_before >= now + 3 + 300 - 1e-6); /* postponed */
  assert_int_equal(rmdir(b->spool.rejected_path), 0);    /* space again */
  hb_backend_settle(b, &f.env, now + 5, 1, body, &bad);
  assert_int_equal(count_lines(&f.lb, "can be set aside again"), 1);
  assert_int_equal(count_lines(&f.lb, "set aside in"), 1);
  assert_int_equal(hb_spool_depth(&b->spool), 1);
  assert_int_equal(b->st.set_aside, 1);
  /* A new episode is said again. */
  assert_int_equal(unlink(b->spool.rejected_path), 0);
  assert_int_equal(mkdir(b->spool.rejected_path, 0700), 0);
  hb_backend_settle(b, &f.env, now + 6, 2, body, &bad);
  assert_int_equal(count_lines(&f.lb, "cannot be set aside"), 2);
  hb_backend_free(b);
  qf_http_client_destroy(&f.http);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_exchange_explicit_timeout, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_exchange_classifies_and_counts,
                                      setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_settle, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_set_aside_failure_said_once,
                                      setup_dir, teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
