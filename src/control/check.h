/* SPDX-License-Identifier: MIT */
/*
 * check.h: `modeld --check`: the model repository loaded once, offline, by
 * the same scan the server runs at start-up, and reported as a table. It
 * owns the report (rows, order, the summary, the exit status); loading,
 * version policies and what a scan passes over are serve/repo.c's.
 */
#ifndef MD_CONTROL_CHECK_H
#define MD_CONTROL_CHECK_H

#include "util/common.h"

/*
 * Opens the repository at dir and scans it once as the server would (every
 * model.yaml parsed, each version its policy selects loaded by its engine and
 * checked against the contract), then writes to out a table, MODEL VERSION
 * STATE REASON, one row per model that has no version to show, per version
 * (READY, FAILED, or UNAVAILABLE when the version policy does not select it)
 * and per entry the scan passed over (IGNORED, with why), then a blank line
 * and a summary line. Problems opening the repository go to errout. Returns
 * 0 when every model.yaml and every selected version loads; 1 when one does
 * not, the repository cannot be read, or it holds no model. Everything it
 * loaded is freed before it returns.
 */
int md_check_repo(const char *dir, FILE *out, FILE *errout);

#endif
