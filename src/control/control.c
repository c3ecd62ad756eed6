/* SPDX-License-Identifier: MIT */
/*
 * control.c: the control loop thread.
 */
#include "control/control.h"
#include "util/log.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct md_control {
    struct md_repo *repo;
    unsigned poll_s;
    pthread_t thread;
    _Atomic bool stop;
    _Atomic bool scan; /* a re-scan was asked for */
};

static void *loop(void *arg)
{
    struct md_control *c = arg;
    struct timespec tick = {0, 100000000L}; /* 100 ms */
    unsigned ticks = 0;

    while (!atomic_load(&c->stop)) {
        nanosleep(&tick, NULL);
        ticks++;
        if (atomic_exchange(&c->scan, false)) {
            md_log(MD_LOG_INFO, "re-scanning the repository");
            md_repo_scan(c->repo);
            ticks = 0;
            continue;
        }
        if (c->poll_s > 0 && ticks >= c->poll_s * 10) {
            md_repo_scan(c->repo);
            ticks = 0;
        }
    }
    return NULL;
}

int md_control_start(struct md_repo *repo, unsigned poll_s, struct md_control **out,
                     struct md_err *err)
{
    struct md_control *c = md_xcalloc(1, sizeof(*c));

    c->repo = repo;
    c->poll_s = poll_s;
    atomic_init(&c->stop, false);
    atomic_init(&c->scan, false);
    if (pthread_create(&c->thread, NULL, loop, c) != 0) {
        free(c);
        return md_err_set(err, MD_EINTERNAL, "cannot start the control thread");
    }
    *out = c;
    return MD_OK;
}

void md_control_request_scan(struct md_control *c)
{
    atomic_store(&c->scan, true);
}

void md_control_stop(struct md_control *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    free(c);
}
