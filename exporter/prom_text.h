/* prom_text.h: the Prometheus text exposition (format 0.0.4) and OpenMetrics
 * 1.0 of /metrics, from the same model as the JSON bodies. */
#ifndef QFX_PROM_TEXT_H
#define QFX_PROM_TEXT_H

#include "qf_buf.h"
#include "render_json.h"

#include <stdbool.h>

#define QFX_CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define QFX_CT_OPENMETRICS                                                     \
  "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* An exposition being written: one family at a time; a family's HELP and
 * TYPE lines are written with its first sample, so a family without
 * samples (every value unknown) leaves no trace. */
typedef struct qfx_prom_s {
  qf_buf_t buf;
  bool om;    /* OpenMetrics rather than 0.0.4 */
  int status; /* 0 or the first negative errno */
  const char *name, *type, *unit, *help;
  bool started; /* the current family's header is written */
} qfx_prom_t;

/* qfx_prom_init starts an empty exposition. */
void qfx_prom_init(qfx_prom_t *p, bool om);
/* qfx_prom_family begins a family. type is "gauge", "counter" (name
 * without _total) or "info" (name without _info); unit, when not NULL, is
 * the name's suffix ("bytes", "seconds"). The strings must outlive the
 * family. */
void qfx_prom_family(qfx_prom_t *p, const char *name, const char *type,
                     const char *unit, const char *help);
/* qfx_prom_sample writes one sample of the current family; labels is NULL
 * or "name", "value", ..., NULL. A NAN value writes nothing. */
void qfx_prom_sample(qfx_prom_t *p, const char *const *labels, double v);
/* qfx_prom_finish ends the exposition ("# EOF" for OpenMetrics) and hands
 * the text to the caller, who frees it. Returns the first error. */
int qfx_prom_finish(qfx_prom_t *p, char **out, size_t *len);

/* qfx_prom_escape appends s escaped for a label value (backslash, double
 * quote, newline) or, with help set, for 0.0.4 HELP text (backslash and
 * newline only). */
int qfx_prom_escape(qf_buf_t *b, const char *s, bool help);
/* qfx_prom_number appends v in Go float syntax (NaN, +Inf, -Inf). */
int qfx_prom_number(qf_buf_t *b, double v);

/* qfx_render_prom renders the whole /metrics exposition of m. */
int qfx_render_prom(const qfx_model_t *m, bool om, char **out, size_t *len);

/* Formats of /metrics. */
enum { QFX_FMT_JSON, QFX_FMT_PROM, QFX_FMT_OM };
/* qfx_metrics_format picks the format: ?format= (json, prometheus,
 * openmetrics) when given, else the Accept header's preference (JSON for
 * anyone who does not ask for a Prometheus type). -1: a bad ?format=. */
int qfx_metrics_format(const char *accept, const char *format);

#endif
