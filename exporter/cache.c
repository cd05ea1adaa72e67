/* cache.c: the refresh thread. Every --refresh ms it reads collectd and the
 * snapshots (re-parsed only when they change), renders every response body
 * and publishes them as one immutable, reference-counted set. Requests
 * take a reference under a short mutex: they never format, never talk to
 * collectd and never wait for a refresh. */
#include "cache.h"
#include "log.h"
#include "prom_text.h"
#include "qf_buf.h"
#include "qf_cond.h"
#include "render_json.h"
#include "swarm.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long the start waits for collectd's first answer. */
#define CA_FIRST_READING_MS 1000

void qfx_set_release(qfx_set_t *s) {
  if (s == NULL ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < QFX_B_N; i++)
    qfx_response_free(&s->bodies[i]);
  qfx_project_release(s->project);
  free(s);
}

qfx_set_t *qfx_cache_acquire(qfx_cache_t *c) {
  pthread_mutex_lock(&c->lock);
  qfx_set_t *s = c->current;
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&c->lock);
  return s;
}

/* ca_publish makes s the current set and drops the cache's reference to
 * the previous one. */
static void ca_publish(qfx_cache_t *c, qfx_set_t *s) {
  pthread_mutex_lock(&c->lock);
  qfx_set_t *old = c->current;
  c->current = s;
  pthread_mutex_unlock(&c->lock);
  qfx_set_release(old);
}

/* ca_render_json renders JSON body b of m into *body; returns the HTTP
 * status, or a negative errno. */
static int ca_render_json(qfx_cache_t *c, const qfx_model_t *m, int b,
                          char **body, size_t *len) {
  qf_jw_t *w = &c->writer;
  int status = 200;
  qf_jw_reset(w);
  if (b == QFX_B_HEALTH)
    status = qfx_render_health(m, w);
  else if (b == QFX_B_STATUS)
    qfx_render_status(m, w);
  else if (b == QFX_B_AGENT_STATUS)
    qfx_render_agent_status(m, w);
  else
    qfx_render_metrics(m, w);
  int rc = qf_jw_finish(w, body, len);
  return rc != 0 ? rc : status;
}

/* ca_render_body renders body b of m into e. A failed rendering (out of
 * memory) still leaves an answer: a 500 with a static JSON error. */
static int ca_render_body(qfx_cache_t *c, const qfx_model_t *m, int b,
                          qfx_response_t *e) {
  static const char failed[] = "{\"success\":false,\"error\":\"rendering "
                               "failed\"}";
  char *body = NULL;
  size_t len = 0;
  const char *ctype = QFX_CT_JSON;
  int status;
  if (b == QFX_B_METRICS_PROM || b == QFX_B_METRICS_OM) {
    ctype = b == QFX_B_METRICS_OM ? QFX_CT_OPENMETRICS : QFX_CT_PROM;
    status = qfx_render_prom(m, b == QFX_B_METRICS_OM, &body, &len);
    status = status == 0 ? 200 : status;
  } else {
    status = ca_render_json(c, m, b, &body, &len);
  }
  if (status < 0) {
    QFX_ERROR("rendering body %d failed: %s", b, strerror(-status));
    if ((body = strdup(failed)) == NULL)
      return -ENOMEM;
    len = sizeof(failed) - 1;
    status = 500;
    ctype = QFX_CT_JSON;
  }
  bool metrics =
      b == QFX_B_METRICS || b == QFX_B_METRICS_PROM || b == QFX_B_METRICS_OM;
  return qfx_response_build(e, (unsigned)status, ctype, body, len, &c->headers,
                            metrics ? QFX_VARY_ACCEPT : QFX_VARY);
}

/* ca_render builds a new set from m; NULL when out of memory. */
static qfx_set_t *ca_render(qfx_cache_t *c, const qfx_model_t *m) {
  qfx_set_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  atomic_init(&s->refs, 1);
  s->project = qfx_project_ref(c->shown);
  for (int b = 0; b < QFX_B_N; b++) {
    if (ca_render_body(c, m, b, &s->bodies[b]) != 0) {
      qfx_set_release(s);
      return NULL;
    }
  }
  return s;
}

/* ca_log_host says whose values a new good reading holds, when that
 * changed. */
static void ca_log_host(const qfx_cache_t *c, const qfx_resources_t *r) {
  if (strcmp(r->host, c->res.host) == 0 && c->last_ok > 0.0)
    return;
  if (r->host[0] != '\0')
    QFX_INFO("serving collectd host \"%s\"", r->host);
  else
    QFX_WARNING("collectd has no values for %s%s yet",
                c->opts->host[0] ? "host " : "any host", c->opts->host);
}

/* ca_read_collectd takes the reader's latest state: a new good reading
 * replaces the served one; a failed or overdue one keeps it (served as
 * stale) and makes collectd count as unreachable. Logs once per outage
 * and once per recovery. */
static void ca_read_collectd(qfx_cache_t *c, double mono) {
  qfx_reading_t r;
  qfx_reader_get(&c->reader, &r);
  if (r.last_ok_mono > 0.0 && r.last_ok_mono != c->last_ok_mono) {
    ca_log_host(c, &r.res);
    c->res = r.res;
    c->last_ok = r.last_ok;
    c->last_ok_mono = r.last_ok_mono;
  }
  bool hung = qfx_reader_hung(r.attempt_mono, mono, c->opts->refresh_ms);
  c->connected = r.ok && !hung;
  if (hung)
    snprintf(c->error, sizeof(c->error),
             "no answer on %s for %.1f s "
             "(collectd stopped or hung)",
             c->opts->socket_path, mono - r.attempt_mono);
  else
    snprintf(c->error, sizeof(c->error), "%s", r.error);
  if (!c->connected && !c->down_logged && (r.done > 0 || hung))
    QFX_WARNING("collectd unreachable: %s; serving the last good data as "
                "stale, retrying every refresh",
                c->error);
  else if (c->connected && c->down_logged)
    QFX_NOTICE("collectd reachable again at %s", c->opts->socket_path);
  if (r.done > 0 || hung)
    c->down_logged = !c->connected;
}

/* ca_snapshot_log logs a refresh that failed (rc < 0): once per distinct
 * error, the last good document being kept. */
static void ca_snapshot_log(const qf_snapshot_t *s, int rc, char *logged,
                            size_t loglen) {
  if (rc >= 0) {
    logged[0] = '\0';
    return;
  }
  const char *why = s->error[0] ? s->error : strerror(-rc);
  if (strcmp(why, logged) != 0)
    QFX_WARNING("snapshot %s unusable, keeping the last good one: %s", s->path,
                why);
  snprintf(logged, loglen, "%s", why);
}

/* ca_snapshot refreshes one snapshot reader and returns what
 * qf_snapshot_refresh did; a broken file keeps the last good document. */
static int ca_snapshot(qf_snapshot_t *s, char *logged, size_t loglen) {
  int rc = qf_snapshot_refresh(s);
  ca_snapshot_log(s, rc, logged, loglen);
  return rc;
}

/* ca_index indexes the project.json open as fd (len bytes) against the
 * last version, scanning it a window at a time (qfx_project_update_src:
 * only the blocks of issues whose text changed are read whole and parsed;
 * the whole text of a large repository would cost tens of megabytes);
 * fd -1: the file vanished. */
static int ca_index(qfx_cache_t *c, int fd, size_t len, qfx_project_t **p) {
  char err[200] = "";
  int rc;
  if (fd < 0) {
    rc = qfx_project_build(NULL, 0, &c->headers, p, err, sizeof(err));
  } else {
    qf_src_t src = {.fd = fd, .len = len};
    rc = qfx_project_update_src(c->project, &src, &c->headers, p, err,
                                sizeof(err));
  }
  if (rc == -EINVAL || rc == -EOVERFLOW || rc == -EIO)
    qf_snapshot_fail(&c->project_snap, err); /* until the file changes */
  return rc;
}

/* ca_project re-indexes project.json when it changed; a broken file keeps
 * the last good project, a vanished one empties it. True when the
 * project changed. */
static bool ca_project(qfx_cache_t *c) {
  qf_snapshot_t *s = &c->project_snap;
  int fd = -1;
  size_t len = 0;
  qfx_project_t *p = NULL;
  int rc = qf_snapshot_refresh_fd(s, &fd, &len);
  if (rc == 1)
    rc = ca_index(c, fd, len, &p);
  if (fd >= 0)
    close(fd);
  if (rc == -ENOMEM)
    QFX_ERROR("out of memory indexing %s; serving the previous project",
              s->path);
  else
    ca_snapshot_log(s, rc, c->snap_logged[1], sizeof(c->snap_logged[1]));
  if (p == NULL)
    return false;
  qfx_project_release(c->project);
  c->project = p;
  return true;
}

/* ca_stuck_entry appends one issues_requiring_human_intervention entry
 * for an agent anomaly a (stuck or looping, with an issue) to w. */
static void ca_stuck_entry(qf_jw_t *w, yajl_val a, const char *repo) {
  long long issue;
  const char *kind = qf_json_get_str(a, "kind");
  if (kind == NULL || qf_json_get_int(a, "issue", &issue) != 0 || issue < 1 ||
      (strcmp(kind, "stuck_agent") != 0 && strcmp(kind, "looping_agent") != 0))
    return;
  char url[400];
  qf_jw_obj_open(w);
  qf_jw_kint(w, "id", issue);
  qf_jw_knull(w, "title");
  qf_jw_kstr(w, "priority", "review");
  qf_jw_kstr(w, "reason", qf_json_get_str(a, "reason"));
  qf_jw_kstr(w, "trigger", kind);
  qf_jw_knull(w, "blocked_duration_hours");
  if (repo != NULL && snprintf(url, sizeof(url),
                               "https://github.com/%s/"
                               "issues/%lld",
                               repo, issue) < (int)sizeof(url))
    qf_jw_kstr(w, "github_url", url);
  else
    qf_jw_knull(w, "github_url");
  qf_jw_obj_close(w);
}

/* ca_stuck_list renders the entries of anomalies.json's agent anomalies as
 * the elements of a JSON array (no brackets) into *out; "" for none. */
static int ca_stuck_list(qfx_cache_t *c, char **out) {
  yajl_val list = qf_json_get(c->anomalies.doc, "anomalies");
  const char *repo = qf_json_get_str(c->project->doc, "repository");
  qf_jw_t *w = &c->writer;
  qf_jw_reset(w);
  qf_jw_arr_open(w);
  for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++)
    ca_stuck_entry(w, list->u.array.values[i], repo);
  qf_jw_arr_close(w);
  char *text = NULL;
  size_t len = 0;
  int rc = qf_jw_finish(w, &text, &len);
  if (rc != 0)
    return rc;
  memmove(text, text + 1, len - 2); /* drop the brackets */
  text[len - 2] = '\0';
  *out = text;
  return 0;
}

/* ca_shown_plain shows the project without additions when none could be
 * made (out of memory) and nothing is shown yet: c->shown is never NULL
 * after a refresh; the additions are tried again next time. */
static void ca_shown_plain(qfx_cache_t *c) {
  if (c->shown != NULL)
    return;
  c->shown = qfx_project_ref(c->project);
  free(c->shown_extra);
  c->shown_extra = NULL;
}

/* ca_shown makes c->shown c->project with the stuck agents' issues added
 * whenever either changed; keeps the previous one when out of memory. */
static void ca_shown(qfx_cache_t *c) {
  char *extra = NULL;
  qfx_project_t *p = NULL;
  if (ca_stuck_list(c, &extra) != 0) {
    QFX_ERROR("out of memory listing stuck agents' issues");
    ca_shown_plain(c);
    return;
  }
  if (c->shown != NULL && c->shown_extra != NULL &&
      strcmp(extra, c->shown_extra) == 0 &&
      (c->shown == c->project || c->shown->base == c->project)) {
    free(extra);
    return;
  }
  if (extra[0] == '\0')
    p = qfx_project_ref(c->project);
  else if (qfx_project_overlay(c->project, extra, strlen(extra), &p) != 0) {
    QFX_ERROR("out of memory adding stuck agents' issues to the project");
    free(extra);
    ca_shown_plain(c);
    return;
  }
  qfx_project_release(c->shown);
  c->shown = p;
  free(c->shown_extra);
  c->shown_extra = extra;
}

/* ca_state_dir checks that --state-dir is a directory this user can read
 * (else no snapshot can be: /health says so); the reason goes to
 * c->state_error, logged when it changes. */
static void ca_state_dir(qfx_cache_t *c) {
  const char *dir = c->opts->state_dir;
  char why[sizeof(c->state_error)] = "";
  struct stat st;
  int e = stat(dir, &st) == 0 ? 0 : errno;
  if (e == 0 && S_ISDIR(st.st_mode) && access(dir, R_OK | X_OK) != 0)
    e = errno;
  if (e == ENOENT)
    qf_err(why, sizeof(why),
           "--state-dir %s: %s (give the plugins' "
           "StateDir; they create it when collectd starts)",
           dir, strerror(e));
  else if (e != 0)
    qf_err(why, sizeof(why),
           "--state-dir %s: %s (this user must be able "
           "to read the snapshots in it)",
           dir, strerror(e));
  else if (!S_ISDIR(st.st_mode))
    qf_err(why, sizeof(why), "--state-dir %s: not a directory", dir);
  if (strcmp(why, c->state_error) == 0)
    return;
  if (why[0] != '\0')
    QFX_WARNING("%s; /health answers 503 until it is usable", why);
  else
    QFX_NOTICE("--state-dir %s usable again", dir);
  qf_strcpy(c->state_error, sizeof(c->state_error), why);
}

/* ca_swarm_file reads (or creates) StateDir/swarm_id until it succeeds;
 * the first failure is logged (the state dir may appear later). */
static void ca_swarm_file(qfx_cache_t *c) {
  if (c->swarm_file[0] != '\0')
    return;
  char err[300] = "";
  int rc = qf_swarm_id_resolve(NULL, c->opts->state_dir, c->swarm_file,
                               sizeof(c->swarm_file), err, sizeof(err));
  if (rc == 0)
    return;
  c->swarm_file[0] = '\0';
  if (!c->swarm_logged)
    QFX_WARNING("swarm id not available yet (%s); serving null and "
                "retrying every refresh",
                err[0] ? err : strerror(-rc));
  c->swarm_logged = true;
}

/* ca_swarm_conflict logs a heartbeat.json whose id disagrees with
 * --swarm-id, once per id (the start refused one already there). */
static void ca_swarm_conflict(qfx_cache_t *c, const qfx_hb_swarm_t *hb) {
  char err[1024];
  if (!qfx_swarm_conflict(c->opts->swarm_id, hb, c->opts->state_dir, err,
                          sizeof(err))) {
    c->swarm_conflict[0] = '\0';
    return;
  }
  if (strcmp(hb->id, c->swarm_conflict) == 0)
    return;
  QFX_ERROR("%s; serving --swarm-id until then", err);
  qf_strcpy(c->swarm_conflict, sizeof(c->swarm_conflict), hb->id);
}

/* ca_swarm_id picks the swarm id to serve at this refresh (swarm.h) and
 * logs where it comes from whenever it changes. */
static void ca_swarm_id(qfx_cache_t *c) {
  const char *flag = c->opts->swarm_id;
  qfx_hb_swarm_t hb = qfx_swarm_of_heartbeat(c->heartbeat.doc);
  ca_swarm_conflict(c, &hb);
  if (flag[0] == '\0' && hb.id == NULL && c->state_error[0] == '\0')
    ca_swarm_file(c); /* never creates a --state-dir that is not there */
  const char *id = qfx_swarm_pick(flag, &hb, c->swarm_file);
  if (id == NULL || strcmp(id, c->swarm_id) == 0)
    return;
  const char *from = flag[0] != '\0' ? "--swarm-id"
                     : hb.id == NULL ? "StateDir/swarm_id"
                     : hb.configured ? "qiflow_heartbeat's SwarmID, in "
                                       "heartbeat.json"
                                     : "qiflow_heartbeat's generated id, in "
                                       "heartbeat.json";
  if (c->swarm_id[0] != '\0')
    QFX_NOTICE("swarm id now \"%s\" (was \"%s\"), from %s", id, c->swarm_id,
               from);
  else
    QFX_INFO("swarm id \"%s\", from %s", id, from);
  qf_strcpy(c->swarm_id, sizeof(c->swarm_id), id);
}

void qfx_cache_refresh(qfx_cache_t *c) {
  double wall = qf_clock_s(CLOCK_REALTIME), mono = qf_mono_s();
  ca_read_collectd(c, mono);
  ca_state_dir(c);
  ca_snapshot(&c->agents, c->snap_logged[0], sizeof(c->snap_logged[0]));
  /* not at init: see qfx_cache_init */
  bool indexed = c->thread_started && ca_project(c);
  ca_snapshot(&c->heartbeat, c->snap_logged[2], sizeof(c->snap_logged[2]));
  ca_snapshot(&c->anomalies, c->snap_logged[3], sizeof(c->snap_logged[3]));
  ca_shown(c);
  ca_swarm_id(c);
  qfx_model_t m = {
      .now = wall,
      .swarm_id = c->swarm_id[0] ? c->swarm_id : NULL,
      .version = QF_VERSION,
      .hostname = c->res.host[0] ? c->res.host : c->hostname,
      .platform = c->platform,
      .socket_path = c->opts->socket_path,
      .api_port = c->opts->port,
      .refresh_ms = c->opts->refresh_ms,
      .connected = c->connected,
      .error = c->error,
      .state_error = c->state_error[0] ? c->state_error : NULL,
      .last_ok = c->last_ok,
      .stale =
          qfx_stale(mono, c->last_ok_mono, c->opts->refresh_ms, c->connected),
      .res = &c->res,
      .agents = c->agents.doc,
      .project = c->project->doc,
      .flagged_issues =
          c->project->doc != NULL ? (long long)c->project->nflagged : -1,
      .flagged_by_trigger =
          c->project->doc != NULL ? c->project->flagged_by_trigger : NULL,
      .flagged_list = c->shown->doc != NULL || c->shown->base != NULL
                          ? c->shown->human
                          : NULL,
      .flagged_list_len = c->shown->human_len,
      .heartbeat = c->heartbeat.doc,
      .anomalies = c->anomalies.doc,
  };
  qfx_set_t *s = ca_render(c, &m);
  if (s == NULL)
    QFX_ERROR("out of memory rendering responses; serving the previous "
              "ones");
  else
    ca_publish(c, s);
  /* Indexing leaves the file's text, the parser's buffers and (once the
   * set holding it is released above) the previous project freed in the
   * heap; hand them back to the system rather than keep them. */
  if (indexed)
    malloc_trim(0);
}

int qfx_cache_init(qfx_cache_t *c, const qfx_opts_t *o, char *err,
                   size_t errlen) {
  memset(c, 0, sizeof(*c));
  c->opts = o;
  qfx_resources_init(&c->res);
  if (o->refresh_ms >= 1000)
    snprintf(c->cache_control, sizeof(c->cache_control), "max-age=%ld",
             o->refresh_ms / 1000);
  else
    snprintf(c->cache_control, sizeof(c->cache_control), "no-cache");
  c->headers.cors_origin = o->cors_origin;
  c->headers.cache_control = c->cache_control;
  if (gethostname(c->hostname, sizeof(c->hostname) - 1) != 0)
    snprintf(c->hostname, sizeof(c->hostname), "localhost");
  qf_platform(c->platform, sizeof(c->platform));
  int rc = qf_mono_locks_init(&c->lock, &c->wake);
  c->locks_ready = rc == 0;
  if (rc == 0)
    rc = qfx_reader_init(&c->reader, o->socket_path, o->host, o->refresh_ms);
  if (rc == 0)
    rc = qf_snapshot_init(&c->agents, o->state_dir, "agents.json");
  if (rc == 0)
    rc = qf_snapshot_init(&c->project_snap, o->state_dir, "project.json");
  if (rc == 0)
    rc = qfx_project_build(NULL, 0, &c->headers, &c->project, NULL, 0);
  if (rc == 0)
    rc = qf_snapshot_init(&c->heartbeat, o->state_dir, "heartbeat.json");
  if (rc == 0)
    rc = qf_snapshot_init(&c->anomalies, o->state_dir, "anomalies.json");
  if (rc == 0)
    rc = qf_jw_init(&c->writer);
  if (rc != 0) {
    qf_err(err, errlen, "initialising the cache: %s", strerror(-rc));
    return rc; /* qfx_cache_destroy frees what was set up */
  }
  if (qfx_reader_start(&c->reader, err, errlen) != 0)
    return -EAGAIN;
  qfx_reader_wait(&c->reader, CA_FIRST_READING_MS);
  /* The first set leaves project.json out: indexing a large one takes a
   * few hundred ms, which the server's start should not wait for. The
   * refresh thread's first refresh, right after the start, reads it. */
  qfx_cache_refresh(c);
  if (c->current == NULL) {
    qf_err(err, errlen, "rendering the first responses: out of memory");
    return -ENOMEM;
  }
  return 0;
}

/* ca_thread refreshes on a fixed schedule until told to stop; a refresh
 * that overran its period starts the schedule again from now. */
static void *ca_thread(void *arg) {
  qfx_cache_t *c = arg;
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  qfx_cache_refresh(c); /* at once: the first with project.json */
  pthread_mutex_lock(&c->lock);
  while (!c->stop) {
    qf_timespec_add_ms(&next, c->opts->refresh_ms);
    while (!c->stop &&
           pthread_cond_timedwait(&c->wake, &c->lock, &next) != ETIMEDOUT)
      ;
    if (c->stop)
      break;
    pthread_mutex_unlock(&c->lock);
    qfx_cache_refresh(c);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next.tv_sec + 1)
      next = now;
    pthread_mutex_lock(&c->lock);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

int qfx_cache_start(qfx_cache_t *c, char *err, size_t errlen) {
  c->thread_started = true; /* before the thread reads it */
  int rc = pthread_create(&c->thread, NULL, ca_thread, c);
  if (rc != 0) {
    c->thread_started = false;
    qf_err(err, errlen, "starting the refresh thread: %s", strerror(rc));
    return -rc;
  }
  return 0;
}

void qfx_cache_destroy(qfx_cache_t *c) {
  if (c->opts == NULL)
    return; /* never initialised */
  if (c->thread_started) {
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    c->thread_started = false;
  }
  qfx_set_release(c->current);
  c->current = NULL;
  qf_jw_free(&c->writer);
  qf_snapshot_destroy(&c->agents);
  qf_snapshot_destroy(&c->project_snap);
  qfx_project_release(c->project);
  c->project = NULL;
  qfx_project_release(c->shown);
  c->shown = NULL;
  free(c->shown_extra);
  c->shown_extra = NULL;
  qf_snapshot_destroy(&c->heartbeat);
  qf_snapshot_destroy(&c->anomalies);
  qfx_reader_destroy(&c->reader);
  if (c->locks_ready) {
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
  }
  c->opts = NULL;
}
