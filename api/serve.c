/*
 * serve.c - `tincan serve` (see serve.h): parses the flags, opens the
 * listening socket (TCP, loopback only without --tokens, or a unix socket),
 * starts the job queue and the HTTP daemon, and then owns the signals from
 * a signalfd: SIGHUP reloads --tokens (a bad file keeps the old one), the
 * first SIGTERM or SIGINT drains (no new connections, /readyz 503, accepted
 * jobs finish) and exits 0, a second one exits at once.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../runner/units.h"
#include "fetchopt.h"
#include "http.h"
#include "jobq.h"
#include "jobq_redis.h"
#include "jobspec.h"
#include "report.h"
#include "tokens.h"

#define DEFAULT_LISTEN   "127.0.0.1:8080"
#define MAX_WORKERS      1024
#define MAX_QUEUE        1000000
#define MAX_MAX_BODY     (1ULL << 30)
#define LISTEN_BACKLOG   512
#define LOG_MODE         0640
#define SOCKET_UMASK     0177 /* a unix socket only its owner may use */
#define DRAIN_POLL_MS    100
#define ERR_MAX          768
#define LOOPBACK_NET     0x7f000000u /* 127.0.0.0/8 */
#define LOOPBACK_MASK    0xff000000u
#define UNIX_PREFIX      "unix:"
#define SIGNAL_EXIT_BASE 128 /* + the signal, as shells report it */
/* With --redis: the stream's length cap (--queue), and the job slots a
 * /v1/batch plans for (-j: the fleet's, not this host's CPUs). */
#define REDIS_DEFAULT_QUEUE   100000
#define REDIS_DEFAULT_WORKERS 64

static const char serve_usage[] =
    "usage: tincan serve [--listen HOST:PORT | --listen unix:PATH]\n"
    "                    [--tokens FILE] [-j N] [--queue N] [--max-body "
    "SIZE]\n"
    "                    [--keep DURATION] [--log FILE] [--allow-paths DIR]\n"
    "                    [--allow-urls[=HOSTS]] [--redis URL [--prefix P]]\n"
    "\n"
    "An HTTP service that runs jobs (the JSON objects of tincan batch lines)\n"
    "each in its own fresh VM: POST /v1/run, /v1/jobs, /v1/batch; GET\n"
    "/v1/jobs/ID, /v1/info, /healthz, /readyz, /metrics; the playground at\n"
    "GET /. See the README's Service section.\n"
    "\n"
    "options:\n"
    "  --listen ADDR     HOST:PORT (default 127.0.0.1:8080; port 0 picks a\n"
    "                    free one) or unix:PATH. Without --tokens only\n"
    "                    loopback addresses and unix sockets are served.\n"
    "  --tokens FILE     who may call: lines 'NAME SHA256HEX "
    "[max_concurrent=N]\n"
    "                    [rate=R/s] [burst=B] [max_timeout=DUR] "
    "[max_mem=SIZE]\n"
    "                    [max_output=SIZE]'; SIGHUP reloads it\n"
    "  -j, --jobs N      job workers (default: the number of CPUs)\n"
    "  --queue N         jobs waiting at most, then 503 (default 1024)\n"
    "  --max-body SIZE   request bodies at most (default 16M)\n"
    "  --keep DURATION   how long finished async jobs are kept (default 10m;\n"
    "                    at most 10000 of them, 256 MiB of results)\n"
    "  --log FILE        the access log, one JSON line per request (default:\n"
    "                    stderr)\n"
    "  --redis URL       put the jobs on the fleet's queue instead of running\n"
    "                    them here: tincan worker processes on any host run\n"
    "                    them. URL: "
    "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]\n"
    "                    or unix:///PATH (no TLS). Then --queue N is the\n"
    "                    stream's length cap (default 100000; jobs of every\n"
    "                    producer not yet finished), -j N the fleet's job\n"
    "                    slots (default 64: a /v1/batch keeps 2N jobs on the\n"
    "                    queue), and --allow-paths is refused\n"
    "  --prefix P        the queue's key prefix (default tincan)\n"
    "  -h, --help        this text\n"
    "\n" JOBSPEC_POLICY_USAGE "\n" FETCHOPT_USAGE "\n"
    "SIGTERM or SIGINT: stop accepting, finish the accepted jobs, exit 0.\n"
    "exit status: 0 after a drain; 125 bad usage (a bad flag, a bad tokens\n"
    "file, an address that cannot be served, a Redis that cannot be reached\n"
    "or refuses the credentials).\n";

struct serve {
    const char *listen, *tokens_path, *log_path;
    const char *redis, *prefix; /* --redis URL, --prefix P */
    int workers_set, queue_set;
    struct jobspec_policy policy; /* --allow-paths, --allow-urls */
    unsigned workers, queue_max;
    uint64_t max_body, keep_ms;
    struct fetchopt fo;
};

enum {
    OPT_LISTEN = 256,
    OPT_TOKENS,
    OPT_QUEUE,
    OPT_MAX_BODY,
    OPT_KEEP,
    OPT_LOG,
    OPT_REDIS,
    OPT_PREFIX,
};

static int parse_uint(const char *s, unsigned long min, unsigned long max,
                      unsigned *out)
{
    unsigned long v;

    if (units_parse_count(s, min, max, &v))
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int parse_args(struct serve *sv, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"jobs", required_argument, NULL, 'j'},
        {"queue", required_argument, NULL, OPT_QUEUE},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"log", required_argument, NULL, OPT_LOG},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        JOBSPEC_POLICY_LONG_OPTIONS,
        FETCHOPT_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char err[ERR_MAX];
    int c, taken;

    sv->listen = DEFAULT_LISTEN;
    sv->workers =
        cpus > 0 ? (unsigned)(cpus < MAX_WORKERS ? cpus : MAX_WORKERS) : 1;
    sv->queue_max = HTTP_DEFAULT_QUEUE;
    sv->max_body = HTTP_DEFAULT_MAX_BODY;
    sv->keep_ms = HTTP_DEFAULT_KEEP_MS;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":j:h", opts, NULL)) != -1) {
        taken = fetchopt_apply(&sv->fo, c, optarg, err, sizeof(err));
        if (taken == 0)
            taken =
                jobspec_policy_apply(&sv->policy, c, optarg, err, sizeof(err));
        if (taken < 0)
            return report_usage_error("%s", err);
        if (taken)
            continue;
        switch (c) {
        case OPT_LISTEN:
            sv->listen = optarg;
            break;
        case OPT_TOKENS:
            sv->tokens_path = optarg;
            break;
        case 'j':
            if (parse_uint(optarg, 1, MAX_WORKERS, &sv->workers))
                return report_usage_error("-j %s: give a number of workers "
                                          "from 1 to %d",
                                          optarg, MAX_WORKERS);
            sv->workers_set = 1;
            break;
        case OPT_QUEUE:
            if (parse_uint(optarg, 1, MAX_QUEUE, &sv->queue_max))
                return report_usage_error("--queue %s: give a number of jobs "
                                          "from 1 to %d",
                                          optarg, MAX_QUEUE);
            sv->queue_set = 1;
            break;
        case OPT_MAX_BODY:
            if (units_parse_size(optarg, &sv->max_body, err, sizeof(err)))
                return report_usage_error("--max-body: %s", err);
            if (sv->max_body < 1 || sv->max_body > MAX_MAX_BODY)
                return report_usage_error("--max-body %s is out of range (1 "
                                          "byte to 1G)",
                                          optarg);
            break;
        case OPT_KEEP:
            if (units_parse_duration(optarg, &sv->keep_ms, err, sizeof(err)))
                return report_usage_error("--keep: %s", err);
            if (sv->keep_ms == 0)
                return report_usage_error("%s", "--keep 0: give at least 1ms");
            break;
        case OPT_LOG:
            sv->log_path = optarg;
            break;
        case OPT_REDIS:
            sv->redis = optarg;
            break;
        case OPT_PREFIX:
            sv->prefix = optarg;
            break;
        case 'h':
            fputs(serve_usage, stdout);
            return -1;
        case ':':
            return report_usage_error("option '%s' needs a value; see 'tincan "
                                      "serve --help'",
                                      argv[optind - 1]);
        default:
            return report_usage_error("unknown option '%s'; see 'tincan serve "
                                      "--help'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return report_usage_error("unexpected argument '%s'; see 'tincan "
                                  "serve --help'",
                                  argv[optind]);
    if (sv->fo.fetch.allow_file_urls)
        return report_usage_error(
            "%s", "--allow-file-urls: a job of a service names files with "
                  "\"path\" and --allow-paths DIR, never with file:// URLs");
    if (sv->prefix && !sv->redis)
        return report_usage_error("%s", "--prefix names the keys of a queue: "
                                        "give --redis URL too");
    if (sv->redis && sv->policy.paths_fd >= 0)
        return report_usage_error(
            "%s", "--allow-paths with --redis: the fleet's workers run the "
                  "jobs on their own hosts, where this directory is not; "
                  "send code and input inline");
    if (sv->redis && !sv->workers_set)
        sv->workers = REDIS_DEFAULT_WORKERS;
    if (sv->redis && !sv->queue_set)
        sv->queue_max = REDIS_DEFAULT_QUEUE;
    return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return (a & LOOPBACK_MASK) == LOOPBACK_NET;
    }
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(
            &((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

/* A listening unix socket at path: fd, or -1 (said). */
static int listen_unix(const char *path, char *url, size_t urllen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat stt;
    mode_t old;
    int fd, rc;

    if (!*path || strlen(path) >= sizeof(sun.sun_path)) {
        report_usage_error("--listen unix:%s: give a socket path of 1 to "
                           "%zu bytes",
                           path, sizeof(sun.sun_path) - 1);
        return -1;
    }
    if (lstat(path, &stt) == 0) {
        if (!S_ISSOCK(stt.st_mode)) {
            report_usage_error("--listen unix:%s: the path exists and is not "
                               "a socket; remove it or pick another",
                               path);
            return -1;
        }
        unlink(path); /* a socket left by an earlier server */
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report_usage_error("socket: %s", strerror(errno));
        return -1;
    }
    old = umask(SOCKET_UMASK);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc || listen(fd, LISTEN_BACKLOG)) {
        report_usage_error("--listen unix:%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    snprintf(url, urllen, "unix:%s", path);
    return fd;
}

/* A listening TCP socket at HOST:PORT: fd, or -1 (said). */
static int listen_tcp(const char *spec, int have_tokens, char *url,
                      size_t urllen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL, *ai;
    char host[256], port[16], nhost[NI_MAXHOST], nport[NI_MAXSERV];
    const char *colon = strrchr(spec, ':');
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    size_t hl;
    int fd = -1, one = 1, rc;

    if (!colon || colon == spec || !colon[1] ||
        strlen(colon + 1) >= sizeof(port)) {
        report_usage_error("--listen %s: give HOST:PORT (e.g. 127.0.0.1:8080 "
                           "or [::1]:8080) or unix:PATH",
                           spec);
        return -1;
    }
    hl = (size_t)(colon - spec);
    if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
        spec++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        report_usage_error("--listen %s: the host is too long", spec);
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        report_usage_error("--listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next)
        if (!have_tokens && !is_loopback(ai->ai_addr)) {
            report_usage_error(
                "--listen %s: without --tokens tincan serves only loopback "
                "addresses (127.0.0.1, ::1) or unix sockets; give --tokens "
                "FILE to serve others",
                spec);
            freeaddrinfo(res);
            return -1;
        }
    ai = res;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG)) {
        report_usage_error("--listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0 &&
        getnameinfo((struct sockaddr *)&bound, bl, nhost, sizeof(nhost), nport,
                    sizeof(nport), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(url, urllen,
                 bound.ss_family == AF_INET6 ? "http://[%s]:%s"
                                             : "http://%s:%s",
                 nhost, nport);
    return fd;
}

/* Whether the emulator runs here: one tiny job. */
static int emu_works(void)
{
    static const unsigned char hlt[] = {0xf4};
    struct tc_result res;
    struct tc_job job;
    int ok;

    tc_job_init(&job);
    job.code = hlt;
    job.code_len = sizeof(hlt);
    job.backend = TC_BACKEND_EMU;
    ok = tc_run(&job, &res) == 0 && res.status == TC_OK;
    tc_result_free(&res);
    return ok;
}

/* SIGHUP: the tokens file again; a bad one keeps the old table. */
static void reload_tokens(struct http_server *s, const char *path)
{
    struct tokens_table *t;
    char err[ERR_MAX], msg[ERR_MAX + 64];

    if (!path) {
        http_log_event(s, "sighup", "no --tokens file to reload");
        return;
    }
    if (tokens_load(path, &t, err, sizeof(err))) {
        snprintf(msg, sizeof(msg), "kept the old tokens: %s", err);
        http_log_event(s, "tokens_reload_failed", msg);
        return;
    }
    snprintf(msg, sizeof(msg), "%zu tokens from %s", tokens_count(t), path);
    http_set_tokens(s, t);
    http_log_event(s, "tokens_reloaded", msg);
}

/* Serve until a signal drains us: 0, or the status of a second signal. */
static int run_signals(struct http_server *s, struct jobq *q, int sfd,
                       const char *tokens_path)
{
    int draining = 0;

    for (;;) {
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        struct signalfd_siginfo si;
        int rc = poll(&p, 1, draining ? DRAIN_POLL_MS : -1);

        if (draining && http_wait_idle(s, 0) == 0 && q->wait_idle(q, 0) == 0)
            return 0;
        if (rc <= 0 || read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        if (si.ssi_signo == SIGHUP) {
            reload_tokens(s, tokens_path);
            continue;
        }
        if (draining) {
            http_log_event(s, "exit", "a second signal: exiting now");
            return SIGNAL_EXIT_BASE + (int)si.ssi_signo;
        }
        draining = 1;
        http_log_event(s, "draining",
                       si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        http_drain(s);
    }
}

int serve_main(int argc, char **argv)
{
    struct serve sv;
    struct http_config cfg;
    struct http_server *s = NULL;
    struct jobrun_opts ro;
    struct jobq *q = NULL;
    struct tokens_table *tok = NULL;
    char err[ERR_MAX], url[NI_MAXHOST + 64] = "";
    sigset_t sigs;
    int rc, sfd = -1, log_fd = STDERR_FILENO, fd;

    memset(&sv, 0, sizeof(sv));
    fetchopt_init(&sv.fo);
    jobspec_policy_init(&sv.policy);
    rc = parse_args(&sv, argc, argv);
    if (rc) {
        jobspec_policy_free(&sv.policy);
        return rc < 0 ? 0 : rc;
    }
    if (sv.tokens_path && tokens_load(sv.tokens_path, &tok, err, sizeof(err))) {
        rc = report_usage_error("%s", err);
        goto out;
    }
    if (sv.log_path) {
        log_fd = open(sv.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      LOG_MODE);
        if (log_fd < 0) {
            rc = report_usage_error("--log %s: %s", sv.log_path,
                                    strerror(errno));
            log_fd = STDERR_FILENO;
            goto out;
        }
    }
    fd = !strncmp(sv.listen, UNIX_PREFIX, strlen(UNIX_PREFIX))
             ? listen_unix(sv.listen + strlen(UNIX_PREFIX), url, sizeof(url))
             : listen_tcp(sv.listen, tok != NULL, url, sizeof(url));
    if (fd < 0) {
        rc = REPORT_EXIT_USAGE;
        goto out;
    }
    /* Before any thread: every thread (and job child) blocks these; the
     * main thread reads them from a signalfd. SIGPIPE: a client that left
     * is a write error, not a death. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    sigdelset(&sigs, SIGPIPE);
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    memset(&ro, 0, sizeof(ro));
    ro.fetch = &sv.fo.fetch;
    ro.policy = &sv.policy;
    if (sfd >= 0 && sv.redis &&
        jobq_redis_create(&q, sv.redis, sv.prefix, sv.queue_max, err,
                          sizeof(err))) {
        /* A URL, a password or a Redis that is not there: setup. */
        rc = report_usage_error("--redis: %s", err);
        close(fd);
        goto out;
    }
    if (sfd < 0 || (!sv.redis && jobq_local_create(&q, sv.workers, sv.queue_max,
                                                   &ro, err, sizeof(err)))) {
        fprintf(stderr, "tincan: cannot start: %s\n",
                sfd < 0 ? strerror(errno) : err);
        close(fd);
        rc = REPORT_EXIT_INTERNAL_ERROR;
        goto out;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen_fd = fd;
    cfg.is_unix = !strncmp(sv.listen, UNIX_PREFIX, strlen(UNIX_PREFIX));
    cfg.max_body = (size_t)sv.max_body;
    cfg.keep_ms = sv.keep_ms;
    cfg.workers = sv.workers;
    cfg.queue_max = sv.queue_max;
    cfg.q = q;
    cfg.tok = tok;
    cfg.log_fd = log_fd;
    cfg.allow_paths = sv.policy.paths_fd >= 0;
    cfg.allow_urls = sv.policy.urls;
    cfg.kvm_usable = report_kvm_runs();
    cfg.auto_kvm = tc_kvm_usable();
    cfg.emu_usable = emu_works();
    if (http_start(&s, &cfg, err, sizeof(err))) {
        fprintf(stderr, "tincan: cannot start the HTTP server: %s\n", err);
        close(fd);
        rc = REPORT_EXIT_INTERNAL_ERROR;
        goto out;
    }
    tok = NULL; /* the server's now */
    http_log_event(s, "listening", url);
    rc = run_signals(s, q, sfd, sv.tokens_path);
    if (rc == 0)
        http_log_event(s, "exit", "drained: every accepted job has ended");
    else
        _exit(rc); /* a second signal: no waiting for anything */
    http_stop(s);
    if (cfg.is_unix)
        unlink(sv.listen + strlen(UNIX_PREFIX));
out:
    if (q)
        q->destroy(q);
    tokens_free(tok);
    if (sfd >= 0)
        close(sfd);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    jobspec_policy_free(&sv.policy);
    return rc;
}
