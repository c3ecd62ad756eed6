/* SPDX-License-Identifier: MIT */
/*
 * test_training.c: the pieces of a training run that stand alone:
 * model.yaml's `training:` section (defaults, every key, the errors that
 * name the key, the command refused, unknown trainers once the
 * configuration names some), the trainings table (add, update, list,
 * get, runs abandoned by a stopped daemon, each model's last request),
 * JSON-lines rows through a contract (serve/contract_rows.c: values,
 * missing ones, targets, weights, refusals naming the line), a reference
 * profile built from prepared rows (learn/profile_build.c, read back by
 * md_profile_parse), the trigger names, and the configuration file's
 * `trainers:` section.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/trainers.h"
#include "control/training.h"
#include "learn/profile_build.h"
#include "serve/contract.h"
#include "serve/contract_rows.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/yaml.h"
#include "watch/profile.h"

static const char base_yaml[] = "name: m\n"
                                "backend: trees\n"
                                "task: classification\n"
                                "labels: [no, yes]\n"
                                "features:\n"
                                "  - {name: x, datatype: FP32, min: 0, max: 100}\n"
                                "  - {name: n, datatype: INT32, required: false, missing: nan}\n"
                                "  - name: c\n"
                                "    datatype: BYTES\n"
                                "    categories: [a, b, c]\n"
                                "  - {name: f, datatype: BOOL}\n";

static int parse(const char *training, struct md_contract **c, struct md_err *err)
{
    char text[4096];

    (void)snprintf(text, sizeof(text), "%s%s", base_yaml, training);
    return md_contract_parse(text, strlen(text), "m", c, err);
}

static void refused(const char *training, const char *fragment)
{
    struct md_contract *c = NULL;
    struct md_err err;

    assert_int_equal(parse(training, &c, &err), MD_EINVAL);
    assert_null(c);
    if (strstr(err.msg, fragment) == NULL)
        fail_msg("'%s' lacks '%s'", err.msg, fragment);
}

static void test_section_defaults(void **state)
{
    struct md_contract *c;
    struct md_err err;

    (void)state;
    assert_int_equal(parse("", &c, &err), MD_OK);
    assert_false(c->training.present);
    assert_int_equal(c->training.min_rows, 100);
    assert_true(fabs(c->training.holdout - 0.2) < 1e-12);
    assert_string_equal(c->training.metric, "roc_auc");
    assert_string_equal(c->training.alias, "candidate");
    assert_int_equal(c->training.policy, MD_TRAINED_REGISTER);
    assert_int_equal(c->training.timeout_s, 1800);
    assert_int_equal(c->training.memory_mb, 2048);
    md_contract_free(c);
}

static void test_section_every_key(void **state)
{
    struct md_contract *c;
    struct md_err err;

    (void)state;
    assert_int_equal(parse("training:\n"
                           "  trainer: sk\n"
                           "  params: {eta: 0.1, max_depth: 4, objective: 'binary:logistic'}\n"
                           "  window: 7d\n"
                           "  max_rows: 5000\n"
                           "  min_rows: 50\n"
                           "  holdout: 0.3\n"
                           "  expert_weight: 3\n"
                           "  base_dataset: original\n"
                           "  base_weight: 0.5\n"
                           "  timeout: 90s\n"
                           "  memory_mb: 512\n"
                           "  policy: rollout\n"
                           "  alias: next\n"
                           "  strategy: careful\n"
                           "  metric: log_loss\n"
                           "  margin: 0.02\n",
                           &c, &err),
                     MD_OK);
    assert_true(c->training.present);
    assert_string_equal(c->training.trainer, "sk");
    assert_int_equal(c->training.n_params, 3);
    assert_string_equal(c->training.params[0].key, "eta");
    assert_string_equal(c->training.params[0].value, "0.1");
    assert_string_equal(c->training.params[2].value, "binary:logistic");
    assert_int_equal(c->training.window_s, 7 * 86400);
    assert_int_equal(c->training.max_rows, 5000);
    assert_int_equal(c->training.min_rows, 50);
    assert_int_equal(c->training.timeout_s, 90);
    assert_int_equal(c->training.memory_mb, 512);
    assert_int_equal(c->training.policy, MD_TRAINED_ROLLOUT);
    assert_string_equal(c->training.alias, "next");
    assert_string_equal(c->training.strategy, "careful");
    assert_string_equal(c->training.metric, "log_loss");
    assert_string_equal(c->training.base_dataset, "original");
    md_contract_free(c);
    /* A window in seconds. */
    assert_int_equal(parse("training:\n  window: 3600\n", &c, &err), MD_OK);
    assert_int_equal(c->training.window_s, 3600);
    md_contract_free(c);
}

static void test_section_errors(void **state)
{
    (void)state;
    refused("training:\n  holdout: 0\n", "training.holdout: 0 is not a share between 0 and 1");
    refused("training:\n  holdout: 1\n", "training.holdout");
    refused("training:\n  command: [/bin/sh]\n",
            "training.command: a model.yaml never holds a command");
    refused("training:\n  policy: ship\n", "training.policy");
    refused("training:\n  metric: rmse\n", "training.metric");
    refused("training:\n  strategy: s\n", "training.strategy: needs policy: rollout");
    refused("training:\n  window: forever\n", "training.window: 'forever' is not a duration");
    refused("training:\n  timeout: 8d\n", "training.timeout");
    refused("training:\n  memory_mb: 8\n", "training.memory_mb: 8 is not between 16");
    refused("training:\n  min_rows: 1\n", "training.min_rows");
    refused("training:\n  max_rows: 10\n  min_rows: 20\n",
            "training.max_rows: 10 is below min_rows (20)");
    refused("training:\n  expert_weight: 0\n", "training.expert_weight: 0 is not a weight");
    refused("training:\n  margin: -1\n", "training.margin");
    refused("training:\n  alias: champion\n", "training.alias: 'champion' is kept by modeld");
    refused("training:\n  params: [1]\n", "training.params: must be a mapping");
    refused("training:\n  params: {a: [1]}\n", "training.params.a: must be a number");
    refused("training:\n  trainer: 'a b'\n", "training.trainer");
    refused("training:\n  nonsense: 1\n", "training");
    refused("training: 3\n", "training");
}

static void test_unknown_trainer(void **state)
{
    static const char *const names[] = {"sk", "r"};
    struct md_contract *c;
    struct md_err err;

    (void)state;
    md_contract_set_trainers(names, 2);
    assert_int_equal(parse("training:\n  trainer: r\n", &c, &err), MD_OK);
    md_contract_free(c);
    refused("training:\n  trainer: other\n",
            "training.trainer: 'other' is not a trainer of the daemon's configuration file");
    md_contract_set_trainers(NULL, 0);
    refused("training:\n  trainer: sk\n", "training.trainer: 'sk' is not a trainer");
}

/* ---- the trainings table ---------------------------------------------------------- */

struct seen {
    int64_t ids[8];
    char states[8][32];
    char result[8][256];
    size_t n;
    char last_model[8][32];
    int64_t last_ms[8];
    size_t n_last;
};

static void got(void *ctx, const struct md_store_training *t)
{
    struct seen *s = ctx;

    if (s->n < 8) {
        s->ids[s->n] = t->id;
        (void)snprintf(s->states[s->n], sizeof(s->states[0]), "%s", t->state);
        (void)snprintf(s->result[s->n], sizeof(s->result[0]), "%s", t->result);
    }
    s->n++;
}

static void got_last(void *ctx, const char *model, int64_t ms)
{
    struct seen *s = ctx;

    (void)snprintf(s->last_model[s->n_last], sizeof(s->last_model[0]), "%s", model);
    s->last_ms[s->n_last++] = ms;
}

struct tx_job {
    int step;
    struct seen *seen;
    int64_t id[3];
};

static int run_steps(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct tx_job *j = ctx;
    struct md_store_training t;
    size_t n = 0;

    memset(&t, 0, sizeof(t));
    switch (j->step) {
    case 0:
        t.model = "a";
        t.trigger = "manual";
        t.state = "queued";
        t.requested_ms = 1000;
        assert_int_equal(md_store_tx_training_add(tx, &t, &j->id[0], err), MD_OK);
        t.requested_ms = 2000;
        t.state = "queued";
        assert_int_equal(md_store_tx_training_add(tx, &t, &j->id[1], err), MD_OK);
        t.model = "b";
        t.trigger = "drift";
        t.requested_ms = 1500;
        assert_int_equal(md_store_tx_training_add(tx, &t, &j->id[2], err), MD_OK);
        /* The first ends; the others are left queued and running. */
        t.id = j->id[0];
        t.state = "succeeded";
        t.started_ms = 1001;
        t.finished_ms = 1100;
        t.rows = 42;
        t.version = 3;
        t.result = "{\"decision\":\"x\"}";
        assert_int_equal(md_store_tx_training_update(tx, &t, err), MD_OK);
        t.id = j->id[2];
        t.state = "running";
        t.result = NULL;
        assert_int_equal(md_store_tx_training_update(tx, &t, err), MD_OK);
        t.id = 999;
        assert_int_equal(md_store_tx_training_update(tx, &t, err), MD_ENOTFOUND);
        t.model = "";
        assert_int_equal(md_store_tx_training_add(tx, &t, &j->id[2], err), MD_EINVAL);
        return MD_OK;
    case 1:
        return md_store_tx_trainings(tx, "a", 0, got, j->seen, err);
    case 2:
        assert_int_equal(md_store_tx_trainings_abandon(tx, "gone", &n, err), MD_OK);
        assert_int_equal(n, 2);
        return md_store_tx_trainings(tx, NULL, 2, got, j->seen, err);
    case 3:
        assert_int_equal(md_store_tx_training_get(tx, 12345, got, j->seen, err), MD_ENOTFOUND);
        assert_int_equal(md_store_tx_trainings_last(tx, got_last, j->seen, err), MD_OK);
        return md_store_tx_training_get(tx, j->id[0], got, j->seen, err);
    }
    return MD_OK;
}

static void test_store(void **state)
{
    char dir[] = "/tmp/md-training-XXXXXX";
    struct md_store *s;
    struct md_err err;
    struct seen seen;
    struct tx_job j;
    char cmd[96];

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(md_store_open(dir, &s, &err), MD_OK);
    memset(&j, 0, sizeof(j));
    j.seen = &seen;
    assert_int_equal(md_store_call(s, run_steps, &j, &err), MD_OK);
    /* Newest first, of model a only. */
    memset(&seen, 0, sizeof(seen));
    j.step = 1;
    assert_int_equal(md_store_call(s, run_steps, &j, &err), MD_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.ids[0], j.id[1]);
    assert_string_equal(seen.states[0], "queued");
    assert_string_equal(seen.states[1], "succeeded");
    assert_string_equal(seen.result[1], "{\"decision\":\"x\"}");
    /* Abandoned: queued and running become failed with the reason; limit 2. */
    memset(&seen, 0, sizeof(seen));
    j.step = 2;
    assert_int_equal(md_store_call(s, run_steps, &j, &err), MD_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.states[0], "failed");
    assert_string_equal(seen.states[1], "failed");
    assert_non_null(strstr(seen.result[0], "\"reason\":\"gone\""));
    memset(&seen, 0, sizeof(seen));
    j.step = 3;
    assert_int_equal(md_store_call(s, run_steps, &j, &err), MD_OK);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.states[0], "succeeded");
    assert_int_equal(seen.n_last, 2);
    assert_string_equal(seen.last_model[0], "a");
    assert_int_equal(seen.last_ms[0], 2000);
    assert_string_equal(seen.last_model[1], "b");
    assert_int_equal(seen.last_ms[1], 1500);
    md_store_close(s);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- rows through a contract ---------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

static void test_rows(void **state)
{
    char path[] = "/tmp/md-rows-XXXXXX";
    struct md_contract_rows rows;
    struct md_contract *c;
    struct md_err err;
    int fd;

    (void)state;
    assert_int_equal(parse("", &c, &err), MD_OK);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    /* Columns: x, n, c=a, c=b, c=c, f. */
    assert_int_equal(c->width, 6);
    write_file(path, "{\"features\":{\"x\":1.5,\"n\":3,\"c\":\"b\",\"f\":true},\"label\":\"yes\","
                     "\"weight\":2}\n"
                     "\n"
                     "{\"features\":{\"x\":0,\"c\":\"a\",\"f\":false},\"label\":\"no\"}\n");
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_OK);
    assert_int_equal(rows.n_rows, 2);
    assert_true(rows.x[0] == 1.5f && rows.x[1] == 3.0f && rows.x[2] == 0.0f && rows.x[3] == 1.0f &&
                rows.x[5] == 1.0f);
    assert_true(isnan(rows.x[6 + 1])); /* n missing: NaN */
    assert_true(rows.y[0] == 1.0f && rows.y[1] == 0.0f);
    assert_true(rows.w[0] == 2.0f && rows.w[1] == 1.0f);
    md_contract_rows_release(&rows);
    /* Refusals name the line. */
    write_file(path, "{\"features\":{\"x\":1,\"c\":\"a\",\"f\":true},\"label\":\"yes\"}\n"
                     "{\"features\":{\"x\":1,\"c\":\"a\",\"f\":true},\"label\":\"maybe\"}\n");
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: label: 'maybe' is not a class of model 'm'"));
    assert_int_equal(rows.n_rows, 0);
    write_file(path, "{\"features\":{\"x\":\"big\",\"c\":\"a\",\"f\":true},\"label\":\"yes\"}\n");
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: feature 'x': not a FP32 value"));
    write_file(path, "{\"features\":{\"x\":500,\"c\":\"a\",\"f\":true},\"label\":\"yes\"}\n");
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "lines 1-1: "));
    write_file(path, "[1]\n");
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: not a JSON object with \"features\""));
    write_file(path, "{\"features\":{\"x\":1,\"c\":\"a\",\"f\":true},\"label\":\"yes\","
                     "\"weight\":0}\n");
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: weight: not a number above 0"));
    write_file(path, "{\"features\":{\"x\":1,\"c\":\"a\",\"f\":true},\"label\":\"yes\"}\n"
                     "{\"features\":{\"x\":1,\"c\":\"a\",\"f\":true},\"label\":\"yes\"}\n");
    assert_int_equal(md_contract_rows_read(c, path, 1, &rows, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "more than 1 rows"));
    unlink(path);
    assert_int_equal(md_contract_rows_read(c, path, 100, &rows, &err), MD_EIO);
    md_contract_free(c);
}

/* ---- profiles ----------------------------------------------------------------------- */

static void test_profile(void **state)
{
    static const char *const cats[] = {"a", "b", "c"};
    static const char *const labels[] = {"no", "yes"};
    struct md_profile_column cols[] = {{"x", 0, NULL, 0, false}, {"c", 1, cats, 3, true}};
    enum { N = 100, W = 4 };
    float *x = md_xcalloc(N * W, sizeof(float));
    float scores[N];
    struct md_profile_scores s = {scores, 1, labels, 2, 0.5};
    const struct md_profile_feature *f;
    struct md_profile *p;
    struct md_err err;
    char *text;

    (void)state;
    for (int i = 0; i < N; i++) {
        x[i * W] = i < 10 ? NAN : (float)i; /* 90 values 10..99, 10 missing */
        x[i * W + 1 + i % 3] = 1;
        scores[i] = (float)i / N;
    }
    text = md_profile_build(x, N, W, cols, 2, &s, "{\"roc_auc\":0.9}");
    assert_non_null(text);
    assert_int_equal(md_profile_parse(text, strlen(text), &p, &err), MD_OK);
    f = md_profile_feature(p, "x");
    assert_non_null(f);
    assert_int_equal(f->kind, MD_PROFILE_NUMERIC);
    assert_non_null(strstr(text, "\"edges\":[19,28,37,46,55,64,73,82,91]"));
    assert_non_null(strstr(text, "\"counts\":[10,9,9,9,9,9,9,9,9,8],\"missing\":10"));
    assert_non_null(strstr(text, "\"c\":{\"kind\":\"categorical\",\"counts\":{\"a\":34,\"b\":33,"
                                 "\"c\":33},\"other\":0,\"missing\":0}"));
    assert_non_null(strstr(text, "\"labels\":{\"no\":50,\"yes\":50}"));
    assert_non_null(strstr(text, "\"quality\":{\"roc_auc\":0.9}"));
    md_profile_unref(p);
    free(text);
    free(x);
}

/* ---- names and trainers ----------------------------------------------------------------- */

static void test_trigger_names(void **state)
{
    (void)state;
    for (int k = MD_TRIGGER_MANUAL; k <= MD_TRIGGER_LABELS; k++)
        assert_int_equal(md_trigger_kind_parse(md_trigger_kind_name((enum md_trigger_kind)k)), k);
    assert_int_equal(md_trigger_kind_parse("cosmic"), 0);
    assert_int_equal(md_trigger_kind_parse(NULL), 0);
    assert_string_equal(md_trigger_kind_name(MD_TRIGGER_DRIFT), "drift");
}

static int trainers_of(const char *text, struct md_trainers *t, struct md_err *err)
{
    yaml_document_t doc;
    int rc = md_yaml_load(text, strlen(text), "c.yaml", 0, &doc, err);

    memset(t, 0, sizeof(*t));
    if (rc == MD_OK) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        yaml_node_t *v = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);

        rc = md_trainers_parse(t, &doc, v, "c.yaml", err);
    }
    yaml_document_delete(&doc);
    return rc;
}

static void trainers_refused(const char *text, const char *fragment)
{
    struct md_trainers t;
    struct md_err err;

    assert_int_equal(trainers_of(text, &t, &err), MD_EINVAL);
    if (strstr(err.msg, fragment) == NULL)
        fail_msg("'%s' lacks '%s'", err.msg, fragment);
    md_trainers_release(&t);
}

static void test_trainers_section(void **state)
{
    struct md_trainers t;
    struct md_err err;

    (void)state;
    assert_int_equal(trainers_of("trainers:\n"
                                 "  sk:\n"
                                 "    command: [/usr/bin/python3, t.py, \"{train}\"]\n"
                                 "    timeout: 2m\n"
                                 "    memory_mb: 100\n"
                                 "  r:\n"
                                 "    command: [/bin/true]\n",
                                 &t, &err),
                     MD_OK);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0].name, "sk");
    assert_int_equal(t.v[0].argc, 3);
    assert_string_equal(t.v[0].argv[2], "{train}");
    assert_null(t.v[0].argv[3]);
    assert_int_equal(t.v[0].timeout_s, 120);
    assert_int_equal(t.v[0].memory_mb, 100);
    assert_int_equal(t.v[1].timeout_s, 0);
    md_trainers_release(&t);
    trainers_refused("trainers: [a]\n", "c.yaml:1: trainers: a mapping");
    trainers_refused("trainers:\n  x:\n    command: [sh]\n",
                     "trainers.x.command[0]: 'sh' is not an absolute path");
    trainers_refused("trainers:\n  x:\n    timeout: 1m\n", "trainers.x.command: missing");
    trainers_refused("trainers:\n  x:\n    command: /bin/true\n", "trainers.x.command: a list");
    trainers_refused("trainers:\n  x:\n    command: [/bin/true]\n    memory_mb: 1\n",
                     "trainers.x.memory_mb: '1' is not a whole number");
    trainers_refused("trainers:\n  x:\n    command: [/bin/true]\n    env: {}\n",
                     "trainers.x.env: not a value");
    trainers_refused("trainers:\n  '.x':\n    command: [/bin/true]\n", "trainers: a name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section_defaults),
        cmocka_unit_test(test_section_every_key),
        cmocka_unit_test(test_section_errors),
        cmocka_unit_test(test_unknown_trainer),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_trigger_names),
        cmocka_unit_test(test_trainers_section),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
