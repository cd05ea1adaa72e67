/* heartbeat_project.h: what the heartbeat keeps of project.json — the
 * document without its issue list, the first flagged issues and how many
 * are flagged in all — so a large repository's file (2.3 MB for 5,000
 * issues) is never held as one tree. */
#ifndef HEARTBEAT_PROJECT_H
#define HEARTBEAT_PROJECT_H

#include "qf_snapshot.h"

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define HB_PROJECT_MAX_FLAGGED 3 /* flagged issues kept (and listed) */

/* hb_project_t owns every tree it points to; zeroed it means "no data
 * yet". */
typedef struct hb_project_s {
  /* project.json with its issue list emptied ("issues": []), or NULL */
  yajl_val doc;
  /* the first flagged issues, in project.json order: n_kept of them */
  yajl_val flagged[HB_PROJECT_MAX_FLAGGED];
  size_t n_kept;
  long long n_flagged; /* every flagged issue, kept or not */
} hb_project_t;

/* hb_project_load parses the project.json text[0, len) and, only once it
 * is complete, replaces what p held (freeing that); on failure p is left
 * as it was, the last good data. An issue counts as flagged when it is an
 * object whose "flagged" is true. When the head (the members before
 * "issues") gives completion.flagged_issues, the text is read only until
 * the issues listed are found and n_flagged is that count. 0, -EINVAL (invalid
 * JSON or no object, why in err) or -ENOMEM. */
int hb_project_load(hb_project_t *p, const char *text, size_t len, char *err,
                    size_t errlen);

/* hb_project_refresh reads the snapshot file s->path into p when it
 * changed (s keeps its identity and, when it is unusable, why in
 * s->error), as hb_project_load does its text, but from the file a piece
 * at a time: when the head gives completion.flagged_issues, reading stops
 * once the first flagged issues are kept, and that count is n_flagged.
 * Returns 1 when p changed (or the file vanished: p emptied), 0 when the
 * file is unchanged, a negative errno when it is broken or unreadable (p
 * keeps the last good data). */
int hb_project_refresh(hb_project_t *p, qf_snapshot_t *s);

/* hb_project_free releases what p holds and leaves it zeroed (no data). */
void hb_project_free(hb_project_t *p);

#endif
