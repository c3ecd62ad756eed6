/* SPDX-License-Identifier: MIT */
/*
 * engine_rows.h: helpers shared by the engine tests (test_trees.c,
 * test_xgboost.c): reference rows from CSV files, the benchmark data folder,
 * temporary files, loading and predicting through the registry (failing the
 * cmocka test on an error), and the small models of tests/data/models checked
 * against the Python package's outputs.
 */
#ifndef MD_TESTS_ENGINE_ROWS_H
#define MD_TESTS_ENGINE_ROWS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "backend/registry.h"

#define TOL    1e-6 /* absolute tolerance against libxgboost's outputs */
#define MODELS "tests/data/models/"

/* Rows of a CSV file: nf features (empty = missing) then n_ref reference values. */
struct rows {
    size_t n;   /* rows read */
    float *x;   /* n * nf features */
    float *ref; /* n * n_ref reference values */
};

/* path of file name in tests/data/bench (tests run from the repository root). */
static inline const char *bench_data(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "tests/data/bench/%s", name);
    return buf;
}

/* Reads path into r; false when it cannot be opened or a line is short. */
static inline bool rows_read(const char *path, size_t nf, size_t n_ref, struct rows *r)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    size_t room = 0;

    memset(r, 0, sizeof(*r));
    if (f == NULL)
        return false;
    while (getline(&line, &cap, f) > 0) {
        char *p = line;
        size_t j;

        if (r->n == room) {
            room = room == 0 ? 256 : room * 2;
            r->x = realloc(r->x, room * nf * sizeof(float));
            r->ref = realloc(r->ref, room * n_ref * sizeof(float));
            if (r->x == NULL || r->ref == NULL)
                abort();
        }
        for (j = 0; j < nf + n_ref; j++) {
            char *end;
            float v = strtof(p, &end);

            if (end == p)
                v = NAN;
            if (j < nf)
                r->x[r->n * nf + j] = v;
            else
                r->ref[r->n * n_ref + j - nf] = v;
            p = strchr(end, ',');
            if (p == NULL && j + 1 < nf + n_ref) {
                free(line);
                fclose(f);
                return false;
            }
            if (p != NULL)
                p++;
        }
        r->n++;
    }
    free(line);
    fclose(f);
    return r->n > 0;
}

static inline void rows_release(struct rows *r)
{
    free(r->x);
    free(r->ref);
    memset(r, 0, sizeof(*r));
}

/* Writes len bytes of data to a new temporary file; its path into path (cap >= 64). */
static inline void tmp_write(const char *data, size_t len, char *path, size_t cap)
{
    int fd;

    snprintf(path, cap, "/tmp/md_engine_test_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
}

/* Loads path with the engine called name and options key=value (n_opt pairs). */
static inline int engine_load(const char *name, const char *path, const struct md_kv *opts,
                              size_t n_opt, void **inst, struct md_err *err)
{
    const struct md_backend_ops *ops = md_backend_find(name);
    struct md_backend_config cfg = {opts, n_opt};

    if (ops == NULL)
        abort();
    md_err_clear(err);
    return ops->load(path, &cfg, inst, err);
}

/* The engine called name; fails the test when there is none. */
static inline const struct md_backend_ops *engine_ops(const char *name)
{
    const struct md_backend_ops *ops = md_backend_find(name);

    if (ops == NULL)
        fail_msg("no backend '%s'", name);
    return ops;
}

/* engine_load that must succeed: the instance, or the test fails with the message. */
static inline void *engine_load_ok(const char *name, const char *path, const struct md_kv *opts,
                                   size_t n_opt)
{
    struct md_err err;
    void *inst = NULL;

    if (engine_load(name, path, opts, n_opt, &inst, &err) != MD_OK)
        fail_msg("%s: loading '%s': %s", name, path, err.msg);
    assert_non_null(inst);
    return inst;
}

/* n rows of x through the engine's predict into out; the test fails on an error. */
static inline void engine_predict_ok(const char *name, void *inst, const float *x, size_t n,
                                     float *out)
{
    struct md_err err;

    md_err_clear(&err);
    if (engine_ops(name)->predict(inst, x, n, out, &err) != MD_OK)
        fail_msg("%s: predict: %s", name, err.msg);
}

/* Fails the test unless each of the n values of got is within TOL of want's. */
static inline void assert_close(const float *got, const float *want, size_t n, const char *what)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= TOL))
            fail_msg("%s: value %zu: got %.9g, want %.9g", what, i, (double)got[i],
                     (double)want[i]);
}

/* One thread of engine_check_threads. */
struct engine_job {
    const struct md_backend_ops *ops;
    void *inst;
    const struct rows *r;
    size_t nf;    /* features per row */
    size_t n_out; /* outputs per row */
    size_t bad;   /* failed calls and wrong values */
};

#define ENGINE_JOB_ROUNDS 5

/* Rounds of one call on every row, then every ENGINE_JOB_ROUNDS-th row alone. */
static inline void *engine_job_run(void *arg)
{
    struct engine_job *j = arg;
    const struct rows *r = j->r;
    float *out = calloc(r->n * j->n_out, sizeof(float));
    struct md_err err;
    size_t i;
    size_t k;
    int round;

    if (out == NULL)
        abort();
    for (round = 0; round < ENGINE_JOB_ROUNDS; round++) {
        if (j->ops->predict(j->inst, r->x, r->n, out, &err) != MD_OK)
            j->bad++;
        for (i = 0; i < r->n * j->n_out; i++)
            j->bad += !(fabs(out[i] - r->ref[i]) <= TOL);
        for (i = (size_t)round; i < r->n; i += ENGINE_JOB_ROUNDS) {
            if (j->ops->predict(j->inst, r->x + i * j->nf, 1, out, &err) != MD_OK)
                j->bad++;
            for (k = 0; k < j->n_out; k++)
                j->bad += !(fabs(out[k] - r->ref[i * j->n_out + k]) <= TOL);
        }
    }
    free(out);
    return NULL;
}

/*
 * Four threads predicting on one instance of the engine called name at once,
 * whole batches and single rows: every answer matches r's reference values.
 */
static inline void engine_check_threads(const char *name, void *inst, const struct rows *r,
                                        size_t nf, size_t n_out)
{
    pthread_t th[4];
    struct engine_job jobs[4];
    int i;

    for (i = 0; i < 4; i++) {
        jobs[i] = (struct engine_job){engine_ops(name), inst, r, nf, n_out, 0};
        assert_int_equal(pthread_create(&th[i], NULL, engine_job_run, &jobs[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
}

/*
 * A model of tests/data/models: <name>.json (or <name><ext>), and <name>.csv
 * with its inputs and outputs.
 */
struct small {
    const char *name;
    const char *ext;          /* NULL: ".json"; ".ubj" for the same model as UBJSON */
    size_t nf;                /* features */
    size_t n_out;             /* outputs per row */
    enum md_backend_out kind; /* what describe must say */
    const char *objective;    /* likewise */
    bool trees;               /* the trees engine runs it too (libxgboost runs them all) */
};

static const struct small smalls[] = {
    {"binary", NULL, 5, 1, MD_BACKEND_OUT_PROBABILITY, "binary:logistic", true},
    {"binary_base", NULL, 5, 1, MD_BACKEND_OUT_PROBABILITY, "binary:logistic", true},
    {"regression", NULL, 5, 1, MD_BACKEND_OUT_VALUE, "reg:squarederror", true},
    {"reg_logistic", NULL, 5, 1, MD_BACKEND_OUT_VALUE, "reg:logistic", false},
    {"multiclass", NULL, 5, 3, MD_BACKEND_OUT_PROBABILITIES, "multi:softprob", true},
    {"forest", NULL, 5, 1, MD_BACKEND_OUT_PROBABILITY, "binary:logistic", true},
    {"deep", NULL, 5, 1, MD_BACKEND_OUT_VALUE, "reg:squarederror", true},
    {"stump", NULL, 5, 1, MD_BACKEND_OUT_VALUE, "reg:squarederror", true},
    {"dart", NULL, 5, 1, MD_BACKEND_OUT_PROBABILITY, "binary:logistic", false},
    {"gblinear", NULL, 5, 1, MD_BACKEND_OUT_VALUE, "reg:squarederror", false},
};

/*
 * Loads sm's model with the engine called name, checks what describe says,
 * then its outputs for the rows of the CSV file against the file's, in one
 * call and row by row. Returns the instance (the caller frees it), the rows
 * in r (rows_release) and the row-by-row outputs in *out (r->n * n_out, free).
 */
static inline void *engine_check_small(const char *name, const struct small *sm, struct rows *r,
                                       float **out)
{
    struct md_backend_desc d;
    char path[256];
    void *inst;
    size_t i;

    snprintf(path, sizeof(path), MODELS "%s.csv", sm->name);
    if (!rows_read(path, sm->nf, sm->n_out, r))
        fail_msg("cannot read '%s'", path);
    snprintf(path, sizeof(path), MODELS "%s%s", sm->name, sm->ext != NULL ? sm->ext : ".json");
    inst = engine_load_ok(name, path, NULL, 0);
    engine_ops(name)->describe(inst, &d);
    assert_int_equal(d.n_features, sm->nf);
    assert_int_equal(d.n_outputs, sm->n_out);
    assert_int_equal(d.kind, sm->kind);
    assert_string_equal(d.objective, sm->objective);
    *out = calloc(r->n * sm->n_out, sizeof(float));
    assert_non_null(*out);
    engine_predict_ok(name, inst, r->x, r->n, *out);
    assert_close(*out, r->ref, r->n * sm->n_out, path);
    for (i = 0; i < r->n; i++)
        engine_predict_ok(name, inst, r->x + i * sm->nf, 1, *out + i * sm->n_out);
    assert_close(*out, r->ref, r->n * sm->n_out, path);
    return inst;
}

/* binary.json through the engine called name names its five features as trained. */
static inline void engine_check_names(const char *name)
{
    static const char *const want[] = {"amount", "age", "score", "days", "ratio"};
    struct md_backend_desc d;
    void *inst = engine_load_ok(name, MODELS "binary.json", NULL, 0);
    size_t i;

    engine_ops(name)->describe(inst, &d);
    assert_non_null(d.feature_names);
    for (i = 0; i < MD_ARRAY_LEN(want); i++)
        assert_string_equal(d.feature_names[i], want[i]);
    engine_ops(name)->free(inst);
}

/* Uniform in [0, 1) from a 64-bit state (xorshift*). */
static inline double rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

#endif
