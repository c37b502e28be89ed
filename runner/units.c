/*
 * units.c - size and duration parsing (see units.h).
 */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parse leading decimal digits into *v; returns chars used, -1 on overflow */
static int digits(const char *s, uint64_t *v, unsigned *ndigits)
{
    int i = 0;

    *v = 0;
    *ndigits = 0;
    while (isdigit((unsigned char)s[i])) {
        unsigned d = (unsigned)(s[i] - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
        i++;
        (*ndigits)++;
    }
    return i;
}

int units_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {
        {"", 0},    {"b", 0},    {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20},
        {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30},
    };
    uint64_t v;
    unsigned nd;
    int n = digits(s, &v, &nd);

    if (n < 0) {
        snprintf(err, errlen, "size '%s' is too large", s);
        return -ERANGE;
    }
    if (nd == 0) {
        snprintf(err, errlen,
                 "bad size '%s': write a whole number with an optional "
                 "unit, e.g. 16M, 512K or 1G",
                 s);
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s + n, units[i].suffix) != 0)
            continue;
        if (v > (UINT64_MAX >> units[i].shift)) {
            snprintf(err, errlen, "size '%s' is too large", s);
            return -ERANGE;
        }
        *out = v << units[i].shift;
        return 0;
    }
    snprintf(err, errlen, "bad size '%s': unknown unit '%s' (use K, M or G)", s,
             s + n);
    return -EINVAL;
}

#define MS_PER_S    1000ULL
#define MS_PER_MIN  (60 * MS_PER_S)
#define MS_PER_HOUR (60 * MS_PER_MIN)

int units_parse_duration(const char *s, uint64_t *out_ms, char *err,
                         size_t errlen)
{
    uint64_t whole, frac = 0, scale = 1;
    unsigned nd, nf = 0;
    int n = digits(s, &whole, &nd);
    const char *p;

    if (n < 0 || whole > UINT64_MAX / 1000000) {
        snprintf(err, errlen, "duration '%s' is too long", s);
        return -ERANGE;
    }
    p = s + n;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (nf < 3) { /* ms resolution: digits past the third drop */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
            nf++;
            p++;
        }
        if (nf == 0)
            nd = 0;
    }
    if (nd == 0) {
        snprintf(err, errlen,
                 "bad duration '%s': write a number with a unit, e.g. "
                 "250ms or 2s",
                 s);
        return -EINVAL;
    }
    if (strcmp(p, "ms") == 0) {
        if (nf) {
            snprintf(err, errlen,
                     "bad duration '%s': milliseconds are whole numbers", s);
            return -EINVAL;
        }
        *out_ms = whole;
        return 0;
    }
    if (strcmp(p, "s") == 0) {
        *out_ms = whole * MS_PER_S + frac * (MS_PER_S / scale);
        return 0;
    }
    if (strcmp(p, "m") == 0 || strcmp(p, "h") == 0) {
        uint64_t unit = *p == 'm' ? MS_PER_MIN : MS_PER_HOUR;
        if (whole > UINT64_MAX / MS_PER_HOUR / 2) {
            snprintf(err, errlen, "duration '%s' is too long", s);
            return -ERANGE;
        }
        *out_ms = whole * unit + frac * unit / scale;
        return 0;
    }
    snprintf(err, errlen, "bad duration '%s': %s; write e.g. 250ms or 2s", s,
             *p ? "unknown unit (use ms, s, m or h)" : "add a unit");
    return -EINVAL;
}

int units_parse_count(const char *s, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}
