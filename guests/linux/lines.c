/* lines: N short printf lines (argv[1], default 2000) through stdio's
 * buffer: the job should cost one system call per flushed buffer, not one
 * per line or per character (make bench: linux_printf_bytes_per_exit). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000;

    for (long i = 0; i < n; i++)
        printf("line %ld of %ld\n", i + 1, n);
    return 0;
}
