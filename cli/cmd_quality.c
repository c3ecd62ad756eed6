/* SPDX-License-Identifier: MIT */
/*
 * cmd_quality.c: "modelctl quality MODEL", a model's quality against its
 * feedback (GET /api/v1/models/{m}/quality): a line per version and route
 * and one for them all, then the classes of the whole window.
 */
#include "ctl.h"

#include <math.h>

static const char quality_help[] =
    "NAME\n"
    "       modelctl quality - show how right a model's predictions turned out\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] quality MODEL [--version V] [--route R]\n"
    "                [--window DURATION | --last N]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for MODEL's quality over a window of its stored\n"
    "       predictions joined with their feedback (GET /api/v1/models/MODEL/quality),\n"
    "       computed exactly from those rows, and prints one line for the whole\n"
    "       window ('all') and one per version and route: the rows labelled, the\n"
    "       share of predictions labelled (COVERAGE), and for a classification\n"
    "       ACCURACY and the macro F1 (plus LOG_LOSS, ROC_AUC and BRIER for a binary\n"
    "       one), for a regression MAE, RMSE and R2; then, for a classification,\n"
    "       precision, recall, F1 and support per class over the whole window.\n"
    "       '-' marks a figure with nothing to measure.\n"
    "\n"
    "OPTIONS\n"
    "       --version V   only version V's predictions (its shadow copies included)\n"
    "       --route R     only those of traffic route R\n"
    "       --window D    predictions made in the last D: 90s, 30m, 1h, 7d\n"
    "       --last N      the last N labelled predictions (default 1000)\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl quality fraud --window 1h\n"
    "       model fraud (binary), predictions of the last 1h\n"
    "       VERSION  ROUTE   LABELLED  COVERAGE  ACCURACY  F1      LOG_LOSS  ROC_AUC  BRIER\n"
    "       all      -       412       8.24%     0.9612    0.8731  0.1123    0.9702   0.0311\n"
    "       2        stable  412       8.24%     0.9612    0.8731  0.1123    0.9702   0.0311\n"
    "       ...\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the figures were printed\n"
    "       1      the server refused (an unknown model, a bad window), could not be\n"
    "              reached or answered badly\n"
    "       2      usage error\n";

/* A figure as the table shows it: 4 decimals, '-' for none. */
static void cell_num(struct ctl_table *t, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_number(v))
        ctl_table_cellf(t, "%.4f", json_number_value(v));
    else
        ctl_table_cell(t, "-");
}

static void cell_percent(struct ctl_table *t, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    char text[CTL_PERCENT_MAX];

    if (!json_is_number(v)) {
        ctl_table_cell(t, "-");
        return;
    }
    ctl_format_percent(json_number_value(v) * 100, text, sizeof(text));
    ctl_table_cell(t, text);
}

static void group_row(struct ctl_table *t, const char *task, const json_t *g, const char *version,
                      const char *route)
{
    ctl_table_cell(t, version);
    ctl_table_cell(t, route);
    ctl_table_cellf(t, "%lld", (long long)json_integer_value(json_object_get(g, "labelled")));
    cell_percent(t, g, "label_coverage");
    if (strcmp(task, "regression") == 0) {
        cell_num(t, g, "mae");
        cell_num(t, g, "rmse");
        cell_num(t, g, "r2");
        return;
    }
    cell_num(t, g, "accuracy");
    cell_num(t, json_object_get(g, "macro"), "f1");
    if (strcmp(task, "binary") == 0) {
        cell_num(t, g, "log_loss");
        cell_num(t, g, "roc_auc");
        cell_num(t, g, "brier");
    }
}

static void print_quality(const json_t *doc)
{
    static const char *const reg[] = {"VERSION", "ROUTE", "LABELLED", "COVERAGE",
                                      "MAE",     "RMSE",  "R2"};
    static const char *const bin[] = {"VERSION", "ROUTE",    "LABELLED", "COVERAGE", "ACCURACY",
                                      "F1",      "LOG_LOSS", "ROC_AUC",  "BRIER"};
    const char *task = json_string_value(json_object_get(doc, "task"));
    const json_t *win = json_object_get(doc, "window");
    const json_t *all = json_object_get(doc, "all");
    const json_t *groups = json_object_get(doc, "groups");
    const json_t *classes = json_object_get(all, "classes");
    const char *name;
    const json_t *c;
    struct ctl_table t;
    size_t cols;

    if (task == NULL)
        task = "?";
    printf("model %s (%s), ", json_string_value(json_object_get(doc, "model")), task);
    if (json_object_get(win, "last") != NULL)
        printf("the last %lld labelled predictions\n",
               (long long)json_integer_value(json_object_get(win, "last")));
    else
        printf("predictions of the last %.0f s\n",
               (double)(json_integer_value(json_object_get(win, "until_ms")) -
                        json_integer_value(json_object_get(win, "since_ms"))) /
                   1000.0);
    cols = strcmp(task, "regression") == 0 ? 7 : strcmp(task, "binary") == 0 ? 9 : 6;
    ctl_table_init(&t, strcmp(task, "regression") == 0 ? reg : bin, cols);
    group_row(&t, task, all, "all", "-");
    for (size_t i = 0; i < json_array_size(groups); i++) {
        const json_t *g = json_array_get(groups, i);
        char v[32];

        (void)snprintf(v, sizeof(v), "%lld",
                       (long long)json_integer_value(json_object_get(g, "version")));
        group_row(&t, task, g, v, json_string_value(json_object_get(g, "route")));
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
    if (json_object_size(classes) == 0)
        return;
    printf("\n");
    ctl_table_init(&t, (const char *const[]){"CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"}, 5);
    json_object_foreach((json_t *)classes, name, c)
    {
        ctl_table_cell(&t, name);
        cell_num(&t, c, "precision");
        cell_num(&t, c, "recall");
        cell_num(&t, c, "f1");
        ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(c, "support")));
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

/* Appends "?name=" (first) or "&name=" + value, escaped, to the path in b. */
static int add_query(struct md_buf *b, const char *name, const char *value)
{
    md_buf_puts(b, memchr(b->data, '?', b->len) == NULL ? "?" : "&");
    md_buf_puts(b, name);
    md_buf_putc(b, '=');
    return ctl_path_segment(b, value);
}

int cmd_quality(int argc, char **argv, struct ctl *ctl)
{
    static const char *const names[] = {"--version", "--route", "--window", "--last"};
    const char *vals[4] = {NULL, NULL, NULL, NULL};
    const char *model = NULL;
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf q;
    enum ctl_arg k;
    json_t *doc = NULL;
    char what[300];
    int rc;

    ctl_args_init(&args, "quality", quality_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        size_t o;
        const char *v = NULL;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD && model == NULL) {
            model = argv[args.i];
            continue;
        }
        if (k == CTL_ARG_WORD)
            return ctl_usagef("quality", "unexpected argument '%s'", argv[args.i]);
        for (o = 0; o < MD_ARRAY_LEN(names); o++) {
            int r = ctl_opt("quality", argc, argv, &args.i, names[o], &v);

            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0) {
                vals[o] = v;
                break;
            }
        }
        if (o == MD_ARRAY_LEN(names))
            return ctl_args_unknown(&args);
    }
    if (model == NULL)
        return ctl_usagef("quality", "missing MODEL");
    if (vals[2] != NULL && vals[3] != NULL)
        return ctl_usagef("quality", "--window and --last: give one");
    md_buf_init(&q, 4096);
    md_buf_puts(&q, "/quality");
    for (size_t o = 0; o < MD_ARRAY_LEN(names); o++)
        if (vals[o] != NULL && add_query(&q, names[o] + 2, vals[o]) != MD_OK)
            return ctl_usagef("quality", "%s: too long", names[o]);
    md_buf_putc(&q, '\0');
    (void)snprintf(what, sizeof(what), "quality of '%.200s'", model); /* fits */
    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "GET", model, (const char *)q.data, NULL, NULL, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else if (rc == CTL_EXIT_OK)
        print_quality(doc);
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&q);
    return rc;
}
