/* test_jobrun_codec.c - a job's outcome as the JSON text a queue carries
 * between a worker and a producer (jobrun_out_encode / _decode): results
 * and errors come back as they went, and text that is not a result is an
 * internal error saying so, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../api/jobrun.h"

static const char one_run[] =
    "{\"status\":\"fault\",\"exit_code\":null,\"output\":\"A\","
    "\"wall_us\":812,\"backend\":\"emu\",\"message\":\"#UD\"}";
static const char inputs_form[] =
    "{\"status\":\"timeout\",\"results\":["
    "{\"status\":\"ok\",\"wall_us\":100,\"backend\":\"kvm\"},"
    "{\"status\":\"timeout\",\"wall_us\":250,\"backend\":\"kvm\"}]}";

static void test_a_result_object_decodes_with_its_status_and_times(void **s)
{
    static const struct {
        const char *text;
        enum tc_status status;
        const char *backend;
        uint64_t wall_us;
        unsigned runs;
    } cases[] = {
        {one_run, TC_FAULT, "emu", 812, 1},
        {inputs_form, TC_TIMEOUT, "kvm", 350, 2},
    };
    (void)s;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jobrun_out out;
        char *again;

        assert_int_equal(
            jobrun_out_decode(cases[i].text, strlen(cases[i].text), &out), 0);
        assert_int_equal(out.error, JOBRUN_RAN);
        assert_int_equal(out.status, cases[i].status);
        assert_string_equal(out.backend, cases[i].backend);
        assert_int_equal(out.wall_us, cases[i].wall_us);
        assert_int_equal(out.runs, cases[i].runs);
        again = jobrun_out_encode(&out);
        assert_string_equal(again, cases[i].text); /* the same object back */
        free(again);
        jobrun_out_free(&out);
    }
}

static void test_errors_keep_their_kind_field_and_message(void **s)
{
    static const struct {
        enum jobrun_error error;
        const char *field, *message, *text;
    } cases[] = {
        {JOBRUN_BAD_JOB, "code_hex", "\"code_hex\": bad hex",
         "{\"status\":\"error\",\"error\":\"bad_job\",\"message\":"
         "\"\\\"code_hex\\\": bad hex\",\"field\":\"code_hex\"}"},
        {JOBRUN_CANCELED, "", "canceled",
         "{\"status\":\"error\",\"error\":\"canceled\",\"message\":"
         "\"canceled\"}"},
        {JOBRUN_INTERNAL, "", "out of memory",
         "{\"status\":\"error\",\"error\":\"internal\",\"message\":"
         "\"out of memory\"}"},
    };
    (void)s;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jobrun_out in, out;
        char *text;

        memset(&in, 0, sizeof(in));
        in.error = cases[i].error;
        strcpy(in.field, cases[i].field);
        strcpy(in.message, cases[i].message);
        text = jobrun_out_encode(&in);
        assert_string_equal(text, cases[i].text);
        assert_int_equal(jobrun_out_decode(text, strlen(text), &out), 0);
        assert_int_equal(out.error, cases[i].error);
        assert_string_equal(out.field, cases[i].field);
        assert_string_equal(out.message, cases[i].message);
        assert_null(out.result);
        free(text);
        jobrun_out_free(&out);
    }
}

static void test_an_error_without_a_known_kind_is_internal(void **s)
{
    /* What a batch line's error looks like, and an unknown kind. */
    static const char *const texts[] = {
        "{\"status\":\"error\",\"message\":\"line 3: bad\"}",
        "{\"status\":\"error\",\"error\":\"sideways\",\"message\":\"m\"}",
    };
    (void)s;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct jobrun_out out;

        assert_int_equal(jobrun_out_decode(texts[i], strlen(texts[i]), &out),
                         0);
        assert_int_equal(out.error, JOBRUN_INTERNAL);
        assert_string_equal(out.message, i == 0 ? "line 3: bad" : "m");
    }
}

static void test_text_that_is_not_a_result_is_an_internal_error(void **s)
{
    static const char *const texts[] = {
        "",
        "not json",
        "[1,2]",
        "{\"status\":\"sideways\",\"wall_us\":1,\"backend\":\"kvm\"}",
        "{\"status\":\"ok\",\"backend\":\"kvm\"}",
        "{\"status\":\"ok\",\"wall_us\":-5,\"backend\":\"kvm\"}",
        "{\"status\":\"ok\",\"wall_us\":1,\"backend\":\"qemu\"}",
        "{\"status\":\"ok\",\"results\":[{\"status\":\"ok\"}]}",
        "{\"status\":\"ok\",\"status\":\"ok\",\"wall_us\":1,\"backend\":"
        "\"kvm\"}",
    };
    (void)s;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct jobrun_out out;

        assert_int_equal(jobrun_out_decode(texts[i], strlen(texts[i]), &out),
                         -EPROTO);
        assert_int_equal(out.error, JOBRUN_INTERNAL);
        assert_null(out.result);
        assert_string_equal(out.message,
                            "the result a worker stored is not a job's result "
                            "(not JSON, or a status, wall_us or backend "
                            "missing)");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_a_result_object_decodes_with_its_status_and_times),
        cmocka_unit_test(test_errors_keep_their_kind_field_and_message),
        cmocka_unit_test(test_an_error_without_a_known_kind_is_internal),
        cmocka_unit_test(test_text_that_is_not_a_result_is_an_internal_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
