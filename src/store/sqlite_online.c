/* SPDX-License-Identifier: MIT */
/*
 * sqlite_online.c: what online learning reads of the store (store.h's
 * "online learning" section): the labels given since the learner last
 * looked, each with its prediction row's features, and the newest feedback
 * id of a model. The statements are prepared per call (a call reads a batch)
 * so they keep no slot in the connection's table.
 */
#include "store/sqlite_int.h"

#include <math.h>

static const char labels_sql[] =
    "SELECT f.id, p.id, p.version, f.at_ms, p.features, f.label, f.value FROM feedback f "
    "JOIN predictions p ON p.request_id = f.request_id AND p.row = f.row AND p.model = f.model "
    "AND p.shadow = 0 WHERE f.model = ?1 AND f.id > ?2 AND f.current = 1 AND "
    "f.state = 'attached' AND f.kind IN ('label', 'value') ORDER BY f.id LIMIT ?3";

int md_store_tx_online_labels(struct md_store_tx *tx, const char *model, int64_t after_id,
                              size_t max_rows,
                              void (*fn)(void *ctx, const struct md_store_online_label *l),
                              void *ctx, int64_t *last_id, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *last_id = after_id;
    rc = sqlite3_prepare_v2(tx->db, labels_sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "read labels for online learning", err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, max_rows > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct md_store_online_label l;

        l.feedback_id = sqlite3_column_int64(st, 0);
        l.prediction_id = sqlite3_column_int64(st, 1);
        l.version = sqlite3_column_int64(st, 2);
        l.at_ms = sqlite3_column_int64(st, 3);
        l.features = (const char *)sqlite3_column_text(st, 4);
        l.label = (const char *)sqlite3_column_text(st, 5);
        l.value = sqlite3_column_type(st, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 6);
        *last_id = l.feedback_id;
        fn(ctx, &l);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MD_OK
                             : md_store__fail(tx, rc, "read labels for online learning", err);
}

int md_store_tx_online_last_feedback(struct md_store_tx *tx, const char *model, int64_t *id,
                                     struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *id = 0;
    rc = sqlite3_prepare_v2(tx->db, "SELECT COALESCE(MAX(id), 0) FROM feedback WHERE model = ?1",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "read the newest feedback id", err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "read the newest feedback id", err);
}
