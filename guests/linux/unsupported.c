/* unsupported: a system call tincan does not answer (socket) gives -1 and
 * ENOSYS; with --strict-syscalls the job ends there instead. */
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
    return 0;
}
