/* replay.c: a main() for the fuzz targets without libFuzzer. Each argument
 * is a file or a directory of files (not recursed); every file is passed
 * once to LLVMFuzzerTestOneInput, so the seed corpora run as plain tests
 * in every gcc build, cross builds under qemu included. A target that
 * finds a bug aborts, which fails the test. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* rp_file passes one file's bytes to the target; 0 or -1 (reported). */
static int rp_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t *data = NULL;
  size_t size = 0, cap = 0;
  int status = 0;
  for (;;) {
    if (size == cap) {
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      uint8_t *n = realloc(data, ncap);
      if (n == NULL) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        status = -1;
        break;
      }
      data = n;
      cap = ncap;
    }
    size_t got = fread(data + size, 1, cap - size, f);
    size += got;
    if (got == 0)
      break;
  }
  if (status == 0 && ferror(f)) {
    fprintf(stderr, "replay: %s: read error\n", path);
    status = -1;
  }
  fclose(f);
  if (status == 0)
    LLVMFuzzerTestOneInput(data, size);
  free(data);
  return status;
}

/* rp_dir replays every regular file of dir; the count, or -1. */
static int rp_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  int count = 0;
  struct dirent *e;
  char path[4096];
  while (count >= 0 && (e = readdir(d)) != NULL) {
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    count = rp_file(path) == 0 ? count + 1 : -1;
  }
  closedir(d);
  return count;
}

int main(int argc, char **argv) {
  int total = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    int n = S_ISDIR(st.st_mode) ? rp_dir(argv[i])
                                : (rp_file(argv[i]) == 0 ? 1 : -1);
    if (n < 0)
      return 1;
    total += n;
  }
  if (total == 0) {
    fprintf(stderr, "replay: no input files (an empty corpus tests nothing)\n");
    return 1;
  }
  printf("replay: %d inputs, no crash\n", total);
  return 0;
}
