/* SPDX-License-Identifier: MIT */
/*
 * cmd_review.c: "modelctl review MODEL", a reviewer's session in the
 * terminal: it takes the next item of MODEL's review queue under a lease
 * (GET /api/v1/review/next), shows its features, the prediction and the top
 * contributions of the model's explanation, reads the verdict as a single
 * key (1..9 the model's labels, s skip, q quit; a number and Enter for a
 * regression) and sends it (POST /api/v1/review/{id}), until the queue is
 * empty or the reviewer quits. "modelctl review list MODEL" and "modelctl
 * review stats MODEL" print the items and the queue's figures
 * (GET /api/v1/review).
 */
#include "ctl.h"

#include <math.h>
#include <termios.h>
#include <unistd.h>

#define TOP_CONTRIBUTIONS 5

static const char review_help[] =
    "NAME\n"
    "       modelctl review - answer a model's review queue, or list it\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] review MODEL [--reviewer NAME] [--max N]\n"
    "       modelctl [GLOBAL OPTIONS] review list MODEL [--state queued|leased|done]\n"
    "       modelctl [GLOBAL OPTIONS] review stats MODEL\n"
    "\n"
    "DESCRIPTION\n"
    "       The first form takes the oldest waiting item of MODEL's review queue under\n"
    "       a lease (GET /api/v1/review/next), prints why it was sent to review, the\n"
    "       prediction, the features and the largest contributions of the model's\n"
    "       explanation when its engine gives one, and asks for the verdict: a key\n"
    "       1 to 9 picks the model's label of that number, s skips the item (its\n"
    "       lease runs out and it returns to the queue), q quits. For a regression\n"
    "       the verdict is a number followed by Enter. The verdict is sent (POST\n"
    "       /api/v1/review/ID) and becomes expert feedback on the prediction; then\n"
    "       the next item comes, until none waits. On a terminal a key is read\n"
    "       without Enter; otherwise a line is read and its first character used.\n"
    "\n"
    "       'list' prints the items of MODEL (--state narrows them); 'stats' the\n"
    "       queue's length, the age of its oldest item and how often reviewers\n"
    "       agreed with the model.\n"
    "\n"
    "OPTIONS\n"
    "       --reviewer NAME  who answers (default $USER, else 'anonymous')\n"
    "       --max N          stop after N items\n"
    "       --state S        list: queued, leased or done\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl review fraud\n"
    "       item 12 (uncertain), version 3, request 7f3a row 0\n"
    "       prediction: fraud  score 0.5521\n"
    "         amount            2890\n"
    "         ...\n"
    "       why (contributions to the margin, bias -1.92):\n"
    "         amount            +1.4133\n"
    "         ...\n"
    "       verdict [1 legit, 2 fraud, s skip, q quit]: 2\n"
    "       item 12: fraud (agrees with the model)\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the session ended (queue empty, q, --max reached) or the listing printed\n"
    "       1      the server refused (an unknown model, one without review rules),\n"
    "              could not be reached or answered badly\n"
    "       2      usage error\n";

/* Appends "?name=" (first) or "&name=" + value, escaped, to the path in b. */
static int add_query(struct md_buf *b, const char *name, const char *value)
{
    md_buf_puts(b, memchr(b->data, '?', b->len) == NULL ? "?" : "&");
    md_buf_puts(b, name);
    md_buf_putc(b, '=');
    return ctl_path_segment(b, value);
}

/* One key from stdin: raw on a terminal, else the first character of a line. EOF: 'q'. */
static int read_key(void)
{
    struct termios old;
    struct termios raw;
    char line[256];
    int c;

    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0) {
        raw = old;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        c = getchar();
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
        if (c != EOF)
            printf("%c\n", c);
        return c == EOF ? 'q' : c;
    }
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 'q';
    return line[0] == '\n' ? ' ' : (unsigned char)line[0];
}

static void print_value(const json_t *v)
{
    if (json_is_string(v))
        printf("%s", json_string_value(v));
    else if (json_is_integer(v))
        printf("%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        printf("%g", json_real_value(v));
    else if (json_is_true(v) || json_is_false(v))
        printf("%s", json_is_true(v) ? "true" : "false");
    else
        printf("-");
}

static void print_item(const json_t *it)
{
    const json_t *pred = json_object_get(it, "prediction");
    const json_t *feats = json_object_get(it, "features");
    const json_t *ex = json_object_get(it, "explanation");
    const json_t *score = json_object_get(pred, "score");
    const char *label = json_string_value(json_object_get(pred, "label"));
    const char *key;
    const json_t *v;

    printf("item %lld (%s), version %s, request %s row %lld\n",
           (long long)json_integer_value(json_object_get(it, "id")),
           json_string_value(json_object_get(it, "reason")),
           json_string_value(json_object_get(it, "version")),
           json_string_value(json_object_get(it, "request_id")),
           (long long)json_integer_value(json_object_get(it, "row")));
    printf("prediction: %s", label != NULL ? label : "");
    if (json_is_number(score))
        printf("%sscore %.4f", label != NULL ? "  " : "", json_number_value(score));
    printf("\n");
    json_object_foreach((json_t *)feats, key, v)
    {
        printf("  %-20s ", key);
        print_value(v);
        printf("\n");
    }
    if (!json_is_object(ex)) {
        const char *note = json_string_value(json_object_get(it, "explanation_note"));

        printf("why: no explanation (%s)\n", note != NULL ? note : "none given");
        return;
    }
    printf("why (contributions to the margin, bias %.4f):\n",
           json_number_value(json_object_get(ex, "bias")));
    for (size_t i = 0;
         i < json_array_size(json_object_get(ex, "contributions")) && i < TOP_CONTRIBUTIONS; i++) {
        const json_t *c = json_array_get(json_object_get(ex, "contributions"), i);

        printf("  %-20s %+.4f\n", json_string_value(json_object_get(c, "column")),
               json_number_value(json_object_get(c, "value")));
    }
}

/* The verdict's JSON value asked for on the terminal into out: 1 given, 0 skip, -1 quit. */
static int ask_verdict(const json_t *it, char *out, size_t n)
{
    const json_t *labels = json_object_get(it, "labels");
    const char *task = json_string_value(json_object_get(it, "task"));
    size_t k = json_array_size(labels);

    for (;;) {
        int c;

        if (task != NULL && strcmp(task, "regression") == 0) {
            char line[128];
            char *end = NULL;
            double v;

            printf("verdict [a number, s skip, q quit]: ");
            (void)fflush(stdout);
            if (fgets(line, sizeof(line), stdin) == NULL || line[0] == 'q')
                return -1;
            if (line[0] == 's')
                return 0;
            v = strtod(line, &end);
            if (end != line && isfinite(v)) {
                (void)snprintf(out, n, "%.17g", v);
                return 1;
            }
            printf("not a number\n");
            continue;
        }
        printf("verdict [");
        for (size_t i = 0; i < k && i < 9; i++)
            printf("%zu %s, ", i + 1, json_string_value(json_array_get(labels, i)));
        printf("s skip, q quit]: ");
        (void)fflush(stdout);
        c = read_key();
        if (c == 'q')
            return -1;
        if (c == 's')
            return 0;
        if (c >= '1' && c <= '9' && (size_t)(c - '1') < k) {
            json_t *s = json_string(json_string_value(json_array_get(labels, (size_t)(c - '1'))));
            char *text = json_dumps(s, JSON_ENCODE_ANY);

            (void)snprintf(out, n, "%s", text != NULL ? text : "null");
            free(text);
            json_decref(s);
            return 1;
        }
        printf("press 1 to %zu, s or q\n", k < 9 ? k : 9);
    }
}

static int answer(struct ctl *ctl, const json_t *it, const char *verdict)
{
    struct ctl_resp resp;
    struct md_buf path;
    struct md_buf body;
    json_t *doc = NULL;
    json_t *lease = json_string(json_string_value(json_object_get(it, "lease")));
    char *lease_text = json_dumps(lease, JSON_ENCODE_ANY);
    long long id = (long long)json_integer_value(json_object_get(it, "id"));
    int rc;

    md_buf_init(&path, 256);
    md_buf_init(&body, 4096);
    md_buf_printf(&path, "/api/v1/review/%lld", id);
    md_buf_putc(&path, '\0');
    md_buf_printf(&body, "{\"lease\":%s,\"verdict\":%s}", lease_text != NULL ? lease_text : "null",
                  verdict);
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "review verdict", "POST", (const char *)path.data, NULL,
                       (const char *)body.data, body.len, &resp, &doc);
    if (rc == CTL_EXIT_OK) {
        const json_t *agrees = json_object_get(doc, "agrees");

        printf("item %lld: %s%s\n", id, json_string_value(json_object_get(doc, "verdict")),
               json_is_true(agrees)    ? " (agrees with the model)"
               : json_is_false(agrees) ? " (the model said otherwise)"
                                       : "");
    }
    json_decref(doc);
    json_decref(lease);
    free(lease_text);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    md_buf_release(&body);
    return rc;
}

static int session(struct ctl *ctl, const char *model, const char *reviewer, long max)
{
    long done = 0;

    while (max <= 0 || done < max) {
        struct ctl_resp resp;
        struct md_buf path;
        json_t *it = NULL;
        char verdict[512];
        int rc;
        int r;

        md_buf_init(&path, 1024);
        md_buf_puts(&path, "/api/v1/review/next");
        if (add_query(&path, "model", model) != MD_OK ||
            add_query(&path, "reviewer", reviewer) != MD_OK) {
            md_buf_release(&path);
            return ctl_usagef("review", "model or reviewer too long");
        }
        md_buf_putc(&path, '\0');
        ctl_resp_init(&resp);
        rc = ctl_http(ctl, "review", "GET", (const char *)path.data, NULL, 0, &resp);
        md_buf_release(&path);
        if (rc == CTL_EXIT_OK && resp.status == 204) {
            printf("no item of '%s' waits for review\n", model);
            ctl_resp_release(&resp);
            return CTL_EXIT_OK;
        }
        if (rc == CTL_EXIT_OK && !ctl_resp_ok(&resp))
            rc = ctl_fail_resp("review", &resp);
        if (rc == CTL_EXIT_OK)
            rc = ctl_resp_json("review", &resp, &it);
        ctl_resp_release(&resp);
        if (rc != CTL_EXIT_OK)
            return rc;
        print_item(it);
        r = ask_verdict(it, verdict, sizeof(verdict));
        if (r > 0)
            rc = answer(ctl, it, verdict);
        json_decref(it);
        if (r < 0 || rc != CTL_EXIT_OK)
            return rc;
        done++;
        printf("\n");
    }
    return CTL_EXIT_OK;
}

static int listing(struct ctl *ctl, const char *model, const char *state, bool stats)
{
    struct ctl_resp resp;
    struct md_buf path;
    json_t *doc = NULL;
    int rc;

    md_buf_init(&path, 1024);
    md_buf_puts(&path, "/api/v1/review");
    if (add_query(&path, "model", model) != MD_OK ||
        (state != NULL && add_query(&path, "state", state) != MD_OK)) {
        md_buf_release(&path);
        return ctl_usagef("review", "model or state too long");
    }
    if (stats)
        md_buf_puts(&path, "&limit=1&state=done");
    md_buf_putc(&path, '\0');
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "review", "GET", (const char *)path.data, NULL, NULL, 0, &resp, &doc);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK && ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
    } else if (rc == CTL_EXIT_OK && stats) {
        const json_t *q = json_object_get(doc, "queue");
        const json_t *a = json_object_get(q, "agreement");

        printf("model %s: %lld waiting, %lld leased, oldest %.0f s, %lld answered, "
               "agreement %s",
               model, (long long)json_integer_value(json_object_get(q, "waiting")),
               (long long)json_integer_value(json_object_get(q, "leased")),
               json_number_value(json_object_get(q, "oldest_age_s")),
               (long long)json_integer_value(json_object_get(q, "answered")),
               json_is_number(a) ? "" : "-");
        if (json_is_number(a))
            printf("%.1f%%", json_number_value(a) * 100);
        printf("\n");
    } else if (rc == CTL_EXIT_OK) {
        const json_t *items = json_object_get(doc, "items");
        struct ctl_table t;

        ctl_table_init(&t,
                       (const char *const[]){"ID", "STATE", "REASON", "VERSION", "REQUEST", "ROW",
                                             "PREDICTED", "REVIEWER", "VERDICT"},
                       9);
        for (size_t i = 0; i < json_array_size(items); i++) {
            const json_t *it = json_array_get(items, i);
            const char *pl =
                json_string_value(json_object_get(json_object_get(it, "prediction"), "label"));
            const char *rv = json_string_value(json_object_get(it, "reviewer"));
            const char *vd = json_string_value(json_object_get(it, "verdict"));

            ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(it, "id")));
            ctl_table_cell(&t, json_string_value(json_object_get(it, "state")));
            ctl_table_cell(&t, json_string_value(json_object_get(it, "reason")));
            ctl_table_cell(&t, json_string_value(json_object_get(it, "version")));
            ctl_table_cell(&t, json_string_value(json_object_get(it, "request_id")));
            ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(it, "row")));
            ctl_table_cell(&t, pl != NULL ? pl : "-");
            ctl_table_cell(&t, rv != NULL ? rv : "-");
            ctl_table_cell(&t, vd != NULL ? vd : "-");
        }
        ctl_table_print(&t, stdout);
        ctl_table_release(&t);
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

int cmd_review(int argc, char **argv, struct ctl *ctl)
{
    const char *words[2] = {NULL, NULL};
    const char *reviewer = getenv("USER");
    const char *state = NULL;
    const char *max_text = NULL;
    size_t n_words = 0;
    struct ctl_args args;
    enum ctl_arg k;
    long max = 0;

    ctl_args_init(&args, "review", review_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        int r;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD) {
            if (n_words == 2)
                return ctl_usagef("review", "unexpected argument '%s'", argv[args.i]);
            words[n_words++] = argv[args.i];
            continue;
        }
        if ((r = ctl_opt("review", argc, argv, &args.i, "reviewer", &v)) != 0) {
            if (r < 0)
                return CTL_EXIT_USAGE;
            reviewer = v;
        } else if ((r = ctl_opt("review", argc, argv, &args.i, "state", &v)) != 0) {
            if (r < 0)
                return CTL_EXIT_USAGE;
            state = v;
        } else if ((r = ctl_opt("review", argc, argv, &args.i, "max", &v)) != 0) {
            if (r < 0)
                return CTL_EXIT_USAGE;
            max_text = v;
        } else {
            return ctl_args_unknown(&args);
        }
    }
    if (n_words == 0)
        return ctl_usagef("review", "missing MODEL");
    if (max_text != NULL) {
        char *end = NULL;

        max = strtol(max_text, &end, 10);
        if (end == max_text || *end != '\0' || max < 1)
            return ctl_usagef("review", "--max: '%s' is not a whole number above 0", max_text);
    }
    if (reviewer == NULL || reviewer[0] == '\0')
        reviewer = "anonymous";
    if (n_words == 2 && strcmp(words[0], "list") == 0)
        return listing(ctl, words[1], state, false);
    if (n_words == 2 && strcmp(words[0], "stats") == 0)
        return listing(ctl, words[1], NULL, true);
    if (n_words == 2)
        return ctl_usagef("review", "'%s': not list or stats", words[0]);
    if (state != NULL)
        return ctl_usagef("review", "--state: only with 'list'");
    return session(ctl, words[0], reviewer, max);
}
