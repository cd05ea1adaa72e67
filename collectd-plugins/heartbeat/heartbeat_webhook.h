/* heartbeat_webhook.h: a <Webhook> target: its bounded queue of
 * collectd notifications (shared with collectd's notification threads),
 * their messages in the generic JSON, Discord or Slack shape, and its
 * delivery step. Free of collectd symbols. */
#ifndef HEARTBEAT_WEBHOOK_H
#define HEARTBEAT_WEBHOOK_H

#include "heartbeat_deliver.h"
#include "heartbeat_target.h"

#include <stdbool.h>
#include <stddef.h>

/* collectd's severities (NOTIF_FAILURE, NOTIF_WARNING, NOTIF_OKAY). */
#define HB_SEV_FAILURE 1
#define HB_SEV_WARNING 2
#define HB_SEV_OKAY 4

#define HB_NOTE_FIELD 128
#define HB_NOTE_MESSAGE 256
#define HB_WEBHOOK_QUEUE 64 /* notifications waiting per webhook */

/* A copy of one notification, independent of collectd's struct. */
typedef struct hb_note_s {
  int severity;
  double time; /* epoch seconds */
  char host[HB_NOTE_FIELD], plugin[HB_NOTE_FIELD],
      plugin_instance[HB_NOTE_FIELD], type[HB_NOTE_FIELD],
      type_instance[HB_NOTE_FIELD];
  char message[HB_NOTE_MESSAGE];
} hb_note_t;

typedef enum hb_format_e {
  HB_FORMAT_JSON,
  HB_FORMAT_DISCORD,
  HB_FORMAT_SLACK
} hb_format_t;

/* hb_format_parse reads "json", "discord" or "slack" (any case). */
int hb_format_parse(const char *s, hb_format_t *out);
const char *hb_format_name(hb_format_t f);

/* hb_severity_parse reads "failure" or "warning" (any case): the
 * MinSeverity values. -EINVAL otherwise. */
int hb_severity_parse(const char *s, int *out);
/* hb_severity_name is "FAILURE", "WARNING", "OKAY" or "UNKNOWN". */
const char *hb_severity_name(int severity);
/* hb_severity_passes tells whether a notification of severity reaches a
 * webhook whose MinSeverity is min (FAILURE is the most severe). */
bool hb_severity_passes(int severity, int min);

/* hb_note_repair makes every text field valid one-line UTF-8 (collectd
 * does not promise either). */
void hb_note_repair(hb_note_t *n);

/* hb_webhook_render writes the message for n into a new buffer the caller
 * frees. 0 or a negative errno. */
int hb_webhook_render(hb_format_t f, const hb_note_t *n, const char *swarm_id,
                      char **out, size_t *len);

/* --- the target --- */

typedef struct hb_webhook_s {
  char *name, *url;
  char url_public[HB_URL_MAX];
  hb_format_t format;
  int min_severity;
  double timeout;
  hb_policy_t policy;
  hb_deliver_t dl;
  hb_stats_t st;
  /* The queue is shared with collectd's notification threads: the glue
   * holds its lock around hb_webhook_push/peek/pop. seq tells the sender
   * whether the note it sent is still the oldest (a full queue drops it). */
  hb_note_t queue[HB_WEBHOOK_QUEUE];
  unsigned long long seqs[HB_WEBHOOK_QUEUE];
  size_t qhead, qcount;
  unsigned long long next_seq;
} hb_webhook_t;

/* hb_webhook_push queues a copy of n; when full the oldest is dropped
 * (counted). Returns true when one was dropped. Caller holds the lock. */
bool hb_webhook_push(hb_webhook_t *w, const hb_note_t *n);
/* hb_webhook_peek copies the oldest note and its seq; false when empty.
 * Caller holds the lock. */
bool hb_webhook_peek(const hb_webhook_t *w, hb_note_t *n,
                     unsigned long long *seq);
/* hb_webhook_pop removes the oldest note if it is still seq. Caller holds
 * the lock. */
void hb_webhook_pop(hb_webhook_t *w, unsigned long long seq);

/* hb_webhook_send sends one note (outside the lock) and returns the
 * verdict for it. */
hb_verdict_t hb_webhook_send(hb_webhook_t *w, const hb_env_t *env,
                             const hb_note_t *n, double now);
/* hb_webhook_free frees w and its configuration (NULL: nothing). */
void hb_webhook_free(hb_webhook_t *w);

#endif
