/* main.c: qiflow-exporter, the QiFlow REST and Prometheus daemon. */
#include "cache.h"
#include "http.h"
#include "log.h"
#include "opts.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

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

/* mn_run starts the cache and the server, waits for a signal, and tears
 * everything down again. Returns the exit status. */
static int mn_run(const qfx_opts_t *o, sigset_t *set) {
  static qfx_cache_t cache;
  static qfx_http_t http;
  char err[512] = "";
  int sig = 0;
  int rc = qfx_cache_init(&cache, o, err, sizeof(err));
  if (rc == 0)
    rc = qfx_http_start(&http, o, &cache, err, sizeof(err));
  if (rc == 0)
    rc = qfx_cache_start(&cache, err, sizeof(err));
  if (rc == 0) {
    QFX_INFO("version %s listening on %s, collectd socket %s, state dir %s, "
             "refresh %ld ms", QF_VERSION, o->listen, o->socket_path,
             o->state_dir, o->refresh_ms);
    if (!o->loopback)
      QFX_WARNING("listening on %s, beyond loopback: anyone who can reach "
                  "this port can read the swarm's status", o->listen);
    sigwait(set, &sig);
    QFX_INFO("%s received, shutting down", strsignal(sig));
  } else {
    QFX_ERROR("%s", err);
  }
  qfx_http_stop(&http);
  qfx_cache_destroy(&cache);
  return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  qfx_opts_t o;
  sigset_t set;
  char err[512] = "";
  /* First of all: a signal sent during start-up then waits for sigwait
   * and stops the exporter cleanly. */
  mn_block_signals(&set);
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
  return mn_run(&o, &set);
}
