/* heartbeat_config.h: the plugin's <Backend> and <Webhook> blocks, free of
 * collectd symbols: the glue hands each block over as an hb_cfg_item_t
 * (its keys and values as collectd read them) and this file applies every
 * rule: keys, types, ranges, defaults, names, URLs, the API key and its
 * file, and advice on settings that would trip the backend's rate
 * limit. */
#ifndef HEARTBEAT_CONFIG_H
#define HEARTBEAT_CONFIG_H

#include "heartbeat_target.h"
#include "heartbeat_webhook.h"

#include <stdbool.h>
#include <stddef.h>

#define HB_NAME_MAX                                                            \
  63 /* a Backend/Webhook name: file names, plugin_instance                    \
      */
#define HB_KEY_FILE_MAX 4096
#define HB_KEY_ENV "QIFLOW_API_KEY"

/* The backend's documented path, which its router does not serve, and the
 * one it does (reference/central-backend.md). */
#define HB_PATH_DOCUMENTED "/api/v1/heartbeat"
#define HB_PATH_WORKING "/api/v1/swarms/heartbeat"

/* hb_name_valid: 1..HB_NAME_MAX characters of [A-Za-z0-9_.-]. */
bool hb_name_valid(const char *name);

/* hb_url_check accepts http:// and https:// URLs with a host. 0 or -EINVAL
 * with the reason in err. */
int hb_url_check(const char *url, char *err, size_t errlen);

/* hb_url_origin writes url's scheme and host (credentials removed), and
 * "/..." when a path followed: webhook URLs carry their secret in the path
 * (Slack, Discord), so only this much of them is ever published. */
void hb_url_origin(const char *url, char *out, size_t outlen);

/* hb_url_path_hint writes advice when url's path is the documented
 * /api/v1/heartbeat that the real backend answers with 404; returns true
 * when it wrote some. */
bool hb_url_path_hint(const char *url, char *out, size_t outlen);

/* hb_key_check accepts a key of printable ASCII without spaces (it goes in
 * a header line). 0 or -EINVAL; the message never quotes the key. */
int hb_key_check(const char *key, char *err, size_t errlen);

/* hb_key_file_read reads an API key file into a new string (surrounding
 * whitespace trimmed). Refuses files other users can read (-EPERM), since
 * the key would be everyone's; 0 or a negative errno with err set. */
int hb_key_file_read(const char *path, char **key, char *err, size_t errlen);

/* hb_rate_advice writes a warning when live heartbeats alone (one per
 * interval) would use more than limit requests per window; true if so. */
bool hb_rate_advice(double interval, int limit, double window, char *out,
                    size_t outlen);

/* Defaults of a <Backend> or <Webhook> block (docs/qiflow_heartbeat.md). */
#define HB_DEFAULT_TIMEOUT 10.0
#define HB_DEFAULT_RETRIES 3
#define HB_DEFAULT_RETRY_DELAY 5.0
#define HB_DEFAULT_SPOOL_MAX (10 * 1024 * 1024)
#define HB_SPOOL_MIN 1024 /* SpoolMaxBytes bounds */
#define HB_SPOOL_MAX (1 << 30)
/* 50 requests per 900 s: the backend allows 100 per client IP; live
 * heartbeats at the default Interval use 15 of them. */
#define HB_DEFAULT_REQUEST_LIMIT 50
#define HB_DEFAULT_REQUEST_WINDOW 900.0
#define HB_DEFAULT_REJECTED_DELAY 300.0

/* The types of a configuration value, as collectd's oconfig has them. */
typedef enum hb_cfg_type_e {
  HB_CFG_STRING,
  HB_CFG_NUMBER,
  HB_CFG_BOOLEAN
} hb_cfg_type_t;

typedef struct hb_cfg_value_s {
  hb_cfg_type_t type;
  const char *string; /* HB_CFG_STRING */
  double number;      /* HB_CFG_NUMBER */
  bool boolean;       /* HB_CFG_BOOLEAN */
} hb_cfg_value_t;

/* One configuration item: a key, its values and, for a block, the items
 * inside it. The glue fills it from an oconfig_item_t; it owns nothing
 * here. */
typedef struct hb_cfg_item_s {
  const char *key;
  hb_cfg_value_t *values;
  size_t n_values;
  struct hb_cfg_item_s *children;
  size_t n_children;
} hb_cfg_item_t;

/* The targets configured so far; a new block's name must differ from all
 * of theirs. The arrays and the targets in them are owned here. */
typedef struct hb_targets_s {
  hb_backend_t **backends;
  size_t n_backends;
  hb_webhook_t **webhooks;
  size_t n_webhooks;
} hb_targets_t;

/* hb_config_backend parses one <Backend "name"> block: its keys, their
 * types, ranges and defaults, the URL, and where the API key comes from
 * (APIKey, APIKeyFile, else the QIFLOW_API_KEY environment variable). On
 * success the backend is appended to t; every mistake is logged as an
 * error naming the key and the fix. 0 or -1. */
int hb_config_backend(hb_targets_t *t, const hb_cfg_item_t *ci,
                      const hb_logger_t *log);

/* hb_config_webhook parses one <Webhook "name"> block the same way. */
int hb_config_webhook(hb_targets_t *t, const hb_cfg_item_t *ci,
                      const hb_logger_t *log);

/* hb_targets_free frees every target in t and the arrays. */
void hb_targets_free(hb_targets_t *t);

#endif
