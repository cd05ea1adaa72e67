/* Unit tests for auth.c: the token file's checks, the Authorization header,
 * the constant-time comparison, the TLS files, and keeping secrets out of
 * core dumps. No message may quote a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CANARY "CANARY0secret0value"

static int setup_dir(void **state) {
  char *dir = strdup("/tmp/qfx-auth-XXXXXX");
  assert_non_null(mkdtemp(dir));
  *state = dir;
  return 0;
}

static int teardown_dir(void **state) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
  assert_int_equal(system(cmd), 0);
  free(*state);
  return 0;
}

/* put writes len bytes into dir/name with mode; returns the path. */
static const char *put(const char *dir, const char *name, const char *data,
                       size_t len, mode_t mode) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
  assert_int_equal(chmod(path, mode), 0);
  return path;
}

static void test_token_chars(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *s;
    bool ok;
  } cases[] = {
      {"abc", true},         {"A-Z.a_z~0+9/", true},
      {"dG9rZW4=", true},    {"dG9rZQ==", true},
      {"", false},           {"=", false},
      {"a=b", false},        {"a b", false},
      {"a\tb", false},       {"tok\n", false},
      {"tök", false},        {"a,b", false},
      {"\"quoted\"", false}, {"a;b", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_auth_token_chars(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
      fail_msg("\"%s\": expected %d", cases[i].s, cases[i].ok);
  assert_false(qfx_auth_token_chars("ab\0cd", 5)); /* an embedded NUL */
}

static void test_constant_time_equal(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *given, *secret;
    bool equal;
  } cases[] = {
      {"secret", "secret", true},
      {"secreT", "secret", false},
      {"secre", "secret", false},
      {"secrets", "secret", false},
      {"", "secret", false},
      {"secretsecret", "secret", false},
      {"s", "s", true},
      {"x", "s", false},
      /* A prefix repeated to the secret's length must not pass. */
      {"ab", "abab", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_ct_equal(cases[i].given, strlen(cases[i].given), cases[i].secret,
                     strlen(cases[i].secret)) != cases[i].equal)
      fail_msg("%s vs %s", cases[i].given, cases[i].secret);
}

static void test_load_token_file(void **state) {
  const char *dir = *state;
  static const struct {
    const char *content;
    mode_t mode;
    int status;
    const char *token; /* what was loaded, or a word of the message */
  } cases[] = {
      {CANARY "\n", 0600, 0, CANARY},
      {CANARY "\r\n", 0400, 0, CANARY},
      {CANARY, 0600, 0, CANARY},
      {CANARY "\n\n", 0600, -EINVAL, "characters"},
      {CANARY " x\n", 0600, -EINVAL, "characters"},
      {"\n", 0600, -EINVAL, "empty"},
      {"", 0600, -EINVAL, "empty"},
      {CANARY "\n", 0640, -EPERM, "chmod go-rwx"},
      {CANARY "\n", 0604, -EPERM, "chmod go-rwx"},
      {CANARY "\n", 0660, -EPERM, "chmod go-rwx"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *path = put(dir, "token", cases[i].content,
                           strlen(cases[i].content), cases[i].mode);
    qfx_auth_t a;
    char err[512] = "";
    int rc = qfx_auth_load(&a, path, err, sizeof(err));
    if (rc != cases[i].status)
      fail_msg("case %zu: %d (%s)", i, rc, err);
    if (rc == 0) {
      assert_string_equal(a.token, cases[i].token);
      assert_int_equal(a.len, strlen(cases[i].token));
      qfx_auth_destroy(&a);
      assert_null(a.token);
    } else {
      assert_null(a.token);
      assert_non_null(strstr(err, cases[i].token));
      assert_non_null(strstr(err, path));
      assert_null(strstr(err, "CANARY"));
    }
  }
}

static void test_token_file_bounds(void **state) {
  const char *dir = *state;
  char big[QFX_TOKEN_MAX + 3];
  memset(big, 'a', sizeof(big));
  qfx_auth_t a;
  char err[512];
  const char *path = put(dir, "token", big, QFX_TOKEN_MAX, 0600);
  assert_int_equal(qfx_auth_load(&a, path, err, sizeof(err)), 0);
  assert_int_equal(a.len, QFX_TOKEN_MAX);
  qfx_auth_destroy(&a);
  big[QFX_TOKEN_MAX] = '\n';
  path = put(dir, "token", big, QFX_TOKEN_MAX + 1, 0600);
  assert_int_equal(qfx_auth_load(&a, path, err, sizeof(err)), 0);
  qfx_auth_destroy(&a);
  path = put(dir, "token", big, QFX_TOKEN_MAX + 3, 0600);
  assert_int_equal(qfx_auth_load(&a, path, err, sizeof(err)), -EFBIG);
  big[QFX_TOKEN_MAX] = 'a';
  path = put(dir, "token", big, QFX_TOKEN_MAX + 1, 0600);
  assert_int_equal(qfx_auth_load(&a, path, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "longer"));
  /* Not a regular file, and a missing one. */
  assert_int_equal(qfx_auth_load(&a, dir, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "not a regular file"));
  char fifo[512];
  snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(qfx_auth_load(&a, fifo, err, sizeof(err)), -EINVAL);
  snprintf(fifo, sizeof(fifo), "%s/missing", dir);
  assert_int_equal(qfx_auth_load(&a, fifo, err, sizeof(err)), -ENOENT);
}

static void test_authorization_header(void **state) {
  (void)state; /* unused */
  char token[] = "s3cr3t-Tok_en";
  qfx_auth_t a = {token, strlen(token)};
  static const struct {
    const char *header;
    int result;
  } cases[] = {
      {NULL, QFX_AUTH_MISSING},
      {"", QFX_AUTH_MISSING},
      {"Basic czNjcjN0", QFX_AUTH_MISSING},
      {"Bearer", QFX_AUTH_MISSING},
      {"Bearer ", QFX_AUTH_MISSING},
      {"Bearer   ", QFX_AUTH_MISSING},
      {"Bearers3cr3t-Tok_en", QFX_AUTH_MISSING},
      {"Bearer s3cr3t-Tok_en", QFX_AUTH_OK},
      {"bearer s3cr3t-Tok_en", QFX_AUTH_OK},
      {"BEARER  s3cr3t-Tok_en", QFX_AUTH_OK},
      {"Bearer s3cr3t-Tok_en ", QFX_AUTH_OK},
      {"Bearer s3cr3t-Tok_e", QFX_AUTH_INVALID},
      {"Bearer s3cr3t-Tok_enX", QFX_AUTH_INVALID},
      {"Bearer S3CR3T-TOK_EN", QFX_AUTH_INVALID},
      {"Bearer s3cr3t-Tok_en,x", QFX_AUTH_INVALID},
      {"Bearer x s3cr3t-Tok_en", QFX_AUTH_INVALID},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_auth_check(&a, cases[i].header) != cases[i].result)
      fail_msg("\"%s\": %d", cases[i].header ? cases[i].header : "(null)",
               qfx_auth_check(&a, cases[i].header));
  qfx_auth_t none = {NULL, 0};
  assert_int_equal(qfx_auth_check(&none, NULL), QFX_AUTH_OK);
  assert_int_equal(qfx_auth_check(&none, "Bearer x"), QFX_AUTH_OK);
}

/* in4 and in6 make client socket addresses. */
static struct sockaddr_in in4(const char *a) {
  struct sockaddr_in s = {.sin_family = AF_INET};
  assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
  return s;
}

static struct sockaddr_in6 in6(const char *a) {
  struct sockaddr_in6 s = {.sin6_family = AF_INET6};
  assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
  return s;
}

static void test_networks(void **state) {
  (void)state; /* unused */
  qfx_net_t nets[4];
  char err[400];
  assert_int_equal(qfx_net_parse("127.0.0.0/8", &nets[0], err, sizeof(err)), 0);
  assert_int_equal(qfx_net_parse("192.0.2.128/25", &nets[1], err, sizeof(err)),
                   0);
  assert_int_equal(qfx_net_parse("2001:db8:a::/47", &nets[2], err, sizeof(err)),
                   0);
  assert_int_equal(qfx_net_parse("fd00::7", &nets[3], err, sizeof(err)), 0);
  assert_int_equal(nets[3].prefix, 128);
  static const struct {
    const char *addr;
    bool in;
  } cases[] = {
      {"127.0.0.1", true},
      {"127.255.255.254", true},
      {"128.0.0.1", false},
      {"126.255.255.255", false},
      {"192.0.2.128", true},
      {"192.0.2.255", true},
      {"192.0.2.127", false},
      {"10.0.0.1", false},
      {"2001:db8:a::1", true},
      {"2001:db8:b:ffff::1", true},
      {"2001:db8:c::", false},
      {"fd00::7", true},
      {"fd00::8", false},
      {"::1", false},
      {"::ffff:127.0.0.1", true}, /* IPv4 on a dual-stack socket */
      {"::ffff:10.0.0.1", false},
      {"::127.0.0.1", false}, /* IPv4-compatible is not IPv4-mapped */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    bool in;
    if (strchr(cases[i].addr, ':') != NULL) {
      struct sockaddr_in6 a = in6(cases[i].addr);
      in = qfx_net_any(nets, 4, (const struct sockaddr *)&a);
    } else {
      struct sockaddr_in a = in4(cases[i].addr);
      in = qfx_net_any(nets, 4, (const struct sockaddr *)&a);
    }
    if (in != cases[i].in)
      fail_msg("%s: %s", cases[i].addr, in ? "in" : "out");
  }
  struct sockaddr_in lo = in4("127.0.0.1");
  assert_false(qfx_net_any(nets, 0, (const struct sockaddr *)&lo));
  assert_false(qfx_net_any(nets, 4, NULL));
  struct sockaddr unix_peer = {.sa_family = AF_UNIX};
  assert_false(qfx_net_any(nets, 4, &unix_peer));
  /* /0 takes everyone of its family; a mapped network takes IPv4 too. */
  assert_int_equal(qfx_net_parse("0.0.0.0/0", &nets[0], err, sizeof(err)), 0);
  struct sockaddr_in far = in4("203.0.113.9");
  assert_true(qfx_net_any(nets, 1, (const struct sockaddr *)&far));
  struct sockaddr_in6 far6 = in6("2001:db8::1");
  assert_false(qfx_net_any(nets, 1, (const struct sockaddr *)&far6));
  assert_int_equal(
      qfx_net_parse("::ffff:127.0.0.0/104", &nets[0], err, sizeof(err)), 0);
  struct sockaddr_in6 mapped = in6("::ffff:127.0.0.2");
  assert_true(qfx_net_any(nets, 1, (const struct sockaddr *)&mapped));
}

static void test_network_errors(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *text;
    const char *says;
  } bad[] = {
      {"10.1.2.3/8", "write 10.0.0.0/8 for that network, or 10.1.2.3/32 for "
                     "that one host"},
      {"2001:db8::1/32", "write 2001:db8::/32"},
      {"192.0.2.1/31", "write 192.0.2.0/31"},
      {"10.0.0.0/33", "from 0 to 32 for an IPv4 network"},
      {"::/129", "from 0 to 128 for an IPv6 network"},
      {"10.0.0.0/8/8", "prefix"},
      {"10.0.0.0/-1", "prefix"},
      {"10.0.0.0/ 8", "prefix"},
      {"10.0.0.0/0008", "prefix"},
      {"10.0.0/8", "is not a network"},
      {"localhost", "names are not resolved"},
      {"fe80::1%eth0/64", "is not a network"},
      {"/8", "is not a network"},
      {"", "is not a network"},
      {"[::1]/128", "is not a network"},
      {"1.2.3.4 ", "is not a network"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    qfx_net_t net;
    char err[400] = "";
    int rc = qfx_net_parse(bad[i].text, &net, err, sizeof(err));
    char quoted[80];
    snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i].text);
    if (rc != -EINVAL || strstr(err, bad[i].says) == NULL ||
        strstr(err, quoted) == NULL)
      fail_msg("%s: rc %d, \"%s\"", bad[i].text, rc, err);
  }
}

static void test_tls_files(void **state) {
  const char *dir = *state;
  char cert[512], key[512], err[768];
  qfx_tls_t t;
  snprintf(cert, sizeof(cert), "%s", put(dir, "cert.pem", "CERT\n", 5, 0644));
  snprintf(key, sizeof(key), "%s", put(dir, "key.pem", CANARY, 19, 0640));
  assert_int_equal(qfx_tls_load(&t, cert, key, err, sizeof(err)), 0);
  assert_string_equal(t.cert, "CERT\n");
  assert_string_equal(t.key, CANARY);
  qfx_tls_destroy(&t);
  assert_null(t.key);
  assert_int_equal(chmod(key, 0644), 0);
  assert_int_equal(qfx_tls_load(&t, cert, key, err, sizeof(err)), -EPERM);
  assert_non_null(strstr(err, "--tls-key"));
  assert_non_null(strstr(err, "chmod o-rwx"));
  assert_null(strstr(err, "CANARY"));
  assert_null(t.cert);
  char missing[600];
  snprintf(missing, sizeof(missing), "%s/none.pem", dir);
  assert_int_equal(qfx_tls_load(&t, missing, key, err, sizeof(err)), -ENOENT);
  assert_non_null(strstr(err, "--tls-cert"));
}

static void test_secrets_protect(void **state) {
  (void)state; /* unused */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* In a child: the test process itself stays dumpable. */
    char err[256];
    struct rlimit rl;
    int ok = qfx_secrets_protect(err, sizeof(err)) == 0 &&
             prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 &&
             getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 &&
             rl.rlim_max == 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_chars),
      cmocka_unit_test(test_constant_time_equal),
      cmocka_unit_test_setup_teardown(test_load_token_file, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_token_file_bounds, setup_dir,
                                      teardown_dir),
      cmocka_unit_test(test_authorization_header),
      cmocka_unit_test(test_networks),
      cmocka_unit_test(test_network_errors),
      cmocka_unit_test_setup_teardown(test_tls_files, setup_dir, teardown_dir),
      cmocka_unit_test(test_secrets_protect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
