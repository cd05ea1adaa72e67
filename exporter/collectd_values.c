/* collectd_values.c: pure logic from collectd identifiers and gauges to
 * resource figures. GETVAL answers rates for DERIVE/COUNTER data sources; every
 * identifier read here is a GAUGE, so the numbers are used as they come. */
#include "collectd_values.h"

#include <math.h>
#include <string.h>

const char *const qfx_agent_keys[QFX_AG_N] = {
    "active", "idle", "blocked", "failed", "dead", "stale", "total", "invalid"};

static const char *const va_load_names[3] = {"shortterm", "midterm",
                                             "longterm"};

void qfx_raw_init(qfx_raw_t *r) {
  qf_res_input_init(&r->host);
  r->uptime = NAN;
  for (size_t i = 0; i < 3; i++)
    r->load[i] = NAN;
  for (size_t i = 0; i < QFX_AG_N; i++)
    r->agents[i] = NAN;
}

void qfx_resources_init(qfx_resources_t *r) {
  memset(r->host, 0, sizeof(r->host));
  qf_res_t *u = &r->usage;
  u->cpu_percent = u->memory_percent = NAN;
  u->memory_used_bytes = u->memory_total_bytes = NAN;
  u->disk_percent = u->disk_used_bytes = u->disk_total_bytes = NAN;
  r->uptime_seconds = NAN;
  for (size_t i = 0; i < 3; i++)
    r->load[i] = NAN;
  for (size_t i = 0; i < QFX_AG_N; i++)
    r->agents[i] = NAN;
}

/* va_is tells whether id is plugin[-pinst]/type, any type instance. */
static bool va_is(const lcc_identifier_t *id, const char *plugin,
                  const char *pinst, const char *type) {
  return strcmp(id->plugin, plugin) == 0 &&
         strcmp(id->plugin_instance, pinst) == 0 && strcmp(id->type, type) == 0;
}

/* va_agent_index maps a count-<status> type instance to its slot, or -1. */
static int va_agent_index(const char *ti) {
  for (int i = 0; i < QFX_AG_N; i++)
    if (strcmp(ti, qfx_agent_keys[i]) == 0)
      return i;
  return -1;
}

bool qfx_values_wanted(const lcc_identifier_t *id) {
  const char *ti = id->type_instance;
  return va_is(id, "cpu", "", "percent") ||
         (va_is(id, "memory", "", "percent") && strcmp(ti, "used") == 0) ||
         va_is(id, "memory", "", "memory") ||
         (va_is(id, "df", "root", "percent_bytes") &&
          strcmp(ti, "used") == 0) ||
         va_is(id, "df", "root", "df_complex") ||
         va_is(id, "load", "", "load") || va_is(id, "uptime", "", "uptime") ||
         (va_is(id, "qiflow_agents", "", "count") && va_agent_index(ti) >= 0);
}

const char *qfx_values_pick_host(const lcc_identifier_t *ids, size_t n,
                                 const char *preferred) {
  const char *agents = NULL, *cpu = NULL;
  for (size_t i = 0; i < n; i++) {
    const char *h = ids[i].host;
    if (preferred != NULL && preferred[0] != '\0') {
      if (strcmp(h, preferred) == 0)
        return h;
      continue; /* an explicit choice never falls back to another host */
    }
    if (strcmp(ids[i].plugin, "qiflow_agents") == 0 &&
        (agents == NULL || strcmp(h, agents) < 0))
      agents = h;
    if (strcmp(ids[i].plugin, "cpu") == 0 &&
        (cpu == NULL || strcmp(h, cpu) < 0))
      cpu = h;
  }
  return agents != NULL ? agents : cpu;
}

/* va_apply_memory files one memory-<state> gauge. */
static void va_apply_memory(qf_res_input_t *h, const char *ti, double v) {
  if (!qf_res_memory_state_counts(ti))
    return;
  qf_res_add(&h->mem_total, v);
  if (strcmp(ti, "used") == 0)
    h->mem_used = v;
}

/* va_apply_df files one df_complex-<state> gauge of the root file system. */
static void va_apply_df(qf_res_input_t *h, const char *ti, double v) {
  if (strcmp(ti, "used") == 0)
    h->df_used = v;
  else if (strcmp(ti, "free") == 0)
    h->df_free = v;
  else if (strcmp(ti, "reserved") == 0)
    h->df_reserved = v;
}

/* va_apply_load files load's three values by name, else by position. */
static void va_apply_load(qfx_raw_t *r, size_t n, const double *values,
                          char *const *names) {
  for (size_t i = 0; i < n && i < 3; i++) {
    size_t slot = i;
    for (size_t k = 0; names != NULL && names[i] != NULL && k < 3; k++)
      if (strcmp(names[i], va_load_names[k]) == 0)
        slot = k;
    if (isfinite(values[i]))
      r->load[slot] = values[i];
  }
}

void qfx_values_apply(qfx_raw_t *r, const lcc_identifier_t *id, size_t n,
                      const double *values, char *const *names) {
  if (n == 0 || !qfx_values_wanted(id))
    return;
  if (va_is(id, "load", "", "load")) {
    va_apply_load(r, n, values, names);
    return;
  }
  double v = values[0];
  const char *ti = id->type_instance;
  if (!isfinite(v))
    return;
  qf_res_input_t *h = &r->host;
  if (va_is(id, "cpu", "", "percent")) {
    if (strcmp(ti, "idle") == 0)
      h->cpu_idle = v;
    else
      qf_res_add(&h->cpu_busy, v);
  } else if (va_is(id, "memory", "", "percent")) {
    h->mem_percent_used = v;
  } else if (va_is(id, "memory", "", "memory")) {
    va_apply_memory(h, ti, v);
  } else if (va_is(id, "df", "root", "percent_bytes")) {
    h->df_percent_used = v;
  } else if (va_is(id, "df", "root", "df_complex")) {
    va_apply_df(h, ti, v);
  } else if (va_is(id, "uptime", "", "uptime")) {
    r->uptime = v;
  } else {
    r->agents[va_agent_index(ti)] = v;
  }
}

void qfx_values_derive(const qfx_raw_t *r, qfx_resources_t *out) {
  qf_res_derive(&r->host, &out->usage);
  memcpy(out->load, r->load, sizeof(out->load));
  out->uptime_seconds = r->uptime;
  memcpy(out->agents, r->agents, sizeof(out->agents));
}

bool qfx_stale(double now, double last_ok, long refresh_ms, bool connected) {
  if (!connected || last_ok <= 0.0)
    return true;
  return now - last_ok > 3.0 * (double)refresh_ms / 1000.0;
}
