/* github_store.c: the mirror's persistence (see github_store.h). */
#include "github_store.h"
#include "github_figures.h"
#include "github_snapshot.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"

#include <errno.h>
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

/* ghs_render writes the mirror into w; with fd >= 0 it flushes w to fd
 * every 64 items, so only a few items are held at once. */
static int ghs_render(qf_jw_t *w, const gh_mirror_t *m, const char *repository,
                      const char *api_url, int fd, size_t *written) {
  int status = 0;
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "format", GHS_FORMAT);
  qf_jw_kint(w, "version", GHS_VERSION);
  qf_jw_kstr(w, "repository", repository);
  qf_jw_kstr(w, "api_url", api_url);
  ghs_position(w, m);
  qf_jw_key(w, "items");
  qf_jw_arr_open(w);
  for (size_t i = 0; status == 0 && i < m->n; i++) {
    ghs_item(w, m, m->items[i]);
    if (fd >= 0 && i % 64 == 63)
      status = gh_jw_flush(w, fd, written);
  }
  qf_jw_arr_close(w);
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
  qf_jw_obj_close(w);
  if (status == 0 && fd >= 0)
    status = gh_jw_flush(w, fd, written);
  return status != 0 ? status : w->status;
}

int gh_store_render(const gh_mirror_t *m, const char *repository,
                    const char *api_url, char **out, size_t *len) {
  qf_jw_t w;
  if (qf_jw_init(&w) != 0)
    return -ENOMEM;
  int status = ghs_render(&w, m, repository, api_url, -1, NULL);
  if (status == 0)
    status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}

int gh_store_save(const gh_mirror_t *m, const char *repository,
                  const char *api_url, const char *path, char *err,
                  size_t errlen) {
  qf_atomic_t a;
  char why[1024] = "";
  int status = qf_atomic_open(&a, path, why, sizeof(why));
  if (status == 0) {
    qf_jw_t w;
    size_t written = 0;
    status = qf_jw_init(&w) == 0 ? 0 : -ENOMEM;
    if (status == 0) {
      status = ghs_render(&w, m, repository, api_url, a.fd, &written);
      qf_jw_free(&w);
    }
    /* mode 0600, as the mirror file keeps */
    status = qf_atomic_commit(&a, status, 0600, NULL, why, sizeof(why));
  }
  if (status != 0)
    qf_err(err, errlen, "%s: cannot store the mirror (%s)", path, why);
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
 * (a tree of a 5,000-issue mirror would cost about 10 MB at start). */
typedef struct ghs_stream_s {
  ghs_rd_t rd;
  gh_mirror_t *m;
  size_t idx; /* items met so far */
} ghs_stream_t;

/* ghs_each_item adds one element of "items" to the mirror; they must be
 * sorted and unique. After the first error the rest are skipped, and the
 * document's header is still checked first (see ghs_read_doc). */
static int ghs_each_item(yajl_val o, void *ctx) {
  ghs_stream_t *st = ctx;
  size_t idx = st->idx++;
  if (st->rd.status != 0)
    return 0;
  gh_item_t *it = ghs_read_item(&st->rd, o, idx);
  if (it == NULL)
    return 0;
  gh_mirror_t *m = st->m;
  if (m->n > 0 && m->items[m->n - 1]->number >= it->number) {
    gh_item_free(it);
    ghs_bad(&st->rd, "items", "n", "is not ascending");
  } else if (gh_mirror_insert(m, it) != 0) {
    st->rd.status = -ENOMEM;
  }
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

int gh_store_parse(gh_mirror_t *m, const char *repository, const char *api_url,
                   const char *text, char *err, size_t errlen) {
  char perr[200];
  ghs_stream_t st = {.rd = {0, ""}, .m = m, .idx = 0};
  gh_mirror_free(m);
  yajl_val d = NULL;
  int status = qf_json_parse_split(text, strlen(text), "items", ghs_each_item,
                                   &st, &d, perr, sizeof(perr));
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

int gh_store_load(gh_mirror_t *m, const char *repository, const char *api_url,
                  const char *path, char *err, size_t errlen) {
  char *text = NULL;
  char why[300];
  gh_mirror_free(m);
  int status = qf_file_read(path, GH_STORE_MAX_BYTES, QF_READ_NOFOLLOW, &text,
                            NULL, err, errlen);
  if (status != 0)
    return status;
  status = gh_store_parse(m, repository, api_url, text, why, sizeof(why));
  free(text);
  if (status != 0)
    qf_err(err, errlen, "%s: %s", path, why);
  return status;
}
