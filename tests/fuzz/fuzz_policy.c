/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy.c: libFuzzer target for the traffic policy's JSON form.
 * Arbitrary bytes go to md_policy_parse. A refused document must say why
 * and leave the policy zeroed; an accepted one must hold its limits, pass
 * md_policy_check, format to text that parses back equal (and formats to
 * the same text), pick only routes of positive weight, for a key made of
 * the input too, and do all of that again once md_policy_settle has given
 * it a salt.
 */
#include "serve/policy.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool all_zero(const struct md_policy *p)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;

    for (i = 0; i < sizeof(*p); i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* Limits, picks and the round trip of an accepted policy. */
static void check_policy(const struct md_policy *p, const uint8_t *data, size_t size)
{
    struct md_policy q;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;
    uint64_t total = 0;
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    size_t i;

    CHECK(p->n_routes >= 1 && p->n_routes <= MD_POLICY_ROUTES);
    CHECK(p->n_shadows <= MD_POLICY_SHADOWS);
    for (i = 0; i < p->n_routes; i++) {
        CHECK(p->routes[i].weight <= MD_POLICY_WEIGHT_MAX);
        CHECK(p->routes[i].name[0] != '\0');
        CHECK(p->routes[i].version > 0 || p->routes[i].alias[0] != '\0');
        CHECK(p->routes[i].version <= 0 || md_policy_names(p, p->routes[i].version));
        total += p->routes[i].weight;
    }
    CHECK(total > 0 && total == p->total_weight);
    for (i = 0; i < p->n_shadows; i++)
        CHECK(p->shadows[i].fraction > 0.0 && p->shadows[i].fraction <= 1.0);
    CHECK(p->mirror >= 0.0 && p->mirror <= 1.0);
    CHECK(md_policy_check(p, &err) == MD_OK);

    for (i = 0; i < 16; i++) {
        size_t k = md_policy_pick(p, (const char *)data, size > i ? size - i : 0, r);

        CHECK(k < p->n_routes && p->routes[k].weight > 0);
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    CHECK(md_policy_point(p->salt, (const char *)data, size) >= 0.0);
    CHECK(md_policy_point(p->salt, (const char *)data, size) < 1.0);

    md_buf_init(&a, 1 << 20);
    md_buf_init(&b, 1 << 20);
    CHECK(md_policy_format(p, &a) == MD_OK);
    CHECK(md_policy_parse(a.data, a.len, &q, &err) == MD_OK);
    CHECK(md_policy_equal(p, &q));
    CHECK(md_policy_format(&q, &b) == MD_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    md_buf_release(&a);
    md_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_policy p;
    struct md_policy prev;
    struct md_err err = {0};
    int rc;

    rc = md_policy_parse((const char *)data, size, &p, &err);
    if (rc != MD_OK) {
        CHECK(rc == MD_EINVAL);
        CHECK(err.msg[0] != '\0');
        CHECK(all_zero(&p));
        return 0;
    }
    check_policy(&p, data, size);
    md_policy_settle(&p, NULL, size);
    CHECK(p.sticky == MD_STICKY_NONE ? p.salt[0] == '\0' : p.salt[0] != '\0');
    check_policy(&p, data, size);
    /* Settled against itself: nothing changes. */
    prev = p;
    md_policy_settle(&p, &prev, size + 1);
    CHECK(md_policy_equal(&p, &prev));
    return 0;
}
