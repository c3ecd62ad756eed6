/* SPDX-License-Identifier: MIT */
/*
 * strategies.c: the `strategies:` section of the configuration file: named
 * rollout strategies, each written as YAML the way the API takes it as
 * JSON, checked at start (a bad one stops start-up with its file, line and
 * field) and stored at start, where the API finds them by name.
 *
 *     strategies:
 *       safe:
 *         kind: canary
 *         steps: [5, 25, 50, 100]
 *         interval_s: 300
 *         gates:
 *           - {metric: error_rate, max_delta: 0.01}
 */
#include "control/strategies.h"
#include "serve/rollout.h"
#include "util/mem.h"
#include "util/yaml.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>

#define MAX_DEPTH 8
#define MAX_NODES 4096

/* A plain scalar as JSON: an integer, a number, a boolean, null, else text. */
static json_t *scalar(const yaml_node_t *n)
{
    const char *s = md_yaml_text(n);
    size_t len = md_yaml_len(n);
    char *end;
    char buf[64];

    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || len == 0 || len >= sizeof(buf))
        return json_stringn(s, len);
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcmp(buf, "true") == 0)
        return json_true();
    if (strcmp(buf, "false") == 0)
        return json_false();
    if (strcmp(buf, "null") == 0 || strcmp(buf, "~") == 0)
        return json_null();
    errno = 0;
    {
        long long v = strtoll(buf, &end, 10);

        if (*end == '\0' && errno == 0)
            return json_integer(v);
    }
    errno = 0;
    {
        double d = strtod(buf, &end);

        if (*end == '\0' && errno == 0 && isfinite(d))
            return json_real(d);
    }
    return json_stringn(s, len);
}

/* The YAML node n as JSON, bounded in depth and nodes; NULL when too deep or large. */
static json_t *to_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget)
{
    json_t *out = NULL;

    if (n == NULL || depth > MAX_DEPTH || (*budget)-- == 0)
        return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar(n);
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *it;

        out = json_array();
        for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            json_t *v = to_json(doc, yaml_document_get_node(doc, *it), depth + 1, budget);

            if (v == NULL || json_array_append_new(out, v) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    case YAML_MAPPING_NODE: {
        yaml_node_pair_t *p;

        out = json_object();
        for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            json_t *v;
            char key[128];

            if (k == NULL || k->type != YAML_SCALAR_NODE || md_yaml_len(k) >= sizeof(key)) {
                json_decref(out);
                return NULL;
            }
            memcpy(key, md_yaml_text(k), md_yaml_len(k));
            key[md_yaml_len(k)] = '\0';
            v = to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, budget);
            if (v == NULL || json_object_get(out, key) != NULL ||
                json_object_set_new(out, key, v) != 0) {
                json_decref(v);
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    default:
        return NULL;
    }
}

struct json_t *md_strategies_yaml_to_json(yaml_document_t *doc, yaml_node_t *n)
{
    size_t budget = MAX_NODES;

    return to_json(doc, n, 0, &budget);
}

static bool name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len >= 64 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return false;
    for (i = 1; i < len; i++) {
        char c = s[i];

        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

int md_strategies_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                        struct md_err *err)
{
    struct md_strategies *out = ctx;
    yaml_node_pair_t *p;

    if (value->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: strategies: a mapping of names to strategies",
                          file, md_yaml_line(value));
    for (p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        struct md_rollout_strategy s;
        struct md_buf b;
        size_t budget = MAX_NODES;
        char name[64];
        char where[96];
        json_t *j;
        int rc;

        if (k == NULL || k->type != YAML_SCALAR_NODE || !name_ok(md_yaml_text(k), md_yaml_len(k)))
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: strategies: a name is [A-Za-z][A-Za-z0-9_.-]*, at most "
                              "63 characters",
                              file, k != NULL ? md_yaml_line(k) : md_yaml_line(value));
        memcpy(name, md_yaml_text(k), md_yaml_len(k));
        name[md_yaml_len(k)] = '\0';
        (void)snprintf(where, sizeof(where), "strategies.%s", name);
        j = to_json(doc, v, 0, &budget);
        if (j == NULL)
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: %s: not a strategy (a mapping of scalars, lists and "
                              "mappings, nested at most %d deep, keys unique)",
                              file, v != NULL ? md_yaml_line(v) : md_yaml_line(k), where,
                              MAX_DEPTH);
        rc = md_rollout_strategy_from_json((const struct json_t *)j, where, &s, err);
        json_decref(j);
        if (rc != MD_OK) {
            md_err_prefix(err, "%s:%zu: ", file, md_yaml_line(v));
            return rc;
        }
        md_buf_init(&b, (size_t)1 << 20);
        if (md_rollout_strategy_format(&s, &b) != MD_OK || md_buf_putc(&b, '\0') != MD_OK) {
            md_buf_release(&b);
            return md_err_set(err, MD_ENOMEM, "%s: out of memory", where);
        }
        out->v = md_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
        out->v[out->n].name = md_xstrdup(name);
        out->v[out->n].json = md_buf_detach(&b, NULL);
        out->n++;
        md_buf_release(&b);
    }
    return MD_OK;
}

void md_strategies_release(struct md_strategies *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].json);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
