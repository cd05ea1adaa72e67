/* heartbeat_attention.h: the heartbeat body's "attention" object, why a
 * swarm needs an operator besides its status (docs/ARCHITECTURE.md "One truth
 * for the backend"): troubled agents, flagged issues, delivery backlog,
 * set-aside heartbeats, an exhausted request budget, figures not read yet. */
#ifndef HEARTBEAT_ATTENTION_H
#define HEARTBEAT_ATTENTION_H

#include "heartbeat_body.h"
#include "qf_json.h"

/* hb_attention_write writes "attention": {"needed": bool, "reasons":
 * [short sentences]} from what in carries: figures not read, then the
 * counts qf_attention_counts words as the exporter's /status does. */
void hb_attention_write(qf_jw_t *w, const hb_body_in_t *in);

#endif
