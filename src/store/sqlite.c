/* SPDX-License-Identifier: MIT */
/*
 * sqlite.c: the store's database file with SQLite: opening and checking it
 * (a database, not damaged, ours, a schema this release reads) before
 * anything is written, the numbered migrations, the connection's settings
 * (WAL, synchronous=FULL, foreign keys, a busy timeout), the transactions
 * the store thread runs (one per group of jobs, a savepoint per job), the
 * statement cache and the mapping of SQLite's errors. The records
 * themselves are in sqlite_tx.c; the job queue and the thread in store.c.
 *
 * A failed open leaves the file as it was: the checks only read, and the
 * connection is told not to checkpoint the write-ahead log into the file
 * when it closes (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE), which a successful
 * open turns back on so that a clean close leaves one complete file.
 */
#include "store/sqlite_int.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define APPLICATION_ID  0x6d646c64 /* "mdld": PRAGMA application_id of a modeld store */
#define CHECKPOINT_PAGE 1000       /* checkpoint the WAL past this many pages (SQLite's default) */

/* ----------------------------------------------------------- migrations */

/*
 * The numbered migrations, applied in order at open in one transaction.
 * Additive only: a migration adds tables, columns (with a default) and
 * indexes, so the release before it still runs against the migrated file;
 * what it leaves behind is dropped a release later. MD_STORE_SCHEMA is the
 * last number here.
 */
struct migration {
    int version;
    const char *name;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, "control data: models, versions, aliases, policies, strategies, rollouts, events",
     "CREATE TABLE migrations (\n"
     "    version INTEGER PRIMARY KEY,\n"
     "    name TEXT NOT NULL,\n"
     "    applied_ms INTEGER NOT NULL\n"
     ");\n"
     /* Every model the store has a record of; contract is set for one
      * created through the API. last_version: the highest number ever
      * registered, from which the next is allocated. */
     "CREATE TABLE models (\n"
     "    name TEXT PRIMARY KEY,\n"
     "    contract TEXT,\n"
     "    last_version INTEGER NOT NULL DEFAULT 0,\n"
     "    created_ms INTEGER NOT NULL,\n"
     "    updated_ms INTEGER NOT NULL\n"
     ");\n"
     "CREATE TABLE versions (\n"
     "    model TEXT NOT NULL REFERENCES models(name),\n"
     "    version INTEGER NOT NULL CHECK (version >= 1),\n"
     "    sha256 TEXT NOT NULL,\n"
     "    size INTEGER NOT NULL,\n"
     "    created_ms INTEGER NOT NULL,\n"
     "    source TEXT NOT NULL,\n"
     "    engine TEXT NOT NULL,\n"
     "    artifact TEXT NOT NULL,\n"
     "    metadata TEXT NOT NULL,\n"
     "    contract TEXT NOT NULL,\n"
     "    contract_sha256 TEXT NOT NULL,\n"
     "    archived INTEGER NOT NULL DEFAULT 0,\n"
     "    PRIMARY KEY (model, version)\n"
     ");\n"
     "CREATE INDEX versions_by_sha256 ON versions(sha256);\n"
     "CREATE TABLE aliases (\n"
     "    model TEXT NOT NULL,\n"
     "    alias TEXT NOT NULL,\n"
     "    version INTEGER NOT NULL,\n"
     "    updated_ms INTEGER NOT NULL,\n"
     "    PRIMARY KEY (model, alias),\n"
     "    FOREIGN KEY (model, version) REFERENCES versions(model, version)\n"
     ");\n"
     "CREATE TABLE policies (\n"
     "    model TEXT PRIMARY KEY REFERENCES models(name),\n"
     "    policy TEXT NOT NULL,\n"
     "    revision INTEGER NOT NULL,\n"
     "    updated_ms INTEGER NOT NULL\n"
     ");\n"
     "CREATE TABLE strategies (\n"
     "    name TEXT PRIMARY KEY,\n"
     "    strategy TEXT NOT NULL,\n"
     "    updated_ms INTEGER NOT NULL\n"
     ");\n"
     "CREATE TABLE rollouts (\n"
     "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "    model TEXT NOT NULL,\n"
     "    candidate INTEGER NOT NULL,\n"
     "    phase TEXT NOT NULL,\n"
     "    active INTEGER NOT NULL,\n"
     "    spec TEXT NOT NULL,\n"
     "    state TEXT NOT NULL,\n"
     "    created_ms INTEGER NOT NULL,\n"
     "    updated_ms INTEGER NOT NULL,\n"
     "    FOREIGN KEY (model, candidate) REFERENCES versions(model, version)\n"
     ");\n"
     /* At most one active rollout per model. */
     "CREATE UNIQUE INDEX rollouts_one_active ON rollouts(model) WHERE active <> 0;\n"
     "CREATE INDEX rollouts_by_model ON rollouts(model, id);\n"
     "CREATE TABLE decisions (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    rollout INTEGER NOT NULL REFERENCES rollouts(id),\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    decision TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX decisions_by_rollout ON decisions(rollout, id);\n"
     "CREATE TABLE events (\n"
     "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    model TEXT NOT NULL,\n"
     "    kind TEXT NOT NULL,\n"
     "    message TEXT NOT NULL,\n"
     "    details TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX events_by_model ON events(model, id);\n"
     "CREATE INDEX events_by_kind ON events(kind, id);\n"},
    {2, "observations: the prediction log; feedback; alert rules and alerts; history",
     /* The prediction log: one row per prediction row and version (a
      * shadow's answer is a row of its own). id follows the order rows were
      * written in, so inserts append to the table and its time index;
      * request ids the server makes are time-ordered, so theirs too. */
     "CREATE TABLE predictions (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    request_id TEXT NOT NULL,\n"
     "    row INTEGER NOT NULL,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    model TEXT NOT NULL,\n"
     "    version INTEGER NOT NULL,\n"
     "    route TEXT NOT NULL,\n"
     "    shadow INTEGER NOT NULL DEFAULT 0,\n"
     "    status INTEGER NOT NULL,\n"
     "    latency_us INTEGER NOT NULL,\n"
     "    keys TEXT,\n"
     "    features TEXT,\n"
     "    label TEXT,\n"
     "    score REAL,\n"
     "    outputs TEXT\n"
     ");\n"
     "CREATE INDEX predictions_by_request ON predictions(request_id, row);\n"
     "CREATE INDEX predictions_by_model ON predictions(model, at_ms);\n"
     /* Keys by which feedback finds a row (a caller's transaction id). */
     "CREATE TABLE prediction_keys (\n"
     "    model TEXT NOT NULL,\n"
     "    name TEXT NOT NULL,\n"
     "    value TEXT NOT NULL,\n"
     "    prediction INTEGER NOT NULL\n"
     ");\n"
     "CREATE INDEX prediction_keys_by_value ON prediction_keys(model, name, value);\n"
     "CREATE INDEX prediction_keys_by_row ON prediction_keys(prediction);\n"
     /* ---- feedback (its tables below) */
     /* Outcomes of prediction rows. request_id and row name the row the
      * item is about (given, or found by its key once the row is stored;
      * NULL while an item given by key waits for its row); key_name and
      * key_value are the key it was given by, if any. kind is label, value,
      * reward or rating; label holds a label, value the number of the
      * others. state: 'attached' (its row is stored), 'pending' (waiting
      * for it) or 'orphaned' (its row never came within the horizon). A
      * later item of the same kind for the same row replaces the earlier:
      * current 0 keeps the earlier as history; current 1 is the live
      * outcome of each (row, kind). */
     "CREATE TABLE feedback (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    model TEXT NOT NULL,\n"
     "    request_id TEXT,\n"
     "    row INTEGER,\n"
     "    key_name TEXT,\n"
     "    key_value TEXT,\n"
     "    kind TEXT NOT NULL,\n"
     "    label TEXT,\n"
     "    value REAL,\n"
     "    source TEXT NOT NULL,\n"
     "    comment TEXT,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    state TEXT NOT NULL DEFAULT 'attached',\n"
     "    current INTEGER NOT NULL DEFAULT 1\n"
     ");\n"
     "CREATE INDEX feedback_by_row ON feedback(request_id, row, kind);\n"
     "CREATE INDEX feedback_by_key ON feedback(model, key_name, key_value);\n"
     "CREATE INDEX feedback_by_state ON feedback(state);\n"

     /* ---- alert rules and alerts (their tables below) */
     /* Alert rules: the JSON of each, every default written out; source
      * 'file' for the configuration file's (rewritten at each start), 'api'
      * for those PUT through the API. */
     "CREATE TABLE alert_rules (\n"
     "    name TEXT PRIMARY KEY,\n"
     "    rule TEXT NOT NULL,\n"
     "    source TEXT NOT NULL,\n"
     "    updated_ms INTEGER NOT NULL\n"
     ");\n"
     /* The history of alerts: one row per change of state (pending,
      * firing, resolved, inactive); the last row of a rule is its state. */
     "CREATE TABLE alerts (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    rule TEXT NOT NULL,\n"
     "    model TEXT NOT NULL,\n"
     "    state TEXT NOT NULL,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    active_ms INTEGER NOT NULL,\n"
     "    fired_ms INTEGER NOT NULL,\n"
     "    value REAL,\n"
     "    fingerprint TEXT NOT NULL,\n"
     "    labels TEXT NOT NULL,\n"
     "    annotations TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX alerts_by_rule ON alerts(rule, id);\n"

     /* ---- history (its tables below) */
     /* Per-step rollups of the request counters of each (model, version,
      * route) that had requests in the step (at_ms: its start): counts,
      * and the latency buckets of successful requests as 21 decimal
      * counts separated by spaces (watch/metrics.h's bounds, then +Inf),
      * so that any span of steps and routes sums exactly. */
     "CREATE TABLE history_requests (\n"
     "    model TEXT NOT NULL,\n"
     "    version INTEGER NOT NULL,\n"
     "    route TEXT NOT NULL,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    requests INTEGER NOT NULL,\n"
     "    success INTEGER NOT NULL,\n"
     "    errors INTEGER NOT NULL,\n"
     "    rejected INTEGER NOT NULL,\n"
     "    rows INTEGER NOT NULL,\n"
     "    latency_sum_ns INTEGER NOT NULL,\n"
     "    latency TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX history_requests_by_model ON history_requests(model, at_ms);\n"
     "CREATE INDEX history_requests_by_time ON history_requests(at_ms);\n"
     /* Per-step values of the other named metrics, per model (version 0)
      * and per version: what the signal answered over the step. */
     "CREATE TABLE history_values (\n"
     "    model TEXT NOT NULL,\n"
     "    version INTEGER NOT NULL,\n"
     "    metric TEXT NOT NULL,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    value REAL NOT NULL,\n"
     "    samples INTEGER NOT NULL\n"
     ");\n"
     "CREATE INDEX history_values_by_metric ON history_values(model, metric, at_ms);\n"
     "CREATE INDEX history_values_by_time ON history_values(at_ms);\n"

     ""},
    {3, "improvement: trainings, base datasets, review queues",
     /* Training runs: one row each, from the moment one is asked for.
      * trigger: manual, schedule, drift, quality, labels; state: queued,
      * running, then succeeded, failed, timed_out, killed, refused (too
      * few rows, one class: nothing trained). spec: what was asked (the
      * trigger's details, trainer, parameters); result: what came out (the
      * training set's summary, the evaluation against the champion, the
      * decision on the version, the reason of a failure); version: the
      * version it registered, 0 when none. Control is the only writer. */
     "CREATE TABLE trainings (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    model TEXT NOT NULL,\n"
     "    trigger TEXT NOT NULL,\n"
     "    state TEXT NOT NULL,\n"
     "    requested_ms INTEGER NOT NULL,\n"
     "    started_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    finished_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    since_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    until_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    rows INTEGER NOT NULL DEFAULT 0,\n"
     "    spec TEXT NOT NULL DEFAULT '{}',\n"
     "    result TEXT NOT NULL DEFAULT '{}',\n"
     "    version INTEGER NOT NULL DEFAULT 0\n"
     ");\n"
     "CREATE INDEX trainings_by_model ON trainings(model, id);\n"
     /* Base datasets registered for a model (the original training CSV):
      * the file is in the artifact store under sha256. */
     "CREATE TABLE datasets (\n"
     "    model TEXT NOT NULL,\n"
     "    name TEXT NOT NULL,\n"
     "    sha256 TEXT NOT NULL,\n"
     "    size INTEGER NOT NULL,\n"
     "    rows INTEGER NOT NULL,\n"
     "    columns TEXT NOT NULL,\n"
     "    created_ms INTEGER NOT NULL,\n"
     "    PRIMARY KEY (model, name)\n"
     ");\n"
     /* Review queues: a prediction row sent to review by a rule (reason),
      * waiting (state 'queued'), taken by a reviewer under a lease
      * ('leased' until lease_until_ms; an expired lease counts as queued),
      * or answered ('done': its verdict became expert feedback). */
     "CREATE TABLE review_items (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    model TEXT NOT NULL,\n"
     "    prediction INTEGER NOT NULL,\n"
     "    request_id TEXT NOT NULL,\n"
     "    row INTEGER NOT NULL,\n"
     "    version INTEGER NOT NULL,\n"
     "    reason TEXT NOT NULL,\n"
     "    created_ms INTEGER NOT NULL,\n"
     "    state TEXT NOT NULL DEFAULT 'queued',\n"
     "    lease_until_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    lease TEXT,\n"
     "    reviewer TEXT,\n"
     "    verdict TEXT,\n"
     "    comment TEXT,\n"
     "    answered_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    agrees INTEGER\n"
     ");\n"
     "CREATE INDEX review_items_by_state ON review_items(model, state, id);\n"
     "CREATE INDEX review_items_by_prediction ON review_items(prediction);\n"
     ""},
    {4, "protection: tokens, the audit chain, subjects",
     /* Bearer tokens: only the SHA-256 of each secret is kept (hash, hex).
      * role is an md_role name; models a JSON array of the model names the
      * token is limited to (NULL: every model); rate and burst its request
      * limit (NULL: none). 0 in expires_ms, revoked_ms and last_used_ms:
      * never. */
     "CREATE TABLE tokens (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    name TEXT NOT NULL UNIQUE,\n"
     "    hash TEXT NOT NULL UNIQUE,\n"
     "    role TEXT NOT NULL,\n"
     "    models TEXT,\n"
     "    rate REAL,\n"
     "    burst INTEGER,\n"
     "    created_ms INTEGER NOT NULL,\n"
     "    created_by TEXT NOT NULL,\n"
     "    expires_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    revoked_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    last_used_ms INTEGER NOT NULL DEFAULT 0\n"
     ");\n"
     /* The audit log, a chain: each entry's mac (hex HMAC-SHA256 under the
      * key named key_id, kept outside the store) covers its content and the
      * previous entry's mac. actor is who or which rule; a subject appears
      * only as a keyed hash. */
     "CREATE TABLE audit (\n"
     "    id INTEGER PRIMARY KEY,\n"
     "    at_ms INTEGER NOT NULL,\n"
     "    actor TEXT NOT NULL,\n"
     "    action TEXT NOT NULL,\n"
     "    target TEXT,\n"
     "    address TEXT,\n"
     "    outcome TEXT NOT NULL,\n"
     "    details TEXT,\n"
     "    key_id TEXT NOT NULL,\n"
     "    mac TEXT NOT NULL\n"
     ");\n"
     /* The chain's head: its last entry's id and mac under a MAC of their
      * own (one row, id 1), so that entries removed from the tail show. */
     "CREATE TABLE audit_head (\n"
     "    id INTEGER PRIMARY KEY CHECK (id = 1),\n"
     "    last_id INTEGER NOT NULL,\n"
     "    last_mac TEXT NOT NULL,\n"
     "    key_id TEXT NOT NULL,\n"
     "    mac TEXT NOT NULL\n"
     ");\n"
     /* The subject a prediction row is about (a keys: field marked as the
      * subject id), as a keyed hash, so that erasure finds its rows. */
     "ALTER TABLE predictions ADD COLUMN subject TEXT;\n"
     "CREATE INDEX predictions_by_subject ON predictions(subject) WHERE subject IS NOT NULL;\n"
     /* Encryption at rest: 'lookup' is the key of the keyed hashes that
      * replace key values (prediction_keys.value, feedback.key_value), a
      * random 32 bytes sealed under a data key; rotation reseals it. */
     "CREATE TABLE crypt (\n"
     "    name TEXT PRIMARY KEY,\n"
     "    value BLOB NOT NULL\n"
     ");\n"
     ""},
};

_Static_assert(MD_ARRAY_LEN(migrations) == MD_STORE_SCHEMA,
               "MD_STORE_SCHEMA is the number of the last migration");

/* ------------------------------------------------------------- helpers */

int md_store__busy_ms = 5000;

int64_t md_store__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int md_store__fail(struct md_store_tx *tx, int rc, const char *what, struct md_err *err)
{
    const char *msg = tx != NULL && tx->db != NULL ? sqlite3_errmsg(tx->db) : sqlite3_errstr(rc);
    int code;

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = MD_EUNAVAIL;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        code = MD_ECORRUPT;
        break;
    case SQLITE_NOMEM:
        code = MD_ENOMEM;
        break;
    case SQLITE_CONSTRAINT:
        code = MD_ECONFLICT;
        break;
    default:
        code = MD_EIO;
        break;
    }
    return md_err_set(err, code, "the store cannot %s: %s", what, msg);
}

sqlite3_stmt *md_store__prep(struct md_store_tx *tx, enum md_store__slot slot, const char *sql,
                             struct md_err *err)
{
    sqlite3_stmt *st = tx->stmts[slot];
    int rc;

    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    rc = sqlite3_prepare_v3(tx->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        md_store__fail(tx, rc, "prepare a statement", err);
        return NULL;
    }
    tx->stmts[slot] = st;
    return st;
}

int md_store__exec(struct md_store_tx *tx, sqlite3_stmt *st, const char *what, struct md_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return MD_OK;
    return md_store__fail(tx, rc, what, err);
}

/* Runs a statement of slot that takes no parameter. */
static int run_slot(struct md_store_tx *tx, enum md_store__slot slot, const char *sql,
                    const char *what, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, slot, sql, err);

    if (st == NULL)
        return err != NULL ? err->code : MD_EIO;
    return md_store__exec(tx, st, what, err);
}

/* The integer a one-row statement (a PRAGMA) answers. */
static int query_int(struct md_store_tx *tx, const char *sql, int64_t *out, struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK)
        md_store__fail(tx, rc, "read the database", err);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? MD_OK : err != NULL ? err->code : MD_EIO;
}

/* The text a one-row statement answers, into out (size n). */
static int query_text(struct md_store_tx *tx, const char *sql, char *out, size_t n,
                      struct md_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, sql, -1, &st, NULL);

    out[0] = '\0';
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);

            (void)snprintf(out, n, "%s", t != NULL ? (const char *)t : "");
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK)
        md_store__fail(tx, rc, "read the database", err);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? MD_OK : err != NULL ? err->code : MD_EIO;
}

/* --------------------------------------------------------------- checks */

/* The message of a file that is refused as it is. */
static int corrupt(const char *path, const char *why, struct md_err *err)
{
    return md_err_set(err, MD_ECORRUPT, "the store %s is corrupt: %s; it was left as it is", path,
                      why);
}

/*
 * The file before SQLite sees it: a regular file we may read and write,
 * empty (a new store) or starting with SQLite's header.
 */
static int check_file(const char *path, struct md_err *err)
{
    static const char magic[16] = "SQLite format 3";
    unsigned char head[100];
    struct stat st;
    ssize_t got;
    int fd;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return MD_OK;
        return md_err_set(err, MD_EIO, "the store %s cannot be opened: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return md_err_set(err, MD_EIO, "the store %s cannot be opened: %s", path, strerror(EISDIR));
    if (!S_ISREG(st.st_mode))
        return md_err_set(err, MD_EIO, "the store %s cannot be opened: not a regular file", path);
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return md_err_set(err, MD_EIO, "the store %s cannot be opened: %s", path, strerror(errno));
    got = pread(fd, head, sizeof(head), 0);
    if (got < 0) {
        int e = errno;

        close(fd);
        return md_err_set(err, MD_EIO, "the store %s cannot be read: %s", path, strerror(e));
    }
    close(fd);
    if (got == 0)
        return MD_OK;
    if ((size_t)got < sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0)
        return corrupt(path, "not a SQLite database", err);
    return MD_OK;
}

/* PRAGMA quick_check: "ok", or the first problem it found. */
static int check_integrity(struct md_store_tx *tx, struct md_err *err)
{
    char first[200];
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->db, "PRAGMA quick_check(1)", -1, &st, NULL);

    first[0] = '\0';
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);

            (void)snprintf(first, sizeof(first), "%s", t != NULL ? (const char *)t : "");
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
            return corrupt(tx->path, sqlite3_errmsg(tx->db), err);
        return md_store__fail(tx, rc, "check the database", err);
    }
    if (strcmp(first, "ok") != 0)
        return corrupt(tx->path, first, err);
    return MD_OK;
}

/* Whether the file is ours and of a schema this release reads; *schema the file's. */
static int check_schema(struct md_store_tx *tx, int64_t *schema, struct md_err *err)
{
    int64_t app = 0;
    int64_t tables = 0;
    int rc;

    rc = query_int(tx, "PRAGMA application_id", &app, err);
    if (rc == MD_OK)
        rc = query_int(tx, "PRAGMA user_version", schema, err);
    if (rc == MD_OK)
        rc = query_int(tx, "SELECT count(*) FROM sqlite_master", &tables, err);
    if (rc != MD_OK)
        return rc;
    if (app != APPLICATION_ID && (app != 0 || *schema != 0 || tables != 0)) {
        char why[96];

        (void)snprintf(
            why, sizeof(why),
            "a SQLite database of another program (application id %lld), not a modeld store",
            (long long)app);
        return corrupt(tx->path, why, err);
    }
    if (*schema > MD_STORE_SCHEMA + 1)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "the store %s has schema %lld; this release reads schema %d and %d: "
                          "upgrade modeld",
                          tx->path, (long long)*schema, MD_STORE_SCHEMA, MD_STORE_SCHEMA + 1);
    if (*schema < 0)
        return corrupt(tx->path, "its schema number is negative", err);
    return MD_OK;
}

/* ------------------------------------------------------------ set-up */

/*
 * Called by SQLite after each commit that appended to the WAL, which with
 * synchronous=FULL was synced first. Replaces SQLite's own hook, so it
 * checkpoints as that one does.
 */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct md_store_tx *tx = arg;

    tx->wrote = true;
    if (pages >= CHECKPOINT_PAGE)
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static int settings(struct md_store_tx *tx, struct md_err *err)
{
    char mode[16];
    int64_t fk = 0;
    int rc;

    rc = query_text(tx, "PRAGMA journal_mode=WAL", mode, sizeof(mode), err);
    if (rc != MD_OK)
        return rc;
    if (strcmp(mode, "wal") != 0)
        return md_err_set(err, MD_EIO,
                          "the store %s cannot use a write-ahead log (journal mode %s)", tx->path,
                          mode);
    /* A page cache of 64 MiB: a batch of the prediction log (thousands of rows, a few MB)
     * then fits in memory until its commit, instead of spilling pages to the log in the
     * middle of its transaction and writing them again. */
    /* secure_delete: a removed or rewritten row's bytes are overwritten with zeros in its
     * page, so that an erased subject leaves nothing in the file (sqlite_erase.c). */
    rc = sqlite3_exec(tx->db,
                      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; "
                      "PRAGMA secure_delete=ON",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "set up the connection", err);
    rc = query_int(tx, "PRAGMA foreign_keys", &fk, err);
    if (rc != MD_OK)
        return rc;
    if (fk != 1)
        return md_err_set(err, MD_EIO, "the store %s cannot check foreign keys", tx->path);
    sqlite3_wal_hook(tx->db, wal_hook, tx);
    return MD_OK;
}

/* Applies the migrations the file lacks, in one transaction. */
static int migrate(struct md_store_tx *tx, struct md_err *err)
{
    char sql[96];
    int64_t have = 0;
    int rc;

    rc = sqlite3_exec(tx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return md_store__fail(tx, rc, "start the migrations", err);
    /* Again inside the transaction: another process may have migrated it. */
    rc = query_int(tx, "PRAGMA user_version", &have, err);
    for (size_t i = 0; rc == MD_OK && i < MD_ARRAY_LEN(migrations); i++) {
        const struct migration *m = &migrations[i];
        sqlite3_stmt *st = NULL;
        int src;

        if (m->version <= have)
            continue;
        src = sqlite3_exec(tx->db, m->sql, NULL, NULL, NULL);
        if (src == SQLITE_OK)
            src = sqlite3_prepare_v2(tx->db,
                                     "INSERT INTO migrations (version, name, applied_ms) "
                                     "VALUES (?1, ?2, ?3)",
                                     -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int(st, 1, m->version);
            sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, md_store__now_ms());
            src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(tx->db);
        }
        sqlite3_finalize(st);
        if (src != SQLITE_OK) {
            char what[64];

            (void)snprintf(what, sizeof(what), "apply migration %d", m->version);
            rc = md_store__fail(tx, src, what, err);
            break;
        }
        (void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d; PRAGMA application_id = %d",
                       m->version, APPLICATION_ID);
        src = sqlite3_exec(tx->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = md_store__fail(tx, src, "record a migration", err);
    }
    if (rc == MD_OK) {
        rc = sqlite3_exec(tx->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            rc = md_store__fail(tx, rc, "commit the migrations", err);
    }
    if (rc != MD_OK && !sqlite3_get_autocommit(tx->db))
        (void)sqlite3_exec(tx->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* What the settings are now, read back from SQLite. */
static int read_facts(struct md_store_tx *tx, struct md_store__facts *facts, struct md_err *err)
{
    static const char *const sync_names[] = {"off", "normal", "full", "extra"};
    int64_t schema = 0;
    int64_t sync = -1;
    int rc;

    rc = query_text(tx, "PRAGMA journal_mode", facts->journal_mode, sizeof(facts->journal_mode),
                    err);
    if (rc == MD_OK)
        rc = query_int(tx, "PRAGMA synchronous", &sync, err);
    if (rc == MD_OK)
        rc = query_int(tx, "PRAGMA user_version", &schema, err);
    if (rc != MD_OK)
        return rc;
    (void)snprintf(facts->synchronous, sizeof(facts->synchronous), "%s",
                   sync >= 0 && sync < (int64_t)MD_ARRAY_LEN(sync_names) ? sync_names[sync]
                                                                         : "unknown");
    facts->schema = (int)schema;
    facts->backend = "sqlite";
    return MD_OK;
}

/* --------------------------------------------------------- open, close */

void md_store__db_close(struct md_store_tx *tx)
{
    if (tx == NULL)
        return;
    md_store__crypt_detach(tx);
    for (size_t i = 0; i < MD_SQL_SLOTS; i++)
        sqlite3_finalize(tx->stmts[i]);
    if (tx->db != NULL)
        sqlite3_close(tx->db);
    md_store__audit_free(tx->audit);
    free(tx->path);
    free(tx);
}

int md_store__db_open(const char *path, struct md_store_tx **out, struct md_store__facts *facts,
                      struct md_err *err)
{
    struct md_store_tx *tx;
    int64_t schema = 0;
    int rc;

    *out = NULL;
    memset(facts, 0, sizeof(*facts));
    rc = check_file(path, err);
    if (rc != MD_OK)
        return rc;
    tx = md_xcalloc(1, sizeof(*tx));
    tx->path = md_xstrdup(path);
    rc = sqlite3_open_v2(path, &tx->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int e = tx->db != NULL ? sqlite3_system_errno(tx->db) : 0;

        md_err_set(err, MD_EIO, "the store %s cannot be opened: %s", path,
                   e != 0 ? strerror(e) : sqlite3_errstr(rc));
        md_store__db_close(tx);
        return MD_EIO;
    }
    /* Until the file has passed its checks, closing must not write it. */
    sqlite3_db_config(tx->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_db_config(tx->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_extended_result_codes(tx->db, 1);
    sqlite3_busy_timeout(tx->db, md_store__busy_ms);
    if (sqlite3_db_readonly(tx->db, "main") == 1) {
        rc = md_err_set(err, MD_EIO, "the store %s cannot be written: %s", path, strerror(EACCES));
        goto fail;
    }
    rc = check_integrity(tx, err);
    if (rc == MD_OK)
        rc = check_schema(tx, &schema, err);
    if (rc == MD_OK)
        rc = settings(tx, err);
    if (rc == MD_OK && schema < MD_STORE_SCHEMA)
        rc = migrate(tx, err);
    if (rc == MD_OK)
        rc = read_facts(tx, facts, err);
    if (rc != MD_OK)
        goto fail;
    sqlite3_db_config(tx->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    *out = tx;
    return MD_OK;
fail:
    /* SQLite's own failures (a lock held, an I/O error) name no file: say which. */
    if (err != NULL && strstr(err->msg, path) == NULL)
        md_err_prefix(err, "%s: ", path);
    md_store__db_close(tx);
    return rc;
}

/* --------------------------------------------------------- transactions */

int md_store__db_begin(struct md_store_tx *tx, struct md_err *err)
{
    tx->wrote = false;
    return run_slot(tx, MD_SQL_BEGIN, "BEGIN IMMEDIATE", "start a transaction", err);
}

int md_store__db_savepoint(struct md_store_tx *tx, struct md_err *err)
{
    return run_slot(tx, MD_SQL_SAVEPOINT, "SAVEPOINT job", "start a savepoint", err);
}

int md_store__db_release(struct md_store_tx *tx, struct md_err *err)
{
    return run_slot(tx, MD_SQL_RELEASE, "RELEASE job", "release a savepoint", err);
}

int md_store__db_undo(struct md_store_tx *tx, struct md_err *err)
{
    int rc = run_slot(tx, MD_SQL_UNDO, "ROLLBACK TO job", "undo a job", err);

    if (rc == MD_OK)
        rc = md_store__db_release(tx, err);
    return rc;
}

int md_store__db_commit(struct md_store_tx *tx, bool *synced, struct md_err *err)
{
    int rc = run_slot(tx, MD_SQL_COMMIT, "COMMIT", "commit", err);

    if (rc != MD_OK)
        md_store__db_rollback(tx);
    *synced = rc == MD_OK && tx->wrote;
    return rc;
}

void md_store__db_rollback(struct md_store_tx *tx)
{
    if (md_store__db_in_tx(tx))
        (void)run_slot(tx, MD_SQL_ROLLBACK, "ROLLBACK", "roll back", NULL);
}

bool md_store__db_in_tx(struct md_store_tx *tx)
{
    return sqlite3_get_autocommit(tx->db) == 0;
}
