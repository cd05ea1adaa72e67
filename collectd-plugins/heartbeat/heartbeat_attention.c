/* heartbeat_attention.c: the "attention" object (see the header). */
#include "heartbeat_attention.h"

#include "qf_status.h"

#include <math.h>

void hb_attention_write(qf_jw_t *w, const hb_body_in_t *in) {
  qf_attention_t a = {.n = 0};
  if (!in->offline && !hb_figures_complete(in->fig))
    qf_attention_add(&a, "cpu, memory or disk not read from collectd");
  qf_attention_counts_t c = {
      .agents_failed = hb_body_agent_count(in, HB_AG_FAILED),
      .agents_dead = hb_body_agent_count(in, HB_AG_DEAD),
      .agents_stale = hb_body_agent_count(in, HB_AG_STALE),
      .flagged = in->project != NULL ? (double)in->project->n_flagged : 0.0,
      .backlog = (double)in->backlog,
      .set_aside = (double)in->set_aside,
      .budget_exhausted = in->budget_exhausted};
  qf_attention_counts(&a, &c);
  qf_attention_write(w, &a);
}
