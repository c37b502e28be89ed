/*
 * pool.c - worker threads over one bounded FIFO of tasks (see pool.h). Each
 * worker owns an eventfd: pool_cancel() writes it while the worker runs the
 * task, and the worker empties it before its next task.
 */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX_WORKERS 1024
#define FIRST_FREE_FD    3 /* cancel fds stay clear of stdin..stderr */
#define NS_PER_MS        1000000L
#define NS_PER_S         1000000000L

struct worker {
    struct pool *pool;
    pthread_t thread;
    int cancel_fd;
    struct pool_task *current; /* under pool->mu */
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, idle_cv;
    struct pool_task *head, *tail;
    unsigned queued, running, queue_max, nworkers, started;
    int closed, stopping;
    struct worker *workers;
};

static void drain_fd(int fd)
{
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: nothing was written (non-blocking), as expected. */
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->pool;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct pool_task *t;

        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->work_cv, &p->mu);
        t = p->head;
        if (!t)
            break; /* stopping with an empty queue */
        p->head = t->next;
        if (p->head)
            p->head->prev = NULL;
        else
            p->tail = NULL;
        t->next = t->prev = NULL;
        t->queued = 0;
        p->queued--;
        p->running++;
        w->current = t;
        drain_fd(w->cancel_fd); /* a cancel meant for the last task */
        pthread_mutex_unlock(&p->mu);
        t->run(t, w->cancel_fd);
        pthread_mutex_lock(&p->mu);
        w->current = NULL;
        p->running--;
        if (!p->queued && !p->running)
            pthread_cond_broadcast(&p->idle_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* An eventfd numbered 3 or above. */
static int cancel_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), hi;

    if (fd < 0 || fd >= FIRST_FREE_FD)
        return fd;
    hi = fcntl(fd, F_DUPFD_CLOEXEC, FIRST_FREE_FD);
    close(fd);
    return hi;
}

int pool_create(struct pool **out, unsigned workers, unsigned queue_max,
                char *err, size_t errlen)
{
    struct pool *p;
    int rc = 0;

    *out = NULL;
    if (workers < 1 || workers > POOL_MAX_WORKERS) {
        snprintf(err, errlen, "%u workers: give 1 to %d", workers,
                 POOL_MAX_WORKERS);
        return -EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (!p || !(p->workers = calloc(workers, sizeof(*p->workers)))) {
        free(p);
        snprintf(err, errlen, "the worker pool: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    p->queue_max = queue_max;
    p->nworkers = workers;
    for (unsigned i = 0; i < workers; i++)
        p->workers[i].cancel_fd = -1;
    for (unsigned i = 0; i < workers; i++) {
        struct worker *w = &p->workers[i];

        w->pool = p;
        w->cancel_fd = cancel_eventfd();
        if (w->cancel_fd < 0) {
            rc = -errno;
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            goto fail;
        }
        rc = -pthread_create(&w->thread, NULL, worker_main, w);
        if (rc) {
            snprintf(err, errlen, "starting worker %u: %s", i, strerror(-rc));
            goto fail;
        }
        p->started++;
    }
    *out = p;
    return 0;
fail:
    pool_destroy(p);
    return rc;
}

int pool_submit(struct pool *p, struct pool_task *t)
{
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    if (p->closed)
        rc = -ESHUTDOWN;
    else if (p->queued >= p->queue_max)
        rc = -EAGAIN;
    if (rc == 0) {
        t->next = NULL;
        t->prev = p->tail;
        if (p->tail)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        t->queued = 1;
        p->queued++;
        pthread_cond_signal(&p->work_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int pool_cancel(struct pool *p, struct pool_task *t)
{
    uint64_t one = 1;
    int rc = -ENOENT;

    pthread_mutex_lock(&p->mu);
    if (t->queued) {
        if (t->prev)
            t->prev->next = t->next;
        else
            p->head = t->next;
        if (t->next)
            t->next->prev = t->prev;
        else
            p->tail = t->prev;
        t->next = t->prev = NULL;
        t->queued = 0;
        p->queued--;
        if (!p->queued && !p->running)
            pthread_cond_broadcast(&p->idle_cv);
        rc = POOL_WAS_QUEUED;
    } else {
        for (unsigned i = 0; i < p->started; i++)
            if (p->workers[i].current == t) {
                if (write(p->workers[i].cancel_fd, &one, sizeof(one)) < 0) {
                    /* Only an overflowing counter fails: already set. */
                }
                rc = POOL_WAS_RUNNING;
                break;
            }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void pool_counts(struct pool *p, unsigned *queued, unsigned *running)
{
    pthread_mutex_lock(&p->mu);
    *queued = p->queued;
    *running = p->running;
    pthread_mutex_unlock(&p->mu);
}

void pool_close(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    pthread_mutex_unlock(&p->mu);
}

int pool_wait_idle(struct pool *p, unsigned long timeout_ms)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * NS_PER_MS;
    if (until.tv_nsec >= NS_PER_S) {
        until.tv_sec++;
        until.tv_nsec -= NS_PER_S;
    }
    pthread_mutex_lock(&p->mu);
    while ((p->queued || p->running) && rc == 0)
        rc = pthread_cond_timedwait(&p->idle_cv, &p->mu, &until);
    pthread_mutex_unlock(&p->mu);
    return rc ? -ETIMEDOUT : 0;
}

void pool_destroy(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    p->stopping = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->workers[i].thread, NULL);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].cancel_fd >= 0)
            close(p->workers[i].cancel_fd);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->idle_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}
