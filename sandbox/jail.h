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

/* Build both seccomp programs (in the parent, once). 0 or -errno. */
int jail_build_filters(struct sbx_filter *stage1, struct sbx_filter *stage2,
                       char *err, size_t errlen);
void jail_free_filter(struct sbx_filter *f);
/* The emulator backend's one stage (its own table). */
int jail_build_emu_filter(struct sbx_filter *f, char *err, size_t errlen);

/*
 * Everything before the first filter: parent-death signal (and a check that
 * parent, the runner's pid taken before the fork, is still alive), own session,
 * joining the job's cgroup (cgroup_fd: its cgroup.procs, or -1),
 * signal handlers (deadline, seccomp trap), close every fd but keep_fd,
 * rlimits (address space: what is mapped now + mem_size + as_extra + a
 * fixed slack), capabilities, no_new_privs, and the deadline timer. On failure
 * returns -errno with the step in err.
 */
int jail_enter(struct sbx_report *rep, int parent, int keep_fd, int cgroup_fd,
               uint64_t mem_size, uint64_t as_extra, uint64_t timeout_ms,
               char *err, size_t errlen);

/* Install a prepared filter with the raw syscall: no allocation, no free. */
int jail_lock(const struct sbx_filter *f);

/* Set by the deadline timer's signal handler. */
extern volatile int jail_deadline_hit;
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

/* Name of a syscall number, for reports ("socket"), written into buf. */
const char *jail_syscall_name(long nr, char *buf, size_t len);

#endif
