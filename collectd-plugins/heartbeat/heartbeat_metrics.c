/* heartbeat_metrics.c: the latest value of each metric, and the figures a
 * heartbeat reports from them. */
#include "heartbeat_metrics.h"
#include "qf_resources.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const hb_agent_status_names[HB_AG_N] = {
    "active", "idle", "blocked", "failed", "dead", "stale", "total"};

int hb_metrics_init(hb_metrics_t *m, size_t max) {
  memset(m, 0, sizeof(*m));
  size_t cap = 16;
  while (cap < 2 * max)
    cap *= 2;
  m->slots = calloc(cap, sizeof(*m->slots));
  if (m->slots == NULL)
    return -ENOMEM;
  m->cap = cap;
  m->max = max;
  return 0;
}

void hb_metrics_free(hb_metrics_t *m) {
  for (size_t i = 0; m->slots != NULL && i < m->cap; i++)
    free(m->slots[i].key);
  free(m->slots);
  memset(m, 0, sizeof(*m));
}

bool hb_metrics_wanted(const char *plugin) {
  static const char *const wanted[] = {"cpu",  "memory", "df",
                                       "load", "uptime", "qiflow_agents"};
  for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
    if (strcmp(plugin, wanted[i]) == 0)
      return true;
  return false;
}

int hb_metrics_key(char *out, size_t outlen, const char *plugin,
                   const char *plugin_instance, const char *type,
                   const char *type_instance, const char *ds, size_t nds) {
  bool pi = plugin_instance != NULL && plugin_instance[0] != '\0';
  bool ti = type_instance != NULL && type_instance[0] != '\0';
  int n =
      snprintf(out, outlen, "%s%s%s/%s%s%s%s%s", plugin, pi ? "-" : "",
               pi ? plugin_instance : "", type, ti ? "-" : "",
               ti ? type_instance : "", nds > 1 ? "." : "", nds > 1 ? ds : "");
  return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : 0;
}

/* hbm_hash is FNV-1a: short keys, no adversary. */
static size_t hbm_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return (size_t)h;
}

/* hbm_find returns key's slot, or the empty slot where it would go. */
static hb_metric_t *hbm_find(const hb_metrics_t *m, const char *key) {
  size_t i = hbm_hash(key) & (m->cap - 1);
  while (m->slots[i].key != NULL && strcmp(m->slots[i].key, key) != 0)
    i = (i + 1) & (m->cap - 1);
  return &m->slots[i];
}

int hb_metrics_set(hb_metrics_t *m, const char *key, double value,
                   double time) {
  hb_metric_t *slot = hbm_find(m, key);
  if (slot->key == NULL) {
    /* The table stays at most half full, so probing always ends. */
    if (m->count >= m->max)
      return -ENOSPC;
    slot->key = strdup(key);
    if (slot->key == NULL)
      return -ENOMEM;
    m->count++;
  }
  slot->value = value;
  slot->time = time;
  return 0;
}

int hb_metrics_get(const hb_metrics_t *m, const char *key, double now,
                   double max_age, double *value) {
  const hb_metric_t *slot = hbm_find(m, key);
  if (slot->key == NULL || !isfinite(slot->value))
    return -ENOENT;
  if (max_age > 0 && slot->time < now - max_age)
    return -ENOENT;
  *value = slot->value;
  return 0;
}

/* hbm_value returns key's fresh value or NAN. */
static double hbm_value(const hb_metrics_t *m, const char *key, double now,
                        double max_age) {
  double v;
  return hb_metrics_get(m, key, now, max_age, &v) == 0 ? v : NAN;
}

/* hbm_sum adds the fresh values whose key starts with prefix, but the one
 * ending in except; NAN when there is none. */
static double hbm_sum(const hb_metrics_t *m, const char *prefix,
                      const char *except, double now, double max_age) {
  size_t plen = strlen(prefix);
  double sum = NAN;
  for (size_t i = 0; i < m->cap; i++) {
    const hb_metric_t *s = &m->slots[i];
    if (s->key == NULL || strncmp(s->key, prefix, plen) != 0 ||
        strcmp(s->key + plen, except) == 0 || !isfinite(s->value) ||
        (max_age > 0 && s->time < now - max_age))
      continue;
    sum = isnan(sum) ? s->value : sum + s->value;
  }
  return sum;
}

/* hbm_host fills the cpu, memory and disk figures by libqiflow's rules,
 * the ones the exporter applies. */
static void hbm_host(const hb_metrics_t *m, double now, double max_age,
                     hb_figures_t *f) {
  qf_res_input_t in;
  qf_res_input_init(&in);
  in.cpu_idle = hbm_value(m, "cpu/percent-idle", now, max_age);
  in.cpu_busy = hbm_sum(m, "cpu/percent-", "idle", now, max_age);
  in.mem_percent_used = hbm_value(m, "memory/percent-used", now, max_age);
  in.mem_used = hbm_value(m, "memory/memory-used", now, max_age);
  in.mem_total = hbm_sum(m, "memory/memory-", "available", now, max_age);
  in.df_percent_used = hbm_value(m, "df-root/percent_bytes-used", now, max_age);
  in.df_used = hbm_value(m, "df-root/df_complex-used", now, max_age);
  in.df_free = hbm_value(m, "df-root/df_complex-free", now, max_age);
  in.df_reserved = hbm_value(m, "df-root/df_complex-reserved", now, max_age);
  qf_res_derive(&in, &f->usage);
}

void hb_figures_extract(const hb_metrics_t *m, double now, double max_age,
                        hb_figures_t *f) {
  static const char *const load_keys[3] = {
      "load/load.shortterm", "load/load.midterm", "load/load.longterm"};
  hbm_host(m, now, max_age, f);
  for (size_t i = 0; i < 3; i++)
    f->load[i] = hbm_value(m, load_keys[i], now, max_age);
  f->uptime_seconds = hbm_value(m, "uptime/uptime", now, max_age);
  for (size_t i = 0; i < HB_AG_N; i++) {
    char key[64];
    snprintf(key, sizeof(key), "qiflow_agents/count-%s",
             hb_agent_status_names[i]);
    f->agents[i] = hbm_value(m, key, now, max_age);
  }
}

bool hb_figures_complete(const hb_figures_t *f) {
  return !isnan(f->usage.cpu_percent) && !isnan(f->usage.memory_percent) &&
         !isnan(f->usage.disk_percent);
}
