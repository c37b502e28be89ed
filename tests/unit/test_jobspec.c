/* test_jobspec.c - a job from a JSON object: every field, strict errors
 * naming the field, extra keys for callers, and loading the bytes. */
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

#include "../api/jobspec.h"

#define SHA_A "ab7a1a9d8e4e2b4f5c3f8a8e5d2b6c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"

/* Parse text with extra (may be NULL); the return code, err filled. */
static int parse(const char *text, const char *const *extra, struct jobspec *js,
                 char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    int rc;

    if (!obj)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    jobspec_init(js);
    rc = jobspec_parse(obj, extra, js, err, errlen);
    json_decref(obj);
    return rc;
}

/* text must be refused with exactly want. */
static void refused(const char *text, const char *want)
{
    struct jobspec js;
    char err[512] = "";

    assert_int_equal(parse(text, NULL, &js, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, want);
    jobspec_free(&js);
}

static void test_only_code_gives_the_defaults(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(
        parse("{\"code_hex\":\"f4\"}", NULL, &js, err, sizeof(err)), 0);
    assert_int_equal(js.code.kind, TC_SOURCE_HEX);
    assert_string_equal(js.code.text, "f4");
    assert_null(js.code.sha256);
    assert_string_equal(js.code_field, "code_hex");
    assert_int_equal(js.has_input, 0);
    assert_int_equal(js.job.timeout_ms, TC_DEFAULT_TIMEOUT_MS);
    assert_int_equal(js.job.mem_size, TC_DEFAULT_MEM);
    assert_int_equal(js.job.max_output, TC_DEFAULT_MAX_OUTPUT);
    assert_int_equal(js.job.max_insns, 0);
    assert_int_equal(js.job.format, TC_FORMAT_AUTO);
    assert_int_equal(js.job.backend, TC_BACKEND_AUTO);
    jobspec_free(&js);
}

static void test_every_field_is_read(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(
        parse("{\"url\":\"https://h/c.bin\",\"sha256\":\"" SHA_A "\","
              "\"input_path\":\"in.bin\",\"input_sha256\":\"" SHA_A "\","
              "\"timeout_ms\":250,\"mem\":\"64M\",\"max_output\":4096,"
              "\"max_insns\":1000,\"format\":\"elf\",\"backend\":\"emu\"}",
              NULL, &js, err, sizeof(err)),
        0);
    assert_int_equal(js.code.kind, TC_SOURCE_URL);
    assert_string_equal(js.code.text, "https://h/c.bin");
    assert_string_equal(js.code.sha256, SHA_A);
    assert_int_equal(js.has_input, 1);
    assert_int_equal(js.input.kind, TC_SOURCE_PATH);
    assert_string_equal(js.input.text, "in.bin");
    assert_string_equal(js.input.sha256, SHA_A);
    assert_string_equal(js.input_field, "input_path");
    assert_int_equal(js.job.timeout_ms, 250);
    assert_int_equal(js.job.mem_size, 64ULL << 20);
    assert_int_equal(js.job.max_output, 4096);
    assert_int_equal(js.job.max_insns, 1000);
    assert_int_equal(js.job.format, TC_FORMAT_ELF);
    assert_int_equal(js.job.backend, TC_BACKEND_EMU);
    jobspec_free(&js);
}

static void test_source_kinds_map_to_tc_sources(void **state)
{
    static const struct {
        const char *json, *field;
        enum tc_source_kind kind;
    } cases[] = {
        {"{\"code_b64\":\"9A==\",\"input_hex\":\"00\"}", "code_b64",
         TC_SOURCE_B64},
        {"{\"path\":\"a.bin\",\"input_b64\":\"AA==\"}", "path", TC_SOURCE_PATH},
        {"{\"url\":\"http://h/x\",\"input_url\":\"http://h/y\"}", "url",
         TC_SOURCE_URL},
    };
    static const enum tc_source_kind input_kinds[] = {
        TC_SOURCE_HEX, TC_SOURCE_B64, TC_SOURCE_URL};
    struct jobspec js;
    char err[512] = "";

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].json, NULL, &js, err, sizeof(err)), 0);
        assert_string_equal(js.code_field, cases[i].field);
        assert_int_equal(js.code.kind, cases[i].kind);
        assert_int_equal(js.input.kind, input_kinds[i]);
        jobspec_free(&js);
    }
}

static void test_unknown_field_is_named(void **state)
{
    (void)state;
    refused("{\"code_hex\":\"f4\",\"timeout\":5}",
            "unknown field \"timeout\"; a job has code_hex, code_b64, path or "
            "url (+ sha256), input_hex, input_b64, input_path or input_url (+ "
            "input_sha256), timeout_ms, mem, max_output, max_insns, format, "
            "backend");
}

static void test_extra_keys_are_left_to_the_caller(void **state)
{
    static const char *const extra[] = {"id", "status", NULL};
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"id\":7,\"status\":\"ok\",\"code_hex\":\"f4\"}",
                           extra, &js, err, sizeof(err)),
                     0);
    assert_string_equal(js.code.text, "f4");
    jobspec_free(&js);
    refused("{\"id\":7,\"code_hex\":\"f4\"}",
            "unknown field \"id\"; a job has code_hex, code_b64, path or url "
            "(+ sha256), input_hex, input_b64, input_path or input_url (+ "
            "input_sha256), timeout_ms, mem, max_output, max_insns, format, "
            "backend");
}

static void test_wrong_types_name_the_field(void **state)
{
    (void)state;
    refused("{\"code_hex\":244}", "\"code_hex\" must be a string, not an "
                                  "integer");
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":\"1s\"}",
            "\"timeout_ms\" must be an integer, not a string");
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":1.5}",
            "\"timeout_ms\" must be an integer, not a number with a fraction "
            "or exponent");
    refused("{\"code_hex\":\"f4\",\"mem\":true}",
            "\"mem\" must be a number of bytes or a size like \"64M\", not a "
            "boolean");
    refused(
        "{\"code_hex\":\"f4\",\"format\":1}",
        "\"format\" must be a string (\"raw\", \"elf\" or \"auto\"), not an "
        "integer");
    refused("{\"code_hex\":\"f4\",\"input_path\":null}",
            "\"input_path\" must be a string, not null");
    refused("[1,2]", "a job must be a JSON object, not an array");
}

static void test_values_out_of_range_are_refused(void **state)
{
    (void)state;
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":0}",
            "\"timeout_ms\" 0 is out of range (1 to 86400000 ms)");
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":86400001}",
            "\"timeout_ms\" 86400001 is out of range (1 to 86400000 ms)");
    refused("{\"code_hex\":\"f4\",\"mem\":\"2G\"}",
            "\"mem\" \"2G\" is out of range (1M to 1G)");
    refused("{\"code_hex\":\"f4\",\"mem\":1048577}",
            "\"mem\" 1048577 is not a multiple of 4K");
    refused("{\"code_hex\":\"f4\",\"mem\":-1}",
            "\"mem\" -1 is out of range (1M to 1G)");
    refused("{\"code_hex\":\"f4\",\"max_output\":\"2G\"}",
            "\"max_output\" \"2G\" is out of range (0 to 1G)");
    refused("{\"code_hex\":\"f4\",\"max_insns\":0}",
            "\"max_insns\" 0 is out of range (at least 1)");
    refused("{\"code_hex\":\"f4\",\"backend\":\"xen\"}",
            "\"backend\" \"xen\" is not one of \"kvm\", \"emu\" or \"auto\"");
    refused("{\"code_hex\":\"f4\",\"sha256\":\"abc\"}",
            "\"sha256\" 'abc' is not a SHA-256 digest; give its 64 hex digits "
            "(sha256sum prints them)");
}

static void test_mem_string_errors_say_what_to_write(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"code_hex\":\"f4\",\"mem\":\"3M7\"}", NULL, &js,
                           err, sizeof(err)),
                     -EINVAL);
    assert_true(strncmp(err, "\"mem\": ", 7) == 0);
    jobspec_free(&js);
}

static void test_code_must_be_given_exactly_once(void **state)
{
    (void)state;
    refused("{\"timeout_ms\":5}", "no code: give one of \"code_hex\", "
                                  "\"code_b64\", \"path\" or \"url\"");
    refused("{}", "no code: give one of \"code_hex\", \"code_b64\", \"path\" "
                  "or \"url\"");
    refused("{\"path\":\"a.bin\",\"code_hex\":\"f4\"}",
            "two code sources, \"path\" and \"code_hex\": give one");
    refused("{\"code_hex\":\"f4\",\"input_hex\":\"00\",\"input_url\":\"x\"}",
            "two input sources, \"input_hex\" and \"input_url\": give one");
}

static void test_inconsistent_options_are_refused(void **state)
{
    (void)state;
    refused("{\"code_hex\":\"f4\",\"input_sha256\":\"" SHA_A "\"}",
            "\"input_sha256\" without an input: give \"input_hex\", "
            "\"input_b64\", \"input_path\" or \"input_url\" too");
    refused("{\"code_hex\":\"f4\",\"backend\":\"kvm\",\"max_insns\":5}",
            "\"max_insns\" needs \"backend\": \"emu\" (or \"auto\"): KVM "
            "cannot count instructions");
    refused("{\"path\":\"-\"}", "\"path\": \"-\" (standard input) cannot be "
                                "used here; name a file");
    refused("{\"path\":\"\"}", "\"path\" is empty; name a file");
}

static void test_load_decodes_code_and_input(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"code_hex\":\"b0 41 e6 10 f4\","
                           "\"input_b64\":\"AAH/\"}",
                           NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(js.job.code_len, 5);
    assert_memory_equal(js.job.code, "\xb0\x41\xe6\x10\xf4", 5);
    assert_int_equal(js.job.input_len, 3);
    assert_memory_equal(js.job.input, "\x00\x01\xff", 3);
    jobspec_free(&js);
}

static void test_load_takes_relative_paths_from_base_dir(void **state)
{
    char dir[] = "/tmp/tincan-jobspec.XXXXXX", file[64], err[512] = "";
    struct jobspec js;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/code.bin", dir);
    f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("\xf4", 1, 1, f), 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(
        parse("{\"path\":\"code.bin\"}", NULL, &js, err, sizeof(err)), 0);
    assert_int_equal(jobspec_load(&js, NULL, dir, err, sizeof(err)), 0);
    assert_int_equal(js.job.code_len, 1);
    assert_memory_equal(js.job.code, "\xf4", 1);
    jobspec_free(&js);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_load_errors_name_the_field(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(
        parse("{\"code_hex\":\"e6 1\"}", NULL, &js, err, sizeof(err)), 0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"code_hex\": bad hex: a lone digit at offset 3; "
                             "write whole bytes like 'e6 10'");
    jobspec_free(&js);
    assert_int_equal(parse("{\"code_b64\":\"\"}", NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"code_b64\": the code is empty; give at least "
                             "one byte");
    jobspec_free(&js);
    assert_int_equal(parse("{\"code_hex\":\"f4\",\"input_path\":"
                           "\"/nonexistent/tincan-in\"}",
                           NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), -ENOENT);
    assert_true(strncmp(err, "\"input_path\": ", 14) == 0);
    assert_non_null(strstr(err, "/nonexistent/tincan-in"));
    jobspec_free(&js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_code_gives_the_defaults),
        cmocka_unit_test(test_every_field_is_read),
        cmocka_unit_test(test_source_kinds_map_to_tc_sources),
        cmocka_unit_test(test_unknown_field_is_named),
        cmocka_unit_test(test_extra_keys_are_left_to_the_caller),
        cmocka_unit_test(test_wrong_types_name_the_field),
        cmocka_unit_test(test_values_out_of_range_are_refused),
        cmocka_unit_test(test_mem_string_errors_say_what_to_write),
        cmocka_unit_test(test_code_must_be_given_exactly_once),
        cmocka_unit_test(test_inconsistent_options_are_refused),
        cmocka_unit_test(test_load_decodes_code_and_input),
        cmocka_unit_test(test_load_takes_relative_paths_from_base_dir),
        cmocka_unit_test(test_load_errors_name_the_field),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
