/* heartbeat_log.c: the daily JSON-lines log of heartbeats. */
#include "heartbeat_log.h"

#include "qf_buf.h"
#include "qf_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int hb_log_name(time_t now, char *out, size_t outlen) {
  struct tm tm;
  if (localtime_r(&now, &tm) == NULL)
    return -EINVAL;
  return strftime(out, outlen, "heartbeat_%Y%m%d.json", &tm) == 0 ? -ENOSPC : 0;
}

long hb_days_from_civil(int year, int month, int day) {
  /* Howard Hinnant's days_from_civil, with March as the first month. */
  long y = (long)year - (month <= 2);
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long mp = (month + 9) % 12;
  long doy = (153 * mp + 2) / 5 + day - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int hb_log_parse_name(const char *name, int *year, int *month, int *day) {
  static const char prefix[] = "heartbeat_", suffix[] = ".json";
  size_t plen = sizeof(prefix) - 1;
  if (strlen(name) != HB_LOG_NAME_LEN - 1 || strncmp(name, prefix, plen) != 0 ||
      strcmp(name + plen + 8, suffix) != 0)
    return -EINVAL;
  int v[3] = {0, 0, 0};
  static const int width[3] = {4, 2, 2};
  const char *p = name + plen;
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < width[i]; k++, p++) {
      if (!isdigit((unsigned char)*p))
        return -EINVAL;
      v[i] = v[i] * 10 + (*p - '0');
    }
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1])
    return -EINVAL;
  *year = v[0];
  *month = v[1];
  *day = v[2];
  return 0;
}

long hb_log_day(time_t now) {
  struct tm tm;
  if (localtime_r(&now, &tm) == NULL)
    return 0;
  return hb_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int hb_log_append(const char *dir, time_t now, const char *line, size_t len,
                  char *err, size_t errlen) {
  char name[HB_LOG_NAME_LEN], path[4096];
  if (hb_log_name(now, name, sizeof(name)) != 0 ||
      qf_path_join(path, sizeof(path), dir, name) != 0) {
    qf_err(err, errlen, "%s: log path too long", dir);
    return -ENAMETOOLONG;
  }
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT && qf_mkdir_p(dir, 0755, err, errlen) == 0)
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    qf_err(err, errlen, "open %s: %s", path, strerror(e));
    return -e;
  }
  /* One write per line: O_APPEND keeps concurrent writers' lines whole. */
  qf_buf_t b = QF_BUF_INIT;
  int status = qf_buf_append(&b, line, len);
  if (status == 0)
    status = qf_buf_append(&b, "\n", 1);
  if (status == 0)
    status = qf_write_all(fd, b.data, b.len);
  if (status != 0)
    qf_err(err, errlen, "write %s: %s", path, strerror(-status));
  qf_buf_free(&b);
  close(fd);
  return status;
}

int hb_log_prune(const char *dir, time_t now, int retention_days, int *removed,
                 char *err, size_t errlen) {
  *removed = 0;
  if (retention_days <= 0)
    return 0;
  DIR *d = opendir(dir);
  if (d == NULL) {
    int e = errno;
    if (e == ENOENT)
      return 0;
    qf_err(err, errlen, "opendir %s: %s", dir, strerror(e));
    return -e;
  }
  long oldest_kept = hb_log_day(now) - retention_days;
  int status = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    int y, m, day;
    if (hb_log_parse_name(de->d_name, &y, &m, &day) != 0 ||
        hb_days_from_civil(y, m, day) >= oldest_kept)
      continue;
    if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
      (*removed)++;
    } else if (status == 0) {
      status = -errno;
      qf_err(err, errlen, "unlink %s/%s: %s", dir, de->d_name, strerror(errno));
    }
  }
  closedir(d);
  return status;
}
