/* SPDX-License-Identifier: MIT */
/*
 * repo.c: the scanner of the model repository. It reads the directory, loads
 * versions (engines) and decides what serves; it leaves what requests read to
 * the registry (serve/registry.c).
 *
 * The scanner (one scan, load or unload at a time, under scan_lock; a scan's
 * models on parallel workers, one model per worker) is the only writer of
 * its model entries, which nothing else reads but md_repo_foreach_skipped
 * (under skips_lock). It builds a model's new version list aside, loading
 * engines with no lock held, and at the end of each model's update publishes
 * the model's new snapshot in the registry, which drops the old snapshot's
 * references once no request can see it.
 */
#include "serve/repo.h"
#include "serve/registry.h"
#include "serve/repo_int.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sys.h"
#include "watch/metrics.h"

#include <assert.h>
#include <dirent.h>
#include <malloc.h>
#include <stdatomic.h>
#include <unistd.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#define MODEL_YAML "model.yaml"
#define UNLOADED   MD_REGISTRY_UNLOADED
#define YAML_MAX   ((size_t)4 << 20)

bool md_repo__valid_name(const char *s)
{
    size_t i;

    if (s[0] == '\0' || s[0] == '.' || strlen(s) > 128)
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Why a directory in a model's directory is not a version: for the log. */
static const char *not_a_version(const char *name, char *buf, size_t size)
{
    size_t digits = strspn(name, "0123456789");
    size_t zeros = strspn(name, "0");

    if (name[digits] != '\0' || digits == 0)
        return "not a version number: version directories are named 1, 2, 3, ...";
    if (zeros == digits)
        return "version 0: version numbers start at 1";
    if (zeros > 0) {
        (void)snprintf(buf, size, "leading zero: the version directory would be '%.40s'",
                       name + zeros); /* a message: cut short if need be */
        return buf;
    }
    return "version number longer than 18 digits";
}

/* "<dir>/<name>" in buf; false when it does not fit. */
static bool join_path(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);

    return n >= 0 && (size_t)n < size;
}

static void skips_clear(struct skips *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->v[i].name);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void skips_add(struct skips *s, const char *name, bool dir, const char *reason)
{
    struct skip *k;

    s->v = md_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    k = &s->v[s->n++];
    k->name = md_xstrdup(name);
    k->dir = dir;
    (void)snprintf(k->reason, sizeof(k->reason), "%s", reason); /* reasons are short */
}

static int cmp_skip(const void *a, const void *b)
{
    return strcmp(((const struct skip *)a)->name, ((const struct skip *)b)->name);
}

/*
 * Sorts fresh, logs each directory that *live (the last scan's) did not have
 * (files are passed over in silence), and swaps fresh into *live under
 * skips_lock; frees the old list. model: the model directory they are in,
 * NULL at the top level.
 */
static void skips_publish(struct md_repo *r, const char *model, struct skips *live,
                          struct skips *fresh)
{
    struct skips old;
    size_t i;

    if (fresh->n > 1)
        qsort(fresh->v, fresh->n, sizeof(*fresh->v), cmp_skip);
    for (i = 0; i < fresh->n; i++) {
        const struct skip *k = &fresh->v[i];

        if (!k->dir ||
            (live->n > 0 && bsearch(k, live->v, live->n, sizeof(*live->v), cmp_skip) != NULL))
            continue;
        if (model != NULL)
            md_log_kv(MD_LOG_WARN, "directory ignored", "model", model, "entry", k->name, "reason",
                      k->reason, MD_KV_END);
        else
            md_log_kv(MD_LOG_WARN, "directory ignored", "entry", k->name, "reason", k->reason,
                      MD_KV_END);
    }
    pthread_mutex_lock(&r->skips_lock);
    old = *live;
    *live = *fresh;
    pthread_mutex_unlock(&r->skips_lock);
    skips_clear(&old);
    fresh->v = NULL;
    fresh->n = 0;
}

static bool stat_sig(const char *path, struct sig *out)
{
    struct stat st;

    memset(out, 0, sizeof(*out));
    if (stat(path, &st) != 0)
        return false;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->size = (int64_t)st.st_size;
    out->ino = (uint64_t)st.st_ino;
    return true;
}

static bool sig_eq(const struct sig *a, const struct sig *b)
{
    return a->mtime_ns == b->mtime_ns && a->size == b->size && a->ino == b->ino;
}

static struct mentry *add_entry(struct md_repo *r, const char *name);

int md_repo_open(const char *dir, struct md_repo **out, struct md_err *err)
{
    return md_repo_open_store(dir, NULL, NULL, out, err);
}

int md_repo_open_store(const char *dir, struct md_store *store, const char *data_dir,
                       struct md_repo **out, struct md_err *err)
{
    struct md_repo *r;
    struct stat st;
    DIR *d;

    *out = NULL;
    if (stat(dir, &st) != 0)
        return md_err_set(err, MD_EIO, "repository '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return md_err_set(err, MD_EINVAL, "repository '%s': not a directory", dir);
    d = opendir(dir);
    if (d == NULL)
        return md_err_set(err, MD_EIO, "repository '%s': %s", dir, strerror(errno));
    closedir(d);
    r = md_xcalloc(1, sizeof(*r));
    r->dir = md_xstrdup(dir);
    r->metrics = md_metrics_new();
    r->reg = md_registry_new();
    pthread_mutex_init(&r->scan_lock, NULL);
    pthread_mutex_init(&r->skips_lock, NULL);
    r->store = store;
    if (data_dir != NULL) {
        size_t n = strlen(data_dir) + sizeof("/versions");

        r->versions_dir = md_xmalloc(n);
        (void)snprintf(r->versions_dir, n, "%s/versions", data_dir);
    }
    if (store != NULL) {
        int rc = md_repo__load_store(r, err);
        size_t i = 0;

        if (rc != MD_OK) {
            md_repo_free(r);
            return rc;
        }
        /* Models created through the API have no directory: their entries
         * come from the store (add_entry takes the seed off the list). */
        while (i < r->n_seeds) {
            if (r->seeds[i]->api_model)
                (void)add_entry(r, r->seeds[i]->name);
            else
                i++;
        }
    }
    *out = r;
    return MD_OK;
}

static void free_recs(struct vrec *recs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        md_version_unref(recs[i].live);
    free(recs);
}

static void free_entry(struct mentry *e)
{
    md_repo__free_traffic(e);
    free_recs(e->recs, e->n_recs);
    skips_clear(&e->skips);
    free(e->yaml);
    free(e->name);
    free(e);
}

void md_repo_free(struct md_repo *r)
{
    size_t i;

    if (r == NULL)
        return;
    /* The snapshots' references go first: the last unref of a version detaches
     * its statistics from the registry of metrics. */
    md_registry_free(r->reg);
    for (i = 0; i < r->n_models; i++)
        free_entry(r->models[i]);
    free(r->models);
    for (i = 0; i < r->n_seeds; i++)
        free_entry(r->seeds[i]);
    free(r->seeds);
    skips_clear(&r->skips);
    md_metrics_free(r->metrics);
    pthread_mutex_destroy(&r->skips_lock);
    pthread_mutex_destroy(&r->scan_lock);
    free(r->versions_dir);
    free(r->dir);
    free(r);
}

struct md_metrics *md_repo_metrics(struct md_repo *r)
{
    return r->metrics;
}

static int cmp_entry_name(const void *key, const void *elem)
{
    return strcmp(key, (*(struct mentry *const *)elem)->name);
}

/* The scanner's entry of model name, or NULL (models[] is sorted by name). */
static struct mentry *find_entry(struct md_repo *r, const char *name)
{
    struct mentry **e;

    if (r->n_models == 0)
        return NULL;
    e = bsearch(name, r->models, r->n_models, sizeof(struct mentry *), cmp_entry_name);
    return e != NULL ? *e : NULL;
}

/*
 * Publishes what requests and listings see of model e: its rows, its
 * model-level reason, whether it is unloaded. Returns once the snapshot it
 * replaces is freed (or at once when nothing changed).
 */
static void publish_snapshot(struct md_repo *r, const struct mentry *e)
{
    struct md_snapshot *s = md_snapshot_new(e->name, e->n_recs);
    size_t i;

    s->unloaded = e->unloaded;
    s->cause = e->cause;
    memcpy(s->reason, e->reason, sizeof(s->reason)); /* same size */
    for (i = 0; i < e->n_recs; i++) {
        struct md_snapshot_row *row = &s->rows[i];
        const struct vrec *rec = &e->recs[i];

        const struct treg *reg = md_repo__reg(e, rec->number);

        row->version = rec->number;
        row->info = reg != NULL ? reg->info : NULL;
        row->archived = reg != NULL && reg->archived;
        row->state = rec->state;
        row->cause = rec->cause;
        row->live = rec->live;
        if (row->live != NULL)
            md_version_ref(row->live);
        memcpy(row->reason, rec->reason, sizeof(row->reason)); /* same size */
    }
    md_repo__snapshot_traffic(e, s);
    md_registry_publish(r->reg, s);
}

void md_repo__publish(struct md_repo *r, const struct mentry *e)
{
    publish_snapshot(r, e);
}

struct mentry *md_repo__find(struct md_repo *r, const char *name)
{
    return find_entry(r, name);
}

struct mentry *md_repo__add(struct md_repo *r, const char *name)
{
    return add_entry(r, name);
}

/* Inserts a new entry, served with no versions until its first update
 * (caller holds scan_lock). */
static struct mentry *add_entry(struct md_repo *r, const char *name)
{
    struct mentry *e = md_xcalloc(1, sizeof(*e));
    size_t pos = 0;

    e->name = md_xstrdup(name);
    pthread_mutex_lock(&r->skips_lock);
    while (pos < r->n_models && strcmp(r->models[pos]->name, name) < 0)
        pos++;
    r->models = md_xrealloc(r->models, (r->n_models + 1) * sizeof(struct mentry *));
    memmove(r->models + pos + 1, r->models + pos, (r->n_models - pos) * sizeof(struct mentry *));
    r->models[pos] = e;
    r->n_models++;
    pthread_mutex_unlock(&r->skips_lock);
    md_repo__seed(r, e);
    publish_snapshot(r, e);
    return e;
}

static void remove_entry(struct md_repo *r, struct mentry *e)
{
    size_t i;

    (void)md_registry_remove(r->reg, e->name); /* every entry has a snapshot */
    pthread_mutex_lock(&r->skips_lock);
    for (i = 0; i < r->n_models; i++) {
        if (r->models[i] == e) {
            memmove(r->models + i, r->models + i + 1,
                    (r->n_models - i - 1) * sizeof(struct mentry *));
            r->n_models--;
            break;
        }
    }
    pthread_mutex_unlock(&r->skips_lock);
    free_entry(e);
}

/* Swaps in a new version list (the scanner's, published by the caller); drops
 * the old list's references: the published snapshot holds its own. */
static void set_recs(struct mentry *e, struct vrec *recs, size_t n)
{
    free_recs(e->recs, e->n_recs);
    e->recs = recs;
    e->n_recs = n;
}

/* model.yaml's text, or the reason it cannot be read (no path: the caller names the model). */
static int read_file(const char *path, size_t max, char **out, size_t *len, struct md_err *err)
{
    char ebuf[128];
    struct md_read_fail f;

    if (md_read_file(path, max, out, len, &f, err) == MD_OK)
        return MD_OK;
    switch (f.why) {
    case MD_READ_OPEN:
        return md_err_set(err, MD_EIO, "%s", strerror_r(f.errnum, ebuf, sizeof(ebuf)));
    case MD_READ_STAT:
    case MD_READ_DIR:
    case MD_READ_SPECIAL:
        return md_err_set(err, MD_EIO, "not a regular file");
    case MD_READ_TOO_BIG:
        return md_err_set(err, MD_ETOOBIG, "larger than %zu bytes", max);
    case MD_READ_NOMEM:
        return md_err_set(err, MD_ENOMEM, "out of memory for %llu bytes",
                          (unsigned long long)f.size);
    case MD_READ_IO:
        break;
    }
    return md_err_set(err, MD_EIO, "read error");
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_rec(const void *a, const void *b)
{
    int64_t x = ((const struct vrec *)a)->number;
    int64_t y = ((const struct vrec *)b)->number;

    return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Version numbers present under mdir, newest first; the other entries, but
 * hidden ones (.git) and model.yaml, go to skipped with the reason.
 */
static size_t list_versions(const char *mdir, int64_t **out, struct skips *skipped)
{
    DIR *d = opendir(mdir);
    struct dirent *de;
    int64_t *v = NULL;
    size_t n = 0;
    size_t cap = 0;

    *out = NULL;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        char why[96];
        struct stat st;
        int64_t num = md_version_number(de->d_name);

        if (de->d_name[0] == '.' || strcmp(de->d_name, MODEL_YAML) == 0)
            continue;
        if (!join_path(path, sizeof(path), mdir, de->d_name)) {
            skips_add(skipped, de->d_name, false, "path too long");
            continue;
        }
        if (stat(path, &st) != 0) {
            skips_add(skipped, de->d_name, false, strerror(errno));
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            skips_add(skipped, de->d_name, false,
                      num >= 1 ? "a version is a directory, this is not one"
                               : "not model.yaml or a version directory");
            continue;
        }
        if (num < 1) {
            skips_add(skipped, de->d_name, true, not_a_version(de->d_name, why, sizeof(why)));
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            v = md_xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = num;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_desc);
    *out = v;
    return n;
}

static const struct vrec *find_rec(const struct vrec *recs, size_t n, int64_t number)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (recs[i].number == number)
            return &recs[i];
    return NULL;
}

static bool policy_lists(const struct md_version_policy *p, int64_t number)
{
    size_t i;

    for (i = 0; i < p->n_versions; i++)
        if (p->versions[i] == number)
            return true;
    return false;
}

/* Whether the version policy of c selects version num, loaded versions above it. */
static bool policy_wants(const struct md_contract *c, int64_t num, unsigned loaded)
{
    switch (c->policy.kind) {
    case MD_POLICY_ALL:
        return true;
    case MD_POLICY_SPECIFIC:
        return policy_lists(&c->policy, num);
    case MD_POLICY_LATEST:
    default:
        return loaded < c->policy.latest;
    }
}

/*
 * Sets model e's reason and its cause, for the snapshot published at the
 * end of the model's update.
 */
static void set_model_reason(struct mentry *e, enum md_version_cause cause, const char *prefix,
                             const char *msg)
{
    (void)snprintf(e->reason, sizeof(e->reason), "%s%s", prefix, msg); /* cut short if need be */
    e->cause = cause;
}

/*
 * Sets model e's problem (cause and reason "model.yaml: <msg>", without
 * doubling the prefix of a parser message that has it) and logs it with
 * what, counting a scan error, unless it is the one logged last.
 */
static void model_problem(struct md_repo *r, struct mentry *e, const char *what, const char *msg)
{
    bool serving = false;
    size_t i;

    const char *prefix =
        strncmp(msg, MODEL_YAML ":", sizeof(MODEL_YAML)) == 0 ? "" : "model.yaml: ";

    set_model_reason(e, MD_CAUSE_MODEL_CONFIG, prefix, msg);
    if (strcmp(e->logged, e->reason) == 0)
        return;
    (void)snprintf(e->logged, sizeof(e->logged), "%s", e->reason); /* same size */
    md_metrics_scan_error(r->metrics);
    /* The scanner is the only writer of recs: read without the lock. */
    for (i = 0; i < e->n_recs; i++)
        serving |= e->recs[i].live != NULL;
    md_log_kv(MD_LOG_ERROR, what, "model", e->name, "reason", e->reason, "versions_serving",
              serving ? "kept" : "none", MD_KV_END);
}

/*
 * The contract of model e from mdir's model.yaml into *out, reading the file
 * again when it changed on disk (new text bumps e->yaml_gen). MD_EINVAL,
 * with e->reason set and the versions left serving, when the file is missing
 * or unusable; an unchanged file known to be broken is refused at once
 * unless retry.
 */
static int load_yaml(struct md_repo *r, struct mentry *e, const char *mdir, bool retry,
                     struct md_contract **out, struct md_err *err)
{
    char ypath[PATH_MAX];
    struct sig ysig;
    struct md_contract *c = NULL;
    struct md_err lerr;
    bool found;
    int rc;

    *out = NULL;
    md_err_clear(&lerr);
    if (e->api_model) {
        /* Its model.yaml is the one stored with it through the API. */
        rc = md_contract_parse(e->yaml, e->yaml_len, e->name, &c, &lerr);
        if (rc != MD_OK) {
            model_problem(r, e, "model.yaml rejected", lerr.msg);
            return md_err_set(err, MD_EINVAL, "model '%s': %s", e->name, e->reason);
        }
        *out = c;
        return MD_OK;
    }
    found = join_path(ypath, sizeof(ypath), mdir, MODEL_YAML);
    if (!found)
        errno = ENAMETOOLONG;
    else
        found = stat_sig(ypath, &ysig);
    if (!found) {
        model_problem(r, e, "model not loadable", strerror(errno));
        e->yaml_bad = false;
        return md_err_set(err, MD_EINVAL, "model '%s': %s", e->name, e->reason);
    }
    if (e->yaml_bad && sig_eq(&ysig, &e->yaml_sig) && !retry) {
        /* Unchanged and still broken: not read, nor logged, again. */
        return md_err_set(err, MD_EINVAL, "model '%s': %s", e->name, e->reason);
    }
    if (e->yaml == NULL || e->yaml_bad || !sig_eq(&ysig, &e->yaml_sig)) {
        char *text = NULL;
        size_t len = 0;

        rc = read_file(ypath, YAML_MAX, &text, &len, &lerr);
        if (rc == MD_OK) {
            rc = md_contract_parse(text, len, e->name, &c, &lerr);
            if (rc != MD_OK)
                free(text);
        }
        e->yaml_sig = ysig;
        if (rc != MD_OK) {
            e->yaml_bad = true;
            model_problem(r, e, "model.yaml rejected", lerr.msg);
            return md_err_set(err, MD_EINVAL, "model '%s': %s", e->name, e->reason);
        }
        assert(text != NULL); /* read_file succeeded */
        e->yaml_bad = false;
        if (e->yaml == NULL || e->yaml_len != len || memcmp(e->yaml, text, len) != 0)
            e->yaml_gen++;
        free(e->yaml);
        e->yaml = text;
        e->yaml_len = len;
    }
    if (e->reason[0] != '\0' || e->cause != MD_CAUSE_NONE)
        set_model_reason(e, MD_CAUSE_NONE, "", "");
    e->logged[0] = '\0';
    if (c == NULL) {
        rc = md_contract_parse(e->yaml, e->yaml_len, e->name, &c, &lerr);
        if (rc != MD_OK) {
            model_problem(r, e, "model.yaml rejected", lerr.msg);
            return md_err_set(err, MD_EINVAL, "model '%s': %s", e->name, e->reason);
        }
    }
    *out = c;
    return MD_OK;
}

/* What load_version did with one version. */
enum outcome { KEPT_FAILED, LOADED, KEPT_READY, FAILED };

/*
 * Brings version num of model e (contract c) up to date in *nr, from its
 * previous record old (NULL if none): keeps what is unchanged, loads what is
 * new or changed (or failed before, when retry), and logs what it tried.
 * On a failure, msg (size 256) holds the reason.
 */
static enum outcome load_version(struct md_repo *r, struct mentry *e, const struct md_contract *c,
                                 int64_t num, const struct vrec *old, bool retry, struct vrec *nr,
                                 char *msg)
{
    char vdir[PATH_MAX];
    char apath[PATH_MAX];
    char vs[24];
    struct sig asig;
    struct md_contract *vc;
    struct md_err lerr;
    int rc;

    md_err_clear(&lerr);
    (void)snprintf(vs, sizeof(vs), "%lld", (long long)num); /* fits */
    /* The directory list_versions found this version in: it fits. */
    (void)snprintf(vdir, sizeof(vdir), "%s/%s/%s", r->dir, e->name, vs);
    /* An artifact path too long is no file; md_version_load says so below. */
    if (!join_path(apath, sizeof(apath), vdir, c->artifact))
        apath[0] = '\0';
    stat_sig(apath, &asig);
    if (old != NULL && old->live != NULL && sig_eq(&old->sig, &asig) &&
        old->yaml_gen == e->yaml_gen) {
        *nr = *old;
        md_version_ref(nr->live);
        return KEPT_READY;
    }
    if (old != NULL && old->failed && !retry && sig_eq(&old->sig, &asig) &&
        old->yaml_gen == e->yaml_gen) {
        *nr = *old;
        (void)snprintf(msg, 256, "%s", old->reason); /* same size */
        return KEPT_FAILED;
    }
    rc = md_contract_parse(e->yaml, e->yaml_len, e->name, &vc, &lerr);
    if (rc == MD_OK)
        rc = md_version_load(vdir, num, vc, r->metrics, &nr->live, &lerr);
    nr->sig = asig;
    nr->yaml_gen = e->yaml_gen;
    if (rc == MD_OK) {
        nr->state = MD_VS_READY;
        nr->failed = false;
        if (nr->live->warning[0] != '\0') {
            nr->cause = MD_CAUSE_WARNING;
            (void)snprintf(nr->reason, sizeof(nr->reason), "%s", nr->live->warning); /* fits */
            md_log_kv(MD_LOG_WARN, "version loaded with a warning", "model", e->name, "version", vs,
                      "backend", c->backend, "warning", nr->reason, MD_KV_END);
        } else {
            nr->cause = MD_CAUSE_NONE;
            nr->reason[0] = '\0';
            md_log_kv(MD_LOG_INFO, "version loaded", "model", e->name, "version", vs, "backend",
                      c->backend, MD_KV_END);
        }
        return LOADED;
    }
    md_metrics_scan_error(r->metrics);
    md_log_kv(MD_LOG_ERROR, "version failed to load", "model", e->name, "version", vs, "reason",
              lerr.msg, MD_KV_END);
    (void)snprintf(msg, 256, "%s", lerr.msg); /* same size */
    if (old != NULL && old->live != NULL) {
        /* Changed files that do not load: keep serving what loaded before. */
        *nr = *old;
        md_version_ref(nr->live);
        nr->cause = MD_CAUSE_RELOAD_FAILED;
        (void)snprintf(nr->reason, sizeof(nr->reason),
                       "reload failed, previous files still serving: %s", lerr.msg);
        nr->sig = asig;
        nr->yaml_gen = e->yaml_gen;
        return KEPT_READY;
    }
    nr->failed = true;
    nr->cause = MD_CAUSE_LOAD_FAILED;
    (void)snprintf(nr->reason, sizeof(nr->reason), "%s", lerr.msg);
    return FAILED;
}

/*
 * Appends to recs (n_recs of them) the versions of e the daemon keeps
 * (uploaded ones) that the directory has not listed: loaded when a policy
 * or an alias names them, once (immutable: loaded or failed, kept so).
 * Returns the array, grown.
 */
static struct vrec *add_stored(struct md_repo *r, struct mentry *e, struct vrec *recs,
                               size_t *n_out, bool retry, bool *any_ready)
{
    size_t n_recs = *n_out;
    char msg[256];
    size_t i;

    for (i = 0; i < e->n_regs; i++) {
        const struct treg *g = &e->regs[i];
        int64_t num = g->info->version;
        const struct vrec *old;
        struct vrec *nr;

        if (g->info->source == MD_SOURCE_REPOSITORY || find_rec(recs, n_recs, num) != NULL)
            continue;
        recs = md_xrealloc(recs, (n_recs + 1) * sizeof(*recs));
        nr = &recs[n_recs++];
        memset(nr, 0, sizeof(*nr));
        nr->number = num;
        nr->state = MD_VS_UNAVAILABLE;
        if (g->archived) {
            nr->cause = MD_CAUSE_ARCHIVED;
            (void)snprintf(nr->reason, sizeof(nr->reason), "archived");
            continue;
        }
        if (!md_repo__pinned(e, num)) {
            nr->cause = MD_CAUSE_POLICY;
            (void)snprintf(nr->reason, sizeof(nr->reason),
                           "registered: loaded when a traffic policy or an alias names it");
            continue;
        }
        old = find_rec(e->recs, e->n_recs, num);
        if (old != NULL && (old->live != NULL || (old->failed && !retry))) {
            *nr = *old; /* immutable: loaded once, or failed once */
            if (nr->live != NULL)
                md_version_ref(nr->live);
            if (nr->live != NULL)
                *any_ready = true;
            continue;
        }
        if (md_repo__load_stored(r, e, num, &nr->live, msg, sizeof(msg)) == MD_OK) {
            nr->state = MD_VS_READY;
            *any_ready = true;
        } else {
            nr->failed = true;
            nr->cause = MD_CAUSE_LOAD_FAILED;
            (void)snprintf(nr->reason, sizeof(nr->reason), "%s", msg); /* same size */
        }
    }
    *n_out = n_recs;
    return recs;
}

/*
 * Brings the scanner's entry of one model up to date with the disk. retry:
 * also retry versions that failed before with unchanged files (an explicit
 * load). Returns MD_OK, or an error when the model.yaml is unusable or no
 * version could load.
 */
static int update_model(struct md_repo *r, struct mentry *e, bool retry, struct md_err *err)
{
    char mdir[PATH_MAX];
    char msg[256];
    struct md_contract *c;
    struct vrec *recs;
    struct skips skipped = {NULL, 0};
    int64_t *nums = NULL;
    size_t n_nums;
    size_t n_recs = 0;
    size_t i;
    unsigned loaded = 0;
    int rc;
    bool any_ready = false;
    char first_fail[300] = "";
    int64_t newest_registered = 0;

    if (!join_path(mdir, sizeof(mdir), r->dir, e->name))
        return md_err_set(err, MD_EINVAL, "model '%s': path too long", e->name);
    n_nums = e->api_model ? 0 : list_versions(mdir, &nums, &skipped);
    skips_publish(r, e->name, &e->skips, &skipped);
    rc = load_yaml(r, e, mdir, retry, &c, err);
    if (rc != MD_OK) {
        free(nums);
        return rc;
    }
    assert(c != NULL); /* load_yaml succeeded */
    recs = md_xcalloc(n_nums + 1, sizeof(*recs));
    for (i = 0; i < n_nums; i++) {
        struct vrec *nr = &recs[n_recs++];

        const struct vrec *old = find_rec(e->recs, e->n_recs, nums[i]);
        const struct treg *reg = md_repo__reg(e, nums[i]);
        char sha[sizeof(nr->sha256)];
        struct sig sha_sig;

        memset(nr, 0, sizeof(*nr));
        nr->number = nums[i];
        nr->state = MD_VS_UNAVAILABLE;
        if (reg != NULL && reg->archived) {
            nr->cause = MD_CAUSE_ARCHIVED;
            (void)snprintf(nr->reason, sizeof(nr->reason), "archived");
            continue;
        }
        if (r->store != NULL) {
            char vdir[PATH_MAX];
            char apath[PATH_MAX];
            struct sig asig;
            bool fresh = false;

            /* The directory list_versions found this version in: it fits. */
            (void)snprintf(vdir, sizeof(vdir), "%s/%lld", mdir, (long long)nums[i]);
            if (!join_path(apath, sizeof(apath), vdir, c->artifact))
                apath[0] = '\0';
            memset(&asig, 0, sizeof(asig));
            stat_sig(apath, &asig);
            /* Registered on first sight; after, its artifact must be the one
             * registered (versions are immutable). */
            if (md_repo__register(r, e, c, nums[i], apath, &asig, old, nr, true, &fresh, msg,
                                  sizeof(msg)) != MD_OK) {
                if (old != NULL && old->live != NULL) {
                    /* Changed in place: what loaded before goes on serving. */
                    memcpy(sha, nr->sha256, sizeof(sha));
                    sha_sig = nr->sha_sig;
                    *nr = *old;
                    memcpy(nr->sha256, sha, sizeof(sha));
                    nr->sha_sig = sha_sig;
                    md_version_ref(nr->live);
                    nr->cause = MD_CAUSE_CHANGED;
                    (void)snprintf(nr->reason, sizeof(nr->reason), "%s", msg); /* same size */
                    loaded++;
                    any_ready = true;
                    continue;
                }
                nr->failed = true;
                nr->cause = MD_CAUSE_CHANGED;
                (void)snprintf(nr->reason, sizeof(nr->reason), "%s", msg); /* same size */
                if (first_fail[0] == '\0')
                    (void)snprintf(first_fail, sizeof(first_fail), "version %lld: %s",
                                   (long long)nums[i], msg);
                continue;
            }
            if (fresh && nums[i] > newest_registered)
                newest_registered = nums[i];
        }
        if (!policy_wants(c, nums[i], loaded) && !md_repo__pinned(e, nums[i])) {
            nr->cause = MD_CAUSE_POLICY;
            (void)snprintf(nr->reason, sizeof(nr->reason), "not selected by the version policy");
            continue;
        }
        memcpy(sha, nr->sha256, sizeof(sha));
        sha_sig = nr->sha_sig;
        rc = load_version(r, e, c, nums[i], old, retry, nr, msg);
        memcpy(nr->sha256, sha, sizeof(sha));
        nr->sha_sig = sha_sig;
        switch (rc) {
        case LOADED:
        case KEPT_READY:
            loaded++;
            any_ready = true;
            break;
        case FAILED:
        case KEPT_FAILED:
            if (first_fail[0] == '\0')
                (void)snprintf(first_fail, sizeof(first_fail), "version %lld: %s",
                               (long long)nums[i], msg);
            break;
        }
    }
    free(nums);
    if (c->policy.kind == MD_POLICY_SPECIFIC) {
        for (i = 0; i < c->policy.n_versions; i++) {
            if (find_rec(recs, n_recs, c->policy.versions[i]) != NULL)
                continue;
            recs = md_xrealloc(recs, (n_recs + 1) * sizeof(*recs));
            memset(&recs[n_recs], 0, sizeof(recs[n_recs]));
            recs[n_recs].number = c->policy.versions[i];
            recs[n_recs].state = MD_VS_UNAVAILABLE;
            recs[n_recs].cause = MD_CAUSE_MISSING;
            (void)snprintf(recs[n_recs].reason, sizeof(recs[n_recs].reason),
                           "listed by the version policy but no such directory");
            n_recs++;
        }
    }
    recs = add_stored(r, e, recs, &n_recs, retry, &any_ready);
    qsort(recs, n_recs, sizeof(*recs), cmp_rec);
    if (n_recs == 0)
        set_model_reason(e, MD_CAUSE_NO_VERSIONS, "", "no version directories");
    e->serve_new = c->serve_new;
    md_contract_free(c);
    set_recs(e, recs, n_recs);
    md_repo__settle(r, e, newest_registered);
    if (!any_ready) {
        if (first_fail[0] != '\0')
            return md_err_set(err, MD_EINVAL, "model '%s': %s", e->name, first_fail);
        return md_err_set(err, MD_EINVAL, "model '%s': no version to load", e->name);
    }
    return MD_OK;
}

/* Brings one model up to date (update_model) and publishes what it found. */
static int scan_model(struct md_repo *r, struct mentry *e, bool retry, struct md_err *err)
{
    int rc = update_model(r, e, retry, err);

    if (e->resettle) {
        e->resettle = false;
        rc = update_model(r, e, false, err);
    }

    publish_snapshot(r, e);
    return rc;
}

int md_repo__rescan(struct md_repo *r, struct mentry *e, struct md_err *err)
{
    return scan_model(r, e, false, err);
}

/* Models to bring up to date, shared by the threads of one scan. */
struct scan_job {
    struct md_repo *r;
    struct mentry **list;
    size_t n;
    _Atomic size_t next;
    _Atomic int failed;
};

static void *scan_worker(void *arg)
{
    struct scan_job *j = arg;

    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);

        if (i >= j->n)
            break;
        if (scan_model(j->r, j->list[i], false, NULL) != MD_OK)
            atomic_fetch_add(&j->failed, 1);
    }
    return NULL;
}

/*
 * Scans the models in job on up to one thread per core: each model is
 * independent (its own entry and snapshot), and loading is where start-up
 * time goes.
 */
static void scan_parallel(struct scan_job *j)
{
    pthread_t th[8];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cores > 1 ? (size_t)cores : 1;
    size_t started = 0;
    size_t i;

    if (want > MD_ARRAY_LEN(th) + 1)
        want = MD_ARRAY_LEN(th) + 1;
    if (want > j->n)
        want = j->n;
    for (i = 1; i < want; i++)
        if (pthread_create(&th[started], NULL, scan_worker, j) == 0)
            started++;
    scan_worker(j);
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

int md_repo_scan(struct md_repo *r)
{
    struct scan_job job;
    struct skips skipped = {NULL, 0};
    DIR *d;
    struct dirent *de;
    size_t i;
    size_t cap = 0;

    pthread_mutex_lock(&r->scan_lock);
    for (i = 0; i < r->n_models; i++)
        r->models[i]->seen = false;
    d = opendir(r->dir);
    if (d == NULL) {
        const char *why = strerror(errno);

        if (strcmp(why, r->dir_logged) != 0) {
            (void)snprintf(r->dir_logged, sizeof(r->dir_logged), "%s", why); /* cut if long */
            md_metrics_scan_error(r->metrics);
            md_log_kv(MD_LOG_ERROR, "cannot read the repository", "dir", r->dir, "reason", why,
                      MD_KV_END);
        }
        pthread_mutex_unlock(&r->scan_lock);
        return 0;
    }
    r->dir_logged[0] = '\0';
    job.r = r;
    job.list = NULL;
    job.n = 0;
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        struct mentry *e;

        if (de->d_name[0] == '.')
            continue;
        if (!join_path(path, sizeof(path), r->dir, de->d_name)) {
            skips_add(&skipped, de->d_name, false, "path too long");
            continue;
        }
        if (stat(path, &st) != 0) {
            skips_add(&skipped, de->d_name, false, strerror(errno));
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            skips_add(&skipped, de->d_name, false, "not a directory: a model is a directory");
            continue;
        }
        if (!md_repo__valid_name(de->d_name)) {
            skips_add(&skipped, de->d_name, true,
                      "not a model name: letters, digits, '_', '-' and '.', at most 128");
            continue;
        }
        e = find_entry(r, de->d_name);
        if (e == NULL)
            e = add_entry(r, de->d_name);
        e->seen = true;
        if (e->unloaded)
            continue;
        if (job.n == cap) {
            cap = cap ? cap * 2 : 16;
            job.list = md_xrealloc(job.list, cap * sizeof(struct mentry *));
        }
        job.list[job.n++] = e;
    }
    closedir(d);
    skips_publish(r, NULL, &r->skips, &skipped);
    for (i = 0; i < r->n_models; i++) {
        struct mentry *e = r->models[i];

        if (!e->api_model || e->seen)
            continue;
        e->seen = true;
        if (e->unloaded)
            continue;
        if (job.n == cap) {
            cap = cap ? cap * 2 : 16;
            job.list = md_xrealloc(job.list, cap * sizeof(struct mentry *));
        }
        job.list[job.n++] = e;
    }
    scan_parallel(&job);
    free(job.list);
    for (i = 0; i < r->n_models;) {
        if (!r->models[i]->seen) {
            md_log_kv(MD_LOG_INFO, "model removed from the repository", "model", r->models[i]->name,
                      MD_KV_END);
            remove_entry(r, r->models[i]);
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&r->scan_lock);
    /* Loading parses large files: hand the parser's freed memory back. */
    malloc_trim(0);
    return atomic_load(&job.failed);
}

int md_repo_load_model(struct md_repo *r, const char *name, struct md_err *err)
{
    char path[PATH_MAX];
    struct stat st;
    struct mentry *e;
    int rc;

    if (!md_repo__valid_name(name) || !join_path(path, sizeof(path), r->dir, name))
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", name);
    pthread_mutex_lock(&r->scan_lock);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", name);
    }
    e = find_entry(r, name);
    if (e == NULL)
        e = add_entry(r, name);
    e->unloaded = false;
    rc = scan_model(r, e, true, err);
    pthread_mutex_unlock(&r->scan_lock);
    return rc;
}

int md_repo_unload_model(struct md_repo *r, const char *name, struct md_err *err)
{
    struct mentry *e;
    struct vrec *recs;
    size_t i;

    pthread_mutex_lock(&r->scan_lock);
    e = find_entry(r, name);
    if (e == NULL) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", name);
    }
    e->unloaded = true;
    recs = md_xcalloc(e->n_recs + 1, sizeof(*recs));
    for (i = 0; i < e->n_recs; i++) {
        recs[i].number = e->recs[i].number;
        recs[i].state = MD_VS_UNAVAILABLE;
        recs[i].cause = MD_CAUSE_UNLOADED;
        (void)snprintf(recs[i].reason, sizeof(recs[i].reason), UNLOADED);
    }
    set_recs(e, recs, e->n_recs);
    publish_snapshot(r, e);
    /* The next explicit load must re-read everything (but a model made
     * through the API, whose model.yaml is only in memory and the store). */
    if (!e->api_model) {
        free(e->yaml);
        e->yaml = NULL;
        e->yaml_len = 0;
    }
    pthread_mutex_unlock(&r->scan_lock);
    md_log_kv(MD_LOG_INFO, "model unloaded", "model", name, MD_KV_END);
    return MD_OK;
}

int md_repo_acquire(struct md_repo *r, const char *model, const char *version,
                    struct md_version **out, struct md_err *err)
{
    return md_registry_acquire(r->reg, model, version, out, err);
}

int md_repo_route(struct md_repo *r, const char *model, const char *version, md_route_key_fn keyfn,
                  void *keyctx, uint64_t rnd, struct md_version **out, const char **route,
                  struct md_route_copies *copies, struct md_err *err)
{
    return md_registry_route(r->reg, model, version, keyfn, keyctx, rnd, out, route, copies, err);
}

bool md_repo_has_model(struct md_repo *r, const char *model)
{
    return md_registry_has(r->reg, model);
}

int md_repo_with_snapshot(struct md_repo *r, const char *model,
                          void (*fn)(void *ctx, const struct md_snapshot *s), void *ctx,
                          struct md_err *err)
{
    if (!md_registry_with(r->reg, model, fn, ctx))
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    return MD_OK;
}

/* md_repo_foreach's callback and its context, for md_registry_foreach. */
struct rows_ctx {
    void (*fn)(void *ctx, const struct md_repo_row *row);
    void *ctx;
};

/* The rows of one snapshot: the model's own row first when it has one. */
static void snapshot_rows(void *vctx, const struct md_snapshot *s)
{
    const struct rows_ctx *rc = vctx;
    struct md_repo_row row;
    size_t j;

    row.model = s->model;
    if (s->n_rows == 0 || (s->reason[0] != '\0' && !s->unloaded)) {
        row.version = 0;
        row.state = MD_VS_UNAVAILABLE;
        if (s->unloaded) {
            row.cause = MD_CAUSE_UNLOADED;
            row.reason = UNLOADED;
        } else if (s->reason[0] != '\0') {
            row.cause = s->cause;
            row.reason = s->reason;
        } else {
            row.cause = MD_CAUSE_NO_VERSIONS;
            row.reason = "no versions";
        }
        row.live = NULL;
        row.fault = !s->unloaded;
        rc->fn(rc->ctx, &row);
    }
    for (j = 0; j < s->n_rows; j++) {
        const struct md_snapshot_row *sr = &s->rows[j];

        row.version = sr->version;
        row.state = sr->state;
        row.cause = sr->cause;
        row.reason = sr->reason;
        row.live = sr->live;
        row.fault = row.state != MD_VS_READY &&
                    (row.cause == MD_CAUSE_LOAD_FAILED || row.cause == MD_CAUSE_MISSING);
        rc->fn(rc->ctx, &row);
    }
}

void md_repo_foreach(struct md_repo *r, void (*fn)(void *ctx, const struct md_repo_row *row),
                     void *ctx)
{
    struct rows_ctx rc;

    rc.fn = fn;
    rc.ctx = ctx;
    md_registry_foreach(r->reg, snapshot_rows, &rc);
}

void md_repo_foreach_skipped(struct md_repo *r,
                             void (*fn)(void *ctx, const struct md_repo_skip *skip), void *ctx)
{
    struct md_repo_skip row;
    size_t i;
    size_t j;

    pthread_mutex_lock(&r->skips_lock);
    for (i = 0; i < r->skips.n; i++) {
        row.model = NULL;
        row.name = r->skips.v[i].name;
        row.reason = r->skips.v[i].reason;
        fn(ctx, &row);
    }
    for (i = 0; i < r->n_models; i++) {
        const struct mentry *e = r->models[i];

        for (j = 0; j < e->skips.n; j++) {
            row.model = e->name;
            row.name = e->skips.v[j].name;
            row.reason = e->skips.v[j].reason;
            fn(ctx, &row);
        }
    }
    pthread_mutex_unlock(&r->skips_lock);
}

size_t md_repo_ready_models(struct md_repo *r)
{
    return md_registry_ready_models(r->reg);
}
