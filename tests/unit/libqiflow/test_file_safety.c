/* Unit tests for qf_file's handling of secrets and of directories it makes,
 * with libc calls wrapped at link time (-Wl,--wrap, CMakeLists.txt): free
 * reports a block that still holds a secret, and mkdir can swap a symbolic
 * link in for the directory it just made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARKER "QF-SECRET-MARKER-7f3a"

static int watch_free;      /* check freed blocks for MARKER */
static int unwiped_frees;   /* blocks freed with MARKER still in them */
static const char *swap_to; /* mkdir replaces what it made by a link here */

void __real_free(void *p);
int __real_mkdir(const char *path, mode_t mode);
void __wrap_free(void *p);
int __wrap_mkdir(const char *path, mode_t mode);

/* __wrap_free counts blocks freed with the secret still in them. */
void __wrap_free(void *p) {
  if (watch_free && p != NULL) {
    size_t n = malloc_usable_size(p);
    if (memmem(p, n, MARKER, sizeof(MARKER) - 1) != NULL)
      unwiped_frees++;
  }
  __real_free(p);
}

/* __wrap_mkdir makes the directory, then (when swap_to is set) replaces it
 * by a symbolic link to swap_to, as another user's process racing us could. */
int __wrap_mkdir(const char *path, mode_t mode) {
  int rc = __real_mkdir(path, mode);
  if (rc == 0 && swap_to != NULL) {
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(symlink(swap_to, path), 0);
  }
  return rc;
}

/* A symbolic link swapped in right after mkdir is refused, and what it
 * points to keeps its mode (chmod by path would have followed it). */
static void test_mkdir_swapped_for_link(void **state) {
  (void)state;
  char dir[] = "/tmp/qf-unit-XXXXXX", victim[64], leaf[64], err[256];
  assert_non_null(mkdtemp(dir));
  snprintf(victim, sizeof(victim), "%s/victim", dir);
  snprintf(leaf, sizeof(leaf), "%s/leaf", dir);
  assert_int_equal(__real_mkdir(victim, 0700), 0);
  assert_int_equal(chmod(victim, 0700), 0);
  swap_to = victim;
  int rc = qf_mkdir_p(leaf, 0755, err, sizeof(err));
  swap_to = NULL;
  assert_true(rc == -ENOTDIR || rc == -ELOOP); /* Linux: ENOTDIR */
  assert_non_null(strstr(err, "replaced by a symbolic link"));
  struct stat st;
  assert_int_equal(stat(victim, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);
  assert_int_equal(unlink(leaf), 0);
  assert_int_equal(rmdir(victim), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* environ_child starts /bin/sleep with an environment of MARKER and size
 * padding bytes, and returns its pid once it has exec'd. */
static pid_t environ_child(size_t size) {
  char *var = malloc(size + 1);
  assert_non_null(var);
  snprintf(var, size + 1, "S=%s", MARKER);
  size_t at = strlen(var);
  memset(var + at, 'x', size - at);
  var[size] = '\0';
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char *argv[] = {"sleep", "20", NULL}, *envp[] = {var, NULL};
    execve("/bin/sleep", argv, envp);
    _exit(127);
  }
  close(p[1]);
  char c;
  assert_int_equal(read(p[0], &c, 1), 0); /* EOF: exec'd */
  close(p[0]);
  free(var);
  return pid;
}

/* A read that fails past its limit after a first chunk (a /proc file: its
 * size reads 0, so only the read finds it too long) frees no copy of the
 * secret unwiped. */
static void test_partial_read_wiped(void **state) {
  (void)state;
  pid_t pid = environ_child(12000);
  char path[64], err[256], *out = NULL;
  size_t len = 0;
  snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
  unwiped_frees = 0;
  watch_free = 1;
  int rc = qf_file_read(path, 9000, 0, &out, &len, err, sizeof(err));
  watch_free = 0;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(rc, -EFBIG);
  assert_null(out);
  assert_int_equal(unwiped_frees, 0);

  pid = environ_child(12000); /* read whole: the grown-out copies too */
  snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
  watch_free = 1;
  rc = qf_file_read(path, 20000, 0, &out, &len, err, sizeof(err));
  watch_free = 0;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(rc, 0);
  assert_int_equal(len, 12001); /* the variable and its NUL */
  assert_int_equal(unwiped_frees, 0);
  explicit_bzero(out, len);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mkdir_swapped_for_link),
      cmocka_unit_test(test_partial_read_wiped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
