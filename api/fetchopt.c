/*
 * fetchopt.c - the URL fetch flags of the CLI commands, checked and turned
 * into tc_fetch_options, and --cache's default directory.
 */
#include "fetchopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runner/units.h"

#define CACHE_PARENT_MODE 0700

void fetchopt_init(struct fetchopt *fo)
{
    memset(fo, 0, sizeof(*fo));
    tc_fetch_options_init(&fo->fetch);
}

/*
 * The persistent fetch cache's default home: $XDG_CACHE_HOME/tincan, or
 * ~/.cache/tincan, creating the parent when it is missing (the cache itself
 * creates its own directory).
 */
static int default_cache_dir(char *buf, size_t len, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char parent[PATH_MAX];

    if (xdg && xdg[0] == '/')
        snprintf(parent, sizeof(parent), "%s", xdg);
    else if (home && home[0] == '/')
        snprintf(parent, sizeof(parent), "%s/.cache", home);
    else {
        snprintf(err, errlen,
                 "neither XDG_CACHE_HOME nor HOME is an "
                 "absolute path; use --cache-dir DIR");
        return -EINVAL;
    }
    if (mkdir(parent, CACHE_PARENT_MODE) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %.200s: %s", parent,
                 strerror(errno));
        return -errno;
    }
    if ((size_t)snprintf(buf, len, "%s/tincan", parent) >= len) {
        snprintf(err, errlen, "the cache path is too long");
        return -ENAMETOOLONG;
    }
    return 0;
}

int fetchopt_apply(struct fetchopt *fo, int c, const char *arg, char *err,
                   size_t errlen)
{
    struct tc_fetch_options *f = &fo->fetch;
    char why[256];
    int rc;

    switch (c) {
    case FETCHOPT_TIMEOUT:
        if (units_parse_duration(arg, &f->timeout_ms, why, sizeof(why))) {
            snprintf(err, errlen, "--fetch-timeout: %s", why);
            return -EINVAL;
        }
        if (f->timeout_ms == 0 || f->timeout_ms > TC_MAX_TIMEOUT_MS) {
            snprintf(err, errlen,
                     "--fetch-timeout %s is out of range (1ms to 24h)", arg);
            return -EINVAL;
        }
        return 1;
    case FETCHOPT_MAX_FETCH:
        if (units_parse_size(arg, &f->max_bytes, why, sizeof(why))) {
            snprintf(err, errlen, "--max-fetch: %s", why);
            return -EINVAL;
        }
        if (f->max_bytes == 0 || f->max_bytes > TC_MAX_MEM) {
            snprintf(err, errlen,
                     "--max-fetch %s is out of range (1 byte to 1G)", arg);
            return -EINVAL;
        }
        return 1;
    case FETCHOPT_CACERT:
        if (access(arg, R_OK) != 0) {
            snprintf(err, errlen, "--cacert %s: cannot read it: %s", arg,
                     strerror(errno));
            return -EINVAL;
        }
        f->cacert = arg;
        return 1;
    case FETCHOPT_ALLOW_FILE_URLS:
        f->allow_file_urls = 1;
        return 1;
    case FETCHOPT_CACHE:
        rc = default_cache_dir(fo->cache_dir, sizeof(fo->cache_dir), why,
                               sizeof(why));
        if (rc) {
            snprintf(err, errlen, "--cache: %s", why);
            return rc;
        }
        f->cache_dir = fo->cache_dir;
        return 1;
    case FETCHOPT_CACHE_DIR:
        f->cache_dir = arg;
        return 1;
    default:
        return 0;
    }
}
