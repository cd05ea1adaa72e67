/* github_mirror.h: the local copy of one repository's issues and pull
 * requests, the workflow runs seen, the ETag of every conditional URL and the
 * sync position. Pure logic: calls no collectd symbol. */
#ifndef GITHUB_MIRROR_H
#define GITHUB_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define GH_LINKS_MAX 8    /* issues one pull request can name */
#define GH_RUN_PRS_MAX 4  /* pull requests one workflow run can name */
#define GH_RUNS_KEEP 500  /* workflow runs remembered, newest first */
#define GH_ETAGS_MAX 4096 /* conditional URLs remembered (LRU) */
#define GH_URL_BUF 1024   /* room for a derived html_url (gh_item_url) */
#define GH_TRIGGER_LEN 24 /* the longest name, blocked_too_long, is 16 */

/* A growable array of strings, kept in one block (v[] first, the strings
 * after it; in a mirror's items v[] points to the mirror's names instead):
 * read v[i], change it only through gh_strv_*. */
typedef struct gh_strv_s {
  char **v;
  size_t n;
} gh_strv_t;

/* What only pull requests carry: allocated for those that have any of it
 * (the branch and mergeability from GET pulls/{n}, links[] from the title
 * and body; the branch is matched when figures are computed). */
typedef struct gh_pr_s {
  char *branch;
  char *head_sha;
  char *mergeable_state;
  long long links[GH_LINKS_MAX];
  unsigned char nlinks;
} gh_pr_t;

/* One issue or pull request. Strings are owned by the item; NULL means
 * absent. Times are UTC epoch seconds, 0 when absent. Fields are ordered
 * by size so that 100,000 items waste no padding (136 bytes each). */
typedef struct gh_item_s {
  long long number;
  long long created_at, updated_at, closed_at;
  /* Issues: when the current blocking label was added. */
  long long blocked_since; /* 0: not blocked */
  char *state_reason;      /* shared copy when reason_shared: never written */
  char *title;
  char *html_url; /* NULL when the derived form: read it with gh_item_url */
  gh_strv_t labels;
  gh_strv_t assignees;
  gh_pr_t *pr; /* NULL: none (every issue); read it with gh_item_pr */

  unsigned char notified; /* gh_trigger_t last notified, 0: none */
  bool is_pr;
  bool open;
  bool seen;          /* met during the unfinished full listing */
  bool blocked_exact; /* from label events, not estimated */
  bool events_stale;  /* label events should be read again */
  bool detail_stale;  /* GET pulls/{n} should be asked again */
  bool reason_shared; /* state_reason is a shared copy, not the item's */
} gh_item_t;

/* A closed item kept out of memory ("cold"): what the figures count, and
 * where its record lies in the mirror file last written or read
 * (gh_mirror_t.cold_fd), which holds the rest (title, labels, URL, ...).
 * Most of a mature repository is closed: this is 28 bytes where a whole
 * item costs about 280. Numbers and times fit 32 bits (until 2106); an
 * item whose do not stays whole. github_store.c freezes and thaws. */
typedef struct gh_cold_s {
  uint32_t number;
  uint32_t created_at, updated_at, closed_at;
  uint32_t at, len;    /* the record: bytes at..at+len of cold_fd */
  unsigned char flags; /* GH_COLD_* */
} gh_cold_t;

enum {
  GH_COLD_PR = 1,       /* a pull request */
  GH_COLD_SEEN = 2,     /* met during the unfinished full listing */
  GH_COLD_REC_SEEN = 4, /* what the record says of seen */
  GH_COLD_VELOCITY = 8, /* its state reason counts for velocity */
};

/* CI verdicts of workflow runs. */
enum {
  GH_VERDICT_OTHER = 0, /* cancelled, skipped, neutral, ... */
  GH_VERDICT_SUCCESS = 1,
  GH_VERDICT_FAILURE = 2, /* failure, timed_out, startup_failure */
  GH_VERDICT_PENDING = 3, /* not completed yet */
};

typedef struct gh_run_s {
  long long id;
  long long workflow_id;
  long long created_at;
  int verdict;
  char *branch; /* head_branch, owned; NULL when absent */
  long long prs[GH_RUN_PRS_MAX];
  size_t nprs;
} gh_run_t;

typedef struct gh_etag_s {
  char *url;
  char *etag;
  long long used; /* cycle it was last sent or stored in */
} gh_etag_t;

typedef struct gh_mirror_s {
  gh_item_t **items; /* sorted by number, ascending */
  /* Closed items kept in the mirror file, sorted by number; a number is in
   * items or here, never both. cold_fd is that file (-1: none), cold_st
   * what it was when written or read (a change means someone else wrote
   * it, and the cold records cannot be trusted: see gh_store_check). */
  gh_cold_t *cold;
  size_t ncold, capcold;
  int cold_fd;
  struct stat cold_st;
  /* "https://github.com/owner/repo", learned from the first item whose
   * html_url has the form <base>/issues/<n> or <base>/pull/<n>; items with
   * exactly that URL keep none of their own (it never changes once set). */
  char *url_base;
  /* Label names and logins, one copy each, sorted (strcmp): the labels and
   * assignees of stored items point here (their blocks hold only the
   * pointers). Names are kept until the mirror is freed. */
  char **names;
  size_t nnames, capnames;
  size_t n, cap;
  gh_run_t *runs; /* newest first */
  size_t nruns;
  gh_etag_t *etags;
  size_t netags, capetags;

  unsigned long long gen;     /* bumped by every change figures may see */
  long long cycle;            /* sync cycles run */
  long long cursor;           /* `since` of incremental syncs; 0: none yet */
  char *list_next;            /* next page of an unfinished full listing */
  long long list_started;     /* when that listing began */
  long long list_max_updated; /* newest updated_at it met */
  char *recon_url;            /* last page of the listing: change probe */
  long long last_sync;        /* last cycle whose issue sync succeeded */
  long long commits_count;    /* -1: unknown */
  char commits_since[16];     /* the day commits_count counts from */
  long long rl_limit, rl_remaining, rl_reset; /* -1: unknown */
  long long backoff_until;                    /* no request before this time */
  int failures;                               /* consecutive failed cycles */
} gh_mirror_t;

/* gh_strv_push appends a copy of s; 0 or -ENOMEM. */
int gh_strv_push(gh_strv_t *sv, const char *s);
void gh_strv_free(gh_strv_t *sv);
/* gh_strv_copy replaces dst with a copy of src; 0 or -ENOMEM. */
int gh_strv_copy(gh_strv_t *dst, const gh_strv_t *src);

/* gh_item_new returns a zeroed item with the given number, or NULL. */
gh_item_t *gh_item_new(long long number);
void gh_item_free(gh_item_t *it);

/* gh_item_pr returns it's pull-request fields, all empty when it has none. */
const gh_pr_t *gh_item_pr(const gh_item_t *it);
/* gh_item_pr_mut returns them for changing, allocating them; NULL on
 * ENOMEM. */
gh_pr_t *gh_item_pr_mut(gh_item_t *it);
/* gh_item_set_pr moves the fields of d into it (d's strings become the
 * item's, also on failure); nothing is allocated when d is empty. */
int gh_item_set_pr(gh_item_t *it, gh_pr_t *d);
/* gh_pr_clear frees d's strings and empties it. */
void gh_pr_clear(gh_pr_t *d);

/* gh_item_url returns it's html_url: its own, or the one derived from the
 * mirror's base written into buf; NULL when absent (or not fitting). */
const char *gh_item_url(const gh_mirror_t *m, const gh_item_t *it, char *buf,
                        size_t len);

void gh_mirror_init(gh_mirror_t *m);
void gh_mirror_free(gh_mirror_t *m);

/* gh_mirror_count is how many issues and pull requests the mirror holds,
 * whole or cold. */
size_t gh_mirror_count(const gh_mirror_t *m);

/* gh_mirror_find_cold returns the cold item with that number, or NULL. */
gh_cold_t *gh_mirror_find_cold(const gh_mirror_t *m, long long number);

/* gh_mirror_drop_cold forgets every cold item and closes cold_fd (their
 * records are lost: the caller lists the repository again). */
void gh_mirror_drop_cold(gh_mirror_t *m);

/* gh_mirror_set_cold replaces the cold items with cold[0, n) (taking the
 * array) kept in fd, a file as st describes it; the old cold file is
 * closed. */
void gh_mirror_set_cold(gh_mirror_t *m, gh_cold_t *cold, size_t n, int fd,
                        const struct stat *st);

/* gh_item_freezable tells whether it may be kept cold: closed, no
 * notification to remember, numbers and times within 32 bits. */
bool gh_item_freezable(const gh_item_t *it);

/* gh_mirror_touch records that items or runs changed in place (figures
 * computed before are stale). */
void gh_mirror_touch(gh_mirror_t *m);

/* gh_mirror_find returns the whole item with that number, or NULL (also
 * for a cold one: open items are never cold). */
gh_item_t *gh_mirror_find(const gh_mirror_t *m, long long number);

/* gh_mirror_insert adds it (the mirror takes ownership, also on failure);
 * an existing item with the same number is freed and replaced. */
int gh_mirror_insert(gh_mirror_t *m, gh_item_t *it);

/* gh_mirror_apply merges a freshly listed item (ownership passes to the
 * mirror). An older copy (smaller updated_at) is ignored. Fields that only
 * detail requests fill (branch, mergeable state, blocked time) survive; a
 * changed pull request is marked detail_stale, and an issue whose set of
 * blocking labels changed gets a provisional blocked_since and
 * events_stale. A newer listing of a cold item replaces it whole; one as
 * new as the cold item (same updated_at) is the same listing, ignored.
 * *changed tells whether anything was stored. */
int gh_mirror_apply(gh_mirror_t *m, gh_item_t *in, const gh_strv_t *blocked,
                    bool *changed);

/* gh_mirror_settle_all applies the blocking rule to every item again, for
 * a mirror read back under possibly different BlockedLabels words. */
void gh_mirror_settle_all(gh_mirror_t *m, const gh_strv_t *blocked);

/* gh_mirror_clear_seen marks every item unseen (a full listing starts). */
void gh_mirror_clear_seen(gh_mirror_t *m);
/* gh_mirror_drop_unseen removes items the finished listing did not meet
 * (deleted or transferred); returns how many. */
size_t gh_mirror_drop_unseen(gh_mirror_t *m);

/* gh_label_blocking tells whether a label name contains any of words
 * (case-insensitive). */
bool gh_label_matches(const char *label, const gh_strv_t *words);

/* gh_mirror_merge_runs merges runs (taking ownership of their strings;
 * the array itself stays the caller's) by id, keeping the newest
 * GH_RUNS_KEEP. *changed tells whether anything differs. */
int gh_mirror_merge_runs(gh_mirror_t *m, gh_run_t *runs, size_t n,
                         bool *changed);
void gh_run_free(gh_run_t *r);

/* ETags per exact URL. gh_etag_get returns the stored value or NULL and
 * marks the entry used in the current cycle. */
const char *gh_etag_get(gh_mirror_t *m, const char *url);
/* gh_etag_set stores etag for url, evicting the least recently used entry
 * beyond GH_ETAGS_MAX; an empty etag removes the entry. */
int gh_etag_set(gh_mirror_t *m, const char *url, const char *etag);
void gh_etag_drop(gh_mirror_t *m, const char *url);

/* gh_set_str replaces *dst with a copy of s (NULL clears); 0 or -ENOMEM. */
int gh_set_str(char **dst, const char *s);

#endif
