/* SPDX-License-Identifier: MIT */
/*
 * store_int.h: what store.c (the job queue, the store thread, group commit,
 * the artifact directory) asks of the database file's implementation
 * (sqlite.c): open and check a database, run one transaction with a
 * savepoint per job, commit it with a sync. The connection is the
 * transaction handle the md_store_tx_* functions of store.h take. A second
 * database (PostgreSQL) would fill these same functions; nothing here names
 * SQLite.
 */
#ifndef MD_STORE_STORE_INT_H
#define MD_STORE_STORE_INT_H

#include "store/store.h"

/*
 * How long a transaction waits for another process's lock before it fails
 * with MD_EUNAVAIL, in ms (5000); read at open. Tests shorten it.
 */
extern int md_store__busy_ms;

/* What the open database says about itself, read back from it. */
struct md_store__facts {
    const char *backend;   /* "sqlite" */
    int schema;            /* the schema of the file */
    char journal_mode[16]; /* "wal" */
    char synchronous[16];  /* "full" */
};

/*
 * Opens the database file at path (created when absent), checks it (a
 * database, not damaged, ours, a schema this release reads) before writing
 * anything, then sets it up and applies the migrations it lacks. Errors as
 * md_store_open says; on failure the file is left as it was. The
 * connection returned belongs to one thread at a time.
 */
int md_store__db_open(const char *path, struct md_store_tx **out, struct md_store__facts *facts,
                      struct md_err *err) MD_MUST_CHECK;
/* Closes the connection; NULL ok. */
void md_store__db_close(struct md_store_tx *tx);

/* BEGIN (taking the write lock at once). */
int md_store__db_begin(struct md_store_tx *tx, struct md_err *err) MD_MUST_CHECK;
/* A savepoint around one job: opened, released (kept), or rolled back to and released. */
int md_store__db_savepoint(struct md_store_tx *tx, struct md_err *err) MD_MUST_CHECK;
int md_store__db_release(struct md_store_tx *tx, struct md_err *err) MD_MUST_CHECK;
int md_store__db_undo(struct md_store_tx *tx, struct md_err *err) MD_MUST_CHECK;
/*
 * COMMIT, synced to disk before it returns. *synced says whether anything
 * was written (a transaction that changed nothing writes and syncs
 * nothing). On failure the transaction is rolled back.
 */
int md_store__db_commit(struct md_store_tx *tx, bool *synced, struct md_err *err) MD_MUST_CHECK;
/* Rolls the open transaction back, if one is open. */
void md_store__db_rollback(struct md_store_tx *tx);
/* Whether a transaction is open (a failed statement can end one by itself). */
bool md_store__db_in_tx(struct md_store_tx *tx);

/* Whether a version record names the artifact sha256, into *named (inside a run). */
int md_store__sha_named(struct md_store_tx *tx, const char *sha256, bool *named,
                        struct md_err *err) MD_MUST_CHECK;

/*
 * Encryption at rest, once set up by md_store_crypt_enable: the data keys
 * (borrowed) and the key of lookup hashes. Immutable once published;
 * NULL while values are stored in clear.
 */
struct md_store__crypt {
    const struct md_aead_keys *keys;
    unsigned char lookup[32];
    struct md_store__rotor *rotor; /* the background rotation (its own lock) */
};
/* The store's encryption (NULL: none); set once, before other threads use the store. */
const struct md_store__crypt *md_store__crypt_get(struct md_store *s);
void md_store__crypt_set(struct md_store *s, struct md_store__crypt *c); /* takes c */
/* Stops a rotation running on c (joins its thread); then frees c. NULL ok. */
void md_store__crypt_stop(struct md_store__crypt *c);
void md_store__crypt_free(struct md_store__crypt *c);

/* Milliseconds since the epoch, for the times the store stamps itself. */
int64_t md_store__now_ms(void);

/* A TRUNCATE checkpoint of the connection, outside a transaction (md_store_checkpoint). */
int md_store__db_checkpoint(struct md_store_tx *tx, struct md_store_checkpoint *out,
                            struct md_err *err) MD_MUST_CHECK;

#endif
