/*
 * abi.c - the host side of the guest ABI: ports, output, bulk writes, fault
 * reports. Shared by every backend; runs in the child after lockdown, so it
 * makes no syscalls of its own.
 */
#include "abi.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "lx.h"
#include "x86.h"
#include "tincan_abi.h"

int abi_range_ok(const struct abi_guest *g, uint64_t addr, uint64_t len)
{
    if (addr < TINCAN_NULL_PAGE_END || addr > g->mem_size)
        return 0;
    return len <= g->mem_size - addr;
}

int abi_user_range_ok(const struct abi_guest *g, uint64_t addr, uint64_t len)
{
    return addr >= TINCAN_RESERVED_END && abi_range_ok(g, addr, len);
}

#define WALK_LEVELS    4
#define WALK_IDX_BITS  9
#define WALK_IDX_MASK  0x1FFULL
#define WALK_TOP_SHIFT 39                    /* PML4 index: bits 47-39 */
#define WALK_ADDR_MASK 0x000FFFFFFFFFF000ULL /* an entry's frame, 4 KiB */
#define WALK_ENTRY     8                     /* bytes per entry */

enum abi_walk abi_walk(const struct abi_guest *g, uint64_t cr3, uint64_t va,
                       uint64_t *out)
{
    uint64_t table = cr3 & WALK_ADDR_MASK;
    unsigned shift = WALK_TOP_SHIFT;

    for (unsigned level = 0; level < WALK_LEVELS; level++) {
        uint64_t at = table + ((va >> shift) & WALK_IDX_MASK) * WALK_ENTRY;
        uint64_t e;
        if (at < TINCAN_NULL_PAGE_END)
            return ABI_WALK_NOT_PRESENT; /* page 0: zeros */
        if (!abi_range_ok(g, at, WALK_ENTRY)) {
            *out = at;
            return ABI_WALK_OUTSIDE;
        }
        memcpy(&e, g->mem + at, sizeof(e));
        if (!(e & PTE_P))
            return ABI_WALK_NOT_PRESENT;
        /* PS in a PDPT (1 GiB) or PD (2 MiB) entry: a large page */
        if (level > 0 && level < WALK_LEVELS - 1 && (e & PTE_PS)) {
            uint64_t size = 1ULL << shift;
            *out = (e & WALK_ADDR_MASK & ~(size - 1)) | (va & (size - 1));
            return ABI_WALK_OK;
        }
        table = e & WALK_ADDR_MASK;
        shift -= WALK_IDX_BITS;
    }
    *out = table | (va & (PAGE_SIZE - 1));
    return ABI_WALK_OK;
}

/* The first end is final: an emulator may report more events from the
 * same translated block after the guest has already ended the job. */
static int ended(const struct abi_guest *g)
{
    return __atomic_load_n(&g->rep->done, __ATOMIC_ACQUIRE) != 0;
}

int abi_end(struct abi_guest *g, enum sbx_status st, const char *fmt, ...)
{
    va_list ap;

    if (ended(g))
        return ABI_END;

    va_start(ap, fmt);
    vsnprintf(g->rep->message, sizeof(g->rep->message), fmt, ap);
    va_end(ap);
    g->rep->status = st;
    __atomic_store_n(&g->rep->done, 1, __ATOMIC_RELEASE);
    return ABI_END;
}

/* Append to a stream, up to its cap; past it, end with output_limit. */
int abi_emit(struct abi_guest *g, enum abi_stream s, const uint8_t *p,
             uint64_t len)
{
    struct sbx_report *r = g->rep;
    int err = s == ABI_STDERR;
    uint64_t *lenp = err ? &r->err_len : &r->out_len;
    uint64_t cap = err ? r->err_cap : r->out_cap;
    unsigned char *base = err ? r->out + r->out_cap : r->out;
    uint64_t used = *lenp;
    uint64_t room = cap - used;
    uint64_t n = len < room ? len : room;

    memcpy(base + used, p, n);
    /* Publish after the bytes: a parent reading after SIGKILL sees both. */
    __atomic_store_n(lenp, used + n, __ATOMIC_RELEASE);
    if (n < len)
        return abi_end(g, SBX_OUTPUT_LIMIT,
                       "%s passed the limit of %" PRIu64 " bytes",
                       err ? "stderr" : "output", cap);
    return ABI_CONTINUE;
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int unhandled(struct abi_guest *g, uint16_t port, int out, unsigned size,
                     uint32_t count, const char *why)
{
    g->rep->io.port = port;
    g->rep->io.out = (uint8_t)out;
    g->rep->io.size = (uint8_t)size;
    g->rep->io.count = count;
    return abi_end(g, SBX_UNHANDLED_IO, "%s of %u byte%s %s port 0x%x%s%s",
                   out ? "OUT" : "IN", size, size == 1 ? "" : "s",
                   out ? "to" : "from", port, why ? ": " : "", why ? why : "");
}

/* Ports TINCAN_PORT_WRITE and _ERR_WRITE: the value is the GPA of
 * {u64 addr, u64 len}. */
static int bulk_write(struct abi_guest *g, uint16_t port, enum abi_stream s,
                      unsigned size, uint32_t count, const uint8_t *data)
{
    if (size != 4 || count != 1)
        return unhandled(g, port, 1, size, count,
                         "a bulk write is one 32-bit OUT (outl)");

    uint64_t desc = load_le(data, 4);
    if (!abi_range_ok(g, desc, TINCAN_WRITE_DESC_SIZE))
        return unhandled(g, port, 1, size, count,
                         "bulk write descriptor lies outside guest memory");

    uint64_t addr = load_le(g->mem + desc, 8);
    uint64_t len = load_le(g->mem + desc + 8, 8);
    if (!abi_range_ok(g, addr, len)) {
        g->rep->io.port = port;
        g->rep->io.out = 1;
        g->rep->io.size = (uint8_t)size;
        g->rep->io.count = count;
        return abi_end(g, SBX_UNHANDLED_IO,
                       "bulk write of %" PRIu64 " bytes at 0x%" PRIx64
                       " lies outside guest memory [0x%x, 0x%" PRIx64 ")",
                       len, addr, TINCAN_NULL_PAGE_END, g->mem_size);
    }
    return len ? abi_emit(g, s, g->mem + addr, len) : ABI_CONTINUE;
}

int abi_out(struct abi_guest *g, uint16_t port, unsigned size, uint32_t count,
            const uint8_t *data)
{
    if (ended(g))
        return ABI_END;
    switch (port) {
    case TINCAN_PORT_OUTPUT:
        return abi_emit(g, ABI_STDOUT, data, (uint64_t)size * count);
    case TINCAN_PORT_EXIT:
        g->rep->exit_code = load_le(data, size);
        return abi_end(g, SBX_OK, "exited with code %" PRIu64,
                       g->rep->exit_code);
    case TINCAN_PORT_WRITE:
        return bulk_write(g, port, ABI_STDOUT, size, count, data);
    case TINCAN_PORT_FAULT:
        return abi_fault(g, data[0]);
    case TINCAN_PORT_ERR:
        return abi_emit(g, ABI_STDERR, data, (uint64_t)size * count);
    case TINCAN_PORT_ERR_WRITE:
        return bulk_write(g, port, ABI_STDERR, size, count, data);
    case TINCAN_PORT_SYSCALL:
        /* Only a Linux guest's stub speaks here: its program runs in ring
         * 3, where OUT is a #GP; an SDK guest has no such port. */
        if (!g->lx)
            return unhandled(g, port, 1, size, count,
                             "the port is reserved for Linux guests' system "
                             "calls");
        return lx_on_port(g);
    default:
        return unhandled(g, port, 1, size, count, NULL);
    }
}

int abi_in(struct abi_guest *g, uint16_t port, unsigned size, uint32_t count)
{
    if (ended(g))
        return ABI_END;
    return unhandled(g, port, 0, size, count, NULL);
}

int abi_mmio(struct abi_guest *g, uint64_t addr, unsigned size, int write)
{
    if (ended(g))
        return ABI_END;
    g->rep->mmio.address = addr;
    g->rep->mmio.size = size;
    g->rep->mmio.write = (uint8_t)write;
    return abi_end(g, SBX_MMIO,
                   "%s of %u bytes at 0x%" PRIx64
                   ", outside guest memory [0x%x, 0x%" PRIx64 ")",
                   write  ? "write"
                   : size ? "read"
                          : "instruction fetch",
                   size, addr, TINCAN_NULL_PAGE_END, g->mem_size);
}

int abi_mmio_unsized(struct abi_guest *g, uint64_t addr, int write)
{
    if (ended(g))
        return ABI_END;
    g->rep->mmio.address = addr;
    g->rep->mmio.size = 0;
    g->rep->mmio.write = (uint8_t)write;
    return abi_end(g, SBX_MMIO,
                   "%s of unknown size at 0x%" PRIx64
                   ", outside guest memory [0x%x, 0x%" PRIx64 ")",
                   write ? "write" : "read", addr, TINCAN_NULL_PAGE_END,
                   g->mem_size);
}

int abi_halt(struct abi_guest *g)
{
    if (ended(g))
        return ABI_END;
    g->rep->exit_code = 0;
    return abi_end(g, SBX_OK, "halted");
}

/*
 * The stub left [error code, rip, cs, rflags, rsp, ss] on the IST1 stack
 * (error code 0 where the CPU pushes none); rsp comes from the CPU.
 */
int abi_fault_at(struct abi_guest *g, unsigned vector, uint64_t error_code,
                 uint64_t rip, uint64_t cr2)
{
    struct sbx_report *r = g->rep;

    if (ended(g))
        return ABI_END;
    r->fault.vector = vector;
    r->fault.has_error_code = (uint32_t)boot_vector_has_error_code(vector);
    snprintf(r->fault.name, sizeof(r->fault.name), "%s",
             boot_vector_name(vector));
    r->fault.error_code = r->fault.has_error_code ? error_code : 0;
    r->fault.rip = rip;
    r->fault.cr2 = vector == X86_EXC_PF ? cr2 : 0;
    if (vector == X86_EXC_PF && g->guard_len && cr2 >= g->guard &&
        cr2 - g->guard < g->guard_len)
        return abi_end(g, SBX_FAULT,
                       "stack overflow: %s (vector %u) at rip 0x%" PRIx64
                       ", address 0x%" PRIx64
                       " in the guard pages below the stack",
                       r->fault.name, vector, r->fault.rip, r->fault.cr2);
    if (vector == X86_EXC_PF)
        return abi_end(g, SBX_FAULT,
                       "%s (vector %u) at rip 0x%" PRIx64 ", address 0x%" PRIx64
                       ", error code 0x%" PRIx64,
                       r->fault.name, vector, r->fault.rip, r->fault.cr2,
                       r->fault.error_code);
    if (r->fault.has_error_code)
        return abi_end(
            g, SBX_FAULT,
            "%s (vector %u) at rip 0x%" PRIx64 ", error code 0x%" PRIx64,
            r->fault.name, vector, r->fault.rip, r->fault.error_code);
    return abi_end(g, SBX_FAULT, "%s (vector %u) at rip 0x%" PRIx64,
                   r->fault.name, vector, r->fault.rip);
}

int abi_fault(struct abi_guest *g, unsigned vector)
{
    uint64_t rip = 0, rsp = 0, cr2 = 0;
    int err = g->cpu.read(g->cpu.ctx, &rip, &rsp, &cr2);

    if (err)
        return abi_end(g, SBX_INTERNAL_ERROR,
                       "reading the vCPU state of exception %u: %s", vector,
                       strerror(-err));
    /* Only tincan's stubs may speak on the fault port. */
    if (rip < TINCAN_STUBS_ADDR || rip >= TINCAN_STUBS_END)
        return unhandled(g, TINCAN_PORT_FAULT, 1, 1, 1,
                         "the port is reserved for tincan's exception stubs");
    if (abi_range_ok(g, rsp, 16))
        return abi_fault_at(g, vector, load_le(g->mem + rsp, 8),
                            load_le(g->mem + rsp + 8, 8), cr2);
    return abi_fault_at(g, vector, 0, 0, cr2);
}
