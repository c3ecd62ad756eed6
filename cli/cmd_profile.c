/* SPDX-License-Identifier: MIT */
/*
 * cmd_profile.c: "modelctl profile TRAIN.csv [--model-yaml FILE]
 * [--predictions COL] [--scores COL] [--bins N] [--ignore COL]...
 * [--quality NAME=VALUE]...", the reference profile of a version's training
 * data, printed as profile.json (the format of docs/repository.md, which the
 * daemon reads in src/watch/profile.c). It runs locally and sends nothing.
 *
 * Numeric features get quantile bins: with n values sorted, edge q (q = 1 ..
 * bins - 1) is the value at index floor(q n / bins), or the largest value under
 * the maximum where that is the maximum, equal edges kept once; each value
 * counts in the bin of the number of edges below it. Categorical
 * features get a count per category (model.yaml's categories in its order,
 * else the values in the order first seen, at most 1000) and "other".
 */
#include "ctl.h"
#include "util/mem.h"
#include "util/yaml.h"

#include <errno.h>
#include <math.h>
#include <strings.h>

#define MAX_BINS       256
#define MAX_CATEGORIES 1000
#define MAX_COLUMNS    10000
#define MAX_IGNORED    64
#define MAX_QUALITY    64

static const char profile_help[] =
    "NAME\n"
    "       modelctl profile - compute the reference profile of a training set\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl profile TRAIN.csv [--model-yaml FILE] [--predictions COL]\n"
    "                [--scores COL] [--bins N] [--ignore COL]... [--quality NAME=VALUE]...\n"
    "\n"
    "DESCRIPTION\n"
    "       Reads TRAIN.csv (a header line of column names, then one row per line;\n"
    "       fields separated by commas, a field with a comma in double quotes) and\n"
    "       prints its reference profile as JSON on standard output: save it as\n"
    "       profile.json beside the version's artifact, or send it with 'modelctl\n"
    "       register --profile'. The daemon compares live traffic with it for drift\n"
    "       (GET /api/v1/models/MODEL/drift, 'modelctl drift').\n"
    "\n"
    "       Numeric features get N quantile bins of the training values (equal\n"
    "       edges kept once); categorical features the count of each category and\n"
    "       of the others. An empty field, NA, NaN, null or None is missing, and\n"
    "       counted as such. Nothing is sent to the server.\n"
    "\n"
    "OPTIONS\n"
    "       --model-yaml FILE\n"
    "              the model's contract: its features are profiled (each must be\n"
    "              a column), categorical when they list categories, and its\n"
    "              labels name the predicted labels. Without it every column but\n"
    "              those below is a feature, numeric when each value is a number\n"
    "       --predictions COL\n"
    "              the column holding the model's predictions on these rows: labels\n"
    "              for a classifier (their counts), values for a regression (bins)\n"
    "       --scores COL\n"
    "              the column holding the model's scores (a binary classifier's\n"
    "              probability of its second label): bins\n"
    "       --bins N\n"
    "              bins of a numeric feature, 2 to 256 (default 10)\n"
    "       --ignore COL\n"
    "              a column that is not a feature (the true label, an id); repeatable\n"
    "       --quality NAME=VALUE\n"
    "              a training-time figure to keep in the profile (accuracy=0.93);\n"
    "              repeatable\n"
    "       -h, --help\n"
    "              print this help and exit\n"
    "\n"
    "EXAMPLES\n"
    "       $ modelctl profile train.csv --model-yaml model.yaml --predictions pred \\\n"
    "             --quality accuracy=0.94 > 3/profile.json\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the profile was printed\n"
    "       1      the data does not fit (a numeric feature's value is not a number,\n"
    "              a feature has no column, ...): the message names the row and column\n"
    "       2      usage error, or a file that cannot be read\n";

/* One column of the CSV: its cells as text. */
struct column {
    char *name;
    char **cells; /* rows cells, each malloc'd */
};

struct table {
    struct column *cols;
    size_t n_cols;
    size_t rows;
    size_t cap;
};

/* A feature to profile. */
struct feature {
    const char *name;
    size_t col;
    bool categorical;
    char **categories; /* model.yaml's, or NULL: the values as first seen */
    size_t n_categories;
};

struct opts {
    const char *csv, *yaml, *predictions, *scores;
    const char *ignore[MAX_IGNORED];
    size_t n_ignore;
    const char *quality[MAX_QUALITY];
    size_t n_quality;
    long bins;
};

/* ------------------------------------------------------------------ CSV */

static void table_free(struct table *t)
{
    size_t i, j;

    for (i = 0; i < t->n_cols; i++) {
        for (j = 0; j < t->rows; j++)
            free(t->cols[i].cells[j]);
        free(t->cols[i].cells);
        free(t->cols[i].name);
    }
    free(t->cols);
}

/* Splits line into fields (in place); false on a quote left open. */
static bool split(char *line, char **fields, size_t max, size_t *n)
{
    char *p = line;

    *n = 0;
    for (;;) {
        char *out = p;
        char *start = p;

        if (*n == max)
            return false;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return false;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p != ',' && *p != '\0')
                *out++ = *p++;
        } else {
            while (*p != ',' && *p != '\0')
                p++;
            out = p;
        }
        fields[(*n)++] = start;
        if (*p == '\0') {
            *out = '\0';
            return true;
        }
        *out = '\0';
        p++;
    }
}

static int read_csv(const char *path, struct table *t)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t lcap = 0, n, i, lineno = 0;
    char **fields = md_xcalloc(MAX_COLUMNS, sizeof(*fields));
    ssize_t got;
    int rc = CTL_EXIT_OK;

    memset(t, 0, sizeof(*t));
    if (f == NULL) {
        free(fields);
        return ctl_errorf(CTL_EXIT_USAGE, "profile: cannot open '%s': %s", path, strerror(errno));
    }
    while (rc == CTL_EXIT_OK && (got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0 && lineno > 1)
            continue;
        if (!split(line, fields, MAX_COLUMNS, &n)) {
            rc = ctl_errorf(CTL_EXIT_FAIL,
                            "profile: %s line %zu: a quoted field is not closed on its line, or "
                            "more than %d fields",
                            path, lineno, MAX_COLUMNS);
            break;
        }
        if (lineno == 1) {
            t->cols = md_xcalloc(n, sizeof(*t->cols));
            t->n_cols = n;
            for (i = 0; i < n; i++)
                t->cols[i].name = md_xstrdup(fields[i]);
            continue;
        }
        if (n != t->n_cols) {
            rc = ctl_errorf(CTL_EXIT_FAIL, "profile: %s line %zu: %zu fields, the header has %zu",
                            path, lineno, n, t->n_cols);
            break;
        }
        if (t->rows == t->cap) {
            t->cap = t->cap == 0 ? 1024 : t->cap * 2;
            for (i = 0; i < n; i++)
                t->cols[i].cells = md_xrealloc(t->cols[i].cells, t->cap * sizeof(char *));
        }
        for (i = 0; i < n; i++)
            t->cols[i].cells[t->rows] = md_xstrdup(fields[i]);
        t->rows++;
    }
    free(line);
    free(fields);
    if (ferror(f) && rc == CTL_EXIT_OK)
        rc = ctl_errorf(CTL_EXIT_USAGE, "profile: cannot read '%s'", path);
    (void)fclose(f);
    if (rc == CTL_EXIT_OK && t->n_cols == 0)
        rc = ctl_errorf(CTL_EXIT_FAIL, "profile: %s is empty (no header line)", path);
    if (rc == CTL_EXIT_OK && t->rows == 0)
        rc = ctl_errorf(CTL_EXIT_FAIL, "profile: %s has no rows", path);
    return rc;
}

static bool is_missing(const char *s)
{
    static const char *const words[] = {"", "NA", "NaN", "nan", "null", "None", "N/A"};
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(words); i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    return false;
}

/* A finite number, whole text; true and false (any case: pandas writes True and False)
 * are 1 and 0, as a BOOL feature's values. */
static bool number(const char *s, double *v)
{
    char *end;

    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
        *v = (s[0] == 't' || s[0] == 'T') ? 1 : 0;
        return true;
    }
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && errno != ERANGE && isfinite(*v);
}

static ssize_t find_column(const struct table *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* ----------------------------------------------------------- model.yaml */

struct contract {
    struct feature *features;
    size_t n_features;
    char **labels;
    size_t n_labels;
    bool classification;
};

static const yaml_node_t *map_get(yaml_document_t *doc, const yaml_node_t *m, const char *key)
{
    const yaml_node_pair_t *p;

    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(doc, p->key);

        if (k != NULL && k->type == YAML_SCALAR_NODE && strcmp(md_yaml_text(k), key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* The scalars of a sequence, copied; NULL when n is not a sequence of scalars. */
static char **scalars(yaml_document_t *doc, const yaml_node_t *n, size_t *count)
{
    const yaml_node_item_t *it;
    char **out;
    size_t i = 0;

    *count = 0;
    if (n == NULL || n->type != YAML_SEQUENCE_NODE)
        return NULL;
    out = md_xcalloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1,
                     sizeof(*out));
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        const yaml_node_t *s = yaml_document_get_node(doc, *it);

        if (s == NULL || s->type != YAML_SCALAR_NODE)
            continue;
        out[i++] = md_xstrdup(md_yaml_text(s));
    }
    *count = i;
    return out;
}

static void contract_free(struct contract *c)
{
    size_t i, j;

    for (i = 0; i < c->n_features; i++) {
        free((char *)c->features[i].name);
        for (j = 0; j < c->features[i].n_categories; j++)
            free(c->features[i].categories[j]);
        free(c->features[i].categories);
    }
    free(c->features);
    for (i = 0; i < c->n_labels; i++)
        free(c->labels[i]);
    free(c->labels);
}

static int read_contract(const char *path, struct contract *c)
{
    yaml_document_t doc;
    struct md_buf text;
    struct md_err err;
    const yaml_node_t *root, *feats, *task;
    const yaml_node_item_t *it;
    int rc;

    memset(c, 0, sizeof(*c));
    md_buf_init(&text, CTL_MAX_BODY);
    rc = ctl_read_file("--model-yaml", path, &text);
    if (rc != CTL_EXIT_OK) {
        md_buf_release(&text);
        return rc;
    }
    if (md_yaml_load(text.data != NULL ? text.data : "", text.len, path, 0, &doc, &err) != MD_OK) {
        md_buf_release(&text);
        yaml_document_delete(&doc);
        return ctl_errorf(CTL_EXIT_USAGE, "profile: %s", err.msg);
    }
    md_buf_release(&text);
    root = yaml_document_get_root_node(&doc);
    feats = map_get(&doc, root, "features");
    task = map_get(&doc, root, "task");
    c->classification = task != NULL && task->type == YAML_SCALAR_NODE &&
                        strcmp(md_yaml_text(task), "classification") == 0;
    c->labels = scalars(&doc, map_get(&doc, root, "labels"), &c->n_labels);
    if (feats == NULL || feats->type != YAML_SEQUENCE_NODE) {
        yaml_document_delete(&doc);
        return ctl_errorf(CTL_EXIT_USAGE, "profile: %s: features: expected a sequence", path);
    }
    c->features =
        md_xcalloc((size_t)(feats->data.sequence.items.top - feats->data.sequence.items.start) + 1,
                   sizeof(*c->features));
    for (it = feats->data.sequence.items.start; it < feats->data.sequence.items.top; it++) {
        const yaml_node_t *f = yaml_document_get_node(&doc, *it);
        const yaml_node_t *name = map_get(&doc, f, "name");
        struct feature *x;

        if (name == NULL || name->type != YAML_SCALAR_NODE) {
            yaml_document_delete(&doc);
            return ctl_errorf(CTL_EXIT_USAGE, "profile: %s: features[%zu].name: required", path,
                              c->n_features);
        }
        x = &c->features[c->n_features++];
        x->name = md_xstrdup(md_yaml_text(name));
        x->categories = scalars(&doc, map_get(&doc, f, "categories"), &x->n_categories);
        x->categorical = x->categories != NULL;
    }
    yaml_document_delete(&doc);
    return CTL_EXIT_OK;
}

/* -------------------------------------------------------------- profile */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The bin of x: the number of edges below it. */
static size_t bin_of(const double *edges, size_t n, double x)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (edges[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void put_double(struct md_buf *b, double v)
{
    char text[40];

    (void)snprintf(text, sizeof(text), "%.17g", v);
    /* The shortest text that reads back as v, as JSON readers print it. */
    for (int p = 1; p < 17; p++) {
        char t[40];

        (void)snprintf(t, sizeof(t), "%.*g", p, v);
        if (strtod(t, NULL) == v) {
            memcpy(text, t, strlen(t) + 1);
            break;
        }
    }
    (void)md_buf_puts(b, text);
}

/* "edges": [...], "counts": [...] of a numeric column; missing counted apart. */
static int numeric_bins(const struct table *t, size_t col, long bins, const char *what,
                        struct md_buf *b, size_t *missing)
{
    double *v = md_xcalloc(t->rows + 1, sizeof(*v));
    double edges[MAX_BINS];
    size_t *counts, n = 0, ne = 0, i, top;

    *missing = 0;
    for (i = 0; i < t->rows; i++) {
        const char *s = t->cols[col].cells[i];

        if (is_missing(s)) {
            (*missing)++;
        } else if (!number(s, &v[n++])) {
            free(v);
            return ctl_errorf(CTL_EXIT_FAIL,
                              "profile: %s '%s', row %zu: '%.40s' is not a finite number", what,
                              t->cols[col].name, i + 1, s);
        }
    }
    qsort(v, n, sizeof(*v), cmp_double);
    /* The largest value: an edge there would leave the top bin empty (a value counts
     * in the bin of the edges below it), so such an edge moves down to the largest
     * value under it: a 0/1 feature gets the edge 0, which tells 0 from 1. */
    top = n;
    while (top > 0 && v[top - 1] == v[n - 1])
        top--;
    for (i = 1; n > 0 && i < (size_t)bins; i++) {
        double e = v[i * n / (size_t)bins];

        if (e >= v[n - 1]) {
            if (top == 0)
                continue;
            e = v[top - 1];
        }
        if (ne == 0 || e > edges[ne - 1])
            edges[ne++] = e;
    }
    counts = md_xcalloc(ne + 1, sizeof(*counts));
    for (i = 0; i < n; i++)
        counts[bin_of(edges, ne, v[i])]++;
    (void)md_buf_puts(b, "\"edges\": [");
    for (i = 0; i < ne; i++) {
        if (i > 0)
            (void)md_buf_puts(b, ", ");
        put_double(b, edges[i]);
    }
    (void)md_buf_puts(b, "], \"counts\": [");
    for (i = 0; i <= ne; i++)
        (void)md_buf_printf(b, "%s%zu", i > 0 ? ", " : "", counts[i]);
    (void)md_buf_puts(b, "]");
    free(counts);
    free(v);
    return CTL_EXIT_OK;
}

/* "counts": {...}, "other": n of a categorical column (cats NULL: as first seen). */
static int category_counts(const struct table *t, size_t col, char *const *cats, size_t n_cats,
                           bool with_other, struct md_buf *b, size_t *missing, const char *what)
{
    const char **names = md_xcalloc(MAX_CATEGORIES + 1, sizeof(*names));
    size_t *counts = md_xcalloc(MAX_CATEGORIES + 1, sizeof(*counts));
    size_t n = 0, other = 0, i, j;

    *missing = 0;
    for (i = 0; cats != NULL && i < n_cats && i < MAX_CATEGORIES; i++)
        names[n++] = cats[i];
    for (i = 0; i < t->rows; i++) {
        const char *s = t->cols[col].cells[i];

        if (is_missing(s)) {
            (*missing)++;
            continue;
        }
        for (j = 0; j < n && strcmp(names[j], s) != 0; j++)
            ;
        if (j == n && cats == NULL && n < MAX_CATEGORIES)
            names[n++] = s;
        if (j < n)
            counts[j]++;
        else
            other++;
    }
    if (!with_other && other > 0) {
        free(names);
        free(counts);
        return ctl_errorf(CTL_EXIT_FAIL,
                          "profile: %s '%s': %zu values are not labels of the model (or past %d "
                          "labels)",
                          what, t->cols[col].name, other, MAX_CATEGORIES);
    }
    (void)md_buf_puts(b, "\"counts\": {");
    for (i = 0; i < n; i++) {
        if (i > 0)
            (void)md_buf_puts(b, ", ");
        (void)md_buf_json_str(b, names[i], strlen(names[i]));
        (void)md_buf_printf(b, ": %zu", counts[i]);
    }
    (void)md_buf_puts(b, "}");
    if (with_other)
        (void)md_buf_printf(b, ", \"other\": %zu", other);
    free(names);
    free(counts);
    return CTL_EXIT_OK;
}

/* Whether every non-missing cell of col is a number. */
static bool all_numbers(const struct table *t, size_t col)
{
    size_t i;
    double v;

    for (i = 0; i < t->rows; i++)
        if (!is_missing(t->cols[col].cells[i]) && !number(t->cols[col].cells[i], &v))
            return false;
    return true;
}

static bool ignored(const struct opts *o, const char *name)
{
    size_t i;

    if ((o->predictions != NULL && strcmp(name, o->predictions) == 0) ||
        (o->scores != NULL && strcmp(name, o->scores) == 0))
        return true;
    for (i = 0; i < o->n_ignore; i++)
        if (strcmp(o->ignore[i], name) == 0)
            return true;
    return false;
}

static int write_features(const struct opts *o, const struct table *t, const struct contract *c,
                          struct md_buf *b)
{
    size_t i, missing, written = 0;
    int rc = CTL_EXIT_OK;

    (void)md_buf_puts(b, "  \"features\": {");
    for (i = 0; rc == CTL_EXIT_OK && i < (c->features != NULL ? c->n_features : t->n_cols); i++) {
        struct feature f = {0};
        ssize_t col;

        if (c->features != NULL) {
            f = c->features[i];
            col = find_column(t, f.name);
            if (col < 0)
                return ctl_errorf(CTL_EXIT_FAIL,
                                  "profile: feature '%s' of --model-yaml: no column of that name "
                                  "in %s",
                                  f.name, o->csv);
        } else {
            col = (ssize_t)i;
            f.name = t->cols[i].name;
            if (ignored(o, f.name))
                continue;
            f.categorical = !all_numbers(t, i);
        }
        f.col = (size_t)col;
        (void)md_buf_puts(b, written++ > 0 ? ",\n    " : "\n    ");
        (void)md_buf_json_str(b, f.name, strlen(f.name));
        if (f.categorical) {
            (void)md_buf_puts(b, ": {\"kind\": \"categorical\", ");
            rc = category_counts(t, f.col, f.categories, f.n_categories, true, b, &missing,
                                 "feature");
        } else {
            (void)md_buf_puts(b, ": {\"kind\": \"numeric\", ");
            rc = numeric_bins(t, f.col, o->bins, "feature", b, &missing);
        }
        (void)md_buf_printf(b, ", \"missing\": %zu}", missing);
    }
    (void)md_buf_puts(b, "\n  }");
    return rc;
}

static int write_predictions(const struct opts *o, const struct table *t, const struct contract *c,
                             struct md_buf *b)
{
    size_t missing;
    ssize_t col;
    int rc = CTL_EXIT_OK;

    if (o->predictions == NULL && o->scores == NULL)
        return CTL_EXIT_OK;
    (void)md_buf_puts(b, ",\n  \"predictions\": {");
    if (o->predictions != NULL) {
        col = find_column(t, o->predictions);
        if (col < 0)
            return ctl_errorf(CTL_EXIT_USAGE, "profile: --predictions: no column '%s' in %s",
                              o->predictions, o->csv);
        if (c->classification || (c->features == NULL && !all_numbers(t, (size_t)col))) {
            (void)md_buf_puts(b, "\"labels\": {");
            rc = category_counts(t, (size_t)col, c->n_labels > 0 ? c->labels : NULL, c->n_labels,
                                 false, b, &missing, "--predictions");
            (void)md_buf_puts(b, "}");
        } else {
            (void)md_buf_puts(b, "\"scores\": {");
            rc = numeric_bins(t, (size_t)col, o->bins, "--predictions", b, &missing);
            (void)md_buf_puts(b, "}");
        }
    }
    if (rc == CTL_EXIT_OK && o->scores != NULL) {
        col = find_column(t, o->scores);
        if (col < 0)
            return ctl_errorf(CTL_EXIT_USAGE, "profile: --scores: no column '%s' in %s", o->scores,
                              o->csv);
        (void)md_buf_puts(b, o->predictions != NULL ? ", \"scores\": {" : "\"scores\": {");
        rc = numeric_bins(t, (size_t)col, o->bins, "--scores", b, &missing);
        (void)md_buf_puts(b, "}");
    }
    (void)md_buf_puts(b, "}");
    return rc;
}

static int write_quality(const struct opts *o, struct md_buf *b)
{
    size_t i;

    if (o->n_quality == 0)
        return CTL_EXIT_OK;
    (void)md_buf_puts(b, ",\n  \"quality\": {");
    for (i = 0; i < o->n_quality; i++) {
        const char *eq = strchr(o->quality[i], '=');
        double v;

        if (eq == NULL || eq == o->quality[i] || !number(eq + 1, &v))
            return ctl_usagef("profile", "--quality '%s': expected NAME=NUMBER", o->quality[i]);
        if (i > 0)
            (void)md_buf_puts(b, ", ");
        (void)md_buf_json_str(b, o->quality[i], (size_t)(eq - o->quality[i]));
        (void)md_buf_puts(b, ": ");
        put_double(b, v);
    }
    (void)md_buf_puts(b, "}");
    return CTL_EXIT_OK;
}

/* ----------------------------------------------------------- arguments */

static bool parse_args(int argc, char **argv, struct ctl *ctl, struct opts *o, int *done)
{
    struct ctl_args args;
    enum ctl_arg k;
    const char *bins = NULL;

    memset(o, 0, sizeof(*o));
    o->bins = 10;
    ctl_args_init(&args, "profile", profile_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        int got;

        if (k == CTL_ARG_EXIT) {
            *done = args.exit_code;
            return false;
        }
        if (k == CTL_ARG_WORD) {
            if (o->csv != NULL) {
                *done = ctl_usagef("profile", "unexpected argument '%s'", argv[args.i]);
                return false;
            }
            o->csv = argv[args.i];
            continue;
        }
        if ((got = ctl_opt("profile", argc, argv, &args.i, "model-yaml", &v)) > 0)
            o->yaml = v;
        else if (got == 0 && (got = ctl_opt("profile", argc, argv, &args.i, "predictions", &v)) > 0)
            o->predictions = v;
        else if (got == 0 && (got = ctl_opt("profile", argc, argv, &args.i, "scores", &v)) > 0)
            o->scores = v;
        else if (got == 0 && (got = ctl_opt("profile", argc, argv, &args.i, "bins", &v)) > 0)
            bins = v;
        else if (got == 0 && (got = ctl_opt("profile", argc, argv, &args.i, "ignore", &v)) > 0) {
            if (o->n_ignore == MAX_IGNORED) {
                *done = ctl_usagef("profile", "more than %d --ignore", MAX_IGNORED);
                return false;
            }
            o->ignore[o->n_ignore++] = v;
        } else if (got == 0 && (got = ctl_opt("profile", argc, argv, &args.i, "quality", &v)) > 0) {
            if (o->n_quality == MAX_QUALITY) {
                *done = ctl_usagef("profile", "more than %d --quality", MAX_QUALITY);
                return false;
            }
            o->quality[o->n_quality++] = v;
        }
        if (got <= 0) {
            *done = got < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
            return false;
        }
    }
    if (o->csv == NULL) {
        *done = ctl_usagef("profile", "missing TRAIN.csv");
        return false;
    }
    if (bins != NULL) {
        char *end;

        errno = 0;
        o->bins = strtol(bins, &end, 10);
        if (errno != 0 || *end != '\0' || end == bins || o->bins < 2 || o->bins > MAX_BINS) {
            *done = ctl_usagef("profile", "--bins '%s': expected a whole number from 2 to %d", bins,
                               MAX_BINS);
            return false;
        }
    }
    return true;
}

int cmd_profile(int argc, char **argv, struct ctl *ctl)
{
    struct opts o;
    struct table t;
    struct contract c = {0};
    struct md_buf b;
    int rc;

    if (!parse_args(argc, argv, ctl, &o, &rc))
        return rc;
    if (o.yaml != NULL) {
        rc = read_contract(o.yaml, &c);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    rc = read_csv(o.csv, &t);
    md_buf_init(&b, (size_t)1 << 30);
    if (rc == CTL_EXIT_OK) {
        (void)md_buf_printf(&b,
                            "{\n  \"format\": \"modeld-profile\",\n  \"format_version\": 1,\n"
                            "  \"rows\": %zu,\n",
                            t.rows);
        rc = write_features(&o, &t, &c, &b);
    }
    if (rc == CTL_EXIT_OK)
        rc = write_predictions(&o, &t, &c, &b);
    if (rc == CTL_EXIT_OK)
        rc = write_quality(&o, &b);
    if (rc == CTL_EXIT_OK) {
        (void)md_buf_puts(&b, "\n}\n");
        if (md_buf_error(&b) != MD_OK)
            rc = ctl_errorf(CTL_EXIT_FAIL, "profile: the profile is too large");
        else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0)
            rc = ctl_errorf(CTL_EXIT_FAIL, "profile: cannot write the output: %s", strerror(errno));
    }
    md_buf_release(&b);
    table_free(&t);
    contract_free(&c);
    return rc;
}
