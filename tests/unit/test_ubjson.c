/* SPDX-License-Identifier: MIT */
/*
 * test_ubjson.c: the UBJSON reader (util/ubjson): every type into jdom's
 * nodes, numbers that convert back exactly, typed and counted arrays, what
 * XGBoost writes, and refusals of malformed input, truncations included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "util/ubjson.h"

#define MODELS "tests/data/models/"

static struct md_arena arena;

static int setup(void **state)
{
    (void)state;
    md_arena_init(&arena, 64 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    md_arena_release(&arena);
    return 0;
}

/* Parses n bytes of s; the test fails unless it parses. */
static struct md_jnode *parse_ok(const char *s, size_t n)
{
    struct md_jnode *root = NULL;
    struct md_err err;

    md_err_clear(&err);
    if (md_ubjson_parse(s, n, &arena, &root, &err) != MD_OK)
        fail_msg("parse: %s", err.msg);
    assert_non_null(root);
    return root;
}

/* Parses n bytes of s; the test fails unless it is refused with code and a message holding needle.
 */
static void parse_bad(const char *s, size_t n, int code, const char *needle)
{
    struct md_jnode *root = (struct md_jnode *)1;
    struct md_err err;
    int rc;

    md_err_clear(&err);
    rc = md_ubjson_parse(s, n, &arena, &root, &err);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("want %s with '%s', got %s: '%s'", md_strerror(code), needle, md_strerror(rc),
                 err.msg);
    assert_null(root);
}

#define OK(lit)       parse_ok(lit, sizeof(lit) - 1)
#define BAD(lit, why) parse_bad(lit, sizeof(lit) - 1, MD_EINVAL, why)

static void assert_text(const struct md_jnode *n, enum md_jtype t, const char *text)
{
    assert_int_equal(n->type, t);
    assert_int_equal(n->len, strlen(text));
    assert_memory_equal(n->p, text, n->len);
}

static void test_scalars(void **state)
{
    int64_t i;
    double d;
    float f;

    (void)state;
    assert_int_equal(OK("Z")->type, MD_J_NULL);
    assert_int_equal(OK("T")->type, MD_J_TRUE);
    assert_int_equal(OK("F")->type, MD_J_FALSE);
    assert_text(OK("i\xff"), MD_J_NUMBER, "-1");
    assert_text(OK("U\xff"), MD_J_NUMBER, "255");
    assert_text(OK("I\x80\x00"), MD_J_NUMBER, "-32768");
    assert_text(OK("l\x7f\xff\xff\xff"), MD_J_NUMBER, "2147483647");
    assert_text(OK("L\x80\0\0\0\0\0\0\0"), MD_J_NUMBER, "-9223372036854775808");
    assert_int_equal(md_jdom_i64(OK("L\x7f\xff\xff\xff\xff\xff\xff\xff"), &i), MD_OK);
    assert_true(i == INT64_MAX);
    /* float32 0.1 and float64 0.1 convert back to exactly themselves. */
    assert_int_equal(md_jdom_f32(OK("d\x3d\xcc\xcc\xcd"), &f), MD_OK);
    assert_true(f == 0.1f);
    assert_int_equal(md_jdom_f64(OK("d\x3d\xcc\xcc\xcd"), &d), MD_OK);
    assert_true(d == (double)0.1f);
    assert_int_equal(md_jdom_f64(OK("D\x3f\xb9\x99\x99\x99\x99\x99\x9a"), &d), MD_OK);
    assert_true(d == 0.1);
    assert_int_equal(md_jdom_f64(OK("D\x00\x00\x00\x00\x00\x00\x00\x01"), &d), MD_OK);
    assert_true(d == 4.9406564584124654e-324);
    assert_text(OK("d\x7f\xc0\x00\x00"), MD_J_NUMBER, "NaN");
    assert_text(OK("d\xff\x80\x00\x00"), MD_J_NUMBER, "-Infinity");
    assert_text(OK("D\x7f\xf0\0\0\0\0\0\0"), MD_J_NUMBER, "Infinity");
    assert_int_equal(md_jdom_f64(OK("d\x7f\xc0\x00\x00"), &d), MD_OK);
    assert_true(isnan(d));
    assert_text(OK("SU\x03h\xc3\xa9"), MD_J_STRING, "h\xc3\xa9");
    assert_text(OK("SL\0\0\0\0\0\0\0\0"), MD_J_STRING, "");
    assert_text(OK("Cx"), MD_J_STRING, "x");
}

static void test_containers(void **state)
{
    /* What XGBoost writes: objects with L-length keys, counted and typed arrays. */
    static const char doc[] = "{L\0\0\0\0\0\0\0\x01"
                              "a[#L\0\0\0\0\0\0\0\x02i\x01SL\0\0\0\0\0\0\0\x01x"
                              "L\0\0\0\0\0\0\0\x01"
                              "b[$d#L\0\0\0\0\0\0\0\x02\x3f\x80\0\0\x7f\xc0\0\0"
                              "i\x01"
                              "c[$U#i\x03\x01\x00\xff"
                              "U\x01"
                              "d[$L#U\x01\xff\xff\xff\xff\xff\xff\xff\xfe"
                              "I\0\x01"
                              "e[]"
                              "l\0\0\0\x01"
                              "f[$l#L\0\0\0\0\0\0\0\0"
                              "i\x01"
                              "g[T[Z]{}]"
                              "}";
    const struct md_jnode *root = parse_ok(doc, sizeof(doc) - 1);
    const struct md_jnode *a = md_jdom_get(root, "a");
    const struct md_jnode *b = md_jdom_get(root, "b");
    const struct md_jnode *c = md_jdom_get(root, "c");
    const struct md_jnode *d = md_jdom_get(root, "d");
    const struct md_jnode *g = md_jdom_get(root, "g");

    (void)state;
    assert_int_equal(root->type, MD_J_OBJECT);
    assert_int_equal(root->n, 7);
    assert_int_equal(a->type, MD_J_ARRAY);
    assert_int_equal(a->n, 2);
    assert_false(md_jdom_is_packed(a));
    assert_text(a->child, MD_J_NUMBER, "1");
    assert_text(a->child->next, MD_J_STRING, "x");
    /* A typed array of numbers is packed, with no text; its NaN is the file's. */
    assert_true(md_jdom_is_packed(b));
    assert_int_equal(b->n, 2);
    assert_null(b->p);
    assert_true(b->values[0] == 1.0);
    assert_true(isnan(b->values[1]));
    assert_true(md_jdom_is_packed(c));
    assert_true(c->values[0] == 1 && c->values[1] == 0 && c->values[2] == 255);
    assert_true(d->n == 1 && d->values[0] == -2);
    assert_int_equal(md_jdom_get(root, "e")->n, 0);
    /* An empty typed array is a plain empty array. */
    assert_false(md_jdom_is_packed(md_jdom_get(root, "f")));
    assert_int_equal(md_jdom_get(root, "f")->n, 0);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->child->type, MD_J_TRUE);
    assert_int_equal(g->child->next->type, MD_J_ARRAY);
    assert_int_equal(g->child->next->child->type, MD_J_NULL);
    assert_int_equal(g->child->next->next->type, MD_J_OBJECT);
}

static void test_refused(void **state)
{
    char deep[256];
    size_t i;

    (void)state;
    BAD("", "byte 0: empty");
    BAD("Zx", "byte 1: bytes after the document");
    BAD("N", "the no-op marker N is not supported");
    BAD("[N]", "byte 1: the no-op marker");
    BAD("HU\x011", "high-precision numbers (H) are not supported");
    BAD("?", "byte 0: not a UBJSON type marker");
    BAD("l\0\0", "ends inside a number");
    BAD("SU\x05"
        "abc",
        "a string longer than the bytes left");
    BAD("Si\xff", "a negative length or count");
    BAD("Sd\0\0\0\0", "a string length that is not an integer");
    BAD("SU\x02\xc3\x28", "a string that is not UTF-8");
    BAD("SU\x03\xed\xa0\x80", "not UTF-8"); /* a surrogate */
    BAD("SU\x02\xc0\x80", "not UTF-8");     /* overlong */
    BAD("C\xc3", "a character that is not ASCII");
    BAD("[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff", "a typed array longer than the bytes left");
    BAD("[#L\0\0\0\0\x7f\xff\xff\xff", "an array count beyond the bytes left");
    BAD("[$S#U\x01U\x01x", "a typed array of something other than numbers");
    BAD("[$T#U\x05", "a typed array of something other than numbers");
    BAD("[$i\x01", "a typed array without a count");
    BAD("[$i", "a typed array without a count");
    BAD("[$", "not a UBJSON type marker");
    BAD("[ZZ", "the document ends inside an array");
    BAD("{$i#U\x01U\x01"
        "a\x01",
        "an optimized object");
    BAD("{#U\x01U\x01"
        "aZ}",
        "an optimized object");
    BAD("{U\x01"
        "a",
        "the document ends before a value");
    BAD("{U\x01"
        "aZ",
        "the document ends inside an object");
    BAD("{S\x01"
        "aZ}",
        "a key length that is not an integer");
    BAD("{U\x02\xff\xfeZ}", "not UTF-8");
    /* MD_JDOM_MAX_DEPTH levels of nesting, and no more: never a deep recursion. */
    for (i = 0; i < sizeof(deep); i++)
        deep[i] = i < MD_JDOM_MAX_DEPTH ? '[' : ']';
    parse_ok(deep, 2 * MD_JDOM_MAX_DEPTH);
    for (i = 0; i < sizeof(deep); i++)
        deep[i] = '[';
    parse_bad(deep, sizeof(deep), MD_EINVAL, "nesting deeper than 100");
}

/* An arena too small for the document: MD_ETOOBIG, not a crash. */
static void test_arena_limit(void **state)
{
    char doc[5 + 64 * 4] = "[$d#U\x40";
    struct md_arena small;
    struct md_jnode *root;
    struct md_err err;

    (void)state;
    memset(doc + 5, 0x3f, 64 * 4);
    md_arena_init(&small, 256);
    assert_int_equal(md_ubjson_parse(doc, sizeof(doc), &small, &root, &err), MD_ETOOBIG);
    assert_null(root);
    md_arena_release(&small);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A model XGBoost wrote: its fields where they belong; every truncation refused. */
static void test_xgboost_file(void **state)
{
    size_t len;
    char *buf = slurp(MODELS "multiclass.ubj", &len);
    const struct md_jnode *root = parse_ok(buf, len);
    const struct md_jnode *learner = md_jdom_get(root, "learner");
    const struct md_jnode *lmp = md_jdom_get(learner, "learner_model_param");
    const struct md_jnode *trees =
        md_jdom_get(md_jdom_get(md_jdom_get(learner, "gradient_booster"), "model"), "trees");
    const struct md_jnode *t0 = trees->child;
    struct md_jnode *cut;
    struct md_err err;
    size_t n;

    (void)state;
    assert_text(md_jdom_get(lmp, "num_class"), MD_J_STRING, "3");
    assert_text(md_jdom_get(md_jdom_get(learner, "objective"), "name"), MD_J_STRING,
                "multi:softprob");
    assert_int_equal(trees->n, 12);
    assert_true(md_jdom_is_packed(md_jdom_get(t0, "left_children")));
    assert_true(md_jdom_is_packed(md_jdom_get(t0, "split_conditions")));
    assert_int_equal(md_jdom_get(t0, "left_children")->values[0], 1);
    assert_int_equal(md_jdom_get(t0, "parents")->values[0], 2147483647);
    for (n = 0; n < len; n++) {
        cut = (struct md_jnode *)1;
        assert_int_equal(md_ubjson_parse(buf, n, &arena, &cut, &err), MD_EINVAL);
        assert_null(cut);
        md_arena_reset(&arena);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xgboost_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
