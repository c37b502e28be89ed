/* hello_sdk - "Hello, World!" with the SDK: one bulk write, then the exit port;
 * two VM exits in all. The benchmark counts them (make bench). */
#include "tincan_guest.h"

int main(const unsigned char *input, unsigned long len)
{
    static const char msg[] = "Hello, World!\n";

    (void)input;
    (void)len;
    tc_write(msg, sizeof(msg) - 1);
    return 0;
}
