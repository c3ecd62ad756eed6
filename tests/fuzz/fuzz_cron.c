/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cron.c: cron expressions (util/cron.c): any text parsed; for one
 * taken, the next time it comes due after a few start times is a whole
 * minute, strictly later, and itself followed by a later one.
 */
#include "util/cron.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t starts[] = {0, 59, 1796648720, 4102444799, 253402300000LL};
    char text[MD_CRON_MAX + 2];
    size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    struct md_cron c;
    struct md_err err;

    memcpy(text, data, len);
    text[len] = '\0';
    if (md_cron_parse(text, &c, &err) != MD_OK)
        return 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(starts); i++) {
        int64_t t = md_cron_next(&c, starts[i]);

        if (t < 0)
            continue;
        assert(t > starts[i] && t % 60 == 0);
        assert(md_cron_next(&c, t) != t);
    }
    return 0;
}
