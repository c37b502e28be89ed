/* primes - the primes up to N (decimal, from the input), one per line, by a
 * sieve of Eratosthenes over a bitmap. N above PRIMES_MAX: exit code 2. */
#include "tincan_guest.h"

#define PRIMES_MAX ((1UL << 23) - 1)
static tc_u8 composite[(PRIMES_MAX + 1) / 8];

static int is_set(tc_u64 i)
{
    return composite[i >> 3] & (1 << (i & 7));
}

int main(const unsigned char *input, unsigned long len)
{
    const char *p = (const char *)input;
    tc_u64 n = tc_parse_u64(&p, p + len);

    if (n > PRIMES_MAX) {
        tc_printf("primes: N must be at most %lu\n", PRIMES_MAX);
        return 2;
    }
    for (tc_u64 i = 2; i * i <= n; i++)
        if (!is_set(i))
            for (tc_u64 j = i * i; j <= n; j += i)
                composite[j >> 3] |= (tc_u8)(1 << (j & 7));
    for (tc_u64 i = 2; i <= n; i++)
        if (!is_set(i))
            tc_printf("%lu\n", i);
    return 0;
}
