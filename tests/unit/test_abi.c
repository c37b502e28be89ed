/* test_abi.c - the host side of the guest ABI over a fake guest memory: every
 * port, the output limit, and every guest-supplied address and length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox/abi.h"
#include "tincan_abi.h"

#define MEM (1u << 20)
#define CAP 64

struct fixture {
    struct abi_guest g;
    struct sbx_report *rep;
    uint64_t rip, rsp, cr2;
};

static int read_cpu(void *ctx, uint64_t *rip, uint64_t *rsp, uint64_t *cr2)
{
    struct fixture *f = ctx;

    *rip = f->rip;
    *rsp = f->rsp;
    *cr2 = f->cr2;
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->rep = calloc(1, sbx_report_size(CAP, CAP));
    f->rep->out_cap = CAP;
    f->rep->err_cap = CAP;
    f->g.mem = calloc(1, MEM);
    f->g.mem_size = MEM;
    f->g.rep = f->rep;
    f->g.cpu.read = read_cpu;
    f->g.cpu.ctx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    free(f->g.mem);
    free(f->rep);
    free(f);
    return 0;
}

static void desc(struct fixture *f, uint32_t at, uint64_t addr, uint64_t len)
{
    memcpy(f->g.mem + at, &addr, 8);
    memcpy(f->g.mem + at + 8, &len, 8);
}

static int bulk(struct fixture *f, uint32_t at)
{
    return abi_out(&f->g, TINCAN_PORT_WRITE, 4, 1, (const uint8_t *)&at);
}

static void test_range_check_is_overflow_safe(void **state)
{
    struct fixture *f = *state;

    assert_true(abi_range_ok(&f->g, 0x1000, MEM - 0x1000));
    assert_true(abi_range_ok(&f->g, MEM, 0));
    assert_false(abi_range_ok(&f->g, 0xFFF, 1));
    assert_false(abi_range_ok(&f->g, 0, 0));
    assert_false(abi_range_ok(&f->g, 0x1000, MEM - 0x1000 + 1));
    assert_false(abi_range_ok(&f->g, MEM - 1, 2));
    assert_false(abi_range_ok(&f->g, 0x2000, UINT64_MAX - 0x1000));
    assert_false(abi_range_ok(&f->g, UINT64_MAX, 2));
}

static void test_output_port_appends_every_byte_little_endian(void **state)
{
    struct fixture *f = *state;
    uint32_t w = 0x44434241;

    assert_int_equal(
        abi_out(&f->g, TINCAN_PORT_OUTPUT, 1, 1, (const uint8_t *)"x"),
        ABI_CONTINUE);
    assert_int_equal(
        abi_out(&f->g, TINCAN_PORT_OUTPUT, 4, 1, (const uint8_t *)&w),
        ABI_CONTINUE);
    assert_int_equal(
        abi_out(&f->g, TINCAN_PORT_OUTPUT, 2, 3, (const uint8_t *)"abcdef"),
        ABI_CONTINUE);
    assert_int_equal(f->rep->out_len, 11);
    assert_memory_equal(f->rep->out, "xABCDabcdef", 11);
    assert_int_equal(f->rep->done, 0);
}

static void test_output_limit_keeps_exactly_the_first_bytes(void **state)
{
    struct fixture *f = *state;
    uint8_t big[CAP + 10];

    memset(big, 'z', sizeof(big));
    assert_int_equal(abi_out(&f->g, TINCAN_PORT_OUTPUT, 1, CAP, big),
                     ABI_CONTINUE); /* exactly at the limit: still fine */
    assert_int_equal(abi_out(&f->g, TINCAN_PORT_OUTPUT, 1, 1, big), ABI_END);
    assert_int_equal(f->rep->status, SBX_OUTPUT_LIMIT);
    assert_int_equal(f->rep->out_len, CAP);
}

static void test_bulk_write_copies_the_range_in_one_go(void **state)
{
    struct fixture *f = *state;

    memcpy(f->g.mem + 0x20000, "hello, bulk", 11);
    desc(f, 0x5000, 0x20000, 11);
    assert_int_equal(bulk(f, 0x5000), ABI_CONTINUE);
    desc(f, 0x5000, 0x20000, 0); /* zero length: nothing, no end */
    assert_int_equal(bulk(f, 0x5000), ABI_CONTINUE);
    desc(f, 0x5000, MEM - 1, 1); /* last byte of memory */
    f->g.mem[MEM - 1] = '!';
    assert_int_equal(bulk(f, 0x5000), ABI_CONTINUE);
    assert_int_equal(f->rep->out_len, 12);
    assert_memory_equal(f->rep->out, "hello, bulk!", 12);
}

static void bulk_refused(struct fixture *f, uint32_t at, const char *needle)
{
    f->rep->done = 0; /* a fresh job for each case: the first end is final */
    assert_int_equal(bulk(f, at), ABI_END);
    assert_int_equal(f->rep->status, SBX_UNHANDLED_IO);
    assert_int_equal(f->rep->io.port, TINCAN_PORT_WRITE);
    assert_int_equal(f->rep->out_len, 0);
    assert_non_null(strstr(f->rep->message, needle));
}

static void test_bulk_write_outside_memory_ends_the_job(void **state)
{
    struct fixture *f = *state;

    desc(f, 0x5000, 0x1000, MEM); /* the whole guest size from 0x1000 */
    bulk_refused(f, 0x5000, "outside guest memory");
    desc(f, 0x5000, 0x2000, UINT64_MAX - 0x1000); /* wraps past 2^64 */
    bulk_refused(f, 0x5000, "outside guest memory");
    desc(f, 0x5000, 0, 16); /* the null page */
    bulk_refused(f, 0x5000, "outside guest memory");
    desc(f, 0x5000, MEM - 15, 16);
    bulk_refused(f, 0x5000, "outside guest memory");
    bulk_refused(f, MEM - 8, "descriptor lies outside");
    bulk_refused(f, 0x800, "descriptor lies outside");
}

static void test_bulk_write_must_be_one_outl(void **state)
{
    struct fixture *f = *state;
    uint32_t at = 0x5000;

    assert_int_equal(
        abi_out(&f->g, TINCAN_PORT_WRITE, 1, 1, (const uint8_t *)&at), ABI_END);
    assert_int_equal(f->rep->status, SBX_UNHANDLED_IO);
    assert_int_equal(f->rep->io.size, 1);
    assert_non_null(strstr(f->rep->message, "outl"));
}

static void test_exit_port_takes_the_whole_value(void **state)
{
    struct fixture *f = *state;
    uint32_t code = 0x12345678;

    assert_int_equal(
        abi_out(&f->g, TINCAN_PORT_EXIT, 4, 1, (const uint8_t *)&code),
        ABI_END);
    assert_int_equal(f->rep->status, SBX_OK);
    assert_int_equal(f->rep->exit_code, 0x12345678);
    assert_int_equal(f->rep->done, 1);
}

static void test_other_ports_and_in_are_unhandled(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(abi_out(&f->g, 0x80, 2, 1, (const uint8_t *)"ab"),
                     ABI_END);
    assert_int_equal(f->rep->status, SBX_UNHANDLED_IO);
    assert_int_equal(f->rep->io.port, 0x80);
    assert_int_equal(f->rep->io.out, 1);
    assert_int_equal(f->rep->io.size, 2);
    assert_string_equal(f->rep->message, "OUT of 2 bytes to port 0x80");
    f->rep->done = 0; /* a fresh job: the first end is final */
    assert_int_equal(abi_in(&f->g, TINCAN_PORT_OUTPUT, 1, 1), ABI_END);
    assert_int_equal(f->rep->io.out, 0);
    assert_string_equal(f->rep->message, "IN of 1 byte from port 0x10");
}

static void test_fault_report_reads_the_stub_frame(void **state)
{
    struct fixture *f = *state;
    uint64_t frame[2] = {0x2, 0x1000a}; /* error code, rip */
    uint8_t vec = 14;

    memcpy(f->g.mem + 0xBFD8, frame, sizeof(frame));
    f->rsp = 0xBFD8;
    f->rip = TINCAN_STUBS_ADDR + 14 * 8 + 5;
    f->cr2 = 0x100000000;
    assert_int_equal(abi_out(&f->g, TINCAN_PORT_FAULT, 1, 1, &vec), ABI_END);
    assert_int_equal(f->rep->status, SBX_FAULT);
    assert_int_equal(f->rep->fault.vector, 14);
    assert_string_equal(f->rep->fault.name, "#PF");
    assert_int_equal(f->rep->fault.error_code, 2);
    assert_int_equal(f->rep->fault.rip, 0x1000a);
    assert_int_equal(f->rep->fault.cr2, 0x100000000);
    assert_string_equal(f->rep->message,
                        "#PF (vector 14) at rip 0x1000a, address "
                        "0x100000000, error code 0x2");
}

static void test_fault_port_from_guest_code_is_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t vec = 3;

    f->rip = TINCAN_ENTRY + 4;
    assert_int_equal(abi_out(&f->g, TINCAN_PORT_FAULT, 1, 1, &vec), ABI_END);
    assert_int_equal(f->rep->status, SBX_UNHANDLED_IO);
    assert_int_equal(f->rep->io.port, TINCAN_PORT_FAULT);
}

static void test_mmio_reports_address_size_and_direction(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(abi_mmio(&f->g, 0xC0000000, 4, 1), ABI_END);
    assert_int_equal(f->rep->status, SBX_MMIO);
    assert_int_equal(f->rep->mmio.address, 0xC0000000);
    assert_int_equal(f->rep->mmio.size, 4);
    assert_int_equal(f->rep->mmio.write, 1);
    assert_string_equal(f->rep->message,
                        "write of 4 bytes at 0xc0000000, outside guest "
                        "memory [0x1000, 0x100000)");
}

static void test_nothing_changes_after_the_job_has_ended(void **state)
{
    struct fixture *f = *state;
    uint8_t code = 42;

    assert_int_equal(abi_out(&f->g, TINCAN_PORT_EXIT, 1, 1, &code), ABI_END);
    assert_int_equal(
        abi_out(&f->g, TINCAN_PORT_OUTPUT, 1, 1, (const uint8_t *)"x"),
        ABI_END);
    assert_int_equal(abi_mmio(&f->g, 0xC0000000, 4, 1), ABI_END);
    assert_int_equal(abi_in(&f->g, 0x10, 1, 1), ABI_END);
    assert_int_equal(abi_halt(&f->g), ABI_END);
    assert_int_equal(f->rep->status, SBX_OK);
    assert_int_equal(f->rep->exit_code, 42);
    assert_int_equal(f->rep->out_len, 0);
    assert_string_equal(f->rep->message, "exited with code 42");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_range_check_is_overflow_safe),
        T(test_output_port_appends_every_byte_little_endian),
        T(test_output_limit_keeps_exactly_the_first_bytes),
        T(test_bulk_write_copies_the_range_in_one_go),
        T(test_bulk_write_outside_memory_ends_the_job),
        T(test_bulk_write_must_be_one_outl),
        T(test_exit_port_takes_the_whole_value),
        T(test_other_ports_and_in_are_unhandled),
        T(test_fault_report_reads_the_stub_frame),
        T(test_fault_port_from_guest_code_is_refused),
        T(test_mmio_reports_address_size_and_direction),
        T(test_nothing_changes_after_the_job_has_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
