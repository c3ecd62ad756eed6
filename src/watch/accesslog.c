/* SPDX-License-Identifier: MIT */
/*
 * accesslog.c: formatting access-log lines and the writer thread that puts
 * them in the file. Two buffers: HTTP threads append to one under the mutex
 * while the writer writes the other out with no lock held.
 */
#include "watch/accesslog.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_MS   100
#define LINE_BYTES 2048 /* one line at most: the fields below are cut to fit */
#define PATH_CUT   512  /* bytes of a path kept */
#define NAME_CUT   256  /* bytes of a model name, method or id kept */

/* Paths that name a subject id (an erasure): the log keeps the route, not the id. */
#define SUBJECTS "/api/v1/subjects/"

struct md_access_log {
    char *path; /* NULL: standard output */
    int fd;
    pthread_t thread;
    pthread_mutex_t lock; /* guards buf, len, stop, reopen */
    pthread_cond_t wake;  /* the buffer is half full, or stop */
    char *buf;            /* lines waiting: appended under lock */
    size_t len;
    char *spare; /* the writer's: written out with no lock held */
    bool stop;
    bool reopen;
    bool failing; /* the last write failed (writer only): logged once */
    bool started; /* the writer thread runs */
    _Atomic uint64_t dropped;
};

/* Where a line is being written: the bytes left are end - p. */
struct cursor {
    char *p;
    char *end;
};

static void put_raw(struct cursor *c, const char *s, size_t n)
{
    if (n > (size_t)(c->end - c->p))
        n = (size_t)(c->end - c->p);
    memcpy(c->p, s, n);
    c->p += n;
}

/* Whether byte ch goes into a JSON string as it is. */
static inline bool plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

/* Whether s[0..n) is all plain, eight bytes at a time: the usual "has a byte
 * below k" tests for control bytes, '"' and '\\', plus every byte past ASCII. */
static bool all_plain(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high = 0x8080808080808080ULL;
    size_t i = 0;

    for (; n - i >= 8; i += 8) {
        uint64_t v;

        memcpy(&v, s + i, sizeof(v));
        if (((((v - ones * 0x20) | ((v ^ (ones * '"')) - ones) | ((v ^ (ones * '\\')) - ones)) &
              ~v) |
             v) &
            high)
            return false;
    }
    for (; i < n; i++)
        if (!plain((unsigned char)s[i]))
            return false;
    return true;
}

/* A JSON string of at most max bytes of s (the rest cut); NULL is null. Bytes
 * past ASCII are written \u00XX: the line stays valid JSON whatever the path held. */
static void put_str(struct cursor *c, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t n;
    size_t i;

    if (s == NULL) {
        put_raw(c, "null", 4);
        return;
    }
    n = strnlen(s, max);
    put_raw(c, "\"", 1);
    if (all_plain(s, n)) {
        /* Ids, methods, most paths and names: copied whole. */
        put_raw(c, s, n);
        put_raw(c, "\"", 1);
        return;
    }
    for (i = 0; i < n && c->end - c->p >= 8; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (plain(ch)) {
            *c->p++ = (char)ch;
        } else if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};

            put_raw(c, esc, sizeof(esc));
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

            put_raw(c, esc, sizeof(esc));
        }
    }
    put_raw(c, "\"", 1);
}

/* v in decimal. */
static void put_u64(struct cursor *c, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put_raw(c, tmp + sizeof(tmp) - n, n);
}

/* "2026-12-07T04:34:09.910Z": the part up to the seconds is made once a second per thread. */
static void put_time(struct cursor *c)
{
    static _Thread_local time_t last_sec = -1;
    static _Thread_local char head[32];
    static _Thread_local size_t head_len;
    struct timespec ts;
    long ms;
    char frac[5];

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last_sec) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        /* Every field is bounded: 20 of the 32 bytes. */
        head_len = (size_t)snprintf(head, sizeof(head), "%04d-%02d-%02dT%02d:%02d:%02d",
                                    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
                                    tm.tm_hour, tm.tm_min, tm.tm_sec);
        last_sec = ts.tv_sec;
    }
    put_raw(c, head, head_len);
    ms = (ts.tv_nsec / 1000000) % 1000;
    frac[0] = '.';
    frac[1] = (char)('0' + ms / 100);
    frac[2] = (char)('0' + ms / 10 % 10);
    frac[3] = (char)('0' + ms % 10);
    frac[4] = 'Z';
    put_raw(c, frac, sizeof(frac));
}

/* "127.0.0.1:51234", "[::1]:51234", or null. */
static void put_peer(struct cursor *c, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];
    const void *addr;
    unsigned port;

    if (sa != NULL && sa->sa_family == AF_INET) {
        /* By hand: inet_ntop formats an IPv4 address with sprintf, a third of a line's cost. */
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        uint32_t a = ntohl(in->sin_addr.s_addr);

        put_raw(c, "\"", 1);
        put_u64(c, a >> 24);
        put_raw(c, ".", 1);
        put_u64(c, (a >> 16) & 255);
        put_raw(c, ".", 1);
        put_u64(c, (a >> 8) & 255);
        put_raw(c, ".", 1);
        put_u64(c, a & 255);
        put_raw(c, ":", 1);
        put_u64(c, ntohs(in->sin_port));
        put_raw(c, "\"", 1);
        return;
    }
    if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        addr = &in6->sin6_addr;
        port = ntohs(in6->sin6_port);
    } else {
        put_raw(c, "null", 4);
        return;
    }
    if (inet_ntop(sa->sa_family, addr, host, sizeof(host)) == NULL) {
        put_raw(c, "null", 4);
        return;
    }
    /* Addresses as inet_ntop writes them have nothing to escape. */
    put_raw(c, sa->sa_family == AF_INET6 ? "\"[" : "\"", sa->sa_family == AF_INET6 ? 2 : 1);
    put_raw(c, host, strlen(host));
    put_raw(c, sa->sa_family == AF_INET6 ? "]:" : ":", sa->sa_family == AF_INET6 ? 2 : 1);
    put_u64(c, port);
    put_raw(c, "\"", 1);
}

/* The line for rec into line (LINE_BYTES bytes); its length. */
static size_t format(const struct md_access_rec *rec, char *line)
{
    struct cursor c = {line, line + LINE_BYTES - 64}; /* 64: the numbers and the end */

    put_raw(&c, "{\"ts\":\"", 7);
    put_time(&c);
    put_raw(&c, "\",\"id\":", 7);
    put_str(&c, rec->id, NAME_CUT);
    put_raw(&c, ",\"client\":", 10);
    put_peer(&c, rec->peer);
    put_raw(&c, ",\"method\":", 10);
    put_str(&c, rec->method, NAME_CUT);
    put_raw(&c, ",\"path\":", 8);
    /* An erasure's path names the subject: the log keeps the route, not the id. */
    if (rec->path != NULL && strncmp(rec->path, SUBJECTS, sizeof(SUBJECTS) - 1) == 0)
        put_str(&c, SUBJECTS "{subject}", PATH_CUT);
    else
        put_str(&c, rec->path, PATH_CUT);
    put_raw(&c, ",\"model\":", 9);
    put_str(&c, rec->model, NAME_CUT);
    put_raw(&c, ",\"version\":", 11);
    put_str(&c, rec->version != NULL && rec->version[0] != '\0' ? rec->version : NULL, NAME_CUT);
    /* The 64 bytes kept back hold these two numbers and the end. */
    c.end = line + LINE_BYTES;
    put_raw(&c, ",\"status\":", 10);
    put_u64(&c, rec->status > 0 ? (uint64_t)rec->status : 0);
    put_raw(&c, ",\"latency_us\":", 14);
    put_u64(&c, rec->latency_us);
    put_raw(&c, "}\n", 2);
    return (size_t)(c.p - line);
}

bool md_access_log_write(struct md_access_log *l, const struct md_access_rec *rec)
{
    char line[LINE_BYTES];
    size_t n = format(rec, line);
    bool kept;

    pthread_mutex_lock(&l->lock);
    kept = l->len + n <= MD_ACCESS_LOG_BUFFER;
    if (kept) {
        memcpy(l->buf + l->len, line, n);
        l->len += n;
        /* Wake the writer once, when the buffer passes half full. */
        if (l->len >= MD_ACCESS_LOG_BUFFER / 2 && l->len - n < MD_ACCESS_LOG_BUFFER / 2)
            pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&l->lock);
    if (!kept)
        atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
    return kept;
}

static int open_file(const char *path, struct md_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd < 0)
        return md_err_set(err, MD_EIO, "access log '%s': %s", path, strerror(errno));
    return fd;
}

/* Writes n bytes of p; false (errno set) on a failure. */
static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void flush(struct md_access_log *l, size_t n, bool reopen)
{
    if (reopen && l->path != NULL) {
        struct md_err err;
        int fd = open_file(l->path, &err);

        if (fd < 0) {
            md_log_kv(MD_LOG_ERROR, "access log not reopened", "reason", err.msg, MD_KV_END);
        } else {
            (void)close(l->fd); /* every byte was written: nothing to lose */
            l->fd = fd;
        }
    }
    if (n == 0)
        return;
    if (write_all(l->fd, l->spare, n)) {
        l->failing = false;
    } else if (!l->failing) {
        l->failing = true;
        md_log_kv(MD_LOG_ERROR, "access log write failed; lines lost until it works again",
                  "reason", strerror(errno), MD_KV_END);
    }
}

static void *writer(void *arg)
{
    struct md_access_log *l = arg;
    bool stop = false;

    while (!stop) {
        struct timespec until;
        char *full;
        size_t n;
        bool reopen;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&l->lock);
        while (!l->stop && !l->reopen && l->len < MD_ACCESS_LOG_BUFFER / 2)
            if (pthread_cond_timedwait(&l->wake, &l->lock, &until) == ETIMEDOUT)
                break;
        full = l->buf;
        l->buf = l->spare;
        l->spare = full;
        n = l->len;
        l->len = 0;
        reopen = l->reopen;
        l->reopen = false;
        stop = l->stop;
        pthread_mutex_unlock(&l->lock);
        flush(l, n, reopen);
    }
    return NULL;
}

int md_access_log_open(const char *path, struct md_access_log **out, struct md_err *err)
{
    struct md_access_log *l;
    pthread_condattr_t ca;
    int fd = STDOUT_FILENO;

    *out = NULL;
    if (strcmp(path, "-") != 0) {
        fd = open_file(path, err);
        if (fd < 0)
            return MD_EIO;
    }
    l = md_xcalloc(1, sizeof(*l));
    l->path = strcmp(path, "-") != 0 ? md_xstrdup(path) : NULL;
    l->fd = fd;
    l->buf = md_xmalloc(MD_ACCESS_LOG_BUFFER);
    l->spare = md_xmalloc(MD_ACCESS_LOG_BUFFER);
    atomic_init(&l->dropped, 0);
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &ca);
    pthread_condattr_destroy(&ca);
    l->started = pthread_create(&l->thread, NULL, writer, l) == 0;
    if (!l->started) {
        md_access_log_close(l);
        return md_err_set(err, MD_EINTERNAL, "access log: cannot start its writer thread");
    }
    *out = l;
    return MD_OK;
}

void md_access_log_reopen(struct md_access_log *l)
{
    pthread_mutex_lock(&l->lock);
    l->reopen = true;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
}

uint64_t md_access_log_dropped(const struct md_access_log *l)
{
    return atomic_load_explicit(&l->dropped, memory_order_relaxed);
}

void md_access_log_close(struct md_access_log *l)
{
    if (l == NULL)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_signal(&l->wake);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
    }
    if (l->path != NULL)
        (void)close(l->fd); /* written with write(2): nothing buffered to lose */
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->lock);
    free(l->buf);
    free(l->spare);
    free(l->path);
    free(l);
}
