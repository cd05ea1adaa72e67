/* qf_file.h: bounded reads, atomic writes and directories. */
#ifndef QF_FILE_H
#define QF_FILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* qf_file_write_atomic replaces path with data: a temporary file in the same
 * directory, fsync, rename, fsync of the directory. On any failure the old
 * file stays intact and the temporary is removed. 0 or a negative errno. */
int qf_file_write_atomic(const char *path, const void *data, size_t len,
                         mode_t mode, char *err, size_t errlen);

/* A file being written in place of path, for writers that stream: open a
 * temporary in path's directory, write to fd, then commit. */
typedef struct qf_atomic_s {
  char path[4096];
  char tmp[4096 + 16];
  int fd; /* the temporary, open between open and commit */
} qf_atomic_t;

/* qf_atomic_open creates the temporary (mode 0600) beside path. 0, or a
 * negative errno with the reason in err (nothing to commit then). */
int qf_atomic_open(qf_atomic_t *a, const char *path, char *err, size_t errlen);
/* qf_atomic_commit ends what qf_atomic_open began. With status 0 (the
 * writer's outcome) it sets mode, fsyncs (and fstats into st when not
 * NULL), closes and renames the temporary over path, then fsyncs the
 * directory; otherwise, or when a step fails, it closes and removes the
 * temporary, path left as it was, and says which step failed in err. The
 * outcome: 0 or a negative errno. */
int qf_atomic_commit(qf_atomic_t *a, int status, mode_t mode, struct stat *st,
                     char *err, size_t errlen);

/* Flags for qf_file_read. */
#define QF_READ_NOFOLLOW 0x1 /* refuse symbolic links */
/* Secrets: refuse (-EPERM, with the chmod that fixes it in err) a file
 * whose mode grants anything to group or others (PRIVATE, mode & 077), or
 * to others (NOT_PUBLIC, mode & 007: keys shared with a group such as
 * ssl-cert). The mode is checked on the opened file, not on the path. */
#define QF_READ_PRIVATE 0x2
#define QF_READ_NOT_PUBLIC 0x4

/* qf_write_all writes the len bytes of buf to fd, retrying on EINTR and
 * short writes. 0, or a negative errno (-EIO when write makes no
 * progress). */
int qf_write_all(int fd, const void *buf, size_t len);
/* qf_write_at is qf_write_all at offset off with pwrite (the file offset
 * unmoved), or with write when off < 0. */
int qf_write_at(int fd, const void *buf, size_t len, off_t off);

/* qf_read_full reads into buf until len bytes are read or the file ends,
 * retrying on EINTR and short reads: at off with pread when off >= 0, else
 * from the file position with read. The count read (less than len only at
 * the end of the file), or a negative errno. */
ssize_t qf_read_full(int fd, void *buf, size_t len, off_t off);

/* qf_file_open_checked opens name (relative to the directory dfd, or
 * AT_FDCWD) for reading and checks what qf_file_read checks: a regular file
 * of at most max bytes, with QF_READ_NOFOLLOW no symbolic link, with
 * QF_READ_PRIVATE / QF_READ_NOT_PUBLIC no access for others. Fills *st.
 * Returns the open descriptor (the caller closes it), or a negative errno
 * with the reason, naming shown, in err. */
int qf_file_open_checked(int dfd, const char *name, const char *shown,
                         size_t max, int flags, struct stat *st, char *err,
                         size_t errlen);

/* qf_file_read reads a regular file of at most max bytes into a new
 * NUL-terminated buffer that the caller frees. Refuses non-regular files
 * (-EINVAL), larger files (-EFBIG), with QF_READ_NOFOLLOW symlinks
 * (-ELOOP), and with QF_READ_PRIVATE / QF_READ_NOT_PUBLIC files others may
 * read (-EPERM). 0 or a negative errno, with a message in err. */
int qf_file_read(const char *path, size_t max, int flags, char **out,
                 size_t *len, char *err, size_t errlen);

/* qf_file_read_keep is qf_file_read that leaves the file open: *fd (the
 * caller closes it) and *st describe the file read, so that it can be read
 * again later even once renamed over or removed. */
int qf_file_read_keep(const char *path, size_t max, int flags, char **out,
                      size_t *len, int *fd, struct stat *st, char *err,
                      size_t errlen);

/* qf_secret_read reads a one-line secret (a token, an API key) the way every
 * part does: qf_file_read with flags QF_READ_PRIVATE (the exporter's token)
 * or QF_READ_NOT_PUBLIC (the plugins' keys, which a collectd group may
 * read): a regular file, else -EINVAL; one the mode rule refuses, -EPERM
 * with the chmod that fixes it; at most max bytes (a larger file: -EFBIG,
 * a longer line: -EINVAL) besides one trailing "\n" or "\r\n", dropped.
 * *out is NUL-terminated, *len (may be NULL) its length; the caller frees
 * it (wiping it first). Errors in err name the file, after what (the
 * setting, e.g. "APIKeyFile") unless NULL. 0 or a negative errno. */
int qf_secret_read(const char *what, const char *path, size_t max, int flags,
                   char **out, size_t *len, char *err, size_t errlen);

/* The documented mode of StateDir (contrib/systemd/qiflow.tmpfiles): the
 * exporter's user reads the snapshots, only root writes. */
#define QF_STATE_DIR_MODE 0755
/* Missing parents qf_mkdir_p creates are searchable by everyone, so a
 * private leaf (the heartbeat spool, 0700) never narrows a parent. */
#define QF_PARENT_DIR_MODE 0755

/* qf_mkdir_p creates path with mode and its missing parents with
 * QF_PARENT_DIR_MODE. Directories it creates get exactly that mode (the
 * umask does not narrow it); existing ones are left as they are. */
int qf_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen);

/* QF_STATE_DIR, the default StateDir and --state-dir, is CMake's cache
 * variable of that name, defined for every part. */
#ifndef QF_STATE_DIR
#error "QF_STATE_DIR is not defined: build with CMake (-DQF_STATE_DIR=...)"
#endif

/* qf_state_dir_make creates StateDir (and parents) with QF_STATE_DIR_MODE;
 * every plugin calls it, so the mode does not depend on which loads first. */
int qf_state_dir_make(const char *path, char *err, size_t errlen);

/* qf_path_join writes "dir/name" into out; -ENAMETOOLONG if it cannot fit. */
int qf_path_join(char *out, size_t outlen, const char *dir, const char *name);

#endif
