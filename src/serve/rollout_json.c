/* SPDX-License-Identifier: MIT */
/*
 * rollout_json.c: the JSON forms of the rollout controller's data: strategy
 * (written by people: strict, every error naming the field and the reason),
 * spec and state (written by control and stored; read back after a
 * restart), and decisions (written only). Parsing uses jansson with
 * duplicate keys refused; formatting writes every field, so that
 * format(parse(text)) reads back as the same value.
 */
#include "serve/rollout.h"
#include "serve/rollout_int.h"
#include "util/fmt.h"

#include <jansson.h>
#include <math.h>

#define PATH_MAX_LEN 160 /* a field's path in an error: "strategy.gates[15].min_samples" */

static const uint32_t DEFAULT_STEPS[] = {5, 25, 50, 100};

/* ---- reading fields -------------------------------------------------------- */

/* The path of field name inside where ("" for the top): "gates[1].metric". */
static const char *field_path(char *buf, const char *where, const char *name)
{
    if (where[0] != '\0')
        (void)snprintf(buf, PATH_MAX_LEN, "%s.%s", where, name);
    else
        (void)snprintf(buf, PATH_MAX_LEN, "%s", name);
    return buf;
}

/* Refuses a key of obj that is not in known (NULL-terminated), naming the known ones. */
static int check_fields(const json_t *obj, const char *where, const char *const *known,
                        struct md_err *err)
{
    const char *key;
    const json_t *v;
    char path[PATH_MAX_LEN];
    char list[256];
    size_t i;
    size_t len = 0;

    json_object_foreach((json_t *)obj, key, v)
    {
        for (i = 0; known[i] != NULL; i++)
            if (strcmp(key, known[i]) == 0)
                break;
        if (known[i] != NULL)
            continue;
        list[0] = '\0';
        for (i = 0; known[i] != NULL && len < sizeof(list); i++) {
            int n = snprintf(list + len, sizeof(list) - len, "%s%s", i > 0 ? ", " : "", known[i]);

            if (n < 0)
                break;
            len += (size_t)n;
        }
        return md_err_set(err, MD_EINVAL, "%s: unknown field (known: %s)",
                          field_path(path, where, key), list);
    }
    return MD_OK;
}

/* The integer field name of obj into *out when present, in [lo, hi]. */
static int opt_uint(const json_t *obj, const char *where, const char *name, uint64_t lo,
                    uint64_t hi, uint64_t *out, struct md_err *err)
{
    const json_t *v = json_object_get(obj, name);
    char path[PATH_MAX_LEN];

    if (v == NULL)
        return MD_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < lo ||
        (uint64_t)json_integer_value(v) > hi)
        return md_err_set(err, MD_EINVAL, "%s: must be an integer from %llu to %llu",
                          field_path(path, where, name), (unsigned long long)lo,
                          (unsigned long long)hi);
    *out = (uint64_t)json_integer_value(v);
    return MD_OK;
}

static int opt_u32(const json_t *obj, const char *where, const char *name, uint32_t lo, uint32_t hi,
                   uint32_t *out, struct md_err *err)
{
    uint64_t v = *out;
    int rc = opt_uint(obj, where, name, lo, hi, &v, err);

    *out = (uint32_t)v;
    return rc;
}

/* A required integer of at least lo. */
static int req_i64(const json_t *obj, const char *where, const char *name, int64_t lo, int64_t *out,
                   struct md_err *err)
{
    const json_t *v = json_object_get(obj, name);
    char path[PATH_MAX_LEN];

    if (v == NULL)
        return md_err_set(err, MD_EINVAL, "%s: missing", field_path(path, where, name));
    if (!json_is_integer(v) || json_integer_value(v) < lo)
        return md_err_set(err, MD_EINVAL, "%s: must be an integer of at least %lld",
                          field_path(path, where, name), (long long)lo);
    *out = (int64_t)json_integer_value(v);
    return MD_OK;
}

/* A number field in [0, 1] (or (0, 1] when zero is not allowed) into *out when present. */
static int opt_fraction(const json_t *obj, const char *where, const char *name, bool zero_ok,
                        double *out, struct md_err *err)
{
    const json_t *v = json_object_get(obj, name);
    char path[PATH_MAX_LEN];
    double x;

    if (v == NULL)
        return MD_OK;
    x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(x >= 0 && x <= 1) || (!zero_ok && x == 0))
        return md_err_set(err, MD_EINVAL, "%s: must be a number %s", field_path(path, where, name),
                          zero_ok ? "from 0 to 1" : "above 0 and at most 1");
    *out = x;
    return MD_OK;
}

/* A string field (required when out is set and the field absent) copied into out (n bytes). */
static int get_text(const json_t *obj, const char *where, const char *name, bool required,
                    char *out, size_t n, struct md_err *err)
{
    const json_t *v = json_object_get(obj, name);
    char path[PATH_MAX_LEN];

    if (v == NULL) {
        if (required)
            return md_err_set(err, MD_EINVAL, "%s: missing", field_path(path, where, name));
        return MD_OK;
    }
    if (!json_is_string(v))
        return md_err_set(err, MD_EINVAL, "%s: must be a string", field_path(path, where, name));
    if (json_string_length(v) >= n)
        return md_err_set(err, MD_EINVAL, "%s: longer than %zu bytes",
                          field_path(path, where, name), n - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return MD_OK;
}

/* A string field naming one of an enum's values (parse gives 0 for others). */
static int get_enum(const json_t *obj, const char *where, const char *name,
                    int (*parse)(const char *), const char *one_of, int *out, struct md_err *err)
{
    const json_t *v = json_object_get(obj, name);
    char path[PATH_MAX_LEN];

    if (v == NULL)
        return md_err_set(err, MD_EINVAL, "%s: missing (one of %s)", field_path(path, where, name),
                          one_of);
    if (!json_is_string(v))
        return md_err_set(err, MD_EINVAL, "%s: must be a string (one of %s)",
                          field_path(path, where, name), one_of);
    *out = parse(json_string_value(v));
    if (*out == 0)
        return md_err_set(err, MD_EINVAL, "%s: '%.64s' is not one of %s",
                          field_path(path, where, name), json_string_value(v), one_of);
    return MD_OK;
}

static int parse_kind(const char *s)
{
    return (int)md_rollout_kind_parse(s);
}

static int parse_phase(const char *s)
{
    return (int)md_rollout_phase_parse(s);
}

static int parse_stage(const char *s)
{
    return (int)md_rollout_stage_parse(s);
}

static int parse_on_inconclusive(const char *s)
{
    if (strcmp(s, "pause") == 0)
        return MD_INCONCLUSIVE_PAUSE;
    if (strcmp(s, "rollback") == 0)
        return MD_INCONCLUSIVE_ROLLBACK;
    return 0;
}

/* Parses text into a new reference (the caller decrefs) to an object. */
static int load_object(const char *json, size_t len, const char *what, json_t **out,
                       struct md_err *err)
{
    json_error_t je;

    *out = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (*out == NULL)
        return md_err_set(err, MD_EINVAL, "%s: invalid JSON at byte %d: %s", what, je.position,
                          je.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return md_err_set(err, MD_EINVAL, "%s: must be a JSON object", what);
    }
    return MD_OK;
}

/* ---- checking a strategy ------------------------------------------------ */

/* A name [A-Za-z][A-Za-z0-9_.-]*, optionally followed by ':' and a signal's
 * argument of printable characters ("f1:fraud", "ab_p_value:conversion=yes"). */
static bool metric_name_ok(const char *s)
{
    size_t i;
    bool arg = false;

    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];

        if (arg) {
            if (c < 0x20 || c > 0x7e)
                return false;
            continue;
        }
        if (c == ':' && s[i + 1] != '\0') {
            arg = true;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return i < MD_ROLLOUT_METRIC_MAX;
}

static int check_gate(const struct md_rollout_gate *g, const char *where, struct md_err *err)
{
    char path[PATH_MAX_LEN];

    if (memchr(g->metric, '\0', sizeof(g->metric)) == NULL || !metric_name_ok(g->metric))
        return md_err_set(err, MD_EINVAL,
                          "%s: must be a name of letters, digits, '_', '.' and '-', starting with "
                          "a letter, optionally followed by ':' and an argument, at most %d bytes",
                          field_path(path, where, "metric"), MD_ROLLOUT_METRIC_MAX - 1);
    if (g->cmp < MD_GATE_MIN || g->cmp > MD_GATE_MAX_RATIO)
        return md_err_set(err, MD_EINVAL,
                          "%s: no comparison (one of min, max, min_delta, max_delta, min_ratio, "
                          "max_ratio)",
                          where);
    field_path(path, where, md_gate_cmp_name(g->cmp));
    if (!isfinite(g->threshold))
        return md_err_set(err, MD_EINVAL, "%s: must be a finite number", path);
    if ((g->cmp == MD_GATE_MIN_RATIO || g->cmp == MD_GATE_MAX_RATIO) && !(g->threshold > 0))
        return md_err_set(err, MD_EINVAL, "%s: must be above 0 (a ratio to the champion's value)",
                          path);
    if (g->min_samples < 1 || g->min_samples > MD_ROLLOUT_SAMPLES)
        return md_err_set(err, MD_EINVAL, "%s: must be an integer from 1 to %d",
                          field_path(path, where, "min_samples"), MD_ROLLOUT_SAMPLES);
    return MD_OK;
}

static int check_steps(const struct md_rollout_strategy *s, const char *where, struct md_err *err)
{
    char path[PATH_MAX_LEN];
    char item[32] = "steps";
    size_t i;

    if (s->n_steps < 2 || s->n_steps > MD_ROLLOUT_STEPS)
        return md_err_set(err, MD_EINVAL,
                          "%s: must be an array of 2 to %d percentages (the last 100)",
                          field_path(path, where, "steps"), MD_ROLLOUT_STEPS);
    for (i = 0; i < s->n_steps; i++) {
        (void)snprintf(item, sizeof(item), "steps[%zu]", i);
        if (s->steps[i] < 1 || s->steps[i] > 100)
            return md_err_set(err, MD_EINVAL, "%s: must be an integer from 1 to 100",
                              field_path(path, where, item));
        if (i > 0 && s->steps[i] <= s->steps[i - 1])
            return md_err_set(err, MD_EINVAL, "%s: %u is not above steps[%zu] (%u): steps increase",
                              field_path(path, where, item), s->steps[i], i - 1, s->steps[i - 1]);
    }
    if (s->steps[s->n_steps - 1] != 100)
        return md_err_set(err, MD_EINVAL,
                          "%s: the last step must be 100 (all the traffic: the promotion), not %u",
                          field_path(path, where, item), s->steps[s->n_steps - 1]);
    return MD_OK;
}

/* Every rule of a strategy, on a struct the caller may have filled in. */
static int check_strategy(const struct md_rollout_strategy *s, const char *where,
                          struct md_err *err)
{
    char path[PATH_MAX_LEN];
    char item[PATH_MAX_LEN];
    bool canary = s->kind == MD_ROLLOUT_KIND_CANARY || s->kind == MD_ROLLOUT_KIND_SHADOW_CANARY;
    bool shadow = s->kind == MD_ROLLOUT_KIND_SHADOW_CANARY || s->kind == MD_ROLLOUT_KIND_BLUEGREEN;
    size_t i;
    int rc;

    if (s->kind < MD_ROLLOUT_KIND_CANARY || s->kind > MD_ROLLOUT_KIND_SHADOW_CANARY)
        return md_err_set(err, MD_EINVAL, "%s: must be one of canary, bluegreen, shadow_canary",
                          field_path(path, where, "kind"));
    if (canary) {
        rc = check_steps(s, where, err);
        if (rc != MD_OK)
            return rc;
        if (s->interval_s < 1 || s->interval_s > MD_ROLLOUT_SECONDS)
            return md_err_set(err, MD_EINVAL, "%s: must be an integer from 1 to %d",
                              field_path(path, where, "interval_s"), MD_ROLLOUT_SECONDS);
        if (!(s->mirror >= 0 && s->mirror <= 1))
            return md_err_set(err, MD_EINVAL, "%s: must be a number from 0 to 1",
                              field_path(path, where, "mirror"));
    }
    if (shadow) {
        if (s->shadow_s < 1 || s->shadow_s > MD_ROLLOUT_SECONDS)
            return md_err_set(err, MD_EINVAL, "%s: must be an integer from 1 to %d",
                              field_path(path, where, "shadow_s"), MD_ROLLOUT_SECONDS);
        if (!(s->shadow_fraction > 0 && s->shadow_fraction <= 1))
            return md_err_set(err, MD_EINVAL, "%s: must be a number above 0 and at most 1",
                              field_path(path, where, "shadow_fraction"));
    }
    if (s->min_requests < 1 || s->min_requests > MD_ROLLOUT_SAMPLES)
        return md_err_set(err, MD_EINVAL, "%s: must be an integer from 1 to %d",
                          field_path(path, where, "min_requests"), MD_ROLLOUT_SAMPLES);
    if (s->n_gates < 1 || s->n_gates > MD_ROLLOUT_GATES)
        return md_err_set(err, MD_EINVAL,
                          "%s: must be an array of 1 to %d gates (leave it out for the defaults)",
                          field_path(path, where, "gates"), MD_ROLLOUT_GATES);
    for (i = 0; i < s->n_gates; i++) {
        char name[32];

        (void)snprintf(name, sizeof(name), "gates[%zu]", i);
        rc = check_gate(&s->gates[i], field_path(item, where, name), err);
        if (rc != MD_OK)
            return rc;
    }
    if (s->inconclusive_after_s > MD_ROLLOUT_SECONDS)
        return md_err_set(err, MD_EINVAL, "%s: must be an integer from 0 to %d",
                          field_path(path, where, "inconclusive.after_s"), MD_ROLLOUT_SECONDS);
    if (s->inconclusive_action != MD_INCONCLUSIVE_PAUSE &&
        s->inconclusive_action != MD_INCONCLUSIVE_ROLLBACK)
        return md_err_set(err, MD_EINVAL, "%s: must be \"pause\" or \"rollback\"",
                          field_path(path, where, "inconclusive.action"));
    return MD_OK;
}

/* ---- parsing a strategy ----------------------------------------------- */

void md_rollout_strategy_default(struct md_rollout_strategy *s, enum md_rollout_kind kind)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (kind == MD_ROLLOUT_KIND_CANARY || kind == MD_ROLLOUT_KIND_SHADOW_CANARY) {
        s->n_steps = MD_ARRAY_LEN(DEFAULT_STEPS);
        memcpy(s->steps, DEFAULT_STEPS, sizeof(DEFAULT_STEPS));
        s->interval_s = 60;
        s->mirror = 0.1;
    }
    if (kind == MD_ROLLOUT_KIND_SHADOW_CANARY || kind == MD_ROLLOUT_KIND_BLUEGREEN) {
        s->shadow_s = 60;
        s->shadow_fraction = 1;
    }
    s->min_requests = 100;
    s->n_gates = 2;
    md_rollout__copy_text(s->gates[0].metric, sizeof(s->gates[0].metric), "error_rate");
    s->gates[0].cmp = MD_GATE_MAX_DELTA;
    s->gates[0].threshold = 0.01;
    s->gates[0].min_samples = s->min_requests;
    md_rollout__copy_text(s->gates[1].metric, sizeof(s->gates[1].metric), "latency_p99");
    s->gates[1].cmp = MD_GATE_MAX_RATIO;
    s->gates[1].threshold = 1.2;
    s->gates[1].min_samples = s->min_requests;
    s->inconclusive_after_s = 600;
    s->inconclusive_action = MD_INCONCLUSIVE_PAUSE;
}

/* A strategy's fields, and the kinds each applies to. */
struct strategy_field {
    const char *name;
    unsigned kinds;      /* 1 << kind */
    const char *why_not; /* why it does not apply to the other kinds */
};

#define K_CANARY (1u << MD_ROLLOUT_KIND_CANARY)
#define K_BLUE   (1u << MD_ROLLOUT_KIND_BLUEGREEN)
#define K_SHADOW (1u << MD_ROLLOUT_KIND_SHADOW_CANARY)

static const struct strategy_field strategy_fields[] = {
    {"kind", K_CANARY | K_BLUE | K_SHADOW, NULL},
    {"steps", K_CANARY | K_SHADOW, "it switches all the traffic at once after its check"},
    {"interval_s", K_CANARY | K_SHADOW, "it has no steps; its check lasts shadow_s"},
    {"min_requests", K_CANARY | K_BLUE | K_SHADOW, NULL},
    {"shadow_s", K_BLUE | K_SHADOW, "it has no shadow stage (shadow_canary has)"},
    {"shadow_fraction", K_BLUE | K_SHADOW, "it has no shadow stage (shadow_canary has)"},
    {"mirror", K_CANARY | K_SHADOW, "the candidate answers no request before the switch"},
    {"gates", K_CANARY | K_BLUE | K_SHADOW, NULL},
    {"inconclusive", K_CANARY | K_BLUE | K_SHADOW, NULL},
};

static int check_strategy_fields(const json_t *root, const char *where, enum md_rollout_kind kind,
                                 struct md_err *err)
{
    static const char *const known[] = {"kind",         "steps",
                                        "interval_s",   "min_requests",
                                        "shadow_s",     "shadow_fraction",
                                        "mirror",       "gates",
                                        "inconclusive", NULL};
    char path[PATH_MAX_LEN];
    const char *key;
    const json_t *v;
    size_t i;
    int rc = check_fields(root, where, known, err);

    if (rc != MD_OK)
        return rc;
    json_object_foreach((json_t *)root, key, v)
    {
        for (i = 0; i < MD_ARRAY_LEN(strategy_fields); i++)
            if (strcmp(key, strategy_fields[i].name) == 0 &&
                (strategy_fields[i].kinds & (1u << kind)) == 0)
                return md_err_set(err, MD_EINVAL, "%s: not used by kind '%s' (%s)",
                                  field_path(path, where, key), md_rollout_kind_name(kind),
                                  strategy_fields[i].why_not);
    }
    return MD_OK;
}

static int parse_steps(const json_t *v, const char *where, struct md_rollout_strategy *s,
                       struct md_err *err)
{
    char path[PATH_MAX_LEN];
    char item[32];
    size_t i;

    if (!json_is_array(v) || json_array_size(v) < 2 || json_array_size(v) > MD_ROLLOUT_STEPS)
        return md_err_set(err, MD_EINVAL,
                          "%s: must be an array of 2 to %d percentages (the last 100)",
                          field_path(path, where, "steps"), MD_ROLLOUT_STEPS);
    s->n_steps = json_array_size(v);
    for (i = 0; i < s->n_steps; i++) {
        const json_t *x = json_array_get(v, i);

        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 100) {
            (void)snprintf(item, sizeof(item), "steps[%zu]", i);
            return md_err_set(err, MD_EINVAL, "%s: must be an integer from 1 to 100",
                              field_path(path, where, item));
        }
        s->steps[i] = (uint32_t)json_integer_value(x);
    }
    return MD_OK;
}

static int parse_gate(const json_t *v, const char *where, uint64_t min_requests,
                      struct md_rollout_gate *g, struct md_err *err)
{
    static const char *const known[] = {"metric",    "min",         "max",
                                        "min_delta", "max_delta",   "min_ratio",
                                        "max_ratio", "min_samples", NULL};
    char path[PATH_MAX_LEN];
    int c;
    int rc;

    if (!json_is_object(v))
        return md_err_set(err, MD_EINVAL, "%s: must be an object", where);
    rc = check_fields(v, where, known, err);
    if (rc != MD_OK)
        return rc;
    memset(g, 0, sizeof(*g));
    rc = get_text(v, where, "metric", true, g->metric, sizeof(g->metric), err);
    if (rc != MD_OK)
        return rc;
    for (c = MD_GATE_MIN; c <= MD_GATE_MAX_RATIO; c++) {
        const json_t *t = json_object_get(v, md_gate_cmp_name((enum md_gate_cmp)c));

        if (t == NULL)
            continue;
        if (g->cmp != 0)
            return md_err_set(err, MD_EINVAL,
                              "%s: both '%s' and '%s' given; a gate has one "
                              "comparison",
                              where, md_gate_cmp_name(g->cmp),
                              md_gate_cmp_name((enum md_gate_cmp)c));
        if (!json_is_number(t))
            return md_err_set(err, MD_EINVAL, "%s: must be a number",
                              field_path(path, where, md_gate_cmp_name((enum md_gate_cmp)c)));
        g->cmp = (enum md_gate_cmp)c;
        g->threshold = json_number_value(t);
    }
    g->min_samples = min_requests;
    rc = opt_uint(v, where, "min_samples", 1, MD_ROLLOUT_SAMPLES, &g->min_samples, err);
    if (rc != MD_OK)
        return rc;
    return check_gate(g, where, err);
}

static int parse_gates(const json_t *v, const char *where, struct md_rollout_strategy *s,
                       struct md_err *err)
{
    char path[PATH_MAX_LEN];
    char item[32];
    char gate[PATH_MAX_LEN];
    size_t i;
    int rc;

    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > MD_ROLLOUT_GATES)
        return md_err_set(err, MD_EINVAL,
                          "%s: must be an array of 1 to %d gates (leave it out for the defaults)",
                          field_path(path, where, "gates"), MD_ROLLOUT_GATES);
    s->n_gates = json_array_size(v);
    for (i = 0; i < s->n_gates; i++) {
        (void)snprintf(item, sizeof(item), "gates[%zu]", i);
        rc = parse_gate(json_array_get(v, i), field_path(gate, where, item), s->min_requests,
                        &s->gates[i], err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

static int parse_inconclusive(const json_t *v, const char *where, struct md_rollout_strategy *s,
                              struct md_err *err)
{
    static const char *const known[] = {"after_s", "action", NULL};
    char path[PATH_MAX_LEN];
    int action;
    int rc;

    field_path(path, where, "inconclusive");
    if (!json_is_object(v))
        return md_err_set(err, MD_EINVAL, "%s: must be an object (after_s, action)", path);
    rc = check_fields(v, path, known, err);
    if (rc == MD_OK)
        rc = opt_u32(v, path, "after_s", 0, MD_ROLLOUT_SECONDS, &s->inconclusive_after_s, err);
    if (rc != MD_OK || json_object_get(v, "action") == NULL)
        return rc;
    rc = get_enum(v, path, "action", parse_on_inconclusive, "pause, rollback", &action, err);
    if (rc == MD_OK)
        s->inconclusive_action = (enum md_rollout_on_inconclusive)action;
    return rc;
}

int md_rollout_strategy_from_json(const struct json_t *root, const char *where,
                                  struct md_rollout_strategy *out, struct md_err *err)
{
    const json_t *v;
    int kind;
    size_t i;
    int rc;

    if (where == NULL)
        where = "";
    if (!json_is_object(root)) {
        if (where[0] != '\0')
            return md_err_set(err, MD_EINVAL, "%s: must be an object", where);
        return md_err_set(err, MD_EINVAL, "strategy: must be a JSON object");
    }
    rc = get_enum(root, where, "kind", parse_kind, "canary, bluegreen, shadow_canary", &kind, err);
    if (rc != MD_OK)
        return rc;
    rc = check_strategy_fields(root, where, (enum md_rollout_kind)kind, err);
    if (rc != MD_OK)
        return rc;
    md_rollout_strategy_default(out, (enum md_rollout_kind)kind);
    v = json_object_get(root, "steps");
    rc = v != NULL ? parse_steps(v, where, out, err) : MD_OK;
    if (rc == MD_OK)
        rc = opt_u32(root, where, "interval_s", 1, MD_ROLLOUT_SECONDS, &out->interval_s, err);
    if (rc == MD_OK)
        rc = opt_uint(root, where, "min_requests", 1, MD_ROLLOUT_SAMPLES, &out->min_requests, err);
    if (rc == MD_OK)
        rc = opt_u32(root, where, "shadow_s", 1, MD_ROLLOUT_SECONDS, &out->shadow_s, err);
    if (rc == MD_OK)
        rc = opt_fraction(root, where, "shadow_fraction", false, &out->shadow_fraction, err);
    if (rc == MD_OK)
        rc = opt_fraction(root, where, "mirror", true, &out->mirror, err);
    if (rc != MD_OK)
        return rc;
    /* The default gates take the strategy's min_requests as their min_samples. */
    for (i = 0; i < out->n_gates; i++)
        out->gates[i].min_samples = out->min_requests;
    v = json_object_get(root, "gates");
    rc = v != NULL ? parse_gates(v, where, out, err) : MD_OK;
    v = json_object_get(root, "inconclusive");
    if (rc == MD_OK && v != NULL)
        rc = parse_inconclusive(v, where, out, err);
    if (rc != MD_OK)
        return rc;
    return check_strategy(out, where, err);
}

int md_rollout_strategy_parse(const char *json, size_t len, struct md_rollout_strategy *out,
                              struct md_err *err)
{
    json_t *root;
    int rc = load_object(json, len, "strategy", &root, err);

    if (rc != MD_OK)
        return rc;
    rc = md_rollout_strategy_from_json(root, "", out, err);
    json_decref(root);
    return rc;
}

/* ---- formatting --------------------------------------------------------- */

/* The shortest of %.15g, %.16g, %.17g that reads back as v; null when not finite. */
static void put_num(struct md_buf *b, double v)
{
    char tmp[40];
    int prec;

    if (!isfinite(v)) {
        md_buf_puts(b, "null");
        return;
    }
    /* -0 would read back as the integer 0: one zero. */
    if (v == 0) {
        md_buf_putc(b, '0');
        return;
    }
    for (prec = 15; prec <= 17; prec++) {
        (void)snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    md_buf_puts(b, tmp);
}

/* A number for people (a decision is never read back): 15 significant digits
 * at most, so that a computed limit shows as 0.013, not 0.013000000000000001. */
static void put_shown(struct md_buf *b, double v)
{
    char tmp[40];

    if (!isfinite(v)) {
        md_buf_puts(b, "null");
        return;
    }
    (void)snprintf(tmp, sizeof(tmp), "%.15g", v == 0 ? 0.0 : v);
    md_buf_puts(b, tmp);
}

static void put_u64(struct md_buf *b, uint64_t v)
{
    md_buf_printf(b, "%llu", (unsigned long long)v);
}

/* ,"name": */
static void put_key(struct md_buf *b, const char *name, bool first)
{
    if (!first)
        md_buf_putc(b, ',');
    md_buf_json_str(b, name, strlen(name));
    md_buf_putc(b, ':');
}

static void put_text(struct md_buf *b, const char *s)
{
    md_buf_json_str(b, s, strlen(s));
}

int md_rollout_strategy_format(const struct md_rollout_strategy *s, struct md_buf *b)
{
    bool canary = s->kind == MD_ROLLOUT_KIND_CANARY || s->kind == MD_ROLLOUT_KIND_SHADOW_CANARY;
    bool shadow = s->kind == MD_ROLLOUT_KIND_SHADOW_CANARY || s->kind == MD_ROLLOUT_KIND_BLUEGREEN;
    size_t i;

    md_buf_puts(b, "{\"kind\":");
    put_text(b, md_rollout_kind_name(s->kind));
    if (canary) {
        md_buf_puts(b, ",\"steps\":[");
        for (i = 0; i < s->n_steps && i < MD_ROLLOUT_STEPS; i++)
            md_buf_printf(b, "%s%u", i > 0 ? "," : "", s->steps[i]);
        md_buf_printf(b, "],\"interval_s\":%u", s->interval_s);
    }
    put_key(b, "min_requests", false);
    put_u64(b, s->min_requests);
    if (shadow) {
        md_buf_printf(b, ",\"shadow_s\":%u,\"shadow_fraction\":", s->shadow_s);
        put_num(b, s->shadow_fraction);
    }
    if (canary) {
        md_buf_puts(b, ",\"mirror\":");
        put_num(b, s->mirror);
    }
    md_buf_puts(b, ",\"gates\":[");
    for (i = 0; i < s->n_gates && i < MD_ROLLOUT_GATES; i++) {
        const struct md_rollout_gate *g = &s->gates[i];

        md_buf_puts(b, i > 0 ? ",{\"metric\":" : "{\"metric\":");
        md_buf_json_str(b, g->metric, strnlen(g->metric, sizeof(g->metric)));
        put_key(b, md_gate_cmp_name(g->cmp), false);
        put_num(b, g->threshold);
        put_key(b, "min_samples", false);
        put_u64(b, g->min_samples);
        md_buf_putc(b, '}');
    }
    md_buf_printf(b, "],\"inconclusive\":{\"after_s\":%u,\"action\":\"%s\"}}",
                  s->inconclusive_after_s,
                  s->inconclusive_action == MD_INCONCLUSIVE_ROLLBACK ? "rollback" : "pause");
    return md_buf_error(b);
}

/* ---- specs ---------------------------------------------------------------- */

int md_rollout_spec_check(const struct md_rollout_spec *spec, struct md_err *err)
{
    size_t n = strnlen(spec->model, sizeof(spec->model));

    if (n == 0 || n == sizeof(spec->model))
        return md_err_set(err, MD_EINVAL, "model: must be a name of 1 to %d bytes",
                          MD_ROLLOUT_NAME_MAX - 1);
    if (strnlen(spec->strategy_name, sizeof(spec->strategy_name)) == sizeof(spec->strategy_name))
        return md_err_set(err, MD_EINVAL, "strategy_name: longer than %d bytes",
                          MD_ROLLOUT_NAME_MAX - 1);
    if (spec->candidate < 1)
        return md_err_set(err, MD_EINVAL, "candidate: must be a version number of at least 1");
    if (spec->champion < 1)
        return md_err_set(err, MD_EINVAL, "champion: must be a version number of at least 1");
    if (spec->candidate == spec->champion)
        return md_err_set(err, MD_EINVAL,
                          "candidate: version %lld is the champion; a rollout needs another one",
                          (long long)spec->candidate);
    if (spec->created_ms < 0)
        return md_err_set(err, MD_EINVAL, "created_ms: must be an integer of at least 0");
    return check_strategy(&spec->strategy, "strategy", err);
}

int md_rollout_spec_parse(const char *json, size_t len, struct md_rollout_spec *out,
                          struct md_err *err)
{
    static const char *const known[] = {"model",         "candidate", "champion", "created_ms",
                                        "strategy_name", "strategy",  NULL};
    json_t *root;
    const json_t *v;
    int rc = load_object(json, len, "spec", &root, err);

    if (rc != MD_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    rc = check_fields(root, "", known, err);
    if (rc == MD_OK)
        rc = get_text(root, "", "model", true, out->model, sizeof(out->model), err);
    if (rc == MD_OK)
        rc = req_i64(root, "", "candidate", 1, &out->candidate, err);
    if (rc == MD_OK)
        rc = req_i64(root, "", "champion", 1, &out->champion, err);
    if (rc == MD_OK)
        rc = req_i64(root, "", "created_ms", 0, &out->created_ms, err);
    if (rc == MD_OK)
        rc = get_text(root, "", "strategy_name", false, out->strategy_name,
                      sizeof(out->strategy_name), err);
    if (rc == MD_OK) {
        v = json_object_get(root, "strategy");
        if (v == NULL)
            rc = md_err_set(err, MD_EINVAL, "strategy: missing");
        else
            rc = md_rollout_strategy_from_json(v, "strategy", &out->strategy, err);
    }
    json_decref(root);
    if (rc != MD_OK)
        return rc;
    return md_rollout_spec_check(out, err);
}

int md_rollout_spec_format(const struct md_rollout_spec *spec, struct md_buf *b)
{
    md_buf_puts(b, "{\"model\":");
    md_buf_json_str(b, spec->model, strnlen(spec->model, sizeof(spec->model)));
    md_buf_printf(b, ",\"candidate\":%lld,\"champion\":%lld,\"created_ms\":%lld",
                  (long long)spec->candidate, (long long)spec->champion,
                  (long long)spec->created_ms);
    if (spec->strategy_name[0] != '\0') {
        md_buf_puts(b, ",\"strategy_name\":");
        md_buf_json_str(b, spec->strategy_name,
                        strnlen(spec->strategy_name, sizeof(spec->strategy_name)));
    }
    md_buf_puts(b, ",\"strategy\":");
    if (md_rollout_strategy_format(&spec->strategy, b) != MD_OK)
        return md_buf_error(b);
    md_buf_putc(b, '}');
    return md_buf_error(b);
}

/* ---- states --------------------------------------------------------------- */

int md_rollout_state_check(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                           struct md_err *err)
{
    enum md_rollout_kind kind = spec->strategy.kind;
    bool active = md_rollout_active(st);
    size_t steps = spec->strategy.n_steps;
    bool fits;

    if (st->phase < MD_ROLLOUT_RUNNING || st->phase > MD_ROLLOUT_ABORTED)
        return md_err_set(err, MD_EINVAL,
                          "phase: must be one of running, paused, promoted, rolled_back, aborted");
    switch (st->stage) {
    case MD_ROLLOUT_STAGE_SHADOW:
        fits = kind == MD_ROLLOUT_KIND_SHADOW_CANARY;
        break;
    case MD_ROLLOUT_STAGE_CANARY:
        fits = kind == MD_ROLLOUT_KIND_CANARY || kind == MD_ROLLOUT_KIND_SHADOW_CANARY;
        break;
    case MD_ROLLOUT_STAGE_CHECK:
        fits = kind == MD_ROLLOUT_KIND_BLUEGREEN;
        break;
    default:
        return md_err_set(err, MD_EINVAL, "stage: must be one of shadow, canary, check");
    }
    if (!fits)
        return md_err_set(err, MD_EINVAL, "stage: a %s rollout has no stage '%s'",
                          md_rollout_kind_name(kind), md_rollout_stage_name(st->stage));
    if (st->stage != MD_ROLLOUT_STAGE_CANARY && st->step != 0)
        return md_err_set(err, MD_EINVAL, "step: must be 0 in stage '%s'",
                          md_rollout_stage_name(st->stage));
    /* The last step (100) is the promotion: an active rollout is never on it. */
    if (st->stage == MD_ROLLOUT_STAGE_CANARY &&
        (active ? st->step + 1 >= steps : st->step >= steps))
        return md_err_set(err, MD_EINVAL, "step: %u is past the strategy's %s step (%zu)", st->step,
                          active ? "last judged" : "last", active ? steps - 2 : steps - 1);
    if (st->step_started_ms < 0 || st->inconclusive_since_ms < 0 || st->ended_ms < 0)
        return md_err_set(err, MD_EINVAL, "%s: must be an integer of at least 0",
                          st->step_started_ms < 0         ? "step_started_ms"
                          : st->inconclusive_since_ms < 0 ? "inconclusive_since_ms"
                                                          : "ended_ms");
    if (active && st->ended_ms != 0)
        return md_err_set(err, MD_EINVAL, "ended_ms: must be 0 while the rollout is %s",
                          md_rollout_phase_name(st->phase));
    if (memchr(st->reason, '\0', sizeof(st->reason)) == NULL)
        return md_err_set(err, MD_EINVAL, "reason: longer than %d bytes",
                          MD_ROLLOUT_REASON_MAX - 1);
    return MD_OK;
}

int md_rollout_state_parse(const struct md_rollout_spec *spec, const char *json, size_t len,
                           struct md_rollout_state *out, struct md_err *err)
{
    static const char *const known[] = {
        "phase",    "stage",  "step", "step_started_ms", "inconclusive_since_ms",
        "ended_ms", "reason", NULL};
    json_t *root;
    int phase = 0;
    int stage = 0;
    int64_t step = 0;
    int rc = load_object(json, len, "state", &root, err);

    if (rc != MD_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    rc = check_fields(root, "", known, err);
    if (rc == MD_OK)
        rc = get_enum(root, "", "phase", parse_phase,
                      "running, paused, promoted, rolled_back, aborted", &phase, err);
    if (rc == MD_OK)
        rc = get_enum(root, "", "stage", parse_stage, "shadow, canary, check", &stage, err);
    if (rc == MD_OK)
        rc = req_i64(root, "", "step", 0, &step, err);
    if (rc == MD_OK && step >= MD_ROLLOUT_STEPS)
        rc = md_err_set(err, MD_EINVAL, "step: must be an integer from 0 to %d",
                        MD_ROLLOUT_STEPS - 1);
    if (rc == MD_OK)
        rc = req_i64(root, "", "step_started_ms", 0, &out->step_started_ms, err);
    if (rc == MD_OK)
        rc = req_i64(root, "", "inconclusive_since_ms", 0, &out->inconclusive_since_ms, err);
    if (rc == MD_OK)
        rc = req_i64(root, "", "ended_ms", 0, &out->ended_ms, err);
    if (rc == MD_OK)
        rc = get_text(root, "", "reason", true, out->reason, sizeof(out->reason), err);
    json_decref(root);
    if (rc != MD_OK)
        return rc;
    out->phase = (enum md_rollout_phase)phase;
    out->stage = (enum md_rollout_stage)stage;
    out->step = (uint32_t)step;
    return md_rollout_state_check(spec, out, err);
}

int md_rollout_state_format(const struct md_rollout_state *st, struct md_buf *b)
{
    md_buf_puts(b, "{\"phase\":");
    put_text(b, md_rollout_phase_name(st->phase));
    md_buf_puts(b, ",\"stage\":");
    put_text(b, md_rollout_stage_name(st->stage));
    md_buf_printf(b,
                  ",\"step\":%u,\"step_started_ms\":%lld,\"inconclusive_since_ms\":%lld,"
                  "\"ended_ms\":%lld,\"reason\":",
                  st->step, (long long)st->step_started_ms, (long long)st->inconclusive_since_ms,
                  (long long)st->ended_ms);
    md_buf_json_str(b, st->reason, strnlen(st->reason, sizeof(st->reason)));
    md_buf_putc(b, '}');
    return md_buf_error(b);
}

/* ---- decisions ------------------------------------------------------------ */

int md_rollout_weights_format(const struct md_rollout_weights *w, struct md_buf *b)
{
    md_buf_printf(b, "{\"candidate\":%u,\"champion\":%u,\"shadow\":", w->candidate, w->champion);
    put_shown(b, w->shadow);
    md_buf_puts(b, ",\"mirror\":");
    put_shown(b, w->mirror);
    md_buf_putc(b, '}');
    return md_buf_error(b);
}

static void put_gate_record(struct md_buf *b, const struct md_rollout_gate_record *r)
{
    const struct md_rollout_gate *g = &r->gate;

    md_buf_puts(b, "{\"metric\":");
    md_buf_json_str(b, g->metric, strnlen(g->metric, sizeof(g->metric)));
    md_buf_puts(b, ",\"comparison\":");
    put_text(b, md_gate_cmp_name(g->cmp));
    md_buf_puts(b, ",\"threshold\":");
    put_shown(b, g->threshold);
    md_buf_puts(b, ",\"op\":");
    put_text(b, md_gate_op(g->cmp));
    md_buf_puts(b, ",\"limit\":");
    put_shown(b, r->limit);
    md_buf_puts(b, ",\"candidate\":");
    put_shown(b, r->candidate);
    md_buf_puts(b, ",\"champion\":");
    put_shown(b, r->champion);
    md_buf_printf(b, ",\"samples\":{\"candidate\":%llu,\"champion\":%llu},\"min_samples\":%llu",
                  (unsigned long long)r->candidate_samples, (unsigned long long)r->champion_samples,
                  (unsigned long long)g->min_samples);
    md_buf_puts(b, ",\"result\":");
    put_text(b, md_gate_result_name(r->result));
    if (r->note[0] != '\0') {
        md_buf_puts(b, ",\"note\":");
        md_buf_json_str(b, r->note, strnlen(r->note, sizeof(r->note)));
    }
    md_buf_putc(b, '}');
}

int md_rollout_decision_format(const struct md_rollout_decision *d, struct md_buf *b)
{
    size_t i;

    md_buf_puts(b, "{\"action\":");
    put_text(b, md_rollout_action_name(d->action));
    md_buf_puts(b, ",\"cause\":");
    put_text(b, md_rollout_cause_name(d->cause));
    if (d->command[0] != '\0') {
        md_buf_puts(b, ",\"command\":");
        md_buf_json_str(b, d->command, strnlen(d->command, sizeof(d->command)));
    }
    md_buf_printf(b, ",\"at_ms\":%lld,\"stage\":", (long long)d->at_ms);
    put_text(b, md_rollout_stage_name(d->stage));
    md_buf_printf(b, ",\"step\":%u,\"elapsed_ms\":%lld,\"duration_ms\":%lld", d->step,
                  (long long)d->elapsed_ms, (long long)d->duration_ms);
    if (d->measured) {
        md_buf_printf(b, ",\"requests\":{\"candidate\":%llu,\"champion\":%llu},\"gates\":[",
                      (unsigned long long)d->candidate_requests,
                      (unsigned long long)d->champion_requests);
        for (i = 0; i < d->n_gates && i < MD_ROLLOUT_GATES; i++) {
            if (i > 0)
                md_buf_putc(b, ',');
            put_gate_record(b, &d->gates[i]);
        }
        md_buf_putc(b, ']');
        if (d->failed >= 0)
            md_buf_printf(b, ",\"failed\":%d", d->failed);
    }
    md_buf_puts(b, ",\"weights\":");
    if (md_rollout_weights_format(&d->weights, b) != MD_OK)
        return md_buf_error(b);
    md_buf_printf(b, ",\"traffic\":%s,\"changed\":%s,\"reason\":", d->traffic ? "true" : "false",
                  d->changed ? "true" : "false");
    md_buf_json_str(b, d->reason, strnlen(d->reason, sizeof(d->reason)));
    md_buf_putc(b, '}');
    return md_buf_error(b);
}

/* ---- gates on named metrics ------------------------------------------------- */

bool md_rollout_metric_builtin(const char *name)
{
    static const char *const builtin[] = {"error_rate", "latency_p99", "agreement", "success_rate"};

    for (size_t i = 0; i < MD_ARRAY_LEN(builtin); i++)
        if (strcmp(name, builtin[i]) == 0)
            return true;
    return false;
}

int md_rollout_strategy_check_signals(const struct md_rollout_strategy *st,
                                      const struct md_signals *signals, const char *where,
                                      struct md_err *err)
{
    for (size_t i = 0; signals != NULL && i < st->n_gates && i < MD_ROLLOUT_GATES; i++) {
        const char *metric = st->gates[i].metric;
        char path[PATH_MAX_LEN];
        char item[32];
        struct md_err why;

        if (md_rollout_metric_builtin(metric) || md_signals_check(signals, metric, &why) == MD_OK)
            continue;
        (void)snprintf(item, sizeof(item), "gates[%zu].metric", i);
        return md_err_set(err, MD_EINVAL, "%s: %s", field_path(path, where, item), why.msg);
    }
    return MD_OK;
}
