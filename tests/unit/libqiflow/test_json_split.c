/* Unit tests for qf_json_parse_split: one array member of a large JSON
 * object streamed element by element, the rest parsed as a small tree;
 * and qf_json_check, which takes what that parser takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qf_buf.h"
#include "qf_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What the callback saw: every element written back as JSON, separated by
 * '|'; fail_at (1-based) makes it return -ENOSPC at that element. */
typedef struct seen_s {
  qf_buf_t out;
  int n;
  int fail_at;
} seen_t;

/* dump writes v as compact JSON; the caller frees it. */
static char *dump(yajl_val v) {
  qf_jw_t w;
  char *text = NULL;
  assert_int_equal(qf_jw_init(&w), 0);
  qf_jw_value(&w, v);
  assert_int_equal(qf_jw_finish(&w, &text, NULL), 0);
  qf_jw_free(&w);
  return text;
}

static int collect(yajl_val elem, void *ctx) {
  seen_t *s = ctx;
  if (++s->n == s->fail_at)
    return -ENOSPC;
  char *text = dump(elem);
  if (s->n > 1)
    assert_int_equal(qf_buf_puts(&s->out, "|"), 0);
  assert_int_equal(qf_buf_puts(&s->out, text), 0);
  free(text);
  return 0;
}

typedef struct split_case_s {
  const char *name;
  const char *text;
  int rc;
  const char *elems; /* '|'-separated; "" for none */
  const char *rest;  /* NULL when rc != 0 */
  int fail_at;
} split_case_t;

static const split_case_t split_cases[] = {
    {"objects, nested brackets inside strings",
     "{\"a\":1,\"issues\":[{\"id\":1},{\"id\":2,\"x\":[1,{\"y\":\"}]\"}]}],"
     "\"b\":{\"c\":[3]}}",
     0, "{\"id\":1}|{\"id\":2,\"x\":[1,{\"y\":\"}]\"}]}",
     "{\"a\":1,\"issues\":[],\"b\":{\"c\":[3]}}", 0},
    {"scalars, arrays and whitespace",
     " {\n \"issues\" : [ 1 ,\n\"s\\\"t\\u00e9\" , -12.5e3,true , null,[1, 2],"
     "{ } ] \n}\n",
     0, "1|\"s\\\"t\xc3\xa9\"|-12.5e3|true|null|[1,2]|{}", "{\"issues\":[]}",
     0},
    {"no such member", "{\"a\":[1,2]}", 0, "", "{\"a\":[1,2]}", 0},
    {"member is no array", "{\"issues\":{\"id\":1},\"z\":2}", 0, "",
     "{\"issues\":{\"id\":1},\"z\":2}", 0},
    {"only the first member of the name", "{\"issues\":5,\"issues\":[1]}", 0,
     "", "{\"issues\":5,\"issues\":[1]}", 0},
    {"a deeper member of the name", "{\"x\":{\"issues\":[1]},\"y\":[2]}", 0, "",
     "{\"x\":{\"issues\":[1]},\"y\":[2]}", 0},
    {"empty array", "{\"issues\":[],\"n\":1}", 0, "", "{\"issues\":[],\"n\":1}",
     0},
    {"cut short", "{\"issues\":[{\"id\":1},", -EINVAL, "{\"id\":1}", NULL, 0},
    {"bad element", "{\"issues\":[1,}]}", -EINVAL, "1", NULL, 0},
    {"an array, not an object", "[1,2]", -EINVAL, "", NULL, 0},
    {"a scalar", "42", -EINVAL, "", NULL, 0},
    {"trailing garbage", "{\"issues\":[1]} x", -EINVAL, "1", NULL, 0},
    {"comments are refused", "{/* c */\"issues\":[1]}", -EINVAL, "", NULL, 0},
    {"invalid UTF-8", "{\"issues\":[\"\xff\"]}", -EINVAL, "", NULL, 0},
    {"the callback's error stops the parse", "{\"issues\":[1,2,3],\"z\":0}",
     -ENOSPC, "1", NULL, 2},
};

static void test_split_cases(void **state) {
  (void)state; /* table-driven */
  for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
    const split_case_t *c = &split_cases[i];
    seen_t s = {.out = QF_BUF_INIT, .n = 0, .fail_at = c->fail_at};
    yajl_val rest = (yajl_val)&s; /* must be reset to NULL on failure */
    char err[200] = "";
    print_message("case: %s\n", c->name);
    int rc = qf_json_parse_split(c->text, strlen(c->text), "issues", collect,
                                 &s, &rest, err, sizeof(err));
    assert_int_equal(rc, c->rc);
    assert_string_equal(s.out.data ? s.out.data : "", c->elems);
    if (c->rest == NULL) {
      assert_null(rest);
      assert_true(err[0] != '\0');
      assert_null(strchr(err, '\n'));
    } else {
      char *text = dump(rest);
      assert_string_equal(text, c->rest);
      free(text);
      yajl_tree_free(rest);
    }
    qf_buf_free(&s.out);
  }
}

/* A large document: every element arrives, in order, and the rest is
 * small. */
static void test_split_many(void **state) {
  (void)state; /* no fixture */
  qf_buf_t doc = QF_BUF_INIT;
  assert_int_equal(qf_buf_puts(&doc, "{\"repository\":\"o/r\",\"issues\":["),
                   0);
  for (int i = 0; i < 5000; i++)
    assert_int_equal(qf_buf_printf(&doc,
                                   "%s{\"id\":%d,\"title\":\"issue %d\","
                                   "\"labels\":[\"a\",\"b\"]}",
                                   i ? "," : "", i, i),
                     0);
  assert_int_equal(qf_buf_puts(&doc, "],\"completion\":{\"total\":5000}}"), 0);
  seen_t s = {.out = QF_BUF_INIT, .n = 0, .fail_at = 0};
  yajl_val rest = NULL;
  char err[200] = "";
  assert_int_equal(qf_json_parse_split(doc.data, doc.len, "issues", collect, &s,
                                       &rest, err, sizeof(err)),
                   0);
  assert_int_equal(s.n, 5000);
  assert_non_null(strstr(s.out.data, "|{\"id\":4999,\"title\":\"issue 4999\""));
  long long total = 0;
  assert_int_equal(
      qf_json_get_int(qf_json_get(rest, "completion"), "total", &total), 0);
  assert_int_equal(total, 5000);
  assert_int_equal(qf_json_get(rest, "issues")->u.array.len, 0);
  yajl_tree_free(rest);
  qf_buf_free(&s.out);
  qf_buf_free(&doc);
}

/* Kept elements: the callback takes every second one; they outlive the
 * parse (valgrind and ASan see them freed here, once). */
typedef struct keep_s {
  yajl_val kept[4];
  int n, seen;
} keep_t;

static int keep_odd(yajl_val elem, void *ctx) {
  keep_t *k = ctx;
  if (k->seen++ % 2 == 1)
    return 0;
  k->kept[k->n++] = elem;
  return QF_JSON_KEPT;
}

static void test_split_keeps(void **state) {
  (void)state; /* no fixture */
  const char *text = "{\"issues\":[{\"id\":1},{\"id\":2},[3],\"four\"],"
                     "\"n\":4}";
  keep_t k = {.n = 0, .seen = 0};
  yajl_val rest = NULL;
  char err[200] = "";
  assert_int_equal(qf_json_parse_split(text, strlen(text), "issues", keep_odd,
                                       &k, &rest, err, sizeof(err)),
                   0);
  assert_int_equal(k.seen, 4);
  assert_int_equal(k.n, 2);
  char *a = dump(k.kept[0]), *b = dump(k.kept[1]);
  assert_string_equal(a, "{\"id\":1}");
  assert_string_equal(b, "[3]");
  free(a);
  free(b);
  for (int i = 0; i < k.n; i++)
    yajl_tree_free(k.kept[i]);
  yajl_tree_free(rest);
}

/* qf_jw_raw splices a rendered value with the writer's own separators. */
static void test_writer_raw(void **state) {
  (void)state; /* no fixture */
  qf_jw_t w;
  char *text = NULL;
  assert_int_equal(qf_jw_init(&w), 0);
  qf_jw_obj_open(&w);
  qf_jw_kint(&w, "a", 1);
  qf_jw_key(&w, "list");
  const char *list = "[{\"id\":1},{\"id\":2}]";
  qf_jw_raw(&w, list, strlen(list));
  qf_jw_key(&w, "b");
  qf_jw_arr_open(&w);
  qf_jw_raw(&w, "{}", 2);
  qf_jw_raw(&w, "\"x\"", 3);
  qf_jw_arr_close(&w);
  qf_jw_obj_close(&w);
  assert_int_equal(qf_jw_finish(&w, &text, NULL), 0);
  assert_string_equal(text, "{\"a\":1,\"list\":[{\"id\":1},{\"id\":2}],"
                            "\"b\":[{},\"x\"]}");
  free(text);
  /* Like any value, a raw one cannot stand where a key must. */
  qf_jw_reset(&w);
  qf_jw_obj_open(&w);
  qf_jw_raw(&w, "1", 1);
  assert_int_not_equal(qf_jw_finish(&w, &text, NULL), 0);
  qf_jw_free(&w);
}

/* qf_json_check takes one JSON value, as the split parser does: no
 * comment, no string that is no UTF-8, nothing after the value; the
 * length counts, not a NUL. */
static void test_check(void **state) {
  (void)state; /* table-driven */
  static const char *const good[] = {"{}", " [1, \"a\\\"\", {\"b\": null}] ",
                                     "\"\xc3\xa9\"", "-1.5e3", "true"};
  static const char *const bad[] = {"",         "{",   "[1,]",      "[1] /* */",
                                    "\"\xff\"", "1 2", "{\"a\" 1}", "nul"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    if (qf_json_check(good[i], strlen(good[i])) != 0)
      fail_msg("good %zu refused: %s", i, good[i]);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (qf_json_check(bad[i], strlen(bad[i])) != -EINVAL)
      fail_msg("bad %zu taken: %s", i, bad[i]);
  assert_int_equal(qf_json_check("[1]]", 3), 0); /* the length counts */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_cases), cmocka_unit_test(test_split_many),
      cmocka_unit_test(test_split_keeps), cmocka_unit_test(test_writer_raw),
      cmocka_unit_test(test_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
