/* SPDX-License-Identifier: MIT */
/*
 * fuzz_feedback.c: libFuzzer target for the body of POST /api/v1/feedback.
 * Arbitrary bytes go to md_feedback_parse. A refused body must say why; an
 * accepted one holds 1 to MD_FEEDBACK_MAX_ITEMS items, each either refused
 * with a message naming its field, or complete: a model, a row named by a
 * request id or a key (not both), one outcome of a known kind (a label for
 * a label, a finite number for the others), a known source, every string
 * within its limit.
 */
#include "api/feedback.h"

#include <math.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void check_item(const struct md_feedback_item *it, bool many)
{
    const struct md_store_feedback *f = &it->f;

    if (it->err.code != MD_OK) {
        CHECK(it->err.code == MD_EINVAL || it->err.code == MD_ETOOBIG);
        CHECK(it->err.msg[0] != '\0');
        CHECK(!many || it->err.code != MD_EINVAL || strncmp(it->err.msg, "items[", 6) == 0);
        return;
    }
    CHECK(f->model != NULL && f->model[0] != '\0' && strlen(f->model) <= MD_STORE_NAME_MAX);
    CHECK((f->request_id != NULL) != (f->key_name != NULL));
    if (f->request_id != NULL)
        CHECK(f->request_id[0] != '\0' && strlen(f->request_id) <= MD_FEEDBACK_MAX_ID);
    else
        CHECK(f->key_value != NULL && f->key_value[0] != '\0' && f->row == -1);
    CHECK(f->row >= -1);
    CHECK(strcmp(f->source, "user") == 0 || strcmp(f->source, "system") == 0 ||
          strcmp(f->source, "expert") == 0);
    CHECK(f->comment == NULL || strlen(f->comment) <= MD_FEEDBACK_MAX_COMMENT);
    if (f->kind == MD_FEEDBACK_LABEL)
        CHECK(f->label != NULL && f->label[0] != '\0' &&
              strlen(f->label) <= MD_FEEDBACK_MAX_LABEL);
    else
        CHECK((f->kind == MD_FEEDBACK_VALUE || f->kind == MD_FEEDBACK_REWARD ||
               f->kind == MD_FEEDBACK_RATING) &&
              isfinite(f->value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_arena a;
    struct md_feedback_batch b;
    struct md_err err;

    md_arena_init(&a, 1u << 24);
    if (md_feedback_parse((const char *)data, size, &a, &b, &err) != MD_OK) {
        CHECK(err.code == MD_EINVAL || err.code == MD_ETOOBIG);
        CHECK(err.msg[0] != '\0');
    } else {
        CHECK(b.n >= 1 && b.n <= MD_FEEDBACK_MAX_ITEMS);
        CHECK(b.many || b.n == 1);
        for (size_t i = 0; i < b.n; i++)
            check_item(&b.items[i], b.many);
    }
    md_arena_release(&a);
    return 0;
}
