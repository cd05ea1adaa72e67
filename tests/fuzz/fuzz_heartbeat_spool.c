/* fuzz_heartbeat_spool: a spool file as qiflow_heartbeat finds it after a
 * crash, a full disk or tampering: opened (torn or corrupt tails cut off),
 * then every pending record read and finished. The first input line is
 * the .done file's content, the rest the .spool file. Files live in a
 * private directory under /dev/shm (or TMPDIR) made once. */
#include "fuzz.h"
#include "heartbeat_spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char fz_dir[256];

/* fz_write replaces dir/name with len bytes of p; 0 or -1. */
static int fz_write(const char *name, const char *p, size_t len) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", fz_dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  ssize_t w = len > 0 ? write(fd, p, len) : 0;
  close(fd);
  return w == (ssize_t)len ? 0 : -1;
}

/* fz_cleanup removes the directory and what the spool left in it. */
static void fz_cleanup(void) {
  static const char *const names[] = {"b.spool", "b.done", "b.spool.compact"};
  char path[512];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", fz_dir, names[i]);
    unlink(path);
  }
  rmdir(fz_dir);
}

/* fz_setup makes the private directory once; it goes at exit. */
static int fz_setup(void) {
  if (fz_dir[0] != '\0')
    return 0;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(fz_dir, sizeof(fz_dir), "%s/qf-fuzz-spool-XXXXXX", base);
  if (mkdtemp(fz_dir) == NULL) {
    fz_dir[0] = '\0';
    return -1;
  }
  atexit(fz_cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fz_setup() != 0)
    return 0;
  const uint8_t *nl = memchr(data, '\n', size);
  size_t done_len = nl ? (size_t)(nl - data) : 0;
  const uint8_t *spool = nl ? nl + 1 : data;
  if (fz_write("b.done", (const char *)data, done_len) != 0 ||
      fz_write("b.spool", (const char *)spool, size - (size_t)(spool - data)) !=
          0)
    return 0;
  hb_spool_t s;
  size_t discarded = 0;
  char err[256];
  memset(&s, 0, sizeof(s));
  if (hb_spool_open(&s, fz_dir, "b", 1 << 20, &discarded, err, sizeof(err)) ==
      0) {
    long long id;
    char *body;
    size_t len;
    /* Bounded: each pop finishes one record of a file at most size long. */
    for (size_t i = 0; i <= size; i++) {
      if (hb_spool_peek(&s, &id, &body, &len, err, sizeof(err)) != 0)
        break;
      free(body);
      if (hb_spool_pop(&s, err, sizeof(err)) != 0)
        break;
    }
  }
  hb_spool_close(&s);
  return 0;
}
