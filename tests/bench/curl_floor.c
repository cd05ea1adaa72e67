/* curl_floor.c: the benchmark's baseline for collectd's memory with
 * libcurl: a collectd plugin that only initialises libcurl and holds one
 * easy handle, as qiflow_github and qiflow_heartbeat each do, and does
 * nothing else. collectd with it and no plugin of ours shows what libcurl
 * and the libraries it loads (OpenSSL, Kerberos, LDAP, libssh2, ...) cost
 * by themselves. Built by tests/bench/run.py, never installed. */
#include "collectd.h"

#include "plugin.h"

#include <curl/curl.h>

static CURL *cf_handle;

static int cf_init(void) {
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
    return -1;
  cf_handle = curl_easy_init();
  return cf_handle != NULL ? 0 : -1;
}

static int cf_shutdown(void) {
  curl_easy_cleanup(cf_handle);
  cf_handle = NULL;
  curl_global_cleanup();
  return 0;
}

void module_register(void) {
  plugin_register_init("curl_floor", cf_init);
  plugin_register_shutdown("curl_floor", cf_shutdown);
}
