/* SPDX-License-Identifier: MIT */
/*
 * cmd_training.c: "modelctl retrain MODEL [--note TEXT] [--wait]" asks for
 * a training run by hand (POST /api/v1/models/{m}/trainings) and, with
 * --wait, follows it to its end; "modelctl trainings MODEL [ID]" lists a
 * model's runs, or shows one (GET /api/v1/models/{m}/trainings[/{id}]).
 * The server does the work; this file lays out what it says.
 */
#include "ctl.h"

#include <errno.h>
#include <time.h>

#define POLL_MS 250

static const char retrain_help[] =
    "NAME\n"
    "       modelctl retrain - ask for a training run of a model, by hand\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] retrain MODEL [--note TEXT] [--wait]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for a training run of MODEL (POST\n"
    "       /api/v1/models/MODEL/trainings), as its model.yaml's training:\n"
    "       section says: the training set from the prediction log's labelled\n"
    "       rows, a native or external training at the lowest priority, an\n"
    "       evaluation against the champion on the newest rows held out, and the\n"
    "       version registered with its lineage; the section's policy then moves\n"
    "       an alias or starts a rollout. Prints the run's id. A model has one\n"
    "       run at a time.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL        the model's name\n"
    "       --note TEXT  kept with the run (its details: {\"note\": TEXT})\n"
    "       --wait       follow the run to its end and print how it ended; the\n"
    "                    exit status is then 0 only when it succeeded\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl retrain fraud --wait\n"
    "       training 4 of fraud queued\n"
    "       training 4 succeeded in 2.1 s: registered as version 7, alias 'candidate'\n"
    "         roc_auc 0.9412 (champion version 6: 0.9137), 8000 rows trained, 2000 held out\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the run was asked for (with --wait: it succeeded)\n"
    "       1      the server refused (no training: section, a run already queued or\n"
    "              running, ...), could not be reached, or (--wait) the run failed,\n"
    "              was refused, timed out or was killed\n"
    "       2      usage error\n";

static const char trainings_help[] =
    "NAME\n"
    "       modelctl trainings - list a model's training runs, or show one\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] trainings MODEL [ID]\n"
    "\n"
    "DESCRIPTION\n"
    "       Lists the training runs of MODEL, newest first (GET\n"
    "       /api/v1/models/MODEL/trainings), one row each:\n"
    "\n"
    "       ID         the run's id\n"
    "       TRIGGER    manual, schedule, drift, quality or labels\n"
    "       STATE      queued, running, succeeded, failed, timed_out, killed or\n"
    "                  refused (nothing trained: too few rows, one class)\n"
    "       REQUESTED  when it was asked for (UTC)\n"
    "       DURATION   how long it ran\n"
    "       ROWS       rows of its training set, held-out rows included\n"
    "       VERSION    the version it registered\n"
    "       OUTCOME    what became of the version, or why the run failed\n"
    "\n"
    "       With ID, shows that run: its window, its training set, the evaluation\n"
    "       of candidate and champion, and the decision.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model's name\n"
    "       ID     a run's id\n"
    "       --json print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl trainings fraud\n"
    "       ID  TRIGGER  STATE      REQUESTED             DURATION  ROWS  VERSION  OUTCOME\n"
    "       2   manual   refused    2026-12-07T09:12:03Z  0.1 s     42    -        training "
    "set: ...\n"
    "       1   drift    succeeded  2026-12-07T08:00:41Z  2.3 s     9000  7        registered "
    "as version 7, ...\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the runs were printed\n"
    "       1      the server refused (unknown model or run), could not be reached\n"
    "              or answered badly\n"
    "       2      usage error\n";

static const char *const columns[] = {"ID",       "TRIGGER", "STATE",   "REQUESTED",
                                      "DURATION", "ROWS",    "VERSION", "OUTCOME"};

static const char *str_of(const json_t *o, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : dflt;
}

static long long int_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* ms since the epoch as "2026-12-07T08:00:41Z", or "-" for 0. */
static void fmt_time(long long ms, char *out, size_t n)
{
    struct tm tm;
    time_t s = (time_t)(ms / 1000);

    if (ms <= 0 || gmtime_r(&s, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(out, n, "-");
}

/* What became of a run: the decision, else the reason. */
static const char *outcome_of(const json_t *run)
{
    const json_t *res = json_object_get(run, "result");

    return str_of(res, "decision", str_of(res, "reason", "-"));
}

static void put_row(struct ctl_table *t, const json_t *run)
{
    char when[32];
    const json_t *version = json_object_get(run, "version");

    ctl_table_cellf(t, "%lld", int_of(run, "id"));
    ctl_table_cell(t, str_of(run, "trigger", "-"));
    ctl_table_cell(t, str_of(run, "state", "-"));
    fmt_time(int_of(run, "requested_ms"), when, sizeof(when));
    ctl_table_cell(t, when);
    if (int_of(run, "finished_ms") > 0)
        ctl_table_cellf(t, "%.1f s", (double)int_of(run, "duration_ms") / 1000.0);
    else
        ctl_table_cell(t, "-");
    ctl_table_cellf(t, "%lld", int_of(run, "rows"));
    ctl_table_cell(t, json_is_string(version) ? json_string_value(version) : "-");
    ctl_table_cell(t, outcome_of(run));
}

/* The evaluation's line: "roc_auc 0.9412 (champion version 6: 0.9137), N rows trained, M held
 * out". */
static void print_evaluation(const json_t *ev)
{
    const char *metric = str_of(ev, "metric", NULL);
    const json_t *cand = json_object_get(json_object_get(ev, "candidate"), metric ? metric : "");
    const json_t *champ = json_object_get(json_object_get(ev, "champion"), metric ? metric : "");

    if (metric == NULL || !json_is_number(cand))
        return;
    printf("  %s %.4f", metric, json_number_value(cand));
    if (json_is_number(champ))
        printf(" (champion version %lld: %.4f)", int_of(ev, "champion_version"),
               json_number_value(champ));
    printf(", %lld rows trained, %lld held out", int_of(ev, "train_rows"),
           int_of(ev, "holdout_rows"));
    printf(", verdict %s\n", str_of(ev, "verdict", "-"));
}

/* One run in a few lines. */
static void print_run(const json_t *run)
{
    const json_t *res = json_object_get(run, "result");
    const json_t *win = json_object_get(run, "window");
    const json_t *ds = json_object_get(res, "dataset");
    char a[32];
    char b[32];

    printf("training %lld of %s: %s", int_of(run, "id"), str_of(run, "model", "-"),
           str_of(run, "state", "-"));
    if (int_of(run, "finished_ms") > 0)
        printf(" in %.1f s", (double)int_of(run, "duration_ms") / 1000.0);
    printf(": %s\n", outcome_of(run));
    fmt_time(int_of(run, "requested_ms"), a, sizeof(a));
    printf("  trigger %s, asked for %s\n", str_of(run, "trigger", "-"), a);
    if (int_of(win, "since_ms") > 0) {
        fmt_time(int_of(win, "since_ms"), a, sizeof(a));
        fmt_time(int_of(win, "until_ms"), b, sizeof(b));
        printf("  window %s .. %s, %lld rows", a, b, int_of(run, "rows"));
        if (json_is_object(ds)) {
            const json_t *src = json_object_get(ds, "sources");

            printf(" (feedback %lld, expert %lld, base %lld; skipped %lld)",
                   int_of(src, "feedback"), int_of(src, "expert"), int_of(src, "base"),
                   int_of(ds, "skipped"));
        }
        printf("\n");
    }
    print_evaluation(json_object_get(res, "evaluation"));
    if (json_is_string(json_object_get(res, "held_back")))
        printf("  held back: %s\n", str_of(res, "held_back", "-"));
}

static bool ended(const char *state)
{
    return strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Follows run id of model until it ends; the exit status says whether it succeeded. */
static int follow(struct ctl *ctl, const char *model, long long id)
{
    char tail[64];
    char what[300];

    (void)snprintf(tail, sizeof(tail), "/trainings/%lld", id);
    (void)snprintf(what, sizeof(what), "training %lld of '%.200s'", id, model);
    for (;;) {
        struct ctl_resp resp;
        json_t *run = NULL;
        int rc;

        ctl_resp_init(&resp);
        rc = ctl_model_json(ctl, what, "GET", model, tail, NULL, NULL, &resp, &run);
        ctl_resp_release(&resp);
        if (rc != CTL_EXIT_OK)
            return rc;
        if (ended(str_of(run, "state", "queued"))) {
            bool ok = strcmp(str_of(run, "state", ""), "succeeded") == 0;

            print_run(run);
            json_decref(run);
            return ok ? CTL_EXIT_OK : CTL_EXIT_FAIL;
        }
        json_decref(run);
        sleep_ms(POLL_MS);
    }
}

int cmd_retrain(int argc, char **argv, struct ctl *ctl)
{
    const char *cmd = "retrain";
    struct ctl_args args;
    struct ctl_resp resp;
    const char *model = NULL;
    const char *note = NULL;
    bool wait = false;
    json_t *doc = NULL;
    char *body = NULL;
    char what[300];
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, cmd, retrain_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        int r;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            if (strcmp(argv[args.i], "--wait") == 0) {
                wait = true;
                continue;
            }
            r = ctl_opt(cmd, argc, argv, &args.i, "note", &v);
            if (r > 0) {
                note = v;
                continue;
            }
            return r < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
        }
        if (model != NULL)
            return ctl_usagef(cmd, "unexpected argument '%s'", argv[args.i]);
        model = argv[args.i];
    }
    if (model == NULL)
        return ctl_usagef(cmd, "missing MODEL");
    if (note != NULL) {
        json_t *o = json_pack("{s:s}", "note", note);

        body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (body == NULL)
            return ctl_usagef(cmd, "--note: not a text (UTF-8)");
    }
    (void)snprintf(what, sizeof(what), "retrain '%.200s'", model); /* fits */
    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "POST", model, "/trainings", NULL, body != NULL ? body : "",
                        &resp, &doc);
    free(body);
    if (rc == CTL_EXIT_OK) {
        if (ctl->format == CTL_FORMAT_JSON && !wait)
            ctl_print_body(&resp);
        else
            printf("training %lld of %s queued\n", int_of(doc, "id"), model);
        (void)fflush(stdout);
        if (wait)
            rc = follow(ctl, model, int_of(doc, "id"));
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

int cmd_trainings(int argc, char **argv, struct ctl *ctl)
{
    const char *cmd = "trainings";
    struct ctl_args args;
    struct ctl_resp resp;
    const char *model = NULL;
    const char *id = NULL;
    json_t *doc = NULL;
    char what[300];
    char tail[64];
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, cmd, trainings_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (model == NULL)
            model = argv[args.i];
        else if (id == NULL)
            id = argv[args.i];
        else
            return ctl_usagef(cmd, "unexpected argument '%s'", argv[args.i]);
    }
    if (model == NULL)
        return ctl_usagef(cmd, "missing MODEL");
    if (id != NULL && (id[0] == '\0' || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18))
        return ctl_usagef(cmd, "ID: '%s' is not a training run's id (a number)", id);
    (void)snprintf(what, sizeof(what), "trainings '%.200s'", model); /* fits */
    (void)snprintf(tail, sizeof(tail), "/trainings%s%s", id != NULL ? "/" : "",
                   id != NULL ? id : "");
    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "GET", model, tail, NULL, NULL, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
    } else if (rc == CTL_EXIT_OK && id != NULL) {
        print_run(doc);
    } else if (rc == CTL_EXIT_OK) {
        const json_t *runs = json_object_get(doc, "trainings");
        struct ctl_table table;

        if (!json_is_array(runs)) {
            rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no \"trainings\" array",
                            what);
        } else {
            ctl_table_init(&table, columns, MD_ARRAY_LEN(columns));
            for (size_t i = 0; i < json_array_size(runs); i++)
                put_row(&table, json_array_get(runs, i));
            ctl_table_print(&table, stdout);
            ctl_table_release(&table);
        }
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
