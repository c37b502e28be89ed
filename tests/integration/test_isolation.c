/*
 * test_isolation.c - what a real job's child holds, read from outside as
 * root reads it (/proc/PID/mem, /proc/PID/status, /proc/PID/ns): none of
 * another job's input, none of the caller's environment or heap, another
 * uid, its own namespaces, an empty root. TINCAN_TEST_BACKEND=emu runs it
 * on the emulator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#define CHUNK (1 << 20)

static const char env_canary[] = "TINCAN-ISOLATION-ENV-9c8b7a6d5e4f3a2b";
static const char heap_canary[] = "TINCAN-ISOLATION-HEAP-1a2b3c4d5e6f7a8b";
static char *heap_copy;

struct live_job {
    pthread_t thread;
    const char *input;
    struct tc_result res;
};

static void *live_main(void *arg)
{
    static const unsigned char spin[] = {0xeb, 0xfe}; /* jmp . */
    struct live_job *j = arg;
    struct tc_job job;

    th_job_init(&job);
    job.code = spin;
    job.code_len = sizeof(spin);
    job.input = j->input;
    job.input_len = strlen(j->input);
    job.timeout_ms = 10000; /* alive while both are read (slow under ASan) */
    if (tc_run(&job, &j->res) != 0)
        j->res.status = TC_STATUS_COUNT;
    return NULL;
}

/* The job children of the zygote, once there are n of them locked down
 * (in seccomp mode 2, so they hold their job). */
static int locked_children(pid_t *kids, int n)
{
    pid_t zygote = th_job_parent();
    uint64_t end = th_now_us() + 10000000;

    do {
        char mode[16];
        int got = th_children_of(zygote, kids, n), locked = 0;
        for (int i = 0; i < got; i++)
            locked +=
                th_status_field(kids[i], "Seccomp", mode, sizeof(mode)) == 0 &&
                !strcmp(mode, "2");
        if (got == n && locked == n)
            return n;
        th_sleep_ms(5);
    } while (th_now_us() < end);
    return 0;
}

#define PAGE            4096UL
#define PM_PRESENT      (1ULL << 63) /* pagemap: page present in RAM */
#define PM_SWAPPED      (1ULL << 62) /* pagemap: page swapped out */
#define PAGES_PER_BATCH (CHUNK / PAGE)
#define SHADOW_MIN      (1UL << 40)

static void count_needles(const unsigned char *buf, size_t got,
                          const char *const *needles, size_t n, size_t *found)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(needles[i]), left = got;
        const unsigned char *p = buf, *hit;
        while ((hit = memmem(p, left, needles[i], len))) {
            found[i]++;
            left -= (size_t)(hit - p) + 1;
            p = hit + 1;
        }
    }
}

/*
 * Occurrences of each needle in every page of pid that holds anything: the
 * readable mappings' pages that are present or swapped out (pagemap); a
 * page never touched holds nothing. Runs of such pages are read whole, so a
 * needle across two pages is found too.
 */
static void count_in_memory(pid_t pid, const char *const *needles, size_t n,
                            size_t *found, size_t *scanned)
{
    char path[64], line[512];
    uint64_t *pm = malloc(PAGES_PER_BATCH * sizeof(uint64_t));
    unsigned char *buf = malloc(CHUNK);
    FILE *maps;
    int mem, pagemap;

    assert_non_null(pm);
    assert_non_null(buf);
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    maps = fopen(path, "r");
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    mem = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
    pagemap = open(path, O_RDONLY | O_CLOEXEC);
    assert_non_null(maps);
    assert_true(mem >= 0 && pagemap >= 0);
    memset(found, 0, n * sizeof(*found));
    *scanned = 0;
    while (fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char perms[8];
        /* A terabyte or more is a sanitizer build's shadow memory (bytes
         * 0-7 and 0xf1-0xff: no text), and its pagemap alone would be
         * gigabytes. */
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
            perms[0] != 'r' || hi - lo >= SHADOW_MIN)
            continue;
        for (unsigned long a = lo; a < hi; a += CHUNK) {
            size_t pages = (hi - a < CHUNK ? hi - a : CHUNK) / PAGE;
            ssize_t got = pread(pagemap, pm, pages * sizeof(uint64_t),
                                (off_t)(a / PAGE * sizeof(uint64_t)));
            if (got != (ssize_t)(pages * sizeof(uint64_t)))
                continue;
            for (size_t i = 0; i < pages;) {
                size_t j = i;
                while (j < pages && (pm[j] & (PM_PRESENT | PM_SWAPPED)))
                    j++;
                if (j > i) {
                    ssize_t r =
                        pread(mem, buf, (j - i) * PAGE, (off_t)(a + i * PAGE));
                    if (r > 0) { /* not the vCPU's run area, device pages */
                        *scanned += (size_t)r;
                        count_needles(buf, (size_t)r, needles, n, found);
                    }
                }
                i = j + 1;
            }
        }
    }
    fclose(maps);
    close(mem);
    close(pagemap);
    free(buf);
    free(pm);
}

static void
test_live_children_hold_nothing_of_each_other_or_the_caller(void **state)
{
    static const char a[] = "JOB-A-INPUT-CANARY-37e1c0a9b8d2f46e";
    static const char b[] = "JOB-B-INPUT-CANARY-d51f0b2e7c9a3864";
    const char *const needles[] = {a, b, env_canary, heap_canary};
    struct live_job ja = {.input = a}, jb = {.input = b};
    size_t found[2][4], scanned[2] = {0, 0};
    pid_t kids[2];
    int n;

    (void)state;
    assert_int_equal(pthread_create(&ja.thread, NULL, live_main, &ja), 0);
    assert_int_equal(pthread_create(&jb.thread, NULL, live_main, &jb), 0);
    n = locked_children(kids, 2);
    for (int i = 0; i < n; i++)
        count_in_memory(kids[i], needles, 4, found[i], &scanned[i]);
    pthread_join(ja.thread, NULL);
    pthread_join(jb.thread, NULL);
    assert_int_equal(n, 2);
    for (int i = 0; i < 2; i++)
        print_message("child %d: %zu bytes read; A %zu, B %zu, env %zu, "
                      "heap %zu\n",
                      (int)kids[i], scanned[i], found[i][0], found[i][1],
                      found[i][2], found[i][3]);
    /* Each child holds its own input (the check works), never the
     * other's, never the caller's environment or heap. */
    int first_is_a = found[0][0] > 0;
    assert_true(found[first_is_a ? 0 : 1][0] > 0);
    assert_true(found[first_is_a ? 1 : 0][1] > 0);
    assert_int_equal(found[first_is_a ? 0 : 1][1], 0);
    assert_int_equal(found[first_is_a ? 1 : 0][0], 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(found[i][2], 0);
        assert_int_equal(found[i][3], 0);
    }
    th_assert_status(&ja.res, TC_TIMEOUT);
    th_assert_status(&jb.res, TC_TIMEOUT);
    tc_result_free(&ja.res);
    tc_result_free(&jb.res);
}

static int same_ns(pid_t pid, const char *ns)
{
    char a[64], b[64];
    struct stat sa, sb;

    snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
    snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
    assert_int_equal(stat(a, &sa), 0);
    assert_int_equal(stat(b, &sb), 0);
    return sa.st_ino == sb.st_ino;
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_child_runs_unprivileged_in_its_own_namespaces(void **state)
{
    static const char *const nss[] = {"user", "pid", "net",
                                      "ipc",  "uts", "mnt"};
    struct live_job j = {.input = ""};
    char uid[64] = "", path[64], info[1024];
    pid_t kid;
    struct stat st;

    (void)state;
    /* On a host that refuses a step, the test names it and stops here. */
    assert_int_equal(
        tc_isolation_info(th_on_emu() ? TC_BACKEND_EMU : TC_BACKEND_KVM, info,
                          sizeof(info)),
        0);
    print_message("%s", info);
    assert_null(strstr(info, "refused"));
    assert_int_equal(pthread_create(&j.thread, NULL, live_main, &j), 0);
    assert_int_equal(locked_children(&kid, 1), 1);
    th_status_field(kid, "Uid", uid, sizeof(uid));
    for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++)
        if (same_ns(kid, nss[i]))
            print_error("the child shares the caller's %s namespace\n", nss[i]);
    size_t shared = 0;
    for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++)
        shared += (size_t)same_ns(kid, nss[i]);
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)kid);
    assert_int_equal(stat(path, &st), 0);
    int envfd = open(path, O_RDONLY | O_CLOEXEC);
    char envbuf[16];
    ssize_t envlen = envfd >= 0 ? read(envfd, envbuf, sizeof(envbuf)) : -1;
    if (envfd >= 0)
        close(envfd);
    snprintf(path, sizeof(path), "/proc/%d/root", (int)kid);
    size_t root_entries = entries(path);
    pthread_join(j.thread, NULL);

    print_message("child %d: Uid %s, root entries %zu, environ %zd bytes\n",
                  (int)kid, uid, root_entries, envlen);
    assert_int_equal(shared, 0);
    assert_int_equal(envlen, 0);
    assert_int_equal(root_entries, 0);
    if (geteuid() == 0) /* a root caller's jobs never run as root */
        assert_int_equal(strncmp(uid, "65534\t", 6), 0);
    else
        assert_int_equal((uid_t)strtoul(uid, NULL, 10), geteuid());
    th_assert_status(&j.res, TC_TIMEOUT);
    tc_result_free(&j.res);
}

int main(void)
{
    th_test_setup();
    setenv("TINCAN_ISOLATION_CANARY", env_canary, 1);
    heap_copy = strdup(heap_canary);
    assert_non_null(heap_copy);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_live_children_hold_nothing_of_each_other_or_the_caller),
        cmocka_unit_test(test_child_runs_unprivileged_in_its_own_namespaces),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    free(heap_copy);
    return rc;
}
