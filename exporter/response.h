/* response.h: one rendered response, built once per refresh into reusable
 * libmicrohttpd responses (MHD reference-counts them, so any number of
 * connections can queue the same one). */
#ifndef QFX_RESPONSE_H
#define QFX_RESPONSE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#define QFX_CT_JSON "application/json; charset=utf-8"
#define QFX_VARY "Accept-Encoding"
#define QFX_VARY_ACCEPT "Accept, Accept-Encoding" /* /metrics */

typedef struct qfx_response_s {
  struct MHD_Response *full;            /* the body as rendered */
  struct MHD_Response *gzip;            /* the body gzip-encoded, or NULL */
  struct MHD_Response *not_modified;    /* 304 for a matching If-None-Match */
  struct MHD_Response *not_modified_gz; /* the same for the gzip body */
  const char *body; /* the plain body, owned by full (lives as long) */
  size_t len;
  size_t gzip_len; /* 0 without a gzip body */
  unsigned status;
  char etag[24];    /* "\"<16 hex>\"", the body's FNV-1a hash */
  char etag_gz[28]; /* "\"<16 hex>-gz\"": another representation */
} qfx_response_t;

/* Bodies shorter than this are not worth compressing. */
#define QFX_GZIP_MIN 256

/* The headers every response of this process carries. */
typedef struct qfx_headers_s {
  const char *cors_origin;
  const char *cache_control; /* for 2xx bodies */
} qfx_headers_t;

/* qfx_response_build makes e's responses from body (len bytes), which it
 * takes over in every case: a 2xx body gets an ETag, a 304 and, when it
 * is long enough to gain, a gzip variant compressed here, once. vary is the
 * Vary header's value ("Accept-Encoding", or "Accept, Accept-Encoding"
 * where the Accept header picks the body). 0 or -ENOMEM. */
int qfx_response_build(qfx_response_t *e, unsigned status, const char *ctype,
                       char *body, size_t len, const qfx_headers_t *h,
                       const char *vary);
/* qfx_response_free drops e's references; queued responses live on in MHD. */
void qfx_response_free(qfx_response_t *e);

/* qfx_response_queue answers the request on c with e: the gzip body when
 * Accept-Encoding allows it and one exists, else the plain body; 304
 * instead when If-None-Match names the chosen body's ETag. */
enum MHD_Result qfx_response_queue(const qfx_response_t *e,
                                   struct MHD_Connection *c);

/* qfx_error_response makes an uncacheable JSON response (an error) with
 * the common headers from body, which is copied; NULL when out of
 * memory. The caller destroys it. */
struct MHD_Response *qfx_error_response(const char *body, size_t len,
                                        const qfx_headers_t *h);

/* qfx_queue_json answers status with a body rendered just now (errors);
 * it is copied. allow, when non-NULL, goes into an Allow header. */
enum MHD_Result qfx_queue_json(struct MHD_Connection *c, unsigned status,
                               const char *body, size_t len,
                               const qfx_headers_t *h, const char *allow);

/* Pure helpers, unit-tested. */
/* qfx_etag writes the strong ETag of data into out (24 bytes). */
void qfx_etag(const void *data, size_t len, char out[24]);
/* qfx_etag_match tells whether an If-None-Match value names etag ("*",
 * a list, weak W/ forms). */
bool qfx_etag_match(const char *header, const char *etag);
/* qfx_header_next reads the next element of a comma-separated header
 * value (Accept, Accept-Encoding, If-None-Match): its token without
 * parameters or surrounding spaces, and its q parameter in thousandths
 * (1000 when absent, 0 when malformed). Advances *s; false at the end. */
bool qfx_header_next(const char **s, const char **tok, size_t *toklen, int *q);
/* qfx_accepts_gzip tells whether an Accept-Encoding value allows gzip. */
bool qfx_accepts_gzip(const char *header);

#endif
