/* agents_parse.c: one agent registry file into an agents_agent_t. */
#include "agents.h"

#include "qf_buf.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const ap_status_names[AGENTS_STATUS_COUNT] = {
    "active", "idle", "blocked", "failed", "dead", "stale"};

const char *agents_status_name(agents_status_t s) {
  return (unsigned)s < AGENTS_STATUS_COUNT ? ap_status_names[s] : "unknown";
}

int agents_status_parse(const char *s, agents_status_t *out) {
  for (int i = 0; i < AGENTS_STATUS_COUNT; i++) {
    if (s != NULL && strcmp(s, ap_status_names[i]) == 0) {
      *out = (agents_status_t)i;
      return 0;
    }
  }
  return -EINVAL;
}

const char *agents_liveness_name(agents_liveness_t l) {
  switch (l) {
  case AGENTS_LIVENESS_ALIVE:
    return "alive";
  case AGENTS_LIVENESS_DEAD:
    return "dead";
  default:
    return "unknown";
  }
}

/* ap_reported maps a status the swarm may write; "working" is the earlier
 * swarm's word for active. Dead and stale are ours to derive, not to be
 * reported. */
static int ap_reported(const char *s, agents_status_t *out) {
  if (strcmp(s, "working") == 0) {
    *out = AGENTS_ACTIVE;
    return 0;
  }
  if (agents_status_parse(s, out) != 0 || *out == AGENTS_DEAD ||
      *out == AGENTS_STALE)
    return -EINVAL;
  return 0;
}

void agents_quote(const char *s, char *out, size_t outlen) {
  if (outlen == 0)
    return;
  size_t n = strlen(s), max = outlen > 44 ? 40 : (outlen > 4 ? outlen - 4 : 0);
  bool cut = n > max;
  if (cut) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--; /* s[n] continues a sequence: cut before its lead byte */
  }
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[j] = s[i];
    if (c < 0x20 || c == 0x7f)
      out[j] = '?';
    j++;
  }
  if (cut && j + 3 < outlen) {
    memcpy(out + j, "...", 3);
    j += 3;
  }
  out[j] = '\0';
}

/* ap_string reads an optional string field into a new copy (NULL when
 * absent or null). 0, -EINVAL (wrong type) or -ENOMEM. */
static int ap_string(yajl_val doc, const char *key, char **out, char *err,
                     size_t errlen) {
  yajl_val v = qf_json_get(doc, key);
  *out = NULL;
  if (v == NULL || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_STRING(v)) {
    qf_err(err, errlen, "%s: not a string", key);
    return -EINVAL;
  }
  *out = strdup(v->u.string);
  return *out != NULL ? 0 : -ENOMEM;
}

/* ap_time reads an optional ISO 8601 field; *has tells if it was there. */
static int ap_time(yajl_val doc, const char *key, bool *has, time_t *out,
                   char *err, size_t errlen) {
  yajl_val v = qf_json_get(doc, key);
  *has = false;
  if (v == NULL || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_STRING(v) || qf_time_parse(v->u.string, out) != 0) {
    qf_err(err, errlen, "%s: not an ISO 8601 time", key);
    return -EINVAL;
  }
  /* Outside 1970..9999 a time would not print back as ISO 8601 UTC (a
   * 32-bit time_t cannot reach 9999: secs keeps the test warning-free). */
  long long secs = *out;
  if (secs < 0 || secs >= 253402300800LL) {
    qf_err(err, errlen, "%s: outside the years 1970 to 9999", key);
    return -EINVAL;
  }
  *has = true;
  return 0;
}

/* ap_positive reads an optional integer field that must be in 1..max. */
static int ap_positive(yajl_val doc, const char *key, long long max, bool *has,
                       long long *out, char *err, size_t errlen) {
  *has = false;
  int status = qf_json_get_int(doc, key, out);
  if (status == -ENOENT)
    return 0;
  if (status != 0) {
    qf_err(err, errlen, "%s: not an integer", key);
    return -EINVAL;
  }
  if (*out <= 0 || *out > max) {
    qf_err(err, errlen, "%s: %lld is out of range (1..%lld)", key, *out, max);
    return -EINVAL;
  }
  *has = true;
  return 0;
}

/* ap_name reads the required name and its sanitised instance. */
static int ap_name(yajl_val doc, agents_agent_t *a, char *err, size_t errlen) {
  yajl_val v = qf_json_get(doc, "name");
  if (v == NULL || YAJL_IS_NULL(v)) {
    qf_err(err, errlen, "missing name");
    return -EINVAL;
  }
  if (!YAJL_IS_STRING(v)) {
    qf_err(err, errlen, "name: not a string");
    return -EINVAL;
  }
  if (v->u.string[0] == '\0') {
    qf_err(err, errlen, "name: empty");
    return -EINVAL;
  }
  /* The sanitised instance has one byte per character, so this limits the
   * name to what a collectd plugin_instance can carry. */
  if (agents_sanitise(v->u.string, a->instance, sizeof(a->instance)) != 0) {
    qf_err(err, errlen, "name: longer than %d characters", AGENTS_NAME_MAX);
    return -EINVAL;
  }
  a->name = strdup(v->u.string);
  return a->name != NULL ? 0 : -ENOMEM;
}

/* ap_status reads the required reported status. */
static int ap_status(yajl_val doc, agents_agent_t *a, char *err,
                     size_t errlen) {
  yajl_val v = qf_json_get(doc, "status");
  if (v == NULL || YAJL_IS_NULL(v)) {
    qf_err(err, errlen, "missing status");
    return -EINVAL;
  }
  if (!YAJL_IS_STRING(v)) {
    qf_err(err, errlen, "status: not a string");
    return -EINVAL;
  }
  if (ap_reported(v->u.string, &a->reported) != 0) {
    char quoted[64];
    agents_quote(v->u.string, quoted, sizeof(quoted));
    qf_err(err, errlen,
           "unknown status \"%s\" (expected active, working, idle, blocked "
           "or failed)",
           quoted);
    return -EINVAL;
  }
  a->reported_status = strdup(v->u.string);
  return a->reported_status != NULL ? 0 : -ENOMEM;
}

/* ap_fields reads every field of a parsed agent object, in the order a
 * reader of the error would check them. */
static int ap_fields(yajl_val doc, agents_agent_t *a, char *err,
                     size_t errlen) {
  int status = ap_name(doc, a, err, errlen);
  if (status == 0)
    status = ap_status(doc, a, err, errlen);
  if (status == 0)
    status = ap_string(doc, "current_task", &a->current_task, err, errlen);
  if (status == 0)
    status = ap_positive(doc, "issue_number", LLONG_MAX, &a->has_issue,
                         &a->issue_number, err, errlen);
  if (status == 0)
    status = ap_time(doc, "task_started_at", &a->has_started,
                     &a->task_started_at, err, errlen);
  if (status == 0)
    status = ap_time(doc, "last_activity", &a->has_activity, &a->last_activity,
                     err, errlen);
  if (status == 0)
    status =
        ap_positive(doc, "pid", INT_MAX, &a->has_pid, &a->pid, err, errlen);
  if (status == -ENOMEM)
    qf_err(err, errlen, "out of memory");
  return status;
}

int agents_parse(const char *text, agents_agent_t *a, char *err,
                 size_t errlen) {
  memset(a, 0, sizeof(*a));
  char perr[256];
  yajl_val doc = qf_json_parse(text, perr, sizeof(perr));
  if (doc == NULL) {
    /* yajl's messages mostly start with "parse error" already. */
    bool prefixed = strncmp(perr, "parse error", 11) == 0;
    qf_err(err, errlen, "%s%s", prefixed ? "" : "parse error: ", perr);
    return -EINVAL;
  }
  int status;
  if (!YAJL_IS_OBJECT(doc)) {
    qf_err(err, errlen, "not a JSON object");
    status = -EINVAL;
  } else {
    status = ap_fields(doc, a, err, errlen);
  }
  yajl_tree_free(doc);
  if (status != 0)
    agents_agent_free(a);
  return status;
}

void agents_agent_free(agents_agent_t *a) {
  if (a == NULL)
    return;
  free(a->name);
  free(a->reported_status);
  free(a->current_task);
  free(a->file);
  memset(a, 0, sizeof(*a));
}

/* ap_allowed tells whether c may stay as it is in a plugin_instance. */
static bool ap_allowed(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int agents_sanitise(const char *name, char *out, size_t outlen) {
  size_t j = 0;
  for (const char *p = name; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c & 0xC0) == 0x80)
      continue; /* continuation byte: its lead byte already gave a '_' */
    if (j + 1 >= outlen) {
      if (outlen > 0)
        out[0] = '\0';
      return -ENOSPC;
    }
    out[j] = *p;
    if (!ap_allowed(c))
      out[j] = '_';
    j++;
  }
  if (outlen == 0)
    return -ENOSPC;
  out[j] = '\0';
  return 0;
}
