/* SPDX-License-Identifier: MIT */
/*
 * common.h: included first by every source file after its own header. Pulls in
 * the few standard headers everything uses, the banned-function list and the
 * project-wide macros.
 */
#ifndef MD_UTIL_COMMON_H
#define MD_UTIL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>

#include "util/banned.h"

#define MD_MUST_CHECK   __attribute__((warn_unused_result))
#define MD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MD_UNUSED(x)    ((void)(x))
#define MD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MD_LIKELY(x)    __builtin_expect(!!(x), 1)
#define MD_UNLIKELY(x)  __builtin_expect(!!(x), 0)

/*
 * Vectors of four 32-bit lanes (and four doubles) for GCC's vector
 * extensions: SSE2 on x86-64, plain code where the machine has no vectors.
 * Comparisons give md_i32x4 lanes of -1 or 0.
 */
typedef float md_f32x4 __attribute__((vector_size(16)));
typedef int32_t md_i32x4 __attribute__((vector_size(16)));
typedef uint32_t md_u32x4 __attribute__((vector_size(16)));
typedef double md_f64x4 __attribute__((vector_size(32)));

/* Internals that unit tests reach: static in the daemon, visible in tests. */
#ifdef MD_UNIT_TEST
#define MD_STATIC
#else
#define MD_STATIC static
#endif

/* A bug, not an error: going on would corrupt memory, so stop with file:line. */
#define MD_BUG(msg) md_bug(__FILE__, __LINE__, (msg))
void md_bug(const char *file, int line, const char *msg) __attribute__((noreturn));

#endif
