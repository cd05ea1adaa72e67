/* opts.c: the exporter's command-line flags: table-driven, strict, every
 * error a one-line message naming the flag. */
#include "opts.h"
#include "qf_buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

typedef int (*op_setter_t)(qfx_opts_t *o, const char *flag, const char *v,
                           char *err, size_t errlen);

typedef struct op_flag_s {
  const char *name;
  op_setter_t set; /* NULL: a flag without a value */
  int result;      /* what a value-less flag makes qfx_opts_parse return */
} op_flag_t;

void qfx_opts_defaults(qfx_opts_t *o) {
  memset(o, 0, sizeof(*o));
  qfx_opts_parse_listen(o, QFX_DEFAULT_LISTEN, NULL, 0);
  qf_strcpy(o->socket_path, sizeof(o->socket_path), QFX_DEFAULT_SOCKET);
  qf_strcpy(o->state_dir, sizeof(o->state_dir), QFX_DEFAULT_STATE_DIR);
  o->refresh_ms = QFX_DEFAULT_REFRESH_MS;
  qf_strcpy(o->cors_origin, sizeof(o->cors_origin), "*");
}

/* op_long parses all of s as a decimal integer within [min, max]. */
static int op_long(const char *s, long min, long max, long *out) {
  if (s[0] < '0' || s[0] > '9')
    return -EINVAL; /* no sign, no space, no empty string */
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

/* op_port parses a TCP port, 1..65535. */
static int op_port(const char *s, int *port) {
  long v;
  if (op_long(s, 1, 65535, &v) != 0)
    return -EINVAL;
  *port = (int)v;
  return 0;
}

/* op_listen_v6 parses "[ADDR6]:PORT" into o. */
static int op_listen_v6(qfx_opts_t *o, const char *s) {
  const char *close = strchr(s, ']');
  char host[INET6_ADDRSTRLEN];
  size_t n = close == NULL ? 0 : (size_t)(close - s - 1);
  if (close == NULL || close[1] != ':' || n == 0 || n >= sizeof(host))
    return -EINVAL;
  memcpy(host, s + 1, n);
  host[n] = '\0';
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)&o->addr;
  memset(&o->addr, 0, sizeof(o->addr));
  if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1 ||
      op_port(close + 2, &o->port) != 0)
    return -EINVAL;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)o->port);
  o->addrlen = sizeof(*a);
  o->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  return 0;
}

/* op_listen_v4 parses "A.B.C.D:PORT" or a bare "PORT" (all interfaces). */
static int op_listen_v4(qfx_opts_t *o, const char *s) {
  const char *colon = strrchr(s, ':');
  char host[INET_ADDRSTRLEN] = "0.0.0.0";
  if (colon != NULL) {
    size_t n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof(host))
      return -EINVAL;
    memcpy(host, s, n);
    host[n] = '\0';
  }
  struct sockaddr_in *a = (struct sockaddr_in *)&o->addr;
  memset(&o->addr, 0, sizeof(o->addr));
  if (inet_pton(AF_INET, host, &a->sin_addr) != 1 ||
      op_port(colon != NULL ? colon + 1 : s, &o->port) != 0)
    return -EINVAL;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)o->port);
  o->addrlen = sizeof(*a);
  o->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  return 0;
}

int qfx_opts_parse_listen(qfx_opts_t *o, const char *s, char *err,
                          size_t errlen) {
  int status = s[0] == '[' ? op_listen_v6(o, s) : op_listen_v4(o, s);
  if (status == 0 && qf_strcpy(o->listen, sizeof(o->listen), s) == 0)
    return 0;
  qf_err(err, errlen,
         "--listen: \"%s\" is not IPV4:PORT, [IPV6]:PORT or PORT "
         "(numeric address, port 1-65535)",
         s);
  return -EINVAL;
}

static int op_set_listen(qfx_opts_t *o, const char *flag, const char *v,
                         char *err, size_t errlen) {
  (void)flag; /* the message names --listen itself */
  return qfx_opts_parse_listen(o, v, err, errlen);
}

static int op_set_socket(qfx_opts_t *o, const char *flag, const char *v,
                         char *err, size_t errlen) {
  /* libcollectdclient would cut a long path silently: refuse it here. */
  if (v[0] != '/' || qf_strcpy(o->socket_path, sizeof(o->socket_path), v)) {
    qf_err(err, errlen, "%s: \"%s\" is not an absolute path shorter than %zu "
           "bytes", flag, v, sizeof(o->socket_path));
    return -EINVAL;
  }
  return 0;
}

static int op_set_state_dir(qfx_opts_t *o, const char *flag, const char *v,
                            char *err, size_t errlen) {
  if (v[0] == '\0' || qf_strcpy(o->state_dir, sizeof(o->state_dir), v)) {
    qf_err(err, errlen, "%s: expects a directory path", flag);
    return -EINVAL;
  }
  return 0;
}

static int op_set_refresh(qfx_opts_t *o, const char *flag, const char *v,
                          char *err, size_t errlen) {
  if (op_long(v, QFX_REFRESH_MIN_MS, QFX_REFRESH_MAX_MS, &o->refresh_ms)) {
    qf_err(err, errlen, "%s: \"%s\" is not a whole number of milliseconds "
           "between %d and %d", flag, v, QFX_REFRESH_MIN_MS,
           QFX_REFRESH_MAX_MS);
    return -EINVAL;
  }
  return 0;
}

static int op_set_swarm_id(qfx_opts_t *o, const char *flag, const char *v,
                           char *err, size_t errlen) {
  if (!qf_swarm_id_valid(v) ||
      qf_strcpy(o->swarm_id, sizeof(o->swarm_id), v) != 0) {
    qf_err(err, errlen, "%s: \"%s\" is not a valid swarm id (1-%d printable "
           "characters without spaces, quotes or backslashes)", flag, v,
           QF_SWARM_ID_MAX);
    return -EINVAL;
  }
  return 0;
}

/* op_visible tells whether s is non-empty printable ASCII without spaces
 * and without any character in reject. */
static int op_visible(const char *s, const char *reject) {
  if (s[0] == '\0')
    return 0;
  for (const char *p = s; *p; p++)
    if (*p <= ' ' || *p > '~' || strchr(reject, *p) != NULL)
      return 0;
  return 1;
}

static int op_set_host(qfx_opts_t *o, const char *flag, const char *v,
                       char *err, size_t errlen) {
  if (!op_visible(v, "/\"\\") || qf_strcpy(o->host, sizeof(o->host), v)) {
    qf_err(err, errlen, "%s: \"%s\" is not a collectd host name (1-%d "
           "printable characters, no '/')", flag, v, QFX_HOST_MAX);
    return -EINVAL;
  }
  return 0;
}

static int op_set_threads(qfx_opts_t *o, const char *flag, const char *v,
                          char *err, size_t errlen) {
  long n;
  if (op_long(v, 1, QFX_THREADS_MAX, &n) != 0) {
    qf_err(err, errlen, "%s: \"%s\" is not a number between 1 and %d", flag,
           v, QFX_THREADS_MAX);
    return -EINVAL;
  }
  o->threads = (int)n;
  return 0;
}

static int op_set_cors(qfx_opts_t *o, const char *flag, const char *v,
                       char *err, size_t errlen) {
  /* It becomes a header value: no control characters, no spaces. */
  if (!op_visible(v, "") ||
      qf_strcpy(o->cors_origin, sizeof(o->cors_origin), v) != 0) {
    qf_err(err, errlen, "%s: \"%s\" is not \"*\" or an origin such as "
           "https://app.example", flag, v);
    return -EINVAL;
  }
  return 0;
}

static const op_flag_t op_flags[] = {
    {"--listen", op_set_listen, 0},
    {"--socket", op_set_socket, 0},
    {"--state-dir", op_set_state_dir, 0},
    {"--refresh", op_set_refresh, 0},
    {"--swarm-id", op_set_swarm_id, 0},
    {"--host", op_set_host, 0},
    {"--threads", op_set_threads, 0},
    {"--cors-origin", op_set_cors, 0},
    {"--help", NULL, QFX_OPTS_HELP},
    {"-h", NULL, QFX_OPTS_HELP},
    {"--version", NULL, QFX_OPTS_VERSION},
};
#define OP_NFLAGS (sizeof(op_flags) / sizeof(op_flags[0]))

/* op_find returns the flag named by arg (up to any '='), or NULL. */
static const op_flag_t *op_find(const char *arg, size_t *namelen) {
  size_t n = strcspn(arg, "=");
  *namelen = n;
  for (size_t i = 0; i < OP_NFLAGS; i++)
    if (strlen(op_flags[i].name) == n && strncmp(op_flags[i].name, arg, n) == 0)
      return &op_flags[i];
  return NULL;
}

/* op_one handles argv[*i] (and its value); advances *i past what it used.
 * Returns the flag's result or -EINVAL. */
static int op_one(qfx_opts_t *o, int argc, char **argv, int *i,
                  unsigned *seen, char *err, size_t errlen) {
  const char *arg = argv[*i];
  size_t namelen;
  const op_flag_t *f = op_find(arg, &namelen);
  if (f == NULL) {
    qf_err(err, errlen, "%s: %s", arg,
           arg[0] == '-' ? "unknown flag" : "unexpected argument");
    return -EINVAL;
  }
  unsigned bit = 1u << (f - op_flags);
  if (*seen & bit) {
    qf_err(err, errlen, "%s: given more than once", f->name);
    return -EINVAL;
  }
  *seen |= bit;
  if (f->set == NULL) {
    if (arg[namelen] == '=') {
      qf_err(err, errlen, "%s: takes no value", f->name);
      return -EINVAL;
    }
    return f->result;
  }
  const char *v = arg[namelen] == '=' ? arg + namelen + 1 : NULL;
  if (v == NULL && *i + 1 >= argc) {
    qf_err(err, errlen, "%s: missing value", f->name);
    return -EINVAL;
  }
  if (v == NULL)
    v = argv[++*i];
  return f->set(o, f->name, v, err, errlen);
}

int qfx_opts_parse(qfx_opts_t *o, int argc, char **argv, char *err,
                   size_t errlen) {
  qfx_opts_defaults(o);
  unsigned seen = 0;
  int result = QFX_OPTS_RUN;
  for (int i = 1; i < argc; i++) {
    int status = op_one(o, argc, argv, &i, &seen, err, errlen);
    if (status < 0) {
      /* The message quotes the value: keep it one printable line. */
      for (char *p = err; p != NULL && errlen > 0 && *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
          *p = '?';
      return status;
    }
    if (status == QFX_OPTS_HELP || result == QFX_OPTS_RUN)
      result = status; /* --help wins over --version */
  }
  return result;
}

void qfx_opts_usage(FILE *f) {
  fprintf(f,
"Usage: qiflow-exporter [FLAG]...\n"
"Serve the QiFlow REST API and a Prometheus scrape from collectd's unixsock\n"
"and the QiFlow snapshots. Every response is rendered in memory once per\n"
"refresh; requests never wait for collectd.\n"
"\n"
"Flags (--flag VALUE or --flag=VALUE; each at most once):\n"
"  --listen ADDR:PORT   where to listen: IPV4:PORT, [IPV6]:PORT, or PORT for\n"
"                       every IPv4 interface (default %s).\n"
"                       Anything beyond loopback logs a warning at start.\n"
"  --socket PATH        collectd's unixsock socket (default %s)\n"
"  --state-dir DIR      where the plugins write agents.json, project.json,\n"
"                       heartbeat.json and swarm_id (default %s)\n"
"  --refresh MS         how often collectd and the snapshots are read and the\n"
"                       responses rendered, %d-%d ms (default %d)\n"
"  --swarm-id ID        the swarm id; default: DIR/swarm_id, created with a\n"
"                       new UUID when missing (shared with the plugins)\n"
"  --host NAME          which collectd host's values to serve; default: the\n"
"                       host with qiflow_agents values, else the first host\n"
"                       with cpu values\n"
"  --threads N          HTTP worker threads, 1-%d (default: one per CPU)\n"
"  --cors-origin ORIGIN Access-Control-Allow-Origin value (default *)\n"
"  --help, -h           print this help and exit\n"
"  --version            print the version and exit\n"
"\n"
"Endpoints: GET /health, /status, /agent/status, /metrics,\n"
"/project/completion, /project/issues?page=&limit=&status=&flagged=\n"
"Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up failure, 2 on a bad\n"
"flag.\n",
          QFX_DEFAULT_LISTEN, QFX_DEFAULT_SOCKET, QFX_DEFAULT_STATE_DIR,
          QFX_REFRESH_MIN_MS, QFX_REFRESH_MAX_MS, QFX_DEFAULT_REFRESH_MS,
          QFX_THREADS_MAX);
}
