/* SPDX-License-Identifier: MIT */
/*
 * trainers.h: the external trainers of the configuration file's
 * `trainers:` section (a md_config_section parser). The operator owns the
 * file, so only it names commands; a model.yaml names a trainer only.
 *
 *     trainers:
 *       sklearn-fraud:
 *         command: [/usr/bin/python3, /srv/train/fraud.py, --train, "{train}",
 *                   --output, "{output}"]
 *         timeout: 30m        # default: the model's training.timeout
 *         memory_mb: 4096     # default: the model's training.memory_mb
 *
 * docs/improve.md says what the placeholders ({dir}, {train}, {holdout},
 * {model_yaml}, {output}, {artifact}, {params}) become.
 */
#ifndef MD_CONTROL_TRAINERS_H
#define MD_CONTROL_TRAINERS_H

#include "util/common.h"
#include "util/err.h"
#include "control/training.h"

#include <yaml.h>

/* The section as read: every string owned. */
struct md_trainers {
    struct md_trainer *v;
    size_t n;
};

/* The section's parser (ctx: a struct md_trainers). MD_EINVAL with
 * "FILE:LINE: trainers.NAME.field: reason". */
int md_trainers_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                      struct md_err *err) MD_MUST_CHECK;
void md_trainers_release(struct md_trainers *t);

#endif
