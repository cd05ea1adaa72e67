/* swarm.c: which swarm id the exporter serves; see swarm.h. */
#include "swarm.h"
#include "qf_buf.h"
#include "qf_json.h"
#include "qf_snapshot.h"

#include <errno.h>
#include <string.h>

#define SW_HEARTBEAT_FILE "heartbeat.json"

qfx_hb_swarm_t qfx_swarm_of_heartbeat(yajl_val heartbeat) {
  qfx_hb_swarm_t hb = {.id = qf_json_get_str(heartbeat, "swarm_id"),
                       .configured = true};
  if (hb.id != NULL && !qf_swarm_id_valid(hb.id))
    hb.id = NULL;
  const char *source = qf_json_get_str(heartbeat, "swarm_id_source");
  if (source != NULL && strcmp(source, "generated") == 0)
    hb.configured = false;
  return hb;
}

const char *qfx_swarm_pick(const char *flag, const qfx_hb_swarm_t *hb,
                           const char *file_id) {
  if (flag != NULL && flag[0] != '\0')
    return flag;
  if (hb->id != NULL)
    return hb->id;
  return file_id != NULL && file_id[0] != '\0' ? file_id : NULL;
}

bool qfx_swarm_conflict(const char *flag, const qfx_hb_swarm_t *hb,
                        const char *state_dir, char *err, size_t errlen) {
  if (flag == NULL || flag[0] == '\0' || hb->id == NULL ||
      strcmp(flag, hb->id) == 0)
    return false;
  if (hb->configured)
    qf_err(err, errlen,
           "--swarm-id \"%s\" disagrees with qiflow_heartbeat's "
           "SwarmID \"%s\" (%s/" SW_HEARTBEAT_FILE "): configure the id in "
           "one place: drop --swarm-id (the exporter then serves SwarmID), "
           "or set SwarmID \"%s\" in collectd.conf's <Plugin "
           "qiflow_heartbeat> and restart collectd",
           flag, hb->id, state_dir, flag);
  else
    qf_err(err, errlen,
           "--swarm-id \"%s\" disagrees with \"%s\", the id "
           "qiflow_heartbeat sends (it has no SwarmID and uses "
           "%s/" QF_SWARM_ID_FILE "): configure the id in one place: set "
           "SwarmID \"%s\" in collectd.conf's <Plugin qiflow_heartbeat>, "
           "restart collectd and drop --swarm-id, or drop --swarm-id to "
           "serve \"%s\"",
           flag, hb->id, state_dir, flag, hb->id);
  return true;
}

int qfx_swarm_check_start(const char *flag, const char *state_dir, char *err,
                          size_t errlen) {
  if (flag == NULL || flag[0] == '\0')
    return 0;
  qf_snapshot_t s;
  if (qf_snapshot_init(&s, state_dir, SW_HEARTBEAT_FILE) != 0)
    return 0; /* out of memory: the refresh will say more */
  qf_snapshot_refresh(&s);
  qfx_hb_swarm_t hb = qfx_swarm_of_heartbeat(s.doc);
  bool conflict = qfx_swarm_conflict(flag, &hb, state_dir, err, errlen);
  qf_snapshot_destroy(&s);
  return conflict ? -EINVAL : 0;
}
