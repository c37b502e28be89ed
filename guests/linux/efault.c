/* efault: pointers outside guest memory, or into tincan's own pages below
 * TINCAN_RESERVED_END (0x10000: tables, stubs, the frame; supervisor-only
 * as a kernel's are), give EFAULT, and the job goes on. */
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
    long kw = syscall(SYS_write, 1, (void *)0x1000UL, 16);
    int e4 = errno;
    long kr = syscall(SYS_read, 0, (void *)0x4000UL, 10);
    int e5 = errno;
    long ks = syscall(SYS_rt_sigaction, 10, NULL, (void *)0x3900UL, 8);
    int e6 = errno;
    printf("write %ld %s\n", w, strerror(e1));
    printf("read %ld %s\n", r, strerror(e2));
    printf("uname %ld %s\n", u, strerror(e3));
    printf("tincan's pages: write %ld %s\n", kw, strerror(e4));
    printf("tincan's pages: read %ld %s\n", kr, strerror(e5));
    printf("tincan's pages: rt_sigaction %ld %s\n", ks, strerror(e6));
    return 0;
}
