/*
 * fuzz_buckets.h - the crashes `tincan fuzz` found, grouped as ClusterFuzz
 * groups crash states: by status plus the place (the vector and rip of a
 * fault, the port of a stray I/O access, the page of an MMIO access, the
 * syscall of a sandbox violation), one bucket per group, each keeping the
 * smallest input that ends in it. Which statuses count as crashes
 * (--crash-on), and which of them are hangs rather than crashes.
 */
#ifndef RUNNER_FUZZ_BUCKETS_H
#define RUNNER_FUZZ_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include "../sandbox/sandbox.h"

/* Where a job ended, as far as a bucket cares. The fields come from the
 * job's child (through the parent's result): names are never trusted. */
struct fuzz_site {
    enum sbx_status status;
    unsigned vector;                /* fault */
    char vector_name[SBX_NAME_MAX]; /* fault: "#PF" */
    uint64_t rip;                   /* fault */
    unsigned port;                  /* unhandled_io */
    uint64_t address;               /* mmio */
    int syscall;                    /* sandbox_violation */
};

#define FUZZ_BUCKET_NAME_MAX 64
/* A page of guest-physical addresses, for MMIO buckets. */
#define FUZZ_PAGE_MASK (~(uint64_t)0xfff)

/*
 * The bucket's name, safe as a file name (lower-case letters, digits, '_',
 * '-' and "0x"): "fault-pf-0x1002a", "mmio-0x1000000",
 * "unhandled_io-0x99", "sandbox_violation-59", "shutdown", "timeout".
 */
void fuzz_bucket_name(const struct fuzz_site *s, char *name, size_t len);

/* A set of statuses: bit (1u << status). */
#define FUZZ_STATUS_BIT(st) (1u << (st))
/* --crash-on's default: fault, shutdown, mmio, unhandled_io. */
#define FUZZ_CRASH_ON_DEFAULT                                                  \
    (FUZZ_STATUS_BIT(SBX_FAULT) | FUZZ_STATUS_BIT(SBX_SHUTDOWN) |              \
     FUZZ_STATUS_BIT(SBX_MMIO) | FUZZ_STATUS_BIT(SBX_UNHANDLED_IO))

/*
 * A comma-separated list of status names (any but "ok") as a set. Returns
 * 0, or -EINVAL with the bad name and the choices in err.
 */
int fuzz_crash_on_parse(const char *list, unsigned *set, char *err,
                        size_t errlen);

/* timeout, insn_limit and output_limit: a hang (the guest never ended or
 * never stopped writing), kept apart from the crashes when asked for. */
int fuzz_status_is_hang(enum sbx_status st);

struct fuzz_bucket {
    char name[FUZZ_BUCKET_NAME_MAX];
    enum sbx_status status;
    uint8_t *data; /* the smallest input found (and minimized) so far */
    size_t len;
    size_t found_len;  /* the input that first ended here, before shrinking */
    uint64_t found_at; /* the execution (1-based) that found it */
    uint64_t found_us; /* microseconds into the run */
    uint64_t hits;     /* executions that ended here */
};

/* Buckets kept at most; crashes in any further place are only counted. */
#define FUZZ_MAX_BUCKETS 256

struct fuzz_buckets {
    struct fuzz_bucket *b; /* in the order found */
    size_t n, cap;
    uint64_t dropped; /* crashes in new places past FUZZ_MAX_BUCKETS */
};

void fuzz_buckets_init(struct fuzz_buckets *t);
void fuzz_buckets_free(struct fuzz_buckets *t);
struct fuzz_bucket *fuzz_buckets_find(struct fuzz_buckets *t, const char *name);

/* What fuzz_buckets_add did. */
enum fuzz_bucket_event {
    FUZZ_BUCKET_HIT = 0, /* an old bucket, no smaller input */
    FUZZ_BUCKET_NEW,     /* a new bucket, holding this input */
    FUZZ_BUCKET_SMALLER, /* an old bucket whose input this one undercuts */
    FUZZ_BUCKET_FULL,    /* a new place, but FUZZ_MAX_BUCKETS are kept */
};

/*
 * Count a crash named name with input data: a new bucket keeps a copy of
 * the input. *b is the bucket (NULL when full). Returns the event, or
 * -ENOMEM.
 */
int fuzz_buckets_add(struct fuzz_buckets *t, const char *name,
                     enum sbx_status st, const uint8_t *data, size_t len,
                     uint64_t exec, uint64_t us, struct fuzz_bucket **b);

/* Make data (len bytes) the bucket's input. Returns 0 or -ENOMEM. */
int fuzz_bucket_keep(struct fuzz_bucket *b, const uint8_t *data, size_t len);

#endif
