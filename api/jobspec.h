/*
 * jobspec.h - one job described as a JSON object (a line of `tincan batch`,
 * a case's options for `tincan check`): where its code and input come from
 * and its tc_job options, checked strictly, each problem one line naming the
 * field. Then the bytes, loaded through tc_load().
 *
 * Fields (all optional but one code source):
 *   code:  "code_hex" | "code_b64" | "path" | "url", and "sha256" (64 hex)
 *   input: "input_hex" | "input_b64" | "input_path" | "input_url", and
 *          "input_sha256"
 *   "timeout_ms" (integer, 1..86400000), "mem" and "max_output" (integer
 *   bytes, or a size string like "64M"), "max_insns" (integer >= 1),
 *   "format" ("raw", "elf", "auto"), "backend" ("kvm", "emu", "auto").
 */
#ifndef API_JOBSPEC_H
#define API_JOBSPEC_H

#include <jansson.h>
#include <stddef.h>

#include "tincan.h"

struct jobspec {
    struct tc_job job;      /* options; code and input after jobspec_load */
    struct tc_source code;  /* text and sha256 point into owned copies */
    struct tc_source input; /* valid when has_input */
    int has_input;
    const char *code_field, *input_field; /* "path", "input_hex", ... */
    char *owned[4];                       /* the copies, freed by _free */
    void *code_bytes, *input_bytes;       /* loaded by jobspec_load */
};

/* "kvm", "emu" or "auto" as the backend; "raw", "elf" or "auto" as the
 * format. Return 0, or -EINVAL for any other name. The CLI's --backend and
 * --format take the same names as the JSON fields. */
int jobspec_backend_named(const char *name, enum tc_backend *out);
int jobspec_format_named(const char *name, enum tc_format *out);

/* Defaults (tc_job_init), no sources. */
void jobspec_init(struct jobspec *js);

/*
 * Fill js (jobspec_init'd) from obj. Keys the caller handles itself (say
 * "id", or "status") are listed in extra_keys, a NULL-terminated array (or
 * NULL for none): they are skipped here. Any other key this module does not
 * know is an error. Returns 0, or -EINVAL with one line in err naming the
 * field: unknown field, wrong type, out of range, no code, two code sources.
 * Call jobspec_free() either way.
 */
int jobspec_parse(const json_t *obj, const char *const *extra_keys,
                  struct jobspec *js, char *err, size_t errlen);

/*
 * Load the code and input bytes into js->job (code and input), fetching
 * URLs with fetch (NULL: the defaults). Relative paths are taken relative to
 * base_dir when it is not NULL. Returns 0, or -errno with one line in err
 * naming the field ("path": cannot open ...; "code_hex": the code is empty).
 */
int jobspec_load(struct jobspec *js, const struct tc_fetch_options *fetch,
                 const char *base_dir, char *err, size_t errlen);

void jobspec_free(struct jobspec *js);

#endif
