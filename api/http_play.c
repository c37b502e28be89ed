/*
 * http_play.c - serves the playground page (api/playground.html, linked in
 * by api/playground.S) with a policy that allows nothing from elsewhere.
 */
#include "http_play.h"

#include <microhttpd.h>

extern const char http_play_html[], http_play_html_end[];

/* Only this page's own inline script and style, and fetches to this host. */
#define PLAY_CSP                                                               \
    "default-src 'none'; script-src 'unsafe-inline'; style-src "               \
    "'unsafe-inline'; connect-src 'self'; img-src 'self'; form-action "        \
    "'none'; frame-ancestors 'none'; base-uri 'none'"

void http_play_page(struct http_req *r)
{
    http_add_header(r, "Content-Security-Policy", PLAY_CSP);
    http_reply_static(r, MHD_HTTP_OK, "text/html; charset=utf-8",
                      http_play_html,
                      (size_t)(http_play_html_end - http_play_html));
}
