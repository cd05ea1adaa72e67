/* heartbeat_deliver.c: when to send, and what an answer means (see the
 * header for the rules). */
#include "heartbeat_deliver.h"

#include "qf_json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HBD_DEFAULT_PAUSE 60.0 /* 429 without Retry-After */
#define HBD_LEARNED_SLACK 1.0  /* seconds added to a learned window */

const char *hb_mode_name(hb_mode_t m) {
  switch (m) {
  case HB_MODE_OK:
    return "ok";
  case HB_MODE_RETRYING:
    return "retrying";
  case HB_MODE_DOWN:
    return "down";
  case HB_MODE_PAUSED:
    return "paused";
  case HB_MODE_REFUSED:
    break;
  }
  return "refused";
}

hb_class_t hb_classify(long status, const char *error_text) {
  if (status >= 200 && status < 300)
    return HB_CLASS_OK;
  if (status == 0 || status == 408 || status >= 500)
    return HB_CLASS_RETRY;
  if (status == 429)
    return HB_CLASS_RATE_LIMITED;
  if (status == 400)
    return HB_CLASS_BAD_REQUEST;
  if (status == 401 || status == 403)
    return HB_CLASS_AUTH;
  if (status == 404)
    return error_text != NULL && strcasestr(error_text, "swarm not found")
               ? HB_CLASS_UNREGISTERED
               : HB_CLASS_WRONG_PATH;
  return HB_CLASS_REFUSED;
}

hb_class_t hb_record_class(hb_class_t c, long status, const char *error_text,
                           const char *rec_swarm, const char *rec_status,
                           const char *swarm_id, bool last_attempt) {
  if (c == HB_CLASS_BAD_REQUEST)
    return HB_CLASS_UNDELIVERABLE;
  /* A record whose own id cannot be read ("") is taken as the current
   * swarm's: held, not set aside on a guess. */
  if (c == HB_CLASS_UNREGISTERED && rec_swarm != NULL && rec_swarm[0] != '\0' &&
      swarm_id != NULL && strcmp(rec_swarm, swarm_id) != 0)
    return HB_CLASS_UNDELIVERABLE;
  bool known = rec_status != NULL && (strcmp(rec_status, "online") == 0 ||
                                      strcmp(rec_status, "offline") == 0 ||
                                      strcmp(rec_status, "degraded") == 0);
  if (c == HB_CLASS_RETRY && status == 500 && last_attempt && !known &&
      error_text != NULL &&
      strcasestr(error_text, "failed to process heartbeat") != NULL)
    return HB_CLASS_UNDELIVERABLE;
  return c;
}

/* hbd_oneline copies at most outlen-1 bytes of s, control characters as
 * spaces. */
static void hbd_oneline(const char *s, size_t len, char *out, size_t outlen) {
  size_t n = 0;
  for (size_t i = 0; i < len && s[i] != '\0' && n + 1 < outlen; i++)
    out[n++] = iscntrl((unsigned char)s[i]) ? ' ' : s[i];
  while (n > 0 && out[n - 1] == ' ')
    n--;
  out[n] = '\0';
}

void hb_error_text(const char *body, size_t len, char *out, size_t outlen) {
  if (outlen == 0)
    return;
  out[0] = '\0';
  if (body == NULL || len == 0)
    return;
  yajl_val doc = qf_json_parse(body, NULL, 0);
  const char *msg = qf_json_get_str(doc, "error");
  if (msg == NULL)
    msg = qf_json_get_str(doc, "message");
  if (msg != NULL)
    hbd_oneline(msg, strlen(msg), out, outlen);
  else
    hbd_oneline(body, len, out, outlen);
  if (doc != NULL)
    yajl_tree_free(doc);
}

void hb_redact_secret(char *s, size_t size, const char *secret) {
  static const char mark[] = "[redacted]";
  if (s == NULL || secret == NULL || secret[0] == '\0')
    return;
  size_t klen = strlen(secret);
  char *p;
  while ((p = strstr(s, secret)) != NULL) {
    size_t tail = strlen(p + klen) + 1;
    if (strlen(s) - klen + sizeof(mark) - 1 < size) {
      memmove(p + sizeof(mark) - 1, p + klen, tail);
      memcpy(p, mark, sizeof(mark) - 1);
    } else {
      memset(p, '*', klen);
    }
  }
}

/* hbd_param finds ";name=" in [p, end) and reads its number. */
static int hbd_param(const char *p, const char *end, const char *name,
                     double *out) {
  size_t nlen = strlen(name);
  for (const char *q = p; q < end; q++) {
    if (*q != ';')
      continue;
    const char *k = q + 1;
    while (k < end && *k == ' ')
      k++;
    if ((size_t)(end - k) > nlen && strncasecmp(k, name, nlen) == 0 &&
        k[nlen] == '=') {
      char *stop;
      double v = strtod(k + nlen + 1, &stop);
      if (stop != k + nlen + 1 && isfinite(v)) {
        *out = v;
        return 0;
      }
    }
  }
  return -EINVAL;
}

int hb_parse_policy(const char *value, int *limit, double *window) {
  if (value == NULL)
    return -EINVAL;
  const char *end = value + strcspn(value, ",");
  double q = -1, w = -1;
  char *stop;
  double lead = strtod(value, &stop);
  if (stop != value && (stop == end || *stop == ';' || *stop == ' '))
    q = lead;                                   /* "100;w=900" */
  else if (hbd_param(value, end, "q", &q) != 0) /* "name";q=100;w=900 */
    return -EINVAL;
  if (hbd_param(value, end, "w", &w) != 0 || q < 1 || w <= 0 ||
      q > HB_LEARNED_MAX)
    return -EINVAL;
  *limit = (int)q;
  *window = w;
  return 0;
}

/* hbd_window_grow makes room for the newest cap request times. */
static int hbd_window_grow(hb_window_t *w, size_t cap) {
  if (cap <= w->cap)
    return 0;
  double *t = malloc(cap * sizeof(*t));
  if (t == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < w->n; i++)
    t[i] = w->t[(w->first + i) % w->cap];
  free(w->t);
  w->t = t;
  w->cap = cap;
  w->first = 0;
  return 0;
}

int hb_deliver_init(hb_deliver_t *d, const hb_policy_t *p) {
  memset(d, 0, sizeof(*d));
  d->p = *p;
  if (d->p.retries < 1)
    d->p.retries = 1;
  return hbd_window_grow(&d->win, p->limit > 0 ? (size_t)p->limit : 1);
}

void hb_deliver_free(hb_deliver_t *d) {
  free(d->win.t);
  memset(d, 0, sizeof(*d));
}

/* hbd_nth_newest is the start time of the k-th newest request (k >= 1). */
static double hbd_nth_newest(const hb_window_t *w, size_t k) {
  return w->t[(w->first + w->n - k) % w->cap];
}

/* hbd_limit_ready is when a request fits "limit in any window seconds". */
static double hbd_limit_ready(const hb_window_t *w, int limit, double window) {
  if (limit <= 0 || w->n < (size_t)limit)
    return 0.0;
  return hbd_nth_newest(w, (size_t)limit) + window;
}

double hb_deliver_ready_at(const hb_deliver_t *d, double now) {
  double t = fmax(now, d->not_before);
  t = fmax(t, hbd_limit_ready(&d->win, d->p.limit, d->p.window));
  if (d->learned_limit > 0)
    t = fmax(t, hbd_limit_ready(&d->win, d->learned_limit,
                                d->learned_window + HBD_LEARNED_SLACK));
  if (d->spacing > 0.0 && d->win.n > 0)
    t = fmax(t, hbd_nth_newest(&d->win, 1) + d->spacing);
  return t;
}

void hb_deliver_started(hb_deliver_t *d, double now) {
  hb_window_t *w = &d->win;
  if (w->n < w->cap) {
    w->t[(w->first + w->n++) % w->cap] = now;
  } else {
    w->t[w->first] = now; /* overwrite the oldest */
    w->first = (w->first + 1) % w->cap;
  }
}

size_t hb_deliver_window_count(const hb_deliver_t *d, double now,
                               double window) {
  size_t n = 0;
  for (size_t k = 1; k <= d->win.n; k++)
    if (hbd_nth_newest(&d->win, k) > now - window)
      n++;
  return n;
}

int hb_deliver_learn(hb_deliver_t *d, int limit, double window) {
  if (limit < 1 || limit > HB_LEARNED_MAX || !isfinite(window) || window <= 0.0)
    return -EINVAL;
  if (hbd_window_grow(&d->win, (size_t)limit) != 0)
    return -ENOMEM;
  d->learned_limit = limit;
  d->learned_window = window;
  return 0;
}

double hb_deliver_span(const hb_deliver_t *d) {
  double span = d->p.window;
  if (d->learned_limit > 0)
    span = fmax(span, d->learned_window + HBD_LEARNED_SLACK);
  return span;
}

/* hbd_pause waits out a 429: Retry-After (capped), else the learned window
 * or a minute; a policy named in the answer becomes a limit. */
static void hbd_pause(hb_deliver_t *d, double now, long retry_after,
                      const char *policy) {
  int limit;
  double window;
  if (hb_parse_policy(policy, &limit, &window) == 0)
    hb_deliver_learn(d, limit, window);
  double pause = retry_after >= 0       ? (double)retry_after
                 : d->learned_limit > 0 ? d->learned_window
                                        : HBD_DEFAULT_PAUSE;
  pause = fmin(fmax(pause, 1.0), d->p.max_pause);
  d->mode = HB_MODE_PAUSED;
  d->not_before = now + pause;
}

/* hbd_retry handles a transient failure. */
static hb_verdict_t hbd_retry(hb_deliver_t *d, double now, long retry_after) {
  double asked =
      retry_after >= 0 ? fmin((double)retry_after, d->p.max_pause) : 0.0;
  d->attempts++;
  if (d->attempts < d->p.retries) {
    d->mode = HB_MODE_RETRYING;
    d->not_before = now + (retry_after >= 0 ? asked : d->p.retry_delay);
    return HB_KEEP;
  }
  if (!d->p.keep_forever) {
    d->attempts = 0;
    d->mode = HB_MODE_DOWN;
    d->not_before = now + fmax(d->p.retry_delay, asked);
    return HB_DROP;
  }
  d->mode = HB_MODE_DOWN;
  d->not_before = now + fmax(d->p.probe_delay, asked);
  return HB_KEEP;
}

hb_verdict_t hb_deliver_answer(hb_deliver_t *d, double now, hb_class_t c,
                               long retry_after, const char *policy) {
  switch (c) {
  case HB_CLASS_OK:
    d->mode = HB_MODE_OK;
    d->attempts = 0;
    d->not_before = now;
    return HB_DONE;
  case HB_CLASS_RETRY:
    return hbd_retry(d, now, retry_after);
  case HB_CLASS_RATE_LIMITED:
    hbd_pause(d, now, retry_after, policy);
    return HB_KEEP;
  case HB_CLASS_CANCELED:
    return HB_KEEP;
  case HB_CLASS_UNDELIVERABLE:
    d->mode = HB_MODE_OK;
    d->attempts = 0;
    d->not_before = now;
    return d->p.keep_forever ? HB_SET_ASIDE : HB_DROP;
  default:
    break;
  }
  d->attempts = 0;
  if (!d->p.keep_forever) {
    d->mode = HB_MODE_OK;
    d->not_before = now;
    return HB_DROP;
  }
  d->mode = HB_MODE_REFUSED;
  /* An unregistered swarm is registered by hand at any moment: look again
   * once per probe_delay (the heartbeat Interval), so registration is
   * noticed within about one interval at one request per interval. */
  double wait = c == HB_CLASS_UNREGISTERED && d->p.probe_delay > 0.0
                    ? fmin(d->p.probe_delay, d->p.reject_delay)
                    : d->p.reject_delay;
  d->not_before = now + wait;
  return HB_KEEP;
}
