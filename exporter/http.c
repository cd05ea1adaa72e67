/* http.c: the libmicrohttpd server. The handler checks the method first
 * (GET and HEAD are served, OPTIONS answered, anything else gets 405 with
 * Allow), routes on the path, and queues a response the refresh thread
 * already built. Only errors are rendered per request, and a page of
 * /project/issues the first time it is asked for. */
#include "http.h"
#include "log.h"
#include "prom.h"
#include "qf_buf.h"
#include "render.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HT_CONNECTION_LIMIT 1000u /* below the usual 1024 open files */
#define HT_CONNECTION_TIMEOUT 15u /* seconds an idle connection stays */
#define HT_BACKLOG 511
/* Per-connection memory pool: requests are one line and a few headers,
 * bodies are sent from the prebuilt responses; MHD's default is 32 KiB. */
#define HT_CONNECTION_MEMORY (16u * 1024u)

/* The marker stored in *req_cls after the first call; its address is all
 * that matters. */
static int ht_started;

int qfx_http_method(const char *method) {
  if (strcmp(method, "GET") == 0)
    return QFX_M_GET;
  if (strcmp(method, "HEAD") == 0)
    return QFX_M_HEAD;
  if (strcmp(method, "OPTIONS") == 0)
    return QFX_M_OPTIONS;
  return QFX_M_OTHER;
}

int qfx_http_route(const char *path) {
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

/* ht_error answers status with {"success": false, "error": msg}. */
static enum MHD_Result ht_error(qfx_http_t *h, struct MHD_Connection *c,
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

static enum MHD_Result ht_not_found(qfx_http_t *h, struct MHD_Connection *c,
                                    const char *path) {
  char msg[300];
  if (strlen(path) > 200)
    snprintf(msg, sizeof(msg), "not found");
  else
    snprintf(msg, sizeof(msg), "not found: %s", path);
  return ht_error(h, c, MHD_HTTP_NOT_FOUND, msg, "not found", NULL);
}

/* ht_reject answers a method we do not serve with 405. */
static enum MHD_Result ht_reject(qfx_http_t *h, struct MHD_Connection *c,
                                 const char *method) {
  static const char generic[] = "method not allowed; use GET";
  char msg[160];
  if (strlen(method) <= 64)
    snprintf(msg, sizeof(msg), "method %s not allowed; use GET", method);
  else
    snprintf(msg, sizeof(msg), "%s", generic);
  return ht_error(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, generic,
                  QFX_ALLOW);
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

/* ht_issues answers /project/issues: 400 naming the bad parameter, else
 * the page from the current project. */
static enum MHD_Result ht_issues(qfx_http_t *h, struct MHD_Connection *c) {
  ht_args_t args = {.n = 0, .overflow = false, .nul = NULL};
  qfx_issues_query_t q;
  char err[200];
  MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, ht_arg, &args);
  if (args.overflow || args.nul != NULL) {
    if (args.overflow)
      snprintf(err, sizeof(err), "query: more than %d parameters",
               QFX_QUERY_MAX);
    else
      snprintf(err, sizeof(err), "%.64s: contains a NUL byte", args.nul);
    return ht_error(h, c, MHD_HTTP_BAD_REQUEST, err,
                    "query: bad parameter name", NULL);
  }
  if (qfx_issues_query_parse(args.kv, args.n, &q, err, sizeof(err)) != 0)
    return ht_error(h, c, MHD_HTTP_BAD_REQUEST, err,
                    "query: bad parameter name", NULL);
  qfx_set_t *s = qfx_cache_acquire(h->cache);
  enum MHD_Result r = qfx_project_queue_page(s->project, &q, c);
  qfx_set_release(s);
  return r;
}

/* ht_metrics_body picks /metrics' body from ?format= and Accept; -1 after
 * answering 400 for a bad ?format= (*r holds that answer). */
static int ht_metrics_body(qfx_http_t *h, struct MHD_Connection *c,
                           enum MHD_Result *r) {
  int fmt = qfx_metrics_format(
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
      MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"));
  if (fmt < 0) {
    static const char msg[] = "format: must be json, prometheus or "
                              "openmetrics";
    *r = ht_error(h, c, MHD_HTTP_BAD_REQUEST, msg, msg, NULL);
    return -1;
  }
  return fmt == QFX_FMT_PROM ? QFX_B_METRICS_PROM
         : fmt == QFX_FMT_OM ? QFX_B_METRICS_OM
                             : QFX_B_METRICS;
}

/* ht_serve answers GET and HEAD of a known route from the current set. */
static enum MHD_Result ht_serve(qfx_http_t *h, struct MHD_Connection *c,
                                int route) {
  enum MHD_Result r = MHD_NO;
  int b = ht_body_of(route);
  if (route == QFX_R_PROJECT_ISSUES)
    return ht_issues(h, c);
  if (route == QFX_R_METRICS && (b = ht_metrics_body(h, c, &r)) < 0)
    return r;
  qfx_set_t *s = qfx_cache_acquire(h->cache);
  const qfx_entry_t *e = route == QFX_R_PROJECT_COMPLETION
                             ? &s->project->completion
                             : &s->bodies[b];
  r = qfx_entry_queue(e, c);
  qfx_set_release(s);
  return r;
}

/* ht_access answers on the call after the headers, once any request body
 * has been read and dropped: answering on the first call would make
 * libmicrohttpd close the connection instead of keeping it alive. */
static enum MHD_Result ht_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_size, void **req_cls) {
  qfx_http_t *h = cls;
  (void)version;     /* MHD answers in the request's HTTP version */
  (void)upload_data; /* no endpoint takes a body */
  if (*req_cls == NULL) {
    *req_cls = &ht_started;
    return MHD_YES;
  }
  if (*upload_size != 0) {
    *upload_size = 0;
    return MHD_YES;
  }
  int m = qfx_http_method(method);
  if (m == QFX_M_OTHER)
    return ht_reject(h, c, method);
  int route = qfx_http_route(url);
  if (route == QFX_R_NONE)
    return ht_not_found(h, c, url);
  if (m == QFX_M_OPTIONS)
    return MHD_queue_response(c, MHD_HTTP_NO_CONTENT, h->preflight);
  return ht_serve(h, c, route);
}

/* ht_log routes libmicrohttpd's messages into our log. */
static void ht_log(void *cls, const char *fmt, va_list ap) {
  (void)cls; /* one logger for the process */
  char line[512];
  vsnprintf(line, sizeof(line), fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  QFX_WARNING("libmicrohttpd: %s", line);
}

/* ht_listen binds and listens on o's address: a clear error for a busy
 * port or a missing address before libmicrohttpd starts. */
static int ht_listen(const qfx_opts_t *o, char *err, size_t errlen) {
  int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                  0);
  if (fd < 0) {
    int e = errno;
    qf_err(err, errlen, "socket: %s", strerror(e));
    return -e;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0 ||
      listen(fd, HT_BACKLOG) != 0) {
    int e = errno;
    qf_err(err, errlen, "listen on %s: %s", o->listen, strerror(e));
    close(fd);
    return -e;
  }
  return fd;
}

/* ht_preflight builds the OPTIONS answer: Allow and CORS headers. */
static struct MHD_Response *ht_preflight(const qfx_headers_t *hd) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (r == NULL)
    return NULL;
  if (MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, QFX_ALLOW) !=
          MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Allow-Origin",
                              hd->cors_origin) != MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Allow-Methods", QFX_ALLOW) !=
          MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Allow-Headers",
                              "Accept, Accept-Encoding, If-None-Match, "
                              "Cache-Control") != MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Max-Age", "86400") !=
          MHD_YES) {
    MHD_destroy_response(r);
    return NULL;
  }
  return r;
}

/* ht_threads is the worker count: --threads, else one per online CPU. */
static unsigned ht_threads(const qfx_opts_t *o) {
  if (o->threads > 0)
    return (unsigned)o->threads;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1u : n > QFX_THREADS_MAX ? QFX_THREADS_MAX : (unsigned)n;
}

int qfx_http_start(qfx_http_t *h, const qfx_opts_t *o, qfx_cache_t *cache,
                   char *err, size_t errlen) {
  memset(h, 0, sizeof(*h));
  h->cache = cache;
  h->headers = cache->headers;
  h->preflight = ht_preflight(&h->headers);
  if (h->preflight == NULL) {
    qf_err(err, errlen, "building the OPTIONS response: out of memory");
    return -ENOMEM;
  }
  int fd = ht_listen(o, err, errlen);
  if (fd < 0)
    return fd;
  unsigned threads = ht_threads(o);
  h->daemon = MHD_start_daemon(
      MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
      /* port = */ 0, NULL, NULL, ht_access, h, MHD_OPTION_EXTERNAL_LOGGER,
      ht_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u,
      MHD_OPTION_CONNECTION_LIMIT, HT_CONNECTION_LIMIT,
      MHD_OPTION_CONNECTION_TIMEOUT, HT_CONNECTION_TIMEOUT,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HT_CONNECTION_MEMORY,
      MHD_OPTION_END);
  if (h->daemon == NULL) {
    close(fd);
    qf_err(err, errlen, "libmicrohttpd did not start on %s (see its message "
           "above)", o->listen);
    return -EIO;
  }
  return 0;
}

void qfx_http_stop(qfx_http_t *h) {
  if (h->daemon != NULL)
    MHD_stop_daemon(h->daemon); /* joins its threads, closes the socket */
  if (h->preflight != NULL)
    MHD_destroy_response(h->preflight);
  memset(h, 0, sizeof(*h));
}
