/* SPDX-License-Identifier: MIT */
/*
 * config.h: a program's settings described once, in a table, and read from
 * the command line and a YAML configuration file by that table alone.
 *
 * Each entry of the table names a setting as a flag ("max-body-bytes") and as
 * a file key ("max_body_bytes", the flag with '_' for '-'), its kind and
 * limits, its default, its --help text and where its value lives in the
 * caller's settings struct. From the table come the getopt long options, the
 * --help lines, the checks of every value (with one wording whether it came
 * from a flag or the file) and the keys the file accepts. Flags that are not
 * settings (--help, --config) are actions, handed to a callback. A value
 * keeps its source (default, file, flag): a flag overrides the file whatever
 * their order, since the caller reads the file after the flags.
 *
 * The file is one YAML mapping, read strictly: an unknown key, a duplicate, a
 * value of the wrong type or out of range is an error naming the file, the
 * line and the key. A top-level key whose value is a whole section (alert
 * rules, say) is read by a parser the caller registers for it
 * (struct md_config_section). The table of modeld's own settings is
 * control/settings.c's.
 *
 * Threads: set up by one thread before others start; read-only afterwards,
 * when any thread may read it.
 */
#ifndef MD_UTIL_CONFIG_H
#define MD_UTIL_CONFIG_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/yaml.h"

/* The largest configuration file read. */
#define MD_CONFIG_MAX_BYTES (1u << 20)
/* The longest text a string setting takes from the file. */
#define MD_CONFIG_MAX_TEXT 4096

enum md_config_kind {
    MD_CONFIG_STRING = 0, /* text: a path, an address; stored as const char * */
    MD_CONFIG_UINT,       /* a whole number from min to max; stored as uint64_t */
    MD_CONFIG_ENUM,       /* one of words; stored as int */
    MD_CONFIG_BOOL        /* true or false; stored as bool */
};

/* Where a setting's value came from. */
enum md_config_source {
    MD_CONFIG_DEFAULT = 0, /* the table's default */
    MD_CONFIG_FILE,        /* the configuration file */
    MD_CONFIG_FLAG         /* the command line */
};

struct md_config_setting {
    const char *flag;         /* "max-body-bytes": the flag, without its "--" */
    const char *key;          /* "max_body_bytes": the flag with '_' for '-'; the file's key
                                 and the name the API shows */
    enum md_config_kind kind; /* how the value is read and stored */
    const char *metavar;      /* what --help shows after the flag ("N", "DIR"); NULL for a
                                 boolean, whose flag alone means true */
    const char *help;         /* --help text, one line of words: wrapped, and followed by
                                 "(default: X)" when there is a default */
    size_t offset;            /* where the value lives in the settings struct: use the
                                 MD_CONFIG_* field macros below, which check its type */
    const char *def_text;     /* STRING: the default, or NULL for none */
    uint64_t def_num;         /* UINT: the default; ENUM: the default's index in words;
                                 BOOL: 0 or 1 */
    uint64_t min;             /* UINT: the smallest value accepted */
    uint64_t max;             /* UINT: the largest value accepted */
    const char *const *words; /* ENUM: the values, NULL-terminated, in messages and the API */
    int (*parse_word)(const char *s); /* ENUM, or NULL: the value s spells (aliases allowed)
                                         or -1; NULL means the index of s in words */
};

/*
 * The offset of field in type, for a setting of that kind; a field of any
 * other type fails to compile ("comparison of distinct pointer types").
 */
#define MD_CONFIG_FIELD(type, field, ctype)                                                        \
    (offsetof(type, field) + 0 * sizeof(&((type *)0)->field == (ctype *)0))
#define MD_CONFIG_STRING_AT(type, field) MD_CONFIG_FIELD(type, field, const char *)
#define MD_CONFIG_UINT_AT(type, field)   MD_CONFIG_FIELD(type, field, uint64_t)
#define MD_CONFIG_ENUM_AT(type, field)   MD_CONFIG_FIELD(type, field, int)
#define MD_CONFIG_BOOL_AT(type, field)   MD_CONFIG_FIELD(type, field, bool)

/* A flag that is not a setting: --help, --config FILE. Never read from the file. */
struct md_config_action {
    const char *flag;    /* "config", without its "--" */
    const char *metavar; /* what it takes ("FILE"), or NULL: no value */
    const char *help;    /* --help text, as a setting's */
    int id;              /* handed to the callback */
};

/*
 * Called for an action on the command line, with its value (NULL when it
 * takes none): MD_OK to go on, 1 to stop reading the command line (--help),
 * or an error code with err set.
 */
typedef int (*md_config_action_fn)(void *ctx, int id, const char *value, struct md_err *err);

/*
 * A top-level key of the file whose value a registered parser reads: parse
 * gets the document, the value's node and the file's name, and returns MD_OK
 * or an error code with err set, its message naming the file, the line and
 * the key path ("FILE:LINE: key.sub: reason"). An alias is the very node
 * it names, so the nodes under value form a graph without cycles, not a
 * tree: a parser that walks every path must bound its steps.
 */
struct md_config_section {
    const char *key;
    int (*parse)(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                 struct md_err *err);
    void *ctx;
};

struct md_config {
    const struct md_config_setting *table; /* read-only: the settings */
    size_t n;                              /* read-only: entries in table */
    void *base;                            /* private: the struct the offsets point into */
    unsigned char *source;                 /* private: an enum md_config_source per setting */
    size_t *line;                          /* private: per setting, its line in the file */
    const char *file;                      /* private: the file read, or NULL */
    struct md_arena mem;                   /* private: text taken from the file */
};

/*
 * Binds table (n entries, which it borrows) to the settings struct at base
 * and writes every default there. Aborts on a table that breaks the rules
 * md_config_check_table checks: that is a bug, not an error.
 */
void md_config_init(struct md_config *c, const struct md_config_setting *table, size_t n,
                    void *base);

/* Frees what c holds; text the settings point at from the file goes too. */
void md_config_release(struct md_config *c);

/*
 * Checks a table: every flag and key set, each key its flag with '_' for
 * '-', no two alike, every default within its setting's limits, enum words
 * present. MD_EINVAL naming the entry.
 */
int md_config_check_table(const struct md_config_setting *table, size_t n,
                          struct md_err *err) MD_MUST_CHECK;

/*
 * Sets setting i from a flag's text (kept, not copied: argv lives long
 * enough), with source flag. MD_EINVAL with "--flag: 'text' is not a whole
 * number from 1 to 10" and the like.
 */
int md_config_set_flag(struct md_config *c, size_t i, const char *text,
                       struct md_err *err) MD_MUST_CHECK;

/*
 * Reads the command line argv[0..argc) (getopt_long: "--flag value" or
 * "--flag=value"; a boolean takes "--flag" or "--flag=true|false"): each
 * setting through md_config_set_flag, each action through fn. MD_OK;
 * MD_EINVAL for a bad value (err names the flag) or an error fn returned;
 * MD_ENOTFOUND for an unknown or ambiguous flag, a missing value or an
 * argument that is not a flag (the caller shows its usage). Not reentrant
 * (getopt's state is global).
 */
int md_config_args(struct md_config *c, const struct md_config_action *actions, size_t n_actions,
                   int argc, char **argv, md_config_action_fn fn, void *ctx,
                   struct md_err *err) MD_MUST_CHECK;

/*
 * Reads a configuration file's text[0..len), named file in messages and in
 * the sources, and sets each setting it names whose source is not a flag.
 * Sections (n_sections, may be NULL) read the keys they register. An empty
 * document is no setting. MD_EINVAL ("FILE:LINE: key: reason", or a YAML
 * syntax error with its line and column) with no setting changed (what a
 * section's parser kept before a later error is its own business); MD_ENOMEM.
 * One file per config: MD_EINVAL when one was read already.
 */
int md_config_parse(struct md_config *c, const char *text, size_t len, const char *file,
                    const struct md_config_section *sections, size_t n_sections,
                    struct md_err *err) MD_MUST_CHECK;

/*
 * Reads the file at path (its absolute path names it) with md_config_parse.
 * Also MD_EIO when it cannot be read or is not a regular file, MD_ETOOBIG when
 * larger than MD_CONFIG_MAX_BYTES.
 */
int md_config_load(struct md_config *c, const char *path, const struct md_config_section *sections,
                   size_t n_sections, struct md_err *err) MD_MUST_CHECK;

/* The index of the setting whose key is key, or -1. */
int md_config_find(const struct md_config *c, const char *key);

/* The value of the string setting named key, or NULL (none, or no such setting). */
const char *md_config_text(const struct md_config *c, const char *key);

/* The value of the number, enum (its index) or boolean (0 or 1) setting named key; 0 when
 * there is no such setting. */
uint64_t md_config_number(const struct md_config *c, const char *key);

/* Where setting i's value came from. */
enum md_config_source md_config_source_of(const struct md_config *c, size_t i);

/* "default", "file", "flag". */
const char *md_config_source_name(enum md_config_source src);

/* The file read (its absolute path), or NULL. */
const char *md_config_file(const struct md_config *c);

/* The line of the file setting i was read from; 0 when it was not. */
size_t md_config_line(const struct md_config *c, size_t i);

/*
 * Appends setting i as a JSON object: {"name": key, "value": ..., "source":
 * "default"|"file"|"flag"} with "file" and "line" when it came from the
 * file. The value is a string, a number, true or false, or null for a
 * string setting with no value. Returns b's error after the call (util/buf.h:
 * MD_ETOOBIG or MD_ENOMEM, the first failure kept).
 */
int md_config_json(const struct md_config *c, size_t i, struct md_buf *b);

/*
 * Writes the --help lines of the settings (table) then the actions:
 * "  --flag META" with the text from the 25th column on (on the next line
 * when the flag is longer), wrapped to lines of at most 80 columns, each
 * setting's default after its text.
 */
void md_config_usage(const struct md_config_setting *table, size_t n,
                     const struct md_config_action *actions, size_t n_actions, FILE *out);

#endif
