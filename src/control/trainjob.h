/* SPDX-License-Identifier: MIT */
/*
 * trainjob.h: the training child, `modeld --train DIR`: a fresh run of the
 * modeld binary (never a fork of the daemon) that does a training run's
 * slow work in its run directory, under the limits the runner set
 * (control/trainrun.c). The directory holds:
 *
 *   job.json       what to do: {"model", "mode": "native" | "evaluate",
 *                  "threads", "params": {...}, "parent": the champion's
 *                  artifact or null, "artifact": where the candidate is
 *                  (written here by a native training; by the trainer
 *                  otherwise), "champion": {"artifact", "yaml"} or null}
 *   model.yaml     the candidate's contract (the model's)
 *   champion.yaml  the champion's contract, when there is one
 *   train.jsonl    the training rows (learn/dataset.h's JSON lines)
 *   holdout.jsonl  the held-out rows
 *
 * Native: the rows go through the contract (serve/contract_rows.h) and the
 * engine's train writes the artifact. Both modes then evaluate the
 * candidate, and the champion, on the held-out rows (watch/quality.h's
 * figures) and write evaluation.json ({"candidate": {...}, "champion":
 * {...} or null, "holdout_rows", "train_rows"}) and profile.json (the
 * candidate's reference profile of the training rows, for drift). The
 * outcome is result.json: {"ok": true} or {"ok": false, "code", "error"},
 * and the error's first line on stdout.
 */
#ifndef MD_CONTROL_TRAINJOB_H
#define MD_CONTROL_TRAINJOB_H

#include "util/common.h"

/*
 * main calls it first thing for `modeld --train DIR`, with the arguments
 * after the flag, before any thread starts. Returns the exit status: 0
 * done, 1 refused or failed (result.json says why), 2 usage.
 */
int md_trainjob_main(int argc, char **argv);

/*
 * `modeld --exec-trainer PROGRAM [ARG...]`: how an external trainer is
 * started, so that it dies with the daemon as the training child does
 * (PR_SET_PDEATHSIG survives the exec): the death signal set, then PROGRAM
 * replaces this process with the arguments as given. Returns (127) only
 * when it cannot: a message on stderr says why.
 */
int md_trainjob_exec(int argc, char **argv);

#endif
