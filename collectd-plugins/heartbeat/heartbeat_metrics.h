/* heartbeat_metrics.h: the latest value of each metric collectd handed the
 * heartbeat plugin, and the figures a heartbeat reports from them. Free of
 * collectd symbols so the unit tests link it directly. */
#ifndef HEARTBEAT_METRICS_H
#define HEARTBEAT_METRICS_H

#include "qf_resources.h"

#include <stdbool.h>
#include <stddef.h>

#define HB_METRICS_MAX                                                         \
  1024 /* distinct metrics kept; later new ones ignored                        \
        */
#define HB_METRIC_KEY_MAX 512

/* One metric: "plugin[-pinst]/type[-tinst]", plus ".<ds>" for types with
 * several data sources (load/load.shortterm). */
typedef struct hb_metric_s {
  char *key; /* NULL: empty slot */
  double value;
  double time; /* collectd's time of the value, epoch seconds */
} hb_metric_t;

/* An open-addressing hash table: the write callback updates it in O(1). */
typedef struct hb_metrics_s {
  hb_metric_t *slots;
  size_t cap; /* power of two, twice max */
  size_t count;
  size_t max;
} hb_metrics_t;

int hb_metrics_init(hb_metrics_t *m, size_t max);
void hb_metrics_free(hb_metrics_t *m);

/* hb_metrics_wanted tells whether values of this collectd plugin feed a
 * heartbeat; the write callback keeps no others. */
bool hb_metrics_wanted(const char *plugin);

/* hb_metrics_key writes a metric's key; ds is appended when nds > 1.
 * 0 or -ENAMETOOLONG. */
int hb_metrics_key(char *out, size_t outlen, const char *plugin,
                   const char *plugin_instance, const char *type,
                   const char *type_instance, const char *ds, size_t nds);

/* hb_metrics_set records value as key's latest. 0, -ENOSPC when the table
 * is full and key is new, -ENOMEM. */
int hb_metrics_set(hb_metrics_t *m, const char *key, double value, double time);

/* hb_metrics_get finds key's value, ignoring values older than max_age
 * seconds before now (max_age <= 0: any age). 0 or -ENOENT. */
int hb_metrics_get(const hb_metrics_t *m, const char *key, double now,
                   double max_age, double *value);

/* Agent statuses in qiflow_agents' count-<status> order, then total. */
enum {
  HB_AG_ACTIVE,
  HB_AG_IDLE,
  HB_AG_BLOCKED,
  HB_AG_FAILED,
  HB_AG_DEAD,
  HB_AG_STALE,
  HB_AG_TOTAL,
  HB_AG_N
};
extern const char *const hb_agent_status_names[HB_AG_N];

/* What a heartbeat reports from collectd's values; NAN when missing. Rules
 * as the exporter's: cpu = 100 - idle (else the sum of the busy states),
 * memory total = the sum of the
 * memory-<state> values but "available", disk total = used+free+reserved. */
typedef struct hb_figures_s {
  qf_res_t usage; /* cpu, memory and disk, by libqiflow's rules */
  double load[3];
  double uptime_seconds;
  double agents[HB_AG_N];
} hb_figures_t;

/* hb_figures_extract reads the figures out of m, ignoring values older
 * than max_age seconds. Call with the table's lock held: it only copies. */
void hb_figures_extract(const hb_metrics_t *m, double now, double max_age,
                        hb_figures_t *f);

/* hb_figures_complete tells whether cpu, memory and disk are all known
 * (and so fresh: hb_figures_extract drops old values). collectd's cpu
 * plugin needs two reads, so right after a start cpu is missing. */
bool hb_figures_complete(const hb_figures_t *f);

#endif
