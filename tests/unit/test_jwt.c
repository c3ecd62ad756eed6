/* SPDX-License-Identifier: MIT */
/*
 * test_jwt.c: JSON Web Token verification (api/jwt.h). Keys are made and
 * tokens signed by the openssl command, in a temporary directory, so that
 * what is checked is what another implementation signs: an RSA key and a
 * P-256 key in the JWKS, a second P-256 key outside it. Good tokens of each
 * kind with their roles and models; expired, not yet valid, wrong issuer
 * and audience, a wrong signature, a payload swapped under a signature, an
 * unknown kid, alg none, HS256 signed with the RSA public key (algorithm
 * confusion), RS256 naming the EC key, malformed tokens; the cache (a
 * second verification is a hit, an expired token is refused even cached);
 * JWKS files that are refused and why; the keyed hash against the
 * reference vectors and the base64url decoder's strictness.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/jwt.h"
#include "api/jwt_int.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define assert_msg(e, sub)                                                                         \
    do {                                                                                           \
        if (strstr((e).msg, (sub)) == NULL)                                                        \
            fail_msg("message \"%s\" lacks \"%s\"", (e).msg, (sub));                               \
    } while (0)

#define NOW   1800000000LL /* every token is verified at this time */
#define ISS   "https://idp.example.com/realms/ml"
#define AUD   "modeld"
#define RSA_K "rsa-1"
#define EC_K  "ec-1"

static char dir[] = "/tmp/test_jwt.XXXXXX";
static char jwks[8192];    /* the JWKS of rsa.pem (kid rsa-1) and ec.pem (kid ec-1) */
static char rsa_pub[4096]; /* rsa.pem's public key in PEM: the HS256 confusion's secret */

/* ---- helpers: files, base64url, the openssl command ----------------------- */

static void run(const char *cmd)
{
    char line[2048];

    (void)snprintf(line, sizeof(line), "cd %s && %s 2>/dev/null", dir, cmd);
    if (system(line) != 0)
        fail_msg("command failed: %s", cmd);
}

static size_t slurp(const char *name, unsigned char *buf, size_t max)
{
    char path[512];
    FILE *f;
    size_t n;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(buf, 1, max, f);
    (void)fclose(f);
    assert_true(n < max);
    return n;
}

static void put(const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Appends the base64url of p[0..n) (no padding) to out. */
static void b64url(const void *p, size_t n, char *out, size_t max)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *b = p;
    size_t o = strlen(out);
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | b[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            assert_true(o + 1 < max);
            out[o++] = abc[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        assert_true(o + 1 < max);
        out[o++] = abc[(acc << (6 - bits)) & 63];
    }
    out[o] = '\0';
}

/* The bytes of hex text (the openssl command's modulus). */
static size_t unhex(const char *h, unsigned char *out, size_t max)
{
    size_t n = 0;

    for (; h[0] != '\0' && h[1] != '\0' && n < max; h += 2) {
        unsigned v;

        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (unsigned char)v;
    }
    return n;
}

/* A DER ECDSA signature (SEQUENCE of two INTEGERs) as JWS's r||s, 32 bytes each. */
static void der_to_raw(const unsigned char *d, size_t n, unsigned char raw[64])
{
    size_t i = 2;

    assert_true(n > 8 && d[0] == 0x30 && d[1] < 0x80);
    memset(raw, 0, 64);
    for (int part = 0; part < 2; part++) {
        size_t len;

        assert_int_equal(d[i], 0x02);
        len = d[i + 1];
        i += 2;
        while (len > 32) { /* a leading zero keeps the integer positive */
            assert_int_equal(d[i], 0);
            i++;
            len--;
        }
        memcpy(raw + (size_t)part * 32 + (32 - len), d + i, len);
        i += len;
    }
}

/*
 * A token of header hdr and payload pl signed by the key file key (PEM):
 * ES256's form when ec, else RS256's. key NULL: no signature part at all
 * (only the trailing dot).
 */
static void sign(const char *key, bool ec, const char *hdr, const char *pl, char *tok, size_t max)
{
    unsigned char sig[1024];
    size_t n;

    tok[0] = '\0';
    b64url(hdr, strlen(hdr), tok, max);
    (void)strncat(tok, ".", max - strlen(tok) - 1);
    b64url(pl, strlen(pl), tok, max);
    (void)strncat(tok, ".", max - strlen(tok) - 1);
    if (key == NULL)
        return;
    put("tbs", tok, strlen(tok) - 1);
    {
        char cmd[256];

        (void)snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign %s -out sig tbs", key);
        run(cmd);
    }
    n = slurp("sig", sig, sizeof(sig));
    if (ec) {
        unsigned char raw[64];

        der_to_raw(sig, n, raw);
        b64url(raw, 64, tok, max);
    } else {
        b64url(sig, n, tok, max);
    }
}

/* A payload with the usual claims, exp and nbf relative to NOW, and extra members. */
static void payload(char *out, size_t max, long exp_in, const char *extra)
{
    (void)snprintf(out, max,
                   "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"exp\":%lld%s%s}",
                   NOW + exp_in, extra[0] != '\0' ? "," : "", extra);
}

static struct md_jwt *verifier(const char *role_claim, const char *models_claim)
{
    struct md_jwt_config cfg = {NULL, ISS, AUD, role_claim, models_claim, 60, 0};
    struct md_jwt *j = NULL;
    struct md_err err;

    if (md_jwt_new_jwks(&cfg, jwks, strlen(jwks), "test jwks", &j, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(md_jwt_key_count(j), 2);
    return j;
}

static int verify(struct md_jwt *j, const char *tok, int64_t now, struct md_jwt_identity *id,
                  struct md_err *err)
{
    return md_jwt_verify(j, tok, strlen(tok), now, id, err);
}

/* ---- setup: keys and the JWKS -------------------------------------------- */

static int setup(void **state)
{
    unsigned char der[512];
    unsigned char n_bytes[1024];
    char mod[2048];
    char n_b64[1024] = "";
    char x_b64[64] = "";
    char y_b64[64] = "";
    size_t n;
    FILE *f;
    char path[512];

    MD_UNUSED(state);
    if (mkdtemp(dir) == NULL)
        return -1;
    run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem");
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem");
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec2.pem");
    run("openssl rsa -in rsa.pem -noout -modulus -out mod.txt");
    run("openssl pkey -in rsa.pem -pubout -out rsa.pub");
    run("openssl pkey -in ec.pem -pubout -outform DER -out ec.der");
    (void)snprintf(path, sizeof(path), "%s/mod.txt", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(mod, sizeof(mod), f));
    (void)fclose(f);
    assert_true(strncmp(mod, "Modulus=", 8) == 0);
    n = unhex(mod + 8, n_bytes, sizeof(n_bytes));
    assert_int_equal(n, 256);
    b64url(n_bytes, n, n_b64, sizeof(n_b64));
    n = slurp("ec.der", der, sizeof(der));
    assert_true(n >= 65 && der[n - 65] == 0x04); /* the point, uncompressed, ends the key */
    b64url(der + n - 64, 32, x_b64, sizeof(x_b64));
    b64url(der + n - 32, 32, y_b64, sizeof(y_b64));
    (void)snprintf(jwks, sizeof(jwks),
                   "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"" RSA_K "\",\"use\":\"sig\","
                   "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"AQAB\"},"
                   "{\"kty\":\"EC\",\"kid\":\"" EC_K "\",\"crv\":\"P-256\",\"x\":\"%s\","
                   "\"y\":\"%s\"},"
                   "{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"},"
                   "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"
                   "]}",
                   n_b64, x_b64, y_b64);
    n = slurp("rsa.pub", (unsigned char *)rsa_pub, sizeof(rsa_pub) - 1);
    rsa_pub[n] = '\0';
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];

    MD_UNUSED(state);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the keyed hash and base64url ----------------------------------------- */

/* SipHash-2-4-128 of the bytes 0, 1, .. len-1 under the key 0, 1, .. 15: vectors_sip128. */
static void test_siphash_vectors(void **state)
{
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {{0, "a3817f04ba25a8e66df67214c7550293"},  {1, "da87c1d86b99af44347659119b22fc45"},
             {7, "a1f1ebbed8dbc153c0b84aa61ff08239"},  {8, "3b62a9ba6258f5610f83e264f31497b4"},
             {15, "5493e99933b0a8117e08ec0f97cfc3d9"}, {16, "6ee2a4ca67b054bbfd3315bf85230577"},
             {63, "5150d1772f50834a503e069a973fbd7c"}};
    unsigned char key[16];
    unsigned char msg[64];
    uint64_t k[2];
    uint64_t out[2];

    MD_UNUSED(state);
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    k[0] = k[1] = 0;
    for (int i = 7; i >= 0; i--) {
        k[0] = (k[0] << 8) | key[i];
        k[1] = (k[1] << 8) | key[8 + i];
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(v); i++) {
        char hex[33];

        md_jwt__siphash128(k, msg, v[i].len, out);
        for (int b = 0; b < 16; b++)
            (void)snprintf(hex + (size_t)b * 2, 3, "%02x",
                           (unsigned)(out[b / 8] >> (8 * (b % 8))) & 0xff);
        assert_string_equal(hex, v[i].hex);
    }
}

static void test_b64url(void **state)
{
    unsigned char out[16];
    size_t got;

    MD_UNUSED(state);
    assert_true(md_jwt__b64url_decode("aGk", 3, out, sizeof(out), &got));
    assert_int_equal(got, 2);
    assert_memory_equal(out, "hi", 2);
    assert_true(md_jwt__b64url_decode("-_8", 3, out, sizeof(out), &got));
    assert_int_equal(got, 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    assert_true(md_jwt__b64url_decode("", 0, out, sizeof(out), &got));
    assert_int_equal(got, 0);
    assert_false(md_jwt__b64url_decode("aGk=", 4, out, sizeof(out), &got));  /* padding */
    assert_false(md_jwt__b64url_decode("aG+", 3, out, sizeof(out), &got));   /* base64, not url */
    assert_false(md_jwt__b64url_decode("aGkaa", 5, out, sizeof(out), &got)); /* a lone char */
    assert_false(md_jwt__b64url_decode("aGl", 3, out, sizeof(out), &got)); /* a bit past the end */
    assert_false(md_jwt__b64url_decode("aGVsbG8", 7, out, 4, &got));       /* does not fit */
}

/* ---- good tokens ----------------------------------------------------------- */

static void test_rs256_good_and_cached(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    struct md_jwt_identity id;
    struct md_err err;
    char pl[512];
    char tok[4096];
    uint64_t hits;
    uint64_t misses;

    MD_UNUSED(state);
    payload(pl, sizeof(pl), 600, "\"roles\":[\"deployer\",\"ml-team\",\"predictor\"]");
    sign("rsa.pem", false, "{\"alg\":\"RS256\",\"kid\":\"" RSA_K "\",\"typ\":\"JWT\"}", pl, tok,
         sizeof(tok));
    assert_true(md_jwt_is_jwt(tok, strlen(tok)));
    if (verify(j, tok, NOW, &id, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(id.name, "jwt:alice");
    assert_int_equal(id.role, MD_ROLE_DEPLOYER);
    assert_int_equal(id.perms, md_role_perms(MD_ROLE_DEPLOYER) | md_role_perms(MD_ROLE_PREDICTOR));
    assert_int_equal(id.exp_s, NOW + 600);
    assert_true(id.all_models && md_jwt_may_use(&id, "any"));
    md_jwt_cache_stats(j, &hits, &misses);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 1);

    memset(&id, 0, sizeof(id));
    assert_int_equal(verify(j, tok, NOW + 1, &id, &err), MD_OK);
    assert_string_equal(id.name, "jwt:alice");
    assert_int_equal(id.role, MD_ROLE_DEPLOYER);
    md_jwt_cache_stats(j, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);

    /* Cached, yet refused once past exp and the skew; accepted just before. */
    assert_int_equal(verify(j, tok, NOW + 659, &id, &err), MD_OK);
    assert_int_equal(verify(j, tok, NOW + 660, &id, &err), MD_EAUTH);
    assert_msg(err, "jwt claim 'exp': expired 60 s ago");
    assert_false(md_jwt_is_jwt("mdt_abc", 7));
    assert_false(md_jwt_is_jwt("a.b", 3));
    assert_false(md_jwt_is_jwt("a.b.c.d", 7));
    md_jwt_free(j);
}

static void test_es256_good_nested_roles_models(void **state)
{
    struct md_jwt *j = verifier("realm_access.roles", "modeld.models");
    struct md_jwt_identity id;
    struct md_err err;
    char pl[512];
    char tok[4096];

    MD_UNUSED(state);
    payload(pl, sizeof(pl), 300,
            "\"realm_access\":{\"roles\":[\"predictor\"]},\"modeld\":{\"models\":[\"fraud\","
            "\"churn\"]}");
    sign("ec.pem", true, "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}", pl, tok, sizeof(tok));
    if (verify(j, tok, NOW, &id, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(id.role, MD_ROLE_PREDICTOR);
    assert_int_equal(id.perms, md_role_perms(MD_ROLE_PREDICTOR));
    assert_false(id.all_models);
    assert_int_equal(id.n_models, 2);
    assert_true(md_jwt_may_use(&id, "fraud"));
    assert_true(md_jwt_may_use(&id, "churn"));
    assert_false(md_jwt_may_use(&id, "housing"));
    assert_false(md_jwt_may_use(&id, "frau"));

    /* A space-separated string of roles, an audience array, no model claim: every model. */
    (void)snprintf(pl, sizeof(pl),
                   "{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD "\"],\"exp\":%lld,"
                   "\"realm_access\":{\"roles\":\"viewer reviewer\"}}",
                   NOW + 60);
    sign("ec.pem", true, "{\"alg\":\"ES256\"}", pl, tok, sizeof(tok)); /* no kid: one EC key */
    if (verify(j, tok, NOW, &id, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(id.role, MD_ROLE_REVIEWER);
    assert_int_equal(id.perms, md_role_perms(MD_ROLE_REVIEWER));
    assert_true(id.all_models);
    assert_string_equal(id.name, "jwt:");
    md_jwt_free(j);
}

/* A verified token that names no role modeld knows has no permission. */
static void test_no_role(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    struct md_jwt_identity id;
    struct md_err err;
    char pl[512];
    char tok[4096];

    MD_UNUSED(state);
    /* the subject's control character is shown as '?' */
    (void)snprintf(pl, sizeof(pl),
                   "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"sub\":\"bob\\n\","
                   "\"roles\":[\"superuser\"]}",
                   NOW + 300);
    sign("ec.pem", true, "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}", pl, tok, sizeof(tok));
    assert_int_equal(verify(j, tok, NOW, &id, &err), MD_OK);
    assert_int_equal(id.role, 0);
    assert_int_equal(id.perms, 0);
    assert_string_equal(id.name, "jwt:bob?");
    md_jwt_free(j);
}

/* ---- refused tokens --------------------------------------------------------- */

static void expect_refused(struct md_jwt *j, const char *tok, int64_t now, const char *why)
{
    struct md_jwt_identity id;
    struct md_err err;

    md_err_clear(&err);
    assert_int_equal(verify(j, tok, now, &id, &err), MD_EAUTH);
    assert_msg(err, why);
}

static void test_times(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    struct md_jwt_identity id;
    struct md_err err;
    char pl[512];
    char tok[4096];
    const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}";

    MD_UNUSED(state);
    payload(pl, sizeof(pl), -61, "\"roles\":\"viewer\"");
    sign("ec.pem", true, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'exp': expired 61 s ago (skew 60 s)");
    payload(pl, sizeof(pl), -59, "\"roles\":\"viewer\"");
    sign("ec.pem", true, hdr, pl, tok, sizeof(tok));
    assert_int_equal(verify(j, tok, NOW, &id, &err), MD_OK); /* within the skew */

    payload(pl, sizeof(pl), 600, "\"nbf\":1800000061");
    sign("ec.pem", true, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'nbf': not valid for another 61 s");
    payload(pl, sizeof(pl), 600, "\"nbf\":1800000060.5");
    sign("ec.pem", true, hdr, pl, tok, sizeof(tok));
    assert_int_equal(verify(j, tok, NOW, &id, &err), MD_OK);

    (void)snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}");
    sign("ec.pem", true, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'exp': missing");
    (void)snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"soon\"}");
    sign("ec.pem", true, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'exp': not a time in seconds");
    md_jwt_free(j);
}

static void test_issuer_audience(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    char pl[512];
    char tok[4096];
    const char *hdr = "{\"alg\":\"RS256\",\"kid\":\"" RSA_K "\"}";

    MD_UNUSED(state);
    (void)snprintf(pl, sizeof(pl),
                   "{\"iss\":\"https://evil.example.com\",\"aud\":\"" AUD "\",\"exp\":%lld}",
                   NOW + 60);
    sign("rsa.pem", false, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'iss': 'https://evil.example.com', not the issuer");
    (void)snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"aud\":[\"grafana\"],\"exp\":%lld}",
                   NOW + 60);
    sign("rsa.pem", false, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'aud': does not hold the audience 'modeld'");
    (void)snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"exp\":%lld}", NOW + 60);
    sign("rsa.pem", false, hdr, pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'aud': missing");
    md_jwt_free(j);
}

static void test_wrong_signatures(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    char pl[512];
    char tok[4096];
    char other[4096];
    char swapped[8192];
    const char *d2;

    MD_UNUSED(state);
    payload(pl, sizeof(pl), 600, "\"roles\":\"admin\"");
    /* Signed by a P-256 key outside the JWKS, naming the one inside. */
    sign("ec2.pem", true, "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}", pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt signature: does not verify with key 'ec-1'");

    /* A good token's signature under another payload (roles raised to admin). */
    payload(pl, sizeof(pl), 600, "\"roles\":\"viewer\"");
    sign("rsa.pem", false, "{\"alg\":\"RS256\",\"kid\":\"" RSA_K "\"}", pl, tok, sizeof(tok));
    payload(pl, sizeof(pl), 600, "\"roles\":\"admin\"");
    sign(NULL, false, "{\"alg\":\"RS256\",\"kid\":\"" RSA_K "\"}", pl, other, sizeof(other));
    d2 = strrchr(tok, '.');
    (void)snprintf(swapped, sizeof(swapped), "%.*s%s", (int)(strrchr(other, '.') - other), other,
                   d2);
    expect_refused(j, swapped, NOW, "jwt signature: does not verify with key 'rsa-1'");
    /* One bit of the signature flipped. */
    tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'A' ? 'B' : 'A';
    expect_refused(j, tok, NOW, "jwt signature: does not verify");

    /* An ES256 signature of the wrong length. */
    sign(NULL, false, "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt signature: does not verify");
    md_jwt_free(j);
}

static void test_algorithms_and_keys(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    char pl[512];
    char tok[4096];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;

    MD_UNUSED(state);
    payload(pl, sizeof(pl), 600, "\"roles\":\"admin\"");

    /* alg none, with no signature and with one. */
    sign(NULL, false, "{\"alg\":\"none\"}", pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt: no signature (unsigned tokens are refused)");
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: alg 'none' refused");
    sign(NULL, false, "{\"alg\":\"NoNe\",\"kid\":\"" RSA_K "\"}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: alg 'none' refused");

    /* HS256 with the RSA public key's PEM as the HMAC secret: algorithm confusion. */
    sign(NULL, false, "{\"alg\":\"HS256\",\"kid\":\"" RSA_K "\"}", pl, tok, sizeof(tok));
    assert_non_null(HMAC(EVP_sha256(), rsa_pub, (int)strlen(rsa_pub), (unsigned char *)tok,
                         strlen(tok) - 1, mac, &mac_len));
    b64url(mac, mac_len, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt header: alg 'HS256' refused (RS256 or ES256 only)");
    sign(NULL, false, "{\"alg\":\"HS256\",\"kid\":\"hmac\"}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: alg 'HS256' refused");
    /* RS256 naming the EC key, ES256 naming the RSA key. */
    sign("rsa.pem", false, "{\"alg\":\"RS256\",\"kid\":\"" EC_K "\"}", pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt header: alg RS256 does not match key 'ec-1', an ES256 key");
    sign("ec.pem", true, "{\"alg\":\"ES256\",\"kid\":\"" RSA_K "\"}", pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt header: alg ES256 does not match key 'rsa-1', an RS256 key");
    /* Keys left out of the JWKS, or never there. */
    sign("ec.pem", true, "{\"alg\":\"ES256\",\"kid\":\"ec-9\"}", pl, tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt header: no key with kid 'ec-9' in the JWKS");
    sign(NULL, false, "{\"alg\":\"RS256\",\"kid\":\"enc\"}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: no key with kid 'enc' in the JWKS");
    sign(NULL, false, "{\"alg\":\"ES256\",\"kid\":7}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: 'kid' is not a string");
    sign(NULL, false, "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: 'crit' names extensions");
    sign(NULL, false, "{\"typ\":\"JWT\"}", pl, tok, sizeof(tok));
    (void)strncat(tok, "AAAA", sizeof(tok) - strlen(tok) - 1);
    expect_refused(j, tok, NOW, "jwt header: 'alg' missing");
    md_jwt_free(j);
}

static void test_malformed(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    char big[MD_JWT_MAX_TOKEN + 2];

    MD_UNUSED(state);
    expect_refused(j, "mdt_abc", NOW, "jwt: not three parts separated by dots");
    expect_refused(j, "a.b.c.d", NOW, "jwt: not three parts separated by dots");
    expect_refused(j, "e30.e30", NOW, "jwt: not three parts separated by dots");
    expect_refused(j, "e30=.e30.AAAA", NOW, "jwt header: not base64url without padding");
    expect_refused(j, "bm90IGpzb24.e30.AAAA", NOW, "jwt header: not a JSON object");
    expect_refused(j, "WzFd.e30.AAAA", NOW, "jwt header: not a JSON object"); /* [1] */
    expect_refused(j, "", NOW, "jwt: 0 bytes, not 1 to 8192");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_refused(j, big, NOW, "jwt: 8193 bytes, not 1 to 8192");
    md_jwt_free(j);
}

/* A payload that is not JSON, under a good signature, is refused after the check. */
static void test_signed_garbage(void **state)
{
    struct md_jwt *j = verifier(NULL, NULL);
    char tok[4096];

    MD_UNUSED(state);
    sign("ec.pem", true, "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}", "[\"x\"]", tok, sizeof(tok));
    expect_refused(j, tok, NOW, "jwt payload: not a JSON object");
    sign("ec.pem", true, "{\"alg\":\"ES256\",\"kid\":\"" EC_K "\"}",
         "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,\"roles\":{\"a\":1}}", tok,
         sizeof(tok));
    expect_refused(j, tok, NOW, "jwt claim 'roles': not a string or an array of them");
    md_jwt_free(j);
}

/* ---- the JWKS ------------------------------------------------------------- */

static void expect_jwks_refused(const char *text, const char *why)
{
    struct md_jwt_config cfg = {NULL, ISS, AUD, NULL, NULL, 60, 0};
    struct md_jwt *j = NULL;
    struct md_err err;

    md_err_clear(&err);
    assert_int_equal(md_jwt_new_jwks(&cfg, text, strlen(text), "f", &j, &err), MD_EINVAL);
    assert_null(j);
    assert_msg(err, why);
}

static void test_jwks_refused(void **state)
{
    char two_ec[8192];
    const char *x;

    MD_UNUSED(state);
    expect_jwks_refused("{", "f: invalid JSON at line 1");
    expect_jwks_refused("{\"keys\":{}}", "f: member 'keys' missing or not an array");
    expect_jwks_refused("{\"keys\":[]}", "f: no key for signatures");
    expect_jwks_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}", "f: no key for signatures");
    expect_jwks_refused("{\"keys\":[7]}", "f: keys[0]: not an object");
    expect_jwks_refused("{\"keys\":[{\"kid\":\"a\"}]}", "f: keys[0]: member 'kty' missing");
    expect_jwks_refused(
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AA\"}]}",
        "f: keys[0]: member 'x' holds 3 bytes, not 32");
    expect_jwks_refused(
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAA\",\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
        "f: keys[0]: members 'x' and 'y' are not a point of P-256");
    expect_jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
                        "f: keys[0]: member 'n': an RSA modulus of 3 bytes");
    expect_jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
                        "f: keys[0]: member 'n' missing or not a string");
    expect_jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":5}]}",
                        "f: keys[0]: member 'kid' is not a string");
    /* The good EC key twice under one kid. */
    x = strstr(jwks, "{\"kty\":\"EC\"");
    assert_non_null(x);
    (void)snprintf(two_ec, sizeof(two_ec), "{\"keys\":[%.*s,%.*s]}", (int)(strchr(x, '}') - x + 1),
                   x, (int)(strchr(x, '}') - x + 1), x);
    expect_jwks_refused(two_ec, "f: keys[1]: kid 'ec-1' appears twice");
}

static void test_config_refused(void **state)
{
    struct md_jwt_config cfg = {NULL, ISS, AUD, NULL, NULL, 60, 0};
    struct md_jwt *j = NULL;
    struct md_err err;

    MD_UNUSED(state);
    cfg.issuer = "";
    assert_int_equal(md_jwt_new_jwks(&cfg, jwks, strlen(jwks), "f", &j, &err), MD_EINVAL);
    assert_msg(err, "jwt issuer: missing");
    cfg.issuer = ISS;
    cfg.audience = NULL;
    assert_int_equal(md_jwt_new_jwks(&cfg, jwks, strlen(jwks), "f", &j, &err), MD_EINVAL);
    assert_msg(err, "jwt audience: missing");
    cfg.audience = AUD;
    cfg.skew_s = 3601;
    assert_int_equal(md_jwt_new_jwks(&cfg, jwks, strlen(jwks), "f", &j, &err), MD_EINVAL);
    assert_msg(err, "jwt skew_s: 3601 is more than 3600 seconds");
    cfg.skew_s = 0;
    cfg.role_claim = "a..b";
    assert_int_equal(md_jwt_new_jwks(&cfg, jwks, strlen(jwks), "f", &j, &err), MD_EINVAL);
    assert_msg(err, "jwt role_claim 'a..b'");
    cfg.role_claim = NULL;
    cfg.jwks_file = NULL;
    assert_int_equal(md_jwt_new(&cfg, &j, &err), MD_EINVAL);
    assert_msg(err, "jwt jwks_file: missing");
    assert_null(j);
}

/* The file: anyone may read it, only its owner write it. */
static void test_jwks_file(void **state)
{
    struct md_jwt_config cfg = {NULL, ISS, AUD, NULL, NULL, 60, 0};
    struct md_jwt *j = NULL;
    struct md_err err;
    char path[512];

    MD_UNUSED(state);
    (void)snprintf(path, sizeof(path), "%s/jwks.json", dir);
    put("jwks.json", jwks, strlen(jwks));
    cfg.jwks_file = path;
    assert_int_equal(chmod(path, 0644), 0);
    if (md_jwt_new(&cfg, &j, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(md_jwt_key_count(j), 2);
    md_jwt_free(j);
    assert_int_equal(chmod(path, 0664), 0);
    assert_int_equal(md_jwt_new(&cfg, &j, &err), MD_EINVAL);
    assert_msg(err, "has mode 0664: other users may write it, and so mint tokens; run chmod go-w");
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(md_jwt_new(&cfg, &j, &err), MD_OK);
    md_jwt_free(j);
    (void)snprintf(path, sizeof(path), "%s/none.json", dir);
    assert_int_equal(md_jwt_new(&cfg, &j, &err), MD_ENOTFOUND);
    assert_msg(err, "none.json");
    cfg.jwks_file = dir;
    assert_int_equal(md_jwt_new(&cfg, &j, &err), MD_EINVAL);
    assert_msg(err, "not a regular file");
}

/* Many tokens through a small cache: every one still verifies, hits stay right. */
static void test_cache_bounded(void **state)
{
    struct md_jwt_config cfg = {NULL, ISS, AUD, NULL, NULL, 60, 1};
    struct md_jwt *j = NULL;
    struct md_jwt_identity id;
    struct md_err err;
    char pl[512];
    char tok[4][4096];
    uint64_t hits;
    uint64_t misses;

    MD_UNUSED(state);
    assert_int_equal(md_jwt_new_jwks(&cfg, jwks, strlen(jwks), "f", &j, &err), MD_OK);
    for (int i = 0; i < 4; i++) {
        char extra[64];

        (void)snprintf(extra, sizeof(extra), "\"roles\":\"viewer\",\"n\":%d", i);
        payload(pl, sizeof(pl), 600, extra);
        sign("rsa.pem", false, "{\"alg\":\"RS256\",\"kid\":\"" RSA_K "\"}", pl, tok[i],
             sizeof(tok[i]));
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4; i++)
            assert_int_equal(verify(j, tok[i], NOW, &id, &err), MD_OK);
    md_jwt_cache_stats(j, &hits, &misses);
    assert_int_equal(hits + misses, 12);
    assert_true(misses >= 4);
    md_jwt_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_rs256_good_and_cached),
        cmocka_unit_test(test_es256_good_nested_roles_models),
        cmocka_unit_test(test_no_role),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_issuer_audience),
        cmocka_unit_test(test_wrong_signatures),
        cmocka_unit_test(test_algorithms_and_keys),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_signed_garbage),
        cmocka_unit_test(test_jwks_refused),
        cmocka_unit_test(test_config_refused),
        cmocka_unit_test(test_jwks_file),
        cmocka_unit_test(test_cache_bounded),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
