/* SPDX-License-Identifier: MIT */
/*
 * cmd_traffic.c: "modelctl traffic MODEL [...]", a model's traffic policy:
 * shown (GET /api/v1/models/{m}/traffic) with a bar per route, or replaced
 * (PUT, optionally with If-Match: "<revision>") from a file, from JSON on
 * the command line, or from the shortcuts --pin, --split, --shadow.
 *
 * The shortcuts only write the policy's JSON (docs/api.md has its shape);
 * every check of it (weights, fractions, versions that exist and serve) is
 * the server's, and its message is shown as it gives it. --shadow alone
 * changes the shadows of the policy in force: it reads the policy and puts
 * it back with new shadows, under If-Match of the revision it read, so a
 * change made in between is refused rather than overwritten.
 */
#include "ctl.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>

static const char traffic_help[] =
    "NAME\n"
    "       modelctl traffic - show or change how a model's calls are split between\n"
    "       its versions\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] traffic MODEL\n"
    "       modelctl [GLOBAL OPTIONS] traffic MODEL --set FILE|-|JSON [--revision N]\n"
    "       modelctl [GLOBAL OPTIONS] traffic MODEL --pin VERSION [--shadow V[:F]]...\n"
    "                [--revision N]\n"
    "       modelctl [GLOBAL OPTIONS] traffic MODEL --split SPLIT [--sticky-header H |\n"
    "                --sticky-key K] [--salt S] [--shadow V[:F]]... [--mirror F]\n"
    "                [--revision N]\n"
    "       modelctl [GLOBAL OPTIONS] traffic MODEL (--shadow V[:F]... | --no-shadows)\n"
    "                [--revision N]\n"
    "\n"
    "DESCRIPTION\n"
    "       Without options, shows MODEL's traffic policy (GET\n"
    "       /api/v1/models/MODEL/traffic): its revision and when it was set, the\n"
    "       sticky assignment, the shadows, and one row per route with its version,\n"
    "       weight, share of the calls, whether it serves and a bar of its share.\n"
    "       Calls that name a version or an alias bypass the policy.\n"
    "\n"
    "       The other forms replace the policy (PUT /api/v1/models/MODEL/traffic)\n"
    "       and print the new one. The server checks it whole (weights, fractions,\n"
    "       versions that exist, are not archived and serve) and refuses it with\n"
    "       the reason, keeping the old one; it stores the policy before it answers\n"
    "       and logs a policy_changed event. A VERSION is a number or an alias (the\n"
    "       server resolves it when it stores the policy).\n"
    "\n"
    "       --set FILE|-|JSON\n"
    "              the policy's JSON, from FILE, from standard input (-) or given\n"
    "              on the command line (an argument starting with '{'):\n"
    "              {\"routes\": [{\"name\": \"stable\", \"version\": \"3\", \"weight\": 90},\n"
    "                          {\"name\": \"canary\", \"version\": \"4\", \"weight\": 10}],\n"
    "               \"sticky\": {\"header\": \"X-User-Id\"},\n"
    "               \"shadows\": [{\"version\": \"5\", \"fraction\": 0.25}]}\n"
    "       --pin VERSION\n"
    "              all calls to VERSION: one route 'stable' (blue/green: pin the\n"
    "              other colour to switch, pin back to undo)\n"
    "       --split SPLIT\n"
    "              weighted routes. V1=W1,V2=W2 names the first route 'stable' and\n"
    "              the second 'canary' (V=W alone: one route 'stable');\n"
    "              NAME=VERSION:WEIGHT,... names each route itself, for any number\n"
    "              of routes (a=3:50,b=4:50 for an A/B test). Weights are integers\n"
    "              from 0 to 1000000, shares of their sum\n"
    "       --sticky-header H, --sticky-key K\n"
    "              with --split: assign each caller to a route by the value of\n"
    "              request header H, or of the contract's key K, so the same caller\n"
    "              always gets the same route; raising the last route's weight (the\n"
    "              canary's) only moves callers into it\n"
    "       --salt S\n"
    "              with a sticky option: the experiment's salt (by default the\n"
    "              server keeps the salt of a policy sticky by the same header or\n"
    "              key, else makes a new one)\n"
    "       --shadow VERSION[:FRACTION]\n"
    "              send VERSION a copy of FRACTION (0.25 or 25%; default all) of the\n"
    "              calls, after the answer; its outputs are compared, never\n"
    "              returned. Repeat for several. Without --pin or --split, replaces\n"
    "              the shadows of the policy in force and keeps the rest\n"
    "       --no-shadows\n"
    "              remove every shadow of the policy in force, keeping the rest\n"
    "       --mirror FRACTION\n"
    "              with --split: the share of calls on a route that is not the\n"
    "              champion's also sent to the champion, for comparison\n"
    "       --revision N\n"
    "              replace the policy only if it is still at revision N (as shown\n"
    "              by 'modelctl traffic MODEL'); otherwise the server refuses with\n"
    "              409 and nothing changes\n"
    "       --json print the server's JSON answer instead of the summary\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl traffic fraud --split 2=90,3=10\n"
    "       model:     fraud\n"
    "       revision:  4\n"
    "       sticky:    none\n"
    "       shadows:   none\n"
    "\n"
    "       ROUTE   VERSION  WEIGHT  TRAFFIC  SPLIT\n"
    "       stable  2        90      90%      ####################################....\n"
    "       canary  3        10      10%      ####....................................\n"
    "\n"
    "       $ modelctl traffic fraud --split 2=50,3=50 --sticky-header X-User-Id\n"
    "       $ modelctl traffic fraud --split a=2:34,b=3:33,c=4:33 --sticky-key user_id\n"
    "       $ modelctl traffic fraud --shadow 4:0.25\n"
    "       $ modelctl traffic fraud --pin champion --revision 7\n"
    "       $ modelctl traffic fraud --set policy.json\n"
    "       $ modelctl traffic fraud --split 2=90,3=-10\n"
    "       modelctl: traffic 'fraud': routes[1].weight: must be an integer from 0 to "
    "1000000\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the policy was shown or replaced\n"
    "       1      the server refused (unknown model, a bad policy, a revision that\n"
    "              moved: its message is shown) or could not be reached\n"
    "       2      usage error\n";

#define MAX_SHADOWS 16 /* --shadow options taken; the server holds fewer and says so */
#define BAR_WIDTH   40

/* What traffic was asked, after option parsing. */
struct request {
    const char *model;
    const char *set;           /* --set's argument, or NULL */
    const char *pin;           /* --pin's VERSION, or NULL */
    const char *split;         /* --split's SPLIT, or NULL */
    const char *sticky_header; /* or NULL */
    const char *sticky_key;    /* or NULL */
    const char *salt;          /* or NULL */
    const char *mirror;        /* or NULL */
    const char *revision;      /* or NULL */
    const char *shadows[MAX_SHADOWS];
    size_t n_shadows;
    bool no_shadows;
    char what[300];
};

/* ------------------------------------------------------------------ */
/* Showing a policy                                                   */
/* ------------------------------------------------------------------ */

/* "2" or "2 (champion)" for a route or shadow that came from an alias. */
static void version_text(const json_t *o, char *out, size_t n)
{
    const json_t *v = json_object_get(o, "version");
    const json_t *alias = json_object_get(o, "alias");
    const char *num = json_is_string(v) ? json_string_value(v) : "?";

    if (json_is_string(alias))
        (void)snprintf(out, n, "%s (%s)", num, json_string_value(alias)); /* cut short is fine */
    else
        (void)snprintf(out, n, "%s", num);
}

static void print_sticky(const json_t *sticky)
{
    const json_t *header = json_object_get(sticky, "header");
    const json_t *key = json_object_get(sticky, "key");
    const json_t *salt = json_object_get(sticky, "salt");

    fputs("sticky:    ", stdout);
    if (json_is_string(header))
        printf("header %s", json_string_value(header));
    else if (json_is_string(key))
        printf("key %s", json_string_value(key));
    else
        fputs("none", stdout);
    if ((json_is_string(header) || json_is_string(key)) && json_is_string(salt))
        printf(" (salt %s)", json_string_value(salt));
    fputc('\n', stdout);
}

static void print_shadows(const json_t *shadows)
{
    char ver[160];
    char pct[CTL_PERCENT_MAX];
    size_t i;

    fputs("shadows:   ", stdout);
    if (json_array_size(shadows) == 0)
        fputs("none", stdout);
    for (i = 0; i < json_array_size(shadows); i++) {
        const json_t *s = json_array_get(shadows, i);
        const json_t *f = json_object_get(s, "fraction");

        version_text(s, ver, sizeof(ver));
        ctl_format_percent(json_is_number(f) ? 100.0 * json_number_value(f) : 100.0, pct,
                           sizeof(pct));
        printf("%s%s at %s", i > 0 ? ", " : "", ver, pct);
    }
    fputc('\n', stdout);
}

/* A bar of BAR_WIDTH characters, '#' for the share and '.' for the rest. */
static void bar(double pct, char *out)
{
    int filled = (int)lround(pct / 100.0 * BAR_WIDTH);
    int i;

    if (filled < 1 && pct > 0)
        filled = 1;
    if (filled > BAR_WIDTH)
        filled = BAR_WIDTH;
    for (i = 0; i < BAR_WIDTH; i++)
        out[i] = i < filled ? '#' : '.';
    out[BAR_WIDTH] = '\0';
}

/* The routes' table; serving is the answer's "routes" array (GET only), or NULL. */
static void print_routes(const json_t *routes, const json_t *serving)
{
    static const char *const with_serving[] = {"ROUTE",   "VERSION", "WEIGHT",
                                               "TRAFFIC", "SERVING", "SPLIT"};
    static const char *const without[] = {"ROUTE", "VERSION", "WEIGHT", "TRAFFIC", "SPLIT"};
    struct ctl_table t;
    double total = 0;
    char ver[160];
    char pct[CTL_PERCENT_MAX];
    char split[BAR_WIDTH + 1];
    size_t i;

    for (i = 0; i < json_array_size(routes); i++) {
        const json_t *w = json_object_get(json_array_get(routes, i), "weight");

        if (json_is_number(w))
            total += json_number_value(w);
    }
    if (serving != NULL)
        ctl_table_init(&t, with_serving, MD_ARRAY_LEN(with_serving));
    else
        ctl_table_init(&t, without, MD_ARRAY_LEN(without));
    for (i = 0; i < json_array_size(routes); i++) {
        const json_t *r = json_array_get(routes, i);
        const json_t *name = json_object_get(r, "name");
        const json_t *w = json_object_get(r, "weight");
        double weight = json_is_number(w) ? json_number_value(w) : 0;
        double share = total > 0 ? 100.0 * weight / total : 0;

        ctl_table_cell(&t, json_is_string(name) ? json_string_value(name) : "?");
        version_text(r, ver, sizeof(ver));
        ctl_table_cell(&t, ver);
        ctl_table_cellf(&t, "%.0f", weight);
        ctl_format_percent(share, pct, sizeof(pct));
        ctl_table_cell(&t, pct);
        if (serving != NULL) {
            const json_t *s = json_object_get(json_array_get(serving, i), "serving");

            ctl_table_cell(&t, json_is_true(s) ? "yes" : json_is_false(s) ? "no" : "?");
        }
        bar(share, split);
        ctl_table_cell(&t, split);
    }
    ctl_table_print(&t, stdout);
    ctl_table_release(&t);
}

/* Prints a policy answer: {"model", "revision", ["updated",] "policy", ["routes"]}. */
static int print_policy(const struct request *rq, const json_t *doc)
{
    const json_t *policy = json_object_get(doc, "policy");
    const json_t *routes = json_object_get(policy, "routes");
    const json_t *updated = json_object_get(doc, "updated");
    const json_t *mirror = json_object_get(policy, "mirror");
    const json_t *serving = json_object_get(doc, "routes");
    char pct[CTL_PERCENT_MAX];

    if (!json_is_array(routes))
        return ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no policy with routes",
                          rq->what);
    fputs("model:     ", stdout);
    ctl_print_value(stdout, json_object_get(doc, "model"));
    fputs("\nrevision:  ", stdout);
    ctl_print_value(stdout, json_object_get(doc, "revision"));
    fputc('\n', stdout);
    if (json_is_string(updated))
        printf("updated:   %s\n", json_string_value(updated));
    print_sticky(json_object_get(policy, "sticky"));
    print_shadows(json_object_get(policy, "shadows"));
    if (json_is_number(mirror) && json_number_value(mirror) > 0) {
        ctl_format_percent(100.0 * json_number_value(mirror), pct, sizeof(pct));
        printf("mirror:    %s of the calls on other routes also go to the champion\n", pct);
    }
    fputc('\n', stdout);
    print_routes(routes, json_is_array(serving) ? serving : NULL);
    return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Writing a policy from the shortcuts                                */
/* ------------------------------------------------------------------ */

/*
 * A number from the command line as JSON: an integer when it is one, else a
 * real; NULL (after a usage message naming opt) when s is not a number. Its
 * range is the server's to judge, so "-5" and "12.5" go through.
 */
static json_t *number(const char *opt, const char *item, const char *s, double scale)
{
    char *end = NULL;
    double d;

    errno = 0;
    d = strtod(s, &end);
    /* Decimal only: strtod would also read "0x10", "inf" and leading blanks. */
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(d) ||
        s[strspn(s, "0123456789+-.eE")] != '\0') {
        ctl_usagef("traffic", "%s: '%s' in '%s' is not a number", opt, s, item);
        return NULL;
    }
    d *= scale;
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* A route {"name", "version", "weight"}; NULL after a usage message. */
static json_t *route(const char *item, const char *name, size_t name_len, const char *version,
                     size_t version_len, const char *weight)
{
    json_t *w;
    json_t *r;

    if (name_len == 0 || version_len == 0 || weight[0] == '\0') {
        ctl_usagef("traffic", "--split: '%s' is not VERSION=WEIGHT or NAME=VERSION:WEIGHT", item);
        return NULL;
    }
    w = number("--split", item, weight, 1.0);
    if (w == NULL)
        return NULL;
    r = json_object();
    json_object_set_new(r, "name", json_stringn(name, name_len));
    json_object_set_new(r, "version", json_stringn(version, version_len));
    json_object_set_new(r, "weight", w);
    return r;
}

/*
 * The routes of --split: "V1=W1[,V2=W2]" (named stable, canary) or
 * "NAME=VERSION:WEIGHT,...". NULL after a usage message.
 */
static json_t *split_routes(const char *spec)
{
    static const char *const names[] = {"stable", "canary"};
    json_t *routes = json_array();
    char *copy = md_xstrdup(spec);
    char *item = copy;
    int named = -1; /* unknown until the first item */
    size_t n = 0;

    for (;;) {
        char *comma = strchr(item, ',');
        char *eq;
        char *colon;
        json_t *r;

        if (comma != NULL)
            *comma = '\0';
        eq = strchr(item, '=');
        colon = eq != NULL ? strchr(eq + 1, ':') : NULL;
        if (eq == NULL) {
            ctl_usagef("traffic", "--split: '%s' is not VERSION=WEIGHT or NAME=VERSION:WEIGHT",
                       item);
            goto fail;
        }
        if (named >= 0 && named != (colon != NULL)) {
            ctl_usagef("traffic",
                       "--split: mixes VERSION=WEIGHT and NAME=VERSION:WEIGHT; use one form");
            goto fail;
        }
        named = colon != NULL;
        if (named) {
            r = route(item, item, (size_t)(eq - item), eq + 1, (size_t)(colon - eq - 1), colon + 1);
        } else {
            if (n >= MD_ARRAY_LEN(names)) {
                ctl_usagef("traffic", "--split: three or more routes need names: "
                                      "NAME=VERSION:WEIGHT,...");
                goto fail;
            }
            r = route(item, names[n], strlen(names[n]), item, (size_t)(eq - item), eq + 1);
        }
        if (r == NULL)
            goto fail;
        json_array_append_new(routes, r);
        n++;
        if (comma == NULL)
            break;
        item = comma + 1;
    }
    free(copy);
    return routes;
fail:
    free(copy);
    json_decref(routes);
    return NULL;
}

/* The shadows of --shadow VERSION[:FRACTION] (FRACTION: 0.25 or 25%); NULL after a message. */
static json_t *shadow_list(const struct request *rq)
{
    json_t *shadows = json_array();
    size_t i;

    for (i = 0; i < rq->n_shadows; i++) {
        const char *s = rq->shadows[i];
        const char *colon = strchr(s, ':');
        size_t vlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
        json_t *o;

        if (vlen == 0 || (colon != NULL && colon[1] == '\0')) {
            ctl_usagef("traffic", "--shadow: '%s' is not VERSION or VERSION:FRACTION", s);
            json_decref(shadows);
            return NULL;
        }
        o = json_object();
        json_object_set_new(o, "version", json_stringn(s, vlen));
        if (colon != NULL) {
            size_t flen = strlen(colon + 1);
            bool percent = colon[flen] == '%';
            char *f = md_xstrndup(colon + 1, percent ? flen - 1 : flen);
            json_t *num = number("--shadow", s, f, percent ? 0.01 : 1.0);

            free(f);
            if (num == NULL) {
                json_decref(o);
                json_decref(shadows);
                return NULL;
            }
            json_object_set_new(o, "fraction", num);
        }
        json_array_append_new(shadows, o);
    }
    return shadows;
}

/* The policy --pin or --split writes, taking shadows; NULL after a usage message. */
static json_t *shortcut_policy(const struct request *rq, json_t *shadows)
{
    json_t *policy = json_object();
    json_t *routes;

    json_object_set_new(policy, "shadows", shadows);
    if (rq->pin != NULL) {
        json_t *r = json_object();

        routes = json_array();
        json_object_set_new(r, "name", json_string("stable"));
        json_object_set_new(r, "version", json_string(rq->pin));
        json_object_set_new(r, "weight", json_integer(100));
        json_array_append_new(routes, r);
    } else {
        routes = split_routes(rq->split);
        if (routes == NULL)
            goto fail;
    }
    json_object_set_new(policy, "routes", routes);
    if (rq->sticky_header != NULL || rq->sticky_key != NULL) {
        json_t *sticky = json_object();

        if (rq->sticky_header != NULL)
            json_object_set_new(sticky, "header", json_string(rq->sticky_header));
        else
            json_object_set_new(sticky, "key", json_string(rq->sticky_key));
        if (rq->salt != NULL)
            json_object_set_new(sticky, "salt", json_string(rq->salt));
        json_object_set_new(policy, "sticky", sticky);
    }
    if (rq->mirror != NULL) {
        json_t *m = number("--mirror", rq->mirror, rq->mirror, 1.0);

        if (m == NULL)
            goto fail;
        json_object_set_new(policy, "mirror", m);
    }
    return policy;
fail:
    json_decref(policy);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

/* A string that is not valid UTF-8 makes jansson's json_string fail: refuse it up front. */
static bool utf8_ok(const char *s)
{
    json_t *j = json_string(s);

    json_decref(j);
    return j != NULL;
}

static int check_args(struct request *rq)
{
    bool shortcut = rq->pin != NULL || rq->split != NULL;
    bool shadows = rq->n_shadows > 0 || rq->no_shadows;
    const char *strings[] = {rq->pin, rq->split, rq->sticky_header, rq->sticky_key, rq->salt};
    size_t i;

    if (rq->model == NULL)
        return ctl_usagef("traffic", "missing MODEL");
    if (rq->set != NULL && (shortcut || shadows || rq->sticky_header != NULL ||
                            rq->sticky_key != NULL || rq->salt != NULL || rq->mirror != NULL))
        return ctl_usagef("traffic", "--set takes the whole policy: give no other option "
                                     "but --revision");
    if (rq->pin != NULL && rq->split != NULL)
        return ctl_usagef("traffic", "--pin and --split: give one");
    if (rq->sticky_header != NULL && rq->sticky_key != NULL)
        return ctl_usagef("traffic", "--sticky-header and --sticky-key: give one");
    if ((rq->sticky_header != NULL || rq->sticky_key != NULL || rq->mirror != NULL) &&
        rq->split == NULL)
        return ctl_usagef("traffic", "--sticky-header, --sticky-key and --mirror go with --split");
    if (rq->salt != NULL && rq->sticky_header == NULL && rq->sticky_key == NULL)
        return ctl_usagef("traffic", "--salt goes with --sticky-header or --sticky-key");
    if (rq->no_shadows && rq->n_shadows > 0)
        return ctl_usagef("traffic", "--shadow and --no-shadows: give one");
    if (rq->no_shadows && shortcut)
        return ctl_usagef("traffic", "--pin and --split drop the shadows unless --shadow is "
                                     "given: --no-shadows is not needed");
    if (rq->revision != NULL && rq->set == NULL && !shortcut && !shadows)
        return ctl_usagef("traffic", "--revision goes with a change (--set, --pin, --split, "
                                     "--shadow, --no-shadows)");
    if (rq->revision != NULL) {
        for (i = 0; rq->revision[i] >= '0' && rq->revision[i] <= '9'; i++)
            ;
        if (i == 0 || i > 18 || rq->revision[i] != '\0')
            return ctl_usagef("traffic", "--revision: '%s' is not a revision number", rq->revision);
    }
    for (i = 0; i < MD_ARRAY_LEN(strings); i++)
        if (strings[i] != NULL && !utf8_ok(strings[i]))
            return ctl_usagef("traffic", "'%s' is not valid UTF-8", strings[i]);
    for (i = 0; i < rq->n_shadows; i++)
        if (!utf8_ok(rq->shadows[i]))
            return ctl_usagef("traffic", "'%s' is not valid UTF-8", rq->shadows[i]);
    return CTL_EXIT_OK;
}

/* Fills rq from the command line; *stop says --help was answered (with CTL_EXIT_OK). */
static int parse_args(struct ctl *ctl, int argc, char **argv, struct request *rq, bool *stop)
{
    static const char *const names[] = {"set",        "pin",  "split",  "sticky-header",
                                        "sticky-key", "salt", "mirror", "revision"};
    const char **slots[] = {&rq->set,        &rq->pin,  &rq->split,  &rq->sticky_header,
                            &rq->sticky_key, &rq->salt, &rq->mirror, &rq->revision};
    struct ctl_args args;
    enum ctl_arg k;
    const char *v = NULL;
    size_t o;
    int r;

    ctl_args_init(&args, "traffic", traffic_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT) {
            *stop = true;
            return args.exit_code;
        }
        if (k == CTL_ARG_WORD) {
            if (rq->model != NULL)
                return ctl_usagef("traffic", "unexpected argument '%s'", argv[args.i]);
            rq->model = argv[args.i];
            continue;
        }
        if (strcmp(argv[args.i], "--no-shadows") == 0) {
            rq->no_shadows = true;
            continue;
        }
        r = ctl_opt("traffic", argc, argv, &args.i, "shadow", &v);
        if (r < 0)
            return CTL_EXIT_USAGE;
        if (r > 0) {
            if (rq->n_shadows == MAX_SHADOWS)
                return ctl_usagef("traffic", "more than %d --shadow options", MAX_SHADOWS);
            rq->shadows[rq->n_shadows++] = v;
            continue;
        }
        for (o = 0; o < MD_ARRAY_LEN(names); o++) {
            r = ctl_opt("traffic", argc, argv, &args.i, names[o], &v);
            if (r < 0)
                return CTL_EXIT_USAGE;
            if (r == 0)
                continue;
            if (*slots[o] != NULL)
                return ctl_usagef("traffic", "--%s given twice", names[o]);
            *slots[o] = v;
            break;
        }
        if (o == MD_ARRAY_LEN(names))
            return ctl_args_unknown(&args);
    }
    return check_args(rq);
}

/* The body of --set: JSON given inline (starting with '{'), or read from a file or stdin. */
static int set_body(const struct request *rq, struct md_buf *body)
{
    const char *s = rq->set;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s == '{') {
        if (md_buf_puts(body, rq->set) != MD_OK)
            return ctl_errorf(CTL_EXIT_USAGE, "--set: the JSON is larger than %zu MiB",
                              CTL_MAX_BODY >> 20);
        return CTL_EXIT_OK;
    }
    return ctl_read_file("traffic: --set", rq->set, body);
}

/*
 * --shadow or --no-shadows alone: the policy in force with shadows in place
 * of its own (taken), as text into body, and the revision it was read at
 * (for If-Match unless --revision gives one).
 */
static int reshadow(struct ctl *ctl, const struct request *rq, const char *path, json_t *shadows,
                    struct md_buf *body, char *revision, size_t rev_n)
{
    struct ctl_resp resp;
    json_t *doc = NULL;
    json_t *policy;
    const json_t *rev;
    char *text;
    int rc;

    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, rq->what, "GET", path, NULL, NULL, 0, &resp, &doc);
    ctl_resp_release(&resp);
    if (rc != CTL_EXIT_OK) {
        json_decref(shadows);
        return rc;
    }
    policy = json_object_get(doc, "policy");
    rev = json_object_get(doc, "revision");
    if (!json_is_object(policy) || !json_is_integer(rev)) {
        json_decref(shadows);
        json_decref(doc);
        return ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no policy and revision",
                          rq->what);
    }
    json_object_set_new(policy, "shadows", shadows);
    (void)snprintf(revision, rev_n, "%" JSON_INTEGER_FORMAT, json_integer_value(rev));
    text = json_dumps(policy, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        return ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", rq->what);
    rc = md_buf_puts(body, text);
    free(text);
    return rc == MD_OK ? CTL_EXIT_OK : ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", rq->what);
}

/*
 * Writes the new policy's text into body; revision gets the revision for
 * If-Match, "" for none. Every usage error is found before a request goes out.
 */
static int change_body(struct ctl *ctl, const struct request *rq, const char *path,
                       struct md_buf *body, char *revision, size_t rev_n)
{
    json_t *shadows;
    json_t *policy;
    char *text;
    int rc;

    revision[0] = '\0';
    if (rq->set != NULL)
        return set_body(rq, body);
    shadows = shadow_list(rq);
    if (shadows == NULL)
        return CTL_EXIT_USAGE;
    if (rq->pin == NULL && rq->split == NULL)
        return reshadow(ctl, rq, path, shadows, body, revision, rev_n);
    policy = shortcut_policy(rq, shadows);
    if (policy == NULL)
        return CTL_EXIT_USAGE;
    text = json_dumps(policy, JSON_COMPACT);
    json_decref(policy);
    if (text == NULL)
        return ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", rq->what);
    rc = md_buf_puts(body, text);
    free(text);
    return rc == MD_OK ? CTL_EXIT_OK : ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", rq->what);
}

int cmd_traffic(int argc, char **argv, struct ctl *ctl)
{
    struct request rq;
    struct ctl_resp resp;
    struct md_buf path;
    struct md_buf body;
    json_t *doc = NULL;
    char revision[32];
    char if_match[64];
    bool stop = false;
    bool change;
    int rc;

    memset(&rq, 0, sizeof(rq));
    rc = parse_args(ctl, argc, argv, &rq, &stop);
    if (rc != CTL_EXIT_OK || stop)
        return rc;
    (void)snprintf(rq.what, sizeof(rq.what), "traffic '%.200s'", rq.model); /* fits */
    change =
        rq.set != NULL || rq.pin != NULL || rq.split != NULL || rq.n_shadows > 0 || rq.no_shadows;

    md_buf_init(&path, 4096);
    md_buf_init(&body, CTL_MAX_BODY);
    ctl_resp_init(&resp);
    if (ctl_model_path(&path, rq.model, "/traffic") != MD_OK) {
        rc = ctl_errorf(CTL_EXIT_USAGE, "%s: model name too long", rq.what);
        goto out;
    }
    if (!change) {
        rc = ctl_call_json(ctl, rq.what, "GET", path.data, NULL, NULL, 0, &resp, &doc);
    } else {
        rc = change_body(ctl, &rq, path.data, &body, revision, sizeof(revision));
        if (rc != CTL_EXIT_OK)
            goto out;
        if (rq.revision != NULL)
            (void)snprintf(revision, sizeof(revision), "%s", rq.revision); /* <= 18 digits */
        (void)snprintf(if_match, sizeof(if_match), "If-Match: \"%s\"", revision);
        rc = ctl_call_json(ctl, rq.what, "PUT", path.data, revision[0] != '\0' ? if_match : NULL,
                           body.data != NULL ? body.data : "", body.len, &resp, &doc);
    }
    if (rc != CTL_EXIT_OK)
        goto out;
    if (ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else
        rc = print_policy(&rq, doc);
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&body);
    md_buf_release(&path);
    return rc;
}
