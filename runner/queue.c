/*
 * queue.c - the fleet's job queue on Redis Streams (queue.h): the URL, the
 * connection and its errors, and each queue operation as a short sequence
 * of Redis commands sent through hiredis, pipelined where there are many.
 */
#include "queue.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "codec.h"

#define REDIS_DEFAULT_PORT 6379
#define CONNECT_TIMEOUT_MS 5000  /* connect, AUTH, SELECT */
#define COMMAND_TIMEOUT_MS 10000 /* any reply, beyond a command's BLOCK */
#define PREFIX_MAX         64
#define KEY_MAX            (PREFIX_MAX + 256)
#define WHERE_MAX          512
#define NUM_MAX            24        /* a 64-bit number as text */
#define DONE_STREAM_MAXLEN "1000000" /* notices kept per producer */
#define QID_MAX_LEN        200       /* longer qids are refused */
#define MS_PER_S           1000
#define US_PER_MS          1000

/*
 * XADD a job unless P:jobs holds cap or more: one atomic step, so that
 * producers never push the stream past its cap and never trim a job.
 * KEYS[1] P:jobs; ARGV cap, qid, job, reply. Returns the entry id, or nil
 * when full.
 */
static const char submit_script[] =
    "if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false "
    "end return redis.call('XADD', KEYS[1], '*', 'qid', ARGV[2], 'job', "
    "ARGV[3], 'reply', ARGV[4])";

struct queue {
    redisContext *c;
    char *host, *path, *user, *password; /* path: unix socket */
    int port;
    unsigned db;
    char prefix[PREFIX_MAX];
    char where[WHERE_MAX];
};

/* --- messages and errors ---------------------------------------------------
 */

static void __attribute__((format(printf, 4, 5)))
qerr(const struct queue *q, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", q->where, msg);
}

/* The connection failed: -errno and the line; the context is dropped. */
static int conn_error(struct queue *q, char *err, size_t errlen)
{
    int e = EIO;

    if (!q->c) {
        qerr(q, err, errlen, "not connected");
        return -ENOTCONN;
    }
    switch (q->c->err) {
    case REDIS_ERR_IO:
        e = errno ? errno : EIO;
        if (e == EAGAIN || e == EWOULDBLOCK)
            e = ETIMEDOUT;
        break;
    case REDIS_ERR_EOF:
        e = ECONNRESET;
        break;
    case REDIS_ERR_OOM:
        e = ENOMEM;
        break;
    case REDIS_ERR_PROTOCOL:
        e = EPROTO;
        break;
    default:
        e = EIO;
        break;
    }
    qerr(q, err, errlen, "%s",
         e == ETIMEDOUT    ? "no answer (timed out)"
         : q->c->errstr[0] ? q->c->errstr
                           : strerror(e));
    redisFree(q->c);
    q->c = NULL;
    return -e;
}

/* Error replies that go away by themselves. */
static const char *const transient[] = {"LOADING", "BUSY",     "TRYAGAIN",
                                        "OOM",     "READONLY", "MASTERDOWN"};

/* An error reply: -EACCES for credentials, -EAGAIN for one that passes
 * (transient[]), else -EPROTO. */
static int reply_error(struct queue *q, const char *what, const redisReply *r,
                       char *err, size_t errlen)
{
    const char *s = r && r->type == REDIS_REPLY_ERROR ? r->str : "";

    if (!r || r->type != REDIS_REPLY_ERROR) {
        qerr(q, err, errlen, "%s: unexpected reply (type %d)", what,
             r ? r->type : -1);
        return -EPROTO;
    }
    qerr(q, err, errlen, "%s: %s", what, s);
    /* A Redis that is loading its AOF after a restart, busy with a script,
     * out of memory or a replica after a failover answers again later:
     * the caller retries as after a lost connection. */
    for (size_t i = 0; i < sizeof(transient) / sizeof(*transient); i++)
        if (!strncmp(s, transient[i], strlen(transient[i])))
            return -EAGAIN;
    if (!strncmp(s, "WRONGPASS", 9) || !strncmp(s, "NOAUTH", 6) ||
        !strncmp(s, "NOPERM", 6) || strstr(s, "invalid password") ||
        strstr(s, "no password is set"))
        return -EACCES;
    return -EPROTO;
}

static void set_timeout(struct queue *q, long ms)
{
    struct timeval tv = {.tv_sec = ms / MS_PER_S,
                         .tv_usec = (ms % MS_PER_S) * US_PER_MS};

    if (q->c)
        redisSetTimeout(q->c, tv);
}

/* One command (argv), its reply in *out (freeReplyObject it). */
static int command(struct queue *q, int argc, const char **argv,
                   const size_t *lens, redisReply **out, char *err,
                   size_t errlen)
{
    redisReply *r;

    *out = NULL;
    if (!q->c)
        return conn_error(q, err, errlen);
    errno = 0;
    r = redisCommandArgv(q->c, argc, argv, lens);
    if (!r)
        return conn_error(q, err, errlen);
    *out = r;
    return 0;
}

/* One command of C strings; an error reply is an error (named by what). */
static int command_ok(struct queue *q, const char *what, int argc,
                      const char **argv, redisReply **out, char *err,
                      size_t errlen)
{
    int rc = command(q, argc, argv, NULL, out, err, errlen);

    if (rc)
        return rc;
    if ((*out)->type == REDIS_REPLY_ERROR) {
        rc = reply_error(q, what, *out, err, errlen);
        freeReplyObject(*out);
        *out = NULL;
    }
    return rc;
}

/* Append one command to the pipeline. */
static int append(struct queue *q, int argc, const char **argv,
                  const size_t *lens, char *err, size_t errlen)
{
    if (!q->c)
        return conn_error(q, err, errlen);
    if (redisAppendCommandArgv(q->c, argc, argv, lens) != REDIS_OK)
        return conn_error(q, err, errlen);
    return 0;
}

/* The next reply of the pipeline. */
static int next_reply(struct queue *q, redisReply **out, char *err,
                      size_t errlen)
{
    void *r = NULL;

    *out = NULL;
    if (!q->c)
        return conn_error(q, err, errlen);
    errno = 0;
    if (redisGetReply(q->c, &r) != REDIS_OK || !r)
        return conn_error(q, err, errlen);
    *out = r;
    return 0;
}

/* Read n replies; the first error reply is the result (named by what). */
static int drain(struct queue *q, const char *what, size_t n, char *err,
                 size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        int e = next_reply(q, &r, err, errlen);
        if (e)
            return e;
        if (r->type == REDIS_REPLY_ERROR && !rc)
            rc = reply_error(q, what, r, err, errlen);
        /* EXEC's reply holds its commands' own (errors too). */
        for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++)
            if (r->element[k]->type == REDIS_REPLY_ERROR && !rc)
                rc = reply_error(q, what, r->element[k], err, errlen);
        freeReplyObject(r);
    }
    return rc;
}

static void key(const struct queue *q, char *buf, const char *suffix)
{
    snprintf(buf, KEY_MAX, "%s:%s", q->prefix, suffix);
}

/* --- the URL ----------------------------------------------------------------
 */

/* A %-decoded copy of s[0..len). */
static char *decode(const char *s, size_t len)
{
    char *d = malloc(len + 1), *o = d;

    if (!d)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len &&
            codec_hex_digit((unsigned char)s[i + 1]) >= 0 &&
            codec_hex_digit((unsigned char)s[i + 2]) >= 0) {
            *o++ = (char)(codec_hex_digit((unsigned char)s[i + 1]) * 16 +
                          codec_hex_digit((unsigned char)s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return d;
}

/* "user:password@" (either may be empty) up to at, into q. */
static int parse_userinfo(struct queue *q, const char *s, const char *at)
{
    const char *colon = memchr(s, ':', (size_t)(at - s));

    if (!colon) {
        /* redis://password@host: the password alone (as redis-cli). */
        q->password = decode(s, (size_t)(at - s));
        return q->password ? 0 : -ENOMEM;
    }
    if (colon > s && !(q->user = decode(s, (size_t)(colon - s))))
        return -ENOMEM;
    q->password = decode(colon + 1, (size_t)(at - colon - 1));
    return q->password ? 0 : -ENOMEM;
}

static int parse_db(const char *s, unsigned *db)
{
    char *end;
    unsigned long v;

    if (!*s)
        return 0;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return -EINVAL;
    *db = (unsigned)v;
    return 0;
}

static const char url_help[] =
    "give redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N] "
    "(no TLS: hiredis in Debian is built without it)";

static int parse_url(struct queue *q, const char *url, char *err, size_t errlen)
{
    const char *s, *at, *end;

    if (!strncmp(url, "unix://", 7)) {
        s = url + 7;
        at = strchr(s, '@');
        if (at && at < strchr(s, '/')) {
            if (parse_userinfo(q, s, at))
                return -ENOMEM;
            s = at + 1;
        }
        end = strstr(s, "?db=");
        if (s[0] != '/' || (end && parse_db(end + 4, &q->db))) {
            snprintf(err, errlen, "bad Redis URL '%.200s': %s", url, url_help);
            return -EINVAL;
        }
        q->path = strndup(s, end ? (size_t)(end - s) : strlen(s));
        if (!q->path)
            return -ENOMEM;
        snprintf(q->where, sizeof(q->where), "unix://%s", q->path);
        return 0;
    }
    if (strncmp(url, "redis://", 8)) {
        snprintf(err, errlen, "bad Redis URL '%.200s': %s%s", url, url_help,
                 !strncmp(url, "rediss://", 9) ? "; for TLS use a tunnel" : "");
        return -EINVAL;
    }
    s = url + 8;
    end = s + strcspn(s, "/");
    at = memrchr(s, '@', (size_t)(end - s));
    if (at) {
        if (parse_userinfo(q, s, at))
            return -ENOMEM;
        s = at + 1;
    }
    q->port = REDIS_DEFAULT_PORT;
    {
        const char *hend, *colon;
        if (*s == '[') {
            hend = memchr(s, ']', (size_t)(end - s));
            if (!hend)
                goto bad;
            q->host = strndup(s + 1, (size_t)(hend - s - 1));
            colon = hend + 1 < end && hend[1] == ':' ? hend + 1 : NULL;
            if (!colon && hend + 1 != end)
                goto bad;
        } else {
            colon = memchr(s, ':', (size_t)(end - s));
            hend = colon ? colon : end;
            q->host = strndup(s, (size_t)(hend - s));
        }
        if (!q->host)
            return -ENOMEM;
        if (!q->host[0])
            goto bad;
        if (colon) {
            char *pe;
            long p;
            errno = 0;
            p = strtol(colon + 1, &pe, 10);
            if (errno || pe != end || p < 1 || p > 65535 || colon + 1 == end)
                goto bad;
            q->port = (int)p;
        }
    }
    if (*end == '/' && parse_db(end + 1, &q->db))
        goto bad;
    snprintf(q->where, sizeof(q->where), "redis://%s%s%s:%d/%u",
             strchr(q->host, ':') ? "[" : "", q->host,
             strchr(q->host, ':') ? "]" : "", q->port, q->db);
    return 0;
bad:
    snprintf(err, errlen, "bad Redis URL '%.200s': %s", url, url_help);
    return -EINVAL;
}

/* --- connecting ------------------------------------------------------------
 */

static int valid_prefix(const char *p)
{
    if (!*p || strlen(p) >= PREFIX_MAX)
        return 0;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.:", *p))
            return 0;
    return 1;
}

static int dial(struct queue *q, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_MS / MS_PER_S};
    redisReply *r = NULL;
    char dbs[NUM_MAX];
    int rc;

    if (q->c)
        redisFree(q->c);
    errno = 0;
    q->c = q->path ? redisConnectUnixWithTimeout(q->path, tv)
                   : redisConnectWithTimeout(q->host, q->port, tv);
    if (!q->c) {
        qerr(q, err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    if (q->c->err)
        return conn_error(q, err, errlen);
    set_timeout(q, CONNECT_TIMEOUT_MS);
    if (q->password) {
        const char *a[3] = {"AUTH", q->user ? q->user : q->password,
                            q->password};
        rc = command_ok(q, "AUTH", q->user ? 3 : 2, a, &r, err, errlen);
        if (rc)
            goto fail;
        freeReplyObject(r);
    }
    snprintf(dbs, sizeof(dbs), "%u", q->db);
    {
        const char *a[2] = {"SELECT", dbs};
        rc = command_ok(q, "SELECT", 2, a, &r, err, errlen);
        if (rc)
            goto fail;
        freeReplyObject(r);
    }
    set_timeout(q, COMMAND_TIMEOUT_MS);
    return 0;
fail:
    if (rc == -EACCES && !q->password)
        snprintf(err + strlen(err), errlen - strlen(err),
                 " (give the password in the URL: redis://:PASSWORD@%s:%d)",
                 q->host ? q->host : "HOST", q->port);
    if (q->c) {
        redisFree(q->c);
        q->c = NULL;
    }
    return rc;
}

int queue_connect(const char *url, const char *prefix, struct queue **out,
                  char *err, size_t errlen)
{
    struct queue *q = calloc(1, sizeof(*q));
    int rc;

    *out = NULL;
    if (!q) {
        snprintf(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    prefix = prefix ? prefix : QUEUE_DEFAULT_PREFIX;
    if (!valid_prefix(prefix)) {
        snprintf(err, errlen,
                 "bad prefix '%.100s': give 1 to %d letters, digits or _-.:",
                 prefix, PREFIX_MAX - 1);
        rc = -EINVAL;
        goto fail;
    }
    snprintf(q->prefix, sizeof(q->prefix), "%s", prefix);
    rc = parse_url(q, url, err, errlen);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s", strerror(ENOMEM));
    if (rc)
        goto fail;
    rc = dial(q, err, errlen);
    /* A Redis that is down now may come back: the caller may retry with
     * queue_reconnect(); bad credentials are final. */
    if (rc && rc != -EACCES && rc != -EPROTO) {
        *out = q;
        return rc;
    }
    if (rc)
        goto fail;
    *out = q;
    return 0;
fail:
    queue_close(q);
    return rc;
}

int queue_reconnect(struct queue *q, char *err, size_t errlen)
{
    return dial(q, err, errlen);
}

const char *queue_where(const struct queue *q)
{
    return q->where;
}

const char *queue_prefix(const struct queue *q)
{
    return q->prefix;
}

void queue_close(struct queue *q)
{
    if (!q)
        return;
    if (q->c)
        redisFree(q->c);
    free(q->host);
    free(q->path);
    free(q->user);
    if (q->password) {
        explicit_bzero(q->password, strlen(q->password));
        free(q->password);
    }
    free(q);
}

int queue_group_create(struct queue *q, char *err, size_t errlen)
{
    char jobs[KEY_MAX], group[KEY_MAX];
    redisReply *r;
    int rc;

    key(q, jobs, "jobs");
    key(q, group, "workers");
    const char *a[6] = {"XGROUP", "CREATE", jobs, group, "0", "MKSTREAM"};
    rc = command(q, 6, a, NULL, &r, err, errlen);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))
        rc = reply_error(q, "XGROUP CREATE", r, err, errlen);
    freeReplyObject(r);
    return rc;
}

/* --- the producer ------------------------------------------------------------
 */

int queue_submit(struct queue *q, const struct queue_job *jobs, size_t n,
                 size_t cap, unsigned char *added, size_t *n_added, char *err,
                 size_t errlen)
{
    char jobs_key[KEY_MAX], caps[NUM_MAX];
    size_t sent = 0;
    int rc = 0;

    *n_added = 0;
    memset(added, 0, n);
    key(q, jobs_key, "jobs");
    snprintf(caps, sizeof(caps), "%zu", cap ? cap : QUEUE_DEFAULT_CAP);
    for (size_t i = 0; i < n; i++) {
        const char *reply = jobs[i].reply ? jobs[i].reply : "";
        const char *a[8] = {"EVAL", submit_script, "1",         jobs_key,
                            caps,   jobs[i].qid,   jobs[i].job, reply};
        size_t l[8] = {4,
                       sizeof(submit_script) - 1,
                       1,
                       strlen(jobs_key),
                       strlen(caps),
                       strlen(jobs[i].qid),
                       jobs[i].job_len,
                       strlen(reply)};
        if (!*jobs[i].qid || strlen(jobs[i].qid) > QID_MAX_LEN) {
            qerr(q, err, errlen, "a queue id must have 1 to %d characters",
                 QID_MAX_LEN);
            return -EINVAL;
        }
        rc = append(q, 8, a, l, err, errlen);
        if (rc)
            return rc;
        sent++;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *r;
        int e = next_reply(q, &r, err, errlen);
        if (e)
            return e;
        if (r->type == REDIS_REPLY_STRING) {
            added[i] = 1;
            (*n_added)++;
        } else if (r->type == REDIS_REPLY_ERROR && !rc) {
            rc = reply_error(q, "XADD", r, err, errlen);
        }
        freeReplyObject(r);
    }
    return rc;
}

/* The value of field name in a stream entry's [f1, v1, f2, v2...]. */
static const redisReply *field(const redisReply *fields, const char *name)
{
    if (!fields || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i];
        if (f->type == REDIS_REPLY_STRING && !strcmp(f->str, name) &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1];
    }
    return NULL;
}

int queue_wait_done(struct queue *q, const char *tag, char last[QUEUE_ID_MAX],
                    int block_ms, size_t max, queue_done_fn *fn, void *arg,
                    char *err, size_t errlen)
{
    char done[KEY_MAX], counts[NUM_MAX], blocks[NUM_MAX];
    redisReply *r;
    int rc;

    snprintf(done, sizeof(done), "%s:done:%s", q->prefix, tag);
    snprintf(counts, sizeof(counts), "%zu", max ? max : 1);
    snprintf(blocks, sizeof(blocks), "%d", block_ms > 0 ? block_ms : 0);
    const char *a[8] = {"XREAD", "COUNT",   counts, "BLOCK",
                        blocks,  "STREAMS", done,   last};
    int argc = block_ms > 0 ? 8 : 6;
    if (block_ms <= 0) {
        a[3] = "STREAMS";
        a[4] = done;
        a[5] = last;
    }
    set_timeout(q, (block_ms > 0 ? block_ms : 0) + COMMAND_TIMEOUT_MS);
    rc = command_ok(q, "XREAD", argc, a, &r, err, errlen);
    set_timeout(q, COMMAND_TIMEOUT_MS);
    if (rc)
        return rc;
    /* nil: nothing came; else [[key, [[id, fields]...]]]. */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2) {
        const redisReply *ents = r->element[0]->element[1];
        for (size_t i = 0;
             ents->type == REDIS_REPLY_ARRAY && i < ents->elements; i++) {
            const redisReply *e = ents->element[i];
            const redisReply *qid;
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            snprintf(last, QUEUE_ID_MAX, "%s", e->element[0]->str);
            qid = field(e->element[1], "qid");
            if (qid)
                fn(arg, qid->str);
        }
    }
    freeReplyObject(r);
    return 0;
}

int queue_fetch(struct queue *q, const char *const *qids, size_t n,
                char **results, char *err, size_t errlen)
{
    const char **a = calloc(n + 1, sizeof(*a));
    char **keys = calloc(n, sizeof(*keys));
    redisReply *r = NULL;
    int rc = -ENOMEM;

    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    if (!n) {
        rc = 0;
        goto out;
    }
    if (!a || !keys)
        goto out;
    a[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        if (asprintf(&keys[i], "%s:result:%s", q->prefix, qids[i]) < 0) {
            keys[i] = NULL;
            goto out;
        }
        a[i + 1] = keys[i];
    }
    rc = command_ok(q, "MGET", (int)n + 1, a, &r, err, errlen);
    if (rc)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        rc = reply_error(q, "MGET", r, err, errlen);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        results[i] = strndup(e->str, e->len);
        if (!results[i]) {
            rc = -ENOMEM;
            for (size_t j = 0; j < i; j++) {
                free(results[j]);
                results[j] = NULL;
            }
            goto out;
        }
    }
    rc = 0;
out:
    if (rc == -ENOMEM)
        qerr(q, err, errlen, "%s", strerror(ENOMEM));
    if (r)
        freeReplyObject(r);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(a);
    return rc;
}

/* An integer reply of a one-key command (XLEN, HLEN). */
static int int_command(struct queue *q, const char *cmd, const char *suffix,
                       uint64_t *out, char *err, size_t errlen)
{
    char k[KEY_MAX];
    redisReply *r;
    int rc;

    key(q, k, suffix);
    const char *a[2] = {cmd, k};
    rc = command_ok(q, cmd, 2, a, &r, err, errlen);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER)
        rc = reply_error(q, cmd, r, err, errlen);
    else
        *out = (uint64_t)r->integer;
    freeReplyObject(r);
    return rc;
}

int queue_depth(struct queue *q, uint64_t *depth, char *err, size_t errlen)
{
    return int_command(q, "XLEN", "jobs", depth, err, errlen);
}

/* --- the consumer ------------------------------------------------------------
 */

void queue_entry_free(struct queue_entry *e)
{
    if (!e)
        return;
    free(e->qid);
    free(e->job);
    free(e->reply);
    memset(e, 0, sizeof(*e));
}

static char *dup_field(const redisReply *fields, const char *name, size_t *len,
                       int *oom)
{
    const redisReply *v = field(fields, name);
    char *s;

    if (!v || (!v->len && strcmp(name, "job")))
        return NULL;
    s = malloc(v->len + 1);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, v->str, v->len);
    s[v->len] = '\0';
    if (len)
        *len = v->len;
    return s;
}

/* One [id, fields] of a reply into e; 0, 1 when it is not an entry (a
 * deleted one: fields nil), -ENOMEM. */
static int take_entry(const redisReply *r, struct queue_entry *e)
{
    int oom = 0;

    memset(e, 0, sizeof(*e));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY)
        return 1;
    snprintf(e->id, sizeof(e->id), "%s", r->element[0]->str);
    e->qid = dup_field(r->element[1], "qid", NULL, &oom);
    e->job = dup_field(r->element[1], "job", &e->job_len, &oom);
    e->reply = dup_field(r->element[1], "reply", NULL, &oom);
    e->deliveries = 1;
    if (oom) {
        queue_entry_free(e);
        return -ENOMEM;
    }
    return 0;
}

/* Entries of ents (an array of [id, fields]) into out[] (n so far). */
static int take_entries(const redisReply *ents, size_t max,
                        struct queue_entry *out, size_t *n)
{
    for (size_t i = 0; ents && ents->type == REDIS_REPLY_ARRAY &&
                       i < ents->elements && *n < max;
         i++) {
        int rc = take_entry(ents->element[i], &out[*n]);
        if (rc < 0)
            return rc;
        if (rc == 0)
            (*n)++;
    }
    return 0;
}

/* XREADGROUP's arguments for queue_read(), in the caller's buffers:
 * BLOCK block_ms, or no BLOCK for block_ms 0. */
struct read_args {
    char jobs[KEY_MAX], group[KEY_MAX], counts[NUM_MAX], blocks[NUM_MAX];
    const char *argv[11];
    int argc;
};

static void read_args_init(struct queue *q, struct read_args *ra,
                           const char *consumer, size_t max, int block_ms)
{
    int n = 0;

    key(q, ra->jobs, "jobs");
    key(q, ra->group, "workers");
    snprintf(ra->counts, sizeof(ra->counts), "%zu", max ? max : 1);
    snprintf(ra->blocks, sizeof(ra->blocks), "%d", block_ms);
    ra->argv[n++] = "XREADGROUP";
    ra->argv[n++] = "GROUP";
    ra->argv[n++] = ra->group;
    ra->argv[n++] = consumer;
    ra->argv[n++] = "COUNT";
    ra->argv[n++] = ra->counts;
    if (block_ms > 0) {
        ra->argv[n++] = "BLOCK";
        ra->argv[n++] = ra->blocks;
    }
    ra->argv[n++] = "STREAMS";
    ra->argv[n++] = ra->jobs;
    ra->argv[n++] = ">";
    ra->argc = n;
}

/* XREADGROUP's reply r (freed here) into out[], *n of them. */
static int read_reply(struct queue *q, redisReply *r, size_t max,
                      struct queue_entry *out, size_t *n, char *err,
                      size_t errlen)
{
    int rc = 0;

    if (r->type == REDIS_REPLY_ERROR) {
        rc = reply_error(q, "XREADGROUP", r, err, errlen);
        freeReplyObject(r);
        if (rc == -EPROTO && strstr(err, "NOGROUP"))
            /* Someone deleted the stream (or Redis lost it): make it
             * again. */
            rc = queue_group_create(q, err, errlen);
        return rc;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2)
        rc = take_entries(r->element[0]->element[1], max ? max : 1, out, n);
    freeReplyObject(r);
    if (rc)
        qerr(q, err, errlen, "%s", strerror(-rc));
    return rc;
}

int queue_read(struct queue *q, const char *consumer, size_t max, int block_ms,
               struct queue_entry *out, size_t *n, char *err, size_t errlen)
{
    struct read_args ra;
    redisReply *r;
    int rc;

    *n = 0;
    read_args_init(q, &ra, consumer, max, block_ms > 0 ? block_ms : 1);
    set_timeout(q, (block_ms > 0 ? block_ms : 0) + COMMAND_TIMEOUT_MS);
    rc = command(q, ra.argc, ra.argv, NULL, &r, err, errlen);
    set_timeout(q, COMMAND_TIMEOUT_MS);
    if (rc)
        return rc;
    return read_reply(q, r, max, out, n, err, errlen);
}

/* XPENDING's delivery counts for out[0..n). */
static int delivery_counts(struct queue *q, struct queue_entry *out, size_t n,
                           char *err, size_t errlen)
{
    char jobs[KEY_MAX], group[KEY_MAX];
    int rc;

    key(q, jobs, "jobs");
    key(q, group, "workers");
    for (size_t i = 0; i < n; i++) {
        const char *a[6] = {"XPENDING", jobs, group, out[i].id, out[i].id, "1"};
        rc = append(q, 6, a, NULL, err, errlen);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        rc = next_reply(q, &r, err, errlen);
        if (rc)
            return rc;
        /* [[id, consumer, idle, count]] */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY &&
            r->element[0]->elements == 4 &&
            r->element[0]->element[3]->type == REDIS_REPLY_INTEGER)
            out[i].deliveries = (uint64_t)r->element[0]->element[3]->integer;
        freeReplyObject(r);
    }
    return 0;
}

int queue_claim(struct queue *q, const char *consumer, uint64_t min_idle_ms,
                size_t max, struct queue_entry *out, size_t *n, char *err,
                size_t errlen)
{
    char jobs[KEY_MAX], group[KEY_MAX], idle[NUM_MAX], counts[NUM_MAX];
    redisReply *r;
    int rc;

    *n = 0;
    key(q, jobs, "jobs");
    key(q, group, "workers");
    snprintf(idle, sizeof(idle), "%" PRIu64, min_idle_ms);
    snprintf(counts, sizeof(counts), "%zu", max ? max : 1);
    const char *a[8] = {"XAUTOCLAIM", jobs,  group,   consumer,
                        idle,         "0-0", "COUNT", counts};
    rc = command_ok(q, "XAUTOCLAIM", 8, a, &r, err, errlen);
    if (rc == -EPROTO && strstr(err, "NOGROUP"))
        return queue_group_create(q, err, errlen);
    if (rc)
        return rc;
    /* [cursor, [[id, fields]...], [deleted ids]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
        rc = take_entries(r->element[1], max ? max : 1, out, n);
    freeReplyObject(r);
    if (rc) {
        qerr(q, err, errlen, "%s", strerror(-rc));
        return rc;
    }
    rc = delivery_counts(q, out, *n, err, errlen);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            queue_entry_free(&out[i]);
        *n = 0;
    }
    return rc;
}

int queue_touch(struct queue *q, const char *consumer, const char *const *ids,
                size_t n, uint64_t running, uint64_t done, char *err,
                size_t errlen)
{
    char jobs[KEY_MAX], group[KEY_MAX], seen[KEY_MAX], val[3 * NUM_MAX];
    const char **a = calloc(n + 6, sizeof(*a));
    size_t cmds = 0;
    int rc;

    if (!a) {
        qerr(q, err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    key(q, jobs, "jobs");
    key(q, group, "workers");
    key(q, seen, "seen");
    if (n) {
        a[0] = "XCLAIM";
        a[1] = jobs;
        a[2] = group;
        a[3] = consumer;
        a[4] = "0";
        for (size_t i = 0; i < n; i++)
            a[5 + i] = ids[i];
        a[5 + n] = "JUSTID";
        rc = append(q, (int)n + 6, a, NULL, err, errlen);
        if (rc)
            goto out;
        cmds++;
    }
    snprintf(val, sizeof(val), "%lld %" PRIu64 " %" PRIu64,
             (long long)time(NULL), running, done);
    {
        const char *h[4] = {"HSET", seen, consumer, val};
        rc = append(q, 4, h, NULL, err, errlen);
        if (rc)
            goto out;
        cmds++;
    }
    rc = drain(q, "XCLAIM", cmds, err, errlen);
out:
    free(a);
    return rc;
}

/* Append SET NX EX, the notice, XACK and XDEL of e; *cmds counts them. */
static int append_end_cmds(struct queue *q, const struct queue_entry *e,
                           const char *result, size_t len, unsigned ttl_s,
                           size_t *cmds, char *err, size_t errlen)
{
    char jobs[KEY_MAX], group[KEY_MAX], ttl[NUM_MAX], *rkey = NULL,
                                                      *dkey = NULL;
    int rc = 0;

    key(q, jobs, "jobs");
    key(q, group, "workers");
    snprintf(ttl, sizeof(ttl), "%u", ttl_s ? ttl_s : QUEUE_DEFAULT_TTL_S);
    if (e->qid && result) {
        if (asprintf(&rkey, "%s:result:%s", q->prefix, e->qid) < 0) {
            rkey = NULL;
            rc = -ENOMEM;
            goto out;
        }
        const char *a[6] = {"SET", rkey, result, "NX", "EX", ttl};
        size_t l[6] = {3, strlen(rkey), len, 2, 2, strlen(ttl)};
        if ((rc = append(q, 6, a, l, err, errlen)))
            goto out;
        (*cmds)++;
        if (e->reply) {
            if (asprintf(&dkey, "%s:done:%s", q->prefix, e->reply) < 0) {
                dkey = NULL;
                rc = -ENOMEM;
                goto out;
            }
            const char *x[8] = {
                "XADD", dkey,  "MAXLEN", "~", DONE_STREAM_MAXLEN,
                "*",    "qid", e->qid};
            if ((rc = append(q, 8, x, NULL, err, errlen)))
                goto out;
            const char *ex[3] = {"EXPIRE", dkey, ttl};
            if ((rc = append(q, 3, ex, NULL, err, errlen)))
                goto out;
            *cmds += 2;
        }
    }
    {
        const char *ack[4] = {"XACK", jobs, group, e->id};
        const char *del[3] = {"XDEL", jobs, e->id};
        if ((rc = append(q, 4, ack, NULL, err, errlen)) ||
            (rc = append(q, 3, del, NULL, err, errlen)))
            goto out;
        *cmds += 2;
    }
out:
    if (rc == -ENOMEM)
        qerr(q, err, errlen, "%s", strerror(ENOMEM));
    free(rkey);
    free(dkey);
    return rc;
}

/* A command to send before a job's end, in its transaction. */
struct pre_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
};

/* One word of a transaction (MULTI, EXEC, DISCARD); *cmds counts it. */
static int tx_word(struct queue *q, const char *word, size_t *cmds, char *err,
                   size_t errlen)
{
    const char *a[1] = {word};
    int rc = append(q, 1, a, NULL, err, errlen);

    if (rc == 0)
        (*cmds)++;
    return rc;
}

/*
 * Append the end of e (after pre, when given) as one transaction: its
 * result, its notice, XACK and XDEL all happen or none does. A Redis at
 * maxmemory refuses SET and XADD but takes XACK and XDEL, which sent alone
 * would drop a job whose result was never stored; a command refused while
 * queued makes EXEC refuse them all, and the entry stays pending for the
 * next try. 0, a lost connection (nothing to read), or -ENOMEM with
 * DISCARD in place of EXEC (the replies of what was appended are read).
 */
static int append_end(struct queue *q, const struct pre_cmd *pre,
                      const struct queue_entry *e, const char *result,
                      size_t len, unsigned ttl_s, size_t *cmds, char *err,
                      size_t errlen)
{
    int rc = tx_word(q, "MULTI", cmds, err, errlen);

    if (rc == 0 && pre &&
        (rc = append(q, pre->argc, pre->argv, pre->lens, err, errlen)) == 0)
        (*cmds)++;
    if (rc == 0)
        rc = append_end_cmds(q, e, result, len, ttl_s, cmds, err, errlen);
    if (!q->c)
        return rc; /* the connection went: nothing more is sent on it */
    int w = tx_word(q, rc ? "DISCARD" : "EXEC", cmds, err, errlen);
    return rc ? rc : w;
}

int queue_finish(struct queue *q, const struct queue_entry *e,
                 const char *result, size_t len, unsigned ttl_s, char *err,
                 size_t errlen)
{
    size_t cmds = 0;
    int rc = append_end(q, NULL, e, result, len, ttl_s, &cmds, err, errlen);

    if (rc && rc != -ENOMEM)
        return rc;
    /* What was appended is sent either way (the replies must be read). */
    {
        int d = drain(q, "finishing a job", cmds, err, errlen);
        return rc ? rc : d;
    }
}

/* Write what the pipeline holds, without waiting for a reply. */
static int flush(struct queue *q, char *err, size_t errlen)
{
    int done = 0;

    if (!q->c)
        return conn_error(q, err, errlen);
    while (!done)
        if (redisBufferWrite(q->c, &done) != REDIS_OK)
            return conn_error(q, err, errlen);
    return 0;
}

int queue_finish_send(struct queue *q, const struct queue_entry *e,
                      const char *result, size_t len, unsigned ttl_s,
                      const char *consumer, int block_ms, struct queue_sent *s,
                      char *err, size_t errlen)
{
    struct read_args ra;
    int rc = 0;

    memset(s, 0, sizeof(*s));
    s->block_ms = block_ms;
    if (e) {
        rc = append_end(q, NULL, e, result, len, ttl_s, &s->cmds, err, errlen);
        s->finish = 1;
    }
    if (rc == 0 && consumer) {
        read_args_init(q, &ra, consumer, 1, block_ms);
        rc = append(q, ra.argc, ra.argv, NULL, err, errlen);
        s->read = rc == 0;
    }
    if (rc && rc != -ENOMEM) {
        memset(s, 0, sizeof(*s)); /* a lost connection: no replies come */
        return rc;
    }
    /* What was appended is sent either way (the replies must be read). */
    int f = flush(q, err, errlen);
    if (f) {
        memset(s, 0, sizeof(*s));
        return f;
    }
    return rc;
}

int queue_finish_recv(struct queue *q, struct queue_sent *s,
                      struct queue_entry *next, size_t *n, int *finished,
                      char *err, size_t errlen)
{
    redisReply *r;
    int rc, frc = 0;

    *n = 0;
    *finished = !s->finish;
    if (s->finish) {
        frc = drain(q, "finishing a job", s->cmds, err, errlen);
        if (frc && frc != -EPROTO) {
            memset(s, 0, sizeof(*s));
            return frc; /* the connection: it may or may not have finished */
        }
        *finished = 1;
    }
    if (!s->read) {
        memset(s, 0, sizeof(*s));
        return frc;
    }
    set_timeout(q, (s->block_ms > 0 ? s->block_ms : 0) + COMMAND_TIMEOUT_MS);
    rc = next_reply(q, &r, err, errlen);
    set_timeout(q, COMMAND_TIMEOUT_MS);
    memset(s, 0, sizeof(*s));
    if (rc)
        return rc;
    if (frc) { /* the finish's error reply, said after the read's */
        char ferr[256];
        snprintf(ferr, sizeof(ferr), "%s", err);
        rc = read_reply(q, r, 1, next, n, err, errlen);
        if (rc == 0)
            snprintf(err, errlen, "%s", ferr);
        return rc ? rc : frc;
    }
    return read_reply(q, r, 1, next, n, err, errlen);
}

int queue_dead_letter(struct queue *q, const struct queue_entry *e,
                      const char *reason, const char *result, size_t len,
                      unsigned ttl_s, char *err, size_t errlen)
{
    char dead[KEY_MAX], n[NUM_MAX];
    size_t cmds = 0;
    int rc;

    key(q, dead, "dead");
    snprintf(n, sizeof(n), "%" PRIu64, e->deliveries);
    const char *a[15] = {"XADD",
                         dead,
                         "*",
                         "qid",
                         e->qid ? e->qid : "",
                         "job",
                         e->job ? e->job : "",
                         "reply",
                         e->reply ? e->reply : "",
                         "reason",
                         reason,
                         "deliveries",
                         n,
                         "entry",
                         e->id};
    size_t l[15];
    for (int i = 0; i < 15; i++)
        l[i] = strlen(a[i]);
    if (e->job)
        l[6] = e->job_len;
    /* The dead entry and the end of the job: one transaction. */
    const struct pre_cmd dead_entry = {15, a, l};
    rc = append_end(q, &dead_entry, e, result, len, ttl_s, &cmds, err, errlen);
    if (rc && rc != -ENOMEM)
        return rc;
    {
        int d = drain(q, "dead-lettering a job", cmds, err, errlen);
        return rc ? rc : d;
    }
}

/* --- what `tincan queue` shows ---------------------------------------------
 */

/* The integer after name in a flat [name, value, ...] reply, or 0. */
static uint64_t map_int(const redisReply *m, const char *name)
{
    for (size_t i = 0; m && m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements;
         i += 2)
        if (m->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(m->element[i]->str, name)) {
            const redisReply *v = m->element[i + 1];
            if (v->type == REDIS_REPLY_INTEGER)
                return v->integer > 0 ? (uint64_t)v->integer : 0;
            return 0;
        }
    return 0;
}

static const char *map_str(const redisReply *m, const char *name)
{
    for (size_t i = 0; m && m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements;
         i += 2)
        if (m->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(m->element[i]->str, name) &&
            m->element[i + 1]->type == REDIS_REPLY_STRING)
            return m->element[i + 1]->str;
    return NULL;
}

static int status_group(struct queue *q, struct queue_status *st, char *err,
                        size_t errlen)
{
    char jobs[KEY_MAX], group[KEY_MAX];
    redisReply *r;
    int rc;

    key(q, jobs, "jobs");
    key(q, group, "workers");
    const char *g[3] = {"XINFO", "GROUPS", jobs};
    rc = command(q, 3, g, NULL, &r, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const char *name = map_str(r->element[i], "name");
        if (name && !strcmp(name, group)) {
            st->pending = map_int(r->element[i], "pending");
            st->lag = map_int(r->element[i], "lag");
        }
    }
    freeReplyObject(r);
    const char *c[4] = {"XINFO", "CONSUMERS", jobs, group};
    rc = command(q, 4, c, NULL, &r, err, errlen);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        st->consumers = calloc(r->elements, sizeof(*st->consumers));
        if (!st->consumers) {
            freeReplyObject(r);
            qerr(q, err, errlen, "%s", strerror(ENOMEM));
            return -ENOMEM;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const char *name = map_str(r->element[i], "name");
            struct queue_consumer *qc = &st->consumers[st->n_consumers];
            if (!name || !(qc->name = strdup(name)))
                continue;
            qc->pending = map_int(r->element[i], "pending");
            qc->idle_ms = map_int(r->element[i], "idle");
            st->n_consumers++;
        }
    }
    freeReplyObject(r);
    return 0;
}

static int status_seen(struct queue *q, struct queue_status *st, char *err,
                       size_t errlen)
{
    char seen[KEY_MAX];
    redisReply *r;
    int rc;
    time_t now = time(NULL);

    key(q, seen, "seen");
    const char *a[2] = {"HGETALL", seen};
    rc = command_ok(q, "HGETALL", 2, a, &r, err, errlen);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        st->workers = calloc(r->elements / 2, sizeof(*st->workers));
        if (!st->workers) {
            freeReplyObject(r);
            qerr(q, err, errlen, "%s", strerror(ENOMEM));
            return -ENOMEM;
        }
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            struct queue_worker_seen *w = &st->workers[st->n_workers];
            long long t = 0;
            unsigned long long run = 0, done = 0;
            if (r->element[i]->type != REDIS_REPLY_STRING ||
                r->element[i + 1]->type != REDIS_REPLY_STRING ||
                sscanf(r->element[i + 1]->str, "%lld %llu %llu", &t, &run,
                       &done) != 3 ||
                !(w->name = strdup(r->element[i]->str)))
                continue;
            w->seen_s = (int64_t)(now - (time_t)t);
            w->running = run;
            w->done = done;
            st->n_workers++;
        }
    }
    freeReplyObject(r);
    return 0;
}

int queue_status_get(struct queue *q, struct queue_status *st, char *err,
                     size_t errlen)
{
    int rc;

    memset(st, 0, sizeof(*st));
    if ((rc = int_command(q, "XLEN", "jobs", &st->depth, err, errlen)) ||
        (rc = int_command(q, "XLEN", "dead", &st->dead, err, errlen)))
        return rc;
    if (st->depth && (rc = status_group(q, st, err, errlen)))
        goto fail;
    if ((rc = status_seen(q, st, err, errlen)))
        goto fail;
    return 0;
fail:
    queue_status_free(st);
    return rc;
}

void queue_status_free(struct queue_status *st)
{
    for (size_t i = 0; i < st->n_consumers; i++)
        free(st->consumers[i].name);
    for (size_t i = 0; i < st->n_workers; i++)
        free(st->workers[i].name);
    free(st->consumers);
    free(st->workers);
    memset(st, 0, sizeof(*st));
}

static int take_dead(const redisReply *e, struct queue_dead *d)
{
    const redisReply *f;
    int oom = 0;

    memset(d, 0, sizeof(*d));
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return 1;
    f = e->element[1];
    snprintf(d->id, sizeof(d->id), "%s", e->element[0]->str);
    d->qid = dup_field(f, "qid", NULL, &oom);
    d->reason = dup_field(f, "reason", NULL, &oom);
    d->job = dup_field(f, "job", NULL, &oom);
    d->reply = dup_field(f, "reply", NULL, &oom);
    {
        const redisReply *n = field(f, "deliveries");
        d->deliveries = n ? strtoull(n->str, NULL, 10) : 0;
    }
    return oom ? -ENOMEM : 0;
}

int queue_dead_list(struct queue *q, size_t max, struct queue_dead **out,
                    size_t *n, char *err, size_t errlen)
{
    char dead[KEY_MAX], counts[NUM_MAX];
    redisReply *r;
    int rc = 0;

    *out = NULL;
    *n = 0;
    key(q, dead, "dead");
    snprintf(counts, sizeof(counts), "%zu", max ? max : 1);
    const char *a[6] = {"XRANGE", dead, "-", "+", "COUNT", counts};
    rc = command_ok(q, "XRANGE", 6, a, &r, err, errlen);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        *out = calloc(r->elements, sizeof(**out));
        if (!*out)
            rc = -ENOMEM;
        for (size_t i = 0; !rc && i < r->elements; i++) {
            int t = take_dead(r->element[i], &(*out)[*n]);
            if (t < 0) {
                (*n)++;
                rc = t;
            } else if (t == 0) {
                (*n)++;
            }
        }
    }
    freeReplyObject(r);
    if (rc) {
        queue_dead_free(*out, *n);
        *out = NULL;
        *n = 0;
        qerr(q, err, errlen, "%s", strerror(-rc));
    }
    return rc;
}

void queue_dead_free(struct queue_dead *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++) {
        free(d[i].qid);
        free(d[i].reason);
        free(d[i].job);
        free(d[i].reply);
    }
    free(d);
}

static int is_stream_id(const char *s)
{
    size_t d = strspn(s, "0123456789");

    return d && s[d] == '-' && s[d + 1] &&
           !s[d + 1 + strspn(s + d + 1, "0123456789")];
}

/* The dead letter named id (an entry id or a qid) into *d: 0 or -ENOENT. */
static int find_dead(struct queue *q, const char *id, struct queue_dead *d,
                     char *err, size_t errlen)
{
    char dead[KEY_MAX];
    redisReply *r;
    int rc, found = 0;

    key(q, dead, "dead");
    const char *one[4] = {"XRANGE", dead, id, id};
    const char *all[4] = {"XRANGE", dead, "-", "+"};
    rc = command_ok(q, "XRANGE", 4, is_stream_id(id) ? one : all, &r, err,
                    errlen);
    if (rc)
        return rc;
    for (size_t i = 0;
         r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++) {
        struct queue_dead t;
        int e = take_dead(r->element[i], &t);
        if (e == 0 && (!strcmp(t.id, id) || (t.qid && !strcmp(t.qid, id)))) {
            *d = t;
            found = 1;
            break;
        }
        if (e <= 0) {
            free(t.qid);
            free(t.reason);
            free(t.job);
            free(t.reply);
        }
        if (e < 0) {
            freeReplyObject(r);
            qerr(q, err, errlen, "%s", strerror(ENOMEM));
            return -ENOMEM;
        }
    }
    freeReplyObject(r);
    if (!found) {
        qerr(q, err, errlen,
             "no dead letter %.100s in %s:dead; see 'tincan queue dead'", id,
             q->prefix);
        return -ENOENT;
    }
    return 0;
}

int queue_requeue(struct queue *q, const char *id, char *err, size_t errlen)
{
    char jobs[KEY_MAX], dead[KEY_MAX];
    struct queue_dead d;
    char *rkey = NULL;
    size_t cmds = 0;
    int rc;

    rc = find_dead(q, id, &d, err, errlen);
    if (rc)
        return rc;
    key(q, jobs, "jobs");
    key(q, dead, "dead");
    if (d.qid) {
        if (asprintf(&rkey, "%s:result:%s", q->prefix, d.qid) < 0) {
            rkey = NULL;
            rc = -ENOMEM;
            goto out;
        }
        const char *del[2] = {"DEL", rkey};
        if ((rc = append(q, 2, del, NULL, err, errlen)))
            goto out;
        cmds++;
    }
    {
        const char *a[9] = {"XADD",
                            jobs,
                            "*",
                            "qid",
                            d.qid ? d.qid : "",
                            "job",
                            d.job ? d.job : "",
                            "reply",
                            d.reply ? d.reply : ""};
        const char *x[3] = {"XDEL", dead, d.id};
        if ((rc = append(q, 9, a, NULL, err, errlen)) ||
            (rc = append(q, 3, x, NULL, err, errlen)))
            goto out;
        cmds += 2;
    }
    rc = drain(q, "requeue", cmds, err, errlen);
out:
    if (rc == -ENOMEM)
        qerr(q, err, errlen, "%s", strerror(ENOMEM));
    free(rkey);
    free(d.qid);
    free(d.reason);
    free(d.job);
    free(d.reply);
    return rc;
}
