/*
 * job.h - one job's lifecycle in the parent: shared report mapping, fork,
 * deadline with a SIGKILL backstop, reaping, and the final status.
 */
#ifndef RUNNER_JOB_H
#define RUNNER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "../sandbox/sandbox.h"
#include "cgroup.h"

/* Memory a job's cgroup may use beyond the guest's memory. */
#define JOB_CGROUP_SLACK (64ULL << 20)

/* How long after the deadline the parent kills a child that did not stop. */
#define JOB_KILL_SLACK_MS 100

/* What runs in the child; must not return. */
typedef void (*job_child_fn)(void *arg, struct sbx_report *rep);

struct job_limits {
    uint64_t timeout_ms;
    uint64_t max_output;
};

/* The outcome: the shared report (status, details, output) and the wait. */
struct job_outcome {
    struct sbx_report *rep; /* shared mapping; job_outcome_release() */
    size_t rep_size;
    uint64_t wall_us;
    uint64_t peak_rss_kib; /* the child's peak resident set */
    int killed;            /* the backstop SIGKILLed the child */
    int settled; /* the parent decided the status: the child left none */
    int signal;  /* the signal that ended the child, or 0 */
};

/*
 * Fork fn into a child, wait for it until the deadline plus slack, and
 * settle the status in out->rep. Returns 0 when a child ran (whatever its
 * status) or -errno if none could be started (message in err).
 */
int job_run(job_child_fn fn, void *arg, const struct job_limits *lim,
            struct job_outcome *out, char *err, size_t errlen);

/* Run a job on the sandbox's KVM child, in its own cgroup when cg allows. */
int job_run_sandbox(const struct sbx_host *host, struct cgroup_ctx *cg,
                    const struct sbx_job *job, uint64_t max_output,
                    struct job_outcome *out, char *err, size_t errlen);

void job_outcome_release(struct job_outcome *out);

#endif
