/*
 * metrics.h - what `tincan serve` counts, and its Prometheus text exposition
 * (format 0.0.4) for GET /metrics: tincan_jobs_total{status,backend},
 * tincan_job_duration_seconds (histogram), tincan_jobs_in_flight,
 * tincan_queue_depth, tincan_http_requests_total{code},
 * tincan_rejected_total{reason}. Counting is lock-free (atomics).
 */
#ifndef API_METRICS_H
#define API_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tincan.h"

/* Why a request was turned away (tincan_rejected_total's reason label). */
enum metrics_reason {
    METRICS_UNAUTHORIZED = 0, /* 401 */
    METRICS_OVER_CAP,         /* 403: a limit above the token's caps */
    METRICS_RATE,             /* 429: the token's rate */
    METRICS_CONCURRENCY,      /* 429: the token's max_concurrent */
    METRICS_QUEUE_FULL,       /* 503 */
    METRICS_DRAINING,         /* 503 */
    METRICS_BODY_TOO_LARGE,   /* 413 */
    METRICS_BODIES_FULL,      /* 503: the server holds its bodies' budget */
    METRICS_BAD_REQUEST,      /* 400, 404, 405, 415 */
    METRICS_REASON_COUNT
};

void metrics_job(enum tc_status status, const char *backend, uint64_t wall_us);
void metrics_http(unsigned code);
void metrics_reject(enum metrics_reason why);

/* The exposition text (malloc'd, *len bytes) with the two gauges given;
 * NULL when out of memory. */
char *metrics_text(unsigned in_flight, unsigned queued, size_t *len);

/* Counted so far (tests, /v1/info): requests answered with code. */
uint64_t metrics_http_count(unsigned code);

#endif
