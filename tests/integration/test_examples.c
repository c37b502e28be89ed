/* test_examples.c - the C example guests (guests/examples/), loaded both as
 * ELF and as flat binaries, through the C API and the CLI, each checked
 * against output computed on the host; and malformed ELF files refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../api/tincan.h"
#include "../guests/examples/mandel.h"
#include "../guests/examples/sha256.h"

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A growing string for expected output. */
struct text {
    char *p;
    size_t len, cap;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void putf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(struct text *t, const char *fmt, ...)
{
    char buf[128];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    put(t, buf, (size_t)n);
}

/* Run NAME.elf and NAME.bin with the input; both must print expect. */
static void run_both(const char *name, const char *input, size_t input_len,
                     const struct text *expect, uint64_t exit_code)
{
    static const char *const ext[] = {"elf", "bin"};

    for (int i = 0; i < 2; i++) {
        char path[512];
        size_t len;
        struct tc_job job;
        struct tc_result res;

        snprintf(path, sizeof(path), "%s/guests/%s.%s", build_dir(), name,
                 ext[i]);
        unsigned char *code = slurp(path, &len);
        tc_job_init(&job);
        /* TINCAN_TEST_BACKEND=emu: the same expectations on the emulator. */
        if (getenv("TINCAN_TEST_BACKEND") &&
            !strcmp(getenv("TINCAN_TEST_BACKEND"), "emu"))
            job.backend = TC_BACKEND_EMU;
        job.code = code;
        job.code_len = len;
        job.input = input;
        job.input_len = input_len;
        job.timeout_ms = 60000;
        assert_int_equal(tc_run(&job, &res), 0);
        if (res.status != TC_OK)
            fail_msg("%s: %s: %s", path, tc_status_name(res.status),
                     res.message);
        assert_int_equal(res.exit_code, exit_code);
        assert_int_equal(res.output_len, expect->len);
        assert_memory_equal(res.output, expect->p, expect->len);
        tc_result_free(&res);
        free(code);
    }
}

static void test_fib_prints_the_first_n_numbers(void **state)
{
    struct text t = {0};
    uint64_t a = 0, b = 1;

    (void)state;
    for (int i = 0; i < 94; i++) {
        putf(&t, "%llu\n", (unsigned long long)a);
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    run_both("fib", "94", 2, &t, 0);
    t.len = 0;
    putf(&t, "fib: N must be at most 94\n");
    run_both("fib", "95", 2, &t, 2);
    free(t.p);
}

static void test_primes_match_a_host_sieve(void **state)
{
    enum { N = 100000 };
    static char composite[N + 1];
    struct text t = {0};

    (void)state;
    for (int i = 2; i <= N; i++) {
        if (composite[i])
            continue;
        putf(&t, "%d\n", i);
        for (long j = (long)i * i; j <= N; j += i)
            composite[j] = 1;
    }
    run_both("primes", "100000", 6, &t, 0);
    free(t.p);
}

static void test_sha256_matches_the_host_digest(void **state)
{
    static const char *const inputs[] = {"", "abc", "hello world"};
    size_t big_len = 1 << 20;
    unsigned char *big = malloc(big_len);

    (void)state;
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 8));
    for (int k = 0; k < 4; k++) {
        const unsigned char *in =
            k < 3 ? (const unsigned char *)inputs[k] : big;
        size_t n = k < 3 ? strlen(inputs[k]) : big_len;
        struct sha256 s;
        unsigned char d[32];
        struct text t = {0};

        sha256_init(&s);
        sha256_update(&s, in, n);
        sha256_final(&s, d);
        for (int i = 0; i < 32; i++)
            putf(&t, "%02x", d[i]);
        put(&t, "\n", 1);
        if (k == 2) /* FIPS 180-4 vector, independent of sha256.h */
            assert_string_equal(t.p, "b94d27b9934d3e08a52e52d7da7dabfac484efe"
                                     "37a5380ee9088f7ace2efcde9\n");
        run_both("sha256", (const char *)in, n, &t, 0);
        free(t.p);
    }
    free(big);
}

static void test_bf_runs_programs_with_their_input(void **state)
{
    static const char hello[] =
        "++++++++[>++++[>++>+++>+++>+<<<<-]>+>+>->>+[<]<-]>>.>---.+++++++..+"
        "++.>>.<-.<.+++.------.--------.>>+.>++.";
    static const char echo[] = ",[.,]!tincan echoes";
    struct text t = {0};

    (void)state;
    put(&t, "Hello World!\n", 13);
    run_both("bf", hello, sizeof(hello) - 1, &t, 0);
    t.len = 0;
    put(&t, "tincan echoes", 13);
    run_both("bf", echo, sizeof(echo) - 1, &t, 0);
    t.len = 0;
    putf(&t, "bf: unmatched '[' at 0\n");
    run_both("bf", "[", 1, &t, 3);
    free(t.p);
}

static struct text mandel_out;
static void mandel_emit(char c)
{
    put(&mandel_out, &c, 1);
}

static void test_mandelbrot_matches_the_host_bit_for_bit(void **state)
{
    (void)state;
    mandel(mandel_emit);
    assert_int_equal(mandel_out.len, (MANDEL_W + 1) * MANDEL_H);
    run_both("mandelbrot", NULL, 0, &mandel_out, 0);
    free(mandel_out.p);
}

/* Run the CLI; capture stdout and stderr, return the exit status. */
static int cli(const char *args, struct text *out, struct text *err)
{
    char cmd[1024], path[64];
    char buf[4096];
    size_t n;

    snprintf(path, sizeof(path), "/tmp/tincan-test-err.%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "%s/tincan %s 2>%s", build_dir(), args, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    put(out, "", 0);
    put(err, "", 0);
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        put(out, buf, n);
    int st = pclose(p);
    FILE *e = fopen(path, "r");
    assert_non_null(e);
    while ((n = fread(buf, 1, sizeof(buf), e)) > 0)
        put(err, buf, n);
    fclose(e);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_runs_an_elf_with_input(void **state)
{
    char args[512], in[64];
    struct text out = {0}, err = {0};

    (void)state;
    snprintf(in, sizeof(in), "/tmp/tincan-test-in.%d", (int)getpid());
    FILE *f = fopen(in, "w");
    fputs("hello world", f);
    fclose(f);
    snprintf(args, sizeof(args), "run --input %s %s/guests/sha256.elf", in,
             build_dir());
    assert_int_equal(cli(args, &out, &err), 0);
    assert_string_equal(out.p, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a538"
                               "0ee9088f7ace2efcde9\n");
    assert_int_equal(err.len, 0);
    unlink(in);
    free(out.p);
    free(err.p);
}

/* A malformed copy of fib.elf: one line on stderr naming the problem, 125 */
static void cli_refuses(const char *name, size_t cut, int poke_at,
                        unsigned char poke, const char *needle)
{
    char src[512], dst[64], args[512];
    size_t len;
    struct text out = {0}, err = {0};

    snprintf(src, sizeof(src), "%s/guests/fib.elf", build_dir());
    unsigned char *elf = slurp(src, &len);
    snprintf(dst, sizeof(dst), "/tmp/tincan-test-%s.%d", name, (int)getpid());
    if (poke_at >= 0)
        elf[poke_at] = poke;
    FILE *f = fopen(dst, "wb");
    fwrite(elf, 1, cut ? cut : len, f);
    fclose(f);
    snprintf(args, sizeof(args), "run %s", dst);
    assert_int_equal(cli(args, &out, &err), 125);
    assert_int_equal(out.len, 0);
    if (!strstr(err.p, needle) || strncmp(err.p, "tincan: ELF: ", 13) ||
        strchr(err.p, '\n') != err.p + err.len - 1)
        fail_msg("%s: expected one line with '%s', got: %s", name, needle,
                 err.p);
    unlink(dst);
    free(elf);
    free(out.p);
    free(err.p);
}

static void test_cli_refuses_malformed_elf_files(void **state)
{
    (void)state;
    cli_refuses("truncated", 40, -1, 0, "truncated: 40 bytes");
    cli_refuses("class32", 0, EI_CLASS, ELFCLASS32, "not ELFCLASS64");
    cli_refuses("machine", 0, 18, 3, "not x86-64");
    cli_refuses("dyn", 0, 16, ET_DYN, "-static -no-pie");
    /* past its program headers (now three: code, the ABI note, the stack
     * flags), short of its first segment */
    cli_refuses("phdrs", 300, -1, 0, "lies outside the");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fib_prints_the_first_n_numbers),
        cmocka_unit_test(test_primes_match_a_host_sieve),
        cmocka_unit_test(test_sha256_matches_the_host_digest),
        cmocka_unit_test(test_bf_runs_programs_with_their_input),
        cmocka_unit_test(test_mandelbrot_matches_the_host_bit_for_bit),
        cmocka_unit_test(test_cli_runs_an_elf_with_input),
        cmocka_unit_test(test_cli_refuses_malformed_elf_files),
    };
    if (getenv("TINCAN_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("TINCAN_TEST_SKIP"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
