/* github_sync.h: keeps the mirror in step with GitHub over qf_http, cheaply.
 *
 * One cycle (bounded in requests and time, requests serialized):
 *  1. issues: the first sync (and a re-list after reconciliation found a
 *     difference) pages through issues?state=all&sort=created&direction=asc
 *     &per_page=100, following Link rel="next" verbatim, resuming next cycle
 *     when the cycle's budget runs out. Later cycles ask
 *     issues?state=all&sort=updated&direction=asc&since=T&per_page=100 with
 *     If-None-Match; T moves to the newest updated_at seen minus an overlap
 *     only when something changed, so an idle repository answers 304.
 *  2. commits?since=<day>&per_page=100 (conditional; the day only changes
 *     at midnight UTC): the recent commit count.
 *  3. actions/runs?per_page=50 (conditional): CI verdicts. Every
 *     GH_RECON_EVERY cycles this slot instead probes the listing's last page
 *     (conditional): when it changed, the count it implies is compared with
 *     the mirror and a difference (deletion, transfer) starts a re-list.
 *  4. optional detail, skipped when the quota is short: pulls/{n} for open
 *     pull requests that changed (branch, head, mergeable_state), and
 *     issues/{n}/events for issues whose blocking labels changed.
 * Pure logic: calls no collectd symbol (logging goes through a callback). */
#ifndef GITHUB_SYNC_H
#define GITHUB_SYNC_H

#include "github_figures.h"
#include "github_mirror.h"
#include "github_snapshot.h"
#include "qf_http.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define GH_PER_PAGE 100
#define GH_RUNS_PER_PAGE 50
#define GH_OVERLAP 60          /* seconds `since` re-reads, for clock edges */
#define GH_MAX_REQUESTS 60     /* per cycle */
#define GH_RECON_EVERY 12      /* cycles between reconciliation probes */
#define GH_DETAIL_PAGES_MAX 10 /* pages of events/commits followed */
#define GH_RESERVE_MIN 10      /* quota kept back from optional requests */
#define GH_RESERVE_PERCENT 5
#define GH_BACKOFF_MIN 60 /* 403/429 without advice: first wait */
#define GH_BACKOFF_MAX 3600
#define GH_LIST_MAX_BODY (16u << 20)
#define GH_DETAIL_MAX_BODY (4u << 20)
#define GH_URL_MAX 2048
#define GH_API_VERSION "2022-11-28"
#define GH_REDIRECTS_MAX 3   /* same-origin redirects followed per request */
#define GH_PERM_RECHECK 3600 /* seconds before a refused part is re-asked */
#define GH_PER_PAGE_MIN 10   /* smallest page asked after an oversized one */

/* Severities for the log callback (the syslog values collectd uses). */
enum { GH_LOG_ERR = 3, GH_LOG_WARNING = 4, GH_LOG_NOTICE = 5, GH_LOG_INFO = 6 };

typedef struct gh_config_s {
  char *repository; /* owner/repo */
  char *api_url;    /* without a trailing slash */
  char *token;      /* NULL: anonymous */
  char *state_dir;
  gh_strv_t in_progress, blocked; /* label words */
  double flag_blocked_hours;
  int flag_failures;
  double flag_failure_rate;
  int recent_commits_days;
  double timeout; /* seconds per request */
  char *ca_cert;  /* CACert: CA bundle for APIURL's certificate, NULL: system */
} gh_config_t;

/* gh_config_init sets the documented defaults; 0 or -ENOMEM. */
int gh_config_init(gh_config_t *c);
void gh_config_free(gh_config_t *c);
/* gh_repository_valid tells whether s is "owner/repo" as GitHub allows. */
bool gh_repository_valid(const char *s);
/* gh_config_rules returns the figure rules of c. */
gh_rules_t gh_config_rules(const gh_config_t *c);

/* A transport performs req like qf_http_perform and, for a 3xx answer,
 * copies the redirect target (absolute) into location ("" when none). */
typedef int (*gh_transport_t)(void *ctx, const qf_http_request_t *req,
                              qf_http_response_t *resp, char *location,
                              size_t loclen);
typedef void (*gh_log_t)(void *ctx, int severity, const char *msg);

/* Optional parts of a cycle a token may lack the permission for; a 403
 * that is no rate limit costs only that part, re-asked every
 * GH_PERM_RECHECK seconds. */
typedef enum {
  GH_PART_RUNS = 0, /* actions/runs: CI flags */
  GH_PART_PULLS,    /* pulls/{n}: merge-conflict flags */
  GH_PART_EVENTS,   /* issues/{n}/events: exact blocked durations */
  GH_PART_COUNT
} gh_part_t;

typedef struct gh_part_state_s {
  char reason[640]; /* "" while available */
  long long since, retry_at;
} gh_part_state_t;

/* gh_part_name names a part as project.json does. */
const char *gh_part_name(gh_part_t p);

typedef struct gh_sync_s {
  const gh_config_t *cfg;
  gh_mirror_t m;
  qf_http_client_t http;
  gh_transport_t transport; /* qf_http_perform unless a test swaps it */
  void *transport_ctx;
  gh_log_t log;
  void *log_ctx;
  char store_path[4096];
  char origin[512]; /* scheme://host[:port] every followed URL must keep */

  /* the cycle in progress */
  struct timespec started;
  long long now;
  double interval, budget;
  int requests, not_modified;
  bool cycle_error; /* an error was recorded this cycle */
  bool cycle_fatal; /* GitHub could not be reached or refused */
  bool stopped;     /* budget or quota exhausted: no more requests */
  bool quota_short; /* optional requests skipped for the reserve */
  bool dirty;       /* the mirror differs from the stored file */
  bool commits_changed;

  unsigned long long requests_total, not_modified_total, errors_total;
  char last_error[512];
  long long last_error_at;
  char last_logged[512];
  gh_part_state_t parts[GH_PART_COUNT];
  char moved_to[GH_URL_MAX]; /* where a 301 sent us, until logged */
  bool moved_logged;         /* the move was told once */
} gh_sync_t;

/* gh_sync_init prepares s for cfg (which must outlive it): creates
 * StateDir, loads the stored mirror (a broken or foreign file is logged
 * and ignored). 0 or a negative errno with the reason in err. */
int gh_sync_init(gh_sync_t *s, const gh_config_t *cfg, gh_log_t log,
                 void *log_ctx, char *err, size_t errlen);
void gh_sync_destroy(gh_sync_t *s);

/* gh_sync_cycle runs one cycle at wall time now for a plugin running
 * every interval seconds, then stores the mirror when it changed. Returns
 * 0 when the cycle was clean, else a negative errno (the reason is in
 * last_error). Never blocks longer than its budget plus one request. */
int gh_sync_cycle(gh_sync_t *s, long long now, double interval);

/* gh_sync_save stores the mirror when it changed. */
int gh_sync_save(gh_sync_t *s);

/* gh_sync_health describes the plugin's health for project.json. */
void gh_sync_health(const gh_sync_t *s, gh_health_t *h);

#endif
