/* SPDX-License-Identifier: MIT */
/*
 * online_bench.c: the linear engine learning online (backend/linear.c).
 *
 *   build/bench/online_bench [FEATURES [THREADS]]
 *
 * A logistic model of FEATURES (default 30) standardised features. Prints:
 * updates per second through learn, one label per call and 100 per call,
 * with SGD and with FTRL-Proximal; then single-row predictions per second
 * from THREADS (default 2) threads for 2 seconds each, first with nothing
 * learning, then while a thread learns 1,000 labels per second (one per
 * call, as the daemon's learner does when labels trickle in), 2 seconds
 * each, alternating, 5 rounds: the medians and their ratio.
 */
#include "backend/linear_int.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define ROWS   4096
#define ROUNDS 5 /* of each, alternating: the median is printed */

static size_t nf = 30;
static float *xs;
static float *ys;
static _Atomic bool stop;
static _Atomic uint64_t predicted;
static uint64_t learned; /* by the learner threads, all rounds */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void *load_model(void)
{
    size_t cap = 256 + nf * 40;
    char *json = md_xmalloc(cap);
    size_t n = 0;
    struct md_err err;
    void *inst = NULL;
    size_t j;

    n += (size_t)snprintf(json + n, cap - n,
                          "{\"format\": \"modeld-linear\", \"format_version\": 1, "
                          "\"kind\": \"logistic\", \"feature_names\": [");
    for (j = 0; j < nf; j++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"f%zu\"", j ? "," : "", j);
    n += (size_t)snprintf(json + n, cap - n, "], \"weights\": [");
    for (j = 0; j < nf; j++)
        n += (size_t)snprintf(json + n, cap - n, "%s0", j ? "," : "");
    (void)snprintf(json + n, cap - n, "]}");
    if (md_linear__load_buffer(json, strlen(json), NULL, &inst, &err) != MD_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        exit(1);
    }
    free(json);
    return inst;
}

static void configure(void *inst, int algo)
{
    struct md_learn_config c = {0};
    struct md_err err;

    c.algo = algo;
    c.learning_rate = 0.01;
    c.alpha = 0.1;
    c.beta = 1;
    if (md_backend_linear.learn_config(inst, &c, &err) != MD_OK) {
        fprintf(stderr, "learn_config: %s\n", err.msg);
        exit(1);
    }
}

static double updates_per_s(int algo, size_t batch)
{
    void *inst = load_model();
    struct md_err err;
    double t0;
    double t;
    size_t done = 0;
    size_t r = 0;

    configure(inst, algo);
    t0 = now_s();
    do {
        for (int i = 0; i < 100; i++) {
            if (md_backend_linear.learn(inst, xs + r * nf, ys + r, batch, &err) != MD_OK) {
                fprintf(stderr, "learn: %s\n", err.msg);
                exit(1);
            }
            done += batch;
            r = (r + batch) % (ROWS - batch);
        }
        t = now_s() - t0;
    } while (t < 1.0);
    md_backend_linear.free(inst);
    return (double)done / t;
}

static void *predictor(void *arg)
{
    float out;
    struct md_err err;
    uint64_t n = 0;
    size_t r = 0;

    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        (void)md_backend_linear.predict(arg, xs + r * nf, 1, &out, &err);
        r = (r + 1) % ROWS;
        n++;
    }
    atomic_fetch_add(&predicted, n);
    return NULL;
}

static void *learner(void *arg)
{
    struct timespec ts = {0, 1000000L};
    struct md_err err;
    double t0 = now_s();
    uint64_t done = 0;
    size_t r = 0;

    /* 1,000 labels per second of elapsed time, one per learn call: a late wake-up catches up */
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t due = (uint64_t)((now_s() - t0) * 1000.0);

        for (; done < due; done++) {
            (void)md_backend_linear.learn(arg, xs + r * nf, ys + r, 1, &err);
            r = (r + 1) % ROWS;
        }
        (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    return NULL;
}

static double predictions_per_s(unsigned threads, bool learning)
{
    void *inst = load_model();
    pthread_t th[64];
    pthread_t lt;
    double t0;
    double t;
    unsigned i;

    configure(inst, 1);
    atomic_store(&stop, false);
    atomic_store(&predicted, 0);
    t0 = now_s();
    for (i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, predictor, inst);
    if (learning)
        pthread_create(&lt, NULL, learner, inst);
    while (now_s() - t0 < 2.0) {
        struct timespec ts = {0, 10000000L};

        (void)nanosleep(&ts, NULL);
    }
    atomic_store(&stop, true);
    for (i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    if (learning)
        pthread_join(lt, NULL);
    t = now_s() - t0;
    if (learning)
        learned += md_linear__rows_learned(inst);
    md_backend_linear.free(inst);
    return (double)atomic_load(&predicted) / t;
}

int main(int argc, char **argv)
{
    unsigned threads = 2;
    double base_r[ROUNDS];
    double busy_r[ROUNDS];
    double base;
    double busy;
    size_t i;

    if (argc > 1)
        nf = (size_t)strtoul(argv[1], NULL, 10);
    if (argc > 2)
        threads = (unsigned)strtoul(argv[2], NULL, 10);
    if (nf < 1 || nf > 10000 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: online_bench [FEATURES 1..10000 [THREADS 1..64]]\n");
        return 2;
    }
    xs = md_xcalloc(ROWS * nf, sizeof(float));
    ys = md_xcalloc(ROWS, sizeof(float));
    srand(17);
    for (i = 0; i < ROWS * nf; i++)
        xs[i] = (float)rand() / (float)RAND_MAX * 4 - 2;
    for (i = 0; i < ROWS; i++)
        ys[i] = xs[i * nf] > xs[i * nf + 1 % nf] ? 1.0f : 0.0f;
    printf("linear logistic, %zu features\n", nf);
    printf("updates/s  sgd: %.0f (1 per call), %.0f (100 per call)\n", updates_per_s(1, 1),
           updates_per_s(1, 100));
    printf("updates/s  ftrl: %.0f (1 per call), %.0f (100 per call)\n", updates_per_s(2, 1),
           updates_per_s(2, 100));
    for (i = 0; i < ROUNDS; i++) {
        base_r[i] = predictions_per_s(threads, false);
        busy_r[i] = predictions_per_s(threads, true);
    }
    base = median(base_r, ROUNDS);
    busy = median(busy_r, ROUNDS);
    printf("single-row predictions/s, %u threads, not learning: %.0f (median of %d)\n", threads,
           base, ROUNDS);
    printf("single-row predictions/s, %u threads, learning 1,000 labels/s: %.0f (%.0f labels/s "
           "learned)\n",
           threads, busy, (double)learned / (ROUNDS * 2.0));
    printf("ratio learning / not learning: %.3f\n", busy / base);
    free(xs);
    free(ys);
    return 0;
}
