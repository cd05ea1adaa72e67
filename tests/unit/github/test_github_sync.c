/* Unit tests for the sync engine (github_sync.c, github_fetch.c) over a
 * scripted transport: first listing with Link pages, conditional cycles,
 * restart without re-download, back-off on 403/429 and 5xx, links leaving
 * the API host, garbage answers, reconciliation, redirects, permission
 * 403s on one part, 422 detail and back-off, oversized pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "github_store.h"
#include "github_sync.h"

#include "qf_time.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1795773600LL /* 2026-11-27T10:00:00Z */
#define API "http://gh.test"
#define REPOS API "/repos/acme/widgets/"
#define FIRST REPOS "issues?state=all&sort=created&direction=asc&per_page=100"
#define PAGE2                                                                  \
  API "/repositories/1/issues?state=all&sort=created&direction=asc"            \
      "&per_page=2&page=2"
#define COMMITS REPOS "commits?since=2026-11-21T00:00:00Z&per_page=100"
#define RUNS REPOS "actions/runs?per_page=50"

/* One scripted answer for an exact URL. */
typedef struct route_s {
  char url[512];
  long status;
  const char *body;
  const char *link;
  const char *etag;
  long retry_after;
  long long remaining, reset;
  const char *location; /* a 3xx answer's target */
} route_t;

typedef struct script_s {
  route_t routes[16];
  size_t nroutes;
  char urls[64][512]; /* requests made, in order */
  char inm[64][128];  /* their If-None-Match ("" when none) */
  size_t n;
} script_t;

typedef struct fx_s {
  char dir[64];
  gh_config_t cfg;
  gh_sync_t s;
  script_t sc;
} fx_t;

static const char ITEM1[] =
    "{\"number\": 1, \"title\": \"one\", \"state\": \"open\", \"html_url\": "
    "\"u\", \"labels\": [], \"created_at\": \"2026-11-01T00:00:00Z\", "
    "\"updated_at\": \"2026-11-20T00:00:00Z\"}";
static const char ITEM2[] =
    "{\"number\": 2, \"title\": \"Issue #1\", \"state\": \"open\", "
    "\"html_url\": \"u\", \"created_at\": \"2026-11-02T00:00:00Z\", "
    "\"updated_at\": \"2026-11-21T00:00:00Z\", \"pull_request\": {}}";
static const char ITEM3[] =
    "{\"number\": 3, \"title\": \"three\", \"state\": \"closed\", "
    "\"html_url\": \"u\", \"created_at\": \"2026-11-03T00:00:00Z\", "
    "\"updated_at\": \"2026-11-22T00:00:00Z\", "
    "\"closed_at\": \"2026-11-22T00:00:00Z\"}";
static const char PULL2[] =
    "{\"number\": 2, \"state\": \"open\", \"head\": {\"ref\": "
    "\"feature/issue-1\", \"sha\": \"abc\"}, \"mergeable_state\": \"dirty\"}";

/* route adds or replaces the answer for url. */
static route_t *route(fx_t *fx, const char *url, long status, const char *body,
                      const char *link, const char *etag) {
  route_t *r = NULL;
  for (size_t i = 0; i < fx->sc.nroutes && r == NULL; i++)
    if (strcmp(fx->sc.routes[i].url, url) == 0)
      r = &fx->sc.routes[i];
  if (r == NULL) {
    assert_true(fx->sc.nroutes < 16);
    r = &fx->sc.routes[fx->sc.nroutes++];
  }
  memset(r, 0, sizeof(*r));
  snprintf(r->url, sizeof(r->url), "%s", url);
  r->status = status;
  r->body = body;
  r->link = link;
  r->etag = etag;
  r->retry_after = -1;
  r->remaining = 4000;
  r->reset = NOW + 3600;
  return r;
}

/* script_perform answers from the routes; 304 when If-None-Match matches. */
static int script_perform(void *ctx, const qf_http_request_t *req,
                          qf_http_response_t *resp, char *location,
                          size_t loclen) {
  script_t *sc = ctx;
  memset(resp, 0, sizeof(*resp));
  snprintf(location, loclen, "%s", "");
  resp->retry_after = -1;
  resp->rl_limit = resp->rl_remaining = resp->rl_reset = resp->rl_used = -1;
  const char *inm = "";
  for (const char *const *h = req->headers; *h != NULL; h++)
    if (strncmp(*h, "If-None-Match: ", 15) == 0)
      inm = *h + 15;
  assert_true(sc->n < 64);
  snprintf(sc->urls[sc->n], sizeof(sc->urls[0]), "%s", req->url);
  snprintf(sc->inm[sc->n++], sizeof(sc->inm[0]), "%s", inm);
  const route_t *r = NULL;
  for (size_t i = 0; i < sc->nroutes && r == NULL; i++)
    if (strcmp(sc->routes[i].url, req->url) == 0)
      r = &sc->routes[i];
  if (r == NULL) {
    resp->status = 404;
    qf_buf_puts(&resp->body, "{\"message\": \"Not Found\"}");
    return 0;
  }
  if (r->status == 0) {
    snprintf(resp->error, sizeof(resp->error), "%s: Operation timed out",
             req->url);
    return -ETIMEDOUT;
  }
  if (r->status == 1) { /* an answer over req->max_body */
    snprintf(resp->error, sizeof(resp->error),
             "%s: response body over the "
             "%zu byte limit",
             req->url, req->max_body);
    return -EFBIG;
  }
  if (r->location != NULL)
    snprintf(location, loclen, "%s", r->location);
  resp->rl_limit = 5000;
  resp->rl_remaining = r->remaining;
  resp->rl_reset = r->reset;
  resp->retry_after = r->retry_after;
  if (r->etag != NULL) {
    snprintf(resp->etag, sizeof(resp->etag), "%s", r->etag);
    if (strcmp(inm, r->etag) == 0) {
      resp->status = 304;
      qf_buf_append(&resp->body, "", 0);
      return 0;
    }
  }
  resp->status = r->status;
  qf_buf_puts(&resp->body, r->body ? r->body : "");
  if (r->link != NULL)
    qf_buf_puts(&resp->link, r->link);
  return 0;
}

/* log_keep records the last message logged at NOTICE or above. */
static char last_notice[1024];
static void log_keep(void *ctx, int severity, const char *msg) {
  (void)ctx; /* unused */
  if (severity <= 5)
    snprintf(last_notice, sizeof(last_notice), "%s", msg);
}

/* rm_entry removes one entry for rm_tree (deepest first). */
static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st;   /* unused */
  (void)flag; /* unused */
  (void)ftw;  /* unused */
  return remove(path);
}

/* rm_tree removes a scratch directory and everything in it. */
static int rm_tree(const char *dir) {
  return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* fx_start (re)creates the engine over the state directory. */
static void fx_start(fx_t *fx) {
  char err[256];
  assert_int_equal(gh_sync_init(&fx->s, &fx->cfg, NULL, NULL, err, sizeof(err)),
                   0);
  fx->s.transport = script_perform;
  fx->s.transport_ctx = &fx->sc;
}

static int fx_setup(void **state) {
  fx_t *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/gh-sync-XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  assert_int_equal(gh_config_init(&fx->cfg), 0);
  fx->cfg.repository = strdup("acme/widgets");
  free(fx->cfg.api_url);
  fx->cfg.api_url = strdup(API);
  free(fx->cfg.state_dir);
  fx->cfg.state_dir = strdup(fx->dir);
  fx->cfg.token = strdup("t0ken");
  fx_start(fx);
  *state = fx;
  return 0;
}

static int fx_teardown(void **state) {
  fx_t *fx = *state;
  gh_sync_destroy(&fx->s);
  gh_config_free(&fx->cfg);
  int rc = rm_tree(fx->dir);
  free(fx);
  return rc == 0 ? 0 : -1;
}

/* since_url is the incremental URL for cursor t. */
static void since_url(char *out, size_t len, long long t) {
  char when[QF_TIME_ISO_LEN];
  qf_time_format((time_t)t, when, sizeof(when));
  snprintf(out, len,
           REPOS "issues?state=all&sort=updated&direction=asc&since=%s"
                 "&per_page=100",
           when);
}

/* script_repo sets up a synced-looking repository: 3 items on 2 pages. */
static void script_repo(fx_t *fx) {
  static char page1[1024], page2[512], since_body[1024];
  snprintf(page1, sizeof(page1), "[%s, %s]", ITEM1, ITEM2);
  snprintf(page2, sizeof(page2), "[%s]", ITEM3);
  snprintf(since_body, sizeof(since_body), "[%s]", ITEM3);
  route(fx, FIRST, 200, page1,
        "<" PAGE2 ">; rel=\"next\", <" PAGE2 ">; rel=\"last\"", "W/\"p1\"");
  route(fx, PAGE2, 200, page2, "<" FIRST ">; rel=\"prev\"", "W/\"p2\"");
  route(fx, COMMITS, 200, "[{\"sha\": \"a\"}, {\"sha\": \"b\"}]", NULL,
        "W/\"c1\"");
  route(fx, RUNS, 200, "{\"total_count\": 0, \"workflow_runs\": []}", NULL,
        "W/\"r1\"");
  route(fx, REPOS "pulls/2", 200, PULL2, NULL, "W/\"d2\"");
  char url[512];
  /* cursor = newest update (2026-11-22) minus the overlap */
  since_url(url, sizeof(url), 1795305600 - GH_OVERLAP);
  route(fx, url, 200, since_body, NULL, "W/\"s1\"");
}

static void test_first_sync_then_304s(void **state) {
  fx_t *fx = *state;
  script_repo(fx);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  /* 2 listing pages, commits, runs, the pull request's detail. */
  assert_int_equal(fx->s.requests, 5);
  assert_string_equal(fx->sc.urls[1], PAGE2);
  assert_int_equal(gh_mirror_count(&fx->s.m), 3);
  assert_int_equal(fx->s.m.cursor, 1795305600 - GH_OVERLAP);
  assert_string_equal(fx->s.m.recon_url, PAGE2);
  assert_int_equal(fx->s.m.commits_count, 2);
  gh_item_t *pr = gh_mirror_find(&fx->s.m, 2);
  assert_string_equal(gh_item_pr(pr)->mergeable_state, "dirty");
  assert_string_equal(gh_item_pr(pr)->branch, "feature/issue-1");
  assert_false(pr->detail_stale);
  assert_int_equal(gh_item_pr(pr)->nlinks, 1);

  size_t before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), 0);
  assert_int_equal(fx->s.requests, 3); /* since (new URL), commits, runs */
  assert_int_equal(fx->s.not_modified, 2);
  assert_string_equal(fx->sc.inm[before + 1], "W/\"c1\"");

  before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 600, 300), 0);
  assert_int_equal(fx->s.requests, 3);
  assert_int_equal(fx->s.not_modified, 3);
  assert_string_equal(fx->sc.inm[before], "W/\"s1\""); /* weak, verbatim */
  assert_int_equal(fx->s.m.last_sync, NOW + 600);

  /* A restart reads the stored mirror and ETags: still 3 requests, all
   * 304, and nothing downloaded again. */
  gh_sync_destroy(&fx->s);
  fx_start(fx);
  assert_int_equal(gh_mirror_count(&fx->s.m), 3);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 900, 300), 0);
  assert_int_equal(fx->s.requests, 3);
  assert_int_equal(fx->s.not_modified, 3);
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_null(h.last_error);
  assert_true(h.sync_complete);
  assert_int_equal(h.rl_remaining, 4000);
}

static void test_rate_limited(void **state) {
  fx_t *fx = *state;
  script_repo(fx);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  char url[512];
  since_url(url, sizeof(url), fx->s.m.cursor);
  route(fx, url, 429, "{\"message\": \"secondary rate limit\"}", NULL, NULL)
      ->retry_after = 120;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 10, 300), -EAGAIN);
  assert_int_equal(fx->s.requests, 1); /* stopped at once */
  assert_int_equal(fx->s.m.backoff_until, NOW + 130);
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "HTTP 429: secondary rate limit"));
  assert_non_null(strstr(h.last_error, "since="));
  size_t before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 100, 300), -EAGAIN);
  assert_int_equal(fx->sc.n, before); /* nothing sent while waiting */
  /* Quota spent: 403 with remaining 0 waits for the reset. */
  route_t *r =
      route(fx, url, 403, "{\"message\": \"API rate limit\"}", NULL, NULL);
  r->remaining = 0;
  r->reset = NOW + 2000;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 200, 300), -EAGAIN);
  assert_int_equal(fx->s.m.backoff_until, NOW + 2000);
  /* Restarting does not forget the wait. */
  gh_sync_destroy(&fx->s);
  fx_start(fx);
  before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), -EAGAIN);
  assert_int_equal(fx->sc.n, before);
  route(fx, url, 200, "[]", NULL, "W/\"e\"");
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 2001, 300), 0);
  gh_sync_health(&fx->s, &h);
  assert_null(h.last_error);
}

static void test_server_errors_back_off(void **state) {
  fx_t *fx = *state;
  script_repo(fx);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  char url[512];
  since_url(url, sizeof(url), fx->s.m.cursor);
  route(fx, url, 502, "<html>bad gateway</html>", NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), -EIO);
  assert_int_equal(fx->s.requests, 1); /* no more requests that cycle */
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "HTTP 502"));
  assert_int_equal(h.last_sync, NOW); /* the figures keep their age */
  assert_int_equal(gh_mirror_count(&fx->s.m), 3);
  /* First failure: retried next cycle; second: one interval of rest. */
  assert_int_equal(fx->s.m.backoff_until, NOW + 300);
  route(fx, url, 0, NULL, NULL, NULL); /* time-out */
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 600, 300), -ETIMEDOUT);
  assert_int_equal(fx->s.m.backoff_until, NOW + 900);
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "timed out"));
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 700, 300), -EAGAIN);
  route(fx, url, 200, "[]", NULL, "W/\"e\"");
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 900, 300), 0);
  assert_int_equal(fx->s.m.failures, 0);
}

static void test_garbage_and_foreign_links(void **state) {
  fx_t *fx = *state;
  static char page1[1024];
  snprintf(page1, sizeof(page1), "[%s]", ITEM1);
  route(fx, FIRST, 200, page1,
        "<http://evil.test/repositories/1/issues?page=2>; rel=\"next\"", NULL);
  route(fx, COMMITS, 200, "[]", NULL, NULL);
  route(fx, RUNS, 200, "{\"workflow_runs\": []}", NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), -EBADMSG);
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "leaves http://gh.test"));
  for (size_t i = 0; i < fx->sc.n; i++)
    assert_null(strstr(fx->sc.urls[i], "evil"));
  assert_false(h.sync_complete);
  /* A bad answer is not GitHub being down: commits and runs still ran. */
  assert_int_equal(fx->s.requests, 3);
  /* Garbage of every kind, each named by its URL, nothing applied. */
  static const char *const bodies[] = {"<html>\xff", "[{\"number\": 1,",
                                       "{\"message\": \"x\"}", "",
                                       "[{\"number\": \"1\"}]"};
  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    route(fx, FIRST, 200, bodies[i], NULL, NULL);
    assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300 * (long long)(i + 1), 300),
                     -EBADMSG);
    gh_sync_health(&fx->s, &h);
    if (strstr(h.last_error, FIRST) == NULL)
      fail_msg("case %zu: %s", i, h.last_error);
    assert_int_equal(gh_mirror_count(&fx->s.m), 0);
  }
}

static void test_reconciliation(void **state) {
  fx_t *fx = *state;
  script_repo(fx);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  /* Make the next cycle a reconciliation cycle. */
  fx->s.m.cycle = GH_RECON_EVERY - 1;
  size_t before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), 0);
  /* since, commits, and the probe in the runs slot: 304, page 2 * 2 + 1. */
  assert_int_equal(fx->s.requests, 3);
  assert_string_equal(fx->sc.urls[before + 2], PAGE2);
  assert_string_equal(fx->sc.inm[before + 2], "W/\"p2\"");
  assert_null(fx->s.m.list_next);
  /* Issue 3 is deleted: the last page changes, its count no longer
   * matches, and a re-list removes it. */
  route(fx, PAGE2, 200, "[]", "<" FIRST ">; rel=\"prev\"", "W/\"p2b\"");
  fx->s.m.cycle = 2 * GH_RECON_EVERY - 1;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 600, 300), 0);
  assert_non_null(fx->s.m.list_next);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 900, 300), 0);
  assert_null(fx->s.m.list_next);
  assert_int_equal(gh_mirror_count(&fx->s.m), 2);
  assert_null(gh_mirror_find(&fx->s.m, 3));
}

static void test_redirects(void **state) {
  fx_t *fx = *state;
  static char page1[1024];
  snprintf(page1, sizeof(page1), "[%s]",
           "{\"number\": 1, \"title\": \"one\", \"state\": \"open\", "
           "\"html_url\": \"https://github.com/new-owner/widgets/issues/1\", "
           "\"created_at\": \"2026-11-01T00:00:00Z\", "
           "\"updated_at\": \"2026-11-20T00:00:00Z\"}");
  fx->s.log = log_keep;
  const char *moved = API "/repositories/1/issues?state=all&sort=created"
                          "&direction=asc&per_page=100";
  route(fx, FIRST, 301, "{\"message\": \"Moved Permanently\"}", NULL, NULL)
      ->location = moved;
  route(fx, moved, 200, page1, NULL, "W/\"m\"");
  route(fx, COMMITS, 200, "[]", NULL, NULL);
  route(fx, RUNS, 200, "{\"workflow_runs\": []}", NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  assert_int_equal(gh_mirror_count(&fx->s.m), 1);
  assert_string_equal(fx->sc.urls[1], moved);
  assert_non_null(strstr(last_notice, "GitHub moved acme/widgets to "
                                      "new-owner/widgets"));
  assert_true(fx->s.moved_logged);
  /* Another origin: not followed, the token stays home. */
  char url[512];
  since_url(url, sizeof(url), fx->s.m.cursor);
  route(fx, url, 301, "{}", NULL, NULL)->location =
      "http://evil.test/repositories/1/issues";
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), -EPROTO);
  for (size_t i = 0; i < fx->sc.n; i++)
    assert_null(strstr(fx->sc.urls[i], "evil"));
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "not followed"));
  assert_string_equal(h.sync_state, "failing");
  /* A loop stops after GH_REDIRECTS_MAX hops. */
  route(fx, url, 302, "{}", NULL, NULL)->location = url;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 600, 300), -ELOOP);
}

static void test_permission_costs_one_part(void **state) {
  fx_t *fx = *state;
  script_repo(fx);
  route(fx, RUNS, 403,
        "{\"message\": \"Resource not accessible by personal access "
        "token\"}",
        NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  assert_int_equal(fx->s.requests, 5); /* the detail request still ran */
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_null(h.last_error);
  assert_string_equal(h.sync_state, "ok");
  assert_int_equal(h.nunavailable, 1);
  assert_string_equal(h.unavailable[0].part, "ci_runs");
  assert_non_null(strstr(h.unavailable[0].reason, "HTTP 403: Resource not"));
  assert_int_equal(h.unavailable[0].retry_at, NOW + GH_PERM_RECHECK);
  size_t before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), 0);
  for (size_t i = before; i < fx->sc.n; i++)
    assert_string_not_equal(fx->sc.urls[i], RUNS); /* not asked again */
  /* An hour later it is, and a 200 makes the part available again. */
  route(fx, RUNS, 200, "{\"workflow_runs\": []}", NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + GH_PERM_RECHECK, 300), 0);
  gh_sync_health(&fx->s, &h);
  assert_int_equal(h.nunavailable, 0);
  /* A 403 with a rate-limit message is a rate limit, not a permission. */
  route(fx, RUNS, 403,
        "{\"message\": \"You have exceeded a secondary "
        "rate limit.\"}",
        NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + GH_PERM_RECHECK + 300, 300),
                   -EAGAIN);
  gh_sync_health(&fx->s, &h);
  assert_int_equal(h.nunavailable, 0);
  assert_non_null(strstr(h.last_error, "waiting until"));
}

static void test_422_detail_and_back_off(void **state) {
  fx_t *fx = *state;
  route(fx, FIRST, 422,
        "{\"message\": \"Validation Failed\", \"errors\": [{\"resource\": "
        "\"Issue\", \"field\": \"since\", \"code\": \"invalid\"}, "
        "\"plain text\"]}",
        NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), -EPROTO);
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "HTTP 422: Validation Failed [Issue "
                                       "since invalid; plain text]"));
  assert_string_equal(h.sync_state, "never");
  assert_int_equal(fx->s.requests, 1); /* the cycle stopped */
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), -EPROTO);
  assert_int_equal(fx->s.m.backoff_until, NOW + 600); /* backing off */
}

static void test_oversized_page_shrinks(void **state) {
  fx_t *fx = *state;
  const char *small = FIRST;
  char quarter[512], regrown[512];
  snprintf(quarter, sizeof(quarter), "%.*s&per_page=25&page=1",
           (int)(strlen(small) - strlen("&per_page=100")), small);
  snprintf(regrown, sizeof(regrown),
           API "/repositories/1/issues?state=all&sort=created&direction=asc"
               "&per_page=100&page=2");
  static char page1[1024], page2[512];
  snprintf(page1, sizeof(page1), "[%s]", ITEM1);
  snprintf(page2, sizeof(page2), "[%s]", ITEM3);
  route(fx, FIRST, 1, NULL, NULL, NULL);
  route(fx, quarter, 200, page1,
        "<" API "/repositories/1/issues?state=all&sort=created&direction=asc"
        "&per_page=25&page=5>; rel=\"next\"",
        NULL);
  route(fx, regrown, 200, page2, NULL, NULL);
  route(fx, COMMITS, 200, "[]", NULL, NULL);
  route(fx, RUNS, 200, "{\"workflow_runs\": []}", NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  assert_string_equal(fx->sc.urls[1], quarter);
  assert_string_equal(fx->sc.urls[2], regrown); /* back to full pages */
  assert_int_equal(gh_mirror_count(&fx->s.m), 2);
  /* Over the limit even at the smallest page: an error naming it. */
  gh_sync_destroy(&fx->s);
  rm_tree(fx->dir);
  fx_start(fx);
  route(fx, quarter, 1, NULL, NULL, NULL);
  char tenth[512];
  snprintf(tenth, sizeof(tenth), "%.*s&per_page=10&page=1",
           (int)(strlen(small) - strlen("&per_page=100")), small);
  route(fx, tenth, 1, NULL, NULL, NULL);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), -EFBIG);
  gh_health_t h;
  gh_sync_health(&fx->s, &h);
  assert_non_null(strstr(h.last_error, "even at 10 items per page"));
}

static void test_config_helpers(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *s;
    bool ok;
  } cases[] = {
      {"acme/widgets", true}, {"a-b/c.d_e", true},      {"acme", false},
      {"acme/", false},       {"/widgets", false},      {"a/b/c", false},
      {"ac me/x", false},     {"acme/..", false},       {"acme/.", false},
      {"a_b/c", false},       {"acme/wid?gets", false}, {NULL, false}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (gh_repository_valid(cases[i].s) != cases[i].ok)
      fail_msg("case %zu: %s", i, cases[i].s ? cases[i].s : "NULL");
  gh_config_t c;
  assert_int_equal(gh_config_init(&c), 0);
  assert_int_equal(c.in_progress.n, 3);
  assert_int_equal(c.blocked.n, 2);
  assert_string_equal(c.api_url, "https://api.github.com");
  gh_rules_t r = gh_config_rules(&c);
  assert_int_equal(r.failures, 3);
  assert_true(r.failure_rate == 0.10);
  gh_config_free(&c);
}

/* The mirror file changed in place by another program while the engine
 * runs: its closed items (kept there, cold) cannot be trusted, so the next
 * cycle says so and lists the repository again. */
static void test_mirror_file_changed_relists(void **state) {
  fx_t *fx = *state;
  script_repo(fx);
  assert_int_equal(gh_sync_cycle(&fx->s, NOW, 300), 0);
  assert_int_equal(fx->s.m.ncold, 1); /* #3, closed */
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", fx->dir, GH_STORE_FILE);
  FILE *fp = fopen(path, "a");
  assert_non_null(fp);
  fputs("\n", fp);
  fclose(fp);
  fx->s.log = log_keep;
  last_notice[0] = '\0';
  size_t before = fx->sc.n;
  assert_int_equal(gh_sync_cycle(&fx->s, NOW + 300, 300), 0);
  assert_non_null(strstr(last_notice, "changed by another program"));
  assert_string_equal(fx->sc.urls[before], FIRST); /* listed again */
  assert_int_equal(gh_mirror_count(&fx->s.m), 3);
  assert_null(fx->s.m.list_next); /* and done */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_first_sync_then_304s, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_mirror_file_changed_relists,
                                      fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_rate_limited, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_server_errors_back_off, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_garbage_and_foreign_links, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_reconciliation, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_redirects, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_permission_costs_one_part, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_422_detail_and_back_off, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_oversized_page_shrinks, fx_setup,
                                      fx_teardown),
      cmocka_unit_test(test_config_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
