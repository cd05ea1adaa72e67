/* github_sync.c: the sync cycle (see github_sync.h for the plan). */
#include "github_sync.h"
#include "github_fetch.h"
#include "github_parse.h"
#include "github_store.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- config */

_Static_assert(GH_PART_COUNT <= sizeof(((gh_health_t *)0)->unavailable) /
                                    sizeof(gh_unavailable_t),
               "gh_health_t.unavailable holds every part");

int gh_config_init(gh_config_t *c) {
  static const char *const in_progress[] = {"in progress", "in-progress",
                                            "wip"};
  static const char *const blocked[] = {"blocked", "human"};
  memset(c, 0, sizeof(*c));
  c->api_url = strdup("https://api.github.com");
  c->state_dir = strdup(QF_STATE_DIR);
  c->flag_blocked_hours = 24;
  c->flag_failures = 3;
  c->flag_failure_rate = 0.10;
  c->recent_commits_days = 7;
  c->timeout = 10;
  int status = c->api_url && c->state_dir ? 0 : -ENOMEM;
  for (size_t i = 0; status == 0 && i < 3; i++)
    status = gh_strv_push(&c->in_progress, in_progress[i]);
  for (size_t i = 0; status == 0 && i < 2; i++)
    status = gh_strv_push(&c->blocked, blocked[i]);
  return status;
}

void gh_config_free(gh_config_t *c) {
  free(c->repository);
  free(c->api_url);
  free(c->token);
  free(c->state_dir);
  free(c->ca_cert);
  gh_strv_free(&c->in_progress);
  gh_strv_free(&c->blocked);
  memset(c, 0, sizeof(*c));
}

/* ghy_name_ok checks one part of owner/repo: 1..max characters from the
 * set GitHub allows, and not "." or "..". */
static bool ghy_name_ok(const char *s, size_t len, size_t max, bool dots) {
  if (len == 0 || len > max || (len <= 2 && strncmp(s, "..", len) == 0))
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c) && c != '-' && !(dots && (c == '.' || c == '_')))
      return false;
  }
  return true;
}

bool gh_repository_valid(const char *s) {
  const char *slash = s ? strchr(s, '/') : NULL;
  if (slash == NULL || strchr(slash + 1, '/') != NULL)
    return false;
  return ghy_name_ok(s, (size_t)(slash - s), 39, false) &&
         ghy_name_ok(slash + 1, strlen(slash + 1), 100, true);
}

gh_rules_t gh_config_rules(const gh_config_t *c) {
  gh_rules_t r = {
      .in_progress = &c->in_progress,
      .blocked = &c->blocked,
      .blocked_hours = c->flag_blocked_hours,
      .failures = c->flag_failures,
      .failure_rate = c->flag_failure_rate,
  };
  return r;
}

/* ---------------------------------------------------------------- setup */

/* ghy_perform is the default transport: qf_http_perform, and libcurl's
 * reading of a 3xx answer's Location (resolved against the request). */
static int ghy_perform(void *ctx, const qf_http_request_t *req,
                       qf_http_response_t *resp, char *location,
                       size_t loclen) {
  qf_http_client_t *http = ctx;
  int status = qf_http_perform(http, req, resp);
  char *loc = NULL;
  location[0] = '\0';
  if (status == 0 && resp->status >= 300 && resp->status < 400 &&
      curl_easy_getinfo(http->curl, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
      loc != NULL)
    qf_strcpy(location, loclen, loc);
  return status;
}

/* ghy_origin copies scheme://authority of url into out. */
static int ghy_origin(const char *url, char *out, size_t outlen) {
  const char *p = strstr(url, "://");
  if (p == NULL)
    return -EINVAL;
  size_t len = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
  if (len >= outlen)
    return -ENAMETOOLONG;
  memcpy(out, url, len);
  out[len] = '\0';
  return 0;
}

int gh_sync_init(gh_sync_t *s, const gh_config_t *cfg, gh_log_t log,
                 void *log_ctx, char *err, size_t errlen) {
  memset(s, 0, sizeof(*s));
  s->cfg = cfg;
  s->log = log;
  s->log_ctx = log_ctx;
  gh_mirror_init(&s->m);
  if (ghy_origin(cfg->api_url, s->origin, sizeof(s->origin)) != 0 ||
      qf_path_join(s->store_path, sizeof(s->store_path), cfg->state_dir,
                   GH_STORE_FILE) != 0) {
    qf_err(err, errlen, "APIURL or StateDir is invalid or too long");
    return -EINVAL;
  }
  int status = qf_state_dir_make(cfg->state_dir, err, errlen);
  if (status != 0)
    return status;
  if (qf_http_client_init(&s->http, "qiflow-collectd/" QF_VERSION) != 0) {
    qf_err(err, errlen, "cannot create a libcurl handle");
    return -ENOMEM;
  }
  s->transport = ghy_perform;
  s->transport_ctx = &s->http;
  char why[512];
  status = gh_store_load(&s->m, cfg->repository, cfg->api_url, s->store_path,
                         why, sizeof(why));
  if (status == 0) {
    gh_mirror_settle_all(&s->m, &cfg->blocked); /* the words may differ */
    gh_sync_logf(s, GH_LOG_INFO, "loaded %zu issues and pull requests from %s",
                 gh_mirror_count(&s->m), s->store_path);
  } else if (status != -ENOENT)
    gh_sync_logf(s, GH_LOG_WARNING, "ignoring the stored mirror: %s", why);
  return 0;
}

void gh_sync_destroy(gh_sync_t *s) {
  gh_mirror_free(&s->m);
  qf_http_client_destroy(&s->http);
}

int gh_sync_save(gh_sync_t *s) {
  if (!s->dirty)
    return 0;
  char err[512];
  int status = gh_store_save(&s->m, s->cfg->repository, s->cfg->api_url,
                             s->store_path, err, sizeof(err));
  if (status > 0) { /* stored; what was kept whole is to be listed again */
    gh_sync_logf(s, GH_LOG_ERR, "%s", err);
  } else if (status != 0) {
    gh_sync_logf(s, GH_LOG_ERR, "cannot store the mirror: %s", err);
    return status;
  }
  s->dirty = false;
  return 0;
}

/* ---------------------------------------------------------------- URLs */

static int ghy_url(const gh_sync_t *s, char *out, size_t outlen,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ghy_url formats an API URL under APIURL/repos/{repository}. */
static int ghy_url(const gh_sync_t *s, char *out, size_t outlen,
                   const char *fmt, ...) {
  va_list ap;
  int n = snprintf(out, outlen, "%s/repos/%s/", s->cfg->api_url,
                   s->cfg->repository);
  if (n < 0 || (size_t)n >= outlen)
    return -ENAMETOOLONG;
  va_start(ap, fmt);
  int m = vsnprintf(out + n, outlen - (size_t)n, fmt, ap);
  va_end(ap);
  return m < 0 || (size_t)m >= outlen - (size_t)n ? -ENAMETOOLONG : 0;
}

/* ghy_since_url is the incremental query for cursor t. */
static int ghy_since_url(const gh_sync_t *s, long long t, char *out,
                         size_t outlen) {
  char when[QF_TIME_ISO_LEN];
  if (qf_time_format((time_t)t, when, sizeof(when)) != 0)
    return -EINVAL;
  return ghy_url(s, out, outlen,
                 "issues?state=all&sort=updated&direction=asc&since=%s"
                 "&per_page=%d",
                 when, GH_PER_PAGE);
}

/* ghy_next reads Link rel="next" of resp into next ("" when none). */
static int ghy_next(gh_sync_t *s, const char *url,
                    const qf_http_response_t *resp, char *next,
                    size_t nextlen) {
  next[0] = '\0';
  int status = gh_link_find(resp->link.data, "next", next, nextlen);
  if (status == -ENOENT) {
    next[0] = '\0';
    return 0;
  }
  char shown[GH_URL_MAX];
  gh_url_display(url, shown, sizeof(shown));
  if (status != 0)
    return gh_sync_error(s, -EBADMSG, "%s: malformed Link header", shown);
  if (!gh_follow_ok(s, next))
    return gh_sync_error(s, -EBADMSG,
                         "%s: Link rel=\"next\" leaves %s; not followed", shown,
                         s->origin);
  return 0;
}

/* ---------------------------------------------------------------- issues */

/* One page of the issue list, as gh_issue_page reports it. */
typedef struct ghy_page_s {
  bool not_modified;
  size_t count;          /* items on the page */
  long long max_updated; /* newest updated_at met (kept across pages) */
  char next[GH_URL_MAX]; /* "" at the last page */
  char etag[256];
} ghy_page_t;

/* ghy_moved tells the operator once that GitHub redirected the
 * repository, with its new owner/name when an item's html_url
 * (https://github.com/OWNER/NAME/...) gives it. */
static void ghy_moved(gh_sync_t *s, const char *html_url) {
  char name[256] = "";
  const char *p = html_url ? strstr(html_url, "://") : NULL;
  if (p != NULL && (p = strchr(p + 3, '/')) != NULL) {
    size_t owner = strcspn(p + 1, "/");
    size_t len =
        p[1 + owner] == '/' ? owner + 1 + strcspn(p + 2 + owner, "/") : 0;
    if (len > 0 && len < sizeof(name)) {
      memcpy(name, p + 1, len);
      name[len] = '\0';
    }
  }
  if (name[0] != '\0' && gh_repository_valid(name) &&
      strcmp(name, s->cfg->repository) != 0)
    gh_sync_logf(s, GH_LOG_NOTICE,
                 "GitHub moved %s to %s (HTTP 301 to %s): following the "
                 "redirect; set Repository \"%s\" to skip it",
                 s->cfg->repository, name, s->moved_to, name);
  else
    gh_sync_logf(s, GH_LOG_NOTICE,
                 "GitHub moved %s (HTTP 301 to %s; renamed or transferred): "
                 "following the redirect; set Repository to its new name",
                 s->cfg->repository, s->moved_to);
  s->moved_logged = true;
  s->moved_to[0] = '\0';
}

/* ghy_paging writes url with per_page and page set to per and page. */
static int ghy_paging(const char *url, long long per, long long page, char *out,
                      size_t outlen) {
  qf_buf_t b = QF_BUF_INIT;
  const char *q = strchr(url, '?');
  size_t base = q ? (size_t)(q - url) : strlen(url);
  int status = qf_buf_append(&b, url, base);
  char sep = '?';
  for (const char *p = q; status == 0 && p != NULL && *p != '\0';) {
    p++;
    size_t len = strcspn(p, "&");
    if (!(strncmp(p, "per_page=", 9) == 0 || strncmp(p, "page=", 5) == 0)) {
      status = qf_buf_append(&b, &sep, 1);
      if (status == 0)
        status = qf_buf_append(&b, p, len);
      sep = '&';
    }
    p = p[len] == '&' ? p + len : NULL;
  }
  char tail[64];
  snprintf(tail, sizeof(tail), "%cper_page=%lld&page=%lld", sep, per, page);
  if (status == 0)
    status = qf_buf_puts(&b, tail);
  if (status == 0)
    status = qf_strcpy(out, outlen, b.data);
  qf_buf_free(&b);
  return status;
}

/* ghy_shrink rewrites url (in place) to ask a quarter as many items per
 * page from the same first item on; -ERANGE at GH_PER_PAGE_MIN. */
static int ghy_shrink(char *url, size_t len) {
  long long per = gh_url_param(url, "per_page");
  long long page = gh_url_param(url, "page");
  per = per > 0 ? per : 30;
  page = page > 0 ? page : 1;
  if (per <= GH_PER_PAGE_MIN)
    return -ERANGE;
  long long smaller = per / 4 > GH_PER_PAGE_MIN ? per / 4 : GH_PER_PAGE_MIN;
  char out[GH_URL_MAX];
  int status = ghy_paging(url, smaller, (page - 1) * per / smaller + 1, out,
                          sizeof(out));
  return status == 0 ? qf_strcpy(url, len, out) : status;
}

/* ghy_regrow rewrites a next-page url asked at a smaller size back to
 * GH_PER_PAGE once it starts where a full page starts. */
static void ghy_regrow(char *url, size_t len) {
  long long per = gh_url_param(url, "per_page");
  long long page = gh_url_param(url, "page");
  char out[GH_URL_MAX];
  if (per > 0 && per < GH_PER_PAGE && page > 0 &&
      (page - 1) * per % GH_PER_PAGE == 0 &&
      ghy_paging(url, GH_PER_PAGE, (page - 1) * per / GH_PER_PAGE + 1, out,
                 sizeof(out)) == 0)
    qf_strcpy(url, len, out);
}

/* ghy_fetch_fit GETs a page of issues into resp; an answer over the body
 * limit is asked again with smaller pages (url is rewritten). */
static int ghy_fetch_fit(gh_sync_t *s, char *url, size_t urllen, int flags,
                         qf_http_response_t *resp) {
  for (;;) {
    int status = gh_fetch(s, url, flags | GH_FETCH_FIT, GH_LIST_MAX_BODY, resp);
    if (status != -EFBIG)
      return status;
    char shown[GH_URL_MAX];
    gh_url_display(url, shown, sizeof(shown));
    qf_http_response_free(resp);
    if (ghy_shrink(url, urllen) != 0)
      return gh_sync_error(s, -EFBIG,
                           "%s: response body over the %u byte "
                           "limit even at %d items per page",
                           shown, GH_LIST_MAX_BODY, GH_PER_PAGE_MIN);
    gh_sync_logf(s, GH_LOG_NOTICE,
                 "%s: answer over the %u MiB limit; "
                 "asking %lld items per page for this stretch",
                 shown, GH_LIST_MAX_BODY >> 20, gh_url_param(url, "per_page"));
  }
}

/* ghy_apply_page merges a parsed page into the mirror. */
static int ghy_apply_page(gh_sync_t *s, gh_page_t *page, bool listing,
                          ghy_page_t *pg) {
  int status = 0;
  if (s->moved_to[0] != '\0' && !s->moved_logged && page->n > 0)
    ghy_moved(s, page->items[0]->html_url);
  for (size_t i = 0; i < page->n; i++) {
    gh_item_t *it = page->items[i];
    page->items[i] = NULL;
    it->seen = listing;
    if (it->updated_at > pg->max_updated)
      pg->max_updated = it->updated_at;
    bool changed = false;
    if (status == 0)
      status = gh_mirror_apply(&s->m, it, &s->cfg->blocked, &changed);
    else
      gh_item_free(it);
    s->dirty = s->dirty || changed;
  }
  return status;
}

/* ghy_issue_page GETs one page of issues and applies it. */
static int ghy_issue_page(gh_sync_t *s, const char *asked, int flags,
                          bool listing, ghy_page_t *pg) {
  qf_http_response_t resp;
  char err[768], url[GH_URL_MAX];
  pg->not_modified = false;
  pg->count = 0;
  pg->next[0] = pg->etag[0] = '\0';
  qf_strcpy(url, sizeof(url), asked);
  int status = ghy_fetch_fit(s, url, sizeof(url), flags, &resp);
  if (status == 0 && resp.status == 304)
    pg->not_modified = true;
  else if (status == 0 && resp.status != 200)
    status = gh_fetch_unexpected(s, url, &resp);
  if (status == 0 && !pg->not_modified)
    status = ghy_next(s, url, &resp, pg->next, sizeof(pg->next));
  if (status == 0 && !pg->not_modified) {
    gh_page_t page;
    status = gh_parse_issues(url, resp.body.data, &page, err, sizeof(err));
    if (status != 0) {
      gh_sync_error(s, status, "%s", err);
    } else {
      pg->count = page.n;
      status = ghy_apply_page(s, &page, listing, pg);
      gh_page_free(&page);
      qf_strcpy(pg->etag, sizeof(pg->etag), resp.etag);
      ghy_regrow(pg->next, sizeof(pg->next));
    }
  }
  qf_http_response_free(&resp);
  return status;
}

/* ghy_start_listing begins a full listing (first sync or re-list). */
static int ghy_start_listing(gh_sync_t *s) {
  char url[GH_URL_MAX];
  int status = ghy_url(s, url, sizeof(url),
                       "issues?state=all&sort=created&direction=asc"
                       "&per_page=%d",
                       GH_PER_PAGE);
  if (status == 0)
    status = gh_set_str(&s->m.list_next, url);
  if (status != 0)
    return gh_sync_error(s, status, "cannot build the issue list URL");
  s->m.list_started = s->now;
  s->m.list_max_updated = 0;
  gh_mirror_clear_seen(&s->m);
  s->dirty = true;
  return 0;
}

/* ghy_finish_listing drops what the listing did not meet and sets the
 * cursor: the older of the newest update seen and the listing's start,
 * minus the overlap, so nothing changed during the listing is missed. */
static void ghy_finish_listing(gh_sync_t *s, const char *last_url,
                               const char *etag) {
  gh_mirror_t *m = &s->m;
  size_t dropped = gh_mirror_drop_unseen(m);
  long long t = m->list_started;
  if (m->list_max_updated > 0 && m->list_max_updated < t)
    t = m->list_max_updated;
  char old[GH_URL_MAX];
  if (m->cursor > 0 && ghy_since_url(s, m->cursor, old, sizeof(old)) == 0)
    gh_etag_drop(m, old);
  if (m->recon_url != NULL)
    gh_etag_drop(m, m->recon_url);
  m->cursor = t - GH_OVERLAP > 0 ? t - GH_OVERLAP : 1;
  gh_set_str(&m->recon_url, last_url);
  gh_etag_set(m, last_url, etag);
  free(m->list_next);
  m->list_next = NULL;
  m->last_sync = s->now;
  s->dirty = true;
  gh_sync_logf(s, GH_LOG_INFO,
               "full listing done: %zu issues and pull requests%s",
               gh_mirror_count(m),
               dropped ? " (some no longer listed were removed)" : "");
  if (dropped)
    gh_sync_logf(s, GH_LOG_NOTICE,
                 "removed %zu issues or pull requests "
                 "that GitHub no longer lists",
                 dropped);
}

/* ghy_listing continues the full listing while the budget lasts, leaving
 * room for the commit and CI requests of the cycle. */
static int ghy_listing(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  if (m->list_next == NULL && ghy_start_listing(s) != 0)
    return -ENOMEM;
  ghy_page_t pg;
  pg.max_updated = m->list_max_updated;
  while (m->list_next != NULL && s->requests < GH_MAX_REQUESTS - 2) {
    char url[GH_URL_MAX];
    qf_strcpy(url, sizeof(url), m->list_next);
    int status = ghy_issue_page(s, url, 0, true, &pg);
    if (status != 0)
      return status == -EAGAIN ? 0 : status;
    m->list_max_updated = pg.max_updated;
    if (pg.next[0] == '\0')
      ghy_finish_listing(s, url, pg.etag);
    else
      gh_set_str(&m->list_next, pg.next);
    s->dirty = true;
  }
  return 0;
}

/* ghy_since asks what changed since the cursor (conditional), following
 * pages, then moves the cursor to the newest update minus the overlap. */
static int ghy_since(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  char url[GH_URL_MAX];
  if (ghy_since_url(s, m->cursor, url, sizeof(url)) != 0)
    return gh_sync_error(s, -EINVAL, "cannot build the since URL");
  ghy_page_t pg;
  pg.max_updated = 0;
  int status = 0;
  for (int page = 0; page < GH_MAX_REQUESTS; page++) {
    status = ghy_issue_page(s, url, GH_FETCH_CONDITIONAL, false, &pg);
    if (status != 0 || pg.not_modified)
      break;
    gh_etag_set(m, url, pg.etag);
    s->dirty = true;
    if (pg.next[0] == '\0')
      break;
    qf_strcpy(url, sizeof(url), pg.next);
  }
  if (pg.max_updated - GH_OVERLAP > m->cursor) {
    char old[GH_URL_MAX];
    if (ghy_since_url(s, m->cursor, old, sizeof(old)) == 0)
      gh_etag_drop(m, old);
    m->cursor = pg.max_updated - GH_OVERLAP;
    s->dirty = true;
  }
  if (status == 0)
    m->last_sync = s->now;
  return status == -EAGAIN ? 0 : status;
}

/* ---------------------------------------------------------------- commits */

/* ghy_count_pages adds the commits of the pages after first: through
 * rel="last" when given (count = (page - 1) * per_page + its items), else
 * by following rel="next" up to GH_DETAIL_PAGES_MAX pages. */
static int ghy_count_pages(gh_sync_t *s, const char *url,
                           const qf_http_response_t *first, size_t *count) {
  char last[GH_URL_MAX], err[768];
  int status = gh_link_find(first->link.data, "last", last, sizeof(last));
  long long page = status == 0 ? gh_url_param(last, "page") : -1;
  long long per = status == 0 ? gh_url_param(last, "per_page") : -1;
  bool by_last = page > 1 && per > 0 && gh_follow_ok(s, last);
  if (!by_last && ghy_next(s, url, first, last, sizeof(last)) != 0)
    return -EBADMSG;
  for (int i = 0; last[0] != '\0' && i < GH_DETAIL_PAGES_MAX; i++) {
    qf_http_response_t resp;
    size_t n = 0;
    status = gh_fetch(s, last, GH_FETCH_OPTIONAL, GH_DETAIL_MAX_BODY, &resp);
    if (status == 0 && resp.status != 200)
      status = gh_fetch_unexpected(s, last, &resp);
    if (status == 0 && (status = gh_parse_commits(last, resp.body.data, &n, err,
                                                  sizeof(err))) != 0)
      gh_sync_error(s, status, "%s", err);
    char next[GH_URL_MAX] = "";
    if (status == 0 && !by_last)
      status = ghy_next(s, last, &resp, next, sizeof(next));
    qf_http_response_free(&resp);
    if (status != 0)
      return status;
    *count = by_last ? (size_t)((page - 1) * per) + n : *count + n;
    if (by_last)
      break;
    qf_strcpy(last, sizeof(last), next);
  }
  return 0;
}

/* ghy_commits_url builds the commit query for the current window and
 * names its first day (UTC) in day. */
static int ghy_commits_url(gh_sync_t *s, char *url, size_t urllen, char *day,
                           size_t daylen) {
  long long from =
      s->now - (long long)(s->cfg->recent_commits_days - 1) * 86400;
  if (qf_time_format_date((time_t)from, day, daylen) != 0)
    return -EINVAL;
  return ghy_url(s, url, urllen, "commits?since=%sT00:00:00Z&per_page=%d", day,
                 GH_PER_PAGE);
}

/* ghy_commits counts the default branch's commits of the recent days. The
 * window starts at a UTC midnight, so its URL (and ETag) holds all day. */
static int ghy_commits(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  char url[GH_URL_MAX], day[16], err[768];
  if (ghy_commits_url(s, url, sizeof(url), day, sizeof(day)) != 0)
    return gh_sync_error(s, -EINVAL, "cannot build the commits URL");
  bool same_day = strcmp(m->commits_since, day) == 0 && m->commits_count >= 0;
  qf_http_response_t resp;
  int status = gh_fetch(s, url, same_day ? GH_FETCH_CONDITIONAL : 0,
                        GH_DETAIL_MAX_BODY, &resp);
  size_t count = 0;
  if (status == 0 && resp.status == 304) {
    qf_http_response_free(&resp);
    return 0;
  }
  if (status == 0 && resp.status == 409) {
    count = 0; /* "Git Repository is empty" */
  } else if (status == 0 && resp.status != 200) {
    status = gh_fetch_unexpected(s, url, &resp);
  } else if (status == 0) {
    status = gh_parse_commits(url, resp.body.data, &count, err, sizeof(err));
    if (status != 0)
      gh_sync_error(s, status, "%s", err);
    else
      status = ghy_count_pages(s, url, &resp, &count);
  }
  if (status == 0) {
    char old[GH_URL_MAX], oday[16];
    /* A changed answer on the same day: the default branch moved, which
     * can put open pull requests in conflict without touching them. */
    s->commits_changed = same_day;
    if (!same_day && m->commits_since[0] != '\0' &&
        qf_strcpy(oday, sizeof(oday), m->commits_since) == 0 &&
        ghy_url(s, old, sizeof(old), "commits?since=%sT00:00:00Z&per_page=%d",
                oday, GH_PER_PAGE) == 0)
      gh_etag_drop(m, old);
    m->commits_count = (long long)count;
    qf_strcpy(m->commits_since, sizeof(m->commits_since), day);
    gh_etag_set(m, url, resp.etag);
    s->dirty = true;
  }
  qf_http_response_free(&resp);
  return status == -EAGAIN ? 0 : status;
}

/* ---------------------------------------------------------------- runs */

/* ghy_runs merges the newest workflow runs (conditional). */
static int ghy_runs(gh_sync_t *s) {
  char url[GH_URL_MAX], err[768];
  if (ghy_url(s, url, sizeof(url), "actions/runs?per_page=%d",
              GH_RUNS_PER_PAGE) != 0)
    return gh_sync_error(s, -EINVAL, "cannot build the runs URL");
  qf_http_response_t resp;
  int status =
      gh_fetch(s, url, GH_FETCH_CONDITIONAL | GH_FETCH_PART(GH_PART_RUNS),
               GH_DETAIL_MAX_BODY, &resp);
  if (status == -EACCES) { /* refused: CI flags unavailable (health) */
    qf_http_response_free(&resp);
    return 0;
  }
  if (status == 0 && resp.status == 200) {
    gh_run_t *runs = NULL;
    size_t n = 0;
    bool changed = false;
    status = gh_parse_runs(url, resp.body.data, &runs, &n, err, sizeof(err));
    if (status != 0)
      gh_sync_error(s, status, "%s", err);
    else
      status = gh_mirror_merge_runs(&s->m, runs, n, &changed);
    free(runs);
    if (status == 0) {
      gh_etag_set(&s->m, url, resp.etag);
      s->dirty = true;
    }
  } else if (status == 0 && resp.status != 304 && resp.status != 404) {
    /* 404: Actions is disabled or not visible; no CI verdicts then. */
    status = gh_fetch_unexpected(s, url, &resp);
  }
  qf_http_response_free(&resp);
  return status == -EAGAIN ? 0 : status;
}

/* ---------------------------------------------------------------- recon */

/* ghy_recon probes the listing's last page (conditional). Unchanged, it
 * proves nothing was created or removed. Changed, GitHub lists
 * (page - 1) * per_page + its items; a count other than the mirror's
 * (a deletion or a transfer) starts a re-list. */
static int ghy_recon(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  char url[GH_URL_MAX];
  if (m->recon_url == NULL || qf_strcpy(url, sizeof(url), m->recon_url) != 0)
    return 0;
  ghy_page_t pg;
  pg.max_updated = 0;
  int status = ghy_issue_page(s, url, GH_FETCH_CONDITIONAL, false, &pg);
  for (int i = 0; status == 0 && pg.next[0] != '\0' && i < GH_DETAIL_PAGES_MAX;
       i++) {
    qf_strcpy(url, sizeof(url), pg.next);
    status = ghy_issue_page(s, url, 0, false, &pg);
  }
  if (status != 0 || pg.not_modified || pg.next[0] != '\0')
    return status == -EAGAIN ? 0 : status;
  long long page = gh_url_param(url, "page");
  long long per = gh_url_param(url, "per_page");
  long long listed =
      (page > 1 ? page - 1 : 0) * (per > 0 ? per : 30) + (long long)pg.count;
  gh_etag_drop(m, m->recon_url);
  gh_set_str(&m->recon_url, url);
  gh_etag_set(m, url, pg.etag);
  s->dirty = true;
  if (listed != (long long)gh_mirror_count(m)) {
    gh_sync_logf(s, GH_LOG_NOTICE,
                 "GitHub lists %lld issues and pull requests, the mirror "
                 "holds %zu: listing them all again",
                 listed, gh_mirror_count(m));
    return ghy_start_listing(s);
  }
  return 0;
}

/* ---------------------------------------------------------------- detail */

/* ghy_mark_conflict_checks asks again for the mergeability of open pull
 * requests tied to open issues: the default branch moved. */
static void ghy_mark_conflict_checks(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  for (size_t i = 0; i < m->n; i++) {
    gh_item_t *pr = m->items[i];
    if (!pr->is_pr || !pr->open)
      continue;
    long long cand[GH_LINKS_MAX + 1];
    size_t nc = 0;
    const gh_pr_t *d = gh_item_pr(pr);
    cand[nc++] = gh_branch_issue(d->branch);
    for (size_t j = 0; j < d->nlinks; j++)
      cand[nc++] = d->links[j];
    for (size_t j = 0; j < nc; j++) {
      const gh_item_t *is = gh_mirror_find(m, cand[j]);
      if (is != NULL && !is->is_pr && is->open)
        pr->detail_stale = true;
    }
  }
}

/* ghy_take moves a parsed string into *dst (NULL stays NULL). */
static void ghy_take(char **dst, char **src) {
  free(*dst);
  *dst = *src;
  *src = NULL;
}

/* ghy_pull reads one pull request's branch, head and mergeable_state. */
static int ghy_pull(gh_sync_t *s, gh_item_t *pr) {
  char url[GH_URL_MAX], err[768];
  if (ghy_url(s, url, sizeof(url), "pulls/%lld", pr->number) != 0)
    return -ENAMETOOLONG;
  qf_http_response_t resp;
  int status = gh_fetch(s, url,
                        GH_FETCH_CONDITIONAL | GH_FETCH_OPTIONAL |
                            GH_FETCH_PART(GH_PART_PULLS),
                        GH_DETAIL_MAX_BODY, &resp);
  if (status == -EACCES) { /* refused: asked again on the slow schedule */
    qf_http_response_free(&resp);
    return 0;
  }
  if (status == 0 && resp.status == 200) {
    gh_pull_t pull;
    status = gh_parse_pull(url, resp.body.data, &pull, err, sizeof(err));
    gh_pr_t *d = status == 0 ? gh_item_pr_mut(pr) : NULL;
    if (status == 0 && d == NULL)
      status = -ENOMEM;
    if (status != 0) {
      gh_sync_error(s, status, "%s", status == -ENOMEM ? "out of memory" : err);
    } else {
      ghy_take(&d->branch, &pull.branch);
      ghy_take(&d->head_sha, &pull.head_sha);
      ghy_take(&d->mergeable_state, &pull.mergeable_state);
      /* GitHub computes mergeability in the background: ask again. */
      pr->detail_stale = d->mergeable_state == NULL ||
                         strcmp(d->mergeable_state, "unknown") == 0;
      gh_etag_set(&s->m, url, resp.etag);
    }
    gh_pull_free(&pull);
  } else if (status == 0 &&
             (resp.status == 304 || resp.status == 404 || resp.status == 410)) {
    pr->detail_stale = false;
  } else if (status == 0) {
    status = gh_fetch_unexpected(s, url, &resp);
  }
  if (status == 0)
    s->dirty = true;
  qf_http_response_free(&resp);
  return status;
}

/* ghy_event_pages reads every page of an issue's events into ev. */
static int ghy_event_pages(gh_sync_t *s, const gh_item_t *it, gh_events_t *ev) {
  char url[GH_URL_MAX], next[GH_URL_MAX], err[768];
  if (ghy_url(s, url, sizeof(url), "issues/%lld/events?per_page=%d", it->number,
              GH_PER_PAGE) != 0)
    return -ENAMETOOLONG;
  int status = 0;
  for (int i = 0; status == 0 && url[0] != '\0' && i < GH_DETAIL_PAGES_MAX;
       i++) {
    qf_http_response_t resp;
    status = gh_fetch(s, url, GH_FETCH_OPTIONAL | GH_FETCH_PART(GH_PART_EVENTS),
                      GH_DETAIL_MAX_BODY, &resp);
    next[0] = '\0';
    if (status == 0 && (resp.status == 404 || resp.status == 410)) {
      /* gone: keep the estimate */
    } else if (status == 0 && resp.status != 200) {
      status = gh_fetch_unexpected(s, url, &resp);
    } else if (status == 0) {
      status = gh_parse_label_events(url, resp.body.data, ev, err, sizeof(err));
      if (status != 0)
        gh_sync_error(s, status, "%s", err);
      else
        status = ghy_next(s, url, &resp, next, sizeof(next));
    }
    qf_http_response_free(&resp);
    qf_strcpy(url, sizeof(url), next);
  }
  return status;
}

/* ghy_events learns when a blocked issue's blocking label was added. */
static int ghy_events(gh_sync_t *s, gh_item_t *it) {
  gh_events_t ev = {NULL, 0};
  int status = ghy_event_pages(s, it, &ev);
  if (status == -EACCES) { /* refused: the estimate stays */
    gh_events_free(&ev);
    return 0;
  }
  if (status == 0) {
    long long since = gh_blocked_since(&ev, &it->labels, &s->cfg->blocked);
    if (since > 0) {
      it->blocked_since = since;
      it->blocked_exact = true;
    }
    it->events_stale = false;
    s->dirty = true;
  }
  gh_events_free(&ev);
  return status;
}

/* ghy_halted tells whether the cycle must stop sending requests. */
static bool ghy_halted(const gh_sync_t *s) {
  return s->stopped || s->cycle_fatal;
}

/* ghy_details runs the optional detail requests, newest items first. */
static int ghy_details(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  if (s->commits_changed)
    ghy_mark_conflict_checks(s);
  int first = 0;
  for (size_t i = m->n; i-- > 0 && !ghy_halted(s) && !s->quota_short;) {
    gh_item_t *it = m->items[i];
    int status;
    if (it->open && it->is_pr && it->detail_stale)
      status = ghy_pull(s, it);
    else if (it->open && !it->is_pr && it->events_stale)
      status = ghy_events(s, it);
    else
      continue;
    if (status != 0 && status != -EAGAIN && first == 0)
      first = status;
  }
  return first;
}

/* ---------------------------------------------------------------- cycle */

/* ghy_begin resets the per-cycle state. The budget keeps a cycle within
 * most of the plugin's interval; requests already running finish. */
static void ghy_begin(gh_sync_t *s, long long now, double interval) {
  clock_gettime(CLOCK_MONOTONIC, &s->started);
  s->now = now;
  s->interval = interval > 0 ? interval : 300;
  s->budget = s->interval * 0.5 > 1.0 ? s->interval * 0.5 : 1.0;
  s->requests = s->not_modified = 0;
  s->cycle_error = s->cycle_fatal = s->stopped = false;
  s->quota_short = s->commits_changed = false;
}

/* ghy_end clears the error after a clean cycle; after cycles that could
 * not reach GitHub it waits interval * (2^(n-1) - 1), at most an hour. */
static void ghy_end(gh_sync_t *s) {
  gh_mirror_t *m = &s->m;
  m->cycle++;
  if (s->moved_to[0] != '\0' && !s->moved_logged)
    ghy_moved(s, NULL);
  if (!s->cycle_error) {
    if (s->last_error[0] != '\0')
      gh_sync_logf(s, GH_LOG_INFO, "GitHub sync works again");
    s->last_error[0] = s->last_logged[0] = '\0';
    if (m->failures != 0)
      s->dirty = true;
    m->failures = 0;
    return;
  }
  if (!s->cycle_fatal)
    return; /* a bad answer: asked again next cycle, no back-off */
  m->failures++;
  int shift = m->failures - 1 < 12 ? m->failures - 1 : 12;
  double wait = s->interval * (double)((1LL << shift) - 1);
  if (wait > GH_BACKOFF_MAX)
    wait = GH_BACKOFF_MAX;
  if (s->now + (long long)wait > m->backoff_until)
    m->backoff_until = s->now + (long long)wait;
  s->dirty = true;
}

/* ghy_waiting handles a cycle inside the back-off: no request at all. */
static int ghy_waiting(gh_sync_t *s) {
  if (s->last_error[0] == '\0') {
    char when[QF_TIME_ISO_LEN];
    qf_time_format((time_t)s->m.backoff_until, when, sizeof(when));
    snprintf(s->last_error, sizeof(s->last_error),
             "backing off: no request to GitHub before %s", when);
    s->last_error_at = s->now;
  }
  s->m.cycle++;
  return -EAGAIN;
}

/* ghy_check_cold lists the repository again when the mirror file was
 * changed in place by another program: the closed items kept there cannot
 * be trusted any more. */
static void ghy_check_cold(gh_sync_t *s) {
  if (gh_store_check(&s->m) == 0)
    return;
  gh_sync_logf(s, GH_LOG_ERR,
               "%s was changed by another program while in use: listing "
               "the repository again (leave the file to qiflow_github)",
               s->store_path);
  gh_mirror_drop_cold(&s->m);
  ghy_start_listing(s);
}

int gh_sync_cycle(gh_sync_t *s, long long now, double interval) {
  gh_mirror_t *m = &s->m;
  ghy_begin(s, now, interval);
  ghy_check_cold(s);
  if (m->backoff_until > now)
    return ghy_waiting(s);
  int status =
      (m->cursor == 0 || m->list_next != NULL) ? ghy_listing(s) : ghy_since(s);
  int st;
  if (!ghy_halted(s) && (st = ghy_commits(s)) != 0 && status == 0)
    status = st;
  bool recon = m->list_next == NULL && m->recon_url != NULL &&
               m->cycle % GH_RECON_EVERY == GH_RECON_EVERY - 1;
  if (!ghy_halted(s) && (st = recon ? ghy_recon(s) : ghy_runs(s)) != 0 &&
      status == 0)
    status = st;
  if (!ghy_halted(s) && (st = ghy_details(s)) != 0 && status == 0)
    status = st;
  ghy_end(s);
  if (s->dirty) /* details (branch, mergeability, blocked time) changed */
    gh_mirror_touch(m);
  gh_sync_save(s);
  if (!s->cycle_error)
    return 0;
  if (status != 0)
    return status;
  return m->backoff_until > now ? -EAGAIN : -EIO;
}

void gh_sync_health(const gh_sync_t *s, gh_health_t *h) {
  const gh_mirror_t *m = &s->m;
  memset(h, 0, sizeof(*h));
  h->sync_complete = m->cursor != 0;
  h->last_sync = h->sync_complete ? m->last_sync : 0;
  h->last_error = s->last_error[0] != '\0' ? s->last_error : NULL;
  h->last_error_at = s->last_error_at;
  h->rl_remaining = m->rl_remaining;
  h->rl_limit = m->rl_limit;
  h->rl_reset = m->rl_reset;
  h->requests = s->requests;
  h->not_modified = s->not_modified;
  h->requests_total = s->requests_total;
  h->not_modified_total = s->not_modified_total;
  h->errors_total = s->errors_total;
  h->cycles = m->cycle;
  h->recent_commits = m->commits_count;
  h->recent_commits_days = s->cfg->recent_commits_days;
  h->sync_state = !h->sync_complete ? "never"
                  : h->last_error   ? "failing"
                                    : "ok";
  for (int p = 0; p < GH_PART_COUNT; p++) {
    const gh_part_state_t *ps = &s->parts[p];
    if (ps->reason[0] == '\0')
      continue;
    gh_unavailable_t *u = &h->unavailable[h->nunavailable++];
    u->part = gh_part_name((gh_part_t)p);
    u->reason = ps->reason;
    u->since = ps->since;
    u->retry_at = ps->retry_at;
  }
}
