/* Unit tests for the request-side helpers of request.c and response.c: method
 * classification, routing, ETag matching and Accept-Encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "response.h"
#include "request.h"

#include <stdio.h>
#include <string.h>

static void test_methods(void **state) {
  (void)state; /* unused */
  assert_int_equal(qfx_request_method("GET"), QFX_M_GET);
  assert_int_equal(qfx_request_method("HEAD"), QFX_M_HEAD);
  assert_int_equal(qfx_request_method("OPTIONS"), QFX_M_OPTIONS);
  static const char *const others[] = {
      "POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "get", "", "GETX"};
  for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
    assert_int_equal(qfx_request_method(others[i]), QFX_M_OTHER);
}

static void test_routes(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *path;
    int route;
  } cases[] = {
      {"/health", QFX_R_HEALTH},
      {"/status", QFX_R_STATUS},
      {"/agent/status", QFX_R_AGENT_STATUS},
      {"/metrics", QFX_R_METRICS},
      {"/project/completion", QFX_R_PROJECT_COMPLETION},
      {"/project/issues", QFX_R_PROJECT_ISSUES},
      {"/", QFX_R_NONE},
      {"", QFX_R_NONE},
      {"/health/", QFX_R_NONE},
      {"/Health", QFX_R_NONE},
      {"/status/extra", QFX_R_NONE},
      {"/healthz", QFX_R_NONE},
      {"//health", QFX_R_NONE},
      {"/project", QFX_R_NONE},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_request_route(cases[i].path) != cases[i].route)
      fail_msg("%s: route %d", cases[i].path, qfx_request_route(cases[i].path));
}

static void test_path_normalise(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *target;
    const char *path;
    int route;
  } cases[] = {
      {"/status", "/status", QFX_R_STATUS},
      {"//status", "/status", QFX_R_STATUS}, /* a host_url ending in "/" */
      {"///project//completion", "/project/completion",
       QFX_R_PROJECT_COMPLETION},
      {"//agent///status?x=//y", "/agent/status", QFX_R_AGENT_STATUS},
      {"/st%61tus", "/status", QFX_R_STATUS},   /* unreserved: decoded */
      {"/%2Fstatus", "/%2Fstatus", QFX_R_NONE}, /* "/" escaped: kept */
      {"/%2f/status", "/%2f/status", QFX_R_NONE},
      {"/project%2Fcompletion", "/project%2Fcompletion", QFX_R_NONE},
      {"/project%2F%2Fcompletion", "/project%2F%2Fcompletion", QFX_R_NONE},
      {"/status%3F", "/status%3F", QFX_R_NONE},
      {"/status%00", "/status%00", QFX_R_NONE},
      {"/status%", "/status%", QFX_R_NONE},
      {"/status%6", "/status%6", QFX_R_NONE},
      {"/status%zz", "/status%zz", QFX_R_NONE},
      {"/status/", "/status/", QFX_R_NONE}, /* merged, not dropped */
      {"//", "/", QFX_R_NONE},
      {"", "", QFX_R_NONE},
      {"?x", "", QFX_R_NONE},
      {"/health?", "/health", QFX_R_HEALTH},
      {"/he%41lth", "/heAlth", QFX_R_NONE}, /* case stays */
      {"/%7E%2d%2E%5f", "/~-._", QFX_R_NONE},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[64];
    assert_true(qfx_request_path_normalise(cases[i].target, out, sizeof(out)));
    if (strcmp(out, cases[i].path) != 0 ||
        qfx_request_target_route(cases[i].target) != cases[i].route)
      fail_msg("%s: \"%s\", route %d", cases[i].target, out,
               qfx_request_target_route(cases[i].target));
  }
  char small[8];
  assert_true(qfx_request_path_normalise("////a//b", small, sizeof(small)));
  assert_string_equal(small, "/a/b");
  assert_true(qfx_request_path_normalise("/abcdef", small, sizeof(small)));
  assert_false(qfx_request_path_normalise("/abcdefg", small, sizeof(small)));
  assert_false(qfx_request_path_normalise("", small, 0));
  /* A long path routes nowhere rather than being cut to a route. */
  char longer[200] = "/status";
  memset(longer + 7, '/', 150);
  longer[157] = 'x';
  longer[158] = '\0';
  assert_int_equal(qfx_request_target_route(longer), QFX_R_NONE);
  memset(longer, 0, sizeof(longer));
  memset(longer, '/', 150);
  strcat(longer, "status");
  assert_int_equal(qfx_request_target_route(longer), QFX_R_STATUS);
}

static void test_raw_nul(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *target;
    bool nul;
  } cases[] = {
      {"/health", false},       {"/health%00", true},
      {"/health%00x", true},    {"/%00", true},
      {"/health%0", false},     {"/health%", false},
      {"/heal%74h", false},     {"/health%000", true},
      {"/health?x=%00", false}, /* the query is checked per parameter */
      {"/a%2500", false},       {"", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_request_raw_nul(cases[i].target) != cases[i].nul)
      fail_msg("%s", cases[i].target);
}

static void test_etag(void **state) {
  (void)state; /* unused */
  char a[24], b[24], c[24];
  qfx_etag("{}", 2, a);
  qfx_etag("{}", 2, b);
  qfx_etag("{ }", 3, c);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  assert_int_equal(strlen(a), 18);
  assert_true(a[0] == '"' && a[17] == '"');
  char header[80];
  static const struct {
    const char *before, *after; /* around the tag; NULL: header is after */
    bool match;
  } cases[] = {
      {"", "", true},           {"W/", "", true},  {"\"other\", ", "", true},
      {"  ", "  ,\"x\"", true}, {NULL, "*", true}, {NULL, "\"other\"", false},
      {NULL, "", false},        {"x", "", false},  {"", "x", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (cases[i].before == NULL)
      snprintf(header, sizeof(header), "%s", cases[i].after);
    else
      snprintf(header, sizeof(header), "%s%s%s", cases[i].before, a,
               cases[i].after);
    if (qfx_etag_match(header, a) != cases[i].match)
      fail_msg("If-None-Match \"%s\" vs %s: expected %d", header, a,
               cases[i].match);
  }
  a[10] = '\0'; /* a prefix of the tag does not match it */
  assert_false(qfx_etag_match(a, b));
  assert_false(qfx_etag_match(NULL, b));
}

static void test_accept_gzip(void **state) {
  (void)state; /* unused */
  static const struct {
    const char *header;
    bool gzip;
  } cases[] = {
      {"gzip", true},
      {"gzip, deflate, br", true},
      {"deflate, GZIP;q=0.5", true},
      {"x-gzip", true},
      {"*", true},
      {"br;q=1, *;q=0.1", true},
      {"gzip;q=0", false},
      {"gzip; q=0.000", false},
      {"*;q=0", false},
      {"gzip;q=0, *", false}, /* explicit gzip refusal wins over * */
      {"identity", false},
      {"deflate", false},
      {"gzipx", false},
      {"", false},
      {NULL, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (qfx_accepts_gzip(cases[i].header) != cases[i].gzip)
      fail_msg("Accept-Encoding \"%s\": expected %d",
               cases[i].header ? cases[i].header : "(null)", cases[i].gzip);
}

static void test_header_elements(void **state) {
  (void)state; /* unused */
  const char *s = " text/plain ; version=0.0.4 ;q=0.5,, */*;Q=0.1 ,gzip;q=x,"
                  "br;level=q=1,a;q=1.5,b; q=0,c;q=nan,d;q=-nan,e;q=inf,"
                  "f;q=1e999,g;q=-1";
  static const struct {
    const char *tok;
    int q;
  } want[] = {{"text/plain", 500},
              {"*/*", 100},
              {"gzip", 0},
              {"br", 1000},
              {"a", 1000},
              {"b", 0},
              /* fuzz_exporter_query: "q=nan" made (int)NaN, undefined */
              {"c", 0},
              {"d", 0},
              {"e", 0},
              {"f", 0},
              {"g", 0}};
  const char *tok;
  size_t n;
  int q;
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    assert_true(qfx_header_next(&s, &tok, &n, &q));
    if (n != strlen(want[i].tok) || strncmp(tok, want[i].tok, n) != 0 ||
        q != want[i].q)
      fail_msg("element %zu: \"%.*s\" q %d, want \"%s\" q %d", i, (int)n, tok,
               q, want[i].tok, want[i].q);
  }
  assert_false(qfx_header_next(&s, &tok, &n, &q));
  s = "";
  assert_false(qfx_header_next(&s, &tok, &n, &q));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_methods),
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_path_normalise),
      cmocka_unit_test(test_raw_nul),
      cmocka_unit_test(test_etag),
      cmocka_unit_test(test_accept_gzip),
      cmocka_unit_test(test_header_elements),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
