/*
 * emu.h - the emulator backend: the same guest machine as kvm.c (memory
 * image, long-mode entry state, ports), run by Unicorn 2 in the child, for
 * hosts without a usable /dev/kvm. The parent builds a template machine
 * once per guest memory size; each job's child gets it copy-on-write
 * through its fork, adds the job and runs it.
 */
#ifndef SANDBOX_EMU_H
#define SANDBOX_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "emu_cov.h"
#include "sandbox.h"

/* Templates kept in the parent: one per guest memory size, the most
 * recently used ones. */
#define EMU_TEMPLATES 2

struct uc_struct;

struct emu_vm {
    struct uc_struct *uc;
    struct abi_guest guest;
    uint64_t max_insns, insns;  /* instruction limit (0: none) and count */
    uint64_t block;             /* start of the block being executed */
    uint64_t bad_addr, bad_rip; /* the first access Unicorn found nothing
                                   behind, and rip then */
    int bad_write;              /* ... was a write */
    int have_bad;
    int stopped;    /* a hook stopped the emulation on purpose */
    int ended;      /* the ABI ended the job: the report is final */
    int insn_limit; /* max_insns reached */
    int have_exc;   /* a CPU exception arrived through UC_HOOK_INTR */
    unsigned exc_vector;
    uint64_t exc_rip, exc_cr2;
    struct emu_cov cov; /* fuzzing feedback, when the job asks (emu_cov.c) */
};

/*
 * A machine that has run no guest code, only the one instruction that
 * loads SS (emu.c, load_stack_segment): a Unicorn engine (its 1 GiB JIT
 * buffer reserved, the TCG prologue written, no translation blocks) with the
 * guest memory mapped over one host mmap holding the boot image, the
 * [MEM, 4 GiB) MMIO region, the long-mode machine state and the hooks,
 * whose user pointer is vm. In the parent it holds about 2 MiB of memory
 * (Unicorn's CPU, TLB and TCG state, the JIT prologue, the boot image's
 * pages) and mem_size + 1 GiB of address space.
 */
struct emu_template {
    struct emu_vm vm;
    uint8_t *mem; /* host address of guest-physical 0 */
    uint64_t mem_size;
    unsigned refs;     /* jobs between get and put */
    uint64_t last_use; /* for the cache's eviction */
    int cached;        /* in the cache; else freed by the last put */
    unsigned feedback; /* SBX_FEEDBACK_* hooks it has (emu_cov.c) */
};

/*
 * Zygote: the template for mem_size with the feedback hooks feedback names
 * (SBX_FEEDBACK_*, usually 0), built on first use (*built set) and cached
 * (see EMU_TEMPLATES); hold it across the fork, then emu_template_put().
 * Safe to call from several threads. Returns 0 or -errno with the failing
 * step in err ("uc_mem_map_ptr of guest memory: ...").
 */
int emu_template_get(const struct sbx_host *host, uint64_t mem_size,
                     unsigned feedback, struct emu_template **out, int *built,
                     char *err, size_t errlen);
void emu_template_put(struct emu_template *t);

/*
 * Child, after lockdown: put the job into its copy of t (code, input, entry
 * registers, the instruction limit's hook) and return the machine to run.
 * Returns 0 or -errno with the failing step in err.
 */
int emu_start(struct emu_template *t, const struct sbx_job *job,
              struct sbx_report *rep, struct emu_vm **vm, char *err,
              size_t errlen);

/* Child: run until the job ends; the status is in the report. */
void emu_loop(struct emu_vm *vm);

#endif
