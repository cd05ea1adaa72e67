/* server.h: the libmicrohttpd server (server.c): the listening socket, TLS,
 * the limits and libmicrohttpd's messages; requests are request.h's. */
#ifndef QFX_SERVER_H
#define QFX_SERVER_H

#include "auth.h"
#include "cache.h"
#include "deadline.h"
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
  double since;          /* monotonic: when text was last logged; 0: empty */
  unsigned long repeats; /* counted since then */
} qfx_mhdlog_slot_t;

typedef struct qfx_mhdlog_s {
  pthread_mutex_t lock;
  bool ready;
  qfx_mhdlog_slot_t slot[QFX_MHDLOG_SLOTS];
} qfx_mhdlog_t;

typedef struct qfx_server_s {
  struct MHD_Daemon *daemon;
  unsigned workers; /* libmicrohttpd's threads serving connections */
  qfx_cache_t *cache;
  qfx_headers_t headers;          /* for answers built per request */
  const qfx_auth_t *auth;         /* the bearer token, or none */
  bool auth_health;               /* /health needs it too */
  const qfx_net_t *open_read;     /* read /status and /project/completion */
  size_t n_open_read;             /* without it (--open-read) */
  struct MHD_Response *preflight; /* the OPTIONS answer, built once */
  struct MHD_Response *denied[2]; /* 401: no credentials; a wrong token */
  qfx_deadline_t guard;           /* the request deadline */
  qfx_mhdlog_t log;
} qfx_server_t;

/* qfx_server_start binds the listening socket and starts the server (HTTPS
 * when tls->cert is set), requiring auth's token when it holds one. 0 or
 * a negative errno with the reason in err. auth and tls must outlive the
 * server. */
int qfx_server_start(qfx_server_t *h, const qfx_opts_t *o, qfx_cache_t *cache,
                     const qfx_auth_t *auth, const qfx_tls_t *tls, char *err,
                     size_t errlen);
/* qfx_server_stop stops the server: no request is running afterwards. */
void qfx_server_stop(qfx_server_t *h);

/* qfx_mhdlog_line logs line through QFX_WARNING unless it is folded (see
 * qfx_mhdlog_t) at monotonic time now; l->lock is taken. */
void qfx_mhdlog_line(qfx_mhdlog_t *l, const char *line, double now);
/* qfx_mhdlog_flush logs the counts still pending. */
void qfx_mhdlog_flush(qfx_mhdlog_t *l);

/* qfx_server_tls_check makes libmicrohttpd (GnuTLS) load the certificate and
 * key once without serving: a bad PEM, a key that does not match the
 * certificate, or a libmicrohttpd without TLS is reported in err before
 * anything starts. 0, -ENOTSUP or -EINVAL. */
int qfx_server_tls_check(const qfx_tls_t *tls, char *err, size_t errlen);

#endif
