/*
 * pcache.h - the content-addressed cache of fetched payloads and the SHA-256
 * digests that name them. Two levels: in this process (keyed by URL and
 * digest, so that many jobs naming one URL fetch it once) and, optionally,
 * a directory on disk holding one file per payload named by its SHA-256 in
 * hex, verified against that name on every read and written atomically
 * (temporary file, then rename); anything else found under that name is a
 * miss.
 */
#ifndef RUNNER_PCACHE_H
#define RUNNER_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#define PCACHE_DIGEST_LEN 32
#define PCACHE_HEX_LEN    (2 * PCACHE_DIGEST_LEN)
/* Bytes the in-process cache holds at most; the oldest entries go first. */
#define PCACHE_MEM_MAX (256ULL << 20)

/* SHA-256 of p (OpenSSL EVP). Returns 0, or -ENOMEM when EVP fails. */
int pcache_sha256(const uint8_t *p, size_t len,
                  uint8_t digest[PCACHE_DIGEST_LEN]);

/* 64 lower-case hex digits and a NUL into hex. */
void pcache_hex(const uint8_t digest[PCACHE_DIGEST_LEN],
                char hex[PCACHE_HEX_LEN + 1]);

/* Parse exactly 64 hex digits (either case). Returns 0 or -EINVAL. */
int pcache_parse_digest(const char *hex, uint8_t digest[PCACHE_DIGEST_LEN]);

/*
 * In-process lookup: the latest entry for url, and with a digest (not
 * NULL) only if its bytes have that digest. An entry longer than max is a
 * miss. On a hit
 * *out is a malloc'd copy. Returns 1 (hit), 0 (miss) or -ENOMEM.
 */
int pcache_mem_get(const char *url, const uint8_t *digest, size_t max,
                   uint8_t **out, size_t *len);

/* Remember a fetch (copies url and bytes). Returns 0 or -ENOMEM. */
int pcache_mem_put(const char *url, const uint8_t digest[PCACHE_DIGEST_LEN],
                   const uint8_t *p, size_t len);

/* Forget every in-process entry. */
void pcache_mem_clear(void);

/*
 * Read DIR/<hex digest>, at most max bytes, and check its SHA-256. The
 * entry is opened beneath DIR without following a symlink and with
 * O_NONBLOCK (fsafe.h): an entry that is missing, a symlink, a FIFO or
 * device, unreadable, too large or does not match its name is a miss (a
 * corrupt one is removed), fetched again and replaced by the put; so is a
 * DIR that cannot be opened. Returns 1 (hit, *out malloc'd, NULL when
 * empty), 0 (miss) or -ENOMEM with a message in err.
 */
int pcache_disk_get(const char *dir, const uint8_t digest[PCACHE_DIGEST_LEN],
                    size_t max, uint8_t **out, size_t *len, char *err,
                    size_t errlen);

/*
 * Store p as DIR/<hex digest> (DIR is created, mode 0700, when missing),
 * through a new temporary file in DIR renamed over whatever the entry was
 * (fsafe_replace: a symlink there is replaced, not followed). Returns 0 or
 * -errno with a message in err.
 */
int pcache_disk_put(const char *dir, const uint8_t digest[PCACHE_DIGEST_LEN],
                    const uint8_t *p, size_t len, char *err, size_t errlen);

#endif
