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
int qf_snapshot_write(const char *state_dir, const char *name,
                      const char *json, size_t len, char *err, size_t errlen);

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
int qf_snapshot_init(qf_snapshot_t *s, const char *state_dir,
                     const char *name);
void qf_snapshot_destroy(qf_snapshot_t *s);

/* qf_snapshot_refresh reloads when the file changed. Returns 1 when the
 * document changed (or vanished), 0 when unchanged, a negative errno when
 * the file is broken (the previous document is kept, error says why). */
int qf_snapshot_refresh(qf_snapshot_t *s);

/* qf_snapshot_take hands the current document (or NULL) to the caller, who
 * frees it with yajl_tree_free. The reader still remembers the file, so
 * refresh keeps returning 0 until the file changes: a caller that turns a
 * large document into its own structures need not keep the tree. */
yajl_val qf_snapshot_take(qf_snapshot_t *s);

#endif
