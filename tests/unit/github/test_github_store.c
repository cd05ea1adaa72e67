/* Unit tests for github_store: the mirror's persistence round trip and the
 * refusal of broken, foreign or wrongly typed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "github_figures.h"
#include "github_snapshot.h"
#include "github_store.h"

#include "qf_buf.h"
#include "qf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPO "acme/widgets"
#define API "https://api.github.com"

/* rm_entry removes one entry for rm_tree (deepest first). */
static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st;   /* unused */
  (void)flag; /* unused */
  (void)ftw;  /* unused */
  return remove(path);
}

/* rm_tree removes a scratch directory and everything in it. */
static int rm_tree(const char *dir) {
  return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup_dir(void **state) {
  char *dir = strdup("/tmp/gh-store-XXXXXX");
  assert_non_null(mkdtemp(dir));
  *state = dir;
  return 0;
}

static int teardown_dir(void **state) {
  int rc = rm_tree(*state);
  free(*state);
  return rc == 0 ? 0 : -1;
}

/* strdup_or_null copies s, NULL staying NULL. */
static char *strdup_or_null(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

/* thaw reads cold item n of m back whole (the caller frees it). */
static gh_item_t *thaw(gh_mirror_t *m, long long n) {
  gh_cold_t *c = gh_mirror_find_cold(m, n);
  assert_non_null(c);
  gh_thaw_t t;
  gh_item_t *it = NULL;
  char err[256];
  gh_thaw_init(&t, m);
  if (gh_thaw(&t, c, &it, err, sizeof(err)) != 0)
    fail_msg("thaw %lld: %s", n, err);
  gh_thaw_free(&t);
  return it;
}

/* fill builds a mirror using every field. */
static void fill(gh_mirror_t *m) {
  gh_mirror_init(m);
  for (long long n = 1; n <= 3; n++) {
    gh_item_t *it = gh_item_new(n);
    it->title = strdup(n == 2 ? "Ünïcode \"quoted\" \\ title\n" : "plain");
    /* 1 and 3 have the usual form (derived from the mirror's base, not
     * kept per item); 2's URL does not, and is kept as it is. */
    it->html_url = strdup(n == 3 ? "https://github.com/acme/widgets/pull/3"
                                 : "https://github.com/acme/widgets/issues/1");
    it->is_pr = n == 3;
    it->open = n != 1;
    /* "completed" is shared by the mirror; a value it does not know is
     * kept as the item's own string, and both read back the same. */
    it->state_reason = n == 1   ? strdup("completed")
                       : n == 3 ? strdup("some_future_reason")
                                : NULL;
    gh_strv_push(&it->labels, "blocked");
    gh_strv_push(&it->labels, "needs human");
    gh_strv_push(&it->assignees, "octocat");
    it->created_at = 1000 + n;
    it->updated_at = 2000 + n;
    it->closed_at = n == 1 ? 3000 : 0;
    it->seen = n == 2;
    it->blocked_since = n == 2 ? 1500 : 0;
    it->blocked_exact = n == 2;
    it->events_stale = n == 1;
    it->notified = n == 2 ? GH_TRIG_BLOCKED_TOO_LONG : GH_TRIG_NONE;
    if (it->is_pr) {
      gh_pr_t *d = gh_item_pr_mut(it);
      d->branch = strdup("feature/issue-2");
      d->head_sha = strdup("abc123");
      d->mergeable_state = strdup("dirty");
      it->detail_stale = true;
      d->links[0] = 2;
      d->links[1] = 1;
      d->nlinks = 2;
    }
    assert_int_equal(gh_mirror_insert(m, it), 0);
  }
  gh_run_t runs[2] = {
      {.id = 7,
       .workflow_id = 1,
       .created_at = 50,
       .verdict = 2,
       .branch = strdup("feature/issue-2"),
       .prs = {3},
       .nprs = 1},
      {.id = 8, .workflow_id = 1, .created_at = 60, .verdict = 1}};
  bool changed;
  assert_int_equal(gh_mirror_merge_runs(m, runs, 2, &changed), 0);
  m->cycle = 41;
  assert_int_equal(gh_etag_set(m,
                               "https://api.github.com/repos/acme/"
                               "widgets/issues?since=x&per_page=100",
                               "W/\"abc\""),
                   0);
  m->cycle = 42;
  m->cursor = 1795770000;
  gh_set_str(&m->list_next,
             "https://api.github.com/repositories/1/issues?page=3");
  m->list_started = 1795760000;
  m->list_max_updated = 1795750000;
  gh_set_str(&m->recon_url,
             "https://api.github.com/repositories/1/issues?page=2");
  m->last_sync = 1795773000;
  m->commits_count = 31;
  snprintf(m->commits_since, sizeof(m->commits_since), "2026-11-21");
  m->rl_limit = 5000;
  m->rl_remaining = 4990;
  m->rl_reset = 1795776000;
  m->backoff_until = 0;
  m->failures = 2;
}

static void test_round_trip(void **state) {
  gh_mirror_t a, b;
  char path[512], err[512];
  fill(&a);
  snprintf(path, sizeof(path), "%s/%s", (char *)*state, GH_STORE_FILE);
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  gh_mirror_init(&b);
  assert_int_equal(gh_store_load(&b, REPO, API, path, err, sizeof(err)), 0);
  /* Re-rendering what was read gives the same bytes: every field made it. */
  char *ta, *tb;
  size_t la, lb;
  assert_int_equal(gh_store_render(&a, REPO, API, &ta, &la), 0);
  assert_int_equal(gh_store_render(&b, REPO, API, &tb, &lb), 0);
  assert_int_equal(la, lb);
  assert_memory_equal(ta, tb, la);
  assert_non_null(strstr(ta, "\"https://github.com/acme/widgets/pull/3\""));
  free(ta);
  free(tb);
  /* The closed issue is cold: its record stays in the file. */
  assert_null(gh_mirror_find(&b, 1));
  assert_int_equal(b.n, 2);
  assert_int_equal(b.ncold, 1);
  gh_item_t *one = thaw(&b, 1);
  char url[GH_URL_BUF];
  assert_string_equal(gh_item_url(&b, one, url, sizeof(url)),
                      "https://github.com/acme/widgets/issues/1");
  assert_string_equal(one->state_reason, "completed");
  assert_null(one->pr); /* issues have none */
  assert_true(one->events_stale);
  gh_item_free(one);
  const gh_item_t *two = gh_mirror_find(&b, 2);
  assert_non_null(two->html_url); /* not the usual form: kept */
  assert_string_equal(gh_item_url(&b, two, url, sizeof(url)),
                      "https://github.com/acme/widgets/issues/1");
  assert_null(gh_mirror_find(&b, 3)->html_url); /* derived */
  assert_string_equal(gh_item_url(&b, gh_mirror_find(&b, 3), url, sizeof(url)),
                      "https://github.com/acme/widgets/pull/3");
  assert_string_equal(b.url_base, "https://github.com/acme/widgets");
  gh_item_t *it = gh_mirror_find(&b, 3);
  assert_non_null(it);
  assert_true(it->is_pr);
  assert_string_equal(gh_item_pr(it)->mergeable_state, "dirty");
  assert_int_equal(gh_item_pr(it)->nlinks, 2);
  assert_string_equal(gh_mirror_find(&b, 2)->title,
                      "Ünïcode \"quoted\" \\ title\n");
  assert_int_equal(gh_mirror_find(&b, 2)->notified, GH_TRIG_BLOCKED_TOO_LONG);
  assert_int_equal(b.nruns, 2);
  assert_int_equal(b.runs[0].id, 8);
  assert_string_equal(b.runs[1].branch, "feature/issue-2");
  assert_int_equal(b.cycle, 42);
  assert_string_equal(gh_etag_get(&b, "https://api.github.com/repos/acme/"
                                      "widgets/issues?since=x&per_page=100"),
                      "W/\"abc\"");
  assert_int_equal(b.etags[0].used, 42); /* get stamped the current cycle */
  assert_string_equal(b.commits_since, "2026-11-21");
  assert_int_equal(b.failures, 2);
  gh_mirror_free(&a);
  gh_mirror_free(&b);
}

static void test_foreign_and_missing(void **state) {
  gh_mirror_t a, b;
  char path[512], err[512];
  fill(&a);
  snprintf(path, sizeof(path), "%s/m.json", (char *)*state);
  gh_mirror_init(&b);
  assert_int_equal(gh_store_load(&b, REPO, API, path, err, sizeof(err)),
                   -ENOENT);
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  assert_int_equal(gh_store_load(&b, "acme/other", API, path, err, sizeof(err)),
                   -ESTALE);
  assert_int_equal(b.n, 0);
  assert_int_equal(gh_store_load(&b, REPO, "https://ghe.example/api/v3", path,
                                 err, sizeof(err)),
                   -ESTALE);
  assert_non_null(strstr(err, "another repository"));
  gh_mirror_free(&a);
  gh_mirror_free(&b);
}

/* Text of a valid file with one spot replaced. */
static char *spoiled(const char *from, const char *to) {
  gh_mirror_t a;
  char *text;
  size_t len;
  fill(&a);
  assert_int_equal(gh_store_render(&a, REPO, API, &text, &len), 0);
  gh_mirror_free(&a);
  char *at = strstr(text, from);
  if (at == NULL)
    fail_msg("\"%s\" not in the rendered mirror", from);
  qf_buf_t out = QF_BUF_INIT;
  assert_int_equal(qf_buf_printf(&out, "%.*s%s%s", (int)(at - text), text, to,
                                 at + strlen(from)),
                   0);
  free(text);
  (void)len;
  return qf_buf_steal(&out, NULL);
}

static void test_rejects_broken(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *from, *to, *word;
  } cases[] = {
      {"{\"format\"", "[{\"format\"", "invalid JSON"},
      {"qiflow-github-mirror", "something-else", "not a version"},
      {"\"version\":1", "\"version\":2", "not a version"},
      {"\"n\":2,", "\"n\":\"2\",", "items[1]: \"n\""},
      {"\"n\":2,", "\"n\":1,", "not ascending"},
      {"\"n\":2,", "\"n\":0,", "invalid"},
      {"\"pr\":false", "\"pr\":0", "\"pr\""},
      {"\"l\":[\"blocked\"", "\"l\":[3", "\"l\""},
      {"\"lk\":[2,1]", "\"lk\":[2,1,3,4,5,6,7,8,9]", "too many"},
      {"\"nt\":\"blocked_too_long\"",
       "\"nt\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
       "too long"},
      {"\"v\":2", "\"v\":9", "verdict"},
      {"\"etag\":\"W/", "\"etag\":5,\"x\":\"", "etags"},
      {"\"cursor\":1795770000", "\"cursor\":null", "\"cursor\""},
      {"\"items\":[", "\"items\":{\"a\":[", "invalid JSON"},
      {"\"runs\":[", "\"runs\":7,\"r\":[", "\"runs\""},
      {"\"items\":[", "\"items\":7,\"i\":[", "\"items\" is not an array"},
      /* Streamed items come before the header is read: its error still
       * wins over theirs (the items follow the header in the file). */
      {"\"version\":1", "\"version\":2,\"items\":[{\"n\":\"x\"}],\"v\":1",
       "not a version"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *text = spoiled(cases[i].from, cases[i].to);
    gh_mirror_t m;
    char err[512] = "";
    gh_mirror_init(&m);
    int status = gh_store_parse(&m, REPO, API, text, err, sizeof(err));
    if (status == 0 || strstr(err, cases[i].word) == NULL)
      fail_msg("case %zu: status %d, err \"%s\"", i, status, err);
    assert_int_equal(m.n, 0); /* left empty */
    assert_null(m.list_next);
    gh_mirror_free(&m);
    free(text);
  }
  /* Truncated at every tenth byte: never accepted, never a crash. */
  gh_mirror_t a;
  char *text;
  size_t len;
  fill(&a);
  assert_int_equal(gh_store_render(&a, REPO, API, &text, &len), 0);
  gh_mirror_free(&a);
  for (size_t cut = 0; cut < len; cut += 10) {
    char saved = text[cut];
    text[cut] = '\0';
    gh_mirror_t m;
    char err[512];
    gh_mirror_init(&m);
    assert_int_not_equal(gh_store_parse(&m, REPO, API, text, err, sizeof(err)),
                         0);
    gh_mirror_free(&m);
    text[cut] = saved;
  }
  free(text);
}

/* many builds a mirror of n items, every fourth a pull request, one in
 * eight open, with labels, assignees, state reasons and closing times
 * around now (some inside the velocity window). */
static void many(gh_mirror_t *m, long long n, long long now) {
  static const char *const reasons[] = {"completed", "not_planned", "duplicate",
                                        NULL};
  gh_mirror_init(m);
  for (long long i = 1; i <= n; i++) {
    gh_item_t *it = gh_item_new(i);
    char title[64];
    snprintf(title, sizeof(title), "Item %lld: fix the \"thing\"", i);
    it->title = strdup(title);
    char url[128];
    snprintf(url, sizeof(url), "https://github.com/acme/widgets/%s/%lld",
             i % 4 == 0 ? "pull" : "issues", i);
    it->html_url = strdup(url);
    it->is_pr = i % 4 == 0;
    it->open = i % 8 == 1;
    it->state_reason = it->open ? NULL : strdup_or_null(reasons[i % 4]);
    if (i % 3 == 0)
      gh_strv_push(&it->labels, "kind/bug");
    if (i % 5 == 0)
      gh_strv_push(&it->labels, i % 8 == 1 ? "blocked" : "area/api");
    if (i % 7 == 0)
      gh_strv_push(&it->assignees, "agent-1");
    it->created_at = now - 90 * 86400 + i * 600;
    it->closed_at = it->open ? 0 : now - (i % 20) * 43200;
    it->updated_at = it->open ? it->created_at + 60 : it->closed_at;
    it->blocked_since = it->open && i % 5 == 0 ? now - 30 * 3600 : 0;
    assert_int_equal(gh_mirror_insert(m, it), 0);
  }
}

/* The rules of these tests: "in progress" and "blocked" labels. */
static gh_strv_t in_progress_words, blocked_words;
static const gh_rules_t rules = {.in_progress = &in_progress_words,
                                 .blocked = &blocked_words,
                                 .blocked_hours = 24,
                                 .failures = 3,
                                 .failure_rate = 0.1};

static int words_setup(void **state) {
  (void)state; /* unused */
  gh_strv_push(&in_progress_words, "in progress");
  gh_strv_push(&blocked_words, "blocked");
  return 0;
}

static int words_teardown(void **state) {
  (void)state; /* unused */
  gh_strv_free(&in_progress_words);
  gh_strv_free(&blocked_words);
  return 0;
}

/* health is what project.json's head says of the sync in these tests. */
static gh_health_t health(const gh_mirror_t *m) {
  return (gh_health_t){.rl_remaining = -1,
                       .rl_limit = -1,
                       .rl_reset = -1,
                       .recent_commits = -1,
                       .sync_state = "ok",
                       .mirror = m};
}

/* project renders project.json of m at now. */
static char *project(gh_mirror_t *m, long long now, size_t *len) {
  gh_figures_t f;
  gh_health_t h = health(m);
  char *text = NULL;
  assert_int_equal(gh_figures_compute(m, &rules, now, &f), 0);
  assert_int_equal(gh_snapshot_project(REPO, &f, &h, now, &text, len), 0);
  gh_figures_free(&f);
  return text;
}

/* same_text fails unless a and b hold the same bytes; frees b. */
static void same_text(const char *a, size_t la, char *b, size_t lb) {
  assert_int_equal(la, lb);
  assert_memory_equal(a, b, la);
  free(b);
}

/* write_project brings f up to date and writes project.json into dir as
 * the plugin does; returns the file's text. */
static char *write_project(gh_mirror_t *m, const char *dir, long long now,
                           gh_figures_t *f, gh_written_t *last, bool *spliced,
                           size_t *len) {
  char err[256], path[512];
  bool full = false;
  gh_health_t h = health(m);
  assert_int_equal(gh_figures_update(m, &rules, now, f, &full), 0);
  if (gh_project_write(dir, REPO, f, &h, now, last, spliced, err,
                       sizeof(err)) != 0)
    fail_msg("gh_project_write: %s", err);
  snprintf(path, sizeof(path), "%s/" GH_PROJECT_FILE, dir);
  char *text = NULL;
  assert_int_equal(
      qf_file_read(path, 64u << 20, 0, &text, len, err, sizeof(err)), 0);
  return text;
}

/* A full write of project.json copies the closed issues' elements from
 * the file written before, and a splice keeps their places true: with the
 * cold records made unreadable, the next full write still gives the bytes
 * a render from the records gave. */
static void test_cold_project_copied(void **state) {
  const long long now = 1795773600LL;
  const char *dir = *state;
  gh_mirror_t a;
  gh_figures_t f = {0};
  gh_written_t last = {0};
  char path[512], err[512];
  size_t l1, l2;
  bool spliced = true;
  many(&a, 400, now);
  snprintf(path, sizeof(path), "%s/%s", dir, GH_STORE_FILE);
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  char *want = project(&a, now, &l1);
  char *got = write_project(&a, dir, now, &f, &last, &spliced, &l2);
  assert_false(spliced);
  same_text(want, l1, got, l2);
  assert_int_equal(last.nshown, 250); /* 300 issues, 50 of them open */
  free(want);
  /* unchanged but for time: spliced, the blocked issues' hours now a
   * digit longer (30 -> 100), so every later element moves */
  const long long later = now + 70 * 3600;
  want = project(&a, later, &l1);
  got = write_project(&a, dir, later, &f, &last, &spliced, &l2);
  assert_true(spliced);
  assert_non_null(strstr(got, "\"blocked_duration_hours\":100"));
  same_text(want, l1, got, l2);
  free(want);
  gh_item_t *it = gh_mirror_find(&a, 9); /* open: a longer title */
  free(it->title);
  it->title = strdup("A much longer title than the one it had before");
  gh_mirror_touch(&a);
  want = project(&a, later + 60, &l1);
  int null = open("/dev/null", O_RDONLY);
  assert_true(null >= 0);
  assert_int_equal(dup2(null, a.cold_fd), a.cold_fd); /* records gone */
  close(null);
  got = write_project(&a, dir, later + 60, &f, &last, &spliced, &l2);
  assert_false(spliced);
  same_text(want, l1, got, l2);
  free(want);
  gh_figures_free(&f);
  gh_written_free(&last);
  gh_mirror_free(&a);
}

/* Saving leaves the closed items cold; what the mirror file and
 * project.json show is the same, byte for byte, cold or whole, and after
 * reading the file back; the whole items gathered after most froze. */
static void test_cold_same_bytes(void **state) {
  const long long now = 1795773600LL, n = 2000; /* enough to gather */
  gh_mirror_t a, b;
  char path[512], err[512];
  size_t lp, ls, l;
  char *store = NULL;
  many(&a, n, now);
  snprintf(path, sizeof(path), "%s/%s", (char *)*state, GH_STORE_FILE);
  char *proj = project(&a, now, &lp);
  assert_int_equal(gh_store_render(&a, REPO, API, &store, &ls), 0);
  assert_int_equal(a.ncold, 0);
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  assert_int_equal(a.n, n / 8); /* the open ones stay whole */
  assert_int_equal(a.ncold, n - n / 8);
  assert_true(a.cold_fd >= 0);
  char *again = project(&a, now, &l);
  same_text(proj, lp, again, l);
  assert_int_equal(gh_store_render(&a, REPO, API, &again, &l), 0);
  same_text(store, ls, again, l);
  gh_mirror_init(&b);
  assert_int_equal(gh_store_load(&b, REPO, API, path, err, sizeof(err)), 0);
  assert_int_equal(b.ncold, n - n / 8);
  again = project(&b, now, &l);
  same_text(proj, lp, again, l);
  /* saved again from cold records, read again: still the same */
  assert_int_equal(gh_store_save(&b, REPO, API, path, err, sizeof(err)), 0);
  assert_int_equal(gh_store_render(&b, REPO, API, &again, &l), 0);
  same_text(store, ls, again, l);
  free(proj);
  free(store);
  gh_mirror_free(&a);
  gh_mirror_free(&b);
}

/* listing returns a fresh listing of item number from the whole mirror
 * w, with updated_at moved by dt. */
static gh_item_t *listing(gh_mirror_t *w, long long number, long long dt) {
  const gh_item_t *src = gh_mirror_find(w, number);
  gh_item_t *it = gh_item_new(number);
  assert_non_null(src);
  it->title = strdup(src->title);
  it->is_pr = src->is_pr;
  it->created_at = src->created_at;
  it->updated_at = src->updated_at + dt;
  it->closed_at = src->closed_at;
  it->seen = true;
  return it;
}

/* A listing as new as a cold item changes nothing but its seen mark; a
 * newer one makes it whole again; a re-list drops cold items not met. */
static void test_cold_apply_and_relist(void **state) {
  const long long now = 1795773600LL;
  gh_mirror_t a, w;
  gh_strv_t blocked = {NULL, 0};
  char path[512], err[512];
  bool changed = true;
  many(&a, 40, now);
  many(&w, 40, now);
  snprintf(path, sizeof(path), "%s/%s", (char *)*state, GH_STORE_FILE);
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  gh_mirror_clear_seen(&a);
  assert_int_equal(gh_mirror_apply(&a, listing(&w, 2, 0), &blocked, &changed),
                   0);
  assert_false(changed);
  assert_non_null(gh_mirror_find_cold(&a, 2));
  assert_true(gh_mirror_find_cold(&a, 2)->flags & GH_COLD_SEEN);
  unsigned long long gen = a.gen;
  assert_int_equal(gh_mirror_apply(&a, listing(&w, 3, 60), &blocked, &changed),
                   0);
  assert_true(changed);
  assert_true(a.gen != gen);
  assert_null(gh_mirror_find_cold(&a, 3));
  assert_string_equal(gh_mirror_find(&a, 3)->title,
                      "Item 3: fix the \"thing\"");
  assert_int_equal(gh_mirror_count(&a), 40);
  /* the seen marks changed: the records are written again, and read back */
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  assert_null(gh_mirror_find(&a, 3)); /* closed again: cold again */
  gh_item_t *two = thaw(&a, 2);
  assert_true(two->seen);
  gh_item_free(two);
  gh_item_t *four = thaw(&a, 4);
  assert_false(four->seen);
  assert_true(four->is_pr);
  gh_item_free(four);
  /* only 2 and 3 were met (and the whole, open ones are unseen too) */
  assert_int_equal(gh_mirror_drop_unseen(&a), 38);
  assert_int_equal(gh_mirror_count(&a), 2);
  gh_mirror_free(&a);
  gh_mirror_free(&w);
}

/* The cold file changed in place by someone else is noticed; replaced
 * by rename it is not (the open file is still the one written). */
static void test_cold_file_changed(void **state) {
  const long long now = 1795773600LL;
  gh_mirror_t a;
  char path[512], moved[600], err[512];
  size_t l1, l2;
  many(&a, 30, now);
  snprintf(path, sizeof(path), "%s/%s", (char *)*state, GH_STORE_FILE);
  snprintf(moved, sizeof(moved), "%s.old", path);
  assert_int_equal(gh_store_save(&a, REPO, API, path, err, sizeof(err)), 0);
  assert_int_equal(gh_store_check(&a), 0);
  char *before = project(&a, now, &l1);
  assert_int_equal(rename(path, moved), 0);
  assert_int_equal(gh_store_check(&a), 0);
  char *after = project(&a, now, &l2);
  same_text(before, l1, after, l2);
  FILE *fp = fopen(moved, "a");
  assert_non_null(fp);
  fputs(" ", fp);
  fclose(fp);
  assert_int_equal(gh_store_check(&a), -ESTALE);
  gh_mirror_drop_cold(&a);
  assert_int_equal(a.ncold, 0);
  assert_int_equal(a.cold_fd, -1);
  free(before);
  gh_mirror_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_foreign_and_missing, setup_dir,
                                      teardown_dir),
      cmocka_unit_test(test_rejects_broken),
      cmocka_unit_test_setup_teardown(test_cold_same_bytes, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_cold_apply_and_relist, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_cold_file_changed, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_cold_project_copied, setup_dir,
                                      teardown_dir),
  };
  return cmocka_run_group_tests(tests, words_setup, words_teardown);
}
