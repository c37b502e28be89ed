/*
 * report.c - a tc_result as the JSON object of `tincan run --json`, and the
 * status -> exit code mapping of the CLI.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/codec.h"
#include "../sandbox/sandbox.h"

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

void report_auto_on_emulator(void)
{
    const char *kind = tc_kvm_kind();

    if (!strcmp(kind, "none"))
        fputs("tincan: KVM is not usable here; running on the emulator "
              "(--backend emu)\n",
              stderr);
    else if (!strcmp(kind, "pvm"))
        fputs("tincan: KVM here is kvm_pvm (no vmx/svm): auto runs on the "
              "emulator, which starts short jobs faster and keeps the whole "
              "ABI; --backend kvm runs on kvm_pvm (see tincan-abi(7))\n",
              stderr);
    else
        fputs("tincan: KVM here is a software KVM, not hardware (no "
              "vmx/svm), and cannot run the guest ABI; running on the "
              "emulator (--backend emu)\n",
              stderr);
}

int report_kvm_runs(void)
{
    const char *kind = tc_kvm_kind();

    return !strcmp(kind, "hardware") || !strcmp(kind, "pvm");
}

int report_kvm_refused(void)
{
    const char *kind = tc_kvm_kind();

    if (!strcmp(kind, "none"))
        return report_usage_error(
            "%s", "--backend kvm: KVM is not usable here (no /dev/kvm); use "
                  "--backend emu, or the KVM lane: tests/vm/run ...");
    return report_usage_error(
        "%s", "--backend kvm: KVM here is a software KVM, not hardware (no "
              "vmx/svm), and cannot run the guest ABI; use --backend emu (or "
              "auto), or the KVM lane: tests/vm/run ...");
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
        [TC_UNSUPPORTED_SYSCALL] = REPORT_EXIT_UNSUPPORTED_SYSCALL,
        [TC_DEADLOCK] = REPORT_EXIT_DEADLOCK,
    };

    if (r->status == TC_OK)
        return (int)(r->exit_code & GUEST_EXIT_MASK);
    if (r->status == TC_SIGNAL)
        return REPORT_EXIT_SIGNAL_BASE + r->signal;
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

/* Bytes as three fields: NAME (text, or null when not UTF-8), NAME_b64,
 * NAME_bytes. 0, or -1 when out of memory. */
static int add_bytes(json_t *o, const char *name, const unsigned char *p,
                     size_t len)
{
    const uint8_t *bytes = p ? p : (const uint8_t *)"";
    json_t *text = json_stringn((const char *)bytes, len);
    char *b64 = codec_b64_encode(bytes, len), key[32];
    int bad = !b64;

    bad |= json_object_set_new(o, name, text ? text : json_null());
    snprintf(key, sizeof(key), "%s_b64", name);
    bad |= !b64 || json_object_set_new(o, key, json_string(b64));
    snprintf(key, sizeof(key), "%s_bytes", name);
    bad |= json_object_set_new(o, key, json_integer((json_int_t)len));
    free(b64);
    return bad ? -1 : 0;
}

/* {number, name} of a system call or a signal. */
static json_t *numbered(int number, const char *name)
{
    json_t *d = json_object();

    if (d) {
        json_object_set_new(d, "number", json_integer(number));
        json_object_set_new(d, "name", text_or_null(name));
    }
    return d;
}

/* What a Linux guest adds: abi, syscall counts, the first unsupported call
 * and the signal that ended it. 0, or -1 when out of memory. */
static int add_linux(json_t *o, const struct tc_result *r)
{
    char name[48], sig[24];
    int bad = 0;

    bad |= add_bytes(o, "stderr", r->err, r->err_len);
    bad |= json_object_set_new(o, "abi", text_or_null(r->abi));
    bad |= json_object_set_new(o, "syscalls",
                               json_integer((json_int_t)r->syscalls));
    bad |=
        json_object_set_new(o, "unsupported_syscalls",
                            json_integer((json_int_t)r->unsupported_syscalls));
    if (r->unsupported_syscalls && r->unsupported_syscall >= 0)
        bad |= json_object_set_new(
            o, "unsupported_syscall",
            numbered(
                r->unsupported_syscall,
                sbx_syscall_name(r->unsupported_syscall, name, sizeof(name))));
    if (r->status == TC_SIGNAL) {
        const char *abbrev = sigabbrev_np(r->signal);
        snprintf(sig, sizeof(sig), "SIG%s", abbrev ? abbrev : "?");
        bad |= json_object_set_new(o, "signal", numbered(r->signal, sig));
    }
    return bad ? -1 : 0;
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
        bad |= add_linux(o, r);
    }
    free(b64);
    json_decref(text);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
