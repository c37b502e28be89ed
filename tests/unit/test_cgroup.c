/* test_cgroup.c - reading a job cgroup's OOM kills from memory.events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../runner/cgroup.h"

/* A job whose cgroup directory is a temp dir holding memory.events. */
static void fake_job(struct cgroup_job *job, const char *events)
{
    char path[PATH_MAX + 32];
    FILE *f;

    snprintf(job->dir, sizeof(job->dir), "%s/tincan-cg.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(job->dir));
    job->procs_fd = -1;
    if (!events)
        return;
    snprintf(path, sizeof(path), "%s/memory.events", job->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(events, f);
    fclose(f);
}

static void remove_job(struct cgroup_job *job)
{
    char path[PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/memory.events", job->dir);
    unlink(path);
    assert_int_equal(rmdir(job->dir), 0);
}

static void test_oom_kills_come_from_the_oom_kill_line(void **state)
{
    struct cgroup_job job;

    (void)state;
    fake_job(&job, "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\n"
                   "oom_group_kill 0\n");
    assert_int_equal(cgroup_job_oom_kills(&job), 2);
    remove_job(&job);
}

static void test_no_oom_kill_line_or_file_is_zero(void **state)
{
    struct cgroup_job job;

    (void)state;
    fake_job(&job, "low 0\nhigh 0\nmax 0\noom 0\n");
    assert_int_equal(cgroup_job_oom_kills(&job), 0);
    remove_job(&job);
    fake_job(&job, NULL);
    assert_int_equal(cgroup_job_oom_kills(&job), 0);
    remove_job(&job);
}

static void test_a_job_without_cgroup_has_no_oom_kills(void **state)
{
    struct cgroup_job job = {.procs_fd = -1};

    (void)state;
    job.dir[0] = '\0';
    assert_int_equal(cgroup_job_oom_kills(&job), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_kills_come_from_the_oom_kill_line),
        cmocka_unit_test(test_no_oom_kill_line_or_file_is_zero),
        cmocka_unit_test(test_a_job_without_cgroup_has_no_oom_kills),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
