/* SPDX-License-Identifier: MIT */
/*
 * cmd_drift.c: "modelctl drift MODEL [--version N] [--window DURATION]", a
 * version's live window compared with its reference profile (GET
 * /api/v1/models/{m}/drift) as a summary line and a table of features. The
 * server computes every figure; this file lays them out.
 */
#include "ctl.h"

#include <math.h>

static const char drift_help[] =
    "NAME\n"
    "       modelctl drift - compare a version's live inputs and predictions with its\n"
    "       reference profile\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] drift MODEL [--version N] [--window DURATION]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for the drift of MODEL's version (GET\n"
    "       /api/v1/models/MODEL/drift) and prints a summary line, then one row\n"
    "       per feature of the version's reference profile:\n"
    "\n"
    "       FEATURE   the feature\n"
    "       KIND      numeric (tested with Kolmogorov-Smirnov on the profile's\n"
    "                 bins) or categorical (chi-squared)\n"
    "       ROWS      live rows counted in the window\n"
    "       MISSING   share of them missing (the training share in brackets)\n"
    "       PSI       population stability index against the training data\n"
    "       JS        Jensen-Shannon distance (base 2)\n"
    "       STAT      the KS statistic D or the chi-squared statistic\n"
    "       P         the test's p-value, then corrected for the number of tests\n"
    "       VERDICT   ok, or drift (moderate or major)\n"
    "\n"
    "       A version without a reference profile prints why. The verdicts and their\n"
    "       thresholds (model.yaml's drift: section) are described in\n"
    "       docs/monitoring.md.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model's name\n"
    "       --version N\n"
    "              the version (default: the champion, else the newest that serves)\n"
    "       --window DURATION\n"
    "              the last DURATION of traffic: 300s, 15m, 1h (default and longest:\n"
    "              the model's drift.window_s)\n"
    "       --json print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl drift fraud --window 15m\n"
    "       fraud version 3: drift in 1 of 31 features (2000 rows in 900 s; Holm, alpha 0.05)\n"
    "       FEATURE  KIND     ROWS  MISSING    PSI    JS     STAT   P        P(ADJ)   VERDICT\n"
    "       f7       numeric  2000  0% (0%)    0.259  0.214  0.204  3.6e-52  1.1e-50  drift "
    "(major)\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the report was printed (whatever its verdict)\n"
    "       1      the server refused (unknown model or version), could not be\n"
    "              reached or answered badly\n"
    "       2      usage error\n";

static const char *const columns[] = {"FEATURE", "KIND", "ROWS", "MISSING", "PSI",
                                      "JS",      "STAT", "P",    "P(ADJ)",  "VERDICT"};

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A figure with digits significant digits ("%.*g"), "-" for none. */
static void cell_num(struct ctl_table *t, double v, int digits)
{
    if (isnan(v))
        ctl_table_cell(t, "-");
    else
        ctl_table_cellf(t, "%.*g", digits, v);
}

static void put_row(struct ctl_table *t, const json_t *f, const char *name)
{
    const json_t *kind = json_object_get(f, "kind");
    const json_t *sev = json_object_get(f, "severity");
    double miss = num(f, "missing_share"), ref = num(f, "reference_missing_share");

    ctl_table_cell(t, name);
    ctl_table_cell(t, json_is_string(kind) ? json_string_value(kind) : "-");
    cell_num(t, num(f, "rows"), 20);
    if (isnan(miss))
        ctl_table_cell(t, "-");
    else
        ctl_table_cellf(t, "%.3g%% (%.3g%%)", 100 * miss, isnan(ref) ? 0 : 100 * ref);
    cell_num(t, num(f, "psi"), 3);
    cell_num(t, num(f, "js"), 3);
    cell_num(t, num(f, "statistic"), 3);
    cell_num(t, num(f, "p_value"), 2);
    cell_num(t, num(f, "p_adjusted"), 2);
    if (json_is_true(json_object_get(f, "drifted")))
        ctl_table_cellf(t, "drift (%s)", json_is_string(sev) ? json_string_value(sev) : "?");
    else
        ctl_table_cell(t, "ok");
}

static void print_report(const json_t *doc)
{
    const json_t *verdict = json_object_get(doc, "verdict");
    const json_t *feats = json_object_get(doc, "features");
    const json_t *preds = json_object_get(doc, "predictions");
    const json_t *model = json_object_get(doc, "model");
    const json_t *corr = json_object_get(doc, "correction");
    const char *v = json_is_string(verdict) ? json_string_value(verdict) : "?";
    struct ctl_table t;
    size_t i;

    printf("%s version %.0f: ", json_is_string(model) ? json_string_value(model) : "?",
           num(doc, "version"));
    if (strcmp(v, "no_reference") == 0) {
        const json_t *why = json_object_get(doc, "reason");

        printf("no reference profile: %s\n", json_is_string(why) ? json_string_value(why) : "?");
        return;
    }
    if (strcmp(v, "drift") == 0)
        printf("drift in %.0f of %zu features", num(doc, "drift_features"), json_array_size(feats));
    else if (strcmp(v, "ok") == 0)
        printf("no drift in %zu features", json_array_size(feats));
    else
        printf("not enough rows yet (%.0f of %.0f)", num(doc, "rows"), num(doc, "min_rows"));
    printf(" (%.0f rows in %.0f s; %s, alpha %g)\n", num(doc, "rows"), num(doc, "window_s"),
           json_is_string(corr) && strcmp(json_string_value(corr), "holm") == 0 ? "Holm"
                                                                                : "Bonferroni",
           num(doc, "alpha"));
    ctl_table_init(&t, columns, MD_ARRAY_LEN(columns));
    for (i = 0; i < json_array_size(feats); i++) {
        const json_t *f = json_array_get(feats, i);
        const json_t *name = json_object_get(f, "name");

        put_row(&t, f, json_is_string(name) ? json_string_value(name) : "?");
    }
    if (json_is_object(json_object_get(preds, "labels")))
        put_row(&t, json_object_get(preds, "labels"), "(predicted labels)");
    if (json_is_object(json_object_get(preds, "scores")))
        put_row(&t, json_object_get(preds, "scores"), "(predicted scores)");
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

int cmd_drift(int argc, char **argv, struct ctl *ctl)
{
    const char *model = NULL, *version = NULL, *window = NULL;
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf tail;
    enum ctl_arg k;
    json_t *doc = NULL;
    char what[300];
    int rc;

    ctl_args_init(&args, "drift", drift_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        int got;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD) {
            if (model != NULL)
                return ctl_usagef("drift", "unexpected argument '%s'", argv[args.i]);
            model = argv[args.i];
            continue;
        }
        if ((got = ctl_opt("drift", argc, argv, &args.i, "version", &v)) > 0)
            version = v;
        else if (got == 0 && (got = ctl_opt("drift", argc, argv, &args.i, "window", &v)) > 0)
            window = v;
        if (got <= 0)
            return got < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
    }
    if (model == NULL)
        return ctl_usagef("drift", "missing MODEL");
    md_buf_init(&tail, 4096);
    (void)md_buf_puts(&tail, "/drift");
    rc = MD_OK;
    if (version != NULL) {
        (void)md_buf_puts(&tail, "?version=");
        rc = ctl_path_segment(&tail, version);
    }
    if (rc == MD_OK && window != NULL) {
        (void)md_buf_puts(&tail, version != NULL ? "&window=" : "?window=");
        rc = ctl_path_segment(&tail, window);
    }
    if (rc != MD_OK || md_buf_error(&tail) != MD_OK) {
        md_buf_release(&tail);
        return ctl_usagef("drift", "--version or --window too long");
    }
    (void)snprintf(what, sizeof(what), "drift '%.200s'", model); /* fits */
    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "GET", model, tail.data, NULL, NULL, &resp, &doc);
    if (rc == CTL_EXIT_OK) {
        if (ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else
            print_report(doc);
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&tail);
    return rc;
}
