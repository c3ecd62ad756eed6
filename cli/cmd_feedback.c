/* SPDX-License-Identifier: MIT */
/*
 * cmd_feedback.c: "modelctl feedback import FILE.csv", outcomes of past
 * predictions read from a CSV file and sent to POST /api/v1/feedback in
 * batches, with a progress bar on stderr when it is a terminal. Each row
 * the server (or the file) refuses is reported with its line number; the
 * others are stored.
 *
 * The CSV's first line names the columns: request_id and row, or a key
 * column ("key:txn", or the name given by --key); one of label, value,
 * reward, rating; optionally model, source, comment. An empty cell is
 * absent. Fields may be quoted ("a, b"), with "" for a quote inside.
 */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

static const char feedback_help[] =
    "NAME\n"
    "       modelctl feedback import - send the outcomes of past predictions from a\n"
    "       CSV file\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] feedback import FILE.csv [--model M] [--key NAME]\n"
    "                [--source user|system|expert] [--batch N]\n"
    "\n"
    "DESCRIPTION\n"
    "       Reads FILE.csv ('-': standard input) and sends its rows to the server\n"
    "       (POST /api/v1/feedback), N rows a request (500 unless --batch says), each\n"
    "       stored before the server answers. The first line names the columns:\n"
    "\n"
    "         request_id, row   the prediction: its request id and row (row may be\n"
    "                           left out, or empty, for one-row requests)\n"
    "         key:NAME          or the prediction found by its key NAME (a 'keys:'\n"
    "                           field of the model), e.g. key:txn\n"
    "         label             the true class (classification), or\n"
    "         value             the true value (regression), or\n"
    "         reward, rating    a reward or rating of the prediction\n"
    "         model             the model (else --model)\n"
    "         source            user, system or expert (else --source, else user)\n"
    "         comment           free text\n"
    "\n"
    "       Empty cells are absent; a row gives exactly one of label, value, reward and\n"
    "       rating. A row the file or the server refuses is reported on stderr with its\n"
    "       line number and reason ('modelctl: FILE:12: label: ...'); the other rows are\n"
    "       stored. Feedback for a prediction not stored yet is kept pending until it\n"
    "       is. On a terminal, stderr shows a progress bar while the rows are sent.\n"
    "\n"
    "OPTIONS\n"
    "       --model M     the model of rows without a model column\n"
    "       --key NAME    the column named NAME holds the key NAME of each row\n"
    "       --source S    the source of rows without a source column\n"
    "       --batch N     rows per request (1 to 10000; default 500)\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ cat labels.csv\n"
    "       request_id,row,label,source\n"
    "       01a25002f6494ba783900362b9aa4b43,0,fraud,expert\n"
    "       $ modelctl feedback import labels.csv --model fraud\n"
    "       stored 1 of 1 rows (1 attached to their predictions, 0 pending)\n"
    "\n"
    "       $ modelctl feedback import chargebacks.csv --model fraud --key txn\n"
    "\n"
    "EXIT STATUS\n"
    "       0      every row was stored\n"
    "       1      some row was refused (each reported), or the server could not be\n"
    "              reached or answered badly\n"
    "       2      usage error, or the file cannot be read or has no usable header\n";

#define DEFAULT_BATCH 500
#define MAX_BATCH     10000
#define MAX_COLUMNS   64
#define BAR_WIDTH     30

enum col {
    COL_MODEL,
    COL_REQUEST_ID,
    COL_ROW,
    COL_KEY,
    COL_LABEL,
    COL_VALUE,
    COL_REWARD,
    COL_RATING,
    COL_SOURCE,
    COL_COMMENT,
    COL_IGNORED
};

struct import {
    const char *file;
    const char *model;
    const char *key;    /* --key */
    const char *source; /* --source */
    long batch;
    enum col cols[MAX_COLUMNS];
    char *key_name; /* the key's name (owned), or NULL */
    size_t n_cols;
    size_t lines; /* data lines in the file */
    size_t sent;
    size_t stored;
    size_t attached;
    size_t pending;
    size_t failed;
    bool bar; /* stderr is a terminal */
};

/* ---- CSV ------------------------------------------------------------------ */

/*
 * The next record of text at *p: its fields NUL-terminated in place (quotes
 * removed) into fields (at most max; *n set), *p moved past it. False at the
 * end of the text.
 */
static bool next_record(char **p, char **fields, size_t max, size_t *n)
{
    char *s = *p;
    char *w;

    *n = 0;
    if (*s == '\0')
        return false;
    for (;;) {
        char *start = s;

        w = s;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0')
                    break;
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
        }
        while (*s != '\0' && *s != ',' && *s != '\n' && *s != '\r')
            *w++ = *s++;
        if (*n < max)
            fields[(*n)++] = start;
        if (*s == ',') {
            *w = '\0';
            s++;
            continue;
        }
        if (*s == '\r')
            *s++ = '\0';
        if (*s == '\n')
            s++;
        *w = '\0';
        break;
    }
    *p = s;
    return true;
}

static int header(struct import *im, char **fields, size_t n)
{
    static const char *const names[] = {"model", "request_id", "row",    "",       "label",
                                        "value", "reward",     "rating", "source", "comment"};
    bool key = false;
    bool row_id = false;

    if (n > MAX_COLUMNS)
        return ctl_usagef("feedback", "%s: more than %d columns", im->file, MAX_COLUMNS);
    for (size_t i = 0; i < n; i++) {
        size_t c;

        im->cols[i] = COL_IGNORED;
        for (c = 0; c < MD_ARRAY_LEN(names); c++)
            if (names[c][0] != '\0' && strcmp(fields[i], names[c]) == 0)
                break;
        if (c < MD_ARRAY_LEN(names)) {
            im->cols[i] = (enum col)c;
        } else if (strncmp(fields[i], "key:", 4) == 0 ||
                   (im->key != NULL && strcmp(fields[i], im->key) == 0)) {
            if (key)
                return ctl_usagef("feedback", "%s: more than one key column", im->file);
            key = true;
            im->cols[i] = COL_KEY;
            im->key_name = strdup(strncmp(fields[i], "key:", 4) == 0 ? fields[i] + 4 : fields[i]);
        } else {
            return ctl_usagef("feedback",
                              "%s: unknown column '%s' (request_id, row, key:NAME, label, value, "
                              "reward, rating, model, source, comment)",
                              im->file, fields[i]);
        }
        row_id = row_id || im->cols[i] == COL_REQUEST_ID;
    }
    im->n_cols = n;
    if (!key && !row_id)
        return ctl_usagef("feedback", "%s: no request_id column and no key column (key:NAME)",
                          im->file);
    if (im->key != NULL && !key)
        return ctl_usagef("feedback", "%s: --key %s: no such column", im->file, im->key);
    return CTL_EXIT_OK;
}

/* A number cell: false when it is not a finite number. */
static bool number(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*out);
}

/* One data record into an item; a refusal of the file's own into why. */
static json_t *item(const struct import *im, char **fields, size_t n, char *why, size_t wn)
{
    json_t *it = json_object();
    json_t *key;
    double d;

    if (n != im->n_cols) {
        (void)snprintf(why, wn, "%zu fields, the header names %zu", n, im->n_cols);
        json_decref(it);
        return NULL;
    }
    if (im->model != NULL)
        json_object_set_new(it, "model", json_string(im->model));
    if (im->source != NULL)
        json_object_set_new(it, "source", json_string(im->source));
    for (size_t i = 0; i < n; i++) {
        const char *s = fields[i];

        if (s[0] == '\0' || im->cols[i] == COL_IGNORED)
            continue;
        switch (im->cols[i]) {
        case COL_ROW:
        case COL_VALUE:
        case COL_REWARD:
        case COL_RATING:
            if (!number(s, &d)) {
                (void)snprintf(why, wn, "%s: '%.40s' is not a number",
                               im->cols[i] == COL_ROW      ? "row"
                               : im->cols[i] == COL_VALUE  ? "value"
                               : im->cols[i] == COL_REWARD ? "reward"
                                                           : "rating",
                               s);
                json_decref(it);
                return NULL;
            }
            json_object_set_new(it,
                                im->cols[i] == COL_ROW      ? "row"
                                : im->cols[i] == COL_VALUE  ? "value"
                                : im->cols[i] == COL_REWARD ? "reward"
                                                            : "rating",
                                im->cols[i] == COL_ROW ? json_integer((json_int_t)d)
                                                       : json_real(d));
            break;
        case COL_KEY:
            key = json_object();
            json_object_set_new(key, "name", json_string(im->key_name));
            json_object_set_new(key, "value", json_string(s));
            json_object_set_new(it, "key", key);
            break;
        default: {
            static const char *const names[] = {"model", "request_id", "row", "",       "label",
                                                "",      "",           "",    "source", "comment"};

            json_object_set_new(it, names[im->cols[i]], json_string(s));
            break;
        }
        }
    }
    return it;
}

/* ---- sending -------------------------------------------------------------- */

static void progress(const struct import *im, bool done)
{
    size_t fill;

    if (!im->bar)
        return;
    fill = im->lines > 0 ? im->sent * BAR_WIDTH / im->lines : BAR_WIDTH;
    fprintf(stderr, "\rimporting [");
    for (size_t i = 0; i < BAR_WIDTH; i++)
        fputc(i < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %3zu%% %zu/%zu rows", im->lines > 0 ? im->sent * 100 / im->lines : 100,
            im->sent, im->lines);
    if (done)
        fputc('\n', stderr);
    (void)fflush(stderr);
}

/* Sends items (lines[i] is item i's line in the file); reports each refusal. */
static int send_batch(struct ctl *ctl, struct import *im, json_t *items, const size_t *lines)
{
    struct ctl_resp resp;
    json_t *body = json_object();
    json_t *doc = NULL;
    json_t *list;
    char *text;
    char reason[300];
    int rc;

    json_object_set(body, "items", items);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return ctl_errorf(CTL_EXIT_FAIL, "feedback: out of memory");
    ctl_resp_init(&resp);
    rc = ctl_http(ctl, "feedback", "POST", "/api/v1/feedback", text, strlen(text), &resp);
    free(text);
    if (rc == CTL_EXIT_OK && resp.status == 400 && json_array_size(items) > 0) {
        /* Nothing stored: the server lists every item's reason under detail. */
        if (ctl_resp_json("feedback", &resp, &doc) != CTL_EXIT_OK) {
            ctl_resp_release(&resp);
            return CTL_EXIT_FAIL;
        }
        if (json_object_get(doc, "detail") != NULL) {
            json_t *d = json_object_get(doc, "detail");

            json_incref(d);
            json_decref(doc);
            doc = d;
        } else {
            ctl_resp_reason(&resp, reason, sizeof(reason));
            for (size_t i = 0; i < json_array_size(items); i++)
                fprintf(stderr, "%smodelctl: %s:%zu: %s\n", im->bar ? "\r\033[K" : "", im->file,
                        lines[i], reason);
            im->failed += json_array_size(items);
            json_decref(doc);
            ctl_resp_release(&resp);
            return CTL_EXIT_OK;
        }
    } else if (rc == CTL_EXIT_OK && !ctl_resp_ok(&resp)) {
        rc = ctl_fail_resp("feedback", &resp);
    } else if (rc == CTL_EXIT_OK) {
        rc = ctl_resp_json("feedback", &resp, &doc);
    }
    ctl_resp_release(&resp);
    if (rc != CTL_EXIT_OK)
        return rc;
    list = json_object_get(doc, "items");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *r = json_array_get(list, i);
        const json_t *err = json_object_get(r, "error");
        const char *state = json_string_value(json_object_get(r, "state"));
        const char *msg = json_string_value(err);
        const char *dot;

        if (msg != NULL) {
            /* "items[3].label: ..." names the field: the line replaces the index. */
            dot = strncmp(msg, "items[", 6) == 0 ? strstr(msg, "].") : NULL;
            fprintf(stderr, "%smodelctl: %s:%zu: %s\n", im->bar ? "\r\033[K" : "", im->file,
                    i < json_array_size(items) ? lines[i] : 0, dot != NULL ? dot + 2 : msg);
            im->failed++;
        } else {
            im->stored++;
            if (state != NULL && strcmp(state, "pending") == 0)
                im->pending++;
            else
                im->attached++;
        }
    }
    json_decref(doc);
    return CTL_EXIT_OK;
}

static int import_text(struct ctl *ctl, struct import *im, char *text)
{
    char *fields[MAX_COLUMNS + 1];
    char *p = text;
    char why[200];
    size_t *lines = calloc((size_t)im->batch + 1, sizeof(*lines));
    json_t *items = json_array();
    size_t n;
    size_t line = 1;
    int rc;

    if (lines == NULL || items == NULL) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "feedback: out of memory");
        goto out;
    }
    if (!next_record(&p, fields, MAX_COLUMNS + 1, &n) || (n == 1 && fields[0][0] == '\0')) {
        rc = ctl_usagef("feedback", "%s: empty: the first line must name the columns", im->file);
        goto out;
    }
    rc = header(im, fields, n);
    if (rc != CTL_EXIT_OK)
        goto out;
    for (const char *s = p; *s != '\0'; s++)
        im->lines += *s == '\n' ? 1 : 0;
    if (p[0] != '\0' && p[strlen(p) - 1] != '\n')
        im->lines++;
    progress(im, false);
    while (rc == CTL_EXIT_OK && next_record(&p, fields, MAX_COLUMNS + 1, &n)) {
        json_t *it;

        line++;
        if (n == 1 && fields[0][0] == '\0') {
            im->sent++;
            continue; /* an empty line */
        }
        it = item(im, fields, n, why, sizeof(why));
        im->sent++;
        if (it == NULL) {
            fprintf(stderr, "%smodelctl: %s:%zu: %s\n", im->bar ? "\r\033[K" : "", im->file, line,
                    why);
            im->failed++;
            continue;
        }
        lines[json_array_size(items)] = line;
        json_array_append_new(items, it);
        if (json_array_size(items) == (size_t)im->batch) {
            rc = send_batch(ctl, im, items, lines);
            json_array_clear(items);
            progress(im, false);
        }
    }
    if (rc == CTL_EXIT_OK && json_array_size(items) > 0)
        rc = send_batch(ctl, im, items, lines);
    progress(im, true);
out:
    json_decref(items);
    free(lines);
    return rc;
}

static int parse_args(struct ctl *ctl, int argc, char **argv, struct import *im)
{
    static const char *const names[] = {"model", "key", "source", "batch"};
    const char **slots[] = {&im->model, &im->key, &im->source, NULL};
    const char *batch = NULL;
    struct ctl_args args;
    enum ctl_arg k;
    bool verb = false;
    const char *v = NULL;
    char *end;

    slots[3] = &batch;
    ctl_args_init(&args, "feedback", feedback_help, argc, argv);
    args.own_key = true; /* its --key names a prediction key, not the client key */
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        size_t o;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD && !verb) {
            if (strcmp(argv[args.i], "import") != 0)
                return ctl_usagef("feedback", "unknown subcommand '%s' (import)", argv[args.i]);
            verb = true;
            continue;
        }
        if (k == CTL_ARG_WORD && im->file == NULL) {
            im->file = argv[args.i];
            continue;
        }
        if (k == CTL_ARG_WORD)
            return ctl_usagef("feedback", "unexpected argument '%s'", argv[args.i]);
        for (o = 0; o < MD_ARRAY_LEN(names); o++) {
            int r = ctl_opt("feedback", argc, argv, &args.i, names[o], &v);

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
    if (!verb)
        return ctl_usagef("feedback", "missing subcommand (import)");
    if (im->file == NULL)
        return ctl_usagef("feedback", "import: missing FILE.csv");
    if (im->source != NULL && strcmp(im->source, "user") != 0 &&
        strcmp(im->source, "system") != 0 && strcmp(im->source, "expert") != 0)
        return ctl_usagef("feedback", "--source: '%s' is not user, system or expert", im->source);
    im->batch = DEFAULT_BATCH;
    if (batch != NULL) {
        errno = 0;
        im->batch = strtol(batch, &end, 10);
        if (end == batch || *end != '\0' || errno != 0 || im->batch < 1 || im->batch > MAX_BATCH)
            return ctl_usagef("feedback", "--batch: '%s' is not a number from 1 to %d", batch,
                              MAX_BATCH);
    }
    return CTL_CONTINUE;
}

int cmd_feedback(int argc, char **argv, struct ctl *ctl)
{
    struct import im;
    struct md_buf b;
    int rc;

    memset(&im, 0, sizeof(im));
    rc = parse_args(ctl, argc, argv, &im);
    if (rc != CTL_CONTINUE)
        return rc;
    md_buf_init(&b, CTL_MAX_BODY + 1);
    rc = ctl_read_file("import", im.file, &b);
    if (rc == CTL_EXIT_OK && md_buf_putc(&b, '\0') != MD_OK)
        rc = ctl_errorf(CTL_EXIT_FAIL, "feedback: out of memory");
    im.bar = isatty(STDERR_FILENO) != 0;
    if (rc == CTL_EXIT_OK)
        rc = import_text(ctl, &im, b.data);
    md_buf_release(&b);
    free(im.key_name);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->format == CTL_FORMAT_JSON)
        printf("{\"rows\":%zu,\"stored\":%zu,\"attached\":%zu,\"pending\":%zu,\"failed\":%zu}\n",
               im.lines, im.stored, im.attached, im.pending, im.failed);
    else
        printf("stored %zu of %zu rows (%zu attached to their predictions, %zu pending)\n",
               im.stored, im.stored + im.failed, im.attached, im.pending);
    return im.failed > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
