/* qf_json.c: reading yajl trees and writing JSON with a sticky error. */
#include "qf_json.h"
#include "qf_buf.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

yajl_val qf_json_parse(const char *text, char *err, size_t errlen) {
  char buf[256] = "";
  yajl_val v = yajl_tree_parse(text, buf, sizeof(buf));
  if (v == NULL && err != NULL && errlen > 0) {
    /* yajl's message spans lines; keep the first so logs stay one line. */
    buf[strcspn(buf, "\r\n")] = '\0';
    snprintf(err, errlen, "%s", buf[0] ? buf : "invalid JSON");
  }
  return v;
}

int qf_json_parse_len(qf_buf_t *buf, const char *text, size_t len,
                      yajl_val *out) {
  *out = NULL;
  qf_buf_reset(buf);
  if (qf_buf_append(buf, text, len) != 0)
    return -ENOMEM;
  *out = qf_json_parse(buf->data, NULL, 0);
  return *out != NULL ? 0 : -EINVAL;
}

yajl_val qf_json_get(yajl_val obj, const char *key) {
  if (!YAJL_IS_OBJECT(obj))
    return NULL;
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (strcmp(obj->u.object.keys[i], key) == 0)
      return obj->u.object.values[i];
  return NULL;
}

const char *qf_json_get_str(yajl_val obj, const char *key) {
  yajl_val v = qf_json_get(obj, key);
  return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int qf_json_get_int(yajl_val obj, const char *key, long long *out) {
  yajl_val v = qf_json_get(obj, key);
  if (v == NULL || YAJL_IS_NULL(v))
    return -ENOENT;
  if (!YAJL_IS_INTEGER(v))
    return -EINVAL;
  *out = YAJL_GET_INTEGER(v);
  return 0;
}

int qf_json_get_double(yajl_val obj, const char *key, double *out) {
  yajl_val v = qf_json_get(obj, key);
  if (v == NULL || YAJL_IS_NULL(v))
    return -ENOENT;
  if (!YAJL_IS_NUMBER(v) || !(v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID))
    return -EINVAL;
  *out = YAJL_GET_DOUBLE(v);
  return 0;
}

int qf_json_get_bool(yajl_val obj, const char *key, bool *out) {
  yajl_val v = qf_json_get(obj, key);
  if (v == NULL || YAJL_IS_NULL(v))
    return -ENOENT;
  if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
    return -EINVAL;
  *out = YAJL_IS_TRUE(v);
  return 0;
}

int qf_jw_init(qf_jw_t *w) {
  w->status = 0;
  w->g = yajl_gen_alloc(NULL);
  if (w->g == NULL)
    return w->status = -ENOMEM;
  yajl_gen_config(w->g, yajl_gen_validate_utf8, 1);
  return 0;
}

void qf_jw_free(qf_jw_t *w) {
  if (w->g != NULL)
    yajl_gen_free(w->g);
  w->g = NULL;
}

int qf_jw_finish(qf_jw_t *w, char **out, size_t *len) {
  if (w->status != 0)
    return w->status;
  const unsigned char *buf;
  size_t n;
  if (yajl_gen_get_buf(w->g, &buf, &n) != yajl_gen_status_ok)
    return -EINVAL;
  char *copy = malloc(n + 1);
  if (copy == NULL)
    return -ENOMEM;
  memcpy(copy, buf, n);
  copy[n] = '\0';
  *out = copy;
  if (len != NULL)
    *len = n;
  return 0;
}

void qf_jw_reset(qf_jw_t *w) {
  yajl_gen_reset(w->g, NULL);
  yajl_gen_clear(w->g);
  w->status = 0;
}

/* qjs_jw_check records the first failing yajl status. */
static void qjs_jw_check(qf_jw_t *w, yajl_gen_status s) {
  if (s == yajl_gen_status_ok || w->status != 0)
    return;
  w->status = s == yajl_gen_invalid_string ? -EILSEQ : -EINVAL;
}

void qf_jw_obj_open(qf_jw_t *w) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_map_open(w->g));
}

void qf_jw_obj_close(qf_jw_t *w) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_map_close(w->g));
}

void qf_jw_arr_open(qf_jw_t *w) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_array_open(w->g));
}

void qf_jw_arr_close(qf_jw_t *w) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_array_close(w->g));
}

void qf_jw_str(qf_jw_t *w, const char *s) {
  if (w->status != 0)
    return;
  if (s == NULL)
    qjs_jw_check(w, yajl_gen_null(w->g));
  else
    qjs_jw_check(w, yajl_gen_string(w->g, (const unsigned char *)s, strlen(s)));
}

void qf_jw_key(qf_jw_t *w, const char *key) { qf_jw_str(w, key); }

void qf_jw_int(qf_jw_t *w, long long v) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_integer(w->g, v));
}

void qf_jw_double(qf_jw_t *w, double v) {
  if (w->status != 0)
    return;
  if (!isfinite(v)) {
    qjs_jw_check(w, yajl_gen_null(w->g));
    return;
  }
  /* %.15g prints 45.2 as "45.2" where yajl's %.20g prints noise digits. */
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%.15g", v);
  qjs_jw_check(w, yajl_gen_number(w->g, buf, (size_t)n));
}

void qf_jw_bool(qf_jw_t *w, bool v) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_bool(w->g, v));
}

void qf_jw_null(qf_jw_t *w) {
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_null(w->g));
}

/* qjs_jw_number copies a parsed number through its original text. */
static void qjs_jw_number(qf_jw_t *w, yajl_val v) {
  const char *r = v->u.number.r;
  qjs_jw_check(w, yajl_gen_number(w->g, r, strlen(r)));
}

void qf_jw_value(qf_jw_t *w, yajl_val v) {
  if (w->status != 0)
    return;
  if (v == NULL || YAJL_IS_NULL(v)) {
    qf_jw_null(w);
  } else if (YAJL_IS_STRING(v)) {
    qf_jw_str(w, v->u.string);
  } else if (YAJL_IS_NUMBER(v)) {
    qjs_jw_number(w, v);
  } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
    qf_jw_bool(w, YAJL_IS_TRUE(v));
  } else if (YAJL_IS_ARRAY(v)) {
    qf_jw_arr_open(w);
    for (size_t i = 0; i < v->u.array.len; i++)
      qf_jw_value(w, v->u.array.values[i]);
    qf_jw_arr_close(w);
  } else if (YAJL_IS_OBJECT(v)) {
    qf_jw_obj_open(w);
    for (size_t i = 0; i < v->u.object.len; i++) {
      qf_jw_key(w, v->u.object.keys[i]);
      qf_jw_value(w, v->u.object.values[i]);
    }
    qf_jw_obj_close(w);
  }
}

void qf_jw_raw(qf_jw_t *w, const char *text, size_t len) {
  /* yajl_gen_number prints its text as given, with the separators and
   * state of any other value: exactly what splicing a fragment needs. */
  if (w->status == 0)
    qjs_jw_check(w, yajl_gen_number(w->g, text, len));
}

void qf_jw_kstr(qf_jw_t *w, const char *key, const char *s) {
  qf_jw_key(w, key);
  qf_jw_str(w, s);
}

void qf_jw_kint(qf_jw_t *w, const char *key, long long v) {
  qf_jw_key(w, key);
  qf_jw_int(w, v);
}

void qf_jw_kdouble(qf_jw_t *w, const char *key, double v) {
  qf_jw_key(w, key);
  qf_jw_double(w, v);
}

void qf_jw_kbool(qf_jw_t *w, const char *key, bool v) {
  qf_jw_key(w, key);
  qf_jw_bool(w, v);
}

void qf_jw_knull(qf_jw_t *w, const char *key) {
  qf_jw_key(w, key);
  qf_jw_null(w);
}

void qf_jw_ktime(qf_jw_t *w, const char *key, long long t) {
  char buf[QF_TIME_ISO_LEN];
  qf_jw_key(w, key);
  if (t <= 0 || qf_time_format((time_t)t, buf, sizeof(buf)) != 0)
    qf_jw_null(w);
  else
    qf_jw_str(w, buf);
}

/* qjs_utf8_seq returns the length of the well-formed UTF-8 sequence at p,
 * or 0 when p does not start one (RFC 3629 table 3-7 ranges). */
static size_t qjs_utf8_seq(const unsigned char *p) {
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  unsigned char lo = 0x80, hi = 0xBF;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* past U+10FFFF */
  } else {
    return 0;
  }
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF)
      return 0; /* also stops at the NUL terminator */
  return n;
}

size_t qf_json_utf8_repair(char *s) {
  size_t replaced = 0;
  unsigned char *p = (unsigned char *)s;
  while (*p != '\0') {
    size_t n = qjs_utf8_seq(p);
    if (n == 0) {
      *p = '?';
      replaced++;
      n = 1;
    }
    p += n;
  }
  return replaced;
}

/* --- streaming one large array member --- */

/* The state of qf_json_parse_split while yajl streams the text. Offsets
 * come from yajl_get_bytes_consumed, which inside a callback is the offset
 * just past the token that triggered it (the whole text is one chunk). */
typedef struct qf_split_s {
  yajl_handle h;
  const char *text;
  const char *key;
  size_t keylen;
  qf_json_each_fn each;
  qf_json_each_at_fn each_at; /* used instead of each when set */
  void *ctx;
  int depth;        /* containers open around the next token */
  bool object;      /* the top-level value is an object */
  bool top_key;     /* the current top-level member is the one streamed */
  bool seen;        /* a top-level member of that name was met */
  int state;        /* 0 before the array, 1 inside it, 2 after it */
  size_t arr_open;  /* offset of its '[' */
  size_t arr_close; /* offset just past its ']' */
  size_t prev;      /* offset just past the previous element (or '[') */
  size_t elem;      /* offset of the current container element's start */
  qf_buf_t buf;     /* one element's text */
  int status;       /* 0 or the first negative errno */
} qf_split_t;

/* qjs_split_emit parses text[start, end) (an element, after skipping the
 * separator before it) and hands it to each(); returns 1 to go on, 0 to
 * stop the parser (status says why). */
static int qjs_split_emit(qf_split_t *sp, size_t start, size_t end) {
  while (start < end && sp->text[start] != '\0' &&
         strchr(" \t\r\n,", sp->text[start]) != NULL)
    start++;
  yajl_val v;
  int rc = qf_json_parse_len(&sp->buf, sp->text + start, end - start, &v);
  if (rc != 0) {
    sp->status = rc; /* -EINVAL: the streaming parser accepted it */
    return 0;
  }
  rc = sp->each_at != NULL ? sp->each_at(v, start, end - start, sp->ctx)
                           : sp->each(v, sp->ctx);
  if (rc != QF_JSON_KEPT)
    yajl_tree_free(v);
  sp->prev = end;
  if (rc < 0)
    sp->status = rc;
  return rc < 0 ? 0 : 1;
}

/* qjs_split_scalar notes a scalar value: an element of the array, or the
 * streamed member's value when that is no array. */
static int qjs_split_scalar(qf_split_t *sp) {
  if (sp->depth == 0)
    return 1; /* a top-level scalar: the document is no object */
  sp->top_key = sp->top_key && sp->depth != 1;
  if (sp->state == 1 && sp->depth == 2)
    return qjs_split_emit(sp, sp->prev, yajl_get_bytes_consumed(sp->h));
  return 1;
}

static int qjs_split_null(void *ctx) { return qjs_split_scalar(ctx); }

static int qjs_split_bool(void *ctx, int b) {
  (void)b; /* the element is re-parsed from its text */
  return qjs_split_scalar(ctx);
}

static int qjs_split_number(void *ctx, const char *s, size_t n) {
  (void)s; /* as above */
  (void)n;
  return qjs_split_scalar(ctx);
}

static int qjs_split_string(void *ctx, const unsigned char *s, size_t n) {
  (void)s; /* as above */
  (void)n;
  return qjs_split_scalar(ctx);
}

/* qjs_split_open handles '{' and '['. */
static int qjs_split_open(qf_split_t *sp, bool array) {
  size_t at = yajl_get_bytes_consumed(sp->h);
  if (sp->depth == 0)
    sp->object = !array;
  if (sp->depth == 1 && sp->top_key && array && sp->state == 0) {
    sp->state = 1;
    sp->arr_open = at - 1;
    sp->prev = at;
  } else if (sp->state == 1 && sp->depth == 2) {
    sp->elem = at - 1;
  }
  if (sp->depth == 1)
    sp->top_key = false;
  sp->depth++;
  return 1;
}

/* qjs_split_close handles '}' and ']': the end of an element or of the
 * streamed array. */
static int qjs_split_close(qf_split_t *sp) {
  size_t at = yajl_get_bytes_consumed(sp->h);
  sp->depth--;
  if (sp->state == 1 && sp->depth == 2)
    return qjs_split_emit(sp, sp->elem, at);
  if (sp->state == 1 && sp->depth == 1) {
    sp->state = 2;
    sp->arr_close = at;
  }
  return 1;
}

static int qjs_split_start_map(void *ctx) { return qjs_split_open(ctx, false); }
static int qjs_split_start_array(void *ctx) {
  return qjs_split_open(ctx, true);
}
static int qjs_split_end(void *ctx) { return qjs_split_close(ctx); }

static int qjs_split_key(void *ctx, const unsigned char *k, size_t n) {
  qf_split_t *sp = ctx;
  if (sp->depth == 1) {
    /* Only the first member of that name counts, as for qf_json_get. */
    sp->top_key = !sp->seen && n == sp->keylen && memcmp(k, sp->key, n) == 0;
    sp->seen = sp->seen || sp->top_key;
  }
  return 1;
}

static const yajl_callbacks qf_split_callbacks = {
    .yajl_null = qjs_split_null,
    .yajl_boolean = qjs_split_bool,
    .yajl_number = qjs_split_number, /* numbers are not converted */
    .yajl_string = qjs_split_string,
    .yajl_start_map = qjs_split_start_map,
    .yajl_map_key = qjs_split_key,
    .yajl_end_map = qjs_split_end,
    .yajl_start_array = qjs_split_start_array,
    .yajl_end_array = qjs_split_end,
};

/* qjs_split_stream runs the streaming parser over the whole text; 0, or a
 * negative errno with the parser's message in err. */
static int qjs_split_stream(qf_split_t *sp, size_t len, char *err,
                            size_t errlen) {
  sp->h = yajl_alloc(&qf_split_callbacks, NULL, sp);
  if (sp->h == NULL)
    return -ENOMEM;
  yajl_status st = yajl_parse(sp->h, (const unsigned char *)sp->text, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse(sp->h);
  int rc = 0;
  if (st != yajl_status_ok && sp->status != 0) {
    rc = sp->status;
    qf_err(err, errlen, "%s", strerror(-rc));
  } else if (st != yajl_status_ok) {
    unsigned char *msg = yajl_get_error(sp->h, 0, NULL, 0);
    qf_err(err, errlen, "%s", msg != NULL ? (char *)msg : "invalid JSON");
    if (msg != NULL)
      yajl_free_error(sp->h, msg);
    if (err != NULL)
      err[strcspn(err, "\r\n")] = '\0';
    rc = -EINVAL;
  } else if (!sp->object) {
    qf_err(err, errlen, "not a JSON object");
    rc = -EINVAL;
  }
  yajl_free(sp->h);
  return rc;
}

/* qjs_split_rest parses the document with the streamed array as []. */
static int qjs_split_rest(qf_split_t *sp, size_t len, yajl_val *rest, char *err,
                          size_t errlen) {
  qf_buf_reset(&sp->buf);
  int rc = 0;
  if (sp->state == 2)
    rc = qf_buf_append(&sp->buf, sp->text, sp->arr_open);
  if (rc == 0 && sp->state == 2)
    rc = qf_buf_puts(&sp->buf, "[]");
  size_t from = sp->state == 2 ? sp->arr_close : 0;
  if (rc == 0)
    rc = qf_buf_append(&sp->buf, sp->text + from, len - from);
  if (rc != 0) {
    qf_err(err, errlen, "%s", strerror(-rc));
    return rc;
  }
  *rest = qf_json_parse(sp->buf.data, err, errlen);
  return *rest != NULL ? 0 : -EINVAL;
}

/* qjs_split_run streams text through sp (each or each_at set). */
static int qjs_split_run(qf_split_t *sp, size_t len, yajl_val *rest, char *err,
                         size_t errlen) {
  sp->keylen = strlen(sp->key);
  sp->buf = (qf_buf_t)QF_BUF_INIT;
  *rest = NULL;
  int rc = qjs_split_stream(sp, len, err, errlen);
  if (rc == 0)
    rc = qjs_split_rest(sp, len, rest, err, errlen);
  qf_buf_free(&sp->buf);
  return rc;
}

int qf_json_check(const char *text, size_t len) {
  yajl_handle h = yajl_alloc(NULL, NULL, NULL);
  if (h == NULL)
    return -ENOMEM;
  yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse(h);
  yajl_free(h);
  return st == yajl_status_ok ? 0 : -EINVAL;
}

int qf_json_parse_split(const char *text, size_t len, const char *key,
                        qf_json_each_fn each, void *ctx, yajl_val *rest,
                        char *err, size_t errlen) {
  qf_split_t sp = {.text = text, .key = key, .each = each, .ctx = ctx};
  return qjs_split_run(&sp, len, rest, err, errlen);
}

int qf_json_parse_split_at(const char *text, size_t len, const char *key,
                           qf_json_each_at_fn each, void *ctx, yajl_val *rest,
                           char *err, size_t errlen) {
  qf_split_t sp = {.text = text, .key = key, .each_at = each, .ctx = ctx};
  return qjs_split_run(&sp, len, rest, err, errlen);
}
