/* fuzz_github_events: a page of GET .../issues/{n}/events, then the
 * blocked-since computation over what was parsed. */
#include "fuzz.h"
#include "github_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *body = fz_cstr(data, size);
  if (body == NULL)
    return 0;
  gh_events_t ev;
  char err[512];
  memset(&ev, 0, sizeof(ev));
  if (gh_parse_label_events("https://api.github.com/repos/o/r/issues/7/events",
                            body, &ev, err, sizeof(err)) == 0) {
    char *labels[] = {"blocked", "needs human"};
    char *words[] = {"blocked", "human"};
    gh_strv_t lv = {labels, 2}, wv = {words, 2};
    (void)gh_blocked_since(&ev, &lv, &wv);
  }
  gh_events_free(&ev);
  free(body);
  return 0;
}
