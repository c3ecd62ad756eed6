/* SPDX-License-Identifier: MIT */
/*
 * cron.h: five-field cron expressions, in UTC, and the next time one comes
 * due. The fields are minute (0-59), hour (0-23), day of month (1-31),
 * month (1-12 or jan-dec) and day of week (0-7 or sun-sat; 0 and 7 are
 * Sunday). Each field is a list of items separated by ',', an item being
 * '*', a value or a range lo-hi, optionally followed by /step ("*" + "/15",
 * "1-5", "mon-fri", "0,30", "10/20" = 10 to the field's end by 20). As in
 * Vixie cron, when both day fields are restricted (neither starts with
 * '*') a day matches when either does; otherwise both must. The shorthands
 * @hourly, @daily (@midnight), @weekly, @monthly and @yearly (@annually)
 * are taken too. Parsing only: nothing here reads a clock.
 */
#ifndef MD_UTIL_CRON_H
#define MD_UTIL_CRON_H

#include "util/common.h"
#include "util/err.h"

#define MD_CRON_MAX 256 /* bytes an expression may have */

/* A parsed expression: each field a set of values (bit n: value n). */
struct md_cron {
    uint64_t minutes; /* bits 0..59 */
    uint32_t hours;   /* bits 0..23 */
    uint32_t mdays;   /* bits 1..31 */
    uint16_t months;  /* bits 1..12 */
    uint8_t wdays;    /* bits 0..6, Sunday 0 */
    bool mday_star;   /* the day-of-month field starts with '*' */
    bool wday_star;   /* the day-of-week field starts with '*' */
};

/*
 * Reads text (NUL-terminated) into *out. MD_EINVAL naming the field and
 * what is wrong ("hour: 24 is not between 0 and 23", "day of month: 31
 * never comes in month 2"): a wrong count of fields, an unknown name, a
 * value out of range, a range whose start is past its end, a step of 0,
 * an expression that never comes due.
 */
int md_cron_parse(const char *text, struct md_cron *out, struct md_err *err) MD_MUST_CHECK;

/*
 * The first whole minute strictly after after_s (seconds since the epoch,
 * UTC) that c matches, in seconds since the epoch; -1 when none comes
 * within nine years (an expression md_cron_parse took always has one) or
 * after_s lies outside years 1970..9999.
 */
int64_t md_cron_next(const struct md_cron *c, int64_t after_s);

#endif
