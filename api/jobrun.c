/*
 * jobrun.c - one job description, loaded and run: its sources as the
 * caller's policy allows, one fresh VM per input, and the result object
 * (see jobrun.h).
 */
#include "jobrun.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static int __attribute__((format(printf, 5, 6)))
refuse(struct jobrun_out *out, enum jobrun_error e, int rc, const char *field,
       const char *fmt, ...)
{
    va_list ap;

    out->error = e;
    snprintf(out->field, sizeof(out->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return rc;
}

/* One run with input (in, len): its result object into *obj. */
static int run_once(struct jobspec *js, const void *in, size_t len,
                    const char *field, int cancel_fd, struct jobrun_out *out,
                    json_t **obj)
{
    struct tc_job job = js->job;
    struct tc_result res;
    int rc;

    job.input = in;
    job.input_len = len;
    job.cancel_fd = cancel_fd;
    rc = tc_run(&job, &res);
    if (rc == -ECANCELED) {
        refuse(out, JOBRUN_CANCELED, rc, NULL, "%s", res.message);
    } else if (rc) {
        refuse(out,
               rc == -EINVAL || rc == -ENODEV ? JOBRUN_BAD_JOB
                                              : JOBRUN_INTERNAL,
               rc, rc == -ENODEV ? "backend" : field, "%s", res.message);
    } else {
        *obj = report_json(&res);
        if (!*obj)
            rc = refuse(out, JOBRUN_INTERNAL, -ENOMEM, NULL, "%s",
                        "out of memory while making the result");
        else {
            out->runs++;
            out->wall_us += res.wall_us;
            out->backend = res.backend;
            if (out->runs == 1 || out->status == TC_OK)
                out->status = res.status;
        }
    }
    tc_result_free(&res);
    return rc;
}

static int run_inputs(struct jobspec *js, int cancel_fd, struct jobrun_out *out)
{
    char field[JOBSPEC_FIELD_MAX];
    json_t *results = json_array(), *o = json_object(), *r = NULL;
    int rc = 0;

    if (!results || !o) {
        rc = refuse(out, JOBRUN_INTERNAL, -ENOMEM, NULL, "%s",
                    "out of memory while making the result");
        goto out;
    }
    for (size_t i = 0; i < js->n_inputs; i++) {
        snprintf(field, sizeof(field), "inputs[%zu]", i);
        rc = run_once(js, js->inputs[i].bytes, js->inputs[i].len, field,
                      cancel_fd, out, &r);
        if (rc)
            goto out;
        if (json_array_append_new(results, r)) {
            rc = refuse(out, JOBRUN_INTERNAL, -ENOMEM, NULL, "%s",
                        "out of memory while making the result");
            goto out;
        }
    }
    if (json_object_set_new(o, "status",
                            json_string(tc_status_name(out->status))) ||
        json_object_set(o, "results", results)) {
        rc = refuse(out, JOBRUN_INTERNAL, -ENOMEM, NULL, "%s",
                    "out of memory while making the result");
        goto out;
    }
    out->result = o;
    o = NULL;
out:
    json_decref(results);
    json_decref(o);
    return rc;
}

int jobrun_run(struct jobspec *js, const struct jobrun_opts *opts,
               int cancel_fd, struct jobrun_out *out)
{
    static const struct jobrun_opts none = {0};
    char err[JOBRUN_MESSAGE_MAX];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!opts)
        opts = &none;
    rc = jobspec_load(js, opts->fetch, opts->policy, err, sizeof(err));
    if (rc)
        return refuse(out, JOBRUN_BAD_JOB, rc, js->err_field, "%s", err);
    if (js->n_inputs)
        return run_inputs(js, cancel_fd, out);
    return run_once(js, js->job.input, js->job.input_len, NULL, cancel_fd, out,
                    &out->result);
}

void jobrun_out_free(struct jobrun_out *out)
{
    json_decref(out->result);
    out->result = NULL;
}

/* The kinds of error an encoded result names, by enum jobrun_error. */
static const char *const error_kinds[] = {
    [JOBRUN_BAD_JOB] = "bad_job",
    [JOBRUN_CANCELED] = "canceled",
    [JOBRUN_INTERNAL] = "internal",
};
#define N_KINDS (sizeof(error_kinds) / sizeof(error_kinds[0]))

char *jobrun_out_encode(const struct jobrun_out *out)
{
    const char *kind = "internal";
    json_t *o, *m;
    char *text;

    if ((size_t)out->error < N_KINDS && error_kinds[out->error])
        kind = error_kinds[out->error];
    if (out->error == JOBRUN_RAN)
        return out->result
                   ? json_dumps(out->result, JSON_COMPACT | JSON_ENSURE_ASCII)
                   : NULL;
    o = json_object();
    m = json_string(out->message);
    if (!o || json_object_set_new(o, "status", json_string("error")) ||
        json_object_set_new(o, "error", json_string(kind)) ||
        json_object_set_new(o, "message",
                            m ? m : json_string("(message not UTF-8)")) ||
        (out->field[0] &&
         json_object_set_new(o, "field", json_string(out->field)))) {
        json_decref(o);
        return NULL;
    }
    text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return text;
}

static int decode_status(const char *name, enum tc_status *st)
{
    for (int i = 0; i < TC_STATUS_COUNT; i++)
        if (!strcmp(name, tc_status_name((enum tc_status)i))) {
            *st = (enum tc_status)i;
            return 0;
        }
    return -EPROTO;
}

/* "kvm" or "emu" as the static strings tc_result.backend holds. */
static const char *decode_backend(const json_t *o)
{
    const char *b = json_string_value(json_object_get(o, "backend"));

    if (!b)
        return NULL;
    return !strcmp(b, "kvm") ? "kvm" : !strcmp(b, "emu") ? "emu" : NULL;
}

/* One run's object: its wall time and backend into out. */
static int decode_run(const json_t *r, struct jobrun_out *out)
{
    const json_t *w = json_object_get(r, "wall_us");

    if (!json_is_object(r) || !json_is_integer(w) ||
        json_integer_value(w) < 0 || !decode_backend(r))
        return -EPROTO;
    out->wall_us += (uint64_t)json_integer_value(w);
    out->backend = decode_backend(r);
    out->runs++;
    return 0;
}

static void decode_error(const json_t *o, struct jobrun_out *out)
{
    const char *kind = json_string_value(json_object_get(o, "error"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    const char *field = json_string_value(json_object_get(o, "field"));

    out->error = JOBRUN_INTERNAL;
    for (size_t i = 0; kind && i < N_KINDS; i++)
        if (error_kinds[i] && !strcmp(kind, error_kinds[i]))
            out->error = (enum jobrun_error)i;
    snprintf(out->message, sizeof(out->message), "%s",
             msg ? msg : "the job failed on a worker, which said not why");
    snprintf(out->field, sizeof(out->field), "%s", field ? field : "");
}

int jobrun_out_decode(const char *text, size_t len, struct jobrun_out *out)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *runs;
    const char *st;
    size_t i;

    memset(out, 0, sizeof(*out));
    st = json_is_object(o) ? json_string_value(json_object_get(o, "status"))
                           : NULL;
    if (st && !strcmp(st, "error")) {
        decode_error(o, out);
        json_decref(o);
        return 0;
    }
    if (!st || decode_status(st, &out->status))
        goto bad;
    runs = json_object_get(o, "results");
    if (json_is_array(runs)) {
        for (i = 0; i < json_array_size(runs); i++)
            if (decode_run(json_array_get(runs, i), out))
                goto bad;
    } else if (decode_run(o, out)) {
        goto bad;
    }
    out->result = o;
    return 0;
bad:
    json_decref(o);
    memset(out, 0, sizeof(*out));
    return refuse(out, JOBRUN_INTERNAL, -EPROTO, NULL, "%s",
                  "the result a worker stored is not a job's result (not "
                  "JSON, or a status, wall_us or backend missing)");
}
