/* github_render.h: the project.json snapshot (schema/README.md,
 * "project.json"; schema/project-snapshot.schema.json). Pure logic. */
#ifndef GITHUB_RENDER_H
#define GITHUB_RENDER_H

#include "github_figures.h"

#include <stdbool.h>
#include <stddef.h>

#define GH_PROJECT_FILE "project.json"

/* An optional part GitHub refused (a permission 403), see github_sync.h. */
typedef struct gh_unavailable_s {
  const char *part;   /* "ci_runs", "pull_request_detail", "issue_events" */
  const char *reason; /* the URL and GitHub's answer */
  long long since, retry_at;
} gh_unavailable_t;

/* The plugin's own health, as published beside the figures. */
typedef struct gh_health_s {
  long long last_sync;     /* last good issue sync, 0: never */
  const char *last_error;  /* NULL when the last cycle was clean */
  long long last_error_at;
  long long rl_remaining, rl_limit, rl_reset; /* -1: unknown */
  int requests, not_modified;                 /* in the last cycle */
  unsigned long long requests_total, not_modified_total, errors_total;
  long long cycles;
  bool sync_complete;      /* the first full listing has finished */
  long long recent_commits; /* -1: unknown */
  int recent_commits_days;
  const char *sync_state; /* "never", "ok", "failing" */
  gh_unavailable_t unavailable[3];
  size_t nunavailable;
} gh_health_t;

/* gh_render_project writes project.json into a new buffer the caller
 * frees. 0 or a negative errno. */
int gh_render_project(const char *repository, const gh_figures_t *f,
                      const gh_health_t *h, long long now, char **out,
                      size_t *len);

#endif
