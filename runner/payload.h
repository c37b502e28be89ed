/*
 * payload.h - turns a source the user named into bytes, before the fork:
 * a file path, or "-" for standard input. (Hex text: codec.h.)
 */
#ifndef RUNNER_PAYLOAD_H
#define RUNNER_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read all of path ("-": stdin), refusing more than max bytes. *out is
 * malloc'd (NULL when empty). Returns 0 or -errno with a message in err
 * naming the file and the problem.
 */
int payload_read(const char *path, size_t max, uint8_t **out, size_t *len,
                 char *err, size_t errlen);

#endif
