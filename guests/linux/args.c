/* args: argc, argv and the environment as the program sees them. */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        printf("env %s\n", *e);
    const char *home = getenv("HOME");
    printf("HOME %s\n", home ? home : "(unset)");
    printf("PATH %s\n", getenv("PATH") ? getenv("PATH") : "(unset)");
    return 0;
}
