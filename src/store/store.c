/* SPDX-License-Identifier: MIT */
/*
 * store.c: the store's public half: opening the data directory, the job
 * queue and the store thread that runs the jobs in groups (one transaction,
 * a savepoint per job, one commit with a sync, then every job's done), the
 * counters, and the artifact directory (files addressed by sha256, put in
 * place with fsync and rename, swept of what no version names). The
 * database file itself is sqlite.c's.
 */
#include "store/store.h"
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_FILE      "modeld.db"
#define ARTIFACT_DIR "artifacts"
#define TMP_DIR      "tmp"
#define DIR_MODE     0700
#define SHA256_HEX   64

/* One job's outcome, kept by the store thread between its run and its done. */
struct outcome {
    struct md_store_job *job;
    int code;
    struct md_err err;
};

struct md_store {
    char *dir;                    /* the data directory */
    char *db_path;                /* <dir>/modeld.db */
    char *art_dir;                /* <dir>/artifacts */
    char *tmp_dir;                /* <dir>/artifacts/tmp */
    struct md_store_tx *tx;       /* the connection: the store thread's once it runs */
    struct md_store__facts facts; /* read back from the database at open; then constant */

    pthread_t thread;
    bool started;              /* the thread runs */
    pthread_mutex_t lock;      /* guards head, tail, closing */
    pthread_cond_t wake;       /* a job was queued, or closing */
    struct md_store_job *head; /* jobs waiting, oldest first */
    struct md_store_job *tail;
    bool closing;

    struct outcome *out; /* store thread: one per job of the group being run */
    size_t out_cap;

    _Atomic uint64_t commits;
    _Atomic uint64_t jobs;
    _Atomic uint64_t failed_commits;

    struct md_store__crypt *crypt; /* encryption at rest (sqlite_crypt.c); NULL: none */
};

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = md_xmalloc(n);

    (void)snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Creates directory path unless it exists; MD_EIO naming it otherwise. */
static int make_dir(const char *path, bool *created, struct md_err *err)
{
    struct stat st;

    if (created != NULL)
        *created = false;
    if (mkdir(path, DIR_MODE) == 0) {
        if (created != NULL)
            *created = true;
        return MD_OK;
    }
    if (errno != EEXIST)
        return md_err_set(err, MD_EIO, "cannot create the directory %s: %s", path, strerror(errno));
    if (stat(path, &st) != 0)
        return md_err_set(err, MD_EIO, "cannot read the directory %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return md_err_set(err, MD_EIO, "cannot use %s as a directory: %s", path, strerror(ENOTDIR));
    return MD_OK;
}

/* Syncs directory path, so that a name created or renamed in it lasts. */
static int sync_dir(const char *path, struct md_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = MD_OK;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "cannot open the directory %s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        rc = md_err_set(err, MD_EIO, "cannot sync the directory %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_sha256(const char *s)
{
    size_t i;

    if (s == NULL)
        return false;
    for (i = 0; i < SHA256_HEX; i++)
        if (!is_hex(s[i]))
            return false;
    return s[SHA256_HEX] == '\0';
}

/* ----------------------------------------------------------- the thread */

/* Makes room for n outcomes. */
static void reserve(struct md_store *s, size_t n)
{
    if (n <= s->out_cap)
        return;
    s->out_cap = n < 2 * s->out_cap ? 2 * s->out_cap : n;
    s->out = md_xrealloc(s->out, s->out_cap * sizeof(*s->out));
}

/* The transaction holding jobs first .. last - 1 is gone: those that had succeeded fail with why.
 */
static void lost(struct md_store *s, size_t first, size_t last, const struct md_err *why)
{
    atomic_fetch_add_explicit(&s->failed_commits, 1, memory_order_relaxed);
    for (size_t i = first; i < last; i++) {
        struct outcome *o = &s->out[i];

        if (o->job->run == NULL || o->code != MD_OK)
            continue;
        o->code = MD_EIO;
        md_err_set(&o->err, MD_EIO, "nothing was stored: %s", why->msg);
    }
}

/* Jobs from .. n - 1 (but barriers) fail as why did, with its message. */
static void refuse_rest(struct md_store *s, size_t from, size_t n, const struct outcome *why)
{
    for (size_t i = from; i < n; i++) {
        struct outcome *o = &s->out[i];

        if (o->job->run == NULL)
            continue;
        atomic_fetch_add_explicit(&s->jobs, 1, memory_order_relaxed);
        o->code = why->code;
        o->err = why->err;
    }
}

/* Runs one job inside the open transaction, in a savepoint of its own. */
static void run_job(struct md_store *s, struct outcome *o)
{
    struct md_store_job *job = o->job;
    int rc = md_store__db_savepoint(s->tx, &o->err);

    if (rc == MD_OK) {
        rc = job->run(s->tx, job->ctx, &o->err);
        if (rc > 0)
            rc = MD_EINTERNAL;
        if (rc == MD_OK) {
            rc = md_store__db_release(s->tx, &o->err);
        } else if (md_store__db_in_tx(s->tx) && md_store__db_undo(s->tx, NULL) != MD_OK) {
            /* Its changes cannot be undone alone: the whole group goes. */
            md_store__db_rollback(s->tx);
        }
    }
    o->code = rc;
    if (rc != MD_OK && o->err.code == MD_OK)
        md_err_set(&o->err, rc, "a store job failed: %s", md_strerror(rc));
    if (rc != MD_OK)
        o->err.code = rc;
}

/*
 * Runs a group of jobs in one transaction (a new one when a failure ended
 * it early), commits, then calls each job's done in order.
 */
static void run_group(struct md_store *s, struct md_store_job *batch)
{
    size_t n = 0;
    size_t first = 0;
    bool open = false;

    for (struct md_store_job *j = batch; j != NULL; j = j->next)
        n++;
    reserve(s, n);
    n = 0;
    for (struct md_store_job *j = batch; j != NULL; j = j->next) {
        s->out[n].job = j;
        s->out[n].code = MD_OK;
        md_err_clear(&s->out[n].err);
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        struct outcome *o = &s->out[i];

        if (o->job->run == NULL)
            continue; /* a barrier */
        atomic_fetch_add_explicit(&s->jobs, 1, memory_order_relaxed);
        if (!open) {
            o->code = md_store__db_begin(s->tx, &o->err);
            if (o->code != MD_OK) {
                /* Locked by another process past the busy timeout, or worse:
                 * the rest of the group fails alike, without waiting again. */
                refuse_rest(s, i + 1, n, o);
                break;
            }
            open = true;
            first = i;
        }
        run_job(s, o);
        if (!md_store__db_in_tx(s->tx)) {
            /* A failure (a full disk, an I/O error) ended the transaction. */
            lost(s, first, i, &o->err);
            open = false;
        }
    }
    if (open) {
        struct md_err cerr;
        bool synced = false;

        md_err_clear(&cerr);
        if (md_store__db_commit(s->tx, &synced, &cerr) != MD_OK)
            lost(s, first, n, &cerr);
        else if (synced)
            atomic_fetch_add_explicit(&s->commits, 1, memory_order_relaxed);
    }
    for (size_t i = 0; i < n; i++) {
        struct outcome *o = &s->out[i];

        /* After done the job may be gone: nothing of it is read past this call. */
        o->job->done(o->job->ctx, o->code, &o->err);
    }
}

static void *store_main(void *arg)
{
    struct md_store *s = arg;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct md_store_job *batch;

        while (s->head == NULL && !s->closing)
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->head == NULL)
            break;
        batch = s->head;
        s->head = NULL;
        s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
        run_group(s, batch);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* -------------------------------------------------------- open, close */

int md_store_open(const char *dir, struct md_store **out, struct md_err *err)
{
    struct md_store *s;
    int rc;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return md_err_set(err, MD_EINVAL, "the data directory is not set");
    rc = make_dir(dir, NULL, err);
    if (rc != MD_OK)
        return rc;
    if (access(dir, R_OK | W_OK | X_OK) != 0)
        return md_err_set(err, MD_EIO, "the data directory %s cannot be written: %s", dir,
                          strerror(errno));
    s = md_xcalloc(1, sizeof(*s));
    s->dir = md_xstrdup(dir);
    s->db_path = join(dir, DB_FILE);
    s->art_dir = join(dir, ARTIFACT_DIR);
    s->tmp_dir = join(s->art_dir, TMP_DIR);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    atomic_init(&s->commits, 0);
    atomic_init(&s->jobs, 0);
    atomic_init(&s->failed_commits, 0);
    rc = md_store__db_open(s->db_path, &s->tx, &s->facts, err);
    if (rc == MD_OK)
        rc = make_dir(s->art_dir, NULL, err);
    if (rc == MD_OK)
        rc = make_dir(s->tmp_dir, NULL, err);
    if (rc == MD_OK && pthread_create(&s->thread, NULL, store_main, s) != 0)
        rc = md_err_set(err, MD_EINTERNAL, "the store cannot start its thread");
    if (rc != MD_OK) {
        md_store_close(s);
        return rc;
    }
    s->started = true;
    *out = s;
    return MD_OK;
}

void md_store_close(struct md_store *s)
{
    if (s == NULL)
        return;
    md_store__crypt_stop(s->crypt); /* a rotation's thread submits jobs: it ends first */
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->closing = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    md_store__db_close(s->tx);
    md_store__crypt_free(s->crypt);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->out);
    free(s->dir);
    free(s->db_path);
    free(s->art_dir);
    free(s->tmp_dir);
    free(s);
}

const struct md_store__crypt *md_store__crypt_get(struct md_store *s)
{
    return s->crypt;
}

void md_store__crypt_set(struct md_store *s, struct md_store__crypt *c)
{
    s->crypt = c;
}

/* --------------------------------------------------------------- jobs */

void md_store_submit(struct md_store *s, struct md_store_job *job)
{
    bool was_empty;

    job->next = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->closing) {
        struct md_err err;

        pthread_mutex_unlock(&s->lock);
        md_err_set(&err, MD_EUNAVAIL, "the store is closed");
        job->done(job->ctx, MD_EUNAVAIL, &err);
        return;
    }
    was_empty = s->head == NULL;
    if (s->tail != NULL)
        s->tail->next = job;
    else
        s->head = job;
    s->tail = job;
    /* The thread waits only when the queue is empty. */
    if (was_empty)
        pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* A caller of md_store_call waiting for its job. */
struct call {
    int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err);
    void *ctx;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool finished; /* under lock */
    int code;
    struct md_err err;
};

static int call_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct call *c = ctx;

    return c->run(tx, c->ctx, err);
}

static void call_done(void *ctx, int code, const struct md_err *err)
{
    struct call *c = ctx;

    pthread_mutex_lock(&c->lock);
    c->code = code;
    if (code != MD_OK && err != NULL)
        c->err = *err;
    c->finished = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->lock);
}

int md_store_call(struct md_store *s,
                  int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err), void *ctx,
                  struct md_err *err)
{
    struct md_store_job job;
    struct call c;

    if (s->started && pthread_equal(pthread_self(), s->thread))
        return md_err_set(err, MD_EINTERNAL,
                          "md_store_call on the store thread would wait forever");
    memset(&c, 0, sizeof(c));
    c.run = run;
    c.ctx = ctx;
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cv, NULL);
    job.run = run != NULL ? call_run : NULL;
    job.done = call_done;
    job.ctx = &c;
    job.next = NULL;
    md_store_submit(s, &job);
    pthread_mutex_lock(&c.lock);
    while (!c.finished)
        pthread_cond_wait(&c.cv, &c.lock);
    pthread_mutex_unlock(&c.lock);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.lock);
    if (c.code != MD_OK) {
        if (err != NULL)
            *err = c.err;
        return c.code;
    }
    return MD_OK;
}

void md_store_get_info(struct md_store *s, struct md_store_info *out)
{
    out->backend = s->facts.backend;
    out->location = s->db_path;
    out->schema = s->facts.schema;
    out->journal_mode = s->facts.journal_mode;
    out->synchronous = s->facts.synchronous;
    out->commits = atomic_load_explicit(&s->commits, memory_order_relaxed);
    out->jobs = atomic_load_explicit(&s->jobs, memory_order_relaxed);
    out->failed_commits = atomic_load_explicit(&s->failed_commits, memory_order_relaxed);
}

int md_store_checkpoint(struct md_store *s, struct md_store_checkpoint *out, struct md_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!s->started || !pthread_equal(pthread_self(), s->thread))
        return md_err_set(err, MD_EINTERNAL, "a checkpoint off the store's thread");
    return md_store__db_checkpoint(s->tx, out, err);
}

const char *md_store_dir(struct md_store *s)
{
    return s->dir;
}

/* ---------------------------------------------------------- artifacts */

int md_store_artifact_path(struct md_store *s, const char *sha256, char *path, size_t n,
                           struct md_err *err)
{
    int len;

    if (!is_sha256(sha256))
        return md_err_set(err, MD_EINVAL, "sha256 '%.80s' is not 64 lower-case hex digits",
                          sha256 != NULL ? sha256 : "");
    len = snprintf(path, n, "%s/%.2s/%s", s->art_dir, sha256, sha256);
    if (len < 0 || (size_t)len >= n)
        return md_err_set(err, MD_EINVAL, "the artifact's path does not fit in %zu bytes", n);
    return MD_OK;
}

int md_store_artifact_tmp(struct md_store *s, char *path, size_t n, int *fd, struct md_err *err)
{
    int len = snprintf(path, n, "%s/upload-XXXXXX", s->tmp_dir);

    *fd = -1;
    if (len < 0 || (size_t)len >= n)
        return md_err_set(err, MD_EINVAL, "a temporary file's path does not fit in %zu bytes", n);
    *fd = mkostemp(path, O_CLOEXEC);
    if (*fd < 0)
        return md_err_set(err, MD_EIO, "cannot create a temporary file in %s: %s", s->tmp_dir,
                          strerror(errno));
    return MD_OK;
}

/* Syncs the file at path to disk and makes it read-only. */
static int seal_file(const char *path, struct md_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc = MD_OK;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fchmod(fd, 0444) != 0)
        rc = md_err_set(err, MD_EIO, "cannot make %s read-only: %s", path, strerror(errno));
    else if (fsync(fd) != 0)
        rc = md_err_set(err, MD_EIO, "cannot sync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int md_store_artifact_put(struct md_store *s, const char *tmp_path, const char *sha256,
                          struct md_err *err)
{
    char final[4096];
    char *sub;
    bool created;
    struct stat st;
    int rc;

    rc = md_store_artifact_path(s, sha256, final, sizeof(final), err);
    if (rc != MD_OK)
        return rc;
    if (lstat(tmp_path, &st) != 0)
        return md_err_set(err, MD_EIO, "cannot store the artifact %s: %s", tmp_path,
                          strerror(errno));
    if (!S_ISREG(st.st_mode))
        return md_err_set(err, MD_EINVAL, "cannot store the artifact %s: not a regular file",
                          tmp_path);
    sub = md_xstrndup(final, strlen(s->art_dir) + 3);
    rc = make_dir(sub, &created, err);
    if (rc == MD_OK && created)
        rc = sync_dir(s->art_dir, err);
    if (rc == MD_OK && lstat(final, &st) == 0) {
        /* Stored already (the same bytes, by their hash): keep that one. */
        if (unlink(tmp_path) != 0)
            md_log_kv(MD_LOG_WARN, "cannot remove a temporary file", "path", tmp_path, "reason",
                      strerror(errno), MD_KV_END);
        free(sub);
        return MD_OK;
    }
    if (rc == MD_OK)
        rc = seal_file(tmp_path, err);
    if (rc == MD_OK && rename(tmp_path, final) != 0)
        rc = md_err_set(err, MD_EIO, "cannot move %s to %s: %s", tmp_path, final, strerror(errno));
    if (rc == MD_OK)
        rc = sync_dir(sub, err);
    free(sub);
    return rc;
}

/* ---------------------------------------------------------------- sweep */

/* A stored artifact the sweep found, and whether a version names it. */
struct found {
    char sha256[SHA256_HEX + 1];
    bool named;
};

struct sweep {
    struct found *files;
    size_t n;
    size_t cap;
};

static int sweep_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct sweep *w = ctx;

    for (size_t i = 0; i < w->n; i++) {
        int rc = md_store__sha_named(tx, w->files[i].sha256, &w->files[i].named, err);

        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* Removes name from directory dir (an open descriptor), logging it; whether it went. */
static bool remove_at(int dir, const char *dir_path, const char *name, const char *why)
{
    char path[4096];

    (void)snprintf(path, sizeof(path), "%s/%s", dir_path, name);
    if (unlinkat(dir, name, 0) != 0) {
        md_log_kv(MD_LOG_WARN, "cannot remove a file of the artifact store", "path", path, "reason",
                  strerror(errno), MD_KV_END);
        return false;
    }
    md_log_kv(MD_LOG_INFO, why, "path", path, MD_KV_END);
    return true;
}

/* Removes every file of the temporary directory; how many went. */
static size_t sweep_tmp(struct md_store *s)
{
    DIR *d = opendir(s->tmp_dir);
    struct dirent *e;
    size_t removed = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (remove_at(dirfd(d), s->tmp_dir, e->d_name, "removed a temporary file left by a crash"))
            removed++;
    }
    closedir(d);
    return removed;
}

/* Lists the artifact files of subdirectory sub (two hex digits) into w. */
static void list_sub(struct md_store *s, const char *sub, struct sweep *w)
{
    char *path = join(s->art_dir, sub);
    DIR *d = opendir(path);
    struct dirent *e;

    free(path);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (!is_sha256(e->d_name) || memcmp(e->d_name, sub, 2) != 0)
            continue;
        if (w->n == w->cap) {
            w->cap = w->cap != 0 ? 2 * w->cap : 64;
            w->files = md_xrealloc(w->files, w->cap * sizeof(*w->files));
        }
        memcpy(w->files[w->n].sha256, e->d_name, SHA256_HEX + 1);
        w->files[w->n].named = true; /* until the store says otherwise */
        w->n++;
    }
    closedir(d);
}

/* A subdirectory of the artifacts: two lower-case hex digits. */
static bool is_sub(const char *name)
{
    return is_hex(name[0]) && is_hex(name[1]) && name[2] == '\0';
}

size_t md_store_artifact_sweep(struct md_store *s)
{
    struct sweep w = {NULL, 0, 0};
    struct md_err err;
    size_t removed = sweep_tmp(s);
    DIR *d = opendir(s->art_dir);
    struct dirent *e;

    if (d == NULL)
        return removed;
    while ((e = readdir(d)) != NULL)
        if (is_sub(e->d_name))
            list_sub(s, e->d_name, &w);
    closedir(d);
    if (w.n > 0 && md_store_call(s, sweep_run, &w, &err) != MD_OK) {
        /* Without the records, nothing is known to be unnamed: keep everything. */
        md_log_kv(MD_LOG_WARN, "the artifact store was not swept", "reason", err.msg, MD_KV_END);
        w.n = 0;
    }
    for (size_t i = 0; i < w.n; i++) {
        char sub[3];
        char *dir;
        int fd;

        if (w.files[i].named)
            continue;
        memcpy(sub, w.files[i].sha256, 2);
        sub[2] = '\0';
        dir = join(s->art_dir, sub);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            if (remove_at(fd, dir, w.files[i].sha256, "removed an artifact no version names"))
                removed++;
            close(fd);
        }
        free(dir);
    }
    free(w.files);
    return removed;
}
