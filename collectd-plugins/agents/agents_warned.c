/* agents_warned.c: one warning per bad file version, not one per read. */
#include "agents_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int aw_cmp(const void *x, const void *y) {
  const agents_warned_entry_t *a = x, *b = y;
  return strcmp(a->file, b->file);
}

/* aw_same tells whether inv is the very file version and complaint that
 * entry e remembers. */
static bool aw_same(const agents_warned_entry_t *e,
                    const agents_invalid_t *inv) {
  const agents_filekey_t *a = &e->key, *b = &inv->key;
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec &&
         strcmp(e->error, inv->error) == 0;
}

/* aw_known tells whether inv was warned about last time. */
static bool aw_known(const agents_warned_t *w, const agents_invalid_t *inv) {
  if (w->n == 0)
    return false;
  agents_warned_entry_t probe = {.file = inv->file};
  const agents_warned_entry_t *e =
      bsearch(&probe, w->entries, w->n, sizeof(*w->entries), aw_cmp);
  return e != NULL && aw_same(e, inv);
}

static void aw_entries_free(agents_warned_entry_t *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(e[i].file);
    free(e[i].error);
  }
  free(e);
}

int agents_warned_update(agents_warned_t *w, const agents_result_t *r,
                         agents_warn_fn fn, void *ud) {
  agents_warned_entry_t *next = calloc(r->n_invalid + 1, sizeof(*next));
  if (next == NULL)
    return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < r->n_invalid; i++) {
    const agents_invalid_t *inv = &r->invalid[i];
    agents_warned_entry_t *e = &next[n++];
    e->file = strdup(inv->file);
    e->error = strdup(inv->error);
    e->key = inv->key;
    if (e->file == NULL || e->error == NULL) {
      aw_entries_free(next, n);
      return -ENOMEM;
    }
  }
  /* r->invalid is sorted by file, so next is too; report only once the
   * new set is complete, so a failure above repeats nothing. */
  for (size_t i = 0; i < r->n_invalid; i++)
    if (!r->invalid[i].quiet && !aw_known(w, &r->invalid[i]))
      fn(&r->invalid[i], ud);
  aw_entries_free(w->entries, w->n);
  w->entries = next;
  w->n = n;
  return 0;
}

void agents_warned_free(agents_warned_t *w) {
  aw_entries_free(w->entries, w->n);
  w->entries = NULL;
  w->n = 0;
}
