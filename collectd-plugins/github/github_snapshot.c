/* github_snapshot.c: the project.json snapshot. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range */
#endif
#include "github_snapshot.h"
#include "github_store.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"
#include "qf_snapshot.h"
#include "qf_time.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

/* ghr_round rounds v to the given number of decimals. */
static double ghr_round(double v, int decimals) {
  double scale = pow(10, decimals);
  return round(v * scale) / scale;
}

/* ghr_kint_known writes v, or null when v < 0 (unknown). */
static void ghr_kint_known(qf_jw_t *w, const char *key, long long v) {
  if (v < 0)
    qf_jw_knull(w, key);
  else
    qf_jw_kint(w, key, v);
}

/* ghr_strv writes a string array. */
static void ghr_strv(qf_jw_t *w, const char *key, const gh_strv_t *sv) {
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; i < sv->n; i++)
    qf_jw_str(w, sv->v[i]);
  qf_jw_arr_close(w);
}

/* ghr_github writes the "github" section. */
static void ghr_github(qf_jw_t *w, const gh_figures_t *f,
                       const gh_health_t *h) {
  qf_jw_key(w, "github");
  qf_jw_obj_open(w); /* BEGIN github */
  qf_jw_kint(w, "open_issues", (long long)f->open_issues);
  qf_jw_kint(w, "open_pull_requests", (long long)f->open_prs);
  ghr_kint_known(w, "recent_commits", h->recent_commits);
  qf_jw_kint(w, "recent_commits_days", h->recent_commits_days);
  ghr_kint_known(w, "rate_limit_remaining", h->rl_remaining);
  ghr_kint_known(w, "rate_limit_limit", h->rl_limit);
  if (h->rl_reset > 0)
    qf_jw_ktime(w, "rate_limit_reset", h->rl_reset);
  else
    qf_jw_knull(w, "rate_limit_reset");
  qf_jw_kint(w, "requests", h->requests);
  qf_jw_kint(w, "not_modified", h->not_modified);
  qf_jw_kint(w, "requests_total", (long long)h->requests_total);
  qf_jw_kint(w, "not_modified_total", (long long)h->not_modified_total);
  qf_jw_kint(w, "errors_total", (long long)h->errors_total);
  qf_jw_kint(w, "cycles", h->cycles);
  qf_jw_kbool(w, "sync_complete", h->sync_complete);
  qf_jw_key(w, "unavailable");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < h->nunavailable; i++) {
    const gh_unavailable_t *u = &h->unavailable[i];
    qf_jw_obj_open(w);
    qf_jw_kstr(w, "part", u->part);
    qf_jw_kstr(w, "reason", u->reason);
    qf_jw_ktime(w, "since", u->since);
    qf_jw_ktime(w, "retry_at", u->retry_at);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END github */
}

/* ghr_completion writes the "completion" section. */
static void ghr_completion(qf_jw_t *w, const gh_figures_t *f) {
  qf_jw_key(w, "completion");
  qf_jw_obj_open(w); /* BEGIN completion */
  qf_jw_kint(w, "completion_percentage", f->completion_percentage);
  qf_jw_kint(w, "total_issues", (long long)f->total);
  qf_jw_kint(w, "completed_issues", (long long)f->done);
  qf_jw_kint(w, "in_progress_issues", (long long)f->in_progress);
  qf_jw_kint(w, "ready_issues", (long long)f->ready);
  qf_jw_kint(w, "blocked_issues", (long long)f->blocked);
  qf_jw_kint(w, "flagged_issues", (long long)f->flagged);
  qf_jw_obj_close(w); /* END completion */
}

/* ghr_velocity writes the "velocity" section and the estimate. */
static void ghr_velocity(qf_jw_t *w, const gh_figures_t *f) {
  qf_jw_key(w, "velocity");
  qf_jw_obj_open(w); /* BEGIN velocity */
  qf_jw_key(w, "daily");
  qf_jw_arr_open(w);
  for (int i = 0; i < GH_VELOCITY_DAYS; i++)
    qf_jw_int(w, f->daily[i]);
  qf_jw_arr_close(w);
  qf_jw_kdouble(w, "per_day", ghr_round(f->per_day, 2));
  qf_jw_kstr(w, "trend", f->trend);
  qf_jw_kdouble(w, "slope", ghr_round(f->slope, 3));
  qf_jw_obj_close(w); /* END velocity */
  char date[16];
  if (f->eta > 0 &&
      qf_time_format_date((time_t)f->eta, date, sizeof(date)) == 0)
    qf_jw_kstr(w, "estimated_completion_date", date);
  else
    qf_jw_knull(w, "estimated_completion_date");
}

/* ghr_flag writes the flag fields of one issue. */
static void ghr_flag(qf_jw_t *w, const gh_issue_fig_t *fig) {
  bool flagged = fig->trigger != GH_TRIG_NONE;
  qf_jw_kbool(w, "flagged", flagged);
  if (!flagged) {
    qf_jw_knull(w, "priority");
    qf_jw_knull(w, "trigger");
    qf_jw_knull(w, "reason");
    qf_jw_knull(w, "blocked_duration_hours");
  } else {
    qf_jw_kstr(w, "priority",
               gh_trigger_critical(fig->trigger) ? "critical" : "review");
    qf_jw_kstr(w, "trigger", gh_trigger_name(fig->trigger));
    qf_jw_kstr(w, "reason", fig->reason);
    if (fig->blocked_hours >= 0)
      qf_jw_kdouble(w, "blocked_duration_hours",
                    ghr_round(fig->blocked_hours, 1));
    else
      qf_jw_knull(w, "blocked_duration_hours");
  }
  qf_jw_key(w, "triggers");
  qf_jw_arr_open(w);
  for (int t = GH_TRIG_CI_FAILURES; t < GH_TRIG_COUNT; t++)
    if (fig->triggers & (1u << t))
      qf_jw_str(w, gh_trigger_name((gh_trigger_t)t));
  qf_jw_arr_close(w);
}

/* ghr_issue writes one element of "issues". */
static void ghr_issue(qf_jw_t *w, const gh_figures_t *f,
                      const gh_issue_fig_t *fig) {
  const gh_item_t *it = fig->item;
  char url[GH_URL_BUF];
  qf_jw_obj_open(w); /* BEGIN issue */
  qf_jw_kint(w, "id", it->number);
  qf_jw_kstr(w, "title", it->title);
  qf_jw_kstr(w, "state", it->open ? "open" : "closed");
  qf_jw_kstr(w, "state_reason", it->state_reason);
  qf_jw_kstr(w, "status", gh_status_name(fig->status));
  ghr_strv(w, "labels", &it->labels);
  ghr_strv(w, "assignees", &it->assignees);
  qf_jw_kstr(w, "github_url", gh_item_url(f->mirror, it, url, sizeof(url)));
  qf_jw_ktime(w, "created_at", it->created_at);
  qf_jw_ktime(w, "updated_at", it->updated_at);
  qf_jw_ktime(w, "closed_at", it->closed_at);
  ghr_flag(w, fig);
  qf_jw_key(w, "pull_requests");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < fig->nprs; i++)
    qf_jw_int(w, fig->prs[i]);
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END issue */
}

/* ghr_ci_hold returns the creation time of the oldest run still pending
 * that began after now - GH_CI_PENDING_HOLD, or 0 when none: completed
 * runs created at or after it are held back, so that a reader whose cursor
 * is the newest run it took misses none that finishes late. */
static long long ghr_ci_hold(const gh_mirror_t *m, long long now) {
  long long hold = 0;
  for (size_t i = 0; i < m->nruns; i++) {
    const gh_run_t *r = &m->runs[i];
    if (r->verdict == GH_VERDICT_PENDING &&
        r->created_at > now - GH_CI_PENDING_HOLD &&
        (hold == 0 || r->created_at < hold))
      hold = r->created_at;
  }
  return hold;
}

/* ghr_ci_runs writes "ci_runs": the newest GH_CI_RUNS_RENDER runs that
 * passed or failed (cancelled and skipped runs are neither), newest first,
 * none at or after a run still pending (ghr_ci_hold). */
static void ghr_ci_runs(qf_jw_t *w, const gh_mirror_t *m, long long now) {
  long long hold = ghr_ci_hold(m, now);
  int n = 0;
  qf_jw_key(w, "ci_runs");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < m->nruns && n < GH_CI_RUNS_RENDER; i++) {
    const gh_run_t *r = &m->runs[i];
    if ((r->verdict != GH_VERDICT_SUCCESS &&
         r->verdict != GH_VERDICT_FAILURE) ||
        r->created_at <= 0 || (hold > 0 && r->created_at >= hold))
      continue;
    qf_jw_obj_open(w);
    qf_jw_ktime(w, "at", r->created_at);
    qf_jw_kbool(w, "failed", r->verdict == GH_VERDICT_FAILURE);
    qf_jw_obj_close(w);
    n++;
  }
  qf_jw_arr_close(w);
}

/* ghr_activity writes "activity": the newest updated_at among the pull
 * requests (null when none). The commits listing is counted, not dated,
 * so no commit time is written. */
static void ghr_activity(qf_jw_t *w, const gh_figures_t *f) {
  qf_jw_key(w, "activity");
  qf_jw_obj_open(w);
  qf_jw_ktime(w, "last_pull_request_update", f->last_pr_update);
  qf_jw_obj_close(w);
}

/* ghr_head writes project.json up to and including the "issues" key. */
static void ghr_head(qf_jw_t *w, const char *repository, const gh_figures_t *f,
                     const gh_health_t *h, long long now) {
  qf_jw_obj_open(w); /* BEGIN project */
  qf_jw_kint(w, "schema_version", QF_SNAPSHOT_SCHEMA_VERSION);
  qf_jw_ktime(w, "updated_at", now);
  qf_jw_kstr(w, "repository", repository);
  qf_jw_ktime(w, "last_sync", h->last_sync);
  qf_jw_kstr(w, "sync_state", h->sync_state ? h->sync_state : "never");
  qf_jw_kstr(w, "last_error", h->last_error);
  qf_jw_ktime(w, "last_error_at", h->last_error ? h->last_error_at : 0);
  if (h->last_sync > 0)
    qf_jw_kint(w, "sync_age_seconds",
               now > h->last_sync ? now - h->last_sync : 0);
  else
    qf_jw_knull(w, "sync_age_seconds");
  ghr_github(w, f, h);
  ghr_completion(w, f);
  ghr_velocity(w, f);
  if (h->mirror != NULL) {
    ghr_ci_runs(w, h->mirror, now);
    ghr_activity(w, f);
  }
  qf_jw_key(w, "issues");
}

void gh_out_put(gh_out_t *o, const void *p, size_t len) {
  if (o->status == 0)
    o->status = qf_buf_append(&o->buf, p, len);
  if (o->status == 0 && o->fd >= 0 && o->buf.len >= GH_OUT_CHUNK)
    gh_out_flush(o);
}

void gh_out_flush(gh_out_t *o) {
  if (o->status == 0 && o->fd >= 0 && o->buf.len > 0) {
    o->status = qf_write_all(o->fd, o->buf.data, o->buf.len);
    o->written += o->buf.len;
    qf_buf_reset(&o->buf);
  }
}

size_t gh_out_pos(const gh_out_t *o) { return o->written + o->buf.len; }

void gh_out_put_jw(gh_out_t *o, qf_jw_t *w, bool reset) {
  const unsigned char *b = NULL;
  size_t len = 0;
  if (w->status != 0 && o->status == 0)
    o->status = w->status;
  if (yajl_gen_get_buf(w->g, &b, &len) == yajl_gen_status_ok)
    gh_out_put(o, b, len);
  yajl_gen_clear(w->g);
  if (reset)
    yajl_gen_reset(w->g, NULL);
}

/* The document written before, when it is the one gh_written_t describes:
 * its closed issues' elements are copied rather than rendered again. */
typedef struct ghr_old_s {
  gh_window_t win; /* a window of the old file */
  const gh_shown_t *shown;
  size_t n, i; /* shown[i] is the next to look at (numbers descending) */
} ghr_old_t;

/* The closed issues' elements of the document being written. */
typedef struct ghr_shown_s {
  gh_shown_t *v;
  size_t n, cap;
} ghr_shown_t;

/* ghr_old_find returns where the old document has issue number, or NULL;
 * numbers are asked in descending order. */
static const gh_shown_t *ghr_old_find(ghr_old_t *old, long long number) {
  while (old->i < old->n && (long long)old->shown[old->i].number > number)
    old->i++;
  return old->i < old->n && (long long)old->shown[old->i].number == number
             ? &old->shown[old->i]
             : NULL;
}

/* ghr_cold_issue writes a cold (closed) issue's element: copied from the
 * old document when it has it, else read back from the mirror file. */
static void ghr_cold_issue(gh_out_t *o, qf_jw_t *w, const gh_figures_t *f,
                           gh_thaw_t *t, ghr_old_t *old, const gh_cold_t *c) {
  const gh_shown_t *s = old != NULL ? ghr_old_find(old, c->number) : NULL;
  const char *p = NULL;
  if (s != NULL && gh_window_get(&old->win, s->at, s->len, &p) == 0) {
    gh_out_put(o, p, s->len);
    return;
  }
  gh_item_t *it = NULL;
  char why[200];
  int status = gh_thaw(t, c, &it, why, sizeof(why));
  if (status != 0) {
    o->status = o->status != 0 ? o->status : status;
    return;
  }
  gh_issue_fig_t fig = {
      .item = it, .reason = "", .blocked_hours = -1, .status = GH_STATUS_DONE};
  ghr_issue(w, f, &fig);
  gh_out_put_jw(o, w, true);
  gh_item_free(it);
}

/* ghr_note records where an element went: an open issue's in its
 * figures, a closed issue's in next (when collected). */
static void ghr_note(gh_out_t *o, const gh_issue_fig_t *fig, long long number,
                     size_t at, ghr_shown_t *next) {
  size_t len = gh_out_pos(o) - at;
  if (fig != NULL && fig->open != NULL) {
    fig->open->at = at;
    fig->open->len = len;
    fig->open->shown = gh_figures_shown_hash(fig);
    return;
  }
  if (next == NULL || o->status != 0 || at + len > UINT32_MAX)
    return;
  void *arr = next->v;
  if (qf_array_room(&arr, &next->cap, next->n, sizeof(gh_shown_t), 1024) != 0) {
    o->status = -ENOMEM;
    return;
  }
  next->v = arr;
  next->v[next->n++] =
      (gh_shown_t){(uint32_t)number, (uint32_t)at, (uint32_t)len};
}

/* ghr_issues writes the elements of the issues array, by number
 * descending: the figures' issues and the mirror's cold ones merged, each
 * element a document of its own (the commas are written here). */
static void ghr_issues(gh_out_t *o, const gh_figures_t *f, ghr_old_t *old,
                       ghr_shown_t *next) {
  const gh_mirror_t *m = f->mirror;
  qf_jw_t w;
  if (qf_jw_init(&w) != 0) {
    o->status = -ENOMEM;
    return;
  }
  gh_thaw_t t;
  gh_thaw_init(&t, m);
  size_t i = 0, j = m->ncold, k = 0;
  while (o->status == 0 && (i < f->nissues || j > 0)) {
    const gh_issue_fig_t *fig = i < f->nissues ? &f->issues[i] : NULL;
    bool cold = fig == NULL ||
                (j > 0 && (long long)m->cold[j - 1].number > fig->item->number);
    if (cold && (m->cold[--j].flags & GH_COLD_PR))
      continue; /* a pull request */
    if (k++ > 0)
      gh_out_put(o, ",", 1);
    size_t at = gh_out_pos(o);
    if (cold) {
      ghr_cold_issue(o, &w, f, &t, old, &m->cold[j]);
      ghr_note(o, NULL, m->cold[j].number, at, next);
    } else {
      i++;
      ghr_issue(&w, f, fig);
      gh_out_put_jw(o, &w, true);
      ghr_note(o, fig, fig->item->number, at, next);
    }
  }
  gh_thaw_free(&t);
  qf_jw_free(&w);
}

/* ghr_document writes the whole of project.json to o; *tail_off receives
 * the offset just after the "issues" key. */
static void ghr_document(gh_out_t *o, const char *repository,
                         const gh_figures_t *f, const gh_health_t *h,
                         long long now, ghr_old_t *old, ghr_shown_t *next,
                         size_t *tail_off) {
  qf_jw_t w;
  if (qf_jw_init(&w) != 0) {
    o->status = -ENOMEM;
    return;
  }
  ghr_head(&w, repository, f, h, now);
  gh_out_put_jw(o, &w, false);
  *tail_off = gh_out_pos(o);
  qf_jw_arr_open(&w); /* yajl writes the key's colon with it */
  gh_out_put_jw(o, &w, false);
  qf_jw_free(&w);
  ghr_issues(o, f, old, next);
  gh_out_put(o, "]}", 2); /* END project */
  gh_out_flush(o);
}

int gh_snapshot_project_fd(int fd, const char *repository,
                           const gh_figures_t *f, const gh_health_t *h,
                           long long now, size_t *tail_off, size_t *total) {
  gh_out_t o = {.fd = fd, .buf = QF_BUF_INIT};
  ghr_document(&o, repository, f, h, now, NULL, NULL, tail_off);
  *total = o.written;
  qf_buf_free(&o.buf);
  return o.status;
}

int gh_snapshot_head(const char *repository, const gh_figures_t *f,
                     const gh_health_t *h, long long now, char **out,
                     size_t *len) {
  qf_jw_t w;
  if (qf_jw_init(&w) != 0)
    return -ENOMEM;
  ghr_head(&w, repository, f, h, now);
  int status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}

int gh_snapshot_project(const char *repository, const gh_figures_t *f,
                        const gh_health_t *h, long long now, char **out,
                        size_t *len) {
  gh_out_t o = {.fd = -1, .buf = QF_BUF_INIT};
  size_t tail_off = 0;
  ghr_document(&o, repository, f, h, now, NULL, NULL, &tail_off);
  if (o.status == 0 && (*out = qf_buf_steal(&o.buf, len)) == NULL)
    o.status = -ENOMEM;
  qf_buf_free(&o.buf);
  return o.status;
}

/* ---------------------------------------------------------------- write */

/* ghr_copy_tail appends len bytes of src from off to dst. */
static int ghr_copy_tail(int src, off_t off, size_t len, int dst) {
  while (len > 0) {
    ssize_t n = copy_file_range(src, &off, dst, NULL, len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                  errno == EOPNOTSUPP))
      break; /* not here: copy through a buffer */
    if (n <= 0)
      return n < 0 ? -errno : -EIO; /* 0: the file shrank */
    len -= (size_t)n;
  }
  char buf[65536];
  while (len > 0) {
    ssize_t n =
        qf_read_full(src, buf, len < sizeof(buf) ? len : sizeof(buf), off);
    if (n <= 0)
      return n < 0 ? (int)n : -EIO; /* 0: the file shrank */
    int status = qf_write_all(dst, buf, (size_t)n);
    if (status != 0)
      return status;
    off += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ghr_same_file tells whether st is the document last written. */
static bool ghr_same_file(const gh_written_t *last, const struct stat *st) {
  return last->valid && st->st_dev == last->dev && st->st_ino == last->ino &&
         (size_t)st->st_size == last->size &&
         st->st_mtim.tv_sec == last->mtime.tv_sec &&
         st->st_mtim.tv_nsec == last->mtime.tv_nsec;
}

/* ghr_write_issue renders one issue's element alone and writes it to fd;
 * *len is its length. 0 or a negative errno. */
static int ghr_write_issue(int fd, const gh_figures_t *f,
                           const gh_issue_fig_t *fig, size_t *len) {
  qf_jw_t w;
  char *text = NULL;
  if (qf_jw_init(&w) != 0)
    return -ENOMEM;
  ghr_issue(&w, f, fig);
  int status = qf_jw_finish(&w, &text, len);
  qf_jw_free(&w);
  if (status == 0)
    status = qf_write_all(fd, text, *len);
  free(text);
  return status;
}

/* Where the splice moved things: from old offset at on, the new document
 * is shift bytes longer (one per issue rendered again). */
typedef struct ghr_move_s {
  size_t at;
  long long shift;
} ghr_move_t;

/* The old file's bytes up to pos are written; shift is how much longer
 * the new document is so far; moves[0, nmoves) where that changed. */
typedef struct ghr_patch_s {
  const gh_figures_t *f;
  int src, fd;
  size_t pos;
  long long shift;
  ghr_move_t *moves;
  size_t nmoves, capmoves;
} ghr_patch_t;

/* ghr_moved notes that from old offset at on, the shift is p->shift. */
static int ghr_moved(ghr_patch_t *p, size_t at) {
  void *arr = p->moves;
  if (qf_array_room(&arr, &p->capmoves, p->nmoves, sizeof(ghr_move_t), 64) != 0)
    return -ENOMEM;
  p->moves = arr;
  p->moves[p->nmoves++] = (ghr_move_t){at, p->shift};
  return 0;
}

/* ghr_patch_issue renders an open issue again when what it shows changed,
 * copying the old file up to it; else only notes where it moved to. */
static int ghr_patch_issue(ghr_patch_t *p, const gh_issue_fig_t *fig,
                           size_t size) {
  gh_issue_open_t *o = fig->open;
  uint64_t shown = gh_figures_shown_hash(fig);
  if (o->at < p->pos || o->len > size - o->at)
    return -ESTALE; /* not where the old file has it: render it all */
  if (shown == o->shown) {
    o->at = (size_t)((long long)o->at + p->shift);
    return 0;
  }
  size_t len = 0;
  int status = ghr_copy_tail(p->src, (off_t)p->pos, o->at - p->pos, p->fd);
  if (status == 0)
    status = ghr_write_issue(p->fd, p->f, fig, &len);
  if (status != 0)
    return status;
  p->pos = o->at + o->len;
  o->at = (size_t)((long long)o->at + p->shift);
  p->shift += (long long)len - (long long)o->len;
  o->len = len;
  o->shown = shown;
  return ghr_moved(p, p->pos);
}

/* ghr_shift_shown moves the closed issues' places by the splice's moves
 * (both in file order). */
static void ghr_shift_shown(gh_written_t *w, const ghr_patch_t *p,
                            long long head_shift) {
  size_t k = 0;
  long long shift = head_shift;
  for (size_t i = 0; i < w->nshown; i++) {
    gh_shown_t *s = &w->shown[i];
    while (k < p->nmoves && p->moves[k].at <= s->at)
      shift = p->moves[k++].shift;
    s->at = (uint32_t)((long long)s->at + shift);
  }
}

/* ghr_splice writes the new head, the open issues whose flags moved and
 * the rest of the old document to fd; -ESTALE when the old document is not
 * the one last written. On success last describes the new document, its
 * closed issues' places moved (they are last's, changed in place only
 * then). */
static int ghr_splice(int fd, const char *path, const char *repository,
                      const gh_figures_t *f, const gh_health_t *h,
                      long long now, gh_written_t *last) {
  ghr_patch_t p = {.f = f, .src = open(path, O_RDONLY | O_CLOEXEC), .fd = fd};
  if (p.src < 0)
    return -ESTALE;
  struct stat st;
  char *head = NULL;
  size_t len = 0;
  int status = fstat(p.src, &st) == 0 && ghr_same_file(last, &st) ? 0 : -ESTALE;
  if (status == 0)
    status = gh_snapshot_head(repository, f, h, now, &head, &len);
  if (status == 0)
    status = qf_write_all(fd, head, len);
  p.pos = last->tail_off;
  p.shift = (long long)len - (long long)last->tail_off;
  long long head_shift = p.shift;
  for (size_t i = 0; status == 0 && i < f->nissues; i++)
    if (f->issues[i].open != NULL)
      status = ghr_patch_issue(&p, &f->issues[i], last->size);
  if (status == 0)
    status = ghr_copy_tail(p.src, (off_t)p.pos, last->size - p.pos, fd);
  if (status == 0) {
    ghr_shift_shown(last, &p, head_shift);
    last->size = (size_t)((long long)last->size + p.shift);
    last->tail_off = len;
  }
  free(p.moves);
  free(head);
  close(p.src);
  return status;
}

/* ghr_spliceable tells whether the file last written came from these
 * figures and shows what they show apart from time-moved flags. */
static bool ghr_spliceable(const gh_figures_t *f, const gh_written_t *last) {
  return last->valid && last->static_hash == f->static_hash &&
         last->gen == f->gen && last->computed_at == f->computed_at;
}

/* ghr_full streams the whole document to fd, copying the closed issues'
 * elements from the old file when it is the one last describes; next
 * receives where the new file has them. */
static int ghr_full(int fd, const char *path, const char *repository,
                    const gh_figures_t *f, const gh_health_t *h, long long now,
                    const gh_written_t *last, gh_written_t *next) {
  ghr_old_t old = {.shown = last->shown, .n = last->nshown};
  ghr_shown_t shown = {NULL, 0, 0};
  gh_window_init(&old.win, last->valid ? open(path, O_RDONLY | O_CLOEXEC) : -1);
  struct stat st;
  bool have_old = old.win.fd >= 0 && fstat(old.win.fd, &st) == 0 &&
                  ghr_same_file(last, &st);
  int status =
      ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 ? 0 : -errno;
  gh_out_t o = {.fd = fd, .buf = QF_BUF_INIT, .status = status};
  ghr_document(&o, repository, f, h, now, have_old ? &old : NULL, &shown,
               &next->tail_off);
  qf_buf_free(&o.buf);
  if (old.win.fd >= 0)
    close(old.win.fd);
  gh_window_free(&old.win);
  if (o.status != 0) {
    free(shown.v);
    return o.status;
  }
  next->shown = shown.v;
  next->nshown = shown.n;
  return 0;
}

void gh_written_free(gh_written_t *w) {
  free(w->shown);
  memset(w, 0, sizeof(*w));
}

int gh_project_write(const char *state_dir, const char *repository,
                     const gh_figures_t *f, const gh_health_t *h, long long now,
                     gh_written_t *last, bool *spliced, char *err,
                     size_t errlen) {
  char path[4096];
  qf_atomic_t a;
  *spliced = false;
  if (qf_path_join(path, sizeof(path), state_dir, GH_PROJECT_FILE) != 0) {
    qf_err(err, errlen, "%s/%s: path too long", state_dir, GH_PROJECT_FILE);
    return -ENAMETOOLONG;
  }
  int status = qf_atomic_open(&a, path, err, errlen);
  if (status != 0)
    return status;
  gh_written_t next = *last;
  next.shown = NULL; /* a new list, or last's moved in place by a splice */
  status = ghr_spliceable(f, last)
               ? ghr_splice(a.fd, path, repository, f, h, now, last)
               : -ESTALE;
  *spliced = status == 0;
  if (*spliced) {
    next.shown = last->shown; /* moved in place, size from the commit */
    next.tail_off = last->tail_off;
  } else {
    /* A failed splice leaves a partial file: ghr_full starts it again. */
    status = ghr_full(a.fd, path, repository, f, h, now, last, &next);
  }
  struct stat st = {0};
  status = qf_atomic_commit(&a, status, 0644, &st, err, errlen);
  if (next.shown != last->shown)
    free(status == 0 ? last->shown : next.shown);
  if (status != 0) {
    last->valid = false; /* its list of places is kept, and not used */
    return status;
  }
  next.valid = true;
  next.static_hash = f->static_hash;
  next.gen = f->gen;
  next.computed_at = f->computed_at;
  next.dev = st.st_dev;
  next.ino = st.st_ino;
  next.size = (size_t)st.st_size;
  next.mtime = st.st_mtim;
  *last = next;
  return 0;
}
