/* qf_json_scan.c: one array member of a JSON document's top-level object
 * streamed an element at a time by scanning the text, not parsing it, a
 * window at a time when it comes from a file: a caller then holds a
 * window and the elements it keeps, not the file (project.json is 35.6 MB
 * at 100,000 issues). The scan only delimits values; a parser checks what
 * a caller uses. */
#include "qf_json.h"
#include "qf_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t qf_json_blanks(const char *t, size_t i, size_t n) {
  while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* qscan_string skips the string starting at t[i] ('"'): the index after its
 * closing quote (the first '"' after an even run of backslashes, found with
 * memchr: most of project.json's bytes are in strings), or n when it does
 * not end. */
static size_t qscan_string(const char *t, size_t i, size_t n) {
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

size_t qf_json_value_end(const char *t, size_t n, size_t i) {
  size_t depth = 0;
  while (i < n) {
    char c = t[i];
    if (c == '"') {
      i = qscan_string(t, i, n);
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

int qf_src_read(const qf_src_t *src, size_t off, size_t n, char *out) {
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

int qf_src_whole(const qf_src_t *src, const char **text, char **owned,
                 char *err, size_t errlen) {
  *owned = NULL;
  *text = src->text;
  if (src->text != NULL)
    return 0;
  char *copy = malloc(src->len + 1);
  int rc = copy != NULL ? qf_src_read(src, 0, src->len, copy) : -ENOMEM;
  if (rc != 0) {
    free(copy);
    qf_err(err, errlen, "%s",
           rc == -EIO ? "the file changed while read" : strerror(-rc));
    return rc;
  }
  copy[src->len] = '\0';
  *text = *owned = copy;
  return 0;
}

/* The scan's place in the source: t[0, n) is the source's [base, base +
 * n); from a file, a window of buf (cap bytes) that slides forward. */
typedef struct qscan_s {
  const qf_src_t *src;
  const char *key; /* the member streamed */
  size_t klen;
  qf_json_scan_fn each;
  void *ctx;
  qf_buf_t *rest;
  char *buf;
  const char *t;
  size_t cap, base, n;
  size_t rest_from; /* what rest holds ends here */
  bool in_list;     /* the list's text goes to no rest */
} qscan_t;

/* qscan_rest appends the source's [rest_from, upto) to rest (in the window);
 * inside the list only moves rest_from. */
static int qscan_rest(qscan_t *sc, size_t upto) {
  int rc = 0;
  if (!sc->in_list && upto > sc->rest_from)
    rc = qf_buf_append(sc->rest, sc->t + (sc->rest_from - sc->base),
                       upto - sc->rest_from);
  sc->rest_from = upto;
  return rc;
}

/* qscan_eof tells whether the window reaches the end of the source. */
static bool qscan_eof(const qscan_t *sc) {
  return sc->base + sc->n >= sc->src->len;
}

/* qscan_fill slides the window to start at keep (what comes before is no
 * longer needed, rest taking its part) and reads on, growing the window
 * when keep leaves no room. 0, -EIO or -ENOMEM. */
static int qscan_fill(qscan_t *sc, size_t keep) {
  int rc = qscan_rest(sc, keep);
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
  rc = qf_src_read(sc->src, sc->base + sc->n, want, sc->buf + sc->n);
  if (rc == 0)
    sc->n += want;
  return rc;
}

/* qscan_ws skips blanks from *at, reading on as needed: then *at is in the
 * window, or the source's end. */
static int qscan_ws(qscan_t *sc, size_t *at) {
  for (;;) {
    size_t i = qf_json_blanks(sc->t, *at - sc->base, sc->n);
    *at = sc->base + i;
    if (i < sc->n || qscan_eof(sc))
      return 0;
    int rc = qscan_fill(sc, *at);
    if (rc != 0)
      return rc;
  }
}

/* qscan_value finds the end of the value starting at at (in the window),
 * reading on until the window holds all of it: *end, or the source's
 * length when it does not end. */
static int qscan_value(qscan_t *sc, size_t at, size_t *end) {
  for (;;) {
    size_t e = qf_json_value_end(sc->t, sc->n, at - sc->base);
    if (e < sc->n || qscan_eof(sc)) {
      *end = sc->base + e;
      return 0;
    }
    int rc = qscan_fill(sc, at);
    if (rc != 0)
      return rc;
  }
}

/* qscan_char is the byte at at, or 0 outside the window (the source's end
 * after qscan_ws). */
static int qscan_char(const qscan_t *sc, size_t at) {
  return at >= sc->base && at < sc->base + sc->n ? sc->t[at - sc->base] : 0;
}

/* qscan_list hands each element of the list starting at *at ('[') to
 * each(), giving rest "[]" for it; *at is then past its ']'. */
static int qscan_list(qscan_t *sc, size_t *at) {
  int rc = qscan_rest(sc, *at);
  if (rc == 0)
    rc = qf_buf_puts(sc->rest, "[]");
  sc->in_list = true;
  *at += 1;
  if (rc == 0)
    rc = qscan_ws(sc, at);
  bool first = true;
  while (rc == 0 && !(first && qscan_char(sc, *at) == ']')) {
    size_t e = 0;
    rc = qscan_value(sc, *at, &e);
    if (rc == 0 && (e == *at || e >= sc->src->len))
      rc = -EAGAIN; /* no value, or one no ']' follows */
    if (rc == 0)
      rc = sc->each(sc->t + (*at - sc->base), *at, e - *at, sc->ctx);
    if (rc == 0) {
      *at = e;
      rc = qscan_ws(sc, at);
    }
    int c = rc == 0 ? qscan_char(sc, *at) : 0;
    if (rc == 0 && c != ',' && c != ']')
      rc = -EAGAIN;
    if (rc != 0 || c == ']')
      break;
    *at += 1;
    first = false;
    rc = qscan_ws(sc, at);
  }
  *at += 1; /* the ']' */
  sc->in_list = false;
  sc->rest_from = *at;
  return rc;
}

/* qscan_member scans one member of the top-level object at *at (a key):
 * the streamed list's elements go to each(), any other value is skipped. */
static int qscan_member(qscan_t *sc, size_t *at, bool *found) {
  size_t k = *at + 1, e = 0;
  if (qscan_char(sc, *at) != '"')
    return -EAGAIN;
  int rc = qscan_value(sc, *at, &e);
  if (rc != 0 || e >= sc->src->len)
    return rc != 0 ? rc : -EAGAIN;
  const char *key = sc->t + (k - sc->base);
  if (memchr(key, '\\', e - 1 - k) != NULL)
    return -EAGAIN; /* a key with escapes: leave it to the parser */
  bool streamed = e - 1 - k == sc->klen && memcmp(key, sc->key, sc->klen) == 0;
  *at = e;
  rc = qscan_ws(sc, at);
  if (rc != 0 || qscan_char(sc, *at) != ':')
    return rc != 0 ? rc : -EAGAIN;
  *at += 1;
  rc = qscan_ws(sc, at);
  if (rc != 0)
    return rc;
  if (streamed) { /* twice, or no list: the parser says what it is */
    if (*found || qscan_char(sc, *at) != '[')
      return -EAGAIN;
    *found = true;
    return qscan_list(sc, at);
  }
  rc = qscan_value(sc, *at, &e);
  if (rc == 0 && (e == *at || e >= sc->src->len))
    rc = -EAGAIN;
  if (rc == 0)
    *at = e;
  return rc;
}

/* qscan_object scans the top-level object and what follows it. */
static int qscan_object(qscan_t *sc) {
  size_t at = 0;
  bool found = false;
  int rc = qscan_ws(sc, &at);
  if (rc != 0 || qscan_char(sc, at) != '{')
    return rc != 0 ? rc : -EAGAIN;
  at++;
  rc = qscan_ws(sc, &at);
  while (rc == 0 && qscan_char(sc, at) != '}') {
    rc = qscan_member(sc, &at, &found);
    if (rc == 0)
      rc = qscan_ws(sc, &at);
    int c = rc == 0 ? qscan_char(sc, at) : 0;
    if (rc == 0 && c == ',') {
      at++;
      rc = qscan_ws(sc, &at);
    } else if (rc == 0 && c != '}') {
      rc = -EAGAIN;
    }
  }
  if (rc == 0 && (!found || at >= sc->src->len))
    rc = -EAGAIN;
  while (rc == 0 && !qscan_eof(sc)) /* what follows: the parser judges it */
    rc = qscan_fill(sc, sc->base + sc->n);
  return rc == 0 ? qscan_rest(sc, sc->src->len) : rc;
}

int qf_json_scan(const qf_src_t *src, const char *key, qf_json_scan_fn each,
                 void *ctx, qf_buf_t *rest) {
  qscan_t s = {.src = src,
               .key = key,
               .klen = strlen(key),
               .each = each,
               .ctx = ctx,
               .rest = rest};
  if (src->text != NULL) {
    s.t = src->text;
    s.n = src->len;
  } else {
    s.cap = src->window > 0 ? src->window : QF_SCAN_WINDOW;
    s.t = s.buf = malloc(s.cap);
    if (s.buf == NULL)
      return -ENOMEM;
  }
  int rc = qscan_object(&s);
  free(s.buf);
  return rc;
}
