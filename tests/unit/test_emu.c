/* test_emu.c - what only the emulator backend does: a deterministic
 * instruction limit (insn_limit), and the refusal of that limit on KVM.
 * Runs on the host: the emulator needs no KVM. The guest corpus itself runs
 * on the emulator through test_guests/test_examples (see tests/run-unit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "../api/tincan.h"

/* mov $'A', %al; 1: out %al, $0x10; jmp 1b */
static const unsigned char out_loop[] = {0xb0, 0x41, 0xe6, 0x10, 0xeb, 0xfc};

static void run_limited(uint64_t max_insns, enum tc_backend b,
                        struct tc_result *r, int want_rc)
{
    struct tc_job job;

    tc_job_init(&job);
    job.code = out_loop;
    job.code_len = sizeof(out_loop);
    job.backend = b;
    job.max_insns = max_insns;
    job.timeout_ms = 10000;
    assert_int_equal(tc_run(&job, r), want_rc);
}

static void
test_max_insns_1000_ends_in_insn_limit_with_the_same_output_twice(void **state)
{
    struct tc_result a, b;

    (void)state;
    run_limited(1000, TC_BACKEND_EMU, &a, 0);
    run_limited(1000, TC_BACKEND_EMU, &b, 0);
    assert_int_equal(a.status, TC_INSN_LIMIT);
    assert_string_equal(tc_status_name(a.status), "insn_limit");
    assert_string_equal(a.backend, "emu");
    /* 1 mov, then 999 insns alternate out/jmp: 500 OUTs of 'A'. */
    assert_int_equal(a.output_len, 500);
    assert_int_equal(b.status, TC_INSN_LIMIT);
    assert_int_equal(b.output_len, a.output_len);
    assert_memory_equal(b.output, a.output, a.output_len);
    assert_string_equal(b.message, a.message);
    tc_result_free(&a);
    tc_result_free(&b);
}

static void test_max_insns_is_refused_on_kvm(void **state)
{
    struct tc_result r;

    (void)state;
    run_limited(1000, TC_BACKEND_KVM, &r, -EINVAL);
    assert_non_null(strstr(r.message, "emulator"));
    assert_int_equal(r.output_len, 0);
    tc_result_free(&r);
}

static void test_auto_with_max_insns_runs_on_the_emulator(void **state)
{
    struct tc_result r;

    (void)state;
    run_limited(3, TC_BACKEND_AUTO, &r, 0);
    assert_int_equal(r.status, TC_INSN_LIMIT);
    assert_string_equal(r.backend, "emu");
    assert_int_equal(r.output_len, 1);
    tc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_max_insns_1000_ends_in_insn_limit_with_the_same_output_twice),
        cmocka_unit_test(test_max_insns_is_refused_on_kvm),
        cmocka_unit_test(test_auto_with_max_insns_runs_on_the_emulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
