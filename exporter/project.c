/* project.c: project.json turned into the project responses once per
 * change: its issue list indexed an issue at a time (the list is never one
 * tree; project_index.c), or against the last version (project_delta.c);
 * the completion body; and a cache of the pages asked for. */
#include "project.h"
#include "project_index.h"
#include "qf_json.h"
#include "render_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* pj_velocity writes velocity_trend (issues closed per day) and the
 * velocity details; {} and null before the first full listing. */
static void pj_velocity(qf_jw_t *w, yajl_val doc) {
  yajl_val v = qfx_project_synced(doc) ? qf_json_get(doc, "velocity") : NULL;
  qfx_knum(w, "velocity_trend", qf_json_get(v, "per_day"));
  qfx_render_velocity(w, v);
}

/* pj_flat writes the central backend poller's fields: completion and
 * issues {open, closed, total}, from the same figures as data. */
static void pj_flat(qf_jw_t *w, yajl_val comp) {
  long long total, done;
  bool known = qf_json_get_int(comp, "total_issues", &total) == 0 &&
               qf_json_get_int(comp, "completed_issues", &done) == 0 &&
               done >= 0 && done <= total;
  qfx_knum(w, "completion", qf_json_get(comp, "completion_percentage"));
  qf_jw_key(w, "issues");
  qf_jw_obj_open(w);
  if (known) {
    qf_jw_kint(w, "open", total - done);
    qf_jw_kint(w, "closed", done);
    qf_jw_kint(w, "total", total);
  } else {
    qf_jw_knull(w, "open");
    qf_jw_knull(w, "closed");
    qf_jw_knull(w, "total");
  }
  qf_jw_obj_close(w);
}

/* pj_completion renders the /project/completion body of p into *body.
 * Before the first full listing (qfx_project_synced) the figures are
 * null, as without project.json; sync_state says which it is. */
static int pj_completion(const qfx_project_t *p, char **body, size_t *len) {
  static const char *const counts[] = {
      "completion_percentage", "total_issues", "completed_issues",
      "in_progress_issues",    "ready_issues", "blocked_issues"};
  yajl_val doc = p->doc;
  yajl_val comp =
      qfx_project_synced(doc) ? qf_json_get(doc, "completion") : NULL;
  qf_jw_t w;
  if (qf_jw_init(&w) != 0)
    return -ENOMEM;
  qf_jw_obj_open(&w);
  qf_jw_kbool(&w, "success", true);
  pj_flat(&w, comp);
  qf_jw_key(&w, "data"); /* BEGIN data */
  qf_jw_obj_open(&w);
  qfx_kstr_of(&w, doc, "repository");
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
    qfx_knum_of(&w, comp, counts[i]);
  if (comp != NULL)
    qf_jw_kint(&w, "flagged_issues", (long long)p->nflagged);
  else
    qf_jw_knull(&w, "flagged_issues");
  qf_jw_key(&w, "issues_requiring_human_intervention");
  qf_jw_raw(&w, p->human, p->human_len);
  qfx_kstr_of(&w, doc, "estimated_completion_date");
  pj_velocity(&w, doc);
  qfx_kstr_of(&w, doc, "last_sync");
  qfx_render_sync(&w, doc);
  qf_jw_kstr(&w, "last_updated", qf_json_get_str(doc, "updated_at"));
  qf_jw_obj_close(&w); /* END data */
  qf_jw_obj_close(&w);
  int rc = qf_jw_finish(&w, body, len);
  qf_jw_free(&w);
  return rc;
}

/* pj_prune drops the issue list from doc: it lives on as fragments, and
 * the tree of a large repository would cost megabytes. */
static void pj_prune(yajl_val doc) {
  for (size_t i = 0; YAJL_IS_OBJECT(doc) && i < doc->u.object.len; i++) {
    if (strcmp(doc->u.object.keys[i], "issues") == 0) {
      yajl_tree_free(doc->u.object.values[i]);
      doc->u.object.values[i] = NULL; /* reads as absent; free skips it */
    }
  }
}

qfx_project_t *qfx_project_ref(qfx_project_t *p) {
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

/* pj_free_issues frees the issue data p owns. */
static void pj_free_issues(qfx_project_t *p) {
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++)
      free(p->count[s][f]);
  free(p->z);
  free(p->blocks);
  free(p->classes);
  free(p->hum[0]);
  free(p->hum[1]);
}

void qfx_project_release(qfx_project_t *p) {
  if (p == NULL ||
      atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < p->npages; i++)
    qfx_response_free(&p->pages[i].e);
  qfx_response_free(&p->completion);
  free(p->human);
  pthread_mutex_destroy(&p->lock);
  if (p->base != NULL) { /* the rest is the base's */
    qfx_project_release(p->base);
    free(p);
    return;
  }
  if (p->issues_of != NULL)
    qfx_project_release(p->issues_of);
  else
    pj_free_issues(p);
  if (p->doc != NULL)
    yajl_tree_free(p->doc);
  free(p);
}

/* pj_none takes an element of an issue list known to be empty. */
static int pj_none(yajl_val it, void *ctx) {
  (void)it, (void)ctx; /* never called for "[]" */
  return 0;
}

/* While project.json streams in: the index and the text it comes from. */
typedef struct pj_stream_s {
  qfx_ix_t ix;
  const char *text;
} pj_stream_t;

/* pj_each takes one element of project.json's issue list, text[at, at +
 * len): an object is indexed; anything else is not an issue and is left
 * out of every list. */
static int pj_each(yajl_val it, size_t at, size_t len, void *ctx) {
  pj_stream_t *st = ctx;
  if (!YAJL_IS_OBJECT(it))
    return 0;
  return qfx_ix_add(&st->ix, it, qfx_block_hash(st->text + at, len), len);
}

/* pj_stream indexes the issues of project.json's text into st->ix,
 * keeping the rest of the document as p->doc. 0, -EINVAL (why in err),
 * -EOVERFLOW or -ENOMEM. */
static int pj_stream(pj_stream_t *st, size_t len, char *err, size_t errlen) {
  yajl_val rest = NULL;
  int rc = qf_json_parse_split_at(st->text, len, "issues", pj_each, st, &rest,
                                  err, errlen);
  st->ix.p->doc = rest;
  pj_prune(rest);
  return rc;
}

/* pj_completion_build renders /project/completion's body and makes p's
 * response of it. 0 or a negative errno. */
static int pj_completion_build(qfx_project_t *p) {
  char *body = NULL;
  size_t blen = 0;
  int rc = pj_completion(p, &body, &blen);
  if (rc == 0)
    rc = qfx_response_build(&p->completion, 200, QFX_CT_JSON, body, blen,
                            &p->headers, QFX_VARY);
  return rc;
}

/* pj_build_parts fills p from project.json's text (NULL: none yet). */
static int pj_build_parts(qfx_project_t *p, const char *text, size_t len,
                          char *err, size_t errlen) {
  pj_stream_t st = {.text = text};
  int rc = qfx_ix_init(&st.ix, p);
  if (rc == 0 && text != NULL)
    rc = pj_stream(&st, len, err, errlen);
  if (rc == 0)
    rc = qfx_ix_finish(&st.ix); /* its last block may overflow too */
  qfx_ix_free(&st.ix);
  if (rc == -EOVERFLOW)
    qf_err(err, errlen, "too many issues or too much issue text to index");
  return rc == 0 ? pj_completion_build(p) : rc;
}

/* pj_new makes an empty project (one reference); NULL without memory. */
static qfx_project_t *pj_new(const qfx_headers_t *h) {
  qfx_project_t *p = calloc(1, sizeof(*p));
  if (p == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    return NULL;
  }
  atomic_init(&p->refs, 1);
  p->headers = *h;
  return p;
}

/* pj_done hands p out, or frees it and says why it failed. */
static int pj_done(qfx_project_t *p, int rc, qfx_project_t **out, char *err,
                   size_t errlen) {
  if (rc != 0) {
    if (rc == -ENOMEM)
      qf_err(err, errlen, "%s", strerror(ENOMEM));
    qfx_project_release(p);
    return rc;
  }
  *out = p;
  return 0;
}

int qfx_project_build(const char *text, size_t len, const qfx_headers_t *h,
                      qfx_project_t **out, char *err, size_t errlen) {
  *out = NULL;
  qfx_project_t *p = pj_new(h);
  if (p == NULL) {
    qf_err(err, errlen, "%s", strerror(ENOMEM));
    return -ENOMEM;
  }
  return pj_done(p, pj_build_parts(p, text, len, err, errlen), out, err,
                 errlen);
}

int qfx_project_share(qfx_project_t *p, qfx_project_t *owner) {
  p->human = malloc(owner->human_len + 1);
  if (p->human == NULL)
    return -ENOMEM;
  memcpy(p->human, owner->human, owner->human_len + 1);
  p->human_len = owner->human_len;
  p->issues_of = qfx_project_ref(owner);
  p->nissues = owner->nissues;
  p->nflagged = owner->nflagged;
  memcpy(p->flagged_by_trigger, owner->flagged_by_trigger,
         sizeof(p->flagged_by_trigger));
  p->z = owner->z;
  p->blocks = owner->blocks;
  p->nblocks = owner->nblocks;
  p->nreused = owner->nblocks;
  p->max_raw = owner->max_raw;
  p->raw_bytes = owner->raw_bytes;
  p->classes = owner->classes;
  memcpy(p->count, owner->count, sizeof(p->count));
  memcpy(p->hum, owner->hum, sizeof(p->hum));
  return 0;
}

/* pj_head parses the document without its issue list, rest (qfx_scan's,
 * "[]" in the list's place), into p->doc. */
static int pj_head(qfx_project_t *p, const qf_buf_t *rest) {
  yajl_val doc = NULL;
  int rc = qf_json_parse_split(rest->data, rest->len, "issues", pj_none, NULL,
                               &doc, NULL, 0);
  p->doc = doc;
  pj_prune(doc);
  return rc;
}

/* pj_owner is the project owning prev's issue data, or NULL. */
static qfx_project_t *pj_owner(qfx_project_t *prev) {
  while (prev != NULL && prev->base != NULL)
    prev = prev->base;
  if (prev == NULL)
    return NULL;
  return prev->issues_of != NULL ? prev->issues_of : prev;
}

/* pj_delta makes *out from the text in src, scanned, against owner's
 * issues (see qfx_delta_index; NULL: every block parsed): 0, or a
 * negative errno when it cannot (*out NULL). */
static int pj_delta(qfx_project_t *owner, const qf_src_t *src,
                    const qfx_headers_t *h, qfx_project_t **out) {
  qfx_scan_t sc;
  *out = NULL;
  int rc = qfx_scan(src, &sc);
  qfx_project_t *p = rc == 0 ? pj_new(h) : NULL;
  if (rc == 0 && p == NULL)
    rc = -ENOMEM;
  if (rc == 0)
    rc = qfx_delta_index(p, owner, src, &sc);
  if (rc == 0)
    rc = pj_head(p, &sc.rest);
  qfx_scan_free(&sc);
  if (rc == 0)
    rc = pj_completion_build(p);
  if (p == NULL)
    return rc;
  return pj_done(p, rc, out, NULL, 0);
}

/* pj_full is qfx_project_build of the text in src, read whole. */
static int pj_full(const qf_src_t *src, const qfx_headers_t *h,
                   qfx_project_t **out, char *err, size_t errlen) {
  const char *text;
  char *owned;
  *out = NULL;
  int rc = qf_src_whole(src, &text, &owned, err, errlen);
  if (rc == 0)
    rc = qfx_project_build(text, src->len, h, out, err, errlen);
  free(owned);
  return rc;
}

int qfx_project_update_src(qfx_project_t *prev, const qf_src_t *src,
                           const qfx_headers_t *h, qfx_project_t **out,
                           char *err, size_t errlen) {
  /* Whatever stops the scan or the delta (a list that does not scan,
   * text that does not parse), the full build does the work and says
   * what is wrong. */
  if (pj_delta(pj_owner(prev), src, h, out) == 0)
    return 0;
  return pj_full(src, h, out, err, errlen);
}

int qfx_project_update(qfx_project_t *prev, const char *text, size_t len,
                       const qfx_headers_t *h, qfx_project_t **out, char *err,
                       size_t errlen) {
  if (text == NULL)
    return qfx_project_build(NULL, 0, h, out, err, errlen);
  qf_src_t src = {.text = text, .fd = -1, .len = len};
  return qfx_project_update_src(prev, &src, h, out, err, errlen);
}

/* pj_overlay_human joins base's human list and extra into p->human. */
static int pj_overlay_human(qfx_project_t *p, const qfx_project_t *base,
                            const char *extra, size_t len) {
  qf_buf_t list = QF_BUF_INIT;
  /* base->human is "[...]": its elements, then the extra ones */
  int rc = qf_buf_append(&list, base->human, base->human_len - 1);
  if (rc == 0 && len > 0 && base->human_len > 2)
    rc = qf_buf_puts(&list, ",");
  if (rc == 0 && len > 0)
    rc = qf_buf_append(&list, extra, len);
  if (rc == 0)
    rc = qf_buf_puts(&list, "]");
  if (rc != 0) {
    qf_buf_free(&list);
    return rc;
  }
  p->human = list.data;
  p->human_len = list.len;
  return 0;
}

int qfx_project_overlay(qfx_project_t *base, const char *extra, size_t len,
                        qfx_project_t **out) {
  *out = NULL;
  qfx_project_t *p = malloc(sizeof(*p));
  if (p == NULL)
    return -ENOMEM;
  /* Shares doc and the issue data (never freed here). Copied under
   * base's lock: a worker may be adding to base's page cache meanwhile;
   * the copy's cache starts empty and its lock is its own (below). */
  pthread_mutex_lock(&base->lock);
  *p = *base;
  pthread_mutex_unlock(&base->lock);
  p->npages = 0;
  p->cached_bytes = 0;
  p->human = NULL;
  p->issues_of = NULL;
  memset(&p->completion, 0, sizeof(p->completion));
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    return -ENOMEM;
  }
  atomic_init(&p->refs, 1);
  p->base = qfx_project_ref(base);
  int rc = pj_overlay_human(p, base, extra, len);
  if (rc == 0)
    rc = pj_completion_build(p);
  return pj_done(p, rc, out, NULL, 0);
}

/* pj_block_lines inflates block k into scratch (p->max_raw bytes) and
 * finds its lines: line[j] starts issue p->blocks[k].first + j, *n of
 * them. 0, or -EIO (cannot be: the block was compressed here). */
static int pj_block_lines(const qfx_project_t *p, size_t k, char *scratch,
                          const char *line[QFX_BLOCK_MAX + 1], size_t *n) {
  uLongf got = p->max_raw;
  const qfx_block_t *b = &p->blocks[k];
  if (uncompress((Bytef *)scratch, &got, p->z + b->zoff, b[1].zoff - b->zoff) !=
      Z_OK)
    return -EIO;
  const char *at = scratch, *stop = scratch + got;
  *n = 0;
  while (at < stop && *n < QFX_BLOCK_MAX) {
    const char *nl = memchr(at, '\n', (size_t)(stop - at));
    if (nl == NULL)
      return -EIO;
    line[(*n)++] = at;
    at = nl + 1;
  }
  line[*n] = at; /* where a next line would start */
  return 0;
}

/* pj_first is the first block holding the k-th (from 0) issue of a
 * filter whose per-block counts are count (k < count[nblocks]). */
static size_t pj_first(const uint32_t *count, size_t nblocks, size_t k) {
  size_t lo = 0, hi = nblocks; /* count[lo] <= k < count[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (count[mid] <= k)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* pj_page_items appends the issues [start, end) of filter (status,
 * flagged) to out, comma-separated, inflating only the blocks that hold
 * some. */
static int pj_page_items(const qfx_project_t *p, int status, int flagged,
                         size_t start, size_t end, qf_buf_t *out) {
  const uint32_t *count = p->count[status][flagged];
  if (start >= end)
    return 0;
  char *scratch = malloc(p->max_raw);
  if (scratch == NULL)
    return -ENOMEM;
  const char *line[QFX_BLOCK_MAX + 1];
  size_t nl, k = start;
  int rc = 0;
  for (size_t blk = pj_first(count, p->nblocks, start);
       rc == 0 && k < end && blk < p->nblocks; blk++) {
    if (count[blk + 1] == count[blk])
      continue; /* no issue of this filter in the block */
    rc = pj_block_lines(p, blk, scratch, line, &nl);
    size_t seen = count[blk];
    for (size_t j = 0; rc == 0 && j < nl && k < end; j++) {
      if (!qfx_ix_matches(p->classes[p->blocks[blk].first + j], status,
                          flagged) ||
          seen++ < k)
        continue;
      if (k++ > start)
        rc = qf_buf_puts(out, ",");
      if (rc == 0)
        rc = qf_buf_append(out, line[j], (size_t)(line[j + 1] - line[j]) - 1);
    }
  }
  free(scratch);
  return rc;
}

int qfx_project_page(const qfx_project_t *p, const qfx_issues_query_t *q,
                     char **body, size_t *len) {
  size_t n = qfx_project_count(p, q->status, q->flagged);
  size_t start = (size_t)(q->page - 1) * (size_t)q->limit;
  size_t end = start + (size_t)q->limit;
  if (start > n)
    start = n;
  if (end > n)
    end = n;
  qf_buf_t b = QF_BUF_INIT;
  int rc = qf_buf_puts(&b, "{\"success\":true,\"data\":{\"issues\":[");
  if (rc == 0)
    rc = pj_page_items(p, q->status, q->flagged, start, end, &b);
  static const char *const flags[QFX_IF_N] = {"null", "true", "false"};
  if (rc == 0)
    rc = qf_buf_printf(&b,
                       "],\"page\":%ld,\"limit\":%ld,\"total\":%zu,"
                       "\"has_more\":%s,\"status\":\"%s\",\"flagged\":%s}}",
                       q->page, q->limit, n, end < n ? "true" : "false",
                       qfx_issue_status_names[q->status], flags[q->flagged]);
  if (rc != 0) {
    qf_buf_free(&b);
    return rc;
  }
  *body = qf_buf_steal(&b, len);
  return 0;
}

/* pj_same tells whether two queries ask for the same page. */
static bool pj_same(const qfx_issues_query_t *a, const qfx_issues_query_t *b) {
  return a->page == b->page && a->limit == b->limit && a->status == b->status &&
         a->flagged == b->flagged;
}

/* pj_cached returns the cached page for q, or NULL. Cached pages are never
 * replaced while p lives, so the pointer stays good without the lock. */
static const qfx_response_t *pj_cached(qfx_project_t *p,
                                       const qfx_issues_query_t *q) {
  const qfx_response_t *e = NULL;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; e == NULL && i < p->npages; i++)
    if (pj_same(&p->pages[i].q, q))
      e = &p->pages[i].e;
  pthread_mutex_unlock(&p->lock);
  return e;
}

/* pj_keep stores e for q unless the cache is full (in pages or bytes) or
 * another request stored the same page first; returns the entry to answer with
 * (e itself when it was not kept: the caller then frees it after queueing). */
static const qfx_response_t *pj_keep(qfx_project_t *p,
                                     const qfx_issues_query_t *q,
                                     qfx_response_t *e, bool *kept) {
  const qfx_response_t *use = e;
  *kept = false;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < p->npages; i++)
    if (pj_same(&p->pages[i].q, q))
      use = &p->pages[i].e;
  size_t bytes = e->len + e->gzip_len;
  if (use == e && p->npages < QFX_PAGE_CACHE &&
      p->cached_bytes + bytes <= QFX_PAGE_CACHE_BYTES) {
    p->cached_bytes += bytes;
    p->pages[p->npages].q = *q;
    p->pages[p->npages].e = *e;
    use = &p->pages[p->npages++].e;
    *kept = true;
  }
  pthread_mutex_unlock(&p->lock);
  return use;
}

enum MHD_Result qfx_project_queue_page(qfx_project_t *p,
                                       const qfx_issues_query_t *q,
                                       struct MHD_Connection *c) {
  const qfx_response_t *cached = pj_cached(p, q);
  if (cached != NULL)
    return qfx_response_queue(cached, c);
  char *body = NULL;
  size_t len = 0;
  qfx_response_t e;
  if (qfx_project_page(p, q, &body, &len) != 0 ||
      qfx_response_build(&e, 200, QFX_CT_JSON, body, len, &p->headers,
                         QFX_VARY) != 0)
    return MHD_NO; /* out of memory: MHD closes the connection */
  bool kept;
  const qfx_response_t *use = pj_keep(p, q, &e, &kept);
  enum MHD_Result r = qfx_response_queue(use, c);
  if (!kept)
    qfx_response_free(&e); /* MHD holds its own reference while sending */
  return r;
}
