/*
 * test_hostile.c - hostile guests and hostile conditions: huge and
 * wrapping bulk writes, privileged instructions generated in the test,
 * the sandbox child's confinement as /proc shows it, a parent killed
 * mid-job, a tight address-space limit, the timeout bound, leaks over
 * hundreds of jobs, concurrent jobs, and output kept across a kill.
 *
 * Needs a usable /dev/kvm (or the KVM lane: tests/vm/run build/tests/...),
 * or TINCAN_TEST_BACKEND=emu: every case on the emulator, which
 * tests/run-unit runs on the host (no case is KVM-only: the privileged
 * instructions end ok or fault on both, and the child's confinement is
 * checked with each backend's own fds).
 * Env: BUILD (default "build").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "tincan_abi.h"

/* ---- outsb_n: rep outsb of N pattern bytes ------------------------------- */

static void run_outsb_n(uint64_t n, uint64_t timeout_ms)
{
    unsigned char input[8];
    struct tc_result r;

    for (int i = 0; i < 8; i++)
        input[i] = (unsigned char)(n >> (8 * i));
    th_run_guest_full("outsb_n", input, sizeof(input), 16ULL << 20, timeout_ms,
                      0, &r);
    th_assert_status(&r, TC_OK);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.output_len, n);
    th_assert_pattern(r.output, r.output_len);
    print_message("outsb_n N=%llu: %llu exits, %llu us\n",
                  (unsigned long long)n, (unsigned long long)r.exits,
                  (unsigned long long)r.wall_us);
    tc_result_free(&r);
}

static void test_outsb_n_1_byte_exact(void **state)
{
    (void)state;
    run_outsb_n(1, 30000);
}

static void test_outsb_n_4096_bytes_exact(void **state)
{
    (void)state;
    run_outsb_n(4096, 30000);
}

static void test_outsb_n_8192_bytes_exact(void **state)
{
    (void)state;
    run_outsb_n(8192, 30000);
}

static void test_outsb_n_1000000_bytes_exact(void **state)
{
    (void)state;
    /* A million exits: about a minute in a quiet lane, two when the host
     * is busy; the deadline only has to bound a hang. */
    run_outsb_n(1000000, 300000);
}

/* ---- bulk_n: one bulk write of a guest-chosen {addr, len} --------------- */

#define MEM16 (16ULL << 20)

static void run_bulk_n(uint64_t addr, uint64_t len, struct tc_result *r)
{
    unsigned char input[16];

    for (int i = 0; i < 8; i++) {
        input[i] = (unsigned char)(addr >> (8 * i));
        input[8 + i] = (unsigned char)(len >> (8 * i));
    }
    th_run_guest_full("bulk_n", input, sizeof(input), MEM16, 5000, 0, r);
}

static void assert_bulk_refused(uint64_t addr, uint64_t len)
{
    struct tc_result r;

    run_bulk_n(addr, len, &r);
    th_assert_status(&r, TC_UNHANDLED_IO);
    assert_int_equal(r.io.port, 0x12);
    assert_int_equal(r.io.out, 1);
    assert_int_equal(r.io.size, 4);
    assert_int_equal(r.output_len, 0);
    assert_null(r.output);
    tc_result_free(&r);
}

static void test_bulk_n_reads_the_guests_own_code(void **state)
{
    size_t code_len = 0;
    unsigned char *code = th_load_guest("bulk_n", &code_len);
    struct tc_result r;

    (void)state;
    assert_true(code_len >= 4);
    run_bulk_n(TINCAN_ENTRY, 4, &r);
    th_assert_status(&r, TC_OK);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.output_len, 4);
    assert_memory_equal(r.output, code, 4);
    tc_result_free(&r);

    run_bulk_n(TINCAN_ENTRY, 1, &r);
    th_assert_status(&r, TC_OK);
    assert_int_equal(r.output_len, 1);
    assert_int_equal(r.output[0], code[0]);
    tc_result_free(&r);
    free(code);
}

static void test_bulk_n_zero_length_is_ok_and_empty(void **state)
{
    struct tc_result r;

    (void)state;
    run_bulk_n(TINCAN_ENTRY, 0, &r);
    th_assert_status(&r, TC_OK);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.output_len, 0);
    tc_result_free(&r);
}

static void test_bulk_n_last_16_bytes_of_memory_are_allowed(void **state)
{
    struct tc_result r;
    unsigned char want[16];

    (void)state;
    /* The guest pushed its descriptor {addr, len} at [MEM-16, MEM): the
     * write returns the descriptor itself, i.e. the input bytes. */
    for (int i = 0; i < 8; i++) {
        want[i] = (unsigned char)((MEM16 - 16) >> (8 * i));
        want[8 + i] = (unsigned char)(16ULL >> (8 * i));
    }
    run_bulk_n(MEM16 - 16, 16, &r);
    th_assert_status(&r, TC_OK);
    assert_int_equal(r.output_len, 16);
    assert_memory_equal(r.output, want, 16);
    tc_result_free(&r);
}

static void test_bulk_n_one_byte_past_memory_is_refused(void **state)
{
    (void)state;
    assert_bulk_refused(MEM16 - 15, 16);
}

static void test_bulk_n_length_of_whole_memory_is_refused(void **state)
{
    (void)state;
    assert_bulk_refused(0x1000, MEM16);
}

static void test_bulk_n_wrapping_length_is_refused(void **state)
{
    (void)state;
    /* addr + len wraps to 0x800: a naive addr + len <= MEM check passes. */
    assert_bulk_refused(0x1000, 0ULL - 0x800);
}

static void test_bulk_n_wrapping_address_is_refused(void **state)
{
    (void)state;
    assert_bulk_refused(0xFFFFFFFFFFFFF000ULL, 0x2000);
}

static void test_bulk_n_null_page_is_refused(void **state)
{
    (void)state;
    assert_bulk_refused(0, 16);
}

/* ---- privileged instructions, generated here ---------------------------- */

struct code {
    unsigned char b[64];
    size_t n;
};

static void emit(struct code *c, const unsigned char *p, size_t n)
{
    assert_true(c->n + n <= sizeof(c->b));
    memcpy(c->b + c->n, p, n);
    c->n += n;
}

/* mov $imm32, %e<reg> with opcode 0xb8 + reg (eax 0, ecx 1, edx 2, ebx 3) */
static void emit_mov32(struct code *c, unsigned reg, uint32_t v)
{
    unsigned char p[5] = {(unsigned char)(0xb8 + reg), (unsigned char)v,
                          (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    emit(c, p, sizeof(p));
}

#define REG_EAX 0
#define REG_ECX 1
#define REG_EDX 2

/* xor %eax,%eax; out %al,$0x11: exit ok with code 0 */
static void emit_exit0(struct code *c)
{
    static const unsigned char p[] = {0x31, 0xc0, 0xe6, TINCAN_PORT_EXIT};
    emit(c, p, sizeof(p));
}

/* Runs c; ok or fault only, never internal_error or timeout. Returns 1 if
 * it ended as it should, printing the status either way. */
static int run_defined(const char *what, const struct code *c)
{
    struct tc_result r;
    int good;

    th_run_code(c->b, c->n, 2000, &r);
    assert_string_equal(r.backend, th_backend_name());
    good = r.status == TC_OK || r.status == TC_FAULT;
    if (r.status == TC_OK)
        good = good && r.exit_code == 0;
    print_message("%-40s %-14s %s%s\n", what, tc_status_name(r.status),
                  r.message, good ? "" : "   <-- UNEXPECTED");
    tc_result_free(&r);
    return good;
}

static uint64_t prng_state = 0x74696e63616e0001ULL;
static uint64_t prng(void)
{
    /* xorshift64*: fixed seed, so failures reproduce. */
    prng_state ^= prng_state >> 12;
    prng_state ^= prng_state << 25;
    prng_state ^= prng_state >> 27;
    return prng_state * 0x2545F4914F6CDD1DULL;
}

#define N_FIXED_MSRS  15
#define N_RANDOM_MSRS 50
static const uint32_t fixed_msrs[N_FIXED_MSRS] = {
    0x0,        0x10,       0x1b,       0xc0000080, 0xc0000081,
    0x3a,       0x48,       0x12345678, 0xffffffff, 0x4b564d00,
    0x4b564d01, 0x4b564d02, 0x4b564d03, 0x40000000, 0x6e0,
};

/* The MSR list: fixed ones, then 50 drawn from a seeded PRNG across the
 * architectural, AMD/long-mode, hypervisor and arbitrary ranges. */
static void msr_list(uint32_t *msrs, uint64_t *values)
{
    memcpy(msrs, fixed_msrs, sizeof(fixed_msrs));
    for (int i = 0; i < N_FIXED_MSRS; i++)
        values[i] = 0;
    prng_state = 0x74696e63616e0001ULL;
    for (int i = N_FIXED_MSRS; i < N_FIXED_MSRS + N_RANDOM_MSRS; i++) {
        uint64_t x = prng();
        switch (x & 3) {
        case 0:
            msrs[i] = (uint32_t)(x >> 32) & 0x1fff;
            break;
        case 1:
            msrs[i] = 0xc0000000 | ((uint32_t)(x >> 32) & 0x1fff);
            break;
        case 2:
            msrs[i] = 0x40000000 | ((uint32_t)(x >> 32) & 0xff);
            break;
        default:
            msrs[i] = (uint32_t)(x >> 32);
            break;
        }
        values[i] = prng();
    }
}

static void test_rdmsr_of_any_msr_ends_ok_or_fault(void **state)
{
    uint32_t msrs[N_FIXED_MSRS + N_RANDOM_MSRS];
    uint64_t values[N_FIXED_MSRS + N_RANDOM_MSRS];
    int bad = 0;

    (void)state;
    msr_list(msrs, values);
    for (size_t i = 0; i < N_FIXED_MSRS + N_RANDOM_MSRS; i++) {
        struct code c = {.n = 0};
        char what[64];
        emit_mov32(&c, REG_ECX, msrs[i]);
        emit(&c, (const unsigned char[]){0x0f, 0x32}, 2); /* rdmsr */
        emit_exit0(&c);
        snprintf(what, sizeof(what), "rdmsr 0x%x", msrs[i]);
        bad += !run_defined(what, &c);
    }
    assert_int_equal(bad, 0);
}

static void test_wrmsr_of_any_msr_ends_ok_or_fault(void **state)
{
    uint32_t msrs[N_FIXED_MSRS + N_RANDOM_MSRS];
    uint64_t values[N_FIXED_MSRS + N_RANDOM_MSRS];
    int bad = 0;

    (void)state;
    msr_list(msrs, values);
    for (size_t i = 0; i < N_FIXED_MSRS + N_RANDOM_MSRS; i++) {
        struct code c = {.n = 0};
        char what[64];
        emit_mov32(&c, REG_ECX, msrs[i]);
        emit_mov32(&c, REG_EAX, (uint32_t)values[i]);
        emit_mov32(&c, REG_EDX, (uint32_t)(values[i] >> 32));
        emit(&c, (const unsigned char[]){0x0f, 0x30}, 2); /* wrmsr */
        emit_exit0(&c);
        snprintf(what, sizeof(what), "wrmsr 0x%x = 0x%llx", msrs[i],
                 (unsigned long long)values[i]);
        bad += !run_defined(what, &c);
    }
    assert_int_equal(bad, 0);
}

/*
 * Instructions that only ring 0 may run, or that end differently there, end
 * as in ring 0 on every backend: on kvm_pvm, where the job's code runs in
 * ring 3 (sandbox/pvm.h), too.
 */
static void test_ring0_instructions_end_as_in_ring0(void **state)
{
    static const struct {
        const char *what;
        unsigned char code[16];
        size_t n;
        enum tc_status status;
        unsigned vector;    /* a fault's */
        uint64_t rip;       /* a fault's */
        const char *output; /* an ok job's, NUL-terminated */
    } cases[] = {
        {"hlt", {0xf4}, 1, TC_OK, 0, 0, ""},
        {"cli; sti; hlt", {0xfa, 0xfb, 0xf4}, 3, TC_OK, 0, 0, ""},
        {"syscall with EFER.SCE clear",
         {0x0f, 0x05},
         2,
         TC_FAULT,
         6,
         0x10000,
         NULL},
        {"int $0x40", {0xcd, 0x40}, 2, TC_FAULT, 0x40, 0x10002, NULL},
        /* CR0's low byte: PE MP ET NE */
        {"mov %cr0,%rax; out %al,$0x10; hlt",
         {0x0f, 0x20, 0xc0, 0xe6, 0x10, 0xf4},
         6,
         TC_OK,
         0,
         0,
         "\x33"},
        /* tincan's GDT, a supervisor page: the code descriptor's limit */
        {"mov 0x1008,%al; out %al,$0x10; hlt",
         {0x8a, 0x04, 0x25, 0x08, 0x10, 0x00, 0x00, 0xe6, 0x10, 0xf4},
         10,
         TC_OK,
         0,
         0,
         "\xff"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tc_result r;

        th_run_code(cases[i].code, cases[i].n, 2000, &r);
        print_message("%-40s %-14s %s\n", cases[i].what,
                      tc_status_name(r.status), r.message);
        assert_int_equal(r.status, cases[i].status);
        if (cases[i].status == TC_FAULT) {
            assert_int_equal(r.fault.vector, cases[i].vector);
            assert_int_equal(r.fault.rip, cases[i].rip);
        } else {
            assert_int_equal(r.exit_code, 0);
            assert_int_equal(r.output_len, strlen(cases[i].output));
            assert_memory_equal(r.output, cases[i].output, r.output_len);
        }
        tc_result_free(&r);
    }
}

static void test_vmcall_and_vmmcall_end_ok_or_fault(void **state)
{
    /* KVM hypercall numbers: none, VAPIC_POLL_IRQ, KICK_CPU, CLOCK_PAIRING,
     * SEND_IPI, SCHED_YIELD, MAP_GPA_RANGE, and nonsense. */
    static const uint32_t nrs[] = {0, 1, 5, 9, 10, 11, 12, 0xffffffff};
    static const struct {
        const char *name;
        unsigned char op[3];
    } insns[] = {{"vmcall", {0x0f, 0x01, 0xc1}},
                 {"vmmcall", {0x0f, 0x01, 0xd9}}};
    int bad = 0;

    (void)state;
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
            struct code c = {.n = 0};
            char what[64];
            emit_mov32(&c, REG_EAX, nrs[i]);
            /* ebx: where CLOCK_PAIRING writes its answer. Scratch memory,
             * not the code: over the code, the varying clock values
             * became instructions and the outcome varied from run to run. */
            emit_mov32(&c, 3 /* ebx */, 0x200000);
            emit(&c, insns[k].op, 3);
            emit_exit0(&c);
            snprintf(what, sizeof(what), "%s rax=0x%x", insns[k].name, nrs[i]);
            bad += !run_defined(what, &c);
        }
    }
    assert_int_equal(bad, 0);
}

static void test_xsetbv_with_bad_values_ends_ok_or_fault(void **state)
{
    static const struct {
        uint32_t ecx, eax, edx;
    } cases[] = {
        {0, 0, 0},                   /* x87 cleared */
        {0, 2, 0},                   /* SSE without x87 */
        {0, 5, 0},                   /* AVX without SSE */
        {0, 0xffffffff, 0xffffffff}, /* every bit */
        {1, 1, 0},                   /* XCR1 */
        {0xffffffff, 3, 0},          /* no such XCR */
        {0, 3, 0},                   /* valid: x87 | SSE */
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct code c = {.n = 0};
        char what[64];
        emit_mov32(&c, REG_ECX, cases[i].ecx);
        emit_mov32(&c, REG_EAX, cases[i].eax);
        emit_mov32(&c, REG_EDX, cases[i].edx);
        emit(&c, (const unsigned char[]){0x0f, 0x01, 0xd1}, 3); /* xsetbv */
        emit_exit0(&c);
        snprintf(what, sizeof(what), "xsetbv xcr%u = 0x%x:%x", cases[i].ecx,
                 cases[i].edx, cases[i].eax);
        bad += !run_defined(what, &c);
    }
    assert_int_equal(bad, 0);
}

/* mov %crN,%rax; <modify rax>; mov %rax,%crN; exit 0 */
static int run_cr_write(const char *what, unsigned cr,
                        const unsigned char *modify, size_t modlen)
{
    struct code c = {.n = 0};
    unsigned char rd[3] = {0x0f, 0x20, (unsigned char)(0xc0 | (cr << 3))};
    unsigned char wr[3] = {0x0f, 0x22, (unsigned char)(0xc0 | (cr << 3))};

    emit(&c, rd, 3);
    emit(&c, modify, modlen);
    emit(&c, wr, 3);
    emit_exit0(&c);
    return run_defined(what, &c);
}

static void test_cr0_writes_end_ok_or_fault(void **state)
{
    int bad = 0;

    (void)state;
    /* and $0x7fffffff,%rax: clear PG in long mode */
    bad += !run_cr_write(
        "cr0: clear PG", 0,
        (const unsigned char[]){0x48, 0x25, 0xff, 0xff, 0xff, 0x7f}, 6);
    /* or $0x40000000,%rax: set CD */
    bad += !run_cr_write(
        "cr0: set CD", 0,
        (const unsigned char[]){0x48, 0x0d, 0x00, 0x00, 0x00, 0x40}, 6);
    /* or $0x20000000,%rax: NW without CD */
    bad += !run_cr_write(
        "cr0: set NW without CD", 0,
        (const unsigned char[]){0x48, 0x0d, 0x00, 0x00, 0x00, 0x20}, 6);
    /* or $0x60000000,%rax: CD | NW */
    bad += !run_cr_write(
        "cr0: set CD|NW", 0,
        (const unsigned char[]){0x48, 0x0d, 0x00, 0x00, 0x00, 0x60}, 6);
    /* and $-2,%rax: clear PE with PG set */
    bad += !run_cr_write("cr0: clear PE", 0,
                         (const unsigned char[]){0x48, 0x83, 0xe0, 0xfe}, 4);
    /* bts $63,%rax: reserved bit 63 */
    bad +=
        !run_cr_write("cr0: set reserved bit 63", 0,
                      (const unsigned char[]){0x48, 0x0f, 0xba, 0xe8, 0x3f}, 5);
    /* and $-9,%rax: clear TS... harmless: clear bit 3 */
    bad += !run_cr_write("cr0: clear TS", 0,
                         (const unsigned char[]){0x48, 0x83, 0xe0, 0xf7}, 4);
    assert_int_equal(bad, 0);
}

static void test_cr4_writes_end_ok_or_fault(void **state)
{
    static const struct {
        const char *what;
        unsigned char bit;
        int set;
    } cases[] = {
        {"cr4: set reserved bit 32", 32, 1},
        {"cr4: set reserved bit 63", 63, 1},
        {"cr4: set reserved bit 15", 15, 1},
        {"cr4: set reserved bit 31", 31, 1},
        {"cr4: set LA57 in long mode", 12, 1},
        {"cr4: clear PAE in long mode", 5, 0},
        {"cr4: set VMXE", 13, 1},
        {"cr4: set PCIDE", 17, 1},
        {"cr4: set SMEP", 20, 1},
        {"cr4: clear OSFXSR", 9, 0},
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* bts $bit,%rax (0f ba /5) or btr $bit,%rax (0f ba /6) */
        unsigned char m[5] = {0x48, 0x0f, 0xba,
                              (unsigned char)(cases[i].set ? 0xe8 : 0xf0),
                              cases[i].bit};
        bad += !run_cr_write(cases[i].what, 4, m, sizeof(m));
    }
    assert_int_equal(bad, 0);
}

/* ---- the sandbox child as /proc shows it -------------------------------- */

struct bg_job {
    const char *guest;
    uint64_t timeout_ms;
    struct tc_result res;
    pthread_t thread;
};

static void *bg_job_main(void *arg)
{
    struct bg_job *b = arg;
    struct tc_job job;
    size_t len = 0;
    char path[512];
    unsigned char *code =
        th_read_file(th_guest_path(b->guest, path, sizeof(path)), &len);

    th_job_init(&job);
    job.code = code;
    job.code_len = code ? len : 0;
    job.timeout_ms = b->timeout_ms;
    if (tc_run(&job, &b->res) != 0)
        b->res.status = TC_STATUS_COUNT; /* marks "refused" */
    free(code);
    return NULL;
}

/* Entries of /proc/PID/fd as a "3" or "0 1 2" string; -1 if unreadable. */
static int fd_list(pid_t pid, char *buf, size_t len)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    size_t used = 0;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (!d)
        return -1;
    buf[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
                                 "%s%s", n ? " " : "", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* The child keeps only the vCPU fd (3) on KVM, and no fd on the emulator;
 * KVM's child stacks two seccomp filters (stage 1 + 2), the emulator's one
 * (its machine comes built from the parent). */
static void
test_sandbox_child_is_seccomp_filtered_capless_with_only_the_vcpu_fd(
    void **state)
{
    const char *want_fds = th_on_emu() ? "" : "3";
    int want_nfds = th_on_emu() ? 0 : 1;
    const char *want_filters = th_on_emu() ? "1" : "2";
    struct bg_job b = {.guest = "spin", .timeout_ms = 3000};
    char seccomp[32] = "", filters[32] = "", nnp[32] = "", capeff[32] = "",
         capprm[32] = "", capbnd[32] = "", fds[128] = "";
    int have_filters_field = 1, nfds = -1;
    pid_t child;

    (void)state;
    pid_t zygote = th_job_parent();
    assert_int_equal(pthread_create(&b.thread, NULL, bg_job_main, &b), 0);
    child = th_wait_child(zygote, 5000);
    if (child) {
        /* Retry until the child has reached the run loop: all its seccomp
         * filters, or, on kernels without the Seccomp_filters field, only
         * its last fds left. */
        uint64_t end = th_now_us() + 2000000;
        do {
            th_status_field(child, "Seccomp", seccomp, sizeof(seccomp));
            have_filters_field = th_status_field(child, "Seccomp_filters",
                                                 filters, sizeof(filters)) == 0;
            nfds = fd_list(child, fds, sizeof(fds));
            if (!strcmp(seccomp, "2") &&
                (have_filters_field
                     ? !strcmp(filters, want_filters)
                     : (nfds == want_nfds && !strcmp(fds, want_fds))))
                break;
            th_sleep_ms(5);
        } while (th_now_us() < end);
        th_status_field(child, "NoNewPrivs", nnp, sizeof(nnp));
        th_status_field(child, "CapEff", capeff, sizeof(capeff));
        th_status_field(child, "CapPrm", capprm, sizeof(capprm));
        th_status_field(child, "CapBnd", capbnd, sizeof(capbnd));
        nfds = fd_list(child, fds, sizeof(fds));
    }
    pthread_join(b.thread, NULL);

    print_message("child %d: Seccomp %s, Seccomp_filters %s, NoNewPrivs %s, "
                  "CapEff %s, CapPrm %s, CapBnd %s, fds [%s]\n",
                  (int)child, seccomp, have_filters_field ? filters : "n/a",
                  nnp, capeff, capprm, capbnd, fds);
    th_assert_status(&b.res, TC_TIMEOUT);
    tc_result_free(&b.res);
    assert_true(child > 0);
    assert_string_equal(seccomp, "2");
    if (have_filters_field)
        assert_string_equal(filters, want_filters);
    assert_string_equal(nnp, "1");
    assert_string_equal(capeff, "0000000000000000");
    assert_string_equal(capprm, "0000000000000000");
    if (geteuid() == 0) /* only root can empty the bounding set */
        assert_string_equal(capbnd, "0000000000000000");
    assert_int_equal(nfds, want_nfds);
    assert_string_equal(fds, want_fds);
}

/* The line "0::/path" of /proc/PID/cgroup, as "/path"; "" if none. */
static void cgroup_of(pid_t pid, char *buf, size_t len)
{
    char path[64], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    buf[0] = '\0';
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, len, "%s", line + 3);
        }
    fclose(f);
}

static void read_line(const char *dir, const char *name, char *buf, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf[0] = '\0';
    f = fopen(path, "r");
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

static void test_sandbox_child_runs_in_its_own_bounded_cgroup(void **state)
{
    struct bg_job b = {.guest = "spin", .timeout_ms = 3000};
    char info[512], mine[512], theirs[512] = "", dir[1024] = "", mem[64] = "",
                               pids[64] = "";
    int usable = tc_cgroup_info(info, sizeof(info));
    pid_t child;

    (void)state;
    print_message("%s\n", info);
    cgroup_of(getpid(), mine, sizeof(mine));
    pid_t zygote = th_job_parent();
    assert_int_equal(pthread_create(&b.thread, NULL, bg_job_main, &b), 0);
    child = th_wait_child(zygote, 5000);
    if (child) {
        uint64_t end = th_now_us() + 2000000;
        do { /* the child joins its cgroup first thing */
            cgroup_of(child, theirs, sizeof(theirs));
            if (strcmp(theirs, mine))
                break;
            th_sleep_ms(5);
        } while (th_now_us() < end);
        const char *leaf = strrchr(theirs, '/');
        const char *under = strstr(info, " under ");
        if (usable && leaf && under) {
            snprintf(dir, sizeof(dir), "%s%s", under + 7, leaf);
            read_line(dir, "memory.max", mem, sizeof(mem));
            read_line(dir, "pids.max", pids, sizeof(pids));
        }
    }
    pthread_join(b.thread, NULL);
    th_assert_status(&b.res, TC_TIMEOUT);
    tc_result_free(&b.res);
    assert_true(child > 0);
    if (!usable) {
        /* said once above; the child then shares the parent's cgroup */
        assert_non_null(strstr(info, "relying on rlimits"));
        assert_string_equal(theirs, mine);
        return;
    }
    print_message("child %d in %s: memory.max %s, pids.max %s\n", (int)child,
                  theirs, mem, pids);
    assert_non_null(strstr(theirs, "/job-"));
    /* the default 16 MiB of guest memory + JOB_CGROUP_SLACK (64 MiB) */
    assert_string_equal(mem, "83886080");
    /* the child, and the worker task KVM may start for its VM */
    assert_string_equal(pids, "2");
}

/* ---- the parent dies mid-job -------------------------------------------- */

static void test_sandbox_child_dies_when_its_parent_is_killed(void **state)
{
    pid_t runner, zygote, sandbox, pp = 0;
    int ws = 0;
    char st;

    (void)state;
    runner = fork();
    assert_true(runner >= 0);
    if (runner == 0) {
        struct tc_result r;
        size_t len = 0;
        char path[512];
        unsigned char *code =
            th_read_file(th_guest_path("spin", path, sizeof(path)), &len);
        struct tc_job job;
        th_job_init(&job);
        job.code = code;
        job.code_len = code ? len : 0;
        job.timeout_ms = 30000;
        tc_run(&job, &r);
        _exit(3); /* not reached: the test kills us first */
    }
    /* The runner's child is its zygote; the job's child is the zygote's. */
    zygote = th_wait_child(runner, 10000);
    sandbox = zygote ? th_wait_child(zygote, 10000) : 0;
    if (!sandbox) {
        kill(runner, SIGKILL);
        waitpid(runner, &ws, 0);
        fail_msg("the runner process %d never started a sandbox child",
                 (int)runner);
    }
    /* Let it get into the run loop (PDEATHSIG armed): not required, the
     * child checks for a dead parent right after arming it. */
    th_sleep_ms(50);
    assert_int_equal(kill(runner, SIGKILL), 0);
    assert_int_equal(waitpid(runner, &ws, 0), runner);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGKILL);

    uint64_t end = th_now_us() + 2000000;
    do {
        st = th_proc_state(sandbox, &pp);
        if (st == 0 || st == 'Z' || st == 'X')
            break;
        th_sleep_ms(10);
    } while (th_now_us() < end);
    if (st && st != 'Z' && st != 'X')
        print_error("sandbox %d still alive 2 s after its parent died: "
                    "state %c, ppid %d\n",
                    (int)sandbox, st, (int)pp);
    if (st && st != 'Z' && st != 'X')
        kill(sandbox, SIGKILL); /* do not leave it spinning for 30 s */
    assert_true(st == 0 || st == 'Z' || st == 'X');
    /* ... and the runner's zygote is gone with it. */
    do {
        st = th_proc_state(zygote, &pp);
        if (st == 0 || st == 'Z' || st == 'X')
            break;
        th_sleep_ms(10);
    } while (th_now_us() < end);
    assert_true(st == 0 || st == 'Z' || st == 'X');
}

/* ---- a tight address-space limit ---------------------------------------- */

enum {
    AS_OK = 0,
    AS_SETRLIMIT = 10,
    AS_REFUSED = 11,
    AS_WRONG_STATUS = 12,
    AS_NO_MMAP_IN_MESSAGE = 13,
    AS_NO_VMSIZE = 14,
};

static void
test_guest_memory_over_rlimit_as_is_internal_error_mmap(void **state)
{
    pid_t pid;
    int ws = 0;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const unsigned char hlt = 0xf4;
        long vm_kb = th_status_kb("VmSize");
        if (vm_kb <= 0)
            _exit(AS_NO_VMSIZE);
        rlim_t lim = (rlim_t)vm_kb * 1024 + (32ULL << 20);
        struct rlimit rl = {.rlim_cur = lim, .rlim_max = lim};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(AS_SETRLIMIT);
        struct tc_job job;
        struct tc_result r;
        th_job_init(&job);
        job.code = &hlt;
        job.code_len = 1;
        job.mem_size = 1ULL << 30;
        if (tc_run(&job, &r) != 0) {
            fprintf(stderr, "refused: %s\n", r.message);
            _exit(AS_REFUSED);
        }
        fprintf(stderr, "RLIMIT_AS %llu: status %s: %s\n",
                (unsigned long long)lim, tc_status_name(r.status), r.message);
        if (r.status != TC_INTERNAL_ERROR)
            _exit(AS_WRONG_STATUS);
        if (!strstr(r.message, "mmap"))
            _exit(AS_NO_MMAP_IN_MESSAGE);
        _exit(AS_OK);
    }
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), AS_OK);
}

/* ---- the timeout bound -------------------------------------------------- */

static void test_spin_timeout_300ms_ends_within_its_bound(void **state)
{
    struct tc_result r;

    (void)state;
    th_run_guest("spin", 300, &r);
    th_assert_status(&r, TC_TIMEOUT);
    print_message("spin 300 ms: wall_us %llu\n", (unsigned long long)r.wall_us);
    /* Lower bound: the deadline itself. Upper bound: the deadline, plus
     * the parent's 100 ms kill slack (JOB_KILL_SLACK_MS) should the child's
     * own timer not stop it, plus 300 ms for fork, reaping and a slow
     * (TCG) machine. */
    assert_true(r.wall_us >= 300000);
    assert_true(r.wall_us <= 300000 + 400000);
    tc_result_free(&r);
}

/* A deadline that passes while the child still builds its VM (a signal
 * interrupting KVM_CREATE_VM) ends the job as timeout, not internal_error. */
static void test_1ms_deadlines_all_end_as_timeout(void **state)
{
    unsigned timeouts = 0;

    (void)state;
    for (int i = 0; i < 20; i++) {
        struct tc_result r;
        th_run_guest("spin", 1, &r);
        if (r.status != TC_TIMEOUT)
            print_error("job %d: %s: %s\n", i, tc_status_name(r.status),
                        r.message);
        timeouts += r.status == TC_TIMEOUT;
        tc_result_free(&r);
    }
    assert_int_equal(timeouts, 20);
}

/* ---- many jobs: no leaks ------------------------------------------------- */

static void run_hello_once(const unsigned char *code, size_t len)
{
    struct tc_job job;
    struct tc_result r;

    th_job_init(&job);
    job.code = code;
    job.code_len = len;
    assert_int_equal(tc_run(&job, &r), 0);
    th_assert_status(&r, TC_OK);
    assert_int_equal(r.output_len, 14);
    assert_memory_equal(r.output, "Hello, World!\n", 14);
    tc_result_free(&r);
}

static void test_500_jobs_leak_no_fds_memory_or_zombies(void **state)
{
    size_t len = 0;
    unsigned char *code = th_load_guest("hello_once", &len);
    pid_t kids[8];

    (void)state;
    for (int i = 0; i < 20; i++)
        run_hello_once(code, len);
    int fds0 = th_fd_count();
    long rss0 = th_status_kb("VmRSS");
    uint64_t t0 = th_now_us();
    for (int i = 0; i < 500; i++) {
        run_hello_once(code, len);
        if ((i + 1) % 100 == 0) /* progress: slow machines (the lane) */
            print_message("  %d jobs, %llu ms\n", i + 1,
                          (unsigned long long)((th_now_us() - t0) / 1000));
    }
    uint64_t dt = th_now_us() - t0;
    int fds1 = th_fd_count();
    long rss1 = th_status_kb("VmRSS");
    int nkids = th_children_of(th_job_parent(), kids, 8);
    int nzygotes = th_children_of(getpid(), kids, 8);
    free(code);

    print_message("500 jobs in %llu ms; fds %d -> %d; VmRSS %ld -> %ld kB; "
                  "children left %d; zygotes %d\n",
                  (unsigned long long)(dt / 1000), fds0, fds1, rss0, rss1,
                  nkids, nzygotes);
    assert_true(fds0 > 0);
    assert_int_equal(fds1, fds0);
    assert_true(rss0 > 0 && rss1 > 0);
    assert_true(rss1 - rss0 < 2048);
    assert_int_equal(nkids, 0);
    assert_true(nzygotes >= 1 && nzygotes <= 2); /* one per backend at most */
}

/* ---- concurrency --------------------------------------------------------- */

#define CONC_ROUNDS    3
#define CONC_FLOOD_MAX 100000

struct conc_worker {
    pthread_t thread;
    const unsigned char *flood, *spin;
    size_t flood_len, spin_len;
    int failures;
    char why[TC_MESSAGE_MAX + 64];
};

static void *conc_main(void *arg)
{
    struct conc_worker *w = arg;

    for (int round = 0; round < CONC_ROUNDS; round++) {
        struct tc_job job;
        struct tc_result r;

        th_job_init(&job);
        job.code = w->flood;
        job.code_len = w->flood_len;
        job.max_output = CONC_FLOOD_MAX;
        job.timeout_ms = 10000;
        if (tc_run(&job, &r) != 0 || r.status != TC_OUTPUT_LIMIT ||
            r.output_len != CONC_FLOOD_MAX ||
            th_pattern_mismatch(r.output, r.output_len) != r.output_len) {
            w->failures++;
            snprintf(w->why, sizeof(w->why), "flood: %s, %zu bytes: %s",
                     tc_status_name(r.status), r.output_len, r.message);
        }
        tc_result_free(&r);

        th_job_init(&job);
        job.code = w->spin;
        job.code_len = w->spin_len;
        job.timeout_ms = 200;
        if (tc_run(&job, &r) != 0 || r.status != TC_TIMEOUT ||
            r.output_len != 0) {
            w->failures++;
            snprintf(w->why, sizeof(w->why), "spin: %s, %zu bytes: %s",
                     tc_status_name(r.status), r.output_len, r.message);
        }
        tc_result_free(&r);
    }
    return NULL;
}

static void test_concurrent_jobs_on_2x_nproc_threads_all_end_right(void **state)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = (int)(ncpu > 0 ? ncpu : 1) * 2;
    size_t flen = 0, slen = 0;
    unsigned char *flood = th_load_guest("flood", &flen);
    unsigned char *spin = th_load_guest("spin", &slen);
    struct conc_worker *w = calloc((size_t)nthreads, sizeof(*w));
    pid_t zygote = th_job_parent(); /* started before the fds are counted */
    int fds0 = th_fd_count(), failures = 0;
    pid_t kids[8];

    (void)state;
    assert_non_null(w);
    for (int i = 0; i < nthreads; i++) {
        w[i].flood = flood;
        w[i].flood_len = flen;
        w[i].spin = spin;
        w[i].spin_len = slen;
        assert_int_equal(pthread_create(&w[i].thread, NULL, conc_main, &w[i]),
                         0);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].failures)
            print_error("thread %d: %d failures, last: %s\n", i, w[i].failures,
                        w[i].why);
        failures += w[i].failures;
    }
    int nkids = th_children_of(zygote, kids, 8);
    int fds1 = th_fd_count();
    print_message("%d threads x %d rounds x 2 jobs; fds %d -> %d; children "
                  "left %d\n",
                  nthreads, CONC_ROUNDS, fds0, fds1, nkids);
    free(w);
    free(flood);
    free(spin);
    assert_int_equal(failures, 0);
    assert_int_equal(nkids, 0);
    assert_int_equal(fds1, fds0);
}

/* ---- output written before a kill is kept ------------------------------- */

static void test_output_before_timeout_is_kept(void **state)
{
    /* mov $'A',%al; out %al,$0x10; ...'B'...'C'; jmp . */
    static const unsigned char code[] = {0xb0, 'A',  0xe6, 0x10, 0xb0,
                                         'B',  0xe6, 0x10, 0xb0, 'C',
                                         0xe6, 0x10, 0xeb, 0xfe};
    struct tc_result r;

    (void)state;
    th_run_code(code, sizeof(code), 200, &r);
    th_assert_status(&r, TC_TIMEOUT);
    assert_int_equal(r.output_len, 3);
    assert_memory_equal(r.output, "ABC", 3);
    tc_result_free(&r);
}

int main(void)
{
    th_test_setup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outsb_n_1_byte_exact),
        cmocka_unit_test(test_outsb_n_4096_bytes_exact),
        cmocka_unit_test(test_outsb_n_8192_bytes_exact),
        cmocka_unit_test(test_outsb_n_1000000_bytes_exact),
        cmocka_unit_test(test_bulk_n_reads_the_guests_own_code),
        cmocka_unit_test(test_bulk_n_zero_length_is_ok_and_empty),
        cmocka_unit_test(test_bulk_n_last_16_bytes_of_memory_are_allowed),
        cmocka_unit_test(test_bulk_n_one_byte_past_memory_is_refused),
        cmocka_unit_test(test_bulk_n_length_of_whole_memory_is_refused),
        cmocka_unit_test(test_bulk_n_wrapping_length_is_refused),
        cmocka_unit_test(test_bulk_n_wrapping_address_is_refused),
        cmocka_unit_test(test_bulk_n_null_page_is_refused),
        cmocka_unit_test(test_rdmsr_of_any_msr_ends_ok_or_fault),
        cmocka_unit_test(test_wrmsr_of_any_msr_ends_ok_or_fault),
        cmocka_unit_test(test_ring0_instructions_end_as_in_ring0),
        cmocka_unit_test(test_vmcall_and_vmmcall_end_ok_or_fault),
        cmocka_unit_test(test_xsetbv_with_bad_values_ends_ok_or_fault),
        cmocka_unit_test(test_cr0_writes_end_ok_or_fault),
        cmocka_unit_test(test_cr4_writes_end_ok_or_fault),
        cmocka_unit_test(
            test_sandbox_child_is_seccomp_filtered_capless_with_only_the_vcpu_fd),
        cmocka_unit_test(test_sandbox_child_runs_in_its_own_bounded_cgroup),
        cmocka_unit_test(test_sandbox_child_dies_when_its_parent_is_killed),
        cmocka_unit_test(
            test_guest_memory_over_rlimit_as_is_internal_error_mmap),
        cmocka_unit_test(test_spin_timeout_300ms_ends_within_its_bound),
        cmocka_unit_test(test_1ms_deadlines_all_end_as_timeout),
        cmocka_unit_test(test_500_jobs_leak_no_fds_memory_or_zombies),
        cmocka_unit_test(
            test_concurrent_jobs_on_2x_nproc_threads_all_end_right),
        cmocka_unit_test(test_output_before_timeout_is_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
