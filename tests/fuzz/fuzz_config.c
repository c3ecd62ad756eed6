/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c: libFuzzer target for the --config file. Arbitrary bytes go
 * to md_config_parse with the daemon's own settings table and two sections
 * registered ("extra", read by walking its whole tree, and the daemon's
 * "strategies", whose every accepted strategy must read back). A refused file must
 * leave every setting at its default and say why; an accepted one must leave
 * every value within its setting's limits, its source right, and each
 * setting's JSON well-formed with the same value.
 */
#include "control/settings.h"
#include "serve/rollout.h"
#include "util/jdom.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/*
 * Visits the nodes under n, at most *budget of them: an alias is the node it
 * names, so a document is a graph whose walk can grow as 2^aliases.
 */
static size_t walk(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget)
{
    size_t count = 1;

    CHECK(depth <= MD_YAML_MAX_DEPTH + 1);
    if (*budget == 0)
        return 0;
    (*budget)--;
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it;

        for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
            count += walk(doc, yaml_document_get_node(doc, *it), depth + 1, budget);
    } else if (n->type == YAML_MAPPING_NODE) {
        yaml_node_pair_t *p;

        for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            count += walk(doc, yaml_document_get_node(doc, p->key), depth + 1, budget);
            count += walk(doc, yaml_document_get_node(doc, p->value), depth + 1, budget);
        }
    } else {
        char buf[80];

        CHECK(md_yaml_describe(n, buf, sizeof(buf)) != NULL);
    }
    return count;
}

static int parse_extra(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                       struct md_err *err)
{
    size_t *nodes = ctx;
    size_t budget = 100000;

    *nodes = walk(doc, value, 1, &budget);
    if (value->type == YAML_SEQUENCE_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: extra: a sequence", file, md_yaml_line(value));
    return MD_OK;
}

/* Setting i's value in the JSON the API shows must be the value held. */
static void check_json(const struct md_config *c, size_t i)
{
    struct md_buf b;
    struct md_arena a;
    struct md_jnode *root = NULL;
    const struct md_jnode *v;
    const struct md_jnode *src;
    struct md_err err;

    md_buf_init(&b, 1 << 16);
    md_arena_init(&a, 1 << 20);
    CHECK(md_config_json(c, i, &b) == MD_OK);
    CHECK(md_jdom_parse(b.data, b.len, 0, &a, &root, &err) == MD_OK);
    v = md_jdom_get(root, "value");
    src = md_jdom_get(root, "source");
    CHECK(v != NULL && src != NULL && src->type == MD_J_STRING);
    if (c->table[i].kind == MD_CONFIG_UINT) {
        uint64_t n;

        CHECK(md_jdom_u64(v, &n) == MD_OK);
        CHECK(n >= c->table[i].min && n <= c->table[i].max);
    }
    CHECK((md_jdom_get(root, "file") != NULL) == (md_config_source_of(c, i) == MD_CONFIG_FILE));
    md_arena_release(&a);
    md_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_settings s;
    struct md_settings defaults;
    struct md_err err = {0};
    size_t nodes = 0;
    const struct md_config_section sections[] = {
        {"extra", parse_extra, &nodes}, {"strategies", md_strategies_parse, &s.strategies}};
    size_t i;
    int rc;

    md_settings_init(&s);
    md_settings_init(&defaults);
    rc = md_config_parse(&s.config, (const char *)data, size, "fuzz.yaml", sections, 2, &err);
    if (rc != MD_OK) {
        CHECK(rc == MD_EINVAL || rc == MD_ENOMEM);
        CHECK(err.msg[0] != '\0');
        CHECK(md_config_file(&s.config) == NULL);
        /* Nothing of a refused file is kept. */
        CHECK(s.poll_s == defaults.poll_s && s.threads == defaults.threads &&
              s.max_body_bytes == defaults.max_body_bytes && s.log_level == defaults.log_level &&
              strcmp(s.listen, defaults.listen) == 0 && strcmp(s.repo, defaults.repo) == 0);
    } else {
        CHECK(strcmp(md_config_file(&s.config), "fuzz.yaml") == 0);
        CHECK(s.repo != NULL && s.listen != NULL && s.data != NULL);
        CHECK(s.log_level >= 0 && s.log_level <= 4);
        for (i = 0; i < s.config.n; i++) {
            CHECK(md_config_source_of(&s.config, i) != MD_CONFIG_FLAG);
            CHECK((md_config_source_of(&s.config, i) == MD_CONFIG_FILE) ==
                  (md_config_line(&s.config, i) > 0));
            check_json(&s.config, i);
        }
        for (i = 0; i < s.strategies.n; i++) {
            struct md_rollout_strategy st;
            struct md_err e2;

            CHECK(md_rollout_strategy_parse(s.strategies.v[i].json, strlen(s.strategies.v[i].json),
                                            &st, &e2) == MD_OK);
        }
    }
    md_settings_release(&defaults);
    md_settings_release(&s);
    return 0;
}
