/* github_store.h: the mirror's persistence in StateDir. One JSON document
 * (format "qiflow-github-mirror", version 1) holds the items, the runs,
 * the ETags and the sync position, so they always agree; it is written
 * atomically and read back with strict type checks. Pure logic. */
#ifndef GITHUB_STORE_H
#define GITHUB_STORE_H

#include "github_mirror.h"

#include <stddef.h>

#define GH_STORE_FILE "github-mirror.json"
#define GH_STORE_MAX_BYTES (256u << 20)

/* gh_store_save writes m for repository/api_url atomically to path. */
int gh_store_save(const gh_mirror_t *m, const char *repository,
                  const char *api_url, const char *path, char *err,
                  size_t errlen);

/* gh_store_load replaces m's content with the file at path. Returns 0,
 * -ENOENT (no file), -ESTALE (the file is for another repository or API
 * URL) or another negative errno (unreadable or invalid file); on any
 * failure m is left empty (freshly initialised). */
int gh_store_load(gh_mirror_t *m, const char *repository, const char *api_url,
                  const char *path, char *err, size_t errlen);

/* gh_store_render and gh_store_parse are the two halves, exposed for
 * tests: render into a new buffer; parse text into m. */
int gh_store_render(const gh_mirror_t *m, const char *repository,
                    const char *api_url, char **out, size_t *len);
int gh_store_parse(gh_mirror_t *m, const char *repository, const char *api_url,
                   const char *text, char *err, size_t errlen);

#endif
