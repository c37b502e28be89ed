/* malloc_stress: many blocks small and large (mmap'ed by the libc), grown
 * and shrunk with realloc, freed in a scrambled order; every block's bytes
 * are checked before it goes, and calloc's memory must read as zero. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS  512
#define ROUNDS 1500
#define STRIDE 97

static uint32_t rng = 12345;

static uint32_t next(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Mostly small, sometimes over the libc's mmap threshold (128 KiB). */
static size_t size(void)
{
    return next() % (next() % 16 ? 1000 : 300000) + 1;
}

static unsigned long bad;

static void check(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t k = 0; k < n; k += STRIDE)
        bad += p[k] != v;
    bad += p[n - 1] != v;
}

int main(void)
{
    static unsigned char *p[SLOTS];
    static size_t len[SLOTS];
    uint64_t sum = 0;

    for (int r = 0; r < ROUNDS; r++) {
        unsigned i = next() % SLOTS;
        unsigned char v = (unsigned char)(i * 7 + 1);
        if (!p[i]) {
            len[i] = size();
            p[i] = malloc(len[i]);
            if (!p[i])
                return 3;
            memset(p[i], v, len[i]);
        } else if (next() % 3 == 0) {
            size_t n = size();
            unsigned char *q = realloc(p[i], n);
            if (!q)
                return 2;
            check(q, n < len[i] ? n : len[i], v);
            if (n > len[i])
                memset(q + len[i], v, n - len[i]);
            p[i] = q;
            len[i] = n;
        } else {
            check(p[i], len[i], v);
            free(p[i]);
            p[i] = NULL;
        }
        sum = sum * 31 + len[i];
    }
    for (unsigned i = 0; i < SLOTS; i++)
        free(p[i]);
    unsigned char *z = calloc(1, 1 << 20);
    for (int k = 0; z && k < 1 << 20; k += 64)
        bad += z[k] != 0;
    free(z);
    printf("checksum %llu, %lu bad bytes\n", (unsigned long long)sum, bad);
    return 0;
}
