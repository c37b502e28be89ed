/*
 * kvm.h - the KVM backend: probing /dev/kvm in the parent, and in the child
 * building a one-vCPU long-mode VM and running its exit loop.
 */
#ifndef SANDBOX_KVM_H
#define SANDBOX_KVM_H

#include <stddef.h>

#include "abi.h"
#include "sandbox.h"

/* Parent, once: open /dev/kvm and read what every VM needs. On failure
 * host->kvm_fd stays -1 and host->kvm_error says why. */
void kvm_probe(struct sbx_host *host);
void kvm_release(struct sbx_host *host);

struct kvm_vm {
    struct kvm_run *run;
    size_t run_size;
    struct abi_guest guest;
};

/* Child, stage 1: the VM with code and input loaded, vCPU at SBX_VCPU_FD and
 * no other fd open. Returns 0 or -errno with the failing step in err. */
int kvm_build(const struct sbx_host *host, const struct sbx_job *job,
              struct sbx_report *rep, struct kvm_vm *vm, char *err,
              size_t errlen);

/* Child, stage 2: run until the job ends; the status is in the report. */
void kvm_loop(struct kvm_vm *vm);

#endif
