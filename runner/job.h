/*
 * job.h - one job's lifecycle in the parent: the job's memfd (its report,
 * description, code and input), the child started by the backend's zygote,
 * the deadline with a SIGKILL backstop through the child's pidfd, and the
 * report read back once, checked field by field against the parent's own
 * copy of the job's limits. Also a plain in-process fork of a function
 * (job_run), which the lockdown's tests use.
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
/* How long the parent waits for a killed child to be reaped. */
#define JOB_REAP_WAIT_MS 10000

/* What runs in the child (job_run); must not return. */
typedef void (*job_child_fn)(void *arg, struct sbx_report *rep);

struct job_limits {
    uint64_t timeout_ms;
    uint64_t max_output;
    size_t feedback_size; /* bytes of fuzzing feedback after the output
                             (sbx_feedback_size), or 0 for none */
    uint64_t max_stderr;  /* stderr's capacity, after the output's */
    int cancel_fd; /* job_run_sandbox: > 0, a descriptor that, once readable,
                      ends the job early (the child killed through its pidfd,
                      out->canceled set); 0 for none */
};

/*
 * The outcome. head is the report's header as the parent read it once the
 * child had ended, checked (an invalid report becomes sandbox_violation)
 * and settled (the parent decides the status when the child left none);
 * out holds head.out_len bytes of output and err head.err_len bytes of
 * stderr, in the job's mapping.
 */
struct job_outcome {
    struct sbx_report head;
    const unsigned char *out; /* valid until job_outcome_release() */
    const unsigned char *err; /* the same */
    struct sbx_report *rep;   /* the shared mapping */
    size_t rep_size;
    uint64_t wall_us;
    uint64_t peak_rss_kib; /* the child's peak resident set */
    int killed;            /* the backstop SIGKILLed the child */
    int settled; /* the parent decided the status: the child left none */
    int invalid; /* the child's report broke a rule (see head.message) */
    int signal;  /* the signal that ended the child, or 0 */
    /* The feedback region in the report (lim->feedback_size bytes at
     * sbx_feedback_offset), or NULL: written by the child, so untrusted. */
    const struct sbx_feedback *feedback;
    int canceled; /* the cancel fd became readable: the child was killed */
};

/*
 * Fork fn into a child of this process, wait for it until the deadline
 * plus slack, and settle the status. Returns 0 when a child ran (whatever
 * its status) or -errno if none could be started (message in err).
 */
int job_run(job_child_fn fn, void *arg, const struct job_limits *lim,
            struct job_outcome *out, char *err, size_t errlen);

/*
 * Run a job in a child of its backend's zygote (runner/zygote.h), in its
 * own cgroup when cg allows. The job's pointers (segments, input) are
 * copied into the job's memfd, the report with lim's output and stderr
 * capacities (the timeout is the job's; lim's feedback_size is ignored:
 * the job's feedback and cmp_cap say), ended early when lim->cancel_fd
 * fires. Returns 0 when a child ran (whatever its status) or -errno if
 * none could be started (message in err).
 */
int job_run_sandbox(struct cgroup_ctx *cg, const struct sbx_job *job,
                    const struct job_limits *lim, struct job_outcome *out,
                    char *err, size_t errlen);

void job_outcome_release(struct job_outcome *out);

/*
 * The child's feedback, read as untrusted data: the number of compare
 * records to take (the child's count, read once, clamped to cap, the
 * job's own capacity), and record i (< that count) copied out once, its
 * operands masked to its size: 0, or -EINVAL for a size that is not 1, 2,
 * 4 or 8 (drop the record). out->feedback must not be NULL.
 */
uint32_t job_feedback_cmp_count(const struct job_outcome *out, uint32_t cap);
/* The edge map (SBX_EDGE_MAP_SIZE bytes) into dst. */
void job_feedback_edges(const struct job_outcome *out, uint8_t *dst);
int job_feedback_cmp(const struct job_outcome *out, uint32_t i,
                     struct sbx_cmp *cmp);

#endif
