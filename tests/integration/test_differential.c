/* test_differential.c - random code on both backends: 2,000 blobs from a
 * seeded generator (random bytes, and random sequences of valid
 * instructions), each run on KVM and on the emulator with a short timeout.
 * Each must end in time with a defined status on both, and both must give
 * the same status, output, exit code and fault vector, unless the pair
 * falls in one of the justified classes below (guests/ABI.md, "Differences
 * between backends"), each recognised by a predicate on the blob and the
 * two results. Any other difference fails the test, printed with the seed,
 * the blob, its disassembly (objdump, when installed) and both results.
 * TINCAN_DIFF_SEED and TINCAN_DIFF_COUNT override the seed and the count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api/tincan.h"
#include "helpers.h"

#define TIMEOUT_MS 100
/* A pair that differs with a timeout is run again with this deadline: a
 * loaded machine (or the lane's TCG) can stretch 100 ms of guest work. */
#define RETRY_TIMEOUT_MS 1000
/* Past the deadline: the runner's 100 ms kill slack, plus 1.4 s for fork
 * and reaping in the lane (TCG) on a loaded machine (666 ms seen at load
 * 5 on 2 cores). It catches jobs that do not end, not slow ones. */
#define WALL_SLACK_US ((100 + 1400) * 1000ULL)
#define MAX_BLOB      64
#define ENTRY         0x10000 /* TINCAN_ENTRY: where the blob is loaded */
#define VEC_DB        1
#define VEC_UD        6
#define VEC_SS        12
#define VEC_GP        13
#define VEC_PF        14

static uint64_t rng;

static uint32_t next(void)
{
    /* xorshift64*: small, seedable, the same everywhere */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Valid, position-independent instructions (each a complete encoding). */
static const struct {
    uint8_t len, op[8];
} insns[] = {
    {1, {0x90}},                            /* nop */
    {3, {0x48, 0x31, 0xc0}},                /* xor %rax,%rax */
    {5, {0xb8, 0x41, 0, 0, 0}},             /* mov $0x41,%eax */
    {3, {0x48, 0xff, 0xc0}},                /* inc %rax */
    {3, {0x48, 0x01, 0xd8}},                /* add %rbx,%rax */
    {3, {0x48, 0x89, 0xc3}},                /* mov %rax,%rbx */
    {1, {0x50}},                            /* push %rax */
    {1, {0x5b}},                            /* pop %rbx */
    {2, {0xe6, 0x10}},                      /* out %al,$0x10 */
    {2, {0xe6, 0x11}},                      /* out %al,$0x11 */
    {2, {0xeb, 0x00}},                      /* jmp .+2 */
    {3, {0x48, 0xf7, 0xf3}},                /* div %rbx */
    {2, {0x0f, 0x0b}},                      /* ud2 */
    {1, {0xcc}},                            /* int3 */
    {3, {0x48, 0x8b, 0x00}},                /* mov (%rax),%rax */
    {3, {0x48, 0x89, 0x18}},                /* mov %rbx,(%rax) */
    {2, {0x0f, 0xa2}},                      /* cpuid: the ABI's on both */
    {1, {0xf4}},                            /* hlt */
    {7, {0x48, 0xc7, 0xc0, 0, 0, 0, 0xc0}}, /* mov $-0x40000000,%rax */
    {4, {0x66, 0x0f, 0xef, 0xc0}},          /* pxor %xmm0,%xmm0 */
};

static size_t make_blob(uint8_t *b, int valid)
{
    size_t n = 1 + next() % MAX_BLOB, len = 0;

    if (!valid) {
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)next();
        return n;
    }
    while (len < MAX_BLOB) {
        unsigned k = next() % (sizeof(insns) / sizeof(insns[0]));
        if (len + insns[k].len > MAX_BLOB)
            break;
        memcpy(b + len, insns[k].op, insns[k].len);
        len += insns[k].len;
        if (next() % 8 == 0)
            break;
    }
    return len;
}

static void run(const uint8_t *b, size_t n, enum tc_backend be,
                uint64_t timeout_ms, struct tc_result *r)
{
    struct tc_job job;

    tc_job_init(&job);
    job.code = b;
    job.code_len = n;
    job.backend = be;
    job.timeout_ms = timeout_ms;
    job.max_output = 4096;
    assert_int_equal(tc_run(&job, r), 0);
}

static int same(const struct tc_result *a, const struct tc_result *b)
{
    return a->status == b->status && a->exit_code == b->exit_code &&
           a->output_len == b->output_len &&
           (!a->output_len || !memcmp(a->output, b->output, a->output_len)) &&
           (a->status != TC_FAULT || a->fault.vector == b->fault.vector);
}

static void check_defined(const struct tc_result *r, uint64_t timeout_ms,
                          uint64_t seed, unsigned i)
{
    if (r->status >= TC_STATUS_COUNT || r->status == TC_SANDBOX_VIOLATION ||
        r->wall_us > timeout_ms * 1000 + WALL_SLACK_US)
        fail_msg("seed %llu blob %u on %s: %s after %llu us: %s",
                 (unsigned long long)seed, i, r->backend,
                 tc_status_name(r->status), (unsigned long long)r->wall_us,
                 r->message);
}

/* ---- justified classes of differences ----------------------------------- */

/* The instruction at a guest rip inside the blob: its prefixes and opcode. */
struct insn {
    int lock, rex_r;
    uint8_t op, modrm; /* first opcode byte, and the byte after it */
};

static int is_legacy_prefix(uint8_t b)
{
    return b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3 ||
           b == 0x2E || b == 0x36 || b == 0x3E || b == 0x26 || b == 0x64 ||
           b == 0x65;
}

static int insn_at(const uint8_t *b, size_t n, uint64_t rip, struct insn *in)
{
    size_t i;

    memset(in, 0, sizeof(*in));
    if (rip < ENTRY || rip - ENTRY >= n)
        return -1;
    for (i = rip - ENTRY; i < n && is_legacy_prefix(b[i]); i++)
        in->lock |= b[i] == 0xF0;
    if (i < n && (b[i] & 0xF0) == 0x40)
        in->rex_r = !!(b[i++] & 0x04);
    if (i >= n)
        return -1;
    in->op = b[i];
    in->modrm = i + 1 < n ? b[i + 1] : 0; /* code is followed by zeros */
    return 0;
}

static int is_fault(const struct tc_result *r, unsigned vector)
{
    return r->status == TC_FAULT && r->fault.vector == vector;
}

/* The instruction at the rip of r's fault, if r is a fault in the blob. */
static int fault_insn(const uint8_t *b, size_t n, const struct tc_result *r,
                      struct insn *in)
{
    return r->status == TC_FAULT ? insn_at(b, n, r->fault.rip, in) : -1;
}

static int memory_end(const struct tc_result *r)
{
    return r->status == TC_MMIO || is_fault(r, VEC_PF) || is_fault(r, VEC_GP);
}

/* Either deadline cut the run (after a retry with RETRY_TIMEOUT_MS). */
static int timing(const uint8_t *b, size_t n, const struct tc_result *k,
                  const struct tc_result *e)
{
    (void)b;
    (void)n;
    return k->status == TC_TIMEOUT || e->status == TC_TIMEOUT;
}

/* Lane only: C6/C7 with ModRM.reg != 0 is #UD (the emulator says so), but
 * the lane's QEMU TCG runs it as a mov (it ignores the reg field). */
static int lane_grp11(const uint8_t *b, size_t n, const struct tc_result *k,
                      const struct tc_result *e)
{
    const char *lane = getenv("TINCAN_LANE_RUN");
    struct insn in;

    (void)k;
    return lane && !strcmp(lane, "1") && is_fault(e, VEC_UD) &&
           fault_insn(b, n, e, &in) == 0 && (in.op == 0xC6 || in.op == 0xC7) &&
           !in.rex_r && ((in.modrm >> 3) & 7) != 0 && in.modrm != 0xF8;
}

/* Unicorn: C6/C7 /0 (mov imm to r/m) with REX.R raises #UD: it reads the
 * opcode extension with REX.R added. */
static int emu_grp11_rex_r(const uint8_t *b, size_t n,
                           const struct tc_result *k, const struct tc_result *e)
{
    struct insn in;

    (void)k;
    return is_fault(e, VEC_UD) && fault_insn(b, n, e, &in) == 0 &&
           (in.op == 0xC6 || in.op == 0xC7) && in.rex_r &&
           ((in.modrm >> 3) & 7) == 0;
}

/* LOCK on an instruction that does not allow it is #UD; Unicorn runs it. */
static int emu_lock(const uint8_t *b, size_t n, const struct tc_result *k,
                    const struct tc_result *e)
{
    struct insn in;

    (void)e;
    return is_fault(k, VEC_UD) && fault_insn(b, n, k, &in) == 0 && in.lock;
}

/* VEX-encoded (C4/C5) with no AVX on the emulator: the CPU raises #UD,
 * Unicorn runs some of them as their legacy 0F counterparts. */
static int emu_vex(const uint8_t *b, size_t n, const struct tc_result *k,
                   const struct tc_result *e)
{
    struct insn in;

    (void)e;
    return is_fault(k, VEC_UD) && fault_insn(b, n, k, &in) == 0 &&
           (in.op == 0xC4 || in.op == 0xC5);
}

/* movs/cmps with both operands unbacked: which one the CPU touches first is
 * not architectural; the backends report different ones. */
static int two_memory_operands(const uint8_t *b, size_t n,
                               const struct tc_result *k,
                               const struct tc_result *e)
{
    struct insn in;

    if (!memory_end(k) || !memory_end(e))
        return 0;
    if (fault_insn(b, n, k, &in) != 0 && fault_insn(b, n, e, &in) != 0)
        return 0;
    return in.op >= 0xA4 && in.op <= 0xA7;
}

/* KVM's instruction emulator cannot run the instruction (x87 stores,
 * iret...) that touched [MEM, 4 GiB): on AMD tincan takes the address from
 * the nested page fault (so this never matches there), on Intel KVM gives
 * none and the job ends in internal_error. */
static int kvm_unemulated_mmio(const uint8_t *b, size_t n,
                               const struct tc_result *k,
                               const struct tc_result *e)
{
    static const char msg[] = "KVM could not emulate the instruction";

    (void)b;
    (void)n;
    return k->status == TC_INTERNAL_ERROR &&
           !strncmp(k->message, msg, sizeof(msg) - 1) && e->status == TC_MMIO;
}

/*
 * kvm_pvm (sandbox/pvm.h) runs the blob in ring 3 on the host CPU itself,
 * where the lane's KVM runs it on QEMU's TCG, which decodes as Unicorn does:
 * there the CPU's answer differs from the emulator's and the lane's alike.
 * These classes hold only on such a host (on_pvm).
 */
/* INT1 (F1, "icebp") raises #DB after it on the CPU; Unicorn gives #UD. */
static int pvm_cpu_int1(const uint8_t *b, size_t n, const struct tc_result *k,
                        const struct tc_result *e)
{
    struct insn in;

    return th_on_pvm() && is_fault(k, VEC_DB) && is_fault(e, VEC_UD) &&
           fault_insn(b, n, e, &in) == 0 && in.op == 0xF1;
}

/* Encodings the CPU reserves (#UD) that Unicorn and TCG run: 8F /1-7 (XOP
 * space on AMD, no XOP here), FF /7, 62 (EVEX, no AVX-512 here). */
static int pvm_cpu_reserved(const uint8_t *b, size_t n,
                            const struct tc_result *k,
                            const struct tc_result *e)
{
    struct insn in;
    unsigned reg;

    (void)e;
    if (!th_on_pvm() || !is_fault(k, VEC_UD) || fault_insn(b, n, k, &in) != 0)
        return 0;
    reg = (in.modrm >> 3) & 7;
    return (in.op == 0x8F && reg != 0) || (in.op == 0xFF && reg == 7) ||
           in.op == 0x62;
}

/* Encodings the CPU runs that Unicorn and TCG call #UD: F6/F7 /1 (an alias
 * of TEST), and 8E /6-7 (no such segment register), whose memory operand
 * the CPU reads first, so an unbacked one faults there. */
static int pvm_cpu_runs(const uint8_t *b, size_t n, const struct tc_result *k,
                        const struct tc_result *e)
{
    struct insn in;
    unsigned reg;

    (void)k;
    if (!th_on_pvm() || !is_fault(e, VEC_UD) || fault_insn(b, n, e, &in) != 0)
        return 0;
    reg = (in.modrm >> 3) & 7;
    return ((in.op == 0xF6 || in.op == 0xF7) && reg == 1) ||
           (in.op == 0x8E && reg >= 6 && is_fault(k, VEC_PF));
}

/* A non-canonical stack access (rsp/rbp) is #SS on the CPU, #GP on Unicorn
 * (guests/ABI.md, "Backends"). */
static int pvm_cpu_ss(const uint8_t *b, size_t n, const struct tc_result *k,
                      const struct tc_result *e)
{
    (void)b;
    (void)n;
    return th_on_pvm() && is_fault(k, VEC_SS) && is_fault(e, VEC_GP) &&
           k->fault.rip == e->fault.rip;
}

/* INT 0x17, 0x19 and 0x1a in ring 3 are swallowed by kvm_pvm: no exception
 * reaches the guest, the code goes on after them (guests/ABI.md). */
static int pvm_int_swallowed(const uint8_t *b, size_t n,
                             const struct tc_result *k,
                             const struct tc_result *e)
{
    (void)k;
    (void)e;
    for (size_t i = 0; th_on_pvm() && i + 1 < n; i++)
        if (b[i] == 0xCD &&
            (b[i + 1] == 0x17 || b[i + 1] == 0x19 || b[i + 1] == 0x1A))
            return 1;
    return 0;
}

/* Where a KVM guest's cpuid is the CPU's own (kvm_pvm without a way to
 * make a ring-3 cpuid trap: guests/ABI.md, "CPUID"), a blob holding a
 * cpuid (0F A2) sees the CPU's values on KVM and the ABI's table on the
 * emulator. */
static int pvm_cpuid_is_the_cpus(const uint8_t *b, size_t n,
                                 const struct tc_result *k,
                                 const struct tc_result *e)
{
    (void)k;
    (void)e;
    for (size_t i = 0; i + 1 < n; i++)
        if (b[i] == 0x0F && b[i + 1] == 0xA2)
            return th_kvm_cpuid_is_the_cpus();
    return 0;
}

static const struct {
    const char *name;
    int (*match)(const uint8_t *b, size_t n, const struct tc_result *k,
                 const struct tc_result *e);
} classes[] = {
    {"timing", timing},
    {"lane_grp11", lane_grp11},
    {"emu_grp11_rex_r", emu_grp11_rex_r},
    {"emu_lock", emu_lock},
    {"emu_vex", emu_vex},
    {"two_memory_operands", two_memory_operands},
    {"kvm_unemulated_mmio", kvm_unemulated_mmio},
    {"pvm_cpu_int1", pvm_cpu_int1},
    {"pvm_cpu_reserved", pvm_cpu_reserved},
    {"pvm_cpu_runs", pvm_cpu_runs},
    {"pvm_cpu_ss", pvm_cpu_ss},
    {"pvm_int_swallowed", pvm_int_swallowed},
    {"pvm_cpuid_is_the_cpus", pvm_cpuid_is_the_cpus},
};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

/* The index of the first class that justifies the pair, or -1. */
static int justified(const uint8_t *b, size_t n, const struct tc_result *k,
                     const struct tc_result *e)
{
    for (size_t c = 0; c < NCLASSES; c++)
        if (classes[c].match(b, n, k, e))
            return (int)c;
    return -1;
}

/* objdump's disassembly of the blob, indented, when objdump is there. */
static void print_disassembly(const uint8_t *b, size_t n)
{
    char path[] = "/tmp/tincan-diff-XXXXXX", cmd[256], line[256];
    int fd = mkstemp(path);
    FILE *p;

    if (fd < 0)
        return;
    if (write(fd, b, n) != (ssize_t)n) {
        close(fd);
        unlink(path);
        return;
    }
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "objdump -D -b binary -mi386:x86-64 --adjust-vma=0x%x %s "
             "2>/dev/null | tail -n +8",
             ENTRY, path);
    p = popen(cmd, "r");
    while (p && fgets(line, sizeof(line), p))
        print_message("    %s", line);
    if (p)
        pclose(p);
    unlink(path);
}

static void print_result(const char *be, const struct tc_result *r)
{
    print_message("  %s: %s: %s\n", be, tc_status_name(r->status), r->message);
}

static void print_blob(uint64_t seed, unsigned i, const uint8_t *b, size_t n,
                       const char *why)
{
    print_message("seed %llu blob %u (%zu bytes, %s):",
                  (unsigned long long)seed, i, n, why);
    for (size_t j = 0; j < n; j++)
        print_message(" %02x", b[j]);
    print_message("\n");
}

static void test_random_code_agrees_on_both_backends(void **state)
{
    const char *s = getenv("TINCAN_DIFF_SEED");
    const char *c = getenv("TINCAN_DIFF_COUNT");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 20261125;
    unsigned count = c ? (unsigned)strtoul(c, NULL, 0) : 2000;
    unsigned per_class[NCLASSES] = {0}, bugs = 0;
    int kvm = th_kvm_runs();

    (void)state;
    rng = seed | 1;
    if (!kvm)
        print_message("no usable KVM here: emulator only (run it in the "
                      "lane for the comparison)\n");
    for (unsigned i = 0; i < count; i++) {
        uint8_t blob[MAX_BLOB];
        size_t n = make_blob(blob, i % 2);
        uint64_t t = TIMEOUT_MS;
        struct tc_result e, k;

        run(blob, n, TC_BACKEND_EMU, t, &e);
        check_defined(&e, t, seed, i);
        if (!kvm) {
            tc_result_free(&e);
            continue;
        }
        run(blob, n, TC_BACKEND_KVM, t, &k);
        check_defined(&k, t, seed, i);
        if (!same(&e, &k) &&
            (e.status == TC_TIMEOUT || k.status == TC_TIMEOUT)) {
            tc_result_free(&e);
            tc_result_free(&k);
            t = RETRY_TIMEOUT_MS;
            run(blob, n, TC_BACKEND_EMU, t, &e);
            check_defined(&e, t, seed, i);
            run(blob, n, TC_BACKEND_KVM, t, &k);
            check_defined(&k, t, seed, i);
        }
        if (!same(&e, &k)) {
            int cl = justified(blob, n, &k, &e);
            if (cl >= 0) {
                per_class[cl]++;
                print_blob(seed, i, blob, n, classes[cl].name);
            } else {
                bugs++;
                print_blob(seed, i, blob, n, "NOT JUSTIFIED");
                print_disassembly(blob, n);
            }
            print_result("kvm", &k);
            print_result("emu", &e);
        }
        tc_result_free(&k);
        tc_result_free(&e);
    }
    for (size_t cl = 0; cl < NCLASSES; cl++)
        if (per_class[cl])
            print_message("justified %s: %u\n", classes[cl].name,
                          per_class[cl]);
    print_message("%u blobs (seed %llu): %u differ without a justified "
                  "class\n",
                  count, (unsigned long long)seed, bugs);
    assert_int_equal(bugs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_code_agrees_on_both_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
