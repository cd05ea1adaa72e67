/* server.c: starting and stopping the libmicrohttpd server: the listening
 * socket, TLS, the limits, the request deadline's notifications, the
 * answers built once (OPTIONS, 401), and libmicrohttpd's own messages with
 * repeats folded. The request side is request.c's. */
#include "request.h"
#include "server.h"
#include "log.h"
#include "qf_buf.h"
#include "qf_cond.h"
#include "render_json.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SV_BACKLOG 511
#define SV_LOG_FOLD_S 60.0 /* repeats of one message are counted this long */
#define SV_FD_SPARE 64     /* descriptors beyond the connections' */

/* sv_repeats logs how often a folded message came again. */
static void sv_repeats(const qfx_mhdlog_slot_t *e, double now) {
  if (e->repeats > 0)
    QFX_WARNING("libmicrohttpd: (%lu more time(s) in %.0f s: %s)", e->repeats,
                now - e->since, e->text);
}

void qfx_mhdlog_line(qfx_mhdlog_t *l, const char *line, double now) {
  pthread_mutex_lock(&l->lock);
  qfx_mhdlog_slot_t *e = NULL, *oldest = &l->slot[0];
  for (size_t i = 0; e == NULL && i < QFX_MHDLOG_SLOTS; i++) {
    qfx_mhdlog_slot_t *s = &l->slot[i];
    if (s->since > 0 && strncmp(s->text, line, sizeof(s->text) - 1) == 0)
      e = s;
    else if (s->since < oldest->since)
      oldest = s;
  }
  bool fold = e != NULL && now - e->since < SV_LOG_FOLD_S;
  if (fold) {
    e->repeats++;
  } else {
    e = e != NULL ? e : oldest;
    sv_repeats(e, now);
    qf_strcpy(e->text, sizeof(e->text), line);
    e->since = now;
    e->repeats = 0;
  }
  pthread_mutex_unlock(&l->lock);
  if (!fold)
    QFX_WARNING("libmicrohttpd: %s", line);
}

void qfx_mhdlog_flush(qfx_mhdlog_t *l) {
  double now = qf_mono_s();
  for (size_t i = 0; i < QFX_MHDLOG_SLOTS; i++)
    sv_repeats(&l->slot[i], now);
}

/* sv_log routes libmicrohttpd's messages into our log. */
__attribute__((format(printf, 2, 0))) static void
sv_log(void *cls, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof(line), fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  qfx_mhdlog_line(cls, line, qf_mono_s());
}

/* sv_capture keeps libmicrohttpd's first message for a caller's error. */
__attribute__((format(printf, 2, 0))) static void
sv_capture(void *cls, const char *fmt, va_list ap) {
  char *why = cls;
  if (why[0] != '\0')
    return;
  vsnprintf(why, 256, fmt, ap);
  why[strcspn(why, "\n")] = '\0';
}

/* sv_refuse is the access handler of the TLS check's daemon, which never
 * accepts a connection. */
static enum MHD_Result sv_refuse(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *data,
                                 size_t *size, void **req_cls) {
  (void)cls, (void)c, (void)url, (void)method, (void)version, (void)data,
      (void)size, (void)req_cls; /* never called */
  return MHD_NO;
}

int qfx_server_tls_check(const qfx_tls_t *tls, char *err, size_t errlen) {
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    qf_err(err, errlen,
           "--tls-cert: this libmicrohttpd was built without "
           "TLS support");
    return -ENOTSUP;
  }
  char why[256] = "";
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG,
      /* port = */ 0, NULL, NULL, sv_refuse, NULL, MHD_OPTION_EXTERNAL_LOGGER,
      sv_capture, why, MHD_OPTION_HTTPS_MEM_CERT, tls->cert,
      MHD_OPTION_HTTPS_MEM_KEY, tls->key, MHD_OPTION_HTTPS_PRIORITIES,
      QFX_TLS_PRIORITIES, MHD_OPTION_END);
  if (d == NULL) {
    qf_err(err, errlen,
           "--tls-cert/--tls-key: the certificate or key is "
           "not usable: %s",
           why[0] ? why : "libmicrohttpd refused them");
    return -EINVAL;
  }
  MHD_stop_daemon(d);
  return 0;
}

/* sv_notify tracks connections for the request deadline. */
static void sv_notify(void *cls, struct MHD_Connection *c,
                      void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
  qfx_server_t *h = cls;
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    qfx_deadline_close(&h->guard, *socket_context);
    *socket_context = NULL;
    return;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  *socket_context =
      ci != NULL ? qfx_deadline_open(&h->guard, ci->connect_fd, qf_mono_s())
                 : NULL;
}

/* sv_completed restarts the deadline once an answer was sent: the next
 * request on the connection is due within --request-timeout. */
static void sv_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  qfx_server_t *h = cls;
  (void)req_cls, (void)toe; /* markers only; a failed one closes anyway */
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (ci != NULL)
    qfx_deadline_done(&h->guard, ci->socket_context, qf_mono_s());
}

/* sv_listen_hint is what to do about a failed bind or listen (e), "" when
 * nothing specific helps. */
static const char *sv_listen_hint(const qfx_opts_t *o, int e) {
  if (e == EADDRINUSE)
    return ": another process listens there: the earlier Python QiFlow "
           "agent, still running, served this port (stop and disable it), "
           "or another qiflow-exporter; see which with ss -ltnp, or choose "
           "another --listen";
  if (e == EACCES && o->port < 1024)
    return ": a port below 1024 needs CAP_NET_BIND_SERVICE: add it to the "
           "unit's AmbientCapabilities= and CapabilityBoundingSet= in a "
           "drop-in (systemctl edit qiflow-exporter), or choose --listen "
           "with a port of 1024 or more";
  if (e == EADDRNOTAVAIL)
    return ": no interface of this host has that address; choose another "
           "--listen";
  return "";
}

/* sv_listen binds and listens on o's address: a clear error for a busy
 * port or a missing address before libmicrohttpd starts. */
static int sv_listen(const qfx_opts_t *o, char *err, size_t errlen) {
  int fd =
      socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    int e = errno;
    qf_err(err, errlen, "socket: %s", strerror(e));
    return -e;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0 ||
      listen(fd, SV_BACKLOG) != 0) {
    int e = errno;
    qf_err(err, errlen, "listen on %s: %s%s", o->listen, strerror(e),
           sv_listen_hint(o, e));
    close(fd);
    return -e;
  }
  return fd;
}

/* sv_preflight builds the OPTIONS answer: Allow and CORS headers. */
static struct MHD_Response *sv_preflight(const qfx_headers_t *hd) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (r == NULL)
    return NULL;
  if (MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, QFX_ALLOW) != MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Allow-Origin",
                              hd->cors_origin) != MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Allow-Methods", QFX_ALLOW) !=
          MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Allow-Headers",
                              "Accept, Accept-Encoding, Authorization, "
                              "If-None-Match, Cache-Control") != MHD_YES ||
      MHD_add_response_header(r, "Access-Control-Max-Age", "86400") !=
          MHD_YES) {
    MHD_destroy_response(r);
    return NULL;
  }
  return r;
}

/* sv_denied builds one 401 answer with its WWW-Authenticate challenge. */
static struct MHD_Response *sv_denied(const qfx_headers_t *hd, const char *msg,
                                      const char *challenge) {
  qf_jw_t w;
  char *body = NULL;
  size_t len = 0;
  if (qf_jw_init(&w) != 0)
    return NULL;
  qfx_render_error(&w, msg);
  int rc = qf_jw_finish(&w, &body, &len);
  qf_jw_free(&w);
  struct MHD_Response *r = rc == 0 ? qfx_error_response(body, len, hd) : NULL;
  free(body);
  if (r != NULL && MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                           challenge) != MHD_YES) {
    MHD_destroy_response(r);
    r = NULL;
  }
  return r;
}

/* sv_answers builds the answers every connection shares. */
static int sv_answers(qfx_server_t *h, char *err, size_t errlen) {
  h->preflight = sv_preflight(&h->headers);
  h->denied[0] = sv_denied(&h->headers,
                           "unauthorized: send \"Authorization: Bearer "
                           "<token>\"",
                           "Bearer realm=\"qiflow\"");
  h->denied[1] =
      sv_denied(&h->headers, "unauthorized: the bearer token is not valid",
                "Bearer realm=\"qiflow\", error=\"invalid_token\"");
  if (h->preflight == NULL || h->denied[0] == NULL || h->denied[1] == NULL) {
    qf_err(err, errlen, "building the shared responses: out of memory");
    return -ENOMEM;
  }
  return 0;
}

/* sv_cpus counts the CPUs this process may run on (taskset, systemd's
 * CPUAffinity=, a container's cpuset): on a host of 8 CPUs that runs the
 * exporter on 1, a worker per CPU means one. sysconf's online count when the
 * affinity mask cannot be read (more CPUs than a cpu_set_t holds). */
static long sv_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return CPU_COUNT(&set);
  return sysconf(_SC_NPROCESSORS_ONLN);
}

/* sv_threads is the worker count, one per CPU by default, as nginx runs its
 * workers: a worker serves every ready connection of its own in one pass,
 * and a second worker on the same CPU only adds wake-ups and context
 * switches. At 100,000 issues (tests/bench/exporter_scale.py, the servers on
 * one CPU and wrk on the other) one worker took 9.6 us of CPU a request
 * where three took 10.9 and two 13.1, and /health's p99 under 50 saturating
 * connections was 0.4 ms where three gave 6.6. Earlier measurements that
 * favoured more workers than CPUs had wrk sharing the servers' CPUs. */
static unsigned sv_threads(const qfx_opts_t *o) {
  return qfx_opts_threads(o, sv_cpus());
}

/* sv_connection_budget makes room for --max-connections descriptors: the
 * soft limit is raised toward the hard one when needed; when even that is
 * too low, fewer connections are allowed (logged). Returns the limit. */
static unsigned sv_connection_budget(const qfx_opts_t *o) {
  struct rlimit rl;
  rlim_t need = (rlim_t)o->max_connections + SV_FD_SPARE;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
    return o->max_connections;
  rlim_t want = rl.rlim_max < need ? rl.rlim_max : need;
  if (want > rl.rlim_cur) {
    struct rlimit raised = {want, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
      rl.rlim_cur = want;
  }
  if (rl.rlim_cur >= need)
    return o->max_connections;
  unsigned fit = rl.rlim_cur > (rlim_t)2 * SV_FD_SPARE
                     ? (unsigned)(rl.rlim_cur - SV_FD_SPARE)
                     : SV_FD_SPARE;
  QFX_WARNING("--max-connections %u needs %llu open files, the limit is "
              "%llu (ulimit -n, LimitNOFILE=): serving at most %u "
              "connections",
              o->max_connections, (unsigned long long)need,
              (unsigned long long)rl.rlim_cur, fit);
  return fit;
}

/* sv_options fills o (5 items) with the options that are not always
 * given: the worker pool (one thread needs none: libmicrohttpd warns about
 * a pool of 0) and TLS. */
static void sv_options(const qfx_tls_t *tls, unsigned threads,
                       struct MHD_OptionItem *o) {
  size_t n = 0;
  if (threads > 1)
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                     (intptr_t)threads, NULL};
  if (tls->cert != NULL) {
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                     (void *)QFX_TLS_PRIORITIES};
  }
  o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

/* sv_pool is the worker count for max_connections: libmicrohttpd gives
 * each worker an equal share of the limit, so a worker beyond
 * max_connections would get none and never serve (logged once). */
static unsigned sv_pool(const qfx_opts_t *o, unsigned max_connections) {
  unsigned threads = sv_threads(o);
  if (threads <= max_connections)
    return threads;
  QFX_NOTICE("%u HTTP worker threads for --max-connections %u: a worker "
             "per connection is enough, running %u",
             threads, max_connections, max_connections);
  return max_connections;
}

/* sv_daemon starts libmicrohttpd on the bound socket fd.
 * MHD_USE_ITC: without it, libmicrohttpd on Linux wakes its workers for
 * the stop by shutting the shared listening socket down, which a worker
 * never sees while it has taken that socket out of its epoll set, i.e.
 * while its share of the connection limit is used up (always, for a share
 * of 0). It then sleeps in epoll_wait until a connection times out, or for
 * ever, and MHD_stop_daemon waits for it. With an eventfd per worker every
 * worker wakes at once. */
static struct MHD_Daemon *sv_daemon(qfx_server_t *h, const qfx_opts_t *o,
                                    const qfx_tls_t *tls, int fd,
                                    unsigned max_connections) {
  struct MHD_OptionItem more[5];
  h->workers = sv_pool(o, max_connections);
  sv_options(tls, h->workers, more);
  unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG |
                   (tls->cert != NULL ? MHD_USE_TLS : 0);
  return MHD_start_daemon(
      flags, /* port = */ 0, NULL, NULL, qfx_request_access, h,
      MHD_OPTION_EXTERNAL_LOGGER, sv_log, &h->log, MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_CONNECTION_LIMIT, max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->connection_memory,
      /* Refuse an HTTP/1.1 request without Host instead of guessing. */
      MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK,
      qfx_request_uri, NULL, MHD_OPTION_NOTIFY_CONNECTION, sv_notify, h,
      MHD_OPTION_NOTIFY_COMPLETED, sv_completed, h, MHD_OPTION_ARRAY, more,
      MHD_OPTION_END);
}

int qfx_server_start(qfx_server_t *h, const qfx_opts_t *o, qfx_cache_t *cache,
                     const qfx_auth_t *auth, const qfx_tls_t *tls, char *err,
                     size_t errlen) {
  memset(h, 0, sizeof(*h));
  h->cache = cache;
  h->headers = cache->headers;
  h->auth = auth;
  h->auth_health = o->auth_health;
  h->open_read = o->open_read;
  h->n_open_read = o->n_open_read;
  h->log.ready = pthread_mutex_init(&h->log.lock, NULL) == 0;
  if (!h->log.ready) {
    qf_err(err, errlen, "initialising the log lock failed");
    return -ENOMEM;
  }
  int rc = sv_answers(h, err, errlen);
  if (rc != 0)
    return rc;
  unsigned max_connections = sv_connection_budget(o);
  /* Thread pools split the limit per worker and round it: a few spare
   * slots keep every accepted connection tracked. */
  rc = qfx_deadline_init(&h->guard, (size_t)max_connections + 64,
                         (double)o->request_timeout);
  if (rc == 0)
    rc = qfx_deadline_start(&h->guard, err, errlen);
  if (rc != 0)
    return rc;
  int fd = sv_listen(o, err, errlen);
  if (fd < 0)
    return fd;
  h->daemon = sv_daemon(h, o, tls, fd, max_connections);
  if (h->daemon == NULL) {
    close(fd);
    qf_err(err, errlen,
           "libmicrohttpd did not start on %s (see its message "
           "above)",
           o->listen);
    return -EIO;
  }
  return 0;
}

void qfx_server_stop(qfx_server_t *h) {
  if (h->daemon != NULL)
    MHD_stop_daemon(h->daemon);    /* joins its threads, closes the socket */
  qfx_deadline_destroy(&h->guard); /* every connection was closed above */
  struct MHD_Response *shared[] = {h->preflight, h->denied[0], h->denied[1]};
  for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
    if (shared[i] != NULL)
      MHD_destroy_response(shared[i]);
  if (h->log.ready) {
    qfx_mhdlog_flush(&h->log);
    pthread_mutex_destroy(&h->log.lock);
  }
  memset(h, 0, sizeof(*h));
}
