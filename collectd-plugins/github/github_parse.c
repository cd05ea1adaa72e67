/* github_parse.c: strict parsers for GitHub REST responses, the Link
 * header, and the text rules that tie a pull request to its issues. */
#include "github_parse.h"

#include "qf_buf.h"
#include "qf_json.h"
#include "qf_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GHP_WHY_LEN 256
#define GHP_INNER_LEN 200 /* leaves room for "item N: " */

/* ---------------------------------------------------------------- URLs */

void gh_url_display(const char *url, char *out, size_t outlen) {
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : url;
  size_t authority = strcspn(host, "/?#");
  const char *at = memchr(host, '@', authority);
  size_t plen = (size_t)(host - url);
  const char *rest = at ? at + 1 : host;
  snprintf(out, outlen, "%.*s%s", (int)plen, url, rest);
}

long long gh_url_param(const char *url, const char *name) {
  const char *q = strchr(url, '?');
  size_t nlen = strlen(name);
  while (q != NULL && *q != '\0') {
    q++; /* past '?' or '&' */
    size_t plen = strcspn(q, "&#");
    if (plen > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
      const char *v = q + nlen + 1;
      size_t vlen = plen - nlen - 1;
      if (vlen == 0 || vlen > 18)
        return -1;
      long long n = 0;
      for (size_t i = 0; i < vlen; i++) {
        if (!isdigit((unsigned char)v[i]))
          return -1;
        n = n * 10 + (v[i] - '0');
      }
      return n;
    }
    q += plen;
    if (*q != '&')
      break;
  }
  return -1;
}

/* ghp_skip_ws advances past spaces and tabs. */
static const char *ghp_skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* ghp_rel_has tells whether a rel value (space-separated list, possibly
 * quoted, of length len) names rel. */
static bool ghp_rel_has(const char *v, size_t len, const char *rel) {
  if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
    v++;
    len -= 2;
  }
  size_t rlen = strlen(rel);
  size_t i = 0;
  while (i < len) {
    while (i < len && v[i] == ' ')
      i++;
    size_t start = i;
    while (i < len && v[i] != ' ')
      i++;
    if (i - start == rlen && strncasecmp(v + start, rel, rlen) == 0)
      return true;
  }
  return false;
}

/* ghp_link_params scans "; name=value" pairs after one link target up to
 * the next top-level comma; sets *match when rel lists the wanted value. */
static int ghp_link_params(const char **pp, const char *rel, bool *match) {
  const char *p = *pp;
  *match = false;
  for (;;) {
    p = ghp_skip_ws(p);
    if (*p == '\0' || *p == ',')
      break;
    if (*p != ';')
      return -EINVAL;
    p = ghp_skip_ws(p + 1);
    const char *name = p;
    while (*p != '\0' && *p != '=' && *p != ';' && *p != ',')
      p++;
    size_t nlen = (size_t)(p - name);
    while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
      nlen--;
    if (*p != '=')
      continue; /* a parameter without a value */
    p = ghp_skip_ws(p + 1);
    const char *val = p;
    if (*p == '"') {
      const char *end = strchr(p + 1, '"');
      if (end == NULL)
        return -EINVAL;
      p = end + 1;
    } else {
      p += strcspn(p, ";,");
    }
    if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 &&
        ghp_rel_has(val, (size_t)(p - val), rel))
      *match = true;
  }
  *pp = p;
  return 0;
}

int gh_link_find(const char *header, const char *rel, char *out,
                 size_t outlen) {
  const char *p = header;
  if (p == NULL)
    return -ENOENT;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '\0')
      return -ENOENT;
    if (*p != '<')
      return -EINVAL;
    const char *end = strchr(p + 1, '>');
    if (end == NULL)
      return -EINVAL;
    const char *url = p + 1;
    size_t ulen = (size_t)(end - url);
    p = end + 1;
    bool match;
    if (ghp_link_params(&p, rel, &match) != 0)
      return -EINVAL;
    if (match) {
      if (ulen == 0)
        return -EINVAL;
      if (ulen >= outlen)
        return -ENAMETOOLONG;
      memcpy(out, url, ulen);
      out[ulen] = '\0';
      return 0;
    }
  }
}

/* ---------------------------------------------------------------- helpers */

/* ghp_why formats the reason a value was refused. Returns -EBADMSG. */
static int ghp_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ghp_why(char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return -EBADMSG;
}

/* ghp_fail wraps a reason with the URL it came from. */
static int ghp_fail(const char *url, const char *why, char *err, size_t errlen,
                    int status) {
  char shown[512];
  gh_url_display(url, shown, sizeof(shown));
  qf_err(err, errlen, "%s: %s", shown, why);
  return status;
}

/* ghp_parse parses body; NULL with the reason in why. */
static yajl_val ghp_parse(const char *body, char *why, size_t whylen) {
  char perr[200];
  if (body == NULL || body[0] == '\0') {
    ghp_why(why, whylen, "empty body");
    return NULL;
  }
  yajl_val v = qf_json_parse(body, perr, sizeof(perr));
  if (v == NULL)
    ghp_why(why, whylen, "invalid JSON: %s", perr);
  return v;
}

/* ghp_str copies obj[key] into *out: a string, or NULL when null/absent
 * and not required. */
static int ghp_str(yajl_val obj, const char *key, bool required, char **out,
                   char *why, size_t whylen) {
  yajl_val v = qf_json_get(obj, key);
  *out = NULL;
  if (v == NULL || YAJL_IS_NULL(v))
    return required ? ghp_why(why, whylen, "\"%s\" missing", key) : 0;
  if (!YAJL_IS_STRING(v))
    return ghp_why(why, whylen, "\"%s\" is not a string", key);
  if ((*out = strdup(v->u.string)) == NULL)
    return -ENOMEM;
  return 0;
}

/* ghp_time reads obj[key] as an ISO 8601 time (0 when null/absent and not
 * required). */
static int ghp_time(yajl_val obj, const char *key, bool required,
                    long long *out, char *why, size_t whylen) {
  yajl_val v = qf_json_get(obj, key);
  time_t t;
  *out = 0;
  if (v == NULL || YAJL_IS_NULL(v))
    return required ? ghp_why(why, whylen, "\"%s\" missing", key) : 0;
  if (!YAJL_IS_STRING(v) || qf_time_parse(v->u.string, &t) != 0)
    return ghp_why(why, whylen, "\"%s\" is not an ISO 8601 time", key);
  *out = (long long)t;
  return 0;
}

/* ghp_int reads obj[key] as an integer >= min. */
static int ghp_int(yajl_val obj, const char *key, bool required, long long min,
                   long long *out, char *why, size_t whylen) {
  int status = qf_json_get_int(obj, key, out);
  if (status == -ENOENT && !required) {
    *out = 0;
    return 0;
  }
  if (status == -ENOENT)
    return ghp_why(why, whylen, "\"%s\" missing", key);
  if (status != 0 || *out < min)
    return ghp_why(why, whylen, "\"%s\" is not an integer >= %lld", key, min);
  return 0;
}

/* ghp_names collects arr[i] strings, or arr[i][field] of objects, into sv.
 * Absent or null means empty. */
static int ghp_names(yajl_val obj, const char *key, const char *field,
                     gh_strv_t *sv, char *why, size_t whylen) {
  yajl_val arr = qf_json_get(obj, key);
  if (arr == NULL || YAJL_IS_NULL(arr))
    return 0;
  if (!YAJL_IS_ARRAY(arr))
    return ghp_why(why, whylen, "\"%s\" is not an array", key);
  for (size_t i = 0; i < arr->u.array.len; i++) {
    yajl_val e = arr->u.array.values[i];
    const char *name =
        YAJL_IS_STRING(e) ? e->u.string : qf_json_get_str(e, field);
    if (name == NULL)
      return ghp_why(why, whylen, "\"%s\"[%zu] has no string \"%s\"", key, i,
                     field);
    if (gh_strv_push(sv, name) != 0)
      return -ENOMEM;
  }
  return 0;
}

/* ---------------------------------------------------------------- issues */

/* ghp_state reads "state" as open/closed. */
static int ghp_state(yajl_val obj, bool *open, char *why, size_t whylen) {
  const char *s = qf_json_get_str(obj, "state");
  if (s == NULL)
    return ghp_why(why, whylen, "\"state\" missing or not a string");
  if (strcmp(s, "open") != 0 && strcmp(s, "closed") != 0)
    return ghp_why(why, whylen, "\"state\" is neither open nor closed");
  *open = strcmp(s, "open") == 0;
  return 0;
}

/* ghp_pr_links reads the title and body of a pull request for the issues
 * it names. */
static int ghp_pr_links(yajl_val obj, gh_item_t *it, char *why, size_t whylen) {
  yajl_val body = qf_json_get(obj, "body");
  if (body != NULL && !YAJL_IS_NULL(body) && !YAJL_IS_STRING(body))
    return ghp_why(why, whylen, "\"body\" is not a string");
  const char *text = YAJL_IS_STRING(body) ? body->u.string : NULL;
  gh_pr_t d = {0};
  d.nlinks =
      (unsigned char)gh_text_links(it->title, text, d.links, GH_LINKS_MAX);
  return gh_item_set_pr(it, &d);
}

/* ghp_item converts one element of an issue list. */
static int ghp_item(yajl_val obj, gh_item_t **out, char *why, size_t whylen) {
  long long number;
  if (!YAJL_IS_OBJECT(obj))
    return ghp_why(why, whylen, "not an object");
  int status = ghp_int(obj, "number", true, 1, &number, why, whylen);
  gh_item_t *it = status == 0 ? gh_item_new(number) : NULL;
  if (status != 0)
    return status;
  if (it == NULL)
    return -ENOMEM;
  yajl_val pr = qf_json_get(obj, "pull_request");
  it->is_pr = pr != NULL && !YAJL_IS_NULL(pr);
  if (it->is_pr && !YAJL_IS_OBJECT(pr))
    status = ghp_why(why, whylen, "\"pull_request\" is not an object");
  if (status == 0)
    status = ghp_state(obj, &it->open, why, whylen);
  if (status == 0)
    status = ghp_str(obj, "title", true, &it->title, why, whylen);
  if (status == 0)
    status = ghp_str(obj, "html_url", true, &it->html_url, why, whylen);
  if (status == 0)
    status =
        ghp_str(obj, "state_reason", false, &it->state_reason, why, whylen);
  if (status == 0)
    status = ghp_names(obj, "labels", "name", &it->labels, why, whylen);
  if (status == 0)
    status = ghp_names(obj, "assignees", "login", &it->assignees, why, whylen);
  if (status == 0)
    status = ghp_time(obj, "created_at", true, &it->created_at, why, whylen);
  if (status == 0)
    status = ghp_time(obj, "updated_at", true, &it->updated_at, why, whylen);
  if (status == 0)
    status = ghp_time(obj, "closed_at", false, &it->closed_at, why, whylen);
  if (status == 0 && it->is_pr)
    status = ghp_pr_links(obj, it, why, whylen);
  if (status != 0) {
    gh_item_free(it);
    return status;
  }
  *out = it;
  return 0;
}

void gh_page_free(gh_page_t *page) {
  for (size_t i = 0; i < page->n; i++)
    gh_item_free(page->items[i]);
  free(page->items);
  page->items = NULL;
  page->n = 0;
}

int gh_parse_issues(const char *url, const char *body, gh_page_t *page,
                    char *err, size_t errlen) {
  char why[GHP_WHY_LEN], iwhy[GHP_INNER_LEN];
  memset(page, 0, sizeof(*page));
  yajl_val doc = ghp_parse(body, why, sizeof(why));
  if (doc == NULL)
    return ghp_fail(url, why, err, errlen, -EBADMSG);
  int status = 0;
  if (!YAJL_IS_ARRAY(doc)) {
    status = ghp_why(why, sizeof(why), "not a JSON array of issues");
  } else if (doc->u.array.len > 0 &&
             (page->items = calloc(doc->u.array.len, sizeof(gh_item_t *))) ==
                 NULL) {
    status = -ENOMEM;
  }
  for (size_t i = 0; status == 0 && i < doc->u.array.len; i++) {
    status =
        ghp_item(doc->u.array.values[i], &page->items[i], iwhy, sizeof(iwhy));
    if (status == 0)
      page->n++;
    else if (status == -EBADMSG)
      snprintf(why, sizeof(why), "item %zu: %s", i, iwhy);
  }
  yajl_tree_free(doc);
  if (status != 0) {
    gh_page_free(page);
    return ghp_fail(url, status == -ENOMEM ? "out of memory" : why, err, errlen,
                    status);
  }
  return 0;
}

/* ---------------------------------------------------------------- events */

void gh_events_free(gh_events_t *ev) {
  for (size_t i = 0; i < ev->n; i++)
    free(ev->v[i].label);
  free(ev->v);
  ev->v = NULL;
  ev->n = 0;
}

/* ghp_event reads one issue event; label events are appended to ev. */
static int ghp_event(yajl_val obj, gh_events_t *ev, char *why, size_t whylen) {
  if (!YAJL_IS_OBJECT(obj))
    return ghp_why(why, whylen, "not an object");
  const char *kind = qf_json_get_str(obj, "event");
  if (kind == NULL)
    return ghp_why(why, whylen, "\"event\" missing or not a string");
  bool added = strcmp(kind, "labeled") == 0;
  if (!added && strcmp(kind, "unlabeled") != 0)
    return 0;
  long long at;
  int status = ghp_time(obj, "created_at", true, &at, why, whylen);
  if (status != 0)
    return status;
  const char *name = qf_json_get_str(qf_json_get(obj, "label"), "name");
  if (name == NULL)
    return ghp_why(why, whylen, "\"label.name\" missing or not a string");
  gh_label_event_t *v = realloc(ev->v, (ev->n + 1) * sizeof(*v));
  if (v == NULL)
    return -ENOMEM;
  ev->v = v;
  if ((v[ev->n].label = strdup(name)) == NULL)
    return -ENOMEM;
  v[ev->n].added = added;
  v[ev->n].at = at;
  ev->n++;
  return 0;
}

int gh_parse_label_events(const char *url, const char *body, gh_events_t *ev,
                          char *err, size_t errlen) {
  char why[GHP_WHY_LEN], ewhy[GHP_INNER_LEN];
  yajl_val doc = ghp_parse(body, why, sizeof(why));
  if (doc == NULL)
    return ghp_fail(url, why, err, errlen, -EBADMSG);
  int status = 0;
  if (!YAJL_IS_ARRAY(doc))
    status = ghp_why(why, sizeof(why), "not a JSON array of events");
  for (size_t i = 0; status == 0 && i < doc->u.array.len; i++) {
    status = ghp_event(doc->u.array.values[i], ev, ewhy, sizeof(ewhy));
    if (status == -EBADMSG)
      snprintf(why, sizeof(why), "event %zu: %s", i, ewhy);
  }
  yajl_tree_free(doc);
  if (status != 0)
    return ghp_fail(url, status == -ENOMEM ? "out of memory" : why, err, errlen,
                    status);
  return 0;
}

long long gh_blocked_since(const gh_events_t *ev, const gh_strv_t *labels,
                           const gh_strv_t *words) {
  long long since = 0;
  for (size_t l = 0; l < labels->n; l++) {
    if (!gh_label_matches(labels->v[l], words))
      continue;
    long long added = 0;
    for (size_t i = 0; i < ev->n; i++)
      if (ev->v[i].added && strcasecmp(ev->v[i].label, labels->v[l]) == 0 &&
          ev->v[i].at > added)
        added = ev->v[i].at;
    if (added > 0 && (since == 0 || added < since))
      since = added;
  }
  return since;
}

/* ---------------------------------------------------------------- pulls */

void gh_pull_free(gh_pull_t *pull) {
  free(pull->branch);
  free(pull->head_sha);
  free(pull->mergeable_state);
  memset(pull, 0, sizeof(*pull));
}

/* ghp_pull reads the fields of a pull request object. */
static int ghp_pull(yajl_val doc, gh_pull_t *pull, char *why, size_t whylen) {
  if (!YAJL_IS_OBJECT(doc))
    return ghp_why(why, whylen, "not a JSON object");
  int status = ghp_int(doc, "number", true, 1, &pull->number, why, whylen);
  if (status == 0)
    status = ghp_state(doc, &pull->open, why, whylen);
  yajl_val head = qf_json_get(doc, "head");
  if (status == 0 && !YAJL_IS_OBJECT(head))
    status = ghp_why(why, whylen, "\"head\" missing or not an object");
  if (status == 0)
    status = ghp_str(head, "ref", true, &pull->branch, why, whylen);
  if (status == 0)
    status = ghp_str(head, "sha", true, &pull->head_sha, why, whylen);
  if (status == 0)
    status = ghp_str(doc, "mergeable_state", false, &pull->mergeable_state, why,
                     whylen);
  return status;
}

int gh_parse_pull(const char *url, const char *body, gh_pull_t *pull, char *err,
                  size_t errlen) {
  char why[GHP_WHY_LEN];
  memset(pull, 0, sizeof(*pull));
  yajl_val doc = ghp_parse(body, why, sizeof(why));
  if (doc == NULL)
    return ghp_fail(url, why, err, errlen, -EBADMSG);
  int status = ghp_pull(doc, pull, why, sizeof(why));
  yajl_tree_free(doc);
  if (status != 0) {
    gh_pull_free(pull);
    return ghp_fail(url, status == -ENOMEM ? "out of memory" : why, err, errlen,
                    status);
  }
  return 0;
}

/* ---------------------------------------------------------------- runs */

/* ghp_verdict maps a run's status and conclusion to a verdict. */
static int ghp_verdict(const char *status, const char *conclusion) {
  if (strcmp(status, "completed") != 0 || conclusion == NULL)
    return GH_VERDICT_PENDING;
  if (strcmp(conclusion, "success") == 0)
    return GH_VERDICT_SUCCESS;
  if (strcmp(conclusion, "failure") == 0 ||
      strcmp(conclusion, "timed_out") == 0 ||
      strcmp(conclusion, "startup_failure") == 0)
    return GH_VERDICT_FAILURE;
  return GH_VERDICT_OTHER;
}

/* ghp_run_prs reads pull_requests[].number of a run. */
static int ghp_run_prs(yajl_val obj, gh_run_t *r, char *why, size_t whylen) {
  yajl_val arr = qf_json_get(obj, "pull_requests");
  if (arr == NULL || YAJL_IS_NULL(arr))
    return 0;
  if (!YAJL_IS_ARRAY(arr))
    return ghp_why(why, whylen, "\"pull_requests\" is not an array");
  for (size_t i = 0; i < arr->u.array.len; i++) {
    long long n;
    int status =
        ghp_int(arr->u.array.values[i], "number", true, 1, &n, why, whylen);
    if (status != 0)
      return status;
    if (r->nprs < GH_RUN_PRS_MAX)
      r->prs[r->nprs++] = n;
  }
  return 0;
}

/* ghp_run reads one workflow run. */
static int ghp_run(yajl_val obj, gh_run_t *r, char *why, size_t whylen) {
  char *status_s = NULL, *conclusion = NULL;
  memset(r, 0, sizeof(*r));
  if (!YAJL_IS_OBJECT(obj))
    return ghp_why(why, whylen, "not an object");
  int status = ghp_int(obj, "id", true, 1, &r->id, why, whylen);
  if (status == 0)
    status =
        ghp_int(obj, "workflow_id", false, 0, &r->workflow_id, why, whylen);
  if (status == 0)
    status = ghp_time(obj, "created_at", true, &r->created_at, why, whylen);
  if (status == 0)
    status = ghp_str(obj, "head_branch", false, &r->branch, why, whylen);
  if (status == 0)
    status = qf_json_get(obj, "status") == NULL /* required, nullable */
                 ? ghp_why(why, whylen, "\"status\" missing")
                 : ghp_str(obj, "status", false, &status_s, why, whylen);
  if (status == 0)
    status = ghp_str(obj, "conclusion", false, &conclusion, why, whylen);
  if (status == 0)
    status = ghp_run_prs(obj, r, why, whylen);
  /* The schema lets status be null: a run not started, so pending. */
  if (status == 0)
    r->verdict = status_s != NULL ? ghp_verdict(status_s, conclusion)
                                  : GH_VERDICT_PENDING;
  else
    gh_run_free(r);
  free(status_s);
  free(conclusion);
  return status;
}

/* ghp_runs converts the workflow_runs array into a new array. */
static int ghp_runs(yajl_val doc, gh_run_t **runs, size_t *n, char *why,
                    size_t whylen) {
  char rwhy[GHP_INNER_LEN];
  yajl_val arr = qf_json_get(doc, "workflow_runs");
  if (!YAJL_IS_OBJECT(doc) || !YAJL_IS_ARRAY(arr))
    return ghp_why(why, whylen, "no \"workflow_runs\" array");
  gh_run_t *v = calloc(arr->u.array.len + 1, sizeof(*v));
  if (v == NULL)
    return -ENOMEM;
  size_t got = 0;
  int status = 0;
  for (size_t i = 0; status == 0 && i < arr->u.array.len; i++) {
    status = ghp_run(arr->u.array.values[i], &v[got], rwhy, sizeof(rwhy));
    if (status == 0)
      got++;
    else if (status == -EBADMSG)
      ghp_why(why, whylen, "run %zu: %s", i, rwhy);
  }
  if (status != 0) {
    for (size_t i = 0; i < got; i++)
      gh_run_free(&v[i]);
    free(v);
    return status;
  }
  *runs = v;
  *n = got;
  return 0;
}

int gh_parse_runs(const char *url, const char *body, gh_run_t **runs, size_t *n,
                  char *err, size_t errlen) {
  char why[GHP_WHY_LEN];
  *runs = NULL;
  *n = 0;
  yajl_val doc = ghp_parse(body, why, sizeof(why));
  if (doc == NULL)
    return ghp_fail(url, why, err, errlen, -EBADMSG);
  int status = ghp_runs(doc, runs, n, why, sizeof(why));
  yajl_tree_free(doc);
  if (status != 0)
    return ghp_fail(url, status == -ENOMEM ? "out of memory" : why, err, errlen,
                    status);
  return 0;
}

/* ---------------------------------------------------------------- commits */

int gh_parse_commits(const char *url, const char *body, size_t *count,
                     char *err, size_t errlen) {
  char why[GHP_WHY_LEN];
  yajl_val doc = ghp_parse(body, why, sizeof(why));
  if (doc == NULL)
    return ghp_fail(url, why, err, errlen, -EBADMSG);
  int status = 0;
  if (!YAJL_IS_ARRAY(doc))
    status = ghp_why(why, sizeof(why), "not a JSON array of commits");
  for (size_t i = 0; status == 0 && i < doc->u.array.len; i++)
    if (qf_json_get_str(doc->u.array.values[i], "sha") == NULL)
      status = ghp_why(why, sizeof(why), "commit %zu has no string \"sha\"", i);
  if (status == 0)
    *count = doc->u.array.len;
  yajl_tree_free(doc);
  return status == 0 ? 0 : ghp_fail(url, why, err, errlen, status);
}

/* ---------------------------------------------------------------- links */

/* ghp_number reads 1..9 digits at p that are not followed by a letter or
 * digit; 0 when there is no such number. */
static long long ghp_number(const char *p) {
  long long n = 0;
  size_t i = 0;
  while (i < 10 && isdigit((unsigned char)p[i]))
    n = n * 10 + (p[i++] - '0');
  if (i == 0 || i > 9 || isalnum((unsigned char)p[i]) || p[i] == '_')
    return 0;
  return n;
}

/* ghp_add appends n to out when new and there is room. */
static size_t ghp_add(long long *out, size_t len, size_t max, long long n) {
  if (n <= 0)
    return len;
  for (size_t i = 0; i < len; i++)
    if (out[i] == n)
      return len;
  if (len < max)
    out[len++] = n;
  return len;
}

/* ghp_word_at tells whether word starts at text+i on a word boundary. */
static bool ghp_word_at(const char *text, size_t i, const char *word) {
  if (i > 0 && (isalnum((unsigned char)text[i - 1]) || text[i - 1] == '_'))
    return false;
  return strncasecmp(text + i, word, strlen(word)) == 0;
}

/* ghp_ref_after reads "[:] *#N" after a keyword; 0 when absent. */
static long long ghp_ref_after(const char *p, bool colon) {
  if (colon && *p == ':')
    p++;
  while (*p == ' ' || *p == '\t')
    p++;
  return *p == '#' ? ghp_number(p + 1) : 0;
}

/* ghp_scan adds the issues named in text by closing keywords (and by
 * "Issue #N" when titles is set). */
static size_t ghp_scan(const char *text, bool title, long long *out, size_t len,
                       size_t max) {
  static const char *const keywords[] = {"closes",   "closed",   "close",
                                         "fixes",    "fixed",    "fix",
                                         "resolves", "resolved", "resolve"};
  for (size_t i = 0; text != NULL && text[i] != '\0'; i++) {
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
      if (!ghp_word_at(text, i, keywords[k]))
        continue;
      const char *after = text + i + strlen(keywords[k]);
      if (*after == ':' || *after == ' ' || *after == '\t' || *after == '#') {
        len = ghp_add(out, len, max, ghp_ref_after(after, true));
        break;
      }
    }
    if (title && ghp_word_at(text, i, "issue"))
      len = ghp_add(out, len, max, ghp_ref_after(text + i + 5, false));
  }
  return len;
}

size_t gh_text_links(const char *title, const char *body, long long *out,
                     size_t max) {
  size_t len = ghp_scan(title, true, out, 0, max);
  return ghp_scan(body, false, out, len, max);
}

long long gh_branch_issue(const char *branch) {
  static const char prefix[] = "feature/issue-";
  if (branch == NULL || strncasecmp(branch, prefix, sizeof(prefix) - 1) != 0)
    return 0;
  const char *p = branch + sizeof(prefix) - 1;
  long long n = 0;
  size_t i = 0;
  while (i < 10 && isdigit((unsigned char)p[i]))
    n = n * 10 + (p[i++] - '0');
  if (i == 0 || i > 9 || isdigit((unsigned char)p[i]))
    return 0;
  return n;
}
