/* SPDX-License-Identifier: MIT */
/*
 * sqlite_training.c: training runs in SQLite, one row each in the
 * trainings table from the moment one is asked for. Runs are few (one at a
 * time per model), so each statement is prepared when used and finalized
 * after, rather than kept in a slot of the connection.
 */
#include "store/sqlite_int.h"

#include <string.h>

#define TRAINING_COLUMNS                                                                           \
    "id, model, trigger, state, requested_ms, started_ms, finished_ms, since_ms, until_ms, rows, " \
    "spec, result, version"

static sqlite3_stmt *prep(struct md_store_tx *tx, const char *sql, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        (void)md_store__fail(tx, rc, "prepare a statement on trainings", err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static int check_text(const char *what, const char *s, size_t max, struct md_err *err)
{
    if (s == NULL || s[0] == '\0')
        return md_err_set(err, MD_EINVAL, "training run: %s is empty", what);
    if (strlen(s) > max)
        return md_err_set(err, MD_EINVAL, "training run: %s is longer than %zu bytes", what, max);
    return MD_OK;
}

/* Steps st to its end and finalizes it. */
static int exec_once(struct md_store_tx *tx, sqlite3_stmt *st, const char *what, struct md_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, what, err);
    return MD_OK;
}

int md_store_tx_training_add(struct md_store_tx *tx, const struct md_store_training *t, int64_t *id,
                             struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_text("model", t->model, MD_STORE_NAME_MAX, err);

    *id = 0;
    if (rc == MD_OK)
        rc = check_text("trigger", t->trigger, MD_STORE_NAME_MAX, err);
    if (rc == MD_OK)
        rc = check_text("state", t->state, MD_STORE_NAME_MAX, err);
    if (rc != MD_OK)
        return rc;
    st = prep(tx,
              "INSERT INTO trainings (model, trigger, state, requested_ms, started_ms, "
              "finished_ms, since_ms, until_ms, rows, spec, result, version) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
              err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, t->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->trigger, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, t->requested_ms != 0 ? t->requested_ms : md_store__now_ms());
    sqlite3_bind_int64(st, 5, t->started_ms);
    sqlite3_bind_int64(st, 6, t->finished_ms);
    sqlite3_bind_int64(st, 7, t->since_ms);
    sqlite3_bind_int64(st, 8, t->until_ms);
    sqlite3_bind_int64(st, 9, t->rows);
    sqlite3_bind_text(st, 10, t->spec != NULL ? t->spec : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, t->result != NULL ? t->result : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, t->version);
    rc = exec_once(tx, st, "add a training run", err);
    if (rc == MD_OK)
        *id = sqlite3_last_insert_rowid(tx->db);
    return rc;
}

int md_store_tx_training_update(struct md_store_tx *tx, const struct md_store_training *t,
                                struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_text("state", t->state, MD_STORE_NAME_MAX, err);

    if (rc != MD_OK)
        return rc;
    st = prep(tx,
              "UPDATE trainings SET state = ?2, started_ms = ?3, finished_ms = ?4, since_ms = ?5, "
              "until_ms = ?6, rows = ?7, result = COALESCE(?8, result), version = ?9 "
              "WHERE id = ?1",
              err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, t->id);
    sqlite3_bind_text(st, 2, t->state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, t->started_ms);
    sqlite3_bind_int64(st, 4, t->finished_ms);
    sqlite3_bind_int64(st, 5, t->since_ms);
    sqlite3_bind_int64(st, 6, t->until_ms);
    sqlite3_bind_int64(st, 7, t->rows);
    if (t->result != NULL)
        sqlite3_bind_text(st, 8, t->result, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_int64(st, 9, t->version);
    rc = exec_once(tx, st, "update a training run", err);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        return md_err_set(err, MD_ENOTFOUND, "training run %lld does not exist", (long long)t->id);
    return rc;
}

/* Calls fn for each row of st (finalized after); *rows counts them. */
static int training_rows(struct md_store_tx *tx, sqlite3_stmt *st,
                         void (*fn)(void *ctx, const struct md_store_training *t), void *ctx,
                         size_t *rows, struct md_err *err)
{
    int rc;

    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct md_store_training t;

        t.id = sqlite3_column_int64(st, 0);
        t.model = md_store__column_text(st, 1);
        t.trigger = md_store__column_text(st, 2);
        t.state = md_store__column_text(st, 3);
        t.requested_ms = sqlite3_column_int64(st, 4);
        t.started_ms = sqlite3_column_int64(st, 5);
        t.finished_ms = sqlite3_column_int64(st, 6);
        t.since_ms = sqlite3_column_int64(st, 7);
        t.until_ms = sqlite3_column_int64(st, 8);
        t.rows = sqlite3_column_int64(st, 9);
        t.spec = md_store__column_text(st, 10);
        t.result = md_store__column_text(st, 11);
        t.version = sqlite3_column_int64(st, 12);
        (*rows)++;
        fn(ctx, &t);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read training runs", err);
    return MD_OK;
}

int md_store_tx_trainings(struct md_store_tx *tx, const char *model, size_t limit,
                          void (*fn)(void *ctx, const struct md_store_training *t), void *ctx,
                          struct md_err *err)
{
    sqlite3_stmt *st = prep(tx,
                            "SELECT " TRAINING_COLUMNS " FROM trainings "
                            "WHERE (?1 IS NULL OR model = ?1) ORDER BY id DESC LIMIT ?2",
                            err);
    size_t rows;

    if (st == NULL)
        return md_store__prep_failed(err);
    if (model != NULL)
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    return training_rows(tx, st, fn, ctx, &rows, err);
}

int md_store_tx_training_get(struct md_store_tx *tx, int64_t id,
                             void (*fn)(void *ctx, const struct md_store_training *t), void *ctx,
                             struct md_err *err)
{
    sqlite3_stmt *st = prep(tx, "SELECT " TRAINING_COLUMNS " FROM trainings WHERE id = ?1", err);
    size_t rows;
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    rc = training_rows(tx, st, fn, ctx, &rows, err);
    if (rc == MD_OK && rows == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "training run %lld does not exist", (long long)id);
    return rc;
}

int md_store_tx_trainings_abandon(struct md_store_tx *tx, const char *reason, size_t *n,
                                  struct md_err *err)
{
    sqlite3_stmt *st = prep(tx,
                            "UPDATE trainings SET state = 'failed', finished_ms = ?1, "
                            "result = json_set(result, '$.reason', ?2) "
                            "WHERE state IN ('queued', 'running')",
                            err);
    int rc;

    if (n != NULL)
        *n = 0;
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, md_store__now_ms());
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    rc = exec_once(tx, st, "mark abandoned training runs", err);
    if (rc == MD_OK && n != NULL)
        *n = (size_t)sqlite3_changes(tx->db);
    return rc;
}

int md_store_tx_trainings_last(struct md_store_tx *tx,
                               void (*fn)(void *ctx, const char *model, int64_t requested_ms),
                               void *ctx, struct md_err *err)
{
    sqlite3_stmt *st = prep(
        tx, "SELECT model, MAX(requested_ms) FROM trainings GROUP BY model ORDER BY model", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, md_store__column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read training runs", err);
    return MD_OK;
}
