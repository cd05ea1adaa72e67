/* backend_status.c: the central backend's view of /status (see the
 * header). */
#include "backend_status.h"

#include "qf_status.h"

#include <math.h>
#include <stdio.h>

#define QFXB_REASONS 10  /* reasons listed at most */
#define QFXB_REASON_MAX 160

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

typedef struct qfxb_list_s {
  char text[QFXB_REASONS][QFXB_REASON_MAX];
  size_t n;
} qfxb_list_t;

/* qfxb_count adds "<n> <one|many> <what>" when n > 0. */
static void qfxb_count(qfxb_list_t *l, double n, const char *one,
                       const char *many, const char *what) {
  if (!isfinite(n) || n < 0.5 || l->n >= QFXB_REASONS)
    return;
  long long k = llround(n);
  snprintf(l->text[l->n++], QFXB_REASON_MAX, "%lld %s %s", k,
           k == 1 ? one : many, what);
}

/* qfxb_figures says why the figures are not current, if they are not. */
static void qfxb_figures(qfxb_list_t *l, const qfx_model_t *m) {
  const qf_res_t *u = &m->res->usage;
  const char *why = NULL;
  if (!m->connected)
    why = m->last_ok > 0.0 ? "collectd unreachable: figures frozen at its "
                             "last reading"
                           : "collectd not read yet";
  else if (m->stale)
    why = "collectd's figures are stale";
  else if (isnan(u->cpu_percent))
    why = "cpu not read yet (collectd's cpu plugin needs two reads)";
  else if (isnan(u->memory_percent) || isnan(u->disk_percent))
    why = "memory or disk not reported by collectd";
  if (why != NULL)
    snprintf(l->text[l->n++], QFXB_REASON_MAX, "%s", why);
}

/* qfxb_backends adds the heartbeat backends' delivery trouble. */
static void qfxb_backends(qfxb_list_t *l, const qfx_model_t *m) {
  yajl_val bs = qf_json_get(m->heartbeat, "backends");
  double backlog = 0, aside = 0;
  bool budget = false;
  for (size_t i = 0; YAJL_IS_ARRAY(bs) && i < bs->u.array.len; i++) {
    yajl_val b = bs->u.array.values[i];
    double v;
    if (qf_json_get_double(b, "spool_depth", &v) == 0 && v > backlog)
      backlog = v;
    if (qf_json_get_double(b, "set_aside", &v) == 0)
      aside += v;
    budget |= YAJL_IS_TRUE(qf_json_get(b, "budget_exhausted"));
  }
  qfxb_count(l, backlog, "heartbeat", "heartbeats", "waiting in the spool");
  qfxb_count(l, aside, "heartbeat", "heartbeats",
             "set aside (refused by a backend)");
  if (budget && l->n < QFXB_REASONS)
    snprintf(l->text[l->n++], QFXB_REASON_MAX,
             "request budget cannot carry every heartbeat");
}

void qfx_render_attention(const qfx_model_t *m, qf_jw_t *w) {
  qfxb_list_t l = {.n = 0};
  qfxb_figures(&l, m);
  static const int troubled[] = {QFX_AG_FAILED, QFX_AG_DEAD, QFX_AG_STALE};
  for (size_t i = 0; i < sizeof(troubled) / sizeof(troubled[0]); i++)
    qfxb_count(&l, qfx_agent_count(m, troubled[i]), "agent", "agents",
               qfx_agent_keys[troubled[i]]);
  /* Flags count once project.json holds a finished issue listing. */
  if (qf_json_get_str(m->project, "last_sync") != NULL)
    qfxb_count(&l, (double)m->flagged_issues, "issue", "issues",
               "flagged for a human");
  qfxb_backends(&l, m);
  qf_jw_key(w, "attention"); /* BEGIN attention */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "needed", l.n > 0);
  qf_jw_key(w, "reasons");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < l.n; i++)
    qf_jw_str(w, l.text[i]);
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END attention */
}
