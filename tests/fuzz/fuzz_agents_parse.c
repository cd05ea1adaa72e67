/* fuzz_agents_parse: one agent registry file (written by the swarm, so
 * outside input) through qiflow_agents' whole path: parse, sanitise the
 * name, derive, add to a read's result and render agents.json. */
#include "agents.h"
#include "fuzz.h"

/* fz_alive is the process check: a fuzzed pid must not reach kill(). */
static int fz_alive(long long pid) { return pid % 2 == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fz_cstr(data, size);
  if (text == NULL)
    return 0;
  agents_agent_t a;
  agents_result_t r;
  char err[256], inst[AGENTS_NAME_MAX + 1], quoted[64];
  memset(&r, 0, sizeof(r));
  agents_filekey_t key;
  memset(&key, 0, sizeof(key));
  if (agents_parse(text, &a, err, sizeof(err)) == 0) {
    (void)agents_sanitise(a.name, inst, sizeof(inst));
    agents_quote(a.name, quoted, sizeof(quoted));
    if (agents_result_add_agent(&r, &a, "fuzz.json", &key) != 0)
      agents_agent_free(&a);
  } else {
    (void)agents_result_add_invalid(&r, "fuzz.json", err, &key, false);
  }
  if (agents_result_finish(&r, 1795000000, 300, fz_alive) == 0) {
    agents_snapshot_info_t info = {1795000000, "/agents", "5.12.0", 300};
    char *out = NULL;
    size_t len = 0;
    if (agents_snapshot(&r, &info, &out, &len) == 0)
      free(out);
  }
  agents_result_free(&r);
  free(text);
  return 0;
}
