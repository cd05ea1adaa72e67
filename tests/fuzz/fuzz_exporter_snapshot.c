/* fuzz_exporter_snapshot: a StateDir document (agents.json, project.json,
 * heartbeat.json: written by the plugins, but read by the exporter as it
 * finds them) through everything the exporter builds from it: the
 * /project/completion and /project/issues index and a few pages, and the
 * /status, /agent/status, /metrics bodies (JSON and Prometheus) with the
 * document in every slot. */
#include "fuzz.h"
#include "project.h"
#include "prom_text.h"
#include "qf_json.h"
#include "render_json.h"

/* fz_project indexes the text as the exporter streams project.json and
 * renders some pages. */
static void fz_project(const char *text, size_t len) {
  qfx_headers_t h = {.cors_origin = NULL, .cache_control = "no-cache"};
  qfx_project_t *p = NULL;
  char err[200];
  if (qfx_project_build(text, len, &h, &p, err, sizeof(err)) != 0)
    return;
  static const qfx_issues_query_t queries[] = {
      {1, 20, QFX_IS_ALL, QFX_IF_ANY},
      {2, 1, QFX_IS_OPEN, QFX_IF_TRUE},
      {1, 100, QFX_IS_BLOCKED, QFX_IF_FALSE},
      {1000000, 100, QFX_IS_DONE, QFX_IF_ANY}};
  for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
    char *body = NULL;
    size_t body_len = 0;
    if (qfx_project_page(p, &queries[i], &body, &body_len) == 0)
      free(body);
  }
  qfx_project_release(p);
}

/* fz_render renders every body of a model holding doc in each slot. */
static void fz_render(yajl_val doc) {
  qfx_resources_t res;
  qfx_resources_init(&res);
  long long by_trigger[QFX_TRIGGERS] = {0};
  qfx_model_t m = {.now = 1795000000.0,
                   .swarm_id = "swarm",
                   .version = "0",
                   .hostname = "host",
                   .platform = "linux",
                   .socket_path = "/run/collectd.sock",
                   .api_port = 8080,
                   .refresh_ms = 1000,
                   .connected = true,
                   .last_ok = 1.0,
                   .res = &res,
                   .agents = doc,
                   .project = doc,
                   .flagged_issues = 1,
                   .flagged_by_trigger = by_trigger,
                   .heartbeat = doc};
  void (*const renders[])(const qfx_model_t *, qf_jw_t *) = {
      qfx_render_status, qfx_render_agent_status, qfx_render_metrics};
  for (size_t i = 0; i < sizeof(renders) / sizeof(renders[0]); i++) {
    qf_jw_t w;
    char *out = NULL;
    size_t len = 0;
    if (qf_jw_init(&w) != 0)
      return;
    renders[i](&m, &w);
    if (qf_jw_finish(&w, &out, &len) == 0)
      free(out);
    qf_jw_free(&w);
  }
  for (int om = 0; om <= 1; om++) {
    char *out = NULL;
    size_t len = 0;
    if (qfx_render_prom(&m, om != 0, &out, &len) == 0)
      free(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fz_cstr(data, size);
  if (text == NULL)
    return 0;
  char err[256];
  yajl_val doc = qf_json_parse(text, err, sizeof(err));
  if (doc != NULL) {
    fz_render(doc);
    yajl_tree_free(doc);
  }
  fz_project(text, size); /* whatever the tree parser made of it */
  free(text);
  return 0;
}
