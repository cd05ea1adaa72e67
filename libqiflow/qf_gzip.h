/* qf_gzip.h: one gzip member from a buffer, for Content-Encoding: gzip (the
 * heartbeat's request bodies and the exporter's responses). */
#ifndef QF_GZIP_H
#define QF_GZIP_H

#include <stddef.h>

/* qf_gzip compresses len bytes of in (zlib's default level) into a new
 * buffer the caller frees. 0, -EFBIG (over 2 GiB), -ENOMEM or -EIO. */
int qf_gzip(const void *in, size_t len, char **out, size_t *outlen);

#endif
