/*
 * cgroup.h - per-job cgroups (v2): where the hierarchy is writable, each
 * child joins its own cgroup with memory.max and pids.max, so KVM's kernel
 * allocations for the VM are bounded too. Where it is not, jobs rely on
 * rlimits alone and cgroup_init() says why.
 */
#ifndef RUNNER_CGROUP_H
#define RUNNER_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct cgroup_ctx {
    int usable;
    char dir[PATH_MAX]; /* this process's parent cgroup for jobs */
    char why[256];      /* when not usable */
    unsigned long seq;  /* job cgroup names */
};

/* Find cgroup v2 and prepare a parent for job cgroups. Never fails hard. */
void cgroup_init(struct cgroup_ctx *cg);
void cgroup_fini(struct cgroup_ctx *cg);

struct cgroup_job {
    char dir[PATH_MAX];
    int procs_fd; /* cgroup.procs, for the child to join; -1 if none */
};

/* Create a job cgroup; on failure job->procs_fd is -1 (rlimits only). */
void cgroup_job_create(struct cgroup_ctx *cg, uint64_t mem_max,
                       struct cgroup_job *job);
/* How many times the kernel's OOM killer killed a process of this job
 * cgroup (memory.events: oom_kill); 0 without a cgroup or when unknown.
 * Call after the child is reaped, before cgroup_job_remove(). */
unsigned long cgroup_job_oom_kills(const struct cgroup_job *job);

/* After the child is reaped: close and remove. */
void cgroup_job_remove(struct cgroup_job *job);

#endif
