/* SPDX-License-Identifier: MIT */
/*
 * rollout_int.h: what rollout.c (the state machine) and rollout_json.c (the
 * JSON forms) share, and nothing else includes.
 */
#ifndef MD_SERVE_ROLLOUT_INT_H
#define MD_SERVE_ROLLOUT_INT_H

#include "serve/rollout.h"

/* Copies the NUL-terminated src into dst (n bytes, n >= 1), cut when it does
 * not fit at a UTF-8 character boundary, so that the text stays valid. */
void md_rollout__copy_text(char *dst, size_t n, const char *src);

#endif
