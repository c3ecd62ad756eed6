/* SPDX-License-Identifier: MIT */
/*
 * registry.c: the models' snapshots, how requests find a version in them
 * with no lock, and when the writer may free what it replaced.
 *
 * Two levels of atomic pointers: g->table, an immutable sorted array of
 * entries, replaced whole (copy on write) when a model comes or goes; and in
 * each entry, snap, the model's current snapshot, replaced when its state
 * changes. A reader loads both inside one read section (util/epoch.h); a
 * writer swaps one of them under g->lock, unlocks, waits for a grace period
 * and frees the old table, entry or snapshot: no reader can hold it then
 * (the argument is in util/epoch.c). Versions are refcounted apart: a
 * snapshot holds one reference to each READY version, a request takes its
 * own inside the section and keeps it after.
 */
#include "serve/registry.h"
#include "util/epoch.h"
#include "util/intern.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdatomic.h>

/* One model. The name never changes; snap is never NULL. */
struct entry {
    char *name;
    _Atomic(struct md_snapshot *) snap;
};

/* The models, sorted by name: immutable once published. */
struct table {
    size_t n;
    struct entry *v[];
};

struct md_registry {
    _Atomic(struct table *) table; /* never NULL */
    pthread_mutex_t lock;          /* writers only: held while swapping a pointer */
};

const char *md_version_state_name(enum md_version_state s)
{
    switch (s) {
    case MD_VS_READY:
        return "READY";
    case MD_VS_UNAVAILABLE:
    default:
        return "UNAVAILABLE";
    }
}

const char *md_version_cause_name(enum md_version_cause c)
{
    switch (c) {
    case MD_CAUSE_ARCHIVED:
        return "archived";
    case MD_CAUSE_CHANGED:
        return "changed";
    case MD_CAUSE_WARNING:
        return "warning";
    case MD_CAUSE_RELOAD_FAILED:
        return "reload_failed";
    case MD_CAUSE_POLICY:
        return "policy";
    case MD_CAUSE_LOAD_FAILED:
        return "load_failed";
    case MD_CAUSE_MISSING:
        return "missing";
    case MD_CAUSE_UNLOADED:
        return "unloaded";
    case MD_CAUSE_MODEL_CONFIG:
        return "model_config";
    case MD_CAUSE_NO_VERSIONS:
        return "no_versions";
    case MD_CAUSE_NONE:
    default:
        return "";
    }
}

int64_t md_version_number(const char *s)
{
    int64_t v = 0;
    size_t i;

    if (s[0] < '1' || s[0] > '9')
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 18)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static struct table *table_new(size_t n)
{
    struct table *t = md_xmalloc(sizeof(*t) + n * sizeof(struct entry *));

    t->n = n;
    return t;
}

struct md_registry *md_registry_new(void)
{
    struct md_registry *g = md_xcalloc(1, sizeof(*g));

    atomic_init(&g->table, table_new(0));
    pthread_mutex_init(&g->lock, NULL);
    return g;
}

struct md_snapshot *md_snapshot_new(const char *model, size_t n_rows)
{
    struct md_snapshot *s = md_xcalloc(1, sizeof(*s));

    s->model = md_xstrdup(model);
    s->n_rows = n_rows;
    s->rows = md_xcalloc(n_rows + 1, sizeof(*s->rows));
    s->ready = md_xcalloc(n_rows + 1, sizeof(struct md_version *));
    return s;
}

void md_snapshot_free(struct md_snapshot *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n_rows; i++)
        md_version_unref(s->rows[i].live);
    free(s->aliases);
    free(s->rows);
    free(s->ready);
    free(s->model);
    free(s);
}

static int cmp_alias(const void *a, const void *b)
{
    return strcmp(((const struct md_alias *)a)->name, ((const struct md_alias *)b)->name);
}

void md_snapshot_set_aliases(struct md_snapshot *s, const struct md_alias *aliases, size_t n)
{
    free(s->aliases);
    s->aliases = md_xcalloc(n + 1, sizeof(*s->aliases));
    if (n > 0)
        memcpy(s->aliases, aliases, n * sizeof(*aliases));
    s->n_aliases = n;
    qsort(s->aliases, n, sizeof(*s->aliases), cmp_alias);
    s->champion = md_snapshot_alias(s, "champion");
}

int64_t md_snapshot_alias(const struct md_snapshot *s, const char *name)
{
    size_t lo = 0;
    size_t hi = s->n_aliases;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->aliases[mid].name, name);

        if (c == 0)
            return s->aliases[mid].version;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static void free_entry(struct entry *e)
{
    md_snapshot_free(atomic_load(&e->snap));
    free(e->name);
    free(e);
}

void md_registry_free(struct md_registry *g)
{
    struct table *t;
    size_t i;

    if (g == NULL)
        return;
    t = atomic_load(&g->table);
    for (i = 0; i < t->n; i++)
        free_entry(t->v[i]);
    free(t);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* The entry of name in t, or NULL with *pos where it would go. */
static struct entry *find(const struct table *t, const char *name, size_t *pos)
{
    size_t lo = 0;
    size_t hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->v[mid]->name, name);

        if (c == 0) {
            *pos = mid;
            return t->v[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

/* The row of version number in s, or NULL. */
static const struct md_snapshot_row *find_row(const struct md_snapshot *s, int64_t number)
{
    size_t lo = 0;
    size_t hi = s->n_rows;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = s->rows[mid].version;

        if (v == number)
            return &s->rows[mid];
        if (v < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Whether a and b say the same: same rows, same versions, same reasons. */
static bool same_snapshot(const struct md_snapshot *a, const struct md_snapshot *b)
{
    size_t i;

    if (a->unloaded != b->unloaded || a->cause != b->cause || a->n_rows != b->n_rows ||
        strcmp(a->reason, b->reason) != 0 || a->has_policy != b->has_policy ||
        a->policy_revision != b->policy_revision || a->n_aliases != b->n_aliases ||
        (a->n_aliases > 0 &&
         memcmp(a->aliases, b->aliases, a->n_aliases * sizeof(*a->aliases)) != 0))
        return false;
    if (a->has_policy && !md_policy_equal(&a->policy, &b->policy))
        return false;
    for (i = 0; i < a->n_rows; i++) {
        const struct md_snapshot_row *x = &a->rows[i];
        const struct md_snapshot_row *y = &b->rows[i];

        if (x->version != y->version || x->state != y->state || x->cause != y->cause ||
            x->live != y->live || x->info != y->info || x->archived != y->archived ||
            strcmp(x->reason, y->reason) != 0)
            return false;
    }
    return true;
}

void md_registry_publish(struct md_registry *g, struct md_snapshot *s)
{
    struct md_snapshot *old = NULL;
    struct table *old_table = NULL;
    struct table *t;
    struct entry *e;
    size_t pos;
    size_t i;

    s->n_ready = 0;
    for (i = 0; i < s->n_rows; i++) {
        if (i > 0 && s->rows[i].version <= s->rows[i - 1].version)
            MD_BUG("snapshot rows not sorted by version");
        if (s->rows[i].live != NULL)
            s->ready[s->n_ready++] = s->rows[i].live;
    }
    for (i = 0; s->has_policy && i < s->policy.n_routes; i++) {
        const struct md_snapshot_row *row = find_row(s, s->policy.routes[i].version);

        s->route_live[i] = row != NULL ? row->live : NULL;
        s->route_names[i] = md_intern(s->policy.routes[i].name);
    }
    pthread_mutex_lock(&g->lock);
    t = atomic_load(&g->table);
    e = find(t, s->model, &pos);
    if (e == NULL) {
        struct table *nt = table_new(t->n + 1);

        e = md_xcalloc(1, sizeof(*e));
        e->name = md_xstrdup(s->model);
        atomic_init(&e->snap, s);
        memcpy(nt->v, t->v, pos * sizeof(struct entry *));
        nt->v[pos] = e;
        memcpy(nt->v + pos + 1, t->v + pos, (t->n - pos) * sizeof(struct entry *));
        atomic_store(&g->table, nt);
        old_table = t;
    } else if (same_snapshot(atomic_load(&e->snap), s)) {
        pthread_mutex_unlock(&g->lock);
        md_snapshot_free(s);
        return;
    } else {
        old = atomic_exchange(&e->snap, s);
    }
    pthread_mutex_unlock(&g->lock);
    md_epoch_wait();
    free(old_table);
    md_snapshot_free(old);
}

bool md_registry_remove(struct md_registry *g, const char *name)
{
    struct table *t;
    struct table *nt;
    struct entry *e;
    size_t pos;

    pthread_mutex_lock(&g->lock);
    t = atomic_load(&g->table);
    e = find(t, name, &pos);
    if (e == NULL) {
        pthread_mutex_unlock(&g->lock);
        return false;
    }
    nt = table_new(t->n - 1);
    memcpy(nt->v, t->v, pos * sizeof(struct entry *));
    memcpy(nt->v + pos, t->v + pos + 1, (t->n - pos - 1) * sizeof(struct entry *));
    atomic_store(&g->table, nt);
    pthread_mutex_unlock(&g->lock);
    md_epoch_wait();
    free(t);
    free_entry(e);
    return true;
}

/* md_registry_acquire's answer from snapshot s (inside the read section). */
static int pick(const struct md_snapshot *s, const char *model, const char *version,
                struct md_version **out, struct md_err *err)
{
    const struct md_snapshot_row *row;

    if (s->unloaded)
        return md_err_set(err, MD_EUNAVAIL,
                          "model '%s' was " MD_REGISTRY_UNLOADED "; load it again with POST "
                          "/v2/repository/models/%s/load (modelctl load %s)",
                          model, model, model);
    if (version == NULL || version[0] == '\0') {
        if (s->champion > 0 && (row = find_row(s, s->champion)) != NULL && row->live != NULL) {
            *out = row->live;
            return MD_OK;
        }
        if (s->n_ready == 0)
            return md_err_set(err, MD_EUNAVAIL, "model '%s' has no ready version%s%s", model,
                              s->reason[0] ? ": " : "", s->reason);
        *out = s->ready[s->n_ready - 1];
        return MD_OK;
    }
    if (version[0] >= '0' && version[0] <= '9') {
        row = find_row(s, md_version_number(version));
    } else {
        int64_t n = md_snapshot_alias(s, version);

        if (n == 0)
            return md_err_set(err, MD_ENOTFOUND, "model '%s' has no version or alias '%s'", model,
                              version);
        row = find_row(s, n);
        if (row == NULL)
            return md_err_set(err, MD_ENOTFOUND,
                              "model '%s': alias '%s' names version %lld, which it does not have",
                              model, version, (long long)n);
    }
    if (row == NULL)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no version '%s'", model, version);
    if (row->live == NULL)
        return md_err_set(err, MD_EUNAVAIL, "model '%s' version %s is not ready: %s", model,
                          version, row->reason);
    *out = row->live;
    return MD_OK;
}

int md_registry_acquire(struct md_registry *g, const char *model, const char *version,
                        struct md_version **out, struct md_err *err)
{
    struct entry *e;
    size_t pos;
    int rc;

    *out = NULL;
    md_epoch_enter();
    e = find(atomic_load(&g->table), model, &pos);
    if (e == NULL)
        rc = md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    else
        rc = pick(atomic_load(&e->snap), model, version, out, err);
    if (*out != NULL)
        md_version_ref(*out);
    md_epoch_exit();
    return rc;
}

/* md_registry_route's answer from snapshot s (inside the read section). */
/* A uniform number in [0, 1) from the next output of a splitmix64 stream at *x. */
static double unit(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* The copies of a request on route i of s (inside the read section). */
static void sample_copies(const struct md_snapshot *s, size_t i, uint64_t rnd,
                          struct md_route_copies *c)
{
    const struct md_snapshot_row *row;
    uint64_t x = rnd ^ UINT64_C(0x5851f42d4c957f2d);
    size_t k;

    for (k = 0; k < s->policy.n_shadows; k++) {
        const struct md_policy_shadow *sh = &s->policy.shadows[k];

        if (sh->fraction < 1 && unit(&x) >= sh->fraction)
            continue;
        row = find_row(s, sh->version);
        if (row != NULL && row->live != NULL) {
            md_version_ref(row->live);
            c->shadows[c->n_shadows++] = row->live;
        }
    }
    if (s->policy.mirror > 0 && s->champion > 0 && s->policy.routes[i].version != s->champion &&
        unit(&x) < s->policy.mirror) {
        row = find_row(s, s->champion);
        if (row != NULL && row->live != NULL) {
            md_version_ref(row->live);
            c->mirror = row->live;
        }
    }
}

static int route(const struct md_snapshot *s, const char *model, md_route_key_fn keyfn,
                 void *keyctx, uint64_t rnd, struct md_version **out, const char **name,
                 struct md_route_copies *copies, struct md_err *err)
{
    const struct md_policy_route *r;
    const char *key = NULL;
    size_t key_len = 0;
    size_t i;

    if (!s->has_policy || s->unloaded) {
        *name = MD_ROUTE_DEFAULT;
        return pick(s, model, NULL, out, err);
    }
    if (s->policy.sticky != MD_STICKY_NONE && keyfn != NULL)
        key = keyfn(keyctx, s->policy.sticky, s->policy.sticky_name, &key_len);
    i = md_policy_pick(&s->policy, key, key_len, rnd);
    r = &s->policy.routes[i];
    *name = s->route_names[i];
    if (s->route_live[i] == NULL) {
        const struct md_snapshot_row *row = find_row(s, r->version);

        return md_err_set(err, MD_EUNAVAIL,
                          "model '%s': version %lld of route '%s' is not ready%s%s", model,
                          (long long)r->version, r->name, row != NULL ? ": " : "",
                          row != NULL ? row->reason : "");
    }
    *out = s->route_live[i];
    if (copies != NULL && (s->policy.n_shadows > 0 || s->policy.mirror > 0))
        sample_copies(s, i, rnd, copies);
    return MD_OK;
}

int md_registry_route(struct md_registry *g, const char *model, const char *version,
                      md_route_key_fn keyfn, void *keyctx, uint64_t rnd, struct md_version **out,
                      const char **name, struct md_route_copies *copies, struct md_err *err)
{
    struct entry *e;
    size_t pos;
    int rc;

    *out = NULL;
    md_epoch_enter();
    e = find(atomic_load(&g->table), model, &pos);
    if (e == NULL) {
        *name = MD_ROUTE_DIRECT;
        rc = md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    } else if (version != NULL) {
        *name = MD_ROUTE_DIRECT;
        rc = pick(atomic_load(&e->snap), model, version, out, err);
    } else {
        rc = route(atomic_load(&e->snap), model, keyfn, keyctx, rnd, out, name, copies, err);
    }
    if (*out != NULL)
        md_version_ref(*out);
    md_epoch_exit();
    return rc;
}

void md_registry_foreach(struct md_registry *g, void (*fn)(void *ctx, const struct md_snapshot *s),
                         void *ctx)
{
    const struct table *t;
    size_t i;

    md_epoch_enter();
    t = atomic_load(&g->table);
    for (i = 0; i < t->n; i++)
        fn(ctx, atomic_load(&t->v[i]->snap));
    md_epoch_exit();
}

size_t md_registry_ready_models(struct md_registry *g)
{
    const struct table *t;
    size_t i;
    size_t n = 0;

    md_epoch_enter();
    t = atomic_load(&g->table);
    for (i = 0; i < t->n; i++)
        n += atomic_load(&t->v[i]->snap)->n_ready > 0;
    md_epoch_exit();
    return n;
}

bool md_registry_has(struct md_registry *g, const char *model)
{
    size_t pos;
    bool has;

    md_epoch_enter();
    has = find(atomic_load(&g->table), model, &pos) != NULL;
    md_epoch_exit();
    return has;
}

bool md_registry_with(struct md_registry *g, const char *model,
                      void (*fn)(void *ctx, const struct md_snapshot *s), void *ctx)
{
    struct entry *e;
    size_t pos;

    md_epoch_enter();
    e = find(atomic_load(&g->table), model, &pos);
    if (e != NULL)
        fn(ctx, atomic_load(&e->snap));
    md_epoch_exit();
    return e != NULL;
}
