/* SPDX-License-Identifier: MIT */
/*
 * cmd_strategy.c: "modelctl strategy put|get|delete", the rollout
 * strategies the server stores by name (/api/v1/strategies), for
 * 'modelctl rollout start --strategy NAME'. The server checks a strategy;
 * this file reads it from a file or the command line and shows the
 * answers.
 */
#include "ctl.h"

static const char strategy_help[] =
    "NAME\n"
    "       modelctl strategy - store, show and remove named rollout strategies\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] strategy put NAME FILE|JSON\n"
    "       modelctl [GLOBAL OPTIONS] strategy get [NAME]\n"
    "       modelctl [GLOBAL OPTIONS] strategy delete NAME\n"
    "\n"
    "DESCRIPTION\n"
    "       A strategy says how a rollout moves traffic and which gates must hold\n"
    "       (docs/rollouts.md). Stored under a NAME ([A-Za-z][A-Za-z0-9_.-]*, at\n"
    "       most 63 characters), it is used by 'modelctl rollout start --strategy\n"
    "       NAME'; a rollout keeps a copy of the strategy it started with.\n"
    "\n"
    "       put       stores the strategy (PUT /api/v1/strategies/NAME), replacing\n"
    "                 one of that name; the server fills in every default and shows\n"
    "                 what it stored. The strategy is JSON text starting with '{',\n"
    "                 or a file holding it ('-' for standard input).\n"
    "       get       without NAME, lists the stored strategies; with NAME, prints\n"
    "                 that one as JSON.\n"
    "       delete    removes it; rollouts that used it keep their copy.\n"
    "\n"
    "OPTIONS\n"
    "       --json print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl strategy put careful '{\"kind\": \"canary\", \"steps\": [5, 25, 100],\n"
    "             \"interval_s\": 600, \"gates\": [{\"metric\": \"error_rate\", \"max_delta\":\n"
    "             0.005}]}'\n"
    "       stored strategy careful\n"
    "\n"
    "       $ modelctl strategy get\n"
    "       NAME     KIND    STEPS       INTERVAL  MIN REQUESTS  GATES\n"
    "       careful  canary  5, 25, 100  600 s     100           error_rate\n"
    "\n"
    "       $ modelctl strategy delete careful\n"
    "       removed strategy careful\n"
    "\n"
    "EXIT STATUS\n"
    "       0      done\n"
    "       1      the server refused (a bad strategy or an unknown name: its message\n"
    "              is shown), could not be reached or answered badly\n"
    "       2      usage error\n";

/* The path /api/v1/strategies[/NAME] into b. */
static int strategy_path(struct md_buf *b, const char *name)
{
    if (md_buf_puts(b, "/api/v1/strategies") != MD_OK)
        return md_buf_error(b);
    if (name == NULL)
        return MD_OK;
    if (md_buf_putc(b, '/') != MD_OK)
        return md_buf_error(b);
    return ctl_path_segment(b, name);
}

/* Sends method to the strategies' path; prints the answer's JSON with --json. */
static int exchange(struct ctl *ctl, const char *what, const char *method, const char *name,
                    const char *body, size_t len, struct ctl_resp *resp, json_t **out)
{
    struct md_buf path;
    int rc;

    md_buf_init(&path, 4096);
    if (strategy_path(&path, name) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: name too long", what);
    }
    rc = ctl_call_json(ctl, what, method, path.data, NULL, body, len, resp, out);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(resp);
    return rc;
}

static const char *str_of(const json_t *o, const char *key, const char *none)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : none;
}

/* The list of stored strategies as a table, one line each. */
static void print_list(const json_t *list)
{
    struct ctl_table t;
    struct md_buf b;
    size_t i;
    size_t j;

    ctl_table_init(
        &t, (const char *const[]){"NAME", "KIND", "STEPS", "INTERVAL", "MIN REQUESTS", "GATES"}, 6);
    md_buf_init(&b, 4096);
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        const json_t *s = json_object_get(e, "strategy");
        const json_t *steps = json_object_get(s, "steps");
        const json_t *gates = json_object_get(s, "gates");
        const json_t *interval = json_object_get(s, "interval_s");

        if (interval == NULL)
            interval = json_object_get(s, "shadow_s");
        ctl_table_cell(&t, str_of(e, "name", "?"));
        ctl_table_cell(&t, str_of(s, "kind", "?"));
        md_buf_reset(&b);
        for (j = 0; j < json_array_size(steps); j++)
            (void)md_buf_printf(&b, "%s%lld", j > 0 ? ", " : "",
                                (long long)json_integer_value(json_array_get(steps, j)));
        if (b.len > 0)
            ctl_table_cellf(&t, "%.*s", (int)b.len, b.data);
        else
            ctl_table_cell(&t, "-"); /* a blue/green has no steps */
        ctl_table_cellf(&t, "%lld s", (long long)json_integer_value(interval));
        ctl_table_cellf(&t, "%lld",
                        (long long)json_integer_value(json_object_get(s, "min_requests")));
        md_buf_reset(&b);
        for (j = 0; j < json_array_size(gates); j++)
            (void)md_buf_printf(&b, "%s%s", j > 0 ? ", " : "",
                                str_of(json_array_get(gates, j), "metric", "?"));
        ctl_table_cellf(&t, "%.*s", (int)b.len, b.len > 0 ? b.data : "");
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
    md_buf_release(&b);
}

/* The strategy operand: JSON text starting with '{', else a file ('-': stdin). */
static int read_strategy(const char *arg, struct md_buf *b)
{
    const char *t = arg;

    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
        t++;
    if (*t == '{')
        return md_buf_puts(b, arg) == MD_OK
                   ? CTL_EXIT_OK
                   : ctl_errorf(CTL_EXIT_USAGE, "strategy put: the strategy is too long");
    return ctl_read_file("strategy put", arg, b);
}

static int strategy_put(struct ctl *ctl, const char *name, const char *arg)
{
    struct ctl_resp resp;
    struct md_buf body;
    json_t *doc = NULL;
    char what[300];
    int rc;

    md_buf_init(&body, CTL_MAX_BODY);
    rc = read_strategy(arg, &body);
    if (rc != CTL_EXIT_OK) {
        md_buf_release(&body);
        return rc;
    }
    (void)snprintf(what, sizeof(what), "strategy put '%.200s'", name); /* fits */
    ctl_resp_init(&resp);
    rc =
        exchange(ctl, what, "PUT", name, body.data != NULL ? body.data : "", body.len, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON)
        printf("stored strategy %s\n", name);
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&body);
    return rc;
}

static int strategy_get(struct ctl *ctl, const char *name)
{
    struct ctl_resp resp;
    json_t *doc = NULL;
    char what[300];
    char *s;
    int rc;

    if (name != NULL)
        (void)snprintf(what, sizeof(what), "strategy get '%.200s'", name); /* fits */
    else
        (void)snprintf(what, sizeof(what), "strategy get");
    ctl_resp_init(&resp);
    rc = exchange(ctl, what, "GET", name, "", 0, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON) {
        if (name == NULL) {
            print_list(json_object_get(doc, "strategies"));
        } else {
            /* 15 digits: 0.1 reads 0.1, not 0.10000000000000001 */
            s = json_dumps(json_object_get(doc, "strategy"),
                           JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
            if (s != NULL)
                puts(s);
            free(s);
        }
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

static int strategy_delete(struct ctl *ctl, const char *name)
{
    struct ctl_resp resp;
    json_t *doc = NULL;
    char what[300];
    int rc;

    (void)snprintf(what, sizeof(what), "strategy delete '%.200s'", name); /* fits */
    ctl_resp_init(&resp);
    rc = exchange(ctl, what, "DELETE", name, "", 0, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON)
        printf("removed strategy %s\n", name);
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

int cmd_strategy(int argc, char **argv, struct ctl *ctl)
{
    const char *words[3] = {NULL, NULL, NULL};
    struct ctl_args args;
    size_t n = 0;
    enum ctl_arg k;
    int max;

    ctl_args_init(&args, "strategy", strategy_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (n == MD_ARRAY_LEN(words))
            return ctl_usagef("strategy", "unexpected argument '%s'", argv[args.i]);
        words[n++] = argv[args.i];
    }
    if (n == 0)
        return ctl_usagef("strategy", "missing SUBCOMMAND (put, get or delete)");
    max = strcmp(words[0], "put") == 0 ? 3 : 2;
    if (strcmp(words[0], "put") != 0 && strcmp(words[0], "get") != 0 &&
        strcmp(words[0], "delete") != 0)
        return ctl_usagef("strategy", "unknown subcommand '%s'", words[0]);
    if (n > (size_t)max)
        return ctl_usagef("strategy", "unexpected argument '%s'", words[max]);
    if (strcmp(words[0], "get") == 0)
        return strategy_get(ctl, words[1]);
    if (words[1] == NULL)
        return ctl_usagef("strategy", "%s: missing NAME", words[0]);
    if (strcmp(words[0], "delete") == 0)
        return strategy_delete(ctl, words[1]);
    if (words[2] == NULL)
        return ctl_usagef("strategy", "put: missing the strategy (FILE or JSON)");
    return strategy_put(ctl, words[1], words[2]);
}
