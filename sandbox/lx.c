/*
 * lx.c - the Linux system-call personality (see lx.h). The table at the
 * bottom has one line per call tincan answers, saying what it does; each
 * call is one small function. A number outside the table returns -ENOSYS
 * and is counted (with --strict-syscalls it ends the job instead).
 */
#include "lx.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "lxframe.h"
#include "x86.h"

#define LX_END     INT64_MIN /* a handler ended the job */
#define PAGE       (1ULL << LX_PAGE_SHIFT)
#define NS_PER_S   1000000000ULL
#define NS_PER_US  1000ULL
#define CLK_TCK    100 /* times(): AT_CLKTCK */
#define PATH_MAX_  4096
#define IOV_MAX_   1024
#define USER_TOP   (1ULL << 47) /* canonical user addresses lie below */
#define RANDOM_MAX 33554431ULL  /* getrandom: most bytes per call, as Linux */
/* "syscall" = 0F 05: the call's rip from the rip after it */
#define LX_SYSCALL_LEN 2

/* The ABI's numbers (Linux UAPI, x86-64), named here: the host's headers
 * would bring the host's definitions of the structures too. */
#define LX_MAP_SHARED           0x01
#define LX_MAP_PRIVATE          0x02
#define LX_MAP_SHARED_VALIDATE  0x03
#define LX_MAP_TYPE             0x0f
#define LX_MAP_FIXED            0x10
#define LX_MAP_ANONYMOUS        0x20
#define LX_MAP_FIXED_NOREPLACE  0x100000
#define LX_MREMAP_MAYMOVE       1
#define LX_MREMAP_FIXED         2
#define LX_MADV_DONTNEED        4
#define LX_ARCH_SET_GS          0x1001
#define LX_ARCH_SET_FS          0x1002
#define LX_ARCH_GET_FS          0x1003
#define LX_ARCH_GET_GS          0x1004
#define LX_AT_FDCWD             (-100)
#define LX_AT_EMPTY_PATH        0x1000
#define LX_S_IFIFO              0010000
#define LX_O_RDONLY             0
#define LX_O_WRONLY             1
#define LX_F_DUPFD              0
#define LX_F_GETFD              1
#define LX_F_SETFD              2
#define LX_F_GETFL              3
#define LX_F_SETFL              4
#define LX_F_DUPFD_CLOEXEC      1030
#define LX_SIG_BLOCK            0
#define LX_SIG_UNBLOCK          1
#define LX_SIG_SETMASK          2
#define LX_SIG_IGN              1
#define LX_SIGKILL              9
#define LX_SIGSTOP              19
#define LX_SIGCHLD              17
#define LX_SIGCONT              18
#define LX_SIGURG               23
#define LX_SIGWINCH             28
#define LX_SS_DISABLE           2
#define LX_SS_AUTODISARM        (1U << 31)
#define LX_MINSIGSTKSZ          2048
#define LX_FUTEX_WAIT           0
#define LX_FUTEX_WAKE           1
#define LX_FUTEX_REQUEUE        3
#define LX_FUTEX_CMP_REQUEUE    4
#define LX_FUTEX_WAIT_BITSET    9
#define LX_FUTEX_WAKE_BITSET    10
#define LX_FUTEX_CMD_MASK       0x7f /* without PRIVATE and CLOCK_REALTIME */
#define LX_TIMER_ABSTIME        1
#define LX_GRND_FLAGS           0x7 /* NONBLOCK, RANDOM, INSECURE */
#define LX_RLIM_NLIMITS         16
#define LX_RLIM_INFINITY        UINT64_MAX
#define LX_RLIMIT_FSIZE         1
#define LX_RLIMIT_DATA          2
#define LX_RLIMIT_STACK         3
#define LX_RLIMIT_CORE          4
#define LX_RLIMIT_NPROC         6
#define LX_RLIMIT_NOFILE        7
#define LX_RLIMIT_AS            9
#define LX_RUSAGE_CHILDREN      (-1)
#define LX_RUSAGE_SELF          0
#define LX_RUSAGE_THREAD        1
#define LX_CLOCK_THREAD_CPUTIME 3
#define LX_CLOCK_MAX            11 /* CLOCK_TAI */
#define LX_STDIO_FDS            3
#define LX_STATX_BASIC_STATS    0x7ff
#define LX_UTS_LEN              65
#define LX_ROBUST_LIST_SIZE     24

/* The kernel's struct stat (x86-64): 144 bytes. */
struct lx_stat {
    uint64_t dev, ino, nlink;
    uint32_t mode, uid, gid, pad0;
    uint64_t rdev;
    int64_t size, blksize, blocks;
    uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
    int64_t unused[3];
};
_Static_assert(sizeof(struct lx_stat) == 144, "struct stat");

/* The kernel's struct statx: 256 bytes. */
struct lx_statx_ts {
    int64_t sec;
    uint32_t nsec;
    int32_t reserved;
};
struct lx_statx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, spare0;
    uint64_t ino, size, blocks, attributes_mask;
    struct lx_statx_ts atime, btime, ctime, mtime;
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t spare[14];
};
_Static_assert(sizeof(struct lx_statx) == 256, "struct statx");

struct lx_timespec {
    int64_t sec, nsec;
};

struct lx_ctx {
    struct abi_guest *g;
    struct lx_proc *p;
    const struct lx_call *in;
    struct lx_ret *out;
};

#define ARG(c, i) ((c)->in->arg[i])

static int64_t unsupported(struct lx_ctx *c);

/* ---- guest memory, always through abi_user_range_ok ----------------- */

static int get_mem(struct lx_ctx *c, uint64_t addr, void *dst, uint64_t len)
{
    if (!abi_user_range_ok(c->g, addr, len))
        return -EFAULT;
    memcpy(dst, c->g->mem + addr, len);
    return 0;
}

static int put_mem(struct lx_ctx *c, uint64_t addr, const void *src,
                   uint64_t len)
{
    if (!abi_user_range_ok(c->g, addr, len))
        return -EFAULT;
    memcpy(c->g->mem + addr, src, len);
    return 0;
}

/* A NUL-terminated path into buf: its length, -EFAULT or -ENAMETOOLONG. */
static int64_t get_path(struct lx_ctx *c, uint64_t addr, char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (!abi_user_range_ok(c->g, addr + i, 1))
            return -EFAULT;
        buf[i] = (char)c->g->mem[addr + i];
        if (!buf[i])
            return (int64_t)i;
    }
    return -ENAMETOOLONG;
}

/* ---- the process's state ------------------------------------------- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void lx_seed_bytes(uint64_t seed, uint64_t salt, uint8_t *buf, size_t len)
{
    uint64_t x = seed ^ rotl(salt, 32);

    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64(&x);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(buf + i, &v, n);
    }
}

/* xoshiro256** (Blackman and Vigna): getrandom's stream. */
static uint64_t rng_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

#define LX_SALT_GETRANDOM 1

void lx_init(struct lx_proc *p, const struct sbx_job *job)
{
    /* All but the page map, of which only the heap's words: the rest of it
     * is never read, and a page the child never touches costs nothing. */
    memset(p, 0, offsetof(struct lx_proc, used));
    p->input = job->input;
    p->input_len = job->input_len;
    p->brk_start = p->brk = job->lx.brk_start;
    p->heap_end = job->lx.heap_end;
    p->mem_size = job->mem_size;
    p->stack_size = job->lx.stack_size;
    if (p->heap_end > p->mem_size || p->brk_start > p->heap_end)
        p->heap_end = p->brk_start = 0; /* the runner planned it; be safe */
    memset(p->used, 0, (p->heap_end / PAGE + 63) / 64 * sizeof(p->used[0]));
    lx_seed_bytes(job->lx.seed, LX_SALT_GETRANDOM, (uint8_t *)p->rng,
                  sizeof(p->rng));
    p->altstack_flags = LX_SS_DISABLE;
    p->umask = 022;
    p->strict = job->lx.strict;
    memcpy(p->name, job->lx.name, sizeof(p->name));
    p->name[sizeof(p->name) - 1] = '\0';
}

/* ---- heap pages: brk from the bottom, mmap from the top -------------- */

static int page_used(const struct lx_proc *p, uint64_t page)
{
    return (p->used[page / 64] >> (page % 64)) & 1;
}

static void mark_pages(struct lx_proc *p, uint64_t addr, uint64_t len, int used)
{
    for (uint64_t pg = addr / PAGE; pg < (addr + len) / PAGE; pg++) {
        if (used)
            p->used[pg / 64] |= 1ULL << (pg % 64);
        else
            p->used[pg / 64] &= ~(1ULL << (pg % 64));
    }
}

static int pages_free(const struct lx_proc *p, uint64_t addr, uint64_t len)
{
    for (uint64_t pg = addr / PAGE; pg < (addr + len) / PAGE; pg++)
        if (page_used(p, pg))
            return 0;
    return 1;
}

/*
 * Zero what the program leaves, so that memory it gets again reads as
 * zero, as fresh anonymous memory does. Pages that are zero already are
 * only read: one the program never touched stays unbacked.
 */
static void zero_pages(struct lx_ctx *c, uint64_t addr, uint64_t len)
{
    static const uint8_t zero[PAGE];

    for (uint64_t a = addr; a < addr + len; a += PAGE)
        if (abi_user_range_ok(c->g, a, PAGE) &&
            memcmp(c->g->mem + a, zero, PAGE) != 0)
            memset(c->g->mem + a, 0, PAGE);
}

static int in_heap(const struct lx_proc *p, uint64_t addr, uint64_t len)
{
    return addr >= p->brk_start && addr <= p->heap_end &&
           len <= p->heap_end - addr;
}

static uint64_t page_up(uint64_t v)
{
    return (v + PAGE - 1) & ~(PAGE - 1);
}

/* The highest free run of len bytes in the heap, or 0. */
static uint64_t find_free(const struct lx_proc *p, uint64_t len)
{
    uint64_t need = len / PAGE, run = 0;

    for (uint64_t pg = p->heap_end / PAGE; pg > p->brk / PAGE; pg--) {
        run = page_used(p, pg - 1) ? 0 : run + 1;
        if (run == need)
            return (pg - 1) * PAGE;
    }
    return 0;
}

/* ---- the calls ------------------------------------------------------- */

static int64_t stream_of(struct lx_ctx *c, uint64_t fd, enum abi_stream *s)
{
    if (fd >= LX_STDIO_FDS || (c->p->closed >> fd) & 1)
        return -EBADF;
    if (fd == 0)
        return -EBADF; /* stdin is the read end */
    *s = fd == 1 ? ABI_STDOUT : ABI_STDERR;
    return 0;
}

static int fd_open(struct lx_ctx *c, uint64_t fd)
{
    return fd < LX_STDIO_FDS && !((c->p->closed >> fd) & 1);
}

static int64_t emit(struct lx_ctx *c, enum abi_stream s, uint64_t addr,
                    uint64_t len)
{
    if (abi_emit(c->g, s, c->g->mem + addr, len) == ABI_END)
        return LX_END;
    return (int64_t)len;
}

static int64_t read_input(struct lx_ctx *c, uint64_t buf, uint64_t len)
{
    struct lx_proc *p = c->p;
    uint64_t left = p->input_len - p->input_off;
    uint64_t n = len < left ? len : left;

    if (n && put_mem(c, buf, p->input + p->input_off, n))
        return -EFAULT;
    p->input_off += n;
    return (int64_t)n;
}

static int64_t sys_read(struct lx_ctx *c)
{
    if (ARG(c, 0) != 0 || !fd_open(c, 0))
        return -EBADF;
    return read_input(c, ARG(c, 1), ARG(c, 2));
}

static int64_t sys_write(struct lx_ctx *c)
{
    enum abi_stream s;
    int64_t rc = stream_of(c, ARG(c, 0), &s);

    if (rc)
        return rc;
    if (ARG(c, 2) == 0)
        return 0; /* Linux checks no buffer for nothing */
    if (!abi_user_range_ok(c->g, ARG(c, 1), ARG(c, 2)))
        return -EFAULT;
    return emit(c, s, ARG(c, 1), ARG(c, 2));
}

struct lx_iovec {
    uint64_t base, len;
};

/* The iovec array of readv/writev, checked: count, or -errno. */
static int64_t get_iov(struct lx_ctx *c, uint64_t addr, uint64_t n)
{
    if (n > IOV_MAX_)
        return -EINVAL;
    if (!abi_user_range_ok(c->g, addr, n * sizeof(struct lx_iovec)))
        return -EFAULT;
    return (int64_t)n;
}

static struct lx_iovec iov_at(struct lx_ctx *c, uint64_t addr, uint64_t i)
{
    struct lx_iovec v;

    memcpy(&v, c->g->mem + addr + i * sizeof(v), sizeof(v));
    return v;
}

static int64_t sys_readv(struct lx_ctx *c)
{
    int64_t n = get_iov(c, ARG(c, 1), ARG(c, 2)), total = 0;

    if (ARG(c, 0) != 0 || !fd_open(c, 0))
        return -EBADF;
    if (n < 0)
        return n;
    for (int64_t i = 0; i < n; i++) {
        struct lx_iovec v = iov_at(c, ARG(c, 1), (uint64_t)i);
        int64_t got = read_input(c, v.base, v.len);
        if (got < 0)
            return total ? total : got;
        total += got;
        if ((uint64_t)got < v.len)
            break;
    }
    return total;
}

static int64_t sys_writev(struct lx_ctx *c)
{
    enum abi_stream s;
    int64_t rc = stream_of(c, ARG(c, 0), &s), n, total = 0;

    if (rc)
        return rc;
    n = get_iov(c, ARG(c, 1), ARG(c, 2));
    if (n < 0)
        return n;
    for (int64_t i = 0; i < n; i++) {
        struct lx_iovec v = iov_at(c, ARG(c, 1), (uint64_t)i);
        if (v.len && !abi_user_range_ok(c->g, v.base, v.len))
            return -EFAULT;
    }
    for (int64_t i = 0; i < n; i++) {
        struct lx_iovec v = iov_at(c, ARG(c, 1), (uint64_t)i);
        if (v.len && emit(c, s, v.base, v.len) == LX_END)
            return LX_END;
        total += (int64_t)v.len;
    }
    return total;
}

/* pread/pwrite/preadv/pwritev and lseek: fds 0-2 are pipes. */
static int64_t sys_espipe(struct lx_ctx *c)
{
    return fd_open(c, ARG(c, 0)) ? -ESPIPE : -EBADF;
}

static int64_t sys_close(struct lx_ctx *c)
{
    if (!fd_open(c, ARG(c, 0)))
        return -EBADF;
    c->p->closed |= 1U << ARG(c, 0);
    return 0;
}

static void fill_stat(struct lx_stat *st, uint64_t fd)
{
    memset(st, 0, sizeof(*st));
    st->dev = 1;
    st->ino = fd + 1;
    st->nlink = 1;
    st->mode = LX_S_IFIFO | 0600;
    st->uid = LX_UID;
    st->gid = LX_GID;
    st->blksize = (int64_t)PAGE;
}

static int64_t stat_fd(struct lx_ctx *c, uint64_t fd, uint64_t buf)
{
    struct lx_stat st;

    if (!fd_open(c, fd))
        return -EBADF;
    fill_stat(&st, fd);
    return put_mem(c, buf, &st, sizeof(st));
}

static int64_t sys_fstat(struct lx_ctx *c)
{
    return stat_fd(c, ARG(c, 0), ARG(c, 1));
}

/* A path argument: tincan has no files, so a readable path is ENOENT. */
static int64_t no_file(struct lx_ctx *c, uint64_t path)
{
    char buf[PATH_MAX_];
    int64_t n = get_path(c, path, buf, sizeof(buf));

    return n < 0 ? n : -ENOENT;
}

static int64_t sys_newfstatat(struct lx_ctx *c)
{
    char buf[PATH_MAX_];
    int64_t n = get_path(c, ARG(c, 1), buf, sizeof(buf));

    if (n < 0)
        return n;
    if (n == 0 && (ARG(c, 3) & LX_AT_EMPTY_PATH))
        return stat_fd(c, ARG(c, 0), ARG(c, 2));
    return -ENOENT;
}

static int64_t sys_statx(struct lx_ctx *c)
{
    char buf[PATH_MAX_];
    int64_t n = get_path(c, ARG(c, 1), buf, sizeof(buf));
    struct lx_statx sx;
    struct lx_stat st;
    uint64_t fd = ARG(c, 0);

    if (n < 0)
        return n;
    if (n != 0 || !(ARG(c, 2) & LX_AT_EMPTY_PATH))
        return -ENOENT;
    if (!fd_open(c, fd))
        return -EBADF;
    fill_stat(&st, fd);
    memset(&sx, 0, sizeof(sx));
    sx.mask = LX_STATX_BASIC_STATS;
    sx.blksize = (uint32_t)st.blksize;
    sx.nlink = (uint32_t)st.nlink;
    sx.uid = st.uid;
    sx.gid = st.gid;
    sx.mode = (uint16_t)st.mode;
    sx.ino = st.ino;
    sx.dev_minor = (uint32_t)st.dev;
    return put_mem(c, ARG(c, 4), &sx, sizeof(sx));
}

static int64_t sys_open(struct lx_ctx *c)
{
    return no_file(c, ARG(c, 0));
}

static int64_t sys_openat(struct lx_ctx *c)
{
    return no_file(c, ARG(c, 1));
}

static int64_t sys_ioctl(struct lx_ctx *c)
{
    return fd_open(c, ARG(c, 0)) ? -ENOTTY : -EBADF;
}

static int64_t sys_fcntl(struct lx_ctx *c)
{
    uint64_t fd = ARG(c, 0);

    if (!fd_open(c, fd))
        return -EBADF;
    switch (ARG(c, 1)) {
    case LX_F_GETFD:
        return 0;
    case LX_F_SETFD:
    case LX_F_SETFL:
        return 0;
    case LX_F_GETFL:
        return fd == 0 ? LX_O_RDONLY : LX_O_WRONLY;
    case LX_F_DUPFD:
    case LX_F_DUPFD_CLOEXEC:
        return -EMFILE;
    default:
        return -EINVAL;
    }
}

static int64_t sys_brk(struct lx_ctx *c)
{
    struct lx_proc *p = c->p;
    uint64_t want = ARG(c, 0), old = page_up(p->brk), new_top;

    if (want < p->brk_start || want > p->heap_end)
        return (int64_t)p->brk;
    new_top = page_up(want);
    if (new_top > old) {
        if (!pages_free(p, old, new_top - old))
            return (int64_t)p->brk;
        mark_pages(p, old, new_top - old, 1);
    } else if (new_top < old) {
        zero_pages(c, new_top, old - new_top);
        mark_pages(p, new_top, old - new_top, 0);
    }
    p->brk = want;
    return (int64_t)p->brk;
}

static int64_t sys_mmap(struct lx_ctx *c)
{
    struct lx_proc *p = c->p;
    uint64_t addr = ARG(c, 0), len = ARG(c, 1), flags = ARG(c, 3);
    uint64_t type = flags & LX_MAP_TYPE, at;
    int fixed = (flags & (LX_MAP_FIXED | LX_MAP_FIXED_NOREPLACE)) != 0;

    if (len == 0 || (ARG(c, 5) % PAGE) ||
        (type != LX_MAP_PRIVATE && type != LX_MAP_SHARED &&
         type != LX_MAP_SHARED_VALIDATE))
        return -EINVAL;
    if (!(flags & LX_MAP_ANONYMOUS))
        return fd_open(c, ARG(c, 4)) ? -ENODEV : -EBADF;
    if (len > p->heap_end)
        return -ENOMEM;
    len = page_up(len);
    if (fixed) {
        if (addr % PAGE)
            return -EINVAL;
        if (!in_heap(p, addr, len) || addr < page_up(p->brk))
            return -ENOMEM;
        if (!pages_free(p, addr, len)) {
            if (flags & LX_MAP_FIXED_NOREPLACE)
                return -EEXIST;
            zero_pages(c, addr, len);
        }
        mark_pages(p, addr, len, 1);
        return (int64_t)addr;
    }
    at = find_free(p, len);
    if (!at)
        return -ENOMEM;
    mark_pages(p, at, len, 1);
    return (int64_t)at;
}

static int64_t sys_munmap(struct lx_ctx *c)
{
    struct lx_proc *p = c->p;
    uint64_t addr = ARG(c, 0), len = page_up(ARG(c, 1));

    if (addr % PAGE || ARG(c, 1) == 0 || !abi_user_range_ok(c->g, addr, len))
        return -EINVAL;
    /* Only mmap's pages are given back; brk's stay brk's. */
    if (in_heap(p, addr, len) && addr >= page_up(p->brk)) {
        zero_pages(c, addr, len);
        mark_pages(p, addr, len, 0);
    }
    return 0;
}

static int64_t sys_mremap(struct lx_ctx *c)
{
    struct lx_proc *p = c->p;
    uint64_t old = ARG(c, 0), old_len = page_up(ARG(c, 1));
    uint64_t new_len = page_up(ARG(c, 2)), flags = ARG(c, 3), at;

    if (old % PAGE || new_len == 0 || (flags & LX_MREMAP_FIXED) ||
        (flags & ~(uint64_t)LX_MREMAP_MAYMOVE))
        return -EINVAL;
    if (!in_heap(p, old, old_len) || old < page_up(p->brk))
        return -EFAULT;
    if (new_len <= old_len) {
        zero_pages(c, old + new_len, old_len - new_len);
        mark_pages(p, old + new_len, old_len - new_len, 0);
        return (int64_t)old;
    }
    if (in_heap(p, old, new_len) &&
        pages_free(p, old + old_len, new_len - old_len)) {
        mark_pages(p, old + old_len, new_len - old_len, 1);
        return (int64_t)old;
    }
    if (!(flags & LX_MREMAP_MAYMOVE))
        return -ENOMEM;
    at = find_free(p, new_len);
    if (!at)
        return -ENOMEM;
    mark_pages(p, at, new_len, 1);
    memmove(c->g->mem + at, c->g->mem + old, old_len);
    zero_pages(c, old, old_len);
    mark_pages(p, old, old_len, 0);
    return (int64_t)at;
}

static int64_t sys_mprotect(struct lx_ctx *c)
{
    uint64_t addr = ARG(c, 0), len = page_up(ARG(c, 1));

    if (addr % PAGE)
        return -EINVAL;
    return abi_user_range_ok(c->g, addr, len) ? 0 : -ENOMEM;
}

static int64_t sys_madvise(struct lx_ctx *c)
{
    uint64_t addr = ARG(c, 0), len = page_up(ARG(c, 1));

    if (addr % PAGE)
        return -EINVAL;
    if (!abi_user_range_ok(c->g, addr, len))
        return -ENOMEM;
    if (ARG(c, 2) == LX_MADV_DONTNEED && in_heap(c->p, addr, len))
        zero_pages(c, addr, len);
    return 0;
}

static int64_t sys_arch_prctl(struct lx_ctx *c)
{
    uint64_t v = ARG(c, 1);

    switch (ARG(c, 0)) {
    case LX_ARCH_SET_FS:
    case LX_ARCH_SET_GS:
        if (v >= USER_TOP)
            return -EPERM;
        if (ARG(c, 0) == LX_ARCH_SET_FS)
            c->p->fs_base = v;
        else
            c->p->gs_base = v;
        c->out->msr =
            ARG(c, 0) == LX_ARCH_SET_FS ? LX_MSR_FS_BASE : LX_MSR_GS_BASE;
        c->out->msr_value = v;
        return 0;
    case LX_ARCH_GET_FS:
        return put_mem(c, v, &c->p->fs_base, 8);
    case LX_ARCH_GET_GS:
        return put_mem(c, v, &c->p->gs_base, 8);
    default:
        return -EINVAL;
    }
}

static int64_t sys_set_tid_address(struct lx_ctx *c)
{
    c->p->tid_address = ARG(c, 0);
    return LX_TID;
}

static int64_t sys_set_robust_list(struct lx_ctx *c)
{
    return ARG(c, 1) == LX_ROBUST_LIST_SIZE ? 0 : -EINVAL;
}

static int64_t sys_enosys(struct lx_ctx *c)
{
    (void)c;
    return -ENOSYS;
}

static int64_t sys_eperm(struct lx_ctx *c)
{
    (void)c;
    return -EPERM;
}

/* ---- signals: recorded, never delivered ------------------------------ */

static int default_ignored(unsigned sig)
{
    return sig == LX_SIGCHLD || sig == LX_SIGCONT || sig == LX_SIGURG ||
           sig == LX_SIGWINCH;
}

static uint64_t sigbit(unsigned sig)
{
    return 1ULL << (sig - 1);
}

/* The signal reaches the program: the job ends, named by the signal. */
static int64_t deliver(struct lx_ctx *c, unsigned sig)
{
    const struct lx_sigaction *a = &c->p->sigact[sig];
    const char *name = sigabbrev_np((int)sig);

    c->g->rep->signal = (int32_t)sig;
    abi_end(c->g, SBX_SIGNAL, "the program was killed by signal %u (SIG%s)%s",
            sig, name ? name : "?",
            a->handler > LX_SIG_IGN ? "; it has a handler, but tincan "
                                      "delivers no signals"
                                    : "");
    return LX_END;
}

/* A signal the program sent itself. */
static int64_t raise_self(struct lx_ctx *c, uint64_t sig)
{
    struct lx_proc *p = c->p;

    if (sig == 0)
        return 0;
    if (sig > LX_SIGNALS)
        return -EINVAL;
    if (sig != LX_SIGKILL && sig != LX_SIGSTOP) {
        if (p->sigact[sig].handler == LX_SIG_IGN ||
            (p->sigact[sig].handler == 0 && default_ignored((unsigned)sig)))
            return 0;
        if (p->sigmask & sigbit((unsigned)sig)) {
            p->sigpending |= sigbit((unsigned)sig);
            return 0;
        }
    }
    return deliver(c, (unsigned)sig);
}

static int64_t sys_kill(struct lx_ctx *c)
{
    int64_t pid = (int64_t)ARG(c, 0);

    if (pid != LX_PID && pid != 0 && pid != -1)
        return -ESRCH;
    return raise_self(c, ARG(c, 1));
}

static int64_t sys_tkill(struct lx_ctx *c)
{
    if ((int64_t)ARG(c, 0) != LX_TID)
        return -ESRCH;
    return raise_self(c, ARG(c, 1));
}

static int64_t sys_tgkill(struct lx_ctx *c)
{
    if ((int64_t)ARG(c, 0) != LX_PID || (int64_t)ARG(c, 1) != LX_TID)
        return -ESRCH;
    return raise_self(c, ARG(c, 2));
}

static int64_t sys_rt_sigaction(struct lx_ctx *c)
{
    uint64_t sig = ARG(c, 0), act = ARG(c, 1), old = ARG(c, 2);
    struct lx_sigaction a;

    if (ARG(c, 3) != 8 || sig == 0 || sig > LX_SIGNALS ||
        (act && (sig == LX_SIGKILL || sig == LX_SIGSTOP)))
        return -EINVAL;
    if (act && get_mem(c, act, &a, sizeof(a)))
        return -EFAULT;
    if (old && put_mem(c, old, &c->p->sigact[sig], sizeof(a)))
        return -EFAULT;
    if (act)
        c->p->sigact[sig] = a;
    return 0;
}

static int64_t sys_rt_sigprocmask(struct lx_ctx *c)
{
    struct lx_proc *p = c->p;
    uint64_t set, unblockable = sigbit(LX_SIGKILL) | sigbit(LX_SIGSTOP);

    if (ARG(c, 3) != 8)
        return -EINVAL;
    if (ARG(c, 2) && put_mem(c, ARG(c, 2), &p->sigmask, 8))
        return -EFAULT;
    if (!ARG(c, 1))
        return 0;
    if (get_mem(c, ARG(c, 1), &set, 8))
        return -EFAULT;
    switch (ARG(c, 0)) {
    case LX_SIG_BLOCK:
        p->sigmask |= set;
        break;
    case LX_SIG_UNBLOCK:
        p->sigmask &= ~set;
        break;
    case LX_SIG_SETMASK:
        p->sigmask = set;
        break;
    default:
        return -EINVAL;
    }
    p->sigmask &= ~unblockable;
    uint64_t ready = p->sigpending & ~p->sigmask;
    if (ready)
        return deliver(c, (unsigned)__builtin_ctzll(ready) + 1);
    return 0;
}

struct lx_stack_t {
    uint64_t sp;
    int32_t flags, pad;
    uint64_t size;
};

static int64_t sys_sigaltstack(struct lx_ctx *c)
{
    struct lx_proc *p = c->p;
    struct lx_stack_t ss, old = {.sp = p->altstack_sp,
                                 .flags = p->altstack_flags,
                                 .size = p->altstack_size};

    if (ARG(c, 0) && get_mem(c, ARG(c, 0), &ss, sizeof(ss)))
        return -EFAULT;
    if (ARG(c, 0)) {
        uint32_t mode = (uint32_t)ss.flags & ~LX_SS_AUTODISARM;
        if (mode != 0 && mode != LX_SS_DISABLE)
            return -EINVAL;
        if (mode == 0 && ss.size < LX_MINSIGSTKSZ)
            return -ENOMEM;
    }
    if (ARG(c, 1) && put_mem(c, ARG(c, 1), &old, sizeof(old)))
        return -EFAULT;
    if (ARG(c, 0)) {
        p->altstack_sp = ss.sp;
        p->altstack_size = ss.size;
        p->altstack_flags = ss.flags;
    }
    return 0;
}

/* ---- identity -------------------------------------------------------- */

static int64_t sys_getpid(struct lx_ctx *c)
{
    (void)c;
    return LX_PID;
}

static int64_t sys_getppid(struct lx_ctx *c)
{
    (void)c;
    return LX_PPID;
}

static int64_t sys_getuid(struct lx_ctx *c)
{
    (void)c;
    return LX_UID;
}

static int64_t sys_getgid(struct lx_ctx *c)
{
    (void)c;
    return LX_GID;
}

static int64_t sys_umask(struct lx_ctx *c)
{
    uint32_t old = c->p->umask;

    c->p->umask = (uint32_t)ARG(c, 0) & 0777;
    return old;
}

static int64_t sys_uname(struct lx_ctx *c)
{
    static const char fields[6][LX_UTS_LEN] = {
        "Linux", "tincan", "6.1.0-tincan", "#1 SMP tincan", "x86_64", "(none)"};

    return put_mem(c, ARG(c, 0), fields, sizeof(fields));
}

static int64_t sys_getcwd(struct lx_ctx *c)
{
    static const char cwd[] = "/";

    if (ARG(c, 1) < sizeof(cwd))
        return -ERANGE;
    if (put_mem(c, ARG(c, 0), cwd, sizeof(cwd)))
        return -EFAULT;
    return sizeof(cwd);
}

/* readlink(path, buf, size) at argument index i. */
static int64_t do_readlink(struct lx_ctx *c, unsigned i)
{
    char path[PATH_MAX_], exe[SBX_LX_NAME_MAX + 1];
    int64_t n = get_path(c, ARG(c, i), path, sizeof(path));
    uint64_t size = ARG(c, i + 2), len;

    if (n < 0)
        return n;
    if (strcmp(path, "/proc/self/exe") != 0)
        return -ENOENT;
    if ((int64_t)size <= 0)
        return -EINVAL;
    len = (uint64_t)snprintf(exe, sizeof(exe), "/%s", c->p->name);
    len = len < size ? len : size;
    return put_mem(c, ARG(c, i + 1), exe, len) ? -EFAULT : (int64_t)len;
}

static int64_t sys_readlink(struct lx_ctx *c)
{
    return do_readlink(c, 0);
}

static int64_t sys_readlinkat(struct lx_ctx *c)
{
    return do_readlink(c, 1);
}

static int64_t sys_access(struct lx_ctx *c)
{
    return no_file(c, ARG(c, 0));
}

static int64_t sys_faccessat(struct lx_ctx *c)
{
    return no_file(c, ARG(c, 1));
}

static int64_t sys_sched_getaffinity(struct lx_ctx *c)
{
    uint64_t one = 1;

    if (ARG(c, 0) != 0 && ARG(c, 0) != LX_PID)
        return -ESRCH;
    if (ARG(c, 1) < sizeof(one))
        return -EINVAL;
    return put_mem(c, ARG(c, 2), &one, sizeof(one)) ? -EFAULT
                                                    : (int64_t)sizeof(one);
}

static int64_t sys_zero(struct lx_ctx *c)
{
    (void)c;
    return 0;
}

struct lx_rlimit {
    uint64_t cur, max;
};

static uint64_t rlimit_of(const struct lx_proc *p, uint64_t res)
{
    switch (res) {
    case LX_RLIMIT_STACK:
        return p->stack_size;
    case LX_RLIMIT_AS:
        return p->mem_size;
    case LX_RLIMIT_DATA:
        return p->heap_end - p->brk_start;
    case LX_RLIMIT_NOFILE:
        return LX_STDIO_FDS;
    case LX_RLIMIT_NPROC:
        return 1;
    case LX_RLIMIT_CORE:
    case LX_RLIMIT_FSIZE:
        return 0;
    default:
        return LX_RLIM_INFINITY;
    }
}

static int64_t get_rlimit(struct lx_ctx *c, uint64_t res, uint64_t addr)
{
    uint64_t v = rlimit_of(c->p, res);
    struct lx_rlimit r = {v, v};

    if (res >= LX_RLIM_NLIMITS)
        return -EINVAL;
    return put_mem(c, addr, &r, sizeof(r));
}

static int64_t sys_getrlimit(struct lx_ctx *c)
{
    return get_rlimit(c, ARG(c, 0), ARG(c, 1));
}

static int64_t sys_prlimit64(struct lx_ctx *c)
{
    if (ARG(c, 0) != 0 && ARG(c, 0) != LX_PID)
        return -ESRCH;
    if (ARG(c, 1) >= LX_RLIM_NLIMITS)
        return -EINVAL;
    if (ARG(c, 2))
        return -EPERM; /* tincan's limits are fixed */
    return ARG(c, 3) ? get_rlimit(c, ARG(c, 1), ARG(c, 3)) : 0;
}

/* ---- time: the virtual clock ----------------------------------------- */

static struct lx_timespec ts_of(uint64_t ns)
{
    struct lx_timespec t = {(int64_t)(ns / NS_PER_S), (int64_t)(ns % NS_PER_S)};

    return t;
}

/* Nanoseconds on clock clk now, or -EINVAL. */
static int clock_now(const struct lx_proc *p, uint64_t clk, uint64_t *ns)
{
    if (clk > LX_CLOCK_MAX || clk == 10) /* 10: no such clock */
        return -EINVAL;
    switch (clk) {
    case 0:  /* REALTIME */
    case 5:  /* REALTIME_COARSE */
    case 8:  /* REALTIME_ALARM */
    case 11: /* TAI */
        *ns = LX_REALTIME_START_S * NS_PER_S + p->clock_ns;
        return 0;
    case 2: /* PROCESS_CPUTIME_ID */
    case 3: /* THREAD_CPUTIME_ID */
        *ns = p->clock_ns;
        return 0;
    default: /* MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM */
        *ns = LX_MONOTONIC_START_NS + p->clock_ns;
        return 0;
    }
}

static int64_t sys_clock_gettime(struct lx_ctx *c)
{
    uint64_t ns;
    int rc = clock_now(c->p, ARG(c, 0), &ns);
    struct lx_timespec t = ts_of(ns);

    return rc ? rc : put_mem(c, ARG(c, 1), &t, sizeof(t));
}

static int64_t sys_clock_getres(struct lx_ctx *c)
{
    uint64_t ns;
    struct lx_timespec t = {0, 1};
    int rc = clock_now(c->p, ARG(c, 0), &ns);

    if (rc || !ARG(c, 1))
        return rc;
    return put_mem(c, ARG(c, 1), &t, sizeof(t));
}

static int64_t sys_gettimeofday(struct lx_ctx *c)
{
    uint64_t ns = LX_REALTIME_START_S * NS_PER_S + c->p->clock_ns;
    int64_t tv[2] = {(int64_t)(ns / NS_PER_S),
                     (int64_t)(ns % NS_PER_S / NS_PER_US)};
    int32_t tz[2] = {0, 0};

    if (ARG(c, 0) && put_mem(c, ARG(c, 0), tv, sizeof(tv)))
        return -EFAULT;
    if (ARG(c, 1) && put_mem(c, ARG(c, 1), tz, sizeof(tz)))
        return -EFAULT;
    return 0;
}

static int64_t sys_time(struct lx_ctx *c)
{
    int64_t s = (int64_t)(LX_REALTIME_START_S + c->p->clock_ns / NS_PER_S);

    if (ARG(c, 0) && put_mem(c, ARG(c, 0), &s, sizeof(s)))
        return -EFAULT;
    return s;
}

/* A timespec argument as nanoseconds, or -EFAULT / -EINVAL. */
static int get_ts(struct lx_ctx *c, uint64_t addr, uint64_t *ns)
{
    struct lx_timespec t;

    if (get_mem(c, addr, &t, sizeof(t)))
        return -EFAULT;
    if (t.sec < 0 || t.nsec < 0 || (uint64_t)t.nsec >= NS_PER_S)
        return -EINVAL;
    *ns = (uint64_t)t.sec > UINT64_MAX / NS_PER_S / 2
              ? UINT64_MAX / 2
              : (uint64_t)t.sec * NS_PER_S + (uint64_t)t.nsec;
    return 0;
}

static void advance(struct lx_proc *p, uint64_t ns)
{
    p->clock_ns =
        ns > UINT64_MAX / 2 - p->clock_ns ? UINT64_MAX / 2 : p->clock_ns + ns;
}

static int64_t sys_nanosleep(struct lx_ctx *c)
{
    uint64_t ns;
    int rc = get_ts(c, ARG(c, 0), &ns);

    if (rc)
        return rc;
    advance(c->p, ns);
    return 0;
}

static int64_t sys_clock_nanosleep(struct lx_ctx *c)
{
    uint64_t ns, now;
    int rc;

    if (ARG(c, 0) == LX_CLOCK_THREAD_CPUTIME)
        return -EINVAL;
    rc = clock_now(c->p, ARG(c, 0), &now);
    if (rc == 0)
        rc = get_ts(c, ARG(c, 2), &ns);
    if (rc)
        return rc;
    if (ARG(c, 1) & LX_TIMER_ABSTIME)
        ns = ns > now ? ns - now : 0;
    advance(c->p, ns);
    return 0;
}

struct lx_rusage {
    int64_t utime[2], stime[2];
    int64_t rest[14];
};

static int64_t sys_getrusage(struct lx_ctx *c)
{
    int64_t who = (int64_t)ARG(c, 0);
    struct lx_rusage ru;

    if (who != LX_RUSAGE_SELF && who != LX_RUSAGE_CHILDREN &&
        who != LX_RUSAGE_THREAD)
        return -EINVAL;
    memset(&ru, 0, sizeof(ru));
    if (who != LX_RUSAGE_CHILDREN) {
        ru.utime[0] = (int64_t)(c->p->clock_ns / NS_PER_S);
        ru.utime[1] = (int64_t)(c->p->clock_ns % NS_PER_S / NS_PER_US);
    }
    return put_mem(c, ARG(c, 1), &ru, sizeof(ru));
}

static int64_t sys_times(struct lx_ctx *c)
{
    uint64_t ticks = c->p->clock_ns / (NS_PER_S / CLK_TCK);
    int64_t tms[4] = {(int64_t)ticks, 0, 0, 0};

    if (ARG(c, 0) && put_mem(c, ARG(c, 0), tms, sizeof(tms)))
        return -EFAULT;
    return (int64_t)((LX_MONOTONIC_START_NS + c->p->clock_ns) /
                     (NS_PER_S / CLK_TCK));
}

static int64_t sys_getrandom(struct lx_ctx *c)
{
    uint64_t buf = ARG(c, 0), len = ARG(c, 1);

    if (ARG(c, 2) & ~(uint64_t)LX_GRND_FLAGS)
        return -EINVAL;
    if (len > RANDOM_MAX)
        len = RANDOM_MAX;
    if (!abi_user_range_ok(c->g, buf, len))
        return -EFAULT;
    for (uint64_t i = 0; i < len; i += 8) {
        uint64_t v = rng_next(c->p->rng);
        memcpy(c->g->mem + buf + i, &v, len - i < 8 ? len - i : 8);
    }
    return (int64_t)len;
}

/* ---- futex: one thread ------------------------------------------------ */

static int64_t sys_futex(struct lx_ctx *c)
{
    uint64_t addr = ARG(c, 0), val = ARG(c, 2) & 0xffffffffu, ns, now;
    uint64_t op = ARG(c, 1) & LX_FUTEX_CMD_MASK;
    uint32_t cur;
    int rc;

    if (addr % 4)
        return -EINVAL;
    switch (op) {
    case LX_FUTEX_WAIT:
    case LX_FUTEX_WAIT_BITSET:
        if (get_mem(c, addr, &cur, sizeof(cur)))
            return -EFAULT;
        if (cur != val)
            return -EAGAIN;
        if (!ARG(c, 3)) {
            abi_end(c->g, SBX_DEADLOCK,
                    "futex wait at 0x%" PRIx64 " with no timeout: the "
                    "program has one thread, so nothing can wake it",
                    addr);
            return LX_END;
        }
        rc = get_ts(c, ARG(c, 3), &ns);
        if (rc)
            return rc;
        if (op == LX_FUTEX_WAIT_BITSET) {
            clock_now(c->p, 1, &now); /* absolute, on CLOCK_MONOTONIC */
            ns = ns > now ? ns - now : 0;
        }
        advance(c->p, ns);
        return -ETIMEDOUT;
    case LX_FUTEX_WAKE:
    case LX_FUTEX_WAKE_BITSET:
    case LX_FUTEX_REQUEUE:
        return 0; /* nobody waits */
    case LX_FUTEX_CMP_REQUEUE:
        if (get_mem(c, addr, &cur, sizeof(cur)))
            return -EFAULT;
        return cur == (ARG(c, 5) & 0xffffffffu) ? 0 : -EAGAIN;
    default: /* WAKE_OP, the PI operations: a call tincan does not answer */
        return unsupported(c);
    }
}

/* ---- the end ----------------------------------------------------------- */

static int64_t sys_exit(struct lx_ctx *c)
{
    c->g->rep->exit_code = ARG(c, 0) & 0xff;
    abi_end(c->g, SBX_OK, "exited with code %" PRIu64, c->g->rep->exit_code);
    return LX_END;
}

/* ---- the table ---------------------------------------------------------- */

struct lx_entry {
    const char *name;
    int64_t (*fn)(struct lx_ctx *c);
    const char *what;
};

/* clang-format off */
#define CALL(nr, name, fn, what) [nr] = {name, fn, what}
static const struct lx_entry table[] = {
    CALL(SYS_read, "read", sys_read, "fd 0: the job's input, then 0 (end of file); other fds EBADF"),
    CALL(SYS_write, "write", sys_write, "fd 1: the job's output, fd 2: its stderr; other fds EBADF"),
    CALL(SYS_open, "open", sys_open, "ENOENT: tincan gives the program no files"),
    CALL(SYS_close, "close", sys_close, "fds 0-2: closed from then on; other fds EBADF"),
    CALL(SYS_fstat, "fstat", sys_fstat, "fds 0-2: a pipe (S_IFIFO, st_blksize 4096)"),
    CALL(SYS_lseek, "lseek", sys_espipe, "fds 0-2: ESPIPE (pipes)"),
    CALL(SYS_mmap, "mmap", sys_mmap, "anonymous memory from the heap's top; file mappings ENODEV; ENOMEM when full"),
    CALL(SYS_mprotect, "mprotect", sys_mprotect, "0 inside guest memory (protection is recorded nowhere: all memory stays read-write)"),
    CALL(SYS_munmap, "munmap", sys_munmap, "mmap's pages go back to the heap, zeroed"),
    CALL(SYS_brk, "brk", sys_brk, "moves the break inside the heap; past it (or into mmap's pages) the break stays"),
    CALL(SYS_rt_sigaction, "rt_sigaction", sys_rt_sigaction, "records the action; no signal is ever delivered"),
    CALL(SYS_rt_sigprocmask, "rt_sigprocmask", sys_rt_sigprocmask, "records the mask; unblocking a pending signal ends the job with it"),
    CALL(SYS_ioctl, "ioctl", sys_ioctl, "fds 0-2: ENOTTY (not a terminal: stdio buffers fully)"),
    CALL(SYS_pread64, "pread64", sys_espipe, "fds 0-2: ESPIPE"),
    CALL(SYS_pwrite64, "pwrite64", sys_espipe, "fds 0-2: ESPIPE"),
    CALL(SYS_readv, "readv", sys_readv, "as read, into each buffer"),
    CALL(SYS_writev, "writev", sys_writev, "as write, every buffer checked first, in one append per buffer"),
    CALL(SYS_access, "access", sys_access, "ENOENT"),
    CALL(SYS_sched_yield, "sched_yield", sys_zero, "0"),
    CALL(SYS_mremap, "mremap", sys_mremap, "mmap'ed memory: shrinks, grows in place, or moves with MREMAP_MAYMOVE"),
    CALL(SYS_madvise, "madvise", sys_madvise, "0; MADV_DONTNEED zeroes heap pages"),
    CALL(SYS_nanosleep, "nanosleep", sys_nanosleep, "advances the virtual clock; returns at once"),
    CALL(SYS_getpid, "getpid", sys_getpid, "2"),
    CALL(SYS_clone, "clone", sys_eperm, "EPERM: one process, one thread"),
    CALL(SYS_fork, "fork", sys_eperm, "EPERM"),
    CALL(SYS_vfork, "vfork", sys_eperm, "EPERM"),
    CALL(SYS_execve, "execve", sys_eperm, "EPERM"),
    CALL(SYS_exit, "exit", sys_exit, "ends the job: status ok, exit code & 0xff"),
    CALL(SYS_kill, "kill", sys_kill, "at itself (pid 2, 0, -1): ends the job with status signal (ignored or blocked: as Linux); others ESRCH"),
    CALL(SYS_uname, "uname", sys_uname, "Linux tincan 6.1.0-tincan x86_64"),
    CALL(SYS_fcntl, "fcntl", sys_fcntl, "fds 0-2: F_GETFD/F_SETFD/F_GETFL/F_SETFL; F_DUPFD EMFILE"),
    CALL(SYS_getcwd, "getcwd", sys_getcwd, "\"/\""),
    CALL(SYS_readlink, "readlink", sys_readlink, "/proc/self/exe: \"/\" and the program's name; else ENOENT"),
    CALL(SYS_umask, "umask", sys_umask, "records the mask (initially 022)"),
    CALL(SYS_gettimeofday, "gettimeofday", sys_gettimeofday, "the virtual clock; time zone UTC"),
    CALL(SYS_getrlimit, "getrlimit", sys_getrlimit, "fixed limits: stack, address space (--mem), data (the heap), 3 fds, 1 process"),
    CALL(SYS_getrusage, "getrusage", sys_getrusage, "user time from the virtual clock, everything else 0"),
    CALL(SYS_times, "times", sys_times, "the virtual clock in ticks of 1/100 s"),
    CALL(SYS_getuid, "getuid", sys_getuid, "1000"),
    CALL(SYS_getgid, "getgid", sys_getgid, "1000"),
    CALL(SYS_geteuid, "geteuid", sys_getuid, "1000"),
    CALL(SYS_getegid, "getegid", sys_getgid, "1000"),
    CALL(SYS_getppid, "getppid", sys_getppid, "1"),
    CALL(SYS_sigaltstack, "sigaltstack", sys_sigaltstack, "records the stack; never used"),
    CALL(SYS_arch_prctl, "arch_prctl", sys_arch_prctl, "ARCH_SET_FS/GS (the TLS base), ARCH_GET_FS/GS"),
    CALL(SYS_setrlimit, "setrlimit", sys_eperm, "EPERM: the limits are fixed"),
    CALL(SYS_gettid, "gettid", sys_getpid, "2"),
    CALL(SYS_tkill, "tkill", sys_tkill, "as kill, at thread 2"),
    CALL(SYS_time, "time", sys_time, "the virtual clock's seconds"),
    CALL(SYS_futex, "futex", sys_futex, "one thread: WAIT on a changed word EAGAIN, with a timeout advances the clock (ETIMEDOUT), without one ends the job (deadlock); WAKE 0"),
    CALL(SYS_sched_getaffinity, "sched_getaffinity", sys_sched_getaffinity, "one CPU"),
    CALL(SYS_set_tid_address, "set_tid_address", sys_set_tid_address, "records the address; returns the thread id 2"),
    CALL(SYS_clock_gettime, "clock_gettime", sys_clock_gettime, "the virtual clock (realtime from 2024-01-01, monotonic from 1 s)"),
    CALL(SYS_clock_getres, "clock_getres", sys_clock_getres, "1 ns"),
    CALL(SYS_clock_nanosleep, "clock_nanosleep", sys_clock_nanosleep, "advances the virtual clock (TIMER_ABSTIME: to the time given)"),
    CALL(SYS_exit_group, "exit_group", sys_exit, "as exit"),
    CALL(SYS_tgkill, "tgkill", sys_tgkill, "as kill, at process 2, thread 2"),
    CALL(SYS_openat, "openat", sys_openat, "ENOENT"),
    CALL(SYS_newfstatat, "newfstatat", sys_newfstatat, "AT_EMPTY_PATH on fds 0-2: as fstat; a path ENOENT"),
    CALL(SYS_readlinkat, "readlinkat", sys_readlinkat, "as readlink"),
    CALL(SYS_faccessat, "faccessat", sys_faccessat, "ENOENT"),
    CALL(SYS_set_robust_list, "set_robust_list", sys_set_robust_list, "0 (one thread: nothing to clean up)"),
    CALL(SYS_preadv, "preadv", sys_espipe, "fds 0-2: ESPIPE"),
    CALL(SYS_pwritev, "pwritev", sys_espipe, "fds 0-2: ESPIPE"),
    CALL(SYS_prlimit64, "prlimit64", sys_prlimit64, "as getrlimit; setting a limit EPERM"),
    CALL(SYS_getrandom, "getrandom", sys_getrandom, "bytes of a stream seeded by --seed (xoshiro256**, not for cryptography)"),
    CALL(SYS_execveat, "execveat", sys_eperm, "EPERM"),
    CALL(SYS_statx, "statx", sys_statx, "AT_EMPTY_PATH on fds 0-2: as fstat; a path ENOENT"),
    CALL(SYS_rseq, "rseq", sys_enosys, "ENOSYS (glibc then does without)"),
    CALL(SYS_clone3, "clone3", sys_eperm, "EPERM"),
    CALL(SYS_faccessat2, "faccessat2", sys_faccessat, "ENOENT"),
};
/* clang-format on */

#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

const char *lx_call_name(uint64_t nr)
{
    return nr < TABLE_SIZE ? table[nr].name : NULL;
}

const char *lx_call_what(uint64_t nr)
{
    return nr < TABLE_SIZE ? table[nr].what : NULL;
}

unsigned lx_call_max(void)
{
    return (unsigned)TABLE_SIZE;
}

/* A call tincan lacks: -ENOSYS and counted, or the job's end (strict).
 * The parent names the call (it has the names; the child allocates none). */
static int64_t unsupported(struct lx_ctx *c)
{
    struct sbx_report *r = c->g->rep;

    if (r->unsupported++ == 0)
        r->unsupported_nr =
            (int32_t)(c->in->nr > INT32_MAX ? INT32_MAX : c->in->nr);
    if (!c->p->strict)
        return -ENOSYS;
    abi_end(c->g, SBX_UNSUPPORTED_SYSCALL, "at rip 0x%" PRIx64,
            c->in->rip - LX_SYSCALL_LEN);
    return LX_END;
}

int lx_syscall(struct abi_guest *g, const struct lx_call *in,
               struct lx_ret *out)
{
    struct lx_ctx c = {.g = g, .p = g->lx, .in = in, .out = out};
    int64_t rc;

    out->msr = 0;
    out->msr_value = 0;
    g->rep->syscalls++;
    advance(c.p, LX_TICK_NS);
    if (in->nr < TABLE_SIZE && table[in->nr].fn)
        rc = table[in->nr].fn(&c);
    else
        rc = unsupported(&c);
    if (rc == LX_END)
        return ABI_END;
    out->rax = (uint64_t)rc;
    return ABI_CONTINUE;
}

int lx_on_port(struct abi_guest *g)
{
    uint64_t f[LXF_SLOTS];
    struct lx_call in;
    struct lx_ret out;

    if (!abi_range_ok(g, TINCAN_LX_FRAME_ADDR, sizeof(f)))
        return abi_end(g, SBX_INTERNAL_ERROR,
                       "the system-call frame lies outside guest memory");
    memcpy(f, g->mem + TINCAN_LX_FRAME_ADDR, sizeof(f));
    in.nr = f[LXF_RAX];
    in.arg[0] = f[LXF_RDI];
    in.arg[1] = f[LXF_RSI];
    in.arg[2] = f[LXF_RDX];
    in.arg[3] = f[LXF_R10];
    in.arg[4] = f[LXF_R8];
    in.arg[5] = f[LXF_R9];
    in.rip = f[LXF_RCX];
    in.rflags = f[LXF_R11];
    in.rsp = f[LXF_RSP];
    if (lx_syscall(g, &in, &out) == ABI_END)
        return ABI_END;
    f[LXF_RAX] = out.rax;
    f[LXF_MSR] = out.msr;
    f[LXF_MSR_VALUE] = out.msr_value;
    memcpy(g->mem + TINCAN_LX_FRAME_ADDR, f, sizeof(f));
    return ABI_CONTINUE;
}
