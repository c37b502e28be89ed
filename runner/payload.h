/*
 * payload.h - turns a source the user named into bytes, in the parent and
 * before the fork: a file path, "-" for standard input, hex text, base64
 * text, or a URL fetched with libcurl (http and https; file:// only when
 * allowed), optionally pinned to a SHA-256 digest. Redirects are followed
 * hop by hop, each checked before any traffic: http or https only, never
 * from https to http, and only to allowed hosts when there is a list. Fetches
 * go through the payload cache (pcache.h). The child never sees a source, only
 * bytes.
 */
#ifndef RUNNER_PAYLOAD_H
#define RUNNER_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_DEFAULT_FETCH_TIMEOUT_MS 30000ULL
#define PAYLOAD_MAX_CONNECT_TIMEOUT_MS   10000ULL
#define PAYLOAD_DEFAULT_MAX_FETCH        (16ULL << 20)
#define PAYLOAD_MAX_REDIRECTS            5

enum payload_kind {
    PAYLOAD_PATH = 0, /* a file, or "-" for standard input */
    PAYLOAD_HEX,      /* hex text (codec_hex_decode) */
    PAYLOAD_B64,      /* base64 text (codec_b64_decode) */
    PAYLOAD_URL,      /* http://, https://, file:// when allowed */
};

struct payload_spec {
    enum payload_kind kind;
    const char *text;   /* the path, the hex or base64 text, or the URL */
    const char *sha256; /* NULL, or 64 hex digits the bytes must hash to */
};

struct payload_fetch {
    uint64_t timeout_ms;   /* the whole fetch, redirects included; the
                              connect phase gets min(this, 10 s) */
    uint64_t max_bytes;    /* body size cap, checked while it streams in */
    int allow_file_urls;   /* allow file:// as the URL given (never as a
                              redirect target) */
    const char *cacert;    /* CA bundle to verify TLS with; NULL: system's */
    const char *cache_dir; /* on-disk cache; NULL: in-process cache only */
    const char *const *allow_hosts; /* NULL: any host; else the hosts (lower
                                       case, IPv6 without brackets) the URL
                                       and each redirect may name, NULL-
                                       terminated */
};

/* Defaults: 30 s, 16 MiB, no file://, system CAs, no disk cache. */
void payload_fetch_init(struct payload_fetch *f);

/* Whether s looks like a URL: a scheme ("[a-zA-Z][a-zA-Z0-9+.-]*") and
 * "://". Anything else names a file. */
int payload_is_url(const char *s);

/*
 * The bytes of spec, at most max of them (and at most f->max_bytes for a
 * URL; f may be NULL for the defaults). *out is malloc'd (NULL when
 * empty). With spec->sha256, bytes that hash otherwise are refused
 * ("payload digest mismatch: expected ... got ...", -EBADMSG). Returns 0
 * or -errno with one line in err saying what was wrong.
 */
int payload_load(const struct payload_spec *spec, const struct payload_fetch *f,
                 size_t max, uint8_t **out, size_t *len, char *err,
                 size_t errlen);

/*
 * Whether p has the SHA-256 digest sha256 (64 hex digits). Returns 0, or
 * -EBADMSG ("payload digest mismatch: expected ... got ..."), -EINVAL for
 * a malformed digest, -ENOMEM, with one line in err.
 */
int payload_check_pin(const char *sha256, const uint8_t *p, size_t len,
                      char *err, size_t errlen);

/*
 * Read all of path ("-": stdin), refusing more than max bytes. *out is
 * malloc'd (NULL when empty). Returns 0 or -errno with a message in err
 * naming the file and the problem.
 */
int payload_read(const char *path, size_t max, uint8_t **out, size_t *len,
                 char *err, size_t errlen);

#endif
