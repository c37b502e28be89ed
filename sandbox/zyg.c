/*
 * zyg.c - the zygote: the small process every job's child is forked from.
 * The runner execs it (from a memfd holding this program, with an empty
 * environment) before any job exists, one per backend. It builds what every
 * child of that backend shares (the boot image, the seccomp programs, the
 * KVM fd or the emulator's templates), shuts itself in (an unprivileged uid,
 * user, network, IPC, UTS and mount namespaces with an empty root; each step
 * the host refuses is reported, never skipped silently), and then forks one
 * child per job request, each in its own PID namespace. It never maps a
 * job's memfd: each child maps its own, and holds no fd of any other job.
 * The protocol is sandbox/zproto.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "kvm.h"
#include "sandbox.h"
#include "zproto.h"

/* Where the empty root is mounted before pivot_root (any directory that
 * exists in the host's root will do; the first that does is taken). */
static const char *const root_mount_points[] = {"/tmp", "/mnt", "/run", "/"};
#define PAGE_BYTES     4096UL
#define ZYG_SHADOW_MIN (1UL << 40) /* ASan's shadow; no template is as big */
/* The empty root: a tmpfs of one page, no files, read-only once built. */
#define ZYG_ROOT_OPTS "size=4k,nr_inodes=1,mode=0555"

struct zyg_job {
    pid_t pid;
    int sock;
};

struct zyg {
    struct sbx_host host;
    enum sbx_backend backend;
    int statm_fd;   /* /proc/self/statm, opened before the root went */
    int maps_fd;    /* /proc/self/maps, likewise */
    int life[2];    /* children watch life[0]; only we hold life[1] */
    int newpid;     /* children get their own PID namespace */
    int bset_clear; /* the capability bounding set is empty already */
    uid_t uid;      /* what the zygote runs as, outside its namespace */
    char info[ZYG_INFO_MAX];
    size_t info_len;
    struct zyg_job *jobs;
    size_t njobs, cap;
};

static void __attribute__((format(printf, 2, 3)))
note(struct zyg *z, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (z->info_len >= sizeof(z->info) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(z->info + z->info_len, sizeof(z->info) - z->info_len, fmt,
                  ap);
    va_end(ap);
    if (n < 0)
        return;
    z->info_len += (size_t)n;
    if (z->info_len >= sizeof(z->info) - 1)
        z->info_len = sizeof(z->info) - 2;
    z->info[z->info_len++] = '\n';
    z->info[z->info_len] = '\0';
}

/* Whatever the runner's process had: default dispositions, nothing blocked. */
static void reset_signals(void)
{
    sigset_t none;

    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    int e;

    if (fd < 0)
        return -errno;
    n = write(fd, text, strlen(text));
    e = errno;
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -(n < 0 ? e : EIO);
}

/* Root runs nothing as root: the zygote and its children take uid (and
 * the same gid). */
static void drop_root(struct zyg *z, uid_t uid)
{
    if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
        note(z, "children keep uid 0: cannot switch to uid %u: %s",
             (unsigned)uid, strerror(errno));
        return;
    }
    z->uid = uid;
}

/* The id maps of a new user namespace in which the zygote is root, mapped
 * to uid/gid outside: written by the process itself (its own ids), or by a
 * root helper for a runner that was root (a process inside the namespace
 * cannot map another uid, and after the empty root it has no /proc). */
static int write_maps(const char *proc, uid_t uid, gid_t gid)
{
    char path[64], map[64];
    int rc;

    snprintf(path, sizeof(path), "%s/setgroups", proc);
    rc = write_proc(path, "deny\n");
    snprintf(path, sizeof(path), "%s/uid_map", proc);
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
    if (rc == 0)
        rc = write_proc(path, map);
    snprintf(path, sizeof(path), "%s/gid_map", proc);
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
    if (rc == 0)
        rc = write_proc(path, map);
    return rc;
}

/* The root helper: forked while the zygote is root, before its mounts
 * change; writes the maps once told the namespace exists (a '1' on fd),
 * exits 0 when it did. */
struct map_helper {
    pid_t pid;
    int fd; /* write end: the zygote tells */
};

static int start_map_helper(struct map_helper *h, uid_t uid)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    h->pid = fork();
    if (h->pid == 0) {
        char c = 0, proc[32];
        close(p[1]);
        if (read(p[0], &c, 1) != 1 || c != '1')
            _exit(2);
        snprintf(proc, sizeof(proc), "/proc/%d", (int)getppid());
        _exit(write_maps(proc, uid, uid) == 0 ? 0 : 1);
    }
    close(p[0]);
    if (h->pid < 0) {
        close(p[1]);
        return -errno;
    }
    h->fd = p[1];
    return 0;
}

/* Tell the helper (ok: the namespace exists) and collect its answer. */
static int finish_map_helper(struct map_helper *h, int ok)
{
    int st = 0;

    if (write(h->fd, ok ? "1" : "0", 1) != 1)
        ok = 0;
    close(h->fd);
    while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
        ;
    return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

/*
 * A user namespace in which the zygote is root (it can then make per-job
 * PID namespaces without privilege on the host), mapped to its uid
 * outside. helper: the root helper that writes the maps, or NULL when the
 * zygote writes its own.
 */
static int enter_user_ns(struct zyg *z, struct map_helper *helper)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int ok = unshare(CLONE_NEWUSER) == 0, e = errno, rc;

    if (helper)
        rc = finish_map_helper(helper, ok);
    else
        rc = ok ? write_maps("/proc/self", uid, gid) : 0;
    if (!ok) {
        note(z, "no user namespace: unshare(CLONE_NEWUSER): %s", strerror(e));
        return -1;
    }
    if (rc) {
        note(z, "user namespace without an id map: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

static const struct {
    int flag;
    const char *name;
    const char *without; /* what a child could still reach */
} namespaces[] = {
    {CLONE_NEWNET, "network", "the host's network interfaces"},
    {CLONE_NEWIPC, "IPC", "the host's System V IPC and POSIX queues"},
    {CLONE_NEWUTS, "UTS", "the host's name"},
    {CLONE_NEWNS, "mount", "the host's mounts and files"},
};

/* Mount a one-page tmpfs and make it the root; the host's root is gone
 * from this mount namespace. */
static int empty_root(struct zyg *z)
{
    const char *at = NULL;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        note(z, "no empty root: making mounts private: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(root_mount_points) / sizeof(char *); i++) {
        if (mount("tincan", root_mount_points[i], "tmpfs",
                  MS_NOSUID | MS_NODEV | MS_NOEXEC, ZYG_ROOT_OPTS) == 0) {
            at = root_mount_points[i];
            break;
        }
    }
    if (!at) {
        note(z, "no empty root: mounting a tmpfs: %s", strerror(errno));
        return -1;
    }
    /* pivot_root(".", "."): the old root lands on top of the new one and
     * is detached at once (pivot_root(2), NOTES). */
    if (chdir(at) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
        note(z, "no empty root: pivot_root: %s", strerror(errno));
        return -1;
    }
    if (mount(NULL, "/", NULL,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
                  MS_NOEXEC,
              NULL) != 0)
        note(z, "the empty root stays writable: remount: %s", strerror(errno));
    return 0;
}

static pid_t clone_child(int flags, int *pidfd)
{
    struct clone_args ca = {
        .flags = (uint64_t)flags | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)pidfd,
        .exit_signal = SIGCHLD,
    };

    return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/* Whether children can get a PID namespace each: one child tries. */
static int probe_newpid(struct zyg *z)
{
    int pidfd = -1, st;
    pid_t pid = clone_child(CLONE_NEWPID, &pidfd);

    if (pid == 0)
        _exit(0);
    if (pid < 0) {
        note(z,
             "no PID namespace per job: clone3(CLONE_NEWPID): %s; a "
             "child sees the zygote's other children's PIDs",
             strerror(errno));
        return 0;
    }
    close(pidfd);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return 1;
}

/* Network, IPC, UTS and mount namespaces, the last with an empty root. */
static void make_namespaces(struct zyg *z)
{
    for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
        if (unshare(namespaces[i].flag) == 0) {
            if (namespaces[i].flag == CLONE_NEWNS)
                empty_root(z);
            continue;
        }
        note(z, "no %s namespace: unshare: %s; a child could still see %s",
             namespaces[i].name, strerror(errno), namespaces[i].without);
    }
}

/* Empty the capability bounding set: nothing is ever exec'd, but children
 * then need not empty it each. 1 when it is empty. */
static int clear_bounding_set(void)
{
    for (int c = 0;; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
            return errno == EINVAL; /* past the last capability */
}

/*
 * Root makes the namespaces with its own privilege first (the empty root
 * also takes it out of any chroot, where no user namespace may be made),
 * then becomes job_uid in a user namespace of its own; an unprivileged
 * runner makes the user namespace first and the others inside it.
 */
static void isolate(struct zyg *z, uid_t job_uid)
{
    struct map_helper helper;
    int userns, root = geteuid() == 0, have_helper = 0;

    z->uid = geteuid();
    if (root) {
        have_helper = start_map_helper(&helper, job_uid) == 0;
        make_namespaces(z);
        clear_bounding_set();
        drop_root(z, job_uid);
        userns = enter_user_ns(z, have_helper ? &helper : NULL) == 0;
    } else {
        userns = enter_user_ns(z, NULL) == 0;
        if (userns)
            make_namespaces(z);
        else
            note(z, "no network, IPC, UTS or mount namespace: they need the "
                    "user namespace");
    }
    z->newpid = probe_newpid(z);
    z->bset_clear = clear_bounding_set();
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (!userns && z->uid == 0)
        note(z, "children run as uid 0 of the host");
}

static int send_msg(int sock, const void *msg, size_t len, int fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    memset(cbuf, 0, sizeof(cbuf));
    if (fd >= 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static void send_failed(int sock, int rc, const char *err)
{
    struct zmsg_failed m = {.kind = ZMSG_FAILED, .rc = rc};

    snprintf(m.err, sizeof(m.err), "%s", err);
    send_msg(sock, &m, sizeof(m), -1);
}

/*
 * Every child starts with a copy of the zygote's page tables, and counts
 * each page they map: a page of private anonymous memory that holds only
 * zeros (a hash table just initialised, a buffer never used) is given back
 * (MADV_DONTNEED), to be a zero-fill page again for the child that touches
 * it. Only mappings with no file behind them: a private file mapping would
 * read the file again, not zeros. A terabyte or more is a sanitizer
 * build's shadow memory, not the template's, and is left alone.
 */
__attribute__((no_sanitize_address)) /* it reads freed heap too */
static void
drop_zero_pages(struct zyg *z)
{
    static char text[64 * 1024];
    static unsigned char resident[256];
    ssize_t n = pread(z->maps_fd, text, sizeof(text) - 1, 0);

    if (n <= 0)
        return;
    text[n] = '\0';
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long lo, hi, inode;
        char perms[8];
        int end = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %n", &lo, &hi, perms, &inode,
                   &end) != 4 ||
            strcmp(perms, "rw-p") != 0 || inode != 0 ||
            (line[end] && strcmp(line + end, "[heap]") != 0) ||
            hi - lo >= ZYG_SHADOW_MIN)
            continue;
        for (unsigned long a = lo; a < hi; a += sizeof(resident) * PAGE_BYTES) {
            size_t span = hi - a < sizeof(resident) * PAGE_BYTES
                              ? hi - a
                              : sizeof(resident) * PAGE_BYTES;
            if (mincore((void *)a, span, resident) != 0)
                continue;
            for (size_t i = 0; i < span / PAGE_BYTES; i++) {
                const unsigned long *w = (const void *)(a + i * PAGE_BYTES);
                size_t k = 0;
                if (!(resident[i] & 1))
                    continue;
                while (k < PAGE_BYTES / sizeof(*w) && w[k] == 0)
                    k++;
                if (k == PAGE_BYTES / sizeof(*w))
                    madvise((void *)w, PAGE_BYTES, MADV_DONTNEED);
            }
        }
    }
}

/* Close every fd but the ones listed (at most a few, any order). */
static void close_all_but(const int *keep, size_t n)
{
    unsigned lo = 0;

    for (;;) {
        unsigned next = ~0U;
        for (size_t i = 0; i < n; i++)
            if (keep[i] >= 0 && (unsigned)keep[i] >= lo &&
                (unsigned)keep[i] < next)
                next = (unsigned)keep[i];
        if (next == ~0U) {
            syscall(SYS_close_range, lo, ~0U, 0);
            return;
        }
        if (next > lo)
            syscall(SYS_close_range, lo, next - 1, 0);
        lo = next + 1;
    }
}

/* The job's child, right after the fork: keep only what the run needs,
 * map the job's memfd, and hand over to the sandbox. */
static void __attribute__((noreturn))
child(struct zyg *z, const struct zmsg_job *m, int memfd, struct sbx_start *st)
{
    const int keep[] = {memfd, z->host.kvm_fd, st->cgroup_fd, z->life[0]};
    struct sbx_report *rep;
    struct sbx_job *job;
    uint8_t *base;

    close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
    base =
        mmap(NULL, m->file_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    close(memfd);
    if (base == MAP_FAILED)
        JAIL_EXIT(1);
    /* Measured in the zygote before the fork: now the job's file too. */
    st->mapped += m->file_size;
    rep = (struct sbx_report *)base;
    job = sbx_job_unpack(base, m->file_size, m->job_off);
    if (!job) {
        snprintf(rep->message, sizeof(rep->message), "%s",
                 "the job description does not fit its memfd");
        rep->status = SBX_INTERNAL_ERROR;
        __atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
        JAIL_EXIT(1);
    }
    sbx_child_main(&z->host, job, st, rep);
}

static int add_job(struct zyg *z, pid_t pid, int sock)
{
    if (z->njobs == z->cap) {
        size_t ncap = z->cap ? z->cap * 2 : 16;
        struct zyg_job *nj = realloc(z->jobs, ncap * sizeof(*nj));
        if (!nj)
            return -ENOMEM;
        z->jobs = nj;
        z->cap = ncap;
    }
    z->jobs[z->njobs++] = (struct zyg_job){.pid = pid, .sock = sock};
    return 0;
}

/* Receive one ZMSG_JOB with its fds. 1: a job, 0: the runner went away. */
static int recv_job(int ctl, struct zmsg_job *m, int fds[ZJOB_FDS])
{
    char cbuf[CMSG_SPACE(ZJOB_FDS * sizeof(int))];
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    ssize_t n;

    for (int i = 0; i < ZJOB_FDS; i++)
        fds[i] = -1;
    do
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd && i < ZJOB_FDS; i++)
            memcpy(&fds[i], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if ((size_t)n != sizeof(*m) || m->kind != ZMSG_JOB ||
        (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
        m->kind = 0; /* refused below */
    return 1;
}

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void run_job(struct zyg *z, int ctl)
{
    struct zmsg_job m;
    int fds[ZJOB_FDS], pidfd = -1, rc;
    char err[SBX_MESSAGE_MAX];
    struct sbx_start st = {.life_fd = z->life[0], .parent = -1};
    pid_t pid;

    if (!recv_job(ctl, &m, fds)) {
        /* The runner is gone: so are its jobs. */
        for (size_t i = 0; i < z->njobs; i++)
            kill(z->jobs[i].pid, SIGKILL);
        _exit(0);
    }
    int sock = fds[ZJOB_FD_SOCKET], memfd = fds[ZJOB_FD_MEMFD];
    st.cgroup_fd = m.has_cgroup ? fds[ZJOB_FD_CGROUP] : -1;
    if (m.kind != ZMSG_JOB || sock < 0 || memfd < 0 ||
        (m.has_cgroup && st.cgroup_fd < 0)) {
        if (sock >= 0)
            send_failed(sock, -EPROTO, "malformed job request to the zygote");
        goto fail;
    }
    rc = sbx_start_prepare(&z->host, z->backend, m.mem_size, m.feedback, &st,
                           err, sizeof(err));
    if (st.built) {
        /* Whatever building the template freed or left zero: no child
         * inherits it. */
        malloc_trim(0);
        drop_zero_pages(z);
    }
    if (rc) {
        send_failed(sock, rc, err);
        goto fail;
    }
    st.mapped = jail_mapped_bytes(z->statm_fd);
    st.bset_clear = z->bset_clear;
    pid = clone_child(z->newpid ? CLONE_NEWPID : 0, &pidfd);
    if (pid == 0) {
        close(z->life[1]);
        child(z, &m, memfd, &st);
    }
    rc = -errno;
    sbx_start_release(&st);
    if (pid < 0) {
        snprintf(err, sizeof(err), "forking the job's child: %s",
                 strerror(-rc));
        send_failed(sock, rc, err);
        goto fail;
    }
    if (add_job(z, pid, sock) != 0) {
        kill(pid, SIGKILL);
        send_failed(sock, -ENOMEM, "the zygote is out of memory");
        goto fail;
    }
    struct zmsg_started s = {.kind = ZMSG_STARTED, .pid = pid};
    /* A caller that gave up waiting (ZYGOTE_START_TIMEOUT_MS) watches no
     * child: none runs unwatched. It is reaped as any other. */
    if (send_msg(sock, &s, sizeof(s), pidfd) != 0)
        kill(pid, SIGKILL);
    close(pidfd);
    /* The job's socket stays open until its child is reaped. */
    fds[ZJOB_FD_SOCKET] = -1;
fail:
    if (pidfd >= 0 && fds[ZJOB_FD_SOCKET] >= 0)
        close(pidfd);
    close_fds(fds, ZJOB_FDS);
}

/* SIGCHLD: reap every child that ended and tell its runner thread. */
static void reap(struct zyg *z, int sfd)
{
    struct signalfd_siginfo si;
    struct rusage ru;
    int ws;
    pid_t pid;

    while (read(sfd, &si, sizeof(si)) == sizeof(si))
        ;
    while ((pid = wait4(-1, &ws, WNOHANG, &ru)) > 0) {
        for (size_t i = 0; i < z->njobs; i++) {
            if (z->jobs[i].pid != pid)
                continue;
            struct zmsg_ended e = {
                .kind = ZMSG_ENDED,
                .wstatus = ws,
                /* ru_maxrss is in KiB on Linux (getrusage(2)). */
                .maxrss_kib = ru.ru_maxrss > 0 ? (uint64_t)ru.ru_maxrss : 0,
            };
            send_msg(z->jobs[i].sock, &e, sizeof(e), -1);
            close(z->jobs[i].sock);
            z->jobs[i] = z->jobs[--z->njobs];
            break;
        }
    }
}

static enum sbx_backend backend_named(const char *s, int *ok)
{
    *ok = 1;
    if (s && !strcmp(s, ZYG_ARG_KVM))
        return SBX_BACKEND_KVM;
    if (s && !strcmp(s, ZYG_ARG_EMU))
        return SBX_BACKEND_EMU;
    *ok = 0;
    return SBX_BACKEND_KVM;
}

#ifdef __SANITIZE_ADDRESS__
/* `make sanitize`: the zygote starts with an empty environment, so its
 * ASan options are built in. No leak check: the zygote ends at _exit or
 * when killed, and its empty root has no /proc for LeakSanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0:quarantine_size_mb=16";
}
#endif

/* argv: tincan-zygote kvm|emu UID KIND (the uid a root runner's jobs get;
 * the kind of KVM the runner found, kvm_kind_name()). */
int main(int argc, char **argv)
{
    struct zyg z;
    struct zmsg_ready r = {.kind = ZMSG_READY, .version = ZPROTO_VERSION};
    sigset_t chld;
    int ok, sfd;

    memset(&z, 0, sizeof(z));
    reset_signals();
    z.backend = backend_named(argc > 1 ? argv[1] : NULL, &ok);
    uid_t job_uid = argc > 2 ? (uid_t)strtoul(argv[2], NULL, 10) : 65534;
    enum kvm_kind kind = kvm_kind_named(argc > 3 ? argv[3] : NULL);
    if (!ok || argc != 4 || kind == KVM_KIND_COUNT) {
        r.rc = -EINVAL;
        snprintf(r.err, sizeof(r.err), "%s",
                 "usage: tincan-zygote kvm|emu UID none|hardware|pvm|software "
                 "(started by libtincan)");
        send_msg(ZYG_FD_CONTROL, &r, sizeof(r), -1);
        return 2;
    }
    r.rc = sbx_host_init(&z.host, z.backend,
                         z.backend == SBX_BACKEND_KVM ? ZYG_FD_KVM : -1,
                         (int)kind, r.err, sizeof(r.err));
    if (r.rc == 0 && z.backend == SBX_BACKEND_KVM && z.host.kvm_fd < 0) {
        r.rc = -ENODEV;
        snprintf(r.err, sizeof(r.err), "%s", z.host.kvm_error);
    }
    z.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    z.maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (r.rc == 0 && (pipe2(z.life, O_CLOEXEC) != 0 || z.statm_fd < 0)) {
        r.rc = -errno;
        snprintf(r.err, sizeof(r.err), "zygote setup: %s", strerror(errno));
    }
    if (r.rc) {
        send_msg(ZYG_FD_CONTROL, &r, sizeof(r), -1);
        return 1;
    }
    isolate(&z, job_uid);
    r.uid = (uint32_t)z.uid;
    memcpy(r.info, z.info, sizeof(r.info));
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        r.rc = -errno;
        snprintf(r.err, sizeof(r.err), "signalfd: %s", strerror(errno));
    }
    if (send_msg(ZYG_FD_CONTROL, &r, sizeof(r), -1) != 0 || r.rc)
        return 1;
    for (;;) {
        struct pollfd p[2] = {{.fd = ZYG_FD_CONTROL, .events = POLLIN},
                              {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[1].revents)
            reap(&z, sfd);
        if (p[0].revents)
            run_job(&z, ZYG_FD_CONTROL);
    }
}
