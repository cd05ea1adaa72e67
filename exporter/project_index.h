/* project_index.h: building a project's issue index, for project*.c only:
 * issues rendered and classified one at a time into compressed blocks
 * that end where qfx_block_cut says, or blocks taken whole from an
 * earlier version; then the per-filter counts and the human list. */
#ifndef QFX_PROJECT_INDEX_H
#define QFX_PROJECT_INDEX_H

#include "project.h"
#include "qf_buf.h"
#include "qf_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qfx_ix_s {
  qfx_project_t *p;  /* receives the index; owns it from the start */
  qf_jw_t w;         /* one issue at a time */
  qf_buf_t raw;      /* the fragments of the block being filled */
  qf_buf_t z;        /* the compressed blocks, back to back */
  qf_buf_t hum[2];   /* the human entries (qfx_project_t's hum) */
  size_t cap;        /* room in p->classes */
  size_t cap_blocks; /* room in p->blocks */
  size_t open;       /* issues in the block being filled */
  qfx_block_t cur;   /* the block being filled */
} qfx_ix_t;

/* qfx_ix_init starts indexing into p (no issues yet). 0 or -ENOMEM; call
 * qfx_ix_free either way. */
int qfx_ix_init(qfx_ix_t *b, qfx_project_t *p);
/* qfx_ix_add indexes one issue (an object of project.json's issue list)
 * whose text there is src bytes hashing to hash (qfx_block_hash), and
 * ends the block when qfx_block_cut says. 0, -EOVERFLOW or -ENOMEM. */
int qfx_ix_add(qfx_ix_t *b, yajl_val issue, uint64_t hash, size_t src);
/* qfx_ix_copy appends block k of from, whole, as the next block; no block
 * may be open (-EINVAL). 0, -EOVERFLOW or -ENOMEM. */
int qfx_ix_copy(qfx_ix_t *b, const qfx_project_t *from, size_t k);
/* qfx_ix_finish ends the last block and makes the counts, the trigger
 * totals and p->human. 0, -EOVERFLOW or -ENOMEM. */
int qfx_ix_finish(qfx_ix_t *b);
/* qfx_ix_free frees what the builder holds (never what p does). */
void qfx_ix_free(qfx_ix_t *b);

/* qfx_ix_matches tells whether an issue of class c (p->classes) passes
 * the filter (status, flagged). */
bool qfx_ix_matches(uint8_t c, int status, int flagged);

/* qfx_kstr_of writes obj[key] when it is a string, else null;
 * qfx_knum_of the same for a number. */
void qfx_kstr_of(qf_jw_t *w, yajl_val obj, const char *key);
void qfx_knum_of(qf_jw_t *w, yajl_val obj, const char *key);

/* A block of a new list: its issues' text, [start, end) of the source
 * (separators within), and what identifies it. */
typedef struct qfx_cand_s {
  size_t start, end;
  uint32_t n, src; /* issues, and their bytes (separators not counted) */
  uint64_t hash;   /* as qfx_ix_add accumulates it */
} qfx_cand_t;

/* What qfx_scan found: the issue list cut into blocks as the index cuts
 * them (qfx_block_cut), and the document's text with "[]" for the list. */
typedef struct qfx_scan_s {
  qfx_cand_t *v;
  size_t n, cap;
  qf_buf_t rest;
} qfx_scan_t;

/* qfx_scan scans project.json's text in src: the top-level object's one
 * "issues" member, an array, cut into blocks of its objects (elements
 * that are no objects are in no block, but must parse). 0; -EAGAIN when
 * the text does not scan so (the full build then says why: no object, no
 * or two lists, a key written with escapes, text that does not parse);
 * -EIO; -ENOMEM. Call qfx_scan_free either way. */
int qfx_scan(const qf_src_t *src, qfx_scan_t *sc);
void qfx_scan_free(qfx_scan_t *sc);
/* qfx_delta_index fills p's issue data from the blocks sc cut of a new
 * version of project.json (text in src), taking from owner (the project
 * holding the last version's issue data; NULL: none) every block whose
 * issues' text is unchanged and parsing the others. 0; -EAGAIN when a
 * block does not parse (qfx_project_build then says why); -EOVERFLOW;
 * -EIO; -ENOMEM. */
int qfx_delta_index(qfx_project_t *p, qfx_project_t *owner, const qf_src_t *src,
                    const qfx_scan_t *sc);
/* qfx_project_share makes p use owner's issue data (a reference is
 * taken). 0 or -ENOMEM. */
int qfx_project_share(qfx_project_t *p, qfx_project_t *owner);

#endif
