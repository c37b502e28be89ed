/*
 * boot.h - the guest's initial machine: the tables tincan places in low guest
 * memory (GDT, TSS, IDT, exception stubs, identity page tables) and the CPU
 * state at entry. Pure functions over byte buffers: no KVM, no syscalls, so
 * every backend shares them and unit tests check them directly.
 */
#ifndef SANDBOX_BOOT_H
#define SANDBOX_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"
#include "tincan_abi.h"

/* Size of the constant table image, placed at guest-physical BOOT_IMAGE_BASE */
#define BOOT_IMAGE_BASE TINCAN_NULL_PAGE_END
#define BOOT_IMAGE_SIZE (TINCAN_FAULT_STACK_TOP - BOOT_IMAGE_BASE)

struct boot_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g;
};

struct boot_state {
    uint64_t cr0, cr3, cr4, efer, xcr0;
    uint64_t rip, rsp, rdi, rsi, rbx, rflags;
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    struct boot_segment cs, ds, tr;
};

/* CPU features that change the entry state. */
struct boot_cpu {
    int xsave; /* CPUID.1:ECX.XSAVE: enable CR4.OSXSAVE */
    int avx;   /* CPUID.1:ECX.AVX: add AVX to XCR0 */
};

/*
 * Fill img (BOOT_IMAGE_SIZE bytes, to be copied to BOOT_IMAGE_BASE) with the
 * GDT, TSS, IDT, stubs and page tables. Independent of the job.
 */
void boot_build_image(uint8_t *img);

/* The CPU state at entry: rip, rsp at the top of memory, rdi/rsi input. */
void boot_entry_state(struct boot_state *st, uint64_t mem_size, uint64_t entry,
                      uint64_t input_addr, uint64_t input_len,
                      const struct boot_cpu *cpu);

/*
 * A Linux guest's entry state: the SDK's, but rip at the ring-0 entry stub
 * (TINCAN_LX_ENTRY_ADDR), which drops to ring 3 at entry (rbx) with the
 * process stack at sp (rsp).
 */
void boot_linux_state(struct boot_state *st, uint64_t mem_size, uint64_t entry,
                      uint64_t sp, const struct boot_cpu *cpu);

/*
 * Make [gpa, gpa + len) not present in the page tables inside mem (host
 * address of guest-physical 0, the boot image already copied there): a
 * job's guard pages. The range is page-aligned, above tincan's own pages,
 * and inside one 2 MiB page, which is split into TINCAN_GUARD_PT_ADDR (so
 * one such range per job). Returns 0, or -1 when the range breaks these
 * rules.
 */
int boot_guard(uint8_t *mem, uint64_t gpa, uint64_t len);

/*
 * Everything of job that goes into guest memory mem (the boot image is
 * there already): its segments, a Linux guest's process stack with hwcap
 * (the backend's CPUID.1:EDX) as its AT_HWCAP, an SDK guest's input, and
 * the guard pages. The runner checked every range against mem_size
 * (runner/image.c, runner/lxstart.c). Returns 0, or -1 when the guard
 * breaks boot_guard's rules or AT_HWCAP lies outside the stack.
 */
int boot_load_job(uint8_t *mem, const struct sbx_job *job, uint64_t hwcap);

/* Name ("#PF") and whether the CPU pushes an error code, per vector. */
const char *boot_vector_name(unsigned vector);
int boot_vector_has_error_code(unsigned vector);

#endif
