/* github_fetch.c: one GitHub request inside a cycle's budget, the quota
 * and back-off rules, and the cycle's error record. */
#include "github_fetch.h"
#include "github_parse.h"

#include "qf_buf.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gh_sync_logf(gh_sync_t *s, int severity, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (s->log != NULL)
    s->log(s->log_ctx, severity, msg);
}

int gh_sync_error(gh_sync_t *s, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
  va_end(ap);
  /* Parser messages may quote the response: keep the text valid UTF-8 so
   * project.json can carry it. */
  qf_json_utf8_repair(s->last_error);
  s->last_error_at = s->now;
  s->cycle_error = true;
  s->errors_total++;
  if (strcmp(s->last_error, s->last_logged) != 0) {
    gh_sync_logf(s, GH_LOG_WARNING, "%s", s->last_error);
    qf_strcpy(s->last_logged, sizeof(s->last_logged), s->last_error);
  }
  return status;
}

double gh_elapsed(const gh_sync_t *s) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - s->started.tv_sec) +
         (double)(t.tv_nsec - s->started.tv_nsec) / 1e9;
}

bool gh_follow_ok(const gh_sync_t *s, const char *url) {
  size_t n = strlen(s->origin);
  return strncmp(url, s->origin, n) == 0 && (url[n] == '/' || url[n] == '?');
}

/* ghf_reserve is the quota kept back from optional requests. */
static long long ghf_reserve(const gh_mirror_t *m) {
  long long r = m->rl_limit > 0 ? m->rl_limit * GH_RESERVE_PERCENT / 100 : 0;
  return r > GH_RESERVE_MIN ? r : GH_RESERVE_MIN;
}

/* ghf_may_send tells whether one more request fits the cycle. */
static bool ghf_may_send(gh_sync_t *s, int flags) {
  gh_mirror_t *m = &s->m;
  if (s->stopped)
    return false;
  if (s->requests >= GH_MAX_REQUESTS || gh_elapsed(s) >= s->budget) {
    s->stopped = true;
    return false;
  }
  if (m->rl_remaining == 0 && m->rl_reset > s->now) {
    char when[QF_TIME_ISO_LEN];
    qf_time_format((time_t)m->rl_reset, when, sizeof(when));
    m->backoff_until = m->rl_reset;
    s->stopped = true;
    s->dirty = true;
    gh_sync_error(s, -EAGAIN, "GitHub quota exhausted; waiting until %s",
                  when);
    return false;
  }
  if ((flags & GH_FETCH_OPTIONAL) && m->rl_remaining >= 0 &&
      m->rl_remaining <= ghf_reserve(m)) {
    s->quota_short = true;
    return false;
  }
  return true;
}

/* ghf_note_rate keeps the x-ratelimit-* headers of every response. */
static void ghf_note_rate(gh_sync_t *s, const qf_http_response_t *resp) {
  gh_mirror_t *m = &s->m;
  if (resp->rl_limit >= 0)
    m->rl_limit = resp->rl_limit;
  if (resp->rl_remaining >= 0)
    m->rl_remaining = resp->rl_remaining;
  if (resp->rl_reset >= 0)
    m->rl_reset = resp->rl_reset;
}

/* ghf_message returns GitHub's "message" from an error body, or "". */
static void ghf_message(const qf_http_response_t *resp, char *out,
                        size_t outlen) {
  out[0] = '\0';
  if (resp->body.data == NULL || resp->body.len > 65536)
    return;
  yajl_val doc = qf_json_parse(resp->body.data, NULL, 0);
  const char *msg = qf_json_get_str(doc, "message");
  if (msg != NULL)
    snprintf(out, outlen, ": %s", msg);
  if (doc != NULL)
    yajl_tree_free(doc);
}

/* ghf_rate_limited arms the back-off after a 403/429: retry-after when
 * given, else the reset time when the quota is spent, else an exponential
 * wait (GitHub's documented order). */
static int ghf_rate_limited(gh_sync_t *s, const char *shown,
                            const qf_http_response_t *resp) {
  gh_mirror_t *m = &s->m;
  long long until;
  if (resp->retry_after >= 0) {
    until = s->now + resp->retry_after;
  } else if (resp->rl_remaining == 0 && resp->rl_reset > s->now) {
    until = resp->rl_reset;
  } else {
    int shift = m->failures < 6 ? m->failures : 6;
    long long wait = (long long)GH_BACKOFF_MIN << shift;
    until = s->now + (wait < GH_BACKOFF_MAX ? wait : GH_BACKOFF_MAX);
  }
  if (until > m->backoff_until)
    m->backoff_until = until;
  s->stopped = true;
  s->cycle_fatal = true;
  s->dirty = true;
  char when[QF_TIME_ISO_LEN], msg[200];
  qf_time_format((time_t)m->backoff_until, when, sizeof(when));
  ghf_message(resp, msg, sizeof(msg));
  return gh_sync_error(s, -EAGAIN, "%s: HTTP %ld%s; waiting until %s", shown,
                       resp->status, msg, when);
}

/* ghf_headers builds the request headers; auth and inm are the caller's
 * buffers for the two variable ones. */
static void ghf_headers(gh_sync_t *s, const char *url, int flags,
                        const char **hdrs, char *auth, size_t authlen,
                        char *inm, size_t inmlen) {
  size_t n = 0;
  hdrs[n++] = "Accept: application/vnd.github+json";
  hdrs[n++] = "X-GitHub-Api-Version: " GH_API_VERSION;
  if (s->cfg->token != NULL) {
    snprintf(auth, authlen, "Authorization: Bearer %s", s->cfg->token);
    hdrs[n++] = auth;
  }
  const char *etag = (flags & GH_FETCH_CONDITIONAL)
                         ? gh_etag_get(&s->m, url)
                         : NULL;
  if (etag != NULL) {
    /* Weak ETags go back byte for byte, W/ included. */
    snprintf(inm, inmlen, "If-None-Match: %s", etag);
    hdrs[n++] = inm;
  }
  hdrs[n] = NULL;
}

int gh_fetch(gh_sync_t *s, const char *url, int flags, size_t max_body,
             qf_http_response_t *resp) {
  memset(resp, 0, sizeof(*resp));
  if (!ghf_may_send(s, flags))
    return -EAGAIN;
  const char *hdrs[6];
  char auth[1200], inm[300], shown[GH_URL_MAX];
  ghf_headers(s, url, flags, hdrs, auth, sizeof(auth), inm, sizeof(inm));
  qf_http_request_t req = {
      .url = url,
      .headers = hdrs,
      .timeout_ms = (long)(s->cfg->timeout * 1000),
      .max_body = max_body,
  };
  int status = s->transport(s->transport_ctx, &req, resp);
  s->requests++;
  s->requests_total++;
  gh_url_display(url, shown, sizeof(shown));
  if (status != 0) {
    if (status != -EFBIG)
      s->cycle_fatal = true;
    return gh_sync_error(s, status, "%s", resp->error[0] ? resp->error
                                                         : "request failed");
  }
  ghf_note_rate(s, resp);
  if (resp->status == 304) {
    s->not_modified++;
    s->not_modified_total++;
    return 0;
  }
  if (resp->status == 403 || resp->status == 429)
    return ghf_rate_limited(s, shown, resp);
  if (resp->status >= 500 || resp->status < 200) {
    s->cycle_fatal = true;
    return gh_sync_error(s, -EIO, "%s: HTTP %ld", shown, resp->status);
  }
  return 0;
}

int gh_fetch_unexpected(gh_sync_t *s, const char *url,
                        const qf_http_response_t *resp) {
  char shown[GH_URL_MAX], msg[200];
  gh_url_display(url, shown, sizeof(shown));
  ghf_message(resp, msg, sizeof(msg));
  if (resp->status == 401)
    s->cycle_fatal = true; /* bad credentials: do not repeat them */
  return gh_sync_error(s, -EPROTO, "%s: unexpected HTTP %ld%s", shown,
                       resp->status, msg);
}
