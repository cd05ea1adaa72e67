/* project_query.c: strict parsing of /project/issues' query parameters.
 * Anything but a well-formed, known, single parameter is refused with a
 * message naming it, so a typo never silently returns the wrong list. */
#include "project.h"
#include "qf_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const qfx_issue_status_names[QFX_IS_N] = {
    "open", "closed", "all", "ready", "in_progress", "blocked", "done"};

/* pq_long parses all of s as a decimal integer in [min, max]. */
static int pq_long(const char *s, long min, long max, long *out) {
  long v = 0;
  if (s[0] == '\0')
    return -EINVAL;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9' || v > max)
      return -EINVAL; /* stops before any overflow: v <= max < LONG_MAX/10 */
    v = v * 10 + (*p - '0');
  }
  if (v < min || v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

/* pq_status maps a status filter name to QFX_IS_*, or -1. */
static int pq_status(const char *s) {
  for (int i = 0; i < QFX_IS_N; i++)
    if (strcmp(s, qfx_issue_status_names[i]) == 0)
      return i;
  return -1;
}

/* pq_one applies one parameter to q; -EINVAL with the reason in err. */
static int pq_one(const qfx_kv_t *kv, qfx_issues_query_t *q, char *err,
                  size_t errlen) {
  const char *k = kv->key, *v = kv->value;
  if (strcmp(k, "page") == 0) {
    if (pq_long(v, 1, QFX_ISSUES_PAGE_MAX, &q->page) == 0)
      return 0;
    qf_err(err, errlen, "page: must be a whole number from 1 to %d",
           QFX_ISSUES_PAGE_MAX);
  } else if (strcmp(k, "limit") == 0) {
    if (pq_long(v, 1, QFX_ISSUES_LIMIT_MAX, &q->limit) == 0)
      return 0;
    qf_err(err, errlen, "limit: must be a whole number from 1 to %d",
           QFX_ISSUES_LIMIT_MAX);
  } else if (strcmp(k, "status") == 0) {
    if ((q->status = pq_status(v)) >= 0)
      return 0;
    qf_err(err, errlen,
           "status: must be one of open, closed, all, ready, "
           "in_progress, blocked, done");
  } else if (strcmp(k, "flagged") == 0) {
    q->flagged = strcmp(v, "true") == 0    ? QFX_IF_TRUE
                 : strcmp(v, "false") == 0 ? QFX_IF_FALSE
                                           : -1;
    if (q->flagged >= 0)
      return 0;
    qf_err(err, errlen, "flagged: must be true or false");
  }
  return -EINVAL;
}

bool qfx_query_empty(const qfx_kv_t *kv) {
  return (kv->key == NULL || kv->key[0] == '\0') && kv->value == NULL;
}

int qfx_issues_query_parse(const qfx_kv_t *kv, size_t n, qfx_issues_query_t *q,
                           char *err, size_t errlen) {
  static const char *const known[] = {"page", "limit", "status", "flagged"};
  unsigned seen = 0;
  *q = (qfx_issues_query_t){.page = 1,
                            .limit = QFX_ISSUES_LIMIT_DEFAULT,
                            .status = QFX_IS_ALL,
                            .flagged = QFX_IF_ANY};
  for (size_t i = 0; i < n; i++) {
    if (qfx_query_empty(&kv[i]))
      continue;
    const char *k = kv[i].key != NULL ? kv[i].key : "";
    unsigned bit = 0;
    for (unsigned j = 0; j < 4; j++)
      if (strcmp(k, known[j]) == 0)
        bit = 1u << j;
    if (k[0] == '\0') {
      qf_err(err, errlen, "query: a parameter without a name");
      return -EINVAL;
    }
    if (bit == 0) {
      qf_err(err, errlen,
             "%.64s: unknown parameter (use page, limit, "
             "status, flagged)",
             k);
      return -EINVAL;
    }
    if (seen & bit) {
      qf_err(err, errlen, "%s: given more than once", k);
      return -EINVAL;
    }
    seen |= bit;
    if (kv[i].value == NULL) {
      qf_err(err, errlen, "%s: missing value", k);
      return -EINVAL;
    }
    if (pq_one(&kv[i], q, err, errlen) != 0)
      return -EINVAL;
  }
  return 0;
}
