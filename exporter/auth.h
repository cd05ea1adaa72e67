/* auth.h: the optional bearer token and the TLS certificate and key: read
 * from files with strict permissions, compared in constant time, wiped
 * when released, and kept out of core dumps. */
#ifndef QFX_AUTH_H
#define QFX_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define QFX_TOKEN_MAX 4096 /* longest token accepted, in bytes */
#define QFX_TOKEN_WEAK 16  /* shorter tokens are accepted with a warning */
#define QFX_TLS_FILE_MAX (1u << 20) /* a PEM certificate chain or key */

typedef struct qfx_auth_s {
  char *token; /* NULL: no token required */
  size_t len;
} qfx_auth_t;

/* qfx_auth_load reads the token from path: a regular file no group or
 * other user may access, its content (one trailing "\n" or "\r\n"
 * dropped) 1..QFX_TOKEN_MAX characters of RFC 6750's b64token alphabet.
 * 0 or a negative errno with a message in err that names the file and
 * never quotes its content. */
int qfx_auth_load(qfx_auth_t *a, const char *path, char *err, size_t errlen);
/* qfx_auth_destroy wipes and frees the token. */
void qfx_auth_destroy(qfx_auth_t *a);

/* What a request's Authorization header amounts to. */
enum { QFX_AUTH_OK, QFX_AUTH_MISSING, QFX_AUTH_INVALID };

/* qfx_auth_check judges an Authorization header value (NULL: absent)
 * against a's token: OK (or no token configured), MISSING (no bearer
 * credentials: absent, another scheme, empty) or INVALID (a bearer token
 * that is not ours). The comparison's time does not depend on how much of
 * the token matched. */
int qfx_auth_check(const qfx_auth_t *a, const char *header);

/* qfx_auth_token_chars tells whether s[0, n) is a b64token: letters,
 * digits, "-._~+/", then any number of "=". */
bool qfx_auth_token_chars(const char *s, size_t n);

/* qfx_ct_equal compares given (glen bytes) with secret (slen bytes) in
 * time that depends on slen and glen only. */
bool qfx_ct_equal(const char *given, size_t glen, const char *secret,
                  size_t slen);

/* A client network of --open-read: who may read the flat endpoints
 * without the token. */
#define QFX_OPEN_READ_MAX 32 /* networks at most */
typedef struct qfx_net_s {
  int family;             /* AF_INET or AF_INET6 */
  unsigned char addr[16]; /* network order; the first 4 for AF_INET */
  unsigned prefix;        /* leading bits that must match */
} qfx_net_t;

/* qfx_net_parse reads "IPV4/PREFIX", "IPV6/PREFIX" or a bare numeric
 * address (one host) into net. A network with bits set beyond its prefix
 * ("10.1.2.3/8") is refused: the message names the network meant. 0 or
 * -EINVAL with a message in err that quotes s. */
int qfx_net_parse(const char *s, qfx_net_t *net, char *err, size_t errlen);

/* qfx_net_any tells whether the client address sa (NULL: unknown) lies in
 * one of nets[0, n). An IPv4 client seen on a dual-stack socket as
 * ::ffff:A.B.C.D also matches IPv4 networks. */
struct sockaddr;
bool qfx_net_any(const qfx_net_t *nets, size_t n, const struct sockaddr *sa);

/* The TLS certificate chain and private key, PEM, NUL-terminated. */
typedef struct qfx_tls_s {
  char *cert; /* NULL: plain HTTP */
  char *key;
  size_t key_len;
} qfx_tls_t;

/* qfx_tls_load reads the certificate (a regular file) and the key (a
 * regular file other users may not read). Their content is checked when
 * the server starts (qfx_server_tls_check). 0 or a negative errno with a
 * message in err naming the flag and the file. */
int qfx_tls_load(qfx_tls_t *t, const char *cert_path, const char *key_path,
                 char *err, size_t errlen);
/* qfx_tls_destroy wipes the key and frees both. */
void qfx_tls_destroy(qfx_tls_t *t);

/* qfx_secrets_protect keeps the secrets in memory out of core dumps and
 * away from other processes of the same user: the process becomes
 * non-dumpable (no core file, /proc/PID/mem and ptrace for root only) and
 * its core size limit 0. Returns 0, or a negative errno with the step
 * that failed in err (the caller logs it; serving goes on). */
int qfx_secrets_protect(char *err, size_t errlen);

#endif
