/**
 * qiflow_anomaly.c: collectd plugin running the anomaly detectors
 * (docs/anomaly.md). Each read feeds them StateDir/agents.json,
 * StateDir/project.json and the memory and df values collectd handed the
 * write callback, evaluates, notifies each transition once (FAILURE when an
 * anomaly starts, OKAY when it ends), dispatches the active count per kind,
 * and writes StateDir/anomalies.json and StateDir/anomaly-history.json.
 *
 * The logic lives in anomaly_*.c (no collectd symbol, unit tested); this
 * file is the collectd glue: config, snapshot reading, dispatch, logging.
 **/

#include "collectd.h"

#include "plugin.h"
#include "utils/common/common.h"
#include "utils_complain.h"

#include "anomaly.h"
#include "anomaly_feed.h"
#include "plugin_config.h"
#include "qf_file.h"
#include "qf_json.h"
#include "qf_snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#define QN_PLUGIN "qiflow_anomaly"
#define QN_SNAPSHOT "anomalies.json"
#define QN_HISTORY "anomaly-history.json"
#define QN_HISTORY_MAX (4u << 20) /* the bounded history is far smaller */

/* One tuning option: its name, where it goes in anom_config_t, its type. */
typedef enum { QN_NUM, QN_INT, QN_LONG, QN_BOOL } qn_type_t;
typedef struct qn_option_s {
  const char *key;
  size_t offset;
  qn_type_t type;
} qn_option_t;

#define QN_OPT(k, f, t)                                                        \
  { k, offsetof(anom_config_t, f), t }
static const qn_option_t qn_options[] = {
    QN_OPT("StuckSpreads", stuck_k, QN_NUM),
    QN_OPT("StuckMinSpread", stuck_min_spread, QN_NUM),
    QN_OPT("StuckFloor", stuck_floor, QN_NUM),
    QN_OPT("StuckUnlearned", stuck_unlearned, QN_NUM),
    QN_OPT("StuckMinTasks", stuck_min_tasks, QN_INT),
    QN_OPT("LoopAlpha", loop_alpha, QN_NUM),
    QN_OPT("LoopMinRestarts", loop_min, QN_INT),
    QN_OPT("StallQuantile", stall_quantile, QN_NUM),
    QN_OPT("StallFactor", stall_factor, QN_NUM),
    QN_OPT("StallFloor", stall_floor, QN_NUM),
    QN_OPT("StallFloorAgent", stall_floor_agent, QN_NUM),
    QN_OPT("StallMinGaps", stall_min_gaps, QN_INT),
    QN_OPT("VelocityAlpha", vel_alpha, QN_NUM),
    QN_OPT("VelocityMinExpected", vel_min_expected, QN_NUM),
    QN_OPT("VelocityMinDays", vel_min_days, QN_INT),
    QN_OPT("VelocityBaselineDays", vel_baseline_days, QN_INT),
    QN_OPT("VelocityWeekly", vel_weekly, QN_BOOL),
    QN_OPT("VelocityDayOffset", vel_day_offset, QN_LONG),
    QN_OPT("CIAlpha", ci_alpha, QN_NUM),
    QN_OPT("CIWindow", ci_window, QN_NUM),
    QN_OPT("CIBaseline", ci_baseline, QN_NUM),
    QN_OPT("CIMinRate", ci_min_rate, QN_NUM),
    QN_OPT("CIMinFailures", ci_min_failures, QN_INT),
    QN_OPT("CIMinBaselineRuns", ci_min_baseline_runs, QN_INT),
    QN_OPT("RunOutWindow", ro_window, QN_NUM),
    QN_OPT("RunOutHorizon", ro_horizon, QN_NUM),
    QN_OPT("RunOutFull", ro_full, QN_NUM),
    QN_OPT("RunOutMinZ", ro_min_z, QN_NUM),
    QN_OPT("RunOutPersist", ro_persist, QN_NUM),
    QN_OPT("RunOutMinSamples", ro_min_samples, QN_INT),
};
#define QN_OPTION_COUNT (sizeof(qn_options) / sizeof(qn_options[0]))

/* The switch of each detector, in anom_kind_t order. */
static const char *const qn_switches[ANOM_KIND_COUNT] = {
    "StuckAgent",   "LoopingAgent",   "StalledSwarm",
    "VelocityDrop", "CIFailureSpike", "RunningOut"};

typedef struct qn_plugin_s {
  char *state_dir;
  bool seen_block;
  anom_config_t cfg;
  anom_state_t st; /* touched by the read callback only */
  qf_snapshot_t agents, project;
  bool readers_ready;
  c_complain_t agents_complaint, project_complaint, write_complaint;
  c_complain_t agents_cap_complaint; /* more agents than ANOM_MAX_AGENTS */
  pthread_mutex_t lock; /* guards values (write callback vs read) */
  anom_feed_values_t values;
  bool values_full_warned;
} qn_plugin_t;

static qn_plugin_t qn = {.agents_complaint = C_COMPLAIN_INIT_STATIC,
                         .project_complaint = C_COMPLAIN_INIT_STATIC,
                         .write_complaint = C_COMPLAIN_INIT_STATIC,
                         .agents_cap_complaint = C_COMPLAIN_INIT_STATIC,
                         .lock = PTHREAD_MUTEX_INITIALIZER};
static bool qn_cfg_ready;

/* qn_defaults sets the default StateDir and detector settings once. */
static int qn_defaults(void) {
  if (!qn_cfg_ready) {
    anom_config_defaults(&qn.cfg);
    qn_cfg_ready = true;
  }
  if (qn.state_dir == NULL)
    qn.state_dir = strdup(QF_STATE_DIR);
  if (qn.state_dir == NULL) {
    ERROR(QN_PLUGIN " plugin: strdup failed");
    return -1;
  }
  return 0;
}

/* qn_option reads one tuning option into the configuration. */
static int qn_option(const qn_option_t *o, oconfig_item_t *ci) {
  char *field = (char *)&qn.cfg + o->offset;
  int n;
  switch (o->type) {
  case QN_NUM: {
    double v; /* copied in: field is a char pointer into the config */
    if (qf_plugin_get_number(QN_PLUGIN, ci, 0, false, INFINITY, &v) != 0)
      return -1;
    memcpy(field, &v, sizeof(v));
    return 0;
  }
  case QN_INT:
    if (qf_plugin_get_int(QN_PLUGIN, ci, 0, INT_MAX, &n) != 0)
      return -1;
    *(int *)field = n;
    return 0;
  case QN_LONG:
    if (qf_plugin_get_int(QN_PLUGIN, ci, -86399, 86399, &n) != 0)
      return -1;
    *(long *)field = n;
    return 0;
  case QN_BOOL:
    return cf_util_get_boolean(ci, (bool *)field);
  }
  return -1;
}

/* qn_unknown names every key the block accepts. */
static void qn_unknown(const char *key) {
  const char *known[1 + ANOM_KIND_COUNT + QN_OPTION_COUNT + 1];
  size_t n = 0;
  known[n++] = "StateDir";
  for (int k = 0; k < ANOM_KIND_COUNT; k++)
    known[n++] = qn_switches[k];
  for (size_t i = 0; i < QN_OPTION_COUNT; i++)
    known[n++] = qn_options[i].key;
  known[n] = NULL;
  qf_plugin_unknown(QN_PLUGIN, "<Plugin " QN_PLUGIN ">", key, known);
}

/* qn_child reads one key of the block. */
static int qn_child(oconfig_item_t *child) {
  if (strcasecmp("StateDir", child->key) == 0) {
    int rc = cf_util_get_string(child, &qn.state_dir);
    if (rc == 0 && qn.state_dir[0] == '\0') {
      ERROR(QN_PLUGIN " plugin: StateDir must not be empty");
      return -1;
    }
    return rc;
  }
  for (int k = 0; k < ANOM_KIND_COUNT; k++)
    if (strcasecmp(qn_switches[k], child->key) == 0)
      return cf_util_get_boolean(child, &qn.cfg.enabled[k]);
  for (size_t i = 0; i < QN_OPTION_COUNT; i++)
    if (strcasecmp(qn_options[i].key, child->key) == 0)
      return qn_option(&qn_options[i], child);
  qn_unknown(child->key);
  return -1;
}

/* qn_config reads the one <Plugin qiflow_anomaly> block. */
static int qn_config(oconfig_item_t *ci) {
  if (qn.seen_block) {
    ERROR(QN_PLUGIN " plugin: only one <Plugin " QN_PLUGIN "> block is "
                    "allowed; merge the options into the first one");
    return -1;
  }
  qn.seen_block = true;
  int status = qn_defaults();
  for (int i = 0; status == 0 && i < ci->children_num; i++)
    status = qn_child(ci->children + i);
  char err[256];
  if (status == 0 && anom_config_check(&qn.cfg, err, sizeof(err)) != 0) {
    ERROR(QN_PLUGIN " plugin: %s", err);
    status = -1;
  }
  return status != 0 ? -1 : 0;
}

/* qn_load_history restores what a previous run learned; a missing file
 * starts afresh, a bad one is reported and starts afresh. */
static void qn_load_history(void) {
  char path[4096], err[512], *text = NULL;
  if (qf_path_join(path, sizeof(path), qn.state_dir, QN_HISTORY) != 0)
    return;
  int status = qf_file_read(path, QN_HISTORY_MAX, QF_READ_NOFOLLOW, &text, NULL,
                            err, sizeof(err));
  if (status == -ENOENT)
    return;
  if (status == 0)
    status = anom_history_parse(&qn.st, text, err, sizeof(err));
  free(text);
  if (status != 0)
    NOTICE(QN_PLUGIN " plugin: not using %s (%s); learning afresh", path, err);
  else
    INFO(QN_PLUGIN " plugin: history of %s restored: %d task durations, %d "
                   "quiet stretches, %d days, %d active anomalies",
         path, qn.st.dur_n, qn.st.gap_n, qn.st.day_n, qn.st.active_n);
}

/* qn_init creates StateDir, prepares the readers and loads the history. */
static int qn_init(void) {
  if (qn_defaults() != 0)
    return -1;
  char err[512];
  if (qf_state_dir_make(qn.state_dir, err, sizeof(err)) != 0) {
    ERROR(QN_PLUGIN " plugin: StateDir: %s", err);
    return -1;
  }
  if (!qn.readers_ready) {
    if (qf_snapshot_init(&qn.agents, qn.state_dir, "agents.json") != 0 ||
        qf_snapshot_init(&qn.project, qn.state_dir, "project.json") != 0) {
      ERROR(QN_PLUGIN " plugin: out of memory");
      return -1;
    }
    qn.readers_ready = true;
  }
  anom_init(&qn.st, &qn.cfg);
  qn_load_history();
  int on = 0;
  for (int k = 0; k < ANOM_KIND_COUNT; k++)
    on += qn.cfg.enabled[k];
  INFO(QN_PLUGIN " plugin: StateDir %s, %d of %d detectors enabled",
       qn.state_dir, on, ANOM_KIND_COUNT);
  return 0;
}

/* qn_write keeps the memory and df values the detectors project from. */
static int qn_write(const data_set_t *ds, const value_list_t *vl,
                    user_data_t *ud) {
  (void)ud; /* no context needed */
  if (ds->ds_num != 1 || ds->ds[0].type != DS_TYPE_GAUGE)
    return 0;
  pthread_mutex_lock(&qn.lock);
  int rc = anom_feed_value(&qn.values, vl->plugin, vl->plugin_instance,
                           vl->type, vl->type_instance, vl->values[0].gauge);
  bool warn = rc == -ENOSPC && !qn.values_full_warned;
  qn.values_full_warned |= warn;
  pthread_mutex_unlock(&qn.lock);
  if (warn)
    WARNING(QN_PLUGIN " plugin: more than %d disks and memory; %s-%s is not "
                      "watched for running out",
            ANOM_MAX_RESOURCES, vl->plugin, vl->plugin_instance);
  return 0;
}

/* qn_feed_resources observes each resource's used fraction at now. */
static void qn_feed_resources(time_t now) {
  char names[ANOM_MAX_RESOURCES][ANOM_NAME_MAX];
  double used[ANOM_MAX_RESOURCES];
  int n = 0;
  pthread_mutex_lock(&qn.lock);
  for (int i = 0; i < qn.values.n; i++)
    if (anom_feed_fraction(&qn.values.res[i], &used[n]) == 0) {
      sstrncpy(names[n], qn.values.res[i].name, sizeof(names[n]));
      n++;
    }
  pthread_mutex_unlock(&qn.lock);
  for (int i = 0; i < n; i++)
    anom_observe_resource(&qn.st, names[i], now, used[i]);
}

/* qn_feed_logged logs once that a file is not used (rc < 0; why: err, else
 * the snapshot's error) and once that it is usable again. */
static void qn_feed_logged(int rc, const qf_snapshot_t *snap, c_complain_t *cc,
                           const char *err) {
  if (rc < 0)
    c_complain(LOG_WARNING, cc, QN_PLUGIN " plugin: not using %s: %s",
               snap->path, err[0] != '\0' ? err : snap->error);
  else
    c_release(LOG_INFO, cc, QN_PLUGIN " plugin: %s is usable again",
              snap->path);
}

/* qn_feed_agents feeds agents.json (every read: time on task grows). */
static void qn_feed_agents(time_t now) {
  char err[256] = "";
  int rc = qf_snapshot_refresh(&qn.agents);
  if (rc >= 0 && qn.agents.doc != NULL)
    rc = anom_feed_agents(&qn.st, now, qn.agents.doc, err, sizeof(err));
  qn_feed_logged(rc, &qn.agents, &qn.agents_complaint, err);
  if (rc >= 0 && err[0] != '\0') /* fed, but not every agent */
    c_complain(LOG_WARNING, &qn.agents_cap_complaint, QN_PLUGIN " plugin: %s",
               err);
  else if (rc >= 0)
    c_release(LOG_INFO, &qn.agents_cap_complaint,
              QN_PLUGIN " plugin: every agent of agents.json is watched again");
}

/* qn_feed_project feeds project.json when it changed, read a window at a
 * time (anom_feed_project_src: at 100,000 issues the file is 35.6 MB). */
static void qn_feed_project(void) {
  char err[256] = "";
  int fd = -1;
  size_t len = 0;
  int rc = qf_snapshot_refresh_fd(&qn.project, &fd, &len);
  if (rc == 1 && fd >= 0) {
    qf_src_t src = {.fd = fd, .len = len};
    rc = anom_feed_project_src(&qn.st, &src, err, sizeof(err));
    if (rc == -EINVAL || rc == -EIO)
      qf_snapshot_fail(&qn.project, err);
    close(fd);
  }
  qn_feed_logged(rc, &qn.project, &qn.project_complaint, err);
}

/* qn_notify dispatches one transition as a FAILURE or OKAY notification. */
static void qn_notify(const anom_t *a, bool started, void *ctx) {
  (void)ctx; /* no context needed */
  notification_t n = {.severity = started ? NOTIF_FAILURE : NOTIF_OKAY,
                      .time = cdtime()};
  anom_feed_message(a, started, n.message, sizeof(n.message));
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, QN_PLUGIN, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, anom_kind_name(a->kind),
           sizeof(n.plugin_instance));
  sstrncpy(n.type, "anomaly", sizeof(n.type));
  sstrncpy(n.type_instance, a->subject, sizeof(n.type_instance));
  plugin_notification_meta_add_string(&n, "kind", anom_kind_name(a->kind));
  plugin_notification_meta_add_string(&n, "subject", a->subject);
  if (a->issue > 0)
    plugin_notification_meta_add_signed_int(&n, "issue_number", a->issue);
  if (isfinite(a->observed))
    plugin_notification_meta_add_double(&n, "observed", a->observed);
  if (isfinite(a->baseline))
    plugin_notification_meta_add_double(&n, "baseline", a->baseline);
  plugin_notification_meta_add_string(&n, "reason", a->reason);
  plugin_dispatch_notification(&n);
  plugin_notification_meta_free(n.meta);
}

/* qn_submit dispatches one gauge qiflow_anomaly/count-<ti>. */
static void qn_submit(const char *ti, gauge_t v) {
  value_list_t vl = VALUE_LIST_INIT;
  value_t value = {.gauge = v};
  vl.values = &value;
  vl.values_len = 1;
  sstrncpy(vl.plugin, QN_PLUGIN, sizeof(vl.plugin));
  sstrncpy(vl.type, "count", sizeof(vl.type));
  sstrncpy(vl.type_instance, ti, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

/* qn_dispatch sends the active count of each kind and the total. */
static void qn_dispatch(void) {
  int counts[ANOM_KIND_COUNT] = {0};
  for (int i = 0; i < qn.st.active_n; i++)
    counts[qn.st.active[i].kind]++;
  for (int k = 0; k < ANOM_KIND_COUNT; k++)
    qn_submit(anom_kind_name((anom_kind_t)k), counts[k]);
  qn_submit("total", qn.st.active_n);
}

/* qn_write_file renders one document and replaces StateDir/name. */
static int qn_write_file(const char *name,
                         int (*render)(const anom_state_t *, time_t, char **,
                                       size_t *),
                         time_t now, char *err, size_t errlen) {
  char *json = NULL;
  size_t len = 0;
  int rc = render(&qn.st, now, &json, &len);
  if (rc != 0)
    snprintf(err, errlen, "rendering %s: %s", name, STRERROR(-rc));
  else
    rc = qf_snapshot_write(qn.state_dir, name, json, len, err, errlen);
  free(json);
  return rc;
}

/* qn_write_files writes anomalies.json and the history; a failure is
 * logged with back-off, its end once. */
static void qn_write_files(time_t now) {
  char err[512] = "";
  int rc =
      qn_write_file(QN_SNAPSHOT, anom_snapshot_render, now, err, sizeof(err));
  if (rc == 0)
    rc = qn_write_file(QN_HISTORY, anom_history_render, now, err, sizeof(err));
  if (rc != 0)
    c_complain(LOG_ERR, &qn.write_complaint,
               QN_PLUGIN " plugin: writing into %s failed: %s", qn.state_dir,
               err);
  else
    c_release(LOG_INFO, &qn.write_complaint,
              QN_PLUGIN " plugin: writing into %s works again", qn.state_dir);
}

/* qn_read is one interval: feed, evaluate, notify, dispatch, write. */
static int qn_read(void) {
  time_t now = time(NULL);
  qn_feed_project();
  qn_feed_agents(now);
  qn_feed_resources(now);
  anom_evaluate(&qn.st, now, qn_notify, NULL);
  qn_dispatch();
  qn_write_files(now);
  return 0;
}

/* qn_shutdown saves the history one last time and frees the readers. */
static int qn_shutdown(void) {
  if (qn.readers_ready) {
    qn_write_files(time(NULL));
    qf_snapshot_destroy(&qn.agents);
    qf_snapshot_destroy(&qn.project);
    qn.readers_ready = false;
  }
  sfree(qn.state_dir);
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(QN_PLUGIN, qn_config);
  plugin_register_init(QN_PLUGIN, qn_init);
  plugin_register_write(QN_PLUGIN, qn_write, NULL);
  plugin_register_read(QN_PLUGIN, qn_read);
  plugin_register_shutdown(QN_PLUGIN, qn_shutdown);
}
