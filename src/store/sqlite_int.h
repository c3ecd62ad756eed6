/* SPDX-License-Identifier: MIT */
/*
 * sqlite_int.h: what the two halves of the SQLite store share. sqlite.c
 * opens and checks the database file, applies the migrations and runs the
 * transactions; sqlite_tx.c holds the records (the md_store_tx_* functions
 * of store.h). Only files of src/store/ include this header (and so
 * sqlite3.h).
 */
#ifndef MD_STORE_SQLITE_INT_H
#define MD_STORE_SQLITE_INT_H

#include "store/store_int.h"

#include <sqlite3.h>

/* The prepared statements a connection keeps, one slot each. */
enum md_store__slot {
    MD_SQL_BEGIN,
    MD_SQL_COMMIT,
    MD_SQL_ROLLBACK,
    MD_SQL_SAVEPOINT,
    MD_SQL_RELEASE,
    MD_SQL_UNDO,
    MD_SQL_MODEL_ENSURE,
    MD_SQL_MODEL_PUT,
    MD_SQL_MODELS,
    MD_SQL_VERSION_NEXT,
    MD_SQL_VERSION_SHA,
    MD_SQL_VERSION_INSERT,
    MD_SQL_MODEL_LAST,
    MD_SQL_VERSION_ARCHIVE,
    MD_SQL_VERSION_GET,
    MD_SQL_VERSIONS_ALL,
    MD_SQL_VERSIONS_OF,
    MD_SQL_ALIAS_PUT,
    MD_SQL_ALIAS_DELETE,
    MD_SQL_ALIASES_ALL,
    MD_SQL_ALIASES_OF,
    MD_SQL_POLICY_REVISION,
    MD_SQL_POLICY_PUT,
    MD_SQL_POLICY_GET,
    MD_SQL_POLICIES,
    MD_SQL_STRATEGY_PUT,
    MD_SQL_STRATEGY_DELETE,
    MD_SQL_STRATEGIES_ALL,
    MD_SQL_STRATEGY_GET,
    MD_SQL_ROLLOUT_ACTIVE,
    MD_SQL_ROLLOUT_INSERT,
    MD_SQL_ROLLOUT_UPDATE,
    MD_SQL_ROLLOUTS,
    MD_SQL_ROLLOUT_GET,
    MD_SQL_ROLLOUT_EXISTS,
    MD_SQL_DECISION_INSERT,
    MD_SQL_DECISIONS,
    MD_SQL_EVENT_INSERT,
    MD_SQL_EVENTS_ALL,
    MD_SQL_EVENTS_MODEL,
    MD_SQL_EVENTS_KIND,
    MD_SQL_EVENTS_BOTH,
    MD_SQL_SHA_NAMED,
    /* the prediction log */
    MD_SQL_PREDICTION_INSERT,
    MD_SQL_PREDICTION_KEY_INSERT,
    MD_SQL_PREDICTION_MIN_ID,
    MD_SQL_PREDICTION_MAX_ID,
    MD_SQL_PREDICTION_EXPIRE_KEYS,
    MD_SQL_PREDICTION_EXPIRE,
    MD_SQL_PREDICTION_TRIM,
    MD_SQL_PREDICTION_TRIM_NEXT,
    MD_SQL_PREDICTION_COUNT,
    /* feedback */
    MD_SQL_FEEDBACK_REQUEST,
    MD_SQL_FEEDBACK_BY_KEY,
    MD_SQL_FEEDBACK_CURRENT,
    MD_SQL_FEEDBACK_RETIRE,
    MD_SQL_FEEDBACK_RETIRE_KEY,
    MD_SQL_FEEDBACK_INSERT,
    MD_SQL_FEEDBACK_ROWS_OF,
    MD_SQL_FEEDBACK_HAS_ROW,
    MD_SQL_FEEDBACK_ATTACH,
    MD_SQL_FEEDBACK_ORPHAN,
    MD_SQL_FEEDBACK_PENDING,
    MD_SQL_FEEDBACK_TOTALS,
    MD_SQL_FEEDBACK_MAX_ID,
    MD_SQL_FEEDBACK_COUNT_NEW,
    MD_SQL_FEEDBACK_FIRST_AT,
    MD_SQL_FEEDBACK_REBUILD,
    MD_SQL_FEEDBACK_ITEMS_ROW,
    MD_SQL_FEEDBACK_ITEMS_KEY,
    MD_SQL_FEEDBACK_WINDOW,
    MD_SQL_FEEDBACK_WINDOW_TOTAL,

    /* A/B outcomes */
    MD_SQL_AB_GROUPS,

    /* alert rules and alerts */
    MD_SQL_ALERT_RULE_PUT,
    MD_SQL_ALERT_RULE_DELETE,
    MD_SQL_ALERT_RULES_ALL,
    MD_SQL_ALERT_RULE_GET,
    MD_SQL_ALERT_INSERT,
    MD_SQL_ALERTS_LAST,
    MD_SQL_ALERTS_LIST,
    MD_SQL_ALERTS_PRUNE,

    /* history */
    MD_SQL_HISTORY_REQUEST_INSERT,
    MD_SQL_HISTORY_VALUE_INSERT,
    MD_SQL_HISTORY_REQUESTS,
    MD_SQL_HISTORY_VALUES,
    MD_SQL_HISTORY_EXPIRE_REQUESTS,
    MD_SQL_HISTORY_EXPIRE_VALUES,

    /* review queues */
    MD_SQL_REVIEW_INSERT,
    MD_SQL_REVIEW_NEXT,
    MD_SQL_REVIEW_LEASE,
    MD_SQL_REVIEW_GET,
    MD_SQL_REVIEW_DONE,

    MD_SQL_SLOTS
};

/* One open database: the connection and its statements. One thread at a time. */
struct md_store_tx {
    sqlite3 *db;
    char *path;                        /* the database file */
    sqlite3_stmt *stmts[MD_SQL_SLOTS]; /* prepared on first use, kept */
    bool wrote;                        /* a commit appended to the WAL (set by its hook) */
    struct md_store__crypt_tx *crypt;  /* encryption at rest; NULL: values stored in clear */
};

/*
 * The statement of slot, prepared from sql on its first use, reset with its
 * bindings cleared; NULL with err set when it cannot be prepared.
 */
sqlite3_stmt *md_store__prep(struct md_store_tx *tx, enum md_store__slot slot, const char *sql,
                             struct md_err *err);

/*
 * Turns SQLite's result rc into a code and a message ("the store cannot
 * <what>: <SQLite's message>"): MD_EUNAVAIL when the database is locked,
 * MD_ECORRUPT when it is damaged, MD_ENOMEM, MD_ECONFLICT for a constraint,
 * MD_EIO for the rest. Returns the code.
 */
int md_store__fail(struct md_store_tx *tx, int rc, const char *what, struct md_err *err);

/* Steps st once and resets it: MD_OK when it finished, else an error as md_store__fail. */
int md_store__exec(struct md_store_tx *tx, sqlite3_stmt *st, const char *what,
                   struct md_err *err) MD_MUST_CHECK;

/*
 * Adds the review item of prediction row p (p->review set), stored under id
 * prediction, unless the model's queue holds p->review_max items already
 * (then counted as dropped). sqlite_review.c; called by sqlite_log.c.
 */
int md_store__review_add(struct md_store_tx *tx, const struct md_store_prediction *p,
                         int64_t prediction, int64_t now_ms, struct md_err *err) MD_MUST_CHECK;

/* ---- encryption at rest (sqlite_crypt.c) ---- */

/* The scratch buffer a sealed or opened value lives in until the next use of its slot. */
enum md_store__cbuf {
    MD_CBUF_KEYS,
    MD_CBUF_FEATURES,
    MD_CBUF_LABEL,
    MD_CBUF_OUTPUTS,
    MD_CBUF_COMMENT,
    MD_CBUF_N
};

/* The associated data of each sealed column: its table and name. */
#define MD_AAD_KEYS     "predictions.keys"
#define MD_AAD_FEATURES "predictions.features"
#define MD_AAD_LABEL    "predictions.label"
#define MD_AAD_OUTPUTS  "predictions.outputs"
#define MD_AAD_FEEDBACK "feedback.comment"
#define MD_AAD_REVIEW   "review_items.comment"

/* A stored lookup value: "hmac-sha256:" and 64 hex digits, and the NUL. */
#define MD_STORE__LOOKUP_PREFIX "hmac-sha256:"
#define MD_STORE__LOOKUP_LEN    (sizeof(MD_STORE__LOOKUP_PREFIX) + 64)

/*
 * Gives connection tx the store's encryption (c, borrowed: it outlives tx):
 * a sealing context, its buffers, and the SQL functions rotation uses.
 */
int md_store__crypt_attach(struct md_store_tx *tx, const struct md_store__crypt *c,
                           struct md_err *err) MD_MUST_CHECK;
/* Frees what md_store__crypt_attach made (md_store__db_close calls it). */
void md_store__crypt_detach(struct md_store_tx *tx);

/*
 * Binds text (NULL: SQL NULL) to parameter i of st: in clear without
 * encryption, else sealed with aad into buffer slot (valid until the slot's
 * next use, so the statement must run before).
 */
int md_store__bind_sealed(struct md_store_tx *tx, sqlite3_stmt *st, int i, enum md_store__cbuf slot,
                          const char *text, const char *aad, struct md_err *err) MD_MUST_CHECK;

/*
 * The text of column i of st's row into *out: NULL for SQL NULL, the text
 * of a value stored in clear, or a sealed value opened with aad into buffer
 * slot (valid until the slot's next use). MD_ENOTFOUND or MD_ECORRUPT when
 * a sealed value cannot be opened (no key file, a key it lacks, altered).
 */
int md_store__column_open(struct md_store_tx *tx, sqlite3_stmt *st, int i, enum md_store__cbuf slot,
                          const char *aad, const char **out, struct md_err *err) MD_MUST_CHECK;

/*
 * The form a key value used for lookups (prediction_keys.value,
 * feedback.key_value) is stored in: the value itself without encryption, or
 * MD_STORE__LOOKUP_PREFIX and the hex HMAC-SHA256 of the value under the
 * store's lookup key, written into out (a value already in that form is
 * kept as it is). Returns value or out.
 */
const char *md_store__lookup(struct md_store_tx *tx, const char *value,
                             char out[MD_STORE__LOOKUP_LEN]);

/* The code a failed md_store__prep left in err (MD_EIO when it left none). */
static inline int md_store__prep_failed(const struct md_err *err)
{
    return err != NULL && err->code != MD_OK ? err->code : MD_EIO;
}

/* A column's text, "" for NULL. */
static inline const char *md_store__column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t != NULL ? (const char *)t : "";
}

/*
 * Steps a query: 1 for a row, 0 at its end, or a negative MD_E* with err
 * set (md_store__fail). The statement is reset at its end and on an error.
 */
static inline int md_store__step(struct md_store_tx *tx, sqlite3_stmt *st, const char *what,
                                 struct md_err *err)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    return md_store__fail(tx, rc, what, err);
}

/* Whether s is a sha256 as the store names artifacts: 64 lower-case hex digits. */
static inline bool md_store__is_sha256(const char *s)
{
    size_t i;

    if (s == NULL)
        return false;
    for (i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[64] == '\0';
}

#endif
