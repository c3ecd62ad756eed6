/* SPDX-License-Identifier: MIT */
/*
 * policy.c: a model's traffic policy as plain data: its JSON form (parse,
 * check, format), what a new policy inherits from the one before it (the
 * salt), and the route each request takes (the sticky hash). Which versions
 * exist, serve or an alias names, storing the policy and publishing it in a
 * snapshot are the caller's.
 */
#include "serve/policy.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>

#include "serve/registry.h"

#define VERSION_MAX 999999999999999999LL /* 18 digits, as md_version_number reads */
#define PATH_CAP    64                   /* "shadows[3].fraction", a quoted unknown field */
#define QUOTE_MAX   40                   /* bytes of a request's text quoted in a message */

/* The route names that label what is not a route: shadow and mirrored copies, direct calls. */
static const char *const reserved_names[] = {"shadow", "mirror", "direct", NULL};

/* ----------------------------------------------------------------- messages */

static int fail(struct md_err *err, const char *path, const char *fmt, ...) MD_PRINTF(3, 4);

/* MD_EINVAL with "path: reason". */
static int fail(struct md_err *err, const char *path, const char *fmt, ...)
{
    char why[200];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return md_err_set(err, MD_EINVAL, "%s: %s", path, why);
}

/*
 * s (len bytes, from the request) made fit to quote in a message: at most
 * QUOTE_MAX bytes then "...", a byte outside printable ASCII as '?'.
 */
static const char *quote(const char *s, size_t len, char out[QUOTE_MAX + 4])
{
    size_t n = len < QUOTE_MAX ? len : QUOTE_MAX;
    size_t i;

    for (i = 0; i < n; i++) {
        out[i] = s[i];
        if (s[i] < 0x20 || s[i] >= 0x7f)
            out[i] = '?';
    }
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* path + "." + name, or name alone at the top. */
static const char *field(char out[PATH_CAP], const char *path, const char *name)
{
    char q[QUOTE_MAX + 4];

    (void)snprintf(out, PATH_CAP, "%s%s%s", path, path[0] != '\0' ? "." : "",
                   quote(name, strlen(name), q));
    return out;
}

/* -------------------------------------------------------------------- names */

enum name_kind {
    NAME_IDENT, /* a route's name, an alias: [A-Za-z][A-Za-z0-9_.-]* */
    NAME_KEY,   /* a `keys:` field: [A-Za-z0-9_.-]+, as the contract names fields */
    NAME_TOKEN, /* a header: HTTP token characters (RFC 9110 tchar) */
    NAME_SALT   /* printable ASCII but the space */
};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool name_char(enum name_kind kind, char c)
{
    switch (kind) {
    case NAME_IDENT:
    case NAME_KEY:
        return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
    case NAME_TOKEN:
        return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
    case NAME_SALT:
        return c > 0x20 && c < 0x7f;
    }
    return false;
}

/* What a name of this kind must be, for a message. */
static const char *name_rule(enum name_kind kind)
{
    switch (kind) {
    case NAME_IDENT:
        return "must be a letter, then letters, digits, '_', '.' or '-', at most 63 characters";
    case NAME_KEY:
        return "must be 1 to 63 letters, digits, '_', '.' or '-'";
    case NAME_TOKEN:
        return "must be 1 to 63 HTTP token characters (letters, digits and !#$%&'*+-.^_`|~)";
    case NAME_SALT:
        return "must be 1 to 63 printable ASCII characters other than the space";
    }
    return "is not a name";
}

static bool name_ok(enum name_kind kind, const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len >= MD_POLICY_NAME_MAX)
        return false;
    if (kind == NAME_IDENT && !is_alpha(s[0]))
        return false;
    for (i = 0; i < len; i++)
        if (!name_char(kind, s[i]))
            return false;
    return true;
}

/* A field held in a struct: NUL-terminated within MD_POLICY_NAME_MAX. */
static bool held_name_ok(enum name_kind kind, const char s[MD_POLICY_NAME_MAX])
{
    return name_ok(kind, s, strnlen(s, MD_POLICY_NAME_MAX));
}

/* Copies the JSON string j, a name of kind, into out[MD_POLICY_NAME_MAX]. */
static int get_name(const json_t *j, enum name_kind kind, const char *path, char *out,
                    struct md_err *err)
{
    char q[QUOTE_MAX + 4];
    const char *s;
    size_t len;

    if (!json_is_string(j))
        return fail(err, path, "must be a string");
    s = json_string_value(j);
    len = json_string_length(j);
    if (!name_ok(kind, s, len))
        return fail(err, path, "%s (got '%s')", name_rule(kind), quote(s, len, q));
    memcpy(out, s, len);
    out[len] = '\0';
    return MD_OK;
}

/*
 * A version: a JSON integer or a decimal string (1 to 18 digits, no leading
 * zero), or an alias string, left in alias[] with *version 0.
 */
static int get_version(const json_t *j, const char *path, int64_t *version, char *alias,
                       struct md_err *err)
{
    char q[QUOTE_MAX + 4];
    const char *s;
    size_t len;
    int64_t n;

    if (json_is_integer(j)) {
        if (json_integer_value(j) < 1 || json_integer_value(j) > VERSION_MAX)
            return fail(err, path, "must be a version number from 1 to %lld, or an alias",
                        VERSION_MAX);
        *version = json_integer_value(j);
        return MD_OK;
    }
    if (!json_is_string(j))
        return fail(err, path, "must be a version number or an alias");
    s = json_string_value(j);
    len = json_string_length(j);
    if (len > 0 && is_digit(s[0])) {
        n = len == strlen(s) ? md_version_number(s) : -1;
        if (n < 1)
            return fail(err, path, "'%s' is not a version number (1 to 18 digits, no leading zero)",
                        quote(s, len, q));
        *version = n;
        return MD_OK;
    }
    if (!name_ok(NAME_IDENT, s, len))
        return fail(err, path,
                    "'%s' is neither a version number nor an alias (a letter, then letters, "
                    "digits, '_', '.' or '-', at most 63 characters)",
                    quote(s, len, q));
    memcpy(alias, s, len);
    alias[len] = '\0';
    *version = 0;
    return MD_OK;
}

/* "alias" beside a version number: the alias it was resolved from. */
static int get_alias(const json_t *j, const char *path, int64_t version, char *alias,
                     struct md_err *err)
{
    if (j == NULL)
        return MD_OK;
    if (version == 0)
        return fail(err, path,
                    "only beside a version number (the alias it was resolved from); "
                    "\"version\" names an alias already");
    return get_name(j, NAME_IDENT, path, alias, err);
}

/* ------------------------------------------------------------------ parsing */

/* Refuses a member of obj (at path) whose key is not in known (NULL-terminated). */
static int only_fields(json_t *obj, const char *path, const char *const *known, struct md_err *err)
{
    const char *key;
    size_t i;
    void *it;

    for (it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        char fp[PATH_CAP];

        key = json_object_iter_key(it);
        for (i = 0; known[i] != NULL; i++)
            if (strcmp(key, known[i]) == 0)
                break;
        if (known[i] == NULL)
            return fail(err, field(fp, path, key), "unknown field");
    }
    return MD_OK;
}

static int parse_route(json_t *j, size_t i, size_t n, struct md_policy_route *r, struct md_err *err)
{
    static const char *const known[] = {"name", "version", "alias", "weight", NULL};
    char path[PATH_CAP];
    char fp[PATH_CAP];
    const json_t *v;
    int rc;

    (void)snprintf(path, sizeof(path), "routes[%zu]", i);
    if (!json_is_object(j))
        return fail(err, path, "must be an object");
    rc = only_fields(j, path, known, err);
    if (rc != MD_OK)
        return rc;
    v = json_object_get(j, "name");
    if (v != NULL)
        rc = get_name(v, NAME_IDENT, field(fp, path, "name"), r->name, err);
    else if (n > 1)
        rc = fail(err, field(fp, path, "name"), "required when there are two or more routes");
    else
        memcpy(r->name, "stable", sizeof("stable"));
    if (rc != MD_OK)
        return rc;
    v = json_object_get(j, "version");
    if (v == NULL)
        return fail(err, field(fp, path, "version"), "required");
    rc = get_version(v, field(fp, path, "version"), &r->version, r->alias, err);
    if (rc == MD_OK)
        rc = get_alias(json_object_get(j, "alias"), field(fp, path, "alias"), r->version, r->alias,
                       err);
    if (rc != MD_OK)
        return rc;
    v = json_object_get(j, "weight");
    if (v == NULL && n > 1)
        return fail(err, field(fp, path, "weight"), "required when there are two or more routes");
    if (v == NULL) {
        r->weight = MD_POLICY_WEIGHT_ONE;
        return MD_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > MD_POLICY_WEIGHT_MAX)
        return fail(err, field(fp, path, "weight"), "must be an integer from 0 to %d",
                    MD_POLICY_WEIGHT_MAX);
    r->weight = (uint32_t)json_integer_value(v);
    return MD_OK;
}

static int parse_routes(json_t *j, struct md_policy *p, struct md_err *err)
{
    size_t n;
    size_t i;
    int rc;

    if (j == NULL)
        return fail(err, "routes", "required");
    n = json_is_array(j) ? json_array_size(j) : 0;
    if (n < 1 || n > MD_POLICY_ROUTES)
        return fail(err, "routes", "must be an array of 1 to %d routes", MD_POLICY_ROUTES);
    for (i = 0; i < n; i++) {
        rc = parse_route(json_array_get(j, i), i, n, &p->routes[i], err);
        if (rc != MD_OK)
            return rc;
        p->total_weight += p->routes[i].weight;
    }
    p->n_routes = n;
    return MD_OK;
}

static int parse_sticky(json_t *j, struct md_policy *p, struct md_err *err)
{
    static const char *const known[] = {"header", "key", "salt", NULL};
    const json_t *header;
    const json_t *key;
    const json_t *salt;
    int rc;

    if (j == NULL || json_is_null(j))
        return MD_OK;
    if (!json_is_object(j))
        return fail(err, "sticky", "must be an object or null");
    rc = only_fields(j, "sticky", known, err);
    if (rc != MD_OK)
        return rc;
    header = json_object_get(j, "header");
    key = json_object_get(j, "key");
    if ((header == NULL) == (key == NULL))
        return fail(err, "sticky", "give either \"header\" or \"key\"");
    if (header != NULL) {
        p->sticky = MD_STICKY_HEADER;
        rc = get_name(header, NAME_TOKEN, "sticky.header", p->sticky_name, err);
    } else {
        p->sticky = MD_STICKY_KEY;
        rc = get_name(key, NAME_KEY, "sticky.key", p->sticky_name, err);
    }
    salt = json_object_get(j, "salt");
    if (rc == MD_OK && salt != NULL)
        rc = get_name(salt, NAME_SALT, "sticky.salt", p->salt, err);
    return rc;
}

/* A JSON number in (0, 1] (open_zero) or [0, 1], into *out. */
static bool get_share(const json_t *j, bool open_zero, double *out)
{
    double f;

    if (!json_is_number(j))
        return false;
    f = json_number_value(j);
    if (!(open_zero ? f > 0.0 : f >= 0.0) || !(f <= 1.0))
        return false;
    *out = f;
    return true;
}

static int parse_shadows(json_t *j, struct md_policy *p, struct md_err *err)
{
    static const char *const known[] = {"version", "alias", "fraction", NULL};
    char path[PATH_CAP];
    char fp[PATH_CAP];
    size_t n;
    size_t i;
    int rc;

    if (j == NULL || json_is_null(j))
        return MD_OK;
    if (!json_is_array(j) || json_array_size(j) > MD_POLICY_SHADOWS)
        return fail(err, "shadows", "must be an array of at most %d shadows", MD_POLICY_SHADOWS);
    n = json_array_size(j);
    for (i = 0; i < n; i++) {
        json_t *s = json_array_get(j, i);
        struct md_policy_shadow *sh = &p->shadows[i];
        const json_t *v;

        (void)snprintf(path, sizeof(path), "shadows[%zu]", i);
        if (!json_is_object(s))
            return fail(err, path, "must be an object");
        rc = only_fields(s, path, known, err);
        if (rc != MD_OK)
            return rc;
        v = json_object_get(s, "version");
        if (v == NULL)
            return fail(err, field(fp, path, "version"), "required");
        rc = get_version(v, field(fp, path, "version"), &sh->version, sh->alias, err);
        if (rc == MD_OK)
            rc = get_alias(json_object_get(s, "alias"), field(fp, path, "alias"), sh->version,
                           sh->alias, err);
        if (rc != MD_OK)
            return rc;
        v = json_object_get(s, "fraction");
        sh->fraction = 1.0;
        if (v != NULL && !get_share(v, true, &sh->fraction))
            return fail(err, field(fp, path, "fraction"),
                        "must be a number greater than 0 and at most 1");
    }
    p->n_shadows = n;
    return MD_OK;
}

int md_policy_parse(const char *json, size_t len, struct md_policy *out, struct md_err *err)
{
    static const char *const known[] = {"routes", "sticky", "shadows", "mirror", NULL};
    json_error_t je;
    json_t *root;
    const json_t *v;
    int rc;

    memset(out, 0, sizeof(*out));
    root =
        json_loadb(json != NULL ? json : "", json != NULL ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return md_err_set(err, MD_EINVAL, "invalid JSON at line %d, column %d: %s", je.line,
                          je.column, je.text);
    if (!json_is_object(root))
        rc = md_err_set(err, MD_EINVAL, "traffic policy: must be a JSON object");
    else
        rc = only_fields(root, "", known, err);
    if (rc == MD_OK)
        rc = parse_routes(json_object_get(root, "routes"), out, err);
    if (rc == MD_OK)
        rc = parse_sticky(json_object_get(root, "sticky"), out, err);
    if (rc == MD_OK)
        rc = parse_shadows(json_object_get(root, "shadows"), out, err);
    v = json_object_get(root, "mirror");
    if (rc == MD_OK && v != NULL && !get_share(v, false, &out->mirror))
        rc = fail(err, "mirror", "must be a number from 0 to 1");
    json_decref(root);
    if (rc == MD_OK)
        rc = md_policy_check(out, err);
    if (rc != MD_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ------------------------------------------------------------------- checks */

/* Whether a and b (a version and its alias each) name the same version, as far as one can tell. */
static bool same_version(int64_t va, const char *aa, int64_t vb, const char *ab)
{
    if (va > 0 && vb > 0)
        return va == vb;
    return va == 0 && vb == 0 && strcmp(aa, ab) == 0;
}

/* "version 4" or "alias 'candidate'" for a message. */
static const char *version_text(int64_t version, const char *alias, char out[PATH_CAP + 16])
{
    if (version > 0)
        (void)snprintf(out, PATH_CAP + 16, "version %lld", (long long)version);
    else
        (void)snprintf(out, PATH_CAP + 16, "alias '%s'", alias);
    return out;
}

/* A version (or an alias awaiting resolution), and the alias beside a number. */
static int check_version(int64_t version, const char *alias, const char *path, struct md_err *err)
{
    if (version < 0 || version > VERSION_MAX)
        return fail(err, path, "must be a version number from 1 to %lld, or an alias", VERSION_MAX);
    if (version == 0 && !held_name_ok(NAME_IDENT, alias))
        return fail(err, path, "an alias %s", name_rule(NAME_IDENT));
    if (version > 0 && alias[0] != '\0' && !held_name_ok(NAME_IDENT, alias))
        return fail(err, path, "its alias %s", name_rule(NAME_IDENT));
    return MD_OK;
}

static int check_routes(const struct md_policy *p, struct md_err *err)
{
    char path[PATH_CAP];
    uint64_t total = 0;
    size_t i;
    size_t k;

    if (p->n_routes < 1 || p->n_routes > MD_POLICY_ROUTES)
        return fail(err, "routes", "must be an array of 1 to %d routes", MD_POLICY_ROUTES);
    for (i = 0; i < p->n_routes; i++) {
        const struct md_policy_route *r = &p->routes[i];

        (void)snprintf(path, sizeof(path), "routes[%zu].name", i);
        if (!held_name_ok(NAME_IDENT, r->name))
            return fail(err, path, "%s", name_rule(NAME_IDENT));
        for (k = 0; reserved_names[k] != NULL; k++)
            if (strcmp(r->name, reserved_names[k]) == 0)
                return fail(err, path,
                            "'%s' is reserved (it labels shadow and mirrored copies and calls "
                            "that name a version)",
                            r->name);
        for (k = 0; k < i; k++)
            if (strcmp(r->name, p->routes[k].name) == 0)
                return fail(err, path, "'%s' is used by routes[%zu]", r->name, k);
        (void)snprintf(path, sizeof(path), "routes[%zu].version", i);
        if (check_version(r->version, r->alias, path, err) != MD_OK)
            return MD_EINVAL;
        if (r->weight > MD_POLICY_WEIGHT_MAX) {
            (void)snprintf(path, sizeof(path), "routes[%zu].weight", i);
            return fail(err, path, "must be an integer from 0 to %d", MD_POLICY_WEIGHT_MAX);
        }
        total += r->weight;
    }
    if (total == 0)
        return fail(err, "routes", "at least one route needs a positive weight");
    return MD_OK;
}

static int check_shadows(const struct md_policy *p, struct md_err *err)
{
    char path[PATH_CAP];
    char what[PATH_CAP + 16];
    size_t i;
    size_t k;

    if (p->n_shadows > MD_POLICY_SHADOWS)
        return fail(err, "shadows", "must be an array of at most %d shadows", MD_POLICY_SHADOWS);
    for (i = 0; i < p->n_shadows; i++) {
        const struct md_policy_shadow *s = &p->shadows[i];

        (void)snprintf(path, sizeof(path), "shadows[%zu].version", i);
        if (check_version(s->version, s->alias, path, err) != MD_OK)
            return MD_EINVAL;
        for (k = 0; k < p->n_routes; k++) {
            const struct md_policy_route *r = &p->routes[k];

            if (r->weight > 0 && same_version(s->version, s->alias, r->version, r->alias))
                return fail(err, path, "%s already takes traffic on route '%s'",
                            version_text(s->version, s->alias, what), r->name);
        }
        for (k = 0; k < i; k++)
            if (same_version(s->version, s->alias, p->shadows[k].version, p->shadows[k].alias))
                return fail(err, path, "%s is already shadowed by shadows[%zu]",
                            version_text(s->version, s->alias, what), k);
        if (!(s->fraction > 0.0 && s->fraction <= 1.0)) {
            (void)snprintf(path, sizeof(path), "shadows[%zu].fraction", i);
            return fail(err, path, "must be a number greater than 0 and at most 1");
        }
    }
    return MD_OK;
}

int md_policy_check(const struct md_policy *p, struct md_err *err)
{
    int rc = check_routes(p, err);

    if (rc == MD_OK)
        rc = check_shadows(p, err);
    if (rc != MD_OK)
        return rc;
    if (p->sticky == MD_STICKY_HEADER && !held_name_ok(NAME_TOKEN, p->sticky_name))
        return fail(err, "sticky.header", "%s", name_rule(NAME_TOKEN));
    if (p->sticky == MD_STICKY_KEY && !held_name_ok(NAME_KEY, p->sticky_name))
        return fail(err, "sticky.key", "%s", name_rule(NAME_KEY));
    if (p->sticky != MD_STICKY_NONE && p->salt[0] != '\0' && !held_name_ok(NAME_SALT, p->salt))
        return fail(err, "sticky.salt", "%s", name_rule(NAME_SALT));
    if (!(p->mirror >= 0.0 && p->mirror <= 1.0))
        return fail(err, "mirror", "must be a number from 0 to 1");
    return MD_OK;
}

/* -------------------------------------------------------------- the others */

/* splitmix64: one step from seed, a well-mixed 64-bit number. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void md_policy_settle(struct md_policy *p, const struct md_policy *prev, uint64_t seed)
{
    bool same;

    if (p->sticky == MD_STICKY_NONE) {
        p->salt[0] = '\0';
        return;
    }
    if (p->salt[0] != '\0')
        return;
    same = prev != NULL && prev->sticky == p->sticky && prev->salt[0] != '\0' &&
           (p->sticky == MD_STICKY_HEADER ? strcasecmp(p->sticky_name, prev->sticky_name) == 0
                                          : strcmp(p->sticky_name, prev->sticky_name) == 0);
    if (same)
        memcpy(p->salt, prev->salt, sizeof(p->salt));
    else
        (void)snprintf(p->salt, sizeof(p->salt), "%016" PRIx64,
                       mix64(seed + 0x9e3779b97f4a7c15ULL));
}

/* A version as a JSON string, then the alias it was resolved from (or the alias alone). */
static void put_version(struct md_buf *b, int64_t version, const char *alias)
{
    md_buf_puts(b, "\"version\":");
    if (version == 0) {
        md_buf_json_str(b, alias, strlen(alias));
        return;
    }
    md_buf_printf(b, "\"%lld\"", (long long)version);
    if (alias[0] != '\0') {
        md_buf_puts(b, ",\"alias\":");
        md_buf_json_str(b, alias, strlen(alias));
    }
}

/* d in the fewest significant digits that read back as d (null if not finite). */
static void put_number(struct md_buf *b, double d)
{
    char t[40];
    int prec;

    if (!isfinite(d)) {
        md_buf_puts(b, "null");
        return;
    }
    for (prec = 1; prec < 17; prec++) {
        (void)snprintf(t, sizeof(t), "%.*g", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    if (prec == 17)
        (void)snprintf(t, sizeof(t), "%.17g", d);
    md_buf_puts(b, t);
}

int md_policy_format(const struct md_policy *p, struct md_buf *b)
{
    size_t i;

    md_buf_puts(b, "{\"routes\":[");
    for (i = 0; i < p->n_routes && i < MD_POLICY_ROUTES; i++) {
        const struct md_policy_route *r = &p->routes[i];

        md_buf_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
        md_buf_json_str(b, r->name, strlen(r->name));
        md_buf_putc(b, ',');
        put_version(b, r->version, r->alias);
        md_buf_printf(b, ",\"weight\":%" PRIu32 "}", r->weight);
    }
    md_buf_puts(b, "],\"sticky\":");
    if (p->sticky == MD_STICKY_NONE) {
        md_buf_puts(b, "null");
    } else {
        md_buf_puts(b, p->sticky == MD_STICKY_HEADER ? "{\"header\":" : "{\"key\":");
        md_buf_json_str(b, p->sticky_name, strlen(p->sticky_name));
        if (p->salt[0] != '\0') {
            md_buf_puts(b, ",\"salt\":");
            md_buf_json_str(b, p->salt, strlen(p->salt));
        }
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, ",\"shadows\":[");
    for (i = 0; i < p->n_shadows && i < MD_POLICY_SHADOWS; i++) {
        md_buf_puts(b, i > 0 ? ",{" : "{");
        put_version(b, p->shadows[i].version, p->shadows[i].alias);
        md_buf_puts(b, ",\"fraction\":");
        put_number(b, p->shadows[i].fraction);
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "],\"mirror\":");
    put_number(b, p->mirror);
    md_buf_putc(b, '}');
    return md_buf_error(b);
}

void md_policy_pin(struct md_policy *p, int64_t version)
{
    memset(p, 0, sizeof(*p));
    p->n_routes = 1;
    memcpy(p->routes[0].name, "stable", sizeof("stable"));
    p->routes[0].version = version;
    p->routes[0].weight = MD_POLICY_WEIGHT_ONE;
    p->total_weight = MD_POLICY_WEIGHT_ONE;
}

/* ---------------------------------------------------------------- the pick */

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* The 53 bits x that salt and key hash to (policy.h gives the function). */
static uint64_t point_bits(const char *salt, size_t salt_len, const char *key, size_t key_len)
{
    uint64_t h = FNV_BASIS;
    size_t i;

    for (i = 0; i < salt_len; i++)
        h = (h ^ (unsigned char)salt[i]) * FNV_PRIME;
    h *= FNV_PRIME; /* the 0x00 byte between salt and key */
    for (i = 0; i < key_len; i++)
        h = (h ^ (unsigned char)key[i]) * FNV_PRIME;
    return mix64(h) >> 11;
}

double md_policy_point(const char *salt, const char *key, size_t key_len)
{
    return (double)point_bits(salt, strlen(salt), key, key_len) / 9007199254740992.0; /* 2^53 */
}

/*
 * floor(x * total / 2^53) for x < 2^53 and total < 2^32, exactly: x * total
 * takes up to 85 bits, so x is cut in two 32-bit halves.
 */
static uint64_t scale(uint64_t x, uint64_t total)
{
    return ((x >> 32) * total + (((x & 0xffffffffULL) * total) >> 32)) >> 21;
}

/* A route's weight, at most MD_POLICY_WEIGHT_MAX (so the total stays below 2^32). */
static uint64_t weight_of(const struct md_policy_route *r)
{
    return r->weight <= MD_POLICY_WEIGHT_MAX ? r->weight : MD_POLICY_WEIGHT_MAX;
}

size_t md_policy_pick(const struct md_policy *p, const char *key, size_t key_len, uint64_t r)
{
    size_t n = p->n_routes < MD_POLICY_ROUTES ? p->n_routes : MD_POLICY_ROUTES;
    uint64_t total = 0;
    uint64_t cum = 0;
    uint64_t t;
    size_t i;

    for (i = 0; i < n; i++)
        total += weight_of(&p->routes[i]);
    if (total == 0)
        return 0;
    if (p->sticky != MD_STICKY_NONE && key != NULL && key_len > 0)
        t = scale(point_bits(p->salt, strnlen(p->salt, MD_POLICY_NAME_MAX), key, key_len), total);
    else
        t = scale(r >> 11, total);
    for (i = 0; i < n; i++) {
        cum += weight_of(&p->routes[i]);
        if (t < cum)
            return i;
    }
    return 0; /* not reached: t < total */
}

bool md_policy_names(const struct md_policy *p, int64_t version)
{
    size_t i;

    if (version < 1)
        return false;
    for (i = 0; i < p->n_routes && i < MD_POLICY_ROUTES; i++)
        if (p->routes[i].version == version)
            return true;
    for (i = 0; i < p->n_shadows && i < MD_POLICY_SHADOWS; i++)
        if (p->shadows[i].version == version)
            return true;
    return false;
}

bool md_policy_equal(const struct md_policy *a, const struct md_policy *b)
{
    size_t i;

    if (a->n_routes != b->n_routes || a->n_routes > MD_POLICY_ROUTES ||
        a->total_weight != b->total_weight || a->sticky != b->sticky ||
        strcmp(a->sticky_name, b->sticky_name) != 0 || strcmp(a->salt, b->salt) != 0 ||
        a->n_shadows != b->n_shadows || a->n_shadows > MD_POLICY_SHADOWS || a->mirror != b->mirror)
        return false;
    for (i = 0; i < a->n_routes; i++) {
        const struct md_policy_route *x = &a->routes[i];
        const struct md_policy_route *y = &b->routes[i];

        if (strcmp(x->name, y->name) != 0 || x->version != y->version ||
            strcmp(x->alias, y->alias) != 0 || x->weight != y->weight)
            return false;
    }
    for (i = 0; i < a->n_shadows; i++) {
        const struct md_policy_shadow *x = &a->shadows[i];
        const struct md_policy_shadow *y = &b->shadows[i];

        if (x->version != y->version || strcmp(x->alias, y->alias) != 0 ||
            x->fraction != y->fraction)
            return false;
    }
    return true;
}
