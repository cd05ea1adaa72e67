/* anomaly_feed.h: what the qiflow_anomaly plugin feeds the detectors from
 * (StateDir snapshots, collectd's memory and df values) and how it words a
 * transition. No collectd symbol: tests/unit/anomaly links it directly. */
#ifndef ANOMALY_FEED_H
#define ANOMALY_FEED_H

#include "anomaly.h"
#include "qf_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <yajl/yajl_tree.h>

/* anom_feed_agents feeds the agents of an agents.json document (schema/
 * agents-snapshot.schema.json) seen at now: an agent is active when its
 * derived status is "active"; its issue_number and task_started_at are the
 * task. Returns the number of agents fed, or -EINVAL with the reason in err
 * when doc is no agents snapshot (nothing is fed then). */
int anom_feed_agents(anom_state_t *s, time_t now, yajl_val doc, char *err,
                     size_t errlen);

/* ci_runs entries of one project.json read at most. */
#define ANOM_FEED_CI_MAX 500

/* anom_feed_project feeds the project.json text[0, len) (schema/
 * project-snapshot.schema.json): every issue closed after the cursor
 * s->feed_closed_until, in time order and counted once (the cursor moves
 * to the largest closed_at); a rise of github.recent_commits or a change
 * of github.open_pull_requests since the last document counts as progress
 * at its last_sync (else updated_at), and so does, at its own time, an
 * activity.last_pull_request_update newer than s->feed_pr_update; every
 * ci_runs entry newer than the cursor s->feed_ci_until is counted once, in
 * time order (the cursor moves to the newest at). Returns the number of
 * closed issues counted, or -EINVAL with the reason in err (nothing is
 * fed), -ENOMEM. */
int anom_feed_project(anom_state_t *s, const char *text, size_t len, char *err,
                      size_t errlen);
/* anom_feed_project_src is anom_feed_project for the text in src (from a
 * file, scanned a window at a time: the file is never held whole unless
 * its text does not scan, and then only for the parser's message). The
 * issue list is scanned, not parsed: only each issue's closed_at is read
 * (an issue whose text is broken is skipped; the exporter reports a
 * broken project.json), and the text around the list is parsed. */
int anom_feed_project_src(anom_state_t *s, const qf_src_t *src, char *err,
                          size_t errlen);

/* Memory and disk use from collectd's values. */
#define ANOM_FEED_PARTS 8 /* type instances kept per resource */
#define ANOM_FEED_PART_MAX 32

typedef struct anom_feed_res_s {
  char name[ANOM_NAME_MAX]; /* "memory" or "disk:<plugin instance>" */
  int n;
  char part[ANOM_FEED_PARTS][ANOM_FEED_PART_MAX];
  double v[ANOM_FEED_PARTS];
  double percent; /* the "used" percentage when collectd sends one */
  bool has_percent;
} anom_feed_res_t;

typedef struct anom_feed_values_s {
  anom_feed_res_t res[ANOM_MAX_RESOURCES];
  int n;
} anom_feed_values_t;

/* anom_feed_value keeps one collectd gauge when it describes memory (plugin
 * "memory", type "memory" or "percent") or a file system (plugin "df", type
 * "df_complex" or "percent_bytes"). Returns 1 when kept, 0 when the value
 * is of no interest, -ENOSPC when ANOM_MAX_RESOURCES resources or
 * ANOM_FEED_PARTS parts are held already. */
int anom_feed_value(anom_feed_values_t *f, const char *plugin,
                    const char *plugin_instance, const char *type,
                    const char *type_instance, double value);

/* anom_feed_fraction computes resource i's used fraction (0..1): the
 * percentage when sent, else used / the sum of its parts (memory: used,
 * buffered, cached, free, slab_*; df: used, free, reserved). -ENOENT when
 * it is not known yet (no used part, or used alone). */
int anom_feed_fraction(const anom_feed_res_t *r, double *used);

/* anom_feed_message words a transition for a collectd notification:
 * "<kind> <subject> (issue #n): <reason>" when it starts, prefixed with
 * "ended: " and naming since when it ended. */
void anom_feed_message(const anom_t *a, bool started, char *out, size_t outlen);

#endif
