/* privileged: a ring-0 instruction in an ordinary program faults (#GP)
 * as under Linux, on both backends: argv[1] picks hlt (default), cli,
 * out, or int80 (the legacy system call, which tincan does not give). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "hlt";

    printf("trying %s\n", what);
    fflush(stdout);
    if (!strcmp(what, "cli"))
        __asm__ volatile("cli");
    else if (!strcmp(what, "out"))
        __asm__ volatile("outb %%al, $0x10" : : "a"(0));
    else if (!strcmp(what, "int80"))
        __asm__ volatile("int $0x80" : : "a"(39));
    else
        __asm__ volatile("hlt");
    printf("still running\n");
    return 0;
}
