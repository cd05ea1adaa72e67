/* project.c: project.json turned into the project responses once per
 * change, an issue at a time (the issue list is never one tree): issue
 * fragments in compressed blocks, a class byte per issue with per-block
 * counts for each (status, flagged) filter, the completion body, and a
 * cache of the pages asked for; or, when only the head of project.json
 * changed, the head with the previous version's issues shared. */
#include "project.h"
#include "log.h"
#include "qf_json.h"
#include "render_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* zlib's level for the fragment blocks: the keys repeat in every issue,
 * so even small blocks shrink about tenfold (2.0 MB of fragments of 5,000
 * generated issues: 199 KB at level 1, 158 KB at 6 for ~4 ms more; 31 MB
 * of 74,711: 3.7 MB in blocks of 64, 3.4 MB in blocks of 128). */
#define PJ_ZLEVEL Z_DEFAULT_COMPRESSION

/* What the filters read of one issue, in one byte (p->classes). */
#define PJ_OPEN 1u
#define PJ_CLOSED 2u
#define PJ_FLAGGED 4u
#define PJ_STATUS_SHIFT 3 /* status - QFX_IS_READY + 1, or 0 for none */

/* pj_knum writes obj[key] when it is a number, else null. */
static void pj_knum(qf_jw_t *w, yajl_val obj, const char *key) {
  qfx_knum(w, key, qf_json_get(obj, key));
}

/* pj_kstr writes obj[key] when it is a string, else null. */
static void pj_kstr(qf_jw_t *w, yajl_val obj, const char *key) {
  qf_jw_kstr(w, key, qf_json_get_str(obj, key));
}

/* pj_kstrs writes the strings of the array obj[key] ([] otherwise). */
static void pj_kstrs(qf_jw_t *w, yajl_val obj, const char *key) {
  yajl_val a = qf_json_get(obj, key);
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; YAJL_IS_ARRAY(a) && i < a->u.array.len; i++)
    if (YAJL_IS_STRING(a->u.array.values[i]))
      qf_jw_str(w, a->u.array.values[i]->u.string);
  qf_jw_arr_close(w);
}

/* pj_flagged tells whether an issue is flagged (true, nothing else). */
static bool pj_flagged(yajl_val issue) {
  return YAJL_IS_TRUE(qf_json_get(issue, "flagged"));
}

/* pj_issue writes one /project/issues item: the fields the contract names,
 * whatever else project.json carries. */
static void pj_issue(qf_jw_t *w, yajl_val it) {
  qf_jw_obj_open(w); /* BEGIN issue */
  pj_knum(w, it, "id");
  pj_kstr(w, it, "title");
  pj_kstr(w, it, "state");
  pj_kstr(w, it, "status");
  qf_jw_kbool(w, "flagged", pj_flagged(it));
  pj_kstr(w, it, "priority");
  pj_kstr(w, it, "trigger");
  pj_kstr(w, it, "reason");
  pj_knum(w, it, "blocked_duration_hours");
  pj_kstrs(w, it, "labels");
  pj_kstrs(w, it, "assignees");
  pj_kstr(w, it, "github_url");
  pj_kstr(w, it, "created_at");
  pj_kstr(w, it, "updated_at");
  pj_kstr(w, it, "closed_at");
  qf_jw_obj_close(w); /* END issue */
}

/* pj_trigger is the index of a flagged issue's trigger in
 * qfx_trigger_names, or -1. */
static int pj_trigger(yajl_val it) {
  const char *trigger = qf_json_get_str(it, "trigger");
  for (int t = 0; trigger != NULL && t < QFX_TRIGGERS; t++)
    if (strcmp(trigger, qfx_trigger_names[t]) == 0)
      return t;
  return -1;
}

/* pj_classify reads what the filters need of one issue. */
static uint8_t pj_classify(yajl_val it) {
  const char *state = qf_json_get_str(it, "state");
  const char *status = qf_json_get_str(it, "status");
  unsigned c = pj_flagged(it) ? PJ_FLAGGED : 0;
  if (state != NULL && strcmp(state, "open") == 0)
    c |= PJ_OPEN;
  else if (state != NULL && strcmp(state, "closed") == 0)
    c |= PJ_CLOSED;
  for (int s = QFX_IS_READY; status != NULL && s <= QFX_IS_DONE; s++)
    if (strcmp(status, qfx_issue_status_names[s]) == 0)
      c |= (unsigned)(s - QFX_IS_READY + 1) << PJ_STATUS_SHIFT;
  return (uint8_t)c;
}

/* pj_matches tells whether an issue of class c passes a (status, flagged)
 * filter. */
static bool pj_matches(uint8_t c, int status, int flagged) {
  bool f = (c & PJ_FLAGGED) != 0;
  if ((flagged == QFX_IF_TRUE && !f) || (flagged == QFX_IF_FALSE && f))
    return false;
  switch (status) {
  case QFX_IS_ALL:
    return true;
  case QFX_IS_OPEN:
    return (c & PJ_OPEN) != 0;
  case QFX_IS_CLOSED:
    return (c & PJ_CLOSED) != 0;
  default:
    return (c >> PJ_STATUS_SHIFT) == status - QFX_IS_READY + 1;
  }
}

/* While project.json streams in: the block being filled, the
 * compressed blocks so far, the human lists. */
typedef struct pj_builder_s {
  qfx_project_t *p;
  qf_jw_t w;         /* one issue at a time */
  qf_buf_t raw;      /* the fragments of the block being filled */
  qf_buf_t z;        /* the compressed blocks, back to back */
  qf_buf_t human[2]; /* flagged entries: critical ones, then the rest */
  size_t cap;        /* room in p->classes */
  size_t cap_blocks; /* room in p->zoff */
} pj_builder_t;

/* pj_grow makes room for one more issue (and its block). */
static int pj_grow(pj_builder_t *b) {
  qfx_project_t *p = b->p;
  if (p->nissues + 1 > b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 256;
    uint8_t *c = realloc(p->classes, cap);
    if (c == NULL)
      return -ENOMEM;
    p->classes = c;
    b->cap = cap;
  }
  if (p->nblocks + 2 > b->cap_blocks) {
    size_t cap = b->cap_blocks ? 2 * b->cap_blocks : 8;
    uint32_t *o = realloc(p->zoff, cap * sizeof(*o));
    if (o == NULL)
      return -ENOMEM;
    p->zoff = o;
    b->cap_blocks = cap;
  }
  return 0;
}

/* pj_flush compresses the block being filled onto b->z. */
static int pj_flush(pj_builder_t *b) {
  qfx_project_t *p = b->p;
  if (b->raw.len == 0)
    return 0;
  uLongf zlen = compressBound((uLong)b->raw.len);
  unsigned char *z = malloc(zlen);
  if (z == NULL)
    return -ENOMEM;
  int rc = compress2(z, &zlen, (const Bytef *)b->raw.data, (uLong)b->raw.len,
                     PJ_ZLEVEL) == Z_OK
               ? 0
               : -ENOMEM; /* compress2 fails only for memory here */
  if (rc == 0 && b->z.len + zlen > UINT32_MAX)
    rc = -EOVERFLOW; /* block positions are 32-bit */
  if (rc == 0)
    rc = qf_buf_append(&b->z, z, zlen);
  free(z);
  if (rc != 0)
    return rc;
  p->zoff[++p->nblocks] = (uint32_t)b->z.len;
  if (b->raw.len > p->max_raw)
    p->max_raw = (uint32_t)b->raw.len;
  p->raw_bytes += b->raw.len;
  qf_buf_reset(&b->raw);
  return 0;
}

/* pj_append appends what b->w rendered to out, after a ',' when out
 * already holds an element and comma is set. */
static int pj_append(pj_builder_t *b, qf_buf_t *out, bool comma) {
  const unsigned char *text;
  size_t len;
  if (b->w.status != 0)
    return b->w.status;
  yajl_gen_get_buf(b->w.g, &text, &len);
  int rc = comma && out->len > 0 ? qf_buf_puts(out, ",") : 0;
  return rc != 0 ? rc : qf_buf_append(out, (const char *)text, len);
}

/* pj_human_entry appends one issues_requiring_human_intervention entry to
 * its list: critical ones go first, each list in project.json order. */
static int pj_human_entry(pj_builder_t *b, yajl_val it) {
  const char *prio = qf_json_get_str(it, "priority");
  qf_buf_t *list =
      &b->human[prio != NULL && strcmp(prio, "critical") == 0 ? 0 : 1];
  qf_jw_reset(&b->w);
  qf_jw_obj_open(&b->w);
  pj_knum(&b->w, it, "id");
  pj_kstr(&b->w, it, "title");
  pj_kstr(&b->w, it, "priority");
  pj_kstr(&b->w, it, "reason");
  pj_kstr(&b->w, it, "trigger");
  pj_knum(&b->w, it, "blocked_duration_hours");
  pj_kstr(&b->w, it, "github_url");
  qf_jw_obj_close(&b->w);
  return pj_append(b, list, true);
}

/* pj_each takes one element of project.json's issue list: an object is
 * rendered into the block being filled, a line, and classified; anything
 * else is not an issue and is left out of every list. */
static int pj_each(yajl_val it, void *ctx) {
  pj_builder_t *b = ctx;
  qfx_project_t *p = b->p;
  if (!YAJL_IS_OBJECT(it))
    return 0;
  int rc = pj_grow(b);
  if (rc != 0)
    return rc;
  qf_jw_reset(&b->w);
  pj_issue(&b->w, it);
  rc = pj_append(b, &b->raw, false);
  if (rc == 0)
    rc = qf_buf_puts(&b->raw, "\n");
  if (rc == 0 && (b->raw.len > UINT32_MAX || p->nissues + 1 >= UINT32_MAX))
    rc = -EOVERFLOW; /* counts and block lengths are 32-bit */
  if (rc == 0 && pj_flagged(it)) {
    int t = pj_trigger(it);
    if (t >= 0)
      p->flagged_by_trigger[t]++;
    rc = pj_human_entry(b, it);
  }
  if (rc != 0)
    return rc;
  p->classes[p->nissues++] = pj_classify(it);
  return p->nissues % QFX_BLOCK_ISSUES == 0 ? pj_flush(b) : 0;
}

/* pj_count builds the per-block counts of the issues passing one
 * filter. */
static int pj_count(qfx_project_t *p, int status, int flagged) {
  uint32_t *count = malloc((p->nblocks + 1) * sizeof(*count));
  if (count == NULL)
    return -ENOMEM;
  uint32_t n = 0;
  for (size_t i = 0; i < p->nissues; i++) {
    if (i % QFX_BLOCK_ISSUES == 0)
      count[i / QFX_BLOCK_ISSUES] = n;
    n += pj_matches(p->classes[i], status, flagged);
  }
  count[p->nblocks] = n;
  p->count[status][flagged] = count;
  return 0;
}

/* pj_indexes counts every (status, flagged) filter, block by block. */
static int pj_indexes(qfx_project_t *p) {
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++)
      if (pj_count(p, s, f) != 0)
        return -ENOMEM;
  p->nflagged = qfx_project_count(p, QFX_IS_ALL, QFX_IF_TRUE);
  return 0;
}

size_t qfx_project_count(const qfx_project_t *p, int status, int flagged) {
  return p->count[status][flagged][p->nblocks];
}

/* pj_human_list joins the flagged entries pj_human_entry collected,
 * critical ones first, into the JSON array p->human. */
static int pj_human_list(qfx_project_t *p, const qf_buf_t human[2]) {
  qf_buf_t list = QF_BUF_INIT;
  int rc = qf_buf_puts(&list, "[");
  for (int i = 0; rc == 0 && i < 2; i++) {
    if (i == 1 && human[0].len > 0 && human[1].len > 0)
      rc = qf_buf_puts(&list, ",");
    if (rc == 0 && human[i].len > 0)
      rc = qf_buf_append(&list, human[i].data, human[i].len);
  }
  if (rc == 0)
    rc = qf_buf_puts(&list, "]");
  if (rc != 0) {
    qf_buf_free(&list);
    return rc;
  }
  p->human = list.data; /* owned by p from here */
  p->human_len = list.len;
  return 0;
}

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
  pj_kstr(&w, doc, "repository");
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
    pj_knum(&w, comp, counts[i]);
  if (comp != NULL)
    qf_jw_kint(&w, "flagged_issues", (long long)p->nflagged);
  else
    qf_jw_knull(&w, "flagged_issues");
  qf_jw_key(&w, "issues_requiring_human_intervention");
  qf_jw_raw(&w, p->human, p->human_len);
  pj_kstr(&w, doc, "estimated_completion_date");
  pj_velocity(&w, doc);
  pj_kstr(&w, doc, "last_sync");
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
  free(p->zoff);
  free(p->classes);
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

/* pj_stream indexes the issues of project.json's text into b->p, keeping
 * the rest of the document as p->doc. 0, -EINVAL (why in err), -EOVERFLOW
 * or -ENOMEM. */
static int pj_stream(pj_builder_t *b, const char *text, size_t len, char *err,
                     size_t errlen) {
  yajl_val rest = NULL;
  int rc =
      qf_json_parse_split(text, len, "issues", pj_each, b, &rest, err, errlen);
  if (rc == 0)
    rc = pj_flush(b);
  if (rc == -EOVERFLOW)
    qf_err(err, errlen, "too many issues or too much issue text to index");
  b->p->doc = rest;
  pj_prune(rest);
  return rc;
}

/* pj_hash is FNV-1a (64 bits) of text[0, len), 8 bytes a step. */
static uint64_t pj_hash(const char *text, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, text + i, 8);
    h = (h ^ w) * 1099511628211ULL;
  }
  for (; i < len; i++)
    h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
  return h;
}

/* pj_hash_issues records the hash of the issue list's text, when it can
 * be found, for the next version to compare (qfx_project_update). */
static void pj_hash_issues(qfx_project_t *p, const char *text, size_t len) {
  size_t start, end;
  p->hashed = text != NULL && qfx_issues_span(text, len, &start, &end) == 0;
  if (p->hashed) {
    p->issues_hash = pj_hash(text + start, end - start);
    p->issues_len = end - start;
  }
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

/* pj_finish renders p's human list and completion once its issues are
 * indexed (b holds the human entries collected). */
static int pj_finish(qfx_project_t *p, pj_builder_t *b) {
  int rc = pj_human_list(p, b->human);
  return rc == 0 ? pj_completion_build(p) : rc;
}

/* pj_fit gives back the slack of the blocks' buffer, which then becomes
 * p->z. */
static void pj_fit(qfx_project_t *p, qf_buf_t *z) {
  size_t len = 0;
  char *data = qf_buf_steal(z, &len);
  char *fit = data != NULL ? realloc(data, len > 0 ? len : 1) : NULL;
  p->z = (unsigned char *)(fit != NULL ? fit : data);
}

/* pj_build_parts fills p from project.json's text (NULL: none yet). */
static int pj_build_parts(qfx_project_t *p, const char *text, size_t len,
                          char *err, size_t errlen) {
  pj_builder_t b = {.p = p,
                    .raw = QF_BUF_INIT,
                    .z = QF_BUF_INIT,
                    .human = {QF_BUF_INIT, QF_BUF_INIT}};
  int rc = qf_jw_init(&b.w);
  if (rc == 0)
    rc = pj_grow(&b);
  if (rc == 0) {
    p->zoff[0] = 0;
    if (text != NULL)
      rc = pj_stream(&b, text, len, err, errlen);
  }
  pj_fit(p, &b.z);
  if (rc == 0)
    rc = pj_indexes(p);
  if (rc == 0)
    rc = pj_finish(p, &b);
  if (rc == 0)
    pj_hash_issues(p, text, len);
  qf_jw_free(&b.w);
  qf_buf_free(&b.raw);
  qf_buf_free(&b.z);
  qf_buf_free(&b.human[0]);
  qf_buf_free(&b.human[1]);
  return rc;
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

/* pj_share makes p use the issue data of owner (a reference is taken). */
static int pj_share(qfx_project_t *p, qfx_project_t *owner) {
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
  p->zoff = owner->zoff;
  p->nblocks = owner->nblocks;
  p->max_raw = owner->max_raw;
  p->raw_bytes = owner->raw_bytes;
  p->classes = owner->classes;
  memcpy(p->count, owner->count, sizeof(p->count));
  p->hashed = true;
  p->issues_hash = owner->issues_hash;
  p->issues_len = owner->issues_len;
  return 0;
}

/* pj_reuse fills p from text whose issue list, text[start, end), is the
 * one owner indexed: the rest of the document is parsed with an empty
 * list in its place and the issues are shared with owner. */
static int pj_reuse(qfx_project_t *p, qfx_project_t *owner, const char *text,
                    size_t len, size_t start, size_t end, char *err,
                    size_t errlen) {
  size_t rlen = start + 2 + (len - end);
  char *rest = malloc(rlen + 1);
  if (rest == NULL)
    return -ENOMEM;
  memcpy(rest, text, start);
  memcpy(rest + start, "[]", 2);
  memcpy(rest + start + 2, text + end, len - end);
  rest[rlen] = '\0';
  yajl_val doc = NULL;
  int rc = qf_json_parse_split(rest, rlen, "issues", pj_none, NULL, &doc, err,
                               errlen);
  free(rest);
  p->doc = doc;
  pj_prune(doc);
  if (rc == 0)
    rc = pj_share(p, owner);
  return rc == 0 ? pj_completion_build(p) : rc;
}

/* pj_owner is the project owning prev's issue data. */
static qfx_project_t *pj_owner(qfx_project_t *prev) {
  while (prev->base != NULL)
    prev = prev->base;
  return prev->issues_of != NULL ? prev->issues_of : prev;
}

int qfx_project_update(qfx_project_t *prev, const char *text, size_t len,
                       const qfx_headers_t *h, qfx_project_t **out, char *err,
                       size_t errlen) {
  size_t start, end;
  qfx_project_t *owner = prev != NULL ? pj_owner(prev) : NULL;
  if (owner == NULL || !owner->hashed || text == NULL ||
      qfx_issues_span(text, len, &start, &end) != 0 ||
      end - start != owner->issues_len ||
      pj_hash(text + start, end - start) != owner->issues_hash)
    return qfx_project_build(text, len, h, out, err, errlen);
  *out = NULL;
  qfx_project_t *p = pj_new(h);
  if (p == NULL) {
    qf_err(err, errlen, "%s", strerror(ENOMEM));
    return -ENOMEM;
  }
  int rc = pj_reuse(p, owner, text, len, start, end, err, errlen);
  return pj_done(p, rc, out, err, errlen);
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
  char *body = NULL;
  size_t blen = 0;
  int rc = pj_overlay_human(p, base, extra, len);
  if (rc == 0)
    rc = pj_completion(p, &body, &blen);
  if (rc == 0)
    rc = qfx_response_build(&p->completion, 200, QFX_CT_JSON, body, blen,
                            &p->headers, QFX_VARY);
  if (rc != 0) {
    qfx_project_release(p);
    return rc;
  }
  *out = p;
  return 0;
}

/* pj_block_lines inflates block k into scratch (p->max_raw bytes) and
 * finds its lines: line[j] starts issue k * QFX_BLOCK_ISSUES + j, *n of
 * them. 0, or -EIO (cannot be: the block was compressed here). */
static int pj_block_lines(const qfx_project_t *p, size_t k, char *scratch,
                          const char *line[QFX_BLOCK_ISSUES + 1], size_t *n) {
  uLongf got = p->max_raw;
  if (uncompress((Bytef *)scratch, &got, p->z + p->zoff[k],
                 p->zoff[k + 1] - p->zoff[k]) != Z_OK)
    return -EIO;
  const char *at = scratch, *stop = scratch + got;
  *n = 0;
  while (at < stop && *n < QFX_BLOCK_ISSUES) {
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
  const char *line[QFX_BLOCK_ISSUES + 1];
  size_t nl, k = start;
  int rc = 0;
  for (size_t blk = pj_first(count, p->nblocks, start);
       rc == 0 && k < end && blk < p->nblocks; blk++) {
    if (count[blk + 1] == count[blk])
      continue; /* no issue of this filter in the block */
    rc = pj_block_lines(p, blk, scratch, line, &nl);
    size_t seen = count[blk];
    for (size_t j = 0; rc == 0 && j < nl && k < end; j++) {
      if (!pj_matches(p->classes[blk * QFX_BLOCK_ISSUES + j], status,
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
