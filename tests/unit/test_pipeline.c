/* SPDX-License-Identifier: MIT */
/*
 * test_pipeline.c: the prediction pipeline (serve/predict.c) through its
 * driver (api/pipeline.c) and both protocols' adapters, as the router hands
 * requests to it: the resolver, the order in which failures are answered,
 * parking for the batcher over V2 and TF Serving alike, and the completion
 * hook: no story when nothing is attached, and with an observer attached
 * the whole story of a prediction, told only after the answer (success,
 * each kind of failure, a parked request, a client that left), the keys
 * a request carries, in the story and by name before and after they are
 * checked, never in the engine's matrix. Runs from
 * the top of the source tree: it serves examples/repo and a copy of the
 * benchmark model of tests/data/bench.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_files.h"

#include "net/router.h"
#include "api/pipeline.h"
#include "util/jdom.h"
#include "util/log.h"

#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64]; /* the batched benchmark model's repository */

/* dir/batched: the benchmark model with dynamic_batching (a long delay: every
 * request parks), version 1; dir/keyed: the same with keys. */
static int make_repo(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/modeld-pipeline-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    file_bench_model(dir, "batched",
                     "dynamic_batching: {max_batch_size: 8, max_queue_delay_us: 1000}\n");
    file_bench_model(dir, "keyed",
                     "dynamic_batching: {max_batch_size: 8, max_queue_delay_us: 1000}\n"
                     "keys:\n"
                     "  - {name: uid, required: true, header: X-Uid}\n"
                     "  - {name: n, type: int64}\n");
    return 0;
}

static int remove_repo(void **state)
{
    static const char *const files[] = {
        "batched/1/model.json", "batched/1", "batched/model.yaml", "batched",
        "keyed/1/model.json",   "keyed/1",   "keyed/model.yaml",   "keyed"};
    char p[160];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(files); i++) {
        (void)snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        (void)remove(p);
    }
    return rmdir(dir);
}

/* ---- an observer that keeps what it was told ---------------------------- */

/* What the test observer copies out of a story (the story itself is borrowed). */
struct seen {
    int n;
    char request_id[64];
    char model[64];
    char version[24];
    char route[32];
    char route_name[32];
    int status;
    int code;
    enum md_predict_stage stage;
    char error[256];
    size_t n_inputs;
    size_t rows;
    size_t scored_rows;
    float score;
    bool prepared;
    uint64_t latency_ns;
    /* fraud's features, when the version is fraud's: as sent and as prepared */
    bool sent_amount;
    double amount;
    bool sent_tier;
    char category[32];
    float prepared_tier;
    float prepared_category[5];
    bool distance_null;
    float prepared_distance;
    /* the keys: their number, and the values of the first two in rows 0 and 1 ("-": none) */
    size_t n_keys;
    char keys[2][2][32];
    char key_name[32];
};

static void observe(void *ctx, const struct md_predict_story *s)
{
    struct seen *w = ctx;
    const struct md_tensor *t;
    size_t i;
    const float *x;

    w->n++;
    (void)snprintf(w->request_id, sizeof(w->request_id), "%s", s->request_id);
    (void)snprintf(w->model, sizeof(w->model), "%s", s->model);
    (void)snprintf(w->version, sizeof(w->version), "%s",
                   s->version != NULL ? s->version->version_str : "");
    (void)snprintf(w->route, sizeof(w->route), "%s", s->route);
    (void)snprintf(w->route_name, sizeof(w->route_name), "%s",
                   s->route_name != NULL ? s->route_name : "(none)");
    w->status = s->status;
    w->code = s->code;
    w->stage = s->stage;
    (void)snprintf(w->error, sizeof(w->error), "%s", s->error);
    w->n_inputs = s->n_inputs;
    w->rows = s->rows;
    w->scored_rows = s->scores->rows;
    w->score = s->scores->rows > 0 ? s->scores->scores[0] : -1;
    w->prepared = s->prepared != NULL;
    w->latency_ns = s->latency_ns;
    w->n_keys = s->n_keys;
    for (i = 0; i < 4; i++) {
        size_t len;
        const char *v = md_predict_story_key(s, i / 2, i % 2, &len);

        (void)snprintf(w->keys[i / 2][i % 2], sizeof(w->keys[0][0]), "%.*s", v ? (int)len : 1,
                       v ? v : "-");
    }
    (void)snprintf(w->key_name, sizeof(w->key_name), "%s",
                   s->n_keys > 0 ? s->version->contract->keys[0].name : "");
    if (s->version == NULL || strcmp(s->version->model, "fraud") != 0)
        return;
    /* features: amount 0, distance_km 3, merchant_category 4, card_tier 5 */
    w->sent_amount = md_predict_story_input(s, 0, 0, &t, &i);
    if (w->sent_amount)
        w->amount = md_tensor_get_f64(t, i);
    w->distance_null =
        md_predict_story_input(s, 3, 0, &t, &i) && t->missing != NULL && t->missing[i] != 0;
    if (md_predict_story_input(s, 4, 0, &t, &i)) {
        const struct md_bytes *b = &((const struct md_bytes *)t->data)[i];

        (void)snprintf(w->category, sizeof(w->category), "%.*s", (int)b->len, b->p);
    }
    w->sent_tier = md_predict_story_input(s, 5, 0, &t, &i);
    x = md_predict_story_prepared(s, 5, 0);
    w->prepared_tier = x != NULL ? x[0] : -1;
    x = md_predict_story_prepared(s, 4, 0);
    for (i = 0; i < 5; i++)
        w->prepared_category[i] = x != NULL ? x[i] : -1;
    x = md_predict_story_prepared(s, 3, 0);
    w->prepared_distance = x != NULL ? x[0] : -1;
}

/* ---- driving the router ---------------------------------------------- */

struct server {
    struct md_api api;
    struct md_repo *repo;
    struct md_arena arena;
    struct md_buf reply;
};

static const char *json_len_header;
static const char *uid_header; /* X-Uid */

static const char *header(void *conn, const char *name)
{
    (void)conn;
    if (strcmp(name, "Inference-Header-Content-Length") == 0)
        return json_len_header;
    if (strcasecmp(name, "X-Uid") == 0)
        return uid_header;
    return NULL;
}

static void server_open(struct server *s, const char *repo_dir)
{
    struct md_err err;

    memset(&s->api, 0, sizeof(s->api));
    assert_int_equal(md_repo_open(repo_dir, &s->repo, &err), MD_OK);
    (void)md_repo_scan(s->repo);
    s->api.repo = s->repo;
    s->api.name = "modeld";
    s->api.version = "test";
    md_arena_init(&s->arena, 1 << 24);
    md_buf_init(&s->reply, 1 << 20);
}

static void server_close(struct server *s)
{
    md_buf_release(&s->reply);
    md_arena_release(&s->arena);
    md_repo_free(s->repo);
}

/* A waker for parked requests: counts its calls. */
struct waker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
};

static void wake(void *ctx)
{
    struct waker *w = ctx;

    pthread_mutex_lock(&w->mu);
    w->n++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* The waker's calls so far. */
static int waker_calls(struct waker *w)
{
    int n;

    pthread_mutex_lock(&w->mu);
    n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* Waits (at most 10 s) for the waker's n-th call. */
static void waker_wait(struct waker *w, int n)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&w->mu);
    while (w->n < n)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
            break;
    assert_true(w->n >= n);
    pthread_mutex_unlock(&w->mu);
}

/*
 * Sends POST path with body (the arena and reply are reset first). With
 * waker, the request may park. resp is the first call's answer.
 */
static void post(struct server *s, const char *path, const char *body, struct waker *waker,
                 struct md_api_resp *resp)
{
    struct md_api_req req;

    md_arena_reset(&s->arena);
    md_buf_reset(&s->reply);
    memset(&req, 0, sizeof(req));
    memset(resp, 0, sizeof(*resp));
    req.method = "POST";
    req.path = path;
    req.body = md_arena_strndup(&s->arena, body, strlen(body));
    req.body_len = strlen(body);
    req.arena = &s->arena;
    req.request_id = "req-1";
    req.start_ns = md_now_ns();
    req.header = header;
    req.wake = waker != NULL ? wake : NULL;
    req.wake_ctx = waker;
    resp->status = 200;
    resp->body = &s->reply;
    md_router_dispatch(&s->api, &req, resp);
}

/* The call after a parked request's wake: answers it. */
static void resume(struct server *s, const char *path, struct waker *waker,
                   struct md_api_resp *resp)
{
    struct md_api_req req;
    void *state = resp->resume;

    memset(&req, 0, sizeof(req));
    memset(resp, 0, sizeof(*resp));
    req.method = "POST";
    req.path = path;
    req.body = "";
    req.arena = &s->arena;
    req.request_id = "req-1";
    req.start_ns = md_now_ns();
    req.header = header;
    req.wake = wake;
    req.wake_ctx = waker;
    resp->status = 200;
    resp->body = &s->reply;
    resp->resume = state;
    md_router_dispatch(&s->api, &req, resp);
}

/* What the HTTP layer does once the answer is queued. */
static void answered(struct md_api_resp *resp)
{
    if (resp->after != NULL)
        resp->after(resp->after_ctx, resp->status);
}

#define FRAUD_ROW                                                                                  \
    "{\"inputs\":["                                                                                \
    "{\"name\":\"amount\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[%s]},"                     \
    "{\"name\":\"hour\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[13]},"                      \
    "{\"name\":\"account_age_days\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[400]},"         \
    "{\"name\":\"distance_km\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[null]},"              \
    "{\"name\":\"merchant_category\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"travel\"]}," \
    "{\"name\":\"is_international\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[false]}]}"

static const char tfs_row[] = "{\"instances\":[{\"amount\":12.5,\"hour\":13,\"account_age_days\":"
                              "400,\"distance_km\":null,\"merchant_category\":\"travel\","
                              "\"is_international\":false}]}";

static char *fraud_row(char *buf, size_t size, const char *amount)
{
    (void)snprintf(buf, size, FRAUD_ROW, amount);
    return buf;
}

/* ---- tests -------------------------------------------------------------- */

static void test_resolver(void **state)
{
    struct server s;
    struct md_predict p;
    struct md_version *v = NULL;
    struct md_err err;

    (void)state;
    server_open(&s, "examples/repo");
    memset(&p, 0, sizeof(p));
    p.model = "fraud";
    assert_int_equal(md_predict_resolve(s.repo, &p, &v, &err), MD_OK);
    assert_string_equal(v->version_str, "2"); /* the newest ready one */
    assert_string_equal(p.route_name, "default");
    md_version_unref(v);
    p.version = "2";
    assert_int_equal(md_predict_resolve(s.repo, &p, &v, &err), MD_OK);
    assert_string_equal(p.route_name, "direct");
    md_version_unref(v);
    p.version = "1"; /* on disk, not served: latest: 1 */
    assert_int_equal(md_predict_resolve(s.repo, &p, &v, &err), MD_EUNAVAIL);
    assert_null(v);
    p.version = "7";
    assert_int_equal(md_predict_resolve(s.repo, &p, &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'fraud' has no version '7'");
    p.version = NULL;
    p.label = "stable";
    assert_int_equal(md_predict_resolve(s.repo, &p, &v, &err), MD_EINVAL);
    assert_string_equal(err.msg, "Unrecognized servable version label: stable");
    p.label = NULL;
    p.model = "nope";
    assert_int_equal(md_predict_resolve(s.repo, &p, &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unknown model 'nope'");
    server_close(&s);
}

/* Nothing attached: no story is made, nothing is left for after the answer. */
static void test_nothing_attached(void **state)
{
    struct server s;
    struct md_api_resp resp;
    char body[1024];
    uint64_t told = md_predict_told();

    (void)state;
    assert_false(md_predict_observed());
    server_open(&s, "examples/repo");
    post(&s, "/v2/models/fraud/infer", fraud_row(body, sizeof(body), "12.5"), NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_null(resp.after);
    post(&s, "/v1/models/fraud:predict", tfs_row, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_null(resp.after);
    post(&s, "/v2/models/fraud/infer", fraud_row(body, sizeof(body), "-5"), NULL, &resp);
    assert_int_equal(resp.status, 400);
    assert_null(resp.after);
    assert_int_equal(md_predict_told(), told);
    server_close(&s);
}

/* A V2 prediction's story, told after the answer: values as sent and as prepared. */
static void test_story_v2(void **state)
{
    struct server s;
    struct md_api_resp resp;
    struct seen seen;
    struct md_predict_observer o = {observe, &seen};
    char body[1024];
    uint64_t told = md_predict_told();

    (void)state;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(md_predict_attach(&o, NULL), MD_OK);
    assert_true(md_predict_observed());
    server_open(&s, "examples/repo");
    post(&s, "/v2/models/fraud/infer", fraud_row(body, sizeof(body), "12.5"), NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.version, "2");
    assert_int_equal(seen.n, 0); /* not before the answer is on its way */
    assert_non_null(resp.after);
    answered(&resp);
    assert_int_equal(seen.n, 1);
    assert_int_equal(md_predict_told(), told + 1);
    assert_string_equal(seen.request_id, "req-1");
    assert_string_equal(seen.model, "fraud");
    assert_string_equal(seen.version, "2");
    assert_string_equal(seen.route, "v2 infer");
    assert_string_equal(seen.route_name, "default"); /* no policy, no version named */
    assert_int_equal(seen.status, 200);
    assert_int_equal(seen.code, MD_OK);
    assert_int_equal(seen.stage, MD_PREDICT_DONE);
    assert_string_equal(seen.error, "");
    assert_int_equal(seen.n_inputs, 6);
    assert_int_equal(seen.rows, 1);
    assert_int_equal(seen.scored_rows, 1);
    assert_true(seen.score >= 0 && seen.score <= 1);
    assert_true(seen.latency_ns > 0);
    /* As decoded: amount sent, distance sent as null, card_tier not sent. */
    assert_true(seen.sent_amount);
    assert_true(seen.amount == 12.5);
    assert_true(seen.distance_null);
    assert_false(seen.sent_tier);
    assert_string_equal(seen.category, "travel");
    /* As prepared: the default tier (basic, ordinal 0), travel one-hot, NaN distance. */
    assert_true(seen.prepared_tier == 0);
    assert_true(seen.prepared_category[0] == 0 && seen.prepared_category[2] == 1 &&
                seen.prepared_category[4] == 0);
    assert_true(isnan(seen.prepared_distance));

    /* TF Serving's rows tell the same story through their own route. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v1/models/fraud:predict", tfs_row, NULL, &resp);
    assert_int_equal(resp.status, 200);
    answered(&resp);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.route, "tfs predict");
    assert_string_equal(seen.version, "2");
    assert_true(seen.sent_amount && seen.amount == 12.5);
    assert_string_equal(seen.category, "travel");
    assert_true(seen.prepared_tier == 0 && seen.prepared_category[2] == 1);
    assert_int_equal(seen.scored_rows, 1);
    /* A request that names its version takes the route "direct". */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v1/models/fraud/versions/2:predict", tfs_row, NULL, &resp);
    assert_int_equal(resp.status, 200);
    answered(&resp);
    assert_string_equal(seen.route_name, "direct");
    md_predict_detach(&o);
    assert_false(md_predict_observed());
    server_close(&s);
    md_predict_detach_all();
}

/* Each kind of failure, its stage and reason; the resolver's answered first. */
static void test_story_failures(void **state)
{
    struct server s;
    struct md_api_resp resp;
    struct seen seen;
    struct md_predict_observer o = {observe, &seen};
    struct md_buf small;
    char body[1024];

    (void)state;
    assert_int_equal(md_predict_attach(&o, NULL), MD_OK);
    server_open(&s, "examples/repo");

    /* Validation: the contract refuses a value; the inputs as sent are there. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v2/models/fraud/infer", fraud_row(body, sizeof(body), "-5"), NULL, &resp);
    assert_int_equal(resp.status, 400);
    assert_non_null(strstr(s.reply.data, "feature 'amount' row 0: -5 below min 0"));
    answered(&resp);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.status, 400);
    assert_int_equal(seen.code, MD_EINVAL);
    assert_int_equal(seen.stage, MD_PREDICT_VALIDATE);
    assert_string_equal(seen.error, "feature 'amount' row 0: -5 below min 0");
    assert_false(seen.prepared);
    assert_int_equal(seen.scored_rows, 0);
    assert_true(seen.sent_amount && seen.amount == -5);

    /* Decode: a malformed body. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v2/models/fraud/infer", "{\"inputs\":", NULL, &resp);
    assert_int_equal(resp.status, 400);
    answered(&resp);
    assert_int_equal(seen.stage, MD_PREDICT_DECODE);
    assert_string_equal(seen.version, "2");
    assert_int_equal(seen.n_inputs, 0);

    /* Resolve: an unknown model with a malformed body is a 404, as it always was. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v2/models/nope/infer", "{\"inputs\":", NULL, &resp);
    assert_int_equal(resp.status, 404);
    assert_string_equal(s.reply.data, "{\"error\":\"unknown model 'nope'\"}");
    assert_string_equal(resp.version, "");
    answered(&resp);
    assert_int_equal(seen.stage, MD_PREDICT_RESOLVE);
    assert_int_equal(seen.code, MD_ENOTFOUND);
    assert_string_equal(seen.version, "");
    assert_string_equal(seen.error, "unknown model 'nope'");

    /* A version label: refused before the body is looked at. */
    post(&s, "/v1/models/fraud/labels/stable:predict", "nonsense", NULL, &resp);
    assert_int_equal(resp.status, 400);
    assert_string_equal(s.reply.data,
                        "{\"error\":\"Unrecognized servable version label: stable\"}");
    answered(&resp);
    assert_int_equal(seen.stage, MD_PREDICT_RESOLVE);

    /* TF Serving typing by the contract is validation. */
    post(&s, "/v1/models/fraud:predict", "{\"instances\":[{\"hour\":\"x\"}]}", NULL, &resp);
    assert_int_equal(resp.status, 400);
    answered(&resp);
    assert_int_equal(seen.stage, MD_PREDICT_VALIDATE);
    assert_string_equal(seen.error, "instances[0] feature 'hour': not of expected type: int32");

    /* Encode: the answer does not fit the reply. */
    md_buf_init(&small, 64);
    md_arena_reset(&s.arena);
    {
        struct md_buf keep = s.reply;

        s.reply = small;
        post(&s, "/v2/models/fraud/infer", fraud_row(body, sizeof(body), "12.5"), NULL, &resp);
        small = s.reply;
        s.reply = keep;
    }
    assert_int_equal(resp.status, 500);
    answered(&resp);
    assert_int_equal(seen.stage, MD_PREDICT_ENCODE);
    assert_int_equal(seen.code, MD_EINTERNAL);
    assert_string_equal(seen.error, "response too large");
    assert_int_equal(seen.scored_rows, 1);
    md_buf_release(&small);

    server_close(&s);
    md_predict_detach_all();
}

/* A batched model parks TF Serving requests like V2 ones; the story follows the wake's answer. */
static void test_parked(void **state)
{
    static const char *const paths[] = {"/v2/models/batched/infer", "/v1/models/batched:predict"};
    static const char *const bodies[] = {
        "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[2,30],"
        "\"data\":[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,"
        "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,"
        "0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,"
        "0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]}]}",
        "{\"instances\":[[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,"
        "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5],"
        "[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,"
        "0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]]}"};
    struct server s;
    struct md_api_resp resp;
    struct waker w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct seen seen;
    struct md_predict_observer o = {observe, &seen};
    char answers[2][512];
    size_t k;

    (void)state;
    server_open(&s, dir);
    for (k = 0; k < 2; k++) {
        int n = waker_calls(&w);

        /* Nothing attached: parked, woken, answered; nothing left for after. */
        post(&s, paths[k], bodies[k], &w, &resp);
        assert_true(resp.parked);
        assert_non_null(resp.resume);
        waker_wait(&w, n + 1);
        resume(&s, paths[k], &w, &resp);
        assert_false(resp.parked);
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.version, "1");
        assert_null(resp.after);
        (void)snprintf(answers[k], sizeof(answers[k]), "%s", s.reply.data);
    }
    assert_non_null(strstr(answers[1], "{\"predictions\":["));
    assert_non_null(strstr(answers[0], "\"shape\":[2,1]"));

    /* Attached: the story comes after the answer of the call after the wake. */
    assert_int_equal(md_predict_attach(&o, NULL), MD_OK);
    memset(&seen, 0, sizeof(seen));
    post(&s, paths[1], bodies[1], &w, &resp);
    assert_true(resp.parked);
    waker_wait(&w, 3);
    resume(&s, paths[1], &w, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(s.reply.data, answers[1]); /* the same answer */
    assert_int_equal(seen.n, 0);
    answered(&resp);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.route, "tfs predict");
    assert_int_equal(seen.status, 200);
    assert_int_equal(seen.rows, 2);
    assert_int_equal(seen.scored_rows, 2);

    /* The client left while parked: the drop tells the story, status 0. */
    memset(&seen, 0, sizeof(seen));
    post(&s, paths[0], bodies[0], &w, &resp);
    assert_true(resp.parked);
    waker_wait(&w, 4);
    resp.drop(resp.resume);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.status, 0);
    assert_int_equal(seen.code, MD_OK);
    assert_string_equal(seen.route, "v2 infer");
    md_predict_detach_all();
    server_close(&s);
}

/* A V2 body of one 2-D row of the benchmark model, with parameters params (JSON members). */
static char *bench_v2(char *buf, size_t size, float value, const char *params)
{
    size_t o;
    size_t j;

    o = (size_t)snprintf(buf, size,
                         "{%s%s\"inputs\":[{\"name\":\"features\",\"datatype\":"
                         "\"FP32\",\"shape\":[1,30],\"data\":[",
                         params, params[0] ? "," : "");
    for (j = 0; j < 30; j++)
        o += (size_t)snprintf(buf + o, size - o, "%s%g", j ? "," : "", (double)value);
    (void)snprintf(buf + o, size - o, "]}]}");
    return buf;
}

/* The score of the first output of a V2 answer ("data":[x]). */
static double v2_score(const char *reply)
{
    const char *d = strstr(reply, "\"data\":[");

    assert_non_null(d);
    return strtod(d + 8, NULL);
}

/* Keys over V2 and TF Serving: in the story, from parameters, rows and the header. */
static void test_keys_story(void **state)
{
    struct server s;
    struct md_api_resp resp;
    struct waker w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct seen seen;
    struct md_predict_observer o = {observe, &seen};
    char body[2048];
    char plain[2048];
    double score;

    (void)state;
    assert_int_equal(md_predict_attach(&o, NULL), MD_OK);
    server_open(&s, dir);

    /* The same row without keys, through the model without them. */
    post(&s, "/v2/models/batched/infer", bench_v2(plain, sizeof(plain), 0.5f, ""), NULL, &resp);
    assert_int_equal(resp.status, 200);
    score = v2_score(s.reply.data);
    answered(&resp);
    assert_int_equal(seen.n_keys, 0);
    assert_string_equal(seen.keys[0][0], "-");

    /* V2 parameters, one value for every row; the engine never sees them. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v2/models/keyed/infer",
         bench_v2(body, sizeof(body), 0.5f, "\"parameters\":{\"uid\":\"u1\",\"n\":7}"), NULL,
         &resp);
    assert_int_equal(resp.status, 200);
    assert_true(v2_score(s.reply.data) == score);
    answered(&resp);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.n_keys, 2);
    assert_string_equal(seen.key_name, "uid");
    assert_string_equal(seen.keys[0][0], "u1");
    assert_string_equal(seen.keys[0][1], "u1");
    assert_string_equal(seen.keys[1][0], "7");

    /* Parked for the batcher: the keys are there after the wake's answer. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v2/models/keyed/infer",
         bench_v2(body, sizeof(body), 0.5f, "\"parameters\":{\"uid\":\"u2\"}"), &w, &resp);
    assert_true(resp.parked);
    waker_wait(&w, 1);
    resume(&s, "/v2/models/keyed/infer", &w, &resp);
    assert_int_equal(resp.status, 200);
    answered(&resp);
    assert_string_equal(seen.keys[0][0], "u2");
    assert_string_equal(seen.keys[1][0], "-");

    /* The header, when the body has none. */
    memset(&seen, 0, sizeof(seen));
    uid_header = "from-header";
    post(&s, "/v2/models/keyed/infer", bench_v2(body, sizeof(body), 0.5f, ""), NULL, &resp);
    uid_header = NULL;
    assert_int_equal(resp.status, 200);
    answered(&resp);
    assert_string_equal(seen.keys[0][0], "from-header");

    /* Missing: a validation failure naming the key; no keys in the story. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v2/models/keyed/infer", bench_v2(body, sizeof(body), 0.5f, ""), NULL, &resp);
    assert_int_equal(resp.status, 400);
    answered(&resp);
    assert_int_equal(seen.stage, MD_PREDICT_VALIDATE);
    assert_string_equal(seen.error,
                        "key 'uid': missing required key (send it in the body or in header X-Uid)");
    assert_int_equal(seen.n_keys, 0);
    assert_false(seen.prepared);

    /* TF Serving's rows: each row its own value; keys are no inputs. */
    memset(&seen, 0, sizeof(seen));
    post(&s, "/v1/models/keyed:predict",
         "{\"instances\":[{\"f0\":0.5,\"uid\":\"a\",\"n\":-3},{\"f0\":0.1,\"uid\":\"b\"}]}", NULL,
         &resp);
    assert_int_equal(resp.status, 200);
    (void)snprintf(body, sizeof(body), "%s", s.reply.data);
    answered(&resp);
    assert_int_equal(seen.n_inputs, 1); /* f0 alone */
    assert_int_equal(seen.rows, 2);
    assert_string_equal(seen.keys[0][0], "a");
    assert_string_equal(seen.keys[0][1], "b");
    assert_string_equal(seen.keys[1][0], "-3");
    assert_string_equal(seen.keys[1][1], "-");
    post(&s, "/v1/models/batched:predict", "{\"instances\":[{\"f0\":0.5},{\"f0\":0.1}]}", NULL,
         &resp);
    assert_int_equal(resp.status, 200);
    answered(&resp);
    /* The same predictions (the version's number is the same: 1). */
    assert_string_equal(s.reply.data, body);

    md_predict_detach_all();
    server_close(&s);
}

/* md_predict_key: the body's raw fields before the check, the contract's keys after. */
static void test_predict_key(void **state)
{
    static const char params[] = "{\"uid\":\"u9\",\"n\":12,\"other\":1.50}";
    struct server s;
    struct md_predict p;
    struct md_jnode *root;
    struct md_tensor t;
    struct md_err err;
    const struct md_contract *c;
    float row[30];
    size_t len;
    const char *v;
    size_t j;

    (void)state;
    server_open(&s, dir);
    memset(&p, 0, sizeof(p));
    md_predict_init(&p);
    p.model = "keyed";
    p.request_id = "r";
    p.route = "v2 infer";
    p.header = header;
    assert_int_equal(md_jdom_parse(params, strlen(params), 0, &s.arena, &root, &err), MD_OK);
    p.fields.shared = root;

    /* Before: raw, by any name, as sent. */
    v = md_predict_key(&p, "other", 0, &len);
    assert_true(v != NULL && len == 4 && memcmp(v, "1.50", 4) == 0);
    v = md_predict_key(&p, "uid", 3, &len);
    assert_true(v != NULL && len == 2 && memcmp(v, "u9", 2) == 0);
    assert_null(md_predict_key(&p, "nope", 0, &len));

    /* md_predict_key_from: the body, else the header the declaration names. */
    assert_int_equal(md_repo_acquire(s.repo, "keyed", NULL, &p.v, &err), MD_OK);
    c = p.v->contract;
    md_version_unref(p.v);
    p.v = NULL;
    v = md_predict_key_from(&p, &c->keys[0], 0, &len);
    assert_true(v != NULL && len == 2 && memcmp(v, "u9", 2) == 0);
    p.fields.shared = NULL;
    uid_header = "hdr";
    v = md_predict_key_from(&p, &c->keys[0], 0, &len);
    assert_true(v != NULL && len == 3 && memcmp(v, "hdr", 3) == 0);
    assert_null(md_predict_key(&p, "uid", 0, &len)); /* no declaration: no header */
    uid_header = NULL;
    assert_null(md_predict_key_from(&p, &c->keys[0], 0, &len));
    p.fields.shared = root;

    /* Run: after the check, only the contract's keys, in plain decimal for int64. */
    for (j = 0; j < 30; j++)
        row[j] = 0.5f;
    memset(&t, 0, sizeof(t));
    t.name = "features";
    t.dtype = MD_DT_FP32;
    t.ndim = 2;
    t.shape[0] = 1;
    t.shape[1] = 30;
    t.count = 30;
    t.data = row;
    p.inputs = &t;
    p.n_inputs = 1;
    assert_int_equal(md_predict_run(&p, s.repo, MD_OK, &s.arena, NULL, NULL), MD_OK);
    assert_true(p.keys_checked);
    assert_int_equal(p.n_keys, 2);
    v = md_predict_key(&p, "n", 0, &len);
    assert_true(v != NULL && len == 2 && memcmp(v, "12", 2) == 0);
    v = md_predict_key(&p, "uid", 0, &len);
    assert_true(v != NULL && len == 2 && memcmp(v, "u9", 2) == 0);
    assert_null(md_predict_key(&p, "other", 0, &len)); /* not a key of the contract */
    /* The engine's matrix holds the row's 30 columns and nothing else. */
    assert_int_equal(p.rows, 1);
    assert_memory_equal(p.x, row, sizeof(row));
    md_predict_account(&p, MD_OK);
    md_predict_release(&p);

    /* A version without keys: nothing after the check. */
    md_predict_init(&p);
    p.model = "batched";
    assert_int_equal(md_predict_run(&p, s.repo, MD_OK, &s.arena, NULL, NULL), MD_OK);
    assert_true(p.keys_checked);
    assert_int_equal(p.n_keys, 0);
    assert_null(md_predict_key(&p, "uid", 0, &len));
    md_predict_release(&p);
    server_close(&s);
}

static void told_a(void *ctx, const struct md_predict_story *s)
{
    (void)s;
    ++*(int *)ctx;
}

/* Attach and detach: each observer is told while attached, and only then. */
static void test_attach_detach(void **state)
{
    int a = 0;
    int b = 0;
    struct md_predict_observer oa = {told_a, &a};
    struct md_predict_observer ob = {told_a, &b};
    struct md_predict p;
    struct md_err err;
    size_t i;

    (void)state;
    memset(&p, 0, sizeof(p));
    md_predict_init(&p);
    p.request_id = "r";
    p.model = "m";
    p.route = "v2 infer";
    md_predict_tell(&p, 200); /* none attached */
    assert_int_equal(md_predict_attach(&oa, &err), MD_OK);
    assert_int_equal(md_predict_attach(&ob, &err), MD_OK);
    md_predict_tell(&p, 200);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    md_predict_detach(&oa);
    md_predict_detach(&oa); /* not attached: nothing */
    md_predict_tell(&p, 200);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    md_predict_detach(&ob);
    assert_false(md_predict_observed());
    for (i = 0; i < MD_PREDICT_MAX_OBSERVERS; i++)
        assert_int_equal(md_predict_attach(&oa, &err), MD_OK);
    assert_int_equal(md_predict_attach(&oa, &err), MD_EINVAL);
    assert_string_equal(err.msg, "too many prediction observers (at most 16)");
    md_predict_tell(&p, 200);
    assert_int_equal(a, 1 + MD_PREDICT_MAX_OBSERVERS);
    md_predict_detach_all();
    assert_false(md_predict_observed());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolver),   cmocka_unit_test(test_nothing_attached),
        cmocka_unit_test(test_story_v2),   cmocka_unit_test(test_story_failures),
        cmocka_unit_test(test_parked),     cmocka_unit_test(test_attach_detach),
        cmocka_unit_test(test_keys_story), cmocka_unit_test(test_predict_key),
    };

    md_log_set_level(MD_LOG_ERROR);
    return cmocka_run_group_tests(tests, make_repo, remove_repo);
}
