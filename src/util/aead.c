/* SPDX-License-Identifier: MIT */
/*
 * aead.c: AES-256-GCM sealing of stored values and the key file of data
 * keys (aead.h).
 */
#include "util/aead.h"
#include "util/buf.h"
#include "util/keyfile.h"
#include "util/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#define KEYFILE_MAX (MD_AEAD_MAX_KEYS * 80 + 4096) /* the keys, their line ends, comments */

struct md_aead_keys {
    size_t n;                                               /* keys held, >= 1 */
    uint32_t id[MD_AEAD_MAX_KEYS];                          /* key ids */
    unsigned char key[MD_AEAD_MAX_KEYS][MD_AEAD_KEY_BYTES]; /* the last one seals */
};

/*
 * A context keeps the cipher fetched and each direction's key schedule set
 * up, so a seal or an open only sets its nonce. Nonces: a random 8-byte
 * prefix per context and a 4-byte counter, a new prefix when the counter
 * wraps; so no nonce repeats under a key unless two of the 2^64 prefixes
 * drawn meet.
 */
struct md_aead {
    const struct md_aead_keys *keys; /* borrowed */
    EVP_CIPHER *cipher;              /* AES-256-GCM, fetched once */
    EVP_CIPHER_CTX *enc;             /* keyed with the current key */
    EVP_CIPHER_CTX *dec;             /* keyed with key dec_key (SIZE_MAX: none yet) */
    size_t dec_key;
    bool enc_ready;        /* enc holds the current key's schedule */
    unsigned char salt[8]; /* the nonces' prefix */
    uint32_t counter;      /* the next nonce's suffix; 0 after a wrap: a new salt */
    bool salted;
};

static uint32_t key_id(const unsigned char key[MD_AEAD_KEY_BYTES])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;

    if (EVP_Digest(key, MD_AEAD_KEY_BYTES, d, &dl, EVP_sha256(), NULL) != 1 || dl < 4)
        MD_BUG("SHA-256 failed");
    return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | (uint32_t)d[3];
}

/* Parses one line's key (trimmed: p[0..n)) into k's next slot. */
static int parse_line(struct md_aead_keys *k, const char *p, size_t n, size_t line,
                      struct md_err *err)
{
    unsigned char *key;
    uint32_t id;

    if (n != (size_t)2 * MD_AEAD_KEY_BYTES)
        return md_err_set(err, MD_EINVAL,
                          "data key file line %zu: a key is 64 hex digits (32 bytes), not %zu "
                          "characters (make one with: openssl rand -hex 32)",
                          line, n);
    if (k->n == MD_AEAD_MAX_KEYS)
        return md_err_set(err, MD_EINVAL, "data key file line %zu: more than %d keys", line,
                          MD_AEAD_MAX_KEYS);
    key = k->key[k->n];
    for (size_t i = 0; i < MD_AEAD_KEY_BYTES; i++) {
        int hi = md_hex_digit(p[2 * i]);
        int lo = md_hex_digit(p[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return md_err_set(err, MD_EINVAL,
                              "data key file line %zu: character %zu is not a hex digit", line,
                              hi < 0 ? 2 * i + 1 : 2 * i + 2);
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    id = key_id(key);
    for (size_t i = 0; i < k->n; i++)
        if (k->id[i] == id)
            return md_err_set(err, MD_EINVAL,
                              "data key file line %zu: the same key as an earlier line", line);
    k->id[k->n++] = id;
    return MD_OK;
}

int md_aead_keys_parse(const char *text, size_t len, struct md_aead_keys **out, struct md_err *err)
{
    struct md_aead_keys *k = md_xcalloc(1, sizeof(*k));
    size_t line = 0;
    size_t i = 0;
    int rc = MD_OK;

    *out = NULL;
    while (rc == MD_OK && i < len) {
        size_t a = i;
        size_t b;

        while (i < len && text[i] != '\n')
            i++;
        b = i;
        i++; /* past the '\n' (or the end) */
        line++;
        while (a < b && (text[a] == ' ' || text[a] == '\t'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        if (a == b || text[a] == '#')
            continue;
        rc = parse_line(k, text + a, b - a, line, err);
    }
    if (rc == MD_OK && k->n == 0)
        rc = md_err_set(err, MD_EINVAL,
                        "data key file holds no key (one per line, 64 hex digits: openssl rand "
                        "-hex 32)");
    if (rc != MD_OK) {
        md_aead_keys_free(k);
        return rc;
    }
    *out = k;
    return MD_OK;
}

int md_aead_keys_load(const char *path, struct md_aead_keys **out, struct md_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = md_keyfile_read(path, KEYFILE_MAX, &text, &len, err);
    if (rc != MD_OK)
        return rc;
    rc = md_aead_keys_parse(text, len, out, err);
    md_keyfile_free(text, len);
    if (rc != MD_OK)
        md_err_prefix(err, "%s: ", path);
    return rc;
}

void md_aead_keys_free(struct md_aead_keys *k)
{
    if (k == NULL)
        return;
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

uint32_t md_aead_keys_current(const struct md_aead_keys *k)
{
    return k->id[k->n - 1];
}

size_t md_aead_keys_count(const struct md_aead_keys *k)
{
    return k->n;
}

/* The index of the key with this id, or SIZE_MAX. */
static size_t find_key(const struct md_aead_keys *k, uint32_t id)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->id[i] == id)
            return i;
    return SIZE_MAX;
}

bool md_aead_keys_has(const struct md_aead_keys *k, uint32_t id)
{
    return find_key(k, id) != SIZE_MAX;
}

void md_aead_key_id_hex(uint32_t id, char out[9])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 8; i++)
        out[i] = digits[(id >> (28 - 4 * i)) & 0xf];
    out[8] = '\0';
}

struct md_aead *md_aead_new(const struct md_aead_keys *keys)
{
    struct md_aead *a = md_xcalloc(1, sizeof(*a));

    a->keys = keys;
    a->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    if (a->cipher == NULL || a->enc == NULL || a->dec == NULL)
        MD_BUG("OpenSSL has no AES-256-GCM context to give");
    a->dec_key = SIZE_MAX;
    return a;
}

void md_aead_free(struct md_aead *a)
{
    if (a == NULL)
        return;
    EVP_CIPHER_CTX_free(a->enc);
    EVP_CIPHER_CTX_free(a->dec);
    EVP_CIPHER_free(a->cipher);
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

const struct md_aead_keys *md_aead_keys_of(const struct md_aead *a)
{
    return a->keys;
}

bool md_aead_sealed(const void *c, size_t n, uint32_t *id)
{
    const unsigned char *b = c;

    if (n < MD_AEAD_OVERHEAD || b[0] != MD_AEAD_VERSION)
        return false;
    if (id != NULL)
        *id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | (uint32_t)b[4];
    return true;
}

int md_aead_random(void *p, size_t n, struct md_err *err)
{
    if (n > INT32_MAX || RAND_bytes(p, (int)n) != 1)
        return md_err_set(err, MD_EINTERNAL, "no random bytes to be had from OpenSSL");
    return MD_OK;
}

int md_aead_seal(struct md_aead *a, const char *aad, const void *p, size_t n, unsigned char *out,
                 size_t cap, size_t *olen, struct md_err *err)
{
    uint32_t id = md_aead_keys_current(a->keys);
    int len = 0;
    int fin = 0;
    int rc;

    *olen = 0;
    if (n > INT32_MAX - MD_AEAD_OVERHEAD || cap < n + MD_AEAD_OVERHEAD)
        return md_err_set(err, MD_EINVAL, "a sealed value of %zu bytes does not fit in %zu", n,
                          cap);
    if (!a->salted || a->counter == 0) {
        rc = md_aead_random(a->salt, sizeof(a->salt), err);
        if (rc != MD_OK)
            return rc;
        a->salted = true;
    }
    if (!a->enc_ready) {
        if (EVP_EncryptInit_ex(a->enc, a->cipher, NULL, a->keys->key[a->keys->n - 1], NULL) != 1)
            return md_err_set(err, MD_EINTERNAL, "AES-256-GCM sealing failed in OpenSSL");
        a->enc_ready = true;
    }
    out[0] = MD_AEAD_VERSION;
    out[1] = (unsigned char)(id >> 24);
    out[2] = (unsigned char)(id >> 16);
    out[3] = (unsigned char)(id >> 8);
    out[4] = (unsigned char)id;
    memcpy(out + 5, a->salt, sizeof(a->salt));
    out[13] = (unsigned char)(a->counter >> 24);
    out[14] = (unsigned char)(a->counter >> 16);
    out[15] = (unsigned char)(a->counter >> 8);
    out[16] = (unsigned char)a->counter;
    a->counter++;
    if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, out + 5) != 1 ||
        EVP_EncryptUpdate(a->enc, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(a->enc, out + MD_AEAD_HEADER, &len, p, (int)n) != 1 ||
        EVP_EncryptFinal_ex(a->enc, out + MD_AEAD_HEADER + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, MD_AEAD_TAG, out + MD_AEAD_HEADER + n) !=
            1)
        return md_err_set(err, MD_EINTERNAL, "AES-256-GCM sealing failed in OpenSSL");
    *olen = n + MD_AEAD_OVERHEAD;
    return MD_OK;
}

int md_aead_open(struct md_aead *a, const char *aad, const unsigned char *c, size_t n,
                 unsigned char *out, size_t cap, size_t *olen, struct md_err *err)
{
    unsigned char tag[MD_AEAD_TAG];
    size_t ki;
    size_t m;
    uint32_t id = 0;
    int len = 0;
    int fin = 0;

    *olen = 0;
    if (!md_aead_sealed(c, n, &id) || n > INT32_MAX)
        return md_err_set(err, MD_ECORRUPT, "'%s' is not a sealed value", aad);
    m = n - MD_AEAD_OVERHEAD;
    if (cap < m)
        return md_err_set(err, MD_EINVAL, "an opened value of %zu bytes does not fit in %zu", m,
                          cap);
    ki = find_key(a->keys, id);
    if (ki == SIZE_MAX) {
        char hex[9];

        md_aead_key_id_hex(id, hex);
        return md_err_set(err, MD_ENOTFOUND,
                          "'%s' is sealed with data key %s, which the data key file lacks", aad,
                          hex);
    }
    if (a->dec_key != ki) {
        if (EVP_DecryptInit_ex(a->dec, a->cipher, NULL, a->keys->key[ki], NULL) != 1)
            return md_err_set(err, MD_EINTERNAL, "AES-256-GCM opening failed in OpenSSL");
        a->dec_key = ki;
    }
    memcpy(tag, c + n - MD_AEAD_TAG, MD_AEAD_TAG);
    if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, c + 5) != 1 ||
        EVP_DecryptUpdate(a->dec, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_DecryptUpdate(a->dec, out, &len, c + MD_AEAD_HEADER, (int)m) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, MD_AEAD_TAG, tag) != 1 ||
        EVP_DecryptFinal_ex(a->dec, out + len, &fin) != 1) {
        OPENSSL_cleanse(out, m);
        return md_err_set(err, MD_ECORRUPT,
                          "'%s' fails authentication: altered, or not sealed for this place", aad);
    }
    *olen = m;
    return MD_OK;
}

void md_aead_hmac(const unsigned char *key, size_t klen, const void *p, size_t n,
                  unsigned char mac[32])
{
    unsigned int len = 0;

    if (HMAC(EVP_sha256(), key, (int)klen, p, n, mac, &len) == NULL || len != 32)
        MD_BUG("HMAC-SHA256 failed");
}

struct md_aead_hmac {
    EVP_MD *sha256;
    EVP_MD_CTX *inner; /* SHA-256 of (key ^ ipad): copied at each run */
    EVP_MD_CTX *outer; /* SHA-256 of (key ^ opad) */
    EVP_MD_CTX *work;
};

struct md_aead_hmac *md_aead_hmac_new(const unsigned char *key, size_t klen)
{
    struct md_aead_hmac *h = md_xcalloc(1, sizeof(*h));
    unsigned char k[64];
    unsigned char ipad[64];
    unsigned char opad[64];
    unsigned int dl = 0;

    memset(k, 0, sizeof(k));
    h->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->inner = EVP_MD_CTX_new();
    h->outer = EVP_MD_CTX_new();
    h->work = EVP_MD_CTX_new();
    if (h->sha256 == NULL || h->inner == NULL || h->outer == NULL || h->work == NULL)
        MD_BUG("OpenSSL has no SHA-256 context to give");
    if (klen > sizeof(k)) {
        if (EVP_Digest(key, klen, k, &dl, h->sha256, NULL) != 1)
            MD_BUG("SHA-256 failed");
    } else {
        memcpy(k, key, klen);
    }
    for (size_t i = 0; i < sizeof(k); i++) {
        ipad[i] = (unsigned char)(k[i] ^ 0x36);
        opad[i] = (unsigned char)(k[i] ^ 0x5c);
    }
    if (EVP_DigestInit_ex(h->inner, h->sha256, NULL) != 1 ||
        EVP_DigestUpdate(h->inner, ipad, sizeof(ipad)) != 1 ||
        EVP_DigestInit_ex(h->outer, h->sha256, NULL) != 1 ||
        EVP_DigestUpdate(h->outer, opad, sizeof(opad)) != 1)
        MD_BUG("SHA-256 failed");
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
    return h;
}

void md_aead_hmac_free(struct md_aead_hmac *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->inner);
    EVP_MD_CTX_free(h->outer);
    EVP_MD_CTX_free(h->work);
    EVP_MD_free(h->sha256);
    free(h);
}

void md_aead_hmac_run(struct md_aead_hmac *h, const void *p, size_t n, unsigned char mac[32])
{
    unsigned char ih[32];
    unsigned int len = 0;

    if (EVP_MD_CTX_copy_ex(h->work, h->inner) != 1 || EVP_DigestUpdate(h->work, p, n) != 1 ||
        EVP_DigestFinal_ex(h->work, ih, &len) != 1 || len != 32 ||
        EVP_MD_CTX_copy_ex(h->work, h->outer) != 1 ||
        EVP_DigestUpdate(h->work, ih, sizeof(ih)) != 1 ||
        EVP_DigestFinal_ex(h->work, mac, &len) != 1 || len != 32)
        MD_BUG("HMAC-SHA256 failed");
}
