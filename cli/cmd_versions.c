/* SPDX-License-Identifier: MIT */
/*
 * cmd_versions.c: "modelctl versions MODEL", the model's registry of
 * versions (GET /api/v1/models/{m}/versions) as a table: each version's
 * state, aliases, routes, share of traffic, artifact hash, source and time
 * of registration; or, with --lineage, where each came from. The server
 * computes every value; this file lays them out.
 */
#include "ctl.h"

#include <time.h>

static const char versions_help[] =
    "NAME\n"
    "       modelctl versions - list a model's versions with their state and traffic\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] versions MODEL [--lineage]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for every version of MODEL it has registered or found in\n"
    "       the repository (GET /api/v1/models/MODEL/versions) and prints one row\n"
    "       per version:\n"
    "\n"
    "       VERSION  the version number\n"
    "       STATE    READY, UNAVAILABLE or ARCHIVED\n"
    "       ALIASES  the aliases that name it (champion, candidate, ...)\n"
    "       ROUTES   the routes of the traffic policy that send to it, and\n"
    "                'shadow(F%)' when it gets copies of F% of the requests\n"
    "       TRAFFIC  the share of the model's calls it answers under the policy\n"
    "       SHA256   the first 12 hex digits of its artifact's sha256\n"
    "       SOURCE   where it came from (repository, upload, ...)\n"
    "       CREATED  when it was registered (UTC)\n"
    "       REASON   why it does not serve, when it does not\n"
    "\n"
    "       A '-' stands for nothing. Calls that name a version or an alias go to it\n"
    "       whatever TRAFFIC says.\n"
    "\n"
    "       With --lineage, one row per version says where it came from instead\n"
    "       (its metadata's lineage, written by a training run or a snapshot):\n"
    "\n"
    "       VERSION    the version number\n"
    "       SOURCE     repository, upload, training or snapshot\n"
    "       PARENT     the version it was trained from\n"
    "       TRIGGER    what asked for the training (manual, schedule, drift, ...)\n"
    "       TRAINING   the training run's id\n"
    "       WINDOW     the prediction time of the training set's rows (UTC)\n"
    "       ROWS       rows trained on + rows held out for the evaluation\n"
    "       EVALUATED  the metric, the version's figure and the champion's\n"
    "       VERDICT    better, comparable or worse than the champion (by the margin)\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model's name\n"
    "       --lineage\n"
    "              print each version's lineage instead of its state\n"
    "       --json print the server's JSON answer, with each version's metadata,\n"
    "              engine, size and contract hash\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl versions fraud\n"
    "       VERSION  STATE  ALIASES    ROUTES  TRAFFIC  SHA256        SOURCE      CREATED\n"
    "       1        READY  candidate  canary  10%      c9a46b0fca8a  repository  "
    "2026-12-07T07:28:14Z\n"
    "       2        READY  champion   stable  90%      2f94f2d2e1fe  repository  "
    "2026-12-07T07:28:14Z\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the versions were printed\n"
    "       1      the server refused (unknown model: its message is shown), could not\n"
    "              be reached or answered badly\n"
    "       2      usage error\n";

static const char *const lineage_columns[] = {
    "VERSION", "SOURCE", "PARENT", "TRIGGER", "TRAINING", "WINDOW", "ROWS", "EVALUATED", "VERDICT"};

static const char *const columns[] = {"VERSION", "STATE",  "ALIASES", "ROUTES", "TRAFFIC",
                                      "SHA256",  "SOURCE", "CREATED", "REASON"};

/* A string field of o, or "-" when absent or empty. */
static const char *text_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_string(v) && json_string_length(v) > 0)
        return json_string_value(v);
    return "-";
}

/* The strings of an array field, ", "-separated, into b; "-" for none. */
static void join(struct md_buf *b, const json_t *arr)
{
    size_t i;

    md_buf_reset(b);
    for (i = 0; i < json_array_size(arr); i++) {
        const json_t *s = json_array_get(arr, i);

        if (!json_is_string(s))
            continue;
        if (b->len > 0)
            (void)md_buf_puts(b, ",");
        (void)md_buf_puts(b, json_string_value(s));
    }
    if (b->len == 0)
        (void)md_buf_puts(b, "-");
}

/* "2026-12-07T07:28:14.134Z" -> "2026-12-07T07:28:14Z": seconds are enough here. */
static void put_created(struct ctl_table *t, const json_t *row)
{
    const char *s = text_of(row, "created");
    const char *dot = strchr(s, '.');

    if (dot != NULL && dot[strcspn(dot, "Z")] == 'Z')
        ctl_table_cellf(t, "%.*sZ", (int)(dot - s), s);
    else
        ctl_table_cell(t, s);
}

static void put_row(struct ctl_table *t, const json_t *row, struct md_buf *tmp)
{
    const json_t *pct = json_object_get(row, "traffic_percent");
    const json_t *shadow = json_object_get(row, "shadow_fraction");
    const json_t *reason;
    char num[CTL_PERCENT_MAX];
    const char *sha = text_of(row, "sha256");

    ctl_table_cell(t, text_of(row, "version"));
    ctl_table_cell(t, text_of(row, "state"));
    join(tmp, json_object_get(row, "aliases"));
    ctl_table_cell(t, tmp->data != NULL ? tmp->data : "-");
    join(tmp, json_object_get(row, "routes"));
    if (json_is_number(shadow)) {
        ctl_format_percent(100.0 * json_number_value(shadow), num, sizeof(num));
        if (strcmp(tmp->data, "-") == 0)
            md_buf_reset(tmp);
        else
            (void)md_buf_puts(tmp, ",");
        (void)md_buf_printf(tmp, "shadow(%s)", num);
    }
    ctl_table_cell(t, tmp->data != NULL ? tmp->data : "-");
    if (json_is_number(pct)) {
        ctl_format_percent(json_number_value(pct), num, sizeof(num));
        ctl_table_cell(t, num);
    } else {
        ctl_table_cell(t, "-");
    }
    ctl_table_cellf(t, "%.12s", sha);
    ctl_table_cell(t, text_of(row, "source"));
    put_created(t, row);
    reason = json_object_get(row, "reason");
    ctl_table_cell(t, json_is_string(reason) ? json_string_value(reason) : "");
}

/* "2026-12-07T08:00" of ms since the epoch, or "?" */
static void fmt_minute(long long ms, char *out, size_t n)
{
    struct tm tm;
    time_t s = (time_t)(ms / 1000);

    if (ms <= 0 || gmtime_r(&s, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M", &tm) == 0)
        (void)snprintf(out, n, "?");
}

static long long int_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static void put_lineage(struct ctl_table *t, const json_t *row)
{
    const json_t *lin = json_object_get(json_object_get(row, "metadata"), "lineage");
    const json_t *win = json_object_get(lin, "window");
    const json_t *rows = json_object_get(lin, "rows");
    const json_t *ev = json_object_get(lin, "evaluation");
    const char *metric = text_of(ev, "metric");
    const json_t *cand = json_object_get(json_object_get(ev, "candidate"), metric);
    const json_t *champ = json_object_get(json_object_get(ev, "champion"), metric);
    char a[24];
    char b[24];

    ctl_table_cell(t, text_of(row, "version"));
    ctl_table_cell(t, text_of(row, "source"));
    if (!json_is_object(lin)) {
        for (size_t i = 2; i < MD_ARRAY_LEN(lineage_columns); i++)
            ctl_table_cell(t, "-");
        return;
    }
    ctl_table_cell(t, text_of(lin, "parent"));
    ctl_table_cell(t, text_of(lin, "trigger"));
    if (json_is_integer(json_object_get(lin, "training")))
        ctl_table_cellf(t, "%lld", int_at(lin, "training"));
    else
        ctl_table_cell(t, "-");
    if (json_is_object(win)) {
        fmt_minute(int_at(win, "since_ms"), a, sizeof(a));
        fmt_minute(int_at(win, "until_ms"), b, sizeof(b));
        ctl_table_cellf(t, "%s..%s", a, b);
    } else {
        ctl_table_cell(t, "-");
    }
    if (json_is_object(rows))
        ctl_table_cellf(t, "%lld+%lld", int_at(rows, "train"), int_at(rows, "holdout"));
    else
        ctl_table_cell(t, "-");
    if (json_is_number(cand) && json_is_number(champ))
        ctl_table_cellf(t, "%s %.4f vs %.4f", metric, json_number_value(cand),
                        json_number_value(champ));
    else if (json_is_number(cand))
        ctl_table_cellf(t, "%s %.4f", metric, json_number_value(cand));
    else
        ctl_table_cell(t, "-");
    ctl_table_cell(t, text_of(ev, "verdict"));
}

/* The argument walk: MODEL and --lineage. CTL_CONTINUE, or the exit status. */
static int versions_args(struct ctl *ctl, int argc, char **argv, const char **model, bool *lineage)
{
    struct ctl_args args;
    enum ctl_arg k;

    ctl_args_init(&args, "versions", versions_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            if (strcmp(argv[args.i], "--lineage") != 0)
                return ctl_args_unknown(&args);
            *lineage = true;
        } else if (*model == NULL) {
            *model = argv[args.i];
        } else {
            return ctl_usagef("versions", "unexpected argument '%s'", argv[args.i]);
        }
    }
    if (*model == NULL)
        return ctl_usagef("versions", "missing MODEL");
    return CTL_CONTINUE;
}

int cmd_versions(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_resp resp;
    struct ctl_table table;
    struct md_buf tmp;
    const char *model = NULL;
    const json_t *rows;
    bool lineage = false;
    json_t *doc = NULL;
    char what[300];
    size_t i;
    int rc;

    rc = versions_args(ctl, argc, argv, &model, &lineage);
    if (rc != CTL_CONTINUE)
        return rc;
    (void)snprintf(what, sizeof(what), "versions '%.200s'", model); /* fits */

    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "GET", model, "/versions", NULL, NULL, &resp, &doc);
    if (rc != CTL_EXIT_OK)
        goto out;
    rows = json_object_get(doc, "versions");
    if (!json_is_array(rows)) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no \"versions\" array", what);
        goto out;
    }
    if (ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
        goto out;
    }
    md_buf_init(&tmp, (size_t)1 << 20);
    if (lineage)
        ctl_table_init(&table, lineage_columns, MD_ARRAY_LEN(lineage_columns));
    else
        ctl_table_init(&table, columns, MD_ARRAY_LEN(columns));
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);

        if (json_is_object(row) && lineage)
            put_lineage(&table, row);
        else if (json_is_object(row))
            put_row(&table, row, &tmp);
    }
    ctl_table_print(&table, stdout);
    ctl_table_release(&table);
    md_buf_release(&tmp);
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
