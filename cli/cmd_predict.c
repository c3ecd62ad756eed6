/* SPDX-License-Identifier: MIT */
/*
 * cmd_predict.c: "modelctl predict MODEL [--version V] [--file FILE |
 * NAME=VALUE ...]", one inference request (POST /v2/models/{m}/infer).
 *
 * With NAME=VALUE pairs it reads the model's metadata (GET /v2/models/{m})
 * to learn each input's datatype and shape, converts the values here and
 * builds a one-row columnar V2 request; every conversion error is reported
 * before the inference request goes out. With --file it sends the file as
 * is. What counts as a valid value for the model (ranges, categories,
 * required inputs) is the server's to say.
 */
#include "ctl.h"
#include "util/mem.h"

#include <errno.h>
#include <float.h>
#include <math.h>

static const char predict_help[] =
    "NAME\n"
    "       modelctl predict - send one inference request and print the outputs\n"
    "\n"
    "SYNOPSIS\n"
    "       modelctl [GLOBAL OPTIONS] predict MODEL [--version V] NAME=VALUE ...\n"
    "       modelctl [GLOBAL OPTIONS] predict MODEL [--version V] --file FILE\n"
    "\n"
    "DESCRIPTION\n"
    "       With NAME=VALUE pairs, reads the model's metadata (GET /v2/models/MODEL) to\n"
    "       learn each input's datatype, converts each VALUE, sends a one-row request\n"
    "       with one tensor per input (POST /v2/models/MODEL/infer) and prints each\n"
    "       output as a 'name: value' line, then 'request_id: ...'. Inputs not named\n"
    "       are left out of the request; the model's contract decides whether that is\n"
    "       allowed.\n"
    "\n"
    "       VALUE is read by the input's datatype: a number for FP32 and FP64, an\n"
    "       integer for INT8..INT64 and UINT8..UINT64, true, false, 1 or 0 for BOOL,\n"
    "       any text for BYTES. The word null sends a missing value (JSON null).\n"
    "       An unknown NAME or a VALUE that does not fit its datatype stops the\n"
    "       command (exit 2) before the inference request is sent.\n"
    "\n"
    "       With --file, sends FILE's content as the request body unchanged: a full\n"
    "       V2 inference request ({\"inputs\": [...]}), any number of rows.\n"
    "\n"
    "OPTIONS\n"
    "       --version V\n"
    "              ask version V (a number or an alias) instead of the one the\n"
    "              model's traffic policy picks\n"
    "       --file FILE\n"
    "              send FILE (a JSON object; - reads standard input) as the request\n"
    "       --json print the server's JSON response instead of 'name: value' "
    "lines\n" CTL_HELP_GLOBAL "\n"
    "EXAMPLES\n"
    "       $ modelctl predict fraud amount=12.5 country=FR card_present=true\n"
    "       probability: 0.02\n"
    "       label: legit\n"
    "       request_id: 5f0c2a8e41d7b3a9\n"
    "\n"
    "       $ modelctl predict fraud --version 1 amount=99 country=null\n"
    "       $ modelctl --json predict fraud --file request.json\n"
    "\n"
    "EXIT STATUS\n"
    "       0      the outputs were printed\n"
    "       1      the server refused the request (its message is shown), could not be\n"
    "              reached or answered badly\n"
    "       2      usage error: bad options, an unknown input NAME, a VALUE that does\n"
    "              not fit its datatype, or a FILE that cannot be read or is not JSON\n";

/* One NAME=VALUE operand; both point into argv. */
struct pair {
    const char *name;
    size_t name_len;
    const char *value;
};

/* What predict was asked, after option parsing. */
struct request {
    const char *model;
    const char *version; /* NULL: the server's choice */
    const char *file;    /* NULL: pairs */
    struct pair *pairs;  /* owned, npairs entries */
    size_t npairs;
    char what[300]; /* "predict 'MODEL'", the prefix of every message */
};

/* ------------------------------------------------------------------ */
/* Values                                                             */
/* ------------------------------------------------------------------ */

enum kind { KIND_BOOL, KIND_REAL, KIND_INT, KIND_UINT, KIND_TEXT };

struct datatype {
    const char *name;
    enum kind kind;
    int64_t min;  /* KIND_INT: smallest value */
    uint64_t max; /* KIND_INT, KIND_UINT: largest value */
};

static const struct datatype datatypes[] = {
    {"BOOL", KIND_BOOL, 0, 0},
    {"FP32", KIND_REAL, 0, 0},
    {"FP64", KIND_REAL, 0, 0},
    {"INT8", KIND_INT, INT8_MIN, INT8_MAX},
    {"INT16", KIND_INT, INT16_MIN, INT16_MAX},
    {"INT32", KIND_INT, INT32_MIN, INT32_MAX},
    {"INT64", KIND_INT, INT64_MIN, INT64_MAX},
    {"UINT8", KIND_UINT, 0, UINT8_MAX},
    {"UINT16", KIND_UINT, 0, UINT16_MAX},
    {"UINT32", KIND_UINT, 0, UINT32_MAX},
    {"UINT64", KIND_UINT, 0, UINT64_MAX},
    {"BYTES", KIND_TEXT, 0, 0},
};

static const struct datatype *find_datatype(const char *name)
{
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(datatypes); i++) {
        if (strcmp(datatypes[i].name, name) == 0)
            return &datatypes[i];
    }
    return NULL;
}

/* The body passed CTL_MAX_BODY or memory ran out: said once, here. */
static int no_room(const struct request *rq)
{
    return ctl_errorf(CTL_EXIT_FAIL, "%s: the request body is too large", rq->what);
}

/* strtod and friends skip leading blanks and take a sign; JSON and we take neither blank. */
static bool starts_clean(const char *s)
{
    return s[0] != '\0' && s[0] != ' ' && s[0] != '\t' && s[0] != '\n';
}

static int put_real(struct md_buf *b, const struct request *rq, const char *input,
                    const struct datatype *dt, const char *text)
{
    char num[CTL_REAL_MAX];
    char *end = NULL;
    double d;

    errno = 0;
    d = starts_clean(text) ? strtod(text, &end) : 0;
    if (end == NULL || end == text || *end != '\0' || !isfinite(d))
        return ctl_errorf(CTL_EXIT_USAGE, "%s: input '%s': '%s' is not a finite number", rq->what,
                          input, text);
    if (errno == ERANGE || (strcmp(dt->name, "FP32") == 0 && fabs(d) > FLT_MAX))
        return ctl_errorf(CTL_EXIT_USAGE, "%s: input '%s': '%s' is out of range for %s", rq->what,
                          input, text, dt->name);
    ctl_format_real(d, num, sizeof(num));
    return md_buf_puts(b, num) == MD_OK ? CTL_EXIT_OK : no_room(rq);
}

static int put_integer(struct md_buf *b, const struct request *rq, const char *input,
                       const struct datatype *dt, const char *text)
{
    char *end = NULL;
    bool range = false;
    int rc;

    errno = 0;
    if (dt->kind == KIND_UINT && text[0] != '-') {
        unsigned long long u = starts_clean(text) ? strtoull(text, &end, 10) : 0;

        range = errno == ERANGE || u > dt->max;
        rc = md_buf_printf(b, "%llu", u);
    } else {
        /* A negative UINT value lands here too, to be called out of range. */
        long long v = starts_clean(text) ? strtoll(text, &end, 10) : 0;

        range = errno == ERANGE || v < dt->min || (v > 0 && (uint64_t)v > dt->max);
        rc = md_buf_printf(b, "%lld", v);
    }
    if (end == NULL || end == text || *end != '\0')
        return ctl_errorf(CTL_EXIT_USAGE, "%s: input '%s': '%s' is not an integer", rq->what, input,
                          text);
    if (range)
        return ctl_errorf(CTL_EXIT_USAGE, "%s: input '%s': '%s' is out of range for %s", rq->what,
                          input, text, dt->name);
    return rc == MD_OK ? CTL_EXIT_OK : no_room(rq);
}

/* Appends text as the JSON value of one element of datatype dt. */
static int put_value(struct md_buf *b, const struct request *rq, const char *input,
                     const struct datatype *dt, const char *text)
{
    if (strcmp(text, "null") == 0)
        return md_buf_puts(b, "null") == MD_OK ? CTL_EXIT_OK : no_room(rq);
    switch (dt->kind) {
    case KIND_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            return md_buf_puts(b, "true") == MD_OK ? CTL_EXIT_OK : no_room(rq);
        if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            return md_buf_puts(b, "false") == MD_OK ? CTL_EXIT_OK : no_room(rq);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: input '%s': '%s' is not true, false, 1 or 0",
                          rq->what, input, text);
    case KIND_REAL:
        return put_real(b, rq, input, dt, text);
    case KIND_INT:
    case KIND_UINT:
        return put_integer(b, rq, input, dt, text);
    case KIND_TEXT:
        break;
    }
    return md_buf_json_str(b, text, strlen(text)) == MD_OK ? CTL_EXIT_OK : no_room(rq);
}

/* ------------------------------------------------------------------ */
/* The request body from metadata and pairs                           */
/* ------------------------------------------------------------------ */

/* The first pair naming the input name (len bytes), or NULL. */
static const struct pair *find_pair(const struct request *rq, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < rq->npairs; i++) {
        const struct pair *p = &rq->pairs[i];

        if (p->name_len == len && memcmp(p->name, name, len) == 0)
            return p;
    }
    return NULL;
}

static const char *input_name(const json_t *input)
{
    const char *s = json_string_value(json_object_get(input, "name"));

    return s != NULL ? s : "";
}

/* Every pair must name an input of the model; say which are there when one does not. */
static int check_names(const struct request *rq, const json_t *inputs)
{
    struct md_buf list;
    size_t i;
    size_t j;
    int rc;

    for (i = 0; i < rq->npairs; i++) {
        const struct pair *p = &rq->pairs[i];
        bool found = false;

        for (j = 0; j < json_array_size(inputs); j++) {
            const json_t *in = json_array_get(inputs, j);
            const char *name = input_name(in);

            if (strlen(name) == p->name_len && memcmp(name, p->name, p->name_len) == 0)
                found = true;
        }
        if (found)
            continue;
        md_buf_init(&list, 1024);
        for (j = 0; j < json_array_size(inputs); j++) {
            const json_t *in = json_array_get(inputs, j);

            if (md_buf_printf(&list, "%s%s", j > 0 ? ", " : "", input_name(in)) != MD_OK)
                break;
        }
        rc = ctl_errorf(CTL_EXIT_USAGE, "%s: unknown input '%.*s' (the model's inputs: %s)",
                        rq->what, (int)p->name_len, p->name, list.data != NULL ? list.data : "");
        md_buf_release(&list);
        return rc;
    }
    return CTL_EXIT_OK;
}

/*
 * Appends the input's shape for one row: each -1 (the batch or another
 * variable dimension) becomes 1, and the whole must hold one element, since
 * a pair gives one value.
 */
static int put_shape(struct md_buf *b, const struct request *rq, const char *name,
                     const json_t *shape)
{
    size_t i;
    bool one = true; /* the shape holds exactly one element */
    int rc = MD_OK;

    if (!json_is_array(shape))
        return md_buf_puts(b, "[1,1]") == MD_OK ? CTL_EXIT_OK : no_room(rq);
    rc = md_buf_putc(b, '[');
    for (i = 0; i < json_array_size(shape); i++) {
        const json_t *d = json_array_get(shape, i);
        json_int_t dim = json_is_integer(d) ? json_integer_value(d) : 1;

        if (dim < 0)
            dim = 1;
        if (dim != 1)
            one = false;
        if (rc == MD_OK)
            rc = md_buf_printf(b, "%s%" JSON_INTEGER_FORMAT, i > 0 ? "," : "", dim);
    }
    if (rc == MD_OK)
        rc = md_buf_putc(b, ']');
    if (!one) {
        char *dims = json_dumps(shape, JSON_COMPACT | JSON_ENCODE_ANY);

        rc = ctl_errorf(CTL_EXIT_USAGE,
                        "%s: input '%s' has shape %s, not one value per row; use --file", rq->what,
                        name, dims != NULL ? dims : "?");
        free(dims);
        return rc;
    }
    return rc == MD_OK ? CTL_EXIT_OK : no_room(rq);
}

/* Builds {"inputs":[...]} into b: one tensor per pair, in the metadata's input order. */
static int build_body(struct md_buf *b, const struct request *rq, const json_t *meta)
{
    const json_t *inputs = json_object_get(meta, "inputs");
    size_t i;
    bool first = true;
    int rc;

    if (!json_is_array(inputs))
        return ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: metadata without inputs",
                          rq->what);
    rc = check_names(rq, inputs);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (md_buf_puts(b, "{\"inputs\":[") != MD_OK)
        return no_room(rq);
    for (i = 0; i < json_array_size(inputs); i++) {
        const json_t *in = json_array_get(inputs, i);
        const char *name = input_name(in);
        const char *dtname = json_string_value(json_object_get(in, "datatype"));
        const struct pair *p = find_pair(rq, name, strlen(name));
        const struct datatype *dt;

        if (p == NULL)
            continue;
        dt = find_datatype(dtname != NULL ? dtname : "");
        if (dt == NULL)
            return ctl_errorf(CTL_EXIT_USAGE,
                              "%s: input '%s' has datatype '%s', which cannot be given as "
                              "NAME=VALUE; use --file",
                              rq->what, name, dtname != NULL ? dtname : "");
        if (md_buf_puts(b, first ? "{\"name\":" : ",{\"name\":") != MD_OK ||
            md_buf_json_str(b, name, strlen(name)) != MD_OK ||
            md_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":", dt->name) != MD_OK)
            return no_room(rq);
        rc = put_shape(b, rq, name, json_object_get(in, "shape"));
        if (rc != CTL_EXIT_OK)
            return rc;
        if (md_buf_puts(b, ",\"data\":[") != MD_OK)
            return no_room(rq);
        rc = put_value(b, rq, name, dt, p->value);
        if (rc != CTL_EXIT_OK)
            return rc;
        if (md_buf_puts(b, "]}") != MD_OK)
            return no_room(rq);
        first = false;
    }
    return md_buf_puts(b, "]}") == MD_OK ? CTL_EXIT_OK : no_room(rq);
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

/* Reads --file into b; it must hold a JSON object. */
static int read_file(const char *path, struct md_buf *b)
{
    json_t *j;
    json_error_t jerr;
    int rc = ctl_read_file("--file", path, b);

    if (rc != CTL_EXIT_OK)
        return rc;
    j = json_loadb(b->data != NULL ? b->data : "", b->len, 0, &jerr);
    if (!json_is_object(j)) {
        rc = j == NULL
                 ? ctl_errorf(CTL_EXIT_USAGE, "--file: '%s' is not JSON: %s at line %d", path,
                              jerr.text, jerr.line)
                 : ctl_errorf(CTL_EXIT_USAGE,
                              "--file: '%s' is not a JSON object (a V2 inference request)", path);
        json_decref(j);
        return rc;
    }
    json_decref(j);
    return CTL_EXIT_OK;
}

/* Fills rq from the command line; *stop says --help was answered (with CTL_EXIT_OK). */
static int parse_args(struct ctl *ctl, int argc, char **argv, struct request *rq, bool *stop)
{
    struct ctl_args args;
    enum ctl_arg k;
    const char *v;
    int r;

    ctl_args_init(&args, "predict", predict_help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        const char *a;
        const char *eq;
        struct pair *p;

        if (k == CTL_ARG_EXIT) {
            *stop = true;
            return args.exit_code;
        }
        if (k == CTL_ARG_OPTION) {
            r = ctl_opt("predict", argc, argv, &args.i, "version", &v);
            if (r > 0) {
                rq->version = v;
                continue;
            }
            if (r == 0)
                r = ctl_opt("predict", argc, argv, &args.i, "file", &v);
            if (r > 0) {
                rq->file = v;
                continue;
            }
            return r < 0 ? CTL_EXIT_USAGE : ctl_args_unknown(&args);
        }
        a = argv[args.i];
        if (rq->model == NULL) {
            rq->model = a;
            continue;
        }
        eq = strchr(a, '=');
        if (eq == NULL || eq == a)
            return ctl_usagef("predict", "'%s' is not NAME=VALUE", a);
        p = &rq->pairs[rq->npairs++];
        p->name = a;
        p->name_len = (size_t)(eq - a);
        p->value = eq + 1;
        if (find_pair(rq, p->name, p->name_len) != p)
            return ctl_usagef("predict", "input '%.*s' is given twice", (int)p->name_len, a);
    }
    if (rq->model == NULL)
        return ctl_usagef("predict", "missing MODEL");
    if (rq->file != NULL && rq->npairs > 0)
        return ctl_usagef("predict", "give --file or NAME=VALUE pairs, not both");
    if (rq->file == NULL && rq->npairs == 0)
        return ctl_usagef("predict", "give NAME=VALUE pairs or --file");
    (void)snprintf(rq->what, sizeof(rq->what), "predict '%.200s'", rq->model); /* fits */
    return CTL_EXIT_OK;
}

/* "/v2/models/MODEL[/versions/V]", segments encoded. */
static int model_path(struct md_buf *b, const struct request *rq)
{
    int rc = md_buf_puts(b, "/v2/models/");

    if (rc == MD_OK)
        rc = ctl_path_segment(b, rq->model);
    if (rc == MD_OK && rq->version != NULL) {
        rc = md_buf_puts(b, "/versions/");
        if (rc == MD_OK)
            rc = ctl_path_segment(b, rq->version);
    }
    return rc;
}

/* Fetches the metadata and turns the pairs into a request body in b. */
static int body_from_pairs(struct ctl *ctl, const struct request *rq, const char *path,
                           struct md_buf *b)
{
    struct ctl_resp resp;
    json_t *meta = NULL;
    int rc;

    ctl_resp_init(&resp);
    rc = ctl_http(ctl, rq->what, "GET", path, NULL, 0, &resp);
    if (rc == CTL_EXIT_OK && !ctl_resp_ok(&resp))
        rc = ctl_fail_resp(rq->what, &resp);
    if (rc == CTL_EXIT_OK)
        rc = ctl_resp_json(rq->what, &resp, &meta);
    if (rc == CTL_EXIT_OK && !json_is_object(meta))
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: metadata is not an object",
                        rq->what);
    if (rc == CTL_EXIT_OK)
        rc = build_body(b, rq, meta);
    json_decref(meta);
    ctl_resp_release(&resp);
    return rc;
}

/* Prints "name: value" per output, then the request id. */
static int print_outputs(const struct request *rq, const struct ctl_resp *resp)
{
    json_t *root = NULL;
    const json_t *outputs;
    const char *rid;
    size_t i;
    int rc;

    rc = ctl_resp_json(rq->what, resp, &root);
    if (rc != CTL_EXIT_OK)
        return rc;
    outputs = json_object_get(root, "outputs");
    if (!json_is_array(outputs)) {
        json_decref(root);
        return ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: no outputs", rq->what);
    }
    for (i = 0; i < json_array_size(outputs); i++) {
        const json_t *out = json_array_get(outputs, i);
        fprintf(stdout, "%s: ", input_name(out));
        ctl_print_value(stdout, json_object_get(out, "data"));
        fputc('\n', stdout);
    }
    rid = json_string_value(json_object_get(json_object_get(root, "parameters"), "request_id"));
    if (rid == NULL && resp->request_id[0] != '\0')
        rid = resp->request_id;
    if (rid != NULL)
        printf("request_id: %s\n", rid);
    json_decref(root);
    return CTL_EXIT_OK;
}

int cmd_predict(int argc, char **argv, struct ctl *ctl)
{
    struct request rq;
    struct ctl_resp resp;
    struct md_buf path;
    struct md_buf body;
    bool stop = false;
    int rc;

    memset(&rq, 0, sizeof(rq));
    rq.pairs = md_xcalloc((size_t)argc, sizeof(*rq.pairs));
    md_buf_init(&path, 4096);
    md_buf_init(&body, CTL_MAX_BODY);
    ctl_resp_init(&resp);
    rc = parse_args(ctl, argc, argv, &rq, &stop);
    if (rc != CTL_EXIT_OK || stop)
        goto out;
    if (model_path(&path, &rq) != MD_OK) {
        rc = ctl_errorf(CTL_EXIT_USAGE, "%s: model name or version too long", rq.what);
        goto out;
    }
    if (rq.file != NULL)
        rc = read_file(rq.file, &body);
    else
        rc = body_from_pairs(ctl, &rq, path.data, &body);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (md_buf_puts(&path, "/infer") != MD_OK) {
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", rq.what);
        goto out;
    }
    rc = ctl_http(ctl, rq.what, "POST", path.data, body.data, body.len, &resp);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (!ctl_resp_ok(&resp))
        rc = ctl_fail_resp(rq.what, &resp);
    else if (ctl->format == CTL_FORMAT_JSON)
        ctl_print_body(&resp);
    else
        rc = print_outputs(&rq, &resp);
out:
    ctl_resp_release(&resp);
    md_buf_release(&body);
    md_buf_release(&path);
    free(rq.pairs);
    return rc;
}
