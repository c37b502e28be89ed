/*
 * http_meta.h - the service's own resources: GET /healthz (alive), GET
 * /readyz (503 while draining or when the queue is full), GET /metrics
 * (Prometheus text 0.0.4), GET /v1/info (versions, backends, caps).
 */
#ifndef API_HTTP_META_H
#define API_HTTP_META_H

#include "http.h"

void http_meta_healthz(struct http_req *r);
void http_meta_readyz(struct http_req *r);
void http_meta_metrics(struct http_req *r);
void http_meta_info(struct http_req *r);

#endif
