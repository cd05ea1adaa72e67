/* qf_http.c: one libcurl client for every outbound request we make. */
#include "qf_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QF_HTTP_DEFAULT_TIMEOUT_MS 10000L
#define QF_HTTP_DEFAULT_MAX_BODY (8u << 20)

int qf_http_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

int qf_http_client_init(qf_http_client_t *c, const char *user_agent) {
  memset(c, 0, sizeof(*c));
  qf_strcpy(c->user_agent, sizeof(c->user_agent), user_agent);
  c->curl = curl_easy_init();
  return c->curl == NULL ? -ENOMEM : 0;
}

void qf_http_client_destroy(qf_http_client_t *c) {
  if (c->curl != NULL)
    curl_easy_cleanup(c->curl);
  c->curl = NULL;
}

void qf_http_response_free(qf_http_response_t *resp) {
  qf_buf_free(&resp->body);
  qf_buf_free(&resp->link);
}

/* qfh_reset_response empties resp and marks every header absent. */
static void qfh_reset_response(qf_http_response_t *resp, size_t max) {
  qf_http_response_free(resp);
  memset(resp, 0, sizeof(*resp));
  resp->body.max = max;
  resp->link.max = (size_t)64 * 1024;
  resp->retry_after = -1;
  resp->rl_limit = resp->rl_remaining = resp->rl_reset = resp->rl_used = -1;
}

/* qfh_on_body appends to the body; a short count aborts the transfer
 * (oversized or out of memory). */
static size_t qfh_on_body(char *p, size_t size, size_t n, void *ud) {
  qf_http_response_t *resp = ud;
  return qf_buf_append(&resp->body, p, size * n) == 0 ? size * n : 0;
}

/* qfh_header_value matches "Name:" case-insensitively and returns the
 * trimmed value copied into out, or NULL. */
static const char *qfh_header_value(const char *line, size_t len,
                                    const char *name, char *out,
                                    size_t outlen) {
  size_t nlen = strlen(name);
  if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
    return NULL;
  const char *v = line + nlen + 1;
  const char *end = line + len;
  while (v < end && isspace((unsigned char)*v))
    v++;
  while (end > v && isspace((unsigned char)end[-1]))
    end--;
  size_t vlen = (size_t)(end - v);
  if (vlen >= outlen)
    vlen = outlen - 1;
  memcpy(out, v, vlen);
  out[vlen] = '\0';
  return out;
}

/* qfh_on_header records the headers we act upon. */
static size_t qfh_on_header(char *p, size_t size, size_t n, void *ud) {
  qf_http_response_t *resp = ud;
  size_t len = size * n;
  char v[4096];
  if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
    /* A new response (after 100-continue or a redirect): start over. */
    resp->etag[0] = '\0';
    qf_buf_reset(&resp->link);
  } else if (qfh_header_value(p, len, "etag", v, sizeof(v))) {
    /* An ETag cut short would never match: keep none instead. */
    if (qf_strcpy(resp->etag, sizeof(resp->etag), v) != 0)
      resp->etag[0] = '\0';
  } else if (qfh_header_value(p, len, "link", v, sizeof(v))) {
    if (resp->link.len > 0)
      qf_buf_puts(&resp->link, ", ");
    qf_buf_puts(&resp->link, v);
  } else if (qfh_header_value(p, len, "content-type", v, sizeof(v))) {
    qf_strcpy(resp->content_type, sizeof(resp->content_type), v);
  } else if (qfh_header_value(p, len, "retry-after", v, sizeof(v))) {
    resp->retry_after = qf_http_parse_retry_after(v, (long long)time(NULL));
  } else if (qfh_header_value(p, len, "ratelimit-policy", v, sizeof(v))) {
    qf_strcpy(resp->rl_policy, sizeof(resp->rl_policy), v);
  } else if (qfh_header_value(p, len, "x-ratelimit-limit", v, sizeof(v))) {
    resp->rl_limit = strtoll(v, NULL, 10);
  } else if (qfh_header_value(p, len, "x-ratelimit-remaining", v, sizeof(v))) {
    resp->rl_remaining = strtoll(v, NULL, 10);
  } else if (qfh_header_value(p, len, "x-ratelimit-reset", v, sizeof(v))) {
    resp->rl_reset = strtoll(v, NULL, 10);
  } else if (qfh_header_value(p, len, "x-ratelimit-used", v, sizeof(v))) {
    resp->rl_used = strtoll(v, NULL, 10);
  }
  return len;
}

/* qfh_on_progress asks the request's abort_cb whether to stop. */
static int qfh_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                           curl_off_t ultotal, curl_off_t ulnow) {
  const qf_http_request_t *req = ud;
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return req->abort_cb(req->abort_ud) != 0 ? 1 : 0;
}

/* qfh_setup applies one request's options to the reused handle. */
static int qfh_setup(qf_http_client_t *c, const qf_http_request_t *req,
                     qf_http_response_t *resp, struct curl_slist **hdrs,
                     char *errbuf) {
  CURL *h = c->curl;
  curl_easy_reset(h);
  for (const char *const *p = req->headers; p != NULL && *p != NULL; p++) {
    struct curl_slist *n = curl_slist_append(*hdrs, *p);
    if (n == NULL)
      return -ENOMEM;
    *hdrs = n;
  }
  long timeout =
      req->timeout_ms > 0 ? req->timeout_ms : QF_HTTP_DEFAULT_TIMEOUT_MS;
  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, qfh_on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, qfh_on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  if (req->method != NULL && strcmp(req->method, "GET") != 0)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
  if (req->body != NULL) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  }
  if (req->abort_cb != NULL) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, qfh_on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)req);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  if (req->ca_cert != NULL)
    curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_cert);
  if (req->client_cert != NULL)
    curl_easy_setopt(h, CURLOPT_SSLCERT, req->client_cert);
  if (req->client_key != NULL)
    curl_easy_setopt(h, CURLOPT_SSLKEY, req->client_key);
  return 0;
}

/* qfh_fail maps a CURLcode to a negative errno and records the text. */
static int qfh_fail(qf_http_response_t *resp, const qf_http_request_t *req,
                    CURLcode rc, const char *errbuf) {
  char where[512];
  qf_http_redact(req->url, where, sizeof(where));
  if (rc == CURLE_WRITE_ERROR && resp->body.max != 0 &&
      resp->body.len + CURL_MAX_WRITE_SIZE > resp->body.max) {
    qf_err(resp->error, sizeof(resp->error),
           "%s: response body over the %zu byte limit", where, resp->body.max);
    return -EFBIG;
  }
  qf_err(resp->error, sizeof(resp->error), "%s: %s", where,
         errbuf[0] ? errbuf : curl_easy_strerror(rc));
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return -ECANCELED;
  return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
}

/* qfh_drop_connections replaces c's handle, closing every connection it
 * keeps. After a failed transfer libcurl may keep its connection as reusable
 * (libcurl 7.88 leaves one whose SSL_write failed with EPIPE "intact", and
 * its liveness check passes), and the next request written to that half-dead
 * TLS session fails with "bad write retry" instead of the server's alert.
 * curl_easy_reset keeps the connection cache, so a new handle it is; NULL
 * when out of memory (qf_http_perform tries again). */
static void qfh_drop_connections(qf_http_client_t *c) {
  curl_easy_cleanup(c->curl);
  c->curl = curl_easy_init();
}

int qf_http_perform(qf_http_client_t *c, const qf_http_request_t *req,
                    qf_http_response_t *resp) {
  qfh_reset_response(resp,
                     req->max_body ? req->max_body : QF_HTTP_DEFAULT_MAX_BODY);
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdrs = NULL;
  if (c->curl == NULL && (c->curl = curl_easy_init()) == NULL) {
    qf_strcpy(resp->error, sizeof(resp->error), "out of memory");
    return -ENOMEM;
  }
  int status = qfh_setup(c, req, resp, &hdrs, errbuf);
  if (status != 0) {
    curl_slist_free_all(hdrs);
    qf_strcpy(resp->error, sizeof(resp->error), "out of memory");
    return status;
  }
  CURLcode rc = curl_easy_perform(c->curl);
  curl_slist_free_all(hdrs);
  curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME, &resp->seconds);
  if (rc != CURLE_OK) {
    resp->status = 0;
    qfh_drop_connections(c);
    return qfh_fail(resp, req, rc, errbuf);
  }
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
  if (resp->body.data == NULL)
    qf_buf_append(&resp->body, "", 0);
  return 0;
}

bool qf_http_retryable(long status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

long qf_http_parse_retry_after(const char *value, long long now) {
  char *end;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (end != value && *end == '\0' && errno == 0)
    return v < 0 ? -1 : v;
  time_t t = curl_getdate(value, NULL);
  if (t == (time_t)-1)
    return -1;
  return t > now ? (long)(t - now) : 0;
}

void qf_http_redact(const char *url, char *out, size_t outlen) {
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : url;
  const char *slash = host + strcspn(host, "/?#");
  const char *at = memchr(host, '@', (size_t)(slash - host));
  size_t plen = scheme ? (size_t)(host - url) : 0;
  const char *rest = at ? at + 1 : host;
  size_t rlen = strcspn(rest, "?#");
  snprintf(out, outlen, "%.*s%.*s", (int)plen, url, (int)rlen, rest);
}

/* qfh_any tells whether err contains one of the NULL-terminated needles. */
static bool qfh_any(const char *err, const char *const *needles) {
  for (size_t i = 0; needles[i] != NULL; i++)
    if (strstr(err, needles[i]) != NULL)
      return true;
  return false;
}

/* qfh_tls_client writes the hint for a client certificate problem, if err
 * names one. Returns whether it did. */
static bool qfh_tls_client(const char *err, const qf_http_tls_keys_t *k,
                           char *out, size_t outlen) {
  static const char *const missing[] = {
      "alert certificate required", "peer did not return a certificate", NULL};
  static const char *const unusable[] = {
      "client certificate", "unable to use client certificate", NULL};
  static const char *const key[] = {"private key", "Private key", NULL};
  static const char *const refused[] = {"alert unknown ca",
                                        "alert bad certificate", NULL};
  if (k->client_cert == NULL || k->client_key == NULL)
    return false;
  if (qfh_any(err, missing))
    snprintf(out, outlen,
             " (the server requires a client certificate: set "
             "%s and %s)",
             k->client_cert, k->client_key);
  else if (qfh_any(err, key))
    snprintf(out, outlen,
             " (%s cannot be used: check it is the PEM key "
             "of %s's certificate, readable)",
             k->client_key, k->client_cert);
  else if (qfh_any(err, unusable))
    snprintf(out, outlen,
             " (%s cannot be read as a PEM certificate: check "
             "its path and contents)",
             k->client_cert);
  else if (qfh_any(err, refused))
    snprintf(out, outlen,
             " (the server refused the client certificate: "
             "set %s to one signed by a CA the server trusts)",
             k->client_cert);
  else
    return false;
  return true;
}

void qf_http_tls_hint(const char *err, const qf_http_tls_keys_t *k, char *out,
                      size_t outlen) {
  static const char *const expired[] = {"certificate has expired", NULL};
  static const char *const name[] = {"no alternative certificate subject name",
                                     "does not match target host",
                                     "doesn't match target host", NULL};
  static const char *const untrusted[] = {
      "unable to get local issuer", "self-signed certificate",
      "self signed certificate",    "unable to verify the first certificate",
      "certificate verify failed",  NULL};
  static const char *const cafile[] = {"CA cert", "CAfile", "certificate file",
                                       NULL};
  out[0] = '\0';
  if (qfh_any(err, expired))
    snprintf(out, outlen,
             " (the server's certificate has expired: it must "
             "be renewed on the server; no option of ours accepts it)");
  else if (qfh_any(err, name))
    snprintf(out, outlen,
             " (the certificate does not name %s's host: put "
             "the host name the certificate names in %s, or reissue the "
             "certificate for this host)",
             k->url, k->url);
  else if (qfh_tls_client(err, k, out, outlen))
    return;
  else if (qfh_any(err, untrusted))
    snprintf(out, outlen,
             " (the server's certificate is not signed by a CA "
             "this host trusts: set %s to the file of the CA that signed it)",
             k->ca_cert);
  else if (qfh_any(err, cafile))
    snprintf(out, outlen,
             " (%s cannot be read as a PEM CA file: check its "
             "path and contents)",
             k->ca_cert);
}
