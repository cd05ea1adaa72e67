/* Unit tests for collectd_values.c: which identifiers are read, whose host is
 * served, and the resource arithmetic (CPU from idle, GiB, disk total). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_buf.h"
#include "collectd_values.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ident parses "host/plugin[-pi]/type[-ti]" the way libcollectdclient
 * does: the instances start at the first '-'. */
static lcc_identifier_t ident(const char *s) {
  lcc_identifier_t id;
  char buf[6 * LCC_NAME_LEN];
  memset(&id, 0, sizeof(id));
  snprintf(buf, sizeof(buf), "%s", s);
  char *plugin = strchr(buf, '/');
  *plugin++ = '\0';
  char *type = strchr(plugin, '/');
  *type++ = '\0';
  char *pi = strchr(plugin, '-'), *ti = strchr(type, '-');
  if (pi != NULL)
    *pi++ = '\0';
  if (ti != NULL)
    *ti++ = '\0';
  qf_strcpy(id.host, sizeof(id.host), buf);
  qf_strcpy(id.plugin, sizeof(id.plugin), plugin);
  qf_strcpy(id.plugin_instance, sizeof(id.plugin_instance), pi ? pi : "");
  qf_strcpy(id.type, sizeof(id.type), type);
  qf_strcpy(id.type_instance, sizeof(id.type_instance), ti ? ti : "");
  return id;
}

/* put applies one single-valued gauge. */
static void put(qfx_raw_t *r, const char *s, double v) {
  lcc_identifier_t id = ident(s);
  char name[] = "value";
  char *names[] = {name};
  qfx_values_apply(r, &id, 1, &v, names);
}

static void test_wanted(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *id;
    bool wanted;
  } cases[] = {
      {"h/cpu/percent-idle", true},
      {"h/cpu/percent-user", true},
      {"h/cpu-0/percent-idle", false}, /* ReportByCpu true: not ours */
      {"h/cpu/cpu-idle", false},       /* jiffies (DERIVE): rates */
      {"h/memory/percent-used", true},
      {"h/memory/percent-free", false},
      {"h/memory/memory-cached", true},
      {"h/df-root/percent_bytes-used", true},
      {"h/df-root/percent_bytes-free", false},
      {"h/df-root/df_complex-reserved", true},
      {"h/df-boot/df_complex-used", false},
      {"h/load/load", true},
      {"h/uptime/uptime", true},
      {"h/qiflow_agents/count-active", true},
      {"h/qiflow_agents/count-invalid", true},
      {"h/qiflow_agents/count-bogus", false},
      {"h/qiflow_agents-A/duration-time_on_task", false},
      {"h/interface-eth0/if_octets", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    lcc_identifier_t id = ident(cases[i].id);
    if (qfx_values_wanted(&id) != cases[i].wanted)
      fail_msg("%s: wanted should be %d", cases[i].id, cases[i].wanted);
  }
}

static void test_pick_host(void **state) {
  (void)state; /* unused */
  lcc_identifier_t ids[] = {ident("zeta/cpu/percent-idle"),
                            ident("beta/cpu/percent-idle"),
                            ident("gamma/qiflow_agents/count-total"),
                            ident("alpha/qiflow_agents/count-total"),
                            ident("aaa/memory/percent-used")};
  assert_string_equal(qfx_values_pick_host(ids, 5, ""), "alpha");
  assert_string_equal(qfx_values_pick_host(ids, 5, NULL), "alpha");
  assert_string_equal(qfx_values_pick_host(ids, 2, ""), "beta");
  assert_string_equal(qfx_values_pick_host(ids, 5, "zeta"), "zeta");
  /* An explicit host that collectd lacks is not replaced by another. */
  assert_null(qfx_values_pick_host(ids, 5, "missing"));
  assert_null(qfx_values_pick_host(ids + 4, 1, ""));
  assert_null(qfx_values_pick_host(ids, 0, ""));
}

static void test_cpu_from_idle_or_states(void **state) {
  (void)state; /* unused */
  qfx_raw_t r;
  qfx_resources_t out;
  qfx_raw_init(&r);
  put(&r, "h/cpu/percent-user", 20.0);
  put(&r, "h/cpu/percent-system", 5.5);
  put(&r, "h/cpu/percent-wait", 1.5);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.cpu_percent, 27.0, 1e-9); /* no idle: the sum */
  put(&r, "h/cpu/percent-idle", 71.25);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.cpu_percent, 28.75, 1e-9); /* 100 - idle wins */
  put(&r, "h/cpu/percent-idle", 100.4); /* rounding noise above 100 */
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.cpu_percent, 0.0, 1e-9);
  qfx_raw_init(&r);
  qfx_values_derive(&r, &out);
  assert_true(isnan(out.usage.cpu_percent));
}

static void test_memory_bytes_and_percent(void **state) {
  (void)state; /* unused */
  qfx_raw_t r;
  qfx_resources_t out;
  qfx_raw_init(&r);
  const double gib = 1024.0 * 1024.0 * 1024.0;
  put(&r, "h/memory/memory-used", 3.0 * gib);
  put(&r, "h/memory/memory-free", 4.0 * gib);
  put(&r, "h/memory/memory-cached", 0.5 * gib);
  put(&r, "h/memory/memory-buffered", 0.25 * gib);
  put(&r, "h/memory/memory-slab_recl", 0.125 * gib);
  put(&r, "h/memory/memory-slab_unrecl", 0.125 * gib);
  put(&r, "h/memory/memory-available", 5.0 * gib); /* overlaps: ignored */
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.memory_used_bytes, 3.0 * gib, 1.0);
  assert_float_equal(out.usage.memory_total_bytes, 8.0 * gib, 1.0);
  assert_float_equal(out.usage.memory_percent, 37.5, 1e-9); /* derived */
  put(&r, "h/memory/percent-used", 40.0);
  qfx_values_derive(&r, &out);
  /* collectd's percentage wins over the derived one. */
  assert_float_equal(out.usage.memory_percent, 40.0, 1e-9);
}

static void test_disk(void **state) {
  (void)state; /* unused */
  qfx_raw_t r;
  qfx_resources_t out;
  qfx_raw_init(&r);
  put(&r, "h/df-root/df_complex-used", 60.0);
  qfx_values_derive(&r, &out);
  assert_true(isnan(out.usage.disk_total_bytes)); /* free unknown */
  assert_true(isnan(out.usage.disk_percent));
  put(&r, "h/df-root/df_complex-free", 30.0);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.disk_total_bytes, 90.0, 1e-9);
  put(&r, "h/df-root/df_complex-reserved", 10.0);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.disk_used_bytes, 60.0, 1e-9);
  assert_float_equal(out.usage.disk_total_bytes, 100.0, 1e-9);
  assert_float_equal(out.usage.disk_percent, 60.0, 1e-9);
  put(&r, "h/df-root/percent_bytes-used", 61.5);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.usage.disk_percent, 61.5, 1e-9);
}

static void test_load_uptime_agents(void **state) {
  (void)state; /* unused */
  qfx_raw_t r;
  qfx_resources_t out;
  qfx_raw_init(&r);
  lcc_identifier_t id = ident("h/load/load");
  double v[3] = {0.5, 0.25, 0.125};
  char a[] = "longterm", b[] = "shortterm", c[] = "midterm";
  char *named[] = {a, b, c}; /* out of order: names decide */
  qfx_values_apply(&r, &id, 3, v, named);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.load[0], 0.25, 1e-12);
  assert_float_equal(out.load[1], 0.125, 1e-12);
  assert_float_equal(out.load[2], 0.5, 1e-12);
  qfx_values_apply(&r, &id, 3, v, NULL); /* no names: by position */
  qfx_values_derive(&r, &out);
  assert_float_equal(out.load[0], 0.5, 1e-12);
  put(&r, "h/uptime/uptime", 3600.0);
  put(&r, "h/qiflow_agents/count-active", 2.0);
  put(&r, "h/qiflow_agents/count-total", 3.0);
  put(&r, "h/qiflow_agents/count-invalid", 1.0);
  put(&r, "h/qiflow_agents/count-dead", NAN); /* NaN: stays unknown */
  put(&r, "h/qiflow_agents/count-idle", INFINITY);
  qfx_values_derive(&r, &out);
  assert_float_equal(out.uptime_seconds, 3600.0, 1e-9);
  assert_float_equal(out.agents[QFX_AG_ACTIVE], 2.0, 1e-9);
  assert_float_equal(out.agents[QFX_AG_TOTAL], 3.0, 1e-9);
  assert_float_equal(out.agents[QFX_AG_INVALID], 1.0, 1e-9);
  assert_true(isnan(out.agents[QFX_AG_DEAD]));
  assert_true(isnan(out.agents[QFX_AG_IDLE]));
  assert_true(isnan(out.agents[QFX_AG_STALE]));
  put(&r, "h/interface-eth0/if_octets", 1.0); /* ignored, no crash */
}

static void test_stale(void **state) {
  (void)state;                                      /* unused */
  assert_true(qfx_stale(100.0, 0.0, 1000, true));   /* never read */
  assert_true(qfx_stale(100.0, 99.9, 1000, false)); /* unreachable */
  assert_false(qfx_stale(100.0, 99.0, 1000, true));
  assert_false(qfx_stale(100.0, 97.0, 1000, true)); /* 3 periods: fresh */
  assert_true(qfx_stale(100.0, 96.9, 1000, true));  /* older: stale */
  assert_false(qfx_stale(100.0, 99.5, 200, true));
  assert_true(qfx_stale(100.0, 99.3, 200, true));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wanted),
      cmocka_unit_test(test_pick_host),
      cmocka_unit_test(test_cpu_from_idle_or_states),
      cmocka_unit_test(test_memory_bytes_and_percent),
      cmocka_unit_test(test_disk),
      cmocka_unit_test(test_load_uptime_agents),
      cmocka_unit_test(test_stale),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
