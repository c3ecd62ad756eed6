/* SPDX-License-Identifier: MIT */
/*
 * policy.h: a model's traffic policy: how a call that names no version
 * picks one. Weighted routes (a canary), sticky assignment by a routing key
 * (an A/B test), shadows (copies of a sampled fraction of requests, never
 * answered), and the fraction of canary requests mirrored to the champion
 * (so agreement is measured on the same requests).
 *
 * The JSON form (PUT /api/v1/models/{m}/traffic; docs/traffic.md has the
 * whole of it, with defaults and limits):
 *
 *     {"routes":  [{"name": "stable", "version": "3", "weight": 90},
 *                  {"name": "canary", "version": "4", "weight": 10}],
 *      "sticky":  {"header": "X-User-Id", "salt": "exp-7"},
 *      "shadows": [{"version": "5", "fraction": 0.25}],
 *      "mirror":  0.1}
 *
 * "sticky" takes either "header" (a request header) or "key" (a `keys:`
 * field of the contract); "salt" is optional. "version" is a number in a
 * string or a JSON integer, or an alias (resolved to a number by the caller
 * before the policy is stored: md_policy_parse leaves it in alias[] with
 * version 0). A route or shadow may also carry "alias" beside a version
 * number: the alias that number was resolved from, as md_policy_format
 * writes it, so that a stored policy reads back the same.
 *
 * Sticky assignment hashes (salt, key) to a point u in [0, 1) and takes the
 * route whose share of the weight line, in the order of the routes, holds u.
 * The salt belongs to the experiment, not to a revision: a new revision that
 * keeps the sticky field keeps the salt unless another is given, so moving
 * weight between two neighbouring routes moves only keys between them, and
 * a key keeps its route across restarts and on every replica with the
 * policy. Raising the share of the last (or the first) route takes no key
 * out of it: a key in the canary at 10% is still there at 25%.
 *
 * The hash, exactly (so that another implementation reproduces it; all
 * arithmetic on unsigned 64-bit integers, modulo 2^64):
 *
 *     h = 0xcbf29ce484222325                     FNV-1a 64 over the bytes of
 *     for each byte c of salt, a 0x00 byte,      the salt (UTF-8, no NUL),
 *             then each byte of the key:         one zero byte, then the key
 *         h = (h ^ c) * 0x100000001b3
 *     h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9   splitmix64's finaliser
 *     h = (h ^ (h >> 27)) * 0x94d049bb133111eb
 *     h = h ^ (h >> 31)
 *     x = h >> 11                                53 bits; u = x * 2^-53
 *
 * and the route: with T the sum of the weights and c_i the sum of the
 * weights of routes 0..i, t = floor(x * T / 2^53), computed exactly (x * T
 * needs up to 76 bits: no floating point), and the route is the first i
 * with t < c_i (its weight is then > 0). A request without a key (or a
 * policy that is not sticky) takes x = r >> 11 from a random r instead.
 * md_policy_point("", "", 0) is 0.14838301097631856; tests/unit/
 * test_policy.c pins more values.
 *
 * A parsed policy is plain data (no pointers): copied into a model's
 * snapshot and read there with no lock.
 */
#ifndef MD_SERVE_POLICY_H
#define MD_SERVE_POLICY_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"

#define MD_POLICY_ROUTES     8  /* routes a policy holds */
#define MD_POLICY_SHADOWS    4  /* shadows a policy holds */
#define MD_POLICY_NAME_MAX   64 /* a route's name, an alias, a header or key name, a salt */
#define MD_POLICY_WEIGHT_MAX 1000000
#define MD_POLICY_WEIGHT_ONE 100 /* a lone route's weight when it gives none; md_policy_pin's */

struct md_policy_route {
    char name[MD_POLICY_NAME_MAX];  /* [A-Za-z][A-Za-z0-9_.-]*: "stable", "canary", "a", ... */
    int64_t version;                /* >= 1; 0 while alias[] awaits resolution */
    char alias[MD_POLICY_NAME_MAX]; /* the alias the JSON named, "" for a number */
    uint32_t weight;                /* 0 .. MD_POLICY_WEIGHT_MAX */
};

struct md_policy_shadow {
    int64_t version;                /* as a route's */
    char alias[MD_POLICY_NAME_MAX]; /* as a route's */
    double fraction;                /* (0, 1] of the requests a copy is sent for */
};

enum md_policy_sticky {
    MD_STICKY_NONE = 0, /* each request picks a route at random, by weight */
    MD_STICKY_HEADER,   /* by the value of a request header */
    MD_STICKY_KEY       /* by a `keys:` field of the request */
};

struct md_policy {
    size_t n_routes; /* 1 .. MD_POLICY_ROUTES */
    struct md_policy_route routes[MD_POLICY_ROUTES];
    uint64_t total_weight; /* sum of the weights, > 0 */
    enum md_policy_sticky sticky;
    char sticky_name[MD_POLICY_NAME_MAX]; /* the header (HTTP token characters, matched without
                                             regard to case) or key ([A-Za-z0-9_.-]+) */
    char salt[MD_POLICY_NAME_MAX];        /* printable ASCII, no space; "" until md_policy_settle
                                             gives one (and "" after it when not sticky) */
    size_t n_shadows;                     /* 0 .. MD_POLICY_SHADOWS */
    struct md_policy_shadow shadows[MD_POLICY_SHADOWS];
    double mirror; /* [0, 1]: share of requests on a route that is not the champion's also
                      sent to the champion for comparison */
};

/*
 * Parses and checks the JSON text of a policy: shape, names, weights
 * (integers, 0 .. MD_POLICY_WEIGHT_MAX, at least one positive), fractions
 * ((0, 1]), route names unique, at most MD_POLICY_ROUTES routes and
 * MD_POLICY_SHADOWS shadows, no unknown field, then md_policy_check. MD_EINVAL
 * naming the field and the reason ("routes[1].weight: must be an integer from
 * 0 to 1000000"); out is then all zero. A route's "name" is required when
 * there are two or more routes (a lone route is "stable" by default, and its
 * weight MD_POLICY_WEIGHT_ONE); "shadow", "direct" and "mirror" are not route
 * names (they label copies and calls that name a version). A shadow's
 * "fraction" is 1 when not given; "mirror" is 0; "sticky" and "shadows" may
 * be null or absent. Whether the versions exist and serve is the caller's
 * check. Thread-safe; allocates only inside jansson, freed before return.
 */
int md_policy_parse(const char *json, size_t len, struct md_policy *out,
                    struct md_err *err) MD_MUST_CHECK;

/*
 * The checks between fields, which md_policy_parse ends with and a caller
 * repeats once it has resolved aliases to numbers: route names unique and
 * not reserved, a positive sum of the weights (total_weight is not read), no
 * shadow of a version (or alias) that a route of positive weight names
 * ("shadows[0].version: version 4 already takes traffic on route 'canary'")
 * and no version (or alias) shadowed twice. Two routes may name the same
 * version (an A/A test). MD_EINVAL naming the field, as md_policy_parse.
 */
int md_policy_check(const struct md_policy *p, struct md_err *err) MD_MUST_CHECK;

/*
 * Gives p what it inherits from prev (NULL when the model had none): the
 * salt of a sticky policy that did not name one is prev's when prev was
 * sticky by the same header (in any case) or key and had a salt, else a new
 * one made from seed (16 lower-case hex digits of splitmix64(seed)). A salt
 * p names is kept; a policy that is not sticky gets none. Call before
 * storing p.
 */
void md_policy_settle(struct md_policy *p, const struct md_policy *prev, uint64_t seed);

/*
 * Appends p's JSON to b, every field in a fixed order: routes (name,
 * version, alias when the version came from one, weight), sticky (null or
 * header or key, then salt when set), shadows (version, alias, fraction),
 * mirror. Versions are strings ("4"; an unresolved alias in place of the
 * number); fractions in the fewest digits that read back the same double.
 * md_policy_parse of the text gives back p (md_policy_equal). Returns
 * md_buf_error(b).
 */
int md_policy_format(const struct md_policy *p, struct md_buf *b) MD_MUST_CHECK;

/* A policy of one route "stable" with all the weight (MD_POLICY_WEIGHT_ONE) on version. */
void md_policy_pin(struct md_policy *p, int64_t version);

/*
 * The route a request takes: with a sticky policy and a key (key_len > 0
 * bytes), by the key's hash with p's salt; otherwise (no key, an empty one,
 * or not sticky) by r, a uniform random 64-bit number, read the same way as
 * the hash (x = r >> 11). Returns an index of p->routes whose weight is > 0
 * (0 for a policy whose weights are all 0, which md_policy_check refuses).
 * Sums the weights itself (total_weight is not read). No allocation, no
 * lock, O(routes + key_len + salt length); reads p only.
 */
size_t md_policy_pick(const struct md_policy *p, const char *key, size_t key_len, uint64_t r);

/* The point u = x * 2^-53 in [0, 1) that salt and key hash to (above; for tests and docs). */
double md_policy_point(const char *salt, const char *key, size_t key_len);

/* Whether version (>= 1) is named by a route (of any weight) or a shadow of p. */
bool md_policy_names(const struct md_policy *p, int64_t version);

/* Whether a and b hold the same policy (every field; fractions compared as doubles). */
bool md_policy_equal(const struct md_policy *a, const struct md_policy *b);

#endif
