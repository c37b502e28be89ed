/*
 * batch.c - `tincan batch`: reads jobs (one JSON object a line, see
 * jobspec.h, plus "id") as a stream, runs them on N worker threads (each job
 * in its own child through tc_run()), and writes one result line per input
 * line with a single write(2) as each job ends, or in input order with
 * --ordered through a bounded reorder window. SIGINT/SIGTERM stop the
 * reading; running jobs end at their deadlines and their results are
 * written. --resume skips the ids already in the results file. A progress
 * line and a summary go to stderr on a terminal (or with --progress).
 *
 * Threads: the main thread reads and parses lines, the workers run jobs,
 * and a supervisor thread owns the signals (blocked everywhere else, read
 * from a signalfd) and the progress line.
 */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../runner/codec.h"
#include "../runner/queue.h"
#include "fetchopt.h"
#include "jobrun.h"
#include "jobspec.h"
#include "report.h"
#include "../runner/units.h"
#include "tincan.h"

#define MAX_LINE           (64u << 20) /* longer lines are an error */
#define READ_CHUNK         (64u << 10)
#define MAX_WORKERS        1024
#define WINDOW_PER_WORKER  2            /* jobs read ahead of the workers */
#define ORDERED_PER_WORKER 16           /* --ordered: results held for order */
#define MAX_BUFFERED       (256u << 20) /* --ordered: bytes held */
#define PROGRESS_TTY_MS    200
#define PROGRESS_PLAIN_MS  1000
#define ERR_MAX            768
#define STATUS_ERROR       TC_STATUS_COUNT /* counts[] index of "error" */
#define NSTATUS            (TC_STATUS_COUNT + 1)
#define HIST_SUB_BITS      5 /* 32 buckets per power of two: within 3% */
#define HIST_BUCKETS       (64u << HIST_SUB_BITS)
#define US_PER_MS          1000u
#define US_PER_S           1000000u
#define IDMAP_MIN_CAP      64u
#define LINE_KEY_MAX       32
#define SECONDS_PER_MINUTE 60u
#define SECONDS_PER_HOUR   3600u
#define PERCENT            100u
#define RESULTS_MODE       0644

static const char batch_usage[] =
    "usage: tincan batch [options] JOBS.jsonl|-\n"
    "\n"
    "Runs every job of JOBS.jsonl (one JSON object a line; - reads stdin),\n"
    "each in its own fresh child, on N worker threads, and writes one JSON\n"
    "line per job: {\"id\": ..., and the fields of tincan run --json}.\n"
    "\n"
    "A job: \"id\" (a string or an integer, unique), the code as one of\n"
    "\"code_hex\", \"code_b64\", \"path\" or \"url\" (+ \"sha256\"), the "
    "input\n"
    "as one of \"input_hex\", \"input_b64\", \"input_path\" or \"input_url\"\n"
    "(+ \"input_sha256\"), and \"timeout_ms\", \"mem\", \"max_output\",\n"
    "\"max_insns\", \"format\", \"backend\" as in tincan run. A job may name\n"
    "host files and URLs only as the flags below allow; inline code and\n"
    "input (hex, base64) always run.\n"
    "\n"
    "options:\n"
    "  -j, --jobs N       run N jobs at once (default: the number of CPUs)\n"
    "  -o, --output FILE  write results to FILE (default: stdout)\n"
    "  --ordered          write results in input order (results that end\n"
    "                     early wait, at most 16 per worker)\n"
    "  --resume           skip jobs whose id is already in the -o FILE, and\n"
    "                     append: finishes an interrupted batch\n"
    "  --progress         progress and summary on stderr even when it is not\n"
    "                     a terminal\n"
    "  --redis URL        the fleet runs the jobs: put them on the Redis\n"
    "                     queue for tincan worker processes (redis://[[USER]:\n"
    "                     PASSWORD@]HOST[:PORT][/DB] or unix:///PATH); code\n"
    "                     and input are loaded here and sent inline\n"
    "  --prefix P         the queue's key prefix (default tincan)\n"
    "  --queue-cap N      wait while the queue holds N jobs (default 100000)\n"
    "  -h, --help         this text\n"
    "\n" JOBSPEC_POLICY_USAGE "\n" FETCHOPT_USAGE
    "--allow-file-urls is refused here: jobs name files with \"path\".\n"
    "Jobs naming one URL share this process's fetch cache (see the README,\n"
    "Payload sources).\n"
    "\n"
    "A line that is not a valid job gets {\"line\": N, \"status\": \"error\",\n"
    "\"message\": ...} (with \"id\" when it has one), as does a job whose "
    "code\n"
    "or input cannot be loaded; a repeated id gets an error with\n"
    "\"duplicate_id\" instead of \"id\". SIGINT or SIGTERM stops reading new\n"
    "jobs; running jobs end at their deadlines and their results are "
    "written.\n"
    "\n"
    "exit status: 0 every line has a result and none is an error; 1 some\n"
    "lines got an error result; 123 the jobs could not be read or the\n"
    "results not written; 125 bad usage; 128 + the signal (130 for SIGINT,\n"
    "143 for SIGTERM) when interrupted: run again with --resume to finish.\n";

/* A string -> line number map (ids seen, results already written). */
struct idmap {
    char **keys;
    uint64_t *vals;
    size_t cap, n;
};

/* One input line that gets a result line. */
struct item {
    uint64_t seq, line;
    json_t *id;        /* NULL when the line has none */
    struct jobspec js; /* a job to run, when result is NULL */
    char *result;      /* the result line, '\n' included */
    size_t result_len;
    int status;       /* counts[] index */
    uint64_t wall_us; /* of a job that ran */
    int ran, done;    /* done: result set, or dropped (result NULL) */
    struct item *next;
    json_t *desc;       /* --redis: the job's object without "id" */
    struct item *fnext; /* --redis: in the outstanding table */
    uint64_t sent_ms;   /* --redis: when it went on the queue */
};

struct reader {
    int fd, stop_fd;
    size_t max_line; /* longer lines are skipped (LINE_TOO_LONG) */
    char *buf;
    size_t cap, start, end, scan;
    int eof;
    int partial; /* the last line returned had no '\n' (end of input) */
};

struct batch {
    /* options */
    unsigned workers;
    int ordered, resume, progress, tty;
    const char *jobs_path, *out_path;
    const char *redis_url, *redis_prefix; /* --redis: the fleet runs them */
    size_t queue_cap;
    struct fetchopt fo;           /* fo.fetch: how URLs are fetched */
    struct jobspec_policy policy; /* what a job may name: files, URLs */
    int out_fd;

    /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, space_cv;
    struct item *qhead, *qtail;
    int closed;
    struct item **ring; /* --ordered: window slots, by seq */
    size_t window;
    uint64_t next_seq, next_write, inflight;
    size_t buffered;
    uint64_t counts[NSTATUS], written;
    uint64_t hist[HIST_BUCKETS], hist_n;
    int write_failed;
    char write_err[ERR_MAX];
    int read_failed; /* the main thread's: the jobs could not be read */

    atomic_int stop, signo;
    int stop_pipe[2], wake_pipe[2];

    /* the main thread's */
    struct idmap seen, done_keys;
    uint64_t total, skipped, errors_before;
    struct timespec t0;
};

/* --- idmap ----------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static size_t idmap_slot(const struct idmap *m, const char *key)
{
    size_t i = (size_t)fnv1a(key) & (m->cap - 1);

    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* 1 and *val when key is in m, else 0. */
static int idmap_get(const struct idmap *m, const char *key, uint64_t *val)
{
    size_t i;

    if (!m->cap)
        return 0;
    i = idmap_slot(m, key);
    if (!m->keys[i])
        return 0;
    if (val)
        *val = m->vals[i];
    return 1;
}

static int idmap_grow(struct idmap *m)
{
    struct idmap g = {.cap = m->cap ? m->cap * 2 : IDMAP_MIN_CAP};

    g.keys = calloc(g.cap, sizeof(*g.keys));
    g.vals = calloc(g.cap, sizeof(*g.vals));
    if (!g.keys || !g.vals) {
        free(g.keys);
        free(g.vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = idmap_slot(&g, m->keys[i]);
            g.keys[j] = m->keys[i];
            g.vals[j] = m->vals[i];
        }
    g.n = m->n;
    free(m->keys);
    free(m->vals);
    *m = g;
    return 0;
}

/* Add (or update) key -> val. 0 or -ENOMEM. */
static int idmap_put(struct idmap *m, const char *key, uint64_t val)
{
    size_t i;

    /* Keep the load at most 1/2. */
    if ((m->n + 1) * 2 > m->cap && idmap_grow(m))
        return -ENOMEM;
    i = idmap_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = strdup(key);
        if (!m->keys[i])
            return -ENOMEM;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

static void idmap_free(struct idmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* The key of an id: its compact JSON ("\"a\"" and "7" differ). */
static char *id_key(const json_t *id)
{
    return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
}

/* The key of a result without an id: its line number. */
static void line_key(uint64_t line, char *buf, size_t len)
{
    snprintf(buf, len, "L%" PRIu64, line);
}

/* --- reading lines ----------------------------------------------------- */

enum { LINE_OK = 1, LINE_TOO_LONG = 2, LINE_EOF = 0, LINE_STOPPED = -1 };

/* Wait until fd is readable or the stop pipe is: 1, or LINE_STOPPED. */
static int wait_readable(const struct reader *r)
{
    struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN},
                          {.fd = r->stop_fd, .events = POLLIN}};

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1; /* let read() report it */
        }
        if (p[1].revents)
            return LINE_STOPPED;
        return 1;
    }
}

/* More bytes into the buffer: 1, 0 at EOF, LINE_STOPPED, or -errno. */
static int fill(struct reader *r)
{
    ssize_t n;

    if (wait_readable(r) == LINE_STOPPED)
        return LINE_STOPPED;
    do
        n = read(r->fd, r->buf + r->end, r->cap - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0) {
        r->eof = 1;
        return 0;
    }
    r->end += (size_t)n;
    return 1;
}

/*
 * The next line, without its '\n', in *line and *len (valid until the next
 * call). Returns LINE_OK, LINE_TOO_LONG (the line was skipped), LINE_EOF,
 * LINE_STOPPED, or -errno.
 */
static int next_line(struct reader *r, char **line, size_t *len)
{
    int skipping = 0, rc;

    for (;;) {
        char *nl = r->scan < r->end
                       ? memchr(r->buf + r->scan, '\n', r->end - r->scan)
                       : NULL;

        if (nl) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->start = r->scan = (size_t)(nl - r->buf) + 1;
            return skipping ? LINE_TOO_LONG : LINE_OK;
        }
        r->scan = r->end;
        if (r->eof) {
            if (r->start == r->end)
                return skipping ? LINE_TOO_LONG : LINE_EOF;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            r->start = r->scan = r->end;
            r->partial = 1;
            return skipping ? LINE_TOO_LONG : LINE_OK;
        }
        if (r->start) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
            r->scan = r->end;
        }
        if (r->end - r->start >= r->max_line) {
            skipping = 1; /* drop what we have; find the newline */
            r->start = r->end = r->scan = 0;
        }
        if (r->end == r->cap) {
            size_t ncap = r->cap ? r->cap * 2 : READ_CHUNK;
            char *nb = realloc(r->buf, ncap);
            if (!nb)
                return -ENOMEM;
            r->buf = nb;
            r->cap = ncap;
        }
        rc = fill(r);
        if (rc < 0)
            return rc;
    }
}

/* Non-blank lines of a regular file (a cheap pass for the ETA); 0 when
 * unknown. */
static uint64_t count_jobs(int fd)
{
    struct stat st;
    char buf[READ_CHUNK];
    uint64_t n = 0;
    int content = 0;
    off_t off = 0;
    ssize_t got;

    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        return 0;
    while ((got = pread(fd, buf, sizeof(buf), off)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] == '\n') {
                n += content;
                content = 0;
            } else if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r') {
                content = 1;
            }
        }
        off += got;
    }
    return n + content;
}

/* --- writing results ----------------------------------------------------- */

static uint64_t elapsed_us(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - t0->tv_sec) * US_PER_S +
           (uint64_t)((now.tv_nsec - t0->tv_nsec) / (long)US_PER_MS);
}

static void request_stop(struct batch *b)
{
    char c = 0;

    if (atomic_exchange(&b->stop, 1))
        return;
    /* Wakes the reader if it waits for input; it is never full (one byte). */
    if (write(b->stop_pipe[1], &c, 1) < 0) {
        /* The stop flag alone still ends the reader at its next line. */
    }
    pthread_cond_broadcast(&b->work_cv);
    pthread_cond_broadcast(&b->space_cv);
}

/* Write the whole line (under mu). */
static void write_result(struct batch *b, const struct item *it)
{
    size_t off = 0;

    if (b->write_failed)
        return;
    while (off < it->result_len) {
        ssize_t n = write(b->out_fd, it->result + off, it->result_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(b->write_err, sizeof(b->write_err),
                     "cannot write results to %s: %s",
                     b->out_path ? b->out_path : "stdout",
                     n < 0 ? strerror(errno) : "no progress");
            b->write_failed = 1;
            request_stop(b);
            return;
        }
        off += (size_t)n;
    }
    b->written++;
}

static unsigned hist_bucket(uint64_t v)
{
    unsigned msb;

    if (v < (1u << HIST_SUB_BITS))
        return (unsigned)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    return ((msb - HIST_SUB_BITS + 1) << HIST_SUB_BITS) +
           (unsigned)((v >> (msb - HIST_SUB_BITS)) &
                      ((1u << HIST_SUB_BITS) - 1));
}

/* The middle of a bucket's range. */
static uint64_t hist_value(unsigned bucket)
{
    unsigned shift, sub = bucket & ((1u << HIST_SUB_BITS) - 1);

    if (bucket < (1u << HIST_SUB_BITS))
        return bucket;
    shift = (bucket >> HIST_SUB_BITS) - 1;
    return (((uint64_t)(1u << HIST_SUB_BITS) + sub) << shift) +
           ((1ULL << shift) >> 1);
}

static void free_item(struct item *it)
{
    if (!it)
        return;
    json_decref(it->id);
    json_decref(it->desc);
    jobspec_free(&it->js);
    free(it->result);
    free(it);
}

/* --ordered: write the finished results at the head of the window. */
static void flush_ordered(struct batch *b)
{
    while (b->next_write < b->next_seq) {
        size_t slot = b->next_write % b->window;
        struct item *it = b->ring[slot];

        if (!it || !it->done)
            break;
        if (it->result) {
            write_result(b, it);
            b->buffered -= it->result_len;
        }
        free_item(it);
        b->ring[slot] = NULL;
        b->next_write++;
    }
}

/* An item has its result (or was dropped): count it and write it. */
static void complete(struct batch *b, struct item *it)
{
    pthread_mutex_lock(&b->mu);
    it->done = 1;
    if (it->result) {
        b->counts[it->status]++;
        if (it->ran) {
            b->hist[hist_bucket(it->wall_us)]++;
            b->hist_n++;
        }
    }
    if (b->ordered) {
        if (it->result)
            b->buffered += it->result_len;
        flush_ordered(b);
    } else {
        if (it->result)
            write_result(b, it);
        free_item(it);
        b->inflight--;
    }
    pthread_cond_broadcast(&b->space_cv);
    pthread_mutex_unlock(&b->mu);
}

/* it->result from o (consumed), with "id" first when the item has one. */
static void set_result(struct item *it, json_t *o)
{
    json_t *line = json_object();
    char *s = NULL;

    if (line && o) {
        if (it->id)
            json_object_set(line, "id", it->id);
        if (json_object_update(line, o) == 0)
            s = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
    }
    json_decref(line);
    json_decref(o);
    free(it->result);
    it->result = NULL;
    if (s) {
        size_t n = strlen(s);
        it->result = realloc(s, n + 2);
        if (!it->result) {
            free(s);
        } else {
            it->result[n] = '\n';
            it->result[n + 1] = '\0';
            it->result_len = n + 1;
            return;
        }
    }
    /* Out of memory: a fixed line still says what happened. */
    it->status = STATUS_ERROR;
    it->ran = 0;
    if (asprintf(&it->result,
                 "{\"line\":%" PRIu64 ",\"status\":\"error\",\"message\":"
                 "\"out of memory while writing the result\"}\n",
                 it->line) < 0)
        it->result = NULL;
    it->result_len = it->result ? strlen(it->result) : 0;
}

/* An error result: "line", "status": "error", "message" ("line N: ..."),
 * and "duplicate_id" when dup is not NULL. */
static void __attribute__((format(printf, 3, 4)))
set_error(struct item *it, const json_t *dup, const char *fmt, ...)
{
    char msg[ERR_MAX], full[ERR_MAX + 32];
    json_t *o = json_object();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "line %" PRIu64 ": %s", it->line, msg);
    if (o) {
        json_object_set_new(o, "line", json_integer((json_int_t)it->line));
        if (dup)
            json_object_set_new(o, "duplicate_id", json_deep_copy(dup));
        json_object_set_new(o, "status", json_string("error"));
        /* Input bytes may be in msg: keep the message even if not UTF-8. */
        json_t *m = json_string(full);
        json_object_set_new(o, "message",
                            m ? m : json_string("(message not UTF-8)"));
    }
    it->status = STATUS_ERROR;
    it->ran = 0;
    set_result(it, o);
}

/* --- workers ------------------------------------------------------------- */

static void run_item(struct batch *b, struct item *it)
{
    struct jobrun_opts opts = {.fetch = &b->fo.fetch, .policy = &b->policy};
    struct jobrun_out out;

    if (jobrun_run(&it->js, &opts, -1, &out) != 0) {
        set_error(it, NULL, "%s", out.message);
    } else {
        it->status = (unsigned)out.status < TC_STATUS_COUNT ? (int)out.status
                                                            : STATUS_ERROR;
        it->ran = 1;
        it->wall_us = out.wall_us;
        set_result(it, out.result);
        out.result = NULL; /* set_result took it */
    }
    jobrun_out_free(&out);
    jobspec_free(&it->js);
}

static void *worker(void *arg)
{
    struct batch *b = arg;

    for (;;) {
        struct item *it;

        pthread_mutex_lock(&b->mu);
        while (!b->qhead && !b->closed && !atomic_load(&b->stop))
            pthread_cond_wait(&b->work_cv, &b->mu);
        it = b->qhead;
        if (it) {
            b->qhead = it->next;
            if (!b->qhead)
                b->qtail = NULL;
        }
        pthread_mutex_unlock(&b->mu);
        if (!it) {
            if (b->closed || atomic_load(&b->stop))
                return NULL;
            continue;
        }
        if (!atomic_load(&b->stop))
            run_item(b, it); /* else dropped: --resume runs it later */
        complete(b, it);
    }
}

/* --- the fleet (--redis): producer of the queue's jobs ------------------- */

#define FLEET_WINDOW      4096 /* jobs on the queue and not yet answered */
#define FLEET_SUBMIT_MAX  256  /* jobs per pipelined submit */
#define FLEET_BUCKETS     8192 /* outstanding table (by seq) */
#define FLEET_WAIT_MS     500  /* one XREAD BLOCK on the done stream */
#define FLEET_NOTICES_MAX 512  /* notices per read */
/* A read that brought fewer notices than this waits FLEET_COALESCE_MS
 * before the next, so that each read (and MGET) answers several jobs: a
 * read per job cost Redis and this process more than the jobs' own
 * collecting (2,000 hello jobs: 1,779 XREADs). */
#define FLEET_COALESCE_NOTICES 32
#define FLEET_COALESCE_MS      2
#define FLEET_SWEEP_MS         5000 /* look up results of jobs older than this */
#define FLEET_SWEEP_MAX        1024 /* per look-up */
#define FLEET_FULL_WAIT_MS     50   /* the queue is full: try again after */
#define FLEET_STOP_GRACE_MS                                                    \
    10000 /* after a stop, beyond the jobs' timeouts                           \
           */
#define FLEET_BACKOFF_MIN_MS 100
#define FLEET_BACKOFF_MAX_MS 5000
#define FLEET_TAG_BYTES      8
#define MS_PER_S             1000u

struct fleet {
    struct batch *b;
    char tag[QUEUE_TAG_MAX];
    struct item *table[FLEET_BUCKETS]; /* under b->mu, chained by fnext */
    uint64_t outstanding;              /* under b->mu */
    uint64_t max_timeout_ms;           /* under b->mu: of the jobs sent */
    atomic_int submit_done, outage, full_said;
    pthread_t submitter, collector;
    int started;
};

static uint64_t fleet_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fleet_lost(struct fleet *f, const char *err)
{
    if (!atomic_exchange(&f->outage, 1))
        fprintf(stderr, "tincan batch: lost Redis (%s); reconnecting\n", err);
}

static void fleet_regained(struct fleet *f, const struct queue *q)
{
    if (atomic_exchange(&f->outage, 0))
        fprintf(stderr, "tincan batch: reconnected to %s\n", queue_where(q));
}

static int fleet_conn_error(int rc)
{
    return rc && rc != -EPROTO && rc != -EINVAL && rc != -ENOMEM &&
           rc != -EACCES;
}

/* Connect again with backoff; 0, or -1 when give_up() says so. */
static int fleet_reconnect(struct fleet *f, struct queue *q,
                           int (*give_up)(struct fleet *))
{
    unsigned delay = FLEET_BACKOFF_MIN_MS;
    char err[ERR_MAX];

    for (;;) {
        if (give_up && give_up(f))
            return -1;
        if (queue_reconnect(q, err, sizeof(err)) == 0 &&
            queue_group_create(q, err, sizeof(err)) == 0) {
            fleet_regained(f, q);
            return 0;
        }
        fleet_lost(f, err);
        usleep(delay * 1000u);
        delay =
            delay * 2 > FLEET_BACKOFF_MAX_MS ? FLEET_BACKOFF_MAX_MS : delay * 2;
    }
}

static int fleet_stopping(struct fleet *f)
{
    return atomic_load(&f->b->stop);
}

/* The outstanding table, under b->mu. */
static void table_put(struct fleet *f, struct item *it)
{
    struct item **slot = &f->table[it->seq % FLEET_BUCKETS];

    it->fnext = *slot;
    *slot = it;
    f->outstanding++;
}

static struct item *table_take(struct fleet *f, uint64_t seq)
{
    for (struct item **p = &f->table[seq % FLEET_BUCKETS]; *p; p = &(*p)->fnext)
        if ((*p)->seq == seq) {
            struct item *it = *p;
            *p = it->fnext;
            it->fnext = NULL;
            f->outstanding--;
            return it;
        }
    return NULL;
}

static int table_has(const struct fleet *f, uint64_t seq)
{
    for (struct item *it = f->table[seq % FLEET_BUCKETS]; it; it = it->fnext)
        if (it->seq == seq)
            return 1;
    return 0;
}

static void b64_field(json_t *o, const char *name, const void *p, size_t len)
{
    char *t = codec_b64_encode(p, len);

    json_object_set_new(o, name, t ? json_string(t) : json_null());
    free(t);
}

/*
 * The job as the queue carries it: code and input loaded here, as this
 * batch's --allow-paths and --allow-urls allow, and sent inline (base64),
 * so that a worker reads no file of its host and fetches nothing for it.
 * The text (malloc'd), or NULL with the reason in err (a local error
 * result, as tincan batch gives without --redis).
 */
static char *fleet_describe(struct batch *b, struct item *it, char *err,
                            size_t errlen)
{
    static const char *const sources[] = {
        "code_hex",  "code_b64",     "path",      "url",
        "sha256",    "input_hex",    "input_b64", "input_path",
        "input_url", "input_sha256", "inputs",    NULL};
    struct jobspec *js = &it->js;
    json_t *d = it->desc;
    char *text;

    if (jobspec_load(js, &b->fo.fetch, &b->policy, err, errlen))
        return NULL;
    for (int i = 0; sources[i]; i++)
        json_object_del(d, sources[i]);
    b64_field(d, "code_b64", js->job.code, js->job.code_len);
    if (js->n_inputs) {
        json_t *a = json_array();
        for (size_t i = 0; i < js->n_inputs; i++) {
            json_t *e = json_object();
            b64_field(e, "input_b64", js->inputs[i].bytes, js->inputs[i].len);
            json_array_append_new(a, e);
        }
        json_object_set_new(d, "inputs", a);
    } else if (js->has_input) {
        b64_field(d, "input_b64", js->job.input, js->job.input_len);
    }
    if (js->name && !json_object_get(d, "name"))
        json_object_set_new(d, "name", json_string(js->name));
    text = json_dumps(d, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

/* Take up to max queued items (waiting for one); 0 when none will come. */
static size_t fleet_take(struct batch *b, struct item **out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&b->mu);
    while (!b->qhead && !b->closed && !atomic_load(&b->stop))
        pthread_cond_wait(&b->work_cv, &b->mu);
    while (b->qhead && n < max) {
        out[n++] = b->qhead;
        b->qhead = b->qhead->next;
    }
    if (!b->qhead)
        b->qtail = NULL;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* Drop items that were not sent: --resume runs them later. By seq: an
 * item a worker answered meanwhile is the collector's, maybe freed. */
static void fleet_drop(struct fleet *f, const uint64_t *seqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&f->b->mu);
        struct item *it = table_take(f, seqs[i]);
        pthread_mutex_unlock(&f->b->mu);
        if (it)
            complete(f->b, it);
    }
}

/* Put n described jobs on the queue, waiting while it is full. */
static void fleet_send(struct fleet *f, struct queue *q, uint64_t *seqs,
                       struct queue_job *jobs, size_t n)
{
    unsigned char added[FLEET_SUBMIT_MAX];
    char err[ERR_MAX];
    size_t left = n, got;

    while (left) {
        int rc = queue_submit(q, jobs, left, f->b->queue_cap, added, &got, err,
                              sizeof(err));
        size_t keep = 0;

        if (rc && !fleet_conn_error(rc)) {
            fprintf(stderr, "tincan batch: %s\n", err);
            request_stop(f->b);
        }
        for (size_t i = 0; i < left; i++) {
            if (added[i]) {
                free((char *)jobs[i].job);
                continue;
            }
            seqs[keep] = seqs[i];
            jobs[keep++] = jobs[i];
        }
        left = keep;
        if (!left)
            break;
        if (atomic_load(&f->b->stop)) {
            fleet_drop(f, seqs, left);
            break;
        }
        if (fleet_conn_error(rc)) {
            fleet_lost(f, err);
            if (fleet_reconnect(f, q, fleet_stopping)) {
                fleet_drop(f, seqs, left);
                break;
            }
        } else if (!rc) {
            if (!atomic_exchange(&f->full_said, 1))
                fprintf(stderr,
                        "tincan batch: the queue is full (%zu jobs); "
                        "waiting for the workers\n",
                        f->b->queue_cap ? f->b->queue_cap
                                        : (size_t)QUEUE_DEFAULT_CAP);
            usleep(FLEET_FULL_WAIT_MS * 1000u);
        }
    }
    for (size_t i = 0; i < left; i++)
        free((char *)jobs[i].job);
}

static void *fleet_submitter(void *arg)
{
    struct fleet *f = arg;
    struct batch *b = f->b;
    struct item *its[FLEET_SUBMIT_MAX];
    struct queue_job jobs[FLEET_SUBMIT_MAX];
    uint64_t seqs[FLEET_SUBMIT_MAX];
    char qids[FLEET_SUBMIT_MAX][QUEUE_TAG_MAX + 24], err[ERR_MAX];
    struct queue *q = NULL;
    size_t n;

    queue_connect(b->redis_url, b->redis_prefix, &q, err, sizeof(err));
    while (q && (n = fleet_take(b, its, FLEET_SUBMIT_MAX))) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            struct item *it = its[i];
            char *text;
            if (atomic_load(&b->stop)) {
                complete(b, it); /* dropped */
                continue;
            }
            uint64_t timeout_ms = it->js.job.timeout_ms;
            text = fleet_describe(b, it, err, sizeof(err));
            jobspec_free(&it->js);
            json_decref(it->desc);
            it->desc = NULL;
            if (!text) {
                set_error(it, NULL, "%s", err);
                complete(b, it);
                continue;
            }
            snprintf(qids[m], sizeof(qids[m]), "%s:%" PRIu64, f->tag, it->seq);
            jobs[m] = (struct queue_job){.qid = qids[m],
                                         .job = text,
                                         .job_len = strlen(text),
                                         .reply = f->tag};
            pthread_mutex_lock(&b->mu);
            it->sent_ms = fleet_now_ms();
            table_put(f, it);
            if (timeout_ms > f->max_timeout_ms)
                f->max_timeout_ms = timeout_ms;
            pthread_mutex_unlock(&b->mu);
            seqs[m++] = it->seq; /* it may be answered and freed soon */
        }
        if (m)
            fleet_send(f, q, seqs, jobs, m);
    }
    queue_close(q);
    atomic_store(&f->submit_done, 1);
    return NULL;
}

/* The stored result text of an item: its result line. */
static void fleet_apply(struct item *it, const char *text)
{
    json_t *o = json_loads(text, JSON_ALLOW_NUL, NULL);
    json_t *st = o ? json_object_get(o, "status") : NULL;
    const char *s = json_is_string(st) ? json_string_value(st) : NULL;
    json_t *wall = o ? json_object_get(o, "wall_us") : NULL;

    if (!o || !json_is_object(o) || !s) {
        json_decref(o);
        set_error(it, NULL, "%s", "the worker's result is not a result object");
        return;
    }
    if (!strcmp(s, "error")) {
        json_t *m = json_object_get(o, "message");
        set_error(it, NULL, "%s",
                  json_is_string(m) ? json_string_value(m) : "error");
        json_decref(o);
        return;
    }
    it->status = STATUS_ERROR;
    for (int i = 0; i < TC_STATUS_COUNT; i++)
        if (!strcmp(s, tc_status_name((enum tc_status)i)))
            it->status = i;
    it->ran = 1;
    it->wall_us =
        json_is_integer(wall) ? (uint64_t)json_integer_value(wall) : 0;
    set_result(it, o);
}

struct notices {
    struct fleet *f;
    uint64_t seqs[FLEET_SWEEP_MAX];
    size_t n;
    char qids[FLEET_SWEEP_MAX][QUEUE_TAG_MAX + 24]; /* fleet_collect's */
};

static void on_notice(void *arg, const char *qid)
{
    struct notices *ns = arg;
    size_t tl = strlen(ns->f->tag);
    char *end;
    uint64_t seq;

    if (strncmp(qid, ns->f->tag, tl) || qid[tl] != ':' ||
        ns->n >= FLEET_SWEEP_MAX)
        return;
    errno = 0;
    seq = strtoull(qid + tl + 1, &end, 10);
    if (!errno && !*end)
        ns->seqs[ns->n++] = seq;
}

/* Fetch the results of ns's jobs still outstanding and complete them. */
static int fleet_collect(struct fleet *f, struct queue *q, struct notices *ns,
                         char *err, size_t errlen)
{
    char(*qid_buf)[QUEUE_TAG_MAX + 24] = ns->qids;
    const char *qids[FLEET_SWEEP_MAX];
    char *results[FLEET_SWEEP_MAX];
    uint64_t seqs[FLEET_SWEEP_MAX];
    size_t n = 0;
    int rc;

    pthread_mutex_lock(&f->b->mu);
    for (size_t i = 0; i < ns->n; i++)
        if (table_has(f, ns->seqs[i])) {
            seqs[n] = ns->seqs[i];
            snprintf(qid_buf[n], sizeof(qid_buf[n]), "%s:%" PRIu64, f->tag,
                     seqs[n]);
            qids[n] = qid_buf[n];
            n++;
        }
    pthread_mutex_unlock(&f->b->mu);
    if (!n)
        return 0;
    rc = queue_fetch(q, qids, n, results, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct item *it;
        if (!results[i])
            continue;
        pthread_mutex_lock(&f->b->mu);
        it = table_take(f, seqs[i]);
        pthread_mutex_unlock(&f->b->mu);
        if (it) {
            fleet_apply(it, results[i]);
            complete(f->b, it);
        }
        free(results[i]);
    }
    return 0;
}

/* Jobs sent longer ago than FLEET_SWEEP_MS: their results are looked up
 * even without a notice (one lost with a Redis that died unsynced). */
static void fleet_sweep_list(struct fleet *f, struct notices *ns)
{
    uint64_t old = fleet_now_ms() - FLEET_SWEEP_MS;

    ns->n = 0;
    pthread_mutex_lock(&f->b->mu);
    for (size_t i = 0; i < FLEET_BUCKETS && ns->n < FLEET_SWEEP_MAX; i++)
        for (struct item *it = f->table[i]; it && ns->n < FLEET_SWEEP_MAX;
             it = it->fnext)
            if (it->sent_ms && it->sent_ms < old)
                ns->seqs[ns->n++] = it->seq;
    pthread_mutex_unlock(&f->b->mu);
}

static void *fleet_collector(void *arg)
{
    struct fleet *f = arg;
    struct batch *b = f->b;
    struct queue *q = NULL;
    struct notices *ns = calloc(1, sizeof(*ns));
    char last[QUEUE_ID_MAX] = "0", err[ERR_MAX];
    uint64_t next_sweep = fleet_now_ms() + FLEET_SWEEP_MS, stop_at = 0;

    if (!ns)
        goto out;
    ns->f = f;
    queue_connect(b->redis_url, b->redis_prefix, &q, err, sizeof(err));
    while (q) {
        uint64_t left, now = fleet_now_ms();
        int rc;

        pthread_mutex_lock(&b->mu);
        left = f->outstanding;
        if (atomic_load(&b->stop) && !stop_at)
            stop_at = now + f->max_timeout_ms + FLEET_STOP_GRACE_MS;
        pthread_mutex_unlock(&b->mu);
        if (!left && atomic_load(&f->submit_done))
            break;
        if (stop_at && now > stop_at)
            break; /* the rest are dropped: --resume runs them */
        ns->n = 0;
        rc = queue_wait_done(q, f->tag, last, FLEET_WAIT_MS, FLEET_NOTICES_MAX,
                             on_notice, ns, err, sizeof(err));
        size_t got = ns->n;
        if (!rc)
            rc = fleet_collect(f, q, ns, err, sizeof(err));
        if (!rc && fleet_now_ms() >= next_sweep) {
            fleet_sweep_list(f, ns);
            rc = fleet_collect(f, q, ns, err, sizeof(err));
            next_sweep = fleet_now_ms() + FLEET_SWEEP_MS;
        }
        if (rc && fleet_conn_error(rc)) {
            fleet_lost(f, err);
            fleet_reconnect(f, q, NULL);
        } else if (rc) {
            fprintf(stderr, "tincan batch: %s\n", err);
            usleep(FLEET_WAIT_MS * 1000u);
        } else {
            fleet_regained(f, q);
            if (got && got < FLEET_COALESCE_NOTICES)
                usleep(FLEET_COALESCE_MS * 1000u);
        }
    }
    /* Whatever is left was not answered in time: dropped. */
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < FLEET_BUCKETS; i++)
        while (f->table[i]) {
            struct item *it = f->table[i];
            f->table[i] = it->fnext;
            f->outstanding--;
            pthread_mutex_unlock(&b->mu);
            complete(b, it);
            pthread_mutex_lock(&b->mu);
        }
    pthread_mutex_unlock(&b->mu);
out:
    queue_close(q);
    free(ns);
    return NULL;
}

/*
 * Check the queue can be reached with these credentials, make the group,
 * and start the submitter and the collector. 0, or an exit status (the
 * one line said).
 */
static int fleet_start(struct batch *b, struct fleet *f)
{
    struct queue *q = NULL;
    unsigned char r[FLEET_TAG_BYTES];
    char err[ERR_MAX];
    int rc;

    f->b = b;
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        fprintf(stderr, "tincan: getrandom: %s\n", strerror(errno));
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(f->tag + 2 * i, 3, "%02x", r[i]);
    rc = queue_connect(b->redis_url, b->redis_prefix, &q, err, sizeof(err));
    if (!rc)
        rc = queue_group_create(q, err, sizeof(err));
    queue_close(q);
    if (rc)
        return report_usage_error("%s", err);
    if (pthread_create(&f->submitter, NULL, fleet_submitter, f))
        return report_usage_error("%s", "cannot start a thread");
    if (pthread_create(&f->collector, NULL, fleet_collector, f)) {
        request_stop(b);
        pthread_join(f->submitter, NULL);
        return report_usage_error("%s", "cannot start a thread");
    }
    f->started = 1;
    return 0;
}

static void fleet_join(struct fleet *f)
{
    if (!f->started)
        return;
    pthread_join(f->submitter, NULL);
    pthread_join(f->collector, NULL);
}

/* --- the supervisor: signals and progress -------------------------------- */

static void format_duration(uint64_t us, char *buf, size_t len)
{
    if (us < US_PER_MS)
        snprintf(buf, len, "%" PRIu64 "us", us);
    else if (us < US_PER_S)
        snprintf(buf, len, "%.1fms", (double)us / US_PER_MS);
    else
        snprintf(buf, len, "%.2fs", (double)us / US_PER_S);
}

/* "ok 12, timeout 3, error 1" (non-zero counts), under mu. */
static void format_counts(const struct batch *b, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < NSTATUS && off < len; i++) {
        if (!b->counts[i])
            continue;
        off += (size_t)snprintf(
            buf + off, len - off, "%s%s %" PRIu64, off ? ", " : "",
            i == STATUS_ERROR ? "error" : tc_status_name((enum tc_status)i),
            b->counts[i]);
    }
    if (!off)
        snprintf(buf, len, "no results yet");
}

static void print_progress(struct batch *b)
{
    char counts[512], line[768], eta[64] = "";
    uint64_t us = elapsed_us(&b->t0), done, skipped;
    double rate;

    pthread_mutex_lock(&b->mu);
    format_counts(b, counts, sizeof(counts));
    done = b->written;
    skipped = b->skipped;
    pthread_mutex_unlock(&b->mu);
    rate = us ? (double)done * US_PER_S / (double)us : 0;
    if (b->total && rate > 0 && b->total > done + skipped) {
        uint64_t left = (uint64_t)((double)(b->total - done - skipped) / rate);
        snprintf(eta, sizeof(eta), ", ETA %" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
                 left / SECONDS_PER_HOUR,
                 left % SECONDS_PER_HOUR / SECONDS_PER_MINUTE,
                 left % SECONDS_PER_MINUTE);
    }
    if (b->total)
        snprintf(line, sizeof(line),
                 "tincan batch: %" PRIu64 "/%" PRIu64
                 " done, %.1f jobs/s%s; %s",
                 done + skipped, b->total, rate, eta, counts);
    else
        snprintf(line, sizeof(line),
                 "tincan batch: %" PRIu64 " done, %.1f jobs/s; %s",
                 done + skipped, rate, counts);
    if (b->tty)
        fprintf(stderr, "\r%s\033[K", line);
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

struct supervisor {
    struct batch *b;
    int sfd;
};

static void *supervise(void *arg)
{
    struct supervisor *s = arg;
    struct batch *b = s->b;
    int interval = b->tty ? PROGRESS_TTY_MS : PROGRESS_PLAIN_MS;

    for (;;) {
        struct pollfd p[2] = {{.fd = s->sfd, .events = POLLIN},
                              {.fd = b->wake_pipe[0], .events = POLLIN}};
        struct signalfd_siginfo si;
        int rc = poll(p, 2, b->progress ? interval : -1);

        if (rc < 0 && errno != EINTR)
            return NULL;
        if (rc > 0 && p[1].revents)
            return NULL;
        if (rc > 0 && p[0].revents) {
            if (read(s->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
                continue;
            if (b->tty && b->progress)
                fputs("\n", stderr);
            if (!atomic_load(&b->stop)) {
                atomic_store(&b->signo, (int)si.ssi_signo);
                pthread_mutex_lock(&b->mu);
                request_stop(b);
                pthread_mutex_unlock(&b->mu);
            }
            fprintf(stderr,
                    "tincan: %s: reading no more jobs; running jobs end "
                    "at their deadlines (run again with --resume to "
                    "finish)\n",
                    strsignal((int)si.ssi_signo));
            continue;
        }
        if (b->progress)
            print_progress(b);
    }
}

/* p-th percentile of the job wall times (under mu; hist_n > 0). */
static uint64_t percentile(const struct batch *b, unsigned p)
{
    uint64_t rank = (b->hist_n * p + PERCENT - 1) / PERCENT, seen = 0;

    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += b->hist[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return 0;
}

static void print_summary(struct batch *b)
{
    char counts[512], p50[32], p95[32], p99[32], total[32], skipped[128] = "";
    uint64_t us = elapsed_us(&b->t0);

    format_counts(b, counts, sizeof(counts));
    format_duration(us, total, sizeof(total));
    if (b->skipped)
        snprintf(skipped, sizeof(skipped),
                 "; %" PRIu64 " skipped (already in %s)", b->skipped,
                 b->out_path);
    if (b->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "tincan batch: %" PRIu64 " results in %s, %.1f jobs/s; %s",
            b->written, total,
            us ? (double)b->written * US_PER_S / (double)us : 0.0, counts);
    if (b->hist_n) {
        format_duration(percentile(b, 50), p50, sizeof(p50));
        format_duration(percentile(b, 95), p95, sizeof(p95));
        format_duration(percentile(b, 99), p99, sizeof(p99));
        fprintf(stderr, "; job wall time p50 %s, p95 %s, p99 %s", p50, p95,
                p99);
    }
    fprintf(stderr, "%s\n", skipped);
}

/* --- reading jobs ------------------------------------------------------- */

/*
 * Give it a sequence number once the window has room, then queue it (a job)
 * or complete it (an error). Returns 0, or -1 when stopping (it is freed).
 */
static int dispatch(struct batch *b, struct item *it)
{
    int is_job = it->result == NULL;

    pthread_mutex_lock(&b->mu);
    for (;;) {
        uint64_t held = b->ordered ? b->next_seq - b->next_write : b->inflight;

        if (atomic_load(&b->stop))
            break;
        if (held < b->window && (!b->ordered || b->buffered < MAX_BUFFERED))
            break;
        pthread_cond_wait(&b->space_cv, &b->mu);
    }
    if (atomic_load(&b->stop)) {
        pthread_mutex_unlock(&b->mu);
        free_item(it);
        return -1;
    }
    it->seq = b->next_seq++;
    if (b->ordered)
        b->ring[it->seq % b->window] = it;
    else
        b->inflight++;
    if (is_job) {
        if (b->qtail)
            b->qtail->next = it;
        else
            b->qhead = it;
        b->qtail = it;
        pthread_cond_signal(&b->work_cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (!is_job)
        complete(b, it);
    return 0;
}

/* Whether --resume already has a result for this key. */
static int already_done(struct batch *b, const char *key)
{
    if (!idmap_get(&b->done_keys, key, NULL))
        return 0;
    pthread_mutex_lock(&b->mu);
    b->skipped++;
    pthread_mutex_unlock(&b->mu);
    return 1;
}

/* One input line -> an item (or nothing: blank, or done before). 0, or -1
 * when the batch stops. */
static int handle_line(struct batch *b, const char *text, size_t len,
                       int too_long, uint64_t lineno)
{
    static const char *const extra[] = {"id", NULL};
    char lkey[LINE_KEY_MAX], err[ERR_MAX], *key = NULL;
    struct item *it;
    json_t *obj = NULL, *id;
    uint64_t first;
    int rc = 0;

    if (!too_long && jobspec_line_blank(text, len))
        return 0;
    line_key(lineno, lkey, sizeof(lkey));
    it = calloc(1, sizeof(*it));
    if (!it) {
        fprintf(stderr, "tincan: out of memory at line %" PRIu64 "\n", lineno);
        return -1;
    }
    it->line = lineno;
    jobspec_init(&it->js);
    if (too_long) {
        if (already_done(b, lkey))
            goto skip;
        set_error(it, NULL,
                  "the line is longer than %u MiB; put large code in a "
                  "file (\"path\") or behind a URL (\"url\")",
                  MAX_LINE >> 20);
        goto out;
    }
    if (jobspec_line_parse(text, len, &obj, &id, err, sizeof(err))) {
        if (already_done(b, lkey))
            goto skip;
        set_error(it, NULL, "%s", err);
        goto out;
    }
    key = id_key(id);
    if (!key) {
        fprintf(stderr, "tincan: out of memory at line %" PRIu64 "\n", lineno);
        rc = -1;
        goto skip;
    }
    if (idmap_get(&b->seen, key, &first)) {
        if (already_done(b, lkey))
            goto skip;
        set_error(it, id,
                  "duplicate id %.200s (first on line %" PRIu64
                  "); give each job its own id",
                  key, first);
        goto out;
    }
    if (idmap_put(&b->seen, key, lineno)) {
        fprintf(stderr, "tincan: out of memory at line %" PRIu64 "\n", lineno);
        rc = -1;
        goto skip;
    }
    if (already_done(b, key))
        goto skip;
    it->id = json_deep_copy(id);
    if (jobspec_parse(obj, extra, &it->js, err, sizeof(err))) {
        set_error(it, NULL, "%s", err);
    } else if (b->redis_url) {
        it->desc = json_deep_copy(obj);
        if (!it->desc || json_object_del(it->desc, "id"))
            set_error(it, NULL, "%s", "out of memory");
    }
out:
    json_decref(obj);
    free(key);
    return dispatch(b, it);
skip:
    json_decref(obj);
    free(key);
    free_item(it);
    return rc;
}

/* Read every line of the jobs; 0, or -1 when reading failed. */
static int read_jobs(struct batch *b, int fd)
{
    struct reader r = {
        .fd = fd, .stop_fd = b->stop_pipe[0], .max_line = MAX_LINE};
    uint64_t lineno = 0;
    char *line = NULL;
    size_t len = 0;
    int rc, failed = 0;

    while (!atomic_load(&b->stop)) {
        rc = next_line(&r, &line, &len);
        if (rc == LINE_EOF || rc == LINE_STOPPED)
            break;
        if (rc < 0) {
            fprintf(stderr, "tincan: reading %s: %s\n",
                    strcmp(b->jobs_path, "-") ? b->jobs_path : "stdin",
                    strerror(-rc));
            failed = 1;
            break;
        }
        lineno++;
        if (handle_line(b, line, len, rc == LINE_TOO_LONG, lineno)) {
            /* Stopping, or out of memory (said already). */
            failed = !atomic_load(&b->stop);
            break;
        }
    }
    free(r.buf);
    return failed ? -1 : 0;
}

/* --- --resume: what the results file already has -------------------------- */

/*
 * Record the key of every complete result line of fd, and cut a partial
 * last line (a batch killed mid-write) so that appending starts clean.
 */
static int load_done(struct batch *b, int fd)
{
    /* A result is read whole however long it is (a 1 GiB output makes a
     * line of several): the id must be found, and the offsets kept. */
    struct reader r = {.fd = fd, .stop_fd = -1, .max_line = SIZE_MAX};
    uint64_t lineno = 0;
    off_t complete_end = 0;
    char *line;
    size_t len;
    int rc;

    for (;;) {
        rc = next_line(&r, &line, &len);
        if (rc == LINE_EOF)
            break;
        if (rc < 0) {
            fprintf(stderr, "tincan: reading %s: %s\n", b->out_path,
                    strerror(-rc));
            goto fail;
        }
        lineno++;
        if (r.partial) {
            /* The last line has no newline: a partial write. */
            fprintf(stderr,
                    "tincan: %s: dropping an incomplete last line (%zu "
                    "bytes) from an interrupted run\n",
                    b->out_path, len);
            if (ftruncate(fd, complete_end) != 0) {
                fprintf(stderr, "tincan: cannot truncate %s: %s\n", b->out_path,
                        strerror(errno));
                goto fail;
            }
            break;
        }
        complete_end += (off_t)len + 1;
        json_t *o = json_loadb(line, len, 0, NULL);
        json_t *id = o ? json_object_get(o, "id") : NULL;
        json_t *ln = o ? json_object_get(o, "line") : NULL;
        char key[LINE_KEY_MAX], *k = NULL;
        int bad = 0;

        if (id) {
            k = id_key(id);
            bad = !k || idmap_put(&b->done_keys, k, lineno);
        } else if (json_is_integer(ln)) {
            line_key((uint64_t)json_integer_value(ln), key, sizeof(key));
            bad = idmap_put(&b->done_keys, key, lineno) != 0;
        } else {
            fprintf(stderr,
                    "tincan: %s line %" PRIu64 " is not a result line; "
                    "ignoring it\n",
                    b->out_path, lineno);
        }
        if (o && json_is_string(json_object_get(o, "status")) &&
            !strcmp(json_string_value(json_object_get(o, "status")), "error"))
            b->errors_before++;
        free(k);
        json_decref(o);
        if (bad) {
            fputs("tincan: out of memory reading the results\n", stderr);
            goto fail;
        }
    }
    free(r.buf);
    return 0;
fail:
    free(r.buf);
    return -1;
}

/* --- options and main ---------------------------------------------------- */

enum {
    OPT_ORDERED = 256,
    OPT_RESUME,
    OPT_PROGRESS,
    OPT_REDIS,
    OPT_PREFIX,
    OPT_QUEUE_CAP
};

static int parse_args(struct batch *b, int argc, char **argv)
{
    static const struct option opts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"ordered", no_argument, NULL, OPT_ORDERED},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"queue-cap", required_argument, NULL, OPT_QUEUE_CAP},
        FETCHOPT_LONG_OPTIONS,
        JOBSPEC_POLICY_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char *end, err[ERR_MAX];
    int c, taken;

    b->workers =
        cpus > 0 ? (unsigned)(cpus < MAX_WORKERS ? cpus : MAX_WORKERS) : 1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":j:o:h", opts, NULL)) != -1) {
        /* A job's file:// URL would read any host file: jobs name files
         * with "path", beneath --allow-paths DIR. */
        if (c == FETCHOPT_ALLOW_FILE_URLS)
            return report_usage_error(
                "%s", "--allow-file-urls does not apply to batch jobs: name "
                      "their files with \"path\" and --allow-paths DIR");
        taken = jobspec_policy_apply(&b->policy, c, optarg, err, sizeof(err));
        if (!taken)
            taken = fetchopt_apply(&b->fo, c, optarg, err, sizeof(err));
        if (taken < 0)
            return report_usage_error("%s", err);
        if (taken)
            continue;
        switch (c) {
        case 'j': {
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || *end || optarg[0] < '0' || optarg[0] > '9' || n < 1 ||
                n > MAX_WORKERS)
                return report_usage_error(
                    "-j %s: give a number of workers from 1 "
                    "to %d",
                    optarg, MAX_WORKERS);
            b->workers = (unsigned)n;
            break;
        }
        case 'o':
            b->out_path = optarg;
            break;
        case OPT_ORDERED:
            b->ordered = 1;
            break;
        case OPT_RESUME:
            b->resume = 1;
            break;
        case OPT_PROGRESS:
            b->progress = 1;
            break;
        case OPT_REDIS:
            b->redis_url = optarg;
            break;
        case OPT_PREFIX:
            b->redis_prefix = optarg;
            break;
        case OPT_QUEUE_CAP: {
            unsigned long n;
            if (units_parse_count(optarg, 1, 1UL << 30, &n))
                return report_usage_error(
                    "--queue-cap %s: give a number of jobs from 1", optarg);
            b->queue_cap = n;
            break;
        }
        case 'h':
            fputs(batch_usage, stdout);
            return -1;
        case ':':
            return report_usage_error(
                "option '%s' needs a value; see 'tincan batch "
                "--help'",
                argv[optind - 1]);
        default:
            return report_usage_error("unknown option '%s'; see 'tincan batch "
                                      "--help'",
                                      argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return report_usage_error("%s",
                                  "no jobs: give JOBS.jsonl (or - for stdin); "
                                  "see 'tincan batch --help'");
    if (optind + 1 < argc)
        return report_usage_error("one JOBS file at a time ('%s' is extra)",
                                  argv[optind + 1]);
    b->jobs_path = argv[optind];
    if ((b->redis_prefix || b->queue_cap) && !b->redis_url)
        return report_usage_error("%s", "--prefix and --queue-cap are for "
                                        "the fleet: give --redis URL too");
    if (b->resume && !b->out_path)
        return report_usage_error("%s",
                                  "--resume needs -o RESULTS.jsonl: the file "
                                  "to read finished ids from and append to");
    return 0;
}

/* Open the jobs and the results; 0 or an exit status. */
static int open_files(struct batch *b, int *jobs_fd)
{
    struct stat js, os;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;

    if (!strcmp(b->jobs_path, "-")) {
        *jobs_fd = STDIN_FILENO;
    } else {
        *jobs_fd = open(b->jobs_path, O_RDONLY | O_CLOEXEC);
        if (*jobs_fd < 0)
            return report_usage_error("cannot open %s: %s", b->jobs_path,
                                      strerror(errno));
        if (fstat(*jobs_fd, &js) == 0 && S_ISDIR(js.st_mode))
            return report_usage_error("%s is a directory; give a JSONL file "
                                      "of jobs",
                                      b->jobs_path);
    }
    if (!b->out_path) {
        b->out_fd = STDOUT_FILENO;
        return 0;
    }
    /* Before opening it: O_TRUNC would empty the jobs. */
    if (fstat(*jobs_fd, &js) == 0 && stat(b->out_path, &os) == 0 &&
        js.st_dev == os.st_dev && js.st_ino == os.st_ino)
        return report_usage_error(
            "%s is both the jobs and the results; give -o "
            "another file",
            b->out_path);
    flags |= b->resume ? O_RDWR | O_APPEND : O_TRUNC;
    if (b->resume)
        flags &= ~O_WRONLY;
    b->out_fd = open(b->out_path, flags, RESULTS_MODE);
    if (b->out_fd < 0)
        return report_usage_error("cannot open %s for the results: %s",
                                  b->out_path, strerror(errno));
    if (b->resume && load_done(b, b->out_fd))
        return REPORT_EXIT_USAGE;
    return 0;
}

static int exit_status(const struct batch *b)
{
    int signo = atomic_load(&b->signo);

    if (b->write_failed || b->read_failed)
        return BATCH_EXIT_IO;
    if (signo)
        return BATCH_EXIT_SIGNAL_BASE + signo;
    if (b->counts[STATUS_ERROR] || b->errors_before)
        return BATCH_EXIT_ERRORS;
    return 0;
}

int batch_main(int argc, char **argv)
{
    struct batch b;
    struct supervisor sup = {.b = &b, .sfd = -1};
    static struct fleet fleet; /* large (the table): not on the stack */
    pthread_t *threads = NULL, sup_thread;
    sigset_t sigs, blocked;
    unsigned started = 0;
    int jobs_fd = -1, rc, sup_started = 0;
    char c = 0;

    memset(&b, 0, sizeof(b));
    b.out_fd = -1;
    b.stop_pipe[0] = b.stop_pipe[1] = b.wake_pipe[0] = b.wake_pipe[1] = -1;
    fetchopt_init(&b.fo);
    jobspec_policy_init(&b.policy);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.work_cv, NULL);
    pthread_cond_init(&b.space_cv, NULL);
    rc = parse_args(&b, argc, argv);
    if (rc) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    b.tty = isatty(STDERR_FILENO);
    b.progress |= b.tty;
    rc = open_files(&b, &jobs_fd);
    if (rc)
        goto out;
    b.total = count_jobs(jobs_fd);
    b.window = b.workers * (b.ordered ? ORDERED_PER_WORKER : WINDOW_PER_WORKER);
    if (b.redis_url)
        b.window = FLEET_WINDOW;
    b.ring = b.ordered ? calloc(b.window, sizeof(*b.ring)) : NULL;
    threads = calloc(b.workers, sizeof(*threads));
    if ((b.ordered && !b.ring) || !threads || pipe2(b.stop_pipe, O_CLOEXEC) ||
        pipe2(b.wake_pipe, O_CLOEXEC)) {
        fprintf(stderr, "tincan: cannot start the batch: %s\n",
                strerror(errno ? errno : ENOMEM));
        rc = REPORT_EXIT_INTERNAL_ERROR;
        goto out;
    }

    /* Signals go to the supervisor's signalfd only; every thread (and every
     * job child) has them blocked. SIGPIPE too: a closed output is a write
     * error, reported once. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    blocked = sigs;
    sigaddset(&blocked, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    sup.sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sup.sfd < 0) {
        fprintf(stderr, "tincan: signalfd: %s\n", strerror(errno));
        rc = REPORT_EXIT_INTERNAL_ERROR;
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &b.t0);
    if (pthread_create(&sup_thread, NULL, supervise, &sup) == 0)
        sup_started = 1;
    if (b.redis_url) {
        memset(&fleet, 0, sizeof(fleet));
        rc = fleet_start(&b, &fleet);
        if (rc) {
            request_stop(&b);
            if (write(b.wake_pipe[1], &c, 1) < 0)
                pthread_cancel(sup_thread);
            if (sup_started)
                pthread_join(sup_thread, NULL);
            goto out;
        }
        started = 1;
    }
    for (; !b.redis_url && started < b.workers; started++)
        if (pthread_create(&threads[started], NULL, worker, &b) != 0)
            break;
    if (!started || !sup_started) {
        fprintf(stderr, "tincan: cannot start the worker threads\n");
        request_stop(&b);
    } else {
        b.read_failed = read_jobs(&b, jobs_fd) != 0;
    }

    pthread_mutex_lock(&b.mu);
    b.closed = 1;
    pthread_cond_broadcast(&b.work_cv);
    pthread_mutex_unlock(&b.mu);
    for (unsigned i = 0; !b.redis_url && i < started; i++)
        pthread_join(threads[i], NULL);
    if (b.redis_url)
        fleet_join(&fleet);
    if (sup_started) {
        if (write(b.wake_pipe[1], &c, 1) < 0)
            pthread_cancel(sup_thread);
        pthread_join(sup_thread, NULL);
    }
    if (b.write_failed)
        fprintf(stderr, "tincan: %s\n", b.write_err);
    if (b.progress)
        print_summary(&b);
    rc = exit_status(&b);
out:
    if (b.ring)
        for (size_t i = 0; i < b.window; i++)
            free_item(b.ring[i]);
    free(b.ring);
    free(threads);
    idmap_free(&b.seen);
    idmap_free(&b.done_keys);
    jobspec_policy_free(&b.policy);
    if (jobs_fd > STDERR_FILENO)
        close(jobs_fd);
    if (b.out_fd > STDERR_FILENO)
        close(b.out_fd);
    for (int i = 0; i < 2; i++) {
        if (b.stop_pipe[i] >= 0)
            close(b.stop_pipe[i]);
        if (b.wake_pipe[i] >= 0)
            close(b.wake_pipe[i]);
    }
    if (sup.sfd >= 0)
        close(sup.sfd);
    pthread_cond_destroy(&b.work_cv);
    pthread_cond_destroy(&b.space_cv);
    pthread_mutex_destroy(&b.mu);
    return rc;
}
