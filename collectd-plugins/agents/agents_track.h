/* agents_track.h: what the plugin remembers between reads, so each status
 * transition is notified once and each bad file is warned about once. */
#ifndef AGENTS_TRACK_H
#define AGENTS_TRACK_H

#include "agents.h"

/* --- status transitions (agents_track.c) --- */

typedef struct agents_track_entry_s {
  char *name;
  char *file;
  agents_status_t status;
} agents_track_entry_t;

/* The last derived status per agent name, sorted by name. */
typedef struct agents_track_s {
  agents_track_entry_t *entries;
  size_t n;
} agents_track_t;

typedef enum agents_event_kind_e {
  AGENTS_EVENT_FAILURE, /* the agent entered failed or dead */
  AGENTS_EVENT_OKAY     /* it left failed/dead, or its file went away */
} agents_event_kind_t;

typedef struct agents_event_s {
  agents_event_kind_t kind;
  const char *name;
  const agents_agent_t *agent; /* NULL when its file left the registry */
  bool known;                  /* false: first sighting, from is meaningless */
  agents_status_t from;        /* the previous status */
  agents_status_t to;          /* the new status; equals from for a removal */
} agents_event_t;

typedef void (*agents_event_fn)(const agents_event_t *ev, void *ud);

/* agents_bad tells whether a status raises a FAILURE. */
bool agents_bad(agents_status_t s);

/* agents_track_update compares a finished result with the statuses seen
 * last time and calls fn once per transition, then remembers the result:
 * - any change into failed or dead (including a first sighting, and
 *   failed <-> dead): FAILURE;
 * - a change from failed/dead to another status: OKAY;
 * - an agent whose file is gone: OKAY when it was failed/dead, forgotten;
 * - an agent whose file is still there but now invalid: kept as it was
 *   (an unreadable file is no evidence of recovery).
 * On -ENOMEM nothing is reported and the old state is kept. */
int agents_track_update(agents_track_t *t, const agents_result_t *r,
                        agents_event_fn fn, void *ud);

/* agents_track_seed loads the statuses of a previous agents.json, so a
 * restart does not repeat FAILUREs already raised. Entries it cannot read
 * are skipped. 0, -EINVAL (not a snapshot) or -ENOMEM. */
int agents_track_seed(agents_track_t *t, const char *snapshot_json);

void agents_track_free(agents_track_t *t);

/* --- warned files (agents_warned.c) --- */

typedef struct agents_warned_entry_s {
  char *file;
  char *error;
  agents_filekey_t key;
} agents_warned_entry_t;

/* The invalid files already warned about, sorted by file. */
typedef struct agents_warned_s {
  agents_warned_entry_t *entries;
  size_t n;
} agents_warned_t;

typedef void (*agents_warn_fn)(const agents_invalid_t *inv, void *ud);

/* agents_warned_update calls fn for each invalid file of the finished
 * result r that is not quiet and was not warned about last time with the
 * same key and error, then remembers r's invalid files (a file that turns
 * valid or disappears is forgotten, so it is warned about again if it
 * breaks again). 0 or -ENOMEM (the old set is kept). */
int agents_warned_update(agents_warned_t *w, const agents_result_t *r,
                         agents_warn_fn fn, void *ud);

void agents_warned_free(agents_warned_t *w);

#endif
