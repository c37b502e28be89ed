/* test_cpuid.c - the ABI's CPUID table (sandbox/cpuid.c): what the emulator's
 * hook answers for listed and unlisted leaves, and the table KVM gets, with a
 * host's missing bits cleared and its extra ones never shown. No KVM needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox/cpuid.h"

/* Leaf 1 and 0x80000001 of the ABI (guests/ABI.md, "CPUID"). */
#define ABI_1_ECX 0x00182201U /* SSE3 SSSE3 CX16 SSE4.1 SSE4.2 */
#define ABI_1_EDX                                                              \
    0x07888151U /* FPU TSC PAE CX8 CMOV CLFLUSH MMX FXSR SSE SSE2 */
#define ABI_X1_ECX 0x00000001U /* LAHF */
#define ABI_X1_EDX 0x20100800U /* SYSCALL NX LM */

static void lookup(uint32_t leaf, uint32_t r[4])
{
    cpuid_lookup(cpuid_table, cpuid_table_len, leaf, r);
}

static void test_lookup_answers_listed_leaves_and_zeros_elsewhere(void **state)
{
    static const struct {
        uint32_t leaf, eax, ebx, ecx, edx;
    } cases[] = {
        {0x00000000, 7, 0x68747541, 0x444d4163, 0x69746e65},
        {0x00000001, 0x600, 0x800, ABI_1_ECX, ABI_1_EDX},
        {0x00000007, 0, 0, 0, 0},
        {0x0000000d, 0, 0, 0, 0},
        {0x40000000, 0, 0, 0, 0},
        {0x40000001, 0, 0, 0, 0},
        {0x80000000, 0x80000008, 0, 0, 0},
        {0x80000001, 0, 0, ABI_X1_ECX, ABI_X1_EDX},
        {0x80000002, 0x636e6974, 0x41206e61, 0x43204942, 0x00005550},
        {0x80000008, 0x3024, 0, 0, 0},
        {0x80000009, 0, 0, 0, 0},
        {0xc0000000, 0, 0, 0, 0},
        {0xffffffff, 0, 0, 0, 0},
    };
    uint32_t r[4];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lookup(cases[i].leaf, r);
        assert_int_equal(r[0], cases[i].eax);
        assert_int_equal(r[1], cases[i].ebx);
        assert_int_equal(r[2], cases[i].ecx);
        assert_int_equal(r[3], cases[i].edx);
    }
    assert_int_equal(cpuid_hwcap(cpuid_table, cpuid_table_len), ABI_1_EDX);
}

/* A host's KVM_GET_SUPPORTED_CPUID with the given leaves. */
static struct kvm_cpuid2 *host(const struct kvm_cpuid_entry2 *e, uint32_t n)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(*e));

    assert_non_null(c);
    c->nent = n;
    memcpy(c->entries, e, n * sizeof(*e));
    return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c,
                                           uint32_t leaf)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == leaf)
            return &c->entries[i];
    fail_msg("leaf 0x%x missing from the KVM table", leaf);
    return NULL;
}

/* Every leaf of the table is in the KVM form, one entry each, for every
 * subleaf (flags 0), and nothing else (no 0x40000000, no 0xd). */
static void assert_table_shape(const struct kvm_cpuid2 *c)
{
    assert_int_equal(c->nent, cpuid_table_len);
    for (uint32_t i = 0; i < c->nent; i++) {
        assert_int_equal(c->entries[i].function, cpuid_table[i].leaf);
        assert_int_equal(c->entries[i].index, 0);
        assert_int_equal(c->entries[i].flags, 0);
        assert_true(c->entries[i].function != CPUID_LEAF_HYPERVISOR);
        assert_true(c->entries[i].function != CPUID_LEAF_XSAVE);
    }
}

static void test_kvm_table_hides_every_host_bit_beyond_the_abi(void **state)
{
    /* A generous host: every bit of every feature register, KVM's PV
     * signature, vendor and brand of its own. */
    const struct kvm_cpuid_entry2 rich[] = {
        {.function = 0, .eax = 0x1f, .ebx = 0x756e6547}, /* "Genu" */
        {.function = 1, .eax = 0xa00f11, .ebx = ~0U, .ecx = ~0U, .edx = ~0U},
        {.function = 7, .eax = 2, .ebx = ~0U, .ecx = ~0U, .edx = ~0U},
        {.function = 0xd, .eax = 7, .ebx = 0x340, .ecx = 0x340},
        {.function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b},
        {.function = 0x80000001, .ecx = ~0U, .edx = ~0U},
        {.function = 0x80000008, .eax = 0x3030},
    };
    struct kvm_cpuid2 *h = host(rich, sizeof(rich) / sizeof(rich[0]));
    struct kvm_cpuid2 *c = NULL;

    (void)state;
    assert_int_equal(cpuid_for_kvm(h, (void **)&c), 0);
    assert_table_shape(c);
    for (uint32_t i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];
        assert_int_equal(e->eax, cpuid_table[i].eax);
        assert_int_equal(e->ebx, cpuid_table[i].ebx);
        assert_int_equal(e->ecx, cpuid_table[i].ecx);
        assert_int_equal(e->edx, cpuid_table[i].edx);
    }
    assert_int_equal(find(c, 1)->ecx, ABI_1_ECX);
    free(c);
    free(h);
}

static void test_kvm_table_clears_what_the_host_lacks(void **state)
{
    /* A host without SSE4.2 and LAHF, and without leaf 7 at all. */
    const struct kvm_cpuid_entry2 poor[] = {
        {.function = 0, .eax = 0xd},
        {.function = 1, .ecx = ~CPUID_1_ECX_SSE4_2, .edx = ~0U},
        {.function = 0x80000001, .ecx = ~CPUID_X1_ECX_LAHF, .edx = ~0U},
    };
    struct kvm_cpuid2 *h = host(poor, sizeof(poor) / sizeof(poor[0]));
    struct kvm_cpuid2 *c = NULL;

    (void)state;
    assert_int_equal(cpuid_for_kvm(h, (void **)&c), 0);
    assert_table_shape(c);
    assert_int_equal(find(c, 1)->ecx, ABI_1_ECX & ~CPUID_1_ECX_SSE4_2);
    assert_int_equal(find(c, 1)->edx, ABI_1_EDX);
    assert_int_equal(find(c, 1)->eax, 0x600);
    assert_int_equal(find(c, 0x80000001)->ecx, 0);
    assert_int_equal(find(c, 0x80000001)->edx, ABI_X1_EDX);
    /* values, not features: the table's, whatever the host says */
    assert_int_equal(find(c, 0)->eax, 7);
    assert_int_equal(find(c, 0)->ebx, 0x68747541);
    assert_int_equal(find(c, 0x80000008)->eax, 0x3024);
    free(c);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_answers_listed_leaves_and_zeros_elsewhere),
        cmocka_unit_test(test_kvm_table_hides_every_host_bit_beyond_the_abi),
        cmocka_unit_test(test_kvm_table_clears_what_the_host_lacks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
