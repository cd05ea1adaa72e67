/* fuzz_json: a snapshot document as libqiflow reads one (qf_json_parse,
 * the typed getters, qf_time_parse of its timestamp) and writes it back
 * (qf_jw_value), plus qf_json_utf8_repair on the raw bytes. */
#include "fuzz.h"
#include "qf_json.h"
#include "qf_time.h"

#include <stdbool.h>

/* fz_walk reads every member of an object the way snapshot readers do. */
static void fz_walk(yajl_val doc) {
  static const char *const keys[] = {"schema_version", "updated_at", "name",
                                     "counts",         "agents",     "issues",
                                     "running"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    long long n;
    double d;
    bool b;
    time_t t;
    const char *s = qf_json_get_str(doc, keys[i]);
    if (s != NULL)
      (void)qf_time_parse(s, &t);
    (void)qf_json_get_int(doc, keys[i], &n);
    (void)qf_json_get_double(doc, keys[i], &d);
    (void)qf_json_get_bool(doc, keys[i], &b);
    (void)qf_json_get(doc, keys[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fz_cstr(data, size);
  if (text == NULL)
    return 0;
  char err[256];
  yajl_val doc = qf_json_parse(text, err, sizeof(err));
  if (doc != NULL) {
    fz_walk(doc);
    qf_jw_t w;
    if (qf_jw_init(&w) == 0) {
      qf_jw_value(&w, doc);
      char *out = NULL;
      size_t len = 0;
      if (qf_jw_finish(&w, &out, &len) == 0)
        free(out);
      qf_jw_free(&w);
    }
    yajl_tree_free(doc);
  }
  (void)qf_json_utf8_repair(text);
  free(text);
  return 0;
}
