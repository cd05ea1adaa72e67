/* qf_json.h: reading yajl trees and writing JSON with a sticky error. */
#ifndef QF_JSON_H
#define QF_JSON_H

#include "qf_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* --- reading --- */

/* qf_json_parse parses text into a tree the caller frees with
 * yajl_tree_free; NULL on error with the parser's message in err. */
yajl_val qf_json_parse(const char *text, char *err, size_t errlen);

/* qf_json_parse_len parses text[0, len), which need not end in a NUL: it
 * is copied into buf (reset first; the caller's scratch, reused across
 * calls) and parsed there. 0 with the tree in *out (the caller frees it),
 * -ENOMEM, or -EINVAL when it is no JSON (*out NULL). */
int qf_json_parse_len(qf_buf_t *buf, const char *text, size_t len,
                      yajl_val *out);

/* qf_json_get returns obj[key], or NULL when obj is no object or lacks it. */
yajl_val qf_json_get(yajl_val obj, const char *key);

/* qf_json_get_str returns obj[key] when it is a string, else NULL. */
const char *qf_json_get_str(yajl_val obj, const char *key);

/* The typed getters return 0, -ENOENT (absent or null) or -EINVAL (wrong
 * type or out of range). */
int qf_json_get_int(yajl_val obj, const char *key, long long *out);
int qf_json_get_double(yajl_val obj, const char *key, double *out);
int qf_json_get_bool(yajl_val obj, const char *key, bool *out);

/* qf_json_each_fn receives one element of a streamed array as a tree. It
 * returns 0 (the tree is freed when it returns), QF_JSON_KEPT (the callee
 * keeps the tree and frees it with yajl_tree_free) or a negative errno,
 * which stops the parse. */
typedef int (*qf_json_each_fn)(yajl_val elem, void *ctx);
#define QF_JSON_KEPT 1

/* qf_json_parse_split parses the JSON object text[0, len) without holding
 * its top-level array member `key` as one tree: each element of that array
 * (the first member of that name, when it is an array) goes to each() in
 * order, and *rest receives the rest of the document (the caller frees it
 * with yajl_tree_free) with that member's value replaced by []. The peak is
 * the rest plus one element instead of the whole tree: a few MB less for a
 * 5,000-issue project.json. Unlike qf_json_parse, comments are refused.
 * Returns 0; -EINVAL (invalid JSON or not an object, the parser's message
 * in err); -ENOMEM; or the first error each() returned. */
int qf_json_parse_split(const char *text, size_t len, const char *key,
                        qf_json_each_fn each, void *ctx, yajl_val *rest,
                        char *err, size_t errlen);

/* qf_json_each_at_fn is qf_json_each_fn told where the element lies: the
 * bytes text[at, at + len) of the text parsed. */
typedef int (*qf_json_each_at_fn)(yajl_val elem, size_t at, size_t len,
                                  void *ctx);

/* qf_json_parse_split_at is qf_json_parse_split with each element's place
 * in text. */
int qf_json_parse_split_at(const char *text, size_t len, const char *key,
                           qf_json_each_at_fn each, void *ctx, yajl_val *rest,
                           char *err, size_t errlen);

/* qf_json_check tells whether text[0, len) is one JSON value as
 * qf_json_parse_split's parser takes it (no comments, UTF-8 strings): 0,
 * -EINVAL, or -ENOMEM. It builds nothing. */
int qf_json_check(const char *text, size_t len);

/* --- scanning one large array member --- */

/* Where a document's text comes from: text[0, len), or (text NULL) the
 * file open as fd, len bytes, read a window of that many bytes at a time
 * (0: QF_SCAN_WINDOW), larger only while one value needs it. */
typedef struct qf_src_s {
  const char *text;
  int fd;
  size_t len;
  size_t window;
} qf_src_t;
#define QF_SCAN_WINDOW (256u << 10)

/* qf_src_read copies src's [off, off + n) to out: 0, or -EIO when the
 * source no longer holds it (a file shrunk), or a read's negative errno. */
int qf_src_read(const qf_src_t *src, size_t off, size_t n, char *out);

/* qf_src_whole gives src's whole text, NUL-terminated, in *text: src's own
 * text, or a copy read from the file that *owned holds (the caller frees
 * *owned; NULL when nothing was read). 0, or -ENOMEM, -EIO (the file
 * shrank: "the file changed while read") or a read's errno, why in err. */
int qf_src_whole(const qf_src_t *src, const char **text, char **owned,
                 char *err, size_t errlen);

/* qf_json_scan_fn receives one element of the scanned array: its text,
 * text[0, len), which lies at [at, at + len) of the source (text is valid
 * during the call only). 0, or a negative errno that stops the scan. */
typedef int (*qf_json_scan_fn)(const char *text, size_t at, size_t len,
                               void *ctx);

/* qf_json_scan scans the JSON object in src without parsing it, a window
 * at a time from a file: each element of its top-level member key (an
 * array) goes to each() in order, and rest receives the document's text
 * with [] in that member's place (the caller parses it; it judges all
 * text outside the array). The scan only delimits values: an element's
 * text is the caller's to check. 0; -EAGAIN when the text does not scan
 * so (no object, no such member or two, one that is no array, a key
 * written with escapes, a value that does not end: qf_json_parse_split
 * on the whole text says what is wrong); -EIO; -ENOMEM; or each()'s
 * error. */
int qf_json_scan(const qf_src_t *src, const char *key, qf_json_scan_fn each,
                 void *ctx, qf_buf_t *rest);

/* qf_json_blanks skips JSON white space in t[i, n): the index of the
 * first other byte, or n. */
size_t qf_json_blanks(const char *t, size_t i, size_t n);

/* qf_json_value_end skips the JSON value starting at text[i] (as the scan
 * does, delimiting it only): the index after it, or len when it does not
 * end. */
size_t qf_json_value_end(const char *text, size_t len, size_t i);

/* --- writing --- */

/* A JSON writer: every call is a no-op once one failed, and the first
 * failure is reported by qf_jw_finish, so callers check once. */
typedef struct qf_jw_s {
  yajl_gen g;
  int status; /* 0 or the first negative errno */
} qf_jw_t;

int qf_jw_init(qf_jw_t *w);
void qf_jw_free(qf_jw_t *w);
/* qf_jw_finish copies the document into a new NUL-terminated buffer that
 * the caller frees; returns the writer's status. */
int qf_jw_finish(qf_jw_t *w, char **out, size_t *len);
/* qf_jw_reset empties the writer for the next document. */
void qf_jw_reset(qf_jw_t *w);

void qf_jw_obj_open(qf_jw_t *w);
void qf_jw_obj_close(qf_jw_t *w);
void qf_jw_arr_open(qf_jw_t *w);
void qf_jw_arr_close(qf_jw_t *w);
void qf_jw_key(qf_jw_t *w, const char *key);
void qf_jw_str(qf_jw_t *w, const char *s); /* NULL writes null */
void qf_jw_int(qf_jw_t *w, long long v);
void qf_jw_double(qf_jw_t *w, double v); /* NaN and infinities write null */
void qf_jw_bool(qf_jw_t *w, bool v);
void qf_jw_null(qf_jw_t *w);
/* qf_jw_value writes a parsed tree (NULL writes null). */
void qf_jw_value(qf_jw_t *w, yajl_val v);
/* qf_jw_raw writes text[0, len) verbatim as one value: a JSON value the
 * program rendered itself (with a qf_jw_t), never text from outside, as
 * nothing checks it. */
void qf_jw_raw(qf_jw_t *w, const char *text, size_t len);

/* Key-value shorthands inside an object. */
void qf_jw_kstr(qf_jw_t *w, const char *key, const char *s);
void qf_jw_kint(qf_jw_t *w, const char *key, long long v);
void qf_jw_kdouble(qf_jw_t *w, const char *key, double v);
void qf_jw_kbool(qf_jw_t *w, const char *key, bool v);
void qf_jw_knull(qf_jw_t *w, const char *key);
/* qf_jw_ktime writes t as an ISO 8601 UTC string, or null when t <= 0. */
void qf_jw_ktime(qf_jw_t *w, const char *key, long long t);

/* qf_json_utf8_repair replaces, in place, every byte of s that is not part
 * of a well-formed UTF-8 sequence (overlong forms, surrogates and code
 * points past U+10FFFF included) with '?', so text from outside (file
 * names, parser messages) can be written with qf_jw_str. Returns how many
 * bytes it replaced. */
size_t qf_json_utf8_repair(char *s);

#endif
