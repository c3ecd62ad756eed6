/* SPDX-License-Identifier: MIT */
/*
 * spawn.c: a helper process under limits (see spawn.h).
 *
 * The wait is a poll loop of POLL_MS steps over the helper's stdout and, on
 * kernels that have them, a pidfd that becomes readable when it exits: each
 * step reads what it wrote, reaps it if it ended, and reads its resident
 * size. A cgroup, when one can be made, holds the memory limit exactly; the
 * sampled size is the fallback, and can overshoot the limit by what the
 * helper allocates in one step.
 */
#include "util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How often a running helper's size is read, in milliseconds. */
#define POLL_MS 5

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ memory */

/* The resident size of process pid in bytes (VmRSS), or 0 when it has none (it has ended). */
static size_t rss_bytes(pid_t pid)
{
    char path[64];
    char buf[2048];
    const char *p;
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid); /* fits */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strstr(buf, "\nVmRSS:");
    if (p == NULL)
        return 0;
    return (size_t)strtoull(p + 7, NULL, 10) * 1024;
}

/* A cgroup v2 directory made for one helper; dir is "" when there is none. */
struct cg {
    char dir[PATH_MAX];
};

/* Writes text to dir/file; whether all of it went in. */
static bool cg_write(const char *dir, const char *file, const char *text)
{
    char path[PATH_MAX + 32];
    size_t n = strlen(text);
    bool ok;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return false;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

/* Reads dir/file into buf (cap bytes, NUL-terminated); whether it could. */
static bool cg_read(const char *dir, const char *file, char *buf, size_t cap)
{
    char path[PATH_MAX + 32];
    ssize_t n;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Whether the blank-separated list in text has word. */
static bool has_word(const char *text, const char *word)
{
    size_t k = strlen(word);
    const char *p = text;

    while ((p = strstr(p, word)) != NULL) {
        bool start = p == text || p[-1] == ' ' || p[-1] == '\n';
        bool end = p[k] == '\0' || p[k] == ' ' || p[k] == '\n';

        if (start && end)
            return true;
        p += k;
    }
    return false;
}

/*
 * Moves pid into a new cgroup whose memory.max is limit: a child of the
 * process's own cgroup v2 when that enables the memory controller for its
 * children (the root cgroup), else a child of its parent (a service whose
 * manager put the daemon in a sub-cgroup of a delegated one). Whether it
 * could; cg->dir is "" when not.
 */
static bool cg_enter(struct cg *cg, pid_t pid, size_t limit)
{
    static atomic_uint seq;
    char own[1024];
    char base[PATH_MAX];
    char ctl[256];
    char num[32];
    const char *line;
    char *nl;
    int attempt;

    cg->dir[0] = '\0';
    if (!cg_read("/proc/self", "cgroup", own, sizeof(own)))
        return false;
    line = strncmp(own, "0::", 3) == 0 ? own : strstr(own, "\n0::");
    if (line == NULL)
        return false;
    line += line == own ? 3 : 4;
    nl = strchr(line, '\n');
    if (nl != NULL)
        *nl = '\0';
    if ((size_t)snprintf(base, sizeof(base), "/sys/fs/cgroup%s", line) >= sizeof(base))
        return false;
    for (attempt = 0; attempt < 2; attempt++) {
        if (attempt == 1) {
            char *slash = strrchr(base, '/');

            if (slash == NULL || slash <= base + strlen("/sys/fs/cgroup"))
                return false;
            *slash = '\0';
        }
        if (!cg_read(base, "cgroup.subtree_control", ctl, sizeof(ctl)) || !has_word(ctl, "memory"))
            continue;
        if ((size_t)snprintf(cg->dir, sizeof(cg->dir), "%s/modeld-load-%d-%u", base, (int)getpid(),
                             atomic_fetch_add(&seq, 1)) >= sizeof(cg->dir) ||
            mkdir(cg->dir, 0700) != 0) {
            cg->dir[0] = '\0';
            continue;
        }
        (void)snprintf(num, sizeof(num), "%zu", limit); /* fits */
        if (cg_write(cg->dir, "memory.max", num)) {
            /* Swap would let it pass the limit slowly instead of ending: none, where it can be set.
             */
            (void)cg_write(cg->dir, "memory.swap.max", "0");
            (void)snprintf(num, sizeof(num), "%d", (int)pid); /* fits */
            if (cg_write(cg->dir, "cgroup.procs", num))
                return true;
        }
        (void)rmdir(cg->dir);
        cg->dir[0] = '\0';
    }
    return false;
}

/* Whether the cgroup's memory limit killed a process in it. */
static bool cg_oom_killed(const struct cg *cg)
{
    char ev[512];
    const char *p;

    if (cg->dir[0] == '\0' || !cg_read(cg->dir, "memory.events", ev, sizeof(ev)))
        return false;
    p = strstr(ev, "oom_kill ");
    return p != NULL && strtoul(p + 9, NULL, 10) > 0;
}

/* Removes the cgroup once its process is reaped. */
static void cg_leave(struct cg *cg)
{
    if (cg->dir[0] != '\0')
        (void)rmdir(cg->dir);
    cg->dir[0] = '\0';
}

/* ------------------------------------------------------------------ running */

/* Reads what is there of fd into res->out (dropping what does not fit); false at EOF or error. */
static bool drain(int fd, struct md_spawn_result *res)
{
    char buf[4096];

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        size_t room = sizeof(res->out) - 1 - res->out_len;
        size_t take;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (n == 0)
            return false;
        take = (size_t)n < room ? (size_t)n : room;
        memcpy(res->out + res->out_len, buf, take);
        res->out_len += take;
        res->out[res->out_len] = '\0';
        res->out_dropped += (size_t)n - take;
    }
}

static pid_t start(const char *exe, char *const argv[], int stdin_fd, int out_fd,
                   struct md_err *err)
{
    static const int defaults[] = {SIGPIPE, SIGTERM, SIGINT,  SIGHUP, SIGQUIT,
                                   SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    sigset_t dfl;
    char ebuf[128];
    pid_t pid = -1;
    size_t i;
    int rc;

    sigemptyset(&none);
    sigemptyset(&dfl);
    for (i = 0; i < MD_ARRAY_LEN(defaults); i++)
        sigaddset(&dfl, defaults[i]);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    rc = stdin_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0)
                       : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    /* Nothing else the daemon has open (sockets, files) goes to the helper. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* The daemon blocks and ignores signals the helper must feel. */
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&at, &dfl);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawn(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        md_err_set(err, MD_EINTERNAL, "cannot start '%s': %s", exe,
                   strerror_r(rc, ebuf, sizeof(ebuf)));
        return -1;
    }
    return pid;
}

/* Ends pid with SIGKILL and reaps it. */
static void kill_reap(pid_t pid, int *status)
{
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

int md_spawn_run(const char *exe, char *const argv[], int stdin_fd,
                 const struct md_spawn_limits *lim, struct md_spawn_result *res, struct md_err *err)
{
    struct cg cg;
    int out[2];
    uint64_t t0 = now_ms();
    int pidfd;
    int status = 0;
    pid_t pid;
    bool reading = true;

    memset(res, 0, sizeof(*res));
    if (pipe2(out, O_CLOEXEC) != 0) {
        char ebuf[128];

        return md_err_set(err, MD_EINTERNAL, "cannot make a pipe: %s",
                          strerror_r(errno, ebuf, sizeof(ebuf)));
    }
    pid = start(exe, argv, stdin_fd, out[1], err);
    close(out[1]);
    if (pid < 0) {
        close(out[0]);
        return MD_EINTERNAL;
    }
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
    if (lim->lowest) {
        /* Before it does much: a moment at the normal priority is all it gets. Either
         * may be refused (SCHED_IDLE inside some containers); nice alone then. */
        struct sched_param sp = {0};

        (void)setpriority(PRIO_PROCESS, (id_t)pid, 19);
        (void)sched_setscheduler(pid, SCHED_IDLE, &sp);
    }
    res->cgroup = lim->memory_bytes > 0 && cg_enter(&cg, pid, lim->memory_bytes);
    if (!res->cgroup)
        cg.dir[0] = '\0';
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        struct pollfd pf[2];
        nfds_t n = 0;
        uint64_t ran;
        size_t rss;
        pid_t w;

        if (reading)
            pf[n++] = (struct pollfd){.fd = out[0], .events = POLLIN};
        if (pidfd >= 0)
            pf[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        (void)poll(pf, n, POLL_MS);
        if (reading)
            reading = drain(out[0], res);
        w = waitpid(pid, &status, WNOHANG);
        if (w < 0 && errno != EINTR) {
            /* Reaped by someone else (SIGCHLD ignored): it ended, how is unknown. */
            res->end = MD_SPAWN_EXITED;
            res->status = 255;
            break;
        }
        if (w == pid) {
            res->end = WIFSIGNALED(status) ? MD_SPAWN_SIGNALED : MD_SPAWN_EXITED;
            res->status = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && cg_oom_killed(&cg))
                res->end = MD_SPAWN_MEMORY;
            break;
        }
        rss = rss_bytes(pid);
        if (rss > res->peak_rss)
            res->peak_rss = rss;
        ran = now_ms() - t0;
        if (lim->memory_bytes > 0 && rss > lim->memory_bytes) {
            kill_reap(pid, &status);
            res->end = MD_SPAWN_MEMORY;
            break;
        }
        if (lim->cancel != NULL && atomic_load(lim->cancel)) {
            kill_reap(pid, &status);
            res->end = MD_SPAWN_CANCELLED;
            break;
        }
        if (lim->timeout_ms > 0 && ran >= lim->timeout_ms) {
            kill_reap(pid, &status);
            res->end = MD_SPAWN_TIMEOUT;
            break;
        }
    }
    res->ms = (unsigned)(now_ms() - t0);
    /* What it wrote before it ended; a grandchild holding the pipe cannot keep us here. */
    if (reading)
        (void)drain(out[0], res);
    close(out[0]);
    if (pidfd >= 0)
        close(pidfd);
    cg_leave(&cg);
    return MD_OK;
}

void md_spawn_describe(const struct md_spawn_result *res, const struct md_spawn_limits *lim,
                       char *buf, size_t cap)
{
    const char *abbrev;
    const char *descr;

    switch (res->end) {
    case MD_SPAWN_EXITED:
        (void)snprintf(buf, cap, "exited with status %d", res->status);
        break;
    case MD_SPAWN_SIGNALED:
        abbrev = sigabbrev_np(res->status);
        descr = sigdescr_np(res->status);
        if (abbrev != NULL)
            (void)snprintf(buf, cap, "crashed with SIG%s (%s)", abbrev,
                           descr != NULL ? descr : "unknown");
        else
            (void)snprintf(buf, cap, "crashed with signal %d", res->status);
        break;
    case MD_SPAWN_TIMEOUT:
        if (lim->timeout_ms % 1000 == 0)
            (void)snprintf(buf, cap, "did not finish within %u s", lim->timeout_ms / 1000);
        else
            (void)snprintf(buf, cap, "did not finish within %u ms", lim->timeout_ms);
        break;
    case MD_SPAWN_CANCELLED:
        (void)snprintf(buf, cap, "was stopped: the daemon is shutting down");
        break;
    case MD_SPAWN_MEMORY:
    default:
        (void)snprintf(buf, cap, "used more than %zu MiB of memory%s", lim->memory_bytes >> 20,
                       res->cgroup ? "" : " (resident)");
        break;
    }
}
