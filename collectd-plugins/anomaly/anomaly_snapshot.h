/* anomaly_snapshot.h: writing anomalies as JSON, shared by the
 * anomalies.json snapshot and the history (anomaly_history.c). */
#ifndef ANOMALY_SNAPSHOT_H
#define ANOMALY_SNAPSHOT_H

#include "anomaly.h"
#include "qf_json.h"

/* anom_jw_anomaly writes a as one JSON object into w: kind, subject,
 * issue (null when none), since, observed, baseline, reason. */
void anom_jw_anomaly(qf_jw_t *w, const anom_t *a);

/* anom_jw_finish_active writes key: [s's active anomalies], closes the
 * document's top object and finishes w into *out (the caller frees it),
 * freeing w. 0 or a negative errno. */
int anom_jw_finish_active(qf_jw_t *w, const char *key, const anom_state_t *s,
                          char **out, size_t *len);

#endif
