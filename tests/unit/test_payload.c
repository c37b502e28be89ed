/*
 * test_payload.c - payload sources against real servers on 127.0.0.1: the
 * suite starts tests/fetch_server.py twice (HTTP, and HTTPS with a
 * certificate made now with openssl) and fetches through payload_load() and
 * tc_load(): bodies, HTTP errors, redirects, timeouts, size caps, digests,
 * both caches, bad URLs, refused connections and TLS verification.
 * No KVM needed; nothing leaves the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../api/tincan.h"
#include "../runner/payload.h"
#include "../runner/pcache.h"

#define HELLO "hello, payload\n"

struct server {
    pid_t pid;
    int port;
};

static struct server http_srv, tls_srv;
static char tmpdir[] = "/tmp/tincan-payload.XXXXXX";
static char tlsdir[300], cacert[400], wrong_ca[400], cachedir[300];

static int server_start(struct server *s, const char *tls)
{
    int fds[2];
    char line[32] = "";
    ssize_t n = 0;
    struct pollfd pfd;

    if (pipe(fds) != 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        /* If this test dies (an alarm on a hang), the server goes too. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (tls)
            execlp("python3", "python3", "tests/fetch_server.py", "--tls", tls,
                   (char *)NULL);
        else
            execlp("python3", "python3", "tests/fetch_server.py", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    /* Read the whole line: closing the pipe before the server has written
     * its newline kills it with EPIPE. */
    while ((size_t)n < sizeof(line) - 1 && !memchr(line, '\n', (size_t)n) &&
           poll(&pfd, 1, 20000) == 1) {
        ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - (size_t)n);
        if (r <= 0)
            break;
        n += r;
    }
    close(fds[0]);
    s->port = memchr(line, '\n', (size_t)n) ? atoi(line) : 0;
    return s->port > 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* A plain GET of path from the HTTP server, not through the caches. */
static void raw_get(const char *path, char *body, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)http_srv.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char req[256], buf[4096];
    size_t n = 0;
    ssize_t r;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char *p;

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (n < sizeof(buf) - 1 &&
           (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    p = strstr(buf, "\r\n\r\n");
    assert_non_null(p);
    snprintf(body, len, "%s", p + 4);
}

static long requests_of(const char *path)
{
    char q[256], body[64];

    snprintf(q, sizeof(q), "/count-of%s", path);
    raw_get(q, body, sizeof(body));
    return atol(body);
}

static void url(char *buf, size_t len, const struct server *s, const char *path)
{
    snprintf(buf, len, "%s://127.0.0.1:%d%s", s == &tls_srv ? "https" : "http",
             s->port, path);
}

/* payload_load of a URL; returns its rc, bytes in *out (caller frees). */
static int load(const char *u, const char *sha, const struct payload_fetch *f,
                uint8_t **out, size_t *len, char *err, size_t errlen)
{
    struct payload_spec spec = {.kind = PAYLOAD_URL, .text = u, .sha256 = sha};

    return payload_load(&spec, f, TC_MAX_MEM, out, len, err, errlen);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    (void)state;
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tlsdir, sizeof(tlsdir), "%s/tls", tmpdir);
    snprintf(cacert, sizeof(cacert), "%s/cert.pem", tlsdir);
    snprintf(wrong_ca, sizeof(wrong_ca), "%s/other-ca.pem", tlsdir);
    snprintf(cachedir, sizeof(cachedir), "%s/cache", tmpdir);
    if (mkdir(tlsdir, 0700) != 0)
        return -1;
    if (server_start(&http_srv, NULL) || server_start(&tls_srv, tlsdir)) {
        fprintf(stderr, "test_payload: cannot start tests/fetch_server.py "
                        "(python3 and openssl are needed)\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];

    (void)state;
    server_stop(&http_srv);
    server_stop(&tls_srv);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_url_body_arrives_byte_exact(void **state)
{
    char u[128], err[512] = "";
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    url(u, sizeof(u), &http_srv, "/hello");
    assert_int_equal(load(u, NULL, NULL, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(HELLO));
    assert_memory_equal(out, HELLO, len);
    free(out);
}

static void test_http_404_is_refused_with_its_status(void **state)
{
    char u[128], want[256], err[512] = "";
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    url(u, sizeof(u), &http_srv, "/status/404");
    assert_int_equal(load(u, NULL, NULL, &out, &len, err, sizeof(err)),
                     -EREMOTEIO);
    snprintf(want, sizeof(want), "fetching %s: HTTP status 404", u);
    assert_string_equal(err, want);
    assert_null(out);
    assert_int_equal(len, 0);
}

static void test_redirect_to_file_url_is_refused_even_when_allowed(void **state)
{
    char u[128], want[256], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    payload_fetch_init(&f);
    url(u, sizeof(u), &http_srv, "/redirect-file");
    snprintf(want, sizeof(want), "fetching %s: protocol refused (", u);
    for (f.allow_file_urls = 0; f.allow_file_urls < 2; f.allow_file_urls++) {
        assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)),
                         -EPROTONOSUPPORT);
        assert_memory_equal(err, want, strlen(want));
        assert_null(out);
    }
}

static void test_five_redirects_are_followed_and_six_refused(void **state)
{
    char u[128], want[256], err[512] = "";
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    url(u, sizeof(u), &http_srv, "/redirect/5");
    assert_int_equal(load(u, NULL, NULL, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(HELLO));
    assert_memory_equal(out, HELLO, len);
    free(out);
    out = NULL;
    url(u, sizeof(u), &http_srv, "/redirect/6");
    assert_int_equal(load(u, NULL, NULL, &out, &len, err, sizeof(err)), -ELOOP);
    snprintf(want, sizeof(want), "fetching %s: more than 5 redirects", u);
    assert_string_equal(err, want);
}

static void
test_https_redirect_to_http_is_refused_before_any_cleartext(void **state)
{
    char u[256], to[128], want[512], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    payload_fetch_init(&f);
    f.cacert = cacert;
    url(to, sizeof(to), &http_srv, "/count/downgrade");
    snprintf(u, sizeof(u), "https://127.0.0.1:%d/redirect-to/%s", tls_srv.port,
             to);
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EPERM);
    snprintf(want, sizeof(want),
             "fetching %s: refused a redirect from https to http ('%s'); a "
             "fetch on https stays on https",
             u, to);
    assert_string_equal(err, want);
    assert_null(out);
    assert_int_equal(requests_of("/count/downgrade"), 0);
    /* https to https is followed, and so is http up to https. */
    url(u, sizeof(u), &tls_srv, "/redirect/2");
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(HELLO));
    free(out);
    url(to, sizeof(to), &tls_srv, "/count/upgrade");
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/redirect-to/%s", http_srv.port,
             to);
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen("counted upgrade\n"));
    assert_memory_equal(out, "counted upgrade\n", len);
    free(out);
}

static void test_allowed_hosts_bind_the_url_and_every_redirect(void **state)
{
    static const char *const hosts[] = {"127.0.0.1", NULL};
    char u[256], to[128], want[512], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    payload_fetch_init(&f);
    f.allow_hosts = hosts;
    url(u, sizeof(u), &http_srv, "/redirect/1");
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(HELLO));
    free(out);
    out = NULL;
    /* A redirect to another name for the same server is refused. */
    snprintf(to, sizeof(to), "http://localhost:%d/count/elsewhere",
             http_srv.port);
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/redirect-to/%s", http_srv.port,
             to);
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EPERM);
    snprintf(want, sizeof(want),
             "fetching %s: refused a redirect to host 'localhost' ('%s'), "
             "which is not an allowed host",
             u, to);
    assert_string_equal(err, want);
    assert_int_equal(requests_of("/count/elsewhere"), 0);
    /* So is naming it first; the host is compared case-insensitively. */
    assert_int_equal(load(to, NULL, &f, &out, &len, err, sizeof(err)), -EPERM);
    snprintf(want, sizeof(want),
             "the host 'localhost' of '%s' is not an allowed host; allow it "
             "with --allow-urls=HOST,...",
             to);
    assert_string_equal(err, want);
    assert_int_equal(requests_of("/count/elsewhere"), 0);
    snprintf(u, sizeof(u), "http://LOCALHOST.:%d/count/elsewhere",
             http_srv.port);
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EPERM);
    assert_null(out);
}

static void test_slow_server_hits_the_fetch_timeout(void **state)
{
    char u[128], want[256], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;
    uint64_t t0;

    (void)state;
    payload_fetch_init(&f);
    f.timeout_ms = 300;
    url(u, sizeof(u), &http_srv, "/slow");
    t0 = now_ms();
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)),
                     -ETIMEDOUT);
    assert_true(now_ms() - t0 < 5000);
    snprintf(want, sizeof(want),
             "fetching %s timed out after 300 ms; raise the limit with "
             "--fetch-timeout",
             u);
    assert_string_equal(err, want);
}

static void test_endless_body_is_cut_at_the_cap(void **state)
{
    char u[128], want[256], body[64], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;
    long long sent = 0;
    int done = 0;

    (void)state;
    payload_fetch_init(&f);
    f.max_bytes = 1 << 20;
    url(u, sizeof(u), &http_srv, "/endless");
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EFBIG);
    snprintf(want, sizeof(want),
             "%s is larger than the fetch limit of 1048576 bytes; raise it "
             "with --max-fetch",
             u);
    assert_string_equal(err, want);
    assert_null(out);
    for (int i = 0; i < 100 && !done; i++) {
        raw_get("/endless-stats", body, sizeof(body));
        assert_int_equal(sscanf(body, "%lld %d", &sent, &done), 2);
        if (!done)
            usleep(50000);
    }
    assert_int_equal(done, 1);
    /* The server stopped near the cap: socket buffers hold the rest. */
    assert_true(sent >= 1 << 20);
    assert_true(sent <= 2 << 20);
}

static void test_declared_huge_body_is_refused_before_it_arrives(void **state)
{
    char u[128], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;
    uint64_t t0;

    (void)state;
    payload_fetch_init(&f);
    f.max_bytes = 1 << 20;
    url(u, sizeof(u), &http_srv, "/huge-declared");
    t0 = now_ms();
    /* The server sends headers only and then waits 60 s: only the
     * Content-Length can have ended this fetch. */
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EFBIG);
    assert_true(now_ms() - t0 < 5000);
}

static void test_digest_match_loads_and_mismatch_is_refused(void **state)
{
    char u[128], hex[PCACHE_HEX_LEN + 1], want[256], err[512] = "";
    static const char wrong[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    uint8_t d[PCACHE_DIGEST_LEN];
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(pcache_sha256((const uint8_t *)HELLO, strlen(HELLO), d),
                     0);
    pcache_hex(d, hex);
    url(u, sizeof(u), &http_srv, "/count/digest");
    assert_int_equal(load(u, hex, NULL, &out, &len, err, sizeof(err)),
                     -EBADMSG);
    /* /count/digest serves "counted digest\n", not HELLO. */
    assert_int_equal(pcache_sha256((const uint8_t *)"counted digest\n", 15, d),
                     0);
    char got[PCACHE_HEX_LEN + 1];
    pcache_hex(d, got);
    snprintf(want, sizeof(want), "payload digest mismatch: expected %s got %s",
             hex, got);
    assert_string_equal(err, want);
    assert_null(out);
    assert_int_equal(load(u, got, NULL, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 15);
    assert_memory_equal(out, "counted digest\n", 15);
    free(out);
    out = NULL;

    /* The same pin works for text sources. */
    struct payload_spec hexsrc = {
        .kind = PAYLOAD_HEX, .text = "b0 41 e6 10 f4", .sha256 = wrong};
    struct payload_spec b64src = {.kind = PAYLOAD_B64, .text = "sEHmEPQ="};
    assert_int_equal(
        payload_load(&hexsrc, NULL, 100, &out, &len, err, sizeof(err)),
        -EBADMSG);
    assert_int_equal(
        pcache_sha256((const uint8_t *)"\xb0\x41\xe6\x10\xf4", 5, d), 0);
    pcache_hex(d, hex);
    snprintf(want, sizeof(want), "payload digest mismatch: expected %s got %s",
             wrong, hex);
    assert_string_equal(err, want);
    b64src.sha256 = hex;
    assert_int_equal(
        payload_load(&b64src, NULL, 100, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "\xb0\x41\xe6\x10\xf4", 5);
    free(out);
    b64src.sha256 = "abc";
    assert_int_equal(
        payload_load(&b64src, NULL, 100, &out, &len, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "--sha256 'abc' is not a SHA-256 digest; give "
                             "its 64 hex digits (sha256sum prints them)");
}

static void test_same_url_is_fetched_once_per_process(void **state)
{
    char u[128], err[512] = "";
    struct tc_source src = {.kind = TC_SOURCE_URL, .text = u};
    void *out = NULL;
    size_t len = 0;

    (void)state;
    url(u, sizeof(u), &http_srv, "/count/api");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tc_load(&src, NULL, &out, &len, err, sizeof(err)), 0);
        assert_int_equal(len, 12);
        assert_memory_equal(out, "counted api\n", 12);
        free(out);
    }
    assert_int_equal(requests_of("/count/api"), 1);
    tc_fetch_cache_clear();
    assert_int_equal(tc_load(&src, NULL, &out, &len, err, sizeof(err)), 0);
    free(out);
    assert_int_equal(requests_of("/count/api"), 2);
}

static void test_pinned_fetch_is_served_from_the_cache_dir(void **state)
{
    char u[128], hex[PCACHE_HEX_LEN + 1], path[512], err[512] = "";
    uint8_t d[PCACHE_DIGEST_LEN];
    struct tc_fetch_options fo;
    struct tc_source src = {.kind = TC_SOURCE_URL, .text = u, .sha256 = hex};
    void *out = NULL;
    size_t len = 0;
    FILE *fp;
    char disk[64] = "";

    (void)state;
    tc_fetch_options_init(&fo);
    fo.cache_dir = cachedir;
    assert_int_equal(pcache_sha256((const uint8_t *)"counted disk\n", 13, d),
                     0);
    pcache_hex(d, hex);
    url(u, sizeof(u), &http_srv, "/count/disk");
    assert_int_equal(tc_load(&src, &fo, &out, &len, err, sizeof(err)), 0);
    free(out);
    snprintf(path, sizeof(path), "%s/%s", cachedir, hex);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(disk, 1, sizeof(disk), fp), 13);
    fclose(fp);
    assert_memory_equal(disk, "counted disk\n", 13);

    tc_fetch_cache_clear(); /* only the directory can serve it now */
    assert_int_equal(tc_load(&src, &fo, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 13);
    assert_memory_equal(out, "counted disk\n", 13);
    free(out);
    assert_int_equal(requests_of("/count/disk"), 1);

    /* A corrupt entry is not served: fetched again and rewritten. */
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("counted DISK\n", fp);
    fclose(fp);
    tc_fetch_cache_clear();
    assert_int_equal(tc_load(&src, &fo, &out, &len, err, sizeof(err)), 0);
    assert_memory_equal(out, "counted disk\n", 13);
    free(out);
    assert_int_equal(requests_of("/count/disk"), 2);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(disk, 1, sizeof(disk), fp), 13);
    fclose(fp);
    assert_memory_equal(disk, "counted disk\n", 13);
}

/* The cache entry at path holds exactly want (a regular file, not a link). */
static void assert_entry_is(const char *path, const char *want)
{
    char disk[64] = "";
    struct stat st;
    FILE *fp;

    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(disk, 1, sizeof(disk), fp), strlen(want));
    fclose(fp);
    assert_memory_equal(disk, want, strlen(want));
}

static void
test_fifo_or_symlinked_cache_entry_is_a_miss_and_replaced(void **state)
{
    static const char body[] = "counted odd\n";
    char u[128], hex[PCACHE_HEX_LEN + 1], path[512], decoy[512], err[512] = "";
    uint8_t d[PCACHE_DIGEST_LEN];
    struct tc_fetch_options fo;
    struct tc_source src = {.kind = TC_SOURCE_URL, .text = u, .sha256 = hex};
    void *out = NULL;
    size_t len = 0;
    FILE *fp;

    (void)state;
    tc_fetch_options_init(&fo);
    fo.cache_dir = cachedir;
    fo.timeout_ms = 5000;
    assert_int_equal(mkdir(cachedir, 0700) == 0 || errno == EEXIST, 1);
    assert_int_equal(pcache_sha256((const uint8_t *)body, strlen(body), d), 0);
    pcache_hex(d, hex);
    url(u, sizeof(u), &http_srv, "/count/odd");
    snprintf(path, sizeof(path), "%s/%s", cachedir, hex);

    /* A FIFO: opening it for reading would wait for a writer forever. */
    assert_int_equal(mkfifo(path, 0644), 0);
    tc_fetch_cache_clear();
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(tc_load(&src, &fo, &out, &len, err, sizeof(err)), 0);
    alarm(0);
    assert_int_equal(len, strlen(body));
    assert_memory_equal(out, body, len);
    free(out);
    assert_int_equal(requests_of("/count/odd"), 1);
    assert_entry_is(path, body);

    /* A symlink to a file with the right bytes: still a miss, replaced by
     * a regular entry; the file it pointed to is left alone. */
    snprintf(decoy, sizeof(decoy), "%s/decoy", tmpdir);
    fp = fopen(decoy, "wb");
    assert_non_null(fp);
    fputs(body, fp);
    fclose(fp);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(decoy, path), 0);
    tc_fetch_cache_clear();
    assert_int_equal(tc_load(&src, &fo, &out, &len, err, sizeof(err)), 0);
    assert_memory_equal(out, body, strlen(body));
    free(out);
    assert_int_equal(requests_of("/count/odd"), 2);
    assert_entry_is(path, body);
    assert_entry_is(decoy, body);

    /* And the regular entry now serves without a request. */
    tc_fetch_cache_clear();
    assert_int_equal(tc_load(&src, &fo, &out, &len, err, sizeof(err)), 0);
    free(out);
    assert_int_equal(requests_of("/count/odd"), 2);
}

static void test_bad_url_syntax_is_refused(void **state)
{
    char err[512] = "";
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(load("http://", NULL, NULL, &out, &len, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad URL 'http://': No host part in the URL; "
                             "write it like https://example.com/code.bin");
    assert_int_equal(
        load("http://[::1/x", NULL, NULL, &out, &len, err, sizeof(err)),
        -EINVAL);
    assert_memory_equal(err, "bad URL 'http://[::1/x': ", 24);
}

static void test_unknown_scheme_and_file_urls_are_refused(void **state)
{
    char u[600], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;
    FILE *fp;

    (void)state;
    assert_int_equal(
        load("gopher://127.0.0.1/x", NULL, NULL, &out, &len, err, sizeof(err)),
        -EPROTONOSUPPORT);
    assert_string_equal(err, "URL scheme 'gopher' is not supported "
                             "('gopher://127.0.0.1/x'); use http:// or "
                             "https://");
    snprintf(u, sizeof(u), "file://%s/local.bin", tmpdir);
    fp = fopen(u + 7, "wb");
    assert_non_null(fp);
    fputs("local\n", fp);
    fclose(fp);
    assert_int_equal(load(u, NULL, NULL, &out, &len, err, sizeof(err)),
                     -EPROTONOSUPPORT);
    assert_memory_equal(err, "file:// URLs are refused by default", 35);
    payload_fetch_init(&f);
    f.allow_file_urls = 1;
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "local\n", 6);
    free(out);
}

static void test_closed_port_is_connection_refused(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    char u[128], want[256], err[512] = "";
    uint8_t *out = NULL;
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd); /* bound, never listened: nothing accepts on it */
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    assert_int_equal(load(u, NULL, NULL, &out, &len, err, sizeof(err)),
                     -ECONNREFUSED);
    snprintf(want, sizeof(want),
             "fetching %s: connection refused; is the server running?", u);
    assert_string_equal(err, want);
}

static void test_https_verifies_against_the_given_ca(void **state)
{
    char u[128], want[256], err[512] = "";
    struct payload_fetch f;
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    payload_fetch_init(&f);
    f.cacert = cacert;
    url(u, sizeof(u), &tls_srv, "/hello");
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(HELLO));
    assert_memory_equal(out, HELLO, len);
    free(out);
    out = NULL;
    pcache_mem_clear(); /* or the next loads would be cache hits */
    snprintf(want, sizeof(want), "TLS error fetching %s: ", u);
    f.cacert = wrong_ca;
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EPROTO);
    assert_memory_equal(err, want, strlen(want));
    assert_non_null(strstr(err, "pass it with --cacert FILE"));
    f.cacert = NULL; /* the system's CAs do not know it either */
    assert_int_equal(load(u, NULL, &f, &out, &len, err, sizeof(err)), -EPROTO);
    assert_memory_equal(err, want, strlen(want));
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_body_arrives_byte_exact),
        cmocka_unit_test(test_http_404_is_refused_with_its_status),
        cmocka_unit_test(
            test_redirect_to_file_url_is_refused_even_when_allowed),
        cmocka_unit_test(test_five_redirects_are_followed_and_six_refused),
        cmocka_unit_test(
            test_https_redirect_to_http_is_refused_before_any_cleartext),
        cmocka_unit_test(test_allowed_hosts_bind_the_url_and_every_redirect),
        cmocka_unit_test(test_slow_server_hits_the_fetch_timeout),
        cmocka_unit_test(test_endless_body_is_cut_at_the_cap),
        cmocka_unit_test(test_declared_huge_body_is_refused_before_it_arrives),
        cmocka_unit_test(test_digest_match_loads_and_mismatch_is_refused),
        cmocka_unit_test(test_same_url_is_fetched_once_per_process),
        cmocka_unit_test(test_pinned_fetch_is_served_from_the_cache_dir),
        cmocka_unit_test(
            test_fifo_or_symlinked_cache_entry_is_a_miss_and_replaced),
        cmocka_unit_test(test_bad_url_syntax_is_refused),
        cmocka_unit_test(test_unknown_scheme_and_file_urls_are_refused),
        cmocka_unit_test(test_closed_port_is_connection_refused),
        cmocka_unit_test(test_https_verifies_against_the_given_ca),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
