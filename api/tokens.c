/*
 * tokens.c - the tokens file (see tokens.h): parsing with one-line errors,
 * digest lookup in constant time (OpenSSL's CRYPTO_memcmp over every line),
 * and per-NAME token buckets and in-flight counts.
 */
#include "tokens.h"

#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/pcache.h"
#include "../runner/units.h"

#define MAX_LINE     4096
#define MAX_TOKENS   100000
#define MAX_RATE     1e6 /* jobs per second */
#define MAX_CONC     1000000
#define US_PER_S     1e6
#define DIGEST_BYTES 32 /* SHA-256 */

struct tokens_state {
    char name[TOKENS_NAME_MAX];
    pthread_mutex_t mu;
    double bucket;    /* jobs available */
    uint64_t last_us; /* when bucket was last refilled; 0: never */
    unsigned inflight;
    struct tokens_state *next;
};

struct entry {
    struct tokens_caller who;
    uint8_t digest[DIGEST_BYTES];
};

struct tokens_table {
    struct entry *e;
    size_t n;
};

/* Every NAME ever loaded: few, and they live as long as the process. */
static pthread_mutex_t states_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tokens_state *states;

static struct tokens_state *state_of(const char *name)
{
    struct tokens_state *s;

    pthread_mutex_lock(&states_mu);
    for (s = states; s; s = s->next)
        if (!strcmp(s->name, name))
            break;
    if (!s && (s = calloc(1, sizeof(*s)))) {
        snprintf(s->name, sizeof(s->name), "%s", name);
        pthread_mutex_init(&s->mu, NULL);
        s->next = states;
        states = s;
    }
    pthread_mutex_unlock(&states_mu);
    return s;
}

static int __attribute__((format(printf, 5, 6)))
bad(char *err, size_t errlen, const char *path, unsigned line, const char *fmt,
    ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s line %u: %s", path, line, msg);
    return -EINVAL;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= TOKENS_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* A whole number in [1, max]. */
static int parse_count(const char *s, unsigned max, unsigned *out)
{
    unsigned long v;

    if (units_parse_count(s, 1, max, &v))
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* "R/s" with R > 0. */
static int parse_rate(const char *s, double *out)
{
    char *end;
    double v;

    if ((*s < '0' || *s > '9') && *s != '.')
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (errno || strcmp(end, "/s") || !(v > 0) || v > MAX_RATE)
        return -EINVAL;
    *out = v;
    return 0;
}

/* One KEY=VALUE option of a line into lim. */
static int parse_option(char *opt, struct tokens_limits *lim, const char *path,
                        unsigned line, char *err, size_t errlen)
{
    char *eq = strchr(opt, '='), why[256];
    unsigned n;

    if (!eq)
        return bad(err, errlen, path, line,
                   "'%.60s' is not KEY=VALUE; the options are max_concurrent, "
                   "rate, burst, max_timeout, max_mem, max_output",
                   opt);
    *eq = '\0';
    const char *k = opt, *v = eq + 1;

    if (!strcmp(k, "max_concurrent")) {
        if (parse_count(v, MAX_CONC, &lim->max_concurrent))
            return bad(err, errlen, path, line,
                       "max_concurrent=%.40s: give a whole number from 1 to %d",
                       v, MAX_CONC);
    } else if (!strcmp(k, "rate")) {
        if (parse_rate(v, &lim->rate))
            return bad(err, errlen, path, line,
                       "rate=%.40s: give jobs per second, e.g. rate=10/s or "
                       "rate=0.5/s",
                       v);
    } else if (!strcmp(k, "burst")) {
        if (parse_count(v, MAX_CONC, &n))
            return bad(err, errlen, path, line,
                       "burst=%.40s: give a whole number from 1 to %d", v,
                       MAX_CONC);
        lim->burst = n;
    } else if (!strcmp(k, "max_timeout")) {
        if (units_parse_duration(v, &lim->max_timeout_ms, why, sizeof(why)))
            return bad(err, errlen, path, line, "max_timeout=%.40s: %s", v,
                       why);
        if (lim->max_timeout_ms == 0)
            return bad(err, errlen, path, line,
                       "max_timeout=%.40s: give at least 1ms", v);
    } else if (!strcmp(k, "max_mem") || !strcmp(k, "max_output")) {
        uint64_t *dst = k[4] == 'm' ? &lim->max_mem : &lim->max_output;
        if (units_parse_size(v, dst, why, sizeof(why)))
            return bad(err, errlen, path, line, "%s=%.40s: %s", k, v, why);
        if (*dst == 0)
            return bad(err, errlen, path, line,
                       "%s=%.40s: give at least 1 byte", k, v);
    } else {
        return bad(err, errlen, path, line,
                   "unknown option '%.40s'; the options are max_concurrent, "
                   "rate, burst, max_timeout, max_mem, max_output",
                   k);
    }
    return 0;
}

/* One non-comment line into e. */
static int parse_line(char *text, struct entry *e, const char *path,
                      unsigned line, char *err, size_t errlen)
{
    char *save = NULL, *name, *hex, *opt;
    int rc;

    memset(e, 0, sizeof(*e));
    name = strtok_r(text, " \t", &save);
    hex = strtok_r(NULL, " \t", &save);
    if (!name_ok(name))
        return bad(err, errlen, path, line,
                   "name '%.70s' must be 1 to 64 of A-Z a-z 0-9 . _ -", name);
    if (!hex || pcache_parse_digest(hex, e->digest))
        return bad(err, errlen, path, line,
                   "after the name comes the token's SHA-256 (64 hex digits: "
                   "printf %%s TOKEN | sha256sum), never the token itself");
    snprintf(e->who.name, sizeof(e->who.name), "%s", name);
    while ((opt = strtok_r(NULL, " \t", &save))) {
        rc = parse_option(opt, &e->who.lim, path, line, err, errlen);
        if (rc)
            return rc;
    }
    if (e->who.lim.burst && !e->who.lim.rate)
        return bad(err, errlen, path, line, "%s",
                   "burst without rate: give rate=R/s too");
    if (e->who.lim.rate && !e->who.lim.burst)
        e->who.lim.burst = fmax(1, ceil(e->who.lim.rate));
    return 0;
}

static int add_entry(struct tokens_table *t, size_t *cap, const struct entry *e,
                     const char *path, unsigned line, char *err, size_t errlen)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->e[i].who.name, e->who.name))
            return bad(err, errlen, path, line,
                       "the name %s is given twice; each token has its own",
                       e->who.name);
        if (!memcmp(t->e[i].digest, e->digest, DIGEST_BYTES))
            return bad(err, errlen, path, line,
                       "the digest of %s is also %s's; each token has its own",
                       e->who.name, t->e[i].who.name);
    }
    if (t->n >= MAX_TOKENS)
        return bad(err, errlen, path, line, "more than %d tokens", MAX_TOKENS);
    if (t->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct entry *ne = realloc(t->e, ncap * sizeof(*ne));
        if (!ne) {
            snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
            return -ENOMEM;
        }
        t->e = ne;
        *cap = ncap;
    }
    t->e[t->n++] = *e;
    return 0;
}

int tokens_load(const char *path, struct tokens_table **out, char *err,
                size_t errlen)
{
    struct tokens_table *t = calloc(1, sizeof(*t));
    char buf[MAX_LINE + 2];
    unsigned line = 0;
    size_t cap = 0;
    struct entry e;
    FILE *f = NULL;
    int rc = 0;

    *out = NULL;
    if (!t) {
        snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
        return -ENOMEM;
    }
    f = fopen(path, "re");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "cannot open the tokens file %s: %s", path,
                 strerror(errno));
        goto out;
    }
    while (fgets(buf, sizeof(buf), f)) {
        size_t n = strlen(buf);
        char *p = buf, *hash;

        line++;
        if (n > MAX_LINE) {
            rc = bad(err, errlen, path, line, "longer than %d bytes", MAX_LINE);
            goto out;
        }
        if ((hash = strchr(buf, '#')))
            *hash = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        p += strspn(p, " \t");
        if (!*p)
            continue;
        rc = parse_line(p, &e, path, line, err, errlen);
        if (!rc)
            rc = add_entry(t, &cap, &e, path, line, err, errlen);
        if (rc)
            goto out;
    }
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "reading the tokens file %s failed", path);
        goto out;
    }
    if (t->n == 0) {
        rc = -EINVAL;
        snprintf(err, errlen,
                 "the tokens file %s has no tokens; add a line NAME "
                 "SHA256HEX",
                 path);
        goto out;
    }
    for (size_t i = 0; i < t->n; i++) {
        t->e[i].who.st = state_of(t->e[i].who.name);
        if (!t->e[i].who.st) {
            rc = -ENOMEM;
            snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
            goto out;
        }
    }
out:
    if (f)
        fclose(f);
    if (rc) {
        tokens_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void tokens_free(struct tokens_table *t)
{
    if (!t)
        return;
    free(t->e);
    free(t);
}

size_t tokens_count(const struct tokens_table *t)
{
    return t ? t->n : 0;
}

int tokens_find(const struct tokens_table *t, const char *token,
                size_t token_len, struct tokens_caller *who)
{
    uint8_t d[DIGEST_BYTES];
    size_t found = 0;
    int any = 0;

    SHA256((const unsigned char *)token, token_len, d);
    /* Every line is compared, whichever matches: the time does not say. */
    for (size_t i = 0; i < t->n; i++) {
        int eq = CRYPTO_memcmp(d, t->e[i].digest, DIGEST_BYTES) == 0;
        found = eq ? i : found;
        any |= eq;
    }
    if (any)
        *who = t->e[found].who;
    return any;
}

int tokens_take(const struct tokens_caller *who, uint64_t now_us,
                struct tokens_rate *rate)
{
    const struct tokens_limits *l = &who->lim;
    struct tokens_state *s = who->st;
    int rc = 0;

    memset(rate, 0, sizeof(*rate));
    if (!l->rate)
        return 0;
    pthread_mutex_lock(&s->mu);
    if (!s->last_us) {
        s->bucket = l->burst;
    } else if (now_us > s->last_us) {
        s->bucket += (double)(now_us - s->last_us) / US_PER_S * l->rate;
    }
    s->last_us = now_us;
    if (s->bucket > l->burst)
        s->bucket = l->burst; /* also after a reload lowered it */
    if (s->bucket >= 1)
        s->bucket -= 1;
    else
        rc = -EAGAIN;
    rate->limit = (unsigned)l->burst;
    rate->remaining = (unsigned)floor(s->bucket);
    rate->reset_s = (unsigned)ceil((l->burst - s->bucket) / l->rate);
    rate->retry_s = rc ? (unsigned)ceil((1 - s->bucket) / l->rate) : 0;
    if (rc && rate->retry_s == 0)
        rate->retry_s = 1;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int tokens_enter(const struct tokens_caller *who)
{
    struct tokens_state *s = who->st;
    int rc = 0;

    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    if (who->lim.max_concurrent && s->inflight >= who->lim.max_concurrent)
        rc = -EAGAIN;
    else
        s->inflight++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void tokens_leave(const struct tokens_caller *who)
{
    struct tokens_state *s = who->st;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->inflight)
        s->inflight--;
    pthread_mutex_unlock(&s->mu);
}
