/* test_fuzz_minimize.c - the crash minimizer (runner/fuzz_minimize.c) with
 * predicates standing in for "still crashes in the same bucket": it keeps
 * only what the crash needs, normalizes the rest to '0', stays within its
 * budget, stops on the predicate's error, and is deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "../runner/fuzz_minimize.h"

struct pred {
    int (*fn)(uint8_t *in, size_t len);
    unsigned calls;
    unsigned fail_after; /* 0: never */
};

static int call(void *ctx, uint8_t *in, size_t len)
{
    struct pred *p = ctx;

    if (p->fail_after && p->calls >= p->fail_after)
        return -EIO;
    p->calls++;
    return p->fn(in, len);
}

static int has_magic(uint8_t *in, size_t len)
{
    return memmem(in, len, "TCNK", 4) != NULL;
}

static int at_least_10(uint8_t *in, size_t len)
{
    (void)in;
    return len >= 10;
}

/* 'Z' first and at least 3 bytes: the rest is filler. */
static int z_and_3(uint8_t *in, size_t len)
{
    return len >= 3 && in[0] == 'Z';
}

static size_t shrink(const char *in, int (*fn)(uint8_t *, size_t),
                     uint64_t budget, uint8_t *buf, uint64_t *execs, int *rc)
{
    struct pred p = {.fn = fn};
    size_t len = strlen(in);

    memcpy(buf, in, len);
    *rc = fuzz_minimize(buf, &len, call, &p, budget, execs);
    assert_int_equal(p.calls, *execs);
    return len;
}

static void test_a_magic_is_cut_out_of_its_input(void **state)
{
    uint8_t buf[64];
    uint64_t execs;
    int rc;
    size_t n = shrink("garbage before TCNK and after it", has_magic, 4096, buf,
                      &execs, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "TCNK", 4);
    assert_true(execs < 200);
}

static void test_bytes_the_crash_does_not_need_become_0(void **state)
{
    uint8_t buf[64];
    uint64_t execs;
    int rc;
    size_t n;

    (void)state;
    n = shrink("abcdefghijklmnopqrstuvwxyz", at_least_10, 4096, buf, &execs,
               &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 10);
    assert_memory_equal(buf, "0000000000", 10);
    n = shrink("Zebra crossing", z_and_3, 4096, buf, &execs, &rc);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "Z00", 3);
}

static void test_the_budget_bounds_the_executions(void **state)
{
    uint8_t buf[64];
    uint64_t execs;
    int rc;
    size_t n =
        shrink("abcdefghijklmnopqrstuvwxyz", at_least_10, 3, buf, &execs, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_int_equal(execs, 3);
    assert_true(n >= 10); /* whatever it is, it still keeps */
}

static void test_a_predicate_error_stops_with_a_keeping_input(void **state)
{
    struct pred p = {.fn = has_magic, .fail_after = 5};
    uint8_t buf[64];
    const char *in = "xxxxxxxxxxxxxxxxTCNKyyyyyyyyyyyyyyyy";
    size_t len = strlen(in);
    uint64_t execs;

    (void)state;
    memcpy(buf, in, len);
    assert_int_equal(fuzz_minimize(buf, &len, call, &p, 4096, &execs), -EIO);
    assert_true(len <= strlen(in));
    assert_true(has_magic(buf, len));
}

static void test_minimizing_twice_gives_the_same_input(void **state)
{
    uint8_t a[64], b[64];
    uint64_t ea, eb;
    int rc;
    size_t na = shrink("zzTCNKzzTCNKzz", has_magic, 4096, a, &ea, &rc);
    size_t nb = shrink("zzTCNKzzTCNKzz", has_magic, 4096, b, &eb, &rc);

    (void)state;
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_int_equal(ea, eb);
}

static int always(uint8_t *in, size_t len)
{
    (void)in;
    (void)len;
    return 1;
}

static void test_an_input_that_crashes_when_empty_becomes_empty(void **state)
{
    uint8_t buf[64];
    uint64_t execs;
    int rc;
    size_t n = shrink("anything at all", always, 4096, buf, &execs, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 0);
    assert_int_equal(execs, 1); /* the whole input removed at once */
}

/* A crash behind a checksum (the last byte is the sum of the others) that
 * the predicate repairs, as the engine does with the compare log. */
static int summed(uint8_t *in, size_t len)
{
    uint8_t sum = 0;

    if (len < 3 || in[0] != 'C')
        return 0;
    for (size_t i = 0; i + 1 < len; i++)
        sum = (uint8_t)(sum + in[i]);
    in[len - 1] = sum; /* the repair */
    return 1;
}

static void test_a_candidate_the_predicate_repairs_is_taken(void **state)
{
    uint8_t buf[64];
    uint64_t execs;
    int rc;
    size_t n = shrink("Cxyzxyzxyz\x01", summed, 4096, buf, &execs, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "C0", 2);
    assert_int_equal(buf[2], (uint8_t)('C' + '0'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_magic_is_cut_out_of_its_input),
        cmocka_unit_test(test_bytes_the_crash_does_not_need_become_0),
        cmocka_unit_test(test_the_budget_bounds_the_executions),
        cmocka_unit_test(test_a_predicate_error_stops_with_a_keeping_input),
        cmocka_unit_test(test_minimizing_twice_gives_the_same_input),
        cmocka_unit_test(test_an_input_that_crashes_when_empty_becomes_empty),
        cmocka_unit_test(test_a_candidate_the_predicate_repairs_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
