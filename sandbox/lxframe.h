/*
 * lxframe.h - the system-call frame of Linux guests, shared by the stubs in
 * the boot image (lxstub.S) and the handler (lx.c). #defines only, so that
 * assembly can include it. The frame lies at TINCAN_LX_FRAME_ADDR in
 * supervisor-only memory: a ring-3 program can neither read nor forge it.
 *
 * The syscall stub stores the registers of the call into the slots below,
 * does one OUT to TINCAN_PORT_SYSCALL, and on return writes LXF_MSR (when
 * not 0) with LXF_MSR_VALUE, then returns to the program with rax =
 * LXF_RAX through sysretq.
 */
#ifndef SANDBOX_LXFRAME_H
#define SANDBOX_LXFRAME_H

#include "tincan_abi.h"

/* Slots, in 8-byte words from TINCAN_LX_FRAME_ADDR. */
#define LXF_RAX       0 /* in: the call's number; out: its result */
#define LXF_RDI       1 /* arguments 1-6 */
#define LXF_RSI       2
#define LXF_RDX       3
#define LXF_R10       4
#define LXF_R8        5
#define LXF_R9        6
#define LXF_RCX       7  /* the program's rip after the syscall */
#define LXF_R11       8  /* the program's rflags */
#define LXF_RSP       9  /* the program's rsp */
#define LXF_MSR       10 /* out: an MSR for the stub to write, or 0 */
#define LXF_MSR_VALUE 11 /* out: the value for it */
#define LXF_SLOTS     12

#define LXF_ADDR(slot) (TINCAN_LX_FRAME_ADDR + 8 * (slot))

/* MSRs the stubs write (SDM vol. 4, table 2-2). */
#define LX_MSR_EFER    0xC0000080 /* extended features: SCE */
#define LX_MSR_STAR    0xC0000081 /* syscall/sysret segment selectors */
#define LX_MSR_LSTAR   0xC0000082 /* 64-bit syscall entry point */
#define LX_MSR_FMASK   0xC0000084 /* rflags bits cleared on syscall */
#define LX_MSR_FS_BASE 0xC0000100 /* FS base: the program's TLS */
#define LX_MSR_GS_BASE 0xC0000101 /* GS base */

#define LX_EFER_SCE 0x1 /* EFER.SCE: syscall/sysret enabled */
/*
 * STAR[47:32] = 0x08: syscall loads CS = 0x08, SS = 0x10 (ring 0).
 * STAR[63:48] = 0x23: sysretq loads CS = 0x23 + 16 = 0x33 and SS = 0x23 + 8
 * = 0x2b, RPL 3: the user code and data descriptors of the GDT (the same
 * selectors as Linux's __USER_CS and __USER_DS).
 */
#define LX_STAR_HIGH 0x00230008
/* Cleared on syscall: TF (8), IF (9), DF (10), NT (14), AC (18). */
#define LX_FMASK 0x44700
/* The ring-3 selectors (x86.h's SEL_UCODE, SEL_UDATA) for the entry's iretq */
#define LX_USER_CS 0x33
#define LX_USER_SS 0x2b
/* MXCSR when the program starts: every SSE exception masked, round to
 * nearest (the architectural default, as Linux). */
#define LX_MXCSR 0x1F80
/* rflags when the program starts: IF and the reserved bit 1, as Linux. */
#define LX_USER_RFLAGS 0x202

#endif
