/*
 * emu_cov.h - fuzzing feedback from the emulator backend: AFL-style edge
 * coverage (a block hook hashing the previous and the current block into
 * the 64 KiB map) and a log of the operands of the guest's compare
 * instructions (Unicorn's TCG opcode hook on flag-setting subtractions),
 * written into the job's feedback region (sandbox.h, struct sbx_feedback).
 * The hooks are part of a template of their own (emu.c keys its templates
 * by memory size and feedback): a job that asks for no feedback runs on a
 * machine without them, and a child only points them at its region.
 */
#ifndef SANDBOX_EMU_COV_H
#define SANDBOX_EMU_COV_H

#include <stdint.h>

#include "sandbox.h"

struct uc_struct;

struct emu_cov {
    struct sbx_feedback *fb; /* the job's region in the report */
    uint64_t prev;           /* the previous block's hash, shifted */
    uint32_t cmp_len, cmp_cap;
};

/*
 * Parent, building a template: hook what feedback (SBX_FEEDBACK_*) names
 * into uc, with cov (in the template, so at the same address in every
 * child) as the hooks' state. A job is run on a template with exactly its
 * feedback, so a job without any has no extra hook, and no child
 * allocates for these. Returns 0 or -errno with the failing step in err.
 */
int emu_cov_hook(struct uc_struct *uc, struct emu_cov *cov, unsigned feedback,
                 char *err, size_t errlen);

/* Child, before the guest runs: point cov at the job's region (at
 * job->feedback_off in rep). */
void emu_cov_start(struct emu_cov *cov, const struct sbx_job *job,
                   struct sbx_report *rep);

#endif
