/* mandelbrot - draws the Mandelbrot set as 72x28 characters with double
 * arithmetic: proves SSE works in the guest. */
#include "tincan_guest.h"

#include "mandel.h"

static void emit(char c)
{
    tc_printf("%c", c);
}

int main(const unsigned char *input, unsigned long len)
{
    (void)input;
    (void)len;
    mandel(emit);
    return 0;
}
