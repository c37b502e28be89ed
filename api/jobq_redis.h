/*
 * jobq_redis.h - the fleet's job queue behind `tincan serve --redis`: the
 * jobq operations (jobq.h) on Redis Streams through runner/queue.h. Each
 * job goes on P:jobs with a queue id TAG:N (TAG: random, one per process,
 * so several servers share one Redis), `tincan worker`s on any host run
 * it, and its result comes back through P:done:TAG and P:result:QID.
 */
#ifndef API_JOBQ_REDIS_H
#define API_JOBQ_REDIS_H

#include <stddef.h>

#include "jobq.h"

/*
 * Connect to url (runner/queue.h's URLs) with key prefix prefix (NULL: the
 * default), create the consumer group if it is not there, and start the
 * sender and receiver threads. cap: jobs in P:jobs (every producer's, not
 * yet finished) at which submit refuses with -EAGAIN. Returns 0, or
 * -errno with one line in err (-EACCES: Redis refused the credentials).
 *
 * After a successful start, a Redis that goes away is reconnected with
 * backoff, each outage said in one line on stderr; jobs wait meanwhile.
 * cancel answers a job canceled at once and forgets it (a worker that
 * already took it runs it to its end; its result is dropped); a job never
 * reports that it started (queued until done).
 */
int jobq_redis_create(struct jobq **out, const char *url, const char *prefix,
                      unsigned cap, char *err, size_t errlen);

#endif
