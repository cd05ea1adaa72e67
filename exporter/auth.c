/* auth.c: the bearer token and the TLS files. Secrets are read through
 * qf_file_read's permission checks (on the opened file), never echoed in
 * a message, compared in constant time and wiped before they are freed. */
#include "auth.h"
#include "qf_buf.h"
#include "qf_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>

bool qfx_auth_token_chars(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && (('A' <= s[i] && s[i] <= 'Z') ||
                   ('a' <= s[i] && s[i] <= 'z') ||
                   ('0' <= s[i] && s[i] <= '9') ||
                   strchr("-._~+/", s[i]) != NULL) && s[i] != '\0')
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
  /* + 2: room for the trailing "\r\n" dropped below. */
  int rc = qf_file_read(path, QFX_TOKEN_MAX + 2, QF_READ_PRIVATE, &text,
                        &len, err, errlen);
  if (rc != 0)
    return rc;
  size_t cap = len;
  if (len > 0 && text[len - 1] == '\n')
    len--;
  if (len > 0 && text[len - 1] == '\r')
    len--;
  text[len] = '\0';
  const char *why = NULL;
  if (len == 0)
    why = "is empty";
  else if (len > QFX_TOKEN_MAX)
    why = "holds a token longer than 4096 bytes";
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
    qf_err(err, errlen, "setrlimit(RLIMIT_CORE, 0): %s (the process is "
           "not dumpable all the same)", strerror(e));
    return -e;
  }
  return 0;
}
