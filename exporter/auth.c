/* auth.c: the bearer token and the TLS files. Secrets are read through
 * qf_file_read's permission checks (on the opened file), never echoed in
 * a message, compared in constant time and wiped before they are freed. */
#include "auth.h"
#include "qf_buf.h"
#include "qf_file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>

bool qfx_auth_token_chars(const char *s, size_t n) {
  size_t i = 0;
  while (i < n &&
         (('A' <= s[i] && s[i] <= 'Z') || ('a' <= s[i] && s[i] <= 'z') ||
          ('0' <= s[i] && s[i] <= '9') || strchr("-._~+/", s[i]) != NULL) &&
         s[i] != '\0')
    i++;
  if (i == 0)
    return false; /* "=" alone is no token */
  while (i < n && s[i] == '=')
    i++;
  return i == n;
}

bool qfx_ct_equal(const char *given, size_t glen, const char *secret,
                  size_t slen) {
  /* Every byte of the secret is compared whatever matched before; the
   * lengths enter the result without a branch. volatile keeps the
   * compiler from turning the loop into an early exit. */
  volatile unsigned char diff = 0;
  size_t lendiff = glen ^ slen;
  for (size_t i = 0; i < slen; i++) {
    unsigned char g = glen != 0 ? (unsigned char)given[i % glen] : 0;
    diff |= (unsigned char)(g ^ (unsigned char)secret[i]);
  }
  return (diff | (lendiff != 0)) == 0;
}

/* au_wipe_free clears n bytes of p before freeing it. */
static void au_wipe_free(char *p, size_t n) {
  if (p == NULL)
    return;
  explicit_bzero(p, n);
  free(p);
}

int qfx_auth_load(qfx_auth_t *a, const char *path, char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  memset(a, 0, sizeof(*a));
  int rc = qf_secret_read(NULL, path, QFX_TOKEN_MAX, QF_READ_PRIVATE, &text,
                          &len, err, errlen);
  if (rc != 0)
    return rc;
  size_t cap = len;
  const char *why = NULL;
  if (len == 0)
    why = "is empty";
  else if (!qfx_auth_token_chars(text, len))
    why = "holds characters a bearer token cannot carry (allowed: letters, "
          "digits, - . _ ~ + / and trailing =; one line)";
  if (why != NULL) {
    qf_err(err, errlen, "%s %s", path, why);
    au_wipe_free(text, cap);
    return -EINVAL;
  }
  a->token = text;
  a->len = len;
  return 0;
}

void qfx_auth_destroy(qfx_auth_t *a) {
  au_wipe_free(a->token, a->len);
  memset(a, 0, sizeof(*a));
}

int qfx_auth_check(const qfx_auth_t *a, const char *header) {
  if (a->token == NULL)
    return QFX_AUTH_OK;
  if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
    return QFX_AUTH_MISSING; /* absent, or another scheme */
  const char *given = header + 7;
  while (*given == ' ')
    given++;
  size_t n = strlen(given);
  while (n > 0 && (given[n - 1] == ' ' || given[n - 1] == '\t'))
    n--; /* optional whitespace after the value (RFC 9110) */
  if (n == 0)
    return QFX_AUTH_MISSING;
  return qfx_ct_equal(given, n, a->token, a->len) ? QFX_AUTH_OK
                                                  : QFX_AUTH_INVALID;
}

/* au_prefix reads a network's prefix length, 0..max, all of s. */
static int au_prefix(const char *s, unsigned max, unsigned *out) {
  unsigned v = 0;
  if (*s == '\0' || strlen(s) > 3)
    return -EINVAL;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9')
      return -EINVAL;
    v = v * 10 + (unsigned)(*s - '0');
  }
  if (v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

/* au_host_bits clears the bits of addr (len bytes) beyond prefix; true
 * when one was set. */
static bool au_host_bits(unsigned char *addr, size_t len, unsigned prefix) {
  bool set = false;
  for (size_t i = 0; i < len; i++) {
    unsigned keep = prefix >= 8 * (i + 1) ? 8
                    : prefix > 8 * i      ? prefix - 8 * (unsigned)i
                                          : 0;
    unsigned char mask = (unsigned char)(0xff00u >> keep);
    set |= (addr[i] & ~mask) != 0;
    addr[i] &= mask;
  }
  return set;
}

int qfx_net_parse(const char *s, qfx_net_t *net, char *err, size_t errlen) {
  char host[INET6_ADDRSTRLEN];
  const char *slash = strchr(s, '/');
  size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
  memset(net, 0, sizeof(*net));
  if (n == 0 || n >= sizeof(host))
    goto bad;
  memcpy(host, s, n);
  host[n] = '\0';
  net->family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
  unsigned max = net->family == AF_INET6 ? 128 : 32;
  if (inet_pton(net->family, host, net->addr) != 1)
    goto bad;
  net->prefix = max;
  if (slash != NULL && au_prefix(slash + 1, max, &net->prefix) != 0) {
    qf_err(err, errlen,
           "\"%s\": the prefix after \"/\" must be a number "
           "from 0 to %u for an %s network",
           s, max, net->family == AF_INET6 ? "IPv6" : "IPv4");
    return -EINVAL;
  }
  if (au_host_bits(net->addr, max / 8, net->prefix)) {
    char meant[INET6_ADDRSTRLEN];
    inet_ntop(net->family, net->addr, meant, sizeof(meant));
    qf_err(err, errlen,
           "\"%s\" has address bits set beyond its /%u "
           "prefix: write %s/%u for that network, or %s/%u for that one "
           "host",
           s, net->prefix, meant, net->prefix, host, max);
    return -EINVAL;
  }
  return 0;
bad:
  qf_err(err, errlen,
         "\"%s\" is not a network: write IPV4/PREFIX or "
         "IPV6/PREFIX with a numeric address, e.g. 192.0.2.0/24 or "
         "2001:db8::/32 (a bare address is one host; names are not resolved)",
         s);
  return -EINVAL;
}

/* au_in tells whether addr (family's length) lies in net. */
static bool au_in(const qfx_net_t *net, int family, const unsigned char *addr) {
  if (net->family != family)
    return false;
  unsigned full = net->prefix / 8, rest = net->prefix % 8;
  if (memcmp(addr, net->addr, full) != 0)
    return false;
  unsigned char mask = (unsigned char)(0xff00u >> rest);
  return rest == 0 || (addr[full] & mask) == net->addr[full];
}

bool qfx_net_any(const qfx_net_t *nets, size_t n, const struct sockaddr *sa) {
  int family;
  const unsigned char *addr, *v4 = NULL;
  if (sa == NULL)
    return false;
  if (sa->sa_family == AF_INET) {
    family = AF_INET;
    addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    family = AF_INET6;
    addr = a6->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6))
      v4 = a6->s6_addr + 12;
  } else {
    return false; /* a unix socket has no network */
  }
  for (size_t i = 0; i < n; i++)
    if (au_in(&nets[i], family, addr) ||
        (v4 != NULL && au_in(&nets[i], AF_INET, v4)))
      return true;
  return false;
}

int qfx_tls_load(qfx_tls_t *t, const char *cert_path, const char *key_path,
                 char *err, size_t errlen) {
  char why[600] = "";
  memset(t, 0, sizeof(*t));
  int rc = qf_file_read(cert_path, QFX_TLS_FILE_MAX, 0, &t->cert, NULL, why,
                        sizeof(why));
  if (rc != 0) {
    qf_err(err, errlen, "--tls-cert: %s", why);
    return rc;
  }
  rc = qf_file_read(key_path, QFX_TLS_FILE_MAX, QF_READ_NOT_PUBLIC, &t->key,
                    &t->key_len, why, sizeof(why));
  if (rc != 0) {
    qf_err(err, errlen, "--tls-key: %s", why);
    qfx_tls_destroy(t);
    return rc;
  }
  return 0;
}

void qfx_tls_destroy(qfx_tls_t *t) {
  free(t->cert);
  au_wipe_free(t->key, t->key_len);
  memset(t, 0, sizeof(*t));
}

int qfx_secrets_protect(char *err, size_t errlen) {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    int e = errno;
    qf_err(err, errlen, "prctl(PR_SET_DUMPABLE, 0): %s", strerror(e));
    return -e;
  }
  const struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    /* Not dumpable already means no core file; a seccomp filter (the
     * systemd unit's ~@resources) may refuse setrlimit itself. */
    int e = errno;
    qf_err(err, errlen,
           "setrlimit(RLIMIT_CORE, 0): %s (the process is "
           "not dumpable all the same)",
           strerror(e));
    return -e;
  }
  return 0;
}
