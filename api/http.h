/*
 * http.h - the HTTP side of `tincan serve`, on libmicrohttpd (its internal
 * epoll thread; connections waiting for a job are suspended, never a thread
 * each): the daemon and its limits, routing, tokens and their limits, JSON
 * error replies, the access log (one JSON line per request), draining. The
 * handlers of each resource live in http_jobs.c, http_meta.c, http_play.c
 * and use the request interface below.
 */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobq.h"
#include "jobrun.h"
#include "metrics.h"
#include "tokens.h"

#define HTTP_DEFAULT_MAX_BODY (16ULL << 20)
#define HTTP_DEFAULT_KEEP_MS  (10ULL * 60 * 1000)
#define HTTP_DEFAULT_QUEUE    1024
#define HTTP_CONN_TIMEOUT_S   15   /* idle or slow connections are closed */
#define HTTP_CONN_LIMIT       1024 /* connections at once */
#define HTTP_PER_IP_LIMIT     64   /* connections at once from one address */
#define HTTP_CONN_MEMORY      (64u << 10)    /* headers and buffers per conn */
#define HTTP_KEEP_MAX_COUNT   10000          /* finished async jobs kept */
#define HTTP_KEEP_MAX_BYTES   (256ULL << 20) /* their results, in all */
#define HTTP_MAX_WAIT_MS      (60ULL * 1000) /* ?wait= at most */
/* Request bodies held at once, server-wide, as whole --max-body bodies
 * (16 x 16M = 256 MiB by default): past it, 503 with Retry-After. */
#define HTTP_BODY_BUDGET_BODIES 16
#define HTTP_ERROR_MAX          768

struct http_config {
    int listen_fd;   /* bound and listening (TCP or unix) */
    int is_unix;     /* listen_fd is a unix socket */
    size_t max_body; /* request bodies, enforced as they stream */
    uint64_t keep_ms;
    unsigned workers, queue_max;
    struct jobq *q;           /* where jobs run */
    struct tokens_table *tok; /* NULL: no tokens (loopback only) */
    int log_fd;               /* access log */
    int allow_paths, allow_urls;
    int kvm_usable, emu_usable; /* probed at startup, for /v1/info */
    int auto_kvm;               /* auto picks KVM (tc_kvm_usable()) */
};

struct http_server;

/* Start serving on cfg->listen_fd (taken: closed by http_stop). 0, or
 * -errno with one line in err. */
int http_start(struct http_server **out, const struct http_config *cfg,
               char *err, size_t errlen);

/* Use t from now on (the old table is freed). */
void http_set_tokens(struct http_server *s, struct tokens_table *t);

/* Stop accepting connections; /readyz answers 503, job requests 503. */
void http_drain(struct http_server *s);

/* Wait until no request is in progress, at most timeout_ms: 0 or
 * -ETIMEDOUT. */
int http_wait_idle(struct http_server *s, unsigned long timeout_ms);

void http_stop(struct http_server *s);

/* One JSON line {"time": ..., "event": what, "detail": detail} into the
 * access log (no detail when NULL). */
void http_log_event(struct http_server *s, const char *what,
                    const char *detail);

/* --- for the handlers -------------------------------------------------- */

struct http_req;

/* The server's settings and state, for handlers. */
const struct http_config *http_config_of(const struct http_req *r);
int http_draining(const struct http_req *r);
struct jobq *http_queue(const struct http_req *r);

/* The request: method ("GET", ...), path without the query, a query
 * argument (NULL when absent), the body (NUL-terminated). */
const char *http_method(const struct http_req *r);
const char *http_path(const struct http_req *r);
const char *http_query(const struct http_req *r, const char *key);
const char *http_body(const struct http_req *r, size_t *len);

/* The caller: NULL without tokens. */
const struct tokens_caller *http_caller(const struct http_req *r);

/* Replies (one per request; any thread while the request is suspended,
 * else the daemon's). The body is taken (json_decref'd / freed). */
void http_reply_json(struct http_req *r, unsigned status, json_t *body);
void http_reply_raw(struct http_req *r, unsigned status, const char *ctype,
                    char *body, size_t len);
void http_reply_static(struct http_req *r, unsigned status, const char *ctype,
                       const void *body, size_t len);
/* {"error": MESSAGE, "field": field} (no field when NULL or ""). */
void http_reply_error(struct http_req *r, unsigned status, const char *field,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A header for the reply (copied). At most 8. */
void http_add_header(struct http_req *r, const char *name, const char *value);

/* The job status for the access log ("ok", "fault", ...). */
void http_note_job(struct http_req *r, const char *status, uint64_t wall_us);

/* Suspend the request (daemon thread, in its handler) until
 * http_resume(); from a stream reader too. */
void http_suspend(struct http_req *r);
void http_resume(struct http_req *r);

/* A streamed (chunked) reply: read() fills buf (daemon thread) and returns
 * bytes, 0 after http_suspend(), or -1 at the end; done() when the request
 * ends, however. */
struct http_stream_ops {
    ssize_t (*read)(void *cls, char *buf, size_t max);
    void (*done)(void *cls);
};
void http_reply_stream(struct http_req *r, unsigned status, const char *ctype,
                       const struct http_stream_ops *ops, void *cls);

/* Rate and concurrency of the caller, for a request that submits jobs:
 * 0, or a reply (429) was made. Takes one job from the bucket and adds the
 * RateLimit-* headers. */
int http_take_rate(struct http_req *r);

/* A new random id: 32 hex digits and a NUL. */
void http_new_id(char id[33]);

uint64_t http_now_us(void);

#endif
