/* SPDX-License-Identifier: MIT */
/*
 * predlog_bench.c: the prediction log's writer alone. One thread tells the
 * recorder (serve/predrec.h) the stories of N one-row predictions of the
 * benchmark model (30 FP32 features, one output) as fast as it can, with a
 * ring large enough to hold them all; the writer formats their JSON and
 * commits them through a real store. Prints the records per second from
 * the first put to the last commit, the cost of a put on the request's
 * thread, the batches and the bytes on disk per record.
 * Usage: predlog_bench [N [crypt]] (N 200000; crypt: encryption at rest
 * on, under a random data key, so that the writer seals each record's
 * features and outputs). Run from the repository's root (it reads
 * tests/data/bench).
 */
#include "serve/contract.h"
#include "serve/model.h"
#include "serve/predrec.h"
#include "store/store.h"
#include "util/aead.h"
#include "util/log.h"
#include "util/mem.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the process (every thread), or of the calling thread. */
static double cpu_s(bool thread)
{
    struct timespec ts;

    clock_gettime(thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long file_size(const char *dir, const char *name)
{
    char path[256];
    struct stat st;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/md-predlog-bench-XXXXXX";
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    struct md_predlog_config cfg;
    struct md_predlog_counts c;
    struct md_contract *contract;
    struct md_version *v;
    struct md_predrec *rec;
    struct md_store *store;
    struct md_aead_keys *keys = NULL;
    bool crypt = argc > 2 && strcmp(argv[2], "crypt") == 0;
    struct md_predict_story s;
    struct md_prediction pred;
    struct md_tensor in;
    struct md_err err;
    float x[30];
    float score = 0.25f;
    char id[40];
    char cmd[160];
    char vdir[64];
    double t0, t_put, t_end;
    double cpu0, cpu_end, put0, put_cpu;
    long i;

    md_log_set_level(MD_LOG_OFF);
    if (n < 1 || n > MD_PREDLOG_RING_MAX || mkdtemp(dir) == NULL)
        return 2;
    if (md_store_open(dir, &store, &err) != MD_OK ||
        md_contract_load("tests/data/bench/model.yaml", "bench", &contract, &err) != MD_OK) {
        fprintf(stderr, "predlog_bench: %s\n", err.msg);
        return 1;
    }
    if (crypt) {
        unsigned char raw[MD_AEAD_KEY_BYTES];
        char hex[2 * MD_AEAD_KEY_BYTES + 1];

        if (md_aead_random(raw, sizeof(raw), &err) != MD_OK)
            return 1;
        for (i = 0; i < MD_AEAD_KEY_BYTES; i++)
            (void)snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        if (md_aead_keys_parse(hex, strlen(hex), &keys, &err) != MD_OK ||
            md_store_crypt_enable(store, keys, &err) != MD_OK) {
            fprintf(stderr, "predlog_bench: %s\n", err.msg);
            return 1;
        }
    }
    /* A version directory beside the store, holding the benchmark's artifact. */
    (void)snprintf(cmd, sizeof(cmd),
                   "mkdir '%s/v' && cp tests/data/bench/bench_model.json '%s/v/model.json'", dir,
                   dir);
    (void)snprintf(vdir, sizeof(vdir), "%s/v", dir);
    if (system(cmd) != 0 || md_version_load(vdir, 1, contract, NULL, &v, &err) != MD_OK) {
        fprintf(stderr, "predlog_bench: %s\n", err.msg);
        return 1;
    }
    md_predlog_config_init(&cfg);
    cfg.ring = (size_t)n;
    /* The writer's capacity: at the priority of the rest (the daemon's runs at nice 10). */
    cfg.nice = 0;
    if (md_predrec_new(&cfg, store, NULL, 0, &rec, &err) != MD_OK) {
        fprintf(stderr, "predlog_bench: %s\n", err.msg);
        return 1;
    }
    for (i = 0; i < 30; i++)
        x[i] = 0.1f * (float)i + 0.0123f;
    memset(&in, 0, sizeof(in));
    in.name = "features";
    in.dtype = MD_DT_FP32;
    in.ndim = 2;
    in.shape[0] = 1;
    in.shape[1] = 30;
    in.count = 30;
    in.data = x;
    memset(&pred, 0, sizeof(pred));
    pred.rows = 1;
    pred.per_row = 1;
    pred.scores = &score;
    memset(&s, 0, sizeof(s));
    s.model = "bench";
    s.version = v;
    s.route = "v2 infer";
    s.route_name = "stable";
    s.status = 200;
    s.inputs = &in;
    s.n_inputs = 1;
    s.prepared = x;
    s.rows = 1;
    s.scores = &pred;
    s.latency_ns = 250000;
    s.request_id = id;
    t0 = now_s();
    cpu0 = cpu_s(false);
    put0 = cpu_s(true);
    for (i = 0; i < n; i++) {
        /* Time-ordered ids, as the server makes them. */
        (void)snprintf(id, sizeof(id), "01HZX%011ld", i);
        x[0] = (float)i;
        md_predrec_told(rec, &s);
    }
    t_put = now_s();
    put_cpu = cpu_s(true) - put0;
    if (!md_predlog_flush(md_predrec_log(rec), 600000)) {
        fprintf(stderr, "predlog_bench: the writer did not finish in 10 minutes\n");
        return 1;
    }
    t_end = now_s();
    cpu_end = cpu_s(false);
    md_predlog_counts(md_predrec_log(rec), &c);
    md_predrec_free(rec);
    md_version_unref(v);
    md_store_close(store);
    md_aead_keys_free(keys);
    printf("encryption at rest: %s\n", crypt ? "on (AES-256-GCM)" : "off");
    printf("records %ld, written %llu, dropped %llu, batches %llu (largest %llu)\n", n,
           (unsigned long long)c.written, (unsigned long long)c.dropped,
           (unsigned long long)c.batches, (unsigned long long)c.largest);
    printf("put on the request's thread: %.2f us per record (%.2f us of CPU)\n",
           (t_put - t0) * 1e6 / (double)n, put_cpu * 1e6 / (double)n);
    printf("writer: %.0f records/s (first put to last commit, %.2f s)\n",
           (double)c.written / (t_end - t0), t_end - t0);
    printf("writer and store threads: %.2f us of CPU per record: %.0f records/s on a core "
           "of their own\n",
           (cpu_end - cpu0 - put_cpu) * 1e6 / (double)c.written,
           (double)c.written / (cpu_end - cpu0 - put_cpu));
    printf("bytes on disk per record: %.0f (database and its log, 30 features)\n",
           (double)(file_size(dir, "modeld.db") + file_size(dir, "modeld.db-wal")) /
               (double)c.written);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 && c.written == (uint64_t)n ? 0 : 1;
}
