/* http.h: the libmicrohttpd server: method check, routing, answers from
 * the current rendered set. */
#ifndef QFX_HTTP_H
#define QFX_HTTP_H

#include "cache.h"
#include "opts.h"

#include <microhttpd.h>

#define QFX_ALLOW "GET, HEAD, OPTIONS"

typedef struct qfx_http_s {
  struct MHD_Daemon *daemon;
  qfx_cache_t *cache;
  qfx_headers_t headers;          /* for answers built per request */
  struct MHD_Response *preflight; /* the OPTIONS answer, built once */
} qfx_http_t;

/* qfx_http_start binds the listening socket and starts the server. 0 or a
 * negative errno with the reason in err. */
int qfx_http_start(qfx_http_t *h, const qfx_opts_t *o, qfx_cache_t *cache,
                   char *err, size_t errlen);
/* qfx_http_stop stops the server: no request is running afterwards. */
void qfx_http_stop(qfx_http_t *h);

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
  QFX_R_PROJECT_ISSUES
};
/* qfx_http_route maps a request path (without query) to a route. */
int qfx_http_route(const char *path);

#endif
