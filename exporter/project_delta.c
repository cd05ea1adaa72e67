/* project_delta.c: a new version of project.json's issue list indexed
 * against the last one. The list's text is cut into blocks by the rule
 * the index itself follows (qfx_block_cut of each issue's text hash)
 * without parsing it; a block whose issues' text the last version held
 * too is copied from it whole, the others are parsed and indexed. So the
 * cost follows the change: a blocked duration moving by 0.1 h re-indexes
 * the block around that issue, a new issue the one it joins. */
#include "project_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A block of the new list: its issues' text and what identifies it. */
typedef struct pd_cand_s {
  size_t start, end; /* the text from its first issue to its last */
  uint32_t n, src;   /* issues, and their bytes (separators not counted) */
  uint64_t hash;     /* as qfx_ix_add accumulates it */
} pd_cand_t;

typedef struct pd_cands_s {
  pd_cand_t *v;
  size_t n, cap;
} pd_cands_t;

/* pd_push appends c to the blocks. 0 or -ENOMEM. */
static int pd_push(pd_cands_t *cs, const pd_cand_t *c) {
  void *v = cs->v;
  int rc = qf_array_room(&v, &cs->cap, cs->n, sizeof(*c), 64);
  cs->v = v;
  if (rc == 0)
    cs->v[cs->n++] = *c;
  return rc;
}

/* pd_cut cuts the list text[0, len) into blocks of its objects (other
 * elements are no issues). 0; -EAGAIN when the text does not scan or an
 * element that is no object does not parse; -ENOMEM. */
static int pd_cut(const char *text, size_t len, pd_cands_t *cs) {
  pd_cand_t c = {0};
  size_t at = 0, s, e;
  int more, rc = 0;
  while (rc == 0 && (more = qfx_array_next(text, len, &at, &s, &e)) == 1) {
    if (text[s] != '{') { /* no issue: in no block, but it must parse */
      if (qf_json_check(text + s, e - s) != 0)
        return -EAGAIN;
      continue;
    }
    if (e - s > UINT32_MAX - c.src)
      return -EAGAIN;
    uint64_t h = qfx_block_hash(text + s, e - s);
    if (c.n == 0)
      c.start = s;
    c.end = e;
    c.hash = qfx_block_join(c.hash, h);
    c.src += (uint32_t)(e - s);
    if (qfx_block_cut(++c.n, h)) {
      rc = pd_push(cs, &c);
      c = (pd_cand_t){0};
    }
  }
  if (rc == 0 && more != 0)
    rc = -EAGAIN;
  if (rc == 0 && c.n > 0)
    rc = pd_push(cs, &c);
  return rc;
}

/* pd_same tells whether block k of owner holds the issues c stands for. */
static bool pd_same(const qfx_project_t *owner, size_t k, const pd_cand_t *c) {
  const qfx_block_t *b = &owner->blocks[k];
  return b->hash == c->hash && b->src == c->src &&
         b[1].first - b->first == c->n;
}

/* pd_unchanged tells whether the new blocks are owner's, all of them. */
static bool pd_unchanged(const qfx_project_t *owner, const pd_cands_t *cs) {
  if (cs->n != owner->nblocks)
    return false;
  for (size_t k = 0; k < cs->n; k++)
    if (!pd_same(owner, k, &cs->v[k]))
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
  size_t size = 16;
  while (size < 2 * owner->nblocks)
    size *= 2;
  t->slot = calloc(size, sizeof(*t->slot));
  t->mask = size - 1;
  if (t->slot == NULL)
    return -ENOMEM;
  for (size_t k = 0; k < owner->nblocks; k++) {
    size_t i = owner->blocks[k].hash & t->mask;
    while (t->slot[i] != 0)
      i = (i + 1) & t->mask;
    t->slot[i] = (uint32_t)k + 1;
  }
  return 0;
}

/* pd_find is the block of owner holding c's issues, or -1. */
static long pd_find(const qfx_project_t *owner, const pd_table_t *t,
                    const pd_cand_t *c) {
  for (size_t i = c->hash & t->mask; t->slot[i] != 0; i = (i + 1) & t->mask)
    if (pd_same(owner, t->slot[i] - 1, c))
      return (long)t->slot[i] - 1;
  return -1;
}

/* pd_issue parses and indexes the issue text[0, len). */
static int pd_issue(qfx_ix_t *b, const char *text, size_t len, qf_buf_t *buf) {
  qf_buf_reset(buf);
  if (qf_buf_append(buf, text, len) != 0)
    return -ENOMEM;
  yajl_val it = qf_json_parse(buf->data, NULL, 0);
  int rc = YAJL_IS_OBJECT(it)
               ? qfx_ix_add(b, it, qfx_block_hash(text, len), len)
               : -EAGAIN; /* does not parse: the full build says why */
  yajl_tree_free(it);
  return rc;
}

/* pd_check checks block c of the list text as the full build's parser
 * would (no comments, UTF-8 strings): -EAGAIN when it is no JSON. */
static int pd_check(const char *text, const pd_cand_t *c, qf_buf_t *buf) {
  qf_buf_reset(buf);
  int rc = qf_buf_puts(buf, "[");
  if (rc == 0)
    rc = qf_buf_append(buf, text + c->start, c->end - c->start);
  if (rc == 0)
    rc = qf_buf_puts(buf, "]");
  if (rc != 0)
    return -ENOMEM;
  return qf_json_check(buf->data, buf->len) == 0 ? 0 : -EAGAIN;
}

/* pd_parse indexes the issues of block c of the list text. */
static int pd_parse(qfx_ix_t *b, const char *text, const pd_cand_t *c,
                    qf_buf_t *buf) {
  int rc = pd_check(text, c, buf);
  size_t s = c->start;
  for (uint32_t j = 0; rc == 0 && j < c->n;) {
    while (s < c->end && /* blanks, ',' and blanks */
           (text[s] == ',' || text[s] == ' ' || text[s] == '\t' ||
            text[s] == '\r' || text[s] == '\n'))
      s++;
    size_t e = qfx_value_end(text, c->end, s);
    if (e == s)
      return -EAGAIN;
    if (text[s] == '{') { /* an issue; the rest was checked by pd_cut */
      rc = pd_issue(b, text + s, e - s, buf);
      j++;
    }
    s = e;
  }
  return rc;
}

/* pd_build indexes the blocks cs into p: owner's where it has them. */
static int pd_build(qfx_project_t *p, qfx_project_t *owner, const char *text,
                    const pd_cands_t *cs) {
  pd_table_t t = {0};
  qfx_ix_t b;
  qf_buf_t buf = QF_BUF_INIT;
  int rc = qfx_ix_init(&b, p);
  if (rc == 0)
    rc = pd_table(owner, &t);
  for (size_t k = 0; rc == 0 && k < cs->n; k++) {
    long from = pd_find(owner, &t, &cs->v[k]);
    rc = from >= 0 ? qfx_ix_copy(&b, owner, (size_t)from)
                   : pd_parse(&b, text, &cs->v[k], &buf);
  }
  if (rc == 0)
    rc = qfx_ix_finish(&b);
  qfx_ix_free(&b);
  qf_buf_free(&buf);
  free(t.slot);
  return rc;
}

int qfx_delta_index(qfx_project_t *p, qfx_project_t *owner, const char *text,
                    size_t len) {
  pd_cands_t cs = {0};
  int rc = pd_cut(text, len, &cs);
  if (rc == 0 && pd_unchanged(owner, &cs))
    rc = qfx_project_share(p, owner);
  else if (rc == 0)
    rc = pd_build(p, owner, text, &cs);
  free(cs.v);
  return rc;
}
