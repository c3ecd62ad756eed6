/* SPDX-License-Identifier: MIT */
/*
 * test_contract.c: model.yaml parsing (every key, every default, every
 * rejection), engine checks, and request preparation in both input forms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "serve/contract.h"
#include "serve/contract_int.h"
#include "util/buf.h"

#define assert_msg(e, sub)                                                                         \
    do {                                                                                           \
        if (strstr((e).msg, (sub)) == NULL)                                                        \
            fail_msg("message \"%s\" lacks \"%s\"", (e).msg, (sub));                               \
    } while (0)

static struct md_contract *parse_ok(const char *yaml, const char *dir)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};
    int rc = md_contract_parse(yaml, strlen(yaml), dir, &c, &err);

    if (rc != MD_OK)
        fail_msg("parse failed: %s", err.msg);
    assert_non_null(c);
    return c;
}

static void expect_invalid(const char *yaml, const char *sub)
{
    struct md_contract *c = (struct md_contract *)1;
    struct md_err err = {0};
    int rc = md_contract_parse(yaml, strlen(yaml), "m", &c, &err);

    if (rc != MD_EINVAL)
        fail_msg("expected MD_EINVAL for:\n%s\ngot %d (%s)", yaml, rc, err.msg);
    assert_null(c);
    assert_int_equal(err.code, MD_EINVAL);
    assert_msg(err, sub);
}

static const char full_yaml[] = "name: fraud\n"
                                "description: Card fraud\n"
                                "backend: xgboost\n"
                                "artifact: model.ubj\n"
                                "task: classification\n"
                                "labels: [legit, fraud]\n"
                                "threshold: 0.7\n"
                                "input_tensor: rows\n"
                                "features:\n"
                                "  - name: amount\n"
                                "    datatype: FP32\n"
                                "    required: true\n"
                                "    min: 0\n"
                                "    max: 1e6\n"
                                "    allow_nan: false\n"
                                "  - name: country\n"
                                "    datatype: BYTES\n"
                                "    categories: [US, GB, FR]\n"
                                "    encoding: onehot\n"
                                "    required: false\n"
                                "    missing: default\n"
                                "    default: GB\n"
                                "  - name: age\n"
                                "    datatype: INT32\n"
                                "    required: false\n"
                                "    missing: nan\n"
                                "    min: 18\n"
                                "    max: 120\n"
                                "  - name: channel\n"
                                "    datatype: INT64\n"
                                "    categories: [1, 2, 3]\n"
                                "    encoding: ordinal\n"
                                "    required: false\n"
                                "    missing: default\n"
                                "    default: 2\n"
                                "  - name: score\n"
                                "    datatype: FP64\n"
                                "    allow_nan: true\n"
                                "    required: false\n"
                                "    missing: default\n"
                                "    default: -0.5\n"
                                "  - name: vip\n"
                                "    datatype: BOOL\n"
                                "    required: false\n"
                                "    missing: default\n"
                                "    default: true\n"
                                "outputs:\n"
                                "  - name: p\n"
                                "    kind: probability\n"
                                "    datatype: FP64\n"
                                "  - name: label\n"
                                "version_policy:\n"
                                "  specific: [3, 1]\n"
                                "engine:\n"
                                "  nthread: 2\n"
                                "  predictor: cpu\n"
                                "  booster: \"gbtree\"\n"
                                "  flag: true\n"
                                "  ratio: 1e-3\n";

/* ------------------------------------------------------------------ parsing */

static void test_full_contract(void **state)
{
    struct md_contract *c = parse_ok(full_yaml, "fraud");
    const struct md_feature *f;
    static const char *const cols[] = {"amount", "country=US", "country=GB", "country=FR",
                                       "age",    "channel",    "score",      "vip"};
    size_t i;

    (void)state;
    assert_string_equal(c->name, "fraud");
    assert_string_equal(c->description, "Card fraud");
    assert_string_equal(c->backend, "xgboost");
    assert_string_equal(c->artifact, "model.ubj");
    assert_int_equal(c->task, MD_TASK_CLASSIFICATION);
    assert_int_equal(c->n_labels, 2);
    assert_string_equal(c->labels[0], "legit");
    assert_string_equal(c->labels[1], "fraud");
    assert_true(c->threshold == 0.7);
    assert_string_equal(c->input_tensor, "rows");
    assert_int_equal(c->n_features, 6);

    f = &c->features[0];
    assert_string_equal(f->name, "amount");
    assert_int_equal(f->dtype, MD_DT_FP32);
    assert_true(f->required);
    assert_int_equal(f->missing, MD_MISSING_REJECT);
    assert_true(f->has_min && f->has_max);
    assert_true(f->min == 0 && f->max == 1e6);
    assert_false(f->allow_nan);
    assert_null(f->categories);
    assert_int_equal(f->encoding, MD_ENC_NONE);
    assert_int_equal(f->column, 0);
    assert_int_equal(f->width, 1);

    f = &c->features[1];
    assert_string_equal(f->name, "country");
    assert_int_equal(f->dtype, MD_DT_BYTES);
    assert_false(f->required);
    assert_int_equal(f->missing, MD_MISSING_DEFAULT);
    assert_int_equal(f->n_categories, 3);
    assert_string_equal(f->categories[0], "US");
    assert_string_equal(f->categories[2], "FR");
    assert_int_equal(f->encoding, MD_ENC_ONEHOT);
    assert_int_equal(f->default_category, 1);
    assert_false(f->has_min || f->has_max);
    assert_int_equal(f->column, 1);
    assert_int_equal(f->width, 3);

    f = &c->features[2];
    assert_string_equal(f->name, "age");
    assert_int_equal(f->dtype, MD_DT_INT32);
    assert_false(f->required);
    assert_int_equal(f->missing, MD_MISSING_NAN);
    assert_true(f->min == 18 && f->max == 120);
    assert_int_equal(f->column, 4);
    assert_int_equal(f->width, 1);

    f = &c->features[3];
    assert_string_equal(f->name, "channel");
    assert_int_equal(f->dtype, MD_DT_INT64);
    assert_int_equal(f->n_categories, 3);
    assert_string_equal(f->categories[1], "2");
    assert_int_equal(f->encoding, MD_ENC_ORDINAL);
    assert_int_equal(f->missing, MD_MISSING_DEFAULT);
    assert_int_equal(f->default_category, 1);
    assert_int_equal(f->column, 5);
    assert_int_equal(f->width, 1);

    f = &c->features[4];
    assert_string_equal(f->name, "score");
    assert_int_equal(f->dtype, MD_DT_FP64);
    assert_true(f->allow_nan);
    assert_true(f->default_number == -0.5);
    assert_int_equal(f->column, 6);

    f = &c->features[5];
    assert_string_equal(f->name, "vip");
    assert_int_equal(f->dtype, MD_DT_BOOL);
    assert_true(f->default_number == 1.0);
    assert_int_equal(f->column, 7);

    assert_int_equal(c->width, 8);
    for (i = 0; i < c->width; i++)
        assert_string_equal(c->column_names[i], cols[i]);

    assert_int_equal(c->n_outputs, 2);
    assert_string_equal(c->outputs[0].name, "p");
    assert_int_equal(c->outputs[0].kind, MD_OUT_PROBABILITY);
    assert_int_equal(c->outputs[0].dtype, MD_DT_FP64);
    assert_string_equal(c->outputs[1].name, "label");
    assert_int_equal(c->outputs[1].kind, MD_OUT_LABEL);
    assert_int_equal(c->outputs[1].dtype, MD_DT_BYTES);

    assert_int_equal(c->policy.kind, MD_POLICY_SPECIFIC);
    assert_int_equal(c->policy.n_versions, 2);
    assert_int_equal(c->policy.versions[0], 1);
    assert_int_equal(c->policy.versions[1], 3);

    assert_int_equal(c->n_engine, 5);
    assert_string_equal(c->engine[0].key, "nthread");
    assert_string_equal(c->engine[0].value, "2");
    assert_string_equal(c->engine[1].value, "cpu");
    assert_string_equal(c->engine[2].value, "gbtree");
    assert_string_equal(c->engine[3].value, "true");
    assert_string_equal(c->engine[4].key, "ratio");
    assert_string_equal(c->engine[4].value, "1e-3");
    md_contract_free(c);
}

static void test_defaults(void **state)
{
    struct md_contract *c = parse_ok("backend: trees\n"
                                     "task: classification\n"
                                     "labels: [0, 1, 2]\n"
                                     "features:\n"
                                     "  - {name: x, datatype: FP32}\n"
                                     "  - {name: y, datatype: INT32, required: false}\n"
                                     "  - {name: z, datatype: BYTES, categories: [a, b]}\n",
                                     "m");
    const struct md_feature *f;

    (void)state;
    assert_string_equal(c->name, "m");
    assert_null(c->description);
    assert_string_equal(c->backend, "trees");
    assert_string_equal(c->artifact, "model.json");
    assert_string_equal(c->input_tensor, "features");
    assert_true(c->threshold == 0.5);
    assert_int_equal(c->n_labels, 3);
    assert_string_equal(c->labels[2], "2");
    f = &c->features[0];
    assert_true(f->required);
    assert_int_equal(f->missing, MD_MISSING_REJECT);
    assert_false(f->has_min || f->has_max || f->allow_nan);
    assert_int_equal(f->encoding, MD_ENC_NONE);
    f = &c->features[1];
    assert_false(f->required);
    assert_int_equal(f->missing, MD_MISSING_NAN);
    f = &c->features[2];
    assert_int_equal(f->encoding, MD_ENC_ONEHOT);
    assert_int_equal(f->width, 2);
    assert_int_equal(c->width, 4);
    assert_string_equal(c->column_names[2], "z=a");
    assert_string_equal(c->column_names[3], "z=b");
    assert_int_equal(c->n_outputs, 2);
    assert_string_equal(c->outputs[0].name, "probability");
    assert_int_equal(c->outputs[0].kind, MD_OUT_PROBABILITY);
    assert_int_equal(c->outputs[0].dtype, MD_DT_FP32);
    assert_string_equal(c->outputs[1].name, "label");
    assert_int_equal(c->outputs[1].kind, MD_OUT_LABEL);
    assert_int_equal(c->outputs[1].dtype, MD_DT_BYTES);
    assert_int_equal(c->policy.kind, MD_POLICY_LATEST);
    assert_int_equal(c->policy.latest, 1);
    assert_null(c->policy.versions);
    assert_int_equal(c->n_engine, 0);
    md_contract_free(c);
}

static void test_batching(void **state)
{
    struct md_contract *c;

    (void)state;
    /* Absent: no batching, one instance, no deadline. */
    c = parse_ok("backend: trees\ntask: regression\nfeatures: [{name: x, datatype: FP32}]\n", "m");
    assert_false(c->batching.enabled);
    assert_int_equal(c->instances, 1);
    assert_int_equal(c->timeout_us, 0);
    md_contract_free(c);

    /* An empty mapping turns batching on with the defaults. */
    c = parse_ok("backend: trees\ntask: regression\nfeatures: [{name: x, datatype: FP32}]\n"
                 "dynamic_batching: {}\n",
                 "m");
    assert_true(c->batching.enabled);
    assert_int_equal(c->batching.max_batch_size, 64);
    assert_int_equal(c->batching.max_queue_delay_us, 500);
    assert_int_equal(c->batching.max_queue_size, 1024);
    assert_int_equal(c->batching.n_preferred, 0);
    assert_null(c->batching.preferred);
    assert_int_equal(c->instances, 1);
    md_contract_free(c);

    /* Every key. */
    c = parse_ok("backend: trees\ntask: regression\nfeatures: [{name: x, datatype: FP32}]\n"
                 "dynamic_batching:\n"
                 "  max_batch_size: 128\n"
                 "  max_queue_delay_us: 0\n"
                 "  preferred_batch_sizes: [16, 32, 128]\n"
                 "  max_queue_size: 7\n"
                 "instances: 3\n"
                 "timeout_us: 250000\n",
                 "m");
    assert_true(c->batching.enabled);
    assert_int_equal(c->batching.max_batch_size, 128);
    assert_int_equal(c->batching.max_queue_delay_us, 0);
    assert_int_equal(c->batching.n_preferred, 3);
    assert_int_equal(c->batching.preferred[0], 16);
    assert_int_equal(c->batching.preferred[1], 32);
    assert_int_equal(c->batching.preferred[2], 128);
    assert_int_equal(c->batching.max_queue_size, 7);
    assert_int_equal(c->instances, 3);
    assert_int_equal(c->timeout_us, 250000);
    md_contract_free(c);

    /* A deadline without batching, and the limits themselves. */
    c = parse_ok("backend: trees\ntask: regression\nfeatures: [{name: x, datatype: FP32}]\n"
                 "timeout_us: 3600000000\n"
                 "dynamic_batching: {max_batch_size: 65536, max_queue_delay_us: 10000000,\n"
                 "                   max_queue_size: 1000000, preferred_batch_sizes: [1]}\n"
                 "instances: 64\n",
                 "m");
    assert_int_equal(c->timeout_us, 3600000000u);
    assert_int_equal(c->batching.max_batch_size, 65536);
    assert_int_equal(c->batching.max_queue_delay_us, 10000000);
    assert_int_equal(c->batching.max_queue_size, 1000000);
    assert_int_equal(c->instances, 64);
    md_contract_free(c);
}

static void test_regression_and_policies(void **state)
{
    struct md_contract *c = parse_ok("name: house\n"
                                     "backend: linear\n"
                                     "task: regression\n"
                                     "features: [{name: rooms, datatype: FP64}]\n"
                                     "version_policy: {latest: 3}\n",
                                     NULL);

    (void)state;
    assert_string_equal(c->name, "house");
    assert_int_equal(c->task, MD_TASK_REGRESSION);
    assert_int_equal(c->n_labels, 0);
    assert_null(c->labels);
    assert_int_equal(c->n_outputs, 1);
    assert_string_equal(c->outputs[0].name, "prediction");
    assert_int_equal(c->outputs[0].kind, MD_OUT_PREDICTION);
    assert_int_equal(c->outputs[0].dtype, MD_DT_FP32);
    assert_int_equal(c->policy.kind, MD_POLICY_LATEST);
    assert_int_equal(c->policy.latest, 3);
    md_contract_free(c);

    c = parse_ok("backend: linear\ntask: regression\nfeatures: [{name: r, datatype: FP64}]\n"
                 "version_policy: {all: true}\n"
                 "outputs: [{name: value, kind: prediction, datatype: FP64}]\n",
                 "h");
    assert_int_equal(c->policy.kind, MD_POLICY_ALL);
    assert_string_equal(c->outputs[0].name, "value");
    assert_int_equal(c->outputs[0].dtype, MD_DT_FP64);
    md_contract_free(c);

    /* Anchors and aliases, comments, a document marker, flow and block styles. */
    c = parse_ok("---\n# a comment\nbackend: trees\ntask: regression\n"
                 "features:\n  - &f {name: a, datatype: FP32, min: -3, max: +5.5}\n"
                 "  - {name: b, datatype: INT64, categories: [-1, 0, +7]}\n...\n",
                 "h");
    assert_true(c->features[0].min == -3 && c->features[0].max == 5.5);
    assert_string_equal(c->features[1].categories[2], "7");
    assert_string_equal(c->column_names[3], "b=7");
    md_contract_free(c);
    md_contract_free(NULL);
}

struct bad_case {
    const char *yaml;
    const char *msg;
};

#define HEAD  "backend: trees\ntask: classification\nlabels: [a, b]\n"
#define HEADR "backend: trees\ntask: regression\n"
#define ONE   "features: [{name: x, datatype: FP32}]\n"

static const struct bad_case bad_cases[] = {
    {HEAD "features:\n  - {name: a, datatype: FP32}\n  - {name: b, datatype: FP32}\n"
          "  - {name: c, datatype: FLOAT}\n",
     "features[2].datatype: 'FLOAT' is not one of FP32, FP64, INT32, INT64, BOOL, BYTES"},
    {HEAD ONE "version_policy: {latest: 1, all: true}\n",
     "version_policy: exactly one of latest, all, specific"},
    {HEAD ONE "version_policy: {}\n", "version_policy: exactly one of latest, all, specific"},
    {"backend: trees\ntask: classification\n" ONE, "labels: required for classification"},
    {HEAD "features: [{name: 'x y', datatype: FP32}]\n",
     "features[0].name: 'x y' has characters outside [A-Za-z0-9_.-]"},
    {HEADR ONE "outputs: [{name: prediction}, {name: label}]\n",
     "outputs[1].kind: 'label' is not valid for regression"},
    {HEAD "features:\n  - {name: a, datatype: FP32}\n  - {name: b, datatype: FP32, colour: red}\n",
     "features[1].colour: unknown key"},
    {HEAD ONE "colour: red\n", "colour: unknown key"},
    {HEAD "features: 5\n", "features: expected a sequence, got a number"},
    {HEAD ONE "threshold: abc\n", "threshold: expected a number, got string 'abc'"},
    {HEAD ONE "threshold: '0.5'\n", "threshold: expected a number, got string '0.5'"},
    {"backend: trees\ntask: [classification\nlabels: [a, b]\n", "syntax error at line "},
    {"backend: trees\ntask: classification\n  labels: x\n", "syntax error at line 3"},
    {HEAD "features: [{name: a, datatype: FP32}, {name: a, datatype: INT32}]\n",
     "features[1].name: duplicate name 'a' (also features[0])"},
    {HEAD "features: [{name: a, datatype: FP32, min: 5, max: 1}]\n",
     "features[0].max: 1 is below min 5"},
    {HEAD "features: [{name: a, datatype: BYTES, categories: [US], required: false, "
          "missing: default, default: XX}]\n",
     "features[0].default: 'XX' is not one of the categories"},
    {HEAD "features: [{name: a, datatype: FP32, default: 1}]\n",
     "features[0].default: not allowed on a required feature"},
    {HEAD "features: [{name: a, datatype: FP32, required: false, default: 1}]\n",
     "features[0].default: only with missing: default"},
    {HEAD "features: [{name: a, datatype: FP32, missing: nan}]\n",
     "features[0].missing: only for optional features (required: false)"},
    {HEAD "features: [{name: a, datatype: FP32, required: false, missing: zero}]\n",
     "features[0].missing: 'zero' is not one of nan, default"},
    {HEAD "features: [{name: a, datatype: FP32, required: false, missing: default}]\n",
     "features[0].default: required with missing: default"},
    {HEAD "features: [{name: a, datatype: BYTES}]\n",
     "features[0].categories: required for BYTES features"},
    {HEAD "features: [{name: a, datatype: FP32, categories: [1]}]\n",
     "features[0].categories: only for BYTES, INT32 and INT64 features"},
    {HEAD "features: [{name: a, datatype: BYTES, categories: [a, b, a]}]\n",
     "features[0].categories[2]: duplicate category 'a'"},
    {HEAD "features: [{name: a, datatype: INT32, categories: [1, 2, 1]}]\n",
     "features[0].categories[2]: duplicate category '1'"},
    {HEAD "features: [{name: a, datatype: BYTES, categories: []}]\n",
     "features[0].categories: too few categories: 0, at least 1 needed"},
    {HEAD "features: [{name: a, datatype: INT32, categories: [1, x]}]\n",
     "features[0].categories[1]: expected an integer, got string 'x'"},
    {HEAD "features: [{name: a, datatype: INT32, categories: [3000000000]}]\n",
     "features[0].categories[0]: 3000000000 is outside the INT32 range"},
    {HEAD "features: [{name: a, datatype: FP32, encoding: onehot}]\n",
     "features[0].encoding: only for features with categories"},
    {HEAD "features: [{name: a, datatype: BYTES, categories: [x], encoding: binary}]\n",
     "features[0].encoding: 'binary' is not one of onehot, ordinal"},
    {HEAD "features: [{name: a, datatype: INT32, allow_nan: true}]\n",
     "features[0].allow_nan: only for FP32 and FP64 features"},
    {HEAD "features: [{name: a, datatype: BOOL, min: 0}]\n",
     "features[0].min: only for numeric features (FP32, FP64, INT32, INT64)"},
    {HEAD "features: [{name: a, datatype: INT32, categories: [1], max: 3}]\n",
     "features[0].max: not allowed with categories"},
    {HEAD "features: [{name: a, datatype: FP32, max: .inf}]\n",
     "features[0].max: '.inf' is not a finite number"},
    {HEAD "features: [{name: a, datatype: FP32, max: '3'}]\n",
     "features[0].max: expected a number, got string '3'"},
    {HEADR "labels: [a, b]\n" ONE, "labels: not allowed for regression"},
    {"backend: trees\ntask: classification\nlabels: [a]\n" ONE,
     "labels: too few labels: 1, at least 2 needed"},
    {"backend: trees\ntask: classification\nlabels: [a, a]\n" ONE,
     "labels[1]: duplicate label 'a' (also labels[0])"},
    {"backend: trees\ntask: classification\nlabels: [a, [b]]\n" ONE,
     "labels[1]: expected a string, got a sequence"},
    {"backend: trees\ntask: classification\nlabels: [a, b, c]\nthreshold: 0.3\n" ONE,
     "threshold: only for binary classification (2 labels)"},
    {HEADR "threshold: 0.3\n" ONE, "threshold: only for binary classification"},
    {HEAD ONE "threshold: 1\n", "threshold: 1 is not between 0 and 1 (exclusive)"},
    {HEAD ONE "threshold: 0\n", "threshold: 0 is not between 0 and 1 (exclusive)"},
    {"backend: onnx\ntask: regression\n" ONE,
     "backend: 'onnx' is not one of trees, xgboost, linear"},
    {"backend: trees\n" ONE, "task: required"},
    {"task: regression\n" ONE, "backend: required"},
    {"backend: trees\ntask: guess\n" ONE, "task: 'guess' is not one of classification, regression"},
    {HEADR, "features: required"},
    {HEADR "features: []\n", "features: too few features: 0, at least 1 needed"},
    {HEADR "features: [{datatype: FP32}]\n", "features[0].name: required"},
    {HEADR "features: [{name: a}]\n", "features[0].datatype: required"},
    {HEADR "features: [x]\n", "features[0]: expected a mapping, got string 'x'"},
    {HEADR "features: [{name: a, datatype: FP32, required: yes}]\n",
     "features[0].required: expected true or false, got string 'yes'"},
    {HEADR "features: [{name: features, datatype: FP32}]\n",
     "features[0].name: 'features' is the input_tensor name"},
    {HEADR "input_tensor: x\n" ONE, "features[0].name: 'x' is the input_tensor name"},
    {HEADR "input_tensor: 'a b'\n" ONE, "input_tensor: 'a b' has characters outside"},
    {HEADR "artifact: ../model.json\n" ONE, "artifact: '../model.json' is not a plain file name"},
    {HEADR "artifact: ..\n" ONE, "artifact: '..' is not a plain file name"},
    {HEADR ONE "version_policy: {latest: 0}\n",
     "version_policy.latest: 0 is not between 1 and 1000000"},
    {HEADR ONE "version_policy: {latest: 1.5}\n",
     "version_policy.latest: expected an integer, got a number"},
    {HEADR ONE "version_policy: {specific: [2, 1, 2]}\n",
     "version_policy.specific: duplicate version 2"},
    {HEADR ONE "version_policy: {specific: [0]}\n",
     "version_policy.specific[0]: 0 is not a positive integer"},
    {HEADR ONE "version_policy: {specific: []}\n", "version_policy.specific: too few versions"},
    {HEADR ONE "version_policy: {all: false}\n", "version_policy.all: must be true"},
    {HEADR ONE "version_policy: {newest: 1}\n", "version_policy.newest: unknown key"},
    {HEADR ONE "version_policy: latest\n", "version_policy: expected a mapping, got string"},
    {HEADR ONE "engine: {a: [1]}\n", "engine.a: expected a scalar value, got a sequence"},
    {HEADR ONE "engine: {a: }\n", "engine.a: expected a scalar value, got null"},
    {HEADR ONE "engine: {'a b': 1}\n", "engine.a b: 'a b' has characters outside"},
    {HEADR ONE "engine: 3\n", "engine: expected a mapping, got a number"},
    {"- a\n- b\n", "model.yaml: expected a mapping, got a sequence"},
    {"", "model.yaml: empty document"},
    {"# only a comment\n", "model.yaml: empty document"},
    {HEADR ONE "---\nbackend: trees\n", "model.yaml: more than one YAML document"},
    {HEADR ONE "task: regression\n", "task: duplicate key"},
    {HEADR "name: other\n" ONE, "name: 'other' does not match the directory name 'm'"},
    {HEADR "description: [x]\n" ONE, "description: expected a string, got a sequence"},
    {HEADR "features: [{name: a, datatype: INT32, required: false, missing: default, "
           "default: 3.5}]\n",
     "features[0].default: 3.5 is not an integer"},
    {HEADR "features: [{name: a, datatype: INT32, required: false, missing: default, "
           "default: 1e10}]\n",
     "features[0].default: 1e+10 is outside the INT32 range"},
    {HEADR "features: [{name: a, datatype: FP32, min: 0, required: false, missing: default, "
           "default: -1}]\n",
     "features[0].default: -1 is below min 0"},
    {HEADR "features: [{name: a, datatype: FP32, max: 0, required: false, missing: default, "
           "default: 2}]\n",
     "features[0].default: 2 is above max 0"},
    {HEADR "features: [{name: a, datatype: BOOL, required: false, missing: default, "
           "default: 1}]\n",
     "features[0].default: expected true or false, got a number"},
    {HEADR "features: [{name: a, datatype: INT64, categories: [5], required: false, "
           "missing: default, default: 6}]\n",
     "features[0].default: 6 is not one of the categories"},
    {HEAD ONE "outputs: [{name: probability}, {name: label, datatype: FP32}]\n",
     "outputs[1].datatype: 'FP32' is not valid for a label; use BYTES"},
    {HEAD ONE "outputs: [{name: probability, datatype: BYTES}]\n",
     "outputs[0].datatype: 'BYTES' is not one of FP32, FP64"},
    {HEAD ONE "outputs: [{name: score}]\n",
     "outputs[0].kind: 'score' is not one of probability, label, prediction"},
    {HEAD ONE "outputs: [{name: prediction}]\n",
     "outputs[0].kind: 'prediction' is not valid for classification"},
    {HEAD ONE "outputs: [{name: p, kind: label}, {name: p, kind: probability}]\n",
     "outputs[1].name: duplicate name 'p' (also outputs[0])"},
    {HEAD ONE "outputs: []\n", "outputs: too few outputs: 0, at least 1 needed"},
    {HEAD ONE "outputs: [{kind: label}]\n", "outputs[0].name: required"},
    {HEADR "features: [{name: \"a\\0b\", datatype: FP32}]\n",
     "features[0].name: contains a NUL character"},
    {HEADR ONE "? [a]\n: 1\n", "model.yaml: a key is a sequence, not a string"},
    {HEADR ONE "x: \xff\n", "model.yaml: invalid text at byte"},
    {HEADR "features: [*nope]\n", "syntax error at line 3"},
    {HEADR "features: [{name: a, datatype: FP32, required: }]\n",
     "features[0].required: expected true or false, got null"},
    /* batching, instances, timeout */
    {HEADR ONE "dynamic_batching:\n", "dynamic_batching: expected a mapping, got null"},
    {HEADR ONE "dynamic_batching: {max_batch: 8}\n", "dynamic_batching.max_batch: unknown key"},
    {HEADR ONE "dynamic_batching: {max_batch_size: 0}\n",
     "dynamic_batching.max_batch_size: 0 is not between 1 and 65536"},
    {HEADR ONE "dynamic_batching: {max_batch_size: 65537}\n",
     "dynamic_batching.max_batch_size: 65537 is not between 1 and 65536"},
    {HEADR ONE "dynamic_batching: {max_batch_size: 1.5}\n",
     "dynamic_batching.max_batch_size: expected an integer, got a number"},
    {HEADR ONE "dynamic_batching: {max_batch_size: '8'}\n",
     "dynamic_batching.max_batch_size: expected an integer, got string '8'"},
    {HEADR ONE "dynamic_batching: {max_queue_delay_us: -1}\n",
     "dynamic_batching.max_queue_delay_us: -1 is not between 0 and 10000000"},
    {HEADR ONE "dynamic_batching: {max_queue_delay_us: 10000001}\n",
     "dynamic_batching.max_queue_delay_us: 10000001 is not between 0 and 10000000"},
    {HEADR ONE "dynamic_batching: {max_queue_size: 0}\n",
     "dynamic_batching.max_queue_size: 0 is not between 1 and 1000000"},
    {HEADR ONE "dynamic_batching: {max_queue_size: 99999999999999999999}\n",
     "dynamic_batching.max_queue_size: 99999999999999999999 is out of range"},
    {HEADR ONE "dynamic_batching: {max_batch_size: 8, preferred_batch_sizes: [4, 16]}\n",
     "dynamic_batching.preferred_batch_sizes[1]: 16 is above max_batch_size 8"},
    {HEADR ONE "dynamic_batching: {preferred_batch_sizes: [8, 4]}\n",
     "dynamic_batching.preferred_batch_sizes[1]: 4 is not above the size before it"},
    {HEADR ONE "dynamic_batching: {preferred_batch_sizes: [8, 8]}\n",
     "dynamic_batching.preferred_batch_sizes[1]: 8 is not above the size before it"},
    {HEADR ONE "dynamic_batching: {preferred_batch_sizes: [0]}\n",
     "dynamic_batching.preferred_batch_sizes[0]: 0 is not a positive integer"},
    {HEADR ONE "dynamic_batching: {preferred_batch_sizes: []}\n",
     "dynamic_batching.preferred_batch_sizes: too few sizes: 0, at least 1 needed"},
    {HEADR ONE "dynamic_batching: {preferred_batch_sizes: 8}\n",
     "dynamic_batching.preferred_batch_sizes: expected a sequence, got a number"},
    {HEADR ONE "dynamic_batching: {preferred_batch_sizes: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,"
               "16,17]}\n",
     "dynamic_batching.preferred_batch_sizes: more than 16 sizes"},
    {HEADR ONE "dynamic_batching: {max_batch_size: 4, max_batch_size: 8}\n",
     "dynamic_batching.max_batch_size: duplicate key"},
    {HEADR ONE "instances: 2\n", "instances: only with dynamic_batching"},
    {HEADR ONE "dynamic_batching: {}\ninstances: 0\n", "instances: 0 is not between 1 and 64"},
    {HEADR ONE "dynamic_batching: {}\ninstances: 65\n", "instances: 65 is not between 1 and 64"},
    {HEADR ONE "dynamic_batching: {}\ninstances: true\n",
     "instances: expected an integer, got a boolean"},
    {HEADR ONE "timeout_us: -5\n", "timeout_us: -5 is not between 0 and 3600000000"},
    {HEADR ONE "timeout_us: 3600000001\n",
     "timeout_us: 3600000001 is not between 0 and 3600000000"},
    {HEADR ONE "timeout_us: 1s\n", "timeout_us: expected an integer, got string '1s'"},
    {HEADR ONE "timeout: 5\n", "timeout: unknown key"},
    /* keys */
    {HEADR ONE "keys: 5\n", "keys: expected a sequence, got a number"},
    {HEADR ONE "keys: [5]\n", "keys[0]: expected a mapping, got a number"},
    {HEADR ONE "keys: [{type: string}]\n", "keys[0].name: required"},
    {HEADR ONE "keys: [{name: u, colour: red}]\n", "keys[0].colour: unknown key"},
    {HEADR ONE "keys: [{name: u, name: v}]\n", "keys[0].name: duplicate key"},
    {HEADR ONE "keys: [{name: 'a b'}]\n", "keys[0].name: 'a b' has characters outside"},
    {HEADR ONE "keys: [{name: ''}]\n", "keys[0].name: '' has characters outside"},
    {HEADR ONE "keys: [{name: x}]\n",
     "keys[0].name: 'x' is a feature's name (features[0]); a key is never an input"},
    {HEADR ONE "keys: [{name: features}]\n",
     "keys[0].name: 'features' is the input_tensor name; rename one of them"},
    {HEADR ONE "keys: [{name: timeout}]\n",
     "keys[0].name: 'timeout' is a request parameter modeld reads itself (parameters.timeout)"},
    {HEADR ONE "keys: [{name: binary_data_output}]\n",
     "keys[0].name: 'binary_data_output' is a request parameter modeld reads itself"},
    {HEADR ONE "keys: [{name: u}, {name: v}, {name: u}]\n",
     "keys[2].name: duplicate name 'u' (also keys[0])"},
    {HEADR ONE "keys: [{name: u, type: float}]\n",
     "keys[0].type: 'float' is not one of string, int64"},
    /* the subject id (privacy) */
    {HEADR ONE "keys: [{name: u, subject: true}, {name: v, subject: true}]\n",
     "keys[1].subject: keys[0] 'u' is the subject id already; a row is about one subject"},
    {HEADR ONE "keys: [{name: u, subject: 1}]\n",
     "keys[0].subject: expected true or false, got a number"},
    {HEADR ONE "keys: [{name: u, type: String}]\n",
     "keys[0].type: 'String' is not one of string, int64"},
    {HEADR ONE "keys: [{name: u, required: yes}]\n",
     "keys[0].required: expected true or false, got string 'yes'"},
    {HEADR ONE "keys: [{name: u, max_length: 0}]\n",
     "keys[0].max_length: 0 is not between 1 and 4096"},
    {HEADR ONE "keys: [{name: u, max_length: 4097}]\n",
     "keys[0].max_length: 4097 is not between 1 and 4096"},
    {HEADR ONE "keys: [{name: u, max_length: 1.5}]\n",
     "keys[0].max_length: expected an integer, got a number"},
    {HEADR ONE "keys: [{name: u, type: int64, max_length: 8}]\n",
     "keys[0].max_length: only for string keys"},
    {HEADR ONE "keys: [{name: u, header: 'X User'}]\n",
     "keys[0].header: 'X User' is not an HTTP header name"},
    {HEADR ONE "keys: [{name: u, header: 'X-User:'}]\n",
     "keys[0].header: 'X-User:' is not an HTTP header name"},
    {HEADR ONE "keys: [{name: u, header: ''}]\n", "keys[0].header: '' is not an HTTP header name"},
    {HEADR ONE "keys: [{name: u, header: ~}]\n", "keys[0].header: expected a string, got null"},
    {HEADR ONE "keys: [{name: u, header: X-U}, {name: v, header: x-u}]\n",
     "keys[1].header: header 'x-u' already carries keys[0] 'u'"},
    {HEADR ONE "keys: [{name: u, description: [a]}]\n",
     "keys[0].description: expected a string, got a sequence"},
};

static void test_invalid_documents(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(bad_cases); i++)
        expect_invalid(bad_cases[i].yaml, bad_cases[i].msg);
}

static void test_syntax_error_line(void **state)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};
    const char *y = "backend: trees\n"
                    "task: regression\n"
                    "features:\n"
                    "  - {name: a, datatype: FP32\n"
                    "  - x\n";

    (void)state;
    assert_int_equal(md_contract_parse(y, strlen(y), "m", &c, &err), MD_EINVAL);
    assert_null(c);
    assert_msg(err,
               "model.yaml: syntax error at line 6, column 1: did not find expected ',' or '}' "
               "(while parsing a flow mapping at line 4)");
}

static void test_name_and_dir(void **state)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};
    const char *y = HEADR ONE;

    (void)state;
    assert_int_equal(md_contract_parse(y, strlen(y), NULL, &c, &err), MD_EINVAL);
    assert_msg(err, "name: required when the model's directory is not known");
    c = parse_ok(HEADR "name: m\n" ONE, "m");
    assert_string_equal(c->name, "m");
    md_contract_free(c);
    expect_invalid(HEADR "name: 'a/b'\n" ONE, "name: 'a/b' has characters outside");
}

/* A document of n features "f<i>" of FP32, or of one INT64 feature with n categories. */
static char *many(size_t n, bool categories)
{
    struct md_buf b;
    size_t i;

    md_buf_init(&b, (size_t)MD_CONTRACT_MAX_BYTES * 2);
    assert_int_equal(md_buf_puts(&b, HEADR "features:\n"), MD_OK);
    if (categories) {
        assert_int_equal(md_buf_puts(&b, "  - name: k\n    datatype: INT64\n    categories: ["),
                         MD_OK);
        for (i = 0; i < n; i++)
            assert_int_equal(md_buf_printf(&b, "%s%zu", i ? "," : "", i), MD_OK);
        assert_int_equal(md_buf_puts(&b, "]\n    encoding: ordinal\n"), MD_OK);
    } else {
        for (i = 0; i < n; i++)
            assert_int_equal(md_buf_printf(&b, "  - {name: f%zu, datatype: FP32}\n", i), MD_OK);
    }
    return md_buf_detach(&b, NULL);
}

static void test_limits(void **state)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};
    char *y;
    char *big;
    char longname[200];

    (void)state;
    y = many(MD_CONTRACT_MAX_FEATURES, false);
    c = parse_ok(y, "m");
    assert_int_equal(c->n_features, MD_CONTRACT_MAX_FEATURES);
    assert_int_equal(c->width, MD_CONTRACT_MAX_FEATURES);
    assert_ptr_equal(md_contract_feature(c, "f9999"), &c->features[9999]);
    assert_ptr_equal(md_contract_feature(c, "f0"), &c->features[0]);
    assert_null(md_contract_feature(c, "f10000"));
    md_contract_free(c);
    free(y);

    y = many(MD_CONTRACT_MAX_FEATURES + 1, false);
    assert_int_equal(md_contract_parse(y, strlen(y), "m", &c, &err), MD_EINVAL);
    assert_msg(err, "features: more than 10000 features");
    free(y);

    y = many(MD_CONTRACT_MAX_CATEGORIES + 1, true);
    assert_int_equal(md_contract_parse(y, strlen(y), "m", &c, &err), MD_EINVAL);
    assert_msg(err, "features[0].categories: more than 100000 categories");
    free(y);

    big = malloc(MD_CONTRACT_MAX_BYTES + 2);
    assert_non_null(big);
    memset(big, ' ', MD_CONTRACT_MAX_BYTES + 1);
    assert_int_equal(md_contract_parse(big, MD_CONTRACT_MAX_BYTES + 1, "m", &c, &err), MD_EINVAL);
    assert_msg(err, "model.yaml: 4194305 bytes, more than the 4194304 allowed");
    free(big);

    memset(longname, 'n', 129);
    longname[129] = '\0';
    y = malloc(512);
    assert_non_null(y);
    snprintf(y, 512, HEADR "features: [{name: %s, datatype: FP32}]\n", longname);
    expect_invalid(y, "features[0].name: longer than 128 bytes");
    longname[128] = '\0';
    snprintf(y, 512, HEADR "features: [{name: %s, datatype: FP32}]\n", longname);
    c = parse_ok(y, "m");
    md_contract_free(c);
    free(y);
}

static void test_limits_nesting_and_anchors(void **state)
{
    struct md_buf b;
    struct md_contract *c = NULL;
    struct md_err err = {0};
    size_t i;

    (void)state;
    /* libyaml is quadratic in both: refused before it builds anything */
    md_buf_init(&b, MD_CONTRACT_MAX_BYTES);
    assert_int_equal(md_buf_puts(&b, HEADR ONE "x: "), MD_OK);
    for (i = 0; i < 100000; i++)
        assert_int_equal(md_buf_putc(&b, '['), MD_OK);
    assert_int_equal(md_contract_parse(b.data, b.len, "m", &c, &err), MD_EINVAL);
    assert_msg(err, "model.yaml: nesting deeper than 32 levels at line 4");
    md_buf_reset(&b);
    assert_int_equal(md_buf_puts(&b, HEADR ONE "x: ["), MD_OK);
    for (i = 0; i < 1001; i++)
        assert_int_equal(md_buf_printf(&b, "&a%zu x, ", i), MD_OK);
    assert_int_equal(md_buf_puts(&b, "]\n"), MD_OK);
    assert_int_equal(md_contract_parse(b.data, b.len, "m", &c, &err), MD_EINVAL);
    assert_msg(err, "model.yaml: more than 1000 anchors and aliases");
    /* An event past both limits: the nesting is reported, as before util/yaml loaded the text. */
    md_buf_reset(&b);
    assert_int_equal(md_buf_puts(&b, HEADR ONE "x: ["), MD_OK);
    for (i = 0; i < 970; i++)
        assert_int_equal(md_buf_printf(&b, "&a%zu x, ", i), MD_OK);
    /* The root, x's sequence and 31 more: the 33rd opens with the 1001st anchor. */
    for (i = 0; i < 31; i++)
        assert_int_equal(md_buf_printf(&b, "&b%zu [", i), MD_OK);
    assert_int_equal(md_contract_parse(b.data, b.len, "m", &c, &err), MD_EINVAL);
    assert_msg(err, "model.yaml: nesting deeper than 32 levels at line 4");
    md_buf_release(&b);
    assert_null(c);
    /* An alias inside the node it names would load as a cycle: refused before it is built. */
    expect_invalid(HEADR "features: &f [*f]\n",
                   "model.yaml: alias at line 3 refers to a node that contains it");
    expect_invalid(HEADR ONE "engine: &e {a: {b: *e}}\n",
                   "model.yaml: alias at line 4 refers to a node that contains it");
}

static void test_limits_contract_wide(void **state)
{
    struct md_buf b;
    struct md_contract *c = NULL;
    struct md_err err = {0};
    size_t f;
    size_t i;

    (void)state;
    md_buf_init(&b, MD_CONTRACT_MAX_BYTES);
    assert_int_equal(md_buf_puts(&b, HEADR "features:\n"), MD_OK);
    for (f = 0; f < 2; f++) {
        assert_int_equal(md_buf_printf(&b,
                                       "  - name: k%zu\n    datatype: INT64\n"
                                       "    encoding: ordinal\n    categories: [",
                                       f),
                         MD_OK);
        for (i = 0; i < 60000; i++)
            assert_int_equal(md_buf_printf(&b, "%s%zu", i ? "," : "", i), MD_OK);
        assert_int_equal(md_buf_puts(&b, "]\n"), MD_OK);
    }
    assert_int_equal(md_contract_parse(b.data, b.len, "m", &c, &err), MD_EINVAL);
    assert_null(c);
    assert_msg(err, "features[1].categories: more than 100000 categories in the contract");
    md_buf_release(&b);
}

static void test_load(void **state)
{
    char path[] = "/tmp/test_contract_XXXXXX";
    struct md_contract *c = NULL;
    struct md_err err = {0};
    int fd = mkstemp(path);
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(full_yaml, f);
    fclose(f);
    assert_int_equal(md_contract_load(path, "fraud", &c, &err), MD_OK);
    assert_int_equal(c->n_features, 6);
    md_contract_free(c);
    assert_int_equal(md_contract_load(path, "other", &c, &err), MD_EINVAL);
    assert_null(c);
    assert_msg(err, "name: 'fraud' does not match the directory name 'other'");
    unlink(path);
    assert_int_equal(md_contract_load(path, "fraud", &c, &err), MD_EIO);
    assert_null(c);
    assert_msg(err, "cannot open");
    /* An empty file is an empty document; a device is not read. */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(md_contract_load(path, "m", &c, &err), MD_EINVAL);
    assert_msg(err, "model.yaml: empty document");
    unlink(path);
    assert_int_equal(md_contract_load("/dev/null", "m", &c, &err), MD_EIO);
    assert_msg(err, "'/dev/null': not a regular file");
    assert_int_equal(md_contract_load("/tmp", "m", &c, &err), MD_EIO);
    assert_msg(err, "'/tmp': cannot read: Is a directory");
}

static void test_feature_lookup(void **state)
{
    struct md_contract *c = parse_ok(full_yaml, "fraud");

    (void)state;
    assert_ptr_equal(md_contract_feature(c, "amount"), &c->features[0]);
    assert_ptr_equal(md_contract_feature(c, "vip"), &c->features[5]);
    assert_null(md_contract_feature(c, "amoun"));
    assert_null(md_contract_feature(c, ""));
    assert_null(md_contract_feature(c, NULL));
    assert_null(md_contract_feature(NULL, "amount"));
    md_contract_free(c);
}

static void test_keys(void **state)
{
    struct md_contract *c = parse_ok(HEADR ONE "keys:\n"
                                               "  - name: user_id\n"
                                               "  - name: txn\n"
                                               "    type: int64\n"
                                               "    required: true\n"
                                               "    header: X-Txn\n"
                                               "    description: the caller's id\n"
                                               "    subject: true\n"
                                               "  - {name: s, type: string, max_length: 4096, "
                                               "header: \"!#$%&'*+.^_`|~-09azAZ\"}\n",
                                     "m");
    const struct md_key *k;
    struct md_buf b;
    char longname[200];
    char *y;

    (void)state;
    assert_int_equal(c->n_keys, 3);
    k = &c->keys[0];
    assert_string_equal(k->name, "user_id");
    assert_int_equal(k->type, MD_KEY_STRING);
    assert_false(k->required);
    assert_int_equal(k->max_length, MD_KEY_DEFAULT_LENGTH);
    assert_null(k->header);
    assert_null(k->description);
    assert_false(k->subject);
    k = &c->keys[1];
    assert_string_equal(k->name, "txn");
    assert_int_equal(k->type, MD_KEY_INT64);
    assert_true(k->required);
    assert_int_equal(k->max_length, MD_KEY_INT64_LENGTH);
    assert_string_equal(k->header, "X-Txn");
    assert_string_equal(k->description, "the caller's id");
    assert_true(k->subject);
    k = &c->keys[2];
    assert_int_equal(k->max_length, 4096);
    assert_string_equal(k->header, "!#$%&'*+.^_`|~-09azAZ");
    /* Keys are no inputs: the prepared columns are the features' alone. */
    assert_int_equal(c->n_features, 1);
    assert_int_equal(c->width, 1);
    assert_ptr_equal(md_contract_key(c, "txn", 3), &c->keys[1]);
    assert_ptr_equal(md_contract_key(c, "txnX", 3), &c->keys[1]);
    assert_null(md_contract_key(c, "tx", 2));
    assert_null(md_contract_key(c, "txn\0", 4));
    assert_null(md_contract_key(c, "x", 1));
    md_contract_free(c);

    /* None, or an empty list. */
    c = parse_ok(HEADR ONE, "m");
    assert_int_equal(c->n_keys, 0);
    assert_null(c->keys);
    assert_null(md_contract_key(c, "x", 1));
    md_contract_free(c);
    c = parse_ok(HEADR ONE "keys: []\n", "m");
    assert_int_equal(c->n_keys, 0);
    md_contract_free(c);

    /* A key may take an output's name (outputs are not request fields). */
    c = parse_ok(HEADR ONE "keys: [{name: prediction}]\n", "m");
    assert_int_equal(c->n_keys, 1);
    md_contract_free(c);

    /* MD_CONTRACT_MAX_KEYS keys, and one more; a name of 128 bytes, and 129. */
    md_buf_init(&b, 1 << 16);
    md_buf_puts(&b, HEADR ONE "keys:\n");
    for (size_t i = 0; i <= MD_CONTRACT_MAX_KEYS; i++) {
        char line[32];

        (void)snprintf(line, sizeof(line), "  - {name: k%zu}\n", i);
        md_buf_puts(&b, line);
        if (i == MD_CONTRACT_MAX_KEYS - 1) {
            md_buf_putc(&b, '\0');
            c = parse_ok(b.data, "m");
            assert_int_equal(c->n_keys, MD_CONTRACT_MAX_KEYS);
            md_contract_free(c);
            b.len--;
        }
    }
    md_buf_putc(&b, '\0');
    expect_invalid(b.data, "keys: more than 64 keys");
    md_buf_release(&b);
    y = malloc(4096);
    assert_non_null(y);
    memset(longname, 'k', 129);
    longname[129] = '\0';
    (void)snprintf(y, 4096, HEADR ONE "keys: [{name: %s}]\n", longname);
    expect_invalid(y, "keys[0].name: longer than 128 bytes");
    longname[128] = '\0';
    (void)snprintf(y, 4096, HEADR ONE "keys: [{name: %s, header: %s}]\n", longname, longname);
    c = parse_ok(y, "m");
    md_contract_free(c);
    free(y);
}

static void test_fmt_helpers(void **state)
{
    char buf[64];

    (void)state;
    md_contract__fmt_num(1e6, false, buf, sizeof(buf));
    assert_string_equal(buf, "1e+06");
    md_contract__fmt_num(1.2e7, false, buf, sizeof(buf));
    assert_string_equal(buf, "1.2e+07");
    md_contract__fmt_num((float)0.1, true, buf, sizeof(buf));
    assert_string_equal(buf, "0.1");
    md_contract__fmt_num(0.1 + 0.2, false, buf, sizeof(buf));
    assert_string_equal(buf, "0.30000000000000004");
    md_contract__fmt_num(NAN, false, buf, sizeof(buf));
    assert_string_equal(buf, "NaN");
    md_contract__fmt_num(-INFINITY, false, buf, sizeof(buf));
    assert_string_equal(buf, "-inf");
}

/* ----------------------------------------------------------- check_engine */

static void test_check_engine(void **state)
{
    struct md_contract *c = parse_ok(full_yaml, "fraud");
    static const char *const good[] = {"amount", "country=US", "country=GB", "country=FR",
                                       "age",    "channel",    "score",      "vip"};
    static const char *const bad[] = {"amount", "country=US", "country=GB", "country=FR",
                                      "age",    "chanel",     "score",      "vip"};
    struct md_backend_desc d = {8, 1, MD_BACKEND_OUT_PROBABILITY, NULL, "binary:logistic"};
    struct md_err err = {0};

    (void)state;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_OK);
    d.feature_names = good;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_OK);
    d.feature_names = bad;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    assert_msg(err, "engine feature 5 is 'chanel', the contract's column 5 is 'channel'");
    d.feature_names = NULL;
    d.n_features = 7;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    assert_msg(err, "engine takes 7 features per row, the contract prepares 8 columns (the "
                    "artifact records no feature names to compare)");
    /* A width mismatch of an artifact with names names the first column that differs. */
    d.feature_names = good;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    assert_msg(err, "engine takes 7 features per row, the contract prepares 8 columns: the first "
                    "not in the artifact is model.yaml's column 7 'vip'");
    {
        static const char *const more[] = {"amount",     "country=US", "country=GB",
                                           "country=FR", "age",        "channel",
                                           "score",      "vip",        "extra"};
        static const char *const moved[] = {"amount",  "country=US", "age", "country=FR",
                                            "channel", "score",      "vip"};

        d.feature_names = more;
        d.n_features = 9;
        assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
        assert_msg(err, "engine takes 9 features per row, the contract prepares 8 columns: the "
                        "first not in model.yaml is the artifact's column 8 'extra'");
        d.feature_names = moved;
        d.n_features = 7;
        assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
        assert_msg(err, "engine takes 7 features per row, the contract prepares 8 columns: "
                        "column 2 is 'country=GB' in model.yaml, 'age' in the artifact");
    }
    d.feature_names = NULL;
    d.n_features = 8;
    d.kind = MD_BACKEND_OUT_PROBABILITIES;
    d.n_outputs = 2;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    assert_msg(err, "engine gives 2 probabilities output(s) per row, binary classification needs "
                    "1 probability");
    d.kind = MD_BACKEND_OUT_VALUE;
    d.n_outputs = 1;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    md_contract_free(c);

    c = parse_ok("backend: xgboost\ntask: classification\nlabels: [a, b, c]\n" ONE, "m");
    d.n_features = 1;
    d.kind = MD_BACKEND_OUT_PROBABILITIES;
    d.n_outputs = 3;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_OK);
    d.n_outputs = 2;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    assert_msg(err, "3 labels need 3 probabilities");
    d.kind = MD_BACKEND_OUT_PROBABILITY;
    d.n_outputs = 1;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    md_contract_free(c);

    c = parse_ok(HEADR ONE, "m");
    d.kind = MD_BACKEND_OUT_VALUE;
    d.n_outputs = 1;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_OK);
    d.kind = MD_BACKEND_OUT_PROBABILITY;
    assert_int_equal(md_contract_check_engine(c, &d, &err), MD_EINVAL);
    assert_msg(err, "engine gives 1 probability output(s) per row, regression needs 1 value");
    md_contract_free(c);
}

/* ------------------------------------------------------------------ prepare */

struct fixture {
    struct md_arena arena;
    struct md_err err;
    float *x;
    size_t n;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    md_arena_init(&fx->arena, 1 << 20);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    md_arena_release(&fx->arena);
    free(fx);
    return 0;
}

static struct md_tensor vec(const char *name, enum md_dtype dt, size_t n, void *data)
{
    struct md_tensor t;

    memset(&t, 0, sizeof(t));
    t.name = name;
    t.dtype = dt;
    t.ndim = 1;
    t.shape[0] = (int64_t)n;
    t.count = n;
    t.data = data;
    return t;
}

static struct md_tensor mat(const char *name, enum md_dtype dt, size_t rows, size_t cols,
                            void *data)
{
    struct md_tensor t = vec(name, dt, rows * cols, data);

    t.ndim = 2;
    t.shape[0] = (int64_t)rows;
    t.shape[1] = (int64_t)cols;
    return t;
}

static int prep(struct fixture *fx, const struct md_contract *c, const struct md_tensor *in,
                size_t n)
{
    md_arena_reset(&fx->arena);
    md_err_clear(&fx->err);
    return md_contract_prepare(c, in, n, &fx->arena, &fx->x, &fx->n, &fx->err);
}

static void expect_row(const float *x, const float *want, size_t w)
{
    size_t i;

    for (i = 0; i < w; i++) {
        if (isnan(want[i]) ? !isnan(x[i]) : x[i] != want[i])
            fail_msg("column %zu: got %g, want %g", i, (double)x[i], (double)want[i]);
    }
}

static void expect_fail(struct fixture *fx, const struct md_contract *c, const struct md_tensor *in,
                        size_t n, const char *sub)
{
    int rc = prep(fx, c, in, n);

    if (rc != MD_EINVAL)
        fail_msg("expected MD_EINVAL with \"%s\", got %d (%s)", sub, rc, fx->err.msg);
    assert_msg(fx->err, sub);
}

static void test_prepare_columnar(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(full_yaml, "fraud");
    float amount[2] = {10, 20};
    struct md_bytes country[2] = {{"FR", 2}, {NULL, 0}};
    int32_t age[2] = {30, 0};
    uint8_t age_missing[2] = {0, 1};
    int64_t channel[2] = {3, 1};
    double score[2] = {NAN, 1.5};
    uint8_t vip[2] = {0, 1};
    struct md_tensor in[6];
    const float row0[] = {10, 0, 0, 1, 30, 2, NAN, 1};
    const float row1[] = {20, 0, 1, 0, NAN, 0, 1.5f, 1};
    const float row0b[] = {10, 0, 0, 1, 30, 2, NAN, 0};

    in[0] = vec("score", MD_DT_FP64, 2, score);
    in[1] = vec("amount", MD_DT_FP32, 2, amount);
    in[2] = vec("country", MD_DT_BYTES, 2, country);
    in[3] = vec("age", MD_DT_INT32, 2, age);
    in[3].missing = age_missing;
    in[4] = vec("channel", MD_DT_INT64, 2, channel);
    in[5] = vec("vip", MD_DT_BOOL, 2, vip);
    /* vip absent: its default (true) in every row */
    assert_int_equal(prep(fx, c, in, 5), MD_OK);
    assert_int_equal(fx->n, 2);
    expect_row(fx->x, row0, 8);
    expect_row(fx->x + 8, row1, 8);

    /* every feature sent, a [N, 1] shape too */
    in[5].ndim = 2;
    in[5].shape[1] = 1;
    assert_int_equal(prep(fx, c, in, 6), MD_OK);
    expect_row(fx->x, row0b, 8);
    expect_row(fx->x + 8, row1, 8);

    /* only the required feature: the others' defaults and NaN */
    {
        const float only[] = {10, 0, 1, 0, NAN, 1, -0.5f, 1};

        assert_int_equal(prep(fx, c, &in[1], 1), MD_OK);
        expect_row(fx->x, only, 8);
    }
    md_contract_free(c);
}

static void test_prepare_columnar_errors(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(full_yaml, "fraud");
    float amount[4] = {10, 20, 30, 1.2e7f};
    float amount_neg[1] = {-1};
    float amount_nan[1] = {NAN};
    struct md_bytes country[1] = {{"XX", 2}};
    int32_t age[1] = {12};
    int64_t channel[1] = {4};
    uint8_t vip[1] = {2};
    uint8_t miss[1] = {1};
    struct md_tensor in[3];

    in[0] = vec("amount", MD_DT_FP32, 4, amount);
    expect_fail(fx, c, in, 1, "feature 'amount' row 3: 1.2e+07 above max 1e+06");
    in[0] = vec("amount", MD_DT_FP32, 1, amount_neg);
    expect_fail(fx, c, in, 1, "feature 'amount' row 0: -1 below min 0");
    in[0] = vec("amount", MD_DT_FP32, 1, amount_nan);
    expect_fail(fx, c, in, 1,
                "feature 'amount' row 0: NaN for required feature (allow_nan is false)");
    amount_nan[0] = -INFINITY;
    expect_fail(fx, c, in, 1, "feature 'amount' row 0: -inf not allowed");
    in[0] = vec("amount", MD_DT_FP32, 1, amount);
    in[0].missing = miss;
    expect_fail(fx, c, in, 1, "feature 'amount' row 0: null value for required feature");
    in[0].missing = NULL;

    in[1] = vec("country", MD_DT_BYTES, 1, country);
    expect_fail(fx, c, in, 2,
                "feature 'country' row 0: unknown category 'XX' (allowed: US, GB, FR)");
    in[1] = vec("age", MD_DT_INT32, 1, age);
    expect_fail(fx, c, in, 2, "feature 'age' row 0: 12 below min 18");
    in[1] = vec("channel", MD_DT_INT64, 1, channel);
    expect_fail(fx, c, in, 2, "feature 'channel' row 0: unknown category 4 (allowed: 1, 2, 3)");
    in[1] = vec("vip", MD_DT_BOOL, 1, vip);
    expect_fail(fx, c, in, 2, "feature 'vip' row 0: 2 is not 0 or 1");

    in[1] = vec("age", MD_DT_FP32, 1, amount);
    expect_fail(fx, c, in, 2, "feature 'age': datatype FP32 does not match contract INT32");
    in[1] = vec("foo", MD_DT_FP32, 1, amount);
    expect_fail(fx, c, in, 2,
                "input 'foo': unknown input; expected features amount, country, age, channel, "
                "score, vip");
    assert_null(strstr(fx->err.msg, "2-D"));
    in[1] = vec("amount", MD_DT_FP32, 1, amount);
    expect_fail(fx, c, in, 2, "feature 'amount': duplicate input");
    in[1] = vec("score", MD_DT_FP64, 2, amount);
    expect_fail(fx, c, in, 2, "feature 'score': 2 rows, expected 1 as feature 'amount'");
    in[1] = mat("score", MD_DT_FP64, 1, 2, amount);
    expect_fail(fx, c, in, 2, "feature 'score': expected shape [N] or [N, 1], got [1, 2]");
    in[1] = vec("score", MD_DT_FP64, 1, amount);
    in[1].count = 3;
    expect_fail(fx, c, in, 2, "feature 'score': 3 values for shape [1]");
    in[1] = mat("rows", MD_DT_FP32, 1, 8, amount);
    expect_fail(fx, c, in, 2, "input 'rows': the 2-D form takes exactly one input, got 2");

    in[0] = vec("age", MD_DT_INT32, 1, age);
    expect_fail(fx, c, in, 1, "feature 'amount': missing required feature");
    in[0] = vec("amount", MD_DT_FP32, 0, amount);
    expect_fail(fx, c, in, 1, "feature 'amount': no rows");
    expect_fail(fx, c, in, 0,
                "no inputs; expected features amount, country, age, channel, score, vip");
    md_contract_free(c);
}

static const char plain_yaml[] = HEADR "features:\n"
                                       "  - {name: a, datatype: FP32, min: -1, max: 1}\n"
                                       "  - {name: b, datatype: INT32}\n"
                                       "  - {name: c, datatype: BOOL}\n"
                                       "  - {name: d, datatype: FP64, required: false}\n"
                                       "  - {name: e, datatype: INT64, required: false,\n"
                                       "     missing: default, default: 7}\n";

static void test_prepare_2d_fast(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(plain_yaml, "m");
    float data[10] = {0.5f, 3, 1, 2.5f, -4, -1, -7, 0, 1e30f, 9};
    struct md_tensor t = mat("features", MD_DT_FP32, 2, 5, data);

    assert_true(c->plain);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    assert_int_equal(fx->n, 2);
    expect_row(fx->x, data, 10);

    data[5] = 1.5f;
    expect_fail(fx, c, &t, 1, "feature 'a' row 1: 1.5 above max 1");
    data[5] = -1;
    data[6] = 2.5f;
    expect_fail(fx, c, &t, 1, "feature 'b' row 1: 2.5 is not an integer");
    data[6] = 3e9f;
    expect_fail(fx, c, &t, 1, "feature 'b' row 1: 3e+09 is outside the INT32 range");
    data[6] = NAN;
    expect_fail(fx, c, &t, 1, "feature 'b' row 1: NaN for required feature");
    data[6] = -7;
    data[2] = 2;
    expect_fail(fx, c, &t, 1, "feature 'c' row 0: 2 is not 0 or 1");
    data[2] = 1;
    /* NaN for an optional feature is a missing value: NaN for d, the default 7 for e. */
    data[3] = NAN;
    data[4] = NAN;
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    assert_true(isnan(fx->x[3]) && fx->x[4] == 7.0f);
    data[4] = -4;
    data[3] = INFINITY;
    expect_fail(fx, c, &t, 1, "feature 'd' row 0: inf not allowed");
    data[3] = 2.5f;

    t.shape[1] = 4;
    expect_fail(fx, c, &t, 1, "input 'features': expected shape [N, 5], got [2, 4]");
    t = mat("features", MD_DT_FP32, 1, 5, data);
    t.ndim = 1;
    expect_fail(fx, c, &t, 1, "input 'features': expected shape [N, 5], got [1]");
    t = mat("features", MD_DT_FP32, 0, 5, data);
    expect_fail(fx, c, &t, 1, "input 'features': no rows");
    t = mat("features", MD_DT_FP32, 2, 5, data);
    t.count = 9;
    expect_fail(fx, c, &t, 1, "input 'features': 9 values for shape [2, 5]");
    t = mat("features", MD_DT_BYTES, 2, 5, data);
    expect_fail(fx, c, &t, 1, "input 'features': datatype BYTES is not supported");
    t = mat("features", MD_DT_FP16, 2, 5, data);
    expect_fail(fx, c, &t, 1, "input 'features': datatype FP16 is not supported");
    t = mat("rows", MD_DT_FP32, 2, 5, data);
    expect_fail(fx, c, &t, 1,
                "input 'rows': unknown input; expected features a, b, c, d, e or one 2-D tensor "
                "'features'");
    md_contract_free(c);
}

/*
 * The 2-D fast path tests a row's values a few at a time and the rest one by
 * one: with nine bounded features, a value above or below its bounds, or NaN,
 * at each position of the second row fails that feature, in rows with a
 * null elsewhere and without; nothing else fails.
 */
static void test_prepare_2d_each_column(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c;
    const float bad[3] = {2.0f, -2.0f, NAN};
    const char *const why[3] = {"above max 1", "below min -1", "NaN for required feature"};
    char yaml[1024];
    char want[96];
    float data[18];
    uint8_t miss[18];
    struct md_tensor t = mat("features", MD_DT_FP32, 2, 9, data);
    size_t len;
    size_t j;
    size_t k;
    int with_null;

    len = (size_t)snprintf(yaml, sizeof(yaml), "%sfeatures:\n", HEADR);
    for (j = 0; j < 9; j++)
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                "  - {name: f%zu, datatype: FP32, min: -1, max: 1%s}\n", j,
                                j == 8 ? ", required: false" : "");
    c = parse_ok(yaml, "m");
    assert_true(c->plain);
    for (with_null = 0; with_null < 2; with_null++) {
        memset(miss, 0, sizeof(miss));
        t.missing = with_null ? miss : NULL;
        for (j = 0; j < 18; j++)
            data[j] = (float)j / 20.0f - 0.4f;
        assert_int_equal(prep(fx, c, &t, 1), MD_OK);
        expect_row(fx->x, data, 18);
        for (j = 0; j < 9; j++) {
            for (k = 0; k < 3; k++) {
                /* with_null: the optional last feature is null in the other row. */
                if (with_null) {
                    miss[8] = 1;
                    data[8] = NAN;
                }
                data[9 + j] = bad[k];
                if (j == 8 && k == 2) {
                    /* NaN for the optional feature: a missing value, NaN again. */
                    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
                    assert_true(isnan(fx->x[17]));
                    data[17] = (float)17 / 20.0f - 0.4f;
                    continue;
                }
                (void)snprintf(want, sizeof(want), "feature 'f%zu' row 1: ", j);
                expect_fail(fx, c, &t, 1, want);
                assert_msg(fx->err, why[k]);
                data[9 + j] = (float)(9 + j) / 20.0f - 0.4f;
                assert_int_equal(prep(fx, c, &t, 1), MD_OK);
            }
        }
    }
    md_contract_free(c);
}

/*
 * A large 2-D input is split across threads (rows of 4,096 and more): the
 * result is the one-pass result, nulls follow each feature's policy, and of
 * two bad rows the lower one is reported.
 */
static void test_prepare_2d_large(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(plain_yaml, "m");
    const size_t n = 12289;
    float *data = malloc(n * 5 * sizeof(float));
    uint8_t *miss = calloc(n * 5, 1);
    struct md_tensor t = mat("features", MD_DT_FP32, n, 5, data);
    size_t r;

    assert_non_null(data);
    assert_non_null(miss);
    for (r = 0; r < n; r++) {
        const float row[5] = {(float)(r % 200) / 100.0f - 1.0f, (float)(r % 77), (float)(r % 2),
                              (float)r * 0.5f, (float)(r % 13)};

        memcpy(data + r * 5, row, sizeof(row));
    }
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    assert_int_equal(fx->n, n);
    for (r = 0; r < n; r++)
        expect_row(fx->x + r * 5, data + r * 5, 5);
    /* Nulls in both halves (two CPUs: two parts): NaN for d, the default 7 for e. */
    t.missing = miss;
    miss[10 * 5 + 3] = 1;
    data[10 * 5 + 3] = NAN;
    miss[8000 * 5 + 4] = 1;
    miss[12288 * 5 + 4] = 1;
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    assert_true(isnan(fx->x[10 * 5 + 3]));
    assert_true(fx->x[8000 * 5 + 4] == 7.0f);
    assert_true(fx->x[12288 * 5 + 4] == 7.0f);
    assert_true(fx->x[8001 * 5 + 4] == data[8001 * 5 + 4]);
    /* Two bad rows in different threads' parts: the lower is named. */
    data[11000 * 5 + 0] = 5.0f;
    data[5000 * 5 + 2] = 3.0f;
    expect_fail(fx, c, &t, 1, "feature 'c' row 5000: 3 is not 0 or 1");
    data[5000 * 5 + 2] = 1.0f;
    expect_fail(fx, c, &t, 1, "feature 'a' row 11000: 5 above max 1");
    miss[9000 * 5 + 0] = 1;
    expect_fail(fx, c, &t, 1, "feature 'a' row 9000: null value for required feature");
    free(data);
    free(miss);
    md_contract_free(c);
}

static void test_prepare_2d_general(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(plain_yaml, "m");
    double d64[10] = {0.5, 3, 1, 2.5, -4, -1, -7, 0, 1e30, 9};
    int32_t i32[5] = {1, -5, 0, 100, 2};
    int64_t i64[5] = {0, 2, 1, 4, 5};
    uint8_t u8[5] = {1, 2, 2, 3, 4};
    uint8_t b8[5] = {1, 0, 1, 0, 1};
    float f32[5] = {0.25f, 1, 0, 0, 0};
    uint8_t miss[5] = {0, 0, 0, 1, 1};
    struct md_tensor t = mat("features", MD_DT_FP64, 2, 5, d64);
    const float r0[] = {0.5f, 3, 1, 2.5f, -4};
    const float r1[] = {-1, -7, 0, 1e30f, 9};

    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    expect_row(fx->x, r0, 5);
    expect_row(fx->x + 5, r1, 5);
    d64[8] = 1e300;
    expect_fail(fx, c, &t, 1, "feature 'd' row 1: 1e+300 is outside the FP32 range");
    d64[8] = 0;
    d64[7] = 0.5;
    expect_fail(fx, c, &t, 1, "feature 'c' row 1: 0.5 is not 0 or 1");

    t = mat("features", MD_DT_INT32, 1, 5, i32);
    {
        const float want[] = {1, -5, 0, 100, 2};

        assert_int_equal(prep(fx, c, &t, 1), MD_OK);
        expect_row(fx->x, want, 5);
    }
    i32[0] = 2;
    expect_fail(fx, c, &t, 1, "feature 'a' row 0: 2 above max 1");
    t = mat("features", MD_DT_INT64, 1, 5, i64);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    t = mat("features", MD_DT_UINT8, 1, 5, u8);
    expect_fail(fx, c, &t, 1, "feature 'c' row 0: 2 is not 0 or 1");
    t = mat("features", MD_DT_BOOL, 1, 5, b8);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);

    /* nulls in the 2-D form follow each feature's missing policy */
    t = mat("features", MD_DT_FP32, 1, 5, f32);
    t.missing = miss;
    {
        const float want[] = {0.25f, 1, 0, NAN, 7};

        assert_int_equal(prep(fx, c, &t, 1), MD_OK);
        expect_row(fx->x, want, 5);
    }
    miss[0] = 1;
    expect_fail(fx, c, &t, 1, "feature 'a' row 0: null value for required feature");
    md_contract_free(c);
}

static void test_prepare_2d_categorical(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(HEADR "features:\n"
                                           "  - {name: x, datatype: FP32, allow_nan: true}\n"
                                           "  - {name: k, datatype: INT32, categories: [10, 20, "
                                           "30]}\n"
                                           "  - {name: o, datatype: INT64, categories: [5, 6],\n"
                                           "     encoding: ordinal, required: false}\n",
                                     "m");
    float f32[6] = {NAN, 20, 6, 1.5f, 10, 5};
    int64_t i64[3] = {1, 30, 6};
    uint64_t u64[3] = {1, 30, UINT64_MAX};
    uint8_t miss[3] = {0, 0, 1};
    struct md_tensor t = mat("features", MD_DT_FP32, 2, 3, f32);
    const float r0[] = {NAN, 0, 1, 0, 1};
    const float r1[] = {1.5f, 1, 0, 0, 0};

    assert_false(c->plain);
    assert_int_equal(c->width, 5);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    expect_row(fx->x, r0, 5);
    expect_row(fx->x + 5, r1, 5);
    f32[1] = 25;
    expect_fail(fx, c, &t, 1, "feature 'k' row 0: unknown category 25 (allowed: 10, 20, 30)");
    f32[1] = 20.5f;
    expect_fail(fx, c, &t, 1, "feature 'k' row 0: 20.5 is not an integer");
    f32[1] = NAN;
    expect_fail(fx, c, &t, 1, "feature 'k' row 0: NaN for required feature");
    f32[1] = 20;
    /* NaN for the optional categorical feature: missing, so NaN in its ordinal column. */
    f32[5] = NAN;
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    assert_true(isnan(fx->x[9]));
    f32[5] = 5;
    f32[1] = 1e20f;
    expect_fail(fx, c, &t, 1, "feature 'k' row 0: unknown category 1e+20");

    t = mat("features", MD_DT_INT64, 1, 3, i64);
    {
        const float want[] = {1, 0, 0, 1, 1};

        assert_int_equal(prep(fx, c, &t, 1), MD_OK);
        expect_row(fx->x, want, 5);
        t.missing = miss;
        assert_int_equal(prep(fx, c, &t, 1), MD_OK);
        assert_true(isnan(fx->x[4]));
    }
    t = mat("features", MD_DT_UINT64, 1, 3, u64);
    expect_fail(fx, c, &t, 1, "feature 'o' row 0: unknown category 1.8446744073709552e+19");
    md_contract_free(c);
}

static void test_prepare_bytes_2d_refused(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c = parse_ok(full_yaml, "fraud");
    float data[8] = {0};
    struct md_tensor t = mat("rows", MD_DT_FP32, 1, 6, data);

    expect_fail(fx, c, &t, 1,
                "input 'rows': the 2-D form is not available as feature 'country' is BYTES");
    t.name = "features";
    expect_fail(fx, c, &t, 1, "input 'features': unknown input");
    md_contract_free(c);
}

static void test_prepare_many_categories(void **state)
{
    struct fixture *fx = *state;
    struct md_buf b;
    struct md_contract *c;
    struct md_bytes s[40];
    int64_t v[40];
    char names[40][8];
    struct md_tensor in[2];
    size_t i;

    md_buf_init(&b, 1 << 16);
    assert_int_equal(md_buf_puts(&b, HEADR "features:\n  - name: s\n    datatype: BYTES\n"
                                           "    encoding: ordinal\n    categories: ["),
                     MD_OK);
    for (i = 0; i < 40; i++)
        assert_int_equal(md_buf_printf(&b, "%sc%zu", i ? ", " : "", i), MD_OK);
    assert_int_equal(md_buf_puts(&b, "]\n  - name: v\n    datatype: INT64\n"
                                     "    categories: ["),
                     MD_OK);
    for (i = 0; i < 40; i++)
        assert_int_equal(md_buf_printf(&b, "%s%zu", i ? ", " : "", i * 1000), MD_OK);
    assert_int_equal(md_buf_puts(&b, "]\n"), MD_OK);
    c = parse_ok(b.data, "m");
    md_buf_release(&b);
    assert_non_null(c->features[0].cat_slots);
    assert_non_null(c->features[1].cat_slots);
    assert_int_equal(c->width, 41);
    for (i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "c%zu", 39 - i);
        s[i].p = names[i];
        s[i].len = strlen(names[i]);
        v[i] = (int64_t)i * 1000;
    }
    in[0] = vec("s", MD_DT_BYTES, 40, s);
    in[1] = vec("v", MD_DT_INT64, 40, v);
    assert_int_equal(prep(fx, c, in, 2), MD_OK);
    for (i = 0; i < 40; i++) {
        size_t k;

        assert_true(fx->x[i * 41] == (float)(39 - i));
        for (k = 0; k < 40; k++)
            assert_true(fx->x[i * 41 + 1 + k] == (k == i ? 1.0f : 0.0f));
    }
    s[7].p = "c40";
    expect_fail(fx, c, in, 2, "feature 's' row 7: unknown category 'c40' (allowed: c0, c1, c2");
    expect_fail(fx, c, in, 2, "...)");
    s[7].p = names[7];
    v[3] = 1;
    expect_fail(fx, c, in, 2, "feature 'v' row 3: unknown category 1 (allowed: 0, 1000,");
    md_contract_free(c);
}

static void test_prepare_defaults_and_nan(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c =
        parse_ok(HEADR "features:\n"
                       "  - {name: n, datatype: FP32, required: false}\n"
                       "  - {name: d, datatype: FP64, required: false, missing: default,"
                       " default: 2.5}\n"
                       "  - {name: b, datatype: BYTES, categories: [x, y], required: false}\n"
                       "  - {name: bo, datatype: BYTES, categories: [x, y], required: false,"
                       " encoding: ordinal, missing: default, default: y}\n"
                       "  - {name: i, datatype: INT32, required: false, missing: default,"
                       " default: -3}\n"
                       "  - {name: nan, datatype: FP32, allow_nan: true}\n",
                 "m");
    float nan[3] = {NAN, INFINITY, 1};
    struct md_bytes bytes[3] = {{"y", 1}, {NULL, 0}, {"x", 1}};
    uint8_t miss[3] = {0, 0, 1};
    struct md_tensor in[2];
    const float r0[] = {NAN, 2.5f, NAN, NAN, 1, -3, NAN};
    const float r1[] = {NAN, 2.5f, NAN, NAN, 1, -3, INFINITY};
    const float only_b[] = {NAN, 2.5f, 0, 1, 1, -3, NAN};

    in[0] = vec("nan", MD_DT_FP32, 3, nan);
    assert_int_equal(prep(fx, c, in, 1), MD_OK);
    assert_int_equal(c->width, 7);
    expect_row(fx->x, r0, 7);
    expect_row(fx->x + 7, r1, 7);
    in[1] = vec("b", MD_DT_BYTES, 3, bytes);
    in[1].missing = miss;
    assert_int_equal(prep(fx, c, in, 2), MD_OK);
    expect_row(fx->x, only_b, 7);
    assert_true(isnan(fx->x[7 + 2]) && isnan(fx->x[7 + 3]));
    assert_true(isnan(fx->x[14 + 2]) && isnan(fx->x[14 + 3]));
    md_contract_free(c);
}

/* A NaN with its sign bit set, as some clients' float arrays carry it. */
static float neg_nan(void)
{
    return copysignf(NAN, -1.0f);
}

/*
 * A NaN sent as a value (binary data, JSON's NaN token) for a feature without
 * allow_nan is a missing value: NaN or the default as the feature's policy
 * says, refused for a required feature (feature and row named), and every
 * other value of the column still checked against its range. allow_nan keeps
 * NaN as a value. The same in the columnar form, the 2-D fast path (split
 * across threads when large) and the general 2-D path.
 */
static void test_prepare_nan_is_missing(void **state)
{
    struct fixture *fx = *state;
    struct md_contract *c =
        parse_ok(HEADR "features:\n"
                       "  - {name: r, datatype: FP32, min: 0, max: 9}\n"
                       "  - {name: n, datatype: FP32, required: false, min: 0, max: 9}\n"
                       "  - {name: d, datatype: FP64, required: false, missing: default,"
                       " default: 5, min: 0, max: 9}\n"
                       "  - {name: a, datatype: FP32, required: false, missing: default,"
                       " default: 1, allow_nan: true}\n"
                       "  - {name: i, datatype: INT32, required: false, missing: default,"
                       " default: 3}\n",
                 "m");
    const size_t big = 9001;
    float r[3] = {1, 2, 3};
    float n[3] = {NAN, 2, 0};
    double d[3] = {NAN, 4, 6};
    float a[3] = {NAN, 2, 3};
    float rows[10] = {1, NAN, NAN, NAN, NAN, 2, 3, 4, 5, 6};
    double rows64[10] = {1, NAN, NAN, NAN, NAN, 2, 3, 4, 5, 6};
    float *large = malloc(big * 5 * sizeof(float));
    struct md_tensor in[4];
    struct md_tensor t;
    const float want0[] = {1, NAN, 5, NAN, 3};
    const float want1[] = {2, 3, 4, 5, 6};
    size_t k;

    assert_non_null(large);
    n[2] = neg_nan();
    in[0] = vec("r", MD_DT_FP32, 3, r);
    in[1] = vec("n", MD_DT_FP32, 3, n);
    in[2] = vec("d", MD_DT_FP64, 3, d);
    in[3] = vec("a", MD_DT_FP32, 3, a);
    assert_int_equal(prep(fx, c, in, 4), MD_OK);
    {
        const float c0[] = {1, NAN, 5, NAN, 3};
        const float c1[] = {2, 2, 4, 2, 3};
        const float c2[] = {3, NAN, 6, 3, 3};

        expect_row(fx->x, c0, 5);
        expect_row(fx->x + 5, c1, 5);
        expect_row(fx->x + 10, c2, 5);
    }
    /* The other values of a column with a NaN are still checked. */
    d[2] = 11;
    expect_fail(fx, c, in, 4, "feature 'd' row 2: 11 above max 9");
    d[2] = 6;
    n[1] = -1;
    expect_fail(fx, c, in, 4, "feature 'n' row 1: -1 below min 0");
    n[1] = 2;
    r[1] = NAN;
    expect_fail(fx, c, in, 4, "feature 'r' row 1: NaN for required feature (allow_nan is false)");
    r[1] = neg_nan();
    expect_fail(fx, c, in, 4, "feature 'r' row 1: NaN for required feature");
    r[1] = 2;
    n[1] = INFINITY;
    expect_fail(fx, c, in, 4, "feature 'n' row 1: inf not allowed (allow_nan is false)");
    n[1] = 2;

    /* 2-D, FP32: the fast path. */
    t = mat("features", MD_DT_FP32, 2, 5, rows);
    assert_true(c->plain);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    expect_row(fx->x, want0, 5);
    expect_row(fx->x + 5, want1, 5);
    rows[4] = neg_nan();
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    expect_row(fx->x, want0, 5);
    rows[7] = 9.5f;
    expect_fail(fx, c, &t, 1, "feature 'd' row 1: 9.5 above max 9");
    rows[7] = 4;
    rows[5] = NAN;
    expect_fail(fx, c, &t, 1, "feature 'r' row 1: NaN for required feature");
    rows[5] = 2;

    /* 2-D, FP64: the general path. */
    t = mat("features", MD_DT_FP64, 2, 5, rows64);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    expect_row(fx->x, want0, 5);
    expect_row(fx->x + 5, want1, 5);
    rows64[9] = 2.5;
    expect_fail(fx, c, &t, 1, "feature 'i' row 1: 2.5 is not an integer");
    rows64[9] = 6;
    rows64[0] = NAN;
    expect_fail(fx, c, &t, 1, "feature 'r' row 0: NaN for required feature");
    rows64[0] = 1;

    /* Large enough to be split across threads: NaN in both halves. */
    for (k = 0; k < big; k++)
        memcpy(large + k * 5, want1, sizeof(want1));
    large[10 * 5 + 2] = NAN;
    large[9000 * 5 + 1] = NAN;
    large[9000 * 5 + 4] = NAN;
    t = mat("features", MD_DT_FP32, big, 5, large);
    assert_int_equal(prep(fx, c, &t, 1), MD_OK);
    assert_true(fx->x[10 * 5 + 2] == 5.0f && fx->x[11 * 5 + 2] == 4.0f);
    assert_true(isnan(fx->x[9000 * 5 + 1]) && fx->x[9000 * 5 + 4] == 3.0f);
    large[8999 * 5] = NAN;
    expect_fail(fx, c, &t, 1, "feature 'r' row 8999: NaN for required feature");
    free(large);
    md_contract_free(c);
}

static void test_prepare_arena_limit(void **state)
{
    struct md_contract *c = parse_ok(plain_yaml, "m");
    struct md_arena a;
    struct md_err err = {0};
    float data[5] = {0};
    struct md_tensor t = mat("features", MD_DT_FP32, 1000, 5, data);
    float *x = NULL;
    size_t n = 0;

    (void)state;
    md_arena_init(&a, 1024);
    assert_int_equal(md_contract_prepare(c, &t, 1, &a, &x, &n, &err), MD_ETOOBIG);
    assert_msg(err, "request too large: 1000 rows of 5 columns");
    md_arena_release(&a);
    md_contract_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_contract),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_regression_and_policies),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_syntax_error_line),
        cmocka_unit_test(test_name_and_dir),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_limits_contract_wide),
        cmocka_unit_test(test_limits_nesting_and_anchors),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_feature_lookup),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_fmt_helpers),
        cmocka_unit_test(test_check_engine),
        cmocka_unit_test_setup_teardown(test_prepare_columnar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_columnar_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_2d_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_2d_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_2d_each_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_2d_general, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_2d_categorical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_bytes_2d_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_many_categories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_defaults_and_nan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_nan_is_missing, setup, teardown),
        cmocka_unit_test(test_prepare_arena_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
