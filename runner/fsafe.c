/*
 * fsafe.c - confined opens, bounded reads and atomic replacement of files
 * in directories others may write to (see fsafe.h).
 */
#include "fsafe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define READ_CHUNK      65536u
#define TMP_RANDOM_LEN  8u /* random bytes in a temporary's name */
#define TMP_TRIES       16 /* names tried before giving up on EEXIST */
#define PERMISSION_BITS 07777

/* How every file is opened for reading: a FIFO's open does not wait for a
 * writer, a terminal does not become ours. */
#define READ_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* What a file that is not regular is, for "it is X, not a regular file". */
static const char *kind_name(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    case S_IFLNK:
        return "a symbolic link";
    default:
        return "not a regular file";
    }
}

/* why for an open that failed with -rc. */
static int open_failed(int rc, unsigned flags, char *why, size_t whylen)
{
    switch (-rc) {
    case ELOOP:
        snprintf(why, whylen, "%s",
                 flags & FSAFE_NO_SYMLINKS
                     ? "it is a symbolic link (or its path has one), which "
                       "is not followed here"
                     : "its path has a symbolic link that is not followed "
                       "here");
        break;
    case EXDEV:
        snprintf(why, whylen, "%s", "it leads outside the directory");
        break;
    case ENXIO:
        snprintf(why, whylen, "%s", "it is a socket, not a regular file");
        break;
    default:
        snprintf(why, whylen, "%s", strerror(-rc));
        break;
    }
    return rc;
}

/* fd must be a regular file; else it is closed and the open refused. */
static int require_regular(int fd, int *out, char *why, size_t whylen)
{
    struct stat st;
    int rc;

    if (fstat(fd, &st) != 0) {
        rc = -errno;
        close(fd);
        snprintf(why, whylen, "%s", strerror(-rc));
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(why, whylen, "it is %s, not a regular file",
                 kind_name(st.st_mode));
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    *out = fd;
    return 0;
}

int fsafe_open_walk(int dirfd, const char *path, int *fd, char *why,
                    size_t whylen)
{
    char *copy = strdup(path), *comp, *next;
    int cur = dirfd, rc = 0, nfd;

    *fd = -1;
    if (!copy) {
        snprintf(why, whylen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    if (path[0] == '/') {
        rc = open_failed(-EXDEV, FSAFE_NO_SYMLINKS, why, whylen);
        goto out;
    }
    for (comp = copy; comp; comp = next) {
        next = strchr(comp, '/');
        if (next)
            *next++ = '\0';
        if (!strcmp(comp, "..")) {
            rc = open_failed(-EXDEV, FSAFE_NO_SYMLINKS, why, whylen);
            goto out;
        }
        if (next && (!comp[0] || !strcmp(comp, ".")))
            continue;
        if (!next) {
            nfd = openat(cur, comp[0] ? comp : ".", READ_FLAGS | O_NOFOLLOW);
        } else {
            struct stat st;

            nfd = openat(cur, comp,
                         O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            /* O_PATH|O_NOFOLLOW opens a symlink itself: O_DIRECTORY then
             * says ENOTDIR. Say what it is. */
            if (nfd < 0 && errno == ENOTDIR &&
                fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                errno = ELOOP;
        }
        if (nfd < 0) {
            rc = open_failed(-errno, FSAFE_NO_SYMLINKS, why, whylen);
            goto out;
        }
        if (cur != dirfd)
            close(cur);
        cur = nfd;
    }
    rc = require_regular(cur, fd, why, whylen);
    cur = dirfd; /* closed or handed over */
out:
    if (cur != dirfd)
        close(cur);
    free(copy);
    return rc;
}

int fsafe_open_beneath(int dirfd, const char *path, unsigned flags, int *fd,
                       char *why, size_t whylen)
{
    struct open_how how = {
        .flags = READ_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                   (flags & FSAFE_NO_SYMLINKS ? RESOLVE_NO_SYMLINKS : 0),
    };
    long nfd;

    *fd = -1;
    nfd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (nfd < 0 && errno == ENOSYS)
        return fsafe_open_walk(dirfd, path, fd, why, whylen);
    if (nfd < 0)
        return open_failed(-errno, flags, why, whylen);
    return require_regular((int)nfd, fd, why, whylen);
}

int fsafe_read_max(int fd, size_t max, uint8_t **out, size_t *len)
{
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    int rc = 0;

    *out = NULL;
    *len = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size > max)
        return -EFBIG;
    for (;;) {
        ssize_t r;

        if (n == cap) {
            /* One byte past max: reading it proves the file is too big. */
            size_t ncap = cap ? cap * 2 : READ_CHUNK;
            uint8_t *nb;

            if (max < SIZE_MAX && ncap > max + 1)
                ncap = max + 1;
            nb = realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            rc = -EFBIG;
            goto out;
        }
    }
out:
    if (rc || n == 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* A new temporary file in dirfd, ".NAME.XXXXXXXXXXXXXXXX" with random
 * hex; its name into tmp. Returns the fd or -errno. */
static int open_temporary(int dirfd, const char *name, mode_t mode, char *tmp,
                          size_t tmplen)
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < TMP_TRIES; i++) {
        uint8_t r[TMP_RANDOM_LEN];
        char hex[2 * TMP_RANDOM_LEN + 1];
        int fd;

        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return errno ? -errno : -EIO;
        for (size_t k = 0; k < sizeof(r); k++) {
            hex[2 * k] = digits[r[k] >> 4];
            hex[2 * k + 1] = digits[r[k] & 15];
        }
        hex[sizeof(hex) - 1] = '\0';
        if ((size_t)snprintf(tmp, tmplen, ".%s.%s", name, hex) >= tmplen)
            return -ENAMETOOLONG;
        fd = openat(dirfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd >= 0 ? fd : -errno;
    }
    return -EEXIST;
}

int fsafe_replace(int dirfd, const char *name, const void *p, size_t n,
                  mode_t mode, char *why, size_t whylen)
{
    char tmp[NAME_MAX + 1];
    const char *step = "creating a temporary file";
    const uint8_t *b = p;
    struct stat st;
    int fd, rc = 0, keep;

    keep = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
    fd = open_temporary(dirfd, name, mode, tmp, sizeof(tmp));
    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", step, strerror(-fd));
        return fd;
    }
    step = "writing";
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, b + off, n - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            goto out;
        }
        off += (size_t)w;
    }
    step = "keeping the file's mode";
    if (keep && fchmod(fd, st.st_mode & PERMISSION_BITS) != 0) {
        rc = -errno;
        goto out;
    }
    step = "writing";
    if (fsync(fd) != 0) {
        rc = -errno;
        goto out;
    }
    rc = close(fd) != 0 ? -errno : 0;
    fd = -1;
    if (rc)
        goto out;
    step = "renaming the temporary file into place";
    if (renameat(dirfd, tmp, dirfd, name) != 0)
        rc = -errno;
out:
    if (fd >= 0)
        close(fd);
    if (rc) {
        snprintf(why, whylen, "%s: %s", step, strerror(-rc));
        unlinkat(dirfd, tmp, 0);
    }
    return rc;
}
