/* test_units.c - size and duration parsing, with the user's error text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "../runner/units.h"

static uint64_t size_ok(const char *s)
{
    char err[256] = "";
    uint64_t v = 0;

    assert_int_equal(units_parse_size(s, &v, err, sizeof(err)), 0);
    return v;
}

static void size_bad(const char *s, int rc, const char *needle)
{
    char err[256] = "";
    uint64_t v = 0;

    assert_int_equal(units_parse_size(s, &v, err, sizeof(err)), rc);
    assert_non_null(strstr(err, needle));
}

static void test_size_units_are_powers_of_1024(void **state)
{
    (void)state;
    assert_int_equal(size_ok("4096"), 4096);
    assert_int_equal(size_ok("512K"), 512 * 1024);
    assert_int_equal(size_ok("16M"), 16ULL << 20);
    assert_int_equal(size_ok("16MiB"), 16ULL << 20);
    assert_int_equal(size_ok("16mb"), 16ULL << 20);
    assert_int_equal(size_ok("1G"), 1ULL << 30);
    assert_int_equal(size_ok("0"), 0);
    assert_int_equal(size_ok("7B"), 7);
}

static void test_size_rejects_garbage_with_a_hint(void **state)
{
    (void)state;
    size_bad("", -EINVAL, "e.g. 16M");
    size_bad("M", -EINVAL, "e.g. 16M");
    size_bad("3M7", -EINVAL, "unknown unit 'M7'");
    size_bad("16Q", -EINVAL, "use K, M or G");
    size_bad("-1M", -EINVAL, "whole number");
    size_bad("1.5M", -EINVAL, "unknown unit");
    size_bad("99999999999999999999", -ERANGE, "too large");
    size_bad("17179869184G", -ERANGE, "too large");
}

static uint64_t dur_ok(const char *s)
{
    char err[256] = "";
    uint64_t v = 0;

    assert_int_equal(units_parse_duration(s, &v, err, sizeof(err)), 0);
    return v;
}

static void dur_bad(const char *s, int rc, const char *needle)
{
    char err[256] = "";
    uint64_t v = 0;

    assert_int_equal(units_parse_duration(s, &v, err, sizeof(err)), rc);
    assert_non_null(strstr(err, needle));
}

static void test_duration_has_ms_resolution(void **state)
{
    (void)state;
    assert_int_equal(dur_ok("250ms"), 250);
    assert_int_equal(dur_ok("2s"), 2000);
    assert_int_equal(dur_ok("1.5s"), 1500);
    assert_int_equal(dur_ok("0.25s"), 250);
    assert_int_equal(dur_ok("0.0019s"), 1);
    assert_int_equal(dur_ok("0ms"), 0);
    assert_int_equal(dur_ok("10m"), 600000);
    assert_int_equal(dur_ok("1.5h"), 5400000);
}

static void test_duration_requires_a_unit(void **state)
{
    (void)state;
    dur_bad("5", -EINVAL, "add a unit");
    dur_bad("abc", -EINVAL, "e.g. 250ms");
    dur_bad("5d", -EINVAL, "unknown unit");
    dur_bad("1.5ms", -EINVAL, "whole numbers");
    dur_bad(".s", -EINVAL, "e.g. 250ms");
    dur_bad("99999999999999999999s", -ERANGE, "too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_units_are_powers_of_1024),
        cmocka_unit_test(test_size_rejects_garbage_with_a_hint),
        cmocka_unit_test(test_duration_has_ms_resolution),
        cmocka_unit_test(test_duration_requires_a_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
