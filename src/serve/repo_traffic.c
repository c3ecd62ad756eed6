/* SPDX-License-Identifier: MIT */
/*
 * repo_traffic.c: the registry of versions and the traffic the repository
 * keeps with its models: every version found in the directory registered on
 * first sight (its artifact's sha256, size, engine, contract) and checked
 * against that record after (versions are immutable); each model's aliases
 * and traffic policy; and the changes an operator asks for through control
 * (a policy, an alias, archiving), each stored with its event before it is
 * applied. What requests see of it is in the model's snapshot.
 *
 * Everything here runs under the repository's scan_lock, on control's
 * worker or at start: never on a request's thread. Store calls wait for the
 * store's commit (md_store_call), which is what makes a change durable
 * before it is applied and acknowledged.
 */
#include "serve/repo_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sha256.h"
#include "util/sys.h"
#include "watch/dataq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdarg.h>
#include <limits.h>
#include <sys/stat.h>

#define CHAMPION "champion"

/* ---- what the store holds, read at open ---------------------------------- */

/* The seed entry of model name in r->seeds, made when absent (at open). */
static struct mentry *seed_of(struct md_repo *r, const char *name)
{
    size_t pos = 0;
    struct mentry *e;

    while (pos < r->n_seeds && strcmp(r->seeds[pos]->name, name) < 0)
        pos++;
    if (pos < r->n_seeds && strcmp(r->seeds[pos]->name, name) == 0)
        return r->seeds[pos];
    e = md_xcalloc(1, sizeof(*e));
    e->name = md_xstrdup(name);
    e->serve_new = true;
    r->seeds = md_xrealloc(r->seeds, (r->n_seeds + 1) * sizeof(struct mentry *));
    memmove(r->seeds + pos + 1, r->seeds + pos, (r->n_seeds - pos) * sizeof(struct mentry *));
    r->seeds[pos] = e;
    r->n_seeds++;
    return e;
}

static void add_reg(struct mentry *e, struct md_version_info *info, bool archived)
{
    size_t pos = e->n_regs;

    while (pos > 0 && e->regs[pos - 1].info->version > info->version)
        pos--;
    e->regs = md_xrealloc(e->regs, (e->n_regs + 1) * sizeof(*e->regs));
    memmove(e->regs + pos + 1, e->regs + pos, (e->n_regs - pos) * sizeof(*e->regs));
    e->regs[pos].info = info;
    e->regs[pos].archived = archived;
    e->n_regs++;
}

static struct md_version_info *new_info(const struct md_store_version *v)
{
    struct md_version_info *info = md_xcalloc(1, sizeof(*info));

    info->version = v->version;
    (void)snprintf(info->sha256, sizeof(info->sha256), "%s", v->sha256);
    info->size = v->size;
    info->created_ms = v->created_ms;
    info->source = (int)v->source;
    (void)snprintf(info->engine, sizeof(info->engine), "%s", v->engine);
    (void)snprintf(info->artifact, sizeof(info->artifact), "%s", v->artifact);
    (void)snprintf(info->contract_sha256, sizeof(info->contract_sha256), "%s", v->contract_sha256);
    info->metadata = md_xstrdup(v->metadata != NULL && v->metadata[0] ? v->metadata : "{}");
    return info;
}

static void free_info(struct md_version_info *info)
{
    if (info == NULL)
        return;
    free(info->metadata);
    free(info);
}

static void seed_version(void *ctx, const struct md_store_version *v)
{
    struct md_repo *r = ctx;

    add_reg(seed_of(r, v->model), new_info(v), v->archived);
}

static void put_alias(struct mentry *e, const char *alias, int64_t version)
{
    size_t i;

    for (i = 0; i < e->n_aliases; i++) {
        if (strcmp(e->aliases[i].name, alias) == 0) {
            e->aliases[i].version = version;
            return;
        }
    }
    e->aliases = md_xrealloc(e->aliases, (e->n_aliases + 1) * sizeof(*e->aliases));
    (void)snprintf(e->aliases[e->n_aliases].name, sizeof(e->aliases[0].name), "%s", alias);
    e->aliases[e->n_aliases].version = version;
    e->n_aliases++;
}

static void drop_alias(struct mentry *e, const char *alias)
{
    size_t i;

    for (i = 0; i < e->n_aliases; i++) {
        if (strcmp(e->aliases[i].name, alias) == 0) {
            e->aliases[i] = e->aliases[e->n_aliases - 1];
            e->n_aliases--;
            return;
        }
    }
}

static int64_t alias_version(const struct mentry *e, const char *alias)
{
    size_t i;

    for (i = 0; i < e->n_aliases; i++)
        if (strcmp(e->aliases[i].name, alias) == 0)
            return e->aliases[i].version;
    return 0;
}

static void seed_alias(void *ctx, const char *model, const char *alias, int64_t version)
{
    put_alias(seed_of(ctx, model), alias, version);
}

static void seed_policy(void *ctx, const char *model, const char *policy, int64_t revision,
                        int64_t updated_ms)
{
    struct md_repo *r = ctx;
    struct mentry *e = seed_of(r, model);
    struct md_err err;

    if (md_policy_parse(policy, strlen(policy), &e->policy, &err) != MD_OK) {
        /* Written by this program: a policy it cannot read is a bug or a
         * newer release's; leave it stored, serve as if none, say so. */
        md_log_kv(MD_LOG_ERROR,
                  "stored traffic policy unreadable; the model serves its newest "
                  "version until a policy is set",
                  "model", model, "reason", err.msg, MD_KV_END);
        e->policy_rev = revision; /* a new one must replace this revision */
        return;
    }
    e->has_policy = true;
    e->policy_rev = revision;
    e->policy_ms = updated_ms;
}

static void seed_model(void *ctx, const char *model, const char *contract)
{
    struct mentry *e = seed_of(ctx, model);

    e->api_model = true;
    free(e->yaml);
    e->yaml_len = strlen(contract);
    e->yaml = md_xstrdup(contract);
}

static int load_all(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    int rc = md_store_tx_versions(tx, NULL, seed_version, ctx, err);

    if (rc == MD_OK)
        rc = md_store_tx_models(tx, seed_model, ctx, err);

    if (rc == MD_OK)
        rc = md_store_tx_aliases(tx, NULL, seed_alias, ctx, err);
    if (rc == MD_OK)
        rc = md_store_tx_policies(tx, seed_policy, ctx, err);
    return rc;
}

int md_repo__load_store(struct md_repo *r, struct md_err *err)
{
    return md_store_call(r->store, load_all, r, err);
}

void md_repo__seed(struct md_repo *r, struct mentry *e)
{
    size_t i;

    e->serve_new = true;
    for (i = 0; i < r->n_seeds; i++) {
        struct mentry *s = r->seeds[i];

        if (strcmp(s->name, e->name) != 0)
            continue;
        e->regs = s->regs;
        e->n_regs = s->n_regs;
        e->aliases = s->aliases;
        e->n_aliases = s->n_aliases;
        e->has_policy = s->has_policy;
        e->policy = s->policy;
        e->policy_rev = s->policy_rev;
        e->policy_ms = s->policy_ms;
        e->api_model = s->api_model;
        if (s->api_model) {
            e->yaml = s->yaml;
            e->yaml_len = s->yaml_len;
        } else {
            free(s->yaml);
        }
        free(s->name);
        free(s);
        memmove(r->seeds + i, r->seeds + i + 1, (r->n_seeds - i - 1) * sizeof(struct mentry *));
        r->n_seeds--;
        return;
    }
}

void md_repo__free_traffic(struct mentry *e)
{
    size_t i;

    for (i = 0; i < e->n_regs; i++)
        free_info(e->regs[i].info);
    free(e->regs);
    free(e->aliases);
    e->regs = NULL;
    e->n_regs = 0;
    e->aliases = NULL;
    e->n_aliases = 0;
}

struct treg *md_repo__reg(const struct mentry *e, int64_t num)
{
    size_t lo = 0;
    size_t hi = e->n_regs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (e->regs[mid].info->version == num)
            return &e->regs[mid];
        if (e->regs[mid].info->version < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool md_repo__pinned(const struct mentry *e, int64_t num)
{
    size_t i;

    if (e->has_policy && md_policy_names(&e->policy, num))
        return true;
    if (e->trial != NULL && md_policy_names(e->trial, num))
        return true;
    for (i = 0; i < e->n_aliases; i++)
        if (e->aliases[i].version == num)
            return true;
    return false;
}

void md_repo__snapshot_traffic(const struct mentry *e, struct md_snapshot *s)
{
    s->has_policy = e->has_policy;
    if (e->has_policy)
        s->policy = e->policy;
    s->policy_revision = e->policy_rev;
    s->policy_ms = e->policy_ms;
    md_snapshot_set_aliases(s, e->aliases, e->n_aliases);
}

/* ---- events ------------------------------------------------------------- */

/* Appends an event inside a store job, and logs it. */
static int event(struct md_store_tx *tx, const char *model, const char *kind, const char *details,
                 struct md_err *err, const char *fmt, ...) MD_PRINTF(6, 7);

static int event(struct md_store_tx *tx, const char *model, const char *kind, const char *details,
                 struct md_err *err, const char *fmt, ...)
{
    struct md_store_event ev;
    char message[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(message, sizeof(message), fmt, ap); /* cut when long */
    va_end(ap);
    ev.id = 0;
    ev.at_ms = md_wall_ms();
    ev.model = model;
    ev.kind = kind;
    ev.message = message;
    ev.details = details != NULL ? details : "{}";
    return md_store_tx_event_add(tx, &ev, NULL, err);
}

/* ---- registration -------------------------------------------------------- */

struct reg_job {
    struct md_store_version v;
    int64_t number;
};

static int run_register(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct reg_job *j = ctx;
    char details[256];
    int rc = md_store_tx_version_add(tx, &j->v, &j->number, err);

    if (rc != MD_OK)
        return rc;
    (void)snprintf(details, sizeof(details),
                   "{\"version\":%lld,\"sha256\":\"%s\",\"source\":\"%s\"}", (long long)j->number,
                   j->v.sha256, md_store_source_name(j->v.source));
    return event(tx, j->v.model, "version_registered", details, err,
                 "version %lld registered from the %s (sha256 %.12s)", (long long)j->number,
                 md_store_source_name(j->v.source), j->v.sha256);
}

int md_repo__register(struct md_repo *r, struct mentry *e, const struct md_contract *c, int64_t num,
                      const char *apath, const struct sig *asig, const struct vrec *old,
                      struct vrec *nr, bool add, bool *fresh, char *msg, size_t msg_size)
{
    struct treg *reg = md_repo__reg(e, num);
    struct reg_job j;
    struct md_err err;
    char ysha[MD_SHA256_HEX];
    int64_t size = 0;
    const char *slash;

    *fresh = false;
    if (apath[0] == '\0' || asig->mtime_ns == 0)
        return MD_OK; /* no artifact: the load says why */
    if (old != NULL && old->sha256[0] != '\0' && memcmp(&old->sha_sig, asig, sizeof(*asig)) == 0) {
        memcpy(nr->sha256, old->sha256, sizeof(nr->sha256));
        nr->sha_sig = *asig;
    } else {
        if (md_sha256_file(apath, nr->sha256, &size, &err) != MD_OK)
            return MD_OK; /* unreadable: the load says why */
        nr->sha_sig = *asig;
    }
    if (reg != NULL) {
        if (strcmp(reg->info->sha256, nr->sha256) == 0)
            return MD_OK;
        (void)snprintf(msg, msg_size,
                       "the artifact changed after version %lld was registered (sha256 %.12s, "
                       "registered %.12s): versions are immutable, add a version instead",
                       (long long)num, nr->sha256, reg->info->sha256);
        if (old == NULL || strcmp(old->sha256, nr->sha256) != 0)
            md_log_kv(MD_LOG_ERROR, "version artifact changed in place", "model", e->name, "reason",
                      msg, MD_KV_END);
        return MD_ECONFLICT;
    }
    if (!add)
        return MD_OK;
    memset(&j, 0, sizeof(j));
    slash = strrchr(apath, '/');
    md_sha256_hex(e->yaml != NULL ? e->yaml : "", e->yaml != NULL ? e->yaml_len : 0, ysha);
    j.v.model = e->name;
    j.v.version = num;
    j.v.sha256 = nr->sha256;
    j.v.size = size > 0 ? size : (int64_t)asig->size;
    j.v.created_ms = md_wall_ms();
    j.v.source = MD_SOURCE_REPOSITORY;
    j.v.engine = c->backend;
    j.v.artifact = slash != NULL ? slash + 1 : apath;
    j.v.metadata = "{}";
    j.v.contract = e->yaml != NULL ? e->yaml : "";
    j.v.contract_sha256 = ysha;
    j.v.archived = false;
    if (md_store_call(r->store, run_register, &j, &err) != MD_OK) {
        /* Not registered: served as before, tried again at the next scan. */
        md_log_kv(MD_LOG_ERROR, "version not registered", "model", e->name, "reason", err.msg,
                  MD_KV_END);
        return MD_OK;
    }
    add_reg(e, new_info(&j.v), false);
    md_log_kv(MD_LOG_INFO, "version registered", "model", e->name, "sha256", nr->sha256, MD_KV_END);
    *fresh = true;
    return MD_OK;
}

/* ---- policies ------------------------------------------------------------ */

struct policy_job {
    const char *model;
    const struct md_policy *policy;
    const char *text; /* its JSON */
    int64_t expect;   /* the revision it replaces, 0 none, -1 any */
    int64_t revision; /* out */
    const char *why;  /* the event's message */
    const char *kind; /* the event's kind */
    int64_t champion; /* > 0: alias champion moves here too */
};

static int run_policy(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct policy_job *j = ctx;
    struct md_buf d;
    int rc = md_store_tx_policy_put(tx, j->model, j->text, j->expect, &j->revision, err);

    if (rc == MD_OK && j->champion > 0)
        rc = md_store_tx_alias_set(tx, j->model, CHAMPION, j->champion, err);
    if (rc != MD_OK)
        return rc;
    md_buf_init(&d, (size_t)1 << 20);
    (void)md_buf_printf(&d, "{\"revision\":%lld,\"policy\":%s}", (long long)j->revision, j->text);
    rc = md_buf_error(&d);
    if (rc == MD_OK)
        rc = event(tx, j->model, j->kind, d.data, err, "%s (revision %lld)", j->why,
                   (long long)j->revision);
    else
        rc = md_err_set(err, rc, "out of memory for an event");
    md_buf_release(&d);
    return rc;
}

/* Stores p as e's policy (and champion when > 0) with an event; applies it
 * to e on success. Caller publishes. */
static int store_policy(struct md_repo *r, struct mentry *e, struct md_policy *p, int64_t expect,
                        int64_t champion, const char *kind, const char *why, struct md_err *err)
{
    struct policy_job j;
    struct md_buf text;
    int rc;

    md_policy_settle(p, e->has_policy ? &e->policy : NULL, md_now_ns() ^ (uint64_t)e->policy_rev);
    md_buf_init(&text, (size_t)1 << 20);
    rc = md_policy_format(p, &text);
    if (rc == MD_OK && md_buf_putc(&text, '\0') != MD_OK)
        rc = md_buf_error(&text);
    if (rc != MD_OK) {
        md_buf_release(&text);
        return md_err_set(err, rc, "out of memory for a policy");
    }
    j.model = e->name;
    j.policy = p;
    j.text = text.data;
    j.expect = expect;
    j.revision = 0;
    j.why = why;
    j.kind = kind;
    j.champion = champion;
    rc = md_store_call(r->store, run_policy, &j, err);
    md_buf_release(&text);
    if (rc != MD_OK)
        return rc;
    e->policy = *p;
    e->has_policy = true;
    e->policy_rev = j.revision;
    e->policy_ms = md_wall_ms();
    if (champion > 0)
        put_alias(e, CHAMPION, champion);
    md_log_kv(MD_LOG_INFO, "traffic policy changed", "model", e->name, "reason", why, MD_KV_END);
    return MD_OK;
}

/* The newest READY version of e, or 0. */
static int64_t newest_ready(const struct mentry *e)
{
    size_t i = e->n_recs;

    while (i > 0) {
        i--;
        if (e->recs[i].live != NULL)
            return e->recs[i].number;
    }
    return 0;
}

static bool has_rec(const struct mentry *e, int64_t num)
{
    size_t i;

    for (i = 0; i < e->n_recs; i++)
        if (e->recs[i].number == num)
            return true;
    return false;
}

/* Whether p sends all traffic to one version, with no shadow: a pin. */
static bool is_pin(const struct md_policy *p, int64_t *version)
{
    size_t i;
    int64_t v = 0;

    if (p->n_shadows > 0)
        return false;
    for (i = 0; i < p->n_routes; i++) {
        if (p->routes[i].weight == 0)
            continue;
        if (v != 0 && v != p->routes[i].version)
            return false;
        v = p->routes[i].version;
    }
    *version = v;
    return v != 0;
}

void md_repo__settle(struct md_repo *r, struct mentry *e, int64_t newest_registered)
{
    struct md_policy p;
    struct md_err err;
    int64_t ready = newest_ready(e);
    int64_t pinned = 0;
    char why[200];

    if (r->store == NULL || ready == 0 || e->unloaded)
        return;
    if (!e->has_policy && e->policy_rev == 0) {
        md_policy_pin(&p, ready);
        (void)snprintf(why, sizeof(why),
                       "first policy: all traffic to version %lld, which serves now",
                       (long long)ready);
        if (store_policy(r, e, &p, 0, alias_version(e, CHAMPION) == 0 ? ready : 0, "policy_changed",
                         why, &err) != MD_OK)
            md_log_kv(MD_LOG_ERROR, "first traffic policy not stored", "model", e->name, "reason",
                      err.msg, MD_KV_END);
        return;
    }
    if (!e->serve_new || !e->has_policy || !is_pin(&e->policy, &pinned))
        return;
    if (newest_registered > 0 && newest_registered == ready && ready != pinned) {
        (void)snprintf(why, sizeof(why),
                       "new version %lld in the repository (new_versions: serve): all traffic "
                       "moves to it from version %lld",
                       (long long)ready, (long long)pinned);
    } else if (!has_rec(e, pinned) && ready != pinned) {
        (void)snprintf(why, sizeof(why),
                       "version %lld left the repository (new_versions: serve): all traffic "
                       "moves to version %lld",
                       (long long)pinned, (long long)ready);
    } else {
        return;
    }
    md_policy_pin(&p, ready);
    if (store_policy(r, e, &p, e->policy_rev, ready, "policy_changed", why, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "traffic policy not moved", "model", e->name, "reason", err.msg,
                  MD_KV_END);
    else
        e->resettle = true;
}

/* ---- operators' changes, applied by control ------------------------------ */

/* The rec of version num in e, or NULL. */
static const struct vrec *rec_of(const struct mentry *e, int64_t num)
{
    size_t i;

    for (i = 0; i < e->n_recs; i++)
        if (e->recs[i].number == num)
            return &e->recs[i];
    return NULL;
}

/* Resolves an alias left in a policy's route or shadow; checks the version
 * is known and not archived. field: "routes[1].version". */
static int check_version(const struct mentry *e, int64_t *version, const char *alias,
                         const char *field, struct md_err *err)
{
    const struct treg *reg;

    if (*version == 0) {
        *version = alias_version(e, alias);
        if (*version == 0)
            return md_err_set(err, MD_EINVAL, "%s: model '%s' has no alias '%s'", field, e->name,
                              alias);
    }
    reg = md_repo__reg(e, *version);
    if (reg == NULL && rec_of(e, *version) == NULL)
        return md_err_set(err, MD_EINVAL, "%s: model '%s' has no version %lld", field, e->name,
                          (long long)*version);
    if (reg != NULL && reg->archived)
        return md_err_set(err, MD_EINVAL, "%s: version %lld of model '%s' is archived", field,
                          (long long)*version, e->name);
    return MD_OK;
}

/* Whether version num of e serves; else why not into err, for field. */
static int check_serves(const struct mentry *e, int64_t num, const char *field, struct md_err *err)
{
    const struct vrec *rec = rec_of(e, num);
    const struct vrec *champ = rec_of(e, alias_version(e, CHAMPION));

    if (rec == NULL)
        return md_err_set(err, MD_EINVAL, "%s: version %lld of model '%s' is not in the repository",
                          field, (long long)num, e->name);
    if (rec->live == NULL)
        return md_err_set(err, MD_EINVAL, "%s: version %lld of model '%s' does not serve: %s",
                          field, (long long)num, e->name, rec->reason);
    if (champ != NULL && champ->live != NULL && champ != rec &&
        md_contract_accepts(rec->live->contract, champ->live->contract, err) != MD_OK) {
        md_err_prefix(err,
                      "%s: version %lld does not accept every request the champion (version "
                      "%lld) accepts: ",
                      field, (long long)num, (long long)champ->number);
        return MD_EINVAL;
    }
    return MD_OK;
}

/*
 * Warms version num of e up: one prediction of a row of zeros straight
 * through its engine (engines fill caches and pages on first use), so its
 * first request is not the slow one. A failure refuses the policy.
 */
static int warm_up(const struct mentry *e, int64_t num, const char *field, struct md_err *err)
{
    const struct vrec *rec = rec_of(e, num);
    const struct md_version *v = rec != NULL ? rec->live : NULL;
    size_t width;
    float *x;
    float *out;
    struct md_err why;
    int rc;

    if (v == NULL)
        return MD_OK; /* check_serves said why */
    width = v->contract->width;
    x = md_xcalloc(width + 1, sizeof(float));
    out = md_xcalloc(v->desc.n_outputs + 1, sizeof(float));
    rc = v->ops->predict(v->engine, x, 1, out, &why);
    free(x);
    free(out);
    if (rc != MD_OK)
        return md_err_set(err, MD_EINVAL,
                          "%s: version %lld of model '%s' failed its warm-up "
                          "prediction: %s",
                          field, (long long)num, e->name, why.msg);
    return MD_OK;
}

/* The JSON answer of a policy change or GET: {"model", "revision", "policy"}. */
static char *policy_answer(const struct mentry *e)
{
    struct md_buf b;
    char *out;

    md_buf_init(&b, (size_t)1 << 20);
    (void)md_buf_puts(&b, "{\"model\":");
    (void)md_buf_json_str(&b, e->name, strlen(e->name));
    (void)md_buf_printf(&b, ",\"revision\":%lld,\"policy\":", (long long)e->policy_rev);
    if (md_policy_format(&e->policy, &b) != MD_OK || md_buf_puts(&b, "}") != MD_OK ||
        md_buf_putc(&b, '\0') != MD_OK) {
        md_buf_release(&b);
        return NULL;
    }
    out = md_buf_detach(&b, NULL);
    return out;
}

/*
 * Checks and applies policy p to e (caller holds scan_lock): aliases
 * resolved, every version it names loaded, serving, compatible with the
 * champion and warmed up; stored with its event (expect: the revision it
 * replaces, -1 any), champion moved when > 0; published. On a failure
 * nothing changes.
 */
static int apply_locked(struct md_repo *r, struct mentry *e, struct md_policy *p, int64_t expect,
                        int64_t champion, const char *why, struct md_err *err)
{
    struct md_policy saved;
    bool had;
    char field[48];
    size_t i;
    int rc = MD_OK;

    for (i = 0; i < p->n_routes && rc == MD_OK; i++) {
        (void)snprintf(field, sizeof(field), "routes[%zu].version", i);
        rc = check_version(e, &p->routes[i].version, p->routes[i].alias, field, err);
    }
    for (i = 0; i < p->n_shadows && rc == MD_OK; i++) {
        (void)snprintf(field, sizeof(field), "shadows[%zu].version", i);
        rc = check_version(e, &p->shadows[i].version, p->shadows[i].alias, field, err);
    }
    if (rc == MD_OK)
        rc = md_policy_check(p, err); /* a clash only aliases reveal */
    if (rc != MD_OK)
        return rc;
    if (expect > 0 && expect != e->policy_rev)
        return md_err_set(err, MD_ECONFLICT,
                          "the policy of model '%s' is at revision %lld, not %lld", e->name,
                          (long long)e->policy_rev, (long long)expect);
    /* Load what the policy names (a version outside version_policy stays
     * loaded while a policy names it), then check it serves. The stored
     * policy stays in place meanwhile: the scan publishes it, and may move
     * it to a version it finds (new_versions: serve), which a change naming
     * the revision before must then not replace. */
    had = e->has_policy;
    saved = e->policy;
    e->trial = p;
    (void)md_repo__rescan(r, e, err);
    e->trial = NULL;
    md_err_clear(err);
    if (expect > 0 && expect != e->policy_rev)
        rc = md_err_set(err, MD_ECONFLICT, "the policy of model '%s' is at revision %lld, not %lld",
                        e->name, (long long)e->policy_rev, (long long)expect);
    for (i = 0; i < p->n_routes && rc == MD_OK; i++) {
        (void)snprintf(field, sizeof(field), "routes[%zu].version", i);
        rc = check_serves(e, p->routes[i].version, field, err);
    }
    for (i = 0; i < p->n_shadows && rc == MD_OK; i++) {
        (void)snprintf(field, sizeof(field), "shadows[%zu].version", i);
        rc = check_serves(e, p->shadows[i].version, field, err);
    }
    if (rc == MD_OK && p->sticky == MD_STICKY_KEY) {
        /* A key every routed version's contract declares. */
        for (i = 0; i < p->n_routes && rc == MD_OK; i++) {
            const struct vrec *rec = rec_of(e, p->routes[i].version);
            const struct md_contract *c =
                rec != NULL && rec->live != NULL ? rec->live->contract : NULL;
            size_t k;
            bool found = false;

            for (k = 0; c != NULL && k < c->n_keys; k++)
                found = found || strcmp(c->keys[k].name, p->sticky_name) == 0;
            if (c != NULL && !found)
                rc = md_err_set(err, MD_EINVAL,
                                "sticky.key: '%s' is not a key of version %lld's contract "
                                "(model.yaml keys:)",
                                p->sticky_name, (long long)p->routes[i].version);
        }
    }
    for (i = 0; i < p->n_routes && rc == MD_OK; i++) {
        if (p->routes[i].weight == 0 || (had && md_policy_names(&saved, p->routes[i].version)))
            continue; /* no traffic yet, or had some already */
        (void)snprintf(field, sizeof(field), "routes[%zu].version", i);
        rc = warm_up(e, p->routes[i].version, field, err);
    }
    if (rc == MD_OK)
        rc = store_policy(r, e, p, expect > 0 ? expect : -1, champion, "policy_changed", why, err);
    if (rc == MD_OK) {
        struct md_err ignored;

        /* What no policy, alias or version_policy wants now unloads; published. */
        (void)md_repo__rescan(r, e, &ignored);
    } else {
        md_repo__publish(r, e);
    }
    return rc;
}

int md_repo_set_policy(struct md_repo *r, const char *model, const char *json, size_t len,
                       int64_t expect, char **answer, struct md_err *err)
{
    struct md_policy p;
    struct mentry *e;
    int rc;

    *answer = NULL;
    if (r->store == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: traffic policies need --data");
    rc = md_policy_parse(json, len, &p, err);
    if (rc != MD_OK)
        return rc;
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e == NULL)
        rc = md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    else if (e->rollout != 0)
        rc = md_err_set(err, MD_ECONFLICT,
                        "rollout %lld of model '%s' is moving its traffic: pause it and promote, "
                        "abort or roll it back first",
                        (long long)e->rollout, model);
    else
        rc = apply_locked(r, e, &p, expect, 0, "traffic policy set by an operator", err);
    if (rc == MD_OK && e != NULL && (*answer = policy_answer(e)) == NULL)
        rc = md_err_set(err, MD_ENOMEM, "out of memory for the answer");
    pthread_mutex_unlock(&r->scan_lock);
    return rc;
}

int md_repo_apply_policy(struct md_repo *r, const char *model, struct md_policy *p,
                         int64_t champion, const char *why, struct md_err *err)
{
    struct mentry *e;
    int rc;

    if (r->store == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: traffic policies need --data");
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    rc = e == NULL ? md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model)
                   : apply_locked(r, e, p, -1, champion, why, err);
    pthread_mutex_unlock(&r->scan_lock);
    return rc;
}

int md_repo_set_rollout(struct md_repo *r, const char *model, int64_t rollout)
{
    struct mentry *e;

    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e != NULL)
        e->rollout = rollout;
    pthread_mutex_unlock(&r->scan_lock);
    return e != NULL ? MD_OK : MD_ENOTFOUND;
}

int md_repo_pick_version(struct md_repo *r, const char *model, const char *text, const char *field,
                         int64_t *num, struct md_err *err)
{
    struct mentry *e;
    int rc;

    *num = md_version_number(text);
    if (*num < 0)
        *num = 0; /* an alias, resolved by check_version */
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e == NULL)
        rc = md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    else
        rc = check_version(e, num, text, field, err);
    if (rc == MD_OK && *num < 1)
        rc =
            md_err_set(err, MD_EINVAL, "%s: '%.64s' is not a version number or alias", field, text);
    pthread_mutex_unlock(&r->scan_lock);
    return rc;
}

int64_t md_repo_champion(struct md_repo *r, const char *model)
{
    struct mentry *e;
    int64_t v = 0;

    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e != NULL) {
        v = alias_version(e, CHAMPION);
        if (v == 0)
            v = newest_ready(e);
    }
    pthread_mutex_unlock(&r->scan_lock);
    return v;
}

static int alias_answer(const char *model, const char *alias, int64_t version, char **answer,
                        struct md_err *err);

struct alias_job {
    const char *model;
    const char *alias;
    int64_t version; /* 0: remove */
    int64_t was;
};

static int run_alias(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct alias_job *j = ctx;
    char details[256];
    int rc = md_store_tx_alias_set(tx, j->model, j->alias, j->version, err);

    if (rc != MD_OK)
        return rc;
    (void)snprintf(details, sizeof(details), "{\"alias\":\"%s\",\"version\":%lld,\"was\":%lld}",
                   j->alias, (long long)j->version, (long long)j->was);
    if (j->version == 0)
        return event(tx, j->model, "alias_removed", details, err,
                     "alias '%s' removed (it named version %lld)", j->alias, (long long)j->was);
    if (j->was == 0)
        return event(tx, j->model, "alias_moved", details, err, "alias '%s' set to version %lld",
                     j->alias, (long long)j->version);
    return event(tx, j->model, "alias_moved", details, err,
                 "alias '%s' moved from version %lld to %lld", j->alias, (long long)j->was,
                 (long long)j->version);
}

/* [A-Za-z][A-Za-z0-9_.-]*, at most MD_POLICY_NAME_MAX - 1. */
static bool alias_name_ok(const char *s)
{
    size_t i;

    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        char ch = s[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return i < MD_POLICY_NAME_MAX;
}

int md_repo_set_alias(struct md_repo *r, const char *model, const char *alias, const char *version,
                      char **answer, struct md_err *err)
{
    struct alias_job j;
    struct mentry *e;
    int64_t num = 0;
    int rc = MD_OK;

    *answer = NULL;
    if (r->store == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: aliases need --data");
    if (!alias_name_ok(alias))
        return md_err_set(err, MD_EINVAL,
                          "alias: '%.64s' is not an alias name ([A-Za-z][A-Za-z0-9_.-]*, at most "
                          "63 characters)",
                          alias);
    if (version != NULL) {
        num = md_version_number(version);
        if (num < 1 && !alias_name_ok(version))
            return md_err_set(err, MD_EINVAL, "version: '%.64s' is not a version number or alias",
                              version);
        if (num < 1)
            num = 0; /* an alias: check_version resolves it */
    }
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e == NULL) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    }
    j.was = alias_version(e, alias);
    if (version == NULL && j.was == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "model '%s' has no alias '%s'", model, alias);
    if (rc == MD_OK && version != NULL)
        rc = check_version(e, &num, version, "version", err);
    if (rc == MD_OK && version != NULL && num == j.was) {
        /* Nothing to change: answered as a success, nothing stored. */
        pthread_mutex_unlock(&r->scan_lock);
        return alias_answer(model, alias, num, answer, err);
    }
    if (rc == MD_OK) {
        j.model = model;
        j.alias = alias;
        j.version = num;
        rc = md_store_call(r->store, run_alias, &j, err);
    }
    if (rc == MD_OK) {
        if (num == 0)
            drop_alias(e, alias);
        else
            put_alias(e, alias, num);
        (void)md_repo__rescan(r, e, err); /* loads what the alias names */
        md_err_clear(err);
        md_log_kv(MD_LOG_INFO, num == 0 ? "alias removed" : "alias moved", "model", model, "alias",
                  alias, MD_KV_END);
    }
    pthread_mutex_unlock(&r->scan_lock);
    if (rc != MD_OK)
        return rc;
    return alias_answer(model, alias, num, answer, err);
}

static int alias_answer(const char *model, const char *alias, int64_t version, char **answer,
                        struct md_err *err)
{
    struct md_buf b;

    md_buf_init(&b, (size_t)1 << 20);
    (void)md_buf_puts(&b, "{\"model\":");
    (void)md_buf_json_str(&b, model, strlen(model));
    (void)md_buf_puts(&b, ",\"alias\":");
    (void)md_buf_json_str(&b, alias, strlen(alias));
    if (version > 0)
        (void)md_buf_printf(&b, ",\"version\":\"%lld\"}", (long long)version);
    else
        (void)md_buf_puts(&b, ",\"version\":null}");
    if (md_buf_putc(&b, '\0') != MD_OK) {
        md_buf_release(&b);
        return md_err_set(err, MD_ENOMEM, "out of memory for the answer");
    }
    *answer = md_buf_detach(&b, NULL);
    return MD_OK;
}

struct archive_job {
    const char *model;
    int64_t version;
    bool archived;
};

static int run_archive(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct archive_job *j = ctx;
    char details[64];
    int rc = md_store_tx_version_archive(tx, j->model, j->version, j->archived, err);

    if (rc != MD_OK)
        return rc;
    (void)snprintf(details, sizeof(details), "{\"version\":%lld}", (long long)j->version);
    return event(tx, j->model, j->archived ? "version_archived" : "version_restored", details, err,
                 j->archived ? "version %lld archived" : "version %lld restored",
                 (long long)j->version);
}

int md_repo_archive(struct md_repo *r, const char *model, int64_t version, bool archived,
                    struct md_err *err)
{
    struct archive_job j;
    struct mentry *e;
    struct treg *reg;
    size_t i;
    int rc = MD_OK;

    if (r->store == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: archiving needs --data");
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    reg = e != NULL ? md_repo__reg(e, version) : NULL;
    if (e == NULL)
        rc = md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    else if (reg == NULL)
        rc = md_err_set(err, MD_ENOTFOUND, "model '%s' has no registered version %lld", model,
                        (long long)version);
    else if (reg->archived == archived)
        rc = MD_OK;
    else if (archived && e->has_policy && md_policy_names(&e->policy, version))
        rc = md_err_set(err, MD_ECONFLICT,
                        "version %lld of model '%s' is named by the traffic policy: move its "
                        "traffic first",
                        (long long)version, model);
    for (i = 0; rc == MD_OK && archived && e != NULL && i < e->n_aliases; i++)
        if (e->aliases[i].version == version)
            rc = md_err_set(err, MD_ECONFLICT,
                            "version %lld of model '%s' is named by alias '%s': move it first",
                            (long long)version, model, e->aliases[i].name);
    if (rc == MD_OK && reg != NULL && reg->archived != archived) {
        j.model = model;
        j.version = version;
        j.archived = archived;
        rc = md_store_call(r->store, run_archive, &j, err);
        if (rc == MD_OK) {
            reg->archived = archived;
            if (archived) /* its data quality goes as soon as no instance uses it */
                md_dataq_forget(md_metrics_dataq(r->metrics), model, version);
            (void)md_repo__rescan(r, e, err);
            md_err_clear(err);
        }
    }
    pthread_mutex_unlock(&r->scan_lock);
    return rc;
}

/* ---- versions kept by the daemon (uploaded, later trained) ------------------ */

/* <versions>/<model>/<num> into buf; false when it does not fit. */
static bool stored_dir(const struct md_repo *r, const char *model, int64_t num, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s/%s/%lld", r->versions_dir, model, (long long)num);

    return k > 0 && (size_t)k < n;
}

int md_repo__load_stored(struct md_repo *r, struct mentry *e, int64_t num, struct md_version **out,
                         char *msg, size_t msg_size)
{
    char dir[PATH_MAX];
    char path[PATH_MAX + 16];
    struct md_contract *c;
    struct md_err err;
    char *yaml = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (r->versions_dir == NULL || !stored_dir(r, e->name, num, dir, sizeof(dir)))
        return md_err_set(&err, MD_EINVAL, "no directory for stored versions");
    (void)snprintf(path, sizeof(path), "%s/model.yaml", dir);
    rc = md_read_file(path, (size_t)4 << 20, &yaml, &len, NULL, &err);
    if (rc == MD_OK)
        rc = md_contract_parse(yaml, len, e->name, &c, &err);
    free(yaml);
    if (rc == MD_OK)
        rc = md_version_load(dir, num, c, r->metrics, out, &err);
    if (rc != MD_OK) {
        (void)snprintf(msg, msg_size, "%s", err.msg);
        md_log_kv(MD_LOG_ERROR, "stored version failed to load", "model", e->name, "reason",
                  err.msg, MD_KV_END);
        return rc;
    }
    md_log_kv(MD_LOG_INFO, "version loaded", "model", e->name, "version", (*out)->version_str,
              "backend", c->backend, "source", "store", MD_KV_END);
    return MD_OK;
}

/* fsync of a directory, so what was created or renamed in it lasts. */
static int sync_dir(const char *dir, struct md_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) != 0) {
        int rc = md_err_set(err, MD_EIO, "%s: %s", dir, strerror(errno));

        if (fd >= 0)
            close(fd);
        return rc;
    }
    close(fd);
    return MD_OK;
}

/* Writes text into path, synced. */
static int write_synced(const char *path, const char *text, size_t len, struct md_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    size_t off = 0;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        close(fd);
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    }
    close(fd);
    return MD_OK;
}

/* Removes a staging directory and what it holds (no subdirectories). */
static void remove_staging(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX + 300];

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            (void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            (void)unlink(path);
        }
        closedir(d);
    }
    (void)rmdir(dir);
}

struct upload_job {
    struct md_store_version v;
    const char *staging; /* renamed to the version's directory in the transaction */
    const struct md_repo *r;
    int64_t number;
};

static int run_upload(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct upload_job *j = ctx;
    char dir[PATH_MAX];
    char details[256];
    int rc = md_store_tx_version_add(tx, &j->v, &j->number, err);

    if (rc != MD_OK)
        return rc;
    if (!stored_dir(j->r, j->v.model, j->number, dir, sizeof(dir)))
        return md_err_set(err, MD_EINVAL, "path of version %lld too long", (long long)j->number);
    /* A directory of this number with no record is what a crash left
     * between a rename and its commit: never a version's. */
    remove_staging(dir);
    if (rename(j->staging, dir) != 0)
        return md_err_set(err, MD_EIO, "%s: %s", dir, strerror(errno));
    /* The rename lasts before the commit that registers the version. */
    {
        char parent[PATH_MAX];
        char *slash;

        memcpy(parent, dir, sizeof(parent));
        slash = strrchr(parent, '/');
        if (slash != NULL)
            *slash = '\0';
        rc = sync_dir(parent, err);
        if (rc != MD_OK)
            return rc;
    }
    (void)snprintf(details, sizeof(details),
                   "{\"version\":%lld,\"sha256\":\"%s\",\"source\":\"%s\"}", (long long)j->number,
                   j->v.sha256, md_store_source_name(j->v.source));
    return event(tx, j->v.model, "version_registered", details, err,
                 "version %lld registered from %s (sha256 %.12s)", (long long)j->number,
                 j->v.source == MD_SOURCE_TRAINING   ? "a training"
                 : j->v.source == MD_SOURCE_SNAPSHOT ? "a snapshot"
                                                     : "an upload",
                 j->v.sha256);
}

/* Whether any registered version (of any model) names sha256. */
struct sha_find {
    const char *sha256;
    bool found;
};

static void find_sha(void *ctx, const struct md_store_version *v)
{
    struct sha_find *f = ctx;

    if (strcmp(v->sha256, f->sha256) == 0)
        f->found = true;
}

static int run_find_sha(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_versions(tx, NULL, find_sha, ctx, err);
}

/* Removes the artifact of sha256 from the artifact store unless a version names it. */
static void drop_artifact(struct md_repo *r, const char *sha256)
{
    struct sha_find f = {sha256, false};
    char path[PATH_MAX];
    struct md_err err;

    if (md_store_call(r->store, run_find_sha, &f, &err) != MD_OK || f.found)
        return;
    if (md_store_artifact_path(r->store, sha256, path, sizeof(path), &err) == MD_OK)
        (void)unlink(path);
}

int md_repo_register_upload(struct md_repo *r, const char *model, const struct md_repo_upload *u,
                            char **answer, struct md_err *err)
{
    char mdir[PATH_MAX];
    char staging[PATH_MAX];
    char apath[PATH_MAX];
    char link_path[PATH_MAX + 300];
    char ysha[MD_SHA256_HEX];
    struct md_contract *c = NULL;
    struct md_contract *copy = NULL;
    struct md_version *champion = NULL;
    struct md_version *v = NULL;
    struct upload_job j;
    struct mentry *e;
    const char *yaml;
    size_t yaml_len;
    bool stored = false;
    int rc;

    *answer = NULL;
    staging[0] = '\0';
    if (r->store == NULL || r->versions_dir == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: uploads need --data");
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e == NULL) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    }
    yaml = u->model_yaml != NULL ? u->model_yaml : e->yaml;
    yaml_len = u->model_yaml != NULL ? u->model_yaml_len : e->yaml_len;
    if (yaml == NULL) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_EINVAL,
                          "model.yaml: required: model '%s' has no contract to inherit", model);
    }
    rc = md_contract_parse(yaml, yaml_len, model, &c, err);
    if (rc != MD_OK) {
        md_err_prefix(err, "model.yaml: ");
        goto out;
    }
    if (md_registry_acquire(r->reg, model, NULL, &champion, err) == MD_OK) {
        rc = md_contract_accepts(c, champion->contract, err);
        md_version_unref(champion);
        if (rc != MD_OK) {
            md_err_prefix(err, "model.yaml: not compatible with the champion's contract: ");
            goto out;
        }
    }
    md_err_clear(err);
    /* The artifact into the artifact store, then a staging directory that
     * holds the version as it will be loaded. */
    if ((size_t)snprintf(mdir, sizeof(mdir), "%s/%s", r->versions_dir, model) >= sizeof(mdir) ||
        (size_t)snprintf(staging, sizeof(staging), "%s/.upload-%.16s-%lld", mdir, u->sha256,
                         (long long)md_now_ns()) >= sizeof(staging)) {
        rc = md_err_set(err, MD_EINVAL, "model '%s': path too long", model);
        goto out;
    }
    if ((mkdir(r->versions_dir, 0750) != 0 && errno != EEXIST) ||
        (mkdir(mdir, 0750) != 0 && errno != EEXIST) || mkdir(staging, 0750) != 0) {
        rc = md_err_set(err, MD_EIO, "%s: %s", staging, strerror(errno));
        goto out;
    }
    rc = md_store_artifact_put(r->store, u->path, u->sha256, err);
    if (rc == MD_OK) {
        stored = true;
        rc = md_store_artifact_path(r->store, u->sha256, apath, sizeof(apath), err);
    }
    if (rc == MD_OK) {
        (void)snprintf(link_path, sizeof(link_path), "%s/%s", staging, c->artifact);
        if (symlink(apath, link_path) != 0)
            rc = md_err_set(err, MD_EIO, "%s: %s", link_path, strerror(errno));
    }
    if (rc == MD_OK) {
        (void)snprintf(link_path, sizeof(link_path), "%s/model.yaml", staging);
        rc = write_synced(link_path, yaml, yaml_len, err);
    }
    if (rc == MD_OK && u->profile != NULL) {
        (void)snprintf(link_path, sizeof(link_path), "%s/profile.json", staging);
        rc = write_synced(link_path, u->profile, u->profile_len, err);
    }
    if (rc == MD_OK)
        rc = sync_dir(staging, err);
    if (rc != MD_OK)
        goto out;
    /* It must load with its engine and pass its contract's checks before it exists. */
    rc = md_contract_parse(yaml, yaml_len, model, &copy, err);
    if (rc == MD_OK)
        rc = md_version_load(staging, 1, copy, NULL, &v, err);
    if (rc != MD_OK) {
        md_err_prefix(err, "artifact: does not load: ");
        rc = MD_EINVAL;
        goto out;
    }
    md_version_unref(v);
    md_sha256_hex(yaml, yaml_len, ysha);
    memset(&j, 0, sizeof(j));
    j.v.model = model;
    j.v.version = 0;
    j.v.sha256 = u->sha256;
    j.v.size = (int64_t)u->size;
    j.v.created_ms = md_wall_ms();
    j.v.source = u->source != 0 ? u->source : MD_SOURCE_UPLOAD;
    j.v.engine = c->backend;
    j.v.artifact = c->artifact;
    j.v.metadata = u->metadata != NULL ? u->metadata : "{}";
    j.v.contract = yaml;
    j.v.contract_sha256 = ysha;
    j.staging = staging;
    j.r = r;
    rc = md_store_call(r->store, run_upload, &j, err);
    if (rc != MD_OK)
        goto out;
    j.v.version = j.number;
    add_reg(e, new_info(&j.v), false);
    (void)md_repo__rescan(r, e, err); /* listed, loaded once a policy or an alias names it */
    md_err_clear(err);
    md_log_kv(MD_LOG_INFO, "version registered", "model", model, "sha256", u->sha256, "source",
              md_store_source_name(j.v.source), MD_KV_END);
    {
        struct md_buf b;

        md_buf_init(&b, (size_t)1 << 20);
        (void)md_buf_puts(&b, "{\"model\":");
        (void)md_buf_json_str(&b, model, strlen(model));
        (void)md_buf_printf(&b,
                            ",\"version\":\"%lld\",\"sha256\":\"%s\",\"size\":%llu,\"source\":"
                            "\"%s\",\"engine\":\"%s\",\"contract_sha256\":\"%s\",\"state\":"
                            "\"registered\"}",
                            (long long)j.number, u->sha256, (unsigned long long)u->size,
                            md_store_source_name(j.v.source), c->backend, ysha);
        if (md_buf_putc(&b, '\0') == MD_OK)
            *answer = md_buf_detach(&b, NULL);
        md_buf_release(&b);
    }
out:
    if (rc != MD_OK) {
        remove_staging(staging[0] != '\0' ? staging : "");
        if (stored)
            drop_artifact(r, u->sha256);
    }
    md_contract_free(c);
    pthread_mutex_unlock(&r->scan_lock);
    if (rc == MD_OK && *answer == NULL)
        return md_err_set(err, MD_ENOMEM, "out of memory for the answer");
    return rc;
}

/* ---- models created through the API -------------------------------------------- */

struct model_job {
    const char *model;
    const char *yaml;
    bool existed;
};

static int run_model(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct model_job *j = ctx;
    char details[128];
    int rc = md_store_tx_model_put(tx, j->model, j->yaml, err);

    if (rc != MD_OK)
        return rc;
    (void)snprintf(details, sizeof(details), "{\"created\":%s}", j->existed ? "false" : "true");
    return event(tx, j->model, j->existed ? "model_updated" : "model_created", details, err,
                 j->existed ? "model.yaml replaced through the API"
                            : "model created through the API");
}

int md_repo_put_model(struct md_repo *r, const char *model, const char *yaml, size_t len,
                      char **answer, struct md_err *err)
{
    char mdir[PATH_MAX];
    struct md_contract *c = NULL;
    struct model_job j;
    struct mentry *e;
    struct stat st;
    char *text;
    int rc;

    *answer = NULL;
    if (r->store == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: models created through the API need --data");
    if (!md_repo__valid_name(model))
        return md_err_set(err, MD_EINVAL,
                          "model: '%.64s' is not a model name ([A-Za-z0-9_.-], not starting "
                          "with '.', at most 128 characters)",
                          model);
    if ((size_t)snprintf(mdir, sizeof(mdir), "%s/%s", r->dir, model) >= sizeof(mdir))
        return md_err_set(err, MD_EINVAL, "model '%.64s': name too long", model);
    text = md_xmalloc(len + 1);
    memcpy(text, yaml, len);
    text[len] = '\0';
    rc = md_contract_parse(text, len, model, &c, err);
    if (rc != MD_OK) {
        free(text);
        md_err_prefix(err, "model.yaml: ");
        return MD_EINVAL;
    }
    md_contract_free(c);
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if ((e != NULL && !e->api_model) || stat(mdir, &st) == 0) {
        pthread_mutex_unlock(&r->scan_lock);
        free(text);
        return md_err_set(err, MD_ECONFLICT,
                          "model '%s' is defined by the repository directory: change its "
                          "model.yaml there",
                          model);
    }
    j.model = model;
    j.yaml = text;
    j.existed = e != NULL;
    rc = md_store_call(r->store, run_model, &j, err);
    if (rc == MD_OK) {
        if (e == NULL) {
            /* A seed of its own: add_entry takes what the store holds. */
            struct mentry *s = seed_of(r, model);

            s->api_model = true;
            s->yaml = text;
            s->yaml_len = len;
            text = NULL;
            e = md_repo__add(r, model);
        } else {
            free(e->yaml);
            e->yaml = text;
            e->yaml_len = len;
            text = NULL;
        }
        (void)md_repo__rescan(r, e, err);
        md_err_clear(err);
        md_log_kv(MD_LOG_INFO, "model stored through the API", "model", model, MD_KV_END);
    }
    pthread_mutex_unlock(&r->scan_lock);
    free(text);
    if (rc != MD_OK)
        return rc;
    {
        struct md_buf b;

        md_buf_init(&b, 4096);
        (void)md_buf_puts(&b, "{\"model\":");
        (void)md_buf_json_str(&b, model, strlen(model));
        (void)md_buf_printf(&b, ",\"created\":%s}", j.existed ? "false" : "true");
        if (md_buf_putc(&b, '\0') == MD_OK)
            *answer = md_buf_detach(&b, NULL);
        md_buf_release(&b);
    }
    return *answer != NULL ? MD_OK : md_err_set(err, MD_ENOMEM, "out of memory for the answer");
}
