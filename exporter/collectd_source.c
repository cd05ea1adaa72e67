/* collectd_source.c: reading collectd's unixsock with libcollectdclient. */
#include "collectd_source.h"
#include "qf_buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qfx_source_init(qfx_source_t *s, const char *socket_path) {
  memset(s, 0, sizeof(*s));
  int n = snprintf(s->address, sizeof(s->address), "unix:%s", socket_path);
  return (n < 0 || (size_t)n >= sizeof(s->address)) ? -ENAMETOOLONG : 0;
}

void qfx_source_destroy(qfx_source_t *s) {
  if (s->con != NULL)
    LCC_DESTROY(s->con);
}

/* src_fail records why talking to collectd failed and drops the
 * connection: after a broken read the stream position is unknown. */
static int src_fail(qfx_source_t *s, const char *what) {
  const char *why = s->con != NULL ? lcc_strerror(s->con) : "";
  /* A clean EOF leaves errno 0, which lcc reports as "Success". */
  if (why[0] == '\0' || strcmp(why, "Success") == 0)
    why = "connection closed by collectd";
  qf_err(s->error, sizeof(s->error), "%s: %s", what, why);
  if (s->con != NULL)
    LCC_DESTROY(s->con);
  return -EIO;
}

/* src_connect opens the connection when there is none. */
static int src_connect(qfx_source_t *s) {
  if (s->con != NULL)
    return 0;
  errno = 0;
  if (lcc_connect(s->address, &s->con) == 0)
    return 0;
  /* lcc_connect frees its handle on failure, and its message with it;
   * errno still holds the reason from socket()/connect(). */
  int err = errno != 0 ? errno : ECONNREFUSED;
  s->con = NULL;
  qf_err(s->error, sizeof(s->error), "connect %s: %s%s", s->address,
         strerror(err),
         err == EACCES ? " (this user may not use collectd's socket: set "
                         "SocketGroup to one of its groups and SocketPerms "
                         "\"0660\" in <Plugin unixsock>)"
                       : "");
  return -err;
}

/* src_server_error tells whether the last failure was collectd refusing a
 * command (the connection is still good) rather than a broken stream. */
static bool src_server_error(qfx_source_t *s) {
  return strncmp(lcc_strerror(s->con), "Server error", 12) == 0;
}

/* src_getval reads one identifier into raw; 0, or -EIO when the
 * connection broke. */
static int src_getval(qfx_source_t *s, lcc_identifier_t *id, qfx_raw_t *raw) {
  size_t n = 0;
  gauge_t *values = NULL;
  char **names = NULL;
  if (lcc_getval(s->con, id, &n, &values, &names) != 0)
    return src_server_error(s) ? 0 : src_fail(s, "GETVAL");
  qfx_values_apply(raw, id, n, values, names);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  free(values);
  return 0;
}

int qfx_source_read(qfx_source_t *s, const char *host, qfx_resources_t *out) {
  int status = src_connect(s);
  if (status != 0)
    return status;
  lcc_identifier_t *ids = NULL;
  size_t n = 0;
  if (lcc_listval(s->con, &ids, &n) != 0)
    return src_fail(s, "LISTVAL");
  qfx_raw_t raw;
  qfx_raw_init(&raw);
  qfx_resources_init(out);
  const char *picked = qfx_values_pick_host(ids, n, host);
  if (picked != NULL)
    qf_strcpy(out->host, sizeof(out->host), picked);
  for (size_t i = 0; picked != NULL && status == 0 && i < n; i++)
    if (strcmp(ids[i].host, out->host) == 0 && qfx_values_wanted(&ids[i]))
      status = src_getval(s, &ids[i], &raw);
  free(ids);
  if (status != 0)
    return status;
  qfx_values_derive(&raw, out);
  s->error[0] = '\0';
  return 0;
}
