/* deadline.c: the request deadline (see deadline.h) and a once-a-minute summary
 * of what the guard and the authentication refused, so an attack shows in
 * the log without one line per connection. */
#include "deadline.h"
#include "log.h"
#include "qf_buf.h"
#include "qf_cond.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define GD_TICK_MS 250   /* how often deadlines are checked */
#define GD_REPORT_S 60.0 /* how often refusals are summarised */
#define GD_TRIM_S 10.0   /* how often freed heap goes back to the system */

int qfx_deadline_init(qfx_deadline_t *g, size_t nslots, double timeout) {
  memset(g, 0, sizeof(*g));
  g->timeout = timeout;
  g->nslots = nslots;
  g->slots = calloc(nslots, sizeof(*g->slots));
  if (g->slots == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < nslots; i++) {
    g->slots[i].fd = -1;
    g->slots[i].next_free = i + 1 < nslots ? (long)(i + 1) : -1;
  }
  g->free_head = nslots > 0 ? 0 : -1;
  atomic_init(&g->timed_out, 0);
  atomic_init(&g->unauthorized, 0);
  int rc = qf_mono_locks_init(&g->lock, &g->wake);
  g->locks_ready = rc == 0;
  return rc;
}

qfx_deadline_slot_t *qfx_deadline_open(qfx_deadline_t *g, int fd, double now) {
  qfx_deadline_slot_t *s = NULL;
  pthread_mutex_lock(&g->lock);
  if (g->free_head >= 0) {
    s = &g->slots[g->free_head];
    g->free_head = s->next_free;
    s->fd = fd;
    s->waiting = true;
    s->deadline = now + g->timeout;
  }
  pthread_mutex_unlock(&g->lock);
  return s;
}

void qfx_deadline_answered(qfx_deadline_t *g, qfx_deadline_slot_t *s) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&g->lock);
  s->waiting = false;
  pthread_mutex_unlock(&g->lock);
}

void qfx_deadline_done(qfx_deadline_t *g, qfx_deadline_slot_t *s, double now) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&g->lock);
  s->waiting = true;
  s->deadline = now + g->timeout;
  pthread_mutex_unlock(&g->lock);
}

void qfx_deadline_close(qfx_deadline_t *g, qfx_deadline_slot_t *s) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&g->lock);
  s->fd = -1;
  s->waiting = false;
  s->next_free = g->free_head;
  g->free_head = s - g->slots;
  pthread_mutex_unlock(&g->lock);
}

size_t qfx_deadline_sweep(qfx_deadline_t *g, double now, void (*shut)(int fd)) {
  size_t n = 0;
  pthread_mutex_lock(&g->lock);
  for (size_t i = 0; i < g->nslots; i++) {
    qfx_deadline_slot_t *s = &g->slots[i];
    if (s->fd < 0 || !s->waiting || now < s->deadline)
      continue;
    /* The socket stays open until libmicrohttpd's "closed" notification,
     * which needs this lock: shutting it down here cannot hit a reused
     * descriptor. */
    shut(s->fd);
    s->waiting = false;
    n++;
  }
  pthread_mutex_unlock(&g->lock);
  atomic_fetch_add_explicit(&g->timed_out, n, memory_order_relaxed);
  return n;
}

/* gd_shutdown ends both directions: libmicrohttpd reads the end of the
 * stream and closes the connection itself. */
static void gd_shutdown(int fd) { shutdown(fd, SHUT_RDWR); }

/* gd_report logs what was refused since the last report, at most once a
 * minute and only when something was. */
static void gd_report(qfx_deadline_t *g, double now) {
  if (now < g->next_report)
    return;
  g->next_report = now + GD_REPORT_S;
  unsigned long t = atomic_load(&g->timed_out);
  unsigned long u = atomic_load(&g->unauthorized);
  if (t != g->logged_timed_out)
    QFX_NOTICE("closed %lu connection(s) that sent no whole request within "
               "%.0f s (--request-timeout) in the last minute; %lu since "
               "start",
               t - g->logged_timed_out, g->timeout, t);
  if (u != g->logged_unauthorized)
    QFX_NOTICE("answered 401 to %lu request(s) without a valid bearer token "
               "in the last minute; %lu since start",
               u - g->logged_unauthorized, u);
  g->logged_timed_out = t;
  g->logged_unauthorized = u;
}

/* gd_thread checks the deadlines every tick until told to stop. */
static void *gd_thread(void *arg) {
  qfx_deadline_t *g = arg;
  struct timespec next;
  pthread_mutex_lock(&g->lock);
  while (!g->stop) {
    qf_mono_after(&next, GD_TICK_MS);
    while (!g->stop &&
           pthread_cond_timedwait(&g->wake, &g->lock, &next) != ETIMEDOUT)
      ;
    if (g->stop)
      break;
    pthread_mutex_unlock(&g->lock);
    double now = qf_mono_s();
    qfx_deadline_sweep(g, now, gd_shutdown);
    gd_report(g, now);
    if (now >= g->next_trim) {
      /* Connections come and go in the workers' malloc arenas (a request
       * pool each); glibc keeps what they freed resident unless asked.
       * A few ms every 10 s keep the resident size that of live data. */
      g->next_trim = now + GD_TRIM_S;
      malloc_trim(0);
    }
    pthread_mutex_lock(&g->lock);
  }
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

int qfx_deadline_start(qfx_deadline_t *g, char *err, size_t errlen) {
  g->next_report = qf_mono_s() + GD_REPORT_S;
  int rc = pthread_create(&g->thread, NULL, gd_thread, g);
  if (rc != 0) {
    qf_err(err, errlen, "starting the request deadline thread: %s",
           strerror(rc));
    return -rc;
  }
  g->started = true;
  return 0;
}

void qfx_deadline_destroy(qfx_deadline_t *g) {
  if (g->started) {
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    g->started = false;
  }
  if (g->locks_ready) {
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
  }
  free(g->slots);
  memset(g, 0, sizeof(*g));
}
