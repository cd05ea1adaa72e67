/* request.c: answering one request. The handler checks the method first
 * (GET and HEAD are served, OPTIONS answered, anything else gets 405 with
 * Allow), then the bearer token (unless --open-read lets the client read
 * the flat endpoints), routes on the raw path normalised (repeated "/"
 * merged, escapes of "/" kept), and queues a
 * response the refresh thread already built. Only errors are rendered per
 * request, and a page of /project/issues the first time it is asked for.
 * Starting and stopping the server is server.c's. */
#include "request.h"
#include "server.h"
#include "log.h"
#include "prom_text.h"
#include "qf_buf.h"
#include "render_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The markers in *req_cls. The URI log callback sets a fresh one when the
 * request line arrives: which one says whether the raw path encodes a NUL
 * ("%00") and the route of the raw path, normalised. The handler's first
 * call turns it into the started one of the same place. Only their
 * addresses matter. */
typedef char ht_marks_t[2][QFX_R_COUNT];
static ht_marks_t ht_fresh, ht_started;

/* ht_mark is the marker in table for a request with route whose raw path
 * encodes a NUL (nul) or not. */
static void *ht_mark(ht_marks_t *table, bool nul, int route) {
  return &(*table)[nul ? 1 : 0][route];
}

/* ht_marked reads marker m back into *nul and *route; false when m is
 * not one of table's. */
static bool ht_marked(const ht_marks_t *table, const void *m, bool *nul,
                      int *route) {
  uintptr_t first = (uintptr_t) & (*table)[0][0], p = (uintptr_t)m;
  if (p < first || p >= first + sizeof(*table))
    return false;
  size_t i = (size_t)(p - first);
  *nul = i >= QFX_R_COUNT;
  *route = (int)(i % QFX_R_COUNT);
  return true;
}

int qfx_request_method(const char *method) {
  if (strcmp(method, "GET") == 0)
    return QFX_M_GET;
  if (strcmp(method, "HEAD") == 0)
    return QFX_M_HEAD;
  if (strcmp(method, "OPTIONS") == 0)
    return QFX_M_OPTIONS;
  return QFX_M_OTHER;
}

int qfx_request_route(const char *path) {
  static const struct {
    const char *path;
    int route;
  } routes[] = {
      {"/health", QFX_R_HEALTH},
      {"/status", QFX_R_STATUS},
      {"/agent/status", QFX_R_AGENT_STATUS},
      {"/metrics", QFX_R_METRICS},
      {"/project/completion", QFX_R_PROJECT_COMPLETION},
      {"/project/issues", QFX_R_PROJECT_ISSUES},
  };
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (strcmp(path, routes[i].path) == 0)
      return routes[i].route;
  return QFX_R_NONE;
}

/* ht_hex is the value of the hex digit c, or -1. */
static int ht_hex(char c) {
  if ('0' <= c && c <= '9')
    return c - '0';
  if ('a' <= c && c <= 'f')
    return c - 'a' + 10;
  if ('A' <= c && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* ht_unreserved tells whether c means the same escaped or not in a path
 * (RFC 3986 2.3). */
static bool ht_unreserved(int c) {
  return ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') ||
         ('0' <= c && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

bool qfx_request_path_normalise(const char *target, char *out, size_t outlen) {
  size_t n = 0;
  for (const char *p = target; *p != '\0' && *p != '?'; p++) {
    char c = *p;
    if (c == '/' && n > 0 && out[n - 1] == '/')
      continue; /* "//status" is "/status" */
    if (c == '%' && ht_hex(p[1]) >= 0 && ht_hex(p[2]) >= 0 &&
        ht_unreserved(ht_hex(p[1]) * 16 + ht_hex(p[2]))) {
      c = (char)(ht_hex(p[1]) * 16 + ht_hex(p[2]));
      p += 2;
    }
    if (n + 1 >= outlen)
      return false;
    out[n++] = c;
  }
  if (outlen == 0)
    return false;
  out[n] = '\0';
  return true;
}

int qfx_request_target_route(const char *target) {
  char path[32]; /* longer than every route */
  return qfx_request_path_normalise(target, path, sizeof(path))
             ? qfx_request_route(path)
             : QFX_R_NONE;
}

bool qfx_request_raw_nul(const char *target) {
  size_t n = strcspn(target, "?");
  for (size_t i = 0; i + 2 < n; i++)
    if (target[i] == '%' && target[i + 1] == '0' && target[i + 2] == '0')
      return true;
  return false;
}

void *qfx_request_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls, (void)c; /* the raw target is all that is looked at */
  return ht_mark(&ht_fresh, qfx_request_raw_nul(uri),
                 qfx_request_target_route(uri));
}

/* ht_error answers status with {"success": false, "error": msg}. */
static enum MHD_Result ht_error(qfx_server_t *h, struct MHD_Connection *c,
                                unsigned status, const char *msg,
                                const char *fallback, const char *allow) {
  qf_jw_t w;
  char *body = NULL;
  size_t len = 0;
  if (qf_jw_init(&w) == 0) {
    qfx_render_error(&w, msg);
    if (qf_jw_finish(&w, &body, &len) != 0) {
      /* msg held bytes JSON cannot carry (not UTF-8): say less. */
      qf_jw_reset(&w);
      qfx_render_error(&w, fallback);
      qf_jw_finish(&w, &body, &len);
    }
    qf_jw_free(&w);
  }
  if (body == NULL)
    return MHD_NO; /* out of memory: MHD closes the connection */
  enum MHD_Result r = qfx_queue_json(c, status, body, len, &h->headers, allow);
  free(body);
  return r;
}

/* ht_not_found answers 404 naming path, libmicrohttpd's decoded form of
 * the raw path that routed nowhere: when the decoded form would route, an
 * escape such as %2F made the difference, and the message says so. */
static enum MHD_Result ht_not_found(qfx_server_t *h, struct MHD_Connection *c,
                                    const char *path) {
  char msg[400];
  if (strlen(path) > 200)
    snprintf(msg, sizeof(msg), "not found");
  else if (qfx_request_target_route(path) != QFX_R_NONE)
    snprintf(msg, sizeof(msg),
             "not found: %.200s as sent: an escaped \"/\" "
             "(%%2F) or \"?\" (%%3F) is not a path separator; send the path "
             "unescaped",
             path);
  else
    snprintf(msg, sizeof(msg), "not found: %s", path);
  return ht_error(h, c, MHD_HTTP_NOT_FOUND, msg, "not found", NULL);
}

/* ht_reject answers a method we do not serve with 405. */
static enum MHD_Result ht_reject(qfx_server_t *h, struct MHD_Connection *c,
                                 const char *method) {
  static const char generic[] = "method not allowed; use GET";
  char msg[160];
  if (strlen(method) <= 64)
    snprintf(msg, sizeof(msg), "method %s not allowed; use GET", method);
  else
    snprintf(msg, sizeof(msg), "%s", generic);
  return ht_error(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, generic, QFX_ALLOW);
}

/* ht_body_of maps a route to the body the refresh thread rendered; -1
 * for the routes served otherwise (/metrics picks one of three). */
static int ht_body_of(int route) {
  switch (route) {
  case QFX_R_HEALTH:
    return QFX_B_HEALTH;
  case QFX_R_STATUS:
    return QFX_B_STATUS;
  case QFX_R_AGENT_STATUS:
    return QFX_B_AGENT_STATUS;
  default:
    return -1;
  }
}

/* The query parameters of one request, as libmicrohttpd decoded them. */
typedef struct ht_args_s {
  qfx_kv_t kv[QFX_QUERY_MAX];
  size_t n;
  bool overflow;
  const char *nul; /* a parameter whose name or value holds "%00" */
} ht_args_t;

static enum MHD_Result ht_arg(void *cls, enum MHD_ValueKind kind,
                              const char *key, size_t key_size,
                              const char *value, size_t value_size) {
  ht_args_t *a = cls;
  (void)kind; /* only GET arguments are asked for */
  if (key_size == 0 && qfx_query_empty(&(qfx_kv_t){key, value}))
    return MHD_YES; /* "?&&": nothing to read, nothing to count */
  if (a->n == QFX_QUERY_MAX) {
    a->overflow = true;
    return MHD_NO;
  }
  /* A decoded NUL would cut the C string: "limit=5%00x" must not read as
   * limit=5. */
  if (a->nul == NULL && (strlen(key) != key_size ||
                         (value != NULL && strlen(value) != value_size)))
    a->nul = key;
  a->kv[a->n++] = (qfx_kv_t){key, value};
  return MHD_YES;
}

/* ht_args reads the query parameters into a; false after answering 400
 * (*r) for too many or one holding a decoded NUL. */
static bool ht_args(qfx_server_t *h, struct MHD_Connection *c, ht_args_t *a,
                    enum MHD_Result *r) {
  char err[200];
  *a = (ht_args_t){.n = 0, .overflow = false, .nul = NULL};
  MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, ht_arg, a);
  if (!a->overflow && a->nul == NULL)
    return true;
  if (a->overflow)
    snprintf(err, sizeof(err), "query: more than %d parameters", QFX_QUERY_MAX);
  else
    snprintf(err, sizeof(err), "%.64s: contains a NUL byte", a->nul);
  *r = ht_error(h, c, MHD_HTTP_BAD_REQUEST, err, "query: bad parameter name",
                NULL);
  return false;
}

/* ht_issues answers /project/issues: 400 naming the bad parameter, else
 * the page from the current project. */
static enum MHD_Result ht_issues(qfx_server_t *h, struct MHD_Connection *c) {
  ht_args_t args;
  qfx_issues_query_t q;
  char err[200];
  enum MHD_Result r;
  if (!ht_args(h, c, &args, &r))
    return r;
  if (qfx_issues_query_parse(args.kv, args.n, &q, err, sizeof(err)) != 0)
    return ht_error(h, c, MHD_HTTP_BAD_REQUEST, err,
                    "query: bad parameter name", NULL);
  qfx_set_t *s = qfx_cache_acquire(h->cache);
  r = qfx_project_queue_page(s->project, &q, c);
  qfx_set_release(s);
  return r;
}

/* ht_format finds ?format= among a's parameters (NULL: absent); false when
 * it is given more than once. Other parameters are left alone: a scraper
 * may add its own. */
static bool ht_format(const ht_args_t *a, const char **format) {
  *format = NULL;
  for (size_t i = 0; i < a->n; i++) {
    if (strcmp(a->kv[i].key, "format") != 0)
      continue;
    if (*format != NULL)
      return false;
    *format = a->kv[i].value != NULL ? a->kv[i].value : "";
  }
  return true;
}

/* ht_metrics_body picks /metrics' body from ?format= and Accept; -1 after
 * answering 400 for a bad ?format= (*r holds that answer). */
static int ht_metrics_body(qfx_server_t *h, struct MHD_Connection *c,
                           enum MHD_Result *r) {
  static const char bad[] = "format: must be json, prometheus or "
                            "openmetrics";
  static const char twice[] = "format: given more than once";
  ht_args_t args;
  const char *format;
  if (!ht_args(h, c, &args, r))
    return -1;
  bool once = ht_format(&args, &format);
  int fmt =
      once ? qfx_metrics_format(MHD_lookup_connection_value(
                                    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
                                format)
           : -1;
  if (fmt < 0) {
    *r = ht_error(h, c, MHD_HTTP_BAD_REQUEST, once ? bad : twice, bad, NULL);
    return -1;
  }
  return fmt == QFX_FMT_PROM ? QFX_B_METRICS_PROM
         : fmt == QFX_FMT_OM ? QFX_B_METRICS_OM
                             : QFX_B_METRICS;
}

/* ht_serve answers GET and HEAD of a known route from the current set. */
static enum MHD_Result ht_serve(qfx_server_t *h, struct MHD_Connection *c,
                                int route) {
  enum MHD_Result r = MHD_NO;
  int b = ht_body_of(route);
  if (route == QFX_R_PROJECT_ISSUES)
    return ht_issues(h, c);
  if (route == QFX_R_METRICS && (b = ht_metrics_body(h, c, &r)) < 0)
    return r;
  qfx_set_t *s = qfx_cache_acquire(h->cache);
  const qfx_response_t *e = route == QFX_R_PROJECT_COMPLETION
                                ? &s->project->completion
                                : &s->bodies[b];
  r = qfx_response_queue(e, c);
  qfx_set_release(s);
  return r;
}

/* ht_open_read tells whether the client is in a network of --open-read:
 * the TCP peer's address, never a header such as X-Forwarded-For, which
 * any client can write. */
static bool ht_open_read(const qfx_server_t *h, struct MHD_Connection *c) {
  if (h->n_open_read == 0)
    return false;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  return ci != NULL &&
         qfx_net_any(h->open_read, h->n_open_read, ci->client_addr);
}

/* ht_denied answers 401 unless the request carries the token or route is
 * open without it; true when it answered (*r). */
static bool ht_denied(qfx_server_t *h, struct MHD_Connection *c, int route,
                      enum MHD_Result *r) {
  if (route == QFX_R_HEALTH && !h->auth_health)
    return false;
  if ((route == QFX_R_STATUS || route == QFX_R_PROJECT_COMPLETION) &&
      ht_open_read(h, c))
    return false;
  int a = qfx_auth_check(
      h->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_AUTHORIZATION));
  if (a == QFX_AUTH_OK)
    return false;
  atomic_fetch_add_explicit(&h->guard.unauthorized, 1, memory_order_relaxed);
  *r = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED,
                          h->denied[a == QFX_AUTH_INVALID]);
  return true;
}

/* ht_dispatch answers a whole request: method, token, path, then the
 * route's body. */
static enum MHD_Result ht_dispatch(qfx_server_t *h, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   bool nul, int route) {
  enum MHD_Result r;
  int m = qfx_request_method(method);
  if (m == QFX_M_OTHER)
    return ht_reject(h, c, method);
  if (nul)
    return ht_error(h, c, MHD_HTTP_BAD_REQUEST, "path: contains a NUL byte",
                    "path: contains a NUL byte", NULL);
  if (m == QFX_M_OPTIONS) /* a preflight carries no credentials */
    return route == QFX_R_NONE
               ? ht_not_found(h, c, url)
               : MHD_queue_response(c, MHD_HTTP_NO_CONTENT, h->preflight);
  if (ht_denied(h, c, route, &r))
    return r;
  if (route == QFX_R_NONE)
    return ht_not_found(h, c, url);
  return ht_serve(h, c, route);
}

/* ht_slot is the connection's deadline slot (NULL: untracked). */
static qfx_deadline_slot_t *ht_slot(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

/* ht_answered stops the connection's request deadline: an answer is
 * queued (or the connection is being closed), r is passed on. */
static enum MHD_Result ht_answered(qfx_server_t *h, struct MHD_Connection *c,
                                   enum MHD_Result r) {
  qfx_deadline_answered(&h->guard, ht_slot(c));
  return r;
}

enum MHD_Result qfx_request_access(void *cls, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_size, void **req_cls) {
  qfx_server_t *h = cls;
  (void)version;     /* MHD answers in the request's HTTP version */
  (void)upload_data; /* no endpoint takes a body */
  bool nul = false;
  int route = QFX_R_NONE;
  if (!ht_marked(&ht_started, *req_cls, &nul, &route)) {
    if (!ht_marked(&ht_fresh, *req_cls, &nul, &route))
      return MHD_NO; /* no URI callback ran: cannot happen (server.c) */
    *req_cls = ht_mark(&ht_started, nul, route);
    /* A method we refuse is answered before its body is read; the rest
     * on the next call, which keeps the connection alive. */
    if (qfx_request_method(method) == QFX_M_OTHER)
      return ht_answered(h, c, ht_reject(h, c, method));
    return MHD_YES;
  }
  if (*upload_size != 0) {
    *upload_size = 0; /* a body sent with GET is read and dropped */
    return MHD_YES;
  }
  return ht_answered(h, c, ht_dispatch(h, c, url, method, nul, route));
}
