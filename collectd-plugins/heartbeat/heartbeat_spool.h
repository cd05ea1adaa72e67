/* heartbeat_spool.h: a durable FIFO of heartbeats per backend.
 *
 * Records are appended to <dir>/<name>.spool, each as a header line
 * "QFHB1 <id> <length> <crc32>\n", the body, and "\n", and fsync'd before
 * the append returns. <dir>/<name>.done holds the id of the newest record
 * that is finished (delivered or dropped); ids only grow, so a record is
 * pending exactly when its id is above it. That makes every step
 * crash-safe: a torn tail record is cut off when the spool is opened, and a
 * crash between a delivery and the .done update only repeats that one
 * heartbeat, which receivers de-duplicate by heartbeat_id. The file is
 * compacted once the finished prefix outweighs what is still pending.
 *
 * A record the backend refuses for a reason of its own is set aside: one
 * JSON line in <dir>/rejected/<name>.jsonl (see hb_spool_set_aside), then
 * finished like a delivered one, so it never holds back the records behind
 * it. A crash between the two steps sets it aside twice at worst. */
#ifndef HEARTBEAT_SPOOL_H
#define HEARTBEAT_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

typedef struct hb_spool_rec_s {
  long long id;
  off_t off;   /* where the body starts in the file */
  size_t len;  /* body length */
  size_t size; /* the whole framed record */
} hb_spool_rec_t;

/* Bound on <name>.jsonl: a line that would pass it first renames the file
 * to <name>.jsonl.1 (replacing the older one), so at most twice this. */
#define HB_REJECTED_MAX ((size_t)1 << 20)

typedef struct hb_spool_s {
  char *path, *done_path;
  char *rejected_dir, *rejected_path; /* <dir>/rejected/<name>.jsonl */
  int fd;
  hb_spool_rec_t *recs; /* pending records, oldest first: recs[head..] */
  size_t head, count, cap;
  size_t bytes;     /* framed size of the pending records */
  size_t max_bytes; /* bound on bytes; 0: unbounded */
  off_t end;        /* where the next record goes */
  long long done_id;
  long long max_id; /* newest id ever seen here */
  unsigned long long dropped;
} hb_spool_t;

/* hb_spool_open opens (creating) the spool of one backend in dir and loads
 * the pending records. A torn or corrupt tail is cut off, its size put in
 * *discarded (bytes). 0 or a negative errno with a message in err. */
int hb_spool_open(hb_spool_t *s, const char *dir, const char *name,
                  size_t max_bytes, size_t *discarded, char *err,
                  size_t errlen);
/* hb_spool_close closes the file and frees everything; s may be zeroed. */
void hb_spool_close(hb_spool_t *s);

/* hb_spool_record_size is what a body of len bytes occupies, framed. */
size_t hb_spool_record_size(long long id, size_t len);

/* hb_spool_append stores a heartbeat durably. To stay under max_bytes the
 * oldest records are dropped first; their ids go to dropped_ids (up to
 * max_dropped of them) and their number to *n_dropped, all counted in
 * s->dropped. A body larger than the bound alone fails with -EFBIG.
 * 0 or a negative errno with a message in err. */
int hb_spool_append(hb_spool_t *s, long long id, const char *body, size_t len,
                    long long *dropped_ids, size_t max_dropped,
                    size_t *n_dropped, char *err, size_t errlen);

/* hb_spool_peek reads the oldest pending record into a new NUL-terminated
 * buffer the caller frees. -ENOENT when empty. */
int hb_spool_peek(hb_spool_t *s, long long *id, char **body, size_t *len,
                  char *err, size_t errlen);

/* hb_spool_pop marks the oldest pending record finished. */
int hb_spool_pop(hb_spool_t *s, char *err, size_t errlen);

/* hb_spool_supersede finishes every pending record but the newest (Replay
 * "latest": the backend keeps only the latest state, and every heartbeat
 * stays in the JSON-lines log); their number goes to *n. 0 or a negative
 * errno with a message in err. */
int hb_spool_supersede(hb_spool_t *s, size_t *n, char *err, size_t errlen);

/* hb_spool_set_aside appends the oldest pending record to the rejected
 * file as {"heartbeat_id", "set_aside_at" (t, RFC 3339), "http_status",
 * "answer", "body"} (body: the heartbeat as sent, a JSON object), fsync'd,
 * then marks it finished. 0 or a negative errno with a message in err;
 * on failure the record stays pending. */
int hb_spool_set_aside(hb_spool_t *s, long long t, long http_status,
                       const char *answer, char *err, size_t errlen);

/* hb_spool_depth is the number of pending records. */
size_t hb_spool_depth(const hb_spool_t *s);

/* hb_crc32 is the CRC-32 (IEEE) of a buffer. */
unsigned long hb_crc32(const void *p, size_t n);

#endif
