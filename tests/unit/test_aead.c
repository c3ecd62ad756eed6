/* SPDX-License-Identifier: MIT */
/*
 * test_aead.c: encryption at rest. util/aead.c: the key file's parsing and
 * its refusals naming the line; sealing and opening, with every refusal
 * (an altered byte, another place's associated data, a key the file lacks,
 * a value that is not sealed); an older key still opening what it sealed;
 * the keyed hash, one-shot and precomputed. store/sqlite_crypt.c: a store with encryption on seals
 * what it writes (no value in clear in the table), reads it back intact,
 * finds rows by key through the keyed hash, refuses to read sealed values
 * without the key; the lookup key survives a restart; a rotation to a new
 * key reseals every value (and seals values stored in clear before) and
 * counts its progress, after which the old key may leave the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/aead.h"
#include "util/log.h"
#include "util/mem.h"
#include "store_fixture.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static struct md_aead_keys *keys_of(const char *text)
{
    struct md_aead_keys *k = NULL;
    struct md_err err;

    md_err_clear(&err);
    assert_int_equal(md_aead_keys_parse(text, strlen(text), &k, &err), MD_OK);
    return k;
}

static void refused(const char *text, const char *msg)
{
    struct md_aead_keys *k = NULL;
    struct md_err err;

    md_err_clear(&err);
    assert_int_equal(md_aead_keys_parse(text, strlen(text), &k, &err), MD_EINVAL);
    assert_null(k);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("'%s' lacks '%s'", err.msg, msg);
}

static void test_key_file(void **state)
{
    struct md_aead_keys *k = keys_of("# rotated in March\n\n" KEY_A "\n  " KEY_B "  \r\n");
    char hex[9];

    (void)state;
    assert_int_equal(md_aead_keys_count(k), 2);
    /* The last key is current; ids are the first 4 bytes of each key's SHA-256. */
    md_aead_key_id_hex(md_aead_keys_current(k), hex);
    assert_int_equal(strlen(hex), 8);
    assert_true(md_aead_keys_has(k, md_aead_keys_current(k)));
    assert_false(md_aead_keys_has(k, 0x12345678u));
    md_aead_keys_free(k);
    md_aead_keys_free(NULL);

    refused("", "holds no key");
    refused("# only a comment\n", "holds no key");
    refused("abcd\n", "line 1: a key is 64 hex digits (32 bytes), not 4 characters");
    refused("# x\n" KEY_A "0\n", "line 2: a key is 64 hex digits");
    refused("key " KEY_B "\n", "line 1: a key is 64 hex digits (32 bytes), not 68 characters");
    refused(KEY_A "\n" KEY_A "\n", "line 2: the same key as an earlier line");
    {
        char bad[80];

        memcpy(bad, KEY_A, 65);
        bad[10] = 'x';
        refused(bad, "line 1: character 11 is not a hex digit");
    }
    {
        char many[20 * 66 + 1];
        size_t n = 0;

        for (int i = 0; i < MD_AEAD_MAX_KEYS + 1; i++) {
            memcpy(many + n, KEY_A, 64);
            many[n] = "0123456789abcdefg"[i];
            many[n + 64] = '\n';
            n += 65;
        }
        many[n] = '\0';
        refused(many, "line 17: more than 16 keys");
    }
}

static void test_seal_open(void **state)
{
    struct md_aead_keys *k = keys_of(KEY_A "\n");
    struct md_aead *a = md_aead_new(k);
    const char *text = "{\"amount\":31337.25}";
    size_t n = strlen(text);
    unsigned char c[128];
    unsigned char c2[128];
    unsigned char p[128];
    size_t clen = 0;
    size_t clen2 = 0;
    size_t plen = 0;
    uint32_t id = 0;
    struct md_err err;

    (void)state;
    md_err_clear(&err);
    assert_int_equal(md_aead_seal(a, "t.col", text, n, c, sizeof(c), &clen, &err), MD_OK);
    assert_int_equal(clen, n + MD_AEAD_OVERHEAD);
    assert_true(md_aead_sealed(c, clen, &id));
    assert_int_equal(id, md_aead_keys_current(k));
    assert_null(memmem(c, clen, "31337", 5));
    assert_int_equal(md_aead_open(a, "t.col", c, clen, p, sizeof(p), &plen, &err), MD_OK);
    assert_int_equal(plen, n);
    assert_memory_equal(p, text, n);
    /* A fresh nonce each time: the same text seals differently. */
    assert_int_equal(md_aead_seal(a, "t.col", text, n, c2, sizeof(c2), &clen2, &err), MD_OK);
    assert_int_equal(clen2, clen);
    assert_memory_not_equal(c, c2, clen);
    /* The empty text. */
    assert_int_equal(md_aead_seal(a, "t.col", "", 0, c2, sizeof(c2), &clen2, &err), MD_OK);
    assert_int_equal(md_aead_open(a, "t.col", c2, clen2, p, sizeof(p), &plen, &err), MD_OK);
    assert_int_equal(plen, 0);

    /* Every byte altered, in turn, is refused. */
    for (size_t i = 0; i < clen; i++) {
        c[i] ^= 0x40;
        assert_int_not_equal(md_aead_open(a, "t.col", c, clen, p, sizeof(p), &plen, &err), MD_OK);
        c[i] ^= 0x40;
    }
    assert_int_equal(md_aead_open(a, "t.other", c, clen, p, sizeof(p), &plen, &err), MD_ECORRUPT);
    assert_non_null(strstr(err.msg, "'t.other' fails authentication"));
    assert_int_equal(md_aead_open(a, "t.col", c, clen - 1, p, sizeof(p), &plen, &err), MD_ECORRUPT);
    assert_int_equal(
        md_aead_open(a, "t.col", (const unsigned char *)"plain", 5, p, sizeof(p), &plen, &err),
        MD_ECORRUPT);
    assert_non_null(strstr(err.msg, "is not a sealed value"));
    /* Too small a buffer, either way. */
    assert_int_equal(md_aead_seal(a, "t.col", text, n, c2, n + MD_AEAD_OVERHEAD - 1, &clen2, &err),
                     MD_EINVAL);
    assert_int_equal(md_aead_open(a, "t.col", c, clen, p, n - 1, &plen, &err), MD_EINVAL);
    md_aead_free(a);
    md_aead_keys_free(k);
}

static void test_rotation_of_keys(void **state)
{
    struct md_aead_keys *old = keys_of(KEY_A "\n");
    struct md_aead_keys *both = keys_of(KEY_A "\n" KEY_B "\n");
    struct md_aead_keys *newer = keys_of(KEY_B "\n");
    struct md_aead *a = md_aead_new(old);
    struct md_aead *b = md_aead_new(both);
    struct md_aead *c = md_aead_new(newer);
    unsigned char s[64];
    unsigned char p[64];
    size_t slen = 0;
    size_t plen = 0;
    uint32_t id = 0;
    struct md_err err;
    char hex[9];

    (void)state;
    md_err_clear(&err);
    assert_int_equal(md_aead_seal(a, "x", "secret", 6, s, sizeof(s), &slen, &err), MD_OK);
    /* A file with the old key and a newer one opens it; the newer alone does not. */
    assert_int_equal(md_aead_open(b, "x", s, slen, p, sizeof(p), &plen, &err), MD_OK);
    assert_memory_equal(p, "secret", 6);
    assert_int_equal(md_aead_open(c, "x", s, slen, p, sizeof(p), &plen, &err), MD_ENOTFOUND);
    md_aead_key_id_hex(md_aead_keys_current(old), hex);
    assert_non_null(strstr(err.msg, hex));
    assert_non_null(strstr(err.msg, "which the data key file lacks"));
    /* The two-key file seals with the newer. */
    assert_int_equal(md_aead_seal(b, "x", "secret", 6, s, sizeof(s), &slen, &err), MD_OK);
    assert_true(md_aead_sealed(s, slen, &id));
    assert_int_equal(id, md_aead_keys_current(newer));
    assert_int_equal(md_aead_open(c, "x", s, slen, p, sizeof(p), &plen, &err), MD_OK);
    md_aead_free(a);
    md_aead_free(b);
    md_aead_free(c);
    md_aead_keys_free(old);
    md_aead_keys_free(both);
    md_aead_keys_free(newer);
}

static void test_hmac(void **state)
{
    /* RFC 4231 test case 2. */
    static const unsigned char want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                           0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                           0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                           0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    unsigned char mac[32];

    (void)state;
    md_aead_hmac((const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28, mac);
    assert_memory_equal(mac, want, 32);
    /* The precomputed context: the same, again and again; and keys past a block (hashed). */
    {
        struct md_aead_hmac *h = md_aead_hmac_new((const unsigned char *)"Jefe", 4);
        unsigned char big[131];
        unsigned char one[32];

        for (int i = 0; i < 3; i++) {
            memset(mac, 0, sizeof(mac));
            md_aead_hmac_run(h, "what do ya want for nothing?", 28, mac);
            assert_memory_equal(mac, want, 32);
        }
        md_aead_hmac_free(h);
        md_aead_hmac_free(NULL);
        memset(big, 0xaa, sizeof(big));
        h = md_aead_hmac_new(big, sizeof(big));
        md_aead_hmac_run(h, "", 0, mac);
        md_aead_hmac(big, sizeof(big), "", 0, one);
        assert_memory_equal(mac, one, 32);
        md_aead_hmac_free(h);
    }
}

/* ------------------------------------------------------------------ store */

struct fx {
    char dir[64];
    char db[128];
    struct md_store *s;
    struct md_aead_keys *keys;
};

static void open_with(struct fx *f, const char *keys)
{
    struct md_err err;

    md_err_clear(&err);
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    f->keys = keys != NULL ? keys_of(keys) : NULL;
    if (f->keys != NULL && md_store_crypt_enable(f->s, f->keys, &err) != MD_OK)
        fail_msg("%s", err.msg);
}

static void close_store(struct fx *f)
{
    md_store_close(f->s);
    md_aead_keys_free(f->keys);
    f->s = NULL;
    f->keys = NULL;
}

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));

    store_fx_make("aead", f->dir, f->db, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    close_store(f);
    store_fx_drop(f->dir, NULL);
    free(f);
    return 0;
}

struct rows {
    int64_t n;
    char text[8][160];
};

static int add_rows(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const int *first = ctx;
    struct md_store_prediction p[4];
    struct md_store_key k[4];
    char rid[4][32];
    char feat[4][64];
    char txn[4][32];

    memset(p, 0, sizeof(p));
    for (int i = 0; i < 4; i++) {
        snprintf(rid[i], sizeof(rid[i]), "req-%d", *first + i);
        snprintf(feat[i], sizeof(feat[i]), "{\"amount\":%d.25}", 31337 + *first + i);
        snprintf(txn[i], sizeof(txn[i]), "txn-%d", *first + i);
        k[i].name = "txn";
        k[i].value = txn[i];
        p[i].request_id = rid[i];
        p[i].model = "m";
        p[i].version = 1;
        p[i].route = "stable";
        p[i].status = 200;
        p[i].keys = "{\"txn\":\"secret\"}";
        p[i].key_list = &k[i];
        p[i].n_keys = 1;
        p[i].features = feat[i];
        p[i].label = "fraud";
        p[i].score = 0.75;
        p[i].outputs = "{\"label\":\"fraud\"}";
    }
    return md_store_tx_predictions_add(tx, p, 4, err);
}

static void on_row(void *ctx, const struct md_store_prediction *p)
{
    struct rows *r = ctx;

    if (r->n < 8)
        snprintf(r->text[r->n], sizeof(r->text[0]), "%s|%s|%s|%s", p->keys, p->features, p->label,
                 p->outputs);
    r->n++;
}

struct list {
    struct md_store_prediction_filter f;
    struct rows *r;
};

static int list_rows(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct list *l = ctx;

    return md_store_tx_predictions(tx, &l->f, on_row, l->r, err);
}

static int list(struct md_store *s, const char *key_value, struct rows *r, struct md_err *err)
{
    struct list l;

    memset(&l, 0, sizeof(l));
    memset(r, 0, sizeof(*r));
    l.r = r;
    if (key_value != NULL) {
        l.f.key_name = "txn";
        l.f.key_value = key_value;
    }
    return md_store_call(s, list_rows, &l, err);
}

static void add(struct md_store *s, int first)
{
    struct md_err err;

    md_err_clear(&err);
    if (md_store_call(s, add_rows, &first, &err) != MD_OK)
        fail_msg("%s", err.msg);
}

static void test_store_seals(void **state)
{
    struct fx *f = *state;
    struct rows r;
    struct md_err err;

    open_with(f, KEY_A "\n");
    assert_true(md_store_crypt_on(f->s));
    add(f->s, 0);
    assert_int_equal(list(f->s, NULL, &r, &err), MD_OK);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.text[1],
                        "{\"txn\":\"secret\"}|{\"amount\":31338.25}|fraud|{\"label\":\"fraud\"}");
    /* Found by key through the keyed hash. */
    assert_int_equal(list(f->s, "txn-2", &r, &err), MD_OK);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.text[0], "31339.25"));
    assert_int_equal(list(f->s, "txn-9", &r, &err), MD_OK);
    assert_int_equal(r.n, 0);
    close_store(f);

    /* In the file: sealed blobs, hashed keys, nothing in clear. */
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE typeof(keys) = "
                                    "'blob' AND typeof(features) = 'blob' AND typeof(label) = "
                                    "'blob' AND typeof(outputs) = 'blob'"),
                     4);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM prediction_keys WHERE value LIKE "
                                    "'hmac-sha256:%' AND length(value) = 76"),
                     4);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE instr(features, "
                                    "CAST('31337' AS BLOB)) > 0"),
                     0);

    /* Without the key: the rows cannot be read, said so. */
    open_with(f, NULL);
    {
        bool sealed = false;

        assert_int_equal(md_store_crypt_sealed(f->s, &sealed, &err), MD_OK);
        assert_true(sealed);
    }
    assert_int_equal(list(f->s, NULL, &r, &err), MD_EUNAVAIL);
    assert_non_null(strstr(err.msg, "--data-key-file"));
    close_store(f);

    /* With another key only: refused at enable, naming the key. */
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    f->keys = keys_of(KEY_B "\n");
    assert_int_equal(md_store_crypt_enable(f->s, f->keys, &err), MD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "the store's lookup key"));
    assert_false(md_store_crypt_on(f->s));
    close_store(f);

    /* The same key again: the same lookup key, so old rows are found by key. */
    open_with(f, KEY_A "\n");
    assert_int_equal(list(f->s, "txn-3", &r, &err), MD_OK);
    assert_int_equal(r.n, 1);
}

static void wait_rotation(struct md_store *s, struct md_store_rotation *r)
{
    struct md_err err;
    struct timespec ts = {0, 5000000L};

    for (int i = 0; i < 2000; i++) {
        assert_int_equal(md_store_rotate_progress(s, r, &err), MD_OK);
        if (r->state != MD_ROTATION_RUNNING)
            return;
        nanosleep(&ts, NULL);
    }
    fail_msg("the rotation did not finish in 10 s");
}

static void test_store_rotation(void **state)
{
    struct fx *f = *state;
    struct md_store_rotation r;
    struct md_err err;
    struct rows rows;
    char id_b[9];

    /* Rows in clear, then rows under key A. */
    open_with(f, NULL);
    assert_int_equal(md_store_rotate_start(f->s, &r, &err), MD_EUNAVAIL);
    add(f->s, 0);
    close_store(f);
    open_with(f, KEY_A "\n");
    add(f->s, 4);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE typeof(features) = "
                                    "'text'"),
                     4);
    close_store(f);

    /* Key B added: rotation reseals everything under B and hashes the clear keys. */
    open_with(f, KEY_A "\n" KEY_B "\n");
    assert_int_equal(md_store_rotate_progress(f->s, &r, &err), MD_OK);
    assert_int_equal(r.state, MD_ROTATION_NONE);
    md_aead_key_id_hex(md_aead_keys_current(f->keys), id_b);
    assert_int_equal(md_store_rotate_start(f->s, &r, &err), MD_OK);
    assert_string_equal(r.key_id, id_b);
    assert_int_equal(r.state, MD_ROTATION_RUNNING);
    /* One at a time: it pauses between its jobs, so it runs still. */
    assert_int_equal(md_store_rotate_start(f->s, &r, &err), MD_ECONFLICT);
    assert_non_null(strstr(err.msg, "a rotation is running already"));
    wait_rotation(f->s, &r);
    assert_int_equal(r.state, MD_ROTATION_DONE);
    /* Walked: 8 predictions, 8 keys, the lookup key; rewritten: the 8 predictions, the 4 keys
     * stored in clear (the other 4 are hashed already), the lookup key. */
    assert_int_equal(r.rows_total, 17);
    assert_int_equal(r.rows_done, 17);
    assert_int_equal(r.values_resealed, 13);
    assert_true(r.ended_ms >= r.started_ms);
    /* Again: nothing left to do. */
    assert_int_equal(md_store_rotate_start(f->s, &r, &err), MD_OK);
    wait_rotation(f->s, &r);
    assert_int_equal(r.state, MD_ROTATION_DONE);
    assert_int_equal(r.values_resealed, 0);
    close_store(f);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM predictions WHERE typeof(features) = "
                                    "'blob' AND typeof(keys) = 'blob'"),
                     8);
    assert_int_equal(sql_int(f->db, "SELECT count(DISTINCT substr(features, 2, 4)) FROM "
                                    "predictions"),
                     1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM prediction_keys WHERE value LIKE "
                                    "'hmac-sha256:%'"),
                     8);

    /* Key A gone from the file: every row still reads, and is found by key. */
    open_with(f, KEY_B "\n");
    assert_int_equal(list(f->s, NULL, &rows, &err), MD_OK);
    assert_int_equal(rows.n, 8);
    assert_string_equal(rows.text[0],
                        "{\"txn\":\"secret\"}|{\"amount\":31337.25}|fraud|{\"label\":\"fraud\"}");
    assert_int_equal(list(f->s, "txn-1", &rows, &err), MD_OK);
    assert_int_equal(rows.n, 1);
    assert_int_equal(list(f->s, "txn-6", &rows, &err), MD_OK);
    assert_int_equal(rows.n, 1);
    /* Closed while a rotation runs: the store stops it first (teardown closes). */
    assert_int_equal(md_store_rotate_start(f->s, &r, &err), MD_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_rotation_of_keys),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test_setup_teardown(test_store_seals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_rotation, setup, teardown),
    };

    md_log_set_level(MD_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
