/* heartbeat_webhook.c: a <Webhook> target: its queue, its messages and
 * its delivery step (see the header). */
#include "heartbeat_webhook.h"

#include "qf_buf.h"
#include "qf_http.h"
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Discord embed colours (decimal RGB) and Slack attachment colours. */
#define HBW_DISCORD_RED 15158332
#define HBW_DISCORD_AMBER 15105570
#define HBW_DISCORD_GREEN 3066993

int hb_format_parse(const char *s, hb_format_t *out) {
  static const hb_format_t all[] = {HB_FORMAT_JSON, HB_FORMAT_DISCORD,
                                    HB_FORMAT_SLACK};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (strcasecmp(s, hb_format_name(all[i])) == 0) {
      *out = all[i];
      return 0;
    }
  return -EINVAL;
}

const char *hb_format_name(hb_format_t f) {
  switch (f) {
  case HB_FORMAT_DISCORD:
    return "discord";
  case HB_FORMAT_SLACK:
    return "slack";
  case HB_FORMAT_JSON:
    break;
  }
  return "json";
}

int hb_severity_parse(const char *s, int *out) {
  if (strcasecmp(s, "failure") == 0)
    *out = HB_SEV_FAILURE;
  else if (strcasecmp(s, "warning") == 0)
    *out = HB_SEV_WARNING;
  else
    return -EINVAL;
  return 0;
}

const char *hb_severity_name(int severity) {
  switch (severity) {
  case HB_SEV_FAILURE:
    return "FAILURE";
  case HB_SEV_WARNING:
    return "WARNING";
  case HB_SEV_OKAY:
    return "OKAY";
  default:
    return "UNKNOWN";
  }
}

bool hb_severity_passes(int severity, int min) {
  if (severity != HB_SEV_FAILURE && severity != HB_SEV_WARNING)
    return false;
  return severity <= min;
}

/* hbw_repair_field makes one field valid UTF-8 on one line. */
static void hbw_repair_field(char *s) {
  for (char *p = s; *p; p++)
    if ((unsigned char)*p < 0x20)
      *p = ' ';
  qf_json_utf8_repair(s);
}

void hb_note_repair(hb_note_t *n) {
  char *fields[] = {n->host, n->plugin,        n->plugin_instance,
                    n->type, n->type_instance, n->message};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    hbw_repair_field(fields[i]);
}

/* hbw_source writes "plugin[-instance]/type[-instance]" of n. */
static void hbw_source(const hb_note_t *n, char *out, size_t outlen) {
  snprintf(out, outlen, "%s%s%s%s%s%s%s", n->plugin,
           n->plugin_instance[0] ? "-" : "", n->plugin_instance,
           n->type[0] ? "/" : "", n->type, n->type_instance[0] ? "-" : "",
           n->type_instance);
}

/* hbw_summary is the one-line text chat formats show first. */
static void hbw_summary(const hb_note_t *n, const char *swarm_id, char *out,
                        size_t outlen) {
  snprintf(out, outlen, "%s on %s (swarm %s): %s",
           hb_severity_name(n->severity), n->host, swarm_id, n->message);
}

static void hbw_json(qf_jw_t *w, const hb_note_t *n, const char *swarm_id,
                     const char *when) {
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "swarm_id", swarm_id);
  qf_jw_kstr(w, "severity", hb_severity_name(n->severity));
  qf_jw_kstr(w, "time", when);
  qf_jw_kstr(w, "host", n->host);
  qf_jw_kstr(w, "plugin", n->plugin);
  qf_jw_kstr(w, "plugin_instance", n->plugin_instance);
  qf_jw_kstr(w, "type", n->type);
  qf_jw_kstr(w, "type_instance", n->type_instance);
  qf_jw_kstr(w, "message", n->message);
  qf_jw_obj_close(w);
}

/* How a chat service shapes a field: {<name>: title, "value": value,
 * <flag>: true}; Discord refuses empty field values, so they are left out. */
typedef struct hbw_shape_s {
  const char *name, *flag;
  bool skip_empty;
} hbw_shape_t;

static const hbw_shape_t hbw_discord_shape = {"name", "inline", true};
static const hbw_shape_t hbw_slack_shape = {"title", "short", false};

/* hbw_fields writes "fields": the swarm, the host and the source, in the
 * service's shape s. */
static void hbw_fields(qf_jw_t *w, const hbw_shape_t *s, const char *swarm_id,
                       const char *host, const char *source) {
  const char *title[] = {"Swarm", "Host", "Source"};
  const char *value[] = {swarm_id, host, source};
  qf_jw_key(w, "fields");
  qf_jw_arr_open(w);
  for (int i = 0; i < 3; i++) {
    if (s->skip_empty && value[i][0] == '\0')
      continue;
    qf_jw_obj_open(w);
    qf_jw_kstr(w, s->name, title[i]);
    qf_jw_kstr(w, "value", value[i]);
    qf_jw_kbool(w, s->flag, true);
    qf_jw_obj_close(w);
  }
  qf_jw_arr_close(w);
}

static void hbw_discord(qf_jw_t *w, const hb_note_t *n, const char *swarm_id,
                        const char *when) {
  char summary[600], source[600];
  hbw_summary(n, swarm_id, summary, sizeof(summary));
  hbw_source(n, source, sizeof(source));
  int color = n->severity == HB_SEV_FAILURE   ? HBW_DISCORD_RED
              : n->severity == HB_SEV_WARNING ? HBW_DISCORD_AMBER
                                              : HBW_DISCORD_GREEN;
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "username", "QiFlow");
  qf_jw_kstr(w, "content", summary);
  qf_jw_key(w, "embeds"); /* BEGIN embeds */
  qf_jw_arr_open(w);
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "title", hb_severity_name(n->severity));
  qf_jw_kstr(w, "description", n->message[0] ? n->message : "(no message)");
  qf_jw_kint(w, "color", color);
  qf_jw_kstr(w, "timestamp", when);
  hbw_fields(w, &hbw_discord_shape, swarm_id, n->host, source);
  qf_jw_obj_close(w);
  qf_jw_arr_close(w); /* END embeds */
  qf_jw_obj_close(w);
}

static void hbw_slack(qf_jw_t *w, const hb_note_t *n, const char *swarm_id) {
  char summary[600], source[600];
  hbw_summary(n, swarm_id, summary, sizeof(summary));
  hbw_source(n, source, sizeof(source));
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "text", summary);
  qf_jw_key(w, "attachments"); /* BEGIN attachments */
  qf_jw_arr_open(w);
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "color",
             n->severity == HB_SEV_FAILURE   ? "danger"
             : n->severity == HB_SEV_WARNING ? "warning"
                                             : "good");
  qf_jw_kstr(w, "title", hb_severity_name(n->severity));
  qf_jw_kstr(w, "text", n->message);
  qf_jw_kint(w, "ts", (long long)floor(n->time));
  hbw_fields(w, &hbw_slack_shape, swarm_id, n->host, source);
  qf_jw_obj_close(w);
  qf_jw_arr_close(w); /* END attachments */
  qf_jw_obj_close(w);
}

int hb_webhook_render(hb_format_t f, const hb_note_t *n, const char *swarm_id,
                      char **out, size_t *len) {
  char when[QF_TIME_ISO_LEN];
  if (qf_time_format((time_t)floor(n->time), when, sizeof(when)) != 0)
    return -EINVAL;
  qf_jw_t w;
  int status = qf_jw_init(&w);
  if (status != 0)
    return status;
  if (f == HB_FORMAT_DISCORD)
    hbw_discord(&w, n, swarm_id, when);
  else if (f == HB_FORMAT_SLACK)
    hbw_slack(&w, n, swarm_id);
  else
    hbw_json(&w, n, swarm_id, when);
  status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}

/* ------------------------------------- the queue and the delivery step */

bool hb_webhook_push(hb_webhook_t *w, const hb_note_t *n) {
  bool dropped = false;
  if (w->qcount == HB_WEBHOOK_QUEUE) {
    w->qhead = (w->qhead + 1) % HB_WEBHOOK_QUEUE;
    w->qcount--;
    w->st.dropped++;
    dropped = true;
  }
  size_t i = (w->qhead + w->qcount++) % HB_WEBHOOK_QUEUE;
  w->queue[i] = *n;
  hb_note_repair(&w->queue[i]);
  w->seqs[i] = ++w->next_seq;
  return dropped;
}

bool hb_webhook_peek(const hb_webhook_t *w, hb_note_t *n,
                     unsigned long long *seq) {
  if (w->qcount == 0)
    return false;
  *n = w->queue[w->qhead];
  *seq = w->seqs[w->qhead];
  return true;
}

void hb_webhook_pop(hb_webhook_t *w, unsigned long long seq) {
  if (w->qcount == 0 || w->seqs[w->qhead] != seq)
    return; /* already pushed out by a full queue */
  w->qhead = (w->qhead + 1) % HB_WEBHOOK_QUEUE;
  w->qcount--;
}

/* hbw_post renders and POSTs one note. */
static int hbw_post(hb_webhook_t *w, const hb_env_t *env, const hb_note_t *n,
                    qf_http_response_t *resp) {
  char *body = NULL;
  size_t len = 0;
  int status = hb_webhook_render(w->format, n, env->swarm_id, &body, &len);
  if (status != 0) {
    qf_strcpy(resp->error, sizeof(resp->error), "cannot render the message");
    return status;
  }
  static const char *const hdrs[] = {"Content-Type: application/json", NULL};
  qf_http_request_t req = {.method = "POST",
                           .url = w->url,
                           .headers = hdrs,
                           .body = body,
                           .body_len = len,
                           .timeout_ms = (long)(w->timeout * 1000.0),
                           .max_body = (size_t)64 * 1024,
                           .abort_cb = env->abort_cb,
                           .abort_ud = env->abort_ud};
  status = qf_http_perform(env->http, &req, resp);
  free(body);
  return status;
}

hb_verdict_t hb_webhook_send(hb_webhook_t *w, const hb_env_t *env,
                             const hb_note_t *n, double now) {
  hb_deliver_started(&w->dl, now);
  w->st.last_attempt = time(NULL);
  qf_http_response_t resp = {0};
  int rc = hbw_post(w, env, n, &resp);
  char text[HB_ERROR_MAX - 32]; /* room for the status in last_error */
  if (rc != 0)
    qf_strcpy(text, sizeof(text), resp.error);
  else
    hb_error_text(resp.body.data, resp.body.len, text, sizeof(text));
  hb_class_t c = rc == -ECANCELED ? HB_CLASS_CANCELED
                 : rc != 0        ? HB_CLASS_RETRY
                                  : hb_classify(resp.status, text);
  if (rc == 0) {
    w->st.last_status = resp.status;
    w->st.last_latency_ms = resp.seconds * 1000.0;
  }
  hb_verdict_t v = hb_deliver_answer(&w->dl, now + resp.seconds, c,
                                     resp.retry_after, resp.rl_policy);
  if (v == HB_DONE) {
    w->st.sent++;
    w->st.last_success = time(NULL);
    w->st.last_error[0] = '\0';
  } else if (c != HB_CLASS_CANCELED) {
    w->st.failed++;
    if (rc != 0)
      qf_strcpy(w->st.last_error, sizeof(w->st.last_error), text);
    else
      snprintf(w->st.last_error, sizeof(w->st.last_error), "%ld \"%s\"",
               resp.status, text);
    hb_logf(&env->log, v == HB_DROP ? HB_LOG_ERR : HB_LOG_WARNING,
            "webhook %s: %s notification not delivered (%s)%s", w->name,
            hb_severity_name(n->severity), w->st.last_error,
            v == HB_DROP ? "; given up" : "; retrying");
  }
  qf_http_response_free(&resp);
  return v;
}

void hb_webhook_free(hb_webhook_t *w) {
  if (w == NULL)
    return;
  hb_deliver_free(&w->dl);
  free(w->name);
  free(w->url);
  free(w);
}
