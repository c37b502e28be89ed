/* test_fuzz_buckets.c - crash buckets (runner/fuzz_buckets.c): names from
 * status and place (and never from a forged vector name), --crash-on
 * lists and their errors, hangs, and the table that keeps each bucket's
 * smallest input and stops growing at FUZZ_MAX_BUCKETS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../runner/fuzz_buckets.h"

static void test_bucket_names_are_status_and_place(void **state)
{
    static const struct {
        struct fuzz_site site;
        const char *name;
    } cases[] = {
        {{.status = SBX_FAULT,
          .vector = 14,
          .vector_name = "#PF",
          .rip = 0x1002a},
         "fault-pf-0x1002a"},
        {{.status = SBX_FAULT,
          .vector = 6,
          .vector_name = "#UD",
          .rip = 0x10000},
         "fault-ud-0x10000"},
        /* A child wrote the name: only "#" and letters make a label. */
        {{.status = SBX_FAULT,
          .vector = 14,
          .vector_name = "#../x",
          .rip = 0x1},
         "fault-v14-0x1"},
        {{.status = SBX_FAULT,
          .vector = 3,
          .vector_name = "#BPXYZ",
          .rip = 0x2},
         "fault-v3-0x2"},
        {{.status = SBX_FAULT, .vector = 200, .vector_name = "INT", .rip = 0},
         "fault-v200-0x0"},
        {{.status = SBX_MMIO, .address = 0x1000123}, "mmio-0x1000000"},
        {{.status = SBX_MMIO, .address = 0xfffff}, "mmio-0xff000"},
        {{.status = SBX_UNHANDLED_IO, .port = 0x66}, "unhandled_io-0x66"},
        {{.status = SBX_SANDBOX_VIOLATION, .syscall = 59},
         "sandbox_violation-59"},
        {{.status = SBX_SHUTDOWN, .rip = 0x5}, "shutdown"},
        {{.status = SBX_TIMEOUT}, "timeout"},
        {{.status = SBX_OUTPUT_LIMIT}, "output_limit"},
        {{.status = SBX_INSN_LIMIT}, "insn_limit"},
    };
    char name[FUZZ_BUCKET_NAME_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fuzz_bucket_name(&cases[i].site, name, sizeof(name));
        assert_string_equal(name, cases[i].name);
    }
}

static void test_crash_on_takes_a_list_of_statuses(void **state)
{
    unsigned set = 0;
    char err[512];

    (void)state;
    assert_int_equal(fuzz_crash_on_parse("fault,shutdown,mmio,unhandled_io",
                                         &set, err, sizeof(err)),
                     0);
    assert_int_equal(set, FUZZ_CRASH_ON_DEFAULT);
    assert_int_equal(fuzz_crash_on_parse("timeout", &set, err, sizeof(err)), 0);
    assert_int_equal(set, FUZZ_STATUS_BIT(SBX_TIMEOUT));
    assert_int_equal(fuzz_crash_on_parse("fault,output_limit,insn_limit", &set,
                                         err, sizeof(err)),
                     0);
    assert_int_equal(set, FUZZ_STATUS_BIT(SBX_FAULT) |
                              FUZZ_STATUS_BIT(SBX_OUTPUT_LIMIT) |
                              FUZZ_STATUS_BIT(SBX_INSN_LIMIT));
}

static void test_crash_on_refuses_ok_and_unknown_names(void **state)
{
    static const char choices[] =
        " timeout, output_limit, fault, unhandled_io, mmio, shutdown, "
        "sandbox_violation, internal_error, insn_limit, unsupported_syscall, "
        "signal, deadlock";
    static const struct {
        const char *list, *bad;
    } cases[] = {
        {"ok", "ok"},   {"fault,bogus", "bogus"}, {"", ""},
        {"fault,", ""}, {"Fault", "Fault"},       {"fault,,mmio", ""},
    };
    unsigned set;
    char err[512], want[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            fuzz_crash_on_parse(cases[i].list, &set, err, sizeof(err)),
            -EINVAL);
        snprintf(want, sizeof(want), "'%s' is not a status to crash on; use%s",
                 cases[i].bad, choices);
        assert_string_equal(err, want);
    }
}

static void test_hangs_are_timeout_insn_limit_and_output_limit(void **state)
{
    (void)state;
    assert_true(fuzz_status_is_hang(SBX_TIMEOUT));
    assert_true(fuzz_status_is_hang(SBX_INSN_LIMIT));
    assert_true(fuzz_status_is_hang(SBX_OUTPUT_LIMIT));
    assert_false(fuzz_status_is_hang(SBX_FAULT));
    assert_false(fuzz_status_is_hang(SBX_MMIO));
    assert_false(fuzz_status_is_hang(SBX_OK));
}

static void test_a_bucket_keeps_its_smallest_input(void **state)
{
    struct fuzz_buckets t;
    struct fuzz_bucket *b, *b2;

    (void)state;
    fuzz_buckets_init(&t);
    assert_int_equal(fuzz_buckets_add(&t, "fault-pf-0x1", SBX_FAULT,
                                      (const uint8_t *)"abcdef", 6, 10, 100,
                                      &b),
                     FUZZ_BUCKET_NEW);
    assert_string_equal(b->name, "fault-pf-0x1");
    assert_int_equal(b->len, 6);
    assert_int_equal(b->found_len, 6);
    assert_int_equal(b->found_at, 10);
    assert_int_equal(b->found_us, 100);
    assert_int_equal(fuzz_buckets_add(&t, "fault-pf-0x1", SBX_FAULT,
                                      (const uint8_t *)"abcdefgh", 8, 11, 200,
                                      &b2),
                     FUZZ_BUCKET_HIT);
    assert_ptr_equal(b, b2);
    assert_int_equal(fuzz_buckets_add(&t, "fault-pf-0x1", SBX_FAULT,
                                      (const uint8_t *)"abc", 3, 12, 300, &b2),
                     FUZZ_BUCKET_SMALLER);
    assert_int_equal(b->len, 6); /* the caller decides to keep it */
    assert_int_equal(fuzz_bucket_keep(b, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(b->len, 3);
    assert_memory_equal(b->data, "abc", 3);
    assert_int_equal(b->hits, 3);
    assert_int_equal(b->found_at, 10);
    assert_int_equal(fuzz_buckets_add(&t, "mmio-0x1000000", SBX_MMIO,
                                      (const uint8_t *)"", 0, 13, 400, &b2),
                     FUZZ_BUCKET_NEW);
    assert_int_equal(t.n, 2);
    assert_ptr_equal(fuzz_buckets_find(&t, "mmio-0x1000000"), &t.b[1]);
    assert_null(fuzz_buckets_find(&t, "mmio-0x2000000"));
    fuzz_buckets_free(&t);
}

static void test_the_table_stops_at_max_buckets_and_counts_the_rest(void **s)
{
    struct fuzz_buckets t;
    struct fuzz_bucket *b;
    char name[FUZZ_BUCKET_NAME_MAX];

    (void)s;
    fuzz_buckets_init(&t);
    for (unsigned i = 0; i < FUZZ_MAX_BUCKETS + 10; i++) {
        snprintf(name, sizeof(name), "fault-pf-0x%x", i);
        assert_int_equal(
            fuzz_buckets_add(&t, name, SBX_FAULT, (const uint8_t *)"x", 1,
                             i + 1, 0, &b),
            i < FUZZ_MAX_BUCKETS ? FUZZ_BUCKET_NEW : FUZZ_BUCKET_FULL);
    }
    assert_int_equal(t.n, FUZZ_MAX_BUCKETS);
    assert_int_equal(t.dropped, 10);
    /* A kept bucket is still counted. */
    assert_int_equal(fuzz_buckets_add(&t, "fault-pf-0x0", SBX_FAULT,
                                      (const uint8_t *)"x", 1, 999, 0, &b),
                     FUZZ_BUCKET_HIT);
    fuzz_buckets_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_names_are_status_and_place),
        cmocka_unit_test(test_crash_on_takes_a_list_of_statuses),
        cmocka_unit_test(test_crash_on_refuses_ok_and_unknown_names),
        cmocka_unit_test(test_hangs_are_timeout_insn_limit_and_output_limit),
        cmocka_unit_test(test_a_bucket_keeps_its_smallest_input),
        cmocka_unit_test(
            test_the_table_stops_at_max_buckets_and_counts_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
