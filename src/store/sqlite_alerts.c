/* SPDX-License-Identifier: MIT */
/*
 * sqlite_alerts.c: alert rules and the history of alerts in SQLite: the
 * rules as JSON by name, and one row per change of an alert's state.
 */
#include "store/sqlite_int.h"

#include <math.h>
#include <string.h>

static int check_name(const char *name, struct md_err *err)
{
    if (name == NULL || name[0] == '\0')
        return md_err_set(err, MD_EINVAL, "alert rule name is empty");
    if (strlen(name) > MD_STORE_NAME_MAX)
        return md_err_set(err, MD_EINVAL, "alert rule name '%.40s...' is longer than %d bytes",
                          name, MD_STORE_NAME_MAX);
    return MD_OK;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL && s[0] != '\0')
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* ---- rules ---------------------------------------------------------------- */

int md_store_tx_alert_rule_put(struct md_store_tx *tx, const struct md_store_alert_rule *r,
                               struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name(r->name, err);

    if (rc != MD_OK)
        return rc;
    if (r->rule == NULL || r->rule[0] == '\0')
        return md_err_set(err, MD_EINVAL, "alert rule '%s' is empty", r->name);
    st = md_store__prep(tx, MD_SQL_ALERT_RULE_PUT,
                        "INSERT INTO alert_rules (name, rule, source, updated_ms) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET "
                        "rule = excluded.rule, source = excluded.source, "
                        "updated_ms = excluded.updated_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->source != NULL ? r->source : "api", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->updated_ms != 0 ? r->updated_ms : md_store__now_ms());
    return md_store__exec(tx, st, "store an alert rule", err);
}

int md_store_tx_alert_rule_delete(struct md_store_tx *tx, const char *name, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name(name, err);

    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_ALERT_RULE_DELETE, "DELETE FROM alert_rules WHERE name = ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = md_store__exec(tx, st, "remove an alert rule", err);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        return md_err_set(err, MD_ENOTFOUND, "alert rule '%s' does not exist", name);
    return rc;
}

int md_store_tx_alert_rules(struct md_store_tx *tx, const char *name,
                            void (*fn)(void *ctx, const struct md_store_alert_rule *r), void *ctx,
                            struct md_err *err)
{
    sqlite3_stmt *st;
    size_t rows = 0;
    int rc;

    if (name == NULL) {
        st = md_store__prep(tx, MD_SQL_ALERT_RULES_ALL,
                            "SELECT name, rule, source, updated_ms FROM alert_rules ORDER BY name",
                            err);
    } else {
        rc = check_name(name, err);
        if (rc != MD_OK)
            return rc;
        st = md_store__prep(tx, MD_SQL_ALERT_RULE_GET,
                            "SELECT name, rule, source, updated_ms FROM alert_rules "
                            "WHERE name = ?1",
                            err);
        if (st != NULL)
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    }
    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = md_store__step(tx, st, "read alert rules", err)) == 1) {
        struct md_store_alert_rule r = {md_store__column_text(st, 0), md_store__column_text(st, 1),
                                        md_store__column_text(st, 2), sqlite3_column_int64(st, 3)};

        rows++;
        fn(ctx, &r);
    }
    if (rc < 0)
        return rc;
    if (name != NULL && rows == 0)
        return md_err_set(err, MD_ENOTFOUND, "alert rule '%s' does not exist", name);
    return MD_OK;
}

/* ---- history ---------------------------------------------------------------- */

int md_store_tx_alert_add(struct md_store_tx *tx, const struct md_store_alert *a, int64_t *id,
                          struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name(a->rule, err);

    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_ALERT_INSERT,
                        "INSERT INTO alerts (rule, model, state, at_ms, active_ms, fired_ms, "
                        "value, fingerprint, labels, annotations) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, a->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->model != NULL ? a->model : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->state != NULL ? a->state : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, a->at_ms != 0 ? a->at_ms : md_store__now_ms());
    sqlite3_bind_int64(st, 5, a->active_ms);
    sqlite3_bind_int64(st, 6, a->fired_ms);
    if (isfinite(a->value))
        sqlite3_bind_double(st, 7, a->value);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_text(st, 8, a->fingerprint != NULL ? a->fingerprint : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, a->labels != NULL ? a->labels : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, a->annotations != NULL ? a->annotations : "{}", -1, SQLITE_STATIC);
    rc = md_store__exec(tx, st, "add an alert's change", err);
    if (rc == MD_OK && id != NULL)
        *id = sqlite3_last_insert_rowid(tx->db);
    return rc;
}

int md_store_tx_alerts_prune(struct md_store_tx *tx, int64_t before_ms, int64_t *n,
                             struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_ALERTS_PRUNE,
                                      "DELETE FROM alerts WHERE at_ms < ?1 AND id NOT IN "
                                      "(SELECT MAX(id) FROM alerts GROUP BY rule)",
                                      err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, before_ms);
    rc = md_store__exec(tx, st, "remove old alert changes", err);
    if (rc == MD_OK && n != NULL)
        *n = sqlite3_changes(tx->db);
    return rc;
}

int md_store_tx_alerts(struct md_store_tx *tx, const struct md_store_alert_filter *f,
                       void (*fn)(void *ctx, const struct md_store_alert *a), void *ctx,
                       struct md_err *err)
{
    size_t limit = f->limit == 0 ? 100 : f->limit > 1000 ? 1000 : f->limit;
    sqlite3_stmt *st;
    int rc;

    st = md_store__prep(
        tx, f->last ? MD_SQL_ALERTS_LAST : MD_SQL_ALERTS_LIST,
        f->last ? "SELECT id, rule, model, state, at_ms, active_ms, fired_ms, value, "
                  "fingerprint, labels, annotations FROM alerts WHERE id IN "
                  "(SELECT MAX(id) FROM alerts GROUP BY rule) "
                  "AND (?1 IS NULL OR rule = ?1) AND (?2 IS NULL OR model = ?2) "
                  "AND (?3 IS NULL OR state = ?3) AND at_ms >= ?4 AND (?5 = 0 OR id < ?5) "
                  "ORDER BY id DESC LIMIT ?6"
                : "SELECT id, rule, model, state, at_ms, active_ms, fired_ms, value, "
                  "fingerprint, labels, annotations FROM alerts "
                  "WHERE (?1 IS NULL OR rule = ?1) AND (?2 IS NULL OR model = ?2) "
                  "AND (?3 IS NULL OR state = ?3) AND at_ms >= ?4 AND (?5 = 0 OR id < ?5) "
                  "ORDER BY id DESC LIMIT ?6",
        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_opt(st, 1, f->rule);
    bind_opt(st, 2, f->model);
    bind_opt(st, 3, f->state);
    sqlite3_bind_int64(st, 4, f->since_ms);
    sqlite3_bind_int64(st, 5, f->before_id);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)limit);
    while ((rc = md_store__step(tx, st, "read alerts", err)) == 1) {
        struct md_store_alert a;

        a.id = sqlite3_column_int64(st, 0);
        a.rule = md_store__column_text(st, 1);
        a.model = md_store__column_text(st, 2);
        a.state = md_store__column_text(st, 3);
        a.at_ms = sqlite3_column_int64(st, 4);
        a.active_ms = sqlite3_column_int64(st, 5);
        a.fired_ms = sqlite3_column_int64(st, 6);
        a.value = sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7);
        a.fingerprint = md_store__column_text(st, 8);
        a.labels = md_store__column_text(st, 9);
        a.annotations = md_store__column_text(st, 10);
        fn(ctx, &a);
    }
    return rc < 0 ? rc : MD_OK;
}
