/* http.h: the libmicrohttpd server: method check, routing, answers from
 * the current rendered set. */
#ifndef QFX_HTTP_H
#define QFX_HTTP_H

#include "auth.h"
#include "cache.h"
#include "guard.h"
#include "opts.h"

#include <microhttpd.h>
#include <pthread.h>

#define QFX_ALLOW "GET, HEAD, OPTIONS"
/* GnuTLS priorities: its defaults without TLS 1.0 and 1.1. */
#define QFX_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* libmicrohttpd's messages, with repeats folded: it logs one or more
 * lines per refused or malformed connection, which would flood the
 * journal under attack. A message seen within the last minute is counted
 * instead of logged; the count is logged when the minute is over and the
 * message comes again, or when it leaves the table. */
#define QFX_MHDLOG_SLOTS 8
typedef struct qfx_mhdlog_slot_s {
  char text[256];
  double since; /* monotonic: when text was last logged; 0: empty */
  unsigned long repeats; /* counted since then */
} qfx_mhdlog_slot_t;

typedef struct qfx_mhdlog_s {
  pthread_mutex_t lock;
  bool ready;
  qfx_mhdlog_slot_t slot[QFX_MHDLOG_SLOTS];
} qfx_mhdlog_t;

typedef struct qfx_http_s {
  struct MHD_Daemon *daemon;
  qfx_cache_t *cache;
  qfx_headers_t headers;          /* for answers built per request */
  const qfx_auth_t *auth;         /* the bearer token, or none */
  bool auth_health;               /* /health needs it too */
  const qfx_net_t *open_read;     /* read /status and /project/completion */
  size_t n_open_read;             /* without it (--open-read) */
  struct MHD_Response *preflight; /* the OPTIONS answer, built once */
  struct MHD_Response *denied[2]; /* 401: no credentials; a wrong token */
  qfx_guard_t guard;              /* the request deadline */
  qfx_mhdlog_t log;
} qfx_http_t;

/* qfx_http_start binds the listening socket and starts the server (HTTPS
 * when tls->cert is set), requiring auth's token when it holds one. 0 or
 * a negative errno with the reason in err. auth and tls must outlive the
 * server. */
int qfx_http_start(qfx_http_t *h, const qfx_opts_t *o, qfx_cache_t *cache,
                   const qfx_auth_t *auth, const qfx_tls_t *tls, char *err,
                   size_t errlen);
/* qfx_http_stop stops the server: no request is running afterwards. */
void qfx_http_stop(qfx_http_t *h);

/* qfx_mhdlog_line logs line through QFX_WARNING unless it is folded (see
 * qfx_mhdlog_t) at monotonic time now; l->lock is taken. */
void qfx_mhdlog_line(qfx_mhdlog_t *l, const char *line, double now);
/* qfx_mhdlog_flush logs the counts still pending. */
void qfx_mhdlog_flush(qfx_mhdlog_t *l);

/* qfx_http_tls_check makes libmicrohttpd (GnuTLS) load the certificate and
 * key once without serving: a bad PEM, a key that does not match the
 * certificate, or a libmicrohttpd without TLS is reported in err before
 * anything starts. 0, -ENOTSUP or -EINVAL. */
int qfx_http_tls_check(const qfx_tls_t *tls, char *err, size_t errlen);

/* The request side (http.c) as server.c registers it with libmicrohttpd:
 * the access handler (cls: the qfx_http_t) and the URI log callback. */
enum MHD_Result qfx_http_access(void *cls, struct MHD_Connection *c,
                                const char *url, const char *method,
                                const char *version, const char *upload_data,
                                size_t *upload_size, void **req_cls);
void *qfx_http_uri(void *cls, const char *uri, struct MHD_Connection *c);

/* Pure helpers, unit-tested. */
enum { QFX_M_GET, QFX_M_HEAD, QFX_M_OPTIONS, QFX_M_OTHER };
/* qfx_http_method classifies a request method (case-sensitive, RFC 9110). */
int qfx_http_method(const char *method);

enum {
  QFX_R_NONE,
  QFX_R_HEALTH,
  QFX_R_STATUS,
  QFX_R_AGENT_STATUS,
  QFX_R_METRICS,
  QFX_R_PROJECT_COMPLETION,
  QFX_R_PROJECT_ISSUES,
  QFX_R_COUNT
};
/* qfx_http_route maps a normalised request path to a route. */
int qfx_http_route(const char *path);
/* qfx_http_path_normalise is the one place a request target's path is
 * made ready for routing: the raw target up to "?" is copied to out with
 * every run of "/" written as one (nginx's merge_slashes) and the escapes
 * of unreserved characters (RFC 3986 2.3: letters, digits, "-._~")
 * decoded; every other escape, "%2F" among them, stays as sent, so an
 * encoded "/" never separates segments or merges. false when the result
 * does not fit outlen (no route is that long). */
bool qfx_http_path_normalise(const char *target, char *out, size_t outlen);
/* qfx_http_target_route is the route of a raw request target. */
int qfx_http_target_route(const char *target);
/* qfx_http_raw_nul tells whether the path of a request target as it came
 * in (before percent-decoding) encodes a NUL byte ("%00"), which would cut
 * the decoded path short ("/health%00x" reading as "/health"). */
bool qfx_http_raw_nul(const char *target);

#endif
