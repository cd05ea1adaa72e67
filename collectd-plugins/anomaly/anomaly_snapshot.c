/* anomaly_snapshot.c: the active list as the anomalies.json snapshot
 * (schema/anomalies-snapshot.schema.json). */
#include "anomaly.h"
#include "anomaly_snapshot.h"

#include "qf_json.h"

void anom_jw_anomaly(qf_jw_t *w, const anom_t *a) {
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "kind", anom_kind_name(a->kind));
  qf_jw_kstr(w, "subject", a->subject);
  if (a->issue > 0)
    qf_jw_kint(w, "issue", a->issue);
  else
    qf_jw_knull(w, "issue");
  qf_jw_ktime(w, "since", a->since);
  qf_jw_kdouble(w, "observed", a->observed);
  qf_jw_kdouble(w, "baseline", a->baseline);
  qf_jw_kstr(w, "reason", a->reason);
  qf_jw_obj_close(w);
}

int anom_jw_finish_active(qf_jw_t *w, const char *key, const anom_state_t *s,
                          char **out, size_t *len) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (int i = 0; i < s->active_n; i++)
    anom_jw_anomaly(w, &s->active[i]);
  qf_jw_arr_close(w);
  qf_jw_obj_close(w);
  int rc = qf_jw_finish(w, out, len);
  qf_jw_free(w);
  return rc;
}

int anom_snapshot_render(const anom_state_t *s, time_t now, char **out,
                         size_t *len) {
  qf_jw_t w;
  int counts[ANOM_KIND_COUNT] = {0};
  int rc = qf_jw_init(&w);
  if (rc != 0)
    return rc;
  for (int i = 0; i < s->active_n; i++)
    counts[s->active[i].kind]++;
  qf_jw_obj_open(&w);
  qf_jw_kint(&w, "schema_version", 1);
  qf_jw_ktime(&w, "updated_at", now);
  qf_jw_ktime(&w, "evaluated_at", s->evaluated_at);
  qf_jw_key(&w, "detectors");
  qf_jw_obj_open(&w);
  for (int k = 0; k < ANOM_KIND_COUNT; k++) {
    qf_jw_key(&w, anom_kind_name((anom_kind_t)k));
    qf_jw_obj_open(&w);
    qf_jw_kbool(&w, "enabled", s->cfg.enabled[k]);
    qf_jw_kint(&w, "active", counts[k]);
    qf_jw_obj_close(&w);
  }
  qf_jw_obj_close(&w);
  return anom_jw_finish_active(&w, "anomalies", s, out, len);
}
