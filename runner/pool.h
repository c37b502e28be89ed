/*
 * pool.h - a pool of worker threads running tasks from one bounded FIFO
 * queue, each running task cancelable through its worker's eventfd (which
 * the task hands to tc_job.cancel_fd). Generic: a task is a function the
 * caller embeds in its own item. Used by `tincan serve` (through api/jobq.h).
 */
#ifndef RUNNER_POOL_H
#define RUNNER_POOL_H

#include <stddef.h>

struct pool_task {
    /* Runs on a worker. cancel_fd becomes readable when pool_cancel() is
     * called for this task while it runs. t may be freed once run returns
     * (or by run itself, at its end): the pool does not touch it after. */
    void (*run)(struct pool_task *t, int cancel_fd);
    struct pool_task *prev, *next; /* the pool's: the queue */
    int queued;                    /* the pool's: in the queue */
};

struct pool;

/* What pool_cancel() found. */
enum { POOL_WAS_QUEUED = 1, POOL_WAS_RUNNING = 2 };

/* N worker threads (1..1024), at most queue_max tasks waiting. 0, or
 * -errno with one line in err. */
int pool_create(struct pool **out, unsigned workers, unsigned queue_max,
                char *err, size_t errlen);

/* Queue t. 0, -EAGAIN when queue_max tasks wait already, -ESHUTDOWN once
 * pool_close() was called. */
int pool_submit(struct pool *p, struct pool_task *t);

/* POOL_WAS_QUEUED: t was taken out of the queue and will never run (the
 * caller finishes it); POOL_WAS_RUNNING: its run was told to stop through
 * cancel_fd; -ENOENT: t is neither queued nor running. */
int pool_cancel(struct pool *p, struct pool_task *t);

/* Tasks waiting, and tasks running. */
void pool_counts(struct pool *p, unsigned *queued, unsigned *running);

/* Refuse new tasks (-ESHUTDOWN); queued ones still run. */
void pool_close(struct pool *p);

/* Wait until nothing is queued or running, at most timeout_ms: 0, or
 * -ETIMEDOUT. */
int pool_wait_idle(struct pool *p, unsigned long timeout_ms);

/* Close, let queued tasks run, join the workers, free. */
void pool_destroy(struct pool *p);

#endif
