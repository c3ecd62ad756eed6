/* SPDX-License-Identifier: MIT */
/*
 * log.h: JSON-lines logging on stderr, one object per line:
 *   {"ts":"2026-11-24T16:18:06.123Z","level":"info","msg":"..."}
 * md_log_kv adds one string field. Thread-safe: each line is one write(2).
 */
#ifndef MD_UTIL_LOG_H
#define MD_UTIL_LOG_H

#include "util/common.h"

enum md_log_level {
    MD_LOG_DEBUG = 0,
    MD_LOG_INFO = 1,
    MD_LOG_WARN = 2,
    MD_LOG_ERROR = 3,
    MD_LOG_OFF = 4
};

/* Lines below level are dropped. Default MD_LOG_INFO. */
void md_log_set_level(enum md_log_level level);
enum md_log_level md_log_get_level(void);
/* "debug", "info", "warn", "error", "off" -> level; -1 if unknown. */
int md_log_parse_level(const char *s);

void md_log(enum md_log_level level, const char *fmt, ...) MD_PRINTF(2, 3);
/*
 * As md_log, with extra fields: keys and string values, ended by MD_KV_END
 * (a null pointer of pointer type: a bare NULL may be an int 0, which a
 * variadic function cannot take as a pointer).
 */
void md_log_kv(enum md_log_level level, const char *msg, ...) __attribute__((sentinel));
#define MD_KV_END ((const char *)NULL)

#endif
