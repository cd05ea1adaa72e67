/* heartbeat_seq.h: heartbeat ids that only grow, across restarts and
 * across processes sharing a StateDir (the daemon and a one-shot check). */
#ifndef HEARTBEAT_SEQ_H
#define HEARTBEAT_SEQ_H

#include <stddef.h>
#include <time.h>

#define HB_SEQ_FILE "heartbeat_seq"

/* hb_seq_next reserves the next id in dir/heartbeat_seq under an exclusive
 * lock: one above the stored id and above floor (the newest id a spool
 * holds). When the file is missing or unreadable the count starts from
 * now in milliseconds, so a lost file never makes ids repeat (receivers
 * de-duplicate by id). 0 or a negative errno with err set. */
int hb_seq_next(const char *dir, long long floor, time_t now, long long *id,
                char *err, size_t errlen);

#endif
