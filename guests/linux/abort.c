/* abort: abort() after some output: the job ends with SIGABRT. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("before abort\n");
    fflush(stdout);
    fprintf(stderr, "aborting now\n");
    abort();
}
