/*
 * cpuid.c - the ABI's CPUID table (cpuid.h), its lookup for the emulator's
 * `cpuid` hook, and its KVM_SET_CPUID2 form for the KVM backend.
 */
#include "cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

/* Four ASCII characters as CPUID returns them in a register. */
#define STR4(a, b, c, d)                                                       \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |                \
     (uint32_t)(d) << 24)

/* Vendor "AuthenticAMD" (EBX, EDX, ECX), fixed. An AMD vendor because both
 * backends already behave as one where the vendor matters: Unicorn's CPU
 * model is AMD's (QEMU's qemu64), and KVM answers a leaf its table lacks
 * with zeros for an AMD guest (for any other vendor, with the highest basic
 * leaf, Intel's rule). A made-up vendor would also turn off libgcc's
 * __builtin_cpu_supports, which reads the feature bits of known vendors
 * only. */
#define VENDOR_EBX STR4('A', 'u', 't', 'h')
#define VENDOR_EDX STR4('e', 'n', 't', 'i')
#define VENDOR_ECX STR4('c', 'A', 'M', 'D')

#define FEATURES_EDX                                                           \
    (CPUID_1_EDX_FPU | CPUID_1_EDX_TSC | CPUID_1_EDX_PAE | CPUID_1_EDX_CX8 |   \
     CPUID_1_EDX_CMOV | CPUID_1_EDX_CLFLUSH | CPUID_1_EDX_MMX |                \
     CPUID_1_EDX_FXSR | CPUID_1_EDX_SSE | CPUID_1_EDX_SSE2)
#define FEATURES_ECX                                                           \
    (CPUID_1_ECX_SSE3 | CPUID_1_ECX_SSSE3 | CPUID_1_ECX_CX16 |                 \
     CPUID_1_ECX_SSE4_1 | CPUID_1_ECX_SSE4_2)

const struct cpuid_leaf cpuid_table[] = {
    {CPUID_LEAF_VENDOR, CPUID_MAX_BASIC, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX},
    {CPUID_LEAF_FEATURES, CPUID_1_EAX_SIGNATURE, CPUID_1_EBX_CLFLUSH_64,
     FEATURES_ECX, FEATURES_EDX},
    /* max subleaf 0, no structured extended features */
    {CPUID_LEAF_EXT_FEAT, 0, 0, 0, 0},
    {CPUID_LEAF_EXT_MAX, CPUID_MAX_EXTENDED, 0, 0, 0},
    {CPUID_LEAF_EXT_FEATURE, 0, 0, CPUID_X1_ECX_LAHF,
     CPUID_X1_EDX_SYSCALL | CPUID_X1_EDX_NX | CPUID_X1_EDX_LM},
    /* brand "tincan ABI CPU", NUL-padded to 48 bytes */
    {CPUID_LEAF_BRAND0, STR4('t', 'i', 'n', 'c'), STR4('a', 'n', ' ', 'A'),
     STR4('B', 'I', ' ', 'C'), STR4('P', 'U', 0, 0)},
    {CPUID_LEAF_BRAND1, 0, 0, 0, 0},
    {CPUID_LEAF_BRAND2, 0, 0, 0, 0},
    {CPUID_LEAF_ADDR_SIZES, CPUID_X8_EAX_ADDR_SIZES, 0, 0, 0},
};
const size_t cpuid_table_len = sizeof(cpuid_table) / sizeof(cpuid_table[0]);

/* The registers of each leaf that hold feature bits (1) rather than values
 * (vendor, brand, signature, sizes): what cpuid_for_kvm intersects. */
struct feature_regs {
    uint32_t leaf;
    int eax, ebx, ecx, edx;
};

static const struct feature_regs feature_regs[] = {
    {CPUID_LEAF_FEATURES, 0, 0, 1, 1},
    {CPUID_LEAF_EXT_FEAT, 0, 1, 1, 1},
    {CPUID_LEAF_EXT_FEATURE, 0, 0, 1, 1},
};

void cpuid_lookup(const struct cpuid_leaf *table, size_t len, uint32_t leaf,
                  uint32_t out[4])
{
    memset(out, 0, 4 * sizeof(out[0]));
    for (size_t i = 0; i < len; i++) {
        if (table[i].leaf != leaf)
            continue;
        out[0] = table[i].eax;
        out[1] = table[i].ebx;
        out[2] = table[i].ecx;
        out[3] = table[i].edx;
        return;
    }
}

uint32_t cpuid_hwcap(const struct cpuid_leaf *table, size_t len)
{
    uint32_t r[4];

    cpuid_lookup(table, len, CPUID_LEAF_FEATURES, r);
    return r[3];
}

static const struct kvm_cpuid_entry2 *supported_leaf(const struct kvm_cpuid2 *s,
                                                     uint32_t leaf)
{
    for (uint32_t i = 0; i < s->nent; i++)
        if (s->entries[i].function == leaf && s->entries[i].index == 0)
            return &s->entries[i];
    return NULL;
}

/* Clear in e every feature bit of its leaf that the host's KVM lacks. */
static void intersect(struct kvm_cpuid_entry2 *e, const struct kvm_cpuid2 *s)
{
    static const struct kvm_cpuid_entry2 none;
    const struct kvm_cpuid_entry2 *h = supported_leaf(s, e->function);

    if (!h)
        h = &none;
    for (size_t i = 0; i < sizeof(feature_regs) / sizeof(feature_regs[0]);
         i++) {
        const struct feature_regs *f = &feature_regs[i];
        if (f->leaf != e->function)
            continue;
        if (f->eax)
            e->eax &= h->eax;
        if (f->ebx)
            e->ebx &= h->ebx;
        if (f->ecx)
            e->ecx &= h->ecx;
        if (f->edx)
            e->edx &= h->edx;
    }
}

int cpuid_for_kvm(const void *supported, void **out)
{
    struct kvm_cpuid2 *c;

    c = calloc(1, sizeof(*c) + cpuid_table_len * sizeof(c->entries[0]));
    if (!c)
        return -ENOMEM;
    c->nent = (uint32_t)cpuid_table_len;
    for (size_t i = 0; i < cpuid_table_len; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        /* flags 0: one answer for every subleaf, as in the table */
        e->function = cpuid_table[i].leaf;
        e->eax = cpuid_table[i].eax;
        e->ebx = cpuid_table[i].ebx;
        e->ecx = cpuid_table[i].ecx;
        e->edx = cpuid_table[i].edx;
        intersect(e, supported);
    }
    *out = c;
    return 0;
}
