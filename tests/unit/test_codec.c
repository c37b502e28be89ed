/* test_codec.c - hex decoding of user code and base64 of JSON output. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_accepts_common_spellings),
        cmocka_unit_test(test_hex_errors_name_the_offset),
        cmocka_unit_test(test_b64_matches_rfc4648_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
