/*
 * jobq.h - where `tincan serve` sends jobs: submit one job description, get
 * its result through a callback, cancel it. The local queue runs jobs on a
 * worker pool in this process (runner/pool.h) with the shared executor
 * (jobrun.h); the fleet's queue (jobq_redis.h: serve --redis) stands behind
 * the same operations.
 */
#ifndef API_JOBQ_H
#define API_JOBQ_H

#include <jansson.h>

#include "../runner/pool.h"
#include "jobrun.h"
#include "jobspec.h"

struct jobq;

/* One job in a queue. The caller fills js (parsed), desc (the description
 * as sent: a remote queue ships it), done and arg; the queue fills out. */
struct jobq_job {
    struct jobspec js;
    json_t *desc;
    void (*done)(struct jobq_job *j);    /* once, on any thread; out is set */
    void (*started)(struct jobq_job *j); /* NULL, or when it starts running */
    void *arg;
    struct jobrun_out out; /* JOBRUN_CANCELED when canceled */
    /* the queue's */
    struct pool_task task;
    struct jobq *q;
    void *node; /* a remote queue's record of it */
};

struct jobq {
    /* 0, -EAGAIN (the queue is full) or -ESHUTDOWN (closed). */
    int (*submit)(struct jobq *q, struct jobq_job *j);
    /* 0: j was told to stop: a queued job ends as JOBRUN_CANCELED (done
     * runs before this returns), a running one too unless it ended first
     * (the fleet's: once a worker answers, for a worker runs it to its end;
     * until done the job holds its place); -ENOENT: j is not queued or
     * running (done already, or soon). */
    int (*cancel)(struct jobq *q, struct jobq_job *j);
    void (*counts)(struct jobq *q, unsigned *queued, unsigned *running);
    void (*close)(struct jobq *q); /* refuse new jobs */
    /* Wait until no job is queued or running: 0, or -ETIMEDOUT. */
    int (*wait_idle)(struct jobq *q, unsigned long timeout_ms);
    void (*destroy)(struct jobq *q);
};

/* The local queue: N workers, at most queue_max jobs waiting, jobs loaded
 * and run under opts (copied; its pointers must outlive the queue). */
int jobq_local_create(struct jobq **out, unsigned workers, unsigned queue_max,
                      const struct jobrun_opts *opts, char *err, size_t errlen);

/* A job ready to fill: jobspec_init'd, nothing else. */
void jobq_job_init(struct jobq_job *j);

/* Free what the job holds (js, desc, out); not j itself. */
void jobq_job_release(struct jobq_job *j);

#endif
