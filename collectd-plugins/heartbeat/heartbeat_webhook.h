/* heartbeat_webhook.h: collectd notifications as webhook messages in the
 * generic JSON, Discord or Slack shape. */
#ifndef HEARTBEAT_WEBHOOK_H
#define HEARTBEAT_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

/* collectd's severities (NOTIF_FAILURE, NOTIF_WARNING, NOTIF_OKAY). */
#define HB_SEV_FAILURE 1
#define HB_SEV_WARNING 2
#define HB_SEV_OKAY 4

#define HB_NOTE_FIELD 128
#define HB_NOTE_MESSAGE 256

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

#endif
