/* project.c: project.json turned into the project responses once per
 * change: issue fragments, one index per (status, flagged) filter, the
 * completion body, and a cache of the pages asked for. */
#include "project.h"
#include "log.h"
#include "qf_json.h"
#include "render.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* What the filters and counts need of one issue. */
typedef struct pj_class_s {
  int8_t state;   /* 1 open, 2 closed, 0 other */
  int8_t status;  /* QFX_IS_READY .. QFX_IS_DONE, or -1 */
  int8_t trigger; /* index into qfx_trigger_names, or -1 */
  bool flagged;
} pj_class_t;

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

/* pj_classify reads what the filters need of one issue. */
static pj_class_t pj_classify(yajl_val it) {
  const char *state = qf_json_get_str(it, "state");
  const char *status = qf_json_get_str(it, "status");
  const char *trigger = qf_json_get_str(it, "trigger");
  pj_class_t c = {
      .state = 0, .status = -1, .trigger = -1, .flagged = pj_flagged(it)};
  for (int t = 0; c.flagged && trigger != NULL && t < QFX_TRIGGERS; t++)
    if (strcmp(trigger, qfx_trigger_names[t]) == 0)
      c.trigger = (int8_t)t;
  if (state != NULL && strcmp(state, "open") == 0)
    c.state = 1;
  else if (state != NULL && strcmp(state, "closed") == 0)
    c.state = 2;
  for (int s = QFX_IS_READY; status != NULL && s <= QFX_IS_DONE; s++)
    if (strcmp(status, qfx_issue_status_names[s]) == 0)
      c.status = (int8_t)s;
  return c;
}

/* pj_matches tells whether an issue passes a (status, flagged) filter. */
static bool pj_matches(const pj_class_t *c, int status, int flagged) {
  if ((flagged == QFX_IF_TRUE && !c->flagged) ||
      (flagged == QFX_IF_FALSE && c->flagged))
    return false;
  switch (status) {
  case QFX_IS_ALL:
    return true;
  case QFX_IS_OPEN:
    return c->state == 1;
  case QFX_IS_CLOSED:
    return c->state == 2;
  default:
    return c->status == status;
  }
}

/* pj_fragments renders every issue (objects only) as one JSON array and
 * records where each element starts: element k is the text
 * [offsets[k], offsets[k + 1] - 1), as yajl puts exactly one ',' between
 * elements. Fills p->frags, p->offsets, p->nissues and *classes. */
static int pj_fragments(qfx_project_t *p, yajl_val issues,
                        pj_class_t **classes) {
  size_t n = YAJL_IS_ARRAY(issues) ? issues->u.array.len : 0;
  *classes = calloc(n + 1, sizeof(**classes));
  p->offsets = calloc(n + 1, sizeof(*p->offsets));
  qf_jw_t w;
  if (*classes == NULL || p->offsets == NULL || qf_jw_init(&w) != 0)
    return -ENOMEM;
  const unsigned char *buf;
  size_t len = 0, m = 0;
  qf_jw_arr_open(&w);
  for (size_t i = 0; i < n; i++) {
    yajl_val it = issues->u.array.values[i];
    if (!YAJL_IS_OBJECT(it))
      continue; /* not an issue: left out of every list */
    yajl_gen_get_buf(w.g, &buf, &len);
    p->offsets[m] = len + (m > 0); /* yajl writes the ',' first */
    pj_issue(&w, it);
    (*classes)[m++] = pj_classify(it);
  }
  yajl_gen_get_buf(w.g, &buf, &len);
  p->offsets[m] = len + 1; /* as if a ',' followed the last element */
  p->nissues = m;
  qf_jw_arr_close(&w);
  int rc = qf_jw_finish(&w, &p->frags, NULL);
  qf_jw_free(&w);
  return rc;
}

/* pj_index builds the list of issues passing one filter. */
static int pj_index(qfx_index_t *ix, const pj_class_t *classes, size_t n,
                    int status, int flagged) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    count += pj_matches(&classes[i], status, flagged);
  ix->items = malloc((count ? count : 1) * sizeof(*ix->items));
  if (ix->items == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++)
    if (pj_matches(&classes[i], status, flagged))
      ix->items[ix->n++] = (uint32_t)i;
  return 0;
}

/* pj_indexes builds every (status, flagged) list and counts the flagged. */
static int pj_indexes(qfx_project_t *p, const pj_class_t *classes) {
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++)
      if (pj_index(&p->index[s][f], classes, p->nissues, s, f) != 0)
        return -ENOMEM;
  p->nflagged = p->index[QFX_IS_ALL][QFX_IF_TRUE].n;
  for (size_t i = 0; i < p->nissues; i++)
    if (classes[i].trigger >= 0)
      p->flagged_by_trigger[classes[i].trigger]++;
  return 0;
}

/* pj_human writes issues_requiring_human_intervention: the flagged
 * issues, critical ones first, each group in project.json order. */
static void pj_human(qf_jw_t *w, yajl_val issues) {
  size_t n = YAJL_IS_ARRAY(issues) ? issues->u.array.len : 0;
  qf_jw_key(w, "issues_requiring_human_intervention");
  qf_jw_arr_open(w);
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      yajl_val it = issues->u.array.values[i];
      const char *prio = qf_json_get_str(it, "priority");
      bool critical = prio != NULL && strcmp(prio, "critical") == 0;
      if (!pj_flagged(it) || critical != (pass == 0))
        continue;
      qf_jw_obj_open(w);
      pj_knum(w, it, "id");
      pj_kstr(w, it, "title");
      pj_kstr(w, it, "priority");
      pj_kstr(w, it, "reason");
      pj_kstr(w, it, "trigger");
      pj_knum(w, it, "blocked_duration_hours");
      pj_kstr(w, it, "github_url");
      qf_jw_obj_close(w);
    }
  }
  qf_jw_arr_close(w);
}

/* pj_velocity writes velocity_trend (issues closed per day) and the
 * velocity details. */
static void pj_velocity(qf_jw_t *w, yajl_val doc) {
  yajl_val v = qf_json_get(doc, "velocity");
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

/* pj_completion renders the /project/completion body into *body. */
static int pj_completion(yajl_val doc, yajl_val issues, size_t nflagged,
                         char **body, size_t *len) {
  static const char *const counts[] = {
      "completion_percentage", "total_issues", "completed_issues",
      "in_progress_issues", "ready_issues", "blocked_issues"};
  yajl_val comp = qf_json_get(doc, "completion");
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
  if (doc != NULL)
    qf_jw_kint(&w, "flagged_issues", (long long)nflagged);
  else
    qf_jw_knull(&w, "flagged_issues");
  pj_human(&w, issues);
  pj_kstr(&w, doc, "estimated_completion_date");
  pj_velocity(&w, doc);
  pj_kstr(&w, doc, "last_sync");
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

void qfx_project_release(qfx_project_t *p) {
  if (p == NULL ||
      atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < p->npages; i++)
    qfx_entry_free(&p->pages[i].e);
  qfx_entry_free(&p->completion);
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++)
      free(p->index[s][f].items);
  free(p->frags);
  free(p->offsets);
  if (p->doc != NULL)
    yajl_tree_free(p->doc);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

/* pj_build_parts fills p from doc; 0 or -ENOMEM. */
static int pj_build_parts(qfx_project_t *p, yajl_val doc) {
  yajl_val issues = qf_json_get(doc, "issues");
  pj_class_t *classes = NULL;
  int rc = pj_fragments(p, issues, &classes);
  if (rc == 0)
    rc = pj_indexes(p, classes);
  free(classes);
  char *body = NULL;
  size_t len = 0;
  if (rc == 0)
    rc = pj_completion(doc, issues, p->nflagged, &body, &len);
  if (rc == 0)
    rc = qfx_entry_build(&p->completion, 200, QFX_CT_JSON, body, len,
                         &p->headers, QFX_VARY);
  return rc;
}

qfx_project_t *qfx_project_build(yajl_val doc, const qfx_headers_t *h) {
  qfx_project_t *p = calloc(1, sizeof(*p));
  if (p == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    if (doc != NULL)
      yajl_tree_free(doc);
    return NULL;
  }
  atomic_init(&p->refs, 1);
  p->headers = *h;
  p->doc = doc;
  if (pj_build_parts(p, doc) != 0) {
    qfx_project_release(p);
    return NULL;
  }
  pj_prune(p->doc);
  return p;
}

int qfx_project_page(const qfx_project_t *p, const qfx_issues_query_t *q,
                     char **body, size_t *len) {
  const qfx_index_t *ix = &p->index[q->status][q->flagged];
  size_t start = (size_t)(q->page - 1) * (size_t)q->limit;
  size_t end = start + (size_t)q->limit;
  if (start > ix->n)
    start = ix->n;
  if (end > ix->n)
    end = ix->n;
  qf_buf_t b = QF_BUF_INIT;
  int rc = qf_buf_puts(&b, "{\"success\":true,\"data\":{\"issues\":[");
  for (size_t k = start; rc == 0 && k < end; k++) {
    uint32_t i = ix->items[k];
    if (k > start)
      rc = qf_buf_puts(&b, ",");
    if (rc == 0)
      rc = qf_buf_append(&b, p->frags + p->offsets[i],
                         p->offsets[i + 1] - 1 - p->offsets[i]);
  }
  static const char *const flags[QFX_IF_N] = {"null", "true", "false"};
  if (rc == 0)
    rc = qf_buf_printf(&b,
                       "],\"page\":%ld,\"limit\":%ld,\"total\":%zu,"
                       "\"has_more\":%s,\"status\":\"%s\",\"flagged\":%s}}",
                       q->page, q->limit, ix->n,
                       end < ix->n ? "true" : "false",
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
  return a->page == b->page && a->limit == b->limit &&
         a->status == b->status && a->flagged == b->flagged;
}

/* pj_cached returns the cached page for q, or NULL. Cached pages are never
 * replaced while p lives, so the pointer stays good without the lock. */
static const qfx_entry_t *pj_cached(qfx_project_t *p,
                                    const qfx_issues_query_t *q) {
  const qfx_entry_t *e = NULL;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; e == NULL && i < p->npages; i++)
    if (pj_same(&p->pages[i].q, q))
      e = &p->pages[i].e;
  pthread_mutex_unlock(&p->lock);
  return e;
}

/* pj_keep stores e for q unless the cache is full or another request
 * stored the same page first; returns the entry to answer with (e itself
 * when it was not kept: the caller then frees it after queueing). */
static const qfx_entry_t *pj_keep(qfx_project_t *p,
                                  const qfx_issues_query_t *q,
                                  qfx_entry_t *e, bool *kept) {
  const qfx_entry_t *use = e;
  *kept = false;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < p->npages; i++)
    if (pj_same(&p->pages[i].q, q))
      use = &p->pages[i].e;
  if (use == e && p->npages < QFX_PAGE_CACHE) {
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
  const qfx_entry_t *cached = pj_cached(p, q);
  if (cached != NULL)
    return qfx_entry_queue(cached, c);
  char *body = NULL;
  size_t len = 0;
  qfx_entry_t e;
  if (qfx_project_page(p, q, &body, &len) != 0 ||
      qfx_entry_build(&e, 200, QFX_CT_JSON, body, len, &p->headers,
                      QFX_VARY) != 0)
    return MHD_NO; /* out of memory: MHD closes the connection */
  bool kept;
  const qfx_entry_t *use = pj_keep(p, q, &e, &kept);
  enum MHD_Result r = qfx_entry_queue(use, c);
  if (!kept)
    qfx_entry_free(&e); /* MHD holds its own reference while sending */
  return r;
}
