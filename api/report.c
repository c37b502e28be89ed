/*
 * report.c - a tc_result as the JSON object of `tincan run --json`, and the
 * status -> exit code mapping of the CLI.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../runner/codec.h"

#define GUEST_EXIT_MASK 0xffu
#define PF_VECTOR       14

int report_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("tincan: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    return REPORT_EXIT_USAGE;
}

int report_exit_code(const struct tc_result *r)
{
    static const int codes[TC_STATUS_COUNT] = {
        [TC_TIMEOUT] = REPORT_EXIT_TIMEOUT,
        [TC_OUTPUT_LIMIT] = REPORT_EXIT_OUTPUT_LIMIT,
        [TC_FAULT] = REPORT_EXIT_FAULT,
        [TC_UNHANDLED_IO] = REPORT_EXIT_UNHANDLED_IO,
        [TC_MMIO] = REPORT_EXIT_MMIO,
        [TC_SHUTDOWN] = REPORT_EXIT_SHUTDOWN,
        [TC_SANDBOX_VIOLATION] = REPORT_EXIT_SANDBOX_VIOLATION,
        [TC_INTERNAL_ERROR] = REPORT_EXIT_INTERNAL_ERROR,
        [TC_INSN_LIMIT] = REPORT_EXIT_INSN_LIMIT,
    };

    if (r->status == TC_OK)
        return (int)(r->exit_code & GUEST_EXIT_MASK);
    if ((unsigned)r->status < TC_STATUS_COUNT)
        return codes[r->status];
    return REPORT_EXIT_INTERNAL_ERROR;
}

static json_t *hex_str(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

/* A string the child may have written: null when it is not UTF-8. */
static json_t *text_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;

    return j ? j : json_null();
}

/* Adds the status's details (fault, io, mmio, syscall): 0, or -1 when out
 * of memory. */
static int add_details(json_t *o, const struct tc_result *r)
{
    json_t *d;

    switch (r->status) {
    case TC_FAULT:
        d = json_object();
        if (!d)
            return -1;
        json_object_set_new(d, "vector", json_integer(r->fault.vector));
        json_object_set_new(d, "name", text_or_null(r->fault.name));
        json_object_set_new(d, "error_code",
                            r->fault.has_error_code
                                ? hex_str(r->fault.error_code)
                                : json_null());
        json_object_set_new(d, "rip", hex_str(r->fault.rip));
        json_object_set_new(d, "cr2",
                            r->fault.vector == PF_VECTOR ? hex_str(r->fault.cr2)
                                                         : json_null());
        return json_object_set_new(o, "fault", d);
    case TC_UNHANDLED_IO:
        d = json_object();
        if (!d)
            return -1;
        json_object_set_new(d, "port", hex_str(r->io.port));
        json_object_set_new(d, "direction",
                            json_string(r->io.out ? "out" : "in"));
        json_object_set_new(d, "size", json_integer(r->io.size));
        return json_object_set_new(o, "io", d);
    case TC_MMIO:
        d = json_object();
        if (!d)
            return -1;
        json_object_set_new(d, "address", hex_str(r->mmio.address));
        json_object_set_new(d, "write", json_boolean(r->mmio.write));
        json_object_set_new(d, "size", json_integer(r->mmio.size));
        return json_object_set_new(o, "mmio", d);
    case TC_SANDBOX_VIOLATION:
        return json_object_set_new(o, "syscall",
                                   json_integer(r->violation_syscall));
    default:
        return 0;
    }
}

json_t *report_json(const struct tc_result *r)
{
    const uint8_t *bytes = r->output ? r->output : (const uint8_t *)"";
    json_t *o = json_object();
    /* json_stringn() refuses bytes that are not UTF-8: then null. */
    json_t *text = json_stringn((const char *)bytes, r->output_len);
    char *b64 = codec_b64_encode(bytes, r->output_len);
    int bad = !o || !b64;

    if (!bad) {
        bad |= json_object_set_new(o, "status",
                                   json_string(tc_status_name(r->status)));
        bad |= json_object_set_new(o, "exit_code",
                                   json_integer((json_int_t)r->exit_code));
        bad |= json_object_set_new(o, "output", text ? text : json_null());
        text = NULL;
        bad |= json_object_set_new(o, "output_b64", json_string(b64));
        bad |= json_object_set_new(o, "output_bytes",
                                   json_integer((json_int_t)r->output_len));
        bad |=
            json_object_set_new(o, "exits", json_integer((json_int_t)r->exits));
        bad |= json_object_set_new(o, "wall_us",
                                   json_integer((json_int_t)r->wall_us));
        bad |= json_object_set_new(o, "peak_rss_kib",
                                   json_integer((json_int_t)r->peak_rss_kib));
        bad |= json_object_set_new(o, "backend", text_or_null(r->backend));
        bad |= json_object_set_new(o, "message", text_or_null(r->message));
        bad |= add_details(o, r);
    }
    free(b64);
    json_decref(text);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
