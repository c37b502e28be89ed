/*
 * http_jobs.c - the job resources (see http_jobs.h). Every job description
 * goes through jobspec_parse() (the batch line parser) and the caller's caps
 * before it is queued; a request waiting for a job is suspended and resumed
 * by the job's done callback on a worker thread. Async jobs live in a store
 * bounded in count, bytes and age, swept by a housekeeping thread that also
 * ends long-polls at their deadlines.
 */
#include "http_jobs.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runner/units.h"

#define PAGE_SIZE        4096u
#define ID_LEN           32
#define STORE_BUCKETS    4096u
#define BATCH_MAX_JOBS   10000
#define BATCH_PER_WORKER 2          /* jobs of one batch in flight */
#define STREAM_MAX       (4u << 20) /* result bytes held for a slow reader */
#define RETRY_AFTER_S    "1"
#define SWEEP_MS         1000
#define US_PER_MS        1000ULL
#define NS_PER_US        1000L
#define US_PER_S         1000000ULL
#define NS_PER_S         1000000000L
#define LINE_KEY_MAX     32

static const char *const run_extra[] = {"id", NULL};
static const char *const job_extra[] = {NULL};

/* --- what every job request shares ------------------------------------- */

/* A field above the caller's cap: 403. A field left out whose default is
 * above the cap gets the cap. 0, or a reply was made. */
static int cap_one(struct http_req *r, const json_t *desc, const char *field,
                   uint64_t *val, uint64_t cap, uint64_t align,
                   const char *cap_name, const char *unit)
{
    const struct tokens_caller *c = http_caller(r);

    if (!cap)
        return 0;
    if (!json_object_get(desc, field)) {
        if (*val > cap)
            *val = cap / align * align;
        return 0;
    }
    if (*val <= cap)
        return 0;
    metrics_reject(METRICS_OVER_CAP);
    http_reply_error(r, MHD_HTTP_FORBIDDEN, field,
                     "\"%s\" %llu%s is above token %s's cap of %llu%s (%s); "
                     "ask for less",
                     field, (unsigned long long)*val, unit, c->name,
                     (unsigned long long)cap, unit, cap_name);
    return -EPERM;
}

static int apply_caps(struct http_req *r, const json_t *desc,
                      struct jobspec *js)
{
    const struct tokens_caller *c = http_caller(r);

    if (!c)
        return 0;
    if (cap_one(r, desc, "timeout_ms", &js->job.timeout_ms,
                c->lim.max_timeout_ms, 1, "max_timeout", " ms") ||
        cap_one(r, desc, "mem", &js->job.mem_size, c->lim.max_mem, PAGE_SIZE,
                "max_mem", " bytes") ||
        cap_one(r, desc, "max_output", &js->job.max_output, c->lim.max_output,
                1, "max_output", " bytes"))
        return -EPERM;
    return 0;
}

/* The body as one JSON object: NULL, and a 400 made, when it is not. */
static json_t *body_object(struct http_req *r)
{
    json_error_t jerr;
    size_t len;
    const char *body = http_body(r, &len);
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (!o) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, NULL,
                         "bad JSON at line %d, column %d: %s", jerr.line,
                         jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, NULL,
                         "the body must be one job, a JSON object");
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Parse desc into j (caps applied): 0, or a reply was made. */
static int parse_job(struct http_req *r, json_t *desc, const char *const *extra,
                     struct jobq_job *j)
{
    char err[HTTP_ERROR_MAX];

    if (jobspec_parse(desc, extra, &j->js, err, sizeof(err))) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, j->js.err_field, "%s", err);
        return -EINVAL;
    }
    return apply_caps(r, desc, &j->js);
}

static void refuse_shutdown(struct http_req *r)
{
    metrics_reject(METRICS_DRAINING);
    http_add_header(r, "Retry-After", RETRY_AFTER_S);
    http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "%s",
                     "the server is shutting down; send the job to another "
                     "server or try again later");
}

static int refuse_draining(struct http_req *r)
{
    if (!http_draining(r))
        return 0;
    refuse_shutdown(r);
    return -ESHUTDOWN;
}

static void reply_queue_full(struct http_req *r)
{
    metrics_reject(METRICS_QUEUE_FULL);
    http_add_header(r, "Retry-After", RETRY_AFTER_S);
    http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                     "the queue is full (%u jobs wait); try again shortly",
                     http_config_of(r)->queue_max);
}

/* What a queue's refusal of a job (jobq.h: submit) tells its sender. */
static const char *submit_error(int rc)
{
    switch (rc) {
    case -EAGAIN:
        return "the server's queue is full; send this job again";
    case -ESHUTDOWN:
        return "the server is shutting down; send this job again elsewhere";
    default:
        return "the server is out of memory; send this job again";
    }
}

/* The reply to a request whose job the queue refused with rc. */
static void reply_submit_error(struct http_req *r, int rc)
{
    switch (rc) {
    case -EAGAIN:
        reply_queue_full(r);
        return;
    case -ESHUTDOWN:
        refuse_shutdown(r);
        return;
    default:
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "the server is out of memory; try again later");
        return;
    }
}

static int queue_full(struct http_req *r)
{
    unsigned queued, running;

    http_queue(r)->counts(http_queue(r), &queued, &running);
    if (queued < http_config_of(r)->queue_max)
        return 0;
    reply_queue_full(r);
    return 1;
}

/* One more job in flight for the caller: 0, or a 429 was made. */
static int enter(struct http_req *r)
{
    const struct tokens_caller *c = http_caller(r);

    if (!c || tokens_enter(c) == 0)
        return 0;
    metrics_reject(METRICS_CONCURRENCY);
    http_add_header(r, "Retry-After", RETRY_AFTER_S);
    http_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, NULL,
                     "token %s has %u jobs in flight, its max_concurrent; "
                     "wait for one to end",
                     c->name, c->lim.max_concurrent);
    return -EAGAIN;
}

/* The reply for a job that could not run: 400 naming the field, or 500. */
static void reply_no_result(struct http_req *r, const struct jobrun_out *o)
{
    if (o->error == JOBRUN_BAD_JOB)
        metrics_reject(METRICS_BAD_REQUEST);
    http_reply_error(r,
                     o->error == JOBRUN_BAD_JOB ? MHD_HTTP_BAD_REQUEST
                     : o->error == JOBRUN_CANCELED
                         ? MHD_HTTP_SERVICE_UNAVAILABLE
                         : MHD_HTTP_INTERNAL_SERVER_ERROR,
                     o->field, "%s", o->message);
}

/* {"id": id, ...o} (o taken). */
static json_t *with_id(json_t *id, json_t *o)
{
    json_t *line = json_object();

    if (!line || json_object_set(line, "id", id) ||
        json_object_update(line, o)) {
        json_decref(line);
        line = NULL;
    }
    json_decref(o);
    return line;
}

static void count_job(const struct jobrun_out *o)
{
    if (o->error == JOBRUN_RAN)
        metrics_job(o->status, o->backend, o->wall_us);
}

/* --- POST /v1/run -------------------------------------------------------- */

struct run_ctx {
    struct http_req *r;
    struct tokens_caller caller;
    int has_caller;
    json_t *id;
    struct jobq_job j;
};

static void run_done(struct jobq_job *j)
{
    struct run_ctx *x = j->arg;
    struct http_req *r = x->r;

    if (x->has_caller)
        tokens_leave(&x->caller);
    count_job(&j->out);
    if (j->out.error == JOBRUN_RAN) {
        http_note_job(r, tc_status_name(j->out.status), j->out.wall_us);
        http_reply_json(r, MHD_HTTP_OK, with_id(x->id, j->out.result));
        j->out.result = NULL;
    } else {
        reply_no_result(r, &j->out);
    }
    json_decref(x->id);
    jobq_job_release(j);
    free(x);
    http_resume(r);
}

/* A zeroed request state, or NULL after dropping desc and answering 500. */
static void *calloc_or_500(struct http_req *r, json_t *desc, size_t size)
{
    void *p = calloc(1, size);

    if (!p) {
        json_decref(desc);
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "out of memory; try again");
    }
    return p;
}

void http_jobs_run(struct http_req *r)
{
    struct run_ctx *x;
    json_t *desc, *id;
    char gen[ID_LEN + 1];
    int rc;

    if (refuse_draining(r) || !(desc = body_object(r)))
        return;
    if (!(x = calloc_or_500(r, desc, sizeof(*x))))
        return;
    jobq_job_init(&x->j);
    x->j.desc = desc;
    id = json_object_get(desc, "id");
    if (id && !json_is_string(id) && !json_is_integer(id)) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, "id",
                         "\"id\" must be a string or an integer, not %s",
                         jobspec_type_name(id));
        goto fail;
    }
    if (parse_job(r, desc, run_extra, &x->j) || queue_full(r) ||
        http_take_rate(r) || enter(r))
        goto fail;
    if (!id) {
        http_new_id(gen);
        x->id = json_string(gen);
    } else {
        x->id = json_incref(id);
    }
    x->r = r;
    if (http_caller(r)) {
        x->caller = *http_caller(r);
        x->has_caller = 1;
    }
    x->j.done = run_done;
    x->j.arg = x;
    http_suspend(r);
    rc = http_queue(r)->submit(http_queue(r), &x->j);
    if (rc == 0)
        return; /* run_done replies and resumes */
    if (x->has_caller)
        tokens_leave(&x->caller);
    reply_submit_error(r, rc);
    json_decref(x->id);
    jobq_job_release(&x->j);
    free(x);
    http_resume(r);
    return;
fail:
    jobq_job_release(&x->j);
    free(x);
}

/* --- async jobs: the store ----------------------------------------------- */

enum astate { ST_QUEUED, ST_RUNNING, ST_DONE, ST_CANCELED };
static const char *const state_names[] = {"queued", "running", "done",
                                          "canceled"};

/* A long-poll (?wait=) on a job: on its job's list and on the list of all
 * of them, which the sweeper walks for the ones whose time is up. */
struct waiter {
    struct http_req *r;
    uint64_t deadline_us;
    struct ajob *a;
    struct waiter *next;          /* its job's waiters */
    struct waiter *gprev, *gnext; /* every waiter */
};

struct ajob {
    char id[ID_LEN + 1];
    char owner[TOKENS_NAME_MAX]; /* "" without tokens */
    struct tokens_caller caller;
    int has_caller;
    enum astate state;
    int live;    /* qj is in the queue (queued or running) */
    int pins;    /* a DELETE is canceling it outside st.mu */
    int orphan;  /* dropped from the store while pinned: free at unpin */
    char *final; /* done or canceled: the answer, a JSON object's line */
    size_t final_len;
    int ended; /* finalized: on the ended list (a canceled one may still run) */
    uint64_t ended_us;
    struct waiter *waiters;
    struct jobq_job qj;
    struct ajob *hnext;         /* hash chain */
    struct ajob *dprev, *dnext; /* ended jobs, oldest first */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t sweeper;
    int started, stop, draining;
    uint64_t keep_us;
    struct ajob *buckets[STORE_BUCKETS];
    struct ajob *dhead, *dtail;
    size_t ended, ended_bytes;
    struct waiter *waiters; /* every long-poll */
} st = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % STORE_BUCKETS;
}

/* The job id of owner (under st.mu): NULL when none (or another's). */
static struct ajob *find(const char *id, const char *owner)
{
    struct ajob *a;

    if (strlen(id) != ID_LEN)
        return NULL;
    for (a = st.buckets[bucket_of(id)]; a; a = a->hnext)
        if (!strcmp(a->id, id))
            return strcmp(a->owner, owner) ? NULL : a;
    return NULL;
}

static void unlink_job(struct ajob *a)
{
    struct ajob **pp = &st.buckets[bucket_of(a->id)];

    while (*pp && *pp != a)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = a->hnext;
    if (a->ended) {
        if (a->dprev)
            a->dprev->dnext = a->dnext;
        else
            st.dhead = a->dnext;
        if (a->dnext)
            a->dnext->dprev = a->dprev;
        else
            st.dtail = a->dprev;
        st.ended--;
        st.ended_bytes -= a->final_len;
    }
}

static void free_job(struct ajob *a)
{
    free(a->final);
    free(a);
}

/* Out of the store, and freed unless a DELETE still holds it. */
static void drop_job(struct ajob *a)
{
    unlink_job(a);
    if (a->pins)
        a->orphan = 1;
    else
        free_job(a);
}

/* {"id", "state"} of a job that has not ended. */
static json_t *state_object(const struct ajob *a)
{
    return json_pack("{s:s,s:s}", "id", a->id, "state", state_names[a->state]);
}

static char *dump(json_t *o, size_t *len)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

    json_decref(o);
    *len = s ? strlen(s) : 0;
    return s;
}

static char *copy_text(const char *s, size_t len)
{
    char *c = s ? malloc(len + 1) : NULL;

    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* o's text as one line (with its "\n"): NULL when out of memory. */
static char *dump_line(json_t *o, size_t *len)
{
    char *s = dump(o, len), *line = s ? realloc(s, *len + 2) : NULL;

    if (!line) {
        free(s);
        *len = 0;
        return NULL;
    }
    line[(*len)++] = '\n';
    line[*len] = '\0';
    return line;
}

/* The answer of an ended job (under st.mu, once). */
static void finalize(struct ajob *a)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(a->id));
    json_object_set_new(o, "state", json_string(state_names[a->state]));
    if (a->state == ST_DONE && a->qj.out.error == JOBRUN_RAN) {
        json_object_set(o, "result", a->qj.out.result);
    } else if (a->state == ST_DONE) {
        json_t *m = json_string(a->qj.out.message);
        json_object_set_new(o, "error", m ? m : json_string("(not UTF-8)"));
        if (a->qj.out.field[0])
            json_object_set_new(o, "field", json_string(a->qj.out.field));
    }
    a->final = dump_line(o, &a->final_len);
    a->ended = 1;
    a->ended_us = http_now_us();
    a->dprev = st.dtail;
    a->dnext = NULL;
    if (st.dtail)
        st.dtail->dnext = a;
    else
        st.dhead = a;
    st.dtail = a;
    st.ended++;
    st.ended_bytes += a->final_len;
}

/* w waits on a (under st.mu). */
static void waiter_add(struct ajob *a, struct waiter *w)
{
    w->a = a;
    w->next = a->waiters;
    a->waiters = w;
    w->gprev = NULL;
    w->gnext = st.waiters;
    if (st.waiters)
        st.waiters->gprev = w;
    st.waiters = w;
}

/* w off the list of every waiter (under st.mu). */
static void waiter_unlist(struct waiter *w)
{
    if (w->gprev)
        w->gprev->gnext = w->gnext;
    else
        st.waiters = w->gnext;
    if (w->gnext)
        w->gnext->gprev = w->gprev;
}

/* w off its job's list and the list of every waiter (under st.mu). */
static void waiter_remove(struct waiter *w)
{
    struct waiter **pp = &w->a->waiters;

    while (*pp != w)
        pp = &(*pp)->next;
    *pp = w->next;
    w->next = NULL;
    waiter_unlist(w);
}

/* Drop the oldest ended jobs while more than the count or byte bounds are
 * kept, or (with now) past --keep (under st.mu). */
static void trim_ended(uint64_t now)
{
    while (st.dhead && (st.ended > HTTP_KEEP_MAX_COUNT ||
                        st.ended_bytes > HTTP_KEEP_MAX_BYTES ||
                        (now && now - st.dhead->ended_us >= st.keep_us)))
        drop_job(st.dhead);
}

/* Reply to a long-poll with the final line text (a copy); resume it. */
static void answer_waiter(struct waiter *w, const char *text, size_t len)
{
    char *copy = copy_text(text, len);

    if (copy) {
        http_reply_raw(w->r, MHD_HTTP_OK, "application/json", copy, len);
    } else {
        http_reply_error(w->r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "out of memory; ask again");
    }
    http_resume(w->r);
    free(w);
}

/* Waiters of a (detached) list answered with text, outside st.mu. */
static void answer_all(struct waiter *w, char *text, size_t len)
{
    while (w) {
        struct waiter *next = w->next;
        answer_waiter(w, text, len);
        w = next;
    }
    free(text);
}

static void async_started(struct jobq_job *j)
{
    struct ajob *a = j->arg;

    pthread_mutex_lock(&st.mu);
    if (a->state == ST_QUEUED)
        a->state = ST_RUNNING;
    pthread_mutex_unlock(&st.mu);
}

static void async_done(struct jobq_job *j)
{
    struct ajob *a = j->arg;
    struct waiter *w;
    char *text;
    size_t len;

    count_job(&j->out);
    if (a->has_caller)
        tokens_leave(&a->caller);
    pthread_mutex_lock(&st.mu);
    if (a->state != ST_CANCELED)
        a->state = ST_DONE;
    a->live = 0;
    finalize(a);
    jobq_job_release(&a->qj);
    w = a->waiters;
    a->waiters = NULL;
    for (struct waiter *x = w; x; x = x->next)
        waiter_unlist(x);
    len = a->final_len;
    text = copy_text(a->final, len);
    trim_ended(0); /* its bounds; --keep is the sweeper's */
    pthread_mutex_unlock(&st.mu);
    answer_all(w, text, len);
}

/* Drop ended jobs past --keep or the bounds, and answer the long-polls
 * whose time is up (all of them when stopping or draining) with their job's
 * state (under st.mu). Returns the soonest deadline of those left, or
 * now + SWEEP_MS. */
static uint64_t sweep(uint64_t now)
{
    uint64_t next = now + SWEEP_MS * US_PER_MS;

    trim_ended(now);
    for (struct waiter *w = st.waiters, *gnext; w; w = gnext) {
        gnext = w->gnext;
        if (now < w->deadline_us && !st.stop && !st.draining) {
            if (w->deadline_us < next)
                next = w->deadline_us;
            continue;
        }
        waiter_remove(w);
        /* Answered with the job's state: the caller asks again. */
        size_t len;
        char *text = dump_line(state_object(w->a), &len);
        answer_waiter(w, text, len);
        free(text);
    }
    return next;
}

static void *sweeper(void *arg)
{
    uint64_t next = http_now_us();

    (void)arg;
    pthread_mutex_lock(&st.mu);
    while (!st.stop) {
        uint64_t now = http_now_us(), wait_us = next > now ? next - now : 0;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(wait_us % US_PER_S) * NS_PER_US;
        until.tv_sec += (time_t)(wait_us / US_PER_S) + until.tv_nsec / NS_PER_S;
        until.tv_nsec %= NS_PER_S;
        if (wait_us)
            pthread_cond_timedwait(&st.cv, &st.mu, &until);
        next = sweep(http_now_us());
    }
    pthread_mutex_unlock(&st.mu);
    return NULL;
}

int http_jobs_init(const struct http_config *cfg, char *err, size_t errlen)
{
    int rc;

    st.keep_us = cfg->keep_ms * US_PER_MS;
    st.stop = 0;
    rc = pthread_create(&st.sweeper, NULL, sweeper, NULL);
    if (rc) {
        snprintf(err, errlen, "starting the job store's thread: %s",
                 strerror(rc));
        return -rc;
    }
    st.started = 1;
    return 0;
}

void http_jobs_drain(void)
{
    pthread_mutex_lock(&st.mu);
    st.draining = 1;
    pthread_cond_broadcast(&st.cv); /* the sweeper answers them */
    pthread_mutex_unlock(&st.mu);
}

void http_jobs_stop(void)
{
    pthread_mutex_lock(&st.mu);
    st.stop = 1;
    sweep(http_now_us()); /* answers every waiter */
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
    if (st.started)
        pthread_join(st.sweeper, NULL);
    st.started = 0;
}

void http_jobs_fini(void)
{
    pthread_mutex_lock(&st.mu);
    for (unsigned b = 0; b < STORE_BUCKETS; b++)
        while (st.buckets[b]) {
            struct ajob *a = st.buckets[b];
            unlink_job(a);
            if (!a->live && !a->pins)
                free_job(a); /* a live one belongs to its worker */
        }
    pthread_mutex_unlock(&st.mu);
}

/* --- POST /v1/jobs, GET and DELETE /v1/jobs/ID ---------------------------- */

static const char *owner_of(struct http_req *r)
{
    return http_caller(r) ? http_caller(r)->name : "";
}

void http_jobs_submit(struct http_req *r)
{
    struct ajob *a;
    json_t *desc;
    char loc[64], id[ID_LEN + 1];
    int rc;

    if (refuse_draining(r) || !(desc = body_object(r)))
        return;
    if (!(a = calloc_or_500(r, desc, sizeof(*a))))
        return;
    jobq_job_init(&a->qj);
    a->qj.desc = desc;
    if (json_object_get(desc, "id")) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, "id", "%s",
                         "the server names async jobs: leave out \"id\" and "
                         "use the one in the reply");
        goto fail;
    }
    if (parse_job(r, desc, job_extra, &a->qj) || queue_full(r) ||
        http_take_rate(r) || enter(r))
        goto fail;
    http_new_id(a->id);
    snprintf(a->owner, sizeof(a->owner), "%s", owner_of(r));
    if (http_caller(r)) {
        a->caller = *http_caller(r);
        a->has_caller = 1;
    }
    a->qj.done = async_done;
    a->qj.started = async_started;
    a->qj.arg = a;
    a->state = ST_QUEUED;
    a->live = 1;
    pthread_mutex_lock(&st.mu);
    unsigned b = bucket_of(a->id);
    a->hnext = st.buckets[b];
    st.buckets[b] = a;
    rc = http_queue(r)->submit(http_queue(r), &a->qj);
    if (rc) {
        a->live = 0;
        unlink_job(a);
    }
    /* Once st.mu is let go, a may end and be dropped at any time. */
    snprintf(id, sizeof(id), "%s", a->id);
    pthread_mutex_unlock(&st.mu);
    if (rc) {
        if (a->has_caller)
            tokens_leave(&a->caller);
        reply_submit_error(r, rc);
        goto fail;
    }
    snprintf(loc, sizeof(loc), "/v1/jobs/%s", id);
    http_add_header(r, MHD_HTTP_HEADER_LOCATION, loc);
    http_reply_json(r, MHD_HTTP_ACCEPTED,
                    json_pack("{s:s,s:s}", "id", id, "state", "queued"));
    return;
fail:
    jobq_job_release(&a->qj);
    free(a);
}

static const char *id_of(struct http_req *r)
{
    return http_path(r) + strlen("/v1/jobs/");
}

static void reply_not_found(struct http_req *r)
{
    metrics_reject(METRICS_BAD_REQUEST);
    http_reply_error(r, MHD_HTTP_NOT_FOUND, NULL,
                     "no job %.64s: it never was, it was deleted, or its "
                     "result was dropped after --keep",
                     id_of(r));
}

void http_jobs_get(struct http_req *r)
{
    const char *wait = http_query(r, "wait");
    uint64_t wait_ms = 0;
    char why[256];
    struct ajob *a;

    if (wait && units_parse_duration(wait, &wait_ms, why, sizeof(why))) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, "wait", "wait: %s", why);
        return;
    }
    if (wait_ms > HTTP_MAX_WAIT_MS)
        wait_ms = HTTP_MAX_WAIT_MS;
    pthread_mutex_lock(&st.mu);
    a = find(id_of(r), owner_of(r));
    if (!a) {
        pthread_mutex_unlock(&st.mu);
        reply_not_found(r);
        return;
    }
    if (a->final) {
        char *text = copy_text(a->final, a->final_len);
        size_t len = a->final_len;
        pthread_mutex_unlock(&st.mu);
        if (text) {
            http_reply_raw(r, MHD_HTTP_OK, "application/json", text, len);
            return;
        }
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "out of memory; ask again");
        return;
    }
    if (wait_ms && !st.stop && !st.draining) {
        struct waiter *w = calloc(1, sizeof(*w));
        if (w) {
            w->r = r;
            w->deadline_us = http_now_us() + wait_ms * US_PER_MS;
            waiter_add(a, w);
            http_suspend(r); /* under st.mu: no one answers it before */
            pthread_cond_broadcast(&st.cv); /* perhaps the soonest */
            pthread_mutex_unlock(&st.mu);
            return;
        }
    }
    json_t *o = state_object(a);
    pthread_mutex_unlock(&st.mu);
    http_reply_json(r, MHD_HTTP_OK, o);
}

void http_jobs_delete(struct http_req *r)
{
    struct ajob *a;
    struct jobq *q = http_queue(r);

    pthread_mutex_lock(&st.mu);
    a = find(id_of(r), owner_of(r));
    if (!a) {
        pthread_mutex_unlock(&st.mu);
        reply_not_found(r);
        return;
    }
    if (a->final) {
        /* Ended: deleting drops its result; the reply is the last look,
         * its line handed over. */
        char *text = a->final;
        size_t len = a->final_len;
        a->final = NULL;
        drop_job(a); /* freed, or an orphan a DELETE still pins */
        pthread_mutex_unlock(&st.mu);
        http_reply_raw(r, MHD_HTTP_OK, "application/json", text, len);
        return;
    }
    a->state = ST_CANCELED; /* whatever its run still does */
    a->pins++;
    pthread_mutex_unlock(&st.mu);
    /* Outside st.mu: a queued job's done runs inside cancel; the pin keeps
     * a from being freed meanwhile. */
    q->cancel(q, &a->qj);
    pthread_mutex_lock(&st.mu);
    if (--a->pins == 0 && a->orphan)
        free_job(a);
    pthread_mutex_unlock(&st.mu);
    http_reply_json(
        r, MHD_HTTP_OK,
        json_pack("{s:s,s:s}", "id", id_of(r), "state", "canceled"));
}

/* --- POST /v1/batch ------------------------------------------------------ */

struct bitem {
    struct bstream *bs;
    uint64_t line;
    json_t *id;
    char *error; /* a line that is not a job: its error result */
    int live;    /* submitted, not done */
    struct jobq_job j;
};

struct bstream {
    pthread_mutex_t mu;
    struct http_req *r; /* NULL once the request has ended */
    struct jobq *q;
    struct bitem *items;
    size_t n, next;
    unsigned inflight, window;
    char *buf; /* result lines not yet read by the client */
    size_t len, off, cap;
    int suspended, ended, canceling;
    struct tokens_caller caller;
    int has_caller;
};

/* An error line as `tincan batch` writes it. */
static char *error_line(uint64_t line, const json_t *id, const json_t *dup,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static char *error_line(uint64_t line, const json_t *id, const json_t *dup,
                        const char *fmt, ...)
{
    char msg[HTTP_ERROR_MAX], full[HTTP_ERROR_MAX + 32];
    json_t *o = json_object(), *m;
    size_t len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "line %llu: %s", (unsigned long long)line,
             msg);
    if (id)
        json_object_set(o, "id", (json_t *)id);
    json_object_set_new(o, "line", json_integer((json_int_t)line));
    if (dup)
        json_object_set(o, "duplicate_id", (json_t *)dup);
    json_object_set_new(o, "status", json_string("error"));
    m = json_string(full);
    json_object_set_new(o, "message", m ? m : json_string("(not UTF-8)"));
    return dump(o, &len);
}

static void bs_free(struct bstream *bs)
{
    for (size_t i = 0; i < bs->n; i++) {
        json_decref(bs->items[i].id);
        free(bs->items[i].error);
        jobq_job_release(&bs->items[i].j);
    }
    free(bs->items);
    free(bs->buf);
    pthread_mutex_destroy(&bs->mu);
    free(bs);
}

/* Append text and a newline (under bs->mu); text is taken. */
static void bs_put(struct bstream *bs, char *text)
{
    static const char oom[] =
        "{\"status\":\"error\",\"message\":\"out of memory while writing a "
        "result\"}";
    const char *t = text ? text : oom;
    size_t n = strlen(t);

    if (bs->len + n + 1 > bs->cap) {
        size_t ncap = bs->cap ? bs->cap : 4096;
        while (ncap < bs->len + n + 1)
            ncap *= 2;
        char *nb = realloc(bs->buf, ncap);
        if (!nb) {
            free(text);
            return; /* the client gets fewer lines: it sees the gap */
        }
        bs->buf = nb;
        bs->cap = ncap;
    }
    memcpy(bs->buf + bs->len, t, n);
    bs->buf[bs->len + n] = '\n';
    bs->len += n + 1;
    free(text);
}

static void bs_done(struct jobq_job *j);

/* Start jobs while the window and the buffer allow (under bs->mu). */
static void bs_launch(struct bstream *bs)
{
    while (!bs->ended && bs->next < bs->n && bs->inflight < bs->window &&
           bs->len - bs->off < STREAM_MAX) {
        struct bitem *it = &bs->items[bs->next++];
        int rc;

        if (it->error) {
            bs_put(bs, it->error);
            it->error = NULL;
            continue;
        }
        it->j.done = bs_done;
        it->j.arg = it;
        rc = bs->q->submit(bs->q, &it->j);
        if (rc) {
            if (rc == -EAGAIN || rc == -ESHUTDOWN)
                metrics_reject(rc == -EAGAIN ? METRICS_QUEUE_FULL
                                             : METRICS_DRAINING);
            bs_put(bs,
                   error_line(it->line, it->id, NULL, "%s", submit_error(rc)));
            continue;
        }
        it->live = 1;
        bs->inflight++;
    }
}

static int bs_finished(const struct bstream *bs)
{
    return bs->next == bs->n && bs->inflight == 0;
}

static void bs_done(struct jobq_job *j)
{
    struct bitem *it = j->arg;
    struct bstream *bs = it->bs;
    int last;

    count_job(&j->out);
    pthread_mutex_lock(&bs->mu);
    if (!bs->ended) {
        if (j->out.error == JOBRUN_RAN) {
            size_t len;
            bs_put(bs, dump(with_id(it->id, j->out.result), &len));
            j->out.result = NULL;
        } else {
            bs_put(bs,
                   error_line(it->line, it->id, NULL, "%s", j->out.message));
        }
    }
    jobq_job_release(j);
    it->live = 0;
    bs->inflight--;
    bs_launch(bs);
    if (bs->suspended && bs->r) {
        bs->suspended = 0;
        http_resume(bs->r);
    }
    last = bs->ended && bs->inflight == 0 && !bs->canceling;
    pthread_mutex_unlock(&bs->mu);
    if (last)
        bs_free(bs);
}

static ssize_t bs_read(void *cls, char *buf, size_t max)
{
    struct bstream *bs = cls;
    ssize_t n = 0;

    pthread_mutex_lock(&bs->mu);
    if (bs->off < bs->len) {
        size_t k = bs->len - bs->off < max ? bs->len - bs->off : max;
        memcpy(buf, bs->buf + bs->off, k);
        bs->off += k;
        if (bs->off == bs->len)
            bs->off = bs->len = 0;
        n = (ssize_t)k;
        bs_launch(bs); /* room in the buffer again */
    } else if (bs_finished(bs)) {
        n = -1;
    } else {
        bs->suspended = 1;
        http_suspend(bs->r);
    }
    pthread_mutex_unlock(&bs->mu);
    return n;
}

/* The request ended (the stream was read to its end, or the client left):
 * cancel what still runs; the last job's done frees the stream. */
static void bs_end(void *cls)
{
    struct bstream *bs = cls;
    struct bitem **live = NULL;
    size_t nlive = 0;
    int last;

    pthread_mutex_lock(&bs->mu);
    bs->ended = 1;
    bs->r = NULL;
    if (bs->has_caller)
        tokens_leave(&bs->caller);
    /* No done frees bs while we are here, even when there is no memory
     * to cancel with (then its jobs run to their ends). */
    bs->canceling = 1;
    if (bs->inflight && (live = calloc(bs->inflight, sizeof(*live))))
        for (size_t i = 0; i < bs->next; i++)
            if (bs->items[i].live && nlive < bs->inflight)
                live[nlive++] = &bs->items[i];
    pthread_mutex_unlock(&bs->mu);
    /* Jobs of a client that left: stop them. A queued one's done runs
     * inside cancel; one that ended meanwhile is -ENOENT. */
    for (size_t i = 0; i < nlive; i++)
        bs->q->cancel(bs->q, &live[i]->j);
    free(live);
    pthread_mutex_lock(&bs->mu);
    bs->canceling = 0;
    last = bs->inflight == 0;
    pthread_mutex_unlock(&bs->mu);
    if (last)
        bs_free(bs);
}

static const struct http_stream_ops bs_ops = {.read = bs_read, .done = bs_end};

/* One line of the body into it: a job, or an error line. 0, or -ENOMEM. */
static int batch_line(struct http_req *r, struct bstream *bs, json_t *seen,
                      const char *text, size_t len, uint64_t line,
                      struct bitem *it)
{
    static const char *const extra[] = {"id", NULL};
    char err[HTTP_ERROR_MAX], *key;
    json_t *o, *id;

    it->bs = bs;
    it->line = line;
    jobq_job_init(&it->j);
    if (jobspec_line_parse(text, len, &o, &id, err, sizeof(err))) {
        it->error = error_line(line, NULL, NULL, "%s", err);
    } else if (!(key = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY |
                                          JSON_ENSURE_ASCII))) {
        json_decref(o);
        return -ENOMEM;
    } else {
        json_t *first = json_object_get(seen, key);
        if (first) {
            it->error = error_line(line, NULL, id,
                                   "duplicate id %.200s (first on line %lld); "
                                   "give each job its own id",
                                   key, (long long)json_integer_value(first));
        } else {
            json_object_set_new(seen, key, json_integer((json_int_t)line));
            it->id = json_incref(id);
            it->j.desc = json_incref(o); /* what a remote queue ships */
            if (jobspec_parse(o, extra, &it->j.js, err, sizeof(err)))
                it->error = error_line(line, id, NULL, "%s", err);
            else if (apply_caps(r, o, &it->j.js)) {
                /* apply_caps made a 403 reply for the whole request. */
                free(key);
                json_decref(o);
                return -EPERM;
            }
        }
        free(key);
    }
    json_decref(o);
    return 0;
}

void http_jobs_batch(struct http_req *r)
{
    size_t len, lines = 0;
    const char *body = http_body(r, &len), *p, *end = body + len;
    struct bstream *bs;
    json_t *seen;
    uint64_t lineno = 0;
    int rc = 0;

    if (refuse_draining(r))
        return;
    for (p = body; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (!jobspec_line_blank(p, (size_t)(e - p)))
            lines++;
        p = nl ? nl + 1 : end;
    }
    if (lines == 0 || lines > BATCH_MAX_JOBS) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, NULL,
                         "the batch has %zu jobs; send 1 to %d, one JSON "
                         "object a line",
                         lines, BATCH_MAX_JOBS);
        return;
    }
    bs = calloc(1, sizeof(*bs));
    seen = json_object();
    if (!bs || !seen || !(bs->items = calloc(lines, sizeof(*bs->items)))) {
        free(bs);
        json_decref(seen);
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "out of memory; send a smaller batch");
        return;
    }
    pthread_mutex_init(&bs->mu, NULL);
    for (p = body; p < end && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        lineno++;
        if (!jobspec_line_blank(p, (size_t)(e - p)))
            rc = batch_line(r, bs, seen, p, (size_t)(e - p), lineno,
                            &bs->items[bs->n++]);
        p = nl ? nl + 1 : end;
    }
    json_decref(seen);
    if (rc == -ENOMEM)
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "out of memory; send a smaller batch");
    if (rc || queue_full(r) || http_take_rate(r) || enter(r)) {
        bs_free(bs);
        return;
    }
    bs->q = http_queue(r);
    bs->r = r;
    bs->window = http_config_of(r)->workers * BATCH_PER_WORKER;
    if (http_caller(r)) {
        bs->caller = *http_caller(r);
        bs->has_caller = 1;
        if (bs->caller.lim.max_concurrent &&
            bs->caller.lim.max_concurrent < bs->window)
            bs->window = bs->caller.lim.max_concurrent;
    }
    pthread_mutex_lock(&bs->mu);
    bs_launch(bs);
    pthread_mutex_unlock(&bs->mu);
    http_reply_stream(r, MHD_HTTP_OK, "application/x-ndjson", &bs_ops, bs);
}
