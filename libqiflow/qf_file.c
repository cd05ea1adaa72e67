/* qf_file.c: bounded reads, atomic writes and directories. */
#include "qf_file.h"
#include "qf_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Built with _FILE_OFFSET_BITS=64 (CMakeLists.txt): with a 32-bit off_t or
 * ino_t (armhf without it) stat() and readdir() fail with EOVERFLOW on a
 * file system of 64-bit inode numbers, and our directory scans skip files. */
_Static_assert(sizeof(off_t) == 8 && sizeof(ino_t) == 8,
               "configure with -D_FILE_OFFSET_BITS=64");

/* qfile_write_all writes every byte, retrying on EINTR and short writes. */
static int qfile_write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* qfile_fsync_parent makes the rename of path durable. */
static int qfile_fsync_parent(const char *path) {
  char copy[4096];
  if (strlen(path) >= sizeof(copy))
    return -ENAMETOOLONG;
  strcpy(copy, path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int status = fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return status;
}

int qf_file_write_atomic(const char *path, const void *data, size_t len,
                         mode_t mode, char *err, size_t errlen) {
  char tmp[4096];
  int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
  if (n < 0 || (size_t)n >= sizeof(tmp)) {
    qf_err(err, errlen, "%s: path too long", path);
    return -ENAMETOOLONG;
  }
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    qf_err(err, errlen, "mkstemp %s: %s", tmp, strerror(e));
    return -e;
  }
  const char *step = "write";
  int status = qfile_write_all(fd, data, len);
  if (status == 0) {
    step = "fchmod";
    status = fchmod(fd, mode) == 0 ? 0 : -errno;
  }
  if (status == 0) {
    step = "fsync";
    status = fsync(fd) == 0 ? 0 : -errno;
  }
  if (close(fd) != 0 && status == 0) {
    step = "close";
    status = -errno;
  }
  if (status == 0) {
    step = "rename";
    status = rename(tmp, path) == 0 ? 0 : -errno;
  }
  if (status != 0) {
    qf_err(err, errlen, "%s %s: %s", step, tmp, strerror(-status));
    unlink(tmp);
    return status;
  }
  qfile_fsync_parent(path); /* best effort: the data itself is already safe */
  return 0;
}

/* qfile_read_fd reads at most max bytes from fd into a new buffer. */
static int qfile_read_fd(int fd, size_t max, char **out, size_t *len) {
  qf_buf_t b = QF_BUF_INIT;
  b.max = max;
  char chunk[8192];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      qf_buf_free(&b);
      return -e;
    }
    if (n == 0)
      break;
    int status = qf_buf_append(&b, chunk, (size_t)n);
    if (status != 0) {
      qf_buf_free(&b);
      return status;
    }
  }
  if (b.data == NULL && qf_buf_append(&b, "", 0) != 0)
    return -ENOMEM;
  *out = qf_buf_steal(&b, len);
  return 0;
}

/* qfile_check_mode refuses st for the mode bits flags forbid; 0 or -EPERM. */
static int qfile_check_mode(const char *path, const struct stat *st, int flags,
                            char *err, size_t errlen) {
  mode_t forbidden = (flags & QF_READ_PRIVATE)      ? 077
                     : (flags & QF_READ_NOT_PUBLIC) ? 007
                                                    : 0;
  if ((st->st_mode & forbidden) == 0)
    return 0;
  qf_err(err, errlen,
         "%s: mode %04o gives %s access to a secret; run: "
         "chmod %s %s",
         path, (unsigned)(st->st_mode & 07777),
         forbidden == 077 ? "group or other users" : "every user",
         forbidden == 077 ? "go-rwx" : "o-rwx", path);
  return -EPERM;
}

int qf_file_read(const char *path, size_t max, int flags, char **out,
                 size_t *len, char *err, size_t errlen) {
  int oflags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (flags & QF_READ_NOFOLLOW)
    oflags |= O_NOFOLLOW;
  int fd = open(path, oflags);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP)
      qf_err(err, errlen, "%s: is a symbolic link", path);
    else
      qf_err(err, errlen, "open %s: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  int status = 0;
  if (fstat(fd, &st) != 0) {
    status = -errno;
    qf_err(err, errlen, "stat %s: %s", path, strerror(-status));
  } else if (!S_ISREG(st.st_mode)) {
    status = -EINVAL;
    qf_err(err, errlen, "%s: not a regular file", path);
  } else if ((status = qfile_check_mode(path, &st, flags, err, errlen)) != 0) {
    /* refused: err says why */
  } else if ((size_t)st.st_size > max) {
    status = -EFBIG;
    qf_err(err, errlen, "%s: %lld bytes, over the %zu byte limit", path,
           (long long)st.st_size, max);
  } else {
    status = qfile_read_fd(fd, max, out, len);
    if (status != 0)
      qf_err(err, errlen, "read %s: %s", path,
             status == -EFBIG ? "over the size limit" : strerror(-status));
  }
  close(fd);
  return status;
}

int qf_secret_read(const char *what, const char *path, size_t max, int flags,
                   char **out, size_t *len, char *err, size_t errlen) {
  char *text = NULL, why[512];
  size_t n = 0;
  /* + 2: room for the trailing "\r\n" dropped below. */
  int rc = qf_file_read(path, max + 2, flags, &text, &n, why, sizeof(why));
  if (rc != 0) {
    if (what != NULL)
      qf_err(err, errlen, "%s %s", what, why);
    else
      qf_strcpy(err, errlen, why);
    return rc;
  }
  if (text == NULL) { /* qf_file_read returns a buffer; never NULL on 0 */
    qf_err(err, errlen, "%s: read no buffer", path);
    return -EIO;
  }
  size_t cap = n;
  if (n > 0 && text[n - 1] == '\n')
    n--;
  if (n > 0 && text[n - 1] == '\r')
    n--;
  text[n] = '\0';
  if (n > max) {
    qf_err(err, errlen, "%s%s%s holds a secret longer than the %zu byte limit",
           what != NULL ? what : "", what != NULL ? " " : "", path, max);
    explicit_bzero(text, cap);
    free(text);
    return -EINVAL;
  }
  *out = text;
  if (len != NULL)
    *len = n;
  return 0;
}

int qf_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen) {
  char copy[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(copy)) {
    qf_err(err, errlen, "mkdir: bad path length");
    return -ENAMETOOLONG;
  }
  memcpy(copy, path, n + 1);
  for (char *p = copy + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char saved = *p;
    *p = '\0';
    mode_t want = saved == '\0' ? mode : QF_PARENT_DIR_MODE;
    if (mkdir(copy, want) == 0) {
      if (chmod(copy, want) != 0) { /* the umask may have narrowed it */
        int e = errno;
        qf_err(err, errlen, "chmod %s: %s", copy, strerror(e));
        return -e;
      }
    } else if (errno != EEXIST) {
      int e = errno;
      qf_err(err, errlen, "mkdir %s: %s", copy, strerror(e));
      return -e;
    }
    *p = saved;
    if (saved == '\0')
      break;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    qf_err(err, errlen, "%s: not a directory", path);
    return -ENOTDIR;
  }
  return 0;
}

int qf_state_dir_make(const char *path, char *err, size_t errlen) {
  return qf_mkdir_p(path, QF_STATE_DIR_MODE, err, errlen);
}

int qf_path_join(char *out, size_t outlen, const char *dir, const char *name) {
  int n = snprintf(out, outlen, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= outlen)
    return -ENAMETOOLONG;
  return 0;
}
