/* hello: printf through stdio's buffer, one write at exit. */
#include <stdio.h>

int main(void)
{
    printf("Hello, %s! %d + %d = %d\n", "World", 2, 3, 2 + 3);
    return 0;
}
