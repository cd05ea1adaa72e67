/* deadline.h: the request deadline. libmicrohttpd's connection timeout counts
 * from the last byte received, so a client sending one byte every few
 * seconds (slowloris) would hold its connection forever. The guard tracks
 * every connection from libmicrohttpd's notifications and shuts down the
 * socket of one that has not sent a whole request within --request-timeout
 * of opening or of its previous answer; libmicrohttpd then closes it as it
 * closes any connection its peer ended. */
#ifndef QFX_DEADLINE_H
#define QFX_DEADLINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct qfx_deadline_slot_s {
  int fd;          /* -1: free */
  bool waiting;    /* no answer queued yet for the current request */
  double deadline; /* monotonic seconds; meaningful while waiting */
  long next_free;  /* the free list, -1 at its end */
} qfx_deadline_slot_t;

typedef struct qfx_deadline_s {
  pthread_mutex_t lock; /* guards the slots and stop */
  pthread_cond_t wake;
  bool locks_ready, started, stop;
  pthread_t thread;
  qfx_deadline_slot_t *slots;
  size_t nslots;
  long free_head;
  double timeout;            /* seconds a request may take to arrive */
  atomic_ulong timed_out;    /* connections shut by the deadline */
  atomic_ulong unauthorized; /* 401 answers */
  unsigned long logged_timed_out, logged_unauthorized;
  double next_report; /* monotonic: when counts are logged next */
  double next_trim;   /* monotonic: when freed heap is returned next */
} qfx_deadline_t;

/* qfx_deadline_init prepares room for nslots connections and the deadline
 * (seconds); no thread yet. 0 or a negative errno. */
int qfx_deadline_init(qfx_deadline_t *g, size_t nslots, double timeout);
/* qfx_deadline_start runs the thread that enforces the deadlines. */
int qfx_deadline_start(qfx_deadline_t *g, char *err, size_t errlen);
/* qfx_deadline_destroy stops the thread and frees the slots. */
void qfx_deadline_destroy(qfx_deadline_t *g);

/* The connection events, from libmicrohttpd's callbacks. Each takes the
 * slot qfx_deadline_open returned (NULL: untracked, ignored). */
/* qfx_deadline_open tracks a new connection on fd: its first request is due
 * by now + timeout. NULL when every slot is taken. */
qfx_deadline_slot_t *qfx_deadline_open(qfx_deadline_t *g, int fd, double now);
/* qfx_deadline_answered: an answer is queued; no deadline until it is sent. */
void qfx_deadline_answered(qfx_deadline_t *g, qfx_deadline_slot_t *s);
/* qfx_deadline_done: the answer was sent; the next request is due by
 * now + timeout. */
void qfx_deadline_done(qfx_deadline_t *g, qfx_deadline_slot_t *s, double now);
/* qfx_deadline_close forgets the connection; its socket is closed next. */
void qfx_deadline_close(qfx_deadline_t *g, qfx_deadline_slot_t *s);

/* qfx_deadline_sweep calls shut(fd) for every socket whose request is
 * overdue at now, stops its deadline and counts it; the lock is held
 * throughout, so no tracked socket is closed (and its number reused)
 * meanwhile. Returns how many. shut: shutdown(2) in the thread; a seam
 * for the unit tests. */
size_t qfx_deadline_sweep(qfx_deadline_t *g, double now, void (*shut)(int fd));

#endif
