/* SPDX-License-Identifier: MIT */
/*
 * feedback.c: POST /api/v1/feedback (outcomes of predictions, stored before
 * the 2xx that acknowledges them) and GET /api/v1/models/{m}/quality (a
 * window's quality, exact from its stored rows). The body's reading is
 * feedback_parse.c's; the arithmetic is watch/quality.c's; the live sums
 * the feedback feeds are watch/outcomes.c's.
 */
#include "api/feedback.h"
#include "api/handlers.h"
#include "serve/registry.h"
#include "util/fmt.h"
#include "util/mem.h"
#include "watch/quality.h"

#include <math.h>
#include <stdarg.h>

/* ---- POST /api/v1/feedback ------------------------------------------------- */

struct post {
    struct md_feedback_batch batch;    /* items in the request's arena */
    struct md_outcomes_batch *changes; /* what the stored items changed, for outcomes */
    struct md_outcomes *outcomes;      /* borrowed, or NULL */
};

static void post_free(void *p)
{
    struct post *x = p;

    md_outcomes_batch_free(x->changes);
    free(x);
}

/* The item's field name: "label" alone, "items[3].label" in a batch. */
static void item_error(const struct md_feedback_batch *b, size_t i, struct md_err *err,
                       const char *field, const char *fmt, ...) MD_PRINTF(5, 6);
static void item_error(const struct md_feedback_batch *b, size_t i, struct md_err *err,
                       const char *field, const char *fmt, ...)
{
    char what[200];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap); /* cut short if long */
    va_end(ap);
    if (b->many)
        (void)md_err_set(err, MD_EINVAL, "items[%zu].%s: %s", i, field, what);
    else
        (void)md_err_set(err, MD_EINVAL, "%s: %s", field, what);
}

/* The model's classes, "a, b, c" (cut short past n bytes). */
static void class_list(const struct md_contract *c, char *out, size_t n)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < c->n_labels && len + 1 < n; i++) {
        int w = snprintf(out + len, n - len, "%s%s", i > 0 ? ", " : "", c->labels[i]);

        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* Checks item i against its model's contract: the outcome fits the task,
 * a label is one of the classes. */
static void check_item(struct md_api *api, const struct md_api_req *req,
                       struct md_feedback_batch *b, size_t i)
{
    struct md_feedback_item *it = &b->items[i];
    const struct md_store_feedback *f = &it->f;
    const struct md_contract *c;
    struct md_version *v;
    struct md_err err;
    char classes[200];
    bool known = false;

    if (req->principal != NULL && !md_auth_may_use(req->principal, f->model)) {
        item_error(b, i, &it->err, "model", "'%s' may not be used by '%s'", f->model,
                   req->principal->name);
        it->err.code = MD_EPERM;
        return;
    }
    if (md_repo_acquire(api->repo, f->model, NULL, &v, &err) != MD_OK) {
        item_error(b, i, &it->err, "model", "%s", err.msg);
        return;
    }
    c = v->contract;
    if (c->task == MD_TASK_REGRESSION && f->kind == MD_FEEDBACK_LABEL) {
        item_error(b, i, &it->err, "label",
                   "model '%s' is a regression: its outcome is a value, not a label", f->model);
    } else if (c->task == MD_TASK_CLASSIFICATION && f->kind == MD_FEEDBACK_VALUE) {
        item_error(b, i, &it->err, "value",
                   "model '%s' is a classification: its outcome is a label, not a value", f->model);
    } else if (f->kind == MD_FEEDBACK_LABEL) {
        for (size_t k = 0; k < c->n_labels; k++)
            known = known || strcmp(c->labels[k], f->label) == 0;
        if (!known) {
            class_list(c, classes, sizeof(classes));
            item_error(b, i, &it->err, "label", "'%.64s' is not a class of model '%s' (%s)",
                       f->label, f->model, classes);
        }
    }
    md_version_unref(v);
}

/* The reply: how many were stored, and each item's state or error. */
static void write_reply(struct md_buf *out, const struct md_feedback_batch *b)
{
    size_t stored = 0;

    for (size_t i = 0; i < b->n; i++)
        stored += b->items[i].err.code == MD_OK ? 1 : 0;
    md_buf_printf(out, "{\"stored\":%zu,\"failed\":%zu,\"items\":[", stored, b->n - stored);
    for (size_t i = 0; i < b->n; i++) {
        const struct md_feedback_item *it = &b->items[i];

        md_buf_printf(out, "%s{\"index\":%zu,", i > 0 ? "," : "", i);
        if (it->err.code == MD_OK) {
            md_buf_puts(out, "\"state\":\"");
            md_buf_puts(out, md_feedback_state_name(it->state));
            md_buf_puts(out, "\"}");
        } else {
            md_buf_puts(out, "\"error\":");
            md_buf_json_str(out, it->err.msg, strlen(it->err.msg));
            md_buf_putc(out, '}');
        }
    }
    md_buf_puts(out, "]}");
}

static int run_post(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct post *p = r->extra;
    struct md_feedback_batch *b = &p->batch;
    size_t stored = 0;

    for (size_t i = 0; i < b->n; i++) {
        struct md_feedback_item *it = &b->items[i];
        struct md_err ierr;
        int rc;

        if (it->err.code != MD_OK)
            continue;
        rc = md_store_tx_feedback_add(tx, &it->f, md_outcomes_batch_add, p->changes, &it->state,
                                      &ierr);
        if (rc == MD_EINVAL) {
            /* Refused before anything of it was written: this item alone. */
            if (b->many)
                (void)md_err_set(&it->err, MD_EINVAL, "items[%zu].%s", i, ierr.msg);
            else
                it->err = ierr;
            continue;
        }
        if (rc != MD_OK) {
            *err = ierr;
            return rc;
        }
        stored++;
    }
    if (stored == 0) {
        /* Nothing taken: a 400 naming the first item's reason. */
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].err.code != MD_OK) {
                if (b->n == 1)
                    return md_err_set(err, MD_EINVAL, "%s", b->items[i].err.msg);
                return md_err_set(err, MD_EINVAL, "no item was stored: %s", b->items[i].err.msg);
            }
    }
    write_reply(&r->out, b);
    return md_buf_error(&r->out);
}

/* What answers whether a model is binary, for the live sums: the items know. */
static bool post_positive(void *ctx, const char *model, char *buf, size_t n)
{
    const struct md_feedback_batch *b = ctx;

    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].positive != NULL && strcmp(b->items[i].f.model, model) == 0) {
            (void)snprintf(buf, n, "%s", b->items[i].positive);
            return true;
        }
    return false;
}

static void post_committed(struct md_api_store_read *r)
{
    struct post *p = r->extra;

    if (p->outcomes != NULL)
        md_outcomes_batch_apply(p->outcomes, p->changes, post_positive, &p->batch, md_wall_ms());
}

/* The positive class (labels[1]) of each binary item's model, in the arena. */
static void find_positive(struct md_api *api, struct md_arena *a, struct md_feedback_item *it)
{
    struct md_version *v;
    struct md_err err;

    if (md_repo_acquire(api->repo, it->f.model, NULL, &v, &err) != MD_OK)
        return;
    if (v->contract->task == MD_TASK_CLASSIFICATION && v->contract->n_labels == 2)
        it->positive = md_arena_strndup(a, v->contract->labels[1], strlen(v->contract->labels[1]));
    md_version_unref(v);
}

void md_feedback_api_post(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    struct md_api_store_args args = {0};
    struct post *p;
    struct md_err err = {0};
    size_t good = 0;

    MD_UNUSED(rt);
    if (resp->resume == NULL) {
        p = md_xcalloc(1, sizeof(*p));
        if (md_feedback_parse(req->body, req->body_len, req->arena, &p->batch, &err) != MD_OK) {
            free(p);
            md_api_error(resp, &err);
            return;
        }
        for (size_t i = 0; i < p->batch.n; i++) {
            struct md_feedback_item *it = &p->batch.items[i];

            if (it->err.code == MD_OK)
                check_item(api, req, &p->batch, i);
            if (it->err.code == MD_OK) {
                find_positive(api, req->arena, it);
                good++;
            }
        }
        if (good == 0) {
            /* Nothing to store: the single item's error, or every item's. */
            if (p->batch.n == 1) {
                md_api_error(resp, &p->batch.items[0].err);
            } else {
                md_api_errorf(resp, MD_EINVAL, "no item was stored: %s", p->batch.items[0].err.msg);
                md_buf_reset(resp->body);
                md_buf_puts(resp->body, "{\"error\":\"no item was stored\",\"detail\":");
                write_reply(resp->body, &p->batch);
                md_buf_putc(resp->body, '}');
                md_api_finish(resp, md_buf_error(resp->body));
            }
            free(p);
            return;
        }
        p->changes = md_outcomes_batch_new();
        p->outcomes = api->outcomes;
        args.extra = p;
        args.extra_free = post_free;
    }
    md_api_store_write(api, req, resp, run_post, &args, post_committed, 200);
}

/* ---- GET /api/v1/models/{m}/quality ---------------------------------------- */

#define QUALITY_DEFAULT_LAST 1000
#define QUALITY_MAX_ROWS     1000000 /* labelled rows one window holds at most */

/* A window's rows, as the store gave them (strings owned). */
struct qrow {
    int64_t version;
    char *route;
    bool shadow;
    int truth;     /* index of the true class, or -1 */
    int predicted; /* index of the predicted class, or -1 */
    double score;
    double value;
    double reward;
    double rating;
};

struct qtotal {
    int64_t version;
    char *route;
    bool shadow;
    uint64_t n;
};

struct quality {
    char model[MD_STORE_NAME_MAX + 1];
    struct md_store_quality_filter f;
    char route[MD_POLICY_NAME_MAX];
    size_t last;         /* 0: a window by time only */
    int64_t window_ms;   /* 0: by count only */
    bool classification; /* the model's task */
    char **labels;       /* the contract's classes (owned copies) */
    size_t k;
    struct qrow *rows;
    size_t n;
    size_t cap;
    size_t labelled; /* rows with a label or value so far */
    bool too_many;
    struct qtotal *totals;
    size_t n_totals;
};

static void quality_free(void *p)
{
    struct quality *q = p;

    for (size_t i = 0; i < q->n; i++)
        free(q->rows[i].route);
    for (size_t i = 0; i < q->n_totals; i++)
        free(q->totals[i].route);
    for (size_t i = 0; i < q->k; i++)
        free(q->labels[i]);
    free(q->labels);
    free(q->rows);
    free(q->totals);
    free(q);
}

static int class_index(const struct quality *q, const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < q->k; i++)
        if (strcmp(q->labels[i], name) == 0)
            return (int)i;
    return -1;
}

static bool on_row(void *ctx, const struct md_store_labelled *r)
{
    struct quality *q = ctx;
    struct qrow *x;

    if (q->n == QUALITY_MAX_ROWS) {
        q->too_many = true;
        return false;
    }
    if (q->n == q->cap) {
        q->cap = q->cap == 0 ? 256 : q->cap * 2;
        q->rows = md_xrealloc(q->rows, q->cap * sizeof(*q->rows));
    }
    x = &q->rows[q->n++];
    x->version = r->version;
    x->route = md_xstrdup(r->route != NULL ? r->route : "");
    x->shadow = r->shadow;
    x->truth = class_index(q, r->label);
    x->predicted = class_index(q, r->predicted);
    x->score = r->score;
    x->value = r->value;
    x->reward = r->reward;
    x->rating = r->rating;
    /* A window by count ends with its last-th row with a label or value. */
    q->labelled += x->truth >= 0 || !isnan(x->value) ? 1 : 0;
    return q->last == 0 || q->labelled < q->last;
}

static void on_total(void *ctx, int64_t version, const char *route, bool shadow, uint64_t n)
{
    struct quality *q = ctx;
    struct qtotal *t;

    q->totals = md_xrealloc(q->totals, (q->n_totals + 1) * sizeof(*q->totals));
    t = &q->totals[q->n_totals++];
    t->version = version;
    t->route = md_xstrdup(route != NULL ? route : "");
    t->shadow = shadow;
    t->n = n;
}

/* The figures of rows matching (version, route) (0 and NULL: all) into b, as an object. */
static void put_num(struct md_buf *b, const char *name, double v)
{
    md_buf_printf(b, ",\"%s\":", name);
    md_buf_f64(b, v, "null");
}

static bool in_group(const struct qrow *r, int64_t version, const char *route)
{
    return (version == 0 || r->version == version) &&
           (route == NULL || strcmp(r->route, route) == 0);
}

static void put_classes(struct md_buf *b, const struct quality *q, const uint64_t *cm)
{
    double *p = md_xcalloc(q->k * 3, sizeof(double));
    uint64_t *sup = md_xcalloc(q->k, sizeof(uint64_t));
    struct md_quality_classes c = {
        .precision = p, .recall = p + q->k, .f1 = p + 2 * q->k, .support = sup};

    md_quality_classes(cm, q->k, &c);
    put_num(b, "accuracy", c.accuracy);
    md_buf_puts(b, ",\"macro\":{\"precision\":");
    md_buf_f64(b, c.macro_precision, "null");
    put_num(b, "recall", c.macro_recall);
    put_num(b, "f1", c.macro_f1);
    md_buf_puts(b, "},\"classes\":{");
    for (size_t i = 0; i < q->k; i++) {
        md_buf_puts(b, i > 0 ? "," : "");
        md_buf_json_str(b, q->labels[i], strlen(q->labels[i]));
        md_buf_puts(b, ":{\"precision\":");
        md_buf_f64(b, c.precision[i], "null");
        put_num(b, "recall", c.recall[i]);
        put_num(b, "f1", c.f1[i]);
        md_buf_printf(b, ",\"support\":%llu}", (unsigned long long)sup[i]);
    }
    md_buf_puts(b, "},\"confusion\":[");
    for (size_t t = 0; t < q->k; t++) {
        md_buf_puts(b, t > 0 ? ",[" : "[");
        for (size_t j = 0; j < q->k; j++)
            md_buf_printf(b, "%s%llu", j > 0 ? "," : "", (unsigned long long)cm[t * q->k + j]);
        md_buf_putc(b, ']');
    }
    md_buf_putc(b, ']');
    free(p);
    free(sup);
}

/* The binary figures over the rows with a label and a score. */
static void put_binary(struct md_buf *b, const struct quality *q, int64_t version,
                       const char *route)
{
    unsigned char *y = md_xcalloc(q->n + 1, 1);
    double *s = md_xcalloc(q->n + 1, sizeof(double));
    size_t *work = md_xcalloc(q->n + 1, sizeof(size_t));
    size_t n = 0;

    for (size_t i = 0; i < q->n; i++) {
        const struct qrow *r = &q->rows[i];

        if (!in_group(r, version, route) || r->truth < 0 || !isfinite(r->score))
            continue;
        y[n] = r->truth == 1 ? 1 : 0;
        s[n++] = r->score;
    }
    put_num(b, "log_loss", md_quality_log_loss(y, s, n));
    put_num(b, "roc_auc", n > 0 ? md_quality_roc_auc(y, s, n, work) : NAN);
    put_num(b, "brier", md_quality_brier(y, s, n));
    free(y);
    free(s);
    free(work);
}

static void put_regression(struct md_buf *b, const struct quality *q, int64_t version,
                           const char *route)
{
    double *y = md_xcalloc(q->n + 1, sizeof(double));
    double *yhat = md_xcalloc(q->n + 1, sizeof(double));
    struct md_quality_regression reg;
    size_t n = 0;

    for (size_t i = 0; i < q->n; i++) {
        const struct qrow *r = &q->rows[i];

        if (!in_group(r, version, route) || isnan(r->value) || !isfinite(r->score))
            continue;
        y[n] = r->value;
        yhat[n++] = r->score;
    }
    md_quality_regression(y, yhat, n, &reg);
    put_num(b, "mae", reg.mae);
    put_num(b, "rmse", reg.rmse);
    put_num(b, "r2", reg.r2);
    free(y);
    free(yhat);
}

static void put_figures(struct md_buf *b, const struct quality *q, int64_t version,
                        const char *route)
{
    uint64_t *cm = md_xcalloc(q->k * q->k + 1, sizeof(uint64_t));
    uint64_t labelled = 0;
    uint64_t predictions = 0;
    uint64_t rewards = 0;
    uint64_t ratings = 0;
    double reward = 0;
    double rating = 0;

    for (size_t i = 0; i < q->n; i++) {
        const struct qrow *r = &q->rows[i];

        if (!in_group(r, version, route))
            continue;
        if (r->truth >= 0 || !isnan(r->value))
            labelled++;
        if (r->truth >= 0 && r->predicted >= 0)
            cm[(size_t)r->truth * q->k + (size_t)r->predicted]++;
        if (!isnan(r->reward)) {
            rewards++;
            reward += r->reward;
        }
        if (!isnan(r->rating)) {
            ratings++;
            rating += r->rating;
        }
    }
    for (size_t i = 0; i < q->n_totals; i++) {
        const struct qtotal *t = &q->totals[i];

        if ((version == 0 || t->version == version) &&
            (route == NULL || strcmp(t->route, route) == 0))
            predictions += t->n;
    }
    md_buf_printf(b, "\"labelled\":%llu,\"predictions\":%llu", (unsigned long long)labelled,
                  (unsigned long long)predictions);
    put_num(b, "label_coverage", predictions > 0 ? (double)labelled / (double)predictions : NAN);
    if (q->classification) {
        put_classes(b, q, cm);
        if (q->k == 2)
            put_binary(b, q, version, route);
    } else {
        put_regression(b, q, version, route);
    }
    md_buf_printf(b, ",\"rewards\":%llu", (unsigned long long)rewards);
    put_num(b, "mean_reward", rewards > 0 ? reward / (double)rewards : NAN);
    md_buf_printf(b, ",\"ratings\":%llu", (unsigned long long)ratings);
    put_num(b, "mean_rating", ratings > 0 ? rating / (double)ratings : NAN);
    free(cm);
}

static int run_quality(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct quality *q = r->extra;
    struct md_buf *b = &r->out;
    int rc = md_store_tx_feedback_rows(tx, &q->f, on_row, on_total, q, err);

    if (rc != MD_OK)
        return rc;
    if (q->too_many)
        return md_err_set(err, MD_ETOOBIG,
                          "the window holds more than %d labelled rows: narrow it (last=N, "
                          "window=, version=, route=)",
                          QUALITY_MAX_ROWS);
    md_buf_puts(b, "{\"model\":");
    md_buf_json_str(b, q->model, strlen(q->model));
    md_buf_puts(b, ",\"task\":");
    md_buf_puts(b, !q->classification ? "\"regression\""
                   : q->k == 2        ? "\"binary\""
                                      : "\"multiclass\"");
    md_buf_puts(b, ",\"window\":{");
    if (q->last > 0)
        md_buf_printf(b, "\"last\":%zu%s", q->last, q->window_ms > 0 ? "," : "");
    if (q->window_ms > 0)
        md_buf_printf(b, "\"since_ms\":%lld,\"until_ms\":%lld", (long long)q->f.since_ms,
                      (long long)q->f.until_ms);
    md_buf_puts(b, "},\"all\":{");
    put_figures(b, q, 0, NULL);
    md_buf_puts(b, "},\"groups\":[");
    /* One group per (version, route) with labelled rows, in the order first met. */
    for (size_t i = 0; i < q->n; i++) {
        bool seen = false;

        for (size_t j = 0; j < i && !seen; j++)
            seen = q->rows[j].version == q->rows[i].version &&
                   strcmp(q->rows[j].route, q->rows[i].route) == 0;
        if (seen)
            continue;
        md_buf_printf(b, "%s{\"version\":%lld,\"route\":",
                      b->len > 0 && b->data[b->len - 1] == '[' ? "" : ",",
                      (long long)q->rows[i].version);
        md_buf_json_str(b, q->rows[i].route, strlen(q->rows[i].route));
        md_buf_putc(b, ',');
        put_figures(b, q, q->rows[i].version, q->rows[i].route);
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "]}");
    return md_buf_error(b);
}

/* "90s", "30m", "1h", "7d" (or a bare number of seconds) into ms; -1 if malformed. */
static int64_t parse_duration(const char *s)
{
    char *end;
    double v;
    double unit = 1000;

    if (s == NULL || s[0] == '\0' || s[0] == '-')
        return -1;
    v = strtod(s, &end);
    if (end == s || !isfinite(v) || v <= 0)
        return -1;
    if (strcmp(end, "s") == 0 || end[0] == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return -1;
    if (v * unit > 3650.0 * 86400000)
        return -1;
    return (int64_t)(v * unit);
}

/* The query's window and filters into q; MD_EINVAL naming the argument. */
static int read_quality_query(struct md_api_req *req, struct quality *q, struct md_err *err)
{
    const char *s;

    q->last = QUALITY_DEFAULT_LAST;
    if (req->query == NULL)
        return MD_OK;
    s = req->query(req->conn, "version");
    if (s != NULL && (q->f.version = md_version_number(s)) < 1)
        return md_err_set(err, MD_EINVAL, "version: '%.40s' is not a version number", s);
    s = req->query(req->conn, "route");
    if (s != NULL) {
        if (s[0] == '\0' || strlen(s) >= sizeof(q->route))
            return md_err_set(err, MD_EINVAL, "route: must be 1 to %zu bytes",
                              sizeof(q->route) - 1);
        memcpy(q->route, s, strlen(s) + 1);
        q->f.route = q->route;
    }
    s = req->query(req->conn, "window");
    if (s != NULL) {
        q->window_ms = parse_duration(s);
        if (q->window_ms <= 0)
            return md_err_set(err, MD_EINVAL,
                              "window: '%.40s' is not a duration such as 90s, 30m, 1h or 7d", s);
        q->last = 0;
    }
    s = req->query(req->conn, "last");
    if (s != NULL) {
        int64_t n = md_version_number(s);

        if (n < 1 || n > QUALITY_MAX_ROWS)
            return md_err_set(err, MD_EINVAL, "last: '%.40s' is not a number from 1 to %d", s,
                              QUALITY_MAX_ROWS);
        q->last = (size_t)n;
    }
    return MD_OK;
}

void md_feedback_api_quality(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                             struct md_api_resp *resp)
{
    struct md_api_store_args args = {0};
    struct quality *q;
    struct md_version *v;
    struct md_err err;

    if (resp->resume == NULL) {
        q = md_xcalloc(1, sizeof(*q));
        if (read_quality_query(req, q, &err) != MD_OK) {
            quality_free(q);
            md_api_error(resp, &err);
            return;
        }
        if (md_repo_acquire(api->repo, rt->model, NULL, &v, &err) != MD_OK) {
            quality_free(q);
            md_api_error(resp, &err);
            return;
        }
        (void)snprintf(q->model, sizeof(q->model), "%s", rt->model);
        q->classification = v->contract->task == MD_TASK_CLASSIFICATION;
        q->k = q->classification ? v->contract->n_labels : 0;
        q->labels = md_xcalloc(q->k + 1, sizeof(char *));
        for (size_t i = 0; i < q->k; i++)
            q->labels[i] = md_xstrdup(v->contract->labels[i]);
        md_version_unref(v);
        q->f.model = q->model;
        q->f.with_shadows = q->f.version != 0 || strcmp(q->route, "shadow") == 0;
        if (q->window_ms > 0) {
            q->f.until_ms = md_wall_ms() + 1;
            q->f.since_ms = q->f.until_ms - q->window_ms;
        }
        args.extra = q;
        args.extra_free = quality_free;
    }
    md_api_store_job(api, req, resp, run_quality, &args, 200);
}
