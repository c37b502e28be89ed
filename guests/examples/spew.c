/* spew - writes N bytes of output, N given as decimal text in the input
 * (default 64 MiB), in 1 MiB bulk writes of byte[i] = (i * 7 + 3) & 0xff:
 * one VM exit per MiB. The benchmark measures output throughput with it. */
#include "tincan_guest.h"

#define CHUNK       (1UL << 20)
#define PERIOD      256 /* the pattern repeats every 256 bytes */
#define DEFAULT_LEN (64UL << 20)

static tc_u8 chunk[CHUNK];

int main(const unsigned char *input, unsigned long len)
{
    const char *p = (const char *)input;
    tc_u64 n = len ? tc_parse_u64(&p, p + len) : DEFAULT_LEN;

    /* One period by hand, then doubling copies: cheap even on the emulator,
     * so the benchmark measures writing, not filling. PERIOD divides
     * CHUNK, so every chunk continues the pattern exactly. */
    for (tc_u64 i = 0; i < PERIOD; i++)
        chunk[i] = (tc_u8)(i * 7 + 3);
    for (tc_u64 have = PERIOD; have < CHUNK; have *= 2)
        memcpy(chunk + have, chunk, have);
    while (n) {
        tc_u64 k = n < CHUNK ? n : CHUNK;
        tc_write(chunk, k);
        n -= k;
    }
    return 0;
}
