/* github_store.h: the mirror's persistence in StateDir. One JSON document
 * (format "qiflow-github-mirror", version 1) holds the items, the runs,
 * the ETags and the sync position, so they always agree; it is written
 * atomically and read back with strict type checks. Pure logic.
 *
 * The file is also where closed items live while the plugin runs: loading
 * and saving leave them cold (gh_cold_t: numbers, times and the place of
 * their record), the file kept open, and a save copies their records
 * instead of rendering them. gh_thaw reads one back whole. */
#ifndef GITHUB_STORE_H
#define GITHUB_STORE_H

#include "github_mirror.h"
#include "qf_buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GH_STORE_FILE "github-mirror.json"
#define GH_STORE_MAX_BYTES (256u << 20)

/* Where one record went in the file written. */
typedef struct gh_span_s {
  uint32_t at, len;
} gh_span_t;

/* gh_store_save writes m for repository/api_url atomically to path; the
 * file written becomes m's cold file, and the whole items that may be cold
 * (gh_item_freezable) become so (m's generation then moves); when most
 * did, the rest are gathered in memory (read back from one buffer). 0; 1
 * when stored but that gathering failed (err says so; the cursor is reset,
 * the next cycle lists again); or a negative errno (not stored, err). */
int gh_store_save(gh_mirror_t *m, const char *repository, const char *api_url,
                  const char *path, char *err, size_t errlen);

/* gh_store_check tells whether m's cold file is still as written or read:
 * 0, or -ESTALE when another program changed it in place (its records can
 * no longer be trusted: drop the cold items and list again). */
int gh_store_check(const gh_mirror_t *m);

/* A window over a file read at offsets, a chunk at a time: reads in either
 * direction of the file stay cheap. It does not own fd. */
typedef struct gh_window_s {
  int fd;
  char *buf;
  size_t cap, have;
  size_t off; /* of buf in the file */
} gh_window_t;

void gh_window_init(gh_window_t *w, int fd);
void gh_window_free(gh_window_t *w);
/* gh_window_get points *p at the len bytes at offset at of w's file
 * (valid until the next call). 0, -EIO (the file is shorter), -EBADF (no
 * file), -ENOMEM or another negative errno. */
int gh_window_get(gh_window_t *w, size_t at, size_t len, const char **p);

/* A reader of cold records: a window of the mirror file, and the record
 * being parsed. */
typedef struct gh_thaw_s {
  gh_window_t win;
  qf_buf_t rec;
} gh_thaw_t;

void gh_thaw_init(gh_thaw_t *t, const gh_mirror_t *m);
void gh_thaw_free(gh_thaw_t *t);
/* gh_thaw_bytes points *p at c's record (valid until the next call). 0,
 * -EIO (the file is shorter), -ENOMEM or another negative errno. */
int gh_thaw_bytes(gh_thaw_t *t, const gh_cold_t *c, const char **p);
/* gh_thaw reads c's record back as a whole item (*out, the caller frees
 * it). 0 or a negative errno with the reason in err. */
int gh_thaw(gh_thaw_t *t, const gh_cold_t *c, gh_item_t **out, char *err,
            size_t errlen);

/* gh_store_load replaces m's content with the file at path. Returns 0,
 * -ENOENT (no file), -ESTALE (the file is for another repository or API
 * URL) or another negative errno (unreadable or invalid file); on any
 * failure m is left empty (freshly initialised). Closed items stay cold,
 * the file kept open as m's cold file. */
int gh_store_load(gh_mirror_t *m, const char *repository, const char *api_url,
                  const char *path, char *err, size_t errlen);

/* gh_store_render and gh_store_parse are the two halves, exposed for
 * tests: render into a new buffer (cold records read from the cold file);
 * parse text into m (every item whole). */
int gh_store_render(const gh_mirror_t *m, const char *repository,
                    const char *api_url, char **out, size_t *len);
int gh_store_parse(gh_mirror_t *m, const char *repository, const char *api_url,
                   const char *text, char *err, size_t errlen);

#endif
