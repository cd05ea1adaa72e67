/* agents.h: the agent registry's logic, free of collectd symbols so
 * the unit tests link it directly: parsing one agent file, deriving status
 * and liveness, collecting a read's result, rendering agents.json. */
#ifndef AGENTS_H
#define AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define AGENTS_FILE_MAX ((size_t)64 * 1024) /* larger files are invalid */
#define AGENTS_NAME_MAX 127  /* characters: a plugin_instance holds 127 */
#define AGENTS_ERROR_MAX 512 /* longest message about one invalid file */

/* Derived statuses, in the order the snapshot's counts list them. */
typedef enum agents_status_e {
  AGENTS_ACTIVE,
  AGENTS_IDLE,
  AGENTS_BLOCKED,
  AGENTS_FAILED,
  AGENTS_DEAD,
  AGENTS_STALE,
  AGENTS_STATUS_COUNT
} agents_status_t;

typedef enum agents_liveness_e {
  AGENTS_LIVENESS_UNKNOWN, /* no pid, ProcessCheck off, or kill() unclear */
  AGENTS_LIVENESS_ALIVE,
  AGENTS_LIVENESS_DEAD
} agents_liveness_t;

/* What identifies one version of a file, so a warning about it is logged
 * once and again only when the file changes. */
typedef struct agents_filekey_s {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} agents_filekey_t;

typedef struct agents_agent_s {
  /* from the file; strings owned by the agent, NULL when absent */
  char *name;
  char *reported_status;    /* as written, e.g. "working" */
  agents_status_t reported; /* active, idle, blocked or failed */
  char *current_task;
  bool has_issue, has_started, has_activity, has_pid;
  long long issue_number;
  time_t task_started_at, last_activity;
  long long pid;
  /* where it came from */
  char *file; /* base name inside AgentDir */
  agents_filekey_t key;
  char instance[AGENTS_NAME_MAX + 1]; /* sanitised name */
  /* In a result: the strings belong to the scan cache (agents_scan.h),
   * which outlives the result; freeing the result leaves them. */
  bool borrowed;
  /* derived by agents_derive */
  agents_status_t status;
  agents_liveness_t liveness;
  bool has_time_on_task;
  long long time_on_task_seconds;
} agents_agent_t;

typedef struct agents_invalid_s {
  char *file;  /* base name, valid UTF-8 */
  char *error; /* one line, valid UTF-8 */
  agents_filekey_t key;
  bool quiet; /* covered by a summary warning: no warning of its own */
} agents_invalid_t;

/* One read's outcome. */
typedef struct agents_result_s {
  agents_agent_t *agents;
  size_t n_agents, cap_agents;
  agents_invalid_t *invalid;
  size_t n_invalid, cap_invalid;
  unsigned counts[AGENTS_STATUS_COUNT];
} agents_result_t;

/* agents_pid_alive_fn tells whether a process exists: 1 alive, 0 gone, a
 * negative errno when it cannot tell. The seam lets tests decide. */
typedef int (*agents_pid_alive_fn)(long long pid);

/* --- agents_parse.c --- */

/* agents_status_name returns "active", ... "stale". */
const char *agents_status_name(agents_status_t s);
/* agents_status_parse maps a derived status name back; -EINVAL if none. */
int agents_status_parse(const char *s, agents_status_t *out);
const char *agents_liveness_name(agents_liveness_t l);

/* agents_parse reads one agent file's text into a (zeroed first; the
 * caller frees it with agents_agent_free). 0, or -EINVAL with a precise
 * message ("missing name", "unknown status \"x\"", ...) in err, or
 * -ENOMEM. */
int agents_parse(const char *text, agents_agent_t *a, char *err, size_t errlen);
void agents_agent_free(agents_agent_t *a);

/* agents_quote copies at most 40 bytes of s into out for a one-line
 * message: control characters become '?', a cut never splits a UTF-8
 * sequence and ends in "...". */
void agents_quote(const char *s, char *out, size_t outlen);

/* agents_sanitise copies name into out (outlen bytes) for use as a collectd
 * plugin_instance: each character outside [A-Za-z0-9_.-] (a whole UTF-8
 * sequence counts as one) becomes '_'. -ENOSPC when it does not fit. */
int agents_sanitise(const char *name, char *out, size_t outlen);

/* --- agents_result.c --- */

/* agents_pid_alive is the real check: a pidfd polled for the process's
 * exit, else /proc/<pid>/stat, else kill(pid, 0) (EPERM still means
 * alive); a zombie counts as gone. */
int agents_pid_alive(long long pid);

/* agents_derive fills a's status, liveness and time on task at now.
 * Precedence: pid given and gone -> dead; reported failed -> failed;
 * last_activity older than stale_after seconds -> stale; else reported.
 * alive NULL means ProcessCheck is off (liveness unknown). */
void agents_derive(agents_agent_t *a, time_t now, long long stale_after,
                   agents_pid_alive_fn alive);

/* agents_result_add_agent moves the parsed *a into r, noting the file it
 * came from (copied, invalid UTF-8 repaired) and its key; on success *a is
 * zeroed, on -ENOMEM the caller still owns it. */
int agents_result_add_agent(agents_result_t *r, agents_agent_t *a,
                            const char *file, const agents_filekey_t *key);
/* agents_result_add_borrowed adds a shallow copy of the parsed *a (file
 * and key set) whose strings stay owned by the caller, who keeps them
 * until r is freed. 0 or -ENOMEM. */
int agents_result_add_borrowed(agents_result_t *r, const agents_agent_t *a);
/* agents_result_add_invalid records file as invalid for error; copies
 * both (repairing invalid UTF-8). 0 or -ENOMEM. */
int agents_result_add_invalid(agents_result_t *r, const char *file,
                              const char *error, const agents_filekey_t *key,
                              bool quiet);
/* agents_result_finish resolves duplicates (the first file by name keeps a
 * name or a sanitised instance; later ones become invalid), derives every
 * agent, sorts agents by name and invalid files by file, and counts.
 * 0 or -ENOMEM. */
int agents_result_finish(agents_result_t *r, time_t now, long long stale_after,
                         agents_pid_alive_fn alive);
void agents_result_free(agents_result_t *r);

/* agents_find_invalid returns the invalid entry for file, or NULL; r must
 * be finished (sorted). */
const agents_invalid_t *agents_find_invalid(const agents_result_t *r,
                                            const char *file);

/* --- agents_snapshot.c --- */

typedef struct agents_snapshot_info_s {
  time_t now;
  const char *agent_dir;
  const char *collectd_version;
  long long stale_after;
} agents_snapshot_info_t;

/* agents_snapshot writes the agents.json document for a finished result
 * into a new buffer the caller frees. 0 or a negative errno. */
int agents_snapshot(const agents_result_t *r,
                    const agents_snapshot_info_t *info, char **out,
                    size_t *len);

#endif
