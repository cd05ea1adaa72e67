/* heartbeat_project.c: project.json read for the heartbeat. The text is
 * fed to a streaming parser piece by piece: the head (every member before
 * the issue list) is kept, the issues are parsed one at a time and only the
 * flagged ones the heartbeat lists are kept. When the head says how many
 * issues are flagged (completion.flagged_issues, as qiflow_github writes
 * it), reading stops once the listed ones are found, so a large
 * repository's file (35 MB at 100,000 issues) is not read to its end. */
#include "heartbeat_project.h"

#include "qf_buf.h"
#include "qf_json.h"
#include "qf_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

#define HBP_CHUNK 65536 /* bytes read from the file at a time */

/* The state of one read. Stream offsets count bytes from the start of the
 * text; acc holds the text from acc_base on that is still needed. */
typedef struct hbp_reader_s {
  yajl_handle h;
  hb_project_t fresh; /* what is being built; owns its trees */
  qf_buf_t acc;       /* the unconsumed text from acc_base on */
  size_t acc_base;    /* stream offset of acc.data[0] */
  size_t chunk_base;  /* stream offset of the chunk being parsed */
  qf_buf_t head;      /* the text before the issue list's '[' */
  yajl_val early;     /* the head with "issues": [], parsed at its '[' */
  long long total;    /* the head's flagged count, -1 when it gives none */
  int depth;          /* containers open around the next token */
  bool object;        /* the top-level value is an object */
  bool top_key;       /* the current top-level member is "issues" */
  bool seen;          /* a top-level "issues" member was met */
  int state;          /* 0 before the issue list, 1 inside, 2 after */
  size_t arr_close;   /* stream offset just past its ']' */
  size_t elem;        /* stream offset of the current element's '{' */
  bool done;          /* every issue the heartbeat lists is found */
  int status;         /* 0 or the first negative errno of a callback */
} hbp_reader_t;

/* hbp_each counts one issues[] element and keeps it when it is one of the
 * first HB_PROJECT_MAX_FLAGGED flagged ones; ctx is the hb_project_t being
 * built, which then owns the tree. */
static int hbp_each(yajl_val issue, void *ctx) {
  hb_project_t *p = ctx;
  bool flagged = false;
  if (qf_json_get_bool(issue, "flagged", &flagged) != 0 || !flagged)
    return 0;
  p->n_flagged++;
  if (p->n_kept >= HB_PROJECT_MAX_FLAGGED)
    return 0;
  p->flagged[p->n_kept++] = issue;
  return QF_JSON_KEPT;
}

/* hbp_at is the stream offset just past the token being handled. */
static size_t hbp_at(const hbp_reader_t *r) {
  return r->chunk_base + yajl_get_bytes_consumed(r->h);
}

/* hbp_enough tells whether the issues the heartbeat lists are all kept:
 * only when the head gave the flagged count. */
static bool hbp_enough(const hbp_reader_t *r) {
  if (r->total < 0)
    return false;
  long long want =
      r->total < HB_PROJECT_MAX_FLAGGED ? r->total : HB_PROJECT_MAX_FLAGGED;
  return (long long)r->fresh.n_kept >= want;
}

/* hbp_fail records a callback's error and stops the parser (0). */
static int hbp_fail(hbp_reader_t *r, int status) {
  r->status = status;
  return 0;
}

/* hbp_head_begins keeps the head (the text before the '[' at stream
 * offset open) and parses it with "issues": [] to learn the flagged
 * count; returns 1 to go on, 0 to stop the parser. */
static int hbp_head_begins(hbp_reader_t *r, size_t open) {
  int rc = qf_buf_append(&r->head, r->acc.data, open - r->acc_base);
  qf_buf_t text = QF_BUF_INIT;
  if (rc == 0)
    rc = qf_buf_append(&text, r->head.data, r->head.len);
  if (rc == 0)
    rc = qf_buf_puts(&text, "[]}");
  if (rc != 0) {
    qf_buf_free(&text);
    return hbp_fail(r, rc);
  }
  r->early = qf_json_parse(text.data, NULL, 0);
  qf_buf_free(&text);
  if (r->early == NULL)
    return hbp_fail(r, -EINVAL); /* the streaming parser accepted it */
  long long n;
  yajl_val c = qf_json_get(r->early, "completion");
  r->total = qf_json_get_int(c, "flagged_issues", &n) == 0 && n >= 0 ? n : -1;
  r->done = hbp_enough(r);
  return r->done ? 0 : 1;
}

/* hbp_emit parses the element at stream offsets [elem, end) and hands it
 * to hbp_each; 1 to go on, 0 to stop (enough kept, or an error). */
static int hbp_emit(hbp_reader_t *r, size_t end) {
  qf_buf_t text = QF_BUF_INIT;
  yajl_val v;
  int rc = qf_json_parse_len(&text, r->acc.data + (r->elem - r->acc_base),
                             end - r->elem, &v);
  qf_buf_free(&text);
  if (rc != 0)
    return hbp_fail(r, rc); /* -EINVAL: the streaming parser accepted it */
  if (hbp_each(v, &r->fresh) != QF_JSON_KEPT)
    yajl_tree_free(v);
  r->done = hbp_enough(r);
  return r->done ? 0 : 1;
}

/* hbp_scalar notes a scalar: a top-level member's value ends there. */
static int hbp_scalar(void *ctx) {
  hbp_reader_t *r = ctx;
  if (r->depth == 1)
    r->top_key = false;
  return 1;
}

static int hbp_bool(void *ctx, int b) {
  (void)b; /* elements are re-parsed from their text */
  return hbp_scalar(ctx);
}

static int hbp_number(void *ctx, const char *s, size_t n) {
  (void)s; /* as above */
  (void)n;
  return hbp_scalar(ctx);
}

static int hbp_string(void *ctx, const unsigned char *s, size_t n) {
  (void)s; /* as above */
  (void)n;
  return hbp_scalar(ctx);
}

/* hbp_open handles '{' and '[': the issue list's start, an element's. */
static int hbp_open(hbp_reader_t *r, bool array) {
  size_t at = hbp_at(r);
  if (r->depth == 0)
    r->object = !array;
  bool list = r->depth == 1 && r->top_key && array && r->state == 0;
  if (r->depth == 1)
    r->top_key = false;
  if (r->state == 1 && r->depth == 2)
    r->elem = at - 1;
  r->depth++;
  if (!list)
    return 1;
  r->state = 1;
  return hbp_head_begins(r, at - 1);
}

/* hbp_close handles '}' and ']': an element's end, the issue list's. */
static int hbp_close(hbp_reader_t *r, bool array) {
  size_t at = hbp_at(r);
  r->depth--;
  if (r->state == 1 && r->depth == 2 && !array)
    return hbp_emit(r, at);
  if (r->state == 1 && r->depth == 1) {
    r->state = 2;
    r->arr_close = at;
  }
  return 1;
}

static int hbp_start_map(void *ctx) { return hbp_open(ctx, false); }
static int hbp_start_array(void *ctx) { return hbp_open(ctx, true); }
static int hbp_end_map(void *ctx) { return hbp_close(ctx, false); }
static int hbp_end_array(void *ctx) { return hbp_close(ctx, true); }

static int hbp_key(void *ctx, const unsigned char *k, size_t n) {
  hbp_reader_t *r = ctx;
  if (r->depth == 1) {
    /* Only the first member of that name counts, as for qf_json_get. */
    r->top_key = !r->seen && n == 6 && memcmp(k, "issues", 6) == 0;
    r->seen = r->seen || r->top_key;
  }
  return 1;
}

static const yajl_callbacks hbp_callbacks = {
    .yajl_null = hbp_scalar,
    .yajl_boolean = hbp_bool,
    .yajl_number = hbp_number, /* numbers are not converted */
    .yajl_string = hbp_string,
    .yajl_start_map = hbp_start_map,
    .yajl_map_key = hbp_key,
    .yajl_end_map = hbp_end_map,
    .yajl_start_array = hbp_start_array,
    .yajl_end_array = hbp_end_array,
};

/* hbp_error writes why the parse stopped: a callback's errno or yajl's
 * message; returns the negative errno. */
static int hbp_error(hbp_reader_t *r, char *err, size_t errlen) {
  if (r->status != 0) {
    qf_err(err, errlen, "%s", strerror(-r->status));
    return r->status;
  }
  unsigned char *msg = yajl_get_error(r->h, 0, NULL, 0);
  qf_err(err, errlen, "%s", msg != NULL ? (char *)msg : "invalid JSON");
  if (msg != NULL)
    yajl_free_error(r->h, msg);
  if (err != NULL)
    err[strcspn(err, "\r\n")] = '\0';
  return -EINVAL;
}

/* hbp_feed parses the next n bytes of the text: 0 to go on, 1 when enough
 * is kept (the rest need not be read), or a negative errno (why in err). */
static int hbp_feed(hbp_reader_t *r, const char *chunk, size_t n, char *err,
                    size_t errlen) {
  int rc = qf_buf_append(&r->acc, chunk, n);
  if (rc != 0) {
    qf_err(err, errlen, "%s", strerror(-rc));
    return rc;
  }
  yajl_status st = yajl_parse(r->h, (const unsigned char *)chunk, n);
  r->chunk_base += n;
  if (r->done)
    return 1;
  if (st != yajl_status_ok)
    return hbp_error(r, err, errlen);
  /* Inside the issue list only the current element's text is needed. */
  if (r->state == 1) {
    size_t from = r->depth >= 3 ? r->elem : r->chunk_base;
    size_t drop = from - r->acc_base;
    memmove(r->acc.data, r->acc.data + drop, r->acc.len - drop + 1);
    r->acc.len -= drop;
    r->acc_base = from;
  }
  return 0;
}

/* hbp_only_close tells whether tail is the object's '}' alone, with
 * white space around it. */
static bool hbp_only_close(const char *tail) {
  static const char ws[] = " \t\r\n";
  tail += strspn(tail, ws);
  if (*tail != '}')
    return false;
  tail++;
  return tail[strspn(tail, ws)] == '\0';
}

/* hbp_rest parses the document with its issue list as [] once the whole
 * text was fed: the early head when nothing follows the list. */
static int hbp_rest(hbp_reader_t *r, char *err, size_t errlen) {
  if (r->state == 2 &&
      hbp_only_close(r->acc.data + (r->arr_close - r->acc_base))) {
    r->fresh.doc = r->early;
    r->early = NULL;
    return 0;
  }
  qf_buf_t text = QF_BUF_INIT;
  int rc = 0;
  if (r->state == 2) {
    rc = qf_buf_append(&text, r->head.data, r->head.len);
    if (rc == 0)
      rc = qf_buf_puts(&text, "[]");
    if (rc == 0)
      rc = qf_buf_puts(&text, r->acc.data + (r->arr_close - r->acc_base));
  } else {
    rc = qf_buf_append(&text, r->acc.data, r->acc.len);
  }
  if (rc != 0) {
    qf_buf_free(&text);
    qf_err(err, errlen, "%s", strerror(-rc));
    return rc;
  }
  r->fresh.doc = qf_json_parse(text.data, err, errlen);
  qf_buf_free(&text);
  return r->fresh.doc != NULL ? 0 : -EINVAL;
}

/* hbp_finish ends a read whose text is all fed (or enough of it): the
 * document is complete and an object. 0 or a negative errno. */
static int hbp_finish(hbp_reader_t *r, char *err, size_t errlen) {
  if (!r->done) {
    if (yajl_complete_parse(r->h) != yajl_status_ok)
      return hbp_error(r, err, errlen);
    if (!r->object) {
      qf_err(err, errlen, "not a JSON object");
      return -EINVAL;
    }
  }
  int rc = r->done ? 0 : hbp_rest(r, err, errlen);
  if (rc == 0 && r->done) {
    r->fresh.doc = r->early;
    r->early = NULL;
  }
  if (rc == 0 && r->total >= 0)
    r->fresh.n_flagged = r->total; /* the head's count, as the exporter's */
  return rc;
}

/* hbp_init prepares a read; 0 or -ENOMEM. */
static int hbp_init(hbp_reader_t *r) {
  memset(r, 0, sizeof(*r));
  r->acc = (qf_buf_t)QF_BUF_INIT;
  r->head = (qf_buf_t)QF_BUF_INIT;
  r->total = -1;
  r->h = yajl_alloc(&hbp_callbacks, NULL, r);
  return r->h != NULL ? 0 : -ENOMEM;
}

/* hbp_destroy frees what the read still owns (not what it handed on). */
static void hbp_destroy(hbp_reader_t *r) {
  if (r->h != NULL)
    yajl_free(r->h);
  qf_buf_free(&r->acc);
  qf_buf_free(&r->head);
  if (r->early != NULL)
    yajl_tree_free(r->early);
  hb_project_free(&r->fresh);
}

/* hbp_install replaces what p held with the finished read's data. */
static void hbp_install(hb_project_t *p, hbp_reader_t *r) {
  hb_project_free(p); /* the old data goes only now the new is complete */
  *p = r->fresh;
  memset(&r->fresh, 0, sizeof(r->fresh));
}

void hb_project_free(hb_project_t *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n_kept; i++)
    yajl_tree_free(p->flagged[i]);
  if (p->doc != NULL)
    yajl_tree_free(p->doc);
  memset(p, 0, sizeof(*p));
}

int hb_project_load(hb_project_t *p, const char *text, size_t len, char *err,
                    size_t errlen) {
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  hbp_reader_t r;
  int status = hbp_init(&r);
  if (status == 0)
    status = hbp_feed(&r, text, len, err, errlen);
  if (status >= 0)
    status = hbp_finish(&r, err, errlen);
  if (status == 0)
    hbp_install(p, &r);
  else if (err != NULL && errlen > 0 && err[0] == '\0')
    qf_err(err, errlen, "%s", strerror(-status));
  hbp_destroy(&r);
  return status;
}

/* hbp_read_fd feeds the file fd to r until enough is kept or its end;
 * 0 or a negative errno (why in err). */
static int hbp_read_fd(hbp_reader_t *r, int fd, char *err, size_t errlen) {
  static char chunk[HBP_CHUNK]; /* one reader at a time: the plugin thread */
  size_t total = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      qf_err(err, errlen, "%s", strerror(errno));
      return -errno;
    }
    if (n == 0)
      return 0;
    total += (size_t)n;
    if (total > QF_SNAPSHOT_MAX_BYTES) {
      qf_err(err, errlen, "larger than %u bytes", QF_SNAPSHOT_MAX_BYTES);
      return -EFBIG;
    }
    int status = hbp_feed(r, chunk, (size_t)n, err, errlen);
    if (status != 0)
      return status > 0 ? 0 : status;
  }
}

/* hbp_load_file reads path into p as hb_project_load does the text. */
static int hbp_load_file(hb_project_t *p, const char *path, char *err,
                         size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    qf_err(err, errlen, "%s", strerror(errno));
    return -errno;
  }
  hbp_reader_t r;
  int status = hbp_init(&r);
  if (status == 0)
    status = hbp_read_fd(&r, fd, err, errlen);
  close(fd);
  if (status == 0)
    status = hbp_finish(&r, err, errlen);
  if (status == 0)
    hbp_install(p, &r);
  hbp_destroy(&r);
  return status;
}

/* hbp_same tells whether st describes the file s last saw. */
static bool hbp_same(const qf_snapshot_t *s, const struct stat *st) {
  return s->dev == st->st_dev && s->ino == st->st_ino &&
         s->size == st->st_size && s->mtime.tv_sec == st->st_mtim.tv_sec &&
         s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int hb_project_refresh(hb_project_t *p, qf_snapshot_t *s) {
  struct stat st;
  if (stat(s->path, &st) != 0) {
    if (errno != ENOENT)
      return -errno;
    bool had = p->doc != NULL || s->ino != 0;
    hb_project_free(p); /* the file is gone: no data */
    s->dev = 0;
    s->ino = 0;
    s->size = 0;
    s->error[0] = '\0';
    return had ? 1 : 0;
  }
  if (hbp_same(s, &st))
    return s->error[0] ? -EINVAL : 0;
  s->dev = st.st_dev;
  s->ino = st.st_ino;
  s->size = st.st_size;
  s->mtime = st.st_mtim;
  char err[200] = "";
  int status = hbp_load_file(p, s->path, err, sizeof(err));
  if (status != 0) {
    qf_err(s->error, sizeof(s->error), "%s: %s", s->path, err);
    return -EINVAL;
  }
  s->error[0] = '\0';
  return 1;
}
