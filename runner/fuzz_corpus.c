/*
 * fuzz_corpus.c - the fuzzer's corpus and coverage bookkeeping (see
 * fuzz_corpus.h). The map is walked a 64-bit word at a time: most of it is
 * zero in every execution.
 */
#include "fuzz_corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsafe.h"
#include "pcache.h"

#define VIRGIN_EDGE      0xff /* every class unseen: the edge never taken */
#define CORPUS_FIRST_CAP 64
#define FILE_MODE        0644
#define DIR_MODE         0755
#define WORD_BYTES       sizeof(uint64_t)
_Static_assert(FUZZ_MAP_SIZE % sizeof(uint64_t) == 0, "map of whole words");

void fuzz_corpus_init(struct fuzz_corpus *c)
{
    memset(c, 0, sizeof(*c));
    memset(c->virgin, VIRGIN_EDGE, sizeof(c->virgin));
}

void fuzz_corpus_free(struct fuzz_corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].data);
        free(c->e[i].cmps);
    }
    free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
}

/* AFL's count_class_lookup8. */
static uint8_t count_class(uint8_t n)
{
    static const struct {
        uint8_t below, cls;
    } classes[] = {{1, 0}, {2, 1},   {3, 2},   {4, 4},
                   {8, 8}, {16, 16}, {32, 32}, {128, 64}};

    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (n < classes[i].below)
            return classes[i].cls;
    return 128;
}

void fuzz_cov_classify(uint8_t *map)
{
    static uint8_t table[256];
    static int ready;

    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 256; i++)
            table[i] = count_class((uint8_t)i);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    for (size_t i = 0; i < FUZZ_MAP_SIZE; i += WORD_BYTES) {
        uint64_t w;

        memcpy(&w, map + i, sizeof(w));
        if (!w)
            continue;
        for (size_t j = 0; j < WORD_BYTES; j++)
            map[i + j] = table[map[i + j]];
    }
}

enum fuzz_novelty fuzz_corpus_novel(struct fuzz_corpus *c, const uint8_t *map)
{
    enum fuzz_novelty got = FUZZ_NEW_NONE;

    for (size_t i = 0; i < FUZZ_MAP_SIZE; i += WORD_BYTES) {
        uint64_t w, v;

        memcpy(&w, map + i, sizeof(w));
        memcpy(&v, c->virgin + i, sizeof(v));
        if (!(w & v))
            continue;
        for (size_t j = 0; j < WORD_BYTES; j++) {
            uint8_t new_bits = map[i + j] & c->virgin[i + j];

            if (!new_bits)
                continue;
            if (c->virgin[i + j] == VIRGIN_EDGE) {
                got = FUZZ_NEW_EDGE;
                c->edges++;
            } else if (got == FUZZ_NEW_NONE) {
                got = FUZZ_NEW_HITS;
            }
            c->virgin[i + j] &= (uint8_t)~new_bits;
        }
    }
    return got;
}

int fuzz_corpus_add(struct fuzz_corpus *c, const uint8_t *data, size_t len,
                    uint64_t found_at, const struct fuzz_cmp *cmps,
                    size_t ncmps)
{
    struct fuzz_entry e = {.len = len, .found_at = found_at, .ncmps = ncmps};

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : CORPUS_FIRST_CAP;
        struct fuzz_entry *ne = realloc(c->e, cap * sizeof(*ne));

        if (!ne)
            return -ENOMEM;
        c->e = ne;
        c->cap = cap;
    }
    /* One byte at least, so that an empty input has a buffer too. */
    e.data = malloc(len ? len : 1);
    e.cmps = ncmps ? malloc(ncmps * sizeof(*cmps)) : NULL;
    if (!e.data || (ncmps && !e.cmps)) {
        free(e.data);
        free(e.cmps);
        return -ENOMEM;
    }
    if (len)
        memcpy(e.data, data, len);
    if (ncmps)
        memcpy(e.cmps, cmps, ncmps * sizeof(*cmps));
    c->e[c->n++] = e;
    return 0;
}

/* ---- files ------------------------------------------------------------ */

static int seed_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fuzz_seed *)a)->name,
                  ((const struct fuzz_seed *)b)->name);
}

/* Up to max bytes of the regular file at dirfd/name into *s; anything
 * else there (a directory, a link, a FIFO someone planted) is skipped:
 * s->data stays NULL. Opened through fsafe, so nothing blocks or leads out
 * of the directory. */
static int read_seed(int dirfd, const char *name, size_t max,
                     struct fuzz_seed *s, char *why, size_t whylen)
{
    struct stat st;
    int fd, rc;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = -errno;
        snprintf(why, whylen, "%s", strerror(errno));
        return rc;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    rc = fsafe_open_beneath(dirfd, name, FSAFE_NO_SYMLINKS, &fd, why, whylen);
    if (rc)
        return rc;
    s->data = malloc(max ? max : 1);
    if (!s->data) {
        snprintf(why, whylen, "%s", strerror(ENOMEM));
        rc = -ENOMEM;
        goto out;
    }
    while (s->len < max) {
        ssize_t r = read(fd, s->data + s->len, max - s->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(why, whylen, "%s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        s->len += (size_t)r;
    }
out:
    close(fd);
    return rc;
}

int fuzz_seeds_load(const char *dir, size_t max_len, struct fuzz_seeds *out,
                    char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t cap = 0;
    char why[256];
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!d) {
        if (errno == ENOENT)
            return 0;
        rc = -errno;
        snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return rc;
    }
    for (errno = 0; (de = readdir(d)); errno = 0) {
        struct fuzz_seed s = {0};

        if (de->d_name[0] == '.')
            continue;
        rc = read_seed(dirfd(d), de->d_name, max_len, &s, why, sizeof(why));
        if (rc) {
            snprintf(err, errlen, "cannot read %s/%s: %s", dir, de->d_name,
                     why);
            free(s.data);
            goto out;
        }
        if (!s.data)
            continue;
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : CORPUS_FIRST_CAP;
            struct fuzz_seed *ns = realloc(out->s, ncap * sizeof(*ns));

            if (!ns) {
                free(s.data);
                goto oom;
            }
            out->s = ns;
            cap = ncap;
        }
        s.name = strdup(de->d_name);
        if (!s.name) {
            free(s.data);
            goto oom;
        }
        out->s[out->n++] = s;
    }
    if (errno) {
        rc = -errno;
        snprintf(err, errlen, "reading %s: %s", dir, strerror(errno));
        goto out;
    }
    qsort(out->s, out->n, sizeof(*out->s), seed_cmp);
    goto out;
oom:
    rc = -ENOMEM;
    snprintf(err, errlen, "reading %s: out of memory", dir);
out:
    closedir(d);
    if (rc)
        fuzz_seeds_free(out);
    return rc;
}

void fuzz_seeds_free(struct fuzz_seeds *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->s[i].name);
        free(s->s[i].data);
    }
    free(s->s);
    memset(s, 0, sizeof(*s));
}

/* mkdir(dir) unless it is a directory already: 0 or -errno. */
static int make_one(const char *dir)
{
    struct stat st;

    if (mkdir(dir, DIR_MODE) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fuzz_make_dir(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    int rc = 0;

    if (n == 0 || n >= sizeof(path)) {
        snprintf(err, errlen, "cannot create the directory '%.200s': %s", dir,
                 n ? "the path is too long" : "the name is empty");
        return n ? -ENAMETOOLONG : -EINVAL;
    }
    memcpy(path, dir, n + 1);
    /* Each parent first, as mkdir -p does. */
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (path[i] != '/' || path[i - 1] == '/')
            continue;
        path[i] = '\0';
        rc = make_one(path);
        path[i] = '/';
    }
    if (rc == 0)
        rc = make_one(path);
    if (rc)
        snprintf(err, errlen, "cannot create the directory %s: %s", dir,
                 strerror(-rc));
    return rc;
}

int fuzz_write_file(const char *dir, const char *name, const void *p,
                    size_t len, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    const uint8_t *b = p;
    int fd, rc = 0;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
            sizeof(path) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
            sizeof(tmp)) {
        snprintf(err, errlen,
                 "cannot write %.200s/%.100s: the path is too "
                 "long",
                 dir, name);
        return -ENAMETOOLONG;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(-rc));
        return rc;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, b + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fchmod(fd, FILE_MODE) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc) {
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(-rc));
        unlink(tmp);
    }
    return rc;
}

int fuzz_corpus_save(const char *dir, const uint8_t *data, size_t len,
                     char *err, size_t errlen)
{
    uint8_t digest[PCACHE_DIGEST_LEN];
    char hex[PCACHE_HEX_LEN + 1];

    if (pcache_sha256(data, len, digest)) {
        snprintf(err, errlen, "%s", "cannot compute SHA-256 (OpenSSL)");
        return -ENOMEM;
    }
    pcache_hex(digest, hex);
    return fuzz_write_file(dir, hex, data, len, err, errlen);
}
