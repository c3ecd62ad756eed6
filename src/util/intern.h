/* SPDX-License-Identifier: MIT */
/*
 * intern.h: interned names: one copy of each distinct string, alive until
 * the process ends, so that a name handed to many requests (a traffic
 * route's) is one stable pointer that statistics can key on.
 */
#ifndef MD_UTIL_INTERN_H
#define MD_UTIL_INTERN_H

#include "util/common.h"

/* The interned copy of s (made on first sight). Thread-safe; takes a lock:
 * for writers (publishing a snapshot), not for every request. */
const char *md_intern(const char *s);

#endif
