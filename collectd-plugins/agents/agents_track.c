/* agents_track.c: status transitions between reads, once each. */
#include "agents_track.h"

#include "qf_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool agents_bad(agents_status_t s) {
  return s == AGENTS_FAILED || s == AGENTS_DEAD;
}

/* The next state and the events that lead to it, built completely before
 * anything is reported so that running out of memory reports nothing. */
typedef struct at_next_s {
  agents_track_entry_t *entries;
  size_t n;
  agents_event_t *events;
  size_t n_events;
} at_next_t;

static void at_entries_free(agents_track_entry_t *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(e[i].name);
    free(e[i].file);
  }
  free(e);
}

/* at_push appends an entry with copies of name and file. */
static int at_push(at_next_t *nx, const char *name, const char *file,
                   agents_status_t status) {
  agents_track_entry_t *e = &nx->entries[nx->n];
  e->name = strdup(name);
  e->file = strdup(file);
  e->status = status;
  nx->n++; /* counted even when a copy failed, so it is freed */
  return e->name != NULL && e->file != NULL ? 0 : -ENOMEM;
}

/* at_seen handles an agent of this read, with its previous entry (or
 * NULL when it is new). */
static int at_seen(at_next_t *nx, const agents_track_entry_t *prev,
                   const agents_agent_t *a) {
  agents_event_t ev = {.name = a->name, .agent = a, .to = a->status};
  bool report = false;
  if (prev == NULL) {
    report = agents_bad(a->status);
  } else if (prev->status != a->status) {
    ev.known = true;
    ev.from = prev->status;
    report = agents_bad(a->status) || agents_bad(prev->status);
  }
  if (report) {
    ev.kind = agents_bad(a->status) ? AGENTS_EVENT_FAILURE : AGENTS_EVENT_OKAY;
    nx->events[nx->n_events++] = ev;
  }
  return at_push(nx, a->name, a->file, a->status);
}

/* at_missing handles a remembered agent absent from this read. */
static int at_missing(at_next_t *nx, const agents_track_entry_t *prev,
                      const agents_result_t *r) {
  if (agents_find_invalid(r, prev->file) != NULL)
    return at_push(nx, prev->name, prev->file, prev->status); /* hold */
  if (agents_bad(prev->status)) {
    agents_event_t ev = {.kind = AGENTS_EVENT_OKAY,
                         .name = prev->name,
                         .known = true,
                         .from = prev->status,
                         .to = prev->status};
    nx->events[nx->n_events++] = ev;
  }
  return 0;
}

/* at_merge walks the previous entries and the agents, both sorted by
 * name, into nx. */
static int at_merge(const agents_track_t *t, const agents_result_t *r,
                    at_next_t *nx) {
  size_t i = 0, j = 0;
  int status = 0;
  while (status == 0 && (i < t->n || j < r->n_agents)) {
    int c;
    if (i == t->n)
      c = 1;
    else if (j == r->n_agents)
      c = -1;
    else
      c = strcmp(t->entries[i].name, r->agents[j].name);
    if (c < 0)
      status = at_missing(nx, &t->entries[i++], r);
    else if (c > 0)
      status = at_seen(nx, NULL, &r->agents[j++]);
    else
      status = at_seen(nx, &t->entries[i++], &r->agents[j++]);
  }
  return status;
}

int agents_track_update(agents_track_t *t, const agents_result_t *r,
                        agents_event_fn fn, void *ud) {
  size_t cap = t->n + r->n_agents + 1;
  at_next_t nx = {.entries = calloc(cap, sizeof(*nx.entries)),
                  .events = calloc(cap, sizeof(*nx.events))};
  int status = nx.entries && nx.events ? at_merge(t, r, &nx) : -ENOMEM;
  if (status != 0) {
    at_entries_free(nx.entries, nx.n);
    free(nx.events);
    return status;
  }
  /* Events point into t (removals) and r: report before freeing t. */
  for (size_t k = 0; k < nx.n_events; k++)
    fn(&nx.events[k], ud);
  free(nx.events);
  at_entries_free(t->entries, t->n);
  t->entries = nx.entries;
  t->n = nx.n;
  return 0;
}

/* at_cmp orders by name, then file, so that of a name repeated in a
 * hand-edited snapshot the entry of the first file wins, as in a read. */
static int at_cmp(const void *x, const void *y) {
  const agents_track_entry_t *a = x, *b = y;
  int c = strcmp(a->name, b->name);
  return c != 0 ? c : strcmp(a->file, b->file);
}

/* at_seed_one appends the snapshot agent v to nx if it is readable. */
static int at_seed_one(at_next_t *nx, yajl_val v) {
  const char *name = qf_json_get_str(v, "name");
  const char *file = qf_json_get_str(v, "file");
  agents_status_t s;
  if (name == NULL || file == NULL ||
      agents_status_parse(qf_json_get_str(v, "status"), &s) != 0)
    return 0;
  return at_push(nx, name, file, s);
}

int agents_track_seed(agents_track_t *t, const char *snapshot_json) {
  yajl_val doc = qf_json_parse(snapshot_json, NULL, 0);
  yajl_val list = qf_json_get(doc, "agents");
  if (!YAJL_IS_ARRAY(list)) {
    yajl_tree_free(doc);
    return -EINVAL;
  }
  size_t len = list->u.array.len;
  at_next_t nx = {.entries = calloc(len + 1, sizeof(*nx.entries))};
  int status = nx.entries != NULL ? 0 : -ENOMEM;
  for (size_t i = 0; status == 0 && i < len; i++)
    status = at_seed_one(&nx, list->u.array.values[i]);
  yajl_tree_free(doc);
  if (status != 0) {
    at_entries_free(nx.entries, nx.n);
    return status;
  }
  qsort(nx.entries, nx.n, sizeof(*nx.entries), at_cmp);
  size_t kept = 0; /* a hand-edited snapshot may repeat a name */
  for (size_t i = 0; i < nx.n; i++) {
    if (kept > 0 &&
        strcmp(nx.entries[kept - 1].name, nx.entries[i].name) == 0) {
      free(nx.entries[i].name);
      free(nx.entries[i].file);
      continue;
    }
    nx.entries[kept++] = nx.entries[i];
  }
  agents_track_free(t);
  t->entries = nx.entries;
  t->n = kept;
  return 0;
}

void agents_track_free(agents_track_t *t) {
  at_entries_free(t->entries, t->n);
  t->entries = NULL;
  t->n = 0;
}
