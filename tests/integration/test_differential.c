/* test_differential.c - random code on both backends: 2,000 blobs from a
 * seeded generator (random bytes, and random sequences of valid
 * instructions), each run on KVM and on the emulator with a short timeout.
 * Each must end in time with a defined status on both; where the backends
 * disagree the test prints the seed, the blob and both results.
 * TINCAN_DIFF_SEED and TINCAN_DIFF_COUNT override the seed and the count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/tincan.h"

#define TIMEOUT_MS 100
/* deadline + the runner's kill slack + a margin for reaping under TCG */
#define WALL_BOUND_US ((TIMEOUT_MS + 100 + 400) * 1000ULL)
#define MAX_BLOB      64

static uint64_t rng;

static uint32_t next(void)
{
    /* xorshift64*: small, seedable, the same everywhere */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Valid, position-independent instructions (each a complete encoding). */
static const struct {
    uint8_t len, op[8];
} insns[] = {
    {1, {0x90}},                            /* nop */
    {3, {0x48, 0x31, 0xc0}},                /* xor %rax,%rax */
    {5, {0xb8, 0x41, 0, 0, 0}},             /* mov $0x41,%eax */
    {3, {0x48, 0xff, 0xc0}},                /* inc %rax */
    {3, {0x48, 0x01, 0xd8}},                /* add %rbx,%rax */
    {3, {0x48, 0x89, 0xc3}},                /* mov %rax,%rbx */
    {1, {0x50}},                            /* push %rax */
    {1, {0x5b}},                            /* pop %rbx */
    {2, {0xe6, 0x10}},                      /* out %al,$0x10 */
    {2, {0xe6, 0x11}},                      /* out %al,$0x11 */
    {2, {0xeb, 0x00}},                      /* jmp .+2 */
    {3, {0x48, 0xf7, 0xf3}},                /* div %rbx */
    {2, {0x0f, 0x0b}},                      /* ud2 */
    {1, {0xcc}},                            /* int3 */
    {3, {0x48, 0x8b, 0x00}},                /* mov (%rax),%rax */
    {3, {0x48, 0x89, 0x18}},                /* mov %rbx,(%rax) */
    {2, {0x0f, 0xa2}},                      /* cpuid */
    {1, {0xf4}},                            /* hlt */
    {7, {0x48, 0xc7, 0xc0, 0, 0, 0, 0xc0}}, /* mov $-0x40000000,%rax */
    {4, {0x66, 0x0f, 0xef, 0xc0}},          /* pxor %xmm0,%xmm0 */
};

static size_t make_blob(uint8_t *b, int valid)
{
    size_t n = 1 + next() % MAX_BLOB, len = 0;

    if (!valid) {
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)next();
        return n;
    }
    while (len < MAX_BLOB) {
        unsigned k = next() % (sizeof(insns) / sizeof(insns[0]));
        if (len + insns[k].len > MAX_BLOB)
            break;
        memcpy(b + len, insns[k].op, insns[k].len);
        len += insns[k].len;
        if (next() % 8 == 0)
            break;
    }
    return len;
}

static void run(const uint8_t *b, size_t n, enum tc_backend be,
                struct tc_result *r)
{
    struct tc_job job;

    tc_job_init(&job);
    job.code = b;
    job.code_len = n;
    job.backend = be;
    job.timeout_ms = TIMEOUT_MS;
    job.max_output = 4096;
    assert_int_equal(tc_run(&job, r), 0);
}

static int same(const struct tc_result *a, const struct tc_result *b)
{
    return a->status == b->status && a->exit_code == b->exit_code &&
           a->output_len == b->output_len &&
           (!a->output_len || !memcmp(a->output, b->output, a->output_len)) &&
           (a->status != TC_FAULT || a->fault.vector == b->fault.vector);
}

static void check_defined(const struct tc_result *r, uint64_t seed, unsigned i)
{
    if (r->status >= TC_STATUS_COUNT || r->status == TC_SANDBOX_VIOLATION ||
        r->wall_us > WALL_BOUND_US)
        fail_msg("seed %llu blob %u on %s: %s after %llu us: %s",
                 (unsigned long long)seed, i, r->backend,
                 tc_status_name(r->status), (unsigned long long)r->wall_us,
                 r->message);
}

static void test_random_code_ends_defined_on_both_backends(void **state)
{
    const char *s = getenv("TINCAN_DIFF_SEED");
    const char *c = getenv("TINCAN_DIFF_COUNT");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 20261125;
    unsigned count = c ? (unsigned)strtoul(c, NULL, 0) : 2000;
    unsigned differ = 0, shown = 0;
    int kvm = tc_kvm_usable();

    (void)state;
    rng = seed | 1;
    if (!kvm)
        print_message("no usable KVM here: emulator only (run it in the "
                      "lane for the comparison)\n");
    for (unsigned i = 0; i < count; i++) {
        uint8_t blob[MAX_BLOB];
        size_t n = make_blob(blob, i % 2);
        struct tc_result e, k;

        run(blob, n, TC_BACKEND_EMU, &e);
        check_defined(&e, seed, i);
        if (kvm) {
            run(blob, n, TC_BACKEND_KVM, &k);
            check_defined(&k, seed, i);
            if (!same(&e, &k)) {
                differ++;
                if (shown++ < 10) {
                    print_message("seed %llu blob %u (%zu bytes):",
                                  (unsigned long long)seed, i, n);
                    for (size_t j = 0; j < n; j++)
                        print_message(" %02x", blob[j]);
                    print_message("\n  kvm: %s: %s\n  emu: %s: %s\n",
                                  tc_status_name(k.status), k.message,
                                  tc_status_name(e.status), e.message);
                }
            }
            tc_result_free(&k);
        }
        tc_result_free(&e);
    }
    print_message("%u blobs (seed %llu): %u differ between the backends\n",
                  count, (unsigned long long)seed, differ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_code_ends_defined_on_both_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
