/* SPDX-License-Identifier: MIT */
/*
 * test_upload.c: the intake of an uploaded version (api/upload.h), driven
 * as the HTTP layer drives it: the sink opened with a request's
 * Content-Type, the body written in chunks of several sizes, the upload
 * staged, the sink closed. What is staged (the artifact's file, sha256,
 * size and file name, the parts kept in memory), each refusal's status and
 * message, and that no refusal and no close leaves a file behind. Also the
 * upload directory's preparation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/upload.h"
#include "util/buf.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#define B "t-Bnd"

struct fixture {
    char dir[64];       /* a fresh directory: the upload directory is dir/up */
    char up[96];        /* the upload directory */
    struct md_api api;  /* upload_dir = up */
    const char *ctype;  /* the request's Content-Type */
    struct md_buf body; /* the body being built */
};

static const char *header(void *conn, const char *name)
{
    const struct fixture *f = conn;

    return strcmp(name, "Content-Type") == 0 ? f->ctype : NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_upload_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->up, sizeof(f->up), "%s/artifacts/tmp", f->dir);
    assert_int_equal(md_upload_dir_prepare(f->up, NULL), MD_OK);
    f->api.upload_dir = f->up;
    f->ctype = "multipart/form-data; boundary=" B;
    md_buf_init(&f->body, 64 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[200];

    md_buf_release(&f->body);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Files in dir. */
static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    const struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Appends a part to f's body. */
static void add_part(struct fixture *f, const char *name, const char *filename, const void *data,
                     size_t n)
{
    md_buf_printf(&f->body, "--" B "\r\nContent-Disposition: form-data; name=\"%s\"", name);
    if (filename != NULL)
        md_buf_printf(&f->body, "; filename=\"%s\"", filename);
    md_buf_puts(&f->body, "\r\n\r\n");
    md_buf_append(&f->body, data, n);
    md_buf_puts(&f->body, "\r\n");
}

static void end_body(struct fixture *f)
{
    md_buf_puts(&f->body, "--" B "--\r\n");
    assert_int_equal(md_buf_error(&f->body), MD_OK);
}

/* The sink opened for f's Content-Type: MD_OK and *st, or the error. */
static int open_sink(struct fixture *f, void **st, struct md_err *err)
{
    struct md_api_req req;
    struct md_route rt = {.model = "m"};

    memset(&req, 0, sizeof(req));
    req.header = header;
    req.conn = f;
    return md_upload_sink.open(&f->api, &rt, &req, st, err);
}

/* f's body through a new sink in chunks of chunk bytes (0: whole), then staged. */
static int feed(struct fixture *f, size_t chunk, void **st, struct md_upload **u,
                struct md_err *err)
{
    size_t at = 0;

    assert_int_equal(open_sink(f, st, err), MD_OK);
    while (at < f->body.len) {
        size_t k = chunk == 0 || chunk > f->body.len - at ? f->body.len - at : chunk;

        md_upload_sink.write(*st, f->body.data + at, k);
        at += k;
    }
    return md_upload_stage(*st, u, err);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int len = 0;
    unsigned int i;

    assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* The file at path holds exactly p[0..n). */
static void file_holds(const char *path, const char *p, size_t n)
{
    FILE *fp = fopen(path, "rb");
    char *got = malloc(n + 1);
    size_t k;

    assert_non_null(fp);
    assert_non_null(got);
    k = fread(got, 1, n + 1, fp);
    fclose(fp);
    assert_int_equal(k, n);
    assert_memory_equal(got, p, n);
    free(got);
}

static void test_staged_upload(void **state)
{
    static const size_t chunks[] = {0, 1, 7, 4096, 300000};
    struct fixture *f = *state;
    size_t n = 700000;
    char *art = malloc(n);
    char want[65];
    size_t c;
    size_t i;

    assert_non_null(art);
    for (i = 0; i < n; i++)
        art[i] = (char)(i * 2654435761u >> 13);
    memcpy(art + 1000, "\r\n--" B, 6); /* a near miss of the delimiter */
    sha256_hex(art, n, want);
    add_part(f, "metadata", NULL, "{\"auc\": 0.91}", 13);
    add_part(f, "artifact", "dir/model.json", art, n);
    add_part(f, "model.yaml", "model.yaml", "backend: trees\n", 15);
    add_part(f, "profile", NULL, "{}", 2);
    end_body(f);
    for (c = 0; c < MD_ARRAY_LEN(chunks); c++) {
        struct md_upload *u;
        struct md_err err;
        void *st;
        char *path;

        assert_int_equal(feed(f, chunks[c], &st, &u, &err), MD_OK);
        assert_string_equal(u->sha256, want);
        assert_int_equal(u->size, n);
        assert_string_equal(u->filename, "model.json");
        assert_string_equal(u->metadata, "{\"auc\": 0.91}");
        assert_int_equal(u->metadata_len, 13);
        assert_string_equal(u->model_yaml, "backend: trees\n");
        assert_int_equal(u->model_yaml_len, 15);
        assert_string_equal(u->profile, "{}");
        assert_non_null(u->path);
        assert_int_equal(strncmp(u->path, f->up, strlen(f->up)), 0);
        assert_int_equal(strncmp(u->path + strlen(f->up), "/" MD_UPLOAD_TMP_PREFIX,
                                 strlen(MD_UPLOAD_TMP_PREFIX) + 1),
                         0);
        file_holds(u->path, art, n);
        /* Staged twice: the same upload. */
        {
            struct md_upload *again;

            assert_int_equal(md_upload_stage(st, &again, &err), MD_OK);
            assert_ptr_equal(again, u);
        }
        if (c == 0) {
            /* The file taken: the close leaves it, the taker removes it. */
            path = md_upload_detach_path(u);
            assert_non_null(path);
            assert_null(u->path);
            assert_null(md_upload_detach_path(u));
            md_upload_sink.close(st);
            assert_int_equal(files_in(f->up), 1);
            assert_int_equal(unlink(path), 0);
            free(path);
        } else if (c == 1) {
            /* Discarded at once; twice is harmless. */
            md_upload_discard(u);
            assert_null(u->path);
            assert_int_equal(files_in(f->up), 0);
            md_upload_discard(u);
            md_upload_sink.close(st);
        } else {
            assert_int_equal(files_in(f->up), 1);
            md_upload_sink.close(st);
        }
        assert_int_equal(files_in(f->up), 0);
    }
    free(art);
}

static void test_optional_parts_absent(void **state)
{
    struct fixture *f = *state;
    struct md_upload *u;
    struct md_err err;
    void *st;

    add_part(f, "artifact", "m.ubj", "", 0);
    end_body(f);
    assert_int_equal(feed(f, 0, &st, &u, &err), MD_OK);
    assert_string_equal(u->metadata, "{}");
    assert_int_equal(u->metadata_len, 2);
    assert_null(u->model_yaml);
    assert_null(u->profile);
    assert_int_equal(u->size, 0);
    assert_string_equal(u->sha256,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    md_upload_sink.close(st);
    assert_int_equal(files_in(f->up), 0);
}

/* One refused body: its code and message, at every chunk size, and no file left. */
static void expect_refused(struct fixture *f, int code, const char *msg)
{
    static const size_t chunks[] = {0, 1, 5, 4096};
    size_t c;

    for (c = 0; c < MD_ARRAY_LEN(chunks); c++) {
        struct md_upload *u = (struct md_upload *)1;
        struct md_err err;
        void *st;

        assert_int_equal(feed(f, chunks[c], &st, &u, &err), code);
        assert_null(u);
        if (strstr(err.msg, msg) == NULL)
            fail_msg("chunk %zu: '%s', expected '%s'", chunks[c], err.msg, msg);
        /* Removed at the refusal, before the close. */
        assert_int_equal(files_in(f->up), 0);
        md_upload_sink.close(st);
    }
    md_buf_reset(&f->body);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    char *big = malloc((1 << 20) + 2);
    size_t i;

    assert_non_null(big);
    big[0] = '"';
    for (i = 1; i <= 1 << 20; i++)
        big[i] = 'x';
    big[(1 << 20) + 1] = '"';
    add_part(f, "metadata", NULL, "{}", 2);
    end_body(f);
    expect_refused(f, MD_EINVAL, "artifact: missing");
    /* A part after the artifact, refused: the artifact's file goes. */
    add_part(f, "artifact", "m.json", "12345", 5);
    add_part(f, "notes", NULL, "x", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL,
                   "unknown part 'notes': an upload holds artifact, metadata, model.yaml and "
                   "profile");
    add_part(f, "na\xffme", NULL, "x", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "unknown part 'na?me'");
    add_part(f, "artifact", "m.json", "1", 1);
    add_part(f, "artifact", "m.json", "2", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "artifact: the part is sent twice");
    add_part(f, "artifact", "m.json", "1", 1);
    add_part(f, "metadata", NULL, "[1]", 3);
    end_body(f);
    expect_refused(f, MD_EINVAL, "metadata: expected a JSON object, got an array");
    add_part(f, "artifact", "m.json", "1", 1);
    add_part(f, "metadata", NULL, "{\"a\":", 5);
    end_body(f);
    expect_refused(f, MD_EINVAL, "metadata: invalid JSON at line 1");
    add_part(f, "artifact", "m.json", "1", 1);
    add_part(f, "profile", NULL, "7", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "profile: expected a JSON object, got a number");
    add_part(f, "artifact", "m.json", "1", 1);
    add_part(f, "metadata", NULL, big, (1 << 20) + 2);
    end_body(f);
    expect_refused(f, MD_ETOOBIG, "metadata: larger than the limit of 1048576 bytes");
    add_part(f, "model.yaml", NULL, big, (1 << 20) + 1);
    end_body(f);
    expect_refused(f, MD_ETOOBIG, "model.yaml: larger than the limit of 1048576 bytes");
    /* File names. */
    add_part(f, "artifact", NULL, "1", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "artifact: the part has no filename");
    add_part(f, "artifact", "a/b/", "1", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "artifact: filename 'a/b/' names no file");
    add_part(f, "artifact", "x/..", "1", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "artifact: filename '..' starts with '.'");
    add_part(f, "artifact", "a\tb", "1", 1);
    end_body(f);
    expect_refused(f, MD_EINVAL, "artifact: filename 'a?b' holds a control character");
    /* The body itself: the parser's message, prefixed. */
    add_part(f, "artifact", "m.json", "12345", 5);
    expect_refused(f, MD_EINVAL, "multipart body: missing the final boundary");
    md_buf_puts(&f->body, "--" B "\r\nContent-Disposition: form-data\r\n\r\n");
    expect_refused(f, MD_EINVAL, "multipart body: part 1: Content-Disposition: the part has no");
    free(big);
}

static void test_open_refusals(void **state)
{
    struct fixture *f = *state;
    struct md_err err;
    void *st = (void *)1;

    f->ctype = NULL;
    assert_int_equal(open_sink(f, &st, &err), MD_EINVAL);
    assert_null(st);
    assert_string_equal(err.msg, "header 'Content-Type': missing; send multipart/form-data");
    f->ctype = "text/plain";
    assert_int_equal(open_sink(f, &st, &err), MD_EINVAL);
    assert_string_equal(err.msg, "header 'Content-Type': 'text/plain' is not multipart/form-data");
    f->ctype = "multipart/form-data; boundary=" B;
    f->api.upload_dir = NULL;
    assert_int_equal(open_sink(f, &st, &err), MD_EINTERNAL);
    assert_string_equal(err.msg, "uploads are not available: no upload directory");
    /* A directory that is not there: the artifact's file cannot be made. */
    f->api.upload_dir = "/nonexistent-dir/tmp";
    add_part(f, "artifact", "m.json", "1", 1);
    end_body(f);
    {
        struct md_upload *u;

        assert_int_equal(feed(f, 0, &st, &u, &err), MD_EIO);
        assert_non_null(strstr(err.msg, "artifact: cannot create a temporary file in "
                                        "'/nonexistent-dir/tmp'"));
        md_upload_sink.close(st);
    }
}

static void test_dir_prepare(void **state)
{
    struct fixture *f = *state;
    char path[160];
    char deep[160];
    struct md_err err;
    FILE *fp;

    /* Leftovers of uploads go; anything else stays. */
    (void)snprintf(path, sizeof(path), "%s/" MD_UPLOAD_TMP_PREFIX "abc", f->up);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    (void)snprintf(path, sizeof(path), "%s/keep", f->up);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(md_upload_dir_prepare(f->up, &err), MD_OK);
    assert_int_equal(files_in(f->up), 1);
    assert_int_equal(access(path, F_OK), 0);
    /* Missing directories on the way are made. */
    (void)snprintf(deep, sizeof(deep), "%s/a//b/c/", f->dir);
    assert_int_equal(md_upload_dir_prepare(deep, &err), MD_OK);
    (void)snprintf(deep, sizeof(deep), "%s/a/b/c", f->dir);
    assert_int_equal(access(deep, W_OK), 0);
    /* A file in the way. */
    (void)snprintf(deep, sizeof(deep), "%s/keep/tmp", f->up);
    assert_int_equal(md_upload_dir_prepare(deep, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "upload directory '"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_staged_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optional_parts_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_prepare, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
