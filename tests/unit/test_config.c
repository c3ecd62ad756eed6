/* SPDX-License-Identifier: MIT */
/*
 * test_config.c: util/config on a table of every kind: the table's rules,
 * defaults, flags (getopt's forms and complaints), the configuration file
 * (values, sources, lines, every error naming file, line and key, nothing
 * changed by a file with an error, flags overriding the file), registered
 * sections, reading the file from disk, the JSON the API shows and --help.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/config.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

struct t_settings {
    const char *name;
    const char *path;
    uint64_t count;
    uint64_t max_count;
    int color;
    bool fast;
    bool slow;
};

static const char *const colors[] = {"red", "green", "blue", NULL};

/* Reads "grey" as green too. */
static int parse_color(const char *s)
{
    if (strcmp(s, "grey") == 0)
        return 1;
    if (strcmp(s, "red") == 0)
        return 0;
    if (strcmp(s, "green") == 0)
        return 1;
    if (strcmp(s, "blue") == 0)
        return 2;
    return -1;
}

/* Reads every word as red: a table bug. */
static int parse_nothing_but_red(const char *s)
{
    (void)s;
    return 0;
}

static const struct md_config_setting table[] = {
    {.flag = "name",
     .key = "name",
     .kind = MD_CONFIG_STRING,
     .metavar = "TEXT",
     .help = "a name",
     .offset = MD_CONFIG_STRING_AT(struct t_settings, name),
     .def_text = "anon"},
    {.flag = "path",
     .key = "path",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "a path with no default",
     .offset = MD_CONFIG_STRING_AT(struct t_settings, path)},
    {.flag = "count",
     .key = "count",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "how many",
     .offset = MD_CONFIG_UINT_AT(struct t_settings, count),
     .def_num = 10,
     .min = 1,
     .max = 100},
    {.flag = "max-count",
     .key = "max_count",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "a long help text that has to be wrapped over more than one line of the help "
             "because it goes on and on and on",
     .offset = MD_CONFIG_UINT_AT(struct t_settings, max_count),
     .def_num = 0,
     .min = 0,
     .max = UINT64_MAX},
    {.flag = "color",
     .key = "color",
     .kind = MD_CONFIG_ENUM,
     .metavar = "COLOR",
     .help = "red, green or blue",
     .offset = MD_CONFIG_ENUM_AT(struct t_settings, color),
     .def_num = 1,
     .words = colors,
     .parse_word = parse_color},
    {.flag = "fast",
     .key = "fast",
     .kind = MD_CONFIG_BOOL,
     .help = "go fast",
     .offset = MD_CONFIG_BOOL_AT(struct t_settings, fast)},
    {.flag = "slow",
     .key = "slow",
     .kind = MD_CONFIG_BOOL,
     .help = "go slow",
     .offset = MD_CONFIG_BOOL_AT(struct t_settings, slow),
     .def_num = 1},
};

enum { ACT_CONFIG = 7, ACT_HELP, ACT_CHECK };

static const struct md_config_action actions[] = {
    {"config", "FILE", "read a file", ACT_CONFIG},
    {"check", NULL, "check", ACT_CHECK},
    {"help", NULL, "print this help and exit", ACT_HELP},
};

struct seen {
    const char *config;
    int checks;
    int helps;
};

static int on_action(void *vctx, int id, const char *value, struct md_err *err)
{
    struct seen *s = vctx;

    switch (id) {
    case ACT_CONFIG:
        if (s->config != NULL)
            return md_err_set(err, MD_EINVAL, "--config: given more than once");
        s->config = value;
        return MD_OK;
    case ACT_CHECK:
        s->checks++;
        return MD_OK;
    case ACT_HELP:
        s->helps++;
        return 1;
    default:
        return md_err_set(err, MD_EINVAL, "unknown action");
    }
}

static void setup(struct md_config *c, struct t_settings *t)
{
    memset(t, 0xa5, sizeof(*t)); /* init must write every field */
    md_config_init(c, table, MD_ARRAY_LEN(table), t);
}

static size_t idx(const struct md_config *c, const char *key)
{
    int i = md_config_find(c, key);

    assert_true(i >= 0);
    return (size_t)i;
}

static void test_table_rules(void **state)
{
    struct md_config_setting bad[2];
    struct md_err err;

    (void)state;
    assert_int_equal(md_config_check_table(table, MD_ARRAY_LEN(table), &err), MD_OK);

    memcpy(bad, &table[2], sizeof(bad)); /* count, max-count */
    bad[1].key = "max-count";
    assert_int_equal(md_config_check_table(bad, 2, &err), MD_EINVAL);
    assert_string_equal(err.msg,
                        "'max-count': the key is not the flag 'max-count' with '_' for '-'");
    bad[1].key = "max_coun";
    assert_int_equal(md_config_check_table(bad, 2, &err), MD_EINVAL);
    bad[1] = bad[0];
    assert_int_equal(md_config_check_table(bad, 2, &err), MD_EINVAL);
    assert_string_equal(err.msg, "'count': listed twice");

    memcpy(bad, &table[2], sizeof(bad));
    bad[0].def_num = 101;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);
    assert_string_equal(err.msg, "'count': default or range out of order");
    bad[0].def_num = 5;
    bad[0].min = 6;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);
    bad[0].help = NULL;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);

    bad[0] = table[4]; /* color */
    bad[0].def_num = 3;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);
    bad[0].def_num = 0;
    bad[0].parse_word = NULL;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_OK);
    bad[0].words = NULL;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);
    bad[0] = table[4];
    bad[0].parse_word = parse_nothing_but_red; /* "green" would read as red */
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);

    bad[0] = table[5]; /* fast */
    bad[0].def_num = 2;
    assert_int_equal(md_config_check_table(bad, 1, &err), MD_EINVAL);
}

static void test_defaults_and_flags(void **state)
{
    struct md_config c;
    struct t_settings t;
    struct md_err err;
    size_t i;

    (void)state;
    setup(&c, &t);
    assert_string_equal(t.name, "anon");
    assert_null(t.path);
    assert_int_equal(t.count, 10);
    assert_int_equal(t.max_count, 0);
    assert_int_equal(t.color, 1);
    assert_false(t.fast);
    assert_true(t.slow);
    for (i = 0; i < c.n; i++) {
        assert_int_equal(md_config_source_of(&c, i), MD_CONFIG_DEFAULT);
        assert_int_equal(md_config_line(&c, i), 0);
    }
    assert_null(md_config_file(&c));
    assert_int_equal(md_config_find(&c, "max-count"), -1);
    assert_int_equal(md_config_find(&c, "nope"), -1);
    /* Values by key, of each kind; no such key, or a string asked as a number, is 0 or NULL. */
    assert_string_equal(md_config_text(&c, "name"), "anon");
    assert_null(md_config_text(&c, "path"));
    assert_null(md_config_text(&c, "count"));
    assert_null(md_config_text(&c, "nope"));
    assert_int_equal(md_config_number(&c, "count"), 10);
    assert_int_equal(md_config_number(&c, "color"), 1);
    assert_int_equal(md_config_number(&c, "fast"), 0);
    assert_int_equal(md_config_number(&c, "slow"), 1);
    assert_int_equal(md_config_number(&c, "name"), 0);
    assert_int_equal(md_config_number(&c, "nope"), 0);

    assert_int_equal(md_config_set_flag(&c, idx(&c, "count"), "100", &err), MD_OK);
    assert_int_equal(t.count, 100);
    assert_int_equal(md_config_source_of(&c, idx(&c, "count")), MD_CONFIG_FLAG);
    assert_int_equal(md_config_set_flag(&c, idx(&c, "max_count"), "18446744073709551615", &err),
                     MD_OK);
    assert_true(t.max_count == UINT64_MAX);
    assert_int_equal(md_config_set_flag(&c, idx(&c, "color"), "grey", &err), MD_OK);
    assert_int_equal(t.color, 1);
    assert_int_equal(md_config_set_flag(&c, idx(&c, "color"), "blue", &err), MD_OK);
    assert_int_equal(t.color, 2);
    assert_int_equal(md_config_set_flag(&c, idx(&c, "fast"), "TRUE", &err), MD_OK);
    assert_true(t.fast);
    assert_int_equal(md_config_set_flag(&c, idx(&c, "slow"), "false", &err), MD_OK);
    assert_false(t.slow);

    {
        static const struct {
            const char *key;
            const char *text;
            const char *msg;
        } bad[] = {
            {"count", "0", "--count: '0' is not a whole number from 1 to 100"},
            {"count", "101", "--count: '101' is not a whole number from 1 to 100"},
            {"count", "-5", "--count: '-5' is not a whole number from 1 to 100"},
            {"count", "5x", "--count: '5x' is not a whole number from 1 to 100"},
            {"count", "", "--count: '' is not a whole number from 1 to 100"},
            {"count", "1e1", "--count: '1e1' is not a whole number from 1 to 100"},
            {"max_count", "18446744073709551616",
             "--max-count: '18446744073709551616' is not a whole number from 0 to "
             "18446744073709551615"},
            {"color", "pink", "--color: 'pink' is not one of red, green, blue"},
            {"fast", "yes", "--fast: 'yes' is not true or false"},
            {"fast", "1", "--fast: '1' is not true or false"},
        };

        for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
            md_err_clear(&err);
            assert_int_equal(md_config_set_flag(&c, idx(&c, bad[i].key), bad[i].text, &err),
                             MD_EINVAL);
            assert_string_equal(err.msg, bad[i].msg);
        }
    }
    /* A refused value changes nothing. */
    assert_int_equal(t.count, 100);
    assert_int_equal(t.color, 2);
    md_config_release(&c);
}

/* Runs md_config_args on a NULL-terminated list of arguments after "prog". */
static int args(struct md_config *c, struct seen *s, struct md_err *err, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;

    memset(s, 0, sizeof(*s));
    md_err_clear(err);
    argv[argc++] = (char *)"prog";
    va_start(ap, err);
    for (;;) {
        char *a = va_arg(ap, char *);

        if (a == NULL)
            break;
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    return md_config_args(c, actions, MD_ARRAY_LEN(actions), argc, argv, on_action, s, err);
}

static void test_args(void **state)
{
    char a_name[] = "--name", v_name[] = "bob", a_count[] = "--count=7", a_fast[] = "--fast",
         a_slow[] = "--slow=false", a_conf[] = "--config", v_conf[] = "x.yaml",
         a_check[] = "--check", a_help[] = "--help", a_bad[] = "--count", v_bad[] = "x",
         a_nope[] = "--nope", a_amb[] = "--co", a_pre[] = "--col=blue", a_chk1[] = "--check=1",
         a_short[] = "-q", extra[] = "extra", a_path[] = "--path";
    struct md_config c;
    struct t_settings t;
    struct seen s;
    struct md_err err;

    (void)state;
    setup(&c, &t);
    assert_int_equal(args(&c, &s, &err, a_name, v_name, a_count, a_fast, a_slow, a_conf, v_conf,
                          a_check, a_pre, (char *)NULL),
                     MD_OK);
    assert_string_equal(t.name, "bob");
    assert_int_equal(t.count, 7);
    assert_true(t.fast);
    assert_false(t.slow);
    assert_int_equal(t.color, 2); /* --col: getopt takes an unambiguous prefix */
    assert_string_equal(s.config, "x.yaml");
    assert_int_equal(s.checks, 1);
    assert_int_equal(md_config_source_of(&c, idx(&c, "fast")), MD_CONFIG_FLAG);
    assert_int_equal(md_config_source_of(&c, idx(&c, "path")), MD_CONFIG_DEFAULT);

    /* An action may stop the reading: what follows is not looked at. */
    assert_int_equal(args(&c, &s, &err, a_help, a_nope, (char *)NULL), MD_OK);
    assert_int_equal(s.helps, 1);
    /* Nor may the same line be read twice by mistake: a second call starts over. */
    assert_int_equal(args(&c, &s, &err, a_check, (char *)NULL), MD_OK);
    assert_int_equal(s.checks, 1);

    assert_int_equal(args(&c, &s, &err, a_bad, v_bad, (char *)NULL), MD_EINVAL);
    assert_string_equal(err.msg, "--count: 'x' is not a whole number from 1 to 100");
    assert_int_equal(args(&c, &s, &err, a_conf, v_conf, a_conf, v_conf, (char *)NULL), MD_EINVAL);
    assert_string_equal(err.msg, "--config: given more than once");
    assert_int_equal(args(&c, &s, &err, a_nope, (char *)NULL), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unrecognized option '--nope'");
    assert_int_equal(args(&c, &s, &err, a_amb, (char *)NULL), MD_ENOTFOUND);
    assert_string_equal(err.msg, "option '--co' is ambiguous");
    assert_int_equal(args(&c, &s, &err, a_path, (char *)NULL), MD_ENOTFOUND);
    assert_string_equal(err.msg, "option '--path' requires an argument");
    assert_int_equal(args(&c, &s, &err, a_chk1, (char *)NULL), MD_ENOTFOUND);
    assert_string_equal(err.msg, "option '--check' doesn't allow an argument");
    assert_int_equal(args(&c, &s, &err, a_short, (char *)NULL), MD_ENOTFOUND);
    assert_string_equal(err.msg, "invalid option -- 'q'");
    assert_int_equal(args(&c, &s, &err, a_check, extra, (char *)NULL), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unexpected argument 'extra'");
    md_config_release(&c);
}

static int parse(struct md_config *c, const char *text, struct md_err *err)
{
    md_err_clear(err);
    return md_config_parse(c, text, strlen(text), "/etc/t.yaml", NULL, 0, err);
}

static void test_file(void **state)
{
    static const char text[] = "# settings\n"
                               "name: alice\n"
                               "path: '/var/lib/x y'\n"
                               "\n"
                               "count: 42\n"
                               "color: \"blue\"\n"
                               "fast: True\n"
                               "slow: false\n";
    struct md_config c;
    struct t_settings t;
    struct md_err err;

    (void)state;
    setup(&c, &t);
    assert_int_equal(parse(&c, text, &err), MD_OK);
    assert_string_equal(t.name, "alice");
    assert_string_equal(t.path, "/var/lib/x y");
    assert_int_equal(t.count, 42);
    assert_int_equal(t.max_count, 0);
    assert_int_equal(t.color, 2);
    assert_true(t.fast);
    assert_false(t.slow);
    assert_string_equal(md_config_file(&c), "/etc/t.yaml");
    assert_int_equal(md_config_source_of(&c, idx(&c, "name")), MD_CONFIG_FILE);
    assert_int_equal(md_config_line(&c, idx(&c, "name")), 2);
    assert_int_equal(md_config_line(&c, idx(&c, "count")), 5);
    assert_int_equal(md_config_source_of(&c, idx(&c, "max_count")), MD_CONFIG_DEFAULT);
    assert_int_equal(md_config_line(&c, idx(&c, "max_count")), 0);

    /* One file per config. */
    assert_int_equal(parse(&c, "count: 1\n", &err), MD_EINVAL);
    assert_string_equal(err.msg, "/etc/t.yaml: a configuration file was read already: /etc/t.yaml");
    assert_int_equal(t.count, 42);
    md_config_release(&c);
}

static void test_flag_overrides_file(void **state)
{
    char a_count[] = "--count=3", a_name[] = "--name=flag";
    char *argv[] = {(char *)"prog", a_count, NULL};
    char *argv2[] = {(char *)"prog", a_name, NULL};
    struct md_config c;
    struct t_settings t;
    struct seen s = {0};
    struct md_err err;

    (void)state;
    setup(&c, &t);
    assert_int_equal(
        md_config_args(&c, actions, MD_ARRAY_LEN(actions), 2, argv, on_action, &s, &err), MD_OK);
    assert_int_equal(parse(&c, "count: 50\nname: file\n", &err), MD_OK);
    assert_int_equal(t.count, 3);
    assert_int_equal(md_config_source_of(&c, idx(&c, "count")), MD_CONFIG_FLAG);
    assert_int_equal(md_config_line(&c, idx(&c, "count")), 0);
    assert_string_equal(t.name, "file");
    assert_int_equal(md_config_source_of(&c, idx(&c, "name")), MD_CONFIG_FILE);
    /* A flag read after the file still wins. */
    assert_int_equal(
        md_config_args(&c, actions, MD_ARRAY_LEN(actions), 2, argv2, on_action, &s, &err), MD_OK);
    assert_string_equal(t.name, "flag");
    assert_int_equal(md_config_source_of(&c, idx(&c, "name")), MD_CONFIG_FLAG);
    /* The file's value for an overridden setting is still checked. */
    md_config_release(&c);
    setup(&c, &t);
    assert_int_equal(
        md_config_args(&c, actions, MD_ARRAY_LEN(actions), 2, argv, on_action, &s, &err), MD_OK);
    assert_int_equal(parse(&c, "count: 500\n", &err), MD_EINVAL);
    assert_string_equal(err.msg, "/etc/t.yaml:1: count: '500' is not a whole number from 1 to 100");
    md_config_release(&c);
}

static void test_file_errors(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"count: 5\ncont: 6\n", "/etc/t.yaml:2: cont: unknown key"},
        {"max-count: 6\n", "/etc/t.yaml:1: max-count: unknown key (the key is max_count)"},
        {"count: 5\n\ncount: 6\n", "/etc/t.yaml:3: count: duplicate key (first at line 1)"},
        {"count: abc\n", "/etc/t.yaml:1: count: 'abc' is not a whole number from 1 to 100"},
        {"count: 0\n", "/etc/t.yaml:1: count: '0' is not a whole number from 1 to 100"},
        {"count: -1\n", "/etc/t.yaml:1: count: '-1' is not a whole number from 1 to 100"},
        {"count: 1.5\n", "/etc/t.yaml:1: count: '1.5' is not a whole number from 1 to 100"},
        {"count: true\n", "/etc/t.yaml:1: count: 'true' is not a whole number from 1 to 100"},
        {"count: '5'\n",
         "/etc/t.yaml:1: count: expected a whole number from 1 to 100, got string '5'"},
        {"count:\n", "/etc/t.yaml:1: count: expected a whole number from 1 to 100, got null"},
        {"count: [1]\n",
         "/etc/t.yaml:1: count: expected a whole number from 1 to 100, got a sequence"},
        {"count:\n  a: 1\n",
         "/etc/t.yaml:2: count: expected a whole number from 1 to 100, got a mapping"},
        {"color: pink\n", "/etc/t.yaml:1: color: 'pink' is not one of red, green, blue"},
        {"color: 5\n", "/etc/t.yaml:1: color: '5' is not one of red, green, blue"},
        {"color: ~\n", "/etc/t.yaml:1: color: expected one of red, green, blue, got null"},
        {"fast: yes\n", "/etc/t.yaml:1: fast: 'yes' is not true or false"},
        {"fast: 'true'\n", "/etc/t.yaml:1: fast: expected true or false, got string 'true'"},
        {"name:\n", "/etc/t.yaml:1: name: expected a string, got null"},
        {"name: [a]\n", "/etc/t.yaml:1: name: expected a string, got a sequence"},
        {"name: \"a\\0b\"\n", "/etc/t.yaml:1: name: contains a NUL character"},
        {"- count\n", "/etc/t.yaml:1: expected a mapping of settings, got a sequence"},
        {"just text\n", "/etc/t.yaml:1: expected a mapping of settings, got string 'just text'"},
        {"[a]: 1\n", "/etc/t.yaml:1: a key is a sequence, not a name"},
        {"\"co\\0unt\": 1\n", "/etc/t.yaml:1: co?unt: unknown key"},
        {"count: 5\n  x: 1\n", "/etc/t.yaml: syntax error at line 2, column 4: "},
        {"count: [\n", "/etc/t.yaml: syntax error at line 2, column 1: "},
        {"a: 1\n---\nb: 2\n", "/etc/t.yaml: more than one YAML document"},
    };
    struct md_config c;
    struct t_settings t;
    struct md_err err;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        setup(&c, &t);
        assert_int_equal(parse(&c, cases[i].text, &err), MD_EINVAL);
        if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("%s: got '%s', want '%s'", cases[i].text, err.msg, cases[i].msg);
        /* Nothing of a refused file is kept, not even what came before the error. */
        assert_int_equal(t.count, 10);
        assert_string_equal(t.name, "anon");
        assert_null(md_config_file(&c));
        md_config_release(&c);
    }

    /* A string longer than MD_CONFIG_MAX_TEXT. */
    {
        char text[MD_CONFIG_MAX_TEXT + 32];

        memcpy(text, "name: ", 6);
        memset(text + 6, 'a', MD_CONFIG_MAX_TEXT + 1);
        text[6 + MD_CONFIG_MAX_TEXT + 1] = '\0';
        setup(&c, &t);
        assert_int_equal(parse(&c, text, &err), MD_EINVAL);
        assert_string_equal(err.msg, "/etc/t.yaml:1: name: longer than 4096 bytes");
        text[6 + MD_CONFIG_MAX_TEXT] = '\0';
        assert_int_equal(parse(&c, text, &err), MD_OK);
        assert_int_equal(strlen(t.name), MD_CONFIG_MAX_TEXT);
        md_config_release(&c);
    }
}

static void test_file_empty(void **state)
{
    static const char *const empty[] = {"", "\n", "# nothing yet\n", "---\n", "~\n", "--- ~\n"};
    struct md_config c;
    struct t_settings t;
    struct md_err err;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(empty); i++) {
        setup(&c, &t);
        assert_int_equal(parse(&c, empty[i], &err), MD_OK);
        assert_int_equal(t.count, 10);
        assert_string_equal(md_config_file(&c), "/etc/t.yaml");
        md_config_release(&c);
    }
}

/* A section: "limits: {a: N}" read into an int, refusing anything else. */
struct limits {
    int calls;
    long a;
};

static int parse_limits(void *vctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                        struct md_err *err)
{
    struct limits *l = vctx;
    yaml_node_pair_t *pair;

    l->calls++;
    if (value->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: limits: expected a mapping", file,
                          md_yaml_line(value));
    for (pair = value->data.mapping.pairs.start; pair < value->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(doc, pair->value);

        if (k->type != YAML_SCALAR_NODE || strcmp(md_yaml_text(k), "a") != 0 ||
            md_yaml_kind_of(v) != MD_YAML_INT)
            return md_err_set(err, MD_EINVAL, "%s:%zu: limits.%s: unknown key", file,
                              md_yaml_line(k), md_yaml_text(k));
        l->a = strtol(md_yaml_text(v), NULL, 10);
    }
    return MD_OK;
}

static void test_sections(void **state)
{
    struct limits l = {0};
    const struct md_config_section sections[] = {{"limits", parse_limits, &l}};
    struct md_config c;
    struct t_settings t;
    struct md_err err;
    const char *text;

    (void)state;
    setup(&c, &t);
    text = "count: 4\nlimits:\n  a: 12\n";
    assert_int_equal(md_config_parse(&c, text, strlen(text), "s.yaml", sections, 1, &err), MD_OK);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.a, 12);
    assert_int_equal(t.count, 4);
    md_config_release(&c);

    setup(&c, &t);
    text = "limits:\n  b: 1\ncount: 4\n";
    assert_int_equal(md_config_parse(&c, text, strlen(text), "s.yaml", sections, 1, &err),
                     MD_EINVAL);
    assert_string_equal(err.msg, "s.yaml:2: limits.b: unknown key");
    assert_int_equal(t.count, 10);
    md_config_release(&c);

    setup(&c, &t);
    text = "limits: {a: 1}\nlimits: {a: 2}\n";
    assert_int_equal(md_config_parse(&c, text, strlen(text), "s.yaml", sections, 1, &err),
                     MD_EINVAL);
    assert_string_equal(err.msg, "s.yaml:2: limits: duplicate key (first at line 1)");
    md_config_release(&c);

    /* Without the section registered, its key is unknown. */
    setup(&c, &t);
    text = "limits: {a: 1}\n";
    assert_int_equal(md_config_parse(&c, text, strlen(text), "s.yaml", NULL, 0, &err), MD_EINVAL);
    assert_string_equal(err.msg, "s.yaml:1: limits: unknown key");
    md_config_release(&c);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
    char dir[] = "/tmp/md-test-config-XXXXXX";
    char path[128];
    char real[PATH_MAX];
    char want[PATH_MAX + 64];
    struct md_config c;
    struct t_settings t;
    struct md_err err;
    char *big;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_non_null(realpath(dir, real));

    setup(&c, &t);
    (void)snprintf(path, sizeof(path), "%s/none.yaml", dir);
    assert_int_equal(md_config_load(&c, path, NULL, 0, &err), MD_EIO);
    (void)snprintf(want, sizeof(want), "'%s': cannot open: No such file or directory", path);
    assert_string_equal(err.msg, want);

    assert_int_equal(md_config_load(&c, dir, NULL, 0, &err), MD_EIO);
    (void)snprintf(want, sizeof(want), "'%s': is a directory, not a file", dir);
    assert_string_equal(err.msg, want);

    (void)snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(md_config_load(&c, path, NULL, 0, &err), MD_EIO);
    (void)snprintf(want, sizeof(want), "'%s': not a regular file", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(unlink(path), 0);

    (void)snprintf(path, sizeof(path), "%s/big.yaml", dir);
    big = calloc(1, MD_CONFIG_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, '#', MD_CONFIG_MAX_BYTES + 1);
    write_file(path, big, MD_CONFIG_MAX_BYTES + 1);
    assert_int_equal(md_config_load(&c, path, NULL, 0, &err), MD_ETOOBIG);
    (void)snprintf(want, sizeof(want), "'%s': larger than 1048576 bytes", path);
    assert_string_equal(err.msg, want);
    /* At the limit: read (a comment, so no setting). */
    write_file(path, big, MD_CONFIG_MAX_BYTES);
    assert_int_equal(md_config_load(&c, path, NULL, 0, &err), MD_OK);
    assert_int_equal(unlink(path), 0);
    free(big);
    md_config_release(&c);

    /* The file is named by its absolute path, in messages and as the source. */
    setup(&c, &t);
    (void)snprintf(path, sizeof(path), "%s/c.yaml", dir);
    write_file(path, "count: 9\ncolor: red\n", 20);
    (void)snprintf(path, sizeof(path), "%s/./c.yaml", dir);
    assert_int_equal(md_config_load(&c, path, NULL, 0, &err), MD_OK);
    assert_int_equal(t.count, 9);
    (void)snprintf(want, sizeof(want), "%s/c.yaml", real);
    assert_string_equal(md_config_file(&c), want);
    md_config_release(&c);
    setup(&c, &t);
    write_file(want, "count: 900\n", 11);
    assert_int_equal(md_config_load(&c, path, NULL, 0, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "/c.yaml:1: count: '900' is not"));
    assert_true(strncmp(err.msg, real, strlen(real)) == 0);
    assert_int_equal(unlink(want), 0);
    md_config_release(&c);
    assert_int_equal(rmdir(dir), 0);
}

static void test_json(void **state)
{
    char a_fast[] = "--fast";
    char *argv[] = {(char *)"prog", a_fast, NULL};
    struct md_config c;
    struct t_settings t;
    struct seen s = {0};
    struct md_err err;
    struct md_buf b;
    size_t i;

    (void)state;
    setup(&c, &t);
    assert_int_equal(parse(&c, "\ncount: 7\nname: \"a\\\"b\"\n", &err), MD_OK);
    assert_int_equal(
        md_config_args(&c, actions, MD_ARRAY_LEN(actions), 2, argv, on_action, &s, &err), MD_OK);
    md_buf_init(&b, 1 << 16);
    for (i = 0; i < c.n; i++) {
        assert_int_equal(md_config_json(&c, i, &b), MD_OK);
        assert_int_equal(md_buf_putc(&b, '\n'), MD_OK);
    }
    assert_string_equal(
        b.data,
        "{\"name\":\"name\",\"value\":\"a\\\"b\",\"source\":\"file\",\"file\":\"/etc/t.yaml\","
        "\"line\":3}\n"
        "{\"name\":\"path\",\"value\":null,\"source\":\"default\"}\n"
        "{\"name\":\"count\",\"value\":7,\"source\":\"file\",\"file\":\"/etc/t.yaml\",\"line\":2}\n"
        "{\"name\":\"max_count\",\"value\":0,\"source\":\"default\"}\n"
        "{\"name\":\"color\",\"value\":\"green\",\"source\":\"default\"}\n"
        "{\"name\":\"fast\",\"value\":true,\"source\":\"flag\"}\n"
        "{\"name\":\"slow\",\"value\":true,\"source\":\"default\"}\n");
    md_buf_release(&b);
    /* A full buffer is reported, not overrun. */
    md_buf_init(&b, 20);
    assert_int_equal(md_config_json(&c, 0, &b), MD_ETOOBIG);
    md_buf_release(&b);
    assert_string_equal(md_config_source_name(MD_CONFIG_DEFAULT), "default");
    assert_string_equal(md_config_source_name(MD_CONFIG_FILE), "file");
    assert_string_equal(md_config_source_name(MD_CONFIG_FLAG), "flag");
    md_config_release(&c);
}

static void test_usage(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    assert_non_null(f);
    md_config_usage(table, MD_ARRAY_LEN(table), actions, MD_ARRAY_LEN(actions), f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(
        text, "  --name TEXT           a name (default: anon)\n"
              "  --path FILE           a path with no default\n"
              "  --count N             how many (default: 10)\n"
              "  --max-count N         a long help text that has to be wrapped over more than\n"
              "                        one line of the help because it goes on and on and on\n"
              "                        (default: 0)\n"
              "  --color COLOR         red, green or blue (default: green)\n"
              "  --fast                go fast (default: false)\n"
              "  --slow                go slow (default: true)\n"
              "  --config FILE         read a file\n"
              "  --check               check\n"
              "  --help                print this help and exit\n");
    free(text);

    /* A flag too long for its column puts its text on the next line. */
    {
        struct md_config_action long_one = {"a-very-long-flag-name", "VALUE", "text", 0};

        f = open_memstream(&text, &len);
        assert_non_null(f);
        md_config_usage(NULL, 0, &long_one, 1, f);
        assert_int_equal(fclose(f), 0);
        assert_string_equal(text, "  --a-very-long-flag-name VALUE\n"
                                  "                        text\n");
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rules),
        cmocka_unit_test(test_defaults_and_flags),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_flag_overrides_file),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_empty),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_usage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
