/* qf_buf.c: growable byte buffer and the error-buffer helper. */
#include "qf_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* qbuf_reserve makes room for extra bytes plus the terminating NUL. */
static int qbuf_reserve(qf_buf_t *b, size_t extra) {
  if (b->max != 0 && (extra > b->max || b->len > b->max - extra))
    return -EFBIG;
  if (extra >= SIZE_MAX / 2 - b->len)
    return -ENOMEM;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (p == NULL)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int qf_buf_append(qf_buf_t *b, const void *p, size_t n) {
  int status = qbuf_reserve(b, n);
  if (status != 0)
    return status;
  if (n > 0)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int qf_buf_puts(qf_buf_t *b, const char *s) {
  return qf_buf_append(b, s, strlen(s));
}

int qf_buf_printf(qf_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -EINVAL;
  int status = qbuf_reserve(b, (size_t)n);
  if (status != 0)
    return status;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int qf_buf_reserve(qf_buf_t *b, size_t extra) { return qbuf_reserve(b, extra); }

void qf_buf_reset(qf_buf_t *b) {
  b->len = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}

char *qf_buf_steal(qf_buf_t *b, size_t *len) {
  char *p = b->data;
  if (len != NULL)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void qf_buf_free(qf_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int qf_strcpy(char *dst, size_t n, const char *src) {
  if (n == 0)
    return -ENOSPC;
  size_t len = strlen(src);
  size_t take = len < n ? len : n - 1;
  memcpy(dst, src, take);
  dst[take] = '\0';
  return take == len ? 0 : -ENOSPC;
}

void qf_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

int qf_array_room(void **arr, size_t *cap, size_t n, size_t size,
                  size_t first) {
  if (n < *cap)
    return 0;
  size_t want = *cap ? *cap * 2 : first;
  if (want < n + 1 || want > SIZE_MAX / size)
    return -ENOMEM;
  void *p = realloc(*arr, want * size);
  if (p == NULL)
    return -ENOMEM;
  *arr = p;
  *cap = want;
  return 0;
}
