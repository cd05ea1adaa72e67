/* logbook.h: what a backend step logged (the logger hb_env_t calls), kept
 * for the tests that count lines, and the monotonic clock those steps
 * take. Shared by test_heartbeat_budget.c and test_heartbeat_target.c. */
#ifndef HB_LOGBOOK_H
#define HB_LOGBOOK_H

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The last 16 lines logged (1 KB each at most). */
typedef struct logbook_s {
  char lines[16][1024];
  int n;
} logbook_t;

static void book(void *ud, int severity, const char *msg) {
  (void)severity;
  logbook_t *l = ud;
  if (l->n < 16)
    snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s", msg);
}

static int count_lines(const logbook_t *l, const char *needle) {
  int n = 0;
  for (int i = 0; i < l->n; i++)
    n += strstr(l->lines[i], needle) != NULL;
  return n;
}

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
