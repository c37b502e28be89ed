/*
 * emu_x87.c - x87 instructions that Unicorn gets wrong, run on the host's
 * FPU (see emu_x87.h). Owns the scan of the job's bytes for them, their
 * code hooks, and the move of the guest's x87 state between Unicorn and an
 * FXSAVE image that the host's FPU runs the instruction on.
 */
#include "emu_x87.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "abi.h"

#define OP_ESC_D9 0xD9 /* x87 escape: D9 F0-FF are the register-only ops */
/* FXSAVE image: offsets and sizes (Intel SDM vol. 1, 10.5.1) */
#define FX_SIZE       512
#define FX_ALIGN      16
#define FX_FCW        0
#define FX_FSW        2
#define FX_FTW        4 /* abridged: bit i = physical register i is valid */
#define FX_MXCSR      24
#define FX_ST0        32 /* ST(i) at FX_ST0 + 16 * i, 10 bytes used */
#define FX_ST_SLOT    16
#define X87_REGS      8
#define FSW_TOP_SHIFT 11
#define FSW_TOP_MASK  7
#define FSW_ES        0x0080 /* error summary: an unmasked exception */
#define FSW_B         0x8000 /* busy, mirrors ES */
#define FCW_EXC_MASKS 0x003F /* IM DM ZM OM UM PM */
#define FSW_EXC_FLAGS 0x003F /* IE DE ZE OE UE PE */
#define TAG_EMPTY     3      /* full tag word: 2 bits per physical register */
#define TAG_BITS      2
#define INSN_LEN      2 /* D9 op */

/* The second bytes of the instructions run natively: the arithmetic whose
 * Unicorn helper is not the CPU's (fprem, fprem1, the transcendentals) and
 * the rest of D9 F0-FF that computes (fsqrt, fscale, frndint, fxtract). */
#define FOREACH_OP(X)                                                          \
    X(0xF0, "f2xm1")                                                           \
    X(0xF1, "fyl2x")                                                           \
    X(0xF2, "fptan")                                                           \
    X(0xF3, "fpatan")                                                          \
    X(0xF4, "fxtract")                                                         \
    X(0xF5, "fprem1")                                                          \
    X(0xF8, "fprem")                                                           \
    X(0xF9, "fyl2xp1")                                                         \
    X(0xFA, "fsqrt")                                                           \
    X(0xFB, "fsincos")                                                         \
    X(0xFC, "frndint")                                                         \
    X(0xFD, "fscale")                                                          \
    X(0xFE, "fsin")                                                            \
    X(0xFF, "fcos")

int emu_x87_fixed(const uint8_t *p)
{
    if (p[0] != OP_ESC_D9)
        return 0;
    switch (p[1]) {
#define CASE(op, name) case op:
        FOREACH_OP(CASE)
#undef CASE
        return 1;
    default:
        return 0;
    }
}

/* fxrstor the guest's image, the instruction, fxsave it back; the host's
 * own x87 and SSE state around it. */
#define NATIVE(op, name)                                                       \
    case op:                                                                   \
        __asm__ volatile("fxsave %0\n\t"                                       \
                         "fxrstor %1\n\t" name "\n\t"                          \
                         "fxsave %1\n\t"                                       \
                         "fxrstor %0"                                          \
                         : "+m"(*(uint8_t(*)[FX_SIZE])host),                   \
                           "+m"(*(uint8_t(*)[FX_SIZE])fx));                    \
        break;

int emu_x87_run_native(uint8_t op, uint8_t *fx)
{
    _Alignas(FX_ALIGN) uint8_t host[FX_SIZE];
    uint16_t cw, sw, masked;
    uint32_t mxcsr;

    memcpy(&cw, fx + FX_FCW, sizeof(cw));
    masked = cw | FCW_EXC_MASKS;
    memcpy(fx + FX_FCW, &masked, sizeof(masked));
    /* The host's MXCSR: x87 instructions leave it alone, and a guest value
     * with reserved bits set would make fxrstor fault. */
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    memcpy(fx + FX_MXCSR, &mxcsr, sizeof(mxcsr));
    switch (op) {
        FOREACH_OP(NATIVE)
    default:
        memcpy(fx + FX_FCW, &cw, sizeof(cw));
        return -EINVAL;
    }
    memcpy(fx + FX_FCW, &cw, sizeof(cw));
    memcpy(&sw, fx + FX_FSW, sizeof(sw));
    if (sw & FSW_EXC_FLAGS & ~(cw & FCW_EXC_MASKS))
        sw |= FSW_ES | FSW_B;
    memcpy(fx + FX_FSW, &sw, sizeof(sw));
    return 0;
}
#undef NATIVE

/* Unicorn's x87 state into an FXSAVE image, and back. */
static int state_to_fx(uc_engine *uc, uint8_t *fx)
{
    uint16_t cw = 0, sw = 0, tags = 0;
    uint8_t ftw = 0;

    memset(fx, 0, FX_SIZE);
    if (uc_reg_read(uc, UC_X86_REG_FPCW, &cw) != UC_ERR_OK ||
        uc_reg_read(uc, UC_X86_REG_FPSW, &sw) != UC_ERR_OK ||
        uc_reg_read(uc, UC_X86_REG_FPTAG, &tags) != UC_ERR_OK)
        return -EIO;
    for (unsigned i = 0; i < X87_REGS; i++)
        if (((tags >> (TAG_BITS * i)) & TAG_EMPTY) != TAG_EMPTY)
            ftw |= (uint8_t)(1U << i);
    memcpy(fx + FX_FCW, &cw, sizeof(cw));
    memcpy(fx + FX_FSW, &sw, sizeof(sw));
    fx[FX_FTW] = ftw;
    /* Unicorn copies ST(i) as the 10 bytes of an 80-bit value, as the
     * FXSAVE image holds it. */
    for (unsigned i = 0; i < X87_REGS; i++)
        if (uc_reg_read(uc, UC_X86_REG_ST0 + (int)i,
                        fx + FX_ST0 + FX_ST_SLOT * i) != UC_ERR_OK)
            return -EIO;
    return 0;
}

static int fx_to_state(uc_engine *uc, const uint8_t *fx)
{
    uint16_t sw, tags = 0;

    memcpy(&sw, fx + FX_FSW, sizeof(sw));
    for (unsigned i = 0; i < X87_REGS; i++)
        if (!(fx[FX_FTW] & (1U << i)))
            tags |= (uint16_t)(TAG_EMPTY << (TAG_BITS * i));
    /* FPSW first: it moves TOP, and ST(i) is relative to it. */
    if (uc_reg_write(uc, UC_X86_REG_FPSW, &sw) != UC_ERR_OK ||
        uc_reg_write(uc, UC_X86_REG_FPTAG, &tags) != UC_ERR_OK)
        return -EIO;
    for (unsigned i = 0; i < X87_REGS; i++)
        if (uc_reg_write(uc, UC_X86_REG_ST0 + (int)i,
                         fx + FX_ST0 + FX_ST_SLOT * i) != UC_ERR_OK)
            return -EIO;
    return 0;
}

/* Before the instruction at addr: when it is one of ours, run it here and
 * go on after it. */
static void on_x87(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_vm *vm = user;
    _Alignas(FX_ALIGN) uint8_t fx[FX_SIZE];
    uint64_t next = addr + INSN_LEN;

    (void)size;
    if (!abi_range_ok(&vm->guest, addr, INSN_LEN) ||
        !emu_x87_fixed(vm->guest.mem + addr))
        return;
    if (state_to_fx(uc, fx) != 0 ||
        emu_x87_run_native(vm->guest.mem[addr + 1], fx) != 0 ||
        fx_to_state(uc, fx) != 0)
        return; /* Unicorn's own answer, then */
    uc_reg_write(uc, UC_X86_REG_RIP, &next);
}

int emu_x87_hook(struct emu_vm *vm, const struct sbx_job *job, char *err,
                 size_t errlen)
{
    int sites = 0;

    for (unsigned s = 0; s < job->nsegs; s++) {
        const struct sbx_segment *seg = &job->segs[s];
        for (uint64_t i = 0; i + 1 < seg->filesz; i++) {
            if (!emu_x87_fixed(seg->data + i))
                continue;
            if (sites == EMU_X87_MAX_SITES)
                return sites;
            uc_hook h;
            uint64_t at = seg->gpa + i;
            uc_err e = uc_hook_add(vm->uc, &h, UC_HOOK_CODE, (void *)on_x87, vm,
                                   at, at);
            if (e != UC_ERR_OK) {
                snprintf(err, errlen, "uc_hook_add of the x87 hook: %s",
                         uc_strerror(e));
                return -EIO;
            }
            sites++;
            i++;
        }
    }
    return sites;
}
