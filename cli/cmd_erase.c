/* SPDX-License-Identifier: MIT */
/*
 * cmd_erase.c: "modelctl erase ID", DELETE /api/v1/subjects/{subject}:
 * everything the server keeps of one subject (the person prediction rows
 * are about, named by a model.yaml key marked `subject: true`) removed.
 */
#include "ctl.h"

static const char erase_help[] =
    "NAME\n"
    "       modelctl erase - erase what the server keeps of one subject\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] erase ID\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server to remove every prediction row whose subject id (the\n"
    "       model.yaml key marked 'subject: true') is ID, with the rows' keys, review\n"
    "       items and feedback, in one transaction (DELETE /api/v1/subjects/ID); the\n"
    "       server then removes those rows from the training sets it keeps and empties\n"
    "       its write-ahead log, so the removed bytes are gone from its files. Needs an\n"
    "       admin. Erasing a subject with nothing stored succeeds and removes nothing.\n"
    "       Prints what was removed.\n"
    "\n"
    "OPTIONS\n"
    "       ID     the subject's id, as requests send it (any text, 1 to 4096 bytes)\n"
    "       --json print the server's answer as is\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl erase customer-8812\n"
    "       erased subject 6f0c...e1: 42 predictions, 3 feedback items, 2 review items,\n"
    "       1 training set rewritten; write-ahead log emptied\n"
    "\n"
    "EXIT STATUS\n"
    "       0      erased (the write-ahead log emptied)\n"
    "       1      the server refused (its message is shown), could not be reached,\n"
    "              or could not empty its write-ahead log (the rows are removed)\n"
    "       2      usage error\n";

static long long num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int cmd_erase(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf path;
    const char *id = NULL;
    json_t *doc = NULL;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, "erase", erase_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (id != NULL)
            return ctl_usagef("erase", "unexpected argument '%s'", argv[args.i]);
        id = argv[args.i];
    }
    if (id == NULL || id[0] == '\0')
        return ctl_usagef("erase", "missing ID");
    md_buf_init(&path, 16384);
    if (md_buf_puts(&path, "/api/v1/subjects/") != MD_OK || ctl_path_segment(&path, id) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "erase: the id is too long");
    }
    ctl_resp_init(&resp);
    /* The id is not repeated in messages: "erase" names the command only. */
    rc = ctl_call_json(ctl, "erase", "DELETE", path.data, NULL, NULL, 0, &resp, &doc);
    if (rc == CTL_EXIT_OK) {
        const json_t *ts = json_object_get(doc, "training_sets");
        const json_t *ck = json_object_get(doc, "checkpoint");
        bool emptied = json_is_true(json_object_get(ck, "complete"));
        const char *subject = json_string_value(json_object_get(doc, "subject"));

        if (ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else
            printf("erased subject %s: %lld predictions, %lld feedback items, %lld review "
                   "items, %lld training sets rewritten; write-ahead log %s\n",
                   subject != NULL ? subject : "?", num(doc, "predictions"), num(doc, "feedback"),
                   num(doc, "review_items"), num(ts, "changed"),
                   emptied ? "emptied" : "NOT emptied");
        if (!emptied)
            rc = ctl_errorf(CTL_EXIT_FAIL,
                            "erase: the rows are removed, but the write-ahead log was not "
                            "emptied (busy): run the erase again");
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    return rc;
}
