/* SPDX-License-Identifier: MIT */
/*
 * log.c: JSON-lines log writer.
 */
#include "util/log.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = MD_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void md_log_set_level(enum md_log_level level)
{
    atomic_store(&min_level, (int)level);
}

enum md_log_level md_log_get_level(void)
{
    return (enum md_log_level)atomic_load(&min_level);
}

int md_log_parse_level(const char *s)
{
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    if (strcmp(s, "warning") == 0)
        return MD_LOG_WARN;
    return -1;
}

static void emit(enum md_log_level level, const char *msg, va_list *kv)
{
    char stamp[64];
    struct timespec ts;
    struct tm tm;
    struct md_buf b;
    ssize_t w;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* Every field is bounded: the stamp takes 24 of the 64 bytes. */
    (void)snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                   (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);
    md_buf_init(&b, (size_t)64 << 10);
    md_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", stamp, names[level]);
    md_buf_json_str(&b, msg, strlen(msg));
    while (kv != NULL) {
        const char *k = va_arg(*kv, const char *);
        const char *v;

        if (k == NULL)
            break;
        v = va_arg(*kv, const char *);
        md_buf_putc(&b, ',');
        md_buf_json_str(&b, k, strlen(k));
        md_buf_putc(&b, ':');
        md_buf_json_str(&b, v ? v : "", v ? strlen(v) : 0);
    }
    md_buf_puts(&b, "}\n");
    /* A line past 64 KiB, or no memory for it: not written at all. */
    if (md_buf_error(&b) == MD_OK) {
        w = write(STDERR_FILENO, b.data, b.len);
        MD_UNUSED(w);
    }
    md_buf_release(&b);
}

void md_log(enum md_log_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if ((int)level < atomic_load(&min_level) || level >= MD_LOG_OFF)
        return;
    va_start(ap, fmt);
    /* A longer log line is cut short at 2 KiB. */
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, msg, NULL);
}

void md_log_kv(enum md_log_level level, const char *msg, ...)
{
    va_list ap;

    if ((int)level < atomic_load(&min_level) || level >= MD_LOG_OFF)
        return;
    va_start(ap, msg);
    emit(level, msg, &ap);
    va_end(ap);
}
