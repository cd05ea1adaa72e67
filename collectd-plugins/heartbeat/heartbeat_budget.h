/* heartbeat_budget.h: a backend's request budget (RequestLimit requests in
 * any RequestWindow seconds) across restarts and against live heartbeats.
 *
 * - The start times of the window's requests are kept in
 *   StateDir/heartbeat_spool/<backend>.budget (rewritten atomically after
 *   every request, at most one line per request the window can hold) and
 *   read back at start, so restarts never reset the count. A
 *   RateLimit-Policy the backend announced (a second limit, learned from a
 *   429) is kept in the same file and read back with them.
 * - Live heartbeats need ceil(RequestWindow / Interval) requests per
 *   window. The budget is short when it cannot carry them: the Interval
 *   is too short for RequestLimit (for good), or the window's limit is
 *   used up (by a replay, or before a restart) as a live heartbeat comes.
 *   A short budget is said once per episode; when the Interval is too
 *   short, the newest heartbeat goes first, at most one request per
 *   RequestWindow / RequestLimit seconds, and older ones waiting are
 *   superseded (each stays in the JSON-lines log): a backlog could never
 *   be replayed anyway. A used-up window only delays: Replay "all" keeps
 *   every heartbeat, in order. */
#ifndef HEARTBEAT_BUDGET_H
#define HEARTBEAT_BUDGET_H

#include "heartbeat_deliver.h"

#include <stdbool.h>
#include <stddef.h>

#define HB_BUDGET_MAGIC "QFBUDGET1"
/* The optional second line: the RateLimit-Policy the backend announced
 * ("learned 100 900.000"). */
#define HB_BUDGET_LEARNED "learned"
#define HB_BUDGET_SUFFIX ".budget"
/* Bytes per stored request time, for the read bound. */
#define HB_BUDGET_LINE_MAX 32

/* hb_budget_live_need is how many requests live heartbeats need per
 * window: ceil(window / live_interval); 0 without a limit or interval. */
int hb_budget_live_need(const hb_policy_t *p);

/* hb_budget_carries_live tells whether the limit can carry the live
 * heartbeats alone (always true without a limit). */
bool hb_budget_carries_live(const hb_policy_t *p);

/* hb_budget_short tells whether the budget cannot carry the live
 * heartbeats at now: not at all (hb_budget_carries_live), or because the
 * window's limit is already used up. */
bool hb_budget_short(const hb_deliver_t *d, double now);

/* hb_budget_render writes the request times of d still inside the window
 * as wall-clock seconds (mono_now and wall_now are the same instant on
 * both clocks) into a new buffer the caller frees: the magic line, then
 * the learned RateLimit-Policy if any ("learned <limit> <window>"), then
 * one time per line, oldest first, as far back as hb_deliver_span.
 * 0 or -ENOMEM. */
int hb_budget_render(const hb_deliver_t *d, double mono_now, double wall_now,
                     char **out, size_t *len);

/* hb_budget_load takes back the learned RateLimit-Policy of a rendered
 * file into d and records its times as requests (converted to the
 * monotonic clock), skipping those older than hb_deliver_span (the learned
 * window counts) and taking a time in the future (the clock went back) as
 * now; *loaded gets their number. A line that is not a time (the torn
 * last line of a crash while writing) ends the list: the times before it
 * count. -EINVAL, d untouched, when text is not such a file: no magic
 * line, or a broken "learned" line. */
int hb_budget_load(hb_deliver_t *d, const char *text, double mono_now,
                   double wall_now, size_t *loaded);

#endif
