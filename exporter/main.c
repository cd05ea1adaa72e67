/* main.c: qiflow-exporter, the QiFlow REST and Prometheus daemon. */
#include "auth.h"
#include "cache.h"
#include "server.h"
#include "log.h"
#include "opts.h"
#include "swarm.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* glibc's default mmap threshold (see mallopt(3)). */
#define MN_MMAP_THRESHOLD (128 * 1024)
/* malloc arenas for every thread (the refresh thread and the reader rarely
 * wait for a worker's). */
#define MN_ARENA_MAX 2

/* mn_block_signals blocks SIGINT and SIGTERM in every thread created
 * afterwards, so only main's sigwait sees them. Their handlers go back to
 * the default first: a shell starts background jobs with SIGINT ignored,
 * and an ignored signal never reaches sigwait. SIGPIPE is ignored because
 * a write to a closed collectd socket must be an error, not death. */
static void mn_block_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
}

/* mn_open_read logs which networks may read the flat endpoints without
 * the token (--open-read), so the log shows the exception beside the
 * rule. */
static void mn_open_read(const qfx_opts_t *o) {
  char list[QFX_OPEN_READ_MAX * (INET6_ADDRSTRLEN + 6)] = "";
  size_t used = 0;
  for (size_t i = 0; i < o->n_open_read && used < sizeof(list); i++) {
    char addr[INET6_ADDRSTRLEN];
    const qfx_net_t *n = &o->open_read[i];
    inet_ntop(n->family, n->addr, addr, sizeof(addr));
    int w = snprintf(list + used, sizeof(list) - used, "%s%s/%u",
                     i > 0 ? ", " : "", addr, n->prefix);
    used += w > 0 ? (size_t)w : 0;
  }
  if (o->n_open_read > 0)
    QFX_INFO("GET /status and /project/completion need no token from %s "
             "(--open-read; the TCP peer's address, X-Forwarded-For is not "
             "read)",
             list);
}

/* mn_run starts the cache and the server, waits for a signal, and tears
 * everything down again. Returns the exit status. */
static int mn_run(const qfx_opts_t *o, const qfx_auth_t *auth,
                  const qfx_tls_t *tls, sigset_t *set) {
  static qfx_cache_t cache;
  static qfx_server_t http;
  char err[512] = "";
  int sig = 0;
  int rc = qfx_cache_init(&cache, o, err, sizeof(err));
  if (rc == 0)
    rc = qfx_server_start(&http, o, &cache, auth, tls, err, sizeof(err));
  if (rc == 0)
    rc = qfx_cache_start(&cache, err, sizeof(err));
  if (rc == 0) {
    QFX_INFO("version %s listening on %s (%s%s), %u HTTP worker%s, "
             "collectd socket %s, state dir %s, refresh %ld ms",
             QF_VERSION, o->listen, tls->cert != NULL ? "HTTPS" : "HTTP",
             auth->token != NULL ? (o->auth_health ? ", bearer token on "
                                                     "every endpoint"
                                                   : ", bearer token on "
                                                     "every endpoint but "
                                                     "/health")
                                 : "",
             http.workers, http.workers == 1 ? "" : "s", o->socket_path,
             o->state_dir, o->refresh_ms);
    mn_open_read(o);
    const char *exposed = qfx_opts_exposure(o);
    if (exposed != NULL)
      QFX_WARNING("listening on %s, beyond loopback, %s", o->listen, exposed);
    sigwait(set, &sig);
    QFX_INFO("%s received, shutting down", strsignal(sig));
  } else {
    QFX_ERROR("%s", err);
  }
  qfx_server_stop(&http);
  qfx_cache_destroy(&cache);
  return rc == 0 ? 0 : 1;
}

/* mn_secrets reads the token and the TLS files the flags name and checks
 * them; 0, or -1 after printing why (the exit status is then 2, as for a
 * bad flag). Once a secret is in memory the process stops being dumpable. */
static int mn_secrets(const qfx_opts_t *o, qfx_auth_t *auth, qfx_tls_t *tls) {
  char err[768] = "";
  int rc = 0;
  if (o->auth_token_file[0] != '\0' &&
      (rc = qfx_auth_load(auth, o->auth_token_file, err, sizeof(err))) != 0)
    fprintf(stderr, "qiflow-exporter: --auth-token-file: %s\n", err);
  if (rc == 0 && o->tls_cert[0] != '\0' &&
      ((rc = qfx_tls_load(tls, o->tls_cert, o->tls_key, err, sizeof(err))) !=
           0 ||
       (rc = qfx_server_tls_check(tls, err, sizeof(err))) != 0))
    fprintf(stderr, "qiflow-exporter: %s\n", err);
  if (rc != 0)
    return -1;
  if (auth->token != NULL || tls->key != NULL) {
    if (qfx_secrets_protect(err, sizeof(err)) != 0)
      QFX_NOTICE("%s", err);
    if (auth->token != NULL && auth->len < QFX_TOKEN_WEAK)
      QFX_WARNING("the bearer token in %s is %zu characters long; use at "
                  "least %d random ones (e.g. openssl rand -hex 32)",
                  o->auth_token_file, auth->len, QFX_TOKEN_WEAK);
  }
  return 0;
}

int main(int argc, char **argv) {
  static qfx_opts_t o;
  static qfx_auth_t auth;
  static qfx_tls_t tls;
  sigset_t set;
  char err[512] = "";
  /* First of all: a signal sent during start-up then waits for sigwait
   * and stops the exporter cleanly. */
  mn_block_signals(&set);
  /* Pin glibc's mmap threshold at its default: left dynamic, freeing one
   * large buffer (project.json's text, read at every change) raises it,
   * and the worker threads' arenas then keep megabytes they freed. */
  mallopt(M_MMAP_THRESHOLD, MN_MMAP_THRESHOLD);
  /* Responses are rendered ahead, so the workers hardly allocate: one
   * arena per worker (glibc's default, up to 8 per CPU) would only keep
   * freed connection memory apart. */
  mallopt(M_ARENA_MAX, MN_ARENA_MAX);
  int rc = qfx_opts_parse(&o, argc, argv, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "qiflow-exporter: %s\nTry 'qiflow-exporter --help'.\n",
            err);
    return 2;
  }
  if (rc == QFX_OPTS_HELP) {
    qfx_opts_usage(stdout);
    return 0;
  }
  if (rc == QFX_OPTS_VERSION) {
    printf("qiflow-exporter %s\n", QF_VERSION);
    return 0;
  }
  char conflict[1024] = "";
  if (qfx_swarm_check_start(o.swarm_id, o.state_dir, conflict,
                            sizeof(conflict)) != 0) {
    fprintf(stderr, "qiflow-exporter: %s\n", conflict);
    return 2;
  }
  if (mn_secrets(&o, &auth, &tls) != 0) {
    qfx_tls_destroy(&tls);
    return 2;
  }
  rc = mn_run(&o, &auth, &tls, &set);
  qfx_auth_destroy(&auth);
  qfx_tls_destroy(&tls);
  return rc;
}
