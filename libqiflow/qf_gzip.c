/* qf_gzip.c: see qf_gzip.h. */
/* zlib declares next_in const, as compressing never writes the input. */
#define ZLIB_CONST
#include "qf_gzip.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int qf_gzip(const void *in, size_t len, char **out, size_t *outlen) {
  if (len > (size_t)UINT32_MAX / 2)
    return -EFBIG;
  z_stream z;
  memset(&z, 0, sizeof(z));
  /* windowBits 15 + 16: a gzip wrapper instead of zlib's. */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return -ENOMEM;
  uLong bound = deflateBound(&z, (uLong)len);
  char *buf = malloc(bound);
  if (buf == NULL) {
    deflateEnd(&z);
    return -ENOMEM;
  }
  z.next_in = (const Bytef *)in;
  z.avail_in = (uInt)len;
  z.next_out = (Bytef *)buf;
  z.avail_out = (uInt)bound;
  int rc = deflate(&z, Z_FINISH); /* deflateBound: one call suffices */
  size_t n = (size_t)z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(buf);
    return -EIO;
  }
  *out = buf;
  *outlen = n;
  return 0;
}
