/* Unit tests for libqiflow: buffers, files, time, JSON, snapshots, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_buf.h"
#include "qf_cond.h"
#include "qf_file.h"
#include "qf_gzip.h"
#include "qf_http.h"
#include "qf_json.h"
#include "qf_resources.h"
#include "qf_snapshot.h"
#include "qf_swarm.h"
#include "qf_time.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* A scratch directory per test, removed afterwards. */
static int setup_dir(void **state) {
  char *dir = strdup("/tmp/qf-unit-XXXXXX");
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

/* qf_gzip writes one gzip member that zlib reads back whole. */
static void test_array_room(void **state) {
  (void)state;
  void *arr = NULL;
  size_t cap = 0;
  assert_int_equal(qf_array_room(&arr, &cap, 0, sizeof(int), 4), 0);
  assert_int_equal(cap, 4);
  void *first = arr;
  assert_int_equal(qf_array_room(&arr, &cap, 3, sizeof(int), 4), 0);
  assert_ptr_equal(arr, first); /* room left: nothing moves */
  assert_int_equal(cap, 4);
  assert_int_equal(qf_array_room(&arr, &cap, 4, sizeof(int), 4), 0);
  assert_int_equal(cap, 8);
  ((int *)arr)[7] = 7; /* the new room is usable */
  size_t huge = SIZE_MAX / 2 + 1;
  assert_int_equal(qf_array_room(&arr, &huge, huge, 2, 4), -ENOMEM);
  assert_int_equal(huge, SIZE_MAX / 2 + 1); /* unchanged on failure */
  free(arr);
}

static void test_gzip_roundtrip(void **state) {
  (void)state;
  const char *text = "{\"swarm_id\":\"s\",\"pad\":\"aaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
  char *gz;
  size_t gzlen;
  assert_int_equal(qf_gzip(text, strlen(text), &gz, &gzlen), 0);
  assert_true(gzlen < strlen(text));
  assert_int_equal((unsigned char)gz[0], 0x1f); /* gzip magic */
  assert_int_equal((unsigned char)gz[1], 0x8b);
  char out[256];
  z_stream z;
  memset(&z, 0, sizeof(z));
  assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = (Bytef *)gz;
  z.avail_in = (uInt)gzlen;
  z.next_out = (Bytef *)out;
  z.avail_out = sizeof(out);
  assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
  assert_int_equal(z.total_out, strlen(text));
  assert_memory_equal(out, text, strlen(text));
  inflateEnd(&z);
  free(gz);
}

/* qf_cond: deadlines carry into seconds, and a monotonic condition variable
 * times out at its deadline. */
static void test_cond_monotonic_deadline(void **state) {
  (void)state;
  struct timespec ts = {.tv_sec = 5, .tv_nsec = 900000000L};
  qf_timespec_add_ms(&ts, 1250);
  assert_int_equal(ts.tv_sec, 7);
  assert_int_equal(ts.tv_nsec, 150000000L);
  qf_timespec_from_s(12.25, &ts);
  assert_int_equal(ts.tv_sec, 12);
  assert_int_equal(ts.tv_nsec, 250000000L);
  pthread_mutex_t m;
  pthread_cond_t c;
  assert_int_equal(qf_mono_locks_init(&m, &c), 0);
  double start = qf_mono_s();
  qf_mono_after(&ts, 50);
  pthread_mutex_lock(&m);
  int rc;
  while ((rc = pthread_cond_timedwait(&c, &m, &ts)) == 0)
    ;
  pthread_mutex_unlock(&m);
  assert_int_equal(rc, ETIMEDOUT);
  assert_true(qf_mono_s() - start >= 0.045);
  assert_true(qf_clock_s(CLOCK_REALTIME) > 1e9); /* after 2001 */
  pthread_cond_destroy(&c);
  pthread_mutex_destroy(&m);
}

/* qf_platform is the kernel's name in lower case, as every part reports it. */
static void test_platform_lower_case(void **state) {
  (void)state;
  char p[64];
  qf_platform(p, sizeof(p));
  assert_string_equal(p, "linux");
  char small[3];
  qf_platform(small, sizeof(small)); /* cut, still terminated */
  assert_string_equal(small, "li");
}

static void test_buf_grows_and_bounds(void **state) {
  (void)state; /* unused */
  qf_buf_t b = QF_BUF_INIT;
  for (int i = 0; i < 1000; i++)
    assert_int_equal(qf_buf_printf(&b, "%d,", i), 0);
  assert_true(b.len > 1000);
  assert_int_equal(b.data[b.len], '\0');
  assert_memory_equal(b.data, "0,1,2,", 6);
  qf_buf_free(&b);

  b.max = 4;
  assert_int_equal(qf_buf_puts(&b, "abcd"), 0);
  assert_int_equal(qf_buf_puts(&b, "e"), -EFBIG);
  assert_string_equal(b.data, "abcd");
  size_t len = 0;
  char *s = qf_buf_steal(&b, &len);
  assert_int_equal(len, 4);
  assert_null(b.data);
  free(s);
}

static void test_strcpy_reports_truncation(void **state) {
  (void)state; /* unused */
  char out[4];
  assert_int_equal(qf_strcpy(out, sizeof(out), "abc"), 0);
  assert_string_equal(out, "abc");
  assert_int_equal(qf_strcpy(out, sizeof(out), "abcd"), -ENOSPC);
  assert_string_equal(out, "abc");
}

static void test_time_round_trip(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *in;
    long long want; /* -1: must be rejected */
  } cases[] = {
      {"2026-11-27T10:00:00Z", 1795773600},
      {"2026-11-27T10:00:00", 1795773600},
      {"2026-11-27T10:00:00.123456Z", 1795773600},
      {"2026-11-27T12:00:00+02:00", 1795773600},
      {"2026-11-27T08:30:00-01:30", 1795773600},
      {"2026-11-27 10:00:00Z", 1795773600},
      {"1970-01-01T00:00:00Z", 0},
      {"2026-13-01T00:00:00Z", -1},
      {"2026-11-27T10:00Z", -1},
      {"2026-11-27T10:00:00Zjunk", -1},
      {"2026-11-27T10:00:00+0200", -1},
      {"2026-11-27T10:00:00.Z", -1},
      {"", -1},
      {"yesterday", -1},
      /* Found by fuzz_time: days a month lacks were moved into the next. */
      {"2026-02-29T00:00:00Z", -1},
      {"2026-04-31T00:00:00Z", -1},
      {"2100-02-29T00:00:00Z", -1},
      {"2024-02-29T00:00:00Z", 1709164800},
      {"2000-02-29T00:00:00Z", 951782400},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    time_t t = 0;
    int rc = qf_time_parse(cases[i].in, &t);
    if (cases[i].want < 0) {
      assert_int_equal(rc, -EINVAL);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal((long long)t, cases[i].want);
    }
  }
  char buf[QF_TIME_ISO_LEN];
  assert_int_equal(qf_time_format(1795773600, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "2026-11-27T10:00:00Z");
  assert_int_equal(qf_time_format_date(1795773600, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "2026-11-27");
  assert_int_equal(qf_time_parse(NULL, &(time_t){0}), -EINVAL);
  /* Found by fuzz_time: year 24 was formatted as "24-02-29T...", which
   * qf_time_parse refuses; years are four digits or an error. */
  time_t t = 0;
  if (sizeof(time_t) > 4) { /* a 32-bit time_t starts in 1901 */
    assert_int_equal(qf_time_parse("0024-02-29T00:00:00-00:00", &t), 0);
    assert_int_equal(qf_time_format(t, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "0024-02-29T00:00:00Z");
    assert_int_equal(qf_time_format_date(t, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "0024-02-29");
    long long year_10000 = 253402300800LL, before_year_0 = -62167219201LL;
    assert_int_equal(qf_time_format((time_t)year_10000, buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(qf_time_format((time_t)before_year_0, buf, sizeof(buf)),
                     -EINVAL);
  } else {
    assert_int_equal(qf_time_parse("0024-02-29T00:00:00-00:00", &t), -EINVAL);
  }
  assert_int_equal(qf_time_format(1795773600, buf, 20), -EINVAL); /* short */
}

/* Times at the ends of what time_t holds: a 64-bit one (amd64, arm64)
 * gets every second of 0000-9999, a 32-bit one (armhf) gets -EINVAL
 * outside 1901-12-13T20:45:52Z..2038-01-19T03:14:07Z, never a wrapped
 * value; and the second before the epoch is a time like any other. */
static void test_time_range(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *in;
    long long want;
    bool fits_32; /* inside a 32-bit time_t */
  } cases[] = {
      /* timegm's -1 was taken for an error: the second was refused. */
      {"1969-12-31T23:59:59Z", -1, true},
      {"1969-12-31T23:59:59.5+00:00", -1, true},
      {"1970-01-01T00:59:59+01:00", -1, true},
      {"2038-01-19T03:14:07Z", 2147483647LL, true},
      {"2038-01-19T03:14:08Z", 2147483648LL, false},
      /* the offset carries it past the end (it overflowed on armhf) */
      {"2038-01-19T03:14:07-00:01", 2147483707LL, false},
      {"1901-12-13T20:45:52Z", -2147483648LL, true},
      {"1901-12-13T20:45:52+00:01", -2147483708LL, false},
      {"9999-12-31T23:59:59-23:59", 253402387139LL, false},
      {"0000-01-01T00:00:00+23:59", -62167305540LL, false},
      {"2100-03-01T00:00:00Z", 4107542400LL, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    time_t t = 0;
    int rc = qf_time_parse(cases[i].in, &t);
    if (sizeof(time_t) > 4 || cases[i].fits_32) {
      assert_int_equal(rc, 0);
      assert_int_equal((long long)t, cases[i].want);
    } else {
      assert_int_equal(rc, -EINVAL);
    }
  }
}

static void test_json_getters(void **state) {
  (void)state; /* unused */
  char err[128];
  yajl_val v = qf_json_parse(
      "{\"s\":\"x\",\"i\":42,\"d\":1.5,\"b\":true,\"n\":null,\"big\":1e400}",
      err, sizeof(err));
  assert_non_null(v);
  long long i = 0;
  double d = 0;
  bool b = false;
  assert_string_equal(qf_json_get_str(v, "s"), "x");
  assert_null(qf_json_get_str(v, "i"));
  assert_int_equal(qf_json_get_int(v, "i", &i), 0);
  assert_int_equal(i, 42);
  assert_int_equal(qf_json_get_int(v, "d", &i), -EINVAL);
  assert_int_equal(qf_json_get_int(v, "missing", &i), -ENOENT);
  assert_int_equal(qf_json_get_int(v, "n", &i), -ENOENT);
  assert_int_equal(qf_json_get_double(v, "d", &d), 0);
  assert_true(d == 1.5);
  assert_int_equal(qf_json_get_double(v, "i", &d), 0);
  assert_int_equal(qf_json_get_bool(v, "b", &b), 0);
  assert_true(b);
  assert_int_equal(qf_json_get_bool(v, "s", &b), -EINVAL);
  yajl_tree_free(v);

  assert_null(qf_json_parse("{\"a\":", err, sizeof(err)));
  assert_true(strlen(err) > 0);
  assert_null(strchr(err, '\n'));
  assert_null(qf_json_parse("{\"a\":\"\xff\"}", err, sizeof(err)));
}

/* qf_json_parse_len: a slice of a longer text, through one reused scratch
 * buffer; a slice that is no JSON. */
static void test_json_parse_len(void **state) {
  (void)state; /* unused */
  const char *text = "[{\"a\":1},{\"b\":2}]";
  qf_buf_t buf = QF_BUF_INIT;
  yajl_val v = NULL;
  assert_int_equal(qf_json_parse_len(&buf, text + 1, 7, &v), 0);
  long long i = 0;
  assert_int_equal(qf_json_get_int(v, "a", &i), 0);
  assert_int_equal(i, 1);
  yajl_tree_free(v);
  assert_int_equal(qf_json_parse_len(&buf, text + 9, 7, &v), 0);
  assert_int_equal(qf_json_get_int(v, "b", &i), 0);
  assert_int_equal(i, 2);
  yajl_tree_free(v);
  assert_int_equal(qf_json_parse_len(&buf, text + 1, 5, &v), -EINVAL);
  assert_null(v);
  qf_buf_free(&buf);
}

static void test_json_writer_escapes_and_round_trips(void **state) {
  (void)state; /* unused */
  qf_jw_t w;
  assert_int_equal(qf_jw_init(&w), 0);
  const char *hostile = "quote\" back\\ nl\n ctl\x01 tab\t \xc3\xa9";
  qf_jw_obj_open(&w);
  qf_jw_kstr(&w, "s", hostile);
  qf_jw_kstr(&w, "null", NULL);
  qf_jw_kint(&w, "i", -7);
  qf_jw_kdouble(&w, "d", 45.2);
  qf_jw_kdouble(&w, "nan", NAN);
  qf_jw_kbool(&w, "b", false);
  qf_jw_ktime(&w, "t", 1795773600);
  qf_jw_ktime(&w, "t0", 0);
  qf_jw_obj_close(&w);
  char *out = NULL;
  assert_int_equal(qf_jw_finish(&w, &out, NULL), 0);
  assert_non_null(strstr(out, "\"d\":45.2,"));
  assert_non_null(strstr(out, "\\u0001"));
  assert_non_null(strstr(out, "\"nan\":null"));
  yajl_val v = qf_json_parse(out, NULL, 0);
  assert_non_null(v);
  assert_string_equal(qf_json_get_str(v, "s"), hostile);
  assert_string_equal(qf_json_get_str(v, "t"), "2026-11-27T10:00:00Z");

  /* Copy the tree through qf_jw_value and compare the text. */
  qf_jw_reset(&w);
  qf_jw_value(&w, v);
  char *copy = NULL;
  assert_int_equal(qf_jw_finish(&w, &copy, NULL), 0);
  assert_string_equal(copy, out);
  free(copy);
  free(out);
  yajl_tree_free(v);

  /* Invalid UTF-8 is an error, reported once at the end. */
  qf_jw_reset(&w);
  qf_jw_arr_open(&w);
  qf_jw_str(&w, "bad \xff");
  qf_jw_int(&w, 1);
  qf_jw_arr_close(&w);
  assert_int_equal(qf_jw_finish(&w, &out, NULL), -EILSEQ);
  qf_jw_free(&w);
}

/* mode_of is a path's permission bits, or -1. */
static int mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* A private leaf never narrows the parents it creates, the umask narrows
 * nothing we create, and what exists already keeps its mode. */
static void test_mkdir_modes(void **state) {
  const char *dir = *state;
  char state_dir[512], spool[600], pre[512], err[256];
  snprintf(state_dir, sizeof(state_dir), "%s/var/state", dir);
  snprintf(spool, sizeof(spool), "%s/heartbeat_spool", state_dir);
  mode_t old = umask(077);
  assert_int_equal(qf_mkdir_p(spool, 0700, err, sizeof(err)), 0);
  assert_int_equal(mode_of(spool), 0700);
  assert_int_equal(mode_of(state_dir), QF_STATE_DIR_MODE);
  snprintf(pre, sizeof(pre), "%s/var", dir);
  assert_int_equal(mode_of(pre), QF_PARENT_DIR_MODE);

  snprintf(state_dir, sizeof(state_dir), "%s/other/state", dir);
  assert_int_equal(qf_state_dir_make(state_dir, err, sizeof(err)), 0);
  assert_int_equal(mode_of(state_dir), 0755);

  snprintf(pre, sizeof(pre), "%s/mine", dir);
  assert_int_equal(mkdir(pre, 0750), 0);
  assert_int_equal(chmod(pre, 0750), 0);
  assert_int_equal(qf_state_dir_make(pre, err, sizeof(err)), 0);
  assert_int_equal(mode_of(pre), 0750);

  /* A trailing slash names the same leaf: it gets mode, not the parents'. */
  snprintf(spool, sizeof(spool), "%s/slash/leaf/", dir);
  assert_int_equal(qf_mkdir_p(spool, 0700, err, sizeof(err)), 0);
  snprintf(spool, sizeof(spool), "%s/slash/leaf", dir);
  assert_int_equal(mode_of(spool), 0700);
  umask(old);
}

static void test_file_atomic_and_bounded(void **state) {
  const char *dir = *state;
  char path[512], err[256];
  snprintf(path, sizeof(path), "%s/sub/deeper", dir);
  assert_int_equal(qf_mkdir_p(path, 0755, err, sizeof(err)), 0);
  assert_int_equal(qf_mkdir_p(path, 0755, err, sizeof(err)), 0);
  snprintf(path, sizeof(path), "%s/sub/f.json", dir);
  assert_int_equal(
      qf_file_write_atomic(path, "hello", 5, 0600, err, sizeof(err)), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  char *text = NULL;
  size_t len = 0;
  assert_int_equal(qf_file_read(path, 5, 0, &text, &len, err, sizeof(err)), 0);
  assert_string_equal(text, "hello");
  free(text);
  assert_int_equal(qf_file_read(path, 4, 0, &text, &len, err, sizeof(err)),
                   -EFBIG);
  assert_non_null(strstr(err, "limit"));

  char link_path[512];
  snprintf(link_path, sizeof(link_path), "%s/link.json", dir);
  assert_int_equal(symlink(path, link_path), 0);
  assert_int_equal(qf_file_read(link_path, 64, QF_READ_NOFOLLOW, &text, &len,
                                err, sizeof(err)),
                   -ELOOP);
  assert_non_null(strstr(err, "symbolic link"));

  char fifo[512];
  snprintf(fifo, sizeof(fifo), "%s/fifo.json", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(qf_file_read(fifo, 64, 0, &text, &len, err, sizeof(err)),
                   -EINVAL);
  assert_non_null(strstr(err, "not a regular file"));

  /* Secrets: refused by mode, checked on the file itself. */
  static const struct {
    mode_t mode;
    int flags, status;
  } modes[] = {
      {0600, QF_READ_PRIVATE, 0},
      {0400, QF_READ_PRIVATE, 0},
      {0640, QF_READ_PRIVATE, -EPERM},
      {0604, QF_READ_PRIVATE, -EPERM},
      {0620, QF_READ_PRIVATE, -EPERM},
      {0640, QF_READ_NOT_PUBLIC, 0},
      {0644, QF_READ_NOT_PUBLIC, -EPERM},
      {0602, QF_READ_NOT_PUBLIC, -EPERM},
      {0644, 0, 0},
  };
  snprintf(path, sizeof(path), "%s/sub/f.json", dir);
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    assert_int_equal(chmod(path, modes[i].mode), 0);
    text = NULL;
    err[0] = '\0';
    assert_int_equal(qf_file_read(link_path, 64, modes[i].flags, &text, &len,
                                  err, sizeof(err)),
                     modes[i].status);
    if (modes[i].status == 0) {
      assert_string_equal(text, "hello");
      free(text);
    } else {
      assert_null(text);
      assert_non_null(strstr(err, "chmod"));
      assert_non_null(strstr(err, link_path));
    }
  }

  /* A failed atomic write leaves the old file intact. */
  snprintf(path, sizeof(path), "%s/missing-dir/x", dir);
  assert_int_equal(qf_file_write_atomic(path, "x", 1, 0644, err, sizeof(err)),
                   -ENOENT);
}

/* qf_read_full: every byte of a pipe written in pieces (short reads), a
 * pread at an offset that stops at the end of the file, and an errno;
 * qf_write_at beside it. */
static void test_read_full(void **state) {
  const char *dir = *state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    for (int i = 0; i < 5; i++) {
      if (write(p[1], "abcd", 4) != 4)
        _exit(1);
      usleep(2000); /* each piece its own read */
    }
    _exit(0);
  }
  close(p[1]);
  char buf[32] = "";
  assert_int_equal(qf_read_full(p[0], buf, 12, -1), 12);
  assert_memory_equal(buf, "abcdabcdabcd", 12);
  assert_int_equal(qf_read_full(p[0], buf, sizeof(buf), -1), 8); /* ends */
  close(p[0]);
  waitpid(pid, NULL, 0);

  char path[512];
  snprintf(path, sizeof(path), "%s/read-full", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(qf_write_all(fd, "0123456789", 10), 0);
  assert_int_equal(qf_read_full(fd, buf, 4, 3), 4);
  assert_memory_equal(buf, "3456", 4);
  assert_int_equal(qf_read_full(fd, buf, sizeof(buf), 7), 3);
  assert_int_equal(qf_read_full(fd, buf, 4, 10), 0);
  /* qf_write_at writes in place and leaves the file offset where it was;
   * past the end it extends the file. */
  assert_int_equal(qf_write_at(fd, "xy", 2, 4), 0);
  assert_int_equal(qf_write_at(fd, "!", 1, 12), 0);
  assert_int_equal(lseek(fd, 0, SEEK_CUR), 10);
  assert_int_equal(qf_read_full(fd, buf, sizeof(buf), 0), 13);
  assert_memory_equal(buf, "0123xy6789\0\0!", 13);
  close(fd);
  assert_int_equal(qf_read_full(fd, buf, 4, 0), -EBADF);
  assert_int_equal(qf_write_at(fd, "x", 1, 0), -EBADF);
  assert_int_equal(qf_write_all(fd, "x", 1), -EBADF);
}

static void test_snapshot_reader_reloads_on_change(void **state) {
  const char *dir = *state;
  char err[256];
  qf_snapshot_t s;
  assert_int_equal(qf_snapshot_init(&s, dir, "x.json"), 0);
  assert_int_equal(qf_snapshot_refresh(&s), 0); /* missing: no data yet */
  assert_null(s.doc);

  const char *v1 =
      "{\"schema_version\":1,\"updated_at\":\"2026-11-27T10:00:00Z\"}";
  assert_int_equal(
      qf_snapshot_write(dir, "x.json", v1, strlen(v1), err, sizeof(err)), 0);
  assert_int_equal(qf_snapshot_refresh(&s), 1);
  assert_non_null(s.doc);
  assert_int_equal((long long)s.updated_at, 1795773600);
  assert_int_equal(qf_snapshot_refresh(&s), 0);

  /* A broken file keeps the previous document and says why. */
  assert_int_equal(
      qf_snapshot_write(dir, "x.json", "{\"a\":", 5, err, sizeof(err)), 0);
  assert_int_equal(qf_snapshot_refresh(&s), -EINVAL);
  assert_non_null(s.doc);
  assert_true(strlen(s.error) > 0);
  assert_int_equal(qf_snapshot_refresh(&s), -EINVAL);

  char path[512];
  snprintf(path, sizeof(path), "%s/x.json", dir);
  unlink(path);
  assert_int_equal(qf_snapshot_refresh(&s), 1);
  assert_null(s.doc);

  /* take: the caller owns the tree; unchanged stays unchanged. */
  assert_int_equal(
      qf_snapshot_write(dir, "x.json", v1, strlen(v1), err, sizeof(err)), 0);
  assert_int_equal(qf_snapshot_refresh(&s), 1);
  yajl_val taken = qf_snapshot_take(&s);
  assert_non_null(taken);
  assert_null(s.doc);
  assert_int_equal(qf_snapshot_refresh(&s), 0);
  assert_null(qf_snapshot_take(&s));
  yajl_tree_free(taken);
  unlink(path);
  assert_int_equal(qf_snapshot_refresh(&s), 1); /* gone: still reported */
  qf_snapshot_destroy(&s);
}

static void test_swarm_id_is_stable_and_shared(void **state) {
  const char *dir = *state;
  char id1[64], id2[64], err[256];
  assert_int_equal(
      qf_swarm_id_resolve(NULL, dir, id1, sizeof(id1), err, sizeof(err)), 0);
  assert_int_equal(strlen(id1), 36);
  assert_int_equal(id1[14], '4');
  assert_int_equal(
      qf_swarm_id_resolve("", dir, id2, sizeof(id2), err, sizeof(err)), 0);
  assert_string_equal(id1, id2);
  assert_int_equal(
      qf_swarm_id_resolve("my-swarm", dir, id2, sizeof(id2), err, sizeof(err)),
      0);
  assert_string_equal(id2, "my-swarm");
  assert_int_equal(
      qf_swarm_id_resolve("has space", dir, id2, sizeof(id2), err, sizeof(err)),
      -EINVAL);

  /* Racing creators agree on one id. */
  char sub[512];
  snprintf(sub, sizeof(sub), "%s/race", dir);
  for (int i = 0; i < 8; i++) {
    if (fork() == 0) {
      char id[64];
      _exit(qf_swarm_id_resolve(NULL, sub, id, sizeof(id), NULL, 0) == 0 ? 0
                                                                         : 1);
    }
  }
  for (int i = 0; i < 8; i++) {
    int st = 0;
    wait(&st);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  assert_int_equal(
      qf_swarm_id_resolve(NULL, sub, id1, sizeof(id1), err, sizeof(err)), 0);
  char path[600];
  snprintf(path, sizeof(path), "%s/swarm_id", sub);
  char *text = NULL;
  assert_int_equal(qf_file_read(path, 100, 0, &text, NULL, err, sizeof(err)),
                   0);
  assert_int_equal(strncmp(text, id1, 36), 0);
  free(text);

  /* A garbled id file is an error, not a silent new id. */
  snprintf(path, sizeof(path), "%s/swarm_id", dir);
  assert_int_equal(
      qf_file_write_atomic(path, "\"bad\"", 5, 0644, err, sizeof(err)), 0);
  assert_int_equal(
      qf_swarm_id_resolve(NULL, dir, id1, sizeof(id1), err, sizeof(err)),
      -EINVAL);
}

static void test_http_helpers(void **state) {
  (void)state; /* unused */
  char out[256];
  qf_http_redact("https://user:secret@host.example:8443/api/v1?token=abc", out,
                 sizeof(out));
  assert_string_equal(out, "https://host.example:8443/api/v1");
  qf_http_redact("http://host/p#frag", out, sizeof(out));
  assert_string_equal(out, "http://host/p");
  assert_int_equal(qf_http_parse_retry_after("120", 0), 120);
  assert_int_equal(qf_http_parse_retry_after("-5", 0), -1);
  assert_int_equal(qf_http_parse_retry_after("soon", 0), -1);
  assert_int_equal(
      qf_http_parse_retry_after("Fri, 27 Nov 2026 10:01:00 GMT", 1795773600),
      60);
  assert_true(qf_http_retryable(0));
  assert_true(qf_http_retryable(429));
  assert_true(qf_http_retryable(503));
  assert_false(qf_http_retryable(404));
  assert_false(qf_http_retryable(200));
}

static void test_resources_rules(void **state) {
  (void)state; /* unused */
  qf_res_input_t in;
  qf_res_t r;
  qf_res_input_init(&in);
  qf_res_derive(&in, &r);
  assert_true(isnan(r.cpu_percent) && isnan(r.memory_percent));
  assert_true(isnan(r.disk_total_bytes));

  /* Idle wins over the busy sum; rounding noise is clamped. */
  in.cpu_idle = 75.0;
  in.cpu_busy = 30.0;
  qf_res_derive(&in, &r);
  assert_true(r.cpu_percent == 25.0);
  in.cpu_idle = NAN;
  qf_res_add(&in.cpu_busy, 80.5); /* 110.5 */
  qf_res_derive(&in, &r);
  assert_true(r.cpu_percent == 100.0);

  /* Percentages as collectd reports them, else used / total. */
  in.mem_used = 2.0;
  qf_res_add(&in.mem_total, 8.0);
  in.df_used = 30.0;
  in.df_free = 60.0;
  in.df_reserved = 10.0;
  qf_res_derive(&in, &r);
  assert_true(r.memory_percent == 25.0);
  assert_true(r.disk_total_bytes == 100.0 && r.disk_percent == 30.0);
  in.mem_percent_used = 40.0;
  in.df_percent_used = 33.3;
  qf_res_derive(&in, &r);
  assert_true(r.memory_percent == 40.0 && r.disk_percent == 33.3);
  assert_false(qf_res_memory_state_counts("available"));
  assert_true(qf_res_memory_state_counts("used"));
}

/* qf_http_tls_hint names the cause and the caller's own key. */
static void test_http_tls_hint(void **state) {
  (void)state;
  const qf_http_tls_keys_t hb = {"URL", "CACert", "ClientCert", "ClientKey"};
  const qf_http_tls_keys_t gh = {.url = "APIURL", .ca_cert = "CACert"};
  char out[320];
  qf_http_tls_hint("SSL certificate problem: unable to get local issuer "
                   "certificate",
                   &gh, out, sizeof(out));
  assert_non_null(strstr(out, "set CACert to the file of the CA"));
  qf_http_tls_hint("SSL: no alternative certificate subject name matches "
                   "target host name '127.0.0.2'",
                   &hb, out, sizeof(out));
  assert_non_null(strstr(out, "does not name URL's host"));
  const char *required = "OpenSSL SSL_read: error:0A00045C:SSL routines::"
                         "tlsv13 alert certificate required, errno 0";
  qf_http_tls_hint(required, &hb, out, sizeof(out));
  assert_non_null(strstr(out, "set ClientCert and ClientKey"));
  qf_http_tls_hint(required, &gh, out, sizeof(out)); /* no such keys */
  assert_string_equal(out, "");
  qf_http_tls_hint("unable to set private key file: '/x.key' type PEM", &hb,
                   out, sizeof(out));
  assert_non_null(strstr(out, "ClientKey cannot be used"));
  qf_http_tls_hint("Could not resolve host: nowhere", &hb, out, sizeof(out));
  assert_string_equal(out, "");
  qf_http_tls_hint("SSL certificate problem: certificate has expired", &hb, out,
                   8); /* cut, still terminated */
  assert_int_equal(strlen(out), 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_grows_and_bounds),
      cmocka_unit_test(test_array_room),
      cmocka_unit_test(test_gzip_roundtrip),
      cmocka_unit_test(test_cond_monotonic_deadline),
      cmocka_unit_test(test_platform_lower_case),
      cmocka_unit_test(test_strcpy_reports_truncation),
      cmocka_unit_test(test_time_round_trip),
      cmocka_unit_test(test_time_range),
      cmocka_unit_test(test_json_getters),
      cmocka_unit_test(test_json_parse_len),
      cmocka_unit_test(test_json_writer_escapes_and_round_trips),
      cmocka_unit_test_setup_teardown(test_mkdir_modes, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_file_atomic_and_bounded, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_read_full, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_snapshot_reader_reloads_on_change,
                                      setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_swarm_id_is_stable_and_shared,
                                      setup_dir, teardown_dir),
      cmocka_unit_test(test_http_helpers),
      cmocka_unit_test(test_http_tls_hint),
      cmocka_unit_test(test_resources_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
