/* fib - prints the first N Fibonacci numbers (N, decimal, from the input;
 * 10 when the input is empty), one per line. N above 94 overflows 64 bits:
 * exit code 2 and a message. */
#include "tincan_guest.h"

#define FIB_MAX 94

int main(const unsigned char *input, unsigned long len)
{
    const char *p = (const char *)input, *end = p + len;
    tc_u64 n = len ? tc_parse_u64(&p, end) : 10;
    tc_u64 a = 0, b = 1;

    if (n > FIB_MAX) {
        tc_printf("fib: N must be at most %d\n", FIB_MAX);
        return 2;
    }
    for (tc_u64 i = 0; i < n; i++) {
        tc_printf("%lu\n", a);
        tc_u64 t = a + b;
        a = b;
        b = t;
    }
    return 0;
}
