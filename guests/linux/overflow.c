/* overflow: recursion without end runs into the guard below the stack. */
#include <stdio.h>

static volatile unsigned long limit = ~0UL; /* never reached */

static unsigned long down(unsigned long n)
{
    volatile char frame[256];

    frame[0] = (char)n;
    if (n == limit)
        return 0;
    return down(n + 1) + frame[0];
}

int main(void)
{
    printf("going down\n");
    fflush(stdout);
    return (int)down(0);
}
