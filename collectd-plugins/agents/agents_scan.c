/* agents_scan.c: AgentDir listed and read relative to one descriptor, with
 * the parse of unchanged files kept between reads. */
#include "agents_scan.h"

#include "qf_buf.h"
#include "qf_file.h"
#include "qf_json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* as_is_agent_file tells whether a directory entry may be an agent file:
 * "*.json", not hidden (editors' and writers' temporaries are). */
static bool as_is_agent_file(const char *name) {
  size_t n = strlen(name);
  return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static int as_cmp_names(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

/* as_grow makes room for need elements of size sz in *arr. */
static int as_grow(void **arr, size_t *cap, size_t need, size_t sz) {
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap : 32;
  while (ncap < need)
    ncap *= 2;
  void *p = realloc(*arr, ncap * sz);
  if (p == NULL)
    return -ENOMEM;
  *arr = p;
  *cap = ncap;
  return 0;
}

/* as_collect reads d's agent file names into s->names. 0 or -errno. */
static int as_collect(agents_scan_t *s, DIR *d) {
  s->names_len = 0;
  s->files = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (de == NULL)
      return errno != 0 ? -errno : 0;
    if (!as_is_agent_file(de->d_name))
      continue;
    size_t len = strlen(de->d_name) + 1;
    void *names = s->names;
    if (as_grow(&names, &s->names_cap, s->names_len + len, 1) != 0)
      return -ENOMEM;
    s->names = names;
    memcpy(s->names + s->names_len, de->d_name, len);
    s->names_len += len;
    s->files++;
  }
}

/* as_list points s->list at the collected names, sorted (so the first
 * file of duplicate agents is stable). 0 or -ENOMEM. */
static int as_list(agents_scan_t *s) {
  void *list = s->list;
  if (as_grow(&list, &s->list_cap, s->files + 1, sizeof(*s->list)) != 0)
    return -ENOMEM;
  s->list = list;
  size_t off = 0;
  for (size_t i = 0; i < s->files; i++) {
    s->list[i] = s->names + off;
    off += strlen(s->names + off) + 1;
  }
  if (s->files > 1)
    qsort(s->list, s->files, sizeof(*s->list), as_cmp_names);
  return 0;
}

static void as_entry_free(agents_cache_entry_t *e) {
  free(e->name);
  free(e->error);
  agents_agent_free(&e->agent);
  memset(e, 0, sizeof(*e));
}

/* as_key copies what identifies this version of a file. */
static void as_key(const struct stat *st, agents_filekey_t *key) {
  key->dev = st->st_dev;
  key->ino = st->st_ino;
  key->size = st->st_size;
  key->mtime = st->st_mtim;
}

static bool as_same_time(struct timespec a, struct timespec b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* as_fresh tells whether the cached parse e still describes the file whose
 * stat is st. */
static bool as_fresh(const agents_cache_entry_t *e, const struct stat *st) {
  return e->settled && e->key.dev == st->st_dev && e->key.ino == st->st_ino &&
         e->key.size == st->st_size &&
         as_same_time(e->key.mtime, st->st_mtim) &&
         as_same_time(e->ctime, st->st_ctim);
}

/* as_path writes "dir/name" for a message (cut when too long). */
static void as_path(char *out, size_t outlen, const char *dir,
                    const char *name) {
  snprintf(out, outlen, "%s/%s", dir, name);
}

/* as_read reads the open regular file fd (at most AGENTS_FILE_MAX bytes)
 * into s->text, NUL-terminated. 0, -EFBIG or -errno. */
static int as_read(agents_scan_t *s, int fd, size_t *len) {
  if (s->text == NULL && (s->text = malloc(AGENTS_FILE_MAX + 2)) == NULL)
    return -ENOMEM;
  ssize_t got = qf_read_full(fd, s->text, AGENTS_FILE_MAX + 1, -1);
  if (got < 0)
    return (int)got;
  size_t n = (size_t)got;
  if (n > AGENTS_FILE_MAX)
    return -EFBIG;
  s->text[n] = '\0';
  *len = n;
  return 0;
}

/* as_open_read opens name in dfd (no symlink, no waiting) and reads it
 * into s->text. 0, or a negative errno with the message in err. */
static int as_open_read(agents_scan_t *s, int dfd, const char *dir,
                        const char *name, size_t *len, char *err,
                        size_t errlen) {
  char path[4096];
  as_path(path, sizeof(path), dir, name);
  struct stat st = {0};
  int fd = qf_file_open_checked(dfd, name, path, AGENTS_FILE_MAX,
                                QF_READ_NOFOLLOW, &st, err, errlen);
  if (fd < 0)
    return fd;
  int status = as_read(s, fd, len);
  if (status != 0 && status != -ENOMEM) {
    qf_err(err, errlen, "read %s: %s", path,
           status == -EFBIG ? "over the size limit" : strerror(-status));
  }
  close(fd);
  return status;
}

/* as_parse fills the new cache entry e (name set) from the text of its
 * file: an agent, or the error that makes it invalid. 0 or -ENOMEM. */
static int as_parse(agents_cache_entry_t *e, const char *text, size_t len) {
  char err[AGENTS_ERROR_MAX];
  if (strlen(text) != len) {
    e->error = strdup("contains a NUL byte");
    return e->error != NULL ? 0 : -ENOMEM;
  }
  int status = agents_parse(text, &e->agent, err, sizeof(err));
  if (status == -EINVAL) {
    e->error = strdup(err);
    return e->error != NULL ? 0 : -ENOMEM;
  }
  if (status != 0)
    return status;
  e->agent.file = strdup(e->name);
  if (e->agent.file == NULL)
    return -ENOMEM;
  qf_json_utf8_repair(e->agent.file);
  e->agent.key = e->key;
  e->valid = true;
  return 0;
}

/* as_use adds the cache entry e to r. 0 or -ENOMEM. */
static int as_use(const agents_cache_entry_t *e, agents_result_t *r) {
  if (e->valid)
    return agents_result_add_borrowed(r, &e->agent);
  return agents_result_add_invalid(r, e->name, e->error, &e->key, false);
}

/* as_settled tells whether a file whose stat is st changed at least
 * AGENTS_SETTLE_SECONDS before start. */
static bool as_settled(const struct stat *st, time_t start) {
  time_t last = st->st_mtim.tv_sec > st->st_ctim.tv_sec ? st->st_mtim.tv_sec
                                                        : st->st_ctim.tv_sec;
  return last + AGENTS_SETTLE_SECONDS <= start;
}

/* as_load reads and parses the regular file name (stat st) of dfd into
 * the next cache slot and r. A file that vanished meanwhile is no file.
 * 0 or -ENOMEM. */
static int as_load(agents_scan_t *s, int dfd, const char *dir, const char *name,
                   const struct stat *st, time_t start, agents_result_t *r,
                   size_t *n_next) {
  char err[AGENTS_ERROR_MAX];
  agents_filekey_t key;
  as_key(st, &key);
  size_t len = 0;
  int status = as_open_read(s, dfd, dir, name, &len, err, sizeof(err));
  if (status == -ENOENT || status == -ENOMEM)
    return status == -ENOENT ? 0 : status;
  if (status != 0) /* not cached: tried again next read */
    return agents_result_add_invalid(r, name, err, &key, false);
  s->parsed++;
  agents_cache_entry_t *e = &s->next[*n_next];
  memset(e, 0, sizeof(*e));
  e->key = key;
  e->ctime = st->st_ctim;
  e->settled = as_settled(st, start);
  e->name = strdup(name);
  status = e->name != NULL ? as_parse(e, s->text, len) : -ENOMEM;
  if (status != 0) {
    as_entry_free(e);
    return status;
  }
  (*n_next)++;
  return as_use(e, r);
}

/* as_file handles one listed agent file: its stat decides between the
 * cached parse old (NULL: none) and a new read. 0 or -ENOMEM. */
static int as_file(agents_scan_t *s, int dfd, const char *dir, const char *name,
                   agents_cache_entry_t *old, time_t start, agents_result_t *r,
                   size_t *n_next) {
  char err[AGENTS_ERROR_MAX], path[4096];
  agents_filekey_t key = {0};
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return 0;
    as_path(path, sizeof(path), dir, name);
    qf_err(err, sizeof(err), "lstat %s: %s", path, strerror(errno));
    return agents_result_add_invalid(r, name, err, &key, false);
  }
  as_key(&st, &key);
  if (S_ISLNK(st.st_mode))
    return agents_result_add_invalid(r, name, "is a symbolic link", &key,
                                     false);
  if (!S_ISREG(st.st_mode))
    return agents_result_add_invalid(r, name, "not a regular file", &key,
                                     false);
  if (old != NULL && as_fresh(old, &st)) {
    s->reused++;
    s->next[*n_next] = *old; /* moved: the old slot no longer owns it */
    memset(old, 0, sizeof(*old));
    return as_use(&s->next[(*n_next)++], r);
  }
  return as_load(s, dfd, dir, name, &st, start, r, n_next);
}

/* as_match returns the cache entry named name, or NULL; *j walks the
 * sorted cache along with the sorted names. */
static agents_cache_entry_t *as_match(agents_scan_t *s, size_t *j,
                                      const char *name) {
  while (*j < s->n && strcmp(s->entries[*j].name, name) < 0)
    (*j)++;
  if (*j < s->n && strcmp(s->entries[*j].name, name) == 0)
    return &s->entries[(*j)++];
  return NULL;
}

/* as_files adds every listed name to r and builds the next cache. The
 * next array is sized first: r borrows from it, so it never moves.
 * 0 or -ENOMEM. */
static int as_files(agents_scan_t *s, int dfd, const char *dir,
                    size_t max_files, time_t start, agents_result_t *r) {
  size_t read_n = s->files < max_files ? s->files : max_files;
  void *next = s->next;
  if (as_grow(&next, &s->next_cap, read_n + 1, sizeof(*s->next)) != 0)
    return -ENOMEM;
  s->next = next;
  size_t j = 0, n_next = 0;
  int status = 0;
  for (size_t i = 0; i < s->files && status == 0; i++) {
    const char *name = s->list[i];
    if (i < max_files)
      status =
          as_file(s, dfd, dir, name, as_match(s, &j, name), start, r, &n_next);
    else /* the caller reports these in one warning */
      status = agents_result_add_invalid(
          r, name, "not read: over MaxAgentFiles", NULL, /* quiet = */ true);
  }
  for (size_t k = 0; k < s->n; k++) /* deleted, changed or not reached */
    as_entry_free(&s->entries[k]);
  agents_cache_entry_t *tmp = s->entries;
  size_t tmp_cap = s->cap;
  s->entries = s->next;
  s->cap = s->next_cap;
  s->n = n_next;
  s->next = tmp;
  s->next_cap = tmp_cap;
  return status;
}

int agents_scan(agents_scan_t *s, const char *dir, size_t max_files, time_t now,
                agents_result_t *r) {
  s->parsed = s->reused = s->unread = 0;
  s->load_error = 0;
  DIR *d = opendir(dir);
  if (d == NULL)
    return -errno;
  int status = as_collect(s, d);
  if (status == 0)
    status = as_list(s);
  if (status == 0) {
    s->unread = s->files > max_files ? s->files - max_files : 0;
    s->load_error = as_files(s, dirfd(d), dir, max_files, now, r);
  }
  closedir(d);
  return status;
}

void agents_scan_free(agents_scan_t *s) {
  for (size_t k = 0; k < s->n; k++)
    as_entry_free(&s->entries[k]);
  free(s->entries);
  free(s->next);
  free(s->names);
  free(s->list);
  free(s->text);
  memset(s, 0, sizeof(*s));
}
