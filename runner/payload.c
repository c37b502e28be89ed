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
#include <time.h>
#include <unistd.h>

#define PAYLOAD_CHUNK 65536

#include "codec.h"
#include "fsafe.h"
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
    struct stat st;
    int rc;

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
    rc = fsafe_read_max(fd, max, out, len);
    if (rc == -EFBIG)
        snprintf(err, errlen,
                 "%s is larger than %zu bytes, the most guest memory "
                 "can hold",
                 name, max);
    else if (rc == -ENOMEM)
        snprintf(err, errlen, "reading %s: out of memory", name);
    else if (rc)
        snprintf(err, errlen, "cannot read %s: %s", name, strerror(-rc));
out:
    if (!is_stdin)
        close(fd);
    return rc;
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

/* Whether host (lower case, no IPv6 brackets, no trailing dot) is one of
 * f->allow_hosts; any host when there is no list. */
static int host_allowed(const char *host, const struct payload_fetch *f)
{
    if (!f->allow_hosts)
        return 1;
    for (const char *const *h = f->allow_hosts; *h; h++)
        if (!strcmp(*h, host))
            return 1;
    return 0;
}

/* host as the allow-list spells hosts: lower case, "[::1]" as "::1",
 * "example.org." as "example.org". In place. */
static void normalize_host(char *host)
{
    size_t n;

    for (char *c = host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
        n -= 2;
    }
    if (n > 1 && host[n - 1] == '.')
        host[n - 1] = '\0';
}

/*
 * Check a URL before any traffic to it: its syntax, its scheme and its host.
 * from is NULL for the URL given (http, https, file when allowed), else the
 * URL the fetch started at, and url is where a redirect from an https URL
 * (*https on input) leads: http or https only, https only from https. Every
 * host must be in f->allow_hosts when there is a list. Sets *https.
 */
static int check_url(const char *url, const char *from,
                     const struct payload_fetch *f, int *https, char *err,
                     size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    CURLUcode uc;
    int rc = 0, web;

    if (!u) {
        snprintf(err, errlen, "%s", "parsing the URL: out of memory");
        return -ENOMEM;
    }
    uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc != CURLUE_OK) {
        if (from)
            snprintf(err, errlen, "fetching %.*s: bad redirect URL '%.*s': %s",
                     URL_SHOWN, from, URL_SHOWN, url, curl_url_strerror(uc));
        else
            snprintf(err, errlen,
                     "bad URL '%.*s': %s; write it like "
                     "https://example.com/code.bin",
                     URL_SHOWN, url, curl_url_strerror(uc));
        rc = -EINVAL;
        goto out;
    }
    for (char *c = scheme; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    web = !strcmp(scheme, "http") || !strcmp(scheme, "https");
    if (from && !web) {
        snprintf(err, errlen,
                 "fetching %.*s: protocol refused (a redirect to '%.*s'); "
                 "only http and https are followed",
                 URL_SHOWN, from, URL_SHOWN, url);
        rc = -EPROTONOSUPPORT;
        goto out;
    }
    if (from && *https && strcmp(scheme, "https")) {
        snprintf(err, errlen,
                 "fetching %.*s: refused a redirect from https to %s "
                 "('%.*s'); a fetch on https stays on https",
                 URL_SHOWN, from, scheme, URL_SHOWN, url);
        rc = -EPERM;
        goto out;
    }
    if (!web && !(!strcmp(scheme, "file") && f->allow_file_urls)) {
        if (!strcmp(scheme, "file"))
            snprintf(err, errlen,
                     "file:// URLs are refused by default ('%.*s'); give the "
                     "path as FILE, or allow them with --allow-file-urls",
                     URL_SHOWN, url);
        else
            snprintf(err, errlen,
                     "URL scheme '%.20s' is not supported ('%.*s'); use "
                     "http:// or https://",
                     scheme, URL_SHOWN, url);
        rc = -EPROTONOSUPPORT;
        goto out;
    }
    *https = !strcmp(scheme, "https");
    if (!f->allow_hosts)
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        host = NULL; /* file:// has none: no host is on a list */
    if (host)
        normalize_host(host);
    if (host && host_allowed(host, f))
        goto out;
    if (from)
        snprintf(err, errlen,
                 "fetching %.*s: refused a redirect to host '%.100s' "
                 "('%.*s'), which is not an allowed host",
                 URL_SHOWN, from, host ? host : "", URL_SHOWN, url);
    else
        snprintf(err, errlen,
                 "the host '%.100s' of '%.*s' is not an allowed host; allow "
                 "it with --allow-urls=HOST,...",
                 host ? host : "", URL_SHOWN, url);
    rc = -EPERM;
out:
    curl_free(host);
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

#define HTTP_REDIRECT_MIN 300
#define HTTP_REDIRECT_MAX 399
#define MS_PER_S          1000u
#define NS_PER_MS         1000000u

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

/* The options every hop of a fetch shares. 0, or a curl error. */
static CURLcode setup_handle(CURL *h, const struct payload_fetch *f, size_t max,
                             struct sink *s, char *ebuf)
{
    CURLcode cc;

    /* Redirects are followed here, hop by hop, so that each one is checked
     * (check_url) before any traffic goes to it. */
    if ((cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L)) ||
        (cc =
             curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max)) ||
        (cc = curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L)) ||
        (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L)) ||
        (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L)) ||
        (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) ||
        (cc = curl_easy_setopt(h, CURLOPT_USERAGENT, "tincan")) ||
        (cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf)) ||
        (cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write)) ||
        (cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, s)))
        return cc;
    if (f->cacert)
        return curl_easy_setopt(h, CURLOPT_CAINFO, f->cacert);
    return CURLE_OK;
}

/* One hop: GET cur with what is left of the fetch's deadline. */
static CURLcode perform_hop(CURL *h, const char *cur, const char *protocols,
                            uint64_t left_ms)
{
    uint64_t connect_ms = left_ms < PAYLOAD_MAX_CONNECT_TIMEOUT_MS
                              ? left_ms
                              : PAYLOAD_MAX_CONNECT_TIMEOUT_MS;
    CURLcode cc;

    if ((cc = curl_easy_setopt(h, CURLOPT_URL, cur)) ||
        (cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols)) ||
        (cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                               (long)connect_ms)) ||
        (cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left_ms)))
        return cc;
    return curl_easy_perform(h);
}

/*
 * GET url into *out (malloc'd) with the limits of f; at most max bytes.
 * Follows up to PAYLOAD_MAX_REDIRECTS redirects, each checked first.
 */
static int fetch(const char *url, int https, const struct payload_fetch *f,
                 size_t max, uint8_t **out, size_t *len, char *err,
                 size_t errlen)
{
    char ebuf[CURL_ERROR_SIZE] = "", *cur = NULL, *next;
    struct sink s = {.max = max};
    uint64_t deadline = now_ms() + f->timeout_ms, t;
    CURL *h = NULL;
    CURLcode cc;
    long status;
    int rc = 0;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK || !(h = curl_easy_init()) ||
        !(cur = strdup(url))) {
        snprintf(err, errlen, "cannot start libcurl to fetch %.*s", URL_SHOWN,
                 url);
        rc = -ENOMEM;
        goto out;
    }
    if (setup_handle(h, f, max, &s, ebuf) != CURLE_OK) {
        snprintf(err, errlen,
                 "cannot set up the fetch of %.*s: this libcurl lacks an "
                 "option tincan needs (7.85 or newer is required)",
                 URL_SHOWN, url);
        rc = -ENOSYS;
        goto out;
    }
    for (int hop = 0;; hop++) {
        t = now_ms();
        s.len = 0; /* a redirect's own body is not the payload */
        cc = t < deadline ? perform_hop(h, cur,
                                        hop == 0 && f->allow_file_urls
                                            ? "http,https,file"
                                            : "http,https",
                                        deadline - t)
                          : CURLE_OPERATION_TIMEDOUT;
        if (cc != CURLE_OK) {
            rc = fetch_error(h, cc, url, &s, ebuf, f, err, errlen);
            goto out;
        }
        status = 0;
        next = NULL;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= HTTP_REDIRECT_MIN && status <= HTTP_REDIRECT_MAX)
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next);
        if (!next)
            break;
        if (hop == PAYLOAD_MAX_REDIRECTS) {
            rc = fetch_error(h, CURLE_TOO_MANY_REDIRECTS, url, &s, ebuf, f, err,
                             errlen);
            goto out;
        }
        rc = check_url(next, url, f, &https, err, errlen);
        if (rc)
            goto out;
        free(cur);
        cur = strdup(next); /* next belongs to the handle */
        if (!cur) {
            snprintf(err, errlen, "fetching %.*s: out of memory", URL_SHOWN,
                     url);
            rc = -ENOMEM;
            goto out;
        }
    }
    if (s.len) {
        *out = s.buf;
        *len = s.len;
        s.buf = NULL;
    }
out:
    free(s.buf);
    free(cur);
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

int payload_check_pin(const char *sha256, const uint8_t *p, size_t len,
                      char *err, size_t errlen)
{
    uint8_t want[PCACHE_DIGEST_LEN], got[PCACHE_DIGEST_LEN];

    if (pcache_parse_digest(sha256, want)) {
        snprintf(err, errlen,
                 "'%.80s' is not a SHA-256 digest; give its 64 hex digits "
                 "(sha256sum prints them)",
                 sha256);
        return -EINVAL;
    }
    if (pcache_sha256(p, len, got)) {
        snprintf(err, errlen, "%s", "cannot compute SHA-256 (OpenSSL)");
        return -ENOMEM;
    }
    if (memcmp(want, got, PCACHE_DIGEST_LEN) != 0)
        return digest_mismatch(want, got, err, errlen);
    return 0;
}

/* A URL through the caches: memory, then disk (pinned only), then curl. */
static int load_url(const char *url, const uint8_t *want,
                    const struct payload_fetch *f, size_t max, uint8_t **out,
                    size_t *len, char *err, size_t errlen)
{
    uint8_t got[PCACHE_DIGEST_LEN];
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc, https = 0;

    if (f->max_bytes < max)
        max = (size_t)f->max_bytes;
    rc = check_url(url, NULL, f, &https, err, errlen);
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
    rc = fetch(url, https, f, max, &buf, &n, err, errlen);
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
    uint8_t want[PCACHE_DIGEST_LEN];
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
    if (rc == 0 && spec->sha256)
        rc = payload_check_pin(spec->sha256, *out, *len, err, errlen);
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
