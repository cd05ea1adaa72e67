/* heartbeat_target.h: what every delivery target shares (the logger, the
 * counters, what a request needs) and the backends: each <Backend> with
 * its durable spool and request budget, and its delivery step. (A
 * <Webhook> and its queue: heartbeat_webhook.h.) Free of collectd symbols:
 * the glue passes a logger, and the sender thread is the only caller of
 * the send functions. */
#ifndef HEARTBEAT_TARGET_H
#define HEARTBEAT_TARGET_H

#include "heartbeat_deliver.h"
#include "heartbeat_spool.h"
#include "qf_http.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HB_ERROR_MAX 512
#define HB_URL_MAX 1024

/* Severities as syslog numbers, which collectd's LOG_* share. */
#define HB_LOG_ERR 3
#define HB_LOG_WARNING 4
#define HB_LOG_NOTICE 5
#define HB_LOG_INFO 6

typedef struct hb_logger_s {
  void (*fn)(void *ud, int severity, const char *msg);
  void *ud;
} hb_logger_t;

/* hb_plural picks the word for a count: one when n == 1, else many. */
static inline const char *hb_plural(unsigned long long n, const char *one,
                                    const char *many) {
  return n == 1 ? one : many;
}

/* hb_logf formats one line and hands it to the logger (if any). */
void hb_logf(const hb_logger_t *l, int severity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What heartbeat.json and the dispatched values report per target. */
typedef struct hb_stats_s {
  unsigned long long sent, failed, retried, dropped;
  unsigned long long set_aside;  /* undeliverable, kept in spool/rejected/ */
  unsigned long long superseded; /* Replay "latest": older ones not sent */
  time_t last_success, last_attempt; /* 0: never */
  long last_status;                  /* -1: no answer yet */
  double last_latency_ms;            /* NAN: none yet */
  char last_error[HB_ERROR_MAX];     /* "": none */
} hb_stats_t;

void hb_stats_init(hb_stats_t *st);

/* What every request needs besides its target. */
typedef struct hb_env_s {
  const char *swarm_id;
  qf_http_client_t *http;
  int (*abort_cb)(void *ud); /* stops a request when the plugin stops */
  void *abort_ud;
  hb_logger_t log;
} hb_env_t;

typedef struct hb_backend_s {
  /* configuration, owned */
  char *name, *url, *api_key, *ca_cert, *client_cert, *client_key;
  char url_public[HB_URL_MAX]; /* credentials and query removed */
  double timeout;
  bool compress;
  size_t spool_max;
  hb_policy_t policy;
  bool replay_latest; /* Replay "latest": only the newest heartbeat goes */
  /* runtime */
  bool started;
  /* Heartbeats of an earlier run wait until this run's first heartbeat is
   * spooled behind them, so the newest is always delivered last. */
  bool held;
  hb_deliver_t dl;
  hb_spool_t spool;
  hb_stats_t st;
  hb_class_t last_class; /* of the last failed answer, to log changes once */
  double down_since;     /* monotonic time of the first failure, 0: up */
  bool aside_failing;    /* setting a refused record aside failed (logged once);
                            quiet until it works again */
  /* The request budget (heartbeat_budget.h): its times persist in
   * budget_path; an episode of a short budget is logged once as it begins
   * and once as it ends. */
  char *budget_path;
  bool budget_save_failing; /* a failed save was logged; quiet until fixed */
  bool budget_exhausted;    /* the budget cannot carry live heartbeats */
  double budget_since;      /* monotonic start of that episode */
  unsigned long long budget_superseded; /* in the current episode */
} hb_backend_t;

/* --- backends --- */

/* hb_backend_start opens the backend's spool in spool_dir and prepares its
 * delivery state, with the request times of the current window read back
 * from spool_dir/<name>.budget; logs what a torn spool tail cost. */
int hb_backend_start(hb_backend_t *b, const char *spool_dir,
                     const hb_logger_t *log, char *err, size_t errlen);
/* hb_backend_stop closes the spool (everything in it is already durable). */
void hb_backend_stop(hb_backend_t *b);
/* hb_backend_free frees the configuration strings; stops first if needed. */
void hb_backend_free(hb_backend_t *b);

/* hb_backend_enqueue appends a live heartbeat to the spool at now
 * (monotonic), logging each heartbeat the bound forced out, and checks the
 * request budget (hb_budget_short): an episode of a short budget is logged
 * once as it begins and once as it ends; while the Interval is too short
 * for the budget, older heartbeats waiting are superseded so the newest
 * goes next, at most one request per RequestWindow / RequestLimit s. */
int hb_backend_enqueue(hb_backend_t *b, long long id, const char *body,
                       size_t len, double now, const hb_logger_t *log);

/* hb_backend_request_started counts a request that starts at now against
 * the budget and saves the window's times (atomically) for a restart. */
void hb_backend_request_started(hb_backend_t *b, double now,
                                const hb_logger_t *log);

/* hb_backend_ready_at is when the next request may start; INFINITY when
 * the spool is empty. */
double hb_backend_ready_at(const hb_backend_t *b, double now);

/* hb_backend_send_one POSTs the oldest spooled heartbeat once and applies
 * the answer: removes it when delivered, sets it aside (logged once with
 * its own id and swarm id) when it is undeliverable (hb_record_class).
 * now is the monotonic clock. Returns the answer's class. */
hb_class_t hb_backend_send_one(hb_backend_t *b, const hb_env_t *env,
                               double now);

/* hb_transport_text writes a failed request's transport error, followed
 * for a TLS failure by its cause and the <Backend> key that fixes it
 * (URL, CACert, ClientCert, ClientKey). */
void hb_transport_text(const qf_http_response_t *resp, char *out,
                       size_t outlen);

/* One request to a backend and its answer, classified. */
typedef struct hb_answer_s {
  int rc;              /* 0: the backend answered; else the transport's errno */
  long status;         /* the HTTP status; 0 without an answer */
  hb_class_t c;        /* hb_classify's; CANCELED when we stopped it */
  double seconds;      /* how long the request took */
  long retry_after;    /* seconds, -1: none */
  char rl_policy[128]; /* RateLimit-Policy, "": none */
  char text[HB_ERROR_MAX]; /* the transport error or the backend's error
                              text, the API key redacted */
} hb_answer_t;

/* hb_backend_exchange posts body to b once, started at now (monotonic),
 * giving up after timeout seconds, classifies the answer
 * (heartbeat_deliver.c's rules) into a, and counts it: against the request
 * budget (saved for a restart) once the backend is started, as retried
 * when it repeats a failed request, as sent (clearing last_error) or as
 * failed; last_attempt, last_status and the latency follow it. What the
 * answer means for the record is the caller's to apply. The one path of
 * every request to a backend: the delivery step, the one-shot check and
 * the stopping heartbeat. */
void hb_backend_exchange(hb_backend_t *b, const hb_env_t *env, const char *body,
                         size_t len, double timeout, double now,
                         hb_answer_t *a);

/* hb_backend_settle applies the answer a to the oldest spooled heartbeat
 * (id, body) as the delivery step does: removes it when delivered, sets it
 * aside when it is undeliverable (hb_record_class), else keeps it and
 * logs each change of cause once; returns the class it settled on. */
hb_class_t hb_backend_settle(hb_backend_t *b, const hb_env_t *env, double now,
                             long long id, const char *body,
                             const hb_answer_t *a);

/* hb_backend_describe writes what an answer means for the operator, with
 * the backend's own error text (the API key redacted); swarm_id is the
 * one the refused record carries. */
void hb_backend_describe(const hb_backend_t *b, const char *swarm_id,
                         hb_class_t c, long status, const char *text, char *out,
                         size_t outlen);

#endif
