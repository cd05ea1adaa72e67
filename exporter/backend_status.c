/* backend_status.c: the central backend's view of /status (see the
 * header). */
#include "backend_status.h"

#include "qf_status.h"

#include <math.h>

bool qfx_backend_current(const qfx_model_t *m) {
  const qf_res_t *u = &m->res->usage;
  return m->connected && !m->stale && !isnan(u->cpu_percent) &&
         !isnan(u->memory_percent) && !isnan(u->disk_percent);
}

/* qfxb_flat writes key: v rounded to two decimals, 0 when never read. */
static void qfxb_flat(qf_jw_t *w, const char *key, double v) {
  qf_jw_kdouble(w, key, isfinite(v) ? qfx_round(v, 2) : 0.0);
}

void qfx_render_backend_flat(const qfx_model_t *m, qf_jw_t *w) {
  const qf_res_t *u = &m->res->usage;
  qf_status_t s = qf_status_decide(qfx_backend_current(m), u->cpu_percent,
                                   u->memory_percent);
  qf_jw_kstr(w, "status", qf_status_name(s));
  qfxb_flat(w, "cpu", u->cpu_percent);
  qfxb_flat(w, "memory", u->memory_percent);
  qfxb_flat(w, "disk", u->disk_percent);
  qf_jw_key(w, "agents"); /* BEGIN agents */
  qf_jw_obj_open(w);
  double active = qfx_agent_count(m, QFX_AG_ACTIVE);
  double total = qfx_agent_count(m, QFX_AG_TOTAL);
  qf_jw_kint(w, "active", isfinite(active) ? llround(active) : 0);
  qf_jw_kint(w, "total", isfinite(total) ? llround(total) : 0);
  qf_jw_obj_close(w); /* END agents */
}

/* qfxb_figures says why the figures are not current, if they are not. */
static void qfxb_figures(qf_attention_t *a, const qfx_model_t *m) {
  const qf_res_t *u = &m->res->usage;
  if (!m->connected)
    qf_attention_add(a, m->last_ok > 0.0
                            ? "collectd unreachable: figures frozen at its "
                              "last reading"
                            : "collectd not read yet");
  else if (m->stale)
    qf_attention_add(a, "collectd's figures are stale");
  else if (isnan(u->cpu_percent))
    qf_attention_add(
        a, "cpu not read yet (collectd's cpu plugin needs two reads)");
  else if (isnan(u->memory_percent) || isnan(u->disk_percent))
    qf_attention_add(a, "memory or disk not reported by collectd");
}

/* qfxb_backends adds heartbeat.json's delivery trouble to c: the deepest
 * spool, the set-aside records of every backend, an exhausted budget. */
static void qfxb_backends(qf_attention_counts_t *c, const qfx_model_t *m) {
  yajl_val bs = qf_json_get(m->heartbeat, "backends");
  for (size_t i = 0; YAJL_IS_ARRAY(bs) && i < bs->u.array.len; i++) {
    yajl_val b = bs->u.array.values[i];
    double v;
    if (qf_json_get_double(b, "spool_depth", &v) == 0 && v > c->backlog)
      c->backlog = v;
    if (qf_json_get_double(b, "set_aside", &v) == 0)
      c->set_aside += v;
    c->budget_exhausted |= YAJL_IS_TRUE(qf_json_get(b, "budget_exhausted"));
  }
}

void qfx_render_attention(const qfx_model_t *m, qf_jw_t *w) {
  qf_attention_t a = {.n = 0};
  qfxb_figures(&a, m);
  qf_attention_counts_t c = {
      .agents_failed = qfx_agent_count(m, QFX_AG_FAILED),
      .agents_dead = qfx_agent_count(m, QFX_AG_DEAD),
      .agents_stale = qfx_agent_count(m, QFX_AG_STALE),
      /* Flags count once project.json holds a finished issue listing. */
      .flagged = qf_json_get_str(m->project, "last_sync") != NULL
                     ? (double)m->flagged_issues
                     : 0.0};
  qfxb_backends(&c, m);
  qf_attention_counts(&a, &c);
  qf_attention_write(w, &a);
}
