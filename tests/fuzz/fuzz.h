/* fuzz.h: what every libFuzzer target here shares. */
#ifndef QF_FUZZ_H
#define QF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fz_cstr copies the input into a new NUL-terminated string the caller
 * frees (the parsers take C strings, as they get them from files and
 * libcurl); NULL when out of memory. */
static inline char *fz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s != NULL) {
    if (size > 0)
      memcpy(s, data, size);
    s[size] = '\0';
  }
  return s;
}

/* fz_split cuts s at the first c (replaced by NUL) and returns what
 * follows, or "" when there is no c. */
static inline char *fz_split(char *s, char c) {
  char *p = strchr(s, c);
  if (p == NULL)
    return s + strlen(s);
  *p = '\0';
  return p + 1;
}

#endif
