/* SPDX-License-Identifier: MIT */
/*
 * trees_int.h: internals of the native tree engine (trees.c) that its tests,
 * its fuzz target and its benchmark reach. The serving layer uses only
 * md_backend_trees, through backend.h and the registry.
 */
#ifndef MD_BACKEND_TREES_INT_H
#define MD_BACKEND_TREES_INT_H

#include "backend/backend.h"

extern const struct md_backend_ops md_backend_trees;

/*
 * Loads an XGBoost 1.7 model, JSON text or UBJSON, from buf[0..len) (need
 * not be NUL-terminated) as md_backend_trees.load does from a file, without
 * engine options. On success *inst is an instance for md_backend_trees' describe,
 * predict and free. Returns MD_OK, MD_ECORRUPT, MD_EUNSUPPORTED or MD_ENOMEM
 * with a message in err. Safe on any bytes.
 */
int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err);

/*
 * Batches of 16 rows work out the first levels of every tree with vector
 * compares, in the best instruction set the CPU has: "avx2" (on x86-64) or
 * "generic" (GCC's vectors of four: SSE2 on x86-64, plain code elsewhere). md_trees__isa
 * names the one an instance uses; md_trees__set_isa makes it use another
 * (MD_OK, MD_EUNSUPPORTED when the CPU lacks it, MD_ENOTFOUND for an
 * unknown name). Outputs are the same floats whichever runs.
 */
const char *md_trees__isa(const void *inst);
int md_trees__set_isa(void *inst, const char *name);

#endif
