/*
 * helpers.h - shared helpers of the integration tests (cmocka): where the
 * build outputs are, loading guests, running jobs, the guests' byte pattern,
 * and /proc probes (children, fds, VmRSS, status fields).
 *
 * Header-only: everything is static inline so that a test that does not use
 * a helper gets no unused-function warning. Include after <cmocka.h>.
 */
#ifndef TINCAN_TESTS_HELPERS_H
#define TINCAN_TESTS_HELPERS_H

#include <cpuid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../api/tincan.h"
#include "../runner/zygote.h"

/* $BUILD, default "build": where make put the guests and the CLI. */
static inline const char *th_build_dir(void)
{
    const char *b = getenv("BUILD");

    return b && *b ? b : "build";
}

/* Where make put the ordinary programs (linux/, csmith/, lua/):
 * $TINCAN_PROGRAMS, else $BUILD (make sanitize shares the plain build's). */
static inline const char *th_programs_dir(void)
{
    const char *p = getenv("TINCAN_PROGRAMS");

    return p && *p ? p : th_build_dir();
}

/* "$BUILD/guests/NAME.bin" in a static buffer per call site is risky with
 * threads, so the caller gives the buffer. */
static inline const char *th_guest_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/guests/%s.bin", th_build_dir(), name);
    return buf;
}

/* Read a whole file; NULL on error (errno set). */
static inline unsigned char *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;

    *len = 0;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Load build/guests/NAME.bin or fail the current test. */
static inline unsigned char *th_load_guest(const char *name, size_t *len)
{
    char path[512];
    unsigned char *code;

    *len = 0;
    code = th_read_file(th_guest_path(name, path, sizeof(path)), len);

    if (!code || *len == 0) {
        print_error("cannot read guest %s (%s); run make first, or set "
                    "BUILD\n",
                    path, code ? "empty" : strerror(errno));
        fail();
    }
    return code;
}

/* TINCAN_TEST_BACKEND=emu runs the suite on the emulator (no KVM needed). */
static inline int th_on_emu(void)
{
    const char *v = getenv("TINCAN_TEST_BACKEND");

    return v && strcmp(v, "emu") == 0;
}

/* What every result's backend must say in this run. */
static inline const char *th_backend_name(void)
{
    return th_on_emu() ? "emu" : "kvm";
}

/* tc_job_init() plus the backend this run tests. */
static inline void th_job_init(struct tc_job *job)
{
    tc_job_init(job);
    job->backend = th_on_emu() ? TC_BACKEND_EMU : TC_BACKEND_KVM;
}

/*
 * The deadline of a test job that ends by itself (timeout_ms 0 below): long,
 * so that a loaded 2-core CI host under ASan, or TCG in the lane, cannot turn
 * a 30 ms fault into a timeout (seen once at the 1 s default on kvm_pvm), and
 * a guest that really hangs still fails the test as a timeout.
 */
#define TH_SELF_ENDING_TIMEOUT_MS 10000

/*
 * Run guest NAME with the given input, timeout (ms; 0 is
 * TH_SELF_ENDING_TIMEOUT_MS) and max_output (0 means the default); tc_run
 * must accept the job. The caller frees res.
 */
static inline void th_run_guest_full(const char *name, const void *input,
                                     size_t input_len, uint64_t mem_size,
                                     uint64_t timeout_ms, uint64_t max_output,
                                     struct tc_result *res)
{
    size_t len = 0;
    unsigned char *code = th_load_guest(name, &len);
    struct tc_job job;

    th_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.input = input;
    job.input_len = input_len;
    if (mem_size)
        job.mem_size = mem_size;
    job.timeout_ms = timeout_ms ? timeout_ms : TH_SELF_ENDING_TIMEOUT_MS;
    if (max_output)
        job.max_output = max_output;
    int rc = tc_run(&job, res);
    free(code);
    if (rc != 0)
        print_error("tc_run(%s) refused the job: %d (%s)\n", name, rc,
                    res->message);
    assert_int_equal(rc, 0);
}

static inline void th_run_guest(const char *name, uint64_t timeout_ms,
                                struct tc_result *res)
{
    th_run_guest_full(name, NULL, 0, 0, timeout_ms, 0, res);
}

/* Run inline code bytes; tc_run must accept the job. */
static inline void th_run_code(const void *code, size_t len,
                               uint64_t timeout_ms, struct tc_result *res)
{
    struct tc_job job;

    th_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.timeout_ms = timeout_ms ? timeout_ms : TH_SELF_ENDING_TIMEOUT_MS;
    int rc = tc_run(&job, res);
    if (rc != 0)
        print_error("tc_run refused the inline code: %d (%s)\n", rc,
                    res->message);
    assert_int_equal(rc, 0);
}

/* Fail with the status names and the job's message, not just numbers. */
#define th_assert_status(res, want)                                            \
    do {                                                                       \
        const struct tc_result *th_r_ = (res);                                 \
        if ((int)th_r_->status != (int)(want))                                 \
            print_error("status %s, want %s; message: %s (%llu exits, "        \
                        "%llu us)\n",                                          \
                        tc_status_name(th_r_->status), tc_status_name(want),   \
                        th_r_->message, (unsigned long long)th_r_->exits,      \
                        (unsigned long long)th_r_->wall_us);                   \
        assert_int_equal(th_r_->status, (want));                               \
    } while (0)

/* The pattern guests' byte: byte[i] = (i*7+3) & 0xff. */
static inline unsigned char th_pattern_byte(uint64_t i)
{
    return (unsigned char)((i * 7 + 3) & 0xff);
}

/* Index of the first byte that breaks the pattern, or len if none. */
static inline size_t th_pattern_mismatch(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != th_pattern_byte(i))
            return i;
    return len;
}

#define th_assert_pattern(buf, len)                                            \
    do {                                                                       \
        size_t th_len_ = (len);                                                \
        size_t th_bad_ = th_pattern_mismatch((buf), th_len_);                  \
        if (th_bad_ != th_len_)                                                \
            print_error("pattern broken at byte %zu of %zu: 0x%02x, want "     \
                        "0x%02x\n",                                            \
                        th_bad_, th_len_, (buf)[th_bad_],                      \
                        th_pattern_byte(th_bad_));                             \
        assert_int_equal(th_bad_, th_len_);                                    \
    } while (0)

static inline uint64_t th_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline void th_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Whether --backend kvm runs jobs here: hardware KVM, or kvm_pvm's ring-3
 * path (auto picks KVM only on the first: tc_kvm_usable()). */
static inline int th_kvm_runs(void)
{
    const char *k = tc_kvm_kind();

    return strcmp(k, "hardware") == 0 || strcmp(k, "pvm") == 0;
}

/* Whether the KVM backend runs on kvm_pvm here (its module is loaded), so
 * that tincan uses its ring-3 boot path (sandbox/pvm.h). In the KVM lane it
 * never is. TINCAN_TEST_PVM=0 or 1 overrides the check. */
static inline int th_on_pvm(void)
{
    const char *v = getenv("TINCAN_TEST_PVM");

    if (v && (strcmp(v, "0") == 0 || strcmp(v, "1") == 0))
        return v[0] == '1';
    return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* The CPU's own answer to cpuid (leaf, subleaf), run natively here. */
static inline void th_native_cpuid(uint32_t leaf, uint32_t sub,
                                   uint32_t regs[4])
{
    __cpuid_count(leaf, sub, regs[0], regs[1], regs[2], regs[3]);
}

/* Whether a KVM guest's `cpuid` is answered by the CPU itself here rather
 * than from the ABI's table: so on a kvm_pvm host whose kernel cannot make
 * a ring-3 cpuid trap (guests/ABI.md, "CPUID"). Decided once by running
 * leaf 0x80000002 (the brand: "tincan ABI CPU" in the table) on KVM and
 * comparing with the CPU's native answer. 0 where KVM does not run jobs. */
static inline int th_kvm_cpuid_is_the_cpus(void)
{
    static int known = -1;
    /* mov eax, 0x80000002; xor ecx, ecx; cpuid; out 0x10, eax; mov eax,
     * ebx; out 0x10, eax; mov eax, ecx; out 0x10, eax; mov eax, edx;
     * out 0x10, eax; xor eax, eax; out 0x11, al */
    static const uint8_t code[] = {0xb8, 0x02, 0x00, 0x00, 0x80, 0x31, 0xc9,
                                   0x0f, 0xa2, 0xe7, 0x10, 0x89, 0xd8, 0xe7,
                                   0x10, 0x89, 0xc8, 0xe7, 0x10, 0x89, 0xd0,
                                   0xe7, 0x10, 0x31, 0xc0, 0xe6, 0x11};
    struct tc_job job;
    struct tc_result r;
    uint32_t native[4];

    if (known >= 0)
        return known;
    known = 0;
    if (!th_kvm_runs())
        return known;
    tc_job_init(&job);
    job.code = code;
    job.code_len = sizeof(code);
    job.backend = TC_BACKEND_KVM;
    job.timeout_ms = 10000;
    if (tc_run(&job, &r) != 0)
        return known;
    th_native_cpuid(0x80000002, 0, native);
    known = r.status == TC_OK && r.output_len == sizeof(native) &&
            memcmp(r.output, native, sizeof(native)) == 0;
    tc_result_free(&r);
    return known;
}

/* Whether the CPU is AMD ("AuthenticAMD" in /proc/cpuinfo): KVM there
 * hands tincan the address of an access its emulator cannot run. */
static inline int th_cpu_is_amd(void)
{
    char line[256];
    int amd = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f && !amd && fgets(line, sizeof(line), f))
        amd = !strncmp(line, "vendor_id", 9) && strstr(line, "AuthenticAMD");
    if (f)
        fclose(f);
    return amd;
}

/* ---- /proc ------------------------------------------------------------- */

/* Open file descriptors of this process (excluding the one used to count). */
static inline int th_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

/* Value of a "Key:\tvalue" line of /proc/PID/status (pid 0: self) into
 * buf; 0 if found, -1 if the file or the key is missing. */
static inline int th_status_field(pid_t pid, const char *key, char *buf,
                                  size_t len)
{
    char path[64], line[512];
    size_t klen = strlen(key);
    FILE *f;
    int rc = -1;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        char *v = line + klen + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\n");
        v[n] = '\0';
        if (len) {
            size_t m = n < len - 1 ? n : len - 1;
            memcpy(buf, v, m);
            buf[m] = '\0';
        }
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* VmRSS (or another kB field) of this process in kB, -1 if unknown. */
static inline long th_status_kb(const char *key)
{
    char v[64];

    if (th_status_field(0, key, v, sizeof(v)) != 0)
        return -1;
    return strtol(v, NULL, 10);
}

/* State letter and ppid of PID from /proc/PID/stat; 0 if it is gone. */
static inline char th_proc_state(pid_t pid, pid_t *ppid)
{
    char path[64], buf[1024];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and ')'. */
    char *p = strrchr(buf, ')');
    char st = 0;
    int pp = 0;
    if (!p || sscanf(p + 1, " %c %d", &st, &pp) != 2)
        return 0;
    if (ppid)
        *ppid = pp;
    return st;
}

/*
 * Children of process PARENT (zombies included), up to max, into out.
 * Uses /proc/PARENT/task/ * /children where the kernel has it
 * (CONFIG_PROC_CHILDREN), else scans /proc/ * /stat for the ppid. Returns
 * the count.
 */
static inline int th_children_of(pid_t parent, pid_t *out, int max)
{
    char path[96];
    int n = 0, have_children_file = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)parent);
    d = opendir(path);
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char cpath[320];
            snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children",
                     (int)parent, e->d_name);
            FILE *f = fopen(cpath, "r");
            if (!f)
                continue;
            have_children_file = 1;
            int pid;
            while (fscanf(f, "%d", &pid) == 1)
                if (n < max)
                    out[n++] = pid;
            fclose(f);
        }
        closedir(d);
    }
    if (have_children_file)
        return n;

    d = opendir("/proc");
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name), pp = 0;
        if (th_proc_state(pid, &pp) && pp == parent && n < max)
            out[n++] = pid;
    }
    closedir(d);
    return n;
}

/* The process that forks this run's job children: its backend's zygote
 * (started if it was not). */
static inline pid_t th_job_parent(void)
{
    pid_t z = zygote_pid(th_on_emu() ? SBX_BACKEND_EMU : SBX_BACKEND_KVM);

    assert_true(z > 0);
    return z;
}

/* Wait up to ms for PARENT to have a child; its pid, or 0. */
static inline pid_t th_wait_child(pid_t parent, unsigned ms)
{
    uint64_t end = th_now_us() + (uint64_t)ms * 1000;
    pid_t kids[8];

    do {
        if (th_children_of(parent, kids, 8) > 0)
            return kids[0];
        th_sleep_ms(2);
    } while (th_now_us() < end);
    return 0;
}

/*
 * Call first in main(): stdout line-buffered, so that progress shows through
 * pipes (the lane); TINCAN_TEST_FILTER=GLOB runs only the matching tests and
 * TINCAN_TEST_SKIP=GLOB skips the matching ones (TINCAN_* variables also
 * pass into the lane).
 */
static inline void th_test_setup(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("TINCAN_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TINCAN_TEST_FILTER"));
    if (getenv("TINCAN_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("TINCAN_TEST_SKIP"));
}

#endif
