/*
 * sandbox.c - the child's main line (lock down, build, lock tighter, run) and
 * what the parent prepares: once for all children, and per job before the
 * fork.
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "emu.h"
#include "ucdl.h"
#include "jail.h"
#include "kvm.h"
#include "lx.h"

/* The one Linux process of this child (abi linux). */
static struct lx_proc lx_proc;

static struct lx_proc *lx_for(const struct sbx_job *job)
{
    if (job->abi != SBX_ABI_LINUX)
        return NULL;
    lx_init(&lx_proc, job);
    return &lx_proc;
}

static const char *const status_names[SBX_STATUS_COUNT] = {
    [SBX_OK] = "ok",
    [SBX_TIMEOUT] = "timeout",
    [SBX_OUTPUT_LIMIT] = "output_limit",
    [SBX_FAULT] = "fault",
    [SBX_UNHANDLED_IO] = "unhandled_io",
    [SBX_MMIO] = "mmio",
    [SBX_SHUTDOWN] = "shutdown",
    [SBX_SANDBOX_VIOLATION] = "sandbox_violation",
    [SBX_INTERNAL_ERROR] = "internal_error",
    [SBX_INSN_LIMIT] = "insn_limit",
    [SBX_UNSUPPORTED_SYSCALL] = "unsupported_syscall",
    [SBX_SIGNAL] = "signal",
    [SBX_DEADLOCK] = "deadlock",
};

const char *sbx_status_name(enum sbx_status st)
{
    return (unsigned)st < SBX_STATUS_COUNT ? status_names[st] : "unknown";
}

size_t sbx_report_size(uint64_t out_cap, uint64_t err_cap)
{
    size_t n = sizeof(struct sbx_report) + (size_t)out_cap + (size_t)err_cap;

    return (n + SBX_PAGE_SIZE - 1) & ~(size_t)(SBX_PAGE_SIZE - 1);
}

/* The feedback region follows the report, on pages of its own (the edge
 * map is what the child writes most); the job description follows it. */
size_t sbx_feedback_offset(uint64_t out_cap, uint64_t err_cap)
{
    return sbx_report_size(out_cap, err_cap);
}

size_t sbx_feedback_size(uint32_t cmp_cap)
{
    size_t n =
        sizeof(struct sbx_feedback) + (size_t)cmp_cap * sizeof(struct sbx_cmp);

    return (n + SBX_PAGE_SIZE - 1) & ~(size_t)(SBX_PAGE_SIZE - 1);
}

const char *sbx_syscall_name(long nr, char *buf, size_t len)
{
    return jail_syscall_name(nr, AUDIT_ARCH_X86_64, buf, len);
}

int sbx_host_init(struct sbx_host *h, enum sbx_backend backend, int kvm_fd,
                  int kvm_kind, char *err, size_t errlen)
{
    int rc;

    memset(h, 0, sizeof(*h));
    h->kvm_fd = -1;
    h->kvm_kind = kvm_kind;
    h->boot_image = malloc(BOOT_IMAGE_SIZE);
    if (!h->boot_image) {
        snprintf(err, errlen, "allocating the boot image: %s",
                 strerror(ENOMEM));
        return -ENOMEM;
    }
    boot_build_image(h->boot_image);
    switch (backend) {
    case SBX_BACKEND_KVM:
        kvm_probe_fd(h, kvm_fd); /* first: h->pvm decides the filters */
        rc = jail_build_filters(&h->stage1, &h->stage2, h->pvm, err, errlen);
        break;
    case SBX_BACKEND_EMU:
        rc = jail_build_emu_filter(&h->emu, err, errlen);
        if (rc == 0)
            rc = ucdl_load(err, errlen);
        break;
    default:
        snprintf(err, errlen, "unknown backend %d", (int)backend);
        rc = -EINVAL;
    }
    if (rc)
        sbx_host_fini(h);
    return rc;
}

void sbx_host_fini(struct sbx_host *h)
{
    kvm_release(h);
    jail_free_filter(&h->stage1);
    jail_free_filter(&h->stage2);
    jail_free_filter(&h->emu);
    free(h->boot_image);
    h->boot_image = NULL;
}

int sbx_start_prepare(const struct sbx_host *host, enum sbx_backend backend,
                      uint64_t mem_size, unsigned feedback,
                      struct sbx_start *st, char *err, size_t errlen)
{
    st->emu = NULL;
    st->built = 0;
    if (backend != SBX_BACKEND_EMU)
        return 0;
    return emu_template_get(host, mem_size, feedback, &st->emu, &st->built, err,
                            errlen);
}

void sbx_start_release(struct sbx_start *st)
{
    if (st->emu)
        emu_template_put(st->emu);
    st->emu = NULL;
}

/* [off, off + len) lies inside a file of size bytes (overflow-safe). */
static int in_file(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

struct sbx_job *sbx_job_unpack(uint8_t *base, uint64_t file_size,
                               uint64_t job_off)
{
    struct sbx_job *job = (struct sbx_job *)(base + job_off);

    if (!in_file(job_off, sizeof(*job), file_size) ||
        job_off % _Alignof(struct sbx_job) || job->nsegs > SBX_MAX_SEGMENTS)
        return NULL;
    for (unsigned i = 0; i < job->nsegs; i++) {
        uint64_t off = (uint64_t)(uintptr_t)job->segs[i].data;
        if (!in_file(off, job->segs[i].filesz, file_size))
            return NULL;
        job->segs[i].data = base + off;
    }
    uint64_t off = (uint64_t)(uintptr_t)job->input;
    if (!in_file(off, job->input_len, file_size))
        return NULL;
    job->input = base + off;
    if (job->feedback && (job->cmp_cap > SBX_CMP_MAX ||
                          !in_file(job->feedback_off,
                                   sbx_feedback_size(job->cmp_cap), file_size)))
        return NULL;
    if (job->abi == SBX_ABI_LINUX) {
        off = (uint64_t)(uintptr_t)job->lx.stack.data;
        if (!in_file(off, job->lx.stack.filesz, file_size))
            return NULL;
        job->lx.stack.data = base + off;
    }
    return job;
}

/* A setup step failed. When the deadline has passed, that is why (a signal
 * interrupted the step: "KVM_CREATE_VM: Interrupted system call" under load
 * with a short timeout): the job timed out before its guest ran. */
static void __attribute__((noreturn))
child_fail(struct sbx_report *rep, const char *err)
{
    if (jail_deadline_hit) {
        snprintf(rep->message, sizeof(rep->message),
                 "deadline reached before the guest ran (%s)", err);
        rep->status = SBX_TIMEOUT;
    } else {
        snprintf(rep->message, sizeof(rep->message), "%s", err);
        rep->status = SBX_INTERNAL_ERROR;
    }
    __atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
    JAIL_EXIT(1);
}

static void __attribute__((noreturn))
run_kvm(const struct sbx_host *host, const struct sbx_job *job,
        const struct sbx_start *st, struct sbx_report *rep)
{
    char err[SBX_MESSAGE_MAX];
    struct kvm_vm vm;

    if (host->kvm_fd < 0)
        child_fail(rep, host->kvm_error);
    const struct jail_limits lim = {.keep_fd = host->kvm_fd,
                                    .mem_size = job->mem_size,
                                    .timeout_ms = job->timeout_ms,
                                    .kvm = 1};
    if (jail_enter(rep, st, &lim, err, sizeof(err)) != 0)
        child_fail(rep, err);
    if (jail_lock(&host->stage1) != 0) {
        snprintf(err, sizeof(err), "seccomp stage 1: %s", strerror(errno));
        child_fail(rep, err);
    }
    if (kvm_build(host, job, rep, &vm, err, sizeof(err)) != 0)
        child_fail(rep, err);
    vm.guest.lx = lx_for(job);
    /* From here to KVM_RUN nothing allocates or frees. */
    if (jail_lock(&host->stage2) != 0)
        child_fail(rep, "seccomp stage 2: cannot install the filter");
    kvm_loop(&vm);
    JAIL_EXIT(0);
}

static void __attribute__((noreturn))
run_emu(const struct sbx_host *host, const struct sbx_job *job,
        const struct sbx_start *st, struct sbx_report *rep)
{
    char err[SBX_MESSAGE_MAX];
    struct emu_vm *vm;

    if (!st->emu)
        child_fail(rep, "no emulator template for the job");
    /* No fd at all: the emulator needs no device. The guest memory and
     * the JIT buffer are mapped already (the template): no extra room. */
    const struct jail_limits lim = {.keep_fd = -1,
                                    .timeout_ms = job->timeout_ms};
    if (jail_enter(rep, st, &lim, err, sizeof(err)) != 0)
        child_fail(rep, err);
    /* One stage: the machine exists, the job only fills it in. */
    if (jail_lock(&host->emu) != 0) {
        snprintf(err, sizeof(err), "seccomp emulator filter: %s",
                 strerror(errno));
        child_fail(rep, err);
    }
    if (emu_start(st->emu, job, rep, &vm, err, sizeof(err)) != 0)
        child_fail(rep, err);
    vm->guest.lx = lx_for(job);
    emu_loop(vm);
    JAIL_EXIT(0);
}

void sbx_child_main(const struct sbx_host *host, const struct sbx_job *job,
                    const struct sbx_start *st, struct sbx_report *rep)
{
    switch (job->backend) {
    case SBX_BACKEND_KVM:
        run_kvm(host, job, st, rep);
    case SBX_BACKEND_EMU:
        run_emu(host, job, st, rep);
    }
    child_fail(rep, "unknown backend");
}
