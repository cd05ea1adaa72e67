/* heartbeat_config.h: checks behind the plugin's configuration, free of
 * collectd symbols: names, URLs, the API key and its file, and advice on
 * settings that would trip the backend's rate limit. */
#ifndef HEARTBEAT_CONFIG_H
#define HEARTBEAT_CONFIG_H

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

#endif
