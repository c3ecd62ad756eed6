/* SPDX-License-Identifier: MIT */
/*
 * policy.h: a model's traffic policy: how a call that names no version
 * picks one. Weighted routes (a canary), sticky assignment by a routing key
 * (an A/B test), shadows (copies of a sampled fraction of requests, never
 * answered), and the fraction of canary requests mirrored to the champion
 * (so agreement is measured on the same requests).
 *
 * The JSON form (PUT /api/v1/models/{m}/traffic):
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
 * before the policy is stored: md_policy_parse leaves it in alias[]).
 *
 * Sticky assignment hashes (salt, key) to a point u in [0, 1) and takes the
 * route whose share of the weight line, in the order of the routes, holds u.
 * The salt belongs to the experiment, not to a revision: a new revision that
 * keeps the sticky field keeps the salt unless another is given, so moving
 * weight between two routes moves only the keys at the boundary, and a key
 * keeps its route across restarts and on every replica with the policy.
 * Raising the weight of the last route moves keys into it only.
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

struct md_policy_route {
    char name[MD_POLICY_NAME_MAX];  /* [A-Za-z][A-Za-z0-9_.-]*: "stable", "canary", "a", ... */
    int64_t version;                /* >= 1; 0 while alias[] awaits resolution */
    char alias[MD_POLICY_NAME_MAX]; /* the alias the JSON named, "" for a number */
    uint32_t weight;                /* 0 .. MD_POLICY_WEIGHT_MAX */
};

struct md_policy_shadow {
    int64_t version;
    char alias[MD_POLICY_NAME_MAX];
    double fraction; /* (0, 1] of the requests a copy is sent for */
};

enum md_policy_sticky {
    MD_STICKY_NONE = 0, /* each request picks a route at random, by weight */
    MD_STICKY_HEADER,   /* by the value of a request header */
    MD_STICKY_KEY       /* by a `keys:` field of the request */
};

struct md_policy {
    size_t n_routes;
    struct md_policy_route routes[MD_POLICY_ROUTES];
    uint64_t total_weight; /* sum of the weights, > 0 */
    enum md_policy_sticky sticky;
    char sticky_name[MD_POLICY_NAME_MAX]; /* the header or key */
    char salt[MD_POLICY_NAME_MAX];        /* "" until md_policy_settle gives one */
    size_t n_shadows;
    struct md_policy_shadow shadows[MD_POLICY_SHADOWS];
    double mirror; /* [0, 1]: share of requests on a route that is not the champion's also
                      sent to the champion for comparison */
};

/*
 * Parses and checks the JSON text of a policy: shape, names, weights
 * (integers, 0 .. MD_POLICY_WEIGHT_MAX, at least one positive), fractions
 * ((0, 1]), route names unique, at most MD_POLICY_ROUTES routes and
 * MD_POLICY_SHADOWS shadows, no unknown field. MD_EINVAL naming the field
 * and the reason ("routes[1].weight: must be an integer from 0 to 1000000").
 * Whether the versions exist and serve is the caller's check.
 */
int md_policy_parse(const char *json, size_t len, struct md_policy *out,
                    struct md_err *err) MD_MUST_CHECK;

/*
 * Gives p what it inherits from prev (NULL when the model had none): the
 * salt of a sticky policy that did not name one is prev's when prev was
 * sticky by the same header or key, else a new one made from seed. Call
 * before storing p.
 */
void md_policy_settle(struct md_policy *p, const struct md_policy *prev, uint64_t seed);

/* Appends p's JSON (versions as strings, aliases resolved, the salt) to b. */
int md_policy_format(const struct md_policy *p, struct md_buf *b) MD_MUST_CHECK;

/* A policy of one route "stable" with all the weight on version. */
void md_policy_pin(struct md_policy *p, int64_t version);

/*
 * The route a request takes: with a sticky policy and a key (key_len bytes),
 * by the key's hash; otherwise (no key, or not sticky) by r, a uniform
 * random 64-bit number. Returns an index of p->routes whose weight is > 0.
 */
size_t md_policy_pick(const struct md_policy *p, const char *key, size_t key_len, uint64_t r);

/* The point in [0, 1) that salt and key hash to (for tests and docs). */
double md_policy_point(const char *salt, const char *key, size_t key_len);

/* Whether version is named by a route (of any weight) or a shadow of p. */
bool md_policy_names(const struct md_policy *p, int64_t version);

#endif
