/* agents_scan.h: one read of AgentDir, every file opened relative to one
 * directory descriptor, the parse of a file unchanged since the last read
 * reused. Status, liveness and time on task are not cached: the caller
 * derives them on every read (agents_result_finish). */
#ifndef AGENTS_SCAN_H
#define AGENTS_SCAN_H

#include "agents.h"

/* A file's parse is reused only when it was last changed at least this
 * long before the read that parsed it: a file rewritten within the
 * file system's timestamp granularity could otherwise keep its key. */
#define AGENTS_SETTLE_SECONDS 2

/* What one file's last parse gave. */
typedef struct agents_cache_entry_s {
  char *name; /* directory entry name, as read */
  agents_filekey_t key;
  struct timespec ctime;
  bool settled;         /* changed long enough before the parse */
  bool valid;           /* agent holds the parse; otherwise error says why */
  agents_agent_t agent; /* parsed fields, file and key set */
  char *error;
} agents_cache_entry_t;

typedef struct agents_scan_s {
  /* the cache: the last read's parses, sorted by name */
  agents_cache_entry_t *entries;
  size_t n, cap;
  /* scratch kept between reads so that a read allocates nothing per file
   * it does not parse */
  agents_cache_entry_t *next;
  size_t next_cap;
  char *names; /* the directory's entry names, NUL-separated */
  size_t names_len, names_cap;
  char **list; /* pointers into names, sorted */
  size_t list_cap;
  char *text; /* one file's content, AGENTS_FILE_MAX + 1 bytes */
  /* what the last scan did */
  size_t files;   /* agent files listed */
  size_t parsed;  /* files read and parsed */
  size_t reused;  /* files whose cached parse was reused */
  size_t unread;  /* files left unread over max_files */
  int load_error; /* -ENOMEM when a file could not be loaded, else 0 */
} agents_scan_t;

/* agents_scan lists dir's agent files ("*.json", not hidden), sorted by
 * name, and adds the first max_files to r: a valid file as an agent whose
 * strings the cache keeps (valid until the next agents_scan or
 * agents_scan_free, so free r first), an invalid one with why. The rest
 * are quiet invalid entries ("not read: over MaxAgentFiles"). A file is
 * read only when its (dev, inode, size, mtime) or ctime changed, or its
 * last parse was not settled (changed less than AGENTS_SETTLE_SECONDS
 * before now, the read's start). Only regular files are opened, never through
 * a symlink, never waiting. Returns 0, or the negative errno of a
 * directory that cannot be listed (r then untouched); load_error tells of
 * running out of memory partway (what was read is in r). */
int agents_scan(agents_scan_t *s, const char *dir, size_t max_files, time_t now,
                agents_result_t *r);

void agents_scan_free(agents_scan_t *s);

#endif
