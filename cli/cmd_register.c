/* SPDX-License-Identifier: MIT */
/*
 * cmd_register.c: "modelctl register MODEL ARTIFACT [--metadata FILE|JSON]
 * [--model-yaml FILE] [--profile FILE]", the upload of a new version (POST
 * /api/v1/models/{m}/versions) as multipart/form-data, each file streamed
 * by libcurl as it is sent. What the command can tell before sending (the
 * files there and readable, the metadata a JSON object) is checked first,
 * so that a mistake costs no upload; the rest is the server's to judge.
 */
#include "ctl.h"
#include "util/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char register_help[] =
    "NAME\n"
    "       modelctl register - upload a new version of a model\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] register MODEL ARTIFACT [--metadata FILE|JSON]\n"
    "                [--model-yaml FILE] [--profile FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "       Uploads ARTIFACT, the model file, as a new version of MODEL (POST\n"
    "       /api/v1/models/MODEL/versions, multipart/form-data), with its metadata,\n"
    "       its model.yaml and its reference profile when given. The file is read\n"
    "       as it is sent, so its size does not matter to modelctl; the server\n"
    "       takes up to its --max-upload-bytes. Its name is sent too: its extension\n"
    "       tells the server's engine what it is (model.json, model.ubj, ...).\n"
    "       Prints the server's answer; when the server refuses, its reason goes\n"
    "       to standard error and the exit status is 1.\n"
    "\n"
    "       --timeout bounds how long the upload may go without sending or\n"
    "       receiving a byte, not how long it takes.\n"
    "\n"
    "OPTIONS\n"
    "       MODEL  the model's name\n"
    "       ARTIFACT\n"
    "              the model file to upload\n"
    "       --metadata FILE|JSON\n"
    "              lineage and evaluation, a JSON object: training data, code\n"
    "              revision, parameters, metrics. Taken as JSON text when it starts\n"
    "              with '{', else as the name of a file holding it\n"
    "       --model-yaml FILE\n"
    "              the version's contract (model.yaml)\n"
    "       --profile FILE\n"
    "              the reference profile of the training data, a JSON object\n"
    "       --json print the server's response body as is\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl register fraud model.json \\\n"
    "             --metadata '{\"data\": \"s3://bucket/fraud/2024-05\", \"auc\": 0.91}' \\\n"
    "             --model-yaml model.yaml\n"
    "\n"
    "       $ modelctl register fraud model.json --metadata '[1]'\n"
    "       modelctl: register: --metadata: not a JSON object\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the server registered the version\n"
    "       1      the server refused (its message is shown) or could not be reached\n"
    "       2      usage error: a missing operand, a file that cannot be read, metadata\n"
    "              that is not a JSON object\n";

/* What the command line gave. */
struct reg {
    const char *model;
    const char *artifact;
    const char *metadata; /* --metadata as given, or NULL */
    const char *model_yaml;
    const char *profile;
};

/* Whether path names a regular file this process can read; if not, says why (exit 2). */
static int readable(const char *opt, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return ctl_errorf(CTL_EXIT_USAGE, "register: %s: cannot read '%s': %s", opt, path,
                          strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd); /* only opened to check */
        return ctl_errorf(CTL_EXIT_USAGE, "register: %s: '%s' is not a regular file", opt, path);
    }
    (void)close(fd); /* only opened to check */
    return CTL_EXIT_OK;
}

/*
 * The metadata's text into *text (malloc'd): --metadata's value when it
 * starts with '{', else the file it names; it must be a JSON object.
 */
static int take_metadata(const char *arg, char **text, size_t *len)
{
    const char *p = arg;
    struct md_err err;
    json_error_t jerr;
    json_t *doc;

    *text = NULL;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p == '{') {
        *len = strlen(arg);
        *text = malloc(*len + 1);
        if (*text == NULL)
            return ctl_errorf(CTL_EXIT_FAIL, "register: out of memory");
        memcpy(*text, arg, *len + 1);
    } else if (md_read_file(arg, CTL_MAX_BODY, text, len, NULL, &err) != MD_OK) {
        return ctl_errorf(CTL_EXIT_USAGE, "register: --metadata: %s", err.msg);
    }
    doc = json_loadb(*text, *len, JSON_DECODE_ANY, &jerr);
    if (json_is_object(doc)) {
        json_decref(doc);
        return CTL_EXIT_OK;
    }
    json_decref(doc);
    free(*text);
    *text = NULL;
    if (doc == NULL)
        return ctl_errorf(CTL_EXIT_USAGE, "register: --metadata: not JSON: %s at line %d",
                          jerr.text, jerr.line);
    return ctl_errorf(CTL_EXIT_USAGE, "register: --metadata: not a JSON object");
}

/* Adds a part named name to form: the file at path, or len bytes of text when path is NULL. */
static bool add_part(curl_mime *form, const char *name, const char *path, const char *text,
                     size_t len, const char *type)
{
    curl_mimepart *part = curl_mime_addpart(form);

    if (part == NULL || curl_mime_name(part, name) != CURLE_OK ||
        curl_mime_type(part, type) != CURLE_OK)
        return false;
    if (path != NULL)
        return curl_mime_filedata(part, path) == CURLE_OK;
    return curl_mime_data(part, text, len) == CURLE_OK;
}

/* The form of r (metadata the text of --metadata, or NULL). */
static curl_mime *make_form(struct ctl *ctl, const struct reg *r, const char *metadata,
                            size_t metadata_len)
{
    curl_mime *form = ctl_form_new(ctl);
    bool ok = form != NULL;

    ok = ok && add_part(form, "artifact", r->artifact, NULL, 0, "application/octet-stream");
    if (metadata != NULL)
        ok = ok && add_part(form, "metadata", NULL, metadata, metadata_len, "application/json");
    if (r->model_yaml != NULL)
        ok = ok && add_part(form, "model.yaml", r->model_yaml, NULL, 0, "application/yaml");
    if (r->profile != NULL)
        ok = ok && add_part(form, "profile", r->profile, NULL, 0, "application/json");
    if (ok)
        return form;
    curl_mime_free(form);
    return NULL;
}

/*
 * The command line into r: true to go on, or false with the exit status in
 * *done (the help shown, a usage error reported).
 */
static bool parse_args(int argc, char **argv, struct ctl *ctl, struct reg *r, int *done)
{
    static const char *const opts[] = {"metadata", "model-yaml", "profile"};
    const char **dest[] = {&r->metadata, &r->model_yaml, &r->profile};
    struct ctl_args args;
    enum ctl_arg k;

    memset(r, 0, sizeof(*r));
    ctl_args_init(&args, "register", register_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *v = NULL;
        size_t i;
        int got = 0;

        if (k == CTL_ARG_EXIT) {
            *done = args.exit_code;
            return false;
        }
        if (k == CTL_ARG_WORD) {
            if (r->model == NULL)
                r->model = argv[args.i];
            else if (r->artifact == NULL)
                r->artifact = argv[args.i];
            else {
                *done = ctl_usagef("register", "unexpected argument '%s'", argv[args.i]);
                return false;
            }
            continue;
        }
        for (i = 0; i < MD_ARRAY_LEN(opts) && got == 0; i++) {
            got = ctl_opt("register", argc, argv, &args.i, opts[i], &v);
            if (got > 0 && *dest[i] != NULL) {
                (void)ctl_usagef("register", "--%s given twice", opts[i]);
                got = -1;
            } else if (got > 0) {
                *dest[i] = v;
            }
        }
        if (got <= 0) {
            *done = got < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
            return false;
        }
    }
    if (r->model == NULL || r->artifact == NULL) {
        *done = ctl_usagef("register", "missing %s", r->model == NULL ? "MODEL" : "ARTIFACT");
        return false;
    }
    return true;
}

/* A 2xx answer: the body with --json, else "registered MODEL version V" when it says which. */
static void print_done(const struct ctl *ctl, const struct reg *r, const struct ctl_resp *resp)
{
    json_t *doc;
    const json_t *v;

    if (ctl->format == CTL_FORMAT_JSON) {
        ctl_print_body(resp);
        return;
    }
    doc = resp->body.len > 0 ? json_loadb(resp->body.data, resp->body.len, 0, NULL) : NULL;
    v = json_is_object(doc) ? json_object_get(doc, "version") : NULL;
    if (json_is_string(v) || json_is_integer(v)) {
        printf("registered %s version ", r->model);
        ctl_print_value(stdout, v);
        putchar('\n');
    } else if (resp->body.len > 0) {
        ctl_print_body(resp);
    } else {
        printf("registered %s\n", r->model);
    }
    json_decref(doc);
}

int cmd_register(int argc, char **argv, struct ctl *ctl)
{
    struct reg r;
    struct ctl_resp resp;
    struct md_buf path;
    curl_mime *form;
    char *metadata = NULL;
    size_t metadata_len = 0;
    char what[300];
    int rc;

    if (!parse_args(argc, argv, ctl, &r, &rc))
        return rc;
    rc = readable("ARTIFACT", r.artifact);
    if (rc == CTL_EXIT_OK && r.model_yaml != NULL)
        rc = readable("--model-yaml", r.model_yaml);
    if (rc == CTL_EXIT_OK && r.profile != NULL)
        rc = readable("--profile", r.profile);
    if (rc == CTL_EXIT_OK && r.metadata != NULL)
        rc = take_metadata(r.metadata, &metadata, &metadata_len);
    if (rc != CTL_EXIT_OK)
        return rc;
    (void)snprintf(what, sizeof(what), "register '%.200s'", r.model); /* fits */
    md_buf_init(&path, 4096);
    if (md_buf_puts(&path, "/api/v1/models/") != MD_OK ||
        ctl_path_segment(&path, r.model) != MD_OK || md_buf_puts(&path, "/versions") != MD_OK) {
        md_buf_release(&path);
        free(metadata);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: model name too long", what);
    }
    form = make_form(ctl, &r, metadata, metadata_len);
    if (form == NULL) {
        md_buf_release(&path);
        free(metadata);
        return ctl_errorf(CTL_EXIT_FAIL, "%s: cannot build the upload", what);
    }
    ctl_resp_init(&resp);
    rc = ctl_http_form(ctl, what, path.data, form, &resp);
    if (rc == CTL_EXIT_OK && !ctl_resp_ok(&resp))
        rc = ctl_fail_resp(what, &resp);
    if (rc == CTL_EXIT_OK)
        print_done(ctl, &r, &resp);
    ctl_resp_release(&resp);
    md_buf_release(&path);
    free(metadata);
    return rc;
}
