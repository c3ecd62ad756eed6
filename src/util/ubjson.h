/* SPDX-License-Identifier: MIT */
/*
 * ubjson.h: a strict reader for UBJSON (Universal Binary JSON, ubjson.org
 * draft 12), the binary JSON that XGBoost writes to `.ubj` model files.
 *
 * It builds the same tree of struct md_jnode that util/jdom builds from JSON
 * text, in an arena, so that one reader of a document serves both forms.
 * What it reads:
 *
 *   Z null, T true, F false; i U I l L integers (8 to 64 bits, big-endian),
 *   d and D floats (32 and 64 bits), C a character, S a string (a length
 *   then UTF-8 bytes); [ arrays ] plain, with a count (`[#` count values) or
 *   typed (`[$` type `#` count, values without markers); { objects } whose
 *   keys are a length then UTF-8 bytes.
 *
 * A number becomes a NUMBER node whose text converts back to the very value
 * written (md_jdom_i64 for integers, md_jdom_f64 for floats; a non-finite
 * float reads NaN, Infinity or -Infinity, as jdom's MD_JDOM_NANINF words). A
 * non-empty typed array of numbers becomes a packed array as jdom's
 * MD_JDOM_PACKED makes them (values holds its n numbers as doubles, child is
 * NULL), except that it has no text (p NULL, len 0), so md_jdom_packed_next
 * and md_jdom_packed_f32/f64 do not apply, and a NaN in values is a NaN the
 * file holds (an integer beyond 2^53 is rounded to the nearest double).
 *
 * Refused (MD_EINVAL, "invalid UBJSON at byte N: reason"): the no-op marker
 * N and high-precision numbers H (XGBoost writes neither and libxgboost reads
 * neither), optimized objects (`{$`, `{#`), typed arrays of anything but
 * numbers, negative lengths and counts, a count or length beyond the bytes
 * left, strings and keys that are not UTF-8, nesting deeper than
 * MD_JDOM_MAX_DEPTH, and any byte after the document.
 */
#ifndef MD_UTIL_UBJSON_H
#define MD_UTIL_UBJSON_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "util/jdom.h"

/*
 * Parses buf[0..len). On success *root points at the tree, all in arena a
 * (strings may point into buf, which must outlive the tree). MD_EINVAL with a
 * message on malformed input, MD_ETOOBIG when the arena's maximum is
 * reached. Safe on any bytes.
 */
int md_ubjson_parse(const char *buf, size_t len, struct md_arena *a, struct md_jnode **root,
                    struct md_err *err) MD_MUST_CHECK;

#endif
