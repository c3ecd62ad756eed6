/* SPDX-License-Identifier: MIT */
/*
 * tls.c: the listener's certificate, key and client CA (tls.h). A "set" is
 * one reading of the files; the current one is published by pointer swap,
 * and the ones a reload replaced wait on a list for md_tls_collect. GnuTLS
 * borrows a set's certificates and key for a handshake (the retrieve
 * function's contract), so a set lives as long as a connection that may
 * have taken it: the generations in tls.h tell which.
 */
#include "net/tls.h"
#include "util/keyfile.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sys.h"

#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define CHAIN_MAX 16 /* certificates in the server's chain, or in a client's */

struct set {
    gnutls_pcert_st certs[CHAIN_MAX];
    unsigned n_certs;
    gnutls_privkey_t key;
    gnutls_x509_trust_list_t ca; /* NULL: no client certificates asked */
    uint64_t gen;
    struct set *older; /* the replaced sets, newest first (t->lock) */
};

struct md_tls {
    char *cert_path;
    char *key_path;
    char *ca_path;             /* NULL: no mutual TLS */
    _Atomic(struct set *) cur; /* the set handshakes take */
    _Atomic uint64_t gen;      /* cur's generation */
    pthread_mutex_t lock;      /* reloads, and the replaced list */
    struct set *retired;       /* lock: the sets replaced, newest first */
};

static void set_free(struct set *s)
{
    unsigned i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n_certs; i++)
        gnutls_pcert_deinit(&s->certs[i]);
    if (s->key != NULL)
        gnutls_privkey_deinit(s->key);
    if (s->ca != NULL)
        gnutls_x509_trust_list_deinit(s->ca, 1);
    free(s);
}

/* A public file (certificate, CA) whole. */
static int read_public(const char *what, const char *path, char **out, size_t *len,
                       struct md_err *err)
{
    int rc = md_read_file(path, MD_TLS_FILE_MAX, out, len, NULL, err);

    if (rc != MD_OK)
        md_err_prefix(err, "%s: ", what);
    return rc;
}

/* Whether key signs what the chain's first certificate verifies. */
static bool key_matches(gnutls_privkey_t key, gnutls_pcert_st *leaf)
{
    static const unsigned char msg[] = "modeld tls key check";
    gnutls_datum_t data = {(unsigned char *)msg, sizeof(msg) - 1};
    gnutls_datum_t sig = {NULL, 0};
    int pk = gnutls_privkey_get_pk_algorithm(key, NULL);
    gnutls_sign_algorithm_t algo = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, GNUTLS_DIG_SHA256);
    bool ok;

    if (pk < 0 || algo == GNUTLS_SIGN_UNKNOWN)
        return false;
    if (gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &data, &sig) < 0)
        return false;
    ok = gnutls_pubkey_verify_data2(leaf->pubkey, algo, 0, &data, &sig) >= 0;
    gnutls_free(sig.data);
    return ok;
}

/* Warns when the certificate served is expired or not yet valid: clients will refuse it. */
static void check_dates(const char *path, const gnutls_pcert_st *leaf)
{
    gnutls_x509_crt_t crt;
    time_t now = time(NULL);

    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &leaf->cert, GNUTLS_X509_FMT_DER) >= 0) {
        if (gnutls_x509_crt_get_expiration_time(crt) < now)
            md_log_kv(MD_LOG_WARN, "the TLS certificate has expired: clients will refuse it",
                      "file", path, MD_KV_END);
        else if (gnutls_x509_crt_get_activation_time(crt) > now)
            md_log_kv(MD_LOG_WARN, "the TLS certificate is not valid yet: clients will refuse it",
                      "file", path, MD_KV_END);
    }
    gnutls_x509_crt_deinit(crt);
}

static int load_chain(struct set *s, const char *path, struct md_err *err)
{
    char *pem = NULL;
    size_t len = 0;
    gnutls_datum_t d;
    int rc = read_public("--tls-cert", path, &pem, &len, err);
    int g;

    if (rc != MD_OK)
        return rc;
    d.data = (unsigned char *)pem;
    d.size = (unsigned)len;
    s->n_certs = CHAIN_MAX;
    g = gnutls_pcert_list_import_x509_raw(s->certs, &s->n_certs, &d, GNUTLS_X509_FMT_PEM, 0);
    free(pem);
    if (g < 0 || s->n_certs == 0) {
        s->n_certs = 0;
        return md_err_set(err, MD_EINVAL, "--tls-cert '%s': no PEM certificate read: %s", path,
                          g < 0 ? gnutls_strerror(g) : "the file holds none");
    }
    return MD_OK;
}

static int load_key(struct set *s, const char *path, struct md_err *err)
{
    char *pem = NULL;
    size_t len = 0;
    gnutls_datum_t d;
    int rc = md_keyfile_read(path, MD_TLS_FILE_MAX, &pem, &len, err);
    int g;

    if (rc != MD_OK) {
        md_err_prefix(err, "--tls-key: ");
        return rc;
    }
    d.data = (unsigned char *)pem;
    d.size = (unsigned)len;
    g = gnutls_privkey_init(&s->key);
    if (g >= 0)
        g = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    md_keyfile_free(pem, len);
    if (g < 0)
        return md_err_set(err, MD_EINVAL, "--tls-key '%s': not a PEM private key: %s", path,
                          gnutls_strerror(g));
    return MD_OK;
}

static int load_ca(struct set *s, const char *path, struct md_err *err)
{
    char *pem = NULL;
    size_t len = 0;
    gnutls_datum_t d;
    int rc = read_public("--tls-client-ca", path, &pem, &len, err);
    int g;

    if (rc != MD_OK)
        return rc;
    d.data = (unsigned char *)pem;
    d.size = (unsigned)len;
    g = gnutls_x509_trust_list_init(&s->ca, 0);
    if (g >= 0)
        g = gnutls_x509_trust_list_add_trust_mem(s->ca, &d, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    free(pem);
    if (g <= 0)
        return md_err_set(err, MD_EINVAL, "--tls-client-ca '%s': no PEM certificate read: %s", path,
                          g < 0 ? gnutls_strerror(g) : "the file holds none");
    return MD_OK;
}

/* One reading of t's files into a new set, or NULL with err set. */
static struct set *load(const struct md_tls *t, struct md_err *err)
{
    struct set *s = md_xcalloc(1, sizeof(*s));

    if (load_chain(s, t->cert_path, err) != MD_OK || load_key(s, t->key_path, err) != MD_OK ||
        (t->ca_path != NULL && load_ca(s, t->ca_path, err) != MD_OK)) {
        set_free(s);
        return NULL;
    }
    if (!key_matches(s->key, &s->certs[0])) {
        md_err_set(err, MD_EINVAL,
                   "--tls-key '%s' is not the private key of --tls-cert '%s' (its first "
                   "certificate)",
                   t->key_path, t->cert_path);
        set_free(s);
        return NULL;
    }
    check_dates(t->cert_path, &s->certs[0]);
    return s;
}

int md_tls_new(const struct md_tls_config *cfg, struct md_tls **out, struct md_err *err)
{
    struct md_tls *t;
    struct set *s;

    *out = NULL;
    if (cfg->cert == NULL || cfg->key == NULL || cfg->cert[0] == '\0' || cfg->key[0] == '\0')
        return md_err_set(err, MD_EINVAL, "--tls-cert and --tls-key: both are needed for TLS");
    t = md_xcalloc(1, sizeof(*t));
    t->cert_path = md_xstrdup(cfg->cert);
    t->key_path = md_xstrdup(cfg->key);
    t->ca_path =
        cfg->client_ca != NULL && cfg->client_ca[0] != '\0' ? md_xstrdup(cfg->client_ca) : NULL;
    pthread_mutex_init(&t->lock, NULL);
    s = load(t, err);
    if (s == NULL) {
        md_tls_free(t);
        return err != NULL ? err->code : MD_EINVAL;
    }
    atomic_init(&t->cur, s);
    atomic_init(&t->gen, 0);
    *out = t;
    return MD_OK;
}

void md_tls_free(struct md_tls *t)
{
    struct set *s;

    if (t == NULL)
        return;
    set_free(atomic_load(&t->cur));
    while ((s = t->retired) != NULL) {
        t->retired = s->older;
        set_free(s);
    }
    pthread_mutex_destroy(&t->lock);
    free(t->cert_path);
    free(t->key_path);
    free(t->ca_path);
    free(t);
}

int md_tls_reload(struct md_tls *t, struct md_err *err)
{
    struct set *s;
    struct set *old;

    pthread_mutex_lock(&t->lock);
    s = load(t, err);
    if (s == NULL) {
        pthread_mutex_unlock(&t->lock);
        return err != NULL ? err->code : MD_EINVAL;
    }
    old = atomic_load(&t->cur);
    s->gen = old->gen + 1;
    old->older = t->retired;
    t->retired = old;
    atomic_store(&t->cur, s);
    atomic_store(&t->gen, s->gen);
    pthread_mutex_unlock(&t->lock);
    return MD_OK;
}

uint64_t md_tls_generation(const struct md_tls *t)
{
    return atomic_load(&t->gen);
}

void md_tls_collect(struct md_tls *t, uint64_t oldest)
{
    struct set **p;

    pthread_mutex_lock(&t->lock);
    /* A set of generation g serves connections that noted g or less. */
    p = &t->retired;
    while (*p != NULL) {
        struct set *s = *p;

        if (s->gen < oldest) {
            *p = s->older;
            set_free(s);
        } else {
            p = &s->older;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

bool md_tls_mutual(const struct md_tls *t)
{
    return t->ca_path != NULL;
}

int md_tls_retrieve(struct md_tls *t, gnutls_pcert_st **pcert, unsigned *n, gnutls_privkey_t *key)
{
    struct set *s = atomic_load(&t->cur);

    *pcert = s->certs;
    *n = s->n_certs;
    *key = s->key;
    return 0;
}

void md_tls_session(const struct md_tls *t, gnutls_session_t s,
                    gnutls_certificate_verify_function *verify)
{
    if (t->ca_path == NULL)
        return;
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_function(s, verify);
}

/* Drops the spaces and full stops GnuTLS ends its status text with. */
static void trim(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '.'))
        s[--len] = '\0';
}

int md_tls_verify_peer(struct md_tls *t, gnutls_session_t s, char *why, size_t n)
{
    const struct set *cur = atomic_load(&t->cur);
    gnutls_x509_crt_t chain[CHAIN_MAX];
    gnutls_typed_vdata_st purpose;
    const gnutls_datum_t *peers;
    unsigned n_peers = 0;
    unsigned n_chain = 0;
    unsigned status = 0;
    int g = 0;
    unsigned i;

    why[0] = '\0';
    if (cur->ca == NULL)
        return 0;
    if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509) {
        (void)snprintf(why, n, "not an X.509 certificate");
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    peers = gnutls_certificate_get_peers(s, &n_peers);
    if (peers == NULL || n_peers == 0) {
        (void)snprintf(why, n, "no client certificate");
        return GNUTLS_E_NO_CERTIFICATE_FOUND;
    }
    if (n_peers > CHAIN_MAX) {
        (void)snprintf(why, n, "a chain of %u certificates, more than %d", n_peers, CHAIN_MAX);
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    for (i = 0; i < n_peers && g >= 0; i++) {
        g = gnutls_x509_crt_init(&chain[i]);
        if (g < 0)
            break;
        n_chain++;
        g = gnutls_x509_crt_import(chain[i], &peers[i], GNUTLS_X509_FMT_DER);
    }
    if (g >= 0) {
        purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
        purpose.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
        purpose.size = 0;
        g = gnutls_x509_trust_list_verify_crt2(cur->ca, chain, n_chain, &purpose, 1, 0, &status,
                                               NULL);
    }
    for (i = 0; i < n_chain; i++)
        gnutls_x509_crt_deinit(chain[i]);
    if (g < 0) {
        (void)snprintf(why, n, "%s", gnutls_strerror(g));
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    if (status != 0) {
        gnutls_datum_t text = {NULL, 0};

        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0 &&
            text.data != NULL)
            (void)snprintf(why, n, "%s", (const char *)text.data);
        else
            (void)snprintf(why, n, "verification status 0x%x", status);
        gnutls_free(text.data);
        trim(why);
        return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
    }
    return 0;
}
