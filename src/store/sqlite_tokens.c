/* SPDX-License-Identifier: MIT */
/*
 * sqlite_tokens.c: bearer tokens in SQLite (table tokens, migration 4).
 * Only the hash of a secret is written; the in-memory table that requests
 * are checked against is built above (api/token.c) from md_store_tx_tokens.
 * Token changes are rare: each statement is prepared when used.
 */
#include "store/sqlite_int.h"

#include <string.h>

/* Prepares sql: the statement, or NULL with err set. */
static sqlite3_stmt *prep(struct md_store_tx *tx, const char *sql, const char *what,
                          struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        (void)md_store__fail(tx, rc, what, err);
        return NULL;
    }
    return st;
}

/* Steps a statement that returns no row once, then finalizes it. */
static int run_once(struct md_store_tx *tx, sqlite3_stmt *st, const char *what, struct md_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return MD_OK;
    return md_store__fail(tx, rc, what, err);
}

int md_store_tx_token_add(struct md_store_tx *tx, const struct md_store_token *t, int64_t *id,
                          struct md_err *err)
{
    static const char sql[] =
        "INSERT INTO tokens (name, hash, role, models, rate, burst, created_ms, created_by, "
        "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    sqlite3_stmt *st;
    int rc;

    if (t->name == NULL || t->name[0] == '\0')
        return md_err_set(err, MD_EINVAL, "token name: missing");
    if (!md_store__is_sha256(t->hash))
        return md_err_set(err, MD_EINVAL, "token hash: not 64 lower-case hex digits");
    st = prep(tx, sql, "add a token", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->role, -1, SQLITE_STATIC);
    if (t->models != NULL)
        sqlite3_bind_text(st, 4, t->models, -1, SQLITE_STATIC);
    if (t->rate > 0) {
        sqlite3_bind_double(st, 5, t->rate);
        sqlite3_bind_int64(st, 6, t->burst);
    }
    sqlite3_bind_int64(st, 7, t->created_ms);
    sqlite3_bind_text(st, 8, t->created_by != NULL ? t->created_by : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, t->expires_ms);
    rc = run_once(tx, st, "add a token", err);
    if (rc == MD_ECONFLICT)
        return md_err_set(err, MD_ECONFLICT, "token name '%s': taken", t->name);
    if (rc == MD_OK && id != NULL)
        *id = sqlite3_last_insert_rowid(tx->db);
    return rc;
}

int md_store_tx_tokens(struct md_store_tx *tx,
                       void (*fn)(void *ctx, const struct md_store_token *t), void *ctx,
                       struct md_err *err)
{
    static const char sql[] =
        "SELECT id, name, hash, role, models, rate, burst, created_ms, created_by, expires_ms, "
        "revoked_ms, last_used_ms FROM tokens ORDER BY id";
    sqlite3_stmt *st = prep(tx, sql, "list the tokens", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct md_store_token t;

        t.id = sqlite3_column_int64(st, 0);
        t.name = md_store__column_text(st, 1);
        t.hash = md_store__column_text(st, 2);
        t.role = md_store__column_text(st, 3);
        t.models = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : md_store__column_text(st, 4);
        t.rate = sqlite3_column_type(st, 5) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 5);
        t.burst = sqlite3_column_int64(st, 6);
        t.created_ms = sqlite3_column_int64(st, 7);
        t.created_by = md_store__column_text(st, 8);
        t.expires_ms = sqlite3_column_int64(st, 9);
        t.revoked_ms = sqlite3_column_int64(st, 10);
        t.last_used_ms = sqlite3_column_int64(st, 11);
        fn(ctx, &t);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "list the tokens", err);
    return MD_OK;
}

int md_store_tx_token_revoke(struct md_store_tx *tx, const char *name, int64_t now_ms,
                             struct md_err *err)
{
    sqlite3_stmt *st = prep(tx,
                            "UPDATE tokens SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ?2 "
                            "ELSE revoked_ms END WHERE name = ?1",
                            "revoke a token", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = run_once(tx, st, "revoke a token", err);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        return md_err_set(err, MD_ENOTFOUND, "token '%s': no such token", name);
    return rc;
}

int md_store_tx_token_used(struct md_store_tx *tx, int64_t id, int64_t at_ms, struct md_err *err)
{
    sqlite3_stmt *st =
        prep(tx, "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1 AND last_used_ms < ?2",
             "record a token's last use", err);

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, at_ms);
    return run_once(tx, st, "record a token's last use", err);
}
