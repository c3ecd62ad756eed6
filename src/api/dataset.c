/* SPDX-License-Identifier: MIT */
/*
 * dataset.c: a model's training set through the API:
 *
 *   GET    /api/v1/models/{m}/dataset          what a training would learn from
 *   GET    /api/v1/models/{m}/dataset/export   the whole set (?format=jsonl|csv)
 *   PUT    /api/v1/models/{m}/datasets/{name}  register a base dataset (a CSV body)
 *   GET    /api/v1/models/{m}/datasets         the base datasets registered
 *   DELETE /api/v1/models/{m}/datasets/{name}
 *
 * What the set holds is learn/dataset.c's; which set is the serving
 * version's contract (serve/dataset_spec.h) and the query's. Building a set
 * waits on the store a page at a time, so it never runs on an HTTP thread:
 * the request parks while a thread of its own builds it (as api/history.c
 * evaluates signals), at most JOBS_MAX at once. The listing and the delete
 * are single store jobs (md_api_store_job).
 */
#include "api/handlers.h"
#include "serve/dataset_spec.h"
#include "util/mem.h"
#include "util/sha256.h"
#include "watch/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define JOBS_MAX      4                 /* sets built at once for requests */
#define EXPORT_MAX    ((size_t)1 << 31) /* bytes an export answers at most */
#define NAME_MAX_LEN  64                /* a base dataset's name */
#define DURATION_UNIT 1000              /* a bare number of a duration: seconds */

static _Atomic int jobs_running;

enum job_kind { JOB_SUMMARY = 1, JOB_EXPORT, JOB_PUT };

/* One request's work, on a thread of its own. Strings of the request stay
 * alive until its answer (or its wake, when the client left). */
struct job {
    enum job_kind kind;
    struct md_api *api;
    struct md_version *v; /* the serving version: its contract makes the spec */
    struct md_dataset_spec spec;
    uint64_t min_rows;
    enum md_dataset_format format;
    const char *model;
    const char *name; /* JOB_PUT: the dataset's; else training.base_dataset or NULL */
    const char *body; /* JOB_PUT: the CSV */
    size_t body_len;
    struct md_buf out; /* the answer's body */
    int code;
    struct md_err err;
    void (*wake)(void *ctx);
    void *wake_ctx;
};

static void job_free(void *p)
{
    struct job *j = p;

    md_dataset_spec_release(&j->spec);
    if (j->v != NULL)
        md_version_unref(j->v);
    md_buf_release(&j->out);
    free(j);
}

static bool valid_name(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return false;
    return s[0] != '.';
}

/* ---- the store's side ------------------------------------------------------ */

struct lookup {
    char sha256[65];
    bool found;
};

static void on_found(void *ctx, const struct md_store_dataset *d)
{
    struct lookup *l = ctx;

    (void)snprintf(l->sha256, sizeof(l->sha256), "%s", d->sha256);
    l->found = true;
}

struct lookup_job {
    const char *model, *name;
    struct lookup l;
};

static int run_lookup(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct lookup_job *j = ctx;

    return md_store_tx_datasets(tx, j->model, j->name, on_found, &j->l, err);
}

/* The file of the base dataset the contract names, into path. */
static int base_path(struct job *j, char *path, size_t n, struct md_err *err)
{
    struct lookup_job lj = {j->model, j->name, {{0}, false}};
    int rc = md_store_call(j->api->store, run_lookup, &lj, err);

    if (rc == MD_ENOTFOUND)
        return md_err_set(err, MD_EINVAL,
                          "training.base_dataset: model '%s' has no dataset '%s' (register it "
                          "with PUT /api/v1/models/%s/datasets/%s)",
                          j->model, j->name, j->model, j->name);
    if (rc != MD_OK)
        return rc;
    return md_store_artifact_path(j->api->store, lj.l.sha256, path, n, err);
}

struct put_job {
    struct md_store_dataset d;
};

static int run_put(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct put_job *p = ctx;

    return md_store_tx_dataset_put(tx, &p->d, err);
}

/* ---- the work -------------------------------------------------------------- */

static void put_summary(struct job *j, const struct md_dataset_summary *sum, bool trainable,
                        const char *reason)
{
    char *text = md_dataset_summary_json(sum);
    struct md_buf *b = &j->out;

    (void)md_buf_puts(b, "{\"model\":");
    (void)md_buf_json_str(b, j->model, strlen(j->model));
    (void)md_buf_printf(b, ",\"since_ms\":%lld,\"until_ms\":%lld,\"max_rows\":%llu",
                        (long long)j->spec.since_ms, (long long)j->spec.until_ms,
                        (unsigned long long)j->spec.max_rows);
    (void)md_buf_printf(b, ",\"holdout\":%.15g", j->spec.holdout);
    (void)md_buf_printf(b, ",\"min_rows\":%llu,\"base_dataset\":", (unsigned long long)j->min_rows);
    if (j->name != NULL)
        (void)md_buf_json_str(b, j->name, strlen(j->name));
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_printf(b, ",\"trainable\":%s,\"reason\":", trainable ? "true" : "false");
    if (reason != NULL)
        (void)md_buf_json_str(b, reason, strlen(reason));
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_puts(b, ",\"summary\":");
    (void)md_buf_puts(b, text);
    (void)md_buf_putc(b, '}');
    free(text);
}

static int do_summary(struct job *j, struct md_err *err)
{
    struct md_dataset_summary *sum = md_xcalloc(1, sizeof(*sum));
    struct md_err why;
    int rc;

    rc = md_dataset_build(j->api->store, &j->spec, j->min_rows, NULL, NULL, sum, &why);
    if (rc == MD_OK || rc == MD_EINVAL) {
        /* A set that cannot be trained on is still shown, with the reason. */
        put_summary(j, sum, rc == MD_OK, rc == MD_OK ? NULL : why.msg);
        rc = MD_OK;
    } else {
        *err = why;
    }
    free(sum);
    return rc;
}

static int do_export(struct job *j, struct md_err *err)
{
    struct md_dataset_summary *sum = md_xcalloc(1, sizeof(*sum));
    int fd = memfd_create("modeld-export", MFD_CLOEXEC);
    off_t size;
    int rc;

    if (fd < 0) {
        free(sum);
        return md_err_set(err, MD_EIO, "export: no memory file: %s", strerror(errno));
    }
    rc = md_dataset_export(j->api->store, &j->spec, j->format, fd, sum, err);
    free(sum);
    size = rc == MD_OK ? lseek(fd, 0, SEEK_CUR) : 0;
    if (rc == MD_OK && (size < 0 || (size_t)size > EXPORT_MAX))
        rc = md_err_set(err, MD_ETOOBIG, "export: more than %zu bytes", EXPORT_MAX);
    if (rc == MD_OK && size > 0) {
        size_t done = 0;

        rc = md_buf_reserve(&j->out, (size_t)size);
        while (rc == MD_OK && done < (size_t)size) {
            ssize_t n = pread(fd, md_buf_tail(&j->out), (size_t)size - done, (off_t)done);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = md_err_set(err, MD_EIO, "export: cannot read it back");
                break;
            }
            md_buf_commit(&j->out, (size_t)n);
            done += (size_t)n;
        }
        if (rc != MD_OK && err->msg[0] == '\0')
            (void)md_err_set(err, rc, "export: out of memory for %lld bytes", (long long)size);
    }
    close(fd);
    return rc;
}

static int do_put(struct job *j, struct md_err *err)
{
    struct put_job p;
    char tmp[512], sha[MD_SHA256_HEX];
    uint64_t rows;
    size_t done = 0;
    char *columns;
    int fd, rc;

    rc = md_dataset_check_csv(&j->spec, j->body, j->body_len, &rows, err);
    if (rc != MD_OK)
        return rc;
    columns = md_dataset_csv_columns(j->body, j->body_len, err);
    if (columns == NULL)
        return err->code != MD_OK ? err->code : MD_EINVAL;
    md_sha256_hex(j->body, j->body_len, sha);
    rc = md_store_artifact_tmp(j->api->store, tmp, sizeof(tmp), &fd, err);
    while (rc == MD_OK && done < j->body_len) {
        ssize_t n = write(fd, j->body + done, j->body_len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = md_err_set(err, MD_EIO, "%s: cannot write: %s", tmp,
                            n < 0 ? strerror(errno) : "nothing written");
        else
            done += (size_t)n;
    }
    if (fd >= 0 && close(fd) != 0 && rc == MD_OK)
        rc = md_err_set(err, MD_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == MD_OK)
        rc = md_store_artifact_put(j->api->store, tmp, sha, err);
    else
        (void)unlink(tmp);
    if (rc == MD_OK) {
        memset(&p, 0, sizeof(p));
        p.d.model = j->model;
        p.d.name = j->name;
        p.d.sha256 = sha;
        p.d.size = (int64_t)j->body_len;
        p.d.rows = (int64_t)rows;
        p.d.columns = columns;
        rc = md_store_call(j->api->store, run_put, &p, err);
    }
    if (rc == MD_OK) {
        (void)md_buf_puts(&j->out, "{\"model\":");
        (void)md_buf_json_str(&j->out, j->model, strlen(j->model));
        (void)md_buf_puts(&j->out, ",\"name\":");
        (void)md_buf_json_str(&j->out, j->name, strlen(j->name));
        (void)md_buf_printf(&j->out,
                            ",\"sha256\":\"%s\",\"size\":%zu,\"rows\":%llu,\"columns\":%s}", sha,
                            j->body_len, (unsigned long long)rows, columns);
    }
    free(columns);
    return rc;
}

static void run(struct job *j)
{
    char path[512];

    memset(&j->err, 0, sizeof(j->err));
    j->code = MD_OK;
    if (j->kind != JOB_PUT && j->name != NULL) {
        j->code = base_path(j, path, sizeof(path), &j->err);
        if (j->code != MD_OK)
            return;
        j->spec.base_path = path;
    }
    if (j->kind == JOB_SUMMARY)
        j->code = do_summary(j, &j->err);
    else if (j->kind == JOB_EXPORT)
        j->code = do_export(j, &j->err);
    else
        j->code = do_put(j, &j->err);
    j->spec.base_path = NULL;
    if (j->code == MD_OK && md_buf_error(&j->out) != MD_OK)
        j->code = md_err_set(&j->err, md_buf_error(&j->out), "the answer is too large");
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    void (*wake)(void *ctx) = j->wake;
    void *wake_ctx = j->wake_ctx;

    run(j);
    atomic_fetch_sub(&jobs_running, 1);
    wake(wake_ctx); /* j and the request may be gone from here on */
    return NULL;
}

/* Parks the request while a thread of its own runs j (taken); MD_EUNAVAIL
 * with j freed when JOBS_MAX run already or no thread starts. */
static int park_job(struct md_api_req *req, struct md_api_resp *resp, struct job *j,
                    struct md_err *err)
{
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    if (atomic_fetch_add(&jobs_running, 1) >= JOBS_MAX) {
        atomic_fetch_sub(&jobs_running, 1);
        job_free(j);
        return md_err_set(err, MD_EUNAVAIL, "%d training sets are being read already: try again",
                          JOBS_MAX);
    }
    j->wake = req->wake;
    j->wake_ctx = req->wake_ctx;
    md_api_park(resp, j, job_free);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&jobs_running, 1);
        resp->resume = NULL;
        resp->drop = NULL;
        resp->parked = false;
        job_free(j);
        return md_err_set(err, MD_EUNAVAIL, "no thread to read the training set on");
    }
    return MD_OK;
}

/* Answers j once it has run, and frees it. */
static void answer(struct job *j, struct md_api_resp *resp, int ok_status)
{
    if (j->code != MD_OK) {
        md_api_error(resp, &j->err);
    } else {
        resp->status = ok_status;
        if (j->kind == JOB_EXPORT)
            resp->content_type =
                j->format == MD_DATASET_CSV ? "text/csv; charset=utf-8" : "application/x-ndjson";
        (void)md_buf_append(resp->body, j->out.data != NULL ? j->out.data : "", j->out.len);
        md_api_finish(resp, md_buf_error(resp->body));
    }
    job_free(j);
}

/* Runs j off the HTTP thread (parked), or here when the request cannot park. */
static void start(struct job *j, struct md_api_req *req, struct md_api_resp *resp, int ok_status)
{
    struct md_err err;

    if (req->wake == NULL && req->want_wake != NULL)
        req->want_wake(req);
    if (req->wake != NULL) {
        if (park_job(req, resp, j, &err) != MD_OK)
            md_api_error(resp, &err);
        return;
    }
    run(j);
    answer(j, resp, ok_status);
}

/* ---- the query ------------------------------------------------------------- */

static const char *arg(struct md_api_req *req, const char *name)
{
    return req->query != NULL ? req->query(req->conn, name) : NULL;
}

/*
 * A time of the query: digits alone for ms since the epoch, or a duration
 * with its unit (s, m, h, d) for that long before now_ms. -1 when malformed.
 */
static int64_t parse_time(const char *s, int64_t now_ms)
{
    char *end = NULL;
    long long v;
    int64_t unit;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v < 0)
        return -1;
    if (*end == '\0')
        return v;
    if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return -1;
    if (v > now_ms / unit)
        return -1;
    return now_ms - (int64_t)v * unit;
}

/* A duration: "3600" (seconds), "90s", "15m", "24h", "7d", into ms; -1 when malformed. */
static int64_t parse_duration(const char *s)
{
    char *end = NULL;
    long long v;
    int64_t unit = DURATION_UNIT;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v <= 0)
        return -1;
    if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else if (strcmp(end, "s") != 0 && end[0] != '\0')
        return -1;
    if (v > (long long)(INT64_MAX / 4 / unit))
        return -1;
    return (int64_t)v * unit;
}

/* The window and shape of the set the query asks for, over the contract's. */
static int read_query(struct md_api_req *req, struct job *j, int64_t now_ms, struct md_err *err)
{
    const char *v;
    int64_t t;

    v = arg(req, "until");
    if (v != NULL) {
        t = parse_time(v, now_ms);
        if (t < 0)
            return md_err_set(err, MD_EINVAL,
                              "until: '%.40s' is not a time (ms since the epoch, or a duration "
                              "before now such as 6h)",
                              v);
        j->spec.until_ms = t;
    }
    v = arg(req, "since");
    if (v != NULL) {
        t = parse_time(v, now_ms);
        if (t < 0)
            return md_err_set(err, MD_EINVAL,
                              "since: '%.40s' is not a time (ms since the epoch, or a duration "
                              "before now such as 6h)",
                              v);
        j->spec.since_ms = t;
    }
    v = arg(req, "window");
    if (v != NULL) {
        t = parse_duration(v);
        if (t < 0)
            return md_err_set(err, MD_EINVAL,
                              "window: '%.40s' is not a duration such as 3600, 90s, 15m, 24h or "
                              "7d",
                              v);
        if (arg(req, "since") != NULL)
            return md_err_set(err, MD_EINVAL, "window: give since or window, not both");
        j->spec.since_ms = (j->spec.until_ms > 0 ? j->spec.until_ms : now_ms) - t;
    }
    if (j->spec.until_ms > 0 && j->spec.since_ms >= j->spec.until_ms)
        return md_err_set(err, MD_EINVAL, "since: %lld is not before until %lld",
                          (long long)j->spec.since_ms, (long long)j->spec.until_ms);
    v = arg(req, "max_rows");
    if (v != NULL) {
        char *end = NULL;
        unsigned long long n;

        errno = 0;
        n = strtoull(v, &end, 10);
        if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0)
            return md_err_set(err, MD_EINVAL, "max_rows: '%.40s' is not a whole number >= 0", v);
        j->spec.max_rows = n;
    }
    v = arg(req, "holdout");
    if (v != NULL) {
        char *end = NULL;
        double h = strtod(v, &end);

        if (end == v || *end != '\0' || !(h >= 0 && h < 1))
            return md_err_set(err, MD_EINVAL, "holdout: '%.40s' is not a share in [0, 1)", v);
        j->spec.holdout = h;
    }
    return MD_OK;
}

/* A job on the serving version's contract; NULL with the error answered. */
static struct job *new_job(struct md_api *api, const struct md_route *rt, enum job_kind kind,
                           struct md_api_resp *resp)
{
    struct md_version *v;
    struct md_err err;
    struct job *j;

    if (api->store == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no store: training sets are read from it");
        return NULL;
    }
    if (md_repo_acquire(api->repo, rt->model, NULL, &v, &err) != MD_OK) {
        md_api_error(resp, &err);
        return NULL;
    }
    j = md_xcalloc(1, sizeof(*j));
    j->kind = kind;
    j->api = api;
    j->v = v;
    j->model = rt->model;
    md_dataset_spec_from_contract(v->contract, md_wall_ms(), &j->spec);
    j->spec.model = rt->model;
    j->min_rows = md_dataset_min_rows(v->contract);
    if (kind != JOB_PUT && v->contract->training.present)
        j->name = v->contract->training.base_dataset;
    md_buf_init(&j->out, EXPORT_MAX);
    return j;
}

void md_dataset_api_summary(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_err err;
    struct job *j;

    if (resp->resume != NULL) {
        answer(resp->resume, resp, 200);
        return;
    }
    j = new_job(api, rt, JOB_SUMMARY, resp);
    if (j == NULL)
        return;
    if (read_query(req, j, md_wall_ms(), &err) != MD_OK) {
        job_free(j);
        md_api_error(resp, &err);
        return;
    }
    start(j, req, resp, 200);
}

void md_dataset_api_export(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    const char *format;
    struct md_err err;
    struct job *j;

    if (resp->resume != NULL) {
        answer(resp->resume, resp, 200);
        return;
    }
    format = arg(req, "format");
    if (format != NULL && strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0) {
        md_api_errorf(resp, MD_EINVAL, "format: '%.40s' is not jsonl or csv", format);
        return;
    }
    j = new_job(api, rt, JOB_EXPORT, resp);
    if (j == NULL)
        return;
    j->format = format != NULL && strcmp(format, "csv") == 0 ? MD_DATASET_CSV : MD_DATASET_JSONL;
    if (read_query(req, j, md_wall_ms(), &err) != MD_OK) {
        job_free(j);
        md_api_error(resp, &err);
        return;
    }
    start(j, req, resp, 200);
}

void md_dataset_api_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct job *j;

    if (resp->resume != NULL) {
        answer(resp->resume, resp, 201);
        return;
    }
    if (rt->name == NULL || !valid_name(rt->name)) {
        md_api_errorf(resp, MD_EINVAL,
                      "name: '%.40s' is not a dataset name (1 to %d of A-Z a-z 0-9 _ - ., not "
                      "starting with '.')",
                      rt->name != NULL ? rt->name : "", NAME_MAX_LEN);
        return;
    }
    if (req->body_len == 0) {
        md_api_errorf(resp, MD_EINVAL, "body: empty: a base dataset is a CSV file with a header");
        return;
    }
    j = new_job(api, rt, JOB_PUT, resp);
    if (j == NULL)
        return;
    j->name = rt->name;
    j->body = req->body;
    j->body_len = req->body_len;
    start(j, req, resp, 201);
}

/* ---- the listing and the delete: store jobs -------------------------------- */

static void list_one(void *ctx, const struct md_store_dataset *d)
{
    struct md_api_store_read *r = ctx;
    struct md_buf *b = &r->out;

    if (r->id++ > 0)
        (void)md_buf_putc(b, ',');
    (void)md_buf_puts(b, "{\"name\":");
    (void)md_buf_json_str(b, d->name, strlen(d->name));
    (void)md_buf_printf(b,
                        ",\"sha256\":\"%s\",\"size\":%lld,\"rows\":%lld,\"created_ms\":%lld,"
                        "\"columns\":%s}",
                        d->sha256, (long long)d->size, (long long)d->rows, (long long)d->created_ms,
                        d->columns);
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    int rc;

    (void)md_buf_puts(&r->out, "{\"model\":");
    (void)md_buf_json_str(&r->out, r->model, strlen(r->model));
    (void)md_buf_puts(&r->out, ",\"datasets\":[");
    r->id = 0;
    rc = md_store_tx_datasets(tx, r->model, NULL, list_one, r, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

static int run_delete(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    int rc = md_store_tx_dataset_delete(tx, r->model, r->name, err);

    if (rc == MD_OK) {
        (void)md_buf_puts(&r->out, "{\"model\":");
        (void)md_buf_json_str(&r->out, r->model, strlen(r->model));
        (void)md_buf_puts(&r->out, ",\"deleted\":");
        (void)md_buf_json_str(&r->out, r->name, strlen(r->name));
        (void)md_buf_putc(&r->out, '}');
    }
    return rc;
}

void md_dataset_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    struct md_api_store_args args = {rt->model, NULL, 0, NULL, false, NULL, NULL};

    if (resp->resume == NULL && api->store == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no store: base datasets are kept there");
        return;
    }
    md_api_store_job(api, req, resp, run_list, &args, 200);
}

void md_dataset_api_delete(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    struct md_api_store_args args = {rt->model, rt->name, 0, NULL, true, NULL, NULL};

    if (resp->resume == NULL && api->store == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no store: base datasets are kept there");
        return;
    }
    md_api_store_job(api, req, resp, run_delete, &args, 200);
}
