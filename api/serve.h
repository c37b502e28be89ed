/*
 * serve.h - `tincan serve`: the HTTP service (http.h) with its flags, the
 * listening socket, the worker queue, and the signals: SIGHUP reloads the
 * tokens file, SIGTERM and SIGINT drain and exit 0.
 */
#ifndef API_SERVE_H
#define API_SERVE_H

/* `tincan serve ARGS`: argv[0] is "serve". Returns the exit status. */
int serve_main(int argc, char **argv);

#endif
