/* heartbeat_attention.c: the "attention" object (see the header). */
#include "heartbeat_attention.h"

#include <math.h>
#include <stdio.h>

/* hba_count is collectd's count-<status> value, else agents.json's
 * counts.<status>, else NAN (as the body's agent counts). */
static double hba_count(const hb_body_in_t *in, int i) {
  if (!isnan(in->fig->agents[i]))
    return in->fig->agents[i];
  long long v;
  yajl_val counts = qf_json_get(in->agents, "counts");
  if (qf_json_get_int(counts, hb_agent_status_names[i], &v) == 0 && v >= 0)
    return (double)v;
  return NAN;
}

typedef struct hba_list_s {
  char text[HB_ATTENTION_MAX][96];
  size_t n;
} hba_list_t;

/* hba_add appends "<n> <one|many> <what>" when n > 0 (and room is left). */
static void hba_add(hba_list_t *l, unsigned long long n, const char *one,
                    const char *many, const char *what) {
  if (n == 0 || l->n >= HB_ATTENTION_MAX)
    return;
  snprintf(l->text[l->n++], sizeof(l->text[0]), "%llu %s %s", n,
           n == 1 ? one : many, what);
}

/* hba_agents adds the failed, dead and stale agents. */
static void hba_agents(hba_list_t *l, const hb_body_in_t *in) {
  static const int troubled[] = {HB_AG_FAILED, HB_AG_DEAD, HB_AG_STALE};
  for (size_t i = 0; i < sizeof(troubled) / sizeof(troubled[0]); i++) {
    double n = hba_count(in, troubled[i]);
    if (!isnan(n) && n > 0)
      hba_add(l, (unsigned long long)llround(n), "agent", "agents",
              hb_agent_status_names[troubled[i]]);
  }
}

void hb_attention_write(qf_jw_t *w, const hb_body_in_t *in) {
  hba_list_t l = {.n = 0};
  if (!in->offline && !hb_figures_complete(in->fig) && l.n < HB_ATTENTION_MAX)
    snprintf(l.text[l.n++], sizeof(l.text[0]),
             "cpu, memory or disk not read from collectd");
  hba_agents(&l, in);
  if (in->project != NULL && in->project->n_flagged > 0)
    hba_add(&l, (unsigned long long)in->project->n_flagged, "issue",
            "issues", "flagged for a human");
  hba_add(&l, in->backlog, "heartbeat", "heartbeats", "waiting in the spool");
  hba_add(&l, in->set_aside, "heartbeat", "heartbeats",
          "set aside (refused by a backend)");
  if (in->budget_exhausted && l.n < HB_ATTENTION_MAX)
    snprintf(l.text[l.n++], sizeof(l.text[0]),
             "request budget cannot carry every heartbeat");
  qf_jw_key(w, "attention"); /* BEGIN attention */
  qf_jw_obj_open(w);
  qf_jw_kbool(w, "needed", l.n > 0);
  qf_jw_key(w, "reasons");
  qf_jw_arr_open(w);
  for (size_t i = 0; i < l.n; i++)
    qf_jw_str(w, l.text[i]);
  qf_jw_arr_close(w);
  qf_jw_obj_close(w); /* END attention */
}
