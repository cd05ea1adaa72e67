/* qf_time.h: ISO 8601 / RFC 3339 timestamps in UTC. */
#ifndef QF_TIME_H
#define QF_TIME_H

#include <stddef.h>
#include <time.h>

#define QF_TIME_ISO_LEN 21 /* "2026-11-27T10:00:00Z" plus NUL */

/* qf_time_format writes t as "YYYY-MM-DDTHH:MM:SSZ"; 0 or -EINVAL. */
int qf_time_format(time_t t, char *buf, size_t buflen);

/* qf_time_format_date writes t's UTC date as "YYYY-MM-DD". */
int qf_time_format_date(time_t t, char *buf, size_t buflen);

/* qf_time_parse reads "YYYY-MM-DDTHH:MM:SS" with optional fraction and an
 * optional "Z" or "+HH:MM"/"-HH:MM" offset (none means UTC). The whole string
 * must match. 0 or -EINVAL. */
int qf_time_parse(const char *s, time_t *out);

#endif
