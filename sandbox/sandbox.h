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
    SBX_INSN_LIMIT, /* the emulator ran max_insns guest instructions */
    SBX_STATUS_COUNT
};

#define SBX_MESSAGE_MAX 256
#define SBX_NAME_MAX    16

/*
 * The report: a header followed by out_cap bytes of output, in one
 * MAP_SHARED mapping made by the parent before the fork. The child appends
 * output and publishes out_len after each append, so everything written
 * before a SIGKILL is still there for the parent.
 */
struct sbx_report {
    uint32_t done;      /* 1 once the child has written a final status */
    uint32_t status;    /* enum sbx_status */
    uint64_t exit_code; /* guest's exit code (status ok) */
    uint64_t exits;     /* VM exits taken */
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
    unsigned char out[];
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
    int kvm_fd; /* /dev/kvm, -1 when not usable */
    int vcpu_mmap_size;
    void *cpuid; /* struct kvm_cpuid2 *, KVM_GET_SUPPORTED_CPUID */
    int cpu_xsave, cpu_avx;
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

/* What the child needs to know about the job (runner/image.c fills it). */
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
    int cgroup_fd;      /* the job cgroup's cgroup.procs to join, or -1 */
    int parent;         /* pid of the runner that forked the child */
    struct emu_template *emu; /* emulator: the machine to start from */
};

/*
 * Prepare the host: build the boot image and the seccomp programs, and open
 * /dev/kvm (failure to open is recorded in kvm_error, not returned). Returns
 * 0 or a negative errno with a message in err.
 */
int sbx_host_init(struct sbx_host *host, char *err, size_t errlen);
void sbx_host_fini(struct sbx_host *host);

/*
 * Parent, before the fork: what the job's backend prepares ahead of the
 * child (the emulator's template for job->mem_size, in job->emu). Returns 0
 * or -errno with a message in err. sbx_job_release() after the fork.
 */
int sbx_job_prepare(const struct sbx_host *host, struct sbx_job *job, char *err,
                    size_t errlen);
void sbx_job_release(struct sbx_job *job);

/* Size of the shared mapping for a report with out_cap bytes of output. */
size_t sbx_report_size(uint64_t out_cap);

/* The child's whole life: lock down, build the machine job->backend names,
 * run it. Never returns. */
void sbx_child_main(const struct sbx_host *host, const struct sbx_job *job,
                    struct sbx_report *rep) __attribute__((noreturn));

/*
 * Make the emulator backend ready in this (parent) process: load Unicorn,
 * once. Call before the first emulator job is forked. Returns 0, or -ENOENT
 * with one line in err when libunicorn is missing.
 */
int sbx_emu_load(char *err, size_t errlen);

/* Human name of a status ("ok", "timeout", ...). */
const char *sbx_status_name(enum sbx_status st);

#endif
