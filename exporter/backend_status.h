/* backend_status.h: what /status tells the central backend's poller — the
 * flat status by the one rule both doors apply (qf_status_decide), the flat
 * figures it stores, and why the swarm needs attention (docs/ARCHITECTURE.md
 * "One truth for the backend"). */
#ifndef QFX_BACKEND_STATUS_H
#define QFX_BACKEND_STATUS_H

#include "render_json.h"

/* qfx_backend_current tells whether the model's figures are current:
 * collectd answered recently (not stale) and cpu, memory and disk are all
 * known (collectd's cpu plugin needs two reads after a start). */
bool qfx_backend_current(const qfx_model_t *m);

/* qfx_render_backend_flat writes "status", "cpu", "memory", "disk" and
 * "agents": {"active", "total"} (0 when no agent count is known).
 * The figures are the last real reading; one collectd never reported is 0
 * (the poller stores any number and refuses none; "status" is then
 * offline and "attention" says the figure was not read yet). */
void qfx_render_backend_flat(const qfx_model_t *m, qf_jw_t *w);

/* qfx_render_attention writes "attention": {"needed", "reasons"}: figures
 * not current, failed/dead/stale agents, flagged issues, and the heartbeat
 * backends' backlog, set-aside records and exhausted request budget (from
 * heartbeat.json). */
void qfx_render_attention(const qfx_model_t *m, qf_jw_t *w);

#endif
