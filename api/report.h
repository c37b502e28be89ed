/*
 * report.h - a job's result as the JSON object `tincan run --json` prints
 * (and each line of `tincan batch` carries), and the mapping from a status
 * to the CLI's exit code. Shared by every front end that reports results.
 */
#ifndef API_REPORT_H
#define API_REPORT_H

#include <jansson.h>

#include "tincan.h"

/* Exit codes for statuses other than ok (ok: the guest's code & 0xff). */
enum {
    REPORT_EXIT_DEADLOCK = 114,
    REPORT_EXIT_UNSUPPORTED_SYSCALL = 115,
    REPORT_EXIT_INSN_LIMIT = 116,
    REPORT_EXIT_OUTPUT_LIMIT = 117,
    REPORT_EXIT_FAULT = 118,
    REPORT_EXIT_UNHANDLED_IO = 119,
    REPORT_EXIT_MMIO = 120,
    REPORT_EXIT_SHUTDOWN = 121,
    REPORT_EXIT_SANDBOX_VIOLATION = 122,
    REPORT_EXIT_INTERNAL_ERROR = 123,
    REPORT_EXIT_TIMEOUT = 124,
    REPORT_EXIT_USAGE = 125,       /* bad usage or input, or KVM not usable */
    REPORT_EXIT_SIGNAL_BASE = 128, /* status signal: 128 + its number */
};

/* Print "tincan: " and the message as one line on stderr; returns
 * REPORT_EXIT_USAGE, for `return report_usage_error(...)`. */
int report_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The one line on stderr saying that auto runs on the emulator here, and
 * why: no /dev/kvm, a software KVM, or kvm_pvm (tc_kvm_kind()), where
 * --backend kvm runs but auto stays on the emulator. */
void report_auto_on_emulator(void);

/* 1 when --backend kvm runs jobs here: hardware KVM, or kvm_pvm through
 * its ring-3 boot path (tc_kvm_kind() "hardware" or "pvm"), else 0. */
int report_kvm_runs(void);

/* --backend kvm where report_kvm_runs() is 0: one line saying why, and
 * REPORT_EXIT_USAGE, for `return report_kvm_refused();`. */
int report_kvm_refused(void);

/* The CLI exit code for r: the guest's exit code & 0xff for ok, 128 + the
 * signal for signal (as a shell says), else the status's code above
 * (internal_error for a status out of range). */
int report_exit_code(const struct tc_result *r);

/*
 * r as a new JSON object: status, exit_code, output (text, or null when not
 * UTF-8), output_b64, output_bytes, exits, wall_us, backend, message, and
 * fault / io / mmio / syscall for those statuses; then stderr, stderr_b64,
 * stderr_bytes, abi, syscalls, unsupported_syscalls, and unsupported_syscall
 * {number, name} (the first such call) and signal {number, name} when there
 * is one. NULL when out of memory.
 */
json_t *report_json(const struct tc_result *r);

#endif
