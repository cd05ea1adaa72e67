/* heartbeat_config.c: checks behind the plugin's configuration. */
#include "heartbeat_config.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

bool hb_name_valid(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > HB_NAME_MAX)
    return false;
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
      return false;
  return true;
}

int hb_url_check(const char *url, char *err, size_t errlen) {
  const char *host = NULL;
  if (strncasecmp(url, "https://", 8) == 0)
    host = url + 8;
  else if (strncasecmp(url, "http://", 7) == 0)
    host = url + 7;
  if (host == NULL) {
    qf_err(err, errlen, "URL must start with http:// or https://");
    return -EINVAL;
  }
  if (strcspn(host, "/?#") == 0) {
    qf_err(err, errlen, "URL has no host");
    return -EINVAL;
  }
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
      qf_err(err, errlen, "URL contains a space or control character");
      return -EINVAL;
    }
  return 0;
}

void hb_url_origin(const char *url, char *out, size_t outlen) {
  char public_url[2048];
  qf_http_redact(url, public_url, sizeof(public_url));
  const char *scheme = strstr(public_url, "://");
  char *host = scheme != NULL ? (char *)scheme + 3 : public_url;
  char *rest = host + strcspn(host, "/");
  bool path = rest[0] == '/' && rest[1] != '\0';
  *rest = '\0';
  snprintf(out, outlen, "%s%s", public_url, path ? "/..." : "");
}

bool hb_url_path_hint(const char *url, char *out, size_t outlen) {
  const char *scheme = strstr(url, "://");
  const char *path = scheme ? scheme + 3 : url;
  path += strcspn(path, "/?#");
  size_t plen = strcspn(path, "?#");
  size_t dlen = strlen(HB_PATH_DOCUMENTED);
  if (plen < dlen ||
      strncmp(path + plen - dlen, HB_PATH_DOCUMENTED, dlen) != 0 ||
      (plen >= strlen(HB_PATH_WORKING) &&
       strncmp(path + plen - strlen(HB_PATH_WORKING), HB_PATH_WORKING,
               strlen(HB_PATH_WORKING)) == 0))
    return false;
  snprintf(out, outlen,
           "the URL path ends in " HB_PATH_DOCUMENTED
           ", which the QiFlow backend documents but answers with 404 "
           "\"Not found\"; its router serves " HB_PATH_WORKING);
  return true;
}

int hb_key_check(const char *key, char *err, size_t errlen) {
  if (key[0] == '\0') {
    qf_err(err, errlen, "the API key is empty");
    return -EINVAL;
  }
  for (const char *p = key; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
      qf_err(err, errlen,
             "the API key contains a space, a control or a non-ASCII "
             "character");
      return -EINVAL;
    }
  return 0;
}

/* hbc_trim cuts leading and trailing whitespace in place; returns s. */
static char *hbc_trim(char *s) {
  char *p = s;
  while (isspace((unsigned char)*p))
    p++;
  size_t n = strlen(p);
  while (n > 0 && isspace((unsigned char)p[n - 1]))
    n--;
  memmove(s, p, n);
  s[n] = '\0';
  return s;
}

int hb_key_file_read(const char *path, char **key, char *err, size_t errlen) {
  char *text = NULL;
  int status = qf_secret_read("APIKeyFile", path, HB_KEY_FILE_MAX,
                              QF_READ_NOT_PUBLIC, &text, NULL, err, errlen);
  if (status != 0)
    return status;
  hbc_trim(text);
  status = hb_key_check(text, err, errlen);
  if (status != 0) {
    /* Keep the file's name in the message; the key itself never appears. */
    char why[256];
    qf_strcpy(why, sizeof(why), err != NULL ? err : "");
    qf_err(err, errlen, "APIKeyFile %s: %s", path, why);
    free(text);
    return status;
  }
  *key = text;
  return 0;
}

bool hb_rate_advice(double interval, int limit, double window, char *out,
                    size_t outlen) {
  if (limit <= 0 || window <= 0 || interval <= 0)
    return false;
  double live = window / interval;
  if (live < (double)limit)
    return false;
  snprintf(out, outlen,
           "Interval %g s sends %.0f heartbeats per %g s, at or over "
           "RequestLimit %d: a backlog could never be replayed; raise "
           "Interval (the QiFlow backend allows 100 requests per 900 s)",
           interval, live, window, limit);
  return true;
}
