/* test_feedback.c - fuzzing feedback from the emulator through tc_run():
 * the AFL-style edge map at the indices its hash gives, the compare log
 * (operands masked to their size, per-site and per-job caps, equal operands
 * left out), refusals on KVM; and that the parent reads a forged feedback
 * region (a huge record count, bad sizes) only within the job's own caps.
 * Runs on the host: the emulator needs no KVM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../api/tincan.h"
#include "../runner/job.h"

#define ENTRY 0x10000ULL

/* The map index of a block at addr entered after a block hashed prev, as
 * the emulator computes it (sandbox/emu_cov.c, AFL's QEMU mode). */
static uint64_t block_hash(uint64_t addr)
{
    return ((addr >> 4) ^ (addr << 8)) & (TC_COVERAGE_MAP_SIZE - 1);
}

static int run_fb(const unsigned char *code, size_t len, const char *input,
                  int coverage, unsigned max_cmps, enum tc_backend b,
                  struct tc_result *r)
{
    struct tc_job job;

    tc_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.input = input;
    job.input_len = input ? strlen(input) : 0;
    job.backend = b;
    job.timeout_ms = 10000;
    job.coverage = coverage;
    job.max_cmps = max_cmps;
    return tc_run(&job, r);
}

/* mov $5, %ecx; 1: dec %ecx; jnz 1b; hlt */
static const unsigned char loop5[] = {0xb9, 0x05, 0x00, 0x00, 0x00,
                                      0xff, 0xc9, 0x75, 0xfc, 0xf4};

static void test_coverage_counts_each_edge_at_its_afl_index(void **state)
{
    struct tc_result r;
    uint64_t a = block_hash(ENTRY), l = block_hash(ENTRY + 5),
             h = block_hash(ENTRY + 9);
    unsigned total = 0;

    (void)state;
    assert_int_equal(
        run_fb(loop5, sizeof(loop5), NULL, 1, 0, TC_BACKEND_EMU, &r), 0);
    assert_int_equal(r.status, TC_OK);
    assert_non_null(r.coverage);
    assert_null(r.cmps);
    /* entry -> [mov dec jnz] once, -> [dec jnz] once, [dec jnz] -> itself
     * three times, -> [hlt] once: six blocks, four edges. */
    assert_int_equal(r.coverage[a], 1);
    assert_int_equal(r.coverage[(a >> 1) ^ l], 1);
    assert_int_equal(r.coverage[(l >> 1) ^ l], 3);
    assert_int_equal(r.coverage[(l >> 1) ^ h], 1);
    for (size_t i = 0; i < TC_COVERAGE_MAP_SIZE; i++)
        total += r.coverage[i];
    assert_int_equal(total, 6);
    tc_result_free(&r);
    assert_null(r.coverage);
}

/* mov (%rdi), %eax; cmp $0xdeadbeef, %eax; cmp $0x41, %al;
 * cmp $-1, %ax; cmp %rsi, %rax; cmp $4, %rsi; hlt */
static const unsigned char compares[] = {
    0x8b, 0x07,                   /* 0x10000 mov (%rdi), %eax */
    0x3d, 0xef, 0xbe, 0xad, 0xde, /* 0x10002 cmp $0xdeadbeef, %eax */
    0x3c, 0x41,                   /* 0x10007 cmp $0x41, %al */
    0x66, 0x83, 0xf8, 0xff,       /* 0x10009 cmp $-1, %ax */
    0x48, 0x39, 0xf0,             /* 0x1000d cmp %rsi, %rax */
    0x48, 0x83, 0xfe, 0x04,       /* 0x10010 cmp $4, %rsi: equal */
    0xf4,
};

static void test_cmp_log_gives_operands_masked_to_their_size(void **state)
{
    static const struct tc_cmp want[] = {
        {ENTRY + 0x2, 0x44434241, 0xdeadbeef, 4},
        {ENTRY + 0x9, 0x4241, 0xffff, 2},
        {ENTRY + 0xd, 0x44434241, 4, 8},
    };
    struct tc_result r;

    (void)state;
    /* "ABCD": al is 0x41, equal to its compare: not logged; so the
     * records are the dword, the word, and the quadword compares. */
    assert_int_equal(
        run_fb(compares, sizeof(compares), "ABCD", 0, 16, TC_BACKEND_EMU, &r),
        0);
    assert_int_equal(r.status, TC_OK);
    assert_null(r.coverage);
    assert_int_equal(r.cmps_len, 3);
    for (size_t i = 0; i < r.cmps_len; i++) {
        assert_int_equal(r.cmps[i].rip, want[i].rip);
        assert_int_equal(r.cmps[i].a, want[i].a);
        assert_int_equal(r.cmps[i].b, want[i].b);
        assert_int_equal(r.cmps[i].size, want[i].size);
    }
    tc_result_free(&r);
}

/* xor %ecx, %ecx; 1: inc %ecx; cmp $20, %ecx; jne 1b; hlt */
static const unsigned char count20[] = {0x31, 0xc9, 0xff, 0xc1, 0x83,
                                        0xf9, 0x14, 0x75, 0xf9, 0xf4};

static void test_cmp_log_keeps_at_most_8_records_per_site(void **state)
{
    struct tc_result r;

    (void)state;
    assert_int_equal(
        run_fb(count20, sizeof(count20), NULL, 0, 64, TC_BACKEND_EMU, &r), 0);
    assert_int_equal(r.status, TC_OK);
    /* 20 compares at one site, the last equal: the first 8 are kept. */
    assert_int_equal(r.cmps_len, TC_CMPS_PER_SITE);
    for (unsigned i = 0; i < r.cmps_len; i++) {
        assert_int_equal(r.cmps[i].rip, ENTRY + 4);
        assert_int_equal(r.cmps[i].a, i + 1);
        assert_int_equal(r.cmps[i].b, 20);
        assert_int_equal(r.cmps[i].size, 4);
    }
    tc_result_free(&r);
}

static void test_max_cmps_caps_the_log(void **state)
{
    struct tc_result r;

    (void)state;
    assert_int_equal(
        run_fb(compares, sizeof(compares), "ABCD", 0, 2, TC_BACKEND_EMU, &r),
        0);
    assert_int_equal(r.cmps_len, 2);
    assert_int_equal(r.cmps[1].rip, ENTRY + 0x9);
    tc_result_free(&r);
}

static void test_coverage_and_cmps_are_refused_on_kvm(void **state)
{
    struct tc_result r;

    (void)state;
    assert_int_equal(
        run_fb(loop5, sizeof(loop5), NULL, 1, 0, TC_BACKEND_KVM, &r), -EINVAL);
    assert_non_null(strstr(r.message, "need the emulator backend"));
    tc_result_free(&r);
    assert_int_equal(
        run_fb(loop5, sizeof(loop5), NULL, 0, 1, TC_BACKEND_KVM, &r), -EINVAL);
    tc_result_free(&r);
}

static void test_max_cmps_over_4096_is_refused(void **state)
{
    struct tc_result r;

    (void)state;
    assert_int_equal(run_fb(loop5, sizeof(loop5), NULL, 0, TC_MAX_CMPS + 1,
                            TC_BACKEND_EMU, &r),
                     -EINVAL);
    assert_string_equal(r.message, "max_cmps 4097 is over the most, 4096");
    tc_result_free(&r);
}

static void test_auto_backend_with_coverage_runs_on_the_emulator(void **state)
{
    struct tc_result r;

    (void)state;
    assert_int_equal(
        run_fb(loop5, sizeof(loop5), NULL, 1, 0, TC_BACKEND_AUTO, &r), 0);
    assert_string_equal(r.backend, "emu");
    assert_non_null(r.coverage);
    tc_result_free(&r);
}

static void test_a_job_without_feedback_has_no_map_or_log(void **state)
{
    struct tc_result r;

    (void)state;
    assert_int_equal(
        run_fb(compares, sizeof(compares), "ABCD", 0, 0, TC_BACKEND_EMU, &r),
        0);
    assert_int_equal(r.status, TC_OK);
    assert_null(r.coverage);
    assert_null(r.cmps);
    assert_int_equal(r.cmps_len, 0);
    tc_result_free(&r);
}

/* A child that writes a forged feedback region: a record count far past
 * any capacity, records of sizes 3 and 0 between good ones. */
#define FORGE_OUT 100
static void forge_child(void *arg, struct sbx_report *rep)
{
    struct sbx_feedback *fb =
        (struct sbx_feedback *)((uint8_t *)rep +
                                sbx_feedback_offset(FORGE_OUT, 0));
    static const struct sbx_cmp recs[] = {
        {.rip = 1, .a = 0x1122334455667788ULL, .b = 2, .size = 4},
        {.rip = 2, .a = 1, .b = 2, .size = 3},
        {.rip = 3, .a = 0xffff, .b = 0x1ff, .size = 1},
        {.rip = 4, .a = 1, .b = 2, .size = 0},
    };

    (void)arg;
    memcpy(fb->cmps, recs, sizeof(recs));
    fb->cmp_len = UINT32_MAX;
    _exit(0);
}

static void test_a_forged_cmp_count_is_clamped_and_bad_sizes_dropped(void **s)
{
    struct job_limits lim = {.timeout_ms = 10000,
                             .max_output = FORGE_OUT,
                             .feedback_size = sbx_feedback_size(4)};
    struct job_outcome o;
    struct sbx_cmp c;
    char err[256];

    (void)s;
    assert_int_equal(job_run(forge_child, NULL, &lim, &o, err, sizeof(err)), 0);
    assert_non_null(o.feedback);
    assert_true(o.rep_size >=
                sbx_feedback_offset(FORGE_OUT, 0) + lim.feedback_size);
    assert_int_equal(job_feedback_cmp_count(&o, 4), 4);
    assert_int_equal(job_feedback_cmp(&o, 0, &c), 0);
    assert_int_equal(c.a, 0x55667788);
    assert_int_equal(job_feedback_cmp(&o, 1, &c), -EINVAL);
    assert_int_equal(job_feedback_cmp(&o, 2, &c), 0);
    assert_int_equal(c.a, 0xff);
    assert_int_equal(c.b, 0xff);
    assert_int_equal(job_feedback_cmp(&o, 3, &c), -EINVAL);
    job_outcome_release(&o);
    assert_null(o.feedback);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coverage_counts_each_edge_at_its_afl_index),
        cmocka_unit_test(test_cmp_log_gives_operands_masked_to_their_size),
        cmocka_unit_test(test_cmp_log_keeps_at_most_8_records_per_site),
        cmocka_unit_test(test_max_cmps_caps_the_log),
        cmocka_unit_test(test_coverage_and_cmps_are_refused_on_kvm),
        cmocka_unit_test(test_max_cmps_over_4096_is_refused),
        cmocka_unit_test(test_auto_backend_with_coverage_runs_on_the_emulator),
        cmocka_unit_test(test_a_job_without_feedback_has_no_map_or_log),
        cmocka_unit_test(
            test_a_forged_cmp_count_is_clamped_and_bad_sizes_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
