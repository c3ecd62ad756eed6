/* SPDX-License-Identifier: MIT */
/*
 * audit.c: the audit log's key at start (read from its file, handed to the
 * store, never logged) and the offline check of a store's chain, `modeld
 * audit verify`.
 */
#include "control/audit.h"
#include "util/keyfile.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int md_audit_start(struct md_store *store, const char *key_file, bool *on, struct md_err *err)
{
    char key_id[MD_AUDIT_KEY_ID_MAX];
    char *key = NULL;
    size_t len = 0;
    int rc;

    *on = false;
    if (key_file == NULL) {
        md_log(MD_LOG_WARN, "the audit log is off: no --audit-key-file, so changes and automatic "
                            "decisions are not recorded");
        return MD_OK;
    }
    rc = md_keyfile_read(key_file, MD_AUDIT_KEY_MAX, &key, &len, err);
    if (rc != MD_OK) {
        md_err_prefix(err, "--audit-key-file: ");
        return rc;
    }
    rc = md_store_audit_key(store, key, len, key_id, err);
    md_keyfile_free(key, len);
    if (rc != MD_OK) {
        md_err_prefix(err, "--audit-key-file '%s': ", key_file);
        return rc;
    }
    *on = true;
    md_log_kv(MD_LOG_INFO, "the audit log is on", "key_id", key_id, MD_KV_END);
    return MD_OK;
}

/* ---- retention ---------------------------------------------------------------- */

struct retention_job {
    struct md_store_job job;
    char action[64];
    char details[96];
};

static int run_retention(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct retention_job *j = ctx;

    return md_store_tx_audit_decision(tx, "control:retention", j->action, NULL, "ok", j->details,
                                      err);
}

static void retention_done(void *ctx, int code, const struct md_err *err)
{
    struct retention_job *j = ctx;

    if (code != MD_OK)
        md_log_kv(MD_LOG_ERROR, "a retention step's audit entry was not stored", "action",
                  j->action, "reason", err->msg, MD_KV_END);
    free(j);
}

void md_audit_retention(struct md_store *store, const char *action, uint64_t removed,
                        uint64_t trimmed)
{
    struct retention_job *j;

    if (store == NULL || (removed == 0 && trimmed == 0))
        return;
    j = md_xcalloc(1, sizeof(*j));
    (void)snprintf(j->action, sizeof(j->action), "%s", action);
    (void)snprintf(j->details, sizeof(j->details), "{\"removed\":%llu,\"trimmed\":%llu}",
                   (unsigned long long)removed, (unsigned long long)trimmed);
    j->job.run = run_retention;
    j->job.done = retention_done;
    j->job.ctx = j;
    md_store_submit(store, &j->job);
}

/* ---- modeld audit verify ------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: modeld audit verify --data DIR --audit-key-file FILE\n"
               "  checks the audit chain of the store in DIR with the key in FILE;\n"
               "  exit status 0 intact, 1 broken (the first bad entry is named), 2 error\n");
}

static int run_verify(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_audit_verify(tx, ctx, err);
}

/* Opens the store in dir with the key, checks it: 0, 1 or 2 as md_audit_main. */
static int verify(const char *dir, const char *key_file)
{
    struct md_store_audit_check c;
    struct md_store *s = NULL;
    struct md_err err;
    bool on = false;
    char db[4096];
    int rc;

    /* A check never makes a store: the directory must hold one. */
    (void)snprintf(db, sizeof(db), "%s/modeld.db", dir);
    if (access(db, F_OK) != 0) {
        fprintf(stderr, "modeld audit verify: no store in '%s' (%s)\n", dir, strerror(errno));
        return 2;
    }
    if (md_store_open(dir, &s, &err) != MD_OK) {
        fprintf(stderr, "modeld audit verify: %s\n", err.msg);
        return 2;
    }
    rc = md_audit_start(s, key_file, &on, &err);
    if (rc == MD_OK)
        rc = md_store_call(s, run_verify, &c, &err);
    md_store_close(s);
    if (rc != MD_OK) {
        fprintf(stderr, "modeld audit verify: %s\n", err.msg);
        return 2;
    }
    if (c.ok) {
        printf("audit chain intact: %lld entries (key %s)\n", (long long)c.entries, c.key_id);
        return 0;
    }
    printf("audit chain broken at entry %lld: %s\n", (long long)c.first_bad, c.reason);
    return 1;
}

int md_audit_main(int argc, char **argv)
{
    const char *dir = NULL;
    const char *key_file = NULL;
    int i;

    if (argc < 1 || strcmp(argv[0], "verify") != 0) {
        if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "modeld audit: %s\n",
                argc < 1 ? "missing the command (verify)" : "unknown command; the one is verify");
        usage(stderr);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        const char **to = strcmp(argv[i], "--data") == 0             ? &dir
                          : strcmp(argv[i], "--audit-key-file") == 0 ? &key_file
                                                                     : NULL;

        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (to == NULL || i + 1 >= argc) {
            fprintf(stderr, "modeld audit verify: %s '%s'\n",
                    to == NULL ? "unknown option" : "missing the value of", argv[i]);
            usage(stderr);
            return 2;
        }
        *to = argv[++i];
    }
    if (dir == NULL || key_file == NULL) {
        fprintf(stderr, "modeld audit verify: %s is required\n",
                dir == NULL ? "--data" : "--audit-key-file");
        usage(stderr);
        return 2;
    }
    md_log_set_level(MD_LOG_OFF);
    return verify(dir, key_file);
}
