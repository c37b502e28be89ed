/*
 * emu_x87.h - the x87 instructions the emulator computes wrong (Unicorn
 * 2.0.1, QEMU 5's helpers: fprem and fprem1 through doubles, fsin and the
 * other transcendentals through the host's libm on doubles) run on the
 * host's own FPU instead, so the emulator answers as the CPU does.
 */
#ifndef SANDBOX_EMU_X87_H
#define SANDBOX_EMU_X87_H

#include <stddef.h>
#include <stdint.h>

#include "emu.h"
#include "sandbox.h"

/* The most places one job gets the hook at (see emu_x87_hook). */
#define EMU_X87_MAX_SITES 256

/*
 * Child, before the run: a code hook at every place in the job's segments
 * whose bytes are one of the fixed instructions (D9 F0-F5, F8-FF). The
 * hook runs the instruction natively on the guest's x87 state and skips
 * it. Past EMU_X87_MAX_SITES candidates the rest run as Unicorn has them.
 * Returns the number of sites hooked, or -errno with the step in err.
 */
int emu_x87_hook(struct emu_vm *vm, const struct sbx_job *job, char *err,
                 size_t errlen);

/* 1 when the two bytes at p are one of the instructions emu_x87 runs. */
int emu_x87_fixed(const uint8_t *p);

/*
 * Run the instruction whose second byte is op (D9 op) on the x87 state in
 * the 512-byte FXSAVE image fx (16-byte aligned), on the host's FPU, with
 * every exception masked while it runs; the image then holds the result,
 * with ES and B set where the guest's control word leaves an exception
 * unmasked. Returns 0, or -EINVAL for an op it does not run.
 */
int emu_x87_run_native(uint8_t op, uint8_t *fx);

#endif
