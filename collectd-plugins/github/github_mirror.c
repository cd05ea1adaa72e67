/* github_mirror.c: the local copy of a repository's issues and pull
 * requests, its workflow runs and the ETags of conditional URLs. */
#include "github_mirror.h"

#include "qf_buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int gh_set_str(char **dst, const char *s) {
  char *copy = NULL;
  if (s != NULL && (copy = strdup(s)) == NULL)
    return -ENOMEM;
  free(*dst);
  *dst = copy;
  return 0;
}

/* ghm_strv_bytes is how many bytes the strings of sv take, NULs included. */
static size_t ghm_strv_bytes(const gh_strv_t *sv) {
  size_t bytes = 0;
  for (size_t i = 0; i < sv->n; i++)
    bytes += strlen(sv->v[i]) + 1;
  return bytes;
}

int gh_strv_push(gh_strv_t *sv, const char *s) {
  /* One block: the n + 1 pointers, then the strings they point to. An
   * item's few labels cost one allocation instead of one per label. */
  size_t old = ghm_strv_bytes(sv), len = strlen(s) + 1;
  size_t head = (sv->n + 1) * sizeof(char *);
  char **v = malloc(head + old + len);
  if (v == NULL)
    return -ENOMEM;
  char *p = (char *)v + head;
  for (size_t i = 0; i < sv->n; i++) {
    size_t l = strlen(sv->v[i]) + 1;
    memcpy(p, sv->v[i], l);
    v[i] = p;
    p += l;
  }
  memcpy(p, s, len);
  v[sv->n] = p;
  free(sv->v);
  sv->v = v;
  sv->n++;
  return 0;
}

void gh_strv_free(gh_strv_t *sv) {
  free(sv->v); /* the strings live in the same block */
  sv->v = NULL;
  sv->n = 0;
}

int gh_strv_copy(gh_strv_t *dst, const gh_strv_t *src) {
  gh_strv_t tmp = {NULL, 0};
  for (size_t i = 0; i < src->n; i++) {
    if (gh_strv_push(&tmp, src->v[i]) != 0) {
      gh_strv_free(&tmp);
      return -ENOMEM;
    }
  }
  gh_strv_free(dst);
  *dst = tmp;
  return 0;
}

/* ghm_strv_equal compares two string arrays element by element. */
static bool ghm_strv_equal(const gh_strv_t *a, const gh_strv_t *b) {
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], b->v[i]) != 0)
      return false;
  return true;
}

/* The state_reason values GitHub sends, shared by every item that has one;
 * any other value stays the item's own string. Never written through. */
static char ghm_reasons[][12] = {"completed", "not_planned", "reopened",
                                 "duplicate"};
#define GHM_NREASONS (sizeof(ghm_reasons) / sizeof(ghm_reasons[0]))

/* ghm_intern_reason points it's state_reason to the shared copy. */
static void ghm_intern_reason(gh_item_t *it) {
  if (it->state_reason == NULL || it->reason_shared)
    return;
  for (size_t i = 0; i < GHM_NREASONS; i++) {
    if (strcmp(it->state_reason, ghm_reasons[i]) == 0) {
      free(it->state_reason);
      it->state_reason = ghm_reasons[i];
      it->reason_shared = true;
      return;
    }
  }
}

gh_item_t *gh_item_new(long long number) {
  gh_item_t *it = calloc(1, sizeof(*it));
  if (it != NULL)
    it->number = number;
  return it;
}

static const gh_pr_t ghm_no_pr;

const gh_pr_t *gh_item_pr(const gh_item_t *it) {
  return it->pr != NULL ? it->pr : &ghm_no_pr;
}

gh_pr_t *gh_item_pr_mut(gh_item_t *it) {
  if (it->pr == NULL)
    it->pr = calloc(1, sizeof(*it->pr));
  return it->pr;
}

void gh_pr_clear(gh_pr_t *d) {
  free(d->branch);
  free(d->head_sha);
  free(d->mergeable_state);
  memset(d, 0, sizeof(*d));
}

int gh_item_set_pr(gh_item_t *it, gh_pr_t *d) {
  if (d->branch == NULL && d->head_sha == NULL && d->mergeable_state == NULL &&
      d->nlinks == 0)
    return 0;
  gh_pr_t *p = gh_item_pr_mut(it);
  if (p == NULL) {
    gh_pr_clear(d);
    return -ENOMEM;
  }
  gh_pr_clear(p);
  *p = *d;
  memset(d, 0, sizeof(*d));
  return 0;
}

void gh_item_free(gh_item_t *it) {
  if (it == NULL)
    return;
  if (!it->reason_shared)
    free(it->state_reason);
  free(it->title);
  free(it->html_url);
  gh_strv_free(&it->labels);
  gh_strv_free(&it->assignees);
  if (it->pr != NULL)
    gh_pr_clear(it->pr);
  free(it->pr);
  free(it);
}

/* ghm_url_tail writes the derived tail of it's URL ("/pull/12") into buf. */
static void ghm_url_tail(const gh_item_t *it, char *buf, size_t len) {
  snprintf(buf, len, "/%s/%lld", it->is_pr ? "pull" : "issues", it->number);
}

const char *gh_item_url(const gh_mirror_t *m, const gh_item_t *it, char *buf,
                        size_t len) {
  if (it->html_url != NULL || m->url_base == NULL)
    return it->html_url;
  char tail[48];
  ghm_url_tail(it, tail, sizeof(tail));
  int n = snprintf(buf, len, "%s%s", m->url_base, tail);
  return n >= 0 && (size_t)n < len ? buf : NULL;
}

/* ghm_compact_url drops it's html_url when the mirror's base derives it,
 * learning the base from the first URL of the usual form. */
static void ghm_compact_url(gh_mirror_t *m, gh_item_t *it) {
  char tail[48];
  if (it->html_url == NULL)
    return;
  ghm_url_tail(it, tail, sizeof(tail));
  size_t ul = strlen(it->html_url), tl = strlen(tail);
  if (ul <= tl || strcmp(it->html_url + ul - tl, tail) != 0)
    return;
  if (m->url_base == NULL) /* on ENOMEM the URL is just kept in full */
    m->url_base = strndup(it->html_url, ul - tl);
  if (m->url_base == NULL || strlen(m->url_base) != ul - tl ||
      strncmp(m->url_base, it->html_url, ul - tl) != 0)
    return;
  free(it->html_url);
  it->html_url = NULL;
}

/* ghm_name_find returns the index of name in m->names, or where it would
 * go; *found tells which. */
static size_t ghm_name_find(const gh_mirror_t *m, const char *name,
                            bool *found) {
  size_t lo = 0, hi = m->nnames;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(m->names[mid], name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

/* ghm_name returns the mirror's copy of name, adding it; NULL on ENOMEM. */
static char *ghm_name(gh_mirror_t *m, const char *name) {
  bool found;
  size_t i = ghm_name_find(m, name, &found);
  if (found)
    return m->names[i];
  if (m->nnames == m->capnames) {
    size_t cap = m->capnames ? m->capnames * 2 : 64;
    char **names = realloc(m->names, cap * sizeof(*names));
    if (names == NULL)
      return NULL;
    m->names = names;
    m->capnames = cap;
  }
  char *copy = strdup(name);
  if (copy == NULL)
    return NULL;
  memmove(m->names + i + 1, m->names + i, (m->nnames - i) * sizeof(char *));
  m->names[i] = copy;
  m->nnames++;
  return copy;
}

/* ghm_share_strv makes sv's block hold only pointers to the mirror's
 * names; on ENOMEM it stays as it is (its own copies). */
static void ghm_share_strv(gh_mirror_t *m, gh_strv_t *sv) {
  if (sv->n == 0)
    return;
  char **v = malloc(sv->n * sizeof(char *));
  for (size_t i = 0; v != NULL && i < sv->n; i++) {
    if ((v[i] = ghm_name(m, sv->v[i])) == NULL) {
      free(v);
      return;
    }
  }
  if (v == NULL)
    return;
  free(sv->v);
  sv->v = v;
}

void gh_run_free(gh_run_t *r) {
  free(r->branch);
  r->branch = NULL;
}

void gh_mirror_init(gh_mirror_t *m) {
  memset(m, 0, sizeof(*m));
  m->cold_fd = -1;
  m->commits_count = -1;
  m->rl_limit = m->rl_remaining = m->rl_reset = -1;
}

void gh_mirror_free(gh_mirror_t *m) {
  for (size_t i = 0; i < m->n; i++)
    gh_item_free(m->items[i]);
  free(m->items);
  gh_mirror_drop_cold(m);
  free(m->url_base);
  for (size_t i = 0; i < m->nnames; i++)
    free(m->names[i]);
  free(m->names);
  for (size_t i = 0; i < m->nruns; i++)
    gh_run_free(&m->runs[i]);
  free(m->runs);
  for (size_t i = 0; i < m->netags; i++) {
    free(m->etags[i].url);
    free(m->etags[i].etag);
  }
  free(m->etags);
  free(m->list_next);
  free(m->recon_url);
  unsigned long long gen = m->gen;
  gh_mirror_init(m);
  m->gen = gen + 1; /* figures of the old content are stale */
}

void gh_mirror_touch(gh_mirror_t *m) { m->gen++; }

size_t gh_mirror_count(const gh_mirror_t *m) { return m->n + m->ncold; }

void gh_mirror_drop_cold(gh_mirror_t *m) {
  if (m->cold_fd >= 0)
    close(m->cold_fd);
  m->cold_fd = -1;
  if (m->ncold > 0)
    gh_mirror_touch(m);
  free(m->cold);
  m->cold = NULL;
  m->ncold = m->capcold = 0;
}

void gh_mirror_set_cold(gh_mirror_t *m, gh_cold_t *cold, size_t n, int fd,
                        const struct stat *st) {
  if (m->cold_fd >= 0 && m->cold_fd != fd)
    close(m->cold_fd);
  free(m->cold);
  m->cold = cold;
  m->ncold = m->capcold = n;
  m->cold_fd = fd;
  m->cold_st = *st;
  if (m->cap > 2 * m->n + 64) { /* most items went cold: give room back */
    gh_item_t **items = realloc(m->items, (m->n + 64) * sizeof(gh_item_t *));
    if (items != NULL) {
      m->items = items;
      m->cap = m->n + 64;
    }
  }
}

bool gh_item_freezable(const gh_item_t *it) {
  return !it->open && it->notified == 0 && it->number > 0 &&
         it->number <= UINT32_MAX && it->created_at >= 0 &&
         it->created_at <= UINT32_MAX && it->updated_at >= 0 &&
         it->updated_at <= UINT32_MAX && it->closed_at >= 0 &&
         it->closed_at <= UINT32_MAX;
}

/* ghm_cold_lower_bound returns the index of the first cold item numbered
 * >= number. */
static size_t ghm_cold_lower_bound(const gh_mirror_t *m, long long number) {
  size_t lo = 0, hi = m->ncold;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((long long)m->cold[mid].number < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

gh_cold_t *gh_mirror_find_cold(const gh_mirror_t *m, long long number) {
  size_t i = ghm_cold_lower_bound(m, number);
  return i < m->ncold && (long long)m->cold[i].number == number ? &m->cold[i]
                                                                : NULL;
}

/* ghm_cold_remove forgets the cold item c (its record stays in the file
 * until the next save leaves it out). */
static void ghm_cold_remove(gh_mirror_t *m, gh_cold_t *c) {
  size_t i = (size_t)(c - m->cold);
  memmove(c, c + 1, (m->ncold - i - 1) * sizeof(*c));
  m->ncold--;
  gh_mirror_touch(m);
}

/* ghm_lower_bound returns the index of the first item numbered >= number. */
static size_t ghm_lower_bound(const gh_mirror_t *m, long long number) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->items[mid]->number < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

gh_item_t *gh_mirror_find(const gh_mirror_t *m, long long number) {
  size_t i = ghm_lower_bound(m, number);
  return i < m->n && m->items[i]->number == number ? m->items[i] : NULL;
}

int gh_mirror_insert(gh_mirror_t *m, gh_item_t *it) {
  size_t i = ghm_lower_bound(m, it->number);
  gh_mirror_touch(m);
  ghm_compact_url(m, it);
  ghm_intern_reason(it);
  ghm_share_strv(m, &it->labels);
  ghm_share_strv(m, &it->assignees);
  if (i < m->n && m->items[i]->number == it->number) {
    gh_item_free(m->items[i]);
    m->items[i] = it;
    return 0;
  }
  void *arr = m->items;
  if (qf_array_room(&arr, &m->cap, m->n, sizeof(gh_item_t *), 64) != 0) {
    gh_item_free(it);
    return -ENOMEM;
  }
  m->items = arr;
  memmove(m->items + i + 1, m->items + i, (m->n - i) * sizeof(gh_item_t *));
  m->items[i] = it;
  m->n++;
  return 0;
}

bool gh_label_matches(const char *label, const gh_strv_t *words) {
  for (size_t i = 0; words != NULL && i < words->n; i++)
    if (words->v[i][0] != '\0' && strcasestr(label, words->v[i]) != NULL)
      return true;
  return false;
}

/* ghm_has_label tells whether labels holds name (case-insensitive). */
static bool ghm_has_label(const gh_strv_t *labels, const char *name) {
  for (size_t i = 0; i < labels->n; i++)
    if (strcasecmp(labels->v[i], name) == 0)
      return true;
  return false;
}

/* ghm_blocking_subset tells whether every blocking label of a is in b. */
static bool ghm_blocking_subset(const gh_strv_t *a, const gh_strv_t *b,
                                const gh_strv_t *words) {
  for (size_t i = 0; i < a->n; i++)
    if (gh_label_matches(a->v[i], words) && !ghm_has_label(b, a->v[i]))
      return false;
  return true;
}

/* ghm_count_blocking counts labels matching words. */
static size_t ghm_count_blocking(const gh_strv_t *labels,
                                 const gh_strv_t *words) {
  size_t n = 0;
  for (size_t i = 0; i < labels->n; i++)
    n += gh_label_matches(labels->v[i], words);
  return n;
}

/* ghm_same_listing tells whether two items carry the same listed fields. */
static bool ghm_same_listing(const gh_item_t *a, const gh_item_t *b) {
  if (a->is_pr != b->is_pr || a->open != b->open ||
      a->updated_at != b->updated_at || a->created_at != b->created_at ||
      a->closed_at != b->closed_at)
    return false;
  const gh_pr_t *pa = gh_item_pr(a), *pb = gh_item_pr(b);
  if (pa->nlinks != pb->nlinks ||
      memcmp(pa->links, pb->links, pa->nlinks * sizeof(pa->links[0])) != 0)
    return false;
  const char *sa[] = {a->state_reason, a->title, a->html_url};
  const char *sb[] = {b->state_reason, b->title, b->html_url};
  for (size_t i = 0; i < 3; i++) {
    if ((sa[i] == NULL) != (sb[i] == NULL) ||
        (sa[i] != NULL && strcmp(sa[i], sb[i]) != 0))
      return false;
  }
  return ghm_strv_equal(&a->labels, &b->labels) &&
         ghm_strv_equal(&a->assignees, &b->assignees);
}

/* ghm_carry_pr moves the fields GET pulls/{n} filled from old into in; on
 * ENOMEM they are asked again. */
static void ghm_carry_pr(gh_item_t *in, gh_item_t *old) {
  gh_pr_t *o = old->pr;
  if (o == NULL ||
      (o->branch == NULL && o->head_sha == NULL && o->mergeable_state == NULL))
    return;
  gh_pr_t *p = gh_item_pr_mut(in);
  if (p == NULL) {
    in->detail_stale = true;
    return;
  }
  p->branch = o->branch;
  p->head_sha = o->head_sha;
  p->mergeable_state = o->mergeable_state;
  o->branch = o->head_sha = o->mergeable_state = NULL;
}

/* ghm_carry_details moves the detail-only fields of old into in, and
 * decides what must be asked again because the item changed. */
static void ghm_carry_details(gh_item_t *in, gh_item_t *old,
                              const gh_strv_t *blocked) {
  in->blocked_since = old->blocked_since;
  in->blocked_exact = old->blocked_exact;
  in->events_stale = old->events_stale;
  in->notified = old->notified;
  in->detail_stale = old->detail_stale;
  ghm_carry_pr(in, old);
  in->seen = in->seen || old->seen;
  if (in->is_pr && in->updated_at != old->updated_at)
    in->detail_stale = true;
  bool same = ghm_blocking_subset(&in->labels, &old->labels, blocked) &&
              ghm_blocking_subset(&old->labels, &in->labels, blocked);
  if (!same || (in->open && !old->open))
    in->blocked_since = 0; /* the blocking label set changed: re-learn */
}

/* ghm_settle_blocked gives an item that is blocked but has no known time a
 * provisional one (its last update, which the label add cannot be later
 * than) and asks for its label events. */
static void ghm_settle_blocked(gh_item_t *it, const gh_strv_t *blocked) {
  if (it->is_pr || ghm_count_blocking(&it->labels, blocked) == 0) {
    it->blocked_since = 0;
    it->blocked_exact = false;
    it->events_stale = false;
    return;
  }
  if (it->blocked_since == 0) {
    it->blocked_since = it->updated_at;
    it->blocked_exact = false;
    it->events_stale = it->open;
  }
  if (!it->open)
    it->events_stale = false;
}

int gh_mirror_apply(gh_mirror_t *m, gh_item_t *in, const gh_strv_t *blocked,
                    bool *changed) {
  *changed = false;
  ghm_compact_url(m, in); /* as stored, so that listings compare equal */
  gh_item_t *old = gh_mirror_find(m, in->number);
  gh_cold_t *cold = old == NULL ? gh_mirror_find_cold(m, in->number) : NULL;
  if (cold != NULL && (long long)cold->updated_at >= in->updated_at) {
    cold->flags |= in->seen ? GH_COLD_SEEN : 0;
    gh_item_free(in);
    return 0;
  }
  if (cold != NULL) { /* newer: it replaces the cold one, as if new */
    in->seen = in->seen || (cold->flags & GH_COLD_SEEN);
    ghm_cold_remove(m, cold);
  }
  if (old != NULL &&
      (old->updated_at > in->updated_at || ghm_same_listing(old, in))) {
    old->seen = old->seen || in->seen;
    gh_item_free(in);
    return 0;
  }
  if (old != NULL)
    ghm_carry_details(in, old, blocked);
  else if (in->is_pr && in->open)
    in->detail_stale = true;
  ghm_settle_blocked(in, blocked);
  *changed = true;
  return gh_mirror_insert(m, in);
}

void gh_mirror_settle_all(gh_mirror_t *m, const gh_strv_t *blocked) {
  gh_mirror_touch(m);
  for (size_t i = 0; i < m->n; i++)
    ghm_settle_blocked(m->items[i], blocked);
}

void gh_mirror_clear_seen(gh_mirror_t *m) {
  for (size_t i = 0; i < m->n; i++)
    m->items[i]->seen = false;
  for (size_t i = 0; i < m->ncold; i++)
    m->cold[i].flags &= (unsigned char)~GH_COLD_SEEN;
}

/* ghm_drop_unseen_cold removes the cold items not seen; how many. */
static size_t ghm_drop_unseen_cold(gh_mirror_t *m) {
  size_t kept = 0;
  for (size_t i = 0; i < m->ncold; i++)
    if (m->cold[i].flags & GH_COLD_SEEN)
      m->cold[kept++] = m->cold[i];
  size_t dropped = m->ncold - kept;
  m->ncold = kept;
  return dropped;
}

size_t gh_mirror_drop_unseen(gh_mirror_t *m) {
  size_t kept = 0, dropped = 0;
  for (size_t i = 0; i < m->n; i++) {
    if (m->items[i]->seen) {
      m->items[kept++] = m->items[i];
    } else {
      gh_item_free(m->items[i]);
      dropped++;
    }
  }
  m->n = kept;
  dropped += ghm_drop_unseen_cold(m);
  if (dropped > 0)
    gh_mirror_touch(m);
  return dropped;
}

/* ghm_run_cmp orders runs newest first (created_at, then id). */
static int ghm_run_cmp(const void *pa, const void *pb) {
  const gh_run_t *a = pa, *b = pb;
  if (a->created_at != b->created_at)
    return a->created_at < b->created_at ? 1 : -1;
  if (a->id != b->id)
    return a->id < b->id ? 1 : -1;
  return 0;
}

/* ghm_run_same tells whether a stored run already says what r says. */
static bool ghm_run_same(const gh_run_t *a, const gh_run_t *r) {
  return a->verdict == r->verdict && a->created_at == r->created_at &&
         a->nprs == r->nprs && a->workflow_id == r->workflow_id;
}

/* ghm_find_run returns the stored run with that id, or NULL. */
static gh_run_t *ghm_find_run(gh_mirror_t *m, long long id) {
  for (size_t i = 0; i < m->nruns; i++)
    if (m->runs[i].id == id)
      return &m->runs[i];
  return NULL;
}

int gh_mirror_merge_runs(gh_mirror_t *m, gh_run_t *runs, size_t n,
                         bool *changed) {
  *changed = false;
  gh_run_t *all = realloc(m->runs, (m->nruns + n) * sizeof(*all) + 1);
  if (all == NULL) {
    for (size_t i = 0; i < n; i++)
      gh_run_free(&runs[i]);
    return -ENOMEM;
  }
  m->runs = all;
  for (size_t i = 0; i < n; i++) {
    gh_run_t *old = ghm_find_run(m, runs[i].id);
    if (old != NULL && ghm_run_same(old, &runs[i])) {
      gh_run_free(&runs[i]);
      continue;
    }
    if (old != NULL) {
      gh_run_free(old);
      *old = runs[i];
    } else {
      m->runs[m->nruns++] = runs[i];
    }
    runs[i].branch = NULL;
    *changed = true;
  }
  if (*changed)
    gh_mirror_touch(m);
  qsort(m->runs, m->nruns, sizeof(*m->runs), ghm_run_cmp);
  while (m->nruns > GH_RUNS_KEEP)
    gh_run_free(&m->runs[--m->nruns]);
  return 0;
}

/* ghm_etag_find returns the index of url's entry, or netags. */
static size_t ghm_etag_find(const gh_mirror_t *m, const char *url) {
  for (size_t i = 0; i < m->netags; i++)
    if (strcmp(m->etags[i].url, url) == 0)
      return i;
  return m->netags;
}

const char *gh_etag_get(gh_mirror_t *m, const char *url) {
  size_t i = ghm_etag_find(m, url);
  if (i == m->netags)
    return NULL;
  m->etags[i].used = m->cycle;
  return m->etags[i].etag;
}

/* ghm_etag_remove deletes entry i (order does not matter). */
static void ghm_etag_remove(gh_mirror_t *m, size_t i) {
  free(m->etags[i].url);
  free(m->etags[i].etag);
  m->etags[i] = m->etags[--m->netags];
}

void gh_etag_drop(gh_mirror_t *m, const char *url) {
  size_t i = ghm_etag_find(m, url);
  if (i < m->netags)
    ghm_etag_remove(m, i);
}

/* ghm_etag_evict removes the least recently used entry. */
static void ghm_etag_evict(gh_mirror_t *m) {
  size_t oldest = 0;
  for (size_t i = 1; i < m->netags; i++)
    if (m->etags[i].used < m->etags[oldest].used)
      oldest = i;
  ghm_etag_remove(m, oldest);
}

int gh_etag_set(gh_mirror_t *m, const char *url, const char *etag) {
  size_t i = ghm_etag_find(m, url);
  if (etag == NULL || etag[0] == '\0') {
    if (i < m->netags)
      ghm_etag_remove(m, i);
    return 0;
  }
  if (i < m->netags) {
    m->etags[i].used = m->cycle;
    return gh_set_str(&m->etags[i].etag, etag);
  }
  if (m->netags >= GH_ETAGS_MAX)
    ghm_etag_evict(m);
  void *arr = m->etags;
  if (qf_array_room(&arr, &m->capetags, m->netags, sizeof(*m->etags), 16))
    return -ENOMEM;
  m->etags = arr;
  gh_etag_t *e = &m->etags[m->netags];
  e->url = strdup(url);
  e->etag = strdup(etag);
  e->used = m->cycle;
  if (e->url == NULL || e->etag == NULL) {
    free(e->url);
    free(e->etag);
    return -ENOMEM;
  }
  m->netags++;
  return 0;
}
