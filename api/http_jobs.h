/*
 * http_jobs.h - the job resources of `tincan serve`: POST /v1/run (one job,
 * answered when it ends), POST /v1/jobs and GET/DELETE /v1/jobs/ID (async
 * jobs kept for --keep, long-polled with ?wait=, canceled), POST /v1/batch
 * (JSON lines in, one result line streamed per job as it ends).
 */
#ifndef API_HTTP_JOBS_H
#define API_HTTP_JOBS_H

#include <stddef.h>

#include "http.h"

/* Start the async job store and its housekeeping thread. 0 or -errno. */
int http_jobs_init(const struct http_config *cfg, char *err, size_t errlen);
/* Answer every long-poll now, and each new one at once (draining). */
void http_jobs_drain(void);
/* Answer every long-poll still waiting (the server is stopping). */
void http_jobs_stop(void);
/* Free the store (every job has ended). */
void http_jobs_fini(void);

void http_jobs_run(struct http_req *r);
void http_jobs_submit(struct http_req *r);
void http_jobs_get(struct http_req *r);
void http_jobs_delete(struct http_req *r);
void http_jobs_batch(struct http_req *r);

#endif
