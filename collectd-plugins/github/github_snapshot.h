/* github_snapshot.h: the project.json snapshot (schema/README.md,
 * "project.json"; schema/project-snapshot.schema.json). Pure logic. */
#ifndef GITHUB_SNAPSHOT_H
#define GITHUB_SNAPSHOT_H

#include "github_figures.h"
#include "qf_buf.h"
#include "qf_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define GH_PROJECT_FILE "project.json"

/* An optional part GitHub refused (a permission 403), see github_sync.h. */
typedef struct gh_unavailable_s {
  const char *part;   /* "ci_runs", "pull_request_detail", "issue_events" */
  const char *reason; /* the URL and GitHub's answer */
  long long since, retry_at;
} gh_unavailable_t;

/* The plugin's own health, as published beside the figures. */
typedef struct gh_health_s {
  long long last_sync;    /* last good issue sync, 0: never */
  const char *last_error; /* NULL when the last cycle was clean */
  long long last_error_at;
  long long rl_remaining, rl_limit, rl_reset; /* -1: unknown */
  int requests, not_modified;                 /* in the last cycle */
  unsigned long long requests_total, not_modified_total, errors_total;
  long long cycles;
  bool sync_complete;       /* the first full listing has finished */
  long long recent_commits; /* -1: unknown */
  int recent_commits_days;
  const char *sync_state; /* "never", "ok", "failing" */
  gh_unavailable_t unavailable[3];
  size_t nunavailable;
  /* The mirror "ci_runs" is written from; NULL leaves it and "activity"
   * out (the caller's, read while rendering). */
  const gh_mirror_t *mirror;
} gh_health_t;

/* Completed workflow runs project.json lists at most, newest first. */
#define GH_CI_RUNS_RENDER 200
/* A run pending for longer than this no longer holds newer ones back. */
#define GH_CI_PENDING_HOLD (6LL * 3600)

/* gh_snapshot_project writes project.json into a new buffer the caller
 * frees. 0 or a negative errno. */
int gh_snapshot_project(const char *repository, const gh_figures_t *f,
                        const gh_health_t *h, long long now, char **out,
                        size_t *len);

/* Where a document streams to: fd, GH_OUT_CHUNK bytes at a time, or
 * with fd < 0 only buf. The first error sticks in status. */
typedef struct gh_out_s {
  int fd;
  qf_buf_t buf;
  size_t written; /* bytes written to fd before buf */
  int status;
} gh_out_t;

#define GH_OUT_CHUNK 65536

void gh_out_put(gh_out_t *o, const void *p, size_t len);
/* gh_out_flush writes what buf holds to fd. */
void gh_out_flush(gh_out_t *o);
/* gh_out_pos is the offset of the next byte put. */
size_t gh_out_pos(const gh_out_t *o);
/* gh_out_put_jw moves what w generated so far to o; with reset, w starts
 * a new document (yajl_gen_reset), else the same one goes on. */
void gh_out_put_jw(gh_out_t *o, qf_jw_t *w, bool reset);

/* gh_snapshot_project_fd streams the same document to fd, never holding
 * more than a few issues in memory. *tail_off is the offset just after
 * the "issues" key (what follows is its colon, the array and the closing
 * brace), *total the bytes written. 0 or a negative errno. */
int gh_snapshot_project_fd(int fd, const char *repository,
                           const gh_figures_t *f, const gh_health_t *h,
                           long long now, size_t *tail_off, size_t *total);

/* gh_snapshot_head writes what precedes the "issues" array (everything but
 * the issues, ending with the "issues" key) into a new buffer: joined with
 * the tail of an earlier document whose issues are the same, it is the
 * whole of project.json. 0 or a negative errno. */
int gh_snapshot_head(const char *repository, const gh_figures_t *f,
                     const gh_health_t *h, long long now, char **out,
                     size_t *len);

/* Where a closed issue's element is in project.json. */
typedef struct gh_shown_s {
  uint32_t number, at, len;
} gh_shown_t;

/* What gh_project_write last wrote: the file, where its "issues" array
 * begins, which figures recorded where each open issue is in it
 * (gh_issue_open_t.at/len), and where each closed issue is (shown, by
 * number descending: a full write copies them from there instead of
 * reading cold items back). Zeroed at first; gh_written_free. */
typedef struct gh_written_s {
  gh_shown_t *shown;
  size_t nshown;
  bool valid;
  uint64_t static_hash;   /* gh_figures_t.static_hash of the document */
  unsigned long long gen; /* gh_figures_t.gen and computed_at of the */
  long long computed_at;  /* figures holding the offsets */
  size_t tail_off, size;
  dev_t dev;
  ino_t ino;
  struct timespec mtime;
} gh_written_t;

/* gh_project_write atomically replaces StateDir/project.json. When the
 * figures are those that wrote the file last (*last) and what only a
 * change of the mirror moves is the same, the head is rendered, the open
 * issues whose flag, reason or blocked hours changed are rendered again and
 * everything else is copied from the old file (*spliced); else the whole
 * document is streamed. The cost of an unchanged cycle is then the head
 * and a few issues, not the repository. f records where each open issue
 * went. 0 or a negative errno with the reason in err (last is then
 * invalid). */
int gh_project_write(const char *state_dir, const char *repository,
                     const gh_figures_t *f, const gh_health_t *h, long long now,
                     gh_written_t *last, bool *spliced, char *err,
                     size_t errlen);
void gh_written_free(gh_written_t *w);

#endif
