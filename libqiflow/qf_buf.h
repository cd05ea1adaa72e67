/* qf_buf.h: a growable, always NUL-terminated byte buffer. */
#ifndef QF_BUF_H
#define QF_BUF_H

#include <stddef.h>

typedef struct qf_buf_s {
  char *data; /* NUL-terminated when non-NULL; owned by the buffer */
  size_t len;
  size_t cap;
  size_t max; /* 0: unbounded; else appends past max fail with -EFBIG */
} qf_buf_t;

#define QF_BUF_INIT                                                            \
  { NULL, 0, 0, 0 }

/* qf_buf_reserve makes room for extra more bytes and the terminating NUL
 * (for a caller that writes them itself, then sets len and the NUL); 0,
 * -ENOMEM or -EFBIG. */
int qf_buf_reserve(qf_buf_t *b, size_t extra);
/* qf_buf_append adds n bytes; 0, -ENOMEM or -EFBIG (over b->max). */
int qf_buf_append(qf_buf_t *b, const void *p, size_t n);
/* qf_buf_puts adds a C string. */
int qf_buf_puts(qf_buf_t *b, const char *s);
/* qf_buf_printf appends formatted text; never truncates. */
int qf_buf_printf(qf_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* qf_buf_reset empties the buffer and keeps its memory. */
void qf_buf_reset(qf_buf_t *b);
/* qf_buf_steal hands the data to the caller (who frees it) and empties b. */
char *qf_buf_steal(qf_buf_t *b, size_t *len);
/* qf_buf_free releases the memory; b may be reused afterwards. */
void qf_buf_free(qf_buf_t *b);

/* qf_array_room makes room for element n of the array *arr holds (cap
 * elements of size bytes): when n == *cap it grows to twice as many, or to
 * first when empty, updating *arr and *cap. 0, or -ENOMEM (the array then
 * unchanged). Callers pass a void * holding their array and store it back. */
int qf_array_room(void **arr, size_t *cap, size_t n, size_t size, size_t first);

/* qf_strcpy copies src into dst (n bytes), always terminating; returns 0,
 * or -ENOSPC when src did not fit and was cut. */
int qf_strcpy(char *dst, size_t n, const char *src);

/* qf_err formats a one-line message into a caller buffer (NULL is ok). */
void qf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
