/* memlimits: asking for more memory than the guest has is ENOMEM to the
 * program (malloc NULL, sbrk and mmap fail), never a host error. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    void *p = malloc((size_t)1 << 30);
    printf("malloc 1 GiB: %s\n", p ? "got it" : "NULL");
    void *m = mmap(NULL, (size_t)1 << 30, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap 1 GiB: %s\n", m == MAP_FAILED ? strerror(errno) : "mapped");
    void *b = sbrk((intptr_t)1 << 30);
    printf("sbrk 1 GiB: %s\n", b == (void *)-1 ? strerror(errno) : "moved");
    /* what does fit still works, and is zeroed */
    unsigned char *q = malloc(1 << 20);
    int zero = 1;
    for (int i = 0; q && i < 1 << 20; i++)
        zero &= q[i] == 0;
    printf("malloc 1 MiB: %s\n", q && zero ? "zeroed" : "bad");
    void *f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 0, 0);
    printf("mmap of stdin: %s\n", f == MAP_FAILED ? strerror(errno) : "mapped");
    return 0;
}
