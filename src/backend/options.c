/* SPDX-License-Identifier: MIT */
/*
 * options.c: engine options that several engines share.
 */
#include "backend/backend.h"

#include <errno.h>

int md_backend_nthread_option(const struct md_backend_config *cfg, const char *engine, long max,
                              long *nthread, struct md_err *err)
{
    size_t i;

    for (i = 0; cfg != NULL && i < cfg->n_options; i++) {
        const char *k = cfg->options[i].key;
        const char *v = cfg->options[i].value;
        char *end;
        long n;

        if (strcmp(k, "nthread") != 0)
            return md_err_set(err, MD_EINVAL,
                              "engine option '%s': unknown to backend '%s' (known: nthread)", k,
                              engine);
        errno = 0;
        n = v == NULL ? 0 : strtol(v, &end, 10);
        if (v == NULL || end == v || *end != '\0' || errno != 0 || n < 1 || n > max)
            return md_err_set(err, MD_EINVAL,
                              "engine option 'nthread': '%s' is not an integer from 1 to %ld",
                              v == NULL ? "" : v, max);
        *nthread = n;
    }
    return MD_OK;
}
