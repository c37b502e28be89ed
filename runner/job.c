/*
 * job.c - the parent side of one job. The report lives in a MAP_SHARED
 * mapping made before the fork, so the child's output survives even a
 * SIGKILL. The parent waits on a pidfd with poll(): one wake-up when the
 * child ends, or one at the backstop deadline.
 */
#include "job.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../sandbox/jail.h"

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wait for the child's pidfd until deadline_us; 1 if it ended. */
static int wait_until(int pidfd, uint64_t deadline_us)
{
    for (;;) {
        uint64_t now = now_us();
        if (now >= deadline_us)
            return 0;
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int ms = (int)((deadline_us - now + 999) / 1000);
        int rc = poll(&p, 1, ms);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return 0;
    }
}

/* Reap the child; its peak RSS in KiB into *maxrss_kib (0 if unknown). */
static void reap(pid_t pid, int *wstatus, uint64_t *maxrss_kib)
{
    struct rusage ru;

    memset(&ru, 0, sizeof(ru));
    while (wait4(pid, wstatus, 0, &ru) < 0 && errno == EINTR)
        ;
    /* ru_maxrss is in KiB on Linux (getrusage(2)). */
    *maxrss_kib = ru.ru_maxrss > 0 ? (uint64_t)ru.ru_maxrss : 0;
}

/* Decide the status when the child did not write a final one. */
static void settle(struct job_outcome *out, int wstatus)
{
    struct sbx_report *r = out->rep;
    char name[48];

    if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
        return;
    out->settled = 1;
    if (r->violation_syscall >= 0) {
        r->status = SBX_SANDBOX_VIOLATION;
        snprintf(r->message, sizeof(r->message),
                 "the sandbox made syscall %d (%s), which its seccomp "
                 "policy does not allow",
                 r->violation_syscall,
                 jail_syscall_name(r->violation_syscall, name, sizeof(name)));
    } else if (out->killed) {
        r->status = SBX_TIMEOUT;
        snprintf(r->message, sizeof(r->message),
                 "deadline reached; the child did not stop and was killed");
    } else if (WIFSIGNALED(wstatus)) {
        r->status = SBX_INTERNAL_ERROR;
        snprintf(r->message, sizeof(r->message),
                 "the sandbox child was killed by signal %d (%s)",
                 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    } else {
        r->status = SBX_INTERNAL_ERROR;
        snprintf(r->message, sizeof(r->message),
                 "the sandbox child exited with status %d without a result",
                 WEXITSTATUS(wstatus));
    }
    r->done = 1;
}

int job_run(job_child_fn fn, void *arg, const struct job_limits *lim,
            struct job_outcome *out, char *err, size_t errlen)
{
    int pidfd = -1, wstatus = 0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    out->rep_size = sbx_report_size(lim->max_output);
    out->rep = mmap(NULL, out->rep_size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (out->rep == MAP_FAILED) {
        out->rep = NULL;
        snprintf(err, errlen, "mmap of the %zu-byte result area: %s",
                 out->rep_size, strerror(errno));
        return -ENOMEM;
    }
    out->rep->out_cap = lim->max_output;
    out->rep->violation_syscall = -1;

    uint64_t start = now_us();
    pid = fork();
    if (pid < 0) {
        int e = errno;
        snprintf(err, errlen, "fork: %s", strerror(e));
        job_outcome_release(out);
        return -e;
    }
    if (pid == 0) {
        fn(arg, out->rep);
        _exit(127);
    }

    uint64_t deadline = start + (lim->timeout_ms + JOB_KILL_SLACK_MS) * 1000;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        reap(pid, &wstatus, &out->peak_rss_kib);
        snprintf(err, errlen, "pidfd_open: %s (tincan needs Linux 5.3+)",
                 strerror(e));
        job_outcome_release(out);
        return -e;
    }
    if (!wait_until(pidfd, deadline)) {
        kill(pid, SIGKILL);
        out->killed = 1;
    }
    reap(pid, &wstatus, &out->peak_rss_kib);
    out->wall_us = now_us() - start;
    if (pidfd >= 0)
        close(pidfd);
    out->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    settle(out, wstatus);
    return 0;
}

struct sandbox_arg {
    const struct sbx_host *host;
    const struct sbx_job *job;
};

static void sandbox_child(void *arg, struct sbx_report *rep)
{
    const struct sandbox_arg *a = arg;

    sbx_child_main(a->host, a->job, rep);
}

int job_run_sandbox(const struct sbx_host *host, struct cgroup_ctx *cg,
                    const struct sbx_job *job, uint64_t max_output,
                    struct job_outcome *out, char *err, size_t errlen)
{
    struct sbx_job sj = *job;
    struct sandbox_arg a = {.host = host, .job = &sj};
    struct job_limits lim = {.timeout_ms = job->timeout_ms,
                             .max_output = max_output};
    struct cgroup_job cj;
    int rc;

    rc = sbx_job_prepare(host, &sj, err, errlen);
    if (rc)
        return rc;
    cgroup_job_create(cg, job->mem_size + JOB_CGROUP_SLACK, &cj);
    sj.cgroup_fd = cj.procs_fd;
    sj.parent = (int)getpid();
    rc = job_run(sandbox_child, &a, &lim, out, err, errlen);
    /* A SIGKILL we did not send, in a cgroup that saw an OOM kill: say so
     * instead of "killed by signal 9". */
    if (rc == 0 && out->settled && !out->killed && out->signal == SIGKILL &&
        out->rep->violation_syscall < 0 && cgroup_job_oom_kills(&cj) > 0)
        snprintf(out->rep->message, sizeof(out->rep->message),
                 "the job's child went over its memory limit (%llu MiB: the "
                 "guest's memory plus %llu MiB for the sandbox) and the "
                 "kernel's OOM killer ended it",
                 (unsigned long long)((job->mem_size + JOB_CGROUP_SLACK) >> 20),
                 (unsigned long long)(JOB_CGROUP_SLACK >> 20));
    cgroup_job_remove(&cj);
    sbx_job_release(&sj);
    return rc;
}

void job_outcome_release(struct job_outcome *out)
{
    if (out->rep)
        munmap(out->rep, out->rep_size);
    out->rep = NULL;
}
