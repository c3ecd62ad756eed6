/* SPDX-License-Identifier: MIT */
/*
 * sqlite_audit.c: the audit chain in the SQLite store: the key (held by the
 * connection, never written), the MAC of an entry and of the head record,
 * appends, listings and the check of the whole chain. What is recorded and
 * when is the callers' (api/audit.c for requests, control/ for decisions).
 *
 * An entry's MAC covers a canonical text of its fields (each as its length
 * and bytes, NULL apart from "", so no two contents share a text) with its
 * id and the previous entry's MAC: changing, removing or moving an entry
 * breaks the MAC of the entry itself or of the next. The head record (one
 * row) holds the last id and MAC under a MAC of its own, so that entries cut
 * from the tail show too; an append moves it in the same transaction.
 */
#include "store/sqlite_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct md_store__audit {
    unsigned char key[MD_AUDIT_KEY_MAX];
    size_t len;
    char key_id[MD_AUDIT_KEY_ID_MAX];
};

void md_store__audit_free(struct md_store__audit *a)
{
    if (a == NULL)
        return;
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

bool md_store_tx_audit_on(const struct md_store_tx *tx)
{
    return tx != NULL && tx->audit != NULL;
}

/* ---- MACs ---------------------------------------------------------------- */

/* A field of the canonical text: "-\n" for NULL, else "<length>:<bytes>\n". */
static void put_field(struct md_buf *b, const char *s)
{
    if (s == NULL) {
        (void)md_buf_puts(b, "-\n");
        return;
    }
    (void)md_buf_printf(b, "%zu:", strlen(s));
    (void)md_buf_append(b, s, strlen(s));
    (void)md_buf_putc(b, '\n');
}

/* The hex HMAC-SHA256 of b's bytes under a's key into hex; MD_ENOMEM when b failed. */
static int mac_of(const struct md_store__audit *a, const struct md_buf *b,
                  char hex[MD_AUDIT_MAC_HEX], struct md_err *err)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (md_buf_error(b) != MD_OK)
        return md_err_set(err, MD_ENOMEM, "audit entry too large to sign");
    if (HMAC(EVP_sha256(), a->key, (int)a->len, (const unsigned char *)b->data, b->len, mac,
             &len) == NULL ||
        len != 32)
        return md_err_set(err, MD_EINTERNAL, "audit entry: HMAC-SHA256 failed");
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
    return MD_OK;
}

/* The MAC of entry e (its id, at_ms and key_id as given) linked to prev. */
static int audit_mac(const struct md_store__audit *a, const struct md_store_audit *e,
                     const char *prev, char hex[MD_AUDIT_MAC_HEX], struct md_err *err)
{
    struct md_buf b;
    int rc;

    md_buf_init(&b, (size_t)4 << 20);
    (void)md_buf_printf(&b, "modeld-audit/1\n%lld\n%lld\n", (long long)e->id, (long long)e->at_ms);
    put_field(&b, e->actor);
    put_field(&b, e->action);
    put_field(&b, e->target);
    put_field(&b, e->address);
    put_field(&b, e->outcome);
    put_field(&b, e->details);
    put_field(&b, e->key_id);
    put_field(&b, prev);
    rc = mac_of(a, &b, hex, err);
    md_buf_release(&b);
    return rc;
}

/* The head record's MAC over the last id and mac. */
static int head_mac(const struct md_store__audit *a, int64_t last_id, const char *last_mac,
                    const char *key_id, char hex[MD_AUDIT_MAC_HEX], struct md_err *err)
{
    struct md_buf b;
    int rc;

    md_buf_init(&b, 4096);
    (void)md_buf_printf(&b, "modeld-audit-head/1\n%lld\n", (long long)last_id);
    put_field(&b, last_mac);
    put_field(&b, key_id);
    rc = mac_of(a, &b, hex, err);
    md_buf_release(&b);
    return rc;
}

/* Whether two hex MACs are equal, in constant time. */
static bool same_mac(const char *x, const char *y)
{
    return strlen(x) == 64 && strlen(y) == 64 && CRYPTO_memcmp(x, y, 64) == 0;
}

/* ---- the key ------------------------------------------------------------- */

static int run_key(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    MD_UNUSED(err);
    md_store__audit_free(tx->audit);
    tx->audit = ctx;
    return MD_OK;
}

int md_store_audit_key(struct md_store *s, const void *key, size_t len,
                       char key_id[MD_AUDIT_KEY_ID_MAX], struct md_err *err)
{
    struct md_store__audit *a;
    char hex[MD_SHA256_HEX];
    int rc;

    if (len < MD_AUDIT_KEY_MIN || len > MD_AUDIT_KEY_MAX)
        return md_err_set(err, MD_EINVAL, "audit key: %zu bytes; it must have %d to %d", len,
                          MD_AUDIT_KEY_MIN, MD_AUDIT_KEY_MAX);
    a = md_xcalloc(1, sizeof(*a));
    memcpy(a->key, key, len);
    a->len = len;
    md_sha256_hex(key, len, hex);
    memcpy(a->key_id, hex, 8);
    a->key_id[8] = '\0';
    if (key_id != NULL)
        memcpy(key_id, a->key_id, 9);
    rc = md_store_call(s, run_key, a, err);
    if (rc != MD_OK)
        md_store__audit_free(a); /* not taken: the job did not run */
    return rc;
}

int md_store_tx_audit_subject(const struct md_store_tx *tx, const char *subject, char *out,
                              size_t n, struct md_err *err)
{
    struct md_buf b;
    char hex[MD_AUDIT_MAC_HEX];
    int rc;

    if (tx->audit == NULL)
        return md_err_set(err, MD_EUNAVAIL, "the audit log is off (no --audit-key-file)");
    if (n < 41)
        return md_err_set(err, MD_EINVAL, "subject hash: no room");
    md_buf_init(&b, 4096);
    (void)md_buf_puts(&b, "subject\n");
    (void)md_buf_puts(&b, subject);
    rc = mac_of(tx->audit, &b, hex, err);
    md_buf_release(&b);
    if (rc != MD_OK)
        return rc;
    (void)snprintf(out, n, "subject:%.32s", hex);
    return MD_OK;
}

/* ---- append ----------------------------------------------------------------- */

static const char head_sql[] = "SELECT last_id, last_mac, key_id, mac FROM audit_head WHERE id = 1";
static const char last_sql[] = "SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1";
static const char insert_sql[] =
    "INSERT INTO audit (id, at_ms, actor, action, target, address, outcome, details, key_id, mac) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char head_put_sql[] =
    "INSERT OR REPLACE INTO audit_head (id, last_id, last_mac, key_id, mac) "
    "VALUES (1, ?1, ?2, ?3, ?4)";

/* Where the chain ends. */
struct tail {
    int64_t id;                 /* the last entry's id, 0 for none */
    char mac[MD_AUDIT_MAC_HEX]; /* its mac, "" for none */
    int head;                   /* 1 the head holds, 0 missing, -1 it does not match its MAC */
};

/* Runs a one-row query prepared for this call: 1 with a row left in *st, 0 none, or an error. */
static int one_row(struct md_store_tx *tx, const char *sql, sqlite3_stmt **st, const char *what,
                   struct md_err *err)
{
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, st, NULL);

    if (rc != SQLITE_OK) {
        rc = md_store__fail(tx, rc, what, err);
        sqlite3_finalize(*st);
        *st = NULL;
        return rc;
    }
    rc = sqlite3_step(*st);
    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_finalize(*st);
    *st = NULL;
    return rc == SQLITE_DONE ? 0 : md_store__fail(tx, rc, what, err);
}

/* Reads the head record into t: whether it is there and holds. */
static int read_head(struct md_store_tx *tx, struct tail *t, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    char want[MD_AUDIT_MAC_HEX];
    int rc = one_row(tx, head_sql, &st, "read the audit head", err);

    t->id = 0;
    t->mac[0] = '\0';
    t->head = 0;
    if (rc <= 0)
        return rc;
    t->id = sqlite3_column_int64(st, 0);
    (void)snprintf(t->mac, sizeof(t->mac), "%s", md_store__column_text(st, 1));
    rc = head_mac(tx->audit, t->id, t->mac, md_store__column_text(st, 2), want, err);
    if (rc == MD_OK)
        t->head = strcmp(md_store__column_text(st, 2), tx->audit->key_id) == 0 &&
                          same_mac(want, md_store__column_text(st, 3))
                      ? 1
                      : -1;
    sqlite3_finalize(st);
    return rc;
}

/* The last entry in the table, whatever the head says. */
static int read_last(struct md_store_tx *tx, struct tail *t, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = one_row(tx, last_sql, &st, "read the audit log", err);

    t->id = 0;
    t->mac[0] = '\0';
    if (rc <= 0)
        return rc;
    t->id = sqlite3_column_int64(st, 0);
    (void)snprintf(t->mac, sizeof(t->mac), "%s", md_store__column_text(st, 1));
    sqlite3_finalize(st);
    return MD_OK;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Inserts e (id, at_ms, key_id set) with its MAC after t, and moves t on. */
static int insert(struct md_store_tx *tx, struct md_store_audit *e, struct tail *t,
                  struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    char mac[MD_AUDIT_MAC_HEX];
    int rc = audit_mac(tx->audit, e, t->mac, mac, err);

    if (rc != MD_OK)
        return rc;
    rc = sqlite3_prepare_v2(tx->db, insert_sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return md_store__fail(tx, rc, "prepare an audit entry", err);
    }
    sqlite3_bind_int64(st, 1, e->id);
    sqlite3_bind_int64(st, 2, e->at_ms);
    bind_text(st, 3, e->actor);
    bind_text(st, 4, e->action);
    bind_text(st, 5, e->target);
    bind_text(st, 6, e->address);
    bind_text(st, 7, e->outcome);
    bind_text(st, 8, e->details);
    bind_text(st, 9, e->key_id);
    bind_text(st, 10, mac);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "append an audit entry", err);
    t->id = e->id;
    memcpy(t->mac, mac, sizeof(mac));
    return MD_OK;
}

/* Writes the head record for t. */
static int put_head(struct md_store_tx *tx, const struct tail *t, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    char mac[MD_AUDIT_MAC_HEX];
    int rc = head_mac(tx->audit, t->id, t->mac, tx->audit->key_id, mac, err);

    if (rc != MD_OK)
        return rc;
    rc = sqlite3_prepare_v2(tx->db, head_put_sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return md_store__fail(tx, rc, "prepare the audit head", err);
    }
    sqlite3_bind_int64(st, 1, t->id);
    sqlite3_bind_text(st, 2, t->mac, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, tx->audit->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, mac, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "write the audit head", err);
}

int md_store_tx_audit_add(struct md_store_tx *tx, const struct md_store_audit *e, int64_t *id,
                          struct md_err *err)
{
    struct md_store_audit x = *e;
    struct tail t;
    int64_t now = md_store__now_ms();
    int rc;

    if (id != NULL)
        *id = 0;
    if (tx->audit == NULL)
        return MD_OK;
    rc = read_head(tx, &t, err);
    if (rc == MD_OK && t.head != 1) {
        int was = t.head;

        rc = read_last(tx, &t, err);
        if (rc == MD_OK && t.id > 0) {
            /* Entries exist and the head does not vouch for them: the loss goes
             * on record before the entry, linked to the last entry found. */
            struct md_store_audit lost = {t.id + 1,
                                          now,
                                          "modeld",
                                          was == 0 ? "audit.head_missing" : "audit.head_invalid",
                                          NULL,
                                          NULL,
                                          "recorded",
                                          NULL,
                                          tx->audit->key_id,
                                          NULL};

            md_log_kv(MD_LOG_ERROR, "the audit log's head record is missing or altered", "entry",
                      lost.action, MD_KV_END);
            rc = insert(tx, &lost, &t, err);
        }
    }
    if (rc != MD_OK)
        return rc;
    x.id = t.id + 1;
    x.at_ms = e->at_ms != 0 ? e->at_ms : now;
    x.key_id = tx->audit->key_id;
    x.mac = NULL;
    rc = insert(tx, &x, &t, err);
    if (rc == MD_OK)
        rc = put_head(tx, &t, err);
    if (rc == MD_OK && id != NULL)
        *id = t.id;
    return rc;
}

int md_store_tx_audit_decision(struct md_store_tx *tx, const char *actor, const char *action,
                               const char *target, const char *outcome, const char *details,
                               struct md_err *err)
{
    struct md_store_audit e = {
        0, 0, actor, action, target, NULL, outcome != NULL ? outcome : "ok", details, NULL, NULL};

    return md_store_tx_audit_add(tx, &e, NULL, err);
}

/* ---- listing ------------------------------------------------------------------ */

/* The row of st (the columns of list_cols) as an entry. */
static void row_entry(sqlite3_stmt *st, struct md_store_audit *e)
{
    e->id = sqlite3_column_int64(st, 0);
    e->at_ms = sqlite3_column_int64(st, 1);
    e->actor = (const char *)sqlite3_column_text(st, 2);
    e->action = (const char *)sqlite3_column_text(st, 3);
    e->target = (const char *)sqlite3_column_text(st, 4);
    e->address = (const char *)sqlite3_column_text(st, 5);
    e->outcome = (const char *)sqlite3_column_text(st, 6);
    e->details = (const char *)sqlite3_column_text(st, 7);
    e->key_id = (const char *)sqlite3_column_text(st, 8);
    e->mac = (const char *)sqlite3_column_text(st, 9);
}

#define LIST_COLS "id, at_ms, actor, action, target, address, outcome, details, key_id, mac"

int md_store_tx_audit_list(struct md_store_tx *tx, const struct md_store_audit_filter *f,
                           void (*fn)(void *ctx, const struct md_store_audit *e), void *ctx,
                           struct md_err *err)
{
    /* Every filter is in the statement; one left out binds NULL and holds. */
    static const char sql[] =
        "SELECT " LIST_COLS " FROM audit WHERE (?1 IS NULL OR actor = ?1) "
        "AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2) "
        "AND (?3 IS NULL OR instr(' ' || coalesce(target, '') || ' ', ' ' || ?3 || ' ') > 0 "
        "OR instr(' ' || coalesce(target, '') || ' ', '=' || ?3 || ' ') > 0) "
        "AND at_ms >= ?4 AND (?5 = 0 OR at_ms < ?5) AND (?6 = 0 OR id < ?6) AND id > ?7 "
        "ORDER BY CASE WHEN ?9 THEN id ELSE -id END LIMIT ?8";
    sqlite3_stmt *st = NULL;
    size_t limit = f->limit == 0 ? 100 : f->limit > 10000 ? 10000 : f->limit;
    struct md_store_audit e;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return md_store__fail(tx, rc, "list the audit log", err);
    }
    bind_text(st, 1, f->actor != NULL && f->actor[0] != '\0' ? f->actor : NULL);
    bind_text(st, 2, f->action != NULL && f->action[0] != '\0' ? f->action : NULL);
    bind_text(st, 3, f->target != NULL && f->target[0] != '\0' ? f->target : NULL);
    sqlite3_bind_int64(st, 4, f->since_ms);
    sqlite3_bind_int64(st, 5, f->until_ms);
    sqlite3_bind_int64(st, 6, f->before_id);
    sqlite3_bind_int64(st, 7, f->after_id);
    sqlite3_bind_int64(st, 8, (int64_t)limit);
    sqlite3_bind_int(st, 9, f->oldest_first ? 1 : 0);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_entry(st, &e);
        fn(ctx, &e);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "list the audit log", err);
}

/* ---- verify ------------------------------------------------------------------ */

/* Marks c broken at entry id, with the reason. */
static void broken(struct md_store_audit_check *c, int64_t id, const char *fmt, ...)
    MD_PRINTF(3, 4);

static void broken(struct md_store_audit_check *c, int64_t id, const char *fmt, ...)
{
    va_list ap;

    c->ok = false;
    c->first_bad = id;
    va_start(ap, fmt);
    (void)vsnprintf(c->reason, sizeof(c->reason), fmt, ap); /* cut when long */
    va_end(ap);
}

/* Checks one entry read from the table against the chain so far (t); moves t on. */
static int check_entry(const struct md_store_tx *tx, const struct md_store_audit *e, struct tail *t,
                       struct md_store_audit_check *c, struct md_err *err)
{
    char want[MD_AUDIT_MAC_HEX];
    int rc;

    if (e->id != t->id + 1) {
        if (t->id == 0)
            broken(c, t->id + 1, "entry %lld is missing: the chain starts at entry %lld",
                   (long long)t->id + 1, (long long)e->id);
        else
            broken(c, t->id + 1, "entry %lld is missing: entry %lld is followed by entry %lld",
                   (long long)t->id + 1, (long long)t->id, (long long)e->id);
        return MD_OK;
    }
    if (e->key_id == NULL || strcmp(e->key_id, tx->audit->key_id) != 0) {
        broken(c, e->id, "entry %lld names key '%.16s', not the key given ('%s')", (long long)e->id,
               e->key_id != NULL ? e->key_id : "", tx->audit->key_id);
        return MD_OK;
    }
    rc = audit_mac(tx->audit, e, t->mac, want, err);
    if (rc != MD_OK)
        return rc;
    if (e->mac == NULL || !same_mac(want, e->mac)) {
        broken(c, e->id,
               "entry %lld does not match its MAC: it was changed, moved or added without the "
               "key, or the entry before it was",
               (long long)e->id);
        return MD_OK;
    }
    t->id = e->id;
    memcpy(t->mac, want, sizeof(want));
    c->entries++;
    return MD_OK;
}

/* After every entry held (the chain ends at t): what the head says of the tail. */
static void check_head(const struct tail *t, const struct tail *head,
                       struct md_store_audit_check *c)
{
    if (head->head == 0) {
        c->head_id = -1;
        if (t->id > 0)
            broken(c, t->id + 1,
                   "the head record is missing: entries after entry %lld may have been removed",
                   (long long)t->id);
        return;
    }
    c->head_id = head->id;
    if (head->head < 0)
        broken(c, (head->id < t->id ? head->id : t->id) + 1,
               "the head record does not match its MAC: it was changed, or made with another key");
    else if (head->id > t->id)
        broken(c, t->id + 1,
               "entries %lld to %lld are missing: the tail of the chain was cut off after entry "
               "%lld",
               (long long)t->id + 1, (long long)head->id, (long long)t->id);
    else if (head->id < t->id)
        broken(c, head->id + 1, "entry %lld was added after the last entry the head records (%lld)",
               (long long)head->id + 1, (long long)head->id);
    else if (!same_mac(head->mac, t->mac))
        broken(c, t->id, "entry %lld differs from the one the head record holds", (long long)t->id);
}

int md_store_tx_audit_verify(struct md_store_tx *tx, struct md_store_audit_check *out,
                             struct md_err *err)
{
    static const char sql[] = "SELECT " LIST_COLS " FROM audit ORDER BY id";
    sqlite3_stmt *st = NULL;
    struct tail t = {0, "", 1};
    struct tail head;
    struct md_store_audit e;
    int rc;

    memset(out, 0, sizeof(*out));
    out->ok = true;
    if (tx->audit == NULL)
        return md_err_set(err, MD_EUNAVAIL, "the audit log is off (no --audit-key-file)");
    memcpy(out->key_id, tx->audit->key_id, sizeof(out->key_id));
    rc = read_head(tx, &head, err);
    if (rc != MD_OK)
        return rc;
    rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return md_store__fail(tx, rc, "read the audit log", err);
    }
    rc = MD_OK;
    while (out->ok && rc == MD_OK) {
        int s = sqlite3_step(st);

        if (s == SQLITE_DONE)
            break;
        if (s != SQLITE_ROW) {
            rc = md_store__fail(tx, s, "read the audit log", err);
            break;
        }
        row_entry(st, &e);
        rc = check_entry(tx, &e, &t, out, err);
    }
    sqlite3_finalize(st);
    if (rc == MD_OK && out->ok)
        check_head(&t, &head, out);
    else
        out->head_id = head.head == 0 ? -1 : head.id;
    return rc;
}
