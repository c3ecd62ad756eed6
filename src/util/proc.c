/* SPDX-License-Identifier: MIT */
/*
 * proc.c: reading /proc/self for md_proc_stats, the way Prometheus' client
 * libraries do (utime + stime, rss pages, vsize, boot time + starttime).
 */
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads at most size - 1 bytes of path into buf, NUL-terminated. */
static int read_small(const char *path, char *buf, size_t size, struct md_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    while (got < size - 1) {
        ssize_t n = read(fd, buf + got, size - 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    (void)close(fd); /* read only: nothing to lose */
    buf[got] = '\0';
    return MD_OK;
}

/* Boot time, seconds since the epoch: the btime line of /proc/stat. */
static int boot_time(uint64_t *out, struct md_err *err)
{
    char buf[8192]; /* btime comes after the per-CPU lines: room for 64 of them */
    const char *p;
    int rc = read_small("/proc/stat", buf, sizeof(buf), err);

    if (rc != MD_OK)
        return rc;
    p = strstr(buf, "\nbtime ");
    if (p == NULL)
        return md_err_set(err, MD_EIO, "/proc/stat: no btime line");
    *out = strtoull(p + 7, NULL, 10);
    return MD_OK;
}

static uint64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    uint64_t n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        /* Not ".", "..", nor the descriptor reading the directory. */
        if (de->d_name[0] != '.' && strtol(de->d_name, NULL, 10) != dirfd(d))
            n++;
    }
    closedir(d);
    return n;
}

int md_proc_stats(struct md_proc_stats *out, struct md_err *err)
{
    char buf[1024]; /* /proc/self/stat is one line of 52 numbers and the name */
    const char *p;
    unsigned long long f[24];
    uint64_t btime = 0;
    long tick = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = read_small("/proc/self/stat", buf, sizeof(buf), err);
    if (rc != MD_OK)
        return rc;
    /* The name, in parentheses, may hold blanks and parentheses: fields start after the last ')'.
     */
    p = strrchr(buf, ')');
    if (p == NULL)
        return md_err_set(err, MD_EIO, "/proc/self/stat: no ')' after the name");
    p++;
    /* f[0] is field 3 (the state, a letter: read as 0); f[i] is field i + 3. */
    for (i = 0; i < MD_ARRAY_LEN(f); i++) {
        char *end;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            return md_err_set(err, MD_EIO, "/proc/self/stat: %zu fields, expected 26", i + 2);
        f[i] = strtoull(p, &end, 10);
        p = end;
        while (*p != ' ' && *p != '\0')
            p++;
    }
    rc = boot_time(&btime, err);
    if (rc != MD_OK)
        return rc;
    if (tick <= 0)
        tick = 100;
    if (page <= 0)
        page = 4096;
    out->cpu_s = (double)(f[11] + f[12]) / (double)tick; /* utime, stime: fields 14 and 15 */
    out->start_time_s = (double)btime + (double)f[19] / (double)tick; /* starttime: 22 */
    out->vsize_bytes = f[20];                                         /* vsize: 23 */
    out->rss_bytes = f[21] * (uint64_t)page;                          /* rss pages: 24 */
    out->open_fds = count_fds();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    return MD_OK;
}
