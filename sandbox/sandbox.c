/*
 * sandbox.c - the child's main line (lock down, build, lock tighter, run) and
 * what the parent prepares: once for all children, and per job before the
 * fork.
 */
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "emu.h"
#include "ucdl.h"
#include "jail.h"
#include "kvm.h"

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
};

const char *sbx_status_name(enum sbx_status st)
{
    return (unsigned)st < SBX_STATUS_COUNT ? status_names[st] : "unknown";
}

size_t sbx_report_size(uint64_t out_cap)
{
    return sizeof(struct sbx_report) + (size_t)out_cap;
}

int sbx_host_init(struct sbx_host *h, char *err, size_t errlen)
{
    int rc;

    memset(h, 0, sizeof(*h));
    h->kvm_fd = -1;
    h->boot_image = malloc(BOOT_IMAGE_SIZE);
    if (!h->boot_image) {
        snprintf(err, errlen, "allocating the boot image: %s",
                 strerror(ENOMEM));
        return -ENOMEM;
    }
    boot_build_image(h->boot_image);
    rc = jail_build_filters(&h->stage1, &h->stage2, err, errlen);
    if (rc == 0) {
        rc = jail_build_emu_filter(&h->emu, err, errlen);
        if (rc) {
            jail_free_filter(&h->stage1);
            jail_free_filter(&h->stage2);
        }
    }
    if (rc) {
        free(h->boot_image);
        h->boot_image = NULL;
        return rc;
    }
    kvm_probe(h);
    return 0;
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

int sbx_job_prepare(const struct sbx_host *host, struct sbx_job *job, char *err,
                    size_t errlen)
{
    job->emu = NULL;
    if (job->backend != SBX_BACKEND_EMU)
        return 0;
    return emu_template_get(host, job->mem_size, &job->emu, err, errlen);
}

void sbx_job_release(struct sbx_job *job)
{
    if (job->emu)
        emu_template_put(job->emu);
    job->emu = NULL;
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
        struct sbx_report *rep)
{
    char err[SBX_MESSAGE_MAX];
    struct kvm_vm vm;

    if (host->kvm_fd < 0)
        child_fail(rep, host->kvm_error);
    if (jail_enter(rep, job->parent, host->kvm_fd, job->cgroup_fd,
                   job->mem_size, 0, job->timeout_ms, err, sizeof(err)) != 0)
        child_fail(rep, err);
    if (jail_lock(&host->stage1) != 0) {
        snprintf(err, sizeof(err), "seccomp stage 1: %s", strerror(errno));
        child_fail(rep, err);
    }
    if (kvm_build(host, job, rep, &vm, err, sizeof(err)) != 0)
        child_fail(rep, err);
    /* From here to KVM_RUN nothing allocates or frees. */
    if (jail_lock(&host->stage2) != 0)
        child_fail(rep, "seccomp stage 2: cannot install the filter");
    kvm_loop(&vm);
    JAIL_EXIT(0);
}

static void __attribute__((noreturn))
run_emu(const struct sbx_host *host, const struct sbx_job *job,
        struct sbx_report *rep)
{
    char err[SBX_MESSAGE_MAX];
    struct emu_vm *vm;

    /* No fd at all: the emulator needs no device. The guest memory and
     * the JIT buffer are mapped already (the template): no extra room. */
    if (jail_enter(rep, job->parent, -1, job->cgroup_fd, 0, 0, job->timeout_ms,
                   err, sizeof(err)) != 0)
        child_fail(rep, err);
    /* One stage: the machine exists, the job only fills it in. */
    if (jail_lock(&host->emu) != 0) {
        snprintf(err, sizeof(err), "seccomp emulator filter: %s",
                 strerror(errno));
        child_fail(rep, err);
    }
    if (emu_start(job->emu, job, rep, &vm, err, sizeof(err)) != 0)
        child_fail(rep, err);
    emu_loop(vm);
    JAIL_EXIT(0);
}

void sbx_child_main(const struct sbx_host *host, const struct sbx_job *job,
                    struct sbx_report *rep)
{
    switch (job->backend) {
    case SBX_BACKEND_KVM:
        run_kvm(host, job, rep);
    case SBX_BACKEND_EMU:
        run_emu(host, job, rep);
    }
    child_fail(rep, "unknown backend");
}

int sbx_emu_load(char *err, size_t errlen)
{
    return ucdl_load(err, errlen);
}
