/* cache.h: the refresh thread and the immutable sets of rendered responses
 * that requests serve from. */
#ifndef QFX_CACHE_H
#define QFX_CACHE_H

#include "response.h"
#include "opts.h"
#include "project.h"
#include "qf_json.h"
#include "qf_snapshot.h"
#include "collectd_reader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* The bodies rendered at every refresh. */
enum {
  QFX_B_HEALTH,
  QFX_B_STATUS,
  QFX_B_AGENT_STATUS,
  QFX_B_METRICS,      /* JSON */
  QFX_B_METRICS_PROM, /* Prometheus text 0.0.4 */
  QFX_B_METRICS_OM,   /* OpenMetrics 1.0 */
  QFX_B_N
};

/* A set is immutable once published; a request holds a reference from
 * qfx_cache_acquire until qfx_set_release. */
typedef struct qfx_set_s {
  atomic_int refs;
  qfx_response_t bodies[QFX_B_N];
  qfx_project_t *project; /* a reference: shared while project.json stays */
} qfx_set_t;

typedef struct qfx_cache_s {
  const qfx_opts_t *opts;
  qfx_headers_t headers;
  char cache_control[48];
  qfx_reader_t reader; /* collectd, read in its own thread */
  qf_snapshot_t agents, project_snap, heartbeat, anomalies;
  char snap_logged[4][300];                 /* last error logged per snapshot */
  char swarm_id[QF_SWARM_ID_MAX + 1];       /* served; "" until known */
  char swarm_file[QF_SWARM_ID_MAX + 1];     /* StateDir/swarm_id, "" unread */
  char swarm_conflict[QF_SWARM_ID_MAX + 1]; /* heartbeat's id logged as
                                             * disagreeing, "" none */
  bool swarm_logged; /* reading StateDir/swarm_id failed, logged once */
  char hostname[256], platform[64];
  qfx_project_t *project; /* built from the last good project.json */
  /* what is served: project with the issues of agents the anomaly
   * detectors hold stuck or looping among those needing a human
   * (qfx_project_overlay), or another reference to project */
  qfx_project_t *shown;
  char *shown_extra;     /* the entries added to shown, NULL: none */
  qfx_resources_t res;   /* the last good reading of collectd */
  double last_ok;        /* wall clock of that reading, 0: never */
  double last_ok_mono;   /* the same on the monotonic clock */
  bool connected;        /* the last reading worked and none is overdue */
  char error[400];       /* why not, for /health */
  char state_error[300]; /* why --state-dir is unusable, "" when it is */
  bool down_logged;      /* the current outage was logged */
  qf_jw_t writer;

  pthread_mutex_t lock; /* guards current and stop */
  pthread_cond_t wake;
  bool stop;
  bool locks_ready;
  bool thread_started;
  pthread_t thread;
  qfx_set_t *current;
} qfx_cache_t;

/* qfx_cache_init prepares c, starts the collectd reader, and renders the
 * first set (everything but project.json, which the refresh thread reads
 * at once when it starts) once the first reading is in or a second has
 * passed, so the first request already has data and a hung collectd does
 * not hold the start. 0 or a negative errno with a message in err. */
int qfx_cache_init(qfx_cache_t *c, const qfx_opts_t *o, char *err,
                   size_t errlen);
/* qfx_cache_start runs the refresh thread. */
int qfx_cache_start(qfx_cache_t *c, char *err, size_t errlen);
/* qfx_cache_destroy stops and joins the thread and frees everything. Sets
 * still held by requests are freed by their last release. */
void qfx_cache_destroy(qfx_cache_t *c);

/* qfx_cache_refresh reads collectd and the snapshots and publishes a new
 * set (the refresh thread calls it every --refresh ms). */
void qfx_cache_refresh(qfx_cache_t *c);

/* qfx_cache_acquire returns the current set with a reference taken. */
qfx_set_t *qfx_cache_acquire(qfx_cache_t *c);
/* qfx_set_release drops a reference; the last one frees the set. */
void qfx_set_release(qfx_set_t *s);

#endif
