/* SPDX-License-Identifier: MIT */
/*
 * test_tls.c: net/tls.c's files and sets: reading a certificate and its
 * key, refusing a key that is not the certificate's and files that are not
 * PEM, a reload that swaps the set and one that fails and keeps it, and
 * md_tls_collect freeing only the sets no connection can hold (the ASan
 * build checks the freeing). Certificates come from the openssl command;
 * the handshake itself is tests/integration/t5020-t5022's.
 */
#include "net/tls.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "test_files.h"

#include <unistd.h>

static char dir[] = "/tmp/md-test-tls-XXXXXX";
static char path_buf[8][256];

/* dir/name, in one of a few rotating buffers. */
static const char *at(const char *name)
{
    static unsigned next;
    char *p = path_buf[next++ % 8];

    (void)snprintf(p, sizeof(path_buf[0]), "%s/%s", dir, name);
    return p;
}

/* A self-signed P-256 certificate name.pem with its key name.key (0600). */
static void make_pair(const char *name)
{
    char cmd[1024];

    (void)snprintf(cmd, sizeof(cmd),
                   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                   "-keyout %s/%s.key -out %s/%s.pem -days 30 -subj /CN=%s >/dev/null 2>&1 && "
                   "chmod 600 %s/%s.key",
                   dir, name, dir, name, name, dir, name);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    make_pair("a");
    make_pair("b");
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Copies name.pem and name.key over live.pem and live.key. */
static void install(const char *name)
{
    char from[64];

    (void)snprintf(from, sizeof(from), "%s.pem", name);
    file_copy(at(from), at("live.pem"), NULL);
    (void)snprintf(from, sizeof(from), "%s.key", name);
    file_copy(at(from), at("live.key"), NULL);
    assert_int_equal(chmod(at("live.key"), 0600), 0);
}

static void test_reads_a_pair(void **state)
{
    struct md_tls_config cfg = {at("a.pem"), at("a.key"), NULL};
    struct md_tls *t = NULL;
    struct md_err err;
    gnutls_pcert_st *certs = NULL;
    gnutls_privkey_t key = NULL;
    unsigned n = 0;

    (void)state;
    assert_int_equal(md_tls_new(&cfg, &t, &err), MD_OK);
    assert_false(md_tls_mutual(t));
    assert_int_equal(md_tls_generation(t), 0);
    assert_int_equal(md_tls_retrieve(t, &certs, &n, &key), 0);
    assert_int_equal(n, 1);
    assert_non_null(certs);
    assert_non_null(key);
    md_tls_free(t);
    md_tls_free(NULL);
}

static void test_refuses_bad_files(void **state)
{
    struct md_tls_config mismatch = {at("a.pem"), at("b.key"), NULL};
    struct md_tls_config key_as_cert = {at("a.key"), at("a.key"), NULL};
    struct md_tls_config no_key = {at("a.pem"), NULL, NULL};
    struct md_tls_config bad_ca = {at("a.pem"), at("a.key"), at("a.key")};
    struct md_tls *t = NULL;
    struct md_err err;

    (void)state;
    assert_int_equal(md_tls_new(&mismatch, &t, &err), MD_EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "is not the private key of --tls-cert"));
    assert_int_equal(md_tls_new(&key_as_cert, &t, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "--tls-cert"));
    assert_non_null(strstr(err.msg, "no PEM certificate"));
    assert_int_equal(md_tls_new(&no_key, &t, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "both are needed"));
    assert_int_equal(md_tls_new(&bad_ca, &t, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "--tls-client-ca"));
    file_put(at("garbage.key"), "not a key\n");
    assert_int_equal(chmod(at("garbage.key"), 0600), 0);
    {
        struct md_tls_config garbage = {at("a.pem"), at("garbage.key"), NULL};

        assert_int_equal(md_tls_new(&garbage, &t, &err), MD_EINVAL);
        assert_non_null(strstr(err.msg, "not a PEM private key"));
    }
    assert_int_equal(chmod(at("b.key"), 0644), 0);
    {
        struct md_tls_config open_key = {at("b.pem"), at("b.key"), NULL};

        assert_int_not_equal(md_tls_new(&open_key, &t, &err), MD_OK);
        assert_non_null(strstr(err.msg, "--tls-key"));
        assert_non_null(strstr(err.msg, "chmod 600"));
    }
    assert_int_equal(chmod(at("b.key"), 0600), 0);
}

static void test_reload_swaps_and_collects(void **state)
{
    struct md_tls_config cfg = {at("live.pem"), at("live.key"), at("a.pem")};
    struct md_tls *t = NULL;
    struct md_err err;
    gnutls_pcert_st *first = NULL;
    gnutls_pcert_st *now = NULL;
    gnutls_privkey_t key = NULL;
    unsigned n = 0;

    (void)state;
    install("a");
    assert_int_equal(md_tls_new(&cfg, &t, &err), MD_OK);
    assert_true(md_tls_mutual(t));
    assert_int_equal(md_tls_retrieve(t, &first, &n, &key), 0);
    /* A new pair: taken, a new generation. */
    install("b");
    assert_int_equal(md_tls_reload(t, &err), MD_OK);
    assert_int_equal(md_tls_generation(t), 1);
    assert_int_equal(md_tls_retrieve(t, &now, &n, &key), 0);
    assert_ptr_not_equal(now, first);
    /* A connection that noted generation 0 may hold the first set: kept. */
    md_tls_collect(t, 0);
    /* A certificate without its key: refused, nothing changes. */
    file_copy(at("a.pem"), at("live.pem"), NULL);
    assert_int_equal(md_tls_reload(t, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "is not the private key"));
    assert_int_equal(md_tls_generation(t), 1);
    assert_int_equal(md_tls_retrieve(t, &first, &n, &key), 0);
    assert_ptr_equal(first, now);
    /* A file cut short: refused too. */
    file_put(at("live.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n");
    assert_int_equal(md_tls_reload(t, &err), MD_EINVAL);
    assert_int_equal(md_tls_generation(t), 1);
    /* Fixed: generation 2; no connection before it: the older sets go. */
    install("a");
    assert_int_equal(md_tls_reload(t, &err), MD_OK);
    assert_int_equal(md_tls_generation(t), 2);
    md_tls_collect(t, 2);
    /* Once more, with the replaced set left for md_tls_free. */
    assert_int_equal(md_tls_reload(t, &err), MD_OK);
    md_tls_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_a_pair),
        cmocka_unit_test(test_refuses_bad_files),
        cmocka_unit_test(test_reload_swaps_and_collects),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
