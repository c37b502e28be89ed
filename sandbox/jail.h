/*
 * jail.h - the child's lockdown: fds, rlimits, capabilities, no_new_privs,
 * the deadline timer, and the two seccomp stages (build, then run).
 */
#ifndef SANDBOX_JAIL_H
#define SANDBOX_JAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

/* Build both seccomp programs (in the parent, once), with the few calls of
 * kvm_pvm's boot path (pvm.h) when pvm. 0 or -errno. */
int jail_build_filters(struct sbx_filter *stage1, struct sbx_filter *stage2,
                       int pvm, char *err, size_t errlen);
void jail_free_filter(struct sbx_filter *f);
/* The emulator backend's one stage (its own table). */
int jail_build_emu_filter(struct sbx_filter *f, char *err, size_t errlen);

/* The limits jail_enter() sets. */
struct jail_limits {
    int keep_fd;         /* the one fd kept (/dev/kvm), or -1 */
    uint64_t mem_size;   /* guest memory still to be mapped */
    uint64_t as_extra;   /* more address space the run needs */
    uint64_t timeout_ms; /* the deadline */
    int kvm;             /* KVM creates a worker task for the VM at its first
                            KVM_RUN (Linux 6.13+: kvm_mmu_post_init_vm), in
                            the child's name: RLIMIT_NPROC stays as it was
                            (seccomp forbids every clone anyway) */
};

/*
 * Everything before the first filter: parent-death signal (and a check that
 * the zygote that forked the child is still there: st->life_fd, or
 * st->parent), own session, joining the job's cgroup (st->cgroup_fd: its
 * cgroup.procs, or -1), signal handlers (deadline, seccomp trap) and an
 * empty signal mask (whatever the process that started tincan blocked),
 * close every fd but lim->keep_fd, rlimits (address space: st->mapped, or
 * what /proc says is mapped now, + mem_size + as_extra + a fixed slack),
 * capabilities, no_new_privs, the deadline timer and, with lim->kvm, the
 * CPU-time probe (jail_probe_hit). On failure returns
 * -errno with the step in err.
 */
int jail_enter(struct sbx_report *rep, const struct sbx_start *st,
               const struct jail_limits *lim, char *err, size_t errlen);

/* Install a prepared filter with the raw syscall: no allocation, no free. */
int jail_lock(const struct sbx_filter *f);

/* Set by the deadline timer's signal handler. */
extern volatile int jail_deadline_hit;
/* KVM only: set (with immediate_exit) each JAIL_PROBE_CPU_MS of the child's
 * CPU time (ITIMER_PROF), so that the exit loop can look whether the guest
 * is stuck in a page walk that never completes, long before its deadline.
 * A job that uses less CPU never sees it. */
#define JAIL_PROBE_CPU_MS 50
extern volatile int jail_probe_hit;
/* Where the deadline handler sets immediate_exit (the KVM run area). */
extern volatile uint8_t *volatile jail_immediate_exit;
/* Set by the emulator backend while Unicorn runs the guest: a write to
 * stderr then is Unicorn's fatal-error report before it aborts (its code
 * generator failed), and the job ends as internal_error with that text. */
extern volatile int jail_in_emulator;

/*
 * End the child with exit_group only: no atexit handlers, no stdio flush.
 */
#define JAIL_EXIT(code)                                                        \
    do {                                                                       \
        for (;;)                                                               \
            syscall(SYS_exit_group, (code));                                   \
    } while (0)

/* Name of a syscall number of arch (AUDIT_ARCH_*; 0 for x86-64), for
 * reports ("socket", "i386 write", "x32 read"), written into buf. */
const char *jail_syscall_name(long nr, uint32_t arch, char *buf, size_t len);

/* Bytes of address space this process has mapped (VmSize, from
 * /proc/self/statm); 0 if /proc cannot say. statm_fd: an open
 * /proc/self/statm of this process to read instead of opening it, or -1. */
uint64_t jail_mapped_bytes(int statm_fd);

#endif
