/* SPDX-License-Identifier: MIT */
/*
 * cmd_token.c: "modelctl token create|list|revoke": bearer tokens made,
 * listed and revoked through POST, GET /api/v1/tokens and DELETE
 * /api/v1/tokens/{name} (an admin's token in $MODELD_TOKEN). The secret of
 * a new token is printed once, alone on stdout, so that a script can take
 * it; the server keeps only its hash.
 */
#include "ctl.h"

#include <time.h>

static const char token_help[] =
    "NAME\n"
    "       modelctl token - create, list or revoke bearer tokens\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] token create --role ROLE [--name NAME]\n"
    "                [--models a,b] [--expires 30d] [--rate N [--burst N]]\n"
    "       modelctl [GLOBAL OPTIONS] token list\n"
    "       modelctl [GLOBAL OPTIONS] token revoke NAME\n"
    "\n"
    "DESCRIPTION\n"
    "       create makes a token (POST /api/v1/tokens) and prints its secret on\n"
    "       stdout, once: the server keeps only its SHA-256. ROLE is viewer,\n"
    "       predictor, reviewer, deployer or admin (docs/security.md); --models\n"
    "       limits it to those models; --expires a duration (30d, 12h, 90m, 3600s);\n"
    "       --rate requests per second, with --burst requests at once (429 with\n"
    "       Retry-After beyond). Without --name the server names it ROLE-<8 hex>.\n"
    "\n"
    "       list prints every token (GET /api/v1/tokens): NAME, ROLE, MODELS,\n"
    "       STATE (active, expired, revoked), EXPIRES and LAST USED (UTC; written\n"
    "       by the server every few seconds). revoke NAME revokes one (DELETE\n"
    "       /api/v1/tokens/NAME): its next request gets 401.\n"
    "\n"
    "       Every call needs an admin's token in $MODELD_TOKEN; the first is made\n"
    "       offline with 'modeld token create --role admin --data DIR'.\n"
    "\n"
    "OPTIONS\n"
    "       --role, --name, --models, --expires, --rate, --burst\n"
    "              of create, as above\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ export MODELD_TOKEN=$(modeld token create --role admin --data var)\n"
    "       $ modelctl token create --role predictor --name app --models fraud --rate 100\n"
    "       mdt_5f0c...\n"
    "       $ modelctl token revoke app\n"
    "       token app revoked\n"
    "\n"
    "EXIT STATUS\n"
    "       0      done\n"
    "       1      the server refused (its message is shown) or could not be reached\n"
    "       2      usage error\n";

/* Appends "name":value to a JSON object being written in b (first: no comma). */
static void put_field(struct md_buf *b, bool *first, const char *name, const char *value,
                      bool quoted)
{
    (void)md_buf_puts(b, *first ? "\"" : ",\"");
    *first = false;
    (void)md_buf_puts(b, name);
    (void)md_buf_puts(b, "\":");
    if (quoted)
        (void)md_buf_json_str(b, value, strlen(value));
    else
        (void)md_buf_puts(b, value);
}

/* The JSON array of a comma-separated list, into b. */
static void put_models(struct md_buf *b, const char *csv)
{
    const char *p = csv;

    (void)md_buf_putc(b, '[');
    while (*p != '\0') {
        const char *c = strchr(p, ',');
        size_t n = c != NULL ? (size_t)(c - p) : strlen(p);

        if (p != csv)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, p, n);
        p += n + (c != NULL ? 1 : 0);
    }
    (void)md_buf_putc(b, ']');
}

static int token_create(struct ctl *ctl, struct ctl_args *args)
{
    static const char *const names[] = {"role", "name", "models", "expires", "rate", "burst"};
    const char *vals[MD_ARRAY_LEN(names)] = {NULL};
    struct md_buf body;
    struct ctl_resp resp;
    json_t *doc = NULL;
    const json_t *t;
    bool first = true;
    enum ctl_arg k;
    int rc;

    while ((k = ctl_args_next(ctl, args)) != CTL_ARG_END) {
        const char *v = NULL;
        size_t i;

        if (k == CTL_ARG_EXIT)
            return args->exit_code;
        if (k == CTL_ARG_WORD)
            return ctl_usagef("token", "unexpected argument '%s'", args->argv[args->i]);
        for (i = 0; i < MD_ARRAY_LEN(names); i++) {
            int r = ctl_opt("token", args->argc, args->argv, &args->i, names[i], &v);

            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0)
                break;
        }
        if (i == MD_ARRAY_LEN(names))
            return ctl_args_unknown(args);
        vals[i] = v;
    }
    if (vals[0] == NULL)
        return ctl_usagef("token", "create: missing --role");
    md_buf_init(&body, 16384);
    (void)md_buf_putc(&body, '{');
    put_field(&body, &first, "role", vals[0], true);
    if (vals[1] != NULL)
        put_field(&body, &first, "name", vals[1], true);
    if (vals[2] != NULL) {
        put_field(&body, &first, "models", "", false);
        put_models(&body, vals[2]);
    }
    if (vals[3] != NULL)
        put_field(&body, &first, "expires", vals[3], true);
    for (size_t i = 4; i < 6; i++) {
        char *end = NULL;

        if (vals[i] == NULL)
            continue;
        (void)strtod(vals[i], &end);
        if (end == vals[i] || *end != '\0') {
            md_buf_release(&body);
            return ctl_usagef("token", "--%s: '%s' is not a number", names[i], vals[i]);
        }
        put_field(&body, &first, names[i], vals[i], false);
    }
    if (md_buf_putc(&body, '}') != MD_OK) {
        md_buf_release(&body);
        return ctl_usagef("token", "create: options too long");
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "token create", "POST", "/api/v1/tokens", NULL, body.data, body.len,
                       &resp, &doc);
    if (rc == CTL_EXIT_OK) {
        t = json_object_get(doc, "token");
        if (ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else if (json_is_string(t))
            printf("%s\n", json_string_value(t));
        else
            rc = ctl_errorf(CTL_EXIT_FAIL, "token create: bad response from server: no token");
        if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON)
            fprintf(stderr, "modelctl: token '%s' made; its secret is shown only now\n",
                    json_string_value(json_object_get(doc, "name")) != NULL
                        ? json_string_value(json_object_get(doc, "name"))
                        : "?");
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&body);
    return rc;
}

/* A time in ms since the epoch as "YYYY-MM-DD HH:MM" UTC, or "-" for 0. */
static void put_time(struct ctl_table *t, const json_t *v)
{
    time_t s;
    struct tm tm;
    char buf[32];

    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        ctl_table_cell(t, "-");
        return;
    }
    s = (time_t)(json_integer_value(v) / 1000);
    if (gmtime_r(&s, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm) == 0) {
        ctl_table_cell(t, "?");
        return;
    }
    ctl_table_cell(t, buf);
}

static int token_list(struct ctl *ctl, struct ctl_args *args)
{
    static const char *const columns[] = {"NAME",  "ROLE",    "MODELS",
                                          "STATE", "EXPIRES", "LAST USED"};
    struct ctl_resp resp;
    struct ctl_table table;
    json_t *doc = NULL;
    const json_t *list;
    const json_t *e;
    size_t i;
    enum ctl_arg k;
    int rc;

    while ((k = ctl_args_next(ctl, args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args->exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(args);
        return ctl_usagef("token", "list: unexpected argument '%s'", args->argv[args->i]);
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "token list", "GET", "/api/v1/tokens", NULL, NULL, 0, &resp, &doc);
    list = json_object_get(doc, "tokens");
    if (rc == CTL_EXIT_OK && !json_is_array(list))
        rc = ctl_errorf(CTL_EXIT_FAIL, "token list: bad response from server: no \"tokens\"");
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
    } else if (rc == CTL_EXIT_OK) {
        ctl_table_init(&table, columns, MD_ARRAY_LEN(columns));
        json_array_foreach(list, i, e)
        {
            const json_t *m = json_object_get(e, "models");
            const char *s;

            s = json_string_value(json_object_get(e, "name"));
            ctl_table_cell(&table, s != NULL ? s : "?");
            s = json_string_value(json_object_get(e, "role"));
            ctl_table_cell(&table, s != NULL ? s : "?");
            if (json_is_array(m)) {
                struct md_buf b;
                size_t j;
                const json_t *x;

                md_buf_init(&b, 8192);
                json_array_foreach(m, j, x)
                {
                    if (j > 0)
                        (void)md_buf_putc(&b, ',');
                    (void)md_buf_puts(&b, json_is_string(x) ? json_string_value(x) : "?");
                }
                ctl_table_cell(&table, b.len > 0 && md_buf_error(&b) == MD_OK ? b.data : "-");
                md_buf_release(&b);
            } else {
                ctl_table_cell(&table, "all");
            }
            s = json_string_value(json_object_get(e, "state"));
            ctl_table_cell(&table, s != NULL ? s : "?");
            put_time(&table, json_object_get(e, "expires_ms"));
            put_time(&table, json_object_get(e, "last_used_ms"));
        }
        ctl_table_print(&table, stdout);
        ctl_table_release(&table);
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

static int token_revoke(struct ctl *ctl, struct ctl_args *args)
{
    const char *name = NULL;
    struct md_buf path;
    struct ctl_resp resp;
    json_t *doc = NULL;
    enum ctl_arg k;
    int rc;

    while ((k = ctl_args_next(ctl, args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args->exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(args);
        if (name != NULL)
            return ctl_usagef("token", "revoke: unexpected argument '%s'", args->argv[args->i]);
        name = args->argv[args->i];
    }
    if (name == NULL)
        return ctl_usagef("token", "revoke: missing NAME");
    md_buf_init(&path, 4096);
    (void)md_buf_puts(&path, "/api/v1/tokens/");
    if (ctl_path_segment(&path, name) != MD_OK) {
        md_buf_release(&path);
        return ctl_usagef("token", "revoke: NAME too long");
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "token revoke", "DELETE", path.data, NULL, NULL, 0, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else if (rc == CTL_EXIT_OK)
        printf("token %s revoked\n", name);
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    return rc;
}

int cmd_token(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    enum ctl_arg k;

    ctl_args_init(&args, "token", token_help, argc, argv);
    k = ctl_args_next(ctl, &args);
    if (k == CTL_ARG_EXIT)
        return args.exit_code;
    if (k == CTL_ARG_OPTION)
        return ctl_args_unknown(&args);
    if (k == CTL_ARG_END)
        return ctl_usagef("token", "missing create, list or revoke");
    if (strcmp(argv[args.i], "create") == 0)
        return token_create(ctl, &args);
    if (strcmp(argv[args.i], "list") == 0)
        return token_list(ctl, &args);
    if (strcmp(argv[args.i], "revoke") == 0)
        return token_revoke(ctl, &args);
    return ctl_usagef("token", "unknown subcommand '%s' (create, list or revoke)", argv[args.i]);
}
