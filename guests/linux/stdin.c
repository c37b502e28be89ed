/* stdin: reads its input to the end; bytes, lines, words and a checksum. */
#include <stdio.h>

int main(void)
{
    unsigned long bytes = 0, lines = 0, words = 0, sum = 0;
    int c, in_word = 0;

    while ((c = getchar()) != EOF) {
        bytes++;
        sum = sum * 31 + (unsigned char)c;
        if (c == '\n')
            lines++;
        if (c == ' ' || c == '\n' || c == '\t') {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
    }
    printf("%lu %lu %lu %lx\n", lines, words, bytes, sum);
    printf("eof again: %d\n", getchar() == EOF);
    return 0;
}
