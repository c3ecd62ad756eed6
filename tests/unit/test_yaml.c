/* SPDX-License-Identifier: MIT */
/*
 * test_yaml.c: util/yaml: the guarded load (syntax errors with line and
 * column, empty streams, second documents, depth and anchor limits, aliases
 * inside the node they name), scalar
 * kinds under the core schema, and the words messages describe nodes with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/yaml.h"

/* Loads text; returns the code, the message in err. */
static int load(const char *text, unsigned flags, yaml_document_t *doc, struct md_err *err)
{
    md_err_clear(err);
    return md_yaml_load(text, strlen(text), "f.yaml", flags, doc, err);
}

static void test_load(void **state)
{
    yaml_document_t doc;
    struct md_err err;
    yaml_node_t *root;

    (void)state;
    assert_int_equal(load("a: 1\nb: [x, y]\n", 0, &doc, &err), MD_OK);
    root = yaml_document_get_root_node(&doc);
    assert_non_null(root);
    assert_int_equal(md_yaml_kind_of(root), MD_YAML_MAP);
    assert_int_equal(md_yaml_line(root), 1);
    yaml_document_delete(&doc);

    /* An empty stream: refused unless allowed, and deletable either way. */
    assert_int_equal(load("", 0, &doc, &err), MD_EINVAL);
    assert_string_equal(err.msg, "f.yaml: empty document");
    yaml_document_delete(&doc);
    assert_int_equal(load("# only a comment\n", MD_YAML_ALLOW_EMPTY, &doc, &err), MD_OK);
    assert_null(yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);

    assert_int_equal(load("a: 1\n---\nb: 2\n", 0, &doc, &err), MD_EINVAL);
    assert_string_equal(err.msg, "f.yaml: more than one YAML document");
    yaml_document_delete(&doc);

    assert_int_equal(load("a: 1\nb: [\n", 0, &doc, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "f.yaml: syntax error at line 3, column 1: "));
    yaml_document_delete(&doc);
    assert_int_equal(load("a: 1\n  b: 2\n", 0, &doc, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "syntax error at line 2, column 4"));
    yaml_document_delete(&doc);

    /* Not UTF-8: the reader's error names the byte. */
    assert_int_equal(load("a: \xff\n", 0, &doc, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "f.yaml: invalid text at byte 3"));
    yaml_document_delete(&doc);
}

/* n nested flow sequences: "[[...]]". */
static void nest(char *text, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        text[i] = '[';
        text[2 * n - 1 - i] = ']';
    }
    text[2 * n] = '\0';
}

/* A flow sequence of n anchored scalars: "[&a0 1,&a1 1,...]". */
static void anchors(char *text, size_t size, int n)
{
    size_t o = 0;
    int i;

    text[o++] = '[';
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, size - o, "%s&a%d 1", i ? "," : "", i);
    (void)snprintf(text + o, size - o, "]");
}

static void test_load_limits(void **state)
{
    char text[16 * 1024];
    yaml_document_t doc;
    struct md_err err;

    (void)state;
    nest(text, MD_YAML_MAX_DEPTH);
    assert_int_equal(load(text, 0, &doc, &err), MD_OK);
    yaml_document_delete(&doc);
    nest(text, MD_YAML_MAX_DEPTH + 1);
    assert_int_equal(load(text, 0, &doc, &err), MD_EINVAL);
    assert_string_equal(err.msg, "f.yaml: nesting deeper than 32 levels at line 1");
    yaml_document_delete(&doc);

    anchors(text, sizeof(text), MD_YAML_MAX_ANCHORS);
    assert_int_equal(load(text, 0, &doc, &err), MD_OK);
    yaml_document_delete(&doc);
    anchors(text, sizeof(text), MD_YAML_MAX_ANCHORS + 1);
    assert_int_equal(load(text, 0, &doc, &err), MD_EINVAL);
    assert_string_equal(err.msg, "f.yaml: more than 1000 anchors and aliases at line 1");
    yaml_document_delete(&doc);
}

static void test_load_cycles(void **state)
{
    static const char *const refused[] = {
        "a: &x [1, *x]\n",
        "a: &x\n  b: [c, {d: *x}]\n",
        "- &x [&y [*x]]\n",
    };
    static const char *const loaded[] = {
        "a: &x [1, 2]\nb: *x\nc: [*x, *x]\n",
        "a: &x [1]\nb: &y [*x, {c: *x}]\nd: *y\n",
    };
    yaml_document_t doc;
    struct md_err err;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(refused); i++) {
        assert_int_equal(load(refused[i], 0, &doc, &err), MD_EINVAL);
        assert_non_null(strstr(err.msg, "refers to a node that contains it"));
        yaml_document_delete(&doc);
    }
    for (i = 0; i < MD_ARRAY_LEN(loaded); i++) {
        if (load(loaded[i], 0, &doc, &err) != MD_OK)
            fail_msg("'%s': %s", loaded[i], err.msg);
        yaml_document_delete(&doc);
    }
}

/* The kind of the root scalar of "v: <text>". */
static enum md_yaml_kind kind(const char *value)
{
    char text[128];
    yaml_document_t doc;
    struct md_err err;
    yaml_node_t *root;
    enum md_yaml_kind k;

    (void)snprintf(text, sizeof(text), "v: %s\n", value);
    assert_int_equal(md_yaml_load(text, strlen(text), "k", 0, &doc, &err), MD_OK);
    root = yaml_document_get_root_node(&doc);
    k = md_yaml_kind_of(yaml_document_get_node(&doc, root->data.mapping.pairs.start->value));
    yaml_document_delete(&doc);
    return k;
}

static void test_kinds(void **state)
{
    static const struct {
        const char *text;
        enum md_yaml_kind kind;
    } cases[] = {
        {"", MD_YAML_NULL},      {"~", MD_YAML_NULL},       {"null", MD_YAML_NULL},
        {"NULL", MD_YAML_NULL},  {"true", MD_YAML_BOOL},    {"False", MD_YAML_BOOL},
        {"off", MD_YAML_STR},    {"yes", MD_YAML_STR},      {"12", MD_YAML_INT},
        {"-3", MD_YAML_INT},     {"+0", MD_YAML_INT},       {"1.5", MD_YAML_FLOAT},
        {"1e6", MD_YAML_FLOAT},  {".inf", MD_YAML_FLOAT},   {"-.Inf", MD_YAML_FLOAT},
        {".nan", MD_YAML_FLOAT}, {"1e", MD_YAML_STR},       {"0x10", MD_YAML_STR},
        {"'12'", MD_YAML_STR},   {"\"true\"", MD_YAML_STR}, {"'~'", MD_YAML_STR},
        {"[1]", MD_YAML_SEQ},    {"{a: 1}", MD_YAML_MAP},   {"127.0.0.1:80", MD_YAML_STR},
    };
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        if (kind(cases[i].text) != cases[i].kind)
            fail_msg("'%s': kind %d, want %d", cases[i].text, kind(cases[i].text), cases[i].kind);
    }
}

static void test_describe_and_text(void **state)
{
    static const char text[] =
        "a: {x: 1}\nb: [1]\nc: ~\nd: true\ne: 1.5\nf: \"it's\"\ng: \"\\x01\\u00e9\"\n";
    static const char *const want[] = {"a mapping",         "a sequence", "null",
                                       "a boolean",         "a number",   "string 'it's'",
                                       "string '?\xc3\xa9'"};
    yaml_document_t doc;
    struct md_err err;
    yaml_node_t *root;
    yaml_node_pair_t *pair;
    char buf[80];
    size_t i = 0;

    (void)state;
    assert_int_equal(md_yaml_load(text, strlen(text), "d", 0, &doc, &err), MD_OK);
    root = yaml_document_get_root_node(&doc);
    for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++, i++) {
        const yaml_node_t *v = yaml_document_get_node(&doc, pair->value);

        assert_string_equal(md_yaml_describe(v, buf, sizeof(buf)), want[i]);
        assert_int_equal(md_yaml_line(v), i + 1);
    }
    assert_int_equal(i, MD_ARRAY_LEN(want));
    yaml_document_delete(&doc);

    md_yaml_fmt_text("abc", 3, 64, buf, sizeof(buf));
    assert_string_equal(buf, "abc");
    md_yaml_fmt_text("a\nb\x80", 4, 64, buf, sizeof(buf));
    assert_string_equal(buf, "a?b?");
    md_yaml_fmt_text("abcdef", 6, 3, buf, sizeof(buf));
    assert_string_equal(buf, "abc...");
    md_yaml_fmt_text("ab\xc3\xa9", 4, 3, buf, sizeof(buf));
    assert_string_equal(buf, "ab...");
    md_yaml_fmt_text("abcdef", 6, 64, buf, 4);
    assert_true(strlen(buf) < 4);
    /* Well-formed UTF-8 kept, a control byte and a surrogate's bytes not, no sequence cut. */
    md_yaml_fmt_text("ab\x01\xc3\xa9z", 6, 64, buf, sizeof(buf));
    assert_string_equal(buf, "ab?\xc3\xa9z");
    md_yaml_fmt_text("a\xc3\xa9", 3, 2, buf, sizeof(buf));
    assert_string_equal(buf, "a...");
    md_yaml_fmt_text("\xed\xa0\x80", 3, 10, buf, sizeof(buf));
    assert_string_equal(buf, "???");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_limits),
        cmocka_unit_test(test_load_cycles),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_describe_and_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
