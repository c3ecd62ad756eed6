/* SPDX-License-Identifier: MIT */
/*
 * cmd_archive.c: "modelctl archive MODEL VERSION" and "modelctl restore
 * MODEL VERSION" (POST /api/v1/models/{m}/versions/{v}/archive and
 * .../restore). The two differ only in the verb and the words printed, so
 * they share this file, as load and unload share cmd_load.c.
 */
#include "ctl.h"

static const char archive_help[] =
    "NAME\n"
    "       modelctl archive - take a version of a model out of service, keeping it\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] archive MODEL VERSION\n"
    "\n"
    "DESCRIPTION\n"
    "       Archives VERSION of MODEL (POST\n"
    "       /api/v1/models/MODEL/versions/VERSION/archive): the server unloads it and\n"
    "       keeps its files and records; it shows as ARCHIVED in 'modelctl\n"
    "       versions', no call, alias or traffic policy can name it, and it stays\n"
    "       archived across restarts until 'modelctl restore'. A version that the\n"
    "       traffic policy or an alias names is refused: move its traffic (or the\n"
    "       alias) first. Prints 'archived version VERSION of MODEL'.\n"
    "\n"
    "OPTIONS\n"
    "       VERSION\n"
    "              a version number\n"
    "       --json print the server's JSON answer ({\"model\", \"version\", "
    "\"archived\"})\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl archive fraud 1\n"
    "       archived version 1 of fraud\n"
    "\n"
    "       $ modelctl archive fraud 2\n"
    "       modelctl: archive 'fraud' '2': version 2 of model 'fraud' is named by the "
    "traffic\n"
    "       policy: move its traffic first\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the version is archived\n"
    "       1      the server refused (unknown model or version, a version in use: its\n"
    "              message is shown) or could not be reached\n"
    "       2      usage error\n";

static const char restore_help[] =
    "NAME\n"
    "       modelctl restore - bring an archived version of a model back\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] restore MODEL VERSION\n"
    "\n"
    "DESCRIPTION\n"
    "       Restores VERSION of MODEL (POST\n"
    "       /api/v1/models/MODEL/versions/VERSION/restore): it is a version like any\n"
    "       other again, loaded when the model's version policy, an alias or the\n"
    "       traffic policy selects it; restoring gives it no traffic by itself.\n"
    "       Restoring a version that is not archived changes nothing and succeeds.\n"
    "       Prints 'restored version VERSION of MODEL'.\n"
    "\n"
    "OPTIONS\n"
    "       VERSION\n"
    "              a version number\n"
    "       --json print the server's JSON answer ({\"model\", \"version\", "
    "\"archived\"})\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl restore fraud 1\n"
    "       restored version 1 of fraud\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the version is restored\n"
    "       1      the server refused (unknown model or version: its message is shown)\n"
    "              or could not be reached\n"
    "       2      usage error\n";

/* What distinguishes archive from restore. */
struct action {
    const char *verb; /* the command and the last path segment */
    const char *done; /* printed before the version on success */
    const char *help;
};

static const struct action archive_action = {"archive", "archived", archive_help};
static const struct action restore_action = {"restore", "restored", restore_help};

static int version_action(int argc, char **argv, struct ctl *ctl, const struct action *act)
{
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf path;
    const char *words[2] = {NULL, NULL}; /* MODEL VERSION */
    size_t n_words = 0;
    json_t *doc = NULL;
    char what[400];
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, act->verb, act->help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (n_words == MD_ARRAY_LEN(words))
            return ctl_usagef(act->verb, "unexpected argument '%s'", argv[args.i]);
        words[n_words++] = argv[args.i];
    }
    if (n_words < 2)
        return ctl_usagef(act->verb,
                          n_words == 0 ? "missing MODEL and VERSION" : "missing VERSION");
    (void)snprintf(what, sizeof(what), "%s '%.150s' '%.150s'", act->verb, words[0],
                   words[1]); /* fits */

    md_buf_init(&path, 4096);
    ctl_resp_init(&resp);
    if (ctl_model_path(&path, words[0], "/versions/") != MD_OK ||
        ctl_path_segment(&path, words[1]) != MD_OK ||
        md_buf_printf(&path, "/%s", act->verb) != MD_OK) {
        rc = ctl_errorf(CTL_EXIT_USAGE, "%s: model name or version too long", what);
        goto out;
    }
    rc = ctl_call_json(ctl, what, "POST", path.data, NULL, "", 0, &resp, &doc);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else
        printf("%s version %s of %s\n", act->done, words[1], words[0]);
out:
    json_decref(doc);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    return rc;
}

int cmd_archive(int argc, char **argv, struct ctl *ctl)
{
    return version_action(argc, argv, ctl, &archive_action);
}

int cmd_restore(int argc, char **argv, struct ctl *ctl)
{
    return version_action(argc, argv, ctl, &restore_action);
}
