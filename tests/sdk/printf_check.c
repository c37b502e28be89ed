/* printf_check.c - the SDK's traps, closed: tc_printf's conversions as C's
 * printf prints them, an unsupported one refused without shifting the
 * arguments, tc_write and tc_printf in call order, .init_array run before
 * main, stderr through tc_write_err. tests/integration/sdk.sh builds it with
 * guests/README.md's own commands and compares with printf_check.out. */
#include "tincan_guest.h"

static int ready;

__attribute__((constructor)) static void init(void)
{
    ready = 42;
}

int main(const unsigned char *input, unsigned long len)
{
    (void)input;
    (void)len;
    tc_printf("constructor ran: %d\n", ready);
    tc_printf("[%05d] [%-5d] [%+d] [% d] [%5.3d] [%x] [%#x] [%#o] [%X]\n", -42,
              7, 3, 4, 9, 255, 255, 8, 0xabc);
    tc_printf("[%lu] [%lld] [%hhd] [%zu] [%hu] [%.0d] [%p]\n", 123456789012UL,
              -5LL, 300, (unsigned long)17, 70000, 0, (void *)0x1234);
    tc_printf("[%s] [%.3s] [%8s] [%-8s|] [%c] [%%] [%*d] [%.*s] [%-*d|]\n",
              "str", "abcdef", "r", "l", 'z', 6, 1, 2, "xyz", -4, 5);
    tc_write("write 1\n", 8);
    tc_printf("printf 2\n");
    tc_write("write 3\n", 8);
    tc_write_err("to stderr\n", 10);
    int rc = tc_printf("refused: %f then %d\n", 1.5, 7);
    tc_printf("\nreturned %d\n", rc);
    return 0;
}
