/* qf_snapshot.h: the JSON documents the parts exchange through StateDir. */
#ifndef QF_SNAPSHOT_H
#define QF_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#define QF_SNAPSHOT_SCHEMA_VERSION 1
#define QF_SNAPSHOT_MAX_BYTES (64u << 20) /* refuse larger snapshot files */

/* qf_snapshot_write atomically writes a document to state_dir/name. */
int qf_snapshot_write(const char *state_dir, const char *name, const char *json,
                      size_t len, char *err, size_t errlen);

/* A reader that re-parses a snapshot only when the file changed. */
typedef struct qf_snapshot_s {
  char *path;
  yajl_val doc;      /* the last good parse, or NULL: "no data yet" */
  time_t updated_at; /* the document's updated_at, 0 if unknown */
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  char error[256]; /* why the last load failed, "" when it did not */
} qf_snapshot_t;

/* qf_snapshot_init prepares a reader of state_dir/name; 0 or -ENOMEM. */
int qf_snapshot_init(qf_snapshot_t *s, const char *state_dir, const char *name);
void qf_snapshot_destroy(qf_snapshot_t *s);

/* qf_snapshot_refresh reloads when the file changed. Returns 1 when the
 * document changed (or vanished), 0 when unchanged, a negative errno when
 * the file is broken (the previous document is kept, error says why). */
int qf_snapshot_refresh(qf_snapshot_t *s);

/* qf_snapshot_refresh_text is qf_snapshot_refresh for a caller that parses
 * the file itself (to avoid holding a large document as one tree): when the
 * file changed, 1 is returned and *text receives its contents
 * (NUL-terminated, *len bytes; the caller frees it), doc stays NULL; when
 * it vanished, 1 with *text NULL; unchanged 0; unreadable a negative errno.
 * A caller that finds the text unusable says why with qf_snapshot_fail. */
int qf_snapshot_refresh_text(qf_snapshot_t *s, char **text, size_t *len);

/* qf_snapshot_refresh_fd is qf_snapshot_refresh_text for a caller that
 * reads the file itself, a part at a time: when the file changed, 1 is
 * returned and *fd is open on it (the caller closes it), *len bytes long,
 * checked as qf_file_read checks; when it vanished, 1 with *fd -1;
 * unchanged 0; unreadable a negative errno. */
int qf_snapshot_refresh_fd(qf_snapshot_t *s, int *fd, size_t *len);

/* qf_snapshot_fail records why the file just read is unusable: until it
 * changes, refreshing returns -EINVAL and error reads "<path>: <why>". */
void qf_snapshot_fail(qf_snapshot_t *s, const char *why);

/* qf_snapshot_take hands the current document (or NULL) to the caller, who
 * frees it with yajl_tree_free. The reader still remembers the file, so
 * refresh keeps returning 0 until the file changes: a caller that turns a
 * large document into its own structures need not keep the tree. */
yajl_val qf_snapshot_take(qf_snapshot_t *s);

#endif
