/* deadlock: a futex wait that nothing can end (the program has one
 * thread) ends the job as deadlock. */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE                                                     \
    128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG (musl has                           \
           no <linux/futex.h>) */

int main(void)
{
    static int word = 7;

    printf("waiting\n");
    fflush(stdout);
    syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 7, NULL, NULL, 0);
    printf("woken\n");
    return 0;
}
