/* project.h: the project endpoints, built once per change of project.json:
 * /project/completion rendered whole, and /project/issues as pre-rendered
 * issue fragments (kept compressed, a block of issues at a time) with a
 * class byte per issue and per-block counts for each filter combination,
 * so a request inflates only the blocks its page lies in (pages are cached
 * as they are asked for). Blocks end where the issues' own text says
 * (qfx_block_cut), so a new version of project.json keeps every block
 * whose issues it holds unchanged and indexes only the others; one whose
 * issue list is unchanged shares the previous one's blocks. */
#ifndef QFX_PROJECT_H
#define QFX_PROJECT_H

#include "response.h"
#include "qf_buf.h"
#include "qf_json.h"
#include "render_json.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#define QFX_ISSUES_LIMIT_DEFAULT 20
#define QFX_ISSUES_LIMIT_MAX 100
#define QFX_ISSUES_PAGE_MAX 1000000
#define QFX_QUERY_MAX 16   /* query parameters looked at per request */
#define QFX_PAGE_CACHE 128 /* pages kept per project.json version... */
#define QFX_PAGE_CACHE_BYTES (1u << 20) /* ...in at most this many bytes */
/* Issues per compressed block of fragments: a block ends after an issue
 * whose text hashes to a multiple of QFX_BLOCK_SPREAD once it holds
 * QFX_BLOCK_MIN issues, and at QFX_BLOCK_MAX whatever the hash (about
 * QFX_BLOCK_MIN + QFX_BLOCK_SPREAD issues on average). */
#define QFX_BLOCK_MIN 32
#define QFX_BLOCK_SPREAD 96
#define QFX_BLOCK_MAX 384

/* Status filters of /project/issues, in the order of their names. */
enum {
  QFX_IS_OPEN,
  QFX_IS_CLOSED,
  QFX_IS_ALL,
  QFX_IS_READY,
  QFX_IS_IN_PROGRESS,
  QFX_IS_BLOCKED,
  QFX_IS_DONE,
  QFX_IS_N
};
/* Flag filters: absent, true, false. */
enum { QFX_IF_ANY, QFX_IF_TRUE, QFX_IF_FALSE, QFX_IF_N };
extern const char *const qfx_issue_status_names[QFX_IS_N];

typedef struct qfx_kv_s {
  const char *key;
  const char *value; /* NULL for "?key" without '=' */
} qfx_kv_t;

typedef struct qfx_issues_query_s {
  long page, limit;
  int status;  /* QFX_IS_* */
  int flagged; /* QFX_IF_* */
} qfx_issues_query_t;

/* qfx_query_empty tells whether kv is an empty parameter: nothing between
 * two '&' (or at either end of the query), no name and no '='. Empty
 * parameters are ignored everywhere, so "?limit=5&", "?&limit=5" and
 * "?&&" are all fine; "?=5" has a value and is not empty. */
bool qfx_query_empty(const qfx_kv_t *kv);

/* qfx_issues_query_parse validates the query parameters of
 * /project/issues (defaults: page 1, limit 20, status all, any flag),
 * skipping empty ones (qfx_query_empty). 0, or -EINVAL with
 * "<parameter>: <why>" in err for an unknown, repeated, nameless,
 * valueless, malformed or out-of-range parameter. */
int qfx_issues_query_parse(const qfx_kv_t *kv, size_t n, qfx_issues_query_t *q,
                           char *err, size_t errlen);

typedef struct qfx_page_s {
  qfx_issues_query_t q;
  qfx_response_t e;
} qfx_page_t;

/* One compressed block of issue fragments. A project's blocks array has
 * one entry more than it has blocks, past the last one: its first, zoff
 * and hum are the totals. */
typedef struct qfx_block_s {
  uint64_t hash;   /* its issues' text in project.json (qfx_block_hash) */
  uint32_t first;  /* its first issue; the next block's first ends it */
  uint32_t zoff;   /* its compressed text: z[zoff, the next block's zoff) */
  uint32_t raw;    /* its text's length, inflated */
  uint32_t src;    /* its issues' bytes in project.json */
  uint32_t hum[2]; /* where its entries start in hum[0] and hum[1] */
  uint16_t trig[QFX_TRIGGERS]; /* its flagged issues per trigger */
} qfx_block_t;

typedef struct qfx_project_s {
  atomic_int refs;
  yajl_val doc; /* project.json without its issue list; NULL: none yet */
  size_t nissues, nflagged;
  long long flagged_by_trigger[QFX_TRIGGERS]; /* see qfx_trigger_names */
  /* The issue list, an issue's JSON object a line, in blocks (see
   * qfx_block_t), each zlib-compressed, back to back in z. Fragments
   * never hold a raw newline (the JSON writer escapes it). */
  unsigned char *z;
  qfx_block_t *blocks; /* nblocks + 1 */
  size_t nblocks;
  size_t nreused;   /* blocks taken whole from the previous version */
  uint32_t max_raw; /* the longest block text */
  size_t raw_bytes; /* the fragments' bytes, all blocks */
  uint8_t *classes; /* nissues: what the filters read of each issue */
  /* count[s][f][k]: the issues passing filter (s, f) in blocks [0, k);
   * nblocks + 1 entries, the last the filter's total. */
  uint32_t *count[QFX_IS_N][QFX_IF_N];
  /* The flagged issues' issues_requiring_human_intervention entries, each
   * followed by a ',': critical ones in hum[0], the others in hum[1]. */
  char *hum[2];
  qfx_response_t completion; /* the /project/completion response */
  /* issues_requiring_human_intervention, a JSON array (critical first) */
  char *human;
  size_t human_len;
  qfx_headers_t headers;
  /* An overlay (qfx_project_overlay) holds a reference to the project it
   * extends and shares its doc and issue data; NULL else. */
  struct qfx_project_s *base;
  /* A project updated with its issue list unchanged holds a reference to
   * the one owning the issue data (z .. count) and shares it; NULL else. */
  struct qfx_project_s *issues_of;
  pthread_mutex_t lock; /* guards npages and cached_bytes; pages[i <
                         * npages] never change */
  size_t npages, cached_bytes;
  qfx_page_t pages[QFX_PAGE_CACHE];
} qfx_project_t;

/* qfx_project_build indexes project.json's text[0, len) (NULL: there is
 * no project.json yet) an issue at a time, never holding its issue list as
 * one tree, and renders /project/completion; *out receives the project
 * (one reference). 0; -EINVAL when the text is not a JSON object and
 * -EOVERFLOW when it holds more issue text than 4 GiB (why in err);
 * -ENOMEM. */
int qfx_project_build(const char *text, size_t len, const qfx_headers_t *h,
                      qfx_project_t **out, char *err, size_t errlen);
/* qfx_project_update_src is qfx_project_update for project.json's text in
 * src. From a file the text is scanned a window at a time and only the
 * blocks parsed again are read whole; the file is read whole only when
 * its text does not scan (the full build then says what is wrong). */
int qfx_project_update_src(qfx_project_t *prev, const qf_src_t *src,
                           const qfx_headers_t *h, qfx_project_t **out,
                           char *err, size_t errlen);
/* qfx_project_update is qfx_project_build for a new version of
 * project.json when prev (may be NULL) is the project built from the last
 * one: the blocks whose issues' text is unchanged are taken from prev and
 * only the others are parsed and indexed (when every one is unchanged,
 * the issues are shared with prev and only the rest of the document is
 * parsed). The result is the one qfx_project_build gives. */
int qfx_project_update(qfx_project_t *prev, const char *text, size_t len,
                       const qfx_headers_t *h, qfx_project_t **out, char *err,
                       size_t errlen);
/* qfx_project_count is how many issues pass filter (status, flagged). */
size_t qfx_project_count(const qfx_project_t *p, int status, int flagged);
/* qfx_block_hash hashes one issue's text in project.json; equal texts
 * hash equally, and every bit of the result depends on every byte. */
uint64_t qfx_block_hash(const char *text, size_t len);
/* qfx_block_join is the hash of a block (0 when empty) after one more
 * issue whose text hashed to issue. */
uint64_t qfx_block_join(uint64_t block, uint64_t issue);
/* qfx_block_cut tells whether a block holding n issues, the last of which
 * hashed to h, ends there (see QFX_BLOCK_MIN). */
bool qfx_block_cut(size_t n, uint64_t h);

/* qfx_project_overlay makes *out: base (a reference is taken) with the
 * JSON array elements extra[0, len) (objects of the
 * issues_requiring_human_intervention shape, "" for none) appended to its
 * issues_requiring_human_intervention, and /project/completion rendered
 * again with them. The issue list and figures stay base's. 0 or -ENOMEM. */
int qfx_project_overlay(qfx_project_t *base, const char *extra, size_t len,
                        qfx_project_t **out);
/* qfx_project_ref takes one more reference. */
qfx_project_t *qfx_project_ref(qfx_project_t *p);
/* qfx_project_release drops one; the last frees p. NULL is ignored. */
void qfx_project_release(qfx_project_t *p);

/* qfx_project_page renders one /project/issues body into a new buffer the
 * caller frees. 0 or -ENOMEM. */
int qfx_project_page(const qfx_project_t *p, const qfx_issues_query_t *q,
                     char **body, size_t *len);
/* qfx_project_queue_page answers c with the page, from the cache when it
 * was asked for before. */
enum MHD_Result qfx_project_queue_page(qfx_project_t *p,
                                       const qfx_issues_query_t *q,
                                       struct MHD_Connection *c);

#endif
