/*
 * http_play.h - GET /: the playground, one static page built into the
 * binary (api/playground.html, no external scripts, fonts or CDNs).
 */
#ifndef API_HTTP_PLAY_H
#define API_HTTP_PLAY_H

#include "http.h"

void http_play_page(struct http_req *r);

#endif
