/*
 * fuzz.h - `tincan fuzz GUEST`: coverage-guided fuzzing of a guest's input,
 * crashes bucketed, minimized and saved, optionally confirmed on KVM and
 * written out as `tincan check` cases. See fuzz.c and the README.
 */
#ifndef API_FUZZ_H
#define API_FUZZ_H

/* Exit statuses of `tincan fuzz`. */
enum {
    FUZZ_EXIT_CLEAN = 0,   /* no crash found */
    FUZZ_EXIT_CRASHES = 1, /* crashes found (with --confirm: on KVM too) */
    FUZZ_EXIT_ERROR = 123, /* a file could not be written, a run failed */
    FUZZ_EXIT_USAGE = 125, /* bad usage or input: nothing was fuzzed */
};

/* argv[0] is "fuzz". Returns the exit status. */
int fuzz_main(int argc, char **argv);

#endif
