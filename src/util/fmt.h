/* SPDX-License-Identifier: MIT */
/*
 * fmt.h: number formatting for JSON bodies.
 */
#ifndef MD_UTIL_FMT_H
#define MD_UTIL_FMT_H

#include "util/common.h"
#include "util/buf.h"

/* Appends v with enough digits to read back the same float (double);
 * NaN and infinities as `nan_text` (e.g. "null" or "NaN"). */
int md_buf_f32(struct md_buf *b, float v, const char *nan_text) MD_MUST_CHECK;
int md_buf_f64(struct md_buf *b, double v, const char *nan_text) MD_MUST_CHECK;
int md_buf_i64(struct md_buf *b, int64_t v) MD_MUST_CHECK;

#endif
