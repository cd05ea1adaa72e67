/* swarm.h: which swarm id the exporter serves (docs/ARCHITECTURE.md "One swarm
 * id"):
 * --swarm-id when given, else the id qiflow_heartbeat publishes in
 * heartbeat.json, else StateDir/swarm_id. Pure but for
 * qfx_swarm_check_start, which reads heartbeat.json once. */
#ifndef QFX_SWARM_H
#define QFX_SWARM_H

#include "qf_swarm.h"

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

/* What heartbeat.json says about the id qiflow_heartbeat sends. */
typedef struct qfx_hb_swarm_s {
  const char *id;  /* NULL: no heartbeat.json, or no valid swarm_id in it */
  bool configured; /* its SwarmID (true) or StateDir/swarm_id (false) */
} qfx_hb_swarm_t;

/* qfx_swarm_of_heartbeat reads swarm_id and swarm_id_source from a parsed
 * heartbeat.json (NULL: none). An id that is not valid counts as none; a
 * missing swarm_id_source (a plugin before it existed) as configured. */
qfx_hb_swarm_t qfx_swarm_of_heartbeat(yajl_val heartbeat);

/* qfx_swarm_pick is the id to serve: flag when non-empty, else hb's,
 * else file_id (NULL or "": not known yet, NULL is returned). */
const char *qfx_swarm_pick(const char *flag, const qfx_hb_swarm_t *hb,
                           const char *file_id);

/* qfx_swarm_conflict tells whether --swarm-id (flag, "" when not given)
 * disagrees with hb; when it does, err says so, naming both ids and where
 * to set one (state_dir for the file names). */
bool qfx_swarm_conflict(const char *flag, const qfx_hb_swarm_t *hb,
                        const char *state_dir, char *err, size_t errlen);

/* qfx_swarm_check_start reads state_dir/heartbeat.json once: -EINVAL
 * with the conflict in err when --swarm-id disagrees with it, else 0 (a
 * missing or broken file is no conflict: the refresh reports it). */
int qfx_swarm_check_start(const char *flag, const char *state_dir, char *err,
                          size_t errlen);

#endif
