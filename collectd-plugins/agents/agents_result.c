/* agents_result.c: liveness, status derivation and one read's result. */
#include "agents.h"

#include "qf_buf.h"
#include "qf_json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ar_proc_state reads the state letter of /proc/<pid>/stat into *state:
 * 0, or the negative errno of opening it (-ENOENT: no such process, or no
 * /proc). Plain open/read: no stdio buffer for 1,000 pids a read. */
static int ar_proc_state(long long pid, char *state) {
  char path[64], buf[512];
  *state = '?';
  snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n;
  do
    n = read(fd, buf, sizeof(buf) - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  /* "pid (comm) S ...": comm may hold spaces and parentheses. */
  const char *p = strrchr(buf, ')');
  if (p != NULL && p[1] == ' ')
    *state = p[2];
  return 0;
}

/* ar_pidfd_exited asks a pidfd whether pid's process exited: 1 exited
 * (a zombie, or reaped meanwhile), 0 running, -ESRCH no such process, or
 * another negative errno when pidfds cannot tell (no pidfd_open before
 * Linux 5.3 or under a seccomp filter; EINVAL for a thread's id). A pidfd
 * costs no path walk and no /proc text, and its poll reports exit only
 * once every thread of the process ended. */
static int ar_pidfd_exited(long long pid) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0)
    return -errno;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, 0);
  int e = errno;
  close(fd);
  if (n < 0)
    return -e;
  return n > 0 ? 1 : 0;
#else
  (void)pid; /* no pidfds on this system */
  return -ENOSYS;
#endif
}

/* agents_pid_alive: a pidfd answers when it can. Otherwise a process
 * whose /proc/<pid>/stat opens exists (kill() would succeed or say EPERM),
 * so that read alone answers, a zombie (exited, not yet reaped: kill()
 * still succeeds for it) counting as gone. Only when that does not open
 * (the process is gone, /proc is missing, or hidepid hides another user's
 * process) does kill() decide, with no zombie check. */
int agents_pid_alive(long long pid) {
  if (pid <= 0 || pid > INT_MAX)
    return -EINVAL;
  int exited = ar_pidfd_exited(pid);
  if (exited >= 0)
    return exited ? 0 : 1;
  if (exited == -ESRCH)
    return 0;
  char state;
  if (ar_proc_state(pid, &state) == 0)
    return state == 'Z' || state == 'X' ? 0 : 1;
  if (kill((pid_t)pid, 0) != 0) {
    if (errno == ESRCH)
      return 0;
    if (errno != EPERM) /* EPERM: it exists, owned by someone else */
      return -errno;
  }
  return 1;
}

void agents_derive(agents_agent_t *a, time_t now, long long stale_after,
                   agents_pid_alive_fn alive) {
  a->liveness = AGENTS_LIVENESS_UNKNOWN;
  if (alive != NULL && a->has_pid) {
    int r = alive(a->pid);
    if (r > 0)
      a->liveness = AGENTS_LIVENESS_ALIVE;
    else if (r == 0)
      a->liveness = AGENTS_LIVENESS_DEAD;
  }
  if (a->liveness == AGENTS_LIVENESS_DEAD)
    a->status = AGENTS_DEAD;
  else if (a->reported == AGENTS_FAILED)
    a->status = AGENTS_FAILED;
  else if (a->has_activity && (long long)(now - a->last_activity) > stale_after)
    a->status = AGENTS_STALE;
  else
    a->status = a->reported;
  a->has_time_on_task = a->has_started;
  a->time_on_task_seconds = 0;
  /* A start in the future (clock skew between hosts) counts as zero. */
  if (a->has_started && now > a->task_started_at)
    a->time_on_task_seconds = (long long)(now - a->task_started_at);
}

/* ar_grow makes room for one more element of size sz in *arr. */
static int ar_grow(void **arr, size_t *cap, size_t n, size_t sz) {
  return qf_array_room(arr, cap, n, sz, 16);
}

/* ar_dup_utf8 copies s with invalid UTF-8 repaired; NULL on OOM. */
static char *ar_dup_utf8(const char *s) {
  char *copy = strdup(s);
  if (copy != NULL)
    qf_json_utf8_repair(copy);
  return copy;
}

int agents_result_add_agent(agents_result_t *r, agents_agent_t *a,
                            const char *file, const agents_filekey_t *key) {
  void *arr = r->agents;
  if (ar_grow(&arr, &r->cap_agents, r->n_agents, sizeof(*r->agents)) != 0)
    return -ENOMEM;
  r->agents = arr;
  char *copy = ar_dup_utf8(file);
  if (copy == NULL)
    return -ENOMEM;
  free(a->file);
  a->file = copy;
  if (key != NULL)
    a->key = *key;
  r->agents[r->n_agents++] = *a; /* ownership moves into r */
  memset(a, 0, sizeof(*a));
  return 0;
}

int agents_result_add_borrowed(agents_result_t *r, const agents_agent_t *a) {
  void *arr = r->agents;
  if (ar_grow(&arr, &r->cap_agents, r->n_agents, sizeof(*r->agents)) != 0)
    return -ENOMEM;
  r->agents = arr;
  r->agents[r->n_agents] = *a;
  r->agents[r->n_agents++].borrowed = true;
  return 0;
}

/* ar_agent_free frees an agent of a result unless its strings are
 * borrowed. */
static void ar_agent_free(agents_agent_t *a) {
  if (a->borrowed)
    memset(a, 0, sizeof(*a));
  else
    agents_agent_free(a);
}

int agents_result_add_invalid(agents_result_t *r, const char *file,
                              const char *error, const agents_filekey_t *key,
                              bool quiet) {
  void *arr = r->invalid;
  if (ar_grow(&arr, &r->cap_invalid, r->n_invalid, sizeof(*r->invalid)) != 0)
    return -ENOMEM;
  r->invalid = arr;
  agents_invalid_t inv = {.quiet = quiet};
  inv.file = ar_dup_utf8(file);
  inv.error = ar_dup_utf8(error);
  if (inv.file == NULL || inv.error == NULL) {
    free(inv.file);
    free(inv.error);
    return -ENOMEM;
  }
  /* One line: a multi-line message would break collectd's log format. */
  for (char *p = inv.error; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  if (key != NULL)
    inv.key = *key;
  r->invalid[r->n_invalid++] = inv;
  return 0;
}

/* ar_cmp_instance orders agents by instance, then by file, so the first of
 * a group of clashing agents is the one whose file sorts first. */
static int ar_cmp_instance(const void *x, const void *y) {
  const agents_agent_t *a = x, *b = y;
  int c = strcmp(a->instance, b->instance);
  return c != 0 ? c : strcmp(a->file, b->file);
}

static int ar_cmp_name(const void *x, const void *y) {
  const agents_agent_t *a = x, *b = y;
  return strcmp(a->name, b->name);
}

static int ar_cmp_invalid(const void *x, const void *y) {
  const agents_invalid_t *a = x, *b = y;
  return strcmp(a->file, b->file);
}

/* ar_clash turns agent dup, whose instance equals that of keep (from an
 * earlier file), into an invalid file. Frees dup. 0 or -ENOMEM. */
static int ar_clash(agents_result_t *r, agents_agent_t *dup,
                    const agents_agent_t *keep) {
  char err[AGENTS_ERROR_MAX], qdup[64], qkeep[64];
  agents_quote(dup->name, qdup, sizeof(qdup));
  agents_quote(keep->name, qkeep, sizeof(qkeep));
  if (strcmp(dup->name, keep->name) == 0)
    qf_err(err, sizeof(err), "duplicate name \"%s\": %s already has it", qdup,
           keep->file);
  else
    qf_err(err, sizeof(err),
           "name \"%s\" gives the same collectd instance \"%s\" as \"%s\" "
           "in %s",
           qdup, keep->instance, qkeep, keep->file);
  int status = agents_result_add_invalid(r, dup->file, err, &dup->key, false);
  ar_agent_free(dup);
  return status;
}

/* ar_dedup keeps the first agent (by file) of each instance and moves the
 * rest to the invalid list. */
static int ar_dedup(agents_result_t *r) {
  if (r->n_agents < 2)
    return 0;
  qsort(r->agents, r->n_agents, sizeof(*r->agents), ar_cmp_instance);
  size_t kept = 1;
  int status = 0;
  for (size_t i = 1; i < r->n_agents; i++) {
    agents_agent_t *a = &r->agents[i], *prev = &r->agents[kept - 1];
    if (strcmp(a->instance, prev->instance) != 0) {
      r->agents[kept++] = *a;
      continue;
    }
    int s = ar_clash(r, a, prev);
    if (s != 0 && status == 0)
      status = s;
  }
  r->n_agents = kept;
  return status;
}

int agents_result_finish(agents_result_t *r, time_t now, long long stale_after,
                         agents_pid_alive_fn alive) {
  int status = ar_dedup(r);
  memset(r->counts, 0, sizeof(r->counts));
  for (size_t i = 0; i < r->n_agents; i++) {
    agents_derive(&r->agents[i], now, stale_after, alive);
    r->counts[r->agents[i].status]++;
  }
  if (r->n_agents > 1)
    qsort(r->agents, r->n_agents, sizeof(*r->agents), ar_cmp_name);
  if (r->n_invalid > 1)
    qsort(r->invalid, r->n_invalid, sizeof(*r->invalid), ar_cmp_invalid);
  return status;
}

void agents_result_free(agents_result_t *r) {
  for (size_t i = 0; i < r->n_agents; i++)
    ar_agent_free(&r->agents[i]);
  for (size_t i = 0; i < r->n_invalid; i++) {
    free(r->invalid[i].file);
    free(r->invalid[i].error);
  }
  free(r->agents);
  free(r->invalid);
  memset(r, 0, sizeof(*r));
}

const agents_invalid_t *agents_find_invalid(const agents_result_t *r,
                                            const char *file) {
  agents_invalid_t probe = {.file = (char *)file};
  if (r->n_invalid == 0)
    return NULL;
  return bsearch(&probe, r->invalid, r->n_invalid, sizeof(*r->invalid),
                 ar_cmp_invalid);
}
