/* timerand: the virtual clock and getrandom's seeded stream. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct timespec a, b, m;
    struct timeval tv;
    unsigned char r[16];
    char buf[64];

    clock_gettime(CLOCK_REALTIME, &a);
    time_t t = time(NULL);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", gmtime(&t));
    printf("now %s\n", buf);
    clock_gettime(CLOCK_MONOTONIC, &m);
    struct timespec nap = {2, 500000000};
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long slept =
        (b.tv_sec - m.tv_sec) * 1000000000LL + (b.tv_nsec - m.tv_nsec);
    printf("slept at least 2.5 s: %d\n", slept >= 2500000000LL);
    gettimeofday(&tv, NULL);
    printf("gettimeofday after the nap: %d\n", tv.tv_sec >= a.tv_sec + 2);
    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        return 2;
    for (unsigned i = 0; i < sizeof(r); i++)
        printf("%02x", r[i]);
    printf("\n");
    srand(1);
    printf("rand %d\n", rand() % 1000);
    return 0;
}
