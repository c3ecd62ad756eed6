/* SPDX-License-Identifier: MIT */
/*
 * cmd_predictions.c: "modelctl predictions", the prediction log (GET
 * /api/v1/predictions): a table of the first rows that match, or, with
 * --output, every row that matches exported to a file as JSON lines or CSV,
 * page after page (the cursor is the last row's id), with a progress bar on
 * stderr when it is a terminal.
 */
#include "ctl.h"
#include "util/mem.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

static const char predictions_help[] =
    "NAME\n"
    "       modelctl predictions - list or export the prediction log\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] predictions [FILTERS] [--limit N]\n"
    "       modelctl [GLOBAL OPTIONS] predictions [FILTERS] --output FILE\n"
    "                [--format jsonl|csv] [--limit N]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for the rows of its prediction log that match the\n"
    "       filters (GET /api/v1/predictions), oldest first. Without --output,\n"
    "       prints the first N (20 unless --limit says) as a table: ID, TIME (UTC),\n"
    "       MODEL, VERSION, ROUTE, REQUEST (id and row), STATUS, LABEL and SCORE;\n"
    "       with --json, the server's JSON answer.\n"
    "\n"
    "       With --output FILE, writes every matching row (at most --limit) to\n"
    "       FILE ('-': standard output) page by page: as JSON lines, one object a\n"
    "       row as the server lists it, or as CSV with the columns id,\n"
    "       request_id, row, time, model, version, route, shadow, status,\n"
    "       latency_us, label, score, then key.NAME, feature.NAME and output.NAME\n"
    "       for the names in the first page's rows. While it runs, a progress bar\n"
    "       on standard error (only when that is a terminal) shows the rows\n"
    "       written and how far their times have come between the start\n"
    "       (--since, or the first row's time) and the end (--until, or the time\n"
    "       the export began).\n"
    "\n"
    "FILTERS\n"
    "       --model M          rows of model M\n"
    "       --version V        rows of version V\n"
    "       --route R          rows that took traffic route R (stable, canary,\n"
    "                          shadow, ...)\n"
    "       --key NAME=VALUE   rows whose key NAME (model.yaml keys:) is VALUE\n"
    "       --request-id ID    the rows of one request\n"
    "       --since T          rows at or after T: a UTC time\n"
    "                          (2026-12-07T10:00:00Z) or milliseconds since 1970\n"
    "       --until T          rows before T\n"
    "       --feedback with|without\n"
    "                          only rows with (or without) current feedback\n"
    "       --after ID         rows after row ID (the cursor of the next page)\n"
    "\n"
    "OPTIONS\n"
    "       --limit N          at most N rows (table: default 20, at most 10000;\n"
    "                          export: default all)\n"
    "       --output FILE      export to FILE (above)\n"
    "       --format F         jsonl (the default) or csv; only with --output\n"
    "       --page N           rows asked for per request while exporting (1 to\n"
    "                          10000; default 1000)\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl predictions --model fraud --limit 2\n"
    "       ID  TIME                      MODEL  VERSION  ROUTE   REQUEST     STATUS  "
    "LABEL  SCORE\n"
    "       1   2026-12-07T10:01:12.331Z  fraud  2        stable  4f1c...:0   200     "
    "legit  0.019\n"
    "       2   2026-12-07T10:01:12.331Z  fraud  2        stable  4f1c...:1   200     "
    "fraud  0.91\n"
    "\n"
    "       $ modelctl predictions --model fraud --since 2026-12-01T00:00:00Z \\\n"
    "             --output fraud.csv --format csv\n"
    "       $ modelctl predictions --key txn=99 --json\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the rows were printed or exported\n"
    "       1      the server refused (a bad filter: its message is shown), could not\n"
    "              be reached or answered badly, or FILE could not be written\n"
    "       2      usage error\n";

#define PAGE_DEFAULT "1000"
#define NAMES_MAX    4096 /* CSV columns of keys, features and outputs at most */

enum { F_MODEL, F_VERSION, F_ROUTE, F_KEY, F_REQUEST, F_SINCE, F_UNTIL, F_FEEDBACK, F_AFTER, F_N };
static const char *const filter_names[F_N] = {"model", "version", "route",    "key",  "request-id",
                                              "since", "until",   "feedback", "after"};
static const char *const query_names[F_N] = {"model", "version", "route",    "key",  "request_id",
                                             "since", "until",   "feedback", "after"};

struct request {
    const char *filter[F_N];
    const char *limit;
    const char *output;
    const char *format;
    const char *page;
    long long max_rows; /* 0: no limit */
    bool csv;
};

/* The CSV columns: the first page's names of keys, features and outputs. */
struct columns {
    char *names[3][NAMES_MAX];
    size_t n[3];
    bool known;
};

static const char *const sections[3] = {"keys", "features", "outputs"};
static const char *const prefixes[3] = {"key.", "feature.", "output."};

/* ---- asking --------------------------------------------------------------------- */

static void query_arg(struct md_buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    if (md_buf_printf(b, "%c%s=", strchr(b->data, '?') != NULL ? '&' : '?', name) != MD_OK)
        return;
    if (ctl_path_segment(b, value) != MD_OK)
        return;
}

/* One page: GET /api/v1/predictions with the filters, after, limit and format. */
static int fetch(struct ctl *ctl, const struct request *rq, const char *after, const char *limit,
                 const char *format, struct ctl_resp *resp)
{
    struct md_buf path;
    size_t i;
    int rc;

    md_buf_init(&path, 65536);
    (void)md_buf_puts(&path, "/api/v1/predictions");
    for (i = 0; i < F_N; i++)
        if (i != F_AFTER)
            query_arg(&path, query_names[i], rq->filter[i]);
    query_arg(&path, "after", after);
    query_arg(&path, "limit", limit);
    query_arg(&path, "format", format);
    if (md_buf_error(&path) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "predictions: filters too long");
    }
    rc = ctl_http(ctl, "predictions", "GET", path.data, NULL, 0, resp);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK && !ctl_resp_ok(resp))
        rc = ctl_fail_resp("predictions", resp);
    return rc;
}

/* ---- the table ------------------------------------------------------------------- */

static const char *str_of(const json_t *e, const char *key, const char *none)
{
    const json_t *v = json_object_get(e, key);

    return json_is_string(v) ? json_string_value(v) : none;
}

static int table(struct ctl *ctl, const struct request *rq)
{
    static const char *const header[] = {"ID",      "TIME",   "MODEL", "VERSION", "ROUTE",
                                         "REQUEST", "STATUS", "LABEL", "SCORE"};
    struct ctl_resp resp;
    struct ctl_table t;
    json_t *doc = NULL;
    json_t *rows;
    size_t i;
    int rc;

    ctl_resp_init(&resp);
    rc = fetch(ctl, rq, rq->filter[F_AFTER], rq->limit != NULL ? rq->limit : "20", NULL, &resp);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
        ctl_resp_release(&resp);
        return CTL_EXIT_OK;
    }
    if (rc == CTL_EXIT_OK)
        rc = ctl_resp_json("predictions", &resp, &doc);
    ctl_resp_release(&resp);
    if (rc != CTL_EXIT_OK)
        return rc;
    rows = json_object_get(doc, "predictions");
    if (!json_is_array(rows)) {
        json_decref(doc);
        return ctl_errorf(CTL_EXIT_FAIL, "predictions: bad response from server: no "
                                         "\"predictions\" array");
    }
    ctl_table_init(&t, header, MD_ARRAY_LEN(header));
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *r = json_array_get(rows, i);
        const json_t *score = json_object_get(r, "score");
        char num[CTL_REAL_MAX];

        ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(r, "id")));
        ctl_table_cell(&t, str_of(r, "time", "-"));
        ctl_table_cell(&t, str_of(r, "model", "-"));
        ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(r, "version")));
        ctl_table_cell(&t, str_of(r, "route", "-"));
        ctl_table_cellf(&t, "%s:%lld", str_of(r, "request_id", "-"),
                        (long long)json_integer_value(json_object_get(r, "row")));
        ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(r, "status")));
        ctl_table_cell(&t, str_of(r, "label", "-"));
        if (json_is_number(score)) {
            ctl_format_real(json_number_value(score), num, sizeof(num));
            ctl_table_cell(&t, num);
        } else {
            ctl_table_cell(&t, "-");
        }
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
    json_decref(doc);
    return CTL_EXIT_OK;
}

/* ---- the export ------------------------------------------------------------------ */

struct progress {
    bool on;         /* standard error is a terminal */
    int64_t from_ms; /* the start of the range (0: the first row's time) */
    int64_t to_ms;   /* its end */
    long long rows;  /* rows written */
    double start_s;  /* when the export began */
    double shown_s;  /* when the bar was last drawn */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Draws the bar for the last row's time at_ms (at most 10 times a second, or when done). */
static void draw(struct progress *p, int64_t at_ms, bool done)
{
    double now = now_s();
    double share = 1;
    char bar[31];
    int fill;

    if (!p->on || (!done && now - p->shown_s < 0.1))
        return;
    p->shown_s = now;
    if (p->from_ms == 0)
        p->from_ms = at_ms;
    if (!done && p->to_ms > p->from_ms)
        share = (double)(at_ms - p->from_ms) / (double)(p->to_ms - p->from_ms);
    if (share < 0)
        share = 0;
    if (share > 1)
        share = 1;
    fill = (int)(share * 30);
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '-', (size_t)(30 - fill));
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %lld rows  %.1f s", bar, (int)(share * 100), p->rows,
            now - p->start_s);
    if (done)
        fputc('\n', stderr);
    (void)fflush(stderr);
}

/* Writes s as one CSV field (quoted when it holds a comma, a quote or a line end). */
static void csv_field(FILE *f, const char *s, bool first)
{
    if (!first)
        fputc(',', f);
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A JSON value as a CSV field's text: strings as they are, null as empty, others as JSON. */
static void csv_value(FILE *f, const json_t *v)
{
    char *s;

    if (v == NULL || json_is_null(v)) {
        fputc(',', f);
        return;
    }
    if (json_is_string(v)) {
        csv_field(f, json_string_value(v), false);
        return;
    }
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    csv_field(f, s != NULL ? s : "", false);
    free(s);
}

static const char *const fixed[] = {"id",     "request_id", "row",   "time",
                                    "model",  "version",    "route", "shadow",
                                    "status", "latency_us", "label", "score"};

/* The columns from the rows of the first page, and the header. */
static void csv_header(FILE *f, struct columns *c, const json_t *rows)
{
    size_t i;
    size_t s;
    size_t k;

    for (i = 0; i < json_array_size(rows); i++) {
        for (s = 0; s < 3; s++) {
            const json_t *obj = json_object_get(json_array_get(rows, i), sections[s]);
            const char *name;
            const json_t *v;

            json_object_foreach((json_t *)obj, name, v)
            {
                MD_UNUSED(v);
                for (k = 0; k < c->n[s] && strcmp(c->names[s][k], name) != 0; k++)
                    ;
                if (k == c->n[s] && c->n[s] < NAMES_MAX)
                    c->names[s][c->n[s]++] = md_xstrdup(name);
            }
        }
    }
    for (i = 0; i < MD_ARRAY_LEN(fixed); i++)
        csv_field(f, fixed[i], i == 0);
    for (s = 0; s < 3; s++) {
        for (k = 0; k < c->n[s]; k++) {
            char name[512];

            (void)snprintf(name, sizeof(name), "%s%s", prefixes[s], c->names[s][k]);
            csv_field(f, name, false);
        }
    }
    fputc('\n', f);
    c->known = true;
}

static void csv_row(FILE *f, const struct columns *c, const json_t *r)
{
    size_t i;
    size_t s;
    size_t k;

    for (i = 0; i < MD_ARRAY_LEN(fixed); i++) {
        if (i == 0) {
            fprintf(f, "%lld", (long long)json_integer_value(json_object_get(r, "id")));
            continue;
        }
        csv_value(f, json_object_get(r, fixed[i]));
    }
    for (s = 0; s < 3; s++) {
        const json_t *obj = json_object_get(r, sections[s]);

        for (k = 0; k < c->n[s]; k++)
            csv_value(f, json_object_get(obj, c->names[s][k]));
    }
    fputc('\n', f);
}

/* Writes the rows of one page (a JSON document); the last one's id and time into *last. */
static int write_page(FILE *f, const struct request *rq, struct columns *c, struct progress *p,
                      const json_t *rows, int64_t *last_id, int64_t *last_ms)
{
    size_t i;

    if (rq->csv && !c->known)
        csv_header(f, c, rows);
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *r = json_array_get(rows, i);

        if (rq->max_rows > 0 && p->rows >= rq->max_rows)
            break;
        if (rq->csv) {
            csv_row(f, c, r);
        } else {
            char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));

            if (s == NULL)
                return ctl_errorf(CTL_EXIT_FAIL, "predictions: out of memory");
            fputs(s, f);
            fputc('\n', f);
            free(s);
        }
        p->rows++;
        *last_id = (int64_t)json_integer_value(json_object_get(r, "id"));
        *last_ms = (int64_t)json_integer_value(json_object_get(r, "at_ms"));
    }
    if (ferror(f))
        return ctl_errorf(CTL_EXIT_FAIL, "predictions: cannot write '%s': %s", rq->output,
                          strerror(errno));
    return CTL_EXIT_OK;
}

static int export_to(struct ctl *ctl, const struct request *rq, FILE *f)
{
    struct columns c;
    struct progress p;
    char after[32];
    const char *cursor = rq->filter[F_AFTER];
    long long page_n = strtoll(rq->page != NULL ? rq->page : PAGE_DEFAULT, NULL, 10);
    int64_t last_id = 0;
    int64_t last_ms = 0;
    int rc = CTL_EXIT_OK;
    size_t s;
    size_t k;

    memset(&c, 0, sizeof(c));
    memset(&p, 0, sizeof(p));
    p.on = isatty(STDERR_FILENO) == 1;
    p.start_s = now_s();
    p.to_ms = wall_ms();
    if (rq->filter[F_SINCE] != NULL && strchr(rq->filter[F_SINCE], '-') == NULL)
        p.from_ms = strtoll(rq->filter[F_SINCE], NULL, 10);
    if (rq->filter[F_UNTIL] != NULL && strchr(rq->filter[F_UNTIL], '-') == NULL)
        p.to_ms = strtoll(rq->filter[F_UNTIL], NULL, 10);
    for (;;) {
        struct ctl_resp resp;
        json_t *doc = NULL;
        json_t *rows;
        size_t n;

        ctl_resp_init(&resp);
        rc = fetch(ctl, rq, cursor, rq->page != NULL ? rq->page : PAGE_DEFAULT, NULL, &resp);
        if (rc == CTL_EXIT_OK)
            rc = ctl_resp_json("predictions", &resp, &doc);
        ctl_resp_release(&resp);
        if (rc != CTL_EXIT_OK)
            break;
        rows = json_object_get(doc, "predictions");
        if (!json_is_array(rows)) {
            json_decref(doc);
            rc = ctl_errorf(CTL_EXIT_FAIL, "predictions: bad response from server: no "
                                           "\"predictions\" array");
            break;
        }
        n = json_array_size(rows);
        rc = write_page(f, rq, &c, &p, rows, &last_id, &last_ms);
        json_decref(doc);
        if (rc != CTL_EXIT_OK)
            break;
        draw(&p, last_ms, false);
        if ((long long)n < page_n || (rq->max_rows > 0 && p.rows >= rq->max_rows))
            break;
        (void)snprintf(after, sizeof(after), "%lld", (long long)last_id);
        cursor = after;
    }
    if (rc == CTL_EXIT_OK && rq->csv && !c.known)
        csv_header(f, &c, NULL);
    draw(&p, last_ms, true);
    for (s = 0; s < 3; s++)
        for (k = 0; k < c.n[s]; k++)
            free(c.names[s][k]);
    return rc;
}

static int export_rows(struct ctl *ctl, const struct request *rq)
{
    FILE *f = strcmp(rq->output, "-") == 0 ? stdout : fopen(rq->output, "w");
    int rc;

    if (f == NULL)
        return ctl_errorf(CTL_EXIT_FAIL, "predictions: cannot open '%s': %s", rq->output,
                          strerror(errno));
    rc = export_to(ctl, rq, f);
    if (f != stdout) {
        if (fclose(f) != 0 && rc == CTL_EXIT_OK)
            rc = ctl_errorf(CTL_EXIT_FAIL, "predictions: cannot write '%s': %s", rq->output,
                            strerror(errno));
    } else if (fflush(f) != 0 && rc == CTL_EXIT_OK) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "predictions: cannot write output: %s", strerror(errno));
    }
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

static int whole(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || *out < lo || *out > hi || v[0] == ' ' ||
        v[0] == '+')
        return ctl_usagef("predictions", "--%s: '%s' is not a whole number from %lld to %lld", opt,
                          v, lo, hi);
    return CTL_EXIT_OK;
}

static int check_args(struct request *rq)
{
    long long n;

    if (rq->format != NULL) {
        if (rq->output == NULL)
            return ctl_usagef("predictions", "--format goes with --output");
        if (strcmp(rq->format, "csv") == 0)
            rq->csv = true;
        else if (strcmp(rq->format, "jsonl") != 0)
            return ctl_usagef("predictions", "--format: '%s' is not jsonl or csv", rq->format);
    }
    if (rq->page != NULL && rq->output == NULL)
        return ctl_usagef("predictions", "--page goes with --output");
    if (rq->page != NULL && whole("page", rq->page, 1, 10000, &n) != CTL_EXIT_OK)
        return CTL_EXIT_USAGE;
    if (rq->limit != NULL &&
        whole("limit", rq->limit, 1, rq->output != NULL ? (1LL << 62) : 10000, &n) != CTL_EXIT_OK)
        return CTL_EXIT_USAGE;
    if (rq->limit != NULL && rq->output != NULL)
        rq->max_rows = n;
    if (rq->filter[F_KEY] != NULL && strchr(rq->filter[F_KEY], '=') == NULL)
        return ctl_usagef("predictions", "--key: '%s' is not NAME=VALUE", rq->filter[F_KEY]);
    if (rq->filter[F_FEEDBACK] != NULL && strcmp(rq->filter[F_FEEDBACK], "with") != 0 &&
        strcmp(rq->filter[F_FEEDBACK], "without") != 0)
        return ctl_usagef("predictions", "--feedback: '%s' is not with or without",
                          rq->filter[F_FEEDBACK]);
    return CTL_EXIT_OK;
}

static int parse_args(struct ctl *ctl, int argc, char **argv, struct request *rq, bool *stop)
{
    static const char *const opts[] = {"limit", "output", "format", "page"};
    const char **slots[] = {&rq->limit, &rq->output, &rq->format, &rq->page};
    struct ctl_args args;
    enum ctl_arg k;
    const char *v = NULL;
    size_t o;
    int r;

    ctl_args_init(&args, "predictions", predictions_help, argc, argv);
    args.own_key = true; /* its --key names a prediction key, not the client key */
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        bool taken = false;

        if (k == CTL_ARG_EXIT) {
            *stop = true;
            return args.exit_code;
        }
        if (k == CTL_ARG_WORD)
            return ctl_usagef("predictions", "unexpected argument '%s'", argv[args.i]);
        for (o = 0; o < F_N && !taken; o++) {
            r = ctl_opt("predictions", argc, argv, &args.i, filter_names[o], &v);
            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0) {
                rq->filter[o] = v;
                taken = true;
            }
        }
        for (o = 0; o < MD_ARRAY_LEN(opts) && !taken; o++) {
            r = ctl_opt("predictions", argc, argv, &args.i, opts[o], &v);
            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0) {
                *slots[o] = v;
                taken = true;
            }
        }
        if (!taken)
            return ctl_args_unknown(&args);
    }
    return check_args(rq);
}

int cmd_predictions(int argc, char **argv, struct ctl *ctl)
{
    struct request rq;
    bool stop = false;
    int rc;

    memset(&rq, 0, sizeof(rq));
    rc = parse_args(ctl, argc, argv, &rq, &stop);
    if (rc != CTL_EXIT_OK || stop)
        return rc;
    if (rq.output != NULL)
        return export_rows(ctl, &rq);
    return table(ctl, &rq);
}
