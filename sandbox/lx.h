/*
 * lx.h - the Linux system-call personality: what tincan answers when a
 * static Linux executable (a Linux guest, abi linux) makes a system call.
 * One handler for both backends: KVM's syscall stub exits with the call in
 * a frame in low memory (lx_on_port), the emulator's syscall hook passes
 * the registers (lx_syscall). Everything runs in the job's child after
 * lockdown: no host system calls, no allocation, every guest pointer
 * through abi_range_ok.
 */
#ifndef SANDBOX_LX_H
#define SANDBOX_LX_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "sandbox.h"
#include "tincan_abi.h"

/* Fixed identity of every Linux guest (getpid, getuid, ...). */
#define LX_PID  2
#define LX_TID  LX_PID
#define LX_PPID 1
#define LX_UID  1000
#define LX_GID  1000

/* The virtual clock: CLOCK_REALTIME starts at 2024-01-01 00:00:00 UTC,
 * CLOCK_MONOTONIC at LX_MONOTONIC_START_NS, and both advance by
 * LX_TICK_NS per system call and by every sleep. */
#define LX_REALTIME_START_S   1704067200ULL
#define LX_MONOTONIC_START_NS 1000000000ULL
#define LX_TICK_NS            1000ULL

/* Pages of guest memory brk and mmap can hand out: up to TINCAN_MEM_MAX. */
#define LX_PAGE_SHIFT 12
#define LX_MAX_PAGES  (TINCAN_MEM_MAX >> LX_PAGE_SHIFT)
#define LX_SIGNALS    64 /* 1..64 */

/* One call as the program made it. */
struct lx_call {
    uint64_t nr;
    uint64_t arg[6];
    uint64_t rip, rflags, rsp; /* the program's, at the call */
};

/* The answer: rax, and an MSR for the return path to write (0: none). */
struct lx_ret {
    uint64_t rax;
    uint32_t msr;
    uint64_t msr_value;
};

/* A signal's action as rt_sigaction stores it (the kernel's layout). */
struct lx_sigaction {
    uint64_t handler, flags, restorer, mask;
};

/* The process: everything tincan keeps for one Linux guest. */
struct lx_proc {
    const uint8_t *input; /* stdin: the job's input */
    uint64_t input_len, input_off;
    uint64_t brk_start, brk, heap_end, mem_size, stack_size;
    uint64_t clock_ns; /* virtual time since the start */
    uint64_t rng[4];   /* getrandom: xoshiro256** */
    uint64_t fs_base, gs_base, tid_address;
    uint64_t sigmask, sigpending;
    struct lx_sigaction sigact[LX_SIGNALS + 1];
    uint64_t altstack_sp, altstack_size;
    int32_t altstack_flags;
    uint32_t umask;
    unsigned closed; /* bit per fd 0..2 the program closed */
    int strict;
    char name[SBX_LX_NAME_MAX];
    uint64_t used[LX_MAX_PAGES / 64]; /* heap pages handed out */
};

/* Set p up for job (abi linux) in the child, before the guest runs. */
void lx_init(struct lx_proc *p, const struct sbx_job *job);

/* One system call: fills out and returns ABI_CONTINUE, or ABI_END when the
 * call ended the job (exit, a signal, output_limit, ...). */
int lx_syscall(struct abi_guest *g, const struct lx_call *in,
               struct lx_ret *out);

/* TINCAN_PORT_SYSCALL on KVM: the call is in the frame at
 * TINCAN_LX_FRAME_ADDR; the answer goes back there. */
int lx_on_port(struct abi_guest *g);

/* The deterministic bytes of a seed: AT_RANDOM's 16 (runner) and the
 * state of getrandom's stream (lx_init) come from here. */
void lx_seed_bytes(uint64_t seed, uint64_t salt, uint8_t *buf, size_t len);

/* The system-call table, for documentation and tests: the name of call nr
 * and one line saying what tincan does (NULL when tincan lacks it). */
const char *lx_call_name(uint64_t nr);
const char *lx_call_what(uint64_t nr);
unsigned lx_call_max(void); /* one past the highest number in the table */

#endif
