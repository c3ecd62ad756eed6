/* SPDX-License-Identifier: MIT */
/*
 * cmd_alerts.c: "modelctl alerts", the alerts pending and firing now or
 * their history (GET /api/v1/alerts), and "modelctl alert-rule
 * put|list|delete", the stored alert rules (/api/v1/alert-rules). The
 * server checks a rule; this file reads it from a file or the command line
 * and shows the answers.
 */
#include "ctl.h"

#include <math.h>

static const char alerts_help[] =
    "NAME\n"
    "       modelctl alerts - list the alerts pending and firing now, or their history\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] alerts [--state pending|firing] [--model M]\n"
    "                [--rule R]\n"
    "       modelctl [GLOBAL OPTIONS] alerts --history [--rule R] [--model M]\n"
    "                [--state S] [--before ID] [--limit N]\n"
    "\n"
    "DESCRIPTION\n"
    "       Without --history, asks the server for the alerts pending and firing now\n"
    "       (GET /api/v1/alerts) and prints RULE, MODEL, STATE, SEVERITY, VALUE (the\n"
    "       metric's last value; '-' for no data) and SINCE (when its condition began\n"
    "       to hold, UTC).\n"
    "\n"
    "       With --history, prints the changes of state the server stored, the newest\n"
    "       N (100 unless --limit says) oldest first: TIME, RULE, MODEL, STATE\n"
    "       (pending, firing, resolved, inactive) and VALUE; when there are more, a\n"
    "       last line names the --before ID that shows the page before.\n"
    "\n"
    "OPTIONS\n"
    "       --state S     only alerts in state S (pending or firing; with --history\n"
    "                     also resolved or inactive)\n"
    "       --model M     only alerts of model M\n"
    "       --rule R      only rule R's alerts\n"
    "       --before ID   with --history: only changes older than ID\n"
    "       --limit N     with --history: at most N changes (1 to 1000)\n"
    "       --json        print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl alerts\n"
    "       RULE          MODEL  STATE   SEVERITY  VALUE  SINCE\n"
    "       fraud_errors  fraud  firing  critical  0.12   2026-12-07T10:14:48.893Z\n"
    "\n"
    "       $ modelctl alerts --history --rule fraud_errors --limit 3\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the alerts were printed (none pending or firing is not an error)\n"
    "       1      the server refused (a bad filter: its message is shown), could not\n"
    "              be reached or answered badly\n"
    "       2      usage error\n";

static const char rule_help[] =
    "NAME\n"
    "       modelctl alert-rule - store, list and remove alert rules\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] alert-rule put NAME FILE|JSON\n"
    "       modelctl [GLOBAL OPTIONS] alert-rule list [NAME]\n"
    "       modelctl [GLOBAL OPTIONS] alert-rule delete NAME\n"
    "\n"
    "DESCRIPTION\n"
    "       An alert rule compares a named metric of a model (error_rate,\n"
    "       latency_p99_ms, ...) over a window with a threshold; held for its `for`\n"
    "       duration it fires, and notifies the receivers of the server's\n"
    "       configuration file (docs/monitoring.md#alerts).\n"
    "\n"
    "       put       stores the rule under NAME ([A-Za-z][A-Za-z0-9_.-]*, at most 63\n"
    "                 characters) (PUT /api/v1/alert-rules/NAME), replacing one of\n"
    "                 that name; the server fills in every default. The rule is JSON\n"
    "                 text starting with '{', or a file holding it ('-' for standard\n"
    "                 input). Rules of the configuration file cannot be replaced.\n"
    "       list      without NAME, lists the rules: NAME, SOURCE (file or api), the\n"
    "                 CONDITION, WINDOW, FOR and SEVERITY; with NAME, prints that rule\n"
    "                 as JSON.\n"
    "       delete    removes a rule put through the API.\n"
    "\n"
    "OPTIONS\n"
    "       --json print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl alert-rule put fraud_errors '{\"metric\": \"error_rate\", \"model\":\n"
    "             \"fraud\", \"op\": \">\", \"threshold\": 0.05, \"window\": \"5m\", \"for\":\n"
    "             \"1m\", \"severity\": \"critical\"}'\n"
    "       stored alert rule fraud_errors\n"
    "\n"
    "       $ modelctl alert-rule list\n"
    "       NAME          SOURCE  CONDITION                WINDOW  FOR  SEVERITY\n"
    "       fraud_errors  api     fraud error_rate > 0.05  5m      1m   critical\n"
    "\n"
    "EXIT STATUS\n"
    "       0      done\n"
    "       1      the server refused (a bad rule, an unknown name, a rule of the\n"
    "              configuration file: its message is shown), could not be reached or\n"
    "              answered badly\n"
    "       2      usage error\n";

static const char *str_of(const json_t *o, const char *key, const char *none)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : none;
}

/* A number cell: '-' for null. */
static void number_cell(struct ctl_table *t, const json_t *v)
{
    char text[40];

    if (!json_is_number(v)) {
        ctl_table_cell(t, "-");
        return;
    }
    ctl_format_real(json_number_value(v), text, sizeof(text));
    ctl_table_cell(t, text);
}

/* Appends "&name=value" (value encoded) to b, or "?name=..." as the first. */
static int add_query(struct md_buf *b, bool *first, const char *name, const char *value)
{
    if (value == NULL)
        return MD_OK;
    (void)md_buf_printf(b, "%c%s=", *first ? '?' : '&', name);
    *first = false;
    return ctl_path_segment(b, value);
}

static void print_current(const json_t *list)
{
    struct ctl_table t;

    ctl_table_init(
        &t, (const char *const[]){"RULE", "MODEL", "STATE", "SEVERITY", "VALUE", "SINCE"}, 6);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *a = json_array_get(list, i);

        ctl_table_cell(&t, str_of(a, "rule", "?"));
        ctl_table_cell(&t, str_of(a, "model", "?"));
        ctl_table_cell(&t, str_of(a, "state", "?"));
        ctl_table_cell(&t, str_of(a, "severity", "?"));
        number_cell(&t, json_object_get(a, "value"));
        ctl_table_cell(&t, str_of(a, "active_at", "-"));
    }
    if (ctl_table_rows(&t) == 0)
        puts("no alert is pending or firing");
    else
        ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

static void print_history(const json_t *doc)
{
    const json_t *list = json_object_get(doc, "history");
    const json_t *next = json_object_get(doc, "next_before");
    struct ctl_table t;

    ctl_table_init(&t, (const char *const[]){"TIME", "RULE", "MODEL", "STATE", "VALUE"}, 5);
    for (size_t i = json_array_size(list); i > 0; i--) {
        const json_t *a = json_array_get(list, i - 1);

        ctl_table_cell(&t, str_of(a, "time", "-"));
        ctl_table_cell(&t, str_of(a, "rule", "?"));
        ctl_table_cell(&t, str_of(a, "model", "?"));
        ctl_table_cell(&t, str_of(a, "state", "?"));
        number_cell(&t, json_object_get(a, "value"));
    }
    if (ctl_table_rows(&t) == 0)
        puts("no change of state stored");
    else
        ctl_table_print(&t, stdout);
    ctl_table_release(&t);
    if (json_is_integer(next))
        printf("(older changes: --before %lld)\n", (long long)json_integer_value(next));
}

int cmd_alerts(int argc, char **argv, struct ctl *ctl)
{
    static const char *const names[] = {"state", "model", "rule", "before", "limit"};
    const char *values[5] = {NULL, NULL, NULL, NULL, NULL};
    bool history = false;
    bool first = true;
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf path;
    json_t *doc = NULL;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, "alerts", alerts_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        bool known = false;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD)
            return ctl_usagef("alerts", "unexpected argument '%s'", argv[args.i]);
        if (strcmp(argv[args.i], "--history") == 0) {
            history = true;
            continue;
        }
        for (size_t i = 0; i < MD_ARRAY_LEN(names) && !known; i++) {
            rc = ctl_opt("alerts", argc, argv, &args.i, names[i], &v);
            if (rc < 0)
                return CTL_EXIT_USAGE;
            if (rc == 1) {
                values[i] = v;
                known = true;
            }
        }
        if (!known)
            return ctl_args_unknown(&args);
    }
    for (size_t i = 3; i < MD_ARRAY_LEN(names); i++)
        if (values[i] != NULL && !history)
            return ctl_usagef("alerts", "--%s goes with --history", names[i]);
    md_buf_init(&path, 8192);
    (void)md_buf_puts(&path, "/api/v1/alerts");
    if (history)
        (void)add_query(&path, &first, "history", "true");
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
        if (add_query(&path, &first, names[i], values[i]) != MD_OK) {
            md_buf_release(&path);
            return ctl_errorf(CTL_EXIT_USAGE, "alerts: --%s: too long", names[i]);
        }
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "alerts", "GET", path.data, NULL, "", 0, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else if (rc == CTL_EXIT_OK && history)
        print_history(doc);
    else if (rc == CTL_EXIT_OK)
        print_current(json_object_get(doc, "alerts"));
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    return rc;
}

/* ---- alert-rule ------------------------------------------------------------- */

static int rule_exchange(struct ctl *ctl, const char *what, const char *method, const char *name,
                         const char *body, size_t len, json_t **out)
{
    struct ctl_resp resp;
    struct md_buf path;
    int rc;

    md_buf_init(&path, 4096);
    if (md_buf_puts(&path, "/api/v1/alert-rules") != MD_OK ||
        (name != NULL &&
         (md_buf_putc(&path, '/') != MD_OK || ctl_path_segment(&path, name) != MD_OK))) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: name too long", what);
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, what, method, path.data, NULL, body, len, &resp, out);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    return rc;
}

static void print_rules(const json_t *list)
{
    struct ctl_table t;

    ctl_table_init(
        &t, (const char *const[]){"NAME", "SOURCE", "CONDITION", "WINDOW", "FOR", "SEVERITY"}, 6);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        const json_t *r = json_object_get(e, "rule");
        const json_t *version = json_object_get(r, "version");
        char threshold[40];

        ctl_format_real(json_number_value(json_object_get(r, "threshold")), threshold,
                        sizeof(threshold));
        ctl_table_cell(&t, str_of(e, "name", "?"));
        ctl_table_cell(&t, str_of(e, "source", "?"));
        if (json_is_integer(version))
            ctl_table_cellf(&t, "%s v%lld%s%s %s %s %s", str_of(r, "model", "?"),
                            (long long)json_integer_value(version),
                            json_is_string(json_object_get(r, "route")) ? " route " : "",
                            str_of(r, "route", ""), str_of(r, "metric", "?"), str_of(r, "op", "?"),
                            threshold);
        else
            ctl_table_cellf(&t, "%s%s%s %s %s %s", str_of(r, "model", "?"),
                            json_is_string(json_object_get(r, "route")) ? " route " : "",
                            str_of(r, "route", ""), str_of(r, "metric", "?"), str_of(r, "op", "?"),
                            threshold);
        ctl_table_cell(&t, str_of(r, "window", "?"));
        ctl_table_cell(&t, str_of(r, "for", "?"));
        ctl_table_cell(&t, str_of(r, "severity", "?"));
    }
    if (ctl_table_rows(&t) == 0)
        puts("no alert rule is stored");
    else
        ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

static int rule_put(struct ctl *ctl, const char *name, const char *arg)
{
    struct md_buf body;
    json_t *doc = NULL;
    const char *t = arg;
    char what[300];
    int rc = CTL_EXIT_OK;

    md_buf_init(&body, CTL_MAX_BODY);
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
        t++;
    if (*t == '{') {
        if (md_buf_puts(&body, arg) != MD_OK)
            rc = ctl_errorf(CTL_EXIT_USAGE, "alert-rule put: the rule is too long");
    } else {
        rc = ctl_read_file("alert-rule put", arg, &body);
    }
    if (rc == CTL_EXIT_OK) {
        (void)snprintf(what, sizeof(what), "alert-rule put '%.200s'", name);
        rc = rule_exchange(ctl, what, "PUT", name, body.data != NULL ? body.data : "", body.len,
                           &doc);
        if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON)
            printf("stored alert rule %s\n", name);
    }
    json_decref(doc);
    md_buf_release(&body);
    return rc;
}

static int rule_list(struct ctl *ctl, const char *name)
{
    json_t *doc = NULL;
    char what[300];
    int rc;

    (void)snprintf(what, sizeof(what), "alert-rule list%s%.200s", name != NULL ? " " : "",
                   name != NULL ? name : "");
    rc = rule_exchange(ctl, what, "GET", name, "", 0, &doc);
    if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON) {
        if (name == NULL) {
            print_rules(json_object_get(doc, "alert_rules"));
        } else {
            char *s = json_dumps(json_object_get(doc, "rule"),
                                 JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

            if (s != NULL)
                puts(s);
            free(s);
        }
    }
    json_decref(doc);
    return rc;
}

static int rule_delete(struct ctl *ctl, const char *name)
{
    json_t *doc = NULL;
    char what[300];
    int rc;

    (void)snprintf(what, sizeof(what), "alert-rule delete '%.200s'", name);
    rc = rule_exchange(ctl, what, "DELETE", name, "", 0, &doc);
    if (rc == CTL_EXIT_OK && ctl->format != CTL_FORMAT_JSON)
        printf("removed alert rule %s\n", name);
    json_decref(doc);
    return rc;
}

int cmd_alert_rule(int argc, char **argv, struct ctl *ctl)
{
    const char *words[3] = {NULL, NULL, NULL};
    struct ctl_args args;
    size_t n = 0;
    enum ctl_arg k;
    size_t max;

    ctl_args_init(&args, "alert-rule", rule_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (n == MD_ARRAY_LEN(words))
            return ctl_usagef("alert-rule", "unexpected argument '%s'", argv[args.i]);
        words[n++] = argv[args.i];
    }
    if (n == 0)
        return ctl_usagef("alert-rule", "missing SUBCOMMAND (put, list or delete)");
    if (strcmp(words[0], "put") != 0 && strcmp(words[0], "list") != 0 &&
        strcmp(words[0], "delete") != 0)
        return ctl_usagef("alert-rule", "unknown subcommand '%s'", words[0]);
    max = strcmp(words[0], "put") == 0 ? 3 : 2;
    if (n > max)
        return ctl_usagef("alert-rule", "unexpected argument '%s'", words[max]);
    if (strcmp(words[0], "list") == 0)
        return rule_list(ctl, words[1]);
    if (words[1] == NULL)
        return ctl_usagef("alert-rule", "%s: missing NAME", words[0]);
    if (strcmp(words[0], "delete") == 0)
        return rule_delete(ctl, words[1]);
    if (words[2] == NULL)
        return ctl_usagef("alert-rule", "put: missing the rule (FILE or JSON)");
    return rule_put(ctl, words[1], words[2]);
}
