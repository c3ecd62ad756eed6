/* SPDX-License-Identifier: MIT */
/*
 * config.c: settings read by their table from the command line and a
 * configuration file, with their sources.
 *
 * A value is read in two steps: its text (a flag's argument, a scalar of the
 * file) is checked into a struct value, then stored at the setting's offset.
 * A flag is stored at once; a file is checked whole before anything of it is
 * stored, and a setting a flag has set keeps the flag's value. Both paths
 * word a bad value alike ("'x' is not a whole number from 0 to 10"), after
 * their own prefix ("--poll: ", "FILE:LINE: poll: "). Loading YAML safely and
 * resolving scalars is util/yaml.c's.
 */
#include "util/config.h"
#include "util/mem.h"
#include "util/sys.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>

#define ARENA_MAX  ((size_t)4 << 20) /* text from a file of at most MD_CONFIG_MAX_BYTES */
#define FIRST_VAL  256               /* getopt values: settings from here, then actions */
#define HELP_COL   24                /* --help text starts in this column (0-based) */
#define HELP_WIDTH 80                /* and its lines are at most this long */

/* A value checked and not yet stored. */
struct value {
    uint64_t num;     /* UINT, ENUM (the index), BOOL (0 or 1) */
    const char *text; /* STRING */
};

/* ------------------------------------------------------------- storage */

static void *field(const struct md_config *c, size_t i)
{
    return (char *)c->base + c->table[i].offset;
}

static void store(struct md_config *c, size_t i, const struct value *v)
{
    void *p = field(c, i);

    switch (c->table[i].kind) {
    case MD_CONFIG_STRING:
        *(const char **)p = v->text;
        break;
    case MD_CONFIG_UINT:
        *(uint64_t *)p = v->num;
        break;
    case MD_CONFIG_ENUM:
        *(int *)p = (int)v->num;
        break;
    case MD_CONFIG_BOOL:
        *(bool *)p = v->num != 0;
        break;
    }
}

static void fetch(const struct md_config *c, size_t i, struct value *v)
{
    const void *p = field(c, i);

    v->num = 0;
    v->text = NULL;
    switch (c->table[i].kind) {
    case MD_CONFIG_STRING:
        v->text = *(const char *const *)p;
        break;
    case MD_CONFIG_UINT:
        v->num = *(const uint64_t *)p;
        break;
    case MD_CONFIG_ENUM:
        v->num = (uint64_t) * (const int *)p;
        break;
    case MD_CONFIG_BOOL:
        v->num = *(const bool *)p;
        break;
    }
}

/* ---------------------------------------------------------------- values */

static size_t count_words(const char *const *words)
{
    size_t n = 0;

    while (words[n] != NULL)
        n++;
    return n;
}

/* The words joined with ", ", cut short when buf is too small. */
static const char *word_list(const struct md_config_setting *s, char *buf, size_t size)
{
    size_t o = 0;
    size_t k;

    buf[0] = '\0';
    for (k = 0; s->words[k] != NULL && o < size; k++) {
        int w = snprintf(buf + o, size - o, "%s%s", k ? ", " : "", s->words[k]);

        if (w < 0)
            break;
        o += (size_t)w;
    }
    return buf;
}

/* YAML 1.2's core schema spellings, for flags and the file alike. */
static int bool_word(const char *s)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return 0;
    return -1;
}

static int enum_word(const struct md_config_setting *s, const char *text)
{
    size_t k;

    if (s->parse_word != NULL)
        return s->parse_word(text);
    for (k = 0; s->words[k] != NULL; k++)
        if (strcmp(s->words[k], text) == 0)
            return (int)k;
    return -1;
}

/*
 * Checks text (NUL-terminated) as setting s's value into v. MD_EINVAL with
 * the reason alone: the caller says where the text came from.
 */
static int read_text(const struct md_config_setting *s, const char *text, struct value *v,
                     struct md_err *err)
{
    char shown[80];
    char list[200];
    char *end;
    unsigned long long x;
    int k;

    v->num = 0;
    v->text = NULL;
    md_yaml_fmt_text(text, strlen(text), 64, shown, sizeof(shown));
    switch (s->kind) {
    case MD_CONFIG_STRING:
        v->text = text;
        return MD_OK;
    case MD_CONFIG_UINT:
        errno = 0;
        x = strtoull(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || x < s->min || x > s->max)
            return md_err_set(err, MD_EINVAL,
                              "'%s' is not a whole number from %" PRIu64 " to %" PRIu64, shown,
                              s->min, s->max);
        v->num = x;
        return MD_OK;
    case MD_CONFIG_ENUM:
        k = enum_word(s, text);
        if (k < 0 || (size_t)k >= count_words(s->words))
            return md_err_set(err, MD_EINVAL, "'%s' is not one of %s", shown,
                              word_list(s, list, sizeof(list)));
        v->num = (uint64_t)k;
        return MD_OK;
    case MD_CONFIG_BOOL:
        k = bool_word(text);
        if (k < 0)
            return md_err_set(err, MD_EINVAL, "'%s' is not true or false", shown);
        v->num = (uint64_t)k;
        return MD_OK;
    }
    return md_err_set(err, MD_EINVAL, "unknown kind of setting");
}

/* What setting s expects, for "expected ..., got ..." messages. */
static const char *expected(const struct md_config_setting *s, char *buf, size_t size)
{
    char list[200];

    switch (s->kind) {
    case MD_CONFIG_STRING:
        return "a string";
    case MD_CONFIG_UINT:
        (void)snprintf(buf, size, "a whole number from %" PRIu64 " to %" PRIu64, s->min, s->max);
        return buf;
    case MD_CONFIG_ENUM:
        (void)snprintf(buf, size, "one of %s", word_list(s, list, sizeof(list)));
        return buf;
    case MD_CONFIG_BOOL:
        return "true or false";
    }
    return "a value";
}

/*
 * Checks a node of the file as setting s's value into v, text copied into
 * mem. A plain scalar is read as a flag's text is (so "1.5" and "-1" get a
 * flag's wording); numbers and booleans must be plain, a quoted "5" being a
 * string; strings may be quoted or not.
 */
static int read_node(const struct md_config_setting *s, const yaml_node_t *n, struct md_arena *mem,
                     struct value *v, struct md_err *err)
{
    enum md_yaml_kind k = md_yaml_kind_of(n);
    char want[240];
    char what[80];
    const char *text;
    size_t len;

    v->num = 0;
    v->text = NULL;
    if (k == MD_YAML_MAP || k == MD_YAML_SEQ || k == MD_YAML_NULL ||
        (k == MD_YAML_STR && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
         (s->kind == MD_CONFIG_UINT || s->kind == MD_CONFIG_BOOL)))
        return md_err_set(err, MD_EINVAL, "expected %s, got %s", expected(s, want, sizeof(want)),
                          md_yaml_describe(n, what, sizeof(what)));
    text = md_yaml_text(n);
    len = md_yaml_len(n);
    if (memchr(text, '\0', len) != NULL)
        return md_err_set(err, MD_EINVAL, "contains a NUL character");
    if (s->kind != MD_CONFIG_STRING)
        return read_text(s, text, v, err);
    if (len > MD_CONFIG_MAX_TEXT)
        return md_err_set(err, MD_EINVAL, "longer than %d bytes", MD_CONFIG_MAX_TEXT);
    v->text = md_arena_strndup(mem, text, len);
    if (v->text == NULL)
        return md_err_set(err, MD_ENOMEM, "out of memory");
    return MD_OK;
}

/* --------------------------------------------------------------- the table */

static bool key_matches_flag(const char *key, const char *flag)
{
    for (; *key != '\0' && *flag != '\0'; key++, flag++)
        if (*key != (*flag == '-' ? '_' : *flag))
            return false;
    return *key == *flag;
}

static int check_default(const struct md_config_setting *s, struct md_err *err)
{
    switch (s->kind) {
    case MD_CONFIG_STRING:
        return MD_OK;
    case MD_CONFIG_UINT:
        if (s->min > s->max || s->def_num < s->min || s->def_num > s->max)
            return md_err_set(err, MD_EINVAL, "'%s': default or range out of order", s->key);
        return MD_OK;
    case MD_CONFIG_ENUM: {
        size_t n = s->words != NULL ? count_words(s->words) : 0;
        size_t k;

        if (n == 0 || s->def_num >= n)
            return md_err_set(err, MD_EINVAL, "'%s': no words, or the default is not one", s->key);
        for (k = 0; k < n; k++)
            if (enum_word(s, s->words[k]) != (int)k)
                return md_err_set(err, MD_EINVAL, "'%s': word '%s' does not read back as %zu",
                                  s->key, s->words[k], k);
        return MD_OK;
    }
    case MD_CONFIG_BOOL:
        if (s->def_num > 1)
            return md_err_set(err, MD_EINVAL, "'%s': a boolean's default is 0 or 1", s->key);
        return MD_OK;
    }
    return md_err_set(err, MD_EINVAL, "'%s': unknown kind", s->key);
}

int md_config_check_table(const struct md_config_setting *table, size_t n, struct md_err *err)
{
    size_t i;
    size_t j;

    for (i = 0; i < n; i++) {
        const struct md_config_setting *s = &table[i];
        int rc;

        if (s->flag == NULL || s->key == NULL || s->help == NULL || s->flag[0] == '\0')
            return md_err_set(err, MD_EINVAL, "entry %zu: flag, key and help are required", i);
        if (!key_matches_flag(s->key, s->flag))
            return md_err_set(err, MD_EINVAL, "'%s': the key is not the flag '%s' with '_' for '-'",
                              s->key, s->flag);
        for (j = 0; j < i; j++)
            if (strcmp(table[j].flag, s->flag) == 0)
                return md_err_set(err, MD_EINVAL, "'%s': listed twice", s->flag);
        rc = check_default(s, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* ------------------------------------------------------------ the config */

void md_config_init(struct md_config *c, const struct md_config_setting *table, size_t n,
                    void *base)
{
    struct md_err err;
    size_t i;

    if (md_config_check_table(table, n, &err) != MD_OK)
        MD_BUG(err.msg);
    memset(c, 0, sizeof(*c));
    c->table = table;
    c->n = n;
    c->base = base;
    c->source = md_xcalloc(n + 1, 1);
    c->line = md_xcalloc(n + 1, sizeof(*c->line));
    md_arena_init(&c->mem, ARENA_MAX);
    for (i = 0; i < n; i++) {
        struct value v = {.num = table[i].def_num, .text = table[i].def_text};

        store(c, i, &v);
    }
}

void md_config_release(struct md_config *c)
{
    free(c->source);
    free(c->line);
    md_arena_release(&c->mem);
    memset(c, 0, sizeof(*c));
}

int md_config_find(const struct md_config *c, const char *key)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->table[i].key, key) == 0)
            return (int)i;
    return -1;
}

const char *md_config_text(const struct md_config *c, const char *key)
{
    int i = md_config_find(c, key);
    struct value v = {0, NULL};

    if (i >= 0 && c->table[i].kind == MD_CONFIG_STRING)
        fetch(c, (size_t)i, &v);
    return v.text;
}

uint64_t md_config_number(const struct md_config *c, const char *key)
{
    int i = md_config_find(c, key);
    struct value v = {0, NULL};

    if (i >= 0 && c->table[i].kind != MD_CONFIG_STRING)
        fetch(c, (size_t)i, &v);
    return v.num;
}

enum md_config_source md_config_source_of(const struct md_config *c, size_t i)
{
    return (enum md_config_source)c->source[i];
}

const char *md_config_source_name(enum md_config_source src)
{
    switch (src) {
    case MD_CONFIG_DEFAULT:
        return "default";
    case MD_CONFIG_FILE:
        return "file";
    case MD_CONFIG_FLAG:
        return "flag";
    }
    return "unknown";
}

const char *md_config_file(const struct md_config *c)
{
    return c->file;
}

size_t md_config_line(const struct md_config *c, size_t i)
{
    return c->line[i];
}

/* ------------------------------------------------------------------ flags */

int md_config_set_flag(struct md_config *c, size_t i, const char *text, struct md_err *err)
{
    struct value v;
    int rc = read_text(&c->table[i], text, &v, err);

    if (rc != MD_OK) {
        md_err_prefix(err, "--%s: ", c->table[i].flag);
        return rc;
    }
    store(c, i, &v);
    c->source[i] = MD_CONFIG_FLAG;
    c->line[i] = 0;
    return MD_OK;
}

/* How many long options name starts (up to '='), for the ambiguous-flag message. */
static size_t prefix_matches(const struct option *lo, const char *arg)
{
    size_t len = strcspn(arg, "=");
    size_t n = 0;

    for (; lo->name != NULL; lo++) {
        if (strlen(lo->name) == len && strncmp(lo->name, arg, len) == 0)
            return 1;
        if (strncmp(lo->name, arg, len) == 0)
            n++;
    }
    return n;
}

/* getopt's complaint as a message, in glibc's words. */
static int flag_error(int ch, int argc, char **argv, const struct option *lo, struct md_err *err)
{
    const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    bool long_arg = strncmp(arg, "--", 2) == 0;

    if (ch == ':')
        return md_err_set(err, MD_ENOTFOUND, "option '%s' requires an argument", arg);
    if (!long_arg)
        return md_err_set(err, MD_ENOTFOUND, "invalid option -- '%c'",
                          optopt > 0 && optopt < 128 ? optopt : '?');
    if (optopt != 0)
        return md_err_set(err, MD_ENOTFOUND, "option '%.*s' doesn't allow an argument",
                          (int)strcspn(arg, "="), arg);
    if (prefix_matches(lo, arg + 2) > 1)
        return md_err_set(err, MD_ENOTFOUND, "option '%s' is ambiguous", arg);
    return md_err_set(err, MD_ENOTFOUND, "unrecognized option '%s'", arg);
}

int md_config_args(struct md_config *c, const struct md_config_action *actions, size_t n_actions,
                   int argc, char **argv, md_config_action_fn fn, void *ctx, struct md_err *err)
{
    struct option *lo = md_xcalloc(c->n + n_actions + 1, sizeof(*lo));
    int rc = MD_OK;
    size_t i;
    int ch;

    for (i = 0; i < c->n; i++) {
        lo[i].name = c->table[i].flag;
        lo[i].has_arg = c->table[i].kind == MD_CONFIG_BOOL ? optional_argument : required_argument;
        lo[i].val = FIRST_VAL + (int)i;
    }
    for (i = 0; i < n_actions; i++) {
        lo[c->n + i].name = actions[i].flag;
        lo[c->n + i].has_arg = actions[i].metavar != NULL ? required_argument : no_argument;
        lo[c->n + i].val = FIRST_VAL + (int)(c->n + i);
    }
    optind = 0; /* glibc: start over, even after an earlier call */
    opterr = 0;
    while (rc == MD_OK && (ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        size_t k = ch >= FIRST_VAL ? (size_t)(ch - FIRST_VAL) : SIZE_MAX;

        if (k < c->n) {
            const char *text = optarg;

            /* A boolean flag alone means true. */
            if (text == NULL)
                text = "true";
            rc = md_config_set_flag(c, k, text, err);
        } else if (k < c->n + n_actions) {
            rc = fn(ctx, actions[k - c->n].id, optarg, err);
            if (rc > 0) {
                rc = MD_OK;
                goto out;
            }
        } else {
            rc = flag_error(ch, argc, argv, lo, err);
        }
    }
    if (rc == MD_OK && optind < argc)
        rc = md_err_set(err, MD_ENOTFOUND, "unexpected argument '%s'", argv[optind]);
out:
    free(lo);
    return rc;
}

/* ------------------------------------------------------------------- file */

struct file_ctx {
    struct md_config *c;
    yaml_document_t *doc;
    const char *file;
    const struct md_config_section *sections;
    size_t n_sections;
    struct value *vals; /* per setting: the value read */
    size_t *lines;      /* per setting: the line of its key; 0 = not in the file */
    size_t *sec_lines;  /* per section: likewise */
    struct md_err *err;
};

static int file_fail(struct file_ctx *x, int code, size_t line, const char *key, const char *msg)
{
    char k[80];

    if (key == NULL)
        return md_err_set(x->err, code, "%s:%zu: %s", x->file, line, msg);
    md_yaml_fmt_text(key, strlen(key), 64, k, sizeof(k));
    return md_err_set(x->err, code, "%s:%zu: %s: %s", x->file, line, k, msg);
}

static int find_section(const struct file_ctx *x, const char *key)
{
    size_t i;

    for (i = 0; i < x->n_sections; i++)
        if (strcmp(x->sections[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* An unknown key, with the right spelling when it is a setting's flag. */
static int unknown_key(struct file_ctx *x, const yaml_node_t *key)
{
    char k[80];
    size_t i;

    md_yaml_fmt_text(md_yaml_text(key), md_yaml_len(key), 64, k, sizeof(k));
    for (i = 0; i < x->c->n; i++)
        if (strcmp(x->c->table[i].flag, md_yaml_text(key)) == 0 &&
            strcmp(x->c->table[i].key, md_yaml_text(key)) != 0)
            return md_err_set(x->err, MD_EINVAL, "%s:%zu: %s: unknown key (the key is %s)", x->file,
                              md_yaml_line(key), k, x->c->table[i].key);
    return md_err_set(x->err, MD_EINVAL, "%s:%zu: %s: unknown key", x->file, md_yaml_line(key), k);
}

static int read_pair(struct file_ctx *x, yaml_node_t *key, yaml_node_t *val)
{
    char what[80];
    char msg[120];
    const char *name;
    int i;
    int rc;

    if (key == NULL || val == NULL)
        return md_err_set(x->err, MD_EINVAL, "%s: a key or value is missing", x->file);
    if (key->type != YAML_SCALAR_NODE) {
        (void)snprintf(msg, sizeof(msg), "a key is %s, not a name",
                       md_yaml_describe(key, what, sizeof(what)));
        return file_fail(x, MD_EINVAL, md_yaml_line(key), NULL, msg);
    }
    name = md_yaml_text(key);
    if (memchr(name, '\0', md_yaml_len(key)) != NULL)
        return unknown_key(x, key);
    i = md_config_find(x->c, name);
    if (i >= 0) {
        if (x->lines[i] != 0) {
            (void)snprintf(msg, sizeof(msg), "duplicate key (first at line %zu)", x->lines[i]);
            return file_fail(x, MD_EINVAL, md_yaml_line(key), name, msg);
        }
        rc = read_node(&x->c->table[i], val, &x->c->mem, &x->vals[i], x->err);
        if (rc != MD_OK) {
            md_err_prefix(x->err, "%s:%zu: %s: ", x->file, md_yaml_line(val), name);
            return rc;
        }
        x->lines[i] = md_yaml_line(key);
        return MD_OK;
    }
    i = find_section(x, name);
    if (i < 0)
        return unknown_key(x, key);
    if (x->sec_lines[i] != 0) {
        (void)snprintf(msg, sizeof(msg), "duplicate key (first at line %zu)", x->sec_lines[i]);
        return file_fail(x, MD_EINVAL, md_yaml_line(key), name, msg);
    }
    x->sec_lines[i] = md_yaml_line(key);
    return x->sections[i].parse(x->sections[i].ctx, x->doc, val, x->file, x->err);
}

static int read_root(struct file_ctx *x)
{
    yaml_node_t *root = yaml_document_get_root_node(x->doc);
    const yaml_node_pair_t *pair;
    char what[80];
    char msg[120];
    int rc;

    /* No document, or an empty one ("---" alone, "~"): no setting. */
    if (root == NULL || md_yaml_kind_of(root) == MD_YAML_NULL)
        return MD_OK;
    if (root->type != YAML_MAPPING_NODE) {
        (void)snprintf(msg, sizeof(msg), "expected a mapping of settings, got %s",
                       md_yaml_describe(root, what, sizeof(what)));
        return file_fail(x, MD_EINVAL, md_yaml_line(root), NULL, msg);
    }
    for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
        rc = read_pair(x, yaml_document_get_node(x->doc, pair->key),
                       yaml_document_get_node(x->doc, pair->value));
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

int md_config_parse(struct md_config *c, const char *text, size_t len, const char *file,
                    const struct md_config_section *sections, size_t n_sections, struct md_err *err)
{
    struct file_ctx x;
    yaml_document_t doc;
    const char *name;
    size_t i;
    int rc;

    if (c->file != NULL)
        return md_err_set(err, MD_EINVAL, "%s: a configuration file was read already: %s", file,
                          c->file);
    name = md_arena_strndup(&c->mem, file, strlen(file));
    if (name == NULL)
        return md_err_set(err, MD_ENOMEM, "%s: out of memory", file);
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.doc = &doc;
    x.file = name;
    x.sections = sections;
    x.n_sections = n_sections;
    x.err = err;
    x.vals = md_xcalloc(c->n + 1, sizeof(*x.vals));
    x.lines = md_xcalloc(c->n + 1, sizeof(*x.lines));
    x.sec_lines = md_xcalloc(n_sections + 1, sizeof(*x.sec_lines));
    rc = md_yaml_load(text, len, name, MD_YAML_ALLOW_EMPTY, &doc, err);
    if (rc == MD_OK)
        rc = read_root(&x);
    yaml_document_delete(&doc);
    if (rc == MD_OK) {
        for (i = 0; i < c->n; i++) {
            if (x.lines[i] == 0 || c->source[i] == MD_CONFIG_FLAG)
                continue;
            store(c, i, &x.vals[i]);
            c->source[i] = MD_CONFIG_FILE;
            c->line[i] = x.lines[i];
        }
        c->file = name;
    }
    free(x.vals);
    free(x.lines);
    free(x.sec_lines);
    return rc;
}

int md_config_load(struct md_config *c, const char *path, const struct md_config_section *sections,
                   size_t n_sections, struct md_err *err)
{
    char *abs;
    char *text;
    size_t len;
    int rc = md_read_file(path, MD_CONFIG_MAX_BYTES, &text, &len, NULL, err);

    if (rc != MD_OK)
        return rc;
    abs = realpath(path, NULL);
    rc = md_config_parse(c, text, len, abs != NULL ? abs : path, sections, n_sections, err);
    free(abs);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------- JSON */

int md_config_json(const struct md_config *c, size_t i, struct md_buf *b)
{
    const struct md_config_setting *s = &c->table[i];
    const char *src = md_config_source_name(md_config_source_of(c, i));
    struct value v;

    fetch(c, i, &v);
    md_buf_puts(b, "{\"name\":");
    md_buf_json_str(b, s->key, strlen(s->key));
    md_buf_puts(b, ",\"value\":");
    switch (s->kind) {
    case MD_CONFIG_STRING:
        if (v.text == NULL)
            md_buf_puts(b, "null");
        else
            md_buf_json_str(b, v.text, strlen(v.text));
        break;
    case MD_CONFIG_UINT:
        md_buf_printf(b, "%" PRIu64, v.num);
        break;
    case MD_CONFIG_ENUM:
        md_buf_json_str(b, s->words[v.num], strlen(s->words[v.num]));
        break;
    case MD_CONFIG_BOOL:
        md_buf_puts(b, v.num ? "true" : "false");
        break;
    }
    md_buf_puts(b, ",\"source\":");
    md_buf_json_str(b, src, strlen(src));
    if (md_config_source_of(c, i) == MD_CONFIG_FILE) {
        md_buf_puts(b, ",\"file\":");
        md_buf_json_str(b, c->file, strlen(c->file));
        md_buf_printf(b, ",\"line\":%zu", c->line[i]);
    }
    md_buf_putc(b, '}');
    return md_buf_error(b);
}

/* ------------------------------------------------------------------- help */

/* Writes the words of text from column *col on, wrapping to HELP_COL past HELP_WIDTH. */
static void put_words(FILE *out, const char *text, size_t *col, bool glue)
{
    const char *p = text;

    while (*p != '\0') {
        size_t len;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        /* One glued piece ("(default: 24576)") is never split. */
        len = glue ? strlen(p) : strcspn(p, " ");
        if (*col > HELP_COL && *col + 1 + len > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_COL, "");
            *col = HELP_COL;
        } else if (*col > HELP_COL) {
            fputc(' ', out);
            (*col)++;
        }
        fprintf(out, "%.*s", (int)len, p);
        *col += len;
        p += len;
    }
}

static void help_line(FILE *out, const char *flag, const char *metavar, const char *help,
                      const char *def)
{
    char left[96];
    size_t col;

    (void)snprintf(left, sizeof(left), "  --%s%s%s", flag, metavar != NULL ? " " : "",
                   metavar != NULL ? metavar : "");
    col = strlen(left);
    fputs(left, out);
    if (col + 2 > HELP_COL) {
        fputc('\n', out);
        col = 0;
    }
    fprintf(out, "%*s", (int)(HELP_COL - col), "");
    col = HELP_COL;
    put_words(out, help, &col, false);
    if (def != NULL) {
        char d[96];

        (void)snprintf(d, sizeof(d), "(default: %s)", def);
        put_words(out, d, &col, true);
    }
    fputc('\n', out);
}

void md_config_usage(const struct md_config_setting *table, size_t n,
                     const struct md_config_action *actions, size_t n_actions, FILE *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const struct md_config_setting *s = &table[i];
        char num[24];
        const char *def = NULL;

        switch (s->kind) {
        case MD_CONFIG_STRING:
            def = s->def_text;
            break;
        case MD_CONFIG_UINT:
            (void)snprintf(num, sizeof(num), "%" PRIu64, s->def_num); /* fits */
            def = num;
            break;
        case MD_CONFIG_ENUM:
            def = s->words[s->def_num];
            break;
        case MD_CONFIG_BOOL:
            def = s->def_num ? "true" : "false";
            break;
        }
        help_line(out, s->flag, s->metavar, s->help, def);
    }
    for (i = 0; i < n_actions; i++)
        help_line(out, actions[i].flag, actions[i].metavar, actions[i].help, NULL);
}
