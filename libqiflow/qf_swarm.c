/* qf_swarm.c: the swarm id every part shares. */
#include "qf_swarm.h"
#include "qf_buf.h"
#include "qf_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <unistd.h>

int qf_uuid4(char *out, size_t outlen) {
  unsigned char r[16];
  size_t got = 0;
  while (got < sizeof(r)) {
    ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    got += (size_t)n;
  }
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  int n = snprintf(out, outlen,
                   "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                   "%02x%02x%02x%02x%02x%02x",
                   r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                   r[10], r[11], r[12], r[13], r[14], r[15]);
  return (n < 0 || (size_t)n >= outlen) ? -ENOSPC : 0;
}

int qf_swarm_id_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > QF_SWARM_ID_MAX)
    return 0;
  for (const char *p = s; *p; p++)
    if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\')
      return 0;
  return 1;
}

/* qsw_id_copy trims trailing whitespace and validates into out. */
static int qsw_id_copy(const char *s, char *out, size_t outlen) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    n--;
  if (n == 0 || n >= outlen || n > QF_SWARM_ID_MAX)
    return -EINVAL;
  memcpy(out, s, n);
  out[n] = '\0';
  return qf_swarm_id_valid(out) ? 0 : -EINVAL;
}

/* qsw_id_load reads an existing id file into out. */
static int qsw_id_load(const char *path, char *out, size_t outlen, char *err,
                       size_t errlen) {
  char *text = NULL;
  int status = qf_file_read(path, 4096, 0, &text, NULL, err, errlen);
  if (status != 0)
    return status;
  status = qsw_id_copy(text, out, outlen);
  if (status != 0)
    qf_err(err, errlen, "%s: does not hold a valid swarm id", path);
  free(text);
  return status;
}

/* qsw_id_create writes a new id to a temporary file and links it into
 * place, which fails with -EEXIST when another process won the race. */
static int qsw_id_create(const char *path, char *err, size_t errlen) {
  char id[40], tmp[4200];
  int status = qf_uuid4(id, sizeof(id));
  if (status != 0)
    return status;
  snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
  size_t len = strlen(id);
  id[len++] = '\n';
  status = qf_file_write_atomic(tmp, id, len, 0644, err, errlen);
  if (status != 0)
    return status;
  status = link(tmp, path) == 0 ? 0 : -errno;
  unlink(tmp);
  if (status != 0 && status != -EEXIST)
    qf_err(err, errlen, "link %s: %s", path, strerror(-status));
  return status;
}

int qf_swarm_id_resolve(const char *configured, const char *state_dir,
                        char *out, size_t outlen, char *err, size_t errlen) {
  if (configured != NULL && configured[0] != '\0') {
    if (qsw_id_copy(configured, out, outlen) == 0)
      return 0;
    qf_err(err, errlen, "configured swarm id \"%s\" is not valid", configured);
    return -EINVAL;
  }
  char path[4096];
  if (qf_path_join(path, sizeof(path), state_dir, QF_SWARM_ID_FILE) != 0) {
    qf_err(err, errlen, "state dir path too long");
    return -ENAMETOOLONG;
  }
  int status = qf_state_dir_make(state_dir, err, errlen);
  if (status != 0)
    return status;
  if (access(path, F_OK) != 0) {
    status = qsw_id_create(path, err, errlen);
    if (status != 0 && status != -EEXIST)
      return status;
  }
  return qsw_id_load(path, out, outlen, err, errlen);
}

void qf_platform(char *out, size_t outlen) {
  struct utsname u;
  qf_strcpy(out, outlen, uname(&u) == 0 ? u.sysname : "unknown");
  for (char *p = out; *p; p++)
    *p = (char)tolower((unsigned char)*p);
}
