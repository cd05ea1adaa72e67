/* github_fetch.h: one GitHub request at a time, inside a cycle's budget,
 * with the quota and back-off rules; and the cycle's error record. Used by
 * github_sync.c only. Pure logic. */
#ifndef GITHUB_FETCH_H
#define GITHUB_FETCH_H

#include "github_sync.h"

#include <stdbool.h>
#include <stddef.h>

/* Flags of gh_fetch. */
#define GH_FETCH_CONDITIONAL 0x1 /* send the stored ETag as If-None-Match */
#define GH_FETCH_OPTIONAL 0x2    /* skip when the quota is short */
#define GH_FETCH_FIT 0x4         /* -EFBIG is the caller's to handle */
/* GH_FETCH_PART(p): the request belongs to optional part p (gh_part_t). */
#define GH_FETCH_PART(p) (((p) + 1) << 4)

/* gh_fetch GETs url, following same-origin redirects. Returns 0 when
 * GitHub answered with a status the caller handles (2xx, 304, 4xx other
 * than 403/429), -EAGAIN when no request may be sent (budget, quota,
 * back-off; s->stopped is set), -EACCES when the request's part (flag
 * GH_FETCH_PART) is refused by a permission 403 (now or recently; the part
 * is marked unavailable, no cycle error), and another negative errno for
 * transport failures, time-outs, oversized bodies (not recorded with
 * GH_FETCH_FIT), rate limits (back-off armed), permission 403s outside a
 * part, redirects that leave APIURL's origin and 5xx, error recorded.
 * resp is always initialised; free it with qf_http_response_free. */
int gh_fetch(gh_sync_t *s, const char *url, int flags, size_t max_body,
             qf_http_response_t *resp);

/* gh_fetch_unexpected records an answer with a status the caller cannot
 * use; returns -EPROTO. */
int gh_fetch_unexpected(gh_sync_t *s, const char *url,
                        const qf_http_response_t *resp);

/* gh_sync_error records a cycle error (the cycle's first is kept in
 * last_error; each distinct text is logged once). Returns status. */
int gh_sync_error(gh_sync_t *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* gh_sync_logf logs through the configured callback. */
void gh_sync_logf(gh_sync_t *s, int severity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* gh_follow_ok tells whether url may be followed (same origin as APIURL,
 * so the token never leaves for another host). */
bool gh_follow_ok(const gh_sync_t *s, const char *url);

/* gh_elapsed returns seconds since the cycle started. */
double gh_elapsed(const gh_sync_t *s);

#endif
