/* test_codec.c - hex and base64 decoding of user code, base64 of output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/codec.h"

static void hex_is(const char *text, const char *bytes, size_t n)
{
    char err[256] = "";
    uint8_t *out = NULL;
    size_t len = 99;

    assert_int_equal(codec_hex_decode(text, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, n);
    assert_memory_equal(out, bytes, n);
    free(out);
}

static void test_hex_accepts_common_spellings(void **state)
{
    (void)state;
    hex_is("e6 10 f4", "\xe6\x10\xf4", 3);
    hex_is("E610F4", "\xe6\x10\xf4", 3);
    hex_is("0xe6, 0x10,0xF4", "\xe6\x10\xf4", 3);
    hex_is("\\xe6\\x10", "\xe6\x10", 2);
    hex_is(" \n\t", "", 0);
}

static void test_hex_errors_name_the_offset(void **state)
{
    char err[256] = "";
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(codec_hex_decode("e6 1", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad hex: a lone digit at offset 3; write whole "
                             "bytes like 'e6 10'");
    assert_int_equal(codec_hex_decode("e6 zz", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad hex: 'z' at offset 3 is not a hex digit");
    assert_int_equal(codec_hex_decode("e6 1g", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad hex: 'g' at offset 4 is not a hex digit");
}

static void test_b64_matches_rfc4648_vectors(void **state)
{
    static const char *const vec[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        char *e =
            codec_b64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]));
        assert_string_equal(e, vec[i][1]);
        free(e);
    }
    char *e = codec_b64_encode((const uint8_t *)"\xff\x00\xfe", 3);
    assert_string_equal(e, "/wD+");
    free(e);
}

static void test_b64_decode_inverts_rfc4648_vectors(void **state)
{
    static const char *const vec[][2] = {
        {"Zg==", "f"},         {"Zm8=", "fo"},
        {"Zm9v", "foo"},       {"Zm9vYg==", "foob"},
        {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
        {"Zm9vYg", "foob"},    {" Zm9v\nYmE= ", "fooba"},
    };
    char err[256] = "";
    uint8_t *out = NULL;
    size_t len = 99;

    (void)state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        assert_int_equal(
            codec_b64_decode(vec[i][0], &out, &len, err, sizeof(err)), 0);
        assert_int_equal(len, strlen(vec[i][1]));
        assert_memory_equal(out, vec[i][1], len);
        free(out);
    }
    assert_int_equal(codec_b64_decode("/wD+", &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "\xff\x00\xfe", 3);
    free(out);
    assert_int_equal(codec_b64_decode(" ", &out, &len, err, sizeof(err)), 0);
    assert_null(out);
    assert_int_equal(len, 0);
}

static void test_b64_decode_errors_say_what_is_wrong(void **state)
{
    char err[256] = "";
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(codec_b64_decode("Zm9v!", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad base64: '!' at offset 4 is not a base64 "
                             "character (A-Z a-z 0-9 + /)");
    assert_int_equal(codec_b64_decode("Zm9vY", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad base64: the text ends in a lone character; "
                             "check that it was copied whole");
    assert_int_equal(codec_b64_decode("Zg==Zg", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad base64: data after '=' padding at offset 4");
    assert_int_equal(codec_b64_decode("Zm8==", &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad base64: 2 '=' after 3 characters; padding "
                             "fills the last group of 4 only");
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_accepts_common_spellings),
        cmocka_unit_test(test_hex_errors_name_the_offset),
        cmocka_unit_test(test_b64_matches_rfc4648_vectors),
        cmocka_unit_test(test_b64_decode_inverts_rfc4648_vectors),
        cmocka_unit_test(test_b64_decode_errors_say_what_is_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
