/* prom_text.c: writing the Prometheus 0.0.4 and OpenMetrics 1.0 text formats,
 * and choosing between them and JSON for /metrics. */
#include "prom_text.h"
#include "response.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void qfx_prom_init(qfx_prom_t *p, bool om) {
  memset(p, 0, sizeof(*p));
  p->om = om;
}

int qfx_prom_escape(qf_buf_t *b, const char *s, bool help) {
  int rc = 0;
  for (const char *q = s; rc == 0 && *q; q++) {
    if (*q == '\\')
      rc = qf_buf_puts(b, "\\\\");
    else if (*q == '\n')
      rc = qf_buf_puts(b, "\\n");
    else if (*q == '"' && !help)
      rc = qf_buf_puts(b, "\\\"");
    else
      rc = qf_buf_append(b, q, 1);
  }
  return rc;
}

int qfx_prom_number(qf_buf_t *b, double v) {
  if (isnan(v))
    return qf_buf_puts(b, "NaN");
  if (isinf(v))
    return qf_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  if (v == floor(v) && fabs(v) < 1e15)
    return qf_buf_printf(b, "%.0f", v);
  return qf_buf_printf(b, "%.15g", v);
}

/* pt_sample_name writes the family's sample name. */
static int pt_sample_name(qfx_prom_t *p) {
  int rc = qf_buf_puts(&p->buf, p->name);
  if (rc == 0 && strcmp(p->type, "counter") == 0)
    rc = qf_buf_puts(&p->buf, "_total");
  else if (rc == 0 && strcmp(p->type, "info") == 0)
    rc = qf_buf_puts(&p->buf, "_info");
  return rc;
}

/* pt_header writes the family's descriptor lines: HELP then TYPE in
 * 0.0.4 (under the sample name, info as a gauge); TYPE, UNIT, HELP in
 * OpenMetrics (under the family name, HELP escaped as label values). */
static int pt_header(qfx_prom_t *p) {
  qf_buf_t *b = &p->buf;
  int rc;
  if (!p->om) {
    rc = qf_buf_puts(b, "# HELP ");
    if (rc == 0 && (rc = pt_sample_name(p)) == 0 &&
        (rc = qf_buf_puts(b, " ")) == 0 &&
        (rc = qfx_prom_escape(b, p->help, true)) == 0 &&
        (rc = qf_buf_puts(b, "\n# TYPE ")) == 0 &&
        (rc = pt_sample_name(p)) == 0)
      rc = qf_buf_printf(b, " %s\n",
                         strcmp(p->type, "info") == 0 ? "gauge" : p->type);
    return rc;
  }
  rc = qf_buf_printf(b, "# TYPE %s %s\n", p->name, p->type);
  if (rc == 0 && p->unit != NULL)
    rc = qf_buf_printf(b, "# UNIT %s %s\n", p->name, p->unit);
  if (rc == 0)
    rc = qf_buf_printf(b, "# HELP %s ", p->name);
  if (rc == 0)
    rc = qfx_prom_escape(b, p->help, false);
  if (rc == 0)
    rc = qf_buf_puts(b, "\n");
  return rc;
}

void qfx_prom_family(qfx_prom_t *p, const char *name, const char *type,
                     const char *unit, const char *help) {
  p->name = name;
  p->type = type;
  p->unit = unit;
  p->help = help;
  p->started = false;
}

/* pt_labels writes {k="v",...}; nothing for NULL or an empty list. */
static int pt_labels(qf_buf_t *b, const char *const *labels) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && labels != NULL && labels[i] != NULL; i += 2) {
    rc = qf_buf_printf(b, "%s%s=\"", i == 0 ? "{" : ",", labels[i]);
    if (rc == 0)
      rc = qfx_prom_escape(b, labels[i + 1] ? labels[i + 1] : "", false);
    if (rc == 0)
      rc = qf_buf_puts(b, "\"");
  }
  if (rc == 0 && labels != NULL && labels[0] != NULL)
    rc = qf_buf_puts(b, "}");
  return rc;
}

void qfx_prom_sample(qfx_prom_t *p, const char *const *labels, double v) {
  if (p->status != 0 || isnan(v))
    return;
  int rc = 0;
  if (!p->started) {
    rc = pt_header(p);
    p->started = true;
  }
  if (rc == 0)
    rc = pt_sample_name(p);
  if (rc == 0)
    rc = pt_labels(&p->buf, labels);
  if (rc == 0)
    rc = qf_buf_puts(&p->buf, " ");
  if (rc == 0)
    rc = qfx_prom_number(&p->buf, v);
  if (rc == 0)
    rc = qf_buf_puts(&p->buf, "\n");
  p->status = rc;
}

int qfx_prom_finish(qfx_prom_t *p, char **out, size_t *len) {
  if (p->status == 0 && p->om)
    p->status = qf_buf_puts(&p->buf, "# EOF\n");
  if (p->status == 0 && p->buf.data == NULL)
    p->status = qf_buf_puts(&p->buf, ""); /* an empty 0.0.4 exposition */
  if (p->status != 0) {
    qf_buf_free(&p->buf);
    return p->status;
  }
  *out = qf_buf_steal(&p->buf, len);
  return 0;
}

/* pt_media maps a media range to a format and its specificity (2 exact,
 * 1 type/'*', 0 for '*' / '*'); -1 when it names none of ours. */
static int pt_media(const char *m, size_t n, int *specific) {
  static const struct {
    const char *type;
    int format, specific;
  } media[] = {
      {"application/openmetrics-text", QFX_FMT_OM, 2},
      {"text/plain", QFX_FMT_PROM, 2},
      {"application/json", QFX_FMT_JSON, 2},
      {"application/*", QFX_FMT_JSON, 1},
      {"text/*", QFX_FMT_PROM, 1},
      {"*/*", QFX_FMT_JSON, 0},
  };
  for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
    if (strlen(media[i].type) == n && strncasecmp(m, media[i].type, n) == 0) {
      *specific = media[i].specific;
      return media[i].format;
    }
  }
  return -1;
}

/* pt_accept picks the format the Accept header prefers: highest q, then
 * the most specific range, then the first listed. JSON without a match. */
static int pt_accept(const char *accept) {
  int best = QFX_FMT_JSON, best_q = -1, best_spec = -1, q, spec;
  const char *s = accept != NULL ? accept : "", *tok;
  size_t n;
  while (qfx_header_next(&s, &tok, &n, &q)) {
    int fmt = pt_media(tok, n, &spec);
    if (fmt >= 0 && q > 0 &&
        (q > best_q || (q == best_q && spec > best_spec))) {
      best = fmt;
      best_q = q;
      best_spec = spec;
    }
  }
  return best;
}

int qfx_metrics_format(const char *accept, const char *format) {
  if (format != NULL) {
    if (strcmp(format, "json") == 0)
      return QFX_FMT_JSON;
    if (strcmp(format, "prometheus") == 0)
      return QFX_FMT_PROM;
    if (strcmp(format, "openmetrics") == 0)
      return QFX_FMT_OM;
    return -1;
  }
  return pt_accept(accept);
}
