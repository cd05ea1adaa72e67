/* qf_cond.c: see qf_cond.h. */
#include "qf_cond.h"

#include <math.h>

double qf_clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double qf_mono_s(void) { return qf_clock_s(CLOCK_MONOTONIC); }

void qf_timespec_add_ms(struct timespec *ts, long ms) {
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

void qf_mono_after(struct timespec *ts, long ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  qf_timespec_add_ms(ts, ms);
}

void qf_timespec_from_s(double t, struct timespec *ts) {
  double whole = floor(t);
  ts->tv_sec = (time_t)whole;
  ts->tv_nsec = (long)((t - whole) * 1e9);
}

int qf_cond_init_mono(pthread_cond_t *c) {
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc != 0)
    return -rc;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(c, &attr);
  pthread_condattr_destroy(&attr);
  return -rc;
}

int qf_mono_locks_init(pthread_mutex_t *m, pthread_cond_t *c) {
  int rc = qf_cond_init_mono(c);
  if (rc != 0)
    return rc;
  rc = pthread_mutex_init(m, NULL);
  if (rc != 0)
    pthread_cond_destroy(c);
  return -rc;
}
