/*
 * metrics.c - the service's counters (atomics) and their Prometheus text
 * exposition, format 0.0.4 (see metrics.h).
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE_MIN   100
#define CODE_MAX   599
#define NCODES     (CODE_MAX - CODE_MIN + 1)
#define NBACKENDS  2 /* kvm, emu */
#define US_PER_S   1e6
#define TEXT_CHUNK 4096

static const char *const reasons[METRICS_REASON_COUNT] = {
    [METRICS_UNAUTHORIZED] = "unauthorized",
    [METRICS_OVER_CAP] = "over_cap",
    [METRICS_RATE] = "rate",
    [METRICS_CONCURRENCY] = "concurrency",
    [METRICS_QUEUE_FULL] = "queue_full",
    [METRICS_DRAINING] = "draining",
    [METRICS_BODIES_FULL] = "bodies_full",
    [METRICS_BODY_TOO_LARGE] = "body_too_large",
    [METRICS_BAD_REQUEST] = "bad_request",
};

static const char *const backends[NBACKENDS] = {"kvm", "emu"};

/* Upper bounds of the duration histogram, in seconds. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                 5,      10,    30,     60,    300,  3600};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static atomic_uint_fast64_t jobs[TC_STATUS_COUNT][NBACKENDS];
static atomic_uint_fast64_t dur_bucket[NBUCKETS + 1]; /* + Inf */
static atomic_uint_fast64_t dur_sum_us, dur_count;
static atomic_uint_fast64_t http[NCODES];
static atomic_uint_fast64_t rejected[METRICS_REASON_COUNT];

void metrics_job(enum tc_status status, const char *backend, uint64_t wall_us)
{
    unsigned b = backend && !strcmp(backend, "emu") ? 1 : 0, i;
    double s = (double)wall_us / US_PER_S;

    if ((unsigned)status >= TC_STATUS_COUNT)
        status = TC_INTERNAL_ERROR;
    atomic_fetch_add_explicit(&jobs[status][b], 1, memory_order_relaxed);
    for (i = 0; i < NBUCKETS && s > buckets[i]; i++)
        ;
    atomic_fetch_add_explicit(&dur_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dur_sum_us, wall_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&dur_count, 1, memory_order_relaxed);
}

void metrics_http(unsigned code)
{
    if (code >= CODE_MIN && code <= CODE_MAX)
        atomic_fetch_add_explicit(&http[code - CODE_MIN], 1,
                                  memory_order_relaxed);
}

uint64_t metrics_http_count(unsigned code)
{
    if (code < CODE_MIN || code > CODE_MAX)
        return 0;
    return atomic_load_explicit(&http[code - CODE_MIN], memory_order_relaxed);
}

void metrics_reject(enum metrics_reason why)
{
    if ((unsigned)why < METRICS_REASON_COUNT)
        atomic_fetch_add_explicit(&rejected[why], 1, memory_order_relaxed);
}

struct text {
    char *buf;
    size_t len, cap;
    int oom;
};

static void __attribute__((format(printf, 2, 3)))
put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap * 2 + TEXT_CHUNK;
        char *nb = realloc(t->buf, ncap);
        if (!nb || n < 0) {
            free(nb ? nb : t->buf);
            t->buf = NULL;
            t->oom = 1;
            return;
        }
        t->buf = nb;
        t->cap = ncap;
    }
}

static uint64_t get(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

char *metrics_text(unsigned in_flight, unsigned queued, size_t *len)
{
    struct text t = {0};
    uint64_t cum = 0;

    t.buf = malloc(TEXT_CHUNK);
    t.cap = TEXT_CHUNK;
    if (!t.buf)
        return NULL;
    t.buf[0] = '\0';
    put(&t, "# HELP tincan_jobs_total Jobs that ran, by status and backend.\n"
            "# TYPE tincan_jobs_total counter\n");
    for (unsigned s = 0; s < TC_STATUS_COUNT; s++)
        for (unsigned b = 0; b < NBACKENDS; b++)
            put(&t, "tincan_jobs_total{status=\"%s\",backend=\"%s\"} %llu\n",
                tc_status_name((enum tc_status)s), backends[b],
                (unsigned long long)get(&jobs[s][b]));
    put(&t, "# HELP tincan_job_duration_seconds Wall time of each job, fork "
            "to reap (all its inputs).\n"
            "# TYPE tincan_job_duration_seconds histogram\n");
    for (unsigned i = 0; i <= NBUCKETS; i++) {
        cum += get(&dur_bucket[i]);
        if (i < NBUCKETS)
            put(&t, "tincan_job_duration_seconds_bucket{le=\"%g\"} %llu\n",
                buckets[i], (unsigned long long)cum);
        else
            put(&t, "tincan_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    }
    put(&t, "tincan_job_duration_seconds_sum %.6f\n",
        (double)get(&dur_sum_us) / US_PER_S);
    put(&t, "tincan_job_duration_seconds_count %llu\n",
        (unsigned long long)get(&dur_count));
    put(&t,
        "# HELP tincan_jobs_in_flight Jobs running now.\n"
        "# TYPE tincan_jobs_in_flight gauge\n"
        "tincan_jobs_in_flight %u\n"
        "# HELP tincan_queue_depth Jobs waiting for a worker.\n"
        "# TYPE tincan_queue_depth gauge\n"
        "tincan_queue_depth %u\n",
        in_flight, queued);
    put(&t, "# HELP tincan_http_requests_total HTTP requests answered, by "
            "status code.\n"
            "# TYPE tincan_http_requests_total counter\n");
    for (unsigned c = 0; c < NCODES; c++)
        if (get(&http[c]))
            put(&t, "tincan_http_requests_total{code=\"%u\"} %llu\n",
                c + CODE_MIN, (unsigned long long)get(&http[c]));
    put(&t, "# HELP tincan_rejected_total Requests turned away, by reason.\n"
            "# TYPE tincan_rejected_total counter\n");
    for (unsigned r = 0; r < METRICS_REASON_COUNT; r++)
        put(&t, "tincan_rejected_total{reason=\"%s\"} %llu\n", reasons[r],
            (unsigned long long)get(&rejected[r]));
    if (t.oom)
        return NULL;
    *len = t.len;
    return t.buf;
}
