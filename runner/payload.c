/*
 * payload.c - code and input from files, stdin, hex, base64 and URLs, with
 * SHA-256 pinning (see payload.h).
 */
#include "payload.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAYLOAD_CHUNK 65536

#include "codec.h"
#include "pcache.h"

/* The error text names at most this much of a URL. */
#define URL_SHOWN 200

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void payload_fetch_init(struct payload_fetch *f)
{
    memset(f, 0, sizeof(*f));
    f->timeout_ms = PAYLOAD_DEFAULT_FETCH_TIMEOUT_MS;
    f->max_bytes = PAYLOAD_DEFAULT_MAX_FETCH;
}

int payload_is_url(const char *s)
{
    const char *p = s;

    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '.' || *p == '-')
        p++;
    return strncmp(p, "://", 3) == 0;
}

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

/* The body of a fetch, refused past max while it streams in. */
struct sink {
    uint8_t *buf;
    size_t len, cap, max;
    bool too_big;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;

    if (n > s->max - s->len) {
        s->too_big = true;
        return 0; /* curl aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (s->len + n > s->cap) {
        size_t ncap = s->cap ? s->cap : PAYLOAD_CHUNK;
        while (ncap < s->len + n)
            ncap *= 2;
        if (ncap > s->max)
            ncap = s->max;
        uint8_t *nb = realloc(s->buf, ncap);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = ncap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return n;
}

/* Check the URL's syntax and scheme before any network traffic. */
static int check_url(const char *url, const struct payload_fetch *f, char *err,
                     size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    CURLUcode uc;
    int rc = 0;

    if (!u) {
        snprintf(err, errlen, "%s", "parsing the URL: out of memory");
        return -ENOMEM;
    }
    uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc != CURLUE_OK) {
        snprintf(err, errlen,
                 "bad URL '%.*s': %s; write it like "
                 "https://example.com/code.bin",
                 URL_SHOWN, url, curl_url_strerror(uc));
        rc = -EINVAL;
        goto out;
    }
    for (char *c = scheme; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (!strcmp(scheme, "http") || !strcmp(scheme, "https") ||
        (!strcmp(scheme, "file") && f->allow_file_urls))
        goto out;
    if (!strcmp(scheme, "file"))
        snprintf(err, errlen,
                 "file:// URLs are refused by default ('%.*s'); give the "
                 "path as FILE, or allow them with --allow-file-urls",
                 URL_SHOWN, url);
    else
        snprintf(err, errlen,
                 "URL scheme '%.20s' is not supported ('%.*s'); use http:// "
                 "or https://",
                 scheme, URL_SHOWN, url);
    rc = -EPROTONOSUPPORT;
out:
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* One line for a failed transfer; returns the -errno that goes with it. */
static int fetch_error(CURL *h, CURLcode cc, const char *url,
                       const struct sink *s, const char *ebuf,
                       const struct payload_fetch *f, char *err, size_t errlen)
{
    const char *detail = ebuf[0] ? ebuf : curl_easy_strerror(cc);
    long status = 0, oserr = 0;

    if (s->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, errlen,
                 "%.*s is larger than the fetch limit of %zu bytes; raise "
                 "it with --max-fetch",
                 URL_SHOWN, url, s->max);
        return -EFBIG;
    }
    switch (cc) {
    case CURLE_HTTP_RETURNED_ERROR:
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        snprintf(err, errlen, "fetching %.*s: HTTP status %ld", URL_SHOWN, url,
                 status);
        return -EREMOTEIO;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(err, errlen, "fetching %.*s: DNS lookup failed: %s", URL_SHOWN,
                 url, detail);
        return -EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        if (oserr == ECONNREFUSED) {
            snprintf(err, errlen,
                     "fetching %.*s: connection refused; is the server "
                     "running?",
                     URL_SHOWN, url);
            return -ECONNREFUSED;
        }
        snprintf(err, errlen, "fetching %.*s: cannot connect: %s", URL_SHOWN,
                 url, detail);
        return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(err, errlen,
                 "fetching %.*s timed out after %llu ms; raise the limit "
                 "with --fetch-timeout",
                 URL_SHOWN, url, (unsigned long long)f->timeout_ms);
        return -ETIMEDOUT;
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(err, errlen,
                 "fetching %.*s: protocol refused (%s); only http and https "
                 "are followed",
                 URL_SHOWN, url, detail);
        return -EPROTONOSUPPORT;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(err, errlen, "fetching %.*s: more than %d redirects",
                 URL_SHOWN, url, PAYLOAD_MAX_REDIRECTS);
        return -ELOOP;
    case CURLE_URL_MALFORMAT:
        snprintf(err, errlen, "bad URL '%.*s': %s", URL_SHOWN, url, detail);
        return -EINVAL;
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(err, errlen, "cannot use --cacert %.200s: %s",
                 f->cacert ? f->cacert : "(system CAs)", detail);
        return -EINVAL;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        snprintf(err, errlen,
                 "TLS error fetching %.*s: %s; certificates are always "
                 "verified: for a private CA, pass it with --cacert FILE",
                 URL_SHOWN, url, detail);
        return -EPROTO;
    case CURLE_FILE_COULDNT_READ_FILE:
        snprintf(err, errlen, "cannot read %.*s: %s", URL_SHOWN, url, detail);
        return -ENOENT;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR: /* the sink's realloc failed */
        snprintf(err, errlen, "fetching %.*s: out of memory", URL_SHOWN, url);
        return -ENOMEM;
    default:
        snprintf(err, errlen, "fetching %.*s failed: %s (curl error %d)",
                 URL_SHOWN, url, detail, (int)cc);
        return -EIO;
    }
}

/* GET url into *out (malloc'd) with the limits of f; at most max bytes. */
static int fetch(const char *url, const struct payload_fetch *f, size_t max,
                 uint8_t **out, size_t *len, char *err, size_t errlen)
{
    const char *protocols =
        f->allow_file_urls ? "http,https,file" : "http,https";
    char ebuf[CURL_ERROR_SIZE] = "";
    struct sink s = {.max = max};
    uint64_t connect_ms = f->timeout_ms < PAYLOAD_MAX_CONNECT_TIMEOUT_MS
                              ? f->timeout_ms
                              : PAYLOAD_MAX_CONNECT_TIMEOUT_MS;
    CURL *h = NULL;
    CURLcode cc;
    int rc = 0;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
        snprintf(err, errlen, "cannot start libcurl to fetch %.*s", URL_SHOWN,
                 url);
        return -ENOMEM;
    }
    if (curl_easy_setopt(h, CURLOPT_URL, url) ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols) ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) ||
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)PAYLOAD_MAX_REDIRECTS) ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms) ||
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) ||
        curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L) ||
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) ||
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "tincan") ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf) ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write) ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s) ||
        (f->cacert && curl_easy_setopt(h, CURLOPT_CAINFO, f->cacert))) {
        snprintf(err, errlen,
                 "cannot set up the fetch of %.*s: this libcurl lacks an "
                 "option tincan needs (7.85 or newer is required)",
                 URL_SHOWN, url);
        rc = -ENOSYS;
        goto out;
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        rc = fetch_error(h, cc, url, &s, ebuf, f, err, errlen);
        goto out;
    }
    if (s.len) {
        *out = s.buf;
        *len = s.len;
        s.buf = NULL;
    }
out:
    free(s.buf);
    curl_easy_cleanup(h);
    return rc;
}

static int digest_mismatch(const uint8_t *want, const uint8_t *got, char *err,
                           size_t errlen)
{
    char w[PCACHE_HEX_LEN + 1], g[PCACHE_HEX_LEN + 1];

    pcache_hex(want, w);
    pcache_hex(got, g);
    snprintf(err, errlen, "payload digest mismatch: expected %s got %s", w, g);
    return -EBADMSG;
}

/* A URL through the caches: memory, then disk (pinned only), then curl. */
static int load_url(const char *url, const uint8_t *want,
                    const struct payload_fetch *f, size_t max, uint8_t **out,
                    size_t *len, char *err, size_t errlen)
{
    uint8_t got[PCACHE_DIGEST_LEN];
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc;

    if (f->max_bytes < max)
        max = (size_t)f->max_bytes;
    rc = check_url(url, f, err, errlen);
    if (rc)
        return rc;
    rc = pcache_mem_get(url, want, max, out, len);
    if (rc)
        goto hit;
    if (want && f->cache_dir) {
        rc = pcache_disk_get(f->cache_dir, want, max, &buf, &n, err, errlen);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            memcpy(got, want, PCACHE_DIGEST_LEN); /* verified on read */
            goto store;
        }
    }
    rc = fetch(url, f, max, &buf, &n, err, errlen);
    if (rc)
        return rc;
    if (pcache_sha256(buf, n, got)) {
        snprintf(err, errlen, "%s", "cannot compute SHA-256 (OpenSSL)");
        rc = -ENOMEM;
        goto out;
    }
    if (want && memcmp(want, got, PCACHE_DIGEST_LEN) != 0) {
        rc = digest_mismatch(want, got, err, errlen);
        goto out;
    }
    if (f->cache_dir) {
        rc = pcache_disk_put(f->cache_dir, got, buf, n, err, errlen);
        if (rc)
            goto out;
    }
store:
    rc = pcache_mem_put(url, got, buf, n);
    if (rc) {
        snprintf(err, errlen, "%s", "caching the fetch: out of memory");
        goto out;
    }
    *out = buf;
    *len = n;
    return 0;
hit:
    if (rc < 0)
        snprintf(err, errlen, "%s", "reading the cache: out of memory");
    return rc < 0 ? rc : 0;
out:
    free(buf);
    return rc;
}

int payload_load(const struct payload_spec *spec, const struct payload_fetch *f,
                 size_t max, uint8_t **out, size_t *len, char *err,
                 size_t errlen)
{
    uint8_t want[PCACHE_DIGEST_LEN], got[PCACHE_DIGEST_LEN];
    struct payload_fetch defaults;
    int rc;

    *out = NULL;
    *len = 0;
    if (!f) {
        payload_fetch_init(&defaults);
        f = &defaults;
    }
    if (!spec->text) {
        snprintf(err, errlen, "%s",
                 "no source: give a file, -, hex, base64 "
                 "or a URL");
        return -EINVAL;
    }
    if (spec->sha256 && pcache_parse_digest(spec->sha256, want)) {
        snprintf(err, errlen,
                 "--sha256 '%.80s' is not a SHA-256 digest; give its 64 hex "
                 "digits (sha256sum prints them)",
                 spec->sha256);
        return -EINVAL;
    }
    switch (spec->kind) {
    case PAYLOAD_PATH:
        rc = payload_read(spec->text, max, out, len, err, errlen);
        break;
    case PAYLOAD_HEX:
        rc = codec_hex_decode(spec->text, out, len, err, errlen);
        break;
    case PAYLOAD_B64:
        rc = codec_b64_decode(spec->text, out, len, err, errlen);
        break;
    case PAYLOAD_URL:
        return load_url(spec->text, spec->sha256 ? want : NULL, f, max, out,
                        len, err, errlen);
    default:
        snprintf(err, errlen, "unknown payload source kind %d",
                 (int)spec->kind);
        return -EINVAL;
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s", "decoding the payload: out of memory");
    if (rc == 0 && *len > max) {
        snprintf(err, errlen,
                 "the payload is %zu bytes, more than the %zu that guest "
                 "memory can hold",
                 *len, max);
        rc = -EFBIG;
    }
    if (rc == 0 && spec->sha256) {
        if (pcache_sha256(*out, *len, got)) {
            snprintf(err, errlen, "%s", "cannot compute SHA-256 (OpenSSL)");
            rc = -ENOMEM;
        } else if (memcmp(want, got, PCACHE_DIGEST_LEN) != 0) {
            rc = digest_mismatch(want, got, err, errlen);
        }
    }
    if (rc == 0 && *len == 0) {
        free(*out); /* the hex decoder returns a buffer even when empty */
        *out = NULL;
    }
    if (rc) {
        free(*out);
        *out = NULL;
        *len = 0;
    }
    return rc;
}
