/* collectd_source.h: reading collectd's unixsock over one persistent
 * connection. */
#ifndef QFX_COLLECTD_SOURCE_H
#define QFX_COLLECTD_SOURCE_H

#include "collectd_values.h"

#include <collectd/client.h>

typedef struct qfx_source_s {
  char address[128];     /* "unix:/path" */
  lcc_connection_t *con; /* NULL while disconnected */
  char error[300];       /* why the last read failed, "" after success */
} qfx_source_t;

/* qfx_source_init prepares a source for the socket path; no I/O yet. */
int qfx_source_init(qfx_source_t *s, const char *socket_path);
/* qfx_source_destroy closes the connection. */
void qfx_source_destroy(qfx_source_t *s);

/* qfx_source_read connects when needed, lists collectd's values, picks the
 * host (see qfx_values_pick_host) and reads the wanted gauges into out.
 * 0 on success (a value that vanished between LISTVAL and GETVAL is just
 * missing); a negative errno when collectd cannot be talked to, with the
 * reason in s->error and the connection dropped so the next call
 * reconnects. */
int qfx_source_read(qfx_source_t *s, const char *host, qfx_resources_t *out);

#endif
