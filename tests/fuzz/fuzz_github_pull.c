/* fuzz_github_pull: GET .../pulls/{n}, then the issue links a pull request
 * names through its branch. */
#include "fuzz.h"
#include "github_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *body = fz_cstr(data, size);
  if (body == NULL)
    return 0;
  gh_pull_t pull;
  char err[512];
  memset(&pull, 0, sizeof(pull));
  if (gh_parse_pull("https://api.github.com/repos/o/r/pulls/9", body, &pull,
                    err, sizeof(err)) == 0) {
    if (pull.branch != NULL)
      (void)gh_branch_issue(pull.branch);
    gh_pull_free(&pull);
  }
  free(body);
  return 0;
}
