/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dataset_csv.c: the base dataset's CSV check (learn/dataset.c's
 * md_dataset_check_csv) and header reading, on any bytes, against a
 * classification spec and a regression one: never a crash, and a refusal
 * always with a message.
 */
#include "learn/dataset.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const labels[] = {"legit", "fraud", "other"};
static const char *const features[] = {"amount", "merchant", "distance", "flag"};
static const bool text[] = {false, true, false, false};
static const bool optional[] = {false, false, true, true};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_dataset_spec spec;
    struct md_err err;
    uint64_t rows;
    char *cols;

    memset(&spec, 0, sizeof(spec));
    spec.model = "m";
    spec.labels = labels;
    spec.n_labels = 3;
    spec.features = features;
    spec.text = text;
    spec.optional = optional;
    spec.n_features = 4;
    err.msg[0] = '\0';
    if (md_dataset_check_csv(&spec, (const char *)data, size, &rows, &err) != MD_OK &&
        err.msg[0] == '\0')
        abort();
    spec.regression = true;
    spec.labels = NULL;
    spec.n_labels = 0;
    spec.optional = NULL;
    if (md_dataset_check_csv(&spec, (const char *)data, size, &rows, &err) != MD_OK &&
        err.msg[0] == '\0')
        abort();
    cols = md_dataset_csv_columns((const char *)data, size, &err);
    free(cols);
    return 0;
}
