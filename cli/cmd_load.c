/* SPDX-License-Identifier: MIT */
/*
 * cmd_load.c: "modelctl load MODEL" and "modelctl unload MODEL", the
 * repository extension's POST /v2/repository/models/{m}/load and .../unload.
 * The two differ only in the verb and the words printed, so they share this
 * file (as git's builtin/log.c holds log, show and whatchanged).
 */
#include "ctl.h"

static const char load_help[] =
    "NAME\n"
    "       modelctl load - load (or reload) a model from the repository\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] load MODEL\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server to load MODEL from its model repository\n"
    "       (POST /v2/repository/models/MODEL/load): the versions its version policy\n"
    "       names are read, checked against model.yaml and put in service; a model\n"
    "       already loaded is reloaded. Prints 'loaded MODEL' once the server says so.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model's directory name in the repository\n"
    "       --json print the server's response body as is (empty from modeld) instead\n"
    "              of 'loaded MODEL'\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl load fraud\n"
    "       loaded fraud\n"
    "\n"
    "       $ modelctl load nosuch\n"
    "       modelctl: load 'nosuch': unknown model 'nosuch'\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the model is loaded\n"
    "       1      the server refused (its message is shown) or could not be reached\n"
    "       2      usage error\n";

static const char unload_help[] =
    "NAME\n"
    "       modelctl unload - unload a model\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] unload MODEL\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server to take every version of MODEL out of service\n"
    "       (POST /v2/repository/models/MODEL/unload); requests already running\n"
    "       finish. The model stays in the repository and 'modelctl load' brings it\n"
    "       back. Prints 'unloaded MODEL' once the server says so.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model's name\n"
    "       --json print the server's response body as is (empty from modeld) instead\n"
    "              of 'unloaded MODEL'\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl unload fraud\n"
    "       unloaded fraud\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the model is unloaded\n"
    "       1      the server refused (its message is shown) or could not be reached\n"
    "       2      usage error\n";

/* What distinguishes load from unload. */
struct action {
    const char *verb; /* the command and the last path segment */
    const char *done; /* printed before the model's name on success */
    const char *help;
};

static const struct action load_action = {"load", "loaded", load_help};
static const struct action unload_action = {"unload", "unloaded", unload_help};

static int repository_action(int argc, char **argv, struct ctl *ctl, const struct action *act)
{
    struct ctl_args args;
    struct ctl_resp resp;
    struct md_buf path;
    const char *model = NULL;
    char what[300];
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, act->verb, act->help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (model != NULL)
            return ctl_usagef(act->verb, "unexpected argument '%s'", argv[args.i]);
        model = argv[args.i];
    }
    if (model == NULL)
        return ctl_usagef(act->verb, "missing MODEL");
    (void)snprintf(what, sizeof(what), "%s '%.200s'", act->verb, model); /* fits */

    md_buf_init(&path, 4096);
    if (md_buf_puts(&path, "/v2/repository/models/") != MD_OK ||
        ctl_path_segment(&path, model) != MD_OK ||
        md_buf_printf(&path, "/%s", act->verb) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: model name too long", what);
    }
    ctl_resp_init(&resp);
    rc = ctl_http(ctl, what, "POST", path.data, "", 0, &resp);
    if (rc == CTL_EXIT_OK && !ctl_resp_ok(&resp))
        rc = ctl_fail_resp(what, &resp);
    if (rc == CTL_EXIT_OK) {
        if (ctl->format == CTL_FORMAT_JSON)
            ctl_print_body(&resp);
        else
            printf("%s %s\n", act->done, model);
    }
    ctl_resp_release(&resp);
    md_buf_release(&path);
    return rc;
}

int cmd_load(int argc, char **argv, struct ctl *ctl)
{
    return repository_action(argc, argv, ctl, &load_action);
}

int cmd_unload(int argc, char **argv, struct ctl *ctl)
{
    return repository_action(argc, argv, ctl, &unload_action);
}
