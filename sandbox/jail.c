/*
 * jail.c - the per-job child's lockdown. The seccomp policy is the tables
 * below (two stages for KVM, one for the emulator), one line per allowed call
 * with its reason; everything else traps into a handler that records the
 * syscall number in the shared report and then dies by SIGSYS.
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <unistd.h>

/* Address space beyond what the child had at fork plus guest memory. */
#define JAIL_AS_SLACK (64ULL << 20)
/* The trap handler re-enters the filter with this call, which no stage
 * allows; the handler is reset by then, so the default action kills. */
#define JAIL_TRIPWIRE SYS_getpid
/* x32 system calls: x86-64's arch with this bit in the number (see
 * <asm/unistd.h>, __X32_SYSCALL_BIT). */
#define JAIL_X32_SYSCALL_BIT 0x40000000L

struct jail_rule {
    int nr;
    unsigned argc;
    struct scmp_arg_cmp args[2];
    const char *why;
};

/* clang-format off */
#define ARG_EQ(n, v) {.arg = (n), .op = SCMP_CMP_EQ, .datum_a = (v)}
#define ARG_CLEAR(n, m) \
    {.arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (m), .datum_b = 0}
#define ALLOW(name, why) {SCMP_SYS(name), 0, {{0}}, why}
#define ALLOW_IF(name, cmp, why) {SCMP_SYS(name), 1, {cmp}, why}
#define ALLOW_IOCTL(req, why) ALLOW_IF(ioctl, ARG_EQ(1, req), why)
#define ALLOW_VCPU_IOCTL(req, why) \
    {SCMP_SYS(ioctl), 2, {ARG_EQ(0, SBX_VCPU_FD), ARG_EQ(1, req)}, why}

/* Stage 1: building the VM (and, as filters stack, everything stage 2
 * allows). The child holds only KVM fds at this point. */
static const struct jail_rule stage1_rules[] = {
    ALLOW_IOCTL(KVM_CREATE_VM, "create the VM on /dev/kvm"),
    ALLOW_IOCTL(KVM_SET_USER_MEMORY_REGION, "give the VM its memory"),
    ALLOW_IOCTL(KVM_CREATE_VCPU, "create the one vCPU"),
    ALLOW_IOCTL(KVM_SET_CPUID2, "show the guest the ABI's CPUID table"),
    ALLOW_IOCTL(KVM_GET_SREGS, "read the vCPU's reset segment state"),
    ALLOW_IOCTL(KVM_SET_SREGS, "enter long mode: CRs, EFER, GDT, IDT"),
    ALLOW_IOCTL(KVM_SET_XCRS, "enable AVX state in XCR0"),
    ALLOW_IOCTL(KVM_SET_REGS, "entry registers: rip, rsp, rdi, rsi"),
    ALLOW_IF(mmap, ARG_CLEAR(2, PROT_EXEC), "guest memory and the vCPU run area, never executable"),
    ALLOW(close, "drop the /dev/kvm and VM fds once the vCPU exists"),
    ALLOW(dup2, "move the vCPU fd to SBX_VCPU_FD for stage 2"),
    ALLOW_IF(seccomp, ARG_EQ(0, SECCOMP_SET_MODE_FILTER), "install the stage-2 filter"),
};

/* Stage 2: the run loop. Only the vCPU fd, only these requests. */
static const struct jail_rule stage2_rules[] = {
    ALLOW_VCPU_IOCTL(KVM_RUN, "run the guest until its next exit"),
    ALLOW_VCPU_IOCTL(KVM_GET_REGS, "fault report: rsp of the exception"),
    ALLOW_VCPU_IOCTL(KVM_GET_SREGS, "fault report: cr2 of a page fault"),
    ALLOW(rt_sigreturn, "return from the deadline signal handler"),
    ALLOW(exit_group, "end the child when the job ends"),
#ifdef __SANITIZE_ADDRESS__
    /* `make sanitize` only: ASan reads the alternate signal stack before
     * every call to a noreturn function. Reading (ss == NULL) changes nothing. */
    ALLOW_IF(sigaltstack, ARG_EQ(0, 0), "ASan: query the signal stack"),
#endif
};
/* kvm_pvm's ring-3 boot path (pvm.c) only, added to the stages above. */
static const struct jail_rule pvm_stage1_rules[] = {
    ALLOW_IOCTL(KVM_SET_MSRS, "a Linux guest's STAR, LSTAR, FMASK"),
    ALLOW_IOCTL(KVM_SET_FPU, "a Linux guest's FCW and MXCSR"),
    ALLOW_IF(madvise, ARG_EQ(2, MADV_HUGEPAGE), "huge pages under a big input: kvm_pvm's shadow pages"),
};
static const struct jail_rule pvm_stage2_rules[] = {
    ALLOW_VCPU_IOCTL(KVM_SET_REGS, "resume after a fault: step in ring 0, back to ring 3"),
};
/* The emulator: one stage, installed before the child touches the job.
 * The engine, its executable JIT buffer and the guest memory come from the
 * parent's template; the child only writes the job into them and runs it.
 * Unicorn translates guest code into the JIT buffer it already has and
 * allocates translation blocks with malloc as it goes. */
static const struct jail_rule emu_rules[] = {
    ALLOW(brk, "malloc: translation blocks, TLB, hooks (the insn limit's)"),
    ALLOW_IF(mmap, ARG_CLEAR(2, PROT_EXEC), "malloc of large blocks, never executable"),
    ALLOW(munmap, "free of large blocks"),
    ALLOW_IF(mprotect, ARG_CLEAR(2, PROT_EXEC), "malloc arenas and guard pages, never executable"),
    ALLOW(madvise, "malloc trimming freed memory"),
    ALLOW(rt_sigreturn, "return from the deadline signal handler"),
    ALLOW(exit_group, "end the child when the job ends"),
#ifdef __SANITIZE_ADDRESS__
    ALLOW_IF(sigaltstack, ARG_EQ(0, 0), "ASan: query the signal stack"),
#endif
};
/* clang-format on */

#define NRULES(t) (sizeof(t) / sizeof((t)[0]))

static int add_rules(scmp_filter_ctx ctx, const struct jail_rule *rules,
                     size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rules[i].nr,
                                        rules[i].argc, rules[i].args);
        if (rc < 0) {
            snprintf(err, errlen, "seccomp rule '%s': %s", rules[i].why,
                     strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/*
 * Filters stack: once stage 2 is added, a call must pass both. So stage 1
 * allows its own calls and stage 2's; stage 2 allows only its own.
 */
/* A table of rules, for build_one. */
struct jail_table {
    const struct jail_rule *rules;
    size_t n;
};
#define TABLE(r)                                                               \
    {                                                                          \
        (r), NRULES(r)                                                         \
    }

static int build_one(const struct jail_table *tables, size_t ntables,
                     struct sbx_filter *out, char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int fd = -1, rc;
    struct stat st;
    void *buf = NULL;

    if (!ctx) {
        snprintf(err, errlen, "seccomp_init: out of memory");
        return -ENOMEM;
    }
    /* A call of another ABI (i386's int 0x80, x32) traps like any other
     * forbidden call, so it is reported by name, not killed unexplained. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp bad-arch action: %s", strerror(-rc));
        goto out;
    }
    for (size_t t = 0; rc == 0 && t < ntables; t++)
        rc = add_rules(ctx, tables[t].rules, tables[t].n, err, errlen);
    if (rc < 0)
        goto out;
    fd = memfd_create("tincan-bpf", MFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "memfd_create: %s", strerror(errno));
        goto out;
    }
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp_export_bpf: %s", strerror(-rc));
        goto out;
    }
    if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
        st.st_size % sizeof(struct sock_filter)) {
        rc = -EIO;
        snprintf(err, errlen, "seccomp_export_bpf: bad program size");
        goto out;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
        rc = buf ? -EIO : -ENOMEM;
        snprintf(err, errlen, "reading the seccomp program: %s", strerror(-rc));
        free(buf);
        goto out;
    }
    out->prog.filter = buf;
    out->prog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return rc;
}

int jail_build_filters(struct sbx_filter *stage1, struct sbx_filter *stage2,
                       int pvm, char *err, size_t errlen)
{
    /* Filters stack: stage 1 allows what stage 2 does too. */
    const struct jail_table s1[] = {TABLE(stage1_rules), TABLE(stage2_rules),
                                    TABLE(pvm_stage1_rules),
                                    TABLE(pvm_stage2_rules)};
    const struct jail_table s2[] = {TABLE(stage2_rules),
                                    TABLE(pvm_stage2_rules)};
    size_t n1 = pvm ? 4 : 2, n2 = pvm ? 2 : 1;
    int rc = build_one(s1, n1, stage1, err, errlen);

    if (rc)
        return rc;
    rc = build_one(s2, n2, stage2, err, errlen);
    if (rc)
        jail_free_filter(stage1);
    return rc;
}

int jail_build_emu_filter(struct sbx_filter *f, char *err, size_t errlen)
{
    const struct jail_table t[] = {TABLE(emu_rules)};

    return build_one(t, 1, f, err, errlen);
}

void jail_free_filter(struct sbx_filter *f)
{
    free(f->prog.filter);
    f->prog.filter = NULL;
    f->prog.len = 0;
}

int jail_lock(const struct sbx_filter *f)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->prog) != 0)
        return -errno;
    return 0;
}

const char *jail_syscall_name(long nr, uint32_t arch, char *buf, size_t len)
{
    const char *abi = "";
    uint32_t token = SCMP_ARCH_X86_64;
    char *name;

    if (arch == AUDIT_ARCH_I386) {
        abi = "i386 ";
        token = SCMP_ARCH_X86;
    } else if (nr & JAIL_X32_SYSCALL_BIT) {
        abi = "x32 ";
        token = SCMP_ARCH_X32;
    } else if (arch != 0 && arch != AUDIT_ARCH_X86_64) {
        snprintf(buf, len, "of unknown arch 0x%x", arch);
        return buf;
    }
    name = seccomp_syscall_resolve_num_arch(token, (int)nr);
    snprintf(buf, len, "%s%s", abi, name ? name : "unknown");
    free(name);
    return buf;
}

volatile int jail_deadline_hit;
volatile int jail_probe_hit;
volatile uint8_t *volatile jail_immediate_exit;
static struct sbx_report *volatile trap_report;

static void on_deadline(int sig)
{
    (void)sig;
    jail_deadline_hit = 1;
    if (jail_immediate_exit)
        *jail_immediate_exit = 1;
}

static void on_probe(int sig)
{
    (void)sig;
    jail_probe_hit = 1;
    if (jail_immediate_exit)
        *jail_immediate_exit = 1;
}

volatile int jail_in_emulator;

/*
 * Unicorn's own report of a fatal error ("tcg fatal error"), trapped as a
 * write to stderr while it ran the guest: that is the job's end, an
 * internal error, not a sandbox violation. Copies the text, printable
 * characters only; async-signal-safe (no stdio).
 */
static int emulator_abort(const siginfo_t *si, const ucontext_t *ctx,
                          struct sbx_report *rep)
{
    static const char head[] = "the emulator (Unicorn) aborted: ";
    const greg_t *g = ctx->uc_mcontext.gregs;
    const char *text = (const char *)g[REG_RSI];
    size_t len = (size_t)g[REG_RDX], at = sizeof(head) - 1;

    if (!jail_in_emulator || si->si_syscall != SYS_write ||
        g[REG_RDI] != STDERR_FILENO ||
        __atomic_load_n(&rep->done, __ATOMIC_ACQUIRE))
        return 0;
    memcpy(rep->message, head, at);
    for (size_t i = 0; i < len && at < sizeof(rep->message) - 1; i++)
        if (text[i] >= ' ' && text[i] <= '~')
            rep->message[at++] = text[i];
    rep->message[at] = '\0';
    rep->status = SBX_INTERNAL_ERROR;
    __atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
    return 1;
}

static void on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    if (trap_report && !emulator_abort(si, uc, trap_report)) {
        trap_report->violation_arch = si->si_arch;
        trap_report->violation_syscall = si->si_syscall;
    }
    syscall(JAIL_TRIPWIRE);
    _exit(128 + SIGSYS); /* not reached: the tripwire kills */
}

static int fail(char *err, size_t errlen, const char *step)
{
    int e = errno;

    snprintf(err, errlen, "%s: %s", step, strerror(e));
    return -e;
}

/*
 * Called after drop_caps(): without CAP_SYS_RESOURCE a limit above the
 * inherited hard limit fails, and only then is that limit read, so the
 * common case is one call per limit. Lowering always works.
 */
static int set_limit(int res, uint64_t v)
{
    struct rlimit cur, rl = {.rlim_cur = v, .rlim_max = v};

    if (setrlimit(res, &rl) == 0)
        return 0;
    if (errno != EPERM || getrlimit(res, &cur) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max = cur.rlim_max;
    return setrlimit(res, &rl);
}

/* The first number of statm (VmSize in pages), parsed by hand: sscanf
 * would fault in locale data. */
uint64_t jail_mapped_bytes(int statm_fd)
{
    char buf[64] = {0};
    uint64_t pages = 0;
    int fd = statm_fd >= 0 ? statm_fd
                           : open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (pread(fd, buf, sizeof(buf) - 1, 0) > 0)
        for (const char *p = buf; *p >= '0' && *p <= '9'; p++)
            pages = pages * 10 + (uint64_t)(*p - '0');
    if (fd != statm_fd)
        close(fd);
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The zygote (or the process that forked the child) is still there: the
 * child starts a job only for a runner that can collect it. */
static int parent_alive(const struct sbx_start *st)
{
    struct pollfd p = {.fd = st->life_fd, .events = POLLIN};

    if (st->life_fd < 0)
        return getppid() == st->parent;
    /* Every write end is the zygote's (children close theirs first): a
     * hang-up means it is gone. */
    return poll(&p, 1, 0) == 0;
}

/*
 * One capget, then only the calls that change something: the bounding set
 * only with CAP_SETPCAP (without it every drop fails with EPERM, and
 * no_new_privs keeps the set unusable, as nothing can be exec'd to gain
 * caps), ambient only when inheritable is not empty (ambient is a subset),
 * capset only when a set is not empty. Raw syscalls: nothing allocates.
 */
static int drop_caps(int bset_clear, char *err, size_t errlen)
{
    struct __user_cap_header_struct hdr = {.version =
                                               _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    uint32_t any = 0, inheritable = 0;

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return fail(err, errlen, "capget");
    for (unsigned i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        any |= data[i].effective | data[i].permitted | data[i].inheritable;
        inheritable |= data[i].inheritable;
    }
    if (!bset_clear &&
        data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP)) {
        cap_value_t max = cap_max_bits();
        for (cap_value_t c = 0; c < max; c++)
            if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL &&
                errno != EPERM)
                return fail(err, errlen,
                            "dropping the capability bounding set");
    }
    if (inheritable &&
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
        errno != EINVAL)
        return fail(err, errlen, "clearing ambient capabilities");
    if (!any)
        return 0;
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) != 0)
        return fail(err, errlen, "dropping capabilities");
    return 0;
}

int jail_enter(struct sbx_report *rep, const struct sbx_start *st,
               const struct jail_limits *lim, char *err, size_t errlen)
{
    int keep_fd = lim->keep_fd;
    struct sigaction sa;
    sigset_t none;

    trap_report = rep;
    rep->violation_syscall = -1;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return fail(err, errlen, "PR_SET_PDEATHSIG");
    /* The parent may have died before the line above took effect. */
    if (!parent_alive(st))
        _exit(1);
    if (setsid() < 0)
        return fail(err, errlen, "setsid");
    /* Before the VM exists, so that its kernel memory is charged here. */
    if (st->cgroup_fd >= 0 && write(st->cgroup_fd, "0", 1) != 1)
        return fail(err, errlen, "joining the job's cgroup");

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return fail(err, errlen, "sigaction(SIGSYS)");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_deadline;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return fail(err, errlen, "sigaction(SIGALRM)");
    sa.sa_handler = on_probe;
    if (lim->kvm && sigaction(SIGPROF, &sa, NULL) != 0)
        return fail(err, errlen, "sigaction(SIGPROF)");
    /* A blocked SIGALRM would never end the job at its deadline, a blocked
     * SIGSYS would turn a trap into an unexplained kill. */
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        return fail(err, errlen, "sigprocmask");

    /* Keep only keep_fd (/dev/kvm); stdio goes too. */
    if (keep_fd > 0 && close_range(0, (unsigned)keep_fd - 1, 0) != 0)
        return fail(err, errlen, "close_range");
    if (close_range((unsigned)keep_fd + 1, ~0U, 0) != 0)
        return fail(err, errlen, "close_range");

    uint64_t mapped = st->mapped ? st->mapped : jail_mapped_bytes(-1);
    if (mapped == 0) {
        errno = errno ? errno : EIO;
        return fail(err, errlen, "reading /proc/self/statm for RLIMIT_AS");
    }
    int rc = drop_caps(st->bset_clear, err, errlen);
    if (rc)
        return rc;
    uint64_t as = mapped + lim->mem_size + lim->as_extra + JAIL_AS_SLACK;
    uint64_t cpu_s = lim->timeout_ms / 1000 + 2;
    if (set_limit(RLIMIT_CORE, 0) || set_limit(RLIMIT_FSIZE, 0) ||
        set_limit(RLIMIT_NOFILE, SBX_VCPU_FD + 1) ||
        (!lim->kvm && set_limit(RLIMIT_NPROC, 0)) ||
        set_limit(RLIMIT_MEMLOCK, 0) || set_limit(RLIMIT_MSGQUEUE, 0) ||
        set_limit(RLIMIT_CPU, cpu_s) || set_limit(RLIMIT_AS, as))
        return fail(err, errlen, "setrlimit");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(err, errlen, "PR_SET_NO_NEW_PRIVS");

    struct itimerval it = {
        .it_value = {.tv_sec = (time_t)(lim->timeout_ms / 1000),
                     .tv_usec = (suseconds_t)(lim->timeout_ms % 1000) * 1000},
    };
    if (lim->timeout_ms == 0)
        it.it_value.tv_usec = 1;
    if (setitimer(ITIMER_REAL, &it, NULL) != 0)
        return fail(err, errlen, "setitimer");
    if (lim->kvm) {
        const struct timeval every = {
            .tv_sec = JAIL_PROBE_CPU_MS / 1000,
            .tv_usec = (suseconds_t)(JAIL_PROBE_CPU_MS % 1000) * 1000};
        const struct itimerval probe = {.it_interval = every,
                                        .it_value = every};
        if (setitimer(ITIMER_PROF, &probe, NULL) != 0)
            return fail(err, errlen, "setitimer(ITIMER_PROF)");
    }
    return 0;
}
