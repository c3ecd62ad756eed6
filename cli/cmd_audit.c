/* SPDX-License-Identifier: MIT */
/*
 * cmd_audit.c: "modelctl audit": the server's audit log (GET /api/v1/audit)
 * listed as a table or exported whole as JSON lines, and its chain checked
 * (GET /api/v1/audit/verify).
 */
#include "ctl.h"

static const char audit_help[] =
    "NAME\n"
    "       modelctl audit - list, export or check the audit log\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] audit [list] [--actor A] [--action X] [--target T]\n"
    "                [--since T] [--until T] [--before ID] [--limit N]\n"
    "       modelctl [GLOBAL OPTIONS] audit export [--actor A] [--action X] [--target T]\n"
    "                [--since T] [--until T]\n"
    "       modelctl [GLOBAL OPTIONS] audit verify\n"
    "\n"
    "DESCRIPTION\n"
    "       The audit log records every call that changes the server's state (who,\n"
    "       the method and route, the target, when, from which address, the status\n"
    "       and error) and every decision the server makes itself (rollouts,\n"
    "       triggers, trainings, alerts, retention), as a chain of entries each\n"
    "       under an HMAC of its content and of the entry before it.\n"
    "\n"
    "       list (the default) prints the newest N entries (100 unless --limit\n"
    "       says), oldest first: ID, TIME (UTC), ACTOR, ACTION, TARGET, OUTCOME.\n"
    "       export prints every entry that matches, oldest first, one JSON object\n"
    "       per line (it pages through the log, 1000 entries a request, fewer when\n"
    "       $MODELCTL_AUDIT_PAGE says). verify asks the server to check\n"
    "       the whole chain and prints whether it holds, or the first entry that is\n"
    "       wrong and why (exit status 1). The admin permission is needed.\n"
    "\n"
    "OPTIONS\n"
    "       --actor A     only entries by A (a token's name, \"anonymous\", or\n"
    "                     \"control:rollout\" and the like for decisions)\n"
    "       --action X    only actions that start with X (\"PUT\", \"rollout.\")\n"
    "       --target T    only targets holding T, a word (\"model=fraud\") or a\n"
    "                     value (\"fraud\")\n"
    "       --since T     only entries at or after T: a UTC time\n"
    "                     (2026-12-07T10:00:00Z) or milliseconds since 1970\n"
    "       --until T     only entries before T\n"
    "       --before ID   list: only entries older than entry ID (the next page)\n"
    "       --limit N     list: at most N entries (1 to 1000; default 100)\n"
    "       --json        list and verify: print the server's JSON answer\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl audit --target model=fraud --limit 2\n"
    "       ID  TIME                      ACTOR      ACTION                              "
    "TARGET                    OUTCOME\n"
    "       41  2026-12-07T07:31:02.417Z  deployer1  PUT /api/v1/models/{model}/aliases/"
    "{alias}  model=fraud alias=prod  200\n"
    "       42  2026-12-07T07:35:00.008Z  control:rollout  rollout.promoted  model=fraud "
    "rollout=3 version=4  gates passed\n"
    "\n"
    "       $ modelctl audit export --since 2026-12-01T00:00:00Z > audit.jsonl\n"
    "       $ modelctl audit verify\n"
    "       audit chain intact: 42 entries (key 1f2e3d4c)\n"
    "\n"
    "EXIT STATUS\n"
    "       0      done; for verify, the chain holds\n"
    "       1      verify: the chain is broken; or the server refused (its message is\n"
    "              shown), could not be reached or answered badly\n"
    "       2      usage error\n";

#define EXPORT_PAGE "1000" /* entries per page of an export: the server's most */

struct request {
    const char *filters[5]; /* actor, action, target, since, until */
    const char *before;
    const char *limit;
};

static const char *const filter_names[] = {"actor", "action", "target", "since", "until"};

static void query_arg(struct md_buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    if (md_buf_printf(b, "%c%s=", strchr(b->data, '?') != NULL ? '&' : '?', name) != MD_OK)
        return; /* the buffer's error says so */
    if (ctl_path_segment(b, value) != MD_OK)
        return; /* likewise */
}

static const char *str_of(const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key);

    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : "-";
}

/* One page: GET /api/v1/audit with the filters and paging arguments, into *doc. */
static int fetch(struct ctl *ctl, const struct request *rq, const char *before, const char *after,
                 const char *limit, bool print, json_t **doc)
{
    struct ctl_resp resp;
    struct md_buf path;
    int rc;

    *doc = NULL;
    md_buf_init(&path, 16384);
    (void)md_buf_puts(&path, "/api/v1/audit");
    for (size_t i = 0; i < MD_ARRAY_LEN(filter_names); i++)
        query_arg(&path, filter_names[i], rq->filters[i]);
    query_arg(&path, "before", before);
    query_arg(&path, "after", after);
    query_arg(&path, "limit", limit);
    if (md_buf_error(&path) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "audit: filters too long");
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "audit", "GET", path.data, NULL, NULL, 0, &resp, doc);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK && !json_is_array(json_object_get(*doc, "entries"))) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "audit: bad response from server: no \"entries\" array");
        json_decref(*doc);
        *doc = NULL;
    }
    if (rc == CTL_EXIT_OK && print)
        ctl_print_body(&resp);
    ctl_resp_release(&resp);
    return rc;
}

static int list(struct ctl *ctl, const struct request *rq)
{
    static const char *const header[] = {"ID", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME"};
    struct ctl_table t;
    json_t *doc = NULL;
    json_t *entries;
    int rc = fetch(ctl, rq, rq->before, NULL, rq->limit, ctl->format == CTL_FORMAT_JSON, &doc);
    size_t n;

    if (rc != CTL_EXIT_OK || ctl->format == CTL_FORMAT_JSON) {
        json_decref(doc);
        return rc;
    }
    entries = json_object_get(doc, "entries");
    n = json_array_size(entries);
    ctl_table_init(&t, header, MD_ARRAY_LEN(header));
    for (size_t i = n; i-- > 0;) {
        const json_t *e = json_array_get(entries, i);

        ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(e, "id")));
        ctl_table_cell(&t, str_of(e, "time"));
        ctl_table_cell(&t, str_of(e, "actor"));
        ctl_table_cell(&t, str_of(e, "action"));
        ctl_table_cell(&t, str_of(e, "target"));
        ctl_table_cell(&t, str_of(e, "outcome"));
    }
    if (ctl_table_rows(&t) > 0)
        ctl_table_print(&t, stdout);
    else
        printf("no audit entries\n");
    ctl_table_release(&t);
    if (json_is_integer(json_object_get(doc, "next_before")))
        printf("older entries: --before %lld\n",
               (long long)json_integer_value(json_object_get(doc, "next_before")));
    json_decref(doc);
    return CTL_EXIT_OK;
}

/* Every matching entry, oldest first, a JSON object per line, paging with after. */
static int export(struct ctl *ctl, const struct request *rq)
{
    const char *page = getenv("MODELCTL_AUDIT_PAGE");
    char after[24] = "0";
    char *end = NULL;

    /* The page size: the server's most, or fewer (for tests) when the environment says. */
    if (page == NULL || strtol(page, &end, 10) < 1 || *end != '\0' || strtol(page, NULL, 10) > 1000)
        page = EXPORT_PAGE;

    for (;;) {
        json_t *doc = NULL;
        json_t *entries;
        json_t *next;
        int rc = fetch(ctl, rq, NULL, after, page, false, &doc);

        if (rc != CTL_EXIT_OK)
            return rc;
        entries = json_object_get(doc, "entries");
        for (size_t i = 0; i < json_array_size(entries); i++) {
            char *line = json_dumps(json_array_get(entries, i), JSON_COMPACT);

            if (line != NULL)
                printf("%s\n", line);
            free(line);
        }
        next = json_object_get(doc, "next_after");
        if (!json_is_integer(next)) {
            json_decref(doc);
            break;
        }
        (void)snprintf(after, sizeof(after), "%lld", (long long)json_integer_value(next));
        json_decref(doc);
    }
    return fflush(stdout) == 0 ? CTL_EXIT_OK
                               : ctl_errorf(CTL_EXIT_FAIL, "audit: cannot write the export");
}

static int verify(struct ctl *ctl)
{
    struct ctl_resp resp;
    json_t *doc = NULL;
    int rc;

    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "audit verify", "GET", "/api/v1/audit/verify", NULL, NULL, 0, &resp,
                       &doc);
    if (rc == CTL_EXIT_OK && !json_is_boolean(json_object_get(doc, "ok")))
        rc = ctl_errorf(CTL_EXIT_FAIL, "audit verify: bad response from server: no \"ok\"");
    if (rc == CTL_EXIT_OK) {
        bool ok = json_is_true(json_object_get(doc, "ok"));

        if (ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else if (ok)
            printf("audit chain intact: %lld entries (key %s)\n",
                   (long long)json_integer_value(json_object_get(doc, "entries")),
                   str_of(doc, "key_id"));
        else
            printf("audit chain broken at entry %lld: %s\n",
                   (long long)json_integer_value(json_object_get(doc, "first_bad")),
                   str_of(doc, "reason"));
        rc = ok ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}

int cmd_audit(int argc, char **argv, struct ctl *ctl)
{
    static const char *const paging[] = {"before", "limit"};
    struct request rq;
    const char *verb = NULL;
    struct ctl_args args;
    enum ctl_arg k;

    memset(&rq, 0, sizeof(rq));
    ctl_args_init(&args, "audit", audit_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        size_t o;
        int r = 0;

        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_WORD) {
            if (verb != NULL)
                return ctl_usagef("audit", "unexpected argument '%s'", argv[args.i]);
            verb = argv[args.i];
            if (strcmp(verb, "list") != 0 && strcmp(verb, "export") != 0 &&
                strcmp(verb, "verify") != 0)
                return ctl_usagef("audit", "unknown command '%s': list, export or verify", verb);
            continue;
        }
        for (o = 0; o < MD_ARRAY_LEN(filter_names) && r == 0; o++) {
            r = ctl_opt("audit", argc, argv, &args.i, filter_names[o], &v);
            if (r > 0)
                rq.filters[o] = v;
        }
        for (o = 0; o < MD_ARRAY_LEN(paging) && r == 0; o++) {
            r = ctl_opt("audit", argc, argv, &args.i, paging[o], &v);
            if (r > 0)
                *(o == 0 ? &rq.before : &rq.limit) = v;
        }
        if (r < 0)
            return CTL_EXIT_USAGE;
        if (r == 0)
            return ctl_args_unknown(&args);
    }
    if (verb == NULL || strcmp(verb, "list") == 0)
        return list(ctl, &rq);
    if (rq.before != NULL || rq.limit != NULL)
        return ctl_usagef("audit", "--before and --limit go with list");
    if (strcmp(verb, "export") == 0)
        return export(ctl, &rq);
    for (size_t i = 0; i < MD_ARRAY_LEN(filter_names); i++)
        if (rq.filters[i] != NULL)
            return ctl_usagef("audit", "verify checks the whole chain: it takes no filter");
    return verify(ctl);
}
