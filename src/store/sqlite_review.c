/* SPDX-License-Identifier: MIT */
/*
 * sqlite_review.c: the review queues in SQLite (table review_items of
 * migration 3): an item added with its prediction row, in the same
 * transaction (sqlite_log.c calls md_store__review_add); taken under a
 * lease; answered with a verdict that becomes the row's expert feedback in
 * the same transaction; listed and counted. Which rows go to review is
 * decided above (serve/predrec.c); the verdict is checked above against the
 * model's contract (api/review.c).
 */
#include "store/sqlite_int.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define LIST_LIMIT 100
#define LIST_MAX   1000

static _Atomic uint64_t dropped;

uint64_t md_store_review_dropped(void)
{
    return atomic_load(&dropped);
}

static const char *text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int md_store__review_add(struct md_store_tx *tx, const struct md_store_prediction *p,
                         int64_t prediction, int64_t now_ms, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    /* The bound counts the model's waiting and leased items through the state index. */
    st = md_store__prep(tx, MD_SQL_REVIEW_INSERT,
                        "INSERT INTO review_items (model, prediction, request_id, row, version, "
                        "reason, created_ms) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 "
                        "WHERE (SELECT count(*) FROM review_items WHERE model = ?1 AND "
                        "state IN ('queued', 'leased')) < ?8",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, p->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, prediction);
    sqlite3_bind_text(st, 3, p->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, p->row);
    sqlite3_bind_int64(st, 5, p->version);
    sqlite3_bind_text(st, 6, p->review, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, p->at_ms != 0 ? p->at_ms : now_ms);
    sqlite3_bind_int64(st, 8, p->review_max > INT64_MAX ? INT64_MAX : (int64_t)p->review_max);
    rc = md_store__exec(tx, st, "add a review item", err);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        atomic_fetch_add(&dropped, 1);
    return rc;
}

/* The columns every item query selects, in this order (read by read_item). */
#define ITEM_COLUMNS                                                                               \
    "r.id, r.model, r.prediction, r.request_id, r.row, r.version, r.reason, r.created_ms, "        \
    "CASE WHEN r.state = 'leased' AND r.lease_until_ms <= ?9 THEN 'queued' ELSE r.state END, "     \
    "r.lease_until_ms, r.lease, r.reviewer, r.verdict, r.comment, r.answered_ms, r.agrees, "       \
    "p.features, p.label, p.score, p.outputs "                                                     \
    "FROM review_items r LEFT JOIN predictions p ON p.id = r.prediction "

/* The item of st's row into *it; its sealed columns opened (an error when one cannot be). */
static int read_item(struct md_store_tx *tx, sqlite3_stmt *st, struct md_store_review_item *it,
                     struct md_err *err)
{
    int rc;

    memset(it, 0, sizeof(*it));
    it->id = sqlite3_column_int64(st, 0);
    it->model = text(st, 1);
    it->prediction = sqlite3_column_int64(st, 2);
    it->request_id = text(st, 3);
    it->row = sqlite3_column_int64(st, 4);
    it->version = sqlite3_column_int64(st, 5);
    it->reason = text(st, 6);
    it->created_ms = sqlite3_column_int64(st, 7);
    it->state = text(st, 8);
    it->lease_until_ms = sqlite3_column_int64(st, 9);
    it->lease = text(st, 10);
    it->reviewer = text(st, 11);
    it->verdict = text(st, 12);
    it->answered_ms = sqlite3_column_int64(st, 14);
    it->agrees = sqlite3_column_type(st, 15) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 15);
    it->score = sqlite3_column_type(st, 18) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 18);
    rc = md_store__column_open(tx, st, 13, MD_CBUF_COMMENT, MD_AAD_REVIEW, &it->comment, err);
    if (rc == MD_OK)
        rc = md_store__column_open(tx, st, 16, MD_CBUF_FEATURES, MD_AAD_FEATURES, &it->features,
                                   err);
    if (rc == MD_OK)
        rc = md_store__column_open(tx, st, 17, MD_CBUF_LABEL, MD_AAD_LABEL, &it->predicted, err);
    if (rc == MD_OK)
        rc = md_store__column_open(tx, st, 19, MD_CBUF_OUTPUTS, MD_AAD_OUTPUTS, &it->outputs, err);
    if (rc != MD_OK)
        md_err_prefix(err, "review item %lld: ", (long long)it->id);
    return rc;
}

/* Item id as it is now, to fn; MD_ENOTFOUND when there is none. */
static int get_item(struct md_store_tx *tx, int64_t id, int64_t now_ms,
                    void (*fn)(void *ctx, const struct md_store_review_item *it), void *ctx,
                    struct md_store_review_item *copy, struct md_err *err)
{
    sqlite3_stmt *st =
        md_store__prep(tx, MD_SQL_REVIEW_GET, "SELECT " ITEM_COLUMNS "WHERE r.id = ?1", err);
    struct md_store_review_item it;
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 9, now_ms);
    rc = md_store__step(tx, st, "read a review item", err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return md_err_set(err, MD_ENOTFOUND, "review item %lld: no such item", (long long)id);
    rc = read_item(tx, st, &it, err);
    if (rc != MD_OK) {
        sqlite3_reset(st);
        return rc;
    }
    if (copy != NULL)
        *copy = it; /* strings valid until the reset below */
    if (fn != NULL)
        fn(ctx, &it);
    if (copy == NULL)
        sqlite3_reset(st);
    return MD_OK;
}

int md_store_tx_review_next(struct md_store_tx *tx, const char *model, const char *reviewer,
                            int64_t lease_ms, int64_t now_ms,
                            void (*fn)(void *ctx, const struct md_store_review_item *it), void *ctx,
                            bool *found, struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t id;
    int rc;

    *found = false;
    st = md_store__prep(tx, MD_SQL_REVIEW_NEXT,
                        "SELECT id FROM review_items WHERE model = ?1 AND (state = 'queued' OR "
                        "(state = 'leased' AND lease_until_ms <= ?2)) ORDER BY id LIMIT 1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = md_store__step(tx, st, "find a review item", err);
    if (rc <= 0)
        return rc;
    id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = md_store__prep(tx, MD_SQL_REVIEW_LEASE,
                        "UPDATE review_items SET state = 'leased', lease_until_ms = ?2, "
                        "lease = lower(hex(randomblob(16))), reviewer = ?3 WHERE id = ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms + lease_ms);
    if (reviewer != NULL)
        sqlite3_bind_text(st, 3, reviewer, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    rc = md_store__exec(tx, st, "lease a review item", err);
    if (rc != MD_OK)
        return rc;
    *found = true;
    return get_item(tx, id, now_ms, fn, ctx, NULL, err);
}

int md_store_tx_review_answer(struct md_store_tx *tx, const struct md_store_review_verdict *v,
                              md_store_outcome_fn fn, void *ctx,
                              void (*fn_item)(void *ctx, const struct md_store_review_item *it),
                              struct md_err *err)
{
    struct md_store_review_item it = {0};
    struct md_store_feedback f;
    enum md_feedback_state state;
    char model[MD_STORE_NAME_MAX + 1];
    char request_id[256];
    char value[40];
    const char *verdict;
    int agrees = -1;
    int64_t row;
    sqlite3_stmt *st;
    int rc;

    rc = get_item(tx, v->id, v->now_ms, NULL, NULL, &it, err);
    if (rc != MD_OK || it.state == NULL)
        return rc != MD_OK ? rc : md_err_set(err, MD_EINTERNAL, "review item without a state");
    if (strcmp(it.state, "done") == 0) {
        sqlite3_reset(tx->stmts[MD_SQL_REVIEW_GET]);
        return md_err_set(err, MD_ECONFLICT, "review item %lld: answered already",
                          (long long)v->id);
    }
    if (strcmp(it.state, "leased") != 0 || it.lease == NULL || v->lease == NULL ||
        strcmp(it.lease, v->lease) != 0) {
        bool expired = strcmp(it.state, "queued") == 0 && it.lease != NULL;
        bool leased = strcmp(it.state, "leased") == 0;

        sqlite3_reset(tx->stmts[MD_SQL_REVIEW_GET]); /* its strings are gone from here on */
        if (expired)
            return md_err_set(err, MD_ECONFLICT,
                              "lease: it ran out: review item %lld waits again, take it again",
                              (long long)v->id);
        if (leased)
            return md_err_set(err, MD_ECONFLICT,
                              "lease: another lease holds review item %lld (yours ran out, or "
                              "was never given)",
                              (long long)v->id);
        return md_err_set(err, MD_ECONFLICT, "lease: review item %lld is not leased: take it first",
                          (long long)v->id);
    }
    (void)snprintf(model, sizeof(model), "%s", it.model);
    (void)snprintf(request_id, sizeof(request_id), "%s", it.request_id);
    row = it.row;
    if (v->kind == MD_FEEDBACK_LABEL && it.predicted != NULL)
        agrees = strcmp(it.predicted, v->label) == 0;
    sqlite3_reset(tx->stmts[MD_SQL_REVIEW_GET]);

    memset(&f, 0, sizeof(f));
    f.model = model;
    f.request_id = request_id;
    f.row = row;
    f.kind = v->kind;
    f.label = v->label;
    f.value = v->value;
    f.source = "expert";
    f.comment = v->comment;
    f.at_ms = v->now_ms;
    rc = md_store_tx_feedback_add(tx, &f, fn, ctx, &state, err);
    if (rc != MD_OK)
        return rc;

    if (v->kind == MD_FEEDBACK_LABEL) {
        verdict = v->label;
    } else {
        (void)snprintf(value, sizeof(value), "%.17g", v->value);
        verdict = value;
    }
    st = md_store__prep(tx, MD_SQL_REVIEW_DONE,
                        "UPDATE review_items SET state = 'done', verdict = ?2, comment = ?3, "
                        "answered_ms = ?4, agrees = ?5, lease_until_ms = 0 WHERE id = ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, v->id);
    sqlite3_bind_text(st, 2, verdict, -1, SQLITE_STATIC);
    rc = md_store__bind_sealed(tx, st, 3, MD_CBUF_COMMENT, v->comment, MD_AAD_REVIEW, err);
    if (rc != MD_OK) {
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_bind_int64(st, 4, v->now_ms);
    if (agrees >= 0)
        sqlite3_bind_int(st, 5, agrees);
    else
        sqlite3_bind_null(st, 5);
    rc = md_store__exec(tx, st, "answer a review item", err);
    if (rc != MD_OK || fn_item == NULL)
        return rc;
    return get_item(tx, v->id, v->now_ms, fn_item, ctx, NULL, err);
}

int md_store_tx_review_list(struct md_store_tx *tx, const char *model, const char *state,
                            int64_t now_ms, int64_t after_id, size_t limit,
                            void (*fn)(void *ctx, const struct md_store_review_item *it), void *ctx,
                            struct md_err *err)
{
    /* A listing is rare: prepared for the call. ?9 is now (ITEM_COLUMNS's). */
    const char *sql = "SELECT " ITEM_COLUMNS
                      "WHERE r.id > ?1 AND (?2 IS NULL OR r.model = ?2) AND (?3 IS NULL OR "
                      "(CASE WHEN r.state = 'leased' AND r.lease_until_ms <= ?9 THEN 'queued' "
                      "ELSE r.state END) = ?3) ORDER BY r.id LIMIT ?4";
    sqlite3_stmt *st = NULL;
    struct md_store_review_item it;
    int rc;

    if (limit == 0)
        limit = LIST_LIMIT;
    if (limit > LIST_MAX)
        limit = LIST_MAX;
    rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return md_store__fail(tx, rc, "list review items", err);
    }
    sqlite3_bind_int64(st, 1, after_id);
    if (model != NULL && model[0] != '\0')
        sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    if (state != NULL && state[0] != '\0')
        sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)limit);
    sqlite3_bind_int64(st, 9, now_ms);
    while ((rc = md_store__step(tx, st, "list review items", err)) == 1) {
        rc = read_item(tx, st, &it, err);
        if (rc != MD_OK)
            break;
        fn(ctx, &it);
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : MD_OK;
}

int md_store_tx_review_stats(struct md_store_tx *tx, int64_t now_ms,
                             void (*fn)(void *ctx, const struct md_store_review_stats *s),
                             void *ctx, struct md_err *err)
{
    const char *sql = "SELECT model, "
                      "sum(state = 'queued' OR (state = 'leased' AND lease_until_ms <= ?1)), "
                      "sum(state = 'leased' AND lease_until_ms > ?1), "
                      "min(CASE WHEN state != 'done' THEN created_ms END), "
                      "sum(state = 'done'), sum(agrees IS NOT NULL), sum(agrees = 1) "
                      "FROM review_items GROUP BY model ORDER BY model";
    sqlite3_stmt *st = NULL;
    struct md_store_review_stats s;
    int rc;

    rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return md_store__fail(tx, rc, "count review items", err);
    }
    sqlite3_bind_int64(st, 1, now_ms);
    while ((rc = md_store__step(tx, st, "count review items", err)) == 1) {
        memset(&s, 0, sizeof(s));
        s.model = text(st, 0);
        s.waiting = (uint64_t)sqlite3_column_int64(st, 1);
        s.leased = (uint64_t)sqlite3_column_int64(st, 2);
        s.oldest_ms = sqlite3_column_int64(st, 3);
        s.answered = (uint64_t)sqlite3_column_int64(st, 4);
        s.judged = (uint64_t)sqlite3_column_int64(st, 5);
        s.agreed = (uint64_t)sqlite3_column_int64(st, 6);
        if (s.model != NULL)
            fn(ctx, &s);
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : MD_OK;
}
