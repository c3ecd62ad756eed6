/* SPDX-License-Identifier: MIT */
/*
 * test_erase.c: privacy's parts below the API: the subject key (made 0600
 * in the data directory, read from a key file, refused when others may
 * read it or it is short) and its hash (against a reference HMAC); a
 * subject's rows erased from the store with their keys, review items and
 * feedback (by row and by the subject's id), nothing of another subject's;
 * the retention of feedback and review items by age; the TRUNCATE
 * checkpoint (only from the store thread) leaving an empty write-ahead
 * log; the scrub of training sets on disk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <semaphore.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "learn/scrub.h"
#include "store/store.h"
#include "util/keyfile.h"
#include "util/mem.h"
#include "watch/subject.h"
#include "store_fixture.h"

#define A_HASH "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B_HASH "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fx {
    char dir[64];
    char db[128];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));

    store_fx_make("erase", f->dir, f->db, &f->s);
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

/* ---- the rows --------------------------------------------------------------------- */

static int add_rows(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    static const struct md_store_key a_keys[] = {{"user", "alice"}, {"txn", "t1"}};
    static const struct md_store_key b_keys[] = {{"user", "bob"}, {"txn", "t2"}};
    struct md_store_prediction p[4];

    (void)ctx;
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 4; i++) {
        p[i].model = "m";
        p[i].version = 1;
        p[i].route = "stable";
        p[i].status = 200;
        p[i].score = 0.5;
        p[i].review = "all";
        p[i].review_max = 100;
        p[i].features = "{\"x\":1}";
    }
    p[0].request_id = "a1", p[0].row = 0, p[0].subject = A_HASH;
    p[1].request_id = "a1", p[1].row = 1, p[1].subject = A_HASH;
    p[2].request_id = "b1", p[2].row = 0, p[2].subject = B_HASH;
    p[3].request_id = "n1", p[3].row = 0, p[3].subject = NULL;
    p[0].key_list = a_keys, p[0].n_keys = 2, p[0].keys = "{\"user\":\"alice\",\"txn\":\"t1\"}";
    p[1].key_list = a_keys, p[1].n_keys = 2, p[1].keys = "{\"user\":\"alice\",\"txn\":\"t1\"}";
    p[2].key_list = b_keys, p[2].n_keys = 2, p[2].keys = "{\"user\":\"bob\",\"txn\":\"t2\"}";
    return md_store_tx_predictions_add(tx, p, 4, err);
}

struct erase_call {
    const char *subject;
    const char *id;
    struct md_store_erased out;
    char seen[8][16];
    int n_seen;
};

static void seen_row(void *ctx, const char *request_id, int64_t row)
{
    struct erase_call *c = ctx;

    if (c->n_seen < 8)
        snprintf(c->seen[c->n_seen++], 16, "%s/%lld", request_id, (long long)row);
}

static int run_erase(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct erase_call *c = ctx;

    return md_store_tx_subject_erase(tx, c->subject, c->id, seen_row, c, &c->out, err);
}

static int run_count(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_subject_count(tx, A_HASH, ctx, err);
}

static void test_erase_removes_one_subject(void **state)
{
    struct fx *f = *state;
    struct erase_call c = {A_HASH, "alice", {0}, {{0}}, 0};
    struct md_err err;
    int64_t n = -1;

    assert_int_equal(md_store_call(f->s, add_rows, NULL, &err), MD_OK);
    assert_int_equal(md_store_call(f->s, run_count, &n, &err), MD_OK);
    assert_int_equal(n, 2);
    /* Feedback: a1's row 0 by row, a1 by txn (attached), alice's id as a key (pending),
     * b1's by row, an unrelated pending one. */
    sql_exec(f->db,
             "INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms) VALUES "
             "('m', 'a1', 0, 'label', 'y', 'user', 1);"
             "INSERT INTO feedback (model, request_id, row, key_name, key_value, kind, label, "
             "source, at_ms) VALUES ('m', 'a1', 1, 'txn', 't1', 'label', 'y', 'user', 1);"
             "INSERT INTO feedback (model, key_name, key_value, kind, value, source, at_ms, "
             "state) VALUES ('m', 'user', 'alice', 'reward', 1, 'user', 1, 'pending');"
             "INSERT INTO feedback (model, key_name, key_value, kind, value, source, at_ms, "
             "state) VALUES ('other', 'user', 'alice', 'reward', 1, 'user', 1, 'pending');"
             "INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms) VALUES "
             "('m', 'b1', 0, 'label', 'n', 'user', 1);");
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM review_items"), 4);

    assert_int_equal(md_store_call(f->s, run_erase, &c, &err), MD_OK);
    assert_int_equal(c.out.predictions, 2);
    assert_int_equal(c.out.prediction_keys, 4);
    assert_int_equal(c.out.review_items, 2);
    assert_int_equal(c.out.feedback, 3);
    assert_int_equal(c.n_seen, 2);
    assert_int_equal(md_store_call(f->s, run_count, &n, &err), MD_OK);
    assert_int_equal(n, 0);
    assert_string_equal(c.seen[0], "a1/0");
    assert_string_equal(c.seen[1], "a1/1");
    assert_int_equal(
        sql_int(f->db, "SELECT count(*) FROM predictions WHERE subject = '" A_HASH "'"), 0);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions"), 2);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM prediction_keys"), 2);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM review_items"), 2);
    /* bob's and the other model's (no row of alice there names the key) stay. */
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback"), 2);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback WHERE model = 'other'"), 1);
    c.subject = B_HASH;
    assert_int_equal(md_store_call(f->s, run_erase, &c, &err), MD_OK);
    assert_int_equal(c.out.predictions, 1);
    assert_int_equal(c.out.feedback, 1);
    c.subject = "short";
    assert_int_equal(md_store_call(f->s, run_erase, &c, &err), MD_EINVAL);
    assert_string_equal(err.msg, "a subject hash is 64 hex digits");
    /* The row without a subject is never touched. */
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE subject IS NULL"), 1);
}

/* ---- retention -------------------------------------------------------------------- */

struct expire_call {
    int64_t before_ms;
    size_t chunk;
    int64_t feedback;
    int64_t review;
};

static int run_expire(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct expire_call *c = ctx;

    return md_store_tx_feedback_expire(tx, c->before_ms, c->chunk, &c->feedback, &c->review, err);
}

static void test_feedback_and_review_expire(void **state)
{
    struct fx *f = *state;
    struct expire_call c = {1000, 3, 0, 0};
    struct md_err err;

    sql_exec(f->db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
                    "INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms) "
                    "SELECT 'm', 'r' || i, 0, 'label', 'y', 'user', i * 100 FROM n;"
                    "INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms) "
                    "VALUES ('m', 'late', 0, 'label', 'y', 'user', 5000);"
                    "INSERT INTO review_items (model, prediction, request_id, row, version, "
                    "reason, created_ms) VALUES ('m', 1, 'r1', 0, 1, 'all', 10), "
                    "('m', 2, 'r2', 0, 1, 'all', 9000);");
    /* A chunk of 3: the three lowest ids, all old. */
    assert_int_equal(md_store_call(f->s, run_expire, &c, &err), MD_OK);
    assert_int_equal(c.feedback, 3);
    assert_int_equal(c.review, 1);
    assert_int_equal(md_store_call(f->s, run_expire, &c, &err), MD_OK);
    assert_int_equal(c.feedback, 2);
    assert_int_equal(c.review, 0);
    assert_int_equal(md_store_call(f->s, run_expire, &c, &err), MD_OK);
    assert_int_equal(c.feedback, 0);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback"), 1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM review_items"), 1);
    c.chunk = 0;
    assert_int_equal(md_store_call(f->s, run_expire, &c, &err), MD_OK);
    assert_int_equal(c.feedback, 0);
}

/* ---- the checkpoint --------------------------------------------------------------- */

struct ckpt_job {
    struct md_store_job job;
    struct md_store *s;
    struct md_store_checkpoint ck;
    int rc;
    sem_t done;
};

static int ckpt_write(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)ctx;
    return add_rows(tx, NULL, err);
}

static void ckpt_done(void *ctx, int code, const struct md_err *err)
{
    struct ckpt_job *j = ctx;
    struct md_err e;

    (void)err;
    assert_int_equal(code, MD_OK);
    j->rc = md_store_checkpoint(j->s, &j->ck, &e);
    sem_post(&j->done);
}

static void test_checkpoint_empties_the_log(void **state)
{
    struct fx *f = *state;
    struct ckpt_job j;
    struct md_store_checkpoint ck;
    struct md_err err;
    char wal[128];
    struct stat st;

    memset(&j, 0, sizeof(j));
    j.s = f->s;
    sem_init(&j.done, 0, 0);
    /* Off the store thread: refused. */
    assert_int_equal(md_store_checkpoint(f->s, &ck, &err), MD_EINTERNAL);
    j.job.run = ckpt_write;
    j.job.done = ckpt_done;
    j.job.ctx = &j;
    md_store_submit(f->s, &j.job);
    sem_wait(&j.done);
    sem_destroy(&j.done);
    assert_int_equal(j.rc, MD_OK);
    assert_true(j.ck.complete);
    assert_int_equal(j.ck.log_frames, 0);
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_string_equal(md_store_dir(f->s), f->dir);
}

/* ---- training sets ---------------------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path)
{
    static char buf[4096];
    FILE *fp = fopen(path, "r");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_scrub_training_sets(void **state)
{
    struct fx *f = *state;
    struct md_scrub_row rows[] = {{"a1", 0}, {"a\"q", 1}};
    struct md_scrub_counts sc;
    struct md_err err;
    char path[160];
    char hold[160];

    /* No trainings directory: nothing to do. */
    assert_int_equal(md_scrub_training_sets(f->dir, rows, 2, &sc, &err), MD_OK);
    assert_int_equal(sc.files, 0);
    snprintf(path, sizeof(path), "%s/trainings", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/trainings/7", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/trainings/7/train.jsonl", f->dir);
    snprintf(hold, sizeof(hold), "%s/trainings/7/holdout.jsonl", f->dir);
    write_text(path, "{\"features\":{},\"label\":\"y\",\"request_id\":\"a1\",\"row\":0}\n"
                     "{\"features\":{},\"label\":\"y\",\"request_id\":\"a1\",\"row\":1}\n"
                     "{\"features\":{},\"label\":\"y\",\"request_id\":\"a\\\"q\",\"row\":1}\n"
                     "{\"features\":{},\"label\":\"y\",\"source\":\"base\",\"at_ms\":0}\n");
    write_text(hold, "{\"features\":{},\"label\":\"n\",\"request_id\":\"b1\",\"row\":0}\n");
    assert_int_equal(md_scrub_training_sets(f->dir, rows, 2, &sc, &err), MD_OK);
    assert_int_equal(sc.files, 2);
    assert_int_equal(sc.changed, 1);
    assert_int_equal(sc.lines, 2);
    assert_string_equal(read_text(path),
                        "{\"features\":{},\"label\":\"y\",\"request_id\":\"a1\",\"row\":1}\n"
                        "{\"features\":{},\"label\":\"y\",\"source\":\"base\",\"at_ms\":0}\n");
    assert_string_equal(read_text(hold),
                        "{\"features\":{},\"label\":\"n\",\"request_id\":\"b1\",\"row\":0}\n");
    /* No rows: nothing read. */
    assert_int_equal(md_scrub_training_sets(f->dir, rows, 0, &sc, &err), MD_OK);
    assert_int_equal(sc.files, 0);
}

/* ---- the subject key -------------------------------------------------------------- */

static void test_subject_key(void **state)
{
    struct fx *f = *state;
    struct md_subject_key *k = NULL;
    struct md_subject_key *k2 = NULL;
    struct md_err err;
    bool created = false;
    char path[160];
    char h1[65];
    char h2[65];
    struct stat st;

    assert_int_equal(md_subject_key_load(NULL, f->dir, &k, &created, &err), MD_OK);
    assert_true(created);
    snprintf(path, sizeof(path), "%s/subject.key", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(md_subject_key_load(NULL, f->dir, &k2, &created, &err), MD_OK);
    assert_false(created);
    md_subject_hash(k, "alice", 5, h1);
    md_subject_hash(k2, "alice", 5, h2);
    assert_string_equal(h1, h2);
    md_subject_hash(k2, "alicf", 5, h2);
    assert_string_not_equal(h1, h2);
    md_subject_key_free(k);
    md_subject_key_free(k2);
    md_subject_key_free(NULL);

    /* A key file of its own: the reference HMAC (Python's hmac). */
    snprintf(path, sizeof(path), "%s/own.key", f->dir);
    assert_int_equal(md_keyfile_write(path, "0123456789abcdef0123\n", 21, &err), MD_OK);
    assert_int_equal(md_subject_key_load(path, NULL, &k, &created, &err), MD_OK);
    assert_false(created);
    md_subject_hash(k, "alice", 5, h1);
    assert_string_equal(h1, "008325136b33f987eae0d1b267e1a1544748c9f73dfded64e0a263bcddb813a1");
    md_subject_key_free(k);
    /* Others may read it: refused, naming the fix. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(md_subject_key_load(path, NULL, &k, &created, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_null(k);
    /* Too short. */
    snprintf(path, sizeof(path), "%s/short.key", f->dir);
    assert_int_equal(md_keyfile_write(path, "tooshort", 8, &err), MD_OK);
    assert_int_equal(md_subject_key_load(path, NULL, &k, &created, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "8 bytes; a key has at least 16"));
    /* No key file and no directory. */
    assert_int_equal(md_subject_key_load(NULL, NULL, &k, &created, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "no --subject-key-file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_erase_removes_one_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feedback_and_review_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_empties_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scrub_training_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject_key, setup, teardown),
    };

    return cmocka_run_group_tests_name("erase", tests, NULL, NULL);
}
