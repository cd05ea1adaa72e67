/* fuzz_time: qf_time_parse on any text (timestamps come from agent files,
 * snapshots and GitHub). Property: whatever it accepts formats back to a
 * timestamp that parses to the same second. */
#include "fuzz.h"
#include "qf_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fz_cstr(data, size);
  if (text == NULL)
    return 0;
  time_t t, again;
  char buf[64];
  if (qf_time_parse(text, &t) == 0 &&
      qf_time_format(t, buf, sizeof(buf)) == 0) {
    if (qf_time_parse(buf, &again) != 0 || again != t)
      abort(); /* the round trip broke: a parser or formatter bug */
  }
  free(text);
  return 0;
}
