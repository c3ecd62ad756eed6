/* SPDX-License-Identifier: MIT */
/*
 * test_store.c: the store (store/store.h) with SQLite in a temporary data
 * directory: opening, the settings read back, migrations and their record,
 * refusals that leave the file as it was (a schema too new, a file that is
 * not a database, a damaged one, another program's database, a path that
 * cannot be used), every record function with its errors, the store thread
 * (group commit, a failing job undone alone, barriers, a lock held by
 * another process, close with jobs queued and submitted), the artifact
 * directory, and a crash: this binary re-executed as a child that writes a
 * stream of changes and prints each one acknowledged, killed with SIGKILL,
 * after which every acknowledged change is found. The test reaches the file
 * with the sqlite3 API itself to make it newer or foreign. Every wait is
 * bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/spawn.h"
#include "store_fixture.h"

extern char **environ;

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---------------------------------------------------------------- helpers */

struct fx {
    char dir[64];
    char db[128];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));

    store_fx_make("store", f->dir, f->db, &f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_drop(f->dir, f->s);
    free(f);
    return 0;
}

/* Closes and opens the store again. */
static void reopen(struct fx *f)
{
    struct md_err err;

    md_store_close(f->s);
    f->s = NULL;
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
}

/* Text that listing callbacks append lines to. */
struct text {
    char buf[16384];
    size_t len;
};

static void text_add(struct text *t, const char *fmt, ...) MD_PRINTF(2, 3);
static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < sizeof(t->buf) - t->len ? (size_t)n : sizeof(t->buf) - t->len - 1;
}

static unsigned char *file_bytes(const char *path, size_t *n)
{
    struct stat st;
    unsigned char *b;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    b = md_xmalloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

static void file_write(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

/*
 * As sql_exec, but the change stays in the write-ahead log: the connection
 * does not copy it into the database file when it closes, as after a crash.
 */
static void sql_exec_in_wal(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(data, n, md, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -------------------------------------------------- record helpers (jobs) */

/* Runs and done are on the store thread: they record, the test asserts after. */

struct vadd {
    struct md_store_version v;
    int64_t number;
};

static int run_vadd(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct vadd *a = ctx;

    return md_store_tx_version_add(tx, &a->v, &a->number, err);
}

static struct md_store_version version(const char *model, int64_t number, const char *sha)
{
    struct md_store_version v;

    memset(&v, 0, sizeof(v));
    v.model = model;
    v.version = number;
    v.sha256 = sha;
    v.size = 42;
    v.source = MD_SOURCE_UPLOAD;
    v.engine = "trees";
    v.artifact = "model.json";
    v.metadata = "{\"data\": \"d1\"}";
    v.contract = "features: []\n";
    v.contract_sha256 = SHA_B;
    return v;
}

/* Adds a version; returns its number, or the error code (negative). */
static int64_t add_version(struct md_store *s, const char *model, int64_t number, const char *sha,
                           struct md_err *err)
{
    struct vadd a;
    int rc;

    a.v = version(model, number, sha);
    a.number = -1;
    rc = md_store_call(s, run_vadd, &a, err);
    if (rc != MD_OK) {
        assert_true(a.number <= 0); /* 0, or -1 when its run never ran */
        return rc;
    }
    return a.number;
}

static void version_line(void *ctx, const struct md_store_version *v)
{
    text_add(ctx, "%s/%lld %.4s %lld %s %s %s %s %s%s\n", v->model, (long long)v->version,
             v->sha256, (long long)v->size, md_store_source_name(v->source), v->engine, v->artifact,
             v->metadata, v->contract_sha256[0] != '\0' ? "c" : "-",
             v->archived ? " archived" : "");
}

struct listing {
    const char *model; /* NULL: all */
    int64_t number;    /* for get */
    int code;
    struct text t;
};

static int run_versions(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_versions(tx, l->model, version_line, &l->t, err);
}

static int run_version_get(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_version_get(tx, l->model, l->number, version_line, &l->t, err);
}

/* The listing a run writes, as text (the caller frees nothing: static buffer per call). */
static const char *list(struct md_store *s,
                        int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err),
                        const char *model, int64_t number)
{
    static struct listing l;
    struct md_err err;

    memset(&l, 0, sizeof(l));
    l.model = model;
    l.number = number;
    l.code = md_store_call(s, run, &l, &err);
    if (l.code != MD_OK)
        snprintf(l.t.buf, sizeof(l.t.buf), "error %d: %s", l.code, err.msg);
    return l.t.buf;
}

/* ----------------------------------------------------------- open, info */

static void test_open_info(void **state)
{
    struct fx *f = *state;
    struct md_store_info info;
    struct stat st;
    char path[200];

    md_store_get_info(f->s, &info);
    assert_string_equal(info.backend, "sqlite");
    assert_string_equal(info.location, f->db);
    assert_int_equal(info.schema, MD_STORE_SCHEMA);
    assert_string_equal(info.journal_mode, "wal");
    assert_string_equal(info.synchronous, "full");
    assert_int_equal(info.commits, 0);
    assert_int_equal(info.jobs, 0);
    assert_int_equal(info.failed_commits, 0);
    snprintf(path, sizeof(path), "%s/artifacts/tmp", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* What the file itself records, read by SQLite apart from the store. */
    md_store_close(f->s);
    f->s = NULL;
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), MD_STORE_SCHEMA);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM migrations"), MD_STORE_SCHEMA);
    assert_int_equal(sql_int(f->db, "SELECT max(version) FROM migrations"), MD_STORE_SCHEMA);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM pragma_journal_mode WHERE "
                                    "journal_mode = 'wal'"),
                     1);
    /* Opened again: nothing applied twice. */
    reopen(f);
    md_store_get_info(f->s, &info);
    assert_int_equal(info.schema, MD_STORE_SCHEMA);
    md_store_close(f->s);
    f->s = NULL;
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM migrations"), MD_STORE_SCHEMA);
    reopen(f);
}

static void test_open_bad_dir(void **state)
{
    struct fx *f = *state;
    struct md_store *s = NULL;
    struct md_err err;
    char path[200];

    assert_int_equal(md_store_open("", &s, &err), MD_EINVAL);
    assert_null(s);
    /* The data directory is a file. */
    snprintf(path, sizeof(path), "%s/plain", f->dir);
    file_write(path, "x", 1);
    assert_int_equal(md_store_open(path, &s, &err), MD_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, strerror(ENOTDIR)));
    /* Its parent does not exist. */
    snprintf(path, sizeof(path), "%s/no/such", f->dir);
    assert_int_equal(md_store_open(path, &s, &err), MD_EIO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    /* The database file is a directory. */
    snprintf(path, sizeof(path), "%s/d", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/d/modeld.db", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/d", f->dir);
    assert_int_equal(md_store_open(path, &s, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "modeld.db"));
    assert_non_null(strstr(err.msg, strerror(EISDIR)));
}

/*
 * Opens the store in dir as a process that is not root: this one when it is
 * not, else this binary re-executed as the user nobody ("--open-as-nobody"),
 * which prints the code and message. Returns the code; the message into err.
 */
static int open_unprivileged(const char *dir, struct md_err *err)
{
    struct md_spawn_limits lim = {30000, 0, false, NULL};
    struct md_spawn_result res;
    char self[512];
    char *argv[4];
    ssize_t n;
    int code = 0;
    int used = 0;

    if (geteuid() != 0) {
        struct md_store *s = NULL;
        int rc = md_store_open(dir, &s, err);

        md_store_close(s);
        return rc;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    argv[0] = self;
    argv[1] = (char *)"--open-as-nobody";
    argv[2] = (char *)dir;
    argv[3] = NULL;
    assert_int_equal(md_spawn_run(self, argv, -1, &lim, &res, err), MD_OK);
    assert_int_equal(res.end, MD_SPAWN_EXITED);
    assert_int_equal(res.status, 0);
    assert_int_equal(sscanf(res.out, "%d %n", &code, &used), 1);
    snprintf(err->msg, sizeof(err->msg), "%.*s", (int)strcspn(res.out + used, "\n"),
             res.out + used);
    err->code = code;
    return code;
}

/* The child of open_unprivileged: drops root, opens, prints "code message". */
static int open_as_nobody(const char *dir)
{
    struct md_store *s = NULL;
    struct md_err err;
    int rc;

    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
        printf("1 cannot become nobody: %s\n", strerror(errno));
        return 0;
    }
    md_err_clear(&err);
    rc = md_store_open(dir, &s, &err);
    md_store_close(s);
    printf("%d %s\n", rc, err.msg);
    return 0;
}

static void test_open_unreadable(void **state)
{
    struct fx *f = *state;
    struct md_err err;
    unsigned char *before, *after;
    size_t n_before, n_after;

    md_store_close(f->s);
    f->s = NULL;
    /* The directory can be entered by anyone; the file by its owner only. */
    assert_int_equal(chmod(f->dir, 0777), 0);
    before = file_bytes(f->db, &n_before);
    assert_int_equal(chmod(f->db, 0), 0);
    assert_int_equal(open_unprivileged(f->dir, &err), MD_EIO);
    if (strstr(err.msg, f->db) == NULL || strstr(err.msg, strerror(EACCES)) == NULL)
        fail_msg("unexpected: %s", err.msg);
    assert_int_equal(chmod(f->db, 0600), 0);
    after = file_bytes(f->db, &n_after);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before);
    free(before);
    free(after);
    /* A directory it cannot write. */
    assert_int_equal(chmod(f->dir, 0555), 0);
    assert_int_equal(open_unprivileged(f->dir, &err), MD_EIO);
    if (strstr(err.msg, f->dir) == NULL || strstr(err.msg, strerror(EACCES)) == NULL)
        fail_msg("unexpected: %s", err.msg);
    assert_int_equal(chmod(f->dir, 0700), 0);
    reopen(f);
}

/*
 * Opening must fail with code and a message containing want, leaving the
 * database file's bytes, and its write-ahead log's, as they were.
 */
static void refused_unchanged(struct fx *f, int code, const char *want)
{
    struct md_store *s = NULL;
    struct md_err err;
    unsigned char *before, *after, *wal_before = NULL, *wal_after = NULL;
    size_t n_before, n_after, wal_n_before = 0, wal_n_after = 0;
    char wal[200];

    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    before = file_bytes(f->db, &n_before);
    if (access(wal, F_OK) == 0)
        wal_before = file_bytes(wal, &wal_n_before);
    assert_int_equal(md_store_open(f->dir, &s, &err), code);
    assert_null(s);
    if (strstr(err.msg, want) == NULL)
        fail_msg("'%s' does not say '%s'", err.msg, want);
    assert_non_null(strstr(err.msg, f->db));
    after = file_bytes(f->db, &n_after);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before);
    if (wal_before != NULL) {
        wal_after = file_bytes(wal, &wal_n_after);
        assert_int_equal(wal_n_before, wal_n_after);
        assert_memory_equal(wal_before, wal_after, wal_n_before);
    }
    free(before);
    free(after);
    free(wal_before);
    free(wal_after);
}

static void test_schema_newer(void **state)
{
    struct fx *f = *state;
    struct md_store_info info;
    struct md_err err;
    char sql[100];

    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 1);
    md_store_close(f->s);
    f->s = NULL;
    /* One release newer: read and written. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", MD_STORE_SCHEMA + 1);
    sql_exec(f->db, sql);
    reopen(f);
    md_store_get_info(f->s, &info);
    assert_int_equal(info.schema, MD_STORE_SCHEMA + 1);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 2);
    md_store_close(f->s);
    f->s = NULL;
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), MD_STORE_SCHEMA + 1);
    /* Two newer: refused, untouched (the change still in the log, as after a crash). */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", MD_STORE_SCHEMA + 2);
    sql_exec_in_wal(f->db, sql);
    snprintf(sql, sizeof(sql), "%s-wal", f->db);
    assert_int_equal(access(sql, F_OK), 0);
    snprintf(sql, sizeof(sql), "has schema %d; this release reads schema %d and %d: upgrade modeld",
             MD_STORE_SCHEMA + 2, MD_STORE_SCHEMA, MD_STORE_SCHEMA + 1);
    refused_unchanged(f, MD_EUNSUPPORTED, sql);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM versions"), 2);
    /* Back to this release's schema: it opens again with both versions. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", MD_STORE_SCHEMA);
    sql_exec(f->db, sql);
    reopen(f);
    assert_string_equal(list(f->s, run_versions, "m", 0),
                        "m/1 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n"
                        "m/2 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n");
}

static void test_not_a_database(void **state)
{
    struct fx *f = *state;
    static const char text[] = "this is a text file, not a database; it is long enough to fill "
                               "the hundred bytes of a header and then some more\n";

    md_store_close(f->s);
    f->s = NULL;
    file_write(f->db, text, sizeof(text) - 1);
    refused_unchanged(f, MD_ECORRUPT, "is corrupt: not a SQLite database; it was left as it is");
    file_write(f->db, "SQLite", 6); /* shorter than a header */
    refused_unchanged(f, MD_ECORRUPT, "not a SQLite database");
    /* Another program's database. */
    assert_int_equal(unlink(f->db), 0);
    sql_exec(f->db, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)");
    refused_unchanged(f, MD_ECORRUPT, "another program");
    /* An empty file is a new store. */
    assert_int_equal(unlink(f->db), 0);
    file_write(f->db, "", 0);
    reopen(f);
}

struct events_ctx {
    int n;
    int64_t at_ms;
};

static int run_many_events(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct events_ctx *c = ctx;
    char msg[64];

    for (int i = 0; i < c->n; i++) {
        struct md_store_event e = {0, c->at_ms + i, "m", "test", msg, "{}"};
        int rc;

        snprintf(msg, sizeof(msg), "event %d with some words to fill pages", i);
        rc = md_store_tx_event_add(tx, &e, NULL, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

static void test_corrupt(void **state)
{
    struct fx *f = *state;
    struct events_ctx c = {2000, 1000};
    struct md_err err;
    unsigned char junk[4096];
    int64_t pages;
    int fd;

    assert_int_equal(md_store_call(f->s, run_many_events, &c, &err), MD_OK);
    md_store_close(f->s);
    f->s = NULL;
    pages = sql_int(f->db, "PRAGMA page_count");
    assert_true(pages > 8);
    /* Garbage over a page in the middle of the events' tree. */
    memset(junk, 0x5a, sizeof(junk));
    fd = open(f->db, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), (pages / 2) * 4096), (ssize_t)sizeof(junk));
    close(fd);
    refused_unchanged(f, MD_ECORRUPT, "is corrupt: ");
    refused_unchanged(f, MD_ECORRUPT, "it was left as it is");
}

/* ------------------------------------------------------------- versions */

static void test_source_names(void **state)
{
    (void)state;
    assert_string_equal(md_store_source_name(MD_SOURCE_REPOSITORY), "repository");
    assert_string_equal(md_store_source_name(MD_SOURCE_UPLOAD), "upload");
    assert_string_equal(md_store_source_name(MD_SOURCE_TRAINING), "training");
    assert_string_equal(md_store_source_name(MD_SOURCE_SNAPSHOT), "snapshot");
    assert_int_equal(md_store_source_parse("repository"), MD_SOURCE_REPOSITORY);
    assert_int_equal(md_store_source_parse("upload"), MD_SOURCE_UPLOAD);
    assert_int_equal(md_store_source_parse("training"), MD_SOURCE_TRAINING);
    assert_int_equal(md_store_source_parse("snapshot"), MD_SOURCE_SNAPSHOT);
    assert_int_equal(md_store_source_parse("Upload"), 0);
    assert_int_equal(md_store_source_parse(""), 0);
    assert_int_equal(md_store_source_parse(NULL), 0);
}

struct archive {
    const char *model;
    int64_t number;
    bool archived;
};

static int run_archive(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct archive *a = ctx;

    return md_store_tx_version_archive(tx, a->model, a->number, a->archived, err);
}

static void test_versions(void **state)
{
    struct fx *f = *state;
    struct archive ar = {"m", 2, true};
    struct md_err err;
    struct vadd a;

    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 1);
    assert_int_equal(add_version(f->s, "m", 0, SHA_B, &err), 2);
    assert_int_equal(md_store_call(f->s, run_archive, &ar, &err), MD_OK);
    /* Archived versions count: the next is 3. */
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 3);
    /* A number given, beyond the others: the next allocation follows it. */
    assert_int_equal(add_version(f->s, "m", 7, SHA_A, &err), 7);
    assert_int_equal(add_version(f->s, "m", 5, SHA_A, &err), 5);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 8);
    assert_int_equal(add_version(f->s, "other", 3, SHA_B, &err), 3);
    assert_int_equal(add_version(f->s, "other", 0, SHA_B, &err), 4);
    /* Taken, whatever its sha256. */
    assert_int_equal(add_version(f->s, "m", 2, SHA_B, &err), MD_ECONFLICT);
    assert_string_equal(err.msg, "model 'm' has a version 2 already");
    assert_int_equal(add_version(f->s, "m", 2, SHA_A, &err), MD_ECONFLICT);

    assert_string_equal(list(f->s, run_versions, "m", 0),
                        "m/1 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n"
                        "m/2 bbbb 42 upload trees model.json {\"data\": \"d1\"} c archived\n"
                        "m/3 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n"
                        "m/5 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n"
                        "m/7 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n"
                        "m/8 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n");
    assert_string_equal(list(f->s, run_versions, "nobody", 0), "");
    assert_string_equal(list(f->s, run_version_get, "other", 4),
                        "other/4 bbbb 42 upload trees model.json {\"data\": \"d1\"} c\n");
    assert_string_equal(list(f->s, run_version_get, "m", 4),
                        "error -2: model 'm' has no version 4");
    assert_string_equal(list(f->s, run_version_get, "", 4), "error -1: model name is empty");

    /* Every model, by model then number. */
    ar.archived = false;
    assert_int_equal(md_store_call(f->s, run_archive, &ar, &err), MD_OK);
    {
        const char *all = list(f->s, run_versions, NULL, 0);

        assert_non_null(strstr(all, "m/2 bbbb 42 upload trees model.json {\"data\": \"d1\"} c\n"
                                    "m/3"));
        assert_non_null(strstr(all, "m/8 aaaa 42 upload trees model.json {\"data\": \"d1\"} c\n"
                                    "other/3 bbbb"));
    }
    ar.number = 9;
    assert_int_equal(md_store_call(f->s, run_archive, &ar, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'm' has no version 9");

    /* Defaults: metadata "{}", contract "", created_ms stamped. */
    a.v = version("d", 1, SHA_A);
    a.v.metadata = NULL;
    a.v.contract = NULL;
    a.v.contract_sha256 = NULL;
    a.v.source = MD_SOURCE_REPOSITORY;
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_OK);
    assert_string_equal(list(f->s, run_version_get, "d", 1),
                        "d/1 aaaa 42 repository trees model.json {} -\n");

    /* They survive a reopen. */
    reopen(f);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 9);
}

static void test_version_bad_input(void **state)
{
    struct fx *f = *state;
    struct md_err err;
    struct vadd a;
    char longname[MD_STORE_NAME_MAX + 2];

    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    a.v = version(longname, 0, SHA_A);
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 128 bytes"));
    a.v = version("m", 0, "AAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "is not 64 lower-case hex digits"));
    a.v = version("m", 0, "abc");
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    a.v = version("m", -1, SHA_A);
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    assert_string_equal(err.msg, "model 'm': version -1 is below 1");
    a.v = version("m", 0, SHA_A);
    a.v.size = -5;
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    a.v = version("m", 0, SHA_A);
    a.v.source = (enum md_store_source)9;
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    assert_string_equal(err.msg, "model 'm': source 9 is not a source");
    a.v = version("m", 0, SHA_A);
    a.v.engine = "";
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    assert_string_equal(err.msg, "engine name is empty");
    a.v = version("m", 0, SHA_A);
    a.v.artifact = NULL;
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    a.v = version("m", 0, SHA_A);
    a.v.contract_sha256 = "xyz";
    assert_int_equal(md_store_call(f->s, run_vadd, &a, &err), MD_EINVAL);
    /* None of those left anything. */
    assert_string_equal(list(f->s, run_versions, NULL, 0), "");
}

/* Threads allocating numbers at once never get the same one. */
struct allocator {
    struct md_store *s;
    int64_t got[20];
    int rc;
};

static void *allocate_many(void *arg)
{
    struct allocator *a = arg;
    struct md_err err;

    for (size_t i = 0; i < MD_ARRAY_LEN(a->got); i++) {
        a->got[i] = add_version(a->s, "race", 0, SHA_A, &err);
        if (a->got[i] < 0)
            a->rc = (int)a->got[i];
    }
    return NULL;
}

static void test_version_numbers_concurrent(void **state)
{
    struct fx *f = *state;
    struct allocator al[4];
    pthread_t th[4];
    bool seen[81] = {false};

    for (int i = 0; i < 4; i++) {
        memset(&al[i], 0, sizeof(al[i]));
        al[i].s = f->s;
        assert_int_equal(pthread_create(&th[i], NULL, allocate_many, &al[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(al[i].rc, MD_OK);
        for (int j = 0; j < 20; j++) {
            assert_true(al[i].got[j] >= 1 && al[i].got[j] <= 80);
            assert_false(seen[al[i].got[j]]);
            seen[al[i].got[j]] = true;
        }
    }
}

/* --------------------------------------------------------------- models */

struct model_put {
    const char *model;
    const char *contract;
};

static int run_model_put(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct model_put *m = ctx;

    return md_store_tx_model_put(tx, m->model, m->contract, err);
}

static void model_line(void *ctx, const char *model, const char *contract)
{
    text_add(ctx, "%s: %s\n", model, contract);
}

static int run_models(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_models(tx, model_line, &l->t, err);
}

static void test_models(void **state)
{
    struct fx *f = *state;
    struct model_put b = {"b", "v1"};
    struct model_put a = {"a", "one"};
    struct md_err err;

    /* A model that only has versions was not created through the API. */
    assert_int_equal(add_version(f->s, "c", 0, SHA_A, &err), 1);
    assert_int_equal(md_store_call(f->s, run_model_put, &b, &err), MD_OK);
    assert_int_equal(md_store_call(f->s, run_model_put, &a, &err), MD_OK);
    b.contract = "v2";
    assert_int_equal(md_store_call(f->s, run_model_put, &b, &err), MD_OK);
    assert_string_equal(list(f->s, run_models, NULL, 0), "a: one\nb: v2\n");
    /* Putting the contract of a model with versions keeps them. */
    a.model = "c";
    a.contract = "three";
    assert_int_equal(md_store_call(f->s, run_model_put, &a, &err), MD_OK);
    assert_string_equal(list(f->s, run_models, NULL, 0), "a: one\nb: v2\nc: three\n");
    assert_int_equal(add_version(f->s, "c", 0, SHA_A, &err), 2);
    a.contract = NULL;
    assert_int_equal(md_store_call(f->s, run_model_put, &a, &err), MD_EINVAL);
    assert_string_equal(err.msg, "the contract is missing");
    a.model = "";
    a.contract = "x";
    assert_int_equal(md_store_call(f->s, run_model_put, &a, &err), MD_EINVAL);
}

/* -------------------------------------------------------------- aliases */

struct alias_set {
    const char *model;
    const char *alias;
    int64_t version;
};

static int run_alias(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct alias_set *a = ctx;

    return md_store_tx_alias_set(tx, a->model, a->alias, a->version, err);
}

static void alias_line(void *ctx, const char *model, const char *alias, int64_t version)
{
    text_add(ctx, "%s %s=%lld\n", model, alias, (long long)version);
}

static int run_aliases(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_aliases(tx, l->model, alias_line, &l->t, err);
}

static int alias(struct md_store *s, const char *model, const char *name, int64_t version,
                 struct md_err *err)
{
    struct alias_set a = {model, name, version};

    return md_store_call(s, run_alias, &a, err);
}

static void test_aliases(void **state)
{
    struct fx *f = *state;
    struct md_err err;

    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 1);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 2);
    assert_int_equal(add_version(f->s, "a", 0, SHA_A, &err), 1);
    assert_int_equal(alias(f->s, "m", "champion", 1, &err), MD_OK);
    assert_int_equal(alias(f->s, "m", "candidate", 2, &err), MD_OK);
    assert_int_equal(alias(f->s, "a", "champion", 1, &err), MD_OK);
    /* Moved. */
    assert_int_equal(alias(f->s, "m", "champion", 2, &err), MD_OK);
    assert_string_equal(list(f->s, run_aliases, "m", 0), "m candidate=2\nm champion=2\n");
    assert_string_equal(list(f->s, run_aliases, NULL, 0),
                        "a champion=1\nm candidate=2\nm champion=2\n");
    /* To a version that does not exist: refused, the alias stays. */
    assert_int_equal(alias(f->s, "m", "champion", 7, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'm' has no version 7");
    assert_int_equal(alias(f->s, "zzz", "champion", 1, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'zzz' has no version 1");
    assert_int_equal(alias(f->s, "m", "champion", -3, &err), MD_EINVAL);
    assert_int_equal(alias(f->s, "m", "", 1, &err), MD_EINVAL);
    assert_string_equal(err.msg, "alias name is empty");
    /* Removed. */
    assert_int_equal(alias(f->s, "m", "candidate", 0, &err), MD_OK);
    assert_int_equal(alias(f->s, "m", "candidate", 0, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "alias 'candidate' of model 'm' does not exist");
    assert_string_equal(list(f->s, run_aliases, "m", 0), "m champion=2\n");
    reopen(f);
    assert_string_equal(list(f->s, run_aliases, NULL, 0), "a champion=1\nm champion=2\n");
}

/* ------------------------------------------------------------- policies */

struct policy_put {
    const char *model;
    const char *policy;
    int64_t expect;
    int64_t revision;
};

static int run_policy_put(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct policy_put *p = ctx;

    return md_store_tx_policy_put(tx, p->model, p->policy, p->expect, &p->revision, err);
}

static int64_t put_policy(struct md_store *s, const char *model, const char *policy, int64_t expect,
                          struct md_err *err)
{
    struct policy_put p = {model, policy, expect, -1};
    int rc = md_store_call(s, run_policy_put, &p, err);

    if (rc != MD_OK) {
        assert_int_equal(p.revision, 0);
        return rc;
    }
    return p.revision;
}

static void policy_line(void *ctx, const char *policy, int64_t revision, int64_t updated_ms)
{
    text_add(ctx, "%s r%lld %s\n", policy, (long long)revision, updated_ms > 0 ? "t" : "0");
}

static int run_policy_get(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_policy_get(tx, l->model, policy_line, &l->t, err);
}

static void policies_line(void *ctx, const char *model, const char *policy, int64_t revision,
                          int64_t updated_ms)
{
    text_add(ctx, "%s: ", model);
    policy_line(ctx, policy, revision, updated_ms);
}

static int run_policies(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_policies(tx, policies_line, &l->t, err);
}

static void test_policies(void **state)
{
    struct fx *f = *state;
    struct md_err err;

    assert_string_equal(list(f->s, run_policy_get, "m", 0), "error -2: model 'm' has no policy");
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 1}", 5, &err), MD_ECONFLICT);
    assert_string_equal(err.msg, "model 'm' has no policy yet, not one at revision 5");
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 1}", 0, &err), 1);
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 2}", 0, &err), MD_ECONFLICT);
    assert_string_equal(err.msg, "model 'm' has a policy already (revision 1)");
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 2}", 1, &err), 2);
    /* Two operators both replacing revision 2: the second is refused. */
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 3}", 2, &err), 3);
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 4}", 2, &err), MD_ECONFLICT);
    assert_string_equal(err.msg, "the policy of model 'm' is at revision 3, not 2");
    assert_string_equal(list(f->s, run_policy_get, "m", 0), "{\"a\": 3} r3 t\n");
    /* -1: whatever there is. */
    assert_int_equal(put_policy(f->s, "m", "{\"a\": 5}", -1, &err), 4);
    assert_int_equal(put_policy(f->s, "new", "{}", -1, &err), 1);
    assert_int_equal(put_policy(f->s, "m", "{}", -2, &err), MD_EINVAL);
    assert_int_equal(put_policy(f->s, "m", NULL, -1, &err), MD_EINVAL);
    assert_string_equal(list(f->s, run_policies, NULL, 0), "m: {\"a\": 5} r4 t\nnew: {} r1 t\n");
    reopen(f);
    assert_string_equal(list(f->s, run_policy_get, "m", 0), "{\"a\": 5} r4 t\n");
}

/* ----------------------------------------------------------- strategies */

struct strategy_op {
    const char *name;
    const char *strategy; /* NULL: delete */
};

static int run_strategy(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct strategy_op *o = ctx;

    if (o->strategy == NULL)
        return md_store_tx_strategy_delete(tx, o->name, err);
    return md_store_tx_strategy_put(tx, o->name, o->strategy, err);
}

static void strategy_line(void *ctx, const char *name, const char *strategy)
{
    text_add(ctx, "%s: %s\n", name, strategy);
}

static int run_strategies(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listing *l = ctx;

    return md_store_tx_strategies(tx, l->model, strategy_line, &l->t, err);
}

static void test_strategies(void **state)
{
    struct fx *f = *state;
    struct strategy_op o = {"canary", "{\"steps\": [5, 50]}"};
    struct md_err err;

    assert_int_equal(md_store_call(f->s, run_strategy, &o, &err), MD_OK);
    o.strategy = "{\"steps\": [5, 25, 50, 100]}";
    assert_int_equal(md_store_call(f->s, run_strategy, &o, &err), MD_OK);
    o.name = "bluegreen";
    o.strategy = "{}";
    assert_int_equal(md_store_call(f->s, run_strategy, &o, &err), MD_OK);
    assert_string_equal(list(f->s, run_strategies, NULL, 0),
                        "bluegreen: {}\ncanary: {\"steps\": [5, 25, 50, 100]}\n");
    assert_string_equal(list(f->s, run_strategies, "canary", 0),
                        "canary: {\"steps\": [5, 25, 50, 100]}\n");
    assert_string_equal(list(f->s, run_strategies, "nope", 0),
                        "error -2: strategy 'nope' does not exist");
    o.strategy = NULL;
    assert_int_equal(md_store_call(f->s, run_strategy, &o, &err), MD_OK);
    assert_int_equal(md_store_call(f->s, run_strategy, &o, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "strategy 'bluegreen' does not exist");
    o.name = "";
    assert_int_equal(md_store_call(f->s, run_strategy, &o, &err), MD_EINVAL);
    assert_string_equal(list(f->s, run_strategies, NULL, 0),
                        "canary: {\"steps\": [5, 25, 50, 100]}\n");
}

/* ------------------------------------------------- rollouts and decisions */

struct rollout_op {
    struct md_store_rollout r; /* add: r; update: r.id, phase, active, state, updated_ms */
    bool update;
    int64_t id;
};

static int run_rollout(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct rollout_op *o = ctx;

    if (o->update)
        return md_store_tx_rollout_update(tx, o->r.id, o->r.phase, o->r.active, o->r.state,
                                          o->r.updated_ms, err);
    return md_store_tx_rollout_add(tx, &o->r, &o->id, err);
}

static int64_t rollout_add(struct md_store *s, const char *model, int64_t candidate, bool active,
                           struct md_err *err)
{
    struct rollout_op o;
    int rc;

    memset(&o, 0, sizeof(o));
    o.r.model = model;
    o.r.candidate = candidate;
    o.r.phase = active ? "running" : "promoted";
    o.r.active = active;
    o.r.spec = "{\"steps\": [5, 50]}";
    o.r.state = "{\"step\": 0}";
    o.id = -1;
    rc = md_store_call(s, run_rollout, &o, err);
    if (rc != MD_OK) {
        assert_int_equal(o.id, 0);
        return rc;
    }
    return o.id;
}

static int rollout_update(struct md_store *s, int64_t id, const char *phase, bool active,
                          const char *state, struct md_err *err)
{
    struct rollout_op o;

    memset(&o, 0, sizeof(o));
    o.update = true;
    o.r.id = id;
    o.r.phase = phase;
    o.r.active = active;
    o.r.state = state;
    o.r.updated_ms = 5000;
    return md_store_call(s, run_rollout, &o, err);
}

static void rollout_line(void *ctx, const struct md_store_rollout *r)
{
    text_add(ctx, "%lld %s v%lld %s%s %s %s %s\n", (long long)r->id, r->model,
             (long long)r->candidate, r->phase, r->active ? " active" : "", r->spec, r->state,
             r->created_ms > 0 && r->updated_ms > 0 ? "t" : "0");
}

struct rollouts_q {
    const char *model;
    bool active_only;
    size_t limit;
    int64_t id;
    struct text t;
};

static int run_rollouts(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct rollouts_q *q = ctx;

    if (q->id != 0)
        return md_store_tx_rollout_get(tx, q->id, rollout_line, &q->t, err);
    return md_store_tx_rollouts(tx, q->model, q->active_only, q->limit, rollout_line, &q->t, err);
}

static const char *rollouts(struct md_store *s, const char *model, bool active_only, size_t limit,
                            int64_t id)
{
    static struct rollouts_q q;
    struct md_err err;
    int rc;

    memset(&q, 0, sizeof(q));
    q.model = model;
    q.active_only = active_only;
    q.limit = limit;
    q.id = id;
    rc = md_store_call(s, run_rollouts, &q, &err);
    if (rc != MD_OK)
        snprintf(q.t.buf, sizeof(q.t.buf), "error %d: %s", rc, err.msg);
    return q.t.buf;
}

struct decision_op {
    int64_t rollout;
    int64_t at_ms;
    const char *decision; /* NULL: list */
    struct text t;
};

static void decision_line(void *ctx, int64_t at_ms, const char *decision)
{
    text_add(ctx, "%lld %s\n", (long long)at_ms, decision);
}

static int run_decision(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct decision_op *d = ctx;

    if (d->decision == NULL)
        return md_store_tx_decisions(tx, d->rollout, decision_line, &d->t, err);
    return md_store_tx_decision_add(tx, d->rollout, d->at_ms, d->decision, err);
}

static void test_rollouts(void **state)
{
    struct fx *f = *state;
    struct decision_op d;
    struct md_err err;
    int64_t r1, r2, r3;

    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 1);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 2);
    assert_int_equal(add_version(f->s, "n", 0, SHA_A, &err), 1);
    assert_int_equal(rollout_add(f->s, "m", 3, true, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'm' has no version 3");
    assert_int_equal(rollout_add(f->s, "m", 0, true, &err), MD_EINVAL);
    r1 = rollout_add(f->s, "m", 2, true, &err);
    assert_true(r1 > 0);
    /* One active rollout per model. */
    assert_int_equal(rollout_add(f->s, "m", 2, true, &err), MD_ECONFLICT);
    assert_non_null(strstr(err.msg, "model 'm' has an active rollout already"));
    r2 = rollout_add(f->s, "n", 1, true, &err);
    assert_true(r2 > r1);
    r3 = rollout_add(f->s, "m", 1, false, &err); /* an old one, recorded inactive */
    assert_true(r3 > r2);
    assert_string_equal(rollouts(f->s, "m", false, 0, 0),
                        "3 m v1 promoted {\"steps\": [5, 50]} {\"step\": 0} t\n"
                        "1 m v2 running active {\"steps\": [5, 50]} {\"step\": 0} t\n");
    assert_string_equal(rollouts(f->s, NULL, true, 0, 0),
                        "2 n v1 running active {\"steps\": [5, 50]} {\"step\": 0} t\n"
                        "1 m v2 running active {\"steps\": [5, 50]} {\"step\": 0} t\n");
    assert_string_equal(rollouts(f->s, NULL, false, 1, 0),
                        "3 m v1 promoted {\"steps\": [5, 50]} {\"step\": 0} t\n");
    assert_string_equal(rollouts(f->s, NULL, false, 0, 2),
                        "2 n v1 running active {\"steps\": [5, 50]} {\"step\": 0} t\n");
    assert_string_equal(rollouts(f->s, NULL, false, 0, 99), "error -2: rollout 99 does not exist");

    /* Stepped, then ended: a new one can start. */
    assert_int_equal(rollout_update(f->s, r1, "running", true, "{\"step\": 1}", &err), MD_OK);
    assert_int_equal(rollout_update(f->s, r3, "running", true, "{}", &err), MD_ECONFLICT);
    assert_string_equal(err.msg,
                        "rollout 3 cannot be active: its model has another active rollout");
    assert_int_equal(rollout_update(f->s, r1, "rolled_back", false, "{\"step\": 1}", &err), MD_OK);
    assert_string_equal(rollouts(f->s, NULL, false, 0, r1),
                        "1 m v2 rolled_back {\"steps\": [5, 50]} {\"step\": 1} t\n");
    assert_true(rollout_add(f->s, "m", 2, true, &err) > r3);
    assert_int_equal(rollout_update(f->s, 77, "paused", true, "{}", &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "rollout 77 does not exist");
    assert_int_equal(rollout_update(f->s, r1, NULL, true, "{}", &err), MD_EINVAL);

    /* Decisions, in the order appended. */
    memset(&d, 0, sizeof(d));
    d.rollout = r1;
    d.at_ms = 20;
    d.decision = "{\"outcome\": \"advance\"}";
    assert_int_equal(md_store_call(f->s, run_decision, &d, &err), MD_OK);
    d.at_ms = 10;
    d.decision = "{\"outcome\": \"rollback\"}";
    assert_int_equal(md_store_call(f->s, run_decision, &d, &err), MD_OK);
    d.rollout = 99;
    assert_int_equal(md_store_call(f->s, run_decision, &d, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "rollout 99 does not exist");
    d.decision = NULL;
    assert_int_equal(md_store_call(f->s, run_decision, &d, &err), MD_ENOTFOUND);
    d.rollout = r1;
    assert_int_equal(md_store_call(f->s, run_decision, &d, &err), MD_OK);
    assert_string_equal(d.t.buf, "20 {\"outcome\": \"advance\"}\n10 {\"outcome\": \"rollback\"}\n");
    memset(&d.t, 0, sizeof(d.t));
    d.rollout = r2;
    assert_int_equal(md_store_call(f->s, run_decision, &d, &err), MD_OK);
    assert_string_equal(d.t.buf, "");
}

/* --------------------------------------------------------------- events */

struct event_q {
    struct md_store_event_filter f;
    struct text t;
    size_t n;
    int64_t last_id;
};

static void event_line(void *ctx, const struct md_store_event *e)
{
    struct event_q *q = ctx;

    q->n++;
    q->last_id = e->id;
    text_add(&q->t, "%lld %lld [%s] %s: %s %s\n", (long long)e->id, (long long)e->at_ms, e->model,
             e->kind, e->message, e->details);
}

static int run_events(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct event_q *q = ctx;

    return md_store_tx_events(tx, &q->f, event_line, q, err);
}

static struct event_q *events(struct md_store *s, const struct md_store_event_filter *f)
{
    static struct event_q q;
    struct md_err err;

    memset(&q, 0, sizeof(q));
    q.f = *f;
    assert_int_equal(md_store_call(s, run_events, &q, &err), MD_OK);
    return &q;
}

struct event_add {
    struct md_store_event e;
    int64_t id;
};

static int run_event_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct event_add *a = ctx;

    return md_store_tx_event_add(tx, &a->e, &a->id, err);
}

static int64_t event(struct md_store *s, int64_t at_ms, const char *model, const char *kind,
                     const char *message)
{
    struct event_add a = {{0, at_ms, model, kind, message, NULL}, 0};
    struct md_err err;

    assert_int_equal(md_store_call(s, run_event_add, &a, &err), MD_OK);
    assert_true(a.id > 0);
    return a.id;
}

/* ---------------------------------------------------------- predictions */

struct pred_add {
    const struct md_store_prediction *rows;
    size_t n;
};

static int run_pred_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct pred_add *a = ctx;

    return md_store_tx_predictions_add(tx, a->rows, a->n, err);
}

static void test_predictions_add(void **state)
{
    struct fx *f = *state;
    struct md_store_key keys[] = {{"txn", "t-1"}, {"user", "42"}};
    struct md_store_prediction rows[2];
    struct pred_add a = {rows, 2};
    struct md_err err;

    memset(rows, 0, sizeof(rows));
    rows[0] = (struct md_store_prediction){.request_id = "r1",
                                           .row = 0,
                                           .at_ms = 1000,
                                           .model = "m",
                                           .version = 3,
                                           .route = "stable",
                                           .status = 200,
                                           .latency_us = 120,
                                           .keys = "{\"txn\":\"t-1\",\"user\":42}",
                                           .key_list = keys,
                                           .n_keys = 2,
                                           .features = "{\"x\":1.5}",
                                           .label = "yes",
                                           .score = 0.75,
                                           .outputs = "{\"label\":\"yes\"}"};
    rows[1] = (struct md_store_prediction){.request_id = "r1",
                                           .row = 0,
                                           .model = "m",
                                           .version = 4,
                                           .route = "shadow",
                                           .shadow = true,
                                           .status = 200,
                                           .score = NAN};
    assert_int_equal(md_store_call(f->s, run_pred_add, &a, &err), MD_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions"), 2);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE score IS NULL"), 1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE at_ms > 1000"), 1);
    assert_int_equal(sql_int(f->db, "SELECT p.version FROM prediction_keys k JOIN predictions p "
                                    "ON p.id = k.prediction WHERE k.model = 'm' AND "
                                    "k.name = 'user' AND k.value = '42'"),
                     3);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM prediction_keys"), 2);

    /* A row without a request id: nothing of the batch is kept. */
    rows[1].request_id = "";
    assert_int_equal(md_store_call(f->s, run_pred_add, &a, &err), MD_EINVAL);
    assert_string_equal(err.msg, "a prediction row has no request id");
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions"), 2);
}

static void test_events(void **state)
{
    struct fx *f = *state;
    struct md_store_event_filter q;
    struct event_add bad = {{0, 1, "m", "", "x", "{}"}, 0};
    struct events_ctx many = {1100, 100000};
    struct md_err err;
    int64_t e1, e2, e3, e4;

    e1 = event(f->s, 100, "a", "version_registered", "a v1");
    e2 = event(f->s, 200, "b", "alias_moved", "b champion");
    e3 = event(f->s, 300, NULL, "server_started", "up");
    e4 = event(f->s, 400, "a", "alias_moved", "a champion");
    assert_true(e1 < e2 && e2 < e3 && e3 < e4);

    memset(&q, 0, sizeof(q));
    assert_string_equal(events(f->s, &q)->t.buf, "4 400 [a] alias_moved: a champion {}\n"
                                                 "3 300 [] server_started: up {}\n"
                                                 "2 200 [b] alias_moved: b champion {}\n"
                                                 "1 100 [a] version_registered: a v1 {}\n");
    q.model = "a";
    assert_string_equal(events(f->s, &q)->t.buf, "4 400 [a] alias_moved: a champion {}\n"
                                                 "1 100 [a] version_registered: a v1 {}\n");
    q.kind = "alias_moved";
    assert_string_equal(events(f->s, &q)->t.buf, "4 400 [a] alias_moved: a champion {}\n");
    q.model = NULL;
    assert_string_equal(events(f->s, &q)->t.buf, "4 400 [a] alias_moved: a champion {}\n"
                                                 "2 200 [b] alias_moved: b champion {}\n");
    q.model = ""; /* as NULL */
    q.kind = "";
    assert_int_equal(events(f->s, &q)->n, 4);
    q.kind = NULL;
    q.since_ms = 200;
    q.until_ms = 400;
    assert_string_equal(events(f->s, &q)->t.buf, "3 300 [] server_started: up {}\n"
                                                 "2 200 [b] alias_moved: b champion {}\n");
    /* Paging: two at a time, each page below the last id seen. */
    memset(&q, 0, sizeof(q));
    q.limit = 2;
    assert_string_equal(events(f->s, &q)->t.buf, "4 400 [a] alias_moved: a champion {}\n"
                                                 "3 300 [] server_started: up {}\n");
    q.before_id = 3;
    assert_string_equal(events(f->s, &q)->t.buf, "2 200 [b] alias_moved: b champion {}\n"
                                                 "1 100 [a] version_registered: a v1 {}\n");
    q.before_id = 1;
    assert_int_equal(events(f->s, &q)->n, 0);

    /* Limits: 100 by default, 1000 at most. */
    assert_int_equal(md_store_call(f->s, run_many_events, &many, &err), MD_OK);
    memset(&q, 0, sizeof(q));
    assert_int_equal(events(f->s, &q)->n, 100);
    q.limit = 5000;
    assert_int_equal(events(f->s, &q)->n, 1000);
    q.limit = 3;
    q.model = "m";
    q.kind = "test";
    assert_int_equal(events(f->s, &q)->n, 3);

    assert_int_equal(md_store_call(f->s, run_event_add, &bad, &err), MD_EINVAL);
    assert_string_equal(err.msg, "event kind name is empty");
    bad.e.kind = "k";
    bad.e.model = "";
    bad.e.at_ms = 0; /* stamped now */
    assert_int_equal(md_store_call(f->s, run_event_add, &bad, &err), MD_OK);
    assert_true(bad.id > e4);
    memset(&q, 0, sizeof(q));
    q.kind = "k";
    assert_true(events(f->s, &q)->n == 1);
    assert_non_null(strstr(events(f->s, &q)->t.buf, "[] k: x {}"));
}

/* ---------------------------------------------------------------- jobs */

/* A job that holds the store thread until released: later jobs queue meanwhile. */
struct hold {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool entered;
    bool released;
};

static void hold_init(struct hold *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cv, NULL);
}

static int run_hold(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct hold *h = ctx;

    (void)tx;
    (void)err;
    pthread_mutex_lock(&h->lock);
    h->entered = true;
    pthread_cond_broadcast(&h->cv);
    while (!h->released)
        pthread_cond_wait(&h->cv, &h->lock);
    pthread_mutex_unlock(&h->lock);
    return MD_OK;
}

static void hold_wait_entered(struct hold *h)
{
    pthread_mutex_lock(&h->lock);
    while (!h->entered)
        pthread_cond_wait(&h->cv, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

static void hold_release(struct hold *h)
{
    pthread_mutex_lock(&h->lock);
    h->released = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->lock);
}

/* Outcomes of submitted jobs, written by their done on the store thread. */
struct board {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int done;
    int codes[64];
    char msgs[64][256];
    int order[64]; /* which job finished n-th */
};

struct ticket {
    struct md_store_job job;
    struct board *b;
    int index;
    const char *message; /* the event it adds */
    int fail;            /* its run adds, then fails with this code */
    bool silent;         /* fails with no message */
};

static void board_init(struct board *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void board_wait(struct board *b, int n)
{
    pthread_mutex_lock(&b->lock);
    while (b->done < n)
        pthread_cond_wait(&b->cv, &b->lock);
    pthread_mutex_unlock(&b->lock);
}

static int run_ticket(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct ticket *t = ctx;
    struct md_store_event e = {0, 1, "g", "group", t->message, "{}"};
    int rc = md_store_tx_event_add(tx, &e, NULL, err);

    if (rc != MD_OK)
        return rc;
    if (t->fail != 0)
        return t->silent ? t->fail : md_err_set(err, t->fail, "job %d refused", t->index);
    return MD_OK;
}

static void done_ticket(void *ctx, int code, const struct md_err *err)
{
    struct ticket *t = ctx;
    struct board *b = t->b;

    pthread_mutex_lock(&b->lock);
    b->codes[t->index] = code;
    snprintf(b->msgs[t->index], sizeof(b->msgs[0]), "%s", err != NULL ? err->msg : "(null)");
    b->order[b->done++] = t->index;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->lock);
}

static void ticket_init(struct ticket *t, struct board *b, int index, const char *message)
{
    memset(t, 0, sizeof(*t));
    t->b = b;
    t->index = index;
    t->message = message;
    t->job.run = run_ticket;
    t->job.done = done_ticket;
    t->job.ctx = t;
}

/* The hold job's done: its ctx is the hold, and nothing waits for it. */
static void done_hold(void *ctx, int code, const struct md_err *err)
{
    (void)ctx;
    (void)code;
    (void)err;
}

/* A barrier whose done holds the store thread, outside any transaction. */
static void done_hold_wait(void *ctx, int code, const struct md_err *err)
{
    (void)code;
    (void)err;
    run_hold(NULL, ctx, NULL);
}

static void hold_in_done(struct md_store *s, struct hold *h, struct md_store_job *t)
{
    hold_init(h);
    memset(t, 0, sizeof(*t));
    t->done = done_hold_wait;
    t->ctx = h;
    md_store_submit(s, t);
    hold_wait_entered(h);
}

/* Submits a hold job (t) and returns once the store thread is inside it. */
static void hold_submit(struct md_store *s, struct hold *h, struct md_store_job *t)
{
    hold_init(h);
    memset(t, 0, sizeof(*t));
    t->run = run_hold;
    t->done = done_hold;
    t->ctx = h;
    md_store_submit(s, t);
    hold_wait_entered(h);
}

static void test_failing_job_undone_alone(void **state)
{
    struct fx *f = *state;
    struct md_store_event_filter q;
    struct md_store_info before, after;
    struct md_store_job hold_t;
    struct ticket t[4];
    struct board b;
    struct hold h;

    board_init(&b);
    md_store_get_info(f->s, &before);
    hold_submit(f->s, &h, &hold_t);
    ticket_init(&t[0], &b, 0, "a");
    ticket_init(&t[1], &b, 1, "b");
    t[1].fail = MD_EINVAL;
    ticket_init(&t[2], &b, 2, "c");
    ticket_init(&t[3], &b, 3, "d");
    t[3].fail = MD_ECONFLICT;
    t[3].silent = true;
    for (int i = 0; i < 4; i++)
        md_store_submit(f->s, &t[i].job);
    hold_release(&h);
    board_wait(&b, 4);
    /* In submission order, after the one commit. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(b.order[i], i);
    assert_int_equal(b.codes[0], MD_OK);
    assert_int_equal(b.codes[1], MD_EINVAL);
    assert_string_equal(b.msgs[1], "job 1 refused");
    assert_int_equal(b.codes[2], MD_OK);
    assert_int_equal(b.codes[3], MD_ECONFLICT);
    assert_non_null(strstr(b.msgs[3], "a store job failed"));
    md_store_get_info(f->s, &after);
    /* The hold wrote nothing; the group of four committed once. */
    assert_int_equal(after.commits - before.commits, 1);
    assert_int_equal(after.jobs - before.jobs, 5);
    assert_int_equal(after.failed_commits, 0);
    memset(&q, 0, sizeof(q));
    q.kind = "group";
    assert_string_equal(events(f->s, &q)->t.buf, "2 1 [g] group: c {}\n1 1 [g] group: a {}\n");
}

/*
 * Failures that end the whole transaction, simulated through the
 * connection itself: a run that rolls everything back (as SQLite may on a
 * full disk or an I/O error), and a commit that fails (a deferred foreign
 * key broken). No job is told MD_OK for a change that was not stored.
 */
static int run_kill_tx(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)ctx;
    if (sqlite3_exec(tx->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        return md_err_set(err, MD_EINTERNAL, "test: rollback failed");
    return md_err_set(err, MD_EIO, "disk full (simulated)");
}

static int run_break_commit(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)ctx;
    if (sqlite3_exec(tx->db,
                     "PRAGMA defer_foreign_keys = ON; INSERT INTO aliases (model, alias, version, "
                     "updated_ms) VALUES ('nobody', 'x', 1, 0)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return md_err_set(err, MD_EINTERNAL, "test: %s", sqlite3_errmsg(tx->db));
    return MD_OK;
}

static void test_transaction_lost(void **state)
{
    struct fx *f = *state;
    struct md_store_info before, after;
    struct md_store_event_filter q;
    struct md_store_job hold_t;
    struct ticket t[5];
    struct board b;
    struct hold h;

    board_init(&b);
    md_store_get_info(f->s, &before);
    hold_submit(f->s, &h, &hold_t);
    ticket_init(&t[0], &b, 0, "a");
    ticket_init(&t[1], &b, 1, "b");
    t[1].job.run = run_kill_tx;
    ticket_init(&t[2], &b, 2, "c");
    for (int i = 0; i < 3; i++)
        md_store_submit(f->s, &t[i].job);
    hold_release(&h);
    board_wait(&b, 3);
    assert_int_equal(b.codes[0], MD_EIO);
    assert_string_equal(b.msgs[0], "nothing was stored: disk full (simulated)");
    assert_int_equal(b.codes[1], MD_EIO);
    assert_string_equal(b.msgs[1], "disk full (simulated)");
    assert_int_equal(b.codes[2], MD_OK); /* in a transaction of its own */

    hold_submit(f->s, &h, &hold_t);
    ticket_init(&t[3], &b, 3, "d");
    ticket_init(&t[4], &b, 4, "e");
    t[4].job.run = run_break_commit;
    md_store_submit(f->s, &t[3].job);
    md_store_submit(f->s, &t[4].job);
    hold_release(&h);
    board_wait(&b, 5);
    assert_int_equal(b.codes[3], MD_EIO);
    assert_int_equal(b.codes[4], MD_EIO);
    assert_non_null(strstr(b.msgs[3], "nothing was stored: the store cannot commit: "));
    assert_non_null(strstr(b.msgs[4], "FOREIGN KEY"));
    md_store_get_info(f->s, &after);
    assert_int_equal(after.failed_commits - before.failed_commits, 2);
    assert_int_equal(after.commits - before.commits, 1);
    memset(&q, 0, sizeof(q));
    q.kind = "group";
    assert_string_equal(events(f->s, &q)->t.buf, "1 1 [g] group: c {}\n");
    /* And the store goes on. */
    assert_int_equal(event(f->s, 5, "g", "group", "after") > 0, 1);
}

struct submitter {
    struct md_store *s;
    struct board *b;
    struct ticket t[8];
    int base;
};

static void *submit_many(void *arg)
{
    struct submitter *w = arg;

    for (int i = 0; i < 8; i++) {
        ticket_init(&w->t[i], w->b, w->base + i, "many");
        md_store_submit(w->s, &w->t[i].job);
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    struct submitter w[4];
    struct md_store_info before, after;
    struct md_store_event_filter q;
    struct md_store_job hold_t;
    struct board b;
    struct hold h;
    pthread_t th[4];

    board_init(&b);
    md_store_get_info(f->s, &before);
    /* The store thread held while four threads submit 32 jobs. */
    hold_submit(f->s, &h, &hold_t);
    for (int i = 0; i < 4; i++) {
        w[i].s = f->s;
        w[i].b = &b;
        w[i].base = 8 * i;
        assert_int_equal(pthread_create(&th[i], NULL, submit_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    hold_release(&h);
    board_wait(&b, 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(b.codes[i], MD_OK);
    md_store_get_info(f->s, &after);
    assert_int_equal(after.jobs - before.jobs, 33);
    assert_int_equal(after.commits - before.commits, 1);
    memset(&q, 0, sizeof(q));
    q.kind = "group";
    assert_int_equal(events(f->s, &q)->n, 32);

    /* Without a hold, threads calling at once still share commits. */
    {
        struct allocator al[4];

        md_store_get_info(f->s, &before);
        for (int i = 0; i < 4; i++) {
            memset(&al[i], 0, sizeof(al[i]));
            al[i].s = f->s;
            assert_int_equal(pthread_create(&th[i], NULL, allocate_many, &al[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            assert_int_equal(al[i].rc, MD_OK);
        }
        md_store_get_info(f->s, &after);
        assert_int_equal(after.jobs - before.jobs, 80);
        assert_true(after.commits - before.commits <= 80);
        assert_true(after.commits - before.commits >= 1);
    }
}

/* A barrier (run NULL) is done after every job submitted before it. */
static void test_barrier_and_order(void **state)
{
    struct fx *f = *state;
    struct md_store_job hold_t;
    struct ticket t[3];
    struct board b;
    struct hold h;
    struct md_err err;

    board_init(&b);
    hold_submit(f->s, &h, &hold_t);
    ticket_init(&t[0], &b, 0, "x");
    ticket_init(&t[1], &b, 1, NULL);
    t[1].job.run = NULL;
    ticket_init(&t[2], &b, 2, "y");
    for (int i = 0; i < 3; i++)
        md_store_submit(f->s, &t[i].job);
    hold_release(&h);
    board_wait(&b, 3);
    assert_int_equal(b.order[0], 0);
    assert_int_equal(b.order[1], 1);
    assert_int_equal(b.order[2], 2);
    assert_int_equal(b.codes[1], MD_OK);
    /* md_store_call with no run: a barrier too. */
    assert_int_equal(md_store_call(f->s, NULL, NULL, &err), MD_OK);
}

static int run_refuse(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)tx;
    (void)ctx;
    return md_err_set(err, MD_ENOTFOUND, "nothing here");
}

struct reentry {
    struct md_store *s;
    int rc;
    struct md_err err;
};

static int run_reenter(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct reentry *r = ctx;

    (void)tx;
    (void)err;
    r->rc = md_store_call(r->s, run_refuse, NULL, &r->err);
    return MD_OK;
}

static void test_call_errors(void **state)
{
    struct fx *f = *state;
    struct reentry r;
    struct md_err err;

    assert_int_equal(md_store_call(f->s, run_refuse, NULL, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "nothing here");
    assert_int_equal(md_store_call(f->s, run_refuse, NULL, NULL), MD_ENOTFOUND);
    /* From inside a run: refused rather than waiting forever. */
    memset(&r, 0, sizeof(r));
    r.s = f->s;
    assert_int_equal(md_store_call(f->s, run_reenter, &r, &err), MD_OK);
    assert_int_equal(r.rc, MD_EINTERNAL);
    assert_non_null(strstr(r.err.msg, "store thread"));
}

/* Another process holds the write lock: the group fails with MD_EUNAVAIL, then works again. */
static void test_locked_by_another(void **state)
{
    struct fx *f = *state;
    struct md_store_info info;
    struct md_err err;
    sqlite3 *db = NULL;

    struct md_store_job hold_t;
    struct ticket t[3];
    struct board b;
    struct hold h;
    int64_t t0;

    md_store_close(f->s);
    f->s = NULL;
    md_store__busy_ms = 400;
    reopen(f);
    md_store__busy_ms = 5000;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), MD_EUNAVAIL);
    assert_non_null(strstr(err.msg, "locked"));
    /* A group of three waits for the lock once, not three times (1200 ms). */
    board_init(&b);
    hold_in_done(f->s, &h, &hold_t);
    for (int i = 0; i < 3; i++) {
        ticket_init(&t[i], &b, i, "locked out");
        md_store_submit(f->s, &t[i].job);
    }
    t0 = now_ms();
    hold_release(&h);
    board_wait(&b, 3);
    assert_true(now_ms() - t0 < 1000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b.codes[i], MD_EUNAVAIL);
        assert_non_null(strstr(b.msgs[i], "locked"));
    }
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(add_version(f->s, "m", 0, SHA_A, &err), 1);
    md_store_get_info(f->s, &info);
    assert_int_equal(info.failed_commits, 0);

    /* A process that keeps the file to itself: the store does not open, and says which file. */
    md_store_close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
                                  "SELECT count(*) FROM versions",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    md_store__busy_ms = 50;
    refused_unchanged(f, MD_EUNAVAIL, "locked");
    md_store__busy_ms = 5000;
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    reopen(f);
}

struct closer {
    struct md_store *s;
};

static void *close_store(void *arg)
{
    struct closer *c = arg;

    md_store_close(c->s);
    return NULL;
}

/* Barriers submitted to learn when close has begun: queued before, refused after. */
#define PROBES 5000

struct probes {
    pthread_mutex_t lock;
    int queued_done; /* done with MD_OK: queued before close, run by the thread */
    int refused;     /* done with MD_EUNAVAIL, inside md_store_submit */
    char msg[256];
    struct md_store_job jobs[PROBES];
};

static void done_probe(void *ctx, int code, const struct md_err *err)
{
    struct probes *p = ctx;

    pthread_mutex_lock(&p->lock);
    if (code == MD_EUNAVAIL) {
        p->refused++;
        snprintf(p->msg, sizeof(p->msg), "%s", err->msg);
    } else if (code == MD_OK) {
        p->queued_done++;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Close runs what was queued before it; what comes after is refused at once. */
static void test_close_with_jobs(void **state)
{
    struct fx *f = *state;
    static struct probes pr;
    struct md_store_job hold_t;
    struct ticket queued, late;
    struct md_store_event_filter q;
    struct closer c = {f->s};
    struct board b;
    struct hold h;
    pthread_t th;
    int n = 0;
    bool refused = false;

    board_init(&b);
    memset(&pr, 0, sizeof(pr));
    pthread_mutex_init(&pr.lock, NULL);
    hold_submit(f->s, &h, &hold_t);
    ticket_init(&queued, &b, 0, "queued");
    md_store_submit(f->s, &queued.job);
    assert_int_equal(pthread_create(&th, NULL, close_store, &c), 0);
    /* Poll (bounded) until close has begun: a probe is then refused at once. */
    while (!refused && n < PROBES) {
        pr.jobs[n].done = done_probe;
        pr.jobs[n].ctx = &pr;
        md_store_submit(f->s, &pr.jobs[n]);
        n++;
        pthread_mutex_lock(&pr.lock);
        refused = pr.refused > 0;
        assert_int_equal(pr.queued_done, 0); /* the thread is held */
        pthread_mutex_unlock(&pr.lock);
        if (!refused)
            usleep(2000);
    }
    assert_true(refused);
    assert_int_equal(pr.refused, 1);
    assert_string_equal(pr.msg, "the store is closed");
    ticket_init(&late, &b, 1, "late");
    md_store_submit(f->s, &late.job);
    pthread_mutex_lock(&b.lock);
    assert_int_equal(b.done, 1);
    assert_int_equal(b.codes[1], MD_EUNAVAIL);
    pthread_mutex_unlock(&b.lock);
    hold_release(&h);
    assert_int_equal(pthread_join(th, NULL), 0);
    f->s = NULL;
    assert_int_equal(b.done, 2);
    assert_int_equal(b.codes[0], MD_OK);
    assert_int_equal(pr.queued_done, n - 1);
    reopen(f);
    memset(&q, 0, sizeof(q));
    q.kind = "group";
    assert_string_equal(events(f->s, &q)->t.buf, "1 1 [g] group: queued {}\n");
}

/* ------------------------------------------------------------ artifacts */

/* Writes data to a new temporary file of the store; its path into path. */
static void tmp_with(struct md_store *s, const char *data, char *path, size_t n)
{
    struct md_err err;
    int fd = -1;

    assert_int_equal(md_store_artifact_tmp(s, path, n, &fd, &err), MD_OK);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static void test_artifacts(void **state)
{
    struct fx *f = *state;
    char tmp[256], tmp2[256], path[256], sha[65], want[256];
    struct md_err err;
    struct stat st;
    char *got;
    size_t n;
    int fd;

    tmp_with(f->s, "artifact one", tmp, sizeof(tmp));
    snprintf(want, sizeof(want), "%s/artifacts/tmp/", f->dir);
    assert_memory_equal(tmp, want, strlen(want));
    sha256_hex("artifact one", 12, sha);
    assert_int_equal(md_store_artifact_put(f->s, tmp, sha, &err), MD_OK);
    assert_int_equal(md_store_artifact_path(f->s, sha, path, sizeof(path), &err), MD_OK);
    snprintf(want, sizeof(want), "%s/artifacts/%.2s/%s", f->dir, sha, sha);
    assert_string_equal(path, want);
    got = (char *)file_bytes(path, &n);
    assert_int_equal(n, 12);
    assert_memory_equal(got, "artifact one", 12);
    free(got);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0444);
    assert_int_equal(access(tmp, F_OK), -1);
    /* The same bytes again: the stored one is kept, the temporary file goes. */
    tmp_with(f->s, "artifact one", tmp2, sizeof(tmp2));
    assert_string_not_equal(tmp, tmp2);
    assert_int_equal(md_store_artifact_put(f->s, tmp2, sha, &err), MD_OK);
    assert_int_equal(access(tmp2, F_OK), -1);
    assert_int_equal(access(path, R_OK), 0);

    /* Bad input. */
    tmp_with(f->s, "x", tmp, sizeof(tmp));
    assert_int_equal(md_store_artifact_put(f->s, tmp, "ABC", &err), MD_EINVAL);
    assert_string_equal(err.msg, "sha256 'ABC' is not 64 lower-case hex digits");
    assert_int_equal(access(tmp, F_OK), 0);
    snprintf(tmp2, sizeof(tmp2), "%s/artifacts/tmp/missing", f->dir);
    assert_int_equal(md_store_artifact_put(f->s, tmp2, SHA_A, &err), MD_EIO);
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    snprintf(tmp2, sizeof(tmp2), "%s/artifacts", f->dir);
    assert_int_equal(md_store_artifact_put(f->s, tmp2, SHA_A, &err), MD_EINVAL);
    assert_int_equal(md_store_artifact_path(f->s, "zz", path, sizeof(path), &err), MD_EINVAL);
    assert_int_equal(md_store_artifact_path(f->s, sha, path, 20, &err), MD_EINVAL);
    assert_int_equal(md_store_artifact_tmp(f->s, path, 20, &fd, &err), MD_EINVAL);
    assert_int_equal(fd, -1);
    assert_int_equal(unlink(tmp), 0);
}

static void test_sweep(void **state)
{
    struct fx *f = *state;
    char tmp[256], kept[256], gone[256], other[256], sha_kept[65], sha_gone[65];
    struct md_err err;

    /* Nothing to sweep in a new store. */
    assert_int_equal(md_store_artifact_sweep(f->s), 0);
    sha256_hex("kept", 4, sha_kept);
    sha256_hex("gone", 4, sha_gone);
    tmp_with(f->s, "kept", tmp, sizeof(tmp));
    assert_int_equal(md_store_artifact_put(f->s, tmp, sha_kept, &err), MD_OK);
    assert_int_equal(add_version(f->s, "m", 0, sha_kept, &err), 1);
    tmp_with(f->s, "gone", tmp, sizeof(tmp));
    assert_int_equal(md_store_artifact_put(f->s, tmp, sha_gone, &err), MD_OK);
    /* A crash left a temporary file; an operator left a note. */
    tmp_with(f->s, "half an upload", tmp, sizeof(tmp));
    snprintf(other, sizeof(other), "%s/artifacts/README", f->dir);
    file_write(other, "notes", 5);
    assert_int_equal(md_store_artifact_path(f->s, sha_kept, kept, sizeof(kept), &err), MD_OK);
    assert_int_equal(md_store_artifact_path(f->s, sha_gone, gone, sizeof(gone), &err), MD_OK);

    assert_int_equal(md_store_artifact_sweep(f->s), 2);
    assert_int_equal(access(kept, F_OK), 0);
    assert_int_equal(access(gone, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(other, F_OK), 0);
    /* An archived version still names its artifact. */
    {
        struct archive ar = {"m", 1, true};

        assert_int_equal(md_store_call(f->s, run_archive, &ar, &err), MD_OK);
    }
    assert_int_equal(md_store_artifact_sweep(f->s), 0);
    assert_int_equal(access(kept, F_OK), 0);
}

/* ----------------------------------------------------------------- crash */

#define CRASH_THREADS 4
#define CRASH_ACKS    300 /* acknowledged changes before the kill */

struct crash_step {
    int thread;
    int seq;
    int64_t event;
    int64_t revision;
    int64_t version;
};

static int run_crash_step(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct crash_step *c = ctx;
    char model[32], msg[32], sha[65];
    struct md_store_version v;
    struct md_store_event e;
    int rc;

    snprintf(model, sizeof(model), "m%d", c->thread);
    snprintf(msg, sizeof(msg), "t%d-%d", c->thread, c->seq);
    snprintf(sha, sizeof(sha), "%064x", (unsigned)(c->thread * 1000000 + c->seq));
    memset(&e, 0, sizeof(e));
    e.model = model;
    e.kind = "crash";
    e.message = msg;
    rc = md_store_tx_event_add(tx, &e, &c->event, err);
    if (rc == MD_OK)
        rc = md_store_tx_policy_put(tx, model, msg, -1, &c->revision, err);
    if (rc == MD_OK) {
        v = version(model, 0, sha);
        rc = md_store_tx_version_add(tx, &v, &c->version, err);
    }
    return rc;
}

struct crash_writer {
    struct md_store *s;
    int thread;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void *crash_writer(void *arg)
{
    struct crash_writer *w = arg;
    int64_t until = now_ms() + 60000; /* never reached: the test kills us first */

    for (int seq = 1; now_ms() < until; seq++) {
        struct crash_step c = {w->thread, seq, 0, 0, 0};
        struct md_err err;

        if (md_store_call(w->s, run_crash_step, &c, &err) != MD_OK) {
            fprintf(stderr, "crash child: %s\n", err.msg);
            exit(3);
        }
        /* One line per write(2), flushed: a line read is a change acknowledged. */
        pthread_mutex_lock(&out_lock);
        printf("ack %d %d %lld %lld %lld\n", c.thread, c.seq, (long long)c.event,
               (long long)c.revision, (long long)c.version);
        fflush(stdout);
        pthread_mutex_unlock(&out_lock);
    }
    return NULL;
}

/* The child: a stream of changes from several threads until it is killed. */
static int crash_child(const char *dir)
{
    struct crash_writer w[CRASH_THREADS];
    pthread_t th[CRASH_THREADS];
    struct md_store *s;
    struct md_err err;

    if (md_store_open(dir, &s, &err) != MD_OK) {
        fprintf(stderr, "crash child: %s\n", err.msg);
        return 2;
    }
    for (int i = 0; i < CRASH_THREADS; i++) {
        w[i].s = s;
        w[i].thread = i;
        if (pthread_create(&th[i], NULL, crash_writer, &w[i]) != 0)
            return 2;
    }
    for (int i = 0; i < CRASH_THREADS; i++)
        pthread_join(th[i], NULL);
    md_store_close(s);
    return 0;
}

struct crash_check {
    struct crash_step *acks;
    size_t n;
    size_t missing;
    char first_missing[128];
};

static void crash_event(void *ctx, const struct md_store_event *e)
{
    char *msg = ctx;

    snprintf(msg, 32, "%s", e->message);
}

static void crash_policy(void *ctx, const char *policy, int64_t revision, int64_t updated_ms)
{
    (void)policy;
    (void)updated_ms;
    *(int64_t *)ctx = revision;
}

static void crash_version(void *ctx, const struct md_store_version *v)
{
    snprintf(ctx, 65, "%s", v->sha256);
}

static void crash_miss(struct crash_check *c, const struct crash_step *a, const char *what)
{
    if (c->missing++ == 0)
        snprintf(c->first_missing, sizeof(c->first_missing), "t%d-%d: %s", a->thread, a->seq, what);
}

static int run_crash_check(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct crash_check *c = ctx;

    for (size_t i = 0; i < c->n; i++) {
        const struct crash_step *a = &c->acks[i];
        struct md_store_event_filter q;
        char model[32], want[32], msg[32] = "", sha[65] = "", want_sha[65];
        int64_t revision = 0;
        int rc;

        snprintf(model, sizeof(model), "m%d", a->thread);
        snprintf(want, sizeof(want), "t%d-%d", a->thread, a->seq);
        snprintf(want_sha, sizeof(want_sha), "%064x", (unsigned)(a->thread * 1000000 + a->seq));
        memset(&q, 0, sizeof(q));
        q.before_id = a->event + 1;
        q.limit = 1;
        rc = md_store_tx_events(tx, &q, crash_event, msg, err);
        if (rc != MD_OK)
            return rc;
        if (strcmp(msg, want) != 0)
            crash_miss(c, a, "event");
        rc = md_store_tx_policy_get(tx, model, crash_policy, &revision, err);
        if (rc != MD_OK)
            return rc;
        if (revision < a->revision)
            crash_miss(c, a, "policy revision");
        rc = md_store_tx_version_get(tx, model, a->version, crash_version, sha, err);
        if (rc != MD_OK && rc != MD_ENOTFOUND)
            return rc;
        if (strcmp(sha, want_sha) != 0)
            crash_miss(c, a, "version");
    }
    return MD_OK;
}

/* Parses the child's "ack" lines in buf (len bytes; a last partial line is ignored). */
static size_t parse_acks(const char *buf, size_t len, struct crash_step *acks, size_t max)
{
    size_t n = 0;
    const char *p = buf;
    const char *end = buf + len;

    while (p < end && n < max) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        long long ev, rev, ver;
        int th, seq;

        if (nl == NULL)
            break;
        if (sscanf(p, "ack %d %d %lld %lld %lld", &th, &seq, &ev, &rev, &ver) == 5) {
            acks[n].thread = th;
            acks[n].seq = seq;
            acks[n].event = ev;
            acks[n].revision = rev;
            acks[n].version = ver;
            n++;
        }
        p = nl + 1;
    }
    return n;
}

static size_t count_lines(const char *buf, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

static void test_crash(void **state)
{
    struct fx *f = *state;
    static char buf[1 << 20];
    static struct crash_step acks[20000];
    struct crash_check check;
    posix_spawn_file_actions_t fa;
    char self[512];
    char *argv[4];
    size_t len = 0;
    int64_t deadline;
    struct md_err err;
    int pipefd[2], status;
    ssize_t got;
    pid_t pid;

    md_store_close(f->s);
    f->s = NULL;
    got = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(got > 0);
    self[got] = '\0';
    argv[0] = self;
    argv[1] = (char *)"--crash-child";
    argv[2] = f->dir;
    argv[3] = NULL;
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO), 0);
    assert_int_equal(posix_spawn_file_actions_addclose(&fa, pipefd[0]), 0);
    assert_int_equal(posix_spawn(&pid, self, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);

    /* Read until enough changes are acknowledged (bounded), then kill it mid-stream. */
    deadline = now_ms() + 60000;
    while (count_lines(buf, len) < CRASH_ACKS && now_ms() < deadline) {
        struct pollfd p = {pipefd[0], POLLIN, 0};

        if (poll(&p, 1, 100) <= 0)
            continue;
        got = read(pipefd[0], buf + len, sizeof(buf) - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    /* What it printed before it died counts too. */
    while ((got = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)got;
    close(pipefd[0]);

    memset(&check, 0, sizeof(check));
    check.acks = acks;
    check.n = parse_acks(buf, len, acks, MD_ARRAY_LEN(acks));
    assert_true(check.n >= CRASH_ACKS);
    reopen(f);
    assert_int_equal(md_store_call(f->s, run_crash_check, &check, &err), MD_OK);
    if (check.missing != 0)
        fail_msg("%zu of %zu acknowledged changes lost, first %s", check.missing, check.n,
                 check.first_missing);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test(test_source_names),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_numbers_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strategies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_predictions_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_job_undone_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_by_another, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
    };

    md_log_set_level(MD_LOG_OFF);
    if (argc == 3 && strcmp(argv[1], "--crash-child") == 0)
        return crash_child(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--open-as-nobody") == 0)
        return open_as_nobody(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
