/* SPDX-License-Identifier: MIT */
/*
 * sqlite_online.c: what online learning reads of the store (store.h's
 * "online learning" section): the labels given since the learner last
 * looked, and again those that were waiting for their prediction row, each
 * with its row's features when the row is stored, and the newest feedback
 * id of a model. The statements are prepared per call (a call reads a
 * batch) so they keep no slot in the connection's table.
 */
#include "store/sqlite_int.h"

#include <math.h>

#define COLUMNS                                                                                    \
    "SELECT f.id, f.state, f.current, p.id, p.version, f.at_ms, p.features, f.label, f.value "     \
    "FROM feedback f LEFT JOIN predictions p ON p.request_id = f.request_id AND p.row = f.row "    \
    "AND p.model = f.model AND p.shadow = 0 "

static const char new_sql[] = COLUMNS "WHERE f.model = ?1 AND f.id > ?2 AND "
                                      "f.kind IN ('label', 'value') ORDER BY f.id LIMIT ?3";
static const char again_sql[] = COLUMNS "WHERE f.model = ?1 AND f.id = ?2";

/* Tells fn the rows st steps to; the highest id into *last_id. */
static int tell(struct md_store_tx *tx, sqlite3_stmt *st,
                void (*fn)(void *ctx, const struct md_store_online_label *l), void *ctx,
                int64_t *last_id, struct md_err *err)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct md_store_online_label l;
        const char *state = (const char *)sqlite3_column_text(st, 1);
        bool current = sqlite3_column_int(st, 2) != 0;
        bool stored = sqlite3_column_type(st, 3) != SQLITE_NULL;

        memset(&l, 0, sizeof(l));
        l.feedback_id = sqlite3_column_int64(st, 0);
        l.ready = current && stored && state != NULL && strcmp(state, "attached") == 0;
        l.still_pending = current && state != NULL && strcmp(state, "pending") == 0;
        l.value = NAN;
        if (l.ready) {
            l.prediction_id = sqlite3_column_int64(st, 3);
            l.version = sqlite3_column_int64(st, 4);
            l.at_ms = sqlite3_column_int64(st, 5);
            rc = md_store__column_open(tx, st, 6, MD_CBUF_FEATURES, MD_AAD_FEATURES, &l.features,
                                       err);
            if (rc != MD_OK) {
                sqlite3_reset(st);
                return rc;
            }
            l.label = (const char *)sqlite3_column_text(st, 7);
            if (sqlite3_column_type(st, 8) != SQLITE_NULL)
                l.value = sqlite3_column_double(st, 8);
        }
        if (last_id != NULL && l.feedback_id > *last_id)
            *last_id = l.feedback_id;
        fn(ctx, &l);
    }
    return rc == SQLITE_DONE ? MD_OK
                             : md_store__fail(tx, rc, "read labels for online learning", err);
}

int md_store_tx_online_labels(struct md_store_tx *tx, const char *model, int64_t after_id,
                              size_t max_rows, const int64_t *ids, size_t n_ids,
                              void (*fn)(void *ctx, const struct md_store_online_label *l),
                              void *ctx, int64_t *last_id, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t i;
    int rc = MD_OK;

    *last_id = after_id;
    if (n_ids > 0) {
        if (sqlite3_prepare_v2(tx->db, again_sql, -1, &st, NULL) != SQLITE_OK)
            return md_store__fail(tx, sqlite3_errcode(tx->db), "read labels for online learning",
                                  err);
        for (i = 0; i < n_ids && rc == MD_OK; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, ids[i]);
            rc = tell(tx, st, fn, ctx, NULL, err);
        }
        sqlite3_finalize(st);
        if (rc != MD_OK)
            return rc;
    }
    if (sqlite3_prepare_v2(tx->db, new_sql, -1, &st, NULL) != SQLITE_OK)
        return md_store__fail(tx, sqlite3_errcode(tx->db), "read labels for online learning", err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, max_rows > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max_rows);
    rc = tell(tx, st, fn, ctx, last_id, err);
    sqlite3_finalize(st);
    return rc;
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
