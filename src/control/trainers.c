/* SPDX-License-Identifier: MIT */
/*
 * trainers.c: the `trainers:` section of the configuration file (see
 * trainers.h): each trainer's command (an absolute program path and its
 * arguments, run without a shell), its time and memory limits.
 */
#include "control/trainers.h"
#include "util/mem.h"
#include "util/yaml.h"
#include "watch/history.h"

#define TRAINERS_MAX   64
#define ARGS_MAX       64
#define ARG_MAX_LEN    1024
#define TIMEOUT_MAX_MS ((int64_t)7 * 86400 * 1000)

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 128 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

static char *text_of(const yaml_node_t *n)
{
    char *s = md_xmalloc(md_yaml_len(n) + 1);

    memcpy(s, md_yaml_text(n), md_yaml_len(n));
    s[md_yaml_len(n)] = '\0';
    return s;
}

static void trainer_release(struct md_trainer *t)
{
    free((char *)t->name);
    for (size_t i = 0; i < t->argc; i++)
        free((char *)t->argv[i]);
    free((char **)t->argv);
    memset(t, 0, sizeof(*t));
}

static int parse_command(yaml_document_t *doc, yaml_node_t *v, const char *file, const char *where,
                         struct md_trainer *t, struct md_err *err)
{
    size_t n;
    char **argv;

    if (v == NULL || v->type != YAML_SEQUENCE_NODE)
        return md_err_set(err, MD_EINVAL,
                          "%s:%zu: %s.command: a list: the program (an absolute path), then its "
                          "arguments",
                          file, v != NULL ? md_yaml_line(v) : 0, where);
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0 || n > ARGS_MAX)
        return md_err_set(err, MD_EINVAL, "%s:%zu: %s.command: %zu items; 1 to %d", file,
                          md_yaml_line(v), where, n, ARGS_MAX);
    argv = md_xcalloc(n + 1, sizeof(*argv));
    t->argv = (const char *const *)argv;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *a = yaml_document_get_node(doc, v->data.sequence.items.start[i]);

        if (a == NULL || a->type != YAML_SCALAR_NODE || md_yaml_len(a) > ARG_MAX_LEN ||
            memchr(md_yaml_text(a), '\0', md_yaml_len(a)) != NULL)
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: %s.command[%zu]: not a text of at most %d "
                              "bytes",
                              file, md_yaml_line(v), where, i, ARG_MAX_LEN);
        argv[i] = text_of(a);
        t->argc = i + 1;
    }
    if (argv[0][0] != '/')
        return md_err_set(err, MD_EINVAL,
                          "%s:%zu: %s.command[0]: '%.100s' is not an absolute path (no shell and "
                          "no PATH search runs it)",
                          file, md_yaml_line(v), where, argv[0]);
    return MD_OK;
}

static int parse_one(yaml_document_t *doc, yaml_node_t *v, const char *file, const char *where,
                     struct md_trainer *t, struct md_err *err)
{
    yaml_node_t *command = NULL;

    if (v == NULL || v->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: %s: a mapping (command, timeout, memory_mb)",
                          file, v != NULL ? md_yaml_line(v) : 0, where);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *val = yaml_document_get_node(doc, p->value);
        const char *key;
        char buf[64];

        if (k == NULL || k->type != YAML_SCALAR_NODE)
            return md_err_set(err, MD_EINVAL, "%s:%zu: %s: a key is a name", file, md_yaml_line(v),
                              where);
        key = md_yaml_text(k);
        if (strcmp(key, "command") == 0) {
            command = val;
            continue;
        }
        if (val == NULL || val->type != YAML_SCALAR_NODE || md_yaml_len(val) >= sizeof(buf))
            return md_err_set(err, MD_EINVAL, "%s:%zu: %s.%s: not a value", file, md_yaml_line(k),
                              where, key);
        memcpy(buf, md_yaml_text(val), md_yaml_len(val));
        buf[md_yaml_len(val)] = '\0';
        if (strcmp(key, "timeout") == 0) {
            int64_t ms;

            if (!md_history_duration(buf, TIMEOUT_MAX_MS, &ms) || ms < 1000)
                return md_err_set(err, MD_EINVAL,
                                  "%s:%zu: %s.timeout: '%s' is not a duration from 1s to 7d "
                                  "(90s, 30m, 2h)",
                                  file, md_yaml_line(val), where, buf);
            t->timeout_s = (uint64_t)(ms / 1000);
        } else if (strcmp(key, "memory_mb") == 0) {
            char *end;
            unsigned long long mb = strtoull(buf, &end, 10);

            if (*end != '\0' || buf[0] == '\0' || buf[0] == '-' || mb < 16 || mb > 1048576)
                return md_err_set(err, MD_EINVAL,
                                  "%s:%zu: %s.memory_mb: '%s' is not a whole number from 16 to "
                                  "1048576",
                                  file, md_yaml_line(val), where, buf);
            t->memory_mb = mb;
        } else {
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: %s: unknown key '%.40s' (command, timeout, memory_mb)", file,
                              md_yaml_line(k), where, key);
        }
    }
    if (command == NULL)
        return md_err_set(err, MD_EINVAL, "%s:%zu: %s.command: missing", file, md_yaml_line(v),
                          where);
    return parse_command(doc, command, file, where, t, err);
}

int md_trainers_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                      struct md_err *err)
{
    struct md_trainers *out = ctx;

    if (value->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: trainers: a mapping of names to trainers", file,
                          md_yaml_line(value));
    for (yaml_node_pair_t *p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        struct md_trainer t;
        char where[160];
        int rc;

        if (k == NULL || k->type != YAML_SCALAR_NODE || !name_ok(md_yaml_text(k), md_yaml_len(k)))
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: trainers: a name is [A-Za-z0-9_.-], not starting with "
                              "'.', at most 128 characters",
                              file, k != NULL ? md_yaml_line(k) : md_yaml_line(value));
        if (out->n == TRAINERS_MAX)
            return md_err_set(err, MD_EINVAL, "%s:%zu: trainers: more than %d", file,
                              md_yaml_line(k), TRAINERS_MAX);
        memset(&t, 0, sizeof(t));
        t.name = text_of(k);
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->v[i].name, t.name) == 0) {
                rc = md_err_set(err, MD_EINVAL, "%s:%zu: trainers.%s: given twice", file,
                                md_yaml_line(k), t.name);
                trainer_release(&t);
                return rc;
            }
        (void)snprintf(where, sizeof(where), "trainers.%s", t.name);
        rc = parse_one(doc, v, file, where, &t, err);
        if (rc != MD_OK) {
            trainer_release(&t);
            return rc;
        }
        out->v = md_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
        out->v[out->n++] = t;
    }
    return MD_OK;
}

void md_trainers_release(struct md_trainers *t)
{
    for (size_t i = 0; i < t->n; i++)
        trainer_release(&t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}
