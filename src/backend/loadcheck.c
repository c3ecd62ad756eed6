/* SPDX-License-Identifier: MIT */
/*
 * loadcheck.c: both sides of a load check (see loadcheck.h): the daemon's,
 * which puts the artifact in a memory file, runs the helper under limits and
 * reads its verdict; and the helper's, which loads and predicts.
 */
#include "backend/loadcheck.h"
#include "backend/registry.h"
#include "util/mem.h"
#include "util/spawn.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Engine options passed to a helper, at most. */
#define MAX_OPTIONS 32

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static char *config_exe; /* under config_lock; NULL: off */
static unsigned config_timeout_ms = MD_LOADCHECK_TIMEOUT_S * 1000;
static size_t config_memory = (size_t)MD_LOADCHECK_MEMORY_MB << 20;
static bool in_helper; /* set once by md_loadcheck_main, before any thread */

void md_loadcheck_configure(const struct md_loadcheck_config *c)
{
    pthread_mutex_lock(&config_lock);
    free(config_exe);
    config_exe = c->exe != NULL ? md_xstrdup(c->exe) : NULL;
    config_timeout_ms = c->timeout_ms;
    config_memory = c->memory_bytes;
    pthread_mutex_unlock(&config_lock);
}

/* ------------------------------------------------------------------ the daemon's side */

/* A memory file holding buf[0..len), at offset 0; -1 with err set. */
static int memory_file(const char *buf, size_t len, struct md_err *err)
{
    char ebuf[128];
    size_t done = 0;
    int fd = memfd_create("modeld-artifact", MFD_CLOEXEC);

    if (fd < 0) {
        md_err_set(err, MD_EINTERNAL, "load check: cannot make a memory file: %s",
                   strerror_r(errno, ebuf, sizeof(ebuf)));
        return -1;
    }
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            md_err_set(err, MD_EINTERNAL, "load check: cannot write a memory file: %s",
                       n < 0 ? strerror_r(errno, ebuf, sizeof(ebuf)) : "no room");
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        md_err_set(err, MD_EINTERNAL, "load check: cannot rewind a memory file");
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * The helper's verdict from what it wrote: MD_OK for "ok", its code and
 * message for "error CODE MESSAGE"; false when it wrote neither.
 */
static bool verdict(const char *out, int *rc, struct md_err *err)
{
    char *end;
    long code;
    size_t n;

    if (strncmp(out, "ok\n", 3) == 0) {
        *rc = MD_OK;
        return true;
    }
    if (strncmp(out, "error ", 6) != 0)
        return false;
    errno = 0;
    code = strtol(out + 6, &end, 10);
    if (errno != 0 || end == out + 6 || *end != ' ' || code >= 0 || code < MD_ECODE_MIN)
        return false;
    n = strcspn(end + 1, "\n");
    *rc = md_err_set(err, (int)code, "%.*s", (int)n, end + 1);
    return true;
}

int md_loadcheck_run(const char *engine, const char *buf, size_t len,
                     const struct md_backend_config *cfg, struct md_err *err)
{
    struct md_spawn_limits lim;
    struct md_spawn_result res;
    char *argv[MAX_OPTIONS + 4];
    char how[128];
    char *exe;
    size_t n_opt = cfg != NULL ? cfg->n_options : 0;
    size_t argc = 0;
    size_t i;
    int fd;
    int rc;

    if (in_helper)
        return MD_OK;
    memset(&lim, 0, sizeof(lim));
    pthread_mutex_lock(&config_lock);
    exe = config_exe != NULL ? md_xstrdup(config_exe) : NULL;
    lim.timeout_ms = config_timeout_ms;
    lim.memory_bytes = config_memory;
    pthread_mutex_unlock(&config_lock);
    if (exe == NULL)
        return MD_OK;
    if (n_opt > MAX_OPTIONS) {
        free(exe);
        return md_err_set(err, MD_EINVAL, "engine options: %zu, more than %d", n_opt, MAX_OPTIONS);
    }
    fd = memory_file(buf, len, err);
    if (fd < 0) {
        free(exe);
        return MD_EINTERNAL;
    }
    argv[argc++] = exe;
    argv[argc++] = md_xstrdup("--load-check");
    argv[argc++] = md_xstrdup(engine);
    for (i = 0; i < n_opt; i++) {
        const char *v = cfg->options[i].value != NULL ? cfg->options[i].value : "";
        size_t size = strlen(cfg->options[i].key) + strlen(v) + 2;

        argv[argc] = md_xmalloc(size);
        (void)snprintf(argv[argc++], size, "%s=%s", cfg->options[i].key, v); /* sized to fit */
    }
    argv[argc] = NULL;
    rc = md_spawn_run(exe, argv, fd, &lim, &res, err);
    close(fd);
    for (i = 0; i < argc; i++)
        free(argv[i]);
    if (rc != MD_OK) {
        md_err_prefix(err, "%s load check: ", engine);
        return rc;
    }
    if (res.end == MD_SPAWN_EXITED && (res.status == 0 || res.status == 1) &&
        verdict(res.out, &rc, err))
        return rc;
    md_spawn_describe(&res, &lim, how, sizeof(how));
    switch (res.end) {
    case MD_SPAWN_SIGNALED:
        return md_err_set(err, MD_ECORRUPT, "%s load check: the helper process %s", engine, how);
    case MD_SPAWN_TIMEOUT:
        return md_err_set(err, MD_ETIMEDOUT,
                          "%s load check: the helper process %s (--load-timeout)", engine, how);
    case MD_SPAWN_MEMORY:
        return md_err_set(err, MD_ENOMEM, "%s load check: the helper process %s (--load-memory-mb)",
                          engine, how);
    case MD_SPAWN_EXITED:
    default:
        return md_err_set(err, MD_EINTERNAL, "%s load check: the helper process %s: %.80s", engine,
                          how, res.out_len > 0 ? res.out : "no output");
    }
}

/* ------------------------------------------------------------------ the helper's side */

/* Writes the verdict on stdout; returns the exit status. */
static int report(int rc, const struct md_err *err)
{
    if (rc == MD_OK)
        printf("ok\n");
    else
        printf("error %d %s\n", rc, err->msg[0] != '\0' ? err->msg : md_strerror(rc));
    return fflush(stdout) == 0 && rc == MD_OK ? 0 : 1;
}

/* Predicts a row of NaNs and a row of zeros with a loaded instance. */
static int probe(const struct md_backend_ops *ops, void *inst, struct md_err *err)
{
    struct md_backend_desc d;
    float *row;
    float *out;
    size_t i;
    int rc;

    memset(&d, 0, sizeof(d));
    ops->describe(inst, &d);
    row = md_malloc((d.n_features + 1) * sizeof(*row));
    out = md_malloc((d.n_outputs + 1) * sizeof(*out));
    if (row == NULL || out == NULL) {
        free(row);
        free(out);
        return md_err_set(err, MD_ENOMEM, "no memory for a row of %zu features", d.n_features);
    }
    for (i = 0; i < d.n_features; i++)
        row[i] = NAN;
    rc = ops->predict(inst, row, 1, out, err);
    if (rc == MD_OK) {
        memset(row, 0, d.n_features * sizeof(*row));
        rc = ops->predict(inst, row, 1, out, err);
    }
    free(row);
    free(out);
    return rc;
}

int md_loadcheck_main(int argc, char **argv)
{
    struct md_kv opts[MAX_OPTIONS];
    struct md_backend_config cfg = {opts, 0};
    const struct md_backend_ops *ops;
    struct md_err err;
    void *inst = NULL;
    int i;
    int rc;

    in_helper = true;
    md_err_clear(&err);
    /* The daemon waits for the helper; should the daemon die, so does the helper. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argc < 1 || argc - 1 > MAX_OPTIONS) {
        fprintf(stderr, "usage: modeld --load-check ENGINE [KEY=VALUE...] < ARTIFACT\n");
        return 2;
    }
    ops = md_backend_find(argv[0]);
    if (ops == NULL)
        return report(
            md_err_set(&err, MD_EINVAL, "backend '%s' is not one this build has", argv[0]), &err);
    for (i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (eq == NULL) {
            fprintf(stderr, "modeld --load-check: '%s' is not KEY=VALUE\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        opts[cfg.n_options].key = argv[i];
        opts[cfg.n_options++].value = eq + 1;
    }
    /* The artifact is a memory file on stdin; opening it anew starts at its first byte. */
    rc = ops->load("/proc/self/fd/0", &cfg, &inst, &err);
    if (rc == MD_OK)
        rc = probe(ops, inst, &err);
    if (inst != NULL)
        ops->free(inst);
    return report(rc, &err);
}
