/* SPDX-License-Identifier: MIT */
/*
 * sqlite_log.c: the prediction log's tables in SQLite: rows appended in
 * batches by the log's writer, with the key index feedback looks rows up by.
 */
#include "store/sqlite_int.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int add_keys(struct md_store_tx *tx, const struct md_store_prediction *p, int64_t id,
                    struct md_err *err)
{
    int rc = MD_OK;

    for (size_t k = 0; rc == MD_OK && k < p->n_keys; k++) {
        const struct md_store_key *key = &p->key_list[k];
        char hashed[MD_STORE__LOOKUP_LEN];
        sqlite3_stmt *st;

        if (key->name == NULL || key->value == NULL)
            continue;
        st = md_store__prep(tx, MD_SQL_PREDICTION_KEY_INSERT,
                            "INSERT INTO prediction_keys (model, name, value, prediction) "
                            "VALUES (?1, ?2, ?3, ?4)",
                            err);
        if (st == NULL)
            return err->code != MD_OK ? err->code : MD_EIO;
        sqlite3_bind_text(st, 1, p->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, md_store__lookup(tx, key->value, hashed), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, id);
        rc = md_store__exec(tx, st, "add a prediction's key", err);
    }
    return rc;
}

static int add_one(struct md_store_tx *tx, const struct md_store_prediction *p, int64_t now_ms,
                   struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t id;
    int rc;

    if (p->request_id == NULL || p->request_id[0] == '\0')
        return md_err_set(err, MD_EINVAL, "a prediction row has no request id");
    if (p->model == NULL || p->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "a prediction row has no model");
    st = md_store__prep(tx, MD_SQL_PREDICTION_INSERT,
                        "INSERT INTO predictions (request_id, row, at_ms, model, version, route, "
                        "shadow, status, latency_us, keys, features, label, score, outputs, "
                        "subject) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                        err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_text(st, 1, p->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p->row);
    sqlite3_bind_int64(st, 3, p->at_ms != 0 ? p->at_ms : now_ms);
    sqlite3_bind_text(st, 4, p->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, p->version);
    sqlite3_bind_text(st, 6, p->route != NULL ? p->route : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, p->shadow ? 1 : 0);
    sqlite3_bind_int(st, 8, p->status);
    sqlite3_bind_int64(st, 9, p->latency_us);
    if (isfinite(p->score))
        sqlite3_bind_double(st, 13, p->score);
    else
        sqlite3_bind_null(st, 13);
    rc = md_store__bind_sealed(tx, st, 10, MD_CBUF_KEYS, p->keys, MD_AAD_KEYS, err);
    if (rc == MD_OK)
        rc = md_store__bind_sealed(tx, st, 11, MD_CBUF_FEATURES, p->features, MD_AAD_FEATURES, err);
    if (rc == MD_OK)
        rc = md_store__bind_sealed(tx, st, 12, MD_CBUF_LABEL, p->label, MD_AAD_LABEL, err);
    if (rc == MD_OK)
        rc = md_store__bind_sealed(tx, st, 14, MD_CBUF_OUTPUTS, p->outputs, MD_AAD_OUTPUTS, err);
    if (rc != MD_OK) {
        sqlite3_reset(st);
        return rc;
    }
    bind_text_or_null(st, 15, p->subject);
    rc = md_store__exec(tx, st, "add a prediction", err);
    id = sqlite3_last_insert_rowid(tx->db);
    if (rc == MD_OK && p->n_keys > 0)
        rc = add_keys(tx, p, id, err);
    if (rc == MD_OK && p->review != NULL)
        rc = md_store__review_add(tx, p, id, now_ms, err);
    return rc;
}

int md_store_tx_predictions_add(struct md_store_tx *tx, const struct md_store_prediction *rows,
                                size_t n, struct md_err *err)
{
    int64_t now_ms = md_store__now_ms();
    int rc = MD_OK;

    for (size_t i = 0; rc == MD_OK && i < n; i++)
        rc = add_one(tx, &rows[i], now_ms, err);
    return rc;
}

/* ---- listing ---------------------------------------------------------------- */

#define LIST_LIMIT 100
#define LIST_MAX   10000

/* Appends s to the statement's text (sql, of size n): false when it would not fit. */
static bool sql_add(char *sql, size_t n, const char *s)
{
    size_t have = strlen(sql);
    size_t k = strlen(s);

    if (have + k + 1 > n)
        return false;
    memcpy(sql + have, s, k + 1);
    return true;
}

static const char *column_or_null(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/*
 * A statement per combination of filters, prepared for the call (a listing
 * is rare; each combination then uses its own index: the key index, the
 * request index, the model's time index, or the ids from the cursor on).
 */
int md_store_tx_predictions(struct md_store_tx *tx, const struct md_store_prediction_filter *f,
                            void (*fn)(void *ctx, const struct md_store_prediction *p), void *ctx,
                            struct md_err *err)
{
    bool by_model = f->model != NULL && f->model[0] != '\0';
    bool by_route = f->route != NULL && f->route[0] != '\0';
    bool by_key = f->key_name != NULL && f->key_value != NULL;
    bool by_request = f->request_id != NULL && f->request_id[0] != '\0';
    size_t limit = f->limit == 0 ? LIST_LIMIT : f->limit > LIST_MAX ? LIST_MAX : f->limit;
    char sql[1024] = "SELECT id, request_id, row, at_ms, model, version, route, shadow, status, "
                     "latency_us, keys, features, label, score, outputs FROM predictions "
                     "WHERE id > ?1";
    sqlite3_stmt *st = NULL;
    char hashed[MD_STORE__LOOKUP_LEN];
    bool ok = true;
    int rc;

    /* Without a time range, pages walk the ids (the table's order) from the cursor: the
     * model's time index would sort all of its rows for each page (unary + keeps the
     * planner off it). With one, that index finds the range. */
    if (by_model)
        ok = ok &&
             sql_add(sql, sizeof(sql),
                     f->since_ms > 0 || f->until_ms > 0 ? " AND model = ?2" : " AND +model = ?2");
    if (f->version > 0)
        ok = ok && sql_add(sql, sizeof(sql), " AND version = ?3");
    if (by_route)
        ok = ok && sql_add(sql, sizeof(sql), " AND route = ?4");
    if (by_key)
        ok = ok && sql_add(sql, sizeof(sql),
                           by_model ? " AND id IN (SELECT prediction FROM prediction_keys WHERE "
                                      "model = ?2 AND name = ?5 AND value IN (?6, ?11))"
                                    : " AND id IN (SELECT prediction FROM prediction_keys WHERE "
                                      "name = ?5 AND value IN (?6, ?11))");
    if (by_request)
        ok = ok && sql_add(sql, sizeof(sql), " AND request_id = ?7");
    if (f->since_ms > 0)
        ok = ok && sql_add(sql, sizeof(sql), " AND at_ms >= ?8");
    if (f->until_ms > 0)
        ok = ok && sql_add(sql, sizeof(sql), " AND at_ms < ?9");
    if (f->feedback != 0)
        ok = ok && sql_add(sql, sizeof(sql), f->feedback > 0 ? " AND EXISTS" : " AND NOT EXISTS");
    if (f->feedback != 0)
        ok = ok && sql_add(sql, sizeof(sql),
                           " (SELECT 1 FROM feedback WHERE feedback.request_id = "
                           "predictions.request_id AND feedback.row = predictions.row AND "
                           "feedback.current = 1)");
    ok = ok && sql_add(sql, sizeof(sql), " ORDER BY id LIMIT ?10");
    if (!ok)
        return md_err_set(err, MD_EINTERNAL, "the store's listing statement is too long");
    rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "list predictions", err);
    sqlite3_bind_int64(st, 1, f->after_id);
    if (by_model)
        sqlite3_bind_text(st, 2, f->model, -1, SQLITE_STATIC);
    if (f->version > 0)
        sqlite3_bind_int64(st, 3, f->version);
    if (by_route)
        sqlite3_bind_text(st, 4, f->route, -1, SQLITE_STATIC);
    if (by_key) {
        sqlite3_bind_text(st, 5, f->key_name, -1, SQLITE_STATIC);
        /* A value stored before encryption was turned on is in clear; after, hashed. */
        sqlite3_bind_text(st, 6, f->key_value, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, md_store__lookup(tx, f->key_value, hashed), -1, SQLITE_STATIC);
    }
    if (by_request)
        sqlite3_bind_text(st, 7, f->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, f->since_ms);
    sqlite3_bind_int64(st, 9, f->until_ms);
    sqlite3_bind_int64(st, 10, (int64_t)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct md_store_prediction p;

        memset(&p, 0, sizeof(p));
        p.id = sqlite3_column_int64(st, 0);
        p.request_id = column_or_null(st, 1);
        p.row = sqlite3_column_int64(st, 2);
        p.at_ms = sqlite3_column_int64(st, 3);
        p.model = column_or_null(st, 4);
        p.version = sqlite3_column_int64(st, 5);
        p.route = column_or_null(st, 6);
        p.shadow = sqlite3_column_int(st, 7) != 0;
        p.status = sqlite3_column_int(st, 8);
        p.latency_us = sqlite3_column_int64(st, 9);
        p.score = sqlite3_column_type(st, 13) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 13);
        rc = md_store__column_open(tx, st, 10, MD_CBUF_KEYS, MD_AAD_KEYS, &p.keys, err);
        if (rc == MD_OK)
            rc = md_store__column_open(tx, st, 11, MD_CBUF_FEATURES, MD_AAD_FEATURES, &p.features,
                                       err);
        if (rc == MD_OK)
            rc = md_store__column_open(tx, st, 12, MD_CBUF_LABEL, MD_AAD_LABEL, &p.label, err);
        if (rc == MD_OK)
            rc =
                md_store__column_open(tx, st, 14, MD_CBUF_OUTPUTS, MD_AAD_OUTPUTS, &p.outputs, err);
        if (rc != MD_OK) {
            sqlite3_finalize(st);
            md_err_prefix(err, "prediction %lld: ", (long long)p.id);
            return rc;
        }
        fn(ctx, &p);
    }
    if (rc != SQLITE_DONE) {
        rc = md_store__fail(tx, rc, "list predictions", err);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    return MD_OK;
}

/* ---- retention ---------------------------------------------------------------- */

/* The integer a one-value statement answers (NULL: dflt). */
static int query_i64(struct md_store_tx *tx, enum md_store__slot slot, const char *sql,
                     int64_t dflt, int64_t *out, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, slot, sql, err);
    int rc;

    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_type(st, 0) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return MD_OK;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        *out = dflt;
        return MD_OK;
    }
    return md_store__fail(tx, rc, "read the prediction log's bounds", err);
}

int md_store_tx_predictions_expire(struct md_store_tx *tx, int64_t before_ms, size_t chunk,
                                   int64_t *removed, struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t lo = 0;
    int rc;

    *removed = 0;
    rc = query_i64(tx, MD_SQL_PREDICTION_MIN_ID, "SELECT min(id) FROM predictions", 0, &lo, err);
    if (rc != MD_OK || lo == 0 || chunk == 0)
        return rc;
    st = md_store__prep(tx, MD_SQL_PREDICTION_EXPIRE_KEYS,
                        "DELETE FROM prediction_keys WHERE prediction >= ?1 AND prediction < ?2 "
                        "AND prediction IN (SELECT id FROM predictions WHERE id >= ?1 AND id < ?2 "
                        "AND at_ms < ?3)",
                        err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, lo + (int64_t)chunk);
    sqlite3_bind_int64(st, 3, before_ms);
    rc = md_store__exec(tx, st, "remove old prediction keys", err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_PREDICTION_EXPIRE,
                        "DELETE FROM predictions WHERE id >= ?1 AND id < ?2 AND at_ms < ?3", err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, lo + (int64_t)chunk);
    sqlite3_bind_int64(st, 3, before_ms);
    rc = md_store__exec(tx, st, "remove old predictions", err);
    if (rc == MD_OK)
        *removed = sqlite3_changes64(tx->db);
    return rc;
}

int md_store_tx_predictions_trim(struct md_store_tx *tx, int64_t before_ms, int64_t keep_rows,
                                 size_t chunk, int64_t *cursor, int64_t *trimmed,
                                 struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t lo = 0;
    int64_t hi = 0;
    int64_t keep_from = INT64_MAX; /* ids from this one on keep their features by count */
    int64_t next = 0;
    int rc;

    *trimmed = 0;
    if ((before_ms <= 0 && keep_rows <= 0) || chunk == 0)
        return MD_OK;
    rc = query_i64(tx, MD_SQL_PREDICTION_MIN_ID, "SELECT min(id) FROM predictions", 0, &lo, err);
    if (rc == MD_OK)
        rc =
            query_i64(tx, MD_SQL_PREDICTION_MAX_ID, "SELECT max(id) FROM predictions", 0, &hi, err);
    if (rc != MD_OK || lo == 0)
        return rc;
    if (*cursor > lo)
        lo = *cursor;
    if (keep_rows > 0)
        keep_from = hi - keep_rows + 1;
    st = md_store__prep(tx, MD_SQL_PREDICTION_TRIM,
                        "UPDATE predictions SET features = NULL WHERE id >= ?1 AND id < ?2 AND "
                        "features IS NOT NULL AND (at_ms < ?3 OR id < ?4)",
                        err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, lo + (int64_t)chunk);
    sqlite3_bind_int64(st, 3, before_ms);
    sqlite3_bind_int64(st, 4, keep_from);
    rc = md_store__exec(tx, st, "clear old predictions' features", err);
    if (rc != MD_OK)
        return rc;
    *trimmed = sqlite3_changes64(tx->db);
    /* The cursor stops at the first row of the range that keeps its features. */
    st = md_store__prep(tx, MD_SQL_PREDICTION_TRIM_NEXT,
                        "SELECT min(id) FROM predictions WHERE id >= ?1 AND id < ?2 AND "
                        "features IS NOT NULL",
                        err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, lo + (int64_t)chunk);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        next = sqlite3_column_type(st, 0) == SQLITE_NULL ? lo + (int64_t)chunk
                                                         : sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read the prediction log's bounds", err);
    if (next > hi + 1)
        next = hi + 1;
    *cursor = next;
    return MD_OK;
}

int md_store_tx_predictions_count(struct md_store_tx *tx, const char *model, int64_t *rows,
                                  int64_t *with_features, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_PREDICTION_COUNT,
                                      "SELECT count(*), count(features) FROM predictions "
                                      "WHERE ?1 IS NULL OR model = ?1",
                                      err);
    int rc;

    *rows = 0;
    *with_features = 0;
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    bind_text_or_null(st, 1, model);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *rows = sqlite3_column_int64(st, 0);
        *with_features = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "count predictions", err);
    return MD_OK;
}

/* ---- the observations' connection ------------------------------------------------ */

struct md_store_obs {
    struct md_store_tx *tx;
};

int md_store_obs_open(struct md_store *s, struct md_store_obs **out, struct md_err *err)
{
    struct md_store_info info;
    struct md_store_tx *tx;
    int rc;

    *out = NULL;
    md_store_get_info(s, &info);
    tx = md_xcalloc(1, sizeof(*tx));
    tx->path = md_xstrdup(info.location);
    /* The store thread's connection has checked and migrated the file: this one only
     * writes rows, in the journal mode the file keeps (WAL). */
    rc = sqlite3_open_v2(tx->path, &tx->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(tx->db, 1);
        sqlite3_busy_timeout(tx->db, md_store__busy_ms);
        rc = sqlite3_exec(tx->db,
                          "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                          "PRAGMA cache_size=-65536; PRAGMA secure_delete=ON",
                          NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        md_err_set(err, MD_EIO, "the store %s cannot be opened for the prediction log: %s",
                   tx->path, tx->db != NULL ? sqlite3_errmsg(tx->db) : sqlite3_errstr(rc));
        md_store__db_close(tx);
        return MD_EIO;
    }
    /* Rows are sealed here, on the log's writer thread, never on a request's. */
    if (md_store__crypt_get(s) != NULL) {
        rc = md_store__crypt_attach(tx, md_store__crypt_get(s), err);
        if (rc != MD_OK) {
            md_store__db_close(tx);
            return rc;
        }
    }
    *out = md_xcalloc(1, sizeof(**out));
    (*out)->tx = tx;
    return MD_OK;
}

int md_store_obs_call(struct md_store_obs *o,
                      int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err), void *ctx,
                      struct md_err *err)
{
    bool synced = false;
    int rc = md_store__db_begin(o->tx, err);

    if (rc != MD_OK)
        return rc;
    rc = run(o->tx, ctx, err);
    if (rc != MD_OK) {
        md_store__db_rollback(o->tx);
        return rc;
    }
    return md_store__db_commit(o->tx, &synced, err);
}

void md_store_obs_close(struct md_store_obs *o)
{
    if (o == NULL)
        return;
    md_store__db_close(o->tx);
    free(o);
}
