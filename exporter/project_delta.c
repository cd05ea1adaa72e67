/* project_delta.c: a new version of project.json's issue list indexed
 * against the last one. qfx_scan has cut the list into blocks by the rule
 * the index itself follows (qfx_block_cut of each issue's text hash)
 * without parsing it; a block whose issues' text the last version held
 * too is copied from it whole, the others are read, parsed and indexed.
 * So the cost follows the change: a blocked duration moving by 0.1 h
 * re-indexes the block around that issue, a new issue the one it joins. */
#include "project_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* pd_same tells whether block k of owner holds the issues c stands for. */
static bool pd_same(const qfx_project_t *owner, size_t k, const qfx_cand_t *c) {
  const qfx_block_t *b = &owner->blocks[k];
  return b->hash == c->hash && b->src == c->src &&
         b[1].first - b->first == c->n;
}

/* pd_unchanged tells whether the new blocks are owner's, all of them. */
static bool pd_unchanged(const qfx_project_t *owner, const qfx_scan_t *sc) {
  if (owner == NULL || sc->n != owner->nblocks)
    return false;
  for (size_t k = 0; k < sc->n; k++)
    if (!pd_same(owner, k, &sc->v[k]))
      return false;
  return true;
}

/* Owner's blocks by hash: open addressing, block index + 1 (0: free). */
typedef struct pd_table_s {
  uint32_t *slot;
  size_t mask;
} pd_table_t;

/* pd_table indexes owner's blocks. 0 or -ENOMEM. */
static int pd_table(const qfx_project_t *owner, pd_table_t *t) {
  size_t size = 16, nblocks = owner != NULL ? owner->nblocks : 0;
  while (size < 2 * nblocks)
    size *= 2;
  t->slot = calloc(size, sizeof(*t->slot));
  t->mask = size - 1;
  if (t->slot == NULL)
    return -ENOMEM;
  for (size_t k = 0; k < nblocks; k++) {
    size_t i = owner->blocks[k].hash & t->mask;
    while (t->slot[i] != 0)
      i = (i + 1) & t->mask;
    t->slot[i] = (uint32_t)k + 1;
  }
  return 0;
}

/* pd_find is the block of owner holding c's issues, or -1. */
static long pd_find(const qfx_project_t *owner, const pd_table_t *t,
                    const qfx_cand_t *c) {
  for (size_t i = c->hash & t->mask; t->slot[i] != 0; i = (i + 1) & t->mask)
    if (pd_same(owner, t->slot[i] - 1, c))
      return (long)t->slot[i] - 1;
  return -1;
}

/* pd_issue parses and indexes the issue text[0, len). */
static int pd_issue(qfx_ix_t *b, const char *text, size_t len, qf_buf_t *buf) {
  yajl_val it;
  if (qf_json_parse_len(buf, text, len, &it) == -ENOMEM)
    return -ENOMEM;
  int rc = YAJL_IS_OBJECT(it)
               ? qfx_ix_add(b, it, qfx_block_hash(text, len), len)
               : -EAGAIN; /* does not parse: the full build says why */
  yajl_tree_free(it);
  return rc;
}

/* pd_read reads block c's text into blk as a JSON array, "[...]", and
 * checks it as the full build's parser would (no comments, UTF-8
 * strings): -EAGAIN when it is no JSON. */
static int pd_read(const qf_src_t *src, const qfx_cand_t *c, qf_buf_t *blk) {
  size_t n = c->end - c->start;
  qf_buf_reset(blk);
  if (qf_buf_reserve(blk, n + 2) != 0)
    return -ENOMEM;
  blk->data[0] = '[';
  int rc = qf_src_read(src, c->start, n, blk->data + 1);
  if (rc != 0)
    return rc;
  blk->data[n + 1] = ']';
  blk->data[n + 2] = '\0';
  blk->len = n + 2;
  return qf_json_check(blk->data, blk->len) == 0 ? 0 : -EAGAIN;
}

/* pd_parse indexes the issues of block c, read into blk. */
static int pd_parse(qfx_ix_t *b, const qf_src_t *src, const qfx_cand_t *c,
                    qf_buf_t *blk, qf_buf_t *buf) {
  int rc = pd_read(src, c, blk);
  const char *text = blk->data + 1;
  size_t s = 0, len = c->end - c->start;
  for (uint32_t j = 0; rc == 0 && j < c->n;) {
    while (s < len && /* blanks, ',' and blanks */
           (text[s] == ',' || text[s] == ' ' || text[s] == '\t' ||
            text[s] == '\r' || text[s] == '\n'))
      s++;
    size_t e = qf_json_value_end(text, len, s);
    if (e == s)
      return -EAGAIN;
    if (text[s] == '{') { /* an issue; the rest was checked by qfx_scan */
      rc = pd_issue(b, text + s, e - s, buf);
      j++;
    }
    s = e;
  }
  return rc;
}

/* pd_build indexes the blocks of sc into p: owner's where it has them. */
static int pd_build(qfx_project_t *p, qfx_project_t *owner, const qf_src_t *src,
                    const qfx_scan_t *sc) {
  pd_table_t t = {0};
  qfx_ix_t b;
  qf_buf_t buf = QF_BUF_INIT, blk = QF_BUF_INIT;
  int rc = qfx_ix_init(&b, p);
  if (rc == 0)
    rc = pd_table(owner, &t);
  for (size_t k = 0; rc == 0 && k < sc->n; k++) {
    long from = pd_find(owner, &t, &sc->v[k]);
    rc = from >= 0 ? qfx_ix_copy(&b, owner, (size_t)from)
                   : pd_parse(&b, src, &sc->v[k], &blk, &buf);
  }
  if (rc == 0)
    rc = qfx_ix_finish(&b);
  qfx_ix_free(&b);
  qf_buf_free(&buf);
  qf_buf_free(&blk);
  free(t.slot);
  return rc;
}

int qfx_delta_index(qfx_project_t *p, qfx_project_t *owner, const qf_src_t *src,
                    const qfx_scan_t *sc) {
  if (pd_unchanged(owner, sc))
    return qfx_project_share(p, owner);
  return pd_build(p, owner, src, sc);
}
