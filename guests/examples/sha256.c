/* sha256 - prints the SHA-256 digest of its input as 64 hex digits and a
 * newline, like sha256sum without the file name. */
#include "tincan_guest.h"

/* The hash's inner function starts a page. QEMU's TCG, which runs the KVM
 * lane (and make bench there), cannot chain translated blocks across a page
 * boundary: a loop straddling one ran the whole hash 35% slower there.
 * On hardware this changes nothing. */
#define SHA256_PAGE 4096
struct sha256;
static void sha256_block(struct sha256 *s, const unsigned char *p)
    __attribute__((aligned(SHA256_PAGE)));

#include "sha256.h"

int main(const unsigned char *input, unsigned long len)
{
    struct sha256 s;
    unsigned char d[32];

    sha256_init(&s);
    sha256_update(&s, input, len);
    sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        tc_printf("%02x", d[i]);
    tc_printf("\n");
    return 0;
}
