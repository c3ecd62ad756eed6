/* SPDX-License-Identifier: MIT */
/*
 * test_backend_registry.c: the list of engines and its check at start-up: every
 * listed engine fits this build, and an engine built for another backend ABI,
 * or without a name or a required method, is refused with its name and the
 * reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backend/registry.h"

extern const struct md_backend_ops md_backend_trees;

#define assert_msg(e, want) assert_string_equal((e).msg, (want))

static void test_listed_engines_fit(void **state)
{
    static const char *const names[] = {"trees", "xgboost", "linear"};
    struct md_err err;
    size_t i;

    (void)state;
    md_err_clear(&err);
    assert_int_equal(md_backend_check_all(&err), MD_OK);
    assert_string_equal(err.msg, "");
    for (i = 0; i < MD_ARRAY_LEN(names); i++) {
        const struct md_backend_ops *ops = md_backend_find(names[i]);

        assert_non_null(ops);
        assert_string_equal(ops->name, names[i]);
        assert_int_equal(ops->abi, MD_BACKEND_ABI);
        assert_int_equal(md_backend_check(ops, &err), MD_OK);
    }
    assert_null(md_backend_find("onnx"));
    assert_null(md_backend_find(""));
}

static void test_abi_refused(void **state)
{
    struct md_backend_ops ops = md_backend_trees;
    struct md_err err;
    char want[256];

    (void)state;
    ops.name = "fake";
    assert_int_equal(md_backend_check(&ops, &err), MD_OK);
    ops.abi = MD_BACKEND_ABI + 1;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    (void)snprintf(want, sizeof(want),
                   "engine 'fake': built for backend ABI %d, but this modeld has ABI %d (rebuild "
                   "the engine against this backend/backend.h)",
                   MD_BACKEND_ABI + 1, MD_BACKEND_ABI);
    assert_msg(err, want);
    ops.abi = MD_BACKEND_ABI - 1;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    ops.abi = 0; /* a table that never set its abi */
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_non_null(strstr(err.msg, "built for backend ABI 0"));
    assert_int_equal(md_backend_check(&ops, NULL), MD_EINTERNAL);
}

static void test_shape_refused(void **state)
{
    struct md_backend_ops ops = md_backend_trees;
    struct md_err err;

    (void)state;
    ops.name = NULL;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_msg(err, "an engine has no name");
    ops.name = "";
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_msg(err, "an engine has no name");
    ops.name = "fake";
    ops.predict = NULL;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_msg(err, "engine 'fake': no predict method");
    ops.load = NULL;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_msg(err, "engine 'fake': no load method");
    ops = md_backend_trees;
    ops.free = NULL;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_msg(err, "engine 'trees': no free method");
    ops = md_backend_trees;
    ops.describe = NULL;
    assert_int_equal(md_backend_check(&ops, &err), MD_EINTERNAL);
    assert_msg(err, "engine 'trees': no describe method");
    /* learn and train are optional. */
    ops = md_backend_trees;
    ops.learn = NULL;
    ops.train = NULL;
    assert_int_equal(md_backend_check(&ops, &err), MD_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_engines_fit),
        cmocka_unit_test(test_abi_refused),
        cmocka_unit_test(test_shape_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
