/* test_boot.c - the GDT, IDT, stubs and page tables tincan gives every guest,
 * checked as bytes, and the entry state. No KVM needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../sandbox/boot.h"
#include "../sandbox/x86.h"

static uint8_t img[BOOT_IMAGE_SIZE];
/* What q() and translate() read: the image, or a job's memory from
 * BOOT_IMAGE_BASE on. */
static const uint8_t *view = img;

static uint64_t q(uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, view + gpa - BOOT_IMAGE_BASE, 8);
    return v;
}

static int setup(void **state)
{
    (void)state;
    boot_build_image(img);
    return 0;
}

/* Walk the tables like the MMU: the physical address, or -1 if unmapped. */
static int64_t translate(uint64_t va)
{
    uint64_t e = q(TINCAN_PML4_ADDR + ((va >> 39) & 511) * 8);
    if (!(e & PTE_P) || (va >> 39) != 0)
        return -1;
    e = q((e & ~0xFFFULL) + ((va >> 30) & 511) * 8);
    if (!(e & PTE_P))
        return -1;
    e = q((e & ~0xFFFULL) + ((va >> 21) & 511) * 8);
    if (!(e & PTE_P))
        return -1;
    if (e & PTE_PS)
        return (int64_t)((e & ~0x1FFFFFULL) | (va & 0x1FFFFF));
    e = q((e & ~0xFFFULL) + ((va >> 12) & 511) * 8);
    if (!(e & PTE_P))
        return -1;
    return (int64_t)((e & ~0xFFFULL) | (va & 0xFFF));
}

static void test_page_tables_identity_map_4gib_except_page_zero(void **state)
{
    (void)state;
    assert_int_equal(translate(0), -1);
    assert_int_equal(translate(0xFFF), -1);
    assert_int_equal(translate(0x1000), 0x1000);
    assert_int_equal(translate(TINCAN_ENTRY + 5), TINCAN_ENTRY + 5);
    assert_int_equal(translate(0x1FFFFF), 0x1FFFFF);
    assert_int_equal(translate(0x200000), 0x200000);
    assert_int_equal(translate(0x3FFFFFFF), 0x3FFFFFFF);
    assert_int_equal(translate(0xC0000000), 0xC0000000);
    assert_int_equal(translate(0xFFFFFFFF), 0xFFFFFFFF);
    assert_int_equal(translate(0x100000000), -1);
    /* every 2 MiB page is present, writable, user, large, and already
     * accessed and dirty, so that no page walk writes to the tables */
    for (unsigned i = 1; i < 2048; i++) {
        uint64_t e = q(TINCAN_PD_ADDR + i * 8);
        assert_int_equal(e, (uint64_t)i * PAGE_SIZE_2M | PTE_P | PTE_RW |
                                PTE_US | PTE_A | PTE_D | PTE_PS);
    }
    assert_int_equal(q(TINCAN_PML4_ADDR), TINCAN_PDPT_ADDR | PTE_P | PTE_RW |
                                              PTE_US | PTE_A | PTE_D);
    assert_int_equal(q(TINCAN_PT0_ADDR + 8 * (TINCAN_ENTRY / PAGE_SIZE)),
                     TINCAN_ENTRY | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
}

/* A ring-3 Linux guest reaches neither tincan's tables nor its stubs. */
static void test_tincan_pages_are_supervisor_only(void **state)
{
    (void)state;
    for (uint64_t a = 0x1000; a < TINCAN_RESERVED_END; a += PAGE_SIZE)
        assert_int_equal(q(TINCAN_PT0_ADDR + 8 * (a / PAGE_SIZE)),
                         a | PTE_P | PTE_RW | PTE_A | PTE_D);
}

/* Ring-3 code and data descriptors at the selectors sysretq loads. */
static void test_gdt_has_user_segments_at_linux_selectors(void **state)
{
    (void)state;
    assert_int_equal(SEL_UDATA, 0x2b);
    assert_int_equal(SEL_UCODE, 0x33);
    /* data: base 0, limit 0xFFFFF, G, D/B, P, DPL3, S, type read/write */
    assert_int_equal(q(TINCAN_GDT_ADDR + GDT_UDATA * 8), 0x00CFF3000000FFFFULL);
    /* code: G, L, P, DPL3, S, type execute/read */
    assert_int_equal(q(TINCAN_GDT_ADDR + GDT_UCODE * 8), 0x00AFFB000000FFFFULL);
}

/* int3 and into from ring 3 raise #BP and #OF (gate DPL 3); others DPL 0. */
static void test_idt_lets_ring3_use_int3_and_into_only(void **state)
{
    (void)state;
    for (unsigned v = 0; v < IDT_ENTRIES; v++) {
        uint64_t lo = q(TINCAN_IDT_ADDR + v * IDT_GATE_SIZE);
        unsigned dpl = (unsigned)(lo >> IDT_DPL_SHIFT) & 3;
        assert_int_equal(dpl, v == X86_EXC_BP || v == X86_EXC_OF ? 3 : 0);
    }
}

/* The Linux stubs are in the image, ending in iretq and sysretq. */
static void test_linux_stubs_are_in_the_image(void **state)
{
    (void)state;
    /* the entry stub begins with mov $MSR_EFER, %ecx */
    assert_int_equal(img[TINCAN_LX_ENTRY_ADDR - BOOT_IMAGE_BASE], 0xB9);
    /* the syscall stub begins with mov %rax, abs32 */
    assert_int_equal(img[TINCAN_LX_SYSCALL_ADDR - BOOT_IMAGE_BASE], 0x48);
    assert_int_equal(img[TINCAN_LX_SYSCALL_ADDR - BOOT_IMAGE_BASE + 1], 0x89);
}

/* A guard range becomes not-present; everything around it stays mapped. */
static void test_guard_splits_a_2mib_page_into_the_spare_table(void **state)
{
    static uint8_t mem[TINCAN_RESERVED_END];
    const uint64_t guard = 0x600000 - 0x10000, len = 0x10000;

    (void)state;
    memcpy(mem + BOOT_IMAGE_BASE, img, BOOT_IMAGE_SIZE);
    view = mem + BOOT_IMAGE_BASE; /* translate() reads the job's tables */
    assert_int_equal(boot_guard(mem, guard, len), 0);
    assert_int_equal(translate(guard - 1), guard - 1);
    assert_int_equal(translate(guard), -1);
    assert_int_equal(translate(guard + len - 1), -1);
    assert_int_equal(translate(guard + len), guard + len);
    assert_int_equal(translate(0x400000), 0x400000);
    assert_int_equal(translate(0x200000), 0x200000);
    /* below 2 MiB the 4 KiB table itself changes */
    memcpy(mem + BOOT_IMAGE_BASE, img, BOOT_IMAGE_SIZE);
    assert_int_equal(boot_guard(mem, 0x20000, 0x1000), 0);
    assert_int_equal(translate(0x1FFFF), 0x1FFFF);
    assert_int_equal(translate(0x20000), -1);
    assert_int_equal(translate(0x21000), 0x21000);
    /* refused: unaligned, tincan's pages, across 2 MiB */
    assert_int_equal(boot_guard(mem, 0x30001, 0x1000), -1);
    assert_int_equal(boot_guard(mem, 0x5000, 0x1000), -1);
    assert_int_equal(boot_guard(mem, 0x1FF000, 0x2000), -1);
    view = img;
}

static void test_gdt_holds_flat_long_mode_segments_and_tss(void **state)
{
    (void)state;
    assert_int_equal(q(TINCAN_GDT_ADDR), 0);
    /* code: base 0, limit 0xFFFFF, G, L, P, DPL0, S, type execute/read */
    assert_int_equal(q(TINCAN_GDT_ADDR + SEL_CODE), 0x00AF9B000000FFFFULL);
    /* data: base 0, limit 0xFFFFF, G, D/B, P, DPL0, S, type read/write */
    assert_int_equal(q(TINCAN_GDT_ADDR + SEL_DATA), 0x00CF93000000FFFFULL);
    /* TSS: base TINCAN_TSS_ADDR, limit 103, P, busy 64-bit TSS */
    assert_int_equal(q(TINCAN_GDT_ADDR + SEL_TSS),
                     0x00008B0000000067ULL | ((uint64_t)TINCAN_TSS_ADDR << 16));
    assert_int_equal(q(TINCAN_GDT_ADDR + SEL_TSS + 8), 0);
    assert_int_equal(q(TINCAN_TSS_ADDR + TSS64_IST1), TINCAN_FAULT_STACK_TOP);
}

static void test_every_vector_reaches_a_stub_that_reports_it(void **state)
{
    (void)state;
    for (unsigned v = 0; v < IDT_ENTRIES; v++) {
        uint64_t lo = q(TINCAN_IDT_ADDR + v * IDT_GATE_SIZE);
        uint64_t stub = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000);
        const uint8_t *p = img + stub - BOOT_IMAGE_BASE;

        assert_int_equal((lo >> 16) & 0xFFFF, SEL_CODE);
        assert_int_equal((lo >> 32) & 7, IDT_IST_FAULT);
        assert_int_equal((lo >> 40) & 0xF, IDT_TYPE_INTERRUPT);
        assert_int_equal((lo >> 47) & 1, 1);
        assert_in_range(stub, TINCAN_STUBS_ADDR, TINCAN_STUBS_END - 8);
        if (!boot_vector_has_error_code(v)) {
            assert_int_equal(p[0], 0x6A); /* push $0 */
            assert_int_equal(p[1], 0);
            p += 2;
        }
        assert_int_equal(p[0], 0xB0); /* mov $v, %al */
        assert_int_equal(p[1], v);
        assert_int_equal(p[2], 0xE6); /* out %al, $TINCAN_PORT_FAULT */
        assert_int_equal(p[3], TINCAN_PORT_FAULT);
        assert_int_equal(p[4], 0xF4); /* hlt */
    }
    assert_string_equal(boot_vector_name(14), "#PF");
    assert_string_equal(boot_vector_name(3), "#BP");
    assert_string_equal(boot_vector_name(0x80), "INT");
    assert_true(boot_vector_has_error_code(13));
    assert_false(boot_vector_has_error_code(6));
}

static void test_entry_state_is_long_mode_with_caches_and_sse(void **state)
{
    struct boot_state st;
    struct boot_cpu plain = {0}, avx = {.xsave = 1, .avx = 1};

    (void)state;
    boot_entry_state(&st, 16 << 20, TINCAN_ENTRY, TINCAN_ENTRY + 0x1000, 7,
                     &plain);
    assert_int_equal(st.cr0,
                     CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG);
    assert_int_equal(st.cr0 & (CR0_CD | CR0_NW), 0);
    assert_int_equal(st.cr4, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT);
    assert_int_equal(st.efer, EFER_LME | EFER_LMA);
    assert_int_equal(st.cr3, TINCAN_PML4_ADDR);
    assert_int_equal(st.rip, TINCAN_ENTRY);
    assert_int_equal(st.rsp, 16 << 20);
    assert_int_equal(st.rdi, TINCAN_ENTRY + 0x1000);
    assert_int_equal(st.rsi, 7);
    assert_int_equal(st.rflags, 2);
    assert_int_equal(st.cs.l, 1);
    assert_int_equal(st.tr.selector, SEL_TSS);
    boot_entry_state(&st, 16 << 20, 0x400123, 0x402000, 0, &avx);
    assert_int_equal(st.rip, 0x400123);
    assert_int_equal(st.rdi, 0x402000);
    assert_true(st.cr4 & CR4_OSXSAVE);
    assert_int_equal(st.xcr0, XCR0_X87 | XCR0_SSE | XCR0_AVX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_tables_identity_map_4gib_except_page_zero),
        cmocka_unit_test(test_gdt_holds_flat_long_mode_segments_and_tss),
        cmocka_unit_test(test_tincan_pages_are_supervisor_only),
        cmocka_unit_test(test_gdt_has_user_segments_at_linux_selectors),
        cmocka_unit_test(test_idt_lets_ring3_use_int3_and_into_only),
        cmocka_unit_test(test_linux_stubs_are_in_the_image),
        cmocka_unit_test(test_guard_splits_a_2mib_page_into_the_spare_table),
        cmocka_unit_test(test_every_vector_reaches_a_stub_that_reports_it),
        cmocka_unit_test(test_entry_state_is_long_mode_with_caches_and_sse),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
