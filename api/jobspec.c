/*
 * jobspec.c - a job from a JSON object: strict field checking (each error
 * one line naming the field) and loading its code and input bytes.
 */
#include "jobspec.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void jobspec_free(struct jobspec *js)
{
    for (size_t i = 0; i < sizeof(js->owned) / sizeof(js->owned[0]); i++)
        free(js->owned[i]);
    free(js->code_bytes);
    free(js->input_bytes);
    jobspec_init(js);
}

static const char *type_name(const json_t *v)
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
                    type_name(v));
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
                    type_name(v));
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
                    f->name, type_name(v));
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
                    f->name, choices_text, type_name(v));
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

int jobspec_format_named(const char *name, enum tc_format *out)
{
    int i = name_index(formats, name);

    if (i < 0)
        return -EINVAL;
    *out = (enum tc_format)i;
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
                    type_name(obj));
    json_object_foreach((json_t *)obj, key, v)
    {
        const struct field *f = find_field(key);

        if (is_extra(key, extra_keys))
            continue;
        if (!f)
            return fail(err, errlen,
                        "unknown field \"%.60s\"; a job has code_hex, "
                        "code_b64, path or url (+ sha256), input_hex, "
                        "input_b64, input_path or input_url (+ input_sha256), "
                        "timeout_ms, mem, max_output, max_insns, format, "
                        "backend",
                        key);
        rc = set_field(js, f, v, err, errlen);
        if (rc)
            return rc;
    }
    if (!js->code_field)
        return fail(err, errlen, "%s",
                    "no code: give one of \"code_hex\", \"code_b64\", "
                    "\"path\" or \"url\"");
    if (js->input.sha256 && !js->has_input)
        return fail(err, errlen, "%s",
                    "\"input_sha256\" without an input: give \"input_hex\", "
                    "\"input_b64\", \"input_path\" or \"input_url\" too");
    if (js->job.max_insns && js->job.backend == TC_BACKEND_KVM)
        return fail(err, errlen, "%s",
                    "\"max_insns\" needs \"backend\": \"emu\" (or \"auto\"): "
                    "KVM cannot count instructions");
    return 0;
}

/* src's bytes; a relative path is taken from base_dir. */
static int load_one(const struct tc_source *src, const char *field,
                    const struct tc_fetch_options *fetch, const char *base_dir,
                    void **out, size_t *len, char *err, size_t errlen)
{
    struct tc_source s = *src;
    char path[PATH_MAX], why[512];
    int rc;

    if (s.kind == TC_SOURCE_PATH && base_dir && s.text[0] != '/') {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", base_dir, s.text) >=
            sizeof(path)) {
            snprintf(err, errlen, "\"%s\": the path is too long", field);
            return -ENAMETOOLONG;
        }
        s.text = path;
    }
    rc = tc_load(&s, fetch, out, len, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "\"%s\": %s", field, why);
    return rc;
}

int jobspec_load(struct jobspec *js, const struct tc_fetch_options *fetch,
                 const char *base_dir, char *err, size_t errlen)
{
    size_t len = 0;
    int rc;

    if (!js->code_field)
        return fail(err, errlen, "%s", "no code to load");
    rc = load_one(&js->code, js->code_field, fetch, base_dir, &js->code_bytes,
                  &len, err, errlen);
    if (rc)
        return rc;
    if (len == 0)
        return fail(err, errlen,
                    "\"%s\": the code is empty; give at least "
                    "one byte",
                    js->code_field);
    js->job.code = js->code_bytes;
    js->job.code_len = len;
    if (!js->has_input)
        return 0;
    rc = load_one(&js->input, js->input_field, fetch, base_dir,
                  &js->input_bytes, &len, err, errlen);
    if (rc)
        return rc;
    js->job.input = js->input_bytes;
    js->job.input_len = len;
    return 0;
}
