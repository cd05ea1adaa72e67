/* project_span.c: project.json's issue list found, and cut into the
 * blocks the index keeps, by scanning its text without parsing it, a
 * window at a time when it comes from the file: the exporter then holds a
 * window and the blocks it parses, not the file (35.6 MB at 100,000
 * issues). The scan only delimits values; the parser checks the text. */
#include "project_index.h"
#include "qf_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* sc_blanks skips JSON whitespace from i. */
static size_t sc_blanks(const char *t, size_t i, size_t n) {
  while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* sc_string skips the string starting at t[i] ('"'): the index after its
 * closing quote (the first '"' after an even run of backslashes, found with
 * memchr: most of project.json's bytes are in strings), or n when it does
 * not end. */
static size_t sc_string(const char *t, size_t i, size_t n) {
  for (i++; i < n;) {
    const char *q = memchr(t + i, '"', n - i);
    if (q == NULL)
      return n;
    size_t j = (size_t)(q - t), b = j;
    while (b > i && t[b - 1] == '\\')
      b--;
    if ((j - b) % 2 == 0)
      return j + 1;
    i = j + 1; /* an escaped quote */
  }
  return n;
}

size_t qfx_value_end(const char *t, size_t n, size_t i) {
  size_t depth = 0;
  while (i < n) {
    char c = t[i];
    if (c == '"') {
      i = sc_string(t, i, n);
    } else if (c == '{' || c == '[') {
      depth++;
      i++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return i; /* the end of the enclosing object */
      depth--;
      i++;
    } else if (depth == 0 &&
               (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      return i;
    } else {
      i++;
    }
    if (depth == 0 && (c == '"' || c == '}' || c == ']'))
      return i;
  }
  return n;
}

int qfx_src_read(const qfx_src_t *src, size_t off, size_t n, char *out) {
  if (off > src->len || n > src->len - off)
    return -EIO;
  if (src->text != NULL) {
    memcpy(out, src->text + off, n);
    return 0;
  }
  ssize_t got = qf_read_full(src->fd, out, n, (off_t)off);
  if (got < 0)
    return (int)got;
  return (size_t)got == n ? 0 : -EIO; /* the file shrank meanwhile */
}

void qfx_scan_free(qfx_scan_t *sc) {
  free(sc->v);
  qf_buf_free(&sc->rest);
  memset(sc, 0, sizeof(*sc));
}

/* The scan's place in the source: t[0, n) is the source's [base, base +
 * n); from a file, a window of buf (cap bytes) that slides forward. */
typedef struct sc_s {
  const qfx_src_t *src;
  qfx_scan_t *out;
  char *buf;
  const char *t;
  size_t cap, base, n;
  size_t rest_from; /* what rest holds ends here */
  bool in_list;     /* the list's text goes to no rest */
  qfx_cand_t cur;   /* the block being cut */
} sc_t;

/* sc_rest appends the source's [rest_from, upto) to rest (in the window);
 * inside the list only moves rest_from. */
static int sc_rest(sc_t *sc, size_t upto) {
  int rc = 0;
  if (!sc->in_list && upto > sc->rest_from)
    rc = qf_buf_append(&sc->out->rest, sc->t + (sc->rest_from - sc->base),
                       upto - sc->rest_from);
  sc->rest_from = upto;
  return rc;
}

/* sc_eof tells whether the window reaches the end of the source. */
static bool sc_eof(const sc_t *sc) { return sc->base + sc->n >= sc->src->len; }

/* sc_fill slides the window to start at keep (what comes before is no
 * longer needed, rest taking its part) and reads on, growing the window
 * when keep leaves no room. 0, -EIO or -ENOMEM. */
static int sc_fill(sc_t *sc, size_t keep) {
  int rc = sc_rest(sc, keep);
  if (rc != 0)
    return rc;
  size_t drop = keep - sc->base;
  memmove(sc->buf, sc->buf + drop, sc->n - drop);
  sc->n -= drop;
  sc->base = keep;
  if (sc->n == sc->cap) { /* one value fills the window: double it */
    char *b = realloc(sc->buf, 2 * sc->cap);
    if (b == NULL)
      return -ENOMEM;
    sc->buf = b;
    sc->t = b;
    sc->cap *= 2;
  }
  size_t want = sc->cap - sc->n, left = sc->src->len - (sc->base + sc->n);
  if (want > left)
    want = left;
  rc = qfx_src_read(sc->src, sc->base + sc->n, want, sc->buf + sc->n);
  if (rc == 0)
    sc->n += want;
  return rc;
}

/* sc_ws skips blanks from *at, reading on as needed: then *at is in the
 * window, or the source's end. */
static int sc_ws(sc_t *sc, size_t *at) {
  for (;;) {
    size_t i = sc_blanks(sc->t, *at - sc->base, sc->n);
    *at = sc->base + i;
    if (i < sc->n || sc_eof(sc))
      return 0;
    int rc = sc_fill(sc, *at);
    if (rc != 0)
      return rc;
  }
}

/* sc_value finds the end of the value starting at at (in the window),
 * reading on until the window holds all of it: *end, or the source's
 * length when it does not end. */
static int sc_value(sc_t *sc, size_t at, size_t *end) {
  for (;;) {
    size_t e = qfx_value_end(sc->t, sc->n, at - sc->base);
    if (e < sc->n || sc_eof(sc)) {
      *end = sc->base + e;
      return 0;
    }
    int rc = sc_fill(sc, at);
    if (rc != 0)
      return rc;
  }
}

/* sc_char is the byte at at, or 0 outside the window (the source's end
 * after sc_ws). */
static int sc_char(const sc_t *sc, size_t at) {
  return at >= sc->base && at < sc->base + sc->n ? sc->t[at - sc->base] : 0;
}

/* sc_push appends the block being cut to the blocks. */
static int sc_push(sc_t *sc) {
  qfx_scan_t *o = sc->out;
  void *v = o->v;
  int rc = qf_array_room(&v, &o->cap, o->n, sizeof(*o->v), 64);
  o->v = v;
  if (rc == 0)
    o->v[o->n++] = sc->cur;
  sc->cur = (qfx_cand_t){0};
  return rc;
}

/* sc_element takes the list's element [s, e) (in the window): an issue
 * joins the block being cut; anything else is in no block, but must
 * parse. */
static int sc_element(sc_t *sc, size_t s, size_t e) {
  const char *text = sc->t + (s - sc->base);
  if (*text != '{')
    return qf_json_check(text, e - s) == 0 ? 0 : -EAGAIN;
  qfx_cand_t *c = &sc->cur;
  if (e - s > UINT32_MAX - c->src)
    return -EAGAIN;
  uint64_t h = qfx_block_hash(text, e - s);
  if (c->n == 0)
    c->start = s;
  c->end = e;
  c->hash = qfx_block_join(c->hash, h);
  c->src += (uint32_t)(e - s);
  return qfx_block_cut(++c->n, h) ? sc_push(sc) : 0;
}

/* sc_list cuts the list starting at *at ('['), giving rest "[]" for it;
 * *at is then past its ']'. */
static int sc_list(sc_t *sc, size_t *at) {
  int rc = sc_rest(sc, *at);
  if (rc == 0)
    rc = qf_buf_puts(&sc->out->rest, "[]");
  sc->in_list = true;
  *at += 1;
  if (rc == 0)
    rc = sc_ws(sc, at);
  bool first = true;
  while (rc == 0 && !(first && sc_char(sc, *at) == ']')) {
    size_t e = 0;
    rc = sc_value(sc, *at, &e);
    if (rc == 0 && (e == *at || e >= sc->src->len))
      rc = -EAGAIN; /* no value, or one no ']' follows */
    if (rc == 0)
      rc = sc_element(sc, *at, e);
    if (rc == 0) {
      *at = e;
      rc = sc_ws(sc, at);
    }
    int c = rc == 0 ? sc_char(sc, *at) : 0;
    if (rc == 0 && c != ',' && c != ']')
      rc = -EAGAIN;
    if (rc != 0 || c == ']')
      break;
    *at += 1;
    first = false;
    rc = sc_ws(sc, at);
  }
  *at += 1; /* the ']' */
  if (rc == 0 && sc->cur.n > 0)
    rc = sc_push(sc);
  sc->in_list = false;
  sc->rest_from = *at;
  return rc;
}

/* sc_member scans one member of the top-level object at *at (a key):
 * the issue list is cut, any other value skipped. */
static int sc_member(sc_t *sc, size_t *at, bool *found) {
  size_t k = *at + 1, e = 0;
  if (sc_char(sc, *at) != '"')
    return -EAGAIN;
  int rc = sc_value(sc, *at, &e);
  if (rc != 0 || e >= sc->src->len)
    return rc != 0 ? rc : -EAGAIN;
  const char *key = sc->t + (k - sc->base);
  if (memchr(key, '\\', e - 1 - k) != NULL)
    return -EAGAIN; /* a key with escapes: leave it to the parser */
  bool issues = e - 1 - k == 6 && memcmp(key, "issues", 6) == 0;
  *at = e;
  rc = sc_ws(sc, at);
  if (rc != 0 || sc_char(sc, *at) != ':')
    return rc != 0 ? rc : -EAGAIN;
  *at += 1;
  rc = sc_ws(sc, at);
  if (rc != 0)
    return rc;
  if (issues) { /* twice, or no list: the full build says what it is */
    if (*found || sc_char(sc, *at) != '[')
      return -EAGAIN;
    *found = true;
    return sc_list(sc, at);
  }
  rc = sc_value(sc, *at, &e);
  if (rc == 0 && (e == *at || e >= sc->src->len))
    rc = -EAGAIN;
  if (rc == 0)
    *at = e;
  return rc;
}

/* sc_object scans the top-level object and what follows it. */
static int sc_object(sc_t *sc) {
  size_t at = 0;
  bool found = false;
  int rc = sc_ws(sc, &at);
  if (rc != 0 || sc_char(sc, at) != '{')
    return rc != 0 ? rc : -EAGAIN;
  at++;
  rc = sc_ws(sc, &at);
  while (rc == 0 && sc_char(sc, at) != '}') {
    rc = sc_member(sc, &at, &found);
    if (rc == 0)
      rc = sc_ws(sc, &at);
    int c = rc == 0 ? sc_char(sc, at) : 0;
    if (rc == 0 && c == ',') {
      at++;
      rc = sc_ws(sc, &at);
    } else if (rc == 0 && c != '}') {
      rc = -EAGAIN;
    }
  }
  if (rc == 0 && (!found || at >= sc->src->len))
    rc = -EAGAIN;
  while (rc == 0 && !sc_eof(sc)) /* what follows: the parser judges it */
    rc = sc_fill(sc, sc->base + sc->n);
  return rc == 0 ? sc_rest(sc, sc->src->len) : rc;
}

int qfx_scan(const qfx_src_t *src, qfx_scan_t *sc) {
  memset(sc, 0, sizeof(*sc));
  sc->rest = (qf_buf_t)QF_BUF_INIT;
  sc_t s = {.src = src, .out = sc};
  if (src->text != NULL) {
    s.t = src->text;
    s.n = src->len;
  } else {
    s.cap = src->window > 0 ? src->window : QFX_SCAN_WINDOW;
    s.t = s.buf = malloc(s.cap);
    if (s.buf == NULL)
      return -ENOMEM;
  }
  int rc = sc_object(&s);
  free(s.buf);
  return rc;
}
