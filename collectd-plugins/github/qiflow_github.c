/* qiflow_github.c: collectd glue of the qiflow_github read plugin.
 *
 * Keeps a mirror of a GitHub repository's issues and pull requests
 * (github_sync.c), computes the project figures and flags
 * (github_figures.c), dispatches them as values, raises a notification when
 * an issue becomes flagged or stops being flagged, and writes project.json
 * (github_snapshot.c) into StateDir. Everything but this file calls no
 * collectd symbol. */
#include "collectd.h"

#include "plugin.h"
#include "utils/common/common.h"

#include "github_figures.h"
#include "github_snapshot.h"
#include "github_sync.h"
#include "plugin_config.h"
#include "qf_buf.h"
#include "qf_file.h"
#include "qf_http.h"
#include "qf_snapshot.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#define GHC_PLUGIN "qiflow_github"
#define GHC_TOKEN_MAX 1024
#define GHC_MMAP_THRESHOLD (128 * 1024) /* glibc's default */

typedef struct ghc_s {
  gh_config_t cfg;
  char *token_file;
  const char *token_source; /* for the log: where the token came from */
  gh_sync_t sync;
  bool sync_ready;
  gh_written_t written; /* project.json as last written */
  gh_figures_t figures; /* kept: an unchanged mirror only moves with time */
  pthread_mutex_t lock;
} ghc_t;

/* The one instance: created by the config callback, used by init and read,
 * freed by shutdown. */
static ghc_t *ghc_instance;

/* ghc_log forwards a message of the logic files to collectd's log. */
static void ghc_log(void *ctx, int severity, const char *msg) {
  (void)ctx; /* one instance */
  plugin_log(severity, GHC_PLUGIN " plugin: %s", msg);
}

/* ghc_free releases an instance (NULL is fine). */
static void ghc_free(ghc_t *g) {
  if (g == NULL)
    return;
  gh_figures_free(&g->figures);
  gh_written_free(&g->written);
  if (g->sync_ready)
    gh_sync_destroy(&g->sync);
  gh_config_free(&g->cfg);
  free(g->token_file);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

/* ---------------------------------------------------------------- config */

/* ghc_config_words reads one or more non-empty label words into sv,
 * replacing the defaults. */
static int ghc_config_words(oconfig_item_t *ci, gh_strv_t *sv) {
  gh_strv_t words = {NULL, 0};
  if (ci->values_num < 1) {
    ERROR(GHC_PLUGIN " plugin: %s needs at least one string.", ci->key);
    return -EINVAL;
  }
  for (int i = 0; i < ci->values_num; i++) {
    if (ci->values[i].type != OCONFIG_TYPE_STRING ||
        ci->values[i].value.string[0] == '\0') {
      ERROR(GHC_PLUGIN " plugin: %s takes non-empty strings only.", ci->key);
      gh_strv_free(&words);
      return -EINVAL;
    }
    if (gh_strv_push(&words, ci->values[i].value.string) != 0) {
      gh_strv_free(&words);
      return -ENOMEM;
    }
  }
  gh_strv_free(sv);
  *sv = words;
  return 0;
}

/* ghc_config_range reads a number into *out and checks lo <= v <= hi. */
static int ghc_config_range(oconfig_item_t *ci, double lo, double hi,
                            double *out) {
  return qf_plugin_get_number(GHC_PLUGIN, ci, lo, false, hi, out);
}

/* ghc_config_int reads a whole number into *out, lo <= v <= hi. */
static int ghc_config_int(oconfig_item_t *ci, int lo, int hi, int *out) {
  return qf_plugin_get_int(GHC_PLUGIN, ci, lo, hi, out);
}

/* ghc_config_repository reads Repository and checks "owner/repo". */
static int ghc_config_repository(oconfig_item_t *ci, gh_config_t *cfg) {
  if (cf_util_get_string(ci, &cfg->repository) != 0)
    return -EINVAL;
  if (!gh_repository_valid(cfg->repository)) {
    ERROR(GHC_PLUGIN " plugin: Repository \"%s\" is not \"owner/repo\".",
          cfg->repository);
    return -EINVAL;
  }
  return 0;
}

/* ghc_config_api_url reads APIURL: http(s)://host[/path], no query. */
static int ghc_config_api_url(oconfig_item_t *ci, gh_config_t *cfg) {
  if (cf_util_get_string(ci, &cfg->api_url) != 0)
    return -EINVAL;
  char *u = cfg->api_url;
  size_t len = strlen(u);
  while (len > 0 && u[len - 1] == '/')
    u[--len] = '\0';
  bool scheme = strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
  const char *host = scheme ? strstr(u, "://") + 3 : u;
  if (!scheme || host[0] == '\0' || host[0] == '/' ||
      strpbrk(u, "?# \t\r\n") != NULL || len > 512) {
    ERROR(GHC_PLUGIN " plugin: APIURL \"%s\" is not an http(s) URL without "
                     "query.",
          u);
    return -EINVAL;
  }
  return 0;
}

/* ghc_config_key applies one config key; unknown keys are errors. */
static int ghc_config_key(oconfig_item_t *c, ghc_t *g) {
  gh_config_t *cfg = &g->cfg;
  if (strcasecmp("Repository", c->key) == 0)
    return ghc_config_repository(c, cfg);
  if (strcasecmp("APIURL", c->key) == 0)
    return ghc_config_api_url(c, cfg);
  if (strcasecmp("Token", c->key) == 0)
    return cf_util_get_string(c, &cfg->token);
  if (strcasecmp("TokenFile", c->key) == 0)
    return cf_util_get_string(c, &g->token_file);
  if (strcasecmp("StateDir", c->key) == 0)
    return cf_util_get_string(c, &cfg->state_dir);
  if (strcasecmp("InProgressLabels", c->key) == 0)
    return ghc_config_words(c, &cfg->in_progress);
  if (strcasecmp("BlockedLabels", c->key) == 0)
    return ghc_config_words(c, &cfg->blocked);
  if (strcasecmp("FlagBlockedAfterHours", c->key) == 0)
    return ghc_config_range(c, 0, 1e6, &cfg->flag_blocked_hours);
  if (strcasecmp("FlagFailuresThreshold", c->key) == 0)
    return ghc_config_int(c, 1, 1000, &cfg->flag_failures);
  if (strcasecmp("FlagTestFailureRate", c->key) == 0)
    return ghc_config_range(c, 0, 1, &cfg->flag_failure_rate);
  if (strcasecmp("RecentCommitsDays", c->key) == 0)
    return ghc_config_int(c, 1, 365, &cfg->recent_commits_days);
  if (strcasecmp("Timeout", c->key) == 0)
    return ghc_config_range(c, 0.1, 300, &cfg->timeout);
  if (strcasecmp("CACert", c->key) == 0)
    return cf_util_get_string(c, &cfg->ca_cert);
  static const char *const known[] = {"Repository",
                                      "APIURL",
                                      "Token",
                                      "TokenFile",
                                      "StateDir",
                                      "InProgressLabels",
                                      "BlockedLabels",
                                      "FlagBlockedAfterHours",
                                      "FlagFailuresThreshold",
                                      "FlagTestFailureRate",
                                      "RecentCommitsDays",
                                      "Timeout",
                                      "CACert",
                                      NULL};
  qf_plugin_unknown(GHC_PLUGIN, "<Plugin " GHC_PLUGIN ">", c->key, known);
  return -EINVAL;
}

/* ghc_token_ok tells whether a token can go into a header as is. */
static bool ghc_token_ok(const char *t) {
  size_t len = strlen(t);
  if (len == 0 || len > GHC_TOKEN_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (t[i] <= ' ' || t[i] > '~')
      return false;
  return true;
}

/* ghc_read_token_file reads TokenFile, refusing one others can read. */
static int ghc_read_token_file(ghc_t *g) {
  char err[768];
  char *text = NULL;
  int status =
      qf_secret_read("TokenFile", g->token_file, (size_t)4 * GHC_TOKEN_MAX,
                     QF_READ_NOT_PUBLIC, &text, NULL, err, sizeof(err));
  if (status != 0) {
    ERROR(GHC_PLUGIN " plugin: %s", err);
    return status;
  }
  size_t len = strlen(text);
  while (len > 0 && isspace((unsigned char)text[len - 1]))
    text[--len] = '\0';
  free(g->cfg.token);
  g->cfg.token = text;
  g->token_source = "TokenFile";
  return 0;
}

/* ghc_resolve_token picks Token, else TokenFile, else $GITHUB_TOKEN. */
static int ghc_resolve_token(ghc_t *g) {
  const char *env = getenv("GITHUB_TOKEN");
  if (g->cfg.token != NULL && g->cfg.token[0] != '\0') {
    g->token_source = "Token";
  } else if (g->token_file != NULL) {
    int status = ghc_read_token_file(g);
    if (status != 0)
      return status;
  } else if (env != NULL && env[0] != '\0') {
    free(g->cfg.token);
    if ((g->cfg.token = strdup(env)) == NULL)
      return -ENOMEM;
    g->token_source = "the GITHUB_TOKEN environment variable";
  } else {
    sfree(g->cfg.token);
    return 0;
  }
  if (g->cfg.token == NULL || !ghc_token_ok(g->cfg.token)) {
    ERROR(GHC_PLUGIN " plugin: the token from %s is empty, too long or "
                     "holds spaces or control characters.",
          g->token_source);
    return -EINVAL;
  }
  return 0;
}

/* ghc_new allocates an instance with the defaults. */
static ghc_t *ghc_new(void) {
  ghc_t *g = calloc(1, sizeof(*g));
  if (g == NULL)
    return NULL;
  pthread_mutex_init(&g->lock, NULL);
  if (gh_config_init(&g->cfg) != 0) {
    ghc_free(g);
    return NULL;
  }
  return g;
}

static int ghc_read(user_data_t *ud);

/* ghc_config reads the <Plugin qiflow_github> block and registers the read
 * callback. Its interval is 0, so collectd uses the Interval of the
 * <LoadPlugin qiflow_github> block (the context this callback runs in),
 * else the global one. */
static int ghc_config(oconfig_item_t *ci) {
  if (ghc_instance != NULL) {
    ERROR(GHC_PLUGIN " plugin: only one <Plugin " GHC_PLUGIN "> block is "
                     "supported.");
    return -1;
  }
  ghc_t *g = ghc_new();
  if (g == NULL) {
    ERROR(GHC_PLUGIN " plugin: out of memory.");
    return -1;
  }
  int status = 0;
  for (int i = 0; i < ci->children_num && status == 0; i++)
    status = ghc_config_key(ci->children + i, g);
  if (status == 0 && g->cfg.repository == NULL) {
    ERROR(GHC_PLUGIN " plugin: Repository is required.");
    status = -EINVAL;
  }
  if (status == 0)
    status = ghc_resolve_token(g);
  if (status != 0) {
    ghc_free(g);
    return -1;
  }
  ghc_instance = g;
  user_data_t ud = {.data = g, .free_func = NULL}; /* freed by shutdown */
  return plugin_register_complex_read(/* group = */ NULL, GHC_PLUGIN, ghc_read,
                                      /* interval = */ 0, &ud);
}

/* ---------------------------------------------------------------- values */

/* ghc_submit dispatches one value of qiflow_github. */
static void ghc_submit(const char *type, const char *type_instance,
                       value_t value) {
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &value;
  vl.values_len = 1;
  sstrncpy(vl.plugin, GHC_PLUGIN, sizeof(vl.plugin));
  sstrncpy(vl.type, type, sizeof(vl.type));
  sstrncpy(vl.type_instance, type_instance, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

/* ghc_gauge dispatches a gauge value. */
static void ghc_gauge(const char *type, const char *ti, double v) {
  ghc_submit(type, ti, (value_t){.gauge = v});
}

/* ghc_derive dispatches a counter that only grows. */
static void ghc_derive(const char *type, const char *ti, unsigned long long v) {
  ghc_submit(type, ti, (value_t){.derive = (derive_t)v});
}

/* ghc_dispatch_figures dispatches the project figures. */
static void ghc_dispatch_figures(const gh_figures_t *f, long long commits) {
  ghc_gauge("count", "open_issues", (double)f->open_issues);
  ghc_gauge("count", "open_pull_requests", (double)f->open_prs);
  ghc_gauge("count", "total_issues", (double)f->total);
  ghc_gauge("count", "completed_issues", (double)f->done);
  ghc_gauge("count", "in_progress_issues", (double)f->in_progress);
  ghc_gauge("count", "ready_issues", (double)f->ready);
  ghc_gauge("count", "blocked_issues", (double)f->blocked);
  ghc_gauge("count", "flagged_issues", (double)f->flagged);
  ghc_gauge("count", "flagged_critical_issues", (double)f->flagged_critical);
  if (commits >= 0)
    ghc_gauge("count", "recent_commits", (double)commits);
  ghc_gauge("percent", "completion", f->completion_percentage);
  ghc_gauge("gauge", "velocity", f->per_day);
  ghc_gauge("gauge", "velocity_slope", f->slope);
  if (f->eta > 0)
    ghc_gauge("timestamp", "estimated_completion", (double)f->eta);
}

/* ghc_dispatch_health dispatches the plugin's own health. */
static void ghc_dispatch_health(const gh_health_t *h, long long now) {
  ghc_derive("total_requests", "requests", h->requests_total);
  ghc_derive("total_requests", "not_modified", h->not_modified_total);
  ghc_derive("derive", "errors", h->errors_total);
  ghc_gauge("requests", "cycle", h->requests);
  ghc_gauge("requests", "cycle_not_modified", h->not_modified);
  if (h->rl_remaining >= 0)
    ghc_gauge("requests", "rate_limit_remaining", (double)h->rl_remaining);
  if (h->rl_limit >= 0)
    ghc_gauge("requests", "rate_limit_limit", (double)h->rl_limit);
  if (h->last_sync > 0)
    ghc_gauge("duration", "sync_age",
              now > h->last_sync ? (double)(now - h->last_sync) : 0);
}

/* ---------------------------------------------------------------- notify */

/* ghc_notify_one dispatches one flag transition of an issue. */
static void ghc_notify_one(const gh_mirror_t *m, const gh_issue_fig_t *fig,
                           const char *was) {
  notification_t n = {.time = cdtime()};
  const gh_item_t *it = fig->item;
  bool flagged = fig->trigger != GH_TRIG_NONE;
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, GHC_PLUGIN, sizeof(n.plugin));
  sstrncpy(n.type, "gauge", sizeof(n.type));
  ssnprintf(n.type_instance, sizeof(n.type_instance), "issue-%lld", it->number);
  if (flagged) {
    bool critical = gh_trigger_critical(fig->trigger);
    n.severity = critical ? NOTIF_FAILURE : NOTIF_WARNING;
    ssnprintf(n.message, sizeof(n.message),
              "issue #%lld needs a human (%s, %s): %s", it->number,
              critical ? "critical" : "review", gh_trigger_name(fig->trigger),
              fig->reason);
    plugin_notification_meta_add_string(&n, "trigger",
                                        gh_trigger_name(fig->trigger));
    plugin_notification_meta_add_string(&n, "priority",
                                        critical ? "critical" : "review");
    plugin_notification_meta_add_string(&n, "reason", fig->reason);
  } else {
    n.severity = NOTIF_OKAY;
    ssnprintf(n.message, sizeof(n.message),
              "issue #%lld is no longer flagged (was %s)", it->number, was);
  }
  plugin_notification_meta_add_signed_int(&n, "issue", it->number);
  char url[GH_URL_BUF];
  const char *u = gh_item_url(m, it, url, sizeof(url));
  if (u != NULL)
    plugin_notification_meta_add_string(&n, "github_url", u);
  plugin_dispatch_notification(&n);
  plugin_notification_meta_free(n.meta);
}

/* ghc_notify raises one notification per flag transition and remembers the
 * notified trigger in the mirror, so a restart does not repeat it. */
static void ghc_notify(ghc_t *g, const gh_figures_t *f) {
  for (size_t i = 0; i < f->nissues; i++) {
    const gh_issue_fig_t *fig = &f->issues[i];
    if (fig->item->notified == fig->trigger)
      continue; /* most issues: nothing to tell, no lookup */
    gh_item_t *it = gh_mirror_find(&g->sync.m, fig->item->number);
    if (it == NULL || it->notified == fig->trigger)
      continue;
    const char *was = gh_trigger_name((gh_trigger_t)it->notified);
    ghc_notify_one(&g->sync.m, fig, was != NULL ? was : "");
    it->notified = (unsigned char)fig->trigger;
    g->sync.dirty = true;
  }
}

/* ---------------------------------------------------------------- read */

/* ghc_write_project writes project.json: only its head when the issues
 * are what the file already holds. */
static void ghc_write_project(ghc_t *g, const gh_figures_t *f,
                              const gh_health_t *h, long long now) {
  char err[512];
  bool spliced = false;
  if (gh_project_write(g->cfg.state_dir, g->cfg.repository, f, h, now,
                       &g->written, &spliced, err, sizeof(err)) != 0)
    ERROR(GHC_PLUGIN " plugin: cannot write " GH_PROJECT_FILE ": %s", err);
}

/* ghc_read runs one sync cycle and publishes what the mirror says. A sync
 * failure is reported in project.json and the log, not to collectd, so
 * collectd keeps our interval instead of doubling it. */
static int ghc_read(user_data_t *ud) {
  ghc_t *g = ud->data;
  if (!g->sync_ready || pthread_mutex_trylock(&g->lock) != 0)
    return 0;
  long long now = (long long)time(NULL);
  double interval = CDTIME_T_TO_DOUBLE(plugin_get_interval());
  gh_sync_cycle(&g->sync, now, interval);
  gh_rules_t rules = gh_config_rules(&g->cfg);
  gh_figures_t *f = &g->figures;
  gh_health_t h;
  bool full = true;
  int status = gh_figures_update(&g->sync.m, &rules, now, f, &full);
  if (status == 0) {
    gh_sync_health(&g->sync, &h);
    h.mirror = &g->sync.m;
    ghc_dispatch_figures(f, h.recent_commits);
    ghc_dispatch_health(&h, now);
    ghc_notify(g, f);
    ghc_write_project(g, f, &h, now);
    gh_sync_save(&g->sync);
  } else {
    ERROR(GHC_PLUGIN " plugin: cannot compute the figures: %s",
          STRERROR(-status));
  }
  pthread_mutex_unlock(&g->lock);
  /* A cycle that changed the mirror freed megabytes (the figures, the
   * pages read, the mirror stored); give back what the arena can spare.
   * An unchanged cycle frees little, and trimming a large heap costs. */
  if (full)
    malloc_trim(0);
  return 0;
}

/* ---------------------------------------------------------------- life */

static int ghc_init(void) {
  ghc_t *g = ghc_instance;
  char err[512];
  if (g == NULL || g->sync_ready)
    return 0;
  /* Pin glibc's mmap threshold at its default. Left dynamic, freeing one
   * multi-megabyte buffer (project.json of a large repository) raises it
   * and the trim threshold with it, and every read thread that ever runs a
   * cycle then keeps up to twice that much freed memory in its arena: 5,000
   * issues cost collectd about 6 MB more per read thread. */
  mallopt(M_MMAP_THRESHOLD, GHC_MMAP_THRESHOLD);
  if (qf_http_global_init() != 0) {
    ERROR(GHC_PLUGIN " plugin: curl_global_init failed.");
    return -1;
  }
  if (gh_sync_init(&g->sync, &g->cfg, ghc_log, NULL, err, sizeof(err)) != 0) {
    ERROR(GHC_PLUGIN " plugin: %s", err);
    gh_sync_destroy(&g->sync);
    return -1;
  }
  g->sync_ready = true;
  malloc_trim(0); /* the mirror's parse tree is freed: give it back */
  if (g->cfg.token == NULL)
    NOTICE(GHC_PLUGIN
           " plugin: no token (Token, TokenFile or GITHUB_TOKEN): "
           "asking GitHub anonymously, 60 requests per hour, and "
           "unchanged answers are not free; fine for small repositories.");
  else
    INFO(GHC_PLUGIN " plugin: authenticating with the token from %s.",
         g->token_source);
  return 0;
}

static int ghc_shutdown(void) {
  ghc_t *g = ghc_instance;
  ghc_instance = NULL;
  if (g != NULL && g->sync_ready)
    gh_sync_save(&g->sync);
  ghc_free(g);
  return 0;
}

/* ghc_one_arena keeps collectd's heap in one glibc arena, unless the
 * operator chose otherwise (MALLOC_ARENA_MAX, or glibc.malloc.arena_max
 * in GLIBC_TUNABLES). Left to glibc, every read thread that runs a cycle
 * gets an arena of its own, and the mirror's long-lived items end up
 * spread over several, each keeping its partly used pages: at 100,000
 * issues collectd kept 18.5 MB private against 12.4 MB with one arena.
 * collectd's threads allocate little, so sharing one costs nothing
 * measurable. Called from module_register, at LoadPlugin, before collectd
 * starts a thread (glibc fixes the limit when the first extra arena is
 * made). */
static void ghc_one_arena(void) {
  const char *tunables = getenv("GLIBC_TUNABLES");
  if (getenv("MALLOC_ARENA_MAX") == NULL &&
      (tunables == NULL || strstr(tunables, "arena_max") == NULL))
    mallopt(M_ARENA_MAX, 1);
}

void module_register(void) {
  ghc_one_arena();
  plugin_register_complex_config(GHC_PLUGIN, ghc_config);
  plugin_register_init(GHC_PLUGIN, ghc_init);
  plugin_register_shutdown(GHC_PLUGIN, ghc_shutdown);
}
