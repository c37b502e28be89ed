/*
 * kvm.h - the KVM backend: probing /dev/kvm in the parent, and in the child
 * building a one-vCPU long-mode VM and running its exit loop.
 */
#ifndef SANDBOX_KVM_H
#define SANDBOX_KVM_H

#include <stddef.h>

#include "abi.h"
#include "pvm.h"
#include "sandbox.h"

/* What kind of KVM backs /dev/kvm, decided in the parent from the host's
 * files (the zygote's empty root has neither). */
enum kvm_kind {
    KVM_KIND_NONE = 0, /* /dev/kvm did not open */
    KVM_KIND_HW,  /* vmx or svm in the CPU flags: hardware virtualisation */
    KVM_KIND_PVM, /* the kvm_pvm module: software KVM, guests at CPL 3 */
    KVM_KIND_SOFTWARE, /* neither: a KVM without hardware support */
    KVM_KIND_COUNT
};

#define KVM_CPUINFO_PATH   "/proc/cpuinfo"
#define KVM_SYSMODULE_PATH "/sys/module"

/* Parent, once: the kind of the KVM that opened, from the CPU flags in
 * cpuinfo_path and the modules under sysmodule_path. kvm_pvm is checked
 * first: when it is loaded it is the vendor module behind /dev/kvm. */
enum kvm_kind kvm_host_kind(const char *cpuinfo_path,
                            const char *sysmodule_path);

/* "none", "hardware", "pvm", "software"; kvm_kind_named() parses them
 * (KVM_KIND_COUNT for anything else). */
const char *kvm_kind_name(enum kvm_kind kind);
enum kvm_kind kvm_kind_named(const char *name);

/* 1 when tincan's KVM backend runs the guest ABI on this kind of KVM
 * (--backend kvm is allowed), else 0: hardware KVM, and kvm_pvm through the
 * ring-3 boot path (pvm.h), with the differences guests/ABI.md lists. */
int kvm_kind_runs_abi(enum kvm_kind kind);

/* 1 when auto picks KVM on this kind, else 0: hardware KVM only. kvm_pvm
 * swallows some int n, answers CPUID leaves 1, 7 and 0xd itself and costs
 * more per short job than the emulator (guests/ABI.md, "KVM on kvm_pvm"). */
int kvm_kind_for_auto(enum kvm_kind kind);

/* Why this kind cannot run the ABI, one phrase for a refusal message. */
const char *kvm_kind_why(enum kvm_kind kind);

/* Parent, once: open /dev/kvm and check that it speaks KVM's API. Returns
 * the fd, or -errno with the reason in err. */
int kvm_open(char *err, size_t errlen);

/* Zygote, once: read what every VM needs from fd (from kvm_open(), or -1).
 * Keeps fd in host->kvm_fd; on failure closes it, host->kvm_fd stays -1 and
 * host->kvm_error says why. */
void kvm_probe_fd(struct sbx_host *host, int fd);
void kvm_release(struct sbx_host *host);

/* CPUID.1:EDX as the guest sees it (a Linux guest's AT_HWCAP). */
uint32_t kvm_hwcap(const struct sbx_host *host);

struct kvm_vm {
    struct kvm_run *run;
    size_t run_size;
    struct abi_guest guest;
    int pvm; /* the guest runs on kvm_pvm's ring-3 boot path (pvm.h) */
    struct pvm_step pvm_step;
};

/* Child, stage 1: the VM with code and input loaded, vCPU at SBX_VCPU_FD and
 * no other fd open. Returns 0 or -errno with the failing step in err. */
int kvm_build(const struct sbx_host *host, const struct sbx_job *job,
              struct sbx_report *rep, struct kvm_vm *vm, char *err,
              size_t errlen);

/* Child, stage 2: run until the job ends; the status is in the report. */
void kvm_loop(struct kvm_vm *vm);

#endif
