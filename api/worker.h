/*
 * worker.h - `tincan worker`: takes jobs from a Redis stream (the fleet's
 * queue, runner/queue.h), runs each in a fresh VM, stores its result once
 * and acks it; reclaims what dead workers left, dead-letters poison jobs.
 */
#ifndef API_WORKER_H
#define API_WORKER_H

/* `tincan worker ARGS`: argv[0] is "worker". Returns the exit status. */
int worker_main(int argc, char **argv);

#endif
