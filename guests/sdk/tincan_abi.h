/*
 * tincan_abi.h - the guest ABI's numbers, shared by the host and by guests.
 *
 * This header is the single source of truth for ports, addresses and limits
 * that guests/ABI.md describes in prose. It contains only #defines so that it
 * can be included from C and from GNU assembler (.S) files alike.
 */
#ifndef TINCAN_ABI_H
#define TINCAN_ABI_H

/* Bumped whenever a guest-visible number or behaviour changes. */
#define TINCAN_ABI_VERSION 2

/* I/O ports. */
#define TINCAN_PORT_OUTPUT    0x10 /* OUT: append the accessed bytes to output */
#define TINCAN_PORT_EXIT      0x11 /* OUT: end the job; the value is the code */
#define TINCAN_PORT_WRITE     0x12 /* OUT (32-bit): GPA of a tincan_write desc */
#define TINCAN_PORT_FAULT     0x13 /* reserved: used by the exception stubs */
#define TINCAN_PORT_ERR       0x14 /* OUT: append the accessed bytes to stderr */
#define TINCAN_PORT_ERR_WRITE 0x15 /* OUT (32-bit): as 0x12, into stderr */
#define TINCAN_PORT_SYSCALL   0x16 /* reserved: Linux guests' system calls */

/* Bulk write descriptor: { uint64_t addr; uint64_t len; } at a GPA < 4 GiB. */
#define TINCAN_WRITE_DESC_SIZE 16

/* Guest-physical memory map (identity-mapped: virtual == physical). */
#define TINCAN_NULL_PAGE_END   0x1000 /* [0, 0x1000) unbacked, not mapped */
#define TINCAN_GDT_ADDR        0x1000 /* GDT: null, code64, data, TSS */
#define TINCAN_TSS_ADDR        0x1100 /* 64-bit TSS (IST1 = fault stack) */
#define TINCAN_IDT_ADDR        0x2000 /* 256 interrupt gates */
#define TINCAN_STUBS_ADDR      0x3000 /* one 8-byte exception stub per vector */
#define TINCAN_STUBS_END       0x3800 /* 256 stubs */
#define TINCAN_PML4_ADDR       0x4000 /* page map level 4 */
#define TINCAN_PDPT_ADDR       0x5000 /* page directory pointer table */
#define TINCAN_PD_ADDR         0x6000 /* 4 page directories: 0-4 GiB */
#define TINCAN_PT0_ADDR        0xA000 /* 4 KiB pages for the first 2 MiB */
#define TINCAN_FAULT_STACK_TOP 0xC000 /* IST1 stack: [0xB000, 0xC000) */
#define TINCAN_LX_ENTRY_ADDR   0x3800 /* Linux guests: drop to ring 3 */
#define TINCAN_LX_SYSCALL_ADDR 0x3900 /* Linux guests: LSTAR, syscall stub */
#define TINCAN_LX_STUBS_END    0x3C00 /* end of the two stubs */
#define TINCAN_LX_FRAME_ADDR   0xC000 /* Linux guests: system-call frame */
#define TINCAN_GUARD_PT_ADDR   0xD000 /* page table of a job's guard pages */
#define TINCAN_RESERVED_END    0x10000 /* [0x1000, 0x10000) belongs to tincan */
#define TINCAN_ENTRY           0x10000 /* code is loaded and entered here */
#define TINCAN_MAPPED_END      0x100000000 /* page tables map [0x1000, 4 GiB) */

/* Guest memory sizes (bytes). */
#define TINCAN_MEM_MIN     0x100000   /* 1 MiB */
#define TINCAN_MEM_DEFAULT 0x1000000  /* 16 MiB */
#define TINCAN_MEM_MAX     0x40000000 /* 1 GiB */
#define TINCAN_STACK_MIN   0x1000     /* room left for the stack, at least */
/* SDK guests' stack: [MEM - S, MEM) with S = min(TINCAN_STACK_MAX, MEM / 4)
 * rounded down to 4 KiB; the TINCAN_GUARD_SIZE bytes below it are not
 * present, so an overflow is a #PF there ("stack overflow"), not a silent
 * write over .bss and the input. Code and input must end below the guard. */
#define TINCAN_STACK_MAX  0x100000 /* 1 MiB */
#define TINCAN_GUARD_SIZE 0x1000   /* one page */

/*
 * The ELF note that marks a tincan guest (crt0.S, guest.inc): owner
 * "tincan", type TINCAN_NOTE_ABI, a 4-byte descriptor holding the guest ABI
 * version it was built for. An ELF without it is run as a Linux program.
 */
#define TINCAN_NOTE_NAME   "tincan"
#define TINCAN_NOTE_NAMESZ 7 /* "tincan" and its NUL */
#define TINCAN_NOTE_ABI    1

#endif
