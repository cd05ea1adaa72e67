/* Unit tests for agents_scan.c: AgentDir read relative to one descriptor,
 * and the cache of parses (reused only for a settled, unchanged file; a
 * file changed in place with the same size and mtime, replaced by rename,
 * or deleted is read again or dropped; liveness and time on task are still
 * derived on every read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents.h"
#include "agents_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MTIME ((time_t)1700000000) /* every file's mtime, set by the test */
/* A read long after every change (ctimes are the real clock's): files
 * are settled then. */
static time_t later_base;
#define LATER later_base

typedef struct fixture_s {
  char dir[64];
  agents_scan_t scan;
  agents_result_t r;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  snprintf(f->dir, sizeof(f->dir), "/tmp/qf-agents-scan-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  later_base = time(NULL) + 3600;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  agents_result_free(&f->r);
  agents_scan_free(&f->scan);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* put_bytes writes len bytes as name in the fixture's directory (through
 * a temporary and a rename when replace is set) and sets its mtime to
 * MTIME. */
static void put_bytes(fixture_t *f, const char *name, const char *text,
                      size_t len, bool replace) {
  char path[256], tmp[256];
  snprintf(path, sizeof(path), "%s/%s", f->dir, name);
  snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", f->dir, name);
  const char *target = replace ? tmp : path;
  /* In place: O_TRUNC keeps the inode, as an agent rewriting its file. */
  int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  struct timespec times[2] = {{MTIME, 0}, {MTIME, 0}};
  assert_int_equal(futimens(fd, times), 0);
  assert_int_equal(close(fd), 0);
  if (replace)
    assert_int_equal(rename(tmp, path), 0);
}

static void put(fixture_t *f, const char *name, const char *text,
                bool replace) {
  put_bytes(f, name, text, strlen(text), replace);
}

/* agent_text: a valid agent file of a fixed size for a given status of
 * six letters ("active" or "failed"). */
static void agent_text(char *out, size_t outlen, const char *name,
                       const char *status) {
  snprintf(out, outlen,
           "{\"name\": \"%s\", \"status\": \"%s\", \"pid\": 4242, "
           "\"task_started_at\": \"2023-11-14T22:00:00Z\"}",
           name, status);
}

static void put_agent(fixture_t *f, const char *file, const char *name,
                      const char *status, bool replace) {
  char text[256];
  agent_text(text, sizeof(text), name, status);
  put(f, file, text, replace);
}

/* scan frees the last result and reads the directory again at now. */
static void scan(fixture_t *f, time_t now) {
  agents_result_free(&f->r);
  assert_int_equal(agents_scan(&f->scan, f->dir, 100, now, &f->r), 0);
  assert_int_equal(f->scan.load_error, 0);
}

/* The liveness seam: pid 4242 is alive until dead is set. */
static bool pid_dead;
static int seam_alive(long long pid) {
  return pid == 4242 && !pid_dead ? 1 : 0;
}

static const agents_agent_t *find(const agents_result_t *r, const char *name) {
  for (size_t i = 0; i < r->n_agents; i++)
    if (strcmp(r->agents[i].name, name) == 0)
      return &r->agents[i];
  return NULL;
}

/* An unchanged, settled file is parsed once, then reused. */
static void test_reuse_unchanged(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  put_agent(f, "b.json", "beta", "failed", false);
  scan(f, LATER);
  assert_int_equal(f->scan.files, 2);
  assert_int_equal(f->scan.parsed, 2);
  assert_int_equal(f->scan.reused, 0);
  scan(f, LATER + 1);
  assert_int_equal(f->scan.parsed, 0);
  assert_int_equal(f->scan.reused, 2);
  assert_int_equal(f->r.n_agents, 2);
  assert_int_equal(f->r.n_invalid, 0);
  const agents_agent_t *a = find(&f->r, "alpha");
  assert_non_null(a);
  assert_string_equal(a->file, "a.json");
  assert_string_equal(a->reported_status, "active");
  assert_true(a->borrowed);
  assert_int_equal(a->key.mtime.tv_sec, MTIME);
  assert_string_equal(find(&f->r, "beta")->reported_status, "failed");
}

/* A file changed less than AGENTS_SETTLE_SECONDS before a read may change
 * again within its timestamp's granularity: it is read every time. */
static void test_unsettled_read_again(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  scan(f, MTIME + 1);
  scan(f, MTIME + 1);
  assert_int_equal(f->scan.parsed, 1);
  assert_int_equal(f->scan.reused, 0);
  /* The file's ctime is the real clock's: settled only when now is past
   * both times. */
  scan(f, time(NULL) + AGENTS_SETTLE_SECONDS);
  assert_int_equal(f->scan.parsed, 1);
  scan(f, time(NULL) + AGENTS_SETTLE_SECONDS);
  assert_int_equal(f->scan.reused, 1);
}

/* Changed in place with the same size and the same mtime (set back):
 * the ctime gives it away. */
static void test_changed_in_place_same_size(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  scan(f, LATER);
  struct stat before, after;
  char path[256];
  snprintf(path, sizeof(path), "%s/a.json", f->dir);
  assert_int_equal(stat(path, &before), 0);
  usleep(20000); /* past the clock tick behind ctime */
  put_agent(f, "a.json", "alpha", "failed", false);
  assert_int_equal(stat(path, &after), 0);
  assert_int_equal(before.st_ino, after.st_ino);
  assert_int_equal(before.st_size, after.st_size);
  assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  scan(f, LATER + 1);
  assert_int_equal(f->scan.parsed, 1);
  assert_int_equal(f->scan.reused, 0);
  assert_string_equal(find(&f->r, "alpha")->reported_status, "failed");
}

/* Replaced by a rename (same size, same mtime): a new inode. */
static void test_replaced_by_rename(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  scan(f, LATER);
  put_agent(f, "a.json", "alpha", "failed", true);
  scan(f, LATER + 1);
  assert_int_equal(f->scan.files, 1); /* the hidden temporary is gone */
  assert_int_equal(f->scan.parsed, 1);
  assert_string_equal(find(&f->r, "alpha")->reported_status, "failed");
  scan(f, LATER + 2);
  assert_int_equal(f->scan.reused, 1);
  assert_string_equal(find(&f->r, "alpha")->reported_status, "failed");
}

/* A deleted file leaves the result and the cache. */
static void test_deleted(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  put_agent(f, "b.json", "beta", "active", false);
  scan(f, LATER);
  char path[256];
  snprintf(path, sizeof(path), "%s/a.json", f->dir);
  assert_int_equal(unlink(path), 0);
  scan(f, LATER + 1);
  assert_int_equal(f->r.n_agents, 1);
  assert_string_equal(f->r.agents[0].name, "beta");
  assert_int_equal(f->scan.n, 1);
  assert_int_equal(f->scan.reused, 1);
  /* Back under the same name: read, not taken from a stale entry. */
  put_agent(f, "a.json", "alpha", "failed", false);
  scan(f, LATER + 2);
  assert_int_equal(f->scan.parsed, 1);
  assert_string_equal(find(&f->r, "alpha")->reported_status, "failed");
}

/* A reused parse is derived again: a pid that died between reads makes
 * the agent dead, and time on task follows now. */
static void test_pid_died_between_reads(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  pid_dead = false;
  scan(f, LATER);
  assert_int_equal(agents_result_finish(&f->r, LATER, 300, seam_alive), 0);
  const agents_agent_t *a = find(&f->r, "alpha");
  assert_int_equal(a->status, AGENTS_ACTIVE);
  assert_int_equal(a->liveness, AGENTS_LIVENESS_ALIVE);
  long long first = a->time_on_task_seconds;
  pid_dead = true;
  scan(f, LATER + 60);
  assert_int_equal(f->scan.reused, 1);
  assert_int_equal(agents_result_finish(&f->r, LATER + 60, 300, seam_alive), 0);
  a = find(&f->r, "alpha");
  assert_int_equal(a->status, AGENTS_DEAD);
  assert_int_equal(a->liveness, AGENTS_LIVENESS_DEAD);
  assert_int_equal(a->time_on_task_seconds, first + 60);
  assert_int_equal(f->r.counts[AGENTS_DEAD], 1);
}

/* An invalid file keeps its message while unchanged, and turns valid
 * when fixed; symlinks and directories are never opened. */
static void test_invalid_files(void **state) {
  fixture_t *f = *state;
  put(f, "bad.json", "{\"name\": \"x\"}", false);
  put_bytes(f, "nul.json", "{\"name\"\0}", 9, false);
  char path[256], target[256];
  snprintf(path, sizeof(path), "%s/link.json", f->dir);
  snprintf(target, sizeof(target), "%s/bad.json", f->dir);
  assert_int_equal(symlink(target, path), 0);
  snprintf(path, sizeof(path), "%s/sub.json", f->dir);
  assert_int_equal(mkdir(path, 0755), 0);
  for (int i = 0; i < 2; i++) {
    scan(f, LATER + i);
    assert_int_equal(f->scan.parsed, i == 0 ? 2 : 0);
    assert_int_equal(f->scan.reused, i == 0 ? 0 : 2);
    assert_int_equal(agents_result_finish(&f->r, LATER, 300, NULL), 0);
    assert_int_equal(f->r.n_agents, 0);
    assert_int_equal(f->r.n_invalid, 4);
    assert_string_equal(agents_find_invalid(&f->r, "nul.json")->error,
                        "contains a NUL byte");
    assert_string_equal(agents_find_invalid(&f->r, "bad.json")->error,
                        "missing status");
    assert_string_equal(agents_find_invalid(&f->r, "link.json")->error,
                        "is a symbolic link");
    assert_string_equal(agents_find_invalid(&f->r, "sub.json")->error,
                        "not a regular file");
  }
  put(f, "bad.json", "{\"name\": \"x\", \"status\": \"idle\"}", false);
  scan(f, LATER + 3);
  assert_int_equal(f->scan.parsed, 1);
  assert_non_null(find(&f->r, "x"));
}

/* Over max_files: the rest are quiet invalid entries, never read. */
static void test_over_max_files(void **state) {
  fixture_t *f = *state;
  put_agent(f, "a.json", "alpha", "active", false);
  put_agent(f, "b.json", "beta", "active", false);
  put_agent(f, "c.json", "gamma", "active", false);
  agents_result_free(&f->r);
  assert_int_equal(agents_scan(&f->scan, f->dir, 2, LATER, &f->r), 0);
  assert_int_equal(f->scan.files, 3);
  assert_int_equal(f->scan.unread, 1);
  assert_int_equal(f->scan.parsed, 2);
  assert_int_equal(f->r.n_agents, 2);
  assert_int_equal(f->r.n_invalid, 1);
  assert_string_equal(f->r.invalid[0].file, "c.json");
  assert_true(f->r.invalid[0].quiet);
  assert_int_equal(f->scan.n, 2);
}

/* A directory that cannot be listed: its errno, the result untouched. */
static void test_missing_dir(void **state) {
  fixture_t *f = *state;
  char path[128];
  snprintf(path, sizeof(path), "%s/absent", f->dir);
  assert_int_equal(agents_scan(&f->scan, path, 100, LATER, &f->r), -ENOENT);
  assert_int_equal(f->r.n_agents + f->r.n_invalid, 0);
}

/* A file over AGENTS_FILE_MAX is invalid with the size in the message. */
static void test_too_big(void **state) {
  fixture_t *f = *state;
  size_t n = AGENTS_FILE_MAX + 1;
  char *text = malloc(n + 1);
  assert_non_null(text);
  memset(text, ' ', n);
  text[n] = '\0';
  put(f, "big.json", text, false);
  free(text);
  scan(f, LATER);
  assert_int_equal(f->r.n_invalid, 1);
  assert_non_null(strstr(f->r.invalid[0].error, "bytes, over the 65536 byte "
                                                "limit"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reuse_unchanged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsettled_read_again, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_changed_in_place_same_size, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_replaced_by_rename, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pid_died_between_reads, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_invalid_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_over_max_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
