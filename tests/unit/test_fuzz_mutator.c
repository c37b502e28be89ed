/* test_fuzz_mutator.c - the fuzzer's mutations (runner/fuzz_mutator.c):
 * the seeded generator, AFL dictionaries and their errors, havoc (bounded,
 * deterministic, using tokens and the splice input), and input-to-state
 * replacement from a compare log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "../runner/fuzz_mutator.h"

static void test_rng_is_a_function_of_its_seed(void **state)
{
    struct fuzz_rng a, b, c;
    int differ = 0;

    (void)state;
    fuzz_rng_seed(&a, 42);
    fuzz_rng_seed(&b, 42);
    fuzz_rng_seed(&c, 43);
    for (int i = 0; i < 100; i++) {
        uint64_t x = fuzz_rng_next(&a);
        assert_int_equal(x, fuzz_rng_next(&b));
        differ |= x != fuzz_rng_next(&c);
    }
    assert_true(differ);
}

static void test_rng_below_stays_in_range_and_reaches_every_value(void **s)
{
    struct fuzz_rng r;
    unsigned seen[7] = {0};

    (void)s;
    fuzz_rng_seed(&r, 1);
    for (int i = 0; i < 7000; i++) {
        uint64_t v = fuzz_rng_below(&r, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 800 && seen[i] < 1200);
    assert_int_equal(fuzz_rng_below(&r, 1), 0);
}

static void assert_token(const struct fuzz_dict *d, size_t i, const char *bytes,
                         size_t len)
{
    assert_true(i < d->n);
    assert_int_equal(d->tokens[i].len, len);
    assert_memory_equal(d->tokens[i].bytes, bytes, len);
}

static void test_dict_reads_the_afl_format(void **state)
{
    static const char text[] = "# a comment, then a blank line\n"
                               "\n"
                               "kw_magic=\"TCNK\"\n"
                               "  header@2 = \"\\x7f\\x45LF\"   \n"
                               "\"plain \\\"quoted\\\" \\\\ token\"\r\n"
                               "again=\"TCNK\"\n"
                               "last=\"no newline\"";
    struct fuzz_dict d;
    char err[256] = "";

    (void)state;
    fuzz_dict_init(&d);
    assert_int_equal(fuzz_dict_parse(&d, text, strlen(text), err, sizeof(err)),
                     0);
    assert_int_equal(d.n, 4); /* "TCNK" once */
    assert_token(&d, 0, "TCNK", 4);
    assert_token(&d, 1,
                 "\x7f"
                 "ELF",
                 4);
    assert_token(&d, 2, "plain \"quoted\" \\ token", 22);
    assert_token(&d, 3, "no newline", 10);
    fuzz_dict_free(&d);
}

static void test_dict_errors_name_the_line_and_the_fix(void **state)
{
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"a=\"x\"\nb=\"\\q\"\n",
         "line 2: a backslash starts \\\\, \\\" or \\xNN (two hex digits), "
         "nothing else"},
        {"a=\"\\x4\"", "line 1: a backslash starts \\\\, \\\" or \\xNN (two "
                       "hex digits), nothing else"},
        {"a=\"tab\there\"", "line 1: a byte that is not printable ASCII: "
                            "write it as \\xNN"},
        {"a=\"\"", "line 1: the token is empty"},
        {"a=\"open", "line 1: the value has no closing '\"'"},
        {"a=x", "line 1: the value must be in double quotes"},
        {"a \"x\"", "line 1: expected name=\"value\" or \"value\""},
        {"a@=\"x\"", "line 1: '@' is followed by the token's level, a "
                     "number"},
        {"\"x\" y", "line 1: text after the closing '\"'"},
    };
    char long_token[FUZZ_TOKEN_MAX + 8];
    struct fuzz_dict d;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fuzz_dict_init(&d);
        err[0] = '\0';
        assert_int_equal(fuzz_dict_parse(&d, cases[i].text,
                                         strlen(cases[i].text), err,
                                         sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, cases[i].err);
        fuzz_dict_free(&d);
    }
    long_token[0] = '"';
    memset(long_token + 1, 'A', FUZZ_TOKEN_MAX + 1);
    strcpy(long_token + FUZZ_TOKEN_MAX + 2, "\"");
    fuzz_dict_init(&d);
    assert_int_equal(
        fuzz_dict_parse(&d, long_token, strlen(long_token), err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "line 1: the token is longer than 128 bytes");
    assert_int_equal(fuzz_dict_parse(&d, "a=\"x\0\"", 6, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "line 1: a NUL byte: write it as \\x00");
    fuzz_dict_free(&d);
}

static void test_dict_of_compares_holds_both_operands_in_their_width(void **s)
{
    const struct fuzz_cmp cmps[] = {
        {.a = 0x44434241, .b = 0x4b4e4354, .size = 4},
        {.a = 0x41, .b = 0x4b4e4354, .size = 8}, /* b again: once */
        {.a = 0x1234, .b = 0, .size = 2},
    };
    struct fuzz_dict d;

    (void)s;
    fuzz_dict_init(&d);
    assert_int_equal(fuzz_dict_add_cmps(&d, cmps, 3), 0);
    assert_int_equal(d.n, 5);
    assert_token(&d, 0, "ABCD", 4);
    assert_token(&d, 1, "TCNK", 4);
    assert_token(&d, 2, "A", 1);
    assert_token(&d, 3, "\x34\x12", 2);
    assert_token(&d, 4, "\0", 1);
    fuzz_dict_free(&d);
}

/* n havoc rounds from in, each from the same start, with ctx h. */
static size_t havoc_from(struct fuzz_havoc_ctx *h, const char *in, uint8_t *buf)
{
    size_t len = strlen(in);

    memcpy(buf, in, len);
    return fuzz_havoc(h, buf, len);
}

static void test_havoc_is_deterministic_for_a_seed(void **state)
{
    struct fuzz_rng r1, r2;
    struct fuzz_havoc_ctx h1 = {.rng = &r1, .max_len = 64},
                          h2 = {.rng = &r2, .max_len = 64};
    uint8_t a[64], b[64];

    (void)state;
    fuzz_rng_seed(&r1, 9);
    fuzz_rng_seed(&r2, 9);
    for (int i = 0; i < 500; i++) {
        size_t na = havoc_from(&h1, "the quick brown fox", a);
        size_t nb = havoc_from(&h2, "the quick brown fox", b);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
    }
}

static void test_havoc_stays_within_max_len_and_grows_an_empty_input(void **s)
{
    struct fuzz_rng r;
    struct fuzz_havoc_ctx h = {.rng = &r, .max_len = 16};
    uint8_t buf[16];
    size_t len = 0, grew = 0;

    (void)s;
    fuzz_rng_seed(&r, 3);
    for (int i = 0; i < 20000; i++) {
        len = fuzz_havoc(&h, buf, i % 50 ? len : 0);
        assert_true(len <= sizeof(buf));
        grew += len > 0;
    }
    assert_true(grew > 10000);
}

/* How many of n havoc results from in contain needle. */
static int count_containing(struct fuzz_havoc_ctx *h, const char *in,
                            const char *needle, int n)
{
    uint8_t buf[256];
    int hits = 0;

    for (int i = 0; i < n; i++) {
        size_t len = havoc_from(h, in, buf);
        if (memmem(buf, len, needle, strlen(needle)))
            hits++;
    }
    return hits;
}

static void test_havoc_puts_dictionary_and_compare_tokens_in(void **state)
{
    static const char in[] = "................................";
    struct fuzz_rng r;
    struct fuzz_dict dict, cmps;
    struct fuzz_havoc_ctx h = {.rng = &r, .max_len = 256};

    (void)state;
    fuzz_rng_seed(&r, 5);
    fuzz_dict_init(&dict);
    fuzz_dict_init(&cmps);
    assert_int_equal(fuzz_dict_add(&dict, (const uint8_t *)"DICTWORD", 8), 0);
    assert_int_equal(fuzz_dict_add(&cmps, (const uint8_t *)"CMPWORD", 7), 0);
    assert_int_equal(count_containing(&h, in, "DICTWORD", 2000), 0);
    h.dict = &dict;
    assert_true(count_containing(&h, in, "DICTWORD", 2000) > 100);
    h.dict = NULL;
    h.cmp_tokens = &cmps;
    assert_true(count_containing(&h, in, "CMPWORD", 2000) > 100);
    fuzz_dict_free(&dict);
    fuzz_dict_free(&cmps);
}

static void test_havoc_splices_the_other_input_in(void **state)
{
    static const char other[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    struct fuzz_rng r;
    struct fuzz_havoc_ctx h = {.rng = &r, .max_len = 256};

    (void)state;
    fuzz_rng_seed(&r, 6);
    assert_int_equal(
        count_containing(&h, "AAAAAAAAAAAAAAAAAAAA", "xyz01", 2000), 0);
    h.other = (const uint8_t *)other;
    h.other_len = strlen(other);
    assert_true(count_containing(&h, "AAAAAAAAAAAAAAAAAAAA", "xyz01", 2000) >
                20);
}

/* Every input-to-state candidate of in with cmps, as strings. */
static int all_i2s(const char *in, const struct fuzz_cmp *cmps, size_t n,
                   char out[][64])
{
    struct fuzz_i2s it;
    size_t len = strlen(in);
    int k = 0;

    fuzz_i2s_init(&it);
    while (fuzz_i2s_next(&it, (const uint8_t *)in, len, cmps, n,
                         (uint8_t *)out[k])) {
        out[k][len] = '\0';
        k++;
    }
    return k;
}

static void test_i2s_puts_each_operand_where_the_other_appears(void **state)
{
    /* The guest compared the dword "ABCD" with "TCNK" (little-endian). */
    const struct fuzz_cmp c = {.a = 0x44434241, .b = 0x4b4e4354, .size = 4};
    char out[16][64];

    (void)state;
    assert_int_equal(all_i2s("xxABCDyyABCDTCNK", &c, 1, out), 3);
    assert_string_equal(out[0], "xxTCNKyyABCDTCNK");
    assert_string_equal(out[1], "xxABCDyyTCNKTCNK");
    assert_string_equal(out[2], "xxABCDyyABCDABCD"); /* b found, a put */
}

static void test_i2s_tries_big_endian_and_the_narrow_width(void **state)
{
    /* A 64-bit compare of a big-endian dword loaded from the input. */
    const struct fuzz_cmp c = {.a = 0x41424344, .b = 0x54434e4b, .size = 8};
    char out[16][64];

    (void)state;
    assert_int_equal(all_i2s("..ABCD..", &c, 1, out), 1);
    assert_string_equal(out[0], "..TCNK..");
}

static void test_i2s_makes_at_most_8_candidates_per_variant(void **state)
{
    const struct fuzz_cmp c = {.a = '.', .b = '!', .size = 1};
    char out[16][64];

    (void)state;
    assert_int_equal(all_i2s("....................", &c, 1, out),
                     FUZZ_I2S_PER_VARIANT);
    assert_string_equal(out[7], ".......!............");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_is_a_function_of_its_seed),
        cmocka_unit_test(test_rng_below_stays_in_range_and_reaches_every_value),
        cmocka_unit_test(test_dict_reads_the_afl_format),
        cmocka_unit_test(test_dict_errors_name_the_line_and_the_fix),
        cmocka_unit_test(
            test_dict_of_compares_holds_both_operands_in_their_width),
        cmocka_unit_test(test_havoc_is_deterministic_for_a_seed),
        cmocka_unit_test(
            test_havoc_stays_within_max_len_and_grows_an_empty_input),
        cmocka_unit_test(test_havoc_puts_dictionary_and_compare_tokens_in),
        cmocka_unit_test(test_havoc_splices_the_other_input_in),
        cmocka_unit_test(test_i2s_puts_each_operand_where_the_other_appears),
        cmocka_unit_test(test_i2s_tries_big_endian_and_the_narrow_width),
        cmocka_unit_test(test_i2s_makes_at_most_8_candidates_per_variant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
