/*
 * worker.c - `tincan worker`: one member of the fleet. It takes jobs from
 * the Redis stream P:jobs as consumer --name of the group P:workers
 * (runner/queue.h), runs each like a `tincan batch` line (jobrun.h), and
 * stores the result once, notifies its producer and acks the entry.
 * Entries pending longer than --claim-idle are taken over (XAUTOCLAIM);
 * one delivered more than --max-deliveries times is dead-lettered. A lost
 * Redis is reconnected to with backoff, said once; SIGTERM stops taking
 * jobs, finishes and acks those in flight, and exits 0.
 *
 * Threads: -j executors (each its own connection: read, run, finish), a
 * heartbeat (its own connection: keeps the in-flight entries claimed and
 * writes P:seen), and the main thread, which owns the signals.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../runner/queue.h"
#include "../runner/units.h"
#include "fetchopt.h"
#include "jobrun.h"
#include "jobspec.h"
#include "report.h"

#define MAX_EXECUTORS      1024
#define ERR_MAX            768
#define READ_BLOCK_MS      500   /* how soon an idle executor sees a stop */
#define READ_AHEAD_MAX_MS  100   /* after a job this long, no read ahead */
#define DEFAULT_CLAIM_IDLE 30000 /* ms; heartbeats keep long jobs owned */
#define MIN_CLAIM_IDLE     100   /* ms */
#define HEARTBEAT_MAX_MS   5000  /* P:seen at least this often */
#define HEARTBEAT_DIVISOR  3     /* in-flight entries touched per idle */
#define DEFAULT_DELIVERIES 3
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define HOSTNAME_MAX       256
#define NAME_MAX_LEN       200
#define NS_PER_MS          1000000L
#define MS_PER_S           1000

static const char worker_usage[] =
    "usage: tincan worker --redis URL [options]\n"
    "\n"
    "Takes jobs from the Redis stream P:jobs (as member NAME of the consumer\n"
    "group P:workers), runs each in its own fresh VM like a line of tincan\n"
    "batch, stores its result once under P:result:ID, notifies the producer\n"
    "and acks it. Producers: tincan batch --redis, tincan serve --redis.\n"
    "\n"
    "options:\n"
    "  --redis URL          redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or\n"
    "                       unix:///PATH[?db=N] (no TLS: use a private\n"
    "                       network or a TLS tunnel)\n"
    "  --prefix P           key prefix (default tincan)\n"
    "  -j, --jobs N         run N jobs at once (default: the number of CPUs)\n"
    "  --name NAME          this worker's consumer name (default HOST-PID);\n"
    "                       a restarted worker should keep its name\n"
    "  --claim-idle DUR     take over jobs another worker has not touched\n"
    "                       for DUR (default 30s; a live worker touches its\n"
    "                       running jobs every DUR/3, however long they run)\n"
    "  --max-deliveries N   dead-letter a job delivered more than N times\n"
    "                       (default 3) into P:dead\n"
    "  --result-ttl DUR     keep results this long (default 24h)\n"
    "  -h, --help           this text\n"
    "\n" JOBSPEC_POLICY_USAGE "\n" FETCHOPT_USAGE "\n"
    "A lost Redis is reconnected to with backoff (said once on stderr).\n"
    "SIGTERM or SIGINT stops taking jobs, finishes and acks those running,\n"
    "and exits 0. exit status: 0 after SIGTERM/SIGINT; 125 bad usage or\n"
    "credentials Redis refuses.\n";

struct inflight {
    char id[QUEUE_ID_MAX]; /* "" when the slot is free */
};

struct worker {
    /* options */
    const char *url, *prefix;
    char name[NAME_MAX_LEN + 1];
    unsigned executors;
    uint64_t claim_idle_ms;
    unsigned max_deliveries;
    unsigned ttl_s;
    struct fetchopt fo;
    struct jobspec_policy policy;

    atomic_int stop;
    atomic_int outage;   /* 1 while Redis is unreachable (said once) */
    atomic_uint outages; /* outages said so far */
    atomic_uint_fast64_t next_claim_ms;
    atomic_uint_fast64_t running, done;
    pthread_mutex_t mu; /* inflight */
    struct inflight *inflight;
    int stop_pipe[2];
    /* The heartbeat's own: it beats until the executors are done, since
     * a job still running after SIGTERM must stay claimed. */
    atomic_int hb_stop;
    int hb_pipe[2];
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

/* Sleep ms, or less once fd (a stop pipe) is readable. */
static void nap_on(int fd, unsigned ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (poll(&p, 1, (int)ms) < 0) {
        /* EINTR: the caller loops */
    }
}

/* Sleep ms, or less when stopping (the stop pipe is readable). */
static void nap(struct worker *w, unsigned ms)
{
    nap_on(w->stop_pipe[0], ms);
}

/*
 * Each thread has a connection of its own, and they find an outage at
 * different times: one may have reconnected before another next uses its
 * connection, and a connection made before the outage may still hand out
 * replies its server sent before it went (a read ahead of the job). So
 * each connection carries the count of outages said when it was made: its
 * error is a new outage only if none was said since, and work done on it
 * ends the outage only if it was made after the outage was said.
 */
static _Thread_local unsigned conn_outages; /* w->outages when it was made */

/* A connection error: say so once per outage. */
static void lost(struct worker *w, const char *err)
{
    unsigned seen = conn_outages;

    if (atomic_compare_exchange_strong(&w->outages, &seen, seen + 1)) {
        atomic_store(&w->outage, 1);
        fprintf(stderr, "tincan worker: lost Redis (%s); reconnecting\n", err);
    }
}

/* This thread's connection works: a job was read or finished on it. That
 * ends the outage when the connection is newer than the outage. */
static void regained(struct worker *w, const struct queue *q)
{
    if (conn_outages == atomic_load(&w->outages) &&
        atomic_exchange(&w->outage, 0))
        fprintf(stderr, "tincan worker: reconnected to %s\n", queue_where(q));
}

/*
 * Connect again with backoff until it works. With must_finish, keep
 * trying after a stop too (a result waits to be stored). 0, or -1 when
 * stopping.
 */
static int reconnect(struct worker *w, struct queue *q, int must_finish)
{
    unsigned delay = BACKOFF_MIN_MS;
    char err[ERR_MAX];

    for (;;) {
        /* Read first: an outage said while connecting is not this one's. */
        unsigned outages = atomic_load(&w->outages);

        if (atomic_load(&w->stop) && !must_finish)
            return -1;
        if (queue_reconnect(q, err, sizeof(err)) == 0 &&
            queue_group_create(q, err, sizeof(err)) == 0) {
            conn_outages = outages;
            return 0; /* regained() once it does work */
        }
        lost(w, err); /* as the connection before it */
        if (atomic_load(&w->stop))
            usleep(delay * 1000u); /* the stop pipe no longer waits */
        else
            nap(w, delay);
        delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
    }
}

static int is_conn_error(int rc)
{
    return rc != 0 && rc != -EPROTO && rc != -EINVAL && rc != -ENOMEM &&
           rc != -ENOENT;
}

/* --- in-flight entries (what the heartbeat keeps claimed) ---------------- */

static void inflight_set(struct worker *w, unsigned slot, const char *id)
{
    pthread_mutex_lock(&w->mu);
    snprintf(w->inflight[slot].id, sizeof(w->inflight[slot].id), "%s",
             id ? id : "");
    pthread_mutex_unlock(&w->mu);
}

/* --- one job -----------------------------------------------------------------
 */

/* {"status": "error", "message": msg} as text (malloc'd), or NULL. */
static char *error_result(const char *msg)
{
    json_t *o = json_object();
    json_t *m = json_string(msg);
    char *s = NULL;

    if (o && m) {
        json_object_set_new(o, "status", json_string("error"));
        json_object_set_new(o, "message", m);
        m = NULL;
        s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    }
    json_decref(m);
    json_decref(o);
    return s;
}

/*
 * Run e's job: the result text (malloc'd), or NULL with why in err when
 * the entry cannot be decoded (then it is left pending: another worker,
 * or a later delivery, may do better, and --max-deliveries ends it).
 */
static char *run_entry(struct worker *w, const struct queue_entry *e, char *err,
                       size_t errlen)
{
    struct jobrun_opts opts = {.fetch = &w->fo.fetch, .policy = &w->policy};
    struct jobspec js;
    struct jobrun_out out;
    json_error_t jerr;
    json_t *obj;
    char msg[ERR_MAX], *s = NULL;

    if (!e->qid || !e->job) {
        snprintf(err, errlen, "the entry has no \"%s\" field",
                 !e->qid ? "qid" : "job");
        return NULL;
    }
    obj = json_loadb(e->job, e->job_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj || !json_is_object(obj)) {
        snprintf(err, errlen, "its job is not a JSON object%s%s",
                 obj ? "" : ": ", obj ? "" : jerr.text);
        json_decref(obj);
        return NULL;
    }
    jobspec_init(&js);
    /* The result as jobrun_out_encode() has it: an error keeps its kind
     * and field, so a producer answers as a local run would. */
    if (jobspec_parse(obj, NULL, &js, msg, sizeof(msg))) {
        memset(&out, 0, sizeof(out));
        out.error = JOBRUN_BAD_JOB;
        snprintf(out.field, sizeof(out.field), "%s", js.err_field);
        snprintf(out.message, sizeof(out.message), "%s", msg);
        s = jobrun_out_encode(&out);
    } else {
        jobrun_run(&js, &opts, -1, &out);
        s = jobrun_out_encode(&out);
        jobrun_out_free(&out);
    }
    jobspec_free(&js);
    json_decref(obj);
    if (!s)
        snprintf(err, errlen, "out of memory writing its result");
    return s;
}

/* Store, notify, ack: retried through reconnections until it is done. */
static void finish(struct worker *w, struct queue *q,
                   const struct queue_entry *e, const char *reason,
                   const char *result)
{
    char err[ERR_MAX];
    size_t len = result ? strlen(result) : 0;

    for (;;) {
        int rc = reason ? queue_dead_letter(q, e, reason, result, len, w->ttl_s,
                                            err, sizeof(err))
                        : queue_finish(q, e, result, len, w->ttl_s, err,
                                       sizeof(err));
        if (!is_conn_error(rc)) {
            if (rc)
                fprintf(stderr, "tincan worker: job %s: %s\n",
                        e->qid ? e->qid : e->id, err);
            else
                regained(w, q);
            return;
        }
        lost(w, err);
        reconnect(w, q, 1);
    }
}

/* Whether the next entry may be asked for ahead of time: not when
 * stopping, nor when it is time to look for stale ones (next_entry()),
 * nor after a long job (then it would wait, owned, behind the next). */
static int may_read_ahead(struct worker *w, uint64_t last_run_ms)
{
    return !atomic_load(&w->stop) && last_run_ms < READ_AHEAD_MAX_MS &&
           now_ms() < atomic_load(&w->next_claim_ms);
}

/*
 * One executor's connection and what it has asked Redis for without the
 * answer yet: a finish (of done, with its result) and a read of the entry
 * to run after the current one, sent while the current one runs.
 */
struct lane {
    struct worker *w;
    struct queue *q;
    struct queue_sent sent;
    int pending;             /* sent holds unread replies */
    struct queue_entry done; /* the entry sent's finish is for */
    char *done_result;       /* its result, kept until the finish is in */
    int has_done;
};

static void lane_drop_done(struct lane *l)
{
    if (l->has_done) {
        queue_entry_free(&l->done);
        free(l->done_result);
        l->done_result = NULL;
        l->has_done = 0;
    }
}

/*
 * The replies to what was sent: 1 with *next when it brought an entry,
 * else 0. A finish that did not come back is done again through
 * reconnections, as finish() does.
 */
static int lane_receive(struct lane *l, struct queue_entry *next)
{
    struct worker *w = l->w;
    char err[ERR_MAX];
    size_t n = 0;
    int finished = 0, rc;

    if (!l->pending)
        return 0;
    l->pending = 0;
    rc = queue_finish_recv(l->q, &l->sent, next, &n, &finished, err,
                           sizeof(err));
    if (!finished) {
        lost(w, err);
        reconnect(w, l->q, 1);
        if (l->has_done)
            finish(w, l->q, &l->done, NULL, l->done_result);
    } else if (rc && is_conn_error(rc)) {
        lost(w, err);
        reconnect(w, l->q, 0);
    } else if (rc) {
        fprintf(stderr, "tincan worker: job %s: %s\n",
                l->has_done && l->done.qid ? l->done.qid : "?", err);
    } else {
        regained(w, l->q);
    }
    lane_drop_done(l);
    return n ? 1 : 0;
}

/* Send e's finish (when e) and a read of one more entry (when read),
 * blocking block_ms (0: not at all); the lane keeps e and result until the
 * replies are in. On a lost connection, finish e at once instead. */
static void lane_send(struct lane *l, struct queue_entry *e, char *result,
                      int read, int block_ms)
{
    struct worker *w = l->w;
    char err[ERR_MAX];
    int rc = queue_finish_send(l->q, e, result, result ? strlen(result) : 0,
                               w->ttl_s, read ? w->name : NULL, block_ms,
                               &l->sent, err, sizeof(err));

    if (e) { /* the lane owns them now */
        l->done = *e;
        l->done_result = result;
        l->has_done = 1;
    }
    if (rc && is_conn_error(rc)) {
        lost(w, err);
        reconnect(w, l->q, 1);
        if (l->has_done)
            finish(w, l->q, &l->done, NULL, l->done_result);
        lane_drop_done(l);
        return;
    }
    if (rc)
        fprintf(stderr, "tincan worker: job %s: %s\n",
                e && e->qid ? e->qid : "?", err);
    l->pending = l->sent.finish || l->sent.read;
    if (!l->pending)
        lane_drop_done(l);
}

/* The entry is over its --max-deliveries: to P:dead, with an error result
 * for its producer. */
static void dead_letter(struct worker *w, struct queue *q,
                        const struct queue_entry *e)
{
    char reason[ERR_MAX + 128], *result;

    snprintf(reason, sizeof(reason),
             "delivered %" PRIu64 " times, more than --max-deliveries %u: "
             "every worker that took it failed or died",
             e->deliveries, w->max_deliveries);
    result = error_result(reason);
    finish(w, q, e, reason, result);
    fprintf(stderr, "tincan worker: job %s: dead-lettered: %s\n",
            e->qid ? e->qid : e->id, reason);
    free(result);
}

/* Run e: its result (malloc'd), or NULL when it cannot be taken (left
 * pending: it goes idle and is delivered again). *ms: how long it ran. */
static char *run(struct worker *w, unsigned slot, const struct queue_entry *e,
                 uint64_t *ms)
{
    char why[ERR_MAX], *result;
    uint64_t t0 = now_ms();

    inflight_set(w, slot, e->id);
    atomic_fetch_add(&w->running, 1);
    result = run_entry(w, e, why, sizeof(why));
    atomic_fetch_sub(&w->running, 1);
    *ms = now_ms() - t0;
    if (!result) {
        inflight_set(w, slot, NULL);
        fprintf(stderr,
                "tincan worker: entry %s (delivery %" PRIu64
                "): cannot take it: %s; leaving it for another delivery\n",
                e->id, e->deliveries, why);
    }
    return result;
}

/* --- the threads -----------------------------------------------------------
 */

struct executor {
    struct worker *w;
    unsigned slot;
    pthread_t thread;
};

/* One entry: a stale one taken over when it is time to look, else a new
 * one. 1 and *e, 0 for none, or a negative error (err). */
static int next_entry(struct worker *w, struct queue *q, struct queue_entry *e,
                      char *err, size_t errlen)
{
    uint64_t now = now_ms(), due = atomic_load(&w->next_claim_ms);
    size_t n = 0;
    int rc;

    if (now >= due &&
        atomic_compare_exchange_strong(&w->next_claim_ms, &due,
                                       now + w->claim_idle_ms / 2)) {
        rc = queue_claim(q, w->name, w->claim_idle_ms, 1, e, &n, err, errlen);
        if (rc)
            return rc;
        if (n) {
            atomic_store(&w->next_claim_ms, now); /* there may be more */
            return 1;
        }
    }
    rc = queue_read(q, w->name, 1, READ_BLOCK_MS, e, &n, err, errlen);
    if (rc)
        return rc;
    return n ? 1 : 0;
}

/*
 * Run e, then the entries that come after it. While a short job runs, the
 * finish of the one before and the read of the one after are already on
 * their way (one pipeline, its replies read after the job): the job slot
 * does not wait for Redis between short jobs.
 */
static void run_from(struct lane *l, unsigned slot, struct queue_entry *e)
{
    struct worker *w = l->w;
    struct queue_entry next;
    uint64_t ms = 0;
    int have = 1;

    while (have) {
        int got;
        if (e->deliveries > w->max_deliveries) {
            got = lane_receive(l, &next); /* before any other command */
            dead_letter(w, l->q, e);
            queue_entry_free(e);
            if (!got)
                break;
            *e = next;
            continue;
        }
        if (!l->pending && may_read_ahead(w, ms))
            lane_send(l, NULL, NULL, 1, 0); /* the one after e */
        char *result = run(w, slot, e, &ms);
        got = lane_receive(l, &next);
        if (got && ms >= w->claim_idle_ms / 2) {
            /* It waited, untouched, behind a job that ran long: another
             * worker may have claimed it by now. Left for a claim. */
            queue_entry_free(&next);
            got = 0;
        }
        if (!result) {
            queue_entry_free(e);
        } else if (got && may_read_ahead(w, ms)) {
            lane_send(l, e, result, 1, 0); /* e's memory goes to the lane */
            inflight_set(w, slot, NULL);
            atomic_fetch_add(&w->done, 1);
        } else {
            if (!got && may_read_ahead(w, ms)) {
                lane_send(l, e, result, 1, READ_BLOCK_MS);
                got = lane_receive(l, &next);
            } else {
                finish(w, l->q, e, NULL, result);
                queue_entry_free(e);
                free(result);
            }
            inflight_set(w, slot, NULL);
            atomic_fetch_add(&w->done, 1);
        }
        have = got;
        if (got)
            *e = next;
    }
    /* Every path above has read what it sent: nothing is left pending. */
}

static void *executor_main(void *arg)
{
    struct executor *x = arg;
    struct worker *w = x->w;
    struct lane l = {.w = w};
    char err[ERR_MAX];
    int rc;

    conn_outages = atomic_load(&w->outages); /* before the connection */
    rc = queue_connect(w->url, w->prefix, &l.q, err, sizeof(err));
    if (!l.q)
        return NULL; /* the main thread connected with these: memory */
    if (rc && reconnect(w, l.q, 0))
        goto out;
    while (!atomic_load(&w->stop)) {
        struct queue_entry e;
        rc = next_entry(w, l.q, &e, err, sizeof(err));
        if (rc < 0) {
            if (is_conn_error(rc)) {
                lost(w, err);
                if (reconnect(w, l.q, 0))
                    break;
            } else {
                fprintf(stderr, "tincan worker: %s\n", err);
                nap(w, BACKOFF_MAX_MS);
            }
            continue;
        }
        regained(w, l.q);
        if (rc == 1)
            run_from(&l, x->slot, &e);
    }
out:
    queue_close(l.q);
    return NULL;
}

static void *heartbeat_main(void *arg)
{
    struct worker *w = arg;
    struct queue *q = NULL;
    uint64_t period = w->claim_idle_ms / HEARTBEAT_DIVISOR;
    const char **ids = calloc(w->executors, sizeof(*ids));
    char(*copy)[QUEUE_ID_MAX] = calloc(w->executors, sizeof(*copy));
    char err[ERR_MAX];

    if (period > HEARTBEAT_MAX_MS)
        period = HEARTBEAT_MAX_MS;
    if (!ids || !copy)
        goto out;
    queue_connect(w->url, w->prefix, &q, err, sizeof(err));
    while (q && !atomic_load(&w->hb_stop)) {
        size_t n = 0;
        pthread_mutex_lock(&w->mu);
        for (unsigned i = 0; i < w->executors; i++)
            if (w->inflight[i].id[0]) {
                memcpy(copy[n], w->inflight[i].id, QUEUE_ID_MAX);
                ids[n] = copy[n];
                n++;
            }
        pthread_mutex_unlock(&w->mu);
        if (queue_touch(q, w->name, ids, n, atomic_load(&w->running),
                        atomic_load(&w->done), err, sizeof(err)) &&
            queue_reconnect(q, err, sizeof(err)) == 0)
            queue_touch(q, w->name, ids, n, atomic_load(&w->running),
                        atomic_load(&w->done), err, sizeof(err));
        nap_on(w->hb_pipe[0], (unsigned)period);
    }
    /* The last word: what it did (the executors have stopped). */
    if (q)
        queue_touch(q, w->name, NULL, 0, 0, atomic_load(&w->done), err,
                    sizeof(err));
out:
    queue_close(q);
    free(ids);
    free(copy);
    return NULL;
}

/* --- options and main -------------------------------------------------------
 */

enum {
    OPT_REDIS = 256,
    OPT_PREFIX,
    OPT_NAME,
    OPT_CLAIM_IDLE,
    OPT_MAX_DELIVERIES,
    OPT_RESULT_TTL,
};

static int parse_args(struct worker *w, int argc, char **argv)
{
    static const struct option opts[] = {
        {"redis", required_argument, NULL, OPT_REDIS},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"jobs", required_argument, NULL, 'j'},
        {"name", required_argument, NULL, OPT_NAME},
        {"claim-idle", required_argument, NULL, OPT_CLAIM_IDLE},
        {"max-deliveries", required_argument, NULL, OPT_MAX_DELIVERIES},
        {"result-ttl", required_argument, NULL, OPT_RESULT_TTL},
        FETCHOPT_LONG_OPTIONS,
        JOBSPEC_POLICY_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char err[ERR_MAX], host[HOSTNAME_MAX] = "worker";
    unsigned long n;
    uint64_t ms;
    int c, taken;

    w->executors =
        cpus > 0 ? (unsigned)(cpus < MAX_EXECUTORS ? cpus : MAX_EXECUTORS) : 1;
    w->claim_idle_ms = DEFAULT_CLAIM_IDLE;
    w->max_deliveries = DEFAULT_DELIVERIES;
    w->ttl_s = QUEUE_DEFAULT_TTL_S;
    gethostname(host, sizeof(host) - 1);
    snprintf(w->name, sizeof(w->name), "%.100s-%ld", host, (long)getpid());
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":j:h", opts, NULL)) != -1) {
        if (c == FETCHOPT_ALLOW_FILE_URLS)
            return report_usage_error(
                "%s", "--allow-file-urls does not apply to queued jobs: "
                      "they name files with \"path\" and --allow-paths DIR");
        taken = jobspec_policy_apply(&w->policy, c, optarg, err, sizeof(err));
        if (!taken)
            taken = fetchopt_apply(&w->fo, c, optarg, err, sizeof(err));
        if (taken < 0)
            return report_usage_error("%s", err);
        if (taken)
            continue;
        switch (c) {
        case OPT_REDIS:
            w->url = optarg;
            break;
        case OPT_PREFIX:
            w->prefix = optarg;
            break;
        case 'j':
            if (units_parse_count(optarg, 1, MAX_EXECUTORS, &n))
                return report_usage_error(
                    "-j %s: give a number of jobs at once from 1 to %d", optarg,
                    MAX_EXECUTORS);
            w->executors = (unsigned)n;
            break;
        case OPT_NAME:
            if (!optarg[0] || strlen(optarg) > NAME_MAX_LEN)
                return report_usage_error("--name: give 1 to %d characters",
                                          NAME_MAX_LEN);
            snprintf(w->name, sizeof(w->name), "%s", optarg);
            break;
        case OPT_CLAIM_IDLE:
            if (units_parse_duration(optarg, &ms, err, sizeof(err)))
                return report_usage_error("--claim-idle: %s", err);
            if (ms < MIN_CLAIM_IDLE)
                return report_usage_error("--claim-idle %s: give at least %dms",
                                          optarg, MIN_CLAIM_IDLE);
            w->claim_idle_ms = ms;
            break;
        case OPT_MAX_DELIVERIES:
            if (units_parse_count(optarg, 1, 1000000, &n))
                return report_usage_error(
                    "--max-deliveries %s: give a whole number from 1", optarg);
            w->max_deliveries = (unsigned)n;
            break;
        case OPT_RESULT_TTL:
            if (units_parse_duration(optarg, &ms, err, sizeof(err)))
                return report_usage_error("--result-ttl: %s", err);
            if (ms < MS_PER_S || ms / MS_PER_S > UINT32_MAX)
                return report_usage_error("--result-ttl %s: give 1s or more",
                                          optarg);
            w->ttl_s = (unsigned)(ms / MS_PER_S);
            break;
        case 'h':
            fputs(worker_usage, stdout);
            return -1;
        case ':':
            return report_usage_error(
                "option '%s' needs a value; see 'tincan worker --help'",
                argv[optind - 1]);
        default:
            return report_usage_error(
                "unknown option '%s'; see 'tincan worker --help'",
                argv[optind - 1]);
        }
    }
    if (optind < argc)
        return report_usage_error("unexpected argument '%s'; see 'tincan "
                                  "worker --help'",
                                  argv[optind]);
    if (!w->url)
        return report_usage_error("%s", "no queue: give --redis URL "
                                        "(redis://HOST:PORT or unix:///PATH)");
    return 0;
}

/* The first connection: credentials and the URL are checked here (exit
 * 125); a Redis that is down is waited for. 0 or an exit status. */
static int first_connect(struct worker *w)
{
    struct queue *q = NULL;
    char err[ERR_MAX];
    int rc = queue_connect(w->url, w->prefix, &q, err, sizeof(err));

    if (!q)
        return report_usage_error("%s", err);
    if (!rc)
        rc = queue_group_create(q, err, sizeof(err));
    if (rc == -EACCES || rc == -EPROTO) {
        queue_close(q);
        return report_usage_error("%s", err);
    }
    if (rc) {
        lost(w, err);
        if (reconnect(w, q, 0)) {
            queue_close(q);
            return -1; /* stopped before Redis came */
        }
    }
    fprintf(stderr, "tincan worker: %s on %s (prefix %s), %u at once\n",
            w->name, queue_where(q), queue_prefix(q), w->executors);
    queue_close(q);
    return 0;
}

struct sigwatch {
    struct worker *w;
    int sfd;
};

static void *watch_signals(void *arg)
{
    struct sigwatch *s = arg;
    struct signalfd_siginfo si;
    char c = 0;

    while (read(s->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si)) {
        if (errno != EINTR)
            break;
    }
    if (si.ssi_signo == SIGUSR1)
        return NULL; /* main's wake-up: the run ended by itself */
    atomic_store(&s->w->stop, 1);
    fprintf(stderr,
            "tincan worker: %s: taking no more jobs; finishing %" PRIu64
            " running\n",
            strsignal((int)si.ssi_signo),
            (uint64_t)atomic_load(&s->w->running));
    if (write(s->w->stop_pipe[1], &c, 1) < 0) {
        /* the stop flag alone ends the loops at their next read */
    }
    return NULL;
}

int worker_main(int argc, char **argv)
{
    struct worker w;
    struct executor *xs = NULL;
    struct sigwatch sw = {.w = &w, .sfd = -1};
    pthread_t hb, sigt;
    sigset_t sigs;
    unsigned started = 0;
    int rc, hb_started = 0, sig_started = 0;

    memset(&w, 0, sizeof(w));
    w.stop_pipe[0] = w.stop_pipe[1] = -1;
    w.hb_pipe[0] = w.hb_pipe[1] = -1;
    fetchopt_init(&w.fo);
    jobspec_policy_init(&w.policy);
    pthread_mutex_init(&w.mu, NULL);
    rc = parse_args(&w, argc, argv);
    if (rc) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    sw.sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    w.inflight = calloc(w.executors, sizeof(*w.inflight));
    xs = calloc(w.executors, sizeof(*xs));
    if (sw.sfd < 0 || !w.inflight || !xs || pipe2(w.stop_pipe, O_CLOEXEC) ||
        pipe2(w.hb_pipe, O_CLOEXEC)) {
        fprintf(stderr, "tincan worker: cannot start: %s\n",
                strerror(errno ? errno : ENOMEM));
        rc = REPORT_EXIT_INTERNAL_ERROR;
        goto out;
    }
    if (pthread_create(&sigt, NULL, watch_signals, &sw) == 0)
        sig_started = 1;
    rc = first_connect(&w);
    if (rc) {
        rc = rc < 0 ? 0 : rc;
        goto stop;
    }
    atomic_store(&w.next_claim_ms, now_ms());
    if (pthread_create(&hb, NULL, heartbeat_main, &w) == 0)
        hb_started = 1;
    for (; started < w.executors; started++) {
        xs[started].w = &w;
        xs[started].slot = started;
        if (pthread_create(&xs[started].thread, NULL, executor_main,
                           &xs[started]) != 0)
            break;
    }
    if (!started) {
        fprintf(stderr, "tincan worker: cannot start its threads\n");
        rc = REPORT_EXIT_INTERNAL_ERROR;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(xs[i].thread, NULL);
stop:
    atomic_store(&w.stop, 1);
    if (hb_started) { /* the executors are done: nothing is in flight */
        char c = 0;
        atomic_store(&w.hb_stop, 1);
        if (write(w.hb_pipe[1], &c, 1) < 0) {
            /* the heartbeat sees the flag at its next beat */
        }
        pthread_join(hb, NULL);
    }
    if (sig_started) {
        pthread_kill(sigt, SIGUSR1);
        pthread_join(sigt, NULL);
    }
    if (!rc)
        fprintf(stderr, "tincan worker: %s stopped after %" PRIu64 " jobs\n",
                w.name, (uint64_t)atomic_load(&w.done));
out:
    free(xs);
    free(w.inflight);
    jobspec_policy_free(&w.policy);
    if (sw.sfd >= 0)
        close(sw.sfd);
    for (int i = 0; i < 2; i++) {
        if (w.stop_pipe[i] >= 0)
            close(w.stop_pipe[i]);
        if (w.hb_pipe[i] >= 0)
            close(w.hb_pipe[i]);
    }
    pthread_mutex_destroy(&w.mu);
    return rc;
}
