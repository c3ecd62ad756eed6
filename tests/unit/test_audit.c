/* SPDX-License-Identifier: MIT */
/*
 * test_audit.c: the store's audit chain (store/sqlite_audit.c) on a real
 * store in a temporary directory: entries appended with ids from 1, each MAC
 * the HMAC-SHA256 of its canonical text and the previous MAC (computed here
 * again with OpenSSL); nothing recorded without a key; the listing's
 * filters and paging; the subject hash; and verify on a chain tampered
 * with through a second SQLite connection: an entry edited, removed,
 * swapped, added, the tail cut off (with and without the head record), a
 * head record edited, another key. Each names the first bad entry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store/store.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char key[] = "0123456789abcdef0123456789abcdef";

struct fixture {
    char dir[64];
    char db[96];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct md_err err;
    char id[MD_AUDIT_KEY_ID_MAX];

    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/md-audit-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    (void)snprintf(f->db, sizeof(f->db), "%s/modeld.db", f->dir);
    if (md_store_open(f->dir, &f->s, &err) != MD_OK)
        return -1;
    if (md_store_audit_key(f->s, key, strlen(key), id, &err) != MD_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    md_store_close(f->s);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

struct add_args {
    const struct md_store_audit *e;
    int64_t id;
};

static int run_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct add_args *a = ctx;

    return md_store_tx_audit_add(tx, a->e, &a->id, err);
}

/* Appends an entry by actor on target; returns its id. */
static int64_t add(struct md_store *s, const char *actor, const char *action, const char *target,
                   int64_t at_ms)
{
    struct md_store_audit e = {0,           at_ms, actor,       action, target,
                               "127.0.0.1", "200", "{\"n\":1}", NULL,   NULL};
    struct add_args a = {&e, 0};
    struct md_err err;

    assert_int_equal(md_store_call(s, run_add, &a, &err), MD_OK);
    return a.id;
}

static int run_verify(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_audit_verify(tx, ctx, err);
}

static struct md_store_audit_check verify(struct md_store *s)
{
    struct md_store_audit_check c;
    struct md_err err;

    assert_int_equal(md_store_call(s, run_verify, &c, &err), MD_OK);
    return c;
}

/* Runs sql on the database file through a connection of its own (the attacker's). */
static void tamper(const struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("tamper: %s", msg);
    sqlite3_close(db);
}

/* Six entries: ids 1 to 6. */
static void six(struct md_store *s)
{
    for (int i = 1; i <= 6; i++) {
        char target[32];

        (void)snprintf(target, sizeof(target), "model=m%d", i);
        assert_int_equal(add(s, i % 2 ? "alice" : "control:rollout",
                             i % 2 ? "PUT /api/v1/models/{model}/traffic" : "rollout.promoted",
                             target, 1000 * i),
                         i);
    }
}

/* The first bad entry verify names, with a fragment of its reason. */
static void expect_broken(struct md_store *s, int64_t first_bad, const char *fragment)
{
    struct md_store_audit_check c = verify(s);

    assert_false(c.ok);
    if (c.first_bad != first_bad || strstr(c.reason, fragment) == NULL)
        fail_msg("first_bad %lld (want %lld), reason '%s' (want '%s')", (long long)c.first_bad,
                 (long long)first_bad, c.reason, fragment);
}

/* ---- the chain ------------------------------------------------------------ */

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        (void)snprintf(out + 2 * i, 3, "%02x", p[i]);
}

struct one {
    char mac[MD_AUDIT_MAC_HEX];
    char key_id[MD_AUDIT_KEY_ID_MAX];
    int64_t at_ms;
    int n;
};

static void take(void *ctx, const struct md_store_audit *e)
{
    struct one *o = ctx;

    (void)snprintf(o->mac, sizeof(o->mac), "%s", e->mac);
    (void)snprintf(o->key_id, sizeof(o->key_id), "%s", e->key_id);
    o->at_ms = e->at_ms;
    o->n++;
}

struct list_args {
    struct md_store_audit_filter f;
    void (*fn)(void *ctx, const struct md_store_audit *e);
    void *ctx;
};

static int run_list(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct list_args *l = ctx;

    return md_store_tx_audit_list(tx, &l->f, l->fn, l->ctx, err);
}

static void test_mac_is_hmac_of_content_and_previous(void **state)
{
    struct fixture *f = *state;
    struct list_args l;
    struct one first = {0}, second = {0};
    struct md_err err;
    unsigned char mac[32];
    unsigned int len = 0;
    char want[MD_AUDIT_MAC_HEX];
    char text[512];
    int n;

    assert_int_equal(add(f->s, "alice", "PUT /x", NULL, 5), 1);
    assert_int_equal(add(f->s, "bob", "DELETE /y", "model=m", 6), 2);
    memset(&l, 0, sizeof(l));
    l.f.oldest_first = true;
    l.f.limit = 1;
    l.fn = take;
    l.ctx = &first;
    assert_int_equal(md_store_call(f->s, run_list, &l, &err), MD_OK);
    l.f.after_id = 1;
    l.ctx = &second;
    assert_int_equal(md_store_call(f->s, run_list, &l, &err), MD_OK);
    /* The key's id: the first 8 hex digits of its SHA-256. */
    assert_int_equal(strlen(first.key_id), 8);
    /* Entry 1: fields as length:bytes, a NULL as "-", the previous MAC "" (none). */
    n = snprintf(text, sizeof(text),
                 "modeld-audit/1\n1\n5\n5:alice\n6:PUT /x\n-\n9:127.0.0.1\n3:200\n7:{\"n\":1}\n"
                 "8:%s\n0:\n",
                 first.key_id);
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)text, (size_t)n, mac, &len);
    hex(mac, 32, want);
    assert_string_equal(first.mac, want);
    /* Entry 2 links entry 1's MAC. */
    n = snprintf(text, sizeof(text),
                 "modeld-audit/1\n2\n6\n3:bob\n9:DELETE /y\n7:model=m\n9:127.0.0.1\n3:200\n"
                 "7:{\"n\":1}\n8:%s\n64:%s\n",
                 first.key_id, first.mac);
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)text, (size_t)n, mac, &len);
    hex(mac, 32, want);
    assert_string_equal(second.mac, want);
    assert_true(verify(f->s).ok);
    assert_int_equal(verify(f->s).entries, 2);
    assert_int_equal(verify(f->s).head_id, 2);
}

static void test_off_without_key(void **state)
{
    char dir[] = "/tmp/md-audit-off-XXXXXX";
    struct md_store_audit_check c;
    struct md_store *s = NULL;
    struct md_err err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(md_store_open(dir, &s, &err), MD_OK);
    assert_int_equal(add(s, "alice", "PUT /x", NULL, 0), 0); /* nothing recorded */
    assert_int_equal(md_store_call(s, run_verify, &c, &err), MD_EUNAVAIL);
    assert_non_null(strstr(err.msg, "audit log is off"));
    /* A key of a wrong length is refused. */
    assert_int_equal(md_store_audit_key(s, "short", 5, NULL, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "16 to 1024"));
    md_store_close(s);
    {
        char cmd[80];

        (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

/* ---- listing ------------------------------------------------------------ */

struct ids {
    int64_t id[16];
    int n;
};

static void collect(void *ctx, const struct md_store_audit *e)
{
    struct ids *x = ctx;

    if (x->n < 16)
        x->id[x->n++] = e->id;
}

static struct ids list(struct md_store *s, const struct md_store_audit_filter *filter)
{
    struct list_args l = {*filter, collect, NULL};
    struct ids x = {{0}, 0};
    struct md_err err;

    l.ctx = &x;
    assert_int_equal(md_store_call(s, run_list, &l, &err), MD_OK);
    return x;
}

static void test_list_filters_and_paging(void **state)
{
    struct fixture *f = *state;
    struct md_store_audit_filter q;
    struct ids x;

    six(f->s);
    memset(&q, 0, sizeof(q));
    x = list(f->s, &q); /* newest first */
    assert_int_equal(x.n, 6);
    assert_int_equal(x.id[0], 6);
    assert_int_equal(x.id[5], 1);
    q.actor = "alice";
    x = list(f->s, &q);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.id[0], 5);
    q.actor = NULL;
    q.action = "rollout."; /* a prefix */
    x = list(f->s, &q);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.id[0], 6);
    q.action = "PUT";
    x = list(f->s, &q);
    assert_int_equal(x.n, 3);
    q.action = NULL;
    q.target = "model=m2"; /* a word */
    x = list(f->s, &q);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.id[0], 2);
    q.target = "m3"; /* a value */
    x = list(f->s, &q);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.id[0], 3);
    q.target = "m"; /* not a word nor a value: no match */
    x = list(f->s, &q);
    assert_int_equal(x.n, 0);
    q.target = NULL;
    q.since_ms = 2000;
    q.until_ms = 5000;
    x = list(f->s, &q);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.id[0], 4);
    assert_int_equal(x.id[2], 2);
    memset(&q, 0, sizeof(q));
    q.limit = 2;
    q.before_id = 5;
    x = list(f->s, &q);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.id[0], 4);
    assert_int_equal(x.id[1], 3);
    memset(&q, 0, sizeof(q));
    q.oldest_first = true;
    q.after_id = 4;
    x = list(f->s, &q);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.id[0], 5);
    assert_int_equal(x.id[1], 6);
}

struct subject_args {
    char out[64];
};

static int run_subject(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct subject_args *a = ctx;

    return md_store_tx_audit_subject(tx, "alice@example.com", a->out, sizeof(a->out), err);
}

static void test_subject_is_keyed_hash(void **state)
{
    struct fixture *f = *state;
    struct subject_args a;
    struct md_err err;
    const char msg[] = "subject\nalice@example.com";
    unsigned char mac[32];
    unsigned int len = 0;
    char want[80];

    assert_int_equal(md_store_call(f->s, run_subject, &a, &err), MD_OK);
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), mac, &len);
    memcpy(want, "subject:", 8);
    hex(mac, 16, want + 8);
    assert_string_equal(a.out, want);
    assert_null(strstr(a.out, "alice"));
}

/* ---- tampering -------------------------------------------------------------- */

static void test_intact(void **state)
{
    struct fixture *f = *state;
    struct md_store_audit_check c;

    six(f->s);
    c = verify(f->s);
    assert_true(c.ok);
    assert_int_equal(c.entries, 6);
    assert_int_equal(c.first_bad, 0);
    assert_string_equal(c.reason, "");
}

static void test_edit(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "UPDATE audit SET outcome = '403' WHERE id = 3");
    expect_broken(f->s, 3, "entry 3 does not match its MAC");
}

static void test_edit_null(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "UPDATE audit SET details = NULL WHERE id = 2");
    expect_broken(f->s, 2, "entry 2 does not match its MAC");
}

static void test_delete(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "DELETE FROM audit WHERE id = 4");
    expect_broken(f->s, 4, "entry 4 is missing: entry 3 is followed by entry 5");
}

static void test_delete_first(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "DELETE FROM audit WHERE id = 1");
    expect_broken(f->s, 1, "entry 1 is missing: the chain starts at entry 2");
}

static void test_reorder_ids(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "UPDATE audit SET id = 100 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 4; "
              "UPDATE audit SET id = 4 WHERE id = 100");
    expect_broken(f->s, 2, "entry 2 does not match its MAC");
}

static void test_reorder_content(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    /* Rows 3 and 5 trade everything but their ids, MACs included. */
    tamper(f, "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (3, 5);"
              "UPDATE audit SET (at_ms, actor, action, target, address, outcome, details, "
              "key_id, mac) = (SELECT at_ms, actor, action, target, address, outcome, details, "
              "key_id, mac FROM t WHERE t.id = 8 - audit.id) WHERE id IN (3, 5)");
    expect_broken(f->s, 3, "entry 3 does not match its MAC");
}

static void test_append(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "INSERT INTO audit (id, at_ms, actor, action, target, address, outcome, details, "
              "key_id, mac) SELECT 7, at_ms + 1, actor, action, target, address, outcome, details, "
              "key_id, mac FROM audit WHERE id = 6");
    expect_broken(f->s, 7, "entry 7 does not match its MAC");
}

static void test_append_after_head(void **state)
{
    struct fixture *f = *state;
    struct md_store_audit_check c;

    six(f->s);
    /* An entry made with the key but past the head: the head was rolled back. */
    tamper(f, "CREATE TABLE saved AS SELECT * FROM audit_head");
    assert_int_equal(add(f->s, "alice", "PUT /x", NULL, 7000), 7);
    assert_true(verify(f->s).ok);
    tamper(f, "DELETE FROM audit_head; INSERT INTO audit_head SELECT * FROM saved");
    c = verify(f->s);
    assert_false(c.ok);
    assert_int_equal(c.first_bad, 7);
    assert_non_null(strstr(c.reason, "entry 7 was added after the last entry the head records"));
}

static void test_truncate(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "DELETE FROM audit WHERE id >= 5");
    expect_broken(f->s, 5, "entries 5 to 6 are missing: the tail of the chain was cut off");
}

static void test_truncate_and_head(void **state)
{
    struct fixture *f = *state;

    six(f->s);
    tamper(f, "DELETE FROM audit WHERE id >= 5; DELETE FROM audit_head");
    expect_broken(f->s, 5, "the head record is missing");
    /* Truncated with the head moved back by hand (its MAC cannot be made). */
    tamper(f, "INSERT INTO audit_head (id, last_id, last_mac, key_id, mac) SELECT 1, id, mac, "
              "key_id, mac FROM audit WHERE id = 4");
    expect_broken(f->s, 5, "the head record does not match its MAC");
}

static void test_lost_head_stays_on_record(void **state)
{
    struct fixture *f = *state;
    struct md_store_audit_check c;

    six(f->s);
    tamper(f, "DELETE FROM audit WHERE id = 6; DELETE FROM audit_head");
    /* The next append records the loss first: entry 6 says so, entry 7 is the new one. */
    assert_int_equal(add(f->s, "alice", "PUT /x", NULL, 0), 7);
    c = verify(f->s);
    assert_true(c.ok);
    {
        struct md_store_audit_filter q;
        struct list_args l;
        struct one o = {0};
        struct md_err err;

        memset(&q, 0, sizeof(q));
        q.action = "audit.head_missing";
        l.f = q;
        l.fn = take;
        l.ctx = &o;
        assert_int_equal(md_store_call(f->s, run_list, &l, &err), MD_OK);
        assert_int_equal(o.n, 1);
    }
}

static void test_other_key(void **state)
{
    struct fixture *f = *state;
    struct md_err err;
    const char other[] = "another key of at least sixteen bytes";

    six(f->s);
    assert_int_equal(md_store_audit_key(f->s, other, strlen(other), NULL, &err), MD_OK);
    expect_broken(f->s, 1, "entry 1 names key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mac_is_hmac_of_content_and_previous, setup, teardown),
        cmocka_unit_test(test_off_without_key),
        cmocka_unit_test_setup_teardown(test_list_filters_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject_is_keyed_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reorder_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reorder_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_after_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_and_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_head_stays_on_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
