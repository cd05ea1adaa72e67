/* Unit tests for qf_http's connection reuse, against a small HTTP/1.1 server
 * on 127.0.0.1 in a thread that counts the connections it accepts:
 * keep-alive reuse after a success, no reuse after a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TS_MAX_CLIENTS 4
#define TS_LIFETIME_S 20 /* the server stops by itself after this */

typedef struct ts_server_s {
  int lfd;
  int port;
  atomic_int accepts; /* connections accepted so far */
  atomic_int stop;
  pthread_t thread;
  struct pollfd fds[1 + TS_MAX_CLIENTS]; /* [0] listens */
  char buf[TS_MAX_CLIENTS][2048];        /* each client's unanswered bytes */
  size_t len[TS_MAX_CLIENTS];
} ts_server_t;

/* ts_accept takes one connection into a free slot (closes it if none). */
static void ts_accept(ts_server_t *s) {
  int fd = accept(s->lfd, NULL, NULL);
  if (fd < 0)
    return;
  atomic_fetch_add(&s->accepts, 1);
  for (int i = 0; i < TS_MAX_CLIENTS; i++)
    if (s->fds[1 + i].fd < 0) {
      s->fds[1 + i].fd = fd;
      s->len[i] = 0;
      return;
    }
  close(fd);
}

/* ts_serve reads from client i and answers each complete request head with
 * a keep-alive 200; closes the slot on EOF, error or an oversized head. */
static void ts_serve(ts_server_t *s, int i) {
  static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                               "Content-Type: text/plain\r\n\r\nok";
  ssize_t n = read(s->fds[1 + i].fd, s->buf[i] + s->len[i],
                   sizeof(s->buf[i]) - 1 - s->len[i]);
  if (n <= 0 || s->len[i] + (size_t)n >= sizeof(s->buf[i]) - 1) {
    close(s->fds[1 + i].fd);
    s->fds[1 + i].fd = -1;
    return;
  }
  s->len[i] += (size_t)n;
  s->buf[i][s->len[i]] = '\0';
  if (strstr(s->buf[i], "\r\n\r\n") == NULL)
    return; /* GETs only: a head is a whole request */
  s->len[i] = 0;
  if (write(s->fds[1 + i].fd, answer, sizeof(answer) - 1) < 0) {
    close(s->fds[1 + i].fd);
    s->fds[1 + i].fd = -1;
  }
}

/* ts_run polls until stopped or TS_LIFETIME_S have passed. */
static void *ts_run(void *ud) {
  ts_server_t *s = ud;
  time_t end = time(NULL) + TS_LIFETIME_S;
  while (!atomic_load(&s->stop) && time(NULL) < end) {
    if (poll(s->fds, 1 + TS_MAX_CLIENTS, 50) <= 0)
      continue;
    if (s->fds[0].revents & POLLIN)
      ts_accept(s);
    for (int i = 0; i < TS_MAX_CLIENTS; i++)
      if (s->fds[1 + i].fd >= 0 && s->fds[1 + i].revents != 0)
        ts_serve(s, i);
  }
  for (int i = 0; i < 1 + TS_MAX_CLIENTS; i++)
    if (s->fds[i].fd >= 0)
      close(s->fds[i].fd);
  return NULL;
}

/* ts_listen binds a TCP socket on 127.0.0.1 to a free port; with listen_too
 * it listens, else the port is left bound and refusing. Returns the fd. */
static int ts_listen(int *port, int listen_too) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  if (listen_too)
    assert_int_equal(listen(fd, 8), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static int setup_server(void **state) {
  static ts_server_t s;
  memset(&s, 0, sizeof(s));
  s.lfd = ts_listen(&s.port, 1);
  s.fds[0] = (struct pollfd){.fd = s.lfd, .events = POLLIN};
  for (int i = 0; i < TS_MAX_CLIENTS; i++)
    s.fds[1 + i] = (struct pollfd){.fd = -1, .events = POLLIN};
  assert_int_equal(pthread_create(&s.thread, NULL, ts_run, &s), 0);
  *state = &s;
  return 0;
}

static int teardown_server(void **state) {
  ts_server_t *s = *state;
  atomic_store(&s->stop, 1);
  return pthread_join(s->thread, NULL) == 0 ? 0 : -1;
}

/* get performs a GET of url with c; returns qf_http_perform's result and
 * checks a success got the server's answer. */
static int get(qf_http_client_t *c, const char *url) {
  qf_http_request_t req = {.url = url, .timeout_ms = 3000};
  qf_http_response_t resp = {0};
  int rc = qf_http_perform(c, &req, &resp);
  if (rc == 0) {
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body.data, "ok");
  } else {
    assert_int_equal(resp.status, 0);
    assert_true(resp.error[0] != '\0');
  }
  qf_http_response_free(&resp);
  return rc;
}

/* Successes share one keep-alive connection; a failed transfer (here: a
 * refused connection elsewhere) closes every connection the client keeps,
 * so the next request connects afresh and keep-alive resumes after it.
 * (libcurl itself keeps a TLS connection whose write failed with EPIPE,
 * whose reuse gave "bad write retry": the rule covers every failure.) */
static void test_http_reuse_after_success_not_after_failure(void **state) {
  ts_server_t *s = *state;
  char url[64], refused[64];
  int port;
  int rfd = ts_listen(&port, 0); /* bound, not listening: refuses */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s->port);
  snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/x", port);
  qf_http_client_t c;
  assert_int_equal(qf_http_client_init(&c, "qf-unit"), 0);
  assert_int_equal(get(&c, url), 0);
  assert_int_equal(get(&c, url), 0);
  assert_int_equal(atomic_load(&s->accepts), 1); /* reused */
  assert_int_equal(get(&c, refused), -EIO);
  assert_int_equal(get(&c, url), 0);
  assert_int_equal(atomic_load(&s->accepts), 2); /* not reused */
  assert_int_equal(get(&c, url), 0);
  assert_int_equal(atomic_load(&s->accepts), 2); /* reused again */
  qf_http_client_destroy(&c);
  close(rfd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_http_reuse_after_success_not_after_failure, setup_server,
          teardown_server),
  };
  assert_int_equal(qf_http_global_init(), 0);
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return failed;
}
