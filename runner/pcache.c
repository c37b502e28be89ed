/*
 * pcache.c - SHA-256 digests and the in-process and on-disk payload caches
 * (see pcache.h).
 */
#include "pcache.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fsafe.h"

struct pcache_entry {
    struct pcache_entry *next; /* newer entries first */
    char *url;
    uint8_t digest[PCACHE_DIGEST_LEN];
    uint8_t *bytes;
    size_t len;
};

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcache_entry *mem_head;

int pcache_sha256(const uint8_t *p, size_t len,
                  uint8_t digest[PCACHE_DIGEST_LEN])
{
    unsigned int n = 0;

    if (!EVP_Digest(len ? p : (const uint8_t *)"", len, digest, &n,
                    EVP_sha256(), NULL) ||
        n != PCACHE_DIGEST_LEN)
        return -ENOMEM;
    return 0;
}

void pcache_hex(const uint8_t digest[PCACHE_DIGEST_LEN],
                char hex[PCACHE_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < PCACHE_DIGEST_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[PCACHE_HEX_LEN] = '\0';
}

int pcache_parse_digest(const char *hex, uint8_t digest[PCACHE_DIGEST_LEN])
{
    if (strlen(hex) != PCACHE_HEX_LEN)
        return -EINVAL;
    for (size_t i = 0; i < PCACHE_DIGEST_LEN; i++) {
        int hi = codec_hex_digit((unsigned char)hex[2 * i]),
            lo = codec_hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        digest[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void entry_free(struct pcache_entry *e)
{
    free(e->url);
    free(e->bytes);
    free(e);
}

int pcache_mem_get(const char *url, const uint8_t *digest, size_t max,
                   uint8_t **out, size_t *len)
{
    int rc = 0;

    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&mem_lock);
    for (struct pcache_entry *e = mem_head; e; e = e->next) {
        if (strcmp(e->url, url) != 0 ||
            (digest && memcmp(e->digest, digest, PCACHE_DIGEST_LEN) != 0))
            continue;
        if (e->len > max)
            break;
        if (e->len) {
            *out = malloc(e->len);
            if (!*out) {
                rc = -ENOMEM;
                break;
            }
            memcpy(*out, e->bytes, e->len);
        }
        *len = e->len;
        rc = 1;
        break;
    }
    pthread_mutex_unlock(&mem_lock);
    return rc;
}

int pcache_mem_put(const char *url, const uint8_t digest[PCACHE_DIGEST_LEN],
                   const uint8_t *p, size_t len)
{
    struct pcache_entry *e, **pp;
    size_t kept = 0;

    if (len > PCACHE_MEM_MAX)
        return 0; /* never cached: it would push out everything else */
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->url = strdup(url);
    e->bytes = len ? malloc(len) : NULL;
    if (!e->url || (len && !e->bytes)) {
        entry_free(e);
        return -ENOMEM;
    }
    if (len)
        memcpy(e->bytes, p, len);
    e->len = len;
    memcpy(e->digest, digest, PCACHE_DIGEST_LEN);
    pthread_mutex_lock(&mem_lock);
    e->next = mem_head;
    mem_head = e;
    /* Keep the newest entries that fit; free the rest. */
    for (pp = &mem_head; *pp; pp = &(*pp)->next) {
        if (kept + (*pp)->len > PCACHE_MEM_MAX)
            break;
        kept += (*pp)->len;
    }
    while (*pp) {
        struct pcache_entry *old = *pp;
        *pp = old->next;
        entry_free(old);
    }
    pthread_mutex_unlock(&mem_lock);
    return 0;
}

void pcache_mem_clear(void)
{
    pthread_mutex_lock(&mem_lock);
    while (mem_head) {
        struct pcache_entry *e = mem_head;
        mem_head = e->next;
        entry_free(e);
    }
    pthread_mutex_unlock(&mem_lock);
}

#define ENTRY_MODE 0644 /* entries are not secret: the URL served them */
#define DIR_MODE   0700

int pcache_disk_get(const char *dir, const uint8_t digest[PCACHE_DIGEST_LEN],
                    size_t max, uint8_t **out, size_t *len, char *err,
                    size_t errlen)
{
    char hex[PCACHE_HEX_LEN + 1], why[256];
    uint8_t got[PCACHE_DIGEST_LEN];
    uint8_t *buf = NULL;
    size_t n = 0;
    int dfd, fd, rc;

    *out = NULL;
    *len = 0;
    /* No directory yet, or one we cannot use: a miss (the put says why). */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    pcache_hex(digest, hex);
    /* Missing, a symlink, a FIFO or device, unreadable: a miss, fetched
     * again and replaced by the put. */
    rc = fsafe_open_beneath(dfd, hex, FSAFE_NO_SYMLINKS, &fd, why, sizeof(why));
    if (rc) {
        rc = 0;
        goto out;
    }
    rc = fsafe_read_max(fd, max, &buf, &n);
    close(fd);
    if (rc == -ENOMEM) {
        snprintf(err, errlen, "%s", "reading the cache: out of memory");
        goto out;
    }
    if (rc) { /* too large for this job, or unreadable: a miss */
        rc = 0;
        goto out;
    }
    if (pcache_sha256(buf, n, got)) {
        snprintf(err, errlen, "%s", "cannot compute SHA-256 (OpenSSL)");
        rc = -ENOMEM;
        goto out;
    }
    if (memcmp(got, digest, PCACHE_DIGEST_LEN) != 0) {
        unlinkat(dfd, hex, 0); /* corrupt: fetch again and rewrite */
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 1;
out:
    free(buf);
    close(dfd);
    return rc;
}

int pcache_disk_put(const char *dir, const uint8_t digest[PCACHE_DIGEST_LEN],
                    const uint8_t *p, size_t len, char *err, size_t errlen)
{
    char hex[PCACHE_HEX_LEN + 1], why[256];
    int dfd, rc;

    if (mkdir(dir, DIR_MODE) != 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, errlen, "cannot create cache directory %.300s: %s", dir,
                 strerror(errno));
        return rc;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open cache directory %.300s: %s", dir,
                 strerror(errno));
        return rc;
    }
    pcache_hex(digest, hex);
    rc = fsafe_replace(dfd, hex, p, len, ENTRY_MODE, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "cannot write cache entry %.300s/%s: %s", dir,
                 hex, why);
    close(dfd);
    return rc;
}
