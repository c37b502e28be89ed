/*
 * http_meta.c - /healthz, /readyz, /metrics and /v1/info (see http_meta.h).
 */
#include "http_meta.h"

#include <microhttpd.h>

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

void http_meta_healthz(struct http_req *r)
{
    http_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

void http_meta_readyz(struct http_req *r)
{
    unsigned queued, running;
    const char *why = NULL;

    http_queue(r)->counts(http_queue(r), &queued, &running);
    if (http_draining(r))
        why = "draining";
    else if (queued >= http_config_of(r)->queue_max)
        why = "queue_full";
    if (!why) {
        http_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
        return;
    }
    http_add_header(r, "Retry-After", "1");
    http_reply_json(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                    json_pack("{s:s}", "status", why));
}

void http_meta_metrics(struct http_req *r)
{
    unsigned queued, running;
    size_t len = 0;
    char *text;

    http_queue(r)->counts(http_queue(r), &queued, &running);
    text = metrics_text(running, queued, &len);
    if (!text) {
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
                         "out of memory; scrape again");
        return;
    }
    http_reply_raw(r, MHD_HTTP_OK, METRICS_TYPE, text, len);
}

/* A cap: the caller's when it has one, else the server's. */
static json_t *cap(uint64_t mine, uint64_t server)
{
    return json_integer((json_int_t)(mine ? mine : server));
}

void http_meta_info(struct http_req *r)
{
    const struct http_config *c = http_config_of(r);
    const struct tokens_caller *who = http_caller(r);
    struct tokens_limits none = {0};
    const struct tokens_limits *l = who ? &who->lim : &none;
    json_t *caps = json_object(), *o;

    json_object_set_new(caps, "max_timeout_ms",
                        cap(l->max_timeout_ms, TC_MAX_TIMEOUT_MS));
    json_object_set_new(caps, "max_mem", cap(l->max_mem, TC_MAX_MEM));
    json_object_set_new(caps, "max_output",
                        cap(l->max_output, TC_MAX_MAX_OUTPUT));
    json_object_set_new(caps, "max_concurrent",
                        l->max_concurrent ? json_integer(l->max_concurrent)
                                          : json_null());
    json_object_set_new(caps, "rate_per_s",
                        l->rate ? json_real(l->rate) : json_null());
    json_object_set_new(caps, "burst",
                        l->rate ? json_integer((json_int_t)l->burst)
                                : json_null());
    json_object_set_new(caps, "max_body",
                        json_integer((json_int_t)c->max_body));
    json_object_set_new(caps, "max_inputs", json_integer(JOBSPEC_MAX_INPUTS));
    json_object_set_new(caps, "workers", json_integer(c->workers));
    json_object_set_new(caps, "queue", json_integer(c->queue_max));
    json_object_set_new(caps, "keep_ms", json_integer((json_int_t)c->keep_ms));
    json_object_set_new(caps, "allow_paths", json_boolean(c->allow_paths));
    json_object_set_new(caps, "allow_urls", json_boolean(c->allow_urls));
    o = json_pack("{s:s,s:i,s:{s:b,s:b},s:s,s:o,s:o}", "version",
                  TINCAN_VERSION, "abi_version", (int)tc_abi_version(),
                  "backends", "kvm", c->kvm_usable, "emu", c->emu_usable,
                  "auto", c->auto_kvm ? "kvm" : "emu", "caps", caps, "token",
                  who ? json_string(who->name) : json_null());
    http_reply_json(r, MHD_HTTP_OK, o);
}
