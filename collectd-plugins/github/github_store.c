/* github_store.c: the mirror's persistence (see github_store.h). */
#include "github_store.h"
#include "github_figures.h"
#include "github_snapshot.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GHS_FORMAT "qiflow-github-mirror"
#define GHS_VERSION 1

/* ---------------------------------------------------------------- write */

/* ghs_kstr_opt writes s or null. */
static void ghs_strv(qf_jw_t *w, const char *key, const gh_strv_t *sv) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; i < sv->n; i++)
    qf_jw_str(w, sv->v[i]);
  qf_jw_arr_close(w);
}

/* ghs_ints writes an integer array. */
static void ghs_ints(qf_jw_t *w, const char *key, const long long *v,
                     size_t n) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; i < n; i++)
    qf_jw_int(w, v[i]);
  qf_jw_arr_close(w);
}

/* ghs_item writes one item with short keys (the file stays compact). */
static void ghs_item(qf_jw_t *w, const gh_mirror_t *m, const gh_item_t *it) {
  char url[GH_URL_BUF];
  const gh_pr_t *d = gh_item_pr(it);
  qf_jw_obj_open(w);
  qf_jw_kint(w, "n", it->number);
  qf_jw_kbool(w, "pr", it->is_pr);
  qf_jw_kbool(w, "open", it->open);
  qf_jw_kstr(w, "sr", it->state_reason);
  qf_jw_kstr(w, "t", it->title);
  qf_jw_kstr(w, "u", gh_item_url(m, it, url, sizeof(url)));
  ghs_strv(w, "l", &it->labels);
  ghs_strv(w, "a", &it->assignees);
  qf_jw_kint(w, "c", it->created_at);
  qf_jw_kint(w, "up", it->updated_at);
  qf_jw_kint(w, "cl", it->closed_at);
  qf_jw_kbool(w, "seen", it->seen);
  qf_jw_kint(w, "bs", it->blocked_since);
  qf_jw_kbool(w, "bx", it->blocked_exact);
  qf_jw_kbool(w, "es", it->events_stale);
  const char *nt = gh_trigger_name((gh_trigger_t)it->notified);
  qf_jw_kstr(w, "nt", nt != NULL ? nt : "");
  qf_jw_kstr(w, "br", d->branch);
  qf_jw_kstr(w, "sha", d->head_sha);
  qf_jw_kstr(w, "ms", d->mergeable_state);
  qf_jw_kbool(w, "ds", it->detail_stale);
  ghs_ints(w, "lk", d->links, d->nlinks);
  qf_jw_obj_close(w);
}

/* ghs_run writes one workflow run. */
static void ghs_run(qf_jw_t *w, const gh_run_t *r) {
  qf_jw_obj_open(w);
  qf_jw_kint(w, "id", r->id);
  qf_jw_kint(w, "wf", r->workflow_id);
  qf_jw_kint(w, "c", r->created_at);
  qf_jw_kint(w, "v", r->verdict);
  qf_jw_kstr(w, "br", r->branch);
  ghs_ints(w, "pr", r->prs, r->nprs);
  qf_jw_obj_close(w);
}

/* ghs_runs_etags writes the workflow runs and the ETag table. */
static void ghs_runs_etags(qf_jw_t *w, const gh_mirror_t *m) {
  qf_jw_key(w, "runs");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < m->nruns; i++)
    ghs_run(w, &m->runs[i]);
  qf_jw_arr_close(w);
  qf_jw_key(w, "etags");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < m->netags; i++) {
    qf_jw_obj_open(w);
    qf_jw_kstr(w, "url", m->etags[i].url);
    qf_jw_kstr(w, "etag", m->etags[i].etag);
    qf_jw_kint(w, "used", m->etags[i].used);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
}

/* ghs_position writes the sync position and rate-limit state. */
static void ghs_position(qf_jw_t *w, const gh_mirror_t *m) {
  qf_jw_kint(w, "cycle", m->cycle);
  qf_jw_kint(w, "cursor", m->cursor);
  qf_jw_kstr(w, "list_next", m->list_next);
  qf_jw_kint(w, "list_started", m->list_started);
  qf_jw_kint(w, "list_max_updated", m->list_max_updated);
  qf_jw_kstr(w, "recon_url", m->recon_url);
  qf_jw_kint(w, "last_sync", m->last_sync);
  qf_jw_kint(w, "commits_count", m->commits_count);
  qf_jw_kstr(w, "commits_since", m->commits_since);
  qf_jw_kint(w, "rl_limit", m->rl_limit);
  qf_jw_kint(w, "rl_remaining", m->rl_remaining);
  qf_jw_kint(w, "rl_reset", m->rl_reset);
  qf_jw_kint(w, "backoff_until", m->backoff_until);
  qf_jw_kint(w, "failures", m->failures);
}

/* ---------------------------------------------------------------- cold */

/* Bytes written, or read from the cold file, at once. */
#define GHS_CHUNK 65536

void gh_window_init(gh_window_t *w, int fd) {
  memset(w, 0, sizeof(*w));
  w->fd = fd;
}

void gh_window_free(gh_window_t *w) {
  free(w->buf);
  gh_window_init(w, -1);
}

/* ghs_window reads the chunk of w's file that holds bytes at..at+len:
 * starting there when reading forward, ending there when reading backward
 * (project.json lists issues by number descending). */
static int ghs_window(gh_window_t *w, size_t at, size_t len) {
  size_t want = len > GHS_CHUNK ? len : GHS_CHUNK;
  size_t start = at;
  if (w->buf != NULL && at < w->off)
    start = at + len > want ? at + len - want : 0;
  if (want > w->cap) {
    char *b = realloc(w->buf, want);
    if (b == NULL)
      return -ENOMEM;
    w->buf = b;
    w->cap = want;
  }
  w->off = start;
  w->have = 0;
  ssize_t n = qf_read_full(w->fd, w->buf, want, (off_t)start);
  if (n < 0)
    return (int)n;
  w->have = (size_t)n;
  return at + len <= start + w->have ? 0 : -EIO; /* -EIO: the file shrank */
}

int gh_window_get(gh_window_t *w, size_t at, size_t len, const char **p) {
  if (w->fd < 0)
    return -EBADF;
  if (w->buf == NULL || at < w->off || at + len > w->off + w->have) {
    int status = ghs_window(w, at, len);
    if (status != 0)
      return status;
  }
  *p = w->buf + (at - w->off);
  return 0;
}

void gh_thaw_init(gh_thaw_t *t, const gh_mirror_t *m) {
  gh_window_init(&t->win, m->cold_fd);
  t->rec = (qf_buf_t)QF_BUF_INIT;
}

void gh_thaw_free(gh_thaw_t *t) {
  gh_window_free(&t->win);
  qf_buf_free(&t->rec);
}

int gh_thaw_bytes(gh_thaw_t *t, const gh_cold_t *c, const char **p) {
  return gh_window_get(&t->win, c->at, c->len, p);
}

/* ---------------------------------------------------------------- write */

/* ghs_put_cold writes a cold item's record: its bytes as the cold file
 * holds them, or rendered again when its seen mark changed since. */
static void ghs_put_cold(gh_out_t *o, qf_jw_t *w, gh_thaw_t *t,
                         const gh_mirror_t *m, const gh_cold_t *c) {
  bool seen = c->flags & GH_COLD_SEEN;
  if (seen == !!(c->flags & GH_COLD_REC_SEEN)) {
    const char *p = NULL;
    int status = gh_thaw_bytes(t, c, &p);
    if (status == 0)
      gh_out_put(o, p, c->len);
    else if (o->status == 0)
      o->status = status;
    return;
  }
  gh_item_t *it = NULL;
  char why[200];
  int status = gh_thaw(t, c, &it, why, sizeof(why));
  if (status == 0) {
    it->seen = seen;
    ghs_item(w, m, it);
    gh_out_put_jw(o, w, true);
    gh_item_free(it);
  } else if (o->status == 0) {
    o->status = status;
  }
}

/* ghs_items writes the items, whole and cold, by number; spans (when not
 * NULL) receives where each record went, in that order. */
static void ghs_items(gh_out_t *o, const gh_mirror_t *m, gh_span_t *spans) {
  qf_jw_t w;
  if (qf_jw_init(&w) != 0) {
    o->status = -ENOMEM;
    return;
  }
  gh_thaw_t t;
  gh_thaw_init(&t, m);
  for (size_t i = 0, j = 0, k = 0; o->status == 0 && (i < m->n || j < m->ncold);
       k++) {
    bool whole =
        j == m->ncold ||
        (i < m->n && m->items[i]->number < (long long)m->cold[j].number);
    if (k > 0)
      gh_out_put(o, ",", 1);
    size_t at = gh_out_pos(o);
    if (whole) {
      ghs_item(&w, m, m->items[i++]);
      gh_out_put_jw(o, &w, true);
    } else {
      ghs_put_cold(o, &w, &t, m, &m->cold[j++]);
    }
    size_t end = gh_out_pos(o);
    if (end > UINT32_MAX && o->status == 0)
      o->status = -EFBIG;
    if (spans != NULL)
      spans[k] = (gh_span_t){(uint32_t)at, (uint32_t)(end - at)};
  }
  gh_thaw_free(&t);
  qf_jw_free(&w);
}

/* ghs_render writes the mirror to o: the header, the position, the runs
 * and the ETags, then the items last, streamed (only a few held at once).
 */
static void ghs_render(gh_out_t *o, const gh_mirror_t *m,
                       const char *repository, const char *api_url,
                       gh_span_t *spans) {
  qf_jw_t w;
  if (qf_jw_init(&w) != 0) {
    o->status = -ENOMEM;
    return;
  }
  qf_jw_obj_open(&w);
  qf_jw_kstr(&w, "format", GHS_FORMAT);
  qf_jw_kint(&w, "version", GHS_VERSION);
  qf_jw_kstr(&w, "repository", repository);
  qf_jw_kstr(&w, "api_url", api_url);
  ghs_position(&w, m);
  ghs_runs_etags(&w, m);
  qf_jw_key(&w, "items");
  qf_jw_arr_open(&w);
  gh_out_put_jw(o, &w, true);
  qf_jw_free(&w);
  ghs_items(o, m, spans);
  gh_out_put(o, "]}", 2);
  gh_out_flush(o);
}

int gh_store_render(const gh_mirror_t *m, const char *repository,
                    const char *api_url, char **out, size_t *len) {
  gh_out_t o = {.fd = -1, .buf = QF_BUF_INIT};
  ghs_render(&o, m, repository, api_url, NULL);
  if (o.status == 0) {
    *out = qf_buf_steal(&o.buf, len);
    if (*out == NULL)
      o.status = -ENOMEM;
  }
  qf_buf_free(&o.buf);
  return o.status;
}

/* ghs_cold_of is the cold form of it, whose record is at span. */
static gh_cold_t ghs_cold_of(const gh_item_t *it, gh_span_t span) {
  gh_cold_t c = {
      .number = (uint32_t)it->number,
      .created_at = (uint32_t)it->created_at,
      .updated_at = (uint32_t)it->updated_at,
      .closed_at = (uint32_t)it->closed_at,
      .at = span.at,
      .len = span.len,
  };
  c.flags =
      (it->is_pr ? GH_COLD_PR : 0) |
      (it->seen ? GH_COLD_SEEN | GH_COLD_REC_SEEN : 0) |
      (gh_closed_counts_for_velocity(it->state_reason) ? GH_COLD_VELOCITY : 0);
  return c;
}

/* ghs_settle makes the file just written (fd, st) the cold file: the cold
 * items' records are where spans says, and the whole items that may be
 * cold become so (*frozen says how many). 0, or -ENOMEM (m unchanged, fd
 * still the caller's). */
static int ghs_settle(gh_mirror_t *m, const gh_span_t *spans, int fd,
                      const struct stat *st, size_t *frozen) {
  size_t freeze = 0, h = 0, c = 0;
  for (size_t i = 0; i < m->n; i++)
    freeze += gh_item_freezable(m->items[i]);
  gh_cold_t *cold = malloc((m->ncold + freeze + 1) * sizeof(*cold));
  if (cold == NULL)
    return -ENOMEM;
  for (size_t i = 0, j = 0, k = 0; i < m->n || j < m->ncold; k++) {
    if (j == m->ncold ||
        (i < m->n && m->items[i]->number < (long long)m->cold[j].number)) {
      gh_item_t *it = m->items[i++];
      if (!gh_item_freezable(it)) {
        m->items[h++] = it;
        continue;
      }
      cold[c++] = ghs_cold_of(it, spans[k]);
      gh_item_free(it);
      continue;
    }
    gh_cold_t x = m->cold[j++];
    x.at = spans[k].at;
    x.len = spans[k].len;
    x.flags = (unsigned char)((x.flags & ~GH_COLD_REC_SEEN) |
                              (x.flags & GH_COLD_SEEN ? GH_COLD_REC_SEEN : 0));
    cold[c++] = x;
  }
  m->n = h;
  gh_mirror_set_cold(m, cold, c, fd, st);
  if (freeze > 0)
    gh_mirror_touch(m); /* figures point to items no longer whole */
  *frozen = freeze;
  return 0;
}

/* A save that froze at least this many items, and no fewer than stay
 * whole, gathers the whole ones (ghs_compact). */
#define GHS_COMPACT_MIN 512

static int ghs_compact(gh_mirror_t *m);

/* ghs_reopen opens the file just committed at path, checking it is that
 * one (st); -1 when it cannot (the cold records stay in the old file). */
static int ghs_reopen(const char *path, const struct stat *st) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat now;
  if (fd >= 0 && (fstat(fd, &now) != 0 || now.st_dev != st->st_dev ||
                  now.st_ino != st->st_ino)) {
    close(fd);
    fd = -1;
  }
  return fd;
}

int gh_store_save(gh_mirror_t *m, const char *repository, const char *api_url,
                  const char *path, char *err, size_t errlen) {
  qf_atomic_t a;
  char why[1024] = "";
  gh_span_t *spans = calloc(gh_mirror_count(m) + 1, sizeof(*spans));
  int status =
      spans != NULL ? qf_atomic_open(&a, path, why, sizeof(why)) : -ENOMEM;
  struct stat st = {0};
  if (status == 0) {
    gh_out_t o = {.fd = a.fd, .buf = QF_BUF_INIT};
    ghs_render(&o, m, repository, api_url, spans);
    qf_buf_free(&o.buf);
    /* mode 0600, as the mirror file keeps */
    status = qf_atomic_commit(&a, o.status, 0600, &st, why, sizeof(why));
  } else if (spans == NULL) {
    qf_strcpy(why, sizeof(why), strerror(ENOMEM));
  }
  if (status != 0) {
    qf_err(err, errlen, "%s: cannot store the mirror (%s)", path, why);
  } else {
    int fd = ghs_reopen(path, &st);
    size_t frozen = 0;
    if (fd >= 0 && ghs_settle(m, spans, fd, &st, &frozen) != 0)
      close(fd); /* kept whole this time; the cold records stay valid */
    if (frozen >= GHS_COMPACT_MIN && frozen >= m->n && ghs_compact(m) != 0) {
      qf_err(err, errlen,
             "%s: stored, but the items kept whole were lost while "
             "gathering them (out of memory): listing the repository again",
             path);
      status = 1;
    }
  }
  free(spans);
  return status;
}

/* ---------------------------------------------------------------- read */

/* A reader over one object: the first type error sticks, naming the key. */
typedef struct ghs_rd_s {
  int status;
  char why[200];
} ghs_rd_t;

/* ghs_bad records the first error. */
static void ghs_bad(ghs_rd_t *rd, const char *where, const char *key,
                    const char *what) {
  if (rd->status != 0)
    return;
  rd->status = -EINVAL;
  snprintf(rd->why, sizeof(rd->why), "%s: \"%s\" %s", where, key, what);
}

/* ghs_int reads a required integer. */
static long long ghs_int(ghs_rd_t *rd, yajl_val o, const char *where,
                         const char *key) {
  long long v = 0;
  if (rd->status == 0 && qf_json_get_int(o, key, &v) != 0)
    ghs_bad(rd, where, key, "is not an integer");
  return v;
}

/* ghs_bool reads a required boolean. */
static bool ghs_bool(ghs_rd_t *rd, yajl_val o, const char *where,
                     const char *key) {
  bool v = false;
  if (rd->status == 0 && qf_json_get_bool(o, key, &v) != 0)
    ghs_bad(rd, where, key, "is not a boolean");
  return v;
}

/* ghs_str copies a string-or-null into *dst. */
static void ghs_str(ghs_rd_t *rd, yajl_val o, const char *where,
                    const char *key, char **dst) {
  yajl_val v = qf_json_get(o, key);
  if (rd->status != 0)
    return;
  if (v == NULL || (!YAJL_IS_NULL(v) && !YAJL_IS_STRING(v)))
    ghs_bad(rd, where, key, "is not a string or null");
  else if (YAJL_IS_STRING(v) && gh_set_str(dst, v->u.string) != 0)
    rd->status = -ENOMEM;
}

/* ghs_buf copies a string-or-null into a fixed buffer. */
static void ghs_buf(ghs_rd_t *rd, yajl_val o, const char *where,
                    const char *key, char *dst, size_t n) {
  char *s = NULL;
  ghs_str(rd, o, where, key, &s);
  if (rd->status == 0 && s != NULL && qf_strcpy(dst, n, s) != 0)
    ghs_bad(rd, where, key, "is too long");
  free(s);
}

/* ghs_array returns o[key] when it is an array (else records an error). */
static yajl_val ghs_array(ghs_rd_t *rd, yajl_val o, const char *where,
                          const char *key) {
  yajl_val v = qf_json_get(o, key);
  if (rd->status == 0 && !YAJL_IS_ARRAY(v)) {
    ghs_bad(rd, where, key, "is not an array");
    return NULL;
  }
  return rd->status == 0 ? v : NULL;
}

/* ghs_strv reads an array of strings. */
static void ghs_read_strv(ghs_rd_t *rd, yajl_val o, const char *where,
                          const char *key, gh_strv_t *sv) {
  yajl_val a = ghs_array(rd, o, where, key);
  for (size_t i = 0; a != NULL && rd->status == 0 && i < a->u.array.len; i++) {
    yajl_val e = a->u.array.values[i];
    if (!YAJL_IS_STRING(e))
      ghs_bad(rd, where, key, "holds a non-string");
    else if (gh_strv_push(sv, e->u.string) != 0)
      rd->status = -ENOMEM;
  }
}

/* ghs_read_ints reads at most max integers (more is an error). */
static size_t ghs_read_ints(ghs_rd_t *rd, yajl_val o, const char *where,
                            const char *key, long long *v, size_t max) {
  yajl_val a = ghs_array(rd, o, where, key);
  if (a == NULL)
    return 0;
  if (a->u.array.len > max) {
    ghs_bad(rd, where, key, "has too many elements");
    return 0;
  }
  for (size_t i = 0; i < a->u.array.len; i++) {
    yajl_val e = a->u.array.values[i];
    if (!YAJL_IS_INTEGER(e)) {
      ghs_bad(rd, where, key, "holds a non-integer");
      return 0;
    }
    v[i] = YAJL_GET_INTEGER(e);
  }
  return a->u.array.len;
}

/* ghs_read_item converts one stored item. */
/* ghs_read_pr reads the pull-request fields of an item. */
static void ghs_read_pr(ghs_rd_t *rd, yajl_val o, const char *where,
                        gh_item_t *it) {
  gh_pr_t d = {0};
  ghs_str(rd, o, where, "br", &d.branch);
  ghs_str(rd, o, where, "sha", &d.head_sha);
  ghs_str(rd, o, where, "ms", &d.mergeable_state);
  d.nlinks =
      (unsigned char)ghs_read_ints(rd, o, where, "lk", d.links, GH_LINKS_MAX);
  if (gh_item_set_pr(it, &d) != 0 && rd->status == 0)
    rd->status = -ENOMEM;
}

static gh_item_t *ghs_read_item(ghs_rd_t *rd, yajl_val o, size_t idx) {
  char where[32];
  snprintf(where, sizeof(where), "items[%zu]", idx);
  if (!YAJL_IS_OBJECT(o)) {
    ghs_bad(rd, where, "", "is not an object");
    return NULL;
  }
  gh_item_t *it = gh_item_new(ghs_int(rd, o, where, "n"));
  if (it == NULL) {
    rd->status = -ENOMEM;
    return NULL;
  }
  it->is_pr = ghs_bool(rd, o, where, "pr");
  it->open = ghs_bool(rd, o, where, "open");
  ghs_str(rd, o, where, "sr", &it->state_reason);
  ghs_str(rd, o, where, "t", &it->title);
  ghs_str(rd, o, where, "u", &it->html_url);
  ghs_read_strv(rd, o, where, "l", &it->labels);
  ghs_read_strv(rd, o, where, "a", &it->assignees);
  it->created_at = ghs_int(rd, o, where, "c");
  it->updated_at = ghs_int(rd, o, where, "up");
  it->closed_at = ghs_int(rd, o, where, "cl");
  it->seen = ghs_bool(rd, o, where, "seen");
  it->blocked_since = ghs_int(rd, o, where, "bs");
  it->blocked_exact = ghs_bool(rd, o, where, "bx");
  it->events_stale = ghs_bool(rd, o, where, "es");
  char nt[GH_TRIGGER_LEN] = "";
  ghs_buf(rd, o, where, "nt", nt, sizeof(nt));
  it->notified = (unsigned char)gh_trigger_by_name(nt);
  it->detail_stale = ghs_bool(rd, o, where, "ds");
  ghs_read_pr(rd, o, where, it);
  if (rd->status == 0 && (it->number <= 0 || it->title == NULL))
    ghs_bad(rd, where, "n", "or \"t\" is invalid");
  if (rd->status != 0) {
    gh_item_free(it);
    return NULL;
  }
  return it;
}

/* ghs_read_run converts one stored run into r. */
static void ghs_read_run(ghs_rd_t *rd, yajl_val o, size_t idx, gh_run_t *r) {
  char where[32];
  snprintf(where, sizeof(where), "runs[%zu]", idx);
  memset(r, 0, sizeof(*r));
  r->id = ghs_int(rd, o, where, "id");
  r->workflow_id = ghs_int(rd, o, where, "wf");
  r->created_at = ghs_int(rd, o, where, "c");
  r->verdict = (int)ghs_int(rd, o, where, "v");
  ghs_str(rd, o, where, "br", &r->branch);
  r->nprs = ghs_read_ints(rd, o, where, "pr", r->prs, GH_RUN_PRS_MAX);
  if (rd->status == 0 &&
      (r->verdict < GH_VERDICT_OTHER || r->verdict > GH_VERDICT_PENDING))
    ghs_bad(rd, where, "v", "is not a verdict");
}

/* ghs_read_position reads the sync position and rate-limit state. */
static void ghs_read_position(ghs_rd_t *rd, yajl_val d, gh_mirror_t *m) {
  const char *w = "mirror";
  m->cycle = ghs_int(rd, d, w, "cycle");
  m->cursor = ghs_int(rd, d, w, "cursor");
  ghs_str(rd, d, w, "list_next", &m->list_next);
  m->list_started = ghs_int(rd, d, w, "list_started");
  m->list_max_updated = ghs_int(rd, d, w, "list_max_updated");
  ghs_str(rd, d, w, "recon_url", &m->recon_url);
  m->last_sync = ghs_int(rd, d, w, "last_sync");
  m->commits_count = ghs_int(rd, d, w, "commits_count");
  ghs_buf(rd, d, w, "commits_since", m->commits_since,
          sizeof(m->commits_since));
  m->rl_limit = ghs_int(rd, d, w, "rl_limit");
  m->rl_remaining = ghs_int(rd, d, w, "rl_remaining");
  m->rl_reset = ghs_int(rd, d, w, "rl_reset");
  m->backoff_until = ghs_int(rd, d, w, "backoff_until");
  m->failures = (int)ghs_int(rd, d, w, "failures");
}

/* The mirror file while it streams in: its items are read one at a time
 * (a tree of a 5,000-issue mirror would cost about 10 MB at start); with
 * freeze, the closed ones stay in the file, cold. */
typedef struct ghs_stream_s {
  ghs_rd_t rd;
  gh_mirror_t *m;
  size_t idx;     /* items met so far */
  long long last; /* the number of the last one */
  bool freeze;
} ghs_stream_t;

/* ghs_add_cold appends it, whose record is at..at+len, as a cold item. */
static int ghs_add_cold(gh_mirror_t *m, const gh_item_t *it, size_t at,
                        size_t len) {
  void *arr = m->cold;
  if (qf_array_room(&arr, &m->capcold, m->ncold, sizeof(gh_cold_t), 1024) != 0)
    return -ENOMEM;
  m->cold = arr;
  m->cold[m->ncold++] =
      ghs_cold_of(it, (gh_span_t){(uint32_t)at, (uint32_t)len});
  return 0;
}

/* ghs_each_item adds one element of "items" (text[at, at + len)) to the
 * mirror; they must be sorted and unique. After the first error the rest
 * are skipped, and the document's header is still checked first (see
 * ghs_read_doc). */
static int ghs_each_item(yajl_val o, size_t at, size_t len, void *ctx) {
  ghs_stream_t *st = ctx;
  size_t idx = st->idx++;
  if (st->rd.status != 0)
    return 0;
  gh_item_t *it = ghs_read_item(&st->rd, o, idx);
  if (it == NULL)
    return 0;
  gh_mirror_t *m = st->m;
  if (idx > 0 && st->last >= it->number) {
    gh_item_free(it);
    ghs_bad(&st->rd, "items", "n", "is not ascending");
    return 0;
  }
  st->last = it->number;
  int status;
  if (st->freeze && gh_item_freezable(it) && at + len <= UINT32_MAX) {
    status = ghs_add_cold(m, it, at, len);
    gh_item_free(it);
  } else {
    status = gh_mirror_insert(m, it);
  }
  if (status != 0)
    st->rd.status = -ENOMEM;
  return 0;
}

/* ghs_compact gathers the whole items: rendered into one buffer, freed,
 * the freed memory given back (malloc_trim), then read back, so that they
 * sit together. Left where they were, the few a save keeps whole hold on
 * to nearly every page the frozen ones were spread over (a first sync of
 * 100,000 items: about 17 MB). 0; or a negative errno: before anything
 * was freed, m unchanged; after, whole items may be missing, and the
 * cursor is reset so that the next cycle lists the repository again. */
static int ghs_compact(gh_mirror_t *m) {
  qf_jw_t w;
  char *text = NULL, perr[200];
  size_t len = 0, n = m->n;
  if (qf_jw_init(&w) != 0)
    return -ENOMEM;
  qf_jw_obj_open(&w);
  qf_jw_key(&w, "items");
  qf_jw_arr_open(&w);
  for (size_t i = 0; i < m->n; i++)
    ghs_item(&w, m, m->items[i]);
  qf_jw_arr_close(&w);
  qf_jw_obj_close(&w);
  int status = qf_jw_finish(&w, &text, &len);
  qf_jw_free(&w);
  if (status != 0)
    return status;
  for (size_t i = 0; i < m->n; i++)
    gh_item_free(m->items[i]);
  m->n = 0;
  malloc_trim(0);
  ghs_stream_t st = {.rd = {0, ""}, .m = m};
  yajl_val rest = NULL;
  status = qf_json_parse_split_at(text, len, "items", ghs_each_item, &st, &rest,
                                  perr, sizeof(perr));
  yajl_tree_free(rest);
  free(text);
  if (status == 0 && (status = st.rd.status) == 0 && m->n == n)
    return 0;
  m->cursor = 0; /* list everything again */
  gh_mirror_touch(m);
  return status != 0 ? status : -EIO;
}

int gh_thaw(gh_thaw_t *t, const gh_cold_t *c, gh_item_t **out, char *err,
            size_t errlen) {
  const char *p = NULL;
  *out = NULL;
  int status = gh_thaw_bytes(t, c, &p);
  if (status == 0) {
    qf_buf_reset(&t->rec);
    status = qf_buf_append(&t->rec, p, c->len);
  }
  if (status != 0) {
    qf_err(err, errlen, "item %u: cannot read its record (%s)", c->number,
           strerror(-status));
    return status;
  }
  ghs_rd_t rd = {0, ""};
  yajl_val v = qf_json_parse(t->rec.data, NULL, 0);
  gh_item_t *it = v != NULL ? ghs_read_item(&rd, v, 0) : NULL;
  yajl_tree_free(v);
  if (it == NULL || it->number != (long long)c->number) {
    qf_err(err, errlen, "item %u: its record is not what was written",
           c->number);
    gh_item_free(it);
    return rd.status == -ENOMEM ? -ENOMEM : -EIO;
  }
  *out = it;
  return 0;
}

/* ghs_read_runs fills the runs (at most GH_RUNS_KEEP). */
static void ghs_read_runs(ghs_rd_t *rd, yajl_val d, gh_mirror_t *m) {
  yajl_val a = ghs_array(rd, d, "mirror", "runs");
  if (a == NULL || a->u.array.len == 0)
    return;
  if (a->u.array.len > GH_RUNS_KEEP) {
    ghs_bad(rd, "mirror", "runs", "has too many elements");
    return;
  }
  if ((m->runs = calloc(a->u.array.len, sizeof(*m->runs))) == NULL) {
    rd->status = -ENOMEM;
    return;
  }
  for (size_t i = 0; rd->status == 0 && i < a->u.array.len; i++) {
    ghs_read_run(rd, a->u.array.values[i], i, &m->runs[m->nruns]);
    m->nruns++; /* counted even on error so the branch string is freed */
  }
}

/* ghs_read_etags fills the ETag table. */
static void ghs_read_etags(ghs_rd_t *rd, yajl_val d, gh_mirror_t *m) {
  yajl_val a = ghs_array(rd, d, "mirror", "etags");
  for (size_t i = 0; a != NULL && rd->status == 0 && i < a->u.array.len; i++) {
    yajl_val o = a->u.array.values[i];
    const char *url = qf_json_get_str(o, "url");
    const char *etag = qf_json_get_str(o, "etag");
    long long used = ghs_int(rd, o, "etags", "used");
    if (rd->status != 0)
      return;
    if (url == NULL || etag == NULL) {
      ghs_bad(rd, "etags", "url", "or \"etag\" is not a string");
      return;
    }
    m->cycle = used; /* gh_etag_set stamps entries with the cycle */
    if (gh_etag_set(m, url, etag) != 0)
      rd->status = -ENOMEM;
  }
}

/* ghs_read_doc reads the rest of the document into m, whose items were
 * streamed (d holds "items": [] instead): the header's errors come first,
 * then the items', then the other members'. */
static int ghs_read_doc(ghs_rd_t *rd, yajl_val d, gh_mirror_t *m,
                        const char *repository, const char *api_url) {
  const char *format = qf_json_get_str(d, "format");
  long long version = 0;
  if (format == NULL || strcmp(format, GHS_FORMAT) != 0 ||
      qf_json_get_int(d, "version", &version) != 0 || version != GHS_VERSION) {
    snprintf(rd->why, sizeof(rd->why), "not a version %d %s file", GHS_VERSION,
             GHS_FORMAT);
    return -EINVAL;
  }
  const char *repo = qf_json_get_str(d, "repository");
  const char *api = qf_json_get_str(d, "api_url");
  if (repo == NULL || api == NULL || strcmp(repo, repository) != 0 ||
      strcmp(api, api_url) != 0) {
    snprintf(rd->why, sizeof(rd->why), "kept for another repository (%s)",
             repo ? repo : "?");
    return -ESTALE;
  }
  ghs_array(rd, d, "mirror", "items"); /* present, and an array */
  ghs_read_runs(rd, d, m);
  ghs_read_etags(rd, d, m);
  ghs_read_position(rd, d, m); /* after the ETags: it sets m->cycle */
  return rd->status;
}

/* ghs_parse reads text into m (see gh_store_parse); with freeze, closed
 * items stay cold, their records being text's. */
static int ghs_parse(gh_mirror_t *m, const char *repository,
                     const char *api_url, const char *text, size_t len,
                     bool freeze, char *err, size_t errlen) {
  char perr[200];
  ghs_stream_t st = {.rd = {0, ""}, .m = m, .freeze = freeze};
  gh_mirror_free(m);
  yajl_val d = NULL;
  int status = qf_json_parse_split_at(text, len, "items", ghs_each_item, &st,
                                      &d, perr, sizeof(perr));
  if (status != 0) {
    gh_mirror_free(m);
    if (status == -ENOMEM)
      qf_err(err, errlen, "%s", strerror(ENOMEM));
    else
      qf_err(err, errlen, "invalid JSON: %s", perr);
    return status;
  }
  status = ghs_read_doc(&st.rd, d, m, repository, api_url);
  yajl_tree_free(d);
  if (status != 0) {
    qf_err(err, errlen, "%s", st.rd.why);
    gh_mirror_free(m);
  }
  return status;
}

int gh_store_parse(gh_mirror_t *m, const char *repository, const char *api_url,
                   const char *text, char *err, size_t errlen) {
  return ghs_parse(m, repository, api_url, text, strlen(text), false, err,
                   errlen);
}

int gh_store_load(gh_mirror_t *m, const char *repository, const char *api_url,
                  const char *path, char *err, size_t errlen) {
  char *text = NULL;
  char why[300];
  size_t len = 0;
  int fd = -1;
  struct stat st;
  gh_mirror_free(m);
  int status = qf_file_read_keep(path, GH_STORE_MAX_BYTES, QF_READ_NOFOLLOW,
                                 &text, &len, &fd, &st, err, errlen);
  if (status != 0)
    return status;
  status = ghs_parse(m, repository, api_url, text, len, true, why, sizeof(why));
  free(text);
  if (status != 0) {
    close(fd);
    qf_err(err, errlen, "%s: %s", path, why);
    return status;
  }
  if (m->ncold == 0) {
    close(fd); /* nothing to read from it later */
    return 0;
  }
  m->cold_fd = fd;
  m->cold_st = st;
  return 0;
}

int gh_store_check(const gh_mirror_t *m) {
  struct stat now;
  if (m->cold_fd < 0)
    return 0;
  if (fstat(m->cold_fd, &now) != 0)
    return -errno;
  const struct stat *was = &m->cold_st;
  return now.st_size == was->st_size &&
                 now.st_mtim.tv_sec == was->st_mtim.tv_sec &&
                 now.st_mtim.tv_nsec == was->st_mtim.tv_nsec
             ? 0
             : -ESTALE;
}
