/* qf_config.h: the checks behind the plugins' configuration values, in one
 * place so qiflow_agents, qiflow_github and qiflow_heartbeat refuse the same
 * mistakes with the same words. Free of collectd symbols: collectd hands a
 * plugin every number as a double (oconfig), the glue passes it here and
 * logs the message these write. Every message names the key and quotes the
 * value as written (as far as a double can tell: "3.5", "0.5", "1e+20"). */
#ifndef QF_CONFIG_H
#define QF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* qf_cfg_int checks that v, the value of option key, is a whole number in
 * [lo, hi] and stores it in *out. 0, or -ERANGE with a message in err
 * ("Retries must be a whole number from 1 to 100, got 3.5"). */
int qf_cfg_int(const char *key, double v, long long lo, long long hi,
               long long *out, char *err, size_t errlen);

/* qf_cfg_number checks that v is a finite number in [lo, hi]; with
 * lo_open, v must be above lo ("Interval must be a number > 0, got 0").
 * hi may be INFINITY (no upper bound). 0 or -ERANGE with err set. */
int qf_cfg_number(const char *key, double v, double lo, bool lo_open, double hi,
                  char *err, size_t errlen);

/* qf_cfg_unknown writes the one message for an unknown key: where it was
 * found (e.g. "<Plugin qiflow_agents>"), the key, and the NULL-terminated
 * list of the valid ones. */
void qf_cfg_unknown(const char *where, const char *key,
                    const char *const *known, char *err, size_t errlen);

#endif
