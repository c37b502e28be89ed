/*
 * fuzz_sched.c - the fuzzer's choice of the next input (see fuzz_sched.h).
 */
#include "fuzz_sched.h"

#include <string.h>

#define NO_ENTRY      ((size_t)-1)
#define OUT_OF_MEMORY ((size_t)-1)

void fuzz_sched_init(struct fuzz_sched *s, struct fuzz_corpus *corpus,
                     const struct fuzz_dict *dict, uint64_t seed,
                     size_t max_len, int use_cmps)
{
    memset(s, 0, sizeof(*s));
    s->corpus = corpus;
    s->dict = dict && dict->n ? dict : NULL;
    fuzz_rng_seed(&s->rng, seed);
    s->max_len = max_len;
    s->use_cmps = use_cmps;
    s->cur = NO_ENTRY;
    fuzz_dict_init(&s->cmp_tokens);
}

void fuzz_sched_free(struct fuzz_sched *s)
{
    fuzz_dict_free(&s->cmp_tokens);
}

/* The oldest entry never picked that took a new edge, else the oldest
 * never picked (a new hit count only), else the next in turn. */
static size_t choose(struct fuzz_sched *s)
{
    const struct fuzz_corpus *c = s->corpus;
    size_t fresh = NO_ENTRY;

    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].picks)
            continue;
        if (c->e[i].novelty == FUZZ_NEW_EDGE)
            return i;
        if (fresh == NO_ENTRY)
            fresh = i;
    }
    if (fresh != NO_ENTRY)
        return fresh;
    if (s->turn >= c->n)
        s->turn = 0;
    return s->turn++;
}

static int pick(struct fuzz_sched *s)
{
    struct fuzz_entry *e;

    s->cur = choose(s);
    e = &s->corpus->e[s->cur];
    s->in_i2s = s->use_cmps && e->picks == 0 && e->ncmps > 0;
    e->picks++;
    s->havoc_left = FUZZ_HAVOC_PER_PICK;
    s->i2s_done = 0;
    fuzz_i2s_init(&s->i2s);
    fuzz_dict_clear(&s->cmp_tokens);
    if (s->use_cmps && fuzz_dict_add_cmps(&s->cmp_tokens, e->cmps, e->ncmps))
        return -1;
    return 0;
}

size_t fuzz_sched_next(struct fuzz_sched *s, uint8_t *buf,
                       enum fuzz_stage *stage)
{
    const struct fuzz_entry *e;
    struct fuzz_havoc_ctx h;

    if ((s->cur == NO_ENTRY || s->havoc_left == 0) && pick(s) != 0)
        return OUT_OF_MEMORY;
    e = &s->corpus->e[s->cur];
    if (s->in_i2s) {
        if (s->i2s_done < FUZZ_I2S_PER_ENTRY &&
            fuzz_i2s_next(&s->i2s, e->data, e->len, e->cmps, e->ncmps, buf)) {
            s->i2s_done++;
            *stage = FUZZ_STAGE_I2S;
            return e->len;
        }
        s->in_i2s = 0;
    }
    h = (struct fuzz_havoc_ctx){
        .rng = &s->rng,
        .dict = s->dict,
        .cmp_tokens = s->cmp_tokens.n ? &s->cmp_tokens : NULL,
        .max_len = s->max_len,
    };
    if (s->corpus->n > 1) {
        size_t other = (size_t)fuzz_rng_below(&s->rng, s->corpus->n - 1);
        if (other >= s->cur)
            other++;
        h.other = s->corpus->e[other].data;
        h.other_len = s->corpus->e[other].len;
    }
    memcpy(buf, e->data, e->len);
    s->havoc_left--;
    *stage = FUZZ_STAGE_HAVOC;
    return fuzz_havoc(&h, buf, e->len);
}
