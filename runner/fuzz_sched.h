/*
 * fuzz_sched.h - which input `tincan fuzz` runs next. The scheduler walks
 * the corpus: an entry never fuzzed goes first (the oldest of them), else
 * the next in turn. Each pick of an entry runs, with compare feedback, its
 * input-to-state candidates once (the entry's compare log against its own
 * bytes), then a round of havoc on it, drawing on the dictionary, the
 * entry's compare operands as tokens and a second entry to splice with.
 * Everything comes from one seeded generator: the same corpus, in the same
 * order, gives the same inputs.
 */
#ifndef RUNNER_FUZZ_SCHED_H
#define RUNNER_FUZZ_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_corpus.h"
#include "fuzz_mutator.h"

/* Havoc executions per pick of an entry. */
#define FUZZ_HAVOC_PER_PICK 256
/* Input-to-state candidates per entry at most. */
#define FUZZ_I2S_PER_ENTRY 1024

/* Where an input came from (for statistics). */
enum fuzz_stage {
    FUZZ_STAGE_I2S,
    FUZZ_STAGE_HAVOC,
};

struct fuzz_sched {
    struct fuzz_corpus *corpus;
    const struct fuzz_dict *dict; /* --dict, or NULL */
    struct fuzz_rng rng;
    size_t max_len;
    int use_cmps; /* input-to-state and compare tokens */
    size_t cur;   /* the entry being fuzzed, or SIZE_MAX */
    size_t turn;  /* the next entry in turn */
    uint64_t havoc_left;
    int in_i2s;
    unsigned i2s_done;
    struct fuzz_i2s i2s;
    struct fuzz_dict cmp_tokens; /* cur's compare operands */
};

void fuzz_sched_init(struct fuzz_sched *s, struct fuzz_corpus *corpus,
                     const struct fuzz_dict *dict, uint64_t seed,
                     size_t max_len, int use_cmps);
void fuzz_sched_free(struct fuzz_sched *s);

/*
 * The next input into buf (room for max_len bytes); returns its length and
 * its stage in *stage. The corpus must hold at least one entry. Returns
 * (size_t)-1 when out of memory.
 */
size_t fuzz_sched_next(struct fuzz_sched *s, uint8_t *buf,
                       enum fuzz_stage *stage);

#endif
