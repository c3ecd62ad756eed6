/* SPDX-License-Identifier: MIT */
/*
 * modelctl.c: main for modelctl, the command-line client of modeld. It reads
 * the global options, finds the command in commands[] and runs it; each
 * command's work, options and help live in its cmd_<verb>.c, and the HTTP
 * and printing helpers they share in ctl.c.
 */
#include "ctl.h"

#include <errno.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv, struct ctl *ctl);
    const char *summary; /* one line for "modelctl --help" */
};

static int cmd_help(int argc, char **argv, struct ctl *ctl);

static const struct command commands[] = {
    {"status", cmd_status, "show the state of each model version in the repository"},
    {"predict", cmd_predict, "send one inference request and print the outputs"},
    {"load", cmd_load, "load (or reload) a model from the repository"},
    {"unload", cmd_unload, "unload a model"},
    {"health", cmd_health, "tell whether the server is ready"},
    {"register", cmd_register, "upload a new version of a model"},
    {"versions", cmd_versions, "list a model's versions with their state and traffic"},
    {"aliases", cmd_aliases, "list a model's aliases"},
    {"alias", cmd_alias, "point an alias of a model at a version, or remove it"},
    {"traffic", cmd_traffic, "show or change how a model's calls are split between versions"},
    {"archive", cmd_archive, "take a version out of service, keeping it"},
    {"restore", cmd_restore, "bring an archived version back"},
    {"events", cmd_events, "list what happened to models, or follow it"},
    {"predictions", cmd_predictions, "list or export the prediction log"},
    {"rollout", cmd_rollout, "start, show, follow, pause, promote or roll back a rollout"},
    {"rollouts", cmd_rollouts, "list a model's rollouts"},
    {"strategy", cmd_strategy, "store, show or remove named rollout strategies"},
    {"history", cmd_history, "draw a named metric of a model over time"},
    {"profile", cmd_profile, "compute the reference profile of a training set (for drift)"},
    {"drift", cmd_drift, "compare a version's live inputs and predictions with its profile"},
    {"alerts", cmd_alerts, "list the alerts pending and firing now, or their history"},
    {"alert-rule", cmd_alert_rule, "store, list or remove alert rules"},
    {"feedback", cmd_feedback, "send the outcomes of past predictions from a CSV file"},
    {"quality", cmd_quality, "show how right a model's predictions turned out"},
    {"ab", cmd_ab, "compare the routes of a model on outcomes from feedback"},
    {"review", cmd_review, "answer a model's review queue in the terminal, or list it"},
    {"retrain", cmd_retrain, "ask for a training run of a model, by hand"},
    {"trainings", cmd_trainings, "list a model's training runs, or show one"},
    {"dataset", cmd_dataset, "show, export or add to a model's training set"},
    {"audit", cmd_audit, "list, export or check the audit log"},
    {"erase", cmd_erase, "erase what the server keeps of one subject"},
    {"keys", cmd_keys, "rotate the data keys of encryption at rest, or show the rotation"},
    {"token", cmd_token, "create, list or revoke bearer tokens"},
    {"security-report", cmd_security_report,
     "list what the server exposes, each with its severity and fix"},
    {"help", cmd_help, "show the help of a command"},
};

static void usage(FILE *f)
{
    size_t i;

    fputs("usage: modelctl [--url URL] [--timeout SECONDS] [--json] [--cacert FILE]\n"
          "                [--cert FILE [--key FILE]] COMMAND [ARGS]\n"
          "\n"
          "modelctl talks to a running modeld server over its HTTP API.\n"
          "\n"
          "Commands:\n",
          f);
    for (i = 0; i < MD_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs(
        "\n"
        "Global options (before or after the command):\n"
        "  --url URL          server base URL (default $MODELD_URL, else " CTL_DEFAULT_URL ")\n"
        "                     (a server with --auth: the bearer token in $MODELD_TOKEN)\n"
        "  --timeout SECONDS  give up on a request after SECONDS (default 10; fractions allowed)\n"
        "  --json             print the server's JSON responses instead of tables\n"
        "  --cacert FILE      PEM CAs that verify an https:// server (default\n"
        "                     $MODELD_CACERT, else the system's); the server's name must\n"
        "                     match its certificate\n"
        "  --cert FILE        PEM client certificate, for a server that asks for one\n"
        "                     (default $MODELD_CERT)\n"
        "  --key FILE         its PEM private key, a file only you may read (default\n"
        "                     $MODELD_KEY; else the key is read from --cert's file)\n"
        "  --version          print modelctl's version and exit\n"
        "  -h, --help         print this help and exit\n"
        "\n"
        "Exit status: 0 success; 1 the server refused, could not be reached or answered\n"
        "badly; 2 usage error.\n"
        "\n"
        "Run 'modelctl COMMAND --help' for a command's options and examples.\n",
        f);
}

static const struct command *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

/* "modelctl help [COMMAND]": the same text as "--help". */
static int cmd_help(int argc, char **argv, struct ctl *ctl)
{
    const struct command *c;
    char help_arg[] = "--help";
    char *sub[2];

    if (argc < 2 || ctl_is_help(argv[1])) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc > 2)
        return ctl_usagef("help", "too many arguments");
    c = find_command(argv[1]);
    if (c == NULL)
        return ctl_usagef(NULL, "unknown command '%s'", argv[1]);
    sub[0] = argv[1];
    sub[1] = help_arg;
    return c->run(2, sub, ctl);
}

static int run(int argc, char **argv, struct ctl *ctl)
{
    const struct command *c;
    int i;
    int g;

    for (i = 1; i < argc; i++) {
        if (ctl_is_help(argv[i])) {
            usage(stdout);
            return CTL_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("modelctl %s\n", MD_VERSION);
            return CTL_EXIT_OK;
        }
        g = ctl_global_option(ctl, NULL, argc, argv, &i);
        if (g < 0)
            return CTL_EXIT_USAGE;
        if (g == 0)
            break;
    }
    if (i >= argc)
        return ctl_usagef(NULL, "missing COMMAND");
    if (argv[i][0] == '-')
        return ctl_usagef(NULL, "unknown option '%s'", argv[i]);
    c = find_command(argv[i]);
    if (c == NULL)
        return ctl_usagef(NULL, "unknown command '%s'", argv[i]);
    return c->run(argc - i, argv + i, ctl);
}

int main(int argc, char **argv)
{
    struct ctl ctl;
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ctl_errorf(CTL_EXIT_FAIL, "cannot start libcurl");
    ctl_init(&ctl);
    rc = run(argc, argv, &ctl);
    ctl_release(&ctl);
    curl_global_cleanup();
    /* A full disk or a closed pipe must not pass for success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CTL_EXIT_OK)
            rc = ctl_errorf(CTL_EXIT_FAIL, "cannot write output: %s", strerror(errno));
    }
    return rc;
}
