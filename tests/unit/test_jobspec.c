/* test_jobspec.c - a job from a JSON object: every field, strict errors
 * naming the field, extra keys for callers, loading the bytes, and the
 * policy of host files (beneath --allow-paths DIR) and URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../api/jobspec.h"

#define SHA_A "ab7a1a9d8e4e2b4f5c3f8a8e5d2b6c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"

/* Parse text with extra (may be NULL); the return code, err filled. */
static int parse(const char *text, const char *const *extra, struct jobspec *js,
                 char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    int rc;

    if (!obj)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    jobspec_init(js);
    rc = jobspec_parse(obj, extra, js, err, errlen);
    json_decref(obj);
    return rc;
}

/* text must be refused with exactly want. */
static void refused(const char *text, const char *want)
{
    struct jobspec js;
    char err[512] = "";

    assert_int_equal(parse(text, NULL, &js, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, want);
    jobspec_free(&js);
}

static void test_only_code_gives_the_defaults(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(
        parse("{\"code_hex\":\"f4\"}", NULL, &js, err, sizeof(err)), 0);
    assert_int_equal(js.code.kind, TC_SOURCE_HEX);
    assert_string_equal(js.code.text, "f4");
    assert_null(js.code.sha256);
    assert_string_equal(js.code_field, "code_hex");
    assert_int_equal(js.has_input, 0);
    assert_int_equal(js.job.timeout_ms, TC_DEFAULT_TIMEOUT_MS);
    assert_int_equal(js.job.mem_size, TC_DEFAULT_MEM);
    assert_int_equal(js.job.max_output, TC_DEFAULT_MAX_OUTPUT);
    assert_int_equal(js.job.max_insns, 0);
    assert_int_equal(js.job.format, TC_FORMAT_AUTO);
    assert_int_equal(js.job.backend, TC_BACKEND_AUTO);
    jobspec_free(&js);
}

static void test_every_field_is_read(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(
        parse("{\"url\":\"https://h/c.bin\",\"sha256\":\"" SHA_A "\","
              "\"input_path\":\"in.bin\",\"input_sha256\":\"" SHA_A "\","
              "\"timeout_ms\":250,\"mem\":\"64M\",\"max_output\":4096,"
              "\"max_insns\":1000,\"format\":\"elf\",\"backend\":\"emu\"}",
              NULL, &js, err, sizeof(err)),
        0);
    assert_int_equal(js.code.kind, TC_SOURCE_URL);
    assert_string_equal(js.code.text, "https://h/c.bin");
    assert_string_equal(js.code.sha256, SHA_A);
    assert_int_equal(js.has_input, 1);
    assert_int_equal(js.input.kind, TC_SOURCE_PATH);
    assert_string_equal(js.input.text, "in.bin");
    assert_string_equal(js.input.sha256, SHA_A);
    assert_string_equal(js.input_field, "input_path");
    assert_int_equal(js.job.timeout_ms, 250);
    assert_int_equal(js.job.mem_size, 64ULL << 20);
    assert_int_equal(js.job.max_output, 4096);
    assert_int_equal(js.job.max_insns, 1000);
    assert_int_equal(js.job.format, TC_FORMAT_ELF);
    assert_int_equal(js.job.backend, TC_BACKEND_EMU);
    jobspec_free(&js);
}

static void test_source_kinds_map_to_tc_sources(void **state)
{
    static const struct {
        const char *json, *field;
        enum tc_source_kind kind;
    } cases[] = {
        {"{\"code_b64\":\"9A==\",\"input_hex\":\"00\"}", "code_b64",
         TC_SOURCE_B64},
        {"{\"path\":\"a.bin\",\"input_b64\":\"AA==\"}", "path", TC_SOURCE_PATH},
        {"{\"url\":\"http://h/x\",\"input_url\":\"http://h/y\"}", "url",
         TC_SOURCE_URL},
    };
    static const enum tc_source_kind input_kinds[] = {
        TC_SOURCE_HEX, TC_SOURCE_B64, TC_SOURCE_URL};
    struct jobspec js;
    char err[512] = "";

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].json, NULL, &js, err, sizeof(err)), 0);
        assert_string_equal(js.code_field, cases[i].field);
        assert_int_equal(js.code.kind, cases[i].kind);
        assert_int_equal(js.input.kind, input_kinds[i]);
        jobspec_free(&js);
    }
}

static void test_unknown_field_is_named(void **state)
{
    (void)state;
    refused("{\"code_hex\":\"f4\",\"timeout\":5}",
            "unknown field \"timeout\"; a job has code_hex, code_b64, path or "
            "url (+ sha256), input_hex, input_b64, input_path or input_url (+ "
            "input_sha256), timeout_ms, mem, max_output, max_insns, format, "
            "backend, max_stderr, abi, args, env, name, seed, strict_syscalls, "
            "inputs");
}

static void test_extra_keys_are_left_to_the_caller(void **state)
{
    static const char *const extra[] = {"id", "status", NULL};
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"id\":7,\"status\":\"ok\",\"code_hex\":\"f4\"}",
                           extra, &js, err, sizeof(err)),
                     0);
    assert_string_equal(js.code.text, "f4");
    jobspec_free(&js);
    refused("{\"id\":7,\"code_hex\":\"f4\"}",
            "unknown field \"id\"; a job has code_hex, code_b64, path or url "
            "(+ sha256), input_hex, input_b64, input_path or input_url (+ "
            "input_sha256), timeout_ms, mem, max_output, max_insns, format, "
            "backend, max_stderr, abi, args, env, name, seed, strict_syscalls, "
            "inputs");
}

static void test_wrong_types_name_the_field(void **state)
{
    (void)state;
    refused("{\"code_hex\":244}", "\"code_hex\" must be a string, not an "
                                  "integer");
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":\"1s\"}",
            "\"timeout_ms\" must be an integer, not a string");
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":1.5}",
            "\"timeout_ms\" must be an integer, not a number with a fraction "
            "or exponent");
    refused("{\"code_hex\":\"f4\",\"mem\":true}",
            "\"mem\" must be a number of bytes or a size like \"64M\", not a "
            "boolean");
    refused(
        "{\"code_hex\":\"f4\",\"format\":1}",
        "\"format\" must be a string (\"raw\", \"elf\" or \"auto\"), not an "
        "integer");
    refused("{\"code_hex\":\"f4\",\"input_path\":null}",
            "\"input_path\" must be a string, not null");
    refused("[1,2]", "a job must be a JSON object, not an array");
}

/* A batch line's JSON and id (tincan batch and POST /v1/batch share it). */
static void
test_batch_lines_need_an_object_with_a_string_or_integer_id(void **state)
{
    static const struct {
        const char *line, *err; /* err NULL: accepted */
    } cases[] = {
        {"{\"id\":\"a\",\"code_hex\":\"f4\"}", NULL},
        {"{\"id\":7}", NULL},
        {"not json", "bad JSON at column 3: '[' or '{' expected near 'not'"},
        {"{\"id\":1,\"id\":2}",
         "bad JSON at column 12: duplicate object key near '\"id\"'"},
        {"[1,2]", "a job must be a JSON object, not an array"},
        {"\"x\"", "bad JSON at column 3: '[' or '{' expected near '\"x\"'"},
        {"{\"code_hex\":\"f4\"}",
         "no \"id\": give each job a unique \"id\" (a string or an integer)"},
        {"{\"id\":1.5}", "\"id\" must be a string or an integer, not a number "
                         "with a fraction or exponent"},
        {"{\"id\":null}", "\"id\" must be a string or an integer, not null"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *obj = (json_t *)1, *id = (json_t *)1;
        char err[256] = "";
        int rc = jobspec_line_parse(cases[i].line, strlen(cases[i].line), &obj,
                                    &id, err, sizeof(err));
        if (!cases[i].err) {
            assert_int_equal(rc, 0);
            assert_true(json_is_object(obj));
            assert_ptr_equal(id, json_object_get(obj, "id"));
            json_decref(obj);
            continue;
        }
        assert_int_equal(rc, -EINVAL);
        assert_null(obj);
        assert_null(id);
        assert_string_equal(err, cases[i].err);
    }
    assert_int_equal(jobspec_line_blank(" \t\r", 3), 1);
    assert_int_equal(jobspec_line_blank("", 0), 1);
    assert_int_equal(jobspec_line_blank(" {", 2), 0);
}

static void test_values_out_of_range_are_refused(void **state)
{
    (void)state;
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":0}",
            "\"timeout_ms\" 0 is out of range (1 to 86400000 ms)");
    refused("{\"code_hex\":\"f4\",\"timeout_ms\":86400001}",
            "\"timeout_ms\" 86400001 is out of range (1 to 86400000 ms)");
    refused("{\"code_hex\":\"f4\",\"mem\":\"2G\"}",
            "\"mem\" \"2G\" is out of range (1M to 1G)");
    refused("{\"code_hex\":\"f4\",\"mem\":1048577}",
            "\"mem\" 1048577 is not a multiple of 4K");
    refused("{\"code_hex\":\"f4\",\"mem\":-1}",
            "\"mem\" -1 is out of range (1M to 1G)");
    refused("{\"code_hex\":\"f4\",\"max_output\":\"2G\"}",
            "\"max_output\" \"2G\" is out of range (0 to 1G)");
    refused("{\"code_hex\":\"f4\",\"max_insns\":0}",
            "\"max_insns\" 0 is out of range (at least 1)");
    refused("{\"code_hex\":\"f4\",\"backend\":\"xen\"}",
            "\"backend\" \"xen\" is not one of \"kvm\", \"emu\" or \"auto\"");
    refused("{\"code_hex\":\"f4\",\"sha256\":\"abc\"}",
            "\"sha256\" 'abc' is not a SHA-256 digest; give its 64 hex digits "
            "(sha256sum prints them)");
}

static void test_mem_string_errors_say_what_to_write(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"code_hex\":\"f4\",\"mem\":\"3M7\"}", NULL, &js,
                           err, sizeof(err)),
                     -EINVAL);
    assert_true(strncmp(err, "\"mem\": ", 7) == 0);
    jobspec_free(&js);
}

static void test_code_must_be_given_exactly_once(void **state)
{
    (void)state;
    refused("{\"timeout_ms\":5}", "no code: give one of \"code_hex\", "
                                  "\"code_b64\", \"path\" or \"url\"");
    refused("{}", "no code: give one of \"code_hex\", \"code_b64\", \"path\" "
                  "or \"url\"");
    refused("{\"path\":\"a.bin\",\"code_hex\":\"f4\"}",
            "two code sources, \"path\" and \"code_hex\": give one");
    refused("{\"code_hex\":\"f4\",\"input_hex\":\"00\",\"input_url\":\"x\"}",
            "two input sources, \"input_hex\" and \"input_url\": give one");
}

static void test_inconsistent_options_are_refused(void **state)
{
    (void)state;
    refused("{\"code_hex\":\"f4\",\"input_sha256\":\"" SHA_A "\"}",
            "\"input_sha256\" without an input: give \"input_hex\", "
            "\"input_b64\", \"input_path\" or \"input_url\" too");
    refused("{\"code_hex\":\"f4\",\"backend\":\"kvm\",\"max_insns\":5}",
            "\"max_insns\" needs \"backend\": \"emu\" (or \"auto\"): KVM "
            "cannot count instructions");
    refused("{\"path\":\"-\"}", "\"path\": \"-\" (standard input) cannot be "
                                "used here; name a file");
    refused("{\"path\":\"\"}", "\"path\" is empty; name a file");
}

static void test_load_decodes_code_and_input(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"code_hex\":\"b0 41 e6 10 f4\","
                           "\"input_b64\":\"AAH/\"}",
                           NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(js.job.code_len, 5);
    assert_memory_equal(js.job.code, "\xb0\x41\xe6\x10\xf4", 5);
    assert_int_equal(js.job.input_len, 3);
    assert_memory_equal(js.job.input, "\x00\x01\xff", 3);
    jobspec_free(&js);
}

/* A tree for the path policy: DIR/code.bin, DIR/sub/in.bin, links in and
 * out, a FIFO, a file larger than 1 MiB; and ROOT/outside.bin. */
static char root[] = "/tmp/tincan-jobspec.XXXXXX";
static char dir[300];

static void put(const char *rel, const char *bytes, size_t n)
{
    char p[400];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int setup_tree(void **state)
{
    char p[400], q[400];

    (void)state;
    if (!mkdtemp(root))
        return -1;
    snprintf(dir, sizeof(dir), "%s/jobs", root);
    snprintf(p, sizeof(p), "%s/sub", dir);
    if (mkdir(dir, 0755) || mkdir(p, 0755))
        return -1;
    put("jobs/code.bin", "\xf4", 1);
    put("jobs/sub/in.bin", "IN", 2);
    put("outside.bin", "OUT", 3);
    snprintf(p, sizeof(p), "%s/link_in.bin", dir);
    snprintf(q, sizeof(q), "%s/out_abs.bin", dir);
    if (symlink("sub/in.bin", p) || symlink("/etc/passwd", q))
        return -1;
    snprintf(p, sizeof(p), "%s/out_rel.bin", dir);
    snprintf(q, sizeof(q), "%s/fifo.bin", dir);
    if (symlink("../outside.bin", p) || mkfifo(q, 0644))
        return -1;
    put("jobs/big.bin", "", 0);
    return 0;
}

static int teardown_tree(void **state)
{
    char cmd[400];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Load text with pol; the rc, and the error (or "" when it loaded). */
static int load(const char *text, const struct jobspec_policy *pol,
                struct jobspec *js, char *err, size_t errlen)
{
    char perr[512];

    if (parse(text, NULL, js, perr, sizeof(perr)))
        fail_msg("does not parse: %s: %s", text, perr);
    err[0] = '\0';
    return jobspec_load(js, NULL, pol, err, errlen);
}

static void test_files_and_urls_are_refused_without_a_policy(void **state)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"path\":\"code.bin\"}",
         "\"path\": host files are refused in a job description; allow "
         "those beneath a directory with --allow-paths DIR"},
        {"{\"code_hex\":\"f4\",\"input_path\":\"/proc/self/environ\"}",
         "\"input_path\": host files are refused in a job description; "
         "allow those beneath a directory with --allow-paths DIR"},
        {"{\"url\":\"http://169.254.169.254/latest/meta-data\"}",
         "\"url\": URLs are refused in a job description; allow fetching "
         "with --allow-urls (or --allow-urls=HOST,... for some hosts)"},
        {"{\"code_hex\":\"f4\",\"input_url\":\"https://example.org/x\"}",
         "\"input_url\": URLs are refused in a job description; allow "
         "fetching with --allow-urls (or --allow-urls=HOST,... for some "
         "hosts)"},
    };
    struct jobspec_policy pol;
    struct jobspec js;
    char err[512];

    (void)state;
    jobspec_policy_init(&pol);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int with = 0; with < 2; with++) {
            assert_int_equal(
                load(cases[i].json, with ? &pol : NULL, &js, err, sizeof(err)),
                -EINVAL);
            assert_string_equal(err, cases[i].want);
            jobspec_free(&js);
        }
    }
    jobspec_policy_free(&pol);
}

/* template with each '@' replaced by dir, into buf. */
static void with_dir(const char *template, char *buf, size_t len)
{
    size_t n = 0;

    for (const char *t = template; *t && n + 1 < len; t++) {
        if (*t == '@')
            n += (size_t)snprintf(buf + n, len - n, "%s", dir);
        else
            buf[n++] = *t;
    }
    buf[n < len ? n : len - 1] = '\0';
}

static void test_allowed_paths_resolve_beneath_the_directory(void **state)
{
    char outside[400], inside[400], p[400], err[512], json[600];
    struct jobspec_policy pol;
    struct jobspec js;
    /* 1 MiB guest memory: big.bin, one byte more, does not fit. */
    const struct {
        const char *path;
        int rc;
        const char *want; /* the error after '"path": ', @ for the dir */
    } cases[] = {
        {"code.bin", 0, NULL},
        {"sub/in.bin", 0, NULL},
        {"sub/../code.bin", 0, NULL},
        {"link_in.bin", 0, NULL},
        {inside, 0, NULL},
        {"../outside.bin", -EXDEV,
         "../outside.bin is not beneath @ (--allow-paths DIR); name a file "
         "inside it"},
        {"out_rel.bin", -EXDEV,
         "out_rel.bin is not beneath @ (--allow-paths DIR); name a file "
         "inside it"},
        {"out_abs.bin", -EXDEV,
         "out_abs.bin is not beneath @ (--allow-paths DIR); name a file "
         "inside it"},
        {outside, -EXDEV,
         "@/../outside.bin is not beneath @ (--allow-paths DIR); name a "
         "file inside it"},
        {"/proc/self/environ", -EXDEV,
         "/proc/self/environ is not beneath @ (--allow-paths DIR); name a "
         "file inside it"},
        {"fifo.bin", -EINVAL,
         "cannot open @/fifo.bin: it is a FIFO, not a regular file"},
        {"sub", -EISDIR,
         "cannot open @/sub: it is a directory, not a regular file"},
        {"big.bin", -EFBIG,
         "@/big.bin is larger than the 1048576 bytes of guest memory the job "
         "has (\"mem\")"},
    };

    (void)state;
    snprintf(inside, sizeof(inside), "%s/sub/in.bin", dir);
    snprintf(outside, sizeof(outside), "%s/../outside.bin", dir);
    snprintf(p, sizeof(p), "%s/big.bin", dir);
    assert_int_equal(truncate(p, (1 << 20) + 1), 0);
    jobspec_policy_init(&pol);
    assert_int_equal(jobspec_policy_allow_paths(&pol, dir, 0, err, sizeof(err)),
                     0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[1024] = "\"path\": ";

        snprintf(json, sizeof(json), "{\"path\":\"%s\",\"mem\":\"1M\"}",
                 cases[i].path);
        if (load(json, &pol, &js, err, sizeof(err)) != cases[i].rc)
            fail_msg("%s: rc is not %d: %s", cases[i].path, cases[i].rc, err);
        if (cases[i].want)
            with_dir(cases[i].want, want + 8, sizeof(want) - 8);
        else
            want[0] = '\0';
        assert_string_equal(err, want);
        if (!cases[i].rc)
            assert_true(js.job.code_len == 1 || js.job.code_len == 2);
        jobspec_free(&js);
    }
    jobspec_policy_free(&pol);
}

static void
test_strict_paths_refuse_every_symlink_and_absolute_path(void **state)
{
    char inside[400], err[512], json[600], want[1024];
    struct jobspec_policy pol;
    struct jobspec js;

    (void)state;
    jobspec_policy_init(&pol);
    assert_int_equal(jobspec_policy_allow_paths(&pol, dir, JOBSPEC_PATHS_STRICT,
                                                err, sizeof(err)),
                     0);
    assert_int_equal(load("{\"code_hex\":\"f4\",\"input_path\":\"sub/in.bin\"}",
                          &pol, &js, err, sizeof(err)),
                     0);
    assert_int_equal(js.job.input_len, 2);
    assert_memory_equal(js.job.input, "IN", 2);
    jobspec_free(&js);
    assert_int_equal(
        load("{\"path\":\"link_in.bin\"}", &pol, &js, err, sizeof(err)),
        -ELOOP);
    snprintf(want, sizeof(want),
             "\"path\": cannot open %s/link_in.bin: it is a symbolic link (or "
             "its path has one), which is not followed here",
             dir);
    assert_string_equal(err, want);
    jobspec_free(&js);
    snprintf(inside, sizeof(inside), "%s/code.bin", dir);
    snprintf(json, sizeof(json), "{\"path\":\"%s\"}", inside);
    assert_int_equal(load(json, &pol, &js, err, sizeof(err)), -EXDEV);
    jobspec_free(&js);
    jobspec_policy_free(&pol);
}

static void test_a_pinned_path_must_match_its_digest(void **state)
{
    char err[512];
    struct jobspec_policy pol;
    struct jobspec js;

    (void)state;
    jobspec_policy_init(&pol);
    assert_int_equal(jobspec_policy_allow_paths(&pol, dir, 0, err, sizeof(err)),
                     0);
    assert_int_equal(load("{\"path\":\"code.bin\",\"sha256\":\"" SHA_A "\"}",
                          &pol, &js, err, sizeof(err)),
                     -EBADMSG);
    assert_string_equal(
        err, "\"path\": payload digest mismatch: expected " SHA_A
             " got 2017ff3461395672aa0aa4f64894fd2f95a4b120e2690e8951656d79ad"
             "c2eed2");
    jobspec_free(&js);
    jobspec_policy_free(&pol);
}

static void test_allow_urls_takes_a_host_list_and_refuses_others(void **state)
{
    static const struct {
        const char *hosts, *want;
    } bad[] = {
        {"a.org,,b.org", "--allow-urls: an empty host; give host names "
                         "separated by commas, like "
                         "--allow-urls=example.org,10.0.0.7"},
        {"https://a.org/", "--allow-urls: 'https://a.org/' is not a host "
                           "name; give hosts, not URLs (example.org, not "
                           "https://example.org/)"},
        {"a.org:8443", "--allow-urls: 'a.org:8443' has a port; give the host "
                       "alone (any port of an allowed host is allowed)"},
    };
    struct jobspec_policy pol;
    struct jobspec js;
    char err[512];

    (void)state;
    jobspec_policy_init(&pol);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            jobspec_policy_allow_urls(&pol, bad[i].hosts, err, sizeof(err)),
            -EINVAL);
        assert_string_equal(err, bad[i].want);
        assert_int_equal(pol.urls, 0);
    }
    assert_int_equal(jobspec_policy_apply(&pol, JOBSPEC_OPT_ALLOW_URLS,
                                          "Example.ORG.,[::1],10.0.0.7", err,
                                          sizeof(err)),
                     1);
    assert_string_equal(pol.url_hosts[0], "example.org");
    assert_string_equal(pol.url_hosts[1], "::1");
    assert_string_equal(pol.url_hosts[2], "10.0.0.7");
    assert_null(pol.url_hosts[3]);
    /* Refused before any traffic: the host is not on the list. */
    assert_int_equal(load("{\"url\":\"http://127.0.0.1:9/x.bin\"}", &pol, &js,
                          err, sizeof(err)),
                     -EPERM);
    assert_string_equal(err, "\"url\": the host '127.0.0.1' of "
                             "'http://127.0.0.1:9/x.bin' is not an allowed "
                             "host; allow it with --allow-urls=HOST,...");
    jobspec_free(&js);
    /* file:// would read any host file: never from a job description. */
    assert_int_equal(jobspec_policy_allow_urls(&pol, NULL, err, sizeof(err)),
                     0);
    assert_null(pol.url_hosts);
    assert_int_equal(load("{\"code_hex\":\"f4\",\"input_url\":"
                          "\"FILE:///etc/passwd\"}",
                          &pol, &js, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "\"input_url\": file:// URLs are refused in a "
                             "job description; name the file with "
                             "\"input_path\" and --allow-paths DIR");
    jobspec_free(&js);
    assert_int_equal(jobspec_policy_apply(&pol, 'j', "2", err, sizeof(err)), 0);
    assert_int_equal(jobspec_policy_apply(&pol, JOBSPEC_OPT_ALLOW_PATHS,
                                          "/nonexistent/tincan", err,
                                          sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "--allow-paths /nonexistent/tincan: No such file "
                             "or directory");
    jobspec_policy_free(&pol);
}

static void test_load_errors_name_the_field(void **state)
{
    struct jobspec_policy pol;
    struct jobspec js;
    char err[512] = "", want[600];

    (void)state;
    assert_int_equal(
        parse("{\"code_hex\":\"e6 1\"}", NULL, &js, err, sizeof(err)), 0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"code_hex\": bad hex: a lone digit at offset 3; "
                             "write whole bytes like 'e6 10'");
    jobspec_free(&js);
    assert_int_equal(parse("{\"code_b64\":\"\"}", NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"code_b64\": the code is empty; give at least "
                             "one byte");
    jobspec_free(&js);
    jobspec_policy_init(&pol);
    assert_int_equal(jobspec_policy_allow_paths(&pol, dir, 0, err, sizeof(err)),
                     0);
    assert_int_equal(load("{\"code_hex\":\"f4\",\"input_path\":\"no-such\"}",
                          &pol, &js, err, sizeof(err)),
                     -ENOENT);
    snprintf(want, sizeof(want),
             "\"input_path\": cannot open %s/no-such: No such file or "
             "directory",
             dir);
    assert_string_equal(err, want);
    jobspec_free(&js);
    jobspec_policy_free(&pol);
}

/* text must be refused with exactly want, naming field in err_field. */
static void refused_at(const char *text, const char *want, const char *field)
{
    struct jobspec js;
    char err[512] = "";

    assert_int_equal(parse(text, NULL, &js, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, want);
    assert_string_equal(js.err_field, field);
    jobspec_free(&js);
}

static void test_inputs_are_read_in_order(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(
        parse("{\"code_hex\":\"f4\",\"inputs\":[{\"input_hex\":"
              "\"41 42\"},{\"input_b64\":\"aGk=\"},"
              "{\"input_path\":\"in.bin\",\"input_sha256\":\"" SHA_A "\"}]}",
              NULL, &js, err, sizeof(err)),
        0);
    assert_int_equal(js.n_inputs, 3);
    assert_int_equal(js.has_input, 0);
    assert_string_equal(js.inputs[0].field, "input_hex");
    assert_int_equal(js.inputs[0].src.kind, TC_SOURCE_HEX);
    assert_string_equal(js.inputs[0].src.text, "41 42");
    assert_int_equal(js.inputs[1].src.kind, TC_SOURCE_B64);
    assert_int_equal(js.inputs[2].src.kind, TC_SOURCE_PATH);
    assert_string_equal(js.inputs[2].src.sha256, SHA_A);
    assert_null(js.inputs[0].src.sha256);
    jobspec_free(&js);
    assert_int_equal(parse("{\"code_hex\":\"f4\",\"inputs\":[{\"input_hex\":"
                           "\"41 42\"},{\"input_b64\":\"aGk=\"}]}",
                           NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(js.inputs[0].len, 2);
    assert_memory_equal(js.inputs[0].bytes, "AB", 2);
    assert_int_equal(js.inputs[1].len, 2);
    assert_memory_equal(js.inputs[1].bytes, "hi", 2);
    assert_int_equal(js.job.input_len, 0);
    jobspec_free(&js);
}

static void test_bad_inputs_name_the_element(void **state)
{
    static const struct {
        const char *text, *want, *field;
    } cases[] = {
        {"{\"code_hex\":\"f4\",\"inputs\":{}}",
         "\"inputs\" must be an array of input objects, not an object",
         "inputs"},
        {"{\"code_hex\":\"f4\",\"inputs\":[]}",
         "\"inputs\" has 0 elements; give 1 to 256 (or one input field "
         "instead)",
         "inputs"},
        {"{\"code_hex\":\"f4\",\"inputs\":[{\"input_hex\":\"41\"},7]}",
         "\"inputs[1]\" must be an object, not an integer", "inputs[1]"},
        {"{\"code_hex\":\"f4\",\"inputs\":[{\"input_hex\":\"41\","
         "\"input_b64\":\"QQ==\"}]}",
         "\"inputs[0].input_b64\": a second input beside \"input_hex\"; give "
         "one per element",
         "inputs[0].input_b64"},
        {"{\"code_hex\":\"f4\",\"inputs\":[{\"timeout_ms\":5}]}",
         "unknown field \"inputs[0].timeout_ms\"; an element of \"inputs\" has "
         "one of input_hex, input_b64, input_path or input_url (+ "
         "input_sha256)",
         "inputs[0].timeout_ms"},
        {"{\"code_hex\":\"f4\",\"inputs\":[{\"input_sha256\":\"" SHA_A "\"}]}",
         "\"inputs[0]\" has no input: give one of \"input_hex\", "
         "\"input_b64\", \"input_path\" or \"input_url\"",
         "inputs[0]"},
        {"{\"code_hex\":\"f4\",\"inputs\":[{\"input_hex\":4}]}",
         "\"inputs[0].input_hex\" must be a string, not an integer",
         "inputs[0].input_hex"},
        {"{\"code_hex\":\"f4\",\"input_hex\":\"41\",\"inputs\":[{"
         "\"input_hex\":\"41\"}]}",
         "\"inputs\" beside \"input_hex\": give the inputs as \"inputs\" or "
         "one input field, not both",
         "inputs"},
        {"{\"code_hex\":\"f4\",\"timeout_ms\":\"5\"}",
         "\"timeout_ms\" must be an integer, not a string", "timeout_ms"},
        {"{\"timeout_ms\":5}",
         "no code: give one of \"code_hex\", \"code_b64\", \"path\" or "
         "\"url\"",
         ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        refused_at(cases[i].text, cases[i].want, cases[i].field);
}

static void test_input_load_errors_name_the_element(void **state)
{
    struct jobspec js;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"code_hex\":\"f4\",\"inputs\":[{\"input_hex\":"
                           "\"41\"},{\"input_hex\":\"4\"}]}",
                           NULL, &js, err, sizeof(err)),
                     0);
    assert_int_equal(jobspec_load(&js, NULL, NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"inputs[1].input_hex\": bad hex: a lone digit "
                             "at offset 0; write whole bytes like 'e6 10'");
    assert_string_equal(js.err_field, "inputs[1].input_hex");
    jobspec_free(&js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_code_gives_the_defaults),
        cmocka_unit_test(
            test_batch_lines_need_an_object_with_a_string_or_integer_id),
        cmocka_unit_test(test_every_field_is_read),
        cmocka_unit_test(test_source_kinds_map_to_tc_sources),
        cmocka_unit_test(test_unknown_field_is_named),
        cmocka_unit_test(test_extra_keys_are_left_to_the_caller),
        cmocka_unit_test(test_wrong_types_name_the_field),
        cmocka_unit_test(test_values_out_of_range_are_refused),
        cmocka_unit_test(test_mem_string_errors_say_what_to_write),
        cmocka_unit_test(test_code_must_be_given_exactly_once),
        cmocka_unit_test(test_inconsistent_options_are_refused),
        cmocka_unit_test(test_load_decodes_code_and_input),
        cmocka_unit_test(test_files_and_urls_are_refused_without_a_policy),
        cmocka_unit_test(test_allowed_paths_resolve_beneath_the_directory),
        cmocka_unit_test(
            test_strict_paths_refuse_every_symlink_and_absolute_path),
        cmocka_unit_test(test_a_pinned_path_must_match_its_digest),
        cmocka_unit_test(test_allow_urls_takes_a_host_list_and_refuses_others),
        cmocka_unit_test(test_load_errors_name_the_field),
        cmocka_unit_test(test_inputs_are_read_in_order),
        cmocka_unit_test(test_bad_inputs_name_the_element),
        cmocka_unit_test(test_input_load_errors_name_the_element),
    };

    return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
