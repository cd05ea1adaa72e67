/* opts.h: the exporter's command-line flags. */
#ifndef QFX_OPTS_H
#define QFX_OPTS_H

#include "auth.h"
#include "qf_swarm.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#define QFX_DEFAULT_LISTEN "0.0.0.0:8080"
#define QFX_DEFAULT_SOCKET "/var/run/collectd-unixsock"
#define QFX_DEFAULT_REFRESH_MS 1000
#define QFX_REFRESH_MIN_MS 100
#define QFX_REFRESH_MAX_MS 600000
#define QFX_THREADS_MAX 64
/* The default --threads: this many per CPU, and no more than the maximum. */
#define QFX_THREADS_PER_CPU 1
#define QFX_THREADS_DEFAULT_MAX 16
#define QFX_HOST_MAX 63 /* collectd's LCC_NAME_LEN minus the NUL */
/* Connection limits and their bounds (see --help). */
#define QFX_DEFAULT_MAX_CONNECTIONS 1000
#define QFX_MAX_CONNECTIONS_MAX 65536
#define QFX_DEFAULT_MAX_PER_IP 64
#define QFX_DEFAULT_CONNECTION_TIMEOUT 15 /* s without progress */
#define QFX_DEFAULT_REQUEST_TIMEOUT 10    /* s to send a whole request head */
#define QFX_TIMEOUT_MAX 3600
#define QFX_DEFAULT_CONNECTION_MEMORY 16384 /* bytes: request head + answer */
#define QFX_CONNECTION_MEMORY_MIN 4096
#define QFX_CONNECTION_MEMORY_MAX 1048576

typedef struct qfx_opts_s {
  char listen[128]; /* as given, for messages */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int port;
  int loopback; /* 1 when addr is 127.0.0.0/8 or ::1 */
  char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char state_dir[4096];
  long refresh_ms;
  char swarm_id[QF_SWARM_ID_MAX + 1]; /* "" : resolve from the state dir */
  char host[QFX_HOST_MAX + 1];        /* "" : pick the host automatically */
  int threads;                        /* 0 : see qfx_opts_threads */
  char cors_origin[256];
  char auth_token_file[4096];             /* "" : no bearer token required */
  bool auth_health;                       /* /health needs the token too */
  qfx_net_t open_read[QFX_OPEN_READ_MAX]; /* read the flat endpoints */
  size_t n_open_read;                     /* without the token */
  char tls_cert[4096]; /* "" : plain HTTP (both or neither) */
  char tls_key[4096];
  unsigned max_connections;
  unsigned max_per_ip; /* 0: no per-address limit */
  unsigned connection_timeout;
  unsigned request_timeout;
  size_t connection_memory;
} qfx_opts_t;

enum { QFX_OPTS_RUN = 0, QFX_OPTS_HELP = 1, QFX_OPTS_VERSION = 2 };

/* qfx_opts_defaults fills o with every default. */
void qfx_opts_defaults(qfx_opts_t *o);

/* qfx_opts_parse reads argv[1..argc-1] into o (defaults first). Returns
 * QFX_OPTS_RUN, QFX_OPTS_HELP, QFX_OPTS_VERSION, or -EINVAL with a one-line
 * message naming the flag in err. */
int qfx_opts_parse(qfx_opts_t *o, int argc, char **argv, char *err,
                   size_t errlen);

/* qfx_opts_parse_listen parses ADDR:PORT, [ADDR6]:PORT or PORT into o. */
int qfx_opts_parse_listen(qfx_opts_t *o, const char *s, char *err,
                          size_t errlen);

/* qfx_opts_threads is the HTTP worker count: --threads, else
 * QFX_THREADS_PER_CPU per CPU (ncpu, the CPUs the process may run on; < 1
 * counts as 1), at most QFX_THREADS_DEFAULT_MAX. */
unsigned qfx_opts_threads(const qfx_opts_t *o, long ncpu);

/* qfx_opts_exposure says what listening as o exposes, for a warning at
 * start: NULL on loopback, and beyond it with a token over TLS. */
const char *qfx_opts_exposure(const qfx_opts_t *o);

/* qfx_opts_usage prints --help to f. */
void qfx_opts_usage(FILE *f);

#endif
