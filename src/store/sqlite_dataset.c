/* SPDX-License-Identifier: MIT */
/*
 * sqlite_dataset.c: what a training set reads from the SQLite store: the
 * labelled prediction rows of a model a page at a time (answered, not
 * shadow, with a current label or value), and the base datasets registered
 * for a model (their files live in the artifact store; this table names
 * them, which also keeps the artifact sweep from removing them). Training
 * sets are read rarely, so the statements here are prepared per call and
 * take no slot of the connection's cache.
 */
#include "store/sqlite_int.h"

#include <math.h>
#include <string.h>

/* Prepares sql for this call only; NULL with err set when it cannot be. */
static sqlite3_stmt *prepare(struct md_store_tx *tx, const char *sql, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        (void)md_store__fail(tx, rc, "prepare a training set's statement", err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* --------------------------------------------------------- labelled rows */

/*
 * ?1 model, ?2 the feedback kind, ?3 and ?4 the time bounds, ?5 and ?6 the
 * page's cursor (the last row of the previous page), ?7 the page's size.
 * Driven by the predictions' (model, at_ms) index newest first, each row
 * probing the feedback's (request_id, row, kind) index.
 */
static const char rows_sql[] =
    "SELECT p.id, p.request_id, p.row, p.at_ms, p.version, p.features, f.label, f.value, "
    "f.source FROM predictions p "
    "JOIN feedback f ON f.request_id = p.request_id AND f.row = p.row AND f.model = p.model "
    "AND f.current = 1 AND f.kind = ?2 "
    "WHERE p.model = ?1 AND p.at_ms >= ?3 AND p.at_ms < ?4 AND p.shadow = 0 "
    "AND p.status >= 200 AND p.status < 300 "
    "AND (p.at_ms < ?5 OR (p.at_ms = ?5 AND p.id < ?6)) "
    "AND (CASE WHEN ?2 = 'label' THEN f.label IS NOT NULL ELSE f.value IS NOT NULL END) "
    "ORDER BY p.at_ms DESC, p.id DESC LIMIT ?7";

int md_store_tx_training_rows(struct md_store_tx *tx, const struct md_store_training_filter *f,
                              void (*fn)(void *ctx, const struct md_store_training_row *r),
                              void *ctx, struct md_err *err)
{
    struct md_store_training_row r;
    size_t limit = f->limit == 0 ? 1000 : f->limit > 100000 ? 100000 : f->limit;
    sqlite3_stmt *st;
    int rc;

    if (f->model == NULL || f->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: required");
    st = prepare(tx, rows_sql, err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, f->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->regression ? "value" : "label", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, f->since_ms);
    sqlite3_bind_int64(st, 4, f->until_ms > 0 ? f->until_ms : INT64_MAX);
    if (f->before_id > 0) {
        sqlite3_bind_int64(st, 5, f->before_at_ms);
        sqlite3_bind_int64(st, 6, f->before_id);
    } else {
        sqlite3_bind_int64(st, 5, INT64_MAX);
        sqlite3_bind_int64(st, 6, INT64_MAX);
    }
    sqlite3_bind_int64(st, 7, (int64_t)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&r, 0, sizeof(r));
        r.id = sqlite3_column_int64(st, 0);
        r.request_id = (const char *)sqlite3_column_text(st, 1);
        r.row = sqlite3_column_int64(st, 2);
        r.at_ms = sqlite3_column_int64(st, 3);
        r.version = sqlite3_column_int64(st, 4);
        rc = md_store__column_open(tx, st, 5, MD_CBUF_FEATURES, MD_AAD_FEATURES, &r.features, err);
        if (rc != MD_OK) {
            sqlite3_finalize(st);
            return rc;
        }
        r.label = (const char *)sqlite3_column_text(st, 6);
        r.value = sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7);
        r.source = (const char *)sqlite3_column_text(st, 8);
        if (r.request_id == NULL)
            r.request_id = "";
        if (r.source == NULL)
            r.source = "";
        if (r.label == NULL)
            r.label = "";
        fn(ctx, &r);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read a training set's rows", err);
    return MD_OK;
}

/* ---------------------------------------------------------- base datasets */

int md_store_tx_dataset_put(struct md_store_tx *tx, const struct md_store_dataset *d,
                            struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t now = d->created_ms > 0 ? d->created_ms : md_store__now_ms();

    if (d->model == NULL || d->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: required");
    if (d->name == NULL || d->name[0] == '\0')
        return md_err_set(err, MD_EINVAL, "name: required");
    if (!md_store__is_sha256(d->sha256))
        return md_err_set(err, MD_EINVAL, "sha256: not 64 lower-case hex digits");
    st = prepare(tx,
                 "INSERT OR REPLACE INTO datasets (model, name, sha256, size, rows, columns, "
                 "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                 err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, d->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, d->size);
    sqlite3_bind_int64(st, 5, d->rows);
    sqlite3_bind_text(st, 6, d->columns != NULL ? d->columns : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    {
        int rc = md_store__exec(tx, st, "register a dataset", err);

        sqlite3_finalize(st);
        return rc;
    }
}

int md_store_tx_datasets(struct md_store_tx *tx, const char *model, const char *name,
                         void (*fn)(void *ctx, const struct md_store_dataset *d), void *ctx,
                         struct md_err *err)
{
    struct md_store_dataset d;
    sqlite3_stmt *st;
    size_t n = 0;
    int rc;

    if (model == NULL || model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: required");
    st = prepare(tx,
                 "SELECT model, name, sha256, size, rows, columns, created_ms FROM datasets "
                 "WHERE model = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name",
                 err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (name != NULL)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&d, 0, sizeof(d));
        d.model = (const char *)sqlite3_column_text(st, 0);
        d.name = (const char *)sqlite3_column_text(st, 1);
        d.sha256 = (const char *)sqlite3_column_text(st, 2);
        d.size = sqlite3_column_int64(st, 3);
        d.rows = sqlite3_column_int64(st, 4);
        d.columns = (const char *)sqlite3_column_text(st, 5);
        d.created_ms = sqlite3_column_int64(st, 6);
        n++;
        fn(ctx, &d);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "list datasets", err);
    if (name != NULL && n == 0)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no dataset '%s'", model, name);
    return MD_OK;
}

int md_store_tx_dataset_delete(struct md_store_tx *tx, const char *model, const char *name,
                               struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (model == NULL || name == NULL)
        return md_err_set(err, MD_EINVAL, "model and name: required");
    st = prepare(tx, "DELETE FROM datasets WHERE model = ?1 AND name = ?2", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = md_store__exec(tx, st, "remove a dataset", err);
    sqlite3_finalize(st);
    if (rc != MD_OK)
        return rc;
    if (sqlite3_changes(tx->db) == 0)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no dataset '%s'", model, name);
    return MD_OK;
}
