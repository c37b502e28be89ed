/*
 * x86.h - architectural constants for building a long-mode guest.
 *
 * Values and bit positions are from the Intel SDM vol. 3A (ch. 2.5 control
 * registers, 3.4.5 segment descriptors, 4.5 4-level paging, 6.14 64-bit
 * interrupt handling, 7.7 64-bit TSS) and the AMD APM vol. 2.
 */
#ifndef SANDBOX_X86_H
#define SANDBOX_X86_H

#include <stdint.h>

/* CR0 (SDM 2.5) */
#define CR0_PE (1ULL << 0)  /* protection enable */
#define CR0_MP (1ULL << 1)  /* monitor coprocessor: WAIT honours TS */
#define CR0_ET (1ULL << 4)  /* extension type: x87 present (always 1) */
#define CR0_NE (1ULL << 5)  /* native x87 error reporting (#MF) */
#define CR0_WP (1ULL << 16) /* write protect, also in ring 0 */
#define CR0_NW (1ULL << 29) /* not write-through: must be clear for caches */
#define CR0_CD (1ULL << 30) /* cache disable: must be clear for caches */
#define CR0_PG (1ULL << 31) /* paging */

/* CR4 (SDM 2.5) */
#define CR4_PAE        (1ULL << 5)  /* physical address extension */
#define CR4_OSFXSR     (1ULL << 9)  /* FXSAVE/FXRSTOR and SSE enabled */
#define CR4_OSXMMEXCPT (1ULL << 10) /* unmasked SSE exceptions raise #XM */
#define CR4_OSXSAVE    (1ULL << 18) /* XSAVE and XCR0 enabled */

/* IA32_EFER MSR (SDM 2.2.1) */
#define EFER_LME (1ULL << 8)  /* long mode enable */
#define EFER_LMA (1ULL << 10) /* long mode active */

/* XCR0 state components (SDM 13.3) */
#define XCR0_X87 (1ULL << 0)
#define XCR0_SSE (1ULL << 1)
#define XCR0_AVX (1ULL << 2)

/* CPUID.1:ECX feature bits (SDM vol. 2A, CPUID) */
#define CPUID_1_ECX_XSAVE   (1U << 26)
#define CPUID_1_ECX_OSXSAVE (1U << 27)
#define CPUID_1_ECX_AVX     (1U << 28)

/* RFLAGS: bit 1 is reserved and always 1 */
#define RFLAGS_RESERVED1 (1ULL << 1)

/* Page-table entries (SDM 4.5, tables 4-15 to 4-20) */
#define PTE_P        (1ULL << 0) /* present */
#define PTE_RW       (1ULL << 1) /* writable */
#define PTE_US       (1ULL << 2) /* user: ring 3 may access (every level) */
#define PTE_A        (1ULL << 5) /* accessed: the CPU sets it on a walk */
#define PTE_D        (1ULL << 6) /* dirty (leaf entries): set on a write */
#define PTE_PS       (1ULL << 7) /* page size: 2 MiB page in a PD entry */
#define PAGE_SIZE    0x1000ULL
#define PAGE_SIZE_2M 0x200000ULL
#define PT_ENTRIES   512

/* Segment descriptor fields (SDM 3.4.5) */
#define SEG_TYPE_CODE_XR    0xB /* execute/read, accessed */
#define SEG_TYPE_DATA_RW    0x3 /* read/write, accessed */
#define SEG_TYPE_TSS64_BUSY 0xB /* 64-bit TSS, busy (system descriptor) */
#define SEG_TYPE_LDT        0x2

/* GDT layout; the selectors are index * 8 with RPL 0 */
#define GDT_NULL    0
#define GDT_CODE    1
#define GDT_DATA    2
#define GDT_TSS     3 /* a 64-bit TSS descriptor takes two slots */
#define GDT_UDATA   5 /* ring-3 data: SS of Linux guests after sysretq */
#define GDT_UCODE   6 /* ring-3 64-bit code: their CS */
#define GDT_ENTRIES 7
#define SEL_CODE    (GDT_CODE * 8)
#define SEL_DATA    (GDT_DATA * 8)
#define SEL_TSS     (GDT_TSS * 8)
#define SEL_RPL3    3 /* requested privilege level 3 in a selector */
#define SEL_UDATA   (GDT_UDATA * 8 | SEL_RPL3) /* 0x2b, Linux's __USER_DS */
#define SEL_UCODE   (GDT_UCODE * 8 | SEL_RPL3) /* 0x33, Linux's __USER_CS */

/* 64-bit TSS (SDM 7.7): 104 bytes, IST1 at offset 0x24 */
#define TSS64_SIZE       104
#define TSS64_IST1       0x24
#define TSS64_IOMAP_BASE 0x66

/* IDT (SDM 6.14.1): 16-byte gates */
#define IDT_ENTRIES        256
#define IDT_GATE_SIZE      16
#define IDT_TYPE_INTERRUPT 0xE
#define IDT_IST_FAULT      1  /* every vector runs on IST1 */
#define IDT_DPL_SHIFT      45 /* gate DPL: lowest CPL allowed to use int n */
#define IDT_DPL_USER       3

/* Exception vectors that push an error code (SDM 6.3.1 table 6-1) */
#define X86_EXC_DE     0
#define X86_EXC_DB     1
#define X86_EXC_NMI    2
#define X86_EXC_BP     3
#define X86_EXC_OF     4
#define X86_EXC_BR     5
#define X86_EXC_UD     6
#define X86_EXC_NM     7
#define X86_EXC_DF     8
#define X86_EXC_TS     10
#define X86_EXC_NP     11
#define X86_EXC_SS     12
#define X86_EXC_GP     13
#define X86_EXC_PF     14
#define X86_EXC_MF     16
#define X86_EXC_AC     17
#define X86_EXC_MC     18
#define X86_EXC_XM     19
#define X86_EXC_VE     20
#define X86_EXC_CP     21
#define X86_EXC_HV     28
#define X86_EXC_VC     29
#define X86_EXC_SX     30
#define X86_EXCEPTIONS 32

#endif
