/* recursion: 50000 frames deep and back, then the sum they carried. */
#include <stdio.h>

static unsigned long depth(unsigned long n, volatile char *prev)
{
    volatile char frame[32];

    frame[0] = (char)n;
    frame[31] = prev ? prev[0] : 0;
    if (n == 0)
        return 0;
    return n + depth(n - 1, frame) + (unsigned long)(frame[31] & 0);
}

int main(void)
{
    printf("sum %lu\n", depth(50000, NULL));
    return 0;
}
