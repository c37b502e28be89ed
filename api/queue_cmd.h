/*
 * queue_cmd.h - `tincan queue`: what the fleet's Redis queue holds (status),
 * its dead letters (dead) and putting one back (requeue ID).
 */
#ifndef API_QUEUE_CMD_H
#define API_QUEUE_CMD_H

/* `tincan queue ARGS`: argv[0] is "queue". Returns the exit status. */
int queue_main(int argc, char **argv);

#endif
