/* streams: stdout and stderr interleaved; each stream keeps its order. */
#include <stdio.h>

int main(void)
{
    for (int i = 0; i < 5; i++) {
        printf("out %d\n", i);
        fprintf(stderr, "err %d\n", i);
    }
    fputs("last line on stdout\n", stdout);
    fputs("last line on stderr\n", stderr);
    return 0;
}
