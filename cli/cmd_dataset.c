/* SPDX-License-Identifier: MIT */
/*
 * cmd_dataset.c: "modelctl dataset", a model's training set: its summary
 * (GET /api/v1/models/{m}/dataset), its export as JSON lines or CSV
 * (GET .../dataset/export), and the base datasets registered for the
 * model (PUT, GET and DELETE .../datasets[/{name}]).
 */
#include "ctl.h"

#include <errno.h>
#include <time.h>

static const char dataset_help[] =
    "NAME\n"
    "       modelctl dataset - show, export or add to a model's training set\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] dataset summary MODEL [WINDOW OPTIONS]\n"
    "       modelctl [GLOBAL OPTIONS] dataset export MODEL [--format jsonl|csv]\n"
    "                [--output FILE] [WINDOW OPTIONS]\n"
    "       modelctl [GLOBAL OPTIONS] dataset register MODEL NAME FILE\n"
    "       modelctl [GLOBAL OPTIONS] dataset list MODEL\n"
    "       modelctl [GLOBAL OPTIONS] dataset delete MODEL NAME\n"
    "\n"
    "DESCRIPTION\n"
    "       A model's training set is built from the server's store: the answered\n"
    "       predictions that have a feedback label (a value, for a regression),\n"
    "       over a window, joined with the base dataset its model.yaml names\n"
    "       (training.base_dataset); the newest labelled rows are held out for\n"
    "       evaluation (docs/improve.md, \"Training sets\").\n"
    "\n"
    "       summary prints what a training would learn from: the rows, those held\n"
    "       out, where their labels came from, the label counts (the mean and\n"
    "       standard deviation of a regression's target), the rows skipped (their\n"
    "       features no longer kept, or a label that is not a class), the time span,\n"
    "       and whether the set can be trained on, or why not.\n"
    "\n"
    "       export writes the whole set, held-out rows included, oldest first, to\n"
    "       FILE or standard output: JSON lines (the default: one object a row with\n"
    "       features, label or value, weight, source, at_ms, request_id, row) or CSV\n"
    "       (the features in the model's order, then label or value, weight, source,\n"
    "       at_ms). At most 64 MiB.\n"
    "\n"
    "       register stores FILE, a CSV with a header row, as the base dataset NAME\n"
    "       of MODEL, after the server has checked it against the model's features\n"
    "       and labels (an error names the line and the column). list shows the\n"
    "       base datasets; delete removes one.\n"
    "\n"
    "WINDOW OPTIONS\n"
    "       --since T       predictions made from T on: ms since the epoch, or a\n"
    "                       duration before now (90s, 30m, 6h, 7d)\n"
    "       --until T       predictions made before T (as --since)\n"
    "       --window D      the last D before --until (or now); not with --since\n"
    "       --max-rows N    the newest N labelled rows at most\n"
    "       --holdout H     the share held out, 0 <= H < 1 (summary)\n"
    "       The defaults are the model's training: section's.\n"
    "\n"
    "OPTIONS\n"
    "       --format F      export: jsonl (the default) or csv\n"
    "       --output FILE   export: write to FILE ('-', the default: standard output)\n"
    "" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl dataset summary fraud --window 30d\n"
    "       $ modelctl dataset export fraud --format csv --output fraud-labelled.csv\n"
    "       $ modelctl dataset register fraud original fraud_train.csv\n"
    "\n"
    "EXIT STATUS\n"
    "       0      done\n"
    "       1      the server refused (an unknown model, a bad CSV, a bad window), could\n"
    "              not be reached or answered badly, or FILE could not be written\n"
    "       2      usage error\n";

/* Appends "?name=" (first) or "&name=" + value, escaped, to the path in b. */
static int add_query(struct md_buf *b, const char *name, const char *value)
{
    md_buf_puts(b, memchr(b->data, '?', b->len) == NULL ? "?" : "&");
    md_buf_puts(b, name);
    md_buf_putc(b, '=');
    return ctl_path_segment(b, value);
}

/* ms since the epoch as "2026-12-07 10:00:00" (UTC), or "-" for 0. */
static void format_ms(long long ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        (void)snprintf(out, n, "-");
}

static long long num(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void print_summary(const json_t *doc)
{
    const json_t *s = json_object_get(doc, "summary");
    const json_t *src = json_object_get(s, "sources");
    const json_t *labels = json_object_get(s, "labels");
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    const char *base = json_string_value(json_object_get(doc, "base_dataset"));
    char a[32], b[32], h[32];
    const char *name;
    const json_t *v;
    bool first = true;

    format_ms(num(s, "first_ms"), a, sizeof(a));
    format_ms(num(s, "last_ms"), b, sizeof(b));
    format_ms(num(s, "holdout_from_ms"), h, sizeof(h));
    printf("model %s: %lld rows, %lld to train, %lld held out (from %s)\n",
           json_string_value(json_object_get(doc, "model")), num(s, "rows"), num(s, "train_rows"),
           num(s, "holdout_rows"), h);
    printf("sources: feedback %lld, expert %lld, base %lld%s%s%s\n", num(src, "feedback"),
           num(src, "expert"), num(src, "base"), base != NULL ? " (base dataset '" : "",
           base != NULL ? base : "", base != NULL ? "')" : "");
    if (labels != NULL) {
        printf("labels:");
        json_object_foreach((json_t *)labels, name, v)
        {
            printf("%s %s %lld", first ? "" : ",", name, (long long)json_integer_value(v));
            first = false;
        }
        printf("\n");
    } else {
        char m[CTL_REAL_MAX], sd[CTL_REAL_MAX];

        ctl_format_real(json_number_value(json_object_get(s, "mean")), m, sizeof(m));
        ctl_format_real(json_number_value(json_object_get(s, "stddev")), sd, sizeof(sd));
        printf("target: mean %s, stddev %s\n", m, sd);
    }
    printf("skipped: %lld\n", num(s, "skipped"));
    printf("predictions: %s to %s (UTC)\n", a, b);
    if (json_is_true(json_object_get(doc, "trainable")))
        printf("trainable: yes (min_rows %lld)\n", num(doc, "min_rows"));
    else
        printf("trainable: no: %s\n", reason != NULL ? reason : "?");
}

static void print_list(const json_t *doc)
{
    const json_t *list = json_object_get(doc, "datasets");
    struct ctl_table t;

    ctl_table_init(&t, (const char *const[]){"NAME", "ROWS", "SIZE", "CREATED", "SHA256"}, 5);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *d = json_array_get(list, i);
        const char *sha = json_string_value(json_object_get(d, "sha256"));
        char when[32];

        format_ms(num(d, "created_ms"), when, sizeof(when));
        ctl_table_cell(&t, json_string_value(json_object_get(d, "name")));
        ctl_table_cellf(&t, "%lld", num(d, "rows"));
        ctl_table_cellf(&t, "%lld", num(d, "size"));
        ctl_table_cell(&t, when);
        ctl_table_cellf(&t, "%.12s", sha != NULL ? sha : "");
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

/* Writes the export's body to path ("-": standard output). */
static int write_out(const char *path, const struct ctl_resp *resp)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    int rc = CTL_EXIT_OK;

    if (f == NULL)
        return ctl_errorf(CTL_EXIT_FAIL, "dataset: cannot open '%s': %s", path, strerror(errno));
    if (resp->body.len > 0 && fwrite(resp->body.data, 1, resp->body.len, f) != resp->body.len)
        rc = ctl_errorf(CTL_EXIT_FAIL, "dataset: cannot write '%s': %s", path, strerror(errno));
    if (f == stdout) {
        if (fflush(f) != 0 && rc == CTL_EXIT_OK)
            rc = ctl_errorf(CTL_EXIT_FAIL, "dataset: cannot write output: %s", strerror(errno));
    } else if (fclose(f) != 0 && rc == CTL_EXIT_OK) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "dataset: cannot write '%s': %s", path, strerror(errno));
    }
    return rc;
}

/* GETs the export at the model's path tail and writes it to out_path. */
static int export_to(struct ctl *ctl, const char *what, const char *model, const char *tail,
                     const char *out_path, struct ctl_resp *resp)
{
    struct md_buf full;
    int rc;

    md_buf_init(&full, 8192);
    if (ctl_model_path(&full, model, tail) != MD_OK) {
        md_buf_release(&full);
        return ctl_usagef("dataset", "MODEL: too long");
    }
    rc = ctl_http(ctl, what, "GET", full.data, NULL, 0, resp);
    md_buf_release(&full);
    if (rc == CTL_EXIT_OK && !ctl_resp_ok(resp))
        rc = ctl_fail_resp(what, resp);
    if (rc == CTL_EXIT_OK)
        rc = write_out(out_path, resp);
    return rc;
}

/* "/datasets/NAME" (escaped) into path, NUL-terminated. */
static int name_path(struct md_buf *path, const char *name)
{
    md_buf_puts(path, "/datasets/");
    if (ctl_path_segment(path, name) != MD_OK)
        return MD_ETOOBIG;
    return md_buf_putc(path, '\0');
}

enum verb { V_SUMMARY = 1, V_EXPORT, V_REGISTER, V_LIST, V_DELETE };

int cmd_dataset(int argc, char **argv, struct ctl *ctl)
{
    static const char *const opts[] = {"since",   "until",  "window", "max-rows",
                                       "holdout", "format", "output"};
    static const char *const query[] = {"since",   "until",  "window", "max_rows",
                                        "holdout", "format", NULL};
    static const struct {
        const char *name;
        enum verb verb;
        int words; /* operands after the verb */
    } verbs[] = {{"summary", V_SUMMARY, 1},
                 {"export", V_EXPORT, 1},
                 {"register", V_REGISTER, 3},
                 {"list", V_LIST, 1},
                 {"delete", V_DELETE, 2}};
    const char *vals[MD_ARRAY_LEN(opts)] = {NULL};
    const char *words[4] = {NULL};
    int n_words = 0, want = 0;
    enum verb verb = 0;
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf path, file;
    enum ctl_arg k;
    json_t *doc = NULL;
    char what[300];
    int rc = CTL_EXIT_OK;

    ctl_args_init(&args, "dataset", dataset_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        size_t o;
        const char *v = NULL;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD && verb == 0) {
            for (size_t i = 0; i < MD_ARRAY_LEN(verbs); i++)
                if (strcmp(argv[args.i], verbs[i].name) == 0) {
                    verb = verbs[i].verb;
                    want = verbs[i].words;
                }
            if (verb == 0)
                return ctl_usagef("dataset",
                                  "'%s' is not summary, export, register, list or delete",
                                  argv[args.i]);
            continue;
        }
        if (k == CTL_ARG_WORD) {
            if (n_words == want)
                return ctl_usagef("dataset", "unexpected argument '%s'", argv[args.i]);
            words[n_words++] = argv[args.i];
            continue;
        }
        for (o = 0; o < MD_ARRAY_LEN(opts); o++) {
            int r = ctl_opt("dataset", argc, argv, &args.i, opts[o], &v);

            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r > 0) {
                vals[o] = v;
                break;
            }
        }
        if (o == MD_ARRAY_LEN(opts))
            return ctl_args_unknown(&args);
    }
    if (verb == 0)
        return ctl_usagef("dataset", "missing summary, export, register, list or delete");
    if (n_words < want)
        return ctl_usagef("dataset", "missing %s",
                          n_words == 0   ? "MODEL"
                          : n_words == 1 ? "NAME"
                                         : "FILE");
    for (size_t o = 0; o < MD_ARRAY_LEN(opts); o++)
        if (vals[o] != NULL && ((o < 5 && verb != V_SUMMARY && verb != V_EXPORT) ||
                                (o == 4 && verb == V_EXPORT) || (o >= 5 && verb != V_EXPORT)))
            return ctl_usagef("dataset", "--%s: not an option of 'dataset %s'", opts[o],
                              verbs[verb - 1].name);
    if (vals[5] != NULL && strcmp(vals[5], "jsonl") != 0 && strcmp(vals[5], "csv") != 0)
        return ctl_usagef("dataset", "--format: '%s' is not jsonl or csv", vals[5]);

    md_buf_init(&path, 4096);
    md_buf_init(&file, CTL_MAX_BODY);
    ctl_resp_init(&resp);
    (void)snprintf(what, sizeof(what), "dataset of '%.200s'", words[0]); /* fits */
    switch (verb) {
    case V_SUMMARY:
    case V_EXPORT:
        md_buf_puts(&path, verb == V_SUMMARY ? "/dataset" : "/dataset/export");
        for (size_t o = 0; query[o] != NULL; o++)
            if (vals[o] != NULL && add_query(&path, query[o], vals[o]) != MD_OK) {
                rc = ctl_usagef("dataset", "--%s: too long", opts[o]);
                goto out;
            }
        md_buf_putc(&path, '\0');
        if (verb == V_SUMMARY) {
            rc = ctl_model_json(ctl, what, "GET", words[0], path.data, NULL, NULL, &resp, &doc);
            if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
                ctl_print_body(&resp);
            else if (rc == CTL_EXIT_OK)
                print_summary(doc);
            break;
        }
        rc = export_to(ctl, what, words[0], path.data, vals[6] != NULL ? vals[6] : "-", &resp);
        break;
    case V_REGISTER:
        rc = ctl_read_file("FILE", words[2], &file);
        if (rc != CTL_EXIT_OK)
            goto out;
        if (name_path(&path, words[1]) != MD_OK) {
            rc = ctl_usagef("dataset", "NAME: too long");
            goto out;
        }
        (void)snprintf(what, sizeof(what), "dataset '%.100s' of '%.100s'", words[1], words[0]);
        rc = ctl_model_json(ctl, what, "PUT", words[0], path.data, NULL,
                            file.data != NULL ? file.data : "", &resp, &doc);
        if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else if (rc == CTL_EXIT_OK)
            printf("dataset '%s' of model '%s': %lld rows, %lld bytes, sha256 %s\n", words[1],
                   words[0], num(doc, "rows"), num(doc, "size"),
                   json_string_value(json_object_get(doc, "sha256")));
        break;
    case V_LIST:
        rc = ctl_model_json(ctl, what, "GET", words[0], "/datasets", NULL, NULL, &resp, &doc);
        if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else if (rc == CTL_EXIT_OK)
            print_list(doc);
        break;
    case V_DELETE:
        if (name_path(&path, words[1]) != MD_OK) {
            rc = ctl_usagef("dataset", "NAME: too long");
            goto out;
        }
        (void)snprintf(what, sizeof(what), "dataset '%.100s' of '%.100s'", words[1], words[0]);
        rc = ctl_model_json(ctl, what, "DELETE", words[0], path.data, NULL, NULL, &resp, &doc);
        if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else if (rc == CTL_EXIT_OK)
            printf("dataset '%s' of model '%s' deleted\n", words[1], words[0]);
        break;
    }
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    md_buf_release(&file);
    return rc;
}
