/* SPDX-License-Identifier: MIT */
/*
 * cmd_rollout.c: "modelctl rollout start|status|pause|resume|promote|abort|
 * rollback" and "modelctl rollouts", the progressive rollouts of
 * /api/v1/models/{m}/rollouts: starting one, showing one with its decisions
 * (and following it, polled once a second, until it ends), the operators'
 * commands, and a model's list. The server decides everything; this file
 * sends, polls and lays out.
 */
#include "ctl.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

static const char rollout_help[] =
    "NAME\n"
    "       modelctl rollout - start, show, follow and command a progressive rollout\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] rollout start MODEL CANDIDATE [--strategy S]\n"
    "                [--champion V]\n"
    "       modelctl [GLOBAL OPTIONS] rollout status MODEL [ID] [--follow]\n"
    "       modelctl [GLOBAL OPTIONS] rollout pause|resume|promote|abort|rollback MODEL [ID]\n"
    "                [--note TEXT]\n"
    "\n"
    "DESCRIPTION\n"
    "       A rollout moves MODEL's traffic from its champion to CANDIDATE step by\n"
    "       step, judged once a second by the server's gates, and promotes the\n"
    "       candidate or rolls back to the champion by itself (see docs/rollouts.md).\n"
    "\n"
    "       start     starts a rollout of version (or alias) CANDIDATE (POST\n"
    "                 /api/v1/models/MODEL/rollouts) and prints its first decision.\n"
    "       status    prints rollout ID of MODEL (without ID: its newest rollout):\n"
    "                 phase, stage, traffic, strategy, every decision, and the gates\n"
    "                 of the latest judgement. With --follow, then prints each new\n"
    "                 decision as the server stores it (asking once a second) until\n"
    "                 the rollout ends.\n"
    "       pause     holds the traffic where it is; no step is taken until resume.\n"
    "       resume    starts the paused stage's time again.\n"
    "       promote   puts all the traffic on the candidate now; the champion alias\n"
    "                 moves to it.\n"
    "       abort, rollback\n"
    "                 put all the traffic back on the champion now.\n"
    "       The commands apply to rollout ID, or without ID to MODEL's active one,\n"
    "       and print the decision they made.\n"
    "\n"
    "OPTIONS\n"
    "       --strategy S\n"
    "              the strategy: a JSON object (text starting with '{'), a file\n"
    "              holding one ('-' for standard input), or the name of a strategy\n"
    "              stored with 'modelctl strategy put'; without it the server's\n"
    "              default canary (steps 5, 25, 50, 100, a minute each)\n"
    "       --champion V\n"
    "              the version the candidate is measured against and falls back to\n"
    "              (default: the champion alias)\n"
    "       --follow\n"
    "              with status: print new decisions until the rollout ends; with\n"
    "              --timeout, give up after that many seconds in all\n"
    "       --note TEXT\n"
    "              why: kept in the decision, the rollout's reason and the event\n"
    "       --json print the server's JSON answer; with --follow, one JSON decision\n"
    "              per line\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl rollout start fraud 4 --strategy '{\"kind\": \"canary\",\n"
    "             \"steps\": [10, 50, 100], \"interval_s\": 300}'\n"
    "       started rollout 7 of fraud: version 4 against version 3, step 1 (10%) for\n"
    "       at least 300 s\n"
    "\n"
    "       $ modelctl rollout status fraud --follow\n"
    "       $ modelctl rollout pause fraud --note 'weekend freeze'\n"
    "       $ modelctl rollout rollback fraud 7\n"
    "\n"
    "EXIT STATUS\n"
    "       0      done; with --follow, the rollout ended promoted\n"
    "       1      the server refused (its message is shown), could not be reached or\n"
    "              answered badly; with --follow, the rollout ended rolled back or\n"
    "              aborted, or --timeout passed first\n"
    "       2      usage error\n";

static const char rollouts_help[] =
    "NAME\n"
    "       modelctl rollouts - list a model's rollouts\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] rollouts MODEL\n"
    "\n"
    "DESCRIPTION\n"
    "       Prints MODEL's rollouts, newest first (GET /api/v1/models/MODEL/rollouts):\n"
    "       ID, CANDIDATE, CHAMPION, PHASE (running, paused, promoted, rolled_back,\n"
    "       aborted), STAGE, the CANARY share of the traffic, when it STARTED (UTC)\n"
    "       and the REASON it paused or ended.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model\n"
    "       --json print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl rollouts fraud\n"
    "       ID  CANDIDATE  CHAMPION  PHASE     STAGE                      CANARY  ...\n"
    "       2   4          3         running   canary, step 2 of 3 (50%)  50%     ...\n"
    "       1   3          2         promoted  canary, step 2 of 3 (50%)  100%    ...\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the list was printed\n"
    "       1      the server refused (an unknown model), could not be reached or\n"
    "              answered badly\n"
    "       2      usage error\n";

#define POLL_MS 1000 /* --follow asks this often */

/* ------------------------------------------------------------------ */
/* Reading answers                                                    */
/* ------------------------------------------------------------------ */

static const char *str_of(const json_t *o, const char *key, const char *none)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : none;
}

static json_int_t int_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static double num_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : 0;
}

/* A time in ms since 1970 as "2026-12-07T07:46:30.045Z"; "-" for 0. */
static void format_ms(json_int_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&s, &tm) == NULL) {
        (void)snprintf(out, n, "-");
        return;
    }
    (void)snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* A measured number as people read it: four significant digits ("-" for null). */
static void format_num(const json_t *v, char *out, size_t n)
{
    if (json_is_number(v))
        (void)snprintf(out, n, "%.4g", json_number_value(v));
    else
        (void)snprintf(out, n, "-");
}

/* Where a rollout stands: "canary, step 2 of 3 (50%)", "shadow", "check". */
static void format_stage(const json_t *r, char *out, size_t n)
{
    const json_t *spec = json_object_get(r, "spec");
    const json_t *steps = json_object_get(json_object_get(spec, "strategy"), "steps");
    const char *stage = str_of(r, "stage", "?");
    json_int_t step = int_of(r, "step");

    if (strcmp(stage, "canary") == 0 && json_is_array(steps))
        (void)snprintf(out, n, "canary, step %lld of %zu (%lld%%)", (long long)step + 1,
                       json_array_size(steps),
                       (long long)json_integer_value(json_array_get(steps, (size_t)step)));
    else
        (void)snprintf(out, n, "%s", stage);
}

/* Appends a strategy in one line: "canary: steps 10, 50, 100; 300 s a step; ...". */
static void put_strategy(struct md_buf *b, const json_t *s)
{
    const json_t *steps = json_object_get(s, "steps");
    const json_t *gates = json_object_get(s, "gates");
    const json_t *inc = json_object_get(s, "inconclusive");
    char num[CTL_REAL_MAX];
    size_t i;

    (void)md_buf_puts(b, str_of(s, "kind", "?"));
    if (json_object_get(s, "shadow_s") != NULL) {
        ctl_format_real(num_of(s, "shadow_fraction"), num, sizeof(num));
        (void)md_buf_printf(b, ": %s %lld s, fraction %s",
                            strcmp(str_of(s, "kind", ""), "bluegreen") == 0 ? "check" : "shadow",
                            (long long)int_of(s, "shadow_s"), num);
    }
    if (json_is_array(steps)) {
        (void)md_buf_puts(b, json_object_get(s, "shadow_s") != NULL ? "; steps " : ": steps ");
        for (i = 0; i < json_array_size(steps); i++)
            (void)md_buf_printf(b, "%s%lld", i > 0 ? ", " : "",
                                (long long)json_integer_value(json_array_get(steps, i)));
        (void)md_buf_printf(b, "; %lld s a step", (long long)int_of(s, "interval_s"));
    }
    (void)md_buf_printf(b, "; %lld requests", (long long)int_of(s, "min_requests"));
    if (json_object_get(s, "mirror") != NULL) {
        ctl_format_real(num_of(s, "mirror"), num, sizeof(num));
        (void)md_buf_printf(b, "; mirror %s", num);
    }
    (void)md_buf_puts(b, "; gates");
    for (i = 0; i < json_array_size(gates); i++) {
        const json_t *g = json_array_get(gates, i);
        const char *const cmps[] = {"min",       "max",       "min_delta",
                                    "max_delta", "min_ratio", "max_ratio"};
        size_t c;

        (void)md_buf_printf(b, "%s %s", i > 0 ? "," : "", str_of(g, "metric", "?"));
        for (c = 0; c < MD_ARRAY_LEN(cmps); c++) {
            if (json_object_get(g, cmps[c]) != NULL) {
                ctl_format_real(num_of(g, cmps[c]), num, sizeof(num));
                (void)md_buf_printf(b, " %s %s", cmps[c], num);
            }
        }
    }
    if (json_is_object(inc))
        (void)md_buf_printf(b, "; inconclusive after %lld s: %s", (long long)int_of(inc, "after_s"),
                            str_of(inc, "action", "?"));
}

/* "candidate 50%, champion 50%, mirror 0.1" (and the shadow's fraction when copied). */
static void format_weights(const json_t *w, char *out, size_t n)
{
    char shadow[CTL_REAL_MAX];
    char mirror[CTL_REAL_MAX];
    int k;

    ctl_format_real(num_of(w, "shadow"), shadow, sizeof(shadow));
    ctl_format_real(num_of(w, "mirror"), mirror, sizeof(mirror));
    k = snprintf(out, n, "candidate %lld%%, champion %lld%%", (long long)int_of(w, "candidate"),
                 (long long)int_of(w, "champion"));
    if (k > 0 && (size_t)k < n && num_of(w, "shadow") > 0)
        k += snprintf(out + k, n - (size_t)k, ", shadow copies %s", shadow);
    if (k > 0 && (size_t)k < n && num_of(w, "mirror") > 0)
        (void)snprintf(out + k, n - (size_t)k, ", mirror %s", mirror);
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */
/* ------------------------------------------------------------------ */

/* GET (body NULL) or POST to /api/v1/models/{model}<tail>: a JSON object. */
static int call(struct ctl *ctl, const char *what, const char *model, const char *tail,
                const char *body, struct ctl_resp *resp, json_t **out)
{
    return ctl_model_json(ctl, what, body != NULL ? "POST" : "GET", model, tail, NULL, body, resp,
                          out);
}

/* An ID operand: digits, a rollout's id. */
static bool id_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (s[i] < '0' || s[i] > '9' || i >= 18)
            return false;
    return i > 0 && s[0] != '0';
}

/*
 * The id of MODEL's newest rollout (active: only a running or paused one)
 * into id (at least 24 bytes); prints why not and returns CTL_EXIT_FAIL
 * when there is none.
 */
static int pick_id(struct ctl *ctl, const char *what, const char *model, bool active, char *id,
                   size_t n)
{
    struct ctl_resp resp;
    json_t *doc = NULL;
    const json_t *list;
    bool found = false;
    size_t i;
    int rc;

    ctl_resp_init(&resp);
    rc = call(ctl, what, model, "/rollouts", NULL, &resp, &doc);
    list = json_object_get(doc, "rollouts");
    for (i = 0; rc == CTL_EXIT_OK && i < json_array_size(list) && !found; i++) {
        const json_t *r = json_array_get(list, i);

        if (active && !json_is_true(json_object_get(r, "active")))
            continue;
        (void)snprintf(id, n, "%lld", (long long)int_of(r, "id"));
        found = true;
    }
    if (rc == CTL_EXIT_OK && !found)
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: model '%s' has no %srollout", what, model,
                        active ? "active " : "");
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* rollout start                                                      */
/* ------------------------------------------------------------------ */

/* [A-Za-z][A-Za-z0-9_.-]*, at most 63: a stored strategy's name. */
static bool name_ok(const char *s)
{
    size_t i;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return i < 64;
}

/*
 * The --strategy argument as JSON into *out: a JSON object (text starting
 * with '{'), a file ('-' standard input) holding one, or a stored
 * strategy's name (a JSON string). Usage errors are reported.
 */
static int strategy_arg(const char *cmd, const char *s, json_t **out)
{
    const char *t = s;
    struct md_buf file;
    json_error_t jerr;
    int rc;

    *out = NULL;
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
        t++;
    if (*t != '{' && strcmp(s, "-") != 0 && access(s, F_OK) != 0) {
        if (!name_ok(s))
            return ctl_usagef(cmd,
                              "--strategy: '%s' is neither a JSON object, a file nor a stored "
                              "strategy's name",
                              s);
        *out = json_string(s);
        return CTL_EXIT_OK;
    }
    if (*t == '{') {
        *out = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    } else {
        md_buf_init(&file, CTL_MAX_BODY);
        rc = ctl_read_file("--strategy", s, &file);
        if (rc != CTL_EXIT_OK) {
            md_buf_release(&file);
            return rc;
        }
        *out =
            json_loadb(file.data != NULL ? file.data : "", file.len, JSON_REJECT_DUPLICATES, &jerr);
        md_buf_release(&file);
    }
    if (*out == NULL)
        return ctl_usagef(cmd, "--strategy: not JSON (line %d, column %d: %s)", jerr.line,
                          jerr.column, jerr.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return ctl_usagef(cmd, "--strategy: the strategy must be a JSON object");
    }
    return CTL_EXIT_OK;
}

static int rollout_start(int argc, char **argv, struct ctl *ctl)
{
    const char *cmd = "rollout start";
    const char *model = NULL;
    const char *candidate = NULL;
    const char *champion = NULL;
    const char *strategy = NULL;
    struct ctl_args args;
    struct ctl_resp resp;
    json_t *body = NULL;
    json_t *st = NULL;
    json_t *doc = NULL;
    char what[300];
    char *text = NULL;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, cmd, rollout_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        int r;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            r = ctl_opt(cmd, argc, argv, &args.i, "strategy", &v);
            if (r > 0) {
                strategy = v;
                continue;
            }
            if (r == 0)
                r = ctl_opt(cmd, argc, argv, &args.i, "champion", &v);
            if (r > 0) {
                champion = v;
                continue;
            }
            return r < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
        }
        if (model == NULL)
            model = argv[args.i];
        else if (candidate == NULL)
            candidate = argv[args.i];
        else
            return ctl_usagef(cmd, "unexpected argument '%s'", argv[args.i]);
    }
    if (model == NULL)
        return ctl_usagef(cmd, "missing MODEL");
    if (candidate == NULL)
        return ctl_usagef(cmd, "missing CANDIDATE (a version number or an alias)");
    if (strategy != NULL) {
        rc = strategy_arg(cmd, strategy, &st);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    body = json_object();
    if (body == NULL || json_object_set_new(body, "candidate", json_string(candidate)) != 0 ||
        (champion != NULL && json_object_set_new(body, "champion", json_string(champion)) != 0) ||
        (st != NULL && json_object_set(body, "strategy", st) != 0) ||
        (text = json_dumps(body, JSON_COMPACT)) == NULL) {
        json_decref(body);
        json_decref(st);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: out of memory, or an argument is not UTF-8", cmd);
    }
    json_decref(body);
    json_decref(st);
    (void)snprintf(what, sizeof(what), "rollout start '%.200s'", model); /* fits */
    ctl_resp_init(&resp);
    rc = call(ctl, what, model, "/rollouts", text, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else if (rc == CTL_EXIT_OK)
        printf("started rollout %lld of %s: %s\n", (long long)int_of(doc, "id"), model,
               str_of(json_object_get(doc, "decision"), "reason", ""));
    json_decref(doc);
    free(text);
    ctl_resp_release(&resp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* rollout status                                                     */
/* ------------------------------------------------------------------ */

static bool final_phase(const char *phase)
{
    return strcmp(phase, "promoted") == 0 || strcmp(phase, "rolled_back") == 0 ||
           strcmp(phase, "aborted") == 0;
}

/* Prints one decision in a line: time, action, reason. */
static void print_decision(const json_t *d)
{
    char when[40];
    const char *reason = str_of(d, "reason", "");

    format_ms(int_of(d, "at_ms"), when, sizeof(when));
    printf("%-24s  %-12s  ", when, str_of(d, "action", "?"));
    for (; *reason != '\0'; reason++)
        putchar((unsigned char)*reason < 0x20 || *reason == 0x7f ? ' ' : *reason);
    putchar('\n');
}

/* The rollout's head: what it is, where it stands, what it follows. */
static void print_head(const json_t *r)
{
    const json_t *spec = json_object_get(r, "spec");
    const json_t *state = json_object_get(r, "state");
    struct md_buf b;
    char text[512];

    printf("rollout %lld of %s: version %s against version %s\n", (long long)int_of(r, "id"),
           str_of(r, "model", "?"), str_of(r, "candidate", "?"), str_of(r, "champion", "?"));
    printf("phase     %s\n", str_of(r, "phase", "?"));
    format_stage(r, text, sizeof(text));
    printf("stage     %s\n", text);
    format_weights(json_object_get(r, "weights"), text, sizeof(text));
    printf("traffic   %s\n", text);
    md_buf_init(&b, (size_t)1 << 16);
    if (json_is_string(json_object_get(spec, "strategy_name")))
        (void)md_buf_printf(&b, "'%s', ", str_of(spec, "strategy_name", ""));
    put_strategy(&b, json_object_get(spec, "strategy"));
    printf("strategy  %.*s\n", (int)b.len, b.data != NULL ? b.data : "");
    md_buf_release(&b);
    format_ms(int_of(spec, "created_ms"), text, sizeof(text));
    printf("started   %s\n", text);
    if (int_of(state, "ended_ms") > 0) {
        format_ms(int_of(state, "ended_ms"), text, sizeof(text));
        printf("ended     %s\n", text);
    }
    if (str_of(state, "reason", "")[0] != '\0')
        printf("reason    %s\n", str_of(state, "reason", ""));
}

/* The gates of the latest decision that judged some, as a table. */
static void print_gates(const json_t *decisions)
{
    const json_t *d = NULL;
    const json_t *gates;
    struct ctl_table t;
    char when[40];
    char a[CTL_REAL_MAX];
    size_t i;

    for (i = json_array_size(decisions); i > 0 && d == NULL; i--)
        if (json_array_size(json_object_get(json_array_get(decisions, i - 1), "gates")) > 0)
            d = json_array_get(decisions, i - 1);
    if (d == NULL)
        return;
    gates = json_object_get(d, "gates");
    format_ms(int_of(d, "at_ms"), when, sizeof(when));
    printf("\ngates at %s (%s):\n", when, str_of(d, "action", "?"));
    ctl_table_init(&t,
                   (const char *const[]){"METRIC", "RESULT", "CANDIDATE", "CHAMPION", "LIMIT",
                                         "SAMPLES", "NOTE"},
                   7);
    for (i = 0; i < json_array_size(gates); i++) {
        const json_t *g = json_array_get(gates, i);
        const json_t *s = json_object_get(g, "samples");

        ctl_table_cell(&t, str_of(g, "metric", "?"));
        ctl_table_cell(&t, str_of(g, "result", "?"));
        format_num(json_object_get(g, "candidate"), a, sizeof(a));
        ctl_table_cell(&t, a);
        format_num(json_object_get(g, "champion"), a, sizeof(a));
        ctl_table_cell(&t, a);
        format_num(json_object_get(g, "limit"), a, sizeof(a));
        ctl_table_cellf(&t, "%s %s", str_of(g, "op", ""), a);
        /* Counts, in whole numbers (10 is "10", not "1e+01"). */
        ctl_table_cellf(&t, "%lld / %lld", (long long)int_of(s, "candidate"),
                        (long long)int_of(s, "champion"));
        ctl_table_cell(&t, str_of(g, "note", ""));
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

/* The outcome of a followed rollout as an exit status, said on stderr when not 0. */
static int outcome(const json_t *r)
{
    const char *phase = str_of(r, "phase", "?");

    if (strcmp(phase, "promoted") == 0)
        return CTL_EXIT_OK;
    return ctl_errorf(CTL_EXIT_FAIL, "rollout %lld of %s %s: %s", (long long)int_of(r, "id"),
                      str_of(r, "model", "?"),
                      strcmp(phase, "rolled_back") == 0 ? "rolled back" : phase,
                      str_of(json_object_get(r, "state"), "reason", ""));
}

/* Prints decisions from index *shown on, and moves *shown past them. */
static void print_new(const json_t *r, size_t *shown, bool as_json)
{
    const json_t *decisions = json_object_get(r, "decisions");

    for (; *shown < json_array_size(decisions); (*shown)++) {
        const json_t *d = json_array_get(decisions, *shown);

        if (as_json) {
            char *s = json_dumps(d, JSON_COMPACT);

            if (s != NULL)
                puts(s);
            free(s);
        } else {
            print_decision(d);
        }
    }
    (void)fflush(stdout);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls rollout r (already shown up to *shown decisions) until it ends. */
static int follow(struct ctl *ctl, const char *what, const char *model, const char *tail, json_t *r,
                  size_t shown)
{
    long long deadline = now_ms() + ctl->timeout_ms;
    struct ctl_resp resp;
    int rc = CTL_EXIT_OK;

    ctl_resp_init(&resp);
    json_incref(r);
    while (rc == CTL_EXIT_OK && !final_phase(str_of(r, "phase", "?"))) {
        json_t *next = NULL;

        if (ctl->timeout_set && now_ms() + POLL_MS > deadline) {
            char secs[CTL_REAL_MAX];

            ctl_format_real((double)ctl->timeout_ms / 1000, secs, sizeof(secs));
            rc = ctl_errorf(CTL_EXIT_FAIL, "%s: rollout %lld still %s after %s s", what,
                            (long long)int_of(r, "id"), str_of(r, "phase", "?"), secs);
            break;
        }
        sleep_ms(POLL_MS);
        rc = call(ctl, what, model, tail, NULL, &resp, &next);
        if (rc != CTL_EXIT_OK)
            break;
        json_decref(r);
        r = next;
        print_new(r, &shown, ctl->format == CTL_FORMAT_JSON);
    }
    if (rc == CTL_EXIT_OK)
        rc = outcome(r);
    json_decref(r);
    ctl_resp_release(&resp);
    return rc;
}

static int rollout_status(int argc, char **argv, struct ctl *ctl)
{
    const char *cmd = "rollout status";
    const char *model = NULL;
    const char *id = NULL;
    bool follow_it = false;
    struct ctl_args args;
    struct ctl_resp resp;
    json_t *r = NULL;
    char what[300];
    char tail[64];
    char picked[32];
    size_t shown = 0;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, cmd, rollout_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            if (strcmp(argv[args.i], "--follow") != 0)
                return ctl_args_unknown(&args);
            follow_it = true;
        } else if (model == NULL) {
            model = argv[args.i];
        } else if (id == NULL) {
            id = argv[args.i];
        } else {
            return ctl_usagef(cmd, "unexpected argument '%s'", argv[args.i]);
        }
    }
    if (model == NULL)
        return ctl_usagef(cmd, "missing MODEL");
    if (id != NULL && !id_ok(id))
        return ctl_usagef(cmd, "ID: '%s' is not a rollout's id (a number)", id);
    (void)snprintf(what, sizeof(what), "rollout status '%.200s'", model); /* fits */
    if (id == NULL) {
        rc = pick_id(ctl, what, model, false, picked, sizeof(picked));
        if (rc != CTL_EXIT_OK)
            return rc;
        id = picked;
    }
    (void)snprintf(tail, sizeof(tail), "/rollouts/%s", id); /* id_ok: at most 18 digits */
    ctl_resp_init(&resp);
    rc = call(ctl, what, model, tail, NULL, &resp, &r);
    if (rc != CTL_EXIT_OK) {
        ctl_resp_release(&resp);
        return rc;
    }
    if (ctl->format == CTL_FORMAT_JSON && !follow_it) {
        ctl_print_body(&resp);
    } else if (ctl->format == CTL_FORMAT_JSON) {
        print_new(r, &shown, true);
    } else {
        print_head(r);
        printf("\n%-24s  %-12s  %s\n", "TIME", "ACTION", "REASON");
        print_new(r, &shown, false);
        if (!follow_it)
            print_gates(json_object_get(r, "decisions"));
    }
    if (follow_it)
        rc = follow(ctl, what, model, tail, r, shown);
    json_decref(r);
    ctl_resp_release(&resp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* rollout pause|resume|promote|abort|rollback                        */
/* ------------------------------------------------------------------ */

struct verb {
    const char *name; /* the subcommand and the path's last segment */
    const char *done; /* what the line printed says happened */
};

static const struct verb verbs[] = {
    {"pause", "paused"},  {"resume", "resumed"},       {"promote", "promoted"},
    {"abort", "aborted"}, {"rollback", "rolled back"},
};

static int rollout_command(int argc, char **argv, struct ctl *ctl, const struct verb *vb)
{
    char cmd[32];
    const char *model = NULL;
    const char *id = NULL;
    const char *note = NULL;
    struct ctl_args args;
    struct ctl_resp resp;
    json_t *doc = NULL;
    char what[300];
    char tail[64];
    char picked[32];
    char *body = NULL;
    enum ctl_arg k;
    int rc;

    (void)snprintf(cmd, sizeof(cmd), "rollout %s", vb->name); /* fits */
    ctl_args_init(&args, cmd, rollout_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        int r;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            r = ctl_opt(cmd, argc, argv, &args.i, "note", &v);
            if (r > 0) {
                note = v;
                continue;
            }
            return r < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
        }
        if (model == NULL)
            model = argv[args.i];
        else if (id == NULL)
            id = argv[args.i];
        else
            return ctl_usagef(cmd, "unexpected argument '%s'", argv[args.i]);
    }
    if (model == NULL)
        return ctl_usagef(cmd, "missing MODEL");
    if (id != NULL && !id_ok(id))
        return ctl_usagef(cmd, "ID: '%s' is not a rollout's id (a number)", id);
    if (note != NULL) {
        json_t *o = json_pack("{s:s}", "note", note);

        body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (body == NULL)
            return ctl_usagef(cmd, "--note: not UTF-8 text");
    }
    (void)snprintf(what, sizeof(what), "rollout %s '%.200s'", vb->name, model); /* fits */
    if (id == NULL) {
        rc = pick_id(ctl, what, model, true, picked, sizeof(picked));
        if (rc != CTL_EXIT_OK) {
            free(body);
            return rc;
        }
        id = picked;
    }
    (void)snprintf(tail, sizeof(tail), "/rollouts/%s/%s", id, vb->name); /* fits */
    ctl_resp_init(&resp);
    rc = call(ctl, what, model, tail, body != NULL ? body : "", &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else if (rc == CTL_EXIT_OK)
        printf("%s rollout %s of %s: %s\n", vb->done, id, model,
               str_of(json_object_get(doc, "decision"), "reason", ""));
    json_decref(doc);
    free(body);
    ctl_resp_release(&resp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The commands                                                       */
/* ------------------------------------------------------------------ */

int cmd_rollout(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    const char *sub;
    enum ctl_arg k;
    size_t i;

    ctl_args_init(&args, "rollout", rollout_help, argc, argv);
    k = ctl_args_next(ctl, &args);
    if (k == CTL_ARG_EXIT)
        return args.exit_code;
    if (k == CTL_ARG_END)
        return ctl_usagef("rollout", "missing SUBCOMMAND (start, status, pause, resume, "
                                     "promote, abort or rollback)");
    if (k == CTL_ARG_OPTION)
        return ctl_args_unknown(&args);
    sub = argv[args.i];
    argc -= args.i;
    argv += args.i;
    if (strcmp(sub, "start") == 0)
        return rollout_start(argc, argv, ctl);
    if (strcmp(sub, "status") == 0)
        return rollout_status(argc, argv, ctl);
    for (i = 0; i < MD_ARRAY_LEN(verbs); i++)
        if (strcmp(sub, verbs[i].name) == 0)
            return rollout_command(argc, argv, ctl, &verbs[i]);
    return ctl_usagef("rollout", "unknown subcommand '%s'", sub);
}

int cmd_rollouts(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_resp resp;
    struct ctl_table t;
    const char *model = NULL;
    const json_t *list;
    json_t *doc = NULL;
    char what[300];
    char text[256];
    size_t i;
    int rc;

    rc = ctl_args_model(ctl, "rollouts", rollouts_help, argc, argv, &model);
    if (rc != CTL_CONTINUE)
        return rc;
    (void)snprintf(what, sizeof(what), "rollouts '%.200s'", model); /* fits */
    ctl_resp_init(&resp);
    rc = call(ctl, what, model, "/rollouts", NULL, &resp, &doc);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
    } else if (rc == CTL_EXIT_OK) {
        list = json_object_get(doc, "rollouts");
        ctl_table_init(&t,
                       (const char *const[]){"ID", "CANDIDATE", "CHAMPION", "PHASE", "STAGE",
                                             "CANARY", "STARTED", "REASON"},
                       8);
        for (i = 0; i < json_array_size(list); i++) {
            const json_t *r = json_array_get(list, i);

            ctl_table_cellf(&t, "%lld", (long long)int_of(r, "id"));
            ctl_table_cell(&t, str_of(r, "candidate", "?"));
            ctl_table_cell(&t, str_of(r, "champion", "?"));
            ctl_table_cell(&t, str_of(r, "phase", "?"));
            format_stage(r, text, sizeof(text));
            ctl_table_cell(&t, text);
            ctl_table_cellf(&t, "%lld%%",
                            (long long)int_of(json_object_get(r, "weights"), "candidate"));
            format_ms(int_of(r, "created_ms"), text, sizeof(text));
            ctl_table_cell(&t, text);
            ctl_table_cell(&t, str_of(json_object_get(r, "state"), "reason", ""));
        }
        ctl_table_print(&t, stdout);
        ctl_table_release(&t);
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
