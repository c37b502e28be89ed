/*
 * evil_child.c - a compromised job child, for the isolation tests. Linked
 * into a test build of the zygote with -Wl,--wrap=sbx_child_main, so every
 * job's child runs this in place of the sandbox: before any lockdown, with
 * whatever the zygote gave it. The job's input is a command; a job without
 * one runs the real sandbox (__real_sbx_child_main). What it finds or does
 * goes into its report, the only channel it has, as output text.
 *
 *   forge:FIELD    write an impossible value into FIELD of the report
 *   feedback:forge fill the job's feedback region (a job with coverage
 *                  and a compare log) with a count past any capacity,
 *                  records of impossible sizes and a saturated edge map
 *   message:ctl    end ok with control bytes and ANSI escapes in message
 *   scan:HEX,...   search all of its own memory for each canary (hex) and
 *                  say "found N" or "clean" per canary, and which bytes
 *   fds            list its open fds with their types
 *   env            count its environment variables
 *   root           list its root directory, try /etc/passwd and /proc
 *   net            try a TCP connection to 127.0.0.1:PORT (PORT after ':')
 *   trap:WHAT      lock down as the real child would, then make a call the
 *                  policy forbids: socket, int80 (i386), x32
 *   spin           lock down, then spin past the deadline (ignoring it)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../sandbox/jail.h"
#include "../../sandbox/sandbox.h"

#define PAGE          4096UL
#define ADDR_SPACE    (1UL << 47) /* x86-64 user space, 4-level paging */
#define SCAN_CHUNK    (1UL << 20)
#define RESIDENT_SPAN (1UL << 30) /* mincore()'s window */
#define SHADOW_MIN    (1UL << 40) /* ASan's shadow; no mapping else is */
#define MAX_CANARIES  4
#define MAX_CANARY    128
#define X32_BIT       0x40000000L /* __X32_SYSCALL_BIT */
#define I386_GETPID   20          /* getpid in i386's table */

void __real_sbx_child_main(const struct sbx_host *host,
                           const struct sbx_job *job,
                           const struct sbx_start *st, struct sbx_report *rep)
    __attribute__((noreturn));
void __wrap_sbx_child_main(const struct sbx_host *host,
                           const struct sbx_job *job,
                           const struct sbx_start *st, struct sbx_report *rep)
    __attribute__((noreturn));

extern char **environ;

static struct sbx_report *report;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    if (report->out_len + (uint64_t)n > report->out_cap)
        return;
    memcpy(report->out + report->out_len, buf, (size_t)n);
    report->out_len += (uint64_t)n;
}

static void __attribute__((noreturn)) end(enum sbx_status st, const char *msg)
{
    snprintf(report->message, sizeof(report->message), "%s", msg);
    report->status = st;
    __atomic_store_n(&report->done, 1, __ATOMIC_RELEASE);
    JAIL_EXIT(0);
}

static int starts(const char *cmd, size_t len, const char *word)
{
    size_t n = strlen(word);

    return len >= n && memcmp(cmd, word, n) == 0;
}

/* ---- forged reports ------------------------------------------------------ */

static void __attribute__((noreturn)) forge(const char *field, size_t len)
{
    struct sbx_report *r = report;

#define IS(name) (len == strlen(name) && !memcmp(field, name, len))
    r->status = SBX_OK;
    snprintf(r->message, sizeof(r->message), "forged");
    if (IS("out_len")) {
        r->out_len = 1ULL << 40; /* far past the mapping */
    } else if (IS("out_cap")) {
        /* the header's own out_cap, and a length that fits it */
        r->out_cap = 1ULL << 40;
        r->out_len = (1ULL << 20) + 4096;
    } else if (IS("status")) {
        r->status = 99;
    } else if (IS("done")) {
        r->done = 7;
        JAIL_EXIT(0);
    } else if (IS("message")) {
        memset(r->message, 'A', sizeof(r->message));
    } else if (IS("fault_name")) {
        r->status = SBX_FAULT;
        memset(r->fault.name, '#', sizeof(r->fault.name));
    } else if (IS("vector")) {
        r->status = SBX_FAULT;
        r->fault.vector = 4096;
    } else if (IS("io")) {
        r->status = SBX_UNHANDLED_IO;
        r->io.size = 3;
    } else if (IS("err_len")) {
        r->err_len = 1ULL << 40; /* far past the mapping */
    } else if (IS("err_cap")) {
        /* the header's own err_cap, and a length that fits it */
        r->err_cap = 1ULL << 40;
        r->err_len = (1ULL << 20) + 4096;
    } else if (IS("signal")) {
        r->status = SBX_SIGNAL;
        r->signal = 1000;
    } else if (IS("unsupported_nr")) {
        r->unsupported = 1;
        r->unsupported_nr = -5;
    } else if (IS("syscall")) {
        r->violation_syscall = 0x7fffffff; /* then dies without a status */
        r->violation_arch = 0xc000003e;    /* AUDIT_ARCH_X86_64 */
        JAIL_EXIT(1);
    } else {
        end(SBX_INTERNAL_ERROR, "evil: unknown forge field");
    }
#undef IS
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    JAIL_EXIT(0);
}

/* The feedback region of a job that asked for it: everything a parent
 * could over-read on or misread. */
static void __attribute__((noreturn)) forge_feedback(const struct sbx_job *job)
{
    struct sbx_feedback *fb;
    static const struct sbx_cmp recs[] = {
        {.rip = 0x10000, .a = 0x1122334455667788ULL, .b = 7, .size = 4},
        {.rip = 0x10001, .a = 1, .b = 2, .size = 3},
        {.rip = 0x10002, .a = 0x1ff, .b = 0xffff, .size = 1},
        {.rip = 0x10003, .a = 1, .b = 2, .size = 8},
    };

    if (!job->feedback)
        end(SBX_INTERNAL_ERROR, "evil: the job has no feedback region");
    fb = (struct sbx_feedback *)((uint8_t *)report + job->feedback_off);
    memset(fb->edges, 0xff, sizeof(fb->edges));
    memcpy(fb->cmps, recs, sizeof(recs));
    fb->cmp_len = UINT32_MAX;
    end(SBX_OK, "forged feedback");
}

/* ---- its own memory, without /proc -------------------------------------- */

struct range {
    uintptr_t lo, hi;
};

static struct range ranges[4096];
static size_t nranges;

/* [lo, hi) holds no mapping at all: a no-replace mapping fits there. Raw
 * calls: ASan's mmap and munmap would (un)poison the shadow of the whole
 * range, terabytes of it. */
static int all_free(uintptr_t lo, uintptr_t hi)
{
    long p = syscall(SYS_mmap, lo, hi - lo, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE |
                         MAP_NORESERVE,
                     -1, 0);

    if (p < 0 && p > -4096)
        return 0;
    if (p == -1)
        return 0;
    syscall(SYS_munmap, (uintptr_t)p, hi - lo);
    return (uintptr_t)p == lo;
}

/* [lo, hi) is mapped throughout: madvise() fails for a range with a hole. */
static int all_mapped(uintptr_t lo, uintptr_t hi)
{
    return syscall(SYS_madvise, lo, hi - lo, MADV_NORMAL) == 0;
}

static void add_range(uintptr_t lo, uintptr_t hi)
{
    if (nranges && ranges[nranges - 1].hi == lo)
        ranges[nranges - 1].hi = hi;
    else if (nranges < sizeof(ranges) / sizeof(ranges[0]))
        ranges[nranges++] = (struct range){lo, hi};
}

/* Every mapped range in [lo, hi), by bisection: O(mappings x 35) calls. */
static void find_mapped(uintptr_t lo, uintptr_t hi)
{
    if (all_mapped(lo, hi)) {
        add_range(lo, hi);
        return;
    }
    if (hi - lo == PAGE || all_free(lo, hi))
        return;
    uintptr_t mid = lo + ((hi - lo) / 2 & ~(PAGE - 1));
    find_mapped(lo, mid);
    find_mapped(mid, hi);
}

static int unhex(const char *s, size_t n, unsigned char *out, size_t *len)
{
    static const char digits[] = "0123456789abcdef";

    if (n % 2 || n / 2 > MAX_CANARY)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        const char *a = memchr(digits, s[i], 16),
                   *b = memchr(digits, s[i + 1], 16);
        if (!a || !b)
            return -1;
        out[i / 2] = (unsigned char)((a - digits) * 16 + (b - digits));
    }
    *len = n / 2;
    return 0;
}

/* Each canary, by its hex in the command; the decoded copies live in
 * canary[] (a match there is not a find). */
static unsigned char canary[MAX_CANARIES][MAX_CANARY];
static unsigned char resident[RESIDENT_SPAN / PAGE];

/* Read [a, a + len) of this process (len <= SCAN_CHUNK) and count each
 * canary in it; the bytes read. */
static size_t search(uintptr_t a, size_t len, size_t n, const size_t *clen,
                     size_t *found)
{
    static unsigned char buf[SCAN_CHUNK];
    struct iovec local = {buf, len}, remote = {(void *)a, len};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

    if (got <= 0)
        return 0; /* PROT_NONE, or a guard page */
    for (size_t c = 0; c < n; c++) {
        const unsigned char *p = buf, *hit;
        size_t left = (size_t)got;
        while ((hit = memmem(p, left, canary[c], clen[c]))) {
            uintptr_t at = a + (uintptr_t)(hit - buf);
            uintptr_t own = (uintptr_t)canary;
            if (at < own || at >= own + sizeof(canary))
                found[c]++;
            left -= (size_t)(hit - p) + 1;
            p = hit + 1;
        }
    }
    return (size_t)got;
}

static void __attribute__((noreturn)) scan(const char *hex, size_t len)
{
    size_t clen[MAX_CANARIES], n = 0, scanned = 0, found[MAX_CANARIES] = {0};

    while (len && n < MAX_CANARIES) {
        const char *comma = memchr(hex, ',', len);
        size_t part = comma ? (size_t)(comma - hex) : len;
        if (unhex(hex, part, canary[n], &clen[n]) != 0)
            end(SBX_INTERNAL_ERROR, "evil: bad canary hex");
        n++;
        hex += part + (comma ? 1 : 0);
        len -= part + (comma ? 1 : 0);
    }
    find_mapped(PAGE, ADDR_SPACE);
    /* Only pages that hold anything (mincore: resident): a page never
     * touched holds nothing. A range of a terabyte or more is a sanitizer
     * build's shadow memory, whose bytes (0-7, 0xf1-0xff) are no text. */
    for (size_t r = 0; r < nranges; r++) {
        if (ranges[r].hi - ranges[r].lo >= SHADOW_MIN)
            continue;
        for (uintptr_t a = ranges[r].lo; a < ranges[r].hi; a += RESIDENT_SPAN) {
            size_t span = ranges[r].hi - a < RESIDENT_SPAN ? ranges[r].hi - a
                                                           : RESIDENT_SPAN;
            if (mincore((void *)a, span, resident) != 0)
                continue;
            for (size_t i = 0; i < span / PAGE;) {
                size_t j = i;
                while (j < span / PAGE && (j - i) * PAGE < SCAN_CHUNK &&
                       (resident[j] & 1))
                    j++;
                if (j > i)
                    scanned += search((uintptr_t)a + i * PAGE, (j - i) * PAGE,
                                      n, clen, found);
                i = j > i ? j : i + 1;
            }
        }
    }
    for (size_t c = 0; c < n; c++)
        say("%s ", found[c] ? "found" : "clean");
    say("%zu ranges %zu bytes\n", nranges, scanned);
    end(SBX_OK, "scanned");
}

/* ---- what else it holds -------------------------------------------------- */

static void __attribute__((noreturn)) fds(void)
{
    for (int fd = 0; fd < 1024; fd++) {
        struct stat st;
        if (fcntl(fd, F_GETFD) < 0 || fstat(fd, &st) != 0)
            continue;
        const char *t = S_ISSOCK(st.st_mode)   ? "sock"
                        : S_ISREG(st.st_mode)  ? "file"
                        : S_ISDIR(st.st_mode)  ? "dir"
                        : S_ISCHR(st.st_mode)  ? "chr"
                        : S_ISFIFO(st.st_mode) ? "fifo"
                                               : "other";
        say("%d:%s ", fd, t);
    }
    say("\n");
    end(SBX_OK, "fds listed");
}

static void __attribute__((noreturn)) env(void)
{
    size_t n = 0;

    for (char **e = environ; e && *e; e++)
        n++;
    say("env %zu\n", n);
    end(SBX_OK, "env counted");
}

static void __attribute__((noreturn)) root(void)
{
    DIR *d = opendir("/");
    struct dirent *e;
    size_t n = 0;

    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    say("root %zu passwd %s proc %s\n", n,
        access("/etc/passwd", F_OK) == 0 ? "yes" : "no",
        access("/proc/self", F_OK) == 0 ? "yes" : "no");
    end(SBX_OK, "root listed");
}

static void __attribute__((noreturn)) net(const char *port, size_t len)
{
    char p[8] = {0};
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM, 0), rc;

    memcpy(p, port, len < sizeof(p) - 1 ? len : sizeof(p) - 1);
    a.sin_port = htons((uint16_t)atoi(p));
    rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof(a));
    say("connect %s\n", rc == 0 ? "ok" : strerror(errno));
    end(SBX_OK, "net tried");
}

/* Lock down as the real child would (the emulator's filter: one stage). */
static void lock_down(const struct sbx_host *host, const struct sbx_job *job,
                      const struct sbx_start *st)
{
    const struct jail_limits lim = {.keep_fd = -1,
                                    .timeout_ms = job->timeout_ms};
    char err[SBX_MESSAGE_MAX];
    const struct sbx_filter *f =
        job->backend == SBX_BACKEND_EMU ? &host->emu : &host->stage1;

    if (jail_enter(report, st, &lim, err, sizeof(err)) != 0)
        end(SBX_INTERNAL_ERROR, err);
    if (jail_lock(f) != 0 ||
        (job->backend == SBX_BACKEND_KVM && jail_lock(&host->stage2) != 0))
        end(SBX_INTERNAL_ERROR, "evil: seccomp");
}

static void __attribute__((noreturn)) trap(const char *what, size_t len)
{
    if (len == 6 && !memcmp(what, "socket", 6))
        syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    else if (len == 5 && !memcmp(what, "int80", 5))
        __asm__ volatile("int $0x80" : : "a"(I386_GETPID) : "memory");
    else if (len == 3 && !memcmp(what, "x32", 3))
        syscall(X32_BIT | SYS_getpid);
    end(SBX_OK, "evil: the forbidden call returned");
}

void __wrap_sbx_child_main(const struct sbx_host *host,
                           const struct sbx_job *job,
                           const struct sbx_start *st, struct sbx_report *rep)
{
    const char *cmd = (const char *)job->input;
    size_t len = job->input_len;

    report = rep;
    if (starts(cmd, len, "forge:"))
        forge(cmd + 6, len - 6);
    if (starts(cmd, len, "feedback:forge"))
        forge_feedback(job);
    if (starts(cmd, len, "message:ctl")) {
        snprintf(rep->message, sizeof(rep->message),
                 "line one\nline two\r\x1b[31mred\x1b[0m\x07 back\\slash");
        rep->status = SBX_FAULT;
        snprintf(rep->fault.name, sizeof(rep->fault.name), "#\x1b[1mX");
        __atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
        JAIL_EXIT(0);
    }
    if (starts(cmd, len, "scan:"))
        scan(cmd + 5, len - 5);
    if (starts(cmd, len, "fds"))
        fds();
    if (starts(cmd, len, "env"))
        env();
    if (starts(cmd, len, "root"))
        root();
    if (starts(cmd, len, "net:"))
        net(cmd + 4, len - 4);
    if (starts(cmd, len, "trap:")) {
        lock_down(host, job, st);
        trap(cmd + 5, len - 5);
    }
    if (starts(cmd, len, "spin")) {
        lock_down(host, job, st);
        for (;;)
            __asm__ volatile("pause");
    }
    __real_sbx_child_main(host, job, st, rep);
}
