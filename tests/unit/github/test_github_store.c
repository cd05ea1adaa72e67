/* Unit tests for github_store: the mirror's persistence round trip and the
 * refusal of broken, foreign or wrongly typed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "github_figures.h"
#include "github_store.h"

#include "qf_buf.h"
#include "qf_file.h"

#include <errno.h>
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
  char url[GH_URL_BUF];
  const char *want[] = {"https://github.com/acme/widgets/issues/1",
                        "https://github.com/acme/widgets/issues/1",
                        "https://github.com/acme/widgets/pull/3"};
  for (long long n = 1; n <= 3; n++) {
    const gh_item_t *x = gh_mirror_find(&b, n);
    assert_true((x->html_url == NULL) == (n != 2));
    assert_string_equal(gh_item_url(&b, x, url, sizeof(url)), want[n - 1]);
  }
  assert_string_equal(b.url_base, "https://github.com/acme/widgets");
  assert_true(gh_mirror_find(&b, 1)->reason_shared);
  assert_string_equal(gh_mirror_find(&b, 1)->state_reason, "completed");
  assert_false(gh_mirror_find(&b, 3)->reason_shared);
  assert_string_equal(gh_mirror_find(&b, 3)->state_reason,
                      "some_future_reason");
  gh_item_t *it = gh_mirror_find(&b, 3);
  assert_non_null(it);
  assert_true(it->is_pr);
  assert_string_equal(gh_item_pr(it)->mergeable_state, "dirty");
  assert_int_equal(gh_item_pr(it)->nlinks, 2);
  assert_null(gh_mirror_find(&b, 1)->pr); /* issues have none */
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_foreign_and_missing, setup_dir,
                                      teardown_dir),
      cmocka_unit_test(test_rejects_broken),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
