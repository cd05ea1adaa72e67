/* anomaly_feed.c: snapshots and collectd values in, observations out
 * (anomaly_feed.h). */
#include "anomaly_feed.h"

#include "qf_buf.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* af_fail writes the reason into err and returns -EINVAL. */
static int af_fail(char *err, size_t errlen, const char *what) {
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", what);
  return -EINVAL;
}

/* af_time reads obj[key] as an ISO 8601 time; 0 when absent or null. */
static time_t af_time(yajl_val obj, const char *key) {
  const char *v = qf_json_get_str(obj, key);
  time_t t = 0;
  if (v == NULL || qf_time_parse(v, &t) != 0)
    return 0;
  return t;
}

int anom_feed_agents(anom_state_t *s, time_t now, yajl_val doc, char *err,
                     size_t errlen) {
  yajl_val list = qf_json_get(doc, "agents");
  if (!YAJL_IS_OBJECT(doc) || !YAJL_IS_ARRAY(list))
    return af_fail(err, errlen, "no \"agents\" array: not an agents snapshot");
  size_t len = list->u.array.len;
  if (len > ANOM_MAX_AGENTS) { /* the detectors track no more: say so */
    snprintf(err, errlen,
             "agents.json lists %zu agents; the detectors watch the first %d "
             "(by name) and not the rest",
             len, ANOM_MAX_AGENTS);
    len = ANOM_MAX_AGENTS;
  }
  anom_agent_obs_t obs[ANOM_MAX_AGENTS];
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    yajl_val a = list->u.array.values[i];
    const char *name = qf_json_get_str(a, "name");
    const char *status = qf_json_get_str(a, "status");
    if (name == NULL || name[0] == '\0' || status == NULL)
      continue; /* agents.json is ours: a malformed entry is skipped */
    long long issue = 0;
    if (qf_json_get_int(a, "issue_number", &issue) != 0 || issue < 0)
      issue = 0;
    obs[n] = (anom_agent_obs_t){.name = name,
                                .active = strcmp(status, "active") == 0,
                                .issue = (long)issue,
                                .task_start = af_time(a, "task_started_at")};
    n++;
  }
  anom_observe_agents(s, now, obs, n);
  return (int)n;
}

/* The closed_at times newer than the cursor, gathered while streaming. */
typedef struct af_closed_s {
  time_t after;
  time_t *t;
  size_t n, cap;
  qf_buf_t scratch; /* an issue's text while it is parsed */
} af_closed_t;

/* af_keep keeps closing time t when it is newer than the cursor. */
static int af_keep(af_closed_t *c, time_t t) {
  if (t <= c->after)
    return 0;
  void *arr = c->t;
  if (qf_array_room(&arr, &c->cap, c->n, sizeof(*c->t), 64) != 0)
    return -ENOMEM;
  c->t = arr;
  c->t[c->n++] = t;
  return 0;
}

/* af_issue keeps one issue's closed_at when it is newer than the cursor. */
static int af_issue(yajl_val issue, void *ctx) {
  return af_keep(ctx, af_time(issue, "closed_at"));
}

/* af_issue_tree is af_issue for an element's text, parsed. */
static int af_issue_tree(const char *text, size_t len, af_closed_t *c) {
  yajl_val it;
  int rc = qf_json_parse_len(&c->scratch, text, len, &it);
  if (rc == -ENOMEM)
    return rc;
  rc = it != NULL ? af_issue(it, c) : 0; /* no JSON: nothing to count */
  yajl_tree_free(it);
  return rc;
}

/* af_closed_at finds the value of the first "closed_at" key in the
 * element text[0, len) (holding no nested object): *v and *vlen, a
 * string's characters, NULL for another value or no such key. */
static void af_closed_at(const char *text, size_t len, const char **v,
                         size_t *vlen) {
  static const char key[] = "\"closed_at\"";
  const size_t klen = sizeof(key) - 1;
  const char *k = text;
  *v = NULL;
  while ((k = memmem(k, len - (size_t)(k - text), key, klen)) != NULL) {
    k += klen;
    size_t q = qf_json_blanks(text, (size_t)(k - text), len);
    if (q == len || text[q] != ':')
      continue; /* the text of a value, not a key */
    q = qf_json_blanks(text, q + 1, len);
    const char *close = q < len && text[q] == '"'
                            ? memchr(text + q + 1, '"', len - q - 1)
                            : NULL;
    if (close != NULL) {
      *v = text + q + 1;
      *vlen = (size_t)(close - *v);
    }
    return;
  }
}

/* af_issue_text is af_issue for one element of the list as qf_json_scan
 * gives it: closed_at is read from the text (an issue is parsed only
 * when it holds a nested object, an escape or an odd time), so a large
 * list costs a scan rather than a parse. */
static int af_issue_text(const char *text, size_t at, size_t len, void *ctx) {
  af_closed_t *c = ctx;
  (void)at; /* where it lies does not matter */
  if (len == 0 || text[0] != '{')
    return 0; /* no issue */
  if (memchr(text + 1, '{', len - 1) != NULL || memchr(text, '\\', len))
    return af_issue_tree(text, len, c);
  const char *v;
  size_t vlen = 0;
  char when[40];
  af_closed_at(text, len, &v, &vlen);
  if (v == NULL)
    return 0; /* open, or no closed_at */
  if (vlen >= sizeof(when))
    return af_issue_tree(text, len, c);
  memcpy(when, v, vlen);
  when[vlen] = '\0';
  time_t t = 0;
  return qf_time_parse(when, &t) == 0 ? af_keep(c, t) : 0;
}

static int af_cmp_time(const void *x, const void *y) {
  time_t a = *(const time_t *)x, b = *(const time_t *)y;
  return (a > b) - (a < b);
}

/* af_count reads github.<key> as a count; -1 when null or absent. */
static long long af_count(yajl_val github, const char *key) {
  long long v;
  if (qf_json_get_int(github, key, &v) != 0 || v < 0)
    return -1;
  return v;
}

/* af_progress counts a rise of recent_commits or a change of the open pull
 * requests as progress at the document's sync time, then remembers both. */
static void af_progress(anom_state_t *s, yajl_val rest) {
  yajl_val gh = qf_json_get(rest, "github");
  long long commits = af_count(gh, "recent_commits");
  long long prs = af_count(gh, "open_pull_requests");
  time_t at = af_time(rest, "last_sync");
  if (at == 0)
    at = af_time(rest, "updated_at");
  bool moved =
      (commits >= 0 && s->feed_commits >= 0 && commits > s->feed_commits) ||
      (prs >= 0 && s->feed_prs >= 0 && prs != s->feed_prs);
  if (moved && at > 0)
    anom_observe_progress(s, at);
  if (commits >= 0)
    s->feed_commits = commits;
  if (prs >= 0)
    s->feed_prs = prs;
}

/* One ci_runs entry newer than the cursor. */
typedef struct af_run_s {
  time_t at;
  bool failed;
} af_run_t;

static int af_cmp_run(const void *x, const void *y) {
  time_t a = ((const af_run_t *)x)->at, b = ((const af_run_t *)y)->at;
  return (a > b) - (a < b);
}

/* af_ci counts the ci_runs newer than s->feed_ci_until, oldest first, and
 * moves the cursor to the newest; entries beyond ANOM_FEED_CI_MAX and those
 * without a time or verdict are skipped. Returns the runs counted. */
static int af_ci(anom_state_t *s, yajl_val rest) {
  yajl_val runs = qf_json_get(rest, "ci_runs");
  if (!YAJL_IS_ARRAY(runs))
    return 0; /* a project.json from before ci_runs */
  af_run_t got[ANOM_FEED_CI_MAX] = {{0}};
  size_t n = 0;
  for (size_t i = 0; i < runs->u.array.len && i < ANOM_FEED_CI_MAX; i++) {
    yajl_val r = runs->u.array.values[i];
    yajl_val failed = qf_json_get(r, "failed");
    time_t at = af_time(r, "at");
    if (at <= s->feed_ci_until || failed == NULL ||
        !(YAJL_IS_TRUE(failed) || YAJL_IS_FALSE(failed)))
      continue;
    got[n++] = (af_run_t){.at = at, .failed = YAJL_IS_TRUE(failed)};
  }
  qsort(got, n, sizeof(got[0]), af_cmp_run);
  for (size_t i = 0; i < n; i++)
    anom_observe_ci(s, got[i].at, got[i].failed);
  if (n > 0)
    s->feed_ci_until = got[n - 1].at;
  return (int)n;
}

/* af_activity counts a pull request update newer than the last one seen
 * as progress at its own time. */
static void af_activity(anom_state_t *s, yajl_val rest) {
  time_t t = af_time(qf_json_get(rest, "activity"), "last_pull_request_update");
  if (t <= s->feed_pr_update)
    return;
  anom_observe_progress(s, t);
  s->feed_pr_update = t;
}

/* af_gather streams project.json's issue list into c and parses the rest
 * into *rest: scanned (a window at a time from a file), or, when the text
 * does not scan so, read whole and parsed, for the parser's message. */
static int af_gather(const qf_src_t *src, af_closed_t *c, yajl_val *rest,
                     char *err, size_t errlen) {
  qf_buf_t head = QF_BUF_INIT;
  int rc = qf_json_scan(src, "issues", af_issue_text, c, &head);
  qf_buf_free(&c->scratch);
  if (rc == 0) {
    *rest = qf_json_parse(head.data, err, errlen);
    rc = *rest != NULL ? 0 : -EINVAL;
  }
  qf_buf_free(&head);
  if (rc == -EIO)
    af_fail(err, errlen, "the file changed while read");
  if (rc != -EAGAIN)
    return rc;
  c->n = 0; /* again, from the whole text */
  const char *text;
  char *owned;
  rc = qf_src_whole(src, &text, &owned, err, errlen);
  if (rc == 0)
    rc = qf_json_parse_split(text, src->len, "issues", af_issue, c, rest, err,
                             errlen);
  free(owned);
  return rc;
}

int anom_feed_project_src(anom_state_t *s, const qf_src_t *src, char *err,
                          size_t errlen) {
  af_closed_t c = {.after = s->feed_closed_until};
  yajl_val rest = NULL;
  int rc = af_gather(src, &c, &rest, err, errlen);
  if (rc == 0 && !YAJL_IS_ARRAY(qf_json_get(rest, "issues")))
    rc = af_fail(err, errlen, "no \"issues\" array: not a project snapshot");
  if (rc != 0) {
    free(c.t);
    yajl_tree_free(rest);
    return rc;
  }
  if (c.n > 0) /* c.t is NULL when no issue closed since the cursor */
    qsort(c.t, c.n, sizeof(*c.t), af_cmp_time);
  for (size_t i = 0; i < c.n;) {
    size_t j = i;
    while (j < c.n && c.t[j] == c.t[i])
      j++;
    anom_observe_closed(s, c.t[i], (unsigned)(j - i));
    s->feed_closed_until = c.t[i];
    i = j;
  }
  af_progress(s, rest);
  af_activity(s, rest); /* after: a count's change already moved it */
  af_ci(s, rest);
  free(c.t);
  yajl_tree_free(rest);
  return (int)c.n;
}

int anom_feed_project(anom_state_t *s, const char *text, size_t len, char *err,
                      size_t errlen) {
  qf_src_t src = {.text = text, .fd = -1, .len = len};
  return anom_feed_project_src(s, &src, err, errlen);
}

/* af_resource finds or adds the resource called name; NULL when full. */
static anom_feed_res_t *af_resource(anom_feed_values_t *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->res[i].name, name) == 0)
      return &f->res[i];
  if (f->n == ANOM_MAX_RESOURCES)
    return NULL;
  anom_feed_res_t *r = &f->res[f->n++];
  memset(r, 0, sizeof(*r));
  snprintf(r->name, sizeof(r->name), "%s", name);
  return r;
}

/* af_part stores value as part `part` of r; -ENOSPC when r is full. */
static int af_part(anom_feed_res_t *r, const char *part, double value) {
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->part[i], part) == 0) {
      r->v[i] = value;
      return 1;
    }
  if (r->n == ANOM_FEED_PARTS)
    return -ENOSPC;
  snprintf(r->part[r->n], ANOM_FEED_PART_MAX, "%s", part);
  r->v[r->n++] = value;
  return 1;
}

int anom_feed_value(anom_feed_values_t *f, const char *plugin,
                    const char *plugin_instance, const char *type,
                    const char *type_instance, double value) {
  char name[ANOM_NAME_MAX];
  bool percent;
  if (strcmp(plugin, "memory") == 0 &&
      (strcmp(type, "memory") == 0 || strcmp(type, "percent") == 0)) {
    snprintf(name, sizeof(name), "memory");
    percent = strcmp(type, "percent") == 0;
  } else if (strcmp(plugin, "df") == 0 && plugin_instance[0] != '\0' &&
             (strcmp(type, "df_complex") == 0 ||
              strcmp(type, "percent_bytes") == 0)) {
    snprintf(name, sizeof(name), "disk:%.*s", ANOM_NAME_MAX - 6,
             plugin_instance);
    percent = strcmp(type, "percent_bytes") == 0;
  } else
    return 0;
  if (!(value >= 0)) /* NaN: collectd had no reading */
    return 0;
  anom_feed_res_t *r = af_resource(f, name);
  if (r == NULL)
    return -ENOSPC;
  if (percent) {
    if (strcmp(type_instance, "used") != 0)
      return 0;
    r->percent = value;
    r->has_percent = true;
    return 1;
  }
  return af_part(r, type_instance, value);
}

int anom_feed_fraction(const anom_feed_res_t *r, double *used) {
  if (r->has_percent) {
    double u = r->percent / 100.0;
    *used = u < 0 ? 0 : u > 1 ? 1 : u;
    return 0;
  }
  double sum = 0, u = -1;
  for (int i = 0; i < r->n; i++) {
    sum += r->v[i];
    if (strcmp(r->part[i], "used") == 0)
      u = r->v[i];
  }
  if (u < 0 || r->n < 2 || !(sum > 0)) /* used alone is no fraction */
    return -ENOENT;
  *used = u / sum > 1 ? 1 : u / sum;
  return 0;
}

void anom_feed_message(const anom_t *a, bool started, char *out,
                       size_t outlen) {
  char issue[32] = "", since[QF_TIME_ISO_LEN] = "an unknown time";
  if (a->issue > 0)
    snprintf(issue, sizeof(issue), " (issue #%ld)", a->issue);
  if (a->since > 0)
    qf_time_format(a->since, since, sizeof(since));
  if (started)
    snprintf(out, outlen, "%s %s%s: %s", anom_kind_name(a->kind), a->subject,
             issue, a->reason);
  else
    snprintf(out, outlen, "ended: %s %s%s (since %s): %s",
             anom_kind_name(a->kind), a->subject, issue, since, a->reason);
}
