/* test_pvm.c - kvm_pvm's ring-3 boot path (sandbox/pvm.h), checked as
 * bytes and entry state: the TSS and its I/O bitmap, the stubs that keep
 * rax, the resume stub, a Linux guest's user pages. No KVM needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox/boot.h"
#include "../sandbox/lxframe.h"
#include "../sandbox/pvm.h"
#include "../sandbox/x86.h"

#define MEM 0x100000 /* guest memory for the tests: 1 MiB */

static uint8_t *mem;

static uint64_t q(uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, mem + gpa, 8);
    return v;
}

static int setup(void **state)
{
    (void)state;
    mem = calloc(1, MEM);
    assert_non_null(mem);
    boot_build_image(mem + BOOT_IMAGE_BASE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(mem);
    return 0;
}

static void load(enum sbx_abi abi)
{
    struct sbx_job job;

    memset(&job, 0, sizeof(job));
    job.abi = abi;
    boot_build_image(mem + BOOT_IMAGE_BASE);
    pvm_load(mem, &job);
}

static void test_tss_lets_every_port_below_the_limit_through(void **state)
{
    (void)state;
    load(SBX_ABI_TINCAN);
    assert_int_equal(q(PVM_TSS_ADDR + TSS64_IST1), TINCAN_FAULT_STACK_TOP);
    assert_int_equal(mem[PVM_TSS_ADDR + TSS64_IOMAP_BASE] |
                         mem[PVM_TSS_ADDR + TSS64_IOMAP_BASE + 1] << 8,
                     TSS64_SIZE);
    assert_int_equal(PVM_IOMAP_ADDR, PVM_TSS_ADDR + TSS64_SIZE);
    for (uint64_t a = PVM_IOMAP_ADDR; a < PVM_TSS_ADDR + PVM_TSS_LIMIT + 1; a++)
        assert_int_equal(mem[a], 0);
    /* the CPU reads two bitmap bytes: both inside the limit */
    assert_int_equal(PVM_IO_PORTS, 64696);
    assert_true(PVM_IOMAP_ADDR + (PVM_IO_PORTS - 1) / 8 + 1 <=
                PVM_TSS_ADDR + PVM_TSS_LIMIT);
    assert_true(PVM_TSS_ADDR >= TINCAN_GUARD_PT_ADDR + PAGE_SIZE);
    assert_int_equal(PVM_TSS_ADDR + PVM_TSS_LIMIT + 1, TINCAN_RESERVED_END);
}

static void test_stubs_push_rax_then_report_their_vector(void **state)
{
    (void)state;
    load(SBX_ABI_TINCAN);
    for (unsigned v = 0; v < IDT_ENTRIES; v++) {
        const uint8_t *s = mem + TINCAN_STUBS_ADDR + v * 8;
        unsigned n = boot_vector_has_error_code(v) ? 0 : 2;

        if (n) { /* push $0 where the CPU pushes no error code */
            assert_int_equal(s[0], 0x6A);
            assert_int_equal(s[1], 0);
        }
        assert_int_equal(s[n], 0x50); /* push %rax */
        assert_int_equal(s[n + 1], 0xB0);
        assert_int_equal(s[n + 2], v);
        assert_int_equal(s[n + 3], 0xE6);
        assert_int_equal(s[n + 4], TINCAN_PORT_FAULT);
        assert_int_equal(s[n + 5], 0xF4);
    }
}

static void
test_resume_stub_pops_rax_and_the_error_code_then_irets(void **state)
{
    static const uint8_t resume[] = {0x58, 0x48, 0x83, 0xC4, 0x08, 0x48, 0xCF};

    (void)state;
    load(SBX_ABI_TINCAN);
    assert_memory_equal(mem + PVM_RESUME_ADDR, resume, sizeof(resume));
    assert_true(PVM_RESUME_ADDR >= TINCAN_LX_STUBS_END &&
                PVM_RESUME_ADDR + sizeof(resume) <= TINCAN_PML4_ADDR);
}

static void test_only_a_linux_guest_gets_its_syscall_pages_as_user(void **state)
{
    uint64_t stub = TINCAN_PT0_ADDR + TINCAN_LX_SYSCALL_ADDR / PAGE_SIZE * 8;
    uint64_t frame = TINCAN_PT0_ADDR + TINCAN_LX_FRAME_ADDR / PAGE_SIZE * 8;
    uint64_t gdt = TINCAN_PT0_ADDR + TINCAN_GDT_ADDR / PAGE_SIZE * 8;

    (void)state;
    load(SBX_ABI_TINCAN);
    assert_int_equal(q(stub) & PTE_US, 0);
    assert_int_equal(q(frame) & PTE_US, 0);
    load(SBX_ABI_LINUX);
    assert_int_equal(q(stub) & PTE_US, PTE_US);
    assert_int_equal(q(frame) & PTE_US, PTE_US);
    assert_int_equal(q(gdt) & PTE_US, 0);
}

static void test_entry_state_is_ring_3_with_the_ring_3_tss(void **state)
{
    struct sbx_job job;
    struct kvm_sregs s;
    struct kvm_regs r;

    (void)state;
    memset(&job, 0, sizeof(job));
    memset(&s, 0, sizeof(s));
    memset(&r, 0, sizeof(r));
    r.rip = TINCAN_ENTRY;
    r.rflags = RFLAGS_RESERVED1;
    pvm_entry_state(&job, &s, &r);
    assert_int_equal(s.cs.selector, SEL_UCODE);
    assert_int_equal(s.cs.dpl, 3);
    assert_int_equal(s.cs.l, 1);
    assert_int_equal(s.ss.selector, SEL_UDATA);
    assert_int_equal(s.ss.dpl, 3);
    assert_int_equal(s.ds.selector, SEL_UDATA);
    assert_int_equal(s.tr.base, PVM_TSS_ADDR);
    assert_int_equal(s.tr.limit, PVM_TSS_LIMIT);
    assert_int_equal(r.rip, TINCAN_ENTRY);
    assert_int_equal(r.rflags, RFLAGS_RESERVED1);
    assert_int_equal(s.efer & LX_EFER_SCE, 0);
}

static void test_linux_entry_skips_the_stub_to_the_program(void **state)
{
    struct sbx_job job;
    struct kvm_sregs s;
    struct kvm_regs r;

    (void)state;
    memset(&job, 0, sizeof(job));
    job.abi = SBX_ABI_LINUX;
    memset(&s, 0, sizeof(s));
    memset(&r, 0, sizeof(r));
    r.rip = TINCAN_LX_ENTRY_ADDR;
    r.rbx = 0x401000;
    pvm_entry_state(&job, &s, &r);
    assert_int_equal(r.rip, 0x401000);
    assert_int_equal(r.rbx, 0);
    assert_int_equal(r.rflags, LX_USER_RFLAGS);
    assert_int_equal(s.efer & LX_EFER_SCE, LX_EFER_SCE);
    assert_int_equal(s.cs.selector, LX_USER_CS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tss_lets_every_port_below_the_limit_through),
        cmocka_unit_test(test_stubs_push_rax_then_report_their_vector),
        cmocka_unit_test(
            test_resume_stub_pops_rax_and_the_error_code_then_irets),
        cmocka_unit_test(
            test_only_a_linux_guest_gets_its_syscall_pages_as_user),
        cmocka_unit_test(test_entry_state_is_ring_3_with_the_ring_3_tss),
        cmocka_unit_test(test_linux_entry_skips_the_stub_to_the_program),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
