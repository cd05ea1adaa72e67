/* log.c: the exporter's one-line log messages on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void qfx_log(int level, const char *fmt, ...) {
  static const char *const names[] = {"error", "warning", "notice", "info"};
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  /* One fprintf per line, so lines from concurrent threads do not mix. */
  fprintf(stderr, "qiflow-exporter: %s: %s\n",
          names[level >= 0 && level <= QFX_LOG_INFO ? level : 0], line);
}
