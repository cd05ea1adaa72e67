/* qf_status.c: the one status rule (see qf_status.h). */
#include "qf_status.h"

#include <math.h>

/* qfs_busy: v is a number above the bound (NAN compares false). */
static bool qfs_busy(double v) {
  return !isnan(v) && v > QF_STATUS_BUSY_PERCENT;
}

qf_status_t qf_status_decide(bool current, double cpu_percent,
                             double memory_percent) {
  if (!current)
    return QF_STATUS_OFFLINE;
  if (qfs_busy(cpu_percent) || qfs_busy(memory_percent))
    return QF_STATUS_DEGRADED;
  return QF_STATUS_ONLINE;
}

const char *qf_status_name(qf_status_t s) {
  switch (s) {
  case QF_STATUS_ONLINE:
    return "online";
  case QF_STATUS_DEGRADED:
    return "degraded";
  case QF_STATUS_OFFLINE:
    break;
  }
  return "offline";
}
