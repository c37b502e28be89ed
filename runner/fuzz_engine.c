/*
 * fuzz_engine.c - the fuzzing loop (see fuzz_engine.h). The main thread
 * makes inputs into a ring of slots, worker threads run the ready slots,
 * and the main thread processes the slots in order as they finish. With
 * one job there are no workers: the main thread runs each slot itself.
 */
#include "fuzz_engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_minimize.h"
#include "fuzz_sched.h"

#define US_PER_MS     1000ULL
#define US_PER_S      1000000ULL
#define NS_PER_US     1000ULL
#define SLOTS_PER_JOB 2
#define ERR_LEN       256

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_RUNNING, SLOT_DONE };

struct slot {
    enum slot_state state;
    uint64_t index; /* the execution's number, from 0 */
    uint8_t *buf;
    size_t len;
    int ran; /* the executor ran it: r is filled */
    int rc;
    struct fuzz_result r;
    char err[ERR_LEN];
};

struct run {
    struct fuzz_engine *e;
    const struct fuzz_config *cfg;
    struct fuzz_sched sched;
    struct slot *slots;
    size_t nslots, nseeds;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int quit;     /* workers: no more slots will come */
    int stopping; /* no more inputs: the budget, the duration or a stop */
    uint64_t t0, next_tick, proc;
    int rc; /* the first error */
    char *err;
    size_t errlen;
};

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * US_PER_S + (uint64_t)ts.tv_nsec / NS_PER_US;
}

static uint64_t elapsed(const struct run *r)
{
    return now_us() - r->t0;
}

static void fail(struct run *r, int rc, const char *msg)
{
    if (r->rc == 0) {
        r->rc = rc;
        snprintf(r->err, r->errlen, "%s", msg);
    }
    r->stopping = 1;
}

static void stop_for(struct run *r, enum fuzz_stop why)
{
    if (!r->stopping)
        r->e->stop = why;
    r->stopping = 1;
}

static void fill_stats(struct run *r)
{
    struct fuzz_stats *st = &r->e->stats;

    st->corpus = r->e->corpus.n;
    st->edges = r->e->corpus.edges;
    st->buckets = r->e->buckets.n;
    st->elapsed_us = elapsed(r);
}

/* on_tick when one is due; 1 when the run is stopping. */
static int tick(struct run *r)
{
    uint64_t now = now_us();

    if (r->cfg->duration_ms && now - r->t0 >= r->cfg->duration_ms * US_PER_MS)
        stop_for(r, FUZZ_STOP_DURATION);
    if (now >= r->next_tick) {
        r->next_tick = now + FUZZ_TICK_MS * US_PER_MS;
        fill_stats(r);
        if (r->cfg->on_tick && r->cfg->on_tick(r->cfg->ctx, &r->e->stats))
            stop_for(r, FUZZ_STOP_ASKED);
    }
    return r->stopping;
}

/* ---- minimizing a crash ------------------------------------------------ */

struct keeps_ctx {
    struct run *r;
    const char *bucket;
    uint64_t runs;    /* executions so far, at most FUZZ_MIN_BUDGET */
    uint8_t *scratch; /* a repair candidate */
};

static int same_bucket(const struct run *r, const struct fuzz_result *res,
                       const char *bucket)
{
    char name[FUZZ_BUCKET_NAME_MAX];

    if (!(r->cfg->crash_on & FUZZ_STATUS_BIT(res->site.status)))
        return 0;
    fuzz_bucket_name(&res->site, name, sizeof(name));
    return !strcmp(name, bucket);
}

/* Run in (with the compare log into *cmps when cmps is not NULL): 1 when
 * it ends in the bucket, 0 when not, < 0 to stop minimizing. */
static int try_input(struct keeps_ctx *k, const uint8_t *in, size_t len,
                     struct fuzz_cmp **cmps, size_t *ncmps)
{
    struct run *r = k->r;
    struct fuzz_result res;
    char err[ERR_LEN];
    int rc, same;

    if (k->runs >= FUZZ_MIN_BUDGET)
        return -ENOSPC;
    if (tick(r))
        return -ECANCELED;
    k->runs++;
    rc = r->cfg->exec.run(r->cfg->exec.ctx, in, len, cmps != NULL, &res, err,
                          sizeof(err));
    if (rc) {
        fail(r, rc, err);
        return rc;
    }
    same = same_bucket(r, &res, k->bucket);
    if (cmps && res.ncmps) {
        *cmps = malloc(res.ncmps * sizeof(**cmps));
        if (*cmps) {
            memcpy(*cmps, res.cmps, res.ncmps * sizeof(**cmps));
            *ncmps = res.ncmps;
        }
    }
    r->cfg->exec.release(r->cfg->exec.ctx, &res);
    return same;
}

/*
 * The candidate lost the crash. Its compare log may say how to get it back
 * without the bytes that were cut (a checksum over them, a magic moved):
 * its input-to-state variants, at most FUZZ_REPAIRS of them, are tried.
 */
static int repair(struct keeps_ctx *k, uint8_t *in, size_t len)
{
    struct fuzz_cmp *cmps = NULL;
    size_t ncmps = 0;
    struct fuzz_i2s it;
    int rc = try_input(k, in, len, &cmps, &ncmps);

    fuzz_i2s_init(&it);
    for (unsigned tries = 0;
         rc == 0 && tries < FUZZ_REPAIRS &&
         fuzz_i2s_next(&it, in, len, cmps, ncmps, k->scratch);
         tries++) {
        rc = try_input(k, k->scratch, len, NULL, NULL);
        if (rc == 1)
            memcpy(in, k->scratch, len);
    }
    free(cmps);
    return rc;
}

static int keeps(void *ctx, uint8_t *in, size_t len)
{
    struct keeps_ctx *k = ctx;
    int rc = try_input(k, in, len, NULL, NULL);

    if (rc == 0 && k->r->cfg->feedback)
        rc = repair(k, in, len);
    return rc;
}

/* Minimize the input of slot s for bucket b (new, or undercut by s), keep
 * the result when it is smaller, and tell on_bucket with its run. */
static void shrink_and_report(struct run *r, struct fuzz_bucket *b,
                              struct slot *s, int is_new)
{
    struct keeps_ctx k = {.r = r, .bucket = b->name};
    uint8_t *buf = malloc(s->len ? s->len : 1);
    size_t len = s->len;
    uint64_t execs = 0;
    struct fuzz_result res;
    const struct fuzz_result *report = &s->r;
    int rerun = 0, rc;
    char err[ERR_LEN];

    k.scratch = malloc(s->len ? s->len : 1);
    if (!buf || !k.scratch) {
        fail(r, -ENOMEM, "minimizing a crash: out of memory");
        free(k.scratch);
        free(buf);
        return;
    }
    memcpy(buf, s->buf, s->len);
    rc = fuzz_minimize(buf, &len, keeps, &k, FUZZ_MIN_BUDGET, &execs);
    free(k.scratch);
    r->e->stats.min_execs += k.runs;
    if (r->rc)
        goto out; /* an execution failed: reported already */
    (void)rc;     /* stopped early: buf still keeps, smallest so far */
    if (!is_new && len >= b->len)
        goto out;
    if (len < s->len) {
        /* The bucket's file describes exactly its input: run it once more. */
        rc = r->cfg->exec.run(r->cfg->exec.ctx, buf, len, 0, &res, err,
                              sizeof(err));
        r->e->stats.min_execs++;
        if (rc) {
            fail(r, rc, err);
            goto out;
        }
        rerun = 1;
        if (same_bucket(r, &res, b->name)) {
            report = &res;
        } else {
            /* Not the same crash twice: keep the input that found it. */
            memcpy(buf, s->buf, s->len);
            len = s->len;
        }
    }
    if (!is_new && len >= b->len)
        goto out;
    if (fuzz_bucket_keep(b, buf, len) != 0) {
        fail(r, -ENOMEM, "keeping a crash: out of memory");
        goto out;
    }
    if (r->cfg->on_bucket) {
        rc = r->cfg->on_bucket(r->cfg->ctx, b, report, err, sizeof(err));
        if (rc)
            fail(r, rc, err);
    }
out:
    if (rerun)
        r->cfg->exec.release(r->cfg->exec.ctx, &res);
    free(buf);
}

/* ---- learning from a result ------------------------------------------- */

static void on_crash(struct run *r, struct slot *s)
{
    struct fuzz_engine *e = r->e;
    char name[FUZZ_BUCKET_NAME_MAX];
    struct fuzz_bucket *b;
    int ev;

    if (fuzz_status_is_hang(s->r.site.status))
        e->stats.hang_execs++;
    else
        e->stats.crash_execs++;
    fuzz_bucket_name(&s->r.site, name, sizeof(name));
    ev = fuzz_buckets_add(&e->buckets, name, s->r.site.status, s->buf, s->len,
                          s->index + 1, elapsed(r), &b);
    if (ev < 0) {
        fail(r, ev, "keeping a crash: out of memory");
        return;
    }
    if (ev == FUZZ_BUCKET_NEW)
        e->stats.last_find_us = elapsed(r);
    if (ev == FUZZ_BUCKET_NEW || ev == FUZZ_BUCKET_SMALLER)
        shrink_and_report(r, b, s, ev == FUZZ_BUCKET_NEW);
    if (ev == FUZZ_BUCKET_NEW && r->cfg->until_crash)
        stop_for(r, FUZZ_STOP_CRASH);
}

static void join_corpus(struct run *r, struct slot *s, enum fuzz_novelty nov)
{
    struct fuzz_engine *e = r->e;
    char err[ERR_LEN];

    if (fuzz_corpus_add(&e->corpus, s->buf, s->len, s->index + 1, s->r.cmps,
                        s->r.ncmps) != 0) {
        fail(r, -ENOMEM, "growing the corpus: out of memory");
        return;
    }
    e->corpus.e[e->corpus.n - 1].novelty = nov;
    e->stats.last_find_us = elapsed(r);
    /* A seed is in the directory already. */
    if (r->cfg->corpus_dir && s->index >= r->nseeds) {
        int rc = fuzz_corpus_save(r->cfg->corpus_dir, s->buf, s->len, err,
                                  sizeof(err));
        if (rc)
            fail(r, rc, err);
    }
}

/* Statuses whose coverage says nothing: the run was cut short at a random
 * place, or the sandbox failed. */
static int coverage_counts(enum sbx_status st)
{
    return st != SBX_TIMEOUT && st != SBX_INTERNAL_ERROR &&
           st != SBX_SANDBOX_VIOLATION;
}

static void process(struct run *r, struct slot *s)
{
    const struct fuzz_config *cfg = r->cfg;
    enum sbx_status st = s->r.site.status;

    r->e->stats.execs++;
    if (cfg->crash_on & FUZZ_STATUS_BIT(st)) {
        on_crash(r, s);
        return;
    }
    if (st == SBX_TIMEOUT)
        r->e->stats.timeouts++;
    if (cfg->feedback) {
        if (s->r.coverage && coverage_counts(st)) {
            enum fuzz_novelty nov;

            fuzz_cov_classify(s->r.coverage);
            nov = fuzz_corpus_novel(&r->e->corpus, s->r.coverage);
            if (nov != FUZZ_NEW_NONE)
                join_corpus(r, s, nov);
        }
    } else if (s->index < r->nseeds) {
        join_corpus(r, s, FUZZ_NEW_EDGE); /* blind: the seeds are the corpus */
    }
}

/* ---- the slots --------------------------------------------------------- */

static void run_slot(struct run *r, struct slot *s)
{
    s->rc = r->cfg->exec.run(r->cfg->exec.ctx, s->buf, s->len, r->cfg->feedback,
                             &s->r, s->err, sizeof(s->err));
    s->ran = s->rc == 0;
}

static void *worker(void *arg)
{
    struct run *r = arg;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        struct slot *s = NULL;

        for (size_t i = 0; i < r->nslots; i++)
            if (r->slots[i].state == SLOT_READY &&
                (!s || r->slots[i].index < s->index))
                s = &r->slots[i];
        if (!s) {
            if (r->quit)
                break;
            pthread_cond_wait(&r->work, &r->mu);
            continue;
        }
        s->state = SLOT_RUNNING;
        pthread_mutex_unlock(&r->mu);
        run_slot(r, s);
        pthread_mutex_lock(&r->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&r->done);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* May input k be made now? Past the seeds, only once all of them are
 * processed (they make the corpus the rest is made from). */
static int may_make(struct run *r, uint64_t k)
{
    if (tick(r))
        return 0;
    if (r->cfg->max_execs && k >= r->cfg->max_execs) {
        /* The inputs made are all run and learnt from. */
        r->e->stop = FUZZ_STOP_EXECS;
        return 0;
    }
    return k < r->nseeds || r->proc >= r->nseeds;
}

/* Input k into s: a seed (the empty input when there are none), else the
 * scheduler's. 0, or -1 on an error (reported). */
static int make(struct run *r, struct slot *s, uint64_t k)
{
    const struct fuzz_seeds *seeds = r->cfg->seeds;
    enum fuzz_stage stage;

    s->index = k;
    s->ran = 0;
    if (k < r->nseeds) {
        s->len = seeds && seeds->n ? seeds->s[k].len : 0;
        if (s->len)
            memcpy(s->buf, seeds->s[k].data, s->len);
        return 0;
    }
    if (r->e->corpus.n == 0) {
        if (fuzz_corpus_add(&r->e->corpus, NULL, 0, 0, NULL, 0) != 0) {
            fail(r, -ENOMEM, "starting the corpus: out of memory");
            return -1;
        }
        r->e->corpus.e[0].novelty = FUZZ_NEW_EDGE;
    }
    s->len = fuzz_sched_next(&r->sched, s->buf, &stage);
    if (s->len == (size_t)-1) {
        fail(r, -ENOMEM, "making an input: out of memory");
        return -1;
    }
    return 0;
}

/* Stopping: the slots no worker has taken are done without a run. */
static void cancel_ready(struct run *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nslots; i++)
        if (r->slots[i].state == SLOT_READY)
            r->slots[i].state = SLOT_DONE;
    pthread_mutex_unlock(&r->mu);
}

/* Wait for slot s to be done; ticks while waiting. */
static void wait_done(struct run *r, struct slot *s)
{
    pthread_mutex_lock(&r->mu);
    while (s->state != SLOT_DONE) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(FUZZ_TICK_MS * US_PER_MS * NS_PER_US);
        if (ts.tv_nsec >= (long)(US_PER_S * NS_PER_US)) {
            ts.tv_sec++;
            ts.tv_nsec -= (long)(US_PER_S * NS_PER_US);
        }
        pthread_cond_timedwait(&r->done, &r->mu, &ts);
        if (s->state == SLOT_DONE)
            break;
        pthread_mutex_unlock(&r->mu);
        if (tick(r))
            cancel_ready(r);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
}

static void loop(struct run *r)
{
    uint64_t made = 0;

    for (;;) {
        while (made - r->proc < r->nslots && !r->stopping &&
               may_make(r, made)) {
            struct slot *s = &r->slots[made % r->nslots];

            if (make(r, s, made) != 0)
                break;
            pthread_mutex_lock(&r->mu);
            s->state = SLOT_READY;
            pthread_cond_signal(&r->work);
            pthread_mutex_unlock(&r->mu);
            made++;
        }
        if (r->proc == made)
            return;
        if (r->stopping)
            cancel_ready(r);
        struct slot *s = &r->slots[r->proc % r->nslots];
        if (r->cfg->jobs == 1) {
            if (!r->stopping)
                run_slot(r, s);
            s->state = SLOT_DONE;
        } else {
            wait_done(r, s);
        }
        if (s->ran && !r->stopping)
            process(r, s);
        else if (s->rc && !r->stopping)
            fail(r, s->rc, s->err);
        if (s->ran)
            r->cfg->exec.release(r->cfg->exec.ctx, &s->r);
        s->ran = 0;
        s->rc = 0;
        s->state = SLOT_FREE;
        r->proc++;
        tick(r);
    }
}

int fuzz_engine_run(struct fuzz_engine *e, const struct fuzz_config *cfg,
                    char *err, size_t errlen)
{
    struct run r = {.e = e, .cfg = cfg, .err = err, .errlen = errlen};
    pthread_t *threads = NULL;
    unsigned started = 0;

    memset(e, 0, sizeof(*e));
    fuzz_corpus_init(&e->corpus);
    fuzz_buckets_init(&e->buckets);
    r.nseeds = cfg->seeds && cfg->seeds->n ? cfg->seeds->n : 1;
    r.nslots = cfg->jobs > 1 ? (size_t)cfg->jobs * SLOTS_PER_JOB : 1;
    fuzz_sched_init(&r.sched, &e->corpus, cfg->dict, cfg->seed, cfg->max_len,
                    cfg->feedback);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.work, NULL);
    pthread_cond_init(&r.done, NULL);
    r.slots = calloc(r.nslots, sizeof(*r.slots));
    for (size_t i = 0; r.slots && i < r.nslots; i++) {
        r.slots[i].buf = malloc(cfg->max_len ? cfg->max_len : 1);
        if (!r.slots[i].buf)
            goto oom;
    }
    if (!r.slots)
        goto oom;
    if (cfg->jobs > 1) {
        threads = calloc(cfg->jobs, sizeof(*threads));
        if (!threads)
            goto oom;
        for (; started < cfg->jobs; started++)
            if (pthread_create(&threads[started], NULL, worker, &r) != 0)
                break;
        if (started == 0) {
            fail(&r, -EAGAIN, "cannot start a worker thread");
            goto out;
        }
    }
    r.t0 = now_us();
    r.next_tick = r.t0 + FUZZ_TICK_MS * US_PER_MS;
    loop(&r);
    fill_stats(&r);
    goto out;
oom:
    fail(&r, -ENOMEM, "starting the fuzzer: out of memory");
out:
    pthread_mutex_lock(&r.mu);
    r.quit = 1;
    pthread_cond_broadcast(&r.work);
    pthread_mutex_unlock(&r.mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    for (size_t i = 0; r.slots && i < r.nslots; i++)
        free(r.slots[i].buf);
    free(r.slots);
    fuzz_sched_free(&r.sched);
    pthread_cond_destroy(&r.work);
    pthread_cond_destroy(&r.done);
    pthread_mutex_destroy(&r.mu);
    return r.rc;
}

void fuzz_engine_free(struct fuzz_engine *e)
{
    fuzz_corpus_free(&e->corpus);
    fuzz_buckets_free(&e->buckets);
}
