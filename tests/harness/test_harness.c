/*
 * test_harness.c - the parent against a compromised job child. Linked with
 * a zygote whose children run tests/harness/evil_child.c instead of the
 * sandbox: they forge every field of their report, look through all of
 * their memory for the parent's and another job's secrets, and try the
 * calls a child must not make. Each case asserts the parent's exact
 * result. TINCAN_TEST_BACKEND=emu runs it on the emulator's zygote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* Planted in main() before the first job: no child may see them. */
static const char env_canary[] = "TINCAN-ENV-CANARY-7f3e21d0c9b8a6";
static const char heap_canary[] = "TINCAN-HEAP-CANARY-5a4b3c2d1e0f99";
static char *heap_copy;
/* In every child's memory: the zygote's name, in its own program. */
static const char in_every_child[] = "tincan-zygote";

/* Run the evil child with cmd as its command (the job's input). */
static void run_evil(const char *cmd, uint64_t timeout_ms,
                     struct tc_result *res)
{
    /* hlt: what the real sandbox would run, were the child honest */
    static const unsigned char code[] = {0xf4};
    struct tc_job job;

    th_job_init(&job);
    job.code = code;
    job.code_len = sizeof(code);
    job.input = cmd;
    job.input_len = strlen(cmd);
    job.timeout_ms = timeout_ms ? timeout_ms : 5000;
    assert_int_equal(tc_run(&job, res), 0);
}

static void assert_output(const struct tc_result *r, const char *want)
{
    if (r->output_len != strlen(want) ||
        memcmp(r->output, want, r->output_len) != 0)
        print_error("output %.*s, want %s\n", (int)r->output_len,
                    (const char *)r->output, want);
    assert_int_equal(r->output_len, strlen(want));
    assert_memory_equal(r->output, want, r->output_len);
}

/* ---- forged reports: sandbox_violation, nothing of the report kept ------ */

struct forge_case {
    const char *field;
    const char *rule; /* what the parent's message names */
};

static const struct forge_case forge_cases[] = {
    {"out_len", "out_len is larger than the job's output limit"},
    {"out_cap", "out_len is larger than the job's output limit"},
    {"status", "status is not a status"},
    {"done", "done is neither 0 nor 1"},
    {"message", "message is not terminated"},
    {"fault_name", "fault.name is not terminated"},
    {"vector", "fault has an impossible vector or error-code flag"},
    {"io", "io has an impossible direction or size"},
    {"syscall", "violation_syscall is not a syscall number"},
    {"err_len", "err_len is larger than the job's stderr limit"},
    {"err_cap", "err_len is larger than the job's stderr limit"},
    {"signal", "signal is not a signal number"},
    {"unsupported_nr", "unsupported_nr is not a syscall number"},
};

static void test_every_forged_report_field_is_a_sandbox_violation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(forge_cases) / sizeof(forge_cases[0]); i++) {
        char cmd[64], want[TC_MESSAGE_MAX];
        struct tc_result r;

        snprintf(cmd, sizeof(cmd), "forge:%s", forge_cases[i].field);
        snprintf(want, sizeof(want),
                 "the job's child wrote an invalid report (%s); nothing it "
                 "reported is kept",
                 forge_cases[i].rule);
        run_evil(cmd, 0, &r);
        if (r.status != TC_SANDBOX_VIOLATION || strcmp(r.message, want))
            print_error("%s: %s: %s\n", cmd, tc_status_name(r.status),
                        r.message);
        th_assert_status(&r, TC_SANDBOX_VIOLATION);
        assert_string_equal(r.message, want);
        assert_int_equal(r.output_len, 0);
        assert_null(r.output);
        assert_int_equal(r.err_len, 0);
        assert_null(r.err);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.violation_syscall, -1);
        tc_result_free(&r);
    }
}

static void test_forged_feedback_is_read_within_the_jobs_own_caps(void **s)
{
    static const unsigned char code[] = {0xf4};
    struct tc_job job;
    struct tc_result r;

    (void)s;
    th_job_init(&job);
    job.code = code;
    job.code_len = sizeof(code);
    job.input = "feedback:forge";
    job.input_len = strlen(job.input);
    job.timeout_ms = 5000;
    job.backend = TC_BACKEND_EMU; /* feedback is the emulator's */
    job.coverage = 1;
    job.max_cmps = 3;
    assert_int_equal(tc_run(&job, &r), 0);
    th_assert_status(&r, TC_OK);
    assert_non_null(r.coverage);
    assert_int_equal(r.coverage[0], 0xff);
    assert_int_equal(r.coverage[TC_COVERAGE_MAP_SIZE - 1], 0xff);
    /* A count of 2^32 - 1 read as the 3 asked for; the size-3 record
     * dropped; operands cut to their size. */
    assert_int_equal(r.cmps_len, 2);
    assert_int_equal(r.cmps[0].rip, 0x10000);
    assert_int_equal(r.cmps[0].a, 0x55667788);
    assert_int_equal(r.cmps[0].b, 7);
    assert_int_equal(r.cmps[1].rip, 0x10002);
    assert_int_equal(r.cmps[1].a, 0xff);
    assert_int_equal(r.cmps[1].b, 0xff);
    assert_int_equal(r.cmps[1].size, 1);
    tc_result_free(&r);
}

static void test_child_written_text_reaches_the_caller_escaped(void **state)
{
    struct tc_result r;

    (void)state;
    run_evil("message:ctl", 0, &r);
    th_assert_status(&r, TC_FAULT);
    assert_string_equal(r.message, "line one\\x0aline two\\x0d\\x1b[31mred"
                                   "\\x1b[0m\\x07 back\\\\slash");
    assert_string_equal(r.fault.name, "#\\x1b[1mX");
    tc_result_free(&r);
}

/* ---- what a child can reach ---------------------------------------------- */

static void test_child_holds_no_socket_and_no_other_jobs_fd(void **state)
{
    struct tc_result r;

    (void)state;
    run_evil("fds", 0, &r);
    th_assert_status(&r, TC_OK);
    print_message("fds: %.*s", (int)r.output_len, (const char *)r.output);
    /* /dev/kvm (KVM), the zygote's life pipe, the job's cgroup.procs
     * where cgroups are usable: nothing else, no socket above all (the
     * zygote's control socket, other jobs' sockets). */
    assert_null(memmem(r.output, r.output_len, "sock", 4));
    assert_null(memmem(r.output, r.output_len, "dir", 3));
    if (!th_on_emu())
        assert_non_null(memmem(r.output, r.output_len, ":chr", 4));
    else
        assert_null(memmem(r.output, r.output_len, ":chr", 4));
    assert_non_null(memmem(r.output, r.output_len, ":fifo", 5));
    tc_result_free(&r);
}

static void test_child_sees_no_environment(void **state)
{
    struct tc_result r;

    (void)state;
    assert_string_equal(getenv("TINCAN_ENV_CANARY"), env_canary);
    run_evil("env", 0, &r);
    th_assert_status(&r, TC_OK);
    assert_output(&r, "env 0\n");
    tc_result_free(&r);
}

static void test_child_sees_an_empty_root_without_proc(void **state)
{
    struct tc_result r;

    (void)state;
    run_evil("root", 0, &r);
    th_assert_status(&r, TC_OK);
    assert_output(&r, "root 0 passwd no proc no\n");
    tc_result_free(&r);
}

static void test_child_cannot_reach_the_hosts_loopback(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char cmd[32];
    struct tc_result r;

    (void)state;
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 1), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
    snprintf(cmd, sizeof(cmd), "net:%u", (unsigned)ntohs(a.sin_port));
    run_evil(cmd, 0, &r);
    close(ls);
    th_assert_status(&r, TC_OK);
    /* Its own network namespace has a loopback that is down. */
    assert_output(&r, "connect Network is unreachable\n");
    tc_result_free(&r);
}

/* ---- memory: the parent's, another job's -------------------------------- */

static void hex_of(const char *s, char *out)
{
    for (size_t i = 0; s[i]; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)s[i]);
}

struct honest_job {
    pthread_t thread;
    const char *input;
    struct tc_result res;
};

/* The guest spins: its child is alive while the scanner looks. */
static void *honest_main(void *arg)
{
    static const unsigned char spin[] = {0xeb, 0xfe}; /* jmp . */
    struct honest_job *h = arg;
    struct tc_job job;

    th_job_init(&job);
    job.code = spin;
    job.code_len = sizeof(spin);
    job.input = h->input;
    job.input_len = strlen(h->input);
    job.timeout_ms = 1500;
    if (tc_run(&job, &h->res) != 0)
        h->res.status = TC_STATUS_COUNT;
    return NULL;
}

static void test_child_finds_nothing_of_the_parent_or_another_job(void **state)
{
    /* The other job's input: in the parent, in its own child, nowhere
     * else. (Not a command: that job runs the real sandbox.) */
    static const char other_job[] = "OTHER-JOB-INPUT-CANARY-0d1c2b3a49";
    struct honest_job h = {.input = other_job};
    char cmd[1024] = "scan:", *p = cmd + 5;
    struct tc_result r;
    pid_t kids[4];

    (void)state;
    hex_of(other_job, p);
    strcat(p, ",");
    hex_of(heap_canary, p + strlen(p));
    strcat(p, ",");
    hex_of(env_canary, p + strlen(p));
    strcat(p, ",");
    hex_of(in_every_child, p + strlen(p));
    assert_int_equal(pthread_create(&h.thread, NULL, honest_main, &h), 0);
    /* the other job's child is running before the scan starts */
    pid_t zygote = th_job_parent();
    uint64_t end = th_now_us() + 5000000;
    while (th_children_of(zygote, kids, 4) < 1 && th_now_us() < end)
        th_sleep_ms(2);
    run_evil(cmd, 20000, &r);
    pthread_join(h.thread, NULL);

    print_message("scan: %.*s", (int)r.output_len, (const char *)r.output);
    th_assert_status(&r, TC_OK);
    /* other job, heap, environment: clean; the control, in every child,
     * found: the scan does see its whole memory. */
    assert_true(r.output_len > 26);
    assert_memory_equal(r.output, "clean clean clean found ", 24);
    tc_result_free(&r);
    /* ... and the other job's result is its own, exactly. */
    th_assert_status(&h.res, TC_TIMEOUT);
    assert_string_equal(h.res.message, "deadline reached");
    assert_int_equal(h.res.output_len, 0);
    tc_result_free(&h.res);
}

/* ---- calls of another ABI, signals -------------------------------------- */

static void test_int80_and_x32_calls_are_named_sandbox_violations(void **state)
{
    static const struct {
        const char *cmd, *name;
    } cases[] = {
        {"trap:socket", "(socket)"},
        {"trap:int80", "(i386 getpid)"},
        {"trap:x32", "(x32 getpid)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tc_result r;
        run_evil(cases[i].cmd, 0, &r);
        if (!strstr(r.message, cases[i].name))
            print_error("%s: %s: %s\n", cases[i].cmd, tc_status_name(r.status),
                        r.message);
        th_assert_status(&r, TC_SANDBOX_VIOLATION);
        assert_non_null(strstr(r.message, cases[i].name));
        tc_result_free(&r);
    }
}

static void reap_everything(int sig)
{
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/*
 * A caller that blocks SIGALRM and SIGSYS, and reaps every child it has
 * itself: the deadline still ends the job from inside, a forbidden call is
 * still named, and a child that ignores its deadline is killed through its
 * pidfd. In a fresh process, so that its zygote starts from that caller.
 */
static void test_callers_signal_mask_and_reaper_change_nothing(void **state)
{
    pid_t pid;
    int ws = 0;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const unsigned char spin[] = {0xeb, 0xfe};
        struct sigaction sa = {.sa_handler = reap_everything};
        struct tc_result r;
        struct tc_job job;
        sigset_t block;
        int bad = 0;

        sigemptyset(&block);
        sigaddset(&block, SIGALRM);
        sigaddset(&block, SIGSYS);
        sigprocmask(SIG_BLOCK, &block, NULL);
        sigaction(SIGCHLD, &sa, NULL);
        th_job_init(&job);
        job.code = spin;
        job.code_len = sizeof(spin);
        job.timeout_ms = 100;
        bad |= tc_run(&job, &r) != 0 || r.status != TC_TIMEOUT ||
               strcmp(r.message, "deadline reached");
        tc_result_free(&r);
        run_evil("trap:socket", 0, &r);
        bad |=
            (r.status != TC_SANDBOX_VIOLATION || !strstr(r.message, "(socket)"))
            << 1;
        tc_result_free(&r);
        run_evil("spin", 100, &r);
        bad |= (r.status != TC_TIMEOUT ||
                strcmp(r.message, "deadline reached; the child did not "
                                  "stop and was killed"))
               << 2;
        tc_result_free(&r);
        _exit(bad);
    }
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
}

int main(void)
{
    th_test_setup();
    setenv("TINCAN_ENV_CANARY", env_canary, 1);
    heap_copy = strdup(heap_canary);
    assert_non_null(heap_copy);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_forged_report_field_is_a_sandbox_violation),
        cmocka_unit_test(test_forged_feedback_is_read_within_the_jobs_own_caps),
        cmocka_unit_test(test_child_written_text_reaches_the_caller_escaped),
        cmocka_unit_test(test_child_holds_no_socket_and_no_other_jobs_fd),
        cmocka_unit_test(test_child_sees_no_environment),
        cmocka_unit_test(test_child_sees_an_empty_root_without_proc),
        cmocka_unit_test(test_child_cannot_reach_the_hosts_loopback),
        cmocka_unit_test(test_child_finds_nothing_of_the_parent_or_another_job),
        cmocka_unit_test(test_int80_and_x32_calls_are_named_sandbox_violations),
        cmocka_unit_test(test_callers_signal_mask_and_reaper_change_nothing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    free(heap_copy);
    return rc;
}
