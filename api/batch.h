/*
 * batch.h - `tincan batch`: a JSONL file of jobs run on a pool of worker
 * threads, one result line per job as jobs finish (or in input order),
 * resumable after an interruption, with a progress line on a terminal.
 */
#ifndef API_BATCH_H
#define API_BATCH_H

/* Exit statuses of `tincan batch` besides 0 (every line has a result and
 * none is an error) and 125 (bad usage, from report.h). */
enum {
    BATCH_EXIT_ERRORS = 1,        /* some lines got "status": "error" */
    BATCH_EXIT_IO = 123,          /* jobs not read, or results not written */
    BATCH_EXIT_SIGNAL_BASE = 128, /* + the signal: SIGINT 130, SIGTERM 143 */
};

/* `tincan batch ARGS`: argv[0] is "batch". Returns the exit status. */
int batch_main(int argc, char **argv);

#endif
