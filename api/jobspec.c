/*
 * jobspec.c - a job from a JSON object: strict field checking (each error
 * one line naming the field), the policy of what a job may reach on the
 * host (host files beneath one directory, URLs from listed hosts), and
 * loading its code and input bytes within it.
 */
#include "jobspec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../runner/fsafe.h"
#include "../runner/payload.h"
#include "../runner/pcache.h"
#include "../runner/units.h"

#define PAGE_SIZE 4096u

enum field_kind {
    F_CODE,
    F_CODE_SHA256,
    F_INPUT,
    F_INPUT_SHA256,
    F_TIMEOUT_MS,
    F_MEM,
    F_MAX_OUTPUT,
    F_MAX_INSNS,
    F_FORMAT,
    F_BACKEND,
    F_MAX_STDERR,
    F_ABI,
    F_ARGS,
    F_ENV,
    F_NAME,
    F_SEED,
    F_STRICT,
    F_INPUTS,
};

static const struct field {
    const char *name;
    enum field_kind kind;
    enum tc_source_kind source; /* F_CODE and F_INPUT */
} fields[] = {
    {"code_hex", F_CODE, TC_SOURCE_HEX},
    {"code_b64", F_CODE, TC_SOURCE_B64},
    {"path", F_CODE, TC_SOURCE_PATH},
    {"url", F_CODE, TC_SOURCE_URL},
    {"sha256", F_CODE_SHA256, 0},
    {"input_hex", F_INPUT, TC_SOURCE_HEX},
    {"input_b64", F_INPUT, TC_SOURCE_B64},
    {"input_path", F_INPUT, TC_SOURCE_PATH},
    {"input_url", F_INPUT, TC_SOURCE_URL},
    {"input_sha256", F_INPUT_SHA256, 0},
    {"timeout_ms", F_TIMEOUT_MS, 0},
    {"mem", F_MEM, 0},
    {"max_output", F_MAX_OUTPUT, 0},
    {"max_insns", F_MAX_INSNS, 0},
    {"format", F_FORMAT, 0},
    {"backend", F_BACKEND, 0},
    {"max_stderr", F_MAX_STDERR, 0},
    {"abi", F_ABI, 0},
    {"args", F_ARGS, 0},
    {"env", F_ENV, 0},
    {"name", F_NAME, 0},
    {"seed", F_SEED, 0},
    {"strict_syscalls", F_STRICT, 0},
    {"inputs", F_INPUTS, 0},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

enum { OWN_CODE, OWN_CODE_SHA256, OWN_INPUT, OWN_INPUT_SHA256 };

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void jobspec_init(struct jobspec *js)
{
    memset(js, 0, sizeof(*js));
    tc_job_init(&js->job);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void jobspec_free(struct jobspec *js)
{
    for (size_t i = 0; i < js->n_inputs; i++) {
        free(js->inputs[i].owned[0]);
        free(js->inputs[i].owned[1]);
        free(js->inputs[i].bytes);
    }
    free(js->inputs);
    for (size_t i = 0; i < sizeof(js->owned) / sizeof(js->owned[0]); i++)
        free(js->owned[i]);
    free_strings(js->args, js->job.nargs);
    free_strings(js->env, js->job.nenv);
    free(js->name);
    free(js->code_bytes);
    free(js->input_bytes);
    jobspec_init(js);
}

const char *jobspec_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static const struct field *find_field(const char *key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (!strcmp(fields[i].name, key))
            return &fields[i];
    return NULL;
}

static int is_extra(const char *key, const char *const *extra)
{
    for (; extra && *extra; extra++)
        if (!strcmp(*extra, key))
            return 1;
    return 0;
}

/* A copy of v's string into js->owned[slot]. */
static int own_string(struct jobspec *js, int slot, const char *key,
                      const json_t *v, const char **out, char *err,
                      size_t errlen)
{
    if (!json_is_string(v))
        return fail(err, errlen, "\"%s\" must be a string, not %s", key,
                    jobspec_type_name(v));
    free(js->owned[slot]);
    js->owned[slot] = strdup(json_string_value(v));
    if (!js->owned[slot]) {
        snprintf(err, errlen, "\"%s\": %s", key, strerror(ENOMEM));
        return -ENOMEM;
    }
    *out = js->owned[slot];
    return 0;
}

static int set_source(struct jobspec *js, const struct field *f,
                      const json_t *v, char *err, size_t errlen)
{
    int code = f->kind == F_CODE;
    const char **seen = code ? &js->code_field : &js->input_field;
    struct tc_source *src = code ? &js->code : &js->input;
    int rc;

    if (*seen)
        return fail(err, errlen, "two %s sources, \"%s\" and \"%s\": give one",
                    code ? "code" : "input", *seen, f->name);
    rc = own_string(js, code ? OWN_CODE : OWN_INPUT, f->name, v, &src->text,
                    err, errlen);
    if (rc)
        return rc;
    if (f->source == TC_SOURCE_PATH && !strcmp(src->text, "-"))
        return fail(err, errlen,
                    "\"%s\": \"-\" (standard input) cannot be used here; "
                    "name a file",
                    f->name);
    if (f->source == TC_SOURCE_PATH && !src->text[0])
        return fail(err, errlen, "\"%s\" is empty; name a file", f->name);
    src->kind = f->source;
    *seen = f->name;
    if (!code)
        js->has_input = 1;
    return 0;
}

static int set_sha256(struct jobspec *js, const struct field *f,
                      const json_t *v, char *err, size_t errlen)
{
    int code = f->kind == F_CODE_SHA256;
    uint8_t digest[PCACHE_DIGEST_LEN];
    const char *text;
    int rc;

    rc = own_string(js, code ? OWN_CODE_SHA256 : OWN_INPUT_SHA256, f->name, v,
                    &text, err, errlen);
    if (rc)
        return rc;
    if (pcache_parse_digest(text, digest))
        return fail(err, errlen,
                    "\"%s\" '%.80s' is not a SHA-256 digest; give its 64 hex "
                    "digits (sha256sum prints them)",
                    f->name, text);
    (code ? &js->code : &js->input)->sha256 = text;
    return 0;
}

/* A whole number in [min, max]; range_text says the range to users. */
static int get_integer(const struct field *f, const json_t *v, uint64_t min,
                       uint64_t max, const char *range_text, uint64_t *out,
                       char *err, size_t errlen)
{
    json_int_t n;

    if (!json_is_integer(v))
        return fail(err, errlen, "\"%s\" must be an integer, not %s", f->name,
                    jobspec_type_name(v));
    n = json_integer_value(v);
    if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
        return fail(err, errlen, "\"%s\" %lld is out of range (%s)", f->name,
                    (long long)n, range_text);
    *out = (uint64_t)n;
    return 0;
}

/* Bytes: an integer, or a size string like "64M" (units_parse_size). */
static int get_size(const struct field *f, const json_t *v, uint64_t min,
                    uint64_t max, const char *range_text, uint64_t *out,
                    char *err, size_t errlen)
{
    char why[256];
    uint64_t n;

    if (json_is_integer(v))
        return get_integer(f, v, min, max, range_text, out, err, errlen);
    if (!json_is_string(v))
        return fail(err, errlen,
                    "\"%s\" must be a number of bytes or a size like \"64M\", "
                    "not %s",
                    f->name, jobspec_type_name(v));
    if (units_parse_size(json_string_value(v), &n, why, sizeof(why)))
        return fail(err, errlen, "\"%s\": %s", f->name, why);
    if (n < min || n > max)
        return fail(err, errlen, "\"%s\" \"%.40s\" is out of range (%s)",
                    f->name, json_string_value(v), range_text);
    *out = n;
    return 0;
}

/* In enum order: TC_FORMAT_AUTO, _RAW, _ELF; TC_BACKEND_AUTO, _KVM, _EMU */
static const char *const formats[] = {"auto", "raw", "elf", NULL};
static const char *const backends[] = {"auto", "kvm", "emu", NULL};
/* TC_ABI_AUTO, _TINCAN, _LINUX */
static const char *const abis[] = {"auto", "tincan", "linux", NULL};

/* The index of name in names[] (NULL-terminated), or -1. */
static int name_index(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

/* One of names[] (NULL-terminated); its index in *out. */
static int get_choice(const struct field *f, const json_t *v,
                      const char *const *names, const char *choices_text,
                      int *out, char *err, size_t errlen)
{
    if (!json_is_string(v))
        return fail(err, errlen, "\"%s\" must be a string (%s), not %s",
                    f->name, choices_text, jobspec_type_name(v));
    *out = name_index(names, json_string_value(v));
    if (*out >= 0)
        return 0;
    return fail(err, errlen, "\"%s\" \"%.40s\" is not one of %s", f->name,
                json_string_value(v), choices_text);
}

int jobspec_backend_named(const char *name, enum tc_backend *out)
{
    int i = name_index(backends, name);

    if (i < 0)
        return -EINVAL;
    *out = (enum tc_backend)i;
    return 0;
}

const char *jobspec_program_name(const struct tc_source *src, char *buf,
                                 size_t len)
{
    const char *t = src->text, *slash, *end;
    size_t n;

    if ((src->kind != TC_SOURCE_PATH && src->kind != TC_SOURCE_URL) ||
        !strcmp(t, "-"))
        return NULL;
    end = t + strcspn(t, src->kind == TC_SOURCE_URL ? "?#" : "");
    while (end > t && end[-1] == '/')
        end--;
    for (slash = end; slash > t && slash[-1] != '/'; slash--)
        ;
    n = (size_t)(end - slash);
    if (n == 0 || n >= len)
        return NULL;
    memcpy(buf, slash, n);
    buf[n] = '\0';
    return buf;
}

int jobspec_abi_named(const char *name, enum tc_abi *out)
{
    int i = name_index(abis, name);

    if (i < 0)
        return -EINVAL;
    *out = (enum tc_abi)i;
    return 0;
}

int jobspec_format_named(const char *name, enum tc_format *out)
{
    int i = name_index(formats, name);

    if (i < 0)
        return -EINVAL;
    *out = (enum tc_format)i;
    return 0;
}

/* An array of strings (no NUL inside) into *out; env entries must be
 * KEY=VALUE. */
static int get_strings(const struct field *f, const json_t *v, int env,
                       char ***out, size_t *n, char *err, size_t errlen)
{
    size_t count, i;
    json_t *e;

    if (!json_is_array(v))
        return fail(err, errlen, "\"%s\" must be an array of strings, not %s",
                    f->name, jobspec_type_name(v));
    if (*out)
        return fail(err, errlen, "\"%s\" is given twice", f->name);
    count = json_array_size(v);
    *out = calloc(count + 1, sizeof(char *));
    if (!*out) {
        snprintf(err, errlen, "\"%s\": %s", f->name, strerror(ENOMEM));
        return -ENOMEM;
    }
    json_array_foreach((json_t *)v, i, e)
    {
        const char *s;
        if (!json_is_string(e))
            return fail(err, errlen, "\"%s\"[%zu] must be a string, not %s",
                        f->name, i, jobspec_type_name(e));
        s = json_string_value(e);
        if (strlen(s) != json_string_length(e))
            return fail(err, errlen,
                        "\"%s\"[%zu] holds a NUL character, which a C "
                        "string cannot",
                        f->name, i);
        if (env && (!strchr(s, '=') || s[0] == '='))
            return fail(err, errlen, "\"%s\"[%zu] \"%.40s\" is not KEY=VALUE",
                        f->name, i, s);
        (*out)[i] = strdup(s);
        if (!(*out)[i]) {
            snprintf(err, errlen, "\"%s\": %s", f->name, strerror(ENOMEM));
            return -ENOMEM;
        }
        *n = i + 1;
    }
    return 0;
}

/* A copy of v's string (checked to be one) into *slot. */
static int dup_string(const char *field, const json_t *v, char **slot,
                      char *err, size_t errlen)
{
    if (!json_is_string(v))
        return fail(err, errlen, "\"%s\" must be a string, not %s", field,
                    jobspec_type_name(v));
    *slot = strdup(json_string_value(v));
    if (!*slot) {
        snprintf(err, errlen, "\"%s\": %s", field, strerror(ENOMEM));
        return -ENOMEM;
    }
    return 0;
}

/* One element of "inputs": exactly one input field, and input_sha256. */
static int set_one_input(struct jobspec *js, struct jobspec_input *in,
                         const json_t *obj, char *err, size_t errlen)
{
    uint8_t digest[PCACHE_DIGEST_LEN];
    const char *key;
    json_t *v;
    int rc;

    if (!json_is_object(obj))
        return fail(err, errlen, "\"%s\" must be an object, not %s",
                    js->err_field, jobspec_type_name(obj));
    json_object_foreach((json_t *)obj, key, v)
    {
        const struct field *f = find_field(key);
        size_t at = strlen(js->err_field);

        snprintf(js->err_field + at, sizeof(js->err_field) - at, ".%.24s", key);
        if (!f || (f->kind != F_INPUT && f->kind != F_INPUT_SHA256))
            return fail(err, errlen,
                        "unknown field \"%s\"; an element of \"inputs\" has "
                        "one of input_hex, input_b64, input_path or input_url "
                        "(+ input_sha256)",
                        js->err_field);
        if (f->kind == F_INPUT && in->field)
            return fail(err, errlen,
                        "\"%s\": a second input beside \"%s\"; give one "
                        "per element",
                        js->err_field, in->field);
        rc = dup_string(js->err_field, v,
                        &in->owned[f->kind == F_INPUT ? 0 : 1], err, errlen);
        if (rc)
            return rc;
        if (f->kind == F_INPUT_SHA256) {
            if (pcache_parse_digest(in->owned[1], digest))
                return fail(err, errlen,
                            "\"%s\" '%.80s' is not a SHA-256 digest; give "
                            "its 64 hex digits (sha256sum prints them)",
                            js->err_field, in->owned[1]);
            in->src.sha256 = in->owned[1];
        } else {
            if (f->source == TC_SOURCE_PATH &&
                (!in->owned[0][0] || !strcmp(in->owned[0], "-")))
                return fail(err, errlen, "\"%s\": name a file", js->err_field);
            in->src.kind = f->source;
            in->src.text = in->owned[0];
            in->field = f->name;
        }
        js->err_field[at] = '\0';
    }
    if (!in->field)
        return fail(err, errlen,
                    "\"%s\" has no input: give one of \"input_hex\", "
                    "\"input_b64\", \"input_path\" or \"input_url\"",
                    js->err_field);
    return 0;
}

/* "inputs": an array of 1..JOBSPEC_MAX_INPUTS input objects. */
static int set_inputs(struct jobspec *js, const json_t *v, char *err,
                      size_t errlen)
{
    size_t n;
    int rc;

    if (!json_is_array(v))
        return fail(err, errlen,
                    "\"inputs\" must be an array of input objects, not %s",
                    jobspec_type_name(v));
    n = json_array_size(v);
    if (n == 0 || n > JOBSPEC_MAX_INPUTS)
        return fail(err, errlen,
                    "\"inputs\" has %zu elements; give 1 to %d (or one input "
                    "field instead)",
                    n, JOBSPEC_MAX_INPUTS);
    js->inputs = calloc(n, sizeof(*js->inputs));
    if (!js->inputs) {
        snprintf(err, errlen, "\"inputs\": %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    js->n_inputs = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(js->err_field, sizeof(js->err_field), "inputs[%zu]", i);
        rc = set_one_input(js, &js->inputs[i], json_array_get(v, i), err,
                           errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int set_field(struct jobspec *js, const struct field *f, const json_t *v,
                     char *err, size_t errlen)
{
    struct tc_job *job = &js->job;
    int choice, rc;

    switch (f->kind) {
    case F_CODE:
    case F_INPUT:
        return set_source(js, f, v, err, errlen);
    case F_CODE_SHA256:
    case F_INPUT_SHA256:
        return set_sha256(js, f, v, err, errlen);
    case F_TIMEOUT_MS:
        return get_integer(f, v, 1, TC_MAX_TIMEOUT_MS, "1 to 86400000 ms",
                           &job->timeout_ms, err, errlen);
    case F_MEM:
        rc = get_size(f, v, TC_MIN_MEM, TC_MAX_MEM, "1M to 1G", &job->mem_size,
                      err, errlen);
        if (rc == 0 && job->mem_size % PAGE_SIZE)
            return fail(err, errlen, "\"%s\" %llu is not a multiple of 4K",
                        f->name, (unsigned long long)job->mem_size);
        return rc;
    case F_MAX_OUTPUT:
        return get_size(f, v, 0, TC_MAX_MAX_OUTPUT, "0 to 1G", &job->max_output,
                        err, errlen);
    case F_MAX_INSNS:
        return get_integer(f, v, 1, INT64_MAX, "at least 1", &job->max_insns,
                           err, errlen);
    case F_FORMAT:
        rc = get_choice(f, v, formats, "\"raw\", \"elf\" or \"auto\"", &choice,
                        err, errlen);
        job->format = (enum tc_format)choice;
        return rc;
    case F_BACKEND:
        rc = get_choice(f, v, backends, "\"kvm\", \"emu\" or \"auto\"", &choice,
                        err, errlen);
        job->backend = (enum tc_backend)choice;
        return rc;
    case F_MAX_STDERR:
        return get_size(f, v, 0, TC_MAX_MAX_OUTPUT, "0 to 1G", &job->max_stderr,
                        err, errlen);
    case F_ABI:
        rc = get_choice(f, v, abis, "\"tincan\", \"linux\" or \"auto\"",
                        &choice, err, errlen);
        job->abi = (enum tc_abi)choice;
        return rc;
    case F_ARGS:
        rc = get_strings(f, v, 0, &js->args, &job->nargs, err, errlen);
        job->args = (const char *const *)js->args;
        return rc;
    case F_ENV:
        rc = get_strings(f, v, 1, &js->env, &job->nenv, err, errlen);
        job->env = (const char *const *)js->env;
        return rc;
    case F_NAME:
        if (!json_is_string(v))
            return fail(err, errlen, "\"%s\" must be a string, not %s", f->name,
                        jobspec_type_name(v));
        if (!json_string_value(v)[0] || strchr(json_string_value(v), '/'))
            return fail(err, errlen,
                        "\"%s\" \"%.40s\" must be a file name without '/'",
                        f->name, json_string_value(v));
        free(js->name);
        js->name = strdup(json_string_value(v));
        if (!js->name) {
            snprintf(err, errlen, "\"%s\": %s", f->name, strerror(ENOMEM));
            return -ENOMEM;
        }
        job->name = js->name;
        return 0;
    case F_SEED:
        return get_integer(f, v, 0, INT64_MAX, "0 or more", &job->seed, err,
                           errlen);
    case F_STRICT:
        if (!json_is_boolean(v))
            return fail(err, errlen, "\"%s\" must be true or false, not %s",
                        f->name, jobspec_type_name(v));
        job->strict_syscalls = json_is_true(v);
        return 0;
    case F_INPUTS:
        return set_inputs(js, v, err, errlen);
    }
    return fail(err, errlen, "\"%s\": unhandled field", f->name);
}

int jobspec_parse(const json_t *obj, const char *const *extra_keys,
                  struct jobspec *js, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    int rc;

    if (!json_is_object(obj))
        return fail(err, errlen, "a job must be a JSON object, not %s",
                    jobspec_type_name(obj));
    json_object_foreach((json_t *)obj, key, v)
    {
        const struct field *f = find_field(key);

        if (is_extra(key, extra_keys))
            continue;
        snprintf(js->err_field, sizeof(js->err_field), "%.*s",
                 (int)sizeof(js->err_field) - 1, key);
        if (!f)
            return fail(err, errlen,
                        "unknown field \"%.60s\"; a job has code_hex, "
                        "code_b64, path or url (+ sha256), input_hex, "
                        "input_b64, input_path or input_url (+ input_sha256), "
                        "timeout_ms, mem, max_output, max_insns, format, "
                        "backend, max_stderr, abi, args, env, name, seed, "
                        "strict_syscalls, inputs",
                        key);
        if (f->kind == F_INPUTS && js->inputs)
            return fail(err, errlen, "%s", "\"inputs\" given twice");
        rc = set_field(js, f, v, err, errlen);
        if (rc)
            return rc;
    }
    js->err_field[0] = '\0';
    if (js->inputs && (js->has_input || js->input.sha256)) {
        snprintf(js->err_field, sizeof(js->err_field), "inputs");
        return fail(err, errlen,
                    "\"inputs\" beside \"%s\": give the inputs as "
                    "\"inputs\" or one input field, not both",
                    js->has_input ? js->input_field : "input_sha256");
    }
    if (!js->code_field)
        return fail(err, errlen, "%s",
                    "no code: give one of \"code_hex\", \"code_b64\", "
                    "\"path\" or \"url\"");
    if (js->input.sha256 && !js->has_input) {
        snprintf(js->err_field, sizeof(js->err_field), "input_sha256");
        return fail(err, errlen, "%s",
                    "\"input_sha256\" without an input: give \"input_hex\", "
                    "\"input_b64\", \"input_path\" or \"input_url\" too");
    }
    if (js->job.max_insns && js->job.backend == TC_BACKEND_KVM) {
        snprintf(js->err_field, sizeof(js->err_field), "max_insns");
        return fail(err, errlen, "%s",
                    "\"max_insns\" needs \"backend\": \"emu\" (or \"auto\"): "
                    "KVM cannot count instructions");
    }
    return 0;
}

/* ---- the policy --------------------------------------------------------- */

#define PATHS_FLAG "--allow-paths DIR"
#define URLS_FLAG  "--allow-urls"

void jobspec_policy_init(struct jobspec_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->paths_fd = -1;
}

static void free_hosts(char **hosts)
{
    for (char **h = hosts; h && *h; h++)
        free(*h);
    free(hosts);
}

void jobspec_policy_free(struct jobspec_policy *p)
{
    if (p->paths_fd >= 0)
        close(p->paths_fd);
    free(p->paths_dir);
    free(p->paths_real);
    free_hosts(p->url_hosts);
    jobspec_policy_init(p);
}

int jobspec_policy_allow_paths(struct jobspec_policy *p, const char *dir,
                               unsigned flags, char *err, size_t errlen)
{
    struct jobspec_policy n;
    int rc;

    jobspec_policy_init(&n);
    n.paths_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (n.paths_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "--allow-paths %s: %s", dir, strerror(errno));
        return rc;
    }
    n.paths_flags = flags;
    n.paths_dir = strdup(dir);
    n.paths_real = realpath(dir, NULL);
    if (!n.paths_dir || !n.paths_real) {
        rc = errno ? -errno : -ENOMEM;
        snprintf(err, errlen, "--allow-paths %s: %s", dir, strerror(-rc));
        jobspec_policy_free(&n);
        return rc;
    }
    if (p->paths_fd >= 0)
        close(p->paths_fd);
    free(p->paths_dir);
    free(p->paths_real);
    p->paths_fd = n.paths_fd;
    p->paths_flags = n.paths_flags;
    p->paths_dir = n.paths_dir;
    p->paths_real = n.paths_real;
    return 0;
}

/* One host of --allow-urls=: lower case, "[::1]" as "::1", no final dot. */
static int parse_host(const char *text, size_t n, char **out, char *err,
                      size_t errlen)
{
    size_t colons = 0;
    char *h;

    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (n > 1 && text[n - 1] == '.')
        n--;
    if (n == 0)
        return fail(err, errlen, "%s",
                    "--allow-urls: an empty host; give host names separated "
                    "by commas, like --allow-urls=example.org,10.0.0.7");
    for (size_t i = 0; i < n; i++) {
        colons += text[i] == ':';
        if (text[i] == '/' || text[i] == '@' || isspace((unsigned char)text[i]))
            return fail(err, errlen,
                        "--allow-urls: '%.*s' is not a host name; give hosts, "
                        "not URLs (example.org, not https://example.org/)",
                        (int)n, text);
    }
    if (colons == 1) /* IPv6 addresses have two or more */
        return fail(err, errlen,
                    "--allow-urls: '%.*s' has a port; give the host alone "
                    "(any port of an allowed host is allowed)",
                    (int)n, text);
    h = strndup(text, n);
    if (!h)
        return fail(err, errlen, "%s", "--allow-urls: out of memory");
    for (char *c = h; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    *out = h;
    return 0;
}

int jobspec_policy_allow_urls(struct jobspec_policy *p, const char *hosts,
                              char *err, size_t errlen)
{
    char **list = NULL;
    size_t n = 1;
    int rc;

    if (hosts && hosts[0]) {
        for (const char *c = hosts; *c; c++)
            n += *c == ',';
        list = calloc(n + 1, sizeof(*list));
        if (!list)
            return fail(err, errlen, "%s", "--allow-urls: out of memory");
        for (size_t i = 0; i < n; i++) {
            const char *end = strchr(hosts, ',');
            size_t len = end ? (size_t)(end - hosts) : strlen(hosts);

            rc = parse_host(hosts, len, &list[i], err, errlen);
            if (rc) {
                free_hosts(list);
                return rc;
            }
            hosts += len + (end ? 1 : 0);
        }
    }
    free_hosts(p->url_hosts);
    p->url_hosts = list;
    p->urls = 1;
    return 0;
}

int jobspec_policy_apply(struct jobspec_policy *p, int c, const char *arg,
                         char *err, size_t errlen)
{
    int rc;

    switch (c) {
    case JOBSPEC_OPT_ALLOW_PATHS:
        rc = jobspec_policy_allow_paths(p, arg, 0, err, errlen);
        return rc ? rc : 1;
    case JOBSPEC_OPT_ALLOW_URLS:
        rc = jobspec_policy_allow_urls(p, arg, err, errlen);
        return rc ? rc : 1;
    default:
        return 0;
    }
}

/* ---- loading ------------------------------------------------------------ */

/*
 * path as policy resolves it: relative to the directory, or an absolute
 * path inside it made relative. NULL when it is absolute and elsewhere.
 */
static const char *beneath(const struct jobspec_policy *pol, const char *path)
{
    size_t n;

    if (path[0] != '/')
        return path;
    if (pol->paths_flags & JOBSPEC_PATHS_STRICT)
        return NULL;
    n = strlen(pol->paths_real);
    if (!strcmp(pol->paths_real, "/"))
        return path + 1;
    if (strncmp(path, pol->paths_real, n) || (path[n] && path[n] != '/'))
        return NULL;
    path += n;
    while (*path == '/')
        path++;
    return path[0] ? path : ".";
}

/* A host file's bytes, confined beneath the policy's directory and no
 * more than max of them. */
static int load_path(const struct tc_source *src, const char *field,
                     const struct jobspec_policy *pol, size_t max, void **out,
                     size_t *len, char *err, size_t errlen)
{
    char shown[PATH_MAX], why[256];
    const char *rel;
    uint8_t *bytes = NULL;
    int fd, rc;

    if (!pol || pol->paths_fd < 0)
        return fail(err, errlen,
                    "\"%s\": host files are refused in a job description; "
                    "allow those beneath a directory with " PATHS_FLAG,
                    field);
    rel = beneath(pol, src->text);
    if (src->text[0] == '/')
        snprintf(shown, sizeof(shown), "%s", src->text);
    else
        snprintf(shown, sizeof(shown), "%s/%s", pol->paths_dir, src->text);
    rc = rel ? fsafe_open_beneath(pol->paths_fd, rel,
                                  pol->paths_flags & JOBSPEC_PATHS_STRICT
                                      ? FSAFE_NO_SYMLINKS
                                      : 0,
                                  &fd, why, sizeof(why))
             : -EXDEV;
    if (rc == -EXDEV) {
        snprintf(err, errlen,
                 "\"%s\": %.200s is not beneath %.200s (" PATHS_FLAG
                 "); name a file inside it",
                 field, src->text, pol->paths_dir);
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "\"%s\": cannot open %s: %s", field, shown, why);
        return rc;
    }
    rc = fsafe_read_max(fd, max, &bytes, len);
    close(fd);
    if (rc == -EFBIG)
        snprintf(err, errlen,
                 "\"%s\": %s is larger than the %zu bytes of guest memory "
                 "the job has (\"mem\")",
                 field, shown, max);
    else if (rc)
        snprintf(err, errlen, "\"%s\": cannot read %s: %s", field, shown,
                 strerror(-rc));
    if (rc == 0 && src->sha256 &&
        (rc = payload_check_pin(src->sha256, bytes, *len, why, sizeof(why))))
        snprintf(err, errlen, "\"%s\": %s", field, why);
    if (rc) {
        free(bytes);
        *len = 0;
        return rc;
    }
    *out = bytes;
    return 0;
}

/* src's bytes, as far as the policy allows. */
static int load_one(const struct tc_source *src, const char *field,
                    const struct tc_fetch_options *fetch,
                    const struct jobspec_policy *pol, size_t max, void **out,
                    size_t *len, char *err, size_t errlen)
{
    struct tc_fetch_options f;
    char why[512];
    int rc;

    *out = NULL;
    *len = 0;
    if (src->kind == TC_SOURCE_PATH)
        return load_path(src, field, pol, max, out, len, err, errlen);
    if (fetch)
        f = *fetch;
    else
        tc_fetch_options_init(&f);
    if (src->kind == TC_SOURCE_URL) {
        if (!pol || !pol->urls)
            return fail(err, errlen,
                        "\"%s\": URLs are refused in a job description; "
                        "allow fetching with " URLS_FLAG " (or " URLS_FLAG
                        "=HOST,... for some hosts)",
                        field);
        if (!strncasecmp(src->text, "file:", strlen("file:")))
            return fail(
                err, errlen,
                "\"%s\": file:// URLs are refused in a job "
                "description; name the file with \"%s\" and " PATHS_FLAG,
                field, strcmp(field, "url") ? "input_path" : "path");
        f.allow_file_urls = 0;
        if (pol->url_hosts)
            f.allow_hosts = (const char *const *)pol->url_hosts;
    }
    /* A URL's body goes into guest memory: no more of it than the job has
     * (a file's is capped the same way in load_path). */
    int mem_caps = src->kind == TC_SOURCE_URL && max < f.max_bytes;
    if (mem_caps)
        f.max_bytes = max;
    rc = tc_load(src, &f, out, len, why, sizeof(why));
    if (rc == -EFBIG && mem_caps)
        snprintf(err, errlen,
                 "\"%s\": the body at %.200s is larger than the %zu bytes of "
                 "guest memory the job has (\"mem\")",
                 field, src->text, max);
    else if (rc)
        snprintf(err, errlen, "\"%s\": %s", field, why);
    return rc;
}

int jobspec_load(struct jobspec *js, const struct tc_fetch_options *fetch,
                 const struct jobspec_policy *policy, char *err, size_t errlen)
{
    size_t len = 0, max = (size_t)js->job.mem_size;
    int rc;

    js->err_field[0] = '\0';
    if (!js->code_field)
        return fail(err, errlen, "%s", "no code to load");
    snprintf(js->err_field, sizeof(js->err_field), "%s", js->code_field);
    rc = load_one(&js->code, js->code_field, fetch, policy, max,
                  &js->code_bytes, &len, err, errlen);
    if (rc)
        return rc;
    if (len == 0)
        return fail(err, errlen,
                    "\"%s\": the code is empty; give at least "
                    "one byte",
                    js->code_field);
    js->job.code = js->code_bytes;
    js->job.code_len = len;
    if (!js->name) {
        char name[256];
        if (jobspec_program_name(&js->code, name, sizeof(name))) {
            js->name = strdup(name);
            js->job.name = js->name;
        }
    }
    for (size_t i = 0; i < js->n_inputs; i++) {
        struct jobspec_input *in = &js->inputs[i];

        snprintf(js->err_field, sizeof(js->err_field), "inputs[%zu].%s", i,
                 in->field);
        rc = load_one(&in->src, js->err_field, fetch, policy, max, &in->bytes,
                      &in->len, err, errlen);
        if (rc)
            return rc;
    }
    if (js->has_input) {
        snprintf(js->err_field, sizeof(js->err_field), "%s", js->input_field);
        rc = load_one(&js->input, js->input_field, fetch, policy, max,
                      &js->input_bytes, &len, err, errlen);
        if (rc)
            return rc;
        js->job.input = js->input_bytes;
        js->job.input_len = len;
    }
    js->err_field[0] = '\0';
    return 0;
}

int jobspec_line_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

int jobspec_line_parse(const char *text, size_t len, json_t **obj, json_t **id,
                       char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

    *obj = NULL;
    *id = NULL;
    if (!o)
        return fail(err, errlen, "bad JSON at column %d: %s", jerr.column,
                    jerr.text);
    if (!json_is_object(o)) {
        fail(err, errlen, "a job must be a JSON object, not %s",
             jobspec_type_name(o));
        json_decref(o);
        return -EINVAL;
    }
    *id = json_object_get(o, "id");
    if (!*id) {
        json_decref(o);
        return fail(err, errlen, "%s",
                    "no \"id\": give each job a unique \"id\" (a string or "
                    "an integer)");
    }
    if (!json_is_string(*id) && !json_is_integer(*id)) {
        fail(err, errlen, "\"id\" must be a string or an integer, not %s",
             jobspec_type_name(*id));
        *id = NULL;
        json_decref(o);
        return -EINVAL;
    }
    *obj = o;
    return 0;
}
