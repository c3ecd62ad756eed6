/* SPDX-License-Identifier: MIT */
/*
 * sqlite_feedback.c: feedback in SQLite: items attached to the prediction
 * rows they name (by request id and row, or by a key the prediction log
 * indexed), kept pending until their row is stored, orphaned past the
 * horizon; the current outcome of each (row, kind) and the history of the
 * ones it replaced; the labelled rows of a quality window. The rows
 * themselves are the prediction log's (sqlite_log.c).
 */
#include "store/sqlite_int.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

static const char *const kind_names[] = {NULL, "label", "value", "reward", "rating"};
static const char *const state_names[] = {NULL, "attached", "pending", "orphaned"};

const char *md_feedback_kind_name(enum md_feedback_kind k)
{
    return (size_t)k < MD_ARRAY_LEN(kind_names) && kind_names[k] != NULL ? kind_names[k] : "?";
}

enum md_feedback_kind md_feedback_kind_parse(const char *name)
{
    for (size_t i = 1; name != NULL && i < MD_ARRAY_LEN(kind_names); i++)
        if (strcmp(kind_names[i], name) == 0)
            return (enum md_feedback_kind)i;
    return 0;
}

const char *md_feedback_state_name(enum md_feedback_state s)
{
    return (size_t)s < MD_ARRAY_LEN(state_names) && state_names[s] != NULL ? state_names[s] : "?";
}

static enum md_feedback_state state_parse(const char *name)
{
    for (size_t i = 1; name != NULL && i < MD_ARRAY_LEN(state_names); i++)
        if (strcmp(state_names[i], name) == 0)
            return (enum md_feedback_state)i;
    return MD_FEEDBACK_PENDING;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static double column_double_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* ---------------------------------------------------------------- outcomes */

/* An outcome as stored: what fn is told for each of its prediction rows. */
struct outcome {
    int64_t id;
    bool attached; /* its row was stored when it was attached (fn was told it counts) */
    enum md_feedback_kind kind;
    char *label; /* owned, or NULL */
    double value;
    int64_t at_ms;
};

static void outcome_release(struct outcome *o)
{
    free(o->label);
    o->label = NULL;
}

/*
 * The queries below on predictions find rows by request id and row: a
 * unary plus keeps SQLite from using the model's time index instead
 * (without statistics it may think it narrower), which would scan every
 * row of the model.
 */

/* Tells fn the change (sign) of o on every prediction row of (model, request_id, row). */
static int tell_rows(struct md_store_tx *tx, const char *model, const char *request_id, int64_t row,
                     const struct outcome *o, int sign, md_store_outcome_fn fn, void *ctx,
                     struct md_err *err)
{
    struct md_store_outcome out;
    sqlite3_stmt *st;
    int rc;

    if (fn == NULL)
        return MD_OK;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_ROWS_OF,
                        "SELECT version, route, shadow, at_ms, label, score FROM predictions "
                        "WHERE request_id = ?1 AND row = ?2 AND +model = ?3 ORDER BY id",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&out, 0, sizeof(out));
        out.sign = sign;
        out.model = model;
        out.version = sqlite3_column_int64(st, 0);
        out.route = (const char *)sqlite3_column_text(st, 1);
        out.shadow = sqlite3_column_int(st, 2) != 0;
        out.at_ms = sqlite3_column_int64(st, 3);
        rc = md_store__column_open(tx, st, 4, MD_CBUF_LABEL, MD_AAD_LABEL, &out.predicted, err);
        if (rc != MD_OK) {
            sqlite3_reset(st);
            return rc;
        }
        out.score = column_double_or_nan(st, 5);
        out.kind = o->kind;
        out.label = o->label;
        out.value = o->value;
        fn(ctx, &out);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "read a prediction's rows", err);
}

/* The current outcome of kind for (model, request_id, row), other than the item
 * `except`: *found, and its fields into *o (o->label owned). */
static int current_of(struct md_store_tx *tx, const char *model, const char *request_id,
                      int64_t row, enum md_feedback_kind kind, int64_t except, bool *found,
                      struct outcome *o, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    *found = false;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_CURRENT,
                        "SELECT id, label, value, at_ms, state FROM feedback WHERE request_id = ?1 "
                        "AND row = ?2 AND kind = ?3 AND model = ?4 AND current = 1 AND id <> ?5 "
                        "ORDER BY id DESC LIMIT 1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row);
    sqlite3_bind_text(st, 3, md_feedback_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, except);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *found = true;
        o->id = sqlite3_column_int64(st, 0);
        o->kind = kind;
        o->label = sqlite3_column_type(st, 1) == SQLITE_NULL
                       ? NULL
                       : md_xstrdup((const char *)sqlite3_column_text(st, 1));
        o->value = column_double_or_nan(st, 2);
        o->at_ms = sqlite3_column_int64(st, 3);
        o->attached = state_parse((const char *)sqlite3_column_text(st, 4)) == MD_FEEDBACK_ATTACHED;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "read a row's feedback", err);
}

static int set_current(struct md_store_tx *tx, int64_t id, bool current, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_FEEDBACK_RETIRE,
                                      "UPDATE feedback SET current = ?2 WHERE id = ?1", err);

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, current ? 1 : 0);
    return md_store__exec(tx, st, "replace a row's feedback", err);
}

/*
 * Makes item o (already stored, current) the current outcome of its kind for
 * its row, unless a newer one is current there already (o then becomes
 * history); fn is told the changes when told_new says o counts now.
 */
static int take_over(struct md_store_tx *tx, const char *model, const char *request_id, int64_t row,
                     const struct outcome *o, md_store_outcome_fn fn, void *ctx, struct md_err *err)
{
    struct outcome old = {0};
    bool found;
    int rc = current_of(tx, model, request_id, row, o->kind, o->id, &found, &old, err);

    if (rc != MD_OK)
        return rc;
    if (found && old.at_ms > o->at_ms) {
        /* A newer outcome came first (an item given by key attached late). */
        outcome_release(&old);
        return set_current(tx, o->id, false, err);
    }
    if (found) {
        rc = set_current(tx, old.id, false, err);
        /* One still pending was never counted: nothing to take back. */
        if (rc == MD_OK && old.attached)
            rc = tell_rows(tx, model, request_id, row, &old, -1, fn, ctx, err);
    }
    outcome_release(&old);
    if (rc == MD_OK)
        rc = tell_rows(tx, model, request_id, row, o, +1, fn, ctx, err);
    return rc;
}

/* ------------------------------------------------------------------ adding */

/* Where a stored request's rows are: its model, its lowest and highest row. */
static int request_rows(struct md_store_tx *tx, const char *request_id, bool *stored, char *model,
                        size_t n, int64_t *lo, int64_t *hi, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    *stored = false;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_REQUEST,
                        "SELECT model, MIN(row), MAX(row) FROM predictions WHERE request_id = ?1 "
                        "GROUP BY model LIMIT 1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *stored = true;
        (void)snprintf(model, n, "%s", (const char *)sqlite3_column_text(st, 0));
        *lo = sqlite3_column_int64(st, 1);
        *hi = sqlite3_column_int64(st, 2);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "look a request up", err);
}

/* The row a key names: the newest answer (not a shadow's) of model with that key. */
static int row_by_key(struct md_store_tx *tx, const char *model, const char *name,
                      const char *value, bool *found, char **request_id, int64_t *row,
                      struct md_err *err)
{
    char hashed[MD_STORE__LOOKUP_LEN];
    sqlite3_stmt *st;
    int rc;

    *found = false;
    /* ?4: the value as stored with encryption on; ?3 as stored before it was. */
    st = md_store__prep(tx, MD_SQL_FEEDBACK_BY_KEY,
                        "SELECT p.request_id, p.row FROM prediction_keys k JOIN predictions p "
                        "ON p.id = k.prediction WHERE k.model = ?1 AND k.name = ?2 "
                        "AND k.value IN (?3, ?4) AND p.shadow = 0 ORDER BY p.id DESC LIMIT 1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, md_store__lookup(tx, value, hashed), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *found = true;
        *request_id = md_xstrdup((const char *)sqlite3_column_text(st, 0));
        *row = sqlite3_column_int64(st, 1);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "look a key up", err);
}

/* The row f names by request id: checked against what is stored. */
static int check_request(struct md_store_tx *tx, const struct md_store_feedback *f, int64_t *row,
                         bool *stored, struct md_err *err)
{
    char model[MD_STORE_NAME_MAX + 1];
    int64_t lo = 0;
    int64_t hi = 0;
    int rc = request_rows(tx, f->request_id, stored, model, sizeof(model), &lo, &hi, err);

    *row = f->row < 0 ? 0 : f->row;
    if (rc != MD_OK || !*stored)
        return rc;
    if (strcmp(model, f->model) != 0)
        return md_err_set(err, MD_EINVAL,
                          "request_id: request '%s' is a prediction of model '%s', "
                          "not '%s'",
                          f->request_id, model, f->model);
    if (f->row < 0 && hi > lo)
        return md_err_set(err, MD_EINVAL, "row: request '%s' has %lld rows: say which one",
                          f->request_id, (long long)hi - (long long)lo + 1);
    if (f->row < 0)
        *row = lo;
    else if (f->row < lo || f->row > hi)
        return md_err_set(err, MD_EINVAL, "row: request '%s' has no row %lld (rows %lld to %lld)",
                          f->request_id, (long long)f->row, (long long)lo, (long long)hi);
    return MD_OK;
}

static int insert_item(struct md_store_tx *tx, const struct md_store_feedback *f,
                       const char *request_id, int64_t row, enum md_feedback_state state,
                       int64_t at_ms, int64_t *id, struct md_err *err)
{
    char hashed[MD_STORE__LOOKUP_LEN];
    sqlite3_stmt *st;
    int rc;

    st = md_store__prep(tx, MD_SQL_FEEDBACK_INSERT,
                        "INSERT INTO feedback (model, request_id, row, key_name, key_value, kind, "
                        "label, value, source, comment, at_ms, state, current) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1)",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, f->model, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, request_id);
    if (request_id != NULL)
        sqlite3_bind_int64(st, 3, row);
    else
        sqlite3_bind_null(st, 3);
    bind_text_or_null(st, 4, f->key_name);
    bind_text_or_null(st, 5, md_store__lookup(tx, f->key_value, hashed));
    sqlite3_bind_text(st, 6, md_feedback_kind_name(f->kind), -1, SQLITE_STATIC);
    if (f->kind == MD_FEEDBACK_LABEL) {
        bind_text_or_null(st, 7, f->label);
        sqlite3_bind_null(st, 8);
    } else {
        sqlite3_bind_null(st, 7);
        sqlite3_bind_double(st, 8, f->value);
    }
    sqlite3_bind_text(st, 9, f->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, at_ms);
    sqlite3_bind_text(st, 12, md_feedback_state_name(state), -1, SQLITE_STATIC);
    rc = md_store__bind_sealed(tx, st, 10, MD_CBUF_COMMENT, f->comment, MD_AAD_FEEDBACK, err);
    if (rc != MD_OK) {
        sqlite3_reset(st);
        return rc;
    }
    rc = md_store__exec(tx, st, "add feedback", err);
    *id = sqlite3_last_insert_rowid(tx->db);
    return rc;
}

/* An item given by key waits: it replaces the one of its kind waiting for the same key. */
static int retire_waiting(struct md_store_tx *tx, const struct md_store_feedback *f,
                          struct md_err *err)
{
    char hashed[MD_STORE__LOOKUP_LEN];
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_FEEDBACK_RETIRE_KEY,
                                      "UPDATE feedback SET current = 0 WHERE model = ?1 AND "
                                      "key_name = ?2 AND key_value IN (?3, ?5) AND kind = ?4 AND "
                                      "request_id IS NULL AND state = 'pending' AND current = 1",
                                      err);

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, f->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->key_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->key_value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, md_feedback_kind_name(f->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, md_store__lookup(tx, f->key_value, hashed), -1, SQLITE_STATIC);
    return md_store__exec(tx, st, "replace waiting feedback", err);
}

int md_store_tx_feedback_add(struct md_store_tx *tx, const struct md_store_feedback *f,
                             md_store_outcome_fn fn, void *ctx, enum md_feedback_state *state,
                             struct md_err *err)
{
    char *by_key = NULL;
    const char *request_id = f->request_id;
    struct outcome o = {0};
    enum md_feedback_state st = MD_FEEDBACK_PENDING;
    int64_t row = 0;
    bool stored = false;
    int rc;

    if (f->model == NULL || f->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: required");
    if (md_feedback_kind_name(f->kind)[0] == '?')
        return md_err_set(err, MD_EINVAL, "kind: unknown");
    if (f->source == NULL || f->source[0] == '\0')
        return md_err_set(err, MD_EINVAL, "source: required");
    if (request_id != NULL && request_id[0] != '\0') {
        rc = check_request(tx, f, &row, &stored, err);
    } else if (f->key_name != NULL && f->key_value != NULL) {
        request_id = NULL;
        rc = row_by_key(tx, f->model, f->key_name, f->key_value, &stored, &by_key, &row, err);
        request_id = by_key;
        if (rc == MD_OK && !stored)
            rc = retire_waiting(tx, f, err);
    } else {
        return md_err_set(err, MD_EINVAL, "request_id: required (or a key)");
    }
    if (stored)
        st = MD_FEEDBACK_ATTACHED;
    o.kind = f->kind;
    o.label = f->kind == MD_FEEDBACK_LABEL ? (char *)f->label : NULL; /* borrowed: not released */
    o.value = f->kind == MD_FEEDBACK_LABEL ? NAN : f->value;
    o.at_ms = f->at_ms != 0 ? f->at_ms : md_store__now_ms();
    if (rc == MD_OK)
        rc = insert_item(tx, f, request_id, row, st, o.at_ms, &o.id, err);
    if (rc == MD_OK && request_id != NULL)
        rc = take_over(tx, f->model, request_id, row, &o, stored ? fn : NULL, ctx, err);
    free(by_key);
    if (rc == MD_OK && state != NULL)
        *state = st;
    return rc;
}

/* ------------------------------------------------------------------- upkeep */

/* A pending item, copied out of the listing before it is changed. */
struct waiting {
    struct outcome o;
    char *model;
    char *request_id; /* or NULL: by key */
    int64_t row;
    char *key_name;
    char *key_value;
    bool current;
};

static char *dup_column(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? NULL
               : md_xstrdup((const char *)sqlite3_column_text(st, i));
}

static void waiting_release(struct waiting *w)
{
    outcome_release(&w->o);
    free(w->model);
    free(w->request_id);
    free(w->key_name);
    free(w->key_value);
}

static int list_waiting(struct md_store_tx *tx, size_t max, int64_t after, struct waiting **out,
                        size_t *n, struct md_err *err)
{
    struct waiting *w = NULL;
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    *n = 0;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_PENDING,
                        "SELECT id, model, request_id, row, key_name, key_value, kind, label, "
                        "value, at_ms, current FROM feedback WHERE state = 'pending' "
                        "AND id > ?2 ORDER BY id LIMIT ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, (int64_t)max);
    sqlite3_bind_int64(st, 2, after);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct waiting *x;

        if (*n == cap) {
            cap = cap == 0 ? 64 : cap * 2;
            w = md_xrealloc(w, cap * sizeof(*w));
        }
        x = &w[(*n)++];
        memset(x, 0, sizeof(*x));
        x->o.id = sqlite3_column_int64(st, 0);
        x->model = dup_column(st, 1);
        x->request_id = dup_column(st, 2);
        x->row = sqlite3_column_int64(st, 3);
        x->key_name = dup_column(st, 4);
        x->key_value = dup_column(st, 5);
        x->o.kind = md_feedback_kind_parse((const char *)sqlite3_column_text(st, 6));
        x->o.label = dup_column(st, 7);
        x->o.value = column_double_or_nan(st, 8);
        x->o.at_ms = sqlite3_column_int64(st, 9);
        x->current = sqlite3_column_int(st, 10) != 0;
    }
    sqlite3_reset(st);
    *out = w;
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "list waiting feedback", err);
}

static int has_row(struct md_store_tx *tx, const char *model, const char *request_id, int64_t row,
                   bool *found, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_FEEDBACK_HAS_ROW,
                                      "SELECT 1 FROM predictions WHERE request_id = ?1 AND "
                                      "row = ?2 AND +model = ?3 LIMIT 1",
                                      err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MD_OK
                                                 : md_store__fail(tx, rc, "look a row up", err);
}

static int mark(struct md_store_tx *tx, int64_t id, enum md_feedback_state state,
                const char *request_id, int64_t row, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_FEEDBACK_ATTACH,
                                      "UPDATE feedback SET state = ?2, request_id = "
                                      "COALESCE(?3, request_id), row = COALESCE(?4, row) "
                                      "WHERE id = ?1",
                                      err);

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, md_feedback_state_name(state), -1, SQLITE_STATIC);
    bind_text_or_null(st, 3, request_id);
    if (request_id != NULL)
        sqlite3_bind_int64(st, 4, row);
    else
        sqlite3_bind_null(st, 4);
    return md_store__exec(tx, st, "attach feedback", err);
}

/* One pending item: attached when its row is there now, orphaned when too old. */
static int sweep_one(struct md_store_tx *tx, struct md_store_feedback_sweep *s, struct waiting *w,
                     md_store_outcome_fn fn, void *ctx, struct md_err *err)
{
    char *by_key = NULL;
    int64_t row = w->row;
    bool found = false;
    int rc;

    if (w->request_id != NULL)
        rc = has_row(tx, w->model, w->request_id, w->row, &found, err);
    else if (w->key_name != NULL && w->key_value != NULL)
        rc = row_by_key(tx, w->model, w->key_name, w->key_value, &found, &by_key, &row, err);
    else
        rc = MD_OK;
    if (rc == MD_OK && found) {
        const char *rid = w->request_id != NULL ? w->request_id : by_key;

        rc = mark(tx, w->o.id, MD_FEEDBACK_ATTACHED, w->request_id == NULL ? by_key : NULL, row,
                  err);
        if (rc == MD_OK && w->current && w->request_id != NULL)
            rc = tell_rows(tx, w->model, rid, row, &w->o, +1, fn, ctx, err);
        else if (rc == MD_OK && w->current)
            rc = take_over(tx, w->model, rid, row, &w->o, fn, ctx, err);
        if (rc == MD_OK)
            s->attached++;
    } else if (rc == MD_OK && w->o.at_ms < s->now_ms - s->horizon_ms) {
        rc = mark(tx, w->o.id, MD_FEEDBACK_ORPHANED, NULL, 0, err);
        if (rc == MD_OK)
            s->orphaned++;
    }
    free(by_key);
    return rc;
}

/* One integer a statement of slot answers for argument arg (def when no row). */
static int query_i64(struct md_store_tx *tx, enum md_store__slot slot, const char *sql, int64_t arg,
                     int64_t def, int64_t *out, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, slot, sql, err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, arg);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL
               ? sqlite3_column_int64(st, 0)
               : def;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MD_OK
                                                 : md_store__fail(tx, rc, "read the log", err);
}

/*
 * The first round's start: the id before the first prediction made at or
 * after since_ms. Ids follow the order rows were written in, which is the
 * order of their time but for a batch's few milliseconds, so a binary
 * search over ids (a few dozen lookups) finds it without a scan.
 */
static int first_after(struct md_store_tx *tx, int64_t since_ms, int64_t *after, struct md_err *err)
{
    int64_t lo = 0;
    int64_t hi = 0;
    int rc = query_i64(tx, MD_SQL_FEEDBACK_MAX_ID, "SELECT MAX(id) FROM predictions WHERE id > ?1",
                       0, 0, &hi, err);

    *after = hi;
    if (rc != MD_OK || since_ms <= 0 || hi == 0)
        return rc;
    /* Invariant: rows with id <= lo are older than since_ms; the answer is in (lo, hi]. */
    while (rc == MD_OK && lo < hi) {
        int64_t mid = lo + (hi - lo) / 2 + 1;
        int64_t at = 0;

        rc = query_i64(tx, MD_SQL_FEEDBACK_FIRST_AT,
                       "SELECT at_ms FROM predictions WHERE id >= ?1 ORDER BY id LIMIT 1", mid,
                       INT64_MAX, &at, err);
        if (at < since_ms)
            lo = mid;
        else
            hi = mid - 1;
    }
    *after = lo;
    return rc;
}

/* The first round: the current outcomes of rows predicted since since_ms. */
static int rebuild(struct md_store_tx *tx, int64_t since_ms, md_store_outcome_fn fn, void *ctx,
                   struct md_err *err)
{
    struct md_store_outcome o;
    sqlite3_stmt *st;
    int rc;

    if (fn == NULL || since_ms <= 0)
        return MD_OK;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_REBUILD,
                        "SELECT f.model, f.kind, f.label, f.value, p.version, p.route, p.shadow, "
                        "p.at_ms, p.label, p.score FROM feedback f JOIN predictions p ON "
                        "p.request_id = f.request_id AND p.row = f.row AND +p.model = f.model "
                        "WHERE f.current = 1 AND f.state = 'attached' AND +p.at_ms >= ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, since_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&o, 0, sizeof(o));
        o.sign = 1;
        o.model = (const char *)sqlite3_column_text(st, 0);
        o.kind = md_feedback_kind_parse((const char *)sqlite3_column_text(st, 1));
        o.label = (const char *)sqlite3_column_text(st, 2);
        o.value = column_double_or_nan(st, 3);
        o.version = sqlite3_column_int64(st, 4);
        o.route = (const char *)sqlite3_column_text(st, 5);
        o.shadow = sqlite3_column_int(st, 6) != 0;
        o.at_ms = sqlite3_column_int64(st, 7);
        rc = md_store__column_open(tx, st, 8, MD_CBUF_LABEL, MD_AAD_LABEL, &o.predicted, err);
        if (rc != MD_OK) {
            sqlite3_reset(st);
            return rc;
        }
        o.score = column_double_or_nan(st, 9);
        fn(ctx, &o);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "read current feedback", err);
}

static int
count_new(struct md_store_tx *tx, struct md_store_feedback_sweep *s, md_store_outcome_fn fn,
          void (*fn_count)(void *ctx, const char *model, int64_t version, const char *route,
                           bool shadow, int64_t minute_ms, uint64_t n),
          void *ctx, struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t top;
    int64_t max_rows = s->max_rows != 0 ? (int64_t)s->max_rows : 100000;
    int rc;

    if (s->after_id < 0) {
        rc = first_after(tx, s->since_ms, &s->after_id, err);
        if (rc == MD_OK)
            rc = rebuild(tx, s->since_ms, fn, ctx, err);
        if (rc != MD_OK) {
            s->after_id = -1;
            return rc;
        }
    }
    /* Ids are reused once every row has gone (retention): count from the start. */
    rc = query_i64(tx, MD_SQL_FEEDBACK_MAX_ID, "SELECT MAX(id) FROM predictions WHERE id > ?1", 0,
                   0, &top, err);
    if (rc != MD_OK)
        return rc;
    if (top < s->after_id)
        s->after_id = 0;
    top = s->after_id;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_COUNT_NEW,
                        "SELECT model, version, route, shadow, at_ms / 60000, COUNT(*), MAX(id) "
                        "FROM predictions WHERE id > ?1 AND id <= ?2 GROUP BY model, version, "
                        "route, shadow, at_ms / 60000",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, s->after_id);
    sqlite3_bind_int64(st, 2, s->after_id + max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t max_id = sqlite3_column_int64(st, 6);

        if (max_id > top)
            top = max_id;
        if (fn_count != NULL)
            fn_count(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
                     (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3) != 0,
                     sqlite3_column_int64(st, 4) * 60000, (uint64_t)sqlite3_column_int64(st, 5));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "count new predictions", err);
    rc = MD_OK;
    if (top == s->after_id) {
        /* Nothing in the range: past a gap (rows removed) when there are newer ones. */
        rc = query_i64(tx, MD_SQL_FEEDBACK_MAX_ID, "SELECT MAX(id) FROM predictions WHERE id > ?1",
                       s->after_id, s->after_id, &top, err);
        if (top > s->after_id + max_rows)
            top = s->after_id + max_rows;
    }
    s->after_id = top;
    return rc;
}

static int totals(struct md_store_tx *tx,
                  void (*fn_totals)(void *ctx, const char *model, uint64_t pending,
                                    uint64_t orphaned),
                  void *ctx, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (fn_totals == NULL)
        return MD_OK;
    st = md_store__prep(tx, MD_SQL_FEEDBACK_TOTALS,
                        "SELECT model, SUM(state = 'pending'), SUM(state = 'orphaned') "
                        "FROM feedback WHERE state IN ('pending', 'orphaned') GROUP BY model "
                        "ORDER BY model",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn_totals(ctx, (const char *)sqlite3_column_text(st, 0),
                  (uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "count waiting feedback", err);
}

int md_store_tx_feedback_sweep(
    struct md_store_tx *tx, struct md_store_feedback_sweep *s, md_store_outcome_fn fn,
    void (*fn_count)(void *ctx, const char *model, int64_t version, const char *route, bool shadow,
                     int64_t minute_ms, uint64_t n),
    void (*fn_totals)(void *ctx, const char *model, uint64_t pending, uint64_t orphaned), void *ctx,
    struct md_err *err)
{
    struct waiting *w = NULL;
    size_t max_items = s->max_items != 0 ? s->max_items : 10000;
    size_t n = 0;
    int rc;

    if (s->now_ms == 0)
        s->now_ms = md_store__now_ms();
    s->attached = 0;
    s->orphaned = 0;
    rc = count_new(tx, s, fn, fn_count, ctx, err);
    if (rc == MD_OK)
        rc = list_waiting(tx, max_items, s->pending_after, &w, &n, err);
    /* A full round's last item is where the next starts; a short one ends the turn. */
    s->pending_after = n == max_items ? w[n - 1].o.id : 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == MD_OK)
            rc = sweep_one(tx, s, &w[i], fn, ctx, err);
        waiting_release(&w[i]);
    }
    free(w);
    if (rc == MD_OK)
        rc = totals(tx, fn_totals, ctx, err);
    return rc;
}

/* ------------------------------------------------------------------ windows */

/* Binds the filter's parameters ?1 to ?6 (the window's statements share them). */
static void bind_filter(sqlite3_stmt *st, const struct md_store_quality_filter *f, int64_t since)
{
    sqlite3_bind_text(st, 1, f->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, f->until_ms > 0 ? f->until_ms : INT64_MAX);
    sqlite3_bind_int64(st, 4, f->version);
    if (f->route != NULL && f->route[0] != '\0')
        sqlite3_bind_text(st, 5, f->route, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int(st, 6, f->with_shadows ? 1 : 0);
}

/* The feedback of prediction row p, current, and its kind's column. */
#define SAME_ROW                                                                                   \
    "f.request_id = p.request_id AND f.row = p.row AND f.model = p.model AND f.current = 1"
#define OUTCOME(column, kind)                                                                      \
    "(SELECT f." column " FROM feedback f WHERE " SAME_ROW " AND f.kind = '" kind "' LIMIT 1)"

#define WINDOW_WHERE                                                                               \
    "p.model = ?1 AND p.at_ms >= ?2 AND p.at_ms < ?3 AND (?4 = 0 OR p.version = ?4) AND "          \
    "(?5 IS NULL OR p.route = ?5) AND (?6 = 1 OR p.shadow = 0)"

#define LABEL_OF  OUTCOME("label", "label")
#define VALUE_OF  OUTCOME("value", "value")
#define REWARD_OF OUTCOME("value", "reward")
#define RATING_OF OUTCOME("value", "rating")

static const char window_sql[] = "SELECT p.id, p.request_id, p.row, p.version, p.route, p.shadow, "
                                 "p.at_ms, p.label, p.score, " LABEL_OF ", " VALUE_OF ", " REWARD_OF
                                 ", " RATING_OF " FROM predictions p WHERE EXISTS "
                                 "(SELECT 1 FROM feedback f WHERE " SAME_ROW ") AND " WINDOW_WHERE
                                 " ORDER BY p.at_ms DESC, p.id DESC";

static int window_total(struct md_store_tx *tx, const struct md_store_quality_filter *f,
                        int64_t since,
                        void (*fn_total)(void *ctx, int64_t version, const char *route, bool shadow,
                                         uint64_t n),
                        void *ctx, struct md_err *err)
{
    sqlite3_stmt *st =
        md_store__prep(tx, MD_SQL_FEEDBACK_WINDOW_TOTAL,
                       "SELECT p.version, p.route, p.shadow, COUNT(*) FROM "
                       "predictions p WHERE " WINDOW_WHERE " GROUP BY p.version, p.route, p.shadow",
                       err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    bind_filter(st, f, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn_total(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                 sqlite3_column_int(st, 2) != 0, (uint64_t)sqlite3_column_int64(st, 3));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "count a window's rows", err);
}

int md_store_tx_feedback_rows(struct md_store_tx *tx, const struct md_store_quality_filter *f,
                              bool (*fn)(void *ctx, const struct md_store_labelled *r),
                              void (*fn_total)(void *ctx, int64_t version, const char *route,
                                               bool shadow, uint64_t n),
                              void *ctx, struct md_err *err)
{
    struct md_store_labelled r;
    sqlite3_stmt *st;
    int64_t since = f->since_ms;
    int rc;

    if (f->model == NULL || f->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: required");
    /*
     * One line per prediction row with any current outcome, each kind's in
     * its column. Driven by the rows' time index, newest first, each probing
     * the feedback index, so a window by count stops after its rows.
     */
    st = md_store__prep(tx, MD_SQL_FEEDBACK_WINDOW, window_sql, err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_filter(st, f, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&r, 0, sizeof(r));
        r.id = sqlite3_column_int64(st, 0);
        r.request_id = (const char *)sqlite3_column_text(st, 1);
        r.row = sqlite3_column_int64(st, 2);
        r.version = sqlite3_column_int64(st, 3);
        r.route = (const char *)sqlite3_column_text(st, 4);
        r.shadow = sqlite3_column_int(st, 5) != 0;
        r.at_ms = sqlite3_column_int64(st, 6);
        rc = md_store__column_open(tx, st, 7, MD_CBUF_LABEL, MD_AAD_LABEL, &r.predicted, err);
        if (rc != MD_OK) {
            sqlite3_reset(st);
            return rc;
        }
        r.score = column_double_or_nan(st, 8);
        r.label = (const char *)sqlite3_column_text(st, 9);
        r.value = column_double_or_nan(st, 10);
        r.reward = column_double_or_nan(st, 11);
        r.rating = column_double_or_nan(st, 12);
        if (!fn(ctx, &r)) {
            since = r.at_ms;
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return md_store__fail(tx, rc, "read a window's rows", err);
    return fn_total != NULL ? window_total(tx, f, since, fn_total, ctx, err) : MD_OK;
}

/* ------------------------------------------------------------------ listing */

int md_store_tx_feedback_items(struct md_store_tx *tx, const char *model, const char *request_id,
                               const char *key_name, const char *key_value,
                               void (*fn)(void *ctx, const struct md_store_feedback_item *it),
                               void *ctx, struct md_err *err)
{
    struct md_store_feedback_item it;
    char hashed[MD_STORE__LOOKUP_LEN];
    sqlite3_stmt *st;
    int rc;

    if (request_id != NULL) {
        st = md_store__prep(tx, MD_SQL_FEEDBACK_ITEMS_ROW,
                            "SELECT id, model, request_id, row, key_name, key_value, kind, label, "
                            "value, source, comment, at_ms, state, current FROM feedback WHERE "
                            "request_id = ?1 AND (?2 IS NULL OR model = ?2) ORDER BY id",
                            err);
        if (st == NULL)
            return md_store__prep_failed(err);
        sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, model);
    } else {
        if (model == NULL || key_name == NULL || key_value == NULL)
            return md_err_set(err, MD_EINVAL, "a request id or a model's key is needed");
        st = md_store__prep(tx, MD_SQL_FEEDBACK_ITEMS_KEY,
                            "SELECT id, model, request_id, row, key_name, key_value, kind, label, "
                            "value, source, comment, at_ms, state, current FROM feedback WHERE "
                            "model = ?1 AND key_name = ?2 AND key_value IN (?3, ?4) ORDER BY id",
                            err);
        if (st == NULL)
            return md_store__prep_failed(err);
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, key_value, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, md_store__lookup(tx, key_value, hashed), -1, SQLITE_STATIC);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&it, 0, sizeof(it));
        it.id = sqlite3_column_int64(st, 0);
        it.f.model = (const char *)sqlite3_column_text(st, 1);
        it.f.request_id = (const char *)sqlite3_column_text(st, 2);
        it.f.row = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
        it.f.key_name = (const char *)sqlite3_column_text(st, 4);
        it.f.key_value = (const char *)sqlite3_column_text(st, 5);
        it.f.kind = md_feedback_kind_parse((const char *)sqlite3_column_text(st, 6));
        it.f.label = (const char *)sqlite3_column_text(st, 7);
        it.f.value = column_double_or_nan(st, 8);
        it.f.source = (const char *)sqlite3_column_text(st, 9);
        rc =
            md_store__column_open(tx, st, 10, MD_CBUF_COMMENT, MD_AAD_FEEDBACK, &it.f.comment, err);
        if (rc != MD_OK) {
            sqlite3_reset(st);
            return rc;
        }
        it.f.at_ms = sqlite3_column_int64(st, 11);
        it.state = state_parse((const char *)sqlite3_column_text(st, 12));
        it.current = sqlite3_column_int(st, 13) != 0;
        fn(ctx, &it);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? MD_OK : md_store__fail(tx, rc, "list feedback", err);
}
