/* test_report.c - a tc_result as `tincan run --json`'s object, and the
 * status -> exit code mapping of the CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../api/report.h"

static void result_init(struct tc_result *r, enum tc_status st)
{
    memset(r, 0, sizeof(*r));
    r->status = st;
    r->backend = "emu";
    r->abi = "tincan";
    r->violation_syscall = -1;
    r->unsupported_syscall = -1;
}

/* What every object ends with for an SDK guest: no stderr, no syscalls. */
#define SDK_TAIL                                                               \
    "\"stderr\":\"\",\"stderr_b64\":\"\",\"stderr_bytes\":0,\"abi\":"          \
    "\"tincan\","                                                              \
    "\"syscalls\":0,\"unsupported_syscalls\":0}"

/* o as compact JSON, compared with want. */
static void json_is(json_t *o, const char *want)
{
    char *s;

    assert_non_null(o);
    s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
    json_decref(o);
}

static void test_exit_codes_follow_the_status(void **state)
{
    static const int want[TC_STATUS_COUNT] = {
        [TC_OK] = 42, /* exit code 0x12a, low 8 bits */
        [TC_TIMEOUT] = 124,
        [TC_OUTPUT_LIMIT] = 117,
        [TC_FAULT] = 118,
        [TC_UNHANDLED_IO] = 119,
        [TC_MMIO] = 120,
        [TC_SHUTDOWN] = 121,
        [TC_SANDBOX_VIOLATION] = 122,
        [TC_INTERNAL_ERROR] = 123,
        [TC_INSN_LIMIT] = 116,
        [TC_UNSUPPORTED_SYSCALL] = 115,
        [TC_SIGNAL] = 128 + 6,
        [TC_DEADLOCK] = 114,
    };
    struct tc_result r;

    (void)state;
    for (int st = 0; st < TC_STATUS_COUNT; st++) {
        result_init(&r, (enum tc_status)st);
        r.exit_code = 0x100 + 42;
        r.signal = 6;
        assert_int_equal(report_exit_code(&r), want[st]);
    }
    result_init(&r, TC_STATUS_COUNT);
    assert_int_equal(report_exit_code(&r), REPORT_EXIT_INTERNAL_ERROR);
}

static void test_ok_json_has_text_and_bytes(void **state)
{
    struct tc_result r;

    (void)state;
    result_init(&r, TC_OK);
    r.output = (unsigned char *)"hi\n";
    r.output_len = 3;
    r.exit_code = 7;
    r.exits = 4;
    r.wall_us = 1234;
    r.peak_rss_kib = 2048;
    strcpy(r.message, "exit code 7");
    json_is(report_json(&r),
            "{\"status\":\"ok\",\"exit_code\":7,\"output\":\"hi\\n\","
            "\"output_b64\":\"aGkK\",\"output_bytes\":3,\"exits\":4,"
            "\"wall_us\":1234,\"peak_rss_kib\":2048,\"backend\":\"emu\","
            "\"message\":\"exit code 7\"," SDK_TAIL);
}

static void test_output_that_is_not_utf8_is_null_text(void **state)
{
    struct tc_result r;

    (void)state;
    result_init(&r, TC_TIMEOUT);
    r.output = (unsigned char *)"\xff\xfe";
    r.output_len = 2;
    json_is(report_json(&r),
            "{\"status\":\"timeout\",\"exit_code\":0,\"output\":null,"
            "\"output_b64\":\"//4=\",\"output_bytes\":2,\"exits\":0,"
            "\"wall_us\":0,\"peak_rss_kib\":0,\"backend\":\"emu\",\"message\":"
            "\"\"," SDK_TAIL);
}

static void test_details_follow_the_status(void **state)
{
    struct tc_result r;

    (void)state;
    result_init(&r, TC_FAULT);
    r.fault.vector = 14;
    strcpy(r.fault.name, "#PF");
    r.fault.has_error_code = 1;
    r.fault.error_code = 2;
    r.fault.rip = 0x10003;
    r.fault.cr2 = 0;
    json_is(report_json(&r),
            "{\"status\":\"fault\",\"exit_code\":0,\"output\":\"\","
            "\"output_b64\":\"\",\"output_bytes\":0,\"exits\":0,\"wall_us\":0,"
            "\"peak_rss_kib\":0,"
            "\"backend\":\"emu\",\"message\":\"\",\"fault\":{\"vector\":14,"
            "\"name\":\"#PF\",\"error_code\":\"0x2\",\"rip\":\"0x10003\","
            "\"cr2\":\"0x0\"}," SDK_TAIL);
}

/* The object key of r's JSON, as compact JSON. */
static void detail_is(const struct tc_result *r, const char *key,
                      const char *want)
{
    json_t *o = report_json(r);

    assert_non_null(o);
    json_is(json_incref(json_object_get(o, key)), want);
    json_decref(o);
}

static void test_io_mmio_and_syscall_details(void **state)
{
    struct tc_result r;

    (void)state;
    result_init(&r, TC_UNHANDLED_IO);
    r.io.port = 0x60;
    r.io.out = 0;
    r.io.size = 1;
    detail_is(&r, "io", "{\"port\":\"0x60\",\"direction\":\"in\",\"size\":1}");
    result_init(&r, TC_MMIO);
    r.mmio.address = 0xc0000000;
    r.mmio.write = 1;
    r.mmio.size = 4;
    detail_is(&r, "mmio",
              "{\"address\":\"0xc0000000\",\"write\":true,\"size\":4}");
    result_init(&r, TC_SANDBOX_VIOLATION);
    r.violation_syscall = 59;
    detail_is(&r, "syscall", "59");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes_follow_the_status),
        cmocka_unit_test(test_ok_json_has_text_and_bytes),
        cmocka_unit_test(test_output_that_is_not_utf8_is_null_text),
        cmocka_unit_test(test_details_follow_the_status),
        cmocka_unit_test(test_io_mmio_and_syscall_details),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
