/* SPDX-License-Identifier: MIT */
/*
 * cmd_events.c: "modelctl events", the server's stored events (GET
 * /api/v1/events: versions registered, aliases moved, policies changed,
 * ...) as lines oldest first, and with --follow the new ones as they come,
 * polled once a second.
 *
 * The server lists events newest first, a page at a time ("next_before"
 * names the page after). Following keeps the highest id printed and asks,
 * each second, for the events of the last minute before the newest one
 * printed (ids are what decide what is new: a clock that steps back does
 * not hide an event), paging back while a page is full of unseen ones.
 */
#include "ctl.h"

#include <errno.h>
#include <time.h>

static const char events_help[] =
    "NAME\n"
    "       modelctl events - list what happened to models: registrations, aliases,\n"
    "       traffic policies\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] events [--model M] [--kind K] [--since T]\n"
    "                [--until T] [--before ID] [--limit N]\n"
    "       modelctl [GLOBAL OPTIONS] events --follow [--model M] [--kind K] [--since T]\n"
    "                [--limit N] [--max-events N] [--max-seconds S]\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for its events (GET /api/v1/events), the newest N (100\n"
    "       unless --limit says), and prints them oldest first, one per line: TIME\n"
    "       (UTC), MODEL ('-' for the server's own), KIND (version_registered,\n"
    "       alias_moved, alias_removed, policy_changed, ...) and MESSAGE.\n"
    "\n"
    "       With --follow, then asks again every second and prints each new event\n"
    "       as it comes, until interrupted (Ctrl-C), until --max-events events\n"
    "       have been printed or --max-seconds have passed (then exit 0).\n"
    "\n"
    "OPTIONS\n"
    "       --model M     only MODEL's events\n"
    "       --kind K      only events of kind K\n"
    "       --since T     only events at or after T: a UTC time\n"
    "                     (2026-12-07T10:00:00Z) or milliseconds since 1970\n"
    "       --until T     only events before T (not with --follow)\n"
    "       --before ID   only events older than event ID: the next page after\n"
    "                     one whose oldest event is ID (not with --follow)\n"
    "       --limit N     at most N events (1 to 1000; default 100); with --follow,\n"
    "                     of the events printed before following\n"
    "       --follow      keep printing new events (above)\n"
    "       --max-events N\n"
    "                     with --follow: exit after printing N events in all\n"
    "       --max-seconds S\n"
    "                     with --follow: exit after S seconds\n"
    "       --json        print the server's JSON answer; with --follow, one JSON\n"
    "                     object per event and line, oldest first\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl events --model fraud --limit 3\n"
    "       TIME                      MODEL  KIND            MESSAGE\n"
    "       2026-12-07T07:28:14.169Z  fraud  policy_changed  first policy: all traffic to "
    "version 2, ...\n"
    "       2026-12-07T07:31:02.417Z  fraud  alias_moved     alias 'candidate' set to "
    "version 3\n"
    "       2026-12-07T07:31:40.008Z  fraud  policy_changed  traffic policy set by an "
    "operator ...\n"
    "\n"
    "       $ modelctl events --kind policy_changed --since 2026-12-07T00:00:00Z\n"
    "       $ modelctl events --model fraud --follow\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the events were printed (with --follow: a limit was reached)\n"
    "       1      the server refused (a bad filter: its message is shown), could not\n"
    "              be reached or answered badly\n"
    "       2      usage error\n";

#define POLL_MS     1000          /* --follow asks this often */
#define POLL_LIMIT  "1000"        /* events per page while following: the server's most */
#define POLL_PAGES  50            /* pages one poll reads at most before it moves on */
#define LOOKBACK_MS (60 * 1000LL) /* how far before the newest event printed a poll asks */
#define MODEL_WIDTH 8             /* the narrowest MODEL and KIND columns, so that lines */
#define KIND_WIDTH  16            /* printed later while following mostly line up */
#define TIME_WIDTH  24            /* "2026-12-07T07:28:14.134Z" */

struct request {
    const char *model;
    const char *kind;
    const char *since;
    const char *until;
    const char *before;
    const char *limit;
    bool follow;
    long long max_events; /* 0: no limit */
    double max_seconds;   /* 0: no limit */
};

/* What following keeps between polls. */
struct follow {
    int64_t last_id;    /* highest event id printed; 0 before any */
    int64_t last_at_ms; /* its time */
    long long printed;  /* events printed so far */
    int model_width;    /* MODEL column's width */
    int kind_width;     /* KIND column's width */
};

/* ------------------------------------------------------------------ */
/* Printing                                                           */
/* ------------------------------------------------------------------ */

static const char *str_of(const json_t *e, const char *key, const char *none)
{
    const json_t *v = json_object_get(e, key);

    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : none;
}

static int64_t int_of(const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Prints s with control characters as spaces, so an event is one line. */
static void put_clean(const char *s)
{
    for (; *s != '\0'; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, stdout);
}

/* Widens the columns for events (an array) so that they line up. */
static void fit_widths(struct follow *f, const json_t *events)
{
    size_t i;

    for (i = 0; i < json_array_size(events); i++) {
        const json_t *e = json_array_get(events, i);
        int m = (int)strlen(str_of(e, "model", "-"));
        int k = (int)strlen(str_of(e, "kind", "-"));

        if (m > f->model_width && m < 200)
            f->model_width = m;
        if (k > f->kind_width && k < 200)
            f->kind_width = k;
    }
}

static void print_header(const struct ctl *ctl, const struct follow *f)
{
    if (ctl->format == CTL_FORMAT_JSON)
        return;
    printf("%-*s  %-*s  %-*s  MESSAGE\n", TIME_WIDTH, "TIME", f->model_width, "MODEL",
           f->kind_width, "KIND");
}

/* Spaces that pad a cell of n bytes to width, and the two between columns. */
static void pad(int width, size_t n)
{
    int k = (int)n < width ? width - (int)n : 0;

    printf("%*s  ", k, "");
}

static void print_event(const struct ctl *ctl, struct follow *f, const json_t *e)
{
    char *s;

    if (ctl->format == CTL_FORMAT_JSON) {
        s = json_dumps(e, JSON_COMPACT);
        if (s != NULL)
            puts(s);
        free(s);
    } else {
        printf("%-*s  ", TIME_WIDTH, str_of(e, "time", "-"));
        put_clean(str_of(e, "model", "-"));
        pad(f->model_width, strlen(str_of(e, "model", "-")));
        put_clean(str_of(e, "kind", "-"));
        pad(f->kind_width, strlen(str_of(e, "kind", "-")));
        put_clean(str_of(e, "message", ""));
        fputc('\n', stdout);
    }
    f->printed++;
    if (int_of(e, "id") > f->last_id) {
        f->last_id = int_of(e, "id");
        f->last_at_ms = int_of(e, "at_ms");
    }
}

/* Prints events (newest first, as the server lists them) oldest first, up to the limit. */
static void print_events(const struct ctl *ctl, const struct request *rq, struct follow *f,
                         const json_t *events)
{
    size_t i;

    for (i = json_array_size(events); i > 0; i--) {
        if (rq->max_events > 0 && f->printed >= rq->max_events)
            break;
        print_event(ctl, f, json_array_get(events, i - 1));
    }
    (void)fflush(stdout); /* a reader of a pipe sees each event when it comes */
}

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
        return;
}

/*
 * One page of events: GET /api/v1/events with the filters, into *events (a
 * new reference to the "events" array) and *next_before (0 when none).
 */
static int fetch(struct ctl *ctl, const struct request *rq, const char *since, const char *before,
                 const char *limit, json_t **page, int64_t *next_before)
{
    struct ctl_resp resp;
    struct md_buf path;
    json_t *doc = NULL;
    json_t *events;
    int rc;

    *page = NULL;
    *next_before = 0;
    md_buf_init(&path, 16384);
    (void)md_buf_puts(&path, "/api/v1/events");
    query_arg(&path, "model", rq->model);
    query_arg(&path, "kind", rq->kind);
    query_arg(&path, "since", since);
    query_arg(&path, "until", rq->until);
    query_arg(&path, "before", before);
    query_arg(&path, "limit", limit);
    if (md_buf_error(&path) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "events: filters too long");
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "events", "GET", path.data, NULL, NULL, 0, &resp, &doc);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK) {
        events = json_object_get(doc, "events");
        if (!json_is_array(events)) {
            rc = ctl_errorf(CTL_EXIT_FAIL, "events: bad response from server: no \"events\" array");
        } else {
            *page = json_incref(events);
            *next_before = int_of(doc, "next_before");
            if (ctl->format == CTL_FORMAT_JSON && !rq->follow)
                ctl_print_body(&resp);
        }
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

/*
 * The events newer than f->last_id, newest first, into *fresh: the last
 * minute before the newest one printed, paged back while a page holds
 * nothing already seen.
 */
static int poll_new(struct ctl *ctl, const struct request *rq, const struct follow *f,
                    json_t **fresh)
{
    char since[32];
    char before[32];
    const char *since_arg = rq->since;
    int64_t next = 0;
    bool more = true;
    int pages;
    int rc = CTL_EXIT_OK;

    *fresh = json_array();
    if (f->last_id > 0) {
        (void)snprintf(since, sizeof(since), "%lld",
                       (long long)(f->last_at_ms > LOOKBACK_MS ? f->last_at_ms - LOOKBACK_MS : 0));
        since_arg = since;
    }
    for (pages = 0; more && pages < POLL_PAGES; pages++) {
        json_t *page = NULL;
        size_t i;

        if (next > 0)
            (void)snprintf(before, sizeof(before), "%lld", (long long)next);
        rc = fetch(ctl, rq, since_arg, next > 0 ? before : NULL, POLL_LIMIT, &page, &next);
        if (rc != CTL_EXIT_OK)
            break;
        more = next > 0;
        for (i = 0; i < json_array_size(page); i++) {
            json_t *e = json_array_get(page, i);

            if (int_of(e, "id") > f->last_id)
                json_array_append(*fresh, e);
            else
                more = false; /* reached what was printed already */
        }
        json_decref(page);
    }
    return rc;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;

    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int follow(struct ctl *ctl, const struct request *rq, struct follow *f)
{
    double start = now_s();
    double next_poll = start;
    json_t *fresh = NULL;
    int rc;

    for (;;) {
        double now;

        if (rq->max_events > 0 && f->printed >= rq->max_events)
            return CTL_EXIT_OK;
        next_poll += POLL_MS / 1000.0;
        now = now_s();
        if (rq->max_seconds > 0 && now - start >= rq->max_seconds)
            return CTL_EXIT_OK;
        if (rq->max_seconds > 0 && next_poll > start + rq->max_seconds)
            next_poll = start + rq->max_seconds;
        sleep_s(next_poll - now);
        if (next_poll < now)
            next_poll = now; /* a slow answer: no burst of polls to catch up */
        rc = poll_new(ctl, rq, f, &fresh);
        if (rc == CTL_EXIT_OK)
            print_events(ctl, rq, f, fresh);
        json_decref(fresh);
        fresh = NULL;
        if (rc != CTL_EXIT_OK)
            return rc;
    }
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

static int parse_args(struct ctl *ctl, int argc, char **argv, struct request *rq, bool *stop)
{
    static const char *const names[] = {"model",  "kind",  "since",      "until",
                                        "before", "limit", "max-events", "max-seconds"};
    const char *max_events = NULL;
    const char *max_seconds = NULL;
    const char **slots[] = {&rq->model,  &rq->kind,  &rq->since,  &rq->until,
                            &rq->before, &rq->limit, &max_events, &max_seconds};
    struct ctl_args args;
    enum ctl_arg k;
    const char *v = NULL;
    char *end = NULL;
    size_t o;
    int r;

    ctl_args_init(&args, "events", events_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT) {
            *stop = true;
            return args.exit_code;
        }
        if (k == CTL_ARG_WORD)
            return ctl_usagef("events", "unexpected argument '%s'", argv[args.i]);
        if (strcmp(argv[args.i], "--follow") == 0 || strcmp(argv[args.i], "-f") == 0) {
            rq->follow = true;
            continue;
        }
        for (o = 0; o < MD_ARRAY_LEN(names); o++) {
            r = ctl_opt("events", argc, argv, &args.i, names[o], &v);
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
    if (rq->follow && (rq->until != NULL || rq->before != NULL))
        return ctl_usagef("events", "--until and --before list past events: not with --follow");
    if (!rq->follow && (max_events != NULL || max_seconds != NULL))
        return ctl_usagef("events", "--max-events and --max-seconds go with --follow");
    if (max_events != NULL) {
        errno = 0;
        rq->max_events = strtoll(max_events, &end, 10);
        if (end == max_events || *end != '\0' || errno != 0 || rq->max_events < 1 ||
            max_events[0] == '-' || max_events[0] == ' ')
            return ctl_usagef("events", "--max-events: '%s' is not a positive integer", max_events);
    }
    if (max_seconds != NULL) {
        errno = 0;
        rq->max_seconds = strtod(max_seconds, &end);
        if (end == max_seconds || *end != '\0' || errno != 0 || !(rq->max_seconds > 0) ||
            rq->max_seconds > 1e9 || max_seconds[0] == ' ')
            return ctl_usagef("events", "--max-seconds: '%s' is not a positive number",
                              max_seconds);
    }
    return CTL_EXIT_OK;
}

int cmd_events(int argc, char **argv, struct ctl *ctl)
{
    struct request rq;
    struct follow f;
    json_t *page = NULL;
    int64_t next = 0;
    bool stop = false;
    int rc;

    memset(&rq, 0, sizeof(rq));
    memset(&f, 0, sizeof(f));
    f.model_width = MODEL_WIDTH;
    f.kind_width = KIND_WIDTH;
    rc = parse_args(ctl, argc, argv, &rq, &stop);
    if (rc != CTL_EXIT_OK || stop)
        return rc;
    rc = fetch(ctl, &rq, rq.since, rq.before, rq.limit, &page, &next);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->format == CTL_FORMAT_JSON && !rq.follow) {
        json_decref(page);
        return CTL_EXIT_OK; /* fetch printed the body */
    }
    if (!rq.follow) {
        f.model_width = (int)strlen("MODEL");
        f.kind_width = (int)strlen("KIND");
    }
    fit_widths(&f, page);
    print_header(ctl, &f);
    print_events(ctl, &rq, &f, page);
    json_decref(page);
    if (!rq.follow)
        return CTL_EXIT_OK;
    return follow(ctl, &rq, &f);
}
