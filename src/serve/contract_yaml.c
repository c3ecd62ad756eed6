/* SPDX-License-Identifier: MIT */
/*
 * contract_yaml.c: getting model.yaml text into a libyaml document safely,
 * and the text formatting that contract messages share.
 *
 * libyaml's scanner costs time proportional to the nesting depth on every
 * token and its loader compares each anchor with all earlier ones, so a
 * crafted file could take hours; a first pass over the events refuses deep
 * nesting and many anchors before the tree is built. Syntax errors come back
 * with their line and column. What the document means is contract.c's
 * business.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"

#include <math.h>
#include <yaml.h>

#define MAX_DEPTH   32   /* nested sequences and mappings; the format needs 4 */
#define MAX_ANCHORS 1000 /* anchors and aliases together */

/* ---------------------------------------------------------------- messages */

void md_contract__fmt_num(double v, bool as_float, char *buf, size_t size)
{
    int p;

    /* For messages: cut short when buf is too small (callers give 32 bytes or more). */
    if (isnan(v)) {
        (void)snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        (void)snprintf(buf, size, v < 0 ? "-inf" : "inf");
        return;
    }
    for (p = 1; p <= 17; p++) {
        double back;

        (void)snprintf(buf, size, "%.*g", p, v);
        back = strtod(buf, NULL);
        if (as_float ? (float)back == (float)v : back == v)
            return;
    }
}

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

void md_contract__fmt_text(const char *s, size_t len, size_t max, char *buf, size_t size)
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

/* --------------------------------------------------------------- loading */

/* A libyaml failure as a message with its line and column (1-based). */
static int yaml_fail(const yaml_parser_t *p, struct md_err *err)
{
    const char *problem = p->problem != NULL ? p->problem : "malformed YAML";

    if (p->error == YAML_MEMORY_ERROR)
        return md_err_set(err, MD_ENOMEM, "model.yaml: out of memory");
    if (p->error == YAML_READER_ERROR)
        return md_err_set(err, MD_EINVAL, "model.yaml: invalid text at byte %zu: %s",
                          p->problem_offset, problem);
    if (p->context != NULL)
        return md_err_set(err, MD_EINVAL,
                          "model.yaml: syntax error at line %zu, column %zu: %s (%s at line %zu)",
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                          p->context_mark.line + 1);
    return md_err_set(err, MD_EINVAL, "model.yaml: syntax error at line %zu, column %zu: %s",
                      p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

/*
 * Walks text's events once before building the tree, to refuse what would
 * make libyaml slow: its scanner spends time proportional to the nesting
 * depth on every token, and its loader compares each anchor and alias with
 * every anchor before it, so deep nesting or many anchors cost time
 * quadratic in the file's size. No model.yaml needs either.
 */
static int prescan(const char *text, size_t len, struct md_err *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    size_t depth = 0;
    size_t anchors = 0;
    int rc = MD_OK;
    bool done = false;

    if (!yaml_parser_initialize(&p))
        return md_err_set(err, MD_ENOMEM, "model.yaml: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && rc == MD_OK) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_fail(&p, err);
            break;
        }
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > MAX_DEPTH)
                rc = md_err_set(err, MD_EINVAL,
                                "model.yaml: nesting deeper than %d levels at line %zu", MAX_DEPTH,
                                ev.start_mark.line + 1);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        if (ev.type == YAML_ALIAS_EVENT ||
            (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor != NULL) ||
            (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor != NULL) ||
            (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor != NULL)) {
            if (++anchors > MAX_ANCHORS && rc == MD_OK)
                rc = md_err_set(err, MD_EINVAL,
                                "model.yaml: more than %d anchors and aliases at line %zu",
                                MAX_ANCHORS, ev.start_mark.line + 1);
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

int md_contract__load_document(const char *text, size_t len, yaml_document_t *doc,
                               struct md_err *err)
{
    yaml_parser_t p;
    yaml_document_t more;
    bool extra;
    int rc = prescan(text, len, err);

    if (rc != MD_OK)
        return rc;
    if (!yaml_parser_initialize(&p))
        return md_err_set(err, MD_ENOMEM, "model.yaml: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, doc)) {
        rc = yaml_fail(&p, err);
        yaml_parser_delete(&p);
        return rc;
    }
    if (yaml_document_get_root_node(doc) == NULL) {
        rc = md_err_set(err, MD_EINVAL, "model.yaml: empty document");
    } else if (!yaml_parser_load(&p, &more)) {
        rc = yaml_fail(&p, err);
    } else {
        extra = yaml_document_get_root_node(&more) != NULL;
        yaml_document_delete(&more);
        if (extra)
            rc = md_err_set(err, MD_EINVAL, "model.yaml: more than one YAML document");
    }
    yaml_parser_delete(&p);
    if (rc != MD_OK)
        yaml_document_delete(doc);
    return rc;
}
