/* heartbeat_config.c: the <Backend> and <Webhook> blocks and the checks
 * behind them (see the header). */
#include "heartbeat_config.h"

#include "qf_buf.h"
#include "qf_config.h"
#include "qf_file.h"
#include "qf_http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

bool hb_name_valid(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > HB_NAME_MAX)
    return false;
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
      return false;
  return true;
}

int hb_url_check(const char *url, char *err, size_t errlen) {
  const char *host = NULL;
  if (strncasecmp(url, "https://", 8) == 0)
    host = url + 8;
  else if (strncasecmp(url, "http://", 7) == 0)
    host = url + 7;
  if (host == NULL) {
    qf_err(err, errlen, "URL must start with http:// or https://");
    return -EINVAL;
  }
  if (strcspn(host, "/?#") == 0) {
    qf_err(err, errlen, "URL has no host");
    return -EINVAL;
  }
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
      qf_err(err, errlen, "URL contains a space or control character");
      return -EINVAL;
    }
  return 0;
}

void hb_url_origin(const char *url, char *out, size_t outlen) {
  char public_url[2048];
  qf_http_redact(url, public_url, sizeof(public_url));
  const char *scheme = strstr(public_url, "://");
  char *host = scheme != NULL ? (char *)scheme + 3 : public_url;
  char *rest = host + strcspn(host, "/");
  bool path = rest[0] == '/' && rest[1] != '\0';
  *rest = '\0';
  snprintf(out, outlen, "%s%s", public_url, path ? "/..." : "");
}

bool hb_url_path_hint(const char *url, char *out, size_t outlen) {
  const char *scheme = strstr(url, "://");
  const char *path = scheme ? scheme + 3 : url;
  path += strcspn(path, "/?#");
  size_t plen = strcspn(path, "?#");
  size_t dlen = strlen(HB_PATH_DOCUMENTED);
  if (plen < dlen ||
      strncmp(path + plen - dlen, HB_PATH_DOCUMENTED, dlen) != 0 ||
      (plen >= strlen(HB_PATH_WORKING) &&
       strncmp(path + plen - strlen(HB_PATH_WORKING), HB_PATH_WORKING,
               strlen(HB_PATH_WORKING)) == 0))
    return false;
  snprintf(out, outlen,
           "the URL path ends in " HB_PATH_DOCUMENTED
           ", which the QiFlow backend documents but answers with 404 "
           "\"Not found\"; its router serves " HB_PATH_WORKING);
  return true;
}

int hb_key_check(const char *key, char *err, size_t errlen) {
  if (key[0] == '\0') {
    qf_err(err, errlen, "the API key is empty");
    return -EINVAL;
  }
  for (const char *p = key; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
      qf_err(err, errlen,
             "the API key contains a space, a control or a non-ASCII "
             "character");
      return -EINVAL;
    }
  return 0;
}

/* hbc_trim cuts leading and trailing whitespace in place; returns s. */
static char *hbc_trim(char *s) {
  char *p = s;
  while (isspace((unsigned char)*p))
    p++;
  size_t n = strlen(p);
  while (n > 0 && isspace((unsigned char)p[n - 1]))
    n--;
  memmove(s, p, n);
  s[n] = '\0';
  return s;
}

int hb_key_file_read(const char *path, char **key, char *err, size_t errlen) {
  char *text = NULL;
  int status = qf_secret_read("APIKeyFile", path, HB_KEY_FILE_MAX,
                              QF_READ_NOT_PUBLIC, &text, NULL, err, errlen);
  if (status != 0)
    return status;
  hbc_trim(text);
  status = hb_key_check(text, err, errlen);
  if (status != 0) {
    /* Keep the file's name in the message; the key itself never appears. */
    char why[256];
    qf_strcpy(why, sizeof(why), err != NULL ? err : "");
    qf_err(err, errlen, "APIKeyFile %s: %s", path, why);
    free(text);
    return status;
  }
  *key = text;
  return 0;
}

bool hb_rate_advice(double interval, int limit, double window, char *out,
                    size_t outlen) {
  if (limit <= 0 || window <= 0 || interval <= 0)
    return false;
  double live = window / interval;
  if (live < (double)limit)
    return false;
  snprintf(out, outlen,
           "Interval %g s sends %.0f heartbeats per %g s, at or over "
           "RequestLimit %d: a backlog could never be replayed; raise "
           "Interval (the QiFlow backend allows 100 requests per 900 s)",
           interval, live, window, limit);
  return true;
}

/* ------------------------------------------------ <Backend>, <Webhook> */

/* The block being parsed, for messages: <Backend "central">. */
typedef struct hbc_block_s {
  const char *kind; /* "Backend" or "Webhook" */
  const char *name;
  const hb_logger_t *log;
} hbc_block_t;

/* hbc_string takes the one string value of c (in quotes in the file). */
static int hbc_string(const hbc_block_t *bl, const hb_cfg_item_t *c,
                      const char **out) {
  if (c->n_values != 1 || c->values[0].type != HB_CFG_STRING) {
    hb_logf(bl->log, HB_LOG_ERR,
            "<%s \"%s\">: %s needs exactly one string argument, in quotes",
            bl->kind, bl->name, c->key);
    return -1;
  }
  *out = c->values[0].string;
  return 0;
}

/* hbc_strdup replaces *dst with a copy of the string value of c. */
static int hbc_strdup(const hbc_block_t *bl, const hb_cfg_item_t *c,
                      char **dst) {
  const char *s;
  if (hbc_string(bl, c, &s) != 0)
    return -1;
  char *copy = strdup(s);
  if (copy == NULL)
    return -1;
  free(*dst);
  *dst = copy;
  return 0;
}

/* hbc_double takes the one number value of c. */
static int hbc_double(const hbc_block_t *bl, const hb_cfg_item_t *c,
                      double *out) {
  if (c->n_values != 1 || c->values[0].type != HB_CFG_NUMBER) {
    hb_logf(bl->log, HB_LOG_ERR,
            "<%s \"%s\">: %s needs exactly one number, without quotes",
            bl->kind, bl->name, c->key);
    return -1;
  }
  *out = c->values[0].number;
  return 0;
}

/* hbc_number reads a number > 0 (>= 0 when zero_ok). */
static int hbc_number(const hbc_block_t *bl, const hb_cfg_item_t *c,
                      double *out, bool zero_ok) {
  double v;
  char err[256];
  if (hbc_double(bl, c, &v) != 0)
    return -1;
  if (qf_cfg_number(c->key, v, 0, !zero_ok, INFINITY, err, sizeof(err)) != 0) {
    hb_logf(bl->log, HB_LOG_ERR, "<%s \"%s\">: %s", bl->kind, bl->name, err);
    return -1;
  }
  *out = v;
  return 0;
}

/* hbc_count reads a whole number in [min, max]. */
static int hbc_count(const hbc_block_t *bl, const hb_cfg_item_t *c, int *out,
                     int min, int max) {
  double v;
  long long n;
  char err[256];
  if (hbc_double(bl, c, &v) != 0)
    return -1;
  if (qf_cfg_int(c->key, v, min, max, &n, err, sizeof(err)) != 0) {
    hb_logf(bl->log, HB_LOG_ERR, "<%s \"%s\">: %s", bl->kind, bl->name, err);
    return -1;
  }
  *out = (int)n;
  return 0;
}

/* hbc_boolean reads true or false; like collectd, the strings "true",
 * "yes", "on", "false", "no" and "off" are taken too. */
static int hbc_boolean(const hbc_block_t *bl, const hb_cfg_item_t *c,
                       bool *out) {
  const hb_cfg_value_t *v = c->n_values == 1 ? &c->values[0] : NULL;
  if (v != NULL && v->type == HB_CFG_BOOLEAN) {
    *out = v->boolean;
    return 0;
  }
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  for (size_t i = 0; v != NULL && v->type == HB_CFG_STRING && i < 3; i++)
    if (strcasecmp(v->string, yes[i]) == 0 ||
        strcasecmp(v->string, no[i]) == 0) {
      *out = strcasecmp(v->string, yes[i]) == 0;
      return 0;
    }
  hb_logf(bl->log, HB_LOG_ERR, "<%s \"%s\">: %s needs true or false", bl->kind,
          bl->name, c->key);
  return -1;
}

/* hbc_unknown logs the one message for a key the block does not have. */
static int hbc_unknown(const hbc_block_t *bl, const char *key,
                       const char *const *known) {
  char where[HB_NAME_MAX + 16], err[1024];
  snprintf(where, sizeof(where), "<%s \"%s\">", bl->kind, bl->name);
  qf_cfg_unknown(where, key, known, err, sizeof(err));
  hb_logf(bl->log, HB_LOG_ERR, "%s", err);
  return -1;
}

/* hbc_name_taken tells whether a target of t already has name. */
static bool hbc_name_taken(const hb_targets_t *t, const char *name) {
  for (size_t i = 0; i < t->n_backends; i++)
    if (strcmp(t->backends[i]->name, name) == 0)
      return true;
  for (size_t i = 0; i < t->n_webhooks; i++)
    if (strcmp(t->webhooks[i]->name, name) == 0)
      return true;
  return false;
}

/* hbc_block_name reads a block's single string argument as a valid name
 * no other target has yet. */
static int hbc_block_name(const hb_targets_t *t, const hb_cfg_item_t *ci,
                          const hb_logger_t *log, char **name) {
  if (ci->n_values != 1 || ci->values[0].type != HB_CFG_STRING ||
      !hb_name_valid(ci->values[0].string)) {
    hb_logf(log, HB_LOG_ERR,
            "<%s> needs one name of 1 to %d characters [A-Za-z0-9_.-], "
            "e.g. <%s \"central\">",
            ci->key, HB_NAME_MAX, ci->key);
    return -1;
  }
  if (hbc_name_taken(t, ci->values[0].string)) {
    hb_logf(log, HB_LOG_ERR,
            "<%s \"%s\">: the name is already used by another Backend or "
            "Webhook",
            ci->key, ci->values[0].string);
    return -1;
  }
  *name = strdup(ci->values[0].string);
  return *name == NULL ? -1 : 0;
}

/* hbc_append grows an array of pointers by one. */
static int hbc_append(void ***arr, size_t *n, void *p) {
  void **a = realloc(*arr, (*n + 1) * sizeof(*a));
  if (a == NULL)
    return -1;
  a[(*n)++] = p;
  *arr = a;
  return 0;
}

/* What a <Backend> block says that is not kept in hb_backend_t. */
typedef struct hbc_backend_extra_s {
  const char *key_file;
  int spool_max;
} hbc_backend_extra_t;

/* hbc_backend_replay reads Replay "all" (every spooled heartbeat, oldest
 * first) or "latest" (only the newest; older ones are superseded). */
static int hbc_backend_replay(const hbc_block_t *bl, hb_backend_t *b,
                              const hb_cfg_item_t *c) {
  const char *s;
  if (hbc_string(bl, c, &s) != 0 ||
      (strcasecmp(s, "all") != 0 && strcasecmp(s, "latest") != 0)) {
    hb_logf(bl->log, HB_LOG_ERR,
            "<Backend \"%s\">: Replay must be \"all\" (deliver every "
            "spooled heartbeat, oldest first) or \"latest\" (deliver only "
            "the newest)",
            b->name);
    return -1;
  }
  b->replay_latest = strcasecmp(s, "latest") == 0;
  return 0;
}

/* hbc_backend_tls applies the TLS keys of a <Backend>; 1 when c is none. */
static int hbc_backend_tls(const hbc_block_t *bl, hb_backend_t *b,
                           const hb_cfg_item_t *c) {
  if (strcasecmp("CACert", c->key) == 0)
    return hbc_strdup(bl, c, &b->ca_cert);
  if (strcasecmp("ClientCert", c->key) == 0)
    return hbc_strdup(bl, c, &b->client_cert);
  if (strcasecmp("ClientKey", c->key) == 0)
    return hbc_strdup(bl, c, &b->client_key);
  return 1;
}

/* hbc_backend_option applies one key of a <Backend> block. */
static int hbc_backend_option(const hbc_block_t *bl, hb_backend_t *b,
                              const hb_cfg_item_t *c, hbc_backend_extra_t *x) {
  hb_policy_t *p = &b->policy;
  if (strcasecmp("URL", c->key) == 0)
    return hbc_strdup(bl, c, &b->url);
  if (strcasecmp("APIKey", c->key) == 0)
    return hbc_strdup(bl, c, &b->api_key);
  if (strcasecmp("APIKeyFile", c->key) == 0)
    return hbc_string(bl, c, &x->key_file);
  if (strcasecmp("Timeout", c->key) == 0)
    return hbc_number(bl, c, &b->timeout, false);
  if (strcasecmp("Retries", c->key) == 0)
    return hbc_count(bl, c, &p->retries, 1, 100);
  if (strcasecmp("RetryDelay", c->key) == 0)
    return hbc_number(bl, c, &p->retry_delay, true);
  if (strcasecmp("Compress", c->key) == 0)
    return hbc_boolean(bl, c, &b->compress);
  if (strcasecmp("SpoolMaxBytes", c->key) == 0)
    return hbc_count(bl, c, &x->spool_max, HB_SPOOL_MIN, HB_SPOOL_MAX);
  if (strcasecmp("RequestLimit", c->key) == 0)
    return hbc_count(bl, c, &p->limit, 0, HB_LEARNED_MAX);
  if (strcasecmp("RequestWindow", c->key) == 0)
    return hbc_number(bl, c, &p->window, false);
  if (strcasecmp("RejectedRetryDelay", c->key) == 0)
    return hbc_number(bl, c, &p->reject_delay, false);
  if (strcasecmp("Replay", c->key) == 0)
    return hbc_backend_replay(bl, b, c);
  int status = hbc_backend_tls(bl, b, c);
  if (status <= 0)
    return status;
  static const char *const known[] = {"URL",           "APIKey",
                                      "APIKeyFile",    "Timeout",
                                      "Retries",       "RetryDelay",
                                      "Compress",      "CACert",
                                      "ClientCert",    "ClientKey",
                                      "SpoolMaxBytes", "RequestLimit",
                                      "RequestWindow", "RejectedRetryDelay",
                                      "Replay",        NULL};
  return hbc_unknown(bl, c->key, known);
}

/* hbc_backend_key settles where the API key comes from: APIKey, else
 * APIKeyFile, else the environment; none is allowed (with a warning) for
 * receivers without authentication. */
static int hbc_backend_key(const hbc_block_t *bl, hb_backend_t *b,
                           const char *key_file) {
  char err[512];
  if (b->api_key != NULL && key_file != NULL) {
    hb_logf(bl->log, HB_LOG_ERR,
            "<Backend \"%s\">: APIKey and APIKeyFile are exclusive", b->name);
    return -1;
  }
  if (key_file != NULL &&
      hb_key_file_read(key_file, &b->api_key, err, sizeof(err)) != 0) {
    hb_logf(bl->log, HB_LOG_ERR, "<Backend \"%s\">: %s", b->name, err);
    return -1;
  }
  const char *env = getenv(HB_KEY_ENV);
  if (b->api_key == NULL && env != NULL && env[0] != '\0' &&
      (b->api_key = strdup(env)) == NULL)
    return -1;
  if (b->api_key == NULL) {
    hb_logf(bl->log, HB_LOG_WARNING,
            "<Backend \"%s\">: no APIKey, APIKeyFile or " HB_KEY_ENV
            ": heartbeats go without Authorization, which the QiFlow "
            "backend answers with 401",
            b->name);
    return 0;
  }
  if (hb_key_check(b->api_key, err, sizeof(err)) != 0) {
    hb_logf(bl->log, HB_LOG_ERR, "<Backend \"%s\">: %s", b->name, err);
    return -1;
  }
  return 0;
}

/* hbc_backend_check validates a parsed <Backend> block. */
static int hbc_backend_check(const hbc_block_t *bl, hb_backend_t *b,
                             const hbc_backend_extra_t *x) {
  char err[512];
  if (b->url == NULL) {
    hb_logf(bl->log, HB_LOG_ERR, "<Backend \"%s\">: URL is required", b->name);
    return -1;
  }
  if (hb_url_check(b->url, err, sizeof(err)) != 0) {
    hb_logf(bl->log, HB_LOG_ERR, "<Backend \"%s\">: URL: %s", b->name, err);
    return -1;
  }
  b->spool_max = (size_t)x->spool_max; /* in range: hbc_count */
  qf_http_redact(b->url, b->url_public, sizeof(b->url_public));
  if (hb_url_path_hint(b->url, err, sizeof(err)))
    hb_logf(bl->log, HB_LOG_WARNING, "<Backend \"%s\">: %s", b->name, err);
  return hbc_backend_key(bl, b, x->key_file);
}

int hb_config_backend(hb_targets_t *t, const hb_cfg_item_t *ci,
                      const hb_logger_t *log) {
  hb_backend_t *b = calloc(1, sizeof(*b));
  if (b == NULL || hbc_block_name(t, ci, log, &b->name) != 0) {
    hb_backend_free(b);
    return -1;
  }
  b->timeout = HB_DEFAULT_TIMEOUT;
  b->policy = (hb_policy_t){.retries = HB_DEFAULT_RETRIES,
                            .retry_delay = HB_DEFAULT_RETRY_DELAY,
                            .reject_delay = HB_DEFAULT_REJECTED_DELAY,
                            .max_pause = HB_MAX_PAUSE,
                            .limit = HB_DEFAULT_REQUEST_LIMIT,
                            .window = HB_DEFAULT_REQUEST_WINDOW,
                            .keep_forever = true};
  hbc_block_t bl = {.kind = "Backend", .name = b->name, .log = log};
  hbc_backend_extra_t x = {.key_file = NULL, .spool_max = HB_DEFAULT_SPOOL_MAX};
  int status = 0;
  for (size_t i = 0; i < ci->n_children && status == 0; i++)
    status = hbc_backend_option(&bl, b, &ci->children[i], &x);
  if (status == 0)
    status = hbc_backend_check(&bl, b, &x);
  if (status == 0)
    status = hbc_append((void ***)&t->backends, &t->n_backends, b);
  if (status != 0)
    hb_backend_free(b);
  return status;
}

/* hbc_webhook_enum reads Format or MinSeverity through parse; the message
 * lists what is valid. */
static int hbc_webhook_enum(const hbc_block_t *bl, const hb_cfg_item_t *c,
                            int (*parse)(const char *s, void *out), void *out,
                            const char *valid) {
  const char *s;
  if (hbc_string(bl, c, &s) == 0 && parse(s, out) == 0)
    return 0;
  hb_logf(bl->log, HB_LOG_ERR, "<Webhook \"%s\">: %s must be %s", bl->name,
          c->key, valid);
  return -1;
}

/* hbc_parse_format and hbc_parse_severity fit hbc_webhook_enum. */
static int hbc_parse_format(const char *s, void *out) {
  return hb_format_parse(s, out);
}
static int hbc_parse_severity(const char *s, void *out) {
  return hb_severity_parse(s, out);
}

/* hbc_webhook_option applies one key of a <Webhook> block. */
static int hbc_webhook_option(const hbc_block_t *bl, hb_webhook_t *w,
                              const hb_cfg_item_t *c) {
  if (strcasecmp("URL", c->key) == 0)
    return hbc_strdup(bl, c, &w->url);
  if (strcasecmp("Timeout", c->key) == 0)
    return hbc_number(bl, c, &w->timeout, false);
  if (strcasecmp("Retries", c->key) == 0)
    return hbc_count(bl, c, &w->policy.retries, 1, 100);
  if (strcasecmp("RetryDelay", c->key) == 0)
    return hbc_number(bl, c, &w->policy.retry_delay, true);
  if (strcasecmp("Format", c->key) == 0)
    return hbc_webhook_enum(bl, c, hbc_parse_format, &w->format,
                            "json, discord or slack");
  if (strcasecmp("MinSeverity", c->key) == 0)
    return hbc_webhook_enum(bl, c, hbc_parse_severity, &w->min_severity,
                            "failure or warning");
  static const char *const known[] = {
      "URL", "Timeout", "Retries", "RetryDelay", "Format", "MinSeverity", NULL};
  return hbc_unknown(bl, c->key, known);
}

/* hbc_webhook_check validates a parsed <Webhook> block. */
static int hbc_webhook_check(const hbc_block_t *bl, hb_webhook_t *w) {
  char err[256];
  if (w->url == NULL) {
    hb_logf(bl->log, HB_LOG_ERR, "<Webhook \"%s\">: URL is required", w->name);
    return -1;
  }
  if (hb_url_check(w->url, err, sizeof(err)) != 0) {
    hb_logf(bl->log, HB_LOG_ERR, "<Webhook \"%s\">: URL: %s", w->name, err);
    return -1;
  }
  hb_url_origin(w->url, w->url_public, sizeof(w->url_public));
  return 0;
}

int hb_config_webhook(hb_targets_t *t, const hb_cfg_item_t *ci,
                      const hb_logger_t *log) {
  hb_webhook_t *w = calloc(1, sizeof(*w));
  if (w == NULL || hbc_block_name(t, ci, log, &w->name) != 0) {
    hb_webhook_free(w);
    return -1;
  }
  w->format = HB_FORMAT_JSON;
  w->min_severity = HB_SEV_FAILURE;
  w->timeout = HB_DEFAULT_TIMEOUT;
  w->policy = (hb_policy_t){.retries = HB_DEFAULT_RETRIES,
                            .retry_delay = HB_DEFAULT_RETRY_DELAY,
                            .max_pause = HB_MAX_PAUSE};
  hb_stats_init(&w->st);
  hbc_block_t bl = {.kind = "Webhook", .name = w->name, .log = log};
  int status = 0;
  for (size_t i = 0; i < ci->n_children && status == 0; i++)
    status = hbc_webhook_option(&bl, w, &ci->children[i]);
  if (status == 0)
    status = hbc_webhook_check(&bl, w);
  if (status == 0)
    status = hbc_append((void ***)&t->webhooks, &t->n_webhooks, w);
  if (status != 0)
    hb_webhook_free(w);
  return status;
}

void hb_targets_free(hb_targets_t *t) {
  for (size_t i = 0; i < t->n_backends; i++)
    hb_backend_free(t->backends[i]);
  for (size_t i = 0; i < t->n_webhooks; i++)
    hb_webhook_free(t->webhooks[i]);
  free(t->backends);
  free(t->webhooks);
  *t = (hb_targets_t){0};
}
