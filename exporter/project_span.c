/* project_span.c: finding project.json's issue list in its text without
 * parsing it, so a version that changed only outside the list (its head
 * changes every sync) keeps the issues indexed. The scan only delimits
 * values; the parser checks the text itself. */
#include "project.h"

#include <string.h>

/* ps_ws skips JSON whitespace from i. */
static size_t ps_ws(const char *t, size_t i, size_t n) {
  while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* ps_string skips the string starting at t[i] ('"'): the index after its
 * closing quote, or n when it does not end; *esc tells whether it holds a
 * backslash. */
static size_t ps_string(const char *t, size_t i, size_t n, bool *esc) {
  *esc = false;
  for (i++; i < n; i++) {
    if (t[i] == '\\') {
      *esc = true;
      i++;
    } else if (t[i] == '"') {
      return i + 1;
    }
  }
  return n;
}

/* ps_value skips the value starting at t[i]: the index after it, or n
 * when it does not end. */
static size_t ps_value(const char *t, size_t i, size_t n) {
  bool esc;
  size_t depth = 0;
  while (i < n) {
    char c = t[i];
    if (c == '"') {
      i = ps_string(t, i, n, &esc);
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
  bool found = false, esc;
  size_t i = ps_ws(text, 0, len);
  if (i >= len || text[i] != '{')
    return -1;
  for (i = ps_ws(text, i + 1, len); i < len && text[i] != '}';) {
    if (text[i] != '"')
      return -1;
    size_t k = i + 1;
    i = ps_string(text, i, len, &esc);
    if (esc || i >= len)
      return -1; /* a key with escapes: leave it to the parser */
    bool issues = i - 1 - k == 6 && memcmp(text + k, "issues", 6) == 0;
    i = ps_ws(text, i, len);
    if (i >= len || text[i] != ':')
      return -1;
    size_t vs = ps_ws(text, i + 1, len);
    i = ps_value(text, vs, len);
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
