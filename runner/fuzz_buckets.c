/*
 * fuzz_buckets.c - crash buckets (see fuzz_buckets.h): their names, from
 * fields a hostile child may have chosen (so only numbers and a checked
 * vector name go into a name, which becomes a file name), the --crash-on
 * set, and the table of buckets.
 */
#include "fuzz_buckets.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 16

/* "#PF" as "pf"; anything but '#' and 1 to 4 letters as "vN". */
static void vector_label(const struct fuzz_site *s, char *out, size_t len)
{
    const char *n = s->vector_name;
    size_t k = 1;

    if (n[0] == '#') {
        while (k <= 4 && isalpha((unsigned char)n[k]))
            k++;
        if (k > 1 && n[k] == '\0' && k - 1 < len) {
            for (size_t i = 1; i < k; i++)
                out[i - 1] = (char)tolower((unsigned char)n[i]);
            out[k - 1] = '\0';
            return;
        }
    }
    snprintf(out, len, "v%u", s->vector);
}

void fuzz_bucket_name(const struct fuzz_site *s, char *name, size_t len)
{
    const char *st = sbx_status_name(s->status);
    char v[8];

    switch (s->status) {
    case SBX_FAULT:
        vector_label(s, v, sizeof(v));
        snprintf(name, len, "%s-%s-0x%" PRIx64, st, v, s->rip);
        return;
    case SBX_MMIO:
        snprintf(name, len, "%s-0x%" PRIx64, st, s->address & FUZZ_PAGE_MASK);
        return;
    case SBX_UNHANDLED_IO:
        snprintf(name, len, "%s-0x%x", st, s->port);
        return;
    case SBX_SANDBOX_VIOLATION:
        snprintf(name, len, "%s-%d", st, s->syscall);
        return;
    case SBX_OK:
    case SBX_TIMEOUT:
    case SBX_OUTPUT_LIMIT:
    case SBX_SHUTDOWN:
    case SBX_INTERNAL_ERROR:
    case SBX_INSN_LIMIT:
    case SBX_UNSUPPORTED_SYSCALL: /* Linux guests: one bucket per status */
    case SBX_SIGNAL:
    case SBX_DEADLOCK:
    case SBX_STATUS_COUNT:
        snprintf(name, len, "%s", st);
        return;
    }
    snprintf(name, len, "%s", "unknown");
}

int fuzz_crash_on_parse(const char *list, unsigned *set, char *err,
                        size_t errlen)
{
    const char *p = list;

    *set = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;

        for (int st = SBX_OK + 1; st < SBX_STATUS_COUNT; st++) {
            const char *name = sbx_status_name((enum sbx_status)st);
            if (strlen(name) == n && !strncmp(p, name, n))
                found = st;
        }
        if (found < 0) {
            size_t off = (size_t)snprintf(
                err, errlen, "'%.*s' is not a status to crash on; use", (int)n,
                p);
            for (int st = SBX_OK + 1; st < SBX_STATUS_COUNT && off < errlen;
                 st++)
                off += (size_t)snprintf(err + off, errlen - off, "%s %s",
                                        st == SBX_OK + 1 ? "" : ",",
                                        sbx_status_name((enum sbx_status)st));
            return -EINVAL;
        }
        *set |= FUZZ_STATUS_BIT(found);
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int fuzz_status_is_hang(enum sbx_status st)
{
    return st == SBX_TIMEOUT || st == SBX_INSN_LIMIT || st == SBX_OUTPUT_LIMIT;
}

void fuzz_buckets_init(struct fuzz_buckets *t)
{
    memset(t, 0, sizeof(*t));
}

void fuzz_buckets_free(struct fuzz_buckets *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->b[i].data);
    free(t->b);
    fuzz_buckets_init(t);
}

struct fuzz_bucket *fuzz_buckets_find(struct fuzz_buckets *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->b[i].name, name))
            return &t->b[i];
    return NULL;
}

int fuzz_bucket_keep(struct fuzz_bucket *b, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);

    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    free(b->data);
    b->data = copy;
    b->len = len;
    return 0;
}

int fuzz_buckets_add(struct fuzz_buckets *t, const char *name,
                     enum sbx_status st, const uint8_t *data, size_t len,
                     uint64_t exec, uint64_t us, struct fuzz_bucket **out)
{
    struct fuzz_bucket *b = fuzz_buckets_find(t, name);

    *out = b;
    if (b) {
        b->hits++;
        return len < b->len ? FUZZ_BUCKET_SMALLER : FUZZ_BUCKET_HIT;
    }
    if (t->n == FUZZ_MAX_BUCKETS) {
        t->dropped++;
        return FUZZ_BUCKET_FULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : FIRST_CAP;
        struct fuzz_bucket *nb = realloc(t->b, cap * sizeof(*nb));

        if (!nb)
            return -ENOMEM;
        t->b = nb;
        t->cap = cap;
    }
    b = &t->b[t->n];
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->status = st;
    b->found_len = len;
    b->found_at = exec;
    b->found_us = us;
    b->hits = 1;
    if (fuzz_bucket_keep(b, data, len) != 0)
        return -ENOMEM;
    t->n++;
    *out = b;
    return FUZZ_BUCKET_NEW;
}
