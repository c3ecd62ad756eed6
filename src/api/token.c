/* SPDX-License-Identifier: MIT */
/*
 * token.c: bearer tokens' secrets, their creation (offline by `modeld token
 * create`, or POST /api/v1/tokens), listing and revocation (token.h). Each
 * change to the tokens reads the table back in its store job and publishes
 * it (api/auth.c) once committed, so the next request sees it; a token made
 * offline while the daemon runs is seen after a SIGHUP or a restart.
 */
#include "api/token.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "store/store.h"
#include "util/keyfile.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- secrets ------------------------------------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

int md_token_secret_new(char out[MD_TOKEN_SECRET_LEN + 1], struct md_err *err)
{
    unsigned char r[32];
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return md_err_set(err, MD_EIO, "cannot read random bytes for a token: %s",
                              n < 0 ? strerror(errno) : "none returned");
        got += (size_t)n;
    }
    memcpy(out, MD_TOKEN_PREFIX, MD_TOKEN_PREFIX_LEN);
    for (size_t i = 0; i < sizeof(r); i++) {
        out[MD_TOKEN_PREFIX_LEN + 2 * i] = hexdigits[r[i] >> 4];
        out[MD_TOKEN_PREFIX_LEN + 2 * i + 1] = hexdigits[r[i] & 15];
    }
    out[MD_TOKEN_SECRET_LEN] = '\0';
    explicit_bzero(r, sizeof(r));
    return MD_OK;
}

bool md_token_secret_valid(const char *p, size_t n)
{
    if (n != MD_TOKEN_SECRET_LEN || memcmp(p, MD_TOKEN_PREFIX, MD_TOKEN_PREFIX_LEN) != 0)
        return false;
    for (size_t i = MD_TOKEN_PREFIX_LEN; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* ---- SHA-256 (FIPS 180-4), for short inputs on a request's path --------- */

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

#define BSIG0(x) (ror(x, 2) ^ ror(x, 13) ^ ror(x, 22))
#define BSIG1(x) (ror(x, 6) ^ ror(x, 11) ^ ror(x, 25))
#define SSIG0(x) (ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))
/* One round: the eight working variables are renamed, not moved. */
#define ROUND(a, b, c, d, e, f, g, h, i)                                                           \
    do {                                                                                           \
        uint32_t t1_ = (h) + BSIG1(e) + (((e) & (f)) ^ (~(e) & (g))) + k256[i] + w[i];             \
        uint32_t t2_ = BSIG0(a) + (((a) & (b)) ^ ((a) & (c)) ^ ((b) & (c)));                       \
        (d) += t1_;                                                                                \
        (h) = t1_ + t2_;                                                                           \
    } while (0)

/* One 64-byte block into state h. */
static void block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], x = h[7];

    for (size_t i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (size_t i = 16; i < 64; i++)
        w[i] = w[i - 16] + SSIG0(w[i - 15]) + w[i - 7] + SSIG1(w[i - 2]);
    for (size_t i = 0; i < 64; i += 8) {
        ROUND(a, b, c, d, e, f, g, x, i);
        ROUND(x, a, b, c, d, e, f, g, i + 1);
        ROUND(g, x, a, b, c, d, e, f, i + 2);
        ROUND(f, g, x, a, b, c, d, e, i + 3);
        ROUND(e, f, g, x, a, b, c, d, i + 4);
        ROUND(d, e, f, g, x, a, b, c, i + 5);
        ROUND(c, d, e, f, g, x, a, b, i + 6);
        ROUND(b, c, d, e, f, g, x, a, i + 7);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += x;
}

void md_token_hash(const void *p, size_t n, unsigned char out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *c = p;
    unsigned char last[128];
    size_t full = n / 64 * 64;
    size_t rest = n - full;
    size_t tail;
    uint64_t bits = (uint64_t)n * 8;

    for (size_t i = 0; i < full; i += 64)
        block(h, c + i);
    memset(last, 0, sizeof(last));
    if (rest > 0)
        memcpy(last, c + full, rest);
    last[rest] = 0x80;
    tail = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        last[tail - 1 - i] = (unsigned char)(bits >> (8 * i));
    block(h, last);
    if (tail == 128)
        block(h, last + 64);
    for (size_t i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* ---- creation ------------------------------------------------------------ */

int md_token_duration(const char *s, const char *field, int64_t *ms, struct md_err *err)
{
    char *end = NULL;
    double v;
    double unit = 1000;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return md_err_set(err, MD_EINVAL, "%s: not a duration such as 30d, 12h, 90m or 3600s",
                          field);
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s)
        return md_err_set(err, MD_EINVAL, "%s: '%s' is not a duration", field, s);
    if (*end == 'd')
        unit = 86400e3;
    else if (*end == 'h')
        unit = 3600e3;
    else if (*end == 'm')
        unit = 60e3;
    else if (*end == 's' || *end == '\0')
        unit = 1e3;
    else
        return md_err_set(err, MD_EINVAL, "%s: '%s' has an unknown unit (d, h, m or s)", field, s);
    if (*end != '\0' && end[1] != '\0')
        return md_err_set(err, MD_EINVAL, "%s: '%s' is not a duration", field, s);
    v *= unit;
    if (!(v >= 1000) || v > 3650 * 86400e3)
        return md_err_set(err, MD_EINVAL, "%s: '%s' out of range (1 s to 3650 d)", field, s);
    *ms = (int64_t)v;
    return MD_OK;
}

static bool name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > MD_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

/* The JSON array of a comma-separated list of model names (into *out, a
 * jansson string to free), or MD_EINVAL. */
static int models_json(const char *csv, char **out, struct md_err *err)
{
    json_t *a = json_array();
    const char *p = csv;
    size_t n = 0;

    while (*p != '\0') {
        const char *c = strchr(p, ',');
        size_t len = c != NULL ? (size_t)(c - p) : strlen(p);
        char name[MD_STORE_NAME_MAX + 1];

        if (len == 0 || len > MD_STORE_NAME_MAX || ++n > MD_TOKEN_MODELS_MAX) {
            json_decref(a);
            return md_err_set(err, MD_EINVAL,
                              len == 0                  ? "models: an empty name in the list"
                              : n > MD_TOKEN_MODELS_MAX ? "models: more than 64 names"
                                                        : "models: a name longer than 128 bytes");
        }
        memcpy(name, p, len);
        name[len] = '\0';
        json_array_append_new(a, json_string(name));
        p += len + (c != NULL ? 1 : 0);
        if (c != NULL && *p == '\0') {
            json_decref(a);
            return md_err_set(err, MD_EINVAL, "models: an empty name in the list");
        }
    }
    if (n == 0) {
        json_decref(a);
        return md_err_set(err, MD_EINVAL, "models: empty; leave it out for every model");
    }
    *out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (*out == NULL)
        return md_err_set(err, MD_ENOMEM, "models: out of memory");
    return MD_OK;
}

/* MD_OK when spec may be stored, else MD_EINVAL naming the field. */
static int check_spec(const struct md_token_spec *spec, struct md_err *err)
{
    if (spec->name != NULL && !name_ok(spec->name))
        return md_err_set(err, MD_EINVAL,
                          "name: 1 to 64 of letters, digits, '_', '.' and '-' expected");
    if (md_role_parse(spec->role) == 0)
        return md_err_set(err, MD_EINVAL,
                          "role: '%s' unknown; one of viewer, predictor, reviewer, deployer, admin",
                          spec->role != NULL ? spec->role : "");
    if (!(spec->rate >= 0) || spec->rate > 1e6)
        return md_err_set(err, MD_EINVAL, "rate: requests per second from 0 (no limit) to 1e6");
    if (spec->burst < 0 || spec->burst > 1000000)
        return md_err_set(err, MD_EINVAL, "burst: 0 to 1000000");
    if (spec->burst > 0 && spec->rate == 0)
        return md_err_set(err, MD_EINVAL, "burst: given without a rate");
    if (spec->expires_ms < 0)
        return md_err_set(err, MD_EINVAL, "expires: in the past");
    return MD_OK;
}

int md_token_create(struct md_store_tx *tx, const struct md_token_spec *spec,
                    char secret[MD_TOKEN_SECRET_LEN + 1], char name[MD_TOKEN_NAME_MAX + 1],
                    int64_t *id, struct md_err *err)
{
    struct md_store_token t;
    unsigned char hash[32];
    char hex[65];
    char *models = NULL;
    int rc = check_spec(spec, err);

    if (rc == MD_OK && spec->models != NULL)
        rc = models_json(spec->models, &models, err);
    if (rc == MD_OK)
        rc = md_token_secret_new(secret, err);
    if (rc != MD_OK) {
        free(models);
        return rc;
    }
    md_token_hash(secret, MD_TOKEN_SECRET_LEN, hash);
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = hexdigits[hash[i] >> 4];
        hex[2 * i + 1] = hexdigits[hash[i] & 15];
    }
    hex[64] = '\0';
    /* No name given: the role and the hash's first digits (which tell nothing of the secret). */
    if (spec->name != NULL)
        (void)snprintf(name, MD_TOKEN_NAME_MAX + 1, "%s", spec->name);
    else
        (void)snprintf(name, MD_TOKEN_NAME_MAX + 1, "%s-%.8s", spec->role, hex);
    memset(&t, 0, sizeof(t));
    t.name = name;
    t.hash = hex;
    t.role = spec->role;
    t.models = models;
    t.rate = spec->rate;
    t.burst = spec->rate > 0 ? (spec->burst > 0 ? spec->burst
                                                : (int64_t)(spec->rate >= 1 ? ceil(spec->rate) : 1))
                             : 0;
    t.created_ms = md_wall_ms();
    t.created_by = spec->created_by != NULL ? spec->created_by : "";
    t.expires_ms = spec->expires_ms;
    rc = md_store_tx_token_add(tx, &t, id, err);
    free(models);
    if (rc != MD_OK)
        explicit_bzero(secret, MD_TOKEN_SECRET_LEN + 1);
    return rc;
}

/* ---- the API -------------------------------------------------------------- */

/* A change of the tokens: what POST and DELETE hand their store job. */
struct change {
    struct md_auth *auth;
    struct md_token_spec spec;
    char *strings[4];             /* owned: the spec's name, role, models, created_by */
    struct md_token_table *table; /* read back after the change; published once committed */
};

static void change_free(void *p)
{
    struct change *c = p;

    if (c == NULL)
        return;
    for (size_t i = 0; i < MD_ARRAY_LEN(c->strings); i++)
        free(c->strings[i]);
    md_auth_tokens_free(c->table);
    free(c);
}

static void change_committed(struct md_api_store_read *r)
{
    struct change *c = r->extra;

    md_auth_tokens_publish(c->auth, c->table);
    c->table = NULL;
}

static void put_str(struct md_buf *b, const char *s)
{
    (void)md_buf_json_str(b, s, strlen(s));
}

static int run_create(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct change *c = r->extra;
    char secret[MD_TOKEN_SECRET_LEN + 1];
    char name[MD_TOKEN_NAME_MAX + 1];
    int64_t id = 0;
    int rc = md_token_create(tx, &c->spec, secret, name, &id, err);

    if (rc != MD_OK)
        return rc;
    rc = md_auth_tokens_read(tx, &c->table, err);
    if (rc != MD_OK) {
        explicit_bzero(secret, sizeof(secret));
        return rc;
    }
    (void)md_buf_printf(&r->out, "{\"id\":%lld,\"name\":", (long long)id);
    put_str(&r->out, name);
    (void)md_buf_puts(&r->out, ",\"role\":");
    put_str(&r->out, c->spec.role);
    (void)md_buf_printf(&r->out, ",\"expires_ms\":%lld,\"token\":", (long long)c->spec.expires_ms);
    put_str(&r->out, secret);
    (void)md_buf_putc(&r->out, '}');
    explicit_bzero(secret, sizeof(secret));
    return MD_OK;
}

/* The spec of a POST body into c: MD_OK or MD_EINVAL naming the field. */
static int parse_create(const char *body, size_t len, struct change *c, struct md_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *key;
    json_t *v;
    int rc = MD_OK;

    if (!json_is_object(root)) {
        json_decref(root);
        return md_err_set(err, MD_EINVAL, "body: a JSON object expected");
    }
    json_object_foreach(root, key, v)
    {
        if (rc != MD_OK)
            break;
        if (strcmp(key, "name") == 0 && json_is_string(v)) {
            c->strings[0] = md_xstrdup(json_string_value(v));
        } else if (strcmp(key, "role") == 0 && json_is_string(v)) {
            c->strings[1] = md_xstrdup(json_string_value(v));
        } else if (strcmp(key, "models") == 0 && json_is_array(v)) {
            struct md_buf b;
            size_t i;
            json_t *m;

            md_buf_init(&b, (size_t)MD_TOKEN_MODELS_MAX * (MD_STORE_NAME_MAX + 1));
            json_array_foreach(v, i, m)
            {
                const char *s = json_string_value(m);

                if (s == NULL || s[0] == '\0' || strchr(s, ',') != NULL) {
                    rc = md_err_set(err, MD_EINVAL, "models[%zu]: a model name expected", i);
                    break;
                }
                if (i > 0)
                    (void)md_buf_putc(&b, ',');
                (void)md_buf_puts(&b, s);
            }
            if (rc == MD_OK && md_buf_error(&b) != MD_OK)
                rc = md_err_set(err, MD_EINVAL, "models: too many names");
            if (rc == MD_OK)
                c->strings[2] = md_xstrdup(b.len > 0 ? b.data : "");
            md_buf_release(&b);
        } else if (strcmp(key, "expires") == 0 && json_is_string(v)) {
            int64_t ms = 0;

            rc = md_token_duration(json_string_value(v), "expires", &ms, err);
            c->spec.expires_ms = md_wall_ms() + ms;
        } else if (strcmp(key, "rate") == 0 && json_is_number(v)) {
            c->spec.rate = json_number_value(v);
        } else if (strcmp(key, "burst") == 0 && json_is_integer(v)) {
            c->spec.burst = (int64_t)json_integer_value(v);
        } else if (strcmp(key, "name") == 0 || strcmp(key, "role") == 0 ||
                   strcmp(key, "models") == 0 || strcmp(key, "expires") == 0 ||
                   strcmp(key, "rate") == 0 || strcmp(key, "burst") == 0) {
            rc = md_err_set(err, MD_EINVAL, "%s: wrong type", key);
        } else {
            rc = md_err_set(err, MD_EINVAL,
                            "%s: unknown field (name, role, models, expires, rate, burst)", key);
        }
    }
    json_decref(root);
    if (rc == MD_OK && c->strings[1] == NULL)
        rc = md_err_set(err, MD_EINVAL, "role: missing");
    if (rc == MD_OK && c->strings[2] != NULL && c->strings[2][0] == '\0')
        rc = md_err_set(err, MD_EINVAL, "models: empty; leave it out for every model");
    c->spec.name = c->strings[0];
    c->spec.role = c->strings[1];
    c->spec.models = c->strings[2];
    return rc == MD_OK ? check_spec(&c->spec, err) : rc;
}

void md_token_api_create(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, change_free};

    MD_UNUSED(rt);
    if (resp->resume == NULL) {
        struct change *c = md_xcalloc(1, sizeof(*c));
        struct md_err err;

        c->auth = &api->auth;
        if (parse_create(req->body, req->body_len, c, &err) != MD_OK) {
            change_free(c);
            md_api_error(resp, &err);
            return;
        }
        c->strings[3] = md_xstrdup(req->principal != NULL ? req->principal->name : "anonymous");
        c->spec.created_by = c->strings[3];
        args.extra = c;
    }
    md_api_store_write(api, req, resp, run_create, &args, change_committed, 201);
}

static int run_revoke(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct change *c = r->extra;
    int64_t now = md_wall_ms();
    int rc = md_store_tx_token_revoke(tx, r->name, now, err);

    if (rc == MD_OK)
        rc = md_auth_tokens_read(tx, &c->table, err);
    if (rc == MD_OK) {
        (void)md_buf_puts(&r->out, "{\"name\":");
        put_str(&r->out, r->name);
        (void)md_buf_puts(&r->out, ",\"revoked\":true}");
    }
    return rc;
}

void md_token_api_revoke(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, rt->name, 0, NULL, true, NULL, change_free};

    if (resp->resume == NULL) {
        struct change *c = md_xcalloc(1, sizeof(*c));

        c->auth = &api->auth;
        args.extra = c;
    }
    md_api_store_write(api, req, resp, run_revoke, &args, change_committed, 200);
}

struct listing {
    struct md_buf *out;
    size_t n;
    int64_t now_ms;
};

static void list_row(void *ctx, const struct md_store_token *t)
{
    struct listing *l = ctx;
    struct md_buf *b = l->out;
    const char *state = t->revoked_ms != 0                                 ? "revoked"
                        : t->expires_ms != 0 && l->now_ms >= t->expires_ms ? "expired"
                                                                           : "active";

    (void)md_buf_puts(b, l->n++ > 0 ? ",{\"id\":" : "{\"id\":");
    (void)md_buf_printf(b, "%lld,\"name\":", (long long)t->id);
    put_str(b, t->name);
    (void)md_buf_puts(b, ",\"role\":");
    put_str(b, t->role);
    (void)md_buf_puts(b, ",\"models\":");
    (void)md_buf_puts(b, t->models != NULL ? t->models : "null");
    if (t->rate > 0)
        (void)md_buf_printf(b, ",\"rate\":%.17g,\"burst\":%lld", t->rate, (long long)t->burst);
    else
        (void)md_buf_puts(b, ",\"rate\":null,\"burst\":null");
    (void)md_buf_printf(b, ",\"created_ms\":%lld,\"created_by\":", (long long)t->created_ms);
    put_str(b, t->created_by);
    (void)md_buf_printf(b,
                        ",\"expires_ms\":%lld,\"revoked_ms\":%lld,\"last_used_ms\":%lld,"
                        "\"state\":\"%s\"}",
                        (long long)t->expires_ms, (long long)t->revoked_ms,
                        (long long)t->last_used_ms, state);
}

struct flush {
    struct md_store_tx *tx;
    int rc;
    struct md_err *err;
};

static void flush_one(void *ctx, int64_t id, int64_t at_ms)
{
    struct flush *f = ctx;

    if (f->rc == MD_OK)
        f->rc = md_store_tx_token_used(f->tx, id, at_ms, f->err);
}

int md_token_write_used(struct md_store_tx *tx, struct md_auth *auth, struct md_err *err)
{
    struct flush f = {tx, MD_OK, err};

    md_auth_tokens_used(auth, flush_one, &f);
    return f.rc;
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct listing l = {&r->out, 0, md_wall_ms()};
    int rc = md_token_write_used(tx, r->extra, err);

    if (rc != MD_OK)
        return rc;
    (void)md_buf_puts(&r->out, "{\"tokens\":[");
    rc = md_store_tx_tokens(tx, list_row, &l, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

void md_token_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, &api->auth, NULL};

    MD_UNUSED(rt);
    md_api_store_write(api, req, resp, run_list, &args, NULL, 200);
}

/* ---- modeld token create ------------------------------------------------ */

static const char token_usage[] =
    "usage: modeld token create --role ROLE [--name NAME] [--models a,b] [--expires 30d]\n"
    "                           [--rate N [--burst N]] [--data DIR] [--audit-key-file F]\n"
    "\n"
    "Makes a bearer token in the store of the data directory DIR (default var, the\n"
    "daemon's --data) and prints its secret once on stdout; only its SHA-256 is kept.\n"
    "With the daemon's --audit-key-file, the audit log records it (actor \"offline\").\n"
    "ROLE is viewer, predictor, reviewer, deployer or admin. A running daemon reads\n"
    "it after a SIGHUP; later tokens are better made by POST /api/v1/tokens\n"
    "(modelctl token create).\n";

struct offline {
    struct md_token_spec spec;
    char secret[MD_TOKEN_SECRET_LEN + 1];
    char name[MD_TOKEN_NAME_MAX + 1];
    int64_t id;
};

static int run_offline(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct offline *o = ctx;
    char target[MD_TOKEN_NAME_MAX + 64];
    int rc = md_token_create(tx, &o->spec, o->secret, o->name, &o->id, err);

    if (rc != MD_OK)
        return rc;
    /* In the same transaction: no token without its entry (when the log is on). */
    (void)snprintf(target, sizeof(target), "token=%s role=%s", o->name, o->spec.role);
    return md_store_tx_audit_decision(tx, "offline", "token.create", target, "ok", NULL, err);
}

/* The audit log's key from key_file into store: 0, or 1 after a message. */
static int offline_audit(struct md_store *store, const char *key_file)
{
    char *key = NULL;
    size_t len = 0;
    struct md_err err;
    int rc = md_keyfile_read(key_file, MD_AUDIT_KEY_MAX, &key, &len, &err);

    if (rc == MD_OK)
        rc = md_store_audit_key(store, key, len, NULL, &err);
    md_keyfile_free(key, len);
    if (rc != MD_OK) {
        fprintf(stderr, "modeld: token: --audit-key-file: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* The value of argv[*i] when it is --name or --name=VALUE (moving *i past it), else NULL;
 * *missing set for a flag without its value. */
static const char *flag(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (a == NULL || strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* Reads the flags into o and *data: 0, or 2 after a message. */
static int offline_args(int argc, char **argv, struct offline *o, const char **data,
                        const char **audit_key)
{
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        char *end = NULL;
        struct md_err err;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(token_usage, stdout);
            return -1;
        }
        if ((v = flag(argc, argv, &i, "--role", &missing)) != NULL) {
            o->spec.role = v;
        } else if ((v = flag(argc, argv, &i, "--name", &missing)) != NULL) {
            o->spec.name = v;
        } else if ((v = flag(argc, argv, &i, "--models", &missing)) != NULL) {
            o->spec.models = v;
        } else if ((v = flag(argc, argv, &i, "--data", &missing)) != NULL) {
            *data = v;
        } else if ((v = flag(argc, argv, &i, "--audit-key-file", &missing)) != NULL) {
            *audit_key = v;
        } else if ((v = flag(argc, argv, &i, "--expires", &missing)) != NULL) {
            int64_t ms = 0;

            if (md_token_duration(v, "--expires", &ms, &err) != MD_OK) {
                fprintf(stderr, "modeld: token: %s\n", err.msg);
                return 2;
            }
            o->spec.expires_ms = md_wall_ms() + ms;
        } else if ((v = flag(argc, argv, &i, "--rate", &missing)) != NULL) {
            o->spec.rate = strtod(v, &end);
            if (end == v || *end != '\0' || !(o->spec.rate > 0)) {
                fprintf(stderr, "modeld: token: --rate: '%s' is not a positive number\n", v);
                return 2;
            }
        } else if ((v = flag(argc, argv, &i, "--burst", &missing)) != NULL) {
            long long b = strtoll(v, &end, 10);

            if (end == v || *end != '\0' || b < 1) {
                fprintf(stderr, "modeld: token: --burst: '%s' is not a positive integer\n", v);
                return 2;
            }
            o->spec.burst = b;
        } else {
            fprintf(stderr, "modeld: token: %s '%s'\n%s",
                    missing ? "missing the value of" : "unknown option", argv[i], token_usage);
            return 2;
        }
    }
    if (o->spec.role == NULL) {
        fprintf(stderr, "modeld: token: --role: missing\n%s", token_usage);
        return 2;
    }
    return 0;
}

int md_token_main(int argc, char **argv)
{
    struct offline o;
    const char *data = "var";
    const char *audit_key = NULL;
    struct md_store *store = NULL;
    struct md_err err;
    int rc;

    memset(&o, 0, sizeof(o));
    o.spec.created_by = "offline";
    if (argc < 1 || strcmp(argv[0], "create") != 0) {
        if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
            fputs(token_usage, stdout);
            return 0;
        }
        fprintf(stderr, "modeld: token: %s\n%s",
                argc < 1 ? "missing the command (create)" : "unknown command", token_usage);
        return 2;
    }
    rc = offline_args(argc, argv, &o, &data, &audit_key);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (check_spec(&o.spec, &err) != MD_OK) {
        fprintf(stderr, "modeld: token: %s\n", err.msg);
        return 2;
    }
    if (md_store_open(data, &store, &err) != MD_OK) {
        fprintf(stderr, "modeld: token: %s\n", err.msg);
        return 1;
    }
    if (audit_key != NULL && offline_audit(store, audit_key) != 0) {
        md_store_close(store);
        return 1;
    }
    rc = md_store_call(store, run_offline, &o, &err);
    md_store_close(store);
    if (rc != MD_OK) {
        fprintf(stderr, "modeld: token: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", o.secret);
    fprintf(stderr,
            "modeld: token '%s' (role %s) made; its secret above is shown only now. A running "
            "modeld reads it after a SIGHUP.\n",
            o.name, o.spec.role);
    if (audit_key == NULL)
        fprintf(stderr, "modeld: token: no --audit-key-file: the audit log does not record this "
                        "token's making\n");
    explicit_bzero(o.secret, sizeof(o.secret));
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
