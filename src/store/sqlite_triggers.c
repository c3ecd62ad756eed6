/* SPDX-License-Identifier: MIT */
/*
 * sqlite_triggers.c: what the training triggers read of the store: the
 * labels received since a time, counted a slice of feedback ids at a time
 * (the primary key's range), so that a count repeated every few seconds
 * reads only the items that came since the one before.
 */
#include "store/sqlite_int.h"

static const char max_sql[] = "SELECT COALESCE(MAX(id), 0) FROM feedback";
static const char count_sql[] = "SELECT COUNT(*) FROM feedback WHERE id > ?1 AND id <= ?2 "
                                "AND model = ?3 AND kind IN ('label', 'value') AND at_ms >= ?4";

/* Runs sql (one row, one integer) with binds applied by the caller; the statement is
 * prepared for this call only: a count runs every few seconds at most. */
static int one_int(struct md_store_tx *tx, sqlite3_stmt *st, int64_t *out, struct md_err *err)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_ROW) {
        rc = md_store__fail(tx, rc, "count labels", err);
        sqlite3_finalize(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return MD_OK;
}

int md_store_tx_labels_since(struct md_store_tx *tx, const char *model, int64_t since_ms,
                             int64_t after_id, int64_t *upto_id, uint64_t *n, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int64_t top = 0, count = 0;
    int rc;

    *n = 0;
    *upto_id = after_id;
    rc = sqlite3_prepare_v2(tx->db, max_sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "count labels", err);
    rc = one_int(tx, st, &top, err);
    if (rc != MD_OK)
        return rc;
    if (top <= after_id)
        return MD_OK; /* nothing new since the last count */
    rc = sqlite3_prepare_v2(tx->db, count_sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "count labels", err);
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, top);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, since_ms);
    rc = one_int(tx, st, &count, err);
    if (rc != MD_OK)
        return rc;
    *n = (uint64_t)count;
    *upto_id = top;
    return MD_OK;
}
