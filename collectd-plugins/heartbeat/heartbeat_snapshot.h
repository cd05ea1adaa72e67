/* heartbeat_snapshot.h: the heartbeat.json snapshot (schema/README.md). */
#ifndef HEARTBEAT_SNAPSHOT_H
#define HEARTBEAT_SNAPSHOT_H

#include "heartbeat_target.h"
#include "heartbeat_webhook.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HB_STATE_FILE "heartbeat.json"

typedef struct hb_state_in_s {
  time_t now;
  bool running;
  const char *swarm_id;
  bool swarm_id_configured; /* SwarmID set, not generated in StateDir */
  double interval;
  hb_backend_t *const *backends;
  size_t n_backends;
  hb_webhook_t *const *webhooks;
  size_t n_webhooks;
} hb_state_in_t;

/* hb_snapshot_render writes heartbeat.json into a new buffer the caller
 * frees. URLs are the published (redacted) ones; no key appears. */
int hb_snapshot_render(const hb_state_in_t *in, char **out, size_t *len);

#endif
