/*
 * tokens.h - `tincan serve --tokens FILE`: who may call the service, and
 * each caller's limits. The file holds one token a line,
 *     NAME SHA256HEX [max_concurrent=N] [rate=R/s] [burst=B]
 *          [max_timeout=DURATION] [max_mem=SIZE] [max_output=SIZE]
 * with '#' comments: the SHA-256 of the token, never the token. A token is
 * found by its digest, compared in constant time against every line. Each
 * NAME's rate bucket and jobs in flight outlive a reload of the file.
 */
#ifndef API_TOKENS_H
#define API_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#define TOKENS_NAME_MAX 65 /* 64 characters of [A-Za-z0-9._-] */

/* 0 in any field: no limit. */
struct tokens_limits {
    unsigned max_concurrent; /* jobs queued or running at once */
    double rate, burst;      /* token bucket: jobs per second, bucket size */
    uint64_t max_timeout_ms, max_mem, max_output;
};

/* A NAME's counters, shared by every table that has the NAME. */
struct tokens_state;

/* Who a request is: a copy that stays valid across reloads. */
struct tokens_caller {
    char name[TOKENS_NAME_MAX];
    struct tokens_limits lim;
    struct tokens_state *st;
};

struct tokens_table;

/* Read FILE. 0, or -errno with one line in err ("FILE line 3: ..."). */
int tokens_load(const char *path, struct tokens_table **out, char *err,
                size_t errlen);
void tokens_free(struct tokens_table *t);
size_t tokens_count(const struct tokens_table *t);

/* The caller whose digest is SHA-256(token): 1 and *who, or 0. */
int tokens_find(const struct tokens_table *t, const char *token,
                size_t token_len, struct tokens_caller *who);

/* What the rate bucket says, for the RateLimit-* headers. */
struct tokens_rate {
    unsigned limit;     /* the burst */
    unsigned remaining; /* whole jobs left now */
    unsigned reset_s;   /* seconds until the bucket is full again */
    unsigned retry_s;   /* refused: seconds until one job is allowed */
};

/* Take one job from the caller's bucket (now_us: a monotonic clock): 0, or
 * -EAGAIN with rate->retry_s. Without a rate: 0, rate->limit 0. */
int tokens_take(const struct tokens_caller *who, uint64_t now_us,
                struct tokens_rate *rate);

/* One more job in flight: 0, or -EAGAIN at max_concurrent. */
int tokens_enter(const struct tokens_caller *who);
void tokens_leave(const struct tokens_caller *who);

#endif
