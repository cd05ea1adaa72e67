/* scratch_dir.h: a scratch directory per cmocka test, removed afterwards
 * (setup and teardown for cmocka_unit_test_setup_teardown). */
#ifndef HB_SCRATCH_DIR_H
#define HB_SCRATCH_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup_dir(void **state) {
  char *dir = strdup("/tmp/hb-unit-XXXXXX");
  assert_non_null(dir);
  assert_non_null(mkdtemp(dir));
  *state = dir;
  return 0;
}

static int teardown_dir(void **state) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
  int rc = system(cmd);
  free(*state);
  return rc == 0 ? 0 : -1;
}

#endif
