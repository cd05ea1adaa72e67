/* plugin_config.h: the collectd side of qf_config.h, shared by the three
 * plugins so an option value is read, checked and refused alike in each.
 * Include after "plugin.h" and "utils/common/common.h". */
#ifndef QIFLOW_PLUGIN_CONFIG_H
#define QIFLOW_PLUGIN_CONFIG_H

#include "qf_config.h"

#include <limits.h>
#include <math.h>

/* qf_plugin_get_int reads a whole number in [lo, hi] (fractions refused)
 * into *out, logging "<plugin> plugin: <why>" when it is not one. */
static inline int qf_plugin_get_int(const char *plugin, oconfig_item_t *ci,
                                    int lo, int hi, int *out) {
  double v;
  if (cf_util_get_double(ci, &v) != 0)
    return -1;
  char err[256];
  long long n;
  if (qf_cfg_int(ci->key, v, lo, hi, &n, err, sizeof(err)) != 0) {
    ERROR("%s plugin: %s", plugin, err);
    return -1;
  }
  *out = (int)n;
  return 0;
}

/* qf_plugin_get_number reads a finite number in [lo, hi] (above lo with
 * lo_open; hi may be INFINITY) into *out, logging why it is not. */
static inline int qf_plugin_get_number(const char *plugin, oconfig_item_t *ci,
                                       double lo, bool lo_open, double hi,
                                       double *out) {
  double v;
  if (cf_util_get_double(ci, &v) != 0)
    return -1;
  char err[256];
  if (qf_cfg_number(ci->key, v, lo, lo_open, hi, err, sizeof(err)) != 0) {
    ERROR("%s plugin: %s", plugin, err);
    return -1;
  }
  *out = v;
  return 0;
}

/* qf_plugin_unknown logs the one message for a key that is none of known
 * (NULL-terminated) in the block where (e.g. "<Plugin qiflow_agents>"). */
static inline void qf_plugin_unknown(const char *plugin, const char *where,
                                     const char *key,
                                     const char *const *known) {
  char err[1024];
  qf_cfg_unknown(where, key, known, err, sizeof(err));
  ERROR("%s plugin: %s", plugin, err);
}

#endif
