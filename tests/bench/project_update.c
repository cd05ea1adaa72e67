/* project_update.c: what indexing a new version of project.json costs
 * the exporter (issue 18), against a full index of it measured in the
 * same run. qiflow_github rewrites project.json every sync; at 100,000
 * issues some blocked durations move by 0.1 h nearly every cycle, and
 * new issues arrive at the top of the list. A seeded generator writes
 * project.json as qiflow_github does (compact, its field order, issues
 * newest first, ~0.4 % flagged) to a temporary file; each case times the
 * exporter's real qfx_project_update_src from the last version to the
 * next, the file scanned a window at a time as the exporter reads it (CPU
 * time of the process, median of --rounds), against the file read whole
 * and fully indexed, and says how many blocks it indexed again.
 *
 * Usage: project_update [--issues N] [--rounds R] [--assert]
 * --assert exits 1 unless a head-only change shares every block and k
 * moved durations index at most 3 k blocks again (no timing is asserted:
 * the figures are for reading). */
#include "project.h"
#include "qf_buf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const qfx_headers_t headers = {"*", "max-age=60"};

static const char *const words[] = {
    "lorem", "ipsum",  "dolor",  "sit",    "amet",   "consectetur",
    "elit",  "tempor", "labore", "magna",  "aliqua", "incididunt",
    "sed",   "do",     "ut",     "veniam", "quis",   "nostrud"};
static const char *const labels[] = {"area/auth", "area/scheduler", "kind/bug",
                                     "kind/feature", "good first"};

/* rnd is splitmix64: the same seed gives the same project. */
static unsigned long long rnd(unsigned long long *s) {
  unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A version of the generated project. */
typedef struct gen_s {
  int top;     /* the newest issue; issues top..top-n+1 */
  int n;       /* issues */
  int moved;   /* blocked issues whose duration moved by 0.1 h */
  int blocked; /* blocked issues in all (every 1 in 250) */
  const char *when;
} gen_t;

/* gen_issue writes issue id; blocked is its rank among the blocked
 * issues, or -1. */
static void gen_issue(qf_buf_t *b, const gen_t *g, int id, int blocked) {
  unsigned long long s = (unsigned long long)id * 7919u;
  int nw = 3 + (int)(rnd(&s) % 6), closed = rnd(&s) % 10 < 8;
  qf_buf_printf(b, "{\"id\":%d,\"title\":\"", id);
  for (int w = 0; w < nw; w++)
    qf_buf_printf(b, "%s%s", w ? " " : "", words[rnd(&s) % 18]);
  qf_buf_printf(b,
                "\",\"state\":\"%s\",\"state_reason\":%s,\"status\":\"%s\","
                "\"labels\":[\"%s\"],\"assignees\":[],\"github_url\":"
                "\"https://github.com/acme/widgets/issues/%d\",\"created_at\":"
                "\"2026-11-%02dT%02d:00:00Z\",\"updated_at\":\"2026-12-03T16:"
                "32:56Z\",\"closed_at\":%s,",
                closed ? "closed" : "open", closed ? "\"completed\"" : "null",
                closed         ? "done"
                : blocked >= 0 ? "blocked"
                               : "ready",
                labels[rnd(&s) % 5], id, 1 + (int)(rnd(&s) % 28),
                (int)(rnd(&s) % 24),
                closed ? "\"2026-12-03T16:32:56Z\"" : "null");
  if (blocked < 0) {
    qf_buf_puts(b, "\"flagged\":false,\"priority\":null,\"trigger\":null,"
                   "\"reason\":null,\"blocked_duration_hours\":null,"
                   "\"triggers\":[],\"pull_requests\":[]}");
    return;
  }
  /* the moved ones are spread over the whole list */
  int step = g->blocked / (g->moved > 0 ? g->moved : 1);
  double h = 24.0 + (double)(rnd(&s) % 500) / 10.0 +
             (g->moved > 0 && blocked % (step > 0 ? step : 1) == 0 &&
                      blocked / (step > 0 ? step : 1) < g->moved
                  ? 0.1
                  : 0.0);
  qf_buf_printf(b,
                "\"flagged\":true,\"priority\":\"review\",\"trigger\":"
                "\"blocked_too_long\",\"reason\":\"blocked for %.1f h\","
                "\"blocked_duration_hours\":%.1f,\"triggers\":["
                "\"blocked_too_long\"],\"pull_requests\":[]}",
                h, h);
}

/* gen writes project.json of version g; the caller frees it. */
static char *gen(const gen_t *g, size_t *len) {
  qf_buf_t b = QF_BUF_INIT;
  qf_buf_printf(&b,
                "{\"schema_version\":1,\"updated_at\":\"%s\",\"repository\":"
                "\"acme/widgets\",\"last_sync\":\"%s\",\"sync_state\":\"ok\","
                "\"completion\":{\"completion_percentage\":80,"
                "\"total_issues\":%d,\"completed_issues\":%d},\"issues\":[",
                g->when, g->when, g->n, g->n * 8 / 10);
  for (int i = 0, rank = 0; i < g->n; i++) {
    int id = g->top - i, blocked = -1;
    if (id % 250 == 0)
      blocked = rank++;
    if (i > 0)
      qf_buf_puts(&b, ",");
    gen_issue(&b, g, id, blocked);
  }
  qf_buf_puts(&b, "]}");
  if (b.data == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return qf_buf_steal(&b, len);
}

/* cpu_ms is the process's CPU time in ms. */
static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* A measured case: from the version `from` (NULL: nothing) to `to`. */
typedef struct result_s {
  double ms;
  size_t blocks, reindexed;
} result_t;

/* file_of is an unlinked temporary file holding text[0, len): the
 * exporter indexes project.json from its file. */
static FILE *file_of(const char *text, size_t len) {
  FILE *f = tmpfile();
  if (f == NULL || fwrite(text, 1, len, f) != len || fflush(f) != 0) {
    perror("tmpfile");
    exit(2);
  }
  return f;
}

/* index_once indexes the file f (len bytes) as the exporter does: against
 * from, scanned a window at a time (qfx_project_update_src; from NULL:
 * nothing before), or whole (read whole, then qfx_project_build: what
 * every change cost before the index kept blocks). */
static int index_once(qfx_project_t *from, FILE *f, size_t len, bool whole,
                      qfx_project_t **p, char *err, size_t errlen) {
  qf_src_t src = {.fd = fileno(f), .len = len};
  if (!whole)
    return qfx_project_update_src(from, &src, &headers, p, err, errlen);
  const char *text;
  char *owned;
  int rc = qf_src_whole(&src, &text, &owned, err, errlen);
  if (rc == 0)
    rc = qfx_project_build(text, len, &headers, p, err, errlen);
  free(owned);
  return rc;
}

/* run indexes to against from, rounds times: the median CPU time. */
static result_t run(qfx_project_t *from, const char *to, size_t len, bool whole,
                    int rounds) {
  double t[64];
  result_t r = {0};
  FILE *f = file_of(to, len);
  for (int i = 0; i < rounds; i++) {
    qfx_project_t *p = NULL;
    char err[200] = "";
    double t0 = cpu_ms();
    int rc = index_once(from, f, len, whole, &p, err, sizeof(err));
    t[i] = cpu_ms() - t0;
    if (rc != 0) {
      fprintf(stderr, "indexing failed (%d): %s\n", rc, err);
      exit(2);
    }
    r.blocks = p->nblocks;
    r.reindexed = from != NULL ? p->nblocks - p->nreused : p->nblocks;
    qfx_project_release(p);
  }
  fclose(f);
  qsort(t, (size_t)rounds, sizeof(t[0]), cmp_double);
  r.ms = t[rounds / 2];
  return r;
}

static void row(const char *what, result_t r, double base) {
  printf("| %s | %.1f ms | %.3f | %zu of %zu |\n", what, r.ms, r.ms / base,
         r.reindexed, r.blocks);
}

int main(int argc, char **argv) {
  int n = 100000, rounds = 5;
  bool check = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--issues") == 0 && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--assert") == 0)
      check = true;
    else {
      fprintf(stderr, "usage: %s [--issues N] [--rounds R] [--assert]\n",
              argv[0]);
      return 2;
    }
  }
  if (n < 1000 || n > 1000000 || rounds < 1 || rounds > 63) {
    fprintf(stderr, "--issues must lie in 1000..1000000, --rounds in 1..63\n");
    return 2;
  }
  gen_t g = {.top = n, .n = n, .blocked = n / 250, .when = "2026-12-03T16:00Z"};
  size_t len0, len;
  char *v0 = gen(&g, &len0);
  qfx_project_t *base = NULL;
  char err[200] = "";
  if (qfx_project_build(v0, len0, &headers, &base, err, sizeof(err)) != 0) {
    fprintf(stderr, "the generated project does not index: %s\n", err);
    return 2;
  }
  printf("%d issues (%d blocked, flagged), project.json %.1f MB, %zu blocks; "
         "CPU time, median of %d\n\n",
         n, g.blocked, (double)len0 / 1e6, base->nblocks, rounds);
  printf("| new version of project.json | CPU | vs full index | blocks "
         "indexed again |\n|---|---|---|---|\n");
  result_t full = run(NULL, v0, len0, true, rounds);
  row("any (file read whole, full index: the baseline)", full, full.ms);
  row("none before (first index, the file scanned a window at a time)",
      run(NULL, v0, len0, false, rounds), full.ms);
  g.when = "2026-12-03T16:00:05Z";
  char *v = gen(&g, &len);
  result_t head = run(base, v, len, false, rounds);
  row("head only (updated_at, GitHub figures)", head, full.ms);
  free(v);
  bool ok = head.reindexed == 0;
  static const int moved[] = {1, 40, 400};
  for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
    g.moved = moved[i] < g.blocked ? moved[i] : g.blocked;
    v = gen(&g, &len);
    result_t r = run(base, v, len, false, rounds);
    char what[80];
    snprintf(what, sizeof(what), "%d blocked duration%s moved by 0.1 h",
             g.moved, g.moved == 1 ? "" : "s");
    row(what, r, full.ms);
    ok = ok && r.reindexed <= 3 * (size_t)g.moved;
    free(v);
  }
  g.moved = 0;
  g.top = n + 1;
  g.n = n + 1;
  v = gen(&g, &len);
  row("a new issue at the top", run(base, v, len, false, rounds), full.ms);
  free(v);
  qfx_project_release(base);
  free(v0);
  if (check)
    printf("\nblocks indexed again: %s\n", ok ? "as expected" : "TOO MANY");
  return check && !ok ? 1 : 0;
}
