/* numbers: strtod, qsort and printf's floating-point conversions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    static const char *in[] = {
        "3.14159",       "-2.5e-3", "1e300",
        "0.1",           "42",      "-0",
        "6.02214076e23", "0x1.8p1", "2.2250738585072014e-308"};
    double v[sizeof(in) / sizeof(in[0])];
    size_t n = sizeof(in) / sizeof(in[0]);

    for (size_t i = 0; i < n; i++)
        v[i] = strtod(in[i], NULL);
    qsort(v, n, sizeof(v[0]), cmp);
    for (size_t i = 0; i < n; i++)
        printf("%g|%e|%a|%.17g\n", v[i], v[i], v[i], v[i]);
    printf("%.3f %10.4f %-8.2e| %+d %05d %x %o %s\n", 2.0 / 3, -1.5, 12345.678,
           7, -42, 255, 8, "end");
    return 0;
}
