/* SPDX-License-Identifier: MIT */
/*
 * jwt.c: JSON Web Token verification (jwt.h). Chapters: the keyed hash
 * that names a token in the cache, base64url, the JWKS file and its keys,
 * the token's header, signature and claims, and the cache.
 *
 * The order of the checks is deliberate: the header is read first (it
 * names the algorithm and the key), the signature is checked next, and the
 * payload is parsed only once it verifies, so that no claim of an unsigned
 * or forged token is ever looked at. The algorithm a token names must be
 * the one of the key it picks (RS256 for an RSA key, ES256 for a P-256
 * key): "none", every HMAC algorithm and every other is refused, so a
 * public key can never serve as an HMAC secret (algorithm confusion).
 */
#include "api/jwt.h"
#include "api/jwt_int.h"
#include "util/mem.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the keyed hash: SipHash-2-4 with a 128-bit output ------------------ */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = ROTL64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = ROTL64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = ROTL64(v2, 32);                                                                       \
    } while (0)

/* Eight bytes at p as a little-endian word: one load on x86-64 and arm64. */
static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

/*
 * About four instructions a byte: a 400-byte token costs a tenth of what
 * SHA-256 does (counted by callgrind, which runs OpenSSL's SHA-256 without
 * the CPU's SHA instructions, as many machines have none).
 */
void md_jwt__siphash128(const uint64_t k[2], const void *p, size_t n, uint64_t out[2])
{
    const unsigned char *in = p;
    const unsigned char *end = in + (n & ~(size_t)7);
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k[1] ^ 0x646f72616e646f6dULL ^ 0xee;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k[1] ^ 0x7465646279746573ULL;
    uint64_t b = (uint64_t)n << 56;

    for (; in != end; in += 8) {
        uint64_t m = load_le64(in);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t i = 0; i < (n & 7); i++)
        b |= (uint64_t)in[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xee;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    out[0] = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    out[1] = v0 ^ v1 ^ v2 ^ v3;
}

/* ---- base64url ----------------------------------------------------------- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool md_jwt__b64url_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *got)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    *got = 0;
    if (n % 4 == 1 || (n / 4) * 3 + (n % 4 == 0 ? 0 : n % 4 - 1) > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);

        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* a bit set past the last byte */
        return false;
    *got = o;
    return true;
}

/* ---- the verifier and its keys -------------------------------------------- */

enum alg { ALG_RS256 = 1, ALG_ES256 };

struct jwk {
    char kid[128];  /* "" when the key has none */
    enum alg alg;   /* ALG_RS256 for an RSA key, ALG_ES256 for a P-256 key */
    EVP_PKEY *pkey; /* the public key */
};

/* One verified token in the cache. */
struct slot {
    uint64_t h[2];             /* the token's keyed hash; 0, 0 when empty */
    int64_t until_s;           /* valid while now < until_s: exp plus the skew */
    struct md_jwt_identity id; /* what it grants */
};

#define WAYS  4  /* slots per set: a token may sit in any of its set's */
#define LOCKS 64 /* stripes of sets, each with its lock */

struct stripe {
    pthread_mutex_t mu;
    uint64_t hits;   /* under mu */
    uint64_t misses; /* under mu */
} __attribute__((aligned(64)));

struct md_jwt {
    char *issuer; /* read-only after md_jwt_new */
    char *audience;
    char *role_claim;
    char *models_claim; /* NULL: no model scope */
    int64_t skew_s;
    struct jwk keys[MD_JWT_MAX_KEYS];
    size_t n_keys;
    uint64_t hash_key[2]; /* the keyed hash's key: random, made with j */
    struct slot *slots;   /* n_sets * WAYS, each set's under its stripe's lock */
    size_t n_sets;        /* a power of two */
    struct stripe stripes[LOCKS];
};

static void free_keys(struct md_jwt *j)
{
    for (size_t i = 0; i < j->n_keys; i++)
        EVP_PKEY_free(j->keys[i].pkey);
    j->n_keys = 0;
}

void md_jwt_free(struct md_jwt *j)
{
    if (j == NULL)
        return;
    free_keys(j);
    for (size_t i = 0; i < LOCKS; i++)
        (void)pthread_mutex_destroy(&j->stripes[i].mu);
    if (j->slots != NULL)
        OPENSSL_cleanse(j->slots, j->n_sets * WAYS * sizeof(*j->slots));
    free(j->slots);
    free(j->issuer);
    free(j->audience);
    free(j->role_claim);
    free(j->models_claim);
    free(j);
}

size_t md_jwt_key_count(const struct md_jwt *j)
{
    return j->n_keys;
}

/* A key's base64url member name as bytes of exactly want bytes (0: 1 to max). */
static int jwk_bytes(const json_t *k, const char *name, unsigned char *out, size_t max, size_t want,
                     size_t *got, const char *where, struct md_err *err)
{
    const json_t *v = json_object_get(k, name);
    const char *s = json_string_value(v);

    if (s == NULL)
        return md_err_set(err, MD_EINVAL, "%s: member '%s' missing or not a string", where, name);
    if (!md_jwt__b64url_decode(s, json_string_length(v), out, max, got) || *got == 0)
        return md_err_set(err, MD_EINVAL, "%s: member '%s' is not base64url of 1 to %zu bytes",
                          where, name, max);
    if (want != 0 && *got != want)
        return md_err_set(err, MD_EINVAL, "%s: member '%s' holds %zu bytes, not %zu", where, name,
                          *got, want);
    return MD_OK;
}

/* Whether pkey's public part is sound (on its curve, a sane modulus). */
static bool key_sound(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = c != NULL && EVP_PKEY_public_check(c) == 1;

    EVP_PKEY_CTX_free(c);
    return ok;
}

static int rsa_key(const json_t *k, EVP_PKEY **out, const char *where, struct md_err *err)
{
    unsigned char n[1024];
    unsigned char e[8];
    size_t nn = 0;
    size_t ne = 0;
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int rc = jwk_bytes(k, "n", n, sizeof(n), 0, &nn, where, err);

    if (rc == MD_OK)
        rc = jwk_bytes(k, "e", e, sizeof(e), 0, &ne, where, err);
    if (rc != MD_OK)
        return rc;
    if (nn < 256 || n[0] == 0)
        return md_err_set(err, MD_EINVAL,
                          "%s: member 'n': an RSA modulus of %zu bytes; at least 2048 bits are "
                          "needed, without leading zeros",
                          where, nn);
    bn_n = BN_bin2bn(n, (int)nn, NULL);
    bn_e = BN_bin2bn(e, (int)ne, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
        MD_BUG("out of memory building an RSA key");
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1 || !key_sound(*out))
        rc = md_err_set(err, MD_EINVAL, "%s: not a valid RSA public key", where);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (rc != MD_OK) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    return rc;
}

static int ec_key(const json_t *k, EVP_PKEY **out, const char *where, struct md_err *err)
{
    unsigned char pub[65];
    char group[] = "prime256v1";
    size_t got = 0;
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx;
    int rc;

    pub[0] = 0x04; /* uncompressed: x then y */
    rc = jwk_bytes(k, "x", pub + 1, 32, 32, &got, where, err);
    if (rc == MD_OK)
        rc = jwk_bytes(k, "y", pub + 33, 32, 32, &got, where, err);
    if (rc != MD_OK)
        return rc;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1 || !key_sound(*out)) {
        rc = md_err_set(err, MD_EINVAL, "%s: members 'x' and 'y' are not a point of P-256", where);
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* An optional string member: NULL when absent; MD_EINVAL when not a string. */
static int opt_string(const json_t *o, const char *name, const char **out, const char *where,
                      struct md_err *err)
{
    const json_t *v = json_object_get(o, name);

    *out = NULL;
    if (v == NULL)
        return MD_OK;
    *out = json_string_value(v);
    if (*out == NULL)
        return md_err_set(err, MD_EINVAL, "%s: member '%s' is not a string", where, name);
    return MD_OK;
}

/*
 * Takes key i of the JWKS into j, or leaves it out: keys that are not for
 * signatures ("use" other than "sig"), of another kind (oct, OKP) or
 * curve, or for another algorithm. An RSA or P-256 key that is malformed
 * is an error: the operator meant it to be used.
 */
static int take_key(struct md_jwt *j, const json_t *k, size_t i, const char *source,
                    struct md_err *err)
{
    char where[256];
    const char *kty;
    const char *kid;
    const char *use;
    const char *alg;
    const char *crv;
    struct jwk *key = &j->keys[j->n_keys];
    int rc;

    (void)snprintf(where, sizeof(where), "%s: keys[%zu]", source, i);
    if (!json_is_object(k))
        return md_err_set(err, MD_EINVAL, "%s: not an object", where);
    if (opt_string(k, "kty", &kty, where, err) != MD_OK ||
        opt_string(k, "kid", &kid, where, err) != MD_OK ||
        opt_string(k, "use", &use, where, err) != MD_OK ||
        opt_string(k, "alg", &alg, where, err) != MD_OK ||
        opt_string(k, "crv", &crv, where, err) != MD_OK)
        return err != NULL ? err->code : MD_EINVAL;
    if (kty == NULL)
        return md_err_set(err, MD_EINVAL, "%s: member 'kty' missing", where);
    if (use != NULL && strcmp(use, "sig") != 0)
        return MD_OK;
    if (strcmp(kty, "RSA") == 0 && (alg == NULL || strcmp(alg, "RS256") == 0))
        key->alg = ALG_RS256;
    else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0 &&
             (alg == NULL || strcmp(alg, "ES256") == 0))
        key->alg = ALG_ES256;
    else
        return MD_OK;
    if (kid != NULL && (strlen(kid) == 0 || strlen(kid) >= sizeof(key->kid)))
        return md_err_set(err, MD_EINVAL, "%s: member 'kid' is empty or longer than %zu bytes",
                          where, sizeof(key->kid) - 1);
    for (size_t o = 0; kid != NULL && o < j->n_keys; o++)
        if (strcmp(j->keys[o].kid, kid) == 0)
            return md_err_set(err, MD_EINVAL, "%s: kid '%s' appears twice", where, kid);
    if (j->n_keys == MD_JWT_MAX_KEYS)
        return md_err_set(err, MD_EINVAL, "%s: more than %d keys", source, MD_JWT_MAX_KEYS);
    rc = key->alg == ALG_RS256 ? rsa_key(k, &key->pkey, where, err)
                               : ec_key(k, &key->pkey, where, err);
    if (rc != MD_OK)
        return rc;
    (void)snprintf(key->kid, sizeof(key->kid), "%s", kid != NULL ? kid : "");
    j->n_keys++;
    return MD_OK;
}

static int parse_jwks(struct md_jwt *j, const char *text, size_t len, const char *source,
                      struct md_err *err)
{
    json_error_t jerr;
    json_t *doc;
    const json_t *keys;
    int rc = MD_OK;

    if (len > MD_JWT_MAX_JWKS)
        return md_err_set(err, MD_EINVAL, "%s: larger than %d bytes", source, MD_JWT_MAX_JWKS);
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return md_err_set(err, MD_EINVAL, "%s: invalid JSON at line %d: %s", source, jerr.line,
                          jerr.text);
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys))
        rc = md_err_set(err, MD_EINVAL, "%s: member 'keys' missing or not an array", source);
    for (size_t i = 0; rc == MD_OK && i < json_array_size(keys); i++)
        rc = take_key(j, json_array_get(keys, i), i, source, err);
    if (rc == MD_OK && j->n_keys == 0)
        rc = md_err_set(err, MD_EINVAL,
                        "%s: no key for signatures of the kinds taken (RSA for RS256, EC P-256 "
                        "for ES256)",
                        source);
    json_decref(doc);
    return rc;
}

/* A copy of a dotted claim path, or an error naming the setting. */
static int claim_setting(const char *v, const char *name, char **out, struct md_err *err)
{
    size_t n = strlen(v);

    if (n == 0 || n > 200 || v[0] == '.' || v[n - 1] == '.' || strstr(v, "..") != NULL)
        return md_err_set(err, MD_EINVAL,
                          "jwt %s '%s': a claim name, or names joined by dots, of at most 200 "
                          "bytes",
                          name, v);
    *out = md_xstrdup(v);
    return MD_OK;
}

int md_jwt_new_jwks(const struct md_jwt_config *cfg, const char *text, size_t len,
                    const char *source, struct md_jwt **out, struct md_err *err)
{
    struct md_jwt *j;
    unsigned want = cfg->cache_max != 0 ? cfg->cache_max : 4096;
    int rc = MD_OK;

    *out = NULL;
    if (cfg->issuer == NULL || cfg->issuer[0] == '\0')
        return md_err_set(err, MD_EINVAL, "jwt issuer: missing (the \"iss\" tokens must carry)");
    if (cfg->audience == NULL || cfg->audience[0] == '\0')
        return md_err_set(err, MD_EINVAL,
                          "jwt audience: missing (the \"aud\" tokens must hold, as the identity "
                          "provider names modeld)");
    if (cfg->skew_s > MD_JWT_SKEW_MAX_S)
        return md_err_set(err, MD_EINVAL, "jwt skew_s: %u is more than %d seconds", cfg->skew_s,
                          MD_JWT_SKEW_MAX_S);
    if (want > (1u << 20))
        return md_err_set(err, MD_EINVAL, "jwt cache_max: %u is more than %u tokens", want,
                          1u << 20);
    j = md_xcalloc(1, sizeof(*j));
    j->issuer = md_xstrdup(cfg->issuer);
    j->audience = md_xstrdup(cfg->audience);
    j->skew_s = cfg->skew_s;
    rc = claim_setting(cfg->role_claim != NULL ? cfg->role_claim : "roles", "role_claim",
                       &j->role_claim, err);
    if (rc == MD_OK && cfg->models_claim != NULL)
        rc = claim_setting(cfg->models_claim, "models_claim", &j->models_claim, err);
    for (size_t i = 0; i < LOCKS; i++)
        if (pthread_mutex_init(&j->stripes[i].mu, NULL) != 0)
            MD_BUG("pthread_mutex_init failed");
    if (rc == MD_OK)
        rc = parse_jwks(j, text, len, source, err);
    if (rc != MD_OK) {
        md_jwt_free(j);
        return rc;
    }
    j->n_sets = LOCKS;
    while (j->n_sets * WAYS < want)
        j->n_sets *= 2;
    j->slots = md_xcalloc(j->n_sets * WAYS, sizeof(*j->slots));
    if (RAND_bytes((unsigned char *)j->hash_key, sizeof(j->hash_key)) != 1)
        MD_BUG("RAND_bytes failed");
    *out = j;
    return MD_OK;
}

int md_jwt_new(const struct md_jwt_config *cfg, struct md_jwt **out, struct md_err *err)
{
    const char *path = cfg->jwks_file;
    struct stat st;
    char *buf;
    size_t n = 0;
    int fd;
    int rc = MD_OK;

    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return md_err_set(err, MD_EINVAL,
                          "jwt jwks_file: missing (the identity provider's "
                          "public keys, as a JWKS file)");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return md_err_set(err, errno == ENOENT ? MD_ENOTFOUND : MD_EINVAL, "jwks file %s: %s", path,
                          strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = md_err_set(err, MD_EINVAL, "jwks file %s: not a regular file", path);
    else if ((st.st_mode & 022) != 0)
        rc = md_err_set(err, MD_EINVAL,
                        "jwks file %s has mode %04o: other users may write it, and so mint "
                        "tokens; run chmod go-w %s",
                        path, (unsigned)(st.st_mode & 07777), path);
    else if (st.st_uid != geteuid() && st.st_uid != 0)
        rc = md_err_set(err, MD_EINVAL,
                        "jwks file %s belongs to user %u, not to this process's user %u or root",
                        path, (unsigned)st.st_uid, (unsigned)geteuid());
    if (rc != MD_OK) {
        (void)close(fd);
        return rc;
    }
    buf = md_xmalloc(MD_JWT_MAX_JWKS + 1);
    for (;;) {
        ssize_t got = read(fd, buf + n, MD_JWT_MAX_JWKS + 1 - n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = md_err_set(err, MD_EINVAL, "jwks file %s: %s", path, strerror(errno));
        if (got <= 0)
            break;
        n += (size_t)got;
        if (n > MD_JWT_MAX_JWKS) {
            rc = md_err_set(err, MD_EINVAL, "jwks file %s: larger than %d bytes", path,
                            MD_JWT_MAX_JWKS);
            break;
        }
    }
    (void)close(fd);
    if (rc == MD_OK) {
        char source[300];

        (void)snprintf(source, sizeof(source), "jwks file %s", path);
        rc = md_jwt_new_jwks(cfg, buf, n, source, out, err);
    }
    free(buf);
    return rc;
}

/* ---- a token: its shape, header, signature and claims --------------------- */

bool md_jwt_is_jwt(const char *tok, size_t len)
{
    const char *d1 = memchr(tok, '.', len);
    const char *d2;

    if (d1 == NULL)
        return false;
    d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    return d2 != NULL && memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) == NULL;
}

/* A part of a token as a JSON object (header or payload), or NULL with err set. */
static json_t *part_json(const char *s, size_t n, const char *what, struct md_err *err)
{
    unsigned char buf[MD_JWT_MAX_TOKEN];
    size_t got;
    json_error_t jerr;
    json_t *o;

    if (!md_jwt__b64url_decode(s, n, buf, sizeof(buf), &got)) {
        (void)md_err_set(err, MD_EAUTH, "jwt %s: not base64url without padding", what);
        return NULL;
    }
    o = json_loadb((const char *)buf, got, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        (void)md_err_set(err, MD_EAUTH, "jwt %s: not a JSON object", what);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The key that must check a token with header hdr, into *out; MD_EAUTH naming why not. */
static int pick_key(const struct md_jwt *j, const json_t *hdr, const struct jwk **out,
                    struct md_err *err)
{
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const json_t *kidv = json_object_get(hdr, "kid");
    const char *kid = json_string_value(kidv);
    size_t candidates = 0;
    enum alg a;

    *out = NULL;
    if (alg == NULL)
        return md_err_set(err, MD_EAUTH, "jwt header: 'alg' missing or not a string");
    if (strcmp(alg, "RS256") == 0)
        a = ALG_RS256;
    else if (strcmp(alg, "ES256") == 0)
        a = ALG_ES256;
    else if (strcasecmp(alg, "none") == 0)
        return md_err_set(err, MD_EAUTH,
                          "jwt header: alg 'none' refused: tokens must be signed (RS256 or ES256)");
    else
        return md_err_set(err, MD_EAUTH, "jwt header: alg '%.20s' refused (RS256 or ES256 only)",
                          alg);
    if (json_object_get(hdr, "crit") != NULL)
        return md_err_set(err, MD_EAUTH,
                          "jwt header: 'crit' names extensions modeld does not understand");
    if (kidv != NULL && kid == NULL)
        return md_err_set(err, MD_EAUTH, "jwt header: 'kid' is not a string");
    for (size_t i = 0; i < j->n_keys; i++) {
        const struct jwk *k = &j->keys[i];

        if (kid != NULL && strcmp(k->kid, kid) == 0) {
            if (k->alg != a)
                return md_err_set(err, MD_EAUTH,
                                  "jwt header: alg %s does not match key '%.64s', an %s key", alg,
                                  kid, k->alg == ALG_RS256 ? "RS256" : "ES256");
            *out = k;
            return MD_OK;
        }
        if (kid == NULL && k->alg == a) {
            *out = k;
            candidates++;
        }
    }
    if (kid != NULL)
        return md_err_set(err, MD_EAUTH, "jwt header: no key with kid '%.64s' in the JWKS", kid);
    if (candidates != 1) {
        *out = NULL;
        return md_err_set(err, MD_EAUTH,
                          "jwt header: no 'kid', and the JWKS holds %zu %s keys (it must name "
                          "one of several)",
                          candidates, alg);
    }
    return MD_OK;
}

/* Whether sig (n bytes) is key's signature of tbs (tbs_len bytes). */
static bool signature_ok(const struct jwk *key, const unsigned char *sig, size_t n, const char *tbs,
                         size_t tbs_len)
{
    unsigned char *der = NULL;
    const unsigned char *s = sig;
    size_t sn = n;
    EVP_MD_CTX *mc;
    bool ok = false;

    if (key->alg == ALG_ES256) {
        /* JWS gives r and s as 32 bytes each; OpenSSL verifies DER. */
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = NULL;
        BIGNUM *ss = NULL;
        int dn;

        if (n != 64 || es == NULL) {
            ECDSA_SIG_free(es);
            return false;
        }
        r = BN_bin2bn(sig, 32, NULL);
        ss = BN_bin2bn(sig + 32, 32, NULL);
        if (r == NULL || ss == NULL || ECDSA_SIG_set0(es, r, ss) != 1) {
            BN_free(r);
            BN_free(ss);
            ECDSA_SIG_free(es);
            return false;
        }
        dn = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (dn <= 0)
            return false;
        s = der;
        sn = (size_t)dn;
    } else if (n != (size_t)EVP_PKEY_get_size(key->pkey)) {
        return false;
    }
    mc = EVP_MD_CTX_new();
    if (mc != NULL &&
        EVP_DigestVerifyInit_ex(mc, NULL, "SHA256", NULL, NULL, key->pkey, NULL) == 1 &&
        EVP_DigestVerify(mc, s, sn, (const unsigned char *)tbs, tbs_len) == 1)
        ok = true;
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    return ok;
}

/* The value at a dotted path in o ("realm_access.roles"), or NULL. */
static const json_t *claim_at(const json_t *o, const char *path)
{
    char name[201];
    const char *p = path;

    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);

        if (!json_is_object(o) || n >= sizeof(name))
            return NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        o = json_object_get(o, name);
        if (dot == NULL || o == NULL)
            return o;
        p = dot + 1;
    }
}

/* A NumericDate claim: MD_OK with *out, 1 when absent, MD_EAUTH when not a number. */
static int date_claim(const json_t *pl, const char *name, int64_t *out, struct md_err *err)
{
    const json_t *v = json_object_get(pl, name);
    double d;

    if (v == NULL)
        return 1;
    d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 1e13)
        return md_err_set(err, MD_EAUTH, "jwt claim '%s': not a time in seconds", name);
    *out = (int64_t)floor(d);
    return MD_OK;
}

static int check_times(const struct md_jwt *j, const json_t *pl, int64_t now_s, int64_t *exp_s,
                       struct md_err *err)
{
    int64_t nbf = 0;
    int rc = date_claim(pl, "exp", exp_s, err);

    if (rc == 1)
        return md_err_set(err, MD_EAUTH, "jwt claim 'exp': missing (tokens must expire)");
    if (rc != MD_OK)
        return rc;
    if (now_s >= *exp_s + j->skew_s)
        return md_err_set(err, MD_EAUTH, "jwt claim 'exp': expired %lld s ago (skew %lld s)",
                          (long long)(now_s - *exp_s), (long long)j->skew_s);
    rc = date_claim(pl, "nbf", &nbf, err);
    if (rc < 0)
        return rc;
    if (rc == MD_OK && now_s + j->skew_s < nbf)
        return md_err_set(err, MD_EAUTH,
                          "jwt claim 'nbf': not valid for another %lld s (skew %lld s)",
                          (long long)(nbf - now_s), (long long)j->skew_s);
    return MD_OK;
}

static int check_iss_aud(const struct md_jwt *j, const json_t *pl, struct md_err *err)
{
    const char *iss = json_string_value(json_object_get(pl, "iss"));
    const json_t *aud = json_object_get(pl, "aud");
    bool found = false;

    if (iss == NULL)
        return md_err_set(err, MD_EAUTH, "jwt claim 'iss': missing or not a string");
    if (strcmp(iss, j->issuer) != 0)
        return md_err_set(err, MD_EAUTH, "jwt claim 'iss': '%.80s', not the issuer '%.80s'", iss,
                          j->issuer);
    if (json_is_string(aud)) {
        found = strcmp(json_string_value(aud), j->audience) == 0;
    } else if (json_is_array(aud)) {
        for (size_t i = 0; i < json_array_size(aud) && !found; i++) {
            const char *a = json_string_value(json_array_get(aud, i));

            found = a != NULL && strcmp(a, j->audience) == 0;
        }
    } else {
        return md_err_set(err, MD_EAUTH, "jwt claim 'aud': missing, or not a string or an array");
    }
    if (!found)
        return md_err_set(err, MD_EAUTH, "jwt claim 'aud': does not hold the audience '%.80s'",
                          j->audience);
    return MD_OK;
}

/*
 * The roles of a claim value: a string (a name, or names separated by
 * spaces, as OAuth's "scope") or an array of strings. Names modeld does not
 * know are left out: an identity provider's groups name many things.
 */
static int take_roles(const json_t *v, const char *claim, struct md_jwt_identity *id,
                      struct md_err *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;

    if (v == NULL)
        return MD_OK;
    if (!json_is_array(v) && !json_is_string(v))
        return md_err_set(err, MD_EAUTH, "jwt claim '%s': not a string or an array of them", claim);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        const char *s = json_string_value(e);

        if (s == NULL)
            return md_err_set(err, MD_EAUTH, "jwt claim '%s'[%zu]: not a string", claim, i);
        while (*s != '\0') {
            char word[32];
            size_t w = strcspn(s, " ");
            enum md_role r;

            if (w > 0 && w < sizeof(word)) {
                memcpy(word, s, w);
                word[w] = '\0';
                r = md_role_parse(word);
                id->perms |= md_role_perms(r);
                if (r > id->role)
                    id->role = r;
            }
            s += w;
            s += strspn(s, " ");
        }
    }
    return MD_OK;
}

/* The models of a claim value: a string or an array of strings. */
static int take_models(const json_t *v, const char *claim, struct md_jwt_identity *id,
                       struct md_err *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    size_t used = 0;

    id->all_models = v == NULL;
    if (v == NULL)
        return MD_OK;
    if (!json_is_array(v) && !json_is_string(v))
        return md_err_set(err, MD_EAUTH, "jwt claim '%s': not a string or an array of them", claim);
    if (n > MD_JWT_MODELS_MAX)
        return md_err_set(err, MD_EAUTH, "jwt claim '%s': more than %d models", claim,
                          MD_JWT_MODELS_MAX);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        const char *s = json_string_value(e);
        size_t len = json_string_length(e);

        if (s == NULL || len == 0 || strlen(s) != len)
            return md_err_set(err, MD_EAUTH, "jwt claim '%s'[%zu]: not a model name", claim, i);
        if (used + len + 1 > sizeof(id->models))
            return md_err_set(err, MD_EAUTH, "jwt claim '%s': names longer than %d bytes in all",
                              claim, MD_JWT_MODELS_TEXT);
        memcpy(id->models + used, s, len + 1);
        used += len + 1;
        id->n_models++;
    }
    return MD_OK;
}

static void take_name(const json_t *pl, struct md_jwt_identity *id)
{
    const char *sub = json_string_value(json_object_get(pl, "sub"));
    size_t o = 4;

    memcpy(id->name, "jwt:", 5);
    for (size_t i = 0; sub != NULL && sub[i] != '\0' && o + 1 < sizeof(id->name); i++) {
        unsigned char c = (unsigned char)sub[i];

        id->name[o++] = '?';
        if (c >= 0x20 && c < 0x7f)
            id->name[o - 1] = sub[i];
    }
    id->name[o] = '\0';
}

/* Checks a token that is not in the cache, all of it. */
static int check_token(const struct md_jwt *j, const char *tok, size_t len, int64_t now_s,
                       struct md_jwt_identity *id, struct md_err *err)
{
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    unsigned char sig[1024];
    size_t sig_len;
    json_t *hdr;
    json_t *pl = NULL;
    const struct jwk *key;
    int rc;

    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
        return md_err_set(err, MD_EAUTH, "jwt: not three parts separated by dots");
    if (d2 + 1 == tok + len)
        return md_err_set(err, MD_EAUTH, "jwt: no signature (unsigned tokens are refused)");
    hdr = part_json(tok, (size_t)(d1 - tok), "header", err);
    if (hdr == NULL)
        return MD_EAUTH;
    rc = pick_key(j, hdr, &key, err);
    json_decref(hdr);
    if (rc != MD_OK)
        return rc;
    if (!md_jwt__b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, sizeof(sig), &sig_len))
        return md_err_set(err, MD_EAUTH, "jwt signature: not base64url without padding");
    if (!signature_ok(key, sig, sig_len, tok, (size_t)(d2 - tok)))
        return md_err_set(err, MD_EAUTH, "jwt signature: does not verify with key '%s'",
                          key->kid[0] != '\0' ? key->kid : "(no kid)");
    pl = part_json(d1 + 1, (size_t)(d2 - d1 - 1), "payload", err);
    if (pl == NULL)
        return MD_EAUTH;
    memset(id, 0, sizeof(*id));
    rc = check_iss_aud(j, pl, err);
    if (rc == MD_OK)
        rc = check_times(j, pl, now_s, &id->exp_s, err);
    if (rc == MD_OK)
        rc = take_roles(claim_at(pl, j->role_claim), j->role_claim, id, err);
    if (rc == MD_OK && j->models_claim != NULL)
        rc = take_models(claim_at(pl, j->models_claim), j->models_claim, id, err);
    else if (rc == MD_OK)
        id->all_models = true;
    if (rc == MD_OK)
        take_name(pl, id);
    json_decref(pl);
    return rc;
}

/* ---- the cache ----------------------------------------------------------- */

int md_jwt_verify(struct md_jwt *j, const char *tok, size_t len, int64_t now_s,
                  struct md_jwt_identity *out, struct md_err *err)
{
    uint64_t h[2];
    size_t set;
    struct stripe *st;
    struct slot *s;
    struct slot *victim;
    int rc;

    if (len == 0 || len > MD_JWT_MAX_TOKEN)
        return md_err_set(err, MD_EAUTH, "jwt: %zu bytes, not 1 to %d", len, MD_JWT_MAX_TOKEN);
    md_jwt__siphash128(j->hash_key, tok, len, h);
    set = (size_t)h[0] & (j->n_sets - 1);
    st = &j->stripes[set % LOCKS];
    s = &j->slots[set * WAYS];
    (void)pthread_mutex_lock(&st->mu);
    for (size_t w = 0; w < WAYS; w++) {
        if (s[w].h[0] == h[0] && s[w].h[1] == h[1] && now_s < s[w].until_s) {
            memcpy(out, &s[w].id, sizeof(*out));
            st->hits++;
            (void)pthread_mutex_unlock(&st->mu);
            return MD_OK;
        }
    }
    st->misses++;
    (void)pthread_mutex_unlock(&st->mu);

    rc = check_token(j, tok, len, now_s, out, err);
    if (rc != MD_OK)
        return rc;
    (void)pthread_mutex_lock(&st->mu);
    victim = &s[0];
    for (size_t w = 0; w < WAYS; w++) {
        if (s[w].h[0] == h[0] && s[w].h[1] == h[1]) {
            victim = &s[w]; /* another thread cached it meanwhile */
            break;
        }
        if (s[w].until_s < victim->until_s)
            victim = &s[w]; /* empty (0), expired, or the soonest to expire */
    }
    victim->h[0] = h[0];
    victim->h[1] = h[1];
    victim->until_s = out->exp_s + j->skew_s;
    memcpy(&victim->id, out, sizeof(*out));
    (void)pthread_mutex_unlock(&st->mu);
    return MD_OK;
}

void md_jwt_cache_stats(struct md_jwt *j, uint64_t *hits, uint64_t *misses)
{
    *hits = 0;
    *misses = 0;
    for (size_t i = 0; i < LOCKS; i++) {
        (void)pthread_mutex_lock(&j->stripes[i].mu);
        *hits += j->stripes[i].hits;
        *misses += j->stripes[i].misses;
        (void)pthread_mutex_unlock(&j->stripes[i].mu);
    }
}

bool md_jwt_may_use(const struct md_jwt_identity *id, const char *model)
{
    const char *p = id->models;

    if (id->all_models)
        return true;
    for (uint32_t i = 0; i < id->n_models; i++) {
        if (strcmp(p, model) == 0)
            return true;
        p += strlen(p) + 1;
    }
    return false;
}
