/*
 * image.h - what goes into a job's guest memory, decided in the parent
 * before the fork: a flat binary at TINCAN_ENTRY, or the PT_LOAD segments of
 * a static ELF64 x86-64 executable, and the input after the highest of them.
 * Every offset and size is checked, overflow-safe, against the file and
 * against guest memory; each refusal names the problem in one line.
 */
#ifndef RUNNER_IMAGE_H
#define RUNNER_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../sandbox/sandbox.h"

/* 1 when p starts with the ELF magic. */
int image_is_elf(const uint8_t *p, size_t len);

/*
 * Fill job's segments and entry from a flat binary or an ELF file (job->
 * mem_size must be set). The job keeps pointers into code. Returns 0 or
 * -EINVAL with a message in err.
 */
int image_raw(struct sbx_job *job, const uint8_t *code, size_t len, char *err,
              size_t errlen);
int image_elf(struct sbx_job *job, const uint8_t *file, size_t len, char *err,
              size_t errlen);

/* Place the input at the first page after the image; check that it fits. */
int image_place_input(struct sbx_job *job, const uint8_t *input, size_t len,
                      char *err, size_t errlen);

#endif
