/* fuzz_github_link: the text parsers of qiflow_github. Input lines:
 * a Link header, then a pull request title, then its body. The URLs the
 * Link header yields go through gh_url_param and gh_url_display as the
 * sync engine uses them. */
#include "fuzz.h"
#include "github_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *header = fz_cstr(data, size);
  if (header == NULL)
    return 0;
  char *title = fz_split(header, '\n');
  char *body = fz_split(title, '\n');
  static const char *const rels[] = {"next", "last", "prev", "first"};
  char url[2048], shown[2048];
  for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
    if (gh_link_find(header, rels[i], url, sizeof(url)) == 0) {
      (void)gh_url_param(url, "page");
      gh_url_display(url, shown, sizeof(shown));
    }
  }
  gh_url_display(header, shown, sizeof(shown));
  long long issues[16];
  (void)gh_text_links(title, body, issues, 16);
  (void)gh_branch_issue(title);
  free(header);
  return 0;
}
