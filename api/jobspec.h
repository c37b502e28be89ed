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
 *   "format" ("raw", "elf", "auto"), "backend" ("kvm", "emu", "auto"),
 *   "max_stderr" (bytes or a size), "abi" ("tincan", "linux", "auto");
 *   for Linux programs "args" (array of strings: argv[1..]), "env" (array
 *   of "KEY=VALUE"), "name" (argv[0]; default: the file name of "path" or
 *   "url", else "program"), "seed" (integer >= 0), "strict_syscalls"
 *   (boolean).
 *   "inputs": instead of one input, an array of 1..JOBSPEC_MAX_INPUTS
 *          objects, each with one input field (+ "input_sha256"): the job
 *          runs once per element, each run in its own fresh VM.
 */
#ifndef API_JOBSPEC_H
#define API_JOBSPEC_H

#include <jansson.h>
#include <stddef.h>

#include "tincan.h"

#define JOBSPEC_MAX_INPUTS 256 /* elements of "inputs" */
#define JOBSPEC_FIELD_MAX  48  /* "inputs[255].input_sha256" and more */

/* One element of "inputs". */
struct jobspec_input {
    struct tc_source src;
    const char *field; /* "input_hex", ... */
    char *owned[2];    /* the copies of the text and the sha256 */
    void *bytes;       /* loaded by jobspec_load */
    size_t len;
};

struct jobspec {
    struct tc_job job;      /* options; code and input after jobspec_load */
    struct tc_source code;  /* text and sha256 point into owned copies */
    struct tc_source input; /* valid when has_input */
    int has_input;
    const char *code_field, *input_field; /* "path", "input_hex", ... */
    char *owned[4];                       /* the copies, freed by _free */
    void *code_bytes, *input_bytes;       /* loaded by jobspec_load */
    char **args, **env; /* "args", "env": owned, for job.args / job.env */
    char *name;         /* "name", or the code's file name (jobspec_load) */
    struct jobspec_input *inputs; /* "inputs", n_inputs elements, or NULL */
    size_t n_inputs;
    /* The field a failed jobspec_parse() or jobspec_load() is about
     * ("timeout_ms", "inputs[2].input_hex"), or "" when none is. */
    char err_field[JOBSPEC_FIELD_MAX];
};

/* "kvm", "emu" or "auto" as the backend; "raw", "elf" or "auto" as the
 * format. Return 0, or -EINVAL for any other name. The CLI's --backend and
 * --format take the same names as the JSON fields. */
int jobspec_backend_named(const char *name, enum tc_backend *out);
int jobspec_format_named(const char *name, enum tc_format *out);
/*
 * A Linux guest's argv[0] for code from src: the last component of a path
 * or of a URL's path (never the host's path to it), into buf; NULL when
 * there is none (stdin, hex, base64, a name too long for buf), for the
 * default name.
 */
const char *jobspec_program_name(const struct tc_source *src, char *buf,
                                 size_t len);

/* "tincan", "linux" or "auto" as the ABI (--abi and "abi"). */
int jobspec_abi_named(const char *name, enum tc_abi *out);

/* Defaults (tc_job_init), no sources. */
void jobspec_init(struct jobspec *js);

/*
 * Fill js (jobspec_init'd) from obj. Keys the caller handles itself (say
 * "id", or "status") are listed in extra_keys, a NULL-terminated array (or
 * NULL for none): they are skipped here. Any other key this module does not
 * know is an error. Returns 0, or -EINVAL with one line in err naming the
 * field (and the field in js->err_field): unknown field, wrong type, out of
 * range, no code, two code sources, "inputs" beside an input field.
 * Call jobspec_free() either way.
 */
int jobspec_parse(const json_t *obj, const char *const *extra_keys,
                  struct jobspec *js, char *err, size_t errlen);

/*
 * What a job description may reach on the host. Inline code and input
 * (hex, base64) are always fine; host files ("path", "input_path") and
 * URLs ("url", "input_url") only as far as the caller allowed, so a job
 * from a tenant reads no host file (/proc/self/environ) and makes the
 * runner fetch nothing (SSRF) unless the operator said so. Every surface
 * that takes job descriptions (tincan batch, tincan serve, the fleet
 * worker) passes one to jobspec_load():
 *
 *     struct jobspec_policy pol;
 *     jobspec_policy_init(&pol);                      // refuses both
 *     jobspec_policy_allow_paths(&pol, "jobs/", 0, err, errlen);
 *     jobspec_policy_allow_urls(&pol, "example.org", err, errlen);
 *     ... jobspec_load(&js, &fetch, &pol, err, errlen) per job ...
 *     jobspec_policy_free(&pol);
 *
 * Paths are resolved beneath the directory (fsafe_open_beneath): relative
 * ones from it, absolute ones only when inside it; "..", symlinks that
 * lead out, /proc's magic links, FIFOs and devices are refused, and a file
 * is read only up to the job's "mem". URLs are http or https (file:// is
 * refused: name the file with "path"), with the host, and the host of
 * every redirect, on the list when there is one. A policy is read-only
 * once set up: share one among threads.
 */
struct jobspec_policy {
    int paths_fd;         /* -1: host files refused; else the directory */
    unsigned paths_flags; /* JOBSPEC_PATHS_* */
    char *paths_dir;      /* the directory as given, for messages */
    char *paths_real;     /* its canonical path, for absolute paths */
    int urls;             /* 1: http and https URLs may be fetched */
    char **url_hosts;     /* NULL: any host; else NULL-terminated */
};

/* Every symlink refused and absolute paths too: how tincan check reads
 * the files of its cases, beneath the suite. */
#define JOBSPEC_PATHS_STRICT 1u

/* No host files, no URLs. */
void jobspec_policy_init(struct jobspec_policy *p);

/* Host files beneath dir (flags: JOBSPEC_PATHS_*). Returns 0, or -errno
 * with one line in err ("--allow-paths jobs: No such file or directory").
 * A second call replaces the first. */
int jobspec_policy_allow_paths(struct jobspec_policy *p, const char *dir,
                               unsigned flags, char *err, size_t errlen);

/* http and https URLs; hosts NULL (or "") for any host, else a comma-
 * separated list of host names or IP addresses ("example.org,10.0.0.7").
 * Returns 0, or -EINVAL / -ENOMEM with one line in err. A second call
 * replaces the first. */
int jobspec_policy_allow_urls(struct jobspec_policy *p, const char *hosts,
                              char *err, size_t errlen);

void jobspec_policy_free(struct jobspec_policy *p);

/* getopt_long values of --allow-paths DIR and --allow-urls[=HOSTS]. */
enum {
    JOBSPEC_OPT_ALLOW_PATHS = 0x1100,
    JOBSPEC_OPT_ALLOW_URLS,
};

/* The entries to put in a command's struct option table. */
#define JOBSPEC_POLICY_LONG_OPTIONS                                            \
    {"allow-paths", required_argument, NULL, JOBSPEC_OPT_ALLOW_PATHS},         \
    {                                                                          \
        "allow-urls", optional_argument, NULL, JOBSPEC_OPT_ALLOW_URLS          \
    }

/* The usage lines for those flags. */
#define JOBSPEC_POLICY_USAGE                                                   \
    "A job names host files and URLs only when they are allowed:\n"            \
    "  --allow-paths DIR    \"path\" and \"input_path\" may name files in "    \
    "DIR:\n"                                                                   \
    "                       relative to it, or absolute inside it; a path\n"   \
    "                       or symlink that leads out is refused\n"            \
    "  --allow-urls[=HOSTS] \"url\" and \"input_url\" may be fetched (http "   \
    "or\n"                                                                     \
    "                       https); with HOSTS (comma-separated) only from\n"  \
    "                       those hosts, redirects included\n"

/*
 * Apply getopt_long's c with arg: 1 when c is one of these flags, 0 when it
 * is not, -errno with one line in err when its value is bad.
 */
int jobspec_policy_apply(struct jobspec_policy *p, int c, const char *arg,
                         char *err, size_t errlen);

/*
 * Load the code and input bytes into js->job (code and input), fetching
 * URLs with fetch (NULL: the defaults), as far as policy allows (NULL:
 * inline code and input only). Every element of "inputs" is loaded too
 * (into inputs[i].bytes). Returns 0, or -errno with one line in err naming
 * the field ("path": host files are refused ...; "code_hex": the code is
 * empty), the field also in js->err_field.
 */
int jobspec_load(struct jobspec *js, const struct tc_fetch_options *fetch,
                 const struct jobspec_policy *policy, char *err, size_t errlen);

void jobspec_free(struct jobspec *js);

/* What a JSON value is, for "must be X, not Y": "an array", "null". */
const char *jobspec_type_name(const json_t *v);

/* A line of a batch (`tincan batch`, POST /v1/batch) with nothing but
 * spaces, tabs and a CR: skipped, not a job. */
int jobspec_line_blank(const char *s, size_t len);

/*
 * A batch line's JSON: *obj (a new reference) is an object with an "id"
 * (*id, borrowed from it) that is a string or an integer. Returns 0; or
 * -EINVAL with *obj NULL and one line in err (without "line N: "):
 * "bad JSON at column 3: ...", "a job must be a JSON object, not array",
 * "no \"id\": ...", "\"id\" must be a string or an integer, not real".
 */
int jobspec_line_parse(const char *text, size_t len, json_t **obj, json_t **id,
                       char *err, size_t errlen);

#endif
