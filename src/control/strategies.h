/* SPDX-License-Identifier: MIT */
/*
 * strategies.h: named rollout strategies read from the configuration
 * file's `strategies:` section (a md_config_section parser), each checked
 * as the API checks one and kept as its JSON, for main to store at start.
 */
#ifndef MD_CONTROL_STRATEGIES_H
#define MD_CONTROL_STRATEGIES_H

#include "util/common.h"
#include "util/err.h"

#include <yaml.h>

struct md_strategies {
    struct {
        char *name;
        char *json; /* the strategy, every default written out */
    } * v;
    size_t n;
};

/* The section's parser (ctx: a struct md_strategies). MD_EINVAL with
 * "FILE:LINE: strategies.NAME.field: reason". */
int md_strategies_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                        struct md_err *err) MD_MUST_CHECK;
void md_strategies_release(struct md_strategies *s);

struct json_t;

/* The YAML node n as JSON (a new reference), as a strategy is read: plain
 * scalars typed, nested at most 8 deep, 4096 nodes, keys unique; NULL when
 * it is not such a node. Other sections of the file (alert rules) use it. */
struct json_t *md_strategies_yaml_to_json(yaml_document_t *doc, yaml_node_t *n);

#endif
