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
  op_setter_t set; /* called with the value (NULL for a switch) */
  int result;      /* what a flag without a setter makes parsing return */
  bool value;      /* the flag takes a value */
  bool repeat;     /* may be given more than once */
} op_flag_t;

void qfx_opts_defaults(qfx_opts_t *o) {
  memset(o, 0, sizeof(*o));
  qfx_opts_parse_listen(o, QFX_DEFAULT_LISTEN, NULL, 0);
  qf_strcpy(o->socket_path, sizeof(o->socket_path), QFX_DEFAULT_SOCKET);
  qf_strcpy(o->state_dir, sizeof(o->state_dir), QF_STATE_DIR);
  o->refresh_ms = QFX_DEFAULT_REFRESH_MS;
  qf_strcpy(o->cors_origin, sizeof(o->cors_origin), "*");
  o->max_connections = QFX_DEFAULT_MAX_CONNECTIONS;
  o->max_per_ip = QFX_DEFAULT_MAX_PER_IP;
  o->connection_timeout = QFX_DEFAULT_CONNECTION_TIMEOUT;
  o->request_timeout = QFX_DEFAULT_REQUEST_TIMEOUT;
  o->connection_memory = QFX_DEFAULT_CONNECTION_MEMORY;
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
    qf_err(err, errlen,
           "%s: \"%s\" is not an absolute path shorter than %zu "
           "bytes",
           flag, v, sizeof(o->socket_path));
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
    qf_err(err, errlen,
           "%s: \"%s\" is not a whole number of milliseconds "
           "between %d and %d",
           flag, v, QFX_REFRESH_MIN_MS, QFX_REFRESH_MAX_MS);
    return -EINVAL;
  }
  return 0;
}

static int op_set_swarm_id(qfx_opts_t *o, const char *flag, const char *v,
                           char *err, size_t errlen) {
  if (!qf_swarm_id_valid(v) ||
      qf_strcpy(o->swarm_id, sizeof(o->swarm_id), v) != 0) {
    qf_err(err, errlen,
           "%s: \"%s\" is not a valid swarm id (1-%d printable "
           "characters without spaces, quotes or backslashes)",
           flag, v, QF_SWARM_ID_MAX);
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
    qf_err(err, errlen,
           "%s: \"%s\" is not a collectd host name (1-%d "
           "printable characters, no '/')",
           flag, v, QFX_HOST_MAX);
    return -EINVAL;
  }
  return 0;
}

static int op_set_threads(qfx_opts_t *o, const char *flag, const char *v,
                          char *err, size_t errlen) {
  long n;
  if (op_long(v, 1, QFX_THREADS_MAX, &n) != 0) {
    qf_err(err, errlen, "%s: \"%s\" is not a number between 1 and %d", flag, v,
           QFX_THREADS_MAX);
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
    qf_err(err, errlen,
           "%s: \"%s\" is not \"*\" or an origin such as "
           "https://app.example",
           flag, v);
    return -EINVAL;
  }
  return 0;
}

/* op_path copies a file path flag's value into out (outlen bytes). */
static int op_path(char *out, size_t outlen, const char *flag, const char *v,
                   char *err, size_t errlen) {
  if (v[0] == '\0' || qf_strcpy(out, outlen, v) != 0) {
    qf_err(err, errlen, "%s: expects a file path shorter than %zu bytes", flag,
           outlen);
    return -EINVAL;
  }
  return 0;
}

static int op_set_token_file(qfx_opts_t *o, const char *flag, const char *v,
                             char *err, size_t errlen) {
  return op_path(o->auth_token_file, sizeof(o->auth_token_file), flag, v, err,
                 errlen);
}

static int op_set_auth_health(qfx_opts_t *o, const char *flag, const char *v,
                              char *err, size_t errlen) {
  (void)flag, (void)v, (void)err, (void)errlen; /* a switch */
  o->auth_health = true;
  return 0;
}

static int op_set_open_read(qfx_opts_t *o, const char *flag, const char *v,
                            char *err, size_t errlen) {
  char why[400];
  if (o->n_open_read == QFX_OPEN_READ_MAX) {
    qf_err(err, errlen,
           "%s: more than %d networks; cover them with fewer, "
           "wider prefixes",
           flag, QFX_OPEN_READ_MAX);
    return -EINVAL;
  }
  if (qfx_net_parse(v, &o->open_read[o->n_open_read], why, sizeof(why))) {
    qf_err(err, errlen, "%s: %s", flag, why);
    return -EINVAL;
  }
  o->n_open_read++;
  return 0;
}

static int op_set_tls_cert(qfx_opts_t *o, const char *flag, const char *v,
                           char *err, size_t errlen) {
  return op_path(o->tls_cert, sizeof(o->tls_cert), flag, v, err, errlen);
}

static int op_set_tls_key(qfx_opts_t *o, const char *flag, const char *v,
                          char *err, size_t errlen) {
  return op_path(o->tls_key, sizeof(o->tls_key), flag, v, err, errlen);
}

/* op_unsigned parses a flag's whole number within [min, max] into out. */
static int op_unsigned(const char *flag, const char *v, long min, long max,
                       const char *unit, unsigned *out, char *err,
                       size_t errlen) {
  long n;
  if (op_long(v, min, max, &n) != 0) {
    qf_err(err, errlen,
           "%s: \"%s\" is not a whole number of %s from %ld to "
           "%ld",
           flag, v, unit, min, max);
    return -EINVAL;
  }
  *out = (unsigned)n;
  return 0;
}

static int op_set_max_conns(qfx_opts_t *o, const char *flag, const char *v,
                            char *err, size_t errlen) {
  return op_unsigned(flag, v, 1, QFX_MAX_CONNECTIONS_MAX, "connections",
                     &o->max_connections, err, errlen);
}

static int op_set_max_per_ip(qfx_opts_t *o, const char *flag, const char *v,
                             char *err, size_t errlen) {
  return op_unsigned(flag, v, 0, QFX_MAX_CONNECTIONS_MAX, "connections",
                     &o->max_per_ip, err, errlen);
}

static int op_set_conn_timeout(qfx_opts_t *o, const char *flag, const char *v,
                               char *err, size_t errlen) {
  return op_unsigned(flag, v, 1, QFX_TIMEOUT_MAX, "seconds",
                     &o->connection_timeout, err, errlen);
}

static int op_set_req_timeout(qfx_opts_t *o, const char *flag, const char *v,
                              char *err, size_t errlen) {
  return op_unsigned(flag, v, 1, QFX_TIMEOUT_MAX, "seconds",
                     &o->request_timeout, err, errlen);
}

static int op_set_conn_memory(qfx_opts_t *o, const char *flag, const char *v,
                              char *err, size_t errlen) {
  unsigned n = 0;
  int rc = op_unsigned(flag, v, QFX_CONNECTION_MEMORY_MIN,
                       QFX_CONNECTION_MEMORY_MAX, "bytes", &n, err, errlen);
  if (rc == 0)
    o->connection_memory = n;
  return rc;
}

static const op_flag_t op_flags[] = {
    {"--listen", op_set_listen, 0, true, false},
    {"--socket", op_set_socket, 0, true, false},
    {"--state-dir", op_set_state_dir, 0, true, false},
    {"--refresh", op_set_refresh, 0, true, false},
    {"--swarm-id", op_set_swarm_id, 0, true, false},
    {"--host", op_set_host, 0, true, false},
    {"--threads", op_set_threads, 0, true, false},
    {"--cors-origin", op_set_cors, 0, true, false},
    {"--auth-token-file", op_set_token_file, 0, true, false},
    {"--auth-health", op_set_auth_health, 0, false, false},
    {"--open-read", op_set_open_read, 0, true, true},
    {"--tls-cert", op_set_tls_cert, 0, true, false},
    {"--tls-key", op_set_tls_key, 0, true, false},
    {"--max-connections", op_set_max_conns, 0, true, false},
    {"--max-connections-per-ip", op_set_max_per_ip, 0, true, false},
    {"--connection-timeout", op_set_conn_timeout, 0, true, false},
    {"--request-timeout", op_set_req_timeout, 0, true, false},
    {"--connection-memory", op_set_conn_memory, 0, true, false},
    {"--help", NULL, QFX_OPTS_HELP, false, false},
    {"-h", NULL, QFX_OPTS_HELP, false, false},
    {"--version", NULL, QFX_OPTS_VERSION, false, false},
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

/* op_unknown refuses argv[i] without echoing a value: a mistyped flag may
 * carry a secret ("--auth-token=..."), and so may a stray argument. */
static int op_unknown(const char *arg, size_t namelen, int i, char *err,
                      size_t errlen) {
  if (arg[0] != '-')
    qf_err(err, errlen,
           "argument %d: unexpected (not a flag; a value goes "
           "right after its flag)",
           i);
  else if (namelen == strlen("--auth-token") &&
           strncmp(arg, "--auth-token", namelen) == 0)
    qf_err(err, errlen,
           "--auth-token: unknown flag; the token is only read "
           "from a file (--auth-token-file), never from the command line");
  else
    qf_err(err, errlen, "%.*s: unknown flag",
           (int)(namelen > 64 ? 64 : namelen), arg);
  return -EINVAL;
}

/* op_one handles argv[*i] (and its value); advances *i past what it used.
 * Returns the flag's result or -EINVAL. */
static int op_one(qfx_opts_t *o, int argc, char **argv, int *i, unsigned *seen,
                  char *err, size_t errlen) {
  const char *arg = argv[*i];
  size_t namelen;
  const op_flag_t *f = op_find(arg, &namelen);
  if (f == NULL)
    return op_unknown(arg, namelen, *i, err, errlen);
  unsigned bit = 1u << (f - op_flags);
  if ((*seen & bit) && !f->repeat) {
    qf_err(err, errlen, "%s: given more than once", f->name);
    return -EINVAL;
  }
  *seen |= bit;
  if (!f->value) {
    if (arg[namelen] == '=') {
      qf_err(err, errlen, "%s: takes no value", f->name);
      return -EINVAL;
    }
    return f->set != NULL ? f->set(o, f->name, NULL, err, errlen) : f->result;
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

unsigned qfx_opts_threads(const qfx_opts_t *o, long ncpu) {
  if (o->threads > 0)
    return (unsigned)o->threads;
  long n = (ncpu < 1 ? 1 : ncpu) * QFX_THREADS_PER_CPU;
  return n > QFX_THREADS_DEFAULT_MAX ? QFX_THREADS_DEFAULT_MAX : (unsigned)n;
}

/* op_combined checks the flags that only make sense together. */
static int op_combined(const qfx_opts_t *o, char *err, size_t errlen) {
  if ((o->tls_cert[0] == '\0') != (o->tls_key[0] == '\0')) {
    qf_err(err, errlen, "%s: needs %s as well (TLS takes both or neither)",
           o->tls_cert[0] ? "--tls-cert" : "--tls-key",
           o->tls_cert[0] ? "--tls-key" : "--tls-cert");
    return -EINVAL;
  }
  if (o->auth_health && o->auth_token_file[0] == '\0') {
    qf_err(err, errlen, "--auth-health: needs --auth-token-file");
    return -EINVAL;
  }
  if (o->n_open_read > 0 && o->auth_token_file[0] == '\0') {
    qf_err(err, errlen,
           "--open-read: needs --auth-token-file (without a "
           "token every client may read every endpoint already)");
    return -EINVAL;
  }
  return QFX_OPTS_RUN;
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
  return result == QFX_OPTS_RUN ? op_combined(o, err, errlen) : result;
}

const char *qfx_opts_exposure(const qfx_opts_t *o) {
  if (o->loopback)
    return NULL;
  if (o->auth_token_file[0] == '\0')
    return "without --auth-token-file: anyone who can reach this port can "
           "read the swarm's status";
  if (o->tls_cert[0] == '\0')
    return "with a bearer token over plain HTTP: anyone on the network path "
           "can read the token (add --tls-cert and --tls-key)";
  return NULL;
}

/* op_usage_security prints the flags that guard access. */
static void op_usage_security(FILE *f) {
  fprintf(
      f,
      "Access (see the README's qiflow-exporter section):\n"
      "  --auth-token-file PATH\n"
      "                       require \"Authorization: Bearer TOKEN\" on "
      "every\n"
      "                       endpoint but /health; TOKEN is the file's "
      "content\n"
      "                       (one trailing newline dropped). The file must be "
      "a\n"
      "                       regular file no group or other user may access\n"
      "                       (chmod 600). The token is never taken from the\n"
      "                       command line.\n"
      "  --auth-health        require the token on /health too\n"
      "  --open-read CIDR     let clients of this network (IPV4/PREFIX or\n"
      "                       IPV6/PREFIX; a bare address is one host) GET or\n"
      "                       HEAD /status and /project/completion without "
      "the\n"
      "                       token: the central backend's poller sends none.\n"
      "                       Every other endpoint still needs it. Repeatable, "
      "at\n"
      "                       most %d networks; needs --auth-token-file. The\n"
      "                       client is the TCP peer: X-Forwarded-For is not\n"
      "                       read, so behind a reverse proxy the proxy's "
      "address\n"
      "                       is the one that counts.\n"
      "  --tls-cert PATH      serve HTTPS with this PEM certificate "
      "(chain)...\n"
      "  --tls-key PATH       ...and this PEM private key (not readable by "
      "every\n"
      "                       user); both or neither. TLS 1.2 and 1.3 only.\n",
      QFX_OPEN_READ_MAX);
}

/* op_usage_limits prints the connection limits. */
static void op_usage_limits(FILE *f) {
  fprintf(
      f,
      "Limits:\n"
      "  --max-connections N  connections at once, 1-%d (default %d); more "
      "wait\n"
      "                       in the kernel's backlog until one closes\n"
      "  --max-connections-per-ip N\n"
      "                       connections at once from one address, 0 for no\n"
      "                       limit (default %d)\n"
      "  --connection-timeout S\n"
      "                       close a connection that makes no progress for S\n"
      "                       seconds, 1-%d (default %d)\n"
      "  --request-timeout S  close a connection that has not sent a whole "
      "request\n"
      "                       head (request line and headers) S seconds after "
      "it\n"
      "                       opened or after its previous answer, 1-%d "
      "(default\n"
      "                       %d); slow senders cannot hold connections\n"
      "  --connection-memory BYTES\n"
      "                       memory per connection, %d-%d (default\n"
      "                       %d); a request line and headers that do not fit\n"
      "                       are answered 414 or 431\n",
      QFX_MAX_CONNECTIONS_MAX, QFX_DEFAULT_MAX_CONNECTIONS,
      QFX_DEFAULT_MAX_PER_IP, QFX_TIMEOUT_MAX, QFX_DEFAULT_CONNECTION_TIMEOUT,
      QFX_TIMEOUT_MAX, QFX_DEFAULT_REQUEST_TIMEOUT, QFX_CONNECTION_MEMORY_MIN,
      QFX_CONNECTION_MEMORY_MAX, QFX_DEFAULT_CONNECTION_MEMORY);
}

void qfx_opts_usage(FILE *f) {
  fprintf(
      f,
      "Usage: qiflow-exporter [FLAG]...\n"
      "Serve the QiFlow REST API and a Prometheus scrape from collectd's "
      "unixsock\n"
      "and the QiFlow snapshots. Every response is rendered in memory once "
      "per\n"
      "refresh; requests never wait for collectd.\n"
      "\n"
      "Flags (--flag VALUE or --flag=VALUE; each at most once but "
      "--open-read):\n"
      "  --listen ADDR:PORT   where to listen: IPV4:PORT, [IPV6]:PORT, or PORT "
      "for\n"
      "                       every IPv4 interface (default %s).\n"
      "                       Beyond loopback without --auth-token-file a "
      "warning\n"
      "                       is logged at start.\n"
      "  --socket PATH        collectd's unixsock socket (default %s)\n"
      "  --state-dir DIR      where the plugins write agents.json, "
      "project.json,\n"
      "                       heartbeat.json and swarm_id (default %s)\n"
      "  --refresh MS         how often collectd and the snapshots are read "
      "and the\n"
      "                       responses rendered, %d-%d ms (default %d)\n"
      "  --swarm-id ID        the swarm id; default: the one qiflow_heartbeat\n"
      "                       sends, from DIR/heartbeat.json, else "
      "DIR/swarm_id\n"
      "                       (created with a new UUID when missing). Exit 2 "
      "when\n"
      "                       it differs from qiflow_heartbeat's.\n"
      "  --host NAME          which collectd host's values to serve; default: "
      "the\n"
      "                       host with qiflow_agents values, else the first "
      "host\n"
      "                       with cpu values\n"
      "  --threads N          HTTP worker threads, 1-%d (default: %d per CPU "
      "the\n"
      "                       exporter may run on, at most %d)\n"
      "  --cors-origin ORIGIN Access-Control-Allow-Origin value (default *)\n"
      "  --help, -h           print this help and exit\n"
      "  --version            print the version and exit\n\n",
      QFX_DEFAULT_LISTEN, QFX_DEFAULT_SOCKET, QF_STATE_DIR, QFX_REFRESH_MIN_MS,
      QFX_REFRESH_MAX_MS, QFX_DEFAULT_REFRESH_MS, QFX_THREADS_MAX,
      QFX_THREADS_PER_CPU, QFX_THREADS_DEFAULT_MAX);
  op_usage_security(f);
  fputc('\n', f);
  op_usage_limits(f);
  fprintf(
      f,
      "\n"
      "Endpoints: GET /health, /status, /agent/status, /metrics,\n"
      "/project/completion, /project/issues?page=&limit=&status=&flagged=\n"
      "Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up failure, 2 on a "
      "bad\n"
      "flag, an unusable token, certificate or key file, or a --swarm-id that\n"
      "disagrees with qiflow_heartbeat's.\n");
}
