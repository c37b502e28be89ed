/*
 * fuzz_minimize.h - shrink a crashing input while it still crashes in the
 * same bucket, as afl-tmin does: remove blocks, from the whole input down to
 * single bytes, as long as any removal keeps the crash; then set each byte
 * that allows it to '0'. Every candidate is judged by a caller's predicate
 * (run the guest, compare the bucket), which may also repair it, within a
 * budget of executions.
 */
#ifndef RUNNER_FUZZ_MINIMIZE_H
#define RUNNER_FUZZ_MINIMIZE_H

#include <stddef.h>
#include <stdint.h>

/* 1: the candidate still crashes the same way, or the predicate rewrote it
 * (in place, the same length) into a variant that does, e.g. with its
 * checksum repaired: the minimizer takes in as it is then; 0: it does not;
 * a negative errno: stop minimizing (an error, the run was asked to stop,
 * its budget is spent). */
typedef int (*fuzz_keeps_fn)(void *ctx, uint8_t *in, size_t len);

/* The byte afl-tmin normalizes to: results stay printable. */
#define FUZZ_MIN_FILL '0'

/*
 * Shrink buf (*len bytes, which keeps) in place: on return buf[0..*len)
 * still keeps (every change was judged), and *execs holds the predicate
 * calls made (at most budget). Deterministic for a deterministic
 * predicate. Returns 0, or the predicate's negative errno (buf is then the
 * smallest input found so far, which keeps).
 */
int fuzz_minimize(uint8_t *buf, size_t *len, fuzz_keeps_fn keeps, void *ctx,
                  uint64_t budget, uint64_t *execs);

#endif
