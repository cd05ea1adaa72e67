/* Unit tests for swarm.c: which swarm id the exporter serves, and the
 * message when --swarm-id disagrees with qiflow_heartbeat's id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "swarm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* parse turns JSON text into a tree the test frees. */
static yajl_val parse(const char *text) {
  char why[128];
  yajl_val v = yajl_tree_parse(text, why, sizeof(why));
  assert_non_null(v);
  return v;
}

static void test_of_heartbeat(void **state) {
  (void)state; /* unused */
  qfx_hb_swarm_t none = qfx_swarm_of_heartbeat(NULL);
  assert_null(none.id);
  yajl_val v = parse("{\"swarm_id\":\"x\",\"swarm_id_source\":"
                     "\"configured\"}");
  qfx_hb_swarm_t hb = qfx_swarm_of_heartbeat(v);
  assert_string_equal(hb.id, "x");
  assert_true(hb.configured);
  yajl_tree_free(v);
  v = parse("{\"swarm_id\":\"u-1\",\"swarm_id_source\":\"generated\"}");
  hb = qfx_swarm_of_heartbeat(v);
  assert_string_equal(hb.id, "u-1");
  assert_false(hb.configured);
  yajl_tree_free(v);
  v = parse("{\"swarm_id\":\"old\"}"); /* a plugin before the source */
  hb = qfx_swarm_of_heartbeat(v);
  assert_string_equal(hb.id, "old");
  assert_true(hb.configured);
  yajl_tree_free(v);
  static const char *const unusable[] = {
      "{\"swarm_id\":\"has space\"}", "{\"swarm_id\":\"\"}", "{\"swarm_id\":7}",
      "{\"running\":true}", "[\"x\"]"};
  for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
    v = parse(unusable[i]);
    if (qfx_swarm_of_heartbeat(v).id != NULL)
      fail_msg("%s gave an id", unusable[i]);
    yajl_tree_free(v);
  }
}

static void test_pick(void **state) {
  (void)state; /* unused */
  qfx_hb_swarm_t none = {NULL, true}, hb = {"x", true};
  assert_string_equal(qfx_swarm_pick("flag", &hb, "file"), "flag");
  assert_string_equal(qfx_swarm_pick("", &hb, "file"), "x");
  assert_string_equal(qfx_swarm_pick(NULL, &hb, NULL), "x");
  assert_string_equal(qfx_swarm_pick("", &none, "file"), "file");
  assert_null(qfx_swarm_pick("", &none, ""));
  assert_null(qfx_swarm_pick("", &none, NULL));
}

static void test_conflict(void **state) {
  (void)state; /* unused */
  char err[1024] = "";
  qfx_hb_swarm_t none = {NULL, true}, same = {"x", true};
  assert_false(qfx_swarm_conflict("x", &same, "/s", err, sizeof(err)));
  assert_false(qfx_swarm_conflict("", &same, "/s", err, sizeof(err)));
  assert_false(qfx_swarm_conflict("x", &none, "/s", err, sizeof(err)));
  assert_string_equal(err, "");
  qfx_hb_swarm_t configured = {"y", true};
  assert_true(qfx_swarm_conflict("x", &configured, "/s", err, sizeof(err)));
  assert_non_null(strstr(err, "--swarm-id \"x\""));
  assert_non_null(strstr(err, "SwarmID \"y\""));
  assert_non_null(strstr(err, "/s/heartbeat.json"));
  assert_non_null(strstr(err, "<Plugin qiflow_heartbeat>"));
  qfx_hb_swarm_t generated = {"u-1", false};
  err[0] = '\0';
  assert_true(qfx_swarm_conflict("x", &generated, "/s", err, sizeof(err)));
  assert_non_null(strstr(err, "\"x\""));
  assert_non_null(strstr(err, "\"u-1\""));
  assert_non_null(strstr(err, "/s/swarm_id"));
  assert_non_null(strstr(err, "no SwarmID"));
}

static void test_check_start(void **state) {
  (void)state; /* unused */
  char dir[] = "/tmp/qfx-swarm-XXXXXX", path[64], err[1024] = "";
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/heartbeat.json", dir);
  assert_int_equal(qfx_swarm_check_start("x", dir, err, sizeof(err)), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"swarm_id\":\"y\",\"swarm_id_source\":\"configured\"}", f);
  fclose(f);
  assert_int_equal(qfx_swarm_check_start("", dir, err, sizeof(err)), 0);
  assert_int_equal(qfx_swarm_check_start("y", dir, err, sizeof(err)), 0);
  assert_int_equal(qfx_swarm_check_start("x", dir, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "\"x\""));
  assert_non_null(strstr(err, "\"y\""));
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_of_heartbeat),
      cmocka_unit_test(test_pick),
      cmocka_unit_test(test_conflict),
      cmocka_unit_test(test_check_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
