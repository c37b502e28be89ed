/* unsupported: a system call tincan does not answer (socket, and futex's
 * FUTEX_WAKE_OP) gives -1 and ENOSYS, and each is counted; with
 * --strict-syscalls the job ends at the first instead. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    printf("before\n");
    fflush(stdout);
    long rc = syscall(SYS_socket, 2, 1, 0);
    printf("socket: %ld %s\n", rc, strerror(errno));
    static int word;
    rc = syscall(SYS_futex, &word, 5 /* FUTEX_WAKE_OP */, 1, 0, &word, 0);
    printf("futex wake_op: %ld %s\n", rc, strerror(errno));
    return 0;
}
