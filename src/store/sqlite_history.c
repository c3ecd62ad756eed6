/* SPDX-License-Identifier: MIT */
/*
 * sqlite_history.c: the history's tables in SQLite: per-step rollups of the
 * request counters (history_requests) and per-step values of the other
 * named metrics (history_values), appended in batches by the history's
 * task, read by time range, and expired by age. The latency buckets of a
 * rollup are kept as text: 21 counts separated by spaces.
 */
#include "store/sqlite_int.h"

#include <math.h>

#define BUCKETS_TEXT_MAX ((size_t)MD_STORE_LATENCY_BUCKETS * 21) /* 20 digits and a space each */

/* Writes the buckets as text into out (BUCKETS_TEXT_MAX bytes). */
static void buckets_text(const uint64_t *b, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < MD_STORE_LATENCY_BUCKETS; i++)
        n += (size_t)snprintf(out + n, BUCKETS_TEXT_MAX - n, i > 0 ? " %llu" : "%llu",
                              (unsigned long long)b[i]); /* fits: 21 bytes a count at most */
}

/* Reads the text of buckets_text back; a damaged text reads as far as it goes, zeros after. */
static void buckets_parse(const char *s, uint64_t *b)
{
    memset(b, 0, sizeof(uint64_t) * MD_STORE_LATENCY_BUCKETS);
    for (size_t i = 0; s != NULL && i < MD_STORE_LATENCY_BUCKETS; i++) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);

        if (end == s)
            break;
        b[i] = v;
        s = end;
    }
}

static int add_requests(struct md_store_tx *tx, const struct md_store_history_requests *r,
                        struct md_err *err)
{
    char text[BUCKETS_TEXT_MAX];
    sqlite3_stmt *st;

    if (r->model == NULL || r->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "a history row has no model");
    st = md_store__prep(tx, MD_SQL_HISTORY_REQUEST_INSERT,
                        "INSERT INTO history_requests (model, version, route, at_ms, requests, "
                        "success, errors, rejected, rows, latency_sum_ns, latency) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    buckets_text(r->latency, text);
    sqlite3_bind_text(st, 1, r->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->version);
    sqlite3_bind_text(st, 3, r->route != NULL ? r->route : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->at_ms);
    sqlite3_bind_int64(st, 5, (int64_t)r->requests);
    sqlite3_bind_int64(st, 6, (int64_t)r->success);
    sqlite3_bind_int64(st, 7, (int64_t)r->errors);
    sqlite3_bind_int64(st, 8, (int64_t)r->rejected);
    sqlite3_bind_int64(st, 9, (int64_t)r->rows);
    sqlite3_bind_int64(st, 10, (int64_t)r->latency_sum_ns);
    sqlite3_bind_text(st, 11, text, -1, SQLITE_TRANSIENT);
    return md_store__exec(tx, st, "add a history row", err);
}

static int add_value(struct md_store_tx *tx, const struct md_store_history_value *v,
                     struct md_err *err)
{
    sqlite3_stmt *st;

    if (!isfinite(v->value))
        return MD_OK;
    if (v->model == NULL || v->model[0] == '\0' || v->metric == NULL || v->metric[0] == '\0')
        return md_err_set(err, MD_EINVAL, "a history value has no model or metric");
    st =
        md_store__prep(tx, MD_SQL_HISTORY_VALUE_INSERT,
                       "INSERT INTO history_values (model, version, metric, at_ms, value, samples) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, v->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v->version);
    sqlite3_bind_text(st, 3, v->metric, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, v->at_ms);
    sqlite3_bind_double(st, 5, v->value);
    sqlite3_bind_int64(st, 6, (int64_t)v->samples);
    return md_store__exec(tx, st, "add a history value", err);
}

int md_store_tx_history_add(struct md_store_tx *tx, const struct md_store_history_requests *req,
                            size_t n_req, const struct md_store_history_value *val, size_t n_val,
                            struct md_err *err)
{
    int rc = MD_OK;

    for (size_t i = 0; rc == MD_OK && i < n_req; i++)
        rc = add_requests(tx, &req[i], err);
    for (size_t i = 0; rc == MD_OK && i < n_val; i++)
        rc = add_value(tx, &val[i], err);
    return rc;
}

static uint64_t column_u64(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);

    return v > 0 ? (uint64_t)v : 0;
}

int md_store_tx_history_requests(struct md_store_tx *tx, const struct md_store_history_filter *f,
                                 void (*fn)(void *ctx, const struct md_store_history_requests *r),
                                 void *ctx, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (f->model == NULL || f->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: missing");
    st = md_store__prep(tx, MD_SQL_HISTORY_REQUESTS,
                        "SELECT version, route, at_ms, requests, success, errors, rejected, rows, "
                        "latency_sum_ns, latency FROM history_requests "
                        "WHERE model = ?1 AND at_ms >= ?2 AND at_ms < ?3 "
                        "AND (?4 = 0 OR version = ?4) AND (?5 IS NULL OR route = ?5) "
                        "ORDER BY at_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, f->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->since_ms);
    sqlite3_bind_int64(st, 3, f->until_ms);
    sqlite3_bind_int64(st, 4, f->version);
    if (f->route != NULL)
        sqlite3_bind_text(st, 5, f->route, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    while ((rc = md_store__step(tx, st, "read the history", err)) == 1) {
        struct md_store_history_requests r;

        r.model = f->model;
        r.version = sqlite3_column_int64(st, 0);
        r.route = md_store__column_text(st, 1);
        r.at_ms = sqlite3_column_int64(st, 2);
        r.requests = column_u64(st, 3);
        r.success = column_u64(st, 4);
        r.errors = column_u64(st, 5);
        r.rejected = column_u64(st, 6);
        r.rows = column_u64(st, 7);
        r.latency_sum_ns = column_u64(st, 8);
        buckets_parse(md_store__column_text(st, 9), r.latency);
        fn(ctx, &r);
    }
    return rc < 0 ? rc : MD_OK;
}

int md_store_tx_history_values(struct md_store_tx *tx, const struct md_store_history_filter *f,
                               void (*fn)(void *ctx, const struct md_store_history_value *v),
                               void *ctx, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (f->model == NULL || f->model[0] == '\0' || f->metric == NULL || f->metric[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model and metric: required");
    st = md_store__prep(tx, MD_SQL_HISTORY_VALUES,
                        "SELECT at_ms, value, samples FROM history_values "
                        "WHERE model = ?1 AND metric = ?2 AND at_ms >= ?3 AND at_ms < ?4 "
                        "AND version = ?5 ORDER BY at_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, f->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->metric, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, f->since_ms);
    sqlite3_bind_int64(st, 4, f->until_ms);
    sqlite3_bind_int64(st, 5, f->version);
    while ((rc = md_store__step(tx, st, "read the history", err)) == 1) {
        struct md_store_history_value v;

        v.model = f->model;
        v.version = f->version;
        v.metric = f->metric;
        v.at_ms = sqlite3_column_int64(st, 0);
        v.value = sqlite3_column_double(st, 1);
        v.samples = column_u64(st, 2);
        fn(ctx, &v);
    }
    return rc < 0 ? rc : MD_OK;
}

int md_store_tx_history_expire(struct md_store_tx *tx, int64_t before_ms, uint64_t *removed,
                               struct md_err *err)
{
    static const struct {
        enum md_store__slot slot;
        const char *sql;
    } tables[] = {
        {MD_SQL_HISTORY_EXPIRE_REQUESTS, "DELETE FROM history_requests WHERE at_ms < ?1"},
        {MD_SQL_HISTORY_EXPIRE_VALUES, "DELETE FROM history_values WHERE at_ms < ?1"},
    };
    uint64_t n = 0;

    for (size_t i = 0; i < MD_ARRAY_LEN(tables); i++) {
        sqlite3_stmt *st = md_store__prep(tx, tables[i].slot, tables[i].sql, err);
        int rc;

        if (st == NULL)
            return md_store__prep_failed(err);
        sqlite3_bind_int64(st, 1, before_ms);
        rc = md_store__exec(tx, st, "expire the history", err);
        if (rc != MD_OK)
            return rc;
        n += (uint64_t)sqlite3_changes(tx->db);
    }
    if (removed != NULL)
        *removed = n;
    return MD_OK;
}
