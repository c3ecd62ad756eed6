/* SPDX-License-Identifier: MIT */
/*
 * loadcheck.h: trying a load through a foreign library (libxgboost) in a
 * short-lived helper process first, so that an artifact that crashes the
 * library, hangs it or makes it exhaust memory ends the helper, never the
 * daemon and the other models it serves.
 *
 * The helper is the modeld binary itself in its load-check mode, `modeld
 * --load-check ENGINE [KEY=VALUE...]` with the artifact's bytes on its
 * stdin, started fresh (util/spawn: posix_spawn, never a fork of the
 * threaded daemon) under a time and a resident-memory limit. It loads the
 * bytes with the engine, predicts one row of NaNs and one of zeros, and
 * writes "ok", or "error CODE MESSAGE" with the engine's own error. Only
 * then does the engine load the same bytes in the daemon.
 *
 * Off (every load in-process, as in unit tests and benchmarks that do not
 * turn it on) until md_loadcheck_configure names the program to run; main
 * names /proc/self/exe.
 */
#ifndef MD_BACKEND_LOADCHECK_H
#define MD_BACKEND_LOADCHECK_H

#include "backend/backend.h"

#define MD_LOADCHECK_TIMEOUT_S 30   /* default time limit of a helper */
#define MD_LOADCHECK_MEMORY_MB 4096 /* default resident-memory limit of a helper */

struct md_loadcheck_config {
    const char *exe;     /* the modeld program to run as the helper; NULL: off */
    unsigned timeout_ms; /* > 0 */
    size_t memory_bytes; /* > 0 */
};

/*
 * Sets how helpers run (exe is copied). Call before the threads that load
 * versions start (main does, right after its flags); tests may call it again
 * between loads.
 */
void md_loadcheck_configure(const struct md_loadcheck_config *c);

/*
 * An engine's load calls this with the artifact's bytes before it gives
 * them to a foreign library. Returns MD_OK when the helper loaded them and
 * predicted, or at once when load checks are off or this process is itself
 * a helper. Otherwise: the helper's error (the engine's code and message),
 * or MD_ECORRUPT when the helper crashed ("... crashed with SIGSEGV
 * (Segmentation fault)"), MD_ETIMEDOUT when it ran out of time, MD_ENOMEM
 * when it went over the memory limit, MD_EINTERNAL when it could not run;
 * each message names the engine and says what happened. Blocks until the
 * helper ends; safe from several threads at once.
 */
int md_loadcheck_run(const char *engine, const char *buf, size_t len,
                     const struct md_backend_config *cfg, struct md_err *err) MD_MUST_CHECK;

/*
 * The helper's side: main calls it first thing for `modeld --load-check`,
 * with the arguments after that flag (ENGINE [KEY=VALUE...]), before any
 * thread starts. Returns the process's exit status: 0 (it loaded and
 * predicted), 1 (the engine refused it), 2 (usage).
 */
int md_loadcheck_main(int argc, char **argv);

#endif
