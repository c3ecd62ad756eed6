/* SPDX-License-Identifier: MIT */
/*
 * cmd_health.c: "modelctl health", the server's readiness
 * (GET /v2/health/ready) as an exit status, for scripts and probes. The HTTP
 * status is the answer; the body is only shown as the reason.
 */
#include "ctl.h"

static const char health_help[] =
    "NAME\n"
    "       modelctl health - tell whether the server is ready\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] health\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server whether it is ready to serve (GET /v2/health/ready).\n"
    "       Prints 'ready' and exits 0 on a 200 answer; otherwise prints 'not ready',\n"
    "       gives the reason on standard error and exits 1. Meant for scripts:\n"
    "       poll it until it succeeds, with --timeout bounding each try.\n"
    "\n"
    "OPTIONS\n"
    "       --json print {\"ready\":true} or {\"ready\":false} instead\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl health\n"
    "       ready\n"
    "\n"
    "       $ until modelctl --timeout 1 health >/dev/null 2>&1; do sleep 0.2; done\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the server is ready\n"
    "       1      the server is not ready or could not be reached\n"
    "       2      usage error\n";

int cmd_health(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    struct ctl_resp resp;
    enum ctl_arg k;
    bool ready;
    int rc;

    ctl_args_init(&args, "health", health_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        return ctl_usagef("health", "unexpected argument '%s'", argv[args.i]);
    }
    ctl_resp_init(&resp);
    rc = ctl_http(ctl, "health", "GET", "/v2/health/ready", NULL, 0, &resp);
    if (rc == CTL_EXIT_USAGE) {
        ctl_resp_release(&resp);
        return rc;
    }
    ready = rc == CTL_EXIT_OK && resp.status == 200;
    if (rc == CTL_EXIT_OK && !ready)
        ctl_fail_resp("health", &resp);
    if (ctl->format == CTL_FORMAT_JSON)
        printf("{\"ready\":%s}\n", ready ? "true" : "false");
    else
        puts(ready ? "ready" : "not ready");
    ctl_resp_release(&resp);
    return ready ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
