/* github_fetch.c: one GitHub request inside a cycle's budget, the quota
 * and back-off rules, and the cycle's error record. */
#include "github_fetch.h"
#include "github_parse.h"

#include "qf_buf.h"
#include "qf_json.h"
#include "qf_time.h"

#include <ctype.h>
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
  char msg[sizeof(s->last_error)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  /* Parser messages may quote the response: keep the text valid UTF-8 so
   * project.json can carry it. */
  qf_json_utf8_repair(msg);
  if (!s->cycle_error) { /* the first failure names the cause */
    qf_strcpy(s->last_error, sizeof(s->last_error), msg);
    s->last_error_at = s->now;
  }
  s->cycle_error = true;
  s->errors_total++;
  if (strcmp(msg, s->last_logged) != 0) {
    gh_sync_logf(s, GH_LOG_WARNING, "%s", msg);
    qf_strcpy(s->last_logged, sizeof(s->last_logged), msg);
  }
  return status;
}

const char *gh_part_name(gh_part_t p) {
  static const char *const names[GH_PART_COUNT] = {
      [GH_PART_RUNS] = "ci_runs",
      [GH_PART_PULLS] = "pull_request_detail",
      [GH_PART_EVENTS] = "issue_events",
  };
  return p < GH_PART_COUNT ? names[p] : "?";
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
    gh_sync_error(s, -EAGAIN, "GitHub quota exhausted; waiting until %s", when);
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

/* ghf_errors appends a 422's errors[] (resource, field, code, message:
 * what GitHub found wrong, e.g. "[Issue since invalid]") to out. */
static void ghf_errors(yajl_val doc, char *out, size_t outlen) {
  static const char *const keys[] = {"resource", "field", "code", "message"};
  yajl_val errs = qf_json_get(doc, "errors");
  if (errs == NULL || !YAJL_IS_ARRAY(errs) || errs->u.array.len == 0)
    return;
  qf_buf_t b = QF_BUF_INIT;
  for (size_t i = 0; i < errs->u.array.len && i < 4; i++) {
    yajl_val e = errs->u.array.values[i];
    const char *sep = i == 0 ? " [" : "; ";
    if (YAJL_IS_STRING(e)) {
      qf_buf_puts(&b, sep);
      qf_buf_puts(&b, e->u.string);
      continue;
    }
    for (size_t k = 0; k < 4; k++) {
      const char *v = qf_json_get_str(e, keys[k]);
      if (v == NULL)
        continue;
      qf_buf_puts(&b, sep);
      qf_buf_puts(&b, v);
      sep = " ";
    }
  }
  if (b.data != NULL) {
    size_t len = strlen(out);
    snprintf(out + len, outlen - len, "%s]", b.data);
  }
  qf_buf_free(&b);
}

/* ghf_message returns GitHub's "message" (and errors[] detail) from an
 * error body as ": text", or "". */
static void ghf_message(const qf_http_response_t *resp, char *out,
                        size_t outlen) {
  out[0] = '\0';
  if (resp->body.data == NULL || resp->body.len > 65536)
    return;
  yajl_val doc = qf_json_parse(resp->body.data, NULL, 0);
  const char *msg = qf_json_get_str(doc, "message");
  if (msg != NULL)
    snprintf(out, outlen, ": %s", msg);
  if (doc != NULL) {
    ghf_errors(doc, out, outlen);
    yajl_tree_free(doc);
  }
}

/* ghf_rate_limit tells whether a 403/429 is a rate limit (GitHub's
 * documented signs: any 429, x-ratelimit-remaining 0, retry-after, or a
 * message about a rate limit); other 403s are permission errors. */
static bool ghf_rate_limit(const qf_http_response_t *resp) {
  if (resp->status == 429 || resp->retry_after >= 0 || resp->rl_remaining == 0)
    return true;
  char msg[512];
  ghf_message(resp, msg, sizeof(msg));
  for (char *p = msg; *p != '\0'; p++)
    *p = (char)tolower((unsigned char)*p);
  return strstr(msg, "rate limit") != NULL;
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
  const char *etag =
      (flags & GH_FETCH_CONDITIONAL) ? gh_etag_get(&s->m, url) : NULL;
  if (etag != NULL) {
    /* Weak ETags go back byte for byte, W/ included. */
    snprintf(inm, inmlen, "If-None-Match: %s", etag);
    hdrs[n++] = inm;
  }
  hdrs[n] = NULL;
}

/* ghf_part_of returns the part of a request's flags, or -1. */
static int ghf_part_of(int flags) {
  int p = (flags >> 4) - 1;
  return p >= 0 && p < GH_PART_COUNT ? p : -1;
}

/* ghf_part_refused marks part p unavailable after a permission 403, logs
 * it once, and returns -EACCES; the cycle goes on. */
static int ghf_part_refused(gh_sync_t *s, int p, const char *shown,
                            const qf_http_response_t *resp) {
  gh_part_state_t *ps = &s->parts[p];
  char msg[400], when[QF_TIME_ISO_LEN];
  ghf_message(resp, msg, sizeof(msg));
  bool fresh = ps->reason[0] == '\0';
  /* A long URL is cut: the reason only has to name it recognisably. */
  snprintf(ps->reason, sizeof(ps->reason), "%.200s: HTTP 403%s", shown, msg);
  qf_json_utf8_repair(ps->reason);
  if (fresh)
    ps->since = s->now;
  ps->retry_at = s->now + GH_PERM_RECHECK;
  s->dirty = true;
  qf_time_format((time_t)ps->retry_at, when, sizeof(when));
  if (fresh)
    gh_sync_logf(s, GH_LOG_WARNING,
                 "%s (a permission error, not a rate limit): %s unavailable "
                 "until the token may read it; asking again at %s",
                 ps->reason, gh_part_name((gh_part_t)p), when);
  return -EACCES;
}

/* ghf_part_ok clears part p after an answer GitHub gave it. */
static void ghf_part_ok(gh_sync_t *s, int p) {
  if (p < 0 || s->parts[p].reason[0] == '\0')
    return;
  gh_sync_logf(s, GH_LOG_INFO, "%s available again",
               gh_part_name((gh_part_t)p));
  memset(&s->parts[p], 0, sizeof(s->parts[p]));
  s->dirty = true;
}

/* ghf_redirect decides on a 3xx answer: 1 to follow location, or a
 * recorded error (leaving APIURL's origin, too many hops, no target). */
static int ghf_redirect(gh_sync_t *s, const char *shown, int hop,
                        const qf_http_response_t *resp, const char *location) {
  s->cycle_fatal = true; /* unless followed: back off */
  if (location[0] == '\0')
    return gh_sync_error(s, -EPROTO, "%s: HTTP %ld without a Location", shown,
                         resp->status);
  char where[GH_URL_MAX];
  gh_url_display(location, where, sizeof(where));
  if (!gh_follow_ok(s, location))
    return gh_sync_error(s, -EPROTO,
                         "%s: HTTP %ld to %s, outside %s; not followed (the "
                         "token is only sent to APIURL)",
                         shown, resp->status, where, s->origin);
  if (hop >= GH_REDIRECTS_MAX)
    return gh_sync_error(s, -ELOOP, "%s: more than %d redirects", shown,
                         GH_REDIRECTS_MAX);
  s->cycle_fatal = false;
  if (resp->status == 301 && !s->moved_logged && s->moved_to[0] == '\0')
    qf_strcpy(s->moved_to, sizeof(s->moved_to), where);
  return 1;
}

/* ghf_answer applies the rules to an answer that arrived (see gh_fetch). */
static int ghf_answer(gh_sync_t *s, int flags, const char *shown,
                      const qf_http_response_t *resp) {
  int part = ghf_part_of(flags);
  ghf_note_rate(s, resp);
  if (resp->status == 304) {
    s->not_modified++;
    s->not_modified_total++;
    ghf_part_ok(s, part);
    return 0;
  }
  if ((resp->status == 403 || resp->status == 429) && ghf_rate_limit(resp))
    return ghf_rate_limited(s, shown, resp);
  if (resp->status == 403 && part >= 0)
    return ghf_part_refused(s, part, shown, resp);
  if (resp->status == 403) {
    char msg[200];
    ghf_message(resp, msg, sizeof(msg));
    s->cycle_fatal = true;
    return gh_sync_error(s, -EACCES,
                         "%s: HTTP 403%s (a permission error, not a rate "
                         "limit: the token needs read access to the "
                         "repository's issues and contents)",
                         shown, msg);
  }
  if (resp->status >= 500 || resp->status < 200) {
    s->cycle_fatal = true;
    return gh_sync_error(s, -EIO, "%s: HTTP %ld", shown, resp->status);
  }
  ghf_part_ok(s, part);
  return 0;
}

int gh_fetch(gh_sync_t *s, const char *url, int flags, size_t max_body,
             qf_http_response_t *resp) {
  memset(resp, 0, sizeof(*resp));
  int part = ghf_part_of(flags);
  if (part >= 0 && s->parts[part].reason[0] != '\0' &&
      s->parts[part].retry_at > s->now)
    return -EACCES; /* refused recently: re-asked on the slow schedule */
  if (!ghf_may_send(s, flags))
    return -EAGAIN;
  const char *hdrs[6];
  char auth[1200], inm[300], shown[GH_URL_MAX], target[GH_URL_MAX];
  char location[GH_URL_MAX];
  ghf_headers(s, url, flags, hdrs, auth, sizeof(auth), inm, sizeof(inm));
  qf_strcpy(target, sizeof(target), url);
  qf_http_request_t req = {
      .url = target,
      .headers = hdrs,
      .timeout_ms = (long)(s->cfg->timeout * 1000),
      .max_body = max_body,
      .ca_cert = s->cfg->ca_cert,
  };
  for (int hop = 0;; hop++) {
    location[0] = '\0';
    int status =
        s->transport(s->transport_ctx, &req, resp, location, sizeof(location));
    s->requests++;
    s->requests_total++;
    gh_url_display(target, shown, sizeof(shown));
    if (status == -EFBIG && (flags & GH_FETCH_FIT))
      return status;
    if (status != 0) {
      if (status != -EFBIG)
        s->cycle_fatal = true;
      static const qf_http_tls_keys_t keys = {.url = "APIURL",
                                              .ca_cert = "CACert"};
      char hint[320];
      qf_http_tls_hint(resp->error, &keys, hint, sizeof(hint));
      return gh_sync_error(s, status, "%s%s",
                           resp->error[0] ? resp->error : "request failed",
                           hint);
    }
    if (resp->status < 300 || resp->status >= 400 || resp->status == 304)
      return ghf_answer(s, flags, shown, resp);
    ghf_note_rate(s, resp);
    status = ghf_redirect(s, shown, hop, resp, location);
    if (status != 1)
      return status;
    qf_strcpy(target, sizeof(target), location);
    qf_http_response_free(resp);
    /* The hop is the same request: an optional one stays optional. */
    if (!ghf_may_send(s, flags))
      return -EAGAIN;
  }
}

int gh_fetch_unexpected(gh_sync_t *s, const char *url,
                        const qf_http_response_t *resp) {
  char shown[GH_URL_MAX], msg[200];
  gh_url_display(url, shown, sizeof(shown));
  ghf_message(resp, msg, sizeof(msg));
  /* Bad credentials, a missing repository, a refused query: asking again
   * every cycle changes nothing, so back off. */
  s->cycle_fatal = true;
  return gh_sync_error(s, -EPROTO, "%s: unexpected HTTP %ld%s", shown,
                       resp->status, msg);
}
