/*
 * jobrun.h - the one job executor every front end shares (`tincan batch`
 * lines, `tincan serve` requests, fleet workers): a parsed job description
 * (jobspec.h) is loaded under the caller's rules, run (each element of its
 * "inputs" in its own fresh VM, in order) and answered with the result
 * object:
 *   - one input (or none): the fields of `tincan run --json` (report.h);
 *   - "inputs": {"status": S, "results": [R0, R1, ...]}, where each Ri is
 *     the `tincan run --json` object of input i and S is "ok" when every
 *     run ended ok, else the status of the first run that did not.
 */
#ifndef API_JOBRUN_H
#define API_JOBRUN_H

#include <jansson.h>
#include <stdint.h>

#include "jobspec.h"
#include "tincan.h"

#define JOBRUN_MESSAGE_MAX 768

/* What the caller allows and how it fetches. */
struct jobrun_opts {
    const struct tc_fetch_options *fetch; /* NULL: the defaults */
    /* Host files and URLs a job may name (jobspec.h); NULL: neither. */
    const struct jobspec_policy *policy;
};

/* Why a job has no result. */
enum jobrun_error {
    JOBRUN_RAN = 0,  /* it ran: result is set */
    JOBRUN_BAD_JOB,  /* the description, a source, or tc_run refused */
    JOBRUN_CANCELED, /* cancel_fd fired while it ran */
    JOBRUN_INTERNAL, /* out of memory, or a host-side failure */
};

struct jobrun_out {
    enum jobrun_error error;
    json_t *result;                   /* JOBRUN_RAN: the result object */
    char field[JOBSPEC_FIELD_MAX];    /* the field at fault, or "" */
    char message[JOBRUN_MESSAGE_MAX]; /* error: one line saying why */
    enum tc_status status;            /* JOBRUN_RAN: as in the result */
    const char *backend;              /* "kvm" or "emu" (the last run's) */
    uint64_t wall_us;                 /* all runs together */
    unsigned runs;                    /* VMs that ran */
};

/*
 * Load js's sources as opts->policy allows (jobspec_load) and run the job,
 * once per input. cancel_fd (> 0) ends a run early once it is readable:
 * JOBRUN_CANCELED. Returns 0 when it ran (out->result set), else -errno and
 * out->error, out->message (and out->field) say why. jobrun_out_free()
 * either way.
 */
int jobrun_run(struct jobspec *js, const struct jobrun_opts *opts,
               int cancel_fd, struct jobrun_out *out);

void jobrun_out_free(struct jobrun_out *out);

/*
 * A jobrun_out as JSON text, for a queue that carries results between
 * processes (runner/queue.h): a job that ran is its result object; one that
 * did not is {"status": "error", "error": KIND, "message": M, "field": F}
 * (KIND "bad_job", "canceled" or "internal"; "field" only when set).
 * Returns malloc'd text (free() it) or NULL when out of memory.
 */
char *jobrun_out_encode(const struct jobrun_out *out);

/*
 * The other way: text (len bytes, from another process: checked, never
 * trusted) into *out (jobrun_out_free() it). A result object gives
 * JOBRUN_RAN with status, backend, wall_us and runs read from it; an error
 * object the error it names (an unknown kind is JOBRUN_INTERNAL); text that
 * is neither gives JOBRUN_INTERNAL saying so. Returns 0, or -EPROTO (also
 * in out) when the text was not a result.
 */
int jobrun_out_decode(const char *text, size_t len, struct jobrun_out *out);

#endif
