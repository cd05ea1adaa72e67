/* fuzz_exporter_query: what a client controls in a request to the
 * exporter. Input lines: method, target ("/path?query"), Accept header,
 * Authorization header (checked against a fixed token).
 * The query is split and percent-decoded as libmicrohttpd hands it to the
 * exporter (MHD_http_unescape), parameters holding a decoded NUL are
 * refused as the exporter refuses them, and the rest goes through the
 * same parsers the request handler calls. */
#include "auth.h"
#include "response.h"
#include "fuzz.h"
#include "request.h"
#include "project.h"
#include "prom_text.h"

#include <microhttpd.h>

/* fz_args splits query into at most QFX_QUERY_MAX decoded parameters;
 * -1 when one holds a NUL after decoding (the exporter answers 400). */
static int fz_args(char *query, qfx_kv_t *kv, size_t *n) {
  *n = 0;
  while (*query != '\0' && *n < QFX_QUERY_MAX) {
    char *next = fz_split(query, '&');
    char *eq = strchr(query, '=');
    char *value = NULL;
    if (eq != NULL) {
      *eq = '\0';
      value = eq + 1;
    }
    if (MHD_http_unescape(query) != strlen(query) ||
        (value != NULL && MHD_http_unescape(value) != strlen(value)))
      return -1;
    kv[(*n)++] = (qfx_kv_t){query, value};
    query = next;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *method = fz_cstr(data, size);
  if (method == NULL)
    return 0;
  char *target = fz_split(method, '\n');
  char *accept = fz_split(target, '\n');
  char *authorization = fz_split(accept, '\n');
  char token[] = "fuzz-Token_0123456789abcdef";
  const qfx_auth_t auth = {token, sizeof(token) - 1};
  int a = qfx_auth_check(&auth, authorization);
  if (a != QFX_AUTH_OK && a != QFX_AUTH_MISSING && a != QFX_AUTH_INVALID)
    abort();
  /* Only the token itself passes, however it is spaced or cased. */
  if (a == QFX_AUTH_OK && strstr(authorization, token) == NULL)
    abort();
  (void)qfx_request_raw_nul(target);
  char *query = fz_split(target, '?');
  (void)qfx_request_method(method);
  (void)qfx_request_route(target);
  (void)qfx_accepts_gzip(accept);
  (void)qfx_etag_match(accept, "\"0123456789abcdef\"");
  qfx_kv_t kv[QFX_QUERY_MAX];
  size_t n;
  if (fz_args(query, kv, &n) == 0) {
    qfx_issues_query_t q;
    char err[200];
    (void)qfx_issues_query_parse(kv, n, &q, err, sizeof(err));
    const char *format = NULL;
    for (size_t i = 0; i < n; i++)
      if (strcmp(kv[i].key, "format") == 0)
        format = kv[i].value;
    (void)qfx_metrics_format(accept, format);
  }
  free(method);
  return 0;
}
