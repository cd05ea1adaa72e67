/* qf_json.c: reading yajl trees and writing JSON with a sticky error. */
#include "qf_json.h"
#include "qf_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* qf_jw_check records the first failing yajl status. */
static void qf_jw_check(qf_jw_t *w, yajl_gen_status s) {
  if (s == yajl_gen_status_ok || w->status != 0)
    return;
  w->status = s == yajl_gen_invalid_string ? -EILSEQ : -EINVAL;
}

void qf_jw_obj_open(qf_jw_t *w) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_map_open(w->g));
}

void qf_jw_obj_close(qf_jw_t *w) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_map_close(w->g));
}

void qf_jw_arr_open(qf_jw_t *w) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_array_open(w->g));
}

void qf_jw_arr_close(qf_jw_t *w) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_array_close(w->g));
}

void qf_jw_str(qf_jw_t *w, const char *s) {
  if (w->status != 0)
    return;
  if (s == NULL)
    qf_jw_check(w, yajl_gen_null(w->g));
  else
    qf_jw_check(w, yajl_gen_string(w->g, (const unsigned char *)s,
                                   strlen(s)));
}

void qf_jw_key(qf_jw_t *w, const char *key) { qf_jw_str(w, key); }

void qf_jw_int(qf_jw_t *w, long long v) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_integer(w->g, v));
}

void qf_jw_double(qf_jw_t *w, double v) {
  if (w->status != 0)
    return;
  if (!isfinite(v)) {
    qf_jw_check(w, yajl_gen_null(w->g));
    return;
  }
  /* %.15g prints 45.2 as "45.2" where yajl's %.20g prints noise digits. */
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%.15g", v);
  qf_jw_check(w, yajl_gen_number(w->g, buf, (size_t)n));
}

void qf_jw_bool(qf_jw_t *w, bool v) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_bool(w->g, v));
}

void qf_jw_null(qf_jw_t *w) {
  if (w->status == 0)
    qf_jw_check(w, yajl_gen_null(w->g));
}

/* qf_jw_number copies a parsed number through its original text. */
static void qf_jw_number(qf_jw_t *w, yajl_val v) {
  const char *r = v->u.number.r;
  qf_jw_check(w, yajl_gen_number(w->g, r, strlen(r)));
}

void qf_jw_value(qf_jw_t *w, yajl_val v) {
  if (w->status != 0)
    return;
  if (v == NULL || YAJL_IS_NULL(v)) {
    qf_jw_null(w);
  } else if (YAJL_IS_STRING(v)) {
    qf_jw_str(w, v->u.string);
  } else if (YAJL_IS_NUMBER(v)) {
    qf_jw_number(w, v);
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

/* qf_utf8_seq returns the length of the well-formed UTF-8 sequence at p,
 * or 0 when p does not start one (RFC 3629 table 3-7 ranges). */
static size_t qf_utf8_seq(const unsigned char *p) {
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
    size_t n = qf_utf8_seq(p);
    if (n == 0) {
      *p = '?';
      replaced++;
      n = 1;
    }
    p += n;
  }
  return replaced;
}
