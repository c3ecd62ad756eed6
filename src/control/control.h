/* SPDX-License-Identifier: MIT */
/*
 * control.h: the once-a-second loop, the only place that joins the layers
 * below it. Today it re-scans the model repository every `poll_s` seconds and
 * on request (SIGHUP); rollouts, drift windows and alert rules will tick here.
 */
#ifndef MD_CONTROL_CONTROL_H
#define MD_CONTROL_CONTROL_H

#include "util/common.h"
#include "util/err.h"
#include "serve/repo.h"

struct md_control;

/* Starts the loop thread. poll_s 0 = no polling (SIGHUP and explicit calls only). */
int md_control_start(struct md_repo *repo, unsigned poll_s, struct md_control **out,
                     struct md_err *err) MD_MUST_CHECK;

/* Asks for a repository re-scan at the next tick (async-signal-safe). */
void md_control_request_scan(struct md_control *c);

/* Stops and joins the loop thread. NULL ok. */
void md_control_stop(struct md_control *c);

#endif
