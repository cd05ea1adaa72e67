/* anomaly_snapshot.h: writing one anomaly as JSON, shared by the
 * anomalies.json snapshot and the history (anomaly_history.c). */
#ifndef ANOMALY_SNAPSHOT_H
#define ANOMALY_SNAPSHOT_H

#include "anomaly.h"
#include "qf_json.h"

/* anom_jw_anomaly writes a as one JSON object into w: kind, subject,
 * issue (null when none), since, observed, baseline, reason. */
void anom_jw_anomaly(qf_jw_t *w, const anom_t *a);

#endif
