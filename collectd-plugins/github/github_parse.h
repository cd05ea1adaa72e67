/* github_parse.h: strict parsers for GitHub REST responses and the Link
 * header. Each parser rejects garbled, truncated or wrongly typed bodies
 * with a one-line message naming the URL. Pure logic: no collectd symbol. */
#ifndef GITHUB_PARSE_H
#define GITHUB_PARSE_H

#include "github_mirror.h"

#include <stdbool.h>
#include <stddef.h>

/* gh_link_find copies the URL of the Link header entry whose rel list holds
 * rel into out. 0, -ENOENT (no such entry or no header), -EINVAL (malformed
 * header) or -ENAMETOOLONG. */
int gh_link_find(const char *header, const char *rel, char *out, size_t outlen);

/* gh_url_param reads a non-negative integer query parameter of url;
 * -1 when absent or not a number. */
long long gh_url_param(const char *url, const char *name);

/* gh_url_display copies url without any user:password@ part, for logs. */
void gh_url_display(const char *url, char *out, size_t outlen);

/* A page of issues and pull requests (GET /repos/{o}/{r}/issues). */
typedef struct gh_page_s {
  gh_item_t **items;
  size_t n;
} gh_page_t;

/* gh_parse_issues parses a JSON array of issues; 0 or -EBADMSG/-ENOMEM with
 * the reason in err. On success the caller owns page (gh_page_free). */
int gh_parse_issues(const char *url, const char *body, gh_page_t *page,
                    char *err, size_t errlen);
void gh_page_free(gh_page_t *page);

/* One labeled/unlabeled event of an issue. */
typedef struct gh_label_event_s {
  bool added;
  char *label;
  long long at;
} gh_label_event_t;

typedef struct gh_events_s {
  gh_label_event_t *v;
  size_t n;
} gh_events_t;

/* gh_parse_label_events appends the label events of one page of
 * GET .../issues/{n}/events to ev (other events are skipped). */
int gh_parse_label_events(const char *url, const char *body, gh_events_t *ev,
                          char *err, size_t errlen);
void gh_events_free(gh_events_t *ev);

/* gh_blocked_since returns when the issue became blocked: for each current
 * label matching words, the last time it was added; the earliest of those.
 * 0 when no current blocking label has a labeled event. */
long long gh_blocked_since(const gh_events_t *ev, const gh_strv_t *labels,
                           const gh_strv_t *words);

/* What GET /repos/{o}/{r}/pulls/{n} tells us. Strings owned. */
typedef struct gh_pull_s {
  long long number;
  bool open;
  char *branch;
  char *head_sha;
  char *mergeable_state; /* NULL when null or absent */
} gh_pull_t;

int gh_parse_pull(const char *url, const char *body, gh_pull_t *pull, char *err,
                  size_t errlen);
void gh_pull_free(gh_pull_t *pull);

/* gh_parse_runs parses GET .../actions/runs into a new array of runs the
 * caller owns (free each with gh_run_free, then the array). */
int gh_parse_runs(const char *url, const char *body, gh_run_t **runs, size_t *n,
                  char *err, size_t errlen);

/* gh_parse_commits counts the commits of one page of GET .../commits. */
int gh_parse_commits(const char *url, const char *body, size_t *count,
                     char *err, size_t errlen);

/* gh_text_links finds the issues a pull request names: "Issue #N" in its
 * title, or a closing keyword (close/closes/closed, fix/fixes/fixed,
 * resolve/resolves/resolved, an optional colon, then "#N") in its title or
 * body. Writes up to max distinct numbers; returns how many. */
size_t gh_text_links(const char *title, const char *body, long long *out,
                     size_t max);

/* gh_branch_issue returns N for a branch "feature/issue-N" (optionally
 * followed by a non-digit suffix such as "-login"), else 0. */
long long gh_branch_issue(const char *branch);

#endif
