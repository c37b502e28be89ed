/*
 * emu_cov.c - the emulator's fuzzing feedback (see emu_cov.h). Edges as in
 * AFL's QEMU mode: a block at address A has the hash
 * h(A) = ((A >> 4) ^ (A << 8)) mod the map size; entering it after a block
 * whose hash was p counts map[h(A) ^ p], and p becomes h(A) >> 1 (so that
 * A -> B and B -> A differ, and a tight loop A -> A does not land on 0).
 * Counts saturate at 255; the parent sorts them into AFL's hit-count
 * buckets. Compares: Unicorn 2.0.1 calls the hook for every TCG subtraction
 * that sets the flags (x86 CMP, with UC_TCG_OP_FLAG_CMP) with the
 * instruction's address, the operands as 64-bit values (a register operand
 * whole, an immediate sign-extended) and the operand size in bits; only the
 * low size bits are the compare's, so both are masked here. Compares whose
 * operands are already equal teach a fuzzer nothing and are not logged.
 */
#include "emu_cov.h"

#include <errno.h>
#include <stdio.h>
#include <unicorn/unicorn.h>

#define COV_HASH_SHIFT_R 4 /* AFL QEMU mode: (A >> 4) ^ (A << 8) */
#define COV_HASH_SHIFT_L 8
#define COV_COUNT_MAX    255 /* a byte's count saturates */
#define BITS_PER_BYTE    8
#define CMP_BYTES_MAX    8
/* Fibonacci hashing of a compare's rip into the site table. */
#define CMP_SITE_MULT 0x9E3779B97F4A7C15ULL
#define CMP_SITE_BITS 12 /* log2(SBX_CMP_SITES) */
_Static_assert(SBX_CMP_SITES == 1u << CMP_SITE_BITS, "site table size");

static uint64_t block_hash(uint64_t addr)
{
    return ((addr >> COV_HASH_SHIFT_R) ^ (addr << COV_HASH_SHIFT_L)) &
           (SBX_EDGE_MAP_SIZE - 1);
}

static void on_edge(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_cov *c = user;
    uint64_t cur = block_hash(addr);
    uint8_t *count = &c->fb->edges[cur ^ c->prev];

    (void)uc;
    (void)size;
    if (*count < COV_COUNT_MAX)
        (*count)++;
    c->prev = cur >> 1;
}

static void on_cmp(uc_engine *uc, uint64_t rip, uint64_t a, uint64_t b,
                   uint32_t bits, void *user)
{
    struct emu_cov *c = user;
    unsigned bytes = bits / BITS_PER_BYTE;
    uint64_t mask;
    uint8_t *site;

    (void)uc;
    if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != CMP_BYTES_MAX)
        return;
    mask = bytes == CMP_BYTES_MAX ? UINT64_MAX : (1ULL << bits) - 1;
    a &= mask;
    b &= mask;
    if (a == b || c->cmp_len >= c->cmp_cap)
        return;
    site = &c->fb->cmp_site_hits[(rip * CMP_SITE_MULT) >> (64 - CMP_SITE_BITS)];
    if (*site >= SBX_CMP_PER_SITE)
        return;
    (*site)++;
    c->fb->cmps[c->cmp_len] =
        (struct sbx_cmp){.rip = rip, .a = a, .b = b, .size = bytes};
    c->cmp_len++;
    /* Publish after the record: a parent reading after a SIGKILL sees it. */
    __atomic_store_n(&c->fb->cmp_len, c->cmp_len, __ATOMIC_RELEASE);
}

static int cov_fail(char *err, size_t errlen, const char *step, uc_err e)
{
    snprintf(err, errlen, "%s: %s", step, uc_strerror(e));
    return e == UC_ERR_NOMEM ? -ENOMEM : -EIO;
}

int emu_cov_hook(struct uc_struct *uc, struct emu_cov *cov, unsigned feedback,
                 char *err, size_t errlen)
{
    uc_hook h;
    uc_err e;

    if (feedback & SBX_FEEDBACK_EDGES) {
        e = uc_hook_add(uc, &h, UC_HOOK_BLOCK, (void *)on_edge, cov, 1, 0);
        if (e != UC_ERR_OK)
            return cov_fail(err, errlen, "uc_hook_add of the edge hook", e);
    }
    if (feedback & SBX_FEEDBACK_CMPS) {
        e = uc_hook_add(uc, &h, UC_HOOK_TCG_OPCODE, (void *)on_cmp, cov, 1, 0,
                        UC_TCG_OP_SUB, UC_TCG_OP_FLAG_CMP);
        if (e != UC_ERR_OK)
            return cov_fail(err, errlen, "uc_hook_add of the compare hook", e);
    }
    return 0;
}

void emu_cov_start(struct emu_cov *cov, const struct sbx_job *job,
                   struct sbx_report *rep)
{
    cov->fb = (struct sbx_feedback *)((uint8_t *)rep + job->feedback_off);
    cov->prev = 0;
    cov->cmp_len = 0;
    cov->cmp_cap = job->cmp_cap;
}
