/* collectd_reader.h: collectd is read in a thread of its own. libcollectdclient
 * has no timeout: a collectd that is stopped (SIGSTOP) or whose socket thread
 * hangs leaves a LISTVAL or GETVAL blocked for as long as that lasts. Only
 * this thread waits then; the refresh thread keeps rendering from the
 * last reading and sees from the attempt's start time that collectd is
 * not answering. */
#ifndef QFX_COLLECTD_READER_H
#define QFX_COLLECTD_READER_H

#include "collectd_source.h"
#include "collectd_values.h"

#include <pthread.h>
#include <stdbool.h>

/* What the reader knows; copied out under its lock. */
typedef struct qfx_reading_s {
  qfx_resources_t res; /* the last good reading */
  double last_ok;      /* wall clock of it, 0: never */
  double last_ok_mono; /* the same on the monotonic clock */
  bool ok;             /* the last finished attempt succeeded */
  unsigned long done;  /* attempts finished */
  double attempt_mono; /* when the attempt under way started, 0: none */
  char error[300];     /* why the last attempt failed, "" after success */
} qfx_reading_t;

typedef struct qfx_reader_s {
  qfx_source_t source; /* the thread's own connection */
  const char *host;    /* the --host preference, "" for automatic */
  long period_ms;
  pthread_mutex_t lock; /* guards state and stop */
  pthread_cond_t wake;  /* the thread's sleep; waiters for a reading */
  bool locks_ready, started, stop;
  pthread_t thread;
  qfx_reading_t state;
} qfx_reader_t;

/* qfx_reader_init prepares a reader of socket_path (no I/O, no thread).
 * host must outlive the reader. 0 or a negative errno. */
int qfx_reader_init(qfx_reader_t *r, const char *socket_path, const char *host,
                    long period_ms);
/* qfx_reader_start runs the thread: a reading at once, then one every
 * period. 0 or a negative errno with a message in err. */
int qfx_reader_start(qfx_reader_t *r, char *err, size_t errlen);
/* qfx_reader_wait waits up to timeout_ms for the first attempt to end;
 * true when it did. */
bool qfx_reader_wait(qfx_reader_t *r, long timeout_ms);
/* qfx_reader_get copies the current state into out. */
void qfx_reader_get(qfx_reader_t *r, qfx_reading_t *out);
/* qfx_reader_destroy stops the thread, interrupting a reading that hangs
 * (a signal makes its blocked system call fail with EINTR), and frees
 * the connection. */
void qfx_reader_destroy(qfx_reader_t *r);

/* qfx_reader_hung tells whether a reading that started at attempt_mono
 * (0: none under way) is overdue at now: longer than three refresh
 * periods, and at least a second. */
bool qfx_reader_hung(double attempt_mono, double now, long period_ms);

#endif
