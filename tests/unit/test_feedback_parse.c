/* SPDX-License-Identifier: MIT */
/*
 * test_feedback_parse.c: the body of POST /api/v1/feedback read into items
 * (api/feedback_parse.c): one item and a batch, the batch's model given to
 * its items, both forms of a key, each item's refusal named by its index
 * and field, and the refusals of the whole body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "api/feedback.h"

struct fx {
    struct md_arena a;
    struct md_feedback_batch b;
    struct md_err err;
};

static int parse(struct fx *f, const char *body)
{
    md_arena_reset(&f->a);
    return md_feedback_parse(body, strlen(body), &f->a, &f->b, &f->err);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    md_arena_init(&f->a, 1u << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    md_arena_release(&f->a);
    free(f);
    return 0;
}

static void test_one_item(void **state)
{
    struct fx *f = *state;
    const struct md_store_feedback *it;

    assert_int_equal(parse(f, "{\"model\":\"fraud\",\"request_id\":\"r-1\",\"row\":2,"
                              "\"label\":\"fraud\",\"source\":\"expert\",\"comment\":\"cb\"}"),
                     MD_OK);
    assert_int_equal(f->b.n, 1);
    assert_false(f->b.many);
    assert_int_equal(f->b.items[0].err.code, MD_OK);
    it = &f->b.items[0].f;
    assert_string_equal(it->model, "fraud");
    assert_string_equal(it->request_id, "r-1");
    assert_int_equal(it->row, 2);
    assert_int_equal(it->kind, MD_FEEDBACK_LABEL);
    assert_string_equal(it->label, "fraud");
    assert_string_equal(it->source, "expert");
    assert_string_equal(it->comment, "cb");
    /* Defaults: no row, source user. */
    assert_int_equal(parse(f, "{\"model\":\"m\",\"request_id\":\"r\",\"rating\":4.5}"), MD_OK);
    it = &f->b.items[0].f;
    assert_int_equal(it->row, -1);
    assert_string_equal(it->source, "user");
    assert_int_equal(it->kind, MD_FEEDBACK_RATING);
    assert_true(it->value == 4.5);
    assert_null(it->comment);
}

static void test_batch_and_keys(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"model\":\"m\",\"items\":["
                              "{\"key\":{\"name\":\"txn\",\"value\":\"T-1\"},\"reward\":1},"
                              "{\"key\":{\"txn\":42},\"value\":-3.25,\"model\":\"other\"},"
                              "{\"request_id\":\"r\",\"label\":\"a\",\"value\":1},"
                              "{\"request_id\":\"r\",\"label\":\"a\",\"bad\":1}]}"),
                     MD_OK);
    assert_true(f->b.many);
    assert_int_equal(f->b.n, 4);
    assert_string_equal(f->b.items[0].f.model, "m");
    assert_string_equal(f->b.items[0].f.key_name, "txn");
    assert_string_equal(f->b.items[0].f.key_value, "T-1");
    assert_int_equal(f->b.items[0].f.kind, MD_FEEDBACK_REWARD);
    assert_string_equal(f->b.items[1].f.model, "other");
    assert_string_equal(f->b.items[1].f.key_value, "42");
    assert_true(f->b.items[1].f.value == -3.25);
    assert_string_equal(f->b.items[2].err.msg,
                        "items[2].label: one outcome per item: label, value, reward or rating");
    assert_string_equal(f->b.items[3].err.msg,
                        "items[3].bad: unknown field (model, request_id, row, key, label, value, "
                        "reward, rating, source, comment)");
}

static void test_item_refusals(void **state)
{
    static const struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"{\"request_id\":\"r\",\"label\":\"a\"}", "model: required"},
        {"{\"model\":\"m\",\"label\":\"a\"}",
         "request_id: required (or a key: {\"name\": ..., \"value\": ...})"},
        {"{\"model\":\"m\",\"request_id\":\"r\"}",
         "label: required: one of label, value, reward or rating"},
        {"{\"model\":\"m\",\"request_id\":\"r\",\"value\":\"1\"}",
         "value: must be a finite number"},
        {"{\"model\":\"m\",\"request_id\":\"r\",\"label\":\"a\",\"row\":-2}",
         "row: must be a whole number from 0"},
        {"{\"model\":\"m\",\"request_id\":\"r\",\"label\":\"a\",\"source\":\"me\"}",
         "source: 'me' is not user, system or expert"},
        {"{\"model\":\"m\",\"key\":{\"k\":\"v\"},\"row\":0,\"label\":\"a\"}",
         "row: goes with request_id (a key names its row)"},
        {"{\"model\":\"m\",\"key\":{\"k\":1.5},\"label\":\"a\"}",
         "key.value: must be a string or an integer"},
        {"{\"model\":\"\",\"request_id\":\"r\",\"label\":\"a\"}", "model: must not be empty"},
        {"{\"model\":\"m\",\"request_id\":\"r\\u0000x\",\"label\":\"a\"}",
         "request_id: must not hold a NUL character"},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(f, cases[i].body), MD_OK);
        assert_int_equal(f->b.items[0].err.code, MD_EINVAL);
        assert_string_equal(f->b.items[0].err.msg, cases[i].msg);
    }
}

static void test_body_refusals(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{"), MD_EINVAL);
    assert_int_equal(parse(f, "[1]"), MD_EINVAL);
    assert_string_equal(f->err.msg, "the body must be a JSON object");
    assert_int_equal(parse(f, "{\"items\":{}}"), MD_EINVAL);
    assert_string_equal(f->err.msg, "items: must be an array");
    assert_int_equal(parse(f, "{\"items\":[]}"), MD_EINVAL);
    assert_int_equal(parse(f, "{\"items\":[{}],\"x\":1}"), MD_EINVAL);
    assert_string_equal(f->err.msg, "x: unknown field beside items (items, model)");
    assert_int_equal(parse(f, "{\"items\":[{}],\"model\":3}"), MD_EINVAL);
    assert_string_equal(f->err.msg, "model: must be a string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_refusals, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
