/* heartbeat_seq.c: heartbeat ids that only grow. */
#include "heartbeat_seq.h"

#include "qf_buf.h"
#include "qf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* hbq_load reads the stored id; false when missing or broken. */
static bool hbq_load(const char *path, long long *out) {
  char *text = NULL;
  if (qf_file_read(path, 64, 0, &text, NULL, NULL, 0) != 0)
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  bool ok =
      errno == 0 && end != text && (*end == '\n' || *end == '\0') && v >= 0;
  free(text);
  if (ok)
    *out = v;
  return ok;
}

/* hbq_lock opens and locks dir/heartbeat_seq.lock; returns the fd. */
static int hbq_lock(const char *dir, char *err, size_t errlen) {
  char path[4096];
  if (qf_path_join(path, sizeof(path), dir, HB_SEQ_FILE ".lock") != 0) {
    qf_err(err, errlen, "%s: path too long", dir);
    return -ENAMETOOLONG;
  }
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    qf_err(err, errlen, "open %s: %s", path, strerror(e));
    return -e;
  }
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    qf_err(err, errlen, "flock %s: %s", path, strerror(e));
    close(fd);
    return -e;
  }
  return fd;
}

int hb_seq_next(const char *dir, long long floor, time_t now, long long *id,
                char *err, size_t errlen) {
  char path[4096];
  if (qf_path_join(path, sizeof(path), dir, HB_SEQ_FILE) != 0) {
    qf_err(err, errlen, "%s: path too long", dir);
    return -ENAMETOOLONG;
  }
  int status = qf_state_dir_make(dir, err, errlen);
  if (status != 0)
    return status;
  int fd = hbq_lock(dir, err, errlen);
  if (fd < 0)
    return fd;
  long long last;
  if (!hbq_load(path, &last))
    last = (long long)now * 1000;
  if (last < floor)
    last = floor;
  char text[32];
  int n = snprintf(text, sizeof(text), "%lld\n", last + 1);
  status = qf_file_write_atomic(path, text, (size_t)n, 0644, err, errlen);
  if (status == 0)
    *id = last + 1;
  close(fd); /* releases the lock */
  return status;
}
