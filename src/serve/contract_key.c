/* SPDX-License-Identifier: MIT */
/*
 * contract_key.c: a contract's keys, as model.yaml states them: the
 * request fields that are checked and logged but never sent to an engine
 * (a routing key, a subject id, the caller's own transaction id), each with
 * its type, whether it is required, its longest value, the HTTP header
 * that may carry it, and whether it is the subject id (the person a row is
 * about, whose rows erasure removes). Reading them from requests and checking their values
 * is serve/keys.c's; the rest of model.yaml, and the reading helpers used
 * here, contract.c's.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "util/yaml.h"

#include <inttypes.h>
#include <strings.h>

#define MAX_DESCRIPTION 4096

enum { K_NAME, K_TYPE, K_REQUIRED, K_MAX_LENGTH, K_HEADER, K_DESCRIPTION, K_SUBJECT, K_COUNT };

static const char *const key_keys[] = {
    "name", "type", "required", "max_length", "header", "description", "subject", NULL,
};

/*
 * The V2 request parameters modeld reads itself: a key of the same name
 * would be both (a key is read from the request's parameters).
 */
static const char *const reserved[] = {"binary_data_output", "timeout", NULL};

/* An HTTP field name (RFC 9110 token): [!#$%&'*+.^_`|~0-9A-Za-z-]+. */
static bool token_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (ch != '\0' && strchr("!#$%&'*+.^_`|~-", ch) != NULL)))
            return false;
    }
    return true;
}

/* name: a name, no feature's, not input_tensor, not a parameter modeld reads, unique. */
static int parse_name(struct md_contract__ctx *x, struct md_key *k, const yaml_node_t *n, size_t i,
                      const char *kp)
{
    const struct md_contract *c = x->c;
    const struct md_feature *f;
    size_t j;
    int rc = md_contract__want_name(x, n, kp, &k->name);

    if (rc != MD_OK)
        return rc;
    f = md_contract_feature(c, k->name);
    if (f != NULL)
        return md_contract__fail(x, kp,
                                 "'%s' is a feature's name (features[%zu]); a key is never an "
                                 "input, so it needs a name of its own",
                                 k->name, (size_t)(f - c->features));
    if (strcmp(k->name, c->input_tensor) == 0)
        return md_contract__fail(x, kp, "'%s' is the input_tensor name; rename one of them",
                                 k->name);
    for (j = 0; reserved[j] != NULL; j++)
        if (strcmp(k->name, reserved[j]) == 0)
            return md_contract__fail(x, kp,
                                     "'%s' is a request parameter modeld reads itself "
                                     "(parameters.%s); rename the key",
                                     k->name, k->name);
    for (j = 0; j < i; j++)
        if (strcmp(c->keys[j].name, k->name) == 0)
            return md_contract__fail(x, kp, "duplicate name '%s' (also keys[%zu])", k->name, j);
    return MD_OK;
}

/* header: an HTTP field name no other key names (header names ignore case). */
static int parse_header(struct md_contract__ctx *x, struct md_key *k, const yaml_node_t *n,
                        size_t i, const char *kp)
{
    const struct md_contract *c = x->c;
    char text[80];
    const char *s;
    size_t len;
    size_t j;
    int rc = md_contract__want_text(x, n, kp, MD_CONTRACT_MAX_NAME, &s, &len);

    if (rc != MD_OK)
        return rc;
    if (!token_ok(s, len)) {
        md_yaml_fmt_text(s, len, 64, text, sizeof(text));
        return md_contract__fail(x, kp, "'%s' is not an HTTP header name", text);
    }
    k->header = md_contract__dup_text(x, s, len);
    if (k->header == NULL)
        return md_contract__oom(x);
    for (j = 0; j < i; j++)
        if (c->keys[j].header != NULL && strcasecmp(c->keys[j].header, k->header) == 0)
            return md_contract__fail(x, kp, "header '%s' already carries keys[%zu] '%s'", k->header,
                                     j, c->keys[j].name);
    return MD_OK;
}

static int parse_key(struct md_contract__ctx *x, struct md_key *k, const yaml_node_t *n, size_t i)
{
    static const char *const types[] = {"string", "int64", NULL};
    yaml_node_t *v[K_COUNT] = {0};
    char op[32];
    char kp[64];
    const char *s;
    size_t len;
    int64_t max = 0;
    int word;
    int rc;

    (void)snprintf(op, sizeof(op), "keys[%zu]", i);
#define KP(f) ((void)snprintf(kp, sizeof(kp), "%s.%s", op, key_keys[f]), kp)
    rc = md_contract__map_collect(x, n, op, key_keys, v);
    if (rc != MD_OK)
        return rc;
    if (v[K_NAME] == NULL)
        return md_contract__fail(x, KP(K_NAME), "required");
    rc = parse_name(x, k, v[K_NAME], i, KP(K_NAME));
    if (rc != MD_OK)
        return rc;

    k->type = MD_KEY_STRING;
    if (v[K_TYPE] != NULL) {
        rc = md_contract__want_word(x, v[K_TYPE], KP(K_TYPE), types, "string, int64", &word);
        if (rc != MD_OK)
            return rc;
        k->type = word == 0 ? MD_KEY_STRING : MD_KEY_INT64;
    }

    k->required = false;
    if (v[K_REQUIRED] != NULL) {
        rc = md_contract__want_bool(x, v[K_REQUIRED], KP(K_REQUIRED), &k->required);
        if (rc != MD_OK)
            return rc;
    }

    k->max_length = k->type == MD_KEY_STRING ? MD_KEY_DEFAULT_LENGTH : MD_KEY_INT64_LENGTH;
    if (v[K_MAX_LENGTH] != NULL) {
        if (k->type != MD_KEY_STRING)
            return md_contract__fail(x, KP(K_MAX_LENGTH), "only for string keys");
        rc = md_contract__want_int(x, v[K_MAX_LENGTH], KP(K_MAX_LENGTH), &max);
        if (rc != MD_OK)
            return rc;
        if (max < 1 || max > MD_KEY_MAX_LENGTH)
            return md_contract__fail(x, kp, "%" PRId64 " is not between 1 and %d", max,
                                     MD_KEY_MAX_LENGTH);
        k->max_length = (size_t)max;
    }

    if (v[K_HEADER] != NULL) {
        rc = parse_header(x, k, v[K_HEADER], i, KP(K_HEADER));
        if (rc != MD_OK)
            return rc;
    }

    if (v[K_DESCRIPTION] != NULL) {
        rc = md_contract__want_text(x, v[K_DESCRIPTION], KP(K_DESCRIPTION), MAX_DESCRIPTION, &s,
                                    &len);
        if (rc != MD_OK)
            return rc;
        k->description = md_contract__dup_text(x, s, len);
        if (k->description == NULL)
            return md_contract__oom(x);
    }

    k->subject = false;
    if (v[K_SUBJECT] != NULL) {
        rc = md_contract__want_bool(x, v[K_SUBJECT], KP(K_SUBJECT), &k->subject);
        if (rc != MD_OK)
            return rc;
        for (size_t j = 0; k->subject && j < i; j++)
            if (x->c->keys[j].subject)
                return md_contract__fail(x, kp,
                                         "keys[%zu] '%s' is the subject id already; a row is "
                                         "about one subject",
                                         j, x->c->keys[j].name);
    }
#undef KP
    return MD_OK;
}

int md_contract__parse_keys(struct md_contract__ctx *x, const yaml_node_t *n)
{
    struct md_contract *c = x->c;
    char path[32];
    size_t count;
    size_t i;
    int rc = md_contract__want_seq(x, n, "keys", 0, MD_CONTRACT_MAX_KEYS, "keys", &count);

    if (rc != MD_OK || count == 0)
        return rc;
    c->keys = md_arena_calloc(&c->mem, count, sizeof(*c->keys));
    if (c->keys == NULL)
        return md_contract__oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, n, i);

        if (item == NULL) {
            (void)snprintf(path, sizeof(path), "keys[%zu]", i);
            return md_contract__fail(x, path, "missing value");
        }
        rc = parse_key(x, &c->keys[i], item, i);
        if (rc != MD_OK)
            return rc;
        c->n_keys = i + 1;
    }
    return MD_OK;
}

const struct md_key *md_contract_key(const struct md_contract *c, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < c->n_keys; i++)
        if (strlen(c->keys[i].name) == len && memcmp(c->keys[i].name, name, len) == 0)
            return &c->keys[i];
    return NULL;
}
