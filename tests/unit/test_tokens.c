/* test_tokens.c - the tokens file of tincan serve: its format and one-line
 * errors, lookup by the token's digest, the token bucket and in-flight
 * counts (which outlive a reload). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api/tokens.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/tincan-tokens-%d", (int)getpid());
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The digest of token as 64 hex digits. */
static void digest_of(const char *token, char hex[65])
{
    char cmd[128];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", token);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fread(hex, 1, 64, p), 64);
    hex[64] = '\0';
    pclose(p);
}

static void refused(const char *text, const char *want_after_path)
{
    struct tokens_table *t = NULL;
    char err[512], want[600];

    write_file(text);
    assert_int_equal(tokens_load(path, &t, err, sizeof(err)), -EINVAL);
    assert_null(t);
    snprintf(want, sizeof(want), "%s %s", path, want_after_path);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_bad_lines_are_refused_naming_the_line(void **state)
{
    char hex[65], line[256];

    (void)state;
    digest_of("x", hex);
    refused("alice nothex\n",
            "line 1: after the name comes the token's SHA-256 (64 hex digits: "
            "printf %s TOKEN | sha256sum), never the token itself");
    snprintf(line, sizeof(line), "# c\n\nal/ice %s\n", hex);
    refused(line, "line 3: name 'al/ice' must be 1 to 64 of A-Z a-z 0-9 . _ -");
    snprintf(line, sizeof(line), "alice %s rate=5\n", hex);
    refused(line, "line 1: rate=5: give jobs per second, e.g. rate=10/s or "
                  "rate=0.5/s");
    snprintf(line, sizeof(line), "alice %s speed=5\n", hex);
    refused(line, "line 1: unknown option 'speed'; the options are "
                  "max_concurrent, rate, burst, max_timeout, max_mem, "
                  "max_output");
    snprintf(line, sizeof(line), "alice %s burst=5\n", hex);
    refused(line, "line 1: burst without rate: give rate=R/s too");
    snprintf(line, sizeof(line), "alice %s max_mem=lots\n", hex);
    refused(line, "line 1: max_mem=lots: bad size 'lots': write a whole "
                  "number with an optional unit, e.g. 16M, 512K or 1G");
    snprintf(line, sizeof(line), "alice %s\nbob %s\n", hex, hex);
    refused(line, "line 2: the digest of bob is also alice's; each token has "
                  "its own");
}

static void test_a_file_without_tokens_is_refused(void **state)
{
    struct tokens_table *t = NULL;
    char err[512], want[600];

    (void)state;
    write_file("# nobody\n\n");
    assert_int_equal(tokens_load(path, &t, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want),
             "the tokens file %s has no tokens; add a line NAME SHA256HEX",
             path);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_tokens_are_found_by_digest_with_their_limits(void **state)
{
    struct tokens_table *t = NULL;
    struct tokens_caller who;
    char a[65], b[65], text[512], err[512];

    (void)state;
    digest_of("alice-secret", a);
    digest_of("bob-secret", b);
    snprintf(text, sizeof(text),
             "alice %s max_concurrent=2 rate=0.5/s max_timeout=2s "
             "max_mem=8M max_output=4K # a comment\nbob %s\n",
             a, b);
    write_file(text);
    assert_int_equal(tokens_load(path, &t, err, sizeof(err)), 0);
    assert_int_equal(tokens_count(t), 2);
    assert_int_equal(tokens_find(t, "alice-secret", 12, &who), 1);
    assert_string_equal(who.name, "alice");
    assert_int_equal(who.lim.max_concurrent, 2);
    assert_true(who.lim.rate == 0.5 && who.lim.burst == 1);
    assert_int_equal(who.lim.max_timeout_ms, 2000);
    assert_int_equal(who.lim.max_mem, 8 << 20);
    assert_int_equal(who.lim.max_output, 4096);
    assert_int_equal(tokens_find(t, "bob-secret", 10, &who), 1);
    assert_string_equal(who.name, "bob");
    assert_int_equal(who.lim.max_concurrent, 0);
    assert_int_equal(tokens_find(t, "bob-secre", 9, &who), 0);
    assert_int_equal(tokens_find(t, a, 64, &who), 0); /* the digest itself */
    tokens_free(t);
    unlink(path);
}

static void test_the_bucket_refills_at_the_rate(void **state)
{
    struct tokens_table *t = NULL;
    struct tokens_caller who;
    struct tokens_rate rate;
    char a[65], text[256], err[512];
    const uint64_t s = 1000000;

    (void)state;
    digest_of("carol-secret", a);
    snprintf(text, sizeof(text), "carol %s rate=2/s burst=3\n", a);
    write_file(text);
    assert_int_equal(tokens_load(path, &t, err, sizeof(err)), 0);
    assert_int_equal(tokens_find(t, "carol-secret", 12, &who), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tokens_take(&who, 100 * s, &rate), 0);
    assert_int_equal(rate.limit, 3);
    assert_int_equal(rate.remaining, 0);
    assert_int_equal(rate.reset_s, 2); /* 3 jobs at 2/s */
    assert_int_equal(tokens_take(&who, 100 * s, &rate), -EAGAIN);
    assert_int_equal(rate.retry_s, 1);
    /* Half a second later: one more. */
    assert_int_equal(tokens_take(&who, 100 * s + s / 2, &rate), 0);
    assert_int_equal(tokens_take(&who, 100 * s + s / 2, &rate), -EAGAIN);
    /* Long idle: full, never more than the burst. */
    assert_int_equal(tokens_take(&who, 200 * s, &rate), 0);
    assert_int_equal(rate.remaining, 2);
    tokens_free(t);
    unlink(path);
}

static void test_in_flight_counts_outlive_a_reload(void **state)
{
    struct tokens_table *t = NULL, *t2 = NULL;
    struct tokens_caller who, who2;
    char a[65], text[256], err[512];

    (void)state;
    digest_of("dave-secret", a);
    snprintf(text, sizeof(text), "dave %s max_concurrent=1\n", a);
    write_file(text);
    assert_int_equal(tokens_load(path, &t, err, sizeof(err)), 0);
    assert_int_equal(tokens_find(t, "dave-secret", 11, &who), 1);
    assert_int_equal(tokens_enter(&who), 0);
    assert_int_equal(tokens_enter(&who), -EAGAIN);
    assert_int_equal(tokens_load(path, &t2, err, sizeof(err)), 0);
    tokens_free(t);
    assert_int_equal(tokens_find(t2, "dave-secret", 11, &who2), 1);
    assert_int_equal(tokens_enter(&who2), -EAGAIN); /* still one in flight */
    tokens_leave(&who);                             /* from before */
    assert_int_equal(tokens_enter(&who2), 0);
    tokens_leave(&who2);
    tokens_free(t2);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_lines_are_refused_naming_the_line),
        cmocka_unit_test(test_a_file_without_tokens_is_refused),
        cmocka_unit_test(test_tokens_are_found_by_digest_with_their_limits),
        cmocka_unit_test(test_the_bucket_refills_at_the_rate),
        cmocka_unit_test(test_in_flight_counts_outlive_a_reload),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
