/* heartbeat_log.h: the daily JSON-lines log of heartbeats, as the earlier
 * agent kept it: LogDir/heartbeat_YYYYMMDD.json, one heartbeat per line,
 * named by the host's local date. Every function takes the time, so tests
 * decide the clock (and TZ the date). */
#ifndef HEARTBEAT_LOG_H
#define HEARTBEAT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HB_LOG_NAME_LEN sizeof("heartbeat_YYYYMMDD.json")

/* hb_log_name writes the file name for now's local date. */
int hb_log_name(time_t now, char *out, size_t outlen);

/* hb_log_parse_name reads the date out of a log file name; -EINVAL when
 * name is not exactly heartbeat_YYYYMMDD.json with a real date. */
int hb_log_parse_name(const char *name, int *year, int *month, int *day);

/* hb_days_from_civil counts days since 1970-01-01 for a proleptic
 * Gregorian date, so dates compare without time zones getting involved. */
long hb_days_from_civil(int year, int month, int day);

/* hb_log_day is now's local date as a day number. */
long hb_log_day(time_t now);

/* hb_log_append appends line and a newline to dir's file for now.
 * 0 or a negative errno with a message in err. */
int hb_log_append(const char *dir, time_t now, const char *line, size_t len,
                  char *err, size_t errlen);

/* hb_log_prune removes log files dated more than retention_days before
 * now's local date (today and the retention_days days before it stay);
 * retention_days <= 0 keeps everything. *removed counts the files gone. */
int hb_log_prune(const char *dir, time_t now, int retention_days, int *removed,
                 char *err, size_t errlen);

#endif
