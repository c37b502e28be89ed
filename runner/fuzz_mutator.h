/*
 * fuzz_mutator.h - how `tincan fuzz` makes new inputs from old ones: a
 * seeded random generator (the only source of randomness, so a seed gives
 * the same run), AFL dictionaries, AFL-style havoc (bit and byte flips,
 * arithmetic, interesting values, block delete/insert/copy, dictionary and
 * compare tokens, splicing with a second input), and input-to-state
 * replacement from a compare log (RedQueen, AFL++'s CmpLog): where an
 * operand of a compare the guest made appears in its input, put the other
 * operand there.
 */
#ifndef RUNNER_FUZZ_MUTATOR_H
#define RUNNER_FUZZ_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
struct fuzz_rng {
    uint64_t s[4];
};

void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed);
uint64_t fuzz_rng_next(struct fuzz_rng *r);
/* Uniform in [0, n); n must be at least 1. */
uint64_t fuzz_rng_below(struct fuzz_rng *r, uint64_t n);

/* AFL's longest dictionary token (MAX_DICT_FILE). */
#define FUZZ_TOKEN_MAX 128

struct fuzz_token {
    uint8_t len;
    uint8_t bytes[FUZZ_TOKEN_MAX];
};

/* A set of tokens in the order they were added, without duplicates. */
struct fuzz_dict {
    struct fuzz_token *tokens;
    size_t n, cap;
};

void fuzz_dict_init(struct fuzz_dict *d);
void fuzz_dict_free(struct fuzz_dict *d);
void fuzz_dict_clear(struct fuzz_dict *d); /* empty, memory kept */
/* Add len (1..FUZZ_TOKEN_MAX) bytes unless already there: 0, -EINVAL for
 * a bad length, -ENOMEM. */
int fuzz_dict_add(struct fuzz_dict *d, const uint8_t *p, size_t len);

/*
 * Parse an AFL dictionary: one token a line as name="value", name@N="value"
 * or "value"; '#' lines and blank lines are skipped; in the value, \\, \"
 * and \xNN are escapes and every other byte must be printable ASCII.
 * Adds the tokens to d. Returns 0, or -EINVAL with "line N: what is wrong"
 * in err (-ENOMEM when out of memory). An empty text gives no tokens.
 */
int fuzz_dict_parse(struct fuzz_dict *d, const char *text, size_t len,
                    char *err, size_t errlen);

/* One compare the guest made: operands of size bytes (1, 2, 4 or 8). */
struct fuzz_cmp {
    uint64_t a, b;
    unsigned size;
};

/* Both operands of each compare as tokens, little-endian, in the width
 * that holds them (leading zero bytes of a wider compare dropped). */
int fuzz_dict_add_cmps(struct fuzz_dict *d, const struct fuzz_cmp *c, size_t n);

/* What havoc draws on besides the input itself. */
struct fuzz_havoc_ctx {
    struct fuzz_rng *rng;
    const struct fuzz_dict *dict;       /* --dict tokens, or NULL */
    const struct fuzz_dict *cmp_tokens; /* compare operands, or NULL */
    const uint8_t *other;               /* a second input to splice, or NULL */
    size_t other_len;
    size_t max_len; /* buf's room; no result is longer */
};

/* Havoc ops at most stacked on one input: 1, 2, 4 or 8 of them. */
#define FUZZ_HAVOC_STACK_POW2 4

/*
 * Mutate the len bytes in buf (room for h->max_len) with a stack of random
 * havoc ops; returns the new length (<= max_len). The same rng state and
 * inputs give the same result.
 */
size_t fuzz_havoc(const struct fuzz_havoc_ctx *h, uint8_t *buf, size_t len);

/* Input-to-state replacement, one candidate at a time. */
struct fuzz_i2s {
    size_t cmp;       /* the compare being tried */
    unsigned variant; /* direction, byte order and width */
    size_t pos;       /* where in the input to look next */
    unsigned found;   /* candidates of this variant so far */
};

/* At most this many candidates per compare and variant: a byte that occurs
 * all over the input does not make a candidate for every place. */
#define FUZZ_I2S_PER_VARIANT 8

void fuzz_i2s_init(struct fuzz_i2s *it);
/*
 * The next candidate for in (len bytes) and its compare log: in with one
 * occurrence of an operand replaced by the other operand, into out (room
 * for len bytes). Returns 1 with a candidate, 0 when there are no more.
 */
int fuzz_i2s_next(struct fuzz_i2s *it, const uint8_t *in, size_t len,
                  const struct fuzz_cmp *cmps, size_t ncmps, uint8_t *out);

#endif
