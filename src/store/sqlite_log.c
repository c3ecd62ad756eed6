/* SPDX-License-Identifier: MIT */
/*
 * sqlite_log.c: the prediction log's tables in SQLite: rows appended in
 * batches by the log's writer, with the key index feedback looks rows up by.
 */
#include "store/sqlite_int.h"

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
        sqlite3_bind_text(st, 3, key->value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, id);
        rc = md_store__exec(tx, st, "add a prediction's key", err);
    }
    return rc;
}

static int add_one(struct md_store_tx *tx, const struct md_store_prediction *p, int64_t now_ms,
                   struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (p->request_id == NULL || p->request_id[0] == '\0')
        return md_err_set(err, MD_EINVAL, "a prediction row has no request id");
    if (p->model == NULL || p->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "a prediction row has no model");
    st = md_store__prep(tx, MD_SQL_PREDICTION_INSERT,
                        "INSERT INTO predictions (request_id, row, at_ms, model, version, route, "
                        "shadow, status, latency_us, keys, features, label, score, outputs) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
    bind_text_or_null(st, 10, p->keys);
    bind_text_or_null(st, 11, p->features);
    bind_text_or_null(st, 12, p->label);
    if (isfinite(p->score))
        sqlite3_bind_double(st, 13, p->score);
    else
        sqlite3_bind_null(st, 13);
    bind_text_or_null(st, 14, p->outputs);
    rc = md_store__exec(tx, st, "add a prediction", err);
    if (rc == MD_OK && p->n_keys > 0)
        rc = add_keys(tx, p, sqlite3_last_insert_rowid(tx->db), err);
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
