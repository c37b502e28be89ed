/*
 * fetchopt.h - the URL fetch flags shared by the commands that load code
 * (tincan run, tincan batch): --fetch-timeout, --max-fetch, --cacert,
 * --allow-file-urls, --cache and --cache-dir, into tc_fetch_options.
 */
#ifndef API_FETCHOPT_H
#define API_FETCHOPT_H

#include <getopt.h>
#include <limits.h>
#include <stddef.h>

#include "tincan.h"

/* getopt_long values: above any command's own. */
enum {
    FETCHOPT_TIMEOUT = 0x1000,
    FETCHOPT_MAX_FETCH,
    FETCHOPT_CACERT,
    FETCHOPT_ALLOW_FILE_URLS,
    FETCHOPT_CACHE,
    FETCHOPT_CACHE_DIR,
};

/* The entries to put in a command's struct option table. */
#define FETCHOPT_LONG_OPTIONS                                                  \
    {"fetch-timeout", required_argument, NULL, FETCHOPT_TIMEOUT},              \
        {"max-fetch", required_argument, NULL, FETCHOPT_MAX_FETCH},            \
        {"cacert", required_argument, NULL, FETCHOPT_CACERT},                  \
        {"allow-file-urls", no_argument, NULL, FETCHOPT_ALLOW_FILE_URLS},      \
        {"cache", no_argument, NULL, FETCHOPT_CACHE},                          \
    {                                                                          \
        "cache-dir", required_argument, NULL, FETCHOPT_CACHE_DIR               \
    }

/* The usage lines for those flags. */
#define FETCHOPT_USAGE                                                         \
    "URLs (http:// and https://) are fetched by tincan before the job "        \
    "starts;\n"                                                                \
    "the job itself never has network access:\n"                               \
    "  --fetch-timeout DUR  deadline of each fetch, separate from --timeout\n" \
    "                       (default 30s; connecting gets at most 10s)\n"      \
    "  --max-fetch SIZE     refuse bodies larger than this (default 16M)\n"    \
    "  --cacert FILE        CA certificates to verify TLS with (always on)\n"  \
    "  --allow-file-urls    also accept file:// URLs (never via redirects)\n"  \
    "  --cache              keep fetches in $XDG_CACHE_HOME/tincan (or\n"      \
    "                       ~/.cache/tincan), like --cache-dir\n"              \
    "  --cache-dir DIR      keep fetches in DIR by SHA-256; with --sha256 a\n" \
    "                       cached copy is used without any network access\n"  \
    "At most 5 redirects, each to http or https only.\n"

struct fetchopt {
    struct tc_fetch_options fetch; /* what tc_load() takes */
    char cache_dir[PATH_MAX];      /* --cache's directory */
};

/* The defaults (tc_fetch_options_init). */
void fetchopt_init(struct fetchopt *fo);

/*
 * Apply getopt_long's c with arg: 1 when c is one of these flags, 0 when it
 * is not, -errno with one line in err ("--max-fetch 2G is out of range
 * ...") when its value is bad. fo must not move afterwards (fetch.cache_dir
 * may point into it).
 */
int fetchopt_apply(struct fetchopt *fo, int c, const char *arg, char *err,
                   size_t errlen);

#endif
