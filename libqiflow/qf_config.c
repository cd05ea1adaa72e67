/* qf_config.c: the checks behind the plugins' configuration values (see
 * the header). */
#include "qf_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* qfc_as_written renders v as briefly as it reads: what the user typed in
 * all but contrived cases (15 significant digits, no trailing zeros). */
static void qfc_as_written(double v, char *out, size_t outlen) {
  snprintf(out, outlen, "%.15g", v);
}

int qf_cfg_int(const char *key, double v, long long lo, long long hi,
               long long *out, char *err, size_t errlen) {
  char text[64];
  qfc_as_written(v, text, sizeof(text));
  if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi) {
    snprintf(err, errlen, "%s must be a whole number from %lld to %lld, got %s",
             key, lo, hi, text);
    return -ERANGE;
  }
  *out = (long long)v;
  return 0;
}

int qf_cfg_number(const char *key, double v, double lo, bool lo_open, double hi,
                  char *err, size_t errlen) {
  bool ok = isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  if (ok)
    return 0;
  char text[64], los[64], his[64];
  qfc_as_written(v, text, sizeof(text));
  qfc_as_written(lo, los, sizeof(los));
  qfc_as_written(hi, his, sizeof(his));
  if (isinf(hi))
    snprintf(err, errlen, "%s must be a number %s %s, got %s", key,
             lo_open ? ">" : ">=", los, text);
  else if (lo_open)
    snprintf(err, errlen, "%s must be a number > %s and <= %s, got %s", key,
             los, his, text);
  else
    snprintf(err, errlen, "%s must be a number from %s to %s, got %s", key, los,
             his, text);
  return -ERANGE;
}

void qf_cfg_unknown(const char *where, const char *key,
                    const char *const *known, char *err, size_t errlen) {
  int n = snprintf(err, errlen,
                   "unknown option \"%s\" in %s; valid options:", key, where);
  for (size_t i = 0; known[i] != NULL && n >= 0 && (size_t)n < errlen; i++) {
    int m = snprintf(err + n, errlen - (size_t)n, "%s %s", i == 0 ? "" : ",",
                     known[i]);
    if (m < 0)
      break;
    n += m;
  }
}
