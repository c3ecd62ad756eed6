/* SPDX-License-Identifier: MIT */
/*
 * cmd_security.c: "modelctl security-report" (GET /api/v1/security/report):
 * the server's security self-assessment as a table of severity, area,
 * finding and fix, or its JSON; the exit status is 1 when a high finding
 * exists, so that a deployment pipeline can stop on it.
 */
#include "ctl.h"

static const char security_help[] =
    "NAME\n"
    "       modelctl security-report - what the server exposes, and how to fix it\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] security-report\n"
    "\n"
    "DESCRIPTION\n"
    "       Asks the server for its security self-assessment (GET\n"
    "       /api/v1/security/report; admin), computed from what it runs with now:\n"
    "       TLS and mutual TLS, authentication, each role's active tokens, tokens\n"
    "       expiring within 7 days, unused for 90 days or never expiring, the JSON\n"
    "       Web Token checks, /metrics and health without a token, every key file\n"
    "       re-checked (a file made readable by others since the start is found),\n"
    "       the audit log, data stored in clear, retention, running as root and\n"
    "       the data directory's mode. Each finding has a severity (high, medium,\n"
    "       low, info: info is what is in order) and the fix: a flag or a command.\n"
    "       The table shows the findings not in order (warn or fail), each with its\n"
    "       fix on the line below; --json shows them all.\n"
    "\n"
    "OPTIONS\n"
    "       --json print the server's JSON answer ({\"generated_ms\", \"findings\":\n"
    "              [{\"id\", \"area\", \"severity\", \"status\", \"token\"?, \"finding\",\n"
    "              \"fix\"}], \"summary\": {\"high\", \"medium\", \"low\", "
    "\"info\"}})\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl security-report\n"
    "       SEVERITY  AREA       FINDING\n"
    "                            FIX\n"
    "       medium    audit      the audit log is off: who changed what is not recorded\n"
    "                            --audit-key-file FILE\n"
    "       0 high, 1 medium, 0 low; 19 in order\n"
    "\n"
    "EXIT STATUS\n"
    "       0      no high finding\n"
    "       1      a high finding exists, or the server refused or could not be\n"
    "              reached\n"
    "       2      usage error\n";

static const char *str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));

    return s != NULL ? s : "";
}

static long long count(const json_t *summary, const char *name)
{
    const json_t *v = json_object_get(summary, name);

    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int cmd_security_report(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    struct ctl_resp resp;
    json_t *doc = NULL;
    const json_t *findings;
    const json_t *summary;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, "security-report", security_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        return ctl_usagef("security-report", "unexpected argument '%s'", argv[args.i]);
    }
    ctl_resp_init(&resp);
    rc = ctl_call_json(ctl, "security-report", "GET", "/api/v1/security/report", NULL, NULL, 0,
                       &resp, &doc);
    if (rc != CTL_EXIT_OK) {
        ctl_resp_release(&resp);
        return rc;
    }
    findings = json_object_get(doc, "findings");
    summary = json_object_get(doc, "summary");
    if (!json_is_array(findings) || !json_is_object(summary)) {
        json_decref(doc);
        ctl_resp_release(&resp);
        return ctl_errorf(CTL_EXIT_FAIL, "security-report: no findings in the server's answer");
    }
    if (ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(&resp);
    } else {
        size_t i;
        const json_t *f;

        printf("%-9s %-10s %s\n%20s %s\n", "SEVERITY", "AREA", "FINDING", "", "FIX");
        json_array_foreach(findings, i, f)
        {
            if (strcmp(str(f, "status"), "ok") == 0)
                continue;
            printf("%-9s %-10s %s\n%20s %s\n", str(f, "severity"), str(f, "area"),
                   str(f, "finding"), "",
                   json_is_string(json_object_get(f, "fix")) ? str(f, "fix") : "-");
        }
        printf("%lld high, %lld medium, %lld low; %lld in order\n", count(summary, "high"),
               count(summary, "medium"), count(summary, "low"), count(summary, "info"));
    }
    rc = count(summary, "high") > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
