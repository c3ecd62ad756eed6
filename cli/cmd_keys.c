/* SPDX-License-Identifier: MIT */
/*
 * cmd_keys.c: "modelctl keys rotate [--wait]" and "modelctl keys status"
 * (POST and GET /api/v1/keys/rotate): resealing the stored data under the
 * current data key, and how far it is.
 */
#include "ctl.h"

#include <errno.h>
#include <time.h>

static const char keys_help[] =
    "NAME\n"
    "       modelctl keys - rotate the data keys of encryption at rest\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] keys rotate [--wait]\n"
    "       modelctl [GLOBAL OPTIONS] keys status\n"
    "\n"
    "DESCRIPTION\n"
    "       modeld encrypts stored data under the last key of its --data-key-file.\n"
    "       To rotate: add a new key as the file's last line, restart modeld (new\n"
    "       data is then sealed under it), and run 'modelctl keys rotate': the server\n"
    "       reseals every stored value under the new key in the background, a few\n"
    "       hundred rows at a time (POST /api/v1/keys/rotate; admin). When it is\n"
    "       done, the old key may leave the file. 'keys status' shows the last\n"
    "       rotation's progress (GET /api/v1/keys/rotate).\n"
    "\n"
    "OPTIONS\n"
    "       --wait follow the rotation until it ends, printing its progress\n"
    "       --json print the server's JSON answer ({\"state\", \"key_id\",\n"
    "              \"rows_total\", \"rows_done\", \"values_resealed\", \"started_ms\",\n"
    "              \"ended_ms\", \"error\"})\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl keys rotate --wait\n"
    "       rotating to key 3f9a0c21: 0 of 120512 rows\n"
    "       rotating to key 3f9a0c21: 61440 of 120512 rows (51%)\n"
    "       done: 120512 rows walked, 120480 resealed under key 3f9a0c21\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the rotation started (or, with --wait, finished)\n"
    "       1      the server refused (encryption off, a rotation running) or the\n"
    "              rotation failed (its reason is shown), or the server could not be\n"
    "              reached\n"
    "       2      usage error\n";

#define PATH "/api/v1/keys/rotate"

static long long num(const json_t *doc, const char *name)
{
    const json_t *v = json_object_get(doc, name);

    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static const char *str(const json_t *doc, const char *name)
{
    const char *s = json_string_value(json_object_get(doc, name));

    return s != NULL ? s : "";
}

/* One line of the state in doc; CTL_EXIT_FAIL for a failed rotation. */
static int print_state(const json_t *doc)
{
    const char *state = str(doc, "state");
    long long total = num(doc, "rows_total");
    long long done = num(doc, "rows_done");

    if (strcmp(state, "none") == 0) {
        printf("no rotation since modeld started; data is sealed under key %s\n",
               str(doc, "key_id"));
    } else if (strcmp(state, "running") == 0) {
        if (total > 0)
            printf("rotating to key %s: %lld of %lld rows (%lld%%)\n", str(doc, "key_id"), done,
                   total, done * 100 / total);
        else
            printf("rotating to key %s: %lld of %lld rows\n", str(doc, "key_id"), done, total);
    } else if (strcmp(state, "done") == 0) {
        printf("done: %lld rows walked, %lld resealed under key %s\n", done,
               num(doc, "values_resealed"), str(doc, "key_id"));
    } else {
        printf("failed after %lld of %lld rows: %s\n", done, total, str(doc, "error"));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Polls until the rotation is no longer running, printing each change. */
static int follow(struct ctl *ctl, long long last_done)
{
    for (;;) {
        struct ctl_resp resp;
        json_t *doc = NULL;
        int rc;

        nap_ms(250);
        ctl_resp_init(&resp);
        rc = ctl_call_json(ctl, "keys status", "GET", PATH, NULL, NULL, 0, &resp, &doc);
        if (rc == CTL_EXIT_OK && strcmp(str(doc, "state"), "running") != 0) {
            if (ctl->format == CTL_FORMAT_JSON) {
                ctl_print_body(&resp);
                rc = strcmp(str(doc, "state"), "failed") == 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
            } else {
                rc = print_state(doc);
            }
            json_decref(doc);
            ctl_resp_release(&resp);
            return rc;
        }
        if (rc == CTL_EXIT_OK && num(doc, "rows_done") != last_done &&
            ctl->format != CTL_FORMAT_JSON) {
            last_done = num(doc, "rows_done");
            (void)print_state(doc);
            (void)fflush(stdout);
        }
        json_decref(doc);
        ctl_resp_release(&resp);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
}

int cmd_keys(int argc, char **argv, struct ctl *ctl)
{
    struct ctl_args args;
    struct ctl_resp resp;
    const char *verb = NULL;
    bool wait = false;
    json_t *doc = NULL;
    enum ctl_arg k;
    int rc;

    ctl_args_init(&args, "keys", keys_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION) {
            if (strcmp(argv[args.i], "--wait") != 0)
                return ctl_args_unknown(&args);
            wait = true;
            continue;
        }
        if (verb != NULL)
            return ctl_usagef("keys", "unexpected argument '%s'", argv[args.i]);
        verb = argv[args.i];
    }
    if (verb == NULL)
        return ctl_usagef("keys", "missing 'rotate' or 'status'");
    if (strcmp(verb, "rotate") != 0 && strcmp(verb, "status") != 0)
        return ctl_usagef("keys", "unknown action '%s' (rotate or status)", verb);
    if (wait && strcmp(verb, "rotate") != 0)
        return ctl_usagef("keys", "--wait goes with rotate");
    ctl_resp_init(&resp);
    if (strcmp(verb, "rotate") == 0)
        rc = ctl_call_json(ctl, "keys rotate", "POST", PATH, NULL, "", 0, &resp, &doc);
    else
        rc = ctl_call_json(ctl, "keys status", "GET", PATH, NULL, NULL, 0, &resp, &doc);
    if (rc == CTL_EXIT_OK) {
        if (ctl->format == CTL_FORMAT_JSON && !wait)
            ctl_print_body(&resp);
        else if (ctl->format != CTL_FORMAT_JSON)
            rc = print_state(doc);
        if (rc == CTL_EXIT_OK && wait)
            rc = follow(ctl, num(doc, "rows_done"));
    }
    json_decref(doc);
    ctl_resp_release(&resp);
    return rc;
}
