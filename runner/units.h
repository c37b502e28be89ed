/*
 * units.h - parsing of the sizes and durations users type ("16M", "250ms"),
 * with one-line errors that say what was wrong and what to write instead.
 */
#ifndef RUNNER_UNITS_H
#define RUNNER_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bytes: a whole number with an optional suffix K, M, G (powers of 1024,
 * also written KiB/MiB/GiB or k/m/g, an optional trailing B). A plain number
 * is bytes. Returns 0 or -EINVAL / -ERANGE with a message in err.
 */
int units_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);

/*
 * Milliseconds: a number with the unit ms, s, m (minutes) or h ("250ms",
 * "2s", "1.5s", "10m").
 * Resolution is 1 ms; a unit is required. Returns 0 or -EINVAL / -ERANGE.
 */
int units_parse_duration(const char *s, uint64_t *out_ms, char *err,
                         size_t errlen);

/*
 * A whole decimal number in [min, max] ("4"; no sign, no spaces, no
 * suffix). Returns 0 or -EINVAL.
 */
int units_parse_count(const char *s, unsigned long min, unsigned long max,
                      unsigned long *out);

#endif
