/* heartbeat_deliver.h: when to send, and what an answer means.
 *
 * One hb_deliver_t per backend or webhook decides, from the clock and the
 * answers so far, when the next request may start; it never sleeps and
 * never performs I/O, so every decision is unit-tested with a fake clock.
 *
 * - 2xx: delivered; the next record goes at once (within the rate limit).
 * - transport error, timeout, 408, 5xx: retried after RetryDelay (or the
 *   Retry-After given) until Retries attempts failed; then the backend is
 *   down and is probed once per probe_delay (the heartbeat Interval).
 * - 429: not an attempt that counts; the backend is paused for Retry-After
 *   (at most max_pause), and a RateLimit-Policy it names ("100;w=900")
 *   becomes a second limit, so replay paces itself below it from then on.
 * - 401, 403, 404 and other 4xx: the backend refuses; retrying at once
 *   would fail again, so the record waits reject_delay and is tried again
 *   (fixing the key or registering the swarm later loses nothing). A 404
 *   "Swarm not found" waits only probe_delay (the Interval) when shorter:
 *   registration is noticed within about one interval.
 * - undeliverable (the caller's judgement, from the answer and the record:
 *   see hb_record_class): the record is set aside and the next one goes
 *   at once, so a record the backend will never take holds nothing back.
 * Webhooks (keep_forever false) drop a record instead of waiting when it is
 * refused or its retries are spent. */
#ifndef HEARTBEAT_DELIVER_H
#define HEARTBEAT_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#define HB_MAX_PAUSE 900.0 /* the backend's window: 15 minutes */
#define HB_LEARNED_MAX                                                         \
  100000 /* bound on a limit read from RateLimit-Policy                        \
          */

/* What one answer means. */
typedef enum hb_class_e {
  HB_CLASS_OK,           /* 2xx */
  HB_CLASS_RETRY,        /* no answer, timeout, 408, 5xx */
  HB_CLASS_RATE_LIMITED, /* 429 */
  HB_CLASS_BAD_REQUEST,  /* 400: the backend says the body is wrong */
  HB_CLASS_AUTH,         /* 401 or 403: the API key */
  HB_CLASS_UNREGISTERED, /* 404 "Swarm not found": register the swarm */
  HB_CLASS_WRONG_PATH,   /* 404 otherwise: the URL's path is wrong */
  HB_CLASS_REFUSED,      /* any other 4xx */
  HB_CLASS_CANCELED,     /* we stopped the request ourselves */
  HB_CLASS_UNDELIVERABLE /* refused for the record itself: set it aside */
} hb_class_t;

/* hb_classify maps an HTTP status (0: no answer) and the body's error text
 * to a class. */
hb_class_t hb_classify(long status, const char *error_text);

/* hb_record_class refines the class c of a backend's answer to a spooled
 * heartbeat: HB_CLASS_UNDELIVERABLE when the refusal is about this record
 * and would repeat for it forever, while the records behind it may pass:
 * - 400: the body itself is refused;
 * - 404 "Swarm not found" for a record whose swarm_id (rec_swarm) is not
 *   the current swarm id (the operator changed SwarmID since);
 * - 500 "Failed to process heartbeat" on the record's last attempt
 *   (last_attempt true) when the record's status (rec_status) is not one
 *   the backend's database takes (online, offline, degraded).
 * Everything else (auth, a wrong path, the current swarm unregistered, an
 * outage) is the backend's or the configuration's and concerns every
 * record alike: c unchanged. */
hb_class_t hb_record_class(hb_class_t c, long status, const char *error_text,
                           const char *rec_swarm, const char *rec_status,
                           const char *swarm_id, bool last_attempt);

/* hb_error_text extracts a one-line reason from a response body: the JSON
 * "error" (or "message") string, else the body's first printable bytes.
 * Never longer than outlen - 1; control characters become spaces. */
void hb_error_text(const char *body, size_t len, char *out, size_t outlen);

/* hb_redact_secret replaces every occurrence of secret in s (in place) with
 * "[redacted]" when it fits, else with '*'. No-op for NULL or "". */
void hb_redact_secret(char *s, size_t size, const char *secret);

/* hb_parse_policy reads a RateLimit-Policy value ("100;w=900", the first
 * policy of a list); 0, or -EINVAL when it names no limit and window. */
int hb_parse_policy(const char *value, int *limit, double *window);

typedef struct hb_policy_s {
  int retries;          /* attempts per record before the target is down */
  double retry_delay;   /* seconds between those attempts */
  double probe_delay;   /* seconds between probes of a down target */
  double reject_delay;  /* seconds before a refused record is tried again */
  double max_pause;     /* cap on Retry-After */
  int limit;            /* at most limit requests in any window seconds; */
  double window;        /* limit 0: no rate limit */
  bool keep_forever;    /* backends: never drop a record for failing */
  double live_interval; /* backends: seconds between live heartbeats */
} hb_policy_t;

/* The times of the latest requests, newest last, for sliding windows. */
typedef struct hb_window_s {
  double *t;
  size_t cap, n, first;
} hb_window_t;

typedef enum hb_mode_e {
  HB_MODE_OK,       /* the last answer was a success (or none yet) */
  HB_MODE_RETRYING, /* transient failures, within Retries */
  HB_MODE_DOWN,     /* Retries spent: probing once per probe_delay */
  HB_MODE_PAUSED,   /* 429: waiting out Retry-After */
  HB_MODE_REFUSED   /* 4xx: waiting reject_delay */
} hb_mode_t;

typedef struct hb_deliver_s {
  hb_policy_t p;
  hb_mode_t mode;
  int attempts;      /* failed attempts of the current record */
  double not_before; /* no request before this time */
  hb_window_t win;
  int learned_limit; /* from RateLimit-Policy; 0: none */
  double learned_window;
  double spacing; /* seconds at least between two requests; 0: none */
} hb_deliver_t;

/* What to do with the record after an answer. */
typedef enum hb_verdict_e {
  HB_DONE,     /* delivered: remove it */
  HB_KEEP,     /* keep it and try again at hb_deliver_ready_at */
  HB_DROP,     /* give it up (webhooks only) */
  HB_SET_ASIDE /* undeliverable: keep it apart, go on with the next */
} hb_verdict_t;

const char *hb_mode_name(hb_mode_t m);

int hb_deliver_init(hb_deliver_t *d, const hb_policy_t *p);
void hb_deliver_free(hb_deliver_t *d);

/* hb_deliver_ready_at is the earliest time the next request may start:
 * after not_before and within every rate limit. */
double hb_deliver_ready_at(const hb_deliver_t *d, double now);

/* hb_deliver_started records that a request started at now. */
void hb_deliver_started(hb_deliver_t *d, double now);

/* hb_deliver_answer updates the state for an answer of class c that
 * arrived at now. retry_after is the header's seconds (-1: none); policy
 * the RateLimit-Policy header ("" or NULL: none). */
hb_verdict_t hb_deliver_answer(hb_deliver_t *d, double now, hb_class_t c,
                               long retry_after, const char *policy);

/* hb_deliver_learn takes a RateLimit-Policy the backend announced (limit
 * requests per window seconds) as a second limit. 0, or -EINVAL when the
 * limit is not in 1..HB_LEARNED_MAX or the window not a number > 0
 * (d unchanged), -ENOMEM. */
int hb_deliver_learn(hb_deliver_t *d, int limit, double window);

/* hb_deliver_span is how far back the limits look: the configured window,
 * or the learned one (with its slack) when longer. Request times older
 * than this no longer matter. */
double hb_deliver_span(const hb_deliver_t *d);

/* hb_deliver_window_count is how many recorded requests started after
 * now - window (for tests and the snapshot). */
size_t hb_deliver_window_count(const hb_deliver_t *d, double now,
                               double window);

#endif
