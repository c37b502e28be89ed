/*
 * test_lx.c - the Linux system-call personality (sandbox/lx.c) called
 * directly, on a guest memory of calloc'd bytes: what each call answers,
 * its errors, and what it does to memory and to the report. No VM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "../sandbox/lx.h"
#include "../sandbox/lxframe.h"

#define MEM       (16ULL << 20)
#define BRK_START 0x500000ULL
#define HEAP_END  0xB00000ULL
#define BUF       0x400000ULL /* scratch in guest memory */
#define CAP       4096

struct fixture {
    struct abi_guest g;
    struct sbx_report *rep;
    struct lx_proc p;
    struct sbx_job job;
};

static struct fixture *fx;

static int setup(void **state)
{
    static const uint8_t input[] = "line one\nline two\n";
    struct fixture *f = calloc(1, sizeof(*f));

    f->rep = calloc(1, sbx_report_size(CAP, CAP));
    f->rep->out_cap = CAP;
    f->rep->err_cap = CAP;
    f->rep->unsupported_nr = -1;
    f->g.mem = calloc(1, MEM);
    f->g.mem_size = MEM;
    f->g.rep = f->rep;
    f->job.mem_size = MEM;
    f->job.input = input;
    f->job.input_len = sizeof(input) - 1;
    f->job.lx.brk_start = BRK_START;
    f->job.lx.heap_end = HEAP_END;
    f->job.lx.stack_size = 4 << 20;
    f->job.lx.seed = 7;
    strcpy(f->job.lx.name, "prog");
    lx_init(&f->p, &f->job);
    f->g.lx = &f->p;
    fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    free(f->g.mem);
    free(f->rep);
    free(f);
    return 0;
}

/* One call; its rax (the job must go on). */
static int64_t call(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                    uint64_t a3)
{
    struct lx_call in = {.nr = nr, .arg = {a0, a1, a2, a3, 0, 0}};
    struct lx_ret out;

    assert_int_equal(lx_syscall(&fx->g, &in, &out), ABI_CONTINUE);
    return (int64_t)out.rax;
}

/* One call that must end the job. */
static void call_ends(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                      uint64_t a3)
{
    struct lx_call in = {.nr = nr, .arg = {a0, a1, a2, a3, 0, 0}};
    struct lx_ret out;

    assert_int_equal(lx_syscall(&fx->g, &in, &out), ABI_END);
}

static void put_str(uint64_t at, const char *s)
{
    memcpy(fx->g.mem + at, s, strlen(s) + 1);
}

static void test_write_appends_to_stdout_and_stderr(void **state)
{
    (void)state;
    put_str(BUF, "hello");
    assert_int_equal(call(SYS_write, 1, BUF, 5, 0), 5);
    assert_int_equal(call(SYS_write, 2, BUF, 3, 0), 3);
    assert_int_equal(call(SYS_write, 1, 0, 0, 0), 0); /* nothing: no check */
    assert_int_equal(fx->rep->out_len, 5);
    assert_memory_equal(fx->rep->out, "hello", 5);
    assert_int_equal(fx->rep->err_len, 3);
    assert_memory_equal(fx->rep->out + CAP, "hel", 3);
    assert_int_equal(call(SYS_write, 0, BUF, 1, 0), -EBADF);
    assert_int_equal(call(SYS_write, 3, BUF, 1, 0), -EBADF);
    assert_int_equal(call(SYS_write, 1, MEM - 2, 5, 0), -EFAULT);
    assert_int_equal(call(SYS_write, 1, 0x10, 5, 0), -EFAULT);
    assert_int_equal(fx->rep->syscalls, 7);
}

static void test_writev_checks_every_buffer_first(void **state)
{
    uint64_t iov[6] = {BUF, 2, 0, 0, BUF + 2, 3};

    (void)state;
    put_str(BUF, "abcde");
    memcpy(fx->g.mem + BUF + 0x100, iov, sizeof(iov));
    assert_int_equal(call(SYS_writev, 1, BUF + 0x100, 3, 0), 5);
    assert_memory_equal(fx->rep->out, "abcde", 5);
    iov[2] = MEM; /* the second buffer lies outside: nothing is written */
    iov[3] = 1;
    memcpy(fx->g.mem + BUF + 0x100, iov, sizeof(iov));
    assert_int_equal(call(SYS_writev, 1, BUF + 0x100, 3, 0), -EFAULT);
    assert_int_equal(fx->rep->out_len, 5);
    assert_int_equal(call(SYS_writev, 1, BUF + 0x100, 1025, 0), -EINVAL);
}

static void test_read_gives_the_input_then_eof(void **state)
{
    (void)state;
    assert_int_equal(call(SYS_read, 0, BUF, 5, 0), 5);
    assert_memory_equal(fx->g.mem + BUF, "line ", 5);
    assert_int_equal(call(SYS_read, 0, 0x10, 5, 0), -EFAULT);
    assert_int_equal(call(SYS_read, 0, BUF, 100, 0), 13);
    assert_memory_equal(fx->g.mem + BUF, "one\nline two\n", 13);
    assert_int_equal(call(SYS_read, 0, BUF, 100, 0), 0);
    assert_int_equal(call(SYS_read, 1, BUF, 1, 0), -EBADF);
    assert_int_equal(call(SYS_lseek, 0, 0, 0, 0), -ESPIPE);
    assert_int_equal(call(SYS_pread64, 0, BUF, 1, 0), -ESPIPE);
    assert_int_equal(call(SYS_close, 0, 0, 0, 0), 0);
    assert_int_equal(call(SYS_read, 0, BUF, 1, 0), -EBADF);
    assert_int_equal(call(SYS_close, 0, 0, 0, 0), -EBADF);
}

static void test_brk_grows_and_shrinks_inside_the_heap(void **state)
{
    (void)state;
    assert_int_equal(call(SYS_brk, 0, 0, 0, 0), BRK_START);
    assert_int_equal(call(SYS_brk, BRK_START + 0x2345, 0, 0, 0),
                     BRK_START + 0x2345);
    fx->g.mem[BRK_START + 0x100] = 0x55;
    assert_int_equal(call(SYS_brk, BRK_START, 0, 0, 0), BRK_START);
    /* memory given back and taken again reads as zero */
    assert_int_equal(call(SYS_brk, BRK_START + 0x1000, 0, 0, 0),
                     BRK_START + 0x1000);
    assert_int_equal(fx->g.mem[BRK_START + 0x100], 0);
    /* past the heap, or below its start: the break stays */
    assert_int_equal(call(SYS_brk, HEAP_END + 1, 0, 0, 0), BRK_START + 0x1000);
    assert_int_equal(call(SYS_brk, 0x1000, 0, 0, 0), BRK_START + 0x1000);
}

static void test_mmap_hands_out_the_heap_top_down(void **state)
{
    const uint64_t anon = 0x22, rw = 3; /* MAP_PRIVATE|MAP_ANONYMOUS */

    (void)state;
    int64_t a = call(SYS_mmap, 0, 0x3000, rw, anon);
    assert_int_equal(a, HEAP_END - 0x3000);
    int64_t b = call(SYS_mmap, 0, 1, rw, anon);
    assert_int_equal(b, HEAP_END - 0x4000);
    fx->g.mem[a] = 9;
    assert_int_equal(call(SYS_munmap, (uint64_t)a, 0x3000, 0, 0), 0);
    int64_t c = call(SYS_mmap, 0, 0x2000, rw, anon);
    assert_int_equal(c, HEAP_END - 0x2000);
    assert_int_equal(fx->g.mem[a], 0); /* zeroed when given back */
    /* grow in place while the pages above are free, else move */
    assert_int_equal(call(SYS_mremap, (uint64_t)b, 0x1000, 0x2000, 0),
                     b); /* into the page munmap freed */
    fx->g.mem[b] = 7;
    int64_t m = call(SYS_mremap, (uint64_t)b, 0x2000, 0x10000, 1);
    assert_true(m != b && m > 0);
    assert_int_equal(fx->g.mem[m], 7);
    assert_int_equal(call(SYS_mremap, (uint64_t)c, 0x2000, 0x10000, 0),
                     -ENOMEM);
    /* too big, file mappings, bad arguments */
    assert_int_equal(call(SYS_mmap, 0, 1ULL << 30, rw, anon), -ENOMEM);
    assert_int_equal(call(SYS_mmap, 0, 0, rw, anon), -EINVAL);
    assert_int_equal(call(SYS_munmap, 0x1001, 0x1000, 0, 0), -EINVAL);
    /* brk cannot grow into mmap's pages */
    assert_int_equal(call(SYS_brk, HEAP_END - 0x100, 0, 0, 0), BRK_START);
}

static void test_mmap_of_a_file_is_enodev(void **state)
{
    struct lx_call in = {.nr = SYS_mmap, .arg = {0, 0x1000, 1, 2, 0, 0}};
    struct lx_ret out;

    (void)state;
    assert_int_equal(lx_syscall(&fx->g, &in, &out), ABI_CONTINUE);
    assert_int_equal((int64_t)out.rax, -ENODEV);
    in.arg[4] = 9;
    assert_int_equal(lx_syscall(&fx->g, &in, &out), ABI_CONTINUE);
    assert_int_equal((int64_t)out.rax, -EBADF);
}

static void test_arch_prctl_sets_fs_through_the_return_path(void **state)
{
    struct lx_call in = {.nr = SYS_arch_prctl, .arg = {0x1002, 0x7000, 0}};
    struct lx_ret out;
    uint64_t got = 0;

    (void)state;
    assert_int_equal(lx_syscall(&fx->g, &in, &out), ABI_CONTINUE);
    assert_int_equal(out.rax, 0);
    assert_int_equal(out.msr, LX_MSR_FS_BASE);
    assert_int_equal(out.msr_value, 0x7000);
    assert_int_equal(call(SYS_arch_prctl, 0x1003, BUF, 0, 0), 0);
    memcpy(&got, fx->g.mem + BUF, 8);
    assert_int_equal(got, 0x7000);
    assert_int_equal(call(SYS_arch_prctl, 0x1002, 1ULL << 47, 0, 0), -EPERM);
    assert_int_equal(call(SYS_arch_prctl, 0x9999, 0, 0, 0), -EINVAL);
}

static void test_clock_is_virtual_and_sleep_advances_it(void **state)
{
    int64_t t[2], later[2], nap[2] = {3, 0};

    (void)state;
    assert_int_equal(call(SYS_clock_gettime, 0, BUF, 0, 0), 0);
    memcpy(t, fx->g.mem + BUF, sizeof(t));
    assert_int_equal(t[0], LX_REALTIME_START_S);
    memcpy(fx->g.mem + BUF + 64, nap, sizeof(nap));
    assert_int_equal(call(SYS_nanosleep, BUF + 64, 0, 0, 0), 0);
    assert_int_equal(call(SYS_clock_gettime, 0, BUF, 0, 0), 0);
    memcpy(later, fx->g.mem + BUF, sizeof(later));
    assert_int_equal(later[0], LX_REALTIME_START_S + 3);
    /* every call is one tick: two calls since the first reading */
    assert_int_equal(later[1] - t[1], 2 * LX_TICK_NS);
    assert_int_equal(call(SYS_clock_gettime, 99, BUF, 0, 0), -EINVAL);
    nap[1] = 1000000000;
    memcpy(fx->g.mem + BUF + 64, nap, sizeof(nap));
    assert_int_equal(call(SYS_nanosleep, BUF + 64, 0, 0, 0), -EINVAL);
}

static void test_getrandom_is_the_seeds_stream(void **state)
{
    uint8_t first[32];

    (void)state;
    assert_int_equal(call(SYS_getrandom, BUF, 32, 0, 0), 32);
    memcpy(first, fx->g.mem + BUF, 32);
    lx_init(&fx->p, &fx->job); /* the same seed again */
    assert_int_equal(call(SYS_getrandom, BUF, 32, 0, 0), 32);
    assert_memory_equal(first, fx->g.mem + BUF, 32);
    fx->job.lx.seed = 8;
    lx_init(&fx->p, &fx->job);
    assert_int_equal(call(SYS_getrandom, BUF, 32, 0, 0), 32);
    assert_memory_not_equal(first, fx->g.mem + BUF, 32);
    assert_int_equal(call(SYS_getrandom, BUF, 32, 0x100, 0), -EINVAL);
}

static void test_futex_wait_without_timeout_is_a_deadlock(void **state)
{
    uint32_t word = 5;
    int64_t ts[2] = {0, 5000};

    (void)state;
    memcpy(fx->g.mem + BUF, &word, 4);
    assert_int_equal(call(SYS_futex, BUF, 0, 6, 0), -EAGAIN);
    assert_int_equal(call(SYS_futex, BUF, 1, 1, 0), 0); /* wake: nobody */
    memcpy(fx->g.mem + BUF + 64, ts, sizeof(ts));
    assert_int_equal(call(SYS_futex, BUF, 0, 5, BUF + 64), -ETIMEDOUT);
    call_ends(SYS_futex, BUF, 128 /* WAIT|PRIVATE */, 5, 0);
    assert_int_equal(fx->rep->status, SBX_DEADLOCK);
}

static void test_a_signal_at_itself_ends_the_job_unless_ignored(void **state)
{
    uint64_t ign[4] = {1, 0, 0, 0}, set = 1ULL << (6 - 1);

    (void)state;
    assert_int_equal(call(SYS_kill, 99, 6, 0, 0), -ESRCH);
    assert_int_equal(call(SYS_kill, LX_PID, 0, 0, 0), 0);
    memcpy(fx->g.mem + BUF, ign, sizeof(ign));
    assert_int_equal(call(SYS_rt_sigaction, 15, BUF, 0, 8), 0);
    assert_int_equal(call(SYS_kill, LX_PID, 15, 0, 0), 0); /* ignored */
    assert_int_equal(call(SYS_rt_sigaction, 9, BUF, 0, 8), -EINVAL);
    /* blocked: pending, delivered when unblocked */
    memcpy(fx->g.mem + BUF, &set, 8);
    assert_int_equal(call(SYS_rt_sigprocmask, 0, BUF, 0, 8), 0);
    assert_int_equal(call(SYS_tgkill, LX_PID, LX_TID, 6, 0), 0);
    assert_int_equal(fx->rep->done, 0);
    call_ends(SYS_rt_sigprocmask, 1, BUF, 0, 8);
    assert_int_equal(fx->rep->status, SBX_SIGNAL);
    assert_int_equal(fx->rep->signal, 6);
}

static void test_exit_group_ends_ok_with_the_low_byte(void **state)
{
    (void)state;
    call_ends(SYS_exit_group, 0x1234, 0, 0, 0);
    assert_int_equal(fx->rep->status, SBX_OK);
    assert_int_equal(fx->rep->exit_code, 0x34);
}

static void test_unknown_calls_are_enosys_and_counted(void **state)
{
    (void)state;
    assert_int_equal(call(SYS_socket, 2, 1, 0, 0), -ENOSYS);
    assert_int_equal(call(9999, 0, 0, 0, 0), -ENOSYS);
    assert_int_equal(fx->rep->unsupported, 2);
    assert_int_equal(fx->rep->unsupported_nr, SYS_socket);
    /* rseq is in the table: ENOSYS, but not counted */
    assert_int_equal(call(SYS_rseq, 0, 0, 0, 0), -ENOSYS);
    assert_int_equal(fx->rep->unsupported, 2);
    fx->p.strict = 1;
    call_ends(SYS_pipe, 0, 0, 0, 0);
    assert_int_equal(fx->rep->status, SBX_UNSUPPORTED_SYSCALL);
    assert_int_equal(fx->rep->unsupported, 3);
    /* the first: in a strict job from its start, the one that ended it */
    assert_int_equal(fx->rep->unsupported_nr, SYS_socket);
}

static void test_processes_and_files_are_refused(void **state)
{
    (void)state;
    assert_int_equal(call(SYS_clone, 0, 0, 0, 0), -EPERM);
    assert_int_equal(call(SYS_execve, 0, 0, 0, 0), -EPERM);
    put_str(BUF, "/etc/passwd");
    assert_int_equal(call(SYS_openat, (uint64_t)-100, BUF, 0, 0), -ENOENT);
    assert_int_equal(call(SYS_openat, (uint64_t)-100, 0x10, 0, 0), -EFAULT);
    put_str(BUF, "/proc/self/exe");
    assert_int_equal(call(SYS_readlink, BUF, BUF + 0x100, 64, 0), 5);
    assert_memory_equal(fx->g.mem + BUF + 0x100, "/prog", 5);
    assert_int_equal(call(SYS_getcwd, BUF, 64, 0, 0), 2);
    assert_string_equal((char *)fx->g.mem + BUF, "/");
    assert_int_equal(call(SYS_ioctl, 1, 0x5401, BUF, 0), -ENOTTY);
    assert_int_equal(call(SYS_getpid, 0, 0, 0, 0), LX_PID);
    assert_int_equal(call(SYS_getuid, 0, 0, 0, 0), LX_UID);
}

/* The stub's frame in, the answer out, as KVM's port exit passes them. */
static void test_port_reads_the_frame_and_writes_the_answer(void **state)
{
    uint64_t f[LXF_SLOTS] = {0};

    (void)state;
    f[LXF_RAX] = SYS_getppid;
    memcpy(fx->g.mem + TINCAN_LX_FRAME_ADDR, f, sizeof(f));
    assert_int_equal(lx_on_port(&fx->g), ABI_CONTINUE);
    memcpy(f, fx->g.mem + TINCAN_LX_FRAME_ADDR, sizeof(f));
    assert_int_equal(f[LXF_RAX], LX_PPID);
    assert_int_equal(f[LXF_MSR], 0);
}

/* Every call in the table has a name and says what tincan does. */
static void test_the_table_documents_every_call(void **state)
{
    unsigned n = 0;

    (void)state;
    for (unsigned nr = 0; nr < lx_call_max(); nr++) {
        if (!lx_call_name(nr))
            continue;
        assert_non_null(lx_call_what(nr));
        assert_true(strlen(lx_call_what(nr)) > 0);
        n++;
    }
    assert_true(n >= 60);
    assert_null(lx_call_name(SYS_socket));
}

/* README.md's table under "Running ordinary programs" is this table. */
static void test_the_readme_lists_every_call_as_the_table_does(void **state)
{
    FILE *f = fopen("README.md", "r");
    static char text[1 << 20];
    char row[512];
    size_t n;
    unsigned rows = 0;

    (void)state;
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    for (unsigned nr = 0; nr < lx_call_max(); nr++) {
        if (!lx_call_name(nr))
            continue;
        snprintf(row, sizeof(row), "\n| %u | `%s` | %s |\n", nr,
                 lx_call_name(nr), lx_call_what(nr));
        if (!strstr(text, row))
            print_error("README.md lacks the row:%s", row);
        assert_non_null(strstr(text, row));
        rows++;
    }
    assert_true(rows >= 60);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_write_appends_to_stdout_and_stderr),
        T(test_writev_checks_every_buffer_first),
        T(test_read_gives_the_input_then_eof),
        T(test_brk_grows_and_shrinks_inside_the_heap),
        T(test_mmap_hands_out_the_heap_top_down),
        T(test_mmap_of_a_file_is_enodev),
        T(test_arch_prctl_sets_fs_through_the_return_path),
        T(test_clock_is_virtual_and_sleep_advances_it),
        T(test_getrandom_is_the_seeds_stream),
        T(test_futex_wait_without_timeout_is_a_deadlock),
        T(test_a_signal_at_itself_ends_the_job_unless_ignored),
        T(test_exit_group_ends_ok_with_the_low_byte),
        T(test_unknown_calls_are_enosys_and_counted),
        T(test_processes_and_files_are_refused),
        T(test_port_reads_the_frame_and_writes_the_answer),
        T(test_the_table_documents_every_call),
        cmocka_unit_test(test_the_readme_lists_every_call_as_the_table_does),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
