/* SPDX-License-Identifier: MIT */
/*
 * fmt.h: number formatting for JSON bodies.
 */
#ifndef MD_UTIL_FMT_H
#define MD_UTIL_FMT_H

#include "util/common.h"
#include "util/buf.h"

/* The most bytes md_fmt_f32 writes ("-1.23456789e-38", "-1234567800000000"). */
#define MD_FMT_F32_MAX 24

/*
 * Writes the finite float v at out as the shortest decimal that reads back
 * as v (strtof(text) == v; of equally short ones the nearest to v), without
 * a terminating NUL, and returns its length. The notation is Python's repr:
 * plain digits for 1e-4 <= |v| < 1e16 ("0.1", "-2.5", "123", "0.0001"),
 * scientific otherwise ("1e-05", "1.5e+16"); 0 is "0" and -0 "-0". v must be
 * finite (NaN and infinities have no JSON text).
 */
size_t md_fmt_f32(char *out, float v);

/* The md_buf_* appenders here keep buf.h's rules: the first failure is
 * remembered in b, and each returns b's error after the call. */

/* Appends v as md_fmt_f32 writes it (a double: "%.17g"); NaN and infinities
 * as `nan_text` (e.g. "null"), or as NaN, Infinity, -Infinity when nan_text
 * is "NaN". */
int md_buf_f32(struct md_buf *b, float v, const char *nan_text);
int md_buf_f64(struct md_buf *b, double v, const char *nan_text);
int md_buf_i64(struct md_buf *b, int64_t v);

/*
 * Appends rows * width numbers separated by commas (no brackets): row r's
 * are v[r * stride .. r * stride + width), as md_buf_f32 writes them, or as
 * md_buf_f64 when wide. Grows b once per batch of rows, not per number.
 * Returns b's error (buf.h), which a failure part way sets: the batches
 * before it stay in b.
 */
int md_buf_floats(struct md_buf *b, const float *v, size_t rows, size_t width, size_t stride,
                  bool wide, const char *nan_text);

#endif
