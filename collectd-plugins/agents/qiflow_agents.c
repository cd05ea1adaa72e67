/**
 * qiflow_agents.c: collectd read plugin for the QiFlow swarm's agent
 * registry (one JSON file per agent in AgentDir). Each read dispatches the
 * counts per derived status and each agent's time on task, notifies status
 * transitions once, warns once per bad file, and writes agents.json.
 *
 * The logic lives in agents_*.c (no collectd symbol, unit tested); this file
 * is only the collectd glue: config, dispatch, notifications, logging.
 **/

#include "collectd.h"

#include "plugin.h"
#include "utils/common/common.h"
#include "utils_complain.h"
#include "utils_time.h"

#include "agents.h"
#include "agents_scan.h"
#include "agents_track.h"
#include "plugin_config.h"
#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"
#include "qf_snapshot.h"

#include <errno.h>
#include <stdbool.h>

#define QA_PLUGIN "qiflow_agents"
#define QA_SNAPSHOT "agents.json"

#ifndef QA_DEFAULT_AGENT_DIR
#define QA_DEFAULT_AGENT_DIR "/var/lib/qiflow/agents"
#endif
#ifndef QA_DEFAULT_STATE_DIR
#define QA_DEFAULT_STATE_DIR QF_STATE_DIR
#endif
#define QA_DEFAULT_STALE_AFTER 300
/* Agent files read per interval at most (MaxAgentFiles): bounds one
 * read's CPU and memory. The default is four times the 1,000 agents a big
 * swarm runs; the ceiling keeps one read well under a minute. */
#define QA_DEFAULT_MAX_FILES 4096
#define QA_MAX_FILES_CEILING 100000
/* A previous agents.json larger than this is not used to seed state. */
#define QA_SEED_MAX (16u << 20)

typedef struct qa_config_s {
  char *agent_dir;
  char *state_dir;
  int stale_after; /* seconds */
  int max_files;   /* agent files read per interval at most */
  bool process_check;
  bool seen_block; /* a <Plugin qiflow_agents> block was read */
} qa_config_t;

/* What one read leaves for the next. The read callback is the only one
 * touching it while reads run (collectd never runs one read callback
 * twice at once), and shutdown runs after reads stopped: no lock. */
typedef struct qa_state_s {
  agents_track_t track;   /* last status per agent */
  agents_warned_t warned; /* bad files already warned about */
  agents_scan_t scan;     /* the last read's parses and scratch */
  int dir_error;          /* errno of the AgentDir failure warned about */
  bool over_limit;        /* the too-many-files warning was given */
  c_complain_t write_complaint;
} qa_state_t;

static qa_config_t qa_cfg = {.stale_after = QA_DEFAULT_STALE_AFTER,
                             .max_files = QA_DEFAULT_MAX_FILES,
                             .process_check = true};
static qa_state_t qa_st = {.write_complaint = C_COMPLAIN_INIT_STATIC};

/* qa_defaults strdups the default paths not set yet; 0 or -1. */
static int qa_defaults(void) {
  if (qa_cfg.agent_dir == NULL)
    qa_cfg.agent_dir = strdup(QA_DEFAULT_AGENT_DIR);
  if (qa_cfg.state_dir == NULL)
    qa_cfg.state_dir = strdup(QA_DEFAULT_STATE_DIR);
  if (qa_cfg.agent_dir == NULL || qa_cfg.state_dir == NULL) {
    ERROR(QA_PLUGIN " plugin: strdup failed");
    return -1;
  }
  return 0;
}

/* qa_check_path rejects an empty path or one that is not UTF-8 (it is
 * published in agents.json). */
static int qa_check_path(const char *key, const char *path) {
  if (path[0] == '\0') {
    ERROR(QA_PLUGIN " plugin: %s must not be empty", key);
    return -1;
  }
  char *copy = strdup(path);
  if (copy == NULL)
    return -1;
  size_t bad = qf_json_utf8_repair(copy);
  free(copy);
  if (bad > 0) {
    ERROR(QA_PLUGIN " plugin: %s \"%s\" is not valid UTF-8", key, path);
    return -1;
  }
  return 0;
}

/* qa_config_check validates the options once the block was read. */
static int qa_config_check(void) {
  if (qa_check_path("AgentDir", qa_cfg.agent_dir) != 0 ||
      qa_check_path("StateDir", qa_cfg.state_dir) != 0)
    return -1;
  return 0;
}

/* qa_config reads the one <Plugin qiflow_agents> block. */
static int qa_config(oconfig_item_t *ci) {
  if (qa_cfg.seen_block) {
    ERROR(QA_PLUGIN " plugin: only one <Plugin " QA_PLUGIN "> block is "
                    "allowed; merge the options into the first one");
    return -1;
  }
  qa_cfg.seen_block = true;
  int status = qa_defaults();
  for (int i = 0; status == 0 && i < ci->children_num; i++) {
    oconfig_item_t *child = ci->children + i;
    if (strcasecmp("AgentDir", child->key) == 0)
      status = cf_util_get_string(child, &qa_cfg.agent_dir);
    else if (strcasecmp("StateDir", child->key) == 0)
      status = cf_util_get_string(child, &qa_cfg.state_dir);
    else if (strcasecmp("StaleAfter", child->key) == 0)
      status =
          qf_plugin_get_int(QA_PLUGIN, child, 1, INT_MAX, &qa_cfg.stale_after);
    else if (strcasecmp("MaxAgentFiles", child->key) == 0)
      status = qf_plugin_get_int(QA_PLUGIN, child, 1, QA_MAX_FILES_CEILING,
                                 &qa_cfg.max_files);
    else if (strcasecmp("ProcessCheck", child->key) == 0)
      status = cf_util_get_boolean(child, &qa_cfg.process_check);
    else {
      static const char *const known[] = {"AgentDir",     "StateDir",
                                          "StaleAfter",   "MaxAgentFiles",
                                          "ProcessCheck", NULL};
      qf_plugin_unknown(QA_PLUGIN, "<Plugin " QA_PLUGIN ">", child->key, known);
      status = -1;
    }
  }
  if (status == 0)
    status = qa_config_check();
  return status != 0 ? -1 : 0;
}

/* qa_seed loads the statuses of the agents.json a previous run wrote, so
 * a restart neither repeats nor loses a FAILURE. Missing file: nothing. */
static void qa_seed(void) {
  char path[4096], err[512], *text = NULL;
  if (qf_path_join(path, sizeof(path), qa_cfg.state_dir, QA_SNAPSHOT) != 0)
    return;
  int status = qf_file_read(path, QA_SEED_MAX, QF_READ_NOFOLLOW, &text, NULL,
                            err, sizeof(err));
  if (status == -ENOENT)
    return;
  if (status == 0)
    status = agents_track_seed(&qa_st.track, text);
  free(text);
  if (status != 0)
    NOTICE(QA_PLUGIN " plugin: not using the previous %s for agent "
                     "statuses: %s",
           path, status == -EINVAL ? "not an agents snapshot" : err);
  else
    INFO(QA_PLUGIN " plugin: %zu agent statuses carried over from %s",
         qa_st.track.n, path);
}

/* qa_init creates StateDir and loads the previous statuses. */
static int qa_init(void) {
  if (qa_defaults() != 0)
    return -1;
  char err[512];
  if (qf_state_dir_make(qa_cfg.state_dir, err, sizeof(err)) != 0) {
    ERROR(QA_PLUGIN " plugin: StateDir: %s", err);
    return -1;
  }
  qa_seed();
  INFO(QA_PLUGIN " plugin: AgentDir %s, StateDir %s, StaleAfter %d s, "
                 "MaxAgentFiles %d, ProcessCheck %s",
       qa_cfg.agent_dir, qa_cfg.state_dir, qa_cfg.stale_after, qa_cfg.max_files,
       qa_cfg.process_check ? "true" : "false");
  return 0;
}

/* qa_dir_failed warns once per kind of AgentDir failure; the warning
 * comes again only after the directory was readable in between. */
static void qa_dir_failed(int status) {
  if (qa_st.dir_error == -status)
    return;
  qa_st.dir_error = -status;
  WARNING(QA_PLUGIN " plugin: AgentDir %s: %s; reporting zero agents until "
                    "it can be read",
          qa_cfg.agent_dir, STRERROR(-status));
}

/* qa_limit warns once when AgentDir holds more files than one read takes
 * (MaxAgentFiles), and notes when that is over. */
static void qa_limit(size_t n) {
  size_t max = (size_t)qa_cfg.max_files;
  if (n > max && !qa_st.over_limit)
    WARNING(QA_PLUGIN " plugin: AgentDir %s holds %zu agent files, over "
                      "MaxAgentFiles %zu: only the first %zu by name are "
                      "read; the other %zu count as unread (count-unread) "
                      "and invalid. Raise MaxAgentFiles to read them all",
            qa_cfg.agent_dir, n, max, max, n - max);
  else if (n <= max && qa_st.over_limit)
    INFO(QA_PLUGIN " plugin: AgentDir %s is back within MaxAgentFiles %zu",
         qa_cfg.agent_dir, max);
  qa_st.over_limit = n > max;
}

/* qa_scan fills r from AgentDir and sets *unread to the agent files left
 * unread by MaxAgentFiles. Returns 0, or the negative errno of a directory
 * that cannot be read (r then holds no agents). */
static int qa_scan(agents_result_t *r, time_t now, size_t *unread) {
  agents_scan_t *s = &qa_st.scan;
  int status =
      agents_scan(s, qa_cfg.agent_dir, (size_t)qa_cfg.max_files, now, r);
  if (status != 0) {
    qa_dir_failed(status);
    return status;
  }
  if (qa_st.dir_error != 0)
    INFO(QA_PLUGIN " plugin: AgentDir %s is readable again", qa_cfg.agent_dir);
  qa_st.dir_error = 0;
  qa_limit(s->files);
  *unread = s->unread;
  if (s->load_error != 0)
    ERROR(QA_PLUGIN " plugin: reading AgentDir: %s", STRERROR(-s->load_error));
  DEBUG(QA_PLUGIN " plugin: %zu agent files, %zu parsed, %zu unchanged",
        s->files, s->parsed, s->reused);
  return 0; /* what was read is still worth reporting */
}

/* qa_warn_file logs one invalid file (called once per file version). */
static void qa_warn_file(const agents_invalid_t *inv, void *ud) {
  (void)ud; /* no context needed */
  WARNING(QA_PLUGIN " plugin: skipping agent file %s/%s: %s", qa_cfg.agent_dir,
          inv->file, inv->error);
}

/* qa_submit dispatches one gauge as qiflow_agents[-pi]/type-ti. */
static void qa_submit(const char *pi, const char *type, const char *ti,
                      gauge_t v) {
  value_list_t vl = VALUE_LIST_INIT;
  value_t value = {.gauge = v};
  vl.values = &value;
  vl.values_len = 1;
  sstrncpy(vl.plugin, QA_PLUGIN, sizeof(vl.plugin));
  if (pi != NULL)
    sstrncpy(vl.plugin_instance, pi, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, type, sizeof(vl.type));
  sstrncpy(vl.type_instance, ti, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

/* qa_dispatch sends the counts (zeros too), the files unread over
 * MaxAgentFiles, and each agent's time on task (only when its
 * task_started_at is known). */
static void qa_dispatch(const agents_result_t *r, size_t unread) {
  for (int s = 0; s < AGENTS_STATUS_COUNT; s++)
    qa_submit(NULL, "count", agents_status_name((agents_status_t)s),
              (gauge_t)r->counts[s]);
  qa_submit(NULL, "count", "total", (gauge_t)r->n_agents);
  qa_submit(NULL, "count", "invalid", (gauge_t)r->n_invalid);
  qa_submit(NULL, "count", "unread", (gauge_t)unread);
  for (size_t i = 0; i < r->n_agents; i++) {
    const agents_agent_t *a = &r->agents[i];
    if (a->has_time_on_task)
      qa_submit(a->instance, "duration", "time_on_task",
                (gauge_t)a->time_on_task_seconds);
  }
}

/* qa_reason explains an event in a few words for the message and meta. */
static void qa_reason(const agents_event_t *ev, char *out, size_t outlen) {
  const agents_agent_t *a = ev->agent;
  if (a == NULL)
    snprintf(out, outlen, "its file left the registry");
  else if (a->status == AGENTS_DEAD)
    snprintf(out, outlen, "its process is gone");
  else if (a->status == AGENTS_FAILED)
    snprintf(out, outlen, "it reports status failed");
  else
    snprintf(out, outlen, "it is %s again", agents_status_name(a->status));
}

/* qa_message writes the notification text: agent, what happened, why and
 * its pid. The name is shortened here; the meta data has it whole. */
static void qa_message(const agents_event_t *ev, const char *reason, char *out,
                       size_t outlen) {
  char name[64], pid[32] = "none", was[32] = "first seen";
  agents_quote(ev->name, name, sizeof(name));
  if (ev->agent != NULL && ev->agent->has_pid)
    snprintf(pid, sizeof(pid), "%lld", ev->agent->pid);
  if (ev->known)
    snprintf(was, sizeof(was), "was %s", agents_status_name(ev->from));
  if (ev->kind == AGENTS_EVENT_FAILURE)
    snprintf(out, outlen, "agent \"%s\" is %s: %s (pid %s, %s)", name,
             agents_status_name(ev->to), reason, pid, was);
  else if (ev->agent == NULL)
    snprintf(out, outlen, "agent \"%s\" left the registry (%s): file gone",
             name, was);
  else
    snprintf(out, outlen, "agent \"%s\" recovered: %s (pid %s, %s)", name,
             reason, pid, was);
}

/* qa_meta attaches the event's facts for notification consumers. */
static void qa_meta(notification_t *n, const agents_event_t *ev,
                    const char *reason) {
  const agents_agent_t *a = ev->agent;
  plugin_notification_meta_add_string(n, "agent", ev->name);
  plugin_notification_meta_add_string(
      n, "status", a != NULL ? agents_status_name(ev->to) : "removed");
  if (ev->known)
    plugin_notification_meta_add_string(n, "previous_status",
                                        agents_status_name(ev->from));
  plugin_notification_meta_add_string(n, "reason", reason);
  if (a != NULL && a->has_pid)
    plugin_notification_meta_add_signed_int(n, "pid", a->pid);
  if (a != NULL && a->has_issue)
    plugin_notification_meta_add_signed_int(n, "issue_number", a->issue_number);
  if (a != NULL)
    plugin_notification_meta_add_string(n, "file", a->file);
}

/* qa_notify raises one FAILURE or OKAY notification for a transition. */
static void qa_notify(const agents_event_t *ev, void *ud) {
  (void)ud; /* no context needed */
  notification_t n = {
      .severity = ev->kind == AGENTS_EVENT_FAILURE ? NOTIF_FAILURE : NOTIF_OKAY,
      .time = cdtime()};
  char reason[128];
  qa_reason(ev, reason, sizeof(reason));
  qa_message(ev, reason, n.message, sizeof(n.message));
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, QA_PLUGIN, sizeof(n.plugin));
  if (ev->agent != NULL)
    sstrncpy(n.plugin_instance, ev->agent->instance, sizeof(n.plugin_instance));
  else
    agents_sanitise(ev->name, n.plugin_instance, sizeof(n.plugin_instance));
  qa_meta(&n, ev, reason);
  plugin_dispatch_notification(&n);
  plugin_notification_meta_free(n.meta);
}

/* qa_write_snapshot renders and atomically replaces StateDir/agents.json;
 * a failure is logged with back-off, its end once. */
static void qa_write_snapshot(const agents_result_t *r, time_t now) {
  agents_snapshot_info_t info = {.now = now,
                                 .agent_dir = qa_cfg.agent_dir,
                                 .collectd_version = PACKAGE_VERSION,
                                 .stale_after = qa_cfg.stale_after};
  char *json = NULL, err[512] = "";
  size_t len = 0;
  int status = agents_snapshot(r, &info, &json, &len);
  if (status != 0)
    qf_err(err, sizeof(err), "rendering: %s", STRERROR(-status));
  else
    status = qf_snapshot_write(qa_cfg.state_dir, QA_SNAPSHOT, json, len, err,
                               sizeof(err));
  free(json);
  if (status != 0)
    c_complain(LOG_ERR, &qa_st.write_complaint,
               QA_PLUGIN " plugin: writing %s/" QA_SNAPSHOT " failed: %s",
               qa_cfg.state_dir, err);
  else
    c_release(LOG_INFO, &qa_st.write_complaint,
              QA_PLUGIN " plugin: writing %s/" QA_SNAPSHOT " works again",
              qa_cfg.state_dir);
}

/* qa_read is one interval: scan, derive, warn, dispatch, notify, write.
 * Bad input never fails the read (collectd would back off the interval). */
static int qa_read(void) {
  time_t now = time(NULL);
  agents_result_t r = {0};
  size_t unread = 0;
  int dir_status = qa_scan(&r, now, &unread);
  agents_pid_alive_fn alive = qa_cfg.process_check ? agents_pid_alive : NULL;
  if (agents_result_finish(&r, now, qa_cfg.stale_after, alive) != 0)
    ERROR(QA_PLUGIN " plugin: out of memory resolving duplicate agents");
  if (agents_warned_update(&qa_st.warned, &r, qa_warn_file, NULL) != 0)
    ERROR(QA_PLUGIN " plugin: out of memory tracking bad files");
  qa_dispatch(&r, unread);
  /* An unreadable AgentDir says nothing about the agents: keep their last
   * statuses rather than reporting them recovered. */
  if (dir_status == 0 &&
      agents_track_update(&qa_st.track, &r, qa_notify, NULL) != 0)
    ERROR(QA_PLUGIN " plugin: out of memory tracking agent statuses");
  qa_write_snapshot(&r, now);
  agents_result_free(&r);
  return 0;
}

/* qa_shutdown frees everything the plugin holds. */
static int qa_shutdown(void) {
  agents_track_free(&qa_st.track);
  agents_warned_free(&qa_st.warned);
  agents_scan_free(&qa_st.scan);
  sfree(qa_cfg.agent_dir);
  sfree(qa_cfg.state_dir);
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(QA_PLUGIN, qa_config);
  plugin_register_init(QA_PLUGIN, qa_init);
  plugin_register_read(QA_PLUGIN, qa_read);
  plugin_register_shutdown(QA_PLUGIN, qa_shutdown);
}
