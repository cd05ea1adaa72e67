/* heartbeat_budget.c: the request budget across restarts and against live
 * heartbeats (see the header). */
#include "heartbeat_budget.h"

#include "qf_buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int hb_budget_live_need(const hb_policy_t *p) {
  if (p->limit <= 0 || p->window <= 0.0 || p->live_interval <= 0.0)
    return 0;
  double need = ceil(p->window / p->live_interval - 1e-9);
  return need > (double)HB_LEARNED_MAX ? HB_LEARNED_MAX : (int)need;
}

bool hb_budget_carries_live(const hb_policy_t *p) {
  return p->limit <= 0 || hb_budget_live_need(p) <= p->limit;
}

bool hb_budget_short(const hb_deliver_t *d, double now) {
  if (d->p.limit <= 0)
    return false;
  return !hb_budget_carries_live(&d->p) ||
         hb_deliver_window_count(d, now, d->p.window) >= (size_t)d->p.limit;
}

int hb_budget_render(const hb_deliver_t *d, double mono_now, double wall_now,
                     char **out, size_t *len) {
  qf_buf_t b = QF_BUF_INIT;
  int status = qf_buf_puts(&b, HB_BUDGET_MAGIC "\n");
  if (status == 0 && d->learned_limit > 0)
    status = qf_buf_printf(&b, HB_BUDGET_LEARNED " %d %.3f\n", d->learned_limit,
                           d->learned_window);
  double window = hb_deliver_span(d);
  for (size_t k = d->win.n; k >= 1 && status == 0; k--) {
    double t = d->win.t[(d->win.first + d->win.n - k) % d->win.cap];
    if (t > mono_now - window)
      status = qf_buf_printf(&b, "%.3f\n", wall_now - (mono_now - t));
  }
  if (status != 0) {
    qf_buf_free(&b);
    return -ENOMEM;
  }
  *out = qf_buf_steal(&b, len);
  return *out == NULL ? -ENOMEM : 0;
}

/* hbg_learned reads the optional "learned <limit> <window>" line at *p
 * into d and moves *p past it. 0, or -EINVAL when the line is broken. */
static int hbg_learned(hb_deliver_t *d, const char **p) {
  size_t klen = strlen(HB_BUDGET_LEARNED " ");
  if (strncmp(*p, HB_BUDGET_LEARNED " ", klen) != 0)
    return 0;
  char *stop;
  long limit = strtol(*p + klen, &stop, 10);
  if (stop == *p + klen || *stop != ' ')
    return -EINVAL;
  const char *w = stop + 1;
  double window = strtod(w, &stop);
  if (stop == w || *stop != '\n' || limit > HB_LEARNED_MAX ||
      hb_deliver_learn(d, (int)limit, window) != 0)
    return -EINVAL;
  *p = stop + 1;
  return 0;
}

int hb_budget_load(hb_deliver_t *d, const char *text, double mono_now,
                   double wall_now, size_t *loaded) {
  *loaded = 0;
  size_t mlen = strlen(HB_BUDGET_MAGIC);
  if (text == NULL || strncmp(text, HB_BUDGET_MAGIC, mlen) != 0 ||
      text[mlen] != '\n')
    return -EINVAL;
  const char *p = text + mlen + 1;
  if (hbg_learned(d, &p) != 0)
    return -EINVAL;
  double span = hb_deliver_span(d);
  double prev = -INFINITY;
  while (*p != '\0') {
    char *stop;
    double wall = strtod(p, &stop);
    if (stop == p || *stop != '\n' || !isfinite(wall))
      break; /* a torn last line (a crash while writing) ends the list */
    p = stop + 1;
    double age = fmax(wall_now - wall, 0.0);
    if (age >= span)
      continue;
    double t = fmax(mono_now - age, prev); /* keep them in order */
    hb_deliver_started(d, t);
    prev = t;
    (*loaded)++;
  }
  return 0;
}
