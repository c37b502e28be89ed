/*
 * http.c - the daemon of `tincan serve` (see http.h): libmicrohttpd in its
 * internal epoll thread with suspend/resume, a route table, the checks
 * every request passes before its handler (method, token, content type,
 * body size), JSON replies and errors, and the access log.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_jobs.h"
#include "http_meta.h"
#include "http_play.h"

#define MAX_HEADERS    8
#define CLIENT_MAX     80
#define LOG_LINE_MAX   2048
#define BODY_MIN_CAP   4096
#define STREAM_BLOCK   (64u << 10)
#define BEARER         "Bearer "
#define US_PER_MS      1000u
#define US_PER_S       1000000u
#define NS_PER_US      1000u
#define MS_PER_S       1000u
#define ID_BYTES       16
#define STRICT_PARSING 1 /* MHD_OPTION_STRICT_FOR_CLIENT: refuse sloppy */
#define STATUS_NONE    0 /* no reply was sent */

enum body_kind { BODY_NONE = 0, BODY_JSON, BODY_JSONL };

enum method_bit { M_GET = 1, M_POST = 2, M_DELETE = 4 };

struct route {
    const char *path;
    int prefix; /* path is a prefix ("/v1/jobs/") */
    int token;  /* needs a token when the server has tokens */
    enum body_kind body;
    void (*get)(struct http_req *r), (*post)(struct http_req *r),
        (*del)(struct http_req *r);
};

static const struct route routes[] = {
    {"/", 0, 0, BODY_NONE, http_play_page, NULL, NULL},
    {"/healthz", 0, 0, BODY_NONE, http_meta_healthz, NULL, NULL},
    {"/readyz", 0, 0, BODY_NONE, http_meta_readyz, NULL, NULL},
    {"/metrics", 0, 0, BODY_NONE, http_meta_metrics, NULL, NULL},
    {"/v1/info", 0, 1, BODY_NONE, http_meta_info, NULL, NULL},
    {"/v1/run", 0, 1, BODY_JSON, NULL, http_jobs_run, NULL},
    {"/v1/jobs", 0, 1, BODY_JSON, NULL, http_jobs_submit, NULL},
    {"/v1/jobs/", 1, 1, BODY_NONE, http_jobs_get, NULL, http_jobs_delete},
    {"/v1/batch", 0, 1, BODY_JSONL, NULL, http_jobs_batch, NULL},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

struct header {
    char *name, *value;
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const struct route *route;
    void (*handler)(struct http_req *r);
    char method[16];
    char *path;
    char client[CLIENT_MAX];
    uint64_t t0_us;
    int has_caller;
    struct tokens_caller caller;
    /* the body */
    char *body;
    size_t len, cap, seen;
    size_t held;     /* of the budget: the room allocated (cap less its NUL) */
    size_t declared; /* Content-Length, when sent and at most max_body */
    int too_large, no_room, started, suspended;
    /* the reply */
    int ready;
    unsigned status;
    char *rbody;
    size_t rlen;
    int rstatic;
    const char *ctype;
    struct header hdr[MAX_HEADERS];
    int nhdr;
    const struct http_stream_ops *sops;
    void *scls;
    /* for the log */
    char job_status[32];
    uint64_t job_us;
};

struct http_server {
    struct http_config cfg;
    struct MHD_Daemon *d;
    pthread_mutex_t mu; /* tokens, active, body_held */
    pthread_cond_t idle_cv;
    struct tokens_table *tok;
    unsigned active; /* requests between their first call and completion */
    size_t body_held, body_budget; /* bytes of request bodies held; cap */
    atomic_int draining;
    int quiesced_fd;
};

uint64_t http_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * US_PER_S + (uint64_t)ts.tv_nsec / NS_PER_US;
}

void http_new_id(char id[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[ID_BYTES];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    for (int i = 0; i < ID_BYTES; i++) {
        id[2 * i] = hex[b[i] >> 4];
        id[2 * i + 1] = hex[b[i] & 0xf];
    }
    id[2 * ID_BYTES] = '\0';
}

/* --- the access log ------------------------------------------------------ */

static void log_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    char date[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%.20s.%03uZ", date,
             (unsigned)(ts.tv_nsec / (long)(NS_PER_US * US_PER_MS)) % 1000u);
}

/* One line, one write(2): lines of concurrent requests never interleave. */
static void log_json(struct http_server *s, json_t *o)
{
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    size_t n;

    json_decref(o);
    if (!line)
        return;
    n = strlen(line);
    line[n] = '\n';
    if (write(s->cfg.log_fd, line, n + 1) < 0) {
        /* A full disk or a closed stderr: nothing better to do. */
    }
    free(line);
}

void http_log_event(struct http_server *s, const char *what, const char *detail)
{
    json_t *o = json_object(), *d = detail ? json_string(detail) : NULL;
    char t[40];

    log_time(t, sizeof(t));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "event", json_string(what));
    if (detail)
        json_object_set_new(o, "detail", d ? d : json_string("(not UTF-8)"));
    log_json(s, o);
}

static void log_request(struct http_req *r)
{
    json_t *o = json_object(), *path = json_string(r->path);
    char t[40];

    log_time(t, sizeof(t));
    if (!o) {
        json_decref(path);
        return;
    }
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "client", json_string(r->client));
    json_object_set_new(
        o, "token", r->has_caller ? json_string(r->caller.name) : json_null());
    json_object_set_new(o, "method", json_string(r->method));
    json_object_set_new(o, "path", path ? path : json_string("(not UTF-8)"));
    json_object_set_new(o, "status",
                        r->status ? json_integer(r->status) : json_null());
    json_object_set_new(o, "job_status",
                        r->job_status[0] ? json_string(r->job_status)
                                         : json_null());
    json_object_set_new(o, "duration_us",
                        json_integer((json_int_t)(http_now_us() - r->t0_us)));
    if (r->job_status[0])
        json_object_set_new(o, "job_wall_us",
                            json_integer((json_int_t)r->job_us));
    log_json(r->srv, o);
}

/* --- requests ------------------------------------------------------------ */

static void client_of(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    socklen_t sl;

    snprintf(buf, len, "unix");
    if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return;
    sl = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                  : sizeof(struct sockaddr_in6);
    if (getnameinfo(sa, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                 host, port);
}

/* Let go of r's body (the handler has read it), and its share of the
 * server's budget. */
static void drop_body(struct http_req *r)
{
    if (r->held) {
        pthread_mutex_lock(&r->srv->mu);
        r->srv->body_held -= r->held;
        pthread_mutex_unlock(&r->srv->mu);
    }
    free(r->body);
    r->body = NULL;
    r->len = r->cap = r->held = 0;
}

static void req_free(struct http_req *r)
{
    free(r->path);
    drop_body(r);
    if (!r->rstatic)
        free(r->rbody);
    for (int i = 0; i < r->nhdr; i++) {
        free(r->hdr[i].name);
        free(r->hdr[i].value);
    }
    free(r);
}

const struct http_config *http_config_of(const struct http_req *r)
{
    return &r->srv->cfg;
}

int http_draining(const struct http_req *r)
{
    return atomic_load(&r->srv->draining);
}

struct jobq *http_queue(const struct http_req *r)
{
    return r->srv->cfg.q;
}

const char *http_method(const struct http_req *r)
{
    return r->method;
}

const char *http_path(const struct http_req *r)
{
    return r->path;
}

const char *http_query(const struct http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_body(const struct http_req *r, size_t *len)
{
    *len = r->len;
    return r->body ? r->body : "";
}

const struct tokens_caller *http_caller(const struct http_req *r)
{
    return r->has_caller ? &r->caller : NULL;
}

void http_note_job(struct http_req *r, const char *status, uint64_t wall_us)
{
    snprintf(r->job_status, sizeof(r->job_status), "%s", status);
    r->job_us = wall_us;
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
    if (r->nhdr >= MAX_HEADERS)
        return;
    r->hdr[r->nhdr].name = strdup(name);
    r->hdr[r->nhdr].value = strdup(value);
    if (r->hdr[r->nhdr].name && r->hdr[r->nhdr].value) {
        r->nhdr++;
        return;
    }
    free(r->hdr[r->nhdr].name);
    free(r->hdr[r->nhdr].value);
}

static void set_reply(struct http_req *r, unsigned status, const char *ctype,
                      char *body, size_t len, int is_static)
{
    if (r->ready) { /* one reply per request: keep the first */
        if (!is_static)
            free(body);
        return;
    }
    r->status = status;
    r->ctype = ctype;
    r->rbody = body;
    r->rlen = len;
    r->rstatic = is_static;
    r->ready = 1;
}

void http_reply_raw(struct http_req *r, unsigned status, const char *ctype,
                    char *body, size_t len)
{
    set_reply(r, status, ctype, body, len, 0);
}

void http_reply_static(struct http_req *r, unsigned status, const char *ctype,
                       const void *body, size_t len)
{
    set_reply(r, status, ctype, (char *)body, len, 1);
}

void http_reply_json(struct http_req *r, unsigned status, json_t *body)
{
    char *text =
        body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    static const char oom[] = "{\"error\":\"out of memory while writing the "
                              "reply; try again\"}\n";
    size_t n;

    json_decref(body);
    if (!text) {
        http_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                          oom, sizeof(oom) - 1);
        return;
    }
    n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        http_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                          oom, sizeof(oom) - 1);
        return;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    set_reply(r, status, "application/json", line, n + 1, 0);
}

void http_reply_error(struct http_req *r, unsigned status, const char *field,
                      const char *fmt, ...)
{
    char msg[HTTP_ERROR_MAX];
    json_t *o = json_object(), *m;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Bytes of the request may be in msg: keep it even if not UTF-8. */
    m = json_string(msg);
    json_object_set_new(o, "error",
                        m ? m : json_string("(the message is not UTF-8)"));
    if (field && *field) {
        json_t *f = json_string(field);
        json_object_set_new(o, "field", f ? f : json_string("?"));
    }
    http_reply_json(r, status, o);
}

void http_reply_stream(struct http_req *r, unsigned status, const char *ctype,
                       const struct http_stream_ops *ops, void *cls)
{
    if (r->ready) {
        ops->done(cls);
        return;
    }
    r->sops = ops;
    r->scls = cls;
    r->status = status;
    r->ctype = ctype;
    r->ready = 1;
}

void http_suspend(struct http_req *r)
{
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
}

void http_resume(struct http_req *r)
{
    MHD_resume_connection(r->conn);
}

int http_take_rate(struct http_req *r)
{
    struct tokens_rate rate;
    char v[32];
    int rc;

    if (!r->has_caller)
        return 0;
    rc = tokens_take(&r->caller, http_now_us(), &rate);
    if (rate.limit) {
        snprintf(v, sizeof(v), "%u", rate.limit);
        http_add_header(r, "RateLimit-Limit", v);
        snprintf(v, sizeof(v), "%u", rate.remaining);
        http_add_header(r, "RateLimit-Remaining", v);
        snprintf(v, sizeof(v), "%u", rate.reset_s);
        http_add_header(r, "RateLimit-Reset", v);
    }
    if (rc) {
        snprintf(v, sizeof(v), "%u", rate.retry_s);
        http_add_header(r, "Retry-After", v);
        metrics_reject(METRICS_RATE);
        http_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, NULL,
                         "token %s is over its rate (%g jobs/s, burst %u); "
                         "try again in %u s",
                         r->caller.name, r->caller.lim.rate, rate.limit,
                         rate.retry_s);
        return -EAGAIN;
    }
    return 0;
}

/* --- the checks before a handler ------------------------------------------ */

static const struct route *find_route(const char *path)
{
    for (size_t i = 0; i < NROUTES; i++) {
        const struct route *rt = &routes[i];
        size_t n = strlen(rt->path);

        if (rt->prefix ? !strncmp(path, rt->path, n) && path[n]
                       : !strcmp(path, rt->path))
            return rt;
    }
    return NULL;
}

static void allow_header(struct http_req *r, const struct route *rt)
{
    char v[64] = "";

    if (rt->get)
        strcat(v, "GET, HEAD");
    if (rt->post)
        strcat(v, *v ? ", POST" : "POST");
    if (rt->del)
        strcat(v, *v ? ", DELETE" : "DELETE");
    http_add_header(r, "Allow", v);
}

/* "application/json; charset=utf-8" is application/json. */
static int media_is(const char *ctype, const char *want)
{
    size_t n = strlen(want);

    if (!ctype || strncasecmp(ctype, want, n))
        return 0;
    ctype += n;
    ctype += strspn(ctype, " \t");
    return *ctype == '\0' || *ctype == ';';
}

static int body_type_ok(enum body_kind k, const char *ctype)
{
    if (media_is(ctype, "application/json"))
        return 1;
    return k == BODY_JSONL && (media_is(ctype, "application/x-ndjson") ||
                               media_is(ctype, "application/jsonl") ||
                               media_is(ctype, "application/x-jsonlines"));
}

static int check_token(struct http_req *r)
{
    struct http_server *s = r->srv;
    const char *auth = MHD_lookup_connection_value(
        r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t bl = strlen(BEARER);
    int found;

    pthread_mutex_lock(&s->mu);
    if (!s->tok) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    found = auth && !strncmp(auth, BEARER, bl) &&
            tokens_find(s->tok, auth + bl, strlen(auth + bl), &r->caller);
    pthread_mutex_unlock(&s->mu);
    if (found) {
        r->has_caller = 1;
        return 0;
    }
    metrics_reject(METRICS_UNAUTHORIZED);
    http_add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                    "Bearer realm=\"tincan\"");
    if (!auth || strncmp(auth, BEARER, bl))
        http_reply_error(r, MHD_HTTP_UNAUTHORIZED, NULL, "%s",
                         "no token: send the header 'Authorization: Bearer "
                         "TOKEN'");
    else
        http_reply_error(r, MHD_HTTP_UNAUTHORIZED, NULL, "%s",
                         "unknown token: check the token you were given");
    return -EACCES;
}

/* The checks of a request's headers: a reply when one fails. */
static void precheck(struct http_req *r)
{
    struct http_server *s = r->srv;
    const struct route *rt = find_route(r->path);
    const char *ctype, *clen;
    int is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");

    if (!rt) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_NOT_FOUND, NULL,
                         "no such resource %.200s; see GET /v1/info and the "
                         "README's Service section",
                         r->path);
        return;
    }
    r->route = rt;
    r->handler = is_get                         ? rt->get
                 : !strcmp(r->method, "POST")   ? rt->post
                 : !strcmp(r->method, "DELETE") ? rt->del
                                                : NULL;
    if (!r->handler) {
        metrics_reject(METRICS_BAD_REQUEST);
        allow_header(r, rt);
        http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
                         "%.16s is not allowed on %.200s; use %s", r->method,
                         rt->path,
                         rt->post  ? "POST"
                         : rt->del ? "GET or DELETE"
                                   : "GET");
        return;
    }
    if (rt->token && check_token(r))
        return;
    if (rt->body == BODY_NONE)
        return;
    ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!body_type_ok(rt->body, ctype)) {
        metrics_reject(METRICS_BAD_REQUEST);
        http_reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                         "the body must be %s, not %.100s; send the header "
                         "'Content-Type: application/json'",
                         rt->body == BODY_JSONL ? "JSON lines" : "JSON",
                         ctype ? ctype : "untyped");
        return;
    }
    clen = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen && strtoull(clen, NULL, 10) > s->cfg.max_body) {
        metrics_reject(METRICS_BODY_TOO_LARGE);
        http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                         "the body (%.24s bytes) is over the server's "
                         "--max-body of %zu bytes; send less",
                         clen, s->cfg.max_body);
        return;
    }
    if (clen) /* MHD checked it is a number; the buffer is this size */
        r->declared = (size_t)strtoull(clen, NULL, 10);
}

/* n more bytes of bodies held: 0, or -ENOBUFS past the server's budget. */
static int hold_body(struct http_server *s, size_t n)
{
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if (s->body_held + n > s->body_budget)
        rc = -ENOBUFS;
    else
        s->body_held += n;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/*
 * n more bytes of r's body. A body is kept only for a route that takes one
 * and a request not answered yet (a refused token, say): any other is
 * read and dropped, holding nothing. What the budget counts is the room
 * allocated for it, which the declared Content-Length sizes at once.
 */
static void take_body(struct http_req *r, const char *data, size_t n)
{
    size_t max = r->srv->cfg.max_body;

    r->seen += n;
    if (r->ready || !r->route || r->route->body == BODY_NONE)
        return;
    if (r->too_large || r->no_room || r->len + n > max) {
        r->too_large |= !r->no_room;
        drop_body(r);
        return;
    }
    if (r->len + n + 1 > r->cap) {
        /* The declared size at once; else doubling, never past max + 1. */
        size_t need = r->len + n + 1;
        size_t ncap = r->declared + 1 >= need ? r->declared + 1
                      : r->cap                ? r->cap
                                              : BODY_MIN_CAP;
        while (ncap < need)
            ncap = ncap > max / 2 ? max + 1 : ncap * 2;
        if (hold_body(r->srv, ncap - 1 - r->held)) {
            r->no_room = 1;
            drop_body(r);
            return;
        }
        r->held = ncap - 1; /* drop_body gives it back */
        char *nb = realloc(r->body, ncap);
        if (!nb) {
            r->no_room = 1; /* said as 503: no room for it now */
            drop_body(r);
            return;
        }
        r->body = nb;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

/* --- libmicrohttpd's callbacks ----------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_req *r = cls;
    ssize_t n;

    (void)pos;
    n = r->sops->read(r->scls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
    (void)cls; /* the request's done() runs at completion */
}

static enum MHD_Result send_reply(struct http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result rc;

    if (r->sops)
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                 stream_read, r, stream_free);
    else if (r->rstatic)
        resp = MHD_create_response_from_buffer(r->rlen, r->rbody,
                                               MHD_RESPMEM_PERSISTENT);
    else /* handed over: MHD frees it when the response is done */
        resp = MHD_create_response_from_buffer_with_free_callback(
            r->rlen, r->rbody, free);
    if (!resp)
        return MHD_NO;
    if (!r->sops && !r->rstatic)
        r->rbody = NULL;
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (int i = 0; i < r->nhdr; i++)
        MHD_add_response_header(resp, r->hdr[i].name, r->hdr[i].value);
    rc = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static struct http_req *req_new(struct http_server *s, struct MHD_Connection *c,
                                const char *url, const char *method)
{
    struct http_req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->srv = s;
    r->conn = c;
    r->t0_us = http_now_us();
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->path = strdup(url);
    if (!r->path) {
        free(r);
        return NULL;
    }
    client_of(c, r->client, sizeof(r->client));
    pthread_mutex_lock(&s->mu);
    s->active++;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;

    (void)version;
    if (!r) {
        r = req_new(s, c, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        precheck(r);
        return r->ready ? send_reply(r) : MHD_YES;
    }
    if (*upload_size) {
        take_body(r, upload, *upload_size);
        *upload_size = 0;
        /* Past twice the cap, stop reading what will be refused anyway. */
        return r->seen > 2 * s->cfg.max_body ? MHD_NO : MHD_YES;
    }
    if (r->started) {
        r->suspended = 0; /* resumed: the reply is ready */
        if (r->ready)
            return send_reply(r);
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "resumed without a reply; this is a bug in tincan");
        return send_reply(r);
    }
    r->started = 1;
    if (r->no_room) {
        metrics_reject(METRICS_BODIES_FULL);
        http_add_header(r, "Retry-After", "1");
        http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "the server holds as many request bodies as it "
                         "may (%zu bytes); try again shortly",
                         s->body_budget);
        return send_reply(r);
    }
    if (r->too_large) {
        metrics_reject(METRICS_BODY_TOO_LARGE);
        http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                         "the body is over the server's --max-body of %zu "
                         "bytes; send less",
                         s->cfg.max_body);
        return send_reply(r);
    }
    r->handler(r);
    drop_body(r); /* read: what the job needs, the handler has parsed */
    if (r->suspended)
        return MHD_YES; /* another thread replies and resumes it */
    if (!r->ready)
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "no reply; this is a bug in tincan");
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;

    (void)c;
    (void)toe;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->status)
        metrics_http(r->status);
    log_request(r);
    if (r->sops)
        r->sops->done(r->scls);
    req_free(r);
    pthread_mutex_lock(&s->mu);
    s->active--;
    if (!s->active)
        pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    http_log_event(s, "libmicrohttpd", msg);
}

/* --- the server ------------------------------------------------------------
 */

int http_start(struct http_server **out, const struct http_config *cfg,
               char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    int rc;

    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "the HTTP server: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    s->cfg = *cfg;
    s->body_budget = HTTP_BODY_BUDGET_BODIES * cfg->max_body;
    s->tok = cfg->tok;
    s->quiesced_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    rc = http_jobs_init(cfg, err, errlen);
    if (rc) {
        free(s);
        return rc;
    }
    s->d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error,
        s, MHD_OPTION_LISTEN_SOCKET, cfg->listen_fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)(cfg->is_unix ? 0 : HTTP_PER_IP_LIMIT),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)STRICT_PARSING, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "%s",
                 "libmicrohttpd could not start on the listening socket");
        http_jobs_fini();
        free(s);
        return -EIO;
    }
    *out = s;
    return 0;
}

void http_set_tokens(struct http_server *s, struct tokens_table *t)
{
    struct tokens_table *old;

    pthread_mutex_lock(&s->mu);
    old = s->tok;
    s->tok = t;
    pthread_mutex_unlock(&s->mu);
    tokens_free(old);
}

void http_drain(struct http_server *s)
{
    if (atomic_exchange(&s->draining, 1))
        return;
    s->quiesced_fd = MHD_quiesce_daemon(s->d);
    http_jobs_drain(); /* long-polls answer now: no drain waits for them */
}

int http_wait_idle(struct http_server *s, unsigned long timeout_ms)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / MS_PER_S);
    until.tv_nsec += (long)(timeout_ms % MS_PER_S) * (long)(US_PER_S);
    if (until.tv_nsec >= (long)US_PER_S * MS_PER_S) {
        until.tv_sec++;
        until.tv_nsec -= (long)US_PER_S * MS_PER_S;
    }
    pthread_mutex_lock(&s->mu);
    while (s->active && rc == 0)
        rc = pthread_cond_timedwait(&s->idle_cv, &s->mu, &until);
    pthread_mutex_unlock(&s->mu);
    return rc ? -ETIMEDOUT : 0;
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    http_jobs_stop(); /* answers and resumes any long-poll still waiting */
    MHD_stop_daemon(s->d);
    http_jobs_fini();
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    else
        close(s->cfg.listen_fd);
    tokens_free(s->tok);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
