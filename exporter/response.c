/* response.c: rendered responses as reusable libmicrohttpd responses, and the
 * conditional-request helpers. */
#include "response.h"
#include "qf_gzip.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <strings.h>

void qfx_etag(const void *data, size_t len, char out[24]) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 offset basis */
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  snprintf(out, 24, "\"%016" PRIx64 "\"", h);
}

bool qfx_header_next(const char **s, const char **tok, size_t *toklen, int *q) {
  const char *p = *s;
  while (*p == ' ' || *p == '\t' || *p == ',')
    p++; /* empty list elements are allowed */
  *s = p;
  if (*p == '\0')
    return false;
  size_t n = strcspn(p, ","), t = strcspn(p, ";,"), tl = t;
  while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
    tl--;
  *tok = p;
  *toklen = tl;
  *q = 1000;
  for (size_t i = t + 1; i + 1 < n; i++) {
    if ((p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=' &&
        (p[i - 1] == ';' || p[i - 1] == ' ' || p[i - 1] == '\t')) {
      char *after = NULL;
      double v = strtod(p + i + 2, &after);
      /* NaN and infinities ("q=nan", "q=1e999") are malformed, not a
       * number to convert: that conversion is undefined. */
      bool bad = after == p + i + 2 || !isfinite(v) || !(v > 0);
      *q = bad ? 0 : v >= 1 ? 1000 : (int)(v * 1000 + 0.5);
    }
  }
  *s = p + n + (p[n] != '\0');
  return true;
}

bool qfx_etag_match(const char *header, const char *etag) {
  size_t elen = strlen(etag), n;
  const char *s = header != NULL ? header : "", *tok;
  int q;
  while (qfx_header_next(&s, &tok, &n, &q)) {
    if (n == 1 && tok[0] == '*')
      return true;
    if (n >= 2 && tok[0] == 'W' && tok[1] == '/') {
      tok += 2; /* weak comparison, as RFC 9110 asks for If-None-Match */
      n -= 2;
    }
    if (n == elen && memcmp(tok, etag, n) == 0)
      return true;
  }
  return false;
}

bool qfx_accepts_gzip(const char *header) {
  int gzip = -1, any = -1, q;
  const char *s = header != NULL ? header : "", *tok;
  size_t n;
  while (qfx_header_next(&s, &tok, &n, &q)) {
    if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
        (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
      gzip = q;
    else if (n == 1 && tok[0] == '*')
      any = q;
  }
  return gzip >= 0 ? gzip > 0 : any > 0;
}

/* en_headers adds the headers every response carries; MHD_NO on failure. */
static enum MHD_Result en_headers(struct MHD_Response *r, const char *ctype,
                                  const qfx_headers_t *h, bool cacheable) {
  if (ctype != NULL && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                               ctype) != MHD_YES)
    return MHD_NO;
  if (MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                              cacheable ? h->cache_control : "no-store") !=
      MHD_YES)
    return MHD_NO;
  /* A browser must not read an echoed path in a JSON error as HTML. */
  if (MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") !=
      MHD_YES)
    return MHD_NO;
  return MHD_add_response_header(r, "Access-Control-Allow-Origin",
                                 h->cors_origin);
}

/* en_response makes one response for body, which it takes over; etag
 * NULL makes an uncacheable one (errors). */
static struct MHD_Response *
en_response(char *body, size_t len, const char *ctype, const char *etag,
            const char *encoding, const qfx_headers_t *h, const char *vary) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) {
    free(body);
    return NULL;
  }
  bool ok = en_headers(r, ctype, h, etag != NULL) == MHD_YES;
  if (ok && etag != NULL)
    ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag) == MHD_YES &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, vary) == MHD_YES;
  if (ok && encoding != NULL)
    ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
                                 encoding) == MHD_YES;
  if (!ok) {
    MHD_destroy_response(r);
    return NULL;
  }
  return r;
}

/* en_build_gzip adds the gzip variant of e's body when it saves bytes;
 * failing to compress only loses the variant. */
static int en_build_gzip(qfx_response_t *e, const char *ctype,
                         const qfx_headers_t *h, const char *vary) {
  char *gz = NULL;
  size_t gzlen = 0;
  if (e->len < QFX_GZIP_MIN || e->len > UINT_MAX ||
      qf_gzip(e->body, e->len, &gz, &gzlen) != 0)
    return 0;
  if (gzlen >= e->len) {
    free(gz);
    return 0;
  }
  snprintf(e->etag_gz, sizeof(e->etag_gz), "%.17s-gz\"", e->etag);
  e->gzip_len = gzlen;
  e->gzip = en_response(gz, gzlen, ctype, e->etag_gz, "gzip", h, vary);
  if (e->gzip != NULL)
    e->not_modified_gz = en_response(NULL, 0, NULL, e->etag_gz, NULL, h, vary);
  return e->gzip != NULL && e->not_modified_gz != NULL ? 0 : -ENOMEM;
}

int qfx_response_build(qfx_response_t *e, unsigned status, const char *ctype,
                       char *body, size_t len, const qfx_headers_t *h,
                       const char *vary) {
  memset(e, 0, sizeof(*e));
  e->status = status;
  bool cacheable = status >= 200 && status < 300;
  if (cacheable)
    qfx_etag(body, len, e->etag);
  e->full =
      en_response(body, len, ctype, cacheable ? e->etag : NULL, NULL, h, vary);
  if (e->full == NULL)
    return -ENOMEM;
  e->body = body;
  e->len = len;
  if (!cacheable)
    return 0;
  e->not_modified = en_response(NULL, 0, NULL, e->etag, NULL, h, vary);
  if (e->not_modified == NULL || en_build_gzip(e, ctype, h, vary) != 0) {
    qfx_response_free(e);
    return -ENOMEM;
  }
  return 0;
}

void qfx_response_free(qfx_response_t *e) {
  struct MHD_Response *all[] = {e->full, e->gzip, e->not_modified,
                                e->not_modified_gz};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (all[i] != NULL)
      MHD_destroy_response(all[i]);
  memset(e, 0, sizeof(*e));
}

enum MHD_Result qfx_response_queue(const qfx_response_t *e,
                                   struct MHD_Connection *c) {
  bool gz = e->gzip != NULL &&
            qfx_accepts_gzip(MHD_lookup_connection_value(
                c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
  const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (e->not_modified != NULL && qfx_etag_match(inm, gz ? e->etag_gz : e->etag))
    return MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED,
                              gz ? e->not_modified_gz : e->not_modified);
  return MHD_queue_response(c, e->status, gz ? e->gzip : e->full);
}

struct MHD_Response *qfx_error_response(const char *body, size_t len,
                                        const qfx_headers_t *h) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (r != NULL && en_headers(r, QFX_CT_JSON, h, false) != MHD_YES) {
    MHD_destroy_response(r);
    r = NULL;
  }
  return r;
}

enum MHD_Result qfx_queue_json(struct MHD_Connection *c, unsigned status,
                               const char *body, size_t len,
                               const qfx_headers_t *h, const char *allow) {
  struct MHD_Response *r = qfx_error_response(body, len, h);
  if (r == NULL)
    return MHD_NO; /* out of memory: MHD closes the connection */
  enum MHD_Result ok = MHD_YES;
  if (allow != NULL)
    ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  if (ok == MHD_YES)
    ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}
