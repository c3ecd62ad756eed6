/* SPDX-License-Identifier: MIT */
/*
 * test_files.h: files for the unit tests that build repositories on disk:
 * read one whole, write one, copy one. Each fails the cmocka test on an
 * error. Include after cmocka.h.
 */
#ifndef MD_TESTS_TEST_FILES_H
#define MD_TESTS_TEST_FILES_H

#include "util/mem.h"

#include <stdio.h>
#include <sys/stat.h>

/* path's contents, NUL-terminated; the caller frees. */
static inline char *file_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = md_xmalloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Writes text to path, replacing what was there. */
static inline void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Copies from to to, then appends extra (NULL: nothing). */
static inline void file_copy(const char *from, const char *to, const char *extra)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    char buf[65536];
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    if (extra != NULL)
        assert_true(fputs(extra, out) >= 0);
    (void)fclose(in);
    assert_int_equal(fclose(out), 0);
}

/*
 * repo/name/model.yaml (tests/data/bench/model.yaml, then yaml_extra or
 * nothing) and repo/name/1/model.json, the benchmark model: run from the top
 * of the source tree.
 */
static inline void file_bench_model(const char *repo, const char *name, const char *yaml_extra)
{
    char p[512];

    (void)snprintf(p, sizeof(p), "%s/%s", repo, name);
    assert_int_equal(mkdir(p, 0700), 0);
    (void)snprintf(p, sizeof(p), "%s/%s/1", repo, name);
    assert_int_equal(mkdir(p, 0700), 0);
    (void)snprintf(p, sizeof(p), "%s/%s/model.yaml", repo, name);
    file_copy("tests/data/bench/model.yaml", p, yaml_extra);
    (void)snprintf(p, sizeof(p), "%s/%s/1/model.json", repo, name);
    file_copy("tests/data/bench/bench_model.json", p, NULL);
}

#endif
