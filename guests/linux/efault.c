/* efault: pointers outside guest memory give EFAULT, and the job goes on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    long w = syscall(SYS_write, 1, (void *)0x7f0000000000UL, 10);
    int e1 = errno;
    long r = syscall(SYS_read, 0, (void *)0x10, 10);
    int e2 = errno;
    long u = syscall(SYS_uname, (void *)0xffffffffUL);
    int e3 = errno;
    printf("write %ld %s\n", w, strerror(e1));
    printf("read %ld %s\n", r, strerror(e2));
    printf("uname %ld %s\n", u, strerror(e3));
    return 0;
}
