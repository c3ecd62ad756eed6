/* SPDX-License-Identifier: MIT */
/*
 * yaml.h: reading YAML strictly, for every file modeld reads that a person
 * writes: one document, loaded by libyaml only after a first pass has refused
 * what would make libyaml slow, with plain scalars resolved by the YAML 1.2
 * core schema (null, true and false, decimal integers and floats; anything
 * quoted is a string), and the words messages use to describe a node. What a
 * document means is its reader's business (util/config.c for the daemon's
 * configuration file).
 */
#ifndef MD_UTIL_YAML_H
#define MD_UTIL_YAML_H

#include "util/common.h"
#include "util/err.h"

#include <yaml.h>

/* Nested sequences and mappings allowed in a document. */
#define MD_YAML_MAX_DEPTH 32
/* Anchors and aliases allowed in a document, together. */
#define MD_YAML_MAX_ANCHORS 1000

enum md_yaml_flags {
    MD_YAML_ALLOW_EMPTY = 1 << 0 /* a stream with no document is not an error */
};

/* What a node is; a scalar's kind follows the core schema. */
enum md_yaml_kind {
    MD_YAML_NULL = 0, /* plain "", "~", "null", "Null", "NULL" */
    MD_YAML_BOOL,     /* plain true/True/TRUE, false/False/FALSE */
    MD_YAML_INT,      /* plain [-+]?[0-9]+ */
    MD_YAML_FLOAT,    /* plain decimal float, .inf, .nan */
    MD_YAML_STR,      /* any other scalar, and every quoted or block scalar */
    MD_YAML_SEQ,
    MD_YAML_MAP
};

/*
 * Loads the one YAML document of text[0..len) into doc, to be freed with
 * yaml_document_delete whatever this returns. name prefixes every message
 * ("model.yaml", a file's path). MD_EINVAL for a syntax error (with its line
 * and column, 1-based), invalid text, a second document, nesting deeper than
 * MD_YAML_MAX_DEPTH, more than MD_YAML_MAX_ANCHORS anchors and aliases, an
 * alias inside the node it names (the tree would be a cycle), and for a
 * stream with no document unless flags has MD_YAML_ALLOW_EMPTY (then the
 * document has no root node); MD_ENOMEM. An alias elsewhere is the node it
 * names, shared: the nodes form a graph without cycles, which a reader that
 * walks every path must still bound (2^aliases paths at worst).
 */
int md_yaml_load(const char *text, size_t len, const char *name, unsigned flags,
                 yaml_document_t *doc, struct md_err *err) MD_MUST_CHECK;

/* The kind of node n. */
enum md_yaml_kind md_yaml_kind_of(const yaml_node_t *n);

/* A scalar's text (NUL-terminated; it may hold NUL bytes before len) and length. */
static inline const char *md_yaml_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline size_t md_yaml_len(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* The 1-based line where node n starts. */
static inline size_t md_yaml_line(const yaml_node_t *n)
{
    return n->start_mark.line + 1;
}

/*
 * Writes what n is, for a message: "a mapping", "a sequence", "null", "a
 * boolean", "a number", or "string 'text'" (the text cut short, made
 * printable). Returns buf, or a constant string.
 */
const char *md_yaml_describe(const yaml_node_t *n, char *buf, size_t size);

/*
 * Copies at most max bytes of s[0..len) into buf (size bytes, NUL-terminated)
 * for a message: printable ASCII and well-formed UTF-8 kept, other bytes as
 * '?', "..." when cut.
 */
void md_yaml_fmt_text(const char *s, size_t len, size_t max, char *buf, size_t size);

#endif
