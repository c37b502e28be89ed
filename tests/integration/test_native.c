/*
 * test_native.c - programs nobody here wrote, in tincan and natively: the
 * same binary must print the same thing both ways.
 * - csmith: every program of tests/csmith/seeds ($BUILD/csmith/SEED.O0.elf
 *   and SEED.O2.elf, musl static) prints its checksum; all of them, or the
 *   first TINCAN_CSMITH_LIMIT seeds (the lane runs a few dozen on KVM).
 * - Lua: the static interpreter $BUILD/lua/lua.elf (Debian's liblua5.4.a)
 *   runs each tests/lua/NAME.lua given as its input: stdout, stderr and the
 *   exit code as natively.
 * The backend is TINCAN_TEST_BACKEND (emu) or KVM. TINCAN_TEST_FILTER
 * selects tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define NATIVE_TIMEOUT_S 30
#define JOB_TIMEOUT_MS   60000

/* What a native run printed, and how it ended. */
struct native {
    unsigned char *out, *err;
    size_t out_len, err_len;
    int exit_code; /* -1: did not exit normally */
};

static unsigned char *slurp(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    ssize_t r;

    assert_non_null(buf);
    lseek(fd, 0, SEEK_SET);
    while ((r = read(fd, buf + n, cap - n)) > 0) {
        n += (size_t)r;
        if (n == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    *len = n;
    return buf;
}

/* Run path natively with input on stdin; stdout and stderr captured. */
static void run_native(const char *path, const void *input, size_t input_len,
                       struct native *nr)
{
    char tmpl[3][64] = {"/tmp/tincan-native-in.XXXXXX",
                        "/tmp/tincan-native-out.XXXXXX",
                        "/tmp/tincan-native-err.XXXXXX"};
    int fd[3], status = 0;
    pid_t pid;

    for (int i = 0; i < 3; i++) {
        fd[i] = mkstemp(tmpl[i]);
        assert_true(fd[i] >= 0);
        unlink(tmpl[i]);
    }
    if (input_len)
        assert_int_equal(write(fd[0], input, input_len), (ssize_t)input_len);
    lseek(fd[0], 0, SEEK_SET);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
        dup2(fd[0], 0);
        dup2(fd[1], 1);
        dup2(fd[2], 2);
        alarm(NATIVE_TIMEOUT_S);
        execve(path, argv, envp);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        ;
    nr->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    nr->out = slurp(fd[1], &nr->out_len);
    nr->err = slurp(fd[2], &nr->err_len);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

static void run_tincan(const unsigned char *code, size_t len, const char *name,
                       const void *input, size_t input_len, struct tc_result *r)
{
    struct tc_job job;

    th_job_init(&job);
    job.code = code;
    job.code_len = len;
    job.name = name;
    job.input = input;
    job.input_len = input_len;
    job.timeout_ms = JOB_TIMEOUT_MS;
    assert_int_equal(tc_run(&job, r), 0);
}

static int bytes_equal(const unsigned char *a, size_t alen,
                       const unsigned char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The program at path, natively and in tincan: 1 when they agree. */
static int agrees(const char *path, const char *name, const void *input,
                  size_t input_len)
{
    size_t len = 0;
    unsigned char *code = th_read_file(path, &len);
    struct native nr;
    struct tc_result r;
    int same;

    if (!code) {
        print_error("cannot read %s: run make\n", path);
        fail();
    }
    run_native(path, input, input_len, &nr);
    run_tincan(code, len, name, input, input_len, &r);
    same = r.status == TC_OK && nr.exit_code >= 0 &&
           r.exit_code == (uint64_t)nr.exit_code &&
           bytes_equal(r.output, r.output_len, nr.out, nr.out_len) &&
           bytes_equal(r.err, r.err_len, nr.err, nr.err_len);
    if (!same)
        print_message("%s DIFFERS: native exit %d, %zu+%zu bytes \"%.*s\"; "
                      "tincan %s (%s) exit %llu, %zu+%zu bytes \"%.*s\"\n",
                      path, nr.exit_code, nr.out_len, nr.err_len,
                      (int)(nr.out_len < 80 ? nr.out_len : 80), nr.out,
                      tc_status_name(r.status), r.message,
                      (unsigned long long)r.exit_code, r.output_len, r.err_len,
                      (int)(r.output_len < 80 ? r.output_len : 80),
                      r.output ? (const char *)r.output : "");
    tc_result_free(&r);
    free(nr.out);
    free(nr.err);
    free(code);
    return same;
}

static void test_csmith_checksums_match_native(void **state)
{
    const char *lim = getenv("TINCAN_CSMITH_LIMIT");
    unsigned limit = lim ? (unsigned)atoi(lim) : 0, seeds = 0, differ = 0;
    char line[64], path[512], name[64];
    FILE *f = fopen("tests/csmith/seeds", "r");

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) && (!limit || seeds < limit)) {
        unsigned seed = (unsigned)strtoul(line, NULL, 10);
        for (int o = 0; o < 2; o++) {
            const char *opt = o ? "O2" : "O0";
            snprintf(path, sizeof(path), "%s/csmith/%u.%s.elf",
                     th_programs_dir(), seed, opt);
            snprintf(name, sizeof(name), "%u.%s.elf", seed, opt);
            differ += !agrees(path, name, NULL, 0);
        }
        seeds++;
    }
    fclose(f);
    print_message("csmith: %u seeds, %u programs (-O0 and -O2) on %s, %u "
                  "differ from native\n",
                  seeds, 2 * seeds, th_backend_name(), differ);
    assert_true(seeds >= (limit ? limit : 200));
    assert_int_equal(differ, 0);
}

static int lua_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_lua_scripts_match_native(void **state)
{
    char path[512], *names[64], lua[512];
    size_t n = 0, differ = 0;
    struct dirent *de;
    DIR *d = opendir("tests/lua");

    (void)state;
    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".lua") && n < 64)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), lua_cmp);
    assert_true(n >= 7);
    snprintf(lua, sizeof(lua), "%s/lua/lua.elf", th_programs_dir());
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        unsigned char *script;

        snprintf(path, sizeof(path), "tests/lua/%s", names[i]);
        script = th_read_file(path, &len);
        assert_non_null(script);
        int same = agrees(lua, "lua", script, len);
        print_message("lua %-16s %s\n", names[i], same ? "same" : "DIFFERS");
        differ += !same;
        free(script);
        free(names[i]);
    }
    assert_int_equal(differ, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csmith_checksums_match_native),
        cmocka_unit_test(test_lua_scripts_match_native),
    };

    th_test_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
