/*
 * fuzz_engine.h - the loop of `tincan fuzz`: runs the seeds, then what the
 * scheduler makes, on N threads at once, and learns from every result:
 * inputs with new coverage join the corpus (and its directory), crashes go
 * into buckets, each new bucket's input is minimized. The executions
 * themselves are the caller's (an executor: the CLI runs each input as a
 * tincan job); the engine only sees what a result says.
 *
 * Determinism: inputs are made by one thread from the state left by the
 * results processed so far, and results are processed in the order their
 * inputs were made, whatever order they finish in. With N threads the
 * input numbered k is made once the results before k - W are processed
 * (a window of W = 2N slots; W = 1 for one thread), so a run is a function
 * of the guest, the seed, N and the budget of executions.
 */
#ifndef RUNNER_FUZZ_ENGINE_H
#define RUNNER_FUZZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_buckets.h"
#include "fuzz_corpus.h"
#include "fuzz_mutator.h"

/* What one execution gave, as far as the engine needs it. */
struct fuzz_result {
    struct fuzz_site site;       /* the status and where the guest ended */
    uint8_t *coverage;           /* FUZZ_MAP_SIZE hit counts, or NULL */
    const struct fuzz_cmp *cmps; /* the compares it made */
    size_t ncmps;
    void *priv; /* the executor's own (its full result) */
};

struct fuzz_executor {
    /* Run in (len bytes), with coverage and the compare log when feedback
     * is 1. Called from several threads at once. Returns 0 with r filled
     * (release it), or -errno with one line in err: the engine stops. */
    int (*run)(void *ctx, const uint8_t *in, size_t len, int feedback,
               struct fuzz_result *r, char *err, size_t errlen);
    void (*release)(void *ctx, struct fuzz_result *r);
    void *ctx;
};

struct fuzz_stats {
    uint64_t execs;       /* fuzzing executions, the seeds included */
    uint64_t min_execs;   /* the minimizer's executions */
    uint64_t crash_execs; /* executions that ended in a crash */
    uint64_t hang_execs;  /* ... in a hang that --crash-on names */
    uint64_t timeouts;    /* timeouts not counted as crashes */
    size_t corpus, edges, buckets;
    uint64_t elapsed_us;
    uint64_t last_find_us; /* when the corpus or the buckets last grew */
};

/* Why the run ended. */
enum fuzz_stop {
    FUZZ_STOP_EXECS = 0, /* the --execs budget was spent */
    FUZZ_STOP_DURATION,  /* --duration passed */
    FUZZ_STOP_ASKED,     /* on_tick asked (a signal) */
    FUZZ_STOP_CRASH,     /* until_crash: the first bucket was found */
};

/* Executions at most per minimized input (and per bucket). */
#define FUZZ_MIN_BUDGET 4096
/* Input-to-state variants tried on a minimizer's candidate that lost the
 * crash, with the compare log of its run (feedback only). */
#define FUZZ_REPAIRS 16
/* How often on_tick is called. */
#define FUZZ_TICK_MS 100

struct fuzz_config {
    struct fuzz_executor exec;
    unsigned jobs;        /* executions at once, 1.. */
    uint64_t seed;        /* of the scheduler's generator */
    uint64_t max_execs;   /* 0: no limit */
    uint64_t duration_ms; /* 0: no limit */
    size_t max_len;       /* longest input made */
    unsigned crash_on;    /* FUZZ_STATUS_BIT set */
    int feedback;         /* coverage-guided with compare feedback, or blind */
    const struct fuzz_dict *dict;   /* or NULL */
    const struct fuzz_seeds *seeds; /* run first, in order; or NULL */
    const char *corpus_dir;         /* receives new corpus inputs, or NULL */
    int until_crash;                /* stop once the first bucket is saved */
    /* A bucket is new or holds a smaller input; r is the run of its input.
     * Return 0, or -errno with err to stop the run with that error. */
    int (*on_bucket)(void *ctx, const struct fuzz_bucket *b,
                     const struct fuzz_result *r, char *err, size_t errlen);
    /* Every FUZZ_TICK_MS (or later, between executions): return 1 to
     * stop. May be NULL. */
    int (*on_tick)(void *ctx, const struct fuzz_stats *st);
    void *ctx;
};

struct fuzz_engine {
    struct fuzz_corpus corpus;
    struct fuzz_buckets buckets;
    struct fuzz_stats stats;
    enum fuzz_stop stop;
};

/*
 * Fuzz as cfg says until its budget, its duration or on_tick stops it;
 * then e holds the corpus, the buckets and the statistics (free it with
 * fuzz_engine_free, whatever this returns). Returns 0, or -errno with one
 * line in err: an execution failed, a file could not be written, memory
 * ran out.
 */
int fuzz_engine_run(struct fuzz_engine *e, const struct fuzz_config *cfg,
                    char *err, size_t errlen);
void fuzz_engine_free(struct fuzz_engine *e);

#endif
