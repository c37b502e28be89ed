/*
 * bench.c - tincan's benchmark driver (make bench): per-job cost, throughput,
 * memory and guest speed of one backend, through the C API, as one JSON
 * object on stdout. Every figure is measured once per round and reported as
 * {"median", "min", "max"} over the rounds, all in this one process.
 * tests/bench/run runs it per backend (kvm in the lane), counts the child's
 * syscalls with strace, and prints the table.
 *
 *   bench --backend emu|kvm [--rounds R] [--jobs N] [--cli-jobs M]
 *         [--big-mib S] [--warmup W] [--fuzz-execs E]
 *   bench --backend emu|kvm --hello-jobs K     (only K hello jobs: for strace)
 *
 * Linux guests (issue 15): linux_hello_job_p50_us is the musl static hello
 * with printf ($BUILD/linux/hello.musl.elf) run as hello_once is, and
 * linux_hello_ratio_to_sdk its ratio to job_p50_us in the same round;
 * linux_hello_syscalls its system calls (on KVM one exit each);
 * linux_printf_bytes_per_exit_{musl,glibc} the output per exit of lines.c
 * printing LINES_PRINTED short lines: one exit per flushed stdio buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../../api/tincan.h"
/* Page-aligned as in the sha256 guest (guests/examples/sha256.c), so that
 * under QEMU's TCG (the lane) neither side's loop straddles a page. */
struct sha256;
static void sha256_block(struct sha256 *s, const unsigned char *p)
    __attribute__((aligned(4096)));
#include "../../guests/examples/sha256.h"

#define MIB                (1ULL << 20)
#define BIG_TIMEOUT_MS     (600ULL * 1000) /* a 64 MiB job under TCG */
#define BIG_MEM_SLACK      (32ULL * MIB)   /* code, stack, page tables */
#define MAX_ROUNDS         64
#define MAX_THREADS        64
#define DEFAULT_ROUNDS     5
#define DEFAULT_JOBS       2000
#define DEFAULT_CLI_JOBS   200
#define DEFAULT_BIG_MIB    64
#define DEFAULT_WARMUP     200
#define DEFAULT_FUZZ_EXECS 5000
/* tincan fuzz of the magic guest stops at its first crash; a budget only
 * in case it never finds it. */
#define MAGIC_EXECS_CAP  1000000
#define FUZZ_MAX_LEN     "64" /* inputs of a small job */
#define LINUX_JOBS_DIV   4    /* Linux hello jobs per round: jobs / this */
#define LINES_PRINTED    "10000"
#define LINUX_TIMEOUT_MS 60000

/* The figures, in the order they are printed. */
enum fig {
    F_FORK_P50,
    F_JOB_P50,
    F_JOB_P99,
    F_JOB_TO_FORK,
    F_JPS_J1,
    F_JPS_JN,
    F_CLI_P50,
    F_EXITS_HELLO_SDK,
    F_EXITS_HELLO_ONCE,
    F_CHILD_RSS,
    F_PARENT_RSS_GROWTH,
    F_OUT_MIBS,
    F_EXITS_PER_MIB,
    F_SHA_MIBS,
    F_NATIVE_SHA_MIBS,
    F_SHA_RATIO,
    F_FUZZ_J1,
    F_FUZZ_JN,
    F_FUZZ_TO_JOBS,
    F_FUZZ_MAGIC,
    F_NATIVE_FUZZ_MAGIC,
    F_LX_HELLO_P50,
    F_LX_HELLO_RATIO,
    F_LX_HELLO_SYSCALLS,
    F_LX_BYTES_PER_EXIT_MUSL,
    F_LX_BYTES_PER_EXIT_GLIBC,
    F_COUNT
};

static const char *const fig_name[F_COUNT] = {
    [F_FORK_P50] = "fork_wait_p50_us",
    [F_JOB_P50] = "job_p50_us",
    [F_JOB_TO_FORK] = "job_to_fork_ratio",
    [F_JOB_P99] = "job_p99_us",
    [F_JPS_J1] = "jobs_per_s_j1",
    [F_JPS_JN] = "jobs_per_s_jN",
    [F_CLI_P50] = "cli_job_p50_us",
    [F_EXITS_HELLO_SDK] = "exits_per_job",
    [F_EXITS_HELLO_ONCE] = "exits_per_job_hello_once",
    [F_CHILD_RSS] = "child_peak_rss_kib",
    [F_PARENT_RSS_GROWTH] = "parent_rss_growth_kib",
    [F_OUT_MIBS] = "output_mib_per_s",
    [F_EXITS_PER_MIB] = "exits_per_mib",
    [F_SHA_MIBS] = "sha256_mib_per_s",
    [F_NATIVE_SHA_MIBS] = "native_sha256_mib_per_s",
    [F_SHA_RATIO] = "sha256_ratio_to_native",
    [F_FUZZ_J1] = "fuzz_execs_per_s_j1",
    [F_FUZZ_JN] = "fuzz_execs_per_s_jN",
    [F_FUZZ_TO_JOBS] = "fuzz_to_jobs",
    [F_FUZZ_MAGIC] = "fuzz_time_to_magic_s",
    [F_NATIVE_FUZZ_MAGIC] = "native_fuzz_time_to_magic_s",
    [F_LX_HELLO_P50] = "linux_hello_job_p50_us",
    [F_LX_HELLO_RATIO] = "linux_hello_ratio_to_sdk",
    [F_LX_HELLO_SYSCALLS] = "linux_hello_syscalls",
    [F_LX_BYTES_PER_EXIT_MUSL] = "linux_printf_bytes_per_exit_musl",
    [F_LX_BYTES_PER_EXIT_GLIBC] = "linux_printf_bytes_per_exit_glibc",
};

/* Figures only the emulator has (coverage-guided fuzzing). */
static int emu_only(unsigned f)
{
    return f >= F_FUZZ_J1 && f <= F_NATIVE_FUZZ_MAGIC;
}

struct opts {
    enum tc_backend backend;
    const char *backend_name;
    unsigned rounds, jobs, cli_jobs, big_mib, warmup, hello_jobs, fuzz_execs;
};

struct guest {
    unsigned char *code;
    size_t len;
};

static double samples[F_COUNT][MAX_ROUNDS];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");

    return b && *b ? b : "build";
}

static struct guest load_file(const char *path)
{
    struct guest g = {0};
    FILE *f;
    long n;

    f = fopen(path, "rb");
    if (!f)
        die("cannot open %s: %s (run make first)", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0)
        die("cannot size %s", path);
    rewind(f);
    g.code = malloc((size_t)n);
    if (!g.code || fread(g.code, 1, (size_t)n, f) != (size_t)n)
        die("cannot read %s", path);
    fclose(f);
    g.len = (size_t)n;
    return g;
}

static struct guest load_guest(const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/guests/%s.bin", build_dir(), name);
    return load_file(path);
}

/* $BUILD/linux/NAME (make linux-guests). */
static struct guest load_linux(const char *name)
{
    char path[512];

    const char *programs = getenv("TINCAN_PROGRAMS");

    snprintf(path, sizeof(path), "%s/linux/%s",
             programs && *programs ? programs : build_dir(), name);
    return load_file(path);
}

/* This process's resident set, from /proc/self/statm. */
static uint64_t self_rss_kib(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2)
        die("cannot read /proc/self/statm");
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* Run one job, which must end ok with the output length wanted. */
static void run_job(const struct opts *o, const struct tc_job *base,
                    size_t want_output, struct tc_result *res)
{
    struct tc_job job = *base;

    job.backend = o->backend;
    if (tc_run(&job, res) != 0)
        die("tc_run refused the job: %s", res->message);
    if (res->status != TC_OK || res->output_len != want_output)
        die("job ended %s with %zu bytes of output (want ok, %zu): %s",
            tc_status_name(res->status), res->output_len, want_output,
            res->message);
}

static void hello_job(const struct guest *g, struct tc_job *job)
{
    tc_job_init(job);
    job->code = g->code;
    job->code_len = g->len;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n sorted values, nearest rank. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;

    return sorted[rank ? rank - 1 : 0];
}

/* The floor under every job: fork a child that exits at once, and reap it. */
static void round_fork(const struct opts *o, unsigned r, uint64_t *lat)
{
    for (unsigned i = 0; i < o->jobs; i++) {
        uint64_t s = now_us();
        pid_t pid = fork();
        int st;

        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0)
            _exit(0);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        lat[i] = now_us() - s;
    }
    qsort(lat, o->jobs, sizeof(*lat), cmp_u64);
    samples[F_FORK_P50][r] = (double)percentile(lat, o->jobs, 50);
}

/* N hello jobs one after another: latency percentiles, j1 throughput and
 * the children's peak RSS. */
static void round_sequential(const struct opts *o, const struct guest *g,
                             unsigned r, uint64_t *lat)
{
    struct tc_job job;
    uint64_t peak = 0, t0 = now_us();

    hello_job(g, &job);
    for (unsigned i = 0; i < o->jobs; i++) {
        struct tc_result res;
        uint64_t s = now_us();

        run_job(o, &job, 14, &res);
        lat[i] = now_us() - s;
        if (res.peak_rss_kib > peak)
            peak = res.peak_rss_kib;
        tc_result_free(&res);
    }
    uint64_t total = now_us() - t0;
    qsort(lat, o->jobs, sizeof(*lat), cmp_u64);
    samples[F_JOB_P50][r] = (double)percentile(lat, o->jobs, 50);
    samples[F_JOB_P99][r] = (double)percentile(lat, o->jobs, 99);
    samples[F_JPS_J1][r] = o->jobs * 1e6 / (double)total;
    samples[F_CHILD_RSS][r] = (double)peak;
}

struct worker {
    pthread_t t;
    const struct opts *o;
    const struct guest *g;
    unsigned jobs;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tc_job job;

    hello_job(w->g, &job);
    for (unsigned i = 0; i < w->jobs; i++) {
        struct tc_result res;
        run_job(w->o, &job, 14, &res);
        tc_result_free(&res);
    }
    return NULL;
}

/* Jobs hello jobs over nthreads threads; returns jobs per second. */
static double run_parallel(const struct opts *o, const struct guest *g,
                           unsigned jobs, unsigned nthreads)
{
    struct worker w[MAX_THREADS];
    uint64_t t0 = now_us();

    for (unsigned i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.o = o, .g = g, .jobs = jobs / nthreads};
        if (i < jobs % nthreads)
            w[i].jobs++;
        if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0)
            die("pthread_create failed");
    }
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(w[i].t, NULL);
    return jobs * 1e6 / (double)(now_us() - t0);
}

/* The same hello job through `tincan run`, a fresh process each time. */
static void round_cli(const struct opts *o, unsigned r, uint64_t *lat)
{
    char cli[512], guest[512];
    char *argv[] = {cli,   "run", "--backend", (char *)o->backend_name,
                    guest, NULL};
    posix_spawn_file_actions_t fa;

    snprintf(cli, sizeof(cli), "%s/tincan", build_dir());
    snprintf(guest, sizeof(guest), "%s/guests/hello_once.bin", build_dir());
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY,
                                     0);
    for (unsigned i = 0; i < o->cli_jobs; i++) {
        pid_t pid;
        int st;
        uint64_t s = now_us();

        if (posix_spawn(&pid, cli, &fa, NULL, argv, environ) != 0)
            die("cannot start %s", cli);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        lat[i] = now_us() - s;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("%s run --backend %s %s failed (status 0x%x)", cli,
                o->backend_name, guest, st);
    }
    posix_spawn_file_actions_destroy(&fa);
    qsort(lat, o->cli_jobs, sizeof(*lat), cmp_u64);
    samples[F_CLI_P50][r] = (double)percentile(lat, o->cli_jobs, 50);
}

/* Exits of the two hellos: the SDK one is what the target is about. */
static void round_exits(const struct opts *o, const struct guest *sdk,
                        const struct guest *once, unsigned r)
{
    struct tc_job job;
    struct tc_result res;

    hello_job(sdk, &job);
    run_job(o, &job, 14, &res);
    samples[F_EXITS_HELLO_SDK][r] = (double)res.exits;
    tc_result_free(&res);
    hello_job(once, &job);
    run_job(o, &job, 14, &res);
    samples[F_EXITS_HELLO_ONCE][r] = (double)res.exits;
    tc_result_free(&res);
}

/* spew: big_mib MiB of output through the SDK's bulk write. */
static void round_output(const struct opts *o, const struct guest *spew,
                         unsigned r)
{
    uint64_t bytes = (uint64_t)o->big_mib * MIB;
    char n[32];
    struct tc_job job;
    struct tc_result res;

    snprintf(n, sizeof(n), "%llu", (unsigned long long)bytes);
    hello_job(spew, &job);
    job.input = n;
    job.input_len = strlen(n);
    job.max_output = bytes;
    job.timeout_ms = BIG_TIMEOUT_MS;
    run_job(o, &job, bytes, &res);
    samples[F_OUT_MIBS][r] = o->big_mib * 1e6 / (double)res.wall_us;
    samples[F_EXITS_PER_MIB][r] = (double)res.exits / o->big_mib;
    tc_result_free(&res);
}

/*
 * sha256 of big_mib MiB in the guest and natively, the same C code. The
 * guest's time is the sha256 job's wall time minus that of a job with the
 * same input and memory that does nothing with it (hello_sdk): what is left
 * is the hashing, without fork, VM setup or copying the input in.
 */
static void round_sha256(const struct opts *o, const struct guest *sha,
                         const struct guest *idle, unsigned r)
{
    size_t len = (size_t)o->big_mib * MIB;
    /* Allocated here, not up front: a job's child inherits the parent's
     * resident pages, and child_peak_rss_kib should not count ours. */
    unsigned char *data = malloc(len);
    struct tc_job job;
    struct tc_result res;
    struct sha256 s;
    unsigned char d[32];

    if (!data)
        die("out of memory for %zu bytes of sha256 input", len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 8));
    hello_job(idle, &job);
    job.input = data;
    job.input_len = len;
    job.mem_size = len + BIG_MEM_SLACK;
    job.timeout_ms = BIG_TIMEOUT_MS;
    run_job(o, &job, 14, &res);
    uint64_t base_us = res.wall_us;
    tc_result_free(&res);
    job.code = sha->code;
    job.code_len = sha->len;
    run_job(o, &job, 65, &res); /* 64 hex digits and a newline */
    uint64_t hash_us = res.wall_us > base_us ? res.wall_us - base_us : 1;
    samples[F_SHA_MIBS][r] = o->big_mib * 1e6 / (double)hash_us;
    tc_result_free(&res);

    uint64_t t0 = now_us();
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, d);
    uint64_t t = now_us() - t0;
    /* Keep the digest alive so the hashing cannot be optimised away. */
    __asm__ volatile("" : : "r"(d) : "memory");
    samples[F_NATIVE_SHA_MIBS][r] = o->big_mib * 1e6 / (double)(t ? t : 1);
    samples[F_SHA_RATIO][r] =
        samples[F_SHA_MIBS][r] / samples[F_NATIVE_SHA_MIBS][r];
    free(data);
}

/* ---- fuzzing (emu only) ------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Spawn argv (stdout and stderr to /dev/null); its wall time in us and its
 * exit status in *status. */
static uint64_t spawn_wait(char **argv, int *status)
{
    posix_spawn_file_actions_t fa;
    uint64_t t0 = now_us();
    pid_t pid;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY,
                                     0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY,
                                     0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        die("cannot start %s", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return now_us() - t0;
}

/*
 * `tincan fuzz` of guest on the emulator: the statistics it writes
 * (--json-stats), which the caller json_decref()s. until_crash stops it at
 * the first crash, else it runs execs executions.
 */
static json_t *run_fuzz(const char *guest, unsigned jobs, unsigned execs,
                        unsigned seed, int until_crash)
{
    char cli[512], dir[512], crashes[600], stats[600], n[32], j[16], s[32];
    char max_len[] = FUZZ_MAX_LEN, until[] = "--until-crash", path[512];
    char fuzz[] = "fuzz", o_execs[] = "--execs", o_j[] = "-j",
         o_seed[] = "--seed", o_crashes[] = "--crashes",
         o_stats[] = "--json-stats", o_len[] = "--max-len";
    char *argv[] = {cli,    fuzz,    o_execs,   n,       o_j,     j,
                    o_seed, s,       o_crashes, crashes, o_stats, stats,
                    o_len,  max_len, path,      NULL,    NULL};
    json_error_t jerr;
    json_t *st;
    int status;

    snprintf(cli, sizeof(cli), "%s/tincan", build_dir());
    snprintf(dir, sizeof(dir), "%s/bench/fuzz.XXXXXX", build_dir());
    if (!mkdtemp(dir))
        die("mkdtemp %s: %s", dir, strerror(errno));
    snprintf(crashes, sizeof(crashes), "%s/crashes", dir);
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    snprintf(n, sizeof(n), "%u", execs);
    snprintf(j, sizeof(j), "%u", jobs);
    snprintf(s, sizeof(s), "%u", seed);
    snprintf(path, sizeof(path), "%s", guest);
    if (until_crash) {
        argv[14] = until;
        argv[15] = path;
    }
    spawn_wait(argv, &status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
        die("%s fuzz %s failed (status 0x%x)", cli, guest, status);
    st = json_load_file(stats, 0, &jerr);
    if (!st)
        die("%s: %s", stats, jerr.text);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return st;
}

static double json_number(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_number(v))
        die("tincan fuzz --json-stats has no number \"%s\"", key);
    return json_number_value(v);
}

/*
 * tincan fuzz of hello_once, the guest of jobs_per_s_jN, on one thread and
 * on nthreads, beside jobs_per_s_jN of this round (so fuzz_to_jobs is what
 * coverage, compares and the fuzzer cost a job); and the time to the magic
 * guest's crash with one thread, beside the same C function under
 * libFuzzer (in-process, the ceiling), both from seed r + 1.
 */
static void round_fuzz(const struct opts *o, unsigned nthreads, unsigned r)
{
    char guest[512], magic[512], lf[512], art[512], seed[32], prefix[600];
    char *lf_argv[] = {lf, seed, prefix, NULL};
    json_t *st;
    int status;

    snprintf(guest, sizeof(guest), "%s/guests/hello_once.bin", build_dir());
    snprintf(magic, sizeof(magic), "%s/guests/fuzz/magic.elf", build_dir());
    snprintf(lf, sizeof(lf), "%s/bench/magic_libfuzzer", build_dir());
    st = run_fuzz(guest, 1, o->fuzz_execs, r + 1, 0);
    samples[F_FUZZ_J1][r] = json_number(st, "execs_per_s");
    json_decref(st);
    st = run_fuzz(guest, nthreads, o->fuzz_execs, r + 1, 0);
    samples[F_FUZZ_JN][r] = json_number(st, "execs_per_s");
    json_decref(st);
    samples[F_FUZZ_TO_JOBS][r] = samples[F_FUZZ_JN][r] / samples[F_JPS_JN][r];

    st = run_fuzz(magic, 1, MAGIC_EXECS_CAP, r + 1, 1);
    json_t *b = json_array_get(json_object_get(st, "buckets"), 0);
    if (!b)
        die("tincan fuzz did not find the magic guest's crash in %u "
            "executions",
            MAGIC_EXECS_CAP);
    samples[F_FUZZ_MAGIC][r] = json_number(b, "found_after_s");
    json_decref(st);

    snprintf(art, sizeof(art), "%s/bench/libfuzzer.XXXXXX", build_dir());
    if (!mkdtemp(art))
        die("mkdtemp %s: %s", art, strerror(errno));
    snprintf(seed, sizeof(seed), "-seed=%u", r + 1);
    snprintf(prefix, sizeof(prefix), "-artifact_prefix=%s/", art);
    samples[F_NATIVE_FUZZ_MAGIC][r] =
        (double)spawn_wait(lf_argv, &status) / 1e6;
    /* libFuzzer exits non-zero once it has found (and saved) the crash. */
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
        die("%s did not find the crash (status 0x%x)", lf, status);
    nftw(art, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The musl hello, sequentially like round_sequential's hello_once. The
 * Linux programs are read for their rounds only: a job's child counts the
 * parent's resident pages in its peak RSS, and glibc's static programs are
 * 800 KiB each. */
static void round_linux(const struct opts *o, unsigned r, uint64_t *lat)
{
    static const char line[] = "Hello, World! 2 + 3 = 5\n";
    unsigned n = o->jobs / LINUX_JOBS_DIV ? o->jobs / LINUX_JOBS_DIV : 1;
    struct guest hello = load_linux("hello.musl.elf");
    struct tc_job job;

    hello_job(&hello, &job);
    for (unsigned i = 0; i < n; i++) {
        struct tc_result res;
        uint64_t s = now_us();

        run_job(o, &job, sizeof(line) - 1, &res);
        lat[i] = now_us() - s;
        samples[F_LX_HELLO_SYSCALLS][r] = (double)res.syscalls;
        tc_result_free(&res);
    }
    qsort(lat, n, sizeof(*lat), cmp_u64);
    samples[F_LX_HELLO_P50][r] = (double)percentile(lat, n, 50);
    samples[F_LX_HELLO_RATIO][r] =
        samples[F_LX_HELLO_P50][r] / samples[F_JOB_P50][r];
    free(hello.code);
}

/* lines.c's output per VM exit (per hook call on the emulator). */
static double bytes_per_exit(const struct opts *o, const char *name)
{
    const char *args[] = {LINES_PRINTED};
    struct guest lines = load_linux(name);
    struct tc_job job;
    struct tc_result res;

    hello_job(&lines, &job);
    job.args = args;
    job.nargs = 1;
    job.timeout_ms = LINUX_TIMEOUT_MS;
    job.backend = o->backend;
    if (tc_run(&job, &res) != 0 || res.status != TC_OK || !res.exits)
        die("lines: %s", res.message);
    double v = (double)res.output_len / (double)res.exits;
    tc_result_free(&res);
    free(lines.code);
    return v;
}

static json_t *summary(unsigned f, unsigned rounds)
{
    double v[MAX_ROUNDS];

    memcpy(v, samples[f], rounds * sizeof(double));
    qsort(v, rounds, sizeof(double), cmp_double);
    double med =
        rounds % 2 ? v[rounds / 2] : (v[rounds / 2 - 1] + v[rounds / 2]) / 2;
    return json_pack("{s:f, s:f, s:f}", "median", med, "min", v[0], "max",
                     v[rounds - 1]);
}

static unsigned parse_uint(const char *flag, const char *s, unsigned lo,
                           unsigned hi)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || s[0] < '0' || s[0] > '9' || v < lo || v > hi)
        die("%s %s: give a whole number from %u to %u", flag, s, lo, hi);
    return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.rounds = DEFAULT_ROUNDS,
                       .jobs = DEFAULT_JOBS,
                       .cli_jobs = DEFAULT_CLI_JOBS,
                       .big_mib = DEFAULT_BIG_MIB,
                       .warmup = DEFAULT_WARMUP,
                       .fuzz_execs = DEFAULT_FUZZ_EXECS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("%s needs a value", a);
        if (!strcmp(a, "--backend")) {
            if (!strcmp(v, "emu"))
                o->backend = TC_BACKEND_EMU;
            else if (!strcmp(v, "kvm"))
                o->backend = TC_BACKEND_KVM;
            else
                die("--backend %s: use emu or kvm", v);
            o->backend_name = v;
        } else if (!strcmp(a, "--rounds"))
            o->rounds = parse_uint(a, v, 1, MAX_ROUNDS);
        else if (!strcmp(a, "--jobs"))
            o->jobs = parse_uint(a, v, 1, 1000000);
        else if (!strcmp(a, "--cli-jobs"))
            o->cli_jobs = parse_uint(a, v, 1, 100000);
        else if (!strcmp(a, "--big-mib"))
            o->big_mib = parse_uint(a, v, 1, 512);
        else if (!strcmp(a, "--warmup"))
            o->warmup = parse_uint(a, v, 0, 100000);
        else if (!strcmp(a, "--fuzz-execs"))
            o->fuzz_execs = parse_uint(a, v, 1, 10000000);
        else if (!strcmp(a, "--hello-jobs"))
            o->hello_jobs = parse_uint(a, v, 1, 100000);
        else
            die("unknown option %s; see the comment at the top of "
                "tests/bench/bench.c",
                a);
        i++;
    }
    if (!o->backend_name)
        die("give --backend emu or --backend kvm");
}

int main(int argc, char **argv)
{
    struct opts o;
    struct guest once, sdk, spew, sha;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nthreads = ncpu < 1             ? 1
                        : ncpu > MAX_THREADS ? MAX_THREADS
                                             : (unsigned)ncpu;

    parse_args(argc, argv, &o);
    once = load_guest("hello_once");
    if (o.hello_jobs) {
        struct tc_job job;
        hello_job(&once, &job);
        for (unsigned i = 0; i < o.hello_jobs; i++) {
            struct tc_result res;
            run_job(&o, &job, 14, &res);
            tc_result_free(&res);
        }
        return 0;
    }
    sdk = load_guest("hello_sdk");
    spew = load_guest("spew");
    sha = load_guest("sha256");

    uint64_t *lat =
        malloc(sizeof(uint64_t) * (o.jobs > o.cli_jobs ? o.jobs : o.cli_jobs));
    if (!lat)
        die("out of memory");

    /* Warm up: the library's one-time setup, caches, the allocator, the
     * worker threads' stacks (glibc keeps them for reuse) and each kind of
     * round, so that parent_rss_growth_kib sees only what jobs leave
     * behind. */
    struct tc_job job;
    hello_job(&once, &job);
    for (unsigned i = 0; i < o.warmup; i++) {
        struct tc_result res;
        run_job(&o, &job, 14, &res);
        tc_result_free(&res);
    }
    run_parallel(&o, &once, o.warmup, nthreads);
    /* And every other kind of hello round once (round 0 redoes them). */
    round_fork(&o, 0, lat);
    round_exits(&o, &sdk, &once, 0);
    round_linux(&o, 0, lat);
    uint64_t rss0 = self_rss_kib();
    uint64_t jobs_done = 0;

    /* The small jobs first, all rounds, so that parent_rss_growth_kib is
     * the growth after 2 x jobs x rounds hello jobs and nothing else. */
    for (unsigned r = 0; r < o.rounds; r++) {
        round_fork(&o, r, lat);
        round_sequential(&o, &once, r, lat);
        /* What a whole job costs over a bare fork + reap, in one round. */
        samples[F_JOB_TO_FORK][r] =
            samples[F_JOB_P50][r] / samples[F_FORK_P50][r];
        samples[F_JPS_JN][r] = run_parallel(&o, &once, o.jobs, nthreads);
        round_exits(&o, &sdk, &once, r);
        round_linux(&o, r, lat);
        jobs_done += 2ULL * o.jobs + 2 + o.jobs / LINUX_JOBS_DIV;
        samples[F_PARENT_RSS_GROWTH][r] =
            (double)((int64_t)self_rss_kib() - (int64_t)rss0);
        fprintf(stderr, "bench: %s round %u/%u: p50 %.0f us, jN %.0f jobs/s\n",
                o.backend_name, r + 1, o.rounds, samples[F_JOB_P50][r],
                samples[F_JPS_JN][r]);
    }
    for (unsigned r = 0; r < o.rounds; r++) {
        round_cli(&o, r, lat);
        round_output(&o, &spew, r);
        round_sha256(&o, &sha, &sdk, r);
        if (o.backend == TC_BACKEND_EMU)
            round_fuzz(&o, nthreads, r);
        samples[F_LX_BYTES_PER_EXIT_MUSL][r] =
            bytes_per_exit(&o, "lines.musl.elf");
        samples[F_LX_BYTES_PER_EXIT_GLIBC][r] =
            bytes_per_exit(&o, "lines.glibc.elf");
    }

    json_t *root = json_object(), *figs = json_object();
    for (unsigned f = 0; f < F_COUNT; f++)
        if (o.backend == TC_BACKEND_EMU || !emu_only(f))
            json_object_set_new(figs, fig_name[f], summary(f, o.rounds));
    json_object_set_new(root, "figures", figs);
    json_object_set_new(
        root, "setup",
        json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:i}", "backend",
                  o.backend_name, "rounds", o.rounds, "jobs_per_round", o.jobs,
                  "cli_jobs_per_round", o.cli_jobs, "big_mib", o.big_mib,
                  "workers_jN", nthreads, "warmup_jobs", o.warmup,
                  "hello_jobs_after_warmup", (json_int_t)jobs_done,
                  "fuzz_execs_per_run", o.fuzz_execs));
    if (json_dumpf(root, stdout, JSON_INDENT(1) | JSON_SORT_KEYS) != 0)
        die("cannot write the JSON");
    putchar('\n');
    json_decref(root);
    free(lat);
    return 0;
}
