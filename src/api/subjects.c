/* SPDX-License-Identifier: MIT */
/*
 * subjects.c: DELETE /api/v1/subjects/{subject}: erasure of everything the
 * store keeps of one subject (the person a prediction row is about, named
 * by a contract key marked `subject: true`). The id is hashed with the
 * subject key (watch/subject.h) and never stored: the rows carry the same
 * hash. One store job removes the subject's prediction rows, their key
 * index entries, review items and feedback in one transaction
 * (md_store_tx_subject_erase) with an event naming the subject by its hash
 * only; once committed, on the store thread, the training sets on disk
 * lose the same rows (learn/scrub.h) and a TRUNCATE checkpoint copies the
 * write-ahead log into the file and empties it, so that neither the file
 * nor its log keeps the removed bytes. The answer says what went.
 */
#include "api/handlers.h"
#include "learn/scrub.h"
#include "serve/contract.h"
#include "util/mem.h"
#include "watch/subject.h"

#include <string.h>

/* The handler's state across the park. */
struct erase {
    struct md_store *store; /* borrowed: the api's */
    char hash[65];
    char *id;                  /* the id as sent, wiped when freed */
    struct md_scrub_row *rows; /* the rows removed (request ids owned) */
    size_t n_rows;
    size_t cap_rows;
    bool rows_lost; /* no memory for some: training sets not scrubbed */
    struct md_store_erased gone;
};

static void erase_free(void *p)
{
    struct erase *e = p;

    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_rows; i++)
        free((char *)e->rows[i].request_id);
    free(e->rows);
    if (e->id != NULL) {
        size_t n = strlen(e->id);

        memset(e->id, 0, n);
        __asm__ __volatile__("" : : "r"(e->id) : "memory");
        free(e->id);
    }
    free(e);
}

static char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = md_malloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Keeps a removed row's request id and row, for the training sets. */
static void keep_row(void *ctx, const char *request_id, int64_t row)
{
    struct erase *e = ctx;
    char *copy;

    if (request_id == NULL)
        return;
    if (e->n_rows == e->cap_rows) {
        size_t cap = e->cap_rows > 0 ? e->cap_rows * 2 : 64;
        struct md_scrub_row *v = realloc(e->rows, cap * sizeof(*v));

        if (v == NULL) {
            e->rows_lost = true;
            return;
        }
        e->rows = v;
        e->cap_rows = cap;
    }
    copy = dup_text(request_id);
    if (copy == NULL) {
        e->rows_lost = true;
        return;
    }
    e->rows[e->n_rows].request_id = copy;
    e->rows[e->n_rows].row = row;
    e->n_rows++;
}

static int run_erase(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct erase *e = r->extra;
    struct md_store_event ev;
    struct md_buf d;
    int rc;

    rc = md_store_tx_subject_erase(tx, e->hash, e->id, keep_row, e, &e->gone, err);
    if (rc != MD_OK)
        return rc;
    md_buf_init(&d, 4096);
    (void)md_buf_printf(&d,
                        "{\"subject\":\"%s\",\"predictions\":%lld,\"prediction_keys\":%lld,"
                        "\"feedback\":%lld,\"review_items\":%lld}",
                        e->hash, (long long)e->gone.predictions, (long long)e->gone.prediction_keys,
                        (long long)e->gone.feedback, (long long)e->gone.review_items);
    memset(&ev, 0, sizeof(ev));
    ev.model = "";
    ev.kind = "subject_erased";
    ev.message = "a subject's predictions, feedback and review items were erased";
    ev.details = md_buf_error(&d) == MD_OK ? d.data : "{}";
    rc = md_store_tx_event_add(tx, &ev, NULL, err);
    md_buf_release(&d);
    if (rc != MD_OK)
        return rc;
    (void)md_buf_printf(&r->out,
                        "{\"subject\":\"%s\",\"predictions\":%lld,\"prediction_keys\":%lld,"
                        "\"feedback\":%lld,\"review_items\":%lld",
                        e->hash, (long long)e->gone.predictions, (long long)e->gone.prediction_keys,
                        (long long)e->gone.feedback, (long long)e->gone.review_items);
    return MD_OK;
}

/* After the commit, on the store thread: the training sets, then the checkpoint. */
static void erased(struct md_api_store_read *r)
{
    struct erase *e = r->extra;
    struct md_scrub_counts sc;
    struct md_store_checkpoint ck;
    struct md_err err;
    int rc;

    md_err_clear(&err);
    rc = md_scrub_training_sets(md_store_dir(e->store), e->rows, e->n_rows, &sc, &err);
    (void)md_buf_printf(&r->out,
                        ",\"training_sets\":{\"files\":%llu,\"changed\":%llu,"
                        "\"rows\":%llu",
                        (unsigned long long)sc.files, (unsigned long long)sc.changed,
                        (unsigned long long)sc.lines);
    if (rc != MD_OK || e->rows_lost) {
        const char *why = rc != MD_OK ? err.msg : "no memory for the list of rows";

        (void)md_buf_puts(&r->out, ",\"error\":");
        (void)md_buf_json_str(&r->out, why, strlen(why));
    }
    (void)md_buf_putc(&r->out, '}');
    md_err_clear(&err);
    rc = md_store_checkpoint(e->store, &ck, &err);
    (void)md_buf_printf(&r->out, ",\"checkpoint\":{\"complete\":%s",
                        rc == MD_OK && ck.complete ? "true" : "false");
    if (rc != MD_OK) {
        (void)md_buf_puts(&r->out, ",\"error\":");
        (void)md_buf_json_str(&r->out, err.msg, strlen(err.msg));
    }
    (void)md_buf_puts(&r->out, "}}");
}

void md_subjects_api_erase(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, true, NULL, erase_free};
    struct erase *e;
    size_t n;

    if (resp->resume == NULL) {
        if (api->store == NULL) {
            md_api_errorf(resp, MD_EUNAVAIL, "no store: erasure needs --data");
            return;
        }
        if (api->subject_key == NULL) {
            md_api_errorf(resp, MD_EUNAVAIL, "no subject key: erasure needs the store's");
            return;
        }
        n = rt->name != NULL ? strlen(rt->name) : 0;
        if (n == 0 || n > MD_KEY_MAX_LENGTH) {
            md_api_errorf(resp, MD_EINVAL, "subject: an id is 1 to %d bytes, not %zu",
                          MD_KEY_MAX_LENGTH, n);
            return;
        }
        e = md_calloc(1, sizeof(*e));
        if (e != NULL)
            e->id = dup_text(rt->name);
        if (e == NULL || e->id == NULL) {
            erase_free(e);
            md_api_errorf(resp, MD_ENOMEM, "no memory for an erasure");
            return;
        }
        e->store = api->store;
        md_subject_hash(api->subject_key, rt->name, n, e->hash);
        args.extra = e;
    }
    md_api_store_write(api, req, resp, run_erase, &args, erased, 200);
}
