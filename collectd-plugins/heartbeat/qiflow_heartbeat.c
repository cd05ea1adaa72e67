/**
 * qiflow_heartbeat.c: collectd write + notification plugin that delivers
 * the swarm's heartbeat to the central backend(s) every Interval, keeps the
 * daily JSON-lines log, spools what it cannot deliver (durably, replayed in
 * order and paced) and forwards notifications to webhooks.
 *
 * collectd's threads only touch the plugin through the write and
 * notification callbacks, which copy a value or a notification under the
 * lock and return. A sender thread of our own assembles, logs, spools and
 * delivers, so a slow or dead backend never blocks collectd.
 *
 * The logic lives in heartbeat_*.c (no collectd symbol, unit tested); this
 * file is the glue: config, callbacks, the sender thread, dispatch, logging.
 **/

#include "collectd.h"

#include "cmd.h"
#include "plugin.h"
#include "utils/common/common.h"
#include "utils_complain.h"
#include "utils_time.h"

#include "heartbeat_body.h"
#include "heartbeat_config.h"
#include "heartbeat_log.h"
#include "heartbeat_metrics.h"
#include "heartbeat_project.h"
#include "heartbeat_seq.h"
#include "heartbeat_snapshot.h"
#include "heartbeat_target.h"
#include "heartbeat_webhook.h"
#include "plugin_config.h"
#include "qf_buf.h"
#include "qf_cond.h"
#include "qf_file.h"
#include "qf_http.h"
#include "qf_json.h"
#include "qf_snapshot.h"
#include "qf_swarm.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define HP_PLUGIN "qiflow_heartbeat"

#ifndef HP_DEFAULT_LOG_DIR
#define HP_DEFAULT_LOG_DIR "/var/log/qiflow"
#endif
#define HP_DEFAULT_INTERVAL 60.0
#define HP_DEFAULT_RETENTION 14
#define HP_SPOOL_SUBDIR "heartbeat_spool"
#define HP_USER_AGENT                                                          \
  "qiflow-heartbeat/" QF_VERSION " collectd/" PACKAGE_VERSION
/* The one-shot check waits at most this long for cpu, memory and disk. */
#define HP_ONESHOT_WAIT 30.0
#define HP_OFFLINE_TIMEOUT 2.0 /* seconds for the stopping heartbeat */
#define HP_FIRST_POLL 0.25     /* seconds between looks for the first figures */

typedef struct hp_ctx_s {
  /* configuration */
  char *swarm_id_cfg, *state_dir, *log_dir;
  double interval;
  int retention_days;
  bool one_shot;
  hb_targets_t tg; /* the <Backend> and <Webhook> blocks */
  /* set at init */
  char swarm_id[QF_SWARM_ID_MAX + 1];
  char platform[64];
  double max_age; /* values older than this are not reported */
  /* shared with collectd's threads, under lock */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  hb_metrics_t metrics;
  bool wake; /* the sender looks now (a queued notification, the stop) */
  /* the sender thread's own */
  pthread_t thread;
  bool thread_started;
  qf_http_client_t http;
  qf_snapshot_t agents_snap, project_snap, anomalies_snap;
  hb_project_t project; /* what the heartbeat needs of project.json */
  char agents_warned[256], project_warned[256]; /* last broken-file warning */
  char anomalies_warned[256];
  long log_day;
  bool log_failing;
  int one_shot_status; /* 0: delivered everywhere */
} hp_ctx_t;

static hp_ctx_t hp = {
    .interval = HP_DEFAULT_INTERVAL,
    .retention_days = HP_DEFAULT_RETENTION,
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

/* hp_log is the pure files' logger: their lines, with our prefix. */
static void hp_log(void *ud, int severity, const char *msg) {
  (void)ud;
  plugin_log(severity, HP_PLUGIN " plugin: %s", msg);
}

static const hb_logger_t hp_logger = {.fn = hp_log, .ud = NULL};

/* ------------------------------------------------------------ config */

/* hp_get_number reads a number > 0 (or >= 0 when zero_ok). */
static int hp_get_number(oconfig_item_t *ci, double *out, bool zero_ok) {
  return qf_plugin_get_number(HP_PLUGIN, ci, 0, !zero_ok, INFINITY, out);
}

/* hp_get_count reads a whole number in [min, max]. */
static int hp_get_count(oconfig_item_t *ci, int *out, int min, int max) {
  return qf_plugin_get_int(HP_PLUGIN, ci, min, max, out);
}

/* hp_cfg_view lends the oconfig item ci to heartbeat_config.c as an
 * hb_cfg_item_t: the strings stay collectd's, the arrays are new and freed
 * by hp_cfg_view_free (also after a failure). */
static int hp_cfg_view(const oconfig_item_t *ci, hb_cfg_item_t *out) {
  *out = (hb_cfg_item_t){.key = ci->key};
  out->values = calloc((size_t)ci->values_num + 1, sizeof(*out->values));
  out->children = calloc((size_t)ci->children_num + 1, sizeof(*out->children));
  if (out->values == NULL || out->children == NULL)
    return -1;
  for (int i = 0; i < ci->values_num; i++) {
    const oconfig_value_t *v = ci->values + i;
    hb_cfg_value_t *o = out->values + out->n_values++;
    if (v->type == OCONFIG_TYPE_STRING)
      *o = (hb_cfg_value_t){.type = HB_CFG_STRING, .string = v->value.string};
    else if (v->type == OCONFIG_TYPE_NUMBER)
      *o = (hb_cfg_value_t){.type = HB_CFG_NUMBER, .number = v->value.number};
    else
      *o = (hb_cfg_value_t){.type = HB_CFG_BOOLEAN,
                            .boolean = v->value.boolean != 0};
  }
  for (int i = 0; i < ci->children_num; i++)
    if (hp_cfg_view(ci->children + i, out->children + out->n_children++) != 0)
      return -1;
  return 0;
}

/* hp_cfg_view_free frees what hp_cfg_view made. */
static void hp_cfg_view_free(hb_cfg_item_t *item) {
  for (size_t i = 0; item->children != NULL && i < item->n_children; i++)
    hp_cfg_view_free(item->children + i);
  free(item->values);
  free(item->children);
}

/* hp_config_target hands a <Backend> or <Webhook> block to parse. */
static int hp_config_target(oconfig_item_t *ci,
                            int (*parse)(hb_targets_t *t,
                                         const hb_cfg_item_t *ci,
                                         const hb_logger_t *log)) {
  hb_cfg_item_t item;
  int status = hp_cfg_view(ci, &item);
  if (status != 0)
    ERROR(HP_PLUGIN " plugin: <%s>: out of memory", ci->key);
  else
    status = parse(&hp.tg, &item, &hp_logger);
  hp_cfg_view_free(&item);
  return status;
}

/* hp_config handles a <Plugin qiflow_heartbeat> block; several blocks
 * add up (the one-shot check appends one with OneShot true). */
static int hp_config(oconfig_item_t *ci) {
  int status = 0;
  for (int i = 0; i < ci->children_num && status == 0; i++) {
    oconfig_item_t *c = ci->children + i;
    if (strcasecmp("SwarmID", c->key) == 0)
      status = cf_util_get_string(c, &hp.swarm_id_cfg);
    else if (strcasecmp("Interval", c->key) == 0)
      status = hp_get_number(c, &hp.interval, false);
    else if (strcasecmp("StateDir", c->key) == 0)
      status = cf_util_get_string(c, &hp.state_dir);
    else if (strcasecmp("LogDir", c->key) == 0)
      status = cf_util_get_string(c, &hp.log_dir);
    else if (strcasecmp("LogRetentionDays", c->key) == 0)
      status = hp_get_count(c, &hp.retention_days, 0, 36500);
    else if (strcasecmp("OneShot", c->key) == 0)
      status = cf_util_get_boolean(c, &hp.one_shot);
    else if (strcasecmp("Backend", c->key) == 0)
      status = hp_config_target(c, hb_config_backend);
    else if (strcasecmp("Webhook", c->key) == 0)
      status = hp_config_target(c, hb_config_webhook);
    else {
      static const char *const known[] = {
          "SwarmID", "Interval", "StateDir", "LogDir", "LogRetentionDays",
          "OneShot", "Backend",  "Webhook",  NULL};
      qf_plugin_unknown(HP_PLUGIN, "<Plugin " HP_PLUGIN ">", c->key, known);
      status = -1;
    }
  }
  return status;
}

/* ------------------------------------------------------------ callbacks */

/* hp_write keeps the latest value of each metric a heartbeat reports; the
 * lock is held only to copy it in. */
static int hp_write(const data_set_t *ds, const value_list_t *vl,
                    user_data_t *ud) {
  (void)ud;
  if (!hb_metrics_wanted(vl->plugin))
    return 0;
  double t = CDTIME_T_TO_DOUBLE(vl->time);
  for (size_t i = 0; i < ds->ds_num && i < vl->values_len; i++) {
    char key[HB_METRIC_KEY_MAX];
    double v;
    switch (ds->ds[i].type) {
    case DS_TYPE_GAUGE:
      v = vl->values[i].gauge;
      break;
    case DS_TYPE_DERIVE:
      v = (double)vl->values[i].derive;
      break;
    case DS_TYPE_COUNTER:
      v = (double)vl->values[i].counter;
      break;
    default:
      v = (double)vl->values[i].absolute;
      break;
    }
    if (hb_metrics_key(key, sizeof(key), vl->plugin, vl->plugin_instance,
                       vl->type, vl->type_instance, ds->ds[i].name,
                       ds->ds_num) != 0)
      continue;
    pthread_mutex_lock(&hp.lock);
    int status =
        hp.metrics.slots != NULL ? hb_metrics_set(&hp.metrics, key, v, t) : 0;
    pthread_mutex_unlock(&hp.lock);
    static c_complain_t full = C_COMPLAIN_INIT_STATIC;
    if (status == -ENOSPC)
      c_complain_once(LOG_WARNING, &full,
                      HP_PLUGIN " plugin: more than %d metrics; \"%s\" and "
                                "later new ones are not kept",
                      HB_METRICS_MAX, key);
  }
  return 0;
}

/* hp_notify queues a copy of the notification for each webhook whose
 * MinSeverity it meets; the sender thread posts it. */
static int hp_notify(const notification_t *n, user_data_t *ud) {
  (void)ud;
  hb_note_t note = {.severity = n->severity,
                    .time = CDTIME_T_TO_DOUBLE(n->time)};
  sstrncpy(note.host, n->host, sizeof(note.host));
  sstrncpy(note.plugin, n->plugin, sizeof(note.plugin));
  sstrncpy(note.plugin_instance, n->plugin_instance,
           sizeof(note.plugin_instance));
  sstrncpy(note.type, n->type, sizeof(note.type));
  sstrncpy(note.type_instance, n->type_instance, sizeof(note.type_instance));
  sstrncpy(note.message, n->message, sizeof(note.message));
  if (note.time <= 0)
    note.time = CDTIME_T_TO_DOUBLE(cdtime());
  size_t dropped = 0;
  bool queued = false;
  pthread_mutex_lock(&hp.lock);
  for (size_t i = 0; i < hp.tg.n_webhooks && !hp.one_shot; i++) {
    hb_webhook_t *w = hp.tg.webhooks[i];
    if (!hb_severity_passes(note.severity, w->min_severity))
      continue;
    dropped += hb_webhook_push(w, &note) ? 1 : 0;
    queued = true;
  }
  if (queued) {
    hp.wake = true;
    pthread_cond_signal(&hp.cond);
  }
  pthread_mutex_unlock(&hp.lock);
  if (dropped > 0)
    WARNING(HP_PLUGIN " plugin: a webhook queue was full; its oldest "
                      "notification was dropped (%zu %s)",
            dropped, hb_plural(dropped, "queue", "queues"));
  return 0;
}

/* ------------------------------------------------------------ sender */

static atomic_bool hp_stopping;

/* hp_abort tells a request in flight to give up: the plugin is stopping. */
static int hp_abort(void *ud) {
  (void)ud;
  return atomic_load(&hp_stopping) ? 1 : 0;
}

/* hp_wait_until sleeps until the monotonic time t, a wake-up (queued
 * notification) or the stop. */
static void hp_wait_until(double t) {
  struct timespec ts;
  qf_timespec_from_s(t, &ts);
  pthread_mutex_lock(&hp.lock);
  while (!atomic_load(&hp_stopping) && !hp.wake && qf_mono_s() < t)
    pthread_cond_timedwait(&hp.cond, &hp.lock, &ts);
  hp.wake = false;
  pthread_mutex_unlock(&hp.lock);
}

/* hp_env is what the pure delivery steps need from the plugin. */
static hb_env_t hp_env(bool abortable) {
  return (hb_env_t){.swarm_id = hp.swarm_id,
                    .http = &hp.http,
                    .abort_cb = abortable ? hp_abort : NULL,
                    .abort_ud = NULL,
                    .log = hp_logger};
}

/* hp_snapshot_warn warns once per change of a broken snapshot (status
 * from a refresh), and forgets the warning once the file is fine. */
static void hp_snapshot_warn(const qf_snapshot_t *s, int status, char *warned,
                             size_t warnedlen) {
  if (status < 0 && strcmp(warned, s->error) != 0) {
    WARNING(HP_PLUGIN " plugin: %s", s->error[0] ? s->error : s->path);
    qf_strcpy(warned, warnedlen, s->error);
  } else if (status >= 0) {
    warned[0] = '\0';
  }
}

/* hp_refresh_snapshot reloads one snapshot when it changed; a broken file
 * is warned about once per change and the last good document is kept. */
static yajl_val hp_refresh_snapshot(qf_snapshot_t *s, char *warned,
                                    size_t warnedlen) {
  hp_snapshot_warn(s, qf_snapshot_refresh(s), warned, warnedlen);
  return s->doc;
}

/* hp_refresh_project reloads project.json when it changed, reading only
 * what the heartbeat lists (hb_project_refresh: the head and the first
 * flagged issues), never the whole tree. A broken file keeps the last good
 * data and is warned about once; a vanished one means no data, as for the
 * other snapshots. NULL: no data yet. */
static const hb_project_t *hp_refresh_project(void) {
  int status = hb_project_refresh(&hp.project, &hp.project_snap);
  hp_snapshot_warn(&hp.project_snap, status, hp.project_warned,
                   sizeof(hp.project_warned));
  return hp.project.doc != NULL ? &hp.project : NULL;
}

/* hp_figures copies the figures out of the metrics table. */
static void hp_figures(hb_figures_t *f) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  pthread_mutex_lock(&hp.lock);
  hb_figures_extract(&hp.metrics, now, hp.max_age, f);
  pthread_mutex_unlock(&hp.lock);
}

/* hp_build assembles one heartbeat with a new id into *body (caller
 * frees). */
static int hp_build(bool offline, time_t now, long long *id, char **body,
                    size_t *len) {
  hb_figures_t fig;
  hp_figures(&fig);
  long long floor_id = 0;
  for (size_t i = 0; i < hp.tg.n_backends; i++)
    if (hp.tg.backends[i]->started &&
        hp.tg.backends[i]->spool.max_id > floor_id)
      floor_id = hp.tg.backends[i]->spool.max_id;
  char err[512];
  int status = hb_seq_next(hp.state_dir, floor_id, now, id, err, sizeof(err));
  if (status != 0) {
    ERROR(HP_PLUGIN " plugin: no heartbeat id: %s", err);
    return status;
  }
  hb_body_in_t in = {
      .heartbeat_id = *id,
      .swarm_id = hp.swarm_id,
      .now = now,
      .hostname = hostname_g,
      .platform = hp.platform,
      .collectd_version = PACKAGE_VERSION,
      .agent_version = QF_VERSION,
      .fig = &fig,
      .agents = hp_refresh_snapshot(&hp.agents_snap, hp.agents_warned,
                                    sizeof(hp.agents_warned)),
      .project = hp_refresh_project(),
      .anomalies = hp_refresh_snapshot(&hp.anomalies_snap, hp.anomalies_warned,
                                       sizeof(hp.anomalies_warned)),
      .offline = offline,
  };
  for (size_t i = 0; i < hp.tg.n_backends; i++) {
    const hb_backend_t *b = hp.tg.backends[i];
    if (!b->started)
      continue;
    size_t depth = hb_spool_depth(&b->spool);
    if (depth > in.backlog)
      in.backlog = depth;
    in.set_aside += b->st.set_aside;
    in.budget_exhausted |= b->budget_exhausted;
  }
  status = hb_body_build(&in, body, len);
  if (status != 0)
    ERROR(HP_PLUGIN " plugin: heartbeat %lld not built: %s", *id,
          STRERROR(-status));
  return status;
}

/* hp_log_line appends the heartbeat to the daily log and prunes old files
 * when the local date changed. Failures are logged once until it works. */
static void hp_log_line(time_t now, const char *body, size_t len) {
  char err[512];
  int status = hb_log_append(hp.log_dir, now, body, len, err, sizeof(err));
  if (status != 0 && !hp.log_failing)
    ERROR(HP_PLUGIN " plugin: heartbeat log: %s", err);
  else if (status == 0 && hp.log_failing)
    NOTICE(HP_PLUGIN " plugin: heartbeat log writable again");
  hp.log_failing = status != 0;
  long day = hb_log_day(now);
  if (day == hp.log_day)
    return;
  hp.log_day = day;
  int removed = 0;
  if (hb_log_prune(hp.log_dir, now, hp.retention_days, &removed, err,
                   sizeof(err)) != 0)
    WARNING(HP_PLUGIN " plugin: pruning the heartbeat log: %s", err);
  if (removed > 0)
    INFO(HP_PLUGIN " plugin: removed %d heartbeat log %s older than %d %s",
         removed, hb_plural((unsigned long long)removed, "file", "files"),
         hp.retention_days,
         hb_plural((unsigned long long)hp.retention_days, "day", "days"));
}

/* hp_dispatch1 dispatches one value of ours. */
static void hp_dispatch1(const char *inst, const char *type, const char *ti,
                         value_t v) {
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &v;
  vl.values_len = 1;
  vl.interval = DOUBLE_TO_CDTIME_T(hp.interval);
  sstrncpy(vl.plugin, HP_PLUGIN, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, inst, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, type, sizeof(vl.type));
  sstrncpy(vl.type_instance, ti, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

/* hp_dispatch_values dispatches our own counters per backend and webhook
 * (identifiers in schema/README.md). */
static void hp_dispatch_values(void) {
  for (size_t i = 0; i < hp.tg.n_backends; i++) {
    const hb_backend_t *b = hp.tg.backends[i];
    hp_dispatch1(b->name, "derive", "sent",
                 (value_t){.derive = (derive_t)b->st.sent});
    hp_dispatch1(b->name, "derive", "failed",
                 (value_t){.derive = (derive_t)b->st.failed});
    hp_dispatch1(b->name, "derive", "retried",
                 (value_t){.derive = (derive_t)b->st.retried});
    hp_dispatch1(b->name, "derive", "dropped",
                 (value_t){.derive = (derive_t)b->st.dropped});
    hp_dispatch1(b->name, "derive", "set_aside",
                 (value_t){.derive = (derive_t)b->st.set_aside});
    hp_dispatch1(b->name, "queue_length", "spool",
                 (value_t){.gauge = (gauge_t)hb_spool_depth(&b->spool)});
    hp_dispatch1(b->name, "latency", "delivery",
                 (value_t){.gauge = b->st.last_latency_ms / 1000.0});
    hp_dispatch1(b->name, "gauge", "budget_exhausted",
                 (value_t){.gauge = b->budget_exhausted ? 1.0 : 0.0});
    hp_dispatch1(b->name, "derive", "superseded",
                 (value_t){.derive = (derive_t)b->st.superseded});
  }
  for (size_t i = 0; i < hp.tg.n_webhooks; i++) {
    const hb_webhook_t *w = hp.tg.webhooks[i];
    pthread_mutex_lock(&hp.lock);
    gauge_t depth = (gauge_t)w->qcount;
    derive_t dropped = (derive_t)w->st.dropped;
    pthread_mutex_unlock(&hp.lock);
    hp_dispatch1(w->name, "derive", "sent",
                 (value_t){.derive = (derive_t)w->st.sent});
    hp_dispatch1(w->name, "derive", "failed",
                 (value_t){.derive = (derive_t)w->st.failed});
    hp_dispatch1(w->name, "derive", "dropped", (value_t){.derive = dropped});
    hp_dispatch1(w->name, "queue_length", "queue", (value_t){.gauge = depth});
  }
}

/* hp_write_state writes heartbeat.json. */
static void hp_write_state(bool running) {
  hb_state_in_t in = {.now = time(NULL),
                      .running = running,
                      .swarm_id = hp.swarm_id,
                      .swarm_id_configured =
                          hp.swarm_id_cfg != NULL && hp.swarm_id_cfg[0] != '\0',
                      .interval = hp.interval,
                      .backends = hp.tg.backends,
                      .n_backends = hp.tg.n_backends,
                      .webhooks = hp.tg.webhooks,
                      .n_webhooks = hp.tg.n_webhooks};
  char *doc = NULL;
  size_t len = 0;
  char err[512];
  pthread_mutex_lock(&hp.lock); /* webhook counters move under the lock */
  int status = hb_snapshot_render(&in, &doc, &len);
  pthread_mutex_unlock(&hp.lock);
  if (status == 0)
    status = qf_snapshot_write(hp.state_dir, HB_STATE_FILE, doc, len, err,
                               sizeof(err));
  else
    qf_strcpy(err, sizeof(err), STRERROR(-status));
  static c_complain_t failing = C_COMPLAIN_INIT_STATIC;
  if (status != 0)
    c_complain(LOG_WARNING, &failing,
               HP_PLUGIN " plugin: writing " HB_STATE_FILE ": %s", err);
  free(doc);
}

/* hp_produce makes the heartbeat of this interval: log line, spools. */
static void hp_produce(bool offline) {
  time_t now = time(NULL);
  long long id;
  char *body = NULL;
  size_t len = 0;
  if (hp_build(offline, now, &id, &body, &len) != 0)
    return;
  hp_log_line(now, body, len);
  for (size_t i = 0; i < hp.tg.n_backends; i++)
    if (hp.tg.backends[i]->started)
      hb_backend_enqueue(hp.tg.backends[i], id, body, len, qf_mono_s(),
                         &hp_logger);
  free(body);
}

/* hp_webhook_round sends the oldest queued note of w if it is due;
 * returns true when it tried. */
static bool hp_webhook_round(hb_webhook_t *w, const hb_env_t *env, double now) {
  hb_note_t note;
  unsigned long long seq;
  pthread_mutex_lock(&hp.lock);
  bool have = hb_webhook_peek(w, &note, &seq);
  pthread_mutex_unlock(&hp.lock);
  if (!have || hb_deliver_ready_at(&w->dl, now) > now)
    return false;
  hb_verdict_t v = hb_webhook_send(w, env, &note, now);
  if (v != HB_KEEP) {
    pthread_mutex_lock(&hp.lock);
    hb_webhook_pop(w, seq);
    pthread_mutex_unlock(&hp.lock);
  }
  return true;
}

/* hp_deliver_round gives every due target one request; true if any went. */
static bool hp_deliver_round(void) {
  hb_env_t env = hp_env(true);
  bool any = false;
  for (size_t i = 0; i < hp.tg.n_backends && !atomic_load(&hp_stopping); i++) {
    hb_backend_t *b = hp.tg.backends[i];
    double now = qf_mono_s();
    if (hb_backend_ready_at(b, now) <= now) {
      hb_backend_send_one(b, &env, now);
      any = true;
    }
  }
  for (size_t i = 0; i < hp.tg.n_webhooks && !atomic_load(&hp_stopping); i++)
    any |= hp_webhook_round(hp.tg.webhooks[i], &env, qf_mono_s());
  return any;
}

/* hp_next_due is the earliest time a target can send again. */
static double hp_next_due(double now) {
  double t = INFINITY;
  for (size_t i = 0; i < hp.tg.n_backends; i++)
    t = fmin(t, hb_backend_ready_at(hp.tg.backends[i], now));
  pthread_mutex_lock(&hp.lock);
  for (size_t i = 0; i < hp.tg.n_webhooks; i++)
    if (hp.tg.webhooks[i]->qcount > 0)
      t = fmin(t, hb_deliver_ready_at(&hp.tg.webhooks[i]->dl, now));
  pthread_mutex_unlock(&hp.lock);
  return t;
}

/* hp_figures_ready tells whether cpu, memory and disk are all known. */
static bool hp_figures_ready(void) {
  hb_figures_t f;
  hp_figures(&f);
  return hb_figures_complete(&f);
}

/* hp_run is the daemon's loop: one heartbeat per Interval, deliveries as
 * soon as their targets allow. */
static void hp_run(void) {
  /* The first heartbeat goes as soon as cpu, memory and disk are all known
   * (collectd's cpu plugin needs two reads), at the latest one Interval
   * after the start; spooled heartbeats of an earlier run wait for it. */
  double next = qf_mono_s() + hp.interval;
  bool first = true;
  while (!atomic_load(&hp_stopping)) {
    double now = qf_mono_s();
    if (first && hp_figures_ready()) {
      next = now;
    }
    if (now >= next) {
      first = false;
      hp_produce(false);
      hp_dispatch_values();
      hp_write_state(true);
      next += hp.interval;
      if (next <= now) /* a long request made us miss slots: skip them */
        next = now + hp.interval;
    }
    if (hp_deliver_round())
      hp_write_state(true);
    double until = fmin(next, hp_next_due(qf_mono_s()));
    if (first) /* look for complete figures a few times a second */
      until = fmin(until, qf_mono_s() + HP_FIRST_POLL);
    hp_wait_until(until);
  }
}

/* ------------------------------------------------------------ one shot */

/* hp_one_shot_wait waits until cpu, memory and disk are known (the cpu
 * plugin needs two reads) or HP_ONESHOT_WAIT passed. */
static void hp_one_shot_wait(void) {
  double deadline = qf_mono_s() + HP_ONESHOT_WAIT;
  while (!atomic_load(&hp_stopping) && qf_mono_s() < deadline) {
    hb_figures_t f;
    hp_figures(&f);
    if (!isnan(f.usage.cpu_percent) && !isnan(f.usage.memory_percent) &&
        !isnan(f.usage.disk_percent))
      return;
    hp_wait_until(qf_mono_s() + 0.2);
  }
  WARNING(HP_PLUGIN " plugin: one-shot: cpu, memory or disk still unknown "
                    "after %.0f s; sending what there is",
          HP_ONESHOT_WAIT);
}

/* hp_one_shot_send posts body to b with its Retries; 0 when delivered. */
static int hp_one_shot_send(hb_backend_t *b, long long id, const char *body,
                            size_t len) {
  hb_env_t env = hp_env(true);
  char what[HB_ERROR_MAX + 400];
  for (int attempt = 1; attempt <= b->policy.retries; attempt++) {
    hb_answer_t a;
    hb_backend_exchange(b, &env, body, len, b->timeout, qf_mono_s(), &a);
    if (a.c == HB_CLASS_OK) {
      INFO(HP_PLUGIN " plugin: one-shot: heartbeat %lld delivered to backend "
                     "%s (%s): HTTP %ld in %.0f ms",
           id, b->name, b->url_public, a.status, a.seconds * 1000.0);
      return 0;
    }
    hb_backend_describe(b, hp.swarm_id, a.c, a.status, a.text, what,
                        sizeof(what));
    ERROR(HP_PLUGIN " plugin: one-shot: attempt %d of %d: %s", attempt,
          b->policy.retries, what);
    if (a.c != HB_CLASS_RETRY || atomic_load(&hp_stopping))
      break;
    if (attempt < b->policy.retries)
      hp_wait_until(qf_mono_s() + b->policy.retry_delay);
  }
  return -1;
}

/* hp_one_shot collects once, sends one heartbeat to every backend, writes
 * its log line, and stops collectd; the exit status tells the result. */
static void hp_one_shot(void) {
  hp_one_shot_wait();
  time_t now = time(NULL);
  long long id;
  char *body = NULL;
  size_t len = 0;
  hp.one_shot_status = -1;
  if (hp_build(false, now, &id, &body, &len) == 0) {
    hp_log_line(now, body, len);
    hp.one_shot_status = hp.log_failing ? -1 : 0;
    for (size_t i = 0; i < hp.tg.n_backends; i++)
      if (hp_one_shot_send(hp.tg.backends[i], id, body, len) != 0)
        hp.one_shot_status = -1;
    free(body);
  }
  if (hp.one_shot_status == 0)
    INFO(HP_PLUGIN " plugin: one-shot: heartbeat %lld written to %s and "
                   "delivered",
         id, hp.log_dir);
  else
    ERROR(HP_PLUGIN " plugin: one-shot: FAILED (see the lines above)");
  stop_collectd();
}

static void *hp_thread(void *arg) {
  (void)arg;
  if (hp.one_shot)
    hp_one_shot();
  else
    hp_run();
  return NULL;
}

/* ------------------------------------------------------------ init */

/* hp_init_defaults fills the string defaults and checks the settings that
 * depend on each other. */
static int hp_init_defaults(void) {
  if (hp.state_dir == NULL && (hp.state_dir = strdup(QF_STATE_DIR)) == NULL)
    return -1;
  if (hp.log_dir == NULL && (hp.log_dir = strdup(HP_DEFAULT_LOG_DIR)) == NULL)
    return -1;
  if (hp.one_shot && hp.tg.n_backends == 0) {
    ERROR(HP_PLUGIN " plugin: OneShot needs at least one <Backend>");
    return -1;
  }
  for (size_t i = 0; i < hp.tg.n_backends; i++) {
    hb_backend_t *b = hp.tg.backends[i];
    char advice[512];
    b->policy.probe_delay = hp.interval;
    b->policy.live_interval = hp.interval;
    if (hb_rate_advice(hp.interval, b->policy.limit, b->policy.window, advice,
                       sizeof(advice)))
      WARNING(HP_PLUGIN " plugin: <Backend \"%s\">: %s", b->name, advice);
  }
  return 0;
}

/* hp_init_runtime prepares what the sender thread uses. */
static int hp_init_runtime(void) {
  char err[512];
  /* StateDir first, with its own mode: the spool inside it is private,
   * the snapshots beside it are the exporter's to read. */
  if (qf_state_dir_make(hp.state_dir, err, sizeof(err)) != 0) {
    ERROR(HP_PLUGIN " plugin: StateDir: %s", err);
    return -1;
  }
  if (qf_swarm_id_resolve(hp.swarm_id_cfg, hp.state_dir, hp.swarm_id,
                          sizeof(hp.swarm_id), err, sizeof(err)) != 0) {
    ERROR(HP_PLUGIN " plugin: swarm id: %s", err);
    return -1;
  }
  qf_platform(hp.platform, sizeof(hp.platform));
  hp.max_age =
      3.0 * fmax(hp.interval, CDTIME_T_TO_DOUBLE(plugin_get_interval()));
  int status = qf_cond_init_mono(&hp.cond);
  if (status != 0) {
    ERROR(HP_PLUGIN " plugin: initialising the delivery thread's condition "
                    "variable: %s",
          STRERROR(-status));
    return -1;
  }
  if (hb_metrics_init(&hp.metrics, HB_METRICS_MAX) != 0 ||
      qf_http_global_init() != 0 ||
      qf_http_client_init(&hp.http, HP_USER_AGENT) != 0 ||
      qf_snapshot_init(&hp.agents_snap, hp.state_dir, "agents.json") != 0 ||
      qf_snapshot_init(&hp.project_snap, hp.state_dir, "project.json") != 0 ||
      qf_snapshot_init(&hp.anomalies_snap, hp.state_dir, "anomalies.json") !=
          0) {
    ERROR(HP_PLUGIN " plugin: initialisation failed (out of memory?)");
    return -1;
  }
  return 0;
}

/* hp_init_backends opens every backend's spool (not for the one-shot
 * check, which must not touch the daemon's backlog). */
static int hp_init_backends(void) {
  if (hp.one_shot)
    return 0;
  qf_buf_t dir = QF_BUF_INIT;
  if (qf_buf_printf(&dir, "%s/%s", hp.state_dir, HP_SPOOL_SUBDIR) != 0)
    return -1;
  int status = 0;
  for (size_t i = 0; i < hp.tg.n_backends && status == 0; i++) {
    char err[512];
    status = hb_backend_start(hp.tg.backends[i], dir.data, &hp_logger, err,
                              sizeof(err));
    if (status != 0)
      ERROR(HP_PLUGIN " plugin: <Backend \"%s\">: spool: %s",
            hp.tg.backends[i]->name, err);
  }
  qf_buf_free(&dir);
  for (size_t i = 0; i < hp.tg.n_webhooks && status == 0; i++)
    status =
        hb_deliver_init(&hp.tg.webhooks[i]->dl, &hp.tg.webhooks[i]->policy);
  return status;
}

static int hp_init(void) {
  int status = hp_init_defaults();
  if (status == 0)
    status = hp_init_runtime();
  if (status == 0)
    status = hp_init_backends();
  if (status == 0 && !hp.one_shot)
    hp_write_state(true);
  if (status == 0) {
    status = plugin_thread_create(&hp.thread, hp_thread, NULL, "qf_heartbeat");
    if (status != 0)
      ERROR(HP_PLUGIN " plugin: cannot start the sender thread: %s",
            STRERROR(status));
    hp.thread_started = status == 0;
  }
  if (status != 0 && hp.one_shot) {
    hp.one_shot_status = -1;
    stop_collectd(); /* a one-shot check that cannot run must not hang */
  }
  if (status == 0)
    INFO(HP_PLUGIN " plugin: swarm %s, a heartbeat every %g s to %zu %s, "
                   "%zu %s%s",
         hp.swarm_id, hp.interval, hp.tg.n_backends,
         hb_plural(hp.tg.n_backends, "backend", "backends"), hp.tg.n_webhooks,
         hb_plural(hp.tg.n_webhooks, "webhook", "webhooks"),
         hp.one_shot ? ", one shot" : "");
  return status == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ shutdown */

/* hp_stopping_heartbeat records an offline heartbeat and tries it once,
 * briefly, on each backend that has nothing older waiting; elsewhere it
 * stays spooled for the next start. */
static void hp_stopping_heartbeat(void) {
  hp_produce(true);
  hb_env_t env = hp_env(false);
  for (size_t i = 0; i < hp.tg.n_backends; i++) {
    hb_backend_t *b = hp.tg.backends[i];
    double now = qf_mono_s();
    /* Only where nothing older waits and the pacing allows a request now:
     * a stop must neither reorder nor trip the rate limit. */
    if (!b->started || hb_spool_depth(&b->spool) != 1 ||
        b->dl.mode != HB_MODE_OK || hb_backend_ready_at(b, now) > now)
      continue;
    long long id;
    char *body = NULL;
    size_t len;
    char err[HB_ERROR_MAX];
    if (hb_spool_peek(&b->spool, &id, &body, &len, err, sizeof(err)) != 0)
      continue;
    hb_answer_t a;
    hb_backend_exchange(b, &env, body, len,
                        fmin(b->timeout, HP_OFFLINE_TIMEOUT), now, &a);
    if (a.c != HB_CLASS_OK || hb_spool_pop(&b->spool, err, sizeof(err)) != 0)
      INFO(HP_PLUGIN " plugin: backend %s: the stopping heartbeat %lld stays "
                     "spooled for the next start",
           b->name, id);
    free(body);
  }
}

/* hp_free releases everything the configuration and init made. */
static void hp_free(void) {
  hb_targets_free(&hp.tg);
  pthread_mutex_lock(&hp.lock);
  hb_metrics_free(&hp.metrics);
  pthread_mutex_unlock(&hp.lock);
  qf_snapshot_destroy(&hp.agents_snap);
  qf_snapshot_destroy(&hp.project_snap);
  qf_snapshot_destroy(&hp.anomalies_snap);
  hb_project_free(&hp.project);
  qf_http_client_destroy(&hp.http);
  sfree(hp.swarm_id_cfg);
  sfree(hp.state_dir);
  sfree(hp.log_dir);
}

static int hp_shutdown(void) {
  atomic_store(&hp_stopping, true);
  pthread_mutex_lock(&hp.lock);
  hp.wake = true;
  if (hp.thread_started)
    pthread_cond_signal(&hp.cond);
  pthread_mutex_unlock(&hp.lock);
  if (hp.thread_started) {
    pthread_join(hp.thread, NULL);
    hp.thread_started = false;
    if (!hp.one_shot) {
      hp_stopping_heartbeat();
      hp_write_state(false);
    }
    pthread_cond_destroy(&hp.cond);
  }
  int status = hp.one_shot ? hp.one_shot_status : 0;
  hp_free();
  return status;
}

void module_register(void) {
  plugin_register_complex_config(HP_PLUGIN, hp_config);
  plugin_register_init(HP_PLUGIN, hp_init);
  plugin_register_write(HP_PLUGIN, hp_write, /* user_data = */ NULL);
  plugin_register_notification(HP_PLUGIN, hp_notify, /* user_data = */ NULL);
  plugin_register_shutdown(HP_PLUGIN, hp_shutdown);
}
