/*
 * sandbox.h - what the runner (the parent) sees of the sandbox: the per-host
 * preparation done once, the per-job preparation before the fork, the
 * report a child writes into memory shared with the parent, and the child's
 * entry point. Everything behind it runs inside
 * the per-job child.
 */
#ifndef SANDBOX_SANDBOX_H
#define SANDBOX_SANDBOX_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* Job statuses; api/tincan.h mirrors these values (checked at build time). */
enum sbx_status {
    SBX_OK = 0,
    SBX_TIMEOUT,
    SBX_OUTPUT_LIMIT,
    SBX_FAULT,
    SBX_UNHANDLED_IO,
    SBX_MMIO,
    SBX_SHUTDOWN,
    SBX_SANDBOX_VIOLATION,
    SBX_INTERNAL_ERROR,
    SBX_INSN_LIMIT,          /* the emulator ran max_insns guest instructions */
    SBX_UNSUPPORTED_SYSCALL, /* a Linux guest's call tincan lacks (strict) */
    SBX_SIGNAL,              /* a Linux guest sent itself a signal (abort()) */
    SBX_DEADLOCK, /* a Linux guest waited where nothing can wake it */
    SBX_STATUS_COUNT
};

#define SBX_MESSAGE_MAX 256
#define SBX_NAME_MAX    16
#define SBX_PAGE_SIZE   4096 /* x86-64 base page: memfd regions align to it */

/*
 * The report: a header followed by out_cap bytes of output and err_cap
 * bytes of stderr, at the start of the job's memfd (see struct sbx_job),
 * mapped by the parent and by the job's child only. The child appends to a
 * stream and publishes out_len (err_len) after each append, so everything
 * written before a SIGKILL is still there for the parent. The parent
 * writes out_cap and err_cap for the child; it reads every field back once
 * and checks it against its own copy of the job's limits, never against
 * anything in here.
 */
struct sbx_report {
    uint32_t done;      /* 1 once the child has written a final status */
    uint32_t status;    /* enum sbx_status */
    uint64_t exit_code; /* guest's exit code (status ok) */
    uint64_t exits;     /* VM exits taken (not the CPU-time probes') */
    uint64_t out_len;   /* valid bytes in out[] */
    uint64_t out_cap;   /* --max-output */
    struct {
        uint32_t vector;
        uint32_t has_error_code;
        uint64_t error_code, rip, cr2;
        char name[SBX_NAME_MAX];
    } fault;
    struct {
        uint16_t port;
        uint8_t out; /* 1: OUT, 0: IN */
        uint8_t size;
        uint32_t count;
    } io;
    struct {
        uint64_t address;
        uint32_t size;
        uint8_t write;
    } mmio;
    int32_t violation_syscall; /* -1, or the trapped syscall number */
    char message[SBX_MESSAGE_MAX];
    uint32_t violation_arch; /* AUDIT_ARCH_* of the trapped call (x86-64,
                                or i386 for int 0x80) */
    uint64_t err_len;        /* valid bytes of stderr at out + out_cap */
    uint64_t err_cap;        /* max_stderr */
    uint64_t syscalls;       /* Linux guests: system calls made */
    uint64_t unsupported;    /* ... of which tincan lacks (-ENOSYS) */
    int32_t unsupported_nr;  /* the first of those, or -1 */
    int32_t signal;          /* status signal: the signal's number */
    unsigned char out[];
};

/*
 * Fuzzing feedback (emulator only): a region of the job's memfd after the
 * report (at sbx_job.feedback_off, sbx_feedback_offset() for the report's
 * out_cap), present only when the job asks for it (sbx_job.feedback). The
 * child fills it; the parent reads it after the child has ended and trusts
 * none of it: every count is clamped to the parent's own copy of the
 * capacities.
 */
#define SBX_FEEDBACK_EDGES 1u /* AFL-style edge hit counts in edges[] */
#define SBX_FEEDBACK_CMPS  2u /* compare operands in cmps[] */
/* One byte per hashed (previous block, block) pair: AFL's 64 KiB map. */
#define SBX_EDGE_MAP_SIZE 65536
#define SBX_CMP_MAX       4096 /* most compare records a job can ask for */
/* The child's count of records per compare site (hashed rip), so that one
 * loop cannot fill the log: at most SBX_CMP_PER_SITE records per site. */
#define SBX_CMP_SITES    4096
#define SBX_CMP_PER_SITE 8

/* One executed compare (x86 CMP: a TCG subtraction that sets the flags). */
struct sbx_cmp {
    uint64_t rip;  /* the compare instruction */
    uint64_t a, b; /* its operands, in size bytes (the rest is zero) */
    uint32_t size; /* 1, 2, 4 or 8 */
    uint32_t reserved;
};

struct sbx_feedback {
    uint32_t cmp_len; /* records in cmps[] (the child's word: clamp it) */
    uint32_t reserved;
    uint8_t edges[SBX_EDGE_MAP_SIZE];
    uint8_t cmp_site_hits[SBX_CMP_SITES]; /* the child's scratch */
    struct sbx_cmp cmps[];                /* sbx_job.cmp_cap records */
};

/* The fixed fd number of the vCPU in the run loop (stage-2 filter). */
#define SBX_VCPU_FD 3

/* One seccomp program, built in the parent and installed in the child. */
struct sbx_filter {
    struct sock_fprog prog;
};

/* Which machine runs the guest. */
enum sbx_backend {
    SBX_BACKEND_KVM = 0, /* a KVM VM (kvm.c) */
    SBX_BACKEND_EMU,     /* the Unicorn emulator (emu.c), no /dev/kvm needed */
};

/* Prepared once per process in the parent and inherited by every child. */
struct sbx_host {
    int kvm_fd;   /* /dev/kvm, -1 when not usable */
    int kvm_kind; /* enum kvm_kind (kvm.h): what the runner found */
    int vcpu_mmap_size;
    void *cpuid; /* struct kvm_cpuid2 *, the ABI's (cpuid.c) */
    int cpu_xsave, cpu_avx;
    int pvm;             /* /dev/kvm is kvm_pvm: the ring-3 boot path (pvm.h) */
    uint8_t *boot_image; /* BOOT_IMAGE_SIZE bytes: tables for low memory */
    struct sbx_filter stage1, stage2; /* KVM backend */
    struct sbx_filter emu;            /* emulator backend: one stage */
    char kvm_error[SBX_MESSAGE_MAX];  /* why kvm_fd is -1 */
};

struct emu_template;

/* A range of guest memory to fill: filesz bytes of data, then zeros. */
struct sbx_segment {
    uint64_t gpa;
    const uint8_t *data;
    uint64_t filesz, memsz;
    int exec;
};

#define SBX_MAX_SEGMENTS 16
#define SBX_LX_NAME_MAX  256 /* the program's name, with its NUL */

/* Which contract the guest's code is written against. */
enum sbx_abi {
    SBX_ABI_TINCAN = 0, /* guests/ABI.md: ring 0, ports */
    SBX_ABI_LINUX,      /* a static Linux executable: ring 3, syscalls */
};

/*
 * A Linux guest's process, planned by the runner (runner/lxstart.c). Guest
 * memory from the program up: [brk_start, heap_end) shared by brk (from the
 * bottom) and mmap (from the top), the guard below the stack (job->guard),
 * and the stack up to mem_size, whose top holds stack: argc, argv, envp,
 * auxv and their strings, with rsp = sp.
 */
struct sbx_linux {
    uint64_t sp;
    struct sbx_segment stack;
    uint64_t brk_start, heap_end;
    uint64_t stack_size;        /* what getrlimit(RLIMIT_STACK) says */
    uint64_t seed;              /* getrandom's stream */
    int strict;                 /* end the job at the first unsupported call */
    char name[SBX_LX_NAME_MAX]; /* readlink("/proc/self/exe") says "/name" */
    uint64_t hwcap_at;          /* where in the stack AT_HWCAP's value goes: the
                                   child writes the CPUID.1:EDX the guest sees
                                   (cpuid.c) there */
};

/*
 * What the child needs to know about the job (runner/image.c fills it).
 * The runner copies it, with the bytes its pointers name, into the job's
 * memfd (after the report): there the pointers hold offsets from the start
 * of the memfd, which sbx_job_unpack() turns back into addresses in the
 * child's mapping. A new pointer field must be added to both
 * runner/job.c's packing and sbx_job_unpack().
 */
struct sbx_job {
    struct sbx_segment segs[SBX_MAX_SEGMENTS];
    unsigned nsegs;
    uint64_t entry; /* rip at entry */
    const uint8_t *input;
    size_t input_len;
    uint64_t input_addr; /* rdi at entry */
    uint64_t mem_size;
    uint64_t timeout_ms;
    enum sbx_backend backend;
    uint64_t max_insns; /* emulator only: stop after this many, 0 = no limit */
    unsigned feedback;  /* SBX_FEEDBACK_* (emulator only), or 0 */
    uint32_t cmp_cap;   /* records room in the feedback's cmps[] */
    uint64_t feedback_off; /* the region's offset in the memfd */
    enum sbx_abi abi;
    uint64_t guard, guard_len; /* not present: below the stack; 0 = none */
    struct sbx_linux lx;       /* abi linux only (lx.stack.data: a pointer) */
};

/* What the zygote adds when it forks a job's child: none of it comes from
 * the runner. */
struct sbx_start {
    int cgroup_fd;   /* the job cgroup's cgroup.procs to join, or -1 */
    int life_fd;     /* read end of the zygote's life pipe: hung up once the
                        zygote is gone; -1: check getppid() == parent */
    int parent;      /* with life_fd -1: the pid that forked the child */
    uint64_t mapped; /* bytes of address space mapped at the fork (0: the
                        child reads /proc/self/statm) */
    int bset_clear;  /* the capability bounding set is empty already */
    struct emu_template *emu; /* emulator: the machine to start from */
    int built; /* sbx_start_prepare() built the template just now */
};

/*
 * Prepare the zygote of one backend: build the boot image and that
 * backend's seccomp programs; for KVM, read what every VM needs from
 * kvm_fd (an open /dev/kvm of kvm_kind, enum kvm_kind: a failure is
 * recorded in kvm_error, not returned), for the emulator load Unicorn. Returns
 * 0 or a negative errno with a message in err.
 */
int sbx_host_init(struct sbx_host *host, enum sbx_backend backend, int kvm_fd,
                  int kvm_kind, char *err, size_t errlen);
void sbx_host_fini(struct sbx_host *host);

/*
 * Zygote, before the fork: what the job's backend prepares ahead of the
 * child (the emulator's template for mem_size with the hooks of the job's
 * feedback, SBX_FEEDBACK_*, in st->emu). Returns 0 or -errno with a
 * message in err. sbx_start_release() after the fork.
 */
int sbx_start_prepare(const struct sbx_host *host, enum sbx_backend backend,
                      uint64_t mem_size, unsigned feedback,
                      struct sbx_start *st, char *err, size_t errlen);
void sbx_start_release(struct sbx_start *st);

/* Bytes of a report with out_cap bytes of output and err_cap bytes of
 * stderr, rounded up to whole pages: the job description follows it in the
 * memfd. */
size_t sbx_report_size(uint64_t out_cap, uint64_t err_cap);

/*
 * Child: the job description at job_off in the memfd mapped at base
 * (file_size bytes), its offsets turned into addresses. NULL when the
 * description or a range it names does not lie inside the file.
 */
struct sbx_job *sbx_job_unpack(uint8_t *base, uint64_t file_size,
                               uint64_t job_off);

/* Where the feedback region starts in the memfd of a report with out_cap
 * bytes of output (right after the report), and its size for cmp_cap
 * records (whole pages). */
size_t sbx_feedback_offset(uint64_t out_cap, uint64_t err_cap);
size_t sbx_feedback_size(uint32_t cmp_cap);

/* The child's whole life: lock down, build the machine job->backend names,
 * run it. Never returns. */
void sbx_child_main(const struct sbx_host *host, const struct sbx_job *job,
                    const struct sbx_start *st, struct sbx_report *rep)
    __attribute__((noreturn));

/* Name of a Linux system call number ("openat"), into buf. */
const char *sbx_syscall_name(long nr, char *buf, size_t len);

/* Human name of a status ("ok", "timeout", ...). */
const char *sbx_status_name(enum sbx_status st);

#endif
