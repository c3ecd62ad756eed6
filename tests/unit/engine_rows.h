/* SPDX-License-Identifier: MIT */
/*
 * engine_rows.h: helpers shared by the engine tests (test_trees.c,
 * test_xgboost.c): reference rows from CSV files, the shared peers folder,
 * temporary files and loading through the registry.
 */
#ifndef MD_TESTS_ENGINE_ROWS_H
#define MD_TESTS_ENGINE_ROWS_H

#include <math.h>
#include <unistd.h>

#include "backend/registry.h"

/* Rows of a CSV file: nf features (empty = missing) then n_ref reference values. */
struct rows {
    size_t n;   /* rows read */
    float *x;   /* n * nf features */
    float *ref; /* n * n_ref reference values */
};

/* path of file name in $MD_PEERS, or ../shared/peers (tests run from the repository root). */
static inline const char *peers(const char *name, char *buf, size_t cap)
{
    const char *dir = getenv("MD_PEERS");

    snprintf(buf, cap, "%s/%s", dir != NULL ? dir : "../shared/peers", name);
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

/* Uniform in [0, 1) from a 64-bit state (xorshift*). */
static inline double rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

#endif
