/* SPDX-License-Identifier: MIT */
/*
 * sqlite_erase.c: privacy in SQLite: a subject's rows removed (the
 * prediction rows whose subject hash it is, their key index entries, their
 * review items and the feedback about them), the retention of feedback and
 * review items by age, and the checkpoint that leaves nothing of the
 * removed rows in the write-ahead log. Both connections run with
 * secure_delete on (sqlite.c, sqlite_log.c), so a removed row's bytes are
 * overwritten with zeros in its page, not left in the file's free space.
 */
#include "store/sqlite_int.h"
#include "store/store_int.h"

#include <string.h>

/* The subject's rows, for the statements below: ?1 the subject hash. */
#define SUBJECT_ROWS "SELECT id FROM predictions WHERE subject = ?1"

/* Prepares sql for this call (erasure is rare: nothing cached). */
static sqlite3_stmt *prep_once(struct md_store_tx *tx, const char *sql, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        (void)md_store__fail(tx, rc, "prepare an erasure", err);
        return NULL;
    }
    return st;
}

/* Runs a DELETE of the subject's (?1 subject; when the statement has them, ?2 the id and ?3
 * the form a key value is looked up by: the id, or its keyed hash with encryption at rest);
 * the rows removed into *n. */
static int delete_of(struct md_store_tx *tx, const char *sql, const char *subject, const char *id,
                     int64_t *n, struct md_err *err)
{
    char form[MD_STORE__LOOKUP_LEN];
    sqlite3_stmt *st = prep_once(tx, sql, err);
    int rc;

    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 3) {
        sqlite3_bind_text(st, 2, id != NULL ? id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, md_store__lookup(tx, id != NULL ? id : "", form), -1,
                          SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "erase a subject's rows", err);
    *n += sqlite3_changes64(tx->db);
    return MD_OK;
}

/* The distinct (request id, row) of the subject's rows, through fn. */
static int each_row(struct md_store_tx *tx, const char *subject,
                    void (*fn)(void *ctx, const char *request_id, int64_t row), void *ctx,
                    struct md_err *err)
{
    sqlite3_stmt *st =
        prep_once(tx, "SELECT DISTINCT request_id, row FROM predictions WHERE subject = ?1", err);
    int rc;

    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read a subject's rows", err);
    return MD_OK;
}

int md_store_tx_subject_erase(struct md_store_tx *tx, const char *subject, const char *id,
                              void (*fn)(void *ctx, const char *request_id, int64_t row), void *ctx,
                              struct md_store_erased *out, struct md_err *err)
{
    int rc = MD_OK;

    memset(out, 0, sizeof(*out));
    if (subject == NULL || strlen(subject) != 64)
        return md_err_set(err, MD_EINVAL, "a subject hash is 64 hex digits");
    /* secure_delete is on for the connection already; asked again so that a removed row
     * is overwritten whatever the connection was opened with. */
    if (sqlite3_exec(tx->db, "PRAGMA secure_delete=ON", NULL, NULL, NULL) != SQLITE_OK)
        return md_store__fail(tx, SQLITE_ERROR, "turn secure delete on", err);
    if (fn != NULL)
        rc = each_row(tx, subject, fn, ctx, err);
    if (rc == MD_OK)
        rc = delete_of(tx, "DELETE FROM review_items WHERE prediction IN (" SUBJECT_ROWS ")",
                       subject, NULL, &out->review_items, err);
    /* Feedback about the rows (by request id and row, whichever way it was given)... */
    if (rc == MD_OK)
        rc = delete_of(tx,
                       "DELETE FROM feedback WHERE (model, request_id, row) IN (SELECT model, "
                       "request_id, row FROM predictions WHERE subject = ?1)",
                       subject, NULL, &out->feedback, err);
    /* ...and feedback given by the subject's id as a key, attached or still waiting (the id
     * as stored: in clear, or hashed once encryption at rest is on). */
    if (rc == MD_OK && id != NULL)
        rc = delete_of(tx,
                       "DELETE FROM feedback WHERE key_value IN (?2, ?3) AND (model, key_name) IN "
                       "(SELECT model, name FROM prediction_keys WHERE value IN (?2, ?3) AND "
                       "prediction IN (" SUBJECT_ROWS "))",
                       subject, id, &out->feedback, err);
    if (rc == MD_OK)
        rc = delete_of(tx, "DELETE FROM prediction_keys WHERE prediction IN (" SUBJECT_ROWS ")",
                       subject, NULL, &out->prediction_keys, err);
    if (rc == MD_OK)
        rc = delete_of(tx, "DELETE FROM predictions WHERE subject = ?1", subject, NULL,
                       &out->predictions, err);
    return rc;
}

int md_store_tx_subject_count(struct md_store_tx *tx, const char *subject, int64_t *rows,
                              struct md_err *err)
{
    sqlite3_stmt *st = prep_once(tx, "SELECT count(*) FROM predictions WHERE subject = ?1", err);
    int rc;

    *rows = 0;
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *rows = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return md_store__fail(tx, rc, "count a subject's rows", err);
    return MD_OK;
}

/* ---- retention ---------------------------------------------------------------- */

/* Removes rows of a table older than before_ms, among the chunk lowest ids (min_sql finds
 * the lowest; del_sql takes ?1 the lowest, ?2 past the chunk, ?3 before_ms). Prepared per
 * call: a step runs once a second at most. */
static int expire_table(struct md_store_tx *tx, const char *min_sql, const char *del_sql,
                        int64_t before_ms, size_t chunk, int64_t *removed, struct md_err *err)
{
    sqlite3_stmt *st = prep_once(tx, min_sql, err);
    int64_t lo = 0;
    int rc;

    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        lo = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read the bounds of a table", err);
    if (lo == 0)
        return MD_OK;
    st = prep_once(tx, del_sql, err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, lo + (int64_t)chunk);
    sqlite3_bind_int64(st, 3, before_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "remove old rows", err);
    *removed += sqlite3_changes64(tx->db);
    return MD_OK;
}

int md_store_tx_feedback_expire(struct md_store_tx *tx, int64_t before_ms, size_t chunk,
                                int64_t *feedback, int64_t *review_items, struct md_err *err)
{
    int rc;

    *feedback = 0;
    *review_items = 0;
    if (chunk == 0)
        return MD_OK;
    rc = expire_table(tx, "SELECT min(id) FROM feedback",
                      "DELETE FROM feedback WHERE id >= ?1 AND id < ?2 AND at_ms < ?3", before_ms,
                      chunk, feedback, err);
    if (rc == MD_OK)
        rc = expire_table(tx, "SELECT min(id) FROM review_items",
                          "DELETE FROM review_items WHERE id >= ?1 AND id < ?2 AND "
                          "created_ms < ?3",
                          before_ms, chunk, review_items, err);
    return rc;
}

/* ---- the checkpoint ------------------------------------------------------------ */

int md_store__db_checkpoint(struct md_store_tx *tx, struct md_store_checkpoint *out,
                            struct md_err *err)
{
    int log = -1;
    int done = -1;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!sqlite3_get_autocommit(tx->db))
        return md_err_set(err, MD_EINTERNAL, "a checkpoint inside a transaction");
    /* TRUNCATE: waits (the busy timeout) for readers and the other writer, copies every
     * frame into the file, syncs it and truncates the log to nothing. */
    rc = sqlite3_wal_checkpoint_v2(tx->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    out->log_frames = log;
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "checkpoint the write-ahead log", err);
    /* A truncating checkpoint that completed leaves an empty log (both counts 0). */
    out->complete = log == 0 && done == 0;
    return MD_OK;
}
