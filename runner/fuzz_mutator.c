/*
 * fuzz_mutator.c - the fuzzer's mutations (see fuzz_mutator.h). Havoc is a
 * table of small ops, each of which either changes the buffer or says it
 * does not apply (too short, no tokens, no second input); the interesting
 * values and block sizes are AFL's.
 */
#include "fuzz_mutator.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the random generator --------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood): spreads a seed over the state. */
#define SPLITMIX_GAMMA 0x9E3779B97F4A7C15ULL
#define SPLITMIX_MUL1  0xBF58476D1CE4E5B9ULL
#define SPLITMIX_MUL2  0x94D049BB133111EBULL
/* xoshiro256**'s output scrambler and rotations. */
#define XOSHIRO_MUL1 5
#define XOSHIRO_MUL2 9
#define XOSHIRO_ROT1 7
#define XOSHIRO_ROT2 45
#define XOSHIRO_SHL  17

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += SPLITMIX_GAMMA);
        z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
        z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * XOSHIRO_MUL1, XOSHIRO_ROT1) * XOSHIRO_MUL2;
    uint64_t t = s[1] << XOSHIRO_SHL;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], XOSHIRO_ROT2);
    return out;
}

/* Lemire's multiply-shift, with the rejection that makes it uniform. */
uint64_t fuzz_rng_below(struct fuzz_rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)fuzz_rng_next(r) * n;
    uint64_t low = (uint64_t)m;

    if (low < n) {
        uint64_t floor = -n % n;
        while (low < floor) {
            m = (unsigned __int128)fuzz_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* ---- dictionaries ----------------------------------------------------- */

#define DICT_INITIAL_CAP 16

void fuzz_dict_init(struct fuzz_dict *d)
{
    memset(d, 0, sizeof(*d));
}

void fuzz_dict_free(struct fuzz_dict *d)
{
    free(d->tokens);
    fuzz_dict_init(d);
}

void fuzz_dict_clear(struct fuzz_dict *d)
{
    d->n = 0;
}

int fuzz_dict_add(struct fuzz_dict *d, const uint8_t *p, size_t len)
{
    if (len == 0 || len > FUZZ_TOKEN_MAX)
        return -EINVAL;
    for (size_t i = 0; i < d->n; i++)
        if (d->tokens[i].len == len && !memcmp(d->tokens[i].bytes, p, len))
            return 0;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : DICT_INITIAL_CAP;
        struct fuzz_token *t = realloc(d->tokens, cap * sizeof(*t));

        if (!t)
            return -ENOMEM;
        d->tokens = t;
        d->cap = cap;
    }
    d->tokens[d->n].len = (uint8_t)len;
    memcpy(d->tokens[d->n].bytes, p, len);
    d->n++;
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#define ASCII_PRINTABLE_FIRST ' '
#define ASCII_PRINTABLE_LAST  '~'

/* The quoted value starting after its opening '"' at p (end: the line's
 * end): its bytes into tok; returns a pointer past the closing '"' or NULL
 * with the reason in why. */
static const char *parse_value(const char *p, const char *end,
                               struct fuzz_token *tok, const char **why)
{
    tok->len = 0;
    for (; p < end && *p != '"'; p++) {
        int c = (unsigned char)*p;

        if (c == '\\') {
            if (p + 1 < end && (p[1] == '\\' || p[1] == '"')) {
                c = (unsigned char)*++p;
            } else if (p + 3 < end && p[1] == 'x' && hex_value(p[2]) >= 0 &&
                       hex_value(p[3]) >= 0) {
                c = hex_value(p[2]) * 16 + hex_value(p[3]);
                p += 3;
            } else {
                *why = "a backslash starts \\\\, \\\" or \\xNN (two hex "
                       "digits), nothing else";
                return NULL;
            }
        } else if (c < ASCII_PRINTABLE_FIRST || c > ASCII_PRINTABLE_LAST) {
            *why = "a byte that is not printable ASCII: write it as \\xNN";
            return NULL;
        }
        if (tok->len == FUZZ_TOKEN_MAX) {
            *why = "the token is longer than 128 bytes";
            return NULL;
        }
        tok->bytes[tok->len++] = (uint8_t)c;
    }
    if (p == end) {
        *why = "the value has no closing '\"'";
        return NULL;
    }
    if (tok->len == 0) {
        *why = "the token is empty";
        return NULL;
    }
    return p + 1;
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* One line (without its newline): 0 when it holds no token or one (added),
 * or -EINVAL/-ENOMEM with the reason in why. */
static int parse_line(struct fuzz_dict *d, const char *p, const char *end,
                      const char **why)
{
    struct fuzz_token tok;

    p = skip_blanks(p, end);
    if (p == end || *p == '#')
        return 0;
    if (*p != '"') {
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        if (p < end && *p == '@') {
            const char *digits = ++p;
            while (p < end && isdigit((unsigned char)*p))
                p++;
            if (p == digits) {
                *why = "'@' is followed by the token's level, a number";
                return -EINVAL;
            }
        }
        p = skip_blanks(p, end);
        if (p == end || *p != '=') {
            *why = "expected name=\"value\" or \"value\"";
            return -EINVAL;
        }
        p = skip_blanks(p + 1, end);
        if (p == end || *p != '"') {
            *why = "the value must be in double quotes";
            return -EINVAL;
        }
    }
    p = parse_value(p + 1, end, &tok, why);
    if (!p)
        return -EINVAL;
    p = skip_blanks(p, end);
    if (p != end) {
        *why = "text after the closing '\"'";
        return -EINVAL;
    }
    if (fuzz_dict_add(d, tok.bytes, tok.len) != 0) {
        *why = "out of memory";
        return -ENOMEM;
    }
    return 0;
}

int fuzz_dict_parse(struct fuzz_dict *d, const char *text, size_t len,
                    char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    unsigned line = 1;

    for (; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *why = NULL;
        const char *eol = nl ? nl : end;
        int rc;

        if (memchr(p, '\0', (size_t)(eol - p))) {
            snprintf(err, errlen, "line %u: a NUL byte: write it as \\x00",
                     line);
            return -EINVAL;
        }
        rc = parse_line(d, p, eol, &why);
        if (rc) {
            snprintf(err, errlen, "line %u: %s", line, why);
            return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

#define CMP_SIZE_MAX 8

/* The narrowest width (1, 2, 4 or 8 bytes, at most size) holding v. */
static unsigned width_of(uint64_t v, unsigned size)
{
    unsigned w = 1;

    while (w < size && (v >> (8 * w)) != 0)
        w *= 2;
    return w;
}

static void store_le(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void store_be(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        p[w - 1 - i] = (uint8_t)(v >> (8 * i));
}

int fuzz_dict_add_cmps(struct fuzz_dict *d, const struct fuzz_cmp *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t ops[2] = {c[i].a, c[i].b};

        for (int k = 0; k < 2; k++) {
            uint8_t b[CMP_SIZE_MAX];
            unsigned w = width_of(ops[k], c[i].size);
            int rc;

            store_le(b, ops[k], w);
            rc = fuzz_dict_add(d, b, w);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- havoc ------------------------------------------------------------ */

/* AFL's interesting values (config.h INTERESTING_8/16/32). */
static const int8_t interesting8[] = {-128, -1, 0, 1, 16, 32, 64, 100, 127};
static const int16_t interesting16[] = {-32768, -129, 128,  255,  256,
                                        512,    1000, 1024, 4096, 32767};
static const int32_t interesting32[] = {-2147483647 - 1, -100663046, -32769,
                                        32768,           65535,      65536,
                                        100663045,       2147483647};
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define ARITH_MAX       35 /* AFL's ARITH_MAX */
#define HAVOC_BLK_SMALL 32 /* AFL's block sizes */
#define HAVOC_BLK_MED   128
#define HAVOC_BLK_LARGE 1500
#define NOT_APPLICABLE  ((size_t)-1)
#define OP_TRIES        16 /* ops drawn before giving up on one */

/* An op and its argument (a width, or which tokens and how): the new
 * length, or NOT_APPLICABLE. */
struct havoc_op {
    size_t (*fn)(const struct fuzz_havoc_ctx *h, uint8_t *buf, size_t len,
                 unsigned arg);
    unsigned arg;
};
#define TOKENS_CMP    1u /* put_token: the compare tokens, not --dict's */
#define TOKENS_INSERT 2u /* put_token: insert, not overwrite */

static uint64_t rnd(const struct fuzz_havoc_ctx *h, uint64_t n)
{
    return fuzz_rng_below(h->rng, n);
}

/* A block length in [1, limit] (limit >= 1): mostly small, as AFL's. */
static size_t block_len(const struct fuzz_havoc_ctx *h, size_t limit)
{
    size_t max = rnd(h, 4)   ? HAVOC_BLK_SMALL
                 : rnd(h, 2) ? HAVOC_BLK_MED
                             : HAVOC_BLK_LARGE;

    if (max > limit)
        max = limit;
    return 1 + (size_t)rnd(h, max);
}

static uint64_t load_n(const uint8_t *p, unsigned w, int be)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[be ? w - 1 - i : i] << (8 * i);
    return v;
}

static void store_n(uint8_t *p, uint64_t v, unsigned w, int be)
{
    if (be)
        store_be(p, v, w);
    else
        store_le(p, v, w);
}

static size_t op_flip_bit(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                          size_t len, unsigned arg)
{
    (void)arg;
    if (len == 0)
        return NOT_APPLICABLE;
    buf[rnd(h, len)] ^= (uint8_t)(1u << rnd(h, 8));
    return len;
}

static size_t op_random_byte(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                             size_t len, unsigned arg)
{
    (void)arg;
    if (len == 0)
        return NOT_APPLICABLE;
    buf[rnd(h, len)] ^= (uint8_t)(1 + rnd(h, 255));
    return len;
}

/* An interesting value of w bytes at a random place, either byte order. */
static size_t op_interesting(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                             size_t len, unsigned w)
{
    uint64_t v;

    if (len < w)
        return NOT_APPLICABLE;
    switch (w) {
    case 1:
        v = (uint8_t)interesting8[rnd(h, NELEMS(interesting8))];
        break;
    case 2:
        v = (uint16_t)interesting16[rnd(h, NELEMS(interesting16))];
        break;
    default:
        v = (uint32_t)interesting32[rnd(h, NELEMS(interesting32))];
        break;
    }
    store_n(buf + rnd(h, len - w + 1), v, w, (int)rnd(h, 2));
    return len;
}

/* Add or subtract 1..ARITH_MAX to w bytes at a random place. */
static size_t op_arith(const struct fuzz_havoc_ctx *h, uint8_t *buf, size_t len,
                       unsigned w)
{
    int be = w > 1 && rnd(h, 2);
    uint64_t delta = 1 + rnd(h, ARITH_MAX), v;
    uint8_t *p;

    if (len < w)
        return NOT_APPLICABLE;
    p = buf + rnd(h, len - w + 1);
    v = load_n(p, w, be);
    v = rnd(h, 2) ? v + delta : v - delta;
    store_n(p, v, w, be);
    return len;
}

static size_t op_delete(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                        size_t len, unsigned arg)
{
    (void)arg;
    size_t n, at;

    if (len < 2)
        return NOT_APPLICABLE;
    n = block_len(h, len - 1);
    at = rnd(h, len - n + 1);
    memmove(buf + at, buf + at + n, len - at - n);
    return len - n;
}

/* Open a gap of n bytes at a random place; returns where. */
static size_t make_gap(const struct fuzz_havoc_ctx *h, uint8_t *buf, size_t len,
                       size_t n)
{
    size_t at = rnd(h, len + 1);

    memmove(buf + at + n, buf + at, len - at);
    return at;
}

/* Insert a copy of a block of the input (3 times in 4) or a run of one
 * byte. */
static size_t op_insert_block(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                              size_t len, unsigned arg)
{
    (void)arg;
    size_t room = h->max_len - len, n, from = 0, at;
    int copy = len > 0 && rnd(h, 4) != 0;

    if (room == 0)
        return NOT_APPLICABLE;
    n = block_len(h, copy && len < room ? len : room);
    if (copy) {
        if (n > len)
            n = len;
        from = rnd(h, len - n + 1);
    }
    at = make_gap(h, buf, len, n);
    if (copy)
        memmove(buf + at, buf + (from >= at ? from + n : from), n);
    else
        memset(buf + at, len && rnd(h, 2) ? buf[rnd(h, len)] : (int)rnd(h, 256),
               n);
    return len + n;
}

/* Overwrite a block with another part of the input or a run of a byte. */
static size_t op_overwrite_block(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                                 size_t len, unsigned arg)
{
    (void)arg;
    size_t n, from, to;

    if (len < 2)
        return NOT_APPLICABLE;
    n = block_len(h, len - 1);
    from = rnd(h, len - n + 1);
    to = rnd(h, len - n + 1);
    if (rnd(h, 4))
        memmove(buf + to, buf + from, n);
    else
        memset(buf + to, rnd(h, 2) ? buf[rnd(h, len)] : (int)rnd(h, 256), n);
    return len;
}

/* A token of --dict or of the compares, over the input or into it. */
static size_t op_token(const struct fuzz_havoc_ctx *h, uint8_t *buf, size_t len,
                       unsigned how)
{
    const struct fuzz_dict *d = how & TOKENS_CMP ? h->cmp_tokens : h->dict;
    int insert = (how & TOKENS_INSERT) != 0;
    const struct fuzz_token *t;
    size_t at;

    if (!d || d->n == 0)
        return NOT_APPLICABLE;
    t = &d->tokens[rnd(h, d->n)];
    if (insert) {
        if (h->max_len - len < t->len)
            return NOT_APPLICABLE;
        at = make_gap(h, buf, len, t->len);
        len += t->len;
    } else {
        if (len < t->len)
            return NOT_APPLICABLE;
        at = rnd(h, len - t->len + 1);
    }
    memcpy(buf + at, t->bytes, t->len);
    return len;
}

/* AFL's splice: the input up to a point, the other input from there. */
static size_t op_splice(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                        size_t len, unsigned arg)
{
    (void)arg;
    size_t split, n;

    if (!h->other || len < 2 || h->other_len < 2)
        return NOT_APPLICABLE;
    split = 1 + rnd(h, (len < h->other_len ? len : h->other_len) - 1);
    n = h->other_len < h->max_len ? h->other_len : h->max_len;
    memcpy(buf + split, h->other + split, n - split);
    return n;
}

/* A block of the other input inserted into this one. */
static size_t op_splice_insert(const struct fuzz_havoc_ctx *h, uint8_t *buf,
                               size_t len, unsigned arg)
{
    (void)arg;
    size_t room = h->max_len - len, n, from, at;

    if (!h->other || h->other_len == 0 || room == 0)
        return NOT_APPLICABLE;
    n = block_len(h, h->other_len < room ? h->other_len : room);
    from = rnd(h, h->other_len - n + 1);
    at = make_gap(h, buf, len, n);
    memcpy(buf + at, h->other + from, n);
    return len + n;
}

/* In this order: the generator's draws index it. */
static const struct havoc_op havoc_ops[] = {
    {op_flip_bit, 0},
    {op_random_byte, 0},
    {op_interesting, 1},
    {op_interesting, 2},
    {op_interesting, 4},
    {op_arith, 1},
    {op_arith, 2},
    {op_arith, 4},
    {op_delete, 0},
    {op_insert_block, 0},
    {op_overwrite_block, 0},
    {op_token, 0},
    {op_token, TOKENS_INSERT},
    {op_token, TOKENS_CMP},
    {op_token, TOKENS_CMP | TOKENS_INSERT},
    {op_splice, 0},
    {op_splice_insert, 0},
};

size_t fuzz_havoc(const struct fuzz_havoc_ctx *h, uint8_t *buf, size_t len)
{
    unsigned stack = 1u << rnd(h, FUZZ_HAVOC_STACK_POW2);

    for (unsigned i = 0; i < stack; i++) {
        for (unsigned t = 0; t < OP_TRIES; t++) {
            const struct havoc_op *op = &havoc_ops[rnd(h, NELEMS(havoc_ops))];
            size_t n = op->fn(h, buf, len, op->arg);

            if (n != NOT_APPLICABLE) {
                len = n;
                break;
            }
        }
    }
    return len;
}

/* ---- input-to-state replacement --------------------------------------- */

/*
 * The variants of a compare: operand a found and replaced by b, or b by a;
 * each little- and big-endian; in the compare's own width and, when both
 * operands fit a narrower one (a wider register holding a loaded byte,
 * word or dword), in that width too.
 */
#define I2S_VARIANTS 8

/* The pattern and its replacement of variant v of c; 0 when v does not
 * apply (big-endian of one byte, a narrower width that is not). */
static unsigned i2s_variant(const struct fuzz_cmp *c, unsigned v, uint8_t *find,
                            uint8_t *put)
{
    unsigned narrow = width_of(c->a | c->b, c->size);
    unsigned w = v & 4 ? narrow : c->size;
    int be = (v & 2) != 0, swap = (v & 1) != 0;

    if ((v & 4) && narrow == c->size)
        return 0;
    if (be && w == 1)
        return 0;
    store_n(find, swap ? c->b : c->a, w, be);
    store_n(put, swap ? c->a : c->b, w, be);
    return w;
}

void fuzz_i2s_init(struct fuzz_i2s *it)
{
    memset(it, 0, sizeof(*it));
}

static void i2s_next_variant(struct fuzz_i2s *it)
{
    it->pos = 0;
    it->found = 0;
    if (++it->variant == I2S_VARIANTS) {
        it->variant = 0;
        it->cmp++;
    }
}

int fuzz_i2s_next(struct fuzz_i2s *it, const uint8_t *in, size_t len,
                  const struct fuzz_cmp *cmps, size_t ncmps, uint8_t *out)
{
    uint8_t find[CMP_SIZE_MAX], put[CMP_SIZE_MAX];

    for (; it->cmp < ncmps; i2s_next_variant(it)) {
        const struct fuzz_cmp *c = &cmps[it->cmp];
        unsigned w;

        if (c->size != 1 && c->size != 2 && c->size != 4 &&
            c->size != CMP_SIZE_MAX)
            continue;
        w = i2s_variant(c, it->variant, find, put);
        if (w == 0 || len < w)
            continue;
        while (it->found < FUZZ_I2S_PER_VARIANT && it->pos + w <= len) {
            size_t at = it->pos++;

            if (memcmp(in + at, find, w) != 0)
                continue;
            it->found++;
            memcpy(out, in, len);
            memcpy(out + at, put, w);
            return 1;
        }
    }
    return 0;
}
