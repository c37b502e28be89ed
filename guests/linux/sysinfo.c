/* sysinfo: what the program can learn about its world: ids, uname, cwd,
 * its own path, limits, CPUs, and that it has no files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
    struct utsname u;
    struct rlimit rl;
    struct stat st;
    char buf[256];

    printf("pid %d ppid %d uid %d gid %d\n", getpid(), getppid(), getuid(),
           getgid());
    uname(&u);
    printf("%s %s %s\n", u.sysname, u.nodename, u.machine);
    printf("cwd %s\n", getcwd(buf, sizeof(buf)));
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("exe %s\n", buf);
    getrlimit(RLIMIT_STACK, &rl);
    printf("stack limit %llu KiB\n", (unsigned long long)rl.rlim_cur >> 10);
    printf("cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("page %ld\n", sysconf(_SC_PAGESIZE));
    int fd = open("/etc/passwd", O_RDONLY);
    printf("open /etc/passwd: %d %s\n", fd, strerror(errno));
    fstat(1, &st);
    printf("stdout is a fifo: %d\n", S_ISFIFO(st.st_mode));
    printf("isatty(1): %d\n", isatty(1));
    pid_t child = fork();
    printf("fork: %d %s\n", (int)child, strerror(errno));
    return 0;
}
