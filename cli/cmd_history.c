/* SPDX-License-Identifier: MIT */
/*
 * cmd_history.c: "modelctl history", one named metric of a model over time
 * (GET /api/v1/models/{m}/history) drawn as a bar chart in the terminal:
 * a column per point, the value's height in eighths of a row with Unicode
 * block elements (or '#' and '.' in ASCII), the value axis labelled on the
 * left, the time axis (UTC) below, and a line of figures under it. The
 * width is $COLUMNS or 80, so it draws the same whether or not standard
 * output is a terminal.
 *
 * The server chooses the step unless --step is given; when its answer has
 * more points than the chart has columns, the range is asked again with a
 * step that fits (a whole number of the server's), so that every column is
 * one point computed by the server from the rollups, never a mean of means.
 */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <time.h>

static const char history_help[] =
    "NAME\n"
    "       modelctl history - draw a named metric of a model over time\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] history MODEL --metric NAME [--since T] [--until T]\n"
    "                [--step D] [--version N] [--route R] [--height ROWS] [--ascii]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for the per-minute history of one metric of MODEL (GET\n"
    "       /api/v1/models/{m}/history) and draws it as a bar chart: a column per\n"
    "       point, oldest on the left, the value axis on the left, time (UTC) below,\n"
    "       then the lowest, highest and last values. A point without data (a\n"
    "       latency or a rate over a step without requests) is an empty column.\n"
    "       The chart is $COLUMNS characters wide (80 when unset), with or without\n"
    "       a terminal. Unicode block elements are used when the locale is UTF-8,\n"
    "       '#' and '.' otherwise (or with --ascii).\n"
    "\n"
    "OPTIONS\n"
    "       --metric NAME  required: error_rate, requests, errors, success_rate,\n"
    "                      requests_per_second, rows_per_second, latency_p50_ms,\n"
    "                      latency_p90_ms, latency_p99_ms, latency_mean_ms, or any\n"
    "                      other name the server keeps (GET /api/v1/models/{m}/signals)\n"
    "       --since T      start: a duration before now (6h, 30m, 7d), a UTC time\n"
    "                      (2026-12-07T10:00:00Z) or milliseconds since 1970;\n"
    "                      default 1h\n"
    "       --until T      end, as --since; default now\n"
    "       --step D       the step of the points (5m, 1h): a whole number of the\n"
    "                      server's step (a minute); default one that fits the width\n"
    "       --version N    one version (default: the model as a whole)\n"
    "       --route R      one route (request metrics only; default every route but\n"
    "                      shadow)\n"
    "       --height ROWS  rows of the chart, 3 to 100 (default 10)\n"
    "       --ascii        draw with ASCII characters only\n"
    "       --json         print the server's JSON answer instead\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl history fraud --metric error_rate --since 6h\n"
    "       $ modelctl history fraud --metric latency_p99_ms --version 3 --step 5m\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the chart was drawn\n"
    "       1      the server refused (a bad metric or range: its message is shown),\n"
    "              could not be reached or answered badly\n"
    "       2      usage error\n";

#define WIDTH_DEFAULT  80
#define WIDTH_MIN      40
#define WIDTH_MAX      1000
#define HEIGHT_DEFAULT 10
#define LABEL_MAX      12 /* the value labels' width at most */

struct request {
    const char *model;
    const char *metric;
    const char *since;
    const char *until;
    const char *step;
    const char *version;
    const char *route;
    int height;
    bool ascii;
};

/* ------------------------------------------------------------------ */
/* Asking                                                             */
/* ------------------------------------------------------------------ */

/* Appends "&name=value" (value percent-encoded) when value is not NULL. */
static void query_arg(struct md_buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    if (md_buf_printf(b, "%c%s=", strchr(b->data, '?') != NULL ? '&' : '?', name) != MD_OK)
        return; /* the buffer's error says so */
    if (ctl_path_segment(b, value) != MD_OK)
        return; /* the buffer's error says so */
}

/* GET .../history with the request's arguments (since, until and step as given). */
static int fetch(struct ctl *ctl, const struct request *rq, const char *since, const char *until,
                 const char *step, struct ctl_resp *resp, json_t **doc)
{
    struct md_buf path;
    int rc;

    md_buf_init(&path, 16384);
    if (ctl_model_path(&path, rq->model, "/history") != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "history: model name too long");
    }
    query_arg(&path, "metric", rq->metric);
    query_arg(&path, "since", since);
    query_arg(&path, "until", until);
    query_arg(&path, "step", step);
    query_arg(&path, "version", rq->version);
    query_arg(&path, "route", rq->route);
    if (md_buf_error(&path) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "history: arguments too long");
    }
    rc = ctl_call_json(ctl, "history", "GET", path.data, NULL, NULL, 0, resp, doc);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK && !json_is_array(json_object_get(*doc, "points"))) {
        json_decref(*doc);
        *doc = NULL;
        return ctl_errorf(CTL_EXIT_FAIL, "history: bad response from server: no \"points\"");
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Drawing                                                            */
/* ------------------------------------------------------------------ */

static int64_t int_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A point's value, NaN when null. */
static double value_of(const json_t *p)
{
    const json_t *v = json_object_get(p, "value");

    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Whether the locale's character set is UTF-8 (LC_ALL, LC_CTYPE, LANG). */
static bool utf8_locale(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};

    for (size_t i = 0; i < MD_ARRAY_LEN(vars); i++) {
        const char *v = getenv(vars[i]);

        if (v != NULL && v[0] != '\0')
            return strcasestr(v, "utf-8") != NULL || strcasestr(v, "utf8") != NULL;
    }
    return false;
}

/* The chart's width: $COLUMNS when it is a number in range, else 80. */
static int chart_width(void)
{
    const char *c = getenv("COLUMNS");
    char *end;
    long w;

    if (c == NULL || c[0] == '\0')
        return WIDTH_DEFAULT;
    errno = 0;
    w = strtol(c, &end, 10);
    if (*end != '\0' || errno != 0 || w < WIDTH_MIN)
        return w > 0 && *end == '\0' ? WIDTH_MIN : WIDTH_DEFAULT;
    return w > WIDTH_MAX ? WIDTH_MAX : (int)w;
}

/* A value as an axis label: 4 significant digits. */
static void label(double v, char *out, size_t n)
{
    (void)snprintf(out, n, "%.4g", v);
}

/* A time as the axis shows it: the date too when the range spans days,
 * seconds when the step is below a minute. */
static void time_label(int64_t ms, int64_t range_ms, int64_t step_ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t len;

    if (gmtime_r(&t, &tm) == NULL) {
        (void)snprintf(out, n, "?");
        return;
    }
    if (range_ms >= 86400000)
        len = strftime(out, n, "%m-%d %H:%M", &tm);
    else if (step_ms < 60000)
        len = strftime(out, n, "%H:%M:%S", &tm);
    else
        len = strftime(out, n, "%H:%M", &tm);
    if (len == 0)
        (void)snprintf(out, n, "?");
}

/* A step in the largest unit that divides it ("5m", "1h", "300ms"). */
static void step_label(int64_t ms, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

    for (size_t i = 0; i < MD_ARRAY_LEN(units); i++) {
        if (ms % units[i].ms == 0) {
            (void)snprintf(out, n, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    (void)snprintf(out, n, "%lldms", (long long)ms);
}

/* One cell of a column filled `eighths` (0 to 8) eighths of a row from below. */
static void put_cell(int eighths, bool ascii)
{
    static const char *const blocks[] = {" ",      "\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};

    if (ascii)
        fputc(eighths >= 4 ? '#' : eighths > 0 ? '.' : ' ', stdout);
    else
        fputs(blocks[eighths], stdout);
}

/* The chart's value range: from 0 (or the lowest value when below 0) to the highest. */
static void value_range(const json_t *points, double *lo, double *hi, size_t *with_data)
{
    *lo = 0;
    *hi = 0;
    *with_data = 0;
    for (size_t i = 0; i < json_array_size(points); i++) {
        double v = value_of(json_array_get(points, i));

        if (isnan(v))
            continue;
        if (v < *lo)
            *lo = v;
        if (v > *hi)
            *hi = v;
        (*with_data)++;
    }
    if (*hi == *lo)
        *hi = *lo + 1;
}

/* The header line: what is drawn. */
static void print_title(const json_t *doc, int64_t step_ms)
{
    const json_t *unit = json_object_get(doc, "unit");
    const json_t *version = json_object_get(doc, "version");
    const json_t *route = json_object_get(doc, "route");
    char from[32];
    char to[32];
    char step[24];
    int64_t since = int_of(doc, "since_ms");
    int64_t until = int_of(doc, "until_ms");
    time_t t = (time_t)(since / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(from, sizeof(from), "%Y-%m-%d %H:%M:%S", &tm) == 0)
        (void)snprintf(from, sizeof(from), "?");
    t = (time_t)(until / 1000);
    if (gmtime_r(&t, &tm) == NULL || strftime(to, sizeof(to), "%Y-%m-%d %H:%M:%S", &tm) == 0)
        (void)snprintf(to, sizeof(to), "?");
    step_label(step_ms, step, sizeof(step));
    printf("%s %s", json_string_value(json_object_get(doc, "model")),
           json_string_value(json_object_get(doc, "metric")));
    if (json_is_string(unit) && json_string_length(unit) > 0)
        printf(" (%s)", json_string_value(unit));
    if (json_is_integer(version))
        printf(", version %lld", (long long)json_integer_value(version));
    if (json_is_string(route))
        printf(", route %s", json_string_value(route));
    printf(": %s to %s UTC, step %s\n", from, to, step);
}

/* The time axis under the plot: a rule with ticks, and labels under them. */
static void print_time_axis(int64_t since, size_t n, int lw, int64_t step_ms, bool ascii)
{
    int64_t range = (int64_t)n * step_ms;
    size_t ticks[3] = {0, n / 2, n > 0 ? n - 1 : 0};
    char labels[3][24];
    size_t pos = 0;

    printf("%*s%s", lw, "", ascii ? "+" : "\u2514");
    for (size_t i = 0; i < n; i++)
        fputs(i == ticks[0] || i == ticks[1] || i == ticks[2] ? (ascii ? "+" : "\u252c")
                                                              : (ascii ? "-" : "\u2500"),
              stdout);
    fputc('\n', stdout);
    for (int k = 0; k < 3; k++)
        time_label(since + (int64_t)ticks[k] * step_ms, range, step_ms, labels[k],
                   sizeof(labels[k]));
    /* Each label starts under its tick, or after the previous label; the
     * last ends under its tick when there is room. */
    printf("%*s ", lw, "");
    for (int k = 0; k < 3; k++) {
        size_t want = ticks[k];
        size_t len = strlen(labels[k]);

        if (k == 2 && want + 1 >= len)
            want = want + 1 - len;
        if (k > 0 && (want < pos + 1 || ticks[k] == ticks[k - 1]))
            continue;
        printf("%*s%s", (int)(want - pos), "", labels[k]);
        pos = want + len;
    }
    fputc('\n', stdout);
}

/* The figures under the chart. */
static void print_figures(const json_t *points, size_t with_data)
{
    double min = INFINITY;
    double max = -INFINITY;
    double last = NAN;
    char a[CTL_REAL_MAX];
    char b[CTL_REAL_MAX];
    char c[CTL_REAL_MAX];
    size_t n = json_array_size(points);

    for (size_t i = 0; i < n; i++) {
        double v = value_of(json_array_get(points, i));

        if (isnan(v))
            continue;
        min = v < min ? v : min;
        max = v > max ? v : max;
        last = v;
    }
    if (with_data == 0) {
        printf("no data in %zu points\n", n);
        return;
    }
    label(min, a, sizeof(a));
    label(max, b, sizeof(b));
    label(last, c, sizeof(c));
    printf("min %s  max %s  last %s  (%zu points, %zu without data)\n", a, b, c, n, n - with_data);
}

/* Draws the chart; past `columns` points, the latest that fit (the title says so). */
static void draw(const json_t *doc, const struct request *rq, size_t columns)
{
    json_t *all = json_object_get(doc, "points");
    size_t total = json_array_size(all);
    size_t first = total > columns ? total - columns : 0;
    json_t *points = json_array();
    size_t n;
    int64_t step_ms = int_of(doc, "step_ms");
    double lo, hi;
    size_t with_data;
    char top[LABEL_MAX + 1];
    char mid[LABEL_MAX + 1];
    char bottom[LABEL_MAX + 1];
    int lw;

    for (size_t i = first; i < total; i++)
        json_array_append(points, json_array_get(all, i));
    n = json_array_size(points);
    value_range(points, &lo, &hi, &with_data);
    label(hi, top, sizeof(top));
    label((lo + hi) / 2, mid, sizeof(mid));
    label(lo, bottom, sizeof(bottom));
    lw = (int)strlen(top);
    lw = (int)strlen(mid) > lw ? (int)strlen(mid) : lw;
    lw = (int)strlen(bottom) > lw ? (int)strlen(bottom) : lw;
    print_title(doc, step_ms);
    if (first > 0)
        printf("(the latest %zu of %zu points: the width holds no more)\n", n, total);
    for (int row = rq->height - 1; row >= 0; row--) {
        const char *l = row == rq->height - 1   ? top
                        : row == rq->height / 2 ? mid
                        : row == 0              ? bottom
                                                : "";

        printf("%*s%s", lw, l,
               l[0] != '\0' ? (rq->ascii ? "|" : "\u2524") : (rq->ascii ? "|" : "\u2502"));
        for (size_t i = 0; i < n; i++) {
            double v = value_of(json_array_get(points, i));
            long eighths;

            if (isnan(v)) {
                fputc(' ', stdout);
                continue;
            }
            eighths = lround((v - lo) / (hi - lo) * rq->height * 8) - (long)row * 8;
            /* A value above the bottom shows at least a sliver. */
            if (row == 0 && eighths <= 0 && v > lo)
                eighths = 1;
            put_cell(eighths < 0 ? 0 : eighths > 8 ? 8 : (int)eighths, rq->ascii);
        }
        fputc('\n', stdout);
    }
    print_time_axis(int_of(doc, "since_ms") + (int64_t)first * step_ms, n, lw, step_ms, rq->ascii);
    print_figures(points, with_data);
    json_decref(points);
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

static int parse_args(struct ctl *ctl, int argc, char **argv, struct request *rq, bool *stop)
{
    static const char *const names[] = {"metric",  "since", "until", "step",
                                        "version", "route", "height"};
    const char *height = NULL;
    const char **slots[] = {&rq->metric,  &rq->since, &rq->until, &rq->step,
                            &rq->version, &rq->route, &height};
    struct ctl_args args;
    enum ctl_arg k;
    const char *v = NULL;
    size_t o;
    int r;

    ctl_args_init(&args, "history", history_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT) {
            *stop = true;
            return args.exit_code;
        }
        if (k == CTL_ARG_WORD) {
            if (rq->model != NULL)
                return ctl_usagef("history", "unexpected argument '%s'", argv[args.i]);
            rq->model = argv[args.i];
            continue;
        }
        if (strcmp(argv[args.i], "--ascii") == 0) {
            rq->ascii = true;
            continue;
        }
        for (o = 0; o < MD_ARRAY_LEN(names); o++) {
            r = ctl_opt("history", argc, argv, &args.i, names[o], &v);
            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0) {
                *slots[o] = v;
                break;
            }
        }
        if (o == MD_ARRAY_LEN(names))
            return ctl_args_unknown(&args);
    }
    if (rq->model == NULL)
        return ctl_usagef("history", "missing MODEL");
    if (rq->metric == NULL)
        return ctl_usagef("history", "missing --metric NAME (error_rate, latency_p99_ms, ...)");
    if (height != NULL) {
        char *end;
        long h;

        errno = 0;
        h = strtol(height, &end, 10);
        if (end == height || *end != '\0' || errno != 0 || h < 3 || h > 100)
            return ctl_usagef("history", "--height: '%s' is not a whole number from 3 to 100",
                              height);
        rq->height = (int)h;
    }
    return CTL_EXIT_OK;
}

int cmd_history(int argc, char **argv, struct ctl *ctl)
{
    struct request rq = {.height = HEIGHT_DEFAULT};
    struct ctl_resp resp;
    json_t *doc = NULL;
    bool stop = false;
    int rc = parse_args(ctl, argc, argv, &rq, &stop);
    size_t columns;

    if (rc != CTL_EXIT_OK || stop)
        return rc;
    if (!rq.ascii && !utf8_locale())
        rq.ascii = true;
    ctl_resp_init(&resp);
    rc = fetch(ctl, &rq, rq.since, rq.until, rq.step, &resp, &doc);
    /* The columns the plot has beside the widest value label and its rule. */
    columns = (size_t)(chart_width() - LABEL_MAX - 1);
    if (rc == CTL_EXIT_OK && rq.step == NULL &&
        json_array_size(json_object_get(doc, "points")) > columns) {
        /* Too many points for the width: ask again with a step that fits. */
        size_t n = json_array_size(json_object_get(doc, "points"));
        int64_t step_ms = int_of(doc, "step_ms");
        char since[24], until[24], step[24];

        (void)snprintf(since, sizeof(since), "%lld", (long long)int_of(doc, "since_ms"));
        (void)snprintf(until, sizeof(until), "%lld", (long long)int_of(doc, "until_ms"));
        (void)snprintf(step, sizeof(step), "%lldms",
                       (long long)step_ms * (long long)((n + columns - 1) / columns));
        json_decref(doc);
        doc = NULL;
        rc = fetch(ctl, &rq, since, until, step, &resp, &doc);
    }
    if (rc == CTL_EXIT_OK) {
        if (ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else
            draw(doc, &rq, columns);
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    if (rc == CTL_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout)))
        return ctl_errorf(CTL_EXIT_FAIL, "history: cannot write output: %s", strerror(errno));
    return rc;
}
