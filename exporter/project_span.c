/* project_span.c: finding project.json's issue list, and the issues in
 * it, in its text without parsing it, so a new version keeps indexed
 * the issues whose text did not change (qiflow_github rewrites the file
 * every sync). The scan only delimits values; the parser checks the text
 * itself. */
#include "project_index.h"

#include <string.h>

/* ps_ws skips JSON whitespace from i. */
static size_t ps_ws(const char *t, size_t i, size_t n) {
  while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* ps_string skips the string starting at t[i] ('"'): the index after its
 * closing quote (the first '"' after an even run of backslashes, found with
 * memchr: most of project.json's bytes are in strings), or n when it does
 * not end. */
static size_t ps_string(const char *t, size_t i, size_t n) {
  for (i++; i < n;) {
    const char *q = memchr(t + i, '"', n - i);
    if (q == NULL)
      return n;
    size_t j = (size_t)(q - t), b = j;
    while (b > i && t[b - 1] == '\\')
      b--;
    if ((j - b) % 2 == 0)
      return j + 1;
    i = j + 1; /* an escaped quote */
  }
  return n;
}

size_t qfx_value_end(const char *t, size_t n, size_t i) {
  size_t depth = 0;
  while (i < n) {
    char c = t[i];
    if (c == '"') {
      i = ps_string(t, i, n);
    } else if (c == '{' || c == '[') {
      depth++;
      i++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return i; /* the end of the enclosing object */
      depth--;
      i++;
    } else if (depth == 0 &&
               (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      return i;
    } else {
      i++;
    }
    if (depth == 0 && (c == '"' || c == '}' || c == ']'))
      return i;
  }
  return n;
}

int qfx_issues_span(const char *text, size_t len, size_t *start, size_t *end) {
  bool found = false;
  size_t i = ps_ws(text, 0, len);
  if (i >= len || text[i] != '{')
    return -1;
  for (i = ps_ws(text, i + 1, len); i < len && text[i] != '}';) {
    if (text[i] != '"')
      return -1;
    size_t k = i + 1;
    i = ps_string(text, i, len);
    if (i >= len || memchr(text + k, '\\', i - 1 - k) != NULL)
      return -1; /* a key with escapes: leave it to the parser */
    bool issues = i - 1 - k == 6 && memcmp(text + k, "issues", 6) == 0;
    i = ps_ws(text, i, len);
    if (i >= len || text[i] != ':')
      return -1;
    size_t vs = ps_ws(text, i + 1, len);
    i = qfx_value_end(text, len, vs);
    if (i >= len || i == vs || (issues && found))
      return -1;
    if (issues) {
      found = true;
      *start = vs;
      *end = i;
    }
    i = ps_ws(text, i, len);
    if (i < len && text[i] == ',')
      i = ps_ws(text, i + 1, len);
    else if (i >= len || text[i] != '}')
      return -1;
  }
  return found && i < len ? 0 : -1;
}

int qfx_array_next(const char *text, size_t len, size_t *at, size_t *start,
                   size_t *end) {
  size_t i = *at;
  if (i == 0) {
    if (len == 0 || text[0] != '[')
      return -1;
    i = ps_ws(text, 1, len);
  } else {
    i = ps_ws(text, i, len);
    if (i < len && text[i] == ',')
      i = ps_ws(text, i + 1, len);
    else if (i < len && text[i] == ']')
      return i + 1 == len ? 0 : -1;
    else
      return -1;
  }
  if (*at == 0 && i < len && text[i] == ']')
    return i + 1 == len ? 0 : -1; /* [] */
  size_t e = i < len ? qfx_value_end(text, len, i) : len;
  if (e == i || e >= len)
    return -1; /* no value, or one the closing ']' does not follow */
  *start = i;
  *end = e;
  *at = e;
  return 1;
}
