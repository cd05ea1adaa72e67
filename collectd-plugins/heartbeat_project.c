/* heartbeat_project.c: project.json read for the heartbeat. The issue list
 * is streamed element by element (qf_json_parse_split); only the flagged
 * issues the heartbeat lists are kept, the others are counted and freed. */
#include "heartbeat_project.h"

#include "qf_buf.h"
#include "qf_json.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* hbp_each counts one issues[] element and keeps it when it is one of the
 * first HB_PROJECT_MAX_FLAGGED flagged ones; ctx is the hb_project_t being
 * built, which then owns the tree. */
static int hbp_each(yajl_val issue, void *ctx) {
  hb_project_t *p = ctx;
  bool flagged = false;
  if (qf_json_get_bool(issue, "flagged", &flagged) != 0 || !flagged)
    return 0;
  p->n_flagged++;
  if (p->n_kept >= HB_PROJECT_MAX_FLAGGED)
    return 0;
  p->flagged[p->n_kept++] = issue;
  return QF_JSON_KEPT;
}

void hb_project_free(hb_project_t *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n_kept; i++)
    yajl_tree_free(p->flagged[i]);
  if (p->doc != NULL)
    yajl_tree_free(p->doc);
  memset(p, 0, sizeof(*p));
}

int hb_project_load(hb_project_t *p, const char *text, size_t len, char *err,
                    size_t errlen) {
  hb_project_t fresh = {0};
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  int status = qf_json_parse_split(text, len, "issues", hbp_each, &fresh,
                                   &fresh.doc, err, errlen);
  if (status != 0) {
    /* The issues kept before the failure belong to fresh alone. */
    hb_project_free(&fresh);
    if (err != NULL && errlen > 0 && err[0] == '\0')
      qf_err(err, errlen, "%s", strerror(-status));
    return status;
  }
  hb_project_free(p); /* the old data goes only now the new is complete */
  *p = fresh;
  return 0;
}
