/* project_index.c: the issue index of a project, an issue at a time:
 * each issue rendered as a /project/issues item into the block being
 * filled, classified for the filters, and its human entry kept when it is
 * flagged; a block ends where its issues' text says (qfx_block_cut) and is
 * compressed, or comes whole from an earlier version (qfx_ix_copy). */
#include "project_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* zlib's level for the fragment blocks: the keys repeat in every issue,
 * so even small blocks shrink about tenfold (2.0 MB of fragments of 5,000
 * generated issues: 199 KB at level 1, 158 KB at 6 for ~4 ms more; 31 MB
 * of 74,711: 3.7 MB in blocks of 64, 3.4 MB in blocks of 128). */
#define IX_ZLEVEL Z_DEFAULT_COMPRESSION

/* What the filters read of one issue, in one byte (p->classes). */
#define IX_OPEN 1u
#define IX_CLOSED 2u
#define IX_FLAGGED 4u
#define IX_STATUS_SHIFT 3 /* status - QFX_IS_READY + 1, or 0 for none */

void qfx_knum_of(qf_jw_t *w, yajl_val obj, const char *key) {
  qfx_knum(w, key, qf_json_get(obj, key));
}

void qfx_kstr_of(qf_jw_t *w, yajl_val obj, const char *key) {
  qf_jw_kstr(w, key, qf_json_get_str(obj, key));
}

/* ix_kstrs writes the strings of the array obj[key] ([] otherwise). */
static void ix_kstrs(qf_jw_t *w, yajl_val obj, const char *key) {
  yajl_val a = qf_json_get(obj, key);
  qf_jw_key(w, key);
  qf_jw_arr_open(w);
  for (size_t i = 0; YAJL_IS_ARRAY(a) && i < a->u.array.len; i++)
    if (YAJL_IS_STRING(a->u.array.values[i]))
      qf_jw_str(w, a->u.array.values[i]->u.string);
  qf_jw_arr_close(w);
}

/* ix_flagged tells whether an issue is flagged (true, nothing else). */
static bool ix_flagged(yajl_val issue) {
  return YAJL_IS_TRUE(qf_json_get(issue, "flagged"));
}

/* ix_issue writes one /project/issues item: the fields the contract names,
 * whatever else project.json carries. */
static void ix_issue(qf_jw_t *w, yajl_val it) {
  qf_jw_obj_open(w); /* BEGIN issue */
  qfx_knum_of(w, it, "id");
  qfx_kstr_of(w, it, "title");
  qfx_kstr_of(w, it, "state");
  qfx_kstr_of(w, it, "status");
  qf_jw_kbool(w, "flagged", ix_flagged(it));
  qfx_kstr_of(w, it, "priority");
  qfx_kstr_of(w, it, "trigger");
  qfx_kstr_of(w, it, "reason");
  qfx_knum_of(w, it, "blocked_duration_hours");
  ix_kstrs(w, it, "labels");
  ix_kstrs(w, it, "assignees");
  qfx_kstr_of(w, it, "github_url");
  qfx_kstr_of(w, it, "created_at");
  qfx_kstr_of(w, it, "updated_at");
  qfx_kstr_of(w, it, "closed_at");
  qf_jw_obj_close(w); /* END issue */
}

/* ix_trigger is the index of a flagged issue's trigger in
 * qfx_trigger_names, or -1. */
static int ix_trigger(yajl_val it) {
  const char *trigger = qf_json_get_str(it, "trigger");
  for (int t = 0; trigger != NULL && t < QFX_TRIGGERS; t++)
    if (strcmp(trigger, qfx_trigger_names[t]) == 0)
      return t;
  return -1;
}

/* ix_classify reads what the filters need of one issue. */
static uint8_t ix_classify(yajl_val it) {
  const char *state = qf_json_get_str(it, "state");
  const char *status = qf_json_get_str(it, "status");
  unsigned c = ix_flagged(it) ? IX_FLAGGED : 0;
  if (state != NULL && strcmp(state, "open") == 0)
    c |= IX_OPEN;
  else if (state != NULL && strcmp(state, "closed") == 0)
    c |= IX_CLOSED;
  for (int s = QFX_IS_READY; status != NULL && s <= QFX_IS_DONE; s++)
    if (strcmp(status, qfx_issue_status_names[s]) == 0)
      c |= (unsigned)(s - QFX_IS_READY + 1) << IX_STATUS_SHIFT;
  return (uint8_t)c;
}

bool qfx_ix_matches(uint8_t c, int status, int flagged) {
  bool f = (c & IX_FLAGGED) != 0;
  if ((flagged == QFX_IF_TRUE && !f) || (flagged == QFX_IF_FALSE && f))
    return false;
  switch (status) {
  case QFX_IS_ALL:
    return true;
  case QFX_IS_OPEN:
    return (c & IX_OPEN) != 0;
  case QFX_IS_CLOSED:
    return (c & IX_CLOSED) != 0;
  default:
    return (c >> IX_STATUS_SHIFT) == status - QFX_IS_READY + 1;
  }
}

/* ix_start makes the block being filled start at the next issue. */
static void ix_start(qfx_ix_t *b) {
  memset(&b->cur, 0, sizeof(b->cur));
  b->cur.first = (uint32_t)b->p->nissues;
  b->cur.hum[0] = (uint32_t)b->hum[0].len;
  b->cur.hum[1] = (uint32_t)b->hum[1].len;
  b->open = 0;
}

/* ix_grow makes room for n more issues and one more block (and the entry
 * past the last). */
static int ix_grow(qfx_ix_t *b, size_t n) {
  qfx_project_t *p = b->p;
  void *classes = p->classes, *blocks = p->blocks;
  int rc = 0;
  while (rc == 0 && p->nissues + n > b->cap) /* doubles each time */
    rc = qf_array_room(&classes, &b->cap, b->cap, 1, 256);
  p->classes = classes;
  if (rc == 0)
    rc = qf_array_room(&blocks, &b->cap_blocks, p->nblocks + 1,
                       sizeof(qfx_block_t), 8);
  p->blocks = blocks;
  return rc;
}

int qfx_ix_init(qfx_ix_t *b, qfx_project_t *p) {
  *b = (qfx_ix_t){.p = p,
                  .raw = QF_BUF_INIT,
                  .z = QF_BUF_INIT,
                  .hum = {QF_BUF_INIT, QF_BUF_INIT}};
  if (qf_jw_init(&b->w) != 0)
    return -ENOMEM;
  ix_start(b);
  return ix_grow(b, 0);
}

void qfx_ix_free(qfx_ix_t *b) {
  qf_jw_free(&b->w);
  qf_buf_free(&b->raw);
  qf_buf_free(&b->z);
  qf_buf_free(&b->hum[0]);
  qf_buf_free(&b->hum[1]);
}

/* ix_sizes checks that the block positions still fit their 32 bits. */
static int ix_sizes(const qfx_ix_t *b, size_t more_z) {
  return b->z.len + more_z > UINT32_MAX || b->hum[0].len > UINT32_MAX ||
                 b->hum[1].len > UINT32_MAX || b->raw.len > UINT32_MAX ||
                 b->p->nissues + QFX_BLOCK_MAX >= UINT32_MAX
             ? -EOVERFLOW
             : 0;
}

/* ix_push makes blk (its first, raw and hum set) the next block, its
 * compressed text z[0, zlen) appended to b->z. */
static int ix_push(qfx_ix_t *b, qfx_block_t *blk, const void *z, size_t zlen) {
  qfx_project_t *p = b->p;
  int rc = ix_sizes(b, zlen);
  if (rc == 0)
    rc = qf_buf_append(&b->z, z, zlen);
  if (rc != 0)
    return rc;
  blk->zoff = (uint32_t)(b->z.len - zlen);
  p->blocks[p->nblocks++] = *blk;
  if (blk->raw > p->max_raw)
    p->max_raw = blk->raw;
  p->raw_bytes += blk->raw;
  return 0;
}

/* ix_flush compresses the block being filled, if any, onto b->z. */
static int ix_flush(qfx_ix_t *b) {
  if (b->open == 0)
    return 0;
  uLongf zlen = compressBound((uLong)b->raw.len);
  unsigned char *z = malloc(zlen);
  if (z == NULL)
    return -ENOMEM;
  int rc = compress2(z, &zlen, (const Bytef *)b->raw.data, (uLong)b->raw.len,
                     IX_ZLEVEL) == Z_OK
               ? 0
               : -ENOMEM; /* compress2 fails only for memory here */
  b->cur.raw = (uint32_t)b->raw.len;
  if (rc == 0)
    rc = ix_push(b, &b->cur, z, zlen);
  free(z);
  if (rc != 0)
    return rc;
  qf_buf_reset(&b->raw);
  ix_start(b);
  return 0;
}

/* ix_append appends what b->w rendered to out, then the separator sep. */
static int ix_append(qfx_ix_t *b, qf_buf_t *out, const char *sep) {
  const unsigned char *text;
  size_t len;
  if (b->w.status != 0)
    return b->w.status;
  yajl_gen_get_buf(b->w.g, &text, &len);
  int rc = qf_buf_append(out, (const char *)text, len);
  return rc != 0 ? rc : qf_buf_puts(out, sep);
}

/* ix_human_entry appends one issues_requiring_human_intervention entry to
 * its list: critical ones go first, each list in project.json order. */
static int ix_human_entry(qfx_ix_t *b, yajl_val it) {
  const char *prio = qf_json_get_str(it, "priority");
  qf_buf_t *list =
      &b->hum[prio != NULL && strcmp(prio, "critical") == 0 ? 0 : 1];
  qf_jw_reset(&b->w);
  qf_jw_obj_open(&b->w);
  qfx_knum_of(&b->w, it, "id");
  qfx_kstr_of(&b->w, it, "title");
  qfx_kstr_of(&b->w, it, "priority");
  qfx_kstr_of(&b->w, it, "reason");
  qfx_kstr_of(&b->w, it, "trigger");
  qfx_knum_of(&b->w, it, "blocked_duration_hours");
  qfx_kstr_of(&b->w, it, "github_url");
  qf_jw_obj_close(&b->w);
  return ix_append(b, list, ",");
}

/* ix_mix is MurmurHash3's 64-bit finalizer: every bit of the result
 * depends on every bit of h. */
static uint64_t ix_mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

uint64_t qfx_block_hash(const char *text, size_t len) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a, 8 bytes a step */
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, text + i, 8);
    h = (h ^ w) * 1099511628211ULL;
  }
  for (; i < len; i++)
    h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
  return ix_mix(h ^ len);
}

uint64_t qfx_block_join(uint64_t block, uint64_t issue) {
  return ix_mix(block + issue);
}

bool qfx_block_cut(size_t n, uint64_t h) {
  return n >= QFX_BLOCK_MAX ||
         (n >= QFX_BLOCK_MIN && h % QFX_BLOCK_SPREAD == 0);
}

int qfx_ix_add(qfx_ix_t *b, yajl_val it, uint64_t hash, size_t src) {
  qfx_project_t *p = b->p;
  int rc = ix_grow(b, 1);
  if (rc != 0)
    return rc;
  qf_jw_reset(&b->w);
  ix_issue(&b->w, it);
  rc = ix_append(b, &b->raw, "\n");
  if (rc == 0 && src > UINT32_MAX - b->cur.src)
    rc = -EOVERFLOW;
  if (rc == 0 && ix_flagged(it)) {
    int t = ix_trigger(it);
    if (t >= 0)
      b->cur.trig[t]++;
    rc = ix_human_entry(b, it);
  }
  if (rc == 0)
    rc = ix_sizes(b, 0);
  if (rc != 0)
    return rc;
  p->classes[p->nissues++] = ix_classify(it);
  b->cur.hash = qfx_block_join(b->cur.hash, hash);
  b->cur.src += (uint32_t)src;
  return qfx_block_cut(++b->open, hash) ? ix_flush(b) : 0;
}

/* ix_hum_copy appends block k's entries of human list i of from. */
static int ix_hum_copy(qfx_ix_t *b, const qfx_project_t *from, size_t k,
                       int i) {
  uint32_t at = from->blocks[k].hum[i], end = from->blocks[k + 1].hum[i];
  return end > at ? qf_buf_append(&b->hum[i], from->hum[i] + at, end - at) : 0;
}

int qfx_ix_copy(qfx_ix_t *b, const qfx_project_t *from, size_t k) {
  qfx_project_t *p = b->p;
  const qfx_block_t *src = &from->blocks[k];
  size_t n = src[1].first - src->first;
  if (b->open != 0)
    return -EINVAL;
  int rc = ix_grow(b, n);
  if (rc == 0)
    rc = ix_hum_copy(b, from, k, 0);
  if (rc == 0)
    rc = ix_hum_copy(b, from, k, 1);
  if (rc != 0)
    return rc;
  qfx_block_t blk = *src;
  blk.first = b->cur.first;
  blk.hum[0] = b->cur.hum[0];
  blk.hum[1] = b->cur.hum[1];
  rc = ix_push(b, &blk, from->z + src->zoff, src[1].zoff - src->zoff);
  if (rc != 0)
    return rc;
  memcpy(p->classes + p->nissues, from->classes + src->first, n);
  p->nissues += n;
  p->nreused++;
  ix_start(b);
  return 0;
}

/* ix_count builds the per-block counts of the issues passing one
 * filter. */
static int ix_count(qfx_project_t *p, int status, int flagged) {
  uint32_t *count = malloc((p->nblocks + 1) * sizeof(*count));
  if (count == NULL)
    return -ENOMEM;
  uint32_t n = 0;
  for (size_t k = 0; k < p->nblocks; k++) {
    count[k] = n;
    for (size_t i = p->blocks[k].first; i < p->blocks[k + 1].first; i++)
      n += qfx_ix_matches(p->classes[i], status, flagged);
  }
  count[p->nblocks] = n;
  p->count[status][flagged] = count;
  return 0;
}

size_t qfx_project_count(const qfx_project_t *p, int status, int flagged) {
  return p->count[status][flagged][p->nblocks];
}

/* ix_indexes counts every (status, flagged) filter, block by block, and
 * the flagged issues per trigger. */
static int ix_indexes(qfx_project_t *p) {
  for (int s = 0; s < QFX_IS_N; s++)
    for (int f = 0; f < QFX_IF_N; f++)
      if (ix_count(p, s, f) != 0)
        return -ENOMEM;
  p->nflagged = qfx_project_count(p, QFX_IS_ALL, QFX_IF_TRUE);
  for (size_t k = 0; k < p->nblocks; k++)
    for (int t = 0; t < QFX_TRIGGERS; t++)
      p->flagged_by_trigger[t] += p->blocks[k].trig[t];
  return 0;
}

/* ix_human_list joins the human entries, critical ones first, into the
 * JSON array p->human. */
static int ix_human_list(qfx_project_t *p) {
  size_t n0 = p->blocks[p->nblocks].hum[0], n1 = p->blocks[p->nblocks].hum[1];
  qf_buf_t list = QF_BUF_INIT;
  int rc = qf_buf_puts(&list, "[");
  if (rc == 0 && n0 > 0)
    rc = qf_buf_append(&list, p->hum[0], n0);
  if (rc == 0 && n1 > 0)
    rc = qf_buf_append(&list, p->hum[1], n1);
  if (rc == 0 && n0 + n1 > 0)
    list.len--; /* the last entry's ',' */
  if (rc == 0)
    rc = qf_buf_puts(&list, "]");
  if (rc != 0) {
    qf_buf_free(&list);
    return rc;
  }
  p->human = qf_buf_steal(&list, &p->human_len); /* owned by p */
  return 0;
}

/* ix_keep moves buf into *out, given back its slack; an empty buf leaves
 * *out NULL. */
static void ix_keep(qf_buf_t *buf, char **out) {
  size_t len = 0;
  char *data = qf_buf_steal(buf, &len);
  char *fit = data != NULL && len > 0 ? realloc(data, len) : NULL;
  *out = fit != NULL ? fit : data;
}

int qfx_ix_finish(qfx_ix_t *b) {
  qfx_project_t *p = b->p;
  int rc = ix_flush(b);
  if (rc != 0)
    return rc;
  /* the entry past the last block: ix_grow left room for it */
  p->blocks[p->nblocks] = b->cur;
  p->blocks[p->nblocks].zoff = (uint32_t)b->z.len;
  char *z = NULL;
  ix_keep(&b->z, &z);
  p->z = (unsigned char *)z;
  ix_keep(&b->hum[0], &p->hum[0]);
  ix_keep(&b->hum[1], &p->hum[1]);
  rc = ix_indexes(p);
  return rc == 0 ? ix_human_list(p) : rc;
}
