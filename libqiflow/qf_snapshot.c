/* qf_snapshot.c: the JSON documents the parts exchange through StateDir. */
#include "qf_snapshot.h"
#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int qf_snapshot_write(const char *state_dir, const char *name, const char *json,
                      size_t len, char *err, size_t errlen) {
  char path[4096];
  if (qf_path_join(path, sizeof(path), state_dir, name) != 0) {
    qf_err(err, errlen, "%s/%s: path too long", state_dir, name);
    return -ENAMETOOLONG;
  }
  return qf_file_write_atomic(path, json, len, 0644, err, errlen);
}

int qf_snapshot_init(qf_snapshot_t *s, const char *state_dir,
                     const char *name) {
  memset(s, 0, sizeof(*s));
  size_t n = strlen(state_dir) + strlen(name) + 2;
  s->path = malloc(n);
  if (s->path == NULL)
    return -ENOMEM;
  qf_path_join(s->path, n, state_dir, name);
  return 0;
}

void qf_snapshot_destroy(qf_snapshot_t *s) {
  if (s->doc != NULL)
    yajl_tree_free(s->doc);
  free(s->path);
  memset(s, 0, sizeof(*s));
}

/* qsnap_same tells whether st describes the file already loaded. */
static bool qsnap_same(const qf_snapshot_t *s, const struct stat *st) {
  return s->dev == st->st_dev && s->ino == st->st_ino &&
         s->size == st->st_size && s->mtime.tv_sec == st->st_mtim.tv_sec &&
         s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* qsnap_forget drops the document: the file is gone. */
static int qsnap_forget(qf_snapshot_t *s) {
  bool had = s->doc != NULL || s->ino != 0;
  if (s->doc != NULL)
    yajl_tree_free(s->doc);
  s->doc = NULL;
  s->updated_at = 0;
  s->dev = 0;
  s->ino = 0;
  s->size = 0;
  s->error[0] = '\0';
  return had ? 1 : 0;
}

/* qsnap_changed tells whether the file changed since last looked at: 1
 * (its identity now remembered, so a broken file is not read again until
 * it changes), 0 unchanged (-EINVAL when it was found broken), 1 after
 * forgetting a file that vanished (*gone set), or a negative errno. */
static int qsnap_changed(qf_snapshot_t *s, bool *gone) {
  struct stat st;
  *gone = false;
  if (stat(s->path, &st) != 0) {
    *gone = errno == ENOENT;
    return *gone ? qsnap_forget(s) : -errno;
  }
  if (qsnap_same(s, &st))
    return s->error[0] ? -EINVAL : 0;
  s->dev = st.st_dev;
  s->ino = st.st_ino;
  s->size = st.st_size;
  s->mtime = st.st_mtim;
  return 1;
}

/* qsnap_read reads the file when it changed: 1 with *text (the
 * caller frees it), 0 unchanged, 1 with *text NULL when it vanished, or a
 * negative errno (error says why). */
static int qsnap_read(qf_snapshot_t *s, char **text, size_t *len) {
  bool gone;
  *text = NULL;
  int status = qsnap_changed(s, &gone);
  if (status != 1 || gone)
    return status;
  status = qf_file_read(s->path, QF_SNAPSHOT_MAX_BYTES, 0, text, len, s->error,
                        sizeof(s->error));
  return status != 0 ? status : 1;
}

/* qsnap_new drops what the reader holds of the last file: a new one is
 * in. */
static void qsnap_new(qf_snapshot_t *s) {
  if (s->doc != NULL)
    yajl_tree_free(s->doc);
  s->doc = NULL;
  s->updated_at = 0;
  s->error[0] = '\0';
}

int qf_snapshot_refresh_text(qf_snapshot_t *s, char **text, size_t *len) {
  int status = qsnap_read(s, text, len);
  if (status == 1 && *text != NULL)
    qsnap_new(s);
  return status;
}

int qf_snapshot_refresh_fd(qf_snapshot_t *s, int *fd, size_t *len) {
  bool gone;
  *fd = -1;
  int status = qsnap_changed(s, &gone);
  if (status != 1 || gone)
    return status;
  struct stat st;
  *fd = qf_file_open_checked(AT_FDCWD, s->path, s->path, QF_SNAPSHOT_MAX_BYTES,
                             0, &st, s->error, sizeof(s->error));
  if (*fd < 0) {
    int rc = *fd;
    *fd = -1;
    return rc;
  }
  *len = (size_t)st.st_size;
  qsnap_new(s);
  return 1;
}

void qf_snapshot_fail(qf_snapshot_t *s, const char *why) {
  qf_err(s->error, sizeof(s->error), "%s: %s", s->path, why);
}

int qf_snapshot_refresh(qf_snapshot_t *s) {
  char *text = NULL;
  int status = qsnap_read(s, &text, NULL);
  if (status != 1 || text == NULL)
    return status;
  char perr[200];
  yajl_val doc = qf_json_parse(text, perr, sizeof(perr));
  free(text);
  if (!YAJL_IS_OBJECT(doc)) {
    qf_err(s->error, sizeof(s->error), "%s: %s", s->path,
           doc == NULL ? perr : "not a JSON object");
    if (doc != NULL)
      yajl_tree_free(doc);
    return -EINVAL;
  }
  if (s->doc != NULL)
    yajl_tree_free(s->doc);
  s->doc = doc;
  s->error[0] = '\0';
  time_t t = 0;
  s->updated_at =
      qf_time_parse(qf_json_get_str(doc, "updated_at"), &t) == 0 ? t : 0;
  return 1;
}

yajl_val qf_snapshot_take(qf_snapshot_t *s) {
  yajl_val doc = s->doc;
  s->doc = NULL;
  return doc;
}
