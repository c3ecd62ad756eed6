/* SPDX-License-Identifier: MIT */
/*
 * yaml.c: a YAML document loaded safely, scalars resolved by the core
 * schema, and nodes described for messages.
 *
 * libyaml's scanner costs time proportional to the nesting depth on every
 * token and its loader compares each anchor with all earlier ones, so a
 * crafted file could take hours; a first pass over the events refuses deep
 * nesting and many anchors before the tree is built, and an alias inside the
 * node it names, which libyaml would load as a cycle. libyaml resolves no
 * scalar itself: md_yaml_kind_of applies the YAML 1.2 core schema, so "off"
 * and "yes" are strings (as YAML 1.2 has it), not booleans.
 */
#include "util/yaml.h"
#include "util/mem.h"

/* ---------------------------------------------------------------- loading */

/* A libyaml failure as a message with its line and column (1-based). */
static int yaml_fail(const yaml_parser_t *p, const char *name, struct md_err *err)
{
    const char *problem = p->problem != NULL ? p->problem : "malformed YAML";

    if (p->error == YAML_MEMORY_ERROR)
        return md_err_set(err, MD_ENOMEM, "%s: out of memory", name);
    if (p->error == YAML_READER_ERROR)
        return md_err_set(err, MD_EINVAL, "%s: invalid text at byte %zu: %s", name,
                          p->problem_offset, problem);
    if (p->context != NULL)
        return md_err_set(err, MD_EINVAL,
                          "%s: syntax error at line %zu, column %zu: %s (%s at line %zu)", name,
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                          p->context_mark.line + 1);
    return md_err_set(err, MD_EINVAL, "%s: syntax error at line %zu, column %zu: %s", name,
                      p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

/* The anchor an event defines, or NULL. */
static const char *anchor_of(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return (const char *)ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return (const char *)ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
        return (const char *)ev->data.mapping_start.anchor;
    default:
        return NULL;
    }
}

/*
 * The first pass's state: the depth, the anchors and aliases seen, and the
 * anchor of each open sequence or mapping (NULL when it has none). libyaml
 * refuses a second anchor of the same name, so an alias naming an open
 * anchor means the node that contains it.
 */
struct scan {
    size_t depth;
    size_t anchors;
    char *open[MD_YAML_MAX_DEPTH + 1];
};

static int scan_event(struct scan *sc, const yaml_event_t *ev, const char *name, struct md_err *err)
{
    const char *anchor = anchor_of(ev);
    bool opens = ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT;
    size_t line = ev->start_mark.line + 1;
    size_t k;

    /* Nesting first, then anchors, then cycles: the first limit an event breaks is reported. */
    if (opens && sc->depth == MD_YAML_MAX_DEPTH)
        return md_err_set(err, MD_EINVAL, "%s: nesting deeper than %d levels at line %zu", name,
                          MD_YAML_MAX_DEPTH, line);
    if ((anchor != NULL || ev->type == YAML_ALIAS_EVENT) && ++sc->anchors > MD_YAML_MAX_ANCHORS)
        return md_err_set(err, MD_EINVAL, "%s: more than %d anchors and aliases at line %zu", name,
                          MD_YAML_MAX_ANCHORS, line);
    switch (ev->type) {
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        sc->open[sc->depth++] = anchor != NULL ? md_xstrdup(anchor) : NULL;
        return MD_OK;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (sc->depth > 0) {
            sc->depth--;
            free(sc->open[sc->depth]);
            sc->open[sc->depth] = NULL;
        }
        return MD_OK;
    case YAML_ALIAS_EVENT:
        for (k = 0; k < sc->depth; k++)
            if (sc->open[k] != NULL &&
                strcmp(sc->open[k], (const char *)ev->data.alias.anchor) == 0)
                return md_err_set(err, MD_EINVAL,
                                  "%s: alias at line %zu refers to a node that contains it", name,
                                  line);
        return MD_OK;
    default:
        return MD_OK;
    }
}

/*
 * Walks text's events once before building the tree, to refuse what would
 * make libyaml slow or the tree a trap: deep nesting or many anchors cost
 * time quadratic in the file's size, and an alias inside the node it names
 * would make the tree a cycle that a reader walking it never leaves. No file
 * modeld reads needs any of them.
 */
static int prescan(const char *text, size_t len, const char *name, struct md_err *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct scan sc;
    int rc = MD_OK;
    bool done = false;

    memset(&sc, 0, sizeof(sc));
    if (!yaml_parser_initialize(&p))
        return md_err_set(err, MD_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && rc == MD_OK) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_fail(&p, name, err);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = scan_event(&sc, &ev, name, err);
        yaml_event_delete(&ev);
    }
    while (sc.depth > 0)
        free(sc.open[--sc.depth]);
    yaml_parser_delete(&p);
    return rc;
}

int md_yaml_load(const char *text, size_t len, const char *name, unsigned flags,
                 yaml_document_t *doc, struct md_err *err)
{
    yaml_parser_t p;
    yaml_document_t more;
    bool extra;
    int rc;

    /* Whatever happens, doc can be deleted: an empty document deletes as a no-op. */
    memset(doc, 0, sizeof(*doc));
    rc = prescan(text, len, name, err);
    if (rc != MD_OK)
        return rc;
    if (!yaml_parser_initialize(&p))
        return md_err_set(err, MD_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, doc)) {
        rc = yaml_fail(&p, name, err);
        yaml_parser_delete(&p);
        memset(doc, 0, sizeof(*doc)); /* libyaml freed what it had built */
        return rc;
    }
    if (yaml_document_get_root_node(doc) == NULL) {
        if (!(flags & MD_YAML_ALLOW_EMPTY))
            rc = md_err_set(err, MD_EINVAL, "%s: empty document", name);
    } else if (!yaml_parser_load(&p, &more)) {
        rc = yaml_fail(&p, name, err);
    } else {
        extra = yaml_document_get_root_node(&more) != NULL;
        yaml_document_delete(&more);
        if (extra)
            rc = md_err_set(err, MD_EINVAL, "%s: more than one YAML document", name);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---------------------------------------------------------------- scalars */

static bool is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* [-+]?[0-9]+ */
static bool is_int_text(const char *s, size_t len)
{
    size_t i = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i == len)
        return false;
    for (; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan */
static bool is_float_text(const char *s, size_t len)
{
    size_t i = 0;
    size_t digits = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (is(s + i, len - i, ".inf") || is(s + i, len - i, ".Inf") || is(s + i, len - i, ".INF"))
        return true;
    if (is(s, len, ".nan") || is(s, len, ".NaN") || is(s, len, ".NAN"))
        return true;
    while (i < len && is_digit(s[i])) {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;

        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < len && is_digit(s[i])) {
            i++;
            e++;
        }
        if (e == 0)
            return false;
    }
    return i == len;
}

enum md_yaml_kind md_yaml_kind_of(const yaml_node_t *n)
{
    const char *s;
    size_t len;

    if (n->type == YAML_MAPPING_NODE)
        return MD_YAML_MAP;
    if (n->type == YAML_SEQUENCE_NODE)
        return MD_YAML_SEQ;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return MD_YAML_STR;
    s = md_yaml_text(n);
    len = md_yaml_len(n);
    if (len == 0 || is(s, len, "~") || is(s, len, "null") || is(s, len, "Null") ||
        is(s, len, "NULL"))
        return MD_YAML_NULL;
    if (is(s, len, "true") || is(s, len, "True") || is(s, len, "TRUE") || is(s, len, "false") ||
        is(s, len, "False") || is(s, len, "FALSE"))
        return MD_YAML_BOOL;
    if (is_int_text(s, len))
        return MD_YAML_INT;
    if (is_float_text(s, len))
        return MD_YAML_FLOAT;
    return MD_YAML_STR;
}

/* --------------------------------------------------------------- messages */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    size_t i;
    uint32_t cp;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

void md_yaml_fmt_text(const char *s, size_t len, size_t max, char *buf, size_t size)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    size_t o = 0;

    if (size == 0)
        return;
    while (i < len && i < max && o + 5 < size) {
        size_t n = u[i] >= 0x80 ? utf8_len(u + i, len - i) : 0;

        if (n > 0 && i + n <= max) {
            memcpy(buf + o, s + i, n);
            o += n;
            i += n;
        } else if (n > 0) {
            break;
        } else {
            buf[o++] = (char)((u[i] >= 0x20 && u[i] < 0x7f) ? u[i] : '?');
            i++;
        }
    }
    if (i < len && o + 3 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

const char *md_yaml_describe(const yaml_node_t *n, char *buf, size_t size)
{
    char text[80];

    switch (md_yaml_kind_of(n)) {
    case MD_YAML_MAP:
        return "a mapping";
    case MD_YAML_SEQ:
        return "a sequence";
    case MD_YAML_NULL:
        return "null";
    case MD_YAML_BOOL:
        return "a boolean";
    case MD_YAML_INT:
    case MD_YAML_FLOAT:
        return "a number";
    case MD_YAML_STR:
        break;
    }
    md_yaml_fmt_text(md_yaml_text(n), md_yaml_len(n), 48, text, sizeof(text));
    (void)snprintf(buf, size, "string '%s'", text); /* cut short in a small buf: a message */
    return buf;
}
