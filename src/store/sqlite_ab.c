/* SPDX-License-Identifier: MIT */
/*
 * sqlite_ab.c: the outcomes an A/B analysis reads, in SQLite: answered
 * prediction rows joined with their current feedback, summed per route and
 * randomised unit (a value of the sticky key, or a row) in the database, so
 * that the caller (watch/ab.c) only keeps sums per route.
 */
#include "store/sqlite_int.h"

#include <string.h>

/*
 * The groups: ?1 model, ?2 the feedback kind, ?3 the positive label (NULL:
 * the value is the outcome), ?4 the key naming the unit (NULL: none, every
 * row alone), ?5 and ?6 the time bounds. A row without the key is a group of
 * its own: the third term of GROUP BY is its id then, NULL otherwise.
 */
static const char groups_sql[] =
    "SELECT p.route, MIN(p.version), MAX(p.version), COUNT(*), "
    "TOTAL(CASE WHEN ?3 IS NULL THEN f.value WHEN f.label = ?3 THEN 1.0 ELSE 0.0 END) "
    "FROM predictions p "
    "JOIN feedback f ON f.request_id = p.request_id AND f.row = p.row AND f.model = p.model "
    "AND f.current = 1 AND f.kind = ?2 "
    "LEFT JOIN prediction_keys k ON k.prediction = p.id AND k.name = ?4 "
    "WHERE p.model = ?1 AND p.at_ms >= ?5 AND p.at_ms < ?6 AND p.shadow = 0 "
    "AND p.status >= 200 AND p.status < 300 "
    "AND (CASE WHEN ?3 IS NULL THEN f.value IS NOT NULL ELSE f.label IS NOT NULL END) "
    "GROUP BY p.route, k.value, CASE WHEN k.value IS NULL THEN p.id END";

static const char *kind_of(enum md_store_ab_outcome o)
{
    switch (o) {
    case MD_STORE_AB_LABEL:
        return "label";
    case MD_STORE_AB_REWARD:
        return "reward";
    case MD_STORE_AB_VALUE:
        return "value";
    }
    return NULL;
}

int md_store_tx_ab_groups(struct md_store_tx *tx, const struct md_store_ab_query *q,
                          void (*fn)(void *ctx, const struct md_store_ab_group *g), void *ctx,
                          struct md_err *err)
{
    const char *kind = kind_of(q->outcome);
    sqlite3_stmt *st;
    int rc;

    if (q->model == NULL || q->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: missing");
    if (kind == NULL)
        return md_err_set(err, MD_EINVAL, "outcome: unknown");
    if (q->outcome == MD_STORE_AB_LABEL && q->positive == NULL)
        return md_err_set(err, MD_EINVAL, "positive: missing");
    st = md_store__prep(tx, MD_SQL_AB_GROUPS, groups_sql, err);
    if (st == NULL)
        return err->code != MD_OK ? err->code : MD_EIO;
    sqlite3_bind_text(st, 1, q->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    if (q->outcome == MD_STORE_AB_LABEL)
        sqlite3_bind_text(st, 3, q->positive, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    if (q->unit_key != NULL)
        sqlite3_bind_text(st, 4, q->unit_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, q->since_ms);
    sqlite3_bind_int64(st, 6, q->until_ms > 0 ? q->until_ms : INT64_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct md_store_ab_group g;
        const unsigned char *route = sqlite3_column_text(st, 0);

        g.route = route != NULL ? (const char *)route : "";
        g.version_min = sqlite3_column_int64(st, 1);
        g.version_max = sqlite3_column_int64(st, 2);
        g.rows = (uint64_t)sqlite3_column_int64(st, 3);
        g.sum = sqlite3_column_double(st, 4);
        fn(ctx, &g);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read the outcomes of an A/B test", err);
    return MD_OK;
}
