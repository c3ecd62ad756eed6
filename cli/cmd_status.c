/* SPDX-License-Identifier: MIT */
/*
 * cmd_status.c: "modelctl status [MODEL]", the repository index as a table
 * (POST /v2/repository/index). The server decides the rows and their order;
 * this file only filters and lays them out.
 */
#include "ctl.h"

static const char status_help[] =
    "NAME\n"
    "       modelctl status - show the state of each model version in the repository\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] status [MODEL]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for its repository index (POST /v2/repository/index) and\n"
    "       prints one row per model version: MODEL, VERSION, STATE (READY or\n"
    "       UNAVAILABLE) and REASON, which says why a version is UNAVAILABLE\n"
    "       (or what a READY one serves with: a failed reload, no feature names).\n"
    "       Rows come in the server's order. With MODEL, only that model's rows.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  show only this model; it is an error if the repository lacks it\n"
    "       --json print the server's JSON array instead of the table (only MODEL's\n"
    "              entries when MODEL is given)\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl status\n"
    "       MODEL  VERSION  STATE        REASON\n"
    "       fraud  1        READY\n"
    "       fraud  2        READY\n"
    "       churn  3        UNAVAILABLE  model.yaml: features[0].datatype: 'FLOAT' is not ...\n"
    "\n"
    "       $ modelctl --json status fraud\n"
    "       [{\"name\":\"fraud\",\"version\":\"1\",\"state\":\"READY\",\"reason\":\"\"},...]\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the index was printed\n"
    "       1      the server refused or could not be reached, answered badly, or has no\n"
    "              model MODEL\n"
    "       2      usage error\n";

static const char *const columns[] = {"MODEL", "VERSION", "STATE", "REASON"};
static const char *const keys[] = {"name", "version", "state", "reason"};

/* One cell as text: strings as they are, integers (some servers send versions so), else "". */
static const char *cell(const json_t *row, const char *key, char *tmp, size_t n)
{
    const json_t *v = json_object_get(row, key);

    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        (void)snprintf(tmp, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); /* n is 32 */
        return tmp;
    }
    return "";
}

/* Prints one table line: cells padded to their column's width, trailing blanks dropped. */
static void print_line(const char *const cells[], const size_t width[], struct md_buf *line)
{
    size_t c;
    size_t n;
    int rc = MD_OK;

    md_buf_reset(line);
    for (c = 0; c < MD_ARRAY_LEN(columns) && rc == MD_OK; c++)
        rc = md_buf_printf(line, "%-*s  ", (int)width[c], cells[c]);
    n = line->len;
    while (n > 0 && line->data[n - 1] == ' ')
        n--;
    printf("%.*s\n", (int)n, line->data != NULL ? line->data : "");
}

static void print_table(const json_t *rows)
{
    char tmp[MD_ARRAY_LEN(columns)][32];
    const char *cells[MD_ARRAY_LEN(columns)];
    size_t width[MD_ARRAY_LEN(columns)];
    struct md_buf line;
    size_t i;
    size_t c;

    for (c = 0; c < MD_ARRAY_LEN(columns); c++)
        width[c] = strlen(columns[c]);
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);

        for (c = 0; c < MD_ARRAY_LEN(columns); c++) {
            size_t w = strlen(cell(row, keys[c], tmp[c], sizeof(tmp[c])));

            if (w > width[c])
                width[c] = w;
        }
    }
    md_buf_init(&line, (size_t)1 << 20);
    print_line(columns, width, &line);
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);

        for (c = 0; c < MD_ARRAY_LEN(columns); c++)
            cells[c] = cell(row, keys[c], tmp[c], sizeof(tmp[c]));
        print_line(cells, width, &line);
    }
    md_buf_release(&line);
}

/* The index's entries for model, as a new array; every entry when model is NULL. */
static json_t *select_rows(const json_t *index, const char *model)
{
    json_t *out = json_array();
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < json_array_size(index); i++) {
        const json_t *row = json_array_get(index, i);
        const json_t *name = json_object_get(row, "name");

        if (!json_is_object(row))
            continue;
        if (model != NULL && !(json_is_string(name) && strcmp(json_string_value(name), model) == 0))
            continue;
        json_array_append(out, (json_t *)row);
    }
    return out;
}

int cmd_status(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    struct ctl_resp resp;
    const char *model = NULL;
    json_t *index = NULL;
    json_t *rows = NULL;
    char what[300];
    char *s;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, "status", status_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (model != NULL)
            return ctl_usagef("status", "unexpected argument '%s'", argv[args.i]);
        model = argv[args.i];
    }
    if (model != NULL)
        (void)snprintf(what, sizeof(what), "status '%.200s'", model); /* fits */
    else
        (void)snprintf(what, sizeof(what), "status");

    ctl_resp_init(&resp);
    rc = ctl_http(ctl, what, "POST", "/v2/repository/index", "{}", 2, &resp);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (!ctl_resp_ok(&resp)) {
        rc = ctl_fail_resp(what, &resp);
        goto out;
    }
    rc = ctl_resp_json(what, &resp, &index);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (!json_is_array(index)) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: the index is not an array",
                        what);
        goto out;
    }
    if (ctl->format == CTL_FORMAT_JSON && model == NULL) {
        ctl_print_body(&resp);
        goto out;
    }
    rows = select_rows(index, model);
    if (rows == NULL) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", what);
        goto out;
    }
    if (model != NULL && json_array_size(rows) == 0) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: unknown model '%s'", what, model);
        goto out;
    }
    if (ctl->format == CTL_FORMAT_JSON) {
        s = json_dumps(rows, JSON_COMPACT);
        if (s != NULL)
            puts(s);
        free(s);
    } else {
        print_table(rows);
    }
out:
    json_decref(rows);
    json_decref(index);
    ctl_resp_release(&resp);
    return rc;
}
