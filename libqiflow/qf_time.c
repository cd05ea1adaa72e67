/* qf_time.c: ISO 8601 / RFC 3339 timestamps in UTC. */
#include "qf_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int qf_time_format(time_t t, char *buf, size_t buflen) {
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL)
    return -EINVAL;
  if (strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return -EINVAL;
  return 0;
}

int qf_time_format_date(time_t t, char *buf, size_t buflen) {
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL)
    return -EINVAL;
  if (strftime(buf, buflen, "%Y-%m-%d", &tm) == 0)
    return -EINVAL;
  return 0;
}

/* qf_digits reads exactly n decimal digits at *p and advances it. */
static int qf_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -EINVAL;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

/* qf_expect consumes one expected character. */
static int qf_expect(const char **p, char c) {
  if (**p != c)
    return -EINVAL;
  (*p)++;
  return 0;
}

/* qf_time_offset parses the zone suffix into seconds east of UTC. */
static int qf_time_offset(const char *p, long *offset) {
  *offset = 0;
  if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
    return 0;
  if (*p != '+' && *p != '-')
    return -EINVAL;
  int sign = *p == '-' ? -1 : 1;
  p++;
  int hh, mm;
  if (qf_digits(&p, 2, &hh) != 0 || qf_expect(&p, ':') != 0 ||
      qf_digits(&p, 2, &mm) != 0 || *p != '\0' || hh > 23 || mm > 59)
    return -EINVAL;
  *offset = sign * (hh * 3600L + mm * 60L);
  return 0;
}

int qf_time_parse(const char *s, time_t *out) {
  if (s == NULL)
    return -EINVAL;
  struct tm tm = {0};
  const char *p = s;
  int y, mo, d, h, mi, sec;
  if (qf_digits(&p, 4, &y) || qf_expect(&p, '-') || qf_digits(&p, 2, &mo) ||
      qf_expect(&p, '-') || qf_digits(&p, 2, &d))
    return -EINVAL;
  if (*p != 'T' && *p != 't' && *p != ' ')
    return -EINVAL;
  p++;
  if (qf_digits(&p, 2, &h) || qf_expect(&p, ':') || qf_digits(&p, 2, &mi) ||
      qf_expect(&p, ':') || qf_digits(&p, 2, &sec))
    return -EINVAL;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return -EINVAL;
    while (isdigit((unsigned char)*p))
      p++;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return -EINVAL;
  long offset;
  if (qf_time_offset(p, &offset) != 0)
    return -EINVAL;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return -EINVAL;
  *out = t - offset;
  return 0;
}
