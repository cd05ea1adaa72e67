/* project_span.c: project.json's issue list cut into the blocks the
 * index keeps while qf_json_scan streams it (a window at a time from the
 * file: the exporter holds a window and the blocks it parses, not the
 * file, 35.6 MB at 100,000 issues). */
#include "project_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void qfx_scan_free(qfx_scan_t *sc) {
  free(sc->v);
  qf_buf_free(&sc->rest);
  memset(sc, 0, sizeof(*sc));
}

/* The scan under way: the blocks so far and the one being cut. */
typedef struct sp_cut_s {
  qfx_scan_t *out;
  qfx_cand_t cur;
} sp_cut_t;

/* sp_push appends the block being cut to the blocks. */
static int sp_push(sp_cut_t *c) {
  qfx_scan_t *o = c->out;
  void *v = o->v;
  int rc = qf_array_room(&v, &o->cap, o->n, sizeof(*o->v), 64);
  o->v = v;
  if (rc == 0)
    o->v[o->n++] = c->cur;
  c->cur = (qfx_cand_t){0};
  return rc;
}

/* sp_element takes the list's element text[0, len), at `at` in the file:
 * an issue joins the block being cut; anything else is in no block, but
 * must parse. */
static int sp_element(const char *text, size_t at, size_t len, void *ctx) {
  sp_cut_t *cut = ctx;
  if (*text != '{')
    return qf_json_check(text, len) == 0 ? 0 : -EAGAIN;
  qfx_cand_t *c = &cut->cur;
  if (len > UINT32_MAX - c->src)
    return -EAGAIN;
  uint64_t h = qfx_block_hash(text, len);
  if (c->n == 0)
    c->start = at;
  c->end = at + len;
  c->hash = qfx_block_join(c->hash, h);
  c->src += (uint32_t)len;
  return qfx_block_cut(++c->n, h) ? sp_push(cut) : 0;
}

int qfx_scan(const qf_src_t *src, qfx_scan_t *sc) {
  memset(sc, 0, sizeof(*sc));
  sc->rest = (qf_buf_t)QF_BUF_INIT;
  sp_cut_t cut = {.out = sc};
  int rc = qf_json_scan(src, "issues", sp_element, &cut, &sc->rest);
  if (rc == 0 && cut.cur.n > 0)
    rc = sp_push(&cut);
  return rc;
}
