/*
 * tincan.h - the C API of tincan, a sandboxed runner for x86-64 machine code.
 *
 * A job is a snippet of 64-bit code (and optional input bytes); tc_run()
 * runs it in a fresh, locked-down child process holding a fresh KVM virtual
 * machine (or, without KVM, a Unicorn emulator of the same machine), and fills
 * a result: a status, the guest's output and exit code, and details for faults
 * and stray accesses. The guest ABI is described in guests/ABI.md; an
 * ordinary static Linux executable runs too (job.abi, name, args, env,
 * seed: the README's "Running ordinary programs"), its stderr in
 * result.err. Link with
 * libtincan.a and -lseccomp -lcap -ljansson -lcurl -lcrypto -ldl
 * -lpthread. The job's child is forked by a small helper process (the
 * zygote) that the library starts once per backend, never from the
 * caller's process: it holds nothing of the caller or of other jobs (the
 * README's "Security model"). The emulator's zygote loads libunicorn.so.2.
 *
 * tc_load() turns a source (a file, stdin, hex, base64 or a URL, optionally
 * pinned to a SHA-256) into the bytes for job.code or job.input; URLs are
 * fetched here, in the calling process, never by the job's child.
 *
 *     struct tc_job job;
 *     struct tc_result res;
 *     tc_job_init(&job);
 *     job.code = bytes; job.code_len = n;
 *     if (tc_run(&job, &res) == 0)
 *         fwrite(res.output, 1, res.output_len, stdout);
 *     tc_result_free(&res);
 *
 * tc_run() is safe to call from several threads at once; each call blocks
 * its thread until its job has ended (bounded by the job's timeout).
 */
#ifndef TINCAN_H
#define TINCAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINCAN_VERSION "0.1.0"

enum tc_status {
    TC_OK = 0,              /* HLT or exit port: exit_code is valid */
    TC_TIMEOUT,             /* the deadline passed; output so far is kept */
    TC_OUTPUT_LIMIT,        /* output passed max_output: first N bytes kept */
    TC_FAULT,               /* a CPU exception: see fault */
    TC_UNHANDLED_IO,        /* IN, or OUT to a port the ABI lacks: see io */
    TC_MMIO,                /* access with no guest memory behind: see mmio */
    TC_SHUTDOWN,            /* triple fault */
    TC_SANDBOX_VIOLATION,   /* the child made a forbidden syscall */
    TC_INTERNAL_ERROR,      /* a host-side failure: see message */
    TC_INSN_LIMIT,          /* the emulator ran max_insns instructions */
    TC_UNSUPPORTED_SYSCALL, /* Linux guest, strict_syscalls: a system call
                               tincan lacks; see unsupported_syscall */
    TC_SIGNAL,   /* Linux guest: it sent itself a signal (abort()); see
                    signal */
    TC_DEADLOCK, /* Linux guest: a wait nothing can end (futex, one thread) */
    TC_STATUS_COUNT
};

#define TC_DEFAULT_MEM        (16ULL << 20)
#define TC_MIN_MEM            (1ULL << 20)
#define TC_MAX_MEM            (1ULL << 30)
#define TC_DEFAULT_TIMEOUT_MS 1000ULL
#define TC_MAX_TIMEOUT_MS     (24ULL * 3600 * 1000)
#define TC_DEFAULT_MAX_OUTPUT (1ULL << 20)
#define TC_MAX_MAX_OUTPUT     (1ULL << 30)
#define TC_DEFAULT_MAX_STDERR (64ULL << 10)
#define TC_DEFAULT_SEED       0ULL
#define TC_DEFAULT_NAME       "program"

/* How to read tc_job.code. */
enum tc_format {
    TC_FORMAT_AUTO = 0, /* ELF when it starts with the ELF magic, else raw */
    TC_FORMAT_RAW,      /* flat code, loaded and entered at 0x10000 */
    TC_FORMAT_ELF,      /* static ELF64 x86-64 executable (ET_EXEC) */
};

/* Which contract the code is written against (guests/ABI.md). */
enum tc_abi {
    TC_ABI_AUTO = 0, /* tincan for a flat binary or an ELF with tincan's
                        note (the SDK's crt0, guest.inc), else linux */
    TC_ABI_TINCAN,   /* an SDK guest: ring 0, ports */
    TC_ABI_LINUX,    /* a static Linux executable: ring 3, system calls */
};

/* Which machine runs the job. */
enum tc_backend {
    TC_BACKEND_AUTO = 0, /* hardware KVM when there, else the emulator */
    TC_BACKEND_KVM,      /* a KVM virtual machine; -ENODEV without KVM */
    TC_BACKEND_EMU,      /* the Unicorn emulator: slower, needs no KVM */
};

struct tc_job {
    const void *code; /* the code, as format says */
    size_t code_len;
    enum tc_format format;
    const void *input; /* bytes the guest finds at rdi, rsi = length */
    size_t input_len;
    uint64_t mem_size;   /* guest memory: 1 MiB..1 GiB, 4 KiB multiple */
    uint64_t timeout_ms; /* wall-clock deadline: 1 ms..24 h */
    uint64_t max_output; /* bytes of output kept: 0..1 GiB */
    enum tc_backend backend;
    uint64_t max_insns; /* emulator only: end with TC_INSN_LIMIT after this
                           many guest instructions; 0 = no limit */
    /* Fuzzing feedback, emulator only (the KVM backend refuses it, and
     * TC_BACKEND_AUTO picks the emulator): */
    int coverage;        /* 1: res->coverage gets the job's edge hit counts */
    unsigned max_cmps;   /* log up to this many of the guest's compares into
                            res->cmps (0..TC_MAX_CMPS; 0: none) */
    uint64_t max_stderr; /* bytes of stderr kept: 0..1 GiB (default 64 KiB);
                            past it the job ends with TC_OUTPUT_LIMIT */
    enum tc_abi abi;
    /* Linux guests only (the README's "Running ordinary programs"): */
    const char *name;        /* argv[0]: a file name, no '/' (default
                                "program") */
    const char *const *args; /* argv[1..nargs] */
    size_t nargs;
    const char *const *env; /* the environment: "KEY=VALUE" each; nothing
                               comes from the host's */
    size_t nenv;
    uint64_t seed;       /* AT_RANDOM and getrandom's stream (default 0) */
    int strict_syscalls; /* end with TC_UNSUPPORTED_SYSCALL at the first
                            call tincan lacks, instead of -ENOSYS */
    int cancel_fd;       /* -1 (tc_job_init) or 0: none; else a descriptor
                            that, once readable, ends the job: its child is
                            killed and tc_run() returns -ECANCELED (an
                            eventfd, a pipe) */
};

/* The edge map of tc_result.coverage, as AFL has it: one byte per hashed
 * (previous basic block, basic block) pair, counting how often the guest
 * took that edge (saturating at 255). */
#define TC_COVERAGE_MAP_SIZE 65536
#define TC_MAX_CMPS          4096
/* Compares logged per compare instruction at most (a loop cannot fill the
 * log with one site); compares of equal operands are not logged. */
#define TC_CMPS_PER_SITE 8

/* One compare the guest executed (x86 CMP), in the order they ran. */
struct tc_cmp {
    uint64_t rip;  /* the instruction's address */
    uint64_t a, b; /* its operands, zero-extended from size bytes */
    unsigned size; /* operand size: 1, 2, 4 or 8 bytes */
};

#define TC_MESSAGE_MAX 256

struct tc_result {
    enum tc_status status;
    uint64_t exit_code;    /* status TC_OK */
    unsigned char *output; /* output_len bytes (NULL when empty) */
    size_t output_len;
    uint64_t wall_us;             /* fork to reap */
    uint64_t peak_rss_kib;        /* the job's child: peak resident KiB */
    uint64_t exits;               /* VM exits */
    const char *backend;          /* "kvm" or "emu": what ran the job */
    char message[TC_MESSAGE_MAX]; /* one line saying what happened */
    struct {
        unsigned vector; /* 0..255 */
        char name[16];   /* "#PF" */
        int has_error_code;
        uint64_t error_code, rip, cr2; /* cr2 for #PF only */
    } fault;                           /* status TC_FAULT */
    struct {
        unsigned port;
        int out;       /* 1: OUT, 0: IN */
        unsigned size; /* 1, 2 or 4 bytes */
    } io;              /* status TC_UNHANDLED_IO */
    struct {
        uint64_t address;
        int write;
        unsigned size;     /* 0 for an instruction fetch */
    } mmio;                /* status TC_MMIO */
    int violation_syscall; /* status TC_SANDBOX_VIOLATION, else -1 */
    /* With job->coverage: TC_COVERAGE_MAP_SIZE bytes (NULL without, or
     * when the job's child wrote an invalid report). */
    uint8_t *coverage;
    /* With job->max_cmps: the compares logged (NULL when none). */
    struct tc_cmp *cmps;
    size_t cmps_len;
    unsigned char *err; /* stderr: err_len bytes (NULL when empty) */
    size_t err_len;
    const char *abi;               /* "tincan" or "linux": how the code ran */
    uint64_t syscalls;             /* Linux guests: system calls made */
    uint64_t unsupported_syscalls; /* ... answered -ENOSYS as unknown */
    int unsupported_syscall;       /* the first of those (or the one that ended
                                      a strict job), else -1 */
    int signal;                    /* status TC_SIGNAL: its number, else 0 */
};

/* Where code or input comes from (tc_load). */
enum tc_source_kind {
    TC_SOURCE_PATH = 0, /* a file path, or "-" for standard input */
    TC_SOURCE_HEX,      /* hex text: "b0 41 e6 10 f4" */
    TC_SOURCE_B64,      /* base64 text: "sEHmEPQ=" */
    TC_SOURCE_URL,      /* http:// or https:// (file:// when allowed) */
};

struct tc_source {
    enum tc_source_kind kind;
    const char *text;   /* the path, text or URL */
    const char *sha256; /* NULL, or the 64 hex digits the bytes must have */
};

#define TC_DEFAULT_FETCH_TIMEOUT_MS 30000ULL
#define TC_DEFAULT_MAX_FETCH        (16ULL << 20)

/* How URLs are fetched. The fetch has its own deadline (timeout_ms), which
 * does not count against the job's. Redirects: at most 5, each to http or
 * https, never from https to http, each to an allowed host. */
struct tc_fetch_options {
    uint64_t timeout_ms;   /* whole fetch incl. redirects; connect <= 10 s */
    uint64_t max_bytes;    /* body size cap, enforced while it streams */
    int allow_file_urls;   /* allow a file:// URL (never as a redirect) */
    const char *cacert;    /* CA bundle for TLS; NULL: the system's CAs */
    const char *cache_dir; /* persist fetches here by SHA-256; NULL: only
                              this process's cache */
    const char *const *allow_hosts; /* NULL: any host; else a NULL-
                                       terminated list of host names (lower
                                       case; IPv6 without brackets): the URL
                                       and every redirect must name one */
};

/* Defaults: 30 s, 16 MiB, no file://, system CAs, no cache directory. */
void tc_fetch_options_init(struct tc_fetch_options *opts);

/*
 * The bytes of src, at most 1 GiB (the most guest memory there can be) and
 * at most opts->max_bytes for a URL; opts may be NULL for the defaults.
 * *out is malloc'd (NULL when empty); free() it. A URL is fetched at most
 * once per process (and once per cache_dir when pinned by sha256): see the
 * README's "Payload sources". Returns 0, or -errno with one line in err
 * (e.g. -EBADMSG: "payload digest mismatch: expected ... got ...").
 * Safe to call from several threads at once.
 */
int tc_load(const struct tc_source *src, const struct tc_fetch_options *opts,
            void **out, size_t *len, char *err, size_t errlen);

/* Forget every fetch this process has cached (a cache_dir is kept). */
void tc_fetch_cache_clear(void);

/* Defaults: 16 MiB, 1 s, 1 MiB of output, 64 KiB of stderr, no code, no
 * input, backend auto, abi auto, no instruction limit, name "program", no
 * arguments, an empty environment, seed 0, no cancel_fd. */
void tc_job_init(struct tc_job *job);

/*
 * Run a job. Returns 0 when the job ran: res holds its status, whatever it
 * is. Returns -EINVAL for a job that cannot run (empty code, sizes out of
 * range, code and input that do not fit, max_insns, coverage or max_cmps
 * on KVM, max_cmps over TC_MAX_CMPS) and -ENODEV when
 * backend is TC_BACKEND_KVM and KVM cannot run jobs here (tc_kvm_kind() is
 * "none" or "software"; "hardware" and "pvm" run them); res->message then says
 * why in one line, and res holds no output. Returns -ECANCELED when
 * job->cancel_fd became readable before the job ended (the child was killed;
 * res holds no output). Always call tc_result_free() afterwards.
 */
int tc_run(const struct tc_job *job, struct tc_result *res);

void tc_result_free(struct tc_result *res);

/* "ok", "timeout", ... ; "unknown" for values out of range. */
const char *tc_status_name(enum tc_status st);

/*
 * Whether jobs run in per-job cgroups (memory.max, pids.max): 1 and where,
 * or 0 and why not (then rlimits alone bound a job). One line into buf.
 */
int tc_cgroup_info(char *buf, size_t len);

/*
 * 1 when TC_BACKEND_AUTO picks KVM here: /dev/kvm opens and it is hardware
 * KVM (vmx or svm), which runs the whole guest ABI; else 0. On kvm_pvm (a
 * software KVM) TC_BACKEND_KVM runs jobs on a ring-3 boot path, with the
 * differences guests/ABI.md lists, but auto is the emulator, which starts
 * short jobs faster there; on another software KVM TC_BACKEND_KVM is
 * refused with -ENODEV.
 */
int tc_kvm_usable(void);

/*
 * What kind of KVM this host has, decided once per process from
 * /proc/cpuinfo and /sys/module: "hardware" (vmx or svm), "pvm" (the
 * kvm_pvm module), "software" (another KVM without vmx/svm) or "none"
 * (/dev/kvm does not open).
 */
const char *tc_kvm_kind(void);

/*
 * What isolates the jobs of backend (TC_BACKEND_AUTO: the one auto picks)
 * from the host and from each other beyond seccomp, as lines into buf: the
 * uid job children run as (a root caller's jobs run as TINCAN_JOB_UID,
 * default 65534), then each step the host refused (a user, network, IPC,
 * UTS, mount or per-job PID namespace, the empty root). Starts that
 * backend's zygote. Returns 0, or -errno when the backend cannot start
 * (buf says why).
 */
int tc_isolation_info(enum tc_backend backend, char *buf, size_t len);

/* The guest ABI version this library implements (guests/ABI.md). */
unsigned tc_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif
