/*
 * job.c - the parent side of one job. The job travels in its own memfd:
 * the report first (the child writes output there as it goes, so it
 * survives a SIGKILL), then the job description and the bytes it names.
 * Only the parent and that job's child ever map it; the zygote passes the
 * fd on without looking. The parent waits on the job's socket (one wake-up
 * when the child ends, or one at the backstop deadline, when it kills the
 * child through its pidfd), then reads the report's header once into a
 * local copy and trusts nothing in it that its own limits do not allow.
 */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../sandbox/jail.h"
#include "zygote.h"

/* The job description's place after the report, and its data's after it. */
#define JOB_DESC_ALIGN 64
/* Syscall numbers a report may name: x86-64's and i386's are far below
 * this; x32's carry bit 30 (JAIL's __X32_SYSCALL_BIT) on top of theirs. */
#define JOB_SYSCALL_NR_MAX 0x40001000
/* The widest access an mmio report can name (an AVX-512 store). */
#define JOB_MMIO_SIZE_MAX 64
/* Linux's highest signal number (SIGRTMAX on x86-64). */
#define JOB_SIGNAL_MAX 64

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int terminated(const char *s, size_t len)
{
    return memchr(s, '\0', len) != NULL;
}

/*
 * The rules a report's header must keep; the first it breaks, by name, or
 * NULL. Only limits the parent set itself count (max_output is the
 * parent's, not the header's out_cap).
 */
static const char *broken_rule(const struct sbx_report *h,
                               const struct job_limits *lim)
{
    if (h->done > 1)
        return "done is neither 0 nor 1";
    if (h->out_len > lim->max_output)
        return "out_len is larger than the job's output limit";
    if (h->err_len > lim->max_stderr)
        return "err_len is larger than the job's stderr limit";
    if (h->unsupported_nr != -1 &&
        (h->unsupported_nr < 0 || h->unsupported_nr >= JOB_SYSCALL_NR_MAX))
        return "unsupported_nr is not a syscall number";
    if (h->signal < 0 || h->signal > JOB_SIGNAL_MAX)
        return "signal is not a signal number";
    if (h->violation_syscall != -1 &&
        (h->violation_syscall < 0 ||
         h->violation_syscall >= JOB_SYSCALL_NR_MAX))
        return "violation_syscall is not a syscall number";
    if (h->violation_syscall != -1 && h->violation_arch != AUDIT_ARCH_X86_64 &&
        h->violation_arch != AUDIT_ARCH_I386)
        return "violation_arch is not x86-64 or i386";
    if (!h->done)
        return NULL;
    if (h->status >= SBX_STATUS_COUNT)
        return "status is not a status";
    if (!terminated(h->message, sizeof(h->message)))
        return "message is not terminated";
    if (!terminated(h->fault.name, sizeof(h->fault.name)))
        return "fault.name is not terminated";
    if (h->fault.vector > 255 || h->fault.has_error_code > 1)
        return "fault has an impossible vector or error-code flag";
    if (h->io.out > 1 || (h->io.size != 0 && h->io.size != 1 &&
                          h->io.size != 2 && h->io.size != 4))
        return "io has an impossible direction or size";
    if (h->mmio.write > 1 || h->mmio.size > JOB_MMIO_SIZE_MAX)
        return "mmio has an impossible direction or size";
    return NULL;
}

/* Decide the status when the child did not write a final one. */
static void settle(struct job_outcome *out, int wstatus)
{
    struct sbx_report *r = &out->head;
    char name[48];

    if (r->done)
        return;
    out->settled = 1;
    if (r->violation_syscall >= 0) {
        r->status = SBX_SANDBOX_VIOLATION;
        snprintf(r->message, sizeof(r->message),
                 "the sandbox made syscall %d (%s), which its seccomp "
                 "policy does not allow",
                 r->violation_syscall,
                 jail_syscall_name(r->violation_syscall, r->violation_arch,
                                   name, sizeof(name)));
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

/* After the child is gone: its header, once, checked, then settled. */
static void collect(struct job_outcome *out, const struct job_limits *lim,
                    int wstatus)
{
    struct sbx_report *h = &out->head;
    const char *broken;

    memcpy(h, out->rep, sizeof(*h));
    out->out = out->rep->out;
    out->err = out->rep->out + lim->max_output; /* where the parent put it */
    out->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    broken = broken_rule(h, lim);
    if (broken) {
        memset(h, 0, sizeof(*h));
        h->done = 1;
        h->status = SBX_SANDBOX_VIOLATION;
        h->violation_syscall = -1;
        snprintf(h->message, sizeof(h->message),
                 "the job's child wrote an invalid report (%s); nothing it "
                 "reported is kept",
                 broken);
        out->invalid = 1;
        out->settled = 1;
        return;
    }
    settle(out, wstatus);
}

/* The report (output, then stderr), and after it feedback_size bytes of
 * feedback (or none). */
static int map_report(struct job_outcome *out, int fd,
                      const struct job_limits *lim, size_t feedback_size,
                      char *err, size_t errlen)
{
    int flags = MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0);
    uint64_t max_output = lim->max_output, max_stderr = lim->max_stderr;

    out->rep_size = sbx_report_size(max_output, max_stderr) + feedback_size;
    out->rep = mmap(NULL, out->rep_size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (out->rep == MAP_FAILED) {
        out->rep = NULL;
        snprintf(err, errlen, "mmap of the %zu-byte result area: %s",
                 out->rep_size, strerror(errno));
        return -ENOMEM;
    }
    /* A job's child maps its memfd itself; no other fork of this process
     * (the caller's own) inherits the report. */
    if (fd >= 0)
        madvise(out->rep, out->rep_size, MADV_DONTFORK);
    out->rep->out_cap = max_output;
    out->rep->err_cap = max_stderr;
    out->rep->violation_syscall = -1;
    out->rep->unsupported_nr = -1;
    if (feedback_size)
        out->feedback =
            (const struct sbx_feedback *)((const uint8_t *)out->rep +
                                          sbx_feedback_offset(max_output,
                                                              max_stderr));
    return 0;
}

/* Wait for the child's pidfd until deadline_us; 1 if it ended. */
static int wait_pidfd(int pidfd, uint64_t deadline_us)
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

int job_run(job_child_fn fn, void *arg, const struct job_limits *lim,
            struct job_outcome *out, char *err, size_t errlen)
{
    int pidfd, rc;
    struct rusage ru;
    siginfo_t si;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    rc = map_report(out, -1, lim, lim->feedback_size, err, errlen);
    if (rc)
        return rc;
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
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL); /* our unreaped child: its pid cannot be reused */
        waitpid(pid, NULL, 0);
        snprintf(err, errlen, "pidfd_open: %s (tincan needs Linux 5.3+)",
                 strerror(e));
        job_outcome_release(out);
        return -e;
    }
    if (!wait_pidfd(pidfd,
                    start + (lim->timeout_ms + JOB_KILL_SLACK_MS) * 1000)) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        out->killed = 1;
    }
    memset(&ru, 0, sizeof(ru));
    memset(&si, 0, sizeof(si));
    while (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, &ru) < 0 &&
           errno == EINTR)
        ;
    close(pidfd);
    out->wall_us = now_us() - start;
    out->peak_rss_kib = ru.ru_maxrss > 0 ? (uint64_t)ru.ru_maxrss : 0;
    int ws = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
                                      : (si.si_status & 0x7f);
    collect(out, lim, ws);
    return 0;
}

/* The job description and the bytes it names, after the report: the
 * description's pointers become offsets in the file. */
static int write_job(int fd, const struct sbx_job *job, uint64_t job_off,
                     uint64_t *file_size, char *err, size_t errlen)
{
    struct sbx_job packed = *job;
    struct iovec iov[SBX_MAX_SEGMENTS + 3];
    unsigned n = 0;
    uint64_t off = job_off + ((sizeof(packed) + JOB_DESC_ALIGN - 1) &
                              ~(uint64_t)(JOB_DESC_ALIGN - 1));
    uint64_t data_off = off;

    iov[n++] = (struct iovec){.iov_base = &packed, .iov_len = sizeof(packed)};
    for (unsigned i = 0; i < job->nsegs; i++) {
        packed.segs[i].data = (const uint8_t *)(uintptr_t)off;
        iov[n++] = (struct iovec){.iov_base = (void *)job->segs[i].data,
                                  .iov_len = job->segs[i].filesz};
        off += job->segs[i].filesz;
    }
    packed.input = (const uint8_t *)(uintptr_t)off;
    iov[n++] = (struct iovec){.iov_base = (void *)job->input,
                              .iov_len = job->input_len};
    off += job->input_len;
    if (job->abi == SBX_ABI_LINUX) {
        packed.lx.stack.data = (const uint8_t *)(uintptr_t)off;
        iov[n++] = (struct iovec){.iov_base = (void *)job->lx.stack.data,
                                  .iov_len = job->lx.stack.filesz};
        off += job->lx.stack.filesz;
    }
    *file_size = (off + SBX_PAGE_SIZE - 1) & ~(uint64_t)(SBX_PAGE_SIZE - 1);
    if (ftruncate(fd, (off_t)*file_size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        goto fail;
    /* The description itself first, then the data from data_off. */
    if (pwrite(fd, &packed, sizeof(packed), (off_t)job_off) !=
        (ssize_t)sizeof(packed))
        goto fail;
    unsigned at = 1;
    off = data_off;
    while (at < n) {
        ssize_t w = pwritev(fd, iov + at, (int)(n - at), (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail;
        off += (uint64_t)w;
        for (; at < n && (size_t)w >= iov[at].iov_len; at++)
            w -= (ssize_t)iov[at].iov_len;
        if (at < n) {
            iov[at].iov_base = (char *)iov[at].iov_base + w;
            iov[at].iov_len -= (size_t)w;
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "writing the job into its memfd: %s",
             strerror(errno));
    return errno ? -errno : -EIO;
}

/* 1 when cancel_fd became readable before the child's socket did (or the
 * deadline came), else 0. */
static int canceled_first(int sock, int cancel_fd, uint64_t deadline_us)
{
    for (;;) {
        uint64_t now = now_us();
        if (now >= deadline_us)
            return 0;
        struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                              {.fd = cancel_fd, .events = POLLIN}};
        int ms = (int)((deadline_us - now + 999) / 1000);
        int rc = poll(p, 2, ms);
        if (rc > 0)
            return !p[0].revents && p[1].revents;
        if (rc < 0 && errno != EINTR)
            return 0;
    }
}

/* The zygote's child, until it ends, the backstop has killed it, or the
 * caller canceled it (cancel_fd > 0 readable: killed too). */
static int wait_child(struct zygote_job *zj, uint64_t timeout_ms, int cancel_fd,
                      struct job_outcome *out, int *ws)
{
    uint64_t deadline = now_us() + (timeout_ms + JOB_KILL_SLACK_MS) * 1000;
    int rc;

    if (cancel_fd > 0 && canceled_first(zj->sock, cancel_fd, deadline)) {
        zygote_kill_job(zj);
        out->canceled = 1;
        return zygote_wait_job(zj, now_us() + JOB_REAP_WAIT_MS * 1000ULL, ws,
                               &out->peak_rss_kib);
    }
    rc = zygote_wait_job(zj, deadline, ws, &out->peak_rss_kib);

    if (rc == 0) {
        zygote_kill_job(zj);
        out->killed = 1;
        rc = zygote_wait_job(zj, now_us() + JOB_REAP_WAIT_MS * 1000ULL, ws,
                             &out->peak_rss_kib);
    }
    return rc;
}

int job_run_sandbox(struct cgroup_ctx *cg, const struct sbx_job *job,
                    const struct job_limits *lim, struct job_outcome *out,
                    char *err, size_t errlen)
{
    uint64_t max_output = lim->max_output, max_stderr = lim->max_stderr;
    struct zygote_job zj = {.sock = -1, .pidfd = -1, .pid = -1};
    struct cgroup_job cj = {.procs_fd = -1};
    uint64_t file_size = 0, start;
    struct sbx_job sj = *job;
    size_t feedback_size = 0;
    int fd, rc, ws = 0;

    memset(out, 0, sizeof(*out));
    fd = memfd_create("tincan-job", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "memfd_create for the job: %s", strerror(errno));
        return rc;
    }
    /* The report, the feedback region (when asked for), the job. */
    if (sj.feedback) {
        feedback_size = sbx_feedback_size(sj.cmp_cap);
        sj.feedback_off = sbx_feedback_offset(max_output, max_stderr);
    }
    uint64_t job_off = sbx_report_size(max_output, max_stderr) + feedback_size;
    rc = write_job(fd, &sj, job_off, &file_size, err, errlen);
    if (rc == 0)
        rc = map_report(out, fd, lim, feedback_size, err, errlen);
    if (rc)
        goto out;
    cgroup_job_create(cg, job->mem_size + JOB_CGROUP_SLACK, &cj);
    start = now_us();
    rc = zygote_start_job(job->backend, fd, file_size, job_off, job->mem_size,
                          sj.feedback, cj.procs_fd, &zj, err, errlen);
    close(fd);
    fd = -1;
    if (rc)
        goto out;
    rc = wait_child(&zj, job->timeout_ms, lim->cancel_fd, out, &ws);
    out->wall_us = now_us() - start;
    if (rc < 0) {
        /* The zygote went away without reporting, and the child (killed
         * through its pidfd) may not be gone yet: nothing of its report
         * is read. */
        memset(&out->head, 0, sizeof(out->head));
        out->head.done = 1;
        out->head.status = SBX_INTERNAL_ERROR;
        out->head.violation_syscall = -1;
        snprintf(out->head.message, sizeof(out->head.message), "%s",
                 "the zygote went away before the job's child was reaped");
        out->out = out->rep->out;
        out->err = out->rep->out + max_output;
        out->settled = 1;
        rc = 0;
        goto out;
    }
    rc = 0;
    collect(out, lim, ws);
    /* A SIGKILL we did not send, in a cgroup that saw an OOM kill: say so
     * instead of "killed by signal 9". */
    if (out->settled && !out->invalid && !out->killed &&
        out->signal == SIGKILL && out->head.violation_syscall < 0 &&
        cgroup_job_oom_kills(&cj) > 0)
        snprintf(out->head.message, sizeof(out->head.message),
                 "the job's child went over its memory limit (%llu MiB: the "
                 "guest's memory plus %llu MiB for the sandbox) and the "
                 "kernel's OOM killer ended it",
                 (unsigned long long)((job->mem_size + JOB_CGROUP_SLACK) >> 20),
                 (unsigned long long)(JOB_CGROUP_SLACK >> 20));
out:
    zygote_job_close(&zj);
    cgroup_job_remove(&cj);
    if (fd >= 0)
        close(fd);
    if (rc)
        job_outcome_release(out);
    return rc;
}

void job_outcome_release(struct job_outcome *out)
{
    if (out->rep)
        munmap(out->rep, out->rep_size);
    out->rep = NULL;
    out->out = NULL;
    out->err = NULL;
    out->feedback = NULL;
}

/*
 * The edge map, without faulting in the pages the child never wrote: a
 * page of the memfd nobody touched is a hole, which reading would fill
 * with a fresh zero page, 16 of them per job for a small guest. mincore()
 * says which pages exist; the others are zero.
 */
void job_feedback_edges(const struct job_outcome *out, uint8_t *dst)
{
    const uint8_t *edges = out->feedback->edges;
    uintptr_t start = (uintptr_t)edges & ~(uintptr_t)(SBX_PAGE_SIZE - 1);
    size_t span = (uintptr_t)edges + SBX_EDGE_MAP_SIZE - start;
    unsigned char resident[SBX_EDGE_MAP_SIZE / SBX_PAGE_SIZE + 2];
    size_t pages = (span + SBX_PAGE_SIZE - 1) / SBX_PAGE_SIZE;

    if (pages > sizeof(resident) ||
        mincore((void *)start, pages * SBX_PAGE_SIZE, resident) != 0) {
        memcpy(dst, edges, SBX_EDGE_MAP_SIZE);
        return;
    }
    for (size_t i = 0; i < pages; i++) {
        uintptr_t lo = start + i * SBX_PAGE_SIZE, hi = lo + SBX_PAGE_SIZE;

        if (lo < (uintptr_t)edges)
            lo = (uintptr_t)edges;
        if (hi > (uintptr_t)edges + SBX_EDGE_MAP_SIZE)
            hi = (uintptr_t)edges + SBX_EDGE_MAP_SIZE;
        if (resident[i] & 1)
            memcpy(dst + (lo - (uintptr_t)edges), (const void *)lo, hi - lo);
        else
            memset(dst + (lo - (uintptr_t)edges), 0, hi - lo);
    }
}

uint32_t job_feedback_cmp_count(const struct job_outcome *out, uint32_t cap)
{
    uint32_t n = __atomic_load_n(&out->feedback->cmp_len, __ATOMIC_ACQUIRE);

    return n < cap ? n : cap;
}

#define CMP_SIZE_MAX 8 /* bytes: a 64-bit compare */

int job_feedback_cmp(const struct job_outcome *out, uint32_t i,
                     struct sbx_cmp *cmp)
{
    uint64_t mask;

    memcpy(cmp, &out->feedback->cmps[i], sizeof(*cmp));
    if (cmp->size != 1 && cmp->size != 2 && cmp->size != 4 &&
        cmp->size != CMP_SIZE_MAX)
        return -EINVAL;
    mask =
        cmp->size == CMP_SIZE_MAX ? UINT64_MAX : (1ULL << (8 * cmp->size)) - 1;
    cmp->a &= mask;
    cmp->b &= mask;
    cmp->reserved = 0;
    return 0;
}
