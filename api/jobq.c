/*
 * jobq.c - the local job queue: jobrun_run() on a runner/pool.c worker
 * pool, canceling through each worker's eventfd (see jobq.h).
 */
#include "jobq.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct local_q {
    struct jobq ops; /* first: a struct jobq * is a struct local_q * */
    struct pool *pool;
    struct jobrun_opts opts;
};

#define JOB_OF(t)                                                              \
    ((struct jobq_job *)((char *)(t)-offsetof(struct jobq_job, task)))

static void local_run(struct pool_task *t, int cancel_fd)
{
    struct jobq_job *j = JOB_OF(t);
    struct local_q *q = (struct local_q *)j->q;

    if (j->started)
        j->started(j);
    jobrun_run(&j->js, &q->opts, cancel_fd, &j->out);
    j->done(j);
}

static int local_submit(struct jobq *base, struct jobq_job *j)
{
    struct local_q *q = (struct local_q *)base;

    j->q = base;
    j->task.run = local_run;
    return pool_submit(q->pool, &j->task);
}

static int local_cancel(struct jobq *base, struct jobq_job *j)
{
    struct local_q *q = (struct local_q *)base;

    switch (pool_cancel(q->pool, &j->task)) {
    case POOL_WAS_QUEUED:
        memset(&j->out, 0, sizeof(j->out));
        j->out.error = JOBRUN_CANCELED;
        snprintf(j->out.message, sizeof(j->out.message), "%s",
                 "canceled before it ran");
        j->done(j);
        return 0;
    case POOL_WAS_RUNNING:
        return 0; /* its run ends with -ECANCELED and calls done */
    default:
        return -ENOENT;
    }
}

static void local_counts(struct jobq *base, unsigned *queued, unsigned *running)
{
    pool_counts(((struct local_q *)base)->pool, queued, running);
}

static void local_close(struct jobq *base)
{
    pool_close(((struct local_q *)base)->pool);
}

static int local_wait_idle(struct jobq *base, unsigned long timeout_ms)
{
    return pool_wait_idle(((struct local_q *)base)->pool, timeout_ms);
}

static void local_destroy(struct jobq *base)
{
    struct local_q *q = (struct local_q *)base;

    pool_destroy(q->pool);
    free(q);
}

int jobq_local_create(struct jobq **out, unsigned workers, unsigned queue_max,
                      const struct jobrun_opts *opts, char *err, size_t errlen)
{
    struct local_q *q = calloc(1, sizeof(*q));
    int rc;

    *out = NULL;
    if (!q) {
        snprintf(err, errlen, "the job queue: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    q->opts = *opts;
    rc = pool_create(&q->pool, workers, queue_max, err, errlen);
    if (rc) {
        free(q);
        return rc;
    }
    q->ops.submit = local_submit;
    q->ops.cancel = local_cancel;
    q->ops.counts = local_counts;
    q->ops.close = local_close;
    q->ops.wait_idle = local_wait_idle;
    q->ops.destroy = local_destroy;
    *out = &q->ops;
    return 0;
}

void jobq_job_init(struct jobq_job *j)
{
    memset(j, 0, sizeof(*j));
    jobspec_init(&j->js);
}

void jobq_job_release(struct jobq_job *j)
{
    jobspec_free(&j->js);
    json_decref(j->desc);
    j->desc = NULL;
    jobrun_out_free(&j->out);
}
