/*
 * test_guests.c - every guest in guests/ through the C API (tc_run), each
 * asserting exactly the result its one-line comment promises: status,
 * output bytes, exit code, and the fault / io / mmio details. Plus the jobs
 * tc_run must refuse, and the bookkeeping fields of a result.
 *
 * Needs a usable /dev/kvm (or the KVM lane: tests/vm/run build/tests/...),
 * or TINCAN_TEST_BACKEND=emu: the same expectations on the emulator, which
 * tests/run-unit runs on the host.
 * Env: BUILD (default "build"). On a kvm_pvm host (sandbox/pvm.h) the KVM
 * backend runs here directly; TINCAN_TEST_PVM=0/1 overrides its detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../runner/zygote.h"
#include "helpers.h"

static const char hello_line[] = "Hello, World!\n";
#define HELLO_LEN (sizeof(hello_line) - 1)

/* Common to every job that ran. */
static void assert_bookkeeping(const struct tc_result *r)
{
    assert_non_null(r->backend);
    assert_string_equal(r->backend, th_backend_name());
    assert_true(r->exits >= 1);
    assert_true(r->wall_us > 0);
    assert_true(r->message[0] != '\0');
}

static void assert_no_output(const struct tc_result *r)
{
    assert_int_equal(r->output_len, 0);
    assert_null(r->output);
}

static void assert_output(const struct tc_result *r, const void *want,
                          size_t len)
{
    assert_int_equal(r->output_len, len);
    if (len)
        assert_memory_equal(r->output, want, len);
}

static void assert_fault(const struct tc_result *r, unsigned vector,
                         const char *name, int has_error_code,
                         uint64_t error_code, uint64_t rip, uint64_t cr2)
{
    th_assert_status(r, TC_FAULT);
    assert_int_equal(r->fault.vector, vector);
    assert_string_equal(r->fault.name, name);
    assert_int_equal(r->fault.has_error_code, has_error_code);
    assert_int_equal(r->fault.error_code, error_code);
    assert_int_equal(r->fault.rip, rip);
    assert_int_equal(r->fault.cr2, cr2);
    assert_no_output(r);
    assert_int_equal(r->violation_syscall, -1);
    assert_bookkeeping(r);
}

static void assert_io(const struct tc_result *r, unsigned port, int out,
                      unsigned size)
{
    th_assert_status(r, TC_UNHANDLED_IO);
    assert_int_equal(r->io.port, port);
    assert_int_equal(r->io.out, out);
    assert_int_equal(r->io.size, size);
    assert_bookkeeping(r);
}

static void assert_ok(const struct tc_result *r, uint64_t exit_code)
{
    th_assert_status(r, TC_OK);
    assert_int_equal(r->exit_code, exit_code);
    assert_int_equal(r->violation_syscall, -1);
    assert_bookkeeping(r);
}

/* ---- ok ------------------------------------------------------------------ */

static void test_hello_once_prints_hello_world_and_exits_0(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("hello_once", 0, &r);
    assert_ok(&r, 0);
    assert_output(&r, hello_line, HELLO_LEN);
    tc_result_free(&r);
}

static void test_exit42_exits_42_without_output(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("exit42", 0, &r);
    assert_ok(&r, 42);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void test_exit_code_dword_reports_all_32_bits(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("exit_code_dword", 0, &r);
    assert_ok(&r, 305419896ULL);
    assert_int_equal(r.exit_code, 0x12345678);
    assert_no_output(&r);
    tc_result_free(&r);
}

/* Four registers as the guest stores them: eax, ebx, ecx, edx, each
 * little-endian. */
#define LE32(x)          (x) & 0xff, (x) >> 8 & 0xff, (x) >> 16 & 0xff, (x) >> 24
#define REGS(a, b, c, d) LE32(a), LE32(b), LE32(c), LE32(d)
#define ZERO16           REGS(0, 0, 0, 0)

/* What this host's KVM offers in one register of a leaf (subleaf 0), from
 * KVM_GET_SUPPORTED_CPUID: the ABI's feature bits the host lacks read as 0
 * on KVM (guests/ABI.md, "CPUID"). reg: 0 eax .. 3 edx. */
static uint32_t kvm_offers(uint32_t leaf, unsigned reg)
{
    enum { MAX_ENTRIES = 256 };
    struct kvm_cpuid2 *c;
    uint32_t v = 0;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    assert_true(fd >= 0);
    c = calloc(1, sizeof(*c) + MAX_ENTRIES * sizeof(c->entries[0]));
    assert_non_null(c);
    c->nent = MAX_ENTRIES;
    assert_int_equal(ioctl(fd, KVM_GET_SUPPORTED_CPUID, c), 0);
    for (uint32_t i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == leaf && e->index == 0) {
            const uint32_t regs[4] = {e->eax, e->ebx, e->ecx, e->edx};
            v = regs[reg];
        }
    }
    free(c);
    close(fd);
    return v;
}

/* On KVM: clear in the 32-bit word at want + off what the host's KVM lacks,
 * saying which bits. */
static void mask_by_host(uint8_t *want, size_t off, uint32_t leaf, unsigned reg)
{
    uint32_t w, have = kvm_offers(leaf, reg);

    memcpy(&w, want + off, 4);
    if (w & ~have)
        print_message("this host's KVM lacks CPUID.0x%x reg %u bits 0x%08x "
                      "of the ABI's: they read as 0\n",
                      leaf, reg, w & ~have);
    w &= have;
    memcpy(want + off, &w, 4);
}

/*
 * kvm_pvm answers leaf 1's ECX and EDX, leaf 7 and leaf 0xd (records 1-4)
 * from its own view of the host, whatever KVM_SET_CPUID2 said
 * (guests/ABI.md, "CPUID"): they must still offer every feature bit of the
 * ABI's leaf 1 (what the table promises is there), and then are taken as
 * they came; every other value stays the ABI's, byte for byte.
 */
static void take_pvm_feature_leaves(uint8_t *want, const uint8_t *got)
{
    for (size_t off = 1 * 16 + 8; off < 1 * 16 + 16; off += 4) {
        uint32_t w, g;
        memcpy(&w, want + off, 4);
        memcpy(&g, got + off, 4);
        if ((g & w) != w)
            fail_msg("kvm_pvm's CPUID.1 %s 0x%08x lacks the ABI's bits "
                     "0x%08x",
                     off == 1 * 16 + 8 ? "ECX" : "EDX", g, w & ~g);
    }
    print_message("kvm_pvm: CPUID.1 ECX/EDX, leaf 7 and leaf 0xd as it "
                  "answers them (guests/ABI.md)\n");
    memcpy(want + 1 * 16 + 8, got + 1 * 16 + 8, 8);
    memcpy(want + 2 * 16, got + 2 * 16, 3 * 16);
}

/*
 * On a kvm_pvm host whose kernel cannot make a ring-3 cpuid trap, the guest's
 * cpuid runs on the CPU (guests/ABI.md, "CPUID"): every leaf guests/cpuid
 * asks for is then the CPU's own, as this test reads it natively, but for
 * leaf 1's initial APIC ID (EBX bits 31-24: whichever CPU ran it), cleared
 * on both sides.
 */
static void take_the_cpus_leaves(uint8_t *want, uint8_t *got)
{
    static const uint32_t leaves[][2] = {
        {0, 0},          {1, 0},          {7, 0},          {0xd, 0},
        {0xd, 1},        {0x40000000, 0}, {0x80000000, 0}, {0x80000001, 0},
        {0x80000002, 0}, {0x80000003, 0}, {0x80000004, 0}, {0x80000005, 0},
        {0x80000006, 0}, {0x80000007, 0}, {0x80000008, 0}};
    const size_t apic_id = 1 * 16 + 4 + 3; /* leaf 1, EBX, byte 3 */

    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        uint32_t regs[4];
        th_native_cpuid(leaves[i][0], leaves[i][1], regs);
        memcpy(want + i * 16, regs, 16);
    }
    want[apic_id] = got[apic_id] = 0;
    print_message("kvm_pvm: the guest's cpuid is the CPU's own here "
                  "(guests/ABI.md, \"CPUID\")\n");
}

static void test_cpuid_shows_the_abis_table_on_every_backend(void **state)
{
    /* guests/ABI.md, "CPUID": each leaf the guest asks for, in its order */
    uint8_t want[] = {
        /* 0: max basic leaf 7, "Auth" "cAMD" "enti" (EBX ECX EDX) */
        7, 0, 0, 0, 'A', 'u', 't', 'h', 'c', 'A', 'M', 'D', 'e', 'n', 't', 'i',
        /* 1: family 6; CLFLUSH 64 bytes; SSE3 SSSE3 CX16 SSE4.1 SSE4.2;
         * FPU TSC PAE CX8 CMOV CLFLUSH MMX FXSR SSE SSE2 */
        REGS(0x00000600U, 0x00000800U, 0x00182201U, 0x07888151U),
        ZERO16,                     /* 7 */
        ZERO16,                     /* 0xd.0: no XSAVE */
        ZERO16,                     /* 0xd.1 */
        ZERO16,                     /* 0x40000000: no hypervisor leaves */
        REGS(0x80000008U, 0, 0, 0), /* 0x80000000: highest extended leaf */
        /* 0x80000001: LAHF; SYSCALL NX LM */
        REGS(0, 0, 0x00000001U, 0x20100800U),
        /* 0x80000002: the brand */
        't', 'i', 'n', 'c', 'a', 'n', ' ', 'A', 'B', 'I', ' ', 'C', 'P', 'U', 0,
        0,
        /* 0x80000003, 0x80000004; 0x80000005-0x80000007 */
        ZERO16, ZERO16, ZERO16, ZERO16, ZERO16,
        REGS(0x00003024U, 0, 0, 0), /* 0x80000008: 36 physical, 48 linear */
    };
    struct tc_result r;

    (void)state;
    assert_int_equal(sizeof(want), 240);
    if (!th_on_emu()) {
        /* the feature registers: leaf 1 (2nd record), 0x80000001 (8th) */
        mask_by_host(want, 1 * 16 + 8, 1, 2);
        mask_by_host(want, 1 * 16 + 12, 1, 3);
        mask_by_host(want, 7 * 16 + 8, 0x80000001, 2);
        mask_by_host(want, 7 * 16 + 12, 0x80000001, 3);
    }
    th_run_guest("cpuid", 0, &r);
    assert_ok(&r, 0);
    assert_int_equal(r.output_len, sizeof(want));
    if (!th_on_emu() && th_kvm_cpuid_is_the_cpus())
        take_the_cpus_leaves(want, (uint8_t *)r.output);
    else if (th_on_pvm() && !th_on_emu())
        take_pvm_feature_leaves(want, (const uint8_t *)r.output);
    assert_output(&r, want, sizeof(want));
    tc_result_free(&r);
}

static void test_outw_outl_append_little_endian_bytes(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("outw_outl", 0, &r);
    assert_ok(&r, 0);
    assert_output(&r, "ABCDEF", 6);
    tc_result_free(&r);
}

static void test_outsb64k_rep_outsb_delivers_65536_pattern_bytes(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("outsb64k", 30000, &r);
    assert_ok(&r, 0);
    assert_int_equal(r.output_len, 65536);
    th_assert_pattern(r.output, r.output_len);
    tc_result_free(&r);
}

static void test_bulk1m_one_bulk_write_of_1mib_in_few_exits(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("bulk1m", 10000, &r);
    assert_ok(&r, 0);
    assert_int_equal(r.output_len, 1048576);
    th_assert_pattern(r.output, r.output_len);
    /* One exit for the bulk write, one for the exit port: not one per byte. */
    assert_true(r.exits < 10);
    tc_result_free(&r);
}

static void test_echo_returns_binary_input_unchanged(void **state)
{
    static const unsigned char input[7] = {'a', 'b', 'c', 0, 'x', 'y', 'z'};
    struct tc_result r;

    (void)state;
    th_run_guest_full("echo", input, sizeof(input), 0, 0, 0, &r);
    assert_ok(&r, 0);
    assert_output(&r, input, sizeof(input));
    tc_result_free(&r);
}

static void test_echo_with_empty_input_is_ok_and_empty(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest_full("echo", NULL, 0, 0, 0, 0, &r);
    assert_ok(&r, 0);
    assert_no_output(&r);
    tc_result_free(&r);
}

/* ---- timeout ------------------------------------------------------------- */

static void test_hello_times_out_with_whole_hello_lines(void **state)
{
    struct tc_result r;

    (void)state;
    /* 1 s (under TCG in the lane, building the VM can take most of 200 ms)
     * and room for a second of output: on the emulator an OUT is a function
     * call, not a VM exit, and 1 MiB fills well before the deadline. */
    th_run_guest_full("hello", NULL, 0, 0, 1000, 1ULL << 30, &r);
    th_assert_status(&r, TC_TIMEOUT);
    assert_bookkeeping(&r);
    assert_true(r.output_len > 0);
    size_t full = r.output_len / HELLO_LEN, tail = r.output_len % HELLO_LEN;
    for (size_t i = 0; i < full; i++)
        assert_memory_equal(r.output + i * HELLO_LEN, hello_line, HELLO_LEN);
    if (tail)
        assert_memory_equal(r.output + full * HELLO_LEN, hello_line, tail);
    tc_result_free(&r);
}

static void test_spin_times_out_without_output(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("spin", 100, &r);
    th_assert_status(&r, TC_TIMEOUT);
    assert_no_output(&r);
    assert_bookkeeping(&r);
    assert_true(r.wall_us >= 100000);
    tc_result_free(&r);
}

/* ---- output_limit -------------------------------------------------------- */

static void test_flood_stops_at_max_output_1000_exactly(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest_full("flood", NULL, 0, 0, 0, 1000, &r);
    th_assert_status(&r, TC_OUTPUT_LIMIT);
    assert_bookkeeping(&r);
    assert_int_equal(r.output_len, 1000);
    th_assert_pattern(r.output, r.output_len);
    tc_result_free(&r);
}

static void test_flood_stops_at_default_1mib_exactly(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest_full("flood", NULL, 0, 0, 10000, 0, &r);
    th_assert_status(&r, TC_OUTPUT_LIMIT);
    assert_bookkeeping(&r);
    assert_int_equal(r.output_len, 1048576);
    th_assert_pattern(r.output, r.output_len);
    tc_result_free(&r);
}

/* ---- fault --------------------------------------------------------------- */

static void test_ud2_faults_ud_at_entry(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("ud2", 0, &r);
    assert_fault(&r, 6, "#UD", 0, 0, 0x10000, 0);
    tc_result_free(&r);
}

static void test_div0_faults_de_at_the_div(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("div0", 0, &r);
    assert_fault(&r, 0, "#DE", 0, 0, 0x10009, 0);
    tc_result_free(&r);
}

static void test_int3_traps_bp_with_rip_after_it(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("int3", 0, &r);
    assert_fault(&r, 3, "#BP", 0, 0, 0x10001, 0);
    tc_result_free(&r);
}

static void test_gp_noncanonical_load_faults_gp_error_0(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("gp", 0, &r);
    assert_fault(&r, 13, "#GP", 1, 0, 0x1000a, 0);
    tc_result_free(&r);
}

static void test_pf_high_write_above_4gib_faults_pf_write(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("pf_high", 0, &r);
    assert_fault(&r, 14, "#PF", 1, 2, 0x1000a, 0x100000000ULL);
    tc_result_free(&r);
}

static void test_null_read_faults_pf_cr2_0(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("null_read", 0, &r);
    assert_fault(&r, 14, "#PF", 1, 0, 0x10002, 0);
    tc_result_free(&r);
}

static void test_stack_overflow_faults_in_the_guard_and_says_so(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("stack_overflow", 0, &r);
    /* the emulator gives no error code for a page the tables leave out */
    assert_fault(&r, 14, "#PF", 1, th_on_emu() ? 0 : 2, 0x10000, 0xeffff8);
    assert_non_null(strstr(r.message, "stack overflow"));
    tc_result_free(&r);
}

/* ---- mmio, shutdown ------------------------------------------------------ */

static void test_unmapped_write_ends_as_mmio_with_address(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("unmapped", 0, &r);
    th_assert_status(&r, TC_MMIO);
    assert_int_equal(r.mmio.address, 0xc0000000ULL);
    assert_int_equal(r.mmio.write, 1);
    assert_int_equal(r.mmio.size, 4);
    assert_no_output(&r);
    assert_bookkeeping(&r);
    tc_result_free(&r);
}

/* ---- the backends agree (classes found by test_differential) ------------ */

static void test_scas_null_faults_pf_with_its_address(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("scas_null", 0, &r);
    assert_fault(&r, 14, "#PF", 1, 0, 0x10002, 0);
    tc_result_free(&r);
}

static void test_riprel_high_faults_pf_at_the_rip_relative_address(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("riprel_high", 0, &r);
    assert_fault(&r, 14, "#PF", 1, 0, 0x10000, 0xfffffffff0010006ULL);
    tc_result_free(&r);
}

static void test_fnsave_null_faults_at_its_first_store(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("fnsave_null", 0, &r);
    assert_fault(&r, 14, "#PF", 1, 2, 0x10000, 0);
    tc_result_free(&r);
}

static void test_farjmp_reg_is_ud_or_the_emulators_abort(void **state)
{
    static const char unicorn[] = "the emulator (Unicorn) aborted: ";
    struct tc_result r;

    (void)state;
    th_run_guest("farjmp_reg", 0, &r);
    if (th_on_emu()) {
        /* A Unicorn bug (guests/ABI.md), reported as what it is. */
        th_assert_status(&r, TC_INTERNAL_ERROR);
        assert_memory_equal(r.message, unicorn, sizeof(unicorn) - 1);
        assert_int_equal(r.violation_syscall, -1);
        assert_no_output(&r);
    } else {
        assert_fault(&r, 6, "#UD", 0, 0, 0x10000, 0);
    }
    tc_result_free(&r);
}

static void test_lret_mmio_pops_from_the_stack_at_mem(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("lret_mmio", 0, &r);
    th_assert_status(&r, TC_MMIO);
    assert_int_equal(r.mmio.address, TC_DEFAULT_MEM);
    assert_int_equal(r.mmio.write, 0);
    assert_int_equal(r.mmio.size, 4);
    assert_no_output(&r);
    assert_bookkeeping(&r);
    tc_result_free(&r);
}

static void test_ins_fault_ends_at_the_in_before_the_store(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("ins_fault", 0, &r);
    assert_io(&r, 0, 0, 1);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void test_x87_mmio_store_ends_as_mmio_on_both_backends(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("x87_mmio", 0, &r);
    if (!th_on_emu() && (!th_cpu_is_amd() || th_on_pvm())) {
        /* Intel and kvm_pvm: KVM gives no address with the failure
         * (guests/ABI.md). */
        static const char kvm[] = "KVM could not emulate the instruction";
        th_assert_status(&r, TC_INTERNAL_ERROR);
        assert_memory_equal(r.message, kvm, sizeof(kvm) - 1);
        tc_result_free(&r);
        return;
    }
    th_assert_status(&r, TC_MMIO);
    assert_int_equal(r.mmio.address, 0xc0000000ULL);
    assert_int_equal(r.mmio.write, 1);
    /* KVM's emulator cannot decode the store, so its size is unknown. */
    assert_int_equal(r.mmio.size, th_on_emu() ? 2 : 0);
    assert_no_output(&r);
    assert_bookkeeping(&r);
    tc_result_free(&r);
}

static void test_rex_r_mov_is_ok_on_kvm_and_ud_on_the_emulator(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("rex_r_mov", 0, &r);
    if (th_on_emu()) {
        /* Unicorn's quirk (test_differential: emu_grp11_rex_r). */
        assert_fault(&r, 6, "#UD", 0, 0, 0x10004, 0);
    } else {
        th_assert_status(&r, TC_OK);
        assert_int_equal(r.exit_code, 0);
        assert_no_output(&r);
    }
    tc_result_free(&r);
}

static void test_triple_fault_ends_as_shutdown(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("triple_fault", 0, &r);
    th_assert_status(&r, TC_SHUTDOWN);
    assert_no_output(&r);
    assert_bookkeeping(&r);
    tc_result_free(&r);
}

/* Page tables pointing at nothing (guests/ABI.md, "Page tables that point
 * at nothing"): the same status on both backends. CR3 at page 0 ends at
 * once on both (KVM walks zeros there); tables elsewhere outside guest
 * memory end at once on the emulator and at the deadline on KVM, whose
 * walk never completes, with the message saying so. */
static void test_cr3_at_page_0_is_a_triple_fault_at_once(void **state)
{
    static const char msg[] = "triple fault";
    struct tc_result r;

    (void)state;
    th_run_guest("cr3_null", 2000, &r);
    th_assert_status(&r, TC_SHUTDOWN);
    assert_memory_equal(r.message, msg, sizeof(msg) - 1);
    assert_null(strstr(r.message, "deadline"));
    assert_no_output(&r);
    tc_result_free(&r);
}

/* A walk that never completes is found long before the deadline: KVM
 * looks every JAIL_PROBE_CPU_MS of CPU time (sandbox/jail.h), kvm_pvm at
 * its triple fault, the emulator at once. */
#define STUCK_DEADLINE_MS 10000
#define STUCK_FOUND_US    (STUCK_DEADLINE_MS * 1000 / 2)

static void test_page_table_in_unbacked_memory_is_mmio(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("pte_mmio", STUCK_DEADLINE_MS, &r);
    th_assert_status(&r, TC_MMIO);
    assert_true(r.wall_us < STUCK_FOUND_US);
    assert_int_equal(r.mmio.address, 0x40000000ULL);
    assert_int_equal(r.mmio.write, 0);
    /* the emulator reads 4 bytes of the entry; KVM's size is unknown */
    assert_int_equal(r.mmio.size, th_on_emu() ? 4 : 0);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void test_cr3_above_4g_is_a_shutdown(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("cr3_high", STUCK_DEADLINE_MS, &r);
    th_assert_status(&r, TC_SHUTDOWN);
    assert_true(r.wall_us < STUCK_FOUND_US);
    assert_null(strstr(r.message, "deadline"));
    if (!th_on_emu())
        assert_non_null(strstr(r.message, "CR3 0x100000000 point outside "
                                          "guest memory"));
    assert_no_output(&r);
    tc_result_free(&r);
}

/* ---- unhandled_io -------------------------------------------------------- */

static void test_out_to_port_0x80_is_unhandled_io(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("other_port", 0, &r);
    assert_io(&r, 0x80, 1, 1);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void test_in_from_output_port_is_unhandled_io(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("in_port", 0, &r);
    assert_io(&r, 0x10, 0, 1);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void
test_bulk_bad_descriptor_outside_memory_is_unhandled_io(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("bulk_bad", 0, &r);
    assert_io(&r, 0x12, 1, 4);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void test_guest_out_to_reserved_fault_port_is_unhandled_io(void **state)
{
    /* mov $3, %al; out %al, $0x13; hlt: a guest posing as a #BP stub. */
    static const unsigned char code[] = {0xb0, 0x03, 0xe6, 0x13, 0xf4};
    struct tc_result r;

    (void)state;
    th_run_code(code, sizeof(code), 0, &r);
    assert_io(&r, 0x13, 1, 1);
    assert_no_output(&r);
    assert_int_equal(r.fault.vector, 0);
    assert_string_equal(r.fault.name, "");
    tc_result_free(&r);
}

/* ---- refused jobs -------------------------------------------------------- */

static void test_empty_code_is_refused_einval(void **state)
{
    struct tc_job job;
    struct tc_result r;

    (void)state;
    tc_job_init(&job);
    assert_int_equal(tc_run(&job, &r), -EINVAL);
    assert_true(strlen(r.message) > 0);
    assert_no_output(&r);
    tc_result_free(&r);

    /* A non-NULL pointer with length 0 is just as empty. */
    static const unsigned char hlt = 0xf4;
    job.code = &hlt;
    job.code_len = 0;
    assert_int_equal(tc_run(&job, &r), -EINVAL);
    assert_true(strlen(r.message) > 0);
    tc_result_free(&r);
}

static void test_mem_not_multiple_of_4k_is_refused_einval(void **state)
{
    static const unsigned char hlt = 0xf4;
    struct tc_job job;
    struct tc_result r;

    (void)state;
    tc_job_init(&job);
    job.code = &hlt;
    job.code_len = 1;
    job.mem_size = (1ULL << 20) + 1;
    assert_int_equal(tc_run(&job, &r), -EINVAL);
    assert_true(strlen(r.message) > 0);
    assert_no_output(&r);
    tc_result_free(&r);
}

static void test_code_larger_than_memory_is_refused_naming_mem(void **state)
{
    size_t len = 1 << 20;
    unsigned char *code = malloc(len);
    struct tc_job job;
    struct tc_result r;

    (void)state;
    assert_non_null(code);
    memset(code, 0xf4, len);
    tc_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.mem_size = 1ULL << 20;
    int rc = tc_run(&job, &r);
    free(code);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(r.message, "--mem"));
    assert_no_output(&r);
    tc_result_free(&r);
}

/* ---- the SDK guests the benchmark uses, and the child's peak RSS ----------
 */

static void test_hello_sdk_prints_hello_world_in_two_exits(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("hello_sdk", 0, &r);
    assert_ok(&r, 0);
    assert_output(&r, hello_line, HELLO_LEN);
    /* One bulk write and the exit port (crt0's flush has nothing to send);
     * the emulator also counts its final stop. */
    assert_int_equal(r.exits, th_on_emu() ? 3 : 2);
    tc_result_free(&r);
}

static void test_spew_writes_n_pattern_bytes_in_one_exit_per_mib(void **state)
{
    static const char n[] = "3000000";
    struct tc_result r;

    (void)state;
    /* Filling its 1 MiB buffer takes a while on the emulator in the lane. */
    th_run_guest_full("spew", n, strlen(n), 0, 30000, 4ULL << 20, &r);
    assert_ok(&r, 0);
    assert_int_equal(r.output_len, 3000000);
    th_assert_pattern(r.output, r.output_len);
    /* Three bulk writes (1 MiB, 1 MiB, the rest) and the exit port. */
    assert_int_equal(r.exits, th_on_emu() ? 5 : 4);
    tc_result_free(&r);
}

/* 8 MiB touched, less 512 KiB the two jobs' other pages may differ by */
#define RSS_TOUCHED_MIN_KIB (8192 - 512)

static void test_peak_rss_grows_with_guest_memory_touched(void **state)
{
    struct tc_result small, big;

    (void)state;
    th_run_guest("hello_once", 0, &small);
    assert_ok(&small, 0);
    th_run_guest("touch8m", 0, &big);
    assert_ok(&big, 0);
    /* Both children report a peak; touching 8 MiB of guest memory (2048
     * pages) adds about that much to it: less what hello_once's output
     * path touches and touch8m's does not (CI saw 8,064 KiB once). */
    assert_true(small.peak_rss_kib > 0);
    if (big.peak_rss_kib < small.peak_rss_kib + RSS_TOUCHED_MIN_KIB)
        print_error("peak RSS %llu KiB after touching 8 MiB, %llu KiB for "
                    "hello_once\n",
                    (unsigned long long)big.peak_rss_kib,
                    (unsigned long long)small.peak_rss_kib);
    assert_true(big.peak_rss_kib >= small.peak_rss_kib + RSS_TOUCHED_MIN_KIB);
    tc_result_free(&small);
    tc_result_free(&big);
}

/* Whether process pid (0: this one) has libunicorn mapped. */
static int unicorn_mapped(pid_t pid)
{
    char line[512], path[64];
    int found = 0;
    FILE *f;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/maps");
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        found |= strstr(line, "/libunicorn.so") != NULL;
    fclose(f);
    return found;
}

static void test_unicorn_is_loaded_by_the_emulator_zygote_only(void **state)
{
    struct tc_result r;
    struct tc_job job;
    size_t len;
    unsigned char *code = th_load_guest("hello_once", &len);

    (void)state;
    tc_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.backend = TC_BACKEND_EMU;
    assert_int_equal(tc_run(&job, &r), 0);
    free(code);
    th_assert_status(&r, TC_OK);
    assert_string_equal(r.backend, "emu");
    assert_int_equal(r.output_len, HELLO_LEN);
    tc_result_free(&r);
    /* The emulator's zygote has Unicorn; the caller never maps it, and the
     * KVM zygote (whose children run every KVM job) does not either. */
    assert_true(unicorn_mapped(zygote_pid(SBX_BACKEND_EMU)));
    assert_false(unicorn_mapped(0));
    if (!th_on_emu())
        assert_false(unicorn_mapped(zygote_pid(SBX_BACKEND_KVM)));
}

int main(void)
{
    th_test_setup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_once_prints_hello_world_and_exits_0),
        cmocka_unit_test(test_exit42_exits_42_without_output),
        cmocka_unit_test(test_exit_code_dword_reports_all_32_bits),
        cmocka_unit_test(test_outw_outl_append_little_endian_bytes),
        cmocka_unit_test(test_cpuid_shows_the_abis_table_on_every_backend),
        cmocka_unit_test(test_outsb64k_rep_outsb_delivers_65536_pattern_bytes),
        cmocka_unit_test(test_bulk1m_one_bulk_write_of_1mib_in_few_exits),
        cmocka_unit_test(test_echo_returns_binary_input_unchanged),
        cmocka_unit_test(test_echo_with_empty_input_is_ok_and_empty),
        cmocka_unit_test(test_hello_times_out_with_whole_hello_lines),
        cmocka_unit_test(test_spin_times_out_without_output),
        cmocka_unit_test(test_flood_stops_at_max_output_1000_exactly),
        cmocka_unit_test(test_flood_stops_at_default_1mib_exactly),
        cmocka_unit_test(test_ud2_faults_ud_at_entry),
        cmocka_unit_test(test_div0_faults_de_at_the_div),
        cmocka_unit_test(test_int3_traps_bp_with_rip_after_it),
        cmocka_unit_test(test_gp_noncanonical_load_faults_gp_error_0),
        cmocka_unit_test(test_pf_high_write_above_4gib_faults_pf_write),
        cmocka_unit_test(test_null_read_faults_pf_cr2_0),
        cmocka_unit_test(test_stack_overflow_faults_in_the_guard_and_says_so),
        cmocka_unit_test(test_unmapped_write_ends_as_mmio_with_address),
        cmocka_unit_test(test_scas_null_faults_pf_with_its_address),
        cmocka_unit_test(
            test_riprel_high_faults_pf_at_the_rip_relative_address),
        cmocka_unit_test(test_fnsave_null_faults_at_its_first_store),
        cmocka_unit_test(test_farjmp_reg_is_ud_or_the_emulators_abort),
        cmocka_unit_test(test_lret_mmio_pops_from_the_stack_at_mem),
        cmocka_unit_test(test_ins_fault_ends_at_the_in_before_the_store),
        cmocka_unit_test(test_x87_mmio_store_ends_as_mmio_on_both_backends),
        cmocka_unit_test(test_rex_r_mov_is_ok_on_kvm_and_ud_on_the_emulator),
        cmocka_unit_test(test_triple_fault_ends_as_shutdown),
        cmocka_unit_test(test_cr3_at_page_0_is_a_triple_fault_at_once),
        cmocka_unit_test(test_page_table_in_unbacked_memory_is_mmio),
        cmocka_unit_test(test_cr3_above_4g_is_a_shutdown),
        cmocka_unit_test(test_out_to_port_0x80_is_unhandled_io),
        cmocka_unit_test(test_in_from_output_port_is_unhandled_io),
        cmocka_unit_test(
            test_bulk_bad_descriptor_outside_memory_is_unhandled_io),
        cmocka_unit_test(test_guest_out_to_reserved_fault_port_is_unhandled_io),
        cmocka_unit_test(test_empty_code_is_refused_einval),
        cmocka_unit_test(test_mem_not_multiple_of_4k_is_refused_einval),
        cmocka_unit_test(test_code_larger_than_memory_is_refused_naming_mem),
        cmocka_unit_test(test_hello_sdk_prints_hello_world_in_two_exits),
        cmocka_unit_test(test_spew_writes_n_pattern_bytes_in_one_exit_per_mib),
        cmocka_unit_test(test_peak_rss_grows_with_guest_memory_touched),
        /* Last: it loads Unicorn into this process. */
        cmocka_unit_test(test_unicorn_is_loaded_by_the_emulator_zygote_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
