/* heartbeat_snapshot.c: the heartbeat.json snapshot the exporter publishes
 * under /agent/status. */
#include "heartbeat_snapshot.h"

#include "qf_json.h"
#include "qf_snapshot.h"

#include <math.h>

/* hbst_kerror writes key: text, or null when text is empty. */
static void hbst_kerror(qf_jw_t *w, const char *key, const char *text) {
  if (text[0] == '\0')
    qf_jw_knull(w, key);
  else
    qf_jw_kstr(w, key, text);
}

static void hbst_backend(qf_jw_t *w, const hb_backend_t *b) {
  const hb_stats_t *st = &b->st;
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "name", b->name);
  qf_jw_kstr(w, "url", b->url_public);
  qf_jw_ktime(w, "last_success", st->last_success);
  qf_jw_ktime(w, "last_attempt", st->last_attempt);
  hbst_kerror(w, "last_error", st->last_error);
  if (st->last_status >= 0)
    qf_jw_kint(w, "last_status", st->last_status);
  else
    qf_jw_knull(w, "last_status");
  qf_jw_kint(w, "spool_depth",
             b->started ? (long long)hb_spool_depth(&b->spool) : 0);
  qf_jw_kint(w, "sent", (long long)st->sent);
  qf_jw_kint(w, "failed", (long long)st->failed);
  qf_jw_kint(w, "retried", (long long)st->retried);
  qf_jw_kint(w, "dropped", (long long)st->dropped);
  qf_jw_kint(w, "set_aside", (long long)st->set_aside);
  qf_jw_kint(w, "superseded", (long long)st->superseded);
  qf_jw_kstr(w, "replay", b->replay_latest ? "latest" : "all");
  qf_jw_kbool(w, "budget_exhausted", b->budget_exhausted);
  qf_jw_kdouble(w, "last_latency_ms",
                round(st->last_latency_ms * 10.0) / 10.0); /* NAN: null */
  qf_jw_obj_close(w);
}

static void hbst_webhook(qf_jw_t *w, const hb_webhook_t *h) {
  qf_jw_obj_open(w);
  qf_jw_kstr(w, "name", h->name);
  qf_jw_kstr(w, "url", h->url_public);
  qf_jw_kint(w, "sent", (long long)h->st.sent);
  qf_jw_kint(w, "failed", (long long)h->st.failed);
  hbst_kerror(w, "last_error", h->st.last_error);
  qf_jw_obj_close(w);
}

int hb_snapshot_render(const hb_state_in_t *in, char **out, size_t *len) {
  qf_jw_t w;
  int status = qf_jw_init(&w);
  if (status != 0)
    return status;
  qf_jw_obj_open(&w);
  qf_jw_kint(&w, "schema_version", QF_SNAPSHOT_SCHEMA_VERSION);
  qf_jw_ktime(&w, "updated_at", in->now);
  qf_jw_kbool(&w, "running", in->running);
  qf_jw_kstr(&w, "swarm_id", in->swarm_id);
  /* The exporter follows this id; with its own --swarm-id it names the
   * place to fix when they differ. */
  qf_jw_kstr(&w, "swarm_id_source",
             in->swarm_id_configured ? "configured" : "generated");
  qf_jw_kdouble(&w, "interval", in->interval);
  qf_jw_key(&w, "backends"); /* BEGIN backends */
  qf_jw_arr_open(&w);
  for (size_t i = 0; i < in->n_backends; i++)
    hbst_backend(&w, in->backends[i]);
  qf_jw_arr_close(&w);       /* END backends */
  qf_jw_key(&w, "webhooks"); /* BEGIN webhooks */
  qf_jw_arr_open(&w);
  for (size_t i = 0; i < in->n_webhooks; i++)
    hbst_webhook(&w, in->webhooks[i]);
  qf_jw_arr_close(&w); /* END webhooks */
  qf_jw_obj_close(&w);
  status = qf_jw_finish(&w, out, len);
  qf_jw_free(&w);
  return status;
}
