/* heartbeat_target.c: a backend's delivery step, its request budget, and
 * what each answer means in the log. */
#include "heartbeat_target.h"

#include "heartbeat_budget.h"
#include "heartbeat_config.h"
#include "qf_file.h"
#include "qf_gzip.h"
#include "qf_buf.h"
#include "qf_cond.h"
#include "qf_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HBT_MAX_DROPPED_LOGGED 16 /* ids named per append; the rest counted */

void hb_logf(const hb_logger_t *l, int severity, const char *fmt, ...) {
  if (l == NULL || l->fn == NULL)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  l->fn(l->ud, severity, msg);
}

/* hbt_clocks reads the monotonic and the wall clock at one instant. */
static void hbt_clocks(double *mono, double *wall) {
  *mono = qf_mono_s();
  *wall = qf_clock_s(CLOCK_REALTIME);
}

/* hbt_budget_restore reads the window's request times saved by an earlier
 * run, so a restart does not reset the budget. A missing file is a first
 * start; an unreadable one is said and costs only that memory. */
static void hbt_budget_restore(hb_backend_t *b, const hb_logger_t *log) {
  char *text = NULL;
  size_t len = 0;
  char err[HB_ERROR_MAX];
  size_t max = 64 + (size_t)HB_BUDGET_LINE_MAX * HB_LEARNED_MAX;
  int status = qf_file_read(b->budget_path, max, QF_READ_NOFOLLOW, &text, &len,
                            err, sizeof(err));
  if (status == -ENOENT)
    return;
  double mono, wall;
  hbt_clocks(&mono, &wall);
  size_t loaded = 0;
  if (status == 0 && hb_budget_load(&b->dl, text, mono, wall, &loaded) != 0) {
    snprintf(err, sizeof(err), "%s is not a request budget file",
             b->budget_path);
    status = -EINVAL;
  }
  if (status != 0)
    hb_logf(log, HB_LOG_WARNING,
            "backend %s: the request budget of the earlier run is not "
            "known (%s); counting from zero",
            b->name, err);
  else if (loaded > 0)
    hb_logf(log, HB_LOG_INFO,
            "backend %s: %zu %s of the last %g s counted against "
            "RequestLimit %d (from before the restart)",
            b->name, loaded, hb_plural(loaded, "request", "requests"),
            b->policy.window, b->policy.limit);
  if (status == 0 && b->dl.learned_limit > 0)
    hb_logf(log, HB_LOG_INFO,
            "backend %s: pacing to the RateLimit-Policy it announced before "
            "the restart (%d requests per %g s)",
            b->name, b->dl.learned_limit, b->dl.learned_window);
  free(text);
}

void hb_backend_request_started(hb_backend_t *b, double now,
                                const hb_logger_t *log) {
  hb_deliver_started(&b->dl, now);
  if (b->budget_path == NULL ||
      (b->policy.limit <= 0 && b->dl.learned_limit <= 0))
    return;
  struct timespec w;
  clock_gettime(CLOCK_REALTIME, &w);
  double wall = (double)w.tv_sec + (double)w.tv_nsec / 1e9;
  char *text = NULL;
  size_t len = 0;
  char err[HB_ERROR_MAX];
  int status = hb_budget_render(&b->dl, now, wall, &text, &len);
  if (status == 0)
    status =
        qf_file_write_atomic(b->budget_path, text, len, 0600, err, sizeof(err));
  else
    qf_strcpy(err, sizeof(err), "out of memory");
  free(text);
  if (status != 0 && !b->budget_save_failing)
    hb_logf(log, HB_LOG_ERR,
            "backend %s: cannot save the request budget (%s): a restart "
            "would count from zero",
            b->name, err);
  else if (status == 0 && b->budget_save_failing)
    hb_logf(log, HB_LOG_NOTICE, "backend %s: request budget saved again",
            b->name);
  b->budget_save_failing = status != 0;
}

void hb_stats_init(hb_stats_t *st) {
  memset(st, 0, sizeof(*st));
  st->last_status = -1;
  st->last_latency_ms = NAN;
}

int hb_backend_start(hb_backend_t *b, const char *spool_dir,
                     const hb_logger_t *log, char *err, size_t errlen) {
  size_t discarded = 0;
  hb_stats_init(&b->st);
  int status = hb_spool_open(&b->spool, spool_dir, b->name, b->spool_max,
                             &discarded, err, errlen);
  if (status != 0)
    return status;
  if (discarded > 0)
    hb_logf(log, HB_LOG_WARNING,
            "backend %s: cut %zu %s of a torn record off the spool's "
            "tail (a crash during a write); every complete heartbeat is "
            "kept",
            b->name, discarded, hb_plural(discarded, "byte", "bytes"));
  status = hb_deliver_init(&b->dl, &b->policy);
  qf_buf_t path = QF_BUF_INIT;
  if (status == 0 &&
      qf_buf_printf(&path, "%s/%s" HB_BUDGET_SUFFIX, spool_dir, b->name) != 0)
    status = -ENOMEM;
  if (status != 0) {
    qf_buf_free(&path);
    hb_deliver_free(&b->dl);
    hb_spool_close(&b->spool);
    qf_err(err, errlen, "out of memory");
    return status;
  }
  b->budget_path = qf_buf_steal(&path, NULL);
  hbt_budget_restore(b, log);
  b->started = true;
  size_t depth = hb_spool_depth(&b->spool);
  b->held = depth > 0;
  if (depth > 0)
    hb_logf(log, HB_LOG_NOTICE,
            "backend %s: %zu %s from before the restart %s spooled; %s "
            "after this run's first heartbeat, which goes last",
            b->name, depth, hb_plural(depth, "heartbeat", "heartbeats"),
            hb_plural(depth, "is", "are"),
            b->replay_latest ? "superseded (Replay \"latest\")"
                             : "delivered oldest first");
  return 0;
}

void hb_backend_stop(hb_backend_t *b) {
  if (!b->started)
    return;
  hb_spool_close(&b->spool);
  hb_deliver_free(&b->dl);
  free(b->budget_path);
  b->budget_path = NULL;
  b->started = false;
}

void hb_backend_free(hb_backend_t *b) {
  if (b == NULL)
    return;
  hb_backend_stop(b);
  if (b->api_key != NULL) /* do not leave the key in freed memory */
    memset(b->api_key, 0, strlen(b->api_key));
  free(b->name);
  free(b->url);
  free(b->api_key);
  free(b->ca_cert);
  free(b->client_cert);
  free(b->client_key);
  free(b);
}

/* hbt_budget_begin says once that an episode of a short budget begins. */
static void hbt_budget_begin(hb_backend_t *b, double now, bool for_good,
                             const hb_logger_t *log) {
  const hb_policy_t *p = &b->policy;
  if (for_good)
    hb_logf(log, HB_LOG_WARNING,
            "backend %s: the request budget (RequestLimit %d per "
            "RequestWindow %g s) cannot carry every heartbeat: a heartbeat "
            "every %g s needs %d requests per %g s. The newest heartbeat "
            "goes first, one request per %.0f s at most; older ones waiting "
            "are superseded (each stays in the JSON-lines log). Raise "
            "Interval, or RequestLimit within the backend's own limit",
            b->name, p->limit, p->window, p->live_interval,
            hb_budget_live_need(p), p->window, b->dl.spacing);
  else
    hb_logf(log, HB_LOG_WARNING,
            "backend %s: the request budget (RequestLimit %d per "
            "RequestWindow %g s) cannot carry every heartbeat: its %d "
            "requests of the last %g s are used (restarts included); "
            "heartbeats wait in the spool (%zu now) until there is room "
            "again in %.0f s",
            b->name, p->limit, p->window, p->limit, p->window,
            hb_spool_depth(&b->spool), hb_deliver_ready_at(&b->dl, now) - now);
  b->budget_exhausted = true;
  b->budget_since = now;
  b->budget_superseded = 0;
}

/* hbt_budget_check applies the budget to the live heartbeat just spooled
 * (see hb_backend_enqueue). */
static void hbt_budget_check(hb_backend_t *b, double now,
                             const hb_logger_t *log) {
  bool for_good = !hb_budget_carries_live(&b->policy);
  if (hb_budget_short(&b->dl, now)) {
    b->dl.spacing = for_good ? b->policy.window / (double)b->policy.limit : 0.0;
    if (!b->budget_exhausted)
      hbt_budget_begin(b, now, for_good, log);
    size_t n = 0;
    char err[HB_ERROR_MAX];
    if (for_good && hb_spool_supersede(&b->spool, &n, err, sizeof(err)) != 0)
      hb_logf(log, HB_LOG_ERR, "backend %s: %s", b->name, err);
    b->st.superseded += n;
    b->budget_superseded += n;
  } else if (b->budget_exhausted) {
    b->dl.spacing = 0.0;
    b->budget_exhausted = false;
    hb_logf(
        log, HB_LOG_NOTICE,
        "backend %s: the request budget carries every heartbeat again "
        "after %.0f s (%llu older %s superseded meanwhile)",
        b->name, now - b->budget_since, b->budget_superseded,
        hb_plural(b->budget_superseded, "heartbeat was", "heartbeats were"));
  }
}

int hb_backend_enqueue(hb_backend_t *b, long long id, const char *body,
                       size_t len, double now, const hb_logger_t *log) {
  long long ids[HBT_MAX_DROPPED_LOGGED];
  size_t n = 0;
  char err[HB_ERROR_MAX];
  int status = hb_spool_append(&b->spool, id, body, len, ids,
                               HBT_MAX_DROPPED_LOGGED, &n, err, sizeof(err));
  for (size_t i = 0; i < n; i++) {
    b->st.dropped++;
    if (i < HBT_MAX_DROPPED_LOGGED)
      hb_logf(log, HB_LOG_WARNING,
              "backend %s: dropped undelivered heartbeat %lld, the oldest in "
              "the spool, to stay under SpoolMaxBytes %zu (%llu dropped so "
              "far)",
              b->name, ids[i], b->spool_max, b->st.dropped);
  }
  if (n > HBT_MAX_DROPPED_LOGGED)
    hb_logf(log, HB_LOG_WARNING, "backend %s: %zu more %s dropped", b->name,
            n - HBT_MAX_DROPPED_LOGGED,
            hb_plural(n - HBT_MAX_DROPPED_LOGGED, "heartbeat", "heartbeats"));
  if (status != 0) {
    if (status == -EFBIG)
      b->st.dropped++;
    hb_logf(log, HB_LOG_ERR, "backend %s: heartbeat %lld not spooled: %s",
            b->name, id, err);
    return status;
  }
  b->held = false;
  size_t superseded = 0;
  if (b->replay_latest &&
      hb_spool_supersede(&b->spool, &superseded, err, sizeof(err)) != 0)
    hb_logf(log, HB_LOG_ERR, "backend %s: %s", b->name, err);
  b->st.superseded += superseded;
  hbt_budget_check(b, now, log);
  return 0;
}

double hb_backend_ready_at(const hb_backend_t *b, double now) {
  if (!b->started || b->held || hb_spool_depth(&b->spool) == 0)
    return INFINITY;
  return hb_deliver_ready_at(&b->dl, now);
}

/* hbt_header appends "Name: value" to a NULL-terminated header list. */
static int hbt_headers(const hb_backend_t *b, qf_buf_t *auth,
                       const char *hdrs[5]) {
  size_t n = 0;
  hdrs[n++] = "Content-Type: application/json";
  hdrs[n++] = "Accept: application/json";
  if (b->compress)
    hdrs[n++] = "Content-Encoding: gzip";
  if (b->api_key != NULL) {
    if (qf_buf_printf(auth, "Authorization: Bearer %s", b->api_key) != 0)
      return -ENOMEM;
    hdrs[n++] = auth->data;
  }
  hdrs[n] = NULL;
  return 0;
}

/* hbt_post sends one body with the backend's settings, giving up after
 * timeout seconds, and fills resp. */
static int hbt_post(const hb_backend_t *b, const hb_env_t *env,
                    const char *body, size_t len, double timeout,
                    qf_http_response_t *resp) {
  char *gz = NULL;
  size_t gzlen = 0;
  if (b->compress && qf_gzip(body, len, &gz, &gzlen) != 0) {
    qf_strcpy(resp->error, sizeof(resp->error), "gzip failed");
    return -ENOMEM;
  }
  qf_buf_t auth = QF_BUF_INIT;
  const char *hdrs[5];
  int status = hbt_headers(b, &auth, hdrs);
  if (status == 0) {
    qf_http_request_t req = {
        .method = "POST",
        .url = b->url,
        .headers = hdrs,
        .body = gz != NULL ? gz : body,
        .body_len = gz != NULL ? gzlen : len,
        .timeout_ms = (long)(timeout * 1000.0),
        .max_body = (size_t)64 * 1024,
        .ca_cert = b->ca_cert,
        .client_cert = b->client_cert,
        .client_key = b->client_key,
        .abort_cb = env->abort_cb,
        .abort_ud = env->abort_ud,
    };
    status = qf_http_perform(env->http, &req, resp);
  }
  if (auth.data != NULL) /* the header held the key */
    memset(auth.data, 0, auth.len);
  qf_buf_free(&auth);
  free(gz);
  return status;
}

void hb_backend_describe(const hb_backend_t *b, const char *swarm_id,
                         hb_class_t c, long status, const char *text, char *out,
                         size_t outlen) {
  switch (c) {
  case HB_CLASS_AUTH:
    snprintf(out, outlen,
             "backend %s refused the API key (%ld \"%s\"): check APIKey, "
             "APIKeyFile or the " HB_KEY_ENV " environment variable",
             b->name, status, text);
    break;
  case HB_CLASS_UNREGISTERED:
    snprintf(out, outlen,
             "backend %s does not know swarm \"%s\" (404 \"%s\"): the swarm "
             "is not registered there; register it with this swarm_id "
             "(POST /api/v1/swarms/swarms on the backend, see the README)",
             b->name, swarm_id, text);
    break;
  case HB_CLASS_WRONG_PATH:
    snprintf(
        out, outlen,
        "backend %s answered 404 \"%s\" for %s: the URL's path is "
        "wrong; the QiFlow backend serves heartbeats at POST " HB_PATH_WORKING
        " (its documentation's " HB_PATH_DOCUMENTED
        " answers 404); set URL to https://HOST" HB_PATH_WORKING,
        b->name, text, b->url_public);
    break;
  case HB_CLASS_BAD_REQUEST:
    snprintf(out, outlen, "backend %s rejected the heartbeat (400 \"%s\")",
             b->name, text);
    break;
  case HB_CLASS_CANCELED:
    snprintf(out, outlen,
             "backend %s: the request was stopped (collectd is "
             "stopping)",
             b->name);
    break;
  case HB_CLASS_RETRY:
    if (status == 0)
      snprintf(out, outlen, "backend %s unreachable: %s", b->name, text);
    else
      snprintf(out, outlen, "backend %s answered %ld \"%s\"", b->name, status,
               text);
    break;
  default:
    snprintf(out, outlen, "backend %s answered %ld \"%s\"", b->name, status,
             text);
    break;
  }
}

void hb_transport_text(const qf_http_response_t *resp, char *out,
                       size_t outlen) {
  static const qf_http_tls_keys_t keys = {.url = "URL",
                                          .ca_cert = "CACert",
                                          .client_cert = "ClientCert",
                                          .client_key = "ClientKey"};
  char hint[320];
  qf_http_tls_hint(resp->error, &keys, hint, sizeof(hint));
  snprintf(out, outlen, "%s%s",
           resp->error[0] != '\0' ? resp->error : "request failed", hint);
}

/* hbt_answer_text is the reason for a failed request: the transport error,
 * or the backend's own error text, with the key redacted. */
static void hbt_answer_text(const hb_backend_t *b, int rc,
                            const qf_http_response_t *resp, char *out,
                            size_t outlen) {
  if (rc != 0)
    hb_transport_text(resp, out, outlen);
  else
    hb_error_text(resp->body.data, resp->body.len, out, outlen);
  hb_redact_secret(out, outlen, b->api_key);
}

/* hbt_delivered books a success and says so when it ends an outage. */
static void hbt_delivered(hb_backend_t *b, const hb_env_t *env, double now) {
  char err[HB_ERROR_MAX];
  if (hb_spool_pop(&b->spool, err, sizeof(err)) != 0)
    hb_logf(&env->log, HB_LOG_ERR, "backend %s: %s", b->name, err);
  if (b->down_since > 0) {
    size_t left = hb_spool_depth(&b->spool);
    hb_logf(&env->log, HB_LOG_NOTICE,
            "backend %s: delivering again after %.0f s; %zu spooled %s left "
            "to replay",
            b->name, now - b->down_since, left,
            hb_plural(left, "heartbeat", "heartbeats"));
    b->down_since = 0;
  }
  b->last_class = HB_CLASS_OK;
}

/* The fields of a spooled heartbeat that decide whether a refusal is
 * about the record itself. */
typedef struct hbt_rec_s {
  char swarm_id[256]; /* "": none */
  char status[32];    /* "": none */
  bool has_status;
} hbt_rec_t;

/* hbt_rec_read takes swarm_id and status from a spooled body. */
static void hbt_rec_read(const char *body, hbt_rec_t *r) {
  memset(r, 0, sizeof(*r));
  yajl_val doc = qf_json_parse(body, NULL, 0);
  const char *v = qf_json_get_str(doc, "swarm_id");
  if (v != NULL)
    qf_strcpy(r->swarm_id, sizeof(r->swarm_id), v);
  if ((v = qf_json_get_str(doc, "status")) != NULL) {
    qf_strcpy(r->status, sizeof(r->status), v);
    r->has_status = true;
  }
  if (doc != NULL)
    yajl_tree_free(doc);
}

/* hbt_aside_reason says why a refusal concerns the record alone. */
static const char *hbt_aside_reason(hb_class_t orig) {
  switch (orig) {
  case HB_CLASS_UNREGISTERED:
    return "a swarm id this backend does not know and that is no longer "
           "ours";
  case HB_CLASS_BAD_REQUEST:
    return "the backend refuses this body itself";
  default:
    break;
  }
  return "its status is one the backend cannot store, every attempt failed "
         "alike";
}

/* hbt_set_aside moves an undeliverable record out of the way and says so
 * once, with the record's own id and swarm id and the backend's answer. */
static void hbt_set_aside(hb_backend_t *b, const hb_env_t *env, long long id,
                          const hbt_rec_t *rec, hb_class_t orig, long status,
                          const char *text) {
  char what[HB_ERROR_MAX + 400], err[HB_ERROR_MAX];
  snprintf(what, sizeof(what),
           "backend %s refused heartbeat %lld of swarm \"%s\" (%ld \"%s\"): "
           "%s",
           b->name, id, rec->swarm_id, status, text, hbt_aside_reason(orig));
  qf_strcpy(b->st.last_error, sizeof(b->st.last_error), what);
  b->last_class = orig;
  if (hb_spool_set_aside(&b->spool, (long long)time(NULL), status, text, err,
                         sizeof(err)) != 0) {
    /* Not recorded apart: it stays first and is tried again later. Said
     * once per episode (a full disk fails every cycle alike). */
    if (!b->aside_failing)
      hb_logf(&env->log, HB_LOG_ERR,
              "%s; it cannot be set aside (%s), so it stays in the spool "
              "and is tried again every %.0f s (said once until it can be "
              "set aside)",
              what, err, b->policy.reject_delay);
    b->aside_failing = true;
    b->dl.not_before += b->policy.reject_delay;
    return;
  }
  if (b->aside_failing)
    hb_logf(&env->log, HB_LOG_NOTICE,
            "backend %s: refused heartbeats can be set aside again (in %s)",
            b->name, b->spool.rejected_path);
  b->aside_failing = false;
  b->st.set_aside++;
  size_t depth = hb_spool_depth(&b->spool);
  hb_logf(&env->log, HB_LOG_ERR,
          "%s; set aside in %s (%llu so far; replay: see the README) and the "
          "%zu %s behind it go on",
          what, b->spool.rejected_path, b->st.set_aside, depth,
          hb_plural(depth, "heartbeat", "heartbeats"));
}

/* hbt_failed books and logs a failed attempt: every change of cause is
 * logged, a repeat of the same cause while down is not. */
static void hbt_failed(hb_backend_t *b, const hb_env_t *env, double now,
                       const hbt_rec_t *rec, hb_class_t c, long status,
                       const char *text) {
  char what[HB_ERROR_MAX + 400];
  hb_backend_describe(b, rec->swarm_id[0] ? rec->swarm_id : env->swarm_id, c,
                      status, text, what, sizeof(what));
  bool repeat = c == b->last_class && strcmp(b->st.last_error, what) == 0;
  qf_strcpy(b->st.last_error, sizeof(b->st.last_error), what);
  b->last_class = c;
  if (b->down_since == 0)
    b->down_since = now;
  double wait = hb_deliver_ready_at(&b->dl, now) - now;
  size_t depth = hb_spool_depth(&b->spool);
  if (c == HB_CLASS_RATE_LIMITED) {
    hb_logf(&env->log, HB_LOG_WARNING,
            "%s: rate limited; delivery pauses %.0f s, %zu %s in the "
            "spool%s",
            what, wait, depth,
            hb_plural(depth, "heartbeat waits", "heartbeats wait"),
            b->dl.learned_limit > 0 ? " (pacing to the backend's "
                                      "RateLimit-Policy from now on)"
                                    : "");
  } else if (c == HB_CLASS_RETRY && b->dl.mode == HB_MODE_RETRYING) {
    hb_logf(&env->log, HB_LOG_WARNING,
            "%s; attempt %d of %d, retrying in "
            "%.1f s",
            what, b->dl.attempts, b->policy.retries, wait);
  } else if (c == HB_CLASS_RETRY && !repeat) {
    hb_logf(
        &env->log, HB_LOG_ERR,
        "%s; %d %s failed: heartbeats stay in the spool (%zu now) "
        "and the backend is tried again every %.0f s",
        what, b->policy.retries,
        hb_plural((unsigned long long)b->policy.retries, "attempt", "attempts"),
        depth, b->policy.probe_delay);
  } else if (c != HB_CLASS_RETRY && !repeat) { /* once per cause */
    hb_logf(&env->log, HB_LOG_ERR,
            "%s; not retried now: the heartbeat stays in the spool (%zu "
            "waiting) and is tried again in %.0f s",
            what, depth, wait);
  }
}

/* hbt_count books an answer in the counters. */
static void hbt_count(hb_backend_t *b, const hb_answer_t *a) {
  if (a->rc == 0) {
    b->st.last_status = a->status;
    b->st.last_latency_ms = a->seconds * 1000.0;
  }
  if (a->c == HB_CLASS_OK) {
    b->st.sent++;
    b->st.last_success = time(NULL);
    b->st.last_error[0] = '\0';
  } else if (a->c != HB_CLASS_CANCELED) {
    b->st.failed++;
  }
}

void hb_backend_exchange(hb_backend_t *b, const hb_env_t *env, const char *body,
                         size_t len, double timeout, double now,
                         hb_answer_t *a) {
  if (b->dl.mode != HB_MODE_OK)
    b->st.retried++;
  if (b->started)
    hb_backend_request_started(b, now, &env->log);
  b->st.last_attempt = time(NULL);
  qf_http_response_t resp = {0};
  a->rc = hbt_post(b, env, body, len, timeout, &resp);
  hbt_answer_text(b, a->rc, &resp, a->text, sizeof(a->text));
  a->status = a->rc == 0 ? resp.status : 0;
  a->c = a->rc == -ECANCELED ? HB_CLASS_CANCELED
         : a->rc != 0        ? HB_CLASS_RETRY
                             : hb_classify(resp.status, a->text);
  a->seconds = resp.seconds;
  a->retry_after = resp.retry_after;
  qf_strcpy(a->rl_policy, sizeof(a->rl_policy), resp.rl_policy);
  qf_http_response_free(&resp);
  hbt_count(b, a);
}

hb_class_t hb_backend_settle(hb_backend_t *b, const hb_env_t *env, double now,
                             long long id, const char *body,
                             const hb_answer_t *a) {
  hbt_rec_t rec;
  hbt_rec_read(body, &rec);
  double after = now + a->seconds;
  hb_class_t c = a->c;
  if (a->rc == 0)
    c = hb_record_class(c, a->status, a->text, rec.swarm_id,
                        rec.has_status ? rec.status : NULL, env->swarm_id,
                        b->dl.attempts + 1 >= b->policy.retries);
  hb_verdict_t v =
      hb_deliver_answer(&b->dl, after, c, a->retry_after, a->rl_policy);
  if (v == HB_DONE)
    hbt_delivered(b, env, after);
  else if (v == HB_SET_ASIDE)
    hbt_set_aside(b, env, id, &rec, a->c, a->status, a->text);
  else if (c != HB_CLASS_CANCELED)
    hbt_failed(b, env, after, &rec, c, a->status, a->text);
  return c;
}

hb_class_t hb_backend_send_one(hb_backend_t *b, const hb_env_t *env,
                               double now) {
  long long id;
  char *body = NULL;
  size_t len;
  char err[HB_ERROR_MAX];
  if (hb_spool_peek(&b->spool, &id, &body, &len, err, sizeof(err)) != 0) {
    hb_logf(&env->log, HB_LOG_ERR, "backend %s: %s", b->name, err);
    hb_deliver_started(&b->dl, now); /* no request: not saved */
    hb_deliver_answer(&b->dl, now, HB_CLASS_RETRY, -1, NULL);
    return HB_CLASS_RETRY;
  }
  hb_answer_t a;
  hb_backend_exchange(b, env, body, len, b->timeout, now, &a);
  hb_class_t c = hb_backend_settle(b, env, now, id, body, &a);
  free(body);
  return c;
}
