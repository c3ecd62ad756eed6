/* SPDX-License-Identifier: MIT */
/*
 * auth.c: the principal of each request and the permission check every
 * routed request passes (auth.h), and the table of tokens they are checked
 * against.
 *
 * The table is built on the store thread from the tokens' rows (a sorted
 * array of SHA-256 hashes), published by pointer and read by requests in an
 * epoch section: a request hashes its secret (no allocation), finds the hash
 * by binary search, compares it in constant time, checks expiry and
 * revocation, charges the token's rate limit and notes its last use with
 * atomics, and copies the principal into its arena. Nothing is written to
 * the store per request: last uses are written in batches
 * (md_auth_tokens_used).
 *
 * Rate limits are a token bucket kept as one number, the theoretical
 * arrival time of GCRA (the generic cell rate algorithm of ATM, ITU-T
 * I.371): a request is let through when, added at the token's interval
 * (1 / rate), it would not be more than burst intervals ahead of now.
 */
#include "api/auth.h"
#include "api/api.h"
#include "api/jwt.h"
#include "api/session.h"
#include "api/token.h"
#include "store/store.h"
#include "util/epoch.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Requests while authentication is off: every permission, every model. */
static const struct md_principal anyone_all = {"anonymous", MD_PERM_ALL, true, NULL, 0, 0, 0, NULL};
/* Requests without a token to an open health or metrics endpoint. */
static const struct md_principal anyone_open = {
    "anonymous", MD_PERM_STATUS | MD_PERM_READ, true, NULL, 0, 0, 0, NULL};

/* One token of the table. The atomics carry over to the next table. */
struct entry {
    unsigned char hash[32]; /* SHA-256 of the secret: the sort key */
    int64_t id;
    enum md_role role;
    unsigned perms;
    int64_t expires_ms;    /* 0: never */
    int64_t revoked_ms;    /* 0: not revoked */
    double rate;           /* 0: no limit */
    int64_t burst;         /* with rate */
    uint64_t interval_ns;  /* 1 / rate; 0: no limit */
    uint64_t tolerance_ns; /* how far ahead of now the arrival time may run */
    bool all_models;
    char **models; /* n_models, owned, when !all_models */
    size_t n_models;
    char name[MD_TOKEN_NAME_MAX + 1];
    _Atomic uint64_t tat_ns;      /* GCRA's theoretical arrival time (md_now_ns) */
    _Atomic int64_t last_used_ms; /* the last request's wall time, to a second */
    _Atomic int64_t written_ms;   /* the last use written to the store */
};

struct md_token_table {
    size_t n;
    struct entry *v; /* by hash */
};

/* Serializes the writers of a table (the store thread, start and SIGHUP). */
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;

void md_auth_init(struct md_auth *a, const char *listen)
{
    a->listen = listen;
}

/* ---- reading a request's token ----------------------------------------- */

/* The entry of hash in t, or NULL. */
static const struct entry *find(const struct md_token_table *t, const unsigned char hash[32])
{
    size_t lo = 0;
    size_t hi = t != NULL ? t->n : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(t->v[mid].hash, hash, 32);

        if (c == 0)
            return CRYPTO_memcmp(t->v[mid].hash, hash, 32) == 0 ? &t->v[mid] : NULL;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * Charges e's rate limit at now_ns: MD_OK, or MD_ETOOMANY with the seconds
 * until a request would pass in retry_after.
 */
static int charge_rate(struct entry *e, uint64_t now_ns, char retry_after[16], struct md_err *err)
{
    uint64_t tat = atomic_load_explicit(&e->tat_ns, memory_order_relaxed);
    uint64_t next;

    for (;;) {
        next = (tat > now_ns ? tat : now_ns) + e->interval_ns;
        if (next - now_ns > e->tolerance_ns) {
            uint64_t wait_ns = next - now_ns - e->tolerance_ns;
            unsigned long long s = (unsigned long long)((wait_ns + 999999999u) / 1000000000u);

            (void)snprintf(retry_after, 16, "%llu", s > 0 ? s : 1ull);
            return md_err_set(err, MD_ETOOMANY,
                              "token '%s': over its rate limit of %g requests per second "
                              "(burst %lld); retry after %llu s",
                              e->name, e->rate, (long long)e->burst, s > 0 ? s : 1ull);
        }
        if (atomic_compare_exchange_weak_explicit(&e->tat_ns, &tat, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return MD_OK;
    }
}

/* The principal of e in arena a; NULL when the arena is full. */
__attribute__((always_inline)) static inline const struct md_principal *
copy_principal(const struct entry *e, struct md_arena *a)
{
    struct md_principal *p = md_arena_alloc(a, sizeof(*p));
    size_t len = strlen(e->name);
    char *name = md_arena_strndup(a, e->name, len);

    if (p == NULL || name == NULL)
        return NULL;
    p->name = name;
    p->perms = e->perms;
    p->all_models = e->all_models;
    p->models = NULL;
    p->n_models = 0;
    p->token_id = e->id;
    p->role = e->role;
    p->session = NULL;
    if (!e->all_models) {
        const char **m = md_arena_alloc(a, (e->n_models ? e->n_models : 1) * sizeof(*m));

        if (m == NULL)
            return NULL;
        for (size_t i = 0; i < e->n_models; i++) {
            m[i] = md_arena_strndup(a, e->models[i], strlen(e->models[i]));
            if (m[i] == NULL)
                return NULL;
        }
        p->models = m;
        p->n_models = e->n_models;
    }
    return p;
}

/* The secret of an Authorization header's value: after "Bearer " (any case), spaces
 * trimmed; NULL when the scheme is another. */
static const char *bearer(const char *h, size_t *n)
{
    const char *end;

    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 7;
    while (*h == ' ' || *h == '\t')
        h++;
    end = h + strlen(h);
    while (end > h && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *n = (size_t)(end - h);
    return h;
}

/*
 * The hashes of the last few secrets this thread verified: a keep-alive
 * client sends the same secret on every request, and its SHA-256 (two
 * blocks) costs more than the rest of the check. Only a hash is reused;
 * the table is searched for it on every request, so a revocation or an
 * expiry applies at once. Comparing a secret costs a tenth of hashing it.
 */
#define HASH_CACHE 4
static _Thread_local struct {
    char secret[MD_TOKEN_SECRET_LEN];
    unsigned char hash[32];
    bool used;
} hash_cache[HASH_CACHE];
static _Thread_local unsigned hash_cache_next;

/* The SHA-256 of secret (MD_TOKEN_SECRET_LEN bytes) into hash; *cached when remembered. */
__attribute__((always_inline)) static inline void secret_hash(const char *secret,
                                                              unsigned char hash[32], bool *cached)
{
    for (unsigned i = 0; i < HASH_CACHE; i++)
        if (hash_cache[i].used &&
            CRYPTO_memcmp(hash_cache[i].secret, secret, MD_TOKEN_SECRET_LEN) == 0) {
            memcpy(hash, hash_cache[i].hash, 32);
            *cached = true;
            return;
        }
    md_token_hash(secret, MD_TOKEN_SECRET_LEN, hash);
    *cached = false;
}

/* Remembers a verified secret's hash. */
static void remember(const char *secret, const unsigned char hash[32])
{
    unsigned i = hash_cache_next++ % HASH_CACHE;

    memcpy(hash_cache[i].secret, secret, MD_TOKEN_SECRET_LEN);
    memcpy(hash_cache[i].hash, hash, 32);
    hash_cache[i].used = true;
}

/* The checks of a known token e at now: MD_OK or MD_EAUTH. */
static int usable(const struct entry *e, int64_t now_ms, struct md_err *err)
{
    if (e->revoked_ms != 0)
        return md_err_set(err, MD_EAUTH, "bearer token '%s': revoked", e->name);
    if (e->expires_ms != 0 && now_ms >= e->expires_ms)
        return md_err_set(err, MD_EAUTH, "bearer token '%s': expired", e->name);
    return MD_OK;
}

/* ---- JSON Web Tokens ------------------------------------------------------- */

/* The principal of a verified JSON Web Token, in arena a; NULL when the arena is full. */
static const struct md_principal *jwt_copy(const struct md_jwt_identity *id, struct md_arena *a)
{
    struct md_principal *p = md_arena_alloc(a, sizeof(*p));
    char *name = md_arena_strndup(a, id->name, strlen(id->name));

    if (p == NULL || name == NULL)
        return NULL;
    p->name = name;
    p->perms = id->perms;
    p->all_models = id->all_models;
    p->models = NULL;
    p->n_models = 0;
    p->token_id = 0;
    p->role = id->role;
    p->session = NULL;
    if (!id->all_models) {
        const char **m = md_arena_alloc(a, (id->n_models ? id->n_models : 1) * sizeof(*m));
        const char *at = id->models;

        if (m == NULL)
            return NULL;
        for (uint32_t i = 0; i < id->n_models; i++) {
            size_t len = strlen(at);

            m[i] = md_arena_strndup(a, at, len);
            if (m[i] == NULL)
                return NULL;
            at += len + 1;
        }
        p->models = m;
        p->n_models = id->n_models;
    }
    return p;
}

/* The principal of the JSON Web Token tok (n bytes): MD_OK, or MD_EAUTH naming why not. */
static int jwt_principal(const struct md_auth *a, const struct md_api_req *req, const char *tok,
                         size_t n, const struct md_principal **out, struct md_err *err)
{
    struct md_jwt_identity id = {.role = 0}; /* zeroed: the analyzer cannot see verify fill it */
    struct md_jwt *j;
    int rc;

    md_epoch_enter();
    /* Cast: loading the pointer changes nothing. */
    j = atomic_load(&((struct md_auth *)a)->jwt);
    if (j == NULL)
        rc = md_err_set(err, MD_EAUTH,
                        "authorization: a JSON Web Token, but this server takes none (no "
                        "--jwt-jwks-file)");
    else
        rc = md_jwt_verify(j, tok, n, md_wall_ms() / 1000, &id, err);
    md_epoch_exit();
    if (rc != MD_OK)
        return rc;
    *out = jwt_copy(&id, req->arena);
    if (*out == NULL)
        return md_err_set(err, MD_ENOMEM, "request memory: full");
    return MD_OK;
}

void md_auth_jwt_publish(struct md_auth *a, struct md_jwt *j)
{
    struct md_jwt *old = atomic_exchange(&a->jwt, j);

    if (old != NULL) {
        md_epoch_wait();
        md_jwt_free(old);
    }
}

/*
 * The principal of a bearer credential (secret, n bytes; NULL when the
 * header's scheme is another): md_auth_credential's work, shared with
 * md_auth_principal's hot path, where it is inlined whole (left to itself,
 * the compiler splits it and the bearer path pays a few dozen instructions).
 */
__attribute__((always_inline)) static inline int
credential(const struct md_auth *a, const struct md_api_req *req, const char *secret, size_t n,
           bool charge, const struct md_principal **out, char retry_after[16], struct md_err *err)
{
    unsigned char hash[32];
    struct entry *e;
    int64_t now_ms;
    bool cached;
    int rc;

    if (secret != NULL && md_jwt_is_jwt(secret, n))
        return jwt_principal(a, req, secret, n, out, err);
    if (secret == NULL || !md_token_secret_valid(secret, n))
        return md_err_set(err, MD_EAUTH,
                          "authorization: malformed; expected 'Bearer mdt_' and 64 hex digits");
    secret_hash(secret, hash, &cached);
    now_ms = md_wall_ms();
    md_epoch_enter();
    /* Cast: the table is immutable but for the atomics of each entry. */
    e = (struct entry *)find(atomic_load(&((struct md_auth *)a)->tokens), hash);
    if (e == NULL) {
        md_epoch_exit();
        return md_err_set(err, MD_EAUTH, "bearer token: unknown");
    }
    if (!cached)
        remember(secret, hash);
    rc = usable(e, now_ms, err);
    if (rc == MD_OK && charge && e->interval_ns != 0)
        rc = charge_rate(e, md_now_ns(), retry_after, err);
    if (rc == MD_OK) {
        /* To a second: a busy token's line is written once a second, not per request. */
        if (now_ms - atomic_load_explicit(&e->last_used_ms, memory_order_relaxed) >= 1000)
            atomic_store_explicit(&e->last_used_ms, now_ms, memory_order_relaxed);
        *out = copy_principal(e, req->arena);
        if (*out == NULL)
            rc = md_err_set(err, MD_ENOMEM, "request memory: full");
    }
    md_epoch_exit();
    return rc;
}

int md_auth_credential(const struct md_auth *a, const struct md_api_req *req, const char *cred,
                       size_t n, bool charge, const struct md_principal **out, char retry_after[16],
                       struct md_err *err)
{
    return credential(a, req, cred, n, charge, out, retry_after, err);
}

/* ---- a dashboard session's cookie ----------------------------------------- */

/* Whether method may change state: every one but GET and HEAD. */
static bool changes(const char *method)
{
    return method == NULL || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0);
}

/*
 * The principal of a request without an Authorization header whose Cookie
 * header (cookie) may hold a session id: the session's credential checked
 * as a bearer header's, after the CSRF checks of a method that changes
 * state. A credential that no longer verifies ends its session. Kept out
 * of md_auth_principal, whose bearer path it would otherwise slow.
 */
__attribute__((noinline)) static int cookie_principal(const struct md_auth *a,
                                                      const struct md_api_req *req,
                                                      const char *cookie, bool charge,
                                                      const struct md_principal **out,
                                                      char retry_after[16], struct md_err *err)
{
    unsigned char id[MD_SESSION_ID_BYTES];
    struct md_session_view *view;
    const char *cred;
    size_t n = 0;
    int rc;

    if (!md_session_cookie(cookie, id))
        return md_err_set(err, MD_EAUTH,
                          "authorization: missing; send 'Authorization: Bearer <token>' or sign "
                          "in (POST /api/v1/session)");
    rc = md_sessions_find(a->sessions, id, md_wall_ms(), req->arena, &cred, &n, &view, err);
    OPENSSL_cleanse(id, sizeof(id));
    if (rc != MD_OK)
        return rc;
    if (changes(req->method)) {
        const char *origin = req->header(req->conn, "Origin");

        if (!md_session_csrf_ok(view->csrf, req->header(req->conn, "X-CSRF-Token")))
            return md_err_set(err, MD_EPERM,
                              "X-CSRF-Token: missing or not this session's (a cookie request "
                              "that changes state needs the csrf of GET /api/v1/session)");
        if (origin != NULL && !md_session_origin_ok(origin, req->header(req->conn, "Host")))
            return md_err_set(err, MD_EPERM, "Origin: '%.100s' is not this server", origin);
    }
    rc = credential(a, req, cred, n, charge, out, retry_after, err);
    if (rc == MD_EAUTH)
        (void)md_sessions_end(a->sessions, view->id_hash);
    if (rc != MD_OK)
        return rc;
    if (*out == NULL) /* not reached: MD_OK comes with a principal */
        return md_err_set(err, MD_EINTERNAL, "session: no principal");
    /* Cast: *out is the request's arena, made just now. */
    ((struct md_principal *)*out)->session = view;
    return MD_OK;
}

int md_auth_principal(const struct md_auth *a, const struct md_api_req *req, bool open, bool charge,
                      const struct md_principal **out, char retry_after[16], struct md_err *err)
{
    const char *h;
    const char *secret;
    size_t n = 0;

    *out = &anyone_all;
    if (MD_LIKELY(!a->enabled))
        return MD_OK;
    h = req->header != NULL ? req->header(req->conn, "Authorization") : NULL;
    if (h == NULL) {
        const char *cookie;

        if (open) {
            *out = &anyone_open;
            return MD_OK;
        }
        cookie =
            a->sessions != NULL && req->header != NULL ? req->header(req->conn, "Cookie") : NULL;
        if (cookie != NULL)
            return cookie_principal(a, req, cookie, charge, out, retry_after, err);
        return md_err_set(err, MD_EAUTH,
                          "authorization: missing; send 'Authorization: Bearer <token>'");
    }
    secret = bearer(h, &n);
    return credential(a, req, secret, n, charge, out, retry_after, err);
}

int md_auth_check(const struct md_auth *a, const struct md_principal *p, unsigned perm,
                  struct md_err *err)
{
    MD_UNUSED(a);
    if (MD_LIKELY((p->perms & perm) == perm && perm != 0))
        return MD_OK;
    if (p->role == 0)
        return md_err_set(err, MD_EPERM, "principal '%s' lacks the permission '%s'", p->name,
                          md_perm_name(perm));
    return md_err_set(err, MD_EPERM, "token '%s' (role %s) lacks the permission '%s'", p->name,
                      md_role_name(p->role), md_perm_name(perm));
}

bool md_auth_may_use(const struct md_principal *p, const char *model)
{
    if (p == NULL)
        return false;
    if (MD_LIKELY(p->all_models))
        return true;
    for (size_t i = 0; model != NULL && i < p->n_models; i++)
        if (strcmp(p->models[i], model) == 0)
            return true;
    return false;
}

/* ---- the table ---------------------------------------------------------- */

struct reading {
    struct entry *v;
    size_t n, cap;
    int rc;
    struct md_err err;
};

static void free_entry(struct entry *e)
{
    for (size_t i = 0; i < e->n_models; i++)
        free(e->models[i]);
    free(e->models);
}

/* Hex digit value, or -1. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* e's models from the stored JSON array: MD_OK or MD_ECORRUPT. */
static int read_models(struct entry *e, const char *json, struct md_err *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    size_t n = json_is_array(root) ? json_array_size(root) : 0;

    if (!json_is_array(root)) {
        json_decref(root);
        return md_err_set(err, MD_ECORRUPT, "token '%s': stored models not a JSON array", e->name);
    }
    e->models = md_xcalloc(n ? n : 1, sizeof(*e->models));
    for (size_t i = 0; i < n; i++) {
        const char *m = json_string_value(json_array_get(root, i));

        if (m == NULL) {
            json_decref(root);
            return md_err_set(err, MD_ECORRUPT, "token '%s': stored model %zu not a string",
                              e->name, i);
        }
        e->models[e->n_models++] = md_xstrdup(m);
    }
    json_decref(root);
    return MD_OK;
}

static void read_row(void *ctx, const struct md_store_token *t)
{
    struct reading *r = ctx;
    struct entry *e;

    if (r->rc != MD_OK)
        return;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->v = md_xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    e = &r->v[r->n];
    memset(e, 0, sizeof(*e));
    (void)snprintf(e->name, sizeof(e->name), "%s", t->name);
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(t->hash[2 * i]);
        int lo = hi < 0 ? -1 : hexval(t->hash[2 * i + 1]);

        if (lo < 0) {
            r->rc = md_err_set(&r->err, MD_ECORRUPT, "token '%s': stored hash not hex", t->name);
            return;
        }
        e->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    e->id = t->id;
    e->role = md_role_parse(t->role);
    e->perms = md_role_perms(e->role); /* an unknown role: no permission */
    e->expires_ms = t->expires_ms;
    e->revoked_ms = t->revoked_ms;
    e->all_models = t->models == NULL;
    if (t->rate > 0) {
        double iv = 1e9 / t->rate;

        e->rate = t->rate;
        e->burst = t->burst > 0 ? t->burst : 1;
        e->interval_ns = iv < 1 ? 1 : (uint64_t)iv;
        e->tolerance_ns = e->interval_ns * (uint64_t)e->burst;
    }
    atomic_init(&e->tat_ns, 0);
    atomic_init(&e->last_used_ms, t->last_used_ms);
    atomic_init(&e->written_ms, t->last_used_ms);
    r->n++;
    if (!e->all_models && read_models(e, t->models, &r->err) != MD_OK)
        r->rc = r->err.code;
}

static int by_hash(const void *x, const void *y)
{
    return memcmp(((const struct entry *)x)->hash, ((const struct entry *)y)->hash, 32);
}

/* The table of what r read (taken), or the error it met. */
static int finish(struct reading *r, int rc, struct md_token_table **out, struct md_err *err)
{
    struct md_token_table *t;

    *out = NULL;
    if (rc == MD_OK && r->rc != MD_OK) {
        rc = r->rc;
        if (err != NULL)
            *err = r->err;
    }
    if (rc != MD_OK) {
        for (size_t i = 0; i < r->n; i++)
            free_entry(&r->v[i]);
        free(r->v);
        return rc;
    }
    if (r->n > 1)
        qsort(r->v, r->n, sizeof(*r->v), by_hash);
    t = md_xcalloc(1, sizeof(*t));
    t->n = r->n;
    t->v = r->v;
    *out = t;
    return MD_OK;
}

int md_auth_tokens_read(struct md_store_tx *tx, struct md_token_table **out, struct md_err *err)
{
    struct reading r = {NULL, 0, 0, MD_OK, {0}};

    return finish(&r, md_store_tx_tokens(tx, read_row, &r, err), out, err);
}

int md_auth_tokens_make(const struct md_store_token *rows, size_t n, struct md_token_table **out,
                        struct md_err *err)
{
    struct reading r = {NULL, 0, 0, MD_OK, {0}};

    for (size_t i = 0; i < n; i++)
        read_row(&r, &rows[i]);
    return finish(&r, MD_OK, out, err);
}

void md_auth_tokens_free(struct md_token_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free_entry(&t->v[i]);
    free(t->v);
    free(t);
}

void md_auth_tokens_publish(struct md_auth *a, struct md_token_table *t)
{
    struct md_token_table *old;

    pthread_mutex_lock(&publish_lock);
    old = atomic_load(&a->tokens);
    /* The old table's requests may still charge it meanwhile: a few
     * requests of the last moment are not carried over, which a limit of
     * requests per second can afford. */
    for (size_t i = 0; t != NULL && i < t->n; i++) {
        const struct entry *o = find(old, t->v[i].hash);

        if (o == NULL)
            continue;
        atomic_store(&t->v[i].tat_ns, atomic_load(&o->tat_ns));
        if (atomic_load(&o->last_used_ms) > atomic_load(&t->v[i].last_used_ms))
            atomic_store(&t->v[i].last_used_ms, atomic_load(&o->last_used_ms));
        if (atomic_load(&o->written_ms) > atomic_load(&t->v[i].written_ms))
            atomic_store(&t->v[i].written_ms, atomic_load(&o->written_ms));
    }
    atomic_store(&a->tokens, t);
    pthread_mutex_unlock(&publish_lock);
    if (old != NULL) {
        md_epoch_wait();
        md_auth_tokens_free(old);
    }
}

size_t md_auth_tokens_count(struct md_auth *a)
{
    size_t n;

    md_epoch_enter();
    {
        const struct md_token_table *t = atomic_load(&a->tokens);

        n = t != NULL ? t->n : 0;
    }
    md_epoch_exit();
    return n;
}

void md_auth_tokens_used(struct md_auth *a, void (*fn)(void *ctx, int64_t id, int64_t at_ms),
                         void *ctx)
{
    /* Under the writers' lock: the table stays while fn runs (fn must not publish). */
    pthread_mutex_lock(&publish_lock);
    {
        struct md_token_table *t = atomic_load(&a->tokens);

        for (size_t i = 0; t != NULL && i < t->n; i++) {
            struct entry *e = &t->v[i];
            int64_t used = atomic_load(&e->last_used_ms);

            if (used > atomic_load(&e->written_ms)) {
                fn(ctx, e->id, used);
                atomic_store(&e->written_ms, used);
            }
        }
    }
    pthread_mutex_unlock(&publish_lock);
}

const char *md_perm_name(unsigned perm)
{
    static const char *const names[] = {"status", "read", "predict", "feedback",
                                        "review", "data", "deploy",  "admin"};

    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++)
        if (perm == 1u << i)
            return names[i];
    return "?";
}

/* Each role's permissions, by enum md_role; docs/security.md is this table. */
static const struct {
    const char *name;
    unsigned perms;
} roles[MD_ROLE_COUNT + 1] = {
    [MD_ROLE_VIEWER] = {"viewer", MD_PERM_STATUS | MD_PERM_READ},
    [MD_ROLE_PREDICTOR] = {"predictor", MD_PERM_STATUS | MD_PERM_PREDICT | MD_PERM_FEEDBACK},
    [MD_ROLE_REVIEWER] = {"reviewer",
                          MD_PERM_STATUS | MD_PERM_READ | MD_PERM_REVIEW | MD_PERM_FEEDBACK},
    [MD_ROLE_DEPLOYER] = {"deployer",
                          MD_PERM_STATUS | MD_PERM_READ | MD_PERM_DATA | MD_PERM_DEPLOY},
    [MD_ROLE_ADMIN] = {"admin", MD_PERM_ALL},
};

unsigned md_role_perms(enum md_role role)
{
    return role >= MD_ROLE_VIEWER && role <= MD_ROLE_ADMIN ? roles[role].perms : 0;
}

const char *md_role_name(enum md_role role)
{
    return role >= MD_ROLE_VIEWER && role <= MD_ROLE_ADMIN ? roles[role].name : "?";
}

enum md_role md_role_parse(const char *name)
{
    for (int r = MD_ROLE_VIEWER; name != NULL && r <= MD_ROLE_ADMIN; r++)
        if (strcmp(roles[r].name, name) == 0)
            return (enum md_role)r;
    return 0;
}

const char *md_scope_name(enum md_scope scope)
{
    switch (scope) {
    case MD_SCOPE_NONE:
        return "none";
    case MD_SCOPE_PATH_MODEL:
        return "path-model";
    case MD_SCOPE_BODY_ITEMS:
        return "body-items";
    case MD_SCOPE_LISTING:
        return "listing";
    default:
        return "?";
    }
}
