/* SPDX-License-Identifier: MIT */
/*
 * sqlite_crypt.c: encryption at rest in the SQLite store. The values that
 * carry what callers sent and what models answered (a prediction row's
 * keys, features, label and outputs; feedback and review comments) are
 * sealed (util/aead.h, AES-256-GCM, the column's name as associated data)
 * as they are bound, and opened as they are read; key values that rows are
 * found by are stored as keyed hashes. The key of those hashes is random,
 * kept in table crypt sealed under a data key. Rotation reseals every value
 * under the current data key, a small batch per store job, from a thread of
 * its own that reports its progress. Without encryption, values are bound
 * and read in clear, and values sealed earlier cannot be read.
 */
#include "store/sqlite_int.h"
#include "util/aead.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

struct cbuf {
    unsigned char *p; /* cap bytes; holds a sealed value or an opened one and its NUL */
    size_t cap;
};

struct md_store__crypt_tx {
    const struct md_store__crypt *shared;
    struct md_aead *aead;
    struct md_aead_hmac *lookup; /* keyed by the store's lookup key */
    struct cbuf buf[MD_CBUF_N];
    struct cbuf fn; /* the SQL functions' scratch */
};

/* ------------------------------------------------------------ buffers */

static int reserve(struct cbuf *b, size_t need, struct md_err *err)
{
    unsigned char *p;
    size_t cap = b->cap < 256 ? 256 : b->cap;

    if (need <= b->cap)
        return MD_OK;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = md_malloc(cap);
    if (p == NULL) {
        (void)md_err_set(err, MD_ENOMEM, "no memory for a sealed value of %zu bytes", need);
        return MD_ENOMEM;
    }
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    return MD_OK;
}

static void cbuf_release(struct cbuf *b)
{
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->cap = 0;
}

/* Opens sealed c (n bytes) into b, NUL-terminated. */
static int open_into(struct md_store__crypt_tx *ct, struct cbuf *b, const char *aad,
                     const unsigned char *c, size_t n, size_t *olen, struct md_err *err)
{
    int rc = reserve(b, n + 1, err);

    if (rc != MD_OK)
        return rc;
    rc = md_aead_open(ct->aead, aad, c, n, b->p, b->cap - 1, olen, err);
    if (rc == MD_OK)
        b->p[*olen] = '\0';
    return rc;
}

static int seal_into(struct md_store__crypt_tx *ct, struct cbuf *b, const char *aad, const void *p,
                     size_t n, size_t *olen, struct md_err *err)
{
    int rc = n > SIZE_MAX - MD_AEAD_OVERHEAD
                 ? md_err_set(err, MD_ETOOBIG, "a value of %zu bytes is too long to seal", n)
                 : reserve(b, n + MD_AEAD_OVERHEAD, err);

    if (rc != MD_OK)
        return rc;
    return md_aead_seal(ct->aead, aad, p, n, b->p, b->cap, olen, err);
}

/* ------------------------------------------------------ binding, reading */

int md_store__bind_sealed(struct md_store_tx *tx, sqlite3_stmt *st, int i, enum md_store__cbuf slot,
                          const char *text, const char *aad, struct md_err *err)
{
    struct md_store__crypt_tx *ct = tx->crypt;
    size_t n = 0;
    int rc;

    if (text == NULL) {
        sqlite3_bind_null(st, i);
        return MD_OK;
    }
    if (ct == NULL) {
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
        return MD_OK;
    }
    rc = seal_into(ct, &ct->buf[slot], aad, text, strlen(text), &n, err);
    if (rc != MD_OK)
        return rc;
    sqlite3_bind_blob(st, i, ct->buf[slot].p, (int)n, SQLITE_STATIC);
    return MD_OK;
}

int md_store__column_open(struct md_store_tx *tx, sqlite3_stmt *st, int i, enum md_store__cbuf slot,
                          const char *aad, const char **out, struct md_err *err)
{
    struct md_store__crypt_tx *ct = tx->crypt;
    const unsigned char *c;
    size_t n;
    size_t len = 0;
    int rc;

    *out = NULL;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return MD_OK;
    case SQLITE_BLOB:
        break;
    default:
        *out = (const char *)sqlite3_column_text(st, i);
        return MD_OK;
    }
    c = sqlite3_column_blob(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    if (ct == NULL)
        return md_err_set(err, MD_EUNAVAIL,
                          "'%s' is stored encrypted and modeld runs without --data-key-file", aad);
    rc = open_into(ct, &ct->buf[slot], aad, c, n, &len, err);
    if (rc == MD_OK)
        *out = (const char *)ct->buf[slot].p;
    return rc;
}

static bool is_lookup(const char *v)
{
    size_t k = sizeof(MD_STORE__LOOKUP_PREFIX) - 1;

    if (strncmp(v, MD_STORE__LOOKUP_PREFIX, k) != 0)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((v[k + i] >= '0' && v[k + i] <= '9') || (v[k + i] >= 'a' && v[k + i] <= 'f')))
            return false;
    return v[k + 64] == '\0';
}

static void lookup_of(struct md_store__crypt_tx *ct, const char *value,
                      char out[MD_STORE__LOOKUP_LEN])
{
    static const char digits[] = "0123456789abcdef";
    size_t k = sizeof(MD_STORE__LOOKUP_PREFIX) - 1;
    unsigned char mac[32];

    md_aead_hmac_run(ct->lookup, value, strlen(value), mac);
    memcpy(out, MD_STORE__LOOKUP_PREFIX, k);
    for (size_t i = 0; i < 32; i++) {
        out[k + 2 * i] = digits[mac[i] >> 4];
        out[k + 2 * i + 1] = digits[mac[i] & 0xf];
    }
    out[k + 64] = '\0';
}

const char *md_store__lookup(struct md_store_tx *tx, const char *value,
                             char out[MD_STORE__LOOKUP_LEN])
{
    if (tx->crypt == NULL || value == NULL || is_lookup(value))
        return value;
    lookup_of(tx->crypt, value, out);
    return out;
}

/* ------------------------------------------------------- SQL functions */

/* md_stale(v): 1 when v is a value rotation must (re)seal: in clear, or under an older key. */
static void fn_stale(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct md_store__crypt_tx *ct = sqlite3_user_data(cx);
    uint32_t id = 0;

    (void)argc;
    switch (sqlite3_value_type(argv[0])) {
    case SQLITE_NULL:
        sqlite3_result_int(cx, 0);
        return;
    case SQLITE_BLOB:
        if (md_aead_sealed(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]),
                           &id) &&
            id == md_aead_keys_current(ct->shared->keys)) {
            sqlite3_result_int(cx, 0);
            return;
        }
        break;
    default:
        break;
    }
    sqlite3_result_int(cx, 1);
}

/* md_reseal(v, aad): v sealed under the current key (opened first when sealed under another). */
static void fn_reseal(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct md_store__crypt_tx *ct = sqlite3_user_data(cx);
    const char *aad = (const char *)sqlite3_value_text(argv[1]);
    struct md_err err;
    struct cbuf plain = {NULL, 0};
    const void *p;
    size_t n;
    size_t len = 0;
    uint32_t id = 0;
    int rc = MD_OK;

    (void)argc;
    md_err_clear(&err);
    if (aad == NULL || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(cx);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) {
        p = sqlite3_value_blob(argv[0]);
        n = (size_t)sqlite3_value_bytes(argv[0]);
        if (md_aead_sealed(p, n, &id) && id == md_aead_keys_current(ct->shared->keys)) {
            sqlite3_result_value(cx, argv[0]);
            return;
        }
        rc = open_into(ct, &plain, aad, p, n, &len, &err);
        p = plain.p;
        n = len;
    } else {
        p = sqlite3_value_text(argv[0]);
        n = (size_t)sqlite3_value_bytes(argv[0]);
    }
    if (rc == MD_OK)
        rc = seal_into(ct, &ct->fn, aad, p, n, &len, &err);
    cbuf_release(&plain);
    if (rc != MD_OK) {
        sqlite3_result_error(cx, err.msg, -1);
        return;
    }
    sqlite3_result_blob(cx, ct->fn.p, (int)len, SQLITE_TRANSIENT);
}

/* md_lookup(v): the stored form of key value v (md_store__lookup). */
static void fn_lookup(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct md_store__crypt_tx *ct = sqlite3_user_data(cx);
    const char *v = (const char *)sqlite3_value_text(argv[0]);
    char out[MD_STORE__LOOKUP_LEN];

    (void)argc;
    if (v == NULL) {
        sqlite3_result_null(cx);
        return;
    }
    if (is_lookup(v)) {
        sqlite3_result_value(cx, argv[0]);
        return;
    }
    lookup_of(ct, v, out);
    sqlite3_result_text(cx, out, -1, SQLITE_TRANSIENT);
}

int md_store__crypt_attach(struct md_store_tx *tx, const struct md_store__crypt *c,
                           struct md_err *err)
{
    struct md_store__crypt_tx *ct;
    int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc;

    if (tx->crypt != NULL)
        return MD_OK;
    ct = md_xcalloc(1, sizeof(*ct));
    ct->shared = c;
    ct->aead = md_aead_new(c->keys);
    ct->lookup = md_aead_hmac_new(c->lookup, sizeof(c->lookup));
    rc = sqlite3_create_function_v2(tx->db, "md_stale", 1, flags, ct, fn_stale, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(tx->db, "md_reseal", 2, flags, ct, fn_reseal, NULL, NULL,
                                        NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(tx->db, "md_lookup", 1, flags | SQLITE_DETERMINISTIC, ct,
                                        fn_lookup, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        md_aead_free(ct->aead);
        md_aead_hmac_free(ct->lookup);
        free(ct);
        return md_store__fail(tx, rc, "add the encryption functions", err);
    }
    tx->crypt = ct;
    return MD_OK;
}

void md_store__crypt_detach(struct md_store_tx *tx)
{
    struct md_store__crypt_tx *ct = tx->crypt;

    if (ct == NULL)
        return;
    for (size_t i = 0; i < MD_CBUF_N; i++)
        cbuf_release(&ct->buf[i]);
    cbuf_release(&ct->fn);
    md_aead_free(ct->aead);
    md_aead_hmac_free(ct->lookup);
    free(ct);
    tx->crypt = NULL;
}

/* ------------------------------------------------------------- set-up */

#define LOOKUP_AAD "crypt.lookup"

static struct md_store__rotor *rotor_new(struct md_store *s);

struct enable {
    struct md_store__crypt *c;
    bool resume; /* a rotation was running when modeld last stopped */
};

/* Reads the sealed lookup key (creating it at the first start with encryption), then attaches. */
static int enable_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct enable *e = ctx;
    struct md_store__crypt_tx probe;
    struct cbuf plain = {NULL, 0};
    sqlite3_stmt *st = NULL;
    size_t len = 0;
    int rc;

    memset(&probe, 0, sizeof(probe));
    probe.shared = e->c;
    probe.aead = md_aead_new(e->c->keys);
    rc = sqlite3_prepare_v2(tx->db, "SELECT value FROM crypt WHERE name = 'lookup'", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = md_store__fail(tx, rc, "read the lookup key", err);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = open_into(&probe, &plain, LOOKUP_AAD, sqlite3_column_blob(st, 0),
                       (size_t)sqlite3_column_bytes(st, 0), &len, err);
        if (rc == MD_OK && len != sizeof(e->c->lookup))
            rc = md_err_set(err, MD_ECORRUPT, "the store's lookup key is %zu bytes, not 32", len);
        if (rc == MD_OK)
            memcpy(e->c->lookup, plain.p, sizeof(e->c->lookup));
        else
            md_err_prefix(err, "the store's lookup key: ");
    } else if (rc == SQLITE_DONE) {
        unsigned char sealed[sizeof(e->c->lookup) + MD_AEAD_OVERHEAD];

        sqlite3_finalize(st);
        st = NULL;
        rc = md_aead_random(e->c->lookup, sizeof(e->c->lookup), err);
        if (rc == MD_OK)
            rc = md_aead_seal(probe.aead, LOOKUP_AAD, e->c->lookup, sizeof(e->c->lookup), sealed,
                              sizeof(sealed), &len, err);
        if (rc == MD_OK) {
            rc = sqlite3_prepare_v2(tx->db, "INSERT INTO crypt (name, value) VALUES ('lookup', ?1)",
                                    -1, &st, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_blob(st, 1, sealed, (int)len, SQLITE_STATIC);
                rc = sqlite3_step(st);
            }
            rc = rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "store the lookup key", err);
        }
    } else {
        rc = md_store__fail(tx, rc, "read the lookup key", err);
    }
    if (rc == MD_OK) {
        sqlite3_finalize(st);
        st = NULL;
        rc = sqlite3_prepare_v2(tx->db, "SELECT 1 FROM crypt WHERE name = 'rotation'", -1, &st,
                                NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        e->resume = rc == SQLITE_ROW;
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE
                 ? MD_OK
                 : md_store__fail(tx, rc, "read the rotation's mark", err);
    }
    if (rc == MD_OK)
        rc = md_store__crypt_attach(tx, e->c, err);
out:
    sqlite3_finalize(st);
    cbuf_release(&plain);
    md_aead_free(probe.aead);
    return rc;
}

static int detach_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)ctx;
    (void)err;
    md_store__crypt_detach(tx);
    return MD_OK;
}

int md_store_crypt_enable(struct md_store *s, const struct md_aead_keys *keys, struct md_err *err)
{
    struct enable e;
    int rc;

    if (md_store__crypt_get(s) != NULL)
        return md_err_set(err, MD_EINTERNAL, "encryption is on already");
    e.resume = false;
    e.c = md_xcalloc(1, sizeof(*e.c));
    e.c->keys = keys;
    e.c->rotor = rotor_new(s);
    rc = md_store_call(s, enable_run, &e, err);
    if (rc != MD_OK) {
        /* Attached before a commit that failed: the connection lets go of it first. */
        if (md_store_call(s, detach_run, NULL, NULL) != MD_OK)
            md_log_kv(MD_LOG_ERROR, "the store could not let go of a failed encryption set-up",
                      MD_KV_END);
        md_store__crypt_free(e.c);
        return rc;
    }
    md_store__crypt_set(s, e.c);
    if (e.resume) {
        struct md_store_rotation r;
        struct md_err rerr;

        /* Stopped or killed half-way: the rest is resealed now, under the current key. */
        md_log_kv(MD_LOG_INFO, "resuming a data key rotation that had not finished", MD_KV_END);
        if (md_store_rotate_start(s, &r, &rerr) != MD_OK)
            md_log_kv(MD_LOG_ERROR, "the data key rotation could not resume", "reason", rerr.msg,
                      MD_KV_END);
    }
    return MD_OK;
}

bool md_store_crypt_on(struct md_store *s)
{
    return md_store__crypt_get(s) != NULL;
}

static int sealed_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    bool *sealed = ctx;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, "SELECT 1 FROM crypt WHERE name = 'lookup'", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    *sealed = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        rc = md_store__fail(tx, rc, "read the lookup key", err);
    else
        rc = MD_OK;
    sqlite3_finalize(st);
    return rc;
}

int md_store_crypt_sealed(struct md_store *s, bool *sealed, struct md_err *err)
{
    *sealed = false;
    return md_store_call(s, sealed_run, sealed, err);
}

/* ----------------------------------------------------------- rotation */

#define ROTATE_CHUNK  256 /* rows per store job */
#define ROTATE_NAP_MS 5   /* between jobs, so other writers get the store first */

/* What rotation walks: a table by its id, the statement that reseals one id range. */
static const struct pass {
    const char *table;
    const char *sql; /* ?1, ?2: the id range [lo, hi) */
} passes[] = {
    {"crypt", "UPDATE crypt SET value = md_reseal(value, '" LOOKUP_AAD "') WHERE rowid >= ?1 AND "
              "rowid < ?2 AND name = 'lookup' AND md_stale(value)"},
    {"predictions",
     "UPDATE predictions SET keys = md_reseal(keys, '" MD_AAD_KEYS "'), features = "
     "md_reseal(features, '" MD_AAD_FEATURES "'), label = md_reseal(label, '" MD_AAD_LABEL
     "'), outputs = md_reseal(outputs, '" MD_AAD_OUTPUTS "') WHERE id >= ?1 AND id < ?2 AND "
     "(md_stale(keys) OR md_stale(features) OR md_stale(label) OR md_stale(outputs))"},
    {"prediction_keys", "UPDATE prediction_keys SET value = md_lookup(value) WHERE rowid >= ?1 "
                        "AND rowid < ?2 AND substr(value, 1, 12) <> '" MD_STORE__LOOKUP_PREFIX "'"},
    {"feedback", "UPDATE feedback SET comment = md_reseal(comment, '" MD_AAD_FEEDBACK
                 "'), key_value = md_lookup(key_value) WHERE id >= ?1 AND id < ?2 AND "
                 "(md_stale(comment) OR (key_value IS NOT NULL AND substr(key_value, 1, 12) <> "
                 "'" MD_STORE__LOOKUP_PREFIX "'))"},
    {"review_items", "UPDATE review_items SET comment = md_reseal(comment, '" MD_AAD_REVIEW
                     "') WHERE id >= ?1 AND id < ?2 AND md_stale(comment)"},
};
#define N_PASSES (sizeof(passes) / sizeof(passes[0]))

struct md_store__rotor {
    struct md_store *s;
    pthread_mutex_t lock; /* guards the fields below */
    pthread_t thread;
    bool joinable;     /* thread was started and not yet joined */
    _Atomic bool stop; /* md_store__crypt_stop asks the thread to end */
    struct md_store_rotation p;
    int64_t hi[N_PASSES]; /* each table's max rowid at the start, + 1 (thread only) */
};

struct step {
    struct md_store__rotor *r;
    size_t pass;
    int64_t lo, hi;
    int64_t rows;    /* out: rows of the range */
    int64_t changed; /* out: rows rewritten */
};

static struct md_store__rotor *rotor_new(struct md_store *s)
{
    struct md_store__rotor *r = md_xcalloc(1, sizeof(*r));

    r->s = s;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static int step_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct step *s = ctx;
    sqlite3_stmt *st = NULL;
    char count[160];
    int rc;

    (void)snprintf(count, sizeof(count), "SELECT count(*) FROM %s WHERE rowid >= ?1 AND rowid < ?2",
                   passes[s->pass].table);
    rc = sqlite3_prepare_v2(tx->db, count, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, s->lo);
        sqlite3_bind_int64(st, 2, s->hi);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            s->rows = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_ROW)
        return md_store__fail(tx, rc, "count rows to reseal", err);
    /* The bytes a value is rewritten from (in clear, or under an old key) are zeroed, not
     * left in the page's free space. */
    (void)sqlite3_exec(tx->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    rc = sqlite3_prepare_v2(tx->db, passes[s->pass].sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, s->lo);
        sqlite3_bind_int64(st, 2, s->hi);
        rc = sqlite3_step(st);
    }
    s->changed = rc == SQLITE_DONE ? sqlite3_changes64(tx->db) : 0;
    sqlite3_finalize(st);
    (void)sqlite3_exec(tx->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "reseal stored values", err);
    return MD_OK;
}

/* The first job: each table's bounds and rows, for the progress. */
static int bounds_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_store__rotor *r = ctx;
    int64_t total = 0;

    for (size_t i = 0; i < N_PASSES; i++) {
        sqlite3_stmt *st = NULL;
        char sql[128];
        int rc;

        (void)snprintf(sql, sizeof(sql), "SELECT coalesce(max(rowid), 0), count(*) FROM %s",
                       passes[i].table);
        rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            r->hi[i] = sqlite3_column_int64(st, 0) + 1;
            total += sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
            return md_store__fail(tx, rc, "count rows to reseal", err);
    }
    /* The mark that makes the next start resume it, should this one not finish. */
    if (sqlite3_exec(tx->db,
                     "INSERT OR REPLACE INTO crypt (name, value) VALUES ('rotation', 'running')",
                     NULL, NULL, NULL) != SQLITE_OK)
        return md_store__fail(tx, sqlite3_errcode(tx->db), "mark the rotation", err);
    pthread_mutex_lock(&r->lock);
    r->p.rows_total = total;
    pthread_mutex_unlock(&r->lock);
    return MD_OK;
}

/* The last job: every value is resealed, the mark goes. */
static int unmark_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)ctx;
    if (sqlite3_exec(tx->db, "DELETE FROM crypt WHERE name = 'rotation'", NULL, NULL, NULL) !=
        SQLITE_OK)
        return md_store__fail(tx, sqlite3_errcode(tx->db), "clear the rotation's mark", err);
    return MD_OK;
}

/*
 * After the last batch, from a connection of its own (a checkpoint cannot
 * run inside the store thread's transactions): the write-ahead log's older
 * copies of the pages (values in clear or under the old key) are copied
 * back and the log truncated. A reader in the way only leaves that to the
 * next checkpoint, so a failure is not the rotation's.
 */
static void checkpoint(struct md_store *s)
{
    struct md_store_info info;
    sqlite3 *db = NULL;

    md_store_get_info(s, &info);
    if (sqlite3_open_v2(info.location, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
        SQLITE_OK) {
        sqlite3_busy_timeout(db, md_store__busy_ms);
        /* A read first: a connection knows the file is in WAL mode only once it has read it. */
        if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
                SQLITE_OK)
            md_log_kv(MD_LOG_DEBUG, "the checkpoint after a key rotation was left undone", "reason",
                      sqlite3_errmsg(db), MD_KV_END);
    }
    sqlite3_close(db);
}

static void nap(void)
{
    struct timespec ts = {0, ROTATE_NAP_MS * 1000000L};

    (void)nanosleep(&ts, NULL);
}

static void *rotate_main(void *arg)
{
    struct md_store__rotor *r = arg;
    struct md_err err;
    int rc;

    md_err_clear(&err);
    rc = md_store_call(r->s, bounds_run, r, &err);
    for (size_t i = 0; rc == MD_OK && i < N_PASSES; i++) {
        for (int64_t lo = 1; rc == MD_OK && lo < r->hi[i]; lo += ROTATE_CHUNK) {
            /* Rows made after the start are sealed under the current key already. */
            int64_t hi = lo + ROTATE_CHUNK < r->hi[i] ? lo + ROTATE_CHUNK : r->hi[i];
            struct step s = {r, i, lo, hi, 0, 0};

            if (atomic_load(&r->stop)) {
                rc = md_err_set(&err, MD_EUNAVAIL, "stopped: modeld is shutting down");
                break;
            }
            rc = md_store_call(r->s, step_run, &s, &err);
            pthread_mutex_lock(&r->lock);
            r->p.rows_done += s.rows;
            r->p.values_resealed += s.changed;
            pthread_mutex_unlock(&r->lock);
            nap();
        }
    }
    if (rc == MD_OK)
        rc = md_store_call(r->s, unmark_run, NULL, &err);
    if (rc == MD_OK)
        checkpoint(r->s);
    pthread_mutex_lock(&r->lock);
    r->p.state = rc == MD_OK ? MD_ROTATION_DONE : MD_ROTATION_FAILED;
    r->p.ended_ms = md_store__now_ms();
    if (rc != MD_OK)
        (void)snprintf(r->p.error, sizeof(r->p.error), "%s", err.msg);
    pthread_mutex_unlock(&r->lock);
    md_log_kv(rc == MD_OK ? MD_LOG_INFO : MD_LOG_ERROR,
              rc == MD_OK ? "data key rotation finished" : "data key rotation failed", "key_id",
              r->p.key_id, "reason", rc == MD_OK ? "" : err.msg, MD_KV_END);
    return NULL;
}

int md_store_rotate_start(struct md_store *s, struct md_store_rotation *out, struct md_err *err)
{
    const struct md_store__crypt *c = md_store__crypt_get(s);
    struct md_store__rotor *r;
    int rc;

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return md_err_set(err, MD_EUNAVAIL,
                          "encryption at rest is off: start modeld with --data-key-file");
    r = c->rotor;
    pthread_mutex_lock(&r->lock);
    if (r->p.state == MD_ROTATION_RUNNING) {
        *out = r->p;
        pthread_mutex_unlock(&r->lock);
        return md_err_set(err, MD_ECONFLICT, "a rotation is running already (%lld of %lld rows)",
                          (long long)out->rows_done, (long long)out->rows_total);
    }
    if (r->joinable) {
        pthread_join(r->thread, NULL); /* it has finished: its state says so */
        r->joinable = false;
    }
    memset(&r->p, 0, sizeof(r->p));
    r->p.state = MD_ROTATION_RUNNING;
    r->p.started_ms = md_store__now_ms();
    md_aead_key_id_hex(md_aead_keys_current(c->keys), r->p.key_id);
    atomic_store(&r->stop, false);
    rc = pthread_create(&r->thread, NULL, rotate_main, r);
    if (rc != 0) {
        r->p.state = MD_ROTATION_FAILED;
        (void)snprintf(r->p.error, sizeof(r->p.error), "cannot start a thread: %s", strerror(rc));
    } else {
        r->joinable = true;
    }
    *out = r->p;
    pthread_mutex_unlock(&r->lock);
    if (rc != 0)
        return md_err_set(err, MD_EINTERNAL, "cannot start the rotation's thread: %s",
                          strerror(rc));
    return MD_OK;
}

int md_store_rotate_progress(struct md_store *s, struct md_store_rotation *out, struct md_err *err)
{
    const struct md_store__crypt *c = md_store__crypt_get(s);

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return md_err_set(err, MD_EUNAVAIL,
                          "encryption at rest is off: start modeld with --data-key-file");
    pthread_mutex_lock(&c->rotor->lock);
    *out = c->rotor->p;
    pthread_mutex_unlock(&c->rotor->lock);
    md_aead_key_id_hex(md_aead_keys_current(c->keys), out->key_id);
    return MD_OK;
}

void md_store__crypt_stop(struct md_store__crypt *c)
{
    struct md_store__rotor *r = c != NULL ? c->rotor : NULL;
    bool join;

    if (r == NULL)
        return;
    atomic_store(&r->stop, true);
    pthread_mutex_lock(&r->lock);
    join = r->joinable;
    r->joinable = false;
    pthread_mutex_unlock(&r->lock);
    if (join)
        pthread_join(r->thread, NULL);
}

void md_store__crypt_free(struct md_store__crypt *c)
{
    if (c == NULL)
        return;
    md_store__crypt_stop(c);
    if (c->rotor != NULL) {
        pthread_mutex_destroy(&c->rotor->lock);
        free(c->rotor);
    }
    OPENSSL_cleanse(c->lookup, sizeof(c->lookup));
    free(c);
}
