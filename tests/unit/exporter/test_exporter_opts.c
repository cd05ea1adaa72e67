/* Unit tests for opts.c: every flag, its defaults, and every way a flag
 * can be wrong (each must fail with a message naming the flag). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define MAXARGS 8

/* parse runs qfx_opts_parse on a NULL-terminated argument list. */
static int parse(qfx_opts_t *o, char *err, const char *const *args) {
  char *argv[MAXARGS + 1] = {"qiflow-exporter"};
  int argc = 1;
  for (; args[argc - 1] != NULL && argc <= MAXARGS; argc++)
    argv[argc] = (char *)args[argc - 1];
  err[0] = '\0';
  return qfx_opts_parse(o, argc, argv, err, 512);
}

static void test_defaults(void **state) {
  (void)state; /* unused */
  qfx_opts_t o;
  char err[512];
  const char *none[] = {NULL};
  assert_int_equal(parse(&o, err, none), QFX_OPTS_RUN);
  assert_string_equal(o.listen, "0.0.0.0:8080");
  assert_int_equal(o.port, 8080);
  assert_int_equal(o.addr.ss_family, AF_INET);
  assert_false(o.loopback);
  assert_string_equal(o.socket_path, "/var/run/collectd-unixsock");
  assert_string_equal(o.state_dir, QF_STATE_DIR); /* CMake's */
  assert_int_equal(o.refresh_ms, 1000);
  assert_string_equal(o.swarm_id, "");
  assert_string_equal(o.host, "");
  assert_int_equal(o.threads, 0);
  assert_string_equal(o.cors_origin, "*");
}

static void test_every_flag(void **state) {
  (void)state; /* unused */
  qfx_opts_t o;
  char err[512];
  const char *args[] = {"--listen=127.0.0.1:9100", "--socket",  "/run/cd.sock",
                        "--state-dir=/tmp/st",     "--refresh", "250",
                        "--swarm-id=swarm-1",      NULL};
  assert_int_equal(parse(&o, err, args), QFX_OPTS_RUN);
  assert_int_equal(o.port, 9100);
  assert_true(o.loopback);
  assert_string_equal(o.socket_path, "/run/cd.sock");
  assert_string_equal(o.state_dir, "/tmp/st");
  assert_int_equal(o.refresh_ms, 250);
  assert_string_equal(o.swarm_id, "swarm-1");
  const char *more[] = {
      "--host", "web-1", "--threads=3", "--cors-origin", "https://app.example",
      NULL};
  assert_int_equal(parse(&o, err, more), QFX_OPTS_RUN);
  assert_string_equal(o.host, "web-1");
  assert_int_equal(o.threads, 3);
  assert_string_equal(o.cors_origin, "https://app.example");
  assert_int_equal(qfx_opts_threads(&o, 2), 3);
}

/* Without --threads: one worker per CPU, at most sixteen. */
static void test_default_threads(void **state) {
  (void)state; /* table-driven */
  static const struct {
    long ncpu;
    unsigned want;
  } cases[] = {{-1, 1}, {0, 1},   {1, 1},   {2, 2},  {3, 3},
               {8, 8},  {16, 16}, {17, 16}, {64, 16}};
  qfx_opts_t o;
  qfx_opts_defaults(&o);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(qfx_opts_threads(&o, cases[i].ncpu), cases[i].want);
}

static void test_listen_forms(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *text;
    int family, port, loopback;
  } cases[] = {
      {"127.0.0.1:80", AF_INET, 80, 1},
      {"127.9.9.9:65535", AF_INET, 65535, 1},
      {"10.0.0.5:8080", AF_INET, 8080, 0},
      {"9000", AF_INET, 9000, 0},
      {"[::1]:8080", AF_INET6, 8080, 1},
      {"[::]:1", AF_INET6, 1, 0},
      {"[fe80::1]:443", AF_INET6, 443, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    qfx_opts_t o;
    char err[512] = "";
    qfx_opts_defaults(&o);
    assert_int_equal(qfx_opts_parse_listen(&o, cases[i].text, err, 512), 0);
    assert_int_equal(o.addr.ss_family, cases[i].family);
    assert_int_equal(o.port, cases[i].port);
    assert_int_equal(o.loopback, cases[i].loopback);
    assert_string_equal(o.listen, cases[i].text);
    in_port_t net = cases[i].family == AF_INET
                        ? ((struct sockaddr_in *)&o.addr)->sin_port
                        : ((struct sockaddr_in6 *)&o.addr)->sin6_port;
    assert_int_equal(ntohs(net), cases[i].port);
  }
}

/* Every bad command line, and a word its message must contain. */
static const struct {
  const char *args[4];
  const char *names;
} bad[] = {
    {{"--listen", "localhost:8080"}, "--listen"},
    {{"--listen", "127.0.0.1"}, "--listen"},
    {{"--listen", "127.0.0.1:"}, "--listen"},
    {{"--listen", ":8080"}, "--listen"},
    {{"--listen", "127.0.0.1:0"}, "--listen"},
    {{"--listen", "127.0.0.1:65536"}, "--listen"},
    {{"--listen", "127.0.0.1:80x"}, "--listen"},
    {{"--listen", "127.0.0.1:-80"}, "--listen"},
    {{"--listen", "127.0.0.1:+80"}, "--listen"},
    {{"--listen", "256.0.0.1:80"}, "--listen"},
    {{"--listen", "::1:8080"}, "--listen"},
    {{"--listen", "[::1]8080"}, "--listen"},
    {{"--listen", "[::1]:"}, "--listen"},
    {{"--listen", "[nothost]:80"}, "--listen"},
    {{"--listen", "[]:80"}, "--listen"},
    {{"--listen", ""}, "--listen"},
    {{"--listen"}, "--listen: missing value"},
    {{"--socket", "relative.sock"}, "--socket"},
    {{"--socket", ""}, "--socket"},
    {{"--socket",
      "/a/very/long/path/that/does/not/fit/into/sun_path/because/it/is/far/"
      "longer/than/one/hundred/and/eight/bytes/x.sock"},
     "--socket"},
    {{"--state-dir", ""}, "--state-dir"},
    {{"--refresh", "99"}, "--refresh"},
    {{"--refresh", "600001"}, "--refresh"},
    {{"--refresh", "1e3"}, "--refresh"},
    {{"--refresh", " 100"}, "--refresh"},
    {{"--refresh", "-100"}, "--refresh"},
    {{"--refresh", "99999999999999999999999"}, "--refresh"},
    {{"--refresh", ""}, "--refresh"},
    {{"--swarm-id", ""}, "--swarm-id"},
    {{"--swarm-id", "has space"}, "--swarm-id"},
    {{"--swarm-id", "quo\"te"}, "--swarm-id"},
    {{"--host", ""}, "--host"},
    {{"--host", "a/b"}, "--host"},
    {{"--host", "x123456789x123456789x123456789x123456789x123456789x123456789"
                "xxxx"},
     "--host"},
    {{"--threads", "0"}, "--threads"},
    {{"--threads", "65"}, "--threads"},
    {{"--threads", "two"}, "--threads"},
    {{"--cors-origin", ""}, "--cors-origin"},
    {{"--cors-origin", "a b"}, "--cors-origin"},
    {{"--cors-origin", "x\r\nSet-Cookie: a"}, "--cors-origin"},
    {{"--refresh", "200", "--refresh", "300"}, "given more than once"},
    {{"--help=yes"}, "--help: takes no value"},
    {{"--version=1"}, "--version: takes no value"},
    {{"--bogus"}, "--bogus: unknown flag"},
    {{"--listen-address=1"}, "unknown flag"},
    {{"-x"}, "-x: unknown flag"},
    {{"extra"}, "argument 1: unexpected"},
    {{"--max-connections", "0"}, "--max-connections"},
    {{"--max-connections", "65537"}, "--max-connections"},
    {{"--max-connections-per-ip", "-1"}, "--max-connections-per-ip"},
    {{"--connection-timeout", "0"}, "--connection-timeout"},
    {{"--connection-timeout", "3601"}, "--connection-timeout"},
    {{"--request-timeout", "0"}, "--request-timeout"},
    {{"--request-timeout", "10s"}, "--request-timeout"},
    {{"--connection-memory", "4095"}, "--connection-memory"},
    {{"--connection-memory", "1048577"}, "--connection-memory"},
    {{"--auth-token-file", ""}, "--auth-token-file"},
    {{"--auth-token-file"}, "--auth-token-file: missing value"},
    {{"--auth-health=yes"}, "--auth-health: takes no value"},
    {{"--auth-health"}, "--auth-health: needs --auth-token-file"},
    {{"--tls-cert", "c.pem"}, "--tls-cert: needs --tls-key"},
    {{"--tls-key", "k.pem"}, "--tls-key: needs --tls-cert"},
    {{"--tls-key", ""}, "--tls-key"},
    {{"--"}, "--: unknown flag"},
};

/* A mistyped flag or a stray argument may be a secret: the message must
 * not repeat it. */
static void test_secrets_not_echoed(void **state) {
  (void)state; /* unused */
  static const char *const cases[][2] = {
      {"--auth-token=CANARY-7f3a", NULL}, {"--auth-token", "CANARY-7f3a"},
      {"--token=CANARY-7f3a", NULL},      {"CANARY-7f3a", NULL},
      {"--listen", "127.0.0.1:80"}, /* then the stray value below */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    qfx_opts_t o;
    char err[512];
    const char *args[4] = {cases[i][0], cases[i][1],
                           i == 4 ? "CANARY-7f3a" : NULL, NULL};
    assert_int_equal(parse(&o, err, args), -EINVAL);
    if (strstr(err, "CANARY") != NULL)
      fail_msg("case %zu echoes the value: %s", i, err);
  }
  const char *token[] = {"--auth-token=x", NULL};
  char err[512];
  qfx_opts_t o;
  parse(&o, err, token);
  assert_non_null(strstr(err, "--auth-token-file"));
}

static void test_security_and_limits(void **state) {
  (void)state; /* unused */
  qfx_opts_t o;
  char err[512];
  const char *none[] = {NULL};
  assert_int_equal(parse(&o, err, none), QFX_OPTS_RUN);
  assert_string_equal(o.auth_token_file, "");
  assert_false(o.auth_health);
  assert_string_equal(o.tls_cert, "");
  assert_int_equal(o.max_connections, 1000);
  assert_int_equal(o.max_per_ip, 64);
  assert_int_equal(o.connection_timeout, 15);
  assert_int_equal(o.request_timeout, 10);
  assert_int_equal(o.connection_memory, 16384);
  const char *all[] = {"--auth-token-file=/run/t",
                       "--auth-health",
                       "--tls-cert",
                       "/c.pem",
                       "--tls-key=/k.pem",
                       NULL};
  assert_int_equal(parse(&o, err, all), QFX_OPTS_RUN);
  assert_string_equal(o.auth_token_file, "/run/t");
  assert_true(o.auth_health);
  assert_string_equal(o.tls_cert, "/c.pem");
  assert_string_equal(o.tls_key, "/k.pem");
  const char *limits[] = {"--max-connections=20", "--max-connections-per-ip",
                          "0", "--connection-timeout=3", NULL};
  assert_int_equal(parse(&o, err, limits), QFX_OPTS_RUN);
  assert_int_equal(o.max_connections, 20);
  assert_int_equal(o.max_per_ip, 0);
  assert_int_equal(o.connection_timeout, 3);
  const char *more[] = {"--request-timeout", "3600", "--connection-memory=4096",
                        NULL};
  assert_int_equal(parse(&o, err, more), QFX_OPTS_RUN);
  assert_int_equal(o.request_timeout, 3600);
  assert_int_equal(o.connection_memory, 4096);
}

static void test_open_read(void **state) {
  (void)state; /* unused */
  qfx_opts_t o;
  char err[512];
  const char *none[] = {NULL};
  assert_int_equal(parse(&o, err, none), QFX_OPTS_RUN);
  assert_int_equal(o.n_open_read, 0);
  const char *two[] = {"--auth-token-file=/run/t",
                       "--open-read",
                       "127.0.0.0/8",
                       "--open-read=2001:db8::/32",
                       "--open-read",
                       "192.0.2.7",
                       NULL};
  assert_int_equal(parse(&o, err, two), QFX_OPTS_RUN);
  assert_int_equal(o.n_open_read, 3);
  assert_int_equal(o.open_read[0].family, AF_INET);
  assert_int_equal(o.open_read[0].prefix, 8);
  assert_int_equal(o.open_read[0].addr[0], 127);
  assert_int_equal(o.open_read[1].family, AF_INET6);
  assert_int_equal(o.open_read[1].prefix, 32);
  assert_int_equal(o.open_read[2].prefix, 32); /* one host */
  static const struct {
    const char *args[4];
    const char *says;
  } refused[] = {
      {{"--open-read", "127.0.0.0/8"}, "needs --auth-token-file"},
      {{"--auth-token-file=t", "--open-read", "10.1.2.3/8"},
       "write 10.0.0.0/8 for that network, or 10.1.2.3/32"},
      {{"--auth-token-file=t", "--open-read", "10.0.0.0/33"},
       "from 0 to 32 for an IPv4"},
      {{"--auth-token-file=t", "--open-read", "::/129"},
       "from 0 to 128 for an IPv6"},
      {{"--auth-token-file=t", "--open-read", "localhost"},
       "names are not resolved"},
      {{"--auth-token-file=t", "--open-read", "10.0.0.0/"}, "prefix"},
      {{"--auth-token-file=t", "--open-read", "10.0.0.0/+8"}, "prefix"},
      {{"--auth-token-file=t", "--open-read", ""}, "is not a network"},
      {{"--auth-token-file=t", "--open-read"}, "missing value"},
  };
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    int rc = parse(&o, err, refused[i].args);
    if (rc != -EINVAL || strstr(err, "--open-read") == NULL ||
        strstr(err, refused[i].says) == NULL)
      fail_msg("case %zu: rc %d, \"%s\" lacks \"%s\"", i, rc, err,
               refused[i].says);
  }
  /* At most QFX_OPEN_READ_MAX networks. */
  char *argv[2 + 2 * (QFX_OPEN_READ_MAX + 1)];
  char nets[QFX_OPEN_READ_MAX + 1][24];
  int argc = 0;
  argv[argc++] = "qiflow-exporter";
  argv[argc++] = "--auth-token-file=t";
  for (int i = 0; i <= QFX_OPEN_READ_MAX; i++) {
    snprintf(nets[i], sizeof(nets[i]), "10.0.%d.0/24", i);
    argv[argc++] = "--open-read";
    argv[argc++] = nets[i];
  }
  assert_int_equal(qfx_opts_parse(&o, argc - 2, argv, err, sizeof(err)),
                   QFX_OPTS_RUN);
  assert_int_equal(o.n_open_read, QFX_OPEN_READ_MAX);
  assert_int_equal(qfx_opts_parse(&o, argc, argv, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "more than 32 networks"));
}

static void test_exposure_warning(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *args[7];
    const char *word; /* NULL: no warning */
  } cases[] = {
      {{"--listen", "127.0.0.1:8080"}, NULL},
      {{"--listen", "[::1]:8080"}, NULL},
      {{"--listen", "127.0.0.1:8080", "--auth-token-file", "t"}, NULL},
      {{"--listen", "0.0.0.0:8080"}, "without --auth-token-file"},
      {{"--listen", "[::]:8080"}, "without --auth-token-file"},
      {{"--listen", "10.1.2.3:8080", "--auth-token-file", "t"}, "plain HTTP"},
      {{"--listen", "10.1.2.3:8080", "--auth-token-file", "t", "--tls-cert",
        "c", NULL},
       NULL /* refused: no --tls-key */},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    qfx_opts_t o;
    char err[512];
    if (parse(&o, err, cases[i].args) != QFX_OPTS_RUN)
      continue;
    const char *w = qfx_opts_exposure(&o);
    if ((w == NULL) != (cases[i].word == NULL) ||
        (w != NULL && strstr(w, cases[i].word) == NULL))
      fail_msg("case %zu: %s", i, w ? w : "(none)");
  }
  const char *tls[] = {"--listen",
                       "10.1.2.3:8080",
                       "--auth-token-file",
                       "t",
                       "--tls-cert",
                       "c",
                       "--tls-key",
                       "k",
                       NULL};
  qfx_opts_t o;
  char err[512];
  assert_int_equal(parse(&o, err, tls), QFX_OPTS_RUN);
  assert_null(qfx_opts_exposure(&o));
}

static void test_bad_flags(void **state) {
  (void)state; /* unused */
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    qfx_opts_t o;
    char err[512];
    const char *args[5] = {bad[i].args[0], bad[i].args[1], bad[i].args[2],
                           bad[i].args[3], NULL};
    int rc = parse(&o, err, args);
    if (rc != -EINVAL || strstr(err, bad[i].names) == NULL)
      fail_msg("case %zu (%s %s): rc %d, message \"%s\" lacks \"%s\"", i,
               args[0], args[1] ? args[1] : "", rc, err, bad[i].names);
    assert_null(strchr(err, '\n'));
  }
}

static void test_help_and_version(void **state) {
  (void)state; /* unused */
  qfx_opts_t o;
  char err[512];
  const char *help[] = {"--refresh", "500", "--help", NULL};
  assert_int_equal(parse(&o, err, help), QFX_OPTS_HELP);
  const char *h[] = {"-h", NULL};
  assert_int_equal(parse(&o, err, h), QFX_OPTS_HELP);
  const char *version[] = {"--version", NULL};
  assert_int_equal(parse(&o, err, version), QFX_OPTS_VERSION);
  const char *both[] = {"--version", "--help", NULL};
  assert_int_equal(parse(&o, err, both), QFX_OPTS_HELP);
  /* A bad flag wins over --help: the user learns what was wrong. */
  const char *badhelp[] = {"--help", "--refresh", "1", NULL};
  assert_int_equal(parse(&o, err, badhelp), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_every_flag),
      cmocka_unit_test(test_default_threads),
      cmocka_unit_test(test_listen_forms),
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_secrets_not_echoed),
      cmocka_unit_test(test_security_and_limits),
      cmocka_unit_test(test_open_read),
      cmocka_unit_test(test_exposure_warning),
      cmocka_unit_test(test_help_and_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
