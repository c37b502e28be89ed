/*
 * abi.h - the host side of the guest ABI (guests/ABI.md), independent of the
 * backend: what an OUT, IN, MMIO access, HLT or exception stub means, with
 * every guest-supplied address and length checked against guest memory.
 * A backend decodes its exit and calls one of these; each returns
 * ABI_CONTINUE to resume the guest or ABI_END when the job has ended (the
 * final status is then in the report).
 */
#ifndef SANDBOX_ABI_H
#define SANDBOX_ABI_H

#include <stdint.h>

#include "sandbox.h"

#define ABI_CONTINUE 0
#define ABI_END      1

/* Reads the CPU state a fault report needs; returns 0 or -errno. */
struct abi_cpu {
    int (*read)(void *ctx, uint64_t *rip, uint64_t *rsp, uint64_t *cr2);
    void *ctx;
};

struct lx_proc;

struct abi_guest {
    uint8_t *mem;      /* host address of guest-physical 0 */
    uint64_t mem_size; /* backed: [TINCAN_NULL_PAGE_END, mem_size) */
    struct sbx_report *rep;
    struct abi_cpu cpu;
    struct lx_proc *lx;        /* a Linux guest's process (lx.c), else NULL */
    uint64_t guard, guard_len; /* the not-present pages below the stack */
};

/* The job's two output streams. */
enum abi_stream {
    ABI_STDOUT = 0, /* the output: port 0x10, bulk 0x12, fd 1 */
    ABI_STDERR,     /* stderr: port 0x14, bulk 0x15, fd 2 */
};

/* 1 when [addr, addr + len) lies in backed guest memory (overflow-safe). */
int abi_range_ok(const struct abi_guest *g, uint64_t addr, uint64_t len);
/* The same for a pointer a ring-3 (Linux) program hands the host: also
 * refused below TINCAN_RESERVED_END, tincan's own supervisor pages
 * (tables, stubs, the frame), which the program itself cannot reach. */
int abi_user_range_ok(const struct abi_guest *g, uint64_t addr, uint64_t len);

/* What a page walk found (abi_walk). */
enum abi_walk {
    ABI_WALK_OK,          /* mapped: *out is the guest-physical address */
    ABI_WALK_NOT_PRESENT, /* an entry without P: the CPU's #PF */
    ABI_WALK_OUTSIDE,     /* a table entry lies outside guest memory: *out
                             is its address (page 0 reads as zeros) */
};

/*
 * The CPU's 4-level walk of va through the tables at cr3 in guest memory
 * (present bits; 1 GiB and 2 MiB pages), reading nothing outside it.
 */
enum abi_walk abi_walk(const struct abi_guest *g, uint64_t cr3, uint64_t va,
                       uint64_t *out);

/* Append len bytes at p (already checked) to a stream, up to its cap;
 * past it the job ends as output_limit. */
int abi_emit(struct abi_guest *g, enum abi_stream s, const uint8_t *p,
             uint64_t len);

/* An OUT of count elements of size bytes each, data little-endian. */
int abi_out(struct abi_guest *g, uint16_t port, unsigned size, uint32_t count,
            const uint8_t *data);
/* An IN: never served. */
int abi_in(struct abi_guest *g, uint16_t port, unsigned size, uint32_t count);
/* An access to guest-physical addr that has no memory behind it. */
int abi_mmio(struct abi_guest *g, uint64_t addr, unsigned size, int write);
/* The same for a data access whose size nobody decoded (size 0). */
int abi_mmio_unsized(struct abi_guest *g, uint64_t addr, int write);
/* HLT: the job ends ok with exit code 0. */
int abi_halt(struct abi_guest *g);
/* A CPU exception, as reported by the guest's exception stub. */
int abi_fault(struct abi_guest *g, unsigned vector);
/* A CPU exception whose details the backend knows itself (the emulator). */
int abi_fault_at(struct abi_guest *g, unsigned vector, uint64_t error_code,
                 uint64_t rip, uint64_t cr2);

/* End the job with a status and a printf-style message. */
int abi_end(struct abi_guest *g, enum sbx_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
