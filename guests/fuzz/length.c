/*
 * length: a record is 'L', a 16-bit little-endian length and that many
 * bytes of data, copied into a 64-byte buffer on the stack and echoed. The
 * length is checked as a signed number: one with its top bit set passes
 * and copies 32 KiB or more, up past the top of the stack, where guest
 * memory ends ([MEM, 4 GiB) has no memory behind it: the stack's guard)
 * -> mmio, a write at MEM. The fixed build refuses negative lengths.
 */
#include "tincan_guest.h"

#define RECORD_TAG 'L'
#define HEADER     3 /* tag, length (2 bytes) */

/* Byte by byte, as a naive parser would; noinline keeps the buffer's size
 * out of the compiler's sight. */
static void __attribute__((noinline))
copy_data(char *dst, const unsigned char *src, unsigned short n)
{
    for (unsigned short i = 0; i < n; i++)
        dst[i] = (char)src[i];
}

int main(const unsigned char *input, unsigned long len)
{
    char buf[64];
    short n;

    if (len < HEADER || input[0] != RECORD_TAG)
        return 0;
    n = (short)(input[1] | input[2] << 8);
#ifdef TINCAN_FUZZ_FIXED
    if (n < 0)
        return 2;
#endif
    if (n > (short)sizeof(buf) || (unsigned long)(n > 0 ? n : 0) > len - HEADER)
        return 2;
    copy_data(buf, input + HEADER, (unsigned short)n);
    tc_write(buf, n > 0 ? (unsigned long)n : 0);
    return 0;
}
