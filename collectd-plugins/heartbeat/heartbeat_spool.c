/* heartbeat_spool.c: a durable FIFO of heartbeats per backend (see the
 * header for the file format and why each step is crash-safe). */
#include "heartbeat_spool.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define HBS_MAGIC "QFHB1"
#define HBS_HEADER_MAX 80 /* "QFHB1 <id> <len> <crc>\n" always fits */
#define HBS_COMPACT_MIN                                                        \
  ((off_t)64 * 1024)                   /* never compact a smaller dead prefix */
#define HBS_FILE_MAX ((size_t)1 << 30) /* refuse to load larger spools */

unsigned long hb_crc32(const void *p, size_t n) {
  unsigned long crc = crc32(0L, Z_NULL, 0);
  const unsigned char *b = p;
  while (n > 0) {
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = crc32(crc, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return crc;
}

/* hbs_header writes a record's header line; returns its length. */
static size_t hbs_header(char *out, size_t outlen, long long id,
                         const char *body, size_t len) {
  int n = snprintf(out, outlen, HBS_MAGIC " %lld %zu %08lx\n", id, len,
                   hb_crc32(body, len));
  return n < 0 ? 0 : (size_t)n;
}

size_t hb_spool_record_size(long long id, size_t len) {
  char hdr[HBS_HEADER_MAX];
  int n =
      snprintf(hdr, sizeof(hdr), HBS_MAGIC " %lld %zu %08lx\n", id, len, 0ul);
  return (size_t)n + len + 1;
}

/* hbs_pread_all reads exactly n bytes at off; -EIO on a short file. */
static int hbs_pread_all(int fd, void *p, size_t n, off_t off) {
  ssize_t r = qf_read_full(fd, p, n, off);
  return r < 0 ? (int)r : (size_t)r == n ? 0 : -EIO;
}

/* hbs_write_done records id as the newest finished record. */
static int hbs_write_done(hb_spool_t *s, long long id, char *err,
                          size_t errlen) {
  char text[32];
  int n = snprintf(text, sizeof(text), "%lld\n", id);
  int status =
      qf_file_write_atomic(s->done_path, text, (size_t)n, 0600, err, errlen);
  if (status == 0)
    s->done_id = id;
  return status;
}

/* hbs_read_done loads the .done id; a missing or unreadable file means 0,
 * which at worst repeats delivered heartbeats (receivers de-duplicate). */
static long long hbs_read_done(const char *path) {
  char *text = NULL;
  if (qf_file_read(path, 64, 0, &text, NULL, NULL, 0) != 0)
    return 0;
  char *end;
  long long id = strtoll(text, &end, 10);
  bool ok = end != text && (*end == '\n' || *end == '\0') && id >= 0;
  free(text);
  return ok ? id : 0;
}

/* hbs_push appends a pending record to the in-memory index. */
static int hbs_push(hb_spool_t *s, const hb_spool_rec_t *r) {
  if (s->head > 0 && s->head + s->count == s->cap) {
    memmove(s->recs, s->recs + s->head, s->count * sizeof(*s->recs));
    s->head = 0;
  }
  void *arr = s->recs;
  if (qf_array_room(&arr, &s->cap, s->head + s->count, sizeof(*s->recs), 64))
    return -ENOMEM;
  s->recs = arr;
  s->recs[s->head + s->count++] = *r;
  s->bytes += r->size;
  if (r->id > s->max_id)
    s->max_id = r->id;
  return 0;
}

/* hbs_field reads one space-prefixed number of base at *p, advancing it. */
static int hbs_field(const char **p, int base, unsigned long long *out) {
  if (**p != ' ' || !isxdigit((unsigned char)(*p)[1]))
    return -EINVAL;
  char *end;
  errno = 0;
  *out = strtoull(*p + 1, &end, base);
  if (errno != 0)
    return -EINVAL;
  *p = end;
  return 0;
}

/* hbs_parse_header reads "QFHB1 <id> <len> <crc>" exactly. */
static int hbs_parse_header(const char *hdr, long long *id,
                            unsigned long long *len, unsigned long long *crc) {
  static const char magic[] = HBS_MAGIC;
  if (strncmp(hdr, magic, sizeof(magic) - 1) != 0)
    return -EINVAL;
  const char *p = hdr + sizeof(magic) - 1;
  unsigned long long v;
  if (hbs_field(&p, 10, &v) != 0 || v == 0 || v > LLONG_MAX ||
      hbs_field(&p, 10, len) != 0 || hbs_field(&p, 16, crc) != 0 || *p != '\0')
    return -EINVAL;
  *id = (long long)v;
  return 0;
}

/* hbs_parse_one checks the record at text[off..n); fills r and returns 0,
 * or -EINVAL when it is torn or corrupt. */
static int hbs_parse_one(const char *text, size_t n, size_t off,
                         hb_spool_rec_t *r) {
  const char *nl = memchr(text + off, '\n', n - off);
  if (nl == NULL || (size_t)(nl - (text + off)) >= HBS_HEADER_MAX)
    return -EINVAL;
  char hdr[HBS_HEADER_MAX];
  size_t hlen = (size_t)(nl - (text + off)) + 1;
  memcpy(hdr, text + off, hlen - 1);
  hdr[hlen - 1] = '\0';
  long long id;
  unsigned long long len, crc;
  if (hbs_parse_header(hdr, &id, &len, &crc) != 0)
    return -EINVAL;
  size_t body = off + hlen;
  if (len > n - body || n - body - len < 1 || text[body + len] != '\n' ||
      hb_crc32(text + body, len) != crc)
    return -EINVAL;
  *r = (hb_spool_rec_t){
      .id = id, .off = (off_t)body, .len = len, .size = hlen + len + 1};
  return 0;
}

/* hbs_load indexes the file's records; a bad record ends the valid part
 * and everything after it is cut off (only a crash mid-append makes one). */
static int hbs_load(hb_spool_t *s, size_t *discarded, char *err,
                    size_t errlen) {
  char *text = NULL;
  size_t n = 0;
  int status = qf_file_read(s->path, HBS_FILE_MAX, 0, &text, &n, err, errlen);
  if (status != 0)
    return status;
  size_t off = 0;
  hb_spool_rec_t r;
  while (off < n && status == 0 && hbs_parse_one(text, n, off, &r) == 0) {
    off += r.size;
    if (r.id > s->max_id && r.id <= s->done_id)
      s->max_id = r.id;
    if (r.id > s->done_id)
      status = hbs_push(s, &r);
  }
  free(text);
  if (status != 0)
    return status;
  *discarded = n - off;
  s->end = (off_t)off;
  if (off < n && (ftruncate(s->fd, (off_t)off) != 0 || fsync(s->fd) != 0)) {
    status = -errno;
    qf_err(err, errlen, "truncate %s: %s", s->path, strerror(-status));
  }
  return status;
}

/* hbs_paths builds the file names of the spool. */
static int hbs_paths(hb_spool_t *s, const char *dir, const char *name) {
  qf_buf_t a = QF_BUF_INIT, b = QF_BUF_INIT, c = QF_BUF_INIT, d = QF_BUF_INIT;
  if (qf_buf_printf(&a, "%s/%s.spool", dir, name) != 0 ||
      qf_buf_printf(&b, "%s/%s.done", dir, name) != 0 ||
      qf_buf_printf(&c, "%s/rejected", dir) != 0 ||
      qf_buf_printf(&d, "%s/rejected/%s.jsonl", dir, name) != 0) {
    qf_buf_free(&a);
    qf_buf_free(&b);
    qf_buf_free(&c);
    qf_buf_free(&d);
    return -ENOMEM;
  }
  s->path = qf_buf_steal(&a, NULL);
  s->done_path = qf_buf_steal(&b, NULL);
  s->rejected_dir = qf_buf_steal(&c, NULL);
  s->rejected_path = qf_buf_steal(&d, NULL);
  return 0;
}

int hb_spool_open(hb_spool_t *s, const char *dir, const char *name,
                  size_t max_bytes, size_t *discarded, char *err,
                  size_t errlen) {
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  s->max_bytes = max_bytes;
  *discarded = 0;
  int status = qf_mkdir_p(dir, 0700, err, errlen);
  if (status == 0 && (status = hbs_paths(s, dir, name)) != 0)
    qf_err(err, errlen, "out of memory");
  if (status == 0) {
    /* A compaction interrupted by a crash leaves its new file behind; the
     * old spool is still whole, so the copy is simply dropped. */
    char compact[4200];
    snprintf(compact, sizeof(compact), "%s.compact", s->path);
    unlink(compact);
    s->done_id = hbs_read_done(s->done_path);
    s->max_id = s->done_id;
    s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0) {
      status = -errno;
      qf_err(err, errlen, "open %s: %s", s->path, strerror(errno));
    }
  }
  if (status == 0)
    status = hbs_load(s, discarded, err, errlen);
  if (status != 0)
    hb_spool_close(s);
  return status;
}

void hb_spool_close(hb_spool_t *s) {
  if (s->fd >= 0)
    close(s->fd);
  free(s->path);
  free(s->done_path);
  free(s->rejected_dir);
  free(s->rejected_path);
  free(s->recs);
  memset(s, 0, sizeof(*s));
  s->fd = -1;
}

size_t hb_spool_depth(const hb_spool_t *s) { return s->count; }

/* hbs_drop_oldest makes room for need more bytes under the bound. */
static int hbs_drop_oldest(hb_spool_t *s, size_t need, long long *ids,
                           size_t max_ids, size_t *n_dropped, char *err,
                           size_t errlen) {
  long long last = 0;
  while (s->max_bytes > 0 && s->count > 0 && s->bytes + need > s->max_bytes) {
    const hb_spool_rec_t *r = &s->recs[s->head];
    if (*n_dropped < max_ids)
      ids[*n_dropped] = r->id;
    (*n_dropped)++;
    s->dropped++;
    last = r->id;
    s->bytes -= r->size;
    s->head++;
    s->count--;
  }
  if (last == 0)
    return 0;
  if (s->count == 0)
    s->head = 0;
  /* Persist before the new record lands, so a restart agrees. */
  return hbs_write_done(s, last, err, errlen);
}

/* hbs_write_record appends one framed record and fsyncs; on failure the
 * file is cut back so no torn record stays behind. */
static int hbs_write_record(hb_spool_t *s, long long id, const char *body,
                            size_t len, hb_spool_rec_t *r, char *err,
                            size_t errlen) {
  char hdr[HBS_HEADER_MAX];
  size_t hlen = hbs_header(hdr, sizeof(hdr), id, body, len);
  int status = qf_write_at(s->fd, hdr, hlen, s->end);
  if (status == 0)
    status = qf_write_at(s->fd, body, len, s->end + (off_t)hlen);
  if (status == 0)
    status = qf_write_at(s->fd, "\n", 1, s->end + (off_t)(hlen + len));
  if (status == 0 && fsync(s->fd) != 0)
    status = -errno;
  if (status != 0) {
    qf_err(err, errlen, "write %s: %s", s->path, strerror(-status));
    /* Best effort: should the cut fail too, the next load drops the torn
     * record by its length and CRC. */
    int cut = ftruncate(s->fd, s->end);
    (void)cut;
    return status;
  }
  *r = (hb_spool_rec_t){.id = id,
                        .off = s->end + (off_t)hlen,
                        .len = len,
                        .size = hlen + len + 1};
  s->end += (off_t)r->size;
  return 0;
}

int hb_spool_append(hb_spool_t *s, long long id, const char *body, size_t len,
                    long long *dropped_ids, size_t max_dropped,
                    size_t *n_dropped, char *err, size_t errlen) {
  *n_dropped = 0;
  size_t need = hb_spool_record_size(id, len);
  if (s->max_bytes > 0 && need > s->max_bytes) {
    qf_err(err, errlen, "heartbeat of %zu bytes exceeds SpoolMaxBytes %zu",
           need, s->max_bytes);
    return -EFBIG;
  }
  if (id <= s->max_id) {
    qf_err(err, errlen, "heartbeat id %lld is not above %lld", id, s->max_id);
    return -EINVAL;
  }
  int status = hbs_drop_oldest(s, need, dropped_ids, max_dropped, n_dropped,
                               err, errlen);
  hb_spool_rec_t r;
  if (status == 0)
    status = hbs_write_record(s, id, body, len, &r, err, errlen);
  if (status == 0)
    status = hbs_push(s, &r);
  return status;
}

int hb_spool_peek(hb_spool_t *s, long long *id, char **body, size_t *len,
                  char *err, size_t errlen) {
  if (s->count == 0)
    return -ENOENT;
  const hb_spool_rec_t *r = &s->recs[s->head];
  char *buf = malloc(r->len + 1);
  if (buf == NULL)
    return -ENOMEM;
  int status = hbs_pread_all(s->fd, buf, r->len, r->off);
  if (status != 0) {
    qf_err(err, errlen, "read %s: %s", s->path, strerror(-status));
    free(buf);
    return status;
  }
  buf[r->len] = '\0';
  *id = r->id;
  *body = buf;
  *len = r->len;
  return 0;
}

/* hbs_copy_pending writes the pending records to fd, updating offsets. */
static int hbs_copy_pending(hb_spool_t *s, int fd, off_t *end) {
  char *buf = NULL;
  int status = 0;
  *end = 0;
  for (size_t i = 0; i < s->count && status == 0; i++) {
    hb_spool_rec_t *r = &s->recs[s->head + i];
    off_t start = r->off - (off_t)(r->size - r->len - 1);
    char *n = realloc(buf, r->size);
    if (n == NULL) {
      status = -ENOMEM;
      break;
    }
    buf = n;
    status = hbs_pread_all(s->fd, buf, r->size, start);
    if (status == 0)
      status = qf_write_at(fd, buf, r->size, *end);
    r->off = *end + (r->off - start);
    *end += (off_t)r->size;
  }
  free(buf);
  return status;
}

/* hbs_compact rewrites the file with only the pending records: a new file
 * renamed over the old one, so a crash leaves one or the other. */
static int hbs_compact(hb_spool_t *s, char *err, size_t errlen) {
  qf_buf_t tmp = QF_BUF_INIT;
  if (qf_buf_printf(&tmp, "%s.compact", s->path) != 0)
    return -ENOMEM;
  hb_spool_rec_t *saved = malloc(s->count * sizeof(*saved));
  int fd = open(tmp.data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int status = saved == NULL ? -ENOMEM : fd < 0 ? -errno : 0;
  off_t end = 0;
  if (status == 0) {
    memcpy(saved, s->recs + s->head, s->count * sizeof(*saved));
    status = hbs_copy_pending(s, fd, &end);
  }
  if (status == 0 && fsync(fd) != 0)
    status = -errno;
  if (status == 0 && rename(tmp.data, s->path) != 0)
    status = -errno;
  if (status == 0) {
    close(s->fd);
    s->fd = fd;
    fd = -1;
    s->end = end;
    memmove(s->recs, s->recs + s->head, s->count * sizeof(*s->recs));
    s->head = 0;
  } else {
    qf_err(err, errlen, "compact %s: %s", s->path, strerror(-status));
    if (saved != NULL) /* keep the old offsets: the old file stays */
      memcpy(s->recs + s->head, saved, s->count * sizeof(*saved));
    unlink(tmp.data);
  }
  if (fd >= 0)
    close(fd);
  free(saved);
  qf_buf_free(&tmp);
  return status;
}

int hb_spool_pop(hb_spool_t *s, char *err, size_t errlen) {
  if (s->count == 0)
    return -ENOENT;
  const hb_spool_rec_t *r = &s->recs[s->head];
  int status = hbs_write_done(s, r->id, err, errlen);
  if (status != 0)
    return status;
  s->bytes -= r->size;
  s->head++;
  s->count--;
  if (s->count == 0) {
    s->head = 0;
    s->end = 0;
    /* Everything is finished: an empty file is the cheapest compaction. */
    if (ftruncate(s->fd, 0) != 0 || fsync(s->fd) != 0) {
      status = -errno;
      qf_err(err, errlen, "truncate %s: %s", s->path, strerror(-status));
    }
    return status;
  }
  off_t dead = s->recs[s->head].off -
               (off_t)(s->recs[s->head].size - s->recs[s->head].len - 1);
  if (dead >= HBS_COMPACT_MIN && (size_t)dead > s->bytes)
    return hbs_compact(s, err, errlen);
  return 0;
}

int hb_spool_supersede(hb_spool_t *s, size_t *n, char *err, size_t errlen) {
  *n = 0;
  while (s->count > 1) {
    int status = hb_spool_pop(s, err, errlen);
    if (status != 0)
      return status;
    (*n)++;
  }
  return 0;
}

/* hbs_rejected_line renders the JSON line of a record set aside. */
static int hbs_rejected_line(long long id, long long t, long http_status,
                             const char *answer, const char *body, size_t len,
                             char **out, size_t *outlen) {
  qf_jw_t w;
  int status = qf_jw_init(&w);
  if (status != 0)
    return status;
  yajl_val doc = qf_json_parse(body, NULL, 0);
  qf_jw_obj_open(&w);
  qf_jw_kint(&w, "heartbeat_id", id);
  qf_jw_ktime(&w, "set_aside_at", t);
  qf_jw_kint(&w, "http_status", http_status);
  char *text = strdup(answer != NULL ? answer : "");
  if (text != NULL)
    qf_json_utf8_repair(text); /* the backend's bytes, whatever they are */
  qf_jw_kstr(&w, "answer", text);
  free(text);
  qf_jw_key(&w, "body");
  if (YAJL_IS_OBJECT(doc))
    qf_jw_raw(&w, body, len); /* our own JSON, CRC-checked */
  else
    qf_jw_str(&w, body); /* cannot happen unless the spool was edited */
  qf_jw_obj_close(&w);
  if (doc != NULL)
    yajl_tree_free(doc);
  status = qf_jw_finish(&w, out, outlen);
  qf_jw_free(&w);
  return status;
}

/* hbs_append_line appends line + "\n" to the rejected file, fsync'd,
 * rotating the file first when the line would take it over the bound. */
static int hbs_append_line(hb_spool_t *s, const char *line, size_t len,
                           char *err, size_t errlen) {
  int status = qf_mkdir_p(s->rejected_dir, 0700, err, errlen);
  if (status != 0)
    return status;
  struct stat st;
  if (stat(s->rejected_path, &st) == 0 && st.st_size > 0 &&
      (size_t)st.st_size + len + 1 > HB_REJECTED_MAX) {
    char older[4200];
    snprintf(older, sizeof(older), "%s.1", s->rejected_path);
    if (rename(s->rejected_path, older) != 0) {
      status = -errno;
      qf_err(err, errlen, "rename %s: %s", s->rejected_path, strerror(errno));
      return status;
    }
  }
  int fd = open(s->rejected_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    status = -errno;
    qf_err(err, errlen, "open %s: %s", s->rejected_path, strerror(errno));
    return status;
  }
  struct stat now;
  off_t start = fstat(fd, &now) == 0 ? now.st_size : 0;
  status = qf_write_at(fd, line, len, start);
  if (status == 0)
    status = qf_write_at(fd, "\n", 1, start + (off_t)len);
  if (status == 0 && fsync(fd) != 0)
    status = -errno;
  if (status != 0) {
    qf_err(err, errlen, "write %s: %s", s->rejected_path, strerror(-status));
    int cut = ftruncate(fd, start); /* no torn line stays behind */
    (void)cut;
  }
  close(fd);
  return status;
}

int hb_spool_set_aside(hb_spool_t *s, long long t, long http_status,
                       const char *answer, char *err, size_t errlen) {
  long long id;
  char *body = NULL, *line = NULL;
  size_t len = 0, llen = 0;
  int status = hb_spool_peek(s, &id, &body, &len, err, errlen);
  if (status != 0)
    return status;
  status =
      hbs_rejected_line(id, t, http_status, answer, body, len, &line, &llen);
  if (status != 0)
    qf_err(err, errlen, "cannot render heartbeat %lld for %s", id,
           s->rejected_path);
  if (status == 0)
    status = hbs_append_line(s, line, llen, err, errlen);
  if (status == 0)
    status = hb_spool_pop(s, err, errlen);
  free(line);
  free(body);
  return status;
}
