/* test_jail.c - the child's lockdown and the seccomp policy, each loaded in a
 * forked child through the runner, which must name what went wrong. Also the
 * runner's deadline backstop. No KVM needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runner/job.h"
#include "../sandbox/jail.h"

static struct sbx_filter stage1, stage2, emu;
static const struct jail_limits test_limits = {
    .keep_fd = -1, .mem_size = 1 << 20, .timeout_ms = 5000};

/* How the children here start: forked by the process that waits for
 * them (no zygote, no life pipe). */
static const struct sbx_start *child_start(void)
{
    static struct sbx_start st = {.cgroup_fd = -1, .life_fd = -1};

    st.parent = (int)getppid();
    return &st;
}

static int setup(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(jail_build_filters(&stage1, &stage2, 0, err, sizeof(err)),
                     0);
    assert_int_equal(jail_build_emu_filter(&emu, err, sizeof(err)), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jail_free_filter(&stage1);
    jail_free_filter(&stage2);
    jail_free_filter(&emu);
    return 0;
}

enum action {
    DO_SOCKET,
    DO_OPEN,
    DO_EXECVE,
    DO_KVM_RUN,
    DO_OTHER_FD,
    DO_SET_REGS,
    DO_STAGE1_OPEN
};

static void finish_ok(struct sbx_report *rep, const char *msg)
{
    snprintf(rep->message, sizeof(rep->message), "%s", msg);
    rep->status = SBX_OK;
    __atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
    JAIL_EXIT(0);
}

/* The child: full lockdown, both stages, then one call. */
static void locked_child(void *arg, struct sbx_report *rep)
{
    enum action a = (enum action)(intptr_t)arg;
    char err[256];

    if (jail_enter(rep, child_start(), &test_limits, err, sizeof(err)) != 0 ||
        jail_lock(&stage1) != 0)
        _exit(2);
    if (a == DO_STAGE1_OPEN) {
        open("/etc/hostname", O_RDONLY);
        finish_ok(rep, "open allowed in stage 1");
    }
    if (jail_lock(&stage2) != 0)
        _exit(3);
    switch (a) {
    case DO_SOCKET:
        socket(AF_INET, SOCK_STREAM, 0);
        break;
    case DO_OPEN:
        open("/etc/hostname", O_RDONLY);
        break;
    case DO_EXECVE:
        execve("/bin/true", (char *[]){"true", NULL}, (char *[]){NULL});
        break;
    case DO_KVM_RUN: /* allowed: fails with EBADF, nothing is open */
        if (ioctl(SBX_VCPU_FD, KVM_RUN, 0) == -1 && errno == EBADF)
            finish_ok(rep, "KVM_RUN allowed");
        break;
    case DO_OTHER_FD:
        ioctl(SBX_VCPU_FD + 1, KVM_RUN, 0);
        break;
    case DO_SET_REGS:
        ioctl(SBX_VCPU_FD, KVM_SET_REGS, NULL);
        break;
    case DO_STAGE1_OPEN:
        break;
    }
    finish_ok(rep, "the call was allowed");
}

enum emu_action {
    EMU_SOCKET,
    EMU_EXEC_MMAP,
    EMU_EXEC_MPROTECT,
    EMU_SECOND_FILTER,
    EMU_MALLOC
};

/* The emulator's child: lockdown, the emulator's one filter, then one call. */
static void emu_child(void *arg, struct sbx_report *rep)
{
    enum emu_action a = (enum emu_action)(intptr_t)arg;
    char err[256];

    if (jail_enter(rep, child_start(), &test_limits, err, sizeof(err)) != 0 ||
        jail_lock(&emu) != 0)
        _exit(2);
    switch (a) {
    case EMU_SOCKET:
        socket(AF_INET, SOCK_STREAM, 0);
        break;
    case EMU_EXEC_MMAP:
        mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
             0);
        break;
    case EMU_EXEC_MPROTECT: /* the JIT buffer came executable from the
                               template: nothing may become so in the child */
        mprotect(rep, 4096, PROT_READ | PROT_EXEC);
        break;
    case EMU_SECOND_FILTER: /* the one stage is final */
        jail_lock(&emu);
        break;
    case EMU_MALLOC: /* the JIT's allocations: brk and plain mmap */
        if (sbrk(4096) != (void *)-1 &&
            mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED)
            finish_ok(rep, "allocation allowed");
        break;
    }
    finish_ok(rep, "the call was allowed");
}

static void run_child(job_child_fn fn, void *arg, uint64_t timeout_ms,
                      struct job_outcome *o)
{
    struct job_limits lim = {.timeout_ms = timeout_ms, .max_output = 64};
    char err[256];

    assert_int_equal(job_run(fn, arg, &lim, o, err, sizeof(err)), 0);
}

static void expect_violation_in(job_child_fn fn, int a, long nr,
                                const char *name)
{
    struct job_outcome o;
    char needle[64];

    run_child(fn, (void *)(intptr_t)a, 5000, &o);
    assert_int_equal(o.head.status, SBX_SANDBOX_VIOLATION);
    assert_int_equal(o.signal, SIGSYS);
    assert_int_equal(o.head.violation_syscall, nr);
    snprintf(needle, sizeof(needle), "syscall %ld (%s)", nr, name);
    assert_non_null(strstr(o.head.message, needle));
    job_outcome_release(&o);
}

static void expect_violation(enum action a, long nr, const char *name)
{
    expect_violation_in(locked_child, (int)a, nr, name);
}

static void test_emu_filter_kills_socket_and_exec_mappings(void **state)
{
    (void)state;
    expect_violation_in(emu_child, EMU_SOCKET, SYS_socket, "socket");
    expect_violation_in(emu_child, EMU_EXEC_MMAP, SYS_mmap, "mmap");
    expect_violation_in(emu_child, EMU_EXEC_MPROTECT, SYS_mprotect, "mprotect");
}

static void test_emu_filter_kills_a_second_filter(void **state)
{
    (void)state;
    expect_violation_in(emu_child, EMU_SECOND_FILTER, SYS_seccomp, "seccomp");
}

static void test_emu_filter_allows_brk_and_plain_mmap(void **state)
{
    struct job_outcome o;

    (void)state;
    run_child(emu_child, (void *)(intptr_t)EMU_MALLOC, 5000, &o);
    assert_int_equal(o.head.status, SBX_OK);
    assert_string_equal(o.head.message, "allocation allowed");
    job_outcome_release(&o);
}

static void test_stage2_kills_socket_and_names_it(void **state)
{
    (void)state;
    expect_violation(DO_SOCKET, SYS_socket, "socket");
}

static void test_stage2_kills_open_and_execve(void **state)
{
    (void)state;
    expect_violation(DO_OPEN, SYS_openat, "openat");
    expect_violation(DO_EXECVE, SYS_execve, "execve");
}

static void test_stage1_already_forbids_open(void **state)
{
    (void)state;
    expect_violation(DO_STAGE1_OPEN, SYS_openat, "openat");
}

static void test_stage2_allows_kvm_run_only_on_the_vcpu_fd(void **state)
{
    struct job_outcome o;

    (void)state;
    run_child(locked_child, (void *)(intptr_t)DO_KVM_RUN, 5000, &o);
    assert_int_equal(o.head.status, SBX_OK);
    assert_string_equal(o.head.message, "KVM_RUN allowed");
    job_outcome_release(&o);
    expect_violation(DO_OTHER_FD, SYS_ioctl, "ioctl");
    expect_violation(DO_SET_REGS, SYS_ioctl, "ioctl");
}

/* Before any filter: what jail_enter leaves, written into the output. */
static void report_child(void *arg, struct sbx_report *rep)
{
    char err[256], buf[4096];
    struct rlimit nofile, core, fsize;
    int n = 0;

    (void)arg;
    if (jail_enter(rep, child_start(), &test_limits, err, sizeof(err)) != 0)
        _exit(2);
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    buf[len > 0 ? len : 0] = '\0';
    getrlimit(RLIMIT_NOFILE, &nofile);
    getrlimit(RLIMIT_CORE, &core);
    getrlimit(RLIMIT_FSIZE, &fsize);
    n = snprintf((char *)rep->out, rep->out_cap, "%d %d %d %d %d %d %d %d",
                 !!strstr(buf, "NoNewPrivs:\t1"),
                 !!strstr(buf, "CapEff:\t0000000000000000"),
                 !!strstr(buf, "CapPrm:\t0000000000000000"),
                 !!strstr(buf, "CapAmb:\t0000000000000000"),
                 !!strstr(buf, "CapBnd:\t0000000000000000"),
                 (int)nofile.rlim_cur, (int)core.rlim_max, (int)fsize.rlim_max);
    rep->out_len = (uint64_t)n;
    finish_ok(rep, "reported");
}

/* Whether this process may empty a child's bounding set (CAP_SETPCAP). */
static int can_drop_bounding_set(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    unsigned long long eff = 0;

    if (fd >= 0)
        close(fd);
    buf[len > 0 ? len : 0] = '\0';
    char *p = strstr(buf, "CapEff:\t");
    assert_non_null(p);
    eff = strtoull(p + strlen("CapEff:\t"), NULL, 16);
    return !!(eff & (1ULL << CAP_SETPCAP));
}

static void test_child_has_no_caps_no_new_privs_and_tight_rlimits(void **state)
{
    const char *want =
        can_drop_bounding_set() ? "1 1 1 1 1 4 0 0" : "1 1 1 1 0 4 0 0";
    struct job_outcome o;

    (void)state;
    run_child(report_child, NULL, 5000, &o);
    assert_int_equal(o.head.status, SBX_OK);
    assert_int_equal(o.head.out_len, strlen(want));
    assert_memory_equal(o.out, want, o.head.out_len);
    job_outcome_release(&o);
}

/* A child of a runner whose hard RLIMIT_CPU is 1 s, with a 5 s deadline:
 * exits 0 when its own hard limit stayed at 1 s. */
static void cpu_limit_child(void *arg, struct sbx_report *rep)
{
    char err[256];
    struct rlimit cpu;

    (void)arg;
    if (jail_enter(rep, child_start(), &test_limits, err, sizeof(err)) != 0 ||
        getrlimit(RLIMIT_CPU, &cpu) != 0)
        _exit(2);
    if (cpu.rlim_max == 1)
        finish_ok(rep, "kept");
    _exit(3);
}

static void test_rlimits_never_rise_above_the_runners_hard_limits(void **state)
{
    struct rlimit one = {.rlim_cur = 1, .rlim_max = 1};
    int wstatus = 0;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct job_limits lim = {.timeout_ms = 5000, .max_output = 64};
        struct job_outcome o;
        char err[256];

        if (setrlimit(RLIMIT_CPU, &one) != 0 ||
            job_run(cpu_limit_child, NULL, &lim, &o, err, sizeof(err)) != 0)
            _exit(4);
        _exit(o.head.status == SBX_OK ? 0 : 5);
    }
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
}

/* A child that ignores its deadline: output first, then sleep forever. */
static void stubborn_child(void *arg, struct sbx_report *rep)
{
    (void)arg;
    memcpy(rep->out, "partial", 7);
    __atomic_store_n(&rep->out_len, 7, __ATOMIC_RELEASE);
    for (;;)
        pause();
}

static void test_backstop_kills_at_deadline_and_keeps_output(void **state)
{
    struct job_outcome o;

    (void)state;
    run_child(stubborn_child, NULL, 50, &o);
    assert_int_equal(o.head.status, SBX_TIMEOUT);
    assert_int_equal(o.killed, 1);
    assert_int_equal(o.signal, SIGKILL);
    assert_int_equal(o.head.out_len, 7);
    assert_memory_equal(o.out, "partial", 7);
    /* deadline 50 ms + JOB_KILL_SLACK_MS, plus a margin for the reap */
    assert_in_range(o.wall_us, 50000 + JOB_KILL_SLACK_MS * 1000,
                    50000 + JOB_KILL_SLACK_MS * 1000 + 200000);
    job_outcome_release(&o);
}

static void silent_exit_child(void *arg, struct sbx_report *rep)
{
    (void)arg;
    (void)rep;
    _exit(3);
}

static void crash_child(void *arg, struct sbx_report *rep)
{
    (void)arg;
    (void)rep;
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    _exit(4);
}

static void test_child_dying_without_a_report_is_internal_error(void **state)
{
    struct job_outcome o;

    (void)state;
    run_child(silent_exit_child, NULL, 5000, &o);
    assert_int_equal(o.head.status, SBX_INTERNAL_ERROR);
    assert_string_equal(o.head.message, "the sandbox child exited with "
                                        "status 3 without a result");
    job_outcome_release(&o);
    run_child(crash_child, NULL, 5000, &o);
    assert_int_equal(o.head.status, SBX_INTERNAL_ERROR);
    assert_non_null(strstr(o.head.message, "killed by signal 11"));
    job_outcome_release(&o);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(sbx_status_name(SBX_OK), "ok");
    assert_string_equal(sbx_status_name(SBX_OUTPUT_LIMIT), "output_limit");
    assert_string_equal(sbx_status_name(SBX_SANDBOX_VIOLATION),
                        "sandbox_violation");
    assert_string_equal(sbx_status_name(SBX_INTERNAL_ERROR), "internal_error");
    assert_string_equal(sbx_status_name(SBX_STATUS_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage2_kills_socket_and_names_it),
        cmocka_unit_test(test_emu_filter_kills_socket_and_exec_mappings),
        cmocka_unit_test(test_emu_filter_kills_a_second_filter),
        cmocka_unit_test(test_emu_filter_allows_brk_and_plain_mmap),
        cmocka_unit_test(test_stage2_kills_open_and_execve),
        cmocka_unit_test(test_stage1_already_forbids_open),
        cmocka_unit_test(test_stage2_allows_kvm_run_only_on_the_vcpu_fd),
        cmocka_unit_test(test_child_has_no_caps_no_new_privs_and_tight_rlimits),
        cmocka_unit_test(test_rlimits_never_rise_above_the_runners_hard_limits),
        cmocka_unit_test(test_backstop_kills_at_deadline_and_keeps_output),
        cmocka_unit_test(test_child_dying_without_a_report_is_internal_error),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
