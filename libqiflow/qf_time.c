/* qf_time.c: ISO 8601 / RFC 3339 timestamps in UTC. */
#include "qf_time.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* qtm_time_tm breaks t into UTC fields; -EINVAL unless its year has four
 * digits (0000-9999), the only years RFC 3339 can write. strftime's %Y
 * would write year 24 as "24", which no parser of ours reads back. */
static int qtm_time_tm(time_t t, struct tm *tm) {
  if (gmtime_r(&t, tm) == NULL || tm->tm_year < -1900 ||
      tm->tm_year > 9999 - 1900)
    return -EINVAL;
  return 0;
}

int qf_time_format(time_t t, char *buf, size_t buflen) {
  struct tm tm;
  if (qtm_time_tm(t, &tm) != 0)
    return -EINVAL;
  int n =
      snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return n > 0 && (size_t)n < buflen ? 0 : -EINVAL;
}

int qf_time_format_date(time_t t, char *buf, size_t buflen) {
  struct tm tm;
  if (qtm_time_tm(t, &tm) != 0)
    return -EINVAL;
  int n = snprintf(buf, buflen, "%04d-%02d-%02d", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday);
  return n > 0 && (size_t)n < buflen ? 0 : -EINVAL;
}

/* qtm_days_in_month is the length of month mo (1-12) of year y. */
static int qtm_days_in_month(int y, int mo) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return mo == 2 && leap ? 29 : days[mo - 1];
}

/* qtm_days_to_year counts the days from 0000-01-01 to y-01-01 (y >= 0) of
 * the proleptic Gregorian calendar, where year 0 is a leap year. */
static long long qtm_days_to_year(int y) {
  if (y == 0)
    return 0;
  return 365LL * y + 1 + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
}

/* qtm_days_since_epoch counts the days from 1970-01-01 to y-mo-d (y 0..9999),
 * negative before 1970. Our own arithmetic in 64 bits rather than timegm,
 * which answers -1 both for 1969-12-31T23:59:59 and for a time its time_t
 * cannot hold. */
static long long qtm_days_since_epoch(int y, int mo, int d) {
  static const int before[12] = {0,   31,  59,  90,  120, 151,
                                 181, 212, 243, 273, 304, 334};
  bool leap_day_passed = mo > 2 && qtm_days_in_month(y, 2) == 29;
  return qtm_days_to_year(y) - qtm_days_to_year(1970) + before[mo - 1] +
         leap_day_passed + d - 1;
}

/* qtm_digits reads exactly n decimal digits at *p and advances it. */
static int qtm_digits(const char **p, int n, int *out) {
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

/* qtm_expect consumes one expected character. */
static int qtm_expect(const char **p, char c) {
  if (**p != c)
    return -EINVAL;
  (*p)++;
  return 0;
}

/* qtm_time_offset parses the zone suffix into seconds east of UTC. */
static int qtm_time_offset(const char *p, long *offset) {
  *offset = 0;
  if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
    return 0;
  if (*p != '+' && *p != '-')
    return -EINVAL;
  int sign = *p == '-' ? -1 : 1;
  p++;
  int hh, mm;
  if (qtm_digits(&p, 2, &hh) != 0 || qtm_expect(&p, ':') != 0 ||
      qtm_digits(&p, 2, &mm) != 0 || *p != '\0' || hh > 23 || mm > 59)
    return -EINVAL;
  *offset = sign * (hh * 3600L + mm * 60L);
  return 0;
}

int qf_time_parse(const char *s, time_t *out) {
  if (s == NULL)
    return -EINVAL;
  const char *p = s;
  int y, mo, d, h, mi, sec;
  if (qtm_digits(&p, 4, &y) || qtm_expect(&p, '-') || qtm_digits(&p, 2, &mo) ||
      qtm_expect(&p, '-') || qtm_digits(&p, 2, &d))
    return -EINVAL;
  if (*p != 'T' && *p != 't' && *p != ' ')
    return -EINVAL;
  p++;
  if (qtm_digits(&p, 2, &h) || qtm_expect(&p, ':') || qtm_digits(&p, 2, &mi) ||
      qtm_expect(&p, ':') || qtm_digits(&p, 2, &sec))
    return -EINVAL;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return -EINVAL;
    while (isdigit((unsigned char)*p))
      p++;
  }
  /* A day the month does not have ("02-30") is refused: timegm would
   * quietly move it into the next month. */
  if (mo < 1 || mo > 12 || d < 1 || d > qtm_days_in_month(y, mo) || h > 23 ||
      mi > 59 || sec > 60)
    return -EINVAL;
  long offset;
  if (qtm_time_offset(p, &offset) != 0)
    return -EINVAL;
  long long secs = qtm_days_since_epoch(y, mo, d) * 86400 + h * 3600LL +
                   mi * 60LL + sec - offset;
  /* A time_t of 32 bits (armhf) holds 1901-12-13 to 2038-01-19 only. */
  time_t t = (time_t)secs;
  if ((long long)t != secs)
    return -EINVAL;
  *out = t;
  return 0;
}
