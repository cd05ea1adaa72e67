/* Unit tests for heartbeat_spool.c: a durable FIFO that survives restarts,
 * stays under its bound by dropping the oldest (counted), and shrugs off a
 * torn tail record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch_dir.h"

#include "heartbeat_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void open_spool(hb_spool_t *s, const char *dir, size_t max,
                       size_t *discarded) {
  char err[256] = "";
  size_t d = 0;
  int rc = hb_spool_open(s, dir, "central", max, &d, err, sizeof(err));
  if (rc != 0)
    fail_msg("open: %s", err);
  if (discarded != NULL)
    *discarded = d;
}

/* append adds {"id":N} as record N; returns how many were dropped. */
static size_t append(hb_spool_t *s, long long id, size_t pad) {
  char body[4096];
  int n = snprintf(body, sizeof(body), "{\"id\":%lld,\"pad\":\"%*s\"}", id,
                   (int)pad, "");
  long long dropped[8];
  size_t nd = 0;
  char err[256];
  assert_int_equal(hb_spool_append(s, id, body, (size_t)n, dropped, 8, &nd, err,
                                   sizeof(err)),
                   0);
  return nd;
}

/* head_id peeks the oldest record's id and checks its body. */
static long long head_id(hb_spool_t *s) {
  long long id;
  char *body;
  size_t len;
  char err[256];
  if (hb_spool_peek(s, &id, &body, &len, err, sizeof(err)) != 0)
    return -1;
  char want[32];
  snprintf(want, sizeof(want), "{\"id\":%lld,", id);
  assert_memory_equal(body, want, strlen(want));
  assert_int_equal(strlen(body), len);
  free(body);
  return id;
}

static void pop(hb_spool_t *s) {
  char err[256];
  assert_int_equal(hb_spool_pop(s, err, sizeof(err)), 0);
}

static off_t file_size(const char *dir) {
  char p[512];
  snprintf(p, sizeof(p), "%s/central.spool", dir);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  return st.st_size;
}

static void test_fifo_and_restart(void **state) {
  const char *dir = *state;
  hb_spool_t s;
  open_spool(&s, dir, 0, NULL);
  assert_int_equal(hb_spool_depth(&s), 0);
  assert_int_equal(head_id(&s), -1);
  for (long long id = 1; id <= 5; id++)
    assert_int_equal(append(&s, id, 10), 0);
  assert_int_equal(head_id(&s), 1);
  pop(&s);
  pop(&s);
  assert_int_equal(head_id(&s), 3);
  hb_spool_close(&s);
  /* A restart: delivered ones stay finished, the rest in order. */
  open_spool(&s, dir, 0, NULL);
  assert_int_equal(hb_spool_depth(&s), 3);
  assert_int_equal(s.max_id, 5);
  for (long long id = 3; id <= 5; id++) {
    assert_int_equal(head_id(&s), id);
    pop(&s);
  }
  assert_int_equal(file_size(dir), 0); /* empty: truncated */
  /* Ids only grow: an old id is refused. */
  long long d[1];
  size_t nd;
  char err[128];
  assert_int_equal(hb_spool_append(&s, 5, "{}", 2, d, 1, &nd, err, sizeof(err)),
                   -EINVAL);
  hb_spool_close(&s);
}

static void test_bound_drops_oldest_counted(void **state) {
  const char *dir = *state;
  size_t rec = hb_spool_record_size(1, strlen("{\"id\":1,\"pad\":\"\"}") + 100);
  hb_spool_t s;
  open_spool(&s, dir, rec * 3 + 10, NULL);
  for (long long id = 1; id <= 3; id++)
    assert_int_equal(append(&s, id, 100), 0);
  assert_int_equal(append(&s, 4, 100), 1); /* 1 goes */
  assert_int_equal(append(&s, 5, 100), 1); /* 2 goes */
  assert_int_equal(s.dropped, 2);
  assert_true(s.bytes <= s.max_bytes);
  assert_int_equal(head_id(&s), 3);
  /* Dropping two for one bigger record. */
  char big[400];
  memset(big, 'x', sizeof(big));
  long long dropped[4];
  size_t nd;
  char err[256];
  assert_int_equal(
      hb_spool_append(&s, 6, big, 200, dropped, 4, &nd, err, sizeof(err)), 0);
  assert_int_equal(nd, 2);
  assert_int_equal(dropped[0], 3);
  assert_int_equal(dropped[1], 4);
  /* One record larger than the whole bound is refused. */
  char huge[2000];
  memset(huge, 'y', sizeof(huge));
  assert_int_equal(hb_spool_append(&s, 7, huge, sizeof(huge), dropped, 4, &nd,
                                   err, sizeof(err)),
                   -EFBIG);
  assert_non_null(strstr(err, "SpoolMaxBytes"));
  hb_spool_close(&s);
  /* What was dropped stays dropped after a restart. */
  open_spool(&s, dir, rec * 3 + 10, NULL);
  assert_int_equal(hb_spool_depth(&s), 2);
  assert_int_equal(head_id(&s), 5);
  hb_spool_close(&s);
}

/* cut_file shortens the spool file by n bytes (a crash mid-append). */
static void cut_file(const char *dir, off_t n) {
  char p[512];
  snprintf(p, sizeof(p), "%s/central.spool", dir);
  assert_int_equal(truncate(p, file_size(dir) - n), 0);
}

static void test_torn_tail(void **state) {
  const char *dir = *state;
  hb_spool_t s;
  open_spool(&s, dir, 0, NULL);
  for (long long id = 1; id <= 3; id++)
    append(&s, id, 20);
  hb_spool_close(&s);
  off_t whole = file_size(dir);
  cut_file(dir, 7); /* into record 3's body */
  size_t discarded = 0;
  open_spool(&s, dir, 0, &discarded);
  assert_int_equal(hb_spool_depth(&s), 2);
  assert_true(discarded > 0);
  assert_true(file_size(dir) < whole - 7); /* the torn record is gone */
  append(&s, 4, 20); /* appends after the last good record */
  hb_spool_close(&s);
  open_spool(&s, dir, 0, &discarded);
  assert_int_equal(discarded, 0);
  long long want[] = {1, 2, 4};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(head_id(&s), want[i]);
    pop(&s);
  }
  hb_spool_close(&s);
}

static void test_corrupt_and_garbage_tail(void **state) {
  const char *dir = *state;
  hb_spool_t s;
  open_spool(&s, dir, 0, NULL);
  append(&s, 1, 5);
  append(&s, 2, 5);
  hb_spool_close(&s);
  /* Flip a byte inside record 2's body: its CRC no longer matches. */
  char p[512];
  snprintf(p, sizeof(p), "%s/central.spool", dir);
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "Z", 1, file_size(dir) - 4), 1);
  /* And some garbage after it, like a half-written header. */
  assert_int_equal(pwrite(fd, "QFHB1 9", 7, file_size(dir)), 7);
  close(fd);
  size_t discarded = 0;
  open_spool(&s, dir, 0, &discarded);
  assert_int_equal(hb_spool_depth(&s), 1);
  assert_int_equal(head_id(&s), 1);
  assert_true(discarded > 7);
  hb_spool_close(&s);
}

static void test_compaction_keeps_order(void **state) {
  const char *dir = *state;
  hb_spool_t s;
  open_spool(&s, dir, 0, NULL);
  for (long long id = 1; id <= 200; id++)
    append(&s, id, 1000);
  off_t before = file_size(dir);
  for (long long id = 1; id <= 150; id++) {
    assert_int_equal(head_id(&s), id);
    pop(&s);
  }
  assert_true(file_size(dir) < before / 2); /* compacted */
  hb_spool_close(&s);
  open_spool(&s, dir, 0, NULL);
  assert_int_equal(hb_spool_depth(&s), 50);
  for (long long id = 151; id <= 200; id++) {
    assert_int_equal(head_id(&s), id);
    pop(&s);
  }
  hb_spool_close(&s);
}

/* read_lines loads a text file's lines (at most max) into a new buffer
 * split in place; returns the count, 0 when the file is missing. */
static size_t read_lines(const char *path, char **buf, char **lines,
                         size_t max) {
  FILE *f = fopen(path, "r");
  *buf = NULL;
  if (f == NULL)
    return 0;
  size_t cap = 0;
  ssize_t n = getdelim(buf, &cap, '\0', f);
  fclose(f);
  size_t count = 0;
  for (char *p = *buf, *nl; n > 0 && count < max && *p != '\0'; p = nl + 1) {
    nl = strchr(p, '\n');
    assert_non_null(nl); /* every line is whole */
    *nl = '\0';
    lines[count++] = p;
  }
  return count;
}

/* A record set aside leaves the queue (the next one is first, also after a
 * restart) and lands whole in rejected/central.jsonl with the answer. */
static void test_set_aside(void **state) {
  const char *dir = *state;
  hb_spool_t s;
  char err[256];
  open_spool(&s, dir, 0, NULL);
  for (long long id = 1; id <= 3; id++)
    append(&s, id, 4);
  assert_int_equal(hb_spool_set_aside(&s, 1700000000, 404,
                                      "Swarm not found. \"x\"\xff", err,
                                      sizeof(err)),
                   0);
  assert_int_equal(hb_spool_depth(&s), 2);
  assert_int_equal(head_id(&s), 2);
  hb_spool_close(&s);
  open_spool(&s, dir, 0, NULL);
  assert_int_equal(hb_spool_depth(&s), 2);
  assert_int_equal(head_id(&s), 2);
  pop(&s);
  assert_int_equal(
      hb_spool_set_aside(&s, 1700000060, 400, "bad", err, sizeof(err)), 0);
  assert_int_equal(hb_spool_depth(&s), 0);
  assert_int_equal(hb_spool_set_aside(&s, 0, 400, "x", err, sizeof(err)),
                   -ENOENT);

  char path[600], *buf, *lines[4];
  snprintf(path, sizeof(path), "%s/rejected/central.jsonl", dir);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(read_lines(path, &buf, lines, 4), 2);
  assert_string_equal(lines[0], "{\"heartbeat_id\":1,\"set_aside_at\":"
                                "\"2023-11-14T22:13:20Z\",\"http_status\":404,"
                                "\"answer\":\"Swarm not found. \\\"x\\\"?\","
                                "\"body\":{\"id\":1,\"pad\":\"    \"}}");
  assert_non_null(strstr(lines[1], "\"heartbeat_id\":3,"));
  assert_non_null(strstr(lines[1], "\"http_status\":400,\"answer\":\"bad\""));
  free(buf);
  hb_spool_close(&s);
}

/* The rejected file stays under its bound: a line that would pass it
 * moves the file to .1 first; nothing is torn. */
static void test_set_aside_bounded(void **state) {
  const char *dir = *state;
  hb_spool_t s;
  char err[256];
  open_spool(&s, dir, 0, NULL);
  size_t pad = 3000, n = HB_REJECTED_MAX / pad + 10;
  for (size_t i = 1; i <= n; i++) {
    append(&s, (long long)i, pad);
    assert_int_equal(
        hb_spool_set_aside(&s, 1700000000, 400, "bad", err, sizeof(err)), 0);
  }
  char path[600], older[700];
  snprintf(path, sizeof(path), "%s/rejected/central.jsonl", dir);
  snprintf(older, sizeof(older), "%s.1", path);
  struct stat a, b;
  assert_int_equal(stat(path, &a), 0);
  assert_int_equal(stat(older, &b), 0);
  assert_true((size_t)a.st_size <= HB_REJECTED_MAX);
  assert_true((size_t)b.st_size <= HB_REJECTED_MAX);
  assert_true((size_t)(a.st_size + b.st_size) > HB_REJECTED_MAX);
  char *buf, *lines[1];
  assert_int_equal(read_lines(older, &buf, lines, 1), 1);
  assert_non_null(strstr(lines[0], "{\"heartbeat_id\":1,"));
  free(buf);
  hb_spool_close(&s);
}

static void test_crc(void **state) {
  (void)state;
  assert_int_equal(hb_crc32("123456789", 9), 0xCBF43926ul); /* check value */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fifo_and_restart, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_bound_drops_oldest_counted,
                                      setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_torn_tail, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_corrupt_and_garbage_tail, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_compaction_keeps_order, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_set_aside, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_set_aside_bounded, setup_dir,
                                      teardown_dir),
      cmocka_unit_test(test_crc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
