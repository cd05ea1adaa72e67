/* fuzz_github_runs: GET .../actions/runs and, on the same bytes, a page of
 * GET .../commits (both JSON from GitHub). */
#include "fuzz.h"
#include "github_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *body = fz_cstr(data, size);
  if (body == NULL)
    return 0;
  gh_run_t *runs = NULL;
  size_t n = 0, commits = 0;
  char err[512];
  if (gh_parse_runs("https://api.github.com/repos/o/r/actions/runs", body,
                    &runs, &n, err, sizeof(err)) == 0) {
    for (size_t i = 0; i < n; i++)
      gh_run_free(&runs[i]);
    free(runs);
  }
  (void)gh_parse_commits("https://api.github.com/repos/o/r/commits", body,
                         &commits, err, sizeof(err));
  free(body);
  return 0;
}
