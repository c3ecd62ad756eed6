/* SPDX-License-Identifier: MIT */
/*
 * cmd_ab.c: "modelctl ab MODEL", the A/B comparison of a model's routes
 * (GET /api/v1/models/{m}/ab): each route's outcome with its interval, and
 * each route against the control (difference, p-value, sample size still
 * needed, verdict), as two tables. The server computes every figure; this
 * file lays them out.
 */
#include "ctl.h"

static const char ab_help[] =
    "NAME\n"
    "       modelctl ab - compare the routes of a model on outcomes from feedback\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] ab MODEL [--positive LABEL] [--metric METRIC]\n"
    "                [--min-effect X] [--window DURATION]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for the A/B comparison of MODEL's routes (GET\n"
    "       /api/v1/models/MODEL/ab): the outcome of each route from the feedback on\n"
    "       its prediction rows, and each route compared with the control (the route\n"
    "       'stable', else the policy's first). When the policy is sticky by a key,\n"
    "       the unit is the key: each key's outcome first, then the routes compared\n"
    "       over keys; otherwise the unit is the row. Two tables:\n"
    "\n"
    "       ROUTE     the route (arm)\n"
    "       VERSIONS  the versions that answered on it\n"
    "       N         units (keys or rows)\n"
    "       ROWS      prediction rows with an outcome\n"
    "       OUTCOME   the mean outcome over units\n"
    "       95% CI    its confidence interval\n"
    "\n"
    "       ROUTE, VS     a route and the control it is compared with\n"
    "       DIFFERENCE    the route's outcome minus the control's, and LIFT relative\n"
    "       TEST          z (two-proportion z-test) or welch (Welch's t-test)\n"
    "       P-VALUE       of the difference, two-sided\n"
    "       NEEDED        units per arm that detect the minimum effect (alpha 0.05,\n"
    "                     power 0.8), and STILL the smaller arm's shortfall\n"
    "       VERDICT       keep running, winner: ROUTE (p < 0.05), or no difference\n"
    "\n"
    "       A '-' stands for a figure with nothing to compute it from.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL             the model's name\n"
    "       --positive LABEL  the label that counts as converted (metric conversion)\n"
    "       --metric METRIC   conversion (default), reward or value\n"
    "       --min-effect X    the absolute difference to detect; default 10% of the\n"
    "                         control's outcome\n"
    "       --window D        only rows predicted in the last D: 3600, 90s, 15m, 24h, 7d\n"
    "       --json            print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl ab m --positive yes --min-effect 0.2\n"
    "       model m: conversion to 'yes', per key 'user', all rows\n"
    "       ROUTE  VERSIONS  N   ROWS  OUTCOME  95% CI\n"
    "       a      1         16  29    0.3125   0.1052 .. 0.5198\n"
    "       b      2         24  50    0.5833   0.4641 .. 0.7026\n"
    "\n"
    "       ROUTE  VS  DIFFERENCE  LIFT    TEST   P-VALUE  NEEDED  STILL  VERDICT\n"
    "       b      a   +0.2708     +86.7%  welch  0.0243   46      30     keep running\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the comparison was printed\n"
    "       1      the server refused (unknown model, a bad argument: its message is\n"
    "              shown), could not be reached or answered badly\n"
    "       2      usage error\n";

static const char *const arm_columns[] = {"ROUTE", "VERSIONS", "N", "ROWS", "OUTCOME", "95% CI"};
static const char *const cmp_columns[] = {"ROUTE",   "VS",     "DIFFERENCE", "LIFT",   "TEST",
                                          "P-VALUE", "NEEDED", "STILL",      "VERDICT"};

/* A number field of o as %.4g (with a sign when signed), or "-" when null or absent. */
static void num_cell(struct ctl_table *t, const json_t *o, const char *key, bool signed_)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_number(v))
        ctl_table_cell(t, "-");
    else if (signed_)
        ctl_table_cellf(t, "%+.4g", json_number_value(v));
    else
        ctl_table_cellf(t, "%.4g", json_number_value(v));
}

static const char *text_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : "-";
}

static void put_arm(struct ctl_table *t, const json_t *arm)
{
    const json_t *versions = json_object_get(arm, "versions");
    const json_t *ci = json_object_get(arm, "ci");

    ctl_table_cell(t, text_of(arm, "route"));
    if (json_array_size(versions) == 2)
        ctl_table_cellf(t, "%s..%s", json_string_value(json_array_get(versions, 0)),
                        json_string_value(json_array_get(versions, 1)));
    else
        ctl_table_cell(t, json_is_string(json_array_get(versions, 0))
                              ? json_string_value(json_array_get(versions, 0))
                              : "-");
    num_cell(t, arm, "n", false);
    num_cell(t, arm, "rows", false);
    num_cell(t, arm, "outcome", false);
    if (json_is_number(json_array_get(ci, 0)) && json_is_number(json_array_get(ci, 1)))
        ctl_table_cellf(t, "%.4g .. %.4g", json_number_value(json_array_get(ci, 0)),
                        json_number_value(json_array_get(ci, 1)));
    else
        ctl_table_cell(t, "-");
}

static void put_comparison(struct ctl_table *t, const json_t *c)
{
    const json_t *lift = json_object_get(c, "lift");
    const char *verdict = text_of(c, "verdict");

    ctl_table_cell(t, text_of(c, "route"));
    ctl_table_cell(t, text_of(c, "control"));
    num_cell(t, c, "difference", true);
    if (json_is_number(lift))
        ctl_table_cellf(t, "%+.1f%%", 100.0 * json_number_value(lift));
    else
        ctl_table_cell(t, "-");
    ctl_table_cell(t, text_of(c, "test"));
    num_cell(t, c, "p_value", false);
    num_cell(t, c, "needed_per_arm", false);
    num_cell(t, c, "still_needed", false);
    if (strcmp(verdict, "winner") == 0)
        ctl_table_cellf(t, "winner: %s", text_of(c, "winner"));
    else if (strcmp(verdict, "keep_running") == 0)
        ctl_table_cell(t, "keep running");
    else if (strcmp(verdict, "no_difference") == 0)
        ctl_table_cell(t, "no difference");
    else
        ctl_table_cell(t, verdict);
}

/* "model shop: conversion to 'bought', per key 'user', all rows" */
static void put_title(const json_t *doc, const json_t *a)
{
    const json_t *key = json_object_get(doc, "key");
    const json_t *header = json_object_get(doc, "sticky_header");
    const json_t *window = json_object_get(doc, "window_s");
    const char *metric = text_of(a, "metric");

    printf("model %s: ", text_of(doc, "model"));
    if (strcmp(metric, "conversion") == 0)
        printf("conversion to '%s'", text_of(doc, "positive"));
    else
        printf("mean %s", metric);
    if (json_is_string(key))
        printf(", per key '%s'", json_string_value(key));
    else if (json_is_string(header))
        printf(", per row (sticky by header '%s', which is not logged)", json_string_value(header));
    else
        printf(", per row");
    if (json_is_integer(window))
        printf(", the last %lld s\n", (long long)json_integer_value(window));
    else
        printf(", all rows\n");
}

static int parse_args(struct ctl *ctl, int argc, char **argv, const char **model, const char **opts)
{
    static const char *const names[] = {"positive", "metric", "min-effect", "window"};
    struct ctl_args args;
    enum ctl_arg k;
    const char *v = NULL;
    size_t o;
    int r;

    ctl_args_init(&args, "ab", ab_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD) {
            if (*model != NULL)
                return ctl_usagef("ab", "unexpected argument '%s'", argv[args.i]);
            *model = argv[args.i];
            continue;
        }
        for (o = 0; o < MD_ARRAY_LEN(names); o++) {
            r = ctl_opt("ab", argc, argv, &args.i, names[o], &v);
            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0) {
                opts[o] = v;
                break;
            }
        }
        if (o == MD_ARRAY_LEN(names))
            return ctl_args_unknown(&args);
    }
    if (*model == NULL)
        return ctl_usagef("ab", "MODEL is missing");
    return CTL_CONTINUE;
}

/* "/ab?positive=...&metric=..." with each given option, encoded. */
static int ab_tail(struct md_buf *b, const char *const *opts)
{
    static const char *const args[] = {"positive", "metric", "min_effect", "window"};

    (void)md_buf_puts(b, "/ab");
    for (size_t o = 0; o < MD_ARRAY_LEN(args); o++) {
        if (opts[o] == NULL)
            continue;
        (void)md_buf_printf(b, "%c%s=", strchr(b->data, '?') != NULL ? '&' : '?', args[o]);
        if (ctl_path_segment(b, opts[o]) != MD_OK)
            break;
    }
    return md_buf_error(b);
}

int cmd_ab(int argc, char **argv, struct ctl *ctl)
{
    const char *opts[4] = {NULL, NULL, NULL, NULL};
    const char *model = NULL;
    struct ctl_resp resp;
    struct ctl_table table;
    struct md_buf tail;
    const json_t *a;
    const json_t *arms;
    const json_t *cmps;
    json_t *doc = NULL;
    char what[300];
    size_t i;
    int rc;

    rc = parse_args(ctl, argc, argv, &model, opts);
    if (rc != CTL_CONTINUE)
        return rc;
    (void)snprintf(what, sizeof(what), "ab '%.200s'", model); /* fits */
    md_buf_init(&tail, (size_t)1 << 16);
    if (ab_tail(&tail, opts) != MD_OK) {
        md_buf_release(&tail);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: the options are too long", what);
    }
    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "GET", model, tail.data, NULL, NULL, &resp, &doc);
    md_buf_release(&tail);
    if (rc != CTL_EXIT_OK)
        goto out;
    a = json_object_get(doc, "analysis");
    arms = json_object_get(a, "arms");
    cmps = json_object_get(a, "comparisons");
    if (!json_is_array(arms) || !json_is_array(cmps)) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no \"analysis\" arms", what);
        goto out;
    }
    if (ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
        goto out;
    }
    put_title(doc, a);
    if (json_array_size(arms) == 0) {
        printf("no route has rows with feedback yet\n");
        goto out;
    }
    ctl_table_init(&table, arm_columns, MD_ARRAY_LEN(arm_columns));
    for (i = 0; i < json_array_size(arms); i++)
        put_arm(&table, json_array_get(arms, i));
    ctl_table_print(&table, stdout);
    ctl_table_release(&table);
    if (json_array_size(cmps) > 0) {
        printf("\n");
        ctl_table_init(&table, cmp_columns, MD_ARRAY_LEN(cmp_columns));
        for (i = 0; i < json_array_size(cmps); i++)
            put_comparison(&table, json_array_get(cmps, i));
        ctl_table_print(&table, stdout);
        ctl_table_release(&table);
    }
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
