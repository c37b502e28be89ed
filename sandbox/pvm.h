/*
 * pvm.h - tincan's boot path on kvm_pvm, the software KVM of hosts without
 * VMX/SVM (guests/ABI.md, "KVM on kvm_pvm"). kvm_pvm runs guest code on the
 * CPU only at CPL 3 and emulates every instruction of CPL 0 with KVM's
 * instruction emulator, which has no SSE and no int3/int n; so on such a
 * host the job's code starts in ring 3, and the few things ring 0 would
 * have done differently are settled here:
 *   - OUT/IN: the ring-3 TSS at PVM_TSS_ADDR has an I/O bitmap that lets
 *     every port below PVM_IO_PORTS through to the host, as ring 0 does;
 *   - HLT, INT n: kvm_pvm turns them into #GP and #UD; the host reports
 *     what ring 0 would have (ok; vector n after the instruction); SYSCALL,
 *     which kvm_pvm runs although EFER.SCE is clear, is reported as #UD;
 *   - any other #GP, or a #PF on a present page (a privileged instruction,
 *     tincan's supervisor pages): that one instruction runs in ring 0
 *     (emulated, single-stepped with TF), then the guest goes on in ring 3.
 * kvm.c calls these hooks only on a host the runner found to be kvm_pvm
 * (kvm_host_kind(), KVM_KIND_PVM).
 */
#ifndef SANDBOX_PVM_H
#define SANDBOX_PVM_H

#include <linux/kvm.h>
#include <stdint.h>

#include "abi.h"
#include "sandbox.h"

/* The ring-3 TSS (IST1 as boot.c's TSS) and its I/O bitmap fill the two
 * free pages [0xe000, 0x10000) of tincan's reserved range. */
#define PVM_TSS_ADDR   0xE000
#define PVM_TSS_LIMIT  (0x10000 - PVM_TSS_ADDR - 1)
#define PVM_IOMAP_ADDR (PVM_TSS_ADDR + 104) /* right after the 64-bit TSS */
/* Ports whose bit lies inside the TSS limit: the CPU lets them through. */
#define PVM_IO_PORTS ((0x10000 - PVM_IOMAP_ADDR - 1) * 8)
/* The resume stub: pops the stub's error code and irets into the frame. */
#define PVM_RESUME_ADDR 0x3C00

/* Write the ring-3 TSS, the stubs and the resume stub into guest memory
 * mem (host address of guest-physical 0, the boot image already there);
 * for a Linux guest, make its syscall stub's pages user pages. */
void pvm_load(uint8_t *mem, const struct sbx_job *job);

/*
 * kvm_pvm shadows guest memory with the host's pages: 4 KiB ones cost the
 * guest's first touch of each 2.4-4 µs (a 64 MiB input: 40-67 ms), 2 MiB
 * ones 1/512 of that. Ask for huge pages under the whole 2 MiB pages of an
 * SDK guest's input, before it is copied in (mem as for pvm_load).
 */
void pvm_advise_memory(uint8_t *mem, const struct sbx_job *job);

/* Turn the entry state kvm.c built for ring 0 into the ring-3 one. */
void pvm_entry_state(const struct sbx_job *job, struct kvm_sregs *sregs,
                     struct kvm_regs *regs);

/* A Linux guest skips the ring-0 entry stub: set its syscall MSRs and its
 * x87/SSE state as the stub would. Returns 0 or -errno with err filled. */
int pvm_entry_linux(int vcpu, char *err, size_t errlen);

/* An instruction stepped in ring 0 (pvm.c): its #DB returns to ring 3. */
struct pvm_step {
    int active;   /* the next #DB from ring 0 ends the step */
    int guest_tf; /* the guest's own RFLAGS.TF: its #DB is reported */
};

/* An OUT to TINCAN_PORT_FAULT: the exception stub reports vector. */
int pvm_on_fault(struct abi_guest *g, int vcpu, unsigned vector,
                 struct pvm_step *step);

#endif
