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

int qf_write_at(int fd, const void *buf, size_t len, off_t off) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = off >= 0 ? pwrite(fd, p, len, off) : write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    p += n;
    len -= (size_t)n;
    if (off >= 0)
      off += n;
  }
  return 0;
}

int qf_write_all(int fd, const void *buf, size_t len) {
  return qf_write_at(fd, buf, len, -1);
}

ssize_t qf_read_full(int fd, void *buf, size_t len, off_t off) {
  char *p = buf;
  size_t got = 0;
  while (got < len) {
    ssize_t n = off >= 0 ? pread(fd, p + got, len - got, off + (off_t)got)
                         : read(fd, p + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      break;
    got += (size_t)n;
  }
  return (ssize_t)got;
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

int qf_atomic_open(qf_atomic_t *a, const char *path, char *err, size_t errlen) {
  a->fd = -1;
  if (qf_strcpy(a->path, sizeof(a->path), path) != 0 ||
      snprintf(a->tmp, sizeof(a->tmp), "%s.tmp.XXXXXX", path) >=
          (int)sizeof(a->tmp)) {
    qf_err(err, errlen, "%s: path too long", path);
    return -ENAMETOOLONG;
  }
  a->fd = mkostemp(a->tmp, O_CLOEXEC);
  if (a->fd < 0) {
    int e = errno;
    qf_err(err, errlen, "mkstemp %s: %s", a->tmp, strerror(e));
    return -e;
  }
  return 0;
}

int qf_atomic_commit(qf_atomic_t *a, int status, mode_t mode, struct stat *st,
                     char *err, size_t errlen) {
  const char *step = "write";
  if (status == 0) {
    step = "fchmod";
    status = fchmod(a->fd, mode) == 0 ? 0 : -errno;
  }
  if (status == 0) {
    step = "fsync";
    status =
        fsync(a->fd) == 0 && (st == NULL || fstat(a->fd, st) == 0) ? 0 : -errno;
  }
  if (close(a->fd) != 0 && status == 0) {
    step = "close";
    status = -errno;
  }
  a->fd = -1;
  if (status == 0) {
    step = "rename";
    status = rename(a->tmp, a->path) == 0 ? 0 : -errno;
  }
  if (status != 0) {
    qf_err(err, errlen, "%s %s: %s", step, a->tmp, strerror(-status));
    unlink(a->tmp);
    return status;
  }
  qfile_fsync_parent(a->path); /* best effort: the data itself is safe */
  return 0;
}

int qf_file_write_atomic(const char *path, const void *data, size_t len,
                         mode_t mode, char *err, size_t errlen) {
  qf_atomic_t a;
  int status = qf_atomic_open(&a, path, err, errlen);
  if (status != 0)
    return status;
  status = qf_write_all(a.fd, data, len);
  return qf_atomic_commit(&a, status, mode, NULL, err, errlen);
}

/* qfile_wipe_free zeroes the cap bytes at p (what was read may be a secret)
 * and frees them; NULL is fine. */
static void qfile_wipe_free(char *p, size_t cap) {
  if (p == NULL)
    return;
  explicit_bzero(p, cap);
  free(p);
}

/* qfile_grow gives *p (cap bytes, len used) room for need bytes: a new block,
 * the old one wiped and freed (realloc could leave a copy unwiped). */
static int qfile_grow(char **p, size_t *cap, size_t len, size_t need) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 256;
  while (c < need)
    c *= 2;
  char *n = malloc(c);
  if (n == NULL)
    return -ENOMEM;
  if (len > 0)
    memcpy(n, *p, len);
  qfile_wipe_free(*p, *cap);
  *p = n;
  *cap = c;
  return 0;
}

/* qfile_read_fd reads at most max bytes from fd into a new NUL-terminated
 * buffer, sized at first for size bytes (the file's, so a large file is
 * not copied into ever larger blocks: twice its size at the peak). Every
 * copy it drops, and a partial read on error, is wiped first: the file may
 * hold a secret (qf_secret_read). */
static int qfile_read_fd(int fd, size_t max, size_t size, char **out,
                         size_t *len) {
  char chunk[8192], *data = NULL;
  size_t used = 0, cap = 0;
  int status = size > 0 ? qfile_grow(&data, &cap, 0, size + 1) : 0;
  for (; status == 0;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      status = n < 0 ? -errno : 0;
      break;
    }
    if ((size_t)n > max - used) {
      status = -EFBIG;
      break;
    }
    status = qfile_grow(&data, &cap, used, used + (size_t)n + 1);
    if (status != 0)
      break;
    memcpy(data + used, chunk, (size_t)n);
    used += (size_t)n;
  }
  explicit_bzero(chunk, sizeof(chunk));
  if (status == 0)
    status = qfile_grow(&data, &cap, used, used + 1);
  if (status != 0) {
    qfile_wipe_free(data, cap);
    return status;
  }
  data[used] = '\0';
  *out = data;
  if (len != NULL)
    *len = used;
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

int qf_file_open_checked(int dfd, const char *name, const char *shown,
                         size_t max, int flags, struct stat *st, char *err,
                         size_t errlen) {
  int oflags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (flags & QF_READ_NOFOLLOW)
    oflags |= O_NOFOLLOW;
  int fd = openat(dfd, name, oflags);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP)
      qf_err(err, errlen, "%s: is a symbolic link", shown);
    else
      qf_err(err, errlen, "open %s: %s", shown, strerror(e));
    return -e;
  }
  int status = 0;
  if (fstat(fd, st) != 0) {
    status = -errno;
    qf_err(err, errlen, "stat %s: %s", shown, strerror(-status));
  } else if (!S_ISREG(st->st_mode)) {
    status = -EINVAL;
    qf_err(err, errlen, "%s: not a regular file", shown);
  } else if ((status = qfile_check_mode(shown, st, flags, err, errlen)) != 0) {
    /* refused: err says why */
  } else if ((size_t)st->st_size > max) {
    status = -EFBIG;
    qf_err(err, errlen, "%s: %lld bytes, over the %zu byte limit", shown,
           (long long)st->st_size, max);
  }
  if (status != 0) {
    close(fd);
    return status;
  }
  return fd;
}

int qf_file_read_keep(const char *path, size_t max, int flags, char **out,
                      size_t *len, int *fd, struct stat *st, char *err,
                      size_t errlen) {
  *fd = qf_file_open_checked(AT_FDCWD, path, path, max, flags, st, err, errlen);
  if (*fd < 0)
    return *fd;
  int status = qfile_read_fd(*fd, max, (size_t)st->st_size, out, len);
  if (status != 0) {
    qf_err(err, errlen, "read %s: %s", path,
           status == -EFBIG ? "over the size limit" : strerror(-status));
    close(*fd);
    *fd = -1;
  }
  return status;
}

int qf_file_read(const char *path, size_t max, int flags, char **out,
                 size_t *len, char *err, size_t errlen) {
  struct stat st = {0};
  int fd = -1;
  int status =
      qf_file_read_keep(path, max, flags, out, len, &fd, &st, err, errlen);
  if (fd >= 0)
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

/* qfile_mkdir_one creates dir with want, or leaves an existing one as it is.
 * The mode is set (the umask may have narrowed it) through an
 * O_DIRECTORY|O_NOFOLLOW descriptor: a symbolic link or file swapped in after
 * mkdir is refused, never followed to chmod something else. */
static int qfile_mkdir_one(const char *dir, mode_t want, char *err,
                           size_t errlen) {
  if (mkdir(dir, want) != 0) {
    int e = errno;
    if (e == EEXIST)
      return 0;
    qf_err(err, errlen, "mkdir %s: %s", dir, strerror(e));
    return -e;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int status = fd < 0 ? -errno : fchmod(fd, want) == 0 ? 0 : -errno;
  if (fd >= 0)
    close(fd);
  if (status == -ELOOP || status == -ENOTDIR)
    qf_err(err, errlen,
           "%s: replaced by a symbolic link or a file right after mkdir; "
           "remove it and check who else writes there",
           dir);
  else if (status != 0)
    qf_err(err, errlen, "chmod %s: %s", dir, strerror(-status));
  return status;
}

int qf_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen) {
  char copy[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(copy)) {
    qf_err(err, errlen, "mkdir: bad path length");
    return -ENAMETOOLONG;
  }
  memcpy(copy, path, n + 1);
  while (n > 1 && copy[n - 1] == '/') /* "a/b/": b is the leaf */
    copy[--n] = '\0';
  for (char *p = copy + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char saved = *p;
    *p = '\0';
    int status = qfile_mkdir_one(
        copy, saved == '\0' ? mode : QF_PARENT_DIR_MODE, err, errlen);
    if (status != 0)
      return status;
    *p = saved;
    if (saved == '\0')
      break;
  }
  struct stat st;
  if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
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
