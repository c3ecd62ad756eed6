/* SPDX-License-Identifier: MIT */
/*
 * sqlite_tx.c: the store's records in SQLite, the md_store_tx_* functions of
 * store.h: models, versions (numbers allocated inside the transaction),
 * aliases, traffic policies (compare and set on their revision), rollout
 * strategies, rollouts (one active per model) and their decisions, events.
 * Each function checks what it is given, says in its error what was wrong
 * ("model 'm' has no version 7"), and leaves nothing changed when it fails:
 * the store thread undoes the whole job then. Documents are kept as the
 * text given, unread.
 */
#include "store/sqlite_int.h"

#define EVENTS_LIMIT 100  /* events listed when the filter says 0 */
#define EVENTS_MAX   1000 /* events listed at most */

/* ------------------------------------------------------------- helpers */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* A name the store keeps: not empty, at most MD_STORE_NAME_MAX bytes. */
static int check_name(const char *what, const char *name, struct md_err *err)
{
    size_t n;

    if (name == NULL || name[0] == '\0')
        return md_err_set(err, MD_EINVAL, "%s name is empty", what);
    n = strlen(name);
    if (n > MD_STORE_NAME_MAX)
        return md_err_set(err, MD_EINVAL, "%s name '%.40s...' is longer than %d bytes", what, name,
                          MD_STORE_NAME_MAX);
    return MD_OK;
}

static int check_text(const char *what, const char *text, struct md_err *err)
{
    if (text == NULL)
        return md_err_set(err, MD_EINVAL, "%s is missing", what);
    return MD_OK;
}

/* Records model (a row of models) if the store has none yet. */
static int model_ensure(struct md_store_tx *tx, const char *model, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_MODEL_ENSURE,
                                      "INSERT INTO models (name, created_ms, updated_ms) "
                                      "VALUES (?1, ?2, ?2) ON CONFLICT (name) DO NOTHING",
                                      err);

    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    sqlite3_bind_int64(st, 2, md_store__now_ms());
    return md_store__exec(tx, st, "record a model", err);
}

/* Whether model has version, into *found. */
static int version_find(struct md_store_tx *tx, const char *model, int64_t version, bool *found,
                        struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(
        tx, MD_SQL_VERSION_SHA, "SELECT 1 FROM versions WHERE model = ?1 AND version = ?2", err);
    int rc;

    *found = false;
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    sqlite3_bind_int64(st, 2, version);
    rc = md_store__step(tx, st, "read a version", err);
    if (rc < 0)
        return rc;
    sqlite3_reset(st);
    *found = rc == 1;
    return MD_OK;
}

/* MD_OK when model has version; MD_ENOTFOUND with its message when not. */
static int version_exists(struct md_store_tx *tx, const char *model, int64_t version,
                          struct md_err *err)
{
    bool found;
    int rc = version_find(tx, model, version, &found, err);

    if (rc == MD_OK && !found)
        rc = md_err_set(err, MD_ENOTFOUND, "model '%s' has no version %lld", model,
                        (long long)version);
    return rc;
}

/* ----------------------------------------------------------- versions */

const char *md_store_source_name(enum md_store_source s)
{
    switch (s) {
    case MD_SOURCE_REPOSITORY:
        return "repository";
    case MD_SOURCE_UPLOAD:
        return "upload";
    case MD_SOURCE_TRAINING:
        return "training";
    case MD_SOURCE_SNAPSHOT:
        return "snapshot";
    }
    return "unknown";
}

enum md_store_source md_store_source_parse(const char *name)
{
    static const enum md_store_source all[] = {MD_SOURCE_REPOSITORY, MD_SOURCE_UPLOAD,
                                               MD_SOURCE_TRAINING, MD_SOURCE_SNAPSHOT};

    if (name == NULL)
        return 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(all); i++)
        if (strcmp(name, md_store_source_name(all[i])) == 0)
            return all[i];
    return 0;
}

static int check_version(const struct md_store_version *v, struct md_err *err)
{
    int rc = check_name("model", v->model, err);

    if (rc != MD_OK)
        return rc;
    if (v->version < 0)
        return md_err_set(err, MD_EINVAL, "model '%s': version %lld is below 1", v->model,
                          (long long)v->version);
    if (!md_store__is_sha256(v->sha256))
        return md_err_set(err, MD_EINVAL,
                          "model '%s': sha256 '%.80s' is not 64 lower-case hex digits", v->model,
                          v->sha256 != NULL ? v->sha256 : "");
    if (v->size < 0)
        return md_err_set(err, MD_EINVAL, "model '%s': size %lld is negative", v->model,
                          (long long)v->size);
    if (md_store_source_parse(md_store_source_name(v->source)) == 0)
        return md_err_set(err, MD_EINVAL, "model '%s': source %d is not a source", v->model,
                          (int)v->source);
    if (check_name("engine", v->engine, err) != MD_OK ||
        check_text("artifact", v->artifact, err) != MD_OK)
        return MD_EINVAL;
    if (v->contract_sha256 != NULL && v->contract_sha256[0] != '\0' &&
        !md_store__is_sha256(v->contract_sha256))
        return md_err_set(err, MD_EINVAL,
                          "model '%s': contract_sha256 '%.80s' is not 64 lower-case hex digits",
                          v->model, v->contract_sha256);
    return MD_OK;
}

/* The number to give a new version of model: one above the highest ever registered. */
static int version_next(struct md_store_tx *tx, const char *model, int64_t *number,
                        struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_VERSION_NEXT,
                                      "SELECT max(last_version, coalesce((SELECT max(version) FROM "
                                      "versions WHERE model = ?1), 0)) FROM models WHERE name = ?1",
                                      err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    rc = md_store__step(tx, st, "allocate a version number", err);
    if (rc < 0)
        return rc;
    *number = rc == 1 ? sqlite3_column_int64(st, 0) + 1 : 1;
    sqlite3_reset(st);
    return MD_OK;
}

int md_store_tx_version_add(struct md_store_tx *tx, const struct md_store_version *v,
                            int64_t *number, struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t n = v->version;
    bool taken;
    int rc;

    *number = 0;
    rc = check_version(v, err);
    if (rc == MD_OK)
        rc = model_ensure(tx, v->model, err);
    if (rc == MD_OK && n == 0)
        rc = version_next(tx, v->model, &n, err);
    if (rc != MD_OK)
        return rc;
    rc = version_find(tx, v->model, n, &taken, err);
    if (rc != MD_OK)
        return rc;
    if (taken)
        return md_err_set(err, MD_ECONFLICT, "model '%s' has a version %lld already", v->model,
                          (long long)n);
    st = md_store__prep(tx, MD_SQL_VERSION_INSERT,
                        "INSERT INTO versions (model, version, sha256, size, created_ms, source, "
                        "engine, artifact, metadata, contract, contract_sha256, archived) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, v->model);
    sqlite3_bind_int64(st, 2, n);
    bind_text(st, 3, v->sha256);
    sqlite3_bind_int64(st, 4, v->size);
    sqlite3_bind_int64(st, 5, v->created_ms != 0 ? v->created_ms : md_store__now_ms());
    bind_text(st, 6, md_store_source_name(v->source));
    bind_text(st, 7, v->engine);
    bind_text(st, 8, v->artifact);
    bind_text(st, 9, v->metadata != NULL ? v->metadata : "{}");
    bind_text(st, 10, v->contract != NULL ? v->contract : "");
    bind_text(st, 11, v->contract_sha256 != NULL ? v->contract_sha256 : "");
    sqlite3_bind_int(st, 12, v->archived ? 1 : 0);
    rc = md_store__exec(tx, st, "register a version", err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_MODEL_LAST,
                        "UPDATE models SET last_version = max(last_version, ?2), updated_ms = ?3 "
                        "WHERE name = ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, v->model);
    sqlite3_bind_int64(st, 2, n);
    sqlite3_bind_int64(st, 3, md_store__now_ms());
    rc = md_store__exec(tx, st, "register a version", err);
    if (rc == MD_OK)
        *number = n;
    return rc;
}

int md_store_tx_version_archive(struct md_store_tx *tx, const char *model, int64_t version,
                                bool archived, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("model", model, err);

    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_VERSION_ARCHIVE,
                        "UPDATE versions SET archived = ?3 WHERE model = ?1 AND version = ?2", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int(st, 3, archived ? 1 : 0);
    rc = md_store__exec(tx, st, "archive a version", err);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "model '%s' has no version %lld", model,
                        (long long)version);
    return rc;
}

#define VERSION_COLUMNS                                                                            \
    "model, version, sha256, size, created_ms, source, engine, artifact, metadata, contract, "     \
    "contract_sha256, archived"

/* Calls fn with each row of st (VERSION_COLUMNS); *rows counts them. */
static int version_rows(struct md_store_tx *tx, sqlite3_stmt *st,
                        void (*fn)(void *ctx, const struct md_store_version *v), void *ctx,
                        size_t *rows, struct md_err *err)
{
    int rc;

    *rows = 0;
    while ((rc = md_store__step(tx, st, "read versions", err)) == 1) {
        struct md_store_version v;

        v.model = md_store__column_text(st, 0);
        v.version = sqlite3_column_int64(st, 1);
        v.sha256 = md_store__column_text(st, 2);
        v.size = sqlite3_column_int64(st, 3);
        v.created_ms = sqlite3_column_int64(st, 4);
        v.source = md_store_source_parse(md_store__column_text(st, 5));
        v.engine = md_store__column_text(st, 6);
        v.artifact = md_store__column_text(st, 7);
        v.metadata = md_store__column_text(st, 8);
        v.contract = md_store__column_text(st, 9);
        v.contract_sha256 = md_store__column_text(st, 10);
        v.archived = sqlite3_column_int(st, 11) != 0;
        (*rows)++;
        fn(ctx, &v);
    }
    return rc < 0 ? rc : MD_OK;
}

int md_store_tx_version_get(struct md_store_tx *tx, const char *model, int64_t version,
                            void (*fn)(void *ctx, const struct md_store_version *v), void *ctx,
                            struct md_err *err)
{
    sqlite3_stmt *st;
    size_t rows;
    int rc = check_name("model", model, err);

    if (rc != MD_OK)
        return rc;
    st = md_store__prep(
        tx, MD_SQL_VERSION_GET,
        "SELECT " VERSION_COLUMNS " FROM versions WHERE model = ?1 AND version = ?2", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    sqlite3_bind_int64(st, 2, version);
    rc = version_rows(tx, st, fn, ctx, &rows, err);
    if (rc == MD_OK && rows == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "model '%s' has no version %lld", model,
                        (long long)version);
    return rc;
}

int md_store_tx_versions(struct md_store_tx *tx, const char *model,
                         void (*fn)(void *ctx, const struct md_store_version *v), void *ctx,
                         struct md_err *err)
{
    sqlite3_stmt *st;
    size_t rows;

    if (model == NULL) {
        st =
            md_store__prep(tx, MD_SQL_VERSIONS_ALL,
                           "SELECT " VERSION_COLUMNS " FROM versions ORDER BY model, version", err);
    } else {
        int rc = check_name("model", model, err);

        if (rc != MD_OK)
            return rc;
        st = md_store__prep(
            tx, MD_SQL_VERSIONS_OF,
            "SELECT " VERSION_COLUMNS " FROM versions WHERE model = ?1 ORDER BY version", err);
        if (st != NULL)
            bind_text(st, 1, model);
    }
    if (st == NULL)
        return md_store__prep_failed(err);
    return version_rows(tx, st, fn, ctx, &rows, err);
}

/* ------------------------------------------------------------- models */

int md_store_tx_model_put(struct md_store_tx *tx, const char *model, const char *contract,
                          struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("model", model, err);

    if (rc == MD_OK)
        rc = check_text("the contract", contract, err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_MODEL_PUT,
                        "INSERT INTO models (name, contract, created_ms, updated_ms) "
                        "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE SET "
                        "contract = excluded.contract, updated_ms = excluded.updated_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    bind_text(st, 2, contract);
    sqlite3_bind_int64(st, 3, md_store__now_ms());
    return md_store__exec(tx, st, "store a model", err);
}

int md_store_tx_models(struct md_store_tx *tx,
                       void (*fn)(void *ctx, const char *model, const char *contract), void *ctx,
                       struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(
        tx, MD_SQL_MODELS,
        "SELECT name, contract FROM models WHERE contract IS NOT NULL ORDER BY name", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = md_store__step(tx, st, "read models", err)) == 1)
        fn(ctx, md_store__column_text(st, 0), md_store__column_text(st, 1));
    return rc < 0 ? rc : MD_OK;
}

/* ------------------------------------------------------------ aliases */

int md_store_tx_alias_set(struct md_store_tx *tx, const char *model, const char *alias,
                          int64_t version, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("model", model, err);

    if (rc == MD_OK)
        rc = check_name("alias", alias, err);
    if (rc == MD_OK && version < 0)
        rc = md_err_set(err, MD_EINVAL, "alias '%s' of model '%s': version %lld is below 1", alias,
                        model, (long long)version);
    if (rc != MD_OK)
        return rc;
    if (version == 0) {
        st = md_store__prep(tx, MD_SQL_ALIAS_DELETE,
                            "DELETE FROM aliases WHERE model = ?1 AND alias = ?2", err);
        if (st == NULL)
            return md_store__prep_failed(err);
        bind_text(st, 1, model);
        bind_text(st, 2, alias);
        rc = md_store__exec(tx, st, "remove an alias", err);
        if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
            rc = md_err_set(err, MD_ENOTFOUND, "alias '%s' of model '%s' does not exist", alias,
                            model);
        return rc;
    }
    rc = version_exists(tx, model, version, err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_ALIAS_PUT,
                        "INSERT INTO aliases (model, alias, version, updated_ms) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model, alias) DO UPDATE SET "
                        "version = excluded.version, updated_ms = excluded.updated_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    bind_text(st, 2, alias);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_int64(st, 4, md_store__now_ms());
    return md_store__exec(tx, st, "set an alias", err);
}

int md_store_tx_aliases(struct md_store_tx *tx, const char *model,
                        void (*fn)(void *ctx, const char *model, const char *alias,
                                   int64_t version),
                        void *ctx, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (model == NULL) {
        st = md_store__prep(tx, MD_SQL_ALIASES_ALL,
                            "SELECT model, alias, version FROM aliases ORDER BY model, alias", err);
    } else {
        rc = check_name("model", model, err);
        if (rc != MD_OK)
            return rc;
        st = md_store__prep(tx, MD_SQL_ALIASES_OF,
                            "SELECT model, alias, version FROM aliases WHERE model = ?1 "
                            "ORDER BY alias",
                            err);
        if (st != NULL)
            bind_text(st, 1, model);
    }
    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = md_store__step(tx, st, "read aliases", err)) == 1)
        fn(ctx, md_store__column_text(st, 0), md_store__column_text(st, 1),
           sqlite3_column_int64(st, 2));
    return rc < 0 ? rc : MD_OK;
}

/* ----------------------------------------------------------- policies */

/* The revision of model's policy now; 0 when it has none. */
static int policy_revision(struct md_store_tx *tx, const char *model, int64_t *revision,
                           struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_POLICY_REVISION,
                                      "SELECT revision FROM policies WHERE model = ?1", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    rc = md_store__step(tx, st, "read a policy", err);
    if (rc < 0)
        return rc;
    *revision = rc == 1 ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return MD_OK;
}

int md_store_tx_policy_put(struct md_store_tx *tx, const char *model, const char *policy,
                           int64_t expect, int64_t *revision, struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t now = 0;
    int rc;

    *revision = 0;
    rc = check_name("model", model, err);
    if (rc == MD_OK)
        rc = check_text("the policy", policy, err);
    if (rc == MD_OK && expect < -1)
        rc = md_err_set(err, MD_EINVAL, "the policy of model '%s': revision %lld is below 0", model,
                        (long long)expect);
    if (rc == MD_OK)
        rc = policy_revision(tx, model, &now, err);
    if (rc != MD_OK)
        return rc;
    if (expect >= 0 && expect != now) {
        if (now == 0)
            return md_err_set(err, MD_ECONFLICT,
                              "model '%s' has no policy yet, not one at revision %lld", model,
                              (long long)expect);
        if (expect == 0)
            return md_err_set(err, MD_ECONFLICT, "model '%s' has a policy already (revision %lld)",
                              model, (long long)now);
        return md_err_set(err, MD_ECONFLICT,
                          "the policy of model '%s' is at revision %lld, not %lld", model,
                          (long long)now, (long long)expect);
    }
    rc = model_ensure(tx, model, err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_POLICY_PUT,
                        "INSERT INTO policies (model, policy, revision, updated_ms) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model) DO UPDATE SET "
                        "policy = excluded.policy, revision = excluded.revision, "
                        "updated_ms = excluded.updated_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    bind_text(st, 2, policy);
    sqlite3_bind_int64(st, 3, now + 1);
    sqlite3_bind_int64(st, 4, md_store__now_ms());
    rc = md_store__exec(tx, st, "store a policy", err);
    if (rc == MD_OK)
        *revision = now + 1;
    return rc;
}

int md_store_tx_policy_get(struct md_store_tx *tx, const char *model,
                           void (*fn)(void *ctx, const char *policy, int64_t revision,
                                      int64_t updated_ms),
                           void *ctx, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("model", model, err);

    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_POLICY_GET,
                        "SELECT policy, revision, updated_ms FROM policies WHERE model = ?1", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    rc = md_store__step(tx, st, "read a policy", err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no policy", model);
    fn(ctx, md_store__column_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    return MD_OK;
}

int md_store_tx_policies(struct md_store_tx *tx,
                         void (*fn)(void *ctx, const char *model, const char *policy,
                                    int64_t revision, int64_t updated_ms),
                         void *ctx, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(
        tx, MD_SQL_POLICIES,
        "SELECT model, policy, revision, updated_ms FROM policies ORDER BY model", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = md_store__step(tx, st, "read policies", err)) == 1)
        fn(ctx, md_store__column_text(st, 0), md_store__column_text(st, 1),
           sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3));
    return rc < 0 ? rc : MD_OK;
}

/* --------------------------------------------------------- strategies */

int md_store_tx_strategy_put(struct md_store_tx *tx, const char *name, const char *strategy,
                             struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("strategy", name, err);

    if (rc == MD_OK)
        rc = check_text("the strategy", strategy, err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_STRATEGY_PUT,
                        "INSERT INTO strategies (name, strategy, updated_ms) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT (name) DO UPDATE SET strategy = excluded.strategy, "
                        "updated_ms = excluded.updated_ms",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, name);
    bind_text(st, 2, strategy);
    sqlite3_bind_int64(st, 3, md_store__now_ms());
    return md_store__exec(tx, st, "store a strategy", err);
}

int md_store_tx_strategy_delete(struct md_store_tx *tx, const char *name, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("strategy", name, err);

    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_STRATEGY_DELETE, "DELETE FROM strategies WHERE name = ?1", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, name);
    rc = md_store__exec(tx, st, "remove a strategy", err);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "strategy '%s' does not exist", name);
    return rc;
}

int md_store_tx_strategies(struct md_store_tx *tx, const char *name,
                           void (*fn)(void *ctx, const char *name, const char *strategy), void *ctx,
                           struct md_err *err)
{
    sqlite3_stmt *st;
    size_t rows = 0;
    int rc;

    if (name == NULL) {
        st = md_store__prep(tx, MD_SQL_STRATEGIES_ALL,
                            "SELECT name, strategy FROM strategies ORDER BY name", err);
    } else {
        rc = check_name("strategy", name, err);
        if (rc != MD_OK)
            return rc;
        st = md_store__prep(tx, MD_SQL_STRATEGY_GET,
                            "SELECT name, strategy FROM strategies WHERE name = ?1", err);
        if (st != NULL)
            bind_text(st, 1, name);
    }
    if (st == NULL)
        return md_store__prep_failed(err);
    while ((rc = md_store__step(tx, st, "read strategies", err)) == 1) {
        rows++;
        fn(ctx, md_store__column_text(st, 0), md_store__column_text(st, 1));
    }
    if (rc < 0)
        return rc;
    if (name != NULL && rows == 0)
        return md_err_set(err, MD_ENOTFOUND, "strategy '%s' does not exist", name);
    return MD_OK;
}

/* ----------------------------------------------------------- rollouts */

/* The active rollout of model into *id (0 when none). */
static int rollout_active(struct md_store_tx *tx, const char *model, int64_t *id,
                          struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(
        tx, MD_SQL_ROLLOUT_ACTIVE, "SELECT id FROM rollouts WHERE model = ?1 AND active <> 0", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, model);
    rc = md_store__step(tx, st, "read rollouts", err);
    if (rc < 0)
        return rc;
    *id = rc == 1 ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return MD_OK;
}

int md_store_tx_rollout_add(struct md_store_tx *tx, const struct md_store_rollout *r, int64_t *id,
                            struct md_err *err)
{
    sqlite3_stmt *st;
    int64_t other = 0;
    int64_t now;
    int rc;

    *id = 0;
    rc = check_name("model", r->model, err);
    if (rc == MD_OK && r->candidate < 1)
        rc = md_err_set(err, MD_EINVAL, "rollout of model '%s': candidate version %lld is below 1",
                        r->model, (long long)r->candidate);
    if (rc == MD_OK)
        rc = check_name("phase", r->phase, err);
    if (rc == MD_OK)
        rc = check_text("the rollout's spec", r->spec, err);
    if (rc == MD_OK)
        rc = check_text("the rollout's state", r->state, err);
    if (rc == MD_OK)
        rc = version_exists(tx, r->model, r->candidate, err);
    if (rc == MD_OK && r->active)
        rc = rollout_active(tx, r->model, &other, err);
    if (rc != MD_OK)
        return rc;
    if (other != 0)
        return md_err_set(err, MD_ECONFLICT, "model '%s' has an active rollout already (%lld)",
                          r->model, (long long)other);
    st = md_store__prep(tx, MD_SQL_ROLLOUT_INSERT,
                        "INSERT INTO rollouts (model, candidate, phase, active, spec, state, "
                        "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    now = md_store__now_ms();
    bind_text(st, 1, r->model);
    sqlite3_bind_int64(st, 2, r->candidate);
    bind_text(st, 3, r->phase);
    sqlite3_bind_int(st, 4, r->active ? 1 : 0);
    bind_text(st, 5, r->spec);
    bind_text(st, 6, r->state);
    sqlite3_bind_int64(st, 7, r->created_ms != 0 ? r->created_ms : now);
    sqlite3_bind_int64(st, 8, r->updated_ms != 0 ? r->updated_ms : now);
    rc = md_store__exec(tx, st, "add a rollout", err);
    if (rc == MD_OK)
        *id = sqlite3_last_insert_rowid(tx->db);
    return rc;
}

int md_store_tx_rollout_update(struct md_store_tx *tx, int64_t id, const char *phase, bool active,
                               const char *state, int64_t updated_ms, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_name("phase", phase, err);

    if (rc == MD_OK)
        rc = check_text("the rollout's state", state, err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_ROLLOUT_UPDATE,
                        "UPDATE rollouts SET phase = ?2, active = ?3, state = ?4, updated_ms = ?5 "
                        "WHERE id = ?1",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, phase);
    sqlite3_bind_int(st, 3, active ? 1 : 0);
    bind_text(st, 4, state);
    sqlite3_bind_int64(st, 5, updated_ms != 0 ? updated_ms : md_store__now_ms());
    rc = md_store__exec(tx, st, "update a rollout", err);
    if (rc == MD_ECONFLICT)
        return md_err_set(err, MD_ECONFLICT,
                          "rollout %lld cannot be active: its model has another active rollout",
                          (long long)id);
    if (rc == MD_OK && sqlite3_changes(tx->db) == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "rollout %lld does not exist", (long long)id);
    return rc;
}

#define ROLLOUT_COLUMNS "id, model, candidate, phase, active, spec, state, created_ms, updated_ms"

static int rollout_rows(struct md_store_tx *tx, sqlite3_stmt *st,
                        void (*fn)(void *ctx, const struct md_store_rollout *r), void *ctx,
                        size_t *rows, struct md_err *err)
{
    int rc;

    *rows = 0;
    while ((rc = md_store__step(tx, st, "read rollouts", err)) == 1) {
        struct md_store_rollout r;

        r.id = sqlite3_column_int64(st, 0);
        r.model = md_store__column_text(st, 1);
        r.candidate = sqlite3_column_int64(st, 2);
        r.phase = md_store__column_text(st, 3);
        r.active = sqlite3_column_int(st, 4) != 0;
        r.spec = md_store__column_text(st, 5);
        r.state = md_store__column_text(st, 6);
        r.created_ms = sqlite3_column_int64(st, 7);
        r.updated_ms = sqlite3_column_int64(st, 8);
        (*rows)++;
        fn(ctx, &r);
    }
    return rc < 0 ? rc : MD_OK;
}

int md_store_tx_rollouts(struct md_store_tx *tx, const char *model, bool active_only, size_t limit,
                         void (*fn)(void *ctx, const struct md_store_rollout *r), void *ctx,
                         struct md_err *err)
{
    sqlite3_stmt *st;
    size_t rows;

    if (model != NULL) {
        int rc = check_name("model", model, err);

        if (rc != MD_OK)
            return rc;
    }
    st = md_store__prep(tx, MD_SQL_ROLLOUTS,
                        "SELECT " ROLLOUT_COLUMNS " FROM rollouts "
                        "WHERE (?1 IS NULL OR model = ?1) AND (?2 = 0 OR active <> 0) "
                        "ORDER BY id DESC LIMIT ?3",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    if (model != NULL)
        bind_text(st, 1, model);
    sqlite3_bind_int(st, 2, active_only ? 1 : 0);
    sqlite3_bind_int64(st, 3, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    return rollout_rows(tx, st, fn, ctx, &rows, err);
}

int md_store_tx_rollout_get(struct md_store_tx *tx, int64_t id,
                            void (*fn)(void *ctx, const struct md_store_rollout *r), void *ctx,
                            struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(
        tx, MD_SQL_ROLLOUT_GET, "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE id = ?1", err);
    size_t rows;
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    rc = rollout_rows(tx, st, fn, ctx, &rows, err);
    if (rc == MD_OK && rows == 0)
        rc = md_err_set(err, MD_ENOTFOUND, "rollout %lld does not exist", (long long)id);
    return rc;
}

static int rollout_exists(struct md_store_tx *tx, int64_t id, struct md_err *err)
{
    sqlite3_stmt *st =
        md_store__prep(tx, MD_SQL_ROLLOUT_EXISTS, "SELECT 1 FROM rollouts WHERE id = ?1", err);
    int rc;

    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, id);
    rc = md_store__step(tx, st, "read rollouts", err);
    if (rc < 0)
        return rc;
    sqlite3_reset(st);
    if (rc == 0)
        return md_err_set(err, MD_ENOTFOUND, "rollout %lld does not exist", (long long)id);
    return MD_OK;
}

int md_store_tx_decision_add(struct md_store_tx *tx, int64_t rollout, int64_t at_ms,
                             const char *decision, struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = check_text("the decision", decision, err);

    if (rc == MD_OK)
        rc = rollout_exists(tx, rollout, err);
    if (rc != MD_OK)
        return rc;
    st =
        md_store__prep(tx, MD_SQL_DECISION_INSERT,
                       "INSERT INTO decisions (rollout, at_ms, decision) VALUES (?1, ?2, ?3)", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, rollout);
    sqlite3_bind_int64(st, 2, at_ms != 0 ? at_ms : md_store__now_ms());
    bind_text(st, 3, decision);
    return md_store__exec(tx, st, "add a decision", err);
}

int md_store_tx_decisions(struct md_store_tx *tx, int64_t rollout,
                          void (*fn)(void *ctx, int64_t at_ms, const char *decision), void *ctx,
                          struct md_err *err)
{
    sqlite3_stmt *st;
    int rc = rollout_exists(tx, rollout, err);

    if (rc != MD_OK)
        return rc;
    st =
        md_store__prep(tx, MD_SQL_DECISIONS,
                       "SELECT at_ms, decision FROM decisions WHERE rollout = ?1 ORDER BY id", err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, rollout);
    while ((rc = md_store__step(tx, st, "read decisions", err)) == 1)
        fn(ctx, sqlite3_column_int64(st, 0), md_store__column_text(st, 1));
    return rc < 0 ? rc : MD_OK;
}

/* ------------------------------------------------------------- events */

int md_store_tx_event_add(struct md_store_tx *tx, const struct md_store_event *e, int64_t *id,
                          struct md_err *err)
{
    sqlite3_stmt *st;
    const char *model = e->model != NULL ? e->model : "";
    int rc = check_name("event kind", e->kind, err);

    if (id != NULL)
        *id = 0;
    if (rc == MD_OK && model[0] != '\0')
        rc = check_name("model", model, err);
    if (rc != MD_OK)
        return rc;
    st = md_store__prep(tx, MD_SQL_EVENT_INSERT,
                        "INSERT INTO events (at_ms, model, kind, message, details) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
                        err);
    if (st == NULL)
        return md_store__prep_failed(err);
    sqlite3_bind_int64(st, 1, e->at_ms != 0 ? e->at_ms : md_store__now_ms());
    bind_text(st, 2, model);
    bind_text(st, 3, e->kind);
    bind_text(st, 4, e->message != NULL ? e->message : "");
    bind_text(st, 5, e->details != NULL ? e->details : "{}");
    rc = md_store__exec(tx, st, "add an event", err);
    if (rc == MD_OK && id != NULL)
        *id = sqlite3_last_insert_rowid(tx->db);
    return rc;
}

#define EVENT_SELECT "SELECT id, at_ms, model, kind, message, details FROM events "
#define EVENT_BOUNDS                                                                               \
    "(?3 = 0 OR at_ms >= ?3) AND (?4 = 0 OR at_ms < ?4) AND (?5 = 0 OR id < ?5) "                  \
    "ORDER BY id DESC LIMIT ?6"

int md_store_tx_events(struct md_store_tx *tx, const struct md_store_event_filter *f,
                       void (*fn)(void *ctx, const struct md_store_event *e), void *ctx,
                       struct md_err *err)
{
    /* A statement per filter, so that each can use its index. */
    bool by_model = f->model != NULL && f->model[0] != '\0';
    bool by_kind = f->kind != NULL && f->kind[0] != '\0';
    size_t limit = f->limit == 0 ? EVENTS_LIMIT : f->limit > EVENTS_MAX ? EVENTS_MAX : f->limit;
    sqlite3_stmt *st;
    int rc;

    if (by_model && by_kind)
        st = md_store__prep(tx, MD_SQL_EVENTS_BOTH,
                            EVENT_SELECT "WHERE model = ?1 AND kind = ?2 AND " EVENT_BOUNDS, err);
    else if (by_model)
        st = md_store__prep(tx, MD_SQL_EVENTS_MODEL,
                            EVENT_SELECT "WHERE model = ?1 AND ?2 IS NULL "
                                         "AND " EVENT_BOUNDS,
                            err);
    else if (by_kind)
        st = md_store__prep(tx, MD_SQL_EVENTS_KIND,
                            EVENT_SELECT "WHERE ?1 IS NULL AND kind = ?2 AND " EVENT_BOUNDS, err);
    else
        st = md_store__prep(tx, MD_SQL_EVENTS_ALL,
                            EVENT_SELECT "WHERE ?1 IS NULL AND ?2 IS NULL AND " EVENT_BOUNDS, err);
    if (st == NULL)
        return md_store__prep_failed(err);
    if (by_model)
        bind_text(st, 1, f->model);
    if (by_kind)
        bind_text(st, 2, f->kind);
    sqlite3_bind_int64(st, 3, f->since_ms);
    sqlite3_bind_int64(st, 4, f->until_ms);
    sqlite3_bind_int64(st, 5, f->before_id);
    sqlite3_bind_int64(st, 6, (int64_t)limit);
    while ((rc = md_store__step(tx, st, "read events", err)) == 1) {
        struct md_store_event e;

        e.id = sqlite3_column_int64(st, 0);
        e.at_ms = sqlite3_column_int64(st, 1);
        e.model = md_store__column_text(st, 2);
        e.kind = md_store__column_text(st, 3);
        e.message = md_store__column_text(st, 4);
        e.details = md_store__column_text(st, 5);
        fn(ctx, &e);
    }
    return rc < 0 ? rc : MD_OK;
}

/* ---------------------------------------------------------- artifacts */

int md_store__sha_named(struct md_store_tx *tx, const char *sha256, bool *named, struct md_err *err)
{
    sqlite3_stmt *st = md_store__prep(tx, MD_SQL_SHA_NAMED,
                                      "SELECT 1 FROM versions WHERE sha256 = ?1 UNION ALL "
                                      "SELECT 1 FROM datasets WHERE sha256 = ?1 LIMIT 1",
                                      err);
    int rc;

    *named = false;
    if (st == NULL)
        return md_store__prep_failed(err);
    bind_text(st, 1, sha256);
    rc = md_store__step(tx, st, "read versions", err);
    if (rc < 0)
        return rc;
    sqlite3_reset(st);
    *named = rc == 1;
    return MD_OK;
}
