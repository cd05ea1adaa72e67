/* collectd_reader.c: the thread that reads collectd (see collectd_reader.h). */
#include "collectd_reader.h"
#include "qf_buf.h"
#include "qf_cond.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* How a stopping reader is woken from a blocked read: a signal whose
 * handler does nothing, installed without SA_RESTART, so the read fails
 * with EINTR; repeated because one sent just before the read is lost. */
#define RD_SIGNAL SIGUSR1
#define RD_KICK_MS 50
#define RD_KICK_MAX 100 /* 5 s, then the thread is left behind */

bool qfx_reader_hung(double attempt_mono, double now, long period_ms) {
  double limit = 3.0 * (double)period_ms / 1000.0;
  if (limit < 1.0)
    limit = 1.0;
  return attempt_mono > 0.0 && now - attempt_mono > limit;
}

int qfx_reader_init(qfx_reader_t *r, const char *socket_path, const char *host,
                    long period_ms) {
  memset(r, 0, sizeof(*r));
  r->host = host;
  r->period_ms = period_ms;
  qfx_resources_init(&r->state.res);
  int rc = qfx_source_init(&r->source, socket_path);
  if (rc != 0)
    return rc;
  rc = qf_mono_locks_init(&r->lock, &r->wake);
  r->locks_ready = rc == 0;
  return rc;
}

/* crd_attempt reads collectd once (the lock not held: this may block) and
 * records the outcome. The caller holds the lock; it is held again on
 * return. */
static void crd_attempt(qfx_reader_t *r) {
  qfx_resources_t res;
  r->state.attempt_mono = qf_mono_s();
  pthread_mutex_unlock(&r->lock);
  int rc = qfx_source_read(&r->source, r->host, &res);
  double wall = qf_clock_s(CLOCK_REALTIME), mono = qf_mono_s();
  pthread_mutex_lock(&r->lock);
  r->state.attempt_mono = 0.0;
  r->state.ok = rc == 0;
  r->state.done++;
  if (rc == 0) {
    r->state.res = res;
    r->state.last_ok = wall;
    r->state.last_ok_mono = mono;
    r->state.error[0] = '\0';
  } else {
    qf_strcpy(r->state.error, sizeof(r->state.error), r->source.error);
  }
  pthread_cond_broadcast(&r->wake); /* qfx_reader_wait */
}

/* crd_thread reads every period until told to stop. */
static void *crd_thread(void *arg) {
  qfx_reader_t *r = arg;
  struct timespec next;
  pthread_mutex_lock(&r->lock);
  while (!r->stop) {
    qf_mono_after(&next, r->period_ms);
    crd_attempt(r);
    while (!r->stop &&
           pthread_cond_timedwait(&r->wake, &r->lock, &next) != ETIMEDOUT)
      ;
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

/* crd_interrupt is the handler of RD_SIGNAL: its only effect is EINTR. */
static void crd_interrupt(int sig) { (void)sig; }

int qfx_reader_start(qfx_reader_t *r, char *err, size_t errlen) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = crd_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: a blocked read must fail */
  int rc = sigaction(RD_SIGNAL, &sa, NULL) == 0 ? 0 : errno;
  if (rc == 0)
    rc = pthread_create(&r->thread, NULL, crd_thread, r);
  if (rc != 0) {
    qf_err(err, errlen, "starting the collectd reader thread: %s",
           strerror(rc));
    return -rc;
  }
  r->started = true;
  return 0;
}

bool qfx_reader_wait(qfx_reader_t *r, long timeout_ms) {
  struct timespec until;
  qf_mono_after(&until, timeout_ms);
  pthread_mutex_lock(&r->lock);
  while (r->state.done == 0 &&
         pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
    ;
  bool done = r->state.done > 0;
  pthread_mutex_unlock(&r->lock);
  return done;
}

void qfx_reader_get(qfx_reader_t *r, qfx_reading_t *out) {
  pthread_mutex_lock(&r->lock);
  *out = r->state;
  pthread_mutex_unlock(&r->lock);
}

/* crd_stop tells the thread to stop and interrupts a blocked read until it
 * has; false when it did not stop within RD_KICK_MAX tries. */
static bool crd_stop(qfx_reader_t *r) {
  pthread_mutex_lock(&r->lock);
  r->stop = true;
  pthread_cond_broadcast(&r->wake);
  pthread_mutex_unlock(&r->lock);
  for (int i = 0; i < RD_KICK_MAX; i++) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += RD_KICK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(r->thread, NULL, &until) == 0)
      return true;
    pthread_kill(r->thread, RD_SIGNAL);
  }
  return false;
}

void qfx_reader_destroy(qfx_reader_t *r) {
  if (r->started && !crd_stop(r)) {
    /* Still blocked after every interruption: leave the thread (and what
     * it uses) to the process's exit rather than free it under it. */
    pthread_detach(r->thread);
    return;
  }
  r->started = false;
  qfx_source_destroy(&r->source);
  if (r->locks_ready) {
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
  }
  r->locks_ready = false;
}
