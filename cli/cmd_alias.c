/* SPDX-License-Identifier: MIT */
/*
 * cmd_alias.c: "modelctl alias MODEL ALIAS VERSION", "modelctl alias MODEL
 * ALIAS --delete" and "modelctl aliases MODEL": a model's aliases, set,
 * removed and listed (PUT, DELETE /api/v1/models/{m}/aliases/{alias} and
 * GET /api/v1/models/{m}/aliases). Which names and versions are valid is
 * the server's to say; its message is shown as it gives it.
 */
#include "ctl.h"

static const char alias_help[] =
    "NAME\n"
    "       modelctl alias - point an alias of a model at a version, or remove it\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] alias MODEL ALIAS VERSION\n"
    "       modelctl [GLOBAL OPTIONS] alias MODEL ALIAS --delete\n"
    "\n"
    "DESCRIPTION\n"
    "       Sets ALIAS of MODEL to VERSION (PUT /api/v1/models/MODEL/aliases/ALIAS\n"
    "       with {\"version\": \"VERSION\"}), creating it or moving it in one step,\n"
    "       and prints 'alias ALIAS of MODEL set to version N'. VERSION is a\n"
    "       version number or another alias, which names its version at that\n"
    "       moment. The server stores the change before it answers, and logs an\n"
    "       alias_moved event.\n"
    "\n"
    "       An alias works wherever a version number does:\n"
    "       /v2/models/MODEL/versions/ALIAS/infer, TF Serving's\n"
    "       /v1/models/MODEL/labels/ALIAS:predict, 'modelctl predict --version\n"
    "       ALIAS' and the versions of a traffic policy. A version an alias names\n"
    "       stays loaded. Alias names are [A-Za-z][A-Za-z0-9_.-]*, so they never\n"
    "       read as a number.\n"
    "\n"
    "       With --delete, removes ALIAS (DELETE /api/v1/models/MODEL/aliases/ALIAS)\n"
    "       and prints 'alias ALIAS of MODEL removed'.\n"
    "\n"
    "OPTIONS\n"
    "       --delete\n"
    "              remove ALIAS instead of setting it\n"
    "       --json print the server's JSON answer ({\"model\", \"alias\", "
    "\"version\"})\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl alias fraud candidate 3\n"
    "       alias candidate of fraud set to version 3\n"
    "\n"
    "       $ modelctl alias fraud candidate --delete\n"
    "       alias candidate of fraud removed\n"
    "\n"
    "       $ modelctl alias fraud candidate 9\n"
    "       modelctl: alias 'fraud' 'candidate': version: model 'fraud' has no version 9\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the alias was set or removed\n"
    "       1      the server refused (unknown model, version or alias, a bad name: its\n"
    "              message is shown) or could not be reached\n"
    "       2      usage error\n";

static const char aliases_help[] =
    "NAME\n"
    "       modelctl aliases - list a model's aliases\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] aliases MODEL\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for MODEL's aliases (GET /api/v1/models/MODEL/aliases)\n"
    "       and prints one row per alias: ALIAS and the VERSION it names. A model\n"
    "       without aliases prints the header alone.\n"
    "\n"
    "OPTIONS\n"
    "       --json print the server's JSON answer ({\"model\", \"aliases\": {name:\n"
    "              version}})\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl aliases fraud\n"
    "       ALIAS      VERSION\n"
    "       champion   2\n"
    "       candidate  3\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the aliases were printed\n"
    "       1      the server refused (unknown model) or could not be reached\n"
    "       2      usage error\n";

int cmd_alias(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf path;
    struct md_buf body;
    const char *words[3] = {NULL, NULL, NULL}; /* MODEL ALIAS VERSION */
    size_t n_words = 0;
    bool del = false;
    json_t *doc = NULL;
    const json_t *v;
    char what[400];
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, "alias", alias_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            if (strcmp(argv[args.i], "--delete") != 0)
                return ctl_args_unknown(&args);
            del = true;
            continue;
        }
        if (n_words == MD_ARRAY_LEN(words))
            return ctl_usagef("alias", "unexpected argument '%s'", argv[args.i]);
        words[n_words++] = argv[args.i];
    }
    if (n_words < 2)
        return ctl_usagef("alias", n_words == 0 ? "missing MODEL and ALIAS" : "missing ALIAS");
    if (del && n_words == 3)
        return ctl_usagef("alias", "--delete takes no VERSION");
    if (!del && n_words < 3)
        return ctl_usagef("alias", "missing VERSION (or --delete)");
    (void)snprintf(what, sizeof(what), "alias '%.150s' '%.150s'", words[0], words[1]); /* fits */

    md_buf_init(&path, 4096);
    md_buf_init(&body, 4096);
    ctl_resp_init(&resp);
    if (ctl_model_path(&path, words[0], "/aliases/") != MD_OK ||
        ctl_path_segment(&path, words[1]) != MD_OK) {
        rc = ctl_errorf(CTL_EXIT_USAGE, "%s: model or alias name too long", what);
        goto out;
    }
    if (!del) {
        (void)md_buf_puts(&body, "{\"version\":");
        (void)md_buf_json_str(&body, words[2], strlen(words[2]));
        if (md_buf_puts(&body, "}") != MD_OK) {
            rc = ctl_errorf(CTL_EXIT_USAGE, "%s: VERSION too long", what);
            goto out;
        }
    }
    rc = ctl_call_json(ctl, what, del ? "DELETE" : "PUT", path.data, NULL, body.data, body.len,
                       &resp, &doc);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
        goto out;
    }
    v = json_object_get(doc, "version");
    if (del)
        printf("alias %s of %s removed\n", words[1], words[0]);
    else
        printf("alias %s of %s set to version %s\n", words[1], words[0],
               json_is_string(v) ? json_string_value(v) : words[2]);
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&body);
    md_buf_release(&path);
    return rc;
}

int cmd_aliases(int argc, char **argv, struct ctl *ctl)
{
    static const char *const columns[] = {"ALIAS", "VERSION"};
    struct ctl_resp resp;
    struct ctl_table table;
    const char *model = NULL;
    const json_t *aliases;
    const char *name;
    const json_t *v;
    json_t *doc = NULL;
    char what[300];
    int rc;

    rc = ctl_args_model(ctl, "aliases", aliases_help, argc, argv, &model);
    if (rc != CTL_CONTINUE)
        return rc;
    (void)snprintf(what, sizeof(what), "aliases '%.200s'", model); /* fits */

    ctl_resp_init(&resp);
    rc = ctl_model_json(ctl, what, "GET", model, "/aliases", NULL, NULL, &resp, &doc);
    if (rc != CTL_EXIT_OK)
        goto out;
    aliases = json_object_get(doc, "aliases");
    if (!json_is_object(aliases)) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no \"aliases\" object", what);
        goto out;
    }
    if (ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
        goto out;
    }
    ctl_table_init(&table, columns, MD_ARRAY_LEN(columns));
    json_object_foreach((json_t *)aliases, name, v)
    {
        ctl_table_cell(&table, name);
        ctl_table_cell(&table, json_is_string(v) ? json_string_value(v) : "?");
    }
    ctl_table_print(&table, stdout);
    ctl_table_release(&table);
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
