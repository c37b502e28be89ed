/*
 * jobq_redis.c - the fleet's job queue for `tincan serve --redis` (see
 * jobq_redis.h). A submitted job is kept in a map by its number N (queue id
 * TAG:N) and put on a send list; the sender thread XADDs what the list
 * holds in one pipeline (runner/queue.h), keeps jobs refused at the cap for
 * another try, and reads the stream's length for the cap check. The
 * receiver thread reads the notices on P:done:TAG, fetches those results
 * in one MGET, and ends each job that is still in the map (the one who
 * takes a job out of the map, receiver or cancel, calls its done). A job
 * canceled before it was sent ends at once; one already in the stream (or
 * being sent) stays in the map, marked, and ends as canceled when the fleet
 * answers: a worker runs it to its end, and until then it holds its place
 * (its tenant's max_concurrent slot among them). Each thread has its own
 * connection.
 */
#include "jobq_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../runner/queue.h"

#define TAG_BYTES      8    /* random bytes of a producer tag: 16 hex */
#define SEND_MAX       512  /* jobs in one pipelined XADD round */
#define NOTICE_MAX     1024 /* notices taken per XREAD */
#define FETCH_MAX      1024 /* results in one MGET */
#define BLOCK_MS       200  /* XREAD BLOCK: how soon a stop is seen */
#define IDLE_MS        200  /* the sender reads the depth this often idle */
#define FULL_RETRY_MS  50   /* a job refused at the cap is sent again then */
#define SWEEP_MS       5000 /* jobs without a notice this long: fetched */
#define BACKOFF_MIN_MS 100  /* reconnecting: the first wait ... */
#define BACKOFF_MAX_MS 5000 /* ... doubling up to this */
#define BUCKETS        4096u
#define QID_MAX        (QUEUE_TAG_MAX + 24) /* "TAG:" and a uint64 */
#define ERR_MAX        512
#define US_PER_MS      1000ULL
#define NS_PER_MS      1000000L
#define NS_PER_S       1000000000L
#define DOWN_SENDER    1u /* bits of redis_q.down: whose connection failed */
#define DOWN_RECEIVER  2u

struct node {
    uint64_t n; /* queue id TAG:n */
    struct jobq_job *j;
    char *text; /* the description to send; NULL once in the stream */
    size_t len;
    int sending;         /* the sender holds it outside mu */
    int orphan;          /* out of the map while sending: the sender frees */
    int listed;          /* on the send list */
    int canceled;        /* canceled once sent: ends when the fleet answers */
    uint64_t checked_us; /* in the stream since, or fetched by a sweep */
    struct node *hnext;  /* map chain */
    struct node *snext;  /* send list */
};

struct redis_q {
    struct jobq ops; /* first: a struct jobq * is a struct redis_q * */
    struct queue *tx, *rx;
    char tag[QUEUE_TAG_MAX];
    size_t cap;
    pthread_mutex_t mu;
    pthread_cond_t send_cv, idle_cv, stop_cv;
    pthread_t sender, receiver;
    int started_tx, started_rx, stop, closed;
    unsigned down; /* DOWN_* bits: an outage is said once */
    uint64_t next_n, depth;
    size_t live, unsent; /* jobs in the map; of those not in the stream */
    struct node *buckets[BUCKETS];
    struct node *shead, *stail;
    char send_qids[SEND_MAX][QID_MAX];   /* the sender's */
    char fetch_qids[FETCH_MAX][QID_MAX]; /* the receiver's */
};

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Wait on cv (under mu) at most ms. */
static void wait_ms(struct redis_q *q, pthread_cond_t *cv, long ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (ms % 1000) * NS_PER_MS;
    until.tv_sec += ms / 1000 + until.tv_nsec / NS_PER_S;
    until.tv_nsec %= NS_PER_S;
    pthread_cond_timedwait(cv, &q->mu, &until);
}

static void qid_of(const struct redis_q *q, uint64_t n, char qid[QID_MAX])
{
    snprintf(qid, QID_MAX, "%s:%" PRIu64, q->tag, n);
}

/* The n of one of our qids: 0, or -EINVAL for another's or junk. */
static int n_of(const struct redis_q *q, const char *qid, uint64_t *n)
{
    size_t tl = strlen(q->tag);
    char *end;

    if (strncmp(qid, q->tag, tl) || qid[tl] != ':' || qid[tl + 1] < '0' ||
        qid[tl + 1] > '9')
        return -EINVAL;
    errno = 0;
    *n = strtoull(qid + tl + 1, &end, 10);
    return errno || *end ? -EINVAL : 0;
}

static struct node *find(struct redis_q *q, uint64_t n)
{
    struct node *d;

    for (d = q->buckets[n % BUCKETS]; d; d = d->hnext)
        if (d->n == n)
            return d;
    return NULL;
}

static void free_node(struct node *d)
{
    free(d->text);
    free(d);
}

/* Take d out of the map and the send list (under mu); freed unless the
 * sender holds it. Its job is the caller's to end. */
static void forget(struct redis_q *q, struct node *d)
{
    struct node **pp = &q->buckets[d->n % BUCKETS];

    while (*pp && *pp != d)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = d->hnext;
    if (d->listed) {
        struct node *prev = NULL;
        for (struct node *s = q->shead; s && s != d; s = s->snext)
            prev = s;
        if (prev)
            prev->snext = d->snext;
        else
            q->shead = d->snext;
        if (q->stail == d)
            q->stail = prev;
        q->unsent--;
    }
    d->j->node = NULL;
    q->live--;
    pthread_cond_broadcast(&q->idle_cv);
    if (d->sending)
        d->orphan = 1;
    else
        free_node(d);
}

/* j's out as a job canceled (jobq.h: JOBRUN_CANCELED), why saying when. */
static void end_canceled(struct jobq_job *j, const char *why)
{
    memset(&j->out, 0, sizeof(j->out));
    j->out.error = JOBRUN_CANCELED;
    snprintf(j->out.message, sizeof(j->out.message), "%s", why);
}

/* --- connections -----------------------------------------------------------
 */

/* The connection *c failed with err: say so (once per outage), wait with
 * backoff and connect again until it works or we stop. */
static void reconnect(struct redis_q *q, struct queue *c, unsigned who,
                      const char *err)
{
    char why[ERR_MAX];
    long backoff = BACKOFF_MIN_MS;

    pthread_mutex_lock(&q->mu);
    if (!q->down)
        fprintf(stderr,
                "tincan serve: the queue at %s failed (%s); jobs wait while "
                "it reconnects\n",
                queue_where(c), err);
    q->down |= who;
    while (!q->stop) {
        wait_ms(q, &q->stop_cv, backoff);
        if (q->stop)
            break;
        pthread_mutex_unlock(&q->mu);
        int rc = queue_reconnect(c, why, sizeof(why));
        pthread_mutex_lock(&q->mu);
        if (rc == 0) {
            q->down &= ~who;
            if (!q->down)
                fprintf(stderr, "tincan serve: the queue at %s is back\n",
                        queue_where(c));
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    pthread_mutex_unlock(&q->mu);
}

/* --- the sender --------------------------------------------------------------
 */

/* Send up to SEND_MAX listed jobs (mu held on entry and exit): 0, or the
 * failure of the connection (err says). *refused: some hit the cap. */
static int send_round(struct redis_q *q, int *refused, char *err, size_t errlen)
{
    struct node *batch[SEND_MAX], *back = NULL, *back_last = NULL;
    struct jobq_job *canceled[SEND_MAX];
    size_t n_canceled = 0;
    char(*qids)[QID_MAX] = q->send_qids;
    struct queue_job jobs[SEND_MAX];
    unsigned char added[SEND_MAX];
    size_t n = 0, n_added = 0;
    uint64_t depth = 0;
    int rc;

    while (q->shead && n < SEND_MAX) {
        struct node *d = q->shead;
        q->shead = d->snext;
        d->listed = 0;
        d->sending = 1;
        d->snext = NULL;
        batch[n] = d;
        qid_of(q, d->n, qids[n]);
        jobs[n] = (struct queue_job){
            .qid = qids[n], .job = d->text, .job_len = d->len, .reply = q->tag};
        n++;
    }
    if (!q->shead)
        q->stail = NULL;
    pthread_mutex_unlock(&q->mu);
    memset(added, 0, sizeof(added));
    rc = queue_submit(q->tx, jobs, n, q->cap, added, &n_added, err, errlen);
    if (rc == 0)
        rc = queue_depth(q->tx, &depth, err, errlen);
    pthread_mutex_lock(&q->mu);
    if (rc == 0)
        q->depth = depth;
    *refused = 0;
    for (size_t i = 0; i < n; i++) {
        struct node *d = batch[i];
        d->sending = 0;
        if (added[i] || d->orphan || d->canceled)
            q->unsent--;
        if (d->orphan) {
            free_node(d);
        } else if (d->canceled && !added[i]) {
            /* Canceled while it was sent, and not sent: it ends here. */
            canceled[n_canceled++] = d->j;
            forget(q, d);
        } else if (added[i]) {
            free(d->text);
            d->text = NULL;
            d->checked_us = now_us();
        } else {
            /* Refused at the cap, or the connection failed: again, in
             * order, before what came since. */
            *refused |= rc == 0;
            d->listed = 1;
            if (back_last)
                back_last->snext = d;
            else
                back = d;
            back_last = d;
        }
    }
    if (back) {
        back_last->snext = q->shead;
        if (!q->shead)
            q->stail = back_last;
        q->shead = back;
    }
    pthread_mutex_unlock(&q->mu);
    for (size_t i = 0; i < n_canceled; i++) {
        end_canceled(canceled[i], "canceled before it reached the fleet");
        canceled[i]->done(canceled[i]);
    }
    pthread_mutex_lock(&q->mu);
    return rc;
}

static void *sender(void *arg)
{
    struct redis_q *q = arg;
    char err[ERR_MAX];
    uint64_t depth;
    int refused = 0;

    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        if (!q->shead || refused) {
            wait_ms(q, &q->send_cv, refused ? FULL_RETRY_MS : IDLE_MS);
            refused = 0;
            if (q->stop)
                break;
            if (!q->shead) {
                pthread_mutex_unlock(&q->mu);
                int rc = queue_depth(q->tx, &depth, err, sizeof(err));
                if (rc)
                    reconnect(q, q->tx, DOWN_SENDER, err);
                pthread_mutex_lock(&q->mu);
                if (rc == 0)
                    q->depth = depth;
                continue;
            }
        }
        if (send_round(q, &refused, err, sizeof(err))) {
            pthread_mutex_unlock(&q->mu);
            reconnect(q, q->tx, DOWN_SENDER, err);
            pthread_mutex_lock(&q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* --- the receiver ------------------------------------------------------------
 */

struct notices {
    struct redis_q *q;
    uint64_t ns[NOTICE_MAX + FETCH_MAX];
    size_t n;
};

static void on_notice(void *arg, const char *qid)
{
    struct notices *nt = arg;
    uint64_t n;

    if (nt->n < NOTICE_MAX && n_of(nt->q, qid, &n) == 0)
        nt->ns[nt->n++] = n;
}

/* End the job n with the result text, if it is still ours to end. */
static void deliver(struct redis_q *q, uint64_t n, const char *text)
{
    struct jobq_job *j = NULL;
    struct node *d;
    int canceled = 0;

    pthread_mutex_lock(&q->mu);
    d = find(q, n);
    if (d) {
        j = d->j;
        canceled = d->canceled;
        forget(q, d);
        /* Its worker deleted its entry: the depth until the next look. */
        if (q->depth)
            q->depth--;
    }
    pthread_mutex_unlock(&q->mu);
    if (!j)
        return; /* canceled before it was sent, or a notice repeated */
    if (canceled)
        end_canceled(j, "canceled; the fleet had taken it and ran it to its "
                        "end");
    else
        jobrun_out_decode(text, strlen(text), &j->out);
    j->done(j);
}

/* Add jobs in the stream that had no notice for SWEEP_MS (a notice lost
 * when Redis went down). */
static void sweep(struct redis_q *q, struct notices *nt)
{
    uint64_t now = now_us();
    size_t room = sizeof(nt->ns) / sizeof(nt->ns[0]) - nt->n;

    pthread_mutex_lock(&q->mu);
    for (unsigned b = 0; b < BUCKETS && room; b++)
        for (struct node *d = q->buckets[b]; d && room; d = d->hnext)
            if (!d->text && !d->sending &&
                now - d->checked_us >= SWEEP_MS * US_PER_MS) {
                d->checked_us = now;
                nt->ns[nt->n++] = d->n;
                room--;
            }
    pthread_mutex_unlock(&q->mu);
}

/* Fetch and deliver the results of nt's jobs: 0 or a connection error. */
static int fetch_all(struct redis_q *q, struct notices *nt, char *err,
                     size_t errlen)
{
    char(*qids)[QID_MAX] = q->fetch_qids;
    const char *ptrs[FETCH_MAX];
    char *results[FETCH_MAX];

    for (size_t off = 0; off < nt->n; off += FETCH_MAX) {
        size_t k = nt->n - off < FETCH_MAX ? nt->n - off : FETCH_MAX;
        int rc;

        for (size_t i = 0; i < k; i++) {
            qid_of(q, nt->ns[off + i], qids[i]);
            ptrs[i] = qids[i];
        }
        rc = queue_fetch(q->rx, ptrs, k, results, err, errlen);
        if (rc)
            return rc;
        for (size_t i = 0; i < k; i++)
            if (results[i]) {
                deliver(q, nt->ns[off + i], results[i]);
                free(results[i]);
            }
    }
    return 0;
}

static void *receiver(void *arg)
{
    struct redis_q *q = arg;
    struct notices *nt = calloc(1, sizeof(*nt));
    char last[QUEUE_ID_MAX] = "0", err[ERR_MAX];
    uint64_t swept = now_us();
    int stop;

    if (!nt) {
        fprintf(stderr, "tincan serve: the queue's receiver: %s\n",
                strerror(ENOMEM));
        return NULL;
    }
    nt->q = q;
    do {
        int rc;

        nt->n = 0;
        rc = queue_wait_done(q->rx, q->tag, last, BLOCK_MS, NOTICE_MAX,
                             on_notice, nt, err, sizeof(err));
        if (rc == 0 && now_us() - swept >= SWEEP_MS * US_PER_MS) {
            sweep(q, nt);
            swept = now_us();
        }
        if (rc == 0)
            rc = fetch_all(q, nt, err, sizeof(err));
        if (rc)
            reconnect(q, q->rx, DOWN_RECEIVER, err);
        pthread_mutex_lock(&q->mu);
        stop = q->stop;
        pthread_mutex_unlock(&q->mu);
    } while (!stop);
    free(nt);
    return NULL;
}

/* --- the jobq operations -----------------------------------------------------
 */

/* The description a worker gets: the job as sent, without "id" (the
 * server's to answer with), with the limits it runs under spelled out (a
 * token's caps may have lowered a default). */
static char *job_text(const struct jobq_job *j, size_t *len)
{
    json_t *o = json_copy(j->desc);
    char *text = NULL;

    if (o && json_is_object(o)) {
        json_object_del(o, "id");
        if (!json_object_set_new(
                o, "timeout_ms",
                json_integer((json_int_t)j->js.job.timeout_ms)) &&
            !json_object_set_new(
                o, "mem", json_integer((json_int_t)j->js.job.mem_size)) &&
            !json_object_set_new(
                o, "max_output",
                json_integer((json_int_t)j->js.job.max_output)))
            text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    *len = text ? strlen(text) : 0;
    return text;
}

static int rq_submit(struct jobq *base, struct jobq_job *j)
{
    struct redis_q *q = (struct redis_q *)base;
    struct node *d = calloc(1, sizeof(*d));
    int rc = 0;

    if (!d || !(d->text = job_text(j, &d->len))) {
        free(d);
        return -ENOMEM;
    }
    pthread_mutex_lock(&q->mu);
    if (q->closed || q->stop) {
        rc = -ESHUTDOWN;
    } else if (q->depth + q->unsent >= q->cap) {
        rc = -EAGAIN;
    } else {
        d->n = ++q->next_n;
        d->j = j;
        d->listed = 1;
        d->hnext = q->buckets[d->n % BUCKETS];
        q->buckets[d->n % BUCKETS] = d;
        if (q->stail)
            q->stail->snext = d;
        else
            q->shead = d;
        q->stail = d;
        q->unsent++;
        q->live++;
        j->q = base;
        j->node = d;
        pthread_cond_signal(&q->send_cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (rc)
        free_node(d);
    return rc;
}

static int rq_cancel(struct jobq *base, struct jobq_job *j)
{
    struct redis_q *q = (struct redis_q *)base;
    struct node *d;
    int now = 0;

    pthread_mutex_lock(&q->mu);
    d = j->node;
    if (d && d->listed) {
        forget(q, d); /* never sent: nothing of it runs */
        now = 1;
    } else if (d) {
        d->canceled = 1; /* a worker may run it: done when it answers */
    }
    pthread_mutex_unlock(&q->mu);
    if (!d)
        return -ENOENT;
    if (now) {
        end_canceled(j, "canceled before it reached the fleet");
        j->done(j);
    }
    return 0;
}

static void rq_counts(struct jobq *base, unsigned *queued, unsigned *running)
{
    struct redis_q *q = (struct redis_q *)base;
    uint64_t waiting;

    pthread_mutex_lock(&q->mu);
    waiting = q->depth + q->unsent;
    *queued = waiting > UINT_MAX ? UINT_MAX : (unsigned)waiting;
    *running = (unsigned)(q->live - q->unsent);
    pthread_mutex_unlock(&q->mu);
}

static void rq_close(struct jobq *base)
{
    struct redis_q *q = (struct redis_q *)base;

    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_mutex_unlock(&q->mu);
}

static int rq_wait_idle(struct jobq *base, unsigned long timeout_ms)
{
    struct redis_q *q = (struct redis_q *)base;
    uint64_t until = now_us() + timeout_ms * US_PER_MS;
    int rc;

    pthread_mutex_lock(&q->mu);
    while (q->live && now_us() < until)
        wait_ms(q, &q->idle_cv, (long)((until - now_us()) / US_PER_MS) + 1);
    rc = q->live ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void rq_destroy(struct jobq *base)
{
    struct redis_q *q = (struct redis_q *)base;

    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->send_cv);
    pthread_cond_broadcast(&q->stop_cv);
    pthread_mutex_unlock(&q->mu);
    if (q->started_tx)
        pthread_join(q->sender, NULL);
    if (q->started_rx)
        pthread_join(q->receiver, NULL);
    for (unsigned b = 0; b < BUCKETS; b++)
        while (q->buckets[b]) {
            struct node *d = q->buckets[b];
            q->buckets[b] = d->hnext;
            d->j->node = NULL; /* its job is its caller's */
            free_node(d);
        }
    if (q->tx)
        queue_close(q->tx);
    if (q->rx)
        queue_close(q->rx);
    pthread_cond_destroy(&q->send_cv);
    pthread_cond_destroy(&q->idle_cv);
    pthread_cond_destroy(&q->stop_cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int new_tag(char tag[QUEUE_TAG_MAX], char *err, size_t errlen)
{
    unsigned char r[TAG_BYTES];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -errno;
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(tag + 2 * i, 3, "%02x", r[i]);
    return 0;
}

static void init_sync(struct redis_q *q)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->send_cv, &ca);
    pthread_cond_init(&q->idle_cv, &ca);
    pthread_cond_init(&q->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
}

int jobq_redis_create(struct jobq **out, const char *url, const char *prefix,
                      unsigned cap, char *err, size_t errlen)
{
    struct redis_q *q = calloc(1, sizeof(*q));
    int rc;

    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (!q) {
        snprintf(err, errlen, "the job queue: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    init_sync(q);
    q->cap = cap;
    q->ops.submit = rq_submit;
    q->ops.cancel = rq_cancel;
    q->ops.counts = rq_counts;
    q->ops.close = rq_close;
    q->ops.wait_idle = rq_wait_idle;
    q->ops.destroy = rq_destroy;
    rc = new_tag(q->tag, err, errlen);
    if (!rc)
        rc = queue_connect(url, prefix, &q->tx, err, errlen);
    if (!rc)
        rc = queue_connect(url, prefix, &q->rx, err, errlen);
    if (!rc)
        rc = queue_group_create(q->tx, err, errlen);
    if (!rc)
        rc = queue_depth(q->tx, &q->depth, err, errlen);
    if (!rc) {
        rc = -pthread_create(&q->sender, NULL, sender, q);
        q->started_tx = rc == 0;
    }
    if (!rc) {
        rc = -pthread_create(&q->receiver, NULL, receiver, q);
        q->started_rx = rc == 0;
    }
    if (rc) {
        if (rc != -ENOMEM && !err[0])
            snprintf(err, errlen, "starting the queue's threads: %s",
                     strerror(-rc));
        rq_destroy(&q->ops);
        return rc;
    }
    *out = &q->ops;
    return 0;
}
