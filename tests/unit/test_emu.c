/* test_emu.c - what only the emulator backend does: a deterministic
 * instruction limit (insn_limit), and the refusal of that limit on KVM;
 * and that jobs started from the parent's template machine never see what
 * an earlier job did to its memory.
 * Runs on the host: the emulator needs no KVM. The guest corpus itself runs
 * on the emulator through test_guests/test_examples (see tests/run-unit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../api/tincan.h"
#include "../runner/image.h"
#include "../sandbox/boot.h"

/* mov $'A', %al; 1: out %al, $0x10; jmp 1b */
static const unsigned char out_loop[] = {0xb0, 0x41, 0xe6, 0x10, 0xeb, 0xfc};

/* tc_run() of code with a 10 s deadline; mem_size 0: the default. */
static int run_code(const unsigned char *code, size_t len, enum tc_backend b,
                    uint64_t mem_size, uint64_t max_insns, struct tc_result *r)
{
    struct tc_job job;

    tc_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.backend = b;
    if (mem_size)
        job.mem_size = mem_size;
    job.max_insns = max_insns;
    job.timeout_ms = 10000;
    return tc_run(&job, r);
}

static void run_limited(uint64_t max_insns, enum tc_backend b,
                        struct tc_result *r, int want_rc)
{
    assert_int_equal(run_code(out_loop, sizeof(out_loop), b, 0, max_insns, r),
                     want_rc);
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

#define SMALL_MEM (1U << 20) /* both jobs: the same template */
#define PAGE      0x1000U

/* Fills [0x11000, MEM) with 0xCC, then [0x1000, 0x10000): GDT, IDT, stubs,
 * page tables, until the broken tables stop it. */
static const unsigned char scribbler[] = {
    0xbf, 0x00, 0x10, 0x01, 0x00, /* mov $0x11000, %edi */
    0xb9, 0x00, 0xf0, 0x0e, 0x00, /* mov $(MEM - 0x11000), %ecx */
    0xb0, 0xcc,                   /* mov $0xcc, %al */
    0xf3, 0xaa,                   /* rep stosb */
    0xbf, 0x00, 0x10, 0x00, 0x00, /* mov $0x1000, %edi */
    0xb9, 0x00, 0xf0, 0x00, 0x00, /* mov $0xf000, %ecx */
    0xf3, 0xaa,                   /* rep stosb */
    0xf4,                         /* hlt */
};

/* Writes out the boot image, the page after its own code and the page
 * below the stack's: three bulk writes through descriptors at 0x10018. */
static const unsigned char looker[] = {
    0xb8,
    0x18,
    0x00,
    0x01,
    0x00,
    0xe7,
    0x12, /* mov $d1, %eax; out $0x12 */
    0xb8,
    0x28,
    0x00,
    0x01,
    0x00,
    0xe7,
    0x12, /* mov $d2, %eax; out $0x12 */
    0xb8,
    0x38,
    0x00,
    0x01,
    0x00,
    0xe7,
    0x12, /* mov $d3, %eax; out $0x12 */
    0xf4,
    0x90,
    0x90, /* hlt; pad to 0x10018 */
    /* d1: {0x1000, BOOT_IMAGE_SIZE} */
    0x00,
    0x10,
    0,
    0,
    0,
    0,
    0,
    0,
    0x00,
    0xb0,
    0,
    0,
    0,
    0,
    0,
    0,
    /* d2: {0x11000, 0x1000} */
    0x00,
    0x10,
    0x01,
    0,
    0,
    0,
    0,
    0,
    0x00,
    0x10,
    0,
    0,
    0,
    0,
    0,
    0,
    /* d3: {MEM - 0x2000, 0x1000} */
    0x00,
    0xe0,
    0x0f,
    0,
    0,
    0,
    0,
    0,
    0x00,
    0x10,
    0,
    0,
    0,
    0,
    0,
    0,
};

static void run_small(const unsigned char *code, size_t len,
                      struct tc_result *r)
{
    assert_int_equal(run_code(code, len, TC_BACKEND_EMU, SMALL_MEM, 0, r), 0);
}

static void
test_a_scribbling_job_leaves_the_next_job_a_pristine_machine(void **state)
{
    static uint8_t image[BOOT_IMAGE_SIZE], zeros[PAGE];
    static uint8_t mem[TINCAN_RESERVED_END];
    struct tc_result a, b;

    (void)state;
    assert_int_equal(BOOT_IMAGE_SIZE, 0xb000);
    run_small(scribbler, sizeof(scribbler), &a);
    /* The first write through the broken page tables faults, through an
     * IDT that is broken too: a fault or a triple fault, never ok. */
    assert_true(a.status == TC_FAULT || a.status == TC_SHUTDOWN);
    run_small(looker, sizeof(looker), &b);
    assert_int_equal(b.status, TC_OK);
    assert_int_equal(b.output_len, BOOT_IMAGE_SIZE + 2 * PAGE);
    /* The image as every job gets it: with that job's own stack guard. */
    boot_build_image(image);
    memcpy(mem + BOOT_IMAGE_BASE, image, BOOT_IMAGE_SIZE);
    assert_int_equal(
        boot_guard(mem, image_sdk_guard(SMALL_MEM), TINCAN_GUARD_SIZE), 0);
    assert_memory_equal(b.output, mem + BOOT_IMAGE_BASE, BOOT_IMAGE_SIZE);
    assert_memory_equal(b.output + BOOT_IMAGE_SIZE, zeros, PAGE);
    assert_memory_equal(b.output + BOOT_IMAGE_SIZE + PAGE, zeros, PAGE);
    tc_result_free(&a);
    tc_result_free(&b);
}

#define SIZES_JOBS 12

/* Each thread cycles through three memory sizes, one more than the parent
 * keeps templates for: builds, evictions and templates in use by the other
 * thread's fork all happen. */
static void *run_sizes(void *arg)
{
    static const unsigned char hello[] = {0xb0, 0x41, 0xe6, 0x10, 0xf4};
    intptr_t first = (intptr_t)arg, bad = 0;

    for (int i = 0; i < SIZES_JOBS; i++) {
        uint64_t mem = (uint64_t)((first + i) % 3 + 1) << 20;
        struct tc_result r;

        if (run_code(hello, sizeof(hello), TC_BACKEND_EMU, mem, 0, &r) != 0 ||
            r.status != TC_OK || r.output_len != 1 || r.output[0] != 'A')
            bad++;
        tc_result_free(&r);
    }
    return (void *)bad;
}

static void test_three_memory_sizes_from_two_threads_all_run(void **state)
{
    pthread_t t[2];
    void *bad[2];

    (void)state;
#ifdef __SANITIZE_ADDRESS__
    /* GCC's ASan allocator is not fork-safe (see tests/integration/
     * batch.sh): a child forked while the other thread holds its lock
     * blocks in malloc. */
    skip();
#endif
    for (intptr_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_sizes, (void *)i), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], &bad[i]), 0);
    assert_int_equal((intptr_t)bad[0], 0);
    assert_int_equal((intptr_t)bad[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_max_insns_1000_ends_in_insn_limit_with_the_same_output_twice),
        cmocka_unit_test(test_max_insns_is_refused_on_kvm),
        cmocka_unit_test(test_auto_with_max_insns_runs_on_the_emulator),
        cmocka_unit_test(
            test_a_scribbling_job_leaves_the_next_job_a_pristine_machine),
        cmocka_unit_test(test_three_memory_sizes_from_two_threads_all_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
