/* SPDX-License-Identifier: MIT */
/*
 * handler_bench.c: nanoseconds per V2 infer request through the router and
 * handler, without HTTP: what modeld itself adds to each request.
 * Usage: handler_bench REPO MODEL BODY [ITERATIONS [JSON_LEN]]; with JSON_LEN
 * the request carries Inference-Header-Content-Length: JSON_LEN (a body of
 * JSON and binary tensor data, or 0 for a raw binary body).
 */
#include "net/router.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <strings.h>
#include <time.h>

static const char *json_len_header;

static const char *header(void *conn, const char *name)
{
    (void)conn;
    if (strcasecmp(name, "Inference-Header-Content-Length") == 0)
        return json_len_header;
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct md_api api;
    struct md_repo *repo;
    struct md_err err;
    struct md_arena arena;
    struct md_buf reply;
    char path[256];
    char *body;
    size_t len;
    FILE *f;
    long iters = argc > 4 ? strtol(argv[4], NULL, 10) : 200000;
    uint64_t samples[101];
    int s;

    if (argc < 4) {
        fprintf(stderr, "usage: handler_bench REPO MODEL BODY [ITERATIONS [JSON_LEN]]\n");
        return 2;
    }
    if (argc > 5)
        json_len_header = argv[5];
    if (iters < 100)
        iters = 100; /* 101 samples of iters / 100 requests each */
    if (md_repo_open(argv[1], &repo, &err) != MD_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    md_repo_scan(repo);
    memset(&api, 0, sizeof(api));
    api.repo = repo;
    api.name = "modeld";
    api.version = MD_VERSION;
    f = fopen(argv[3], "rb");
    if (f == NULL)
        return 1;
    body = md_xmalloc(1 << 24);
    len = fread(body, 1, (1 << 24) - 1, f);
    body[len] = '\0';
    fclose(f);
    snprintf(path, sizeof(path), "/v2/models/%s/infer", argv[2]);
    md_arena_init(&arena, 1u << 30);
    md_buf_init(&reply, 1u << 30);
    for (s = 0; s < 101; s++) {
        uint64_t t0 = md_now_ns();
        long i;

        for (i = 0; i < iters / 100; i++) {
            struct md_api_req req = {.method = "POST",
                                     .path = path,
                                     .body = body,
                                     .body_len = len,
                                     .arena = &arena,
                                     .request_id = "0123456789abcdef0123456789abcdef",
                                     .start_ns = md_now_ns(),
                                     .header = header};
            struct md_api_resp resp = {.status = 200,
                                       .body = &reply,
                                       .content_type = "application/json",
                                       .family = MD_API_OTHER};

            md_buf_reset(&reply);
            md_router_dispatch(&api, &req, &resp);
            if (resp.status != 200) {
                fprintf(stderr, "status %d: %s\n", resp.status, reply.data);
                return 1;
            }
            md_arena_reset(&arena);
        }
        samples[s] = (md_now_ns() - t0) / (uint64_t)(iters / 100);
    }
    qsort(samples, 101, sizeof(samples[0]), cmp_u64);
    printf("%s: median %llu ns per request (p10 %llu, p90 %llu)\n", argv[3],
           (unsigned long long)samples[50], (unsigned long long)samples[10],
           (unsigned long long)samples[90]);
    md_buf_release(&reply);
    md_arena_release(&arena);
    md_repo_free(repo);
    free(body);
    return 0;
}
