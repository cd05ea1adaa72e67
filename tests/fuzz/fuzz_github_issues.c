/* fuzz_github_issues: a page of GET /repos/{o}/{r}/issues as GitHub (or
 * anything answering in its place) sends it. */
#include "fuzz.h"
#include "github_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *body = fz_cstr(data, size);
  if (body == NULL)
    return 0;
  gh_page_t page;
  char err[512];
  memset(&page, 0, sizeof(page));
  if (gh_parse_issues("https://api.github.com/repos/o/r/issues?page=2", body,
                      &page, err, sizeof(err)) == 0)
    gh_page_free(&page);
  free(body);
  return 0;
}
