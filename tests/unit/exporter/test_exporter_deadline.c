/* Unit tests for the server's protections that need no network: the
 * request deadline's bookkeeping (deadline.c), the folding of libmicrohttpd's
 * repeated messages (server.c) and when a collectd reading counts as hung
 * (collectd_reader.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "deadline.h"
#include "server.h"
#include "collectd_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sockets qfx_deadline_sweep shut, recorded instead of shut down. */
static int shut_fds[16];
static size_t shut_n;

static void record_shut(int fd) {
  assert_true(shut_n < 16);
  shut_fds[shut_n++] = fd;
}

/* sweep runs a sweep at now and returns a bit per shut fd (fd < 32). */
static unsigned sweep(qfx_deadline_t *g, double now) {
  shut_n = 0;
  size_t n = qfx_deadline_sweep(g, now, record_shut);
  assert_int_equal(n, shut_n);
  unsigned bits = 0;
  for (size_t i = 0; i < shut_n; i++)
    bits |= 1u << shut_fds[i];
  return bits;
}

static void test_deadlines(void **state) {
  (void)state; /* unused */
  qfx_deadline_t g;
  assert_int_equal(qfx_deadline_init(&g, 3, 10.0), 0);
  qfx_deadline_slot_t *a = qfx_deadline_open(&g, 5, 0.0);
  qfx_deadline_slot_t *b = qfx_deadline_open(&g, 6, 0.0);
  qfx_deadline_slot_t *c = qfx_deadline_open(&g, 7, 1.0);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_null(qfx_deadline_open(&g, 8, 1.0)); /* full: untracked */
  assert_int_equal(sweep(&g, 9.9), 0);
  qfx_deadline_answered(&g, b); /* b sent a request in time */
  assert_int_equal(sweep(&g, 10.0), 1u << 5);
  assert_int_equal(sweep(&g, 10.5), 0); /* shut once, not again */
  assert_int_equal(sweep(&g, 11.0), 1u << 7);
  /* b's answer went out at 20: its next request is due by 30. */
  qfx_deadline_done(&g, b, 20.0);
  assert_int_equal(sweep(&g, 29.0), 0);
  assert_int_equal(sweep(&g, 30.0), 1u << 6);
  assert_int_equal(atomic_load(&g.timed_out), 3);
  /* Closed slots are reused. */
  qfx_deadline_close(&g, a);
  qfx_deadline_close(&g, c);
  qfx_deadline_slot_t *d = qfx_deadline_open(&g, 9, 40.0);
  qfx_deadline_slot_t *e = qfx_deadline_open(&g, 4, 40.0);
  assert_non_null(d);
  assert_non_null(e);
  assert_null(qfx_deadline_open(&g, 3, 40.0));
  assert_int_equal(sweep(&g, 50.0), (1u << 9) | (1u << 4));
  /* Untracked connections are ignored everywhere. */
  qfx_deadline_answered(&g, NULL);
  qfx_deadline_done(&g, NULL, 0.0);
  qfx_deadline_close(&g, NULL);
  qfx_deadline_destroy(&g);
}

/* captured runs lines through a fresh qfx_mhdlog_t at the given times and
 * returns what it wrote to stderr (the caller frees it). */
static char *captured(const char *const *lines, const double *times, size_t n) {
  char path[] = "/tmp/qfx-mhdlog-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  fflush(stderr);
  int saved = dup(2);
  assert_int_equal(dup2(fd, 2), 2);
  qfx_mhdlog_t l;
  memset(&l, 0, sizeof(l));
  assert_int_equal(pthread_mutex_init(&l.lock, NULL), 0);
  for (size_t i = 0; i < n; i++)
    qfx_mhdlog_line(&l, lines[i], times[i]);
  fflush(stderr);
  pthread_mutex_destroy(&l.lock);
  dup2(saved, 2);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  char *text = calloc(1, (size_t)size + 1);
  assert_int_equal(pread(fd, text, (size_t)size, 0), size);
  close(fd);
  return text;
}

static size_t count(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

static void test_mhd_messages_fold(void **state) {
  (void)state; /* unused */
  /* Two messages alternating 1000 times within a minute, as a flood of
   * refused connections produces, then both again after the minute. */
  enum { N = 2004 };
  static const char *lines[N];
  static double times[N];
  for (size_t i = 0; i < 2000; i++) {
    lines[i] = i % 2 ? "Server reached connection limit." : "Closing.";
    times[i] = 100.0 + (double)i * 0.01;
  }
  lines[2000] = "Closing.";
  times[2000] = 170.0;
  lines[2001] = "Server reached connection limit.";
  times[2001] = 170.0;
  lines[2002] = "Something else.";
  times[2002] = 170.5;
  lines[2003] = "Closing.";
  times[2003] = 171.0;
  char *text = captured(lines, times, N);
  assert_int_equal(count(text, "\n"), 7);
  assert_int_equal(count(text, "libmicrohttpd: Closing.\n"), 2);
  assert_int_equal(count(text, "(999 more time(s) in 70 s: Closing.)"), 1);
  assert_int_equal(count(text, "(999 more time(s) in 70 s: Server reached"), 1);
  assert_int_equal(count(text, "libmicrohttpd: Something else."), 1);
  free(text);
}

static void test_reader_hung(void **state) {
  (void)state; /* unused */
  static const struct {
    double attempt, now;
    long period_ms;
    bool hung;
  } cases[] = {
      {0.0, 100.0, 200, false},   /* no reading under way */
      {99.5, 100.0, 200, false},  /* 0.5 s: under the 1 s floor */
      {98.9, 100.0, 200, true},   /* 1.1 s */
      {97.5, 100.0, 1000, false}, /* 2.5 s of 3 periods */
      {96.9, 100.0, 1000, true},  /* 3.1 s */
      {-1.0, 100.0, 1000, false}, /* nonsense: no reading */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_reader_hung(cases[i].attempt, cases[i].now, cases[i].period_ms) !=
        cases[i].hung)
      fail_msg("case %zu", i);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_mhd_messages_fold),
      cmocka_unit_test(test_reader_hung),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
