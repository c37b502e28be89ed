/*
 * cpuid.h - the CPUID the guest sees: one table, the ABI's (guests/ABI.md,
 * "CPUID"), the same on both backends and on every host. Fixed vendor and
 * brand, the baseline x86-64 features plus the SSE levels both Unicorn's CPU
 * model and every KVM host execute, no hypervisor bit, no paravirtual leaves;
 * every leaf not listed reads as zeros. The emulator answers `cpuid` from it
 * (emu.c's instruction hook); KVM gets it through KVM_SET_CPUID2, with any
 * bit the host's KVM cannot offer cleared (cpuid_for_kvm, once per zygote).
 *
 * Bit meanings: Intel SDM vol. 2A, "CPUID", tables 3-8 to 3-12, and the AMD
 * APM vol. 3, appendix E.
 */
#ifndef SANDBOX_CPUID_H
#define SANDBOX_CPUID_H

#include <stddef.h>
#include <stdint.h>

/* Leaves (EAX on input) */
#define CPUID_LEAF_VENDOR      0x00000000U /* max basic leaf, vendor id */
#define CPUID_LEAF_FEATURES    0x00000001U /* signature, feature flags */
#define CPUID_LEAF_EXT_FEAT    0x00000007U /* structured extended features */
#define CPUID_LEAF_XSAVE       0x0000000DU /* XSAVE state components */
#define CPUID_LEAF_HYPERVISOR  0x40000000U /* hypervisor range (KVM's PV) */
#define CPUID_LEAF_EXT_MAX     0x80000000U /* max extended leaf */
#define CPUID_LEAF_EXT_FEATURE 0x80000001U /* extended feature flags */
#define CPUID_LEAF_BRAND0      0x80000002U /* brand string, bytes 0-15 */
#define CPUID_LEAF_BRAND1      0x80000003U /* brand string, bytes 16-31 */
#define CPUID_LEAF_BRAND2      0x80000004U /* brand string, bytes 32-47 */
#define CPUID_LEAF_ADDR_SIZES  0x80000008U /* address sizes */

/* The highest leaf of each range the table answers. The basic range ends at
 * 7 (all zeros), not at 0xD: KVM rewrites CPUID.0xD.0:EBX from XCR0 even
 * without XSAVE, so 0xD is left out. */
#define CPUID_MAX_BASIC    CPUID_LEAF_EXT_FEAT
#define CPUID_MAX_EXTENDED CPUID_LEAF_ADDR_SIZES

/* CPUID.1:EAX, the signature: family 6, model 0, stepping 0 (fixed, no
 * host's: nothing may key errata off it). */
#define CPUID_1_EAX_SIGNATURE 0x00000600U
/* CPUID.1:EBX bits 15:8: CLFLUSH line size in 8-byte units (8: 64 bytes);
 * logical processor count and initial APIC id (bits 31:16) are 0. */
#define CPUID_1_EBX_CLFLUSH_64 (8U << 8)

/* CPUID.1:EDX */
#define CPUID_1_EDX_FPU     (1U << 0)  /* x87 FPU on chip */
#define CPUID_1_EDX_TSC     (1U << 4)  /* RDTSC */
#define CPUID_1_EDX_PAE     (1U << 6)  /* PAE paging (long mode uses it) */
#define CPUID_1_EDX_CX8     (1U << 8)  /* CMPXCHG8B */
#define CPUID_1_EDX_CMOV    (1U << 15) /* CMOVcc, FCMOVcc */
#define CPUID_1_EDX_CLFLUSH (1U << 19) /* CLFLUSH */
#define CPUID_1_EDX_MMX     (1U << 23) /* MMX */
#define CPUID_1_EDX_FXSR    (1U << 24) /* FXSAVE/FXRSTOR */
#define CPUID_1_EDX_SSE     (1U << 25) /* SSE */
#define CPUID_1_EDX_SSE2    (1U << 26) /* SSE2 */

/* CPUID.1:ECX (POPCNT, bit 23, is left out: Unicorn 2.0.1 raises #UD on
 * it; also XSAVE/AVX, which the emulator lacks, and bit 31, "hypervisor") */
#define CPUID_1_ECX_SSE3   (1U << 0)  /* SSE3 (PNI) */
#define CPUID_1_ECX_SSSE3  (1U << 9)  /* SSSE3 */
#define CPUID_1_ECX_CX16   (1U << 13) /* CMPXCHG16B */
#define CPUID_1_ECX_SSE4_1 (1U << 19) /* SSE4.1 */
#define CPUID_1_ECX_SSE4_2 (1U << 20) /* SSE4.2 (CRC32, PCMPxSTRx) */

/* CPUID.80000001H:EDX */
#define CPUID_X1_EDX_SYSCALL (1U << 11) /* SYSCALL/SYSRET (with EFER.SCE) */
#define CPUID_X1_EDX_NX      (1U << 20) /* execute-disable (EFER.NXE) */
#define CPUID_X1_EDX_LM      (1U << 29) /* long mode */
/* CPUID.80000001H:ECX */
#define CPUID_X1_ECX_LAHF (1U << 0) /* LAHF/SAHF in 64-bit mode */

/* CPUID.80000008H:EAX: physical address bits 7:0, linear bits 15:8. 36
 * physical bits is the least any x86-64 host has, so no host has fewer than
 * the guest is told; guest memory lies below 4 GiB. */
#define CPUID_X8_EAX_ADDR_SIZES (36U | (48U << 8))

/* Linux's AT_HWCAP2 bits on x86 (HWCAP2_RING3MWAIT, HWCAP2_FSGSBASE):
 * neither is in the table, so a Linux guest's AT_HWCAP2 is 0. */
#define CPUID_HWCAP2 0ULL

/* One leaf's answer, for every subleaf (ECX on input). */
struct cpuid_leaf {
    uint32_t leaf;
    uint32_t eax, ebx, ecx, edx;
};

/* The ABI's table: leaves in ascending order. */
extern const struct cpuid_leaf cpuid_table[];
extern const size_t cpuid_table_len;

/* What `cpuid` with EAX = leaf answers from table (len entries): the listed
 * leaf's registers, zeros for any other. out: eax, ebx, ecx, edx. */
void cpuid_lookup(const struct cpuid_leaf *table, size_t len, uint32_t leaf,
                  uint32_t out[4]);

/* CPUID.1:EDX of table (a Linux guest's AT_HWCAP). */
uint32_t cpuid_hwcap(const struct cpuid_leaf *table, size_t len);

/*
 * Zygote, once: the table as a struct kvm_cpuid2 for KVM_SET_CPUID2, each
 * feature register ANDed with the same leaf of supported (the host's
 * KVM_GET_SUPPORTED_CPUID, a struct kvm_cpuid2 *), so a bit the host's KVM
 * cannot offer reads as 0; vendor, brand, signature and sizes stay the
 * table's. *out is malloc'ed (free()). Returns 0 or -ENOMEM.
 */
int cpuid_for_kvm(const void *supported, void **out);

#endif
