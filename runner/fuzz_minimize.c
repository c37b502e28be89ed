/*
 * fuzz_minimize.c - the crash minimizer (see fuzz_minimize.h). Block
 * removal sweeps the input with a block size that halves from the first
 * power of two covering it down to one byte; a removal that keeps the crash
 * is taken and the sweep goes on at the same place. Sweeps repeat while one
 * removed anything. Each candidate is built in a scratch buffer, so buf
 * only ever holds inputs that were judged to keep.
 */
#include "fuzz_minimize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct shrink {
    uint8_t *buf, *tmp;
    size_t len;
    fuzz_keeps_fn keeps;
    void *ctx;
    uint64_t budget, *execs;
};

/* 1 keeps, 0 does not or the budget is spent, < 0 stop. */
static int judge(struct shrink *s, uint8_t *in, size_t len)
{
    if (*s->execs >= s->budget)
        return 0;
    ++*s->execs;
    return s->keeps(s->ctx, in, len);
}

/* One sweep with blocks of n bytes: 1 if it removed anything, 0, or < 0. */
static int sweep(struct shrink *s, size_t n)
{
    int removed = 0;

    for (size_t at = 0; at < s->len && *s->execs < s->budget;) {
        size_t cut = s->len - at < n ? s->len - at : n;
        int rc;

        memcpy(s->tmp, s->buf, at);
        memcpy(s->tmp + at, s->buf + at + cut, s->len - at - cut);
        rc = judge(s, s->tmp, s->len - cut);
        if (rc < 0)
            return rc;
        if (rc) {
            memcpy(s->buf, s->tmp, s->len - cut);
            s->len -= cut;
            removed = 1;
        } else {
            at += cut;
        }
    }
    return removed;
}

static int remove_blocks(struct shrink *s)
{
    int again = 1;

    while (again && s->len && *s->execs < s->budget) {
        size_t n = 1;

        again = 0;
        while (n < s->len)
            n *= 2;
        for (; n >= 1 && s->len; n /= 2) {
            int rc = sweep(s, n);
            if (rc < 0)
                return rc;
            again |= rc;
        }
    }
    return 0;
}

static int normalize_bytes(struct shrink *s)
{
    for (size_t i = 0; i < s->len && *s->execs < s->budget; i++) {
        int rc;

        if (s->buf[i] == FUZZ_MIN_FILL)
            continue;
        memcpy(s->tmp, s->buf, s->len);
        s->tmp[i] = FUZZ_MIN_FILL;
        rc = judge(s, s->tmp, s->len);
        if (rc < 0)
            return rc;
        if (rc)
            memcpy(s->buf, s->tmp, s->len);
    }
    return 0;
}

int fuzz_minimize(uint8_t *buf, size_t *len, fuzz_keeps_fn keeps, void *ctx,
                  uint64_t budget, uint64_t *execs)
{
    struct shrink s = {.buf = buf,
                       .len = *len,
                       .keeps = keeps,
                       .ctx = ctx,
                       .budget = budget,
                       .execs = execs};
    int rc;

    *execs = 0;
    s.tmp = malloc(*len ? *len : 1);
    if (!s.tmp)
        return -ENOMEM;
    rc = remove_blocks(&s);
    if (rc == 0)
        rc = normalize_bytes(&s);
    free(s.tmp);
    *len = s.len;
    return rc;
}
