/*
 * emu.h - the emulator backend: the same guest machine as kvm.c (memory
 * image, long-mode entry state, ports), run by Unicorn 2 in the child, for
 * hosts without a usable /dev/kvm.
 */
#ifndef SANDBOX_EMU_H
#define SANDBOX_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "sandbox.h"

/* Address space Unicorn reserves for its JIT code buffer (uc_open), which
 * the child's RLIMIT_AS must leave room for. */
#define EMU_JIT_RESERVE (1ULL << 30)

struct uc_struct;

struct emu_vm {
    struct uc_struct *uc;
    struct abi_guest guest;
    uint64_t max_insns, insns; /* instruction limit (0: none) and count */
    uint64_t block;            /* start of the block being executed */
    uint64_t write_addr;       /* last write into an unbacked range */
    int have_write;
    int stopped;    /* a hook stopped the emulation on purpose */
    int ended;      /* the ABI ended the job: the report is final */
    int insn_limit; /* max_insns reached */
    int have_exc;   /* a CPU exception arrived through UC_HOOK_INTR */
    unsigned exc_vector;
    uint64_t exc_rip, exc_cr2;
};

/* Child, stage 1: Unicorn with the guest memory, entry state and hooks.
 * Returns 0 or -errno with the failing step in err ("uc_open: ..."). */
int emu_build(const struct sbx_host *host, const struct sbx_job *job,
              struct sbx_report *rep, struct emu_vm *vm, char *err,
              size_t errlen);

/* Child, stage 2: run until the job ends; the status is in the report. */
void emu_loop(struct emu_vm *vm);

#endif
