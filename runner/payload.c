/*
 * payload.c - reading code and input from files and stdin (see payload.h).
 */
#include "payload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAYLOAD_CHUNK 65536

int payload_read(const char *path, size_t max, uint8_t **out, size_t *len,
                 char *err, size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    int rc = 0;

    *out = NULL;
    *len = 0;
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", name, strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot read %s: it is a directory", name);
        rc = -EISDIR;
        goto out;
    }
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : PAYLOAD_CHUNK;
            if (ncap > max + 1)
                ncap = max + 1;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                snprintf(err, errlen, "reading %s: out of memory", name);
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            snprintf(err, errlen,
                     "%s is larger than %zu bytes, the most guest memory "
                     "can hold",
                     name, max);
            rc = -EFBIG;
            goto out;
        }
    }
out:
    if (!is_stdin)
        close(fd);
    if (rc || n == 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}
