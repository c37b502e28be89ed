/*
 * queue.h - the fleet's job queue on Redis Streams, through hiredis: the
 * connection (a URL, AUTH, SELECT, reconnecting), the producer's side
 * (submit job descriptions, wait for and fetch results) and the
 * consumer's (a consumer group: read, reclaim, finish, dead-letter), and
 * what `tincan queue` shows. Job descriptions and results are opaque JSON
 * text here; parsing them is the caller's (api/jobspec.h, api/jobrun.h).
 *
 * Keys, for a prefix P (default "tincan"):
 *   P:jobs          stream of jobs; entry fields "qid" (the job's queue
 *                   id, unique: the producer makes it), "job" (the JSON
 *                   description, code and input inline), "reply" (the
 *                   producer's tag: where its notifications go)
 *   P:workers       the consumer group on P:jobs; a worker is a consumer
 *                   named by --name
 *   P:result:QID    the result (JSON text), SET NX EX ttl: the first
 *                   result stored for a qid is the only one
 *   P:done:TAG      stream: one entry {"qid"} per result stored for the
 *                   producer whose reply tag is TAG (EXPIREd with the
 *                   results); producers read it with XREAD BLOCK
 *   P:dead          stream of dead letters: "qid", "job", "reply",
 *                   "reason", "deliveries", "entry" (the P:jobs entry id)
 *   P:seen          hash: worker name -> "UNIXTIME RUNNING DONE", written
 *                   by every worker every few seconds
 *
 * A worker acks (XACK) and deletes (XDEL) a job's entry once its result is
 * stored, so XLEN P:jobs is the number of jobs not yet finished: the
 * length cap is checked against it atomically at each XADD (a Lua script),
 * and a job is refused, never trimmed, when the stream is full.
 *
 * hiredis as Debian ships it has no TLS: redis:// and unix:// only; reach
 * a remote Redis over a private network or through a TLS tunnel.
 *
 * A struct queue is one connection: use it from one thread at a time.
 * Every function that can fail returns 0 or -errno and writes one line to
 * err: -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -EPIPE ... when the
 * connection failed (queue_reconnect() and try again), -EAGAIN when Redis
 * answered that it cannot now (LOADING after a restart, OOM, READONLY ...:
 * treat it as a lost connection), -EACCES when Redis
 * refused the credentials, -EPROTO when Redis answered with an error or
 * something unexpected, -EINVAL for bad arguments, -ENOMEM.
 */
#ifndef RUNNER_QUEUE_H
#define RUNNER_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_DEFAULT_PREFIX "tincan"
#define QUEUE_ID_MAX         48 /* a stream entry id "ms-seq", NUL included */
#define QUEUE_TAG_MAX        64 /* a reply tag, NUL included */
#define QUEUE_DEFAULT_CAP    100000u /* jobs in P:jobs before XADD refuses */
#define QUEUE_DEFAULT_TTL_S  86400u  /* results and done streams: one day */

struct queue;

/*
 * Connect to url: redis://[[user]:password@]host[:port][/db] (port 6379,
 * db 0) or unix:///path/to/socket[?db=N] (password: unix://:pw@/path),
 * with AUTH and SELECT as given; keys start with prefix (NULL: the
 * default; letters, digits and "_-.:" only). Returns 0 and *out, or -errno
 * and one line in err: "redis://127.0.0.1:7001: Connection refused",
 * "redis://127.0.0.1:7001: AUTH: WRONGPASS invalid username-password pair"
 * (-EACCES). The password is never in a message.
 */
int queue_connect(const char *url, const char *prefix, struct queue **out,
                  char *err, size_t errlen);

/* Drop the connection and connect again as queue_connect() did. */
int queue_reconnect(struct queue *q, char *err, size_t errlen);

/* "redis://host:port/db" or "unix:///path", without the password. */
const char *queue_where(const struct queue *q);

/* The key prefix P. */
const char *queue_prefix(const struct queue *q);

void queue_close(struct queue *q);

/* Create P:workers on P:jobs (and the stream) if it is not there. Both
 * sides call it: a job submitted before any worker started is not lost. */
int queue_group_create(struct queue *q, char *err, size_t errlen);

/* --- the producer -------------------------------------------------------- */

struct queue_job {
    const char *qid; /* unique across every producer: "TAG:N" */
    const char *job; /* the JSON description */
    size_t job_len;
    const char *reply; /* the producer's tag (P:done:TAG), or NULL */
};

/*
 * XADD each job to P:jobs in one pipeline, each refused when XLEN P:jobs
 * is already cap or more (0: QUEUE_DEFAULT_CAP). added[i] is set to 1 for
 * the jobs now in the stream and 0 for those refused (full); *n_added
 * counts them. On a connection failure (-errno) the jobs whose added[i] is
 * 0 may or may not be in the stream: submit them again (a job that runs
 * twice stores one result).
 */
int queue_submit(struct queue *q, const struct queue_job *jobs, size_t n,
                 size_t cap, unsigned char *added, size_t *n_added, char *err,
                 size_t errlen);

/*
 * Wait up to block_ms (0: do not block) for notifications on P:done:TAG
 * after *last (a stream id, "0" to read from the start; updated), at most
 * max of them: calls fn(arg, qid) for each, in order. Returns 0 (also when
 * none came) or -errno. A qid may be notified more than once.
 */
typedef void queue_done_fn(void *arg, const char *qid);
int queue_wait_done(struct queue *q, const char *tag, char last[QUEUE_ID_MAX],
                    int block_ms, size_t max, queue_done_fn *fn, void *arg,
                    char *err, size_t errlen);

/* The stored results of n qids in one MGET: results[i] malloc'd JSON text
 * (free() it), or NULL when there is none (yet). */
int queue_fetch(struct queue *q, const char *const *qids, size_t n,
                char **results, char *err, size_t errlen);

/* XLEN P:jobs: jobs not yet finished. */
int queue_depth(struct queue *q, uint64_t *depth, char *err, size_t errlen);

/* --- the consumer -------------------------------------------------------- */

/* One delivered job. Free with queue_entry_free(). */
struct queue_entry {
    char id[QUEUE_ID_MAX];   /* the P:jobs entry id */
    char *qid, *job, *reply; /* NULL when the entry lacks the field */
    size_t job_len;
    uint64_t deliveries; /* times delivered, this one included */
};

void queue_entry_free(struct queue_entry *e);

/*
 * XREADGROUP GROUP P:workers consumer COUNT max BLOCK block_ms: up to max
 * new entries into out[], *n of them (0 after block_ms with none).
 */
int queue_read(struct queue *q, const char *consumer, size_t max, int block_ms,
               struct queue_entry *out, size_t *n, char *err, size_t errlen);

/*
 * XAUTOCLAIM for consumer: up to max entries pending (delivered, not
 * acked) for longer than min_idle_ms, with their delivery counts (from
 * XPENDING). Entries deleted from the stream while pending are acked and
 * skipped.
 */
int queue_claim(struct queue *q, const char *consumer, uint64_t min_idle_ms,
                size_t max, struct queue_entry *out, size_t *n, char *err,
                size_t errlen);

/*
 * The consumer still works on these entries: XCLAIM ... JUSTID resets
 * their idle time (not their delivery counts), so a job that runs longer
 * than --claim-idle is not taken over while its worker lives. Also writes
 * P:seen[consumer] = "now running done".
 */
int queue_touch(struct queue *q, const char *consumer, const char *const *ids,
                size_t n, uint64_t running, uint64_t done, char *err,
                size_t errlen);

/*
 * Store result (JSON text) under P:result:QID with SET NX EX ttl_s (0:
 * QUEUE_DEFAULT_TTL_S), notify P:done:REPLY, then XACK and XDEL the entry:
 * one pipeline. A result already stored for the qid stays (the notice is
 * sent anyway). An entry without a qid is only acked and deleted.
 */
int queue_finish(struct queue *q, const struct queue_entry *e,
                 const char *result, size_t len, unsigned ttl_s, char *err,
                 size_t errlen);

/* A finish and a read sent by queue_finish_send(), not yet answered. */
struct queue_sent {
    size_t cmds;  /* the finish's replies to come */
    int finish;   /* a finish was sent */
    int read;     /* an XREADGROUP follows it */
    int block_ms; /* the XREADGROUP's BLOCK (0: none) */
};

/*
 * Send queue_finish()'s pipeline for e (none when e is NULL) and, with a
 * consumer, an XREADGROUP of at most one new entry after it (BLOCK
 * block_ms, or not blocking for 0), without waiting for the replies: the
 * caller may run a job meanwhile, then must take them with
 * queue_finish_recv() before any other call on q. 0 or -errno (on a lost
 * connection *s expects no replies: finish e again).
 */
int queue_finish_send(struct queue *q, const struct queue_entry *e,
                      const char *result, size_t len, unsigned ttl_s,
                      const char *consumer, int block_ms, struct queue_sent *s,
                      char *err, size_t errlen);

/*
 * The replies to what queue_finish_send() sent: *finished says whether
 * the finish went through (its replies came back; 1 when none was sent),
 * *next the entry read (*n: 0 or 1). On an error with *finished 0, finish
 * e again. An error reply to the finish (-EPROTO) still reads the entry
 * and is returned after it, with *n set.
 */
int queue_finish_recv(struct queue *q, struct queue_sent *s,
                      struct queue_entry *next, size_t *n, int *finished,
                      char *err, size_t errlen);

/*
 * Dead-letter e: XADD P:dead with reason, then finish it with result (an
 * error result naming the reason, so that the producer is not left
 * waiting; NULL for none).
 */
int queue_dead_letter(struct queue *q, const struct queue_entry *e,
                      const char *reason, const char *result, size_t len,
                      unsigned ttl_s, char *err, size_t errlen);

/* --- what `tincan queue` shows ---------------------------------------------
 */

struct queue_consumer {
    char *name;
    uint64_t pending, idle_ms; /* XINFO CONSUMERS */
};

struct queue_worker_seen {
    char *name;
    int64_t seen_s; /* seconds since its last P:seen write */
    uint64_t running, done;
};

struct queue_status {
    uint64_t depth;   /* XLEN P:jobs: not yet finished */
    uint64_t pending; /* delivered, not acked */
    uint64_t lag;     /* not yet delivered (Redis 7: XINFO GROUPS lag) */
    uint64_t dead;    /* XLEN P:dead */
    struct queue_consumer *consumers;
    size_t n_consumers;
    struct queue_worker_seen *workers;
    size_t n_workers;
};

int queue_status_get(struct queue *q, struct queue_status *st, char *err,
                     size_t errlen);
void queue_status_free(struct queue_status *st);

struct queue_dead {
    char id[QUEUE_ID_MAX]; /* the P:dead entry id: what requeue takes */
    char *qid, *reason, *job, *reply;
    uint64_t deliveries;
};

/* XRANGE P:dead - + COUNT max: the oldest dead letters. */
int queue_dead_list(struct queue *q, size_t max, struct queue_dead **out,
                    size_t *n, char *err, size_t errlen);
void queue_dead_free(struct queue_dead *d, size_t n);

/*
 * Put dead letter id (a P:dead entry id, or a qid) back on P:jobs: DEL its
 * stored result (the error result the dead-lettering stored), XADD the job
 * with its qid and reply, XDEL it from P:dead. -ENOENT when there is no
 * such dead letter.
 */
int queue_requeue(struct queue *q, const char *id, char *err, size_t errlen);

#endif
