/* qf_swarm.h: the swarm id every part shares. */
#ifndef QF_SWARM_H
#define QF_SWARM_H

#include <stddef.h>

#define QF_SWARM_ID_MAX 128 /* longest id accepted, without the NUL */
#define QF_SWARM_ID_FILE "swarm_id"

/* qf_uuid4 writes a random (version 4) UUID into out (37 bytes or more). */
int qf_uuid4(char *out, size_t outlen);

/* qf_swarm_id_valid tells whether s is a usable id: 1..QF_SWARM_ID_MAX
 * printable ASCII characters without spaces, quotes or backslashes. */
int qf_swarm_id_valid(const char *s);

/* qf_swarm_id_resolve picks the swarm id: the configured one when non-empty,
 * else the one persisted in state_dir/swarm_id, else a new UUID created
 * there exclusively (so concurrent parts agree). 0 or a negative errno. */
int qf_swarm_id_resolve(const char *configured, const char *state_dir,
                        char *out, size_t outlen, char *err, size_t errlen);

/* qf_platform writes the lower-cased kernel name ("linux", "unknown" when
 * uname fails): the platform every part reports, as the earlier agent did. */
void qf_platform(char *out, size_t outlen);

#endif
