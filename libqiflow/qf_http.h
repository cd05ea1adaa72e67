/* qf_http.h: one libcurl client for every outbound request we make. */
#ifndef QF_HTTP_H
#define QF_HTTP_H

#include "qf_buf.h"

#include <curl/curl.h>
#include <stdbool.h>

typedef struct qf_http_request_s {
  const char *method; /* "GET" when NULL */
  const char *url;
  const char *const *headers; /* "Name: value", NULL-terminated, optional */
  const void *body;           /* sent when non-NULL */
  size_t body_len;
  long timeout_ms; /* whole request; 10 s when 0 */
  size_t max_body; /* larger responses fail with -EFBIG; 8 MiB when 0 */
  const char *ca_cert, *client_cert, *client_key; /* optional TLS files */
  /* Optional: polled during the transfer; a non-zero answer aborts it and
   * qf_http_perform returns -ECANCELED (a daemon stopping mid-request). */
  int (*abort_cb)(void *ud);
  void *abort_ud;
} qf_http_request_t;

typedef struct qf_http_response_s {
  long status;    /* HTTP status, 0 when no response arrived */
  qf_buf_t body;  /* the response body */
  qf_buf_t link;  /* the Link header, "" when absent */
  char etag[256]; /* the ETag header, "" when absent */
  char content_type[128];
  long retry_after;       /* seconds, -1 when absent */
  long long rl_limit;     /* x-ratelimit-limit, -1 when absent */
  long long rl_remaining; /* x-ratelimit-remaining */
  long long rl_reset;     /* x-ratelimit-reset (epoch seconds) */
  long long rl_used;      /* x-ratelimit-used */
  char rl_policy[128];    /* RateLimit-Policy ("100;w=900"), "" if absent */
  double seconds;         /* total transfer time */
  char error[CURL_ERROR_SIZE + 64]; /* transport error text, "" if none */
} qf_http_response_t;

typedef struct qf_http_client_s {
  /* One handle, reused for connection keep-alive after a success; replaced
   * after any failed transfer, so no connection of it is written to again. */
  CURL *curl;
  char user_agent[128];
} qf_http_client_t;

/* qf_http_global_init calls curl_global_init once; call it while the
 * process is still single-threaded (a plugin's init callback). */
int qf_http_global_init(void);

int qf_http_client_init(qf_http_client_t *c, const char *user_agent);
void qf_http_client_destroy(qf_http_client_t *c);

/* qf_http_perform runs one request. Returns 0 when a response arrived (any
 * status; see resp->status), or a negative errno for transport failures,
 * timeouts and oversized bodies with the reason in resp->error. resp is
 * reset first; free it with qf_http_response_free. A failure closes every
 * connection the client keeps: the next request connects afresh. Not
 * thread-safe per client: use one client per thread. */
int qf_http_perform(qf_http_client_t *c, const qf_http_request_t *req,
                    qf_http_response_t *resp);
void qf_http_response_free(qf_http_response_t *resp);

/* qf_http_retryable tells whether a status deserves another attempt:
 * 0 (no response), 408, 429 and 5xx. */
bool qf_http_retryable(long status);

/* qf_http_parse_retry_after reads delta-seconds or an HTTP date; -1 when
 * the value is neither. now is the reference time for dates. */
long qf_http_parse_retry_after(const char *value, long long now);

/* qf_http_redact copies url into out with any user:password@ and the
 * query string removed, so it can be logged or published. */
void qf_http_redact(const char *url, char *out, size_t outlen);

/* The configuration keys a plugin's TLS settings go by, for messages;
 * NULL when the plugin has no such key. */
typedef struct qf_http_tls_keys_s {
  const char *url, *ca_cert, *client_cert, *client_key;
} qf_http_tls_keys_t;

/* qf_http_tls_hint writes into out " (<cause>: <the fix, naming keys>)"
 * for a TLS failure recognised in libcurl's error text err, else "". */
void qf_http_tls_hint(const char *err, const qf_http_tls_keys_t *keys,
                      char *out, size_t outlen);

#endif
