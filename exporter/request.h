/* request.h: answering one request (request.c): method check, access,
 * routing, answers from the current rendered set. */
#ifndef QFX_REQUEST_H
#define QFX_REQUEST_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* The request side (request.c) as server.c registers it with libmicrohttpd:
 * the access handler (cls: the qfx_server_t) and the URI log callback. */
enum MHD_Result qfx_request_access(void *cls, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_size, void **req_cls);
void *qfx_request_uri(void *cls, const char *uri, struct MHD_Connection *c);

/* Pure helpers, unit-tested. */
enum { QFX_M_GET, QFX_M_HEAD, QFX_M_OPTIONS, QFX_M_OTHER };
/* qfx_request_method classifies a request method (case-sensitive, RFC 9110). */
int qfx_request_method(const char *method);

enum {
  QFX_R_NONE,
  QFX_R_HEALTH,
  QFX_R_STATUS,
  QFX_R_AGENT_STATUS,
  QFX_R_METRICS,
  QFX_R_PROJECT_COMPLETION,
  QFX_R_PROJECT_ISSUES,
  QFX_R_COUNT
};
/* qfx_request_route maps a normalised request path to a route. */
int qfx_request_route(const char *path);
/* qfx_request_path_normalise is the one place a request target's path is
 * made ready for routing: the raw target up to "?" is copied to out with
 * every run of "/" written as one (nginx's merge_slashes) and the escapes
 * of unreserved characters (RFC 3986 2.3: letters, digits, "-._~")
 * decoded; every other escape, "%2F" among them, stays as sent, so an
 * encoded "/" never separates segments or merges. false when the result
 * does not fit outlen (no route is that long). */
bool qfx_request_path_normalise(const char *target, char *out, size_t outlen);
/* qfx_request_target_route is the route of a raw request target. */
int qfx_request_target_route(const char *target);
/* qfx_request_raw_nul tells whether the path of a request target as it came
 * in (before percent-decoding) encodes a NUL byte ("%00"), which would cut
 * the decoded path short ("/health%00x" reading as "/health"). */
bool qfx_request_raw_nul(const char *target);

#endif
