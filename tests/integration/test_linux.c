/*
 * test_linux.c - the Linux corpus (guests/linux, built into $BUILD/linux by
 * make linux-guests) on both backends through the C API: every program,
 * musl and glibc, with the arguments, environment, seed and input its
 * NAME.json and NAME.in give, must end the same on KVM and on the emulator:
 * status, exit code, stdout, stderr, the number of system calls (one
 * handler, so the same calls), unsupported calls, signal, fault vector and
 * rip (privileged.c's hlt, cli, out and int $0x80 in ring 3: #GP on both).
 * tests/linux.sh checks the exact expectations; this proves the backends
 * agree on all of it. Needs KVM (the lane); TINCAN_TEST_FILTER selects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define MAX_STRINGS 16

/* A program's job: its NAME.json options and NAME.in input. */
struct lx_case {
    char name[128]; /* NAME.LIBC.elf */
    unsigned char *code, *input;
    size_t code_len, input_len;
    const char *args[MAX_STRINGS], *env[MAX_STRINGS];
    size_t nargs, nenv;
    uint64_t seed, timeout_ms;
    json_t *spec;
};

/* guests/linux/STEM.EXT, where STEM drops a _pie suffix. */
static unsigned char *read_beside(const char *stem, const char *ext,
                                  size_t *len)
{
    char path[512], base[128];

    snprintf(base, sizeof(base), "%s", stem);
    char *pie = strstr(base, "_pie");
    if (pie && !pie[4])
        *pie = '\0';
    snprintf(path, sizeof(path), "guests/linux/%s.%s", base, ext);
    return th_read_file(path, len);
}

static void strings(json_t *a, const char **out, size_t *n)
{
    size_t i;
    json_t *v;

    *n = 0;
    json_array_foreach(a, i, v)
    {
        assert_true(i < MAX_STRINGS);
        out[(*n)++] = json_string_value(v);
    }
}

static void case_load(struct lx_case *c, const char *file)
{
    char path[512], stem[128];
    size_t len = 0;

    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", file);
    snprintf(stem, sizeof(stem), "%s", file);
    *strchr(stem, '.') = '\0';
    snprintf(path, sizeof(path), "%s/linux/%s", th_programs_dir(), file);
    c->code = th_read_file(path, &c->code_len);
    assert_non_null(c->code);
    c->input = read_beside(stem, "in", &c->input_len);
    c->timeout_ms = 20000;
    unsigned char *js = read_beside(stem, "json", &len);
    if (!js)
        return;
    c->spec = json_loadb((const char *)js, len, 0, NULL);
    free(js);
    assert_non_null(c->spec);
    strings(json_object_get(c->spec, "args"), c->args, &c->nargs);
    strings(json_object_get(c->spec, "env"), c->env, &c->nenv);
    if (json_object_get(c->spec, "seed"))
        c->seed =
            (uint64_t)json_integer_value(json_object_get(c->spec, "seed"));
    if (json_object_get(c->spec, "timeout_ms"))
        c->timeout_ms = (uint64_t)json_integer_value(
            json_object_get(c->spec, "timeout_ms"));
}

static void case_free(struct lx_case *c)
{
    free(c->code);
    free(c->input);
    json_decref(c->spec);
}

/* The longest a corpus program may run here before it counts as hung. */
#define HANG_GUARD_MS 120000

static void run_on(const struct lx_case *c, enum tc_backend b,
                   struct tc_result *r)
{
    struct tc_job job;

    tc_job_init(&job);
    job.backend = b;
    job.code = c->code;
    job.code_len = c->code_len;
    job.input = c->input;
    job.input_len = c->input_len;
    job.name = c->name;
    job.args = c->args;
    job.nargs = c->nargs;
    job.env = c->env;
    job.nenv = c->nenv;
    job.seed = c->seed;
    /* The case's deadline is for tincan check on a plain build; here it
     * only guards against a hang, as no case is meant to reach it. The
     * emulator under ASan inside the lane (TCG under TCG) runs some 100
     * times slower than on the host: malloc_stress took 84 s there. */
    job.timeout_ms =
        c->timeout_ms > HANG_GUARD_MS ? c->timeout_ms : HANG_GUARD_MS;
    assert_int_equal(tc_run(&job, r), 0);
}

static int same_bytes(const unsigned char *a, size_t alen,
                      const unsigned char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_linux_corpus_agrees_on_both_backends(void **state)
{
    char dir[512], *names[256];
    size_t n = 0, differ = 0;
    struct dirent *de;
    DIR *d;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/linux", th_programs_dir());
    d = opendir(dir);
    if (!d) {
        print_error("no %s: run make linux-guests\n", dir);
        fail();
    }
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".elf") ||
            strstr(de->d_name, "hello_dynamic"))
            continue;
        assert_true(n < 256);
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), name_cmp);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        struct lx_case c;
        struct tc_result k, e;

        case_load(&c, names[i]);
        run_on(&c, TC_BACKEND_KVM, &k);
        run_on(&c, TC_BACKEND_EMU, &e);
        int same = k.status == e.status && k.exit_code == e.exit_code &&
                   same_bytes(k.output, k.output_len, e.output, e.output_len) &&
                   same_bytes(k.err, k.err_len, e.err, e.err_len) &&
                   k.syscalls == e.syscalls &&
                   k.unsupported_syscalls == e.unsupported_syscalls &&
                   k.signal == e.signal &&
                   (k.status != TC_FAULT || (k.fault.vector == e.fault.vector &&
                                             k.fault.rip == e.fault.rip));
        print_message("%-28s %s: %s, %llu syscalls, %zu+%zu bytes\n", names[i],
                      same ? "same" : "DIFFER", tc_status_name(k.status),
                      (unsigned long long)k.syscalls, k.output_len, k.err_len);
        if (!same) {
            differ++;
            print_message("  kvm: %s: %s (%llu syscalls)\n  emu: %s: %s "
                          "(%llu syscalls)\n",
                          tc_status_name(k.status), k.message,
                          (unsigned long long)k.syscalls,
                          tc_status_name(e.status), e.message,
                          (unsigned long long)e.syscalls);
        }
        tc_result_free(&k);
        tc_result_free(&e);
        case_free(&c);
        free(names[i]);
    }
    print_message("%zu programs, %zu differ\n", n, differ);
    assert_int_equal(differ, 0);
}

/* The longest name tincan takes for a program (sandbox.h's
 * SBX_LX_NAME_MAX less its NUL). */
#define NAME_LONGEST 255

/* The longest name is argv[0], whole, on either backend: the process
 * stack holds it twice (argv[0] and AT_EXECFN), and was once sized for it
 * once, so that the caller wrote below its stack buffer. */
static void test_the_longest_program_name_is_argv0(void **state)
{
    static const enum tc_backend backends[] = {TC_BACKEND_EMU, TC_BACKEND_KVM};
    char name[NAME_LONGEST + 1], want[NAME_LONGEST + 64];
    struct lx_case c;

    (void)state;
    memset(name, 'n', NAME_LONGEST);
    name[NAME_LONGEST] = '\0';
    snprintf(want, sizeof(want), "argc=1\nargv[0]=%s\n", name);
    case_load(&c, "args.musl.elf");
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        struct tc_job job;
        struct tc_result r;

        tc_job_init(&job);
        job.backend = backends[i];
        job.code = c.code;
        job.code_len = c.code_len;
        job.name = name;
        job.timeout_ms = HANG_GUARD_MS;
        assert_int_equal(tc_run(&job, &r), 0);
        th_assert_status(&r, TC_OK);
        assert_true(r.output_len >= strlen(want));
        assert_memory_equal(r.output, want, strlen(want));
        tc_result_free(&r);
    }
    case_free(&c);
}

/* On KVM a system call is one VM exit: the stub's OUT, nothing more. On
 * kvm_pvm the stub's sysretq is stepped in ring 0 (one more exit, none for
 * exit_group) and an MSR write two more (sandbox/pvm.h). */
static void test_kvm_takes_one_exit_per_system_call(void **state)
{
    struct lx_case c;
    struct tc_result k;

    (void)state;
    case_load(&c, "hello.musl.elf");
    run_on(&c, TC_BACKEND_KVM, &k);
    th_assert_status(&k, TC_OK);
    /* every exit is a system call: the last one (exit_group) ends it */
    if (th_on_pvm())
        assert_true(k.exits >= 2 * k.syscalls - 1 && k.exits <= 3 * k.syscalls);
    else
        assert_int_equal(k.exits, k.syscalls);
    assert_true(k.syscalls <= 8);
    tc_result_free(&k);
    case_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_corpus_agrees_on_both_backends),
        cmocka_unit_test(test_kvm_takes_one_exit_per_system_call),
        cmocka_unit_test(test_the_longest_program_name_is_argv0),
    };

    th_test_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
