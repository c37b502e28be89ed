/*
 * zygote.c - starting the zygotes and talking to them (see zygote.h and
 * sandbox/zproto.h). The tincan-zygote executable is embedded in the
 * library (zygote_blob.S); it is written once into a sealed memfd and
 * exec'd from there with an empty environment, its control socket at fd 3
 * and (KVM) /dev/kvm at fd 4. Each job gets its own socketpair, so threads
 * running jobs at once never read each other's messages.
 */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../sandbox/kvm.h"
#include "../sandbox/zproto.h"

extern const unsigned char tincan_zygote_image[], tincan_zygote_image_end[];

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* memfd_create(2): may be executed (Linux 6.3) */
#endif
/* Where the zygote's fds are put before they move into place at exec. */
#define SPAWN_FD_BASE 10
#define SPAWN_FD_BLOB 5 /* the executable, after fd 3 (control), 4 (kvm) */
/* A zygote that does not exit within this after its socket closes is
 * killed (at the process's exit). */
#define ZYGOTE_EXIT_WAIT_MS 1000

struct zygote {
    pthread_mutex_t lock;
    int ctl;   /* control socket, -1 when not running */
    int pidfd; /* of the zygote */
    pid_t pid;
    int rc;       /* the last start's result (-errno), for the error text */
    uint32_t uid; /* what its children run as, on the host */
    char err[SBX_MESSAGE_MAX];
    char info[ZYG_INFO_MAX];
};

#define ZYGOTE_INIT                                                            \
    {                                                                          \
        .lock = PTHREAD_MUTEX_INITIALIZER, .ctl = -1, .pidfd = -1, .pid = -1   \
    }
static struct zygote zygotes[2] = {
    [SBX_BACKEND_KVM] = ZYGOTE_INIT,
    [SBX_BACKEND_EMU] = ZYGOTE_INIT,
};
static const char *const backend_arg[2] = {
    [SBX_BACKEND_KVM] = ZYG_ARG_KVM,
    [SBX_BACKEND_EMU] = ZYG_ARG_EMU,
};

static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
static int blob_fd = -1;
static int kvm_fd = -1, kvm_rc = 1; /* 1: not probed yet */
static char kvm_err[SBX_MESSAGE_MAX];
static enum kvm_kind kvm_kind = KVM_KIND_NONE;
static int hooks_set;

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int zygote_kvm_fd(char *err, size_t errlen)
{
    pthread_mutex_lock(&once_lock);
    if (kvm_rc == 1) {
        kvm_fd = kvm_open(kvm_err, sizeof(kvm_err));
        kvm_rc = kvm_fd < 0 ? kvm_fd : 0;
        if (kvm_fd >= 0)
            kvm_kind = kvm_host_kind(KVM_CPUINFO_PATH, KVM_SYSMODULE_PATH);
    }
    pthread_mutex_unlock(&once_lock);
    if (kvm_rc)
        snprintf(err, errlen, "%s", kvm_err);
    return kvm_rc ? kvm_rc : kvm_fd;
}

enum kvm_kind zygote_kvm_kind(void)
{
    char err[SBX_MESSAGE_MAX];
    enum kvm_kind k;

    zygote_kvm_fd(err, sizeof(err));
    pthread_mutex_lock(&once_lock);
    k = kvm_kind;
    pthread_mutex_unlock(&once_lock);
    return k;
}

/* The executable, in a sealed memfd (once per process; under once_lock). */
static int blob(char *err, size_t errlen)
{
    const unsigned char *p = tincan_zygote_image;
    size_t left = (size_t)(tincan_zygote_image_end - tincan_zygote_image);
    int fd;

    if (blob_fd >= 0)
        return blob_fd;
    fd = memfd_create("tincan-zygote",
                      MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) /* a kernel without MFD_EXEC */
        fd = memfd_create("tincan-zygote", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        goto fail;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        left -= (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        goto fail;
    blob_fd = fd;
    return fd;
fail:
    snprintf(err, errlen, "writing the zygote executable into a memfd: %s",
             strerror(errno));
    if (fd >= 0)
        close(fd);
    return -errno;
}

static uid_t job_uid(void)
{
    const char *v = getenv("TINCAN_JOB_UID");
    char *end;

    if (v && *v) {
        unsigned long u = strtoul(v, &end, 10);
        if (!*end && u > 0 && u < 0xFFFFFFFFUL)
            return (uid_t)u;
    }
    return ZYGOTE_DEFAULT_JOB_UID;
}

/* Between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
exec_zygote(int ctl, int kvm, int image, const char *backend, const char *uid,
            const char *kind)
{
    char *const argv[] = {"tincan-zygote", (char *)backend, (char *)uid,
                          (char *)kind, NULL};
    char *const envp[] = {NULL};
    struct sigaction dfl;
    sigset_t none;
    int c = fcntl(ctl, F_DUPFD, SPAWN_FD_BASE);
    int k = kvm >= 0 ? fcntl(kvm, F_DUPFD, SPAWN_FD_BASE) : -1;
    int b = fcntl(image, F_DUPFD, SPAWN_FD_BASE);

    if (c < 0 || b < 0 || (kvm >= 0 && k < 0) || dup2(c, ZYG_FD_CONTROL) < 0 ||
        (k >= 0 && dup2(k, ZYG_FD_KVM) < 0) || dup2(b, SPAWN_FD_BLOB) < 0)
        _exit(127);
    if (k < 0)
        close(ZYG_FD_KVM);
    /* stdin and stdout go; stderr stays, for what a sanitizer build (or a
     * dying zygote) has to say, unless the caller's fd 2 is a socket (a
     * daemon's reused fd: the zygote must not keep a connection open). No
     * job's child keeps it. */
    struct stat st;
    int keep_err = fstat(STDERR_FILENO, &st) == 0 && !S_ISSOCK(st.st_mode);
    syscall(SYS_close_range, 0, keep_err ? STDERR_FILENO - 1 : STDERR_FILENO,
            0);
    syscall(SYS_close_range, SPAWN_FD_BLOB + 1, ~0U, 0);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    syscall(SYS_execveat, SPAWN_FD_BLOB, "", argv, envp, AT_EMPTY_PATH);
    _exit(127);
}

static int recv_ready(int ctl, struct zmsg_ready *r)
{
    struct pollfd p = {.fd = ctl, .events = POLLIN};
    int rc;

    do
        rc = poll(&p, 1, ZYGOTE_START_TIMEOUT_MS);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return -ETIMEDOUT;
    ssize_t n = recv(ctl, r, sizeof(*r), 0);
    if (n == 0)
        return -EPIPE;
    if (n != (ssize_t)sizeof(*r) || r->kind != ZMSG_READY ||
        r->version != ZPROTO_VERSION)
        return -EPROTO;
    return 0;
}

static void stop(struct zygote *z)
{
    if (z->ctl >= 0)
        close(z->ctl);
    z->ctl = -1;
    if (z->pidfd >= 0) {
        struct pollfd p = {.fd = z->pidfd, .events = POLLIN};
        if (poll(&p, 1, ZYGOTE_EXIT_WAIT_MS) <= 0)
            syscall(SYS_pidfd_send_signal, z->pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)z->pidfd, &si, WEXITED);
        close(z->pidfd);
    }
    z->pidfd = -1;
    z->pid = -1;
}

static void stop_all(void)
{
    for (size_t i = 0; i < sizeof(zygotes) / sizeof(zygotes[0]); i++) {
        pthread_mutex_lock(&zygotes[i].lock);
        stop(&zygotes[i]);
        pthread_mutex_unlock(&zygotes[i].lock);
    }
}

/* In a child of fork(): the zygotes are the parent's, not this process's. */
static void forget_all(void)
{
    for (size_t i = 0; i < sizeof(zygotes) / sizeof(zygotes[0]); i++) {
        pthread_mutex_init(&zygotes[i].lock, NULL);
        if (zygotes[i].ctl >= 0)
            close(zygotes[i].ctl);
        if (zygotes[i].pidfd >= 0)
            close(zygotes[i].pidfd);
        zygotes[i].ctl = zygotes[i].pidfd = -1;
        zygotes[i].pid = -1;
    }
    pthread_mutex_init(&once_lock, NULL);
}

/* Start z (its lock held). */
static int start(struct zygote *z, enum sbx_backend b)
{
    struct zmsg_ready r;
    char uid[16];
    const char *kind;
    int sv[2], image, kvm = -1, rc;
    pid_t pid;

    pthread_mutex_lock(&once_lock);
    if (!hooks_set) {
        atexit(stop_all);
        pthread_atfork(NULL, NULL, forget_all);
        hooks_set = 1;
    }
    image = blob(z->err, sizeof(z->err));
    pthread_mutex_unlock(&once_lock);
    if (image < 0)
        return image;
    if (b == SBX_BACKEND_KVM) {
        kvm = zygote_kvm_fd(z->err, sizeof(z->err));
        if (kvm < 0)
            return kvm;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = -errno;
        snprintf(z->err, sizeof(z->err), "socketpair for the zygote: %s",
                 strerror(errno));
        return rc;
    }
    snprintf(uid, sizeof(uid), "%u", (unsigned)job_uid());
    kind = kvm_kind_name(zygote_kvm_kind()); /* not after fork: a lock */
    pid = fork();
    if (pid == 0)
        exec_zygote(sv[1], kvm, image, backend_arg[b], uid, kind);
    rc = -errno;
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        snprintf(z->err, sizeof(z->err), "forking the zygote: %s",
                 strerror(-rc));
        return rc;
    }
    z->ctl = sv[0];
    z->pid = pid;
    z->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (z->pidfd < 0) {
        rc = -errno;
        snprintf(z->err, sizeof(z->err),
                 "pidfd_open of the zygote: %s (tincan needs Linux 5.3+)",
                 strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(z->ctl);
        z->ctl = -1;
        return rc;
    }
    rc = recv_ready(z->ctl, &r);
    if (rc == 0 && r.rc) {
        rc = r.rc;
        snprintf(z->err, sizeof(z->err), "%.*s", (int)sizeof(r.err) - 1, r.err);
    } else if (rc) {
        snprintf(z->err, sizeof(z->err), "the zygote did not start (%s)%s",
                 strerror(-rc),
                 rc == -EPIPE ? "; the kernel may refuse to exec a memfd "
                                "(vm.memfd_noexec)"
                              : "");
    }
    if (rc) {
        stop(z);
        return rc;
    }
    snprintf(z->info, sizeof(z->info), "%.*s", (int)sizeof(r.info) - 1, r.info);
    z->uid = r.uid;
    return 0;
}

/* z started (its lock held); a zygote found dead is started again. */
static int ensure(struct zygote *z, enum sbx_backend b)
{
    if (z->ctl >= 0) {
        struct pollfd p = {.fd = z->pidfd, .events = POLLIN};
        if (poll(&p, 1, 0) == 0)
            return 0;
        stop(z); /* it died: reap it and start another */
    }
    z->rc = start(z, b);
    return z->rc;
}

static int send_job(int ctl, const struct zmsg_job *m, const int *fds, int nfds)
{
    char cbuf[CMSG_SPACE(ZJOB_FDS * sizeof(int))];
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
    struct cmsghdr *c;

    memset(cbuf, 0, sizeof(cbuf));
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    while (sendmsg(ctl, &mh, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

/* Wait for the job socket to have a message, until deadline_us. */
static int wait_readable(int fd, uint64_t deadline_us)
{
    for (;;) {
        uint64_t now = now_us();
        if (now >= deadline_us)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline_us - now + 999) / 1000);
        int rc = poll(&p, 1, ms);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

/*
 * One message of the zygote on a job socket, with at most one fd. Any
 * other fd it sent is closed, and a message cut short (its data or its
 * fds) is no message: -1 with EPROTO.
 */
static ssize_t recv_msg(int sock, void *buf, size_t len, int *fd)
{
    /* Room for two fds, so that a second one is seen and closed. */
    char cbuf[CMSG_SPACE(2 * sizeof(int))];
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    ssize_t n;
    int extra = 0;

    *fd = -1;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c;
         c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0 && !extra)
                *fd = got;
            else {
                close(got);
                extra = 1;
            }
        }
    }
    if (n >= 0 && (extra || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        errno = EPROTO;
        return -1;
    }
    return n;
}

/* The reply to a job request: STARTED with the child's pidfd, or FAILED. */
static int recv_started(struct zygote_job *job, char *err, size_t errlen)
{
    union {
        uint32_t kind;
        struct zmsg_started s;
        struct zmsg_failed f;
    } m;
    int fd = -1, rc = wait_readable(
                     job->sock, now_us() + ZYGOTE_START_TIMEOUT_MS * 1000ULL);
    ssize_t n = rc > 0 ? recv_msg(job->sock, &m, sizeof(m), &fd) : -1;

    if (n == (ssize_t)sizeof(m.s) && m.kind == ZMSG_STARTED && fd >= 0) {
        job->pidfd = fd;
        job->pid = m.s.pid;
        return 0;
    }
    if (fd >= 0)
        close(fd);
    if (n == (ssize_t)sizeof(m.f) && m.kind == ZMSG_FAILED) {
        snprintf(err, errlen, "%.*s", (int)sizeof(m.f.err) - 1, m.f.err);
        return m.f.rc < 0 ? m.f.rc : -EIO;
    }
    snprintf(err, errlen, "the zygote did not start the job's child (%s)",
             rc == 0  ? "no answer"
             : n == 0 ? "it went away"
                      : "bad answer");
    return -EPIPE;
}

int zygote_start_job(enum sbx_backend backend, int memfd, uint64_t file_size,
                     uint64_t job_off, uint64_t mem_size, unsigned feedback,
                     int cgroup_fd, struct zygote_job *job, char *err,
                     size_t errlen)
{
    struct zygote *z = &zygotes[backend];
    struct zmsg_job m = {
        .kind = ZMSG_JOB,
        .has_cgroup = cgroup_fd >= 0,
        .mem_size = mem_size,
        .file_size = file_size,
        .job_off = job_off,
        .feedback = feedback,
    };
    int sv[2], rc;

    job->sock = job->pidfd = -1;
    job->pid = -1;
    if ((unsigned)backend >= sizeof(zygotes) / sizeof(zygotes[0])) {
        snprintf(err, errlen, "unknown backend %d", (int)backend);
        return -EINVAL;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = -errno;
        snprintf(err, errlen, "socketpair for the job: %s", strerror(errno));
        return rc;
    }
    const int fds[ZJOB_FDS] = {
        [ZJOB_FD_MEMFD] = memfd,
        [ZJOB_FD_SOCKET] = sv[1],
        [ZJOB_FD_CGROUP] = cgroup_fd,
    };
    pthread_mutex_lock(&z->lock);
    rc = ensure(z, backend);
    if (rc == 0) {
        rc = send_job(z->ctl, &m, fds, cgroup_fd >= 0 ? 3 : 2);
        if (rc)
            snprintf(z->err, sizeof(z->err),
                     "sending the job to the zygote: %s", strerror(-rc));
    }
    if (rc)
        snprintf(err, errlen, "%s", z->err);
    pthread_mutex_unlock(&z->lock);
    close(sv[1]);
    job->sock = sv[0];
    if (rc == 0)
        rc = recv_started(job, err, errlen);
    if (rc)
        zygote_job_close(job);
    return rc;
}

/* Whether the job's child has exited (its pidfd is readable then). */
static int child_gone(const struct zygote_job *job)
{
    struct pollfd p = {.fd = job->pidfd, .events = POLLIN};
    int rc;

    do
        rc = poll(&p, 1, 0);
    while (rc < 0 && errno == EINTR);
    return rc > 0 && (p.revents & POLLIN);
}

int zygote_wait_job(struct zygote_job *job, uint64_t deadline_us, int *wstatus,
                    uint64_t *maxrss_kib)
{
    struct zmsg_ended e;
    int fd = -1, rc = wait_readable(job->sock, deadline_us);
    ssize_t n;

    if (rc == 0)
        return 0;
    n = rc > 0 ? recv_msg(job->sock, &e, sizeof(e), &fd) : -1;
    if (fd >= 0)
        close(fd);
    /* ENDED is believed only when the child's pidfd says it is gone:
     * otherwise it could still write into the report the caller reads. */
    if (n == (ssize_t)sizeof(e) && e.kind == ZMSG_ENDED && child_gone(job)) {
        *wstatus = e.wstatus;
        *maxrss_kib = e.maxrss_kib;
        return 1;
    }
    zygote_kill_job(job);
    return -EPIPE;
}

void zygote_kill_job(struct zygote_job *job)
{
    if (job->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, job->pidfd, SIGKILL, NULL, 0);
}

void zygote_job_close(struct zygote_job *job)
{
    if (job->sock >= 0)
        close(job->sock);
    if (job->pidfd >= 0)
        close(job->pidfd);
    job->sock = job->pidfd = -1;
}

int zygote_isolation(enum sbx_backend backend, char *buf, size_t len)
{
    struct zygote *z = &zygotes[backend];
    int rc;

    pthread_mutex_lock(&z->lock);
    rc = ensure(z, backend);
    if (rc)
        snprintf(buf, len, "%s", z->err);
    else if (!z->info[0])
        snprintf(buf, len,
                 "children run as uid %u in their own user, PID, network, "
                 "IPC, UTS and mount namespaces, with an empty root\n",
                 (unsigned)z->uid);
    else
        snprintf(buf, len, "children run as uid %u; refused by this host:\n%s",
                 (unsigned)z->uid, z->info);
    pthread_mutex_unlock(&z->lock);
    return rc;
}

pid_t zygote_pid(enum sbx_backend backend)
{
    struct zygote *z = &zygotes[backend];
    pid_t pid;

    pthread_mutex_lock(&z->lock);
    pid = ensure(z, backend) == 0 ? z->pid : -1;
    pthread_mutex_unlock(&z->lock);
    return pid;
}
